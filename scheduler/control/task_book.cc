#include "scheduler/control/task_book.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/proto_util.h"
#include "scheduler/control/service_plan.h"
#include "store/task_state.h"

namespace mast {

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

// Drops the smallest task versions beyond kMaxFailedVersions.
void BoundFailedVersions(mast::v1::records::TaskRecords& history) {
  auto& by_version = *history.mutable_failed_by_task_version();
  while (by_version.size() > kMaxFailedVersions) {
    auto oldest = std::min_element(by_version.begin(), by_version.end(),
                                   [](const auto& a, const auto& b) { return a.first < b.first; });
    by_version.erase(oldest);
  }
}

}  // namespace

bool CheckStatusPassed(const ::mesos::v1::CheckStatusInfo& status) {
  using Type = ::mesos::v1::CheckInfo;
  switch (status.type()) {
    case Type::HTTP:
      return status.http().has_status_code() && status.http().status_code() >= 200 &&
             status.http().status_code() < 300;
    case Type::TCP:
      return status.tcp().has_succeeded() && status.tcp().succeeded();
    case Type::COMMAND:
      return status.command().has_exit_code() && status.command().exit_code() == 0;
    case Type::UNKNOWN:
      break;
  }
  return false;
}

bool BookedService::BackingOff(absl::Time now) const {
  return history.has_backoff_until() && FromProtoTimestamp(history.backoff_until()) > now;
}

TaskChange ApplyStatus(const ::mesos::v1::TaskStatus& status, absl::Time now, v1::Task& task) {
  const v1::Task::State state = TaskStateFromMesos(status.state());
  TaskChange change;
  bool& changed = change.changed;
  if (task.state() != state) {
    task.set_state(state);
    changed = true;
  }
  if (status.has_agent_id() && task.agent_id() != status.agent_id().value()) {
    task.set_agent_id(status.agent_id().value());
    changed = true;
  }
  // Without `healthy` the update says nothing of health (a reconciliation
  // answer, a task without checks): the stored value stands.
  if (status.has_healthy() && task.healthy() != status.healthy()) {
    task.set_healthy(status.healthy());
    change.health_changed = changed = true;
  }
  if (status.has_healthy() && !status.healthy() && !task.has_unhealthy_since()) {
    ToProtoTimestamp(now, task.mutable_unhealthy_since());
    change.became_unhealthy = changed = true;
  } else if (status.has_healthy() && status.healthy() && task.has_unhealthy_since()) {
    task.clear_unhealthy_since();
    changed = true;
  }
  // Latched: a later failing check does not make the task unready (the
  // health check is what replaces a task that stops working).
  if (!task.ready() && status.has_check_status() && CheckStatusPassed(status.check_status())) {
    task.set_ready(true);
    change.became_ready = changed = true;
  }
  // Container networks' addresses, as the agent reports them (a named
  // network's; the host network's address is the agent's, already `host`).
  if (status.has_container_status()) {
    std::vector<std::string> addresses;
    for (const auto& network : status.container_status().network_infos()) {
      if (!network.has_name()) continue;
      for (const auto& address : network.ip_addresses()) {
        if (!address.ip_address().empty()) addresses.push_back(address.ip_address());
      }
    }
    if (!addresses.empty() && !std::equal(addresses.begin(), addresses.end(),
                                          task.ip_addresses().begin(), task.ip_addresses().end())) {
      task.mutable_ip_addresses()->Assign(addresses.begin(), addresses.end());
      changed = true;
    }
  }
  if (state == v1::Task::RUNNING && !task.has_started()) {
    ToProtoTimestamp(now, task.mutable_started());
    changed = true;
  }
  if (state == v1::Task::UNREACHABLE && !task.has_unreachable_since()) {
    ToProtoTimestamp(now, task.mutable_unreachable_since());
    change.became_unreachable = changed = true;
  } else if (state != v1::Task::UNREACHABLE && task.has_unreachable_since()) {
    task.clear_unreachable_since();
    changed = true;
  }
  if (changed) {
    task.set_message(status.message());
    task.set_reason(status.has_reason() ? ::mesos::v1::TaskStatus::Reason_Name(status.reason())
                                        : "");
    ToProtoTimestamp(now, task.mutable_updated());
  }
  return change;
}

int BookedService::Launchable(absl::Time now) const {
  if (to_launch <= 0 || deleting() || BackingOff(now)) return 0;
  return to_launch;
}

TaskBook::TaskBook(Config config, ServiceStore& store, LeaderTerm term, EventLoop& loop,
                   Clock& clock, SchedulerMetrics* metrics, TaskBookHooks hooks)
    : config_(std::move(config)),
      store_(store),
      term_(std::move(term)),
      loop_(loop),
      clock_(clock),
      metrics_(metrics),
      hooks_(std::move(hooks)) {}

