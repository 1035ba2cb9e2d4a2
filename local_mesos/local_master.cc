#include "local_mesos/local_master.h"

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <system_error>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "common/log.h"
#include "local_mesos/json.h"
#include "local_mesos/master_state.h"

namespace mast::local {

namespace mesos_v1 = ::mesos::v1;

namespace {

constexpr char kProtobuf[] = "application/x-protobuf";
constexpr char kJson[] = "application/json";

// Whether an `Accept` header allows `type` (libprocess' rule: no header accepts anything; the
// most specific matching media range decides, by its q value).
bool Accepts(const std::optional<std::string>& accept, absl::string_view type) {
  if (!accept.has_value()) return true;
  const std::pair<absl::string_view, absl::string_view> wanted = absl::StrSplit(type, '/');
  int best_specificity = -1;
  double best_q = 0;
  for (absl::string_view range : absl::StrSplit(*accept, ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> params = absl::StrSplit(range, ';');
    absl::string_view media = absl::StripAsciiWhitespace(params[0]);
    double q = 1.0;
    for (size_t i = 1; i < params.size(); ++i) {
      absl::string_view param = absl::StripAsciiWhitespace(params[i]);
      if (absl::StartsWithIgnoreCase(param, "q=")) {
        if (!absl::SimpleAtod(param.substr(2), &q)) q = 0;
      }
    }
    const std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(media, '/');
    int specificity = -1;
    if (absl::EqualsIgnoreCase(parts.first, wanted.first) &&
        absl::EqualsIgnoreCase(parts.second, wanted.second)) {
      specificity = 2;
    } else if (absl::EqualsIgnoreCase(parts.first, wanted.first) && parts.second == "*") {
      specificity = 1;
    } else if (parts.first == "*" && parts.second == "*") {
      specificity = 0;
    }
    if (specificity > best_specificity) {
      best_specificity = specificity;
      best_q = q;
    }
  }
  return best_specificity >= 0 && best_q > 0;
}

// §2.2: what the master checks before dispatching.
std::optional<std::string> ValidateCall(const mesos_v1::scheduler::Call& call) {
  using Call = mesos_v1::scheduler::Call;
  if (!call.has_type()) return "Expecting 'type' to be present";
  if (call.type() == Call::SUBSCRIBE) {
    if (!call.has_subscribe()) return "Expecting 'subscribe' to be present";
    const mesos_v1::FrameworkInfo& info = call.subscribe().framework_info();
    if (call.has_framework_id() != info.has_id() ||
        (call.has_framework_id() && call.framework_id().value() != info.id().value())) {
      return "'framework_id' differs from 'subscribe.framework_info.id'";
    }
    return std::nullopt;
  }
  if (!call.has_framework_id()) return "Expecting 'framework_id' to be present";
  auto require = [](bool present, const char* name) -> std::optional<std::string> {
    if (present) return std::nullopt;
    return absl::StrCat("Expecting '", name, "' to be present");
  };
  switch (call.type()) {
    case Call::ACCEPT:
      return require(call.has_accept(), "accept");
    case Call::DECLINE:
      return require(call.has_decline(), "decline");
    case Call::ACCEPT_INVERSE_OFFERS:
      return require(call.has_accept_inverse_offers(), "accept_inverse_offers");
    case Call::DECLINE_INVERSE_OFFERS:
      return require(call.has_decline_inverse_offers(), "decline_inverse_offers");
    case Call::KILL:
      return require(call.has_kill(), "kill");
    case Call::SHUTDOWN:
      return require(call.has_shutdown(), "shutdown");
    case Call::ACKNOWLEDGE:
      if (!call.has_acknowledge()) return require(false, "acknowledge");
      if (call.acknowledge().uuid().size() != 16) return "Not a valid UUID";
      return std::nullopt;
    case Call::ACKNOWLEDGE_OPERATION_STATUS:
      if (!call.has_acknowledge_operation_status()) {
        return require(false, "acknowledge_operation_status");
      }
      if (call.acknowledge_operation_status().uuid().size() != 16) return "Not a valid UUID";
      if (!call.acknowledge_operation_status().has_agent_id()) {
        return "ACKNOWLEDGE_OPERATION_STATUS call must include an 'agent_id'";
      }
      return std::nullopt;
    case Call::RECONCILE:
      return require(call.has_reconcile(), "reconcile");
    case Call::RECONCILE_OPERATIONS:
      return require(call.has_reconcile_operations(), "reconcile_operations");
    case Call::MESSAGE:
      return require(call.has_message(), "message");
    case Call::REQUEST:
      return require(call.has_request(), "request");
    case Call::UPDATE_FRAMEWORK:
      if (!call.has_update_framework()) return require(false, "update_framework");
      if (call.update_framework().framework_info().id().value() != call.framework_id().value()) {
        return "'framework_id' differs from 'update_framework.framework_info.id'";
      }
      return std::nullopt;
    case Call::SUBSCRIBE:
    case Call::TEARDOWN:
    case Call::REVIVE:
    case Call::SUPPRESS:
    case Call::UNKNOWN:
      return std::nullopt;
  }
  return std::nullopt;
}

// §1.3 rows 3-6: the method, the Content-Type, the body and the call's own checks. The answer
// to a request that fails one of them, else nullopt with `call` parsed.
std::optional<HttpResponse> ParseCall(const HttpRequest& request, mesos_v1::scheduler::Call* call) {
  // Row 3.
  if (request.method != "POST") {
    HttpResponse response = TextResponse(
        405, absl::StrCat("Expecting one of { 'POST' }, but received '", request.method, "'"));
    response.headers.emplace_back("Allow", "POST");
    return response;
  }
  // Row 4.
  std::optional<std::string> content_type = request.Header("Content-Type");
  if (!content_type.has_value()) {
    return TextResponse(400, "Expecting 'Content-Type' to be present");
  }
  if (*content_type != kProtobuf && *content_type != kJson) {
    return TextResponse(415,
                        "Expecting 'Content-Type' of application/json or application/x-protobuf");
  }
  // Row 5.
  if (*content_type == kProtobuf) {
    if (!call->ParseFromString(request.body)) {
      return TextResponse(400, "Failed to parse body into Call protobuf");
    }
  } else if (absl::Status status = ParseMesosJson(request.body, call, "Call"); !status.ok()) {
    return TextResponse(400, std::string(status.message()));
  }
  // Row 6.
  if (std::optional<std::string> error = ValidateCall(*call); error.has_value()) {
    return TextResponse(400, absl::StrCat("Failed to validate scheduler::Call: ", *error));
  }
  return std::nullopt;
}

std::string NewStreamId() {
  thread_local absl::BitGen gen;
  std::string bytes(16, '\0');
  for (char& c : bytes) c = static_cast<char>(absl::Uniform<uint8_t>(gen));
  bytes[6] = static_cast<char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<char>((bytes[8] & 0x3f) | 0x80);
  std::string hex = absl::BytesToHexString(bytes);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

std::string VersionJson() {
  JsonWriter json;
  json.BeginObject()
      .Key("build_date")
      .String("local")
      .Key("build_time")
      .Number(0)
      .Key("build_user")
      .String("mast")
      .Key("version")
      .String(kMesosVersion)
      .EndObject();
  return json.str();
}

HttpResponse JsonResponse(std::string body) {
  HttpResponse response;
  response.status = 200;
  response.headers = {{"Content-Type", kJson}};
  response.body = std::move(body);
  return response;
}

}  // namespace

absl::Status ValidateLocalMasterConfig(const LocalMasterConfig& config) {
  if (config.address.empty()) return absl::InvalidArgumentError("address: must not be empty");
  if (config.agents < 0) return absl::InvalidArgumentError("agents: must be >= 0");
  if (config.agents > 10000) return absl::InvalidArgumentError("agents: must be <= 10000");
  absl::StatusOr<Resources> resources = Resources::Parse(config.agent_resources);
  if (!resources.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("agent_resources: ", resources.status().message()));
  }
  for (const auto& [name, value] : config.agent_attributes) {
    if (name.empty() || value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("agent_attributes: '", name, ":", value, "' needs a name and a value"));
    }
  }
  if (config.heartbeat_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("heartbeat_interval: must be > 0");
  }
  if (config.update_retry_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("update_retry_interval: must be > 0");
  }
  if (config.allocation_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("allocation_interval: must be >= 0");
  }
  if (config.default_kill_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("default_kill_grace: must be >= 0");
  }
  if (config.restart_recovery < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("restart_recovery: must be >= 0");
  }
  if (config.max_body_bytes == 0) return absl::InvalidArgumentError("max_body_bytes: must be > 0");
  return absl::OkStatus();
}

LocalMaster::LocalMaster(LocalMasterConfig config, Clock& clock)
    : config_(std::move(config)), clock_(clock) {}

absl::StatusOr<std::unique_ptr<LocalMaster>> LocalMaster::Start(LocalMasterConfig config,
                                                                Clock& clock) {
  if (absl::Status status = ValidateLocalMasterConfig(config); !status.ok()) return status;
  Resources resources = *Resources::Parse(config.agent_resources);
  std::unique_ptr<LocalMaster> master(new LocalMaster(config, clock));
  std::string work_dir = config.work_dir;
  if (config.execute && work_dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "mast-local-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("work_dir: cannot create a temporary directory"));
    }
    work_dir = pattern;
    master->temp_work_dir_ = work_dir;
  } else if (config.execute) {
    std::error_code ec;
    std::filesystem::create_directories(work_dir, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("work_dir: cannot create '", work_dir, "': ", ec.message()));
    }
  }
  master->loop_ = std::make_unique<EventLoop>(clock, "local-master");
  LocalMaster* raw = master.get();
  master->state_ = std::make_unique<State>(master->config_, std::move(resources), *master->loop_,
                                           work_dir, [raw] {
                                             absl::MutexLock lock(&raw->front_mu_);
                                             raw->recovering_ = false;
                                           });
  HttpServerConfig server_config;
  server_config.address = config.address;
  server_config.max_body_bytes = config.max_body_bytes;
  absl::StatusOr<HttpServerPtr> server =
      HttpServer::Start(server_config, [raw](const HttpRequest& request, HttpExchange& exchange) {
        raw->Handle(request, exchange);
      });
  if (!server.ok()) return server.status();
  master->server_ = std::move(*server);
  master->port_ = master->server_->port();
  master->RunSync([raw] { raw->state_->SetPort(raw->port_); });
  {
    absl::MutexLock lock(&master->front_mu_);
    master->recovering_ = false;  // requests that came before this got 503
  }
  LogInfo("local_master_started", {{"url", master->url()},
                                   {"master_id", master->master_id()},
                                   {"agents", config.agents},
                                   {"execute", config.execute}});
  return master;
}

