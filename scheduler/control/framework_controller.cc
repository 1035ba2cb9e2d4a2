#include "scheduler/control/framework_controller.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "scheduler/control/mesos_calls.h"
#include "scheduler/control/service_plan.h"
#include "store/task_state.h"

namespace mast {

namespace mesos_v1 = ::mesos::v1;

absl::Status ValidateFrameworkConfig(const FrameworkConfig& config) {
  if (config.name.empty()) return absl::InvalidArgumentError("name: must not be empty");
  if (config.user.empty()) return absl::InvalidArgumentError("user: must not be empty");
  if (config.role.empty() || config.role == "." || config.role == ".." ||
      config.role.find_first_of("/ \t\n") != std::string::npos || config.role[0] == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("role: '", config.role, "' is not a valid Mesos role"));
  }
  if (config.failover_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("failover_timeout: must be > 0");
  }
  if (config.decline_refuse < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("decline_refuse: must be >= 0");
  }
  for (const auto& [name, quantity] : config.min_offer_resources) {
    if (name.empty() || !(quantity > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("min_offer_resources: '", name, "' needs a positive quantity"));
    }
  }
  absl::Status backoff = ValidateBackoffConfig(config.retry_backoff);
  if (!backoff.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("retry_", backoff.message()));
  }
  return absl::OkStatus();
}

mesos_v1::FrameworkInfo BuildFrameworkInfo(const FrameworkConfig& config,
                                           const std::optional<std::string>& framework_id,
                                           bool gpu_resources,
                                           const std::map<std::string, RoleMinimum>& roles) {
  mesos_v1::FrameworkInfo info;
  info.set_user(config.user);
  info.set_name(config.name);
  if (framework_id) info.mutable_id()->set_value(*framework_id);
  info.set_failover_timeout(absl::ToDoubleSeconds(config.failover_timeout));
  info.set_checkpoint(true);
  info.add_roles(config.role);
  for (const auto& [role, minimum] : roles) {
    if (role != config.role && !role.empty()) info.add_roles(role);
  }
  if (!config.hostname.empty()) info.set_hostname(config.hostname);
  if (!config.principal.empty()) info.set_principal(config.principal);
  if (!config.webui_url.empty()) info.set_webui_url(config.webui_url);
  for (auto type : {mesos_v1::FrameworkInfo::Capability::PARTITION_AWARE,
                    mesos_v1::FrameworkInfo::Capability::TASK_KILLING_STATE,
                    mesos_v1::FrameworkInfo::Capability::MULTI_ROLE}) {
    info.add_capabilities()->set_type(type);
  }
  if (gpu_resources) {
    info.add_capabilities()->set_type(mesos_v1::FrameworkInfo::Capability::GPU_RESOURCES);
  }
  for (const std::string& role : info.roles()) {
    std::vector<std::pair<std::string, double>> minimum = config.min_offer_resources;
    if (minimum.empty()) {
      auto found = roles.find(role == config.role ? "" : role);
      if (found == roles.end() && role == config.role) found = roles.find(role);
      if (found == roles.end()) continue;
      if (found->second.cpus > 0) minimum.emplace_back("cpus", found->second.cpus);
      if (found->second.mem_mib > 0) minimum.emplace_back("mem", found->second.mem_mib);
      if (minimum.empty()) continue;
    }
    auto& filters = (*info.mutable_offer_filters())[role];
    auto* quantities = filters.mutable_min_allocatable_resources()->add_quantities();
    for (const auto& [name, quantity] : minimum) {
      (*quantities->mutable_quantities())[name].set_value(quantity);
    }
  }
  return info;
}

