#include "election/leader_elector.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"
#include "mast/v1/records.pb.h"
#include "zk/zk_status.h"

namespace mast {
namespace {

constexpr size_t kSequenceDigits = 10;  // ZooKeeper's %010d sequence suffix

// The sequence number of a contender's znode name, or nullopt for a name
// that is not ours to compare (a stray znode someone else created).
std::optional<int64_t> SequenceOf(absl::string_view name) {
  if (!absl::StartsWith(name, "n_") || name.size() < 2 + kSequenceDigits) return std::nullopt;
  absl::string_view digits = name.substr(name.size() - kSequenceDigits);
  int64_t seq = 0;
  for (char c : digits) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  }
  if (!absl::SimpleAtoi(digits, &seq)) return std::nullopt;
  return seq;
}

std::string Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

double UnixSeconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

}  // namespace

absl::StatusOr<std::unique_ptr<LeaderElector>> LeaderElector::Create(LeaderElectorConfig config,
                                                                     ZkClient& zk, EventLoop& loop,
                                                                     LeaderCallbacks callbacks,
                                                                     ElectionMetrics* metrics) {
  absl::Status path_status = ValidateZkPath(config.election_path);
  if (!path_status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("election_path: ", path_status.message()));
  }
  if (config.election_path == "/") {
    return absl::InvalidArgumentError("election_path: must not be the root");
  }
  if (config.replica_id.empty() || config.replica_id.size() > 256) {
    return absl::InvalidArgumentError("replica_id: must be 1 to 256 bytes");
  }
  for (unsigned char c : config.replica_id) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("replica_id: control characters are not allowed");
    }
  }
  if (config.advertise_address.empty()) {
    return absl::InvalidArgumentError("advertise_address: must not be empty");
  }
  absl::Status backoff = ValidateBackoffConfig(config.retry_backoff);
  if (!backoff.ok()) return absl::InvalidArgumentError(absl::StrCat("retry_", backoff.message()));
  return std::unique_ptr<LeaderElector>(
      new LeaderElector(std::move(config), zk, loop, std::move(callbacks), metrics));
}

LeaderElector::LeaderElector(LeaderElectorConfig config, ZkClient& zk, EventLoop& loop,
                             LeaderCallbacks callbacks, ElectionMetrics* metrics)
    : config_(std::move(config)),
      zk_(zk),
      loop_(loop),
      clock_(loop.clock()),
      callbacks_(std::move(callbacks)),
      metrics_(metrics),
      node_prefix_(absl::StrCat(
          "n_", absl::Hex(absl::Uniform<uint64_t>(absl::BitGen()), absl::kZeroPad16), "-")),
      retry_backoff_(config_.retry_backoff) {
  Publish();
}

LeaderElector::~LeaderElector() {
  weak_callbacks_.Invalidate();
  loop_.Cancel(lease_timer_);
  loop_.Cancel(renew_timer_);
  loop_.Cancel(retry_timer_);
}

void LeaderElector::Start() {
  if (role_ != Role::kIdle) return;
  role_ = Role::kCandidate;
  zk_.AddSessionListener(
      weak_callbacks_.Bind([this](const ZkSessionEvent& e) { OnSessionEvent(e); }));
}

