#include "scheduler/control/service_plan.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "common/proto_util.h"
#include "mesos/v1/mesos.pb.h"
#include "scheduler/control/upgrade_strategy.h"
#include "store/deployment_progress.h"
#include "store/deployments.h"

namespace mast {

namespace {

bool Running(const v1::Task& task) { return task.state() == v1::Task::RUNNING; }

// Tasks to kill first: not ready before ready, then by creation, youngest
// or oldest first, then by id.
struct KillFirst {
  const v1::Service* service;
  bool youngest;
  bool operator()(const v1::Task* a, const v1::Task* b) const {
    const bool ready_a = IsTaskReady(*service, *a);
    if (ready_a != IsTaskReady(*service, *b)) return !ready_a;
    const absl::Time created_a = FromProtoTimestamp(a->created());
    const absl::Time created_b = FromProtoTimestamp(b->created());
    if (created_a != created_b) return youngest ? created_a > created_b : created_a < created_b;
    return youngest ? a->id() > b->id() : a->id() < b->id();
  }
};

KillFirst BySelection(const v1::Service& service) {
  return {&service,
          KillSelectionOf(service.spec().upgrade_strategy()) != v1::UpgradeStrategy::OLDEST_FIRST};
}

// Failed tasks to replace first: not RUNNING before RUNNING, then the
// oldest version, then the oldest creation.
bool ReplaceFirst(const v1::Task* a, const v1::Task* b) {
  if (Running(*a) != Running(*b)) return !Running(*a);
  if (a->version() != b->version()) return a->version() < b->version();
  if (FromProtoTimestamp(a->created()) != FromProtoTimestamp(b->created()))
    return FromProtoTimestamp(a->created()) < FromProtoTimestamp(b->created());
  return a->id() < b->id();
}

// A service's live tasks (UNREACHABLE ones past their grace expunged).
struct Census {
  std::vector<const v1::Task*> fresh;       // new, not failed
  std::vector<const v1::Task*> old;         // old, not failed
  std::vector<const v1::Task*> failed_new;  // FailedHealth
  std::vector<const v1::Task*> failed_old;
  int live = 0;
  int dying = 0;  // killed, not yet ended, still holding resources
};

}  // namespace

UnreachableTimes UnreachableTimesOf(const v1::ServiceSpec& spec, absl::Duration default_grace) {
  const v1::UnreachableStrategy& strategy = spec.unreachable_strategy();
  std::optional<absl::Duration> expunge;
  if (strategy.has_expunge_after()) expunge = FromProtoDuration(strategy.expunge_after());
  absl::Duration inactive = default_grace;
  if (strategy.has_inactive_after()) {
    inactive = FromProtoDuration(strategy.inactive_after());
  } else if (expunge.has_value()) {
    inactive = std::min(inactive, *expunge);
  }
  return {inactive, std::max(inactive, expunge.value_or(inactive))};
}

namespace {

Census Count(const v1::Service& service, const std::vector<const v1::Task*>& tasks, absl::Time now,
             const PlanOptions& options, ServicePlan& plan) {
  Census census;
  for (const v1::Task* task : tasks) {
    if (!IsTerminal(task->state()) && task->kill_requested() &&
        task->state() != v1::Task::UNREACHABLE) {
      ++census.dying;
    }
    if (!IsLive(*task)) continue;
    if (task->state() == v1::Task::UNREACHABLE && task->has_unreachable_since()) {
      const absl::Duration away = now - FromProtoTimestamp(task->unreachable_since());
      const UnreachableTimes times = UnreachableTimesOf(SpecOfTaskVersion(service, task->version()),
                                                        options.unreachable_grace);
      if (away >= times.expunge_after) {
        plan.expunge.push_back(task->id());
        continue;
      }
      if (away >= times.inactive_after) continue;  // replaced, still known
    }
    ++census.live;
    const bool is_new = task->version() == service.task_version();
    if (FailedHealth(SpecOfTaskVersion(service, task->version()), *task, now)) {
      (is_new ? census.failed_new : census.failed_old).push_back(task);
    } else {
      (is_new ? census.fresh : census.old).push_back(task);
    }
  }
  return census;
}

int Size(const std::vector<const v1::Task*>& tasks) { return static_cast<int>(tasks.size()); }

int CountReady(const v1::Service& service, const std::vector<const v1::Task*>& tasks) {
  return static_cast<int>(std::count_if(
      tasks.begin(), tasks.end(), [&](const v1::Task* t) { return IsTaskReady(service, *t); }));
}

void Kill(ServicePlan& plan, const v1::Task* task, bool for_health) {
  plan.kill.push_back(task->id());
  if (for_health) plan.health_kills.push_back(task->id());
}

// Failed tasks beyond the health surge wait; of the others, those whose
// replacements are ready (ready + failed > target) are killed.
int HealthSurge(int failed, int instances, const PlanOptions& options) {
  if (failed == 0) return 0;
  const int share = std::max(1, static_cast<int>(std::floor(options.max_unhealthy_share *
                                                            static_cast<double>(instances))));
  return std::min(failed, share);
}

void KillReplaced(std::vector<const v1::Task*>& failed, int ready, int target, ServicePlan& plan) {
  std::sort(failed.begin(), failed.end(), ReplaceFirst);
  const int excess = std::min(ready, target) + Size(failed) - target;
  for (int i = 0; i < std::min(excess, Size(failed)); ++i) Kill(plan, failed[i], true);
}

// No rollout under way: every version counts toward N.
void PlanSteady(const v1::Service& service, Census& census, const PlanOptions& options,
                ServicePlan& plan) {
  const int instances = static_cast<int>(service.spec().instances());
  std::vector<const v1::Task*> current = census.fresh;
  current.insert(current.end(), census.old.begin(), census.old.end());
  std::vector<const v1::Task*> failed = census.failed_new;
  failed.insert(failed.end(), census.failed_old.begin(), census.failed_old.end());
  if (Size(current) > instances) {
    std::sort(current.begin(), current.end(), BySelection(service));
    for (int i = 0; i < Size(current) - instances; ++i) Kill(plan, current[i], false);
  }
  if (failed.empty()) {
    plan.to_launch = std::max(0, instances - Size(current));
    return;
  }
  const int surge = HealthSurge(Size(failed), instances, options);
  plan.to_launch = std::max(
      0, std::min(instances - Size(current), instances + surge - (census.live + census.dying)));
  KillReplaced(failed, CountReady(service, current), instances, plan);
}

// A RUNNING or ROLLING_BACK deployment: replace old tasks within the bounds.
void PlanRollout(const v1::Service& service, Census& census, absl::Time now,
                 const PlanOptions& options, ServicePlan& plan) {
  const int instances = static_cast<int>(service.spec().instances());
  const int step_target = static_cast<int>(CurrentStepTarget(service));
  const RolloutBounds bounds = RolloutBoundsOf(service.spec());
  for (const v1::Task* task : census.failed_old) Kill(plan, task, true);
  std::vector<const v1::Task*> old_ready;
  for (const v1::Task* task : census.old) {
    if (IsTaskReady(service, *task)) {
      old_ready.push_back(task);
    } else {
      Kill(plan, task, false);
    }
  }
  // New tasks replace old ones once settled (ready for min_ready).
  const int new_ready = static_cast<int>(
      std::count_if(census.fresh.begin(), census.fresh.end(),
                    [&](const v1::Task* t) { return IsTaskSettled(service, *t, now); }));
  std::sort(old_ready.begin(), old_ready.end(), BySelection(service));
  const int ready_kills =
      std::max(0, std::min(Size(old_ready) - std::max(0, instances - step_target),
                           new_ready + Size(old_ready) - bounds.min_ready));
  for (int i = 0; i < ready_kills; ++i) Kill(plan, old_ready[i], false);
  const int old_kept = Size(old_ready) - ready_kills;
  const int target = std::min(instances, std::max(step_target, instances - old_kept));
  if (Size(census.fresh) > target) {
    std::sort(census.fresh.begin(), census.fresh.end(), KillFirst{&service, true});
    for (int i = 0; i < Size(census.fresh) - target; ++i) Kill(plan, census.fresh[i], false);
  }
  const int surge = HealthSurge(Size(census.failed_new), instances, options);
  plan.to_launch = std::max(0, std::min(target - Size(census.fresh),
                                        bounds.max_tasks + surge - (census.live + census.dying)));
  KillReplaced(census.failed_new, new_ready, target, plan);
}

}  // namespace

v1::Task::State TaskStateFromMesos(int mesos_task_state) {
  namespace mesos_v1 = ::mesos::v1;
  switch (static_cast<mesos_v1::TaskState>(mesos_task_state)) {
    case mesos_v1::TASK_STAGING:
      return v1::Task::STAGING;
    case mesos_v1::TASK_STARTING:
      return v1::Task::STARTING;
    case mesos_v1::TASK_RUNNING:
      return v1::Task::RUNNING;
    case mesos_v1::TASK_KILLING:
      return v1::Task::KILLING;
    case mesos_v1::TASK_FINISHED:
      return v1::Task::FINISHED;
    case mesos_v1::TASK_FAILED:
      return v1::Task::FAILED;
    case mesos_v1::TASK_KILLED:
      return v1::Task::KILLED;
    case mesos_v1::TASK_ERROR:
      return v1::Task::ERROR;
    case mesos_v1::TASK_UNREACHABLE:
      return v1::Task::UNREACHABLE;
    case mesos_v1::TASK_GONE:
    case mesos_v1::TASK_GONE_BY_OPERATOR:
      return v1::Task::GONE;
    case mesos_v1::TASK_LOST:
    case mesos_v1::TASK_DROPPED:
    case mesos_v1::TASK_UNKNOWN:
      return v1::Task::LOST;
  }
  return v1::Task::LOST;  // an unknown number from a newer master: not ours to keep
}

std::optional<absl::Time> FailsHealthAt(const v1::ServiceSpec& spec, const v1::Task& task) {
  if (!spec.has_health_check() || task.healthy() || !task.has_unhealthy_since()) {
    return std::nullopt;
  }
  const uint32_t failures = std::max<uint32_t>(1, spec.health_check().consecutive_failures());
  return FromProtoTimestamp(task.unhealthy_since()) +
         FromProtoDuration(spec.health_check().interval()) * static_cast<int64_t>(failures - 1);
}

bool FailedHealth(const v1::ServiceSpec& spec, const v1::Task& task, absl::Time now) {
  std::optional<absl::Time> at = FailsHealthAt(spec, task);
  return at.has_value() && now >= *at;
}

ServicePlan PlanService(const v1::Service& service, const std::vector<const v1::Task*>& tasks,
                        absl::Time now, const PlanOptions& options) {
  ServicePlan plan;
  Census census = Count(service, tasks, now, options, plan);
  if (service.deleting()) {
    for (const auto* group : {&census.old, &census.failed_old, &census.failed_new, &census.fresh}) {
      for (const v1::Task* task : *group) plan.kill.push_back(task->id());
    }
    // Tasks being killed still count: the record goes after their end.
    size_t ended = 0;
    for (const v1::Task* task : tasks) ended += IsTerminal(task->state()) ? 1 : 0;
    plan.remove_record = ended + plan.expunge.size() == tasks.size();
    return plan;
  }
  if (IsRollingOut(service)) {
    PlanRollout(service, census, now, options, plan);
  } else {
    PlanSteady(service, census, options, plan);
  }
  return plan;
}

}  // namespace mast
