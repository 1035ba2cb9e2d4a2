#include "tests/processes/zk_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "tests/processes/wait.h"

namespace mast::testing {
namespace {

constexpr char kZooKeeperJar[] = "/usr/share/java/zookeeper.jar";

std::string JavaBinary() {
  if (const char* home = std::getenv("JAVA_HOME")) return absl::StrCat(home, "/bin/java");
  return "java";
}

// Sends a four-letter word and returns the answer.
std::string FourLetterWord(int port, const char* word) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::write(fd, word, 4) == 4) {
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

bool ZooKeeperInstalled() { return std::filesystem::exists(kZooKeeperJar); }

absl::StatusOr<std::unique_ptr<ZkServer>> ZkServer::Launch(Options options) {
  // A picked free port can be taken by a test running beside this one
  // before the server binds it: try again on a fresh one.
  absl::Status last;
  for (int attempt = 0; attempt < (options.port == 0 ? 3 : 1); ++attempt) {
    auto server = LaunchOnce(options);
    if (server.ok()) return server;
    last = server.status();
    if (absl::IsFailedPrecondition(last)) break;  // not installed
  }
  return last;
}

absl::StatusOr<std::unique_ptr<ZkServer>> ZkServer::LaunchOnce(const Options& options) {
  if (!ZooKeeperInstalled()) {
    return absl::FailedPreconditionError(
        absl::StrCat(kZooKeeperJar, " is missing: run scripts/setup (Debian package zookeeper)"));
  }
  std::string dir = MakeTempDir("mast-zk");
  if (dir.empty()) return absl::InternalError("mkdtemp failed");
  int port = options.port != 0 ? options.port : PickFreePort();
  std::unique_ptr<ZkServer> server(new ZkServer(options, dir, port));
  std::filesystem::create_directories(dir + "/data");
  std::ofstream cfg(dir + "/zoo.cfg");
  cfg << "tickTime=" << absl::ToInt64Milliseconds(options.tick) << "\n"
      << "dataDir=" << dir << "/data\n"
      << "clientPort=" << port << "\n"
      << "clientPortAddress=127.0.0.1\n"
      << "maxClientCnxns=0\n"
      << "admin.enableServer=false\n"
      << "4lw.commands.whitelist=*\n"
      << "forceSync=no\n";
  cfg.close();
  absl::Status started = server->Start();
  if (!started.ok()) return started;
  return server;
}

ZkServer::~ZkServer() {
  Stop();
  RemoveTree(dir_);
}

absl::Status ZkServer::Start() {
  if (process_) return absl::OkStatus();
  std::vector<std::string> argv = {JavaBinary(),
                                   "-Xmx256m",
                                   "-XX:+UseSerialGC",
                                   "-XX:TieredStopAtLevel=1",
                                   "-Dzookeeper.jmx.log4j.disable=true",
                                   "-cp",
                                   absl::StrCat("/etc/zookeeper/conf:", kZooKeeperJar),
                                   "org.apache.zookeeper.server.ZooKeeperServerMain",
                                   dir_ + "/zoo.cfg"};
  auto process = Subprocess::Spawn(argv, dir_ + "/server.log");
  if (!process.ok()) return process.status();
  process_.emplace(std::move(*process));
  if (!WaitFor([this] { return Healthy() || !process_->Running(); }, options_.start_timeout,
               absl::Milliseconds(20)) ||
      !process_->Running()) {
    std::string log = process_->ReadLog();
    Stop();
    return absl::UnavailableError(
        absl::StrCat("ZooKeeper did not start on port ", port_, "; its log:\n", log));
  }
  return absl::OkStatus();
}

void ZkServer::Stop() {
  if (!process_) return;
  process_->Stop(absl::ZeroDuration());
  process_.reset();
}

std::string ZkServer::hosts() const { return absl::StrCat("127.0.0.1:", port_); }

bool ZkServer::Healthy() const {
  // "ruok" answers before the server takes sessions; "srvr" says whether it
  // serves requests.
  std::string srvr = FourLetterWord(port_, "srvr");
  return srvr.find("Mode: standalone") != std::string::npos;
}

absl::Status ZkServer::ExpireSession(int64_t session_id, const std::string& password) const {
  clientid_t id{};
  id.client_id = session_id;
  std::memcpy(id.passwd, password.data(), std::min(password.size(), sizeof(id.passwd)));
  struct Ctx {
    absl::Notification connected;
  } ctx;
  auto watcher = [](zhandle_t*, int type, int state, const char*, void* c) {
    auto* ctx = static_cast<Ctx*>(c);
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE &&
        !ctx->connected.HasBeenNotified()) {
      ctx->connected.Notify();
    }
  };
  zhandle_t* zh = zookeeper_init(hosts().c_str(), watcher, 10000, &id, &ctx, 0);
  if (zh == nullptr) return absl::InternalError("zookeeper_init failed");
  bool ok = ctx.connected.WaitForNotificationWithTimeout(absl::Seconds(10));
  zookeeper_close(zh);  // closes the shared session for every handle on it
  return ok ? absl::OkStatus() : absl::DeadlineExceededError("could not attach to the session");
}

}  // namespace mast::testing
