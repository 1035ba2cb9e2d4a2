#include "tests/processes/mesos_cluster.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/wait.h"

namespace mast::testing {

std::optional<std::string> RealMesosDir() {
  const char* dir = std::getenv("MAST_REAL_MESOS");
  if (dir == nullptr || *dir == '\0') return std::nullopt;
  if (!std::filesystem::exists(std::string(dir) + "/sbin/mesos-master")) return std::nullopt;
  return std::string(dir);
}

std::string LinuxIsolationUnavailable() {
  if (geteuid() != 0) return "not root";
  if (!std::filesystem::exists("/sys/fs/cgroup/freezer")) return "no cgroup v1 freezer";
  if (std::system("unshare -m true >/dev/null 2>&1") != 0) return "no mount namespaces";
  return "";
}

absl::StatusOr<std::unique_ptr<RealMesosCluster>> RealMesosCluster::Start(Options options) {
  // Ports are picked free and then bound by the child: another test running
  // beside this one may take one in between. Try again on fresh ports.
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto cluster = StartOnce(options);
    if (cluster.ok()) return cluster;
    last = cluster.status();
    std::fprintf(stderr, "real Mesos did not start (attempt %d): %s\n", attempt + 1,
                 std::string(last.message()).substr(0, 2000).c_str());
  }
  return last;
}

absl::StatusOr<std::unique_ptr<RealMesosCluster>> RealMesosCluster::StartOnce(
    const Options& options) {
  std::optional<std::string> root = RealMesosDir();
  if (!root) return absl::FailedPreconditionError("real Mesos is not present");
  std::unique_ptr<RealMesosCluster> cluster(new RealMesosCluster());
  cluster->dir_ = MakeTempDir("mast-mesos");
  cluster->master_port_ = PickFreePort();
  std::filesystem::create_directories(cluster->dir_ + "/master");
  std::vector<std::string> master_argv = {
      *root + "/sbin/mesos-master",
      "--ip=127.0.0.1",
      absl::StrCat("--port=", cluster->master_port_),
      "--hostname=127.0.0.1",
      "--work_dir=" + cluster->dir_ + "/master",
      "--registry=in_memory",
      "--agent_ping_timeout=1secs",
      "--max_agent_ping_timeouts=3",
  };
  if (!options.framework_credentials.empty()) {
    std::string json = R"({"credentials":[)";
    for (size_t i = 0; i < options.framework_credentials.size(); ++i) {
      const auto& [principal, secret] = options.framework_credentials[i];
      absl::StrAppend(&json, i ? "," : "", R"({"principal":")", principal, R"(","secret":")",
                      secret, R"("})");
    }
    std::ofstream(cluster->dir_ + "/credentials.json") << json << "]}";
    master_argv.push_back("--credentials=" + cluster->dir_ + "/credentials.json");
    master_argv.push_back("--authenticate_http_frameworks");
    master_argv.push_back("--http_framework_authenticators=basic");
  }
  if (!options.zk.empty()) {
    master_argv.push_back("--zk=" + options.zk);
    master_argv.push_back("--quorum=1");
  }
  auto master = Subprocess::Spawn(master_argv, cluster->dir_ + "/master.log");
  if (!master.ok()) return master.status();
  cluster->master_.emplace(std::move(*master));
  for (int i = 0; i < options.agents; ++i) {
    std::string work = absl::StrCat(cluster->dir_, "/agent", i);
    std::filesystem::create_directories(work);
    auto agent = Subprocess::Spawn(
        {*root + "/sbin/mesos-agent", absl::StrCat("--master=127.0.0.1:", cluster->master_port_),
         "--ip=127.0.0.1", absl::StrCat("--port=", PickFreePort()),
         absl::StrCat("--hostname=127.0.0.", i + 1), "--work_dir=" + work,
         options.linux_isolation ? "--launcher=linux" : "--launcher=posix",
         options.linux_isolation ? "--isolation=posix/cpu,posix/mem,filesystem/linux,volume/"
                                   "host_path,volume/sandbox_path,volume/secret"
                                 : "--isolation=posix/cpu,posix/mem",
         "--no-systemd_enable_support", "--launcher_dir=" + *root + "/libexec/mesos",
         "--resources=" + options.agent_resources},
        absl::StrCat(cluster->dir_, "/agent", i, ".log"));
    if (!agent.ok()) return agent.status();
    cluster->agents_.push_back(std::move(*agent));
  }
  RealMesosCluster* c = cluster.get();
  bool ready = WaitFor(
      [&] {
        if (!c->master_->Running()) return true;  // died (e.g. its port was taken)
        auto state = c->GetJson("/master/state");
        if (!state.ok()) return false;
        const auto* agents = JsonField(*state, "activated_slaves");
        const auto* elected = JsonField(*state, "elected_time");
        return elected != nullptr && agents != nullptr && agents->number_value() >= options.agents;
      },
      absl::Seconds(20));
  if (!ready || !c->master_->Running()) {
    return absl::UnavailableError(
        absl::StrCat("real Mesos did not come up; master log:\n", c->MasterLog()));
  }
  return cluster;
}

RealMesosCluster::~RealMesosCluster() {
  for (Subprocess& agent : agents_) agent.Stop(absl::Seconds(2));
  if (master_) master_->Stop(absl::Seconds(2));
  // MAST_KEEP_MESOS_DIR=1 keeps the work dirs (sandboxes, logs) to look at after a failure.
  if (getenv("MAST_KEEP_MESOS_DIR") == nullptr) RemoveTree(dir_);
}

std::string RealMesosCluster::master_url() const {
  return absl::StrCat("http://127.0.0.1:", master_port_);
}

absl::StatusOr<google::protobuf::Struct> RealMesosCluster::GetJson(const std::string& path) const {
  auto body = HttpGet(master_port_, path);
  if (!body.ok()) return body.status();
  google::protobuf::Struct out;
  auto status = google::protobuf::util::JsonStringToMessage(*body, &out);
  if (!status.ok()) return absl::DataLossError(status.ToString());
  return out;
}

const google::protobuf::Value* JsonField(const google::protobuf::Struct& s,
                                         const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

const google::protobuf::Value* JsonField(const google::protobuf::Value& v, const std::string& key) {
  if (!v.has_struct_value()) return nullptr;
  return JsonField(v.struct_value(), key);
}

absl::StatusOr<std::string> RealMesosCluster::TaskSandbox(const std::string& task_id) const {
  namespace fs = std::filesystem;
  std::error_code error;
  for (fs::recursive_directory_iterator
           it(dir_, fs::directory_options::skip_permission_denied, error),
       end;
       !error && it != end; it.increment(error)) {
    if (it->path().filename() == "meta") {
      it.disable_recursion_pending();  // checkpoints mirror the sandbox tree
      continue;
    }
    if (it->path().filename() != task_id || it->path().parent_path().filename() != "executors") {
      continue;
    }
    const fs::path latest = it->path() / "runs" / "latest";
    if (fs::exists(latest, error)) return fs::canonical(latest, error).string();
  }
  return absl::NotFoundError(absl::StrCat("no sandbox of task ", task_id, " under ", dir_));
}

}  // namespace mast::testing
