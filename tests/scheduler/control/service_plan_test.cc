#include "scheduler/control/service_plan.h"

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
  ServicePlan plan = Plan(Service(3, 2), tasks);
  EXPECT_EQ(plan.to_launch, 1);
  EXPECT_THAT(plan.kill, IsEmpty());

  // The new one is staging: wait (no launch beyond one extra, no kill).
  tasks.push_back(Task("n1", 2, v1::Task::STAGING, 1));
  plan = Plan(Service(3, 2), tasks);
  EXPECT_EQ(plan.to_launch, 0);
  EXPECT_THAT(plan.kill, IsEmpty());

  // It runs: the oldest old one goes.
  tasks.back().set_state(v1::Task::RUNNING);
  plan = Plan(Service(3, 2), tasks);
  EXPECT_EQ(plan.to_launch, 0);
  EXPECT_THAT(plan.kill, ElementsAre("o1"));

  // o1 is being killed: it still holds its place until it has ended.
  tasks[0].set_kill_requested(true);
  plan = Plan(Service(3, 2), tasks);
  EXPECT_EQ(plan.to_launch, 0);
  EXPECT_THAT(plan.kill, IsEmpty());

  // It ended (records drop terminal tasks): the next new task is launched.
  tasks.erase(tasks.begin());
  plan = Plan(Service(3, 2), tasks);
  EXPECT_EQ(plan.to_launch, 1);
  EXPECT_THAT(plan.kill, IsEmpty());

  // A killed task whose agent is out of reach does not hold the update back.
  tasks.push_back(Task("lost", 1, v1::Task::UNREACHABLE, 40));
  tasks.back().set_kill_requested(true);
  EXPECT_EQ(Plan(Service(3, 2), tasks).to_launch, 1);
}

TEST(ServicePlanTest, RollingReplacesOldTasksThatDoNotRunFirst) {
  std::vector<v1::Task> tasks = {Task("o1", 1, v1::Task::RUNNING, 30),
                                 Task("o2", 1, v1::Task::STARTING, 20),
                                 Task("n1", 2, v1::Task::RUNNING, 1)};
  EXPECT_THAT(Plan(Service(2, 2), tasks).kill, ElementsAre("o2"));
}

TEST(ServicePlanTest, RollingToZeroInstancesKillsAllOld) {
  std::vector<v1::Task> tasks = {Task("o1", 1, v1::Task::RUNNING, 30),
                                 Task("o2", 1, v1::Task::RUNNING, 20)};
  ServicePlan plan = Plan(Service(0, 2), tasks);
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
  std::vector<v1::Task> tasks = {Task("old", 1, v1::Task::RUNNING, 600),
                                 Task("sick", 2, v1::Task::RUNNING, 60)};
  tasks[1].mutable_unhealthy_since()->set_seconds(absl::ToUnixSeconds(kNow) - 60);
  ServicePlan plan = Plan(service, tasks);
  EXPECT_EQ(plan.to_launch, 2) << "one for the rollout, one for health";
  EXPECT_THAT(plan.kill, IsEmpty());
}

}  // namespace
}  // namespace mast
