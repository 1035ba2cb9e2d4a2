// The local master's allocator, offers, task launch and status updates, kills, reconciliation
// and the simulated agents' faults. Frameworks and streams are in master_state.cc.

#include <signal.h>
#include <sys/wait.h>

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

constexpr absl::Duration kMaxResendBackoff = absl::Minutes(10);
constexpr double kMaxRefuseSeconds = 365.0 * 24 * 3600;  // refuse_seconds cap: a year
constexpr size_t kMaxCompletedTasks = 1000;              // --max_completed_tasks_per_framework

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
      const bool multi_role =
          HasCapability(framework->info, mesos_v1::FrameworkInfo::Capability::MULTI_ROLE);
      const bool refinement = HasCapability(
          framework->info, mesos_v1::FrameworkInfo::Capability::RESERVATION_REFINEMENT);
      Offer offer;
      offer.id = absl::StrCat(master_id_, "-O", next_offer_++);
      offer.framework_id = framework->id;
      offer.agent = agent.index;
      offer.role = role;
      offer.resources = available;
      mesos_v1::Offer& proto = offer.proto;
      proto.mutable_id()->set_value(offer.id);
      proto.mutable_framework_id()->set_value(framework->id);
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
        if (key.first == framework->id) *proto.add_executor_ids() = executor.executor_id();
      }
      Event& event = events[framework->id];
      event.set_type(Event::OFFERS);
      *event.mutable_offers()->add_offers() = proto;
      agent.offered.Add(available);
      framework->offers.insert(offer.id);
      offers_[offer.id] = std::move(offer);
      ++stats_.offers_sent;
      break;
    }
  }
  ++allocation_rotation_;
  for (auto& [id, event] : events) SendEvent(*FindFramework(id), event);
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

std::optional<std::string> LocalMaster::State::ValidateTask(
    const Framework& framework, const mesos_v1::TaskInfo& task, const Agent& agent,
    const std::set<std::string>& seen, const std::string& role, Resources* needed) const {
  const std::string& task_id = task.task_id().value();
  if (std::optional<std::string> error = ValidateId(task_id)) return error;
  const Agent* existing_agent = nullptr;
  if (seen.count(task_id) > 0 || FindTask(framework.id, task_id, &existing_agent) != nullptr) {
    return absl::StrCat("Task has duplicate ID: ", task_id);
  }
  if (task.agent_id().value() != agent.id) {
    return absl::StrCat("Task uses invalid agent ", task.agent_id().value(), " while agent ",
                        agent.id, " is expected");
  }
  std::set<std::string> allocation_roles;
  absl::StatusOr<Resources> resources = Resources::FromProto(task.resources(), &allocation_roles);
  if (!resources.ok()) return std::string(resources.status().message());
  if (resources->empty()) return "Task uses no resources";
  if (task.has_command() == task.has_executor()) {
    return "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present";
  }
  if (task.has_kill_policy() && task.kill_policy().grace_period().nanoseconds() < 0) {
    return "Task's 'kill_policy.grace_period' must be non-negative";
  }
  *needed = *resources;
  if (task.has_executor()) {
    const mesos_v1::ExecutorInfo& executor = task.executor();
    if (std::optional<std::string> error = ValidateId(executor.executor_id().value())) {
      return absl::StrCat("Executor ID is invalid: ", *error);
    }
    if (executor.has_framework_id() && executor.framework_id().value() != framework.id) {
      return absl::StrCat("ExecutorInfo has an invalid FrameworkID (Actual: ",
                          executor.framework_id().value(), " vs Expected: ", framework.id, ")");
    }
    absl::StatusOr<Resources> executor_resources =
        Resources::FromProto(executor.resources(), &allocation_roles);
    if (!executor_resources.ok()) return std::string(executor_resources.status().message());
    if (agent.executors.count({framework.id, executor.executor_id().value()}) == 0) {
      needed->Add(*executor_resources);
    }
  }
  for (const std::string& allocated : allocation_roles) {
    if (allocated != role) {
      return absl::StrCat("Task resources are allocated to role '", allocated,
                          "' but the offer is allocated to role '", role, "'");
    }
  }
  return std::nullopt;
}

