#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "mast/v1/mast.grpc.pb.h"
#include "tests/processes/subprocess.h"
#include "tls/tls_files.h"

namespace mast::testing {

// A mastd child process on free loopback ports, with clients for its gRPC
// API, its health service and its /metrics page. Used by the integration
// tests and the benchmarks.
class MastdProcess {
 public:
  struct Options {
    std::string zk_hosts;
    std::string zk_root = "/mast";
    absl::Duration session_timeout = absl::Seconds(2);
    std::string replica_id;
    std::vector<std::string> extra_flags;
    std::string log_dir;  // where <replica_id>.log goes; required
    // Sent as "authorization: Bearer <token>" on GetLeader (for replicas
    // started with --auth_tokens_file); empty: none.
    std::string bearer_token;
    // The test's own channel (GetLeader, Health) dials with TLS when set
    // (for replicas started with --tls_cert).
    std::optional<tls::ChannelFiles> client_tls;
  };

  static absl::StatusOr<std::unique_ptr<MastdProcess>> Start(Options options);
  ~MastdProcess();

  // The gRPC API (GetLeader) with a short deadline; errors as statuses.
  absl::StatusOr<mast::v1::GetLeaderResponse> GetLeader() const;
  // grpc.health.v1 Check of `service` ("" = the whole server).
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> Health(
      const std::string& service) const;
  // Samples of /metrics, by metric name (labels dropped); error if unreachable.
  absl::StatusOr<std::map<std::string, double>> Metrics() const;
  std::optional<double> Metric(const std::string& name) const;
  // The FrameworkID the replica reports (mast_framework_info); empty when
  // it has none or cannot be reached.
  std::string FrameworkId() const;

  bool LogContains(const std::string& text) const;
  std::string Log() const { return process_.ReadLog(); }

  Subprocess& process() { return process_; }
  const std::string& replica_id() const { return options_.replica_id; }
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  std::string grpc_address() const;

 private:
  MastdProcess(Options options, Subprocess process, int grpc_port, int metrics_port);

  Options options_;
  Subprocess process_;
  int grpc_port_;
  int metrics_port_;
  std::unique_ptr<mast::v1::Mast::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_stub_;
};

// mastd replicas started by a test, with their logs in one temp dir that
// goes with the set. Not thread-safe.
class ReplicaSet {
 public:
  ReplicaSet();
  ~ReplicaSet();

  // Starts a replica (fails the test if it cannot).
  MastdProcess& Start(const std::string& zk_hosts, const std::string& id,
                      absl::Duration session_timeout, std::vector<std::string> extra_flags = {});
  // The token replicas started from now on use for their own GetLeader.
  void UseToken(std::string token) { token_ = std::move(token); }
  // The TLS files replicas started from now on are dialled with.
  void UseClientTls(tls::ChannelFiles files) { client_tls_ = std::move(files); }
  // Writes every replica's log to stderr (for a failed test).
  void DumpLogs() const;
  // The index of the replica every running one agrees leads, or -1.
  int AgreedLeader();
  // AgreedLeader() once it is known, or -1 after `timeout`.
  int WaitForAgreedLeader(absl::Duration timeout = absl::Seconds(30));
  // Runs mastctl with `args` (flags such as --endpoint included) and a log
  // of its own in log_dir(); its exit code (-1 if it did not exit within
  // `timeout`), its output in `out`.
  int RunMastctl(const std::vector<std::string>& args, std::string* out,
                 absl::Duration timeout = absl::Seconds(30));
  std::vector<std::unique_ptr<MastdProcess>>& replicas() { return replicas_; }
  const std::string& log_dir() const { return log_dir_; }

 private:
  std::string log_dir_;
  std::string token_;
  std::optional<tls::ChannelFiles> client_tls_;
  std::vector<std::unique_ptr<MastdProcess>> replicas_;
  int mastctl_runs_ = 0;
};

// The mastd binary of this build.
std::string MastdBinary();
std::string MastctlBinary();

// GET http://127.0.0.1:<port><path>; the body, or an error.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path,
                                    absl::Duration timeout = absl::Seconds(2));

// Parses the Prometheus text format into name -> value: each sample under
// its bare name (the last one of a name wins) and, when it has labels, also
// under its full name as printed (`mast_mesos_calls_total{code="202",...}`).
std::map<std::string, double> ParsePrometheusText(const std::string& text);

// The FrameworkID in a replica's metrics: the label of the
// mast_framework_info sample that is 1; empty if there is none.
std::string FrameworkIdFromMetrics(const std::map<std::string, double>& metrics);

}  // namespace mast::testing
