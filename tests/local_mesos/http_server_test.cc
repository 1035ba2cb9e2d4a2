#include "local_mesos/http_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace mast::local {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(10);

struct ParsedResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
  std::optional<std::string> Header(absl::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) return v;
    }
    return std::nullopt;
  }
};

// A blocking loopback client on a raw socket; every read waits on poll() with a deadline.
class RawClient {
 public:
  explicit RawClient(int port, int family = AF_INET, int rcvbuf = 0) {
    fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_storage addr{};
    socklen_t len;
    if (family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(static_cast<uint16_t>(port));
      in6->sin6_addr = in6addr_loopback;
      len = sizeof(sockaddr_in6);
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&addr);
      in->sin_family = AF_INET;
      in->sin_port = htons(static_cast<uint16_t>(port));
      in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(sockaddr_in);
    }
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawClient() { Close(); }

  bool connected() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool Send(absl::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Waits until more bytes arrive; false on EOF, error or timeout.
  bool ReadMore(absl::Time deadline) {
    if (eof_) return false;
    pollfd pfd{fd_, POLLIN, 0};
    int ms =
        static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    if (::poll(&pfd, 1, ms) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      eof_ = true;  // EOF or reset: the server closed the connection either way
      return false;
    }
    buf_.append(buf, static_cast<size_t>(n));
    return true;
  }

  bool ReadUntilContains(absl::string_view needle, absl::Duration timeout = kTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!absl::StrContains(buf_, needle)) {
      if (!ReadMore(deadline)) return false;
    }
    return true;
  }

  bool ReadAtLeast(size_t n, absl::Time deadline) {
    while (buf_.size() < n) {
      if (!ReadMore(deadline)) return false;
    }
    return true;
  }

  // True if the server closed the connection before the timeout; what it sent stays in buffer().
  bool ReadToEof(absl::Duration timeout = kTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (ReadMore(deadline)) {
    }
    return eof_;
  }

  // Status line and headers; leaves the body in the buffer.
  std::optional<ParsedResponse> ReadHead(absl::Duration timeout = kTimeout) {
    if (!ReadUntilContains("\r\n\r\n", timeout)) return std::nullopt;
    size_t end = buf_.find("\r\n\r\n");
    std::vector<std::string> lines = absl::StrSplit(buf_.substr(0, end), "\r\n");
    buf_.erase(0, end + 4);
    ParsedResponse r;
    std::vector<std::string> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
    if (status_line.size() < 2 || status_line[0] != "HTTP/1.1" ||
        !absl::SimpleAtoi(status_line[1], &r.status)) {
      return std::nullopt;
    }
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) return std::nullopt;
      r.headers.emplace_back(lines[i].substr(0, colon),
                             std::string(absl::StripLeadingAsciiWhitespace(
                                 absl::string_view(lines[i]).substr(colon + 1))));
    }
    return r;
  }

  // A whole response framed by Content-Length.
  std::optional<ParsedResponse> ReadResponse(absl::Duration timeout = kTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::optional<ParsedResponse> r = ReadHead(timeout);
    if (!r.has_value()) return std::nullopt;
    size_t length = 0;
    std::optional<std::string> cl = r->Header("Content-Length");
    if (!cl.has_value() || !absl::SimpleAtoi(*cl, &length)) return std::nullopt;
    if (!ReadAtLeast(length, deadline)) return std::nullopt;
    r->body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // One chunk of a chunked body: its data, "" for the last chunk (its CRLF consumed too), or
  // nullopt if the connection ended or the timeout passed first.
  std::optional<std::string> ReadChunk(absl::Duration timeout = kTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (buf_.find("\r\n") == std::string::npos) {
      if (!ReadMore(deadline)) return std::nullopt;
    }
    size_t eol = buf_.find("\r\n");
    size_t size = 0;
    if (!absl::SimpleHexAtoi(buf_.substr(0, eol), &size)) return std::nullopt;
    if (!ReadAtLeast(eol + 2 + size + 2, deadline)) return std::nullopt;
    std::string data = buf_.substr(eol + 2, size);
    if (buf_.substr(eol + 2 + size, 2) != "\r\n") return std::nullopt;
    buf_.erase(0, eol + 2 + size + 2);
    return data;
  }

  std::string& buffer() { return buf_; }
  bool eof() const { return eof_; }

 private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// Hands a stream from the handler (a server thread) to the test.
class StreamSlot {
 public:
  void Set(std::shared_ptr<ResponseStream> stream) {
    absl::MutexLock lock(&mu_);
    streams_.push_back(std::move(stream));
  }
  // The `index`-th stream started, once it is.
  std::shared_ptr<ResponseStream> Wait(size_t index = 0) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return streams_.size() > index; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), kTimeout)) return nullptr;
    return streams_[index];
  }

 private:
  absl::Mutex mu_;
  std::vector<std::shared_ptr<ResponseStream>> streams_ ABSL_GUARDED_BY(mu_);
};

