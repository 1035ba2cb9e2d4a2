#include "local_mesos/resources.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "local_mesos/json.h"

namespace mast::local {
namespace {

namespace mesos_v1 = ::mesos::v1;

// Scalars are fixed point with 3 decimal digits, as in Mesos.
constexpr double kMilli = 1000.0;
constexpr double kMaxScalar = 1e15;

absl::StatusOr<int64_t> ToMilli(double value, absl::string_view name) {
  if (!std::isfinite(value) || value < 0 || value > kMaxScalar) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid scalar resource '", name, "': ", value,
                                                   " is not a finite non-negative number"));
  }
  return static_cast<int64_t>(std::llround(value * kMilli));
}

std::string FormatMilli(int64_t milli) {
  std::string out = absl::StrCat(milli / 1000);
  int64_t frac = milli % 1000;
  if (frac != 0) {
    std::string digits = absl::StrCat(1000 + frac).substr(1);
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    absl::StrAppend(&out, ".", digits);
  }
  return out;
}

// The scalars as (name, milli-units): cpus, mem, disk, gpus first (the order Mesos users
// expect), then the rest by name.
std::vector<std::pair<std::string, int64_t>> ScalarOrder(
    const std::map<std::string, int64_t>& scalars) {
  std::vector<std::pair<std::string, int64_t>> ordered;
  for (const char* known : {"cpus", "mem", "disk", "gpus"}) {
    auto it = scalars.find(known);
    if (it != scalars.end()) ordered.emplace_back(*it);
  }
  for (const auto& [name, milli] : scalars) {
    if (name != "cpus" && name != "mem" && name != "disk" && name != "gpus") {
      ordered.emplace_back(name, milli);
    }
  }
  return ordered;
}

absl::StatusOr<IntervalSet> ParseRanges(absl::string_view text, absl::string_view name) {
  IntervalSet set;
  absl::string_view inner = absl::StripAsciiWhitespace(text);
  if (!absl::ConsumePrefix(&inner, "[") || !absl::ConsumeSuffix(&inner, "]")) {
    return absl::InvalidArgumentError(
        absl::StrCat("ranges of '", name, "' must look like [begin-end, ...]"));
  }
  for (absl::string_view part : absl::StrSplit(inner, ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> bounds = absl::StrSplit(part, '-');
    uint64_t begin = 0, end = 0;
    if (bounds.size() != 2 || !absl::SimpleAtoi(absl::StripAsciiWhitespace(bounds[0]), &begin) ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(bounds[1]), &end) || begin > end) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad range '", absl::StripAsciiWhitespace(part), "' of '", name, "'"));
    }
    set.Add(begin, end);
  }
  return set;
}

}  // namespace

void IntervalSet::Add(uint64_t begin, uint64_t end) {
  intervals_.emplace_back(begin, end);
  std::sort(intervals_.begin(), intervals_.end());
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const auto& [b, e] : intervals_) {
    if (!merged.empty() && (merged.back().second == std::numeric_limits<uint64_t>::max() ||
                            b <= merged.back().second + 1)) {
      merged.back().second = std::max(merged.back().second, e);
    } else {
      merged.emplace_back(b, e);
    }
  }
  intervals_ = std::move(merged);
}

void IntervalSet::Add(const IntervalSet& other) {
  for (const auto& [b, e] : other.intervals_) Add(b, e);
}

void IntervalSet::Subtract(const IntervalSet& other) {
  std::vector<std::pair<uint64_t, uint64_t>> result;
  for (auto [b, e] : intervals_) {
    bool alive = true;
    for (const auto& [ob, oe] : other.intervals_) {
      if (!alive) break;
      if (oe < b || ob > e) continue;
      if (ob > b) result.emplace_back(b, ob - 1);
      if (oe >= e) {
        alive = false;
      } else {
        b = oe + 1;
      }
    }
    if (alive) result.emplace_back(b, e);
  }
  intervals_ = std::move(result);
  std::sort(intervals_.begin(), intervals_.end());
}

bool IntervalSet::Contains(const IntervalSet& other) const {
  for (const auto& [ob, oe] : other.intervals_) {
    bool covered = false;
    for (const auto& [b, e] : intervals_) {
      if (b <= ob && oe <= e) {
        covered = true;
        break;
      }
    }
    if (!covered) return false;
  }
  return true;
}

