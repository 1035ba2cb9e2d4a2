#include "store/zk_store.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/driven_loop.h"
#include "tests/common/fake_zk_client.h"
#include "tests/common/wait.h"
#include "tests/common/zk_test_util.h"
#include "zk/zk_session.h"

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

// The same fence on a real ZooKeeper, with real leader election: the old
// leader's term no longer writes once the next one leads.
TEST(ZkStoreTest, DeposedLeaderCannotWriteOnARealZooKeeper) {
  EventLoop loop(RealClock::Default(), "store");
  ZkSessionConfig config;
  config.hosts = testing::SharedZkServer().hosts();
  config.session_timeout = absl::Seconds(2);
  const std::string root = testing::TestRoot();
  std::unique_ptr<ZkSession> a_zk = *ZkSession::Create(config, loop);
  std::unique_ptr<ZkSession> b_zk = *ZkSession::Create(config, loop);
  std::optional<LeaderTerm> a_term, b_term;
  auto make = [&](ZkSession& zk, const std::string& id, std::optional<LeaderTerm>* term) {
    LeaderElectorConfig ec;
    ec.election_path = root + "/election";
    ec.replica_id = id;
    ec.advertise_address = id + ":1";
    LeaderCallbacks callbacks;
    callbacks.on_started_leading = [term](const LeaderTerm& t) { *term = t; };
    return *LeaderElector::Create(ec, zk, loop, std::move(callbacks), nullptr);
  };
  std::unique_ptr<LeaderElector> a = make(*a_zk, "a", &a_term);
  loop.Post([&] { a->Start(); });
  ASSERT_TRUE(testing::WaitFor(
      [&] { return CallOnLoop<bool>(loop, [&](auto cb) { cb(a_term.has_value()); }); }));
  std::unique_ptr<LeaderElector> b = make(*b_zk, "b", &b_term);
  loop.Post([&] { b->Start(); });
  ZkStore a_store(*a_zk, root);
  ZkStore b_store(*b_zk, root);
  LeaderTerm old_term = CallOnLoop<LeaderTerm>(loop, [&](auto cb) { cb(*a_term); });
  ASSERT_TRUE(CallOnLoop<absl::Status>(loop, [&](auto cb) {
                a_store.WriteFrameworkId(old_term, "fw-a", std::move(cb));
              }).ok());

  ASSERT_TRUE(CallOnLoop<absl::Status>(loop, [&](auto cb) { a->Resign(std::move(cb)); }).ok());
  ASSERT_TRUE(testing::WaitFor(
      [&] { return CallOnLoop<bool>(loop, [&](auto cb) { cb(b_term.has_value()); }); }));
  absl::Status deposed = CallOnLoop<absl::Status>(
      loop, [&](auto cb) { a_store.WriteFrameworkId(old_term, "fw-stale", std::move(cb)); });
  EXPECT_EQ(deposed.code(), absl::StatusCode::kFailedPrecondition) << deposed;
  LeaderTerm new_term = CallOnLoop<LeaderTerm>(loop, [&](auto cb) { cb(*b_term); });
  EXPECT_GT(new_term.fencing_token, old_term.fencing_token);
  ASSERT_TRUE(CallOnLoop<absl::Status>(loop, [&](auto cb) {
                b_store.WriteFrameworkId(new_term, "fw-a", std::move(cb));
              }).ok());
  auto read = CallOnLoop<absl::StatusOr<std::optional<std::string>>>(
      loop, [&](auto cb) { b_store.ReadFrameworkId(std::move(cb)); });
  EXPECT_EQ(read->value_or(""), "fw-a");
  loop.Post([&] {
    a.reset();
    b.reset();
    a_zk.reset();
    b_zk.reset();
  });
  loop.Flush();
}

}  // namespace
}  // namespace mast
