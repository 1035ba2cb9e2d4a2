#include "mastd/flags.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "zk/zk_status.h"

ABSL_FLAG(std::string, zk, "127.0.0.1:2181",
          "ZooKeeper ensemble: comma-separated host:port list, optionally with a chroot "
          "(zk1:2181,zk2:2181/chroot).");
ABSL_FLAG(std::string, zk_root, "/mast",
          "ZooKeeper path under which Mast keeps its election and state.");
ABSL_FLAG(absl::Duration, zk_session_timeout, absl::Seconds(10),
          "ZooKeeper session timeout to request. A crashed leader is replaced about this long "
          "after it dies; the server clamps it to [2, 20] x its tickTime.");
ABSL_FLAG(std::string, zk_auth_file, "",
          "File holding 'user:password' for ZooKeeper digest authentication. When set, the "
          "znodes Mast creates are readable and writable only by that user, and mastd refuses "
          "to start on a state tree with open (world) ACLs unless --zk_allow_open_acl.");
ABSL_FLAG(std::string, zk_digest_auth_file, "", "Deprecated name of --zk_auth_file.");
ABSL_FLAG(bool, zk_allow_open_acl, false,
          "Accept ZooKeeper state anyone may read and change: without --zk_auth_file (the "
          "znodes Mast creates are then open), or a state tree with open znodes.");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "Bearer tokens, stored as SHA-256 hashes: '<identity> sha256:<hex> "
          "[expires=<RFC 3339>]' per line. Needs --auth_policy_file. Reloaded on change.");
ABSL_FLAG(std::string, auth_policy_file, "",
          "Who may do what: 'grant <identity> <read|write|admin> <prefix|*>', "
          "'anonymous <role> <prefix|*>', 'forwarder <identity>' per line. Without it every "
          "caller may do everything. Reloaded on change.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the gRPC server (leaf first). With --tls_key, the API "
          "(and the forwarding of writes to the leader) uses TLS. Reloaded on change.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM bundle of the CAs whose client certificates the server accepts (mTLS); a "
          "verified certificate's first SAN, else its CN, names the caller for the policy.");
ABSL_FLAG(bool, tls_require_client_cert, false,
          "Refuse, in the handshake, clients without a certificate from --tls_client_ca "
          "(else they may still call with a token).");
ABSL_FLAG(std::string, tls_peer_ca, "",
          "PEM bundle that signs the other replicas' server certificates, for forwarding "
          "writes to the leader (default: --tls_client_ca, else the system roots).");
ABSL_FLAG(std::string, tls_peer_server_name, "",
          "Name the leader's certificate must carry when forwarding to it (default: the host "
          "of its --advertise_address).");
ABSL_FLAG(absl::Duration, tls_reload_interval, absl::Minutes(1),
          "How often the TLS files are checked for a replacement.");
ABSL_FLAG(bool, allow_plaintext, false,
          "Serve the gRPC API without TLS (no --tls_cert): anyone on the path reads the "
          "tokens. For tests and loopback only.");
ABSL_FLAG(absl::Duration, auth_reload_interval, absl::Seconds(5),
          "How often the auth files are checked for changes (on a call).");
ABSL_FLAG(std::string, grpc_address, "0.0.0.0:7070",
          "Address the gRPC API listens on (port 0: any free port).");
ABSL_FLAG(std::string, health_address, "",
          "Also serve grpc.health.v1 (and only it) in plaintext here, for probes that cannot "
          "speak TLS (Kubernetes' gRPC probes), e.g. 0.0.0.0:7071. Empty: none.");
ABSL_FLAG(std::string, metrics_address, "0.0.0.0:9090",
          "Address of the Prometheus /metrics endpoint.");
ABSL_FLAG(std::string, replica_id, "",
          "This replica's id, unique in the replica set. Default: <hostname>:<grpc port>.");
ABSL_FLAG(std::string, advertise_address, "",
          "host:port other replicas and clients dial to reach this replica's gRPC API. "
          "Default: <hostname>:<grpc port>, or the --grpc_address host when it is not a "
          "wildcard.");
