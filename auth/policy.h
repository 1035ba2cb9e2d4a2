#pragma once

// Who holds which role on which services, by service-name prefix.
//
// File format (`#` comments, blank lines skipped), one rule per line:
//     grant <identity> <read|write|admin> <prefix|*>
//     anonymous <read|write|admin> <prefix|*>
//     forwarder <identity>
// `grant` gives an identity (a token's name, or a client certificate's SAN
// or CN) a role on every service whose name starts with the prefix (`team/`;
// `*` is every service). `anonymous` gives callers without credentials a
// role; authenticated callers hold those grants too. `forwarder` names a
// replica's identity, trusted to forward a write for the caller it names.
// Roles include the ones below them: admin > write > read.

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "auth/access.h"

namespace mast::auth {

class Policy {
 public:
  struct Grant {
    Role role;
    std::string prefix;  // "" = every service
  };

  // True when `who` (its own grants, and the anonymous ones) holds `role`
  // or a higher one on a prefix of `service_name`. `service_name` "" asks
  // for a grant on every service.
  bool Allows(const Identity& who, Role role, absl::string_view service_name) const;
  bool IsForwarder(absl::string_view identity) const { return forwarders_.contains(identity); }
  bool HasAnonymousGrants() const { return !anonymous_.empty(); }

 private:
  friend absl::StatusOr<Policy> ParsePolicy(absl::string_view, absl::string_view);
  static bool AnyAllows(const std::vector<Grant>& grants, Role role, absl::string_view name);

  absl::flat_hash_map<std::string, std::vector<Grant>> grants_;
  std::vector<Grant> anonymous_;
  absl::flat_hash_set<std::string> forwarders_;
};

// INVALID_ARGUMENT "<file>:<line>: <what>" for an unknown rule, a bad
// identity, role or prefix, or a wrong number of words.
absl::StatusOr<Policy> ParsePolicy(absl::string_view text, absl::string_view file_name);

}  // namespace mast::auth
