#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/event_loop.h"
#include "common/weak_callback.h"
#include "election/election_metrics.h"
#include "election/leader_term.h"
#include "zk/zk_client.h"

namespace mast {

// Configuration of a LeaderElector. Validated by LeaderElector::Create.
struct LeaderElectorConfig {
  // Parent of the contenders' ephemeral sequential znodes, e.g.
  // "/mast/election". Created (with its parents) if missing. Required.
  std::string election_path;
  // This replica's id, shown to others. Required, at most 256 bytes.
  std::string replica_id;
  // The address others should dial to reach this replica. Required.
  std::string advertise_address;
  // Delay between retries of a ZooKeeper call that failed while connected.
  BackoffConfig retry_backoff = {absl::Milliseconds(50), absl::Seconds(5), 2.0, 0.5};
};

// The elector's callbacks. All run on the control loop, never under a lock of
// the elector; each may be empty.
struct LeaderCallbacks {
  absl::AnyInvocable<void(const LeaderTerm&)> on_started_leading;
  absl::AnyInvocable<void(const LeaderTerm&, absl::string_view reason)> on_stopped_leading;
  // The leader changed (itself included); nullopt while no leader is known.
  absl::AnyInvocable<void(const std::optional<LeaderInfo>&)> on_new_leader;
  // The leader paused acting (true: its ZooKeeper connection is suspended)
  // or resumed (false) within the same term. A fourth callback beyond
  // client-go's three, because a Mesos scheduler must stop its calls at once
  // on suspension yet keep its subscription for a blip.
  absl::AnyInvocable<void(bool paused)> on_paused_changed;
};

// What other threads (gRPC, metrics) may read: an immutable snapshot.
struct ElectionSnapshot {
  std::string replica_id;
  bool leading = false;  // this replica holds leadership (maybe paused)
  bool paused = false;
  LeaderTerm term;  // valid while leading
  // Acting as leader is safe only before this time: the ZooKeeper session
  // cannot have expired before it. Checked at read time, so a process that
  // was stopped (SIGSTOP) past its session timeout never reports itself the
  // leader when it wakes, even before its control loop has run.
  absl::Time lease_expiry = absl::InfinitePast();
  std::optional<LeaderInfo> leader;
  ZkSessionState zk_state = ZkSessionState::kConnecting;

  bool ActingLeader(absl::Time now) const { return leading && !paused && now < lease_expiry; }
};

// Leader election by ephemeral sequential znodes under `election_path`. Each
// contender watches only its predecessor (no herd); a follower also watches
// the leader's znode to learn who leads. The data of each znode is an
// ElectionRecord (replica id, address) as protobuf JSON.
//
// Connection blips: when the leader's session is suspended it pauses at once
// (on_paused_changed(true)); if the same session reconnects and confirms its
// znode before its lease runs out, it resumes with the same term. The lease
// is renewed every third of the negotiated session timeout and runs out one
// session timeout after the last confirmed request was sent: by then the
// server may have expired the session and another replica may lead, so this
// one stops leading for good (a later leadership gets a new znode and a
// higher token). Session expiry ends leadership at once.
//
// Threads: all methods run on `loop`; the only exception is snapshot(),
// which any thread may call. `zk` and `loop` must outlive the elector; the
// elector must be destroyed on the loop thread (or after it stopped).
class LeaderElector {
 public:
  static absl::StatusOr<std::unique_ptr<LeaderElector>> Create(LeaderElectorConfig config,
                                                               ZkClient& zk, EventLoop& loop,
                                                               LeaderCallbacks callbacks,
                                                               ElectionMetrics* metrics);
  ~LeaderElector();

  // Joins the election (on connect). Call once.
  void Start();
  // Leaves the election: stops leading (callback), deletes this replica's
  // znode so that the next contender takes over at once, and calls `done`
  // with the delete's status. The elector does not rejoin.
  void Resign(absl::AnyInvocable<void(absl::Status) &&> done);

