#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "mast/v1/service.pb.h"
#include "mesos/v1/scheduler/scheduler.pb.h"
#include "scheduler/control/framework_listener.h"
#include "scheduler/control/scheduler_metrics.h"

namespace mast {

// Builders of scheduler calls (pure). A KILL names the agent when known; an
// ACKNOWLEDGE carries the update's agent, task and uuid.
::mesos::v1::scheduler::Call KillCall(const ::mesos::v1::TaskID& task_id,
                                      const ::mesos::v1::AgentID* agent_id);
::mesos::v1::scheduler::Call AcknowledgeCall(const ::mesos::v1::TaskStatus& status);
::mesos::v1::scheduler::Call DeclineCall(const std::vector<::mesos::v1::OfferID>& offers,
                                         absl::Duration refuse);
// SUPPRESS of every role the framework subscribed with (no roles given).
::mesos::v1::scheduler::Call SuppressCall();

// The calls the leader's scheduling makes on one Mesos subscription, built
// and counted in one place. It remembers when each KILL was last sent, so
// that kills with no terminal update are sent again (KillsDue).
//
// Lifetime: one subscription (a new one starts with no kill sent). Threads:
// the control loop only. `caller`, `clock` and `metrics` outlive it.
class MesosCalls {
 public:
  MesosCalls(MesosCaller& caller, Clock& clock, SchedulerMetrics* metrics);

  // Sends `call`; a rejection other than UNAVAILABLE is logged. `done` may
  // be empty.
  void Send(::mesos::v1::scheduler::Call call,
            absl::AnyInvocable<void(absl::Status) &&> done = nullptr);

  // KILL of a task the book knows (with its agent when known).
  void Kill(const v1::Task& task);
  // KILL of a task Mesos reported and the book does not know.
  void KillUnknown(const ::mesos::v1::TaskStatus& status);
  // ACKNOWLEDGE of an update that asks for one (it has a uuid and an agent).
  void Acknowledge(const ::mesos::v1::TaskStatus& status);
  // DECLINE of `offers` (nothing for none) with `refuse` as the filter.
  void Decline(const std::vector<::mesos::v1::OfferID>& offers, absl::Duration refuse);
  // Every role (SuppressCall).
  void Suppress();
  // Every role: clears the filters of earlier declines.
  void Revive();

  // A KILL of `task_id` was sent on this subscription less than `period` ago.
  bool KillSentWithin(const std::string& task_id, absl::Duration period) const;
  // Task IDs whose last KILL is at least `period` old.
  std::vector<std::string> KillsDue(absl::Duration period) const;
  // The task ended or left the book: no more kills are due for it.
  void ForgetKill(const std::string& task_id) { kill_sent_.erase(task_id); }

 private:
  MesosCaller& caller_;
  Clock& clock_;
  SchedulerMetrics* metrics_;
  absl::flat_hash_map<std::string, absl::Time> kill_sent_;  // task id -> last KILL
};

}  // namespace mast
