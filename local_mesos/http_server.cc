#include "local_mesos/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <exception>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"

namespace mast::local {

std::optional<std::string> HttpRequest::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

namespace {

constexpr size_t kMaxHeadBytes = 64 << 10;  // request line + header fields
constexpr size_t kMaxHeaderCount = 100;
constexpr size_t kMaxChunkLineBytes = 4 << 10;  // chunk size + extensions
constexpr size_t kMaxTrailerBytes = 16 << 10;
constexpr size_t kReadBytes = 64 << 10;
// Pipelined requests wait while this much response data is queued.
constexpr size_t kMaxQueuedResponseBytes = 1 << 20;
// After the last response of a closing connection, input is read and dropped for at most this
// long so that unread request bytes do not turn the close into a reset that loses the response.
constexpr absl::Duration kLingerTimeout = absl::Seconds(1);
constexpr absl::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

using SteadyTime = std::chrono::steady_clock::time_point;

SteadyTime SteadyNow() { return std::chrono::steady_clock::now(); }

SteadyTime SteadyAfter(SteadyTime from, absl::Duration d) {
  return from + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    absl::ToChronoNanoseconds(d));
}

// poll() timeout in ms until `deadline`, rounded up; 0 if past.
int PollTimeoutMs(SteadyTime deadline) {
  auto left = deadline - SteadyNow();
  if (left <= std::chrono::steady_clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

void Wake(int event_fd) {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(event_fd, &one, sizeof(one));  // EAGAIN: already signalled
}

void DrainWake(int event_fd) {
  uint64_t value;
  [[maybe_unused]] ssize_t n = ::read(event_fd, &value, sizeof(value));
}

bool IsTchar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

bool IsToken(absl::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTchar); }

// Field values: visible characters, obs-text, SP and HT; no CR, LF or other controls.
bool IsFieldValue(absl::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

absl::string_view TrimOws(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True if the comma-separated list in `value` holds `token` (case-insensitive).
bool ListHasToken(absl::string_view value, absl::string_view token) {
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    if (absl::EqualsIgnoreCase(TrimOws(item), token)) return true;
  }
  return false;
}

const char* ReasonPhrase(int status) {
  static constexpr std::pair<int, const char*> kPhrases[] = {
      {100, "Continue"},
      {200, "OK"},
      {201, "Created"},
      {202, "Accepted"},
      {204, "No Content"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {304, "Not Modified"},
      {307, "Temporary Redirect"},
      {308, "Permanent Redirect"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {409, "Conflict"},
      {413, "Content Too Large"},
      {415, "Unsupported Media Type"},
      {417, "Expectation Failed"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {503, "Service Unavailable"},
      {505, "HTTP Version Not Supported"},
  };
  for (const auto& [code, phrase] : kPhrases) {
    if (code == status) return phrase;
  }
  return "Unknown";
}

// The status line and header fields of a response, up to (not including) the blank line. Drops
// the handler's framing headers and invalid fields; sets `*close` if it asked for
// "Connection: close"; replaces a `*status` out of 200..599 by 500.
std::string ResponseHead(int* status, const HttpHeaders& headers, bool* close) {
  if (*status < 200 || *status > 599) {
    LogWarning("http_bad_response_status", {{"status", *status}});
    *status = 500;
  }
  std::string head = absl::StrCat("HTTP/1.1 ", *status, " ", ReasonPhrase(*status), "\r\n");
  for (const auto& [name, value] : headers) {
    if (!IsToken(name) || !IsFieldValue(value)) {
      LogWarning("http_bad_response_header", {{"name", absl::CEscape(name)}});
      continue;
    }
    if (absl::EqualsIgnoreCase(name, "Connection")) {
      if (ListHasToken(value, "close")) *close = true;
      continue;
    }
    if (absl::EqualsIgnoreCase(name, "Content-Length") ||
        absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    absl::StrAppend(&head, name, ": ", value, "\r\n");
  }
  return head;
}

// A complete Respond() response. `head_request`: no body (the header still states its length).
std::string SerializeResponse(HttpResponse response, bool head_request, bool* close) {
  std::string out = ResponseHead(&response.status, response.headers, close);
  const bool no_body = response.status == 204 || response.status == 304;
  if (!no_body) absl::StrAppend(&out, "Content-Length: ", response.body.size(), "\r\n");
  if (*close) out += "Connection: close\r\n";
  out += "\r\n";
  if (!no_body && !head_request) out += response.body;
  return out;
}

HttpResponse ErrorResponse(int status, absl::string_view detail) {
  HttpResponse response;
  response.status = status;
  response.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
  response.body = absl::StrCat(ReasonPhrase(status), ": ", detail, "\n");
  return response;
}

// Parses one non-negative decimal number of at most 19 significant digits.
bool ParseDecimal(absl::string_view s, uint64_t* out) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), absl::ascii_isdigit)) return false;
  while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
  if (s.size() > 19) {  // fits in uint64_t but beyond any body limit
    *out = UINT64_MAX;
    return true;
  }
  uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint64_t>(c - '0');
  *out = v;
  return true;
}

// Incremental parser of HTTP/1.1 requests (RFC 9112), one at a time. Bytes may arrive split at
// any point. Not thread-safe; no I/O.
class RequestParser {
 public:
  enum class Result { kNeedMore, kComplete, kError };

  explicit RequestParser(size_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}

  // Consumes a prefix of `data` (sets `*consumed`). After kComplete, TakeRequest() and parse on;
  // after kError, error_status() says what to answer and the connection must be closed.
  Result Parse(absl::string_view data, size_t* consumed);

  HttpRequest TakeRequest() {
    HttpRequest request = std::move(request_);
    *this = RequestParser(max_body_bytes_);
    return request;
  }
  int error_status() const { return error_status_; }
  const std::string& error_detail() const { return error_detail_; }
  // Valid from kComplete until TakeRequest().
  bool keep_alive() const { return keep_alive_; }
  bool head_request() const { return request_.method == "HEAD"; }
  bool http10() const { return http10_; }
  // The head is accepted, the body is still to come and the client waits for "100 Continue".
  bool awaiting_continue() const {
    return expect_continue_ && phase_ != Phase::kHead && phase_ != Phase::kDone;
  }

 private:
  enum class Phase { kHead, kFixedBody, kChunkSize, kChunkData, kChunkDataEnd, kTrailers, kDone };
  enum class Step { kProgress, kNeedMore, kComplete, kError };

  Step Fail(int status, std::string detail) {
    error_status_ = status;
    error_detail_ = std::move(detail);
    return Step::kError;
  }
  // Takes one line (without its LF, and without a CR before it) starting at `*pos`.
  std::optional<absl::string_view> TakeLine(absl::string_view data, size_t* pos);
  Step ParseHeadLine(absl::string_view data, size_t* pos);
  Step ParseRequestLine(absl::string_view line);
  Step EndOfHead();
  Step ParseChunkSize(absl::string_view data, size_t* pos);
  Step ParseChunkDataEnd(absl::string_view data, size_t* pos);
  Step ParseTrailer(absl::string_view data, size_t* pos);

  size_t max_body_bytes_;
  Phase phase_ = Phase::kHead;
  HttpRequest request_;
  bool have_request_line_ = false;
  bool http10_ = false;
  bool keep_alive_ = true;
  bool expect_continue_ = false;
  size_t head_bytes_ = 0;
  size_t trailer_bytes_ = 0;
  uint64_t remaining_ = 0;  // of the fixed body or of the current chunk
  int error_status_ = 0;
  std::string error_detail_;
};

RequestParser::Result RequestParser::Parse(absl::string_view data, size_t* consumed) {
  size_t pos = 0;
  Result result = Result::kNeedMore;
  bool more = true;
  while (more) {
    Step step = Step::kNeedMore;
    switch (phase_) {
      case Phase::kHead:
        step = ParseHeadLine(data, &pos);
        break;
      case Phase::kFixedBody:
      case Phase::kChunkData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - pos));
        if (n == 0) {
          step = Step::kNeedMore;
          break;
        }
        request_.body.append(data.data() + pos, n);
        pos += n;
        remaining_ -= n;
        if (remaining_ == 0) {
          phase_ = phase_ == Phase::kFixedBody ? Phase::kDone : Phase::kChunkDataEnd;
        }
        step = phase_ == Phase::kDone ? Step::kComplete : Step::kProgress;
        break;
      }
      case Phase::kChunkSize:
        step = ParseChunkSize(data, &pos);
        break;
      case Phase::kChunkDataEnd:
        step = ParseChunkDataEnd(data, &pos);
        break;
      case Phase::kTrailers:
        step = ParseTrailer(data, &pos);
        break;
      case Phase::kDone:
        step = Step::kComplete;
        break;
    }
    switch (step) {
      case Step::kProgress:
        break;
      case Step::kNeedMore:
        more = false;
        break;
      case Step::kComplete:
        phase_ = Phase::kDone;
        result = Result::kComplete;
        more = false;
        break;
      case Step::kError:
        result = Result::kError;
        more = false;
        break;
    }
  }
  *consumed = pos;
  return result;
}

