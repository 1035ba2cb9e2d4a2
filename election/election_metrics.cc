#include "election/election_metrics.h"

#include "common/metric_builders.h"

namespace mast {

ElectionMetrics::ElectionMetrics(prometheus::Registry& registry)
    : is_leader(NewGauge(registry, "mast_is_leader",
                         "1 while this replica is the acting leader, else 0.")),
      leader_acquired_timestamp(
          NewGauge(registry, "mast_leader_acquired_timestamp_seconds",
                   "Unix time at which this replica last acquired leadership; 0 if never.")),
      elections(NewCounter(registry, "mast_leader_elections_total",
                           "Times this replica acquired leadership.")),
      paused(NewGauge(registry, "mast_leader_paused",
                      "1 while this replica leads but has paused acting (ZooKeeper connection "
                      "suspended), else 0.")),
      zk_connected(NewGauge(registry, "mast_zk_connected",
                            "1 while the ZooKeeper session is connected, else 0.")),
      zk_session_expirations(NewCounter(registry, "mast_zk_session_expirations_total",
                                        "ZooKeeper sessions of this replica that expired.")),
      corrupt_election_znodes(
          NewCounter(registry, "mast_election_corrupt_znodes_total",
                     "Election znodes whose name or data could not be parsed.")) {}

}  // namespace mast
