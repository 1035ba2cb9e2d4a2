#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "common/weak_callback.h"
#include "store/state_cache.h"

namespace mast {

// Whether `snapshot` may answer a read that asked for `min_store_version`:
// it is synced and at that version or later. (An unsynced copy, e.g. one
// published as the session was lost while reads were in flight, may carry a
// high version without every change up to it.)
bool ReachedStoreVersion(const StateSnapshot& snapshot, int64_t min_store_version);

// Lets reads wait, without holding a thread, until the replica's read copy
// reaches a store version (read your own writes: the version a write
// answered with). Fed by the StateCache's listener.
//
// Each Await is answered exactly once: with the first snapshot that reaches
// its version (at once, on the caller's thread, when the latest one does;
// otherwise on the loop, from OnSnapshot), or with UNAVAILABLE naming both
// versions once `wait` has passed on the loop's clock (a timer on `loop`),
// or UNAVAILABLE when the waiter is closed (or destroyed) first.
//
// Threads: OnSnapshot on the loop (the cache's listener); Await and
// waiting() from any thread. `done` runs with no lock held. `loop` must
// outlive the waiter; destroy the waiter on the loop or after it stopped.
class SnapshotWaiter {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<std::shared_ptr<const StateSnapshot>>) &&>;

  explicit SnapshotWaiter(EventLoop& loop) : loop_(loop) {}
  ~SnapshotWaiter();
  SnapshotWaiter(const SnapshotWaiter&) = delete;
  SnapshotWaiter& operator=(const SnapshotWaiter&) = delete;

  void OnSnapshot(const std::shared_ptr<const StateSnapshot>& snapshot);
  void Await(int64_t min_store_version, absl::Duration wait, Done done);
  // Answers every waiting read UNAVAILABLE, and every later one that would
  // wait (the server is stopping: it waits for every call to be answered).
  void Close();

  // Reads waiting now.
  size_t waiting() const;

 private:
  struct Waiter {
    int64_t min_store_version = 0;
    absl::Duration wait;
    Done done;
    EventLoop::TimerId timer = 0;  // 0 until armed
  };

  void Expire(uint64_t id);

  EventLoop& loop_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const StateSnapshot> latest_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  WeakCallbacks callbacks_;  // last: timers do nothing once the waiter is gone
};

using SnapshotWaiterPtr = std::unique_ptr<SnapshotWaiter>;

}  // namespace mast