std::optional<absl::string_view> RequestParser::TakeLine(absl::string_view data, size_t* pos) {
  size_t lf = data.find('\n', *pos);
  if (lf == absl::string_view::npos) return std::nullopt;
  absl::string_view line = data.substr(*pos, lf - *pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  *pos = lf + 1;
  return line;
}

RequestParser::Step RequestParser::ParseHeadLine(absl::string_view data, size_t* pos) {
  const size_t start = *pos;
  std::optional<absl::string_view> line = TakeLine(data, pos);
  if (!line.has_value()) {
    if (head_bytes_ + (data.size() - start) > kMaxHeadBytes) {
      return Fail(431, "request head too large");
    }
    return Step::kNeedMore;
  }
  head_bytes_ += *pos - start;
  if (head_bytes_ > kMaxHeadBytes) return Fail(431, "request head too large");
  if (!have_request_line_) {
    if (line->empty()) return Step::kProgress;  // empty lines before a request are allowed
    return ParseRequestLine(*line);
  }
  if (line->empty()) return EndOfHead();
  if (line->front() == ' ' || line->front() == '\t') return Fail(400, "folded header line");
  size_t colon = line->find(':');
  if (colon == absl::string_view::npos) return Fail(400, "header line without colon");
  absl::string_view name = line->substr(0, colon);
  absl::string_view value = TrimOws(line->substr(colon + 1));
  if (!IsToken(name)) return Fail(400, "bad header name");
  if (!IsFieldValue(value)) return Fail(400, "bad header value");
  if (request_.headers.size() >= kMaxHeaderCount) return Fail(431, "too many header fields");
  request_.headers.emplace_back(std::string(name), std::string(value));
  return Step::kProgress;
}

RequestParser::Step RequestParser::ParseRequestLine(absl::string_view line) {
  std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3) return Fail(400, "malformed request line");
  absl::string_view method = parts[0], target = parts[1], version = parts[2];
  if (!IsToken(method)) return Fail(400, "bad method");
  if (target.empty() || !std::all_of(target.begin(), target.end(), [](char c) {
        unsigned char u = static_cast<unsigned char>(c);
        return u > 0x20 && u != 0x7f;
      })) {
    return Fail(400, "bad request target");
  }
  if (version.size() != 8 || !absl::StartsWith(version, "HTTP/") ||
      !absl::ascii_isdigit(static_cast<unsigned char>(version[5])) || version[6] != '.' ||
      !absl::ascii_isdigit(static_cast<unsigned char>(version[7]))) {
    return Fail(400, "bad HTTP version");
  }
  if (version[5] != '1') return Fail(505, "only HTTP/1.x is supported");
  http10_ = version[7] == '0';

  // Origin form ("/a?b"), absolute form ("http://host/a?b") or "*" (OPTIONS).
  absl::string_view path;
  if (target.front() == '/') {
    path = target;
  } else if (absl::StartsWithIgnoreCase(target, "http://") ||
             absl::StartsWithIgnoreCase(target, "https://")) {
    absl::string_view rest = target.substr(target.find("//") + 2);
    size_t slash = rest.find_first_of("/?#");
    path = slash == absl::string_view::npos || rest[slash] != '/' ? "/" : rest.substr(slash);
  } else if (target == "*" && method == "OPTIONS") {
    path = target;
  } else {
    return Fail(400, "bad request target");
  }
  path = path.substr(0, path.find_first_of("?#"));
  if (path.empty()) path = "/";

  request_.method = std::string(method);
  request_.target = std::string(target);
  request_.path = std::string(path);
  request_.version = http10_ ? "HTTP/1.0" : "HTTP/1.1";
  have_request_line_ = true;
  return Step::kProgress;
}