uint64_t IntervalSet::count() const {
  uint64_t total = 0;
  for (const auto& [b, e] : intervals_) {
    uint64_t n = e - b;
    if (n == std::numeric_limits<uint64_t>::max()) return n;
    n += 1;
    total = total > std::numeric_limits<uint64_t>::max() - n ? std::numeric_limits<uint64_t>::max()
                                                             : total + n;
  }
  return total;
}

std::string IntervalSet::ToString() const {
  std::vector<std::string> parts;
  for (const auto& [b, e] : intervals_) parts.push_back(absl::StrCat(b, "-", e));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

absl::StatusOr<Resources> Resources::Parse(absl::string_view text) {
  Resources out;
  for (absl::string_view item : absl::StrSplit(text, ';', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    size_t colon = item.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("'", item, "' is not of the form name:value"));
    }
    absl::string_view name = absl::StripAsciiWhitespace(item.substr(0, colon));
    absl::string_view value = absl::StripAsciiWhitespace(item.substr(colon + 1));
    if (absl::EndsWith(name, ")")) {
      size_t open = name.find('(');
      if (open == absl::string_view::npos || name.substr(open) != "(*)") {
        return absl::InvalidArgumentError(
            absl::StrCat("'", name, "': reserved resources are not supported by the local master"));
      }
      name = name.substr(0, open);
    }
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("'", item, "' has no name"));
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("'", name, "' has no value"));
    }
    std::string key(name);
    if (value.front() == '[') {
      absl::StatusOr<IntervalSet> ranges = ParseRanges(value, name);
      if (!ranges.ok()) return ranges.status();
      if (out.scalars_.count(key) > 0 || out.sets_.count(key) > 0) {
        return absl::InvalidArgumentError(absl::StrCat("'", name, "' has mixed types"));
      }
      if (!ranges->empty()) out.ranges_[key].Add(*ranges);
    } else if (value.front() == '{') {
      if (!absl::EndsWith(value, "}")) {
        return absl::InvalidArgumentError(absl::StrCat("set of '", name, "' lacks a '}'"));
      }
      if (out.scalars_.count(key) > 0 || out.ranges_.count(key) > 0) {
        return absl::InvalidArgumentError(absl::StrCat("'", name, "' has mixed types"));
      }
      for (absl::string_view element :
           absl::StrSplit(value.substr(1, value.size() - 2), ',', absl::SkipWhitespace())) {
        out.sets_[key].insert(std::string(absl::StripAsciiWhitespace(element)));
      }
    } else {
      double scalar = 0;
      if (!absl::SimpleAtod(value, &scalar)) {
        return absl::InvalidArgumentError(
            absl::StrCat("value '", value, "' of '", name, "' is not a number"));
      }
      absl::StatusOr<int64_t> milli = ToMilli(scalar, name);
      if (!milli.ok()) return milli.status();
      if (out.ranges_.count(key) > 0 || out.sets_.count(key) > 0) {
        return absl::InvalidArgumentError(absl::StrCat("'", name, "' has mixed types"));
      }
      if (*milli > 0) out.scalars_[key] += *milli;
    }
  }
  return out;
}

// Resource.role is deprecated in the proto but is how unreserved resources are marked ("*")
// for frameworks without RESERVATION_REFINEMENT.
namespace {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
bool HasNonStarRole(const mesos_v1::Resource& r) { return r.has_role() && r.role() != "*"; }
void SetStarRole(mesos_v1::Resource* r) { r->set_role("*"); }
#pragma GCC diagnostic pop
}  // namespace