// Counts OnClose calls. Shared with the callback, which may outlive a failed test body.
struct CloseCounter {
  std::atomic<int> calls{0};
  absl::Notification fired;
};

std::function<void()> CountCloses(const std::shared_ptr<CloseCounter>& counter) {
  return [counter] {
    if (counter->calls.fetch_add(1) == 0) counter->fired.Notify();
  };
}

class HttpServerTest : public ::testing::Test {
 protected:
  // Echo handler: "/stream" starts a stream; "/throw" throws; "/silent" does not respond;
  // everything else answers 200 with the request's path and body.
  void StartServer(HttpServerConfig config = {}) {
    auto server = HttpServer::Start(
        std::move(config), [this](const HttpRequest& request, HttpExchange& exchange) {
          {
            absl::MutexLock lock(&mu_);
            requests_.push_back(request);
          }
          if (request.path == "/stream") {
            stream_slot_.Set(exchange.StartStream(200, {{"Content-Type", "application/recordio"}}));
          } else if (request.path == "/throw") {
            throw std::runtime_error("boom");
          } else if (request.path == "/silent") {
            return;
          } else if (request.path == "/block") {
            // An in-flight request: its handler runs until the test releases it.
            handler_blocked_.Notify();
            EXPECT_TRUE(release_handler_.WaitForNotificationWithTimeout(kTimeout));
            exchange.Respond({200, {}, "released"});
          } else {
            exchange.Respond({200,
                              {{"Content-Type", "text/plain"}, {"X-Path", request.path}},
                              absl::StrCat(request.method, " ", request.body)});
          }
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::vector<HttpRequest> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

  // Opens a stream on a new connection; returns the client with the response head read.
  std::unique_ptr<RawClient> OpenStream(int rcvbuf = 0) {
    auto client = std::make_unique<RawClient>(server_->port(), AF_INET, rcvbuf);
    EXPECT_TRUE(client->connected());
    EXPECT_TRUE(client->Send("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
    std::optional<ParsedResponse> head = client->ReadHead();
    EXPECT_TRUE(head.has_value());
    if (head.has_value()) {
      EXPECT_EQ(head->status, 200);
      EXPECT_EQ(head->Header("Transfer-Encoding"), "chunked");
      EXPECT_EQ(head->Header("Content-Type"), "application/recordio");
      EXPECT_FALSE(head->Header("Content-Length").has_value());
    }
    return client;
  }

  // A server cannot stop while a handler runs.
  void TearDown() override {
    if (!release_handler_.HasBeenNotified()) release_handler_.Notify();
  }

  absl::Mutex mu_;
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mu_);
  StreamSlot stream_slot_;
  absl::Notification handler_blocked_;  // "/block" has started
  absl::Notification release_handler_;  // "/block" may answer
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, PostWithContentLengthGetsReply) {
  StartServer();
  RawClient client(server_->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(
      client.Send("POST /api/v1/scheduler?a=b HTTP/1.1\r\nHost: x\r\nX-Custom:  v1 \r\n"
                  "Content-Length: 5\r\n\r\nhello"));
  std::optional<ParsedResponse> r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST hello");
  EXPECT_EQ(r->Header("Content-Length"), "10");
  EXPECT_EQ(r->Header("X-Path"), "/api/v1/scheduler");
  EXPECT_FALSE(r->Header("Connection").has_value());

  std::vector<HttpRequest> seen = requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/api/v1/scheduler?a=b");
  EXPECT_EQ(seen[0].path, "/api/v1/scheduler");
  EXPECT_EQ(seen[0].version, "HTTP/1.1");
  EXPECT_EQ(seen[0].Header("x-custom"), "v1");
  EXPECT_EQ(seen[0].Header("X-Missing"), std::nullopt);
  EXPECT_TRUE(absl::StartsWith(seen[0].peer, "127.0.0.1:")) << seen[0].peer;
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  StartServer();
  RawClient client(server_->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na"));
  std::optional<ParsedResponse> first = client.ReadResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "POST a");
  ASSERT_TRUE(client.Send("GET /two HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::optional<ParsedResponse> second = client.ReadResponse();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->Header("X-Path"), "/two");
  std::vector<HttpRequest> seen = requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].peer, seen[1].peer);  // the same connection
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  RawClient client(server_->port());
  ASSERT_TRUE(client.connected());
  std::string batch;
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&batch, "POST /p", i,
                    " HTTP/1.1\r\nHost: x\r\nContent-Length: ", absl::StrCat(i).size(), "\r\n",
                    i == 19 ? "Connection: close\r\n" : "", "\r\n", i);
  }
  ASSERT_TRUE(client.Send(batch));
  for (int i = 0; i < 20; ++i) {
    std::optional<ParsedResponse> r = client.ReadResponse();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->Header("X-Path"), absl::StrCat("/p", i));
    EXPECT_EQ(r->body, absl::StrCat("POST ", i));
    EXPECT_EQ(r->Header("Connection"),
              i == 19 ? std::optional<std::string>("close") : std::nullopt);
  }
  EXPECT_TRUE(client.ReadToEof());
  EXPECT_EQ(client.buffer(), "");
}

TEST_F(HttpServerTest, ChunkedRequestBodyIsDecoded) {
  StartServer();
  RawClient client(server_->port());
  ASSERT_TRUE(client.connected());
  // Sent in pieces that split the chunk framing at awkward places.
  const std::vector<std::string> pieces = {
      "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
      "5;name=value\r\nhel",
      "lo\r",
      "\n6\r\n wor",
      "ld\r\nA\r\n0123456789\r\n0",
      "\r\nTrailer: t\r\n",
      "\r\n"};
  for (const std::string& piece : pieces) ASSERT_TRUE(client.Send(piece));
  std::optional<ParsedResponse> r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST hello world0123456789");
  // The parser stopped exactly at the end of the first request.
  ASSERT_TRUE(client.Send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::optional<ParsedResponse> after = client.ReadResponse();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->Header("X-Path"), "/after");
}

TEST_F(HttpServerTest, ExpectContinueIsAnsweredBeforeTheBodyIsSent) {
  StartServer();
  RawClient client(server_->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(
      "POST /big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  // The client has not sent the body: only a 100 can come now.
  ASSERT_TRUE(client.ReadUntilContains("\r\n\r\n"));
  EXPECT_EQ(client.buffer(), "HTTP/1.1 100 Continue\r\n\r\n");
  client.buffer().clear();
  ASSERT_TRUE(client.Send("body"));
  std::optional<ParsedResponse> r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST body");
}

size_t CollectHeaderLine(char* data, size_t size, size_t n, void* user) {
  static_cast<std::vector<std::string>*>(user)->emplace_back(data, size * n);
  return size * n;
}

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

TEST_F(HttpServerTest, ExpectContinueWithLibcurl) {
  StartServer();
  const std::string payload(4096, 'x');
  CURL* curl = curl_easy_init();
  ASSERT_NE(curl, nullptr);
  std::vector<std::string> header_lines;
  std::string body;
  const std::string url = absl::StrCat("http://127.0.0.1:", server_->port(), "/upload");
  curl_slist* headers = curl_slist_append(nullptr, "Expect: 100-continue");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  // Long enough that a missing "100 Continue" shows up as a missing header line, not as
  // curl giving up on waiting and sending the body anyway.
  curl_easy_setopt(curl, CURLOPT_EXPECT_100_TIMEOUT_MS, 60000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeaderLine);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &header_lines);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);

  ASSERT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, "POST " + payload);
  ASSERT_FALSE(header_lines.empty());
  EXPECT_TRUE(absl::StartsWith(header_lines[0], "HTTP/1.1 100")) << header_lines[0];
  std::vector<HttpRequest> seen = requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].Header("Expect"), "100-continue");
}