void LeaderElector::OnSessionEvent(const ZkSessionEvent& event) {
  zk_state_ = event.state;
  if (metrics_ != nullptr) {
    metrics_->zk_connected.Set(event.state == ZkSessionState::kConnected ? 1 : 0);
  }
  switch (event.state) {
    case ZkSessionState::kConnected: {
      if (event.negotiated_timeout > absl::ZeroDuration()) {
        session_timeout_ = event.negotiated_timeout;
      }
      // Completions of calls made before the disconnect failed or are stale.
      ++epoch_;
      watched_leader_node_.clear();
      watched_predecessor_.clear();
      if (role_ == Role::kResigned) break;
      if (event.session_generation != session_generation_) {
        // A new session: whatever znode we had died with the old one.
        session_generation_ = event.session_generation;
        StepDown("new zookeeper session");
        own_node_.clear();
        own_node_abandoned_ = false;
        CreateOwnNode();
      } else if (own_node_abandoned_) {
        AbandonOwnNode("replacing the znode of a lost lease");
      } else if (role_ == Role::kLeader) {
        RenewLease();
      } else if (!own_node_.empty()) {
        CheckPosition();
      } else {
        FindOwnNodeThenCreate();
      }
      break;
    }
    case ZkSessionState::kSuspended:
      if (role_ == Role::kLeader) SetPaused(true, "zookeeper connection suspended");
      break;
    case ZkSessionState::kExpired:
      if (metrics_ != nullptr) metrics_->zk_session_expirations.Increment();
      ++epoch_;
      StepDown("zookeeper session expired");
      own_node_.clear();
      own_node_abandoned_ = false;
      SetObservedLeader(std::nullopt);
      break;
    case ZkSessionState::kClosed:
      ++epoch_;
      StepDown("zookeeper session closed");
      own_node_.clear();
      break;
    case ZkSessionState::kConnecting:
    case ZkSessionState::kAuthFailed:
      break;
  }
  Publish();
}

void LeaderElector::CreateOwnNode() {
  uint64_t epoch = epoch_;
  uint64_t generation = session_generation_;
  zk_.Create(
      absl::StrCat(config_.election_path, "/", node_prefix_), OwnRecordJson(absl::InfinitePast()),
      ZkCreateMode::kEphemeralSequential,
      weak_callbacks_.Bind([this, epoch, generation](absl::StatusOr<ZkCreated> created) {
        if (!Current(epoch)) {
          // Created after we moved on (resigned, or reconnected and looked
          // again): remove it unless it is the one we now hold.
          if (created.ok() && generation == session_generation_ && created->path != own_node_) {
            zk_.Delete(created->path, -1, [](absl::Status) {});
          }
          return;
        }
        if (created.ok()) {
          own_node_ = created->path;
          own_czxid_ = static_cast<uint64_t>(created->stat.czxid);
          own_node_generation_ = generation;
          LogInfo("election_joined", {{"znode", own_node_}, {"czxid", own_czxid_}});
          CheckPosition();
        } else if (absl::IsNotFound(created.status())) {
          EnsureElectionPath(0);
        } else if (absl::IsUnavailable(created.status())) {
          // The create may have happened: look for our prefix before
          // creating another.
          RetryLater("create election znode", created.status(),
                     [this] { FindOwnNodeThenCreate(); });
        } else {
          RetryLater("create election znode", created.status(), [this] { CreateOwnNode(); });
        }
      }));
}

// Creates the ancestors of the election path one by one (depth counts the
// components done), then our znode.
void LeaderElector::EnsureElectionPath(size_t depth) {
  std::vector<std::string> prefixes;
  for (size_t i = 1; i <= config_.election_path.size(); ++i) {
    if (i == config_.election_path.size() || config_.election_path[i] == '/') {
      prefixes.push_back(config_.election_path.substr(0, i));
    }
  }
  if (depth >= prefixes.size()) {
    CreateOwnNode();
    return;
  }
  uint64_t epoch = epoch_;
  zk_.Create(prefixes[depth], "", ZkCreateMode::kPersistent,
             weak_callbacks_.Bind([this, epoch, depth](absl::StatusOr<ZkCreated> created) {
               if (!Current(epoch)) return;
               if (created.ok() || absl::IsAlreadyExists(created.status())) {
                 EnsureElectionPath(depth + 1);
               } else {
                 RetryLater("create election path", created.status(),
                            [this] { EnsureElectionPath(0); });
               }
             }));
}

