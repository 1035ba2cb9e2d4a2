#include "scheduler/control/service_plan.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mesos/v1/mesos.pb.h"

namespace mast {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

v1::Service Service(uint32_t instances, uint64_t task_version, bool deleting = false) {
  v1::Service service;
  service.mutable_spec()->set_name("team/web");
  service.mutable_spec()->set_instances(instances);
  service.set_task_version(task_version);
  service.set_deleting(deleting);
  return service;
}

// A task created `age_s` seconds before kNow.
v1::Task Task(const std::string& id, uint64_t version, v1::Task::State state, int age_s) {
  v1::Task task;
  task.set_id(id);
  task.set_version(version);
  task.set_state(state);
  task.mutable_created()->set_seconds(absl::ToUnixSeconds(kNow) - age_s);
  return task;
}

// `service` with a RUNNING deployment to its task_version and a strategy of
// one task at a time: U = N + 1 (N < 100), L = N, oldest first.
v1::Service OneAtATime(v1::Service service) {
  v1::UpgradeStrategy* strategy = service.mutable_spec()->mutable_upgrade_strategy();
  strategy->set_minimum_health_capacity(1);
  const uint32_t instances = std::max<uint32_t>(1, service.spec().instances());
  strategy->set_maximum_over_capacity(1.0 / instances + 0.001);
  strategy->set_kill_selection(v1::UpgradeStrategy::OLDEST_FIRST);
  service.mutable_deployment()->set_id("d1");
  service.mutable_deployment()->set_state(v1::Deployment::RUNNING);
  service.mutable_deployment()->set_to_task_version(service.task_version());
  return service;
}

std::vector<const v1::Task*> Ptrs(const std::vector<v1::Task>& tasks) {
  std::vector<const v1::Task*> out;
  for (const v1::Task& task : tasks) out.push_back(&task);
  return out;
}

ServicePlan Plan(const v1::Service& service, const std::vector<v1::Task>& tasks,
                 absl::Duration grace = absl::Minutes(5)) {
  return PlanService(service, Ptrs(tasks), kNow, {grace});
}

TEST(TaskStateTest, MapsEveryMesosStateAndTerminality) {
  namespace mesos_v1 = ::mesos::v1;
  EXPECT_EQ(TaskStateFromMesos(mesos_v1::TASK_STAGING), v1::Task::STAGING);
  EXPECT_EQ(TaskStateFromMesos(mesos_v1::TASK_RUNNING), v1::Task::RUNNING);
  EXPECT_EQ(TaskStateFromMesos(mesos_v1::TASK_UNREACHABLE), v1::Task::UNREACHABLE);
  EXPECT_EQ(TaskStateFromMesos(mesos_v1::TASK_GONE_BY_OPERATOR), v1::Task::GONE);
  EXPECT_EQ(TaskStateFromMesos(mesos_v1::TASK_DROPPED), v1::Task::LOST);
  EXPECT_EQ(TaskStateFromMesos(mesos_v1::TASK_UNKNOWN), v1::Task::LOST);
  EXPECT_EQ(TaskStateFromMesos(999), v1::Task::LOST);
  EXPECT_TRUE(IsTerminal(v1::Task::LOST));
  EXPECT_FALSE(IsTerminal(v1::Task::UNREACHABLE));
  EXPECT_FALSE(IsTerminal(v1::Task::KILLING));
  v1::Task killing = Task("a", 1, v1::Task::RUNNING, 1);
  killing.set_kill_requested(true);
  EXPECT_FALSE(IsLive(killing));
}

TEST(ServicePlanTest, LaunchesUpToInstances) {
  std::vector<v1::Task> tasks = {Task("a", 1, v1::Task::RUNNING, 10),
                                 Task("b", 1, v1::Task::PENDING, 1)};
  ServicePlan plan = Plan(Service(5, 1), tasks);
  EXPECT_EQ(plan.to_launch, 3);
  EXPECT_THAT(plan.kill, IsEmpty());
  EXPECT_FALSE(plan.remove_record);
}

TEST(ServicePlanTest, TasksBeingKilledDoNotCount) {
  std::vector<v1::Task> tasks = {Task("a", 1, v1::Task::RUNNING, 10),
                                 Task("b", 1, v1::Task::RUNNING, 5)};
  tasks[1].set_kill_requested(true);
  EXPECT_EQ(Plan(Service(2, 1), tasks).to_launch, 1);
}

TEST(ServicePlanTest, ScaleDownKillsNotRunningFirstThenYoungest) {
  std::vector<v1::Task> tasks = {
      Task("old", 1, v1::Task::RUNNING, 100), Task("mid", 1, v1::Task::RUNNING, 50),
      Task("young", 1, v1::Task::RUNNING, 10), Task("staging", 1, v1::Task::STAGING, 60)};
  EXPECT_THAT(Plan(Service(2, 1), tasks).kill, ElementsAre("staging", "young"));
  EXPECT_THAT(Plan(Service(1, 1), tasks).kill, ElementsAre("staging", "young", "mid"));
  EXPECT_THAT(Plan(Service(0, 1), tasks).kill, ElementsAre("staging", "young", "mid", "old"));
  EXPECT_EQ(Plan(Service(0, 1), tasks).to_launch, 0);
}

TEST(ServicePlanTest, RollingReplacementOneAtATime) {
  // Three old tasks running, none new: one new task is launched, nothing killed.
  std::vector<v1::Task> tasks = {Task("o1", 1, v1::Task::RUNNING, 30),
                                 Task("o2", 1, v1::Task::RUNNING, 20),
                                 Task("o3", 1, v1::Task::RUNNING, 10)};
  const v1::Service service = OneAtATime(Service(3, 2));
  ServicePlan plan = Plan(service, tasks);
  EXPECT_EQ(plan.to_launch, 1);
  EXPECT_THAT(plan.kill, IsEmpty());

  // The new one is staging: wait (no launch beyond one extra, no kill).
  tasks.push_back(Task("n1", 2, v1::Task::STAGING, 1));
  plan = Plan(service, tasks);
  EXPECT_EQ(plan.to_launch, 0);
  EXPECT_THAT(plan.kill, IsEmpty());

  // It runs: the oldest old one goes.
  tasks.back().set_state(v1::Task::RUNNING);
  plan = Plan(service, tasks);
  EXPECT_EQ(plan.to_launch, 0);
  EXPECT_THAT(plan.kill, ElementsAre("o1"));

  // o1 is being killed: it still holds its place until it has ended.
  tasks[0].set_kill_requested(true);
  plan = Plan(service, tasks);
  EXPECT_EQ(plan.to_launch, 0);
  EXPECT_THAT(plan.kill, IsEmpty());

  // It ended (records drop terminal tasks): the next new task is launched.
  tasks.erase(tasks.begin());
  plan = Plan(service, tasks);
  EXPECT_EQ(plan.to_launch, 1);
  EXPECT_THAT(plan.kill, IsEmpty());

  // A killed task whose agent is out of reach does not hold the update back.
  tasks.push_back(Task("lost", 1, v1::Task::UNREACHABLE, 40));
  tasks.back().set_kill_requested(true);
  EXPECT_EQ(Plan(service, tasks).to_launch, 1);
}

TEST(ServicePlanTest, RollingReplacesOldTasksThatDoNotRunFirst) {
  std::vector<v1::Task> tasks = {Task("o1", 1, v1::Task::RUNNING, 30),
                                 Task("o2", 1, v1::Task::STARTING, 20),
                                 Task("n1", 2, v1::Task::RUNNING, 1)};
  EXPECT_THAT(Plan(OneAtATime(Service(2, 2)), tasks).kill, ElementsAre("o2"));
}

TEST(ServicePlanTest, RollingToZeroInstancesKillsAllOld) {
  std::vector<v1::Task> tasks = {Task("o1", 1, v1::Task::RUNNING, 30),
                                 Task("o2", 1, v1::Task::RUNNING, 20)};
  ServicePlan plan = Plan(OneAtATime(Service(0, 2)), tasks);
  EXPECT_EQ(plan.to_launch, 0);
  EXPECT_EQ(plan.kill.size(), 2u);
}

TEST(ServicePlanTest, UnreachablePastGraceIsExpungedAndReplaced) {
  std::vector<v1::Task> tasks = {Task("a", 1, v1::Task::UNREACHABLE, 100),
                                 Task("b", 1, v1::Task::UNREACHABLE, 100),
                                 Task("c", 1, v1::Task::RUNNING, 100)};
  tasks[0].mutable_unreachable_since()->set_seconds(absl::ToUnixSeconds(kNow) - 60);
  tasks[1].mutable_unreachable_since()->set_seconds(absl::ToUnixSeconds(kNow) - 10);
  ServicePlan plan = Plan(Service(3, 1), tasks, absl::Seconds(30));
  EXPECT_THAT(plan.expunge, ElementsAre("a"));
  EXPECT_EQ(plan.to_launch, 1);  // b still counts within its grace
}

// A service's own strategy: replaced after inactive_after (still known),
// expunged after expunge_after; back before that, the extra is killed.
TEST(ServicePlanTest, UnreachableStrategyReplacesFirstAndExpungesLater) {
  v1::Service service = Service(2, 1);
  v1::UnreachableStrategy* strategy = service.mutable_spec()->mutable_unreachable_strategy();
  strategy->mutable_inactive_after()->set_seconds(30);
  strategy->mutable_expunge_after()->set_seconds(120);
  std::vector<v1::Task> tasks = {Task("away", 1, v1::Task::UNREACHABLE, 300),
                                 Task("up", 1, v1::Task::RUNNING, 300)};
  tasks[0].mutable_unreachable_since()->set_seconds(absl::ToUnixSeconds(kNow) - 10);
  ServicePlan plan = Plan(service, tasks, absl::Minutes(5));
  EXPECT_EQ(plan.to_launch, 0) << "within inactive_after it still counts";
  EXPECT_THAT(plan.expunge, IsEmpty());

  tasks[0].mutable_unreachable_since()->set_seconds(absl::ToUnixSeconds(kNow) - 60);
  plan = Plan(service, tasks, absl::Minutes(5));
  EXPECT_EQ(plan.to_launch, 1) << "past inactive_after: replaced";
  EXPECT_THAT(plan.expunge, IsEmpty()) << "but not given up before expunge_after";

  tasks[0].mutable_unreachable_since()->set_seconds(absl::ToUnixSeconds(kNow) - 150);
  plan = Plan(service, tasks, absl::Minutes(5));
  EXPECT_THAT(plan.expunge, ElementsAre("away"));
  EXPECT_EQ(plan.to_launch, 1);

  // It came back (RUNNING again) beside its replacement: one too many.
  tasks[0].set_state(v1::Task::RUNNING);
  tasks[0].clear_unreachable_since();
  tasks.push_back(Task("replacement", 1, v1::Task::RUNNING, 10));
  plan = Plan(service, tasks, absl::Minutes(5));
  EXPECT_EQ(plan.to_launch, 0);
  EXPECT_EQ(plan.kill.size(), 1u);
}

TEST(UnreachableTimesTest, DefaultsFromTheGrace) {
  v1::ServiceSpec spec;
  UnreachableTimes times = UnreachableTimesOf(spec, absl::Minutes(5));
  EXPECT_EQ(times.inactive_after, absl::Minutes(5));
  EXPECT_EQ(times.expunge_after, absl::Minutes(5));
  spec.mutable_unreachable_strategy()->mutable_expunge_after()->set_seconds(60);
  times = UnreachableTimesOf(spec, absl::Minutes(5));
  EXPECT_EQ(times.inactive_after, absl::Minutes(1)) << "never after the expunge";
  EXPECT_EQ(times.expunge_after, absl::Minutes(1));
  spec.mutable_unreachable_strategy()->mutable_inactive_after()->set_seconds(0);
  spec.mutable_unreachable_strategy()->clear_expunge_after();
  times = UnreachableTimesOf(spec, absl::Minutes(5));
  EXPECT_EQ(times.inactive_after, absl::ZeroDuration());
  EXPECT_EQ(times.expunge_after, absl::ZeroDuration());
}

TEST(ServicePlanTest, DeletingKillsEverythingThenRemoves) {
  std::vector<v1::Task> tasks = {Task("a", 1, v1::Task::RUNNING, 10),
                                 Task("b", 2, v1::Task::PENDING, 1)};
  ServicePlan plan = Plan(Service(2, 2, /*deleting=*/true), tasks);
  EXPECT_EQ(plan.to_launch, 0);
  EXPECT_THAT(plan.kill, ElementsAre("a", "b"));
  EXPECT_FALSE(plan.remove_record);

  for (v1::Task& task : tasks) task.set_kill_requested(true);
  plan = Plan(Service(2, 2, true), tasks);
  EXPECT_THAT(plan.kill, IsEmpty());
  EXPECT_FALSE(plan.remove_record);  // not until their terminal updates

  EXPECT_TRUE(Plan(Service(2, 2, true), {}).remove_record);
}

}  // namespace
}  // namespace mast

