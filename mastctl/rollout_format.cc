#include "mastctl/rollout_format.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace mast::ctl {

std::optional<int> RolloutExitCode(v1::Deployment::State state) {
  switch (state) {
    case v1::Deployment::SUCCEEDED:
      return kRolloutSucceeded;
    case v1::Deployment::PAUSED:
      return kRolloutPaused;
    case v1::Deployment::FAILED:
      return kRolloutFailed;
    case v1::Deployment::ROLLED_BACK:
      return kRolloutRolledBack;
    case v1::Deployment::CANCELLED:
      return kRolloutCancelled;
    default:
      return std::nullopt;  // RUNNING, ROLLING_BACK (and unknown states: wait)
  }
}

std::string ProgressLine(const v1::Deployment& deployment) {
  const v1::DeploymentProgress& p = deployment.progress();
  std::string line = absl::StrCat("deployment ", deployment.id(), ": ");
  if (deployment.state() != v1::Deployment::RUNNING) {
    absl::StrAppend(&line, v1::Deployment::State_Name(deployment.state()), ", ");
  }
  const uint32_t steps = std::max<uint32_t>(deployment.step_count(), 1);
  absl::StrAppend(&line, "step ", std::min(deployment.step() + 1, steps), "/", steps, ", new ",
                  p.new_ready(), "/", p.target_instances(), " ready, old ", p.old_tasks());
  if (p.failed_new_tasks() > 0) absl::StrAppend(&line, ", ", p.failed_new_tasks(), " failed");
  if (!deployment.failure_reason().empty()) {
    absl::StrAppend(&line, ": ", deployment.failure_reason());
  }
  return line;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

namespace {

constexpr char kHistoryFormat[] = "%-24s %-9s %-12s %-12s %-21s %-21s %s";

}  // namespace

std::string HistoryHeader() {
  return absl::StrFormat(kHistoryFormat, "ID", "CAUSE", "VERSIONS", "STATE", "STARTED", "FINISHED",
                         "REASON");
}

std::string HistoryRow(const v1::Deployment& d) {
  const std::string cause = d.cause() == v1::Deployment::CAUSE_UNSPECIFIED
                                ? "-"
                                : absl::AsciiStrToLower(v1::Deployment::Cause_Name(d.cause()));
  return absl::StrFormat(
      kHistoryFormat, d.id(), cause, absl::StrCat(d.from_version(), "->", d.to_version()),
      v1::Deployment::State_Name(d.state()), FormatTimestamp(d.created()),
      FormatTimestamp(d.finished()), d.failure_reason().empty() ? "-" : d.failure_reason());
}

}  // namespace mast::ctl
