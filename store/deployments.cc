#include "store/deployments.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/proto_util.h"
#include "store/deployment_progress.h"

namespace mast {
namespace {

bool Ended(v1::Deployment::State state) {
  switch (state) {
    case v1::Deployment::SUCCEEDED:
    case v1::Deployment::FAILED:
    case v1::Deployment::ROLLED_BACK:
    case v1::Deployment::CANCELLED:
      return true;
    default:
      return false;
  }
}

// The bytes the history takes in the record (each entry with its tag and length).
size_t HistoryBytes(const v1::records::ServiceRecord& record) {
  size_t bytes = 0;
  for (const v1::Deployment& deployment : record.deployment_history()) {
    bytes += deployment.ByteSizeLong() + 6;
  }
  return bytes;
}

// Drops the oldest ended deployments until at most kDeploymentHistory are
// kept and they take at most kDeploymentHistoryBytes (possibly none, when
// the latest alone is larger: service.deployment still holds it).
void BoundHistory(v1::records::ServiceRecord& record) {
  auto* history = record.mutable_deployment_history();
  while (history->size() > static_cast<int>(kDeploymentHistory)) {
    history->erase(history->begin());
  }
  while (!history->empty() && HistoryBytes(record) > kDeploymentHistoryBytes) {
    history->erase(history->begin());
  }
}

// Ends `deployment` (the record's service.deployment) as `state`.
void End(v1::records::ServiceRecord& record, v1::Deployment::State state, const std::string& reason,
         absl::Time now) {
  v1::Deployment* deployment = record.mutable_service()->mutable_deployment();
  deployment->set_state(state);
  deployment->set_step_done(false);
  if (!reason.empty()) deployment->set_failure_reason(reason);
  ToProtoTimestamp(now, deployment->mutable_finished());
  *deployment->mutable_updated() = deployment->finished();
  deployment->clear_progress();
  *record.add_deployment_history() = *deployment;
  BoundHistory(record);
}

// The service goes back to the deployment's from_spec (keeping the
// instances it has now: a scale made during the deployment stays) and
// from_task_version, at a new version; one step.
void RollBack(v1::records::ServiceRecord& record, const std::string& reason, absl::Time now) {
  v1::Service* service = record.mutable_service();
  v1::Deployment* deployment = service->mutable_deployment();
  const uint32_t instances = service->spec().instances();
  *service->mutable_spec() = deployment->from_spec();
  service->mutable_spec()->set_instances(instances);
  service->set_task_version(deployment->from_task_version());
  service->set_version(service->version() + 1);
  ToProtoTimestamp(now, service->mutable_updated());
  deployment->set_state(v1::Deployment::ROLLING_BACK);
  deployment->set_step(0);
  deployment->set_step_count(1);
  deployment->set_step_done(false);
  ToProtoTimestamp(now, deployment->mutable_step_started());
  deployment->set_failure_reason(reason);
  if (deployment->rollback_ends_as() == v1::Deployment::STATE_UNSPECIFIED) {
    deployment->set_rollback_ends_as(v1::Deployment::ROLLED_BACK);
  }
}

KeptSpec Kept(const v1::ServiceSpec& spec, uint64_t version, uint64_t task_version) {
  return KeptSpec{spec, version, task_version};
}

// A deployment's spec at `version` (its from or to side), if it has it.
std::optional<KeptSpec> SideAt(const v1::Deployment& deployment, uint64_t version) {
  if (deployment.to_version() == version) {
    return Kept(deployment.to_spec(), deployment.to_version(), deployment.to_task_version());
  }
  if (deployment.from_version() == version && deployment.from_version() != 0) {
    return Kept(deployment.from_spec(), deployment.from_version(), deployment.from_task_version());
  }
  return std::nullopt;
}

}  // namespace

bool IsActive(const v1::Deployment& deployment) {
  switch (deployment.state()) {
    case v1::Deployment::RUNNING:
    case v1::Deployment::PAUSED:
    case v1::Deployment::ROLLING_BACK:
      return true;
    default:
      return false;
  }
}

bool HasActiveDeployment(const v1::Service& service) {
  return service.has_deployment() && IsActive(service.deployment());
}

bool IsRollingOut(const v1::Service& service) {
  return service.has_deployment() && (service.deployment().state() == v1::Deployment::RUNNING ||
                                      service.deployment().state() == v1::Deployment::ROLLING_BACK);
}

std::string DeploymentId(uint64_t to_version, absl::Time now) {
  return absl::StrCat(to_version, "-", absl::Hex(absl::ToUnixMicros(now)));
}

absl::Status StartDeployment(v1::records::ServiceRecord& record, const v1::Service& from,
                             v1::Deployment::Cause cause, absl::Time now) {
  v1::Service* service = record.mutable_service();
  if (HasActiveDeployment(*service)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "service '", service->spec().name(), "' has deployment ", service->deployment().id(),
        " in progress (", v1::Deployment::State_Name(service->deployment().state()), ")"));
  }
  v1::Deployment deployment;
  deployment.set_id(DeploymentId(service->version(), now));
  deployment.set_service(service->spec().name());
  deployment.set_cause(cause);
  deployment.set_from_version(from.version());
  deployment.set_from_task_version(from.task_version());
  *deployment.mutable_from_spec() = from.spec();
  deployment.set_to_version(service->version());
  deployment.set_to_task_version(service->task_version());
  *deployment.mutable_to_spec() = service->spec();
  deployment.set_state(v1::Deployment::RUNNING);
  deployment.set_step(0);
  deployment.set_step_count(StepCount(service->spec()));
  ToProtoTimestamp(now, deployment.mutable_created());
  *deployment.mutable_updated() = deployment.created();
  *deployment.mutable_step_started() = deployment.created();
  *service->mutable_deployment() = std::move(deployment);
  return absl::OkStatus();
}

