#pragma once

// Internal to the local master: the state owned by its event loop. Every method runs on the
// loop thread (LocalMaster posts to it); nothing here is thread-safe.

#include <sys/types.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "local_mesos/http_server.h"
#include "local_mesos/json.h"
#include "local_mesos/local_master.h"
#include "local_mesos/resources.h"
#include "local_mesos/task_checks.h"
#include "local_mesos/task_runner.h"
#include "mesos/v1/mesos.pb.h"
#include "mesos/v1/scheduler/scheduler.pb.h"

namespace mast::local {

// The Mesos release whose API, /version and state JSON this master copies.
inline constexpr char kMesosVersion[] = "1.11.0";
// The master's --max_completed_frameworks: completed frameworks kept for the state endpoints.
inline constexpr size_t kMaxCompletedFrameworks = 50;

// A plain-text HTTP answer, as the real master words its errors.
HttpResponse TextResponse(int status, std::string body);

// ---- The master's checks (validation.cc); each error is Mesos' wording ----
// The ID rule of the master for framework/task/executor/agent IDs (mesos-v1-api.md §2.2); the
// error says what is wrong, e.g. "'a/b' contains invalid characters".
std::optional<std::string> ValidateId(const std::string& id);
// A role name as Mesos accepts it (hierarchical "a/b" allowed; "*" allowed).
std::optional<std::string> ValidateRole(const std::string& role);
// FrameworkInfo checks shared by SUBSCRIBE (ERROR event) and UPDATE_FRAMEWORK (400).
std::optional<std::string> ValidateFrameworkInfo(
    const ::mesos::v1::FrameworkInfo& info, const std::vector<std::string>& suppressed,
    const ::mesos::v1::scheduler::OfferConstraints* constraints);

// ---- FrameworkInfo and TaskState predicates (master_state.cc) ----
// The roles a FrameworkInfo subscribes to: `roles` with MULTI_ROLE, else `role` (default "*").
std::vector<std::string> FrameworkRoles(const ::mesos::v1::FrameworkInfo& info);
bool HasCapability(const ::mesos::v1::FrameworkInfo& info,
                   ::mesos::v1::FrameworkInfo::Capability::Type type);
// The deprecated FrameworkInfo.role (pre-MULTI_ROLE), read without deprecation warnings.
const std::string& LegacyRole(const ::mesos::v1::FrameworkInfo& info);
bool HasLegacyRole(const ::mesos::v1::FrameworkInfo& info);
bool IsTerminal(::mesos::v1::TaskState state);
// An UPDATE_OPERATION_STATUS event from the master (no uuid); an empty `message` stays unset.
::mesos::v1::scheduler::Event OperationStatusEvent(const ::mesos::v1::OperationID& operation_id,
                                                   ::mesos::v1::OperationState state,
                                                   const std::string& message);

class LocalMaster::State {
 public:
  State(const LocalMasterConfig& config, Resources agent_resources, EventLoop& loop,
        std::string work_dir, std::function<void()> on_recovered);
  ~State();

  void SetPort(int port);
  const std::string& master_id() const { return master_id_; }

  // ---- HTTP (see local_master.cc for the checks done before these) ----
  // A non-SUBSCRIBE call that passed rows 1-8 of §1.3: rows 10-14.
  HttpResponse HandleCall(const ::mesos::v1::scheduler::Call& call,
                          const std::optional<std::string>& stream_id);
  // A SUBSCRIBE whose 200 and headers have been sent on `stream`.
  void Subscribe(const ::mesos::v1::scheduler::Call& call, std::shared_ptr<ResponseStream> stream,
                 const std::string& stream_id, bool json);
  std::string StateJson() const;
  std::string FrameworksJson() const;
  std::string TasksJson() const;

  // ---- Fault injection ----
  void DropSubscriptions();
  void SetHeartbeats(bool enabled) { heartbeats_enabled_ = enabled; }
  void RescindAllOffers();
  void DisconnectAgent(int index);
  void ReconnectAgent(int index);
  void RemoveAgent(int index);
  void Restart(bool keep_state);
  void SetDuplicateUpdates(bool on) { duplicate_updates_ = on; }
  void SetTaskChecksFailing(const std::string& task_id, bool failing);
  void SetAgentChecksFailing(int index, bool failing);
  void SetTaskCheckOnlyFailing(const std::string& task_id, bool failing);

  LocalMaster::Stats stats() const;
  std::vector<LocalMaster::TaskView> tasks() const;
  // Kills every task process and closes every stream; for the destructor.
  void Shutdown();