LocalMaster::~LocalMaster() {
  {
    absl::MutexLock lock(&front_mu_);
    stopping_ = true;  // wakes every handler waiting on the loop
  }
  if (server_) server_->Stop();  // joins the connection threads (handlers return at once now)
  if (loop_) {
    RunSync([this] { state_->Shutdown(); });
    loop_->Stop();
  }
  state_.reset();  // joins task waiters; their completions are dropped by the stopped loop
  loop_.reset();
  if (!temp_work_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_work_dir_, ec);
  }
  if (server_) LogInfo("local_master_stopped", {{"port", port_.load()}});
}

int LocalMaster::port() const { return port_; }

std::string LocalMaster::url() const {
  std::string host = config_.address.substr(0, config_.address.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "localhost") host = "127.0.0.1";
  return absl::StrCat("http://", host, ":", port_.load());
}

std::string LocalMaster::master_id() const {
  std::string id;
  RunSync([this, &id] { id = state_->master_id(); });
  return id;
}

void LocalMaster::RunSync(absl::AnyInvocable<void()> fn) const {
  if (loop_->InLoopThread()) {
    fn();
    return;
  }
  absl::Notification done;
  loop_->Post([&fn, &done] {
    fn();
    done.Notify();
  });
  done.WaitForNotification();
}

