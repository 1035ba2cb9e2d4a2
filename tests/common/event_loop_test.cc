#include "common/event_loop.h"

#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/common/manual_clock.h"

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

}  // namespace
}  // namespace mast
