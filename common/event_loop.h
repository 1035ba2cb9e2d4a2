#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace mast {

// A single thread that runs posted tasks and timers in order. The thread that
// owns a piece of state (the control loop) is the only one that touches it;
// ZooKeeper, libcurl and gRPC threads only Post() to it.
//
// Contract:
// - Post(), RunAt(), RunAfter() and Cancel() may be called from any thread,
//   including the loop's own; they never block on a running task.
// - Tasks run one at a time on the loop thread, posted tasks in FIFO order;
//   due timers run after the posted tasks that were queued before they fell
//   due. A task must not block for long.
// - Timers follow the injected Clock: with a ManualClock they fire when the
//   test advances it.
// - The destructor (or Stop()) finishes the task that is running, drops what
//   is still queued and joins the thread. Tasks posted after Stop() are
//   dropped silently.
// - A loop made with kDriven starts no thread: the thread that made it is
//   its loop thread and runs its work with RunUntilIdle() (unit tests, with a
//   ManualClock: every step is deterministic and nothing waits).
class EventLoop {
 public:
  using Task = absl::AnyInvocable<void() &&>;
  using TimerId = uint64_t;
  enum DrivenTag { kDriven };

  EventLoop(Clock& clock, std::string name);
  EventLoop(Clock& clock, std::string name, DrivenTag);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void Post(Task task);
  TimerId RunAt(absl::Time when, Task task);
  TimerId RunAfter(absl::Duration delay, Task task);
  // Cancels a timer that has not started to run; a no-op otherwise.
  void Cancel(TimerId id);

  // Blocks until every task posted before this call has run. Must not be
  // called from the loop thread. For tests and orderly shutdown. On a driven
  // loop: RunUntilIdle().
  void Flush();

  // Driven loops only, on the thread that made the loop: runs posted tasks
  // and timers due at the clock's current time, including those they post,
  // until none is left. Returns how many ran.
  size_t RunUntilIdle();
  // The earliest pending timer's deadline, if any (for tests that step a
  // ManualClock from timer to timer).
  std::optional<absl::Time> NextTimerDeadline() const;

  void Stop();
  bool InLoopThread() const { return std::this_thread::get_id() == loop_thread_; }
  bool driven() const { return driven_; }
  Clock& clock() const { return clock_; }
  const std::string& name() const { return name_; }

 private:
  void Run();
  // Runs `ready`, then the timers due at `now` one at a time (so that a task
  // may still Cancel() a timer that fell due while it ran). Returns how many ran.
  size_t RunReady(std::vector<Task>& ready, absl::Time now);

  Clock& clock_;
  const std::string name_;
  mutable absl::Mutex mu_;
  std::vector<Task> queue_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<absl::Time, TimerId>, Task> timers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<TimerId, absl::Time> timer_deadlines_ ABSL_GUARDED_BY(mu_);
  TimerId next_timer_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool timers_changed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const bool driven_ = false;
  std::thread thread_;
  std::thread::id loop_thread_;
};

}  // namespace mast
