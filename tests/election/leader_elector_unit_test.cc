// LeaderElector against the fake ZooKeeper and a manual clock: the lease,
// pause and step-down rules, deterministically.
#include <memory>

#include "absl/synchronization/notification.h"
#include "election/leader_elector.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/fakes/manual_clock.h"

namespace mast {
namespace {

using ::mast::testing::FakeZkClient;
using ::mast::testing::FakeZkEnsemble;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr absl::Duration kTimeout = absl::Seconds(3);

class LeaderElectorUnitTest : public ::testing::Test {
 protected:
  struct Replica {
    Replica(FakeZkEnsemble& ensemble, EventLoop& loop, const std::string& id,
            prometheus::Registry& registry)
        : zk(ensemble, loop), metrics(registry) {
      LeaderElectorConfig config;
      config.election_path = "/mast/election";
      config.replica_id = id;
      config.advertise_address = id + ":7070";
      LeaderCallbacks callbacks;
      callbacks.on_started_leading = [this](const LeaderTerm& t) { started.push_back(t); };
      callbacks.on_stopped_leading = [this](const LeaderTerm& t, absl::string_view reason) {
        stopped.emplace_back(t, std::string(reason));
      };
      callbacks.on_paused_changed = [this](bool p) { paused.push_back(p); };
      auto e = LeaderElector::Create(config, zk, loop, std::move(callbacks), &metrics);
      EXPECT_TRUE(e.ok()) << e.status();
      elector = std::move(*e);
    }
    FakeZkClient zk;
    ElectionMetrics metrics;
    std::unique_ptr<LeaderElector> elector;
    // Written on the loop; read by the test after Settle().
    std::vector<LeaderTerm> started;
    std::vector<std::pair<LeaderTerm, std::string>> stopped;
    std::vector<bool> paused;
  };

  LeaderElectorUnitTest() : loop_(clock_, "unit") {}
  ~LeaderElectorUnitTest() override {
    loop_.Post([this] { replicas_.clear(); });
    loop_.Flush();
  }

  Replica& Add(const std::string& id) {
    auto* replica = new Replica(ensemble_, loop_, id, registry_);
    replicas_.emplace_back(replica);
    loop_.Post([replica] { replica->elector->Start(); });
    return *replica;
  }

  // Runs the loop until the chains of posted completions are done.
  void Settle() {
    for (int i = 0; i < 50; ++i) loop_.Flush();
  }
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    Settle();
  }
  bool Acting(Replica& r) { return r.elector->snapshot()->ActingLeader(clock_.Now()); }

