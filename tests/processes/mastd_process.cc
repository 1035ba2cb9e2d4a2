#include "tests/processes/mastd_process.h"

#include <curl/curl.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "tests/processes/wait.h"

namespace mast::testing {

std::string MastdBinary() { return BuildDir() + "/mastd/mastd"; }
std::string MastctlBinary() { return BuildDir() + "/mastctl/mastctl"; }

ReplicaSet::ReplicaSet() : log_dir_(MakeTempDir("mastd-replicas")) {}

ReplicaSet::~ReplicaSet() {
  replicas_.clear();
  RemoveTree(log_dir_);
}

MastdProcess& ReplicaSet::Start(const std::string& zk_hosts, const std::string& id,
                                absl::Duration session_timeout,
                                std::vector<std::string> extra_flags) {
  MastdProcess::Options options;
  options.zk_hosts = zk_hosts;
  options.replica_id = id;
  options.session_timeout = session_timeout;
  options.log_dir = log_dir_;
  options.extra_flags = std::move(extra_flags);
  options.bearer_token = token_;
  options.client_tls = client_tls_;
  auto replica = MastdProcess::Start(options);
  if (!replica.ok()) {
    // Every caller needs the replica; without it there is nothing to test.
    std::fprintf(stderr, "ReplicaSet: cannot start %s: %s\n", id.c_str(),
                 replica.status().ToString().c_str());
    std::abort();
  }
  replicas_.push_back(std::move(*replica));
  return *replicas_.back();
}

int ReplicaSet::AgreedLeader() {
  std::string leader_id;
  int leader = -1;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    if (!replicas_[i]->process().Running()) continue;
    auto answer = replicas_[i]->GetLeader();
    if (!answer.ok() || !answer->leader_known()) return -1;
    if (leader_id.empty()) leader_id = answer->leader_id();
    if (answer->leader_id() != leader_id) return -1;
    if (answer->is_leader()) leader = static_cast<int>(i);
  }
  return leader;
}

int ReplicaSet::WaitForAgreedLeader(absl::Duration timeout) {
  int leader = -1;
  WaitFor([&] { return (leader = AgreedLeader()) >= 0; }, timeout);
  return leader;
}

int ReplicaSet::RunMastctl(const std::vector<std::string>& args, std::string* out,
                           absl::Duration timeout) {
  std::vector<std::string> argv = {MastctlBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto ctl = Subprocess::Spawn(argv, absl::StrCat(log_dir_, "/mastctl-", ++mastctl_runs_));
  if (!ctl.ok()) {
    *out = std::string(ctl.status().message());
    return -1;
  }
  auto exited = ctl->Wait(timeout);
  *out = ctl->ReadLog();
  return exited.has_value() && WIFEXITED(*exited) ? WEXITSTATUS(*exited) : -1;
}

void ReplicaSet::DumpLogs() const {
  for (const auto& r : replicas_) {
    if (r) std::fprintf(stderr, "---- %s ----\n%s\n", r->replica_id().c_str(), r->Log().c_str());
  }
}

absl::StatusOr<std::unique_ptr<MastdProcess>> MastdProcess::Start(Options options) {
  if (options.replica_id.empty()) return absl::InvalidArgumentError("replica_id required");
  int grpc_port = PickFreePort();
  int metrics_port = PickFreePort();
  std::vector<std::string> argv = {
      MastdBinary(),
      absl::StrCat("--zk=", options.zk_hosts),
      absl::StrCat("--zk_root=", options.zk_root),
      absl::StrCat("--zk_session_timeout=", absl::FormatDuration(options.session_timeout)),
      absl::StrCat("--grpc_address=127.0.0.1:", grpc_port),
      absl::StrCat("--metrics_address=127.0.0.1:", metrics_port),
      absl::StrCat("--replica_id=", options.replica_id),
  };
  // Tests run without ZooKeeper authentication unless they give it.
  if (std::none_of(options.extra_flags.begin(), options.extra_flags.end(),
                   [](const std::string& f) { return f.rfind("--zk_auth_file=", 0) == 0; })) {
    argv.push_back("--zk_allow_open_acl");
  }
  // And in plaintext on loopback unless they give TLS.
  if (std::none_of(options.extra_flags.begin(), options.extra_flags.end(),
                   [](const std::string& f) { return f.rfind("--tls_cert=", 0) == 0; })) {
    argv.push_back("--allow_plaintext");
  }
  for (const std::string& flag : options.extra_flags) argv.push_back(flag);
  auto process = Subprocess::Spawn(argv, options.log_dir + "/" + options.replica_id + ".log");
  if (!process.ok()) return process.status();
  // Connect only once it listens: a gRPC channel that found the port closed
  // backs off for seconds before it tries again.
  // (The started line in either --log_format.)
  if (!WaitFor([&] {
        std::string log = process->ReadLog();
        return log.find("event=mastd_started") != std::string::npos ||
               log.find("\"event\":\"mastd_started\"") != std::string::npos || !process->Running();
      }) ||
      !process->Running()) {
    return absl::UnavailableError(
        absl::StrCat("mastd did not start; its log:\n", process->ReadLog()));
  }
  return std::unique_ptr<MastdProcess>(
      new MastdProcess(std::move(options), std::move(*process), grpc_port, metrics_port));
}

MastdProcess::MastdProcess(Options options, Subprocess process, int grpc_port, int metrics_port)
    : options_(std::move(options)),
      process_(std::move(process)),
      grpc_port_(grpc_port),
      metrics_port_(metrics_port) {
  // Tests poll a replica that may not listen yet: reconnect quickly
  // instead of gRPC's default backoff of a second and more.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options_.client_tls.has_value()) {
    credentials = tls::MakeChannelCredentials(*options_.client_tls);
    if (!options_.client_tls->server_name.empty()) {
      args.SetSslTargetNameOverride(options_.client_tls->server_name);
    }
  }
  auto channel = grpc::CreateCustomChannel(grpc_address(), credentials, args);
  stub_ = mast::v1::Mast::NewStub(channel);
  health_stub_ = grpc::health::v1::Health::NewStub(channel);
}