TaskBook::~TaskBook() {
  for (auto& [name, entry] : entries_) {
    loop_.Cancel(entry.writes.retry_timer);
    // The next term counts what it loads (mast_services_unplaced).
    if (entry.service.history.has_placement() && metrics_ != nullptr) {
      metrics_->services_unplaced.Decrement();
    }
  }
}

size_t TaskBook::Load(const StateSnapshot& snapshot) {
  size_t tasks = 0;
  for (const auto& [name, stored] : snapshot.services) {
    BookedService& service = Add(name, stored);
    auto records = snapshot.tasks.find(name);
    if (records != snapshot.tasks.end()) {
      service.history = *records->second;
      if (service.history.has_placement() && metrics_ != nullptr) {
        metrics_->services_unplaced.Increment();
      }
      service.history.clear_tasks();
      for (const v1::Task& task : records->second->tasks()) {
        if (IsTerminal(task.state())) continue;
        if (task.has_unreachable_since()) {
          const UnreachableTimes times =
              UnreachableTimesOf(stored->record.service().spec(), config_.unreachable_grace);
          const absl::Time since = FromProtoTimestamp(task.unreachable_since());
          hooks_.replan_at(name, since + times.inactive_after);  // replaced then
          if (times.expunge_after != times.inactive_after) {
            hooks_.replan_at(name, since + times.expunge_after);  // given up then
          }
        }
        if (std::optional<absl::Time> fails =
                FailsHealthAt(stored->record.service().spec(), task)) {
          hooks_.replan_at(name, *fails);  // replaced then, if it still fails
        }
        AddTask(name, task);
        ++tasks;
      }
    }
    const std::string head = store_.paths().tasks_head(name);
    for (const CorruptRecord& corrupt : snapshot.corrupt) {
      if (corrupt.znode != head) continue;
      service.adopt_unknown = true;
      LogError("task_records_corrupt",
               {{"service", name},
                {"znode", head},
                {"error", corrupt.error},
                {"msg", "tasks Mesos reports for this service are adopted, not killed"}});
    }
  }
  return tasks;
}

// --- Services and tasks ------------------------------------------------------

TaskBook::Entry* TaskBook::FindEntry(const std::string& name) {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

BookedService* TaskBook::Find(const std::string& name) {
  Entry* entry = FindEntry(name);
  return entry == nullptr ? nullptr : &entry->service;
}

BookedService& TaskBook::Add(const std::string& name, std::shared_ptr<const StoredService> stored) {
  Entry& entry = entries_[name];
  entry.service.stored = std::move(stored);
  if (!entry.writes.backoff) entry.writes.backoff = std::make_unique<Backoff>(config_.write_retry);
  return entry.service;
}

void TaskBook::ForEach(
    absl::FunctionRef<void(const std::string& name, BookedService& service)> fn) {
  for (auto& [name, entry] : entries_) fn(name, entry.service);
}

std::vector<std::string> TaskBook::Names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;
}

bool TaskBook::removing(const std::string& name) const {
  auto it = entries_.find(name);
  return it != entries_.end() && it->second.writes.removing;
}

TaskBook::TaskRef TaskBook::FindTask(const std::string& task_id) {
  auto owner = task_service_.find(task_id);
  if (owner == task_service_.end()) return {};
  Entry* entry = FindEntry(owner->second);
  if (entry == nullptr) return {};
  auto task = entry->service.tasks.find(task_id);
  if (task == entry->service.tasks.end()) return {};
  return {&owner->second, &entry->service, &task->second};
}

void TaskBook::AddTask(const std::string& service, v1::Task task) {
  Entry* entry = FindEntry(service);
  if (entry == nullptr) return;  // callers add tasks of booked services only
  task_service_[task.id()] = service;
  std::string id = task.id();
  entry->service.tasks.insert_or_assign(std::move(id), std::move(task));
}

void TaskBook::DropTask(const std::string& service, std::string task_id) {
  if (Entry* entry = FindEntry(service); entry != nullptr) entry->service.tasks.erase(task_id);
  task_service_.erase(task_id);
  if (hooks_.task_dropped) hooks_.task_dropped(task_id);
}

