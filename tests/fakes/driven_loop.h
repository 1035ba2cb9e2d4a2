#pragma once

#include "absl/time/time.h"
#include "common/event_loop.h"
#include "tests/fakes/manual_clock.h"

namespace mast {

// A ManualClock and an EventLoop driven on the test's own thread: unit tests
// run the loop until idle, then advance time, with nothing left to chance.
// (Code under test sees an ordinary EventLoop: Post, RunAfter, InLoopThread.)
//
// Thread: the test's thread only; work posted from other threads is picked
// up by the next RunUntilIdle().
class DrivenLoop {
 public:
  explicit DrivenLoop(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : clock_(start), loop_(clock_, "driven", EventLoop::kDriven) {}

  ManualClock& clock() { return clock_; }
  EventLoop& loop() { return loop_; }
  absl::Time Now() const { return clock_.Now(); }

  // Runs posted tasks and due timers until none is left; returns how many ran.
  size_t RunUntilIdle() { return loop_.RunUntilIdle(); }

  // Moves the clock forward by `d`, stopping at every timer deadline on the
  // way to run until idle there, so timers fire at their own time and in
  // order, and what they start runs before later timers.
  void Advance(absl::Duration d) { AdvanceTo(clock_.Now() + d); }
  void AdvanceTo(absl::Time target) {
    RunUntilIdle();
    while (true) {
      std::optional<absl::Time> next = loop_.NextTimerDeadline();
      if (!next || *next > target) break;
      if (*next > clock_.Now()) clock_.SetTime(*next);
      RunUntilIdle();
    }
    if (target > clock_.Now()) clock_.SetTime(target);
    RunUntilIdle();
  }

 private:
  ManualClock clock_;
  EventLoop loop_;
};

}  // namespace mast
