// mast-sample-http as a process: the port variables, the answers, SIGTERM, bad ports.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/processes/subprocess.h"
#include "tests/processes/wait.h"

namespace mast::testing {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(10);

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// One request on a fresh loopback connection; nullopt if nothing listens yet or the answer is
// incomplete by the deadline. Every wait is a poll() bounded by the deadline.
std::optional<HttpAnswer> Get(int port, absl::string_view path) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  auto millis_left = [&] {
    return static_cast<int>(
        std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
  };
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n");
  std::string raw;
  bool complete = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    while (true) {  // the server closes the connection after its answer
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, millis_left()) <= 0) break;
      char buffer[4096];
      ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n < 0) break;
      if (n == 0) {
        complete = true;
        break;
      }
      raw.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  if (!complete) return std::nullopt;
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  size_t head_end = raw.find("\r\n\r\n");
  HttpAnswer answer;
  if (head_end == std::string::npos || raw.size() < 12 ||
      !absl::SimpleAtoi(absl::string_view(raw).substr(9, 3), &answer.status)) {
    ADD_FAILURE() << "malformed answer: " << raw;
    return std::nullopt;
  }
  answer.body = raw.substr(head_end + 4);
  return answer;
}

class SampleHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("mast-sample-http");
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override { RemoveTree(dir_); }

  // Runs the binary under `env -i` with exactly `env` (plus PATH), logging to the temp dir.
  absl::StatusOr<Subprocess> Start(const std::vector<std::string>& env) {
    std::vector<std::string> argv = {"env", "-i", "PATH=/usr/bin:/bin"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(absl::StrCat(BuildDir(), "/sample/mast-sample-http"));
    return Subprocess::Spawn(argv, absl::StrCat(dir_, "/sample.log"));
  }

  // Waits for the process to exit by itself; its exit code, or -1.
  static int ExitCode(Subprocess& process) {
    std::optional<int> status = process.Wait(kTimeout);
    if (!status.has_value() || !WIFEXITED(*status)) return -1;
    return WEXITSTATUS(*status);
  }

  std::string dir_;
};

TEST_F(SampleHttpTest, AnswersOnPortHttpAndStopsCleanlyOnSigterm) {
  const int port = PickFreePort();
  ASSERT_GT(port, 0);
  absl::StatusOr<Subprocess> server = Start(
      {absl::StrCat("PORT_HTTP=", port), "PORT0=1", "PORT=1", "MESOS_TASK_ID=demo_hello.1234"});
  ASSERT_TRUE(server.ok()) << server.status();

  std::optional<HttpAnswer> hello;
  ASSERT_TRUE(WaitFor([&] { return (hello = Get(port, "/")).has_value(); }, kTimeout))
      << server->ReadLog();
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, absl::StrCat("hello from demo_hello.1234 on port ", port, "\n"));

  std::optional<HttpAnswer> health = Get(port, "/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  std::optional<HttpAnswer> missing = Get(port, "/nope?x=1");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);

  server->Signal(SIGTERM);
  EXPECT_EQ(ExitCode(*server), 0) << server->ReadLog();
  EXPECT_THAT(server->ReadLog(), ::testing::HasSubstr("SIGTERM: stopping"));
}

TEST_F(SampleHttpTest, StopsOnSigtermWhileAClientIsHalfwayThroughARequest) {
  const int port = PickFreePort();
  ASSERT_GT(port, 0);
  absl::StatusOr<Subprocess> server = Start({absl::StrCat("PORT_HTTP=", port)});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(WaitFor([&] { return Get(port, "/health").has_value(); }, kTimeout))
      << server->ReadLog();

  // A client that connects and sends half a request head: the server waits on it.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_GT(::send(fd, "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL), 0);

  server->Signal(SIGTERM);
  EXPECT_EQ(ExitCode(*server), 0) << server->ReadLog();
  ::close(fd);
}

TEST_F(SampleHttpTest, FallsBackToPort0AndNamesTheHostWithoutATaskId) {
  const int port = PickFreePort();
  ASSERT_GT(port, 0);
  absl::StatusOr<Subprocess> server = Start({absl::StrCat("PORT0=", port), "PORT=1"});
  ASSERT_TRUE(server.ok()) << server.status();
  std::optional<HttpAnswer> hello;
  ASSERT_TRUE(WaitFor([&] { return (hello = Get(port, "/")).has_value(); }, kTimeout))
      << server->ReadLog();
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(hello->body, absl::StrCat("hello from ", host, " on port ", port, "\n"));
  server->Signal(SIGTERM);
  EXPECT_EQ(ExitCode(*server), 0) << server->ReadLog();
}

TEST_F(SampleHttpTest, FallsBackToPort) {
  const int port = PickFreePort();
  ASSERT_GT(port, 0);
  absl::StatusOr<Subprocess> server = Start({absl::StrCat("PORT=", port)});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(WaitFor([&] { return Get(port, "/health").has_value(); }, kTimeout))
      << server->ReadLog();
  server->Signal(SIGTERM);
  EXPECT_EQ(ExitCode(*server), 0) << server->ReadLog();
}

TEST_F(SampleHttpTest, BadOrMissingPortIsAClearError) {
  struct Case {
    std::vector<std::string> env;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "no port given: set PORT_HTTP"},
      {{"PORT_HTTP=http"}, "PORT_HTTP='http' is not a TCP port (1-65535)"},
      {{"PORT_HTTP=65536"}, "PORT_HTTP='65536' is not a TCP port (1-65535)"},
      {{"PORT_HTTP=0"}, "PORT_HTTP='0' is not a TCP port (1-65535)"},
      {{"PORT0=80x"}, "PORT0='80x' is not a TCP port (1-65535)"},
      {{"PORT=-1"}, "PORT='-1' is not a TCP port (1-65535)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    RemoveTree(absl::StrCat(dir_, "/sample.log"));
    absl::StatusOr<Subprocess> server = Start(c.env);
    ASSERT_TRUE(server.ok()) << server.status();
    EXPECT_EQ(ExitCode(*server), 2);
    EXPECT_THAT(server->ReadLog(), ::testing::HasSubstr(c.message));
  }
}

TEST_F(SampleHttpTest, PortInUseIsAClearError) {
  // Hold the port with a listener of our own.
  int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);

  absl::StatusOr<Subprocess> server = Start({absl::StrCat("PORT_HTTP=", port)});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(ExitCode(*server), 1);
  EXPECT_THAT(server->ReadLog(),
              ::testing::HasSubstr(absl::StrCat("cannot listen on 0.0.0.0:", port)));
  ::close(holder);
}

}  // namespace
}  // namespace mast::testing