struct BadRequestCase {
  const char* name;
  std::string request;
  int status;
};

TEST_F(HttpServerTest, MalformedRequestsAreRejectedAndTheConnectionClosed) {
  StartServer();
  const std::vector<BadRequestCase> cases = {
      {"garbage", "GARBAGE\r\n\r\n", 400},
      {"binary", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15), 400},
      {"no version", "GET /\r\n\r\n", 400},
      {"double space", "GET  / HTTP/1.1\r\n\r\n", 400},
      {"bad target", "GET nope HTTP/1.1\r\n\r\n", 400},
      {"bad version", "GET / HTTP/x\r\n\r\n", 400},
      {"header without colon", "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nBad Name : x\r\n\r\n", 400},
      {"folded header", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400},
      {"control in value", std::string("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n"), 400},
      {"bad content length", "POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 400},
      {"negative content length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"conflicting content lengths",
       "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
      {"length and chunked",
       "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"chunk without CRLF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY", 400},
      {"unknown coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"HTTP/2", "GET / HTTP/2.0\r\n\r\n", 505},
      {"unknown expectation", "POST / HTTP/1.1\r\nExpect: magic\r\nContent-Length: 1\r\n\r\n", 417},
      {"head too large",
       absl::StrCat("GET / HTTP/1.1\r\nX-Big: ", std::string(70 << 10, 'a'), "\r\n\r\n"), 431},
  };
  for (const BadRequestCase& c : cases) {
    SCOPED_TRACE(c.name);
    RawClient client(server_->port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.Send(c.request));
    std::optional<ParsedResponse> r = client.ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, c.status);
    EXPECT_EQ(r->Header("Connection"), "close");
    EXPECT_TRUE(client.ReadToEof());
  }
  EXPECT_TRUE(requests().empty());
}

TEST_F(HttpServerTest, OversizedBodiesGet413WithoutContinue) {
  HttpServerConfig config;
  config.max_body_bytes = 1024;
  StartServer(config);
  const std::vector<std::string> cases = {
      "POST / HTTP/1.1\r\nContent-Length: 999999999999999999999999\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1025\r\n\r\n",
      // 413 comes instead of "100 Continue".
      "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2048\r\n\r\n",
      absl::StrCat("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n",
                   std::string(512, 'a'), "\r\n201\r\n"),
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n",
  };
  for (const std::string& request : cases) {
    SCOPED_TRACE(request.substr(0, 80));
    RawClient client(server_->port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.Send(request));
    std::optional<ParsedResponse> r = client.ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(client.ReadToEof());
  }
  EXPECT_TRUE(requests().empty());

  // A body at the limit is accepted.
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send(
      absl::StrCat("POST / HTTP/1.1\r\nContent-Length: 1024\r\n\r\n", std::string(1024, 'b'))));
  std::optional<ParsedResponse> r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, DefaultLimitRejectsHugeContentLength) {
  StartServer();
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("POST / HTTP/1.1\r\nContent-Length: 17179869184\r\n\r\n"));
  std::optional<ParsedResponse> r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(client.ReadToEof());
}

