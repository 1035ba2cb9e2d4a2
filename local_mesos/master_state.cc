// The local master's frameworks, subscription streams, call dispatch, restart and the JSON
// endpoints. Offers, tasks and agents are in master_tasks.cc.

#include "local_mesos/master_state.h"

#include <arpa/inet.h>
#include <signal.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "scheduler/mesos/recordio.h"

namespace mast::local {

namespace mesos_v1 = ::mesos::v1;
using Call = mesos_v1::scheduler::Call;
using Event = mesos_v1::scheduler::Event;

namespace {

constexpr size_t kMaxCompletedFrameworks = 50;  // the master's --max_completed_frameworks
constexpr char kVersion[] = "1.11.0";

std::string Host(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0" || host == "localhost") host = "127.0.0.1";
  return host;
}

// The state endpoints write a `Labels` message as its bare list, `[{"key":..,"value":..}]`, not
// as the message `{"labels": [...]}`: Mesos' master has a JSON overload for Labels that does
// this (for TaskInfo.labels and FrameworkInfo.labels), and tools reading /master/tasks and
// /master/frameworks expect the list. Messages nested deeper (discovery, container) keep the
// plain protobuf form there too, so they go through MesosJson unchanged.
std::string LabelsJson(const mesos_v1::Labels& labels) {
  JsonWriter json;
  json.BeginArray();
  for (const mesos_v1::Label& label : labels.labels()) json.Raw(MesosJson(label));
  json.EndArray();
  return json.str();
}

}  // namespace

HttpResponse TextResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  if (!body.empty()) response.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
  response.body = std::move(body);
  return response;
}

std::optional<std::string> ValidateId(const std::string& id) {
  if (id.empty()) return "ID must not be empty";
  if (id.size() > 255) return "ID must not be greater than 255 characters";
  if (id == "." || id == "..") return absl::StrCat("'", id, "' is disallowed");
  for (char c : id) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\' || u < 0x20 || u == 0x7f) {
      return absl::StrCat("'", id, "' contains invalid characters");
    }
  }
  return std::nullopt;
}

std::optional<std::string> ValidateRole(const std::string& role) {
  if (role == "*") return std::nullopt;
  if (role.empty()) return "Empty role name is invalid";
  for (char c : role) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return absl::StrCat("Role '", role, "' contains invalid characters");
    }
  }
  if (role.front() == '/' || role.back() == '/') {
    return absl::StrCat("Role '", role, "' cannot start or end with a slash");
  }
  for (absl::string_view part : absl::StrSplit(role, '/')) {
    if (part.empty()) return absl::StrCat("Role '", role, "' cannot contain empty components");
    if (part == "." || part == "..") {
      return absl::StrCat("Role '", role, "' cannot contain '.' or '..' components");
    }
    if (part == "*") return absl::StrCat("Role '", role, "' cannot contain a '*' component");
    if (part.front() == '-') {
      return absl::StrCat("Role '", role, "' cannot have a component starting with '-'");
    }
  }
  return std::nullopt;
}

bool HasCapability(const mesos_v1::FrameworkInfo& info,
                   mesos_v1::FrameworkInfo::Capability::Type type) {
  for (const auto& capability : info.capabilities()) {
    if (capability.type() == type) return true;
  }
  return false;
}

// FrameworkInfo.role is deprecated in the proto, and still the role of non-MULTI_ROLE
// frameworks.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
const std::string& LegacyRole(const mesos_v1::FrameworkInfo& info) { return info.role(); }
bool HasLegacyRole(const mesos_v1::FrameworkInfo& info) { return info.has_role(); }
#pragma GCC diagnostic pop

std::vector<std::string> FrameworkRoles(const mesos_v1::FrameworkInfo& info) {
  if (HasCapability(info, mesos_v1::FrameworkInfo::Capability::MULTI_ROLE)) {
    return {info.roles().begin(), info.roles().end()};
  }
  return {LegacyRole(info)};
}

bool IsTerminal(mesos_v1::TaskState state) {
  switch (state) {
    case mesos_v1::TASK_FINISHED:
    case mesos_v1::TASK_FAILED:
    case mesos_v1::TASK_KILLED:
    case mesos_v1::TASK_LOST:
    case mesos_v1::TASK_ERROR:
    case mesos_v1::TASK_DROPPED:
    case mesos_v1::TASK_GONE:
    case mesos_v1::TASK_GONE_BY_OPERATOR:
      return true;
    default:
      return false;
  }
}

