#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/file_access_control.h"
#include "common/log.h"
#include "election/leader_elector.h"
#include "scheduler/control/framework_controller.h"
#include "scheduler/control/task_scheduler.h"
#include "scheduler/mesos/http_mesos_client.h"
#include "scheduler/mesos/zk_master_detector.h"
#include "tls/tls_files.h"
#include "zk/zk_session.h"

namespace mast {

// Everything mastd's flags decide, checked.
struct DaemonConfig {
  ZkSessionConfig zk;
  std::string zk_root;
  // --zk_allow_open_acl: start without digest auth, or on a tree with open znodes.
  bool zk_allow_open_acl = false;
  LeaderElectorConfig election;
  // --auth_*: the files, unchecked (MakeFileAccessControl reads them).
  // No policy file: every caller may do everything.
  auth::FileAccessControlConfig auth;
  // --tls_*: the gRPC server's files (tls.cert_file empty: plaintext, only
  // with --allow_plaintext) and the forwarding channel's (the replica's own
  // certificate as its client certificate; the CA that signs the peers').
  std::optional<tls::ServerFiles> tls;
  std::optional<tls::ChannelFiles> forward_tls;
  bool allow_plaintext = false;
  std::string grpc_address;
  std::string metrics_address;
  std::string health_address;  // plaintext grpc.health.v1 only; empty: none
  absl::Duration shutdown_grace;
  LogFormat log_format = LogFormat::kLogfmt;
  // --mesos: "none", "zk://..." or a list of master URLs.
  std::string mesos;
  std::vector<std::string> mesos_masters;      // when a URL list
  std::optional<mesos::ZkMasterUrl> mesos_zk;  // when zk://
  mesos::MesosClientConfig mesos_client;
  FrameworkConfig framework;
  TaskSchedulerConfig scheduler;
  // --allowed_roles: the roles a service may ask for (besides the
  // framework's); empty: any.
  std::vector<std::string> allowed_roles;
};

// Reads the parsed flags into a DaemonConfig; an error names the flag.
// `grpc_port` is the port the gRPC server actually bound (it may differ from
// --grpc_address when that asks for port 0); it fills the defaults of
// --replica_id and --advertise_address.
absl::StatusOr<DaemonConfig> ConfigFromFlags();

// --log_format's text form: "logfmt" or "json" (absl flag marshalling).
bool AbslParseFlag(absl::string_view text, LogFormat* format, std::string* error);
std::string AbslUnparseFlag(LogFormat format);
absl::Status ResolveAddresses(DaemonConfig& config, int grpc_port);

}  // namespace mast