void LocalMaster::State::Accept(Framework& framework, const Call::Accept& accept) {
  std::optional<std::string> error;
  std::set<std::string> seen;
  std::vector<std::string> valid;
  int agent = -1;
  std::string role;
  if (accept.offer_ids_size() == 0) error = "No offers specified";
  for (const mesos_v1::OfferID& id : accept.offer_ids()) {
    if (!seen.insert(id.value()).second) {
      if (!error) error = absl::StrCat("Duplicate offer ", id.value(), " in offer list");
      continue;
    }
    auto it = offers_.find(id.value());
    if (it == offers_.end() || it->second.framework_id != framework.id) {
      if (!error) error = absl::StrCat("Offer ", id.value(), " is no longer valid");
      continue;
    }
    valid.push_back(id.value());
    if (agent < 0) {
      agent = it->second.agent;
      role = it->second.role;
    } else if (it->second.agent != agent && !error) {
      error = "Aggregated offers must belong to one single agent";
    } else if (it->second.role != role && !error) {
      error = "Aggregated offers must be allocated to the same role";
    }
  }
  const double refuse_seconds = accept.filters().refuse_seconds();
  if (error.has_value()) {
    LogInfo("local_master_accept_invalid", {{"framework_id", framework.id}, {"error", *error}});
    // The offers still valid are discarded, refused for the call's filter.
    for (const std::string& id : valid) RemoveOffer(id, /*rescind=*/false, refuse_seconds);
    const bool pa =
        HasCapability(framework.info, mesos_v1::FrameworkInfo::Capability::PARTITION_AWARE);
    auto drop = [&](const mesos_v1::TaskInfo& task) {
      mesos_v1::TaskStatus status;
      *status.mutable_task_id() = task.task_id();
      status.set_state(pa ? mesos_v1::TASK_DROPPED : mesos_v1::TASK_LOST);
      status.set_source(mesos_v1::TaskStatus::SOURCE_MASTER);
      status.set_reason(mesos_v1::TaskStatus::REASON_INVALID_OFFERS);
      status.set_message(absl::StrCat("Task launched with invalid offers: ", *error));
      if (task.has_agent_id()) *status.mutable_agent_id() = task.agent_id();
      status.set_timestamp(NowSeconds());
      SendMasterUpdate(framework.id, status);
    };
    for (const auto& operation : accept.operations()) {
      if (operation.type() == mesos_v1::Offer::Operation::LAUNCH) {
        for (const auto& task : operation.launch().task_infos()) drop(task);
      } else if (operation.type() == mesos_v1::Offer::Operation::LAUNCH_GROUP) {
        for (const auto& task : operation.launch_group().task_group().tasks()) drop(task);
      } else if (operation.has_id()) {
        Event event;
        event.set_type(Event::UPDATE_OPERATION_STATUS);
        auto* status = event.mutable_update_operation_status()->mutable_status();
        *status->mutable_operation_id() = operation.id();
        status->set_state(mesos_v1::OPERATION_ERROR);
        status->set_message(absl::StrCat("Operation launched with invalid offers: ", *error));
        SendEvent(framework, event);
      }
    }
    ScheduleAllocation();
    return;
  }

  Resources pool;
  for (const std::string& id : valid) {
    pool.Add(offers_.at(id).resources);
    RemoveOffer(id, /*rescind=*/false, std::nullopt);
  }
  Agent& target = agents_[static_cast<size_t>(agent)];
  std::set<std::string> launched;
  auto task_error = [&](const mesos_v1::TaskInfo& task, const std::string& message,
                        mesos_v1::TaskStatus::Reason reason) {
    mesos_v1::TaskStatus status;
    *status.mutable_task_id() = task.task_id();
    status.set_state(mesos_v1::TASK_ERROR);
    status.set_source(mesos_v1::TaskStatus::SOURCE_MASTER);
    status.set_reason(reason);
    status.set_message(message);
    if (task.has_agent_id()) *status.mutable_agent_id() = task.agent_id();
    status.set_timestamp(NowSeconds());
    SendMasterUpdate(framework.id, status);
  };
  for (const auto& operation : accept.operations()) {
    switch (operation.type()) {
      case mesos_v1::Offer::Operation::LAUNCH:
        for (const mesos_v1::TaskInfo& task : operation.launch().task_infos()) {
          Resources needed;
          std::optional<std::string> invalid =
              ValidateTask(framework, task, target, launched, role, &needed);
          if (!invalid && !pool.Contains(needed)) {
            invalid = absl::StrCat("Total resources ", needed.ToString(),
                                   " required by task and its executor is more than available ",
                                   pool.ToString());
          }
          if (invalid) {
            task_error(task, *invalid, mesos_v1::TaskStatus::REASON_TASK_INVALID);
            continue;
          }
          pool.Subtract(needed);
          launched.insert(task.task_id().value());
          LaunchTask(framework, task, agent, role, needed,
                     task.has_executor() ? task.executor().executor_id().value() : "");
        }
        break;
      case mesos_v1::Offer::Operation::LAUNCH_GROUP: {
        const auto& group = operation.launch_group();
        const mesos_v1::ExecutorInfo& executor = group.executor();
        std::optional<std::string> invalid;
        if (group.task_group().tasks_size() == 0) invalid = "Task group is empty";
        if (!invalid && executor.type() != mesos_v1::ExecutorInfo::DEFAULT &&
            executor.type() != mesos_v1::ExecutorInfo::CUSTOM) {
          invalid = "'ExecutorInfo.type' must be set";
        }
        if (!invalid) {
          if (std::optional<std::string> e = ValidateId(executor.executor_id().value())) {
            invalid = absl::StrCat("Executor ID is invalid: ", *e);
          }
        }
        Resources needed;
        if (!invalid &&
            target.executors.count({framework.id, executor.executor_id().value()}) == 0) {
          absl::StatusOr<Resources> executor_resources = Resources::FromProto(executor.resources());
          if (!executor_resources.ok()) {
            invalid = std::string(executor_resources.status().message());
          } else {
            needed = *executor_resources;
          }
        }
        std::vector<Resources> per_task;
        std::set<std::string> group_seen = launched;
        for (const mesos_v1::TaskInfo& task : group.task_group().tasks()) {
          if (invalid) break;
          if (task.has_executor()) {
            invalid = absl::StrCat("Task '", task.task_id().value(),
                                   "' in a task group must not set 'executor'");
            break;
          }
          mesos_v1::TaskInfo with_executor = task;
          *with_executor.mutable_executor() = executor;
          with_executor.clear_command();
          Resources task_needed;
          invalid = ValidateTask(framework, with_executor, target, group_seen, role, &task_needed);
          if (invalid) break;
          absl::StatusOr<Resources> own = Resources::FromProto(task.resources());
          per_task.push_back(*own);
          needed.Add(*own);
          group_seen.insert(task.task_id().value());
        }
        if (!invalid && !pool.Contains(needed)) {
          invalid = absl::StrCat("Total resources ", needed.ToString(),
                                 " required by task group and its executor is more than "
                                 "available ",
                                 pool.ToString());
        }
        if (invalid) {
          for (const mesos_v1::TaskInfo& task : group.task_group().tasks()) {
            task_error(task, *invalid, mesos_v1::TaskStatus::REASON_TASK_GROUP_INVALID);
          }
          break;
        }
        pool.Subtract(needed);
        for (int i = 0; i < group.task_group().tasks_size(); ++i) {
          mesos_v1::TaskInfo task = group.task_group().tasks(i);
          Resources charged = per_task[static_cast<size_t>(i)];
          if (i == 0) {  // the new executor's resources ride with the first task
            Resources executor_part = needed;
            for (const Resources& r : per_task) executor_part.Subtract(r);
            charged.Add(executor_part);
          }
          if (!task.has_executor()) *task.mutable_executor() = executor;
          launched.insert(task.task_id().value());
          LaunchTask(framework, task, agent, role, charged, executor.executor_id().value());
        }
        break;
      }
      default:
        LogWarning("local_master_operation_unsupported",
                   {{"framework_id", framework.id},
                    {"type", mesos_v1::Offer::Operation::Type_Name(operation.type())}});
        if (operation.has_id()) {
          Event event;
          event.set_type(Event::UPDATE_OPERATION_STATUS);
          auto* status = event.mutable_update_operation_status()->mutable_status();
          *status->mutable_operation_id() = operation.id();
          status->set_state(mesos_v1::OPERATION_ERROR);
          status->set_message(absl::StrCat("Operation ",
                                           mesos_v1::Offer::Operation::Type_Name(operation.type()),
                                           " is not supported by the local master"));
          status->mutable_agent_id()->set_value(target.id);
          SendEvent(framework, event);
        }
        break;
    }
  }
  // What was offered but not used counts as declined with the call's filters.
  AddFilter(framework, agent, role, pool, refuse_seconds);
  ScheduleAllocation();
}

