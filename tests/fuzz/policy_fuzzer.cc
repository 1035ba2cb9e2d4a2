// libFuzzer target: the policy and tokens file parsers on arbitrary text.
// Properties: no crash; an error names the file and line; in an accepted
// policy a role implies the lower ones and a grant on a prefix covers the
// names that extend it.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "auth/policy.h"
#include "auth/tokens.h"

namespace {

void CheckPolicy(const mast::auth::Policy& policy, absl::string_view text) {
  using mast::auth::Identity;
  using mast::auth::Role;
  // Probe with the words of the input as identities and service names.
  const Identity anonymous;
  for (size_t at = 0; at < text.size() && at < 512; at += 7) {
    absl::string_view word = text.substr(at, 12);
    const Identity who{Identity::Kind::kToken, std::string(word)};
    for (const Identity* id : {&who, &anonymous}) {
      for (std::string name : {std::string(word), std::string(word) + "/x"}) {
        if (policy.Allows(*id, Role::kAdmin, name) && !policy.Allows(*id, Role::kWrite, name)) {
          std::abort();
        }
        if (policy.Allows(*id, Role::kWrite, name) && !policy.Allows(*id, Role::kRead, name)) {
          std::abort();
        }
        // Every service covers each one.
        if (policy.Allows(*id, Role::kRead, "") && !policy.Allows(*id, Role::kRead, name)) {
          std::abort();
        }
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<mast::auth::Policy> policy = mast::auth::ParsePolicy(text, "policy");
  if (policy.ok()) {
    CheckPolicy(*policy, text);
  } else if (!absl::StartsWith(policy.status().message(), "policy:")) {
    std::abort();
  }
  absl::StatusOr<mast::auth::TokenTable> tokens = mast::auth::ParseTokens(text, "tokens");
  if (!tokens.ok() && !absl::StartsWith(tokens.status().message(), "tokens:")) std::abort();
  if (tokens.ok()) (void)tokens->Identify(text, absl::UnixEpoch());
  return 0;
}
