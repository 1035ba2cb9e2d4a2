#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/event_loop.h"
#include "common/weak_callback.h"
#include "zk/zk_client.h"

namespace mast::testing {

class FakeZkClient;

// An in-memory ZooKeeper tree shared by FakeZkClients: versions, czxids,
// sequential names (from the parent's cversion, as ZooKeeper does),
// ephemerals owned by sessions, one-shot watches, atomic multi. Thread-safe.
class FakeZkEnsemble {
 public:
  FakeZkEnsemble();

  bool Exists(const std::string& path) const;
  std::vector<std::string> Children(const std::string& path) const;
  std::optional<std::string> Data(const std::string& path) const;
  // Sets data directly, as an operator would (fires watches).
  void SetData(const std::string& path, const std::string& data);
  void Delete(const std::string& path);

 public:
  // The stored form of a znode (public for the .cc's helpers).
  struct Node {
    std::string data;
    ZkStat stat;
    int64_t owner_session = 0;  // ephemeral owner, 0 if persistent
  };

 private:
  friend class FakeZkClient;
  struct Watch {
    FakeZkClient* client;
    uint64_t id;
    bool children;  // a child watch (else data/exists)
  };

  void Fire(const std::string& path, ZkEventType type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FireChildren(const std::string& parent) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveSession(int64_t session, FakeZkClient* client) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static std::string Parent(const std::string& path);

  mutable absl::Mutex mu_;
  std::map<std::string, Node> tree_ ABSL_GUARDED_BY(mu_);
  int64_t zxid_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_session_ ABSL_GUARDED_BY(mu_) = 1;
  std::multimap<std::string, Watch> watches_ ABSL_GUARDED_BY(mu_);
};

// A ZkClient over a FakeZkEnsemble whose connection the test drives:
// Connect() opens a new session, Suspend()/Resume() cut and restore the
// connection of the same session, Expire() ends the session on the
// "server" (its ephemerals go). While suspended, calls fail with
// UNAVAILABLE and watch events wait until Resume().
//
// Seeded faults: FailNext(status, applied) makes the next call fail with
// `status`; with `applied` the call takes effect all the same ("applied but
// reported failed", as a lost reply does).
//
// Callbacks run on `loop`, like ZkSession's. Call the driving methods from
// any thread; they post their session events to the loop.
class FakeZkClient final : public ZkClient {
 public:
  FakeZkClient(FakeZkEnsemble& ensemble, EventLoop& loop);
  ~FakeZkClient() override;

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

  void Connect(absl::Duration negotiated_timeout = absl::Seconds(3));
  void Suspend();
  void Resume();
  void Expire();
  void FailNext(absl::Status status, bool applied = false);

  int64_t session_id() const;
  int calls() const;

 private:
  friend class FakeZkEnsemble;
  struct Fault {
    absl::Status status;
    bool applied;
  };

  // Returns the status the call should report, and whether to apply it.
  std::pair<absl::Status, bool> Admit() ABSL_LOCKS_EXCLUDED(mu_);
  void Emit(ZkSessionState state);
  uint64_t AddWatch(ZkWatcher watcher);
  void DeliverWatch(uint64_t id, ZkWatchEvent event);  // from the ensemble, mu_ of it held
  void PostWatch(uint64_t id, ZkWatchEvent event);     // runs the watcher on the loop

  FakeZkEnsemble& ensemble_;
  EventLoop& loop_;
  WeakCallbacks callbacks_;

  mutable absl::Mutex mu_;
  ZkSessionState state_ ABSL_GUARDED_BY(mu_) = ZkSessionState::kConnecting;
  int64_t session_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration timeout_ ABSL_GUARDED_BY(mu_);
  std::vector<Fault> faults_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_watch_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, ZkWatcher> watchers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint64_t, ZkWatchEvent>> held_events_ ABSL_GUARDED_BY(mu_);
  // Loop thread only.
  std::vector<ZkSessionListener> listeners_;
};

}  // namespace mast::testing