// ---- Tasks ----

void LocalMaster::State::LaunchTask(Framework& framework, const mesos_v1::TaskInfo& info,
                                    int agent_index, const std::string& role,
                                    const Resources& resources, const std::string& executor_id) {
  Agent& agent = agents_[static_cast<size_t>(agent_index)];
  auto task = std::make_unique<Task>();
  task->serial = next_task_serial_++;
  task->info = info;
  task->framework_id = framework.id;
  task->framework_info = framework.info;
  task->agent = agent_index;
  task->role = role;
  task->resources = resources;
  task->executor_id = executor_id;
  task->container_id = NewUuid();
  task->resend_backoff = config_.update_retry_interval;
  agent.used.Add(resources);
  if (info.has_executor()) {
    agent.executors.emplace(TaskKey{framework.id, executor_id}, info.executor());
  }
  const TaskKey key{framework.id, info.task_id().value()};
  const uint64_t serial = task->serial;
  agent.tasks[key] = std::move(task);
  task_agents_[key] = static_cast<size_t>(agent_index);
  LogInfo("local_master_task_launched",
          {{"framework_id", framework.id}, {"task_id", key.second}, {"agent", agent.hostname}});
  // The agent gets the task after this call has been answered.
  loop_.Post([this, agent_index, key, serial] {
    Agent& a = agents_[static_cast<size_t>(agent_index)];
    auto it = a.tasks.find(key);
    if (it == a.tasks.end() || it->second->serial != serial) return;
    StartTaskOnAgent(a, *it->second);
  });
}

