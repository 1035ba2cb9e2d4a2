// The local master's tasks: launch on the simulated agents, status updates and their
// acknowledgement, kills, reconciliation, and the agents' faults. Offers are in
// master_offers.cc, ACCEPT in master_accept.cc, frameworks and streams in master_state.cc.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "local_mesos/fetcher.h"
#include "local_mesos/master_state.h"
#include "local_mesos/volumes.h"

namespace mast::local {

namespace mesos_v1 = ::mesos::v1;
using Call = mesos_v1::scheduler::Call;
using Event = mesos_v1::scheduler::Event;

namespace {

constexpr absl::Duration kMaxResendBackoff = absl::Minutes(10);
constexpr size_t kMaxCompletedTasks = 1000;  // --max_completed_tasks_per_framework

}  // namespace

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
    // As an agent: secrets resolve and volumes appear before the fetcher
    // runs, and either failing fails the launch.
    absl::Status prepared = CheckSecretEnvironment(command->environment());
    if (prepared.ok() && task.info.has_container()) {
      std::error_code ignored;
      std::filesystem::create_directories(task.sandbox, ignored);
      prepared = PrepareVolumes(task.info.container(), task.sandbox);
    }
    if (!prepared.ok()) {
      LogWarning("local_master_container_failed",
                 {{"task_id", task.info.task_id().value()}, {"error", prepared.ToString()}});
      AgentUpdate(agent, task, mesos_v1::TASK_FAILED,
                  absl::StrCat("Failed to launch container: ", prepared.message()),
                  mesos_v1::TaskStatus::REASON_CONTAINER_LAUNCH_FAILED,
                  mesos_v1::TaskStatus::SOURCE_AGENT);
      return;
    }
    if (command->uris_size() > 0) {
      // As an agent: the fetcher fills the sandbox before the command runs,
      // and a URI it cannot fetch fails the launch.
      if (absl::Status fetched = FetchIntoSandbox(command->uris(), task.sandbox); !fetched.ok()) {
        LogWarning("local_master_fetch_failed",
                   {{"task_id", task.info.task_id().value()}, {"error", fetched.ToString()}});
        AgentUpdate(agent, task, mesos_v1::TASK_FAILED,
                    absl::StrCat("Failed to launch container: Failed to fetch all URIs for "
                                 "container '",
                                 task.container_id, "': ", fetched.message()),
                    mesos_v1::TaskStatus::REASON_CONTAINER_LAUNCH_FAILED,
                    mesos_v1::TaskStatus::SOURCE_AGENT);
        return;
      }
    }
    TaskRunner::Launch launch;
    launch.command = *command;
    launch.sandbox = task.sandbox;
    launch.extra_env = TaskEnvironment(agent, task);
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
    StartChecks(agent, task);
    return;
  }
  // Simulated: the task runs until it is killed; its checks pass unless made to fail.
  AgentUpdate(agent, task, mesos_v1::TASK_STARTING, "", std::nullopt,
              mesos_v1::TaskStatus::SOURCE_EXECUTOR);
  AgentUpdate(agent, task, mesos_v1::TASK_RUNNING, "", std::nullopt,
              mesos_v1::TaskStatus::SOURCE_EXECUTOR);
  StartChecks(agent, task);
}

std::vector<std::pair<std::string, std::string>> LocalMaster::State::TaskEnvironment(
    const Agent& agent, const Task& task) const {
  return {{"MESOS_TASK_ID", task.info.task_id().value()},
          {"MESOS_SANDBOX", task.sandbox},
          {"MESOS_FRAMEWORK_ID", task.framework_id},
          {"MESOS_AGENT_ID", agent.id},
          {"MESOS_CONTAINER_IP", "127.0.0.1"}};
}

void LocalMaster::State::AgentUpdate(Agent& agent, Task& task, mesos_v1::TaskState state,
                                     const std::string& message,
                                     std::optional<mesos_v1::TaskStatus::Reason> reason,
                                     mesos_v1::TaskStatus::Source source,
                                     std::optional<bool> healthy) {
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
  if (task.info.container().network_infos_size() == 0) {
    auto* address = container->add_network_infos()->add_ip_addresses();
    address->set_protocol(mesos_v1::NetworkInfo::IPv4);
    address->set_ip_address("127.0.0.1");
  }
  // A named (CNI) network: the task's own address on it, as the network
  // isolator reports it; simulated here as 10.x.y.z from the task's serial
  // (the process, if run, still binds on the host).
  for (const mesos_v1::NetworkInfo& requested : task.info.container().network_infos()) {
    mesos_v1::NetworkInfo* network = container->add_network_infos();
    network->set_name(requested.name());
    *network->mutable_labels() = requested.labels();
    *network->mutable_port_mappings() = requested.port_mappings();
    auto* address = network->add_ip_addresses();
    address->set_protocol(mesos_v1::NetworkInfo::IPv4);
    address->set_ip_address(absl::StrCat("10.", (task.serial >> 16) & 0xff, ".",
                                         (task.serial >> 8) & 0xff, ".", task.serial & 0xff));
  }
  if (task.pid > 0) container->set_executor_pid(static_cast<uint32_t>(task.pid));
  if (healthy.has_value()) status.set_healthy(*healthy);
  if (task.info.has_check()) {
    // Set on every update of a task with a check, with no result until the first one.
    *status.mutable_check_status() =
        task.check_status.value_or(CheckStatus(task.info.check().type(), ProbeResult{}));
  }
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
  StopChecks(task);  // the command executor stops checking a task it kills
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
              std::nullopt, mesos_v1::TaskStatus::SOURCE_EXECUTOR, TerminalHealth(task));
}

void LocalMaster::State::OnProcessExit(int agent_index, const TaskKey& key, uint64_t serial,
                                       int status) {
  Agent& agent = agents_[static_cast<size_t>(agent_index)];
  auto it = agent.tasks.find(key);
  if (it == agent.tasks.end() || it->second->serial != serial) return;
  Task& task = *it->second;
  task.process_running = false;
  StopChecks(task);
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
  AgentUpdate(agent, task, state, message, std::nullopt, mesos_v1::TaskStatus::SOURCE_EXECUTOR,
              TerminalHealth(task));
}

std::optional<bool> LocalMaster::State::TerminalHealth(const Task& task) {
  // The command executor marks the end of a task it killed for failing its health check
  // (and sets no reason for it).
  if (task.killed_unhealthy) return false;
  return std::nullopt;
}

void LocalMaster::State::DestroyTask(Agent& agent, const TaskKey& key) {
  auto it = agent.tasks.find(key);
  if (it == agent.tasks.end()) return;
  Task& task = *it->second;
  loop_.Cancel(task.resend_timer);
  loop_.Cancel(task.kill_timer);
  StopChecks(task);
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
    if (!task.statuses.empty() && task.statuses.back().has_check_status()) {
      *status.mutable_check_status() = task.statuses.back().check_status();
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
    auto it = agent.tasks.find(key);
    if (it == agent.tasks.end()) continue;  // cannot happen: `keys` was just read from there
    Task& task = *it->second;
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
    auto it = agent.tasks.find(key);
    if (it == agent.tasks.end()) continue;  // cannot happen: only `key` itself is destroyed
    Task& task = *it->second;
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