MastdProcess::~MastdProcess() { process_.Stop(absl::Seconds(5)); }

std::string MastdProcess::grpc_address() const { return absl::StrCat("127.0.0.1:", grpc_port_); }

absl::StatusOr<mast::v1::GetLeaderResponse> MastdProcess::GetLeader() const {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  if (!options_.bearer_token.empty()) {
    context.AddMetadata("authorization", "Bearer " + options_.bearer_token);
  }
  mast::v1::GetLeaderResponse response;
  grpc::Status status = stub_->GetLeader(&context, mast::v1::GetLeaderRequest(), &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return response;
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> MastdProcess::Health(
    const std::string& service) const {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health_stub_->Check(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return response.status();
}

absl::StatusOr<std::map<std::string, double>> MastdProcess::Metrics() const {
  auto body = HttpGet(metrics_port_, "/metrics");
  if (!body.ok()) return body.status();
  return ParsePrometheusText(*body);
}

std::optional<double> MastdProcess::Metric(const std::string& name) const {
  auto metrics = Metrics();
  if (!metrics.ok()) return std::nullopt;
  auto it = metrics->find(name);
  if (it == metrics->end()) return std::nullopt;
  return it->second;
}

std::string MastdProcess::FrameworkId() const {
  auto metrics = Metrics();
  return metrics.ok() ? FrameworkIdFromMetrics(*metrics) : "";
}

std::string FrameworkIdFromMetrics(const std::map<std::string, double>& metrics) {
  const std::string prefix = "mast_framework_info{framework_id=\"";
  for (const auto& [key, value] : metrics) {
    if (absl::StartsWith(key, prefix) && value == 1) {
      return key.substr(prefix.size(), key.size() - prefix.size() - 2);
    }
  }
  return "";
}

bool MastdProcess::LogContains(const std::string& text) const {
  return process_.ReadLog().find(text) != std::string::npos;
}

namespace {

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

absl::StatusOr<std::string> HttpGet(int port, const std::string& path, absl::Duration timeout) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init");
  std::string url = absl::StrCat("http://127.0.0.1:", port, path);
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) return absl::UnavailableError(curl_easy_strerror(rc));
  if (code != 200) return absl::UnavailableError(absl::StrCat("HTTP ", code));
  return body;
}

std::map<std::string, double> ParsePrometheusText(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    absl::string_view name = line.substr(0, space);
    const size_t brace = name.find('{');
    if (brace != absl::string_view::npos) name = name.substr(0, brace);
    double value = 0;
    if (!absl::SimpleAtod(line.substr(space + 1), &value)) continue;
    out[std::string(name)] = value;
    // Labelled samples also under their full name, e.g. a{b="c"}.
    if (brace != absl::string_view::npos) out[std::string(line.substr(0, space))] = value;
  }
  return out;
}

}  // namespace mast::testing
