#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "local_mesos/http_server.h"
#include "mesos/v1/mesos.pb.h"
#include "mesos/v1/scheduler/scheduler.pb.h"

namespace mast::local {

struct LocalMasterConfig {
  // Where to listen: "ip:port" (port 0 picks one). Loopback by default.
  std::string address = "127.0.0.1:0";
  // Simulated agents, >= 0. Agent i has hostname "agent-<i>" and ID "<master-id>-S<i>".
  int agents = 1;
  // Every agent's resources, in the Mesos `--resources` text form (unreserved only).
  std::string agent_resources = "cpus:4;mem:8192;disk:10000;ports:[31000-32000]";
  // TEXT attributes of every agent, e.g. {{"rack","r1"},{"zone","a"}}.
  std::vector<std::pair<std::string, std::string>> agent_attributes;
  // SUBSCRIBED.heartbeat_interval_seconds and the HEARTBEAT period; > 0. Mesos: 15 s.
  absl::Duration heartbeat_interval = absl::Seconds(15);
  // First resend of an unacknowledged status update by an agent; doubles up to 10 minutes
  // (the real agent's schedule). > 0.
  absl::Duration update_retry_interval = absl::Seconds(10);
  // Delay before resources freed by DECLINE, ACCEPT leftovers, terminal tasks, rescinds or
  // expired filters are offered again (the master's --allocation_interval). Subscriptions,
  // REVIVE and agents (re)joining allocate at once. >= 0.
  absl::Duration allocation_interval = absl::Seconds(1);
  // Grace period of a KILL when the task has no KillPolicy (the command executor's 3 s). >= 0.
  absl::Duration default_kill_grace = absl::Seconds(3);
  // How long Restart() answers 503 before the new master serves calls again. >= 0.
  absl::Duration restart_recovery = absl::Milliseconds(500);
  // Agents run tasks' commands as local processes (TaskRunner); otherwise a task runs until
  // killed (or its agent or framework goes away). Either way TaskInfo.health_check and
  // TaskInfo.check run on the Clock as the command executor runs them (delay, interval,
  // timeout, grace period, consecutive failures; status updates with `healthy` or
  // `check_status`); with `execute` they probe the task for real (HTTP GET / TCP connect to
  // 127.0.0.1:port, COMMAND in the task's sandbox), otherwise every probe passes unless made to
  // fail (SetHealthChecksFailing, SetChecksFailing).
  bool execute = false;
  // Serve POST /faults/<name> (drop-subscriptions, heartbeats?enabled=0|1,
  // redirect?leader=host:port, unavailable?on=0|1, rescind-offers,
  // disconnect-agent?index=i, reconnect-agent?index=i, remove-agent?index=i,
  // restart?keep_state=0|1, duplicate-updates?on=0|1, call-delay?ms=N,
  // health-checks?task=ID&fail=0|1, health-checks?agent=i&fail=0|1,
  // checks?task=ID&fail=0|1): the fault-injection methods below, for a
  // running mast-local-mesos.
  bool fault_endpoints = false;
  // Sandboxes of executed tasks live under here; empty: a temporary directory that is removed
  // when the master is destroyed.
  std::string work_dir;
  // Largest accepted request body (413 above).
  size_t max_body_bytes = 16 << 20;
};

// InvalidArgument naming the field for a bad config (including unparsable agent_resources).
absl::Status ValidateLocalMasterConfig(const LocalMasterConfig& config);

// A Mesos master for development and tests that speaks the v1 scheduler HTTP API
// (`POST /api/v1/scheduler`, mesos-v1-api.md §1-§5) to the letter and offers the resources of
// simulated agents, with fault injection. Also serves GET /version, /redirect, /master/state,
// /master/frameworks and /master/tasks in the real master's JSON shapes (the fields a scheduler
// or a test looks at).
//
// Threads: one EventLoop thread owns all master state (frameworks, agents, offers, tasks,
// timers). The HTTP server's connection threads only check the request, post it to the loop and
// wait for the answer; subscription streams are written from the loop. Every public method is
// thread-safe; those that change or read state run on the loop and return once it has been
// applied or read (calling them from inside the loop runs them inline). No lock is held while
// a callback runs. Timers (heartbeats, failover_timeout, update resends, filter expiry, kill
// grace, allocation batching, restart recovery, call delay) follow the injected Clock, so a test
// may drive a ManualClock.
//
// Ownership: the master owns its server, loop, task processes and temporary work dir; the
// destructor drops every connection, kills every task process group and joins all threads.
// `clock` must outlive the master.
class LocalMaster {
 public:
  static absl::StatusOr<std::unique_ptr<LocalMaster>> Start(LocalMasterConfig config, Clock& clock);
  ~LocalMaster();
  LocalMaster(const LocalMaster&) = delete;
  LocalMaster& operator=(const LocalMaster&) = delete;