TEST_F(HttpServerTest, HandlerFailuresGet500AndTheConnectionStaysUsable) {
  StartServer();
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /throw HTTP/1.1\r\n\r\n"));
  std::optional<ParsedResponse> r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  ASSERT_TRUE(client.Send("GET /silent HTTP/1.1\r\n\r\n"));
  r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  ASSERT_TRUE(client.Send("GET /fine HTTP/1.1\r\n\r\n"));
  r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, ConnectionCloseAndHttp10CloseAfterTheResponse) {
  StartServer();
  for (const char* request :
       {"GET /a HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET /a HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", "GET /a HTTP/1.0\r\n\r\n"}) {
    SCOPED_TRACE(request);
    RawClient client(server_->port());
    ASSERT_TRUE(client.Send(request));
    std::optional<ParsedResponse> r = client.ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("Connection"), "close");
    EXPECT_TRUE(client.ReadToEof());
  }
}

TEST_F(HttpServerTest, HeadRequestGetsNoBody) {
  StartServer();
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("HEAD /h HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\n\r\n"));
  std::optional<ParsedResponse> head = client.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->Header("Content-Length"), "5");             // "HEAD "
  std::optional<ParsedResponse> get = client.ReadResponse();  // would start with the HEAD body
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->Header("X-Path"), "/g");
}

