#include "scheduler/control/deployment_plan.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/control/service_plan.h"
#include "scheduler/control/upgrade_strategy.h"
#include "store/deployment_progress.h"

namespace mast {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

// A deployment from task version 1 to 2 of `instances`, `state`, started
// (its step too) `age_s` seconds before kNow.
v1::Service Deploying(uint32_t instances, v1::Deployment::State state = v1::Deployment::RUNNING,
                      int age_s = 10) {
  v1::Service service;
  service.mutable_spec()->set_name("team/web");
  service.mutable_spec()->set_instances(instances);
  service.set_task_version(2);
  v1::Deployment* deployment = service.mutable_deployment();
  deployment->set_id("d1");
  deployment->set_state(state);
  deployment->set_from_task_version(1);
  deployment->set_to_task_version(2);
  *deployment->mutable_from_spec() = service.spec();
  *deployment->mutable_to_spec() = service.spec();
  ToProtoTimestamp(kNow - absl::Seconds(age_s), deployment->mutable_step_started());
  return service;
}

v1::Task Task(const std::string& id, uint64_t version, v1::Task::State state, int age_s = 5) {
  v1::Task task;
  task.set_id(id);
  task.set_version(version);
  task.set_state(state);
  ToProtoTimestamp(kNow - absl::Seconds(age_s), task.mutable_created());
  if (state == v1::Task::RUNNING)
    ToProtoTimestamp(kNow - absl::Seconds(age_s), task.mutable_started());
  return task;
}

// `ready` RUNNING and `pending` STAGING tasks of `version`.
void Add(std::vector<v1::Task>& tasks, uint64_t version, int ready, int pending = 0) {
  for (int i = 0; i < ready; ++i) {
    tasks.push_back(
        Task(absl::StrCat("v", version, "r", tasks.size()), version, v1::Task::RUNNING, 100));
  }
  for (int i = 0; i < pending; ++i) {
    tasks.push_back(
        Task(absl::StrCat("v", version, "p", tasks.size()), version, v1::Task::STAGING));
  }
}

std::vector<const v1::Task*> Ptrs(const std::vector<v1::Task>& tasks) {
  std::vector<const v1::Task*> out;
  for (const v1::Task& task : tasks) out.push_back(&task);
  return out;
}

std::optional<DeploymentTransition> Decide(const v1::Service& service,
                                           const std::vector<v1::Task>& tasks,
                                           const v1::records::TaskRecords& records = {},
                                           absl::Time now = kNow) {
  return DecideDeployment(service, Ptrs(tasks), records, now);
}

// --- Steps ------------------------------------------------------------------

struct StepsCase {
  const char* name;
  uint32_t instances;
  std::vector<double> steps;  // > 0: instances; < 0: -percent
  uint32_t count;
  std::vector<uint32_t> targets;  // of steps 0, 1, ... (and one past the last)
};

class StepsTest : public ::testing::TestWithParam<StepsCase> {};

TEST_P(StepsTest, CountsAndTargets) {
  const StepsCase& c = GetParam();
  v1::ServiceSpec spec;
  spec.set_instances(c.instances);
  for (double step : c.steps) {
    if (step > 0) {
      spec.mutable_upgrade_strategy()->add_steps()->set_instances(static_cast<uint32_t>(step));
    } else {
      spec.mutable_upgrade_strategy()->add_steps()->set_percent(-step);
    }
  }
  EXPECT_EQ(StepCount(spec), c.count);
  for (size_t i = 0; i < c.targets.size(); ++i) {
    EXPECT_EQ(StepTarget(spec, static_cast<uint32_t>(i), c.instances), c.targets[i]) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Steps, StepsTest,
    ::testing::Values(StepsCase{"None", 5, {}, 1, {5, 5}},
                      StepsCase{"Canary", 10, {1}, 2, {1, 10, 10}},
                      StepsCase{"Percents", 20, {-10, -50}, 3, {2, 10, 20}},
                      StepsCase{"PercentRoundsUp", 10, {-25, -7}, 3, {3, 1, 10}},
                      StepsCase{"SevenPercentOfAHundred", 100, {-7}, 2, {7, 100}},
                      StepsCase{"LastIsN", 4, {1, 4}, 2, {1, 4, 4}},
                      StepsCase{"LastIsHundredPercent", 4, {1, -100}, 2, {1, 4}},
                      StepsCase{"CappedAtN", 3, {1, 5}, 2, {1, 3, 3}},
                      StepsCase{"ZeroInstances", 0, {-50}, 1, {0, 0}}),
    [](const ::testing::TestParamInfo<StepsCase>& info) { return info.param.name; });

TEST(StepsTest, CurrentStepTargetFollowsTheDeployment) {
  v1::Service service = Deploying(10);
  service.mutable_spec()->mutable_upgrade_strategy()->add_steps()->set_percent(30);
  EXPECT_EQ(CurrentStepTarget(service), 3u);
  service.mutable_deployment()->set_state(v1::Deployment::PAUSED);
  EXPECT_EQ(CurrentStepTarget(service), 3u);
  service.mutable_deployment()->set_step(1);
  EXPECT_EQ(CurrentStepTarget(service), 10u);
  service.mutable_deployment()->set_step(0);
  service.mutable_deployment()->set_state(v1::Deployment::ROLLING_BACK);
  EXPECT_EQ(CurrentStepTarget(service), 10u) << "one step back";
  service.mutable_deployment()->set_state(v1::Deployment::FAILED);
  EXPECT_EQ(CurrentStepTarget(service), 10u);
  service.clear_deployment();
  EXPECT_EQ(CurrentStepTarget(service), 10u);
}

// --- Strategy and progress ----------------------------------------------------

TEST(StrategyTest, UnsetFieldsReadAsTheirDefaults) {
  const v1::UpgradeStrategy unset;
  EXPECT_EQ(MinimumHealthCapacity(unset), 1.0);
  EXPECT_EQ(MaximumOverCapacity(unset), 1.0);
  EXPECT_EQ(KillSelectionOf(unset), v1::UpgradeStrategy::YOUNGEST_FIRST);
  EXPECT_EQ(ProgressDeadline(unset), absl::Seconds(600));
  EXPECT_EQ(FailureThreshold(unset), 3u);
  v1::UpgradeStrategy zero;
  zero.set_minimum_health_capacity(0);
  zero.set_maximum_over_capacity(0);
  zero.mutable_progress_deadline();
  zero.set_failure_threshold(0);
  EXPECT_EQ(MinimumHealthCapacity(zero), 0.0);
  EXPECT_EQ(MaximumOverCapacity(zero), 0.0);
  EXPECT_EQ(ProgressDeadline(zero), absl::ZeroDuration());
  EXPECT_EQ(FailureThreshold(zero), 0u);
}

struct BoundsCase {
  uint32_t instances;
  double min_health, max_over;
  int min_ready, max_tasks;
};

TEST(StrategyTest, RolloutBounds) {
  for (const BoundsCase& c :
       std::vector<BoundsCase>{{10, 1, 1, 10, 20},
                               {10, 0.9, 0.1, 9, 11},
                               {10, 0.7, 0.3, 7, 13},    // 0.7 x 10 is 7.000000000000001 in doubles
                               {20, 0.5, 0.15, 10, 23},  // 1.15 x 20 is 22.999999999999996
                               {10, 1, 0, 9, 10},        // no room: one below the minimum health
                               {3, 1, 0.1, 2, 3},
                               {1, 1, 0.5, 0, 1},
                               {10, 0, 0, 0, 10},
                               {0, 1, 1, -1, 0}}) {
    v1::ServiceSpec spec;
    spec.set_instances(c.instances);
    spec.mutable_upgrade_strategy()->set_minimum_health_capacity(c.min_health);
    spec.mutable_upgrade_strategy()->set_maximum_over_capacity(c.max_over);
    const RolloutBounds bounds = RolloutBoundsOf(spec);
    EXPECT_EQ(bounds.min_ready, c.min_ready) << c.instances << " " << c.min_health;
    EXPECT_EQ(bounds.max_tasks, c.max_tasks) << c.instances << " " << c.max_over;
  }
}

TEST(ProgressTest, CountsTheVersionsLiveAndReady) {
  v1::Service service = Deploying(4);
  service.mutable_spec()->mutable_upgrade_strategy()->add_steps()->set_instances(2);
  std::vector<v1::Task> tasks;
  Add(tasks, 2, 1, 1);
  Add(tasks, 1, 3);
  tasks.push_back(Task("killed", 1, v1::Task::RUNNING));
  tasks.back().set_kill_requested(true);
  tasks.push_back(Task("sick", 2, v1::Task::RUNNING));
  tasks.back().set_kill_requested(true);
  tasks.back().set_failed_health_check(true);
  tasks.push_back(Task("ended", 2, v1::Task::FAILED));
  v1::records::TaskRecords records;
  (*records.mutable_failed_by_task_version())[2] = 1;
  (*records.mutable_failed_by_task_version())[1] = 7;
  const v1::DeploymentProgress progress = DeploymentProgressOf(service, Ptrs(tasks), records);
  EXPECT_EQ(progress.target_instances(), 4u);
  EXPECT_EQ(progress.step_target(), 2u);
  EXPECT_EQ(progress.new_tasks(), 2u);
  EXPECT_EQ(progress.new_ready(), 1u);
  EXPECT_EQ(progress.old_tasks(), 3u);
  EXPECT_EQ(progress.old_ready(), 3u);
  EXPECT_EQ(progress.failed_new_tasks(), 2u) << "the record's one and the sick one not ended";
}

// --- DecideDeployment: steps -------------------------------------------------

struct DecideCase {
  const char* name;
  uint32_t instances;
  std::vector<uint32_t> steps;  // instances
  bool pause_after_step = false;
  v1::Deployment::State state = v1::Deployment::RUNNING;
  uint32_t step = 0;
  int new_ready = 0, new_pending = 0, old_live = 0;
  std::optional<v1::Deployment::State> expect;  // nullopt: no transition
  uint32_t expect_step = 0;
};

class DecideStepTest : public ::testing::TestWithParam<DecideCase> {};

TEST_P(DecideStepTest, MovesOnWhenTheStepIsDone) {
  const DecideCase& c = GetParam();
  v1::Service service = Deploying(c.instances, c.state);
  for (uint32_t step : c.steps) {
    service.mutable_spec()->mutable_upgrade_strategy()->add_steps()->set_instances(step);
  }
  service.mutable_spec()->mutable_upgrade_strategy()->set_pause_after_step(c.pause_after_step);
  service.mutable_deployment()->set_step(c.step);
  std::vector<v1::Task> tasks;
  Add(tasks, 2, c.new_ready, c.new_pending);
  Add(tasks, 1, c.old_live);
  std::optional<DeploymentTransition> transition = Decide(service, tasks);
  if (!c.expect.has_value()) {
    EXPECT_FALSE(transition.has_value()) << v1::Deployment::State_Name(transition->state);
    return;
  }
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->deployment_id, "d1");
  EXPECT_EQ(v1::Deployment::State_Name(transition->state), v1::Deployment::State_Name(*c.expect));
  EXPECT_EQ(transition->step, c.expect_step);
}

INSTANTIATE_TEST_SUITE_P(
    Steps, DecideStepTest,
    ::testing::Values(
        DecideCase{
            .name = "NotYet", .instances = 3, .new_ready = 2, .new_pending = 1, .old_live = 1},
        DecideCase{.name = "OldLeft", .instances = 3, .new_ready = 3, .old_live = 1},
        DecideCase{
            .name = "Done", .instances = 3, .new_ready = 3, .expect = v1::Deployment::SUCCEEDED},
        DecideCase{
            .name = "CanaryWaits", .instances = 10, .steps = {1}, .new_pending = 1, .old_live = 10},
        DecideCase{
            .name = "CanaryOldLeft", .instances = 10, .steps = {1}, .new_ready = 1, .old_live = 10},
        DecideCase{.name = "CanaryNext",
                   .instances = 10,
                   .steps = {1},
                   .new_ready = 1,
                   .old_live = 9,
                   .expect = v1::Deployment::RUNNING,
                   .expect_step = 1},
        DecideCase{.name = "CanaryPauses",
                   .instances = 10,
                   .steps = {1},
                   .pause_after_step = true,
                   .new_ready = 1,
                   .old_live = 9,
                   .expect = v1::Deployment::PAUSED,
                   .expect_step = 0},
        DecideCase{.name = "LastStepDoesNotPause",
                   .instances = 10,
                   .steps = {1},
                   .pause_after_step = true,
                   .step = 1,
                   .new_ready = 10,
                   .expect = v1::Deployment::SUCCEEDED,
                   .expect_step = 1},
        DecideCase{.name = "PausedDecidesNothing",
                   .instances = 10,
                   .steps = {1},
                   .state = v1::Deployment::PAUSED,
                   .new_ready = 1,
                   .old_live = 9},
        DecideCase{.name = "EndedDecidesNothing",
                   .instances = 2,
                   .state = v1::Deployment::FAILED,
                   .new_ready = 2},
        DecideCase{.name = "RolledBack",
                   .instances = 2,
                   .state = v1::Deployment::ROLLING_BACK,
                   .new_ready = 2,
                   .expect = v1::Deployment::ROLLED_BACK},
        DecideCase{.name = "RollingBackWaits",
                   .instances = 2,
                   .state = v1::Deployment::ROLLING_BACK,
                   .new_ready = 2,
                   .old_live = 1},
        DecideCase{.name = "ToZero", .instances = 0, .expect = v1::Deployment::SUCCEEDED}),
    [](const ::testing::TestParamInfo<DecideCase>& info) { return info.param.name; });

TEST(DecideDeploymentTest, ARollbackEndsAsItWasToldTo) {
  v1::Service service = Deploying(1, v1::Deployment::ROLLING_BACK);
  service.mutable_deployment()->set_rollback_ends_as(v1::Deployment::CANCELLED);
  std::vector<v1::Task> tasks;
  Add(tasks, 2, 1);
  std::optional<DeploymentTransition> transition = Decide(service, tasks);
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->state, v1::Deployment::CANCELLED);
  service.clear_deployment();
  EXPECT_FALSE(Decide(service, tasks).has_value()) << "no deployment";
}

}  // namespace
}  // namespace mast

