#include "scheduler/control/task_scheduler.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/proto_util.h"
#include "scheduler/control/reconciler.h"
#include "scheduler/control/service_plan.h"
#include "store/task_state.h"

namespace mast {

namespace mesos_v1 = ::mesos::v1;

absl::Status ValidateTaskSchedulerConfig(const TaskSchedulerConfig& config) {
  auto positive = [](absl::Duration d) { return d > absl::ZeroDuration(); };
  if (!positive(config.revive_interval)) {
    return absl::InvalidArgumentError("revive_interval: must be > 0");
  }
  if (!(config.max_unhealthy_share > 0 && config.max_unhealthy_share <= 1)) {
    return absl::InvalidArgumentError("max_unhealthy_share: must be in (0, 1]");
  }
  if (config.revive_burst < 1 || config.revive_burst > 1000) {
    return absl::InvalidArgumentError("revive_burst: must be in [1, 1000]");
  }
  if (!positive(config.reconcile_interval)) {
    return absl::InvalidArgumentError("reconcile_interval: must be > 0");
  }
  if (config.unreachable_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("unreachable_grace: must be >= 0");
  }
  if (!positive(config.kill_retry)) return absl::InvalidArgumentError("kill_retry: must be > 0");
  if (!positive(config.tick)) return absl::InvalidArgumentError("tick: must be > 0");
  if (config.reconcile_batch == 0)
    return absl::InvalidArgumentError("reconcile_batch: must be > 0");
  if (config.idle_decline_refuse < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("idle_decline_refuse: must be >= 0");
  }
  if (config.busy_decline_refuse < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("busy_decline_refuse: must be >= 0");
  }
  absl::Status status = ValidateBackoffConfig(config.reconcile_retry);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("reconcile_retry: ", status.message()));
  }
  status = ValidateBackoffConfig(config.write_retry);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("write_retry: ", status.message()));
  }
  return absl::OkStatus();
}

// The parts of one subscription (inside a loaded term).
struct TaskScheduler::Subscription {
  Subscription(const TaskSchedulerConfig& config, MesosCaller& caller, TaskBook& book,
               const AgentAttributes& agent_attributes, EventLoop& loop, Clock& clock,
               SchedulerMetrics* metrics, std::function<void(absl::Time)> on_reconciled,
               std::function<void(const std::string&)> replan)
      : calls(caller, clock, metrics),
        reconciler({config.reconcile_batch, config.reconcile_retry, config.reconcile_interval},
                   calls, loop, clock, metrics, std::move(on_reconciled)),
        offers({config.default_role, config.idle_decline_refuse, config.busy_decline_refuse,
                config.revive_interval, config.revive_burst},
               book, calls, reconciler, agent_attributes, loop, clock, metrics, std::move(replan)) {
  }

  MesosCalls calls;
  Reconciler reconciler;
  OfferHandler offers;
  WeakCallbacks callbacks;  // acknowledgements waiting for writes
};

// One leadership term. Members are destroyed in reverse order: the
// subscription before the book it refers to.
struct TaskScheduler::Term {
  explicit Term(LeaderTerm term) : term(std::move(term)) {}

  LeaderTerm term;
  std::unique_ptr<TaskBook> book;                 // once the state cache settled
  std::unique_ptr<DeploymentDriver> deployments;  // with the book, given a recorder
  std::unique_ptr<Subscription> subscription;     // loaded and subscribed
  std::set<std::string> replans;                  // ScheduleReplan'd
  bool replans_posted = false;
  EventLoop::TimerId tick_timer = 0;
  WeakCallbacks callbacks;  // plans, ticks and the load of this term
};

TaskScheduler::TaskScheduler(TaskSchedulerConfig config, ServiceStore& store, StateCache& cache,
                             EventLoop& loop, Clock& clock, SchedulerMetrics* metrics,
                             std::function<void(absl::string_view)> step_down)
    : config_(std::move(config)),
      store_(store),
      cache_(cache),
      loop_(loop),
      clock_(clock),
      metrics_(metrics),
      step_down_(std::move(step_down)) {
  cache_.AddListener(callbacks_.Bind(
      [this](const std::shared_ptr<const StateSnapshot>& snapshot) { OnSnapshot(snapshot); }));
}

