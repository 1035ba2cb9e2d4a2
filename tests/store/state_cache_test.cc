#include "store/state_cache.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "store/service_store.h"
#include "store/zk_store.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/store/records_for_test.h"
#include "tests/support/metric_value.h"
#include "tests/support/zk_test_util.h"

namespace mast {
namespace {

using ::mast::testing::CallOnLoop;
using ::mast::testing::FakeZkClient;
using ::mast::testing::FakeZkEnsemble;
using ::mast::testing::MakeService;
using ::mast::testing::MakeTasks;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> Names(const StateSnapshot& snapshot) {
  std::vector<std::string> names;
  for (const auto& [name, service] : snapshot.services) names.push_back(name);
  return names;
}

// A writer session and the cache's own session on one fake ensemble.
class StateCacheFakeTest : public ::testing::Test {
 protected:
  StateCacheFakeTest()
      : writer_zk_(ensemble_, driven_.loop()),
        cache_zk_(ensemble_, driven_.loop()),
        zk_store_(writer_zk_, "/mast"),
        store_(writer_zk_, zk_store_),
        metrics_(registry_) {
    writer_zk_.Connect();
    cache_zk_.Connect();
    auto term = ::mast::testing::TakeLeadershipForTest(writer_zk_, driven_.loop(), driven_.clock());
    EXPECT_TRUE(term.ok()) << term.status();
    if (term.ok()) term_ = *term;
    cache_ = std::make_unique<StateCache>(cache_zk_, driven_.loop(), "/mast", &metrics_);
  }
  ~StateCacheFakeTest() override {
    cache_.reset();
    driven_.RunUntilIdle();
  }

  void StartCache() {
    cache_->Start();
    driven_.RunUntilIdle();
  }
  void Put(const std::string& name, uint32_t instances) {
    auto put = CallOnLoop<absl::StatusOr<int32_t>>(driven_.loop(), [&](auto cb) {
      store_.PutService(term_, MakeService(name, instances), ServiceStore::kAnyVersion,
                        std::move(cb));
    });
    ASSERT_TRUE(put.ok()) << put.status();
  }
  void PutRecord(mast::v1::records::ServiceRecord record) {
    auto put = CallOnLoop<absl::StatusOr<int32_t>>(driven_.loop(), [&](auto cb) {
      store_.PutService(term_, std::move(record), ServiceStore::kAnyVersion, std::move(cb));
    });
    ASSERT_TRUE(put.ok()) << put.status();
  }
  void PutTasks(const std::string& name, int count) {
    ASSERT_TRUE(CallOnLoop<absl::Status>(driven_.loop(), [&](auto cb) {
                  store_.PutTasks(term_, name, MakeTasks(name, count), std::move(cb));
                }).ok());
  }
  void Delete(const std::string& name) {
    ASSERT_TRUE(CallOnLoop<absl::Status>(driven_.loop(), [&](auto cb) {
                  store_.DeleteService(term_, name, std::move(cb));
                }).ok());
  }
  // Everything the fake does is posted to the loop: running it until idle
  // delivers every reply and watch event.
  std::shared_ptr<const StateSnapshot> Snapshot() {
    driven_.RunUntilIdle();
    return cache_->snapshot();
  }