void LocalMaster::State::StartTaskOnAgent(Agent& agent, Task& task) {
  if (IsTerminal(task.agent_state) || task.kill_requested) return;
  const mesos_v1::CommandInfo* command = nullptr;
  if (task.info.has_command()) command = &task.info.command();
  if (runner_ && command != nullptr) {
    const std::string run_dir =
        task.executor_id.empty() ? task.info.task_id().value() : task.executor_id;
    task.sandbox = absl::StrCat(work_dir_, "/", agent.hostname, "/frameworks/", task.framework_id,
                                "/executors/", run_dir, "/runs/", task.container_id);
    TaskRunner::Launch launch;
    launch.command = *command;
    launch.sandbox = task.sandbox;
    launch.extra_env = {{"MESOS_TASK_ID", task.info.task_id().value()},
                        {"MESOS_SANDBOX", task.sandbox},
                        {"MESOS_FRAMEWORK_ID", task.framework_id},
                        {"MESOS_AGENT_ID", agent.id},
                        {"MESOS_CONTAINER_IP", "127.0.0.1"}};
    const TaskKey key{task.framework_id, task.info.task_id().value()};
    absl::StatusOr<pid_t> pid = runner_->Start(
        launch, [this, agent_index = agent.index, key, serial = task.serial](int status) {
          loop_.Post([this, agent_index, key, serial, status] {
            OnProcessExit(agent_index, key, serial, status);
          });
        });
    AgentUpdate(agent, task, mesos_v1::TASK_STARTING, "", std::nullopt,
                mesos_v1::TaskStatus::SOURCE_EXECUTOR);
    if (!pid.ok()) {
      AgentUpdate(agent, task, mesos_v1::TASK_FAILED, std::string(pid.status().message()),
                  mesos_v1::TaskStatus::REASON_COMMAND_EXECUTOR_FAILED,
                  mesos_v1::TaskStatus::SOURCE_EXECUTOR);
      return;
    }
    task.pid = *pid;
    task.process_running = true;
    AgentUpdate(agent, task, mesos_v1::TASK_RUNNING, "", std::nullopt,
                mesos_v1::TaskStatus::SOURCE_EXECUTOR);
    return;
  }
  // Simulated: the task runs until it is killed.
  AgentUpdate(agent, task, mesos_v1::TASK_STARTING, "", std::nullopt,
              mesos_v1::TaskStatus::SOURCE_EXECUTOR);
  AgentUpdate(agent, task, mesos_v1::TASK_RUNNING, "", std::nullopt,
              mesos_v1::TaskStatus::SOURCE_EXECUTOR);
}

void LocalMaster::State::AgentUpdate(Agent& agent, Task& task, mesos_v1::TaskState state,
                                     const std::string& message,
                                     std::optional<mesos_v1::TaskStatus::Reason> reason,
                                     mesos_v1::TaskStatus::Source source) {
  mesos_v1::TaskStatus status;
  *status.mutable_task_id() = task.info.task_id();
  status.set_state(state);
  if (!message.empty()) status.set_message(message);
  status.set_source(source);
  if (reason.has_value()) status.set_reason(*reason);
  status.mutable_agent_id()->set_value(agent.id);
  status.mutable_executor_id()->set_value(task.executor_id.empty() ? task.info.task_id().value()
                                                                   : task.executor_id);
  status.set_timestamp(NowSeconds());
  status.set_uuid(RandomBytes(16));
  auto* container = status.mutable_container_status();
  container->mutable_container_id()->set_value(task.container_id);
  auto* address = container->add_network_infos()->add_ip_addresses();
  address->set_protocol(mesos_v1::NetworkInfo::IPv4);
  address->set_ip_address("127.0.0.1");
  if (task.pid > 0) container->set_executor_pid(static_cast<uint32_t>(task.pid));
  task.agent_state = state;
  task.updates.push_back(Update{std::move(status)});
  if (task.updates.size() == 1) ForwardHead(agent, task);
}

void LocalMaster::State::ForwardHead(Agent& agent, Task& task) {
  if (task.updates.empty()) return;
  ArmResend(agent, task);
  // A partitioned agent, or a master still recovering, hears nothing: the agent retries.
  if (agent.status != AgentStatus::kActive || recovering_) return;
  Update& head = task.updates.front();
  // The master learns the agent's latest state with every (re)sent update.
  task.master_state = task.agent_state;
  task.status_update_state = head.status.state();
  if (!head.recorded) {
    task.statuses.push_back(head.status);
    head.recorded = true;
  }
  if (IsTerminal(task.agent_state)) ReleaseResources(agent, task);
  Framework* framework = FindFramework(task.framework_id);
  if (framework == nullptr || !framework->connected) return;  // dropped; resent later
  Event event;
  event.set_type(Event::UPDATE);
  *event.mutable_update()->mutable_status() = head.status;
  for (int i = 0; i < (duplicate_updates_ ? 2 : 1); ++i) {
    SendEvent(*framework, event);
    ++stats_.updates_sent;
  }
}