HttpResponse LocalMaster::AskLoop(absl::AnyInvocable<HttpResponse()> fn, absl::Duration delay) {
  struct Pending {
    bool done = false;
    HttpResponse response;
  };
  auto pending = std::make_shared<Pending>();
  auto task = [this, pending, fn = std::move(fn)]() mutable {
    HttpResponse response = fn();
    absl::MutexLock lock(&front_mu_);
    pending->response = std::move(response);
    pending->done = true;
  };
  if (delay > absl::ZeroDuration()) {
    loop_->RunAfter(delay, std::move(task));
  } else {
    loop_->Post(std::move(task));
  }
  absl::MutexLock lock(&front_mu_);
  auto ready = [&]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(front_mu_) { return pending->done || stopping_; };
  front_mu_.Await(absl::Condition(&ready));
  if (!pending->done) return TextResponse(503, "Master is shutting down");
  return std::move(pending->response);
}

HttpResponse LocalMaster::HandleFault(const HttpRequest& request) {
  if (request.method != "POST") {
    HttpResponse response = TextResponse(405, "");
    response.headers.emplace_back("Allow", "POST");
    return response;
  }
  // The query's parameters, e.g. "?index=1&on=0".
  std::map<std::string, std::string> query;
  size_t question = request.target.find('?');
  if (question != std::string::npos) {
    for (absl::string_view pair : absl::StrSplit(
             absl::string_view(request.target).substr(question + 1), '&', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
      query[kv.first] = kv.second;
    }
  }
  auto flag = [&](const std::string& key) {
    auto it = query.find(key);
    return it == query.end() || (it->second != "0" && it->second != "false");
  };
  auto number = [&](const std::string& key, int64_t& out) {
    auto it = query.find(key);
    return it != query.end() && absl::SimpleAtoi(it->second, &out);
  };
  const std::string fault = request.path.substr(std::string("/faults/").size());
  int64_t n = 0;
  if (fault == "drop-subscriptions") {
    DropSubscriptions();
  } else if (fault == "heartbeats") {
    SetHeartbeats(flag("enabled"));
  } else if (fault == "redirect") {
    auto it = query.find("leader");
    SetRedirect(it == query.end() || it->second.empty() ? std::nullopt
                                                        : std::optional<std::string>(it->second));
  } else if (fault == "unavailable") {
    SetUnavailable(flag("on"));
  } else if (fault == "rescind-offers") {
    RescindAllOffers();
  } else if (fault == "disconnect-agent" || fault == "reconnect-agent" || fault == "remove-agent") {
    if (!number("index", n) || n < 0 || n >= config_.agents) {
      return TextResponse(
          400, absl::StrCat("index: must be an agent index in [0, ", config_.agents, ")"));
    }
    int index = static_cast<int>(n);
    if (fault == "disconnect-agent") DisconnectAgent(index);
    if (fault == "reconnect-agent") ReconnectAgent(index);
    if (fault == "remove-agent") RemoveAgent(index);
  } else if (fault == "restart") {
    Restart(flag("keep_state"));
  } else if (fault == "duplicate-updates") {
    SetDuplicateUpdates(flag("on"));
  } else if (fault == "call-delay") {
    if (!number("ms", n) || n < 0) return TextResponse(400, "ms: must be a number >= 0");
    SetCallDelay(absl::Milliseconds(n));
  } else if (fault == "health-checks") {
    auto task = query.find("task");
    if (task != query.end() && !task->second.empty()) {
      SetHealthChecksFailing(task->second, flag("fail"));
    } else if (number("agent", n) && n >= 0 && n < config_.agents) {
      SetAgentHealthChecksFailing(static_cast<int>(n), flag("fail"));
    } else {
      return TextResponse(400, absl::StrCat("task=ID or agent=i (an agent index in [0, ",
                                            config_.agents, ")) is required"));
    }
  } else if (fault == "checks") {
    auto task = query.find("task");
    if (task == query.end() || task->second.empty()) {
      return TextResponse(400, "task=ID is required");
    }
    SetChecksFailing(task->second, flag("fail"));
  } else {
    return TextResponse(404, absl::StrCat("no fault named '", fault, "'"));
  }
  LogInfo("local_master_fault_injected", {{"fault", fault}, {"target", request.target}});
  return TextResponse(200, "");
}

enum class LocalMaster::Route {
  kVersion,     // GET /version: answered even by a master that does not lead
  kFault,       // POST /faults/<name>, with fault_endpoints
  kRedirect,    // /redirect: 307 to the leading master
  kScheduler,   // the v1 scheduler API
  kState,       // /master/state
  kFrameworks,  // /master/frameworks
  kTasks,       // /master/tasks
};

std::optional<LocalMaster::Route> LocalMaster::FindRoute(absl::string_view path,
                                                         bool fault_endpoints) {
  static constexpr std::pair<absl::string_view, Route> kRoutes[] = {
      {"/version", Route::kVersion},
      {"/redirect", Route::kRedirect},
      {"/api/v1/scheduler", Route::kScheduler},
      {"/master/api/v1/scheduler", Route::kScheduler},
      {"/master/state", Route::kState},
      {"/master/state.json", Route::kState},
      {"/state", Route::kState},
      {"/state.json", Route::kState},
      {"/master/frameworks", Route::kFrameworks},
      {"/frameworks", Route::kFrameworks},
      {"/master/tasks", Route::kTasks},
      {"/tasks", Route::kTasks},
  };
  if (fault_endpoints && absl::StartsWith(path, "/faults/")) return Route::kFault;
  for (const auto& [route_path, route] : kRoutes) {
    if (route_path == path) return route;
  }
  return std::nullopt;
}

void LocalMaster::Handle(const HttpRequest& request, HttpExchange& exchange) {
  std::optional<std::string> redirect;
  bool unavailable, recovering, stopping;
  absl::Duration delay;
  {
    absl::MutexLock lock(&front_mu_);
    redirect = redirect_;
    unavailable = unavailable_;
    recovering = recovering_;
    stopping = stopping_;
    delay = call_delay_;
  }
  const std::optional<Route> route = FindRoute(request.path, config_.fault_endpoints);
  if (stopping) {
    exchange.Respond(TextResponse(503, "Master is shutting down"));
    return;
  }
  if (route == Route::kVersion) {
    exchange.Respond(JsonResponse(VersionJson()));
    return;
  }
  if (route == Route::kFault) {
    exchange.Respond(HandleFault(request));
    return;
  }
  // §1.3 rows 1 and 1b: a master that does not lead redirects any method, or has no leader.
  if (redirect.has_value()) {
    HttpResponse response = TextResponse(307, "");
    std::string location = absl::StrCat("//", *redirect);
    if (route != Route::kRedirect) location += request.target;
    response.headers.emplace_back("Location", location);
    exchange.Respond(std::move(response));
    return;
  }
  if (unavailable) {
    exchange.Respond(TextResponse(503, "No leader elected"));
    return;
  }
  if (route == Route::kRedirect) {
    HttpResponse response = TextResponse(307, "");
    response.headers.emplace_back("Location", url().substr(5));  // "//host:port"
    exchange.Respond(std::move(response));
    return;
  }
  if (!route.has_value()) {
    exchange.Respond(TextResponse(404, ""));
    return;
  }
  // Row 2: a new leader that has not recovered yet.
  if (recovering) {
    exchange.Respond(TextResponse(503, "Master has not finished recovery"));
    return;
  }
  if (route == Route::kScheduler) {
    HandleSchedulerCall(request, exchange, delay);
    return;
  }
  exchange.Respond(ReadState(request, *route));
}

HttpResponse LocalMaster::ReadState(const HttpRequest& request, Route route) {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse response = TextResponse(
        405, absl::StrCat("Expecting one of { 'GET' }, but received '", request.method, "'"));
    response.headers.emplace_back("Allow", "GET");
    return response;
  }
  return AskLoop(
      [this, route] {
        if (route == Route::kFrameworks) return JsonResponse(state_->FrameworksJson());
        if (route == Route::kTasks) return JsonResponse(state_->TasksJson());
        return JsonResponse(state_->StateJson());
      },
      absl::ZeroDuration());
}

