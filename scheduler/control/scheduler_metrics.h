#pragma once

#include "mast/v1/service.pb.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace mast {

// Counters and gauges of the scheduling loop. Updated on the loop only.
struct SchedulerMetrics {
  explicit SchedulerMetrics(prometheus::Registry& registry);

  prometheus::Counter& tasks_launched;        // mast_tasks_launched_total
  prometheus::Counter& tasks_failed;          // mast_task_failures_total
  prometheus::Counter& kills_sent;            // mast_task_kills_total
  prometheus::Counter& unknown_tasks_killed;  // mast_unknown_tasks_killed_total
  prometheus::Counter& tasks_expunged;        // mast_tasks_expunged_total (unreachable past grace)
  prometheus::Counter& status_updates;        // mast_status_updates_total
  prometheus::Counter& became_healthy;        // mast_task_health_changes_total{healthy="true"}
  prometheus::Counter& became_unhealthy;      // mast_task_health_changes_total{healthy="false"}
  prometheus::Counter& became_ready;          // mast_task_ready_total (readiness check passed)
  prometheus::Counter& task_writes;           // mast_task_record_writes_total
  prometheus::Counter& task_write_failures;   // mast_task_record_write_failures_total
  prometheus::Counter& offers_accepted;       // mast_offers_accepted_total
  prometheus::Counter& offers_declined;       // mast_scheduler_offers_declined_total
  prometheus::Counter& revives;               // mast_revives_total
  prometheus::Counter& suppresses;            // mast_suppresses_total
  prometheus::Counter& reconciliations;       // mast_reconciliations_total (explicit, completed)
  prometheus::Gauge& reconcile_seconds;       // mast_last_reconciliation_seconds
  prometheus::Gauge& reconcile_unanswered;    // mast_reconciliation_unanswered_tasks
  prometheus::Gauge& offers_held;    // mast_offers_held (kept until launch intents are durable)
  prometheus::Gauge& tasks;          // mast_tasks (known to the leader)
  prometheus::Gauge& tasks_waiting;  // mast_tasks_waiting (to launch)
  // mast_deployment_transition_failures_total: transitions not recorded.
  prometheus::Counter& deployment_transition_failures;

  // mast_deployment_transitions_total{state}: transitions recorded (or not:
  // the failures counter), by the state moved to.
  void DeploymentTransition(v1::Deployment::State state, bool recorded);

  // mast_services_unplaced: services whose last offer round left tasks
  // unplaced (PlacementStatus set).
  prometheus::Gauge& services_unplaced;
  // mast_offers_refused_total{requirement}: offers refused to a waiting
  // service, by the first requirement failed ("cpus", "mem", "disk",
  // "gpus", "ports", "role", "constraint", "unavailability", "used up",
  // "group_by"; every constraint counts as "constraint").
  void OffersRefused(const v1::PlacementStatus& placement);

 private:
  prometheus::Family<prometheus::Counter>& deployment_transitions_;
  prometheus::Family<prometheus::Counter>& offers_refused_;
};

}  // namespace mast
