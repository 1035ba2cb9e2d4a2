#pragma once

// The request parser of HttpServer and the RFC 9110 token helpers it shares with the response
// writer. Internal to http_server*.cc.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "local_mesos/http_server.h"

namespace mast::local::http_internal {

// An RFC 9110 token (method, header name): one or more tchars.
bool IsToken(absl::string_view s);
// Field values: visible characters, obs-text, SP and HT; no CR, LF or other controls.
bool IsFieldValue(absl::string_view s);
absl::string_view TrimOws(absl::string_view s);
// True if the comma-separated list in `value` holds `token` (case-insensitive).
bool ListHasToken(absl::string_view value, absl::string_view token);
// Parses one non-negative decimal number; more than 19 significant digits give UINT64_MAX.
bool ParseDecimal(absl::string_view s, uint64_t* out);

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

}  // namespace mast::local::http_internal
