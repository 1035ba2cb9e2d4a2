#pragma once

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace mast {

// A clock that only moves when a test says so. Advance() wakes every thread
// waiting in AwaitWithDeadline, so an EventLoop on this clock runs the
// timers that fell due. Thread-safe.
//
// Waiters' mutexes are touched by Advance(); destroy an EventLoop only while
// no other thread is advancing its clock.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000));

  absl::Time Now() const override;
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override;

  void Advance(absl::Duration d);
  void SetTime(absl::Time t);

 private:
  void WakeWaiters();

  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<absl::Mutex*, int> waiters_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> generation_{0};
};

}  // namespace mast