void TaskBook::RecordFailure(BookedService& service, const v1::Task& task, absl::string_view what) {
  const absl::Time now = clock_.Now();
  auto& history = service.history;
  if (task.has_started() && now - FromProtoTimestamp(task.started()) >= config_.stable_run) {
    history.set_consecutive_failures(0);  // it ran well for a while: no crash loop
  }
  history.set_failed(history.failed() + 1);
  ++(*history.mutable_failed_by_task_version())[task.version()];
  BoundFailedVersions(history);
  history.set_last_failure(absl::StrCat(task.id(), ": ", what));
  ToProtoTimestamp(now, history.mutable_last_failure_time());
  history.set_consecutive_failures(history.consecutive_failures() + 1);
  absl::Duration delay =
      RelaunchDelay(service.service().spec().backoff(), history.consecutive_failures());
  ToProtoTimestamp(now + delay, history.mutable_backoff_until());
  hooks_.replan_at(task.service(), now + delay);  // relaunch as soon as the delay is over
  if (metrics_ != nullptr) metrics_->tasks_failed.Increment();
  LogWarning("task_failed", {{"task_id", task.id()},
                             {"service", task.service()},
                             {"what", what},
                             {"consecutive_failures", history.consecutive_failures()},
                             {"relaunch_after", absl::FormatDuration(delay)}});
}

bool TaskBook::RecordEnd(BookedService& service, const v1::Task& task,
                         const ::mesos::v1::TaskStatus& status) {
  const bool asked = task.kill_requested() && !task.failed_health_check();
  const bool never_launched = task.state() == v1::Task::PENDING &&
                              status.reason() == ::mesos::v1::TaskStatus::REASON_RECONCILIATION;
  if (asked || never_launched) return false;
  // One failure per task end, whether it ended on its own or by Mast's kill
  // for its failed health check: the relaunch backoff grows once.
  RecordFailure(service, task,
                task.failed_health_check()
                    ? std::string("health check failed")
                    : absl::StrCat(::mesos::v1::TaskState_Name(status.state()),
                                   status.message().empty() ? "" : ": ", status.message()));
  return true;
}

bool TaskBook::MarkFailedHealthCheck(const std::string& task_id) {
  TaskRef ref = FindTask(task_id);
  if (!ref || ref.task->failed_health_check()) return false;
  ref.task->set_failed_health_check(true);
  ToProtoTimestamp(clock_.Now(), ref.task->mutable_updated());
  MarkChanged(*ref.service_name);
  return true;
}

void TaskBook::SetToLaunch(const std::string& name, int to_launch) {
  Entry* entry = FindEntry(name);
  if (entry == nullptr) return;
  entry->service.to_launch = to_launch;
  if (to_launch > 0 && !entry->service.deleting()) {
    waiting_.insert(name);
  } else {
    waiting_.erase(name);
    NotePlacement(name, std::nullopt, clock_.Now());  // nothing waits: nothing to explain
  }
}

void TaskBook::NotePlacement(const std::string& name, std::optional<v1::PlacementStatus> placement,
                             absl::Time now) {
  Entry* entry = FindEntry(name);
  if (entry == nullptr) return;
  v1::records::TaskRecords& history = entry->service.history;
  if (!placement.has_value()) {
    if (!history.has_placement()) return;
    history.clear_placement();
    if (metrics_ != nullptr) metrics_->services_unplaced.Decrement();
    MarkChanged(name);
    return;
  }
  const bool was_unplaced = history.has_placement();
  const v1::PlacementStatus& before = history.placement();
  // Written when the picture changes (what was refused, or how many wait),
  // else at most every kPlacementRewrite: the counts move every round.
  bool same_reasons = was_unplaced && before.waiting() == placement->waiting() &&
                      before.refused_size() == placement->refused_size();
  for (int i = 0; same_reasons && i < placement->refused_size(); ++i) {
    same_reasons = before.refused(i).requirement() == placement->refused(i).requirement();
  }
  if (same_reasons && now - FromProtoTimestamp(before.updated()) < kPlacementRewrite) {
    return;
  }
  if (was_unplaced) {
    *placement->mutable_since() = before.since();
  } else {
    ToProtoTimestamp(now, placement->mutable_since());
    if (metrics_ != nullptr) metrics_->services_unplaced.Increment();
  }
  ToProtoTimestamp(now, placement->mutable_updated());
  *history.mutable_placement() = *std::move(placement);
  MarkChanged(name);
}

size_t TaskBook::to_launch_total() const {
  size_t total = 0;
  for (const auto& [name, entry] : entries_) {
    total += static_cast<size_t>(std::max(0, entry.service.to_launch));
  }
  return total;
}

// --- Durable writes ----------------------------------------------------------

void TaskBook::MarkChanged(const std::string& name) {
  Entry* entry = FindEntry(name);
  if (entry == nullptr) return;
  Writes& writes = entry->writes;
  ++writes.seq;
  if (writes.flush_posted || writes.writing) return;
  writes.flush_posted = true;
  // Changes made in this turn of the loop go into one write.
  loop_.Post(callbacks_.Bind([this, name] {
    Entry* entry = FindEntry(name);
    if (entry == nullptr) return;
    entry->writes.flush_posted = false;
    Flush(name);
  }));
}

