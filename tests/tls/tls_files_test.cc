// tls/: the files checked at start with clear errors; a TLS server and
// channels over loopback: mutual TLS with the client's SAN as its identity,
// a missing, expired or foreign client certificate refused in the
// handshake, a client that does not trust the server refused, and a
// certificate replaced on disk picked up without a restart.

#include "tls/tls_files.h"

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/fakes/test_ca.h"
#include "tests/processes/wait.h"

namespace mast::tls {
namespace {

using ::mast::testing::PemPair;
using ::mast::testing::TestCa;
using ::mast::testing::WaitFor;
using ::mast::testing::WriteFileAtomically;
using ::testing::HasSubstr;

namespace health = ::grpc::health::v1;

// Answers Check and remembers the caller's verified identity.
class IdentityRecorder final : public health::Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext* context, const health::HealthCheckRequest*,
                     health::HealthCheckResponse* response) override {
    std::string identity;
    std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
    if (auth != nullptr && auth->IsPeerAuthenticated()) {
      std::vector<grpc::string_ref> names = auth->GetPeerIdentity();
      if (!names.empty()) identity.assign(names.front().data(), names.front().size());
    }
    absl::MutexLock lock(&mu_);
    last_identity_ = identity;
    response->set_status(health::HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }
  std::string last_identity() {
    absl::MutexLock lock(&mu_);
    return last_identity_;
  }

 private:
  absl::Mutex mu_;
  std::string last_identity_ ABSL_GUARDED_BY(mu_);
};

class TlsFilesTest : public ::testing::Test {
 protected:
  TlsFilesTest() {
    char pattern[] = "/tmp/mast-tls-XXXXXX";
    dir_ = mkdtemp(pattern);
    server_ = ca_.Issue(
        {.common_name = "mast-0", .subject_alt_names = {"DNS:localhost", "IP:127.0.0.1"}});
    Write("ca.pem", ca_.ca().cert);
    WritePair("server", server_);
  }
  ~TlsFilesTest() override {
    if (server_running_) grpc_server_->Shutdown();
    for (const std::string& f : files_) std::remove(f.c_str());
    rmdir(dir_.c_str());
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = Path(name);
    EXPECT_TRUE(WriteFileAtomically(path, text)) << path;
    files_.push_back(path);
    return path;
  }
  void WritePair(const std::string& name, const PemPair& pair) {
    Write(name + ".pem", pair.cert);
    Write(name + ".key", pair.key);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  ServerFiles Mutual(bool require) const {
    return ServerFiles{Path("server.pem"), Path("server.key"), Path("ca.pem"), require,
                       absl::Seconds(1)};
  }

  void StartServer(const ServerFiles& files) {
    ASSERT_TRUE(CheckServerFiles(files).ok()) << CheckServerFiles(files);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", MakeServerCredentials(files), &port_);
    builder.RegisterService(&recorder_);
    grpc_server_ = builder.BuildAndStart();
    ASSERT_NE(grpc_server_, nullptr);
    server_running_ = true;
  }

  // A Check through a new channel with `files`.
  grpc::Status Call(const ChannelFiles& files) {
    EXPECT_TRUE(CheckChannelFiles(files).ok()) << CheckChannelFiles(files);
    auto channel =
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_), MakeChannelCredentials(files),
                                  ChannelArgumentsFor(files));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    health::HealthCheckResponse response;
    return health::Health::NewStub(channel)->Check(&context, health::HealthCheckRequest(),
                                                   &response);
  }
  ChannelFiles AsClient(const std::string& name) const {
    return ChannelFiles{Path("ca.pem"), Path(name + ".pem"), Path(name + ".key"), "",
                        absl::Seconds(1)};
  }

  TestCa ca_{"mast test CA"};
  PemPair server_;
  std::string dir_;
  std::vector<std::string> files_;
  IdentityRecorder recorder_;
  std::unique_ptr<grpc::Server> grpc_server_;
  bool server_running_ = false;
  int port_ = 0;
};

