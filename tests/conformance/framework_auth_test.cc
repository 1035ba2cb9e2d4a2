// Framework authentication against the real Mesos 1.11 master, end to end:
// the master authenticates HTTP frameworks (basic, a credentials file) and
// mastd subscribes with --framework_principal and --framework_secret_file.
// A wrong or missing secret is refused with 401, counted, and survived:
// mastd keeps trying and never subscribes.

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/mesos_cluster.h"
#include "tests/processes/wait.h"
#include "tests/processes/zk_server.h"

namespace mast {
namespace {

using ::mast::testing::JsonField;
using ::mast::testing::MastdProcess;
using ::mast::testing::WaitFor;

class FrameworkAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::RealMesosDir()) {
      GTEST_SKIP() << "SKIPPED: the real Mesos 1.11 build (../shared/mesos) is not present";
    }
    testing::RealMesosCluster::Options options;
    options.framework_credentials = {{"mast-fw", "s3cret"}};
    auto cluster = testing::RealMesosCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    mesos_ = std::move(*cluster);
    auto zk = testing::ZkServer::Launch();
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    dir_ = testing::MakeTempDir("mast-fw-auth");
  }
  void TearDown() override {
    if (HasFailure()) {
      set_.DumpLogs();
      if (mesos_) std::fprintf(stderr, "---- master\n%s\n", mesos_->MasterLog().c_str());
    }
    if (!dir_.empty()) testing::RemoveTree(dir_);
  }

  MastdProcess& StartReplica(const std::string& id, const std::string& principal,
                             const std::string& secret) {
    std::vector<std::string> flags = {"--mesos=" + mesos_->master_url(), "--failover_timeout=1h"};
    if (!principal.empty()) {
      std::string file = absl::StrCat(dir_, "/", id, ".secret");
      std::ofstream(file) << secret << "\n";
      flags.push_back("--framework_principal=" + principal);
      flags.push_back("--framework_secret_file=" + file);
    }
    return set_.Start(zk_->hosts(), id, absl::Seconds(2), flags);
  }

  // Subscriptions the master refused for the credentials.
  static double Refusals(MastdProcess& r) {
    return r.Metric("mast_mesos_reconnects_total{reason=\"unauthenticated\"}").value_or(0);
  }

  // The principal of the master's only registered framework, "" if none.
  std::string RegisteredPrincipal() {
    auto json = mesos_->GetJson("/master/frameworks");
    if (!json.ok()) return "";
    const auto* list = JsonField(*json, "frameworks");
    if (list == nullptr || list->list_value().values_size() != 1) return "";
    const auto* principal = JsonField(list->list_value().values(0), "principal");
    return principal == nullptr ? "" : principal->string_value();
  }

  std::unique_ptr<testing::RealMesosCluster> mesos_;
  std::unique_ptr<testing::ZkServer> zk_;
  std::string dir_;
  testing::ReplicaSet set_;
};

TEST_F(FrameworkAuthTest, WrongOrMissingSecretIsRefusedAndSurvivedTheRightOneSubscribes) {
  // A wrong secret: 401 on every SUBSCRIBE, never subscribed, still alive.
  MastdProcess& wrong = StartReplica("wrong", "mast-fw", "not-the-secret");
  ASSERT_TRUE(WaitFor([&] { return Refusals(wrong) >= 2; }, absl::Seconds(30)));
  EXPECT_EQ(wrong.Metric("mast_mesos_subscribed"), 0.0);
  EXPECT_TRUE(wrong.process().Running());
  EXPECT_TRUE(wrong.LogContains("check --framework_principal and --framework_secret_file"));
  EXPECT_EQ(RegisteredPrincipal(), "");
  wrong.process().Stop();

  // No credentials at all: refused the same way.
  MastdProcess& anonymous = StartReplica("anonymous", "", "");
  ASSERT_TRUE(WaitFor([&] { return Refusals(anonymous) >= 1; }, absl::Seconds(30)));
  EXPECT_EQ(anonymous.Metric("mast_mesos_subscribed"), 0.0);
  anonymous.process().Stop();

  // The right secret: subscribed, registered under the principal.
  MastdProcess& right = StartReplica("right", "mast-fw", "s3cret");
  ASSERT_TRUE(
      WaitFor([&] { return right.Metric("mast_mesos_subscribed") == 1.0; }, absl::Seconds(30)));
  EXPECT_EQ(Refusals(right), 0.0);
  ASSERT_TRUE(WaitFor([&] { return RegisteredPrincipal() == "mast-fw"; }));
  // The secret never reaches the log.
  EXPECT_FALSE(right.LogContains("s3cret"));
  EXPECT_FALSE(wrong.LogContains("not-the-secret"));
}

}  // namespace
}  // namespace mast
