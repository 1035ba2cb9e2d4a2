#pragma once

// One connection of HttpServer: its thread, its output queue and its stream. Internal to
// http_server*.cc.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "local_mesos/http_server.h"
#include "local_mesos/http_server_parser.h"

namespace mast::local::http_internal {

// Signals the eventfd `event_fd` (a no-op if it is already signalled).
void Wake(int event_fd);
// Resets the eventfd `event_fd`.
void DrainWake(int event_fd);

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

  using SteadyTime = std::chrono::steady_clock::time_point;
  // What Run() does after one of its steps: the next step, the first step again at once, or end.
  enum class Step { kNext, kAgain, kEnd };

  // The steps of Run(), in order. Connection thread only.
  // Takes the output other threads queued and writes what the socket takes now.
  Step SendOutput() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends a closing connection once its output is sent, or starts lingering.
  Step CloseIfFlushed();
  // Waits for the socket, a wake-up or a deadline, then reads what arrived.
  Step WaitAndRead();
  // Reads once from the socket that poll() found readable.
  Step ReadSocket();
  // Closes the socket, then logs and runs the OnClose callbacks.
  void Finish() ABSL_LOCKS_EXCLUDED(mu_);
  // Records why the connection ends; `log`: streams and failures are logged, ordinary closes
  // are not.
  Step End(std::string reason, bool log);

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
  // Waiting for a request: closed when nothing was read or written for idle_timeout.
  SteadyTime idle_since_{};
  // Output queued: closed when the socket took none of it for idle_timeout.
  SteadyTime write_progress_{};
  bool output_pending_ = false;  // as of the last SendOutput()
  bool was_pending_ = false;     // as of the one before
  std::optional<SteadyTime> linger_deadline_;
  std::string end_reason_;
  bool log_end_ = false;
  bool close_after_flush_ = false;
  bool continue_sent_ = false;
};

}  // namespace mast::local::http_internal
