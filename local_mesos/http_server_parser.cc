#include "local_mesos/http_server_parser.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mast::local::http_internal {
namespace {

constexpr size_t kMaxHeadBytes = 64 << 10;  // request line + header fields
constexpr size_t kMaxHeaderCount = 100;
constexpr size_t kMaxChunkLineBytes = 4 << 10;  // chunk size + extensions
constexpr size_t kMaxTrailerBytes = 16 << 10;

bool IsTchar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

}  // namespace

bool IsToken(absl::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTchar); }

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

bool ListHasToken(absl::string_view value, absl::string_view token) {
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    if (absl::EqualsIgnoreCase(TrimOws(item), token)) return true;
  }
  return false;
}

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

}  // namespace mast::local::http_internal