std::optional<std::string> ValidateFrameworkInfo(
    const mesos_v1::FrameworkInfo& info, const std::vector<std::string>& suppressed,
    const mesos_v1::scheduler::OfferConstraints* constraints) {
  const bool multi_role = HasCapability(info, mesos_v1::FrameworkInfo::Capability::MULTI_ROLE);
  if (multi_role && HasLegacyRole(info)) {
    return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable";
  }
  if (!multi_role && info.roles_size() > 0) {
    return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable";
  }
  std::set<std::string> seen, duplicates;
  for (const std::string& role : info.roles()) {
    if (!seen.insert(role).second) duplicates.insert(role);
  }
  if (!duplicates.empty()) {
    return absl::StrCat("'FrameworkInfo.roles' contains duplicate items: { ",
                        absl::StrJoin(duplicates, ", "), " }");
  }
  for (const std::string& role : FrameworkRoles(info)) {
    if (std::optional<std::string> error = ValidateRole(role)) {
      return absl::StrCat("'FrameworkInfo.role", multi_role ? "s" : "", "' is not valid: ", *error);
    }
  }
  if (info.has_id()) {
    if (std::optional<std::string> error = ValidateId(info.id().value())) return error;
  }
  const double timeout = info.failover_timeout();
  if (!std::isfinite(timeout) ||
      std::fabs(timeout) * 1e9 >= static_cast<double>(std::numeric_limits<int64_t>::max())) {
    return absl::StrFormat("The framework failover_timeout (%g) is invalid", timeout);
  }
  const std::vector<std::string> roles = FrameworkRoles(info);
  const std::set<std::string> role_set(roles.begin(), roles.end());
  for (const std::string& role : suppressed) {
    if (role_set.count(role) == 0) {
      return absl::StrCat("Suppressed role '", role, "' is not contained in the list of roles");
    }
  }
  for (const auto& [role, unused] : info.offer_filters()) {
    if (role_set.count(role) == 0) {
      return absl::StrCat("Offer filters for role '", role,
                          "' are set but the framework is not subscribed to it");
    }
  }
  if (constraints != nullptr) {
    for (const auto& [role, role_constraints] : constraints->role_constraints()) {
      if (role_set.count(role) == 0) {
        return absl::StrCat("Offer constraints specified for role '", role,
                            "' which the framework is not subscribed to");
      }
      if (role_constraints.groups_size() == 0) {
        return absl::StrCat("Offer constraints for role '", role, "' have no groups");
      }
      for (const auto& group : role_constraints.groups()) {
        if (group.attribute_constraints_size() == 0) {
          return absl::StrCat("Offer constraints for role '", role, "' have an empty group");
        }
        for (const auto& constraint : group.attribute_constraints()) {
          if (constraint.selector().selector_case() ==
                  mesos_v1::scheduler::AttributeConstraint::Selector::SELECTOR_NOT_SET ||
              constraint.predicate().predicate_case() ==
                  mesos_v1::scheduler::AttributeConstraint::Predicate::PREDICATE_NOT_SET) {
            return "An attribute constraint needs a selector and a predicate";
          }
          const auto& predicate = constraint.predicate();
          const std::string* regex =
              predicate.has_text_matches()       ? &predicate.text_matches().regex()
              : predicate.has_text_not_matches() ? &predicate.text_not_matches().regex()
                                                 : nullptr;
          if (regex != nullptr) {
            try {
              std::regex compiled(*regex, std::regex::ECMAScript);
            } catch (const std::regex_error& e) {
              return absl::StrCat("Invalid regex '", *regex, "': ", e.what());
            }
          }
        }
      }
    }
  }
  return std::nullopt;
}

LocalMaster::State::State(const LocalMasterConfig& config, Resources agent_resources,
                          EventLoop& loop, std::string work_dir, std::function<void()> on_recovered)
    : config_(config),
      loop_(loop),
      work_dir_(std::move(work_dir)),
      on_recovered_(std::move(on_recovered)) {
  if (config_.execute) runner_ = std::make_unique<TaskRunner>();
  master_id_ = NewUuid();
  start_time_ = elected_time_ = loop_.clock().Now();
  agents_.resize(static_cast<size_t>(config_.agents));
  for (int i = 0; i < config_.agents; ++i) {
    Agent& agent = agents_[static_cast<size_t>(i)];
    agent.index = i;
    agent.id = absl::StrCat(master_id_, "-S", i);
    agent.hostname = absl::StrCat("agent-", i);
    agent.total = agent_resources;
    agent.registered_time = start_time_;
  }
}

LocalMaster::State::~State() = default;

void LocalMaster::State::SetPort(int port) { port_ = port; }

std::string LocalMaster::State::RandomBytes(size_t n) {
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(absl::Uniform<uint8_t>(bitgen_));
  return bytes;
}

