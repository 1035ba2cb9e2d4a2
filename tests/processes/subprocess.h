#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mast::testing {

// A child process in its own process group, its stdout and stderr appended
// to a log file. The destructor kills the group (SIGKILL) and reaps it.
// Not thread-safe.
class Subprocess {
 public:
  static absl::StatusOr<Subprocess> Spawn(const std::vector<std::string>& argv,
                                          const std::string& log_path);
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // Sends `sig` to the child's process group.
  void Signal(int sig) const;
  // Waits up to `timeout` for the child to exit; returns its wait status.
  std::optional<int> Wait(absl::Duration timeout);
  bool Running();
  // SIGTERM, then SIGKILL after `grace`; reaps.
  void Stop(absl::Duration grace = absl::Seconds(5));
  const std::string& log_path() const { return log_path_; }
  std::string ReadLog() const;

 private:
  Subprocess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string log_path_;
};

// A free TCP port on 127.0.0.1 (bound and released; a race with another
// process taking it is possible but unlikely).
int PickFreePort();

// A fresh temporary directory; removed by RemoveTree.
std::string MakeTempDir(const std::string& prefix);
void RemoveTree(const std::string& path);

// The directory holding the test binaries' sibling programs (mastd, ...),
// from the MAST_BUILD_DIR environment variable or the executable's location.
std::string BuildDir();

}  // namespace mast::testing
