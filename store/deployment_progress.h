#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "mast/v1/records.pb.h"
#include "mast/v1/service.pb.h"

namespace mast {

// Number of steps of `spec`'s strategy, the implied last one (N) included.
uint32_t StepCount(const v1::ServiceSpec& spec);
// The number of new tasks step `step` brings the service to, for
// `instances` = N: ceil(percent / 100 x N) or the count, at most N; the
// last step (and any past it) is N.
uint32_t StepTarget(const v1::ServiceSpec& spec, uint32_t step, uint32_t instances);
// The current step's target of service.deployment: StepTarget of the
// service's spec at the deployment's step; N while ROLLING_BACK (one step
// back, whatever the spec says) and without an active deployment.
uint32_t CurrentStepTarget(const v1::Service& service);

// The spec the tasks of `task_version` were launched with: the service's
// for its task_version, the deployment's from_spec / to_spec for theirs,
// else (not kept) the service's. A task's health and readiness are judged
// by its own spec: an old task launched without a readiness or health check
// never gets `ready` / `healthy`, and must not count as not ready for it.
const v1::ServiceSpec& SpecOfTaskVersion(const v1::Service& service, uint64_t task_version);
// IsReady of `task` by SpecOfTaskVersion.
bool IsTaskReady(const v1::Service& service, const v1::Task& task);

// UpgradeStrategy.min_ready of `spec` (unset: 0 with a health or readiness
// check, kDefaultMinReadyUnchecked without).
inline constexpr absl::Duration kDefaultMinReadyUnchecked = absl::Seconds(10);
absl::Duration MinReady(const v1::ServiceSpec& spec);
// IsTaskReady, and RUNNING since at least MinReady of its version's spec
// before `now` (Task.started): what a deployment counts (reads show
// IsTaskReady).
bool IsTaskSettled(const v1::Service& service, const v1::Task& task, absl::Time now);
// The earliest time after `now` at which a ready live task becomes settled
// by time alone; nullopt when none will.
std::optional<absl::Time> NextSettled(const v1::Service& service,
                                      const std::vector<const v1::Task*>& tasks, absl::Time now);

// The live counts of `service`'s deployment (service.deployment) from its
// tasks: N, the step's target, new (service.task_version) and old tasks,
// live and ready (IsTaskReady), and the new version's failures: the records'
// failed_by_task_version plus its tasks killed for failing their health
// check that have not ended yet (the records count them once they end).
// Pure; reads
// fill Deployment.progress with it, the scheduler decides with it.
v1::DeploymentProgress DeploymentProgressOf(const v1::Service& service,
                                            const std::vector<const v1::Task*>& tasks,
                                            const v1::records::TaskRecords& records);

}  // namespace mast
