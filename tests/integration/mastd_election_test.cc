// Three mastd processes against a real ZooKeeper: election, handoff, crash,
// stop/continue, unreachable ZooKeeper, and bad flags.

#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "tests/processes/flat_json.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/wait.h"
#include "tests/processes/zk_server.h"

namespace mast {
namespace {

using ::mast::testing::MastdProcess;
using ::mast::testing::Subprocess;
using ::mast::testing::WaitFor;
using ::mast::testing::ZkServer;
using ::testing::HasSubstr;
using ServingStatus = grpc::health::v1::HealthCheckResponse;

class MastdElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto zk = ZkServer::Launch();
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
  }
  void TearDown() override {
    if (HasFailure()) set_.DumpLogs();
  }

  MastdProcess& StartReplica(const std::string& id, absl::Duration session_timeout) {
    return set_.Start(zk_->hosts(), id, session_timeout, {"--mesos=none"});  // the election alone
  }

  void StartThree(absl::Duration session_timeout) {
    for (int i = 0; i < 3; ++i) StartReplica(absl::StrCat("r", i), session_timeout);
  }

  // The replica every live replica names as leader, once all agree.
  MastdProcess* AgreedLeader() {
    std::string leader_id;
    MastdProcess* leader = nullptr;
    int acting = 0;
    for (const auto& r : replicas_) {
      if (!r || !r->process().Running()) continue;
      auto answer = r->GetLeader();
      if (!answer.ok() || !answer->leader_known()) return nullptr;
      if (leader_id.empty()) leader_id = answer->leader_id();
      if (answer->leader_id() != leader_id) return nullptr;
      if (answer->is_leader()) {
        ++acting;
        leader = r.get();
      }
    }
    return acting == 1 && leader->replica_id() == leader_id ? leader : nullptr;
  }

  MastdProcess* WaitForAgreedLeader(absl::Duration timeout = absl::Seconds(30)) {
    MastdProcess* leader = nullptr;
    WaitFor([&] { return (leader = AgreedLeader()) != nullptr; }, timeout);
    return leader;
  }

  std::unique_ptr<ZkServer> zk_;
  testing::ReplicaSet set_;
  std::vector<std::unique_ptr<MastdProcess>>& replicas_ = set_.replicas();
  const std::string& log_dir_ = set_.log_dir();
};

TEST_F(MastdElectionTest, ThreeReplicasElectExactlyOneLeader) {
  StartThree(absl::Seconds(2));
  MastdProcess* leader = WaitForAgreedLeader();
  ASSERT_NE(leader, nullptr);
  auto answer = leader->GetLeader();
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->leader_address(), leader->grpc_address());
  EXPECT_GT(answer->fencing_token(), 0u);
  EXPECT_GT(answer->leader_since_unix_nanos(), 0);

  double is_leader_sum = 0;
  for (const auto& r : replicas_) {
    ASSERT_TRUE(WaitFor([&] { return r->Metric("mast_zk_connected") == 1.0; }));
    auto metrics = r->Metrics();
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    is_leader_sum += (*metrics)["mast_is_leader"];
    EXPECT_EQ((*metrics)["mast_leader_paused"], 0);
    EXPECT_GT((*metrics)["process_resident_memory_bytes"], 0);
    bool me = r.get() == leader;
    EXPECT_EQ((*metrics)["mast_leader_elections_total"], me ? 1 : 0);
    if (me) EXPECT_GT((*metrics)["mast_leader_acquired_timestamp_seconds"], 1.7e9);
    // Health: the server is SERVING everywhere, the leader service only on the leader.
    EXPECT_EQ(r->Health("").value_or(ServingStatus::UNKNOWN), ServingStatus::SERVING);
    EXPECT_EQ(r->Health("mast.v1.Leader").value_or(ServingStatus::UNKNOWN),
              me ? ServingStatus::SERVING : ServingStatus::NOT_SERVING);
  }
  EXPECT_EQ(is_leader_sum, 1);
  EXPECT_TRUE(leader->LogContains("event=leader_started"));
  EXPECT_TRUE(leader->LogContains(absl::StrCat("fencing_token=", answer->fencing_token())));

  // mastctl, through a dead endpoint first, then a follower.
  MastdProcess* follower = replicas_[0].get() == leader ? replicas_[1].get() : replicas_[0].get();
  std::string out_path = log_dir_ + "/mastctl.out";
  auto ctl = Subprocess::Spawn({testing::MastctlBinary(),
                                absl::StrCat("--endpoint=127.0.0.1:", testing::PickFreePort(), ",",
                                             follower->grpc_address()),
                                "leader", "-o", "json"},
                               out_path);
  ASSERT_TRUE(ctl.ok());
  auto status = ctl->Wait(absl::Seconds(20));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  std::string out = ctl->ReadLog();
  EXPECT_THAT(out, HasSubstr(absl::StrCat("\"leader_id\":\"", leader->replica_id(), "\"")));
  EXPECT_THAT(out, HasSubstr("\"is_leader\":false"));
}