namespace mast {
namespace {

// --- DecideDeployment: failures ---------------------------------------------

struct FailureCase {
  const char* name;
  std::optional<uint32_t> threshold;
  uint32_t recorded = 0;  // records.failed_by_task_version[2]
  int failed_health = 0;  // live new tasks past FailedHealth
  int marked = 0;         // new tasks killed for health, not ended
  bool auto_rollback = false;
  v1::Deployment::State state = v1::Deployment::RUNNING;
  std::optional<v1::Deployment::State> expect;
};

class DecideFailureTest : public ::testing::TestWithParam<FailureCase> {};

TEST_P(DecideFailureTest, FailsAtTheThreshold) {
  const FailureCase& c = GetParam();
  v1::Service service = Deploying(3, c.state);
  v1::UpgradeStrategy* strategy = service.mutable_spec()->mutable_upgrade_strategy();
  if (c.threshold) strategy->set_failure_threshold(*c.threshold);
  strategy->set_auto_rollback(c.auto_rollback);
  v1::HealthCheck* check = service.mutable_spec()->mutable_health_check();
  check->mutable_interval()->set_seconds(10);
  check->set_consecutive_failures(3);
  std::vector<v1::Task> tasks;
  Add(tasks, 1, 3);
  for (v1::Task& task : tasks) task.set_healthy(true);
  for (int i = 0; i < c.failed_health; ++i) {
    tasks.push_back(Task(absl::StrCat("sick", i), 2, v1::Task::RUNNING));
    ToProtoTimestamp(kNow - absl::Seconds(30), tasks.back().mutable_unhealthy_since());
  }
  for (int i = 0; i < c.marked; ++i) {
    tasks.push_back(Task(absl::StrCat("marked", i), 2, v1::Task::KILLING));
    tasks.back().set_kill_requested(true);
    tasks.back().set_failed_health_check(true);
  }
  tasks.push_back(Task("pending", 2, v1::Task::STAGING));
  v1::records::TaskRecords records;
  if (c.recorded > 0) (*records.mutable_failed_by_task_version())[2] = c.recorded;
  (*records.mutable_failed_by_task_version())[1] = 100;  // not the new version's
  records.set_last_failure("exited with status 1");
  std::optional<DeploymentTransition> transition = Decide(service, tasks, records);
  if (!c.expect.has_value()) {
    EXPECT_FALSE(transition.has_value()) << transition->failure_reason;
    return;
  }
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(v1::Deployment::State_Name(transition->state), v1::Deployment::State_Name(*c.expect));
  EXPECT_THAT(transition->failure_reason, HasSubstr("tasks of version 2 failed (threshold"));
  EXPECT_THAT(transition->failure_reason, HasSubstr(": exited with status 1"));
}

INSTANTIATE_TEST_SUITE_P(
    Failures, DecideFailureTest,
    ::testing::Values(
        FailureCase{.name = "BelowDefault", .recorded = 2},
        FailureCase{.name = "AtDefault", .recorded = 3, .expect = v1::Deployment::FAILED},
        FailureCase{.name = "AtDefaultRollsBack",
                    .recorded = 3,
                    .auto_rollback = true,
                    .expect = v1::Deployment::ROLLING_BACK},
        FailureCase{.name = "HealthCounts",
                    .recorded = 1,
                    .failed_health = 1,
                    .marked = 1,
                    .expect = v1::Deployment::FAILED},
        FailureCase{.name = "HealthBelow", .recorded = 1, .failed_health = 1},
        FailureCase{
            .name = "Custom", .threshold = 1, .recorded = 1, .expect = v1::Deployment::FAILED},
        FailureCase{.name = "Never", .threshold = 0, .recorded = 50},
        // The version gone back to counts its failures from before: a
        // rollback ends by its steps or its deadline, not by the threshold.
        FailureCase{.name = "NotWhileRollingBack",
                    .recorded = 3,
                    .auto_rollback = true,
                    .state = v1::Deployment::ROLLING_BACK},
        FailureCase{.name = "NotWhilePaused", .recorded = 9, .state = v1::Deployment::PAUSED}),
    [](const ::testing::TestParamInfo<FailureCase>& info) { return info.param.name; });

TEST(DecideDeploymentTest, AFlappingHealthCheckIsNoFailure) {
  v1::Service service = Deploying(1);
  service.mutable_spec()->mutable_upgrade_strategy()->set_failure_threshold(1);
  v1::HealthCheck* check = service.mutable_spec()->mutable_health_check();
  check->mutable_interval()->set_seconds(10);
  check->set_consecutive_failures(3);  // failed 20 s after the first failure
  std::vector<v1::Task> tasks = {Task("old", 1, v1::Task::RUNNING, 100),
                                 Task("new", 2, v1::Task::RUNNING, 60)};
  tasks[0].set_healthy(true);
  tasks[1].set_healthy(true);
  EXPECT_FALSE(Decide(service, tasks).has_value()) << "healthy: the old one is left";
  tasks[1].set_healthy(false);
  ToProtoTimestamp(kNow - absl::Seconds(15), tasks[1].mutable_unhealthy_since());
  EXPECT_FALSE(Decide(service, tasks).has_value()) << "unhealthy for less than 3 checks";
  tasks[1].set_healthy(true);
  tasks[1].clear_unhealthy_since();
  EXPECT_FALSE(Decide(service, tasks).has_value()) << "healthy again";
  tasks[1].set_healthy(false);
  ToProtoTimestamp(kNow - absl::Seconds(20), tasks[1].mutable_unhealthy_since());
  std::optional<DeploymentTransition> transition = Decide(service, tasks);
  ASSERT_TRUE(transition.has_value()) << "failed its health check";
  EXPECT_EQ(transition->state, v1::Deployment::FAILED);
  EXPECT_EQ(transition->failure_reason, "1 tasks of version 2 failed (threshold 1)");
}

TEST(DecideDeploymentTest, NoNewTaskRunningWithinTheDeadlineFails) {
  v1::Service service = Deploying(2, v1::Deployment::RUNNING, /*age_s=*/599);
  std::vector<v1::Task> tasks = {Task("old1", 1, v1::Task::RUNNING, 1000),
                                 Task("old2", 1, v1::Task::RUNNING, 1000),
                                 Task("new", 2, v1::Task::STAGING, 500)};
  EXPECT_EQ(DeploymentDeadline(service, Ptrs(tasks)), kNow + absl::Seconds(1));
  EXPECT_FALSE(Decide(service, tasks).has_value());
  std::optional<DeploymentTransition> transition =
      Decide(service, tasks, {}, kNow + absl::Seconds(1));
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->state, v1::Deployment::FAILED);
  EXPECT_EQ(transition->failure_reason, "no new task reached RUNNING for 10m (progress_deadline)");
  // With auto_rollback: rolled back.
  service.mutable_spec()->mutable_upgrade_strategy()->set_auto_rollback(true);
  transition = Decide(service, tasks, {}, kNow + absl::Seconds(1));
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->state, v1::Deployment::ROLLING_BACK);
  // A new task that reached RUNNING later moves the deadline.
  tasks.push_back(Task("new2", 2, v1::Task::RUNNING, 100));
  EXPECT_EQ(DeploymentDeadline(service, Ptrs(tasks)), kNow + absl::Seconds(500));
  EXPECT_FALSE(Decide(service, tasks, {}, kNow + absl::Seconds(1)).has_value());
  // A custom deadline; 0: never.
  service.mutable_spec()->mutable_upgrade_strategy()->mutable_progress_deadline()->set_seconds(60);
  EXPECT_EQ(DeploymentDeadline(service, Ptrs(tasks)), kNow - absl::Seconds(40));
  transition = Decide(service, tasks);
  ASSERT_TRUE(transition.has_value());
  EXPECT_THAT(transition->failure_reason, HasSubstr("for 1m (progress_deadline)"));
  service.mutable_spec()->mutable_upgrade_strategy()->mutable_progress_deadline()->set_seconds(0);
  EXPECT_EQ(DeploymentDeadline(service, Ptrs(tasks)), std::nullopt);
  EXPECT_FALSE(Decide(service, tasks, {}, kNow + absl::Hours(100)).has_value());
  // A paused deployment has no deadline.
  service.mutable_spec()->mutable_upgrade_strategy()->clear_progress_deadline();
  service.mutable_deployment()->set_state(v1::Deployment::PAUSED);
  EXPECT_EQ(DeploymentDeadline(service, Ptrs(tasks)), std::nullopt);
  EXPECT_FALSE(Decide(service, tasks, {}, kNow + absl::Hours(100)).has_value());
}

TEST(DecideDeploymentTest, ADoneStepIsNotFailedByTheDeadline) {
  v1::Service service = Deploying(1, v1::Deployment::RUNNING, /*age_s=*/5000);
  std::vector<v1::Task> tasks = {Task("new", 2, v1::Task::RUNNING, 4000)};
  std::optional<DeploymentTransition> transition = Decide(service, tasks);
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->state, v1::Deployment::SUCCEEDED);
}

}  // namespace
}  // namespace mast
