#include "local_mesos/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "local_mesos/http_server_connection.h"
#include "local_mesos/http_server_parser.h"

namespace mast::local {

std::optional<std::string> HttpRequest::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

namespace {

using http_internal::DrainWake;
using http_internal::Wake;

std::string PeerName(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    return absl::StrCat(host, ":", port);
  }
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  return absl::StrCat("[", host, "]:", port);
}

struct BindAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

absl::StatusOr<BindAddress> ParseAddress(absl::string_view address) {
  absl::string_view host;
  absl::string_view port_text;
  bool v6 = false;
  if (absl::StartsWith(address, "[")) {
    size_t close = address.find(']');
    if (close == absl::string_view::npos || address.substr(close + 1, 1) != ":") {
      return absl::InvalidArgumentError(absl::StrCat("bad address \"", address, "\""));
    }
    host = address.substr(1, close - 1);
    port_text = address.substr(close + 2);
    v6 = true;
  } else {
    size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos ||
        address.substr(0, colon).find(':') != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad address \"", address, "\": want host:port or [ipv6]:port"));
    }
    host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
  }
  uint64_t port;
  if (!http_internal::ParseDecimal(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in address \"", address, "\""));
  }
  if (host == "localhost") host = "127.0.0.1";
  std::string host_str(host);
  BindAddress out;
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET6, host_str.c_str(), &in6->sin6_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("bad IPv6 address \"", host, "\""));
    }
    out.len = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&out.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host_str.c_str(), &in->sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("bad IPv4 address \"", host, "\""));
    }
    out.len = sizeof(sockaddr_in);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerConfig config,
                                                              HttpHandler handler) {
  if (!handler) return absl::InvalidArgumentError("http server: handler is empty");
  if (config.max_body_bytes == 0) {
    return absl::InvalidArgumentError("http server: max_body_bytes must be positive");
  }
  if (config.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("http server: idle_timeout must be positive");
  }
  if (config.max_stream_buffer == 0) {
    return absl::InvalidArgumentError("http server: max_stream_buffer must be positive");
  }
  absl::StatusOr<BindAddress> addr = ParseAddress(config.address);
  if (!addr.ok()) return addr.status();

  const int family = addr->addr.ss_family;
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("http server: socket: ", std::strerror(errno)));
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr->addr), addr->len) != 0 ||
      ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("http server: listen on ", config.address, ": ", std::strerror(err)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const int port = bound.ss_family == AF_INET6
                       ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                       : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("http server: eventfd: ", std::strerror(err)));
  }
  LogInfo("http_server_started", {{"address", config.address}, {"port", port}});
  return std::unique_ptr<HttpServer>(
      new HttpServer(std::move(config), std::move(handler), fd, port, wake_fd));
}

HttpServer::HttpServer(HttpServerConfig config, HttpHandler handler, int listen_fd, int port,
                       int wake_fd)
    : config_(std::move(config)),
      handler_(std::move(handler)),
      listen_fd_(listen_fd),
      port_(port),
      wake_fd_(wake_fd) {
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

HttpServer::~HttpServer() {
  Stop();
  ::close(wake_fd_);
}

void HttpServer::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  if (stopped_) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake(wake_fd_);
  accept_thread_.join();
  ::close(listen_fd_);
  std::vector<ConnectionThread> connections;
  {
    absl::MutexLock lock(&mu_);
    connections.swap(connections_);
  }
  for (ConnectionThread& c : connections) c.connection->Abort("server stopping");
  for (ConnectionThread& c : connections) c.thread.join();
  stopped_ = true;
  LogInfo("http_server_stopped", {{"port", port_}, {"connections_dropped", connections.size()}});
}

void HttpServer::DropAllConnections() {
  absl::MutexLock lock(&mu_);
  size_t dropped = 0;
  for (ConnectionThread& c : connections_) {
    if (c.connection->thread_done()) continue;
    c.connection->Abort("connection dropped (fault injection)");
    ++dropped;
  }
  LogInfo("http_connections_dropped", {{"port", port_}, {"count", dropped}});
}

void HttpServer::AcceptLoop() {
  bool backoff = false;
  while (true) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    // While out of descriptors or memory, only the wake-up is watched, for 100 ms, so that a
    // listener that stays readable does not spin.
    int rc = ::poll(fds, backoff ? 1 : 2, backoff ? 100 : -1);
    backoff = false;
    // Drain before looking at the state: a wake-up that comes after the drain stays pending for
    // the next poll(), and one the drain swallowed was sent after its state change.
    if (rc > 0 && (fds[0].revents & POLLIN)) DrainWake(wake_fd_);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    JoinFinishedConnections();
    if (rc <= 0 || !(fds[1].revents & POLLIN)) continue;
    while (true) {
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len,
                         SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        AddConnection(fd, PeerName(addr));
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        LogWarning("http_accept_failed", {{"port", port_}, {"error", std::strerror(errno)}});
        backoff = true;
      }
      break;
    }
  }
}

void HttpServer::AddConnection(int fd, std::string peer) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    LogWarning("http_connection_refused", {{"peer", peer}, {"error", std::strerror(errno)}});
    ::close(fd);
    return;
  }
  auto connection = std::make_shared<http_internal::Connection>(fd, wake_fd, std::move(peer),
                                                                config_, &handler_, wake_fd_);
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    ::close(fd);
    return;
  }
  try {
    std::thread thread([connection] { connection->Run(); });
    connections_.push_back({std::move(connection), std::move(thread)});
  } catch (const std::system_error& e) {
    LogWarning("http_connection_refused", {{"error", e.what()}});
    ::close(fd);
  }
}

void HttpServer::JoinFinishedConnections() {
  std::vector<ConnectionThread> finished;
  {
    absl::MutexLock lock(&mu_);
    auto done = std::stable_partition(
        connections_.begin(), connections_.end(),
        [](const ConnectionThread& c) { return !c.connection->thread_done(); });
    std::move(done, connections_.end(), std::back_inserter(finished));
    connections_.erase(done, connections_.end());
  }
  for (ConnectionThread& c : finished) c.thread.join();
}

}  // namespace mast::local