  ManualClock clock_;
  EventLoop loop_;
  FakeZkEnsemble ensemble_;
  prometheus::Registry registry_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

TEST_F(LeaderElectorUnitTest, FirstToConnectLeadsAndTheOtherFollows) {
  Replica& a = Add("a");
  Replica& b = Add("b");
  a.zk.Connect(kTimeout);
  Settle();
  b.zk.Connect(kTimeout);
  Settle();
  EXPECT_TRUE(Acting(a));
  EXPECT_FALSE(Acting(b));
  ASSERT_THAT(a.started, SizeIs(1));
  EXPECT_TRUE(b.started.empty());
  auto follower_view = b.elector->snapshot();
  ASSERT_TRUE(follower_view->leader.has_value());
  EXPECT_EQ(follower_view->leader->replica_id, "a");
  EXPECT_EQ(follower_view->leader->fencing_token, a.started[0].fencing_token);
  EXPECT_EQ(follower_view->leader->since, a.started[0].acquired_at);
  EXPECT_THAT(ensemble_.Children("/mast/election"), SizeIs(2));
}

TEST_F(LeaderElectorUnitTest, LeaseIsRenewedWhileConnected) {
  Replica& a = Add("a");
  a.zk.Connect(kTimeout);
  Settle();
  ASSERT_TRUE(Acting(a));
  int calls = a.zk.calls();
  for (int i = 0; i < 30; ++i) Advance(absl::Seconds(1));  // ten session timeouts
  EXPECT_TRUE(Acting(a));
  EXPECT_TRUE(a.stopped.empty());
  EXPECT_GE(a.zk.calls() - calls, 25) << "about one renewal per timeout/3";
  EXPECT_GT(a.elector->snapshot()->lease_expiry, clock_.Now() + kTimeout / 2);
}

TEST_F(LeaderElectorUnitTest, SuspensionPausesAtOnceAndAReconnectWithinTheLeaseResumes) {
  Replica& a = Add("a");
  a.zk.Connect(kTimeout);
  Settle();
  uint64_t token = a.started.at(0).fencing_token;
  a.zk.Suspend();
  Settle();
  EXPECT_FALSE(Acting(a));
  EXPECT_TRUE(a.elector->snapshot()->paused);
  EXPECT_EQ(a.metrics.paused.Value(), 1);
  EXPECT_EQ(a.metrics.is_leader.Value(), 0);
  Advance(absl::Seconds(2));  // within the 3 s lease
  a.zk.Resume();
  Settle();
  EXPECT_TRUE(Acting(a));
  EXPECT_EQ(a.elector->snapshot()->term.fencing_token, token);
  EXPECT_THAT(a.paused, ElementsAre(true, false));
  EXPECT_TRUE(a.stopped.empty());
  EXPECT_EQ(a.metrics.is_leader.Value(), 1);
}

TEST_F(LeaderElectorUnitTest, LeaseRunningOutStepsDownAndTheNextTermGetsANewZnode) {
  Replica& a = Add("a");
  a.zk.Connect(kTimeout);
  Settle();
  LeaderTerm first = a.started.at(0);
  a.zk.Suspend();
  Settle();
  Advance(kTimeout);  // no contact for a whole session timeout
  ASSERT_THAT(a.stopped, SizeIs(1));
  EXPECT_THAT(a.stopped[0].second, HasSubstr("lease expired"));
  EXPECT_EQ(a.stopped[0].first.fencing_token, first.fencing_token);
  EXPECT_FALSE(Acting(a));

  // The same session comes back (the server had not expired it): the old
  // znode is replaced, so the next leadership has a higher token.
  a.zk.Resume();
  Settle();
  ASSERT_THAT(a.started, SizeIs(2));
  EXPECT_GT(a.started[1].fencing_token, first.fencing_token);
  EXPECT_NE(a.started[1].znode, first.znode);
  EXPECT_FALSE(ensemble_.Exists(first.znode));
  EXPECT_THAT(ensemble_.Children("/mast/election"), SizeIs(1));
}

TEST_F(LeaderElectorUnitTest, AReplicaStoppedPastItsLeaseNeverReadsAsLeader) {
  Replica& a = Add("a");
  a.zk.Connect(kTimeout);
  Settle();
  ASSERT_TRUE(Acting(a));
  // As after SIGSTOP/SIGCONT: time has jumped and the loop has not run yet
  // (held here). The snapshot still says "leading", but the lease check at
  // read time refuses.
  absl::Notification release;
  loop_.Post([&] { release.WaitForNotification(); });
  clock_.Advance(kTimeout + absl::Seconds(1));
  auto s = a.elector->snapshot();
  EXPECT_TRUE(s->leading);
  EXPECT_FALSE(s->ActingLeader(clock_.Now()));
  // Meanwhile the server expired the session; the client finds out.
  a.zk.Suspend();
  a.zk.Expire();
  release.Notify();
  Settle();
  EXPECT_FALSE(Acting(a));
  // Whichever it handles first, the lease timer or the session news.
  ASSERT_THAT(a.stopped, SizeIs(1));
  EXPECT_THAT(a.stopped[0].second, HasSubstr("expired"));
}

TEST_F(LeaderElectorUnitTest, ExpiryEndsLeadershipAtOnceAndTheOtherTakesOver) {
  Replica& a = Add("a");
  Replica& b = Add("b");
  a.zk.Connect(kTimeout);
  Settle();
  b.zk.Connect(kTimeout);
  Settle();
  uint64_t token = a.started.at(0).fencing_token;
  a.zk.Expire();
  Settle();
  ASSERT_THAT(a.stopped, SizeIs(1));
  EXPECT_EQ(a.stopped[0].second, "zookeeper session expired");
  EXPECT_TRUE(Acting(b));
  ASSERT_THAT(b.started, SizeIs(1));
  EXPECT_GT(b.started[0].fencing_token, token);
  // A new session: a follows.
  a.zk.Connect(kTimeout);
  Settle();
  EXPECT_FALSE(Acting(a));
  EXPECT_EQ(a.elector->snapshot()->leader->replica_id, "b");
  EXPECT_EQ(a.metrics.zk_session_expirations.Value(), 1);
}

TEST_F(LeaderElectorUnitTest, LostCreateReplyDoesNotLeaveASecondZnode) {
  Replica& a = Add("a");
  // The parent exists; the create of our znode is applied but its reply lost.
  ensemble_.SetData("/", "");
  a.zk.FailNext(absl::UnavailableError("connection loss"), /*applied=*/false);  // parent
  a.zk.Connect(kTimeout);
  Settle();
  Advance(absl::Seconds(1));  // the retry backoff
  ASSERT_TRUE(Acting(a)) << "recovered from a failed call";
  LeaderTerm term = a.started.at(0);
  ASSERT_TRUE(a.elector->snapshot()->leading);

  Replica& b = Add("b");
  b.zk.FailNext(absl::UnavailableError("connection loss"), /*applied=*/true);
  b.zk.Connect(kTimeout);
  Settle();
  Advance(absl::Seconds(1));
  EXPECT_THAT(ensemble_.Children("/mast/election"), SizeIs(2)) << "one znode per replica";
  EXPECT_EQ(b.elector->snapshot()->leader->fencing_token, term.fencing_token);
  // b really owns the znode it adopted: when a resigns, b leads.
  absl::Status resigned = absl::UnknownError("");
  loop_.Post([&] { a.elector->Resign([&](absl::Status s) { resigned = s; }); });
  Settle();
  EXPECT_TRUE(resigned.ok()) << resigned;
  EXPECT_TRUE(Acting(b));
}

TEST_F(LeaderElectorUnitTest, ResignDeletesTheZnodeAndNeverRejoins) {
  Replica& a = Add("a");
  a.zk.Connect(kTimeout);
  Settle();
  std::string znode = a.started.at(0).znode;
  absl::Status resigned = absl::UnknownError("");
  loop_.Post([&] { a.elector->Resign([&](absl::Status s) { resigned = s; }); });
  Settle();
  EXPECT_TRUE(resigned.ok());
  EXPECT_FALSE(ensemble_.Exists(znode));
  ASSERT_THAT(a.stopped, SizeIs(1));
  EXPECT_EQ(a.stopped[0].second, "resigned");
  // Even a new session does not bring it back.
  a.zk.Expire();
  a.zk.Connect(kTimeout);
  Advance(absl::Seconds(5));
  EXPECT_TRUE(ensemble_.Children("/mast/election").empty());
  EXPECT_THAT(a.started, SizeIs(1));
}

TEST_F(LeaderElectorUnitTest, CorruptLeaderDataIsCountedAndSurvived) {
  Replica& a = Add("a");
  Replica& b = Add("b");
  a.zk.Connect(kTimeout);
  Settle();
  ensemble_.SetData(a.started.at(0).znode, "{not json");
  b.zk.Connect(kTimeout);
  Settle();
  auto view = b.elector->snapshot();
  ASSERT_TRUE(view->leader.has_value());
  EXPECT_EQ(view->leader->fencing_token, a.started[0].fencing_token);
  EXPECT_TRUE(view->leader->replica_id.empty());
  EXPECT_GE(b.metrics.corrupt_election_znodes.Value(), 1);
}

// Create checks retry_backoff too (the other fields: leader_elector_test).
TEST_F(LeaderElectorUnitTest, CreateNamesABadRetryBackoff) {
  absl::StatusOr<std::unique_ptr<LeaderElector>> elector;
  loop_.Post([&] {
    FakeZkClient zk(ensemble_, loop_);
    LeaderElectorConfig config;
    config.election_path = "/mast/election";
    config.replica_id = "r1";
    config.advertise_address = "r1:7070";
    config.retry_backoff.initial = absl::ZeroDuration();
    elector = LeaderElector::Create(config, zk, loop_, {}, nullptr);
  });
  loop_.Flush();
  EXPECT_EQ(elector.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(elector.status().message()),
              ::testing::StartsWith("retry_backoff.initial:"));
}

}  // namespace
}  // namespace mast