 private:
  struct Update {
    ::mesos::v1::TaskStatus status;
    bool recorded = false;  // already in Task::statuses
  };

  // One HealthCheck or CheckInfo of a task, scheduled on the loop: a timer for the next probe
  // (or the timeout of the probe in flight), and the probe in flight.
  struct CheckRun {
    ProbeSpec spec;
    EventLoop::TimerId timer = 0;
    uint64_t probe = 0;     // the probe in flight (0: none); other probes' results are stale
    pid_t command_pid = 0;  // the COMMAND probe's process while it runs
    bool stopped = true;    // not started yet, or stopped for good
    int results = 0;        // probes that have completed (timeouts included)
  };
  enum class CheckKind { kHealth, kCheck };

  struct Task {
    uint64_t serial = 0;  // unique per launch; guards process-exit callbacks
    ::mesos::v1::TaskInfo info;
    std::string framework_id;
    ::mesos::v1::FrameworkInfo
        framework_info;  // the agent's copy (re-registration after a restart)
    int agent = 0;
    std::string role;
    Resources resources;      // charged to the agent while not released
    std::string executor_id;  // ExecutorInfo id, or "" for a command task
    std::string container_id;
    ::mesos::v1::TaskState agent_state = ::mesos::v1::TASK_STAGING;
    ::mesos::v1::TaskState master_state = ::mesos::v1::TASK_STAGING;
    std::optional<::mesos::v1::TaskState> status_update_state;
    bool released = false;     // resources returned to the agent
    bool unreachable = false;  // the master moved it to its unreachable tasks
    ::mesos::v1::TimeInfo unreachable_time;
    std::deque<Update> updates;  // agent side, unacknowledged; the head is outstanding
    EventLoop::TimerId resend_timer = 0;
    absl::Duration resend_backoff;
    std::vector<::mesos::v1::TaskStatus> statuses;  // every update the master saw, for the JSON
    bool kill_requested = false;
    absl::Duration kill_grace;
    EventLoop::TimerId kill_timer = 0;
    pid_t pid = 0;  // --execute: the process group, while running
    bool process_running = false;
    std::string sandbox;
    // TaskInfo.health_check and TaskInfo.check, run while the task runs (master_checks.cc).
    CheckRun health_run;
    std::optional<HealthTracker> health;
    std::optional<bool> healthy;    // the latest health reported
    bool killed_unhealthy = false;  // its terminal update says healthy=false
    CheckRun check_run;
    std::optional<::mesos::v1::CheckStatusInfo> check_status;  // the latest check result
  };
  using TaskKey = std::pair<std::string, std::string>;  // framework id, task id

  enum class AgentStatus {
    kActive,       // registered and reachable: offered, runs tasks
    kUnreachable,  // partitioned; its tasks are unreachable until it returns
    kGone,         // gone for good: its tasks destroyed; it does not come back
  };
  struct Agent {
    int index = 0;
    std::string id;
    std::string hostname;
    Resources total;
    Resources used;     // resources of launched, unreleased tasks (and their executors)
    Resources offered;  // resources in outstanding offers
    AgentStatus status = AgentStatus::kActive;
    absl::Time registered_time;
    absl::Time unreachable_since;
    std::map<TaskKey, std::unique_ptr<Task>> tasks;
    std::map<TaskKey, ::mesos::v1::ExecutorInfo> executors;  // (framework id, executor id)
  };

  struct Offer {
    std::string id;
    std::string framework_id;
    int agent = 0;
    std::string role;
    Resources resources;
    ::mesos::v1::Offer proto;
  };

  struct Filter {
    Resources refused;
    absl::Time expires;
    EventLoop::TimerId timer = 0;
    uint64_t id = 0;
  };

  struct Framework {
    std::string id;
    ::mesos::v1::FrameworkInfo info;
    bool connected = false;
    bool recovered = false;  // known from agents only, after a master restart
    std::shared_ptr<ResponseStream> stream;
    bool json = false;
    std::string stream_id;
    uint64_t generation = 0;  // bumped whenever the stream binding changes
    EventLoop::TimerId heartbeat_timer = 0;
    EventLoop::TimerId failover_timer = 0;
    std::set<std::string> suppressed;
    ::mesos::v1::scheduler::OfferConstraints constraints;
    std::map<std::pair<int, std::string>, std::vector<Filter>> filters;  // (agent, role)
    std::set<std::string> offers;
    absl::Time registered_time;
    std::optional<absl::Time> reregistered_time;
    std::optional<absl::Time> unregistered_time;
    std::vector<std::string> completed_tasks_json;
  };