void LocalMaster::State::ArmResend(Agent& agent, Task& task) {
  loop_.Cancel(task.resend_timer);
  task.resend_timer = loop_.RunAfter(
      task.resend_backoff,
      [this, agent_index = agent.index,
       key = TaskKey{task.framework_id, task.info.task_id().value()}, serial = task.serial] {
        Agent& a = agents_[static_cast<size_t>(agent_index)];
        auto it = a.tasks.find(key);
        if (it == a.tasks.end() || it->second->serial != serial) return;
        Task& t = *it->second;
        t.resend_timer = 0;
        t.resend_backoff = std::min(t.resend_backoff * 2, kMaxResendBackoff);
        ForwardHead(a, t);
      });
}

void LocalMaster::State::SendMasterUpdate(const std::string& framework_id,
                                          mesos_v1::TaskStatus status) {
  Framework* framework = FindFramework(framework_id);
  if (framework == nullptr || !framework->connected) return;
  Event event;
  event.set_type(Event::UPDATE);
  *event.mutable_update()->mutable_status() = std::move(status);
  for (int i = 0; i < (duplicate_updates_ ? 2 : 1); ++i) {
    SendEvent(*framework, event);
    ++stats_.updates_sent;
  }
}

mesos_v1::TaskStatus LocalMaster::State::MasterStatus(const Task& task, mesos_v1::TaskState state,
                                                      const std::string& message,
                                                      mesos_v1::TaskStatus::Reason reason) const {
  mesos_v1::TaskStatus status;
  *status.mutable_task_id() = task.info.task_id();
  status.set_state(state);
  status.set_message(message);
  status.set_source(mesos_v1::TaskStatus::SOURCE_MASTER);
  status.set_reason(reason);
  status.mutable_agent_id()->set_value(agents_[static_cast<size_t>(task.agent)].id);
  status.set_timestamp(NowSeconds());
  if (!task.statuses.empty() && task.statuses.back().has_container_status()) {
    *status.mutable_container_status() = task.statuses.back().container_status();
    status.mutable_container_status()->clear_executor_pid();
  }
  return status;
}

void LocalMaster::State::ReleaseResources(Agent& agent, Task& task) {
  if (task.released) return;
  task.released = true;
  agent.used.Subtract(task.resources);
  ScheduleAllocation();
}

void LocalMaster::State::Acknowledge(Framework& framework, const Call::Acknowledge& ack) {
  Agent* agent = nullptr;
  Task* task = FindTask(framework.id, ack.task_id().value(), &agent);
  if (task == nullptr || agent->id != ack.agent_id().value() ||
      agent->status != AgentStatus::kActive || task->updates.empty() ||
      task->updates.front().status.uuid() != ack.uuid()) {
    // Asynchronous rejections are only logged (§2.3).
    LogInfo("local_master_ack_ignored",
            {{"framework_id", framework.id}, {"task_id", ack.task_id().value()}});
    return;
  }
  const mesos_v1::TaskState acked = task->updates.front().status.state();
  task->updates.pop_front();
  ++stats_.acknowledged;
  loop_.Cancel(task->resend_timer);
  task->resend_timer = 0;
  task->resend_backoff = config_.update_retry_interval;
  if (IsTerminal(acked)) {
    // The terminal update is acknowledged: master and agent forget the task.
    framework.completed_tasks_json.push_back(TaskJson(*task));
    if (framework.completed_tasks_json.size() > kMaxCompletedTasks) {
      framework.completed_tasks_json.erase(framework.completed_tasks_json.begin());
    }
    DestroyTask(*agent, TaskKey{framework.id, ack.task_id().value()});
    return;
  }
  ForwardHead(*agent, *task);
}

void LocalMaster::State::Kill(Framework& framework, const Call::Kill& kill) {
  Agent* agent = nullptr;
  Task* task = FindTask(framework.id, kill.task_id().value(), &agent);
  if (task == nullptr || task->unreachable || agent->status != AgentStatus::kActive) {
    // Unknown to the master: the reconciliation answer (§2.3).
    SendMasterUpdate(framework.id,
                     ReconcileUnknown(framework, kill.task_id(),
                                      kill.has_agent_id() ? &kill.agent_id() : nullptr));
    return;
  }
  if (kill.has_agent_id() && kill.agent_id().value() != agent->id) {
    LogInfo("local_master_kill_ignored",
            {{"task_id", kill.task_id().value()}, {"msg", "agent_id does not match"}});
    return;
  }
  if (IsTerminal(task->agent_state)) return;
  std::optional<absl::Duration> grace;
  if (kill.has_kill_policy() && kill.kill_policy().has_grace_period()) {
    grace = absl::Nanoseconds(kill.kill_policy().grace_period().nanoseconds());
  }
  if (task->kill_requested) {
    // A kill in progress may be hurried with a shorter grace period.
    if (grace.has_value() && *grace < task->kill_grace) KillOnAgent(*agent, *task, grace);
    return;
  }
  KillOnAgent(*agent, *task, grace);
}

