#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/random/random.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "election/leader_elector.h"
#include "mast/v1/records.pb.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "scheduler/control/framework_listener.h"
#include "scheduler/control/offer_matcher.h"
#include "scheduler/control/service_plan.h"
#include "store/service_store.h"
#include "store/state_cache.h"

namespace mast {

struct TaskSchedulerConfig {
  // The framework's role (tasks whose spec names none run under it).
  std::string default_role = "*";
  // Offers are declined with this filter when nothing waits to launch...
  absl::Duration idle_decline_refuse = absl::Seconds(120);
  // ...and with this one when tasks wait but the offer fits none of them.
  absl::Duration busy_decline_refuse = absl::Seconds(5);
  // At most one REVIVE per interval.
  absl::Duration revive_interval = absl::Seconds(5);
  // Implicit reconciliation period (after the explicit one of a subscription).
  absl::Duration reconcile_interval = absl::Minutes(10);
  // Explicit reconciliation: tasks per RECONCILE call, and the resend
  // schedule for tasks the master has not answered for.
  size_t reconcile_batch = 1000;
  BackoffConfig reconcile_retry = {absl::Seconds(1), absl::Seconds(60), 2.0, 0.2};
  // UNREACHABLE tasks are replaced after this.
  absl::Duration unreachable_grace = absl::Minutes(5);
  // A KILL is sent again while no terminal update came for this long.
  absl::Duration kill_retry = absl::Seconds(10);
  // Retries of failed task-record writes.
  BackoffConfig write_retry = {absl::Milliseconds(100), absl::Seconds(10), 2.0, 0.5};
  // A task that ran at least this long before failing resets the relaunch
  // backoff (a crash loop keeps growing it, a task that fails after a long
  // run is relaunched after the initial delay).
  absl::Duration stable_run = absl::Minutes(1);
  // Period of the housekeeping pass (kill retries). Deadlines (relaunch
  // backoff, unreachable grace) have timers of their own.
  absl::Duration tick = absl::Seconds(1);
};

absl::Status ValidateTaskSchedulerConfig(const TaskSchedulerConfig& config);

// Counters and gauges of the scheduling loop. Updated on the loop only.
struct SchedulerMetrics {
  explicit SchedulerMetrics(prometheus::Registry& registry);

