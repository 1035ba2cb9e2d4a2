#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mast::local {

// Header fields in the order they were sent or are to be sent.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// One request, fully received (body included) before the handler runs.
struct HttpRequest {
  std::string method;   // "POST"
  std::string target;   // path + query as sent, e.g. "/api/v1/scheduler?x=1"
  std::string path;     // without query, e.g. "/api/v1/scheduler"
  std::string version;  // "HTTP/1.1" or "HTTP/1.0"
  HttpHeaders headers;  // as received
  // The value of the first header named `name` (case-insensitive).
  std::optional<std::string> Header(absl::string_view name) const;
  std::string body;  // decoded: Content-Length and chunked request bodies are both supported
  std::string peer;  // "127.0.0.1:port" or "[::1]:port"
};

struct HttpResponse {
  int status = 200;  // 200..599; anything else is sent as 500
  // Content-Length, Transfer-Encoding and Connection are the server's: a handler's own values are
  // dropped ("Connection: close" still makes the server close after this response).
  HttpHeaders headers;
  std::string body;
};

// A chunked response that stays open: the owner writes records from any thread.
//
// Thread-safe. The object may outlive the connection and the server; every method keeps working
// (Write() returns false, closed() is true) once the connection is gone.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Queues `data` as one HTTP chunk and wakes the connection's thread to send it; never waits for
  // the network. An empty `data` sends nothing (a zero-size chunk would end the stream). If the
  // peer stops reading and more than HttpServerConfig::max_stream_buffer bytes would be queued, the
  // connection is dropped as by Abort(). Returns false once the stream is closed.
  virtual bool Write(absl::string_view data) = 0;
  // Ends the stream: what is queued is sent, then the terminating zero chunk, then the connection
  // is closed. Idempotent.
  virtual void Close() = 0;
  // Drops the connection at once, discarding what is queued and without the terminating chunk
  // (fault injection: "the master died"). Idempotent.
  virtual void Abort() = 0;
  // True once Close() or Abort() was called or the connection ended (peer closed, write stall,
  // buffer overflow, server stop).
  virtual bool closed() const = 0;
  // `callback` runs once when the connection of the stream has ended for any reason, on that
  // connection's server thread, with no lock held; it must not block or call HttpServer::Stop().
  // If the connection has already ended, it runs at once on the calling thread.
  virtual void OnClose(std::function<void()> callback) = 0;
};

// Handed to the handler for one request; valid only while the handler runs.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual void Respond(HttpResponse response) = 0;
  // Starts a response with `Transfer-Encoding: chunked` and `Connection: close` that stays open.
  // The connection then serves only this stream (pipelined requests after it are dropped). Over
  // HTTP/1.0 the data is sent unframed and the stream ends when the connection closes.
  virtual std::shared_ptr<ResponseStream> StartStream(int status, HttpHeaders headers) = 0;
};

// Runs on the connection's thread. Must call exactly one of Respond()/StartStream() before
// returning: no call, or an exception before the call, is answered with 500; a second call is
// ignored (and logged).
using HttpHandler = std::function<void(const HttpRequest&, HttpExchange&)>;

struct HttpServerConfig {
  // "ipv4:port", "[ipv6]:port" or "localhost:port" (= 127.0.0.1); port 0 picks a free port.
  std::string address = "127.0.0.1:0";
  // Largest request body, in bytes, after chunked decoding; larger requests get 413. Default 16
  // MiB.
  size_t max_body_bytes = 16 << 20;
  // A connection is closed when it has waited this long for a request, or when queued output
  // has made no progress for this long (the peer stopped reading). Default 5 minutes.
  absl::Duration idle_timeout = absl::Minutes(5);
  // Bytes a stream may have queued but not yet taken by the socket; above this the connection
  // is dropped. Default 64 MiB.
  size_t max_stream_buffer = 64 << 20;
};

namespace http_internal {
class Connection;
}  // namespace http_internal

// A small HTTP/1.1 server for loopback use (the local Mesos master, test endpoints).
//
// Threads: one accept thread, plus one thread per connection that parses requests, runs the
// handler and writes the socket (non-blocking, in a poll() loop that a ResponseStream's writers
// wake through an eventfd). Requests on one connection are handled one at a time, so pipelined
// requests are answered in order; a slow handler delays only its own connection.
//
// Protocol: keep-alive by default; "Connection: close" and HTTP/1.0 requests close the connection
// after the response. Malformed requests get 400, oversized bodies 413, unsupported transfer
// codings 501, unknown HTTP major versions 505, and then the connection is closed.
// "Expect: 100-continue" gets "100 Continue" once the headers are accepted. Idle connections
// are closed after `idle_timeout` (kernel time; this class does no clock-driven logic).
//
// Ownership: the server owns its sockets and threads. Stop() (and the destructor) closes the
// listener, drops every connection abruptly (streams see Abort semantics, OnClose callbacks
// run) and joins the threads; it waits for running handlers to return, so it must not be called
// from a handler or an OnClose callback. Other methods may be called from any thread.
//
// Why not CivetWeb (Debian's libcivetweb 1.15 was tried): it parses requests before any callback
// runs, and not as tests/local_mesos/http_server_test.cc pins down: a chunk extension ("5;a=b")
// makes mg_read() fail, the request after a trailer section is lost, a request line with two
// spaces and folded header lines are served, oversized heads, unknown transfer codings and
// negative lengths get 400, 400 and 411 (not 431, 501, 400), it sends no "100 Continue" to
// request handlers, and it is built without IPv6. Streams, Abort() without the last chunk and
// DropAllConnections() could be had (raw mg_write() framing, mg_disable_connection_keep_alive(),
// shutdown() of the accepted socket found in /proc/self/fd).
class HttpServer {
 public:
  // Binds and listens on `config.address` and starts the accept thread. InvalidArgument for a bad
  // config, Unavailable if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerConfig config,
                                                           HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (useful when the config asked for port 0).
  int port() const { return port_; }
  // Idempotent; see the class comment.
  void Stop();
  // Fault injection: drops every open connection abruptly (streams see Abort semantics). The
  // listener stays open.
  void DropAllConnections();

 private:
  struct ConnectionThread {
    std::shared_ptr<http_internal::Connection> connection;
    std::thread thread;
  };

  HttpServer(HttpServerConfig config, HttpHandler handler, int listen_fd, int port, int wake_fd);
  void AcceptLoop();
  void AddConnection(int fd, std::string peer);
  void JoinFinishedConnections();

  const HttpServerConfig config_;
  const HttpHandler handler_;
  const int listen_fd_;  // closed by Stop() once the accept thread has ended
  const int port_;
  const int wake_fd_;  // eventfd: wakes the accept thread (stop, a connection ended)

  absl::Mutex stop_mu_;  // serializes Stop()
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;

  absl::Mutex mu_;  // acquired before any connection's own mutex
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<ConnectionThread> connections_ ABSL_GUARDED_BY(mu_);

  std::thread accept_thread_;
};

using HttpServerPtr = std::unique_ptr<HttpServer>;

}  // namespace mast::local
