// The local master's frameworks, subscription streams, call dispatch and restart. The JSON
// endpoints are in master_json.cc, the FrameworkInfo checks in validation.cc, the allocator and
// offers in master_offers.cc, ACCEPT in master_accept.cc, tasks and agents in master_tasks.cc.

#include "local_mesos/master_state.h"

#include <arpa/inet.h>
#include <signal.h>

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "scheduler/mesos/recordio.h"

namespace mast::local {

namespace mesos_v1 = ::mesos::v1;
using Call = mesos_v1::scheduler::Call;
using Event = mesos_v1::scheduler::Event;

namespace {

std::string Host(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0" || host == "localhost") host = "127.0.0.1";
  return host;
}

}  // namespace

HttpResponse TextResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  if (!body.empty()) response.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
  response.body = std::move(body);
  return response;
}

Event OperationStatusEvent(const mesos_v1::OperationID& operation_id,
                           mesos_v1::OperationState state, const std::string& message) {
  Event event;
  event.set_type(Event::UPDATE_OPERATION_STATUS);
  auto* status = event.mutable_update_operation_status()->mutable_status();
  *status->mutable_operation_id() = operation_id;
  status->set_state(state);
  if (!message.empty()) status->set_message(message);
  return event;
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

LocalMaster::State::State(const LocalMasterConfig& config, Resources agent_resources,
                          EventLoop& loop, std::string work_dir, std::function<void()> on_recovered)
    : config_(config),
      loop_(loop),
      work_dir_(std::move(work_dir)),
      on_recovered_(std::move(on_recovered)) {
  if (config_.execute) {
    runner_ = std::make_unique<TaskRunner>();
    prober_ = std::make_unique<NetworkProber>();
  }
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
  info.set_version(kMesosVersion);
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
  std::optional<std::string> error = ValidateFrameworkInfo(
      info, suppressed,
      subscribe.has_offer_constraints() ? &subscribe.offer_constraints() : nullptr);
  Framework* framework = nullptr;
  if (!error.has_value()) {
    absl::StatusOr<Framework*> admitted = AdmitSubscriber(info);
    if (admitted.ok()) {
      framework = *admitted;
    } else {
      error = std::string(admitted.status().message());
    }
  }
  if (error.has_value()) {
    LogInfo("local_master_subscribe_refused",
            {{"framework_id", info.has_id() ? info.id().value() : std::string("(new)")},
             {"error", *error}});
    SendError(stream, json, *error);
    stream->Close();
    return;
  }
  framework->info = info;
  framework->suppressed = std::set<std::string>(suppressed.begin(), suppressed.end());
  framework->constraints = subscribe.offer_constraints();
  BindStream(*framework, std::move(stream), stream_id, json);
  SendSubscribed(*framework);
  ++stats_.subscriptions;
  LogInfo("local_master_framework_subscribed", {{"framework_id", framework->id},
                                                {"name", info.name()},
                                                {"stream_id", stream_id},
                                                {"encoding", json ? "json" : "protobuf"}});
  Allocate();
  ResendUnacknowledged(*framework);
}

absl::StatusOr<LocalMaster::State::Framework*> LocalMaster::State::AdmitSubscriber(
    mesos_v1::FrameworkInfo& info) {
  if (!info.has_id()) {
    std::string id = absl::StrFormat("%s-%04d", master_id_, next_framework_++);
    info.mutable_id()->set_value(id);
    return &AddFramework(id);
  }
  const std::string id = info.id().value();
  if (completed_ids_.count(id) > 0) {
    return absl::FailedPreconditionError("Framework has been removed");
  }
  Framework* framework = FindFramework(id);
  // Unknown here (e.g. a new leader): the framework is re-created with its ID.
  if (framework == nullptr) return &AddFramework(id);
  if (framework->info.has_principal() != info.has_principal() ||
      framework->info.principal() != info.principal()) {
    return absl::FailedPreconditionError("Changing framework's principal is not allowed.");
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
  return framework;
}

LocalMaster::State::Framework& LocalMaster::State::AddFramework(const std::string& id) {
  auto created = std::make_unique<Framework>();
  created->id = id;
  created->registered_time = loop_.clock().Now();
  Framework& framework = *created;
  frameworks_[id] = std::move(created);
  return framework;
}

void LocalMaster::State::SendSubscribed(Framework& framework) {
  Event subscribed;
  subscribed.set_type(Event::SUBSCRIBED);
  *subscribed.mutable_subscribed()->mutable_framework_id() = framework.info.id();
  subscribed.mutable_subscribed()->set_heartbeat_interval_seconds(
      absl::ToDoubleSeconds(config_.heartbeat_interval));
  *subscribed.mutable_subscribed()->mutable_master_info() = MasterInfo();
  ArmHeartbeat(framework);  // before any event goes out (see ArmHeartbeat)
  SendEvent(framework, subscribed);
  if (heartbeats_enabled_) {
    Event heartbeat;
    heartbeat.set_type(Event::HEARTBEAT);
    SendEvent(framework, heartbeat);
  }
}

void LocalMaster::State::ResendUnacknowledged(Framework& framework) {
  for (Agent& agent : agents_) {
    if (agent.status != AgentStatus::kActive) continue;
    for (auto& [key, task] : agent.tasks) {
      if (key.first != framework.id || task->updates.empty()) continue;
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
      auto it = agent.tasks.find(key);
      if (it == agent.tasks.end()) continue;  // cannot happen: `keys` was just read from there
      Task& task = *it->second;
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
    case Call::RECONCILE_OPERATIONS:
      ReconcileOperations(*framework, call.reconcile_operations());
      return TextResponse(202, "");
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
    // Every ID in framework.offers is outstanding (RemoveOffer drops both); none: nothing to do.
    const Offer* offer = FindOffer(offer_id);
    if (offer != nullptr && new_role_set.count(offer->role) == 0) {
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
      view.healthy = task->healthy;
      view.health_check_results = task->health_run.results;
      view.check_results = task->check_run.results;
      out.push_back(std::move(view));
    }
  }
  return out;
}

}  // namespace mast::local
