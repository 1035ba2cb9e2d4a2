#include "tests/fakes/manual_clock.h"

#include <vector>

namespace mast {

ManualClock::ManualClock(absl::Time start) : now_(start) {}

absl::Time ManualClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

bool ManualClock::AwaitWithDeadline(absl::Mutex& waiter_mu, const absl::Condition& cond,
                                    absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    ++waiters_[&waiter_mu];
  }
  bool result;
  while (true) {
    // Read the generation before looking at the time: an Advance() between
    // the two then still wakes the wait below.
    uint64_t seen = generation_.load();
    if (cond.Eval()) {
      result = true;
      break;
    }
    if (Now() >= deadline) {
      result = false;
      break;
    }
    // absl::Mutex re-evaluates conditions whenever `waiter_mu` is released;
    // Advance() locks and releases it after bumping the generation.
    auto woken = [&] { return cond.Eval() || generation_.load() != seen; };
    waiter_mu.Await(absl::Condition(&woken));
  }
  {
    absl::MutexLock lock(&mu_);
    if (--waiters_[&waiter_mu] == 0) waiters_.erase(&waiter_mu);
  }
  return result;
}

void ManualClock::Advance(absl::Duration d) {
  {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  WakeWaiters();
}

void ManualClock::SetTime(absl::Time t) {
  {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }
  WakeWaiters();
}

void ManualClock::WakeWaiters() {
  ++generation_;
  std::vector<absl::Mutex*> waiters;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [mu, count] : waiters_) waiters.push_back(mu);
  }
  for (absl::Mutex* mu : waiters) {
    mu->Lock();
    mu->Unlock();
  }
}

}  // namespace mast
