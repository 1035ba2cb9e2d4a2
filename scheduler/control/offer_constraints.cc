#include "scheduler/control/offer_constraints.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/parse.h"

namespace mast {
namespace offer_matching {
namespace {

std::string FormatScalar(double value) {
  if (!std::isfinite(value)) return absl::StrCat(value);
  std::string s = absl::StrFormat("%.3f", value);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

}  // namespace

std::optional<std::string> PlacementValue(const Placement& placement, const std::string& field) {
  if (field == "hostname") {
    if (placement.hostname.empty()) return std::nullopt;
    return placement.hostname;
  }
  for (const auto& attribute : placement.attributes) {
    if (attribute.name() == field) return AttributeValueString(attribute);
  }
  return std::nullopt;
}

bool CompiledConstraint::Matches(int32_t value) {
  if (matches.size() <= static_cast<size_t>(value)) matches.resize(field->values.size(), -1);
  int8_t& known = matches[value];
  if (known < 0) known = RE2::FullMatch(field->values[value], *regex) ? 1 : 0;
  return known == 1;
}

bool CompiledConstraint::Satisfied(int32_t value) {
  if (broken) return false;
  if (value < 0) return op == v1::Constraint::UNLIKE;
  switch (op) {
    case v1::Constraint::UNIQUE:
      return Count(value) == 0;
    case v1::Constraint::CLUSTER:
      return cluster_value < 0 || cluster_value == value;
    case v1::Constraint::GROUP_BY: {
      const int count = Count(value);
      return count == 0 || (groups >= limit && count == MinGroupCount());
    }
    case v1::Constraint::LIKE:
      return Matches(value);
    case v1::Constraint::UNLIKE:
      return !Matches(value);
    case v1::Constraint::MAX_PER:
      return Count(value) < limit;
    default:  // open proto3 enum: unknown values are `broken`
      return false;
  }
}

void CompiledConstraint::Record(int32_t value) {
  int& count = counts[value];
  if (op == v1::Constraint::GROUP_BY) {
    if (count == 0) {
      ++groups;
    } else if (--values_with_count[count] == 0) {
      values_with_count.erase(count);
    }
    ++values_with_count[count + 1];
  }
  ++count;
  if (op == v1::Constraint::CLUSTER && cluster_value < 0) cluster_value = value;
}

CompiledConstraint Compile(const v1::Constraint& c, FieldIndex* field) {
  CompiledConstraint compiled;
  compiled.spec = &c;
  compiled.op = c.operator_();
  compiled.field = field;
  switch (c.operator_()) {
    case v1::Constraint::UNIQUE:
      break;
    case v1::Constraint::CLUSTER:
      if (!c.value().empty()) compiled.cluster_value = field->Intern(c.value());
      break;
    case v1::Constraint::GROUP_BY:
      if (!c.value().empty()) {
        std::optional<int> n = ParsePositiveInt(c.value());
        compiled.broken = !n;
        compiled.limit = n.value_or(0);
      }
      break;
    case v1::Constraint::LIKE:
    case v1::Constraint::UNLIKE: {
      RE2::Options options;
      options.set_log_errors(false);
      compiled.regex = std::make_unique<RE2>(c.value(), options);
      compiled.broken = !compiled.regex->ok();
      break;
    }
    case v1::Constraint::MAX_PER: {
      std::optional<int> n = ParsePositiveInt(c.value());
      compiled.broken = !n;
      compiled.limit = n.value_or(0);
      break;
    }
    default:
      compiled.broken = true;
  }
  if (c.field().empty()) compiled.broken = true;
  return compiled;
}

}  // namespace offer_matching

std::string AttributeValueString(const ::mesos::v1::Attribute& attribute) {
  switch (attribute.type()) {
    case ::mesos::v1::Value::SCALAR:
      return offer_matching::FormatScalar(attribute.scalar().value());
    case ::mesos::v1::Value::RANGES: {
      std::vector<std::pair<uint64_t, uint64_t>> ranges;
      for (const auto& range : attribute.ranges().range()) {
        ranges.emplace_back(range.begin(), range.end());
      }
      std::sort(ranges.begin(), ranges.end());
      return absl::StrCat(
          "[",
          absl::StrJoin(ranges, ",",
                        [](std::string* out, const std::pair<uint64_t, uint64_t>& r) {
                          absl::StrAppend(out, r.first, "-", r.second);
                        }),
          "]");
    }
    case ::mesos::v1::Value::SET: {
      std::vector<std::string> items(attribute.set().item().begin(), attribute.set().item().end());
      std::sort(items.begin(), items.end());
      return absl::StrCat("{", absl::StrJoin(items, ","), "}");
    }
    case ::mesos::v1::Value::TEXT:
      return attribute.text().value();
  }
  return "";
}

}  // namespace mast
