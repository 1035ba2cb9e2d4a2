#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "mast/v1/service.pb.h"
#include "scheduler/control/offer_matcher.h"
// RE2 (libre2-dev) comes in through gRPC's link interface (gRPC::grpc links
// re2::re2): linear-time matching of users' LIKE/UNLIKE regexes.
#include "re2/re2.h"

// The placement constraints of MatchOffers (offer_matcher.h), with
// Marathon's semantics as documented there. Internal to the matcher; pure.
namespace mast::offer_matching {

// The values one constraint field takes, interned, with the offers of each:
// built once per field name and shared by every service constraining it.
struct FieldIndex {
  std::string name;
  std::vector<std::string> values;  // value id -> value
  absl::flat_hash_map<std::string, int32_t> ids;
  std::vector<int32_t> offer_value;                  // per offer; -1: the agent lacks it
  std::vector<std::vector<size_t>> offers_of_value;  // value id -> offers, in input order
  int missing = 0;                                   // offers without the field

  int32_t Intern(const std::string& value) {
    auto [it, inserted] = ids.try_emplace(value, static_cast<int32_t>(values.size()));
    if (inserted) {
      values.push_back(value);
      offers_of_value.emplace_back();
    }
    return it->second;
  }
};

// The value of a field for an existing placement.
std::optional<std::string> PlacementValue(const Placement& placement, const std::string& field);

// One constraint of one service, with the service's task counts per value
// (existing tasks and those placed by this plan).
struct CompiledConstraint {
  const v1::Constraint* spec = nullptr;
  v1::Constraint::Operator op = v1::Constraint::OPERATOR_UNSPECIFIED;
  FieldIndex* field = nullptr;
  bool broken = false;  // never satisfied: the spec did not validate
  std::unique_ptr<RE2> regex;
  std::vector<int8_t> matches;  // LIKE/UNLIKE per value id: -1 not yet known
  int limit = 0;                // MAX_PER: the maximum; GROUP_BY: the minimum number of groups
  int32_t cluster_value = -1;   // CLUSTER: the value id, once known
  absl::flat_hash_map<int32_t, int> counts;
  // GROUP_BY: the values with tasks, and how many values have each count.
  int groups = 0;
  std::map<int, int> values_with_count;

  int Count(int32_t value) const {
    auto it = counts.find(value);
    return it == counts.end() ? 0 : it->second;
  }
  int MinGroupCount() const {
    return values_with_count.empty() ? 0 : values_with_count.begin()->first;
  }

  // LIKE/UNLIKE: whether the regex fully matches value id `value`; cached.
  bool Matches(int32_t value);

  // Marathon's predicate for a task on an agent with `value` (-1: the agent
  // lacks the field).
  bool Satisfied(int32_t value);

  // Counts a task placed on value id `value`.
  void Record(int32_t value);
};

// `c` compiled against the index of its field; `broken` when it does not
// validate (it then matches no offer). `c` and `field` must outlive it.
CompiledConstraint Compile(const v1::Constraint& c, FieldIndex* field);

}  // namespace mast::offer_matching