void LocalMaster::State::KillOnAgent(Agent& agent, Task& task,
                                     std::optional<absl::Duration> grace) {
  absl::Duration period = config_.default_kill_grace;
  if (grace.has_value()) {
    period = *grace;
  } else if (task.info.kill_policy().has_grace_period()) {
    period = absl::Nanoseconds(task.info.kill_policy().grace_period().nanoseconds());
  }
  period = std::max(period, absl::ZeroDuration());
  const bool first = !task.kill_requested;
  task.kill_requested = true;
  task.kill_grace = period;
  if (first) {
    const Framework* framework = FindFramework(task.framework_id);
    const mesos_v1::FrameworkInfo& info =
        framework != nullptr ? framework->info : task.framework_info;
    if (HasCapability(info, mesos_v1::FrameworkInfo::Capability::TASK_KILLING_STATE)) {
      AgentUpdate(agent, task, mesos_v1::TASK_KILLING, "", std::nullopt,
                  mesos_v1::TaskStatus::SOURCE_EXECUTOR);
    }
    if (runner_ && task.process_running) runner_->Signal(task.pid, SIGTERM);
  }
  loop_.Cancel(task.kill_timer);
  task.kill_timer = loop_.RunAfter(
      period, [this, agent_index = agent.index,
               key = TaskKey{task.framework_id, task.info.task_id().value()},
               serial = task.serial] { OnKillGraceExpired(agent_index, key, serial); });
}

void LocalMaster::State::OnKillGraceExpired(int agent_index, const TaskKey& key, uint64_t serial) {
  Agent& agent = agents_[static_cast<size_t>(agent_index)];
  auto it = agent.tasks.find(key);
  if (it == agent.tasks.end() || it->second->serial != serial) return;
  Task& task = *it->second;
  task.kill_timer = 0;
  if (runner_ && task.process_running) {
    runner_->Signal(task.pid, SIGKILL);  // its exit reports TASK_KILLED
    return;
  }
  if (IsTerminal(task.agent_state)) return;
  // A simulated task holds on until the grace period is over.
  AgentUpdate(agent, task, mesos_v1::TASK_KILLED, "Command terminated with signal Killed",
              std::nullopt, mesos_v1::TaskStatus::SOURCE_EXECUTOR);
}

void LocalMaster::State::OnProcessExit(int agent_index, const TaskKey& key, uint64_t serial,
                                       int status) {
  Agent& agent = agents_[static_cast<size_t>(agent_index)];
  auto it = agent.tasks.find(key);
  if (it == agent.tasks.end() || it->second->serial != serial) return;
  Task& task = *it->second;
  task.process_running = false;
  loop_.Cancel(task.kill_timer);
  task.kill_timer = 0;
  if (IsTerminal(task.agent_state)) return;
  const std::string message = DescribeWaitStatus(status);
  LogInfo("local_master_task_exited", {{"task_id", key.second}, {"status", message}});
  mesos_v1::TaskState state = mesos_v1::TASK_FAILED;
  if (task.kill_requested) {
    state = mesos_v1::TASK_KILLED;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    state = mesos_v1::TASK_FINISHED;
  }
  AgentUpdate(agent, task, state, message, std::nullopt, mesos_v1::TaskStatus::SOURCE_EXECUTOR);
}

void LocalMaster::State::DestroyTask(Agent& agent, const TaskKey& key) {
  auto it = agent.tasks.find(key);
  if (it == agent.tasks.end()) return;
  Task& task = *it->second;
  loop_.Cancel(task.resend_timer);
  loop_.Cancel(task.kill_timer);
  if (runner_ && task.process_running) runner_->Signal(task.pid, SIGKILL);
  if (!task.released) {
    agent.used.Subtract(task.resources);
    task.released = true;
  }
  const std::string executor_id = task.executor_id;
  agent.tasks.erase(it);
  auto indexed = task_agents_.find(key);
  if (indexed != task_agents_.end() && indexed->second == static_cast<size_t>(agent.index)) {
    task_agents_.erase(indexed);
  }
  if (!executor_id.empty()) {
    bool in_use = false;
    for (const auto& [other_key, other] : agent.tasks) {
      if (other_key.first == key.first && other->executor_id == executor_id) in_use = true;
    }
    if (!in_use) agent.executors.erase({key.first, executor_id});
  }
}

LocalMaster::State::Task* LocalMaster::State::FindTask(const std::string& framework_id,
                                                       const std::string& task_id, Agent** agent) {
  const TaskKey key{framework_id, task_id};
  auto indexed = task_agents_.find(key);
  if (indexed == task_agents_.end()) return nullptr;
  Agent& a = agents_[indexed->second];
  auto it = a.tasks.find(key);
  if (it == a.tasks.end()) return nullptr;
  *agent = &a;
  return it->second.get();
}

