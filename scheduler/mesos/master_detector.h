#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

namespace mast::mesos {

// Finds the leading Mesos master. Implementations: a static list of URLs
// (tried in turn; 307 redirects are followed by the client), ZooKeeper
// (`zk://.../mesos`: the `json.info_` znode with the lowest sequence), and
// the in-process local master.
//
// Threads: called on the owner's loop; the listener runs there.
class MasterDetector {
 public:
  virtual ~MasterDetector() = default;

  // Calls `listener` with the leading master's base URL ("http://host:port")
  // whenever it becomes known or changes, and with nullopt while none is.
  // The first call may come synchronously.
  virtual void Watch(absl::AnyInvocable<void(const std::optional<std::string>&)> listener) = 0;
  // The client could not reach `master` (connection refused, 503): a list
  // moves on to its next entry.
  virtual void ReportUnreachable(const std::string& master) = 0;
};

using MasterDetectorPtr = std::unique_ptr<MasterDetector>;

// A fixed list, e.g. from `--mesos=http://m1:5050,http://m2:5050`.
class StaticMasterDetector final : public MasterDetector {
 public:
  explicit StaticMasterDetector(std::vector<std::string> masters);
  void Watch(absl::AnyInvocable<void(const std::optional<std::string>&)> listener) override;
  void ReportUnreachable(const std::string& master) override;

 private:
  std::vector<std::string> masters_;
  size_t current_ = 0;
  absl::AnyInvocable<void(const std::optional<std::string>&)> listener_;
};

// Parses a list of masters: "http://host:port[,http://...]" (also bare
// host:port) into base URLs; "zk://..." and "local" are recognised by the
// caller. INVALID_ARGUMENT "masters: ..." names the bad entry.
absl::StatusOr<std::vector<std::string>> ParseMasterUrls(absl::string_view spec);

// The base URL ("http://host:port") a 307 Location points to: it may be
// protocol-relative ("//host:port/api/v1/scheduler") or absolute.
absl::StatusOr<std::string> BaseUrlFromLocation(absl::string_view location);

}  // namespace mast::mesos
