#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/weak_callback.h"
#include "scheduler/mesos/master_detector.h"
#include "zk/zk_client.h"

namespace mast::mesos {

// A master URL `zk://host:port[,host:port...]/path` split into its parts.
struct ZkMasterUrl {
  std::string hosts;        // "host:port,host:port"
  std::string path;         // "/mesos"
  std::string digest_auth;  // "user:password" from "zk://user:password@..."; may be empty
};
// INVALID_ARGUMENT "zk master URL: ..." (or "zk master URL path: ...")
// names what is wrong.
absl::StatusOr<ZkMasterUrl> ParseZkMasterUrl(absl::string_view url);

// The base URL of a master from the JSON MasterInfo Mesos writes into its
// `json.info_` znodes: address.hostname (else address.ip) and address.port,
// falling back to the deprecated hostname / ip / port fields.
absl::StatusOr<std::string> MasterUrlFromInfoJson(absl::string_view json);

// Finds the leading Mesos master in ZooKeeper (mesos-v1-api.md §6): the
// `json.info_<seq>` child of the path with the lowest sequence. Children
// whose part after '_' is not a number are ignored. Re-reads on every
// children watch event; a missing path or no children means no leader.
//
// Threads: on `zk`'s loop, like the ZkClient it uses (a session of its own,
// since Mesos' ensemble may differ from Mast's).
class ZkMasterDetector final : public MasterDetector {
 public:
  ZkMasterDetector(ZkClient& zk, std::string path);
  ~ZkMasterDetector() override;

  void Watch(absl::AnyInvocable<void(const std::optional<std::string>&)> listener) override;
  void ReportUnreachable(const std::string&) override {}

 private:
  void Refresh();
  void Publish(const std::optional<std::string>& master);

  ZkClient& zk_;
  const std::string path_;
  WeakCallbacks callbacks_;
  absl::AnyInvocable<void(const std::optional<std::string>&)> listener_;
  std::optional<std::string> current_;
  bool published_ = false;
  uint64_t refresh_generation_ = 0;
};

}  // namespace mast::mesos
