// mastd against the project's local Mesos master, whose faults the test
// injects: heartbeat loss, dropped streams, 503, 307 to another master,
// master restarts with and without state, unacknowledged updates. Real
// ZooKeeper, mastd processes.

#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "local_mesos/local_master.h"
#include "scheduler/control/framework_controller.h"
#include "scheduler/mesos/http_mesos_client.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/stand_in_scheduler.h"
#include "tests/processes/wait.h"
#include "tests/processes/zk_server.h"

namespace mast {
namespace {

namespace mesos_v1 = ::mesos::v1;
using ::mast::testing::MastdProcess;
using ::mast::testing::WaitFor;

local::LocalMasterConfig MasterConfig() {
  local::LocalMasterConfig config;
  config.agents = 2;
  config.heartbeat_interval = absl::Milliseconds(200);
  config.update_retry_interval = absl::Milliseconds(200);
  config.allocation_interval = absl::Milliseconds(50);
  config.restart_recovery = absl::Milliseconds(200);
  return config;
}

class MesosFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto zk = testing::ZkServer::Launch();
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    auto master = local::LocalMaster::Start(MasterConfig(), RealClock::Default());
    ASSERT_TRUE(master.ok()) << master.status();
    master_ = std::move(*master);
  }
  void TearDown() override {
    if (HasFailure()) set_.DumpLogs();
  }

  MastdProcess& StartReplica(const std::string& id) {
    return set_.Start(
        zk_->hosts(), id, absl::Seconds(2),
        {"--mesos=" + master_->url(), "--mesos_heartbeat_misses=3", "--failover_timeout=1h"});
  }

  static double Reconnects(MastdProcess& r, const std::string& reason) {
    return r.Metric(absl::StrCat("mast_mesos_reconnects_total{reason=\"", reason, "\"}"))
        .value_or(0);
  }

  // One subscribed replica whose FrameworkID is stored.
  MastdProcess& SubscribedLeader() {
    MastdProcess& r = StartReplica("r0");
    EXPECT_TRUE(WaitFor([&] {
      return r.Metric("mast_mesos_subscribed") == 1.0 && r.LogContains("event=framework_id_stored");
    }));
    return r;
  }

  // Waits until `r` has subscribed `n` times in all, with `id`.
  bool ResubscribedWith(MastdProcess& r, int n, const std::string& id) {
    return WaitFor([&] {
      return r.Metric("mast_mesos_subscriptions_total").value_or(0) >= n &&
             r.Metric("mast_mesos_subscribed") == 1.0 && r.FrameworkId() == id;
    });
  }

  std::unique_ptr<testing::ZkServer> zk_;
  std::unique_ptr<local::LocalMaster> master_;
  testing::ReplicaSet set_;
};

TEST_F(MesosFaultsTest, OnlyTheLeaderEverTalksToMesos) {
  for (int i = 0; i < 3; ++i) StartReplica(absl::StrCat("r", i));
  MastdProcess* leader = nullptr;
  ASSERT_TRUE(WaitFor([&] {
    for (auto& r : set_.replicas()) {
      if (r->Metric("mast_mesos_subscribed") == 1.0) leader = r.get();
    }
    return leader != nullptr && leader->LogContains("event=framework_id_stored");
  }));
  // Let the followers see the leader and its offers come and go.
  ASSERT_TRUE(WaitFor([&] { return master_->stats().suppress_calls >= 1; }));
  for (auto& r : set_.replicas()) {
    if (r.get() == leader) continue;
    EXPECT_EQ(r->Metric("mast_mesos_subscriptions_total"), 0.0) << r->replica_id();
    EXPECT_FALSE(r->LogContains("event=mesos_subscribing")) << r->replica_id();
  }
  auto stats = master_->stats();
  EXPECT_EQ(stats.subscriptions, 1);
  EXPECT_EQ(stats.frameworks_registered, 1);
  EXPECT_GE(stats.declined_offers, 1);
}

TEST_F(MesosFaultsTest, HeartbeatLossResubscribesWithTheSameFramework) {
  MastdProcess& r = SubscribedLeader();
  const std::string id = r.FrameworkId();
  master_->SetHeartbeats(false);
  ASSERT_TRUE(WaitFor([&] { return Reconnects(r, "heartbeat_timeout") >= 1; }));
  master_->SetHeartbeats(true);
  ASSERT_TRUE(ResubscribedWith(r, 2, id));
  EXPECT_EQ(master_->stats().frameworks_registered, 1);
}

