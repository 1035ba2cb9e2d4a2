// SnapshotWaiter on a driven loop: a read whose version is reached is
// answered at once; one above the copy waits until a synced snapshot reaches
// it; one that is never reached gets UNAVAILABLE naming both versions when
// its wait ends; Close answers the waiting ones.

#include "api/snapshot_waiter.h"

#include <memory>
#include <optional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/driven_loop.h"

namespace mast {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<const StateSnapshot> At(int64_t version, bool synced = true) {
  auto snapshot = std::make_shared<StateSnapshot>();
  snapshot->store_version = version;
  snapshot->synced = synced;
  return snapshot;
}

class SnapshotWaiterTest : public ::testing::Test {
 protected:
  // Awaits `version` for `wait`; the answer lands in `answer`.
  void Await(int64_t version, absl::Duration wait = absl::Seconds(5)) {
    answer_.reset();
    waiter_.Await(version, wait,
                  [this](absl::StatusOr<std::shared_ptr<const StateSnapshot>> answer) {
                    answer_ = std::move(answer);
                  });
  }

  DrivenLoop driven_;
  SnapshotWaiter waiter_{driven_.loop()};
  std::optional<absl::StatusOr<std::shared_ptr<const StateSnapshot>>> answer_;
};

TEST_F(SnapshotWaiterTest, AVersionAlreadyReachedIsAnsweredAtOnce) {
  waiter_.OnSnapshot(At(7));
  Await(7);
  ASSERT_TRUE(answer_.has_value());  // on the caller's thread, before Await returned
  ASSERT_TRUE(answer_->ok());
  EXPECT_EQ((**answer_)->store_version, 7);
  Await(3);
  ASSERT_TRUE(answer_.has_value() && answer_->ok());
  EXPECT_EQ((**answer_)->store_version, 7);
  EXPECT_EQ(waiter_.waiting(), 0u);
  EXPECT_FALSE(driven_.loop().NextTimerDeadline().has_value());  // no timer armed
}

TEST_F(SnapshotWaiterTest, AReadAboveTheCopyWaitsUntilItCatchesUp) {
  waiter_.OnSnapshot(At(5));
  Await(10);
  driven_.RunUntilIdle();
  EXPECT_FALSE(answer_.has_value());
  EXPECT_EQ(waiter_.waiting(), 1u);

  waiter_.OnSnapshot(At(9));
  EXPECT_FALSE(answer_.has_value());
  // High enough but not synced (e.g. published as the session was lost):
  // it may lack changes up to its version, so it does not answer.
  waiter_.OnSnapshot(At(11, /*synced=*/false));
  EXPECT_FALSE(answer_.has_value());
  driven_.Advance(absl::Seconds(4));
  EXPECT_FALSE(answer_.has_value());

  waiter_.OnSnapshot(At(12));
  ASSERT_TRUE(answer_.has_value());
  ASSERT_TRUE(answer_->ok()) << answer_->status();
  EXPECT_EQ((**answer_)->store_version, 12);
  EXPECT_EQ(waiter_.waiting(), 0u);
  // Its timer was cancelled: nothing more comes when the wait would end.
  answer_.reset();
  driven_.Advance(absl::Seconds(10));
  EXPECT_FALSE(answer_.has_value());
}

TEST_F(SnapshotWaiterTest, AReadNeverReachedIsUnavailableWhenItsWaitEnds) {
  waiter_.OnSnapshot(At(5));
  Await(10, absl::Seconds(2));
  driven_.Advance(absl::Milliseconds(1999));
  EXPECT_FALSE(answer_.has_value());
  driven_.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(answer_.has_value());
  EXPECT_EQ(answer_->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(answer_->status().message(), HasSubstr("read copy is at store version 5"));
  EXPECT_THAT(answer_->status().message(), HasSubstr("min_store_version 10"));
  EXPECT_EQ(waiter_.waiting(), 0u);
  // A snapshot after the end answers nothing again.
  answer_.reset();
  waiter_.OnSnapshot(At(10));
  EXPECT_FALSE(answer_.has_value());
}

TEST_F(SnapshotWaiterTest, EachReadWaitsForItsOwnVersion) {
  waiter_.OnSnapshot(At(1));
  std::optional<int64_t> low, high;
  waiter_.Await(3, absl::Seconds(5), [&](auto s) { low = (*s)->store_version; });
  waiter_.Await(6, absl::Seconds(5), [&](auto s) { high = (*s)->store_version; });
  waiter_.OnSnapshot(At(4));
  EXPECT_EQ(low, 4);
  EXPECT_FALSE(high.has_value());
  waiter_.OnSnapshot(At(6));
  EXPECT_EQ(high, 6);
}

TEST_F(SnapshotWaiterTest, CloseAnswersTheWaitingReads) {
  Await(10);  // before any snapshot
  EXPECT_FALSE(answer_.has_value());
  waiter_.Close();
  ASSERT_TRUE(answer_.has_value());
  EXPECT_EQ(answer_->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(answer_->status().message(), HasSubstr("shutting down"));
  Await(10);  // after Close: at once
  ASSERT_TRUE(answer_.has_value());
  EXPECT_EQ(answer_->status().code(), absl::StatusCode::kUnavailable);
  waiter_.OnSnapshot(At(10));
  Await(10);  // reached: still answered
  ASSERT_TRUE(answer_.has_value());
  EXPECT_TRUE(answer_->ok());
}

}  // namespace
}  // namespace mast
