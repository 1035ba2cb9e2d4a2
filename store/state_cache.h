#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "common/backoff.h"
#include "common/event_loop.h"
#include "common/weak_callback.h"
#include "mast/v1/records.pb.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "store/service_store.h"
#include "zk/zk_client.h"

namespace mast {

// The state cache's metrics, listed once. Updated on the loop only.
struct StateCacheMetrics {
  explicit StateCacheMetrics(prometheus::Registry& registry);

  prometheus::Counter& corrupt_records;  // mast_store_corrupt_records_total
  prometheus::Counter& resyncs;          // mast_store_cache_resyncs_total
  prometheus::Gauge& store_version;      // mast_store_cache_version
  // mast_deployments_active{state}: deployments RUNNING, PAUSED or
  // ROLLING_BACK in the cache; mast_deployment_oldest_update_timestamp_seconds:
  // the last transition of the one that moved least recently (0: none), so
  // that an alert sees a deployment stuck without reading the API.
  prometheus::Gauge& deployments_running;
  prometheus::Gauge& deployments_paused;
  prometheus::Gauge& deployments_rolling_back;
  prometheus::Gauge& deployment_oldest_update;

  void CountDeployments(
      const std::map<std::string, std::shared_ptr<const StoredService>>& services);
};

// A znode whose data could not be read as its record; left out of the
// snapshot (the other records are unaffected).
struct CorruptRecord {
  std::string znode;  // full path
  std::string error;
  bool operator==(const CorruptRecord& other) const = default;
};

// One immutable view of the stored services. Shared between threads; never
// changed after publication.
struct StateSnapshot {
  // The highest ZooKeeper zxid this view reflects (the mzxid of records and
  // of `state/services`, which every delete touches). Grows with every change
  // the cache sees; 0 before anything was read.
  int64_t store_version = 0;
  // A full load completed in the current ZooKeeper session and every watch
  // is in place. False at first, after a session expiry until the reload,
  // and while a failed read waits to be retried. A view that is not synced
  // is the last one known and may be stale.
  bool synced = false;
  // By service name (unescaped).
  std::map<std::string, std::shared_ptr<const StoredService>> services;
  std::map<std::string, std::shared_ptr<const mast::v1::records::TaskRecords>> tasks;
  // Sorted by znode. A service whose record is here is missing from
  // `services`: callers must treat it as unknown, not as deleted (e.g. never
  // kill its tasks for being unknown).
  std::vector<CorruptRecord> corrupt;
};

// The read copy of the service state that every replica keeps (layout:
// StatePaths). It loads every service record and task record, then follows
// changes with a children watch on `services/` and `tasks/` and a data
// watch per record (task shards are read with their head, unwatched: a new
// generation always rewrites the head), so watches grow with services.
//
// Sessions: watches survive a suspension; after a new session (the old one
// expired) the cache reloads everything, dropping records that went
// meanwhile. A failed read is retried by a full reload after a jittered
// backoff. While reloading, readers keep the last snapshot (synced = false).
//
// Corrupt data never stops the cache: an unparsable record is logged
// (event=store_corrupt_record), counted, listed in the snapshot and skipped.
//
// Threads: constructed, started and destroyed on `loop` (or after it
// stopped); snapshot() may be called from any thread. `zk` and `loop` must
// outlive the cache; `metrics` may be null.
class StateCache {
 public:
  StateCache(ZkClient& zk, EventLoop& loop, std::string zk_root, StateCacheMetrics* metrics,
             BackoffConfig retry_backoff = {absl::Milliseconds(100), absl::Seconds(10), 2.0, 0.5});
  ~StateCache();
  StateCache(const StateCache&) = delete;
  StateCache& operator=(const StateCache&) = delete;

  // Starts following the store (at once if connected, else on connection).
  void Start();

  // Listings of a directory that follow its children watch are at least this
  // far apart: a burst of creations among thousands of services costs one
  // listing, not one each. The change is known meanwhile (WhenSettled waits
  // for it). Default 0: at once. Call before Start.
  void set_min_relist_interval(absl::Duration interval) { min_relist_interval_ = interval; }

  std::shared_ptr<const StateSnapshot> snapshot() const;

  // Called on the loop with every snapshot published from now on (after a
  // batch of reads settles, so a burst of changes may come as one). Must not
  // destroy the cache. Call on the loop.
  using Listener = std::function<void(const std::shared_ptr<const StateSnapshot>&)>;
  void AddListener(Listener listener) { listeners_.push_back(std::move(listener)); }

  // Calls `done` on the loop with the first snapshot that is synced and has
  // no read in flight: every change whose watch fired before this call is
  // in it. A new leader waits for this before it takes the task records as
  // its own (the old leader's last writes were announced by watches before
  // the new leadership could be observed). Call on the loop.
  void WhenSettled(absl::AnyInvocable<void(std::shared_ptr<const StateSnapshot>) &&> done);

 private:
  enum class Dir { kServices, kTasks };

  void OnSessionEvent(const ZkSessionEvent& event);
  void Resync();
  void ListDir(Dir dir);
  // A children watch fired: list again, at once or after min_relist_interval_.
  void Relist(Dir dir);
  void OnChildren(Dir dir, std::vector<std::string> children);
  void WatchDirCreation(Dir dir);
  void ReadDirVersion();
  void ReadService(const std::string& name);
  void ReadTasks(const std::string& name);
  void ReportCorrupt(const std::string& znode, const std::string& error);
  void ClearCorrupt(const std::string& znode);
  void SeenZxid(int64_t zxid);
  void RetryLater(absl::string_view what, const absl::Status& status);
  // A read finished: publish once none is outstanding.
  void Done();
  void Publish();
  std::string DirPath(Dir dir) const;
  bool Current(uint64_t epoch) const { return epoch == epoch_; }

  ZkClient& zk_;
  EventLoop& loop_;
  const StatePaths paths_;
  StateCacheMetrics* metrics_;
  Backoff retry_backoff_;
  absl::BitGen bitgen_;
  WeakCallbacks callbacks_;

  // Loop thread only.
  uint64_t epoch_ = 0;  // bumped by every reload: older completions are dropped
  uint64_t session_generation_ = 0;
  bool connected_ = false;
  bool loaded_ = false;  // the reload of this epoch finished
  int outstanding_ = 0;  // reads of this epoch in flight
  EventLoop::TimerId retry_timer_ = 0;
  int64_t max_zxid_ = 0;
  std::map<std::string, std::shared_ptr<const StoredService>> services_;
  std::map<std::string, std::shared_ptr<const mast::v1::records::TaskRecords>> tasks_;
  std::map<std::string, std::string> corrupt_;  // znode -> error
  std::set<std::string> watched_services_;      // data watch armed in this epoch
  std::set<std::string> watched_tasks_;
  std::vector<Listener> listeners_;
  absl::Duration min_relist_interval_ = absl::ZeroDuration();
  absl::Time last_list_[2] = {absl::InfinitePast(), absl::InfinitePast()};  // by Dir
  std::vector<absl::AnyInvocable<void(std::shared_ptr<const StateSnapshot>) &&>> settled_waiters_;

  mutable absl::Mutex snapshot_mu_;
  std::shared_ptr<const StateSnapshot> snapshot_ ABSL_GUARDED_BY(snapshot_mu_);
};

using StateCachePtr = std::unique_ptr<StateCache>;

}  // namespace mast