RequestParser::Step RequestParser::EndOfHead() {
  bool chunked = false;
  bool has_length = false;
  uint64_t length = 0;
  keep_alive_ = !http10_;
  for (const auto& [name, value] : request_.headers) {
    if (absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
      for (absl::string_view coding : absl::StrSplit(value, ',')) {
        coding = TrimOws(coding);
        if (coding.empty()) continue;
        if (!absl::EqualsIgnoreCase(coding, "chunked") || chunked) {
          return Fail(501, absl::StrCat("unsupported transfer coding ", coding));
        }
        chunked = true;
      }
    } else if (absl::EqualsIgnoreCase(name, "Content-Length")) {
      // Repeated or list values must all agree.
      for (absl::string_view item : absl::StrSplit(value, ',')) {
        uint64_t v;
        if (!ParseDecimal(TrimOws(item), &v)) return Fail(400, "bad Content-Length");
        if (has_length && v != length) return Fail(400, "conflicting Content-Length");
        has_length = true;
        length = v;
      }
    } else if (absl::EqualsIgnoreCase(name, "Expect")) {
      if (!absl::EqualsIgnoreCase(value, "100-continue")) {
        return Fail(417, "unsupported expectation");
      }
      expect_continue_ = !http10_;
    } else if (absl::EqualsIgnoreCase(name, "Connection")) {
      if (ListHasToken(value, "close")) keep_alive_ = false;
    }
  }
  if (chunked && has_length) return Fail(400, "both Content-Length and Transfer-Encoding");
  if (chunked) {
    phase_ = Phase::kChunkSize;
    return Step::kProgress;
  }
  if (length > max_body_bytes_) {
    return Fail(413, absl::StrCat("body of ", length, " bytes exceeds ", max_body_bytes_));
  }
  if (length == 0) return Step::kComplete;
  request_.body.reserve(static_cast<size_t>(length));
  remaining_ = length;
  phase_ = Phase::kFixedBody;
  return Step::kProgress;
}

RequestParser::Step RequestParser::ParseChunkSize(absl::string_view data, size_t* pos) {
  const size_t start = *pos;
  std::optional<absl::string_view> line = TakeLine(data, pos);
  if (!line.has_value()) {
    if (data.size() - start > kMaxChunkLineBytes) return Fail(400, "chunk size line too long");
    return Step::kNeedMore;
  }
  if (*pos - start > kMaxChunkLineBytes) return Fail(400, "chunk size line too long");
  size_t digits = 0;
  uint64_t size = 0;
  for (; digits < line->size(); ++digits) {
    const char c = (*line)[digits];
    uint64_t v;
    if (c >= '0' && c <= '9') {
      v = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = static_cast<uint64_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      v = static_cast<uint64_t>(c - 'A' + 10);
    } else {
      break;
    }
    if (size > (UINT64_MAX >> 4)) return Fail(413, "chunk too large");
    size = (size << 4) | v;
  }
  absl::string_view rest = TrimOws(line->substr(digits));
  if (digits == 0 || (!rest.empty() && rest.front() != ';')) return Fail(400, "bad chunk size");
  if (size > max_body_bytes_ - request_.body.size()) {
    return Fail(413, absl::StrCat("chunked body exceeds ", max_body_bytes_, " bytes"));
  }
  if (size == 0) {
    phase_ = Phase::kTrailers;
  } else {
    remaining_ = size;
    phase_ = Phase::kChunkData;
  }
  return Step::kProgress;
}