TEST_F(MastdElectionTest, SigtermHandsLeadershipOverWithoutWaitingForTheSession) {
  // A long session timeout: a takeover well before it proves the handoff.
  StartThree(absl::Seconds(20));
  MastdProcess* leader = WaitForAgreedLeader();
  ASSERT_NE(leader, nullptr);
  uint64_t old_token = leader->GetLeader()->fencing_token();

  leader->process().Signal(SIGTERM);
  auto status = leader->process().Wait(absl::Seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_TRUE(leader->LogContains("reason=resigned"));

  MastdProcess* next = WaitForAgreedLeader(absl::Seconds(10));
  ASSERT_NE(next, nullptr) << "no takeover within half the session timeout";
  EXPECT_NE(next, leader);
  EXPECT_GT(next->GetLeader()->fencing_token(), old_token);
}

TEST_F(MastdElectionTest, KilledLeaderIsReplacedAfterItsSessionExpires) {
  StartThree(absl::Seconds(2));
  MastdProcess* leader = WaitForAgreedLeader();
  ASSERT_NE(leader, nullptr);
  uint64_t old_token = leader->GetLeader()->fencing_token();

  leader->process().Signal(SIGKILL);
  ASSERT_TRUE(leader->process().Wait(absl::Seconds(10)).has_value());
  MastdProcess* next = WaitForAgreedLeader();
  ASSERT_NE(next, nullptr);
  EXPECT_NE(next, leader);
  EXPECT_GT(next->GetLeader()->fencing_token(), old_token);
}

TEST_F(MastdElectionTest, LeaderStoppedPastItsSessionTimeoutHasSteppedDownWhenItResumes) {
  StartThree(absl::Seconds(2));
  MastdProcess* leader = WaitForAgreedLeader();
  ASSERT_NE(leader, nullptr);
  uint64_t old_token = leader->GetLeader()->fencing_token();

  leader->process().Signal(SIGSTOP);
  // The others elect a new leader once the stopped one's session expired.
  MastdProcess* next = nullptr;
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& r : replicas_) {
      if (r.get() == leader) continue;
      auto answer = r->GetLeader();
      if (answer.ok() && answer->is_leader()) next = r.get();
    }
    return next != nullptr;
  }));
  uint64_t new_token = next->GetLeader()->fencing_token();
  EXPECT_GT(new_token, old_token);

  leader->process().Signal(SIGCONT);
  // From its first answer on, the resumed replica never claims to lead.
  // (Bounded by time, not by a count of answers: on a loaded machine the
  // rejoin can take longer than a fixed number of quick calls.)
  bool caught_up = false;
  int answers = 0;
  bool settled = WaitFor(
      [&] {
        auto answer = leader->GetLeader();
        if (!answer.ok()) return false;  // its gRPC threads are still waking
        ++answers;
        if (answer->is_leader()) return true;  // reported below
        if (answer->leader_known()) {
          EXPECT_NE(answer->fencing_token(), old_token) << "answer " << answers;
          caught_up = answer->fencing_token() == new_token;
        }
        return caught_up;
      },
      absl::Seconds(30), absl::Milliseconds(1));
  ASSERT_TRUE(settled) << "no answer naming the new leader within 30 s";
  ASSERT_TRUE(caught_up) << "answer " << answers << " claims leadership";
  ASSERT_TRUE(WaitFor([&] { return leader->Metric("mast_is_leader") == 0.0; }));
  EXPECT_TRUE(leader->LogContains("event=leader_stopped"));
  EXPECT_EQ(AgreedLeader(), next);
}

