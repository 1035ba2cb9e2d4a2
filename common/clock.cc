#include "common/clock.h"

#include <chrono>

namespace mast {
namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RealClock::RealClock() : anchor_wall_(absl::Now()), anchor_steady_ns_(SteadyNanos()) {}

absl::Time RealClock::Now() const {
  return anchor_wall_ + absl::Nanoseconds(SteadyNanos() - anchor_steady_ns_);
}

bool RealClock::AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                                  absl::Time deadline) {
  // absl::Mutex measures timeouts with its own clock; loop so that our
  // monotonic Now() is what decides that the deadline has passed.
  while (!cond.Eval()) {
    absl::Duration left = deadline - Now();
    if (left <= absl::ZeroDuration()) return false;
    if (mu.AwaitWithTimeout(cond, left)) return true;
  }
  return true;
}

RealClock& RealClock::Default() {
  static RealClock* clock = new RealClock();
  return *clock;
}

}  // namespace mast
