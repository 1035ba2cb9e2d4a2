#pragma once

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace mast {

// The election module's metrics, listed once. Built from the daemon's
// registry (or a test's own); updated on the control loop only.
struct ElectionMetrics {
  explicit ElectionMetrics(prometheus::Registry& registry);

  prometheus::Gauge& is_leader;                  // mast_is_leader
  prometheus::Gauge& leader_acquired_timestamp;  // mast_leader_acquired_timestamp_seconds
  prometheus::Counter& elections;                // mast_leader_elections_total
  prometheus::Gauge& paused;                     // mast_leader_paused
  prometheus::Gauge& zk_connected;               // mast_zk_connected
  prometheus::Counter& zk_session_expirations;   // mast_zk_session_expirations_total
  prometheus::Counter& corrupt_election_znodes;  // mast_election_corrupt_znodes_total
};

}  // namespace mast
