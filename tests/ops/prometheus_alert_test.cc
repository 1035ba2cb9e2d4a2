// A real Prometheus (Debian's) scrapes three mastd replicas with the rules of
// ops/prometheus/alerts.yaml, unchanged: no alert while a replica leads, and
// MastNoLeader fires once ZooKeeper is gone from every replica (its 30 s
// `for` included).

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/subprocess.h"
#include "tests/processes/wait.h"
#include "tests/processes/zk_server.h"

namespace mast {
namespace {

using ::mast::testing::HttpGet;
using ::mast::testing::Subprocess;
using ::mast::testing::WaitFor;
using ::mast::testing::ZkServer;

constexpr const char* kPrometheus = "/usr/bin/prometheus";

// The state of `alertname` in Prometheus' /api/v1/alerts answer: "firing",
// "pending", or "" when it is not active.
std::string AlertState(const std::string& alerts_json, const std::string& alertname) {
  const std::string key = absl::StrCat("\"alertname\":\"", alertname, "\"");
  size_t at = alerts_json.find(key);
  if (at == std::string::npos) return "";
  // Each alert is {"labels":{...},"annotations":{...},"state":"...",...}.
  size_t state = alerts_json.find("\"state\":\"", at);
  if (state == std::string::npos) return "";
  state += 9;
  return alerts_json.substr(state, alerts_json.find('"', state) - state);
}

class PrometheusAlertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kPrometheus, X_OK) != 0) {
      GTEST_SKIP() << kPrometheus << " missing: scripts/setup installs Debian's prometheus";
    }
    auto zk = ZkServer::Launch();
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    std::vector<std::string> targets;
    for (int i = 0; i < 3; ++i) {
      auto& replica =
          set_.Start(zk_->hosts(), absl::StrCat("r", i), absl::Seconds(2), {"--mesos=none"});
      targets.push_back(absl::StrCat("'127.0.0.1:", replica.metrics_port(), "'"));
    }
    const std::string dir = set_.log_dir();
    std::ofstream(dir + "/prometheus.yml") << absl::StrCat(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: ['",
        MAST_SOURCE_DIR, "/ops/prometheus/alerts.yaml']\n",
        "scrape_configs:\n"
        "  - job_name: mast\n"
        "    static_configs: [{targets: [",
        absl::StrJoin(targets, ", "), "]}]\n");
    port_ = testing::PickFreePort();
    auto prometheus = Subprocess::Spawn({kPrometheus, "--config.file=" + dir + "/prometheus.yml",
                                         "--storage.tsdb.path=" + dir + "/tsdb",
                                         absl::StrCat("--web.listen-address=127.0.0.1:", port_)},
                                        dir + "/prometheus.log");
    ASSERT_TRUE(prometheus.ok()) << prometheus.status();
    prometheus_.emplace(std::move(*prometheus));
  }
  void TearDown() override {
    if (HasFailure()) {
      set_.DumpLogs();
      if (prometheus_) std::cerr << "prometheus:\n" << prometheus_->ReadLog();
    }
  }

  std::string Get(const std::string& path) {
    auto body = HttpGet(port_, path);
    return body.ok() ? *body : "";
  }

  std::unique_ptr<ZkServer> zk_;
  testing::ReplicaSet set_;
  std::optional<Subprocess> prometheus_;
  int port_ = 0;
};

TEST_F(PrometheusAlertTest, NoLeaderFiresWhenZooKeeperIsGoneFromEveryReplica) {
  ASSERT_GE(set_.WaitForAgreedLeader(), 0);
  // All three scraped: the rules evaluate real series.
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string answer = Get("/api/v1/query?query=count(mast_is_leader)");
        return absl::StrContains(answer, "\"3\"]");
      },
      absl::Seconds(60)))
      << Get("/api/v1/targets");
  // Before the first scrape the rule sees no series (absent: pending); once
  // it evaluates the replicas' series, a leader is among them: no alert.
  std::string before;
  EXPECT_TRUE(WaitFor(
      [&] {
        before = Get("/api/v1/alerts");
        return absl::StrContains(before, "\"success\"") &&
               AlertState(before, "MastNoLeader").empty();
      },
      absl::Seconds(30)))
      << before;

  zk_->Stop();
  // The leader's lease runs out within its session timeout (2 s), then the
  // alert is pending for 30 s and fires.
  std::string alerts;
  EXPECT_TRUE(WaitFor(
      [&] {
        alerts = Get("/api/v1/alerts");
        return AlertState(alerts, "MastNoLeader") == "firing";
      },
      absl::Seconds(90)))
      << alerts;
  EXPECT_NE(AlertState(alerts, "MastZooKeeperDisconnected"), "")
      << "mast_zk_connected went to 0 too: " << alerts;
}

}  // namespace
}  // namespace mast
