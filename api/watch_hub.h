#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "election/leader_elector.h"
#include "mast/v1/mast.pb.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "store/state_cache.h"

namespace mast {

// Events are shared, immutable, between the history and every stream.
using WatchEventPtr = std::shared_ptr<const v1::WatchEvent>;

// One stream's view of a WatchHub: what to send next, one event at a time.
// The consumer (a gRPC reactor) calls Next(); when it yields an event, it
// sends it and calls Written() once the write completed; when it yields an
// end status, it finishes the stream with it. When Next() yields nothing,
// the consumer waits: the hub calls the subscription's `wake` once events
// (or an end) arrive.
//
// Order: a stream from version 0 (or from a version older than the hub's
// history) gets the current leader (LEADER, if one was reported; at the
// snapshot's version), every service and task of the
// current snapshot (ADDED, computed lazily from the snapshot, service first,
// then its deployment if it has one, then its tasks, by name), SYNCED, then
// the changes; a resumed stream
// gets the changes after its version from the history, then the live ones.
//
// Bounds: the initial state and the replayed history are not counted;
// changes that arrive while the consumer is behind are queued, at most
// WatchHub::Options::queue_events of them (a consumer with nothing queued
// takes a snapshot's changes whole, however many). More end the stream
// with RESOURCE_EXHAUSTED "watch consumer too slow; resume from version
// N", where N is the last version whose events were all handed to the
// consumer (the queue is dropped at once; the end is yielded when no write
// is in flight).
//
// Threads: every method is thread-safe. `wake` is called by the hub on the
// control loop with no lock held, so it may call Next() and the hub's
// Subscribe / Unsubscribe; it must not block.
// Whether a caller may see a service's events (nullptr: every service).
using ServiceFilter = std::function<bool(absl::string_view service)>;

class WatchSubscription {
 public:
  struct Step {
    WatchEventPtr event;              // send this, then call Written()
    std::optional<absl::Status> end;  // or finish the stream with this (yielded once)
  };

  // The next step, or nullopt while a write is in flight, after the end was
  // yielded, or when nothing is queued (then `wake` will be called).
  std::optional<Step> Next();
  // The event of the last Next() was written (or its write failed).
  void Written();
  // Ends the stream with `status` (e.g. CANCELLED when the client went): the
  // hub stops queueing; Next() yields the end once no write is in flight.
  // A later Cancel keeps the first status.
  void Cancel(absl::Status status);

  // For tests: changes queued now.
  size_t queued() const;

  // Use WatchHub::Subscribe.
  WatchSubscription(std::string prefix, std::function<void()> wake, size_t max_queue,
                    int64_t resumed_through, ServiceFilter may_read = nullptr,
                    ServiceFilter may_audit = nullptr);

 private:
  friend class WatchHub;

  // Whether `event` is for this subscription (service prefix).
  bool Wants(const v1::WatchEvent& event) const;
  // The hub has no readable snapshot yet: SetBase comes with the first.
  void AwaitBase();
  // Starts the stream at `snapshot`: LEADER (when `leader` is set), ADDED
  // of everything under the prefix, SYNCED. Returns whether to wake.
  bool SetBase(std::shared_ptr<const StateSnapshot> snapshot, WatchEventPtr leader);
  // Adds replayed history (not counted against the queue bound).
  void Replay(std::vector<WatchEventPtr> events);
  // Queues the wanted ones of `events`; ends the stream when the bound is
  // passed. Returns whether to wake.
  bool Offer(const std::vector<WatchEventPtr>& events);
  // The next event of the initial state, or nullptr when it is all out.
  WatchEventPtr NextBaseEvent() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves base_name_ past the names the caller may not read; false when
  // none is left under the prefix.
  bool SkipUnreadableBaseNames() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands out the front of `from` (replay or live changes), noting when a
  // version is complete.
  Step Hand(std::deque<WatchEventPtr>& from) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Whether events of `service` may go out: under the prefix, and readable.
  bool Visible(absl::string_view service) const;

  const std::string prefix_;
  const ServiceFilter may_read_;
  const ServiceFilter may_audit_;  // nullptr: no AUDIT events
  const std::function<void()> wake_;
  const size_t max_queue_;
  prometheus::Counter* dropped_ = nullptr;  // set by the hub before use

