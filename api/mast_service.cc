#include "api/mast_service.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/arena_allocator.h"
#include "api/call_auth.h"
#include "api/secret_redaction.h"
#include "api/service_reads.h"

namespace mast {

void FillGetLeaderResponse(const ElectionSnapshot& snapshot, absl::Time now,
                           mast::v1::GetLeaderResponse* response) {
  response->set_replica_id(snapshot.replica_id);
  const bool acting = snapshot.ActingLeader(now);
  response->set_is_leader(acting);
  response->set_paused(snapshot.leading && snapshot.paused);
  // Our own leadership with a lapsed lease: we cannot know who leads now.
  const bool stale_self = snapshot.leading && !snapshot.paused && !acting;
  if (!snapshot.leader.has_value() || stale_self) {
    response->set_leader_known(false);
    return;
  }
  const LeaderInfo& leader = *snapshot.leader;
  response->set_leader_known(true);
  response->set_leader_id(leader.replica_id);
  response->set_leader_address(leader.address);
  response->set_fencing_token(leader.fencing_token);
  if (leader.since != absl::InfinitePast()) {
    response->set_leader_since_unix_nanos(absl::ToUnixNanos(leader.since));
  }
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

MastService::MastService(ElectionView election, StateView state, Clock& clock,
                         WritePoster post_write, LeaderForwarder& forwarder, SnapshotWaiter& waiter,
                         WatchHub& watch, const auth::AccessControl& access, AuditLog& audit)
    : election_(std::move(election)),
      state_(std::move(state)),
      clock_(clock),
      post_write_(std::move(post_write)),
      forwarder_(forwarder),
      waiter_(waiter),
      watch_(watch),
      access_(access),
      audit_(audit) {
  static auto* list_tasks_allocator =
      new ArenaMessageAllocator<v1::ListTasksRequest, v1::ListTasksResponse>();
  static auto* list_services_allocator =
      new ArenaMessageAllocator<v1::ListServicesRequest, v1::ListServicesResponse>();
  SetMessageAllocatorFor_ListTasks(list_tasks_allocator);
  SetMessageAllocatorFor_ListServices(list_services_allocator);
}

namespace {

// The service a write is about.
const std::string& ServiceOf(const v1::CreateServiceRequest& r) { return r.spec().name(); }
const std::string& ServiceOf(const v1::UpdateServiceRequest& r) { return r.spec().name(); }
const std::string& ServiceOf(const v1::ScaleServiceRequest& r) { return r.name(); }
const std::string& ServiceOf(const v1::RestartServiceRequest& r) { return r.name(); }
const std::string& ServiceOf(const v1::DeleteServiceRequest& r) { return r.name(); }
const std::string& ServiceOf(const v1::RollbackServiceRequest& r) { return r.name(); }
const std::string& ServiceOf(const v1::DeploymentRequest& r) { return r.service(); }
const std::string& ServiceOf(const v1::CancelDeploymentRequest& r) { return r.service(); }

// The version a write's answer names (0 when it names none).
uint64_t VersionAfter(const v1::Service& service) { return service.version(); }
template <typename Response>
uint64_t VersionAfter(const Response&) {
  return 0;
}

// Keeps the elements of `items` that `keep` accepts, in order.
template <typename T, typename Keep>
void KeepOnly(google::protobuf::RepeatedPtrField<T>* items, Keep keep) {
  int kept = 0;
  for (int i = 0; i < items->size(); ++i) {
    if (keep(items->Get(i))) items->SwapElements(i, kept++);
  }
  items->DeleteSubrange(kept, items->size() - kept);
}

}  // namespace

absl::StatusOr<auth::Identity> MastService::Caller(
    const grpc::CallbackServerContext& context) const {
  absl::StatusOr<auth::Identity> who = IdentifyCaller(access_, context, clock_.Now());
  if (!who.ok()) audit_.CountDenial(who.status());
  return who;
}

absl::Status MastService::Check(const auth::Identity& who, auth::Role role,
                                absl::string_view service) const {
  absl::Status allowed = access_.Authorize(who, role, service);
  if (!allowed.ok()) audit_.CountDenial(allowed);
  return allowed;
}

bool MastService::MayRead(const auth::Identity& who, absl::string_view service) const {
  return access_.Open() || access_.Authorize(who, auth::Role::kRead, service).ok();
}

uint64_t MastService::VersionNow(const std::string& service) const {
  std::shared_ptr<const StateSnapshot> state = state_();
  auto it = state->services.find(service);
  return it == state->services.end() ? 0 : it->second->record.service().version();
}

grpc::ServerUnaryReactor* MastService::GetLeader(grpc::CallbackServerContext* context,
                                                 const mast::v1::GetLeaderRequest*,
                                                 mast::v1::GetLeaderResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::StatusOr<auth::Identity> who = Caller(*context); !who.ok()) {
    reactor->Finish(ToGrpcStatus(who.status()));
    return reactor;
  }
  FillGetLeaderResponse(*election_(), clock_.Now(), response);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* MastService::Write(grpc::CallbackServerContext* context,
                                             const char* method, const Request* request,
                                             Response* response,
                                             LocalWrite<Request, Response> local,
                                             RemoteWrite<Request, Response> remote) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  AuditRecord audit{{}, context->peer(),  method,      ServiceOf(*request), 0,
                    0,  absl::OkStatus(), clock_.Now()};
  absl::StatusOr<auth::Identity> who = Caller(*context);
  audit.result = who.ok() ? Check(*who, auth::Role::kWrite, audit.service) : who.status();
  if (who.ok()) audit.who = *who;
  if (!audit.result.ok()) {
    audit.version_before = VersionNow(audit.service);
    audit_.Record(audit);
    reactor->Finish(ToGrpcStatus(audit.result));
    return reactor;
  }
  std::shared_ptr<const ElectionSnapshot> election = election_();
  if (election->leading) {
    if (!election->ActingLeader(clock_.Now())) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "the leader is paused (its ZooKeeper connection is "
                                   "suspended or its lease lapsed); retry in a few seconds"));
      return reactor;
    }
    audit.version_before = VersionNow(audit.service);
    post_write_([this, context, request = *request, response, reactor, local,
                 audit = std::move(audit)](ServiceWriter& writer) mutable {
      (writer.*local)(std::move(request),
                      [this, context, response, reactor, audit = std::move(audit)](
                          absl::StatusOr<ServiceWriter::Written<Response>> result) mutable {
                        audit.result = result.status();
                        audit.at = clock_.Now();
                        if (result.ok()) audit.version_after = VersionAfter(result->response);
                        audit_.Record(audit);
                        if (result.ok()) {
                          *response = std::move(result->response);
                          RedactSecrets(*response);
                          if (result->store_version > 0) {
                            context->AddTrailingMetadata(kStoreVersionTrailer,
                                                         absl::StrCat(result->store_version));
                          }
                        }
                        reactor->Finish(ToGrpcStatus(result.status()));
                      });
    });
    return reactor;
  }
  auto forwarded_by = context->client_metadata().find(kForwardedByHeader);
  if (forwarded_by != context->client_metadata().end()) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("replica ", election->replica_id,
                     " does not lead (the write was forwarded to it by ",
                     absl::string_view(forwarded_by->second.data(), forwarded_by->second.size())
                         .substr(0, 256),
                     "); retry in a few seconds")));
    return reactor;
  }
  if (!election->leader.has_value()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::UNAVAILABLE,
                     absl::StrCat("no leader is known to replica ", election->replica_id,
                                  " (an election may be in progress); retry in a "
                                  "few seconds")));
    return reactor;
  }
  std::shared_ptr<v1::Mast::Stub> stub = forwarder_.StubFor(election->leader->address);
  std::shared_ptr<grpc::ClientContext> forward = LeaderForwarder::ForwardContext(
      *context, election->replica_id, access_.Open() ? "" : OnBehalfOfValue(*who));
  (stub->async()->*remote)(
      forward.get(), request, response, [context, reactor, stub, forward](grpc::Status status) {
        // The leader's store version, so that the caller can read its write here too.
        const auto& trailers = forward->GetServerTrailingMetadata();
        auto version = trailers.find(kStoreVersionTrailer);
        if (status.ok() && version != trailers.end()) {
          context->AddTrailingMetadata(kStoreVersionTrailer,
                                       std::string(version->second.data(), version->second.size()));
        }
        reactor->Finish(status);
      });
  return reactor;
}