TEST_F(MesosFaultsTest, DroppedStreamResubscribes) {
  MastdProcess& r = SubscribedLeader();
  const std::string id = r.FrameworkId();
  master_->DropSubscriptions();
  ASSERT_TRUE(ResubscribedWith(r, 2, id));
  EXPECT_GE(Reconnects(r, "connection") + Reconnects(r, "eof"), 1);
  EXPECT_EQ(master_->stats().frameworks_registered, 1);
}

TEST_F(MesosFaultsTest, Answers503AreRetriedUntilTheMasterServesAgain) {
  MastdProcess& r = SubscribedLeader();
  const std::string id = r.FrameworkId();
  master_->SetUnavailable(true);
  master_->DropSubscriptions();
  ASSERT_TRUE(WaitFor([&] { return Reconnects(r, "unavailable") >= 2; }));
  EXPECT_EQ(r.Metric("mast_mesos_subscribed"), 0.0);
  master_->SetUnavailable(false);
  ASSERT_TRUE(ResubscribedWith(r, 2, id));
}

TEST_F(MesosFaultsTest, RedirectToTheLeadingMasterIsFollowed) {
  MastdProcess& r = SubscribedLeader();
  const std::string id = r.FrameworkId();
  auto other = local::LocalMaster::Start(MasterConfig(), RealClock::Default());
  ASSERT_TRUE(other.ok());
  master_->SetRedirect(absl::StrCat("127.0.0.1:", (*other)->port()));
  master_->DropSubscriptions();
  ASSERT_TRUE(WaitFor([&] { return (*other)->stats().subscriptions >= 1; }));
  ASSERT_TRUE(ResubscribedWith(r, 2, id));
  EXPECT_EQ((*other)->stats().frameworks_registered, 1) << "the same ID, re-created there";
  EXPECT_GE(Reconnects(r, "redirect"), 1);
}

TEST_F(MesosFaultsTest, MasterRestartWithAndWithoutStateResubscribes) {
  MastdProcess& r = SubscribedLeader();
  const std::string id = r.FrameworkId();
  master_->Restart(/*keep_state=*/true);
  ASSERT_TRUE(ResubscribedWith(r, 2, id));
  master_->Restart(/*keep_state=*/false);
  ASSERT_TRUE(ResubscribedWith(r, 3, id));
  EXPECT_EQ(master_->stats().frameworks_registered, 1);
  EXPECT_EQ(master_->stats().frameworks_completed, 0);
}

// A task left by an earlier scheduler instance with an unacknowledged
// update: the next leader receives the redelivered update, acknowledges it,
// kills the task (it is unknown to Mast) and acknowledges its end. Updates
// are also sent twice by the master.
TEST_F(MesosFaultsTest, UnacknowledgedUpdatesAreRedeliveredAndAcknowledged) {
  std::string id;
  {
    MastdProcess& first = SubscribedLeader();
    id = first.FrameworkId();
    first.process().Signal(SIGTERM);
    ASSERT_TRUE(first.process().Wait(absl::Seconds(10)).has_value());
  }
  master_->SetDuplicateUpdates(true);

  // A stand-in instance of the framework launches a task and never acks.
  ASSERT_TRUE(testing::LaunchUnacknowledgedTask(master_->url(), id, "orphan-1", "sleep 1000").ok());
  auto pending = master_->tasks();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_FALSE(pending[0].acknowledged);

  MastdProcess& next = StartReplica("r1");
  ASSERT_TRUE(ResubscribedWith(next, 1, id));
  // Killed, its last update acknowledged: the agent then forgets the task.
  ASSERT_TRUE(WaitFor([&] { return master_->tasks().empty(); })) << [&] {
    std::string out;
    for (const auto& t : master_->tasks()) {
      absl::StrAppend(&out, t.task_id, " ", mesos_v1::TaskState_Name(t.state),
                      " acknowledged=", t.acknowledged, " pending=", t.pending_updates, "\n");
    }
    return out;
  }();
  auto body = testing::HttpGet(master_->port(), "/master/tasks");
  ASSERT_TRUE(body.ok());
  EXPECT_THAT(*body, ::testing::HasSubstr("TASK_KILLED"));
  // STARTING, RUNNING, KILLING and KILLED, each acknowledged (duplicates too,
  // which the master ignores).
  EXPECT_GE(master_->stats().acknowledged, 4);
  EXPECT_TRUE(next.LogContains("event=killing_unknown_task"));
}

}  // namespace
}  // namespace mast
