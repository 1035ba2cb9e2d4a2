#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "election/leader_elector.h"
#include "grpcpp/grpcpp.h"
#include "mast/v1/mast.grpc.pb.h"

namespace mast {

// Set on a write a follower forwards to the leader, to the forwarding
// replica's id. A replica that gets a forwarded write but does not lead
// answers UNAVAILABLE rather than forwarding it again (no ping-pong while
// replicas disagree about the leader).
inline constexpr char kForwardedByHeader[] = "mast-forwarded-by";

// A follower's way to the leader: one gRPC channel to the leader's
// advertised address, replaced when the leader changes. Channels connect
// lazily and reconnect on their own; a call on a channel whose peer is gone
// fails with UNAVAILABLE, which the client retries.
//
// Threads: OnNewLeader runs on the control loop (the elector's
// on_new_leader), StubFor on gRPC threads; both are thread-safe.
class LeaderForwarder {
 public:
  using ChannelFactory =
      std::function<std::shared_ptr<grpc::ChannelInterface>(const std::string& address)>;

  // `factory` makes a channel to an address; default: an insecure channel.
  explicit LeaderForwarder(ChannelFactory factory = {});

  // The leader changed: a channel to its address replaces the previous one
  // (nullopt drops it).
  void OnNewLeader(const std::optional<LeaderInfo>& leader);
  // A stub on the channel to `address`, made if the current channel goes
  // elsewhere (the caller's view of the leader may be newer than the last
  // OnNewLeader).
  std::shared_ptr<v1::Mast::Stub> StubFor(const std::string& address);

  // A client context for forwarding the call of `server`: its deadline and
  // cancellation propagate, the caller's metadata is copied (gRPC's reserved
  // and pseudo headers and the caller's own auth::kOnBehalfOfHeader
  // excepted), kForwardedByHeader is set to `replica_id`, and
  // auth::kOnBehalfOfHeader to `on_behalf_of` unless it is empty.
  static std::unique_ptr<grpc::ClientContext> ForwardContext(
      const grpc::CallbackServerContext& server, absl::string_view replica_id,
      absl::string_view on_behalf_of = "");

 private:
  ChannelFactory factory_;
  absl::Mutex mu_;
  std::string address_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<v1::Mast::Stub> stub_ ABSL_GUARDED_BY(mu_);
};

using LeaderForwarderPtr = std::unique_ptr<LeaderForwarder>;

}  // namespace mast