RequestParser::Step RequestParser::ParseChunkDataEnd(absl::string_view data, size_t* pos) {
  absl::string_view rest = data.substr(*pos);
  if (rest.empty()) return Step::kNeedMore;
  if (rest.front() == '\n') {
    *pos += 1;
  } else if (rest.front() == '\r') {
    if (rest.size() < 2) return Step::kNeedMore;
    if (rest[1] != '\n') return Fail(400, "chunk data not followed by CRLF");
    *pos += 2;
  } else {
    return Fail(400, "chunk data not followed by CRLF");
  }
  phase_ = Phase::kChunkSize;
  return Step::kProgress;
}

RequestParser::Step RequestParser::ParseTrailer(absl::string_view data, size_t* pos) {
  const size_t start = *pos;
  std::optional<absl::string_view> line = TakeLine(data, pos);
  if (!line.has_value()) {
    if (trailer_bytes_ + (data.size() - start) > kMaxTrailerBytes) {
      return Fail(431, "trailer too large");
    }
    return Step::kNeedMore;
  }
  trailer_bytes_ += *pos - start;
  if (trailer_bytes_ > kMaxTrailerBytes) return Fail(431, "trailer too large");
  if (line->empty()) return Step::kComplete;
  // Trailer fields are checked but not merged into the headers (RFC 9110 §6.5.1).
  size_t colon = line->find(':');
  if (colon == absl::string_view::npos || !IsToken(line->substr(0, colon)) ||
      !IsFieldValue(line->substr(colon + 1))) {
    return Fail(400, "bad trailer field");
  }
  return Step::kProgress;
}

std::string PeerName(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    return absl::StrCat(host, ":", port);
  }
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  return absl::StrCat("[", host, "]:", port);
}

struct BindAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

absl::StatusOr<BindAddress> ParseAddress(absl::string_view address) {
  absl::string_view host;
  absl::string_view port_text;
  bool v6 = false;
  if (absl::StartsWith(address, "[")) {
    size_t close = address.find(']');
    if (close == absl::string_view::npos || address.substr(close + 1, 1) != ":") {
      return absl::InvalidArgumentError(absl::StrCat("bad address \"", address, "\""));
    }
    host = address.substr(1, close - 1);
    port_text = address.substr(close + 2);
    v6 = true;
  } else {
    size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos ||
        address.substr(0, colon).find(':') != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad address \"", address, "\": want host:port or [ipv6]:port"));
    }
    host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
  }
  uint64_t port;
  if (!ParseDecimal(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in address \"", address, "\""));
  }
  if (host == "localhost") host = "127.0.0.1";
  std::string host_str(host);
  BindAddress out;
  if (v6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET6, host_str.c_str(), &in6->sin6_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("bad IPv6 address \"", host, "\""));
    }
    out.len = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&out.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host_str.c_str(), &in->sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("bad IPv4 address \"", host, "\""));
    }
    out.len = sizeof(sockaddr_in);
  }
  return out;
}

}  // namespace