  // ---- Frameworks and streams (master_state.cc) ----
  Framework* FindFramework(const std::string& id);
  const Framework* FindFramework(const std::string& id) const;
  void SendEvent(Framework& framework, const ::mesos::v1::scheduler::Event& event);
  void SendError(const std::shared_ptr<ResponseStream>& stream, bool json,
                 const std::string& message);
  void BindStream(Framework& framework, std::shared_ptr<ResponseStream> stream,
                  const std::string& stream_id, bool json);
  void ArmHeartbeat(Framework& framework);
  // SUBSCRIBE of a valid FrameworkInfo: the framework `info` names, re-subscribed (its old
  // stream failed over, its offers discarded) or created. `info` gets the new ID, or the user
  // and checkpoint that a re-subscription keeps. FailedPrecondition in the master's words if
  // the master refuses the framework.
  absl::StatusOr<Framework*> AdmitSubscriber(::mesos::v1::FrameworkInfo& info);
  // A new framework `id`, registered now, not yet bound to a stream.
  Framework& AddFramework(const std::string& id);
  // SUBSCRIBED on the framework's new stream, then a HEARTBEAT (unless heartbeats are off).
  void SendSubscribed(Framework& framework);
  // The agents resend every update the framework has not acknowledged yet.
  void ResendUnacknowledged(Framework& framework);
  void OnStreamClosed(const std::string& framework_id, uint64_t generation);
  // The framework lost its stream: inactive, offers gone, failover timer (unless `no_timer`).
  void Disconnect(Framework& framework, bool no_timer);
  // Removes the framework: tasks killed without updates, offers recovered, stream closed
  // (gracefully, no event), ID completed.
  void RemoveFramework(const std::string& id);
  HttpResponse UpdateFramework(Framework& framework,
                               const ::mesos::v1::scheduler::Call::UpdateFramework&);
  ::mesos::v1::MasterInfo MasterInfo() const;
  std::string NewUuid();
  std::string RandomBytes(size_t n);
  double NowSeconds() const;

  // ---- JSON endpoints (master_json.cc) ----
  // A task as the state endpoints show it (also kept as the completed tasks' JSON).
  std::string TaskJson(const Task& task) const;
  // A framework as /master/frameworks and /master/state show it (also kept for completed ones).
  void WriteFrameworkJson(const Framework& framework, JsonWriter& json) const;
  // The framework's "tasks", "unreachable_tasks" and "completed_tasks".
  void WriteFrameworkTasksJson(const Framework& framework, JsonWriter& json) const;
  void WriteOfferJson(const Offer& offer, JsonWriter& json) const;
  // "frameworks" and "completed_frameworks" (newest first), shared by both endpoints.
  void WriteFrameworkListsJson(JsonWriter& json) const;
  void WriteFlagsJson(JsonWriter& json) const;
  void WriteAgentJson(const Agent& agent, JsonWriter& json) const;

  // ---- Allocation and offers (master_offers.cc) ----
  // The outstanding offer `id`, or nullptr.
  const Offer* FindOffer(const std::string& id) const;
  // Runs an allocation round now.
  void Allocate();
  // Runs one after allocation_interval unless one is already due.
  void ScheduleAllocation();
  bool Allocatable(const Framework& framework, const std::string& role, const Agent& agent,
                   const Resources& available) const;
  // A new offer of `available` on `agent` to `framework` for `role` (the caller records it).
  Offer NewOffer(const Framework& framework, const std::string& role, const Agent& agent,
                 const Resources& available);
  // Removes an outstanding offer; its resources return to the agent, refused by the framework
  // for `refuse_seconds` (nullopt: no filter). `rescind`: a RESCIND event is sent.
  void RemoveOffer(const std::string& offer_id, bool rescind, std::optional<double> refuse_seconds);
  void AddFilter(Framework& framework, int agent, const std::string& role, const Resources& refused,
                 double refuse_seconds);
  void Decline(Framework& framework, const ::mesos::v1::scheduler::Call::Decline& decline);
  void Revive(Framework& framework, const ::mesos::v1::scheduler::Call::Revive& revive);
  void Suppress(Framework& framework, const ::mesos::v1::scheduler::Call::Suppress& suppress);
  void ClearFilters(Framework& framework, const std::set<std::string>& roles);