TEST_F(MastdElectionTest, UnreachableZooKeeperIsReportedAndRetriedUntilItAppears) {
  int port = testing::PickFreePort();
  MastdProcess::Options options;
  options.zk_hosts = absl::StrCat("127.0.0.1:", port);
  options.replica_id = "lonely";
  options.session_timeout = absl::Seconds(1);
  options.log_dir = log_dir_;
  options.extra_flags = {"--mesos=none"};
  auto replica = MastdProcess::Start(options);
  ASSERT_TRUE(replica.ok());
  MastdProcess& r = **replica;
  ASSERT_TRUE(WaitFor([&] { return r.LogContains("event=zk_unreachable"); }));
  EXPECT_TRUE(r.process().Running());
  // The API answers while ZooKeeper is away (each try has a 1 s deadline,
  // which a loaded machine can miss on a fresh channel).
  absl::StatusOr<mast::v1::GetLeaderResponse> answer;
  ASSERT_TRUE(WaitFor([&] {
    answer = r.GetLeader();
    return answer.ok();
  })) << "the API does not answer while ZooKeeper is away: "
      << answer.status();
  EXPECT_FALSE(answer->leader_known());
  EXPECT_EQ(r.Metric("mast_zk_connected"), 0.0);

  ZkServer::Options zk_options;
  zk_options.port = port;
  auto late_zk = ZkServer::Launch(zk_options);
  ASSERT_TRUE(late_zk.ok()) << late_zk.status();
  ASSERT_TRUE(WaitFor([&] {
    auto a = r.GetLeader();
    return a.ok() && a->is_leader();
  }));
}

struct BadFlagCase {
  std::vector<std::string> flags;
  std::string expect;  // in the one-line error
};

TEST_F(MastdElectionTest, BadFlagsGetAOneLineErrorAndExitCode) {
  int busy_port = zk_->port();  // taken by ZooKeeper
  const BadFlagCase cases[] = {
      {{"--zk_root=mast"}, "--zk_root"},
      {{"--zk_root=/mast//x"}, "--zk_root"},
      {{"--zk=nohostport"}, "--zk"},
      {{"--zk=127.0.0.1:1/a//b"}, "--zk chroot:"},
      {{"--zk_session_timeout=10parsecs"}, "zk_session_timeout"},
      {{"--zk_session_timeout=50ms"}, "--zk_session_timeout:"},
      {{absl::StrCat("--grpc_address=127.0.0.1:", busy_port)}, "--grpc_address"},
      {{"--grpc_address=127.0.0.1:0", absl::StrCat("--metrics_address=127.0.0.1:", busy_port)},
       "--metrics_address"},
      {{"--mesos=https://m:5050"}, "--mesos: 'https://m:5050': https is not supported"},
      {{"--mesos=zk://zk:2181"}, "--mesos: 'zk://zk:2181' needs hosts and a path"},
      {{"--mesos=zk://zk:2181/a//b"}, "--mesos path:"},
      {{"--mesos_encoding=xml"}, "--mesos_encoding"},
      {{"--framework_role=a/b"}, "--framework_role"},
      {{"--failover_timeout=0s"}, "--failover_timeout"},
      {{"--framework_name="}, "--framework_name:"},
      {{"--mesos_heartbeat_misses=0"}, "--mesos_heartbeat_misses:"},
      {{"--kill_retry=0s"}, "--kill_retry:"},
      {{"--revive_interval=0s"}, "--revive_interval:"},
      {{"--revive_burst=0"}, "--revive_burst:"},
      {{"--max_unhealthy_share=1.5"}, "--max_unhealthy_share:"},
      {{"--framework_secret_file=/nonexistent"}, "--framework_secret_file"},
      {{"--log_format=xml"}, "'log_format'; must be logfmt or json"},
      {{"--zk_auth_file=/nonexistent"}, "--zk_auth_file: cannot read /nonexistent"},
      {{"--zk_digest_auth_file=/nonexistent"}, "--zk_digest_auth_file: cannot read"},
  };
  for (const BadFlagCase& c : cases) {
    std::vector<std::string> argv = {testing::MastdBinary(), absl::StrCat("--zk=", zk_->hosts()),
                                     "--mesos=none", "--zk_allow_open_acl", "--allow_plaintext"};
    if (c.flags[0].rfind("--grpc_address", 0) != 0) argv.push_back("--grpc_address=127.0.0.1:0");
    argv.push_back("--metrics_address=127.0.0.1:0");
    for (const auto& f : c.flags) argv.push_back(f);
    std::string log = log_dir_ + "/bad.log";
    testing::RemoveTree(log);
    auto p = Subprocess::Spawn(argv, log);
    ASSERT_TRUE(p.ok());
    auto status = p->Wait(absl::Seconds(20));
    ASSERT_TRUE(status.has_value()) << c.expect << ": mastd did not exit";
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_NE(WEXITSTATUS(*status), 0) << c.expect;
    std::string out = p->ReadLog();
    EXPECT_THAT(out, HasSubstr(c.expect));
    EXPECT_LE(std::count(out.begin(), out.end(), '\n'), 2) << out;
  }
}