void LeaderElector::FindOwnNodeThenCreate() {
  uint64_t epoch = epoch_;
  zk_.GetChildren(
      config_.election_path, nullptr,
      weak_callbacks_.Bind([this, epoch](absl::StatusOr<std::vector<std::string>> children) {
        if (!Current(epoch)) return;
        if (!children.ok()) {
          if (absl::IsNotFound(children.status())) return EnsureElectionPath(0);
          return RetryLater("list election znodes", children.status(),
                            [this] { FindOwnNodeThenCreate(); });
        }
        for (const std::string& child : *children) {
          if (!absl::StartsWith(child, node_prefix_)) continue;
          std::string path = absl::StrCat(config_.election_path, "/", child);
          zk_.Exists(
              path, nullptr,
              weak_callbacks_.Bind([this, epoch, path](absl::StatusOr<std::optional<ZkStat>> stat) {
                if (!Current(epoch)) return;
                if (!stat.ok()) {
                  return RetryLater("stat own election znode", stat.status(),
                                    [this] { FindOwnNodeThenCreate(); });
                }
                if (!stat->has_value()) return CreateOwnNode();
                own_node_ = path;
                own_czxid_ = static_cast<uint64_t>((*stat)->czxid);
                own_node_generation_ = session_generation_;
                CheckPosition();
              }));
          return;
        }
        CreateOwnNode();
      }));
}

void LeaderElector::CheckPosition() {
  if (own_node_.empty()) return;
  uint64_t epoch = epoch_;
  absl::Time sent_at = clock_.Now();
  zk_.GetChildren(config_.election_path, nullptr,
                  weak_callbacks_.Bind(
                      [this, epoch, sent_at](absl::StatusOr<std::vector<std::string>> children) {
                        if (!Current(epoch)) return;
                        if (!children.ok()) {
                          if (absl::IsNotFound(children.status())) {
                            // Someone removed the whole election path.
                            StepDown("election path deleted");
                            own_node_.clear();
                            return EnsureElectionPath(0);
                          }
                          return RetryLater("list election znodes", children.status(),
                                            [this] { CheckPosition(); });
                        }
                        retry_backoff_.Reset();
                        OnChildren(std::move(*children), sent_at);
                      }));
}

void LeaderElector::OnChildren(std::vector<std::string> children, absl::Time sent_at) {
  std::vector<std::pair<int64_t, std::string>> contenders;
  contenders.reserve(children.size());
  for (std::string& child : children) {
    std::optional<int64_t> seq = SequenceOf(child);
    if (!seq) {
      if (metrics_ != nullptr) metrics_->corrupt_election_znodes.Increment();
      LogWarning("election_stray_znode", {{"znode", child}, {"msg", "ignored"}});
      continue;
    }
    contenders.emplace_back(*seq, std::move(child));
  }
  std::sort(contenders.begin(), contenders.end());
  const std::string own = Basename(own_node_);
  auto it = std::find_if(contenders.begin(), contenders.end(),
                         [&](const auto& c) { return c.second == own; });
  if (it == contenders.end()) {
    // Our znode is gone though our session lives (deleted by hand?).
    StepDown("own election znode disappeared");
    own_node_.clear();
    ++epoch_;
    CreateOwnNode();
    return;
  }
  if (it == contenders.begin()) {
    if (role_ == Role::kLeader) {
      ExtendLease(sent_at);
    } else {
      BecomeLeader(sent_at);
    }
    return;
  }
  if (role_ == Role::kLeader) {
    // Cannot happen while sequence numbers increase; never lead beside another.
    StepDown("a lower election znode exists");
  }
  const std::string& leader = contenders.front().second;
  const std::string& predecessor = std::prev(it)->second;
  WatchLeader(leader);
  if (predecessor != leader) WatchPredecessor(predecessor);
}

