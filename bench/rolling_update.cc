// bench/rolling_update: how long a rolling update of a large service takes.
//
// The local Mesos master (in this process, tasks not executed; it runs
// their health checks, which pass) with --agents simulated agents, three
// mastd replicas. A service of --instances tiny tasks with a COMMAND health
// check whose first check comes --check_time after the task starts (so a
// task is healthy --check_time after RUNNING), is updated with
// maximum_over_capacity 0 and each --min_health. Measured from the
// UpdateService call until the deployment reads SUCCEEDED (with every task
// new, RUNNING and healthy). Tasks stop at once when killed (grace 0).
//
// With no room above N, each round may replace (1 - min_health) x N tasks
// and must wait for their checks, so the ideal is
// ceil(1 / (1 - min_health)) x check_time; printed beside the time as a
// ratio (target: within 1.5x). With --leader_kill, the same again with the
// leader SIGKILLed once half of the tasks are new and healthy: the extra
// time is printed beside the takeover time (kill to a new settled leader)
// plus one check interval (target: no more).

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/bench_cluster.h"
#include "common/proto_util.h"
#include "tests/processes/process_init.h"

ABSL_FLAG(int, agents, 1000, "Simulated agents");
ABSL_FLAG(int, instances, 1000, "Tasks of the service");
ABSL_FLAG(std::string, min_health, "0.9,0.5", "minimum_health_capacity values to run");
ABSL_FLAG(absl::Duration, check_time, absl::Seconds(1),
          "From a task's start to its first (passing) health check");
ABSL_FLAG(bool, leader_kill, true, "Also run each with the leader SIGKILLed halfway");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(300), "Give up on a rollout after this long");
ABSL_FLAG(absl::Duration, poll, absl::Milliseconds(20), "How often the state is read");

namespace mast::bench {
namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "rolling_update: %s\n", what.c_str());
  return 1;
}

google::protobuf::Duration ProtoDuration(absl::Duration d) { return ToProtoDuration(d); }

v1::ServiceSpec CheckedService(const std::string& name, int instances, double min_health) {
  v1::ServiceSpec spec = TinyService(name, static_cast<uint32_t>(instances));
  const absl::Duration check = absl::GetFlag(FLAGS_check_time);
  v1::HealthCheck* hc = spec.mutable_health_check();
  hc->set_protocol(v1::HealthCheck::COMMAND);
  hc->mutable_command()->set_shell("true");
  *hc->mutable_delay() = ProtoDuration(check);
  *hc->mutable_interval() = ProtoDuration(check);
  *hc->mutable_timeout() = ProtoDuration(check);
  *hc->mutable_grace_period() = ProtoDuration(absl::ZeroDuration());
  hc->set_consecutive_failures(3);
  // Tasks that stop at once: the ideal counts the checks only.
  *spec.mutable_kill_grace_period() = ProtoDuration(absl::ZeroDuration());
  v1::UpgradeStrategy* strategy = spec.mutable_upgrade_strategy();
  strategy->set_minimum_health_capacity(min_health);
  strategy->set_maximum_over_capacity(0);
  *strategy->mutable_progress_deadline() = ProtoDuration(absl::Minutes(30));
  (*spec.mutable_env())["VERSION"] = "1";
  return spec;
}

// The service as the first replica that answers reads it.
std::optional<v1::Service> Read(Cluster& c, const std::string& name) {
  for (size_t i = 0; i < c.replicas().size(); ++i) {
    if (!c.replica(static_cast<int>(i)).process().Running()) continue;
    std::unique_ptr<v1::Mast::Stub> stub = c.Stub(static_cast<int>(i));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    v1::GetServiceRequest request;
    request.set_name(name);
    v1::GetServiceResponse response;
    if (stub->GetService(&context, request, &response).ok()) return response.service();
  }
  return std::nullopt;
}

// Waits until `done(service)` or --timeout; the time it became true.
template <typename Done>
std::optional<absl::Time> WaitUntil(Cluster& c, const std::string& name, Done done) {
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_timeout);
  while (absl::Now() < deadline) {
    std::optional<v1::Service> service = Read(c, name);
    if (service.has_value() && done(*service)) return absl::Now();
    absl::SleepFor(absl::GetFlag(FLAGS_poll));
  }
  return std::nullopt;
}

bool AllHealthy(const v1::Service& s) {
  return s.status().healthy() == s.spec().instances() &&
         s.status().running() == s.spec().instances();
}

struct Rollout {
  absl::Duration took;
  std::optional<absl::Duration> takeover;  // with a leader kill
};

