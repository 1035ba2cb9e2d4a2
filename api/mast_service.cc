#include "api/mast_service.h"

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

MastService::MastService(ElectionView election, Clock& clock)
    : election_(std::move(election)), clock_(clock) {}

grpc::ServerUnaryReactor* MastService::GetLeader(grpc::CallbackServerContext* context,
                                                 const mast::v1::GetLeaderRequest*,
                                                 mast::v1::GetLeaderResponse* response) {
  FillGetLeaderResponse(*election_(), clock_.Now(), response);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace mast
