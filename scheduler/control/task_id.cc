#include "scheduler/control/task_id.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace mast {

std::string MakeTaskId(absl::string_view service, uint64_t task_version, uint64_t random) {
  return absl::StrFormat("%s.%d.%016x", absl::StrReplaceAll(service, {{"/", "_"}}), task_version,
                         random);
}

std::optional<std::pair<std::string, uint64_t>> ParseTaskId(absl::string_view task_id) {
  std::vector<absl::string_view> parts = absl::StrSplit(task_id, '.');
  uint64_t version = 0;
  if (parts.size() != 3 || parts[0].empty() || parts[2].size() != 16 ||
      !absl::SimpleAtoi(parts[1], &version)) {
    return std::nullopt;
  }
  return std::make_pair(absl::StrReplaceAll(parts[0], {{"_", "/"}}), version);
}

}  // namespace mast
