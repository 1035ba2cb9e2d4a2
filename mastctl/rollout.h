#pragma once

#include <string>
#include <vector>

namespace mast::ctl {

// The `rollout` lines of mastctl's usage.
extern const char kRolloutHelp[];

// `mastctl rollout SUBCOMMAND NAME`: status, history, undo, pause, resume,
// cancel (operands: what follows "rollout"). Returns the exit code.
int Rollout(const std::vector<std::string>& operands);

}  // namespace mast::ctl
