#include "scheduler/control/upgrade_strategy.h"

#include <algorithm>
#include <cmath>

#include "common/proto_util.h"

namespace mast {

namespace {

// Doubles: 0.7 x 10 is 7.000000000000001 and 1.15 x 20 is 22.999999999999996;
// the epsilon keeps ceil and floor on the intended integer.
constexpr double kEpsilon = 1e-9;

}  // namespace

double MinimumHealthCapacity(const v1::UpgradeStrategy& strategy) {
  if (!strategy.has_minimum_health_capacity()) return 1.0;
  return std::clamp(strategy.minimum_health_capacity(), 0.0, 1.0);
}

double MaximumOverCapacity(const v1::UpgradeStrategy& strategy) {
  if (!strategy.has_maximum_over_capacity()) return 1.0;
  return std::clamp(strategy.maximum_over_capacity(), 0.0, 1.0);
}

v1::UpgradeStrategy::KillSelection KillSelectionOf(const v1::UpgradeStrategy& strategy) {
  return strategy.kill_selection() == v1::UpgradeStrategy::OLDEST_FIRST
             ? v1::UpgradeStrategy::OLDEST_FIRST
             : v1::UpgradeStrategy::YOUNGEST_FIRST;
}

absl::Duration ProgressDeadline(const v1::UpgradeStrategy& strategy) {
  if (!strategy.has_progress_deadline()) return absl::Seconds(600);
  return std::max(absl::ZeroDuration(), FromProtoDuration(strategy.progress_deadline()));
}

uint32_t FailureThreshold(const v1::UpgradeStrategy& strategy) {
  return strategy.has_failure_threshold() ? strategy.failure_threshold() : 3;
}

RolloutBounds RolloutBoundsOf(const v1::ServiceSpec& spec) {
  const double n = static_cast<double>(spec.instances());
  const v1::UpgradeStrategy& strategy = spec.upgrade_strategy();
  RolloutBounds bounds;
  bounds.min_ready = static_cast<int>(std::ceil(MinimumHealthCapacity(strategy) * n - kEpsilon));
  bounds.max_tasks =
      static_cast<int>(std::floor((1.0 + MaximumOverCapacity(strategy)) * n + kEpsilon));
  if (bounds.max_tasks <= bounds.min_ready) bounds.min_ready = bounds.max_tasks - 1;
  return bounds;
}

}  // namespace mast
