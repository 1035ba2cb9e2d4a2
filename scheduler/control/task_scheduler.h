#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/weak_callback.h"
#include "election/leader_term.h"
#include "scheduler/control/deployment_driver.h"
#include "scheduler/control/framework_listener.h"
#include "scheduler/control/offer_handler.h"
#include "scheduler/control/scheduler_metrics.h"
#include "scheduler/control/task_book.h"
#include "scheduler/control/task_id.h"
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
  // At most `revive_burst` REVIVEs per `revive_interval`: new work gets
  // offers at once (a rollout or scale-up is paced by its tasks, not by a
  // REVIVE limit), while a queue flapping between empty and not cannot
  // storm the master.
  absl::Duration revive_interval = absl::Seconds(5);
  int revive_burst = 5;
  // Implicit reconciliation period (after the explicit one of a subscription).
  absl::Duration reconcile_interval = absl::Minutes(10);
  // Explicit reconciliation: tasks per RECONCILE call, and the resend
  // schedule for tasks the master has not answered for.
  size_t reconcile_batch = 1000;
  BackoffConfig reconcile_retry = {absl::Seconds(1), absl::Seconds(60), 2.0, 0.2};
  // UNREACHABLE tasks are replaced after this.
  absl::Duration unreachable_grace = absl::Minutes(5);
  // At most this share of a service's instances (at least one task) is
  // replaced at once for failing health checks.
  double max_unhealthy_share = 0.1;
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

// The leader's scheduling loop: it keeps every service at its declared
// instances on Mesos. A coordinator of parts split by lifetime, the way
// client-go gives leader work a context per term:
//
// - per leadership term (OnStartedLeading .. OnStoppedLeading): a Term that,
//   once the state cache settled (StateCache::WhenSettled), owns a TaskBook
//   taken from its task records. From then on the book is the authority for
//   task records (the leader is their only writer, fenced on its term) and
//   the cache's later snapshots bring it service changes (written by the
//   API's ServiceWriter). Plans (PlanService) run per service over the book.
// - per subscription, inside a loaded term (OnSubscribed .. OnUnsubscribed):
//   the calls it makes (MesosCalls), a Reconciler and an OfferHandler.
//
// Losing the subscription destroys its parts, losing the leadership the
// whole term: their timers and the completions of their writes and calls
// die with them (nothing counts epochs).
//
// Per service (PlanService): launch up to `instances`, replace tasks of
// Per service (PlanService): launch up to `instances`, replace tasks of
// other task versions as the service's deployment and upgrade strategy say
// (none without a deployment RUNNING or ROLLING_BACK), kill the excess per
// the kill selection, kill everything of a deleting service and then remove
// its record. Each plan also lets the term's DeploymentDriver move the
// deployment on (next step, pause, success, failure, rollback).
//
// Status updates change the book and are acknowledged once the write holding
// the change is durable. Failed tasks are counted and relaunched after the
// service's backoff. A stored task the master reports lost, gone or unknown
// is replaced; UNREACHABLE ones after unreachable_grace (a late one is then
// unknown, and killed). Tasks of a service whose stored task record is
// corrupt are adopted from what the master reports instead of killed.
//
// Threads: constructed, called and destroyed on the control loop. `store`,
// `cache`, `loop` and `clock` must outlive it; `step_down` must not destroy
// the scheduler or end the term synchronously (it posts).
class TaskScheduler final : public FrameworkListener {
 public:
  TaskScheduler(TaskSchedulerConfig config, ServiceStore& store, StateCache& cache, EventLoop& loop,
                Clock& clock, SchedulerMetrics* metrics,
                std::function<void(absl::string_view reason)> step_down);
  ~TaskScheduler() override;
  TaskScheduler(const TaskScheduler&) = delete;
  TaskScheduler& operator=(const TaskScheduler&) = delete;

  // Where the transitions of deployments are recorded (the API's writer,
  // which serializes them with its own writes). Unset: deployments do not
  // advance (their tasks are still planned by them). Must outlive the
  // scheduler; set before the first term.
  void SetDeploymentRecorder(DeploymentRecorder* recorder) { recorder_ = recorder; }

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
  struct Subscription;
  struct Term;

  // The term's book once loaded, and its subscription's parts; else null.
  TaskBook* book() const;
  Subscription* subscription() const;

  void Load(std::shared_ptr<const StateSnapshot> snapshot);
  void OnSnapshot(const std::shared_ptr<const StateSnapshot>& snapshot);
  // Drops the term (its subscription's parts first), if any.
  void EndTerm();
  bool Unreadable(const std::string& znode) const;
  // Builds the subscription's parts on `caller_` (term loaded).
  void StartSubscription();
  // Reconciliation, and KILL again of every task being killed.
  void BeginSubscription();

  // Planning.
  void Replan(const std::string& name);
  void ReplanAll();
  bool Expunge(const std::string& name, BookedService& service,
               const std::vector<std::string>& ids);
  bool KillPlanned(BookedService& service, const std::vector<std::string>& ids, absl::Time now);
  // Replans `name` later in this turn of the loop: a burst of updates of one
  // service costs one plan.
  void ScheduleReplan(const std::string& name);
  void RunScheduledReplans();
  // Plans `name` again at `when` (not cancelled: a plan made when nothing is
  // due changes nothing).
  void ReplanAt(const std::string& name, absl::Time when);
  void UpdateOfferInterest();
  // Housekeeping every `tick`: KILLs due again, the tasks gauge.
  void Tick();
  void ScheduleTick();
  void Kill(const v1::Task& task);

  // Status updates.
  void OnUnknownTaskUpdate(const ::mesos::v1::TaskStatus& status);
  void AdoptTask(const std::string& service, uint64_t version,
                 const ::mesos::v1::TaskStatus& status);
  // The task ended: counted as a failure unless asked for or never launched.
  void EndTask(const std::string& name, BookedService& service, const v1::Task& task,
               const ::mesos::v1::TaskStatus& status);
  void AcknowledgeWhenDurable(const std::string& service, const ::mesos::v1::TaskStatus& status);
  void OnTaskDropped(const std::string& task_id);

  const TaskSchedulerConfig config_;
  ServiceStore& store_;
  StateCache& cache_;
  EventLoop& loop_;
  Clock& clock_;
  SchedulerMetrics* metrics_;
  std::function<void(absl::string_view)> step_down_;

  // Loop thread only; these outlive terms and subscriptions.
  DeploymentRecorder* recorder_ = nullptr;
  MesosCaller* caller_ = nullptr;  // while subscribed
  std::unique_ptr<Term> term_;     // while leading
  AgentAttributes agent_attributes_;
  std::shared_ptr<const StateSnapshot> last_snapshot_;
  absl::Time reconciled_at_;
  WeakCallbacks callbacks_;
};

}  // namespace mast
