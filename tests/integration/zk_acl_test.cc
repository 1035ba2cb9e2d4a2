// mastd and ZooKeeper ACLs: without digest auth mastd starts only when told
// to accept open state; with it, every znode it creates is the digest user's,
// and a state tree holding open znodes is refused unless accepted.

#include <sys/wait.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/subprocess.h"
#include "tests/processes/wait.h"
#include "tests/processes/zk_server.h"
#include "tests/support/zk_test_util.h"
#include "zk/zk_session.h"

namespace mast {
namespace {

using ::mast::testing::CallOnLoop;
using ::mast::testing::MastdProcess;
using ::mast::testing::Subprocess;
using ::mast::testing::ZkServer;
using ::testing::HasSubstr;

class ZkAclTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto zk = ZkServer::Launch();
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    dir_ = testing::MakeTempDir("mast-zk-acl");
    auth_file_ = dir_ + "/zk-auth";
    std::ofstream(auth_file_) << "mast:s3cret\n";
  }
  void TearDown() override {
    if (HasFailure()) {
      for (auto& r : replicas_)
        std::fprintf(stderr, "---- %s\n%s\n", r->replica_id().c_str(), r->Log().c_str());
    }
    replicas_.clear();
    testing::RemoveTree(dir_);
  }

  absl::StatusOr<MastdProcess*> Start(const std::string& id, std::vector<std::string> flags) {
    MastdProcess::Options options;
    options.zk_hosts = zk_->hosts();
    options.replica_id = id;
    options.log_dir = dir_;
    options.extra_flags = {"--mesos=none"};
    for (auto& f : flags) options.extra_flags.push_back(std::move(f));
    auto process = MastdProcess::Start(std::move(options));
    if (!process.ok()) return process.status();
    replicas_.push_back(std::move(*process));
    return replicas_.back().get();
  }

  // Runs mastd to its exit; its output.
  std::string RunToExit(std::vector<std::string> flags, int& code) {
    std::vector<std::string> argv = {
        testing::MastdBinary(),       absl::StrCat("--zk=", zk_->hosts()), "--mesos=none",
        "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",     "--allow_plaintext"};
    for (auto& f : flags) argv.push_back(std::move(f));
    std::string log = dir_ + "/exit.log";
    testing::RemoveTree(log);
    auto p = Subprocess::Spawn(argv, log);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return "";
    auto status = p->Wait(absl::Seconds(30));
    EXPECT_TRUE(status.has_value()) << "mastd did not exit";
    code = status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
    return p->ReadLog();
  }

  // The ACL of `path`, read by a session with `digest_auth` (ZooKeeper
  // shows an ACL only to who may read the znode).
  absl::StatusOr<std::vector<ZkAclEntry>> AclOf(const std::string& path,
                                                const std::string& digest_auth) {
    EventLoop loop(RealClock::Default(), "acl-reader");
    ZkSessionConfig config;
    config.hosts = zk_->hosts();
    config.digest_auth = digest_auth;
    auto session = ZkSession::Create(config, loop);
    if (!session.ok()) return session.status();
    auto acl = CallOnLoop<absl::StatusOr<std::vector<ZkAclEntry>>>(
        loop, [&](auto cb) { (*session)->GetAcl(path, std::move(cb)); });
    CallOnLoop<bool>(loop, [&](auto cb) {
      session->reset();
      cb(true);
    });
    return acl;
  }

  std::unique_ptr<ZkServer> zk_;
  std::string dir_;
  std::string auth_file_;
  std::vector<std::unique_ptr<MastdProcess>> replicas_;
};

TEST_F(ZkAclTest, WithoutAuthMastdStartsOnlyWhenOpenStateIsAccepted) {
  int code = 0;
  std::string out = RunToExit({}, code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("--zk_auth_file: not given"));
  EXPECT_THAT(out, HasSubstr("--zk_allow_open_acl"));
}

TEST_F(ZkAclTest, WithAuthEveryZnodeMastCreatesIsTheDigestUsers) {
  auto r0 = Start("r0", {absl::StrCat("--zk_auth_file=", auth_file_)});
  ASSERT_TRUE(r0.ok()) << r0.status();
  ASSERT_TRUE(testing::WaitFor([&] {
    auto leader = (*r0)->GetLeader();
    return leader.ok() && leader->is_leader();
  }));
  EXPECT_EQ((*r0)->Metric("mast_zk_open_acl_znodes"), 0.0);
  // A second replica with the same credentials checks the tree and starts.
  auto r1 = Start("r1", {absl::StrCat("--zk_auth_file=", auth_file_)});
  ASSERT_TRUE(r1.ok()) << r1.status();
  for (const std::string path : {"/mast", "/mast/election"}) {
    EXPECT_EQ(AclOf(path, "").status().code(), absl::StatusCode::kPermissionDenied) << path;
    EXPECT_EQ(AclOf(path, "mast:wrong").status().code(), absl::StatusCode::kPermissionDenied);
    auto acl = AclOf(path, "mast:s3cret");
    ASSERT_TRUE(acl.ok()) << path << ": " << acl.status();
    ASSERT_FALSE(acl->empty()) << path;
    for (const ZkAclEntry& entry : *acl) {
      EXPECT_EQ(entry.scheme, "digest") << path;
      EXPECT_THAT(entry.id, ::testing::StartsWith("mast:")) << path;
    }
  }
}

TEST_F(ZkAclTest, AnOpenStateTreeIsRefusedUnlessAccepted) {
  // A replica without auth makes the tree open.
  auto open = Start("open", {});
  ASSERT_TRUE(open.ok()) << open.status();
  ASSERT_TRUE(testing::WaitFor([&] {
    auto leader = (*open)->GetLeader();
    return leader.ok() && leader->is_leader();
  }));
  int code = 0;
  std::string out = RunToExit({absl::StrCat("--zk_auth_file=", auth_file_)}, code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("open to anyone (world:anyone), e.g. /mast"));
  EXPECT_THAT(out, HasSubstr("--zk_allow_open_acl"));
  // Accepted: it starts, warns, and counts what it found.
  auto accepted =
      Start("accepted", {absl::StrCat("--zk_auth_file=", auth_file_), "--zk_allow_open_acl"});
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_TRUE((*accepted)->LogContains("zk_open_acl_accepted"));
  EXPECT_GE((*accepted)->Metric("mast_zk_open_acl_znodes").value_or(0), 2.0);
}

TEST_F(ZkAclTest, AnotherUsersStateTreeIsRefused) {
  auto owner = Start("owner", {absl::StrCat("--zk_auth_file=", auth_file_)});
  ASSERT_TRUE(owner.ok()) << owner.status();
  std::string other = dir_ + "/other-auth";
  std::ofstream(other) << "intruder:pw\n";
  int code = 0;
  std::string out = RunToExit({absl::StrCat("--zk_auth_file=", other)}, code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("not authenticated"));
}

}  // namespace
}  // namespace mast
