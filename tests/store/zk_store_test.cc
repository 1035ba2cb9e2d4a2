#include "store/zk_store.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/support/zk_test_util.h"

namespace mast {
namespace {

using ::mast::testing::CallOnLoop;
using ::mast::testing::FakeZkClient;
using ::mast::testing::FakeZkEnsemble;
using ::testing::HasSubstr;

// The store over the fake: each fault is seeded precisely.
class ZkStoreFakeTest : public ::testing::Test {
 protected:
  ZkStoreFakeTest() : zk_(ensemble_, driven_.loop()), store_(zk_, "/mast") {
    zk_.Connect();
    CreateElectionZnode();
  }
  ~ZkStoreFakeTest() override { driven_.RunUntilIdle(); }

  void CreateElectionZnode() {
    auto term = ::mast::testing::TakeLeadershipForTest(zk_, driven_.loop(), driven_.clock());
    ASSERT_TRUE(term.ok()) << term.status();
    if (term.ok()) term_ = *term;
  }
  absl::Status Write(const LeaderTerm& term, const std::string& id) {
    return CallOnLoop<absl::Status>(
        driven_.loop(), [&](auto cb) { store_.WriteFrameworkId(term, id, std::move(cb)); });
  }
  absl::StatusOr<std::optional<std::string>> Read() {
    return CallOnLoop<absl::StatusOr<std::optional<std::string>>>(
        driven_.loop(), [&](auto cb) { store_.ReadFrameworkId(std::move(cb)); });
  }

  DrivenLoop driven_;
  FakeZkEnsemble ensemble_;
  FakeZkClient zk_;
  ZkStore store_;
  LeaderTerm term_;
};

TEST_F(ZkStoreFakeTest, NothingStoredReadsAsNullopt) {
  auto id = Read();
  ASSERT_TRUE(id.ok());
  EXPECT_FALSE(id->has_value());
}

TEST_F(ZkStoreFakeTest, WriteCreatesThenOverwrites) {
  ASSERT_TRUE(Write(term_, "fw-1").ok());
  EXPECT_EQ(Read()->value_or(""), "fw-1");
  ASSERT_TRUE(Write(term_, "fw-2").ok());
  EXPECT_EQ(Read()->value_or(""), "fw-2");
  EXPECT_EQ(ensemble_.Data("/mast/state/framework_id"), "fw-2");
}

TEST_F(ZkStoreFakeTest, DeposedLeadersWriteFailsAndChangesNothing) {
  ASSERT_TRUE(Write(term_, "fw-1").ok());
  ensemble_.Delete(term_.znode);  // the session expired: the znode went
  absl::Status status = Write(term_, "fw-evil");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("no longer leads"));
  EXPECT_EQ(Read()->value_or(""), "fw-1");
  // Also when nothing was stored before: no record appears.
  ensemble_.Delete("/mast/state/framework_id");
  EXPECT_EQ(Write(term_, "fw-evil").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(ensemble_.Exists("/mast/state/framework_id"));
}

TEST_F(ZkStoreFakeTest, AWriteReportedFailedCanBeRetried) {
  // A lost reply: the caller sees UNAVAILABLE and writes again.
  ASSERT_TRUE(Write(term_, "fw-1").ok());
  ensemble_.Delete("/mast/state/framework_id");
  zk_.FailNext(absl::UnavailableError("connection loss"), /*applied=*/true);
  absl::Status status = Write(term_, "fw-2");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);  // reported, to be retried
  EXPECT_TRUE(Write(term_, "fw-2").ok());
  EXPECT_EQ(Read()->value_or(""), "fw-2");
}

TEST_F(ZkStoreFakeTest, EmptyRecordIsDataLossNotACrash) {
  ASSERT_TRUE(Write(term_, "fw-1").ok());
  ensemble_.SetData("/mast/state/framework_id", "");
  EXPECT_EQ(Read().status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ZkStoreFakeTest, BadIdsAreRefused) {
  EXPECT_EQ(Write(term_, "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Write(term_, std::string(300, 'x')).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Write(LeaderTerm{}, "fw").code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace mast
