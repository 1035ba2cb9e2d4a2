#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mast {

enum class ZkCreateMode { kPersistent, kEphemeral, kPersistentSequential, kEphemeralSequential };

struct ZkStat {
  int64_t czxid = 0;  // zxid of the create; strictly increases across creates
  int64_t mzxid = 0;
  int64_t ctime_ms = 0;
  int64_t mtime_ms = 0;
  int32_t version = 0;   // data version
  int32_t cversion = 0;  // children version
  int64_t ephemeral_owner = 0;
  int32_t data_length = 0;
  int32_t num_children = 0;
};

struct ZkNode {
  std::string data;
  ZkStat stat;
};

struct ZkCreated {
  std::string path;  // with the sequence suffix for sequential modes
  ZkStat stat;
};

enum class ZkEventType { kCreated, kDeleted, kDataChanged, kChildrenChanged, kNotWatching };
std::ostream& operator<<(std::ostream& os, ZkEventType type);

struct ZkWatchEvent {
  ZkEventType type;
  std::string path;
};

// Connection state of a session, as its owner sees it.
enum class ZkSessionState {
  // No session yet (first connect, or a new one after expiry).
  kConnecting,
  // The session is live and the server answers.
  kConnected,
  // The connection was lost; the same session may come back if the client
  // reconnects within the session timeout.
  kSuspended,
  // The server ended the session: its ephemeral znodes and watches are gone.
  // A new session follows (kConnecting).
  kExpired,
  // The server refused the credentials; a new session is tried.
  kAuthFailed,
  // Closed by its owner; nothing follows.
  kClosed,
};
// Prints ZkSessionStateName(state) ("connecting", "connected", ...).
std::ostream& operator<<(std::ostream& os, ZkSessionState state);
// The lower-case name the logs and status pages use.
const char* ZkSessionStateName(ZkSessionState state);

struct ZkSessionEvent {
  ZkSessionState state;
  int64_t session_id = 0;  // 0 when there is no session
  // Timeout the server granted (valid once connected).
  absl::Duration negotiated_timeout = absl::ZeroDuration();
  // Increases with every new session (not on a reconnect of the same one).
  uint64_t session_generation = 0;
};

// One operation of an atomic Multi().
struct ZkOp {
  enum class Type { kCheck, kCreate, kSet, kDelete };
  static ZkOp Check(std::string path, int32_t version) {
    return {Type::kCheck, std::move(path), {}, version, ZkCreateMode::kPersistent};
  }
  static ZkOp Create(std::string path, std::string data, ZkCreateMode mode) {
    return {Type::kCreate, std::move(path), std::move(data), -1, mode};
  }
  static ZkOp Set(std::string path, std::string data, int32_t version) {
    return {Type::kSet, std::move(path), std::move(data), version, ZkCreateMode::kPersistent};
  }
  static ZkOp Delete(std::string path, int32_t version) {
    return {Type::kDelete, std::move(path), {}, version, ZkCreateMode::kPersistent};
  }
  Type type;
  std::string path;
  std::string data;
  int32_t version;  // -1: any version
  ZkCreateMode mode;
};

struct ZkOpResult {
  std::string created_path;  // kCreate
  ZkStat stat;               // kSet
};

// One entry of a znode's ACL, as ZooKeeper reports it: ("world", "anyone"),
// ("digest", "user:base64(sha1)"), ("ip", "10.0.0.0/8")...
struct ZkAclEntry {
  std::string scheme;
  std::string id;
  int32_t perms = 0;  // ZOO_PERM_* bits
};

// Result callbacks run exactly once. Watchers are one-shot.
template <typename T>
using ZkCallback = absl::AnyInvocable<void(T) &&>;
using ZkWatcher = absl::AnyInvocable<void(const ZkWatchEvent&) &&>;
using ZkSessionListener = absl::AnyInvocable<void(const ZkSessionEvent&)>;

// The narrow view of a ZooKeeper session that election and store code uses.
//
// Contract:
// - Every method is called on the owner's event loop thread, and every result
//   callback, watcher and session listener runs there too, never on a
//   ZooKeeper thread and never under a lock of the client.
// - Errors are mapped by ZkErrorToStatus (zk_status.h): UNAVAILABLE for a
//   lost connection or an expired session (retry), ABORTED for a version
//   mismatch (redo the read-modify-write), NOT_FOUND, ALREADY_EXISTS, ...
// - A watcher set in a session that expires is never called: the owner learns
//   of it from kExpired and sets its watches again. Watches survive a
//   suspension that ends with kConnected on the same session.
// - After the client is destroyed, no callback of it runs.
class ZkClient {
 public:
  virtual ~ZkClient() = default;

  virtual void Create(const std::string& path, std::string data, ZkCreateMode mode,
                      ZkCallback<absl::StatusOr<ZkCreated>> done) = 0;
  // `version` -1 deletes whatever the version.
  virtual void Delete(const std::string& path, int32_t version, ZkCallback<absl::Status> done) = 0;
  // nullopt when the node does not exist. `watcher` may be null.
  virtual void Exists(const std::string& path, ZkWatcher watcher,
                      ZkCallback<absl::StatusOr<std::optional<ZkStat>>> done) = 0;
  virtual void Get(const std::string& path, ZkWatcher watcher,
                   ZkCallback<absl::StatusOr<ZkNode>> done) = 0;
  virtual void GetChildren(const std::string& path, ZkWatcher watcher,
                           ZkCallback<absl::StatusOr<std::vector<std::string>>> done) = 0;
  virtual void Set(const std::string& path, std::string data, int32_t version,
                   ZkCallback<absl::StatusOr<ZkStat>> done) = 0;
  // All or nothing. On failure the status names the index of the op that failed.
  virtual void Multi(std::vector<ZkOp> ops,
                     ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done) = 0;
  // Listeners see every state change, starting with the current state.
  virtual void AddSessionListener(ZkSessionListener listener) = 0;
};

using ZkClientPtr = std::unique_ptr<ZkClient>;

}  // namespace mast