TEST_F(HttpServerTest, IdleConnectionIsClosed) {
  HttpServerConfig config;
  config.idle_timeout = absl::Milliseconds(100);
  StartServer(config);
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /a HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(client.ReadResponse().has_value());
  EXPECT_TRUE(client.ReadToEof());
  EXPECT_EQ(client.buffer(), "");
}

TEST_F(HttpServerTest, StreamDeliversRecordsIncrementallyFromAnotherThread) {
  StartServer();
  std::unique_ptr<RawClient> client = OpenStream();
  std::shared_ptr<ResponseStream> stream = stream_slot_.Wait();
  ASSERT_NE(stream, nullptr);
  EXPECT_FALSE(stream->closed());

  // Record 1 goes out in two writes, i.e. split across two chunks.
  std::thread([&] {
    EXPECT_TRUE(stream->Write("9\nrec"));
    EXPECT_TRUE(stream->Write(""));  // sends nothing; must not end the stream
    EXPECT_TRUE(stream->Write("ord-1"));
  }).join();
  std::optional<std::string> chunk = client->ReadChunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, "9\nrec");
  chunk = client->ReadChunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, "ord-1");

  // Record 1 arrived before record 2 was written: the stream is not buffered until Close().
  std::thread([&] { EXPECT_TRUE(stream->Write("9\nrecord-2")); }).join();
  chunk = client->ReadChunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, "9\nrecord-2");

  // Many writers at once: every record arrives whole (each Write is one chunk).
  constexpr int kWriters = 4;
  constexpr int kRecords = 200;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kRecords; ++i) {
        EXPECT_TRUE(stream->Write(absl::StrCat("w", w, "-", i, ";")));
      }
    });
  }
  for (std::thread& t : writers) t.join();
  std::vector<int> next(kWriters, 0);
  for (int n = 0; n < kWriters * kRecords; ++n) {
    chunk = client->ReadChunk();
    ASSERT_TRUE(chunk.has_value());
    int w = 0, i = 0;
    std::vector<std::string> parts = absl::StrSplit(chunk->substr(1), absl::ByAnyChar("-;"));
    ASSERT_EQ(parts.size(), 3u) << *chunk;
    ASSERT_TRUE(absl::SimpleAtoi(parts[0], &w) && absl::SimpleAtoi(parts[1], &i)) << *chunk;
    ASSERT_LT(w, kWriters);
    EXPECT_EQ(i, next[w]++);  // per writer, in order
  }
  EXPECT_FALSE(stream->closed());
}

TEST_F(HttpServerTest, PeerCloseMakesWriteFailAndFiresOnClose) {
  StartServer();
  std::unique_ptr<RawClient> client = OpenStream();
  std::shared_ptr<ResponseStream> stream = stream_slot_.Wait();
  ASSERT_NE(stream, nullptr);
  auto counter = std::make_shared<CloseCounter>();
  stream->OnClose(CountCloses(counter));
  ASSERT_TRUE(stream->Write("1\na"));
  ASSERT_TRUE(client->ReadChunk().has_value());

  client->Close();
  ASSERT_TRUE(counter->fired.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Write("1\nb"));
  stream->Close();  // no effect on a closed stream
  stream->Abort();
  EXPECT_EQ(counter->calls.load(), 1);
}

TEST_F(HttpServerTest, CloseSendsTheTerminatingChunk) {
  StartServer();
  std::unique_ptr<RawClient> client = OpenStream();
  std::shared_ptr<ResponseStream> stream = stream_slot_.Wait();
  ASSERT_NE(stream, nullptr);
  auto counter = std::make_shared<CloseCounter>();
  stream->OnClose(CountCloses(counter));
  ASSERT_TRUE(stream->Write("4\nlast"));
  stream->Close();
  stream->Close();  // idempotent
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Write("1\nx"));

  // What was queued before Close() is still delivered, then the last chunk, then EOF.
  std::optional<std::string> chunk = client->ReadChunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, "4\nlast");
  chunk = client->ReadChunk();
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, "");
  EXPECT_TRUE(client->ReadToEof());
  EXPECT_EQ(client->buffer(), "");
  ASSERT_TRUE(counter->fired.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_EQ(counter->calls.load(), 1);

  // A callback added after the end runs at once.
  auto late = std::make_shared<CloseCounter>();
  stream->OnClose(CountCloses(late));
  EXPECT_EQ(late->calls.load(), 1);
}

