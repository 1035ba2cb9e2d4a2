#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/weak_callback.h"
#include "election/leader_term.h"
#include "mast/v1/records.pb.h"
#include "mast/v1/service.pb.h"
#include "mesos/v1/mesos.pb.h"
#include "scheduler/control/scheduler_metrics.h"
#include "store/service_store.h"
#include "store/state_cache.h"

namespace mast {

// One service as the leader's task book keeps it.
struct BookedService {
  std::shared_ptr<const StoredService> stored;
  std::map<std::string, v1::Task> tasks;   // by id; never terminal ones
  mast::v1::records::TaskRecords history;  // failure fields only (no tasks)
  bool adopt_unknown = false;              // its stored task record was corrupt
  int to_launch = 0;                       // from the last plan

  const v1::Service& service() const { return stored->record.service(); }
  bool deleting() const { return service().deleting(); }
  // Failed recently: no launch before history.backoff_until.
  bool BackingOff(absl::Time now) const;
  // Tasks to launch at `now`: to_launch unless deleting or backing off.
  int Launchable(absl::Time now) const;
};

// Applies a non-terminal status update to `task` (state, agent, health,
// ready, started, unreachable_since; message, reason and updated when
// anything changed). `ready` latches: set by the first update whose
// check_status passed (CheckStatusPassed), never cleared. Pure.
struct TaskChange {
  bool changed = false;
  bool became_unreachable = false;  // unreachable_since was set now
  bool health_changed = false;      // `healthy` was reported and differs
  bool became_unhealthy = false;    // unhealthy_since was set now
  bool became_ready = false;        // `ready` was set now (its check passed)
};
TaskChange ApplyStatus(const ::mesos::v1::TaskStatus& status, absl::Time now, v1::Task& task);

// Whether a check's result (TaskStatus.check_status, as the command executor
// reports TaskInfo.check) is a pass: HTTP status_code 2xx, TCP succeeded,
// COMMAND exit_code 0. A result not yet known (the empty check_status of a
// task just launched, a probe that timed out) is no pass.
bool CheckStatusPassed(const ::mesos::v1::CheckStatusInfo& status);

// The most entries TaskRecords.failed_by_task_version keeps: beyond it the
// smallest (oldest) task versions are dropped. A deployment only judges its
// new version, always the largest.
inline constexpr int kMaxFailedVersions = 16;

// How often an unchanged PlacementStatus is written again (its counts and
// offers move every round; its reasons rarely do).
inline constexpr absl::Duration kPlacementRewrite = absl::Seconds(30);

// What the book tells its owner. Each runs on the loop, from inside a book
// method or a store completion; none may destroy the book except
// `step_down`, which must only post (the book returns right after it).
struct TaskBookHooks {
  // A fenced write was refused: this replica is no longer the leader.
  std::function<void(absl::string_view reason)> step_down;
  // Plan `service` again at `when` (a relaunch backoff ends, an unreachable
  // task's grace runs out, a failed removal is retried).
  std::function<void(const std::string& service, absl::Time when)> replan_at;
  // The records of a deleting `service` became durable: plan it now (its
  // removal may proceed).
  std::function<void(const std::string& service)> replan;
  // `task_id` left the book (ended, expunged, a launch given up).
  std::function<void(const std::string& task_id)> task_dropped;
};

// The leader's task records for one leadership term: every service it
// schedules, their non-terminal tasks (by service and by task ID), failure
// history, and the durable-write pipeline that makes each change a fenced
// store write before anything that depends on it happens.
//
// Writes: changes are counted per service (MarkChanged); a change made in
// one turn of the loop goes into one write of the service's task records,
// one write in flight per service, changes made meanwhile go into the next.
// WhenDurable(done) runs `done` once every change made so far is written.
// A failed write is retried with backoff; waiters that hold offers
// (fail_fast) are failed at once, the others wait for the retry. A write
// refused by the fence (FAILED_PRECONDITION) means this leader is deposed:
// step_down, and nothing more is written.
//
// Lifetime: one book per term (built when the term's state is loaded,
// destroyed when the term ends); completions of its store writes and timers
// are dropped once it is gone. Threads: the control loop only. `store`,
// `loop`, `clock` and `metrics` outlive it.
class TaskBook {
 public:
  struct Config {
    BackoffConfig write_retry;
    // A task that ran at least this long before failing resets the relaunch
    // backoff.
    absl::Duration stable_run;
    absl::Duration unreachable_grace;
  };

  TaskBook(Config config, ServiceStore& store, LeaderTerm term, EventLoop& loop, Clock& clock,
           SchedulerMetrics* metrics, TaskBookHooks hooks);
  ~TaskBook();
  TaskBook(const TaskBook&) = delete;
  TaskBook& operator=(const TaskBook&) = delete;

  // Takes the services and the non-terminal task records of `snapshot`
  // (services whose task record is corrupt adopt unknown tasks). Returns the
  // number of tasks taken.
  size_t Load(const StateSnapshot& snapshot);

  const LeaderTerm& term() const { return term_; }
  const StatePaths& paths() const { return store_.paths(); }

