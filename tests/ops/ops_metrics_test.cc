// ops/grafana/mast.json and ops/prometheus/alerts.yaml name only metrics a
// real mastd exports: one replica (TLS, tokens, policy) is started, called
// (a write, a refused call), and its /metrics compared with every `mast_*`
// name in the two files.

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "auth/tokens.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "tests/fakes/test_ca.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/zk_server.h"

namespace mast {
namespace {

using ::mast::testing::HttpGet;
using ::mast::testing::TestCa;
using ::mast::testing::WriteFileAtomically;
using ::mast::testing::ZkServer;

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(MAST_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every mast_* identifier in `text`.
std::set<std::string> MetricNames(const std::string& text) {
  std::set<std::string> names;
  re2::StringPiece input(text);
  std::string name;
  while (RE2::FindAndConsume(&input, R"(\b(mast_[a-z0-9_]*[a-z0-9]))", &name)) {
    names.insert(name);
  }
  return names;
}

// The families /metrics declares (`# TYPE name type`), with a histogram's
// series names beside its own.
std::set<std::string> Exported(const std::string& exposition) {
  std::set<std::string> names;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (!absl::ConsumePrefix(&line, "# TYPE ")) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() != 2) continue;
    names.insert(parts[0]);
    if (parts[1] == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(parts[0] + suffix);
    }
  }
  return names;
}

// Families whose label values are known only when counted (Mesos call
// types and codes, reconnect reasons): a replica without Mesos exports none
// of their series. Each must still be registered under that name, where
// named here.
const std::map<std::string, std::string> kLabelledOnFirstUse = {
    {"mast_mesos_calls_total", "scheduler/mesos/mesos_metrics.cc"},
    {"mast_mesos_reconnects_total", "scheduler/mesos/mesos_metrics.cc"},
};

TEST(OpsMetricsSourceTest, FamiliesLabelledOnFirstUseAreRegistered) {
  for (const auto& [name, source] : kLabelledOnFirstUse) {
    EXPECT_THAT(ReadSource(source), ::testing::HasSubstr(absl::StrCat(".Name(\"", name, "\")")))
        << name << " in " << source;
  }
}

class OpsMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto zk = ZkServer::Launch();
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    dir_ = set_.log_dir();
    const testing::PemPair server =
        ca_.Issue({.common_name = "mast", .subject_alt_names = {"DNS:localhost", "IP:127.0.0.1"}});
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/server.pem", server.cert));
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/server.key", server.key));
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/ca.pem", ca_.ca().cert));
    ASSERT_TRUE(WriteFileAtomically(
        dir_ + "/tokens", absl::StrCat("ops sha256:", auth::Sha256Hex("ops-secret"), "\n")));
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/policy", "grant ops admin *\n"));
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/ops.token", "ops-secret\n"));
    ASSERT_TRUE(WriteFileAtomically(dir_ + "/web.json",
                                    R"({"name": "team/web", "command": {"shell": "sleep 1"},
        "resources": {"cpus": 0.1, "memMib": 32}, "instances": 1})"));
    set_.UseToken("ops-secret");
    set_.UseClientTls({dir_ + "/ca.pem", "", "", ""});
    set_.Start(
        zk_->hosts(), "r0", absl::Seconds(2),
        {"--mesos=none", "--tls_cert=" + dir_ + "/server.pem", "--tls_key=" + dir_ + "/server.key",
         "--auth_tokens_file=" + dir_ + "/tokens", "--auth_policy_file=" + dir_ + "/policy"});
  }
  void TearDown() override {
    if (HasFailure()) set_.DumpLogs();
  }

  std::unique_ptr<ZkServer> zk_;
  testing::ReplicaSet set_;
  TestCa ca_{"mast ops test CA"};
  std::string dir_;
};

TEST_F(OpsMetricsTest, DashboardAndAlertsNameOnlyExportedMetrics) {
  ASSERT_GE(set_.WaitForAgreedLeader(), 0);
  std::string out;
  ASSERT_EQ(set_.RunMastctl(
                {"--endpoint=" + set_.replicas()[0]->grpc_address(), "--ca=" + dir_ + "/ca.pem",
                 "--token_file=" + dir_ + "/ops.token", "deploy", "-f", dir_ + "/web.json"},
                &out),
            0)
      << out;
  // Without a token: refused (counted in mast_auth_denials_total).
  EXPECT_EQ(set_.RunMastctl({"--endpoint=" + set_.replicas()[0]->grpc_address(),
                             "--ca=" + dir_ + "/ca.pem", "ls"},
                            &out),
            1)
      << out;

  absl::StatusOr<std::string> exposition = HttpGet(set_.replicas()[0]->metrics_port(), "/metrics");
  ASSERT_TRUE(exposition.ok()) << exposition.status();
  const std::set<std::string> exported = Exported(*exposition);
  ASSERT_GT(exported.size(), 40u) << *exposition;

  const std::string dashboard = ReadSource("ops/grafana/mast.json");
  const std::string alerts = ReadSource("ops/prometheus/alerts.yaml");
  ASSERT_FALSE(dashboard.empty());
  ASSERT_FALSE(alerts.empty());
  for (const auto& [file, text] : {std::pair{"ops/grafana/mast.json", dashboard},
                                   std::pair{"ops/prometheus/alerts.yaml", alerts}}) {
    const std::set<std::string> named = MetricNames(text);
    EXPECT_GT(named.size(), 10u) << file;
    std::vector<std::string> unknown;
    for (const std::string& name : named) {
      if (!exported.contains(name) && !kLabelledOnFirstUse.contains(name)) unknown.push_back(name);
    }
    EXPECT_THAT(unknown, ::testing::IsEmpty())
        << file << " names metrics mastd does not export: " << absl::StrJoin(unknown, ", ");
  }
  // The dashboard covers what the issue asks for.
  for (const char* metric :
       {"mast_is_leader", "mast_leader_elections_total", "mast_offers_received_total",
        "mast_tasks_launched_total", "mast_tasks", "mast_deployments_active",
        "mast_zk_request_seconds_bucket", "mast_grpc_server_handled_total",
        "mast_grpc_server_handling_seconds_bucket"}) {
    EXPECT_TRUE(MetricNames(dashboard).contains(metric)) << metric;
  }
}

}  // namespace
}  // namespace mast