absl::Status ApplyTransition(v1::records::ServiceRecord& record,
                             const DeploymentTransition& transition, absl::Time now) {
  v1::Service* service = record.mutable_service();
  const std::string name = service->spec().name();
  if (!HasActiveDeployment(*service) || service->deployment().id() != transition.deployment_id) {
    return absl::AbortedError(
        absl::StrCat("deployment ", transition.deployment_id, " of service '", name,
                     "' is no longer in progress; decide again from the current record"));
  }
  v1::Deployment* deployment = service->mutable_deployment();
  switch (transition.state) {
    case v1::Deployment::RUNNING:
      if (transition.step >= deployment->step_count()) {
        return absl::InvalidArgumentError(
            absl::StrCat("step ", transition.step, " of ", deployment->step_count(), " steps"));
      }
      if (deployment->state() != v1::Deployment::RUNNING || transition.step != deployment->step()) {
        ToProtoTimestamp(now, deployment->mutable_step_started());
      }
      deployment->set_state(v1::Deployment::RUNNING);
      deployment->set_step(transition.step);
      deployment->set_step_done(false);
      break;
    case v1::Deployment::PAUSED:
      deployment->set_state(v1::Deployment::PAUSED);
      deployment->set_step_done(true);
      break;
    case v1::Deployment::ROLLING_BACK:
      if (deployment->state() == v1::Deployment::ROLLING_BACK) {
        return absl::InvalidArgumentError(
            absl::StrCat("deployment ", deployment->id(), " is already ROLLING_BACK"));
      }
      RollBack(record, transition.failure_reason, now);
      break;
    case v1::Deployment::SUCCEEDED:
    case v1::Deployment::FAILED:
    case v1::Deployment::ROLLED_BACK:
    case v1::Deployment::CANCELLED:
      End(record, transition.state, transition.failure_reason, now);
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("state: not a transition: ", v1::Deployment::State_Name(transition.state)));
  }
  ToProtoTimestamp(now, service->mutable_deployment()->mutable_updated());
  return absl::OkStatus();
}

void EndDeployment(v1::records::ServiceRecord& record, v1::Deployment::State state,
                   const std::string& reason, absl::Time now) {
  if (!HasActiveDeployment(record.service()) || !Ended(state)) return;
  End(record, state, reason, now);
}

std::optional<KeptSpec> SpecAtVersion(const v1::records::ServiceRecord& record, uint64_t version) {
  const v1::Service& service = record.service();
  if (version == 0) return std::nullopt;
  if (service.version() == version) {
    return Kept(service.spec(), service.version(), service.task_version());
  }
  if (service.has_deployment()) {
    if (auto kept = SideAt(service.deployment(), version)) return kept;
  }
  const auto& history = record.deployment_history();
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (auto kept = SideAt(*it, version)) return kept;
  }
  return std::nullopt;
}

std::optional<KeptSpec> PreviousSpec(const v1::records::ServiceRecord& record) {
  if (!record.service().has_deployment()) return std::nullopt;
  const v1::Deployment& deployment = record.service().deployment();
  // A deployment that rolled back put its from_spec back: the spec before
  // that is its to_spec.
  if (deployment.rollback_ends_as() != v1::Deployment::STATE_UNSPECIFIED) {
    return Kept(deployment.to_spec(), deployment.to_version(), deployment.to_task_version());
  }
  if (deployment.from_version() == 0) return std::nullopt;
  return Kept(deployment.from_spec(), deployment.from_version(), deployment.from_task_version());
}

}  // namespace mast