FrameworkController::FrameworkController(FrameworkConfig config, ClientFactory client_factory,
                                         Store& store, EventLoop& loop,
                                         mesos::MesosMetrics* metrics,
                                         std::function<void(absl::string_view)> step_down)
    : config_(std::move(config)),
      store_(store),
      loop_(loop),
      metrics_(metrics),
      step_down_(std::move(step_down)) {
  mesos::MesosClientCallbacks callbacks;
  callbacks.on_subscribed =
      callbacks_.Bind([this](const mesos_v1::scheduler::Event::Subscribed& s) { OnSubscribed(s); });
  callbacks.on_event = callbacks_.Bind([this](const mesos_v1::scheduler::Event& e) { OnEvent(e); });
  // The client logs and reconnects; the listener stops until resubscribed.
  callbacks.on_disconnected = callbacks_.Bind([this](absl::string_view) { MarkNotReady(); });
  callbacks.on_error = callbacks_.Bind([this](absl::string_view message) { OnError(message); });
  client_ = client_factory(std::move(callbacks));
}

FrameworkController::~FrameworkController() {
  callbacks_.Invalidate();
  EndTerm();
  client_.reset();
}

void FrameworkController::EndTerm() {
  if (term_ == nullptr) return;
  loop_.Cancel(term_->retry_timer);
  term_.reset();
}

void FrameworkController::Prefetch() {
  if (term_ != nullptr || cached_framework_id_) return;
  store_.ReadFrameworkId(callbacks_.Bind([this](absl::StatusOr<std::optional<std::string>> id) {
    if (!id.ok() || !id->has_value()) return;
    cached_framework_id_ = **id;
  }));
}

void FrameworkController::OnStartedLeading(const LeaderTerm& term) {
  EndTerm();
  term_ = std::make_unique<Term>(term, config_.retry_backoff);
  if (cached_framework_id_) {
    framework_id_ = cached_framework_id_;
    LogInfo("framework_subscribe", {{"framework_id", *framework_id_},
                                    {"fencing_token", term_->term.fencing_token},
                                    {"from", "warm copy"}});
    client_->Subscribe(BuildFrameworkInfo(config_, framework_id_, gpu_resources_, roles_), {});
    return;
  }
  ReadFrameworkIdThenSubscribe();
}

void FrameworkController::ReadFrameworkIdThenSubscribe() {
  store_.ReadFrameworkId(term_->callbacks.Bind([this](
                                                   absl::StatusOr<std::optional<std::string>> id) {
    if (!id.ok()) {
      // A corrupt record must not make us register a second framework:
      // keep trying (an operator can repair the record) and say so.
      LogError("framework_id_unreadable", {{"error", id.status().ToString()}});
      return RetryLater([this] { ReadFrameworkIdThenSubscribe(); });
    }
    framework_id_ = *id;
    LogInfo("framework_subscribe", {{"framework_id", framework_id_.value_or("(new registration)")},
                                    {"fencing_token", term_->term.fencing_token}});
    // Not subscribed suppressed: the first offers are declined with a
    // long filter and the role is suppressed then (see DeclineOffers), so
    // a missed SUPPRESS can never leave offers stranded.
    client_->Subscribe(BuildFrameworkInfo(config_, framework_id_, gpu_resources_, roles_), {});
  }));
}

void FrameworkController::OnSubscribed(const mesos_v1::scheduler::Event::Subscribed& subscribed) {
  if (term_ == nullptr) return;
  MarkNotReady();  // a resubscription: the listener starts over
  const std::string& id = subscribed.framework_id().value();
  if (framework_id_ == id) return MarkReady();  // it came from the store
  cached_framework_id_.reset();
  if (framework_id_) {
    // Mesos must never hand us another ID for a re-registration.
    LogError("framework_id_changed", {{"stored", *framework_id_}, {"received", id}});
  }
  framework_id_ = id;
  StoreFrameworkId(id);
}

void FrameworkController::StoreFrameworkId(std::string id) {
  store_.WriteFrameworkId(term_->term, id, term_->callbacks.Bind([this, id](absl::Status status) {
    if (status.ok()) {
      cached_framework_id_ = id;
      LogInfo("framework_id_stored", {{"framework_id", id}});
      if (framework_id_ == id && subscribed()) MarkReady();
      return;
    }
    if (absl::IsFailedPrecondition(status)) {
      LogError("framework_id_store_refused", {{"error", status.ToString()}});
      if (step_down_) step_down_("deposed: the fenced write of the FrameworkID was refused");
      return;
    }
    LogWarning("framework_id_store_failed", {{"error", status.ToString()}});
    RetryLater([this, id] { StoreFrameworkId(id); });
  }));
}

