#include "scheduler/mesos/http_mesos_client.h"

#include <algorithm>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "scheduler/mesos/codec.h"

namespace mast::mesos {

namespace mesos_v1 = ::mesos::v1;

namespace {

constexpr char kPath[] = "/api/v1/scheduler";

double UnixSeconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

// A call's outcome by HTTP status (mesos-v1-api.md §1.3).
absl::Status CallStatus(const HttpResult& result) {
  int code = result.head.status;
  std::string body = result.body.substr(0, 512);
  if (code == 200 || code == 202) return absl::OkStatus();
  std::string message = absl::StrCat("HTTP ", code, body.empty() ? "" : ": ", body);
  switch (code) {
    case 307:
    case 503:
    case 404:
      return absl::UnavailableError(message);
    case 400:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::FailedPreconditionError(message);
    case 501:
      return absl::UnimplementedError(message);
    default:
      return code >= 500 ? absl::UnavailableError(message) : absl::InternalError(message);
  }
}

// Calls of these types concern each their own update, offers or tasks: a run
// of them may be in flight at once.
bool Overlaps(mesos_v1::scheduler::Call::Type type) {
  switch (type) {
    case mesos_v1::scheduler::Call::ACKNOWLEDGE:
    case mesos_v1::scheduler::Call::ACCEPT:
    case mesos_v1::scheduler::Call::DECLINE:
    case mesos_v1::scheduler::Call::RECONCILE:
      return true;
    default:
      return false;
  }
}

}  // namespace

// Calls on their way to the master, in the order Push() took them. A call is
// handed to the transport once the calls in flight allow it (none, or at most
// max_in_flight - 1 of its own overlapping type), from whichever thread made
// that possible: Push() on the loop, or an answer on the transport's I/O
// thread. Outcomes go to `done` on the I/O thread.
//
// Thread-safe. Owned through shared_ptr: the transport's callbacks keep it
// alive past the client.
class HttpMesosClient::CallQueue : public std::enable_shared_from_this<CallQueue> {
 public:
  struct Entry {
    uint64_t id = 0;
    mesos_v1::scheduler::Call::Type type = mesos_v1::scheduler::Call::UNKNOWN;
    HttpRequestSpec spec;
  };
  using Done = std::function<void(uint64_t id, absl::StatusOr<HttpResult> result)>;

  CallQueue(HttpTransport& transport, size_t max_in_flight, Done done)
      : transport_(transport),
        max_in_flight_(std::max<size_t>(1, max_in_flight)),
        done_(std::move(done)) {}

  void Push(Entry entry) {
    {
      absl::MutexLock lock(&mu_);
      waiting_.push_back(std::move(entry));
    }
    Pump();
  }

  // Drops the calls not yet handed to the transport (those in flight still
  // finish, and still hold back the calls after them).
  void Clear() {
    absl::MutexLock lock(&mu_);
    waiting_.clear();
  }

 private:
  void Pump() {
    std::vector<Entry> ready;
    {
      absl::MutexLock lock(&mu_);
      while (!waiting_.empty()) {
        const Entry& next = waiting_.front();
        if (in_flight_ > 0 &&
            !(Overlaps(next.type) && next.type == in_flight_type_ && in_flight_ < max_in_flight_)) {
          break;
        }
        in_flight_type_ = next.type;
        ++in_flight_;
        ready.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
      }
    }
    // Sent outside the lock. Two threads may each send part of one run of an
    // overlapping type here at once: such calls have no order to keep.
    for (Entry& entry : ready) {
      transport_.Send(std::move(entry.spec), [self = shared_from_this(),
                                              id = entry.id](absl::StatusOr<HttpResult> result) {
        {
          absl::MutexLock lock(&self->mu_);
          --self->in_flight_;
        }
        self->done_(id, std::move(result));
        self->Pump();
      });
    }
  }

