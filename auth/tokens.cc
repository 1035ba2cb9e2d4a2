#include "auth/tokens.h"

#include <openssl/evp.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "auth/text_lines.h"

namespace mast::auth {

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

bool IsValidIdentityName(absl::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && !absl::StrContains("._@:/+=-", c)) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> TokenTable::Identify(absl::string_view token, absl::Time now) const {
  auto it = by_hash_.find(Sha256Hex(token));
  if (it == by_hash_.end()) return absl::UnauthenticatedError("unknown token");
  if (it->second.expires && *it->second.expires <= now) {
    return absl::UnauthenticatedError(absl::StrCat(
        "token of ", it->second.identity, " expired at ",
        absl::FormatTime(absl::RFC3339_sec, *it->second.expires, absl::UTCTimeZone())));
  }
  return it->second.identity;
}

namespace {

bool IsLowerHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<TokenTable> ParseTokens(absl::string_view text, absl::string_view file_name) {
  TokenTable table;
  absl::Status status = ForEachLine(
      text, file_name, [&](int, const std::vector<absl::string_view>& words) -> absl::Status {
        if (words.size() < 2 || words.size() > 3) {
          return absl::InvalidArgumentError(
              "want '<identity> sha256:<hex> [expires=<RFC 3339 time>]'");
        }
        if (!IsValidIdentityName(words[0])) {
          return absl::InvalidArgumentError(
              absl::StrCat("identity '", words[0], "': want 1-255 of [A-Za-z0-9._@:/+=-]"));
        }
        absl::string_view hash = words[1];
        if (!absl::ConsumePrefix(&hash, "sha256:") || !IsLowerHex64(hash)) {
          return absl::InvalidArgumentError(
              "the hash must be sha256: and 64 lowercase hex digits (printf %s TOKEN | sha256sum)");
        }
        TokenTable::Entry entry{std::string(words[0]), std::nullopt};
        if (words.size() == 3) {
          absl::string_view expires = words[2];
          absl::Time at;
          std::string error;
          if (!absl::ConsumePrefix(&expires, "expires=") ||
              !absl::ParseTime(absl::RFC3339_full, expires, &at, &error)) {
            return absl::InvalidArgumentError(absl::StrCat(
                "'", words[2], "': want expires=<RFC 3339 time, e.g. ", "2027-01-31T00:00:00Z>"));
          }
          entry.expires = at;
        }
        if (!table.by_hash_.emplace(std::string(hash), std::move(entry)).second) {
          return absl::InvalidArgumentError("this hash is listed twice");
        }
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return table;
}

}  // namespace mast::auth