absl::StatusOr<Resources> Resources::FromProto(
    const google::protobuf::RepeatedPtrField<mesos_v1::Resource>& resources,
    std::set<std::string>* allocation_roles) {
  Resources out;
  for (const mesos_v1::Resource& r : resources) {
    const std::string& name = r.name();
    if (name.empty()) return absl::InvalidArgumentError("Invalid resource: empty name");
    if (r.reservations_size() > 0 || r.has_reservation() || HasNonStarRole(r)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Invalid resource '", name, "': reserved resources are not offered by the local master"));
    }
    if (r.has_disk() || r.has_revocable() || r.has_shared() || r.has_provider_id()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Invalid resource '", name,
          "': disk, revocable, shared or provider resources are not offered by the local master"));
    }
    if (allocation_roles != nullptr && r.has_allocation_info() && r.allocation_info().has_role()) {
      allocation_roles->insert(r.allocation_info().role());
    }
    switch (r.type()) {
      case mesos_v1::Value::SCALAR: {
        if (!r.has_scalar() || r.has_ranges() || r.has_set()) {
          return absl::InvalidArgumentError(
              absl::StrCat("Invalid scalar resource '", name, "': it must have only a scalar"));
        }
        absl::StatusOr<int64_t> milli = ToMilli(r.scalar().value(), name);
        if (!milli.ok()) return milli.status();
        if (out.ranges_.count(name) > 0 || out.sets_.count(name) > 0) {
          return absl::InvalidArgumentError(absl::StrCat("Resource '", name, "' has mixed types"));
        }
        if (*milli > 0) out.scalars_[name] += *milli;
        break;
      }
      case mesos_v1::Value::RANGES: {
        if (!r.has_ranges() || r.has_scalar() || r.has_set()) {
          return absl::InvalidArgumentError(
              absl::StrCat("Invalid ranges resource '", name, "': it must have only ranges"));
        }
        if (out.scalars_.count(name) > 0 || out.sets_.count(name) > 0) {
          return absl::InvalidArgumentError(absl::StrCat("Resource '", name, "' has mixed types"));
        }
        IntervalSet set;
        for (const mesos_v1::Value::Range& range : r.ranges().range()) {
          if (range.begin() > range.end()) {
            return absl::InvalidArgumentError(absl::StrCat("Invalid ranges resource '", name,
                                                           "': begin ", range.begin(), " > end ",
                                                           range.end()));
          }
          set.Add(range.begin(), range.end());
        }
        if (!set.empty()) out.ranges_[name].Add(set);
        break;
      }
      case mesos_v1::Value::SET: {
        if (!r.has_set() || r.has_scalar() || r.has_ranges()) {
          return absl::InvalidArgumentError(
              absl::StrCat("Invalid set resource '", name, "': it must have only a set"));
        }
        if (out.scalars_.count(name) > 0 || out.ranges_.count(name) > 0) {
          return absl::InvalidArgumentError(absl::StrCat("Resource '", name, "' has mixed types"));
        }
        for (const std::string& item : r.set().item()) out.sets_[name].insert(item);
        break;
      }
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("Invalid resource '", name, "': unsupported type"));
    }
  }
  return out;
}

void Resources::ToProto(google::protobuf::RepeatedPtrField<mesos_v1::Resource>* out,
                        const std::optional<std::string>& allocation_role, bool role_star) const {
  auto add = [&](const std::string& name, mesos_v1::Value::Type type) {
    mesos_v1::Resource* r = out->Add();
    r->set_name(name);
    r->set_type(type);
    if (role_star) SetStarRole(r);
    if (allocation_role) r->mutable_allocation_info()->set_role(*allocation_role);
    return r;
  };
  for (const auto& [name, set] : ranges_) {
    mesos_v1::Resource* r = add(name, mesos_v1::Value::RANGES);
    auto* ranges = r->mutable_ranges();
    for (const auto& [b, e] : set.intervals()) {
      auto* range = ranges->add_range();
      range->set_begin(b);
      range->set_end(e);
    }
  }
  for (const auto& [name, milli] : ScalarOrder(scalars_)) {
    add(name, mesos_v1::Value::SCALAR)
        ->mutable_scalar()
        ->set_value(static_cast<double>(milli) / kMilli);
  }
  for (const auto& [name, items] : sets_) {
    mesos_v1::Resource* r = add(name, mesos_v1::Value::SET);
    for (const std::string& item : items) r->mutable_set()->add_item(item);
  }
}

