// The local master's ACCEPT: the offers it names are checked, then each operation runs
// against what they offered: LAUNCH and LAUNCH_GROUP launch tasks on the offers' agent, every
// other operation fails (this master has no reservations, volumes or resource providers).

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "local_mesos/master_state.h"

namespace mast::local {

namespace mesos_v1 = ::mesos::v1;
using Call = mesos_v1::scheduler::Call;
using Event = mesos_v1::scheduler::Event;

namespace {

// The master's answer about a task it does not launch (no uuid, SOURCE_MASTER).
mesos_v1::TaskStatus RefusedTaskStatus(const mesos_v1::TaskInfo& task, mesos_v1::TaskState state,
                                       mesos_v1::TaskStatus::Reason reason,
                                       const std::string& message, double now_seconds) {
  mesos_v1::TaskStatus status;
  *status.mutable_task_id() = task.task_id();
  status.set_state(state);
  status.set_source(mesos_v1::TaskStatus::SOURCE_MASTER);
  status.set_reason(reason);
  status.set_message(message);
  if (task.has_agent_id()) *status.mutable_agent_id() = task.agent_id();
  status.set_timestamp(now_seconds);
  return status;
}

}  // namespace

void LocalMaster::State::Accept(Framework& framework, const Call::Accept& accept) {
  const AcceptedOffers offers = CheckAcceptedOffers(framework, accept);
  const double refuse_seconds = accept.filters().refuse_seconds();
  if (offers.error.has_value()) {
    RejectAccept(framework, accept, offers, refuse_seconds);
    return;
  }
  // No error: at least one valid offer, so `offers.agent` is an agent's index.
  LaunchTarget target{framework, agents_[static_cast<size_t>(offers.agent)], offers.role, {}, {}};
  for (const std::string& id : offers.valid) {
    const Offer* offer = FindOffer(id);
    if (offer == nullptr) continue;  // cannot happen: CheckAcceptedOffers has just found it
    target.pool.Add(offer->resources);
    RemoveOffer(id, /*rescind=*/false, std::nullopt);
  }
  for (const auto& operation : accept.operations()) {
    switch (operation.type()) {
      case mesos_v1::Offer::Operation::LAUNCH:
        ApplyLaunch(target, operation.launch());
        break;
      case mesos_v1::Offer::Operation::LAUNCH_GROUP:
        ApplyLaunchGroup(target, operation.launch_group());
        break;
      default:
        RejectUnsupportedOperation(framework, operation, target.agent);
        break;
    }
  }
  // What was offered but not used counts as declined with the call's filters.
  AddFilter(framework, offers.agent, offers.role, target.pool, refuse_seconds);
  ScheduleAllocation();
}

LocalMaster::State::AcceptedOffers LocalMaster::State::CheckAcceptedOffers(
    const Framework& framework, const Call::Accept& accept) const {
  AcceptedOffers offers;
  std::optional<std::string>& error = offers.error;
  std::set<std::string> seen;
  if (accept.offer_ids_size() == 0) error = "No offers specified";
  for (const mesos_v1::OfferID& id : accept.offer_ids()) {
    if (!seen.insert(id.value()).second) {
      if (!error) error = absl::StrCat("Duplicate offer ", id.value(), " in offer list");
      continue;
    }
    const Offer* offer = FindOffer(id.value());
    if (offer == nullptr || offer->framework_id != framework.id) {
      if (!error) error = absl::StrCat("Offer ", id.value(), " is no longer valid");
      continue;
    }
    offers.valid.push_back(id.value());
    if (offers.agent < 0) {
      offers.agent = offer->agent;
      offers.role = offer->role;
    } else if (offer->agent != offers.agent && !error) {
      error = "Aggregated offers must belong to one single agent";
    } else if (offer->role != offers.role && !error) {
      error = "Aggregated offers must be allocated to the same role";
    }
  }
  return offers;
}

void LocalMaster::State::RejectAccept(Framework& framework, const Call::Accept& accept,
                                      const AcceptedOffers& offers, double refuse_seconds) {
  const std::string& error = *offers.error;
  LogInfo("local_master_accept_invalid", {{"framework_id", framework.id}, {"error", error}});
  // The offers still valid are discarded, refused for the call's filter.
  for (const std::string& id : offers.valid) RemoveOffer(id, /*rescind=*/false, refuse_seconds);
  const bool pa =
      HasCapability(framework.info, mesos_v1::FrameworkInfo::Capability::PARTITION_AWARE);
  auto drop = [&](const mesos_v1::TaskInfo& task) {
    SendMasterUpdate(framework.id,
                     RefusedTaskStatus(task, pa ? mesos_v1::TASK_DROPPED : mesos_v1::TASK_LOST,
                                       mesos_v1::TaskStatus::REASON_INVALID_OFFERS,
                                       absl::StrCat("Task launched with invalid offers: ", error),
                                       NowSeconds()));
  };
  for (const auto& operation : accept.operations()) {
    if (operation.type() == mesos_v1::Offer::Operation::LAUNCH) {
      for (const auto& task : operation.launch().task_infos()) drop(task);
    } else if (operation.type() == mesos_v1::Offer::Operation::LAUNCH_GROUP) {
      for (const auto& task : operation.launch_group().task_group().tasks()) drop(task);
    } else if (operation.has_id()) {
      SendEvent(framework, OperationStatusEvent(
                               operation.id(), mesos_v1::OPERATION_ERROR,
                               absl::StrCat("Operation launched with invalid offers: ", error)));
    }
  }
  ScheduleAllocation();
}

void LocalMaster::State::ApplyLaunch(LaunchTarget& target,
                                     const mesos_v1::Offer::Operation::Launch& launch) {
  for (const mesos_v1::TaskInfo& task : launch.task_infos()) {
    Resources needed;
    std::optional<std::string> invalid =
        ValidateTask(target.framework, task, target.agent, target.launched, target.role, &needed);
    if (!invalid && !target.pool.Contains(needed)) {
      invalid = absl::StrCat("Total resources ", needed.ToString(),
                             " required by task and its executor is more than available ",
                             target.pool.ToString());
    }
    if (invalid) {
      SendMasterUpdate(
          target.framework.id,
          RefusedTaskStatus(task, mesos_v1::TASK_ERROR, mesos_v1::TaskStatus::REASON_TASK_INVALID,
                            *invalid, NowSeconds()));
      continue;
    }
    target.pool.Subtract(needed);
    target.launched.insert(task.task_id().value());
    LaunchTask(target.framework, task, target.agent.index, target.role, needed,
               task.has_executor() ? task.executor().executor_id().value() : "");
  }
}

void LocalMaster::State::ApplyLaunchGroup(LaunchTarget& target,
                                          const mesos_v1::Offer::Operation::LaunchGroup& group) {
  Resources needed;
  std::vector<Resources> per_task;
  if (std::optional<std::string> invalid = ValidateTaskGroup(target, group, &needed, &per_task)) {
    for (const mesos_v1::TaskInfo& task : group.task_group().tasks()) {
      SendMasterUpdate(target.framework.id,
                       RefusedTaskStatus(task, mesos_v1::TASK_ERROR,
                                         mesos_v1::TaskStatus::REASON_TASK_GROUP_INVALID, *invalid,
                                         NowSeconds()));
    }
    return;
  }
  const mesos_v1::ExecutorInfo& executor = group.executor();
  target.pool.Subtract(needed);
  for (int i = 0; i < group.task_group().tasks_size(); ++i) {
    mesos_v1::TaskInfo task = group.task_group().tasks(i);
    Resources charged = per_task[static_cast<size_t>(i)];
    if (i == 0) {  // the new executor's resources ride with the first task
      Resources executor_part = needed;
      for (const Resources& r : per_task) executor_part.Subtract(r);
      charged.Add(executor_part);
    }
    if (!task.has_executor()) *task.mutable_executor() = executor;
    target.launched.insert(task.task_id().value());
    LaunchTask(target.framework, task, target.agent.index, target.role, charged,
               executor.executor_id().value());
  }
}

std::optional<std::string> LocalMaster::State::ValidateTaskGroup(
    const LaunchTarget& target, const mesos_v1::Offer::Operation::LaunchGroup& group,
    Resources* needed, std::vector<Resources>* per_task) const {
  const mesos_v1::ExecutorInfo& executor = group.executor();
  if (group.task_group().tasks_size() == 0) return "Task group is empty";
  if (executor.type() != mesos_v1::ExecutorInfo::DEFAULT &&
      executor.type() != mesos_v1::ExecutorInfo::CUSTOM) {
    return "'ExecutorInfo.type' must be set";
  }
  if (std::optional<std::string> error = ValidateId(executor.executor_id().value())) {
    return absl::StrCat("Executor ID is invalid: ", *error);
  }
  const std::string& framework_id = target.framework.id;
  if (target.agent.executors.count({framework_id, executor.executor_id().value()}) == 0) {
    absl::StatusOr<Resources> executor_resources = Resources::FromProto(executor.resources());
    if (!executor_resources.ok()) return std::string(executor_resources.status().message());
    *needed = *executor_resources;
  }
  std::set<std::string> group_seen = target.launched;
  for (const mesos_v1::TaskInfo& task : group.task_group().tasks()) {
    if (task.has_executor()) {
      return absl::StrCat("Task '", task.task_id().value(),
                          "' in a task group must not set 'executor'");
    }
    mesos_v1::TaskInfo with_executor = task;
    *with_executor.mutable_executor() = executor;
    with_executor.clear_command();
    Resources task_needed;
    if (std::optional<std::string> error = ValidateTask(
            target.framework, with_executor, target.agent, group_seen, target.role, &task_needed)) {
      return error;
    }
    // ValidateTask has parsed these very resources, so this does not fail.
    absl::StatusOr<Resources> own = Resources::FromProto(task.resources());
    if (!own.ok()) return std::string(own.status().message());
    per_task->push_back(*own);
    needed->Add(*own);
    group_seen.insert(task.task_id().value());
  }
  if (!target.pool.Contains(*needed)) {
    return absl::StrCat("Total resources ", needed->ToString(),
                        " required by task group and its executor is more than available ",
                        target.pool.ToString());
  }
  return std::nullopt;
}

void LocalMaster::State::RejectUnsupportedOperation(Framework& framework,
                                                    const mesos_v1::Offer::Operation& operation,
                                                    const Agent& agent) {
  const std::string& type = mesos_v1::Offer::Operation::Type_Name(operation.type());
  LogWarning("local_master_operation_unsupported",
             {{"framework_id", framework.id}, {"type", type}});
  if (!operation.has_id()) return;
  Event event = OperationStatusEvent(
      operation.id(), mesos_v1::OPERATION_ERROR,
      absl::StrCat("Operation ", type, " is not supported by the local master"));
  event.mutable_update_operation_status()->mutable_status()->mutable_agent_id()->set_value(
      agent.id);
  SendEvent(framework, event);
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
  if (std::optional<std::string> error = ValidateTaskChecks(task)) return error;
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

}  // namespace mast::local
