#pragma once

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "scheduler/mesos/mesos_client.h"

namespace mast {

// Sends calls on the leader's Mesos subscription, in order. `done` (may be
// empty) runs on the control loop with the master's answer: OK for 202,
// UNAVAILABLE when the subscription is down (the call was not sent, or its
// fate is unknown).
class MesosCaller {
 public:
  virtual ~MesosCaller() = default;
  virtual void Call(::mesos::v1::scheduler::Call call,
                    absl::AnyInvocable<void(absl::Status) &&> done = nullptr) = 0;
};

// What the leader's scheduling does with the Mesos subscription that
// FrameworkController holds. Every method runs on the control loop.
//
// OnSubscribed comes once the subscription is up and its FrameworkID is
// durably stored, after every (re)subscription; OnUnsubscribed when it is
// lost (disconnect, pause, step-down). Offers, updates and rescinds are
// delivered only in between. Updates are not acknowledged by the
// controller: the listener acknowledges each (through `caller`) once what
// it learnt is durable.
class FrameworkListener {
 public:
  virtual ~FrameworkListener() = default;
  virtual void OnSubscribed(MesosCaller& caller) = 0;
  virtual void OnUnsubscribed() = 0;
  virtual void OnOffers(const ::mesos::v1::scheduler::Event::Offers& offers) = 0;
  virtual void OnRescind(const ::mesos::v1::OfferID& offer_id) = 0;
  virtual void OnUpdate(const ::mesos::v1::TaskStatus& status) = 0;
};

}  // namespace mast
