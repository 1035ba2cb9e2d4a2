#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/service_reads.h"
#include "common/clock.h"
#include "common/weak_callback.h"
#include "election/leader_elector.h"
#include "mast/v1/mast.pb.h"
#include "store/deployments.h"
#include "store/service_store.h"

namespace mast {

// The leader's entry point for the API's writes (CreateService,
// UpdateService, ScaleService, RestartService, DeleteService, and the
// deployment writes PauseDeployment, ResumeDeployment, CancelDeployment,
// RollbackService), and the scheduler's DeploymentRecorder. Each write is
// checked (ValidateServiceSpec after WithDefaults; INVALID_ARGUMENT names
// every bad field, "spec.name: ...; spec.resources.cpus: ..."), read fresh from the store, checked
// against `expected_version` (0 = any; ABORTED on mismatch) and written through ServiceStore,
// fenced with the current LeaderTerm. Writes to one service name run one at a time, so the version
// check and the write of one are not interleaved with another API write of the same name.
//
// Versions: Create stores version 1 and task_version 1. Update, Scale,
// Restart, Rollback and Delete add one to `version` (Pause, Resume and
// Cancel change only the deployment, but a Cancel with rollback changes
// the spec back: version + 1); Update also sets task_version to the new
// version when the spec changes in anything but `instances` and `upgrade_strategy`, Restart
// always does (the spec unchanged), Rollback sets the kept one, Scale
// keeps it.
//
// Deployments (store/deployments.h): an Update that changes task_version,
// a Restart and a Rollback start one (cause UPDATE, RESTART, ROLLBACK;
// from_spec = the spec before the write). While one is active (RUNNING,
// PAUSED, ROLLING_BACK) such a write is FAILED_PRECONDITION ("service 'x'
// has deployment <id> in progress (RUNNING); pass force to replace it")
// unless the request has `force`: the active one then ends CANCELLED
// ("replaced by a forced update") and the new one starts. Scale, and an
// Update of `instances` only, never start one and are allowed during one.
// Delete ends an active one CANCELLED ("service deleted").
// - Pause: RUNNING -> PAUSED (step_done false). Resume: PAUSED -> RUNNING,
//   the next step if the step was done; step_started = now either way (the
//   progress deadline does not count the pause). Cancel: RUNNING or PAUSED;
//   with `rollback` ROLLING_BACK (as ApplyTransition's, the version + 1)
//   ending as CANCELLED, failure_reason "cancelled"; without, CANCELLED at
//   once. They name the deployment by id (empty: the active one): NOT_FOUND
//   for an unknown service, or no active deployment and no id;
//   FAILED_PRECONDITION when the id is not the active one or the state is
//   not one the call applies to (the message names it). They do not change
//   the version (a Cancel with rollback does, as the spec goes back) and
//   answer the Deployment as stored (progress empty).
// - Rollback: to the spec kept for to_version (SpecAtVersion; 0:
//   PreviousSpec), NOT_FOUND ("version 3 of service 'x' is no longer
//   kept") otherwise; version + 1, task_version = the kept one, so tasks
//   still running it count as new.
// - Record (DeploymentRecorder): serialized with the API's writes of the
//   name, fresh read, ApplyTransition, PutService fenced. OK; ABORTED when
//   the deployment is no longer the one in progress (or the service is
//   gone or deleting, or the record changed under the write);
//   FAILED_PRECONDITION when the fence refused (deposed); UNAVAILABLE when
//   not leading, paused, or the store is unreachable.
//
// Deletion: Delete only marks the service deleting (Service.deleting and
// ServiceRecord.deleting, version + 1); the leader's scheduler kills its
// tasks and then removes the record. Update, Scale and Restart of a
// deleting service are FAILED_PRECONDITION; a Delete of it is OK without a
// new write; a Create of its name is ALREADY_EXISTS until the record is gone.
//
// Leadership comes from the elector's callbacks (OnStartedLeading,
// OnStoppedLeading, OnPaused). Without a term, or while paused, a write is
// UNAVAILABLE at once and nothing is written. A write refused by the fence
// (the term ended meanwhile: FAILED_PRECONDITION from the store) is also
// reported UNAVAILABLE: it was not applied, and the client should retry
// against the new leader.
//
// Answers: a write's answer is the service as a read would show it (its
// status computed by ServiceView from the task records of the snapshot
// `state` returns, the leader's own read copy), with the store version it
// was written at: the mzxid of the service record read back right after the
// write (the write's own zxid, or a later write's; a synced read copy at it
// or later reflects the write). A write that wrote nothing (Delete of a
// deleting service) answers the version of its fresh read. 0 when the
// version is unknown: the read back failed, or found the record already
// removed (a Delete whose service the scheduler removed at once).
//
// Idempotency: a request with a non-empty idempotency_key that repeats an
// earlier one (same method, same fields) gets the earlier answer; a
// duplicate arriving while the first is in flight waits for it. Only
// definite answers are remembered (OK, with its store version,
// INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, ABORTED); after any other
// error the key may be retried. The same key with a different request is
// INVALID_ARGUMENT. The memory is bounded (Options::idempotency_keys, oldest
// answered key forgotten first), kept in this process only, and therefore
// lost on failover or restart.
//
// Threads: constructed on any thread; every other method is called on the
// control loop, and `done` is called there (possibly before the method
// returns). The store must outlive its use; callbacks of a destroyed writer
// never run.
class ServiceWriter : public DeploymentRecorder {
 public:
  struct Options {
    // Idempotency keys remembered (answered ones). Default 10,000.
    size_t idempotency_keys = 10000;
    // The roles spec.role may name (an empty role is always allowed: the
    // framework's). Empty: any valid role.
    std::vector<std::string> allowed_roles;
  };
  // A successful write's answer.
  template <typename T>
  struct Written {
    T response;
    int64_t store_version = 0;  // see "Answers"; 0: unknown
  };
  template <typename T>
  using Done = absl::AnyInvocable<void(absl::StatusOr<Written<T>>) &&>;