namespace http_internal {

// One accepted connection. Its thread (Run()) is the only one that reads or writes the socket and
// the only one that parses; other threads (ResponseStream writers, HttpServer::Stop and
// DropAllConnections) queue output or request an abort under `mu_` and wake the thread through
// `wake_fd_`. Shared by the server and by the ResponseStream handed out, so it may outlive both
// its thread and the server; then it is inert.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(int fd, int wake_fd, std::string peer, const HttpServerConfig& config,
             const HttpHandler* handler, int server_wake_fd)
      : fd_(fd),
        wake_fd_(wake_fd),
        peer_(std::move(peer)),
        idle_timeout_(config.idle_timeout),
        max_stream_buffer_(config.max_stream_buffer),
        handler_(handler),
        server_wake_fd_(server_wake_fd),
        parser_(config.max_body_bytes) {}
  ~Connection() { ::close(wake_fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The connection's thread. Returns once the socket is closed and the OnClose callbacks ran.
  void Run();
  // Any thread: drops the connection abruptly.
  void Abort(absl::string_view reason) ABSL_LOCKS_EXCLUDED(mu_);
  bool thread_done() const { return thread_done_.load(); }

  // The ResponseStream of this connection.
  bool StreamWrite(absl::string_view data) ABSL_LOCKS_EXCLUDED(mu_);
  void StreamClose() ABSL_LOCKS_EXCLUDED(mu_);
  bool StreamClosed() const ABSL_LOCKS_EXCLUDED(mu_);
  void StreamOnClose(std::function<void()> callback) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class Mode { kRequests, kStream };
  // How a stream's data goes on the wire.
  enum class Framing { kChunked, kRaw, kDiscard };
  class Exchange;

  // Parses buffered input and runs the handler for each complete request; true if it dispatched
  // any.
  bool ProcessRequests();
  void Dispatch(HttpRequest request, bool keep_alive, bool head_request, bool http10);
  void Queue(absl::string_view bytes) ABSL_LOCKS_EXCLUDED(mu_);
  bool StreamOpenLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !finished_ && !abort_ && !stream_close_requested_;
  }

  const int fd_;       // the socket; I/O only on the connection thread
  const int wake_fd_;  // eventfd
  const std::string peer_;
  const absl::Duration idle_timeout_;
  const size_t max_stream_buffer_;
  const HttpHandler* const handler_;  // owned by the server, which joins Run() before dying
  const int server_wake_fd_;
  std::atomic<bool> thread_done_{false};

  mutable absl::Mutex mu_;
  std::string pending_ ABSL_GUARDED_BY(mu_);      // output not yet taken by the connection thread
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // pending_ + the unsent part of sending_
  bool socket_open_ ABSL_GUARDED_BY(mu_) = true;
  bool abort_ ABSL_GUARDED_BY(mu_) = false;
  std::string abort_reason_ ABSL_GUARDED_BY(mu_);
  bool stream_started_ ABSL_GUARDED_BY(mu_) = false;
  Framing framing_ ABSL_GUARDED_BY(mu_) = Framing::kChunked;
  bool stream_close_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // socket closed, callbacks taken
  std::vector<std::function<void()>> on_close_ ABSL_GUARDED_BY(mu_);

  // Connection thread only.
  RequestParser parser_;
  Mode mode_ = Mode::kRequests;
  std::string in_;       // received, not yet parsed
  size_t in_off_ = 0;    // parsed prefix of in_
  std::string sending_;  // taken from pending_, being written
  size_t sending_off_ = 0;
  bool read_eof_ = false;
  bool close_after_flush_ = false;
  bool continue_sent_ = false;
};

namespace {

class StreamImpl final : public ResponseStream {
 public:
  explicit StreamImpl(std::shared_ptr<Connection> connection)
      : connection_(std::move(connection)) {}
  bool Write(absl::string_view data) override { return connection_->StreamWrite(data); }
  void Close() override { connection_->StreamClose(); }
  void Abort() override { connection_->Abort("stream aborted by its owner"); }
  bool closed() const override { return connection_->StreamClosed(); }
  void OnClose(std::function<void()> callback) override {
    connection_->StreamOnClose(std::move(callback));
  }

 private:
  const std::shared_ptr<Connection> connection_;
};

// Handed out by a second StartStream() call, which is a handler bug.
class DeadStream final : public ResponseStream {
 public:
  bool Write(absl::string_view) override { return false; }
  void Close() override {}
  void Abort() override {}
  bool closed() const override { return true; }
  void OnClose(std::function<void()> callback) override { callback(); }
};

}  // namespace

class Connection::Exchange final : public HttpExchange {
 public:
  enum class Outcome { kNone, kResponded, kStreaming };

  Exchange(Connection* connection, bool keep_alive, bool head_request, bool http10)
      : connection_(connection),
        keep_alive_(keep_alive),
        head_request_(head_request),
        http10_(http10) {}

  void Respond(HttpResponse response) override {
    if (outcome_ != Outcome::kNone) {
      LogWarning("http_handler_second_response", {{"peer", connection_->peer_}});
      return;
    }
    outcome_ = Outcome::kResponded;
    bool close = !keep_alive_;
    connection_->Queue(SerializeResponse(std::move(response), head_request_, &close));
    if (close) connection_->close_after_flush_ = true;
  }

  std::shared_ptr<ResponseStream> StartStream(int status, HttpHeaders headers) override {
    if (outcome_ != Outcome::kNone) {
      LogWarning("http_handler_second_response", {{"peer", connection_->peer_}});
      return std::make_shared<DeadStream>();
    }
    outcome_ = Outcome::kStreaming;
    bool close = true;
    std::string head = ResponseHead(&status, headers, &close);
    const Framing framing =
        head_request_ ? Framing::kDiscard : (http10_ ? Framing::kRaw : Framing::kChunked);
    if (framing != Framing::kRaw) head += "Transfer-Encoding: chunked\r\n";
    head += "Connection: close\r\n\r\n";
    {
      absl::MutexLock lock(&connection_->mu_);
      connection_->stream_started_ = true;
      connection_->framing_ = framing;
    }
    connection_->Queue(head);
    connection_->mode_ = Mode::kStream;
    if (connection_->in_off_ < connection_->in_.size()) {
      LogWarning("http_requests_after_stream_dropped", {{"peer", connection_->peer_}});
    }
    connection_->in_.clear();
    connection_->in_off_ = 0;
    return std::make_shared<StreamImpl>(connection_->shared_from_this());
  }

  Outcome outcome() const { return outcome_; }

 private:
  Connection* const connection_;
  const bool keep_alive_;
  const bool head_request_;
  const bool http10_;
  Outcome outcome_ = Outcome::kNone;
};

void Connection::Queue(absl::string_view bytes) {
  absl::MutexLock lock(&mu_);
  if (!socket_open_) return;
  pending_.append(bytes.data(), bytes.size());
  queued_bytes_ += bytes.size();
}

