#include "scheduler/control/deployment_driver.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "common/proto_util.h"
#include "gtest/gtest.h"
#include "mast/v1/records.pb.h"
#include "store/deployment_progress.h"

namespace mast {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

// Keeps every Record call; the test answers them.
class HeldRecorder : public DeploymentRecorder {
 public:
  struct Call {
    std::string service;
    DeploymentTransition transition;
    absl::AnyInvocable<void(absl::Status) &&> done;
  };
  void Record(const std::string& service, DeploymentTransition transition,
              absl::AnyInvocable<void(absl::Status) &&> done) override {
    calls.push_back({service, std::move(transition), std::move(done)});
  }
  std::vector<Call> calls;
};

// A service of `n` instances at task_version 2, its deployment RUNNING on
// its only step, and `n` ready tasks of version 2: the deployment is done.
struct DoneRollout {
  // min_ready 0 unless given (the default without checks is 10 s).
  explicit DoneRollout(int n, std::optional<absl::Duration> min_ready = absl::ZeroDuration()) {
    auto stored = std::make_shared<StoredService>();
    v1::Service* s = stored->record.mutable_service();
    s->mutable_spec()->set_name("web");
    s->mutable_spec()->set_instances(static_cast<uint32_t>(n));
    if (min_ready.has_value()) {
      *s->mutable_spec()->mutable_upgrade_strategy()->mutable_min_ready() =
          ToProtoDuration(*min_ready);
    }
    s->set_version(2);
    s->set_task_version(2);
    v1::Deployment* d = s->mutable_deployment();
    d->set_id("d2");
    d->set_service("web");
    d->set_state(v1::Deployment::RUNNING);
    d->set_from_version(1);
    d->set_from_task_version(1);
    d->set_to_version(2);
    d->set_to_task_version(2);
    d->set_step_count(1);
    *d->mutable_to_spec() = s->spec();
    ToProtoTimestamp(kNow - absl::Seconds(10), d->mutable_step_started());
    service.stored = std::move(stored);
    for (int i = 0; i < n; ++i) {
      v1::Task task;
      task.set_id("web.t" + std::to_string(i));
      task.set_service("web");
      task.set_version(2);
      task.set_state(v1::Task::RUNNING);
      ToProtoTimestamp(kNow - absl::Seconds(5), task.mutable_created());
      ToProtoTimestamp(kNow - absl::Seconds(5), task.mutable_started());
      service.tasks.emplace(task.id(), task);
    }
  }
  std::vector<const v1::Task*> tasks() const {
    std::vector<const v1::Task*> out;
    for (const auto& [id, task] : service.tasks) out.push_back(&task);
    return out;
  }
  BookedService service;
};

struct Replans {
  std::vector<std::pair<std::string, absl::Time>> at;
  DeploymentDriver::ReplanAt fn() {
    return [this](const std::string& name, absl::Time when) { at.emplace_back(name, when); };
  }
};

TEST(DeploymentDriverTest, RecordsADueTransitionOnceUntilItsRecordIsSeen) {
  HeldRecorder recorder;
  Replans replans;
  DeploymentDriver driver(recorder, nullptr, replans.fn());
  DoneRollout rollout(3);
  driver.Advance("web", rollout.service, rollout.tasks(), kNow);
  ASSERT_EQ(recorder.calls.size(), 1u);
  EXPECT_EQ(recorder.calls[0].service, "web");
  EXPECT_EQ(recorder.calls[0].transition.deployment_id, "d2");
  EXPECT_EQ(recorder.calls[0].transition.state, v1::Deployment::SUCCEEDED);
  // Plans before the write completes, and after it, until the record comes.
  driver.Advance("web", rollout.service, rollout.tasks(), kNow);
  std::move(recorder.calls[0].done)(absl::OkStatus());
  driver.Advance("web", rollout.service, rollout.tasks(), kNow);
  EXPECT_EQ(recorder.calls.size(), 1u);
  EXPECT_EQ(driver.in_flight(), 1u);
  // The record arrives (here: unchanged, as if another write replaced it):
  // the driver decides again.
  driver.OnRecordChanged("web");
  EXPECT_EQ(driver.in_flight(), 0u);
  driver.Advance("web", rollout.service, rollout.tasks(), kNow);
  EXPECT_EQ(recorder.calls.size(), 2u);
}

TEST(DeploymentDriverTest, RetriesAnUnavailableWriteLaterAndDropsAnAbortedOne) {
  HeldRecorder recorder;
  Replans replans;
  DeploymentDriver driver(recorder, nullptr, replans.fn(), absl::Seconds(2));
  DoneRollout rollout(2);
  driver.Advance("web", rollout.service, rollout.tasks(), kNow);
  ASSERT_EQ(recorder.calls.size(), 1u);
  replans.at.clear();
  std::move(recorder.calls[0].done)(absl::UnavailableError("zk down"));
  ASSERT_EQ(replans.at.size(), 1u);
  EXPECT_EQ(replans.at[0], std::make_pair(std::string("web"), kNow + absl::Seconds(2)));
  EXPECT_EQ(driver.in_flight(), 0u);

  driver.Advance("web", rollout.service, rollout.tasks(), kNow);
  ASSERT_EQ(recorder.calls.size(), 2u);
  replans.at.clear();
  std::move(recorder.calls[1].done)(absl::AbortedError("deployment changed"));
  EXPECT_TRUE(replans.at.empty()) << "the snapshot of the change replans";
  EXPECT_EQ(driver.in_flight(), 0u);
}

// Without checks, new tasks count only once they have run for 10 s: the
// driver waits, and asks for a plan then.
TEST(DeploymentDriverTest, WaitsForNewTasksToRunForMinReady) {
  HeldRecorder recorder;
  Replans replans;
  DeploymentDriver driver(recorder, nullptr, replans.fn());
  DoneRollout rollout(2, std::nullopt);  // started 5 s before kNow
  driver.Advance("web", rollout.service, rollout.tasks(), kNow);
  EXPECT_TRUE(recorder.calls.empty());
  const absl::Time settled = kNow - absl::Seconds(5) + kDefaultMinReadyUnchecked;
  EXPECT_NE(
      std::find(replans.at.begin(), replans.at.end(), std::make_pair(std::string("web"), settled)),
      replans.at.end());
  driver.Advance("web", rollout.service, rollout.tasks(), settled);
  ASSERT_EQ(recorder.calls.size(), 1u);
  EXPECT_EQ(recorder.calls[0].transition.state, v1::Deployment::SUCCEEDED);
}

// Plans run for every burst of updates: the same wake-up is asked for once.
TEST(DeploymentDriverTest, AsksForEachWakeUpOnce) {
  HeldRecorder recorder;
  Replans replans;
  DeploymentDriver driver(recorder, nullptr, replans.fn());
  DoneRollout rollout(2, std::nullopt);  // settles 5 s after kNow
  for (int i = 0; i < 3; ++i) driver.Advance("web", rollout.service, rollout.tasks(), kNow);
  const absl::Time settled = kNow - absl::Seconds(5) + kDefaultMinReadyUnchecked;
  EXPECT_EQ(
      std::count(replans.at.begin(), replans.at.end(), std::make_pair(std::string("web"), settled)),
      1);
  EXPECT_EQ(replans.at.size(), 2u) << "the settling and the progress deadline";
}

TEST(DeploymentDriverTest, NothingForAPausedDeploymentOrADeletingService) {
  HeldRecorder recorder;
  Replans replans;
  DeploymentDriver driver(recorder, nullptr, replans.fn());
  DoneRollout paused(2);
  auto stored = std::make_shared<StoredService>(*paused.service.stored);
  stored->record.mutable_service()->mutable_deployment()->set_state(v1::Deployment::PAUSED);
  paused.service.stored = stored;
  driver.Advance("web", paused.service, paused.tasks(), kNow);
  DoneRollout deleting(2);
  auto gone = std::make_shared<StoredService>(*deleting.service.stored);
  gone->record.mutable_service()->set_deleting(true);
  deleting.service.stored = gone;
  driver.Advance("web", deleting.service, deleting.tasks(), kNow);
  EXPECT_TRUE(recorder.calls.empty());
}

TEST(DeploymentDriverTest, ACompletionAfterTheDriverIsGoneDoesNothing) {
  HeldRecorder recorder;
  Replans replans;
  DoneRollout rollout(1);
  {
    DeploymentDriver driver(recorder, nullptr, replans.fn());
    driver.Advance("web", rollout.service, rollout.tasks(), kNow);
  }
  ASSERT_EQ(recorder.calls.size(), 1u);
  replans.at.clear();
  std::move(recorder.calls[0].done)(absl::UnavailableError("late"));
  EXPECT_TRUE(replans.at.empty());
}

}  // namespace
}  // namespace mast
