#include "store/deployment_progress.h"

#include "common/proto_util.h"
#include "store/task_state.h"

namespace mast {

const v1::ServiceSpec& SpecOfTaskVersion(const v1::Service& service, uint64_t task_version) {
  if (task_version == service.task_version() || !service.has_deployment()) return service.spec();
  const v1::Deployment& deployment = service.deployment();
  if (task_version == deployment.from_task_version() && deployment.has_from_spec()) {
    return deployment.from_spec();
  }
  if (task_version == deployment.to_task_version() && deployment.has_to_spec()) {
    return deployment.to_spec();
  }
  return service.spec();
}

bool IsTaskReady(const v1::Service& service, const v1::Task& task) {
  return IsReady(SpecOfTaskVersion(service, task.version()), task);
}

absl::Duration MinReady(const v1::ServiceSpec& spec) {
  const v1::UpgradeStrategy& strategy = spec.upgrade_strategy();
  if (strategy.has_min_ready()) return FromProtoDuration(strategy.min_ready());
  return spec.has_health_check() || spec.has_readiness_check() ? absl::ZeroDuration()
                                                               : kDefaultMinReadyUnchecked;
}

namespace {

// When `task` (ready) has been RUNNING for its version's MinReady.
absl::Time SettledAt(const v1::Service& service, const v1::Task& task) {
  return FromProtoTimestamp(task.started()) + MinReady(SpecOfTaskVersion(service, task.version()));
}

}  // namespace

bool IsTaskSettled(const v1::Service& service, const v1::Task& task, absl::Time now) {
  return IsTaskReady(service, task) && now >= SettledAt(service, task);
}

std::optional<absl::Time> NextSettled(const v1::Service& service,
                                      const std::vector<const v1::Task*>& tasks, absl::Time now) {
  std::optional<absl::Time> next;
  for (const v1::Task* task : tasks) {
    if (!IsLive(*task) || !IsTaskReady(service, *task)) continue;
    const absl::Time at = SettledAt(service, *task);
    if (at > now && (!next.has_value() || at < *next)) next = at;
  }
  return next;
}

v1::DeploymentProgress DeploymentProgressOf(const v1::Service& service,
                                            const std::vector<const v1::Task*>& tasks,
                                            const v1::records::TaskRecords& records) {
  v1::DeploymentProgress progress;
  progress.set_target_instances(service.spec().instances());
  progress.set_step_target(CurrentStepTarget(service));
  uint32_t failed = 0;
  if (auto it = records.failed_by_task_version().find(service.task_version());
      it != records.failed_by_task_version().end()) {
    failed = it->second;
  }
  for (const v1::Task* task : tasks) {
    const bool is_new = task->version() == service.task_version();
    if (is_new && !IsTerminal(task->state()) && task->failed_health_check()) ++failed;
    if (!IsLive(*task)) continue;
    const bool ready = IsTaskReady(service, *task);
    if (is_new) {
      progress.set_new_tasks(progress.new_tasks() + 1);
      if (ready) progress.set_new_ready(progress.new_ready() + 1);
    } else {
      progress.set_old_tasks(progress.old_tasks() + 1);
      if (ready) progress.set_old_ready(progress.old_ready() + 1);
    }
  }
  progress.set_failed_new_tasks(failed);
  return progress;
}

}  // namespace mast
