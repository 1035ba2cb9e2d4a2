#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/weak_callback.h"
#include "mast/v1/service.pb.h"
#include "scheduler/control/scheduler_metrics.h"
#include "scheduler/control/task_book.h"
#include "store/deployments.h"

namespace mast {

// Moves the active deployments of one leadership term along: each plan of a
// service asks it (Advance) whether its deployment has a transition due
// (DecideDeployment), and it records that through the DeploymentRecorder,
// which serializes it with the API's writes of the service and fences it.
// The stored record then comes back in a state cache snapshot
// (OnRecordChanged), and the next plan follows the new state. So a new
// leader resumes every deployment from the stored record alone.
//
// At most one transition per service is in flight; the same transition is
// not recorded twice before the record that holds it is seen. A transition
// refused because the deployment changed meanwhile (ABORTED: the API won)
// is dropped, the next snapshot decides again; one that could not be
// written (UNAVAILABLE) is retried `retry` later. A deposed leader's
// completion never runs: the driver is destroyed with its term.
//
// Threads: the control loop only. `recorder` must outlive the driver.
class DeploymentDriver {
 public:
  using ReplanAt = std::function<void(const std::string& service, absl::Time when)>;

  DeploymentDriver(DeploymentRecorder& recorder, SchedulerMetrics* metrics, ReplanAt replan_at,
                   absl::Duration retry = absl::Seconds(1));
  DeploymentDriver(const DeploymentDriver&) = delete;
  DeploymentDriver& operator=(const DeploymentDriver&) = delete;

  // Called by every plan of `name` with its tasks (live and ended ones the
  // book still holds). Asks for a replan at the deployment's deadline.
  void Advance(const std::string& name, const BookedService& service,
               const std::vector<const v1::Task*>& tasks, absl::Time now);
  // A new record of `name` arrived: what was recorded is now in it.
  void OnRecordChanged(const std::string& name);

  size_t in_flight() const { return recorded_.size(); }

 private:
  // Asks for a plan of `name` at `when` unless already asked (a plan runs
  // for every burst of updates; each would add a timer for the same time).
  void WakeAt(const std::string& name, absl::Time when, absl::Time now);

  DeploymentRecorder& recorder_;
  SchedulerMetrics* metrics_;
  ReplanAt replan_at_;
  const absl::Duration retry_;
  // By service: the transition in flight, or recorded and not yet seen.
  std::map<std::string, std::string> recorded_;
  // By service: the wake-ups asked for and not yet due.
  std::map<std::string, std::set<absl::Time>> wakeups_;
  WeakCallbacks callbacks_;  // last: completions die with the driver
};

}  // namespace mast
