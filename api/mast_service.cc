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
                         WatchHub& watch)
    : election_(std::move(election)),
      state_(std::move(state)),
      clock_(clock),
      post_write_(std::move(post_write)),
      forwarder_(forwarder),
      waiter_(waiter),
      watch_(watch) {
  static auto* list_tasks_allocator =
      new ArenaMessageAllocator<v1::ListTasksRequest, v1::ListTasksResponse>();
  static auto* list_services_allocator =
      new ArenaMessageAllocator<v1::ListServicesRequest, v1::ListServicesResponse>();
  SetMessageAllocatorFor_ListTasks(list_tasks_allocator);
  SetMessageAllocatorFor_ListServices(list_services_allocator);
}

grpc::ServerUnaryReactor* MastService::GetLeader(grpc::CallbackServerContext* context,
                                                 const mast::v1::GetLeaderRequest*,
                                                 mast::v1::GetLeaderResponse* response) {
  FillGetLeaderResponse(*election_(), clock_.Now(), response);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* MastService::Write(grpc::CallbackServerContext* context,
                                             const Request* request, Response* response,
                                             LocalWrite<Request, Response> local,
                                             RemoteWrite<Request, Response> remote) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::shared_ptr<const ElectionSnapshot> election = election_();
  if (election->leading) {
    if (!election->ActingLeader(clock_.Now())) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "the leader is paused (its ZooKeeper connection is "
                                   "suspended or its lease lapsed); retry in a few seconds"));
      return reactor;
    }
    post_write_([context, request = *request, response, reactor,
                 local](ServiceWriter& writer) mutable {
      (writer.*local)(std::move(request),
                      [context, response,
                       reactor](absl::StatusOr<ServiceWriter::Written<Response>> result) mutable {
                        if (result.ok()) {
                          *response = std::move(result->response);
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
  std::shared_ptr<grpc::ClientContext> forward =
      LeaderForwarder::ForwardContext(*context, election->replica_id);
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
      context, request, response, &ServiceWriter::Create,
      &v1::Mast::StubInterface::async_interface::CreateService);
}

grpc::ServerUnaryReactor* MastService::UpdateService(grpc::CallbackServerContext* context,
                                                     const v1::UpdateServiceRequest* request,
                                                     v1::Service* response) {
  return Write<v1::UpdateServiceRequest, v1::Service>(
      context, request, response, &ServiceWriter::Update,
      &v1::Mast::StubInterface::async_interface::UpdateService);
}

grpc::ServerUnaryReactor* MastService::ScaleService(grpc::CallbackServerContext* context,
                                                    const v1::ScaleServiceRequest* request,
                                                    v1::Service* response) {
  return Write<v1::ScaleServiceRequest, v1::Service>(
      context, request, response, &ServiceWriter::Scale,
      &v1::Mast::StubInterface::async_interface::ScaleService);
}

grpc::ServerUnaryReactor* MastService::RestartService(grpc::CallbackServerContext* context,
                                                      const v1::RestartServiceRequest* request,
                                                      v1::Service* response) {
  return Write<v1::RestartServiceRequest, v1::Service>(
      context, request, response, &ServiceWriter::Restart,
      &v1::Mast::StubInterface::async_interface::RestartService);
}

grpc::ServerUnaryReactor* MastService::DeleteService(grpc::CallbackServerContext* context,
                                                     const v1::DeleteServiceRequest* request,
                                                     v1::DeleteServiceResponse* response) {
  return Write<v1::DeleteServiceRequest, v1::DeleteServiceResponse>(
      context, request, response, &ServiceWriter::Delete,
      &v1::Mast::StubInterface::async_interface::DeleteService);
}

grpc::ServerUnaryReactor* MastService::PauseDeployment(grpc::CallbackServerContext* context,
                                                       const v1::DeploymentRequest* request,
                                                       v1::Deployment* response) {
  return Write<v1::DeploymentRequest, v1::Deployment>(
      context, request, response, &ServiceWriter::Pause,
      &v1::Mast::StubInterface::async_interface::PauseDeployment);
}

grpc::ServerUnaryReactor* MastService::ResumeDeployment(grpc::CallbackServerContext* context,
                                                        const v1::DeploymentRequest* request,
                                                        v1::Deployment* response) {
  return Write<v1::DeploymentRequest, v1::Deployment>(
      context, request, response, &ServiceWriter::Resume,
      &v1::Mast::StubInterface::async_interface::ResumeDeployment);
}

grpc::ServerUnaryReactor* MastService::CancelDeployment(grpc::CallbackServerContext* context,
                                                        const v1::CancelDeploymentRequest* request,
                                                        v1::Deployment* response) {
  return Write<v1::CancelDeploymentRequest, v1::Deployment>(
      context, request, response, &ServiceWriter::Cancel,
      &v1::Mast::StubInterface::async_interface::CancelDeployment);
}

grpc::ServerUnaryReactor* MastService::RollbackService(grpc::CallbackServerContext* context,
                                                       const v1::RollbackServiceRequest* request,
                                                       v1::Service* response) {
  return Write<v1::RollbackServiceRequest, v1::Service>(
      context, request, response, &ServiceWriter::Rollback,
      &v1::Mast::StubInterface::async_interface::RollbackService);
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* MastService::Read(grpc::CallbackServerContext* context,
                                            const Request* request, Response* response,
                                            Fill<Request, Response> fill) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const int64_t min_version = request->min_store_version();
  if (min_version < 0) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("min_store_version: must be >= 0, not ", min_version)));
    return reactor;
  }
  if (min_version == 0) {
    reactor->Finish(ToGrpcStatus(fill(*state_(), *request, response)));
    return reactor;
  }
  absl::Duration wait = kMaxStoreVersionWait;
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    const absl::Duration left =
        std::max(absl::FromChrono(context->deadline()) - absl::Now(), absl::ZeroDuration());
    wait = left - std::min(left / 10, absl::Milliseconds(100));
  }
  waiter_.Await(min_version, wait,
                [request, response, reactor,
                 fill](absl::StatusOr<std::shared_ptr<const StateSnapshot>> snapshot) {
                  if (!snapshot.ok()) return reactor->Finish(ToGrpcStatus(snapshot.status()));
                  reactor->Finish(ToGrpcStatus(fill(**snapshot, *request, response)));
                });
  return reactor;
}