const LocalMaster::State::Task* LocalMaster::State::FindTask(const std::string& framework_id,
                                                             const std::string& task_id,
                                                             const Agent** agent) const {
  const TaskKey key{framework_id, task_id};
  auto indexed = task_agents_.find(key);
  if (indexed == task_agents_.end()) return nullptr;
  const Agent& a = agents_[indexed->second];
  auto it = a.tasks.find(key);
  if (it == a.tasks.end()) return nullptr;
  *agent = &a;
  return it->second.get();
}

// ---- Reconciliation ----

mesos_v1::TaskStatus LocalMaster::State::ReconcileUnknown(const Framework& framework,
                                                          const mesos_v1::TaskID& task_id,
                                                          const mesos_v1::AgentID* agent_id) const {
  const bool pa =
      HasCapability(framework.info, mesos_v1::FrameworkInfo::Capability::PARTITION_AWARE);
  mesos_v1::TaskStatus status;
  *status.mutable_task_id() = task_id;
  status.set_source(mesos_v1::TaskStatus::SOURCE_MASTER);
  status.set_reason(mesos_v1::TaskStatus::REASON_RECONCILIATION);
  status.set_timestamp(NowSeconds());
  status.set_state(pa ? mesos_v1::TASK_UNKNOWN : mesos_v1::TASK_LOST);
  status.set_message("Reconciliation: Task is unknown");
  if (agent_id == nullptr) return status;
  *status.mutable_agent_id() = *agent_id;
  for (const Agent& agent : agents_) {
    if (agent.id != agent_id->value()) continue;
    switch (agent.status) {
      case AgentStatus::kActive:
        status.set_state(pa ? mesos_v1::TASK_GONE : mesos_v1::TASK_LOST);
        status.set_message("Reconciliation: Task is unknown to the agent");
        break;
      case AgentStatus::kUnreachable:
        status.set_state(pa ? mesos_v1::TASK_UNREACHABLE : mesos_v1::TASK_LOST);
        status.set_message("Reconciliation: Task is unreachable");
        status.mutable_unreachable_time()->set_nanoseconds(
            absl::ToUnixNanos(agent.unreachable_since));
        break;
      case AgentStatus::kGone:
        status.set_state(pa ? mesos_v1::TASK_GONE_BY_OPERATOR : mesos_v1::TASK_LOST);
        status.set_message("Reconciliation: Task is gone");
        break;
    }
  }
  return status;
}

void LocalMaster::State::Reconcile(Framework& framework, const Call::Reconcile& reconcile) {
  auto known = [&](const Task& task) {
    mesos_v1::TaskStatus status = MasterStatus(
        task, task.status_update_state.value_or(task.master_state),
        "Reconciliation: Latest task state", mesos_v1::TaskStatus::REASON_RECONCILIATION);
    if (!task.statuses.empty() && task.statuses.back().has_healthy()) {
      status.set_healthy(task.statuses.back().healthy());
    }
    return status;
  };
  if (reconcile.tasks_size() == 0) {
    // Implicit: every task the master knows for the framework.
    for (const Agent& agent : agents_) {
      if (agent.status != AgentStatus::kActive) continue;
      for (const auto& [key, task] : agent.tasks) {
        if (key.first == framework.id && !task->unreachable) {
          SendMasterUpdate(framework.id, known(*task));
        }
      }
    }
    return;
  }
  for (const auto& item : reconcile.tasks()) {
    const Agent* agent = nullptr;
    const Task* task =
        static_cast<const State*>(this)->FindTask(framework.id, item.task_id().value(), &agent);
    if (task != nullptr && !task->unreachable && agent->status == AgentStatus::kActive) {
      SendMasterUpdate(framework.id, known(*task));
    } else {
      SendMasterUpdate(framework.id,
                       ReconcileUnknown(framework, item.task_id(),
                                        item.has_agent_id() ? &item.agent_id() : nullptr));
    }
  }
}

void LocalMaster::State::ReconcileOperations(Framework& framework,
                                             const Call::ReconcileOperations& reconcile) {
  // No operation ever has feedback here: each one asked about is unknown.
  for (const auto& operation : reconcile.operations()) {
    mesos_v1::OperationState state = mesos_v1::OPERATION_UNKNOWN;
    if (operation.has_agent_id()) {
      for (const Agent& agent : agents_) {
        if (agent.id != operation.agent_id().value()) continue;
        if (agent.status == AgentStatus::kUnreachable) {
          state = mesos_v1::OPERATION_UNREACHABLE;
        } else if (agent.status == AgentStatus::kGone) {
          state = mesos_v1::OPERATION_GONE_BY_OPERATOR;
        }
      }
    }
    Event event = OperationStatusEvent(operation.operation_id(), state, "");
    if (operation.has_agent_id()) {
      *event.mutable_update_operation_status()->mutable_status()->mutable_agent_id() =
          operation.agent_id();
    }
    SendEvent(framework, event);
  }
}

// ---- Agent faults ----

