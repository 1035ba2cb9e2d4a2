// The master's checks of what a framework names: IDs, roles and FrameworkInfo (SUBSCRIBE and
// UPDATE_FRAMEWORK), worded as Mesos 1.11 words them, since schedulers and tests match the text.

#include <cmath>
#include <cstdint>
#include <limits>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "local_mesos/master_state.h"

namespace mast::local {

namespace mesos_v1 = ::mesos::v1;

namespace {

using AttributeConstraint = mesos_v1::scheduler::AttributeConstraint;

// MULTI_ROLE decides between `roles` and the legacy `role`; the roles must be unique and valid.
std::optional<std::string> ValidateFrameworkRoles(const mesos_v1::FrameworkInfo& info) {
  const bool multi_role = HasCapability(info, mesos_v1::FrameworkInfo::Capability::MULTI_ROLE);
  if (multi_role && HasLegacyRole(info)) {
    return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable";
  }
  if (!multi_role && info.roles_size() > 0) {
    return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable";
  }
  std::set<std::string> seen, duplicates;
  for (const std::string& role : info.roles()) {
    if (!seen.insert(role).second) duplicates.insert(role);
  }
  if (!duplicates.empty()) {
    return absl::StrCat("'FrameworkInfo.roles' contains duplicate items: { ",
                        absl::StrJoin(duplicates, ", "), " }");
  }
  for (const std::string& role : FrameworkRoles(info)) {
    if (std::optional<std::string> error = ValidateRole(role)) {
      return absl::StrCat("'FrameworkInfo.role", multi_role ? "s" : "", "' is not valid: ", *error);
    }
  }
  return std::nullopt;
}

// The failover timeout must fit a Duration in nanoseconds (Mesos converts it).
std::optional<std::string> ValidateFailoverTimeout(double timeout) {
  if (!std::isfinite(timeout) ||
      std::fabs(timeout) * 1e9 >= static_cast<double>(std::numeric_limits<int64_t>::max())) {
    return absl::StrFormat("The framework failover_timeout (%g) is invalid", timeout);
  }
  return std::nullopt;
}

// Suppressed roles and offer filters may only name roles the framework subscribes to.
std::optional<std::string> ValidateRoleReferences(const mesos_v1::FrameworkInfo& info,
                                                  const std::set<std::string>& roles,
                                                  const std::vector<std::string>& suppressed) {
  for (const std::string& role : suppressed) {
    if (roles.count(role) == 0) {
      return absl::StrCat("Suppressed role '", role, "' is not contained in the list of roles");
    }
  }
  for (const auto& [role, unused] : info.offer_filters()) {
    if (roles.count(role) == 0) {
      return absl::StrCat("Offer filters for role '", role,
                          "' are set but the framework is not subscribed to it");
    }
  }
  return std::nullopt;
}

// One constraint needs a selector and a predicate, and its regex (if any) must compile.
std::optional<std::string> ValidateAttributeConstraint(const AttributeConstraint& constraint) {
  if (constraint.selector().selector_case() == AttributeConstraint::Selector::SELECTOR_NOT_SET ||
      constraint.predicate().predicate_case() ==
          AttributeConstraint::Predicate::PREDICATE_NOT_SET) {
    return "An attribute constraint needs a selector and a predicate";
  }
  const auto& predicate = constraint.predicate();
  const std::string* regex = nullptr;  // text_matches and text_not_matches are a oneof
  if (predicate.has_text_matches()) regex = &predicate.text_matches().regex();
  if (predicate.has_text_not_matches()) regex = &predicate.text_not_matches().regex();
  if (regex != nullptr) {
    try {
      std::regex compiled(*regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return absl::StrCat("Invalid regex '", *regex, "': ", e.what());
    }
  }
  return std::nullopt;
}

// Constraints only for subscribed roles, each with at least one group of at least one
// constraint.
std::optional<std::string> ValidateOfferConstraints(
    const mesos_v1::scheduler::OfferConstraints& constraints, const std::set<std::string>& roles) {
  for (const auto& [role, role_constraints] : constraints.role_constraints()) {
    if (roles.count(role) == 0) {
      return absl::StrCat("Offer constraints specified for role '", role,
                          "' which the framework is not subscribed to");
    }
    if (role_constraints.groups_size() == 0) {
      return absl::StrCat("Offer constraints for role '", role, "' have no groups");
    }
    for (const auto& group : role_constraints.groups()) {
      if (group.attribute_constraints_size() == 0) {
        return absl::StrCat("Offer constraints for role '", role, "' have an empty group");
      }
      for (const AttributeConstraint& constraint : group.attribute_constraints()) {
        if (std::optional<std::string> error = ValidateAttributeConstraint(constraint)) {
          return error;
        }
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> ValidateId(const std::string& id) {
  if (id.empty()) return "ID must not be empty";
  if (id.size() > 255) return "ID must not be greater than 255 characters";
  if (id == "." || id == "..") return absl::StrCat("'", id, "' is disallowed");
  for (char c : id) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\' || u < 0x20 || u == 0x7f) {
      return absl::StrCat("'", id, "' contains invalid characters");
    }
  }
  return std::nullopt;
}

std::optional<std::string> ValidateRole(const std::string& role) {
  if (role == "*") return std::nullopt;
  if (role.empty()) return "Empty role name is invalid";
  for (char c : role) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return absl::StrCat("Role '", role, "' contains invalid characters");
    }
  }
  if (role.front() == '/' || role.back() == '/') {
    return absl::StrCat("Role '", role, "' cannot start or end with a slash");
  }
  for (absl::string_view part : absl::StrSplit(role, '/')) {
    if (part.empty()) return absl::StrCat("Role '", role, "' cannot contain empty components");
    if (part == "." || part == "..") {
      return absl::StrCat("Role '", role, "' cannot contain '.' or '..' components");
    }
    if (part == "*") return absl::StrCat("Role '", role, "' cannot contain a '*' component");
    if (part.front() == '-') {
      return absl::StrCat("Role '", role, "' cannot have a component starting with '-'");
    }
  }
  return std::nullopt;
}

std::optional<std::string> ValidateFrameworkInfo(
    const mesos_v1::FrameworkInfo& info, const std::vector<std::string>& suppressed,
    const mesos_v1::scheduler::OfferConstraints* constraints) {
  // The checks run in the master's order: the first failing one is the answer.
  if (std::optional<std::string> error = ValidateFrameworkRoles(info)) return error;
  if (info.has_id()) {
    if (std::optional<std::string> error = ValidateId(info.id().value())) return error;
  }
  if (std::optional<std::string> error = ValidateFailoverTimeout(info.failover_timeout())) {
    return error;
  }
  const std::vector<std::string> roles = FrameworkRoles(info);
  const std::set<std::string> role_set(roles.begin(), roles.end());
  if (std::optional<std::string> error = ValidateRoleReferences(info, role_set, suppressed)) {
    return error;
  }
  if (constraints != nullptr) return ValidateOfferConstraints(*constraints, role_set);
  return std::nullopt;
}

}  // namespace mast::local