  // ---- ACCEPT (master_accept.cc) ----
  // The offers an ACCEPT names, as the master checks them.
  struct AcceptedOffers {
    std::vector<std::string> valid;  // outstanding offers of the framework, each once
    int agent = -1;                  // the agent and role of the first valid offer
    std::string role;
    std::optional<std::string> error;  // the first problem, in Mesos' words
  };
  // What the launches of one ACCEPT draw on.
  struct LaunchTarget {
    Framework& framework;
    Agent& agent;
    const std::string& role;
    Resources pool;                  // what is left of the offers' resources
    std::set<std::string> launched;  // task IDs launched by this call so far
  };
  void Accept(Framework& framework, const ::mesos::v1::scheduler::Call::Accept& accept);
  AcceptedOffers CheckAcceptedOffers(const Framework& framework,
                                     const ::mesos::v1::scheduler::Call::Accept& accept) const;
  // Invalid offers: the valid ones are discarded, refused for `refuse_seconds`; every task is
  // dropped (TASK_DROPPED, or TASK_LOST without PARTITION_AWARE); every operation with an ID
  // fails.
  void RejectAccept(Framework& framework, const ::mesos::v1::scheduler::Call::Accept& accept,
                    const AcceptedOffers& offers, double refuse_seconds);
  // LAUNCH: each valid task that fits what is left is launched; each other one gets TASK_ERROR.
  void ApplyLaunch(LaunchTarget& target, const ::mesos::v1::Offer::Operation::Launch& launch);
  // LAUNCH_GROUP: every task of the group is launched, or each one gets TASK_ERROR.
  void ApplyLaunchGroup(LaunchTarget& target,
                        const ::mesos::v1::Offer::Operation::LaunchGroup& group);
  // The error of a task group, if any. `needed`: the resources of its tasks plus those of a new
  // executor; `per_task`: each task's own.
  std::optional<std::string> ValidateTaskGroup(
      const LaunchTarget& target, const ::mesos::v1::Offer::Operation::LaunchGroup& group,
      Resources* needed, std::vector<Resources>* per_task) const;
  // Validates one task of an ACCEPT; the error is the TASK_ERROR message. `needed`: the task's
  // resources plus those of its executor if the agent does not run it yet.
  std::optional<std::string> ValidateTask(const Framework& framework,
                                          const ::mesos::v1::TaskInfo& task, const Agent& agent,
                                          const std::set<std::string>& seen,
                                          const std::string& role, Resources* needed) const;
  // An operation this master does not support: logged, and OPERATION_ERROR if it has an ID.
  void RejectUnsupportedOperation(Framework& framework,
                                  const ::mesos::v1::Offer::Operation& operation,
                                  const Agent& agent);

