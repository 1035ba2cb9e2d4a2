#include "common/event_loop.h"

#include <vector>

#include "absl/synchronization/notification.h"
#include "common/weak_callback.h"
#include "gtest/gtest.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/manual_clock.h"

namespace mast {
namespace {

// Runs `fn` on the loop and waits for it.
template <typename Fn>
void RunOn(EventLoop& loop, Fn fn) {
  absl::Notification done;
  loop.Post([&] {
    fn();
    done.Notify();
  });
  done.WaitForNotification();
}

TEST(EventLoopTest, RunsPostedTasksInOrderOnItsThread) {
  ManualClock clock;
  EventLoop loop(clock, "test");
  std::vector<int> order;
  bool on_loop = true;
  for (int i = 0; i < 100; ++i) {
    loop.Post([&, i] {
      order.push_back(i);
      on_loop = on_loop && loop.InLoopThread();
    });
  }
  loop.Flush();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_TRUE(on_loop);
  EXPECT_FALSE(loop.InLoopThread());
}

TEST(EventLoopTest, TimersFireWhenTheManualClockReachesThem) {
  ManualClock clock;
  EventLoop loop(clock, "test");
  std::vector<int> fired;
  absl::Mutex mu;
  auto record = [&](int v) {
    absl::MutexLock lock(&mu);
    fired.push_back(v);
  };
  loop.RunAfter(absl::Seconds(2), [&] { record(2); });
  loop.RunAfter(absl::Seconds(1), [&] { record(1); });
  loop.RunAfter(absl::Seconds(3), [&] { record(3); });
  loop.Flush();
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(fired.empty());
  }
  clock.Advance(absl::Milliseconds(1500));
  loop.Flush();
  // The wake-up runs due timers after the flush task only if they were due
  // first; wait for the one due timer explicitly.
  {
    absl::MutexLock lock(&mu);
    auto one = [&] { return fired.size() >= 1; };
    mu.Await(absl::Condition(&one));
    EXPECT_EQ(fired, std::vector<int>({1}));
  }
  clock.Advance(absl::Seconds(10));
  {
    absl::MutexLock lock(&mu);
    auto three = [&] { return fired.size() >= 3; };
    mu.Await(absl::Condition(&three));
    EXPECT_EQ(fired, std::vector<int>({1, 2, 3}));
  }
}

TEST(EventLoopTest, CancelledTimerNeverRuns) {
  ManualClock clock;
  EventLoop loop(clock, "test");
  bool cancelled_ran = false;
  absl::Notification later_ran;
  EventLoop::TimerId id = loop.RunAfter(absl::Seconds(1), [&] { cancelled_ran = true; });
  loop.RunAfter(absl::Seconds(2), [&] { later_ran.Notify(); });
  loop.Cancel(id);
  clock.Advance(absl::Seconds(5));
  later_ran.WaitForNotification();
  EXPECT_FALSE(cancelled_ran);
}

TEST(EventLoopTest, TaskCanCancelATimerThatFellDueMeanwhile) {
  ManualClock clock;
  EventLoop loop(clock, "test");
  bool timer_ran = false;
  EventLoop::TimerId id = 0;
  RunOn(loop, [&] { id = loop.RunAfter(absl::Seconds(1), [&] { timer_ran = true; }); });
  absl::Notification release;
  absl::Notification blocked;
  // Block the loop, let the timer fall due, then cancel it from the loop.
  loop.Post([&] {
    blocked.Notify();
    release.WaitForNotification();
    loop.Cancel(id);
  });
  blocked.WaitForNotification();
  clock.Advance(absl::Seconds(2));
  release.Notify();
  loop.Flush();
  RunOn(loop, [] {});
  EXPECT_FALSE(timer_ran);
}

TEST(EventLoopTest, StopDropsQueuedWorkAndLaterPosts) {
  ManualClock clock;
  int ran = 0;
  {
    EventLoop loop(clock, "test");
    loop.RunAfter(absl::Seconds(1), [&] { ++ran; });
    loop.Stop();
    loop.Post([&] { ++ran; });
  }
  EXPECT_EQ(ran, 0);
}

TEST(EventLoopTest, RealClockTimerFires) {
  EventLoop loop(RealClock::Default(), "test");
  absl::Notification fired;
  absl::Time start = RealClock::Default().Now();
  loop.RunAfter(absl::Milliseconds(20), [&] { fired.Notify(); });
  ASSERT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_GE(RealClock::Default().Now() - start, absl::Milliseconds(20));
}

TEST(DrivenLoopTest, RunUntilIdleRunsWhatTasksPostOnTheTestThread) {
  DrivenLoop driven;
  std::vector<int> order;
  driven.loop().Post([&] {
    order.push_back(1);
    EXPECT_TRUE(driven.loop().InLoopThread());
    driven.loop().Post([&] { order.push_back(3); });
    driven.loop().RunAfter(absl::ZeroDuration(), [&] { order.push_back(2); });
  });
  EXPECT_TRUE(order.empty());  // nothing runs until the test says so
  EXPECT_EQ(driven.RunUntilIdle(), 3u);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(driven.RunUntilIdle(), 0u);
}

TEST(DrivenLoopTest, AdvanceFiresTimersAtTheirOwnTimeInOrder) {
  DrivenLoop driven;
  const absl::Time start = driven.Now();
  std::vector<std::pair<int, absl::Duration>> fired;
  auto record = [&](int id) { fired.emplace_back(id, driven.Now() - start); };
  driven.loop().RunAfter(absl::Seconds(3), [&] { record(3); });
  driven.loop().RunAfter(absl::Seconds(1), [&] {
    record(1);
    // A timer started by an earlier one, due before a later one, runs first.
    driven.loop().RunAfter(absl::Seconds(1), [&] { record(2); });
  });
  EventLoop::TimerId cancelled = driven.loop().RunAfter(absl::Seconds(2), [&] { record(99); });
  driven.loop().Cancel(cancelled);
  driven.loop().RunAfter(absl::Seconds(10), [&] { record(10); });
  driven.Advance(absl::Seconds(5));
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0], std::make_pair(1, absl::Seconds(1)));
  EXPECT_EQ(fired[1], std::make_pair(2, absl::Seconds(2)));
  EXPECT_EQ(fired[2], std::make_pair(3, absl::Seconds(3)));
  EXPECT_EQ(driven.Now() - start, absl::Seconds(5));
  EXPECT_EQ(driven.loop().NextTimerDeadline(), start + absl::Seconds(10));
}

