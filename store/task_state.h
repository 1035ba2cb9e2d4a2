#pragma once

#include "mast/v1/service.pb.h"

namespace mast {

// FINISHED, FAILED, KILLED, LOST, GONE, ERROR: the task will not run again.
bool IsTerminal(v1::Task::State state);
// Counts toward the service's instances: not terminal and not being killed.
bool IsLive(const v1::Task& task);

// Counts toward a rollout's progress and its minimum health: RUNNING, not
// being killed, healthy when the spec has a health check, ready when it
// has a readiness check.
bool IsReady(const v1::ServiceSpec& spec, const v1::Task& task);

}  // namespace mast
