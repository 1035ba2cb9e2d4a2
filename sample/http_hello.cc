// mast-sample-http: the sample service that scripts/run-local deploys ("demo/hello").
//
// A tiny HTTP/1.1 server with no dependency beyond libc, so that it runs on any agent as is:
//   GET /        200 "hello from <MESOS_TASK_ID, else the hostname> on port <port>\n"
//   GET /health  200 "ok\n"
//   other paths  404; other methods 405 (HEAD is answered like GET, without the body).
// Every response closes the connection (HTTP/1.1 allows it; no keep-alive to manage).
//
// Port: $PORT_HTTP (what Mast sets for the spec's port named "http"), else $PORT0, else $PORT;
// it listens on 0.0.0.0:<port>. A missing or malformed port exits with status 2, a port that
// cannot be bound with status 1, both with a message on stderr.
//
// Signals: SIGTERM (what Mesos sends first when it kills a task) and SIGINT end the server
// cleanly with status 0, also in the middle of a request. One thread serves one connection at a
// time; a client gets kIoTimeout to send its request and take the answer, so a stuck client
// delays the others by that much at most.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace {

constexpr char kProgram[] = "mast-sample-http";
constexpr auto kIoTimeout = std::chrono::seconds(5);
constexpr size_t kMaxRequestHeadBytes = 16 * 1024;

enum ExitCode { kExitOk = 0, kExitRuntimeError = 1, kExitConfigError = 2 };

// The port to listen on, or a message saying why there is none.
struct PortChoice {
  int port = 0;
  std::string error;
};

PortChoice ChoosePort() {
  for (const char* name : {"PORT_HTTP", "PORT0", "PORT"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    std::string_view text(value);
    int port = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) {
      return {0, std::string(name) + "='" + value + "' is not a TCP port (1-65535)"};
    }
    return {port, ""};
  }
  return {0,
          "no port given: set PORT_HTTP (or PORT0 or PORT); Mast sets them for the service's "
          "ports"};
}

std::string Identity() {
  if (const char* task = std::getenv("MESOS_TASK_ID"); task != nullptr && *task != '\0') {
    return task;
  }
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) return "unknown-host";
  return host;
}

int MillisLeft(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// Waits until `fd` is ready for `events`, the deadline passes or a signal is pending on
// `signal_fd`. True only when `fd` is ready; `*signalled` tells a pending signal apart.
bool WaitReady(int fd, short events, int signal_fd, std::chrono::steady_clock::time_point deadline,
               bool* signalled) {
  while (true) {
    pollfd fds[2] = {{fd, events, 0}, {signal_fd, POLLIN, 0}};
    int timeout_ms = MillisLeft(deadline);
    int n = poll(fds, 2, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (fds[1].revents & POLLIN) {
      *signalled = true;
      return false;
    }
    if (n == 0) return false;  // deadline
    return (fds[0].revents & (events | POLLHUP | POLLERR)) != 0;
  }
}

struct Response {
  int status = 500;
  std::string reason;
  std::string body;
  std::string extra_headers;  // "Name: value\r\n"...
};

Response Answer(std::string_view method, std::string_view path, const std::string& hello) {
  if (method != "GET" && method != "HEAD") {
    return {405, "Method Not Allowed", "only GET and HEAD\n", "Allow: GET, HEAD\r\n"};
  }
  if (path == "/") return {200, "OK", hello, ""};
  if (path == "/health") return {200, "OK", "ok\n", ""};
  return {404, "Not Found", "not found\n", ""};
}

// Reads one request head from `client`, answers it and returns. Gives up on a silent or slow
// client after kIoTimeout, and at once when a signal arrives (`*signalled` is then set).
void Serve(int client, int signal_fd, const std::string& hello, bool* signalled) {
  const auto deadline = std::chrono::steady_clock::now() + kIoTimeout;
  std::string head;
  size_t end_of_head = std::string::npos;
  while (end_of_head == std::string::npos) {
    if (head.size() > kMaxRequestHeadBytes) break;
    if (!WaitReady(client, POLLIN, signal_fd, deadline, signalled)) return;
    char buffer[4096];
    ssize_t n = recv(client, buffer, sizeof(buffer), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return;  // the client went away before a full request
    head.append(buffer, static_cast<size_t>(n));
    end_of_head = head.find("\r\n\r\n");
  }

  Response response;
  bool head_only = false;
  std::string_view line = std::string_view(head).substr(0, head.find("\r\n"));
  size_t first_space = line.find(' ');
  size_t second_space =
      first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  if (end_of_head == std::string::npos) {
    response = {431, "Request Header Fields Too Large", "request head too large\n", ""};
  } else if (second_space == std::string_view::npos ||
             !line.substr(second_space + 1).starts_with("HTTP/1.")) {
    response = {400, "Bad Request", "bad request line\n", ""};
  } else {
    std::string_view method = line.substr(0, first_space);
    std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
    std::string_view path = target.substr(0, target.find('?'));
    response = Answer(method, path, hello);
    head_only = method == "HEAD";
  }

  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + response.reason +
                    "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                    std::to_string(response.body.size()) + "\r\n" + response.extra_headers +
                    "Connection: close\r\n\r\n";
  if (!head_only) out += response.body;
  size_t sent = 0;
  while (sent < out.size()) {
    if (!WaitReady(client, POLLOUT, signal_fd, deadline, signalled)) return;
    ssize_t n = send(client, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return;
    sent += static_cast<size_t>(n);
  }
  shutdown(client, SHUT_WR);
}

}  // namespace

int main() {
  PortChoice choice = ChoosePort();
  if (!choice.error.empty()) {
    std::fprintf(stderr, "%s: %s\n", kProgram, choice.error.c_str());
    return kExitConfigError;
  }

  // SIGTERM and SIGINT are blocked and read from a signalfd, so that every wait below can see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) {
    std::fprintf(stderr, "%s: sigprocmask: %s\n", kProgram, std::strerror(errno));
    return kExitRuntimeError;
  }
  int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (signal_fd < 0) {
    std::fprintf(stderr, "%s: signalfd: %s\n", kProgram, std::strerror(errno));
    return kExitRuntimeError;
  }

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int on = 1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = htons(static_cast<uint16_t>(choice.port));
  if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
      bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 64) != 0) {
    std::fprintf(stderr, "%s: cannot listen on 0.0.0.0:%d: %s\n", kProgram, choice.port,
                 std::strerror(errno));
    return kExitRuntimeError;
  }

  const std::string hello =
      "hello from " + Identity() + " on port " + std::to_string(choice.port) + "\n";
  std::printf("%s: listening on 0.0.0.0:%d\n", kProgram, choice.port);
  std::fflush(stdout);

  bool signalled = false;
  while (!signalled) {
    pollfd fds[2] = {{listener, POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "%s: poll: %s\n", kProgram, std::strerror(errno));
      return kExitRuntimeError;
    }
    if (fds[1].revents & POLLIN) break;
    if (!(fds[0].revents & POLLIN)) continue;
    int client = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) continue;  // EAGAIN, or the client gave up (ECONNABORTED): keep serving
    Serve(client, signal_fd, hello, &signalled);
    close(client);
  }

  signalfd_siginfo info{};
  const char* name = "a signal";
  if (read(signal_fd, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    name = info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
  }
  std::printf("%s: %s: stopping\n", kProgram, name);
  close(listener);
  close(signal_fd);
  return kExitOk;
}
