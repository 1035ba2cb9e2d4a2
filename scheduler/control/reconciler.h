#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/weak_callback.h"
#include "scheduler/control/mesos_calls.h"
#include "scheduler/control/scheduler_metrics.h"

namespace mast {

// What to do with a status update of a task the book does not know.
enum class UnknownTaskAction {
  kAdopt,   // its service's task record is corrupt: take the task into the book
  kKill,    // not ours (any more): KILL it
  kKeep,    // its service's record is unreadable: leave it running, untouched
  kIgnore,  // terminal: nothing to do but acknowledge
};
UnknownTaskAction DecideUnknownTask(bool terminal, bool service_adopts_unknown,
                                    bool service_record_unreadable);

// Reconciliation of one subscription with the master (Mesos' "Task
// Reconciliation"): first explicit, for every task the book holds, sent in
// batches and resent with backoff for the tasks not yet answered; once every
// one was answered, implicit (the master reports every task it knows, and
// the owner kills the ones the book does not), then implicit again every
// reconcile_interval. The owner feeds it answers (Answered) and decides
// what each answer means (DecideUnknownTask, the task book).
//
// Lifetime: one subscription; its timers end with it. Threads: the control
// loop only. `calls`, `loop`, `clock` and `metrics` outlive it.
class Reconciler {
 public:
  struct Config {
    size_t batch = 1000;
    BackoffConfig retry;
    absl::Duration interval;
  };
  using TaskAgents = absl::flat_hash_map<std::string, std::string>;  // task id -> agent id

  // `on_reconciled` runs when an explicit reconciliation completes.
  Reconciler(Config config, MesosCalls& calls, EventLoop& loop, Clock& clock,
             SchedulerMetrics* metrics, std::function<void(absl::Time)> on_reconciled);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Starts the explicit reconciliation of `tasks`.
  void Start(TaskAgents tasks);
  // The master answered about `task_id` (an update), or it left the book.
  void Answered(const std::string& task_id);
  // Asks the master about `tasks` again (an ACCEPT whose fate is unknown).
  void Ask(const TaskAgents& tasks);
  // The explicit reconciliation of this subscription completed.
  bool reconciled() const { return reconciled_; }

 private:
  // mast_reconciliation_unanswered_tasks follows unanswered_.
  void CountUnanswered();
  void SendExplicit();
  void Complete();
  void SendImplicit();

  const Config config_;
  MesosCalls& calls_;
  EventLoop& loop_;
  Clock& clock_;
  SchedulerMetrics* metrics_;
  std::function<void(absl::Time)> on_reconciled_;
  absl::BitGen bitgen_;
  Backoff backoff_;

  bool reconciled_ = false;
  absl::Time started_;
  TaskAgents unanswered_;
  EventLoop::TimerId timer_ = 0;
  WeakCallbacks callbacks_;
};

}  // namespace mast
