// bench/failover_state: how fast a new leader knows the state of many tasks.
//
// The local master with --agents agents, three mastd replicas, --tasks
// running tasks (one service by default; --services splits them). Then
// --rounds times: SIGKILL the leader; on the replica that takes over, time
// from its election (its event=leader_started log line) to the end of the
// explicit reconciliation of every stored task (event=reconciliation_complete),
// with the steps between (state loaded, SUBSCRIBED, reconciliation started)
// and mast_last_reconciliation_seconds (which starts at SUBSCRIBED). The
// ended replica is replaced by a fresh one. Target: <= 1 s.

#include <signal.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/bench_cluster.h"
#include "tests/processes/process_init.h"
#include "tests/processes/wait.h"

ABSL_FLAG(int, agents, 1000, "Simulated agents");
ABSL_FLAG(std::string, agent_resources, "cpus:4;mem:8192;disk:10000;ports:[31000-32000]",
          "Resources of each agent");
ABSL_FLAG(int, tasks, 10000, "Running tasks in all");
ABSL_FLAG(int, services, 1, "Services the tasks are split over");
ABSL_FLAG(int, rounds, 5, "Leader kills");
ABSL_FLAG(absl::Duration, session_timeout, absl::Seconds(2), "ZooKeeper session timeout");
ABSL_FLAG(
    std::string, perf_out, "",
    "If set: perf record (call graphs) of the replica that takes over in the first round, into "
    "this file");

namespace mast::bench {
namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "failover_state: %s\n", what.c_str());
  return 1;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

struct Round {
  double total_ms = 0;       // leader_started -> reconciliation_complete
  double loaded_ms = 0;      // leader_started -> scheduler_loaded
  double subscribed_ms = 0;  // leader_started -> mesos_subscribed
  double started_ms = 0;     // leader_started -> reconciliation_started
  double metric_ms = 0;      // mast_last_reconciliation_seconds
};

// Starts the cluster and launches the tasks; prints the setup and how long
// the launch took.
absl::StatusOr<std::unique_ptr<Cluster>> StartWithRunningTasks(int tasks, int services) {
  ClusterOptions options;
  options.master.agents = absl::GetFlag(FLAGS_agents);
  options.master.agent_resources = absl::GetFlag(FLAGS_agent_resources);
  options.session_timeout = absl::GetFlag(FLAGS_session_timeout);
  std::printf(
      "failover_state: %d running tasks in %d service(s) of %d, %d agents, 3 mastd, "
      "session timeout %s; load %s\n",
      tasks, services, tasks / services, options.master.agents,
      absl::FormatDuration(options.session_timeout).c_str(), LoadAverage().c_str());
  auto cluster = Cluster::Start(options);
  if (!cluster.ok()) return cluster.status();
  Cluster& c = **cluster;
  auto leader = c.WaitForSettledLeader(absl::Seconds(60));
  if (!leader.ok()) return leader.status();
  std::vector<v1::ServiceSpec> specs;
  for (int s = 0; s < services; ++s) {
    int n = tasks / services + (s < tasks % services ? 1 : 0);
    specs.push_back(TinyService(absl::StrCat("bench/state-", s), static_cast<uint32_t>(n)));
  }
  const absl::Time launch_start = absl::Now();
  if (absl::Status s = c.CreateServices(*leader, specs, std::min(services, 32)); !s.ok()) {
    return s;
  }
  {
    std::unique_ptr<v1::Mast::Stub> stub = c.Stub(*leader);
    if (absl::Status s = WaitAllRunning(*stub, tasks, absl::Minutes(5)); !s.ok()) return s;
  }
  std::printf("%d tasks RUNNING after %.1f s\n\n", tasks,
              absl::ToDoubleSeconds(absl::Now() - launch_start));
  return cluster;
}

// The survivor whose log shows the reconciliation after its election (past
// `offsets`, the log sizes at the kill): its index, log, and the two events.
struct Takeover {
  int replica = -1;
  std::string log;
  LogHit started;
  LogHit complete;
};

std::optional<Takeover> WaitForTakeover(Cluster& c, int old, const std::vector<size_t>& offsets) {
  Takeover takeover;
  std::optional<LogHit> started, complete;
  bool ok = testing::WaitFor(
      [&] {
        for (size_t i = 0; i < c.replicas().size(); ++i) {
          if (static_cast<int>(i) == old) continue;
          takeover.log = c.replica(static_cast<int>(i)).Log();
          started = FindLogEvent(takeover.log, "leader_started", offsets[i]);
          if (!started) continue;
          complete = FindLogEvent(takeover.log, "reconciliation_complete", started->end);
          if (!complete) return false;
          takeover.replica = static_cast<int>(i);
          return true;
        }
        return false;
      },
      absl::Seconds(120), absl::Milliseconds(10));
  if (!ok) return std::nullopt;
  takeover.started = *started;
  takeover.complete = *complete;
  return takeover;
}

