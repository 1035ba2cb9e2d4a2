#include "scheduler/mesos/http_transport.h"

#include <curl/curl.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mast::mesos {

std::optional<std::string> HttpHeaders::Get(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

struct HttpTransport::Transfer {
  RequestId id = 0;
  HttpRequestSpec spec;
  bool streaming = false;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  HttpHeaders head;
  bool headers_done = false;
  std::string body;  // buffered requests
  absl::AnyInvocable<void(absl::StatusOr<HttpResult>) &&> done;
  HttpStreamHandlers stream;
  char error[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (header_list != nullptr) curl_slist_free_all(header_list);
  }
};

namespace {

size_t OnHeaderLine(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<HttpTransport::Transfer*>(user);
  absl::string_view line(data, size * n);
  line = absl::StripTrailingAsciiWhitespace(line);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new header block (after "100 Continue", or the first one).
    t->head = HttpHeaders();
    t->headers_done = false;
    size_t space = line.find(' ');
    if (space != absl::string_view::npos) {
      (void)absl::SimpleAtoi(line.substr(space + 1, 3), &t->head.status);
    }
    return size * n;
  }
  if (line.empty()) {
    // The end of a block; interim 1xx blocks are followed by the real one.
    if (t->head.status >= 200 && !t->headers_done) {
      t->headers_done = true;
      if (t->streaming && t->stream.on_headers) t->stream.on_headers(t->head);
    }
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    t->head.headers.emplace_back(std::string(absl::StripAsciiWhitespace(line.substr(0, colon))),
                                 std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<HttpTransport::Transfer*>(user);
  absl::string_view piece(data, size * n);
  if (t->streaming) {
    if (t->stream.on_data) t->stream.on_data(piece);
  } else {
    t->body.append(piece.data(), piece.size());
  }
  return size * n;
}

}  // namespace

HttpTransport::HttpTransport() {
  multi_ = curl_multi_init();
  thread_ = std::thread([this] { Run(); });
}

HttpTransport::~HttpTransport() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  thread_.join();
  curl_multi_cleanup(multi_);
}

HttpTransport::RequestId HttpTransport::Send(
    HttpRequestSpec spec, absl::AnyInvocable<void(absl::StatusOr<HttpResult>) &&> done) {
  auto t = std::make_unique<Transfer>();
  t->spec = std::move(spec);
  t->done = std::move(done);
  return Submit(std::move(t));
}

HttpTransport::RequestId HttpTransport::Stream(HttpRequestSpec spec, HttpStreamHandlers handlers) {
  auto t = std::make_unique<Transfer>();
  t->spec = std::move(spec);
  t->streaming = true;
  t->stream = std::move(handlers);
  return Submit(std::move(t));
}

HttpTransport::RequestId HttpTransport::Submit(std::unique_ptr<Transfer> transfer) {
  bool stopped;
  RequestId id;
  {
    absl::MutexLock lock(&mu_);
    id = transfer->id = next_id_++;
    stopped = stopping_;
    if (!stopped) incoming_.push_back(std::move(transfer));
  }
  if (stopped) {
    // Completed all the same, here: the contract is "exactly once".
    Finish(transfer.get(), absl::CancelledError("http transport stopped"));
    return id;
  }
  curl_multi_wakeup(multi_);
  return id;
}

void HttpTransport::Cancel(RequestId id) {
  {
    absl::MutexLock lock(&mu_);
    cancels_.push_back(id);
  }
  curl_multi_wakeup(multi_);
}

void HttpTransport::Finish(Transfer* t, absl::Status status) {
  if (t->streaming) {
    if (t->stream.on_end) std::move(t->stream.on_end)(std::move(status));
    t->stream.on_end = nullptr;
    return;
  }
  if (!t->done) return;
  auto done = std::move(t->done);
  t->done = nullptr;
  if (!status.ok()) {
    std::move(done)(std::move(status));
  } else {
    std::move(done)(HttpResult{std::move(t->head), std::move(t->body)});
  }
}

namespace {

// Sets up the easy handle of `t` from its spec; `t` owns the handle and the
// header list.
void ConfigureEasy(HttpTransport::Transfer* t) {
  CURL* easy = curl_easy_init();
  t->easy = easy;
  curl_easy_setopt(easy, CURLOPT_URL, t->spec.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeaderLine);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(t->spec.connect_timeout)));
  if (t->spec.timeout > absl::ZeroDuration()) {
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(t->spec.timeout)));
  }
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  if (t->streaming) {
    // A stream holds its connection for its whole life.
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  }
  if (t->spec.post) {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->spec.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->spec.body.data());
  }
  if (!t->spec.basic_auth.empty()) {
    curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(easy, CURLOPT_USERPWD, t->spec.basic_auth.c_str());
  }
  for (const std::string& h : t->spec.headers) {
    t->header_list = curl_slist_append(t->header_list, h.c_str());
  }
  // No "Expect: 100-continue" round trip for small bodies.
  t->header_list = curl_slist_append(t->header_list, "Expect:");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->header_list);
}

}  // namespace

void HttpTransport::Run() {
  while (true) {
    std::vector<std::unique_ptr<Transfer>> incoming;
    std::vector<RequestId> cancels;
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      incoming.swap(incoming_);
      cancels.swap(cancels_);
      stopping = stopping_;
    }
    for (auto& t : incoming) Start(std::move(t));
    for (RequestId id : cancels) CancelActive(id);
    if (stopping) {
      CancelAll();
      return;
    }
    int running = 0;
    curl_multi_perform(multi_, &running);
    CompleteFinished();
    curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
  }
}

void HttpTransport::Start(std::unique_ptr<Transfer> t) {
  ConfigureEasy(t.get());
  curl_multi_add_handle(multi_, t->easy);
  RequestId id = t->id;
  active_.emplace(id, std::move(t));
}

void HttpTransport::CancelActive(RequestId id) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  curl_multi_remove_handle(multi_, it->second->easy);
  std::unique_ptr<Transfer> t = std::move(it->second);
  active_.erase(it);
  Finish(t.get(), absl::CancelledError("cancelled"));
}

void HttpTransport::CancelAll() {
  for (auto& [id, t] : active_) {
    curl_multi_remove_handle(multi_, t->easy);
    Finish(t.get(), absl::CancelledError("http transport stopped"));
  }
  active_.clear();
}

void HttpTransport::CompleteFinished() {
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* raw = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &raw);
    CURLcode code = msg->data.result;
    curl_multi_remove_handle(multi_, msg->easy_handle);
    auto it = active_.find(raw->id);
    std::unique_ptr<Transfer> t = std::move(it->second);
    active_.erase(it);
    if (code == CURLE_OK) {
      if (!t->headers_done) {
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        t->head.status = static_cast<int>(status);
        if (t->streaming && t->stream.on_headers) t->stream.on_headers(t->head);
      }
      Finish(t.get(), absl::OkStatus());
    } else {
      std::string detail = t->error[0] != '\0' ? t->error : curl_easy_strerror(code);
      Finish(t.get(), absl::UnavailableError(absl::StrCat(t->spec.url, ": ", detail)));
    }
  }
}

}  // namespace mast::mesos