grpc::ServerUnaryReactor* MastService::CreateService(grpc::CallbackServerContext* context,
                                                     const v1::CreateServiceRequest* request,
                                                     v1::Service* response) {
  return Write<v1::CreateServiceRequest, v1::Service>(
      context, "CreateService", request, response, &ServiceWriter::Create,
      &v1::Mast::StubInterface::async_interface::CreateService);
}

grpc::ServerUnaryReactor* MastService::UpdateService(grpc::CallbackServerContext* context,
                                                     const v1::UpdateServiceRequest* request,
                                                     v1::Service* response) {
  return Write<v1::UpdateServiceRequest, v1::Service>(
      context, "UpdateService", request, response, &ServiceWriter::Update,
      &v1::Mast::StubInterface::async_interface::UpdateService);
}

grpc::ServerUnaryReactor* MastService::ScaleService(grpc::CallbackServerContext* context,
                                                    const v1::ScaleServiceRequest* request,
                                                    v1::Service* response) {
  return Write<v1::ScaleServiceRequest, v1::Service>(
      context, "ScaleService", request, response, &ServiceWriter::Scale,
      &v1::Mast::StubInterface::async_interface::ScaleService);
}

grpc::ServerUnaryReactor* MastService::RestartService(grpc::CallbackServerContext* context,
                                                      const v1::RestartServiceRequest* request,
                                                      v1::Service* response) {
  return Write<v1::RestartServiceRequest, v1::Service>(
      context, "RestartService", request, response, &ServiceWriter::Restart,
      &v1::Mast::StubInterface::async_interface::RestartService);
}