void LeaderElector::WatchLeader(const std::string& node) {
  if (watched_leader_node_ == node) return;
  watched_leader_node_ = node;
  uint64_t epoch = epoch_;
  std::string path = absl::StrCat(config_.election_path, "/", node);
  zk_.Get(path, weak_callbacks_.Bind([this, epoch, node](const ZkWatchEvent& event) {
    if (!Current(epoch) || watched_leader_node_ != node) return;
    watched_leader_node_.clear();
    if (event.type == ZkEventType::kDataChanged) {
      WatchLeader(node);  // the leader published its start time
    } else {
      CheckPosition();
    }
  }),
          weak_callbacks_.Bind([this, epoch, node, path](absl::StatusOr<ZkNode> got) {
            if (!Current(epoch)) return;
            if (!got.ok()) {
              if (watched_leader_node_ == node) watched_leader_node_.clear();
              if (absl::IsNotFound(got.status())) return CheckPosition();
              return RetryLater("read leader znode", got.status(), [this] { CheckPosition(); });
            }
            LeaderInfo info;
            info.znode = path;
            info.fencing_token = static_cast<uint64_t>(got->stat.czxid);
            mast::v1::records::ElectionRecord record;
            google::protobuf::util::JsonParseOptions options;
            options.ignore_unknown_fields = true;
            if (google::protobuf::util::JsonStringToMessage(got->data, &record, options).ok()) {
              info.replica_id = record.replica_id();
              info.address = record.address();
              if (record.leading_since_unix_nanos() > 0) {
                info.since = absl::FromUnixNanos(record.leading_since_unix_nanos());
              }
            } else {
              if (metrics_ != nullptr) metrics_->corrupt_election_znodes.Increment();
              LogWarning("election_corrupt_znode",
                         {{"znode", path}, {"msg", "leader znode data is not an ElectionRecord"}});
            }
            SetObservedLeader(std::move(info));
          }));
}

void LeaderElector::WatchPredecessor(const std::string& node) {
  if (watched_predecessor_ == node) return;
  watched_predecessor_ = node;
  uint64_t epoch = epoch_;
  zk_.Exists(absl::StrCat(config_.election_path, "/", node),
             weak_callbacks_.Bind([this, epoch, node](const ZkWatchEvent&) {
               if (!Current(epoch) || watched_predecessor_ != node) return;
               watched_predecessor_.clear();
               CheckPosition();
             }),
             weak_callbacks_.Bind([this, epoch, node](absl::StatusOr<std::optional<ZkStat>> stat) {
               if (!Current(epoch)) return;
               if (stat.ok() && stat->has_value()) return;  // watching it
               if (watched_predecessor_ == node) watched_predecessor_.clear();
               if (stat.ok()) return CheckPosition();  // gone already
               RetryLater("watch predecessor", stat.status(), [this] { CheckPosition(); });
             }));
}

void LeaderElector::BecomeLeader(absl::Time confirmed_at) {
  role_ = Role::kLeader;
  paused_ = zk_state_ != ZkSessionState::kConnected;
  term_ = LeaderTerm{own_czxid_, own_node_, clock_.Now()};
  lease_expiry_ = confirmed_at + session_timeout_;
  watched_leader_node_.clear();
  watched_predecessor_.clear();
  ArmLeaseTimer();
  loop_.Cancel(renew_timer_);
  renew_timer_ =
      loop_.RunAfter(session_timeout_ / 3, weak_callbacks_.Bind([this]() { RenewLease(); }));
  if (metrics_ != nullptr) {
    metrics_->leader_acquired_timestamp.Set(UnixSeconds(term_.acquired_at));
    metrics_->elections.Increment();
    metrics_->is_leader.Set(paused_ ? 0 : 1);
    metrics_->paused.Set(paused_ ? 1 : 0);
  }
  LogInfo("leader_started", {{"replica_id", config_.replica_id},
                             {"fencing_token", term_.fencing_token},
                             {"znode", term_.znode},
                             {"lease", absl::FormatDuration(lease_expiry_ - clock_.Now())}});
  Publish();
  SetObservedLeader(LeaderInfo{config_.replica_id, config_.advertise_address, term_.fencing_token,
                               term_.acquired_at, term_.znode});
  PublishLeadingSince();
  if (callbacks_.on_started_leading) callbacks_.on_started_leading(term_);
}

void LeaderElector::PublishLeadingSince() {
  // For followers' GetLeader; off the critical path of the handover.
  uint64_t epoch = epoch_;
  zk_.Set(own_node_, OwnRecordJson(term_.acquired_at), -1,
          weak_callbacks_.Bind([this, epoch](absl::StatusOr<ZkStat> stat) {
            if (!Current(epoch) || stat.ok()) return;
            LogWarning("election_publish_failed", {{"error", stat.status().ToString()}});
          }));
}

