#include "auth/text_lines.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mast::auth {

absl::Status ForEachLine(
    absl::string_view text, absl::string_view file_name,
    absl::FunctionRef<absl::Status(int number, const std::vector<absl::string_view>& words)> line) {
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++number;
    auto fail = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(file_name, ":", number, ": ", what));
    };
    if (raw.size() > 4096) return fail("line longer than 4096 bytes");
    if (raw.find('\0') != absl::string_view::npos) return fail("NUL byte");
    absl::string_view content = raw.substr(0, raw.find('#'));
    std::vector<absl::string_view> words =
        absl::StrSplit(content, absl::ByAnyChar(" \t\r\f\v"), absl::SkipEmpty());
    if (words.empty()) continue;
    absl::Status status = line(number, words);
    if (!status.ok()) return fail(status.message());
  }
  return absl::OkStatus();
}

}  // namespace mast::auth
