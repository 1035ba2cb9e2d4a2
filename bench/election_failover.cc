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
#include "tests/common/mastd_process.h"
#include "tests/common/wait.h"
#include "tests/common/zk_server.h"

namespace mast {
namespace {

using testing::MastdProcess;
using testing::WaitFor;

constexpr int kRounds = 20;
constexpr absl::Duration kSessionTimeout = absl::Seconds(2);

struct Summary {
  double median_ms;
  double max_ms;
};

Summary Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  double median = ms.size() % 2 == 1 ? ms[ms.size() / 2]
                                     : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
  return {median, ms.back()};
}

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

  std::vector<double> graceful_ms, crash_ms;
  for (int round = 0; round < kRounds; ++round) {
    int leader = -1;
    if (!WaitFor([&] { return (leader = settled_leader()) >= 0; }, absl::Seconds(60))) {
      std::fprintf(stderr, "election_failover: no settled leader in round %d\n", round);
      return 1;
    }
    // Let the followers' watches settle on the current leader.
    const bool graceful = round % 2 == 0;
    absl::Time signalled = absl::Now();
    replicas[leader]->process().Signal(graceful ? SIGTERM : SIGKILL);
    double acquired = 0;
    bool ok = WaitFor(
        [&] {
          for (size_t i = 0; i < replicas.size(); ++i) {
            if (static_cast<int>(i) == leader) continue;
            auto metrics = replicas[i]->Metrics();
            if (!metrics.ok()) continue;
            double t = (*metrics)["mast_leader_acquired_timestamp_seconds"];
            if ((*metrics)["mast_is_leader"] == 1 && t > absl::ToDoubleSeconds(signalled - absl::UnixEpoch())) {
              acquired = t;
              return true;
            }
          }
          return false;
        },
        absl::Seconds(60), absl::Milliseconds(1));
    if (!ok) {
      std::fprintf(stderr, "election_failover: no new leader in round %d\n", round);
      return 1;
    }
    double ms = (acquired - absl::ToDoubleSeconds(signalled - absl::UnixEpoch())) * 1000;
    (graceful ? graceful_ms : crash_ms).push_back(ms);
    std::printf("round %2d  %-8s %9.2f ms\n", round + 1, graceful ? "SIGTERM" : "SIGKILL", ms);
    std::fflush(stdout);
    replicas[leader]->process().Wait(absl::Seconds(10));
    replicas[leader] = start_replica();
  }
  Summary g = Summarize(graceful_ms);
  Summary c = Summarize(crash_ms);
  std::printf("\nelection_failover: 3 mastd, ZooKeeper session timeout %s, %d rounds\n",
              absl::FormatDuration(kSessionTimeout).c_str(), kRounds);
  std::printf("  graceful (SIGTERM): median %8.2f ms   max %8.2f ms   (target median <= 5 ms)\n",
              g.median_ms, g.max_ms);
  std::printf("  crash    (SIGKILL): median %8.2f ms   max %8.2f ms   (target median <= %.0f ms)\n",
              c.median_ms, c.max_ms, absl::ToDoubleMilliseconds(kSessionTimeout) + 100);
  replicas.clear();
  testing::RemoveTree(log_dir);
  return 0;
}

}  // namespace
}  // namespace mast

int main() { return mast::Run(); }
