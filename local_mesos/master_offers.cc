// The local master's allocator: allocation rounds, offers and their filters, and the calls
// about offers (DECLINE, REVIVE, SUPPRESS). ACCEPT is in master_accept.cc.

#include <algorithm>
#include <cmath>
#include <regex>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "local_mesos/master_state.h"

namespace mast::local {

namespace mesos_v1 = ::mesos::v1;
using Call = mesos_v1::scheduler::Call;
using Event = mesos_v1::scheduler::Event;

namespace {

constexpr double kMaxRefuseSeconds = 365.0 * 24 * 3600;  // refuse_seconds cap: a year

using Constraint = mesos_v1::scheduler::AttributeConstraint;

bool ConstraintMatches(const Constraint& constraint, const std::optional<std::string>& value) {
  const auto& predicate = constraint.predicate();
  switch (predicate.predicate_case()) {
    case Constraint::Predicate::kExists:
      return value.has_value();
    case Constraint::Predicate::kNotExists:
      return !value.has_value();
    case Constraint::Predicate::kTextEquals:
      return value.has_value() && *value == predicate.text_equals().value();
    case Constraint::Predicate::kTextNotEquals:
      return !value.has_value() || *value != predicate.text_not_equals().value();
    case Constraint::Predicate::kTextMatches:
    case Constraint::Predicate::kTextNotMatches: {
      const bool negate = predicate.has_text_not_matches();
      if (!value.has_value()) return negate;
      const std::string& regex =
          negate ? predicate.text_not_matches().regex() : predicate.text_matches().regex();
      try {
        return std::regex_match(*value, std::regex(regex, std::regex::ECMAScript)) != negate;
      } catch (const std::regex_error&) {
        return false;
      }
    }
    case Constraint::Predicate::PREDICATE_NOT_SET:
      return true;
  }
  return true;
}

}  // namespace

// ---- Allocation ----

bool LocalMaster::State::Allocatable(const Framework& framework, const std::string& role,
                                     const Agent& agent, const Resources& available) const {
  // Minimum offer shape: the framework's offer_filters for the role, else the master default.
  auto filters = framework.info.offer_filters().find(role);
  if (filters != framework.info.offer_filters().end() &&
      filters->second.min_allocatable_resources().quantities_size() > 0) {
    bool any = false;
    for (const auto& quantities : filters->second.min_allocatable_resources().quantities()) {
      bool all = true;
      for (const auto& [name, scalar] : quantities.quantities()) {
        if (available.Quantity(name) < scalar.value()) all = false;
      }
      any = any || all;
    }
    if (!any) return false;
  } else if (!MeetsDefaultMinAllocatable(available)) {
    return false;
  }
  // Decline filters: nothing contained in a refused set until it expires.
  auto refused = framework.filters.find({agent.index, role});
  if (refused != framework.filters.end()) {
    const absl::Time now = loop_.clock().Now();
    for (const Filter& filter : refused->second) {
      if (filter.expires > now && filter.refused.Contains(available)) return false;
    }
  }
  // Offer constraints: any group whose constraints all hold.
  auto constraints = framework.constraints.role_constraints().find(role);
  if (constraints != framework.constraints.role_constraints().end()) {
    bool any = false;
    for (const auto& group : constraints->second.groups()) {
      bool all = true;
      for (const Constraint& constraint : group.attribute_constraints()) {
        std::optional<std::string> value;
        const auto& selector = constraint.selector();
        if (selector.has_attribute_name()) {
          for (const auto& [name, text] : config_.agent_attributes) {
            if (name == selector.attribute_name()) value = text;
          }
        } else if (selector.pseudoattribute_type() == Constraint::Selector::HOSTNAME) {
          value = agent.hostname;
        }  // REGION, ZONE: the agents have no fault domain
        if (!ConstraintMatches(constraint, value)) all = false;
      }
      any = any || all;
    }
    if (!any) return false;
  }
  return true;
}

void LocalMaster::State::Allocate() {
  loop_.Cancel(allocation_timer_);
  allocation_timer_ = 0;
  allocation_scheduled_ = false;
  if (recovering_) return;
  std::vector<std::pair<Framework*, std::string>> candidates;
  for (auto& [id, framework] : frameworks_) {
    if (!framework->connected) continue;
    for (const std::string& role : FrameworkRoles(framework->info)) {
      if (framework->suppressed.count(role) == 0) candidates.emplace_back(framework.get(), role);
    }
  }
  if (candidates.empty()) return;
  std::map<std::string, Event> events;
  for (Agent& agent : agents_) {
    if (agent.status != AgentStatus::kActive) continue;
    Resources available = agent.total;
    available.Subtract(agent.used);
    available.Subtract(agent.offered);
    if (available.empty()) continue;
    for (size_t k = 0; k < candidates.size(); ++k) {
      auto& [framework, role] = candidates[(allocation_rotation_ + k) % candidates.size()];
      if (!Allocatable(*framework, role, agent, available)) continue;
      Offer offer = NewOffer(*framework, role, agent, available);
      Event& event = events[framework->id];
      event.set_type(Event::OFFERS);
      *event.mutable_offers()->add_offers() = offer.proto;
      agent.offered.Add(available);
      framework->offers.insert(offer.id);
      offers_[offer.id] = std::move(offer);
      ++stats_.offers_sent;
      break;
    }
  }
  ++allocation_rotation_;
  for (auto& [id, event] : events) {
    // The candidates are registered frameworks and nothing above removes one.
    if (Framework* framework = FindFramework(id)) SendEvent(*framework, event);
  }
}

LocalMaster::State::Offer LocalMaster::State::NewOffer(const Framework& framework,
                                                       const std::string& role, const Agent& agent,
                                                       const Resources& available) {
  const bool multi_role =
      HasCapability(framework.info, mesos_v1::FrameworkInfo::Capability::MULTI_ROLE);
  const bool refinement =
      HasCapability(framework.info, mesos_v1::FrameworkInfo::Capability::RESERVATION_REFINEMENT);
  Offer offer;
  offer.id = absl::StrCat(master_id_, "-O", next_offer_++);
  offer.framework_id = framework.id;
  offer.agent = agent.index;
  offer.role = role;
  offer.resources = available;
  mesos_v1::Offer& proto = offer.proto;
  proto.mutable_id()->set_value(offer.id);
  proto.mutable_framework_id()->set_value(framework.id);
  proto.mutable_agent_id()->set_value(agent.id);
  proto.set_hostname(agent.hostname);
  available.ToProto(proto.mutable_resources(),
                    multi_role ? std::optional<std::string>(role) : std::nullopt,
                    /*role_star=*/!refinement);
  for (const auto& [name, value] : config_.agent_attributes) {
    mesos_v1::Attribute* attribute = proto.add_attributes();
    attribute->set_name(name);
    attribute->set_type(mesos_v1::Value::TEXT);
    attribute->mutable_text()->set_value(value);
  }
  if (multi_role) proto.mutable_allocation_info()->set_role(role);
  for (const auto& [key, executor] : agent.executors) {
    if (key.first == framework.id) *proto.add_executor_ids() = executor.executor_id();
  }
  return offer;
}

void LocalMaster::State::ScheduleAllocation() {
  if (allocation_scheduled_ || recovering_) return;
  allocation_scheduled_ = true;
  allocation_timer_ = loop_.RunAfter(config_.allocation_interval, [this] {
    allocation_timer_ = 0;
    Allocate();
  });
}

const LocalMaster::State::Offer* LocalMaster::State::FindOffer(const std::string& id) const {
  auto it = offers_.find(id);
  return it == offers_.end() ? nullptr : &it->second;
}

void LocalMaster::State::RemoveOffer(const std::string& offer_id, bool rescind,
                                     std::optional<double> refuse_seconds) {
  auto it = offers_.find(offer_id);
  if (it == offers_.end()) return;
  Offer offer = std::move(it->second);
  offers_.erase(it);
  agents_[static_cast<size_t>(offer.agent)].offered.Subtract(offer.resources);
  Framework* framework = FindFramework(offer.framework_id);
  if (framework == nullptr) return;
  framework->offers.erase(offer_id);
  if (rescind) {
    Event event;
    event.set_type(Event::RESCIND);
    event.mutable_rescind()->mutable_offer_id()->set_value(offer_id);
    SendEvent(*framework, event);
    ++stats_.offers_rescinded;
  }
  if (refuse_seconds.has_value()) {
    AddFilter(*framework, offer.agent, offer.role, offer.resources, *refuse_seconds);
  }
}

void LocalMaster::State::AddFilter(Framework& framework, int agent, const std::string& role,
                                   const Resources& refused, double refuse_seconds) {
  // §5.2: 0 means no filter, negative the default 5 s, more than a year is capped.
  if (refuse_seconds == 0 || refused.empty() || std::isnan(refuse_seconds)) return;
  if (refuse_seconds < 0) refuse_seconds = 5;
  refuse_seconds = std::min(refuse_seconds, kMaxRefuseSeconds);
  const absl::Duration duration = absl::Seconds(refuse_seconds);
  Filter filter;
  filter.refused = refused;
  filter.expires = loop_.clock().Now() + duration;
  filter.id = next_filter_++;
  filter.timer =
      loop_.RunAfter(duration, [this, id = framework.id, agent, role, filter_id = filter.id] {
        Framework* f = FindFramework(id);
        if (f == nullptr) return;
        auto it = f->filters.find({agent, role});
        if (it == f->filters.end()) return;
        auto& list = it->second;
        list.erase(std::remove_if(list.begin(), list.end(),
                                  [filter_id](const Filter& x) { return x.id == filter_id; }),
                   list.end());
        if (list.empty()) f->filters.erase(it);
        Allocate();  // the refused resources are idle: offer them at once
      });
  framework.filters[{agent, role}].push_back(std::move(filter));
}

void LocalMaster::State::ClearFilters(Framework& framework, const std::set<std::string>& roles) {
  for (auto it = framework.filters.begin(); it != framework.filters.end();) {
    if (roles.count(it->first.second) == 0) {
      ++it;
      continue;
    }
    for (const Filter& filter : it->second) loop_.Cancel(filter.timer);
    it = framework.filters.erase(it);
  }
}

void LocalMaster::State::RescindAllOffers() {
  std::vector<std::string> ids;
  for (const auto& [id, offer] : offers_) ids.push_back(id);
  for (const std::string& id : ids) RemoveOffer(id, /*rescind=*/true, std::nullopt);
  LogInfo("local_master_offers_rescinded", {{"count", ids.size()}});
  ScheduleAllocation();
}

// ---- Calls about offers ----

void LocalMaster::State::Decline(Framework& framework, const Call::Decline& decline) {
  for (const mesos_v1::OfferID& id : decline.offer_ids()) {
    auto it = offers_.find(id.value());
    if (it == offers_.end() || it->second.framework_id != framework.id) continue;  // ignored
    RemoveOffer(id.value(), /*rescind=*/false, decline.filters().refuse_seconds());
    ++stats_.declined_offers;
  }
  ScheduleAllocation();
}

void LocalMaster::State::Revive(Framework& framework, const Call::Revive& revive) {
  ++stats_.revive_calls;
  const std::vector<std::string> all = FrameworkRoles(framework.info);
  std::set<std::string> roles(revive.roles().begin(), revive.roles().end());
  if (roles.empty()) roles.insert(all.begin(), all.end());
  for (const std::string& role : roles) {
    if (std::find(all.begin(), all.end(), role) == all.end()) {
      LogWarning("local_master_revive_dropped",
                 {{"framework_id", framework.id}, {"role", role}, {"msg", "not a framework role"}});
      return;
    }
  }
  for (const std::string& role : roles) framework.suppressed.erase(role);
  ClearFilters(framework, roles);
  Allocate();
}

void LocalMaster::State::Suppress(Framework& framework, const Call::Suppress& suppress) {
  ++stats_.suppress_calls;
  const std::vector<std::string> all = FrameworkRoles(framework.info);
  std::set<std::string> roles(suppress.roles().begin(), suppress.roles().end());
  if (roles.empty()) roles.insert(all.begin(), all.end());
  for (const std::string& role : roles) {
    if (std::find(all.begin(), all.end(), role) == all.end()) {
      LogWarning("local_master_suppress_dropped",
                 {{"framework_id", framework.id}, {"role", role}, {"msg", "not a framework role"}});
      return;
    }
  }
  framework.suppressed.insert(roles.begin(), roles.end());
}

}  // namespace mast::local
