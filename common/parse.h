#pragma once

#include <optional>

#include "absl/strings/string_view.h"

namespace mast {

// A decimal integer in [1, 1e9): digits only, no sign, no spaces. Used for
// constraint values such as MAX_PER's and GROUP_BY's counts.
inline std::optional<int> ParsePositiveInt(absl::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value <= 0) return std::nullopt;
  return value;
}

}  // namespace mast
