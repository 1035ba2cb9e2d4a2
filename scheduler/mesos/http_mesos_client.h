#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "common/backoff.h"
#include "common/event_loop.h"
#include "common/weak_callback.h"
#include "scheduler/mesos/http_transport.h"
#include "scheduler/mesos/master_detector.h"
#include "scheduler/mesos/mesos_client.h"
#include "scheduler/mesos/mesos_metrics.h"
#include "scheduler/mesos/recordio.h"

namespace mast::mesos {

struct MesosClientConfig {
  // Protobuf (default) or JSON for calls and the event stream.
  bool json = false;
  // Silence for this many heartbeat intervals means the master is gone.
  int heartbeat_misses = 5;
  // Heartbeat interval assumed until SUBSCRIBED says otherwise.
  absl::Duration default_heartbeat_interval = absl::Seconds(15);
  // Delay between subscription attempts (jittered, capped).
  BackoffConfig backoff = {absl::Milliseconds(100), absl::Seconds(15), 2.0, 0.5};
  absl::Duration call_timeout = absl::Seconds(30);
  absl::Duration connect_timeout = absl::Seconds(5);
  // "principal:secret" for HTTP Basic authentication, or empty.
  std::string basic_auth;
  // Redirects followed in a row before backing off.
  int max_redirects = 5;
  // Calls in flight at once (each on its own keep-alive connection), >= 1.
  // Only consecutive calls of one overlapping type (see HttpMesosClient) are
  // ever in flight together. Default 16; 1 sends every call alone.
  int max_calls_in_flight = 16;
};

absl::Status ValidateMesosClientConfig(const MesosClientConfig& config);

// The Mesos v1 scheduler HTTP API over libcurl (mesos-v1-api.md §1, §5.1):
// SUBSCRIBE on its own long-lived connection, read incrementally as RecordIO;
// every other call on keep-alive connections with `Mesos-Stream-Id`.
//
// Call order: calls go out in the order Send() took them. A call waits until
// every call before it has been answered, except that consecutive calls of
// one overlapping type, ACKNOWLEDGE, ACCEPT, DECLINE or RECONCILE (each
// concerns its own update, offers or tasks, so their relative order does not
// matter), go out together, up to `max_calls_in_flight`, and may reach the
// master in any order among themselves. Calls of different types, and every
// other call (KILL, REVIVE, SUPPRESS, ...), keep their order. The transport's
// I/O thread sends the next calls as soon as answers come, so a busy loop
// does not slow the call rate; the loop only hears the outcomes.
//
// 307 redirects are followed (the
// Location may be protocol-relative); 503 and connection errors retry with
// jittered backoff; silence for `heartbeat_misses` intervals, EOF, a
// transport error or undecodable data drop the subscription and
// resubscribe with the FrameworkID that SUBSCRIBED gave. An ERROR event ends
// the client (no reconnect).
//
// Threads: all methods and callbacks on `loop`; the transport's I/O thread
// only posts to it (and sends queued calls), and every posted completion
// checks the connection generation or call id so that news of an old
// connection is dropped. `detector`,
// `transport` and `loop` must outlive the client.
class HttpMesosClient final : public MesosClient {
 public:
  HttpMesosClient(MesosClientConfig config, MasterDetector& detector, HttpTransport& transport,
                  EventLoop& loop, MesosClientCallbacks callbacks, MesosMetrics* metrics);
  ~HttpMesosClient() override;

  void Subscribe(::mesos::v1::FrameworkInfo framework,
                 std::vector<std::string> suppressed_roles) override;
  void Send(::mesos::v1::scheduler::Call call,
            absl::AnyInvocable<void(absl::Status) &&> done) override;
  void Close() override;
  void SetPaused(bool paused) override;
  bool subscribed() const override { return state_ == State::kSubscribed; }

  // The stream id and master of the current subscription (for tests/logs).
  const std::string& stream_id() const { return stream_id_; }
  const std::string& master() const { return master_; }

 private:
  enum class State {
    kIdle,              // not subscribing (before Subscribe, after Close)
    kWaitingForMaster,  // subscribing, but no master is known yet
    kConnecting,        // SUBSCRIBE sent, waiting for the SUBSCRIBED event
    kSubscribed,        // the event stream is open and subscribed
    kBackoff,           // the stream failed; reconnecting after a delay
    kStopped,           // the master sent ERROR; no reconnect until Close
  };
  struct PendingCall {
    std::string type;  // Call.Type name
    absl::AnyInvocable<void(absl::Status) &&> done;
  };
  // Calls on their way to the master (thread-safe; shared with the
  // transport's callbacks). Defined in the .cc.
  class CallQueue;

  void OnMasterDetected(const std::optional<std::string>& master);
  void Connect();
  void OnStreamHeaders(uint64_t generation, const HttpHeaders& head);
  void OnStreamData(uint64_t generation, const std::string& bytes);
  void OnStreamEnd(uint64_t generation, const absl::Status& status);
  void HandleEvent(::mesos::v1::scheduler::Event event);
  // Ends the current connection; with `reconnect`, schedules the next one.
  void Drop(const std::string& reason, const std::string& metric_reason, bool reconnect,
            absl::Duration delay);
  void ScheduleReconnect(absl::Duration delay);
  void ArmHeartbeatWatchdog();
  void OnCallDone(uint64_t id, absl::StatusOr<HttpResult> result);
  void FailQueuedCalls(const absl::Status& status);
  std::string Encode(const ::mesos::v1::scheduler::Call& call) const;
  HttpRequestSpec CallSpec(std::string body) const;

  const MesosClientConfig config_;
  MasterDetector& detector_;
  HttpTransport& transport_;
  EventLoop& loop_;
  MesosClientCallbacks callbacks_;
  MesosMetrics* metrics_;
  WeakCallbacks weak_callbacks_;

  // Loop thread only.
  State state_ = State::kIdle;
  bool detecting_ = false;
  bool paused_ = false;
  ::mesos::v1::FrameworkInfo framework_;
  std::vector<std::string> suppressed_roles_;
  std::optional<std::string> detected_master_;
  std::string master_;  // current target: detected, or where a 307 pointed
  int redirects_ = 0;
  uint64_t generation_ = 0;
  HttpTransport::RequestId stream_request_ = 0;
  std::string stream_id_;
  std::optional<RecordIoDecoder> decoder_;
  absl::Duration heartbeat_interval_;
  absl::Time last_bytes_at_;
  EventLoop::TimerId heartbeat_timer_ = 0;
  EventLoop::TimerId reconnect_timer_ = 0;
  Backoff backoff_;
  absl::BitGen bitgen_;
  std::shared_ptr<CallQueue> call_queue_;
  uint64_t next_call_id_ = 0;
  // Calls queued or in flight, by id; an answer whose id is not here (the
  // call was failed when its connection went) is dropped.
  std::map<uint64_t, PendingCall> pending_calls_;
};

}  // namespace mast::mesos