  int port() const;
  std::string url() const;  // "http://127.0.0.1:<port>"
  // This master's current ID (it changes on Restart()).
  std::string master_id() const;

  // ---- Fault injection ----
  // Aborts every subscription stream (no terminating chunk), as a network failure would; the
  // master then sees each framework disconnect (403 on calls, failover timer).
  void DropSubscriptions();
  // Stops/resumes HEARTBEAT events (also the one right after SUBSCRIBED); streams stay open.
  void SetHeartbeats(bool enabled);
  // While set, every request (any path, any method) is answered 307 with
  // `Location: //<leader><path>` — the master acts as a non-leading master. nullopt: leading.
  void SetRedirect(std::optional<std::string> leader);
  // While on, every request is answered 503 "No leader elected".
  void SetUnavailable(bool on);
  // Rescinds every outstanding offer (RESCIND events); the resources are offered again.
  void RescindAllOffers();
  // Agent `index` is partitioned away: its tasks become TASK_UNREACHABLE (PARTITION_AWARE, with
  // unreachable_time) or TASK_LOST, its offers are rescinded, FAILURE{agent_id} is sent. Its
  // tasks keep running; their updates wait on the agent. The master no longer knows the tasks:
  // a KILL or RECONCILE for one gets the reconciliation answer (TASK_UNREACHABLE / TASK_LOST).
  void DisconnectAgent(int index);
  // The partitioned agent re-registers: its tasks are reported in their current state with
  // REASON_AGENT_REREGISTERED (SOURCE_MASTER, no uuid), its pending updates are resent, its
  // resources are offered again.
  void ReconnectAgent(int index);
  // The agent is marked gone: its tasks become TASK_GONE_BY_OPERATOR (PA) / TASK_LOST and are
  // killed; the agent never returns.
  void RemoveAgent(int index);
  // Master failover: every stream is dropped, offers vanish, and calls get 503 "Master has not
  // finished recovery" for `restart_recovery`; a new master ID is chosen. keep_state=true keeps
  // frameworks (disconnected, no failover timers — MESOS-4659) and the completed list;
  // keep_state=false forgets them: once the agents re-register, frameworks that have tasks are
  // known again (calls 403 until re-SUBSCRIBE), and any re-SUBSCRIBE with an ID is accepted.
  // Tasks survive on the agents either way.
  void Restart(bool keep_state);
  // Every status UPDATE event is written twice.
  void SetDuplicateUpdates(bool on);
  // Every non-SUBSCRIBE call is processed and answered only after `delay` (on the Clock).
  void SetCallDelay(absl::Duration delay);
  // From the next probe on, every health check of the task(s) named `task_id` (in any
  // framework) fails, and their check (TaskInfo.check) reports a failing result (exit code 1,
  // HTTP 503, TCP not connected), without probing the task; `failing=false` lets the probes run
  // again. The health consequences follow as for a real failure: healthy=false updates, then
  // the kill after `consecutive_failures`. Applies to tasks launched later too.
  void SetHealthChecksFailing(const std::string& task_id, bool failing);
  // The same for every task on agent `index`, present and future.
  void SetAgentHealthChecksFailing(int index, bool failing);
  // From the next probe on, the check (TaskInfo.check, not the health check) of the task(s)
  // named `task_id` reports a failing result (exit code 1, HTTP 503, TCP not connected) without
  // probing the task: a task that never becomes ready, or stops being ready, while healthy.
  // `failing=false` lets the probes run again. Applies to tasks launched later too.
  void SetChecksFailing(const std::string& task_id, bool failing);

