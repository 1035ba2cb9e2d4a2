#include "scheduler/control/deployment_driver.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "scheduler/control/deployment_plan.h"
#include "store/deployment_progress.h"

namespace mast {

namespace {

// Identifies a transition: the same one decided twice has the same key.
std::string TransitionKey(const DeploymentTransition& transition) {
  return absl::StrCat(transition.deployment_id, "/", v1::Deployment::State_Name(transition.state),
                      "/", transition.step);
}

}  // namespace

DeploymentDriver::DeploymentDriver(DeploymentRecorder& recorder, SchedulerMetrics* metrics,
                                   ReplanAt replan_at, absl::Duration retry)
    : recorder_(recorder), metrics_(metrics), replan_at_(std::move(replan_at)), retry_(retry) {}

void DeploymentDriver::OnRecordChanged(const std::string& name) { recorded_.erase(name); }

void DeploymentDriver::WakeAt(const std::string& name, absl::Time when, absl::Time now) {
  std::set<absl::Time>& asked = wakeups_[name];
  asked.erase(asked.begin(), asked.upper_bound(now));  // due: their plans ran
  if (asked.insert(when).second) replan_at_(name, when);
}

void DeploymentDriver::Advance(const std::string& name, const BookedService& service,
                               const std::vector<const v1::Task*>& tasks, absl::Time now) {
  const v1::Service& current = service.service();
  if (service.deleting() || !IsRollingOut(current)) {
    wakeups_.erase(name);
    return;
  }
  if (std::optional<absl::Time> deadline = DeploymentDeadline(current, tasks)) {
    WakeAt(name, *deadline, now);
  }
  // A new task that has run for min_ready counts from then on.
  if (std::optional<absl::Time> settled = NextSettled(current, tasks, now)) {
    WakeAt(name, *settled, now);
  }
  std::optional<DeploymentTransition> next = DecideDeployment(current, tasks, service.history, now);
  if (!next.has_value()) return;
  std::string key = TransitionKey(*next);
  if (auto it = recorded_.find(name); it != recorded_.end()) return;  // one at a time
  recorded_[name] = key;
  LogInfo("deployment_transition",
          {{"service", name},
           {"deployment", next->deployment_id},
           {"from", v1::Deployment::State_Name(current.deployment().state())},
           {"to", v1::Deployment::State_Name(next->state)},
           {"step", next->step},
           {"reason", next->failure_reason}});
  const v1::Deployment::State state = next->state;
  recorder_.Record(
      name, *std::move(next),
      callbacks_.Bind([this, name, key = std::move(key), state, now](absl::Status status) {
        if (metrics_ != nullptr) metrics_->DeploymentTransition(state, status.ok());
        if (status.ok()) return;  // kept until the snapshot holding it arrives
        auto it = recorded_.find(name);
        if (it != recorded_.end() && it->second == key) recorded_.erase(it);
        LogWarning("deployment_transition_failed",
                   {{"service", name}, {"transition", key}, {"error", status.ToString()}});
        // ABORTED: the record changed, and its snapshot replans. FAILED_PRECONDITION:
        // deposed, the term ends.
        if (absl::IsAborted(status) || absl::IsFailedPrecondition(status)) return;
        replan_at_(name, now + retry_);
      }));
}

}  // namespace mast
