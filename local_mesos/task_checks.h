#pragma once

// Health checks (TaskInfo.health_check) and checks (TaskInfo.check) of the local master's
// tasks, as the Mesos command executor runs them: the pure bookkeeping of a health check's
// results, the probes' shared description, and the network probes (HTTP, TCP) that run off the
// master's loop. The master (master_checks.cc) schedules the probes on its Clock and turns their
// results into status updates; COMMAND probes run through the TaskRunner.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mesos/v1/mesos.pb.h"

namespace mast::local {

// One probe of a task, from either a HealthCheck or a CheckInfo. Network probes always target
// 127.0.0.1 (the tasks run on this host) and speak plain HTTP: an `https` scheme is not
// supported (its probes fail, where the command executor would not verify the certificate).
struct ProbeSpec {
  ::mesos::v1::CheckInfo::Type type = ::mesos::v1::CheckInfo::UNKNOWN;
  ::mesos::v1::CommandInfo command;  // COMMAND
  uint32_t port = 0;                 // HTTP, TCP
  std::string path;                  // HTTP, "/" if empty
  absl::Duration delay;              // before the first probe
  absl::Duration interval;           // from one probe's result to the next probe
  absl::Duration timeout;            // of each probe
};
ProbeSpec HealthProbeSpec(const ::mesos::v1::HealthCheck& check);
ProbeSpec CheckProbeSpec(const ::mesos::v1::CheckInfo& check);

// What one probe saw. Exactly one of the fields is set unless the probe timed out or could not
// run at all (then none is: the check's result is "not available").
struct ProbeResult {
  std::optional<int> exit_code;    // COMMAND
  std::optional<int> http_status;  // HTTP: the response's status code
  std::optional<bool> connected;   // TCP
};
// A health check's verdict on a result: COMMAND exit 0, HTTP 2xx/3xx (the command executor
// ignores `statuses`), TCP connected. Anything else (a timeout included) is a failure.
bool ProbeSucceeded(::mesos::v1::CheckInfo::Type type, const ProbeResult& result);
// The CheckStatusInfo a check's result is reported as (no type-specific value if none is set).
::mesos::v1::CheckStatusInfo CheckStatus(::mesos::v1::CheckInfo::Type type,
                                         const ProbeResult& result);
// The result an injected failure (or a passing simulated task) reports: exit 1 / HTTP 503 /
// not connected, or exit 0 / HTTP 200 / connected.
ProbeResult SimulatedProbeResult(::mesos::v1::CheckInfo::Type type, bool success);

// The master's validation of TaskInfo.health_check and TaskInfo.check, in Mesos' words
// ("Task's health check is invalid: ..."); nullopt if fine.
std::optional<std::string> ValidateTaskChecks(const ::mesos::v1::TaskInfo& task);

// The command executor's health bookkeeping (Mesos' HealthChecker): failures are ignored during
// `grace_period_seconds` from the start of the checks until the first success; a status update
// is due on the first success, on the first success after failures, and on every counted
// failure; the task is to be killed once `consecutive_failures` failures came in a row. Pure
// logic, no I/O; not thread-safe.
class HealthTracker {
 public:
  HealthTracker(const ::mesos::v1::HealthCheck& check, absl::Time started);
  struct Verdict {
    bool healthy = false;
    bool kill = false;
  };
  // The update to send for a result at `now`, if any.
  std::optional<Verdict> OnResult(bool success, absl::Time now);
  int consecutive_failures() const { return consecutive_failures_; }

 private:
  const absl::Duration grace_period_;
  const uint32_t max_consecutive_failures_;
  const absl::Time started_;
  bool initializing_ = true;  // no success yet
  int consecutive_failures_ = 0;
};

// Runs HTTP and TCP probes against 127.0.0.1, each on a thread of its own that ends within the
// probe's timeout (connect, send and receive are all bounded by it). `done` is called on that
// thread with the result (it must only post elsewhere and not block). At most as many threads
// as probes in flight (the master has at most one per check of a running task). The destructor
// makes the probes in flight give up at once (their `done` still runs) and joins their threads.
class NetworkProber {
 public:
  NetworkProber();
  ~NetworkProber();
  NetworkProber(const NetworkProber&) = delete;
  NetworkProber& operator=(const NetworkProber&) = delete;

  // `spec.type` is HTTP or TCP.
  void Probe(const ProbeSpec& spec, absl::AnyInvocable<void(ProbeResult)> done);

 private:
  struct Worker {
    std::thread thread;
    bool finished = false;
  };
  int cancel_pipe_[2] = {-1, -1};  // written by the destructor; probes poll its read end
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Worker>> workers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mast::local