// Asserts the client saw the stream end without the terminating chunk.
void ExpectCutOff(RawClient& client) {
  EXPECT_TRUE(client.ReadToEof());
  EXPECT_FALSE(absl::StrContains(client.buffer(), "0\r\n\r\n")) << client.buffer();
}

TEST_F(HttpServerTest, AbortDropsTheConnectionWithoutTheTerminatingChunk) {
  StartServer();
  std::unique_ptr<RawClient> client = OpenStream();
  std::shared_ptr<ResponseStream> stream = stream_slot_.Wait();
  ASSERT_NE(stream, nullptr);
  auto counter = std::make_shared<CloseCounter>();
  stream->OnClose(CountCloses(counter));
  ASSERT_TRUE(stream->Write("1\na"));
  ASSERT_TRUE(client->ReadChunk().has_value());
  stream->Abort();
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Write("1\nb"));
  ExpectCutOff(*client);
  ASSERT_TRUE(counter->fired.WaitForNotificationWithTimeout(kTimeout));
  stream->Abort();
  EXPECT_EQ(counter->calls.load(), 1);
}

TEST_F(HttpServerTest, DropAllConnectionsCutsStreamsAndIdleConnections) {
  StartServer();
  std::unique_ptr<RawClient> streaming = OpenStream();
  std::shared_ptr<ResponseStream> stream = stream_slot_.Wait();
  ASSERT_NE(stream, nullptr);
  auto counter = std::make_shared<CloseCounter>();
  stream->OnClose(CountCloses(counter));
  RawClient idle(server_->port());
  ASSERT_TRUE(idle.Send("GET /a HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(idle.ReadResponse().has_value());

  server_->DropAllConnections();
  ExpectCutOff(*streaming);
  EXPECT_TRUE(idle.ReadToEof());
  ASSERT_TRUE(counter->fired.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Write("1\nx"));

  // The listener is still open.
  RawClient again(server_->port());
  ASSERT_TRUE(again.Send("GET /b HTTP/1.1\r\n\r\n"));
  std::optional<ParsedResponse> r = again.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

// Reads a stream with libcurl on its own thread, as HttpMesosClient does.
class CurlStreamReader {
 public:
  explicit CurlStreamReader(int port)
      : url_(absl::StrCat("http://127.0.0.1:", port, "/stream")), thread_([this] { Perform(); }) {}
  ~CurlStreamReader() {
    if (thread_.joinable()) thread_.join();
  }

  // True once at least `n` body bytes arrived (chunk framing removed by libcurl).
  bool WaitForBody(size_t n) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return body_.size() >= n || done_; };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), kTimeout) && body_.size() >= n;
  }
  // Waits for the transfer to end; its result.
  CURLcode Finish() {
    thread_.join();
    absl::MutexLock lock(&mu_);
    return result_;
  }
  std::string body() {
    absl::MutexLock lock(&mu_);
    return body_;
  }

 private:
  static size_t OnData(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<CurlStreamReader*>(user);
    absl::MutexLock lock(&self->mu_);
    self->body_.append(data, size * n);
    return size * n;
  }

  void Perform() {
    CURL* curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    absl::MutexLock lock(&mu_);
    result_ = rc;
    done_ = true;
  }

  const std::string url_;
  absl::Mutex mu_;
  std::string body_ ABSL_GUARDED_BY(mu_);
  CURLcode result_ ABSL_GUARDED_BY(mu_) = CURLE_OK;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

