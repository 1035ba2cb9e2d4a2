#include "scheduler/control/deployment_plan.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/proto_util.h"
#include "scheduler/control/service_plan.h"
#include "scheduler/control/upgrade_strategy.h"
#include "store/deployment_progress.h"
#include "store/deployments.h"
#include "store/task_state.h"

namespace mast {

namespace {

// The new version's failures: the records' count, plus its tasks that have
// not ended but failed their health check (killed for it, or about to be:
// the records count them once they end).
uint32_t NewFailures(const v1::Service& service, const std::vector<const v1::Task*>& tasks,
                     const v1::records::TaskRecords& records, absl::Time now) {
  uint32_t failed = 0;
  if (auto it = records.failed_by_task_version().find(service.task_version());
      it != records.failed_by_task_version().end()) {
    failed = it->second;
  }
  for (const v1::Task* task : tasks) {
    if (task->version() != service.task_version() || IsTerminal(task->state())) continue;
    if (task->failed_health_check() || (IsLive(*task) && FailedHealth(service.spec(), *task, now)))
      ++failed;
  }
  return failed;
}

// The step's start or the latest start of a new task, whichever is later.
absl::Time LastProgress(const v1::Service& service, const std::vector<const v1::Task*>& tasks) {
  absl::Time last = FromProtoTimestamp(service.deployment().step_started());
  for (const v1::Task* task : tasks) {
    if (task->version() == service.task_version() && task->has_started()) {
      last = std::max(last, FromProtoTimestamp(task->started()));
    }
  }
  return last;
}

DeploymentTransition Fail(const v1::Deployment& deployment, bool auto_rollback,
                          std::string reason) {
  DeploymentTransition transition;
  transition.deployment_id = deployment.id();
  transition.state = auto_rollback && deployment.state() == v1::Deployment::RUNNING
                         ? v1::Deployment::ROLLING_BACK
                         : v1::Deployment::FAILED;
  transition.failure_reason = std::move(reason);
  return transition;
}

// The step is done: new ready >= its target, old live <= N - target.
bool StepDone(const v1::Service& service, const std::vector<const v1::Task*>& tasks,
              absl::Time now) {
  const uint32_t instances = service.spec().instances();
  const uint32_t target = CurrentStepTarget(service);
  uint32_t new_ready = 0, old_live = 0;
  for (const v1::Task* task : tasks) {
    if (!IsLive(*task)) continue;
    if (task->version() != service.task_version()) {
      ++old_live;
    } else if (IsTaskSettled(service, *task, now)) {
      ++new_ready;
    }
  }
  return new_ready >= target && old_live <= instances - target;
}

DeploymentTransition NextStep(const v1::Service& service) {
  const v1::Deployment& deployment = service.deployment();
  DeploymentTransition transition;
  transition.deployment_id = deployment.id();
  transition.step = deployment.step();
  if (deployment.state() == v1::Deployment::ROLLING_BACK) {
    const v1::Deployment::State ends_as = deployment.rollback_ends_as();
    transition.state = ends_as == v1::Deployment::CANCELLED ? v1::Deployment::CANCELLED
                                                            : v1::Deployment::ROLLED_BACK;
  } else if (deployment.step() + 1 >= StepCount(service.spec())) {
    transition.state = v1::Deployment::SUCCEEDED;
  } else if (service.spec().upgrade_strategy().pause_after_step()) {
    transition.state = v1::Deployment::PAUSED;  // the writer sets step_done
  } else {
    transition.state = v1::Deployment::RUNNING;
    transition.step = deployment.step() + 1;
  }
  return transition;
}

}  // namespace

std::optional<DeploymentTransition> DecideDeployment(const v1::Service& service,
                                                     const std::vector<const v1::Task*>& tasks,
                                                     const v1::records::TaskRecords& records,
                                                     absl::Time now) {
  if (!IsRollingOut(service)) return std::nullopt;
  const v1::Deployment& deployment = service.deployment();
  const v1::UpgradeStrategy& strategy = service.spec().upgrade_strategy();
  const uint32_t threshold = FailureThreshold(strategy);
  const uint32_t failed = NewFailures(service, tasks, records, now);
  // Not while rolling back: the version gone back to counts its failures from
  // before (a rollback ends by its steps or its deadline).
  if (deployment.state() == v1::Deployment::RUNNING && threshold > 0 && failed >= threshold) {
    std::string reason = absl::StrCat(failed, " tasks of version ", service.task_version(),
                                      " failed (threshold ", threshold, ")");
    if (!records.last_failure().empty()) absl::StrAppend(&reason, ": ", records.last_failure());
    return Fail(deployment, strategy.auto_rollback(), std::move(reason));
  }
  if (StepDone(service, tasks, now)) return NextStep(service);
  if (std::optional<absl::Time> deadline = DeploymentDeadline(service, tasks);
      deadline.has_value() && now >= *deadline) {
    return Fail(
        deployment, strategy.auto_rollback(),
        absl::StrCat("no new task reached RUNNING for ",
                     absl::FormatDuration(ProgressDeadline(strategy)), " (progress_deadline)"));
  }
  return std::nullopt;
}

std::optional<absl::Time> DeploymentDeadline(const v1::Service& service,
                                             const std::vector<const v1::Task*>& tasks) {
  if (!IsRollingOut(service)) return std::nullopt;
  const absl::Duration deadline = ProgressDeadline(service.spec().upgrade_strategy());
  if (deadline == absl::ZeroDuration()) return std::nullopt;
  return LastProgress(service, tasks) + deadline;
}

}  // namespace mast
