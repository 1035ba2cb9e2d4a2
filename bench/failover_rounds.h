#pragma once

// The loop both failover benchmarks share: end the leader, alternately by
// SIGTERM and SIGKILL, time the takeover, restart the ended replica.

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/wait.h"

namespace mast::bench {

struct FailoverTimes {
  std::vector<double> graceful_ms;
  std::vector<double> crash_ms;
};

struct FailoverHooks {
  // Index of the leader once the replicas are settled, else -1.
  std::function<int()> settled_leader;
  // Unix seconds at which `replica` completed the takeover (e.g. its
  // acquisition or SUBSCRIBED timestamp metric), if it did after `since`.
  std::function<std::optional<double>(testing::MastdProcess& replica, double since)> taken_over;
  // A fresh replica to replace the ended one.
  std::function<std::unique_ptr<testing::MastdProcess>()> restart;
};

inline absl::StatusOr<FailoverTimes> RunFailoverRounds(
    int rounds, std::vector<std::unique_ptr<testing::MastdProcess>>& replicas,
    const FailoverHooks& hooks) {
  FailoverTimes times;
  for (int round = 0; round < rounds; ++round) {
    int leader = -1;
    if (!testing::WaitFor([&] { return (leader = hooks.settled_leader()) >= 0; },
                          absl::Seconds(60))) {
      return absl::DeadlineExceededError(absl::StrCat("round ", round, ": no settled leader"));
    }
    const bool graceful = round % 2 == 0;
    const double signalled = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
    replicas[leader]->process().Signal(graceful ? SIGTERM : SIGKILL);
    double at = 0;
    bool ok = testing::WaitFor(
        [&] {
          for (size_t i = 0; i < replicas.size(); ++i) {
            if (static_cast<int>(i) == leader) continue;
            if (auto t = hooks.taken_over(*replicas[i], signalled)) {
              at = *t;
              return true;
            }
          }
          return false;
        },
        absl::Seconds(60), absl::Milliseconds(1));
    if (!ok) return absl::DeadlineExceededError(absl::StrCat("round ", round, ": no takeover"));
    double ms = (at - signalled) * 1000;
    (graceful ? times.graceful_ms : times.crash_ms).push_back(ms);
    std::printf("round %2d  %-8s %9.2f ms\n", round + 1, graceful ? "SIGTERM" : "SIGKILL", ms);
    std::fflush(stdout);
    replicas[leader]->process().Wait(absl::Seconds(10));
    replicas[leader] = hooks.restart();
  }
  return times;
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

inline void PrintSummary(const FailoverTimes& t, double graceful_target_ms,
                         double crash_target_ms) {
  std::printf("  graceful (SIGTERM): median %8.2f ms   max %8.2f ms   (target median <= %.0f ms)\n",
              Median(t.graceful_ms), *std::max_element(t.graceful_ms.begin(), t.graceful_ms.end()),
              graceful_target_ms);
  std::printf("  crash    (SIGKILL): median %8.2f ms   max %8.2f ms   (target median <= %.0f ms)\n",
              Median(t.crash_ms), *std::max_element(t.crash_ms.begin(), t.crash_ms.end()),
              crash_target_ms);
}

}  // namespace mast::bench
