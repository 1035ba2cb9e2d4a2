#pragma once

// Bearer tokens, kept only as SHA-256 hashes: a tokens file that leaks does
// not give the tokens away.
//
// File format: one token per line, `#` starts a comment, blank lines are
// ignored:
//     <identity> sha256:<64 lowercase hex digits of SHA-256(token)> [expires=<RFC 3339 time>]
// e.g.  ci-deployer sha256:9f86d081...0f00a08 expires=2027-06-30T00:00:00Z
// Make a hash with `printf %s "$TOKEN" | sha256sum`.

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mast::auth {

// Lowercase hex of SHA-256(data) (OpenSSL).
std::string Sha256Hex(absl::string_view data);

// Characters an identity may hold (token names, certificate SANs such as
// spiffe://mast/ci, anonymous excepted): [A-Za-z0-9._@:/+=-], 1..255 of them.
bool IsValidIdentityName(absl::string_view name);

// A parsed tokens file. Immutable; cheap to share.
class TokenTable {
 public:
  struct Entry {
    std::string identity;
    std::optional<absl::Time> expires;
  };

  // The identity whose token hashes to SHA-256(`token`); UNAUTHENTICATED
  // when no line has that hash ("unknown token") or it expired at or before
  // `now` ("token of <identity> expired at ..."). Never echoes the token.
  absl::StatusOr<std::string> Identify(absl::string_view token, absl::Time now) const;

  size_t size() const { return by_hash_.size(); }

 private:
  friend absl::StatusOr<TokenTable> ParseTokens(absl::string_view, absl::string_view);
  absl::flat_hash_map<std::string, Entry> by_hash_;  // hex hash -> entry
};

// INVALID_ARGUMENT "<file>:<line>: <what>" for a malformed line, a bad hash,
// an unparsable expiry or a hash listed twice.
absl::StatusOr<TokenTable> ParseTokens(absl::string_view text, absl::string_view file_name);

}  // namespace mast::auth