  // `store` must outlive the writer; `state` (called on the loop) gives the
  // snapshot whose task records fill the answers' status.
  ServiceWriter(ServiceStore& store, Clock& clock, StateView state)
      : ServiceWriter(store, clock, std::move(state), Options()) {}
  ServiceWriter(ServiceStore& store, Clock& clock, StateView state, Options options);
  ServiceWriter(const ServiceWriter&) = delete;
  ServiceWriter& operator=(const ServiceWriter&) = delete;

  // The store to write to; null until wired (writes are UNAVAILABLE).
  void OnStartedLeading(const LeaderTerm& term);
  void OnStoppedLeading();
  void OnPaused(bool paused) { paused_ = paused; }

  void Create(v1::CreateServiceRequest request, Done<v1::Service> done);
  void Update(v1::UpdateServiceRequest request, Done<v1::Service> done);
  void Scale(v1::ScaleServiceRequest request, Done<v1::Service> done);
  void Restart(v1::RestartServiceRequest request, Done<v1::Service> done);
  void Delete(v1::DeleteServiceRequest request, Done<v1::DeleteServiceResponse> done);
  void Pause(v1::DeploymentRequest request, Done<v1::Deployment> done);
  void Resume(v1::DeploymentRequest request, Done<v1::Deployment> done);
  void Cancel(v1::CancelDeploymentRequest request, Done<v1::Deployment> done);
  void Rollback(v1::RollbackServiceRequest request, Done<v1::Service> done);

  // DeploymentRecorder (see "Deployments" above).
  void Record(const std::string& service, DeploymentTransition transition,
              absl::AnyInvocable<void(absl::Status) &&> done) override;

  // Idempotency keys remembered now (answered and in flight).
  size_t idempotency_entries() const { return idempotency_.size(); }

 private:
  // A remembered answer: the status and, when OK, the serialized response
  // and its store version.
  struct Outcome {
    absl::Status status;
    std::string response;
    int64_t store_version = 0;
  };
  struct Entry {
    std::string fingerprint;  // method + request without its key
    bool answered = false;
    Outcome outcome;
    std::vector<absl::AnyInvocable<void(const Outcome&) &&>> waiters;
  };
  using Release = absl::AnyInvocable<void() &&>;
  using Op = absl::AnyInvocable<void(Release) &&>;