TEST(DrivenLoopTest, StopDropsQueuedWork) {
  DrivenLoop driven;
  int ran = 0;
  driven.loop().Post([&] { ++ran; });
  driven.loop().Stop();
  driven.loop().Post([&] { ++ran; });
  EXPECT_EQ(driven.RunUntilIdle(), 0u);
  EXPECT_EQ(ran, 0);
}

TEST(WeakCallbacksTest, BoundCallbacksStopRunningWhenTheOwnerGoesOrInvalidates) {
  int ran = 0;
  auto owner = std::make_unique<WeakCallbacks>();
  auto first = owner->Bind([&](int n) { ran += n; });
  first(1);
  EXPECT_EQ(ran, 1);
  owner->Invalidate();
  first(10);  // bound before Invalidate: dropped
  EXPECT_EQ(ran, 1);
  auto second = owner->Bind([&](int n) { ran += n; });
  second(100);
  EXPECT_EQ(ran, 101);
  owner.reset();
  second(1000);
  EXPECT_EQ(ran, 101);
}

TEST(WeakCallbacksTest, BindsMoveOnlyCallbacksForAnyInvocable) {
  WeakCallbacks callbacks;
  auto value = std::make_unique<int>(7);
  int seen = 0;
  absl::AnyInvocable<void(int)&&> done =
      callbacks.Bind([&, value = std::move(value)](int add) { seen = *value + add; });
  std::move(done)(1);
  EXPECT_EQ(seen, 8);
}

}  // namespace
}  // namespace mast