grpc::ServerUnaryReactor* MastService::DeleteService(grpc::CallbackServerContext* context,
                                                     const v1::DeleteServiceRequest* request,
                                                     v1::DeleteServiceResponse* response) {
  return Write<v1::DeleteServiceRequest, v1::DeleteServiceResponse>(
      context, "DeleteService", request, response, &ServiceWriter::Delete,
      &v1::Mast::StubInterface::async_interface::DeleteService);
}

grpc::ServerUnaryReactor* MastService::PauseDeployment(grpc::CallbackServerContext* context,
                                                       const v1::DeploymentRequest* request,
                                                       v1::Deployment* response) {
  return Write<v1::DeploymentRequest, v1::Deployment>(
      context, "PauseDeployment", request, response, &ServiceWriter::Pause,
      &v1::Mast::StubInterface::async_interface::PauseDeployment);
}

grpc::ServerUnaryReactor* MastService::ResumeDeployment(grpc::CallbackServerContext* context,
                                                        const v1::DeploymentRequest* request,
                                                        v1::Deployment* response) {
  return Write<v1::DeploymentRequest, v1::Deployment>(
      context, "ResumeDeployment", request, response, &ServiceWriter::Resume,
      &v1::Mast::StubInterface::async_interface::ResumeDeployment);
}

grpc::ServerUnaryReactor* MastService::CancelDeployment(grpc::CallbackServerContext* context,
                                                        const v1::CancelDeploymentRequest* request,
                                                        v1::Deployment* response) {
  return Write<v1::CancelDeploymentRequest, v1::Deployment>(
      context, "CancelDeployment", request, response, &ServiceWriter::Cancel,
      &v1::Mast::StubInterface::async_interface::CancelDeployment);
}