void TaskBook::WhenDurable(const std::string& name, bool fail_fast,
                           absl::AnyInvocable<void(absl::Status) &&> done) {
  Entry* entry = FindEntry(name);
  if (entry == nullptr || entry->writes.durable()) return std::move(done)(absl::OkStatus());
  entry->writes.waiters.push_back({entry->writes.seq, fail_fast, std::move(done)});
}

void TaskBook::Flush(const std::string& name) {
  Entry* entry = FindEntry(name);
  if (entry == nullptr) return;
  Writes& writes = entry->writes;
  if (writes.writing || writes.durable() || writes.retry_timer != 0) return;
  mast::v1::records::TaskRecords records = entry->service.history;
  records.mutable_tasks()->Reserve(static_cast<int>(entry->service.tasks.size()));
  for (const auto& [id, task] : entry->service.tasks) *records.add_tasks() = task;
  writes.writing = true;
  store_.PutTasks(term_, name, std::move(records),
                  callbacks_.Bind([this, name, target = writes.seq](absl::Status status) {
                    OnWritten(name, target, std::move(status));
                  }));
}

std::vector<TaskBook::Waiter> TaskBook::TakeReleased(Writes& writes, const absl::Status& status,
                                                     uint64_t target) {
  // Kept: on success the waiters of later changes; on failure the ones that
  // wait for the retry (acknowledgements), while launches holding offers
  // give up at once.
  auto kept = [&](const Waiter& w) { return status.ok() ? w.seq > target : !w.fail_fast; };
  auto split = std::stable_partition(writes.waiters.begin(), writes.waiters.end(), kept);
  std::vector<Waiter> released;
  std::move(split, writes.waiters.end(), std::back_inserter(released));
  writes.waiters.erase(split, writes.waiters.end());
  return released;
}

void TaskBook::OnWritten(const std::string& name, uint64_t target, absl::Status status) {
  Entry* entry = FindEntry(name);
  if (entry == nullptr) return;
  Writes& writes = entry->writes;
  writes.writing = false;
  if (metrics_ != nullptr) metrics_->task_writes.Increment();
  if (absl::IsFailedPrecondition(status)) {
    LogError("task_records_write_refused", {{"service", name}, {"error", status.ToString()}});
    if (hooks_.step_down) hooks_.step_down("deposed: a fenced write of task records was refused");
    return;
  }
  if (status.ok()) {
    writes.durable_seq = target;
    writes.backoff->Reset();
  } else {
    RetryWriteLater(name, writes, status);
  }
  for (Waiter& waiter : TakeReleased(writes, status, target)) std::move(waiter.done)(status);
  if (!status.ok()) return;
  entry = FindEntry(name);  // a waiter may have changed the book
  if (entry == nullptr) return;
  if (!entry->writes.durable()) Flush(name);
  if (entry->service.deleting() && hooks_.replan) hooks_.replan(name);
}

void TaskBook::RetryWriteLater(const std::string& name, Writes& writes,
                               const absl::Status& status) {
  if (metrics_ != nullptr) metrics_->task_write_failures.Increment();
  absl::Duration delay = writes.backoff->Next(bitgen_);
  LogWarning(
      "task_records_write_failed",
      {{"service", name}, {"error", status.ToString()}, {"retry_in", absl::FormatDuration(delay)}});
  writes.retry_timer = loop_.RunAfter(delay, callbacks_.Bind([this, name] {
    Entry* entry = FindEntry(name);
    if (entry == nullptr) return;
    entry->writes.retry_timer = 0;
    Flush(name);
  }));
}

void TaskBook::Remove(const std::string& name) {
  Entry* entry = FindEntry(name);
  if (entry == nullptr) return;
  Writes& writes = entry->writes;
  // Only once every change of its records is written (or the removal would
  // race a write of the tasks znode).
  if (writes.removing || writes.writing || !writes.durable()) return;
  writes.removing = true;
  store_.DeleteService(term_, name, callbacks_.Bind([this, name](absl::Status status) {
    OnRemoved(name, std::move(status));
  }));
}

void TaskBook::OnRemoved(const std::string& name, absl::Status status) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  it->second.writes.removing = false;
  if (status.ok() || absl::IsNotFound(status)) {
    LogInfo("service_removed", {{"service", name}});
    for (const auto& [id, task] : it->second.service.tasks) task_service_.erase(id);
    loop_.Cancel(it->second.writes.retry_timer);
    entries_.erase(it);
    waiting_.erase(name);
    return;
  }
  if (absl::IsFailedPrecondition(status)) {
    LogError("service_remove_refused", {{"service", name}, {"error", status.ToString()}});
    if (hooks_.step_down) hooks_.step_down("deposed: a fenced write was refused");
    return;
  }
  LogWarning("service_remove_failed", {{"service", name}, {"error", status.ToString()}});
  hooks_.replan_at(name, clock_.Now() + it->second.writes.backoff->Next(bitgen_));
}

}  // namespace mast
