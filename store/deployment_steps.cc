// StepCount, StepTarget and CurrentStepTarget of store/deployment_progress.h.
// Self-contained (no other deployment code needed) so that either copy of
// it can be kept.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "store/deployment_progress.h"

namespace mast {

namespace {

// A step's target for N = `instances`, at most N. The epsilon keeps
// 7% of 100 (7.000000000000001 in doubles) from rounding up to 8.
uint32_t TargetOf(const v1::RolloutStep& step, uint32_t instances) {
  double target = 0;
  if (step.target_case() == v1::RolloutStep::kPercent) {
    target = std::ceil(step.percent() / 100.0 * static_cast<double>(instances) - 1e-9);
  } else {
    target = static_cast<double>(step.instances());
  }
  target = std::clamp(target, 0.0, static_cast<double>(instances));
  return static_cast<uint32_t>(target);
}

// RUNNING, PAUSED, ROLLING_BACK (store/deployments.h's IsActive, not
// linked from here on purpose).
bool InProgress(const v1::Deployment& deployment) {
  switch (deployment.state()) {
    case v1::Deployment::RUNNING:
    case v1::Deployment::PAUSED:
    case v1::Deployment::ROLLING_BACK:
      return true;
    default:
      return false;
  }
}

}  // namespace

uint32_t StepCount(const v1::ServiceSpec& spec) {
  const auto& steps = spec.upgrade_strategy().steps();
  if (steps.empty()) return 1;
  const uint32_t listed = static_cast<uint32_t>(steps.size());
  // The implied last step of N is not counted twice.
  return TargetOf(steps[steps.size() - 1], spec.instances()) == spec.instances() ? listed
                                                                                 : listed + 1;
}

uint32_t StepTarget(const v1::ServiceSpec& spec, uint32_t step, uint32_t instances) {
  const auto& steps = spec.upgrade_strategy().steps();
  if (step >= static_cast<uint32_t>(steps.size())) return instances;
  return TargetOf(steps[static_cast<int>(step)], instances);
}

uint32_t CurrentStepTarget(const v1::Service& service) {
  const uint32_t instances = service.spec().instances();
  if (!service.has_deployment() || !InProgress(service.deployment()) ||
      service.deployment().state() == v1::Deployment::ROLLING_BACK) {
    return instances;
  }
  return StepTarget(service.spec(), service.deployment().step(), instances);
}

}  // namespace mast