TaskScheduler::~TaskScheduler() { OnStoppedLeading(); }

TaskBook* TaskScheduler::book() const { return term_ != nullptr ? term_->book.get() : nullptr; }

TaskScheduler::Subscription* TaskScheduler::subscription() const {
  return term_ != nullptr ? term_->subscription.get() : nullptr;
}

// --- Leadership and subscription ---------------------------------------------

void TaskScheduler::OnStartedLeading(const LeaderTerm& term) {
  EndTerm();
  term_ = std::make_unique<Term>(term);
  cache_.WhenSettled(term_->callbacks.Bind(
      [this](std::shared_ptr<const StateSnapshot> snapshot) { Load(std::move(snapshot)); }));
}

void TaskScheduler::OnStoppedLeading() {
  caller_ = nullptr;  // the controller subscribes again in a next term
  EndTerm();
}

void TaskScheduler::EndTerm() {
  if (term_ == nullptr) return;
  loop_.Cancel(term_->tick_timer);
  term_.reset();  // its subscription first, then its book
}

void TaskScheduler::Load(std::shared_ptr<const StateSnapshot> snapshot) {
  last_snapshot_ = snapshot;
  TaskBookHooks hooks;
  hooks.step_down = [this](absl::string_view reason) {
    if (step_down_) step_down_(reason);
  };
  hooks.replan_at = [this](const std::string& name, absl::Time when) { ReplanAt(name, when); };
  hooks.replan = [this](const std::string& name) { Replan(name); };
  hooks.task_dropped = [this](const std::string& id) { OnTaskDropped(id); };
  term_->book = std::make_unique<TaskBook>(
      TaskBook::Config{config_.write_retry, config_.stable_run, config_.unreachable_grace}, store_,
      term_->term, loop_, clock_, metrics_, std::move(hooks));
  const size_t tasks = term_->book->Load(*snapshot);
  if (recorder_ != nullptr) {
    term_->deployments = std::make_unique<DeploymentDriver>(
        *recorder_, metrics_,
        [this](const std::string& name, absl::Time when) { ReplanAt(name, when); });
  }
  LogInfo("scheduler_loaded", {{"services", term_->book->size()},
                               {"tasks", tasks},
                               {"store_version", snapshot->store_version},
                               {"fencing_token", term_->term.fencing_token}});
  if (caller_ != nullptr) StartSubscription();
  ReplanAll();
  ScheduleTick();
  if (subscription() != nullptr) BeginSubscription();
}

void TaskScheduler::OnSubscribed(MesosCaller& caller) {
  caller_ = &caller;
  if (book() == nullptr) return;  // the load starts it
  StartSubscription();
  BeginSubscription();
  UpdateOfferInterest();
}

void TaskScheduler::OnUnsubscribed() {
  caller_ = nullptr;
  if (term_ != nullptr) term_->subscription.reset();
}

void TaskScheduler::StartSubscription() {
  term_->subscription = std::make_unique<Subscription>(
      config_, *caller_, *term_->book, agent_attributes_, loop_, clock_, metrics_,
      [this](absl::Time at) { reconciled_at_ = at; },
      [this](const std::string& name) { Replan(name); });
}

void TaskScheduler::BeginSubscription() {
  Subscription& sub = *term_->subscription;
  Reconciler::TaskAgents tasks;
  term_->book->ForEach([&](const std::string&, BookedService& service) {
    for (const auto& [id, task] : service.tasks) tasks[id] = task.agent_id();
  });
  sub.reconciler.Start(std::move(tasks));
  term_->book->ForEach([&](const std::string&, BookedService& service) {
    for (const auto& [id, task] : service.tasks) {
      if (task.kill_requested()) sub.calls.Kill(task);
    }
  });
}

