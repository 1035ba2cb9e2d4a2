#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "mast/v1/service.pb.h"

namespace mast {

// An UpgradeStrategy's settings, unset fields read as their defaults (the
// API fills them on writes, but records may predate that). Out-of-range
// capacities are clamped to [0, 1].
double MinimumHealthCapacity(const v1::UpgradeStrategy& strategy);  // default 1
double MaximumOverCapacity(const v1::UpgradeStrategy& strategy);    // default 1
// YOUNGEST_FIRST when unspecified.
v1::UpgradeStrategy::KillSelection KillSelectionOf(const v1::UpgradeStrategy& strategy);
// Default 600 s; zero: never.
absl::Duration ProgressDeadline(const v1::UpgradeStrategy& strategy);
// Default 3; 0: never.
uint32_t FailureThreshold(const v1::UpgradeStrategy& strategy);

// The bounds a rollout keeps for N = spec.instances: at least `min_ready`
// ready tasks (L = ceil(min_health x N)) and at most `max_tasks` tasks, live
// or being killed (U = floor((1 + max_over) x N)). When U <= L there is no
// room to move, and L is U - 1 (one task below the minimum health; -1 when
// U is 0).
struct RolloutBounds {
  int min_ready = 0;
  int max_tasks = 0;
};
RolloutBounds RolloutBoundsOf(const v1::ServiceSpec& spec);

}  // namespace mast
