#pragma once

#include <cstddef>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mast {

// The one mapping from a ZooKeeper C client return code (ZOK, ZNONODE, ...)
// to an absl::Status, by what the caller should do about it:
//   ZCONNECTIONLOSS, ZOPERATIONTIMEOUT, ZSESSIONEXPIRED, ZCLOSING, ... -> UNAVAILABLE (retry)
//   ZBADVERSION                                                      -> ABORTED (re-read)
//   ZNONODE -> NOT_FOUND, ZNODEEXISTS -> ALREADY_EXISTS,
//   ZNOTEMPTY, ZNOCHILDRENFOREPHEMERALS -> FAILED_PRECONDITION,
//   ZNOAUTH, ZAUTHFAILED -> PERMISSION_DENIED, ZBADARGUMENTS -> INVALID_ARGUMENT.
// `what` (e.g. "get /mast/state") prefixes the message.
absl::Status ZkErrorToStatus(int zk_rc, absl::string_view what);

// A failed Multi() names the op that failed: its index rides on the status
// as a payload, so callers can tell a failed fence (a check) from a failed
// write without parsing messages.
absl::Status WithFailedOp(absl::Status status, size_t index);
std::optional<size_t> FailedMultiOp(const absl::Status& status);

// Checks a ZooKeeper path: absolute, no trailing or empty components, no "."
// or "..", no control characters. Used for flags such as --zk_root.
absl::Status ValidateZkPath(absl::string_view path);

}  // namespace mast