grpc::ServerUnaryReactor* MastService::RollbackService(grpc::CallbackServerContext* context,
                                                       const v1::RollbackServiceRequest* request,
                                                       v1::Service* response) {
  return Write<v1::RollbackServiceRequest, v1::Service>(
      context, "RollbackService", request, response, &ServiceWriter::Rollback,
      &v1::Mast::StubInterface::async_interface::RollbackService);
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* MastService::Read(grpc::CallbackServerContext* context,
                                            const Request* request, Response* response,
                                            Fill<Request, Response> fill, absl::string_view service,
                                            Trim<Response> trim) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<auth::Identity> who = Caller(*context);
  absl::Status allowed = who.status();
  if (who.ok() && !service.empty()) allowed = Check(*who, auth::Role::kRead, service);
  if (!allowed.ok()) {
    reactor->Finish(ToGrpcStatus(allowed));
    return reactor;
  }
  if (access_.Open()) trim = nullptr;
  auto answer = [request, response, fill, trim = std::move(trim),
                 who = *who](const StateSnapshot& snapshot) {
    absl::Status status = fill(snapshot, *request, response);
    if (status.ok() && trim) trim(who, response);
    if (status.ok()) RedactSecrets(*response);
    return ToGrpcStatus(status);
  };
  const int64_t min_version = request->min_store_version();
  if (min_version < 0) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("min_store_version: must be >= 0, not ", min_version)));
    return reactor;
  }
  if (min_version == 0) {
    reactor->Finish(answer(*state_()));
    return reactor;
  }
  absl::Duration wait = kMaxStoreVersionWait;
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    const absl::Duration left =
        std::max(absl::FromChrono(context->deadline()) - absl::Now(), absl::ZeroDuration());
    wait = left - std::min(left / 10, absl::Milliseconds(100));
  }
  waiter_.Await(min_version, wait,
                [reactor, answer = std::move(answer)](
                    absl::StatusOr<std::shared_ptr<const StateSnapshot>> snapshot) {
                  if (!snapshot.ok()) return reactor->Finish(ToGrpcStatus(snapshot.status()));
                  reactor->Finish(answer(**snapshot));
                });
  return reactor;
}

grpc::ServerUnaryReactor* MastService::GetService(grpc::CallbackServerContext* context,
                                                  const v1::GetServiceRequest* request,
                                                  v1::GetServiceResponse* response) {
  return Read(context, request, response, &FillGetService, request->name());
}

grpc::ServerUnaryReactor* MastService::ListServices(grpc::CallbackServerContext* context,
                                                    const v1::ListServicesRequest* request,
                                                    v1::ListServicesResponse* response) {
  return Read<v1::ListServicesRequest, v1::ListServicesResponse>(
      context, request, response, &FillListServices, "",
      [this](const auth::Identity& who, v1::ListServicesResponse* answer) {
        KeepOnly(answer->mutable_services(),
                 [&](const v1::Service& service) { return MayRead(who, service.spec().name()); });
      });
}

grpc::ServerUnaryReactor* MastService::ListTasks(grpc::CallbackServerContext* context,
                                                 const v1::ListTasksRequest* request,
                                                 v1::ListTasksResponse* response) {
  return Read<v1::ListTasksRequest, v1::ListTasksResponse>(
      context, request, response, &FillListTasks, request->service(),
      [this](const auth::Identity& who, v1::ListTasksResponse* answer) {
        KeepOnly(answer->mutable_tasks(),
                 [&](const v1::Task& task) { return MayRead(who, task.service()); });
      });
}

grpc::ServerUnaryReactor* MastService::ListDeployments(grpc::CallbackServerContext* context,
                                                       const v1::ListDeploymentsRequest* request,
                                                       v1::ListDeploymentsResponse* response) {
  return Read(context, request, response, &FillListDeployments, request->service());
}

grpc::ServerUnaryReactor* MastService::GetDeployment(grpc::CallbackServerContext* context,
                                                     const v1::GetDeploymentRequest* request,
                                                     v1::GetDeploymentResponse* response) {
  return Read(context, request, response, &FillGetDeployment, request->service());
}