namespace mast {
namespace {

// A service whose tasks have an HTTP check every 10 s, 3 failures in a row.
v1::Service Checked(uint32_t instances) {
  v1::Service service = Service(instances, 1);
  v1::HealthCheck* check = service.mutable_spec()->mutable_health_check();
  check->set_protocol(v1::HealthCheck::HTTP);
  check->mutable_interval()->set_seconds(10);
  check->set_consecutive_failures(3);
  return service;
}

// A RUNNING task of version 1, unhealthy for `for_s` seconds (healthy when < 0).
v1::Task Health(const std::string& id, int for_s) {
  v1::Task task = Task(id, 1, v1::Task::RUNNING, 600);
  task.set_healthy(for_s < 0);
  if (for_s >= 0) task.mutable_unhealthy_since()->set_seconds(absl::ToUnixSeconds(kNow) - for_s);
  return task;
}

TEST(ServicePlanTest, AFailedHealthCheckIsTheFailuresTimesTheInterval) {
  const v1::Service service = Checked(1);
  // 3 failures 10 s apart: the third comes 20 s after the first.
  EXPECT_FALSE(FailedHealth(service.spec(), Health("t", 19), kNow));
  EXPECT_TRUE(FailedHealth(service.spec(), Health("t", 20), kNow));
  EXPECT_EQ(FailsHealthAt(service.spec(), Health("t", 5)), kNow + absl::Seconds(15));
  EXPECT_FALSE(FailedHealth(service.spec(), Health("t", -1), kNow)) << "healthy";
  EXPECT_FALSE(FailedHealth(Service(1, 1).spec(), Health("t", 60), kNow)) << "no health check";
}

TEST(ServicePlanTest, AnUnhealthyTaskIsReplacedBeforeItIsKilled) {
  // b failed; c fails for 5 s (not yet failed: it counts, but not as healthy).
  std::vector<v1::Task> tasks = {Health("a", -1), Health("b", 30), Health("c", 5)};
  ServicePlan plan = Plan(Checked(3), tasks);
  EXPECT_EQ(plan.to_launch, 1) << "b failed: its replacement first";
  EXPECT_THAT(plan.kill, IsEmpty()) << "not before the replacement runs";
  tasks.push_back(Task("new", 1, v1::Task::STAGING, 1));
  plan = Plan(Checked(3), tasks);
  EXPECT_EQ(plan.to_launch, 0);
  EXPECT_THAT(plan.kill, IsEmpty()) << "the replacement does not run yet";
  tasks.back().set_state(v1::Task::RUNNING);
  plan = Plan(Checked(3), tasks);
  EXPECT_THAT(plan.kill, IsEmpty()) << "the replacement runs, but is not healthy yet";
  tasks.back().set_healthy(true);
  plan = Plan(Checked(3), tasks);
  EXPECT_THAT(plan.kill, IsEmpty()) << "a and the replacement healthy, c not: 2 of 3";
  tasks[2] = Health("c", -1);  // c passes again
  plan = Plan(Checked(3), tasks);
  EXPECT_EQ(plan.to_launch, 0);
  EXPECT_THAT(plan.kill, ElementsAre("b"));
  EXPECT_THAT(plan.health_kills, ElementsAre("b"));
}

TEST(ServicePlanTest, NoMoreThanTheShareOfInstancesIsReplacedForHealthAtOnce) {
  // 20 instances, all failing (an overloaded host?): 10% (2) at a time.
  std::vector<v1::Task> tasks;
  for (int i = 0; i < 20; ++i) tasks.push_back(Health(absl::StrCat("t", i), 60));
  ServicePlan plan = Plan(Checked(20), tasks);
  EXPECT_EQ(plan.to_launch, 2);
  EXPECT_THAT(plan.kill, IsEmpty());
  // Few instances: still one at a time.
  const std::vector<v1::Task> three(tasks.begin(), tasks.begin() + 3);
  EXPECT_EQ(Plan(Checked(3), three).to_launch, 1);
  // The share is an option.
  PlanOptions options;
  options.max_unhealthy_share = 0.5;
  EXPECT_EQ(PlanService(Checked(20), Ptrs(tasks), kNow, options).to_launch, 10);
}

TEST(ServicePlanTest, ARollingReplacementAlsoReplacesUnhealthyTasks) {
  v1::Service service = Checked(2);
  service.set_task_version(2);
  service = OneAtATime(service);
  std::vector<v1::Task> tasks = {Task("old", 1, v1::Task::RUNNING, 600),
                                 Task("sick", 2, v1::Task::RUNNING, 60)};
  tasks[0].set_healthy(true);
  tasks[1].mutable_unhealthy_since()->set_seconds(absl::ToUnixSeconds(kNow) - 60);
  ServicePlan plan = Plan(service, tasks);
  EXPECT_EQ(plan.to_launch, 2) << "one for the rollout, one for health";
  EXPECT_THAT(plan.kill, IsEmpty());
  EXPECT_THAT(plan.health_kills, IsEmpty());
}

}  // namespace
}  // namespace mast

