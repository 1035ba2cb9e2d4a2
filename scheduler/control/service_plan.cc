#include "scheduler/control/service_plan.h"

#include <algorithm>
#include <cmath>

#include "common/proto_util.h"
#include "mesos/v1/mesos.pb.h"

namespace mast {

namespace {

bool Running(const v1::Task& task) { return task.state() == v1::Task::RUNNING; }

// Youngest first: not yet RUNNING before RUNNING, then newest creation first.
bool YoungerFirst(const v1::Task* a, const v1::Task* b) {
  if (Running(*a) != Running(*b)) return !Running(*a);
  if (FromProtoTimestamp(a->created()) != FromProtoTimestamp(b->created()))
    return FromProtoTimestamp(a->created()) > FromProtoTimestamp(b->created());
  return a->id() > b->id();
}

// Old tasks to replace first: not RUNNING before RUNNING, then the oldest
// version, then the oldest creation.
bool ReplaceFirst(const v1::Task* a, const v1::Task* b) {
  if (Running(*a) != Running(*b)) return !Running(*a);
  if (a->version() != b->version()) return a->version() < b->version();
  if (FromProtoTimestamp(a->created()) != FromProtoTimestamp(b->created()))
    return FromProtoTimestamp(a->created()) < FromProtoTimestamp(b->created());
  return a->id() < b->id();
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
  std::vector<const v1::Task*> current, old, unhealthy;
  int dying = 0;  // killed, not yet ended, still holding resources
  for (const v1::Task* task : tasks) {
    if (!IsTerminal(task->state()) && task->kill_requested() &&
        task->state() != v1::Task::UNREACHABLE) {
      ++dying;
    }
    if (!IsLive(*task)) continue;
    if (task->state() == v1::Task::UNREACHABLE && task->has_unreachable_since() &&
        now - FromProtoTimestamp(task->unreachable_since()) >= options.unreachable_grace) {
      plan.expunge.push_back(task->id());
      continue;
    }
    if (task->version() < service.task_version()) {
      old.push_back(task);
    } else if (FailedHealth(service.spec(), *task, now)) {
      unhealthy.push_back(task);
    } else {
      current.push_back(task);
    }
  }
  if (service.deleting()) {
    for (const auto* group : {&old, &unhealthy, &current}) {
      for (const v1::Task* task : *group) plan.kill.push_back(task->id());
    }
    // Tasks being killed still count: the record goes after their end.
    size_t ended = 0;
    for (const v1::Task* task : tasks) ended += IsTerminal(task->state()) ? 1 : 0;
    plan.remove_record = ended + plan.expunge.size() == tasks.size();
    return plan;
  }
  const int instances = static_cast<int>(service.spec().instances());
  const int num_current = static_cast<int>(current.size());
  if (num_current > instances) {
    std::sort(current.begin(), current.end(), YoungerFirst);
    for (int i = 0; i < num_current - instances; ++i) plan.kill.push_back(current[i]->id());
  }
  // Tasks to replace: failed health checks first, then old ones.
  std::sort(unhealthy.begin(), unhealthy.end(), ReplaceFirst);
  std::sort(old.begin(), old.end(), ReplaceFirst);
  std::vector<const v1::Task*> replace = unhealthy;
  replace.insert(replace.end(), old.begin(), old.end());
  const int num_replace = static_cast<int>(replace.size());
  if (num_replace == 0) {
    plan.to_launch = std::max(0, instances - num_current);
    return plan;
  }
  const int health_share = std::max(
      1,
      static_cast<int>(std::floor(options.max_unhealthy_share * static_cast<double>(instances))));
  const int surge =
      (old.empty() ? 0 : 1) + std::min(static_cast<int>(unhealthy.size()), health_share);
  plan.to_launch = std::max(0, std::min(instances - num_current,
                                        instances + surge - (num_current + num_replace + dying)));
  // A replacement counts once it runs and, with a health check, is healthy.
  const bool checked = service.spec().has_health_check();
  const int running_current =
      static_cast<int>(std::count_if(current.begin(), current.end(), [checked](const v1::Task* t) {
        return Running(*t) && (!checked || t->healthy());
      }));
  const int excess = std::min(running_current, instances) + num_replace - instances;
  for (int i = 0; i < std::min(excess, num_replace); ++i) plan.kill.push_back(replace[i]->id());
  return plan;
}

}  // namespace mast