void LocalMaster::State::LoseAgent(Agent& agent, bool gone) {
  const absl::Time now = loop_.clock().Now();
  if (!gone) agent.unreachable_since = now;
  mesos_v1::TimeInfo unreachable_time;
  unreachable_time.set_nanoseconds(absl::ToUnixNanos(now));
  std::vector<TaskKey> keys;
  for (const auto& [key, task] : agent.tasks) keys.push_back(key);
  for (const TaskKey& key : keys) {
    Task& task = *agent.tasks.at(key);
    const Framework* framework = FindFramework(task.framework_id);
    const mesos_v1::FrameworkInfo& info =
        framework != nullptr ? framework->info : task.framework_info;
    const bool pa = HasCapability(info, mesos_v1::FrameworkInfo::Capability::PARTITION_AWARE);
    if ((gone || !task.unreachable) && !IsTerminal(task.master_state)) {
      mesos_v1::TaskState state = gone
                                      ? (pa ? mesos_v1::TASK_GONE_BY_OPERATOR : mesos_v1::TASK_LOST)
                                      : (pa ? mesos_v1::TASK_UNREACHABLE : mesos_v1::TASK_LOST);
      mesos_v1::TaskStatus status = MasterStatus(
          task, state,
          gone ? absl::StrCat("Agent ", agent.hostname, " was marked as gone by the operator")
               : absl::StrCat("Agent ", agent.hostname, " is unreachable"),
          gone ? mesos_v1::TaskStatus::REASON_AGENT_REMOVED_BY_OPERATOR
               : mesos_v1::TaskStatus::REASON_AGENT_REMOVED);
      if (!gone) *status.mutable_unreachable_time() = unreachable_time;
      task.master_state = state;
      SendMasterUpdate(task.framework_id, status);
    }
    if (!gone && !task.unreachable) {
      task.unreachable = true;
      task.unreachable_time = unreachable_time;
    }
  }
  std::vector<std::string> offer_ids;
  for (const auto& [id, offer] : offers_) {
    if (offer.agent == agent.index) offer_ids.push_back(id);
  }
  for (const std::string& id : offer_ids) RemoveOffer(id, /*rescind=*/true, std::nullopt);
  Event failure;
  failure.set_type(Event::FAILURE);
  failure.mutable_failure()->mutable_agent_id()->set_value(agent.id);
  for (auto& [id, framework] : frameworks_) SendEvent(*framework, failure);
  if (gone) {
    for (const TaskKey& key : keys) DestroyTask(agent, key);
    agent.executors.clear();
    agent.status = AgentStatus::kGone;
  } else {
    agent.status = AgentStatus::kUnreachable;
  }
}

void LocalMaster::State::DisconnectAgent(int index) {
  if (index < 0 || index >= static_cast<int>(agents_.size()) ||
      agents_[static_cast<size_t>(index)].status != AgentStatus::kActive) {
    LogWarning("local_master_disconnect_agent_ignored", {{"index", index}});
    return;
  }
  LogInfo("local_master_agent_unreachable", {{"agent", index}});
  LoseAgent(agents_[static_cast<size_t>(index)], /*gone=*/false);
}

void LocalMaster::State::RemoveAgent(int index) {
  if (index < 0 || index >= static_cast<int>(agents_.size()) ||
      agents_[static_cast<size_t>(index)].status == AgentStatus::kGone) {
    LogWarning("local_master_remove_agent_ignored", {{"index", index}});
    return;
  }
  LogInfo("local_master_agent_gone", {{"agent", index}});
  LoseAgent(agents_[static_cast<size_t>(index)], /*gone=*/true);
  ScheduleAllocation();
}

void LocalMaster::State::ReconnectAgent(int index) {
  if (index < 0 || index >= static_cast<int>(agents_.size()) ||
      agents_[static_cast<size_t>(index)].status != AgentStatus::kUnreachable) {
    LogWarning("local_master_reconnect_agent_ignored", {{"index", index}});
    return;
  }
  Agent& agent = agents_[static_cast<size_t>(index)];
  LogInfo("local_master_agent_reregistered", {{"agent", index}});
  agent.status = AgentStatus::kActive;
  std::vector<TaskKey> keys;
  for (const auto& [key, task] : agent.tasks) keys.push_back(key);
  for (const TaskKey& key : keys) {
    if (completed_ids_.count(key.first) > 0) {
      DestroyTask(agent, key);  // the agent is told to shut the removed framework down
      continue;
    }
    Task& task = *agent.tasks.at(key);
    task.unreachable = false;
    task.master_state = task.agent_state;
    SendMasterUpdate(task.framework_id,
                     MasterStatus(task, task.agent_state, "Agent reregistered",
                                  mesos_v1::TaskStatus::REASON_AGENT_REREGISTERED));
  }
  if (!recovering_) RecoverFrameworksFromAgents();
  // The agent's status update manager resumes.
  for (auto& [key, task] : agent.tasks) {
    if (task->updates.empty()) continue;
    task->resend_backoff = config_.update_retry_interval;
    ForwardHead(agent, *task);
  }
  Allocate();
}

}  // namespace mast::local