void FrameworkController::MarkReady() {
  if (ready_ || listener_ == nullptr) return;
  ready_ = true;
  listener_->OnSubscribed(*this);
}

void FrameworkController::MarkNotReady() {
  if (!ready_) return;
  ready_ = false;
  if (listener_ != nullptr) listener_->OnUnsubscribed();
}

void FrameworkController::Call(mesos_v1::scheduler::Call call,
                               absl::AnyInvocable<void(absl::Status) &&> done) {
  if (term_ == nullptr) {
    if (done) std::move(done)(absl::UnavailableError("not leading"));
    return;
  }
  client_->Send(std::move(call),
                callbacks_.Bind([done = std::move(done)](absl::Status status) mutable {
                  if (done) std::move(done)(std::move(status));
                }));
}

void FrameworkController::OnEvent(const mesos_v1::scheduler::Event& event) {
  if (term_ == nullptr) return;
  if (listener_ != nullptr) {
    switch (event.type()) {
      case mesos_v1::scheduler::Event::OFFERS:
        if (ready_) return listener_->OnOffers(event.offers());
        // Not ready yet (the FrameworkID is being stored): give them back
        // for a moment.
        return DeclineOffers(event.offers(), absl::Seconds(1), /*suppress=*/false);
      case mesos_v1::scheduler::Event::UPDATE:
        // Unacknowledged until the listener has it: redelivered.
        if (ready_) listener_->OnUpdate(event.update().status());
        return;
      case mesos_v1::scheduler::Event::RESCIND:
        if (ready_) listener_->OnRescind(event.rescind().offer_id());
        return;
      default:
        break;
    }
  }
  switch (event.type()) {
    case mesos_v1::scheduler::Event::OFFERS:
      DeclineOffers(event.offers(), config_.decline_refuse, /*suppress=*/true);
      return;
    case mesos_v1::scheduler::Event::UPDATE:
      HandleUpdate(event.update().status());
      return;
    case mesos_v1::scheduler::Event::RESCIND:
    case mesos_v1::scheduler::Event::RESCIND_INVERSE_OFFER:
      return;  // we hold no offers
    case mesos_v1::scheduler::Event::INVERSE_OFFERS: {
      mesos_v1::scheduler::Call call;
      call.set_type(mesos_v1::scheduler::Call::DECLINE_INVERSE_OFFERS);
      for (const auto& offer : event.inverse_offers().inverse_offers()) {
        *call.mutable_decline_inverse_offers()->add_inverse_offer_ids() = offer.id();
      }
      Send(std::move(call));
      return;
    }
    case mesos_v1::scheduler::Event::FAILURE:
      LogWarning("mesos_failure", {{"agent_id", event.failure().agent_id().value()},
                                   {"executor_id", event.failure().executor_id().value()},
                                   {"status", event.failure().status()}});
      return;
    case mesos_v1::scheduler::Event::MESSAGE:
    case mesos_v1::scheduler::Event::UPDATE_OPERATION_STATUS:
    case mesos_v1::scheduler::Event::SUBSCRIBED:
    case mesos_v1::scheduler::Event::HEARTBEAT:
    case mesos_v1::scheduler::Event::ERROR:
    case mesos_v1::scheduler::Event::UNKNOWN:
      return;
  }
}

void FrameworkController::DeclineOffers(const mesos_v1::scheduler::Event::Offers& offers,
                                        absl::Duration refuse, bool suppress) {
  if (offers.offers().empty()) return;
  std::vector<mesos_v1::OfferID> ids;
  for (const auto& offer : offers.offers()) ids.push_back(offer.id());
  if (metrics_ != nullptr) {
    metrics_->offers_received.Increment(offers.offers_size());
    metrics_->offers_declined.Increment(offers.offers_size());
  }
  Send(DeclineCall(ids, refuse));
  // Nothing waits to launch: stop the offers for the role until there is.
  if (suppress) Send(SuppressCall());
}

