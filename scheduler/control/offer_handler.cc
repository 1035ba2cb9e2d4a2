#include "scheduler/control/offer_handler.h"

#include <set>

#include "common/log.h"
#include "common/proto_util.h"
#include "scheduler/control/task_id.h"
#include "store/task_state.h"

namespace mast {

namespace mesos_v1 = ::mesos::v1;
using Call = mesos_v1::scheduler::Call;

OfferHandler::OfferHandler(Config config, TaskBook& book, MesosCalls& calls, Reconciler& reconciler,
                           const AgentAttributes& agent_attributes, EventLoop& loop, Clock& clock,
                           SchedulerMetrics* metrics,
                           std::function<void(const std::string&)> replan)
    : config_(std::move(config)),
      book_(book),
      calls_(calls),
      reconciler_(reconciler),
      agent_attributes_(agent_attributes),
      loop_(loop),
      clock_(clock),
      metrics_(metrics),
      replan_(std::move(replan)) {}

OfferHandler::~OfferHandler() {
  loop_.Cancel(revive_timer_);
  HoldOffers(-offers_held_);
}

// --- Offers ------------------------------------------------------------------

void OfferHandler::OnOffers(const mesos_v1::scheduler::Event::Offers& event) {
  std::vector<mesos_v1::Offer> offers(event.offers().begin(), event.offers().end());
  const absl::Time now = clock_.Now();
  Queue queue = BuildQueue(now);
  if (queue.services.empty()) {
    std::vector<mesos_v1::OfferID> all;
    for (const mesos_v1::Offer& offer : offers) all.push_back(offer.id());
    calls_.Decline(all, config_.idle_decline_refuse);
    UpdateOfferInterest();
    return;
  }
  std::map<const v1::ServiceSpec*, uint64_t> versions;
  for (const QueuedService& queued : queue.services) versions[queued.spec] = queued.version;
  MatchOptions options;
  options.default_role = config_.default_role;
  options.now = now;
  options.maintenance_horizon = config_.maintenance_horizon;
  OfferPlan plan = MatchOffers(
      offers, queue.services,
      [&](const v1::ServiceSpec& spec) {
        std::string id;
        do {
          id = MakeTaskId(spec.name(), versions[&spec], absl::Uniform<uint64_t>(bitgen_));
        } while (book_.HasTask(id));
        return id;
      },
      options);
  LogUnmet(plan.unmet_reasons, now);
  std::vector<bool> unplaced(queue.names.size(), false);
  for (OfferPlan::Unmet& unmet : plan.unmet) {
    if (unmet.queue_index >= queue.names.size()) continue;
    unplaced[unmet.queue_index] = true;
    if (metrics_ != nullptr) metrics_->OffersRefused(unmet.placement);
    book_.NotePlacement(queue.names[unmet.queue_index], std::move(unmet.placement), now);
  }
  for (size_t i = 0; i < queue.names.size(); ++i) {
    if (!unplaced[i]) book_.NotePlacement(queue.names[i], std::nullopt, now);
  }
  if (!plan.launches.empty()) {
    auto [services, task_ids] = RecordIntents(plan, queue, event);
    AcceptWhenDurable(std::move(plan.launches), std::move(services), std::move(task_ids));
  }
  bool still_waiting = false;
  for (const std::string& name : queue.names) {
    const BookedService* service = book_.Find(name);
    still_waiting |= service != nullptr && service->to_launch > 0;
  }
  calls_.Decline(plan.unused,
                 still_waiting ? config_.busy_decline_refuse : config_.idle_decline_refuse);
  UpdateOfferInterest();
}

OfferHandler::Queue OfferHandler::BuildQueue(absl::Time now) const {
  Queue queue;
  for (const std::string& name : book_.waiting()) {
    const BookedService* service = book_.Find(name);
    if (service == nullptr || service->Launchable(now) == 0) continue;
    QueuedService& queued = queue.services.emplace_back();
    queued.spec = &service->service().spec();
    queued.version = service->service().task_version();
    queued.to_launch = service->to_launch;
    queued.existing = ExistingPlacements(*service);
    queue.names.push_back(name);
  }
  return queue;
}

std::vector<Placement> OfferHandler::ExistingPlacements(const BookedService& service) const {
  std::vector<Placement> placements;
  for (const auto& [id, task] : service.tasks) {
    if (!IsLive(task)) continue;
    Placement& placement = placements.emplace_back();
    placement.hostname = task.host();
    auto attributes = agent_attributes_.find(task.agent_id());
    if (attributes != agent_attributes_.end()) {
      placement.attributes = attributes->second;
      continue;
    }
    // Not offered since this replica started: as recorded at placement
    // (TEXT carries the compared value as is).
    for (const auto& [name, value] : task.agent_attributes()) {
      mesos_v1::Attribute& attribute = placement.attributes.emplace_back();
      attribute.set_name(name);
      attribute.set_type(mesos_v1::Value::TEXT);
      attribute.mutable_text()->set_value(value);
    }
  }
  return placements;
}

void OfferHandler::LogUnmet(const std::vector<std::string>& reasons, absl::Time now) {
  for (const std::string& reason : reasons) {
    // The same reason comes with every offer round while it lasts: say it
    // when it changes, and then once a minute.
    const std::string service = reason.substr(0, reason.find(':'));
    auto [last, inserted] = unmet_logged_.try_emplace(service, reason, now);
    if (!inserted && last->second.first == reason && now - last->second.second < absl::Minutes(1)) {
      continue;
    }
    last->second = {reason, now};
    LogInfo("tasks_not_placed", {{"reason", reason}});
  }
}

std::pair<std::vector<std::string>, std::vector<std::string>> OfferHandler::RecordIntents(
    const OfferPlan& plan, const Queue& queue, const mesos_v1::scheduler::Event::Offers& offers) {
  std::map<std::string, const mesos_v1::Offer*> by_id;
  for (const mesos_v1::Offer& offer : offers.offers()) by_id[offer.id().value()] = &offer;
  const absl::Time now = clock_.Now();
  std::set<std::string> affected;
  std::vector<std::string> task_ids;
  for (const OfferLaunch& launch : plan.launches) {
    // MatchOffers plans launches on the offers it was given, so this is
    // found; without it the task would only lack its host and attributes.
    auto offer = by_id.find(launch.offer_id.value());
    for (const PlannedTask& planned : launch.tasks) {
      const std::string& name = queue.names[planned.queue_index];
      v1::Task task;
      task.set_id(planned.info.task_id().value());
      task.set_service(name);
      task.set_version(queue.services[planned.queue_index].version);
      task.set_agent_id(planned.info.agent_id().value());
      if (offer != by_id.end()) {
        task.set_host(offer->second->hostname());
        for (const mesos_v1::Attribute& attribute : offer->second->attributes()) {
          (*task.mutable_agent_attributes())[attribute.name()] = AttributeValueString(attribute);
        }
      }
      for (uint32_t port : planned.host_ports) task.add_ports(port);
      task.set_state(v1::Task::PENDING);
      ToProtoTimestamp(now, task.mutable_created());
      ToProtoTimestamp(now, task.mutable_updated());
      task_ids.push_back(task.id());
      book_.AddTask(name, std::move(task));
      affected.insert(name);
    }
  }
  for (const std::string& name : affected) {
    book_.MarkChanged(name);
    replan_(name);
  }
  return {std::vector<std::string>(affected.begin(), affected.end()), std::move(task_ids)};
}

// --- Launch --------------------------------------------------------------------

void OfferHandler::AcceptWhenDurable(std::vector<OfferLaunch> launches,
                                     std::vector<std::string> services,
                                     std::vector<std::string> task_ids) {
  struct Pending {
    size_t left = 0;
    absl::Status status;
    std::vector<OfferLaunch> launches;
    std::vector<std::string> task_ids;
  };
  auto pending = std::make_shared<Pending>();
  HoldOffers(static_cast<int>(launches.size()));
  pending->left = services.size();
  pending->launches = std::move(launches);
  pending->task_ids = std::move(task_ids);
  for (const std::string& name : services) {
    // Bound to this subscription: the offers die with it.
    book_.WhenDurable(name, /*fail_fast=*/true,
                      callbacks_.Bind([this, pending](absl::Status status) {
                        if (!status.ok() && pending->status.ok()) pending->status = status;
                        if (--pending->left > 0) return;
                        HoldOffers(-static_cast<int>(pending->launches.size()));
                        if (pending->status.ok()) return Accept(std::move(pending->launches));
                        GiveUp(pending->launches, pending->task_ids);
                      }));
  }
}

void OfferHandler::HoldOffers(int change) {
  offers_held_ += change;
  if (metrics_ != nullptr) metrics_->offers_held.Set(offers_held_);
}

void OfferHandler::Accept(std::vector<OfferLaunch> launches) {
  for (OfferLaunch& launch : launches) {
    Call call;
    call.set_type(Call::ACCEPT);
    *call.mutable_accept()->add_offer_ids() = launch.offer_id;
    auto* operation = call.mutable_accept()->add_operations();
    operation->set_type(mesos_v1::Offer::Operation::LAUNCH);
    std::vector<std::string> ids;
    for (PlannedTask& task : launch.tasks) {
      ids.push_back(task.info.task_id().value());
      *operation->mutable_launch()->add_task_infos() = std::move(task.info);
    }
    // Leftovers come back at the next allocation.
    call.mutable_accept()->mutable_filters()->set_refuse_seconds(0);
    if (metrics_ != nullptr) {
      metrics_->offers_accepted.Increment();
      metrics_->tasks_launched.Increment(static_cast<double>(ids.size()));
    }
    calls_.Send(std::move(call), callbacks_.Bind([this, ids = std::move(ids)](absl::Status status) {
      if (status.ok()) return;
      // Launched or not: ask the master.
      LogWarning("accept_failed", {{"tasks", ids.size()}, {"error", status.ToString()}});
      Reconciler::TaskAgents ask;
      for (const std::string& id : ids) {
        if (TaskBook::TaskRef ref = book_.FindTask(id)) ask[id] = ref.task->agent_id();
      }
      reconciler_.Ask(ask);
    }));
  }
}

void OfferHandler::GiveUp(const std::vector<OfferLaunch>& launches,
                          const std::vector<std::string>& task_ids) {
  std::vector<mesos_v1::OfferID> offers;
  for (const OfferLaunch& launch : launches) offers.push_back(launch.offer_id);
  calls_.Decline(offers, absl::ZeroDuration());
  std::set<std::string> touched;
  for (const std::string& id : task_ids) {
    TaskBook::TaskRef ref = book_.FindTask(id);
    if (!ref || ref.task->state() != v1::Task::PENDING) continue;
    const std::string name = *ref.service_name;
    touched.insert(name);
    book_.DropTask(name, id);
  }
  for (const std::string& name : touched) {
    book_.MarkChanged(name);
    replan_(name);
  }
  UpdateOfferInterest();
}

// --- Offer interest --------------------------------------------------------------

void OfferHandler::UpdateOfferInterest() {
  const absl::Time now = clock_.Now();
  size_t waiting = 0;
  for (const std::string& name : book_.waiting()) {
    const BookedService* service = book_.Find(name);
    if (service != nullptr) waiting += static_cast<size_t>(service->Launchable(now));
  }
  if (metrics_ != nullptr) metrics_->tasks_waiting.Set(static_cast<double>(waiting));
  if (waiting > 0 && !offers_wanted_) {
    Revive();
  } else if (waiting == 0 && offers_wanted_) {
    offers_wanted_ = false;
    calls_.Suppress();
  }
}

void OfferHandler::Revive() {
  const absl::Time now = clock_.Now();
  while (!revives_.empty() && now - revives_.front() >= config_.revive_interval) {
    revives_.pop_front();
  }
  if (revives_.size() >= static_cast<size_t>(config_.revive_burst)) {
    // The budget of this interval is spent: when the oldest ages out.
    if (revive_timer_ == 0) {
      revive_timer_ =
          loop_.RunAt(revives_.front() + config_.revive_interval, callbacks_.Bind([this] {
            revive_timer_ = 0;
            UpdateOfferInterest();
          }));
    }
    return;
  }
  revives_.push_back(now);
  offers_wanted_ = true;
  calls_.Revive();
}

}  // namespace mast