bool Resources::Contains(const Resources& other) const {
  for (const auto& [name, milli] : other.scalars_) {
    auto it = scalars_.find(name);
    if (it == scalars_.end() || it->second < milli) return false;
  }
  for (const auto& [name, set] : other.ranges_) {
    auto it = ranges_.find(name);
    if (it == ranges_.end() ? !set.empty() : !it->second.Contains(set)) return false;
  }
  for (const auto& [name, items] : other.sets_) {
    auto it = sets_.find(name);
    for (const std::string& item : items) {
      if (it == sets_.end() || it->second.count(item) == 0) return false;
    }
  }
  return true;
}

void Resources::Add(const Resources& other) {
  for (const auto& [name, milli] : other.scalars_) scalars_[name] += milli;
  for (const auto& [name, set] : other.ranges_) ranges_[name].Add(set);
  for (const auto& [name, items] : other.sets_) sets_[name].insert(items.begin(), items.end());
}

void Resources::Subtract(const Resources& other) {
  for (const auto& [name, milli] : other.scalars_) {
    auto it = scalars_.find(name);
    if (it == scalars_.end()) continue;
    it->second -= milli;
    if (it->second <= 0) scalars_.erase(it);
  }
  for (const auto& [name, set] : other.ranges_) {
    auto it = ranges_.find(name);
    if (it == ranges_.end()) continue;
    it->second.Subtract(set);
    if (it->second.empty()) ranges_.erase(it);
  }
  for (const auto& [name, items] : other.sets_) {
    auto it = sets_.find(name);
    if (it == sets_.end()) continue;
    for (const std::string& item : items) it->second.erase(item);
    if (it->second.empty()) sets_.erase(it);
  }
}

double Resources::Scalar(const std::string& name) const {
  auto it = scalars_.find(name);
  return it == scalars_.end() ? 0.0 : static_cast<double>(it->second) / kMilli;
}

uint64_t Resources::RangeCount(const std::string& name) const {
  auto it = ranges_.find(name);
  return it == ranges_.end() ? 0 : it->second.count();
}

double Resources::Quantity(const std::string& name) const {
  if (scalars_.count(name) > 0) return Scalar(name);
  if (ranges_.count(name) > 0) return static_cast<double>(RangeCount(name));
  auto it = sets_.find(name);
  return it == sets_.end() ? 0.0 : static_cast<double>(it->second.size());
}

std::string Resources::ToString() const {
  std::vector<std::string> parts;
  for (const auto& [name, milli] : ScalarOrder(scalars_)) {
    parts.push_back(absl::StrCat(name, ":", FormatMilli(milli)));
  }
  for (const auto& [name, set] : ranges_) parts.push_back(absl::StrCat(name, ":", set.ToString()));
  for (const auto& [name, items] : sets_) {
    parts.push_back(absl::StrCat(name, ":{", absl::StrJoin(items, ","), "}"));
  }
  return absl::StrJoin(parts, "; ");
}

std::string Resources::ToStateJson() const {
  JsonWriter json;
  json.BeginObject();
  for (const char* name : {"disk", "mem", "gpus", "cpus"}) {
    json.Key(name).Number(Scalar(name));
  }
  for (const auto& [name, milli] : scalars_) {
    if (name == "disk" || name == "mem" || name == "gpus" || name == "cpus") continue;
    json.Key(name).Number(static_cast<double>(milli) / kMilli);
  }
  for (const auto& [name, set] : ranges_) json.Key(name).String(set.ToString());
  for (const auto& [name, items] : sets_) {
    json.Key(name).String(absl::StrCat("{", absl::StrJoin(items, ","), "}"));
  }
  json.EndObject();
  return json.str();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseAttributes(
    absl::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view item : absl::StrSplit(text, ';', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    size_t colon = item.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("'", item, "' is not of the form name:value"));
    }
    std::string name(absl::StripAsciiWhitespace(item.substr(0, colon)));
    std::string value(absl::StripAsciiWhitespace(item.substr(colon + 1)));
    if (name.empty() || value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("'", item, "' needs a name and a value"));
    }
    for (const auto& [existing, unused] : out) {
      if (existing == name) {
        return absl::InvalidArgumentError(absl::StrCat("attribute '", name, "' given twice"));
      }
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

bool MeetsDefaultMinAllocatable(const Resources& available) {
  return available.Scalar("cpus") >= 0.01 || available.Scalar("mem") >= 32;
}

}  // namespace mast::local
