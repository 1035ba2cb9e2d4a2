#pragma once

// The line format the tokens and policy files share: `#` starts a comment,
// words are separated by blanks, blank lines are skipped.

#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mast::auth {

// Calls `line` with the 1-based number and the words of every line that
// has any. The first error it returns is prefixed "<file>:<number>: " and
// returned; so are a NUL byte or a line over 4096 bytes.
absl::Status ForEachLine(
    absl::string_view text, absl::string_view file_name,
    absl::FunctionRef<absl::Status(int number, const std::vector<absl::string_view>& words)> line);

}  // namespace mast::auth
