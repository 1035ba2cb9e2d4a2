// TEMPORARY (branch wt4-surface only): minimal stand-ins for functions of
// store/deployments.h and store/deployment_progress.h that other branches
// implement, so that the API surface builds and its tests run. The lead
// deletes this file at merge (and its line in store/CMakeLists.txt).

#include "store/deployment_progress.h"
#include "store/deployments.h"
#include "store/task_state.h"

namespace mast {

bool IsActive(const v1::Deployment& deployment) {
  return deployment.state() == v1::Deployment::RUNNING ||
         deployment.state() == v1::Deployment::PAUSED ||
         deployment.state() == v1::Deployment::ROLLING_BACK;
}

bool HasActiveDeployment(const v1::Service& service) {
  return service.has_deployment() && IsActive(service.deployment());
}

v1::DeploymentProgress DeploymentProgressOf(const v1::Service& service,
                                            const std::vector<const v1::Task*>& tasks,
                                            const v1::records::TaskRecords& records) {
  v1::DeploymentProgress progress;
  const uint32_t n = service.spec().instances();
  progress.set_target_instances(n);
  progress.set_step_target(n);
  for (const v1::Task* task : tasks) {
    if (!IsLive(*task)) continue;
    const bool ready = IsReady(service.spec(), *task);
    if (task->version() == service.task_version()) {
      progress.set_new_tasks(progress.new_tasks() + 1);
      if (ready) progress.set_new_ready(progress.new_ready() + 1);
    } else {
      progress.set_old_tasks(progress.old_tasks() + 1);
      if (ready) progress.set_old_ready(progress.old_ready() + 1);
    }
  }
  auto failed = records.failed_by_task_version().find(service.task_version());
  if (failed != records.failed_by_task_version().end()) {
    progress.set_failed_new_tasks(failed->second);
  }
  return progress;
}

}  // namespace mast