  prometheus::Counter& tasks_launched;        // mast_tasks_launched_total
  prometheus::Counter& tasks_failed;          // mast_task_failures_total
  prometheus::Counter& kills_sent;            // mast_task_kills_total
  prometheus::Counter& unknown_tasks_killed;  // mast_unknown_tasks_killed_total
  prometheus::Counter& tasks_expunged;        // mast_tasks_expunged_total (unreachable past grace)
  prometheus::Counter& status_updates;        // mast_status_updates_total
  prometheus::Counter& task_writes;           // mast_task_record_writes_total
  prometheus::Counter& task_write_failures;   // mast_task_record_write_failures_total
  prometheus::Counter& offers_accepted;       // mast_offers_accepted_total
  prometheus::Counter& offers_declined;       // mast_scheduler_offers_declined_total
  prometheus::Counter& revives;               // mast_revives_total
  prometheus::Counter& suppresses;            // mast_suppresses_total
  prometheus::Counter& reconciliations;       // mast_reconciliations_total (explicit, completed)
  prometheus::Gauge& reconcile_seconds;       // mast_last_reconciliation_seconds
  prometheus::Gauge& tasks;                   // mast_tasks (known to the leader)
  prometheus::Gauge& tasks_waiting;           // mast_tasks_waiting (to launch)
};

// Task IDs are "<service with '/' as '_'>.<task_version>.<16 hex digits>",
// e.g. "team_web.3.00f1c2d3e4b5a697". The service and version can be read
// back (for tasks Mesos reports that the store does not know).
std::string MakeTaskId(absl::string_view service, uint64_t task_version, uint64_t random);
// nullopt for an ID Mast did not make.
std::optional<std::pair<std::string, uint64_t>> ParseTaskId(absl::string_view task_id);

// The leader's scheduling loop: it keeps every service at its declared
// instances on Mesos.
//
// State: on leadership the scheduler waits for the state cache to settle
// (StateCache::WhenSettled) and takes its task records as its own; from
// then on its memory is the authority for task records (it is the only
// writer, fenced on its term) and the cache's later snapshots bring it
// service changes (written by the API's ServiceWriter). On a step-down all
// of it is dropped.
//
// Per service (PlanService): launch up to `instances`, replace tasks of an
// older task_version one at a time, kill the excess youngest first, kill
// everything of a deleting service and then remove its record.
//
// Launching: a task's intent (state PENDING, with its agent and ports) is
// written to the store before the ACCEPT that launches it, so every task
// that may exist is known to any later leader. Task records are written per
// service, one write in flight each; changes made meanwhile go into the
// next (batched). Status updates change the records and are acknowledged
// once the write holding the change is durable. Failed tasks are counted
// and relaunched after the service's backoff. Unused offers are declined
// (long filter when nothing waits); the role is SUPPRESSed when nothing
// waits and REVIVEd, at most once per revive_interval, when something does.
//
// Reconciliation: after every subscription, explicit reconciliation of
// every stored task (batched, resent with backoff until each was
// answered), then an implicit one (tasks the master knows and the store
// does not are killed), then an implicit one every reconcile_interval.
// A stored task the master reports lost, gone or unknown is replaced;
// UNREACHABLE ones after unreachable_grace (a late one is then unknown, and
// killed). Tasks of a service whose stored task record is corrupt are
// adopted from what the master reports instead of killed.
//
// Threads: constructed, called and destroyed on the control loop; every
// callback (store, Mesos) checks the leadership epoch and drops stale work.
// `store`, `cache`, `loop` and `clock` must outlive it.
class TaskScheduler final : public FrameworkListener {
 public:
  TaskScheduler(TaskSchedulerConfig config, ServiceStore& store, StateCache& cache, EventLoop& loop,
                Clock& clock, SchedulerMetrics* metrics,
                std::function<void(absl::string_view reason)> step_down);
  ~TaskScheduler() override;
  TaskScheduler(const TaskScheduler&) = delete;
  TaskScheduler& operator=(const TaskScheduler&) = delete;

  void OnStartedLeading(const LeaderTerm& term);
  void OnStoppedLeading();

  // FrameworkListener.
  void OnSubscribed(MesosCaller& caller) override;
  void OnUnsubscribed() override;
  void OnOffers(const ::mesos::v1::scheduler::Event::Offers& offers) override;
  void OnRescind(const ::mesos::v1::OfferID& offer_id) override;
  void OnUpdate(const ::mesos::v1::TaskStatus& status) override;

  // For tests and benchmarks.
  struct Stats {
    bool loaded = false;      // the task records were taken over
    bool reconciled = false;  // explicit reconciliation of this subscription done
    size_t services = 0;
    size_t tasks = 0;
    size_t waiting = 0;        // tasks to launch
    absl::Time reconciled_at;  // when the last explicit reconciliation completed
  };
  Stats stats() const;

 private:
  struct Waiter {
    uint64_t seq = 0;
    bool fail_fast = false;  // fails at the first failed write (launches)
    absl::AnyInvocable<void(absl::Status) &&> done;
  };
  struct ServiceState {
    std::shared_ptr<const StoredService> stored;
    std::map<std::string, v1::Task> tasks;   // by id; never terminal ones
    mast::v1::records::TaskRecords history;  // failure fields only (no tasks)
    bool adopt_unknown = false;              // its stored task record was corrupt
    int to_launch = 0;                       // from the last plan
    // Writes: `seq` counts changes, `durable_seq` the last written.
    uint64_t seq = 0;
    uint64_t durable_seq = 0;
    bool writing = false;
    bool flush_posted = false;
    bool removing = false;
    EventLoop::TimerId retry_timer = 0;
    std::unique_ptr<Backoff> write_backoff;
    std::vector<Waiter> waiters;
  };

