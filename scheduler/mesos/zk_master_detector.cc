#include "scheduler/mesos/zk_master_detector.h"

#include <arpa/inet.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"
#include "mesos/v1/mesos.pb.h"
#include "zk/zk_status.h"

namespace mast::mesos {

absl::StatusOr<ZkMasterUrl> ParseZkMasterUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "zk://")) {
    return absl::InvalidArgumentError(absl::StrCat("zk master URL: '", url, "' is not zk://..."));
  }
  ZkMasterUrl out;
  size_t at = rest.find('@');
  size_t slash = rest.find('/');
  if (at != absl::string_view::npos && at < slash) {
    out.digest_auth = std::string(rest.substr(0, at));
    rest = rest.substr(at + 1);
    slash = rest.find('/');
  }
  if (slash == absl::string_view::npos || slash == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("zk master URL: '", url, "' needs hosts and a path (zk://host:port/mesos)"));
  }
  out.hosts = std::string(rest.substr(0, slash));
  out.path = std::string(rest.substr(slash));
  absl::Status path = ValidateZkPath(out.path);
  if (!path.ok())
    return absl::InvalidArgumentError(absl::StrCat("zk master URL path: ", path.message()));
  return out;
}

absl::StatusOr<std::string> MasterUrlFromInfoJson(absl::string_view json) {
  ::mesos::v1::MasterInfo info;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &info, options);
  if (!status.ok()) {
    return absl::DataLossError(absl::StrCat("MasterInfo JSON: ", status.ToString()));
  }
  std::string host;
  uint32_t port = 0;
  if (info.has_address()) {
    host = !info.address().hostname().empty() ? info.address().hostname() : info.address().ip();
    port = static_cast<uint32_t>(info.address().port());
  }
  if (host.empty()) host = info.hostname();
  if (host.empty() && info.ip() != 0) {
    // The deprecated ip: IPv4 in network byte order.
    in_addr addr{};
    addr.s_addr = info.ip();
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &addr, text, sizeof(text));
    host = text;
  }
  if (port == 0) port = info.port();
  if (host.empty() || port == 0 || port > 65535) {
    return absl::DataLossError("MasterInfo JSON: no usable address");
  }
  return absl::StrCat("http://", host, ":", port);
}

ZkMasterDetector::ZkMasterDetector(ZkClient& zk, std::string path)
    : zk_(zk), path_(std::move(path)) {}

ZkMasterDetector::~ZkMasterDetector() { callbacks_.Invalidate(); }

void ZkMasterDetector::Watch(absl::AnyInvocable<void(const std::optional<std::string>&)> listener) {
  listener_ = std::move(listener);
  zk_.AddSessionListener(callbacks_.Bind([this](const ZkSessionEvent& e) {
    if (e.state == ZkSessionState::kConnected) Refresh();
  }));
}

void ZkMasterDetector::Refresh() {
  uint64_t generation = ++refresh_generation_;
  zk_.GetChildren(
      path_, callbacks_.Bind([this](const ZkWatchEvent&) { Refresh(); }),
      callbacks_.Bind([this, generation](absl::StatusOr<std::vector<std::string>> children) {
        if (generation != refresh_generation_) return;
        if (absl::IsNotFound(children.status())) {
          // No master has ever registered under the path: wait for it.
          zk_.Exists(path_, callbacks_.Bind([this](const ZkWatchEvent&) { Refresh(); }),
                     [](absl::StatusOr<std::optional<ZkStat>>) {});
          return Publish(std::nullopt);
        }
        if (!children.ok()) return;  // disconnected: the reconnect refreshes
        std::optional<std::pair<int64_t, std::string>> lowest;
        for (const std::string& child : *children) {
          if (!absl::StartsWith(child, "json.info_")) continue;
          int64_t seq = 0;
          if (!absl::SimpleAtoi(child.substr(child.rfind('_') + 1), &seq)) continue;
          if (!lowest || seq < lowest->first) lowest = std::make_pair(seq, child);
        }
        if (!lowest) return Publish(std::nullopt);
        zk_.Get(
            absl::StrCat(path_, "/", lowest->second), nullptr,
            callbacks_.Bind([this, generation, node = lowest->second](absl::StatusOr<ZkNode> data) {
              if (generation != refresh_generation_) return;
              if (absl::IsNotFound(data.status())) return Refresh();  // gone meanwhile
              if (!data.ok()) return;
              auto url = MasterUrlFromInfoJson(data->data);
              if (!url.ok()) {
                LogError("mesos_master_info_corrupt",
                         {{"znode", node}, {"error", url.status().ToString()}});
                return Publish(std::nullopt);
              }
              Publish(*url);
            }));
      }));
}

void ZkMasterDetector::Publish(const std::optional<std::string>& master) {
  if (published_ && master == current_) return;
  published_ = true;
  current_ = master;
  if (listener_) listener_(master);
}

}  // namespace mast::mesos