ABSL_FLAG(mast::LogFormat, log_format, mast::LogFormat::kLogfmt,
          "Format of the log lines on stderr: logfmt (ts=... level=info event=... k=v) or "
          "json (one object per line, the same fields in the same order).");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGTERM, how long to wait for the leadership handoff and in-flight calls.");

ABSL_FLAG(std::string, mesos, "http://127.0.0.1:5050",
          "Mesos master(s): http://host:port (or a comma list, tried in turn; redirects are "
          "followed), zk://host:port,.../mesos (the leading master is read from ZooKeeper), "
          "or 'none' (no Mesos: leader election and the API only). For a single-machine "
          "run, start mast-local-mesos and point this at it.");
ABSL_FLAG(std::string, mesos_encoding, "protobuf",
          "Encoding of calls and events: protobuf or json.");
ABSL_FLAG(int32_t, mesos_heartbeat_misses, 5,
          "Missed heartbeat intervals after which the master is taken as gone and Mast "
          "resubscribes.");
ABSL_FLAG(std::string, framework_name, "mast", "FrameworkInfo.name.");
ABSL_FLAG(std::string, framework_user, "",
          "FrameworkInfo.user: the Unix user tasks run as by default. Default: the user "
          "running mastd.");
ABSL_FLAG(std::string, framework_role, "*",
          "The Mesos role Mast subscribes with, and the role of services that name none.");
ABSL_FLAG(std::vector<std::string>, allowed_roles, {},
          "Comma-separated roles a service may run under besides --framework_role (the "
          "framework subscribes with each one in use, MULTI_ROLE). Empty: any valid role.");
ABSL_FLAG(absl::Duration, failover_timeout, absl::Hours(24 * 7),
          "How long Mesos keeps the framework's tasks running while no Mast replica is "
          "subscribed.");
ABSL_FLAG(std::string, framework_principal, "",
          "Principal for HTTP Basic authentication with the master (and "
          "FrameworkInfo.principal).");
ABSL_FLAG(std::string, framework_secret_file, "",
          "File holding the secret of --framework_principal.");
ABSL_FLAG(std::string, framework_hostname, "", "FrameworkInfo.hostname. Default: this host.");
ABSL_FLAG(std::string, webui_url, "", "FrameworkInfo.webui_url.");
ABSL_FLAG(std::string, offer_min_resources, "",
          "Minimum offer shape for the role (FrameworkInfo.offer_filters), e.g. "
          "'cpus:0.01;mem:32'. Empty: the master's default.");
ABSL_FLAG(double, decline_refuse_seconds, 120,
          "refuse_seconds of the filter with which offers are declined while nothing waits "
          "to launch.");
ABSL_FLAG(double, busy_decline_refuse_seconds, 5,
          "refuse_seconds of the filter with which offers that fit no waiting task are "
          "declined.");
ABSL_FLAG(absl::Duration, revive_interval, absl::Seconds(5),
          "REVIVEs (when tasks start waiting for offers) are limited to --revive_burst per "
          "interval.");
ABSL_FLAG(double, max_unhealthy_share, 0.1,
          "At most this share of a service's instances (at least one task) is replaced at "
          "once for failing health checks.");
ABSL_FLAG(int, revive_burst, 5,
          "REVIVEs allowed per --revive_interval; new work gets offers at once until they are "
          "spent.");
ABSL_FLAG(absl::Duration, reconcile_interval, absl::Minutes(10),
          "Period of implicit task reconciliation (after the explicit one that follows "
          "every subscription).");
ABSL_FLAG(absl::Duration, unreachable_grace, absl::Minutes(5),
          "How long an UNREACHABLE task counts as running before it is replaced.");
ABSL_FLAG(absl::Duration, kill_retry, absl::Seconds(10),
          "A KILL is sent again while no terminal update arrived for this long.");