  // Stops leading because the owner must not act as leader any more (e.g.
  // Mesos handed the framework to another scheduler): deletes this replica's
  // znode and rejoins at the back of the queue after `rejoin_delay`, so
  // another replica takes over. A no-op when not leading.
  void Abdicate(absl::string_view reason, absl::Duration rejoin_delay);

  std::shared_ptr<const ElectionSnapshot> snapshot() const;
  // Loop thread: true while this replica may act as leader now.
  bool IsActingLeader() const;
  // Loop thread: the current term while leading.
  std::optional<LeaderTerm> current_term() const;

 private:
  enum class Role {
    kIdle,       // not started yet
    kCandidate,  // in the election queue, not (or no longer) leading
    kLeader,     // leading (may be paused, see paused_)
    kResigned,   // resigned for good; nothing follows
  };

  LeaderElector(LeaderElectorConfig config, ZkClient& zk, EventLoop& loop,
                LeaderCallbacks callbacks, ElectionMetrics* metrics);

  void OnSessionEvent(const ZkSessionEvent& event);
  void EnsureElectionPath(size_t depth);
  void CreateOwnNode();
  void FindOwnNodeThenCreate();
  void CheckPosition();
  void OnChildren(std::vector<std::string> children, absl::Time sent_at);
  void WatchLeader(const std::string& node);
  void WatchPredecessor(const std::string& node);
  void BecomeLeader(absl::Time confirmed_at);
  void PublishLeadingSince();
  void RenewLease();
  void ExtendLease(absl::Time sent_at);
  void ArmLeaseTimer();
  void OnLeaseTimer();
  void SetPaused(bool paused, absl::string_view reason);
  void StepDown(absl::string_view reason);
  void AbandonOwnNode(absl::string_view reason, absl::Duration rejoin_delay = absl::ZeroDuration());
  void SetObservedLeader(std::optional<LeaderInfo> leader);
  void RetryLater(absl::string_view what, const absl::Status& status,
                  absl::AnyInvocable<void()> retry);
  void Publish();
  std::string OwnRecordJson(absl::Time leading_since) const;
  // A callback guard: the completion is stale if the epoch moved on.
  bool Current(uint64_t epoch) const { return epoch == epoch_ && role_ != Role::kResigned; }

  const LeaderElectorConfig config_;
  ZkClient& zk_;
  EventLoop& loop_;
  Clock& clock_;
  LeaderCallbacks callbacks_;
  ElectionMetrics* metrics_;
  const std::string node_prefix_;  // "n_<random>-": finds our znode after a lost create reply
  WeakCallbacks weak_callbacks_;

  // Loop thread only.
  Role role_ = Role::kIdle;
  uint64_t epoch_ = 0;  // bumped on every session change, step-down and resign
  ZkSessionState zk_state_ = ZkSessionState::kConnecting;
  uint64_t session_generation_ = 0;
  absl::Duration session_timeout_ = absl::Seconds(10);
  std::string own_node_;  // full path; empty when we have none
  uint64_t own_czxid_ = 0;
  uint64_t own_node_generation_ = 0;
  bool own_node_abandoned_ = false;  // lease lost: replace it on reconnect
  bool paused_ = false;
  LeaderTerm term_;
  absl::Time lease_expiry_ = absl::InfinitePast();
  EventLoop::TimerId lease_timer_ = 0;
  EventLoop::TimerId renew_timer_ = 0;
  EventLoop::TimerId retry_timer_ = 0;
  std::string watched_leader_node_;
  std::string watched_predecessor_;
  std::optional<LeaderInfo> leader_;
  Backoff retry_backoff_;
  absl::BitGen bitgen_;

  mutable absl::Mutex snapshot_mu_;
  std::shared_ptr<const ElectionSnapshot> snapshot_ ABSL_GUARDED_BY(snapshot_mu_);
};

using LeaderElectorPtr = std::unique_ptr<LeaderElector>;

}  // namespace mast
