#include "api/mast_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
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
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

MastService::MastService(ElectionView election, StateView state, Clock& clock,
                         WritePoster post_write, LeaderForwarder& forwarder)
    : election_(std::move(election)),
      state_(std::move(state)),
      clock_(clock),
      post_write_(std::move(post_write)),
      forwarder_(forwarder) {}

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
    post_write_([request = *request, response, reactor, local](ServiceWriter& writer) mutable {
      (writer.*local)(std::move(request),
                      [response, reactor](absl::StatusOr<Response> result) mutable {
                        if (result.ok()) *response = *std::move(result);
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
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 absl::StrCat("no leader is known to replica ",
                                              election->replica_id,
                                              " (an election may be in progress); retry in a "
                                              "few seconds")));
    return reactor;
  }
  std::shared_ptr<v1::Mast::Stub> stub = forwarder_.StubFor(election->leader->address);
  std::shared_ptr<grpc::ClientContext> forward =
      LeaderForwarder::ForwardContext(*context, election->replica_id);
  remote(*stub, forward.get(), request, response,
         [reactor, stub, forward](grpc::Status status) { reactor->Finish(status); });
  return reactor;
}

grpc::ServerUnaryReactor* MastService::CreateService(grpc::CallbackServerContext* context,
                                                     const v1::CreateServiceRequest* request,
                                                     v1::Service* response) {
  return Write<v1::CreateServiceRequest, v1::Service>(
      context, request, response, &ServiceWriter::Create,
      [](v1::Mast::Stub& stub, grpc::ClientContext* c, const v1::CreateServiceRequest* r,
         v1::Service* out, std::function<void(grpc::Status)> done) {
        stub.async()->CreateService(c, r, out, std::move(done));
      });
}

grpc::ServerUnaryReactor* MastService::UpdateService(grpc::CallbackServerContext* context,
                                                     const v1::UpdateServiceRequest* request,
                                                     v1::Service* response) {
  return Write<v1::UpdateServiceRequest, v1::Service>(
      context, request, response, &ServiceWriter::Update,
      [](v1::Mast::Stub& stub, grpc::ClientContext* c, const v1::UpdateServiceRequest* r,
         v1::Service* out, std::function<void(grpc::Status)> done) {
        stub.async()->UpdateService(c, r, out, std::move(done));
      });
}

grpc::ServerUnaryReactor* MastService::ScaleService(grpc::CallbackServerContext* context,
                                                    const v1::ScaleServiceRequest* request,
                                                    v1::Service* response) {
  return Write<v1::ScaleServiceRequest, v1::Service>(
      context, request, response, &ServiceWriter::Scale,
      [](v1::Mast::Stub& stub, grpc::ClientContext* c, const v1::ScaleServiceRequest* r,
         v1::Service* out, std::function<void(grpc::Status)> done) {
        stub.async()->ScaleService(c, r, out, std::move(done));
      });
}

grpc::ServerUnaryReactor* MastService::DeleteService(grpc::CallbackServerContext* context,
                                                     const v1::DeleteServiceRequest* request,
                                                     v1::DeleteServiceResponse* response) {
  return Write<v1::DeleteServiceRequest, v1::DeleteServiceResponse>(
      context, request, response, &ServiceWriter::Delete,
      [](v1::Mast::Stub& stub, grpc::ClientContext* c, const v1::DeleteServiceRequest* r,
         v1::DeleteServiceResponse* out, std::function<void(grpc::Status)> done) {
        stub.async()->DeleteService(c, r, out, std::move(done));
      });
}

grpc::ServerUnaryReactor* MastService::GetService(grpc::CallbackServerContext* context,
                                                  const v1::GetServiceRequest* request,
                                                  v1::GetServiceResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(FillGetService(*state_(), *request, response)));
  return reactor;
}

grpc::ServerUnaryReactor* MastService::ListServices(grpc::CallbackServerContext* context,
                                                    const v1::ListServicesRequest* request,
                                                    v1::ListServicesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(FillListServices(*state_(), *request, response)));
  return reactor;
}

}  // namespace mast