  mutable absl::Mutex mu_;
  // Waiting for the hub's first readable snapshot (then SetBase).
  bool awaiting_base_ ABSL_GUARDED_BY(mu_) = false;
  // The initial state, read out of `base_` by two cursors (names in order;
  // each service, then its tasks).
  std::shared_ptr<const StateSnapshot> base_ ABSL_GUARDED_BY(mu_);
  std::string base_name_ ABSL_GUARDED_BY(mu_);  // current name, once base_started_
  bool base_started_ ABSL_GUARDED_BY(mu_) = false;
  bool base_service_sent_ ABSL_GUARDED_BY(mu_) = false;
  int base_task_ ABSL_GUARDED_BY(mu_) = 0;
  // The deployment of the service just sent, to send next.
  WatchEventPtr base_deployment_ ABSL_GUARDED_BY(mu_);
  WatchEventPtr base_leader_ ABSL_GUARDED_BY(mu_);  // before the base
  WatchEventPtr synced_ ABSL_GUARDED_BY(mu_);       // after the base
  // Replayed history, instead of a base; not counted.
  std::deque<WatchEventPtr> replay_ ABSL_GUARDED_BY(mu_);
  std::deque<WatchEventPtr> queue_ ABSL_GUARDED_BY(mu_);  // live changes, counted
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool armed_ ABSL_GUARDED_BY(mu_) = false;  // Next() found nothing: wake on arrival
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
  bool end_yielded_ ABSL_GUARDED_BY(mu_) = false;
  // The last version whose events were all handed out (the resume point).
  int64_t complete_through_ ABSL_GUARDED_BY(mu_) = 0;
};

// The source of WatchEvents: it turns the StateCache's snapshots and the
// elector's leader changes into events, keeps a bounded history for
// resuming, and fans them out to subscriptions.
//
// Diffing: consecutive snapshots are compared per service name, by pointer
// first (the cache keeps the record object of an unchanged service) and then
// by content. A service is ADDED, DELETED (carrying its last known state) or
// MODIFIED when its record changes or its status or its deployment's
// progress (ServiceView, computed from the tasks) does; its tasks are
// compared by id. A service's deployment gets an event (with the
// deployment, its progress filled) when it starts (ADDED, a new id) or its
// state or step moves (MODIFIED), just before the service's MODIFIED (just
// after the service's ADDED for a new service). Every event of a snapshot
// carries that snapshot's store_version; a LEADER event carries the version
// of the latest snapshot. A record that became unreadable (listed in
// StateSnapshot::corrupt) is kept as last known, not reported deleted.
// Snapshots are ignored until the first readable one (synced, or with a
// store version), which is the base: it makes no history, and streams from
// before it start from it.
//
// History: the last Options::history_events events, trimmed by the oldest
// first; a stream may resume from any version at or after the newest
// trimmed one (or the base's).
//
// Threads: OnSnapshot and OnLeader are called on the control loop (the
// cache's listener, the elector's on_new_leader); they never block on a
// stream (a subscription's lock is only held to queue, and `wake` runs with
// no lock held). Subscribe, Unsubscribe and subscriptions() may be called
// from any thread. Lock order: the hub's lock, then a subscription's.
// The watch streams' metrics. Thread-safe (prometheus types).
struct WatchMetrics {
  explicit WatchMetrics(prometheus::Registry& registry);

  prometheus::Gauge& streams;    // mast_watch_streams
  prometheus::Counter& dropped;  // mast_watch_consumers_dropped_total (too slow)
};

class WatchHub {
 public:
  struct Options {
    // Events kept for resuming. Default 50,000.
    size_t history_events = 50000;
    // Changes queued per stream before it is ended as too slow. Default
    // 10,000; 0 is taken as 1.
    size_t queue_events = 10000;
  };

  WatchHub() : WatchHub(Options()) {}
  // `metrics` may be null; it must outlive the hub.
  explicit WatchHub(Options options, WatchMetrics* metrics = nullptr);
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Control loop only.
  void OnSnapshot(const std::shared_ptr<const StateSnapshot>& snapshot);
  void OnLeader(v1::GetLeaderResponse leader);
  // An audited write: an AUDIT event (at the current store version) for the
  // streams that asked for them and may see its service. Not kept in the
  // history.
  void OnAudit(v1::AuditEvent audit);

  // A new stream for `request`; INVALID_ARGUMENT for a negative
  // from_version. `wake` is called on the loop, with no lock held, when an
  // idle subscription gets something (so it may call back into the hub).
  // `may_read` (called under the hub's and the subscription's locks: it
  // must not call back) hides the services the caller may not read.
  // `may_audit` (same rules; nullptr: none) admits the AUDIT events of a
  // service.
  absl::StatusOr<std::shared_ptr<WatchSubscription>> Subscribe(
      const v1::WatchEventsRequest& request, std::function<void()> wake,
      ServiceFilter may_read = nullptr, ServiceFilter may_audit = nullptr);
  // Stops feeding `subscription` (when its stream is done).
  void Unsubscribe(const std::shared_ptr<WatchSubscription>& subscription);
  size_t subscriptions() const;

 private:
  // Events from the hub's last known state to `snapshot` (which becomes
  // the last known state), stamped with its store_version.
  std::vector<WatchEventPtr> Diff(const StateSnapshot& snapshot);
  // The same for one service name, appended to `events`.
  void DiffOne(const std::string& name, const StateSnapshot& snapshot,
               std::vector<WatchEventPtr>& events);
  // In one critical section (so that a stream subscribing meanwhile starts
  // either before these events, and gets them, or after): makes `snapshot`
  // current and `leader` the leader (each when not null), appends `events`
  // to the history and offers them to every subscription. Wakes after
  // unlocking.
  void Publish(std::vector<WatchEventPtr> events, std::shared_ptr<const StateSnapshot> snapshot,
               WatchEventPtr leader, bool keep_in_history = true);

  const Options options_;
  WatchMetrics* const metrics_;

  // Loop thread only: the last known state, per service name.
  std::map<std::string, std::shared_ptr<const StoredService>> services_;
  std::map<std::string, std::shared_ptr<const mast::v1::records::TaskRecords>> tasks_;
  bool have_base_ = false;

  mutable absl::Mutex mu_;
  std::shared_ptr<const StateSnapshot> current_ ABSL_GUARDED_BY(mu_);  // null before the base
  WatchEventPtr leader_ ABSL_GUARDED_BY(mu_);                          // null: none reported
  std::deque<WatchEventPtr> history_ ABSL_GUARDED_BY(mu_);
  int64_t history_floor_ ABSL_GUARDED_BY(mu_) = 0;  // resume from >= this
  std::vector<std::shared_ptr<WatchSubscription>> subscriptions_ ABSL_GUARDED_BY(mu_);
};

// The LEADER event's payload for the elector's on_new_leader: `leader` as
// this replica (`replica_id`) sees it (is_leader when it is this replica).
v1::GetLeaderResponse LeaderResponseFrom(const std::optional<LeaderInfo>& leader,
                                         absl::string_view replica_id);

using WatchHubPtr = std::unique_ptr<WatchHub>;

}  // namespace mast
