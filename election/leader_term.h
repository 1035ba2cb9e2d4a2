#pragma once

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace mast {

// Who leads, as read from the leader's election znode.
struct LeaderInfo {
  std::string replica_id;
  std::string address;                      // where clients and replicas dial the leader
  uint64_t fencing_token = 0;               // see LeaderTerm
  absl::Time since = absl::InfinitePast();  // InfinitePast until the leader publishes it
  std::string znode;                        // the leader's election znode (full path)

  bool operator==(const LeaderInfo& other) const = default;
};

// One leadership of this replica. OnStartedLeading and OnStoppedLeading always
// come in pairs with the same term.
struct LeaderTerm {
  // The czxid of this replica's election znode: ZooKeeper's transaction ids
  // strictly increase, and a leader's znode is always newer than every
  // earlier leader's, so tokens strictly increase with every new leadership,
  // across replicas and restarts (as long as the ensemble keeps its data).
  uint64_t fencing_token = 0;
  // The election znode that must still exist for a write to be valid; the
  // store's fenced writes check it in the same multi-op.
  std::string znode;
  absl::Time acquired_at;
};

}  // namespace mast
