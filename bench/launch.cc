// bench/launch: how fast Mast launches a large service.
//
// The local Mesos master (in this process, tasks not executed: they go
// RUNNING and run until killed) with --agents simulated agents, three mastd
// replicas; one CreateService of --instances tiny tasks (split over
// --services services) on the leader. Measured from the CreateService call
// to every task RUNNING, as the master sees it (its task table) and as Mast
// sees it (status.running, as GetService and ListServices compute it from
// the stored task records, on the leader). Prints tasks/s; the target is >= 2,000 tasks/s.

#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/bench_cluster.h"
#include "tests/processes/process_init.h"

ABSL_FLAG(int, agents, 1000, "Simulated agents");
ABSL_FLAG(std::string, agent_resources, "cpus:4;mem:8192;disk:10000;ports:[31000-32000]",
          "Resources of each agent");
ABSL_FLAG(int, instances, 10000, "Tasks in all");
ABSL_FLAG(int, services, 1, "Services the tasks are split over (instances / services each)");
ABSL_FLAG(int, ports, 0, "Ports per task (number 0: any)");
ABSL_FLAG(int, replicas, 3, "mastd replicas");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(180), "Give up after this long");
ABSL_FLAG(absl::Duration, poll, absl::Milliseconds(20), "How often the counts are read");
ABSL_FLAG(std::string, perf_out, "",
          "If set: perf record (call graphs) of the leader into this file");
ABSL_FLAG(std::string, perf_master_out, "",
          "If set: perf record (call graphs) of this process (the local master) into this file");
ABSL_FLAG(bool, dump_leader_log, false, "Print the leader's log at the end");

namespace mast::bench {
namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "launch: %s\n", what.c_str());
  return 1;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// When the tasks were seen RUNNING (each unset if not within --timeout),
// and the last counts seen.
struct Progress {
  std::optional<absl::Time> master_launched;  // an update for every task sent
  std::optional<absl::Time> master_all;       // all RUNNING in the master's task table
  std::optional<absl::Time> mast_all;         // all RUNNING as Mast reports them
  size_t last_running = 0;                    // in the master's table
  int64_t last_mast = 0;
};

// Polls the master and Mast (through `stub`) every --poll until both see
// every task RUNNING, or --timeout after `start`.
Progress WaitUntilAllRunning(Cluster& c, v1::Mast::Stub& stub, int instances, absl::Time start) {
  // The master's task table costs its loop a few ms to copy: it is read only
  // once the master has sent an update for every task's RUNNING (every
  // task's STARTING, then its RUNNING once the STARTING was acknowledged).
  Progress p;
  const absl::Time deadline = start + absl::GetFlag(FLAGS_timeout);
  while ((!p.master_all || !p.mast_all) && absl::Now() < deadline) {
    const local::LocalMaster::Stats stats = c.master().stats();
    if (!p.master_launched && stats.updates_sent >= instances) p.master_launched = absl::Now();
    if (!p.master_all && stats.updates_sent >= 2 * instances) {
      Cluster::MasterCounts counts = c.CountMasterTasks();
      p.last_running = counts.running;
      if (counts.running >= static_cast<size_t>(instances)) p.master_all = absl::Now();
    }
    if (!p.mast_all) {
      p.last_mast = RunningInAllServices(stub);
      if (p.last_mast >= instances) p.mast_all = absl::Now();
    }
    absl::SleepFor(absl::GetFlag(FLAGS_poll));
  }
  return p;
}