void Connection::Abort(absl::string_view reason) {
  {
    absl::MutexLock lock(&mu_);
    if (!abort_) {
      abort_ = true;
      abort_reason_ = std::string(reason);
    }
    // Unblocks the peer at once; the connection thread closes the socket.
    if (socket_open_) ::shutdown(fd_, SHUT_RDWR);
  }
  Wake(wake_fd_);
}

bool Connection::StreamWrite(absl::string_view data) {
  bool overflow = false;
  size_t queued = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!StreamOpenLocked()) return false;
    if (data.empty() || framing_ == Framing::kDiscard) return true;
    std::string framed = framing_ == Framing::kChunked
                             ? absl::StrCat(absl::Hex(data.size()), "\r\n", data, "\r\n")
                             : std::string(data);
    if (queued_bytes_ + framed.size() > max_stream_buffer_) {
      overflow = true;
      queued = queued_bytes_;
      abort_ = true;
      abort_reason_ = "stream buffer overflow: the peer is not reading";
      if (socket_open_) ::shutdown(fd_, SHUT_RDWR);
    } else {
      pending_ += framed;
      queued_bytes_ += framed.size();
    }
  }
  Wake(wake_fd_);
  if (overflow) {
    LogWarning("http_stream_overflow",
               {{"peer", peer_}, {"queued_bytes", queued}, {"limit_bytes", max_stream_buffer_}});
    return false;
  }
  return true;
}

void Connection::StreamClose() {
  {
    absl::MutexLock lock(&mu_);
    if (!StreamOpenLocked()) return;
    stream_close_requested_ = true;
    if (framing_ == Framing::kChunked) {
      constexpr absl::string_view kLastChunk = "0\r\n\r\n";
      absl::StrAppend(&pending_, kLastChunk);
      queued_bytes_ += kLastChunk.size();
    }
  }
  Wake(wake_fd_);
}

bool Connection::StreamClosed() const {
  absl::MutexLock lock(&mu_);
  return !StreamOpenLocked();
}

