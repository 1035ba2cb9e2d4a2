#pragma once

#include <cstdint>
#include <vector>

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

// The live counts of `service`'s deployment (service.deployment) from its
// tasks: N, the step's target, new (service.task_version) and old tasks,
// live and ready (IsReady), and the new version's failures. Pure; reads
// fill Deployment.progress with it, the scheduler decides with it.
v1::DeploymentProgress DeploymentProgressOf(const v1::Service& service,
                                            const std::vector<const v1::Task*>& tasks,
                                            const v1::records::TaskRecords& records);

}  // namespace mast