  HttpTransport& transport_;
  const size_t max_in_flight_;
  const Done done_;
  absl::Mutex mu_;
  std::deque<Entry> waiting_ ABSL_GUARDED_BY(mu_);
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // The type of the calls in flight (when in_flight_ > 0).
  mesos_v1::scheduler::Call::Type in_flight_type_ ABSL_GUARDED_BY(mu_) =
      mesos_v1::scheduler::Call::UNKNOWN;
};

absl::Status ValidateMesosClientConfig(const MesosClientConfig& config) {
  if (config.heartbeat_misses < 1) {
    return absl::InvalidArgumentError("heartbeat_misses: must be >= 1");
  }
  if (config.default_heartbeat_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("default_heartbeat_interval: must be > 0");
  }
  if (config.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("call_timeout: must be > 0");
  }
  if (config.max_redirects < 0) return absl::InvalidArgumentError("max_redirects: must be >= 0");
  if (config.max_calls_in_flight < 1) {
    return absl::InvalidArgumentError("max_calls_in_flight: must be >= 1");
  }
  // Its messages name backoff.<field> already.
  return ValidateBackoffConfig(config.backoff);
}

HttpMesosClient::HttpMesosClient(MesosClientConfig config, MasterDetector& detector,
                                 HttpTransport& transport, EventLoop& loop,
                                 MesosClientCallbacks callbacks, MesosMetrics* metrics)
    : config_(std::move(config)),
      detector_(detector),
      transport_(transport),
      loop_(loop),
      callbacks_(std::move(callbacks)),
      metrics_(metrics),
      heartbeat_interval_(config_.default_heartbeat_interval),
      backoff_(config_.backoff) {
  call_queue_ = std::make_shared<CallQueue>(
      transport_, static_cast<size_t>(config_.max_calls_in_flight),
      [loop = &loop_,
       on_done = weak_callbacks_.Bind([this](uint64_t id, absl::StatusOr<HttpResult> result) {
         OnCallDone(id, std::move(result));
       })](uint64_t id, absl::StatusOr<HttpResult> result) {
        // I/O thread, maybe after the client is gone: only hand the outcome
        // to the loop (which outlives the client), where the bound callback
        // runs, and does nothing if the client is gone.
        loop->Post([on_done, id, result = std::move(result)]() mutable {
          on_done(id, std::move(result));
        });
      });
}

HttpMesosClient::~HttpMesosClient() {
  Close();
  weak_callbacks_.Invalidate();
}

void HttpMesosClient::Subscribe(mesos_v1::FrameworkInfo framework,
                                std::vector<std::string> suppressed_roles) {
  framework_ = std::move(framework);
  suppressed_roles_ = std::move(suppressed_roles);
  if (state_ == State::kStopped || state_ == State::kIdle) state_ = State::kWaitingForMaster;
  backoff_.Reset();
  redirects_ = 0;
  if (!detecting_) {
    detecting_ = true;
    detector_.Watch(weak_callbacks_.Bind(
        [this](const std::optional<std::string>& master) { OnMasterDetected(master); }));
  } else {
    // A new subscription over whatever connection there is.
    Drop("resubscribing", "resubscribe", /*reconnect=*/true, absl::ZeroDuration());
  }
}

void HttpMesosClient::OnMasterDetected(const std::optional<std::string>& master) {
  detected_master_ = master;
  if (state_ == State::kStopped || state_ == State::kIdle) return;
  if (!master) {
    LogWarning("mesos_no_master", {{"msg", "no leading Mesos master known; waiting"}});
    Drop("no leading master", "no_master", /*reconnect=*/false, absl::ZeroDuration());
    state_ = State::kWaitingForMaster;
    return;
  }
  if (*master == master_ && (state_ == State::kConnecting || state_ == State::kSubscribed)) return;
  LogInfo("mesos_master_detected", {{"master", *master}});
  redirects_ = 0;
  if (state_ == State::kConnecting || state_ == State::kSubscribed) {
    Drop("leading master changed", "leader_change", /*reconnect=*/false, absl::ZeroDuration());
  }
  master_ = *master;
  Connect();
}

void HttpMesosClient::Connect() {
  loop_.Cancel(reconnect_timer_);
  if (state_ == State::kStopped || state_ == State::kIdle) return;
  if (master_.empty()) {
    if (!detected_master_) {
      state_ = State::kWaitingForMaster;
      return;
    }
    master_ = *detected_master_;
  }
  state_ = State::kConnecting;
  uint64_t generation = ++generation_;
  decoder_.emplace();
  stream_id_.clear();
  heartbeat_interval_ = config_.default_heartbeat_interval;
  last_bytes_at_ = loop_.clock().Now();

  mesos_v1::scheduler::Call call;
  call.set_type(mesos_v1::scheduler::Call::SUBSCRIBE);
  if (framework_.has_id()) *call.mutable_framework_id() = framework_.id();
  auto* subscribe = call.mutable_subscribe();
  *subscribe->mutable_framework_info() = framework_;
  for (const std::string& role : suppressed_roles_) subscribe->add_suppressed_roles(role);

  HttpRequestSpec spec;
  spec.url = absl::StrCat(master_, kPath);
  spec.headers = {absl::StrCat("Content-Type: ", MediaType(config_.json)),
                  absl::StrCat("Accept: ", MediaType(config_.json)), "Connection: keep-alive"};
  spec.body = Encode(call);
  spec.connect_timeout = config_.connect_timeout;
  spec.basic_auth = config_.basic_auth;
  // The handlers run on the transport's I/O thread: they only post the
  // bound callbacks to the loop, where those run (and do nothing once the
  // client is gone).
  HttpStreamHandlers handlers;
  handlers.on_headers = [loop = &loop_, on_headers = weak_callbacks_.Bind(
                                            [this, generation](const HttpHeaders& head) {
                                              OnStreamHeaders(generation, head);
                                            })](const HttpHeaders& head) {
    loop->Post([on_headers, head]() mutable { on_headers(head); });
  };
  handlers.on_data = [loop = &loop_,
                      on_data = weak_callbacks_.Bind([this, generation](const std::string& bytes) {
                        OnStreamData(generation, bytes);
                      })](absl::string_view data) {
    loop->Post([on_data, bytes = std::string(data)]() mutable { on_data(bytes); });
  };
  handlers.on_end = [loop = &loop_,
                     on_end = weak_callbacks_.Bind([this, generation](const absl::Status& status) {
                       OnStreamEnd(generation, status);
                     })](absl::Status status) {
    loop->Post([on_end, status = std::move(status)]() mutable { on_end(status); });
  };
  LogInfo("mesos_subscribing",
          {{"master", master_},
           {"framework_id", framework_.has_id() ? framework_.id().value() : std::string("(new)")},
           {"encoding", config_.json ? "json" : "protobuf"}});
  stream_request_ = transport_.Stream(std::move(spec), std::move(handlers));
  ArmHeartbeatWatchdog();
}

void HttpMesosClient::OnStreamHeaders(uint64_t generation, const HttpHeaders& head) {
  if (generation != generation_ || state_ != State::kConnecting) return;
  if (head.status == 200) {
    stream_id_ = head.Get("Mesos-Stream-Id").value_or("");
    if (stream_id_.empty()) {
      Drop("SUBSCRIBE answered 200 without Mesos-Stream-Id", "protocol_error", true,
           backoff_.Next(bitgen_));
    }
    return;
  }
  if (head.status == 307) {
    std::optional<std::string> location = head.Get("Location");
    absl::StatusOr<std::string> target =
        location ? BaseUrlFromLocation(*location)
                 : absl::StatusOr<std::string>(absl::InvalidArgumentError("no Location"));
    if (target.ok() && redirects_ < config_.max_redirects) {
      ++redirects_;
      if (metrics_ != nullptr) metrics_->Reconnect("redirect");
      LogInfo("mesos_redirected", {{"from", master_}, {"to", *target}});
      Drop(absl::StrCat("redirected to ", *target), "redirect", /*reconnect=*/false,
           absl::ZeroDuration());
      master_ = *target;
      Connect();
      return;
    }
    redirects_ = 0;
    master_.clear();  // back to the detector's answer
    Drop(absl::StrCat("unusable redirect: ", target.status().message()), "redirect", true,
         backoff_.Next(bitgen_));
    return;
  }
  if (head.status == 503) {
    Drop("master answered 503 (no leader or still recovering)", "unavailable", true,
         backoff_.Next(bitgen_));
    return;
  }
  if (head.status == 401 || head.status == 403) {
    // The master authenticates frameworks and refused our credentials (or
    // their principal may not use the role): an operator must act; retried
    // at the backoff's pace meanwhile.
    Drop(absl::StrCat("SUBSCRIBE refused with HTTP ", head.status,
                      head.status == 401 ? " (check --framework_principal and "
                                           "--framework_secret_file)"
                                         : " (the principal may not subscribe with this role)"),
         head.status == 401 ? "unauthenticated" : "forbidden", true, backoff_.Next(bitgen_));
    return;
  }
  Drop(absl::StrCat("SUBSCRIBE refused with HTTP ", head.status), "http_error", true,
       backoff_.Next(bitgen_));
}

void HttpMesosClient::OnStreamData(uint64_t generation, const std::string& bytes) {
  if (generation != generation_ || state_ == State::kStopped) return;
  if (state_ != State::kConnecting && state_ != State::kSubscribed) return;
  last_bytes_at_ = loop_.clock().Now();
  std::vector<std::string> records;
  absl::Status status = decoder_->Feed(bytes, &records);
  for (std::string& record : records) {
    absl::StatusOr<mesos_v1::scheduler::Event> event = DecodeEvent(record, config_.json);
    if (!event.ok()) {
      if (metrics_ != nullptr) metrics_->stream_errors.Increment();
      Drop(std::string(event.status().message()), "garbage", true, backoff_.Next(bitgen_));
      return;
    }
    HandleEvent(std::move(*event));
    if (generation != generation_ || state_ == State::kStopped) return;  // dropped meanwhile
  }
  if (!status.ok()) {
    if (metrics_ != nullptr) metrics_->stream_errors.Increment();
    Drop(std::string(status.message()), "garbage", true, backoff_.Next(bitgen_));
  }
}

void HttpMesosClient::HandleEvent(mesos_v1::scheduler::Event event) {
  if (metrics_ != nullptr) metrics_->Event(mesos_v1::scheduler::Event::Type_Name(event.type()));
  switch (event.type()) {
    case mesos_v1::scheduler::Event::SUBSCRIBED: {
      const auto& subscribed = event.subscribed();
      state_ = State::kSubscribed;
      *framework_.mutable_id() = subscribed.framework_id();
      if (subscribed.heartbeat_interval_seconds() > 0) {
        heartbeat_interval_ = absl::Seconds(subscribed.heartbeat_interval_seconds());
      }
      backoff_.Reset();
      redirects_ = 0;
      if (metrics_ != nullptr) {
        metrics_->subscribed.Set(1);
        metrics_->subscribed_timestamp.Set(UnixSeconds(loop_.clock().Now()));
        metrics_->subscriptions.Increment();
        metrics_->SetFrameworkId(subscribed.framework_id().value());
      }
      LogInfo("mesos_subscribed",
              {{"framework_id", subscribed.framework_id().value()},
               {"master", master_},
               {"stream_id", stream_id_},
               {"heartbeat_interval", absl::FormatDuration(heartbeat_interval_)}});
      ArmHeartbeatWatchdog();
      if (callbacks_.on_subscribed) callbacks_.on_subscribed(subscribed);
      return;
    }
    case mesos_v1::scheduler::Event::HEARTBEAT:
      return;
    case mesos_v1::scheduler::Event::ERROR: {
      std::string message = event.error().message();
      if (metrics_ != nullptr) metrics_->errors.Increment();
      LogError("mesos_error_event", {{"message", message}, {"master", master_}});
      Drop(absl::StrCat("ERROR: ", message), "error_event", /*reconnect=*/false,
           absl::ZeroDuration());
      state_ = State::kStopped;
      FailQueuedCalls(absl::FailedPreconditionError(absl::StrCat("Mesos ERROR: ", message)));
      if (callbacks_.on_error) callbacks_.on_error(message);
      return;
    }
    case mesos_v1::scheduler::Event::OFFERS:
    case mesos_v1::scheduler::Event::INVERSE_OFFERS:
    case mesos_v1::scheduler::Event::RESCIND:
    case mesos_v1::scheduler::Event::RESCIND_INVERSE_OFFER:
    case mesos_v1::scheduler::Event::UPDATE:
    case mesos_v1::scheduler::Event::UPDATE_OPERATION_STATUS:
    case mesos_v1::scheduler::Event::MESSAGE:
    case mesos_v1::scheduler::Event::FAILURE:
      if (state_ != State::kSubscribed) {
        // Only SUBSCRIBED or ERROR may come first.
        Drop("event before SUBSCRIBED", "protocol_error", true, backoff_.Next(bitgen_));
        return;
      }
      if (callbacks_.on_event) callbacks_.on_event(event);
      return;
    case mesos_v1::scheduler::Event::UNKNOWN:
      // An event type newer than we know: ignore it (forward compatibility).
      return;
  }
}

void HttpMesosClient::OnStreamEnd(uint64_t generation, const absl::Status& status) {
  if (generation != generation_) return;
  if (state_ != State::kConnecting && state_ != State::kSubscribed) return;
  stream_request_ = 0;
  bool refused = state_ == State::kConnecting && stream_id_.empty();
  std::string reason = status.ok() ? "the master closed the subscription stream"
                                   : absl::StrCat("subscription failed: ", status.message());
  if (refused && !master_.empty()) detector_.ReportUnreachable(master_);
  if (refused) master_.clear();
  Drop(reason, status.ok() ? "eof" : "connection", /*reconnect=*/true, backoff_.Next(bitgen_));
}

void HttpMesosClient::Drop(const std::string& reason, const std::string& metric_reason,
                           bool reconnect, absl::Duration delay) {
  bool was_subscribed = state_ == State::kSubscribed;
  ++generation_;  // everything of the old connection is now stale
  if (stream_request_ != 0) {
    transport_.Cancel(stream_request_);
    stream_request_ = 0;
  }
  loop_.Cancel(heartbeat_timer_);
  stream_id_.clear();
  if (metrics_ != nullptr) metrics_->subscribed.Set(0);
  FailQueuedCalls(absl::UnavailableError(absl::StrCat("subscription lost: ", reason)));
  if (state_ == State::kStopped || state_ == State::kIdle) return;
  if (!reconnect) {
    state_ = State::kWaitingForMaster;
    return;
  }
  if (metrics_ != nullptr) metrics_->Reconnect(metric_reason);
  LogWarning("mesos_disconnected",
             {{"reason", reason}, {"master", master_}, {"retry_in", absl::FormatDuration(delay)}});
  if (was_subscribed && callbacks_.on_disconnected) callbacks_.on_disconnected(reason);
  ScheduleReconnect(delay);
}

void HttpMesosClient::ScheduleReconnect(absl::Duration delay) {
  state_ = State::kBackoff;
  loop_.Cancel(reconnect_timer_);
  reconnect_timer_ = loop_.RunAfter(delay, weak_callbacks_.Bind([this]() {
    if (state_ == State::kBackoff) Connect();
  }));
}

void HttpMesosClient::ArmHeartbeatWatchdog() {
  loop_.Cancel(heartbeat_timer_);
  uint64_t generation = generation_;
  heartbeat_timer_ = loop_.RunAfter(heartbeat_interval_, weak_callbacks_.Bind([this, generation]() {
    if (generation != generation_) return;
    absl::Duration silence = loop_.clock().Now() - last_bytes_at_;
    if (metrics_ != nullptr) metrics_->heartbeat_age.Set(absl::ToDoubleSeconds(silence));
    if (silence >= heartbeat_interval_ * config_.heartbeat_misses) {
      Drop(absl::StrCat("no bytes from the master for ", absl::FormatDuration(silence)),
           "heartbeat_timeout", true, backoff_.Next(bitgen_));
      return;
    }
    ArmHeartbeatWatchdog();
  }));
}

void HttpMesosClient::Send(mesos_v1::scheduler::Call call,
                           absl::AnyInvocable<void(absl::Status) &&> done) {
  if (state_ != State::kSubscribed || paused_) {
    if (metrics_ != nullptr) {
      metrics_->Call(mesos_v1::scheduler::Call::Type_Name(call.type()), "not_sent");
    }
    std::move(done)(absl::UnavailableError(paused_ ? "leadership paused: calls are held back"
                                                   : "not subscribed to Mesos"));
    return;
  }
  if (!call.has_framework_id()) *call.mutable_framework_id() = framework_.id();
  if (call.type() == mesos_v1::scheduler::Call::UPDATE_FRAMEWORK && call.has_update_framework()) {
    // A later resubscription (after a reconnect) declares what this update does.
    mesos_v1::FrameworkInfo updated = call.update_framework().framework_info();
    if (framework_.has_id()) *updated.mutable_id() = framework_.id();
    framework_ = std::move(updated);
  }
  const uint64_t id = ++next_call_id_;
  pending_calls_.emplace(
      id, PendingCall{mesos_v1::scheduler::Call::Type_Name(call.type()), std::move(done)});
  call_queue_->Push({id, call.type(), CallSpec(Encode(call))});
}

HttpRequestSpec HttpMesosClient::CallSpec(std::string body) const {
  HttpRequestSpec spec;
  spec.url = absl::StrCat(master_, kPath);
  spec.headers = {absl::StrCat("Content-Type: ", MediaType(config_.json)),
                  absl::StrCat("Mesos-Stream-Id: ", stream_id_), "Connection: keep-alive"};
  spec.body = std::move(body);
  spec.timeout = config_.call_timeout;
  spec.connect_timeout = config_.connect_timeout;
  spec.basic_auth = config_.basic_auth;
  return spec;
}

void HttpMesosClient::OnCallDone(uint64_t id, absl::StatusOr<HttpResult> result) {
  auto it = pending_calls_.find(id);
  if (it == pending_calls_.end()) return;  // failed when its connection went
  PendingCall pending = std::move(it->second);
  pending_calls_.erase(it);
  absl::Status status = result.ok() ? CallStatus(*result) : result.status();
  if (metrics_ != nullptr) {
    metrics_->Call(pending.type, result.ok() ? absl::StrCat(result->head.status)
                                             : std::string("transport_error"));
  }
  if (!status.ok()) {
    LogWarning("mesos_call_failed", {{"type", pending.type}, {"error", status.ToString()}});
  }
  std::move(pending.done)(status);
  if (result.ok() && result->head.status == 307 && state_ == State::kSubscribed) {
    // This master no longer leads: find the one that does.
    master_.clear();
    Drop("a call was redirected: the master no longer leads", "redirect", true,
         absl::ZeroDuration());
  }
}

void HttpMesosClient::FailQueuedCalls(const absl::Status& status) {
  call_queue_->Clear();
  std::map<uint64_t, PendingCall> failed;
  failed.swap(pending_calls_);
  // A call in flight belongs to the old connection: its reply is ignored.
  for (auto& [id, pending] : failed) std::move(pending.done)(status);
}

void HttpMesosClient::Close() {
  if (state_ == State::kStopped || state_ == State::kIdle) {
    state_ = State::kIdle;
    return;
  }
  Drop("closed", "closed", /*reconnect=*/false, absl::ZeroDuration());
  state_ = State::kIdle;
  loop_.Cancel(reconnect_timer_);
  master_.clear();
  LogInfo("mesos_subscription_closed");
}

void HttpMesosClient::SetPaused(bool paused) {
  paused_ = paused;
  if (paused) FailQueuedCalls(absl::UnavailableError("leadership paused: calls are held back"));
}

std::string HttpMesosClient::Encode(const mesos_v1::scheduler::Call& call) const {
  return EncodeCall(call, config_.json);
}

}  // namespace mast::mesos