std::string LocalMaster::State::NewUuid() {
  std::string bytes = RandomBytes(16);
  bytes[6] = static_cast<char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<char>((bytes[8] & 0x3f) | 0x80);
  std::string hex = absl::BytesToHexString(bytes);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

double LocalMaster::State::NowSeconds() const {
  return absl::ToDoubleSeconds(loop_.clock().Now() - absl::UnixEpoch());
}

mesos_v1::MasterInfo LocalMaster::State::MasterInfo() const {
  mesos_v1::MasterInfo info;
  const std::string host = Host(config_.address);
  info.set_id(master_id_);
  in_addr addr{};
  info.set_ip(::inet_pton(AF_INET, host.c_str(), &addr) == 1 ? addr.s_addr : 0);
  info.set_port(static_cast<uint32_t>(port_));
  info.set_pid(absl::StrCat("master@", host, ":", port_));
  info.set_hostname(host);
  info.set_version(kVersion);
  info.mutable_address()->set_hostname(host);
  info.mutable_address()->set_ip(host);
  info.mutable_address()->set_port(port_);
  for (auto type : {mesos_v1::MasterInfo::Capability::AGENT_UPDATE,
                    mesos_v1::MasterInfo::Capability::AGENT_DRAINING,
                    mesos_v1::MasterInfo::Capability::QUOTA_V2}) {
    info.add_capabilities()->set_type(type);
  }
  return info;
}

LocalMaster::State::Framework* LocalMaster::State::FindFramework(const std::string& id) {
  auto it = frameworks_.find(id);
  return it == frameworks_.end() ? nullptr : it->second.get();
}

const LocalMaster::State::Framework* LocalMaster::State::FindFramework(
    const std::string& id) const {
  auto it = frameworks_.find(id);
  return it == frameworks_.end() ? nullptr : it->second.get();
}

namespace {

std::string EncodeEvent(const Event& event, bool json) {
  return mesos::RecordIoEncode(json ? MesosJson(event) : event.SerializeAsString());
}

}  // namespace

void LocalMaster::State::SendEvent(Framework& framework, const Event& event) {
  if (!framework.connected || !framework.stream) return;
  framework.stream->Write(EncodeEvent(event, framework.json));
}

void LocalMaster::State::SendError(const std::shared_ptr<ResponseStream>& stream, bool json,
                                   const std::string& message) {
  Event event;
  event.set_type(Event::ERROR);
  event.mutable_error()->set_message(message);
  stream->Write(EncodeEvent(event, json));
}

void LocalMaster::State::BindStream(Framework& framework, std::shared_ptr<ResponseStream> stream,
                                    const std::string& stream_id, bool json) {
  const uint64_t generation = ++framework.generation;
  framework.stream = std::move(stream);
  framework.stream_id = stream_id;
  framework.json = json;
  framework.connected = true;
  loop_.Cancel(framework.failover_timer);
  framework.failover_timer = 0;
  // Runs on the connection's thread once the stream ends for any reason.
  framework.stream->OnClose([this, id = framework.id, generation] {
    loop_.Post([this, id, generation] { OnStreamClosed(id, generation); });
  });
}

void LocalMaster::State::ArmHeartbeat(Framework& framework) {
  loop_.Cancel(framework.heartbeat_timer);
  framework.heartbeat_timer = loop_.RunAfter(
      config_.heartbeat_interval, [this, id = framework.id, generation = framework.generation] {
        Framework* f = FindFramework(id);
        if (f == nullptr || f->generation != generation || !f->connected) return;
        // Arm the next one first: once the event is out, a reader (a test
        // driving a manual clock) may move time on before this task ends.
        ArmHeartbeat(*f);
        if (heartbeats_enabled_) {
          Event heartbeat;
          heartbeat.set_type(Event::HEARTBEAT);
          SendEvent(*f, heartbeat);
        }
      });
}

void LocalMaster::State::Subscribe(const Call& call, std::shared_ptr<ResponseStream> stream,
                                   const std::string& stream_id, bool json) {
  const Call::Subscribe& subscribe = call.subscribe();
  mesos_v1::FrameworkInfo info = subscribe.framework_info();
  std::vector<std::string> suppressed(subscribe.suppressed_roles().begin(),
                                      subscribe.suppressed_roles().end());
  auto refuse = [&](const std::string& message) {
    LogInfo("local_master_subscribe_refused",
            {{"framework_id", info.has_id() ? info.id().value() : std::string("(new)")},
             {"error", message}});
    SendError(stream, json, message);
    stream->Close();
  };
  if (std::optional<std::string> error = ValidateFrameworkInfo(
          info, suppressed,
          subscribe.has_offer_constraints() ? &subscribe.offer_constraints() : nullptr)) {
    refuse(*error);
    return;
  }
  Framework* framework = nullptr;
  if (info.has_id()) {
    const std::string id = info.id().value();
    if (completed_ids_.count(id) > 0) {
      refuse("Framework has been removed");
      return;
    }
    framework = FindFramework(id);
    if (framework != nullptr) {
      if (framework->info.has_principal() != info.has_principal() ||
          framework->info.principal() != info.principal()) {
        refuse("Changing framework's principal is not allowed.");
        return;
      }
      // Re-subscription: user and checkpoint keep their old values (§5.7).
      info.set_user(framework->info.user());
      if (framework->info.has_checkpoint()) {
        info.set_checkpoint(framework->info.checkpoint());
      } else {
        info.clear_checkpoint();
      }
      if (framework->connected) {
        // §5.7: the old stream gets ERROR and is closed; then the new one takes over.
        Event error;
        error.set_type(Event::ERROR);
        error.mutable_error()->set_message("Framework failed over");
        SendEvent(*framework, error);
        framework->stream->Close();
        ++stats_.failovers;
        LogInfo("local_master_framework_failed_over", {{"framework_id", id}});
      }
      // Outstanding offers are discarded without RESCIND.
      for (const std::string& offer_id : std::set<std::string>(framework->offers)) {
        RemoveOffer(offer_id, /*rescind=*/false, std::nullopt);
      }
      framework->reregistered_time = loop_.clock().Now();
      framework->recovered = false;
    } else {
      // Unknown here (e.g. a new leader): the framework is re-created with its ID.
      auto created = std::make_unique<Framework>();
      created->id = id;
      created->registered_time = loop_.clock().Now();
      framework = created.get();
      frameworks_[id] = std::move(created);
    }
  } else {
    std::string id = absl::StrFormat("%s-%04d", master_id_, next_framework_++);
    info.mutable_id()->set_value(id);
    auto created = std::make_unique<Framework>();
    created->id = id;
    created->registered_time = loop_.clock().Now();
    framework = created.get();
    frameworks_[id] = std::move(created);
  }
  framework->info = info;
  framework->suppressed = std::set<std::string>(suppressed.begin(), suppressed.end());
  framework->constraints = subscribe.offer_constraints();
  BindStream(*framework, std::move(stream), stream_id, json);

  Event subscribed;
  subscribed.set_type(Event::SUBSCRIBED);
  *subscribed.mutable_subscribed()->mutable_framework_id() = info.id();
  subscribed.mutable_subscribed()->set_heartbeat_interval_seconds(
      absl::ToDoubleSeconds(config_.heartbeat_interval));
  *subscribed.mutable_subscribed()->mutable_master_info() = MasterInfo();
  ArmHeartbeat(*framework);  // before any event goes out (see ArmHeartbeat)
  SendEvent(*framework, subscribed);
  if (heartbeats_enabled_) {
    Event heartbeat;
    heartbeat.set_type(Event::HEARTBEAT);
    SendEvent(*framework, heartbeat);
  }
  ++stats_.subscriptions;
  LogInfo("local_master_framework_subscribed", {{"framework_id", framework->id},
                                                {"name", info.name()},
                                                {"stream_id", stream_id},
                                                {"encoding", json ? "json" : "protobuf"}});
  Allocate();
  // The agents resend what the framework has not acknowledged yet.
  for (Agent& agent : agents_) {
    if (agent.status != AgentStatus::kActive) continue;
    for (auto& [key, task] : agent.tasks) {
      if (key.first != framework->id || task->updates.empty()) continue;
      task->resend_backoff = config_.update_retry_interval;
      ForwardHead(agent, *task);
    }
  }
}

void LocalMaster::State::OnStreamClosed(const std::string& framework_id, uint64_t generation) {
  Framework* framework = FindFramework(framework_id);
  if (framework == nullptr || framework->generation != generation || !framework->connected) {
    return;  // an old stream of a framework that failed over, or already handled
  }
  LogInfo("local_master_framework_disconnected", {{"framework_id", framework_id}});
  Disconnect(*framework, /*no_timer=*/false);
}

void LocalMaster::State::Disconnect(Framework& framework, bool no_timer) {
  const uint64_t generation = ++framework.generation;
  framework.connected = false;
  if (framework.stream) framework.stream->Abort();  // a no-op if it is already closed
  framework.stream.reset();
  framework.stream_id.clear();
  loop_.Cancel(framework.heartbeat_timer);
  framework.heartbeat_timer = 0;
  for (const std::string& offer_id : std::set<std::string>(framework.offers)) {
    RemoveOffer(offer_id, /*rescind=*/false, std::nullopt);
  }
  loop_.Cancel(framework.failover_timer);
  framework.failover_timer = 0;
  const double timeout = framework.info.failover_timeout();
  if (no_timer || timeout < 0) return;  // a negative timeout never fires (as observed in 1.11)
  framework.failover_timer =
      loop_.RunAfter(absl::Seconds(timeout), [this, id = framework.id, generation] {
        Framework* f = FindFramework(id);
        if (f == nullptr || f->connected || f->generation != generation) return;
        LogInfo("local_master_failover_timeout", {{"framework_id", id}});
        RemoveFramework(id);
      });
}

void LocalMaster::State::RemoveFramework(const std::string& id) {
  Framework* framework = FindFramework(id);
  if (framework == nullptr) return;
  ++framework->generation;
  for (const std::string& offer_id : std::set<std::string>(framework->offers)) {
    RemoveOffer(offer_id, /*rescind=*/false, std::nullopt);
  }
  if (framework->stream) framework->stream->Close();  // no event (TEARDOWN)
  framework->stream.reset();
  framework->connected = false;
  loop_.Cancel(framework->heartbeat_timer);
  loop_.Cancel(framework->failover_timer);
  for (auto& [key, filters] : framework->filters) {
    for (const Filter& filter : filters) loop_.Cancel(filter.timer);
  }
  framework->filters.clear();
  // The agents shut the framework's executors down: its tasks die without status updates.
  for (Agent& agent : agents_) {
    std::vector<TaskKey> keys;
    for (const auto& [key, task] : agent.tasks) {
      if (key.first == id) keys.push_back(key);
    }
    for (const TaskKey& key : keys) {
      Task& task = *agent.tasks.at(key);
      if (agent.status != AgentStatus::kGone) {
        task.master_state = mesos_v1::TASK_KILLED;
        framework->completed_tasks_json.push_back(TaskJson(task));
      }
      DestroyTask(agent, key);
    }
    for (auto it = agent.executors.begin(); it != agent.executors.end();) {
      it = it->first.first == id ? agent.executors.erase(it) : std::next(it);
    }
  }
  framework->unregistered_time = loop_.clock().Now();
  JsonWriter json;
  WriteFrameworkJson(*framework, json);
  completed_json_.push_back(json.str());
  while (completed_json_.size() > kMaxCompletedFrameworks) completed_json_.pop_front();
  completed_ids_.insert(id);
  frameworks_.erase(id);
  LogInfo("local_master_framework_removed", {{"framework_id", id}});
  ScheduleAllocation();
}

HttpResponse LocalMaster::State::HandleCall(const Call& call,
                                            const std::optional<std::string>& stream_id) {
  const std::string& id = call.framework_id().value();
  Framework* framework = FindFramework(id);
  // §1.3 rows 10, 12, 13.
  if (framework == nullptr) return TextResponse(400, "Framework cannot be found");
  if (!framework->connected) return TextResponse(403, "Framework is not subscribed");
  if (!stream_id.has_value()) {
    return TextResponse(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
  }
  if (*stream_id != framework->stream_id) {
    return TextResponse(
        400, absl::StrCat("The stream ID '", *stream_id,
                          "' included in this request didn't match the stream ID currently "
                          "associated with framework ID ",
                          id));
  }
  ++stats_.calls_by_type[Call::Type_Name(call.type())];
  switch (call.type()) {
    case Call::SUBSCRIBE:
      return TextResponse(400, "SUBSCRIBE is not a call of this connection");  // not reached
    case Call::TEARDOWN:
      RemoveFramework(id);
      return TextResponse(202, "");
    case Call::ACCEPT:
      Accept(*framework, call.accept());
      return TextResponse(202, "");
    case Call::DECLINE:
      Decline(*framework, call.decline());
      return TextResponse(202, "");
    case Call::REVIVE:
      Revive(*framework, call.revive());
      return TextResponse(202, "");
    case Call::SUPPRESS:
      Suppress(*framework, call.suppress());
      return TextResponse(202, "");
    case Call::KILL:
      Kill(*framework, call.kill());
      return TextResponse(202, "");
    case Call::ACKNOWLEDGE:
      Acknowledge(*framework, call.acknowledge());
      return TextResponse(202, "");
    case Call::RECONCILE:
      Reconcile(*framework, call.reconcile());
      return TextResponse(202, "");
    case Call::RECONCILE_OPERATIONS: {
      // No operation ever has feedback here: each one asked about is unknown.
      for (const auto& operation : call.reconcile_operations().operations()) {
        Event event;
        event.set_type(Event::UPDATE_OPERATION_STATUS);
        auto* status = event.mutable_update_operation_status()->mutable_status();
        *status->mutable_operation_id() = operation.operation_id();
        status->set_state(mesos_v1::OPERATION_UNKNOWN);
        if (operation.has_agent_id()) {
          *status->mutable_agent_id() = operation.agent_id();
          for (const Agent& agent : agents_) {
            if (agent.id != operation.agent_id().value()) continue;
            if (agent.status == AgentStatus::kUnreachable) {
              status->set_state(mesos_v1::OPERATION_UNREACHABLE);
            } else if (agent.status == AgentStatus::kGone) {
              status->set_state(mesos_v1::OPERATION_GONE_BY_OPERATOR);
            }
          }
        }
        SendEvent(*framework, event);
      }
      return TextResponse(202, "");
    }
    case Call::UPDATE_FRAMEWORK:
      return UpdateFramework(*framework, call.update_framework());
    case Call::SHUTDOWN:
    case Call::MESSAGE:
    case Call::REQUEST:
    case Call::ACCEPT_INVERSE_OFFERS:
    case Call::DECLINE_INVERSE_OFFERS:
    case Call::ACKNOWLEDGE_OPERATION_STATUS:
      // Accepted and ignored: there are no custom executors, inverse offers or operations.
      return TextResponse(202, "");
    case Call::UNKNOWN:
      return TextResponse(501, "Received an unexpected 'UNKNOWN' call");
  }
  return TextResponse(501, "Received an unexpected call");
}

HttpResponse LocalMaster::State::UpdateFramework(Framework& framework,
                                                 const Call::UpdateFramework& update) {
  const mesos_v1::FrameworkInfo& info = update.framework_info();
  std::vector<std::string> suppressed(update.suppressed_roles().begin(),
                                      update.suppressed_roles().end());
  if (std::optional<std::string> error = ValidateFrameworkInfo(
          info, suppressed,
          update.has_offer_constraints() ? &update.offer_constraints() : nullptr)) {
    return TextResponse(400, absl::StrCat("Supplied FrameworkInfo is not valid: ", *error));
  }
  const mesos_v1::FrameworkInfo& old = framework.info;
  if (info.user() != old.user()) {
    return TextResponse(400, absl::StrCat("FrameworkInfo update is not valid: Updating "
                                          "'FrameworkInfo.user' is unsupported; attempted to "
                                          "update from '",
                                          old.user(), "' to '", info.user(), "'"));
  }
  if (info.checkpoint() != old.checkpoint()) {
    return TextResponse(400, absl::StrCat("FrameworkInfo update is not valid: Updating "
                                          "'FrameworkInfo.checkpoint' is unsupported; attempted "
                                          "to update from '",
                                          old.checkpoint() ? "true" : "false", "' to '",
                                          info.checkpoint() ? "true" : "false", "'"));
  }
  if (info.has_principal() != old.has_principal() || info.principal() != old.principal()) {
    return TextResponse(
        400, "FrameworkInfo update is not valid: Changing framework's principal is not allowed.");
  }
  const std::vector<std::string> new_roles = FrameworkRoles(info);
  const std::set<std::string> new_role_set(new_roles.begin(), new_roles.end());
  const std::set<std::string> new_suppressed(suppressed.begin(), suppressed.end());
  // Offers of roles the framework leaves are rescinded.
  for (const std::string& offer_id : std::set<std::string>(framework.offers)) {
    if (new_role_set.count(offers_.at(offer_id).role) == 0) {
      RemoveOffer(offer_id, /*rescind=*/true, std::nullopt);
    }
  }
  // Roles leaving the suppressed state have their filters cleared.
  std::set<std::string> unsuppressed;
  for (const std::string& role : framework.suppressed) {
    if (new_suppressed.count(role) == 0) unsuppressed.insert(role);
  }
  ClearFilters(framework, unsuppressed);
  framework.info = info;
  framework.suppressed = new_suppressed;
  framework.constraints = update.offer_constraints();
  LogInfo("local_master_framework_updated", {{"framework_id", framework.id}});
  Allocate();
  HttpResponse response;
  response.status = 200;
  return response;
}

void LocalMaster::State::DropSubscriptions() {
  int dropped = 0;
  for (auto& [id, framework] : frameworks_) {
    if (!framework->connected) continue;
    ++dropped;
    Disconnect(*framework, /*no_timer=*/false);  // aborts the stream: no terminating chunk
  }
  LogInfo("local_master_subscriptions_dropped", {{"count", dropped}});
}

void LocalMaster::State::Restart(bool keep_state) {
  ++stats_.master_restarts;
  for (auto& [id, framework] : frameworks_) {
    if (framework->connected) Disconnect(*framework, /*no_timer=*/true);
    loop_.Cancel(framework->failover_timer);  // never persisted (MESOS-4659)
    framework->failover_timer = 0;
    for (auto& [key, filters] : framework->filters) {
      for (const Filter& filter : filters) loop_.Cancel(filter.timer);
    }
    framework->filters.clear();  // allocator state
  }
  for (const std::string& offer_id : [this] {
         std::vector<std::string> ids;
         for (const auto& [id, offer] : offers_) ids.push_back(id);
         return ids;
       }()) {
    RemoveOffer(offer_id, /*rescind=*/false, std::nullopt);
  }
  if (!keep_state) {
    frameworks_.clear();
    completed_ids_.clear();
    completed_json_.clear();
  }
  loop_.Cancel(allocation_timer_);
  allocation_scheduled_ = false;
  master_id_ = NewUuid();
  next_framework_ = 0;
  elected_time_ = loop_.clock().Now();
  recovering_ = true;
  loop_.Cancel(recovery_timer_);
  LogInfo("local_master_restarting", {{"keep_state", keep_state}, {"master_id", master_id_}});
  recovery_timer_ = loop_.RunAfter(config_.restart_recovery, [this, keep_state] {
    if (!keep_state) RecoverFrameworksFromAgents();
    OnRecovered();
  });
}

void LocalMaster::State::RecoverFrameworksFromAgents() {
  for (Agent& agent : agents_) {
    if (agent.status != AgentStatus::kActive) continue;  // a partitioned agent tells later
    for (const auto& [key, task] : agent.tasks) {
      if (frameworks_.count(key.first) > 0 || completed_ids_.count(key.first) > 0) continue;
      auto framework = std::make_unique<Framework>();
      framework->id = key.first;
      framework->info = task->framework_info;
      framework->recovered = true;
      framework->registered_time = loop_.clock().Now();
      frameworks_[key.first] = std::move(framework);
      LogInfo("local_master_framework_recovered", {{"framework_id", key.first}});
    }
  }
}

void LocalMaster::State::OnRecovered() {
  recovering_ = false;
  recovery_timer_ = 0;
  LogInfo("local_master_recovered", {{"master_id", master_id_}});
  if (on_recovered_) on_recovered_();
  Allocate();
}

void LocalMaster::State::Shutdown() {
  for (auto& [id, framework] : frameworks_) {
    ++framework->generation;
    if (framework->stream) framework->stream->Abort();
    framework->stream.reset();
    framework->connected = false;
  }
  for (Agent& agent : agents_) {
    for (auto& [key, task] : agent.tasks) {
      if (runner_ && task->process_running) runner_->Signal(task->pid, SIGKILL);
    }
  }
}

LocalMaster::Stats LocalMaster::State::stats() const {
  LocalMaster::Stats stats = stats_;
  stats.frameworks_registered = static_cast<int>(frameworks_.size());
  stats.frameworks_connected = 0;
  for (const auto& [id, framework] : frameworks_) {
    if (framework->connected) ++stats.frameworks_connected;
  }
  stats.frameworks_completed = static_cast<int>(completed_ids_.size());
  stats.offers_outstanding = static_cast<int>(offers_.size());
  return stats;
}

std::vector<LocalMaster::TaskView> LocalMaster::State::tasks() const {
  std::vector<LocalMaster::TaskView> out;
  for (const Agent& agent : agents_) {
    for (const auto& [key, task] : agent.tasks) {
      LocalMaster::TaskView view;
      view.framework_id = key.first;
      view.task_id = key.second;
      view.agent_id = agent.id;
      view.state = task->master_state;
      view.agent_state = task->agent_state;
      view.acknowledged = task->updates.empty();
      view.pending_updates = static_cast<int>(task->updates.size());
      view.sandbox = task->sandbox;
      out.push_back(std::move(view));
    }
  }
  return out;
}

// ---- JSON endpoints ----

std::string LocalMaster::State::TaskJson(const Task& task) const {
  JsonWriter json;
  json.BeginObject()
      .Key("id")
      .String(task.info.task_id().value())
      .Key("name")
      .String(task.info.name())
      .Key("framework_id")
      .String(task.framework_id)
      .Key("executor_id")
      .String(task.executor_id)
      .Key("slave_id")
      .String(agents_[static_cast<size_t>(task.agent)].id)
      .Key("state")
      .String(mesos_v1::TaskState_Name(task.master_state))
      .Key("resources")
      .Raw(task.resources.ToStateJson())
      .Key("role")
      .String(task.role);
  json.Key("statuses").BeginArray();
  for (const mesos_v1::TaskStatus& status : task.statuses) {
    json.BeginObject().Key("state").String(mesos_v1::TaskState_Name(status.state()));
    json.Key("timestamp").Number(status.timestamp());
    if (status.has_container_status()) {
      mesos_v1::ContainerStatus container = status.container_status();
      container.clear_executor_pid();
      json.Key("container_status").Raw(MesosJson(container));
    }
    json.EndObject();
  }
  json.EndArray();
  if (task.unreachable) {
    json.Key("unreachable_time").Raw(MesosJson(task.unreachable_time));
  }
  if (task.info.has_labels()) json.Key("labels").Raw(LabelsJson(task.info.labels()));
  if (task.info.has_discovery()) json.Key("discovery").Raw(MesosJson(task.info.discovery()));
  if (task.info.has_container()) json.Key("container").Raw(MesosJson(task.info.container()));
  json.EndObject();
  return json.str();
}

void LocalMaster::State::WriteFrameworkJson(const Framework& framework, JsonWriter& json) const {
  Resources used, offered;
  for (const Agent& agent : agents_) {
    for (const auto& [key, task] : agent.tasks) {
      if (key.first == framework.id && !task->released) used.Add(task->resources);
    }
  }
  for (const std::string& offer_id : framework.offers) offered.Add(offers_.at(offer_id).resources);
  Resources total = used;
  total.Add(offered);
  const mesos_v1::FrameworkInfo& info = framework.info;
  auto seconds = [](absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); };
  json.BeginObject()
      .Key("id")
      .String(framework.id)
      .Key("name")
      .String(info.name())
      .Key("used_resources")
      .Raw(used.ToStateJson())
      .Key("offered_resources")
      .Raw(offered.ToStateJson())
      .Key("capabilities")
      .BeginArray();
  for (const auto& capability : info.capabilities()) {
    json.String(mesos_v1::FrameworkInfo::Capability::Type_Name(capability.type()));
  }
  json.EndArray()
      .Key("hostname")
      .String(info.hostname())
      .Key("webui_url")
      .String(info.webui_url())
      .Key("active")
      .Bool(framework.connected)
      .Key("connected")
      .Bool(framework.connected)
      .Key("recovered")
      .Bool(framework.recovered)
      .Key("user")
      .String(info.user())
      .Key("failover_timeout")
      .Number(info.failover_timeout())
      .Key("checkpoint")
      .Bool(info.checkpoint())
      .Key("registered_time")
      .Number(seconds(framework.registered_time))
      .Key("unregistered_time")
      .Number(framework.unregistered_time ? seconds(*framework.unregistered_time) : 0.0)
      .Key("resources")
      .Raw(total.ToStateJson());
  if (info.has_principal()) json.Key("principal").String(info.principal());
  if (framework.reregistered_time) {
    json.Key("reregistered_time").Number(seconds(*framework.reregistered_time));
  }
  if (HasCapability(info, mesos_v1::FrameworkInfo::Capability::MULTI_ROLE)) {
    json.Key("roles").BeginArray();
    for (const std::string& role : info.roles()) json.String(role);
    json.EndArray();
  } else {
    json.Key("role").String(LegacyRole(info));
  }
  if (info.has_labels()) json.Key("labels").Raw(LabelsJson(info.labels()));
  json.Key("tasks").BeginArray();
  for (const Agent& agent : agents_) {
    if (agent.status != AgentStatus::kActive) continue;
    for (const auto& [key, task] : agent.tasks) {
      if (key.first == framework.id && !task->unreachable) json.Raw(TaskJson(*task));
    }
  }
  json.EndArray().Key("unreachable_tasks").BeginArray();
  for (const Agent& agent : agents_) {
    for (const auto& [key, task] : agent.tasks) {
      if (key.first == framework.id && task->unreachable) json.Raw(TaskJson(*task));
    }
  }
  json.EndArray().Key("completed_tasks").BeginArray();
  for (const std::string& task : framework.completed_tasks_json) json.Raw(task);
  json.EndArray().Key("offers").BeginArray();
  for (const std::string& offer_id : framework.offers) {
    const Offer& offer = offers_.at(offer_id);
    json.BeginObject()
        .Key("id")
        .String(offer.id)
        .Key("framework_id")
        .String(offer.framework_id)
        .Key("allocation_info")
        .BeginObject()
        .Key("role")
        .String(offer.role)
        .EndObject()
        .Key("slave_id")
        .String(agents_[static_cast<size_t>(offer.agent)].id)
        .Key("resources")
        .Raw(offer.resources.ToStateJson())
        .EndObject();
  }
  json.EndArray().Key("executors").BeginArray().EndArray();
  json.Key("offer_constraints").Raw(MesosJson(framework.constraints));
  json.EndObject();
}

std::string LocalMaster::State::FrameworksJson() const {
  JsonWriter json;
  json.BeginObject().Key("frameworks").BeginArray();
  for (const auto& [id, framework] : frameworks_) WriteFrameworkJson(*framework, json);
  json.EndArray().Key("completed_frameworks").BeginArray();
  for (auto it = completed_json_.rbegin(); it != completed_json_.rend(); ++it) json.Raw(*it);
  json.EndArray().Key("unregistered_frameworks").BeginArray().EndArray().EndObject();
  return json.str();
}

std::string LocalMaster::State::TasksJson() const {
  JsonWriter json;
  json.BeginObject().Key("tasks").BeginArray();
  for (const Agent& agent : agents_) {
    if (agent.status == AgentStatus::kGone) continue;
    for (const auto& [key, task] : agent.tasks) {
      if (FindFramework(key.first) != nullptr) json.Raw(TaskJson(*task));
    }
  }
  for (const auto& [id, framework] : frameworks_) {
    for (const std::string& task : framework->completed_tasks_json) json.Raw(task);
  }
  json.EndArray().EndObject();
  return json.str();
}

std::string LocalMaster::State::StateJson() const {
  const mesos_v1::MasterInfo info = MasterInfo();
  auto seconds = [](absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); };
  int active = 0, unreachable = 0;
  for (const Agent& agent : agents_) {
    if (agent.status == AgentStatus::kActive) ++active;
    if (agent.status == AgentStatus::kUnreachable) ++unreachable;
  }
  JsonWriter json;
  json.BeginObject()
      .Key("version")
      .String(kVersion)
      .Key("build_date")
      .String("local")
      .Key("build_time")
      .Number(0)
      .Key("build_user")
      .String("mast")
      .Key("start_time")
      .Number(seconds(start_time_))
      .Key("elected_time")
      .Number(seconds(elected_time_))
      .Key("id")
      .String(master_id_)
      .Key("pid")
      .String(info.pid())
      .Key("hostname")
      .String(info.hostname())
      .Key("capabilities")
      .BeginArray()
      .String("AGENT_UPDATE")
      .String("AGENT_DRAINING")
      .String("QUOTA_V2")
      .EndArray()
      .Key("activated_slaves")
      .Number(active)
      .Key("deactivated_slaves")
      .Number(0)
      .Key("unreachable_slaves")
      .Number(unreachable)
      .Key("leader")
      .String(info.pid())
      .Key("leader_info")
      .BeginObject()
      .Key("id")
      .String(master_id_)
      .Key("pid")
      .String(info.pid())
      .Key("port")
      .Int(port_)
      .Key("hostname")
      .String(info.hostname())
      .EndObject()
      .Key("flags")
      .BeginObject()
      .Key("allocation_interval")
      .String(absl::FormatDuration(config_.allocation_interval))
      .Key("min_allocatable_resources")
      .String("cpus:0.01|mem:32")
      .Key("max_completed_frameworks")
      .String(absl::StrCat(kMaxCompletedFrameworks))
      .Key("root_submissions")
      .String("true")
      .Key("registry")
      .String("in_memory")
      .EndObject();
  json.Key("slaves").BeginArray();
  for (const Agent& agent : agents_) {
    if (agent.status != AgentStatus::kActive) continue;
    json.BeginObject()
        .Key("id")
        .String(agent.id)
        .Key("hostname")
        .String(agent.hostname)
        .Key("port")
        .Int(0)
        .Key("attributes")
        .BeginObject();
    for (const auto& [name, value] : config_.agent_attributes) json.Key(name).String(value);
    json.EndObject()
        .Key("pid")
        .String(absl::StrCat("slave(1)@", agent.hostname, ":0"))
        .Key("registered_time")
        .Number(seconds(agent.registered_time))
        .Key("resources")
        .Raw(agent.total.ToStateJson())
        .Key("used_resources")
        .Raw(agent.used.ToStateJson())
        .Key("offered_resources")
        .Raw(agent.offered.ToStateJson())
        .Key("reserved_resources")
        .BeginObject()
        .EndObject()
        .Key("unreserved_resources")
        .Raw(agent.total.ToStateJson())
        .Key("active")
        .Bool(true)
        .Key("deactivated")
        .Bool(false)
        .Key("version")
        .String(kVersion)
        .Key("capabilities")
        .BeginArray()
        .String("MULTI_ROLE")
        .String("HIERARCHICAL_ROLE")
        .String("RESERVATION_REFINEMENT")
        .EndArray()
        .EndObject();
  }
  json.EndArray().Key("recovered_slaves").BeginArray().EndArray();
  json.Key("frameworks").BeginArray();
  for (const auto& [id, framework] : frameworks_) WriteFrameworkJson(*framework, json);
  json.EndArray().Key("completed_frameworks").BeginArray();
  for (auto it = completed_json_.rbegin(); it != completed_json_.rend(); ++it) json.Raw(*it);
  json.EndArray()
      .Key("orphan_tasks")
      .BeginArray()
      .EndArray()
      .Key("unregistered_frameworks")
      .BeginArray()
      .EndArray()
      .EndObject();
  return json.str();
}

}  // namespace mast::local
