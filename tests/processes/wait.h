#pragma once

#include <algorithm>
#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mast::testing {

// Waits until `condition` holds, checking it every few milliseconds, or
// until `timeout` passes; returns whether it held. For conditions that live
// in another process or on a server (ZooKeeper, a child mastd) and so have
// no notification to wait on.
inline bool WaitFor(const std::function<bool()>& condition,
                    absl::Duration timeout = absl::Seconds(30),
                    absl::Duration poll = absl::Milliseconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(std::min(poll, deadline - absl::Now()));  // bounded by the deadline
  }
}

}  // namespace mast::testing