  // ---- Introspection for tests (snapshots) ----
  struct Stats {
    int subscriptions = 0;          // SUBSCRIBED events sent
    int failovers = 0;              // "Framework failed over" errors sent
    int frameworks_registered = 0;  // frameworks currently registered (not completed)
    int frameworks_connected = 0;   // ... of which with an open subscription stream
    int frameworks_completed = 0;
    std::map<std::string, int> calls_by_type;  // accepted calls (202/200/501) by Call.Type name
    int acknowledged = 0;                      // status updates acknowledged
    int declined_offers = 0;                   // offers declined by DECLINE
    int suppress_calls = 0;
    int revive_calls = 0;
    int offers_sent = 0;
    int offers_outstanding = 0;
    int offers_rescinded = 0;
    int updates_sent = 0;  // UPDATE events written (duplicates and resends included)
    int master_restarts = 0;
  };
  Stats stats() const;

  struct TaskView {
    std::string framework_id;
    std::string task_id;
    std::string agent_id;
    ::mesos::v1::TaskState state;        // as the master knows it
    ::mesos::v1::TaskState agent_state;  // as the agent knows it
    bool acknowledged;                   // no status update is waiting for an ACKNOWLEDGE
    int pending_updates;
    std::string sandbox;          // with --execute
    std::optional<bool> healthy;  // the latest health the agent reported, if any
    int health_check_results;     // health check probes completed (timeouts included)
    int check_results;            // check (TaskInfo.check) probes completed
  };
  std::vector<TaskView> tasks() const;

  class State;  // loop-owned state; public only for the implementation files.

 private:
  LocalMaster(LocalMasterConfig config, Clock& clock);
  // What a request path names (defined in local_master.cc).
  enum class Route;
  static std::optional<Route> FindRoute(absl::string_view path, bool fault_endpoints);
  // The HTTP entry point (connection threads): the front door's checks in the master's order
  // (mesos-v1-api.md §1.3), then the route.
  void Handle(const HttpRequest& request, HttpExchange& exchange);
  // GET of a state endpoint: its JSON, read on the loop.
  HttpResponse ReadState(const HttpRequest& request, Route route);
  // The scheduler API past the front door: rows 3-14 of §1.3.
  void HandleSchedulerCall(const HttpRequest& request, HttpExchange& exchange,
                           absl::Duration delay);
  // SUBSCRIBE: rows 7-9 (200 and the stream at once), then the call on the loop.
  void StartSubscription(const HttpRequest& request, HttpExchange& exchange,
                         ::mesos::v1::scheduler::Call call);
  // POST /faults/<name>: runs the named fault-injection method.
  HttpResponse HandleFault(const HttpRequest& request);
  // Runs `fn` on the loop and waits for its result; answers 503 if the master is stopping.
  HttpResponse AskLoop(absl::AnyInvocable<HttpResponse()> fn, absl::Duration delay);
  // Runs `fn` on the loop and waits until it ran (inline on the loop thread).
  void RunSync(absl::AnyInvocable<void()> fn) const;

  const LocalMasterConfig config_;
  Clock& clock_;
  std::string temp_work_dir_;  // removed by the destructor

  // The front door, read by connection threads before anything reaches the loop.
  mutable absl::Mutex front_mu_;
  std::optional<std::string> redirect_ ABSL_GUARDED_BY(front_mu_);
  bool unavailable_ ABSL_GUARDED_BY(front_mu_) = false;
  // Also set until Start() has finished wiring the master up.
  bool recovering_ ABSL_GUARDED_BY(front_mu_) = true;
  absl::Duration call_delay_ ABSL_GUARDED_BY(front_mu_) = absl::ZeroDuration();
  bool stopping_ ABSL_GUARDED_BY(front_mu_) = false;

  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<State> state_;  // touched only on loop_
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> port_{0};
};

using LocalMasterPtr = std::unique_ptr<LocalMaster>;

}  // namespace mast::local
