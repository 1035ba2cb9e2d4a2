#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"

namespace mast::testing {

// A loopback TCP proxy to a local port, to cut a client off from a server
// (a network partition) without stopping the server. While blocked, every
// open connection is closed and new ones are closed as soon as accepted.
// Thread-safe; one background thread.
class TcpProxy {
 public:
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(int target_port);
  ~TcpProxy();

  int port() const { return port_; }
  void SetBlocked(bool blocked);

 private:
  TcpProxy(int listen_fd, int port, int target_port, int wake_read, int wake_write);
  void Run();

  const int listen_fd_;
  const int port_;
  const int target_port_;
  const int wake_read_;
  const int wake_write_;
  std::atomic<bool> blocked_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace mast::testing
