#include "scheduler/mesos/master_detector.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace mast::mesos {

StaticMasterDetector::StaticMasterDetector(std::vector<std::string> masters)
    : masters_(std::move(masters)) {}

void StaticMasterDetector::Watch(
    absl::AnyInvocable<void(const std::optional<std::string>&)> listener) {
  listener_ = std::move(listener);
  listener_(masters_.empty() ? std::nullopt : std::optional<std::string>(masters_[current_]));
}

void StaticMasterDetector::ReportUnreachable(const std::string& master) {
  if (masters_.size() < 2 || masters_[current_] != master) return;
  current_ = (current_ + 1) % masters_.size();
  if (listener_) listener_(masters_[current_]);
}

namespace {

// "host:port" with a numeric port (IPv6 in brackets).
bool ValidAuthority(absl::string_view authority) {
  size_t colon = authority.rfind(':');
  int port = 0;
  return colon != absl::string_view::npos && colon > 0 &&
         absl::SimpleAtoi(authority.substr(colon + 1), &port) && port > 0 && port < 65536;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseMasterUrls(absl::string_view spec) {
  std::vector<std::string> out;
  for (absl::string_view entry : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    absl::string_view authority = entry;
    if (absl::ConsumePrefix(&authority, "https://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("masters: '", entry, "': https is not supported"));
    }
    absl::ConsumePrefix(&authority, "http://");
    authority = absl::StripSuffix(authority, "/");
    if (!ValidAuthority(authority) || absl::StrContains(authority, "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat("masters: '", entry, "' is not http://host:port"));
    }
    out.push_back(absl::StrCat("http://", authority));
  }
  if (out.empty()) return absl::InvalidArgumentError("masters: no master given");
  return out;
}

absl::StatusOr<std::string> BaseUrlFromLocation(absl::string_view location) {
  absl::string_view rest = absl::StripAsciiWhitespace(location);
  if (!absl::ConsumePrefix(&rest, "//") && !absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat("unusable redirect Location '", location, "'"));
  }
  absl::string_view authority = rest.substr(0, rest.find('/'));
  if (!ValidAuthority(authority)) {
    return absl::InvalidArgumentError(absl::StrCat("unusable redirect Location '", location, "'"));
  }
  return absl::StrCat("http://", authority);
}

}  // namespace mast::mesos