void LeaderElector::RenewLease() {
  if (role_ != Role::kLeader) return;
  loop_.Cancel(renew_timer_);
  renew_timer_ =
      loop_.RunAfter(session_timeout_ / 3, weak_callbacks_.Bind([this]() { RenewLease(); }));
  uint64_t epoch = epoch_;
  absl::Time sent_at = clock_.Now();
  zk_.Exists(
      own_node_, nullptr,
      weak_callbacks_.Bind([this, epoch, sent_at](absl::StatusOr<std::optional<ZkStat>> stat) {
        if (!Current(epoch) || role_ != Role::kLeader) return;
        if (!stat.ok()) return;  // the lease timer decides
        if (!stat->has_value()) {
          StepDown("own election znode was deleted");
          own_node_.clear();
          ++epoch_;
          CreateOwnNode();
          return;
        }
        ExtendLease(sent_at);
        if (paused_ && zk_state_ == ZkSessionState::kConnected && clock_.Now() < lease_expiry_) {
          SetPaused(false, "zookeeper connection restored");
        }
      }));
}

void LeaderElector::ExtendLease(absl::Time sent_at) {
  absl::Time expiry = sent_at + session_timeout_;
  if (expiry <= lease_expiry_) return;
  lease_expiry_ = expiry;
  ArmLeaseTimer();
  Publish();
}

void LeaderElector::ArmLeaseTimer() {
  loop_.Cancel(lease_timer_);
  lease_timer_ = loop_.RunAt(lease_expiry_, weak_callbacks_.Bind([this]() { OnLeaseTimer(); }));
}

void LeaderElector::OnLeaseTimer() {
  if (role_ != Role::kLeader || clock_.Now() < lease_expiry_) return;
  AbandonOwnNode("lease expired: no confirmed zookeeper contact within the session timeout");
}

void LeaderElector::Abdicate(absl::string_view reason, absl::Duration rejoin_delay) {
  if (role_ != Role::kLeader) return;
  LogWarning("leader_abdicating",
             {{"reason", reason}, {"rejoin_in", absl::FormatDuration(rejoin_delay)}});
  AbandonOwnNode(reason, rejoin_delay);
}

void LeaderElector::AbandonOwnNode(absl::string_view reason, absl::Duration rejoin_delay) {
  StepDown(reason);
  own_node_abandoned_ = true;
  ++epoch_;
  if (zk_state_ != ZkSessionState::kConnected || own_node_.empty()) return;  // on reconnect
  uint64_t epoch = epoch_;
  zk_.Delete(own_node_, -1, weak_callbacks_.Bind([this, epoch, rejoin_delay](absl::Status status) {
    if (!Current(epoch)) return;
    if (!status.ok() && !absl::IsNotFound(status)) {
      return RetryLater("delete abandoned election znode", status,
                        [this, rejoin_delay] { AbandonOwnNode("retry", rejoin_delay); });
    }
    own_node_.clear();
    own_node_abandoned_ = false;
    if (rejoin_delay <= absl::ZeroDuration()) return CreateOwnNode();
    loop_.Cancel(retry_timer_);
    retry_timer_ = loop_.RunAfter(rejoin_delay, weak_callbacks_.Bind([this, epoch]() {
      if (Current(epoch) && own_node_.empty()) CreateOwnNode();
    }));
  }));
}

void LeaderElector::SetPaused(bool paused, absl::string_view reason) {
  if (role_ != Role::kLeader || paused_ == paused) return;
  paused_ = paused;
  if (metrics_ != nullptr) {
    metrics_->paused.Set(paused ? 1 : 0);
    metrics_->is_leader.Set(paused ? 0 : 1);
  }
  Log(paused ? LogLevel::kWarning : LogLevel::kInfo, paused ? "leader_paused" : "leader_resumed",
      {{"fencing_token", term_.fencing_token}, {"reason", reason}});
  Publish();
  if (callbacks_.on_paused_changed) callbacks_.on_paused_changed(paused);
}