// --log_format=json: every line mastd writes through its logger is one flat
// JSON object; the started line names the event and the replica.
TEST_F(MastdElectionTest, JsonLogFormatWritesOneObjectPerLine) {
  MastdProcess& r =
      set_.Start(zk_->hosts(), "r0", absl::Seconds(2), {"--mesos=none", "--log_format=json"});
  ASSERT_NE(WaitForAgreedLeader(), nullptr);
  std::string log = r.Log();
  bool started = false;
  int objects = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    if (line.front() != '{') continue;  // gRPC's own lines, if any
    ++objects;
    auto members = testing::ParseFlatJsonObject(line);
    ASSERT_TRUE(members.has_value()) << line;
    ASSERT_GE(members->size(), 4u) << line;
    EXPECT_EQ((*members)[0].key, "ts");
    EXPECT_EQ((*members)[1].key, "level");
    if (line.find("\"event\":\"mastd_started\"") != absl::string_view::npos) {
      started = true;
      EXPECT_EQ((*members)[2].key, "replica");
      EXPECT_EQ((*members)[2].value, "r0");
      EXPECT_NE(line.find("\"replica_id\":\"r0\""), absl::string_view::npos) << line;
      EXPECT_NE(line.find(absl::StrCat("\"grpc_port\":", r.grpc_port(), ",")),
                absl::string_view::npos)
          << line;
    }
  }
  EXPECT_TRUE(started) << log;
  EXPECT_GE(objects, 2) << log;
  EXPECT_FALSE(r.LogContains("event=")) << log;
}

// --version is absl's flag with Mast's text: "<program> <version> (<commit>,
// built <date>)" on stdout, exit code 0, for the daemon and the CLI.
TEST(MastVersionTest, MastdAndMastctlPrintTheirVersionAndExitZero) {
  std::string dir = testing::MakeTempDir("mast-version");
  const std::pair<std::string, std::string> programs[] = {{"mastd", testing::MastdBinary()},
                                                          {"mastctl", testing::MastctlBinary()}};
  for (const auto& [name, binary] : programs) {
    auto p = Subprocess::Spawn({binary, "--version"}, dir + "/" + name + ".out");
    ASSERT_TRUE(p.ok()) << p.status();
    auto status = p->Wait(absl::Seconds(20));
    ASSERT_TRUE(status.has_value()) << name << " --version did not exit";
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 0) << name;
    std::string out = p->ReadLog();
    EXPECT_TRUE(
        RE2::FullMatch(out, absl::StrCat(name, R"( \d+\.\d+\.\d+ \(([0-9a-f]{4,40}|unknown), )"
                                               R"(built \d{4}-\d{2}-\d{2}\)\n)")))
        << out;
  }
  testing::RemoveTree(dir);
}

}  // namespace
}  // namespace mast
