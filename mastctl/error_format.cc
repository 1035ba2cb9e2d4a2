#include "mastctl/error_format.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mast::ctl {

std::string ErrorText(int code, absl::string_view message) {
  // gRPC's codes are absl's, number for number.
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  if (name.empty()) name = absl::StrCat(code);
  return absl::StrCat(name, ": ", message);
}

}  // namespace mast::ctl
