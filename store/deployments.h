#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mast/v1/records.pb.h"
#include "mast/v1/service.pb.h"

namespace mast {

// Deployments as stored in a service's record: the one in progress (or the
// last one to end) in `service.deployment`, ended ones in
// `deployment_history`. Pure functions on a record; no I/O. The API's
// writer starts and steers deployments with them, the leader's scheduler
// advances them (through DeploymentRecorder), so both write the same shape.

// In progress: RUNNING, PAUSED or ROLLING_BACK.
bool IsActive(const v1::Deployment& deployment);
bool HasActiveDeployment(const v1::Service& service);
// RUNNING or ROLLING_BACK: the service's tasks are being replaced, and the
// leader decides the deployment's next transition.
bool IsRollingOut(const v1::Service& service);

// Ended deployments kept per service, and the bytes the history may take
// (both specs of each are kept, so large specs keep fewer).
inline constexpr size_t kDeploymentHistory = 10;
inline constexpr size_t kDeploymentHistoryBytes = 256 * 1024;

// A deployment's id: "<to_version>-<now in Unix microseconds, hex>", e.g.
// "7-5f3a9c1e2b4d0". Unique per service, also across a delete and
// re-create (versions start again at 1, the time does not).
std::string DeploymentId(uint64_t to_version, absl::Time now);

// Starts a deployment on `record`, whose service already holds the new
// spec, version and task_version; `from` is the service as it was before
// the write. An active deployment there must have been ended first
// (FAILED_PRECONDITION otherwise). RUNNING at step 0 of StepCount(spec).
absl::Status StartDeployment(v1::records::ServiceRecord& record, const v1::Service& from,
                             v1::Deployment::Cause cause, absl::Time now);

// What the leader's control loop decided for a service's active deployment.
struct DeploymentTransition {
  std::string deployment_id;  // the deployment it applies to
  // RUNNING (to `step`), PAUSED (after the step), ROLLING_BACK, SUCCEEDED,
  // FAILED, ROLLED_BACK or CANCELLED (a rollback that ends as one).
  v1::Deployment::State state = v1::Deployment::STATE_UNSPECIFIED;
  uint32_t step = 0;
  std::string failure_reason;  // FAILED, ROLLING_BACK
};

// Applies `transition` to the record's active deployment. ABORTED when the
// record's deployment is no longer `deployment_id` or no longer active (a
// write of the API won: the scheduler decides again from the new record).
// - RUNNING with a step: the step moves on (step_started = now, when the
//   step or the state changes). INVALID_ARGUMENT past step_count.
// - PAUSED: after the current step (step_done; the step stays, Resume
//   starts the next one; transition.step is not used).
// - ROLLING_BACK: the service's spec goes back to from_spec (but keeps its
//   current `instances`: a scale made during the deployment stays) and its
//   task_version to from_task_version, version + 1; one step (step 0 of
//   step_count 1); failure_reason = the transition's; rollback_ends_as
//   ROLLED_BACK (unless already set, by a cancel). INVALID_ARGUMENT when
//   already ROLLING_BACK.
// - SUCCEEDED, FAILED, ROLLED_BACK, CANCELLED: ended (finished = now;
//   failure_reason = the transition's when not empty) and copied to the
//   history (bounded as above); service.deployment keeps it.
// The deployment's `updated` is set to now.
absl::Status ApplyTransition(v1::records::ServiceRecord& record,
                             const DeploymentTransition& transition, absl::Time now);

// Ends the active deployment as `state` (FAILED, CANCELLED, SUCCEEDED...)
// with `reason`, copying it to the history. No-op without one (or when
// `state` is not an ended state). History bounding: at most
// kDeploymentHistory, oldest dropped first, and the oldest dropped while
// the entries' serialized bytes exceed kDeploymentHistoryBytes (all of
// them if need be: service.deployment still holds the latest).
void EndDeployment(v1::records::ServiceRecord& record, v1::Deployment::State state,
                   const std::string& reason, absl::Time now);

// The spec the service had at `version`, from the current spec and the
// deployments kept (from_spec/to_spec with their versions), and the
// task_version its tasks ran at. nullopt if not kept (the versions a
// scale made and no deployment started from are not).
struct KeptSpec {
  v1::ServiceSpec spec;
  uint64_t version = 0;
  uint64_t task_version = 0;
};
std::optional<KeptSpec> SpecAtVersion(const v1::records::ServiceRecord& record, uint64_t version);
// The spec before the current one: the active or last deployment's
// from_spec; its to_spec when it rolled back (or is rolling back), since
// the from_spec is then current. nullopt without a deployment.
std::optional<KeptSpec> PreviousSpec(const v1::records::ServiceRecord& record);

// The scheduler's way of writing a transition: serialized with the API's
// writes of the service (so neither sees the other's write as a conflict),
// fenced with the current leadership. `done` gets OK, ABORTED (see
// ApplyTransition), FAILED_PRECONDITION (deposed) or UNAVAILABLE (retry).
// Called and called back on the control loop.
class DeploymentRecorder {
 public:
  virtual ~DeploymentRecorder() = default;
  virtual void Record(const std::string& service, DeploymentTransition transition,
                      absl::AnyInvocable<void(absl::Status) &&> done) = 0;
};

}  // namespace mast
