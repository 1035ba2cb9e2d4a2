#include "scheduler/control/task_scheduler.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/proto_util.h"

namespace mast {

namespace m = ::mesos::v1;
using Call = m::scheduler::Call;

namespace {

// The relaunch delay after `failures` consecutive failures (>= 1).
absl::Duration RelaunchDelay(const v1::BackoffPolicy& policy, uint32_t failures) {
  absl::Duration initial = FromProtoDuration(policy.initial());
  absl::Duration max = policy.has_max() ? FromProtoDuration(policy.max()) : absl::Seconds(300);
  double factor = policy.factor() >= 1 ? policy.factor() : 1.0;
  double scale = std::pow(factor, static_cast<double>(failures > 0 ? failures - 1 : 0));
  if (!std::isfinite(scale) || scale > 1e9) return max;
  return std::min(max, initial * scale);
}

}  // namespace

absl::Status ValidateTaskSchedulerConfig(const TaskSchedulerConfig& config) {
  auto positive = [](absl::Duration d) { return d > absl::ZeroDuration(); };
  if (!positive(config.revive_interval)) {
    return absl::InvalidArgumentError("revive_interval: must be > 0");
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

SchedulerMetrics::SchedulerMetrics(prometheus::Registry& registry)
    : tasks_launched(prometheus::BuildCounter()
                         .Name("mast_tasks_launched_total")
                         .Help("Tasks sent to Mesos in an ACCEPT with LAUNCH.")
                         .Register(registry)
                         .Add({})),
      tasks_failed(prometheus::BuildCounter()
                       .Name("mast_task_failures_total")
                       .Help("Tasks that ended without Mast asking (relaunched with backoff).")
                       .Register(registry)
                       .Add({})),
      kills_sent(prometheus::BuildCounter()
                     .Name("mast_task_kills_total")
                     .Help("KILL calls sent for known tasks, retries included.")
                     .Register(registry)
                     .Add({})),
      unknown_tasks_killed(
          prometheus::BuildCounter()
              .Name("mast_unknown_tasks_killed_total")
              .Help("KILL calls for tasks Mesos reported and the store did not know.")
              .Register(registry)
              .Add({})),
      tasks_expunged(prometheus::BuildCounter()
                         .Name("mast_tasks_expunged_total")
                         .Help("UNREACHABLE tasks replaced after --unreachable_grace.")
                         .Register(registry)
                         .Add({})),
      status_updates(prometheus::BuildCounter()
                         .Name("mast_status_updates_total")
                         .Help("Task status updates received from Mesos.")
                         .Register(registry)
                         .Add({})),
      task_writes(prometheus::BuildCounter()
                      .Name("mast_task_record_writes_total")
                      .Help("Writes of a service's task records (each batches many changes).")
                      .Register(registry)
                      .Add({})),
      task_write_failures(prometheus::BuildCounter()
                              .Name("mast_task_record_write_failures_total")
                              .Help("Failed writes of task records (retried with backoff).")
                              .Register(registry)
                              .Add({})),
      offers_accepted(prometheus::BuildCounter()
                          .Name("mast_offers_accepted_total")
                          .Help("Offers accepted with a LAUNCH.")
                          .Register(registry)
                          .Add({})),
      offers_declined(prometheus::BuildCounter()
                          .Name("mast_scheduler_offers_declined_total")
                          .Help("Offers declined by the scheduling loop.")
                          .Register(registry)
                          .Add({})),
      revives(prometheus::BuildCounter()
                  .Name("mast_revives_total")
                  .Help("REVIVE calls.")
                  .Register(registry)
                  .Add({})),
      suppresses(prometheus::BuildCounter()
                     .Name("mast_suppresses_total")
                     .Help("SUPPRESS calls.")
                     .Register(registry)
                     .Add({})),
      reconciliations(prometheus::BuildCounter()
                          .Name("mast_reconciliations_total")
                          .Help("Explicit reconciliations completed (every task answered).")
                          .Register(registry)
                          .Add({})),
      reconcile_seconds(prometheus::BuildGauge()
                            .Name("mast_last_reconciliation_seconds")
                            .Help("Duration of the last explicit reconciliation.")
                            .Register(registry)
                            .Add({})),
      tasks(prometheus::BuildGauge()
                .Name("mast_tasks")
                .Help("Tasks the leader keeps records of (not terminal).")
                .Register(registry)
                .Add({})),
      tasks_waiting(prometheus::BuildGauge()
                        .Name("mast_tasks_waiting")
                        .Help("Tasks waiting for an offer (backoff excluded).")
                        .Register(registry)
                        .Add({})) {}

std::string MakeTaskId(absl::string_view service, uint64_t task_version, uint64_t random) {
  return absl::StrFormat("%s.%d.%016x", absl::StrReplaceAll(service, {{"/", "_"}}), task_version,
                         random);
}

std::optional<std::pair<std::string, uint64_t>> ParseTaskId(absl::string_view task_id) {
  std::vector<absl::string_view> parts = absl::StrSplit(task_id, '.');
  uint64_t version = 0;
  if (parts.size() != 3 || parts[0].empty() || parts[2].size() != 16 ||
      !absl::SimpleAtoi(parts[1], &version)) {
    return std::nullopt;
  }
  return std::make_pair(absl::StrReplaceAll(parts[0], {{"_", "/"}}), version);
}

TaskScheduler::TaskScheduler(TaskSchedulerConfig config, ServiceStore& store, StateCache& cache,
                             EventLoop& loop, Clock& clock, SchedulerMetrics* metrics,
                             std::function<void(absl::string_view)> step_down)
    : config_(std::move(config)),
      store_(store),
      cache_(cache),
      loop_(loop),
      clock_(clock),
      metrics_(metrics),
      step_down_(std::move(step_down)),
      reconcile_backoff_(std::make_unique<Backoff>(config_.reconcile_retry)) {
  cache_.AddListener([this, alive = std::weak_ptr<char>(alive_)](
                         const std::shared_ptr<const StateSnapshot>& snapshot) {
    if (alive.lock()) OnSnapshot(snapshot);
  });
}

TaskScheduler::~TaskScheduler() {
  alive_.reset();
  OnStoppedLeading();
}

// --- Leadership -------------------------------------------------------------

void TaskScheduler::OnStartedLeading(const LeaderTerm& term) {
  leading_ = true;
  loaded_ = false;
  ++epoch_;
  term_ = term;
  uint64_t epoch = epoch_;
  cache_.WhenSettled([this, epoch, alive = std::weak_ptr<char>(alive_)](
                         std::shared_ptr<const StateSnapshot> snapshot) {
    if (alive.lock() && epoch == epoch_ && leading_) Load(std::move(snapshot));
  });
}

void TaskScheduler::OnStoppedLeading() {
  leading_ = false;
  loaded_ = false;
  ++epoch_;
  OnUnsubscribed();
  for (auto& [name, state] : services_) loop_.Cancel(state.retry_timer);
  services_.clear();
  waiting_services_.clear();
  replans_.clear();
  unmet_logged_.clear();
  task_service_.clear();
  kill_sent_.clear();
  loop_.Cancel(tick_timer_);
  tick_timer_ = 0;
}

void TaskScheduler::Load(std::shared_ptr<const StateSnapshot> snapshot) {
  last_snapshot_ = snapshot;
  size_t tasks = 0;
  for (const auto& [name, stored] : snapshot->services) {
    ServiceState& state = AddService(name, stored);
    auto records = snapshot->tasks.find(name);
    if (records != snapshot->tasks.end()) {
      state.history = *records->second;
      state.history.clear_tasks();
      for (const v1::Task& task : records->second->tasks()) {
        if (IsTerminal(task.state())) continue;
        if (task.has_unreachable_since()) {
          ReplanAt(name, FromProtoTimestamp(task.unreachable_since()) + config_.unreachable_grace);
        }
        state.tasks.emplace(task.id(), task);
        task_service_[task.id()] = name;
        ++tasks;
      }
    }
    const std::string head = store_.paths().tasks_head(name);
    for (const CorruptRecord& corrupt : snapshot->corrupt) {
      if (corrupt.znode != head) continue;
      state.adopt_unknown = true;
      LogError("task_records_corrupt",
               {{"service", name},
                {"znode", head},
                {"error", corrupt.error},
                {"msg", "tasks Mesos reports for this service are adopted, not killed"}});
    }
  }
  loaded_ = true;
  LogInfo("scheduler_loaded", {{"services", services_.size()},
                               {"tasks", tasks},
                               {"store_version", snapshot->store_version},
                               {"fencing_token", term_.fencing_token}});
  ReplanAll();
  uint64_t epoch = epoch_;
  tick_timer_ = loop_.RunAfter(config_.tick, [this, epoch, alive = std::weak_ptr<char>(alive_)] {
    if (alive.lock() && epoch == epoch_) Tick();
  });
  if (caller_ != nullptr) {
    StartReconciliation();
    ResendKills();
  }
}

TaskScheduler::ServiceState& TaskScheduler::AddService(
    const std::string& name, std::shared_ptr<const StoredService> stored) {
  ServiceState& state = services_[name];
  state.stored = std::move(stored);
  if (!state.write_backoff) state.write_backoff = std::make_unique<Backoff>(config_.write_retry);
  return state;
}

void TaskScheduler::OnSnapshot(const std::shared_ptr<const StateSnapshot>& snapshot) {
  last_snapshot_ = snapshot;
  if (!leading_ || !loaded_) return;
  std::vector<std::string> changed;
  for (const auto& [name, stored] : snapshot->services) {
    auto it = services_.find(name);
    if (it == services_.end()) {
      AddService(name, stored);
      changed.push_back(name);
    } else if (it->second.stored != stored) {
      it->second.stored = stored;
      changed.push_back(name);
    }
  }
  for (auto& [name, state] : services_) {
    if (snapshot->services.count(name) > 0 || state.removing) continue;
    const std::string znode = store_.paths().service(name);
    if (std::any_of(snapshot->corrupt.begin(), snapshot->corrupt.end(),
                    [&](const CorruptRecord& c) { return c.znode == znode; })) {
      continue;  // unreadable, not deleted: keep acting on what we knew
    }
    if (state.stored->record.service().deleting() && state.tasks.empty()) continue;
    // The record went without a delete by us (an operator?): wind down.
    auto gone = std::make_shared<StoredService>(*state.stored);
    gone->record.mutable_service()->set_deleting(true);
    state.stored = std::move(gone);
    changed.push_back(name);
  }
  for (const std::string& name : changed) Replan(name);
  UpdateOfferInterest();
}

// --- Planning ----------------------------------------------------------------

void TaskScheduler::ReplanAll() {
  std::vector<std::string> names;
  names.reserve(services_.size());
  for (const auto& [name, state] : services_) names.push_back(name);
  for (const std::string& name : names) Replan(name);
  UpdateOfferInterest();
}

void TaskScheduler::Replan(const std::string& name) {
  auto it = services_.find(name);
  if (it == services_.end() || !leading_ || !loaded_) return;
  ServiceState& state = it->second;
  const v1::Service& service = state.stored->record.service();
  std::vector<const v1::Task*> tasks;
  tasks.reserve(state.tasks.size());
  for (const auto& [id, task] : state.tasks) tasks.push_back(&task);
  const absl::Time now = clock_.Now();
  ServicePlan plan = PlanService(service, tasks, now, {config_.unreachable_grace});
  bool changed = false;
  for (const std::string& id : plan.expunge) {
    auto task = state.tasks.find(id);
    if (task == state.tasks.end()) continue;
    LogWarning("task_expunged",
               {{"task_id", id},
                {"service", name},
                {"unreachable_grace", absl::FormatDuration(config_.unreachable_grace)},
                {"msg", "replaced; killed if it comes back"}});
    if (metrics_ != nullptr) metrics_->tasks_expunged.Increment();
    RecordFailure(state, task->second,
                  absl::StrCat("unreachable for more than ",
                               absl::FormatDuration(config_.unreachable_grace)));
    DropTask(state, id);
    changed = true;
  }
  for (const std::string& id : plan.kill) {
    auto task = state.tasks.find(id);
    if (task == state.tasks.end()) continue;
    task->second.set_kill_requested(true);
    ToProtoTimestamp(now, task->second.mutable_kill_requested_time());
    ToProtoTimestamp(now, task->second.mutable_updated());
    Kill(task->second);
    changed = true;
  }
  state.to_launch = plan.to_launch;
  if (state.to_launch > 0 && !service.deleting()) {
    waiting_services_.insert(name);
  } else {
    waiting_services_.erase(name);
  }
  if (changed) MarkChanged(name, state);
  if (plan.remove_record) RemoveRecord(name);
}

void TaskScheduler::ScheduleReplan(const std::string& name) {
  replans_.insert(name);
  if (replans_posted_) return;
  replans_posted_ = true;
  loop_.Post([this, epoch = epoch_, alive = std::weak_ptr<char>(alive_)] {
    if (!alive.lock() || epoch != epoch_) return;
    RunScheduledReplans();
  });
}

void TaskScheduler::RunScheduledReplans() {
  replans_posted_ = false;
  std::set<std::string> names = std::move(replans_);
  replans_.clear();
  for (const std::string& name : names) Replan(name);
  if (!names.empty()) UpdateOfferInterest();
}

void TaskScheduler::RemoveRecord(const std::string& name) {
  ServiceState& state = services_.at(name);
  // Only once every change of its records is written (or the removal would
  // race a write of the tasks znode).
  if (state.removing || state.writing || state.durable_seq < state.seq) return;
  state.removing = true;
  uint64_t epoch = epoch_;
  store_.DeleteService(
      term_, name, [this, epoch, name, alive = std::weak_ptr<char>(alive_)](absl::Status status) {
        if (!alive.lock() || epoch != epoch_) return;
        auto it = services_.find(name);
        if (it == services_.end()) return;
        it->second.removing = false;
        if (status.ok() || absl::IsNotFound(status)) {
          LogInfo("service_removed", {{"service", name}});
          for (const auto& [id, task] : it->second.tasks) task_service_.erase(id);
          loop_.Cancel(it->second.retry_timer);
          services_.erase(it);
          waiting_services_.erase(name);
          unmet_logged_.erase(name);
          return;
        }
        if (absl::IsFailedPrecondition(status)) {
          LogError("service_remove_refused", {{"service", name}, {"error", status.ToString()}});
          if (step_down_) step_down_("deposed: a fenced write was refused");
          return;
        }
        LogWarning("service_remove_failed", {{"service", name}, {"error", status.ToString()}});
        ReplanAt(name, clock_.Now() + it->second.write_backoff->Next(bitgen_));
      });
}

void TaskScheduler::ReplanAt(const std::string& name, absl::Time when) {
  // Not cancelled: a plan made when nothing is due changes nothing.
  loop_.RunAt(when, [this, epoch = epoch_, name, alive = std::weak_ptr<char>(alive_)] {
    if (alive.lock() && epoch == epoch_) ScheduleReplan(name);
  });
}

void TaskScheduler::ResendKills() {
  for (auto& [name, state] : services_) {
    for (const auto& [id, task] : state.tasks) {
      if (task.kill_requested()) Kill(task);
    }
  }
}

void TaskScheduler::Tick() {
  tick_timer_ = 0;
  if (!leading_ || !loaded_) return;
  const absl::Time now = clock_.Now();
  if (caller_ != nullptr) {
    // Every task being killed has an entry once subscribed (OnSubscribed and
    // Load send them all): only the ones sent long enough ago are looked at.
    std::vector<const v1::Task*> due;
    for (const auto& [id, sent] : kill_sent_) {
      if (now - sent < config_.kill_retry) continue;
      auto owner = task_service_.find(id);
      if (owner != task_service_.end()) due.push_back(&services_.at(owner->second).tasks.at(id));
    }
    for (const v1::Task* task : due) Kill(*task);
  }
  if (metrics_ != nullptr) metrics_->tasks.Set(static_cast<double>(task_service_.size()));
  uint64_t epoch = epoch_;
  tick_timer_ = loop_.RunAfter(config_.tick, [this, epoch, alive = std::weak_ptr<char>(alive_)] {
    if (alive.lock() && epoch == epoch_) Tick();
  });
}

// --- Records -----------------------------------------------------------------

void TaskScheduler::RecordFailure(ServiceState& state, const v1::Task& task,
                                  absl::string_view what) {
  const absl::Time now = clock_.Now();
  auto& history = state.history;
  if (task.has_started() && now - FromProtoTimestamp(task.started()) >= config_.stable_run) {
    history.set_consecutive_failures(0);  // it ran well for a while: no crash loop
  }
  history.set_failed(history.failed() + 1);
  history.set_last_failure(absl::StrCat(task.id(), ": ", what));
  ToProtoTimestamp(now, history.mutable_last_failure_time());
  history.set_consecutive_failures(history.consecutive_failures() + 1);
  absl::Duration delay = RelaunchDelay(state.stored->record.service().spec().backoff(),
                                       history.consecutive_failures());
  ToProtoTimestamp(now + delay, history.mutable_backoff_until());
  ReplanAt(task.service(), now + delay);  // relaunch as soon as the delay is over
  if (metrics_ != nullptr) metrics_->tasks_failed.Increment();
  LogWarning("task_failed", {{"task_id", task.id()},
                             {"service", task.service()},
                             {"what", what},
                             {"consecutive_failures", history.consecutive_failures()},
                             {"relaunch_after", absl::FormatDuration(delay)}});
}

void TaskScheduler::DropTask(ServiceState& state, const std::string& task_id) {
  state.tasks.erase(task_id);
  task_service_.erase(task_id);
  kill_sent_.erase(task_id);
  ReconcileAnswered(task_id);
}

void TaskScheduler::MarkChanged(const std::string& name, ServiceState& state) {
  ++state.seq;
  if (state.flush_posted || state.writing) return;
  state.flush_posted = true;
  // Changes made in this turn of the loop go into one write.
  loop_.Post([this, epoch = epoch_, name, alive = std::weak_ptr<char>(alive_)] {
    if (!alive.lock() || epoch != epoch_) return;
    auto it = services_.find(name);
    if (it == services_.end()) return;
    it->second.flush_posted = false;
    Flush(name);
  });
}

void TaskScheduler::WhenDurable(ServiceState& state, bool fail_fast,
                                absl::AnyInvocable<void(absl::Status) &&> done) {
  if (state.durable_seq >= state.seq) return std::move(done)(absl::OkStatus());
  state.waiters.push_back({state.seq, fail_fast, std::move(done)});
}

void TaskScheduler::Flush(const std::string& name) {
  auto it = services_.find(name);
  if (it == services_.end()) return;
  ServiceState& state = it->second;
  if (state.writing || state.durable_seq >= state.seq || state.retry_timer != 0) return;
  mast::v1::records::TaskRecords records = state.history;
  records.mutable_tasks()->Reserve(static_cast<int>(state.tasks.size()));
  for (const auto& [id, task] : state.tasks) *records.add_tasks() = task;
  state.writing = true;
  const uint64_t target = state.seq;
  uint64_t epoch = epoch_;
  store_.PutTasks(
      term_, name, std::move(records),
      [this, epoch, name, target, alive = std::weak_ptr<char>(alive_)](absl::Status status) {
        if (!alive.lock() || epoch != epoch_) return;
        auto it = services_.find(name);
        if (it == services_.end()) return;
        ServiceState& state = it->second;
        state.writing = false;
        if (metrics_ != nullptr) metrics_->task_writes.Increment();
        std::vector<Waiter> ready;
        if (status.ok()) {
          state.durable_seq = target;
          state.write_backoff->Reset();
          auto split = std::stable_partition(state.waiters.begin(), state.waiters.end(),
                                             [&](const Waiter& w) { return w.seq > target; });
          std::move(split, state.waiters.end(), std::back_inserter(ready));
          state.waiters.erase(split, state.waiters.end());
        } else if (absl::IsFailedPrecondition(status)) {
          LogError("task_records_write_refused", {{"service", name}, {"error", status.ToString()}});
          if (step_down_) step_down_("deposed: a fenced write of task records was refused");
          return;
        } else {
          if (metrics_ != nullptr) metrics_->task_write_failures.Increment();
          absl::Duration delay = state.write_backoff->Next(bitgen_);
          LogWarning("task_records_write_failed", {{"service", name},
                                                   {"error", status.ToString()},
                                                   {"retry_in", absl::FormatDuration(delay)}});
          // Launches holding offers give up at once; acknowledgements wait.
          auto split = std::stable_partition(state.waiters.begin(), state.waiters.end(),
                                             [](const Waiter& w) { return !w.fail_fast; });
          std::move(split, state.waiters.end(), std::back_inserter(ready));
          state.waiters.erase(split, state.waiters.end());
          state.retry_timer =
              loop_.RunAfter(delay, [this, epoch, name, alive = std::weak_ptr<char>(alive_)] {
                if (!alive.lock() || epoch != epoch_) return;
                auto it = services_.find(name);
                if (it == services_.end()) return;
                it->second.retry_timer = 0;
                Flush(name);
              });
        }
        for (Waiter& waiter : ready) std::move(waiter.done)(status);
        auto again = services_.find(name);
        if (again == services_.end()) return;
        if (status.ok() && again->second.durable_seq < again->second.seq) Flush(name);
        if (status.ok() && again->second.stored->record.service().deleting()) Replan(name);
      });
}

// --- Mesos calls -------------------------------------------------------------

void TaskScheduler::Send(Call call, absl::AnyInvocable<void(absl::Status) &&> done) {
  if (caller_ == nullptr) {
    if (done) std::move(done)(absl::UnavailableError("not subscribed"));
    return;
  }
  std::string type = Call::Type_Name(call.type());
  caller_->Call(std::move(call), [type, done = std::move(done)](absl::Status status) mutable {
    if (!status.ok() && !absl::IsUnavailable(status)) {
      LogWarning("mesos_call_rejected", {{"type", type}, {"error", status.ToString()}});
    }
    if (done) std::move(done)(std::move(status));
  });
}

void TaskScheduler::Kill(const v1::Task& task) {
  if (caller_ == nullptr) return;  // sent by OnSubscribed (ResendKills)
  Call call;
  call.set_type(Call::KILL);
  call.mutable_kill()->mutable_task_id()->set_value(task.id());
  if (!task.agent_id().empty()) call.mutable_kill()->mutable_agent_id()->set_value(task.agent_id());
  kill_sent_[task.id()] = clock_.Now();
  if (metrics_ != nullptr) metrics_->kills_sent.Increment();
  Send(std::move(call));
}

void TaskScheduler::KillUnknown(const m::TaskStatus& status) {
  LogWarning("killing_unknown_task",
             {{"task_id", status.task_id().value()}, {"state", m::TaskState_Name(status.state())}});
  if (metrics_ != nullptr) metrics_->unknown_tasks_killed.Increment();
  Call call;
  call.set_type(Call::KILL);
  *call.mutable_kill()->mutable_task_id() = status.task_id();
  if (status.has_agent_id()) *call.mutable_kill()->mutable_agent_id() = status.agent_id();
  Send(std::move(call));
}

void TaskScheduler::Acknowledge(const m::TaskStatus& status) {
  if (!status.has_uuid() || !status.has_agent_id()) return;
  Call call;
  call.set_type(Call::ACKNOWLEDGE);
  *call.mutable_acknowledge()->mutable_agent_id() = status.agent_id();
  *call.mutable_acknowledge()->mutable_task_id() = status.task_id();
  call.mutable_acknowledge()->set_uuid(status.uuid());
  Send(std::move(call));
}

void TaskScheduler::Decline(const std::vector<m::OfferID>& offers, absl::Duration refuse) {
  if (offers.empty()) return;
  Call call;
  call.set_type(Call::DECLINE);
  for (const m::OfferID& id : offers) *call.mutable_decline()->add_offer_ids() = id;
  call.mutable_decline()->mutable_filters()->set_refuse_seconds(absl::ToDoubleSeconds(refuse));
  if (metrics_ != nullptr) metrics_->offers_declined.Increment(static_cast<double>(offers.size()));
  Send(std::move(call));
}

void TaskScheduler::UpdateOfferInterest() {
  if (!Active()) return;
  const absl::Time now = clock_.Now();
  size_t waiting = 0;
  for (const std::string& name : waiting_services_) {
    const ServiceState& state = services_.at(name);
    if (state.to_launch <= 0 || state.stored->record.service().deleting()) continue;
    if (state.history.has_backoff_until() &&
        FromProtoTimestamp(state.history.backoff_until()) > now)
      continue;
    waiting += static_cast<size_t>(state.to_launch);
  }
  if (metrics_ != nullptr) metrics_->tasks_waiting.Set(static_cast<double>(waiting));
  if (waiting > 0 && !offers_wanted_) {
    Revive();
  } else if (waiting == 0 && offers_wanted_) {
    offers_wanted_ = false;
    Call call;
    call.set_type(Call::SUPPRESS);
    call.mutable_suppress()->add_roles(config_.default_role);
    if (metrics_ != nullptr) metrics_->suppresses.Increment();
    Send(std::move(call));
  }
}

void TaskScheduler::Revive() {
  const absl::Time now = clock_.Now();
  if (now - last_revive_ < config_.revive_interval) {
    if (revive_timer_ == 0) {
      uint64_t epoch = sub_epoch_;
      revive_timer_ = loop_.RunAt(last_revive_ + config_.revive_interval,
                                  [this, epoch, alive = std::weak_ptr<char>(alive_)] {
                                    if (!alive.lock() || epoch != sub_epoch_) return;
                                    revive_timer_ = 0;
                                    UpdateOfferInterest();
                                  });
    }
    return;
  }
  last_revive_ = now;
  offers_wanted_ = true;
  Call call;
  call.set_type(Call::REVIVE);  // every role: clears the filters of earlier declines
  if (metrics_ != nullptr) metrics_->revives.Increment();
  Send(std::move(call));
}

// --- Offers ------------------------------------------------------------------

void TaskScheduler::OnOffers(const m::scheduler::Event::Offers& event) {
  std::vector<m::Offer> offers(event.offers().begin(), event.offers().end());
  std::vector<m::OfferID> all;
  for (const m::Offer& offer : offers) {
    all.push_back(offer.id());
    agent_attributes_[offer.agent_id().value()].assign(offer.attributes().begin(),
                                                       offer.attributes().end());
  }
  if (!Active()) return Decline(all, config_.busy_decline_refuse);
  RunScheduledReplans();
  const absl::Time now = clock_.Now();
  std::vector<QueuedService> queue;
  std::vector<std::string> names;
  std::map<const v1::ServiceSpec*, uint64_t> versions;
  for (const std::string& name : waiting_services_) {
    ServiceState& state = services_.at(name);
    const v1::Service& service = state.stored->record.service();
    if (state.to_launch <= 0 || service.deleting()) continue;
    if (state.history.has_backoff_until() &&
        FromProtoTimestamp(state.history.backoff_until()) > now)
      continue;
    QueuedService queued;
    queued.spec = &service.spec();
    queued.version = service.task_version();
    queued.to_launch = state.to_launch;
    for (const auto& [id, task] : state.tasks) {
      if (!IsLive(task)) continue;
      Placement placement;
      placement.hostname = task.host();
      auto attributes = agent_attributes_.find(task.agent_id());
      if (attributes != agent_attributes_.end()) {
        placement.attributes = attributes->second;
      } else {
        // Not offered since this leader started: as recorded at placement
        // (TEXT carries the compared value as is).
        for (const auto& [name, value] : task.agent_attributes()) {
          m::Attribute& attribute = placement.attributes.emplace_back();
          attribute.set_name(name);
          attribute.set_type(m::Value::TEXT);
          attribute.mutable_text()->set_value(value);
        }
      }
      queued.existing.push_back(std::move(placement));
    }
    versions[queued.spec] = queued.version;
    queue.push_back(std::move(queued));
    names.push_back(name);
  }
  if (queue.empty()) {
    Decline(all, config_.idle_decline_refuse);
    UpdateOfferInterest();
    return;
  }
  MatchOptions options;
  options.default_role = config_.default_role;
  OfferPlan plan = MatchOffers(
      offers, queue,
      [&](const v1::ServiceSpec& spec) {
        std::string id;
        do {
          id = MakeTaskId(spec.name(), versions[&spec], absl::Uniform<uint64_t>(bitgen_));
        } while (task_service_.count(id) > 0);
        return id;
      },
      options);
  for (const std::string& reason : plan.unmet_reasons) {
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
  std::vector<m::OfferID> unused = std::move(plan.unused);
  LaunchPlanned(std::move(plan), queue, names, event);
  bool still_waiting = false;
  for (const std::string& name : names) still_waiting |= services_.at(name).to_launch > 0;
  Decline(unused, still_waiting ? config_.busy_decline_refuse : config_.idle_decline_refuse);
  UpdateOfferInterest();
}

void TaskScheduler::LaunchPlanned(OfferPlan plan, const std::vector<QueuedService>& queue,
                                  const std::vector<std::string>& names,
                                  const m::scheduler::Event::Offers& offers) {
  if (plan.launches.empty()) return;
  std::map<std::string, const m::Offer*> by_id;
  for (const m::Offer& offer : offers.offers()) by_id[offer.id().value()] = &offer;
  const absl::Time now = clock_.Now();
  std::set<std::string> affected;
  std::vector<std::string> launched_ids;
  for (const OfferLaunch& launch : plan.launches) {
    for (const PlannedTask& planned : launch.tasks) {
      const std::string& name = names[planned.queue_index];
      ServiceState& state = services_.at(name);
      v1::Task task;
      task.set_id(planned.info.task_id().value());
      task.set_service(name);
      task.set_version(queue[planned.queue_index].version);
      task.set_agent_id(planned.info.agent_id().value());
      const m::Offer* offer = by_id.at(launch.offer_id.value());
      task.set_host(offer->hostname());
      for (const m::Attribute& attribute : offer->attributes()) {
        (*task.mutable_agent_attributes())[attribute.name()] = AttributeValueString(attribute);
      }
      for (uint32_t port : planned.host_ports) task.add_ports(port);
      task.set_state(v1::Task::PENDING);
      ToProtoTimestamp(now, task.mutable_created());
      ToProtoTimestamp(now, task.mutable_updated());
      task_service_[task.id()] = name;
      launched_ids.push_back(task.id());
      state.tasks.emplace(task.id(), std::move(task));
      affected.insert(name);
    }
  }
  for (const std::string& name : affected) {
    MarkChanged(name, services_.at(name));
    Replan(name);
  }
  // ACCEPT once every intent is durable; all or nothing.
  struct Pending {
    size_t left = 0;
    absl::Status status;
    std::vector<OfferLaunch> launches;
    std::vector<std::string> task_ids;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = affected.size();
  pending->launches = std::move(plan.launches);
  pending->task_ids = std::move(launched_ids);
  uint64_t epoch = epoch_, sub_epoch = sub_epoch_;
  for (const std::string& name : affected) {
    WhenDurable(
        services_.at(name), /*fail_fast=*/true,
        [this, pending, epoch, sub_epoch,
         alive = std::weak_ptr<char>(alive_)](absl::Status status) {
          if (!status.ok() && pending->status.ok()) pending->status = status;
          if (--pending->left > 0 || !alive.lock() || epoch != epoch_) return;
          if (sub_epoch != sub_epoch_ || caller_ == nullptr) return;  // the offers died with it
          if (!pending->status.ok()) {
            std::vector<m::OfferID> offers;
            for (const OfferLaunch& launch : pending->launches) offers.push_back(launch.offer_id);
            Decline(offers, absl::ZeroDuration());
            std::set<std::string> touched;
            for (const std::string& id : pending->task_ids) {
              auto owner = task_service_.find(id);
              if (owner == task_service_.end()) continue;
              ServiceState& state = services_.at(owner->second);
              auto task = state.tasks.find(id);
              if (task == state.tasks.end() || task->second.state() != v1::Task::PENDING) continue;
              touched.insert(owner->second);
              DropTask(state, id);
            }
            for (const std::string& name : touched) {
              MarkChanged(name, services_.at(name));
              Replan(name);
            }
            UpdateOfferInterest();
            return;
          }
          for (OfferLaunch& launch : pending->launches) {
            Call call;
            call.set_type(Call::ACCEPT);
            *call.mutable_accept()->add_offer_ids() = launch.offer_id;
            auto* operation = call.mutable_accept()->add_operations();
            operation->set_type(m::Offer::Operation::LAUNCH);
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
            Send(std::move(call), [this, ids = std::move(ids), sub_epoch,
                                   alive = std::weak_ptr<char>(alive_)](absl::Status status) {
              if (status.ok() || !alive.lock() || sub_epoch != sub_epoch_) return;
              // Launched or not: ask the master.
              LogWarning("accept_failed", {{"tasks", ids.size()}, {"error", status.ToString()}});
              for (const std::string& id : ids) {
                auto owner = task_service_.find(id);
                if (owner == task_service_.end()) continue;
                const v1::Task& task = services_.at(owner->second).tasks.at(id);
                unanswered_[id] = task.agent_id();
              }
              if (reconcile_timer_ == 0) SendExplicitReconcile();
            });
          }
        });
  }
}

void TaskScheduler::OnRescind(const m::OfferID&) {
  // Offers are held only while intents are written; an ACCEPT of a rescinded
  // offer makes the master report the tasks dropped, and they are replaced.
}

// --- Status updates ----------------------------------------------------------

void TaskScheduler::OnUpdate(const m::TaskStatus& status) {
  if (metrics_ != nullptr) metrics_->status_updates.Increment();
  if (!leading_ || !loaded_) return;  // unacknowledged: the master sends it again
  const std::string& id = status.task_id().value();
  const v1::Task::State state = TaskStateFromMesos(status.state());
  const absl::Time now = clock_.Now();
  ReconcileAnswered(id);
  auto owner = task_service_.find(id);
  if (owner == task_service_.end()) {
    std::optional<std::pair<std::string, uint64_t>> parsed = ParseTaskId(id);
    auto adopter = parsed ? services_.find(parsed->first) : services_.end();
    if (adopter != services_.end() && adopter->second.adopt_unknown && !IsTerminal(state)) {
      v1::Task task;
      task.set_id(id);
      task.set_service(parsed->first);
      task.set_version(parsed->second);
      task.set_agent_id(status.agent_id().value());
      task.set_state(state);
      ToProtoTimestamp(now, task.mutable_created());
      ToProtoTimestamp(now, task.mutable_updated());
      LogWarning("task_adopted", {{"task_id", id}, {"service", parsed->first}});
      task_service_[id] = parsed->first;
      adopter->second.tasks.emplace(id, std::move(task));
      MarkChanged(parsed->first, adopter->second);
      ScheduleReplan(parsed->first);
      WhenDurable(adopter->second, false,
                  [this, status, sub_epoch = sub_epoch_](absl::Status written) {
                    if (written.ok() && sub_epoch == sub_epoch_) Acknowledge(status);
                  });
      return;
    }
    if (!IsTerminal(state)) {
      bool unreadable = parsed && last_snapshot_ != nullptr &&
                        std::any_of(last_snapshot_->corrupt.begin(), last_snapshot_->corrupt.end(),
                                    [&](const CorruptRecord& c) {
                                      return c.znode == store_.paths().service(parsed->first);
                                    });
      if (unreadable) {
        LogWarning("unknown_task_kept",
                   {{"task_id", id}, {"msg", "its service record is unreadable"}});
      } else {
        KillUnknown(status);
      }
    }
    Acknowledge(status);
    return;
  }
  const std::string name = owner->second;
  ServiceState& service = services_.at(name);
  v1::Task& task = service.tasks.at(id);
  bool changed = false;
  if (IsTerminal(state)) {
    const bool asked = task.kill_requested();
    const bool never_launched = task.state() == v1::Task::PENDING &&
                                status.reason() == m::TaskStatus::REASON_RECONCILIATION;
    LogInfo("task_ended", {{"task_id", id},
                           {"state", m::TaskState_Name(status.state())},
                           {"reason", m::TaskStatus::Reason_Name(status.reason())},
                           {"message", status.message()},
                           {"asked", asked}});
    if (!asked && !never_launched) {
      RecordFailure(service, task,
                    absl::StrCat(m::TaskState_Name(status.state()),
                                 status.message().empty() ? "" : ": ", status.message()));
    }
    DropTask(service, id);
    changed = true;
  } else {
    if (task.state() != state) {
      task.set_state(state);
      changed = true;
    }
    if (status.has_agent_id() && task.agent_id() != status.agent_id().value()) {
      task.set_agent_id(status.agent_id().value());
      changed = true;
    }
    if (status.has_healthy() && task.healthy() != status.healthy()) {
      task.set_healthy(status.healthy());
      changed = true;
    }
    if (state == v1::Task::RUNNING && !task.has_started()) {
      ToProtoTimestamp(now, task.mutable_started());
      changed = true;
    }
    if (state == v1::Task::UNREACHABLE && !task.has_unreachable_since()) {
      ToProtoTimestamp(now, task.mutable_unreachable_since());
      ReplanAt(name, now + config_.unreachable_grace);  // then it is replaced
      changed = true;
    } else if (state != v1::Task::UNREACHABLE && task.has_unreachable_since()) {
      task.clear_unreachable_since();
      changed = true;
    }
    if (changed) {
      task.set_message(status.message());
      task.set_reason(status.has_reason() ? m::TaskStatus::Reason_Name(status.reason()) : "");
      ToProtoTimestamp(now, task.mutable_updated());
    }
    // A task we are killing that reports in: ask again if it has been a while.
    if (task.kill_requested()) {
      auto sent = kill_sent_.find(id);
      if (sent == kill_sent_.end() || now - sent->second >= config_.kill_retry) Kill(task);
    }
  }
  if (changed) MarkChanged(name, service);
  ScheduleReplan(name);
  WhenDurable(service, false, [this, status, sub_epoch = sub_epoch_](absl::Status written) {
    if (written.ok() && sub_epoch == sub_epoch_) Acknowledge(status);
  });
}

// --- Subscription and reconciliation ----------------------------------------

void TaskScheduler::OnSubscribed(MesosCaller& caller) {
  caller_ = &caller;
  ++sub_epoch_;
  offers_wanted_ = true;  // subscribed without suppressed roles
  last_revive_ = absl::InfinitePast();
  kill_sent_.clear();  // kills are sent again on this subscription
  if (!leading_ || !loaded_) return;
  StartReconciliation();
  ResendKills();
  UpdateOfferInterest();
}

void TaskScheduler::OnUnsubscribed() {
  caller_ = nullptr;
  ++sub_epoch_;
  loop_.Cancel(reconcile_timer_);
  reconcile_timer_ = 0;
  loop_.Cancel(revive_timer_);
  revive_timer_ = 0;
  unanswered_.clear();
  reconciled_ = false;
}

void TaskScheduler::StartReconciliation() {
  reconciled_ = false;
  reconcile_started_ = clock_.Now();
  reconcile_backoff_->Reset();
  unanswered_.clear();
  for (const auto& [name, state] : services_) {
    for (const auto& [id, task] : state.tasks) unanswered_[id] = task.agent_id();
  }
  LogInfo("reconciliation_started", {{"tasks", unanswered_.size()}});
  if (unanswered_.empty()) {
    reconciled_ = true;  // ReconcileAnswered would never see the last answer
    reconciled_at_ = clock_.Now();
    if (metrics_ != nullptr) {
      metrics_->reconciliations.Increment();
      metrics_->reconcile_seconds.Set(0);
    }
    LogInfo("reconciliation_complete", {{"duration", "0"}});
    return ImplicitReconcile();
  }
  SendExplicitReconcile();
}

void TaskScheduler::SendExplicitReconcile() {
  loop_.Cancel(reconcile_timer_);
  reconcile_timer_ = 0;
  if (caller_ == nullptr || unanswered_.empty()) return;
  Call call;
  auto flush = [&] {
    if (call.reconcile().tasks_size() == 0) return;
    Send(std::move(call));
    call = Call();
  };
  for (const auto& [id, agent] : unanswered_) {
    if (call.reconcile().tasks_size() == 0) call.set_type(Call::RECONCILE);
    auto* task = call.mutable_reconcile()->add_tasks();
    task->mutable_task_id()->set_value(id);
    if (!agent.empty()) task->mutable_agent_id()->set_value(agent);
    if (static_cast<size_t>(call.reconcile().tasks_size()) >= config_.reconcile_batch) flush();
  }
  flush();
  uint64_t epoch = sub_epoch_;
  reconcile_timer_ = loop_.RunAfter(
      reconcile_backoff_->Next(bitgen_), [this, epoch, alive = std::weak_ptr<char>(alive_)] {
        if (!alive.lock() || epoch != sub_epoch_) return;
        reconcile_timer_ = 0;
        if (!unanswered_.empty()) {
          LogInfo("reconciliation_resend", {{"unanswered", unanswered_.size()}});
          SendExplicitReconcile();
        }
      });
}

void TaskScheduler::ReconcileAnswered(const std::string& task_id) {
  if (unanswered_.erase(task_id) == 0 || !unanswered_.empty()) return;
  if (reconciled_) return;  // a resend for a failed ACCEPT was answered
  reconciled_ = true;
  reconciled_at_ = clock_.Now();
  const absl::Duration took = reconciled_at_ - reconcile_started_;
  if (metrics_ != nullptr) {
    metrics_->reconciliations.Increment();
    metrics_->reconcile_seconds.Set(absl::ToDoubleSeconds(took));
  }
  LogInfo("reconciliation_complete", {{"duration", absl::FormatDuration(took)}});
  ImplicitReconcile();
}

void TaskScheduler::ImplicitReconcile() {
  loop_.Cancel(reconcile_timer_);
  reconcile_timer_ = 0;
  if (caller_ == nullptr) return;
  Call call;
  call.set_type(Call::RECONCILE);
  call.mutable_reconcile();
  Send(std::move(call));
  uint64_t epoch = sub_epoch_;
  reconcile_timer_ = loop_.RunAfter(config_.reconcile_interval,
                                    [this, epoch, alive = std::weak_ptr<char>(alive_)] {
                                      if (!alive.lock() || epoch != sub_epoch_) return;
                                      reconcile_timer_ = 0;
                                      ImplicitReconcile();
                                    });
}

TaskScheduler::Stats TaskScheduler::stats() const {
  Stats stats;
  stats.loaded = loaded_;
  stats.reconciled = reconciled_;
  stats.services = services_.size();
  stats.tasks = task_service_.size();
  stats.reconciled_at = reconciled_at_;
  for (const auto& [name, state] : services_) {
    stats.waiting += static_cast<size_t>(std::max(0, state.to_launch));
  }
  return stats;
}

}  // namespace mast
