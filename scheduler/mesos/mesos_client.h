#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "mesos/v1/scheduler/scheduler.pb.h"

namespace mast::mesos {

// What the scheduler client tells its owner. All run on the owner's loop.
struct MesosClientCallbacks {
  // A subscription was established (first or after a reconnect): the
  // framework ID to persist, the heartbeat interval, the master.
  absl::AnyInvocable<void(const ::mesos::v1::scheduler::Event::Subscribed&)> on_subscribed;
  // Every event other than SUBSCRIBED, HEARTBEAT and ERROR, in stream order.
  absl::AnyInvocable<void(const ::mesos::v1::scheduler::Event&)> on_event;
  // The subscription was lost (EOF, reset, garbage, heartbeat timeout,
  // leader change); the client reconnects with backoff by itself. Offers
  // held are void.
  absl::AnyInvocable<void(absl::string_view reason)> on_disconnected;
  // The master sent ERROR (e.g. "Framework failed over": another instance
  // subscribed with our FrameworkID). The client stops and does not
  // reconnect; its owner decides (a leader steps down).
  absl::AnyInvocable<void(absl::string_view message)> on_error;
};

// The Mesos v1 scheduler API as the control loop sees it: one subscription
// kept alive, and calls sent in the order made (except that consecutive
// calls concerning distinct updates or offers may overlap: see
// HttpMesosClient).
//
// Threads: all methods are called on the owner's loop and the callbacks run
// there. Calls made while not subscribed fail at once with UNAVAILABLE.
class MesosClient {
 public:
  virtual ~MesosClient() = default;

  // Starts (or restarts) subscribing with `framework` (its `id` set when
  // re-registering) and keeps the subscription up until Close().
  virtual void Subscribe(::mesos::v1::FrameworkInfo framework,
                         std::vector<std::string> suppressed_roles) = 0;
  // Sends `call` (framework_id and type must be set); `done` gets OK for
  // 202/200, UNAVAILABLE for a transport failure, 307 or 503,
  // FAILED_PRECONDITION for 403 (not subscribed), INVALID_ARGUMENT for 400.
  virtual void Send(::mesos::v1::scheduler::Call call,
                    absl::AnyInvocable<void(absl::Status) &&> done) = 0;
  // Drops the subscription (no TEARDOWN: the framework stays registered for
  // its failover_timeout) and fails queued calls. Idempotent.
  virtual void Close() = 0;
  // While paused, queued and new calls fail with UNAVAILABLE; the
  // subscription itself is kept (a ZooKeeper blip must not cost it).
  virtual void SetPaused(bool paused) = 0;
  virtual bool subscribed() const = 0;
};

using MesosClientPtr = std::unique_ptr<MesosClient>;

}  // namespace mast::mesos