  // Services.
  BookedService* Find(const std::string& name);
  // Adds `name` (or replaces the stored record of a known one).
  BookedService& Add(const std::string& name, std::shared_ptr<const StoredService> stored);
  void ForEach(absl::FunctionRef<void(const std::string& name, BookedService& service)> fn);
  std::vector<std::string> Names() const;
  size_t size() const { return entries_.size(); }
  bool removing(const std::string& name) const;

  // Tasks.
  struct TaskRef {
    const std::string* service_name = nullptr;
    BookedService* service = nullptr;
    v1::Task* task = nullptr;
    explicit operator bool() const { return task != nullptr; }
  };
  TaskRef FindTask(const std::string& task_id);
  bool HasTask(const std::string& task_id) const { return task_service_.contains(task_id); }
  size_t task_count() const { return task_service_.size(); }
  void AddTask(const std::string& service, v1::Task task);
  // Removes the task (TaskBookHooks::task_dropped tells the owner).
  // `task_id` is taken by value: callers often pass the dropped task's own.
  void DropTask(const std::string& service, std::string task_id);
  // Counts a failure of `task` (ended without being asked to, or expunged):
  // `failed`, failed_by_task_version[task.version()] (bounded, see
  // kMaxFailedVersions), last_failure "<id>: <what>" and its time, and
  // starts the service's relaunch backoff (replan_at its end). The caller
  // makes the change durable (MarkChanged).
  void RecordFailure(BookedService& service, const v1::Task& task, absl::string_view what);
  // What the end of `task` (a terminal `status`) counts as: a failure
  // (RecordFailure, once) when Mast did not ask for it, or when Mast killed
  // it for failing its health check (failed_health_check); nothing when
  // Mast asked (scale-down, replacement, delete) or the task was never
  // launched (a PENDING intent the master does not know). `what` is the
  // state and message, or "health check failed". Returns whether it counted
  // a failure. Does not drop the task.
  bool RecordEnd(BookedService& service, const v1::Task& task,
                 const ::mesos::v1::TaskStatus& status);
  // Marks `task_id` as killed by Mast for failing its health check (the
  // caller sends the kill): its end will count as a failure of its version
  // (RecordEnd). Makes the mark durable (MarkChanged). Returns false if the
  // task is unknown or already marked.
  bool MarkFailedHealthCheck(const std::string& task_id);

  // The launch queue: services with tasks to launch (set by SetToLaunch).
  void SetToLaunch(const std::string& name, int to_launch);
  const std::set<std::string>& waiting() const { return waiting_; }
  // Why `name`'s waiting tasks were not placed in the last offer round
  // (nullopt: every one was, or none waits), kept in its task records for
  // every replica's reads: written when the refused requirements or the
  // number waiting change, else at most every kPlacementRewrite.
  void NotePlacement(const std::string& name, std::optional<v1::PlacementStatus> placement,
                     absl::Time now);
  size_t to_launch_total() const;

  // Durable writes (see the class comment).
  void MarkChanged(const std::string& name);
  void WhenDurable(const std::string& name, bool fail_fast,
                   absl::AnyInvocable<void(absl::Status) &&> done);
  // Deletes the service's record once every change of its tasks is written
  // (it must be deleting and have no task left); on success the service
  // leaves the book, on failure it is planned again after a backoff.
  void Remove(const std::string& name);

 private:
  struct Waiter {
    uint64_t seq = 0;
    bool fail_fast = false;  // fails at the first failed write (launches)
    absl::AnyInvocable<void(absl::Status) &&> done;
  };
  // The write pipeline of one service: `seq` counts changes, `durable_seq`
  // is the last one written.
  struct Writes {
    uint64_t seq = 0;
    uint64_t durable_seq = 0;
    bool writing = false;
    bool flush_posted = false;
    bool removing = false;
    EventLoop::TimerId retry_timer = 0;
    std::unique_ptr<Backoff> backoff;
    std::vector<Waiter> waiters;
    bool durable() const { return durable_seq >= seq; }
  };
  struct Entry {
    BookedService service;
    Writes writes;
  };

  Entry* FindEntry(const std::string& name);
  void Flush(const std::string& name);
  void OnWritten(const std::string& name, uint64_t target, absl::Status status);
  // The waiters a write outcome releases: all up to `target` on success,
  // the fail-fast ones on failure.
  static std::vector<Waiter> TakeReleased(Writes& writes, const absl::Status& status,
                                          uint64_t target);
  void RetryWriteLater(const std::string& name, Writes& writes, const absl::Status& status);
  void OnRemoved(const std::string& name, absl::Status status);

  const Config config_;
  ServiceStore& store_;
  const LeaderTerm term_;
  EventLoop& loop_;
  Clock& clock_;
  SchedulerMetrics* metrics_;
  TaskBookHooks hooks_;
  absl::BitGen bitgen_;

  std::map<std::string, Entry> entries_;
  absl::flat_hash_map<std::string, std::string> task_service_;  // task id -> service
  std::set<std::string> waiting_;                               // to_launch > 0, not deleting
  WeakCallbacks callbacks_;  // last: store and timer completions die first
};

}  // namespace mast
