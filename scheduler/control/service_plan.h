#pragma once

#include <cstdint>
#include <optional>
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
  // At most this share of `instances` (at least one task) is replaced for
  // failing health checks at once.
  double max_unhealthy_share = 0.1;
};

// A task whose health check has failed for as long as `consecutive_failures`
// checks take ((consecutive_failures - 1) x interval since the first
// failure), so it is to be replaced; nullopt while it is not (or when the
// service has no health check): when it will be, if it stays unhealthy.
bool FailedHealth(const v1::ServiceSpec& spec, const v1::Task& task, absl::Time now);
std::optional<absl::Time> FailsHealthAt(const v1::ServiceSpec& spec, const v1::Task& task);

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
// - A task of the current version that failed its health check
//   (FailedHealth) is replaced like an old one, replacement first: launch
//   while healthy current + replaced < instances + surge, kill a failed one
//   only while RUNNING others + failed ones > instances.
// - With a health check, a new task counts as RUNNING for these rules (an
//   old or failed task is killed for it) only once it is also healthy. The surge is one
//   task during a rolling replacement, plus up to max_unhealthy_share of
//   `instances` (at least one) for health, so an overloaded host failing
//   every check at once does not take the service down with it.
ServicePlan PlanService(const v1::Service& service, const std::vector<const v1::Task*>& tasks,
                        absl::Time now, const PlanOptions& options);

}  // namespace mast
