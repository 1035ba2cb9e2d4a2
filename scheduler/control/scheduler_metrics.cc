#include "scheduler/control/scheduler_metrics.h"

#include "common/metric_builders.h"

namespace mast {
namespace {

prometheus::Family<prometheus::Counter>& HealthChanges(prometheus::Registry& registry) {
  // Registering the same family twice returns the first.
  return prometheus::BuildCounter()
      .Name("mast_task_health_changes_total")
      .Help("Health check results that changed a task's health, by the new value.")
      .Register(registry);
}

}  // namespace

SchedulerMetrics::SchedulerMetrics(prometheus::Registry& registry)
    : tasks_launched(NewCounter(registry, "mast_tasks_launched_total",
                                "Tasks sent to Mesos in an ACCEPT with LAUNCH.")),
      tasks_failed(NewCounter(registry, "mast_task_failures_total",
                              "Tasks that ended without Mast asking (relaunched with backoff).")),
      kills_sent(NewCounter(registry, "mast_task_kills_total",
                            "KILL calls sent for known tasks, retries included.")),
      unknown_tasks_killed(
          NewCounter(registry, "mast_unknown_tasks_killed_total",
                     "KILL calls for tasks Mesos reported and the store did not know.")),
      tasks_expunged(
          NewCounter(registry, "mast_tasks_expunged_total",
                     "UNREACHABLE tasks replaced once their unreachable grace period ran out.")),
      status_updates(NewCounter(registry, "mast_status_updates_total",
                                "Task status updates received from Mesos.")),
      became_healthy(HealthChanges(registry).Add({{"healthy", "true"}})),
      became_unhealthy(HealthChanges(registry).Add({{"healthy", "false"}})),
      became_ready(NewCounter(registry, "mast_task_ready_total",
                              "Tasks whose readiness check passed for the first time.")),
      task_writes(NewCounter(registry, "mast_task_record_writes_total",
                             "Writes of a service's task records (each batches many changes).")),
      task_write_failures(NewCounter(registry, "mast_task_record_write_failures_total",
                                     "Failed writes of task records (retried with backoff).")),
      offers_accepted(
          NewCounter(registry, "mast_offers_accepted_total", "Offers accepted with a LAUNCH.")),
      offers_declined(NewCounter(registry, "mast_scheduler_offers_declined_total",
                                 "Offers declined by the scheduling loop.")),
      revives(NewCounter(registry, "mast_revives_total", "REVIVE calls.")),
      suppresses(NewCounter(registry, "mast_suppresses_total", "SUPPRESS calls.")),
      reconciliations(NewCounter(registry, "mast_reconciliations_total",
                                 "Explicit reconciliations completed (every task answered).")),
      reconcile_seconds(NewGauge(registry, "mast_last_reconciliation_seconds",
                                 "Duration of the last explicit reconciliation.")),
      reconcile_unanswered(
          NewGauge(registry, "mast_reconciliation_unanswered_tasks",
                   "Tasks whose state the leader asked the master for and has no answer yet.")),
      offers_held(NewGauge(registry, "mast_offers_held",
                           "Offers the leader holds while the intents of their launches are "
                           "written (neither accepted nor declined yet).")),
      tasks(NewGauge(registry, "mast_tasks", "Tasks the leader keeps records of (not terminal).")),
      tasks_waiting(NewGauge(registry, "mast_tasks_waiting",
                             "Tasks waiting for an offer (backoff excluded).")),
      deployment_transition_failures(
          NewCounter(registry, "mast_deployment_transition_failures_total",
                     "Deployment transitions the leader could not record (retried or dropped).")),
      services_unplaced(NewGauge(registry, "mast_services_unplaced",
                                 "Services whose last offer round left tasks unplaced.")),
      deployment_transitions_(prometheus::BuildCounter()
                                  .Name("mast_deployment_transitions_total")
                                  .Help("Deployment transitions recorded by the leader, by the "
                                        "state moved to.")
                                  .Register(registry)),
      offers_refused_(prometheus::BuildCounter()
                          .Name("mast_offers_refused_total")
                          .Help("Offers refused to a service waiting for resources, by the "
                                "first requirement they failed.")
                          .Register(registry)) {
  for (const char* requirement : {"cpus", "mem", "disk", "gpus", "ports", "role", "constraint",
                                  "unavailability", "used up", "group_by"}) {
    offers_refused_.Add({{"requirement", requirement}});
  }
  // Every state from 0, so that increase() over a window sees the first
  // failure too (a series born at 1 shows no increase) and the family is
  // exported before any transition.
  for (int state = v1::Deployment::State_MIN + 1; state <= v1::Deployment::State_MAX; ++state) {
    if (v1::Deployment::State_IsValid(state)) {
      deployment_transitions_.Add(
          {{"state", v1::Deployment::State_Name(static_cast<v1::Deployment::State>(state))}});
    }
  }
}

void SchedulerMetrics::OffersRefused(const v1::PlacementStatus& placement) {
  for (const v1::PlacementStatus::Refusal& refusal : placement.refused()) {
    const bool constraint = refusal.requirement().rfind("constraints[", 0) == 0;
    offers_refused_.Add({{"requirement", constraint ? "constraint" : refusal.requirement()}})
        .Increment(refusal.offers());
  }
}

void SchedulerMetrics::DeploymentTransition(v1::Deployment::State state, bool recorded) {
  if (!recorded) {
    deployment_transition_failures.Increment();
    return;
  }
  deployment_transitions_.Add({{"state", v1::Deployment::State_Name(state)}}).Increment();
}

}  // namespace mast
