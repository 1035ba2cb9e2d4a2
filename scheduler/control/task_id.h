#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace mast {

// Task IDs are "<service with '/' as '_'>.<task_version>.<16 hex digits>",
// e.g. "team_web.3.00f1c2d3e4b5a697". The service and version can be read
// back (for tasks Mesos reports that the store does not know).
std::string MakeTaskId(absl::string_view service, uint64_t task_version, uint64_t random);
// nullopt for an ID Mast did not make.
std::optional<std::pair<std::string, uint64_t>> ParseTaskId(absl::string_view task_id);

}  // namespace mast