void LocalMaster::HandleSchedulerCall(const HttpRequest& request, HttpExchange& exchange,
                                      absl::Duration delay) {
  mesos_v1::scheduler::Call call;
  if (std::optional<HttpResponse> error = ParseCall(request, &call)) {
    exchange.Respond(std::move(*error));
    return;
  }
  if (call.type() == mesos_v1::scheduler::Call::SUBSCRIBE) {
    StartSubscription(request, exchange, std::move(call));
    return;
  }
  // Rows 10-14 need the master's state.
  std::optional<std::string> stream_id = request.Header("Mesos-Stream-Id");
  exchange.Respond(AskLoop(
      [this, call = std::move(call), stream_id] { return state_->HandleCall(call, stream_id); },
      delay));
}

void LocalMaster::StartSubscription(const HttpRequest& request, HttpExchange& exchange,
                                    mesos_v1::scheduler::Call call) {
  // Row 7: JSON is tried first, so a missing Accept gets JSON.
  std::optional<std::string> accept = request.Header("Accept");
  bool json;
  if (Accepts(accept, kJson)) {
    json = true;
  } else if (Accepts(accept, kProtobuf)) {
    json = false;
  } else {
    exchange.Respond(TextResponse(
        406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"));
    return;
  }
  // Row 8.
  if (request.Header("Mesos-Stream-Id").has_value()) {
    exchange.Respond(
        TextResponse(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header"));
    return;
  }
  // Row 9: 200 at once; the rest arrives as events.
  std::string stream_id = NewStreamId();
  std::shared_ptr<ResponseStream> stream = exchange.StartStream(
      200, {{"Content-Type", json ? kJson : kProtobuf}, {"Mesos-Stream-Id", stream_id}});
  loop_->Post([this, call = std::move(call), stream = std::move(stream), stream_id, json] {
    state_->Subscribe(call, stream, stream_id, json);
  });
}

void LocalMaster::DropSubscriptions() {
  RunSync([this] { state_->DropSubscriptions(); });
}

void LocalMaster::SetHeartbeats(bool enabled) {
  RunSync([this, enabled] { state_->SetHeartbeats(enabled); });
}

void LocalMaster::SetRedirect(std::optional<std::string> leader) {
  LogInfo("local_master_redirect", {{"leader", leader.value_or("(none: leading)")}});
  absl::MutexLock lock(&front_mu_);
  redirect_ = std::move(leader);
}

void LocalMaster::SetUnavailable(bool on) {
  LogInfo("local_master_unavailable", {{"on", on}});
  absl::MutexLock lock(&front_mu_);
  unavailable_ = on;
}

void LocalMaster::RescindAllOffers() {
  RunSync([this] { state_->RescindAllOffers(); });
}

void LocalMaster::DisconnectAgent(int index) {
  RunSync([this, index] { state_->DisconnectAgent(index); });
}

void LocalMaster::ReconnectAgent(int index) {
  RunSync([this, index] { state_->ReconnectAgent(index); });
}

void LocalMaster::RemoveAgent(int index) {
  RunSync([this, index] { state_->RemoveAgent(index); });
}

void LocalMaster::Restart(bool keep_state) {
  {
    absl::MutexLock lock(&front_mu_);
    recovering_ = true;
  }
  RunSync([this, keep_state] { state_->Restart(keep_state); });
}

void LocalMaster::SetDuplicateUpdates(bool on) {
  RunSync([this, on] { state_->SetDuplicateUpdates(on); });
}

void LocalMaster::SetHealthChecksFailing(const std::string& task_id, bool failing) {
  RunSync([this, &task_id, failing] { state_->SetTaskChecksFailing(task_id, failing); });
}

void LocalMaster::SetChecksFailing(const std::string& task_id, bool failing) {
  RunSync([this, &task_id, failing] { state_->SetTaskCheckOnlyFailing(task_id, failing); });
}

void LocalMaster::SetAgentHealthChecksFailing(int index, bool failing) {
  RunSync([this, index, failing] { state_->SetAgentChecksFailing(index, failing); });
}

void LocalMaster::SetCallDelay(absl::Duration delay) {
  absl::MutexLock lock(&front_mu_);
  call_delay_ = std::max(delay, absl::ZeroDuration());
}

LocalMaster::Stats LocalMaster::stats() const {
  Stats stats;
  RunSync([this, &stats] { stats = state_->stats(); });
  return stats;
}

std::vector<LocalMaster::TaskView> LocalMaster::tasks() const {
  std::vector<TaskView> tasks;
  RunSync([this, &tasks] { tasks = state_->tasks(); });
  return tasks;
}

}  // namespace mast::local
