#include "scheduler/control/offer_matcher.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
// RE2 (libre2-dev) comes in through gRPC's link interface (gRPC::grpc links
// re2::re2): linear-time matching of users' LIKE/UNLIKE regexes.
#include "common/parse.h"
#include "re2/re2.h"

namespace mast {
namespace {

using ::mesos::v1::Offer;
using ::mesos::v1::Resource;
using ::mesos::v1::TaskInfo;

constexpr size_t kNone = std::numeric_limits<size_t>::max();

enum ScalarKind { kCpus = 0, kMem, kDisk, kGpus, kNumScalars };
constexpr absl::string_view kScalarNames[kNumScalars] = {"cpus", "mem", "disk", "gpus"};

// Why an offer did not take a task of a service; constraint i is
// kConstraint + i. Tallied per service for OfferPlan::unmet_reasons.
enum Reason : int {
  kFits = -1,
  kRole = 0,
  kShortCpus,  // kShortCpus + ScalarKind
  kShortMem,
  kShortDisk,
  kShortGpus,
  kShortPorts,
  kUsedUp,    // skipped: below every service's cpus or mem after earlier tasks
  kHeldBack,  // GROUP_BY keeps it for later (another value has fewer tasks)
  kConstraint,
};

// Mesos keeps scalars as fixed point with 3 decimals: work in thousandths,
// so packing several tasks onto an offer accumulates no rounding error.
std::optional<int64_t> ToMillis(double value) {
  if (!std::isfinite(value) || value < 0 || value > 1e15) return std::nullopt;
  return std::llround(value * 1000);
}

struct Range {
  uint64_t begin;
  uint64_t end;  // inclusive
};

struct ScalarSlice {
  int resource;  // index into Offer.resources
  int64_t available;
};

struct PortSlice {
  int resource;
  std::vector<Range> free;  // sorted, disjoint, within 1..65535
};

struct OfferState {
  const Offer* offer = nullptr;
  std::string role;
  std::vector<ScalarSlice> scalars[kNumScalars];  // reserved before unreserved
  int64_t available[kNumScalars] = {};
  std::vector<PortSlice> ports;  // reserved before unreserved
  uint64_t free_ports = 0;
  std::vector<std::pair<std::string, std::string>> attributes;  // name, value string
  std::vector<PlannedTask> tasks;
};

// Resources Mast may launch on: not revocable, not shared, no DiskInfo
// (persistent volumes, MOUNT/PATH sources), not from a resource provider,
// and allocated to the offer's role when that is stated.
bool Usable(const Resource& r, const std::string& role) {
  if (r.has_revocable() || r.has_shared() || r.has_disk() || r.has_provider_id()) return false;
  if (r.has_allocation_info() && r.allocation_info().has_role() &&
      r.allocation_info().role() != role) {
    return false;
  }
  return true;
}

// Reserved in either format: `reservations` (RESERVATION_REFINEMENT), or
// the deprecated `role` (+ `reservation` when dynamic), which reading must
// still honour.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
bool Reserved(const Resource& r) {
  return r.reservations_size() > 0 || r.has_reservation() || r.role() != "*";
}
#pragma GCC diagnostic pop

std::vector<Range> PortRanges(const Resource& r) {
  std::vector<Range> ranges;
  for (const auto& range : r.ranges().range()) {
    const uint64_t begin = std::max<uint64_t>(range.begin(), 1);
    const uint64_t end = std::min<uint64_t>(range.end(), 65535);
    if (begin <= end) ranges.push_back({begin, end});
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  std::vector<Range> merged;
  for (const Range& range : ranges) {
    if (!merged.empty() && range.begin <= merged.back().end + 1) {
      merged.back().end = std::max(merged.back().end, range.end);
    } else {
      merged.push_back(range);
    }
  }
  return merged;
}

OfferState MakeOfferState(const Offer& offer, const MatchOptions& options) {
  OfferState state;
  state.offer = &offer;
  state.role = offer.has_allocation_info() && offer.allocation_info().has_role()
                   ? offer.allocation_info().role()
                   : options.default_role;
  for (bool reserved_pass : {true, false}) {
    for (int i = 0; i < offer.resources_size(); ++i) {
      const Resource& r = offer.resources(i);
      if (Reserved(r) != reserved_pass || !Usable(r, state.role)) continue;
      if (r.type() == ::mesos::v1::Value::SCALAR && r.has_scalar()) {
        for (int k = 0; k < kNumScalars; ++k) {
          if (r.name() != kScalarNames[k]) continue;
          std::optional<int64_t> millis = ToMillis(r.scalar().value());
          if (millis && *millis > 0) {
            state.scalars[k].push_back({i, *millis});
            state.available[k] += *millis;
          }
        }
      } else if (r.type() == ::mesos::v1::Value::RANGES && r.name() == "ports") {
        PortSlice slice{i, PortRanges(r)};
        for (const Range& range : slice.free) state.free_ports += range.end - range.begin + 1;
        if (!slice.free.empty()) state.ports.push_back(std::move(slice));
      }
    }
  }
  for (const auto& attribute : offer.attributes()) {
    state.attributes.emplace_back(attribute.name(), AttributeValueString(attribute));
  }
  return state;
}

std::string FormatScalar(double value) {
  if (!std::isfinite(value)) return absl::StrCat(value);
  std::string s = absl::StrFormat("%.3f", value);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

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

  bool Matches(int32_t value) {
    if (matches.size() <= static_cast<size_t>(value)) matches.resize(field->values.size(), -1);
    int8_t& known = matches[value];
    if (known < 0) known = RE2::FullMatch(field->values[value], *regex) ? 1 : 0;
    return known == 1;
  }

  // Marathon's predicate for a task on an agent with `value` (-1: the agent
  // lacks the field).
  bool Satisfied(int32_t value) {
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

  void Record(int32_t value) {
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
};

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

enum class Mode {
  kFirstFit,  // no GROUP_BY: every constraint only tightens as tasks are placed
  kGroupBy,   // one GROUP_BY: per-value cursors, least-used value first
  kScan,      // several GROUP_BYs: scan every offer for every task
};

struct ServiceState {
  size_t queue_index = 0;
  const QueuedService* queued = nullptr;
  std::string role;
  int64_t need[kNumScalars] = {};
  std::vector<uint32_t> fixed_ports;
  int dynamic_ports = 0;
  std::vector<CompiledConstraint> constraints;
  Mode mode = Mode::kFirstFit;
  int requested = 0;
  int remaining = 0;
  // kFirstFit: offers before `cursor` can take no more of this service's
  // tasks (resources and these constraints only tighten).
  size_t cursor = 0;
  // kGroupBy: the driving constraint; the next value id that may still have
  // no task; the values with tasks by (count, id); per value, how many of
  // its offers can take no more.
  int group_by = -1;
  int32_t next_new_value = 0;
  std::set<std::pair<int, int32_t>> used_values;
  absl::flat_hash_map<int32_t, size_t> value_cursor;
  std::vector<int> tally;                                // offers per Reason
  TaskInfo base;                                         // what every task of the service shares
  std::vector<std::pair<std::string, std::string>> env;  // the spec's, sorted
  bool sets_host = false;

  const v1::ServiceSpec& spec() const { return *queued->spec; }
};

std::string TaskName(const std::string& service_name) {
  // "team/web" -> "web.team", a DNS name as Marathon makes (for Mesos-DNS).
  std::vector<absl::string_view> labels = absl::StrSplit(service_name, '/');
  std::reverse(labels.begin(), labels.end());
  return absl::StrJoin(labels, ".");
}

int64_t DurationNanos(const google::protobuf::Duration& d) {
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1000000000 - 1;
  const int64_t seconds = std::clamp<int64_t>(d.seconds(), -kMaxSeconds, kMaxSeconds);
  return seconds * 1000000000 + d.nanos();
}

TaskInfo BaseTaskInfo(const QueuedService& queued) {
  const v1::ServiceSpec& spec = *queued.spec;
  TaskInfo info;
  info.set_name(TaskName(spec.name()));
  ::mesos::v1::CommandInfo* command = info.mutable_command();
  if (spec.command().has_argv()) {
    command->set_shell(false);
    const auto& args = spec.command().argv().args();
    if (!args.empty()) command->set_value(args[0]);
    for (const std::string& arg : args) command->add_arguments(arg);
  } else {
    command->set_shell(true);
    command->set_value(spec.command().shell());
  }
  if (!spec.command().user().empty()) command->set_user(spec.command().user());
  if (!spec.container().docker_image().empty()) {
    ::mesos::v1::ContainerInfo* container = info.mutable_container();
    container->set_type(::mesos::v1::ContainerInfo::MESOS);
    ::mesos::v1::Image* image = container->mutable_mesos()->mutable_image();
    image->set_type(::mesos::v1::Image::DOCKER);
    image->mutable_docker()->set_name(spec.container().docker_image());
    image->set_cached(!spec.container().force_pull_image());
  }
  std::vector<std::pair<std::string, std::string>> labels(spec.labels().begin(),
                                                          spec.labels().end());
  std::sort(labels.begin(), labels.end());
  labels.emplace_back("mast.io/service", spec.name());
  labels.emplace_back("mast.io/version", absl::StrCat(queued.version));
  for (auto& [key, value] : labels) {
    ::mesos::v1::Label* label = info.mutable_labels()->add_labels();
    label->set_key(std::move(key));
    label->set_value(std::move(value));
  }
  if (spec.has_kill_grace_period()) {
    info.mutable_kill_policy()->mutable_grace_period()->set_nanoseconds(
        DurationNanos(spec.kill_grace_period()));
  }
  ::mesos::v1::DiscoveryInfo* discovery = info.mutable_discovery();
  discovery->set_visibility(::mesos::v1::DiscoveryInfo::FRAMEWORK);
  discovery->set_name(info.name());
  return info;
}

bool PortFree(const OfferState& o, uint64_t port) {
  for (const PortSlice& slice : o.ports) {
    for (const Range& range : slice.free) {
      if (port < range.begin) break;
      if (port <= range.end) return true;
    }
  }
  return false;
}

bool PortsFit(const ServiceState& s, const OfferState& o) {
  if (s.fixed_ports.empty() && s.dynamic_ports == 0) return true;
  if (o.free_ports < s.fixed_ports.size() + static_cast<uint64_t>(s.dynamic_ports)) return false;
  for (uint32_t port : s.fixed_ports) {
    if (!PortFree(o, port)) return false;
  }
  return true;
}

class Matcher {
 public:
  Matcher(const std::vector<Offer>& offers, const std::vector<QueuedService>& queue,
          absl::FunctionRef<std::string(const v1::ServiceSpec&)> new_task_id,
          const MatchOptions& options)
      : options_(options), new_task_id_(new_task_id) {
    offers_.reserve(offers.size());
    for (const Offer& offer : offers) offers_.push_back(MakeOfferState(offer, options));
    next_live_.resize(offers_.size() + 1);
    for (size_t i = 0; i <= offers_.size(); ++i) next_live_[i] = i;
    for (size_t i = 0; i < queue.size(); ++i) {
      if (queue[i].spec == nullptr || queue[i].to_launch <= 0) continue;
      services_.push_back(MakeServiceState(i, queue[i]));
    }
    for (int k : {kCpus, kMem}) {
      min_need_[k] = std::numeric_limits<int64_t>::max();
      for (const ServiceState& s : services_) min_need_[k] = std::min(min_need_[k], s.need[k]);
    }
  }

  OfferPlan Run() {
    // Services take turns, one task each, until none can place another.
    std::vector<size_t> active(services_.size());
    for (size_t i = 0; i < active.size(); ++i) active[i] = i;
    while (!active.empty()) {
      size_t kept = 0;
      for (size_t index : active) {
        ServiceState& s = services_[index];
        const size_t o = FindOffer(s);
        if (o == kNone) continue;
        Place(s, o);
        if (--s.remaining > 0) active[kept++] = index;
      }
      active.resize(kept);
    }
    OfferPlan plan;
    for (OfferState& o : offers_) {
      if (o.tasks.empty()) {
        plan.unused.push_back(o.offer->id());
      } else {
        plan.launches.push_back({o.offer->id(), std::move(o.tasks)});
      }
    }
    for (ServiceState& s : services_) {
      if (s.remaining > 0) plan.unmet_reasons.push_back(UnmetReason(s));
    }
    return plan;
  }

 private:
  FieldIndex* Field(const std::string& name) {
    std::unique_ptr<FieldIndex>& field = fields_[name];
    if (field != nullptr) return field.get();
    field = std::make_unique<FieldIndex>();
    field->name = name;
    field->offer_value.assign(offers_.size(), -1);
    for (size_t o = 0; o < offers_.size(); ++o) {
      const std::string* value = nullptr;
      if (name == "hostname") {
        value = &offers_[o].offer->hostname();
      } else {
        for (const auto& [attribute, attribute_value] : offers_[o].attributes) {
          if (attribute == name) {
            value = &attribute_value;
            break;
          }
        }
      }
      if (value == nullptr) {
        ++field->missing;
        continue;
      }
      const int32_t id = field->Intern(*value);
      field->offer_value[o] = id;
      field->offers_of_value[id].push_back(o);
    }
    return field.get();
  }

  ServiceState MakeServiceState(size_t index, const QueuedService& queued) {
    const v1::ServiceSpec& spec = *queued.spec;
    ServiceState s;
    s.queue_index = index;
    s.queued = &queued;
    s.role = spec.role().empty() ? options_.default_role : spec.role();
    const double amounts[kNumScalars] = {spec.resources().cpus(), spec.resources().mem_mib(),
                                         spec.resources().disk_mib(),
                                         static_cast<double>(spec.resources().gpus())};
    for (int k = 0; k < kNumScalars; ++k) {
      // An unusable amount (NaN, negative) fits nowhere.
      s.need[k] = ToMillis(amounts[k]).value_or(std::numeric_limits<int64_t>::max());
    }
    for (const v1::PortSpec& port : spec.ports()) {
      if (port.number() == 0) {
        ++s.dynamic_ports;
      } else {
        s.fixed_ports.push_back(port.number());
      }
    }
    int group_bys = 0;
    for (int i = 0; i < spec.constraints_size(); ++i) {
      const v1::Constraint& c = spec.constraints(i);
      s.constraints.push_back(Compile(c, Field(c.field())));
      if (s.constraints.back().op == v1::Constraint::GROUP_BY) {
        ++group_bys;
        s.group_by = i;
      }
    }
    s.mode = group_bys == 0 ? Mode::kFirstFit : group_bys == 1 ? Mode::kGroupBy : Mode::kScan;
    for (const Placement& placement : queued.existing) {
      for (CompiledConstraint& c : s.constraints) {
        if (std::optional<std::string> value = PlacementValue(placement, c.spec->field())) {
          c.Record(c.field->Intern(*value));
        }
      }
    }
    s.requested = s.remaining = queued.to_launch;
    s.tally.assign(kConstraint + s.constraints.size(), 0);
    if (s.mode == Mode::kGroupBy) {
      const CompiledConstraint& c = s.constraints[s.group_by];
      if (c.broken) {
        s.tally[kConstraint + s.group_by] = static_cast<int>(offers_.size());
      } else {
        // Offers without the field never satisfy GROUP_BY.
        s.tally[kConstraint + s.group_by] = c.field->missing;
        for (const auto& [value, count] : c.counts) s.used_values.emplace(count, value);
      }
    }
    s.base = BaseTaskInfo(queued);
    s.env.assign(spec.env().begin(), spec.env().end());
    std::sort(s.env.begin(), s.env.end());
    s.sets_host = spec.env().count("HOST") > 0;
    return s;
  }

  // Whether a task of `s` fits offer `o` now; constraint `skip` is not
  // checked.
  int Check(ServiceState& s, size_t o, int skip) {
    const OfferState& offer = offers_[o];
    if (offer.role != s.role) return kRole;
    for (int k = 0; k < kNumScalars; ++k) {
      if (offer.available[k] < s.need[k]) return kShortCpus + k;
    }
    if (!PortsFit(s, offer)) return kShortPorts;
    for (size_t i = 0; i < s.constraints.size(); ++i) {
      if (static_cast<int>(i) == skip) continue;
      CompiledConstraint& c = s.constraints[i];
      if (!c.Satisfied(c.field->offer_value[o])) return kConstraint + static_cast<int>(i);
    }
    return kFits;
  }

  // The first offer at or after `i` not yet used up for every service.
  size_t NextLive(size_t i) {
    size_t root = i;
    while (next_live_[root] != root) root = next_live_[root];
    while (next_live_[i] != root) i = std::exchange(next_live_[i], root);
    return root;
  }

  size_t FindOffer(ServiceState& s) {
    switch (s.mode) {
      case Mode::kFirstFit:
        // Resources and these constraints only tighten as tasks are placed,
        // so an offer that failed once is never looked at again.
        while (true) {
          const size_t live = NextLive(s.cursor);
          s.tally[kUsedUp] += static_cast<int>(live - s.cursor);
          s.cursor = live;
          if (s.cursor >= offers_.size()) return kNone;
          const int reason = Check(s, s.cursor, -1);
          if (reason == kFits) return s.cursor;
          ++s.tally[reason];
          ++s.cursor;
        }
      case Mode::kGroupBy:
        return FindGroupByOffer(s);
      case Mode::kScan:
        return FindScanOffer(s);
    }
    return kNone;
  }

  // The first offer of `value` that takes a task of `s`, past those that
  // no longer can; kNone when none is left.
  size_t NextOfValue(ServiceState& s, int32_t value) {
    const std::vector<size_t>& offers = s.constraints[s.group_by].field->offers_of_value[value];
    size_t& cursor = s.value_cursor[value];
    while (cursor < offers.size()) {
      const int reason = Check(s, offers[cursor], s.group_by);
      if (reason == kFits) return offers[cursor];
      ++s.tally[reason];
      ++cursor;
    }
    return kNone;
  }

  // Marathon allows a value with no task yet, or, once there are `limit`
  // groups, one whose count is the smallest of all groups (a group no offer
  // has now then holds the others back). Among the allowed values, one
  // without tasks comes first (in offer order), then the least used.
  size_t FindGroupByOffer(ServiceState& s) {
    const CompiledConstraint& c = s.constraints[s.group_by];
    if (c.broken) return kNone;
    const int32_t values = static_cast<int32_t>(c.field->values.size());
    for (; s.next_new_value < values; ++s.next_new_value) {
      if (c.Count(s.next_new_value) > 0) continue;
      const size_t o = NextOfValue(s, s.next_new_value);
      if (o != kNone) return o;
    }
    while (!s.used_values.empty()) {
      const auto [count, value] = *s.used_values.begin();
      if (c.groups < c.limit || count != c.MinGroupCount()) return kNone;
      const size_t o = NextOfValue(s, value);
      if (o != kNone) return o;
      s.used_values.erase(s.used_values.begin());
    }
    return kNone;
  }

  // Several GROUP_BYs: each is Marathon's predicate; among the offers that
  // fit, the one whose values have the fewest tasks wins, ties in offer
  // order. O(offers) per task: a rare shape, correct rather than fast.
  size_t FindScanOffer(ServiceState& s) {
    size_t best = kNone;
    int64_t best_load = 0;
    for (size_t o = 0; o < offers_.size(); ++o) {
      if (Check(s, o, -1) != kFits) continue;
      int64_t load = 0;
      for (const CompiledConstraint& c : s.constraints) {
        if (c.op == v1::Constraint::GROUP_BY) load += c.Count(c.field->offer_value[o]);
      }
      if (best == kNone || load < best_load) {
        best = o;
        best_load = load;
      }
    }
    return best;
  }

  void Place(ServiceState& s, size_t offer_index) {
    OfferState& o = offers_[offer_index];
    const v1::ServiceSpec& spec = s.spec();
    PlannedTask task;
    task.queue_index = s.queue_index;
    TaskInfo& info = task.info;
    info = s.base;
    info.mutable_task_id()->set_value(new_task_id_(spec));
    *info.mutable_agent_id() = o.offer->agent_id();
    for (int k = 0; k < kNumScalars; ++k) TakeScalar(o, k, s.need[k], info);
    task.host_ports = TakePorts(spec, o, info);

    ::mesos::v1::Environment* env = info.mutable_command()->mutable_environment();
    const auto add_env = [env](std::string name, std::string value) {
      ::mesos::v1::Environment::Variable* variable = env->add_variables();
      variable->set_name(std::move(name));
      variable->set_value(std::move(value));
    };
    for (const auto& [name, value] : s.env) add_env(name, value);
    if (!s.sets_host) add_env("HOST", o.offer->hostname());
    if (!task.host_ports.empty()) {
      add_env("PORTS", absl::StrJoin(task.host_ports, ","));
      add_env("PORT", absl::StrCat(task.host_ports[0]));
    }
    for (size_t i = 0; i < task.host_ports.size(); ++i) {
      add_env(absl::StrCat("PORT", i), absl::StrCat(task.host_ports[i]));
    }
    for (int i = 0; i < spec.ports_size(); ++i) {
      if (spec.ports(i).name().empty()) continue;
      std::string name = absl::StrCat("PORT_", spec.ports(i).name());
      for (char& ch : name) ch = ch == '-' ? '_' : absl::ascii_toupper(ch);
      add_env(std::move(name), absl::StrCat(task.host_ports[i]));
    }
    add_env("MAST_SERVICE", spec.name());
    add_env("MAST_SERVICE_VERSION", absl::StrCat(s.queued->version));

    ::mesos::v1::DiscoveryInfo* discovery = info.mutable_discovery();
    for (int i = 0; i < spec.ports_size(); ++i) {
      ::mesos::v1::Port* port = discovery->mutable_ports()->add_ports();
      port->set_number(task.host_ports[i]);
      if (!spec.ports(i).name().empty()) port->set_name(spec.ports(i).name());
      port->set_protocol(spec.ports(i).protocol().empty() ? "tcp" : spec.ports(i).protocol());
    }

    for (size_t i = 0; i < s.constraints.size(); ++i) {
      CompiledConstraint& c = s.constraints[i];
      const int32_t value = c.field->offer_value[offer_index];
      if (value < 0) continue;
      if (static_cast<int>(i) == s.group_by && s.mode == Mode::kGroupBy) {
        const int count = c.Count(value);
        if (count > 0) s.used_values.erase({count, value});
        s.used_values.emplace(count + 1, value);
      }
      c.Record(value);
    }
    o.tasks.push_back(std::move(task));

    // An offer a placement left below every service's cpus or mem is
    // skipped from now on. (Offers too small from the start are looked at,
    // so their unmet reason names the resource.)
    if (o.available[kCpus] < min_need_[kCpus] || o.available[kMem] < min_need_[kMem]) {
      next_live_[offer_index] = offer_index + 1;
    }
  }

  static Resource* AddPiece(const OfferState& o, int resource, TaskInfo& info) {
    Resource* r = info.add_resources();
    *r = o.offer->resources(resource);
    r->clear_scalar();
    r->clear_ranges();
    r->clear_set();
    if (!r->has_allocation_info() && o.offer->has_allocation_info()) {
      *r->mutable_allocation_info() = o.offer->allocation_info();
    }
    return r;
  }

  static void TakeScalar(OfferState& o, int kind, int64_t need, TaskInfo& info) {
    for (ScalarSlice& slice : o.scalars[kind]) {
      if (need == 0) break;
      const int64_t take = std::min(slice.available, need);
      if (take == 0) continue;
      AddPiece(o, slice.resource, info)
          ->mutable_scalar()
          ->set_value(static_cast<double>(take) / 1000);
      slice.available -= take;
      o.available[kind] -= take;
      need -= take;
    }
  }

  // Fixed numbers first, then the lowest free ports (reserved ranges
  // first); returns the host ports in spec order.
  static std::vector<uint32_t> TakePorts(const v1::ServiceSpec& spec, OfferState& o,
                                         TaskInfo& info) {
    std::vector<uint32_t> host_ports(spec.ports_size(), 0);
    std::vector<std::vector<uint64_t>> taken(o.ports.size());
    const auto remove = [&](size_t slice, uint64_t port) {
      std::vector<Range>& free = o.ports[slice].free;
      for (size_t r = 0; r < free.size(); ++r) {
        if (port < free[r].begin || port > free[r].end) continue;
        if (free[r].begin == free[r].end) {
          free.erase(free.begin() + static_cast<ptrdiff_t>(r));
        } else if (port == free[r].begin) {
          ++free[r].begin;
        } else if (port == free[r].end) {
          --free[r].end;
        } else {
          const Range upper{port + 1, free[r].end};
          free[r].end = port - 1;
          free.insert(free.begin() + static_cast<ptrdiff_t>(r) + 1, upper);
        }
        taken[slice].push_back(port);
        --o.free_ports;
        return true;
      }
      return false;
    };
    for (int i = 0; i < spec.ports_size(); ++i) {
      if (spec.ports(i).number() == 0) continue;
      for (size_t slice = 0; slice < o.ports.size(); ++slice) {
        if (remove(slice, spec.ports(i).number())) {
          host_ports[i] = spec.ports(i).number();
          break;
        }
      }
    }
    for (int i = 0; i < spec.ports_size(); ++i) {
      if (spec.ports(i).number() != 0) continue;
      for (size_t slice = 0; slice < o.ports.size(); ++slice) {
        if (o.ports[slice].free.empty()) continue;
        const uint64_t port = o.ports[slice].free.front().begin;
        remove(slice, port);
        host_ports[i] = static_cast<uint32_t>(port);
        break;
      }
    }
    for (size_t slice = 0; slice < taken.size(); ++slice) {
      std::vector<uint64_t>& ports = taken[slice];
      if (ports.empty()) continue;
      std::sort(ports.begin(), ports.end());
      ::mesos::v1::Value::Ranges* ranges =
          AddPiece(o, o.ports[slice].resource, info)->mutable_ranges();
      for (uint64_t port : ports) {
        const int last = ranges->range_size() - 1;
        if (last >= 0 && ranges->range(last).end() + 1 == port) {
          ranges->mutable_range(last)->set_end(port);
        } else {
          ::mesos::v1::Value::Range* range = ranges->add_range();
          range->set_begin(port);
          range->set_end(port);
        }
      }
    }
    return host_ports;
  }

  static std::string ReasonText(const ServiceState& s, int reason) {
    switch (reason) {
      case kRole:
        return absl::StrCat("for another role than '", s.role, "'");
      case kShortCpus:
      case kShortMem:
      case kShortDisk:
      case kShortGpus:
        return absl::StrCat("insufficient ", kScalarNames[reason - kShortCpus]);
      case kShortPorts:
        return "insufficient ports";
      case kUsedUp:
        return "used up by this plan";
      case kHeldBack:
        return absl::StrCat("held back by GROUP_BY ", s.constraints[s.group_by].spec->field(),
                            " (evening out)");
      default: {
        const v1::Constraint& c = *s.constraints[reason - kConstraint].spec;
        return absl::StrCat("constraints[", reason - kConstraint, "] ", c.field(), " ",
                            v1::Constraint::Operator_Name(c.operator_()),
                            c.value().empty() ? "" : " ", c.value());
      }
    }
  }

  std::string UnmetReason(ServiceState& s) {
    const std::string head = absl::StrCat(s.spec().name(), ": ", s.remaining, " of ", s.requested,
                                          " tasks not placed; ");
    if (offers_.empty()) return absl::StrCat(head, "no offers");
    if (s.mode == Mode::kScan) {
      for (size_t o = 0; o < offers_.size(); ++o) {
        const int reason = Check(s, o, -1);
        // Fits but refused: a GROUP_BY would be uneven (Marathon's rule).
        ++s.tally[reason == kFits ? kHeldBack : reason];
      }
    }
    int tallied = 0;
    for (int n : s.tally) tallied += n;
    // kGroupBy: the offers of values held back were never tried.
    if (tallied < static_cast<int>(offers_.size())) {
      s.tally[kHeldBack] += static_cast<int>(offers_.size()) - tallied;
    }
    std::vector<std::string> parts;
    for (int reason = 0; reason < static_cast<int>(s.tally.size()); ++reason) {
      if (s.tally[reason] > 0) {
        parts.push_back(absl::StrCat(s.tally[reason], " ", ReasonText(s, reason)));
      }
    }
    return absl::StrCat(head, "of ", offers_.size(), " offers: ", absl::StrJoin(parts, ", "));
  }

  const MatchOptions& options_;
  absl::FunctionRef<std::string(const v1::ServiceSpec&)> new_task_id_;
  std::vector<OfferState> offers_;
  absl::flat_hash_map<std::string, std::unique_ptr<FieldIndex>> fields_;
  std::vector<ServiceState> services_;
  // Skip list over offers used up for every service: next_live_[i] == i
  // when offer i is live, else a later offer (path-compressed).
  std::vector<size_t> next_live_;
  int64_t min_need_[kNumScalars] = {};
};

}  // namespace

std::string AttributeValueString(const ::mesos::v1::Attribute& attribute) {
  switch (attribute.type()) {
    case ::mesos::v1::Value::SCALAR:
      return FormatScalar(attribute.scalar().value());
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

OfferPlan MatchOffers(const std::vector<::mesos::v1::Offer>& offers,
                      const std::vector<QueuedService>& queue,
                      absl::FunctionRef<std::string(const v1::ServiceSpec&)> new_task_id,
                      const MatchOptions& options) {
  return Matcher(offers, queue, new_task_id, options).Run();
}

}  // namespace mast
