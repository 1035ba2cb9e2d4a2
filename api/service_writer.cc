#include "api/service_writer.h"

#include <algorithm>
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/secret_redaction.h"
#include "api/validation.h"
#include "common/proto_util.h"
#include "common/status_macros.h"

namespace mast {
namespace {

// Definite answers: repeating the request would give the same one.
bool Remembered(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

// The spec as it will be stored, or INVALID_ARGUMENT naming `field_prefix` + field.
absl::StatusOr<v1::ServiceSpec> CheckedSpec(const v1::ServiceSpec& spec,
                                            absl::string_view field_prefix) {
  v1::ServiceSpec filled = WithDefaults(spec);
  MAST_RETURN_IF_ERROR(ValidateServiceSpec(filled, field_prefix));
  return filled;
}

absl::Status CheckName(const std::string& name, absl::string_view field = "name") {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  return absl::OkStatus();
}

// Whether two specs run the same tasks: they differ in nothing but
// `instances` (a scale) and `upgrade_strategy` (how tasks are replaced, not
// what runs; a deployment in progress follows the new one). Specs stored
// before upgrade_strategy had defaults compare equal to the same spec now.
bool SameTasks(v1::ServiceSpec a, v1::ServiceSpec b) {
  for (v1::ServiceSpec* spec : {&a, &b}) {
    spec->clear_instances();
    spec->clear_upgrade_strategy();
  }
  return DeterministicBytes(a) == DeterministicBytes(b);
}

}  // namespace

absl::Status ForClient(absl::Status status) {
  if (status.code() != absl::StatusCode::kFailedPrecondition) return status;
  return absl::UnavailableError(absl::StrCat("not applied: this replica no longer leads (",
                                             status.message(),
                                             "); retry, the request goes to the new leader"));
}

ServiceWriter::ServiceWriter(ServiceStore& store, Clock& clock, StateView state, Options options)
    : store_(store), clock_(clock), state_(std::move(state)), options_(options) {}

void ServiceWriter::OnStartedLeading(const LeaderTerm& term) {
  term_ = term;
  paused_ = false;
}

void ServiceWriter::OnStoppedLeading() {
  term_.reset();
  paused_ = false;
}

absl::Status ServiceWriter::CheckLeading() const {
  if (!term_.has_value()) {
    return absl::UnavailableError("this replica does not lead (any more); retry shortly");
  }
  if (paused_) {
    return absl::UnavailableError(
        "the leader is paused (its ZooKeeper connection is suspended); retry shortly");
  }
  return absl::OkStatus();
}

template <typename Request, typename Response>
void ServiceWriter::Idempotent(absl::string_view method, const Request& request,
                               Done<Response> done,
                               absl::AnyInvocable<void(Done<Response>) &&> run) {
  if (request.idempotency_key().empty()) {
    std::move(run)(std::move(done));
    return;
  }
  const std::string& key = request.idempotency_key();
  Request keyless = request;
  keyless.clear_idempotency_key();
  std::string fingerprint = absl::StrCat(method, "\n", DeterministicBytes(keyless));

  auto reply = [](Done<Response> done, const Outcome& outcome) {
    if (!outcome.status.ok()) {
      std::move(done)(outcome.status);
      return;
    }
    Written<Response> written;
    written.response.ParseFromString(outcome.response);
    written.store_version = outcome.store_version;
    std::move(done)(std::move(written));
  };
  auto it = idempotency_.find(key);
  if (it != idempotency_.end()) {
    if (it->second.fingerprint != fingerprint) {
      std::move(done)(absl::InvalidArgumentError(absl::StrCat(
          "idempotency_key: '", key.substr(0, 128), "' was used for a different request")));
    } else if (it->second.answered) {
      reply(std::move(done), it->second.outcome);
    } else {
      it->second.waiters.push_back(
          [reply, done = std::move(done)](const Outcome& o) mutable { reply(std::move(done), o); });
    }
    return;
  }
  idempotency_[key].fingerprint = std::move(fingerprint);
  std::move(run)(callbacks_.Bind(
      [this, key, done = std::move(done)](absl::StatusOr<Written<Response>> result) mutable {
        Outcome outcome;
        outcome.status = result.status();
        if (result.ok()) {
          outcome.response = DeterministicBytes(result->response);
          outcome.store_version = result->store_version;
        }
        Remember(key, outcome);
        if (result.ok()) {
          std::move(done)(*std::move(result));
        } else {
          std::move(done)(result.status());
        }
      }));
}

void ServiceWriter::Remember(const std::string& key, Outcome outcome) {
  auto it = idempotency_.find(key);
  if (it == idempotency_.end()) return;
  std::vector<absl::AnyInvocable<void(const Outcome&)&&>> waiters = std::move(it->second.waiters);
  if (Remembered(outcome.status)) {
    it->second.answered = true;
    it->second.outcome = outcome;
    answered_order_.push_back(key);
    while (answered_order_.size() > options_.idempotency_keys) {
      idempotency_.erase(answered_order_.front());
      answered_order_.pop_front();
    }
  } else {
    idempotency_.erase(it);  // may be retried under the same key
  }
  for (auto& waiter : waiters) std::move(waiter)(outcome);
}

void ServiceWriter::Serialized(const std::string& name, Op op) {
  auto [it, first] = queues_.try_emplace(name);
  if (!first) {
    it->second.push_back(std::move(op));
    return;
  }
  RunQueued(name, std::move(op));
}

void ServiceWriter::RunQueued(const std::string& name, Op op) {
  std::move(op)(callbacks_.Bind([this, name]() {
    auto it = queues_.find(name);
    if (it == queues_.end()) return;
    if (it->second.empty()) {
      queues_.erase(it);
      return;
    }
    Op next = std::move(it->second.front());
    it->second.pop_front();
    RunQueued(name, std::move(next));
  }));
}

template <typename Request, typename Response>
void ServiceWriter::Write(absl::string_view method, const Request& request, Done<Response> done,
                          absl::AnyInvocable<absl::StatusOr<Mutation>() &&> prepare) {
  Idempotent<Request, Response>(
      method, request, std::move(done),
      [this, prepare = std::move(prepare)](Done<Response> done) mutable {
        absl::StatusOr<Mutation> mutation = std::move(prepare)();
        if (!mutation.ok()) return std::move(done)(mutation.status());
        Apply(*std::move(mutation),
              [done = std::move(done)](absl::StatusOr<Written<v1::Service>> written) mutable {
                if (!written.ok()) return std::move(done)(written.status());
                if constexpr (std::is_same_v<Response, v1::Service>) {
                  std::move(done)(*std::move(written));
                } else if constexpr (std::is_same_v<Response, v1::Deployment>) {
                  // The deployment as stored: reads fill its progress.
                  v1::Deployment deployment = written->response.deployment();
                  deployment.clear_progress();
                  std::move(done)(Written<Response>{std::move(deployment), written->store_version});
                } else {
                  std::move(done)(Written<Response>{Response(), written->store_version});
                }
              });
      });
}

void ServiceWriter::Apply(Mutation mutation, Done<v1::Service> done) {
  if (absl::Status leading = CheckLeading(); !leading.ok()) return std::move(done)(leading);
  std::string name = mutation.name;
  Serialized(name, [this, mutation = std::move(mutation),
                    done = std::move(done)](Release release) mutable {
    // Leadership may have ended while queued.
    if (absl::Status leading = CheckLeading(); !leading.ok()) {
      std::move(release)();
      return std::move(done)(leading);
    }
    std::string name = mutation.name;
    store_.GetService(
        name, callbacks_.Bind([this, mutation = std::move(mutation), release = std::move(release),
                               done = std::move(done)](
                                  absl::StatusOr<std::optional<StoredService>> read) mutable {
          auto planned = [&]() -> absl::StatusOr<Planned> {
            MAST_RETURN_IF_ERROR(CheckLeading());  // leadership may have ended during the read
            if (!read.ok()) return ForClient(read.status());
            return Plan(mutation, *std::move(read));
          };
          absl::StatusOr<Planned> plan = planned();
          if (!plan.ok() || !plan->record.has_value()) {
            std::move(release)();
            if (!plan.ok()) return std::move(done)(plan.status());
            return Answer(plan->answer, plan->answer.mzxid, std::move(done));
          }
          store_.PutService(
              *term_, *std::move(plan->record), plan->znode_version,
              callbacks_.Bind(
                  [this, kind = mutation.kind, release = std::move(release), done = std::move(done),
                   answer = std::move(plan->answer)](absl::StatusOr<int32_t> put) mutable {
                    std::move(release)();
                    if (put.ok()) {
                      // The store version of the write: the record's mzxid, read back.
                      const std::string name = answer.record.service().spec().name();
                      return store_.GetService(
                          name, callbacks_.Bind(
                                    [this, answer = std::move(answer), done = std::move(done)](
                                        absl::StatusOr<std::optional<StoredService>> back) mutable {
                                      const int64_t version =
                                          back.ok() && back->has_value() ? (*back)->mzxid : 0;
                                      Answer(answer, version, std::move(done));
                                    }));
                    }
                    std::move(done)(
                        PutError(kind, answer.record.service().spec().name(), put.status()));
                  }));
        }));
  });
}

void ServiceWriter::Answer(const StoredService& written, int64_t store_version,
                           Done<v1::Service> done) const {
  std::shared_ptr<const StateSnapshot> state = state_ ? state_() : nullptr;
  // The same view a read gives, so that the status counts the tasks.
  v1::Service view =
      state != nullptr ? ServiceView(*state, written) : ServiceView(written, nullptr);
  std::move(done)(Written<v1::Service>{std::move(view), store_version});
}

absl::Status ServiceWriter::PutError(const Mutation::Kind kind, const std::string& name,
                                     absl::Status status) {
  const std::string service = absl::StrCat("service '", name, "'");
  if (kind == Mutation::Kind::kTransition) {
    // The scheduler decides again from the record (ABORTED), or stops (deposed).
    if (absl::IsAborted(status) || absl::IsNotFound(status)) {
      return absl::AbortedError(absl::StrCat(service, " changed concurrently: ", status.message()));
    }
    return status;
  }
  if (absl::IsAborted(status)) {
    status = absl::AbortedError(absl::StrCat(service, " changed concurrently; re-read and retry"));
  } else if (absl::IsAlreadyExists(status)) {
    status = absl::AlreadyExistsError(absl::StrCat(service, " already exists"));
  } else if (absl::IsNotFound(status)) {
    status = absl::NotFoundError(absl::StrCat(service, " not found"));
  }
  return ForClient(status);
}

absl::StatusOr<ServiceWriter::Planned> ServiceWriter::PlanCreate(Mutation& mutation, bool exists,
                                                                 bool deleting) const {
  if (exists) {
    return absl::AlreadyExistsError(absl::StrCat(
        "service '", mutation.name, "'",
        deleting ? " already exists and is being deleted; create it again once it is gone"
                 : " already exists"));
  }
  Planned plan;
  plan.record.emplace();
  const absl::Time now = clock_.Now();
  MAST_RETURN_IF_ERROR(std::move(mutation.apply)(*plan.record, v1::records::ServiceRecord(), now));
  v1::Service* created = plan.record->mutable_service();
  created->set_version(1);
  created->set_task_version(1);
  ToProtoTimestamp(now, created->mutable_created());
  *created->mutable_updated() = created->created();
  plan.znode_version = ServiceStore::kMustNotExist;
  plan.answer.record = *plan.record;
  return plan;
}

absl::StatusOr<ServiceWriter::Planned> ServiceWriter::Plan(
    Mutation& mutation, std::optional<StoredService> stored) const {
  using Kind = Mutation::Kind;
  const std::string service = absl::StrCat("service '", mutation.name, "'");
  const bool deleting =
      stored.has_value() && (stored->record.deleting() || stored->record.service().deleting());
  if (mutation.kind == Kind::kCreate) return PlanCreate(mutation, stored.has_value(), deleting);
  if (mutation.kind == Kind::kTransition && (!stored.has_value() || deleting)) {
    return absl::AbortedError(absl::StrCat(service, " is gone or being deleted"));
  }
  if (!stored.has_value()) return absl::NotFoundError(absl::StrCat(service, " not found"));
  Planned plan;
  if (deleting) {
    if (mutation.kind == Kind::kDelete) {
      plan.answer = *std::move(stored);  // already asked for: nothing to write
      return plan;
    }
    return absl::FailedPreconditionError(absl::StrCat(service, " is being deleted"));
  }
  const uint64_t version = stored->record.service().version();
  if (mutation.expected_version != 0 && mutation.expected_version != version) {
    return absl::AbortedError(absl::StrCat("expected_version: ", service, " is at version ",
                                           version, ", not ", mutation.expected_version,
                                           "; re-read and retry"));
  }
  const absl::Time now = clock_.Now();
  plan.record = stored->record;
  v1::Service* changed = plan.record->mutable_service();
  if (mutation.kind == Kind::kChange || mutation.kind == Kind::kDelete) {
    changed->set_version(version + 1);
    ToProtoTimestamp(now, changed->mutable_updated());
  }
  MAST_RETURN_IF_ERROR(std::move(mutation.apply)(*plan.record, stored->record, now));
  plan.record->set_deleting(changed->deleting());
  plan.znode_version = stored->version;
  plan.answer.record = *plan.record;
  return plan;
}

namespace {

using ServiceRecord = v1::records::ServiceRecord;

std::string ServiceName(const ServiceRecord& record) {
  return absl::StrCat("service '", record.service().spec().name(), "'");
}

// Makes room for a new deployment and starts it: FAILED_PRECONDITION while
// one is active, unless `force`, which ends that one CANCELLED.
absl::Status Redeploy(ServiceRecord& record, const ServiceRecord& before,
                      v1::Deployment::Cause cause, bool force, absl::Time now) {
  if (HasActiveDeployment(record.service())) {
    const v1::Deployment& active = record.service().deployment();
    if (!force) {
      return absl::FailedPreconditionError(
          absl::StrCat(ServiceName(record), " has deployment ", active.id(), " in progress (",
                       v1::Deployment::State_Name(active.state()), "); pass force to replace it"));
    }
    EndDeployment(record, v1::Deployment::CANCELLED, "replaced by a forced update", now);
  }
  return StartDeployment(record, before.service(), cause, now);
}

// The active deployment named by `id` (empty: the active one) in one of `states`.
absl::StatusOr<v1::Deployment*> ActiveDeployment(
    ServiceRecord& record, const std::string& id,
    std::initializer_list<v1::Deployment::State> states, absl::string_view call) {
  const std::string service = ServiceName(record);
  v1::Service* current = record.mutable_service();
  if (!HasActiveDeployment(*current)) {
    if (id.empty())
      return absl::NotFoundError(absl::StrCat(service, " has no deployment in progress"));
    if (current->has_deployment() && current->deployment().id() == id) {
      return absl::FailedPreconditionError(absl::StrCat(
          "deployment ", id, " of ", service, " is ",
          v1::Deployment::State_Name(current->deployment().state()), ": no longer in progress"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("deployment ", id, " is not in progress in ", service, " (none is)"));
  }
  v1::Deployment* deployment = current->mutable_deployment();
  if (!id.empty() && id != deployment->id()) {
    return absl::FailedPreconditionError(absl::StrCat("deployment ", id, " is not in progress in ",
                                                      service, " (", deployment->id(), " is)"));
  }
  for (v1::Deployment::State state : states) {
    if (deployment->state() == state) return deployment;
  }
  std::string allowed;
  for (v1::Deployment::State state : states) {
    absl::StrAppend(&allowed, allowed.empty() ? "" : " or ", v1::Deployment::State_Name(state));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "deployment ", deployment->id(), " of ", service, " is ",
      v1::Deployment::State_Name(deployment->state()), "; ", call, " needs it ", allowed));
}

absl::Status PauseDeployment(ServiceRecord& record, const std::string& id, absl::Time now) {
  MAST_ASSIGN_OR_RETURN(v1::Deployment * deployment,
                        ActiveDeployment(record, id, {v1::Deployment::RUNNING}, "a pause"));
  deployment->set_state(v1::Deployment::PAUSED);
  deployment->set_step_done(false);
  ToProtoTimestamp(now, deployment->mutable_updated());
  return absl::OkStatus();
}

absl::Status ResumeDeployment(ServiceRecord& record, const std::string& id, absl::Time now) {
  MAST_ASSIGN_OR_RETURN(v1::Deployment * deployment,
                        ActiveDeployment(record, id, {v1::Deployment::PAUSED}, "a resume"));
  deployment->set_state(v1::Deployment::RUNNING);
  if (deployment->step_done() && deployment->step() + 1 < deployment->step_count()) {
    deployment->set_step(deployment->step() + 1);
  }
  deployment->set_step_done(false);
  // Also mid-step: the progress deadline does not count the pause.
  ToProtoTimestamp(now, deployment->mutable_step_started());
  ToProtoTimestamp(now, deployment->mutable_updated());
  return absl::OkStatus();
}

absl::Status CancelDeployment(ServiceRecord& record, const std::string& id, bool rollback,
                              absl::Time now) {
  MAST_ASSIGN_OR_RETURN(
      v1::Deployment * deployment,
      ActiveDeployment(record, id, {v1::Deployment::RUNNING, v1::Deployment::PAUSED}, "a cancel"));
  if (!rollback) {
    EndDeployment(record, v1::Deployment::CANCELLED, "cancelled", now);
    return absl::OkStatus();
  }
  deployment->set_rollback_ends_as(v1::Deployment::CANCELLED);
  return ApplyTransition(
      record, DeploymentTransition{deployment->id(), v1::Deployment::ROLLING_BACK, 0, "cancelled"},
      now);
}

absl::Status RollbackTo(ServiceRecord& record, const ServiceRecord& before, uint64_t to_version,
                        bool force, absl::Time now) {
  std::optional<KeptSpec> kept =
      to_version == 0 ? PreviousSpec(before) : SpecAtVersion(before, to_version);
  if (!kept.has_value()) {
    return absl::NotFoundError(
        to_version == 0 ? absl::StrCat(ServiceName(before), " has no previous version kept")
                        : absl::StrCat("version ", to_version, " of ", ServiceName(before),
                                       " is no longer kept"));
  }
  v1::Service* service = record.mutable_service();
  *service->mutable_spec() = std::move(kept->spec);
  service->set_task_version(kept->task_version);
  return Redeploy(record, before, v1::Deployment::ROLLBACK, force, now);
}

}  // namespace

namespace {

// INVALID_ARGUMENT when `spec` names a role outside `allowed` (empty: any).
absl::Status CheckAllowedRole(const v1::ServiceSpec& spec,
                              const std::vector<std::string>& allowed) {
  if (allowed.empty() || spec.role().empty()) return absl::OkStatus();
  if (std::find(allowed.begin(), allowed.end(), spec.role()) != allowed.end()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "spec.role: '", spec.role().substr(0, 255),
      "' is not a role this framework may use (--allowed_roles: ", absl::StrJoin(allowed, ", "),
      ")"));
}

}  // namespace

void ServiceWriter::Create(v1::CreateServiceRequest request, Done<v1::Service> done) {
  Write<v1::CreateServiceRequest, v1::Service>(
      "create", request, std::move(done),
      [request, allowed = options_.allowed_roles]() -> absl::StatusOr<Mutation> {
        MAST_ASSIGN_OR_RETURN(v1::ServiceSpec spec, CheckedSpec(request.spec(), "spec."));
        MAST_RETURN_IF_ERROR(CheckAllowedRole(spec, allowed));
        MAST_RETURN_IF_ERROR(RefuseRedactedSecrets(spec, "spec."));
        std::string name = spec.name();
        return Mutation{Mutation::Kind::kCreate, std::move(name), 0,
                        [spec = std::move(spec)](ServiceRecord& record, const ServiceRecord&,
                                                 absl::Time) mutable {
                          *record.mutable_service()->mutable_spec() = std::move(spec);
                          return absl::OkStatus();
                        }};
      });
}

void ServiceWriter::Update(v1::UpdateServiceRequest request, Done<v1::Service> done) {
  Write<v1::UpdateServiceRequest, v1::Service>(
      "update", request, std::move(done),
      [request, allowed = options_.allowed_roles]() -> absl::StatusOr<Mutation> {
        MAST_ASSIGN_OR_RETURN(v1::ServiceSpec spec, CheckedSpec(request.spec(), "spec."));
        MAST_RETURN_IF_ERROR(CheckAllowedRole(spec, allowed));
        std::string name = spec.name();
        return Mutation{Mutation::Kind::kChange, std::move(name), request.expected_version(),
                        [spec = std::move(spec), force = request.force()](
                            ServiceRecord& record, const ServiceRecord& before,
                            absl::Time now) mutable -> absl::Status {
                          v1::Service* service = record.mutable_service();
                          MAST_RETURN_IF_ERROR(KeepRedactedSecrets(service->spec(), spec, "spec."));
                          const bool new_tasks = !SameTasks(service->spec(), spec);
                          *service->mutable_spec() = std::move(spec);
                          if (!new_tasks) return absl::OkStatus();  // a scale
                          service->set_task_version(service->version());
                          return Redeploy(record, before, v1::Deployment::UPDATE, force, now);
                        }};
      });
}

void ServiceWriter::Scale(v1::ScaleServiceRequest request, Done<v1::Service> done) {
  Write<v1::ScaleServiceRequest, v1::Service>(
      "scale", request, std::move(done), [request]() -> absl::StatusOr<Mutation> {
        MAST_RETURN_IF_ERROR(CheckName(request.name()));
        if (request.instances() > kMaxInstances) {
          return AboveLimit("instances", kMaxInstances, request.instances());
        }
        return Mutation{Mutation::Kind::kChange, request.name(), request.expected_version(),
                        [instances = request.instances()](ServiceRecord& record,
                                                          const ServiceRecord&, absl::Time) {
                          record.mutable_service()->mutable_spec()->set_instances(instances);
                          return absl::OkStatus();
                        }};
      });
}

void ServiceWriter::Restart(v1::RestartServiceRequest request, Done<v1::Service> done) {
  Write<v1::RestartServiceRequest, v1::Service>(
      "restart", request, std::move(done), [request]() -> absl::StatusOr<Mutation> {
        MAST_RETURN_IF_ERROR(CheckName(request.name()));
        return Mutation{Mutation::Kind::kChange, request.name(), request.expected_version(),
                        [force = request.force()](ServiceRecord& record,
                                                  const ServiceRecord& before, absl::Time now) {
                          record.mutable_service()->set_task_version(record.service().version());
                          return Redeploy(record, before, v1::Deployment::RESTART, force, now);
                        }};
      });
}

void ServiceWriter::Delete(v1::DeleteServiceRequest request, Done<v1::DeleteServiceResponse> done) {
  Write<v1::DeleteServiceRequest, v1::DeleteServiceResponse>(
      "delete", request, std::move(done), [request]() -> absl::StatusOr<Mutation> {
        MAST_RETURN_IF_ERROR(CheckName(request.name()));
        return Mutation{Mutation::Kind::kDelete, request.name(), request.expected_version(),
                        [](ServiceRecord& record, const ServiceRecord&, absl::Time now) {
                          record.mutable_service()->set_deleting(true);
                          EndDeployment(record, v1::Deployment::CANCELLED, "service deleted", now);
                          return absl::OkStatus();
                        }};
      });
}

void ServiceWriter::Pause(v1::DeploymentRequest request, Done<v1::Deployment> done) {
  Write<v1::DeploymentRequest, v1::Deployment>(
      "pause", request, std::move(done), [request]() -> absl::StatusOr<Mutation> {
        MAST_RETURN_IF_ERROR(CheckName(request.service(), "service"));
        return Mutation{
            Mutation::Kind::kDeployment, request.service(), 0,
            [id = request.id()](ServiceRecord& record, const ServiceRecord&, absl::Time now) {
              return PauseDeployment(record, id, now);
            }};
      });
}

void ServiceWriter::Resume(v1::DeploymentRequest request, Done<v1::Deployment> done) {
  Write<v1::DeploymentRequest, v1::Deployment>(
      "resume", request, std::move(done), [request]() -> absl::StatusOr<Mutation> {
        MAST_RETURN_IF_ERROR(CheckName(request.service(), "service"));
        return Mutation{
            Mutation::Kind::kDeployment, request.service(), 0,
            [id = request.id()](ServiceRecord& record, const ServiceRecord&, absl::Time now) {
              return ResumeDeployment(record, id, now);
            }};
      });
}

void ServiceWriter::Cancel(v1::CancelDeploymentRequest request, Done<v1::Deployment> done) {
  Write<v1::CancelDeploymentRequest, v1::Deployment>(
      "cancel", request, std::move(done), [request]() -> absl::StatusOr<Mutation> {
        MAST_RETURN_IF_ERROR(CheckName(request.service(), "service"));
        return Mutation{Mutation::Kind::kDeployment, request.service(), 0,
                        [id = request.id(), rollback = request.rollback()](
                            ServiceRecord& record, const ServiceRecord&, absl::Time now) {
                          return CancelDeployment(record, id, rollback, now);
                        }};
      });
}

void ServiceWriter::Rollback(v1::RollbackServiceRequest request, Done<v1::Service> done) {
  Write<v1::RollbackServiceRequest, v1::Service>(
      "rollback", request, std::move(done), [request]() -> absl::StatusOr<Mutation> {
        MAST_RETURN_IF_ERROR(CheckName(request.name()));
        return Mutation{Mutation::Kind::kChange, request.name(), request.expected_version(),
                        [to = request.to_version(), force = request.force()](
                            ServiceRecord& record, const ServiceRecord& before, absl::Time now) {
                          return RollbackTo(record, before, to, force, now);
                        }};
      });
}

void ServiceWriter::Record(const std::string& service, DeploymentTransition transition,
                           absl::AnyInvocable<void(absl::Status) &&> done) {
  Mutation mutation{Mutation::Kind::kTransition, service, 0,
                    [transition = std::move(transition)](
                        v1::records::ServiceRecord& record, const v1::records::ServiceRecord&,
                        absl::Time now) { return ApplyTransition(record, transition, now); }};
  Apply(std::move(mutation),
        [done = std::move(done)](absl::StatusOr<Written<v1::Service>> written) mutable {
          std::move(done)(written.status());
        });
}

}  // namespace mast