  void Load(std::shared_ptr<const StateSnapshot> snapshot);
  void OnSnapshot(const std::shared_ptr<const StateSnapshot>& snapshot);
  ServiceState& AddService(const std::string& name, std::shared_ptr<const StoredService> stored);
  void Replan(const std::string& name);
  void ReplanAll();
  // Replans `name` later in this turn of the loop: a burst of updates of one
  // service costs one plan.
  void ScheduleReplan(const std::string& name);
  void RunScheduledReplans();
  // Housekeeping every `tick`: KILLs due again, the tasks gauge.
  void Tick();
  // Plans `name` again at `when` (a backoff ends, an unreachable task's
  // grace runs out, a failed removal is retried).
  void ReplanAt(const std::string& name, absl::Time when);
  // KILL for every task being killed (a new subscription or leadership).
  void ResendKills();
  void RemoveRecord(const std::string& name);

  // Records.
  void MarkChanged(const std::string& name, ServiceState& state);
  void WhenDurable(ServiceState& state, bool fail_fast,
                   absl::AnyInvocable<void(absl::Status) &&> done);
  void Flush(const std::string& name);
  void RecordFailure(ServiceState& state, const v1::Task& task, absl::string_view what);
  void DropTask(ServiceState& state, const std::string& task_id);

  // Mesos.
  void Send(::mesos::v1::scheduler::Call call,
            absl::AnyInvocable<void(absl::Status) &&> done = nullptr);
  void Kill(const v1::Task& task);
  void KillUnknown(const ::mesos::v1::TaskStatus& status);
  void Acknowledge(const ::mesos::v1::TaskStatus& status);
  void Decline(const std::vector<::mesos::v1::OfferID>& offers, absl::Duration refuse);
  void LaunchPlanned(OfferPlan plan, const std::vector<QueuedService>& queue,
                     const std::vector<std::string>& queue_names,
                     const ::mesos::v1::scheduler::Event::Offers& offers);
  void UpdateOfferInterest();
  void Revive();
  bool Active() const { return leading_ && loaded_ && caller_ != nullptr; }

  // Reconciliation.
  void StartReconciliation();
  void SendExplicitReconcile();
  void ReconcileAnswered(const std::string& task_id);
  void ImplicitReconcile();

  const TaskSchedulerConfig config_;
  ServiceStore& store_;
  StateCache& cache_;
  EventLoop& loop_;
  Clock& clock_;
  SchedulerMetrics* metrics_;
  std::function<void(absl::string_view)> step_down_;
  absl::BitGen bitgen_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();

  // Loop thread only.
  bool leading_ = false;
  bool loaded_ = false;
  uint64_t epoch_ = 0;      // bumped on every change of leadership
  uint64_t sub_epoch_ = 0;  // bumped on every change of subscription
  LeaderTerm term_;
  MesosCaller* caller_ = nullptr;  // while subscribed
  std::map<std::string, ServiceState> services_;
  std::set<std::string> waiting_services_;  // to_launch > 0 (backoff or not)
  std::set<std::string> replans_;           // ScheduleReplan'd
  bool replans_posted_ = false;
  absl::flat_hash_map<std::string, std::string> task_service_;  // task id -> service
  absl::flat_hash_map<std::string, absl::Time> kill_sent_;      // task id -> last KILL
  // Agents' attributes, learnt from offers (for constraints of later placements).
  absl::flat_hash_map<std::string, std::vector<::mesos::v1::Attribute>> agent_attributes_;
  std::shared_ptr<const StateSnapshot> last_snapshot_;
  // Service -> the last "tasks not placed" reason logged, and when.
  absl::flat_hash_map<std::string, std::pair<std::string, absl::Time>> unmet_logged_;
  // Offers.
  bool offers_wanted_ = true;  // not suppressed, no long filters since
  absl::Time last_revive_ = absl::InfinitePast();
  EventLoop::TimerId revive_timer_ = 0;
  EventLoop::TimerId tick_timer_ = 0;
  // Reconciliation.
  bool reconciled_ = false;
  absl::Time reconcile_started_;
  absl::Time reconciled_at_;
  absl::flat_hash_map<std::string, std::string> unanswered_;  // task id -> agent id
  std::unique_ptr<Backoff> reconcile_backoff_;
  EventLoop::TimerId reconcile_timer_ = 0;
};

}  // namespace mast
