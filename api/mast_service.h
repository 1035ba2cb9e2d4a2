#pragma once

#include <functional>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "api/audit.h"
#include "api/leader_forwarder.h"
#include "api/service_writer.h"
#include "api/snapshot_waiter.h"
#include "api/store_version.h"
#include "api/watch_hub.h"
#include "auth/access.h"
#include "common/clock.h"
#include "election/leader_elector.h"
#include "mast/v1/mast.grpc.pb.h"
#include "store/state_cache.h"

namespace mast {

// How long a read with min_store_version waits when its call has no deadline.
inline constexpr absl::Duration kMaxStoreVersionWait = absl::Seconds(10);

// The mast.v1.Mast gRPC service (callback API). Every replica serves it.
//
// Reads (GetLeader, GetService, ListServices, ListTasks, ListDeployments,
// GetDeployment) are answered on the
// gRPC thread from immutable snapshots (the elector's, the StateCache's),
// never by blocking on the control loop. A read with min_store_version
// waits for a snapshot at that version through the SnapshotWaiter (no
// thread is held): until shortly before its deadline (a tenth of the time
// left, at most 100 ms, is kept to send the answer), or kMaxStoreVersionWait
// without one; then UNAVAILABLE naming both versions.
//
// WatchEvents streams are fed by the WatchHub (on the control loop) through
// a ServerWriteReactor each: one write in flight at a time, the next taken
// when it completes or when the hub wakes an idle stream. A stream ends when
// the client cancels it or its deadline passes (CANCELLED /
// DEADLINE_EXCEEDED as gRPC reports them), when the hub drops it as too slow
// (RESOURCE_EXHAUSTED), or when the server shuts down. It is served by this
// replica, leader or not.
//
// Writes (the service writes and the deployment writes PauseDeployment,
// ResumeDeployment, CancelDeployment, RollbackService) go one of three
// ways, decided from the election snapshot:
// - acting leader: posted to the control loop through `post_write`, run by
//   the ServiceWriter there, and answered from the loop through the call's
//   reactor, with the write's store version in the trailing metadata
//   (kStoreVersionTrailer);
// - leading but paused (or its lease lapsed): UNAVAILABLE;
// - follower: forwarded to the known leader with LeaderForwarder (deadline,
//   cancellation and metadata kept), its answer relayed as is (the store
//   version trailer included); UNAVAILABLE
//   with a retry hint when no leader is known or when the call was already
//   forwarded once.
//
// Access (auth/access.h): every call is authenticated first
// (UNAUTHENTICATED), then authorized by service: writes need write on the
// service (PERMISSION_DENIED, nothing posted or forwarded), reads of a named
// service read; ListServices, ListTasks (of every service) and WatchEvents
// leave out what the caller may not read. Every write is audited (AuditLog)
// where it is refused or performed; a forwarded write names its caller in
// auth::kOnBehalfOfHeader, which the leader trusts only from a forwarder.
//
// Threads: handlers run on gRPC's threads. Everything given to the
// constructor must outlive the server. A write posted to a loop that stopped
// is never answered: stop the server first.
class MastService final : public mast::v1::Mast::CallbackService {
 public:
  using ElectionView = std::function<std::shared_ptr<const ElectionSnapshot>()>;
  using StateView = ::mast::StateView;
  // Runs the task on the control loop with the leader's writer.
  using WritePoster = std::function<void(absl::AnyInvocable<void(ServiceWriter&) &&>)>;

  // `election` returns the elector's current snapshot; `clock` judges the
  // leader's lease at read time; `state` returns the StateCache's snapshot;
  // `waiter` (fed the same snapshots) holds reads that wait for a store
  // version; `watch` feeds WatchEvents.
  // `access` decides who may do what (auth::AllowEverything() for none);
  // `audit` records the writes.
  MastService(ElectionView election, StateView state, Clock& clock, WritePoster post_write,
              LeaderForwarder& forwarder, SnapshotWaiter& waiter, WatchHub& watch,
              const auth::AccessControl& access, AuditLog& audit);

  grpc::ServerUnaryReactor* GetLeader(grpc::CallbackServerContext* context,
                                      const mast::v1::GetLeaderRequest* request,
                                      mast::v1::GetLeaderResponse* response) override;