TEST_F(TlsFilesTest, BadFilesAreClearErrorsAtStart) {
  TestCa other("other CA");
  WritePair("stranger", other.Issue({.common_name = "x"}));
  Write("garbage.pem", "not a certificate\n");
  struct Case {
    ServerFiles files;
    const char* message;
  };
  for (const Case& c : {
           Case{{"", "", "", false, absl::Seconds(1)}, "needs a certificate"},
           Case{{Path("missing.pem"), Path("server.key"), "", false, absl::Seconds(1)},
                "missing.pem: cannot read"},
           Case{{Path("garbage.pem"), Path("server.key"), "", false, absl::Seconds(1)},
                "garbage.pem: no PEM certificate"},
           Case{{Path("server.pem"), Path("garbage.pem"), "", false, absl::Seconds(1)},
                "garbage.pem: no unencrypted PEM private key"},
           Case{{Path("server.pem"), Path("stranger.key"), "", false, absl::Seconds(1)},
                "is not the key of certificate"},
           Case{{Path("server.pem"), "", "", false, absl::Seconds(1)}, "needs its key"},
           Case{{Path("server.pem"), Path("server.key"), "", true, absl::Seconds(1)},
                "needs the CA bundle"},
           Case{{Path("server.pem"), Path("server.key"), Path("garbage.pem"), true,
                 absl::Seconds(1)},
                "CA bundle"},
       }) {
    absl::Status status = CheckServerFiles(c.files);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(status.message(), HasSubstr(c.message));
  }
  EXPECT_TRUE(CheckServerFiles(Mutual(true)).ok());
  EXPECT_THAT(
      CheckChannelFiles({Path("ca.pem"), Path("server.pem"), "", "", absl::Seconds(1)}).message(),
      HasSubstr("needs its key"));
}

TEST_F(TlsFilesTest, CertificateNotAfterReadsTheLeaf) {
  const absl::Time start = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  WritePair("short",
            ca_.Issue({.common_name = "short", .not_before = start, .valid_for = absl::Hours(5)}));
  absl::StatusOr<absl::Time> not_after = CertificateNotAfter(Path("short.pem"));
  ASSERT_TRUE(not_after.ok()) << not_after.status();
  EXPECT_EQ(*not_after, start + absl::Hours(5));
  EXPECT_FALSE(CertificateNotAfter(Path("nothing.pem")).ok());
}

TEST_F(TlsFilesTest, MutualTlsNamesTheClientAndRefusesTheOthersInTheHandshake) {
  StartServer(Mutual(/*require=*/true));
  WritePair("alice", ca_.Issue({.common_name = "alice-cn",
                                .subject_alt_names = {"URI:spiffe://mast/alice"}}));
  WritePair("cn-only", ca_.Issue({.common_name = "bob"}));
  WritePair("expired", ca_.Issue({.common_name = "carol",
                                  .subject_alt_names = {"DNS:carol"},
                                  .not_before = absl::Now() - absl::Hours(48),
                                  .valid_for = absl::Hours(24)}));
  TestCa other("other CA");
  WritePair("foreign",
            other.Issue({.common_name = "mallory", .subject_alt_names = {"DNS:mallory"}}));

  grpc::Status status = Call(AsClient("alice"));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(recorder_.last_identity(), "spiffe://mast/alice");
  ASSERT_TRUE(Call(AsClient("cn-only")).ok());
  EXPECT_EQ(recorder_.last_identity(), "bob");

  for (const char* refused : {"expired", "foreign"}) {
    status = Call(AsClient(refused));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << refused << ": " << status.error_message();
  }
  status = Call(ChannelFiles{Path("ca.pem"), "", "", "", absl::Seconds(1)});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << "no client certificate";

  // A client that does not trust the server's CA gives up too.
  Write("other-ca.pem", other.ca().cert);
  status = Call(ChannelFiles{Path("other-ca.pem"), Path("alice.pem"), Path("alice.key"), "",
                             absl::Seconds(1)});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << "untrusted server";
}

TEST_F(TlsFilesTest, OptionalClientCertificatesAndAServerNameOverride) {
  StartServer(Mutual(/*require=*/false));
  grpc::Status status = Call(ChannelFiles{Path("ca.pem"), "", "", "", absl::Seconds(1)});
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(recorder_.last_identity(), "");  // no certificate: a token must say who
  // The server's certificate names localhost: dialled by address with
  // that name given, it verifies; with a name it lacks, it does not.
  ChannelFiles named{Path("ca.pem"), "", "", "localhost", absl::Seconds(1)};
  EXPECT_TRUE(Call(named).ok());
  named.server_name = "mast.example.com";
  EXPECT_EQ(Call(named).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsFilesTest, ACertificateReplacedOnDiskIsServedWithoutARestart) {
  StartServer(Mutual(/*require=*/false));
  ChannelFiles client{Path("ca.pem"), "", "", "", absl::Seconds(1)};
  ASSERT_TRUE(Call(client).ok());
  // A new CA: the server's new certificate, and a client trusting only it.
  TestCa next("next CA");
  Write("next-ca.pem", next.ca().cert);
  ChannelFiles next_client{Path("next-ca.pem"), "", "", "", absl::Seconds(1)};
  EXPECT_EQ(Call(next_client).error_code(), grpc::StatusCode::UNAVAILABLE);
  WritePair("server", next.Issue({.common_name = "mast-0",
                                  .subject_alt_names = {"DNS:localhost", "IP:127.0.0.1"}}));
  // The file watcher looks every second.
  EXPECT_TRUE(WaitFor([&] { return Call(next_client).ok(); }, absl::Seconds(20)));
  EXPECT_EQ(Call(client).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace mast::tls
