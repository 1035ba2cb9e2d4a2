// bench/memory: the leader's memory with many services and tasks.
//
// The local master with --agents agents, three mastd replicas; --services
// services of --instances tasks each are created and launched. Once every
// task runs (as Mast sees it), prints each replica's RSS (VmRSS of
// /proc/<pid>/status), the leader's RSS per 10,000 tasks, and the growth
// over the RSS the replicas had with no services. Target: the leader
// <= 1 GiB with 10,000 services and 100,000 tasks.

#include <cstdio>
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
ABSL_FLAG(int, services, 10000, "Services");
ABSL_FLAG(int, instances, 10, "Tasks per service");
ABSL_FLAG(int, parallel, 32, "CreateService calls in flight");
ABSL_FLAG(absl::Duration, session_timeout, absl::Seconds(10),
          "ZooKeeper session timeout of the replicas (mastd's default)");
ABSL_FLAG(std::string, perf_out, "",
          "If set: perf record (call graphs) of the leader while services are created, into "
          "this file");
ABSL_FLAG(absl::Duration, timeout, absl::Minutes(10), "Give up waiting for the tasks after this");

namespace mast::bench {
namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "memory: %s\n", what.c_str());
  return 1;
}

double MiB(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

int Run() {
  const int services = absl::GetFlag(FLAGS_services);
  const int instances = absl::GetFlag(FLAGS_instances);
  const int64_t tasks = static_cast<int64_t>(services) * instances;
  ClusterOptions options;
  options.master.agents = absl::GetFlag(FLAGS_agents);
  options.master.agent_resources = absl::GetFlag(FLAGS_agent_resources);
  options.session_timeout = absl::GetFlag(FLAGS_session_timeout);
  std::printf("memory: %d services x %d tasks = %lld tasks, %d agents, 3 mastd; load %s\n",
              services, instances, static_cast<long long>(tasks), options.master.agents,
              LoadAverage().c_str());
  auto cluster = Cluster::Start(options);
  if (!cluster.ok()) return Fail(cluster.status().ToString());
  Cluster& c = **cluster;
  auto leader = c.WaitForSettledLeader(absl::Seconds(60));
  if (!leader.ok()) return Fail(leader.status().ToString());
  std::vector<int64_t> empty_rss;
  for (auto& replica : c.replicas()) {
    empty_rss.push_back(RssBytes(replica->process().pid()).value_or(0));
  }

  std::vector<v1::ServiceSpec> specs;
  for (int s = 0; s < services; ++s) {
    specs.push_back(TinyService(absl::StrCat("bench/mem-", s), static_cast<uint32_t>(instances)));
  }
  auto perf = std::make_unique<PerfRecorder>(absl::GetFlag(FLAGS_perf_out),
                                             c.replica(*leader).process().pid());
  const absl::Time start = absl::Now();
  if (absl::Status s = c.CreateServices(*leader, specs, absl::GetFlag(FLAGS_parallel)); !s.ok()) {
    return Fail(s.ToString());
  }
  const absl::Time created = absl::Now();
  perf.reset();
  std::printf("%d services created in %.1f s (%.0f/s)\n", services,
              absl::ToDoubleSeconds(created - start),
              services / absl::ToDoubleSeconds(created - start));
  std::fflush(stdout);
  std::unique_ptr<v1::Mast::Stub> stub = c.Stub(*leader);
  absl::Status running =
      WaitAllRunning(*stub, tasks, absl::GetFlag(FLAGS_timeout), absl::Milliseconds(500));
  if (!running.ok()) {
    std::printf("%s (RSS measured anyway)\n", running.ToString().c_str());
  } else {
    std::printf("%lld tasks RUNNING after %.1f s\n", static_cast<long long>(tasks),
                absl::ToDoubleSeconds(absl::Now() - start));
  }
  absl::SleepFor(absl::Seconds(2));  // settled: acknowledgements and writes done

  std::printf("\n");
  for (size_t i = 0; i < c.replicas().size(); ++i) {
    testing::MastdProcess& replica = c.replica(static_cast<int>(i));
    const int64_t rss = RssBytes(replica.process().pid()).value_or(0);
    const bool is_leader = static_cast<int>(i) == *leader;
    std::printf("%s%-9s RSS %8.1f MiB (%8.1f MiB with no services; +%.1f MiB)%s\n",
                replica.replica_id().c_str(), is_leader ? " (leader)" : "", MiB(rss),
                MiB(empty_rss[i]), MiB(rss - empty_rss[i]),
                is_leader ? (rss <= (int64_t{1} << 30) ? "  target <= 1024 MiB: met"
                                                       : "  target <= 1024 MiB: MISSED")
                          : "");
    if (is_leader && tasks > 0) {
      std::printf("leader: %.1f MiB per 10,000 tasks (%.1f MiB growth per 10,000 tasks)\n",
                  MiB(rss) * 10000.0 / static_cast<double>(tasks),
                  MiB(rss - empty_rss[i]) * 10000.0 / static_cast<double>(tasks));
    }
  }
  std::printf("load %s\n", LoadAverage().c_str());
  PrintLeaderMetrics(c.replica(*leader));
  return running.ok() ? 0 : 2;
}

}  // namespace
}  // namespace mast::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  mast::testing::InitProcessLibraries();
  return mast::bench::Run();
}
