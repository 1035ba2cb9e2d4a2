#include "scheduler/control/mesos_calls.h"

#include "common/log.h"

namespace mast {

namespace mesos_v1 = ::mesos::v1;
using Call = mesos_v1::scheduler::Call;

Call KillCall(const mesos_v1::TaskID& task_id, const mesos_v1::AgentID* agent_id) {
  Call call;
  call.set_type(Call::KILL);
  *call.mutable_kill()->mutable_task_id() = task_id;
  if (agent_id != nullptr && !agent_id->value().empty()) {
    *call.mutable_kill()->mutable_agent_id() = *agent_id;
  }
  return call;
}

Call AcknowledgeCall(const mesos_v1::TaskStatus& status) {
  Call call;
  call.set_type(Call::ACKNOWLEDGE);
  *call.mutable_acknowledge()->mutable_agent_id() = status.agent_id();
  *call.mutable_acknowledge()->mutable_task_id() = status.task_id();
  call.mutable_acknowledge()->set_uuid(status.uuid());
  return call;
}

Call DeclineCall(const std::vector<mesos_v1::OfferID>& offers, absl::Duration refuse) {
  Call call;
  call.set_type(Call::DECLINE);
  for (const mesos_v1::OfferID& id : offers) *call.mutable_decline()->add_offer_ids() = id;
  call.mutable_decline()->mutable_filters()->set_refuse_seconds(absl::ToDoubleSeconds(refuse));
  return call;
}

Call SuppressCall() {
  Call call;
  call.set_type(Call::SUPPRESS);
  call.mutable_suppress();  // no roles: every role of the framework
  return call;
}

MesosCalls::MesosCalls(MesosCaller& caller, Clock& clock, SchedulerMetrics* metrics)
    : caller_(caller), clock_(clock), metrics_(metrics) {}

void MesosCalls::Send(Call call, absl::AnyInvocable<void(absl::Status) &&> done) {
  std::string type = Call::Type_Name(call.type());
  caller_.Call(std::move(call), [type, done = std::move(done)](absl::Status status) mutable {
    if (!status.ok() && !absl::IsUnavailable(status)) {
      LogWarning("mesos_call_rejected", {{"type", type}, {"error", status.ToString()}});
    }
    if (done) std::move(done)(std::move(status));
  });
}

void MesosCalls::Kill(const v1::Task& task) {
  mesos_v1::TaskID task_id;
  task_id.set_value(task.id());
  mesos_v1::AgentID agent_id;
  agent_id.set_value(task.agent_id());
  kill_sent_[task.id()] = clock_.Now();
  if (metrics_ != nullptr) metrics_->kills_sent.Increment();
  Send(KillCall(task_id, &agent_id));
}

void MesosCalls::KillUnknown(const mesos_v1::TaskStatus& status) {
  LogWarning("killing_unknown_task", {{"task_id", status.task_id().value()},
                                      {"state", mesos_v1::TaskState_Name(status.state())}});
  if (metrics_ != nullptr) metrics_->unknown_tasks_killed.Increment();
  Send(KillCall(status.task_id(), status.has_agent_id() ? &status.agent_id() : nullptr));
}

void MesosCalls::Acknowledge(const mesos_v1::TaskStatus& status) {
  if (!status.has_uuid() || !status.has_agent_id()) return;
  Send(AcknowledgeCall(status));
}

void MesosCalls::Decline(const std::vector<mesos_v1::OfferID>& offers, absl::Duration refuse) {
  if (offers.empty()) return;
  if (metrics_ != nullptr) metrics_->offers_declined.Increment(static_cast<double>(offers.size()));
  Send(DeclineCall(offers, refuse));
}

void MesosCalls::Suppress() {
  if (metrics_ != nullptr) metrics_->suppresses.Increment();
  Send(SuppressCall());
}

void MesosCalls::Revive() {
  Call call;
  call.set_type(Call::REVIVE);
  if (metrics_ != nullptr) metrics_->revives.Increment();
  Send(std::move(call));
}

bool MesosCalls::KillSentWithin(const std::string& task_id, absl::Duration period) const {
  auto sent = kill_sent_.find(task_id);
  return sent != kill_sent_.end() && clock_.Now() - sent->second < period;
}

std::vector<std::string> MesosCalls::KillsDue(absl::Duration period) const {
  const absl::Time now = clock_.Now();
  std::vector<std::string> due;
  for (const auto& [id, sent] : kill_sent_) {
    if (now - sent >= period) due.push_back(id);
  }
  return due;
}

}  // namespace mast
