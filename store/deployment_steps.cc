// StepCount, StepTarget and CurrentStepTarget (store/deployment_progress.h):
// the arithmetic of a strategy's steps, shared by the writer (step_count)
// and the scheduler (each step's target).

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "store/deployment_progress.h"
#include "store/deployments.h"

namespace mast {
namespace {

// The target of a listed step for N = `instances`, at most N. A percent is
// rounded up (so 1% of 10 is one task), with a tolerance for the error of
// the floating point product (30% of 10 is 3, not 4).
uint32_t ListedTarget(const v1::RolloutStep& step, uint32_t instances) {
  uint64_t target = 0;
  if (step.has_percent()) {
    const double exact = step.percent() * static_cast<double>(instances) / 100.0;
    target = exact <= 0 ? 0 : static_cast<uint64_t>(std::ceil(exact - 1e-9));
  } else {
    target = step.instances();
  }
  return static_cast<uint32_t>(std::min<uint64_t>(target, instances));
}

}  // namespace

// The listed steps plus the implied last one of N, except when the last
// listed step already brings the service to N (e.g. 100%): that one is the
// last step, not counted twice. Empty steps: one step.
uint32_t StepCount(const v1::ServiceSpec& spec) {
  const auto& steps = spec.upgrade_strategy().steps();
  const uint32_t listed = static_cast<uint32_t>(steps.size());
  if (listed == 0) return 1;
  const uint32_t instances = spec.instances();
  if (ListedTarget(steps[static_cast<int>(listed - 1)], instances) == instances) return listed;
  return listed + 1;
}

uint32_t StepTarget(const v1::ServiceSpec& spec, uint32_t step, uint32_t instances) {
  const uint32_t count = StepCount(spec);
  if (step + 1 >= count) return instances;  // the last step, and any past it
  return ListedTarget(spec.upgrade_strategy().steps(static_cast<int>(step)), instances);
}

uint32_t CurrentStepTarget(const v1::Service& service) {
  const uint32_t instances = service.spec().instances();
  if (!HasActiveDeployment(service)) return instances;
  const v1::Deployment& deployment = service.deployment();
  if (deployment.state() == v1::Deployment::ROLLING_BACK) return instances;
  return StepTarget(service.spec(), deployment.step(), instances);
}

}  // namespace mast
