// The local master's health checks (TaskInfo.health_check) and checks (TaskInfo.check), run the
// way the Mesos command executor runs them: the schedule (delay, interval, timeout) on the loop's
// Clock, the probes off the loop (NetworkProber threads for HTTP and TCP, TaskRunner processes
// for COMMAND), and the status updates their results lead to. At most one probe per check of a
// task is in flight; the next one is scheduled `interval` after its result, as Mesos does.

#include <signal.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "local_mesos/master_state.h"

namespace mast::local {

namespace mesos_v1 = ::mesos::v1;

void LocalMaster::State::StartChecks(Agent& agent, Task& task) {
  if (task.info.has_health_check()) {
    task.health_run.spec = HealthProbeSpec(task.info.health_check());
    task.health_run.stopped = false;
    // The grace period counts from here, the delay included (Mesos' HealthChecker).
    task.health.emplace(task.info.health_check(), loop_.clock().Now());
    ScheduleProbe(agent, task, CheckKind::kHealth, task.health_run.spec.delay);
  }
  if (task.info.has_check()) {
    task.check_run.spec = CheckProbeSpec(task.info.check());
    task.check_run.stopped = false;
    ScheduleProbe(agent, task, CheckKind::kCheck, task.check_run.spec.delay);
  }
}

void LocalMaster::State::StopChecks(Task& task) {
  for (CheckRun* run : {&task.health_run, &task.check_run}) {
    run->stopped = true;
    loop_.Cancel(run->timer);
    run->timer = 0;
    run->probe = 0;
    if (runner_ && run->command_pid > 0) runner_->Signal(run->command_pid, SIGKILL);
    run->command_pid = 0;
  }
}

bool LocalMaster::State::ChecksFailing(const Agent& agent, const Task& task, CheckKind kind) const {
  const std::string& id = task.info.task_id().value();
  return failing_check_tasks_.count(id) > 0 || failing_check_agents_.count(agent.index) > 0 ||
         (kind == CheckKind::kCheck && failing_check_only_tasks_.count(id) > 0);
}

void LocalMaster::State::SetTaskCheckOnlyFailing(const std::string& task_id, bool failing) {
  if (failing) {
    failing_check_only_tasks_.insert(task_id);
  } else {
    failing_check_only_tasks_.erase(task_id);
  }
}

void LocalMaster::State::SetTaskChecksFailing(const std::string& task_id, bool failing) {
  if (failing) {
    failing_check_tasks_.insert(task_id);
  } else {
    failing_check_tasks_.erase(task_id);
  }
}

void LocalMaster::State::SetAgentChecksFailing(int index, bool failing) {
  if (index < 0 || index >= static_cast<int>(agents_.size())) {
    LogWarning("local_master_agent_checks_failing_ignored", {{"index", index}});
    return;
  }
  if (failing) {
    failing_check_agents_.insert(index);
  } else {
    failing_check_agents_.erase(index);
  }
}

void LocalMaster::State::ScheduleProbe(Agent& agent, Task& task, CheckKind kind,
                                       absl::Duration after) {
  CheckRun& run = kind == CheckKind::kHealth ? task.health_run : task.check_run;
  loop_.Cancel(run.timer);
  run.timer = loop_.RunAfter(
      after, [this, agent_index = agent.index,
              key = TaskKey{task.framework_id, task.info.task_id().value()}, serial = task.serial,
              kind] { RunProbe(agent_index, key, serial, kind); });
}

void LocalMaster::State::RunProbe(int agent_index, const TaskKey& key, uint64_t serial,
                                  CheckKind kind) {
  Agent& agent = agents_[static_cast<size_t>(agent_index)];
  auto it = agent.tasks.find(key);
  if (it == agent.tasks.end() || it->second->serial != serial) return;
  Task& task = *it->second;
  CheckRun& run = kind == CheckKind::kHealth ? task.health_run : task.check_run;
  run.timer = 0;
  if (run.stopped) return;
  const uint64_t probe = next_probe_++;
  run.probe = probe;
  // Results come back through the loop; the first of the result and the timeout counts.
  auto deliver = [this, agent_index, key, serial, kind, probe](ProbeResult result) {
    loop_.Post([this, agent_index, key, serial, kind, probe, result] {
      OnProbeResult(agent_index, key, serial, kind, probe, result);
    });
  };
  run.timer = loop_.RunAfter(run.spec.timeout, [this, agent_index, key, serial, kind, probe] {
    OnProbeResult(agent_index, key, serial, kind, probe, ProbeResult{});
  });
  const bool failing = ChecksFailing(agent, task, kind);
  if (failing || !runner_ || !task.process_running) {
    // Injected failure, or a simulated task (nothing to probe): it passes.
    deliver(SimulatedProbeResult(run.spec.type, !failing));
    return;
  }
  if (run.spec.type == mesos_v1::CheckInfo::COMMAND) {
    // In the task's sandbox with its MESOS_* variables, as the command executor runs it.
    TaskRunner::Launch launch;
    launch.command = run.spec.command;
    launch.sandbox = task.sandbox;
    launch.extra_env = TaskEnvironment(agent, task);
    absl::StatusOr<pid_t> pid = runner_->Start(launch, [deliver](int status) {
      ProbeResult result;
      if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
      deliver(result);
    });
    if (!pid.ok()) {
      LogWarning("local_master_check_command_failed",
                 {{"task_id", key.second}, {"error", pid.status().ToString()}});
      deliver(ProbeResult{});
      return;
    }
    run.command_pid = *pid;
    return;
  }
  prober_->Probe(run.spec, deliver);
}

void LocalMaster::State::OnProbeResult(int agent_index, const TaskKey& key, uint64_t serial,
                                       CheckKind kind, uint64_t probe, ProbeResult result) {
  Agent& agent = agents_[static_cast<size_t>(agent_index)];
  auto it = agent.tasks.find(key);
  if (it == agent.tasks.end() || it->second->serial != serial) return;
  Task& task = *it->second;
  CheckRun& run = kind == CheckKind::kHealth ? task.health_run : task.check_run;
  if (run.stopped || run.probe != probe) return;  // stale: timed out, or the checks stopped
  run.probe = 0;
  loop_.Cancel(run.timer);
  run.timer = 0;
  // A COMMAND probe that timed out is killed (a no-op once it has been reaped).
  if (runner_ && run.command_pid > 0) runner_->Signal(run.command_pid, SIGKILL);
  run.command_pid = 0;
  ++run.results;
  if (kind == CheckKind::kHealth) {
    const bool success = ProbeSucceeded(run.spec.type, result);
    std::optional<HealthTracker::Verdict> verdict =
        task.health->OnResult(success, loop_.clock().Now());
    if (verdict.has_value()) {
      task.healthy = verdict->healthy;
      AgentUpdate(agent, task, task.agent_state, "",
                  mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
                  mesos_v1::TaskStatus::SOURCE_EXECUTOR, verdict->healthy);
      if (verdict->kill) {
        LogInfo("local_master_task_unhealthy_killed",
                {{"task_id", key.second},
                 {"consecutive_failures", task.health->consecutive_failures()}});
        task.killed_unhealthy = true;
        KillOnAgent(agent, task, std::nullopt);  // stops the checks
        return;
      }
    }
  } else {
    mesos_v1::CheckStatusInfo status = CheckStatus(run.spec.type, result);
    // An update only when the result changes (the first one too).
    if (!task.check_status.has_value() ||
        task.check_status->SerializeAsString() != status.SerializeAsString()) {
      task.check_status = std::move(status);
      AgentUpdate(agent, task, task.agent_state, "",
                  mesos_v1::TaskStatus::REASON_TASK_CHECK_STATUS_UPDATED,
                  mesos_v1::TaskStatus::SOURCE_EXECUTOR);
    }
  }
  ScheduleProbe(agent, task, kind, run.spec.interval);
}

}  // namespace mast::local