namespace mast {
namespace {

// A RUNNING deployment from task version 1 to 2 (state and strategy set by
// the caller).
v1::Service Deploying(uint32_t instances, v1::Deployment::State state) {
  v1::Service service = Service(instances, 2);
  service.mutable_deployment()->set_id("d1");
  service.mutable_deployment()->set_state(state);
  service.mutable_deployment()->set_from_task_version(1);
  service.mutable_deployment()->set_to_task_version(2);
  return service;
}

TEST(ServicePlanTest, WithoutARolloutOldTasksStayAndCountTowardInstances) {
  std::vector<v1::Task> tasks = {Task("o1", 1, v1::Task::RUNNING, 300),
                                 Task("o2", 1, v1::Task::RUNNING, 200),
                                 Task("n1", 2, v1::Task::RUNNING, 100)};
  for (v1::Deployment::State state :
       {v1::Deployment::STATE_UNSPECIFIED, v1::Deployment::PAUSED, v1::Deployment::FAILED,
        v1::Deployment::CANCELLED, v1::Deployment::SUCCEEDED, v1::Deployment::ROLLED_BACK}) {
    SCOPED_TRACE(v1::Deployment::State_Name(state));
    v1::Service service = Deploying(3, state);
    if (state == v1::Deployment::STATE_UNSPECIFIED) service.clear_deployment();
    ServicePlan plan = Plan(service, tasks);
    EXPECT_EQ(plan.to_launch, 0);
    EXPECT_THAT(plan.kill, IsEmpty());
    // An old task that ends is made up with a new one.
    std::vector<v1::Task> fewer(tasks.begin() + 1, tasks.end());
    EXPECT_EQ(Plan(service, fewer).to_launch, 1);
    // Scale-down: per the kill selection, whatever the version.
    service.mutable_spec()->set_instances(1);
    EXPECT_THAT(Plan(service, tasks).kill, ElementsAre("n1", "o2"));
    service.mutable_spec()->mutable_upgrade_strategy()->set_kill_selection(
        v1::UpgradeStrategy::OLDEST_FIRST);
    EXPECT_THAT(Plan(service, tasks).kill, ElementsAre("o1", "o2"));
  }
}

// One rollout decision: N, the strategy, the tasks by kind, what is done.
struct RolloutCase {
  const char* name;
  uint32_t instances;
  std::optional<double> min_health, max_over;
  uint32_t step_instances = 0;  // a first step of that many (0: none)
  double step_percent = 0;      // a first step of that percent (0: none)
  int old_ready = 0, old_pending = 0, new_ready = 0, new_pending = 0, dying = 0;
  int launch = 0;
  int old_kills = 0;
  int new_kills = 0;
};

class RolloutTest : public ::testing::TestWithParam<RolloutCase> {};

TEST_P(RolloutTest, KeepsTheBounds) {
  const RolloutCase& c = GetParam();
  v1::Service service = Deploying(c.instances, v1::Deployment::RUNNING);
  v1::UpgradeStrategy* strategy = service.mutable_spec()->mutable_upgrade_strategy();
  if (c.min_health) strategy->set_minimum_health_capacity(*c.min_health);
  if (c.max_over) strategy->set_maximum_over_capacity(*c.max_over);
  if (c.step_instances > 0) strategy->add_steps()->set_instances(c.step_instances);
  if (c.step_percent > 0) strategy->add_steps()->set_percent(c.step_percent);
  std::vector<v1::Task> tasks;
  int age = 1000;
  auto add = [&](const char* kind, int count, uint64_t version, v1::Task::State state) {
    for (int i = 0; i < count; ++i) {
      tasks.push_back(Task(absl::StrCat(kind, i), version, state, age--));
    }
  };
  add("or", c.old_ready, 1, v1::Task::RUNNING);
  add("op", c.old_pending, 1, v1::Task::STAGING);
  add("nr", c.new_ready, 2, v1::Task::RUNNING);
  add("np", c.new_pending, 2, v1::Task::STAGING);
  add("d", c.dying, 1, v1::Task::RUNNING);
  for (int i = 0; i < c.dying; ++i) tasks[tasks.size() - 1 - i].set_kill_requested(true);
  ServicePlan plan = Plan(service, tasks);
  EXPECT_EQ(plan.to_launch, c.launch);
  int old_kills = 0, new_kills = 0;
  for (const std::string& id : plan.kill) ++(id[0] == 'o' ? old_kills : new_kills);
  EXPECT_EQ(old_kills, c.old_kills);
  EXPECT_EQ(new_kills, c.new_kills);
  EXPECT_THAT(plan.health_kills, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    Strategies, RolloutTest,
    ::testing::Values(
        // Defaults (min health 1, max over 1): all new at once, old go as
        // new ones are ready.
        RolloutCase{.name = "Defaults", .instances = 4, .old_ready = 4, .launch = 4},
        RolloutCase{.name = "DefaultsHalfReady",
                    .instances = 4,
                    .old_ready = 4,
                    .new_ready = 2,
                    .new_pending = 2,
                    .old_kills = 2},
        // min 0.5, max 0: L = 2, U = 4: two old go first, the new ones
        // once they have ended.
        RolloutCase{.name = "HalfNoSurge",
                    .instances = 4,
                    .min_health = 0.5,
                    .max_over = 0,
                    .old_ready = 4,
                    .old_kills = 2},
        RolloutCase{.name = "HalfNoSurgeDying",
                    .instances = 4,
                    .min_health = 0.5,
                    .max_over = 0,
                    .old_ready = 2,
                    .dying = 2},
        RolloutCase{.name = "HalfNoSurgeEnded",
                    .instances = 4,
                    .min_health = 0.5,
                    .max_over = 0,
                    .old_ready = 2,
                    .launch = 2},
        // min 0.9, max 0.1 of 10: L = 9, U = 11.
        RolloutCase{.name = "NinetyTen",
                    .instances = 10,
                    .min_health = 0.9,
                    .max_over = 0.1,
                    .old_ready = 10,
                    .launch = 1,
                    .old_kills = 1},
        // min 1, max 0: no room, L = U - 1 = 9.
        RolloutCase{.name = "NoRoom",
                    .instances = 10,
                    .min_health = 1,
                    .max_over = 0,
                    .old_ready = 10,
                    .old_kills = 1},
        RolloutCase{.name = "NoRoomSingle",
                    .instances = 1,
                    .min_health = 1,
                    .max_over = 0.1,
                    .old_ready = 1,
                    .old_kills = 1},
        // min 0: everything old goes at once.
        RolloutCase{.name = "ZeroHealth",
                    .instances = 10,
                    .min_health = 0,
                    .max_over = 0,
                    .old_ready = 10,
                    .old_kills = 10},
        // Old tasks not ready go at once, whatever the health.
        RolloutCase{.name = "OldNotReadyFirst",
                    .instances = 3,
                    .min_health = 1,
                    .max_over = 0,
                    .old_ready = 2,
                    .old_pending = 1,
                    .old_kills = 1},
        // Canary of one: one new, nine old kept.
        RolloutCase{.name = "CanaryLaunch",
                    .instances = 10,
                    .step_instances = 1,
                    .old_ready = 10,
                    .launch = 1},
        RolloutCase{.name = "CanaryReady",
                    .instances = 10,
                    .step_instances = 1,
                    .old_ready = 10,
                    .new_ready = 1,
                    .old_kills = 1},
        RolloutCase{.name = "CanaryDone",
                    .instances = 10,
                    .step_instances = 1,
                    .old_ready = 9,
                    .new_ready = 1},
        // An old task lost during the canary is made up with a new one.
        RolloutCase{.name = "CanaryMadeUp",
                    .instances = 10,
                    .step_instances = 1,
                    .old_ready = 8,
                    .new_ready = 1,
                    .launch = 1},
        // 50% of 10, min 0: five old go at once, five new come.
        RolloutCase{.name = "HalfStep",
                    .instances = 10,
                    .min_health = 0,
                    .step_percent = 50,
                    .old_ready = 10,
                    .launch = 5,
                    .old_kills = 5},
        // 25% of 10 is 3.
        RolloutCase{.name = "PercentRoundsUp",
                    .instances = 10,
                    .step_percent = 25,
                    .old_ready = 10,
                    .launch = 3},
        // Scaled down during a rollout: new ones beyond N go.
        RolloutCase{
            .name = "ScaledDown", .instances = 2, .new_ready = 3, .new_pending = 1, .new_kills = 2},
        RolloutCase{.name = "ToZero",
                    .instances = 0,
                    .old_ready = 2,
                    .new_ready = 1,
                    .old_kills = 2,
                    .new_kills = 1}),
    [](const ::testing::TestParamInfo<RolloutCase>& info) { return info.param.name; });

TEST(ServicePlanTest, ReadyOldTasksGoPerTheKillSelection) {
  std::vector<v1::Task> tasks = {
      Task("o1", 1, v1::Task::RUNNING, 300), Task("o2", 1, v1::Task::RUNNING, 200),
      Task("o3", 1, v1::Task::RUNNING, 100), Task("n1", 2, v1::Task::RUNNING, 10)};
  v1::Service service = Deploying(3, v1::Deployment::RUNNING);
  EXPECT_THAT(Plan(service, tasks).kill, ElementsAre("o3")) << "youngest first by default";
  service.mutable_spec()->mutable_upgrade_strategy()->set_kill_selection(
      v1::UpgradeStrategy::OLDEST_FIRST);
  EXPECT_THAT(Plan(service, tasks).kill, ElementsAre("o1"));
}

TEST(ServicePlanTest, ARollbackReplacesTheHigherTaskVersion) {
  v1::Service service = Deploying(2, v1::Deployment::ROLLING_BACK);
  service.set_task_version(1);  // back to the deployment's from_task_version
  std::vector<v1::Task> tasks = {Task("bad1", 2, v1::Task::RUNNING, 30),
                                 Task("bad2", 2, v1::Task::STARTING, 20),
                                 Task("good", 1, v1::Task::RUNNING, 300)};
  ServicePlan plan = Plan(service, tasks);
  EXPECT_THAT(plan.kill, ElementsAre("bad2")) << "not ready: at once; bad1 holds L = 2";
  EXPECT_EQ(plan.to_launch, 1);
  tasks.push_back(Task("good2", 1, v1::Task::RUNNING, 1));
  tasks[1].set_kill_requested(true);
  EXPECT_THAT(Plan(service, tasks).kill, ElementsAre("bad1"));
}

TEST(ServicePlanTest, OldTasksAreJudgedByTheSpecOfTheirVersion) {
  // The new spec adds a readiness check: old tasks never ran one.
  v1::Service service = Deploying(2, v1::Deployment::RUNNING);
  service.mutable_spec()->mutable_readiness_check()->set_protocol(v1::ReadinessCheck::TCP);
  *service.mutable_deployment()->mutable_from_spec() = Service(2, 1).spec();
  std::vector<v1::Task> tasks = {Task("o1", 1, v1::Task::RUNNING, 300),
                                 Task("o2", 1, v1::Task::RUNNING, 200),
                                 Task("n1", 2, v1::Task::RUNNING, 10)};
  EXPECT_THAT(Plan(service, tasks).kill, IsEmpty()) << "n1 is not ready yet";
  tasks[2].set_ready(true);
  EXPECT_THAT(Plan(service, tasks).kill, ElementsAre("o2"));
}

TEST(ServicePlanTest, FailedTasksDuringARolloutAreHealthKills) {
  v1::Service service = Checked(2);
  service.set_task_version(2);
  service = OneAtATime(service);
  std::vector<v1::Task> tasks = {Health("old-sick", 60), Task("n1", 2, v1::Task::RUNNING, 60),
                                 Task("n2", 2, v1::Task::RUNNING, 50),
                                 Task("n-sick", 2, v1::Task::RUNNING, 70)};
  tasks[1].set_healthy(true);
  tasks[2].set_healthy(true);
  tasks[3].mutable_unhealthy_since()->set_seconds(absl::ToUnixSeconds(kNow) - 60);
  ServicePlan plan = Plan(service, tasks);
  EXPECT_THAT(plan.kill, ElementsAre("old-sick", "n-sick"));
  EXPECT_THAT(plan.health_kills, ElementsAre("old-sick", "n-sick"));
  EXPECT_EQ(plan.to_launch, 0);
}

}  // namespace
}  // namespace mast
