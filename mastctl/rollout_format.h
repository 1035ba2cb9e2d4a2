#pragma once

// Pure pieces of `mastctl rollout`: progress and history lines, and the
// exit codes of `rollout status`. No I/O.

#include <optional>
#include <string>

#include "mast/v1/service.pb.h"

namespace mast::ctl {

// `mastctl rollout status` exit codes (also in --help).
inline constexpr int kRolloutSucceeded = 0;
inline constexpr int kRolloutError = 1;  // a call failed (as every command)
inline constexpr int kRolloutUsage = 2;
inline constexpr int kRolloutPaused = 3;
inline constexpr int kRolloutFailed = 4;
inline constexpr int kRolloutRolledBack = 5;
inline constexpr int kRolloutCancelled = 6;
inline constexpr int kRolloutTimedOut = 7;

// The exit code `rollout status` ends with once the deployment is in
// `state` (PAUSED included); nullopt while it goes on (RUNNING,
// ROLLING_BACK).
std::optional<int> RolloutExitCode(v1::Deployment::State state);

// One progress line: "deployment 7-ab12: step 1/2, new 3/10 ready, old 7"
// (RUNNING), with the state after the id otherwise ("deployment 7-ab12:
// PAUSED, step 1/2, ...") and the failure reason at the end when there is one.
std::string ProgressLine(const v1::Deployment& deployment);

// The history table: its header and one row per deployment (ID, CAUSE,
// VERSIONS "from->to", STATE, STARTED, FINISHED, REASON).
std::string HistoryHeader();
std::string HistoryRow(const v1::Deployment& deployment);

// "2026-12-03T17:04:05Z", "-" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& t);

}  // namespace mast::ctl
