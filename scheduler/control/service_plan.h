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
  // The tasks of `kill` killed because they failed their health check
  // (FailedHealth): Task.failed_health_check is to be set on them.
  std::vector<std::string> health_kills;
  // UNREACHABLE past the grace period: to be given up (recorded as LOST and
  // replaced; if one comes back it is unknown and killed).
  std::vector<std::string> expunge;
  // The service is deleting and no task of it is left: remove its record.
  bool remove_record = false;
};

struct PlanOptions {
  // The default of a service's unreachable_strategy (--unreachable_grace).
  absl::Duration unreachable_grace = absl::Minutes(5);
  // At most this share of `instances` (at least one task) is replaced for
  // failing health checks at once.
  double max_unhealthy_share = 0.1;
};

// A service's unreachable strategy, its unset fields defaulted from
// `default_grace` (see UnreachableStrategy in service.proto).
struct UnreachableTimes {
  absl::Duration inactive_after;
  absl::Duration expunge_after;
};
UnreachableTimes UnreachableTimesOf(const v1::ServiceSpec& spec, absl::Duration default_grace);

// A task whose health check has failed for as long as `consecutive_failures`
// checks take ((consecutive_failures - 1) x interval since the first
// failure), so it is to be replaced; nullopt while it is not (or when the
// service has no health check): when it will be, if it stays unhealthy.
bool FailedHealth(const v1::ServiceSpec& spec, const v1::Task& task, absl::Time now);
std::optional<absl::Time> FailsHealthAt(const v1::ServiceSpec& spec, const v1::Task& task);

// Decides, for one service, how to move its tasks toward the spec,
// following its deployment (service.deployment) and upgrade strategy
// (spec.upgrade_strategy, unset fields read as their defaults). Pure.
//
// Terms: N = instances; "new" tasks run the service's task_version (equal:
// a rollback may go to a lower one), "old" ones any other version; "live"
// is IsLive; "ready" is IsTaskReady (IsReady judged by the spec of the
// task's own version, see store/deployment_progress.h); "dying" tasks were
// killed and have not ended (they hold their resources through the kill
// grace period; UNREACHABLE ones do not count, or a lost agent would stall
// a rollout); "failed" tasks failed their health check (FailedHealth).
//
// - Deleting: kill every live task; remove the record once no task is left
//   (tasks being killed count until their terminal update arrives).
// - An UNREACHABLE task counts as live for `unreachable_grace` from its
//   unreachable_since; after that it is expunged and no longer counts.
// - No rollout under way (no deployment, an ended one, or a PAUSED one):
//   old tasks are not replaced, they count toward N like new ones (a
//   deployment failed or cancelled in place leaves both versions running).
//   Launch new tasks up to N live; kill the excess per the kill selection
//   (tasks not ready first, then the youngest, or the oldest, by creation).
//   Failed tasks of any version are replaced, replacement first: launch
//   while live + dying < N + surge, kill a failed one only once ready
//   others + failed ones > N. The surge is max_unhealthy_share of N (at
//   least one task, at most the failed ones), so an overloaded host failing
//   every check at once does not take the service down with it.
// - A RUNNING or ROLLING_BACK deployment: with T = CurrentStepTarget (N
//   while rolling back) and RolloutBoundsOf's L (min ready) and U (max
//   tasks):
//   * old tasks that are not ready (failed ones included) are killed at
//     once: they do not count toward the minimum health;
//   * then ready old ones, in kill-selection order, while ready tasks (new
//     and old) minus those killed stay >= L, keeping N - T old ones (the
//     step's share of the old version);
//   * new tasks are launched up to T' = max(T, N - old ones kept), capped
//     at N (old ones gone during a step are made up with new ones), while
//     live + dying < U (+ the health surge while new ones failed);
//   * new tasks beyond T' are killed (not ready, then youngest first), e.g.
//     after a scale-down;
//   * failed new tasks are replaced as above, with T' for N.
// `health_kills` lists the tasks of `kill` killed for failing their health
// check (the scheduler marks them: a failure of their version).
ServicePlan PlanService(const v1::Service& service, const std::vector<const v1::Task*>& tasks,
                        absl::Time now, const PlanOptions& options);

}  // namespace mast