// Creates `name`, waits for it to be healthy, updates it and times the
// deployment; with `kill_leader`, SIGKILLs the leader halfway.
absl::StatusOr<Rollout> RunRollout(Cluster& c, const std::string& name, int instances,
                                   double min_health, bool kill_leader) {
  absl::StatusOr<int> leader = c.WaitForSettledLeader(absl::Seconds(60));
  if (!leader.ok()) return leader.status();
  v1::ServiceSpec spec = CheckedService(name, instances, min_health);
  if (absl::Status s = c.CreateServices(*leader, {spec}); !s.ok()) return s;
  if (!WaitUntil(c, name, AllHealthy)) return absl::DeadlineExceededError("not healthy at first");
  (*spec.mutable_env())["VERSION"] = "2";
  v1::UpdateServiceRequest request;
  *request.mutable_spec() = spec;
  v1::Service updated;
  grpc::ClientContext context;
  const absl::Time start = absl::Now();
  grpc::Status status = c.Stub(*leader)->UpdateService(&context, request, &updated);
  if (!status.ok()) return absl::InternalError(status.error_message());
  const std::string id = updated.deployment().id();
  Rollout rollout;
  if (kill_leader) {
    std::optional<absl::Time> half = WaitUntil(c, name, [&](const v1::Service& s) {
      return s.deployment().progress().new_ready() >= static_cast<uint32_t>(instances / 2);
    });
    if (!half) return absl::DeadlineExceededError("never halfway");
    c.replica(*leader).process().Signal(SIGKILL);
    const absl::Time killed = absl::Now();
    const int dead = *leader;
    while (absl::Now() - killed < absl::Seconds(60) && c.SettledLeader(dead) < 0) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    rollout.takeover = absl::Now() - killed;
    if (absl::Status s = c.Restart(dead); !s.ok()) return s;
  }
  std::optional<absl::Time> end = WaitUntil(c, name, [&](const v1::Service& s) {
    return s.deployment().id() == id && s.deployment().state() == v1::Deployment::SUCCEEDED &&
           AllHealthy(s);
  });
  if (!end) return absl::DeadlineExceededError(absl::StrCat("deployment ", id, " not done"));
  rollout.took = *end - start;
  return rollout;
}

int Run() {
  const int instances = absl::GetFlag(FLAGS_instances);
  std::vector<double> min_healths;
  for (absl::string_view v : absl::StrSplit(absl::GetFlag(FLAGS_min_health), ',')) {
    double m = 0;
    if (!absl::SimpleAtod(v, &m) || m < 0 || m >= 1) return Fail("--min_health: values in [0, 1)");
    min_healths.push_back(m);
  }
  ClusterOptions options;
  options.master.agents = absl::GetFlag(FLAGS_agents);
  options.extra_flags = {"--revive_interval=100ms"};
  const absl::Duration check = absl::GetFlag(FLAGS_check_time);
  std::printf("rolling_update: %d tasks, %d agents, checks pass %s after start; load %s\n",
              instances, options.master.agents, absl::FormatDuration(check).c_str(),
              LoadAverage().c_str());
  auto cluster = Cluster::Start(options);
  if (!cluster.ok()) return Fail(cluster.status().ToString());
  Cluster& c = **cluster;
  int run = 0;
  bool all_ok = true;
  for (double m : min_healths) {
    const double ideal = std::ceil(1 / (1 - m) - 1e-9) * absl::ToDoubleSeconds(check);
    std::optional<absl::Duration> plain;
    for (bool kill : {false, true}) {
      if (kill && !absl::GetFlag(FLAGS_leader_kill)) continue;
      const std::string name = absl::StrCat("bench/roll-", run++);
      absl::StatusOr<Rollout> r = RunRollout(c, name, instances, m, kill);
      if (!r.ok()) {
        std::printf("min_health %.2f%s: FAILED: %s\n", m, kill ? " + leader kill" : "",
                    r.status().ToString().c_str());
        all_ok = false;
        continue;
      }
      const double took = absl::ToDoubleSeconds(r->took);
      if (!kill) {
        plain = r->took;
        std::printf("min_health %.2f: %8.2f s; ideal %5.2f s; ratio %.2f (target <= 1.5)\n", m,
                    took, ideal, took / ideal);
      } else {
        const double takeover = absl::ToDoubleSeconds(*r->takeover);
        const double extra = plain ? took - absl::ToDoubleSeconds(*plain) : 0;
        std::printf(
            "min_health %.2f + leader kill: %8.2f s; %+.2f s over the run without; takeover "
            "%.2f s + one check %.2f s = %.2f s (target: extra <= that)\n",
            m, took, extra, takeover, absl::ToDoubleSeconds(check),
            takeover + absl::ToDoubleSeconds(check));
      }
    }
  }
  return all_ok ? 0 : 2;
}

}  // namespace
}  // namespace mast::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  mast::testing::InitProcessLibraries();
  return mast::bench::Run();
}
