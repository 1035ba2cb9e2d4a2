#include "scheduler/control/offer_matcher.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scheduler/control/offer_constraints.h"
#include "scheduler/control/offer_resources.h"
#include "scheduler/control/offer_task_info.h"
#include "store/networks.h"

namespace mast {
namespace {

using ::mesos::v1::Offer;
using ::mesos::v1::TaskInfo;
using offer_matching::AddPlacementToTaskInfo;
using offer_matching::Compile;
using offer_matching::CompiledConstraint;
using offer_matching::FieldIndex;
using offer_matching::kCpus;
using offer_matching::kMem;
using offer_matching::kNumScalars;
using offer_matching::kScalarNames;
using offer_matching::MakeOfferState;
using offer_matching::MakeTaskTemplate;
using offer_matching::OfferState;
using offer_matching::PlacementValue;
using offer_matching::PortsFit;
using offer_matching::TakePorts;
using offer_matching::TakeScalar;
using offer_matching::TaskTemplate;
using offer_matching::ToMillis;

constexpr size_t kNone = std::numeric_limits<size_t>::max();

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
  std::vector<int> tally;  // offers per Reason
  TaskTemplate task_template;

  const v1::ServiceSpec& spec() const { return *queued->spec; }
};

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
      if (s.remaining > 0) {
        plan.unmet_reasons.push_back(UnmetReason(s));
        plan.unmet.push_back({s.queue_index, PlacementOf(s, plan.unmet_reasons.back())});
      }
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
      if (!TakesHostPort(port)) continue;
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
    s.task_template = MakeTaskTemplate(queued);
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
    if (!PortsFit(s.fixed_ports, s.dynamic_ports, offer)) return kShortPorts;
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
    info = s.task_template.base;
    info.mutable_task_id()->set_value(new_task_id_(spec));
    *info.mutable_agent_id() = o.offer->agent_id();
    for (int k = 0; k < kNumScalars; ++k) TakeScalar(o, k, s.need[k], info);
    task.host_ports = TakePorts(spec, o, info);

    AddPlacementToTaskInfo(s.task_template, *s.queued, o.offer->hostname(), task.host_ports, info);

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

  // The requirement `reason` names, as PlacementStatus spells it.
  static std::string Requirement(const ServiceState& s, int reason) {
    switch (reason) {
      case kFits:
        return "";
      case kRole:
        return "role";
      case kShortCpus:
      case kShortMem:
      case kShortDisk:
      case kShortGpus:
        return std::string(kScalarNames[reason - kShortCpus]);
      case kShortPorts:
        return "ports";
      case kUsedUp:
        return "used up";
      case kHeldBack:
        return "group_by";
      default:
        return ReasonText(s, reason);  // the constraint, spelled out
    }
  }

  // After UnmetReason (which completes the tallies).
  v1::PlacementStatus PlacementOf(ServiceState& s, const std::string& summary) {
    constexpr size_t kLastOffers = 5;
    v1::PlacementStatus placement;
    placement.set_waiting(static_cast<uint32_t>(s.remaining));
    placement.set_offers(static_cast<uint32_t>(offers_.size()));
    for (int reason = 0; reason < static_cast<int>(s.tally.size()); ++reason) {
      if (s.tally[reason] <= 0) continue;
      v1::PlacementStatus::Refusal* refusal = placement.add_refused();
      refusal->set_requirement(Requirement(s, reason));
      refusal->set_offers(static_cast<uint32_t>(s.tally[reason]));
    }
    for (size_t o = 0; o < std::min(kLastOffers, offers_.size()); ++o) {
      v1::PlacementStatus::OfferRefusal* offer = placement.add_last_offers();
      offer->set_agent(offers_[o].offer->hostname());
      const int reason = Check(s, o, -1);
      offer->set_requirement(reason == kFits ? "used up" : Requirement(s, reason));
    }
    const size_t colon = summary.find(": ");
    placement.set_summary(colon == std::string::npos ? summary : summary.substr(colon + 2));
    return placement;
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

bool GoingDownSoon(const ::mesos::v1::Offer& offer, absl::Time now, absl::Duration horizon) {
  if (!offer.has_unavailability()) return false;
  const ::mesos::v1::Unavailability& window = offer.unavailability();
  const absl::Time start = absl::FromUnixNanos(window.start().nanoseconds());
  const absl::Time end = window.has_duration()
                             ? start + absl::Nanoseconds(window.duration().nanoseconds())
                             : absl::InfiniteFuture();
  return start <= now + horizon && end > now;
}

OfferPlan MatchOffers(const std::vector<::mesos::v1::Offer>& offers,
                      const std::vector<QueuedService>& queue,
                      absl::FunctionRef<std::string(const v1::ServiceSpec&)> new_task_id,
                      const MatchOptions& options) {
  if (!options.now.has_value()) return Matcher(offers, queue, new_task_id, options).Run();
  // Offers of agents going down go last: first fit reaches them only when
  // the others cannot take a task. The plan keeps the input order.
  std::vector<size_t> order;
  std::vector<size_t> last;
  for (size_t i = 0; i < offers.size(); ++i) {
    (GoingDownSoon(offers[i], *options.now, options.maintenance_horizon) ? last : order)
        .push_back(i);
  }
  if (last.empty()) return Matcher(offers, queue, new_task_id, options).Run();
  order.insert(order.end(), last.begin(), last.end());
  std::vector<::mesos::v1::Offer> ordered;
  ordered.reserve(offers.size());
  absl::flat_hash_map<std::string, size_t> input_index;
  for (size_t i : order) {
    ordered.push_back(offers[i]);
    input_index[offers[i].id().value()] = i;
  }
  OfferPlan plan = Matcher(ordered, queue, new_task_id, options).Run();
  const auto index_of = [&](const ::mesos::v1::OfferID& id) { return input_index[id.value()]; };
  std::stable_sort(plan.launches.begin(), plan.launches.end(),
                   [&](const OfferLaunch& a, const OfferLaunch& b) {
                     return index_of(a.offer_id) < index_of(b.offer_id);
                   });
  std::stable_sort(plan.unused.begin(), plan.unused.end(),
                   [&](const ::mesos::v1::OfferID& a, const ::mesos::v1::OfferID& b) {
                     return index_of(a) < index_of(b);
                   });
  return plan;
}

}  // namespace mast
