// Keeps the fake faithful to what the real ZooKeeper does (see
// tests/zk/zk_session_test.cc for the same cases on a real server).
#include "tests/fakes/fake_zk_client.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/driven_loop.h"
#include "tests/support/zk_test_util.h"
#include "zk/zk_status.h"

namespace mast::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FakeZkClientTest : public ::testing::Test {
 protected:
  FakeZkClientTest() : a_(ensemble_, driven_.loop()), b_(ensemble_, driven_.loop()) {
    a_.Connect();
    b_.Connect();
  }

  template <typename T, typename Start>
  T Call(Start start) {
    return CallOnLoop<T>(driven_.loop(), std::move(start));
  }
  absl::StatusOr<ZkCreated> Create(FakeZkClient& c, const std::string& path,
                                   ZkCreateMode mode = ZkCreateMode::kPersistent) {
    return Call<absl::StatusOr<ZkCreated>>(
        [&](auto cb) { c.Create(path, "d", mode, std::move(cb)); });
  }

  DrivenLoop driven_;
  FakeZkEnsemble ensemble_;
  FakeZkClient a_;
  FakeZkClient b_;
};

TEST_F(FakeZkClientTest, VersionsAndErrorsMatchZooKeeper) {
  ASSERT_TRUE(Create(a_, "/x").ok());
  EXPECT_EQ(Create(a_, "/x").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Create(a_, "/missing/y").status().code(), absl::StatusCode::kNotFound);
  auto set = Call<absl::StatusOr<ZkStat>>([&](auto cb) { a_.Set("/x", "v", 7, std::move(cb)); });
  EXPECT_EQ(set.status().code(), absl::StatusCode::kAborted);
  set = Call<absl::StatusOr<ZkStat>>([&](auto cb) { a_.Set("/x", "v", 0, std::move(cb)); });
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->version, 1);
  ASSERT_TRUE(Create(a_, "/x/child").ok());
  auto del = Call<absl::Status>([&](auto cb) { a_.Delete("/x", -1, std::move(cb)); });
  EXPECT_EQ(del.code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(FakeZkClientTest, SequentialNamesAndCzxidsIncrease) {
  ASSERT_TRUE(Create(a_, "/e").ok());
  auto first = Create(a_, "/e/n-", ZkCreateMode::kEphemeralSequential);
  auto second = Create(b_, "/e/n-", ZkCreateMode::kEphemeralSequential);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->path, "/e/n-0000000000");
  EXPECT_EQ(second->path, "/e/n-0000000001");
  EXPECT_LT(first->stat.czxid, second->stat.czxid);
}

TEST_F(FakeZkClientTest, ExpiryRemovesEphemeralsAndFiresOthersWatches) {
  ASSERT_TRUE(Create(a_, "/e").ok());
  ASSERT_TRUE(Create(a_, "/e/mine", ZkCreateMode::kEphemeral).ok());
  bool fired = false;
  auto exists = Call<absl::StatusOr<std::optional<ZkStat>>>([&](auto cb) {
    b_.Exists(
        "/e/mine", [&](const ZkWatchEvent& e) { fired = e.type == ZkEventType::kDeleted; },
        std::move(cb));
  });
  ASSERT_TRUE(exists.ok() && exists->has_value());
  a_.Expire();
  driven_.RunUntilIdle();
  EXPECT_TRUE(fired);
  EXPECT_FALSE(ensemble_.Exists("/e/mine"));
  EXPECT_TRUE(ensemble_.Exists("/e"));
}

TEST_F(FakeZkClientTest, SuspendedCallsFailAndEventsWaitForResume) {
  ASSERT_TRUE(Create(a_, "/w").ok());
  int fired = 0;
  ASSERT_TRUE(Call<absl::StatusOr<ZkNode>>([&](auto cb) {
                a_.Get(
                    "/w", [&](const ZkWatchEvent&) { ++fired; }, std::move(cb));
              }).ok());
  a_.Suspend();
  driven_.RunUntilIdle();
  EXPECT_EQ(Create(a_, "/y").status().code(), absl::StatusCode::kUnavailable);
  ensemble_.SetData("/w", "changed");
  driven_.RunUntilIdle();
  EXPECT_EQ(fired, 0);
  a_.Resume();
  driven_.RunUntilIdle();
  EXPECT_EQ(fired, 1);
}

TEST_F(FakeZkClientTest, AppliedButReportedFailed) {
  a_.FailNext(absl::UnavailableError("connection loss"), /*applied=*/true);
  EXPECT_EQ(Create(a_, "/lost-reply").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(ensemble_.Exists("/lost-reply"));
  a_.FailNext(absl::UnavailableError("connection loss"), /*applied=*/false);
  EXPECT_EQ(Create(a_, "/never").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(ensemble_.Exists("/never"));
}

TEST_F(FakeZkClientTest, MultiIsAtomicAndNamesTheFailedOp) {
  ASSERT_TRUE(Create(a_, "/fence").ok());
  auto failed = Call<absl::StatusOr<std::vector<ZkOpResult>>>([&](auto cb) {
    a_.Multi({ZkOp::Create("/new", "", ZkCreateMode::kPersistent), ZkOp::Check("/fence", 3)},
             std::move(cb));
  });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("op 1"));
  EXPECT_EQ(FailedMultiOp(failed.status()), 1u);
  EXPECT_FALSE(ensemble_.Exists("/new"));
  auto ok = Call<absl::StatusOr<std::vector<ZkOpResult>>>([&](auto cb) {
    a_.Multi({ZkOp::Check("/fence", 0), ZkOp::Create("/new", "", ZkCreateMode::kPersistent)},
             std::move(cb));
  });
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)[1].created_path, "/new");
  EXPECT_THAT(ensemble_.Children("/"), ElementsAre("fence", "new"));
}

}  // namespace
}  // namespace mast::testing
