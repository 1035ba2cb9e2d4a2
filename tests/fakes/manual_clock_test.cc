#include "tests/fakes/manual_clock.h"

#include <thread>

#include "gtest/gtest.h"

namespace mast {
namespace {

TEST(ManualClockTest, MovesOnlyWhenAdvanced) {
  ManualClock clock;
  absl::Time t0 = clock.Now();
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(absl::Seconds(3));
  EXPECT_EQ(clock.Now(), t0 + absl::Seconds(3));
  clock.SetTime(t0 + absl::Hours(1));
  EXPECT_EQ(clock.Now(), t0 + absl::Hours(1));
}

TEST(ManualClockTest, AwaitReturnsAtOnceWhenConditionHolds) {
  ManualClock clock;
  absl::Mutex mu;
  bool flag = true;
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(clock.AwaitWithDeadline(mu, absl::Condition(&flag), absl::InfiniteFuture()));
}

TEST(ManualClockTest, AwaitReturnsAtOnceWhenDeadlinePassed) {
  ManualClock clock;
  absl::Mutex mu;
  bool flag = false;
  absl::MutexLock lock(&mu);
  EXPECT_FALSE(clock.AwaitWithDeadline(mu, absl::Condition(&flag), clock.Now()));
}

TEST(ManualClockTest, AdvancePastDeadlineWakesWaiter) {
  ManualClock clock;
  absl::Mutex mu;
  bool flag = false;
  bool result = true;
  bool done = false;
  absl::Time deadline = clock.Now() + absl::Seconds(10);
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = clock.AwaitWithDeadline(mu, absl::Condition(&flag), deadline);
    done = true;
  });
  clock.Advance(absl::Seconds(5));  // not yet due: the waiter keeps waiting
  {
    absl::MutexLock lock(&mu);
    EXPECT_FALSE(done);
  }
  clock.Advance(absl::Seconds(5));
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&done));
  }
  waiter.join();
  EXPECT_FALSE(result);
}

TEST(ManualClockTest, ConditionWakesWaiterWithoutAdvance) {
  ManualClock clock;
  absl::Mutex mu;
  bool flag = false;
  bool result = false;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = clock.AwaitWithDeadline(mu, absl::Condition(&flag), absl::InfiniteFuture());
  });
  {
    absl::MutexLock lock(&mu);
    flag = true;
  }
  waiter.join();
  EXPECT_TRUE(result);
}

}  // namespace
}  // namespace mast
