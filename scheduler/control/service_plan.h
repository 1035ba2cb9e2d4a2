#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "mast/v1/service.pb.h"
#include "store/task_state.h"

namespace mast {

// The Mast task state that a Mesos TaskState maps to.
v1::Task::State TaskStateFromMesos(int mesos_task_state);

// What one service should do next. Pure data.
struct ServicePlan {
  // New tasks to launch now (0 while the service is deleting).
  int to_launch = 0;
  // Tasks to kill, in order.
  std::vector<std::string> kill;
  // UNREACHABLE past the grace period: to be given up (recorded as LOST and
  // replaced; if one comes back it is unknown and killed).
  std::vector<std::string> expunge;
  // The service is deleting and no task of it is left: remove its record.
  bool remove_record = false;
};

struct PlanOptions {
  absl::Duration unreachable_grace = absl::Minutes(5);
};

// Decides, for one service, how to move its tasks toward the spec. Pure.
//
// - Deleting: kill every live task; remove the record once no task is left
//   (tasks being killed count until their terminal update arrives).
// - Tasks of the current task_version ("new") and of older ones ("old"):
//   * no old tasks: launch up to `instances`; kill the excess, youngest
//     first (tasks not yet RUNNING before RUNNING ones, then by creation,
//     newest first).
//   * old tasks (a rolling replacement, one at a time: at most one task
//     above `instances`, never fewer RUNNING than `instances` while old ones
//     run): launch while new + old + dying < instances + 1 and new <
//     instances, where dying are tasks killed and not yet ended (they hold
//     their resources through the kill grace period; UNREACHABLE ones do
//     not count, or a lost agent would stall the update); kill old ones (not
//     RUNNING first, then oldest) while RUNNING new + old > instances.
// - An UNREACHABLE task counts as live for `unreachable_grace` from its
//   unreachable_since; after that it is expunged and no longer counts.
ServicePlan PlanService(const v1::Service& service, const std::vector<const v1::Task*>& tasks,
                        absl::Time now, const PlanOptions& options);

}  // namespace mast
