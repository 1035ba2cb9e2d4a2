#include "local_mesos/task_checks.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace mast::local {
namespace {

namespace mesos_v1 = ::mesos::v1;

// The shortest interval between probes: an interval of 0 would probe a simulated task in a busy
// loop on the master's loop.
constexpr absl::Duration kMinInterval = absl::Milliseconds(1);

absl::Duration FromSeconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return absl::ZeroDuration();
  return absl::Seconds(seconds);
}

// Waits until `fd` is ready for `events`; false once `deadline` passes or `cancel_fd` becomes
// readable (the prober is being destroyed).
bool WaitReady(int fd, short events, absl::Time deadline, int cancel_fd) {
  pollfd pfds[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
  while (true) {
    const int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms <= 0) return false;
    int n = ::poll(pfds, 2, static_cast<int>(wait_ms));
    if (n < 0 && errno == EINTR) continue;
    return n > 0 && pfds[1].revents == 0 && pfds[0].revents != 0;
  }
}

// A connected non-blocking socket to 127.0.0.1:port, or -1 if the connection was refused or
// not made in time.
int ConnectLoopback(uint32_t port, absl::Time deadline, int cancel_fd) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
  if (errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  int error = 0;
  socklen_t len = sizeof(error);
  if (!WaitReady(fd, POLLOUT, deadline, cancel_fd) ||
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET http://127.0.0.1:<port><path>: the status code, or nullopt (refused, timed out, or no
// status line). Redirects are not followed: a 3xx is the answer (and stays on loopback).
std::optional<int> HttpGetStatus(uint32_t port, const std::string& path, absl::Time deadline,
                                 int cancel_fd) {
  int fd = ConnectLoopback(port, deadline, cancel_fd);
  if (fd < 0) return std::nullopt;
  const std::string request =
      absl::StrCat("GET ", path.empty() ? "/" : path, " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                   "\r\nUser-Agent: mast-local-mesos-health-check\r\nAccept: */*\r\n"
                   "Connection: close\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    if (!WaitReady(fd, POLLOUT, deadline, cancel_fd)) break;
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0 && errno != EAGAIN && errno != EINTR) break;
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string head;
  while (sent == request.size() && head.find("\r\n") == std::string::npos && head.size() < 4096) {
    if (!WaitReady(fd, POLLIN, deadline, cancel_fd)) break;
    char buffer[1024];
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      break;
    }
    head.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  // "HTTP/1.1 200 OK"
  absl::string_view line(head);
  line = line.substr(0, line.find("\r\n"));
  if (!absl::StartsWith(line, "HTTP/") || line.size() < 12 || line[8] != ' ') return std::nullopt;
  int status = 0;
  if (!absl::SimpleAtoi(line.substr(9, 3), &status)) return std::nullopt;
  return status;
}

// `http_path`: the HTTP check's path, if it has one.
std::optional<std::string> ValidateProbe(mesos_v1::CheckInfo::Type type, bool has_command,
                                         bool has_http, const std::string* http_path, bool has_tcp,
                                         const std::string& what) {
  switch (type) {
    case mesos_v1::CheckInfo::COMMAND:
      if (!has_command) return absl::StrCat("Expecting 'command' to be set for COMMAND ", what);
      return std::nullopt;
    case mesos_v1::CheckInfo::HTTP:
      if (!has_http) return absl::StrCat("Expecting 'http' to be set for HTTP ", what);
      if (http_path != nullptr && !absl::StartsWith(*http_path, "/")) {
        return absl::StrCat("The path '", *http_path, "' of HTTP ", what, " must start with '/'");
      }
      return std::nullopt;
    case mesos_v1::CheckInfo::TCP:
      if (!has_tcp) return absl::StrCat("Expecting 'tcp' to be set for TCP ", what);
      return std::nullopt;
    case mesos_v1::CheckInfo::UNKNOWN:
      break;
  }
  return absl::StrCat(what == "check" ? "CheckInfo" : "HealthCheck", " must specify 'type'");
}

std::optional<std::string> ValidateSeconds(
    std::initializer_list<std::pair<const char*, double>> fields) {
  for (const auto& [name, value] : fields) {
    if (!(value >= 0)) return absl::StrCat("Expecting '", name, "' to be non-negative");
  }
  return std::nullopt;
}

}  // namespace

ProbeSpec HealthProbeSpec(const mesos_v1::HealthCheck& check) {
  ProbeSpec spec;
  // HealthCheck.Type and CheckInfo.Type share their numbers.
  spec.type = static_cast<mesos_v1::CheckInfo::Type>(check.type());
  spec.command = check.command();
  if (check.type() == mesos_v1::HealthCheck::HTTP) {
    spec.port = check.http().port();
    spec.path = check.http().path();
  } else if (check.type() == mesos_v1::HealthCheck::TCP) {
    spec.port = check.tcp().port();
  }
  spec.delay = FromSeconds(check.delay_seconds());
  spec.interval = std::max(FromSeconds(check.interval_seconds()), kMinInterval);
  spec.timeout = FromSeconds(check.timeout_seconds());
  return spec;
}

ProbeSpec CheckProbeSpec(const mesos_v1::CheckInfo& check) {
  ProbeSpec spec;
  spec.type = check.type();
  spec.command = check.command().command();
  if (check.type() == mesos_v1::CheckInfo::HTTP) {
    spec.port = check.http().port();
    spec.path = check.http().path();
  } else if (check.type() == mesos_v1::CheckInfo::TCP) {
    spec.port = check.tcp().port();
  }
  spec.delay = FromSeconds(check.delay_seconds());
  spec.interval = std::max(FromSeconds(check.interval_seconds()), kMinInterval);
  spec.timeout = FromSeconds(check.timeout_seconds());
  return spec;
}

bool ProbeSucceeded(mesos_v1::CheckInfo::Type type, const ProbeResult& result) {
  switch (type) {
    case mesos_v1::CheckInfo::COMMAND:
      return result.exit_code == 0;
    case mesos_v1::CheckInfo::HTTP:
      return result.http_status.has_value() && *result.http_status >= 200 &&
             *result.http_status < 400;
    case mesos_v1::CheckInfo::TCP:
      return result.connected.value_or(false);
    case mesos_v1::CheckInfo::UNKNOWN:
      break;
  }
  return false;
}

mesos_v1::CheckStatusInfo CheckStatus(mesos_v1::CheckInfo::Type type, const ProbeResult& result) {
  mesos_v1::CheckStatusInfo status;
  status.set_type(type);
  switch (type) {
    case mesos_v1::CheckInfo::COMMAND: {
      auto* command = status.mutable_command();
      if (result.exit_code.has_value()) command->set_exit_code(*result.exit_code);
      break;
    }
    case mesos_v1::CheckInfo::HTTP: {
      auto* http = status.mutable_http();
      if (result.http_status.has_value()) {
        http->set_status_code(static_cast<uint32_t>(*result.http_status));
      }
      break;
    }
    case mesos_v1::CheckInfo::TCP: {
      auto* tcp = status.mutable_tcp();
      if (result.connected.has_value()) tcp->set_succeeded(*result.connected);
      break;
    }
    case mesos_v1::CheckInfo::UNKNOWN:
      break;
  }
  return status;
}

ProbeResult SimulatedProbeResult(mesos_v1::CheckInfo::Type type, bool success) {
  ProbeResult result;
  switch (type) {
    case mesos_v1::CheckInfo::COMMAND:
      result.exit_code = success ? 0 : 1;
      break;
    case mesos_v1::CheckInfo::HTTP:
      result.http_status = success ? 200 : 503;
      break;
    case mesos_v1::CheckInfo::TCP:
      result.connected = success;
      break;
    case mesos_v1::CheckInfo::UNKNOWN:
      break;
  }
  return result;
}

std::optional<std::string> ValidateTaskChecks(const mesos_v1::TaskInfo& task) {
  if (task.has_health_check()) {
    const mesos_v1::HealthCheck& check = task.health_check();
    std::optional<std::string> error = ValidateProbe(
        static_cast<mesos_v1::CheckInfo::Type>(check.type()), check.has_command(), check.has_http(),
        check.http().has_path() ? &check.http().path() : nullptr, check.has_tcp(), "health check");
    if (!error) {
      error = ValidateSeconds({{"delay_seconds", check.delay_seconds()},
                               {"interval_seconds", check.interval_seconds()},
                               {"timeout_seconds", check.timeout_seconds()},
                               {"grace_period_seconds", check.grace_period_seconds()}});
    }
    if (error) return absl::StrCat("Task's health check is invalid: ", *error);
  }
  if (task.has_check()) {
    const mesos_v1::CheckInfo& check = task.check();
    std::optional<std::string> error = ValidateProbe(
        check.type(), check.has_command(), check.has_http(),
        check.http().has_path() ? &check.http().path() : nullptr, check.has_tcp(), "check");
    if (!error) {
      error = ValidateSeconds({{"delay_seconds", check.delay_seconds()},
                               {"interval_seconds", check.interval_seconds()},
                               {"timeout_seconds", check.timeout_seconds()}});
    }
    if (error) return absl::StrCat("Task's check is invalid: ", *error);
  }
  return std::nullopt;
}

HealthTracker::HealthTracker(const mesos_v1::HealthCheck& check, absl::Time started)
    : grace_period_(FromSeconds(check.grace_period_seconds())),
      max_consecutive_failures_(check.consecutive_failures()),
      started_(started) {}

std::optional<HealthTracker::Verdict> HealthTracker::OnResult(bool success, absl::Time now) {
  if (success) {
    const bool report = initializing_ || consecutive_failures_ > 0;
    initializing_ = false;
    consecutive_failures_ = 0;
    if (!report) return std::nullopt;
    return Verdict{/*healthy=*/true, /*kill=*/false};
  }
  if (initializing_ && now - started_ <= grace_period_) return std::nullopt;
  ++consecutive_failures_;
  return Verdict{
      /*healthy=*/false,
      /*kill=*/static_cast<uint32_t>(consecutive_failures_) >= max_consecutive_failures_};
}

NetworkProber::NetworkProber() {
  if (::pipe2(cancel_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) cancel_pipe_[0] = cancel_pipe_[1] = -1;
}

NetworkProber::~NetworkProber() {
  // Probes in flight give up at once (their results are dropped by the stopped loop).
  if (cancel_pipe_[1] >= 0) (void)::write(cancel_pipe_[1], "x", 1);
  std::vector<std::unique_ptr<Worker>> workers;
  {
    absl::MutexLock lock(&mu_);
    workers.swap(workers_);
  }
  for (auto& worker : workers) worker->thread.join();
  for (int fd : cancel_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void NetworkProber::Probe(const ProbeSpec& spec, absl::AnyInvocable<void(ProbeResult)> done) {
  absl::MutexLock lock(&mu_);
  // Join the probes that have finished (a finished std::thread keeps its stack until joined).
  for (auto it = workers_.begin(); it != workers_.end();) {
    if ((*it)->finished) {
      (*it)->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  auto worker = std::make_unique<Worker>();
  Worker* raw = worker.get();
  workers_.push_back(std::move(worker));
  raw->thread = std::thread([this, raw, spec, done = std::move(done)]() mutable {
    const absl::Time deadline = absl::Now() + spec.timeout;
    ProbeResult result;
    if (spec.type == mesos_v1::CheckInfo::TCP) {
      int fd = ConnectLoopback(spec.port, deadline, cancel_pipe_[0]);
      result.connected = fd >= 0;
      if (fd >= 0) ::close(fd);
    } else {
      result.http_status = HttpGetStatus(spec.port, spec.path, deadline, cancel_pipe_[0]);
    }
    done(result);
    absl::MutexLock lock(&mu_);
    raw->finished = true;
  });
}

}  // namespace mast::local
