#include "local_mesos/http_server_connection.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <exception>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace mast::local::http_internal {
namespace {

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

}  // namespace

void Wake(int event_fd) {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(event_fd, &one, sizeof(one));  // EAGAIN: already signalled
}

void DrainWake(int event_fd) {
  uint64_t value;
  [[maybe_unused]] ssize_t n = ::read(event_fd, &value, sizeof(value));
}

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
  idle_since_ = SteadyNow();
  write_progress_ = idle_since_;
  while (true) {
    // A slow handler does not count as idle time.
    if (!linger_deadline_.has_value() && ProcessRequests()) idle_since_ = SteadyNow();
    Step step = SendOutput();
    if (step == Step::kAgain) continue;
    if (step == Step::kNext) step = CloseIfFlushed();
    if (step == Step::kNext) step = WaitAndRead();
    if (step == Step::kEnd) break;
  }
  Finish();
}

Connection::Step Connection::End(std::string reason, bool log) {
  end_reason_ = std::move(reason);
  log_end_ = log;
  return Step::kEnd;
}

Connection::Step Connection::SendOutput() {
  bool streaming;
  {
    absl::MutexLock lock(&mu_);
    streaming = stream_started_;
    if (abort_) return End(abort_reason_, true);
    if (stream_close_requested_) close_after_flush_ = true;
    if (sending_off_ == sending_.size()) {
      sending_.clear();
      sending_off_ = 0;
      sending_.swap(pending_);
    }
  }

  size_t sent = 0;
  std::optional<std::string> send_error;
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
      send_error = absl::StrCat("send: ", std::strerror(errno));
      break;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    queued_bytes_ -= sent;
    output_pending_ = queued_bytes_ > 0;
  }
  if (send_error.has_value()) return End(*std::move(send_error), streaming);
  if (sent > 0 || (output_pending_ && !was_pending_)) write_progress_ = SteadyNow();
  if (sent > 0) idle_since_ = write_progress_;
  was_pending_ = output_pending_;
  // More was queued meanwhile.
  if (sending_off_ == sending_.size() && output_pending_) return Step::kAgain;
  return Step::kNext;
}

Connection::Step Connection::CloseIfFlushed() {
  if (output_pending_ || !close_after_flush_ || linger_deadline_.has_value()) return Step::kNext;
  if (read_eof_) return End("closed after the last response", false);
  if (mode_ == Mode::kStream) {
    // A stream's input has been drained all along: no need to linger. Unread bytes at close()
    // would turn the FIN into a reset, so take what arrived since the last poll.
    char discard[4096];
    for (int i = 0; i < 16 && ::recv(fd_, discard, sizeof(discard), MSG_DONTWAIT) > 0; ++i) {
    }
    return End("stream closed by its owner", true);
  }
  ::shutdown(fd_, SHUT_WR);
  linger_deadline_ = SteadyAfter(SteadyNow(), kLingerTimeout);
  return Step::kNext;
}

Connection::Step Connection::WaitAndRead() {
  const bool want_read = !read_eof_ && (mode_ == Mode::kStream || linger_deadline_.has_value() ||
                                        close_after_flush_ || in_.size() - in_off_ < kReadBytes);
  pollfd fds[2] = {
      {fd_, static_cast<short>((want_read ? POLLIN : 0) | (output_pending_ ? POLLOUT : 0)), 0},
      {wake_fd_, POLLIN, 0}};
  int timeout_ms = -1;
  if (linger_deadline_.has_value()) {
    timeout_ms = PollTimeoutMs(*linger_deadline_);
  } else if (output_pending_) {
    timeout_ms = PollTimeoutMs(SteadyAfter(write_progress_, idle_timeout_));
  } else if (mode_ == Mode::kRequests) {
    timeout_ms = PollTimeoutMs(SteadyAfter(idle_since_, idle_timeout_));
  }  // else an idle stream: it lives until closed
  int rc = ::poll(fds, 2, timeout_ms);
  if (rc < 0 && errno != EINTR) return End(absl::StrCat("poll: ", std::strerror(errno)), true);
  if (rc == 0) {
    if (linger_deadline_.has_value()) return End("closed after the last response", false);
    if (output_pending_) return End("write stalled: the peer is not reading", true);
    return End("idle timeout", !in_.empty());
  }
  if (rc < 0) return Step::kNext;
  if (fds[1].revents & POLLIN) DrainWake(wake_fd_);
  const short revents = fds[0].revents;
  if (want_read && (revents & (POLLIN | POLLHUP | POLLERR))) return ReadSocket();
  if (revents & (POLLHUP | POLLERR)) return End("socket error", mode_ == Mode::kStream);
  return Step::kNext;
}

Connection::Step Connection::ReadSocket() {
  const size_t old_size = in_.size();
  in_.resize(old_size + kReadBytes);
  ssize_t n = ::recv(fd_, in_.data() + old_size, kReadBytes, 0);
  in_.resize(old_size + static_cast<size_t>(std::max<ssize_t>(n, 0)));
  if (n > 0) {
    idle_since_ = SteadyNow();
    if (mode_ == Mode::kStream || close_after_flush_) {  // nobody will parse it
      in_.clear();
      in_off_ = 0;
    }
  } else if (n == 0) {
    read_eof_ = true;
    if (mode_ == Mode::kStream) return End("peer closed the stream", true);
    if (linger_deadline_.has_value()) return End("closed after the last response", false);
  } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
    return End(absl::StrCat("recv: ", std::strerror(errno)), mode_ == Mode::kStream);
  }
  return Step::kNext;
}

void Connection::Finish() {
  std::vector<std::function<void()>> callbacks;
  bool streaming;
  {
    absl::MutexLock lock(&mu_);
    // Abort() shuts the socket down, so the thread may have seen that as a peer close or a
    // failed send first.
    if (abort_) End(abort_reason_, true);
    ::close(fd_);
    socket_open_ = false;
    finished_ = true;
    streaming = stream_started_;
    pending_.clear();
    queued_bytes_ = 0;
    callbacks.swap(on_close_);
  }
  if (log_end_) {
    LogInfo(streaming ? "http_stream_closed" : "http_connection_closed",
            {{"peer", peer_}, {"reason", end_reason_}});
  }
  for (auto& callback : callbacks) callback();
  thread_done_ = true;
  Wake(server_wake_fd_);
}

}  // namespace mast::local::http_internal