void TaskScheduler::OnSnapshot(const std::shared_ptr<const StateSnapshot>& snapshot) {
  last_snapshot_ = snapshot;
  TaskBook* book = this->book();
  if (book == nullptr) return;
  std::vector<std::string> changed;
  for (const auto& [name, stored] : snapshot->services) {
    BookedService* service = book->Find(name);
    if (service == nullptr || service->stored != stored) {
      book->Add(name, stored);
      if (term_->deployments != nullptr) term_->deployments->OnRecordChanged(name);
      changed.push_back(name);
    }
  }
  book->ForEach([&](const std::string& name, BookedService& service) {
    if (snapshot->services.count(name) > 0 || book->removing(name)) return;
    if (Unreadable(store_.paths().service(name))) return;  // not deleted: act on what we knew
    if (service.deleting() && service.tasks.empty()) return;
    // The record went without a delete by us (an operator?): wind down.
    auto gone = std::make_shared<StoredService>(*service.stored);
    gone->record.mutable_service()->set_deleting(true);
    service.stored = std::move(gone);
    changed.push_back(name);
  });
  for (const std::string& name : changed) Replan(name);
  UpdateOfferInterest();
}

bool TaskScheduler::Unreadable(const std::string& znode) const {
  if (last_snapshot_ == nullptr) return false;
  return std::any_of(last_snapshot_->corrupt.begin(), last_snapshot_->corrupt.end(),
                     [&](const CorruptRecord& c) { return c.znode == znode; });
}

// --- Planning ----------------------------------------------------------------

void TaskScheduler::ReplanAll() {
  if (TaskBook* book = this->book(); book != nullptr) {
    for (const std::string& name : book->Names()) Replan(name);
  }
  UpdateOfferInterest();
}

void TaskScheduler::Replan(const std::string& name) {
  TaskBook* book = this->book();
  BookedService* service = book != nullptr ? book->Find(name) : nullptr;
  if (service == nullptr) return;
  std::vector<const v1::Task*> tasks;
  tasks.reserve(service->tasks.size());
  for (const auto& [id, task] : service->tasks) tasks.push_back(&task);
  const absl::Time now = clock_.Now();
  if (term_->deployments != nullptr) term_->deployments->Advance(name, *service, tasks, now);
  ServicePlan plan = PlanService(service->service(), tasks, now,
                                 {.unreachable_grace = config_.unreachable_grace,
                                  .max_unhealthy_share = config_.max_unhealthy_share});
  const bool expunged = Expunge(name, *service, plan.expunge);
  // Killed for failing health checks: a failure of their version once they end.
  for (const std::string& id : plan.health_kills) book->MarkFailedHealthCheck(id);
  const bool killed = KillPlanned(*service, plan.kill, now);
  book->SetToLaunch(name, plan.to_launch);
  if (expunged || killed) book->MarkChanged(name);
  if (plan.remove_record) book->Remove(name);
}

bool TaskScheduler::Expunge(const std::string& name, BookedService& service,
                            const std::vector<std::string>& ids) {
  bool changed = false;
  for (const std::string& id : ids) {
    auto task = service.tasks.find(id);
    if (task == service.tasks.end()) continue;
    const absl::Duration expunge_after =
        UnreachableTimesOf(service.service().spec(), config_.unreachable_grace).expunge_after;
    LogWarning("task_expunged", {{"task_id", id},
                                 {"service", name},
                                 {"expunge_after", absl::FormatDuration(expunge_after)},
                                 {"msg", "given up; killed if it comes back"}});
    if (metrics_ != nullptr) metrics_->tasks_expunged.Increment();
    book()->RecordFailure(
        service, task->second,
        absl::StrCat("unreachable for more than ", absl::FormatDuration(expunge_after)));
    book()->DropTask(name, id);
    changed = true;
  }
  return changed;
}

bool TaskScheduler::KillPlanned(BookedService& service, const std::vector<std::string>& ids,
                                absl::Time now) {
  bool changed = false;
  for (const std::string& id : ids) {
    auto task = service.tasks.find(id);
    if (task == service.tasks.end()) continue;
    task->second.set_kill_requested(true);
    ToProtoTimestamp(now, task->second.mutable_kill_requested_time());
    ToProtoTimestamp(now, task->second.mutable_updated());
    Kill(task->second);
    changed = true;
  }
  return changed;
}

void TaskScheduler::ScheduleReplan(const std::string& name) {
  if (term_ == nullptr) return;
  term_->replans.insert(name);
  if (term_->replans_posted) return;
  term_->replans_posted = true;
  loop_.Post(term_->callbacks.Bind([this] { RunScheduledReplans(); }));
}