// A scheduler must tell "the master ended the stream" from "the master died": libcurl reports a
// chunked body cut off before its last chunk as a partial transfer, and a closed one as complete.
TEST_F(HttpServerTest, LibcurlSeesAnAbortedStreamAsTruncatedAndAClosedOneAsComplete) {
  StartServer();
  struct Case {
    const char* name;
    bool abort;
    CURLcode want;
  };
  for (const Case& c : {Case{"abort", true, CURLE_PARTIAL_FILE}, Case{"close", false, CURLE_OK}}) {
    SCOPED_TRACE(c.name);
    const size_t index = c.abort ? 0 : 1;
    CurlStreamReader reader(server_->port());
    std::shared_ptr<ResponseStream> stream = stream_slot_.Wait(index);
    ASSERT_NE(stream, nullptr);
    ASSERT_TRUE(stream->Write("5\nfirst"));
    ASSERT_TRUE(reader.WaitForBody(7));  // the stream is open and delivering
    if (c.abort) {
      stream->Abort();
    } else {
      stream->Close();
    }
    EXPECT_EQ(reader.Finish(), c.want) << curl_easy_strerror(c.want);
    EXPECT_EQ(reader.body(), "5\nfirst");
  }
}

// The master's "drop every connection" fault: open streams, a request whose handler is still
// running, a request half sent and an idle keep-alive connection all end at once, without waiting
// for the handler, and the listener goes on serving.
TEST_F(HttpServerTest, DropAllConnectionsEndsStreamsAndInFlightRequestsPromptly) {
  StartServer();
  constexpr int kStreams = 3;
  std::vector<std::unique_ptr<RawClient>> stream_clients;
  std::vector<std::shared_ptr<ResponseStream>> streams;
  std::vector<std::shared_ptr<CloseCounter>> counters;
  for (int i = 0; i < kStreams; ++i) {
    stream_clients.push_back(OpenStream());
    streams.push_back(stream_slot_.Wait(static_cast<size_t>(i)));
    ASSERT_NE(streams.back(), nullptr);
    counters.push_back(std::make_shared<CloseCounter>());
    streams.back()->OnClose(CountCloses(counters.back()));
    ASSERT_TRUE(streams.back()->Write("1\na"));
    ASSERT_TRUE(stream_clients.back()->ReadChunk().has_value());
  }
  RawClient in_flight(server_->port());
  ASSERT_TRUE(in_flight.Send("GET /block HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(handler_blocked_.WaitForNotificationWithTimeout(kTimeout));
  RawClient half_sent(server_->port());
  ASSERT_TRUE(half_sent.Send("POST /upload HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
  RawClient idle(server_->port());
  ASSERT_TRUE(idle.Send("GET /a HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(idle.ReadResponse().has_value());

  const absl::Time start = absl::Now();
  server_->DropAllConnections();
  for (auto& client : stream_clients) ExpectCutOff(*client);
  EXPECT_TRUE(in_flight.ReadToEof());
  EXPECT_TRUE(half_sent.ReadToEof());
  EXPECT_TRUE(idle.ReadToEof());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(counters[i]->fired.WaitForNotificationWithTimeout(kTimeout)) << i;
    EXPECT_TRUE(streams[i]->closed());
    EXPECT_FALSE(streams[i]->Write("1\nx"));
  }
  EXPECT_EQ(in_flight.buffer(), "");
  EXPECT_EQ(half_sent.buffer(), "");

  // New connections are served while the dropped request's handler still runs, and after it
  // answered into the void.
  RawClient during(server_->port());
  ASSERT_TRUE(during.Send("GET /during HTTP/1.1\r\n\r\n"));
  std::optional<ParsedResponse> r = during.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->Header("X-Path"), "/during");
  release_handler_.Notify();
  RawClient after(server_->port());
  ASSERT_TRUE(after.Send("GET /after HTTP/1.1\r\n\r\n"));
  r = after.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->Header("X-Path"), "/after");
  EXPECT_EQ(in_flight.buffer(), "");
}

TEST_F(HttpServerTest, StopWithAnOpenStreamReturnsPromptly) {
  StartServer();
  std::unique_ptr<RawClient> client = OpenStream();
  std::shared_ptr<ResponseStream> stream = stream_slot_.Wait();
  ASSERT_NE(stream, nullptr);
  auto counter = std::make_shared<CloseCounter>();
  stream->OnClose(CountCloses(counter));
  const int port = server_->port();

  const absl::Time start = absl::Now();
  server_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(counter->calls.load(), 1);  // ran before Stop() returned
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Write("1\nx"));
  ExpectCutOff(*client);
  server_->Stop();  // idempotent
  server_.reset();
  EXPECT_FALSE(stream->Write("1\nx"));  // the stream outlives the server
  EXPECT_FALSE(RawClient(port).connected());
}

TEST_F(HttpServerTest, SlowReaderOverflowsTheStreamBuffer) {
  HttpServerConfig config;
  config.max_stream_buffer = 256 << 10;
  StartServer(config);
  std::unique_ptr<RawClient> client = OpenStream(/*rcvbuf=*/4096);
  std::shared_ptr<ResponseStream> stream = stream_slot_.Wait();
  ASSERT_NE(stream, nullptr);
  auto counter = std::make_shared<CloseCounter>();
  stream->OnClose(CountCloses(counter));

  // The client reads nothing more; once the socket buffers are full, queued data grows to the
  // limit and the stream is dropped.
  const std::string record(64 << 10, 'r');
  int writes = 0;
  while (stream->Write(record)) {
    ASSERT_LT(++writes, 100000) << "Write() never failed";
  }
  EXPECT_TRUE(stream->closed());
  ASSERT_TRUE(counter->fired.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_TRUE(client->ReadToEof());
  EXPECT_FALSE(absl::EndsWith(client->buffer(), "0\r\n\r\n"));
}

TEST_F(HttpServerTest, StreamOverHttp10IsUnframed) {
  StartServer();
  RawClient client(server_->port());
  ASSERT_TRUE(client.Send("GET /stream HTTP/1.0\r\n\r\n"));
  std::optional<ParsedResponse> head = client.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_FALSE(head->Header("Transfer-Encoding").has_value());
  std::shared_ptr<ResponseStream> stream = stream_slot_.Wait();
  ASSERT_NE(stream, nullptr);
  ASSERT_TRUE(stream->Write("abc"));
  stream->Close();
  EXPECT_TRUE(client.ReadToEof());
  EXPECT_EQ(client.buffer(), "abc");
}

TEST_F(HttpServerTest, ServesIpv6Loopback) {
  HttpServerConfig config;
  config.address = "[::1]:0";
  auto server = HttpServer::Start(config, [](const HttpRequest& request, HttpExchange& exchange) {
    exchange.Respond({200, {}, request.peer});
  });
  if (!server.ok() && absl::IsUnavailable(server.status())) {
    GTEST_SKIP() << "no IPv6 loopback: " << server.status();
  }
  ASSERT_TRUE(server.ok()) << server.status();
  RawClient client((*server)->port(), AF_INET6);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n"));
  std::optional<ParsedResponse> r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(absl::StartsWith(r->body, "[::1]:")) << r->body;
}

TEST(HttpServerStartTest, RejectsBadConfig) {
  auto handler = [](const HttpRequest&, HttpExchange& exchange) { exchange.Respond({}); };
  struct Case {
    const char* name;
    HttpServerConfig config;
  };
  std::vector<Case> cases;
  for (const char* address : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "::1:80", "[::1]80",
                              "[::1:80", "example.com:80", "1.2.3:80", "[127.0.0.1]:0"}) {
    HttpServerConfig config;
    config.address = address;
    cases.push_back({address, config});
  }
  HttpServerConfig config;
  config.max_body_bytes = 0;
  cases.push_back({"max_body_bytes", config});
  config = {};
  config.idle_timeout = absl::ZeroDuration();
  cases.push_back({"idle_timeout", config});
  config = {};
  config.max_stream_buffer = 0;
  cases.push_back({"max_stream_buffer", config});
  for (const Case& c : cases) {
    auto server = HttpServer::Start(c.config, handler);
    EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << c.name << ": " << server.status();
  }
  EXPECT_TRUE(absl::IsInvalidArgument(HttpServer::Start({}, nullptr).status()));

  // A port in use is Unavailable.
  auto first = HttpServer::Start({}, handler);
  ASSERT_TRUE(first.ok());
  HttpServerConfig taken;
  taken.address = absl::StrCat("127.0.0.1:", (*first)->port());
  EXPECT_TRUE(absl::IsUnavailable(HttpServer::Start(taken, handler).status()));
  taken.address = absl::StrCat("localhost:", (*first)->port());
  EXPECT_TRUE(absl::IsUnavailable(HttpServer::Start(taken, handler).status()));
}

}  // namespace
}  // namespace mast::local