void Connection::StreamOnClose(std::function<void()> callback) {
  {
    absl::MutexLock lock(&mu_);
    if (!finished_) {
      on_close_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

bool Connection::ProcessRequests() {
  bool dispatched = false;
  while (mode_ == Mode::kRequests && !close_after_flush_) {
    {
      absl::MutexLock lock(&mu_);
      if (abort_ || queued_bytes_ >= kMaxQueuedResponseBytes) return dispatched;
    }
    size_t consumed = 0;
    RequestParser::Result result = parser_.Parse(absl::string_view(in_).substr(in_off_), &consumed);
    in_off_ += consumed;
    if (in_off_ == in_.size()) {
      in_.clear();
      in_off_ = 0;
    } else if (in_off_ > kReadBytes) {
      in_.erase(0, in_off_);
      in_off_ = 0;
    }
    switch (result) {
      case RequestParser::Result::kNeedMore:
        if (read_eof_) {
          close_after_flush_ = true;  // a request cut off by the peer gets no answer
        } else if (parser_.awaiting_continue() && !continue_sent_) {
          Queue(kContinue);
          continue_sent_ = true;
        }
        return dispatched;
      case RequestParser::Result::kError: {
        LogWarning("http_bad_request", {{"peer", peer_},
                                        {"status", parser_.error_status()},
                                        {"detail", parser_.error_detail()}});
        bool close = true;
        Queue(SerializeResponse(ErrorResponse(parser_.error_status(), parser_.error_detail()),
                                false, &close));
        close_after_flush_ = true;
        return dispatched;
      }
      case RequestParser::Result::kComplete: {
        const bool keep_alive = parser_.keep_alive();
        const bool head_request = parser_.head_request();
        const bool http10 = parser_.http10();
        HttpRequest request = parser_.TakeRequest();
        request.peer = peer_;
        continue_sent_ = false;
        Dispatch(std::move(request), keep_alive, head_request, http10);
        dispatched = true;
        break;
      }
    }
  }
  return dispatched;
}

void Connection::Dispatch(HttpRequest request, bool keep_alive, bool head_request, bool http10) {
  Exchange exchange(this, keep_alive, head_request, http10);
  std::optional<std::string> error;
  try {
    (*handler_)(request, exchange);
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown exception";
  }
  if (error.has_value()) {
    LogWarning(
        "http_handler_exception",
        {{"peer", peer_}, {"method", request.method}, {"path", request.path}, {"what", *error}});
  }
  switch (exchange.outcome()) {
    case Exchange::Outcome::kNone:
      if (!error.has_value()) {
        LogWarning("http_handler_no_response",
                   {{"peer", peer_}, {"method", request.method}, {"path", request.path}});
      }
      exchange.Respond(
          ErrorResponse(500, error.has_value() ? "handler failed" : "handler gave no response"));
      break;
    case Exchange::Outcome::kResponded:
      if (error.has_value()) close_after_flush_ = true;
      break;
    case Exchange::Outcome::kStreaming:
      // Whoever should own the stream may never have received it.
      if (error.has_value()) Abort("handler threw after starting the stream");
      break;
  }
}

void Connection::Run() {
  // Waiting for a request: closed when nothing was read or written for idle_timeout.
  SteadyTime idle_since = SteadyNow();
  // Output queued: closed when the socket took none of it for idle_timeout.
  SteadyTime write_progress = idle_since;
  bool was_pending = false;
  std::optional<SteadyTime> linger_deadline;
  std::string end_reason;
  bool log_end = false;  // streams and failures are logged; ordinary closes are not

  while (true) {
    // A slow handler does not count as idle time.
    if (!linger_deadline.has_value() && ProcessRequests()) idle_since = SteadyNow();

    // Take what other threads asked for.
    bool streaming;
    {
      absl::MutexLock lock(&mu_);
      streaming = stream_started_;
      if (abort_) {
        end_reason = abort_reason_;
        log_end = true;
        break;
      }
      if (stream_close_requested_) close_after_flush_ = true;
      if (sending_off_ == sending_.size()) {
        sending_.clear();
        sending_off_ = 0;
        sending_.swap(pending_);
      }
    }

    // Write what the socket takes now.
    size_t sent = 0;
    bool send_failed = false;
    while (sending_off_ < sending_.size()) {
      ssize_t n =
          ::send(fd_, sending_.data() + sending_off_, sending_.size() - sending_off_, MSG_NOSIGNAL);
      if (n > 0) {
        sending_off_ += static_cast<size_t>(n);
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        end_reason = absl::StrCat("send: ", std::strerror(errno));
        send_failed = true;
        break;
      }
    }
    bool output_pending;
    {
      absl::MutexLock lock(&mu_);
      queued_bytes_ -= sent;
      output_pending = queued_bytes_ > 0;
    }
    if (send_failed) {
      log_end = streaming;
      break;
    }
    if (sent > 0 || (output_pending && !was_pending)) write_progress = SteadyNow();
    if (sent > 0) idle_since = write_progress;
    was_pending = output_pending;
    if (sending_off_ == sending_.size() && output_pending) continue;  // more was queued meanwhile

    if (!output_pending && close_after_flush_ && !linger_deadline.has_value()) {
      if (read_eof_) {
        end_reason = "closed after the last response";
        break;
      }
      if (mode_ == Mode::kStream) {
        // A stream's input has been drained all along: no need to linger. Unread bytes at
        // close() would turn the FIN into a reset, so take what arrived since the last poll.
        char discard[4096];
        for (int i = 0; i < 16 && ::recv(fd_, discard, sizeof(discard), MSG_DONTWAIT) > 0; ++i) {
        }
        end_reason = "stream closed by its owner";
        log_end = true;
        break;
      }
      ::shutdown(fd_, SHUT_WR);
      linger_deadline = SteadyAfter(SteadyNow(), kLingerTimeout);
    }

    // Wait for the socket, a wake-up or a deadline.
    const bool want_read = !read_eof_ && (mode_ == Mode::kStream || linger_deadline.has_value() ||
                                          close_after_flush_ || in_.size() - in_off_ < kReadBytes);
    pollfd fds[2] = {
        {fd_, static_cast<short>((want_read ? POLLIN : 0) | (output_pending ? POLLOUT : 0)), 0},
        {wake_fd_, POLLIN, 0}};
    int timeout_ms = -1;
    if (linger_deadline.has_value()) {
      timeout_ms = PollTimeoutMs(*linger_deadline);
    } else if (output_pending) {
      timeout_ms = PollTimeoutMs(SteadyAfter(write_progress, idle_timeout_));
    } else if (mode_ == Mode::kRequests) {
      timeout_ms = PollTimeoutMs(SteadyAfter(idle_since, idle_timeout_));
    }  // else an idle stream: it lives until closed
    int rc = ::poll(fds, 2, timeout_ms);
    if (rc < 0 && errno != EINTR) {
      end_reason = absl::StrCat("poll: ", std::strerror(errno));
      log_end = true;
      break;
    }
    if (rc == 0) {
      if (linger_deadline.has_value()) {
        end_reason = "closed after the last response";
      } else if (output_pending) {
        end_reason = "write stalled: the peer is not reading";
        log_end = true;
      } else {
        end_reason = "idle timeout";
        log_end = !in_.empty();
      }
      break;
    }
    if (rc < 0) continue;
    if (fds[1].revents & POLLIN) DrainWake(wake_fd_);
    const short revents = fds[0].revents;
    if (want_read && (revents & (POLLIN | POLLHUP | POLLERR))) {
      const size_t old_size = in_.size();
      in_.resize(old_size + kReadBytes);
      ssize_t n = ::recv(fd_, in_.data() + old_size, kReadBytes, 0);
      in_.resize(old_size + static_cast<size_t>(std::max<ssize_t>(n, 0)));
      if (n > 0) {
        idle_since = SteadyNow();
        if (mode_ == Mode::kStream || close_after_flush_) {  // nobody will parse it
          in_.clear();
          in_off_ = 0;
        }
      } else if (n == 0) {
        read_eof_ = true;
        if (mode_ == Mode::kStream) {
          end_reason = "peer closed the stream";
          log_end = true;
          break;
        }
        if (linger_deadline.has_value()) {
          end_reason = "closed after the last response";
          break;
        }
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        end_reason = absl::StrCat("recv: ", std::strerror(errno));
        log_end = mode_ == Mode::kStream;
        break;
      }
    } else if (revents & (POLLHUP | POLLERR)) {
      end_reason = "socket error";
      log_end = mode_ == Mode::kStream;
      break;
    }
  }

  std::vector<std::function<void()>> callbacks;
  bool streaming;
  {
    absl::MutexLock lock(&mu_);
    ::close(fd_);
    socket_open_ = false;
    finished_ = true;
    streaming = stream_started_;
    pending_.clear();
    queued_bytes_ = 0;
    callbacks.swap(on_close_);
  }
  if (log_end) {
    LogInfo(streaming ? "http_stream_closed" : "http_connection_closed",
            {{"peer", peer_}, {"reason", end_reason}});
  }
  for (auto& callback : callbacks) callback();
  thread_done_ = true;
  Wake(server_wake_fd_);
}

}  // namespace http_internal

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerConfig config,
                                                              HttpHandler handler) {
  if (!handler) return absl::InvalidArgumentError("http server: handler is empty");
  if (config.max_body_bytes == 0) {
    return absl::InvalidArgumentError("http server: max_body_bytes must be positive");
  }
  if (config.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("http server: idle_timeout must be positive");
  }
  if (config.max_stream_buffer == 0) {
    return absl::InvalidArgumentError("http server: max_stream_buffer must be positive");
  }
  absl::StatusOr<BindAddress> addr = ParseAddress(config.address);
  if (!addr.ok()) return addr.status();

  const int family = addr->addr.ss_family;
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("http server: socket: ", std::strerror(errno)));
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr->addr), addr->len) != 0 ||
      ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("http server: listen on ", config.address, ": ", std::strerror(err)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const int port = bound.ss_family == AF_INET6
                       ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                       : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("http server: eventfd: ", std::strerror(err)));
  }
  LogInfo("http_server_started", {{"address", config.address}, {"port", port}});
  return std::unique_ptr<HttpServer>(
      new HttpServer(std::move(config), std::move(handler), fd, port, wake_fd));
}

