#include "local_mesos/task_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace mast::local {
namespace {

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Owns a posix_spawn attribute/file-action pair for one Start(): the child gets its own
// process group, an empty signal mask with the usual signals at their defaults, stdin from
// /dev/null, stdout/stderr appended to the sandbox's files, and the sandbox as its directory.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  const std::string out_path;
  const std::string err_path;
  explicit SpawnSetup(const std::string& sandbox)
      : out_path(sandbox + "/stdout"), err_path(sandbox + "/stderr") {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_addchdir_np(&actions, sandbox.c_str());
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

struct Argv {
  std::string program;            // looked up on PATH by posix_spawnp
  std::vector<std::string> args;  // argv, argv[0] included
};

// `shell` commands run as `/bin/sh -c <value>`; others exec `value` with `arguments` as argv.
absl::StatusOr<Argv> CommandArgv(const ::mesos::v1::CommandInfo& command) {
  if (command.shell()) return Argv{"/bin/sh", {"sh", "-c", command.value()}};
  if (command.value().empty()) {
    return absl::InvalidArgumentError("CommandInfo.value is empty (nothing to execute)");
  }
  Argv argv{command.value(), {command.arguments().begin(), command.arguments().end()}};
  if (argv.args.empty()) argv.args.push_back(argv.program);
  return argv;
}

// PATH (the master's own, or a default), the MESOS_* variables, then the command's
// environment; a SECRET variable gets its value, if it has one inline.
std::vector<std::string> Environment(const TaskRunner::Launch& launch) {
  std::vector<std::string> env;
  const char* path = std::getenv("PATH");
  env.push_back(absl::StrCat("PATH=", path != nullptr ? path : kDefaultPath));
  for (const auto& [key, value] : launch.extra_env) env.push_back(absl::StrCat(key, "=", value));
  for (const auto& variable : launch.command.environment().variables()) {
    if (variable.type() == ::mesos::v1::Environment::Variable::SECRET) {
      if (variable.secret().has_value()) {
        env.push_back(absl::StrCat(variable.name(), "=", variable.secret().value().data()));
      }
      continue;
    }
    env.push_back(absl::StrCat(variable.name(), "=", variable.value()));
  }
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("Command exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = ::strsignal(WTERMSIG(status));
    return absl::StrCat("Command terminated with signal ",
                        name != nullptr ? name : absl::StrCat(WTERMSIG(status)));
  }
  return absl::StrCat("Command ended with wait status ", status);
}

TaskRunner::~TaskRunner() {
  std::vector<std::unique_ptr<Child>> children;
  {
    absl::MutexLock lock(&mu_);
    for (auto& child : children_) {
      if (!child->reaped) ::kill(-child->pid, SIGKILL);
    }
    children.swap(children_);
  }
  for (auto& child : children) {
    if (child->waiter.joinable()) child->waiter.join();
  }
}

absl::StatusOr<pid_t> TaskRunner::Start(const Launch& launch,
                                        absl::AnyInvocable<void(int status)> on_exit) {
  std::error_code ec;
  std::filesystem::create_directories(launch.sandbox, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("Failed to create sandbox ", launch.sandbox, ": ", ec.message()));
  }
  absl::StatusOr<Argv> argv = CommandArgv(launch.command);
  if (!argv.ok()) return argv.status();
  std::vector<std::string> env = Environment(launch);
  SpawnSetup setup(launch.sandbox);
  std::vector<char*> argv_ptrs = Pointers(argv->args);
  std::vector<char*> env_ptrs = Pointers(env);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv->program.c_str(), &setup.actions, &setup.attr,
                          argv_ptrs.data(), env_ptrs.data());
  if (rc != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("Failed to execute '", argv->program, "': ", std::strerror(rc)));
  }

  absl::MutexLock lock(&mu_);
  // Join the waiters that have finished (a finished std::thread keeps its stack until joined).
  for (auto it = children_.begin(); it != children_.end();) {
    if ((*it)->done.load()) {
      (*it)->waiter.join();
      it = children_.erase(it);
    } else {
      ++it;
    }
  }
  auto child = std::make_unique<Child>();
  child->pid = pid;
  Child* raw = child.get();
  children_.push_back(std::move(child));
  raw->waiter = std::thread([this, raw, on_exit = std::move(on_exit)]() mutable {
    // Wait without reaping, so that the group id cannot be reused while the rest of the
    // group is killed; then reap.
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(raw->pid), &info, WEXITED | WNOWAIT) != 0 &&
           errno == EINTR) {
    }
    ::kill(-raw->pid, SIGKILL);  // stragglers of the task (a container is destroyed whole)
    int status = 0;
    while (::waitpid(raw->pid, &status, 0) < 0 && errno == EINTR) {
    }
    {
      absl::MutexLock lock(&mu_);
      raw->reaped = true;
    }
    on_exit(status);
    raw->done = true;
  });
  LogInfo("local_task_process_started", {{"pid", pid}, {"sandbox", launch.sandbox}});
  return pid;
}

void TaskRunner::Signal(pid_t pid, int sig) {
  absl::MutexLock lock(&mu_);
  for (const auto& child : children_) {
    if (child->pid == pid && !child->reaped) {
      ::kill(-pid, sig);
      return;
    }
  }
}

}  // namespace mast::local
