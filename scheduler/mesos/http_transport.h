#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

typedef void CURLM;

namespace mast::mesos {

struct HttpRequestSpec {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POSTed when non-empty or when post is set
  bool post = true;
  absl::Duration timeout = absl::ZeroDuration();  // whole transfer; zero: none (streams)
  absl::Duration connect_timeout = absl::Seconds(5);
  std::string basic_auth;  // "principal:secret", or empty
};

struct HttpHeaders {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  // Case-insensitive lookup of the first header named `name`.
  std::optional<std::string> Get(absl::string_view name) const;
};

struct HttpResult {
  HttpHeaders head;
  std::string body;
};

// Callbacks of a streaming request. All run on the transport's I/O thread:
// they must only hand the data over (post to a loop) and never block.
struct HttpStreamHandlers {
  // Once, when the response headers are complete.
  absl::AnyInvocable<void(const HttpHeaders&)> on_headers;
  // For each piece of the body, in order, at arbitrary boundaries.
  absl::AnyInvocable<void(absl::string_view)> on_data;
  // Once, last: OK at a clean end of the body, UNAVAILABLE for a transport
  // error (refused, reset, timeout), CANCELLED after Cancel().
  absl::AnyInvocable<void(absl::Status) &&> on_end;
};

// HTTP/1.1 over libcurl's multi interface on one I/O thread. Connections to
// the same host are kept alive and reused for buffered requests; a
// streaming request holds its own connection until it ends.
//
// Threads: every method may be called from any thread. Callbacks run on the
// I/O thread, never under a lock of the transport. The destructor cancels
// everything (each pending callback still runs once, with CANCELLED) and
// joins the thread.
//
// Process setup: the program must call curl_global_init(CURL_GLOBAL_DEFAULT)
// in main(), before it starts threads and before creating a transport. The
// transport does not do it itself: that call is process-wide and not
// thread-safe, so a library constructor cannot make it safely (mastd/main.cc;
// tests get it from tests/processes/process_init.h).
class HttpTransport {
 public:
  using RequestId = uint64_t;

  HttpTransport();
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  RequestId Send(HttpRequestSpec spec,
                 absl::AnyInvocable<void(absl::StatusOr<HttpResult>) &&> done);
  RequestId Stream(HttpRequestSpec spec, HttpStreamHandlers handlers);
  // Ends a request early; its completion runs with CANCELLED. A no-op for
  // a request that has finished.
  void Cancel(RequestId id);

  // Internal: one request in flight (public for the libcurl callbacks).
  struct Transfer;

 private:
  // The I/O thread: takes in new requests and cancels, drives libcurl.
  void Run();
  RequestId Submit(std::unique_ptr<Transfer> transfer);
  void Finish(Transfer* transfer, absl::Status status);
  // The steps of Run(), on the I/O thread only: hand a new request to
  // libcurl; end one request, or all, with CANCELLED; complete the requests
  // libcurl reports done.
  void Start(std::unique_ptr<Transfer> transfer);
  void CancelActive(RequestId id);
  void CancelAll();
  void CompleteFinished();

  CURLM* multi_ = nullptr;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Transfer>> incoming_ ABSL_GUARDED_BY(mu_);
  std::vector<RequestId> cancels_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  RequestId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // I/O thread only.
  absl::flat_hash_map<RequestId, std::unique_ptr<Transfer>> active_;
  std::thread thread_;
};

}  // namespace mast::mesos
