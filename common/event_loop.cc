#include "common/event_loop.h"

#include <pthread.h>

#include "absl/synchronization/notification.h"

namespace mast {

EventLoop::EventLoop(Clock& clock, std::string name) : clock_(clock), name_(std::move(name)) {
  thread_ = std::thread([this] { Run(); });
  loop_thread_ = thread_.get_id();
  // Thread names show in gdb and /proc; Linux limits them to 15 characters.
  pthread_setname_np(thread_.native_handle(), name_.substr(0, 15).c_str());
}

EventLoop::EventLoop(Clock& clock, std::string name, DrivenTag)
    : clock_(clock),
      name_(std::move(name)),
      driven_(true),
      loop_thread_(std::this_thread::get_id()) {}

EventLoop::~EventLoop() { Stop(); }

void EventLoop::Post(Task task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  queue_.push_back(std::move(task));
}

EventLoop::TimerId EventLoop::RunAt(absl::Time when, Task task) {
  absl::MutexLock lock(&mu_);
  TimerId id = next_timer_id_++;
  if (stopping_) return id;
  timers_.emplace(std::make_pair(when, id), std::move(task));
  timer_deadlines_.emplace(id, when);
  timers_changed_ = true;
  return id;
}

EventLoop::TimerId EventLoop::RunAfter(absl::Duration delay, Task task) {
  return RunAt(clock_.Now() + delay, std::move(task));
}

void EventLoop::Cancel(TimerId id) {
  absl::MutexLock lock(&mu_);
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  timers_.erase(std::make_pair(it->second, id));
  timer_deadlines_.erase(it);
}

void EventLoop::Flush() {
  if (driven_) {
    RunUntilIdle();
    return;
  }
  absl::Notification done;
  Post([&done] { done.Notify(); });
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
  }
  done.WaitForNotification();
}

size_t EventLoop::RunUntilIdle() {
  size_t ran = 0;
  std::vector<Task> ready;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return ran;
      ready.swap(queue_);
      timers_changed_ = false;
    }
    size_t now_ran = RunReady(ready, clock_.Now());
    if (now_ran == 0) return ran;
    ran += now_ran;
  }
}

std::optional<absl::Time> EventLoop::NextTimerDeadline() const {
  absl::MutexLock lock(&mu_);
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first.first;
}

void EventLoop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    if (driven_) {
      queue_.clear();
      timers_.clear();
      timer_deadlines_.clear();
    }
  }
  if (thread_.joinable() && !InLoopThread()) thread_.join();
}

void EventLoop::Run() {
  std::vector<Task> ready;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty() || timers_changed_;
      };
      absl::Time deadline = timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first.first;
      clock_.AwaitWithDeadline(mu_, absl::Condition(&has_work), deadline);
      timers_changed_ = false;
      if (stopping_) {
        queue_.clear();
        timers_.clear();
        timer_deadlines_.clear();
        return;
      }
      ready.swap(queue_);
    }
    RunReady(ready, clock_.Now());
  }
}

size_t EventLoop::RunReady(std::vector<Task>& ready, absl::Time now) {
  size_t ran = ready.size();
  for (Task& task : ready) std::move(task)();
  ready.clear();
  while (true) {
    Task timer;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_ || timers_.empty() || timers_.begin()->first.first > now) break;
      auto node = timers_.extract(timers_.begin());
      timer_deadlines_.erase(node.key().second);
      timer = std::move(node.mapped());
    }
    std::move(timer)();
    ++ran;
  }
  return ran;
}

}  // namespace mast
