#include "election/leader_elector.h"

#include <memory>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/processes/tcp_proxy.h"
#include "tests/processes/wait.h"
#include "tests/support/zk_test_util.h"
#include "zk/zk_session.h"

namespace mast {
namespace {

using ::mast::testing::CallOnLoop;
using ::mast::testing::SharedZkServer;
using ::mast::testing::TestRoot;
using ::mast::testing::WaitFor;
using ::mast::testing::ZkServer;
using ::testing::HasSubstr;

// What one contender's callbacks reported, in order.
struct Recorded {
  std::vector<LeaderTerm> started;
  std::vector<std::pair<LeaderTerm, std::string>> stopped;
  std::vector<std::optional<LeaderInfo>> observed;
  std::vector<bool> paused;
};

// One replica: its own loop, ZooKeeper session and elector, as in mastd.
class Contender {
 public:
  Contender(std::string id, std::string hosts, std::string election_path,
            absl::Duration session_timeout = absl::Seconds(2))
      : id_(std::move(id)), loop_(RealClock::Default(), "elector-" + id_), metrics_(registry_) {
    ZkSessionConfig zk_config;
    zk_config.hosts = std::move(hosts);
    zk_config.session_timeout = session_timeout;
    auto session = ZkSession::Create(zk_config, loop_);
    EXPECT_TRUE(session.ok()) << session.status();
    session_ = std::move(*session);
    LeaderElectorConfig config;
    config.election_path = std::move(election_path);
    config.replica_id = id_;
    config.advertise_address = id_ + ":7070";
    LeaderCallbacks callbacks;
    callbacks.on_started_leading = [this](const LeaderTerm& term) {
      absl::MutexLock lock(&mu_);
      recorded_.started.push_back(term);
    };
    callbacks.on_stopped_leading = [this](const LeaderTerm& term, absl::string_view reason) {
      absl::MutexLock lock(&mu_);
      recorded_.stopped.emplace_back(term, std::string(reason));
    };
    callbacks.on_new_leader = [this](const std::optional<LeaderInfo>& leader) {
      absl::MutexLock lock(&mu_);
      recorded_.observed.push_back(leader);
    };
    callbacks.on_paused_changed = [this](bool paused) {
      absl::MutexLock lock(&mu_);
      recorded_.paused.push_back(paused);
    };
    auto elector = LeaderElector::Create(config, *session_, loop_, std::move(callbacks), &metrics_);
    EXPECT_TRUE(elector.ok()) << elector.status();
    elector_ = std::move(*elector);
    loop_.Post([this] { elector_->Start(); });
  }

  ~Contender() { Crash(); }

  // Drops everything without resigning, like a killed process (the znode
  // stays until the session expires... unless the session is closed, which
  // zookeeper_close does: use Vanish() for a silent death).
  void Crash() {
    if (!elector_ && !session_) return;
    absl::Notification done;
    loop_.Post([&] {
      elector_.reset();
      session_.reset();
      done.Notify();
    });
    done.WaitForNotification();
  }

  absl::Status Resign() {
    return CallOnLoop<absl::Status>(loop_, [this](auto cb) { elector_->Resign(std::move(cb)); });
  }

  std::shared_ptr<const ElectionSnapshot> snapshot() const { return elector_->snapshot(); }
  bool acting() const { return snapshot()->ActingLeader(RealClock::Default().Now()); }
  Recorded recorded() {
    absl::MutexLock lock(&mu_);
    return recorded_;
  }
  std::optional<ZkSession::Credentials> credentials() {
    return CallOnLoop<std::optional<ZkSession::Credentials>>(
        loop_, [this](auto cb) { cb(session_->credentials()); });
  }
  const std::string& id() const { return id_; }
  ElectionMetrics& metrics() { return metrics_; }

