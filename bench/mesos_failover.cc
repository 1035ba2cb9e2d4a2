// bench/mesos_failover: how fast a new leader is back on Mesos.
//
// Three mastd replicas, a Mesos master, 20 leader kills alternately by
// SIGTERM and SIGKILL; each measured from the signal to the new leader's
// SUBSCRIBED with the same FrameworkID (its
// mast_mesos_subscribed_timestamp_seconds). ZooKeeper session timeout 2 s.
// First against the project's local master, then, where present
// (MAST_REAL_MESOS, as set up by the build), the real Mesos 1.11 master.
// Prints median and max per kind; asserts nothing.

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/failover_rounds.h"
#include "google/protobuf/util/json_util.h"
#include "local_mesos/local_master.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/mesos_cluster.h"
#include "tests/processes/process_init.h"
#include "tests/processes/wait.h"
#include "tests/processes/zk_server.h"

namespace mast {
namespace {

using testing::MastdProcess;
using testing::WaitFor;

constexpr int kRounds = 20;
constexpr absl::Duration kSessionTimeout = absl::Seconds(2);

int Fail(const std::string& what) {
  std::fprintf(stderr, "mesos_failover: %s\n", what.c_str());
  return 1;
}

// One run of the rounds against the master at `master_url` (described by
// `master_name`); `frameworks_at_master` counts the registered frameworks.
int RunAgainst(const std::string& master_name, const std::string& master_url,
               const std::function<size_t()>& frameworks_at_master) {
  auto zk = testing::ZkServer::Launch();
  if (!zk.ok()) return Fail(zk.status().ToString());
  std::string log_dir = testing::MakeTempDir("mast-bench");
  int next_id = 0;
  auto start_replica = [&]() -> std::unique_ptr<MastdProcess> {
    MastdProcess::Options options;
    options.zk_hosts = (*zk)->hosts();
    options.replica_id = absl::StrCat("r", next_id++);
    options.session_timeout = kSessionTimeout;
    options.log_dir = log_dir;
    options.extra_flags = {"--mesos=" + master_url, "--failover_timeout=1h"};
    auto replica = MastdProcess::Start(options);
    if (!replica.ok()) std::exit(Fail(replica.status().ToString()));
    return std::move(*replica);
  };
  std::vector<std::unique_ptr<MastdProcess>> replicas;
  for (int i = 0; i < 3; ++i) replicas.push_back(start_replica());

  std::string framework_id;
  bench::FailoverHooks hooks;
  // Settled: one replica subscribed (with the stored ID after the first
  // round), all three in the election.
  hooks.settled_leader = [&]() -> int {
    int leader = -1;
    int known = 0;
    for (size_t i = 0; i < replicas.size(); ++i) {
      auto answer = replicas[i]->GetLeader();
      if (answer.ok() && answer->leader_known()) ++known;
      if (replicas[i]->Metric("mast_mesos_subscribed") == 1.0) leader = static_cast<int>(i);
    }
    if (leader < 0 || known != 3 || !replicas[leader]->LogContains("framework_id")) return -1;
    auto metrics = replicas[leader]->Metrics();
    if (!metrics.ok()) return -1;
    std::string id = testing::FrameworkIdFromMetrics(*metrics);
    if (framework_id.empty() && replicas[leader]->LogContains("event=framework_id_stored")) {
      framework_id = id;
    }
    return !framework_id.empty() && id == framework_id ? leader : -1;
  };
  hooks.taken_over = [&](MastdProcess& replica, double since) -> std::optional<double> {
    auto metrics = replica.Metrics();
    if (!metrics.ok()) return std::nullopt;
    double t = (*metrics)["mast_mesos_subscribed_timestamp_seconds"];
    if (t <= since || testing::FrameworkIdFromMetrics(*metrics) != framework_id)
      return std::nullopt;
    return t;
  };
  hooks.restart = start_replica;
  auto times = bench::RunFailoverRounds(kRounds, replicas, hooks);
  if (!times.ok()) return Fail(times.status().ToString());
  std::printf(
      "\nmesos_failover: 3 mastd, %s, ZooKeeper session timeout %s, %d rounds, "
      "frameworks at the master afterwards: %zu\n",
      master_name.c_str(), absl::FormatDuration(kSessionTimeout).c_str(), kRounds,
      frameworks_at_master());
  bench::PrintSummary(*times, 10, absl::ToDoubleMilliseconds(kSessionTimeout) + 150);
  replicas.clear();
  testing::RemoveTree(log_dir);
  return 0;
}

size_t CountFrameworks(const absl::StatusOr<google::protobuf::Struct>& json) {
  if (!json.ok()) return 0;
  const auto* list = testing::JsonField(*json, "frameworks");
  return list == nullptr ? 0 : static_cast<size_t>(list->list_value().values_size());
}

// The local master always; the real Mesos 1.11 master too where present.
int Run() {
  auto local = local::LocalMaster::Start({}, RealClock::Default());
  if (!local.ok()) return Fail(local.status().ToString());
  int rc = RunAgainst("the local Mesos master", (*local)->url(), [&] {
    auto body = testing::HttpGet((*local)->port(), "/master/frameworks");
    if (!body.ok()) return size_t{0};
    google::protobuf::Struct json;
    if (!google::protobuf::util::JsonStringToMessage(*body, &json).ok()) return size_t{0};
    return CountFrameworks(json);
  });
  local->reset();
  if (rc != 0) return rc;
  if (!testing::RealMesosDir()) {
    std::printf(
        "\n(real Mesos not present: set MAST_REAL_MESOS=build/real-mesos/mesos-1.11.0 "
        "to run against it too)\n");
    return 0;
  }
  auto cluster = testing::RealMesosCluster::Start({});
  if (!cluster.ok()) return Fail(cluster.status().ToString());
  return RunAgainst("the real Mesos 1.11 master", (*cluster)->master_url(),
                    [&] { return CountFrameworks((*cluster)->GetJson("/master/frameworks")); });
}

}  // namespace
}  // namespace mast

int main() {
  mast::testing::InitProcessLibraries();
  return mast::Run();
}