void FrameworkController::HandleUpdate(const mesos_v1::TaskStatus& status) {
  // No task is known yet: one that lives is an orphan, killed.
  const v1::Task::State state = TaskStateFromMesos(status.state());
  if (!IsTerminal(state) && status.state() != mesos_v1::TASK_UNKNOWN) {
    LogWarning("killing_unknown_task", {{"task_id", status.task_id().value()},
                                        {"state", mesos_v1::TaskState_Name(status.state())}});
    Send(KillCall(status.task_id(), status.has_agent_id() ? &status.agent_id() : nullptr));
  }
  if (status.has_uuid() && status.has_agent_id()) Send(AcknowledgeCall(status));
}

void FrameworkController::Send(mesos_v1::scheduler::Call call) {
  std::string type = mesos_v1::scheduler::Call::Type_Name(call.type());
  client_->Send(std::move(call), [type](absl::Status status) {
    // Failed calls are not retried here: offers come again, updates are
    // redelivered until acknowledged, and kills are re-issued on the next
    // update of the task.
    if (!status.ok() && !absl::IsUnavailable(status)) {
      LogWarning("mesos_call_rejected", {{"type", type}, {"error", status.ToString()}});
    }
  });
}

void FrameworkController::OnError(absl::string_view message) {
  if (term_ == nullptr) return;
  LogError("framework_error", {{"message", message},
                               {"msg",
                                "another scheduler took the framework over or it was "
                                "removed; stepping down"}});
  if (step_down_) step_down_(absl::StrCat("Mesos ERROR: ", message));
}

void FrameworkController::OnStoppedLeading() {
  MarkNotReady();
  EndTerm();
  client_->Close();
}

void FrameworkController::OnPaused(bool paused) { client_->SetPaused(paused); }

void FrameworkController::SetGpuResources(bool wanted) {
  if (wanted == gpu_resources_) return;
  gpu_resources_ = wanted;
  LogInfo("framework_gpu_resources", {{"declared", wanted}});
  UpdateFramework();
}

void FrameworkController::SetRoles(std::map<std::string, RoleMinimum> roles) {
  // The framework's role, named or not, is one entry: the smaller of both.
  if (auto named = roles.find(config_.role); named != roles.end() && !config_.role.empty()) {
    auto [own, inserted] = roles.try_emplace("", named->second);
    if (!inserted) {
      own->second.cpus = std::min(own->second.cpus, named->second.cpus);
      own->second.mem_mib = std::min(own->second.mem_mib, named->second.mem_mib);
    }
    roles.erase(named);
  }
  if (roles == roles_) return;
  roles_ = std::move(roles);
  std::string all = config_.role;
  for (const auto& [role, minimum] : roles_) {
    if (!role.empty()) absl::StrAppend(&all, ",", role);
  }
  LogInfo("framework_roles", {{"roles", all}});
  UpdateFramework();
}

void FrameworkController::UpdateFramework() {
  if (term_ == nullptr || !subscribed() || !framework_id_) return;  // the next SUBSCRIBE has it
  mesos_v1::scheduler::Call call;
  call.set_type(mesos_v1::scheduler::Call::UPDATE_FRAMEWORK);
  *call.mutable_update_framework()->mutable_framework_info() =
      BuildFrameworkInfo(config_, framework_id_, gpu_resources_, roles_);
  Send(std::move(call));
}

void FrameworkController::RetryLater(std::function<void()> fn) {
  loop_.Cancel(term_->retry_timer);
  term_->retry_timer = loop_.RunAfter(term_->backoff.Next(bitgen_),
                                      term_->callbacks.Bind([fn = std::move(fn)] { fn(); }));
}

}  // namespace mast