// One round: kills the leader, times the replica that takes over, prints
// the round's line and restarts the killed replica. nullopt once it has
// printed why the round failed.
std::optional<Round> RunRound(Cluster& c, int round) {
  auto settled = c.WaitForSettledLeader(absl::Seconds(120));
  if (!settled.ok()) {
    Fail(settled.status().ToString());
    return std::nullopt;
  }
  const int old = *settled;
  // Quiet before the kill (the last round's implicit reconciliation done).
  absl::SleepFor(absl::Seconds(1));
  std::vector<size_t> offsets;
  for (auto& replica : c.replicas()) offsets.push_back(replica->Log().size());
  const std::string load = LoadAverage();
  c.replica(old).process().Signal(SIGKILL);
  c.replica(old).process().Wait(absl::Seconds(10));
  std::unique_ptr<PerfRecorder> perf;
  if (round == 0 && !absl::GetFlag(FLAGS_perf_out).empty()) {
    // Every survivor may take over: record the first one (a guess is
    // good enough for a profile; say which).
    int candidate = c.Follower(old);
    std::printf("(perf on %s)\n", c.replica(candidate).replica_id().c_str());
    perf = std::make_unique<PerfRecorder>(absl::GetFlag(FLAGS_perf_out),
                                          c.replica(candidate).process().pid());
  }
  std::optional<Takeover> takeover = WaitForTakeover(c, old, offsets);
  if (perf) perf->Stop();
  if (!takeover) {
    Fail(absl::StrCat("round ", round + 1, ": no reconciliation by a new leader"));
    return std::nullopt;
  }
  const int next = takeover->replica;
  const absl::Time started_at = takeover->started.at;
  Round r;
  r.total_ms = Ms(takeover->complete.at - started_at);
  auto step = [&](const char* event) {
    auto hit = FindLogEvent(takeover->log, event, takeover->started.end);
    return hit ? Ms(hit->at - started_at) : -1;
  };
  r.loaded_ms = step("scheduler_loaded");
  r.subscribed_ms = step("mesos_subscribed");
  r.started_ms = step("reconciliation_started");
  r.metric_ms = c.replica(next).Metric("mast_last_reconciliation_seconds").value_or(-1) * 1000;
  std::printf(
      "round %d  %s -> %s: leader_started -> reconciliation_complete %8.1f ms  "
      "(loaded +%.1f, subscribed +%.1f, reconciling +%.1f; metric %.1f ms)  load %s\n",
      round + 1, c.replica(old).replica_id().c_str(), c.replica(next).replica_id().c_str(),
      r.total_ms, r.loaded_ms, r.subscribed_ms, r.started_ms, r.metric_ms, load.c_str());
  std::fflush(stdout);
  if (absl::Status s = c.Restart(old); !s.ok()) {
    Fail(s.ToString());
    return std::nullopt;
  }
  return r;
}

void PrintSummary(int tasks, int services, const std::vector<Round>& rounds) {
  std::vector<double> totals, metrics;
  for (const Round& r : rounds) {
    totals.push_back(r.total_ms);
    metrics.push_back(r.metric_ms);
  }
  std::printf(
      "\nfailover_state: %d tasks (%d x %d), %zu rounds: leader_started -> "
      "reconciliation_complete median %.1f ms, max %.1f ms (target <= 1000 ms); "
      "mast_last_reconciliation_seconds median %.1f ms, max %.1f ms; load %s\n",
      tasks, services, tasks / services, rounds.size(), Percentile(totals, 50),
      Percentile(totals, 100), Percentile(metrics, 50), Percentile(metrics, 100),
      LoadAverage().c_str());
}

int Run() {
  const int tasks = absl::GetFlag(FLAGS_tasks);
  const int services = std::max(1, absl::GetFlag(FLAGS_services));
  auto cluster = StartWithRunningTasks(tasks, services);
  if (!cluster.ok()) return Fail(cluster.status().ToString());
  std::vector<Round> rounds;
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    std::optional<Round> r = RunRound(**cluster, round);
    if (!r) return 1;
    rounds.push_back(*r);
  }
  PrintSummary(tasks, services, rounds);
  return 0;
}

}  // namespace
}  // namespace mast::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  mast::testing::InitProcessLibraries();
  return mast::bench::Run();
}
