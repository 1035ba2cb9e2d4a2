#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace mast::testing {

// Plays an earlier instance of a framework that left a task behind: it
// subscribes to `master_url` with `framework_id`, REVIVEs (Mast declined the
// offers with a long filter), launches one task (`task_id`, command
// `command`, 0.1 cpus and 32 MiB) on the first offer, waits for its first
// status update, and goes away without acknowledging it.
absl::Status LaunchUnacknowledgedTask(const std::string& master_url,
                                      const std::string& framework_id, const std::string& task_id,
                                      const std::string& command, bool json = false,
                                      absl::Duration timeout = absl::Seconds(30));

}  // namespace mast::testing