namespace {

// One WatchEvents stream: moves a WatchSubscription's events to the client,
// one write at a time.
//
// Threads: Pump() runs on gRPC's threads (after a write, on cancellation)
// and on the control loop (the hub's wake); WatchSubscription::Next() lets
// one caller at a time have an event or the end, so StartWrite and Finish
// are never called twice at once, and no lock is held while they are
// called. Ownership: the stream owns itself (self_) until gRPC calls
// OnDone; the hub's wake holds a weak reference, so a wake racing with
// OnDone finds either nothing to do or no stream.
class WatchStream final : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  // `refused`: the caller may not watch (the stream ends with it at once).
  static WatchStream* Start(WatchHub& hub, const v1::WatchEventsRequest& request,
                            ServiceFilter may_read, ServiceFilter may_audit, absl::Status refused) {
    auto stream = std::shared_ptr<WatchStream>(new WatchStream(hub));
    stream->self_ = stream;
    if (!refused.ok()) {
      stream->Finish(ToGrpcStatus(refused));
      return stream.get();
    }
    absl::StatusOr<std::shared_ptr<WatchSubscription>> subscription = hub.Subscribe(
        request,
        [weak = std::weak_ptr<WatchStream>(stream)] {
          if (std::shared_ptr<WatchStream> alive = weak.lock()) alive->Pump();
        },
        std::move(may_read), std::move(may_audit));
    if (!subscription.ok()) {
      stream->Finish(ToGrpcStatus(subscription.status()));
      return stream.get();
    }
    {
      absl::MutexLock lock(&stream->mu_);
      stream->subscription_ = *subscription;
    }
    // Headers at once: the client knows the stream is up before any event.
    stream->StartSendInitialMetadata();
    stream->Pump();
    return stream.get();
  }

  void OnWriteDone(bool ok) override {
    std::shared_ptr<WatchSubscription> subscription = Subscription();
    if (!ok) subscription->Cancel(absl::CancelledError("the client went away"));
    subscription->Written();
    Pump();
  }

  void OnCancel() override {
    std::shared_ptr<WatchSubscription> subscription = Subscription();
    if (subscription == nullptr) return;  // finished at Start
    subscription->Cancel(absl::CancelledError("the watch was cancelled"));
    Pump();
  }

  void OnDone() override {
    if (std::shared_ptr<WatchSubscription> subscription = Subscription()) {
      subscription->Cancel(absl::CancelledError("the stream is done"));
      hub_.Unsubscribe(subscription);
    }
    std::shared_ptr<WatchStream> self = std::move(self_);  // may delete this on return
  }

 private:
  explicit WatchStream(WatchHub& hub) : hub_(hub) {}

  std::shared_ptr<WatchSubscription> Subscription() {
    absl::MutexLock lock(&mu_);
    return subscription_;
  }

  void Pump() {
    std::shared_ptr<WatchSubscription> subscription = Subscription();
    if (subscription == nullptr) return;  // a wake before Start() finished: Start pumps
    std::optional<WatchSubscription::Step> step = subscription->Next();
    if (!step.has_value()) return;
    if (step->end.has_value()) {
      Finish(ToGrpcStatus(*step->end));
      return;
    }
    // Only this caller holds an event until Written(): `writing_` is ours.
    writing_ = std::move(step->event);
    StartWrite(writing_.get());
  }

  WatchHub& hub_;
  absl::Mutex mu_;
  std::shared_ptr<WatchSubscription> subscription_ ABSL_GUARDED_BY(mu_);
  WatchEventPtr writing_;  // the event being written (see Pump)
  std::shared_ptr<WatchStream> self_;
};

}  // namespace

grpc::ServerWriteReactor<v1::WatchEvent>* MastService::WatchEvents(
    grpc::CallbackServerContext* context, const v1::WatchEventsRequest* request) {
  absl::StatusOr<auth::Identity> who = Caller(*context);
  ServiceFilter may_read;
  if (who.ok() && !access_.Open()) {
    may_read = [this, who = *who](absl::string_view service) { return MayRead(who, service); };
  }
  // Audit events only for what the caller administers.
  ServiceFilter may_audit;
  if (who.ok() && request->audit()) {
    may_audit = [this, who = *who](absl::string_view service) {
      return access_.Open() || access_.Authorize(who, auth::Role::kAdmin, service).ok();
    };
  }
  return WatchStream::Start(watch_, *request, std::move(may_read), std::move(may_audit),
                            who.status());
}

}  // namespace mast
