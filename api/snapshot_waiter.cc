#include "api/snapshot_waiter.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace mast {

bool ReachedStoreVersion(const StateSnapshot& snapshot, int64_t min_store_version) {
  return snapshot.synced && snapshot.store_version >= min_store_version;
}

namespace {

absl::Status Closed(int64_t min_store_version) {
  return absl::UnavailableError(
      absl::StrCat("this replica is shutting down before its read copy reached store version ",
                   min_store_version, "; ask another replica"));
}

}  // namespace

SnapshotWaiter::~SnapshotWaiter() { Close(); }

void SnapshotWaiter::Close() {
  std::map<uint64_t, Waiter> waiters;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    waiters.swap(waiters_);
  }
  for (auto& [id, waiter] : waiters) {
    if (waiter.timer != 0) loop_.Cancel(waiter.timer);
    std::move(waiter.done)(Closed(waiter.min_store_version));
  }
}

void SnapshotWaiter::OnSnapshot(const std::shared_ptr<const StateSnapshot>& snapshot) {
  std::vector<Waiter> reached;
  {
    absl::MutexLock lock(&mu_);
    latest_ = snapshot;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (!ReachedStoreVersion(*snapshot, it->second.min_store_version)) {
        ++it;
        continue;
      }
      reached.push_back(std::move(it->second));
      it = waiters_.erase(it);
    }
  }
  for (Waiter& waiter : reached) {
    // Not armed yet: Await cancels the timer it is about to get.
    if (waiter.timer != 0) loop_.Cancel(waiter.timer);
    std::move(waiter.done)(snapshot);
  }
}

void SnapshotWaiter::Await(int64_t min_store_version, absl::Duration wait, Done done) {
  uint64_t id = 0;
  std::shared_ptr<const StateSnapshot> reached;
  bool closed = false;
  {
    absl::MutexLock lock(&mu_);
    if (latest_ != nullptr && ReachedStoreVersion(*latest_, min_store_version)) {
      reached = latest_;
    } else if (closed_) {
      closed = true;
    } else {
      id = next_id_++;
      waiters_[id] = Waiter{min_store_version, wait, std::move(done)};
    }
  }
  if (reached != nullptr) return std::move(done)(std::move(reached));
  if (closed) return std::move(done)(Closed(min_store_version));
  EventLoop::TimerId timer = loop_.RunAfter(wait, callbacks_.Bind([this, id] { Expire(id); }));
  absl::MutexLock lock(&mu_);
  auto it = waiters_.find(id);
  if (it == waiters_.end()) {
    loop_.Cancel(timer);  // answered meanwhile
    return;
  }
  it->second.timer = timer;
}

void SnapshotWaiter::Expire(uint64_t id) {
  Waiter waiter;
  int64_t version = 0;
  bool synced = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    waiter = std::move(it->second);
    waiters_.erase(it);
    if (latest_ != nullptr) {
      version = latest_->store_version;
      synced = latest_->synced;
    }
  }
  std::move(waiter.done)(absl::UnavailableError(absl::StrCat(
      "this replica's read copy is at store version ", version, synced ? "" : " (not synced)",
      ", not yet at min_store_version ", waiter.min_store_version, " after waiting ",
      absl::FormatDuration(waiter.wait), "; retry, or ask another replica (e.g. the leader)")));
}

size_t SnapshotWaiter::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

}  // namespace mast