  DrivenLoop driven_;
  FakeZkEnsemble ensemble_;
  FakeZkClient writer_zk_;
  FakeZkClient cache_zk_;
  ZkStore zk_store_;
  ServiceStore store_;
  prometheus::Registry registry_;
  StateCacheMetrics metrics_;
  std::unique_ptr<StateCache> cache_;
  LeaderTerm term_;
};

TEST_F(StateCacheFakeTest, EmptyStoreLoadsAndThenFollowsPutsAndDeletes) {
  StartCache();
  auto empty = cache_->snapshot();
  EXPECT_TRUE(empty->synced);
  EXPECT_THAT(Names(*empty), IsEmpty());

  Put("team/web", 2);  // creates the directories the cache waits for
  PutTasks("team/web", 3);
  Put("api", 1);
  auto one = Snapshot();
  EXPECT_TRUE(one->synced);
  EXPECT_THAT(Names(*one), ElementsAre("api", "team/web"));
  EXPECT_EQ(one->services.at("team/web")->record.service().spec().instances(), 2u);
  EXPECT_EQ(one->tasks.at("team/web")->tasks_size(), 3);
  EXPECT_GT(one->store_version, 0);

  Put("team/web", 5);
  PutTasks("team/web", 4);
  auto two = Snapshot();
  EXPECT_EQ(two->services.at("team/web")->record.service().spec().instances(), 5u);
  EXPECT_EQ(two->tasks.at("team/web")->tasks_size(), 4);
  EXPECT_GT(two->store_version, one->store_version);

  Delete("team/web");
  auto three = Snapshot();
  EXPECT_THAT(Names(*three), ElementsAre("api"));
  EXPECT_EQ(three->tasks.count("team/web"), 0u);
  EXPECT_GT(three->store_version, two->store_version);  // a delete moves the version too
  // Old snapshots are immutable.
  EXPECT_THAT(Names(*one), ElementsAre("api", "team/web"));
}

TEST_F(StateCacheFakeTest, RelistsOfABurstAreSpacedAndNotSettledMeanwhile) {
  cache_->set_min_relist_interval(absl::Milliseconds(50));
  StartCache();
  Put("a", 1);
  driven_.Advance(absl::Milliseconds(50));
  EXPECT_THAT(Names(*Snapshot()), ElementsAre("a"));
  // Within 50 ms of that listing: known, but listed only when it is over.
  Put("b", 1);
  EXPECT_THAT(Names(*Snapshot()), ElementsAre("a"));
  auto settled = std::make_shared<std::shared_ptr<const StateSnapshot>>();
  cache_->WhenSettled([settled](std::shared_ptr<const StateSnapshot> s) { *settled = s; });
  driven_.RunUntilIdle();
  EXPECT_EQ(*settled, nullptr) << "settled with a listing due";
  driven_.Advance(absl::Milliseconds(50));
  EXPECT_THAT(Names(*Snapshot()), ElementsAre("a", "b"));
  ASSERT_NE(*settled, nullptr);
  EXPECT_THAT(Names(**settled), ElementsAre("a", "b"));
}

TEST_F(StateCacheFakeTest, FollowsShardedTaskRecords) {
  Put("big", 1);
  StartCache();
  PutTasks("big", 200'000);
  EXPECT_EQ(Snapshot()->tasks.at("big")->tasks_size(), 200'000);
  PutTasks("big", 100'001);
  EXPECT_EQ(Snapshot()->tasks.at("big")->tasks_size(), 100'001);
  EXPECT_THAT(Snapshot()->corrupt, IsEmpty());
}

TEST_F(StateCacheFakeTest, CorruptRecordIsReportedAndSkipped) {
  Put("a", 1);
  Put("b", 2);
  PutTasks("a", 2);
  PutTasks("b", 2);
  StartCache();
  ensemble_.SetData("/mast/state/services/a", "\xff\xff\xff garbage");
  ensemble_.SetData("/mast/state/tasks/b", "also garbage");
  auto snapshot = Snapshot();
  EXPECT_THAT(Names(*snapshot), ElementsAre("b"));
  EXPECT_EQ(snapshot->tasks.count("a"), 1u);
  EXPECT_EQ(snapshot->tasks.count("b"), 0u);
  ASSERT_EQ(snapshot->corrupt.size(), 2u);
  EXPECT_EQ(snapshot->corrupt[0].znode, "/mast/state/services/a");
  EXPECT_EQ(snapshot->corrupt[1].znode, "/mast/state/tasks/b");
  EXPECT_EQ(metrics_.corrupt_records.Value(), 2);
  EXPECT_TRUE(snapshot->synced);

  // A record naming another service is corrupt too.
  auto put = CallOnLoop<absl::StatusOr<int32_t>>(driven_.loop(), [&](auto cb) {
    store_.PutService(term_, MakeService("b", 9), ServiceStore::kAnyVersion, std::move(cb));
  });
  ASSERT_TRUE(put.ok());
  ensemble_.SetData("/mast/state/services/b", ensemble_.Data("/mast/state/services/a").value());
  ensemble_.SetData("/mast/state/services/a", MakeService("c", 1).SerializeAsString());
  snapshot = Snapshot();
  EXPECT_THAT(Names(*snapshot), IsEmpty());
  EXPECT_EQ(snapshot->corrupt.size(), 3u);

  // Rewritten records come back and leave the corrupt list.
  Put("a", 3);
  Put("b", 4);
  PutTasks("b", 1);
  snapshot = Snapshot();
  EXPECT_THAT(Names(*snapshot), ElementsAre("a", "b"));
  EXPECT_THAT(snapshot->corrupt, IsEmpty());
}

TEST_F(StateCacheFakeTest, ResyncsAfterSessionExpiry) {
  Put("a", 1);
  Put("b", 1);
  PutTasks("b", 2);
  StartCache();
  EXPECT_THAT(Names(*Snapshot()), ElementsAre("a", "b"));
  EXPECT_EQ(metrics_.resyncs.Value(), 1);

  cache_zk_.Expire();
  auto stale = Snapshot();
  EXPECT_FALSE(stale->synced);
  EXPECT_THAT(Names(*stale), ElementsAre("a", "b"));  // the last known state is kept

  // Changes while the cache has no session: no watch reports them.
  Delete("b");
  Put("c", 1);
  Put("a", 7);
  EXPECT_THAT(Names(*Snapshot()), ElementsAre("a", "b"));

  cache_zk_.Connect();
  auto fresh = Snapshot();
  EXPECT_TRUE(fresh->synced);
  EXPECT_THAT(Names(*fresh), ElementsAre("a", "c"));
  EXPECT_EQ(fresh->services.at("a")->record.service().spec().instances(), 7u);
  EXPECT_EQ(fresh->tasks.count("b"), 0u);
  EXPECT_EQ(metrics_.resyncs.Value(), 2);

  // And it follows changes again in the new session.
  Put("d", 1);
  EXPECT_THAT(Names(*Snapshot()), ElementsAre("a", "c", "d"));
}

TEST_F(StateCacheFakeTest, FailedReadIsRetriedWithBackoff) {
  Put("a", 1);
  cache_zk_.FailNext(absl::UnavailableError("connection loss"));
  StartCache();
  EXPECT_FALSE(cache_->snapshot()->synced);
  driven_.Advance(absl::Seconds(11));  // past any first retry delay
  auto snapshot = Snapshot();
  EXPECT_TRUE(snapshot->synced);
  EXPECT_THAT(Names(*snapshot), ElementsAre("a"));
}

}  // namespace
}  // namespace mast

namespace mast {
namespace {

mast::v1::records::ServiceRecord WithDeployment(const std::string& name,
                                                v1::Deployment::State state, int64_t updated) {
  mast::v1::records::ServiceRecord record = ::mast::testing::MakeService(name, 1);
  v1::Deployment* deployment = record.mutable_service()->mutable_deployment();
  deployment->set_id(name + "-1");
  deployment->set_state(state);
  deployment->mutable_updated()->set_seconds(updated);
  return record;
}

TEST_F(StateCacheFakeTest, CountsActiveDeploymentsAndTheLeastRecentlyMoved) {
  StartCache();
  PutRecord(WithDeployment("a", v1::Deployment::RUNNING, 2000));
  PutRecord(WithDeployment("b", v1::Deployment::PAUSED, 1500));
  PutRecord(WithDeployment("c", v1::Deployment::ROLLING_BACK, 3000));
  PutRecord(WithDeployment("d", v1::Deployment::SUCCEEDED, 100));  // ended: not counted
  Snapshot();
  EXPECT_EQ(
      ::mast::testing::MetricValue(registry_, "mast_deployments_active", {{"state", "RUNNING"}}),
      1);
  EXPECT_EQ(
      ::mast::testing::MetricValue(registry_, "mast_deployments_active", {{"state", "PAUSED"}}), 1);
  EXPECT_EQ(::mast::testing::MetricValue(registry_, "mast_deployments_active",
                                         {{"state", "ROLLING_BACK"}}),
            1);
  EXPECT_EQ(
      ::mast::testing::MetricValue(registry_, "mast_deployment_oldest_update_timestamp_seconds"),
      1500);

  PutRecord(WithDeployment("b", v1::Deployment::CANCELLED, 4000));
  Delete("a");
  Snapshot();
  EXPECT_EQ(
      ::mast::testing::MetricValue(registry_, "mast_deployments_active", {{"state", "RUNNING"}}),
      0);
  EXPECT_EQ(
      ::mast::testing::MetricValue(registry_, "mast_deployment_oldest_update_timestamp_seconds"),
      3000);
  Delete("c");
  Snapshot();
  EXPECT_EQ(
      ::mast::testing::MetricValue(registry_, "mast_deployment_oldest_update_timestamp_seconds"),
      0);
}

}  // namespace
}  // namespace mast
