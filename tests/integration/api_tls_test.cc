// Mutual TLS on three mastd processes (--mesos=none) against a real
// ZooKeeper, driven with mastctl --ca/--cert/--key: the client
// certificate names the caller; a write through a follower is forwarded
// over TLS with the replica's own certificate and keeps the caller's
// identity (the leader audits it); an expired, foreign or missing client
// certificate and a plaintext client are refused in the handshake and
// change nothing; the certificate's expiry is exported; mastd refuses
// plaintext without --allow_plaintext and a key that is not the
// certificate's.

#include <sys/wait.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/fakes/test_ca.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/wait.h"
#include "tests/processes/zk_server.h"

namespace mast {
namespace {

using ::mast::testing::MastdProcess;
using ::mast::testing::PemPair;
using ::mast::testing::Subprocess;
using ::mast::testing::TestCa;
using ::mast::testing::WaitFor;
using ::mast::testing::WriteFileAtomically;
using ::mast::testing::ZkServer;
using ::testing::HasSubstr;

constexpr absl::Duration kReplicaCertLife = absl::Hours(240);

class ApiTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto zk = ZkServer::Launch();
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    replica_not_after_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())) + kReplicaCertLife;
    // The replicas' certificate: its first SAN is the identity the policy
    // trusts to forward; the others are the names clients dial.
    WritePair("replica", ca_.Issue({.common_name = "mast-replica",
                                    .subject_alt_names = {"URI:spiffe://mast/replica",
                                                          "DNS:localhost", "IP:127.0.0.1"},
                                    .not_before = replica_not_after_ - kReplicaCertLife,
                                    .valid_for = kReplicaCertLife}));
    WritePair("alice", ca_.Issue({.common_name = "alice"}));
    WritePair("bob", ca_.Issue({.common_name = "bob"}));
    WritePair("carol", ca_.Issue({.common_name = "carol",
                                  .not_before = absl::Now() - absl::Hours(48),
                                  .valid_for = absl::Hours(24)}));
    TestCa other("other CA");
    WritePair("mallory", other.Issue({.common_name = "alice"}));  // a forged name
    Write("ca.pem", ca_.ca().cert);
    Write("policy",
          "grant alice write team/\n"
          "grant bob read team/\n"
          "forwarder spiffe://mast/replica\n");
    set_.UseClientTls({Path("ca.pem"), Path("alice.pem"), Path("alice.key"), ""});
    for (int i = 0; i < 3; ++i) {
      set_.Start(zk_->hosts(), absl::StrCat("r", i), absl::Seconds(2), ReplicaFlags());
    }
  }
  void TearDown() override {
    if (HasFailure()) set_.DumpLogs();
  }

  std::vector<std::string> ReplicaFlags() const {
    return {"--mesos=none",
            "--tls_cert=" + Path("replica.pem"),
            "--tls_key=" + Path("replica.key"),
            "--tls_client_ca=" + Path("ca.pem"),
            "--tls_require_client_cert",
            "--auth_policy_file=" + Path("policy")};
  }

  std::string Path(const std::string& name) const { return set_.log_dir() + "/" + name; }
  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomically(Path(name), text));
  }
  void WritePair(const std::string& name, const PemPair& pair) {
    Write(name + ".pem", pair.cert);
    Write(name + ".key", pair.key);
  }

  // mastctl against `replica` with `who`'s certificate ("": none; "plain":
  // no TLS at all); its exit code.
  int Mastctl(int replica, const std::string& who, std::vector<std::string> args,
              std::string* out) {
    std::vector<std::string> argv = {"--endpoint=" + replicas_[replica]->grpc_address()};
    if (who != "plain") argv.push_back("--ca=" + Path("ca.pem"));
    if (!who.empty() && who != "plain") {
      argv.push_back("--cert=" + Path(who + ".pem"));
      argv.push_back("--key=" + Path(who + ".key"));
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return set_.RunMastctl(argv, out);
  }

  // Every replica shows team/web at `version` with `instances`.
  bool Converged(const std::string& version, const std::string& instances) {
    for (int i = 0; i < 3; ++i) {
      std::string out;
      if (Mastctl(i, "bob", {"get", "team/web", "-o", "json"}, &out) != 0) return false;
      if (!absl::StrContains(out, absl::StrCat("\"version\":\"", version, "\"")) ||
          !absl::StrContains(out, absl::StrCat("\"instances\":", instances))) {
        return false;
      }
    }
    return true;
  }

  TestCa ca_{"mast test CA"};
  absl::Time replica_not_after_;
  std::unique_ptr<ZkServer> zk_;
  int ctl_runs_ = 0;
  testing::ReplicaSet set_;
  std::vector<std::unique_ptr<MastdProcess>>& replicas_ = set_.replicas();
};