  // One write, as the frame below sees it.
  struct Mutation {
    enum class Kind {
      kCreate,      // the name must be free
      kChange,      // the service must exist and not be deleting; version + 1
      kDeployment,  // as kChange, but the version is apply's business
      kDelete,      // as kChange; already deleting: done, nothing written
      // The scheduler's (Record): as kDeployment, but a missing or deleting
      // service is ABORTED and a refused fence stays FAILED_PRECONDITION.
      kTransition,
    };
    Kind kind = Kind::kChange;
    std::string name;
    uint64_t expected_version = 0;  // 0: any (kCreate: unused)
    // Changes the record: a new one for kCreate (before its versions and
    // times are set), else the stored one (for kChange and kDelete with its
    // version raised and `updated` = now). `before` is the record as read
    // (empty for kCreate). An error is the write's answer; nothing is written.
    absl::AnyInvocable<absl::Status(v1::records::ServiceRecord& record,
                                    const v1::records::ServiceRecord& before, absl::Time now) &&>
        apply;
  };

  template <typename Request, typename Response>
  void Idempotent(absl::string_view method, const Request& request, Done<Response> done,
                  absl::AnyInvocable<void(Done<Response>) &&> run);
  void Remember(const std::string& key, Outcome outcome);
  // Runs `op` once the ops queued before it on `name` released.
  void Serialized(const std::string& name, Op op);
  void RunQueued(const std::string& name, Op op);
  // UNAVAILABLE unless leading, not paused and wired.
  absl::Status CheckLeading() const;
  // The frame every write shares: idempotency, then `prepare` (the request's
  // checks; INVALID_ARGUMENT), then Apply. `Response` is made from the
  // service as written.
  template <typename Request, typename Response>
  void Write(absl::string_view method, const Request& request, Done<Response> done,
             absl::AnyInvocable<absl::StatusOr<Mutation>() &&> prepare);
  // Leading check, serialized on the name: re-check, fresh read, the kind's
  // and expected_version's checks, `apply`, PutService with the read znode
  // version, release, errors mapped for the client.
  void Apply(Mutation mutation, Done<v1::Service> done);
  // The record to write for `mutation` given the fresh read, or the error
  // (or, for a delete of a deleting service, the stored service and no record).
  struct Planned {
    std::optional<v1::records::ServiceRecord> record;  // nullopt: nothing to write
    int64_t znode_version = 0;
    StoredService answer;  // the record as written (or as read, when nothing is)
  };
  absl::StatusOr<Planned> Plan(Mutation& mutation, std::optional<StoredService> stored) const;
  absl::StatusOr<Planned> PlanCreate(Mutation& mutation, bool exists, bool deleting) const;
  // The client's (or, for kTransition, the scheduler's) view of a failed PutService.
  static absl::Status PutError(const Mutation::Kind kind, const std::string& name,
                               absl::Status status);
  // Answers `done` with `written` as a read would show it, at `store_version`.
  void Answer(const StoredService& written, int64_t store_version, Done<v1::Service> done) const;

  ServiceStore& store_;
  Clock& clock_;
  const StateView state_;
  const Options options_;
  std::optional<LeaderTerm> term_;
  bool paused_ = false;
  std::map<std::string, Entry> idempotency_;
  std::deque<std::string> answered_order_;        // keys, oldest answer first
  std::map<std::string, std::deque<Op>> queues_;  // by name; present while one runs
  WeakCallbacks callbacks_;  // last: completions do nothing once the writer is gone
};

// Maps a store error to what an API client should see: FAILED_PRECONDITION
// (the fence refused a deposed leader's write) becomes UNAVAILABLE, since
// nothing was written and a retry reaches the new leader.
absl::Status ForClient(absl::Status status);

using ServiceWriterPtr = std::unique_ptr<ServiceWriter>;

}  // namespace mast
