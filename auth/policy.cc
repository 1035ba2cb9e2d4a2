#include "auth/policy.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "auth/text_lines.h"
#include "auth/tokens.h"

namespace mast::auth {

namespace {

std::optional<Role> ParseRole(absl::string_view word) {
  if (word == "read") return Role::kRead;
  if (word == "write") return Role::kWrite;
  if (word == "admin") return Role::kAdmin;
  return std::nullopt;
}

// A prefix is "*" or the start of a service name: lowercase letters,
// digits, '-', '.', '_' and '/', at most 255.
absl::StatusOr<std::string> ParsePrefix(absl::string_view word) {
  if (word == "*") return std::string();
  if (word.size() > 255) return absl::InvalidArgumentError("prefix longer than 255 characters");
  for (char c : word) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && !absl::StrContains("-._/", c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prefix '", word, "': want * or the start of a service name ([a-z0-9-._/])"));
    }
  }
  return std::string(word);
}

absl::StatusOr<Policy::Grant> ParseGrant(absl::string_view role_word, absl::string_view prefix) {
  std::optional<Role> role = ParseRole(role_word);
  if (!role) {
    return absl::InvalidArgumentError(
        absl::StrCat("role '", role_word, "': want read, write or admin"));
  }
  absl::StatusOr<std::string> parsed = ParsePrefix(prefix);
  if (!parsed.ok()) return parsed.status();
  return Policy::Grant{*role, std::move(*parsed)};
}

}  // namespace

bool Policy::AnyAllows(const std::vector<Grant>& grants, Role role, absl::string_view name) {
  for (const Grant& grant : grants) {
    if (grant.role < role) continue;
    if (grant.prefix.empty() || (!name.empty() && absl::StartsWith(name, grant.prefix))) {
      return true;
    }
  }
  return false;
}

bool Policy::Allows(const Identity& who, Role role, absl::string_view service_name) const {
  if (AnyAllows(anonymous_, role, service_name)) return true;
  if (who.kind == Identity::Kind::kAnonymous) return false;
  auto it = grants_.find(who.name);
  return it != grants_.end() && AnyAllows(it->second, role, service_name);
}

absl::StatusOr<Policy> ParsePolicy(absl::string_view text, absl::string_view file_name) {
  Policy policy;
  auto rule = [&](int, const std::vector<absl::string_view>& w) -> absl::Status {
    auto identity = [&](absl::string_view name) -> absl::Status {
      if (IsValidIdentityName(name)) return absl::OkStatus();
      return absl::InvalidArgumentError(
          absl::StrCat("identity '", name, "': want 1-255 of [A-Za-z0-9._@:/+=-]"));
    };
    if (w[0] == "grant") {
      if (w.size() != 4)
        return absl::InvalidArgumentError("want 'grant <identity> <role> <prefix>'");
      if (absl::Status s = identity(w[1]); !s.ok()) return s;
      absl::StatusOr<Policy::Grant> grant = ParseGrant(w[2], w[3]);
      if (!grant.ok()) return grant.status();
      policy.grants_[w[1]].push_back(std::move(*grant));
    } else if (w[0] == "anonymous") {
      if (w.size() != 3) return absl::InvalidArgumentError("want 'anonymous <role> <prefix>'");
      absl::StatusOr<Policy::Grant> grant = ParseGrant(w[1], w[2]);
      if (!grant.ok()) return grant.status();
      policy.anonymous_.push_back(std::move(*grant));
    } else if (w[0] == "forwarder") {
      if (w.size() != 2) return absl::InvalidArgumentError("want 'forwarder <identity>'");
      if (absl::Status s = identity(w[1]); !s.ok()) return s;
      policy.forwarders_.insert(std::string(w[1]));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown rule '", w[0], "': want grant, anonymous or forwarder"));
    }
    return absl::OkStatus();
  };
  absl::Status status = ForEachLine(text, file_name, rule);
  if (!status.ok()) return status;
  return policy;
}

}  // namespace mast::auth
