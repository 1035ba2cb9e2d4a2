#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "tests/processes/subprocess.h"

namespace mast::testing {

// Where the real Apache Mesos 1.11 build from ../shared/mesos was unpacked
// at configure time (the MAST_REAL_MESOS environment variable set by ctest),
// or nullopt when it is not present on this machine.
std::optional<std::string> RealMesosDir();

// Why agents cannot run with Options::linux_isolation here (not root, no
// mount namespaces, no cgroup v1 freezer), or "" when they can.
std::string LinuxIsolationUnavailable();

// A real Mesos master and agents on loopback, started from RealMesosDir()
// with temp work dirs; stopped (with their process groups) on destruction.
class RealMesosCluster {
 public:
  struct Options {
    int agents = 1;
    std::string agent_resources = "cpus:2;mem:2048;disk:4096;ports:[31000-31100]";
    std::string zk;  // "zk://127.0.0.1:port/mesos" to elect through ZooKeeper; empty: none
    // principal -> secret: when given, the master authenticates HTTP
    // frameworks (basic) against these credentials and no others.
    std::vector<std::pair<std::string, std::string>> framework_credentials;
    // Agents with the linux launcher and filesystem/linux, volume/host_path,
    // volume/sandbox_path and volume/secret (container volumes and secret
    // files); needs root, mount namespaces and the cgroup v1 freezer (see
    // LinuxIsolationUnavailable). Default: the posix launcher and isolators.
    bool linux_isolation = false;
  };
  static absl::StatusOr<std::unique_ptr<RealMesosCluster>> Start(Options options);
  ~RealMesosCluster();

  std::string master_url() const;  // "http://127.0.0.1:<port>"
  int master_port() const { return master_port_; }
  // GET <path> on the master, parsed as JSON.
  absl::StatusOr<google::protobuf::Struct> GetJson(const std::string& path) const;
  std::string MasterLog() const { return master_ ? master_->ReadLog() : ""; }
  // The sandbox of the (command-executor) task `task_id` on any agent
  // (.../executors/<task_id>/runs/latest), or NOT_FOUND.
  absl::StatusOr<std::string> TaskSandbox(const std::string& task_id) const;

 private:
  RealMesosCluster() = default;
  static absl::StatusOr<std::unique_ptr<RealMesosCluster>> StartOnce(const Options& options);
  std::string dir_;
  int master_port_ = 0;
  std::optional<Subprocess> master_;
  std::vector<Subprocess> agents_;
};

// Small helpers over google.protobuf.Struct/Value for JSON answers.
const google::protobuf::Value* JsonField(const google::protobuf::Struct& s, const std::string& key);
const google::protobuf::Value* JsonField(const google::protobuf::Value& v, const std::string& key);

}  // namespace mast::testing