TEST_F(ApiTlsTest, ClientCertificatesNameTheCallerAcrossTheForwardingChannel) {
  const int leader = set_.WaitForAgreedLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  Write("web.json", R"({"name": "team/web", "command": {"shell": "sleep 1"},
      "resources": {"cpus": 0.1, "memMib": 32}, "instances": 1})");
  std::string out;
  // alice's write through a follower reaches the leader as alice's.
  ASSERT_EQ(Mastctl(follower, "alice", {"deploy", "-f", Path("web.json")}, &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] { return Converged("1", "1"); }, absl::Seconds(20)));
  EXPECT_TRUE(
      replicas_[leader]->LogContains("event=audit who=certificate:alice peer=ipv4:127.0.0.1:"));
  EXPECT_THAT(replicas_[leader]->Log(), HasSubstr("method=CreateService service=team/web"));

  // bob may read, not write; a certificate the CA did not sign (naming
  // alice), an expired one, none, and no TLS at all are refused before any
  // call is made.
  EXPECT_EQ(Mastctl(follower, "bob", {"scale", "team/web", "3"}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED: certificate bob does not hold write"));
  for (const char* who : {"mallory", "carol", "", "plain"}) {
    EXPECT_NE(Mastctl(follower, who, {"scale", "team/web", "3"}, &out), 0) << who;
    EXPECT_THAT(out, HasSubstr("UNAVAILABLE")) << who << ": " << out;
  }
  // Nothing changed: the next write is version 2, from 1 instance.
  ASSERT_EQ(Mastctl(leader, "alice", {"scale", "team/web", "2"}, &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] { return Converged("2", "2"); }, absl::Seconds(20)));
  EXPECT_THAT(replicas_[leader]->Log(),
              HasSubstr("method=ScaleService service=team/web version_before=1 version_after=2 "
                        "result=OK"));

  // The certificate's notAfter, for the expiry alert.
  auto metrics = replicas_[follower]->Metrics();
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const std::string sample = absl::StrCat("mast_tls_certificate_expiry_timestamp_seconds{file=\"",
                                          Path("replica.pem"), "\",use=\"server\"}");
  ASSERT_TRUE(metrics->count(sample)) << sample;
  EXPECT_EQ(metrics->at(sample), absl::ToUnixSeconds(replica_not_after_));
}

TEST_F(ApiTlsTest, MastdRefusesPlaintextWithoutTheFlagAndAKeyThatIsNotTheCertificates) {
  struct Case {
    std::vector<std::string> flags;
    const char* message;
  };
  for (const Case& c : {
           Case{{}, "--tls_cert: not given, so the API would be served in plaintext"},
           Case{{"--tls_cert=" + Path("replica.pem"), "--tls_key=" + Path("alice.key")},
                "is not the key of certificate"},
           Case{{"--tls_cert=" + Path("replica.pem"), "--tls_key=" + Path("replica.key"),
                 "--tls_client_ca=" + Path("ca.pem")},
                "--tls_client_ca: needs --auth_policy_file"},
           Case{{"--tls_cert=" + Path("replica.pem"), "--tls_key=" + Path("replica.key"),
                 "--tls_peer_ca=" + Path("missing.pem")},
                "--tls_peer_ca: CA bundle"},
       }) {
    std::vector<std::string> argv = {testing::MastdBinary(),       "--zk=" + zk_->hosts(),
                                     "--zk_allow_open_acl",        "--mesos=none",
                                     "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0"};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    auto mastd = Subprocess::Spawn(argv, absl::StrCat(set_.log_dir(), "/refused-", ++ctl_runs_));
    ASSERT_TRUE(mastd.ok());
    auto exited = mastd->Wait(absl::Seconds(20));
    ASSERT_TRUE(exited.has_value()) << c.message;
    EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 2) << c.message;
    EXPECT_THAT(mastd->ReadLog(), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace mast

namespace mast {
namespace {

namespace health = ::grpc::health::v1;

// Kubernetes' gRPC probes speak no TLS: --health_address serves the health
// statuses alone in plaintext, and nothing else.
TEST_F(ApiTlsTest, HealthAddressServesOnlyHealthInPlaintext) {
  ASSERT_GE(set_.WaitForAgreedLeader(), 0);
  const int probe_port = testing::PickFreePort();
  std::vector<std::string> flags = ReplicaFlags();
  flags.push_back(absl::StrCat("--health_address=127.0.0.1:", probe_port));
  set_.Start(zk_->hosts(), "r3", absl::Seconds(2), flags);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", probe_port),
                                     grpc::InsecureChannelCredentials());
  auto check = [&](const std::string& service) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    health::HealthCheckRequest request;
    request.set_service(service);
    health::HealthCheckResponse response;
    grpc::Status status = health::Health::NewStub(channel)->Check(&context, request, &response);
    return status.ok() ? health::HealthCheckResponse::ServingStatus_Name(response.status())
                       : absl::StrCat("error ", status.error_code());
  };
  EXPECT_EQ(check(""), "SERVING");
  EXPECT_EQ(check("mast.v1.Leader"), "NOT_SERVING") << "r3 joined as a follower";
  // The API itself is not there.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::GetLeaderResponse leader;
  EXPECT_EQ(
      v1::Mast::NewStub(channel)->GetLeader(&context, v1::GetLeaderRequest(), &leader).error_code(),
      grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace mast
