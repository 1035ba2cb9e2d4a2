// Tokens and a policy on three mastd processes (--mesos=none) against a
// real ZooKeeper, driven with mastctl --token_file as a user would: a
// writer's deploy through a follower lands; a reader's scale through a
// follower and the leader, a call without a token and one with a wrong
// token are refused with their codes by name and change nothing on any
// replica; lists show only what the caller may read; the leader audits.

#include <sys/wait.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "auth/tokens.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "mast/v1/mast.grpc.pb.h"
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
using ::testing::Not;

class ApiAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto zk = ZkServer::Launch();
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    const std::string dir = set_.log_dir();
    std::ofstream(dir + "/tokens") << absl::StrCat(
        "# who sha256:<hex of the token>\n", "alice sha256:", auth::Sha256Hex("alice-secret"), "\n",
        "bob sha256:", auth::Sha256Hex("bob-secret"), "\n",
        "ops sha256:", auth::Sha256Hex("ops-secret"), "\n");
    std::ofstream(dir + "/policy") << "grant alice write team/\n"
                                      "grant bob read team/\n"
                                      "grant ops admin *\n";
    for (const char* who : {"alice", "bob", "ops"}) {
      std::ofstream(absl::StrCat(dir, "/", who, ".token")) << who << "-secret\n";
    }
    std::ofstream(dir + "/wrong.token") << "guess\n";
    set_.UseToken("ops-secret");
    for (int i = 0; i < 3; ++i) {
      set_.Start(zk_->hosts(), absl::StrCat("r", i), absl::Seconds(2),
                 {"--mesos=none", "--auth_tokens_file=" + dir + "/tokens",
                  "--auth_policy_file=" + dir + "/policy"});
    }
  }
  void TearDown() override {
    if (HasFailure()) set_.DumpLogs();
  }

  // mastctl against `replica` as `who` ("": no token); its exit code.
  int Mastctl(int replica, const std::string& who, std::vector<std::string> args,
              std::string* out) {
    std::vector<std::string> argv = {"--endpoint=" + replicas_[replica]->grpc_address()};
    if (!who.empty()) {
      argv.push_back(absl::StrCat("--token_file=", set_.log_dir(), "/", who, ".token"));
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return set_.RunMastctl(argv, out);
  }

  // Every replica shows `name` at `version` with `instances`, as ops sees it.
  bool Converged(const std::string& name, const std::string& version,
                 const std::string& instances) {
    for (int i = 0; i < 3; ++i) {
      std::string out;
      if (Mastctl(i, "ops", {"get", name, "-o", "json"}, &out) != 0) return false;
      if (!absl::StrContains(out, absl::StrCat("\"version\":\"", version, "\"")) ||
          !absl::StrContains(out, absl::StrCat("\"instances\":", instances))) {
        return false;
      }
    }
    return true;
  }

  std::unique_ptr<ZkServer> zk_;
  testing::ReplicaSet set_;
  std::vector<std::unique_ptr<MastdProcess>>& replicas_ = set_.replicas();
};

TEST_F(ApiAuthTest, RefusedCallsChangeNothingAndReadsAreFiltered) {
  const int leader = set_.WaitForAgreedLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  const std::string dir = set_.log_dir();
  for (const char* name : {"team/web", "other/db"}) {
    std::ofstream(absl::StrCat(dir, "/", name[0] == 't' ? "web" : "db", ".json"))
        << absl::StrCat(R"({"name": ")", name, R"(", "command": {"shell": "sleep 1"},
        "resources": {"cpus": 0.1, "memMib": 32}, "instances": 1})");
  }
  std::string out;
  // alice writes team/ through a follower (forwarded with her token).
  ASSERT_EQ(Mastctl(follower, "alice", {"deploy", "-f", dir + "/web.json"}, &out), 0) << out;
  // alice may not write other/; ops may.
  EXPECT_EQ(Mastctl(follower, "alice", {"deploy", "-f", dir + "/db.json"}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(out, HasSubstr("alice does not hold write on service other/db"));
  ASSERT_EQ(Mastctl(leader, "ops", {"deploy", "-f", dir + "/db.json"}, &out), 0) << out;
  ASSERT_TRUE(WaitFor([&] { return Converged("team/web", "1", "1"); }, absl::Seconds(20)));

  struct Refusal {
    int replica;
    const char* who;
    const char* code;
  };
  for (const Refusal& r :
       {Refusal{follower, "bob", "PERMISSION_DENIED"}, Refusal{leader, "bob", "PERMISSION_DENIED"},
        Refusal{follower, "", "UNAUTHENTICATED"}, Refusal{leader, "wrong", "UNAUTHENTICATED"}}) {
    EXPECT_EQ(Mastctl(r.replica, r.who, {"scale", "team/web", "3"}, &out), 1) << out;
    EXPECT_THAT(out, HasSubstr(absl::StrCat("mastctl: ", r.code, ": "))) << r.who;
    EXPECT_EQ(Mastctl(r.replica, r.who, {"rm", "team/web"}, &out), 1) << out;
    EXPECT_THAT(out, HasSubstr(r.code)) << r.who;
  }
  // A write after the refusals, so that every replica has seen everything
  // before: the refused ones changed nothing (still version 1, 1 instance
  // before this scale).
  ASSERT_EQ(Mastctl(follower, "alice", {"scale", "team/web", "2"}, &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] { return Converged("team/web", "2", "2"); }, absl::Seconds(20)));

  // bob reads team/ only; alice too; ops everything.
  EXPECT_EQ(Mastctl(follower, "bob", {"ls"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("team/web"));
  EXPECT_THAT(out, Not(HasSubstr("other/db")));
  EXPECT_EQ(Mastctl(leader, "bob", {"get", "other/db"}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  EXPECT_EQ(Mastctl(follower, "ops", {"ls"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("other/db"));

  // The leader audited the writes it performed, with who and versions;
  // each replica the refusals it made.
  EXPECT_TRUE(replicas_[leader]->LogContains("event=audit who=token:alice peer=ipv4:127.0.0.1:"));
  const std::string log = replicas_[leader]->Log();
  EXPECT_THAT(log, HasSubstr("method=ScaleService service=team/web version_before=1 "
                             "version_after=2 result=OK"));
  EXPECT_THAT(replicas_[follower]->Log(), HasSubstr("event=audit who=token:bob"));
  EXPECT_GE(replicas_[leader]->Metric("mast_auth_denials_total").value_or(0), 1);
  // ... and every replica's gRPC server counted its calls by method and code.
  EXPECT_GE(replicas_[leader]
                ->Metric("mast_grpc_server_handled_total{code=\"PERMISSION_DENIED\",method="
                         "\"mast.v1.Mast/GetService\"}")
                .value_or(0),
            1);
  EXPECT_GE(replicas_[follower]
                ->Metric("mast_grpc_server_handled_total{code=\"OK\",method="
                         "\"mast.v1.Mast/ListServices\"}")
                .value_or(0),
            2);
}

}  // namespace
}  // namespace mast