 private:
  std::string id_;
  EventLoop loop_;
  prometheus::Registry registry_;
  ElectionMetrics metrics_;
  std::unique_ptr<ZkSession> session_;
  std::unique_ptr<LeaderElector> elector_;
  absl::Mutex mu_;
  Recorded recorded_ ABSL_GUARDED_BY(mu_);
};

using Contenders = std::vector<std::unique_ptr<Contender>>;

Contenders StartContenders(int n, const std::string& hosts, const std::string& path,
                           absl::Duration timeout = absl::Seconds(2)) {
  Contenders out;
  for (int i = 0; i < n; ++i) {
    out.push_back(std::make_unique<Contender>(absl::StrCat("r", i), hosts, path, timeout));
  }
  return out;
}

// The single acting leader once every contender agrees on it, or null.
Contender* AgreedLeader(const Contenders& all) {
  Contender* leader = nullptr;
  for (const auto& c : all) {
    if (c == nullptr) continue;
    if (c->acting()) {
      if (leader != nullptr) return nullptr;
      leader = c.get();
    }
  }
  if (leader == nullptr) return nullptr;
  for (const auto& c : all) {
    if (c == nullptr) continue;
    auto s = c->snapshot();
    if (!s->leader || s->leader->replica_id != leader->id()) return nullptr;
  }
  return leader;
}

int CountActing(const Contenders& all) {
  int n = 0;
  for (const auto& c : all) n += (c != nullptr && c->acting()) ? 1 : 0;
  return n;
}

TEST(LeaderElectorTest, ExactlyOneLeaderAmongThree) {
  Contenders all = StartContenders(3, SharedZkServer().hosts(), TestRoot() + "/election");
  Contender* leader = nullptr;
  ASSERT_TRUE(WaitFor([&] { return (leader = AgreedLeader(all)) != nullptr; }));
  EXPECT_EQ(CountActing(all), 1);
  auto s = leader->snapshot();
  EXPECT_TRUE(s->leading);
  EXPECT_GT(s->term.fencing_token, 0u);
  EXPECT_THAT(s->term.znode, HasSubstr(TestRoot() + "/election/n_"));
  EXPECT_EQ(leader->metrics().is_leader.Value(), 1);
  EXPECT_EQ(leader->metrics().elections.Value(), 1);
  EXPECT_GT(leader->metrics().leader_acquired_timestamp.Value(), 1.7e9);
  Recorded r = leader->recorded();
  ASSERT_EQ(r.started.size(), 1u);
  EXPECT_TRUE(r.stopped.empty());
  for (const auto& c : all) {
    if (c.get() == leader) continue;
    EXPECT_TRUE(c->recorded().started.empty());
    EXPECT_EQ(c->metrics().is_leader.Value(), 0);
    // Followers learn the leader's address and token from its znode.
    ASSERT_TRUE(WaitFor([&] {
      auto f = c->snapshot();
      return f->leader && f->leader->since != absl::InfinitePast();
    }));
    auto f = c->snapshot();
    EXPECT_EQ(f->leader->address, leader->id() + ":7070");
    EXPECT_EQ(f->leader->fencing_token, s->term.fencing_token);
  }
}

TEST(LeaderElectorTest, GracefulHandoffGoesToTheNextInLineWithAHigherToken) {
  Contenders all = StartContenders(3, SharedZkServer().hosts(), TestRoot() + "/election");
  Contender* first = nullptr;
  ASSERT_TRUE(WaitFor([&] { return (first = AgreedLeader(all)) != nullptr; }));
  uint64_t first_token = first->snapshot()->term.fencing_token;

  ASSERT_TRUE(first->Resign().ok());
  EXPECT_FALSE(first->acting());
  Recorded r = first->recorded();
  ASSERT_EQ(r.stopped.size(), 1u);
  EXPECT_EQ(r.stopped[0].first.fencing_token, first_token);
  EXPECT_EQ(r.stopped[0].second, "resigned");

  Contender* second = nullptr;
  ASSERT_TRUE(WaitFor([&] {
    second = nullptr;
    for (const auto& c : all) {
      if (c.get() != first && c->acting()) second = c.get();
    }
    return second != nullptr;
  }));
  EXPECT_GT(second->snapshot()->term.fencing_token, first_token);
  EXPECT_EQ(CountActing(all), 1);
}

// The leader is cut off from ZooKeeper (through a proxy) for longer than its
// session timeout: it pauses at once, another replica takes over only after
// the session expired, and the old leader comes back as a follower.
TEST(LeaderElectorTest, PartitionedLeaderPausesThenLosesToTheNextAndRejoins) {
  const std::string path = TestRoot() + "/election";
  auto proxy = testing::TcpProxy::Start(SharedZkServer().port());
  ASSERT_TRUE(proxy.ok());
  Contenders all;
  all.push_back(std::make_unique<Contender>("r0", absl::StrCat("127.0.0.1:", (*proxy)->port()),
                                            path, absl::Seconds(1)));
  Contender* first = all[0].get();
  ASSERT_TRUE(WaitFor([&] { return first->acting(); }));
  for (int i = 1; i < 3; ++i) {
    all.push_back(std::make_unique<Contender>(absl::StrCat("r", i), SharedZkServer().hosts(), path,
                                              absl::Seconds(1)));
  }
  ASSERT_TRUE(WaitFor([&] { return AgreedLeader(all) == first; }));
  uint64_t first_token = first->snapshot()->term.fencing_token;

  (*proxy)->SetBlocked(true);
  ASSERT_TRUE(WaitFor([&] { return !first->acting(); }));
  absl::Time stopped_acting = RealClock::Default().Now();
  Contender* next = nullptr;
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& c : all) {
      if (c.get() != first && c->acting()) next = c.get();
    }
    return next != nullptr;
  }));
  EXPECT_GT(next->snapshot()->term.fencing_token, first_token);
  // Never two acting leaders: the new one acquired after the old one stopped.
  EXPECT_GT(next->snapshot()->term.acquired_at, stopped_acting);
  EXPECT_FALSE(first->acting());

  (*proxy)->SetBlocked(false);
  ASSERT_TRUE(WaitFor([&] { return AgreedLeader(all) == next; }));
  Recorded r = first->recorded();
  ASSERT_EQ(r.stopped.size(), 1u);
  EXPECT_EQ(r.stopped[0].first.fencing_token, first_token);
  EXPECT_EQ(r.started.size(), 1u);
  EXPECT_FALSE(r.paused.empty());
  EXPECT_TRUE(r.paused[0]);
}

