#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "mesos/v1/mesos.pb.h"

namespace mast::local {

// Runs tasks' commands as local processes for the local master's agents (--execute), roughly as
// the Mesos command executor would: `shell` commands as `/bin/sh -c <value>`, others exec'd with
// their `arguments` as argv; each in its own process group, in its sandbox directory, with
// stdin from /dev/null and stdout/stderr in the sandbox's `stdout`/`stderr` files. The user
// fields are ignored (everything runs as the master's own user); URIs are not fetched.
//
// Threads: Start() and Signal() may be called from any thread. One waiter thread per process
// reaps it and then calls its `on_exit` with the raw wait status (it must only post elsewhere
// and not block); stray processes left in the group are then killed. The destructor SIGKILLs
// every group still running and joins the waiters (their `on_exit` still runs).
class TaskRunner {
 public:
  TaskRunner() = default;
  ~TaskRunner();
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  struct Launch {
    ::mesos::v1::CommandInfo command;
    std::string sandbox;                                         // created if missing
    std::vector<std::pair<std::string, std::string>> extra_env;  // MESOS_TASK_ID, ...
  };
  // Starts the process; its pid (= its process group id). The error says why it could not start
  // (bad sandbox, no such program).
  absl::StatusOr<pid_t> Start(const Launch& launch, absl::AnyInvocable<void(int status)> on_exit);
  // Sends `sig` to the process group of `pid` if it has not been reaped yet.
  void Signal(pid_t pid, int sig);

 private:
  struct Child {
    pid_t pid;
    bool reaped = false;
    std::atomic<bool> done{false};  // the waiter has returned from on_exit
    std::thread waiter;
  };
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Child>> children_ ABSL_GUARDED_BY(mu_);
};

// "Command exited with status 3" / "Command terminated with signal Terminated" (the command
// executor's wording) for a raw wait status.
std::string DescribeWaitStatus(int status);

}  // namespace mast::local
