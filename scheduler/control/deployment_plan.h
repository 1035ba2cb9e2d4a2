#pragma once

#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "mast/v1/records.pb.h"
#include "mast/v1/service.pb.h"
#include "store/deployments.h"

namespace mast {

// The next transition of `service`'s active deployment (service.deployment,
// RUNNING or ROLLING_BACK; nullopt for none, a PAUSED one, or nothing to
// decide yet), from its tasks and task records. Pure; the leader's control
// loop records what it returns (DeploymentRecorder) and plans the tasks
// with PlanService, which follows the same deployment.
//
// - The step is done when the new version (service.task_version) has
//   StepTarget ready tasks and other versions at most N - StepTarget live
//   ones: then the next step (RUNNING, step + 1), PAUSED after it when
//   pause_after_step, SUCCEEDED after the last one (ROLLED_BACK, or
//   rollback_ends_as, for a ROLLING_BACK one).
// - While RUNNING (not while rolling back: the version gone back to counts
//   its failures from before), the new version's failures
//   (records.failed_by_task_version) reaching
//   the strategy's failure threshold, or no new task reaching RUNNING within
//   progress_deadline of the step's start (or of the latest one that did),
//   fail it: ROLLING_BACK with auto_rollback (not for a deployment already
//   rolling back), else FAILED; failure_reason says which.
std::optional<DeploymentTransition> DecideDeployment(const v1::Service& service,
                                                     const std::vector<const v1::Task*>& tasks,
                                                     const v1::records::TaskRecords& records,
                                                     absl::Time now);

// When DecideDeployment may next decide by the clock alone (the progress
// deadline), nullopt when it never will without a task change.
std::optional<absl::Time> DeploymentDeadline(const v1::Service& service,
                                             const std::vector<const v1::Task*>& tasks);

}  // namespace mast