  grpc::ServerUnaryReactor* CreateService(grpc::CallbackServerContext* context,
                                          const mast::v1::CreateServiceRequest* request,
                                          mast::v1::Service* response) override;
  grpc::ServerUnaryReactor* UpdateService(grpc::CallbackServerContext* context,
                                          const mast::v1::UpdateServiceRequest* request,
                                          mast::v1::Service* response) override;
  grpc::ServerUnaryReactor* ScaleService(grpc::CallbackServerContext* context,
                                         const mast::v1::ScaleServiceRequest* request,
                                         mast::v1::Service* response) override;
  grpc::ServerUnaryReactor* RestartService(grpc::CallbackServerContext* context,
                                           const mast::v1::RestartServiceRequest* request,
                                           mast::v1::Service* response) override;
  grpc::ServerUnaryReactor* DeleteService(grpc::CallbackServerContext* context,
                                          const mast::v1::DeleteServiceRequest* request,
                                          mast::v1::DeleteServiceResponse* response) override;
  grpc::ServerUnaryReactor* PauseDeployment(grpc::CallbackServerContext* context,
                                            const mast::v1::DeploymentRequest* request,
                                            mast::v1::Deployment* response) override;
  grpc::ServerUnaryReactor* ResumeDeployment(grpc::CallbackServerContext* context,
                                             const mast::v1::DeploymentRequest* request,
                                             mast::v1::Deployment* response) override;
  grpc::ServerUnaryReactor* CancelDeployment(grpc::CallbackServerContext* context,
                                             const mast::v1::CancelDeploymentRequest* request,
                                             mast::v1::Deployment* response) override;
  grpc::ServerUnaryReactor* RollbackService(grpc::CallbackServerContext* context,
                                            const mast::v1::RollbackServiceRequest* request,
                                            mast::v1::Service* response) override;

  grpc::ServerUnaryReactor* GetService(grpc::CallbackServerContext* context,
                                       const mast::v1::GetServiceRequest* request,
                                       mast::v1::GetServiceResponse* response) override;
  grpc::ServerUnaryReactor* ListServices(grpc::CallbackServerContext* context,
                                         const mast::v1::ListServicesRequest* request,
                                         mast::v1::ListServicesResponse* response) override;
  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* context,
                                      const mast::v1::ListTasksRequest* request,
                                      mast::v1::ListTasksResponse* response) override;
  grpc::ServerUnaryReactor* ListDeployments(grpc::CallbackServerContext* context,
                                            const mast::v1::ListDeploymentsRequest* request,
                                            mast::v1::ListDeploymentsResponse* response) override;
  grpc::ServerUnaryReactor* GetDeployment(grpc::CallbackServerContext* context,
                                          const mast::v1::GetDeploymentRequest* request,
                                          mast::v1::GetDeploymentResponse* response) override;

  grpc::ServerWriteReactor<mast::v1::WatchEvent>* WatchEvents(
      grpc::CallbackServerContext* context, const mast::v1::WatchEventsRequest* request) override;

 private:
  template <typename Request, typename Response>
  using LocalWrite = void (ServiceWriter::*)(Request, ServiceWriter::Done<Response>);
  // A read's logic over one snapshot (service_reads.h).
  template <typename Request, typename Response>
  using Fill = absl::Status (*)(const StateSnapshot&, const Request&, Response*);
  // A read's answer, trimmed to what the caller may see.
  template <typename Response>
  using Trim = std::function<void(const auth::Identity& caller, Response*)>;
  // The stub's callback method for the same RPC (e.g.
  // &v1::Mast::StubInterface::async_interface::CreateService).
  template <typename Request, typename Response>
  using RemoteWrite = void (v1::Mast::StubInterface::async_interface::*)(
      grpc::ClientContext*, const Request*, Response*, std::function<void(grpc::Status)>);

  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* context, const char* method,
                                  const Request* request, Response* response,
                                  LocalWrite<Request, Response> local,
                                  RemoteWrite<Request, Response> remote);
  // Answers `request` with `fill` from the current snapshot, or from the
  // first one at its min_store_version, once the caller is known and holds
  // read on `service` (when not empty); `trim` (when set) then drops what
  // the caller may not read.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* context, const Request* request,
                                 Response* response, Fill<Request, Response> fill,
                                 absl::string_view service, Trim<Response> trim = nullptr);
  // The caller of `context`; a refusal is counted.
  absl::StatusOr<auth::Identity> Caller(const grpc::CallbackServerContext& context) const;
  // OK when `who` holds `role` on `service`; a refusal is counted.
  absl::Status Check(const auth::Identity& who, auth::Role role, absl::string_view service) const;
  // Whether `who` may read `service` (filters; not counted).
  bool MayRead(const auth::Identity& who, absl::string_view service) const;
  // The service's version in the read copy (0: none).
  uint64_t VersionNow(const std::string& service) const;

  ElectionView election_;
  StateView state_;
  Clock& clock_;
  WritePoster post_write_;
  LeaderForwarder& forwarder_;
  SnapshotWaiter& waiter_;
  WatchHub& watch_;
  const auth::AccessControl& access_;
  AuditLog& audit_;
};

// Fills a GetLeaderResponse from an election snapshot at time `now`. A
// replica whose lease has run out (e.g. it was stopped past its session
// timeout) reports no leader rather than itself.
void FillGetLeaderResponse(const ElectionSnapshot& snapshot, absl::Time now,
                           mast::v1::GetLeaderResponse* response);

// absl::Status -> grpc::Status (same code and message).
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace mast
