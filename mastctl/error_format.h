#pragma once

// How mastctl words a failed call. No I/O.

#include <string>

#include "absl/strings/string_view.h"

namespace mast::ctl {

// "INVALID_ARGUMENT: spec.name: required": the gRPC code by name (its
// number when it has none), then the message.
std::string ErrorText(int code, absl::string_view message);

}  // namespace mast::ctl
