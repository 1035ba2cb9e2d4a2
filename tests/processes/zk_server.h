#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/processes/subprocess.h"

namespace mast::testing {

// A real, standalone ZooKeeper server (Debian's `zookeeper` package) on a
// free loopback port with a temporary data dir. The destructor stops it and
// removes the dir. Stop()/Start() restart it on the same port with the same
// data, so sessions survive a restart shorter than their timeout.
class ZkServer {
 public:
  struct Options {
    // Session timeouts are clamped by the server to [2, 20] x tick.
    absl::Duration tick = absl::Milliseconds(200);
    absl::Duration start_timeout = absl::Seconds(60);
    int port = 0;  // 0: a free port
  };

  static absl::StatusOr<std::unique_ptr<ZkServer>> Launch(Options options);
  static absl::StatusOr<std::unique_ptr<ZkServer>> Launch() { return Launch(Options()); }
  ~ZkServer();

  absl::Status Start();
  // Kills the server (SIGKILL: no clean shutdown, as in a crash).
  void Stop();
  bool running() const { return process_.has_value(); }

  int port() const { return port_; }
  std::string hosts() const;  // "127.0.0.1:<port>"
  const std::string& dir() const { return dir_; }

  // Makes the server expire a live session: opens a second handle on the same
  // session id and closes it. The original handle then sees kExpired.
  absl::Status ExpireSession(int64_t session_id, const std::string& password) const;

  // "ruok" answered with "imok".
  bool Healthy() const;

 private:
  static absl::StatusOr<std::unique_ptr<ZkServer>> LaunchOnce(const Options& options);
  ZkServer(Options options, std::string dir, int port)
      : options_(options), dir_(std::move(dir)), port_(port) {}

  Options options_;
  std::string dir_;
  int port_;
  std::optional<Subprocess> process_;
};

// Whether the ZooKeeper server package is installed (tests that need it fail
// loudly when it is not: scripts/setup installs it).
bool ZooKeeperInstalled();

}  // namespace mast::testing