TEST(LeaderElectorTest, BriefPartitionPausesTheLeaderWithoutFailover) {
  const std::string path = TestRoot() + "/election";
  auto proxy = testing::TcpProxy::Start(SharedZkServer().port());
  ASSERT_TRUE(proxy.ok());
  Contenders all;
  all.push_back(std::make_unique<Contender>("r0", absl::StrCat("127.0.0.1:", (*proxy)->port()),
                                            path, absl::Seconds(4)));
  Contender* leader = all[0].get();
  ASSERT_TRUE(WaitFor([&] { return leader->acting(); }));
  all.push_back(
      std::make_unique<Contender>("r1", SharedZkServer().hosts(), path, absl::Seconds(4)));
  ASSERT_TRUE(WaitFor([&] { return AgreedLeader(all) == leader; }));
  uint64_t token = leader->snapshot()->term.fencing_token;

  (*proxy)->SetBlocked(true);
  ASSERT_TRUE(WaitFor([&] { return leader->snapshot()->paused; }));
  EXPECT_FALSE(leader->acting());
  (*proxy)->SetBlocked(false);
  ASSERT_TRUE(WaitFor([&] { return leader->acting(); }));
  EXPECT_EQ(leader->snapshot()->term.fencing_token, token);
  Recorded r = leader->recorded();
  EXPECT_TRUE(r.stopped.empty());
  EXPECT_EQ(r.paused, std::vector<bool>({true, false}));
  EXPECT_TRUE(all[1]->recorded().started.empty());
}

TEST(LeaderElectorTest, TokensStrictlyIncreaseOverManyHandoffs) {
  const std::string path = TestRoot() + "/election";
  const std::string hosts = SharedZkServer().hosts();
  Contenders all = StartContenders(2, hosts, path);
  std::vector<uint64_t> tokens;
  std::set<std::string> leaders;
  for (int round = 0; round < 6; ++round) {
    Contender* leader = nullptr;
    ASSERT_TRUE(WaitFor([&] { return (leader = AgreedLeader(all)) != nullptr; }));
    tokens.push_back(leader->snapshot()->term.fencing_token);
    leaders.insert(leader->id());
    ASSERT_TRUE(leader->Resign().ok());
    // Replace the resigned contender, as a restarted replica would.
    for (auto& c : all) {
      if (c.get() == leader) {
        std::string id = absl::StrCat(c->id(), "+");
        c = std::make_unique<Contender>(id, hosts, path);
      }
    }
  }
  for (size_t i = 1; i < tokens.size(); ++i) EXPECT_GT(tokens[i], tokens[i - 1]);
  EXPECT_EQ(leaders.size(), 6u);
}