void LeaderElector::StepDown(absl::string_view reason) {
  if (role_ != Role::kLeader) return;
  role_ = Role::kCandidate;
  paused_ = false;
  lease_expiry_ = absl::InfinitePast();
  loop_.Cancel(lease_timer_);
  loop_.Cancel(renew_timer_);
  if (metrics_ != nullptr) {
    metrics_->is_leader.Set(0);
    metrics_->paused.Set(0);
  }
  LogWarning("leader_stopped", {{"replica_id", config_.replica_id},
                                {"fencing_token", term_.fencing_token},
                                {"reason", reason}});
  LeaderTerm ended = term_;
  Publish();
  SetObservedLeader(std::nullopt);
  if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading(ended, reason);
}

void LeaderElector::Resign(absl::AnyInvocable<void(absl::Status) &&> done) {
  StepDown("resigned");
  role_ = Role::kResigned;
  ++epoch_;
  loop_.Cancel(retry_timer_);
  std::string node = std::move(own_node_);
  own_node_.clear();
  Publish();
  if (node.empty()) {
    std::move(done)(absl::OkStatus());
    return;
  }
  zk_.Delete(node, -1, [done = std::move(done)](absl::Status status) mutable {
    std::move(done)(absl::IsNotFound(status) ? absl::OkStatus() : status);
  });
}

void LeaderElector::SetObservedLeader(std::optional<LeaderInfo> leader) {
  if (leader_ == leader) return;
  bool same_leadership =
      leader_.has_value() && leader.has_value() && leader_->fencing_token == leader->fencing_token;
  leader_ = std::move(leader);
  Publish();
  if (same_leadership) return;  // only its published details changed
  if (leader_.has_value()) {
    LogInfo("leader_observed", {{"leader_id", leader_->replica_id},
                                {"leader_address", leader_->address},
                                {"fencing_token", leader_->fencing_token}});
  }
  if (callbacks_.on_new_leader) callbacks_.on_new_leader(leader_);
}

void LeaderElector::RetryLater(absl::string_view what, const absl::Status& status,
                               absl::AnyInvocable<void()> retry) {
  // While disconnected, the reconnect (or the new session) restarts the work.
  if (zk_state_ != ZkSessionState::kConnected) return;
  absl::Duration delay = retry_backoff_.Next(bitgen_);
  LogWarning(
      "election_retry",
      {{"what", what}, {"error", status.ToString()}, {"retry_in", absl::FormatDuration(delay)}});
  uint64_t epoch = epoch_;
  loop_.Cancel(retry_timer_);
  retry_timer_ =
      loop_.RunAfter(delay, weak_callbacks_.Bind([this, epoch, retry = std::move(retry)]() mutable {
        if (Current(epoch)) retry();
      }));
}

void LeaderElector::Publish() {
  auto snapshot = std::make_shared<ElectionSnapshot>();
  snapshot->replica_id = config_.replica_id;
  snapshot->leading = role_ == Role::kLeader;
  snapshot->paused = paused_;
  if (snapshot->leading) snapshot->term = term_;
  snapshot->lease_expiry = lease_expiry_;
  snapshot->leader = leader_;
  snapshot->zk_state = zk_state_;
  absl::MutexLock lock(&snapshot_mu_);
  snapshot_ = std::move(snapshot);
}

std::shared_ptr<const ElectionSnapshot> LeaderElector::snapshot() const {
  absl::MutexLock lock(&snapshot_mu_);
  return snapshot_;
}

bool LeaderElector::IsActingLeader() const {
  return role_ == Role::kLeader && !paused_ && clock_.Now() < lease_expiry_;
}

std::optional<LeaderTerm> LeaderElector::current_term() const {
  if (role_ != Role::kLeader) return std::nullopt;
  return term_;
}

std::string LeaderElector::OwnRecordJson(absl::Time leading_since) const {
  mast::v1::records::ElectionRecord record;
  record.set_replica_id(config_.replica_id);
  record.set_address(config_.advertise_address);
  if (leading_since != absl::InfinitePast()) {
    record.set_leading_since_unix_nanos(absl::ToUnixNanos(leading_since));
  }
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(record, &json);
  return json;
}

}  // namespace mast
