#pragma once

#include <functional>
#include <memory>

#include "common/clock.h"
#include "election/leader_elector.h"
#include "mast/v1/mast.grpc.pb.h"

namespace mast {

// The mast.v1.Mast gRPC service (callback API). Every replica serves it;
// reads are answered from immutable snapshots, never by blocking on the
// control loop.
//
// Threads: handlers run on gRPC's threads and only read snapshots.
class MastService final : public mast::v1::Mast::CallbackService {
 public:
  using ElectionView = std::function<std::shared_ptr<const ElectionSnapshot>()>;

  // `election` returns the elector's current snapshot; `clock` judges the
  // leader's lease at read time. Both must outlive the service.
  MastService(ElectionView election, Clock& clock);

  grpc::ServerUnaryReactor* GetLeader(grpc::CallbackServerContext* context,
                                      const mast::v1::GetLeaderRequest* request,
                                      mast::v1::GetLeaderResponse* response) override;

 private:
  ElectionView election_;
  Clock& clock_;
};

// Fills a GetLeaderResponse from an election snapshot at time `now`. A
// replica whose lease has run out (e.g. it was stopped past its session
// timeout) reports no leader rather than itself.
void FillGetLeaderResponse(const ElectionSnapshot& snapshot, absl::Time now,
                           mast::v1::GetLeaderResponse* response);

}  // namespace mast