grpc::ServerUnaryReactor* MastService::GetService(grpc::CallbackServerContext* context,
                                                  const v1::GetServiceRequest* request,
                                                  v1::GetServiceResponse* response) {
  return Read(context, request, response, &FillGetService);
}

grpc::ServerUnaryReactor* MastService::ListServices(grpc::CallbackServerContext* context,
                                                    const v1::ListServicesRequest* request,
                                                    v1::ListServicesResponse* response) {
  return Read(context, request, response, &FillListServices);
}

grpc::ServerUnaryReactor* MastService::ListTasks(grpc::CallbackServerContext* context,
                                                 const v1::ListTasksRequest* request,
                                                 v1::ListTasksResponse* response) {
  return Read(context, request, response, &FillListTasks);
}

grpc::ServerUnaryReactor* MastService::ListDeployments(grpc::CallbackServerContext* context,
                                                       const v1::ListDeploymentsRequest* request,
                                                       v1::ListDeploymentsResponse* response) {
  return Read(context, request, response, &FillListDeployments);
}

grpc::ServerUnaryReactor* MastService::GetDeployment(grpc::CallbackServerContext* context,
                                                     const v1::GetDeploymentRequest* request,
                                                     v1::GetDeploymentResponse* response) {
  return Read(context, request, response, &FillGetDeployment);
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
  static WatchStream* Start(WatchHub& hub, const v1::WatchEventsRequest& request) {
    auto stream = std::shared_ptr<WatchStream>(new WatchStream(hub));
    stream->self_ = stream;
    absl::StatusOr<std::shared_ptr<WatchSubscription>> subscription =
        hub.Subscribe(request, [weak = std::weak_ptr<WatchStream>(stream)] {
          if (std::shared_ptr<WatchStream> alive = weak.lock()) alive->Pump();
        });
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
  return WatchStream::Start(watch_, *request);
}

}  // namespace mast