void TaskScheduler::RunScheduledReplans() {
  if (term_ == nullptr) return;
  term_->replans_posted = false;
  std::set<std::string> names = std::move(term_->replans);
  term_->replans.clear();
  for (const std::string& name : names) Replan(name);
  if (!names.empty()) UpdateOfferInterest();
}

void TaskScheduler::ReplanAt(const std::string& name, absl::Time when) {
  loop_.RunAt(when, term_->callbacks.Bind([this, name] { ScheduleReplan(name); }));
}

void TaskScheduler::UpdateOfferInterest() {
  if (Subscription* sub = subscription(); sub != nullptr) sub->offers.UpdateOfferInterest();
}

void TaskScheduler::Kill(const v1::Task& task) {
  // Unsubscribed: BeginSubscription sends it.
  if (Subscription* sub = subscription(); sub != nullptr) sub->calls.Kill(task);
}

void TaskScheduler::ScheduleTick() {
  term_->tick_timer = loop_.RunAfter(config_.tick, term_->callbacks.Bind([this] { Tick(); }));
}

void TaskScheduler::Tick() {
  term_->tick_timer = 0;
  TaskBook& book = *term_->book;
  if (Subscription* sub = subscription(); sub != nullptr) {
    // Every task being killed has an entry once subscribed (BeginSubscription
    // sends them all): only the ones sent long enough ago are looked at.
    for (const std::string& id : sub->calls.KillsDue(config_.kill_retry)) {
      if (TaskBook::TaskRef ref = book.FindTask(id)) sub->calls.Kill(*ref.task);
    }
  }
  if (metrics_ != nullptr) metrics_->tasks.Set(static_cast<double>(book.task_count()));
  ScheduleTick();
}

void TaskScheduler::OnTaskDropped(const std::string& task_id) {
  if (Subscription* sub = subscription(); sub != nullptr) {
    sub->calls.ForgetKill(task_id);
    sub->reconciler.Answered(task_id);
  }
}

// --- Offers ------------------------------------------------------------------

void TaskScheduler::OnOffers(const mesos_v1::scheduler::Event::Offers& event) {
  for (const mesos_v1::Offer& offer : event.offers()) {
    agent_attributes_[offer.agent_id().value()].assign(offer.attributes().begin(),
                                                       offer.attributes().end());
  }
  Subscription* sub = subscription();
  if (sub == nullptr) {
    if (caller_ == nullptr) return;
    std::vector<mesos_v1::OfferID> all;
    for (const mesos_v1::Offer& offer : event.offers()) all.push_back(offer.id());
    MesosCalls(*caller_, clock_, metrics_).Decline(all, config_.busy_decline_refuse);
    return;
  }
  RunScheduledReplans();
  sub->offers.OnOffers(event);
}

void TaskScheduler::OnRescind(const mesos_v1::OfferID&) {
  // Offers are held only while intents are written; an ACCEPT of a rescinded
  // offer makes the master report the tasks dropped, and they are replaced.
}

// --- Status updates ----------------------------------------------------------

void TaskScheduler::OnUpdate(const mesos_v1::TaskStatus& status) {
  if (metrics_ != nullptr) metrics_->status_updates.Increment();
  Subscription* sub = subscription();
  if (sub == nullptr) return;  // unacknowledged: the master sends it again
  const std::string& id = status.task_id().value();
  sub->reconciler.Answered(id);
  TaskBook::TaskRef ref = book()->FindTask(id);
  if (!ref) return OnUnknownTaskUpdate(status);
  const std::string name = *ref.service_name;
  v1::Task& task = *ref.task;
  if (IsTerminal(TaskStateFromMesos(status.state()))) {
    EndTask(name, *ref.service, task, status);  // `task` is gone
    book()->MarkChanged(name);
  } else {
    const TaskChange change = ApplyStatus(status, clock_.Now(), task);
    if (change.health_changed && metrics_ != nullptr) {
      (task.healthy() ? metrics_->became_healthy : metrics_->became_unhealthy).Increment();
    }
    if (change.became_ready && metrics_ != nullptr) metrics_->became_ready.Increment();
    if (change.became_unreachable) {
      // Then it is replaced, then given up.
      const UnreachableTimes times =
          UnreachableTimesOf(ref.service->service().spec(), config_.unreachable_grace);
      ReplanAt(name, clock_.Now() + times.inactive_after);
      if (times.expunge_after != times.inactive_after) {
        ReplanAt(name, clock_.Now() + times.expunge_after);
      }
    }
    if (std::optional<absl::Time> fails = FailsHealthAt(ref.service->service().spec(), task);
        change.became_unhealthy && fails) {
      ReplanAt(name, *fails);  // then it is replaced, if it still fails
    }
    // A task we are killing that reports in: ask again if it has been a while.
    if (task.kill_requested() && !sub->calls.KillSentWithin(id, config_.kill_retry)) {
      sub->calls.Kill(task);
    }
    if (change.changed) book()->MarkChanged(name);
  }
  ScheduleReplan(name);
  AcknowledgeWhenDurable(name, status);
}

