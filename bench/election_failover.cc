// bench/election_failover: how fast a new leader takes over.
//
// Three mastd processes on a local ZooKeeper with a 2 s session timeout; 20
// rounds of ending the leader, alternately by SIGTERM (graceful handoff) and
// SIGKILL (crash). Each round is measured from the signal to the new
// leader's mast_leader_acquired_timestamp_seconds; the ended replica is then
// restarted so that every round starts with three. Prints median and max for
// each kind. Not a test: it asserts nothing and prints figures.

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/failover_rounds.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/process_init.h"
#include "tests/processes/wait.h"
#include "tests/processes/zk_server.h"

namespace mast {
namespace {

using testing::MastdProcess;
using testing::WaitFor;

constexpr int kRounds = 20;
constexpr absl::Duration kSessionTimeout = absl::Seconds(2);

int Run() {
  auto zk = testing::ZkServer::Launch();
  if (!zk.ok()) {
    std::fprintf(stderr, "election_failover: %s\n", zk.status().ToString().c_str());
    return 1;
  }
  std::string log_dir = testing::MakeTempDir("mast-bench");
  int next_id = 0;
  auto start_replica = [&]() -> std::unique_ptr<MastdProcess> {
    MastdProcess::Options options;
    options.zk_hosts = (*zk)->hosts();
    options.replica_id = absl::StrCat("r", next_id++);
    options.session_timeout = kSessionTimeout;
    options.log_dir = log_dir;
    options.extra_flags = {"--mesos=none"};  // only the election is measured here
    auto replica = MastdProcess::Start(options);
    if (!replica.ok()) {
      std::fprintf(stderr, "election_failover: %s\n", replica.status().ToString().c_str());
      std::exit(1);
    }
    return std::move(*replica);
  };
  std::vector<std::unique_ptr<MastdProcess>> replicas;
  for (int i = 0; i < 3; ++i) replicas.push_back(start_replica());

  // Every replica has joined and names the same, acting leader.
  auto settled_leader = [&]() -> int {
    int leader = -1;
    std::string leader_id;
    for (size_t i = 0; i < replicas.size(); ++i) {
      auto answer = replicas[i]->GetLeader();
      if (!answer.ok() || !answer->leader_known()) return -1;
      if (!leader_id.empty() && answer->leader_id() != leader_id) return -1;
      leader_id = answer->leader_id();
      if (answer->is_leader()) leader = static_cast<int>(i);
    }
    return leader;
  };

  bench::FailoverHooks hooks;
  hooks.settled_leader = settled_leader;
  hooks.taken_over = [](MastdProcess& replica, double since) -> std::optional<double> {
    auto metrics = replica.Metrics();
    if (!metrics.ok()) return std::nullopt;
    double t = (*metrics)["mast_leader_acquired_timestamp_seconds"];
    if ((*metrics)["mast_is_leader"] != 1 || t <= since) return std::nullopt;
    return t;
  };
  hooks.restart = start_replica;
  auto times = bench::RunFailoverRounds(kRounds, replicas, hooks);
  if (!times.ok()) {
    std::fprintf(stderr, "election_failover: %s\n", times.status().ToString().c_str());
    return 1;
  }
  std::printf("\nelection_failover: 3 mastd, ZooKeeper session timeout %s, %d rounds\n",
              absl::FormatDuration(kSessionTimeout).c_str(), kRounds);
  bench::PrintSummary(*times, 5, absl::ToDoubleMilliseconds(kSessionTimeout) + 100);
  replicas.clear();
  testing::RemoveTree(log_dir);
  return 0;
}

}  // namespace
}  // namespace mast

int main() {
  mast::testing::InitProcessLibraries();
  return mast::Run();
}
