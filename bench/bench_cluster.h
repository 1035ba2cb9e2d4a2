#pragma once

// What the scheduling benchmarks (launch, failover_state, follower_reads,
// memory) share: a cluster of a ZooKeeper server, the local Mesos master (in
// this process, so that its task table can be read without HTTP) and mastd
// replicas subscribed to it; gRPC stubs to the replicas; figures from logs,
// /proc and percentiles.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "local_mesos/local_master.h"
#include "mast/v1/mast.grpc.pb.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/zk_server.h"

namespace mast::bench {

// "1.23 0.98 0.77" (the 1, 5 and 15 minute load averages of /proc/loadavg).
std::string LoadAverage();
// VmRSS of `pid` in bytes (/proc/<pid>/status), nullopt if unreadable.
std::optional<int64_t> RssBytes(pid_t pid);
// Nearest-rank percentile, p in [0, 100]; 0 for no values.
double Percentile(std::vector<double> values, double p);

// The time of the first log line at or after byte `from` of `log` that
// carries `event=<event>` (its ts= field), and the offset just past it.
struct LogHit {
  absl::Time at;
  size_t end = 0;
};
std::optional<LogHit> FindLogEvent(const std::string& log, const std::string& event,
                                   size_t from = 0);

// A service of `instances` tiny tasks (0.01 cpus, 4 MiB, `ports` ports of any
// number) whose command is never run (the local master does not execute).
v1::ServiceSpec TinyService(const std::string& name, uint32_t instances, int ports = 0);

struct ClusterOptions {
  int replicas = 3;
  local::LocalMasterConfig master;
  absl::Duration session_timeout = absl::Seconds(2);
  std::vector<std::string> extra_flags;  // for every mastd
};

// ZooKeeper, the local master and `replicas` mastd processes subscribed to
// it. Not thread-safe. The destructor stops all of it and removes the mastd
// logs (kept, and their directory printed, when the environment variable
// MAST_BENCH_KEEP_LOGS is set to anything but 0).
class Cluster {
 public:
  static absl::StatusOr<std::unique_ptr<Cluster>> Start(ClusterOptions options);
  ~Cluster();

  local::LocalMaster& master() { return *master_; }
  std::vector<std::unique_ptr<testing::MastdProcess>>& replicas() { return replicas_; }
  testing::MastdProcess& replica(int i) { return *replicas_[i]; }

  // The replica that leads, is subscribed to the master and loaded its
  // state (its scheduler reconciled), and whom every replica names as the
  // leader; -1 if none is yet.
  // `ignoring` (if >= 0) is a replica not asked (one known to be dead).
  int SettledLeader(int ignoring = -1) const;
  absl::StatusOr<int> WaitForSettledLeader(absl::Duration timeout);
  // A follower's index (any replica but `leader`).
  int Follower(int leader) const { return leader == 0 ? 1 : 0; }
  // Starts a replacement for replica `i` (after it ended).
  absl::Status Restart(int i);

  // A stub on a channel of its own to replica `i`.
  std::unique_ptr<v1::Mast::Stub> Stub(int i) const;

  // Tasks the master knows, and of those the RUNNING ones.
  struct MasterCounts {
    size_t tasks = 0;
    size_t running = 0;
  };
  MasterCounts CountMasterTasks() const;

  // Creates the services (`parallel` calls in flight) on replica `i`;
  // fails at the first error.
  absl::Status CreateServices(int i, const std::vector<v1::ServiceSpec>& specs, int parallel = 32);

  const std::string& log_dir() const { return log_dir_; }

 private:
  Cluster() = default;
  absl::StatusOr<std::unique_ptr<testing::MastdProcess>> StartReplica(const std::string& id);

  ClusterOptions options_;
  std::unique_ptr<testing::ZkServer> zk_;
  std::unique_ptr<local::LocalMaster> master_;
  std::string log_dir_;
  std::vector<std::unique_ptr<testing::MastdProcess>> replicas_;
  int next_id_ = 0;
};

// ServiceStatus.running summed over every service (ListServices, all
// pages), as the replica behind `stub` sees it; -1 on error.
int64_t RunningInAllServices(v1::Mast::Stub& stub);

// Waits until RunningInAllServices(stub) reaches `tasks`; DEADLINE_EXCEEDED
// (with the last count) otherwise.
absl::Status WaitAllRunning(v1::Mast::Stub& stub, int64_t tasks, absl::Duration timeout,
                            absl::Duration poll = absl::Milliseconds(200));

// Prints the replica's scheduling figures: Mesos calls by type and code,
// status updates, task record writes, offers, CPU and RSS.
void PrintLeaderMetrics(const testing::MastdProcess& replica);

// `perf record --call-graph dwarf` (199 Hz) of one process, for a profile
// of a run: the constructor attaches perf to `pid`, Stop() ends it (SIGINT:
// perf writes its data file). Inert with an empty `out`.
class PerfRecorder {
 public:
  PerfRecorder(std::string out, pid_t pid);
  ~PerfRecorder() { Stop(); }
  void Stop();

 private:
  std::optional<testing::Subprocess> perf_;
  std::string out_;
};

}  // namespace mast::bench
