#include "scheduler/control/reconciler.h"

#include "common/log.h"

namespace mast {

using Call = ::mesos::v1::scheduler::Call;

UnknownTaskAction DecideUnknownTask(bool terminal, bool service_adopts_unknown,
                                    bool service_record_unreadable) {
  if (terminal) return UnknownTaskAction::kIgnore;
  if (service_adopts_unknown) return UnknownTaskAction::kAdopt;
  if (service_record_unreadable) return UnknownTaskAction::kKeep;
  return UnknownTaskAction::kKill;
}

Reconciler::Reconciler(Config config, MesosCalls& calls, EventLoop& loop, Clock& clock,
                       SchedulerMetrics* metrics, std::function<void(absl::Time)> on_reconciled)
    : config_(std::move(config)),
      calls_(calls),
      loop_(loop),
      clock_(clock),
      metrics_(metrics),
      on_reconciled_(std::move(on_reconciled)),
      backoff_(config_.retry) {}

Reconciler::~Reconciler() {
  loop_.Cancel(timer_);
  unanswered_.clear();  // a new subscription starts its own
  CountUnanswered();
}

void Reconciler::CountUnanswered() {
  if (metrics_ != nullptr)
    metrics_->reconcile_unanswered.Set(static_cast<double>(unanswered_.size()));
}

void Reconciler::Start(TaskAgents tasks) {
  reconciled_ = false;
  started_ = clock_.Now();
  backoff_.Reset();
  unanswered_ = std::move(tasks);
  CountUnanswered();
  LogInfo("reconciliation_started", {{"tasks", unanswered_.size()}});
  if (unanswered_.empty()) return Complete();  // Answered would never see the last answer
  SendExplicit();
}

void Reconciler::Answered(const std::string& task_id) {
  if (unanswered_.erase(task_id) == 0) return;
  CountUnanswered();
  if (!unanswered_.empty()) return;
  if (reconciled_) return;  // a resend for a failed ACCEPT was answered
  Complete();
}

void Reconciler::Ask(const TaskAgents& tasks) {
  for (const auto& [id, agent] : tasks) unanswered_[id] = agent;
  CountUnanswered();
  if (timer_ == 0) SendExplicit();
}

void Reconciler::SendExplicit() {
  loop_.Cancel(timer_);
  timer_ = 0;
  if (unanswered_.empty()) return;
  Call call;
  auto flush = [&] {
    if (call.reconcile().tasks_size() == 0) return;
    calls_.Send(std::move(call));
    call = Call();
  };
  for (const auto& [id, agent] : unanswered_) {
    if (call.reconcile().tasks_size() == 0) call.set_type(Call::RECONCILE);
    auto* task = call.mutable_reconcile()->add_tasks();
    task->mutable_task_id()->set_value(id);
    if (!agent.empty()) task->mutable_agent_id()->set_value(agent);
    if (static_cast<size_t>(call.reconcile().tasks_size()) >= config_.batch) flush();
  }
  flush();
  timer_ = loop_.RunAfter(backoff_.Next(bitgen_), callbacks_.Bind([this] {
    timer_ = 0;
    if (unanswered_.empty()) return;
    LogInfo("reconciliation_resend", {{"unanswered", unanswered_.size()}});
    SendExplicit();
  }));
}

void Reconciler::Complete() {
  reconciled_ = true;
  const absl::Time now = clock_.Now();
  const absl::Duration took = now - started_;
  if (metrics_ != nullptr) {
    metrics_->reconciliations.Increment();
    metrics_->reconcile_seconds.Set(absl::ToDoubleSeconds(took));
  }
  LogInfo("reconciliation_complete", {{"duration", absl::FormatDuration(took)}});
  if (on_reconciled_) on_reconciled_(now);
  SendImplicit();
}

void Reconciler::SendImplicit() {
  loop_.Cancel(timer_);
  timer_ = 0;
  Call call;
  call.set_type(Call::RECONCILE);
  call.mutable_reconcile();
  calls_.Send(std::move(call));
  timer_ = loop_.RunAfter(config_.interval, callbacks_.Bind([this] {
    timer_ = 0;
    SendImplicit();
  }));
}

}  // namespace mast
