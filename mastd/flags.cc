#include "mastd/flags.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "election/zk_status.h"

ABSL_FLAG(std::string, zk, "127.0.0.1:2181",
          "ZooKeeper ensemble: comma-separated host:port list, optionally with a chroot "
          "(zk1:2181,zk2:2181/chroot).");
ABSL_FLAG(std::string, zk_root, "/mast",
          "ZooKeeper path under which Mast keeps its election and state.");
ABSL_FLAG(absl::Duration, zk_session_timeout, absl::Seconds(10),
          "ZooKeeper session timeout to request. A crashed leader is replaced about this long "
          "after it dies; the server clamps it to [2, 20] x its tickTime.");
ABSL_FLAG(std::string, zk_digest_auth_file, "",
          "File holding 'user:password' for ZooKeeper digest authentication. When set, the "
          "znodes Mast creates are readable and writable only by that user.");
ABSL_FLAG(std::string, grpc_address, "0.0.0.0:7070",
          "Address the gRPC API listens on (port 0: any free port).");
ABSL_FLAG(std::string, metrics_address, "0.0.0.0:9090",
          "Address of the Prometheus /metrics endpoint.");
ABSL_FLAG(std::string, replica_id, "",
          "This replica's id, unique in the replica set. Default: <hostname>:<grpc port>.");
ABSL_FLAG(std::string, advertise_address, "",
          "host:port other replicas and clients dial to reach this replica's gRPC API. "
          "Default: <hostname>:<grpc port>, or the --grpc_address host when it is not a "
          "wildcard.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGTERM, how long to wait for the leadership handoff and in-flight calls.");

namespace mast {
namespace {

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// Splits "host:port" or "[v6]:port".
absl::Status SplitHostPort(const std::string& address, std::string& host, int& port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", address, "' is not host:port"));
  }
  host = address.substr(0, colon);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DaemonConfig> ConfigFromFlags() {
  DaemonConfig config;
  config.zk.hosts = absl::GetFlag(FLAGS_zk);
  config.zk.session_timeout = absl::GetFlag(FLAGS_zk_session_timeout);
  const std::string auth_file = absl::GetFlag(FLAGS_zk_digest_auth_file);
  if (!auth_file.empty()) {
    std::ifstream in(auth_file);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("--zk_digest_auth_file: cannot read ", auth_file));
    std::stringstream ss;
    ss << in.rdbuf();
    config.zk.digest_auth = std::string(absl::StripAsciiWhitespace(ss.str()));
  }
  absl::Status zk = ValidateZkSessionConfig(config.zk);
  if (!zk.ok()) return absl::InvalidArgumentError(absl::StrCat("--zk: ", zk.message()));

  config.zk_root = absl::GetFlag(FLAGS_zk_root);
  absl::Status root = ValidateZkPath(config.zk_root);
  if (!root.ok()) return absl::InvalidArgumentError(absl::StrCat("--zk_root: ", root.message()));
  if (config.zk_root == "/") {
    return absl::InvalidArgumentError("--zk_root: must not be '/'");
  }
  config.election.election_path = config.zk_root + "/election";

  config.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  std::string host;
  int port = 0;
  absl::Status grpc = SplitHostPort(config.grpc_address, host, port);
  if (!grpc.ok()) return absl::InvalidArgumentError(absl::StrCat("--grpc_address: ", grpc.message()));
  config.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  absl::Status metrics = SplitHostPort(config.metrics_address, host, port);
  if (!metrics.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--metrics_address: ", metrics.message()));
  }
  config.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (config.shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--shutdown_grace: must be >= 0");
  }
  return config;
}

absl::Status ResolveAddresses(DaemonConfig& config, int grpc_port) {
  std::string host;
  int port = 0;
  (void)SplitHostPort(config.grpc_address, host, port);
  const bool wildcard = host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::";
  config.election.replica_id = absl::GetFlag(FLAGS_replica_id);
  if (config.election.replica_id.empty()) {
    config.election.replica_id = absl::StrCat(HostName(), ":", grpc_port);
  }
  config.election.advertise_address = absl::GetFlag(FLAGS_advertise_address);
  if (config.election.advertise_address.empty()) {
    config.election.advertise_address =
        absl::StrCat(wildcard ? HostName() : host, ":", grpc_port);
  } else {
    std::string adv_host;
    int adv_port = 0;
    absl::Status adv = SplitHostPort(config.election.advertise_address, adv_host, adv_port);
    if (!adv.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--advertise_address: ", adv.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace mast