TEST(LeaderElectorTest, ZooKeeperRestartShorterThanTheSessionTimeoutCausesNoFailover) {
  // A server of our own: this test stops it.
  ZkServer::Options options;
  options.tick = absl::Milliseconds(1000);  // allows session timeouts up to 20 s
  auto server = ZkServer::Launch(options);
  ASSERT_TRUE(server.ok()) << server.status();
  Contenders all = StartContenders(3, (*server)->hosts(), "/mast/election", absl::Seconds(20));
  Contender* leader = nullptr;
  ASSERT_TRUE(WaitFor([&] { return (leader = AgreedLeader(all)) != nullptr; }));
  uint64_t token = leader->snapshot()->term.fencing_token;

  (*server)->Stop();
  ASSERT_TRUE(WaitFor([&] { return leader->snapshot()->paused; }));
  EXPECT_FALSE(leader->acting()) << "a suspended leader must not act";
  EXPECT_EQ(leader->metrics().paused.Value(), 1);
  EXPECT_EQ(CountActing(all), 0);

  ASSERT_TRUE((*server)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return leader->acting(); }, absl::Seconds(30)));
  EXPECT_EQ(leader->snapshot()->term.fencing_token, token);
  Recorded r = leader->recorded();
  EXPECT_EQ(r.started.size(), 1u);
  EXPECT_TRUE(r.stopped.empty());
  EXPECT_EQ(r.paused, std::vector<bool>({true, false}));
  for (const auto& c : all) {
    if (c.get() != leader) EXPECT_TRUE(c->recorded().started.empty()) << c->id();
  }
  EXPECT_EQ(CountActing(all), 1);
}

TEST(LeaderElectorTest, DeletedElectionZnodeMakesTheLeaderStepDownAndRejoin) {
  const std::string path = TestRoot() + "/election";
  Contenders all = StartContenders(2, SharedZkServer().hosts(), path);
  Contender* first = nullptr;
  ASSERT_TRUE(WaitFor([&] { return (first = AgreedLeader(all)) != nullptr; }));
  auto s = first->snapshot();
  uint64_t token = s->term.fencing_token;

  // An operator deletes the leader's znode by hand.
  EventLoop loop(RealClock::Default(), "admin");
  ZkSessionConfig config;
  config.hosts = SharedZkServer().hosts();
  auto admin = ZkSession::Create(config, loop);
  ASSERT_TRUE(admin.ok());
  absl::Status deleted = CallOnLoop<absl::Status>(
      loop, [&](auto cb) { (*admin)->Delete(s->term.znode, -1, std::move(cb)); });
  ASSERT_TRUE(deleted.ok()) << deleted;

  Contender* next = nullptr;
  ASSERT_TRUE(WaitFor([&] {
    next = AgreedLeader(all);
    return next != nullptr && next->snapshot()->term.fencing_token > token;
  }));
  // The old leader noticed (at the latest at its next lease renewal).
  ASSERT_TRUE(WaitFor([&] { return !first->recorded().stopped.empty() || next == first; }));
  loop.Post([&] { admin->reset(); });
  loop.Flush();
}

TEST(LeaderElectorTest, ConfigIsValidated) {
  EventLoop loop(RealClock::Default(), "cfg");
  ZkSessionConfig zk_config;
  zk_config.hosts = "127.0.0.1:1";
  auto session = ZkSession::Create(zk_config, loop);
  ASSERT_TRUE(session.ok());
  struct Case {
    std::string path, id, address, expect;
  };
  const Case cases[] = {
      {"/mast/election", "r1", "h:1", ""},
      {"mast/election", "r1", "h:1", "election_path"},
      {"/", "r1", "h:1", "election_path"},
      {"/mast//x", "r1", "h:1", "election_path"},
      {"/mast/election", "", "h:1", "replica_id"},
      {"/mast/election", std::string(300, 'x'), "h:1", "replica_id"},
      {"/mast/election", "r\n1", "h:1", "replica_id"},
      {"/mast/election", "r1", "", "advertise_address"},
  };
  for (const Case& c : cases) {
    LeaderElectorConfig config;
    config.election_path = c.path;
    config.replica_id = c.id;
    config.advertise_address = c.address;
    auto elector = LeaderElector::Create(config, **session, loop, {}, nullptr);
    if (c.expect.empty()) {
      EXPECT_TRUE(elector.ok()) << elector.status();
    } else {
      EXPECT_EQ(elector.status().code(), absl::StatusCode::kInvalidArgument) << c.path;
      EXPECT_THAT(std::string(elector.status().message()), HasSubstr(c.expect));
    }
  }
  loop.Post([&] { session->reset(); });
  loop.Flush();
}

}  // namespace
}  // namespace mast
