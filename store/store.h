#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "election/leader_term.h"

namespace mast {

// Mast's durable state. Reads may be made by any replica; every write is
// made by the leader and fenced on its LeaderTerm: it is applied only if
// the term's election znode still exists, in the same atomic operation, so a
// deposed leader's write fails with FAILED_PRECONDITION and changes nothing.
//
// Errors: UNAVAILABLE (no connection; retry), FAILED_PRECONDITION (deposed:
// stop acting as leader), DATA_LOSS (a stored record cannot be parsed),
// ABORTED (a concurrent write won; re-read).
//
// Threads: called on the owner's event loop; callbacks run there.
class Store {
 public:
  virtual ~Store() = default;

  // The FrameworkID Mesos assigned, or nullopt if none was ever stored.
  virtual void ReadFrameworkId(
      absl::AnyInvocable<void(absl::StatusOr<std::optional<std::string>>) &&> done) = 0;
  virtual void WriteFrameworkId(const LeaderTerm& term, const std::string& framework_id,
                                absl::AnyInvocable<void(absl::Status) &&> done) = 0;
};

using StorePtr = std::unique_ptr<Store>;

}  // namespace mast
