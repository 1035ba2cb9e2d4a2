#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/event_loop.h"
#include "common/weak_callback.h"
#include "zk/zk_client.h"

typedef struct _zhandle zhandle_t;
struct ACL_vector;

namespace mast {

struct ZkSessionConfig {
  // Comma-separated host:port list, optionally followed by a chroot path
  // ("zk1:2181,zk2:2181/mast"). Required.
  std::string hosts;
  // Requested session timeout; the server clamps it to its own
  // [2, 20] x tickTime range. Must be in [100ms, 1h]. Default 10s.
  absl::Duration session_timeout = absl::Seconds(10);
  // "user:password" for ZooKeeper digest authentication, or empty. When set,
  // znodes this session creates get the creator-only ACL (CREATOR_ALL).
  std::string digest_auth;
  // Delay between attempts to open a new session when the client library
  // refuses (unresolvable hosts, failed authentication).
  BackoffConfig reopen_backoff = {absl::Milliseconds(200), absl::Seconds(30), 2.0, 0.5};
};

absl::Status ValidateZkSessionConfig(const ZkSessionConfig& config);

// A ZooKeeper session over the C client (libzookeeper-mt), with a new session
// opened automatically after expiry.
//
// Threads: the C client's I/O and completion threads never run Mast code;
// they only post to `loop`. Every ZkClient call, result callback, watcher and
// session listener runs on `loop`. The session must be destroyed on `loop`'s
// thread, or after the loop has stopped; `loop` must outlive it.
//
// On disconnect the state becomes kSuspended and the C client reconnects on
// its own; if the server reports the session expired, the handle is closed,
// kExpired is reported, and a new session is opened at once (kConnecting,
// then kConnected with a new session id and generation). While no server
// answers, a warning is logged every session timeout.
//
// Process setup: the C client's log level is process-wide, so the session
// leaves it alone; a program may set it in main() before creating one (mastd
// calls zoo_set_debug_level(ZOO_LOG_LEVEL_WARN): the INFO lines, one per
// connect attempt, say nothing our own events do not).
class ZkSession final : public ZkClient {
 public:
  static absl::StatusOr<std::unique_ptr<ZkSession>> Create(ZkSessionConfig config, EventLoop& loop);
  ~ZkSession() override;

  void Create(const std::string& path, std::string data, ZkCreateMode mode,
              ZkCallback<absl::StatusOr<ZkCreated>> done) override;
  void Delete(const std::string& path, int32_t version, ZkCallback<absl::Status> done) override;
  void Exists(const std::string& path, ZkWatcher watcher,
              ZkCallback<absl::StatusOr<std::optional<ZkStat>>> done) override;
  void Get(const std::string& path, ZkWatcher watcher,
           ZkCallback<absl::StatusOr<ZkNode>> done) override;
  void GetChildren(const std::string& path, ZkWatcher watcher,
                   ZkCallback<absl::StatusOr<std::vector<std::string>>> done) override;
  void Set(const std::string& path, std::string data, int32_t version,
           ZkCallback<absl::StatusOr<ZkStat>> done) override;
  void Multi(std::vector<ZkOp> ops,
             ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done) override;
  void AddSessionListener(ZkSessionListener listener) override;

  // The ACL of `path` (not part of ZkClient: only the start-up ACL check
  // reads ACLs). Same threading and error mapping as the ZkClient calls.
  void GetAcl(const std::string& path, ZkCallback<absl::StatusOr<std::vector<ZkAclEntry>>> done);

  // Ends the session: the server deletes its ephemeral znodes at once. No
  // new session follows. Blocks for at most about one round trip. Idempotent.
  void Close();

  ZkSessionState state() const { return state_; }
  ZkSessionEvent CurrentEvent() const;

  // The session's id and password, for tests that make the server expire it
  // (by opening and closing a second handle on the same session).
  struct Credentials {
    int64_t session_id;
    std::string password;
  };
  std::optional<Credentials> credentials() const;

  // Public only so the C callbacks in the .cc can name it.
  struct HandleContext;

 private:
  struct WatchEntry {
    uint64_t generation;
    ZkWatcher watcher;
  };

  ZkSession(ZkSessionConfig config, EventLoop& loop);

  void OpenHandle();
  void CloseHandle();
  void OnSessionStateChange(uint64_t generation, int zk_state);
  void SetState(ZkSessionState state);
  void ArmUnreachableWarning();
  void ScheduleReopen(absl::string_view reason);
  uint64_t AddWatcher(ZkWatcher watcher);
  void FireWatcher(uint64_t generation, uint64_t watch_id, ZkWatchEvent event);
  void ForgetWatcher(uint64_t watch_id);
  const ACL_vector* Acl() const;
  friend struct ZkSessionCallbacks;

  const ZkSessionConfig config_;
  EventLoop& loop_;
  // Posted work runs only while the session lives (bound on the loop; the
  // C client's threads only post it: see ZkRunIfAlive).
  WeakCallbacks callbacks_;

  // Loop thread only.
  zhandle_t* handle_ = nullptr;
  HandleContext* handle_context_ = nullptr;
  uint64_t generation_ = 0;
  ZkSessionState state_ = ZkSessionState::kConnecting;
  int64_t session_id_ = 0;
  absl::Duration negotiated_timeout_ = absl::ZeroDuration();
  absl::Time disconnected_since_;
  bool closed_ = false;
  uint64_t next_watch_id_ = 1;
  absl::flat_hash_map<uint64_t, WatchEntry> watchers_;
  std::vector<ZkSessionListener> listeners_;
  EventLoop::TimerId unreachable_timer_ = 0;
  EventLoop::TimerId reopen_timer_ = 0;
  Backoff reopen_backoff_;
  absl::BitGen bitgen_;
};

}  // namespace mast