void TaskScheduler::EndTask(const std::string& name, BookedService& service, const v1::Task& task,
                            const mesos_v1::TaskStatus& status) {
  const bool asked = task.kill_requested();
  LogInfo("task_ended", {{"task_id", task.id()},
                         {"state", mesos_v1::TaskState_Name(status.state())},
                         {"reason", mesos_v1::TaskStatus::Reason_Name(status.reason())},
                         {"message", status.message()},
                         {"asked", asked}});
  book()->RecordEnd(service, task, status);
  book()->DropTask(name, task.id());
}

void TaskScheduler::OnUnknownTaskUpdate(const mesos_v1::TaskStatus& status) {
  const std::string& id = status.task_id().value();
  std::optional<std::pair<std::string, uint64_t>> parsed = ParseTaskId(id);
  const BookedService* owner = parsed ? book()->Find(parsed->first) : nullptr;
  const UnknownTaskAction action = DecideUnknownTask(
      IsTerminal(TaskStateFromMesos(status.state())), owner != nullptr && owner->adopt_unknown,
      parsed && Unreadable(store_.paths().service(parsed->first)));
  switch (action) {
    case UnknownTaskAction::kAdopt:
      return AdoptTask(parsed->first, parsed->second, status);
    case UnknownTaskAction::kKeep:
      LogWarning("unknown_task_kept",
                 {{"task_id", id}, {"msg", "its service record is unreadable"}});
      break;
    case UnknownTaskAction::kKill:
      subscription()->calls.KillUnknown(status);
      break;
    case UnknownTaskAction::kIgnore:
      break;
  }
  subscription()->calls.Acknowledge(status);
}

void TaskScheduler::AdoptTask(const std::string& service, uint64_t version,
                              const mesos_v1::TaskStatus& status) {
  const absl::Time now = clock_.Now();
  v1::Task task;
  task.set_id(status.task_id().value());
  task.set_service(service);
  task.set_version(version);
  task.set_agent_id(status.agent_id().value());
  task.set_state(TaskStateFromMesos(status.state()));
  ToProtoTimestamp(now, task.mutable_created());
  ToProtoTimestamp(now, task.mutable_updated());
  LogWarning("task_adopted", {{"task_id", task.id()}, {"service", service}});
  book()->AddTask(service, std::move(task));
  book()->MarkChanged(service);
  ScheduleReplan(service);
  AcknowledgeWhenDurable(service, status);
}

void TaskScheduler::AcknowledgeWhenDurable(const std::string& service,
                                           const mesos_v1::TaskStatus& status) {
  Subscription& sub = *subscription();
  // Bound to this subscription: an update learnt on an earlier one is sent
  // again by the master.
  book()->WhenDurable(service, /*fail_fast=*/false,
                      sub.callbacks.Bind([&sub, status](absl::Status written) {
                        if (written.ok()) sub.calls.Acknowledge(status);
                      }));
}

TaskScheduler::Stats TaskScheduler::stats() const {
  Stats stats;
  stats.reconciled_at = reconciled_at_;
  const TaskBook* book = this->book();
  if (book == nullptr) return stats;
  stats.loaded = true;
  stats.reconciled = subscription() != nullptr && subscription()->reconciler.reconciled();
  stats.services = book->size();
  stats.tasks = book->task_count();
  stats.waiting = book->to_launch_total();
  return stats;
}

}  // namespace mast