namespace mast {
namespace {

// Config validators and parsers name the config field ("kill_retry: must be
// > 0", "zk hosts chroot: ..."); the user set a flag, so an error about a
// field a flag sets names the flag instead ("--kill_retry: must be > 0",
// "--zk chroot: ..."). The field must be followed by ':' or by ' ' and the
// name of a part of it; other errors are returned as they are.
struct FieldFlag {
  absl::string_view field;
  absl::string_view flag;
};
absl::Status NameTheFlag(const absl::Status& status, std::initializer_list<FieldFlag> fields) {
  if (status.ok()) return status;
  for (const FieldFlag& f : fields) {
    absl::string_view message = status.message();
    if (absl::StartsWith(message, f.field) && message.size() > f.field.size() &&
        (message[f.field.size()] == ':' || message[f.field.size()] == ' ')) {
      return absl::Status(status.code(),
                          absl::StrCat("--", f.flag, message.substr(f.field.size())));
    }
  }
  return status;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

std::string UserName() {
  if (const char* user = std::getenv("USER"); user != nullptr && *user != '\0') return user;
  passwd* pw = getpwuid(getuid());
  return pw != nullptr ? pw->pw_name : "root";
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(ss.str()));
}

absl::Status ParseMesosFlags(DaemonConfig& config) {
  config.mesos = absl::GetFlag(FLAGS_mesos);
  if (config.mesos.rfind("zk://", 0) == 0) {
    auto url = mesos::ParseZkMasterUrl(config.mesos);
    if (!url.ok()) return NameTheFlag(url.status(), {{"zk master URL", "mesos"}});
    config.mesos_zk = *url;
  } else if (config.mesos != "none") {
    auto masters = mesos::ParseMasterUrls(config.mesos);
    if (!masters.ok()) return NameTheFlag(masters.status(), {{"masters", "mesos"}});
    config.mesos_masters = *masters;
  }
  const std::string encoding = absl::GetFlag(FLAGS_mesos_encoding);
  if (encoding != "protobuf" && encoding != "json") {
    return absl::InvalidArgumentError("--mesos_encoding: must be protobuf or json");
  }
  config.mesos_client.json = encoding == "json";
  config.mesos_client.heartbeat_misses = absl::GetFlag(FLAGS_mesos_heartbeat_misses);
  absl::Status client = NameTheFlag(mesos::ValidateMesosClientConfig(config.mesos_client),
                                    {{"heartbeat_misses", "mesos_heartbeat_misses"}});
  if (!client.ok()) return client;

  FrameworkConfig& fw = config.framework;
  fw.name = absl::GetFlag(FLAGS_framework_name);
  fw.user = absl::GetFlag(FLAGS_framework_user);
  if (fw.user.empty()) fw.user = UserName();
  fw.role = absl::GetFlag(FLAGS_framework_role);
  config.allowed_roles = absl::GetFlag(FLAGS_allowed_roles);
  fw.failover_timeout = absl::GetFlag(FLAGS_failover_timeout);
  fw.principal = absl::GetFlag(FLAGS_framework_principal);
  const std::string secret_file = absl::GetFlag(FLAGS_framework_secret_file);
  if (!secret_file.empty()) {
    if (fw.principal.empty()) {
      return absl::InvalidArgumentError("--framework_secret_file: needs --framework_principal");
    }
    auto secret = ReadSecretFile("--framework_secret_file", secret_file);
    if (!secret.ok()) return secret.status();
    config.mesos_client.basic_auth = absl::StrCat(fw.principal, ":", *secret);
  }
  fw.hostname = absl::GetFlag(FLAGS_framework_hostname);
  if (fw.hostname.empty()) fw.hostname = HostName();
  fw.webui_url = absl::GetFlag(FLAGS_webui_url);
  const std::string min_resources = absl::GetFlag(FLAGS_offer_min_resources);
  for (absl::string_view part : absl::StrSplit(min_resources, ';', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, ':');
    double quantity = 0;
    if (!absl::SimpleAtod(kv.second, &quantity)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--offer_min_resources: '", part, "' is not name:quantity"));
    }
    fw.min_offer_resources.emplace_back(std::string(absl::StripAsciiWhitespace(kv.first)),
                                        quantity);
  }
  double refuse = absl::GetFlag(FLAGS_decline_refuse_seconds);
  if (!(refuse >= 0)) return absl::InvalidArgumentError("--decline_refuse_seconds: must be >= 0");
  fw.decline_refuse = absl::Seconds(refuse);
  return NameTheFlag(ValidateFrameworkConfig(fw), {{"name", "framework_name"},
                                                   {"user", "framework_user"},
                                                   {"role", "framework_role"},
                                                   {"failover_timeout", "failover_timeout"},
                                                   {"decline_refuse", "decline_refuse_seconds"},
                                                   {"min_offer_resources", "offer_min_resources"}});
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

// --zk*: the session, the root, the credentials and what ACLs to accept.
absl::Status ZkConfigFromFlags(DaemonConfig& config) {
  config.zk.hosts = absl::GetFlag(FLAGS_zk);
  config.zk.session_timeout = absl::GetFlag(FLAGS_zk_session_timeout);
  config.zk_root = absl::GetFlag(FLAGS_zk_root);
  absl::Status root = ValidateZkPath(config.zk_root);
  if (!root.ok()) return absl::InvalidArgumentError(absl::StrCat("--zk_root: ", root.message()));
  if (config.zk_root == "/") {
    return absl::InvalidArgumentError("--zk_root: must not be '/'");
  }
  std::string flag = "--zk_auth_file";
  std::string auth_file = absl::GetFlag(FLAGS_zk_auth_file);
  if (auth_file.empty() && !absl::GetFlag(FLAGS_zk_digest_auth_file).empty()) {
    flag = "--zk_digest_auth_file";
    auth_file = absl::GetFlag(FLAGS_zk_digest_auth_file);
  }
  if (!auth_file.empty()) {
    absl::StatusOr<std::string> auth = ReadSecretFile(flag, auth_file);
    if (!auth.ok()) return auth.status();
    config.zk.digest_auth = std::move(*auth);
  }
  MAST_RETURN_IF_ERROR(
      NameTheFlag(ValidateZkSessionConfig(config.zk), {{"zk hosts", "zk"},
                                                       {"zk session_timeout", "zk_session_timeout"},
                                                       {"zk digest_auth", flag.substr(2)}}));
  config.zk_allow_open_acl = absl::GetFlag(FLAGS_zk_allow_open_acl);
  if (config.zk.digest_auth.empty() && !config.zk_allow_open_acl) {
    return absl::InvalidArgumentError(
        "--zk_auth_file: not given, so the znodes Mast creates would be open to anyone "
        "(world:anyone); give it, or --zk_allow_open_acl to accept open state");
  }
  return absl::OkStatus();
}

}  // namespace

bool AbslParseFlag(absl::string_view text, LogFormat* format, std::string* error) {
  if (text == "logfmt") {
    *format = LogFormat::kLogfmt;
    return true;
  }
  if (text == "json") {
    *format = LogFormat::kJson;
    return true;
  }
  *error = "must be logfmt or json";
  return false;
}

std::string AbslUnparseFlag(LogFormat format) {
  return format == LogFormat::kJson ? "json" : "logfmt";
}

namespace {

absl::Status TlsConfigFromFlags(DaemonConfig& config) {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  const std::string client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  const absl::Duration reload = absl::GetFlag(FLAGS_tls_reload_interval);
  config.allow_plaintext = absl::GetFlag(FLAGS_allow_plaintext);
  if (reload < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--tls_reload_interval: must be at least 1s");
  }
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError(cert.empty() ? "--tls_cert: needed with --tls_key"
                                                   : "--tls_key: needed with --tls_cert");
  }
  if (cert.empty()) {
    if (!client_ca.empty() || absl::GetFlag(FLAGS_tls_require_client_cert)) {
      return absl::InvalidArgumentError(
          "--tls_client_ca: client certificates need TLS (--tls_cert, --tls_key)");
    }
    if (!config.allow_plaintext) {
      return absl::InvalidArgumentError(
          "--tls_cert: not given, so the API would be served in plaintext (tokens readable "
          "on the wire); give --tls_cert and --tls_key, or --allow_plaintext");
    }
    return absl::OkStatus();
  }
  tls::ServerFiles server{cert, key, client_ca, absl::GetFlag(FLAGS_tls_require_client_cert),
                          reload};
  if (absl::Status s = tls::CheckServerFiles(server); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_cert/--tls_key/--tls_client_ca: ", s.message()));
  }
  std::string peer_ca = absl::GetFlag(FLAGS_tls_peer_ca);
  if (peer_ca.empty()) peer_ca = client_ca;
  tls::ChannelFiles forward{peer_ca, cert, key, absl::GetFlag(FLAGS_tls_peer_server_name), reload};
  if (absl::Status s = tls::CheckChannelFiles(forward); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--tls_peer_ca: ", s.message()));
  }
  if (!client_ca.empty() && config.auth.policy_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_ca: needs --auth_policy_file (who each certificate may act as)");
  }
  config.tls = std::move(server);
  config.forward_tls = std::move(forward);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DaemonConfig> ConfigFromFlags() {
  DaemonConfig config;
  config.log_format = absl::GetFlag(FLAGS_log_format);
  MAST_RETURN_IF_ERROR(ZkConfigFromFlags(config));
  config.auth.tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  config.auth.policy_file = absl::GetFlag(FLAGS_auth_policy_file);
  config.auth.reload_interval = absl::GetFlag(FLAGS_auth_reload_interval);
  if (!config.auth.tokens_file.empty() && config.auth.policy_file.empty()) {
    return absl::InvalidArgumentError(
        "--auth_tokens_file: needs --auth_policy_file (who may do what)");
  }
  if (config.auth.reload_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--auth_reload_interval: must be positive");
  }
  MAST_RETURN_IF_ERROR(TlsConfigFromFlags(config));
  config.election.election_path = config.zk_root + "/election";

  config.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  std::string host;
  int port = 0;
  absl::Status grpc = SplitHostPort(config.grpc_address, host, port);
  if (!grpc.ok())
    return absl::InvalidArgumentError(absl::StrCat("--grpc_address: ", grpc.message()));
  config.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  absl::Status metrics = SplitHostPort(config.metrics_address, host, port);
  if (!metrics.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--metrics_address: ", metrics.message()));
  }
  config.health_address = absl::GetFlag(FLAGS_health_address);
  if (!config.health_address.empty()) {
    absl::Status health = SplitHostPort(config.health_address, host, port);
    if (!health.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--health_address: ", health.message()));
    }
  }
  absl::Status mesos = ParseMesosFlags(config);
  if (!mesos.ok()) return mesos;
  TaskSchedulerConfig& sched = config.scheduler;
  sched.default_role = config.framework.role;
  sched.idle_decline_refuse = config.framework.decline_refuse;
  double busy_refuse = absl::GetFlag(FLAGS_busy_decline_refuse_seconds);
  if (!(busy_refuse >= 0)) {
    return absl::InvalidArgumentError("--busy_decline_refuse_seconds: must be >= 0");
  }
  sched.busy_decline_refuse = absl::Seconds(busy_refuse);
  sched.revive_interval = absl::GetFlag(FLAGS_revive_interval);
  sched.revive_burst = absl::GetFlag(FLAGS_revive_burst);
  sched.max_unhealthy_share = absl::GetFlag(FLAGS_max_unhealthy_share);
  sched.reconcile_interval = absl::GetFlag(FLAGS_reconcile_interval);
  sched.unreachable_grace = absl::GetFlag(FLAGS_unreachable_grace);
  sched.kill_retry = absl::GetFlag(FLAGS_kill_retry);
  absl::Status scheduler = NameTheFlag(ValidateTaskSchedulerConfig(sched),
                                       {{"revive_interval", "revive_interval"},
                                        {"revive_burst", "revive_burst"},
                                        {"max_unhealthy_share", "max_unhealthy_share"},
                                        {"reconcile_interval", "reconcile_interval"},
                                        {"unreachable_grace", "unreachable_grace"},
                                        {"kill_retry", "kill_retry"},
                                        {"idle_decline_refuse", "decline_refuse_seconds"},
                                        {"busy_decline_refuse", "busy_decline_refuse_seconds"}});
  if (!scheduler.ok()) return scheduler;
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
    config.election.advertise_address = absl::StrCat(wildcard ? HostName() : host, ":", grpc_port);
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