HttpServer::HttpServer(HttpServerConfig config, HttpHandler handler, int listen_fd, int port,
                       int wake_fd)
    : config_(std::move(config)),
      handler_(std::move(handler)),
      listen_fd_(listen_fd),
      port_(port),
      wake_fd_(wake_fd) {
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

HttpServer::~HttpServer() {
  Stop();
  ::close(wake_fd_);
}

void HttpServer::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  if (stopped_) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake(wake_fd_);
  accept_thread_.join();
  ::close(listen_fd_);
  std::vector<ConnectionThread> connections;
  {
    absl::MutexLock lock(&mu_);
    connections.swap(connections_);
  }
  for (ConnectionThread& c : connections) c.connection->Abort("server stopping");
  for (ConnectionThread& c : connections) c.thread.join();
  stopped_ = true;
  LogInfo("http_server_stopped", {{"port", port_}, {"connections_dropped", connections.size()}});
}

void HttpServer::DropAllConnections() {
  absl::MutexLock lock(&mu_);
  size_t dropped = 0;
  for (ConnectionThread& c : connections_) {
    if (c.connection->thread_done()) continue;
    c.connection->Abort("connection dropped (fault injection)");
    ++dropped;
  }
  LogInfo("http_connections_dropped", {{"port", port_}, {"count", dropped}});
}

void HttpServer::AcceptLoop() {
  bool backoff = false;
  while (true) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    // While out of descriptors or memory, only the wake-up is watched, for 100 ms, so that a
    // listener that stays readable does not spin.
    int rc = ::poll(fds, backoff ? 1 : 2, backoff ? 100 : -1);
    backoff = false;
    // Drain before looking at the state: a wake-up that comes after the drain stays pending for
    // the next poll(), and one the drain swallowed was sent after its state change.
    if (rc > 0 && (fds[0].revents & POLLIN)) DrainWake(wake_fd_);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    JoinFinishedConnections();
    if (rc <= 0 || !(fds[1].revents & POLLIN)) continue;
    while (true) {
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len,
                         SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        AddConnection(fd, PeerName(addr));
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        LogWarning("http_accept_failed", {{"port", port_}, {"error", std::strerror(errno)}});
        backoff = true;
      }
      break;
    }
  }
}

void HttpServer::AddConnection(int fd, std::string peer) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    LogWarning("http_connection_refused", {{"peer", peer}, {"error", std::strerror(errno)}});
    ::close(fd);
    return;
  }
  auto connection = std::make_shared<http_internal::Connection>(fd, wake_fd, std::move(peer),
                                                                config_, &handler_, wake_fd_);
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    ::close(fd);
    return;
  }
  try {
    std::thread thread([connection] { connection->Run(); });
    connections_.push_back({std::move(connection), std::move(thread)});
  } catch (const std::system_error& e) {
    LogWarning("http_connection_refused", {{"error", e.what()}});
    ::close(fd);
  }
}

void HttpServer::JoinFinishedConnections() {
  std::vector<ConnectionThread> finished;
  {
    absl::MutexLock lock(&mu_);
    auto done = std::stable_partition(
        connections_.begin(), connections_.end(),
        [](const ConnectionThread& c) { return !c.connection->thread_done(); });
    std::move(done, connections_.end(), std::back_inserter(finished));
    connections_.erase(done, connections_.end());
  }
  for (ConnectionThread& c : finished) c.thread.join();
}

}  // namespace mast::local