void PrintLaunchTimes(const Progress& p, int instances, absl::Time start, absl::Time created_at) {
  std::printf("\nCreateService answered after %.1f ms\n", Ms(created_at - start));
  if (p.master_launched) {
    std::printf("%d updates sent by the master (every task launched) after %.1f ms\n", instances,
                Ms(*p.master_launched - start));
  }
  auto report = [&](const char* who, const std::optional<absl::Time>& at, int64_t seen) {
    if (!at) {
      std::printf("%-28s NOT all RUNNING within %s (%lld seen)\n", who,
                  absl::FormatDuration(absl::GetFlag(FLAGS_timeout)).c_str(),
                  static_cast<long long>(seen));
      return;
    }
    const double seconds = absl::ToDoubleSeconds(*at - start);
    std::printf("%-28s all %d RUNNING after %8.1f ms: %8.0f tasks/s   (target >= 2000)\n", who,
                instances, seconds * 1000, instances / seconds);
  };
  report("as the master sees them:", p.master_all, static_cast<int64_t>(p.last_running));
  report("as Mast sees them:", p.mast_all, p.last_mast);
}

// Where the time went: the leader's calls and writes, the master's work.
void PrintWhereTheTimeWent(Cluster& c, int leader) {
  PrintLeaderMetrics(c.replica(leader));
  for (size_t i = 0; i < c.replicas().size(); ++i) {
    auto cpu = c.replica(static_cast<int>(i)).Metric("process_cpu_seconds_total");
    std::printf("replica %zu%s cpu %.2f s\n", i, static_cast<int>(i) == leader ? " (leader)" : "",
                cpu.value_or(-1));
  }
  local::LocalMaster::Stats stats = c.master().stats();
  std::printf("master: offers sent %d, updates sent %d, acknowledged %d, calls:", stats.offers_sent,
              stats.updates_sent, stats.acknowledged);
  for (const auto& [type, n] : stats.calls_by_type) std::printf(" %s=%d", type.c_str(), n);
  std::printf("\n");
}

int Run() {
  const int instances = absl::GetFlag(FLAGS_instances);
  const int services = std::max(1, absl::GetFlag(FLAGS_services));
  ClusterOptions options;
  options.replicas = absl::GetFlag(FLAGS_replicas);
  options.master.agents = absl::GetFlag(FLAGS_agents);
  options.master.agent_resources = absl::GetFlag(FLAGS_agent_resources);
  std::printf("launch: %d tasks (%d service(s)), %d agents (%s), %d mastd; load %s\n", instances,
              services, options.master.agents, options.master.agent_resources.c_str(),
              options.replicas, LoadAverage().c_str());
  auto cluster = Cluster::Start(options);
  if (!cluster.ok()) return Fail(cluster.status().ToString());
  Cluster& c = **cluster;
  auto leader = c.WaitForSettledLeader(absl::Seconds(60));
  if (!leader.ok()) return Fail(leader.status().ToString());
  std::unique_ptr<v1::Mast::Stub> stub = c.Stub(*leader);

  std::vector<v1::ServiceSpec> specs;
  for (int s = 0; s < services; ++s) {
    int n = instances / services + (s < instances % services ? 1 : 0);
    specs.push_back(TinyService(absl::StrCat("bench/launch-", s), static_cast<uint32_t>(n),
                                absl::GetFlag(FLAGS_ports)));
  }
  PerfRecorder perf(absl::GetFlag(FLAGS_perf_out), c.replica(*leader).process().pid());
  PerfRecorder perf_master(absl::GetFlag(FLAGS_perf_master_out), getpid());
  const std::string load_before = LoadAverage();
  const absl::Time start = absl::Now();
  absl::Status created = c.CreateServices(*leader, specs, std::min(services, 32));
  if (!created.ok()) return Fail(created.ToString());
  const absl::Time created_at = absl::Now();

  const Progress progress = WaitUntilAllRunning(c, *stub, instances, start);
  perf.Stop();
  perf_master.Stop();
  const std::string load_after = LoadAverage();

  PrintLaunchTimes(progress, instances, start, created_at);
  std::printf("load before %s, after %s\n", load_before.c_str(), load_after.c_str());
  PrintWhereTheTimeWent(c, *leader);
  if (absl::GetFlag(FLAGS_dump_leader_log)) std::printf("%s\n", c.replica(*leader).Log().c_str());
  return progress.master_all && progress.mast_all ? 0 : 2;
}

}  // namespace
}  // namespace mast::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  mast::testing::InitProcessLibraries();
  return mast::bench::Run();
}