  // ---- Tasks, reconciliation, agents (master_tasks.cc) ----
  void Kill(Framework& framework, const ::mesos::v1::scheduler::Call::Kill& kill);
  void Acknowledge(Framework& framework, const ::mesos::v1::scheduler::Call::Acknowledge& ack);
  void Reconcile(Framework& framework, const ::mesos::v1::scheduler::Call::Reconcile& reconcile);
  void ReconcileOperations(Framework& framework,
                           const ::mesos::v1::scheduler::Call::ReconcileOperations& reconcile);
  // The reconciliation answer for a task the master does not know (§5.6). (Agents re-register
  // at once after a restart, so the "no answer yet" rows never apply.)
  ::mesos::v1::TaskStatus ReconcileUnknown(const Framework& framework,
                                           const ::mesos::v1::TaskID& task_id,
                                           const ::mesos::v1::AgentID* agent_id) const;
  void LaunchTask(Framework& framework, const ::mesos::v1::TaskInfo& task, int agent,
                  const std::string& role, const Resources& resources,
                  const std::string& executor_id);
  void StartTaskOnAgent(Agent& agent, Task& task);
  // The MESOS_* variables of the task's processes (its command and COMMAND checks).
  std::vector<std::pair<std::string, std::string>> TaskEnvironment(const Agent& agent,
                                                                   const Task& task) const;
  // The agent's status update manager gets a new update for `task`.
  // Every update carries the task's latest check_status if it has a check (the command
  // executor's rule); `healthy` is set only on health updates and on the terminal update of a
  // task killed for failing its health check.
  void AgentUpdate(Agent& agent, Task& task, ::mesos::v1::TaskState state,
                   const std::string& message,
                   std::optional<::mesos::v1::TaskStatus::Reason> reason,
                   ::mesos::v1::TaskStatus::Source source,
                   std::optional<bool> healthy = std::nullopt);
  // Forwards the outstanding update of `task` (first send or resend).
  void ForwardHead(Agent& agent, Task& task);
  void ArmResend(Agent& agent, Task& task);
  // An update the master itself generates (no uuid), sent if the framework is connected.
  void SendMasterUpdate(const std::string& framework_id, ::mesos::v1::TaskStatus status);
  ::mesos::v1::TaskStatus MasterStatus(const Task& task, ::mesos::v1::TaskState state,
                                       const std::string& message,
                                       ::mesos::v1::TaskStatus::Reason reason) const;
  void ReleaseResources(Agent& agent, Task& task);
  void KillOnAgent(Agent& agent, Task& task, std::optional<absl::Duration> grace);
  void OnKillGraceExpired(int agent, const TaskKey& key, uint64_t serial);
  void OnProcessExit(int agent, const TaskKey& key, uint64_t serial, int status);
  // `healthy` of the task's terminal update.
  static std::optional<bool> TerminalHealth(const Task& task);
  // ---- Health checks and checks (master_checks.cc) ----
  // Starts the task's health check and check (if it has them) once it runs.
  void StartChecks(Agent& agent, Task& task);
  // Stops them for good (the task is being killed, has ended or is destroyed).
  void StopChecks(Task& task);
  void ScheduleProbe(Agent& agent, Task& task, CheckKind kind, absl::Duration after);
  void RunProbe(int agent_index, const TaskKey& key, uint64_t serial, CheckKind kind);
  void OnProbeResult(int agent_index, const TaskKey& key, uint64_t serial, CheckKind kind,
                     uint64_t probe, ProbeResult result);
  // Whether probes of `kind` of `task` on `agent` are made to fail (SetHealthChecksFailing
  // fails both kinds, SetChecksFailing only kCheck).
  bool ChecksFailing(const Agent& agent, const Task& task, CheckKind kind) const;

  // Removes the task from its agent (process killed, no updates).
  void DestroyTask(Agent& agent, const TaskKey& key);
  Task* FindTask(const std::string& framework_id, const std::string& task_id, Agent** agent);
  const Task* FindTask(const std::string& framework_id, const std::string& task_id,
                       const Agent** agent) const;
  // The agent lost (unreachable) or gone: offers rescinded, tasks reported, FAILURE sent.
  void LoseAgent(Agent& agent, bool gone);
  // Restart(keep_state=false): frameworks known to the agents come back as recovered.
  void RecoverFrameworksFromAgents();
  void OnRecovered();

  const LocalMasterConfig config_;
  EventLoop& loop_;
  const std::string work_dir_;
  const std::function<void()> on_recovered_;
  std::unique_ptr<TaskRunner> runner_;     // with --execute
  std::unique_ptr<NetworkProber> prober_;  // with --execute
  uint64_t next_probe_ = 1;
  // SetHealthChecksFailing: task IDs (any framework) and agent indexes whose probes fail.
  std::set<std::string> failing_check_tasks_;
  std::set<int> failing_check_agents_;
  // SetChecksFailing: task IDs (any framework) whose TaskInfo.check alone fails.
  std::set<std::string> failing_check_only_tasks_;
  int port_ = 0;
  std::string master_id_;
  absl::Time start_time_;
  absl::Time elected_time_;
  absl::BitGen bitgen_;

  std::vector<Agent> agents_;
  // Which agent holds each task (the index into agents_): FindTask without a
  // search of every agent. Kept by LaunchTask and DestroyTask, the only
  // places that add tasks to or remove them from Agent::tasks.
  std::map<TaskKey, size_t> task_agents_;
  std::map<std::string, std::unique_ptr<Framework>> frameworks_;
  std::set<std::string> completed_ids_;
  std::deque<std::string> completed_json_;  // newest last, at most 50
  std::map<std::string, Offer> offers_;
  int next_framework_ = 0;
  uint64_t next_offer_ = 0;
  uint64_t next_task_serial_ = 1;
  uint64_t next_filter_ = 1;
  size_t allocation_rotation_ = 0;
  EventLoop::TimerId allocation_timer_ = 0;
  bool allocation_scheduled_ = false;
  bool heartbeats_enabled_ = true;
  bool duplicate_updates_ = false;
  bool recovering_ = false;
  EventLoop::TimerId recovery_timer_ = 0;
  LocalMaster::Stats stats_;
};

}  // namespace mast::local
