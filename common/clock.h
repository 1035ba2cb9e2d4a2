#pragma once

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mast {

// The source of time for everything in Mast that waits, times out or backs
// off. Production code uses RealClock; tests drive a ManualClock so that no
// test sleeps. (Debian 12's abseil has no absl::Clock; this has the shape of
// abseil's later clock interface.)
//
// Thread-safe: every method may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;

  // The current time. Never goes backwards.
  virtual absl::Time Now() const = 0;

  // With `mu` held, waits until `cond` holds or until Now() >= `deadline`,
  // whichever comes first; returns the value of `cond` on return. `mu` is
  // released while waiting. Writers of the state `cond` reads must hold `mu`.
  virtual bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                                 absl::Time deadline) = 0;
};

// Wall time for the Unix-epoch timestamps Mast publishes, made monotonic: it
// is anchored to the system clock once and then advances with the steady
// clock, so a step of the system clock (NTP) cannot shorten a lease or fire a
// timeout early.
class RealClock final : public Clock {
 public:
  RealClock();
  absl::Time Now() const override;
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override;

  // A process-wide instance, for the daemon's wiring. Library code takes a
  // Clock& instead of calling this.
  static RealClock& Default();

 private:
  absl::Time anchor_wall_;
  int64_t anchor_steady_ns_;
};

using ClockPtr = std::unique_ptr<Clock>;

}  // namespace mast
