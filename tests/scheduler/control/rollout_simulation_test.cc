// A deterministic simulation of rollouts: PlanService and DecideDeployment
// applied round after round to a fake task set, checking the strategy's
// bounds at every round. Launched tasks run (and are ready) one round
// later, killed ones end one round later.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/control/deployment_plan.h"
#include "scheduler/control/service_plan.h"
#include "scheduler/control/upgrade_strategy.h"
#include "store/deployment_progress.h"

namespace mast {
namespace {

using ::testing::IsEmpty;

constexpr absl::Duration kRound = absl::Seconds(10);

// One service and its tasks; the deployment from task version 1 to 2 is
// applied to the service as ApplyTransition would (the parts PlanService
// and DecideDeployment read).
class Rollout {
 public:
  // `instances` ready tasks of version 1, then a deployment to version 2
  // whose spec `edit` changes (its strategy, its checks).
  Rollout(uint32_t instances, const std::function<void(v1::ServiceSpec&)>& edit) {
    service_.mutable_spec()->set_name("team/web");
    service_.mutable_spec()->set_instances(instances);
    service_.set_task_version(1);
    for (uint32_t i = 0; i < instances; ++i) Launch();
    for (v1::Task& task : tasks_) Run(task);
    v1::Deployment* deployment = service_.mutable_deployment();
    deployment->set_id("d1");
    deployment->set_state(v1::Deployment::RUNNING);
    deployment->set_from_task_version(1);
    *deployment->mutable_from_spec() = service_.spec();
    if (edit) edit(*service_.mutable_spec());
    service_.set_task_version(2);
    deployment->set_to_task_version(2);
    *deployment->mutable_to_spec() = service_.spec();
    ToProtoTimestamp(now_, deployment->mutable_step_started());
    baseline_ = Ready();
  }

  // Tasks of `version` fail once launched / run but never pass readiness.
  void FailVersion(uint64_t version) { failing_.insert(version); }
  void NeverReady(uint64_t version) { never_ready_.insert(version); }
  // The `nth` task launched from now on is unhealthy from its start, for
  // `rounds` rounds (-1: for good). Allows the health surge above U.
  void Sicken(int nth, int rounds) {
    sick_[absl::StrCat("t", next_id_ + nth)] = rounds;
    health_allowance_ =
        std::max(1, static_cast<int>(service_.spec().instances()) / 10);  // max_unhealthy_share
  }
  uint32_t FailuresOf(uint64_t version) const {
    auto it = records_.failed_by_task_version().find(version);
    return it == records_.failed_by_task_version().end() ? 0 : it->second;
  }
  const std::vector<std::string>& health_kills() const { return health_kills_; }

  void Round() {
    now_ += kRound;
    MoveWorld();
    Check("the world moved");
    if (std::optional<DeploymentTransition> t =
            DecideDeployment(service_, Ptrs(), records_, now_)) {
      Apply(*t);
    }
    ServicePlan plan = PlanService(service_, Ptrs(), now_, {});
    for (const std::string& id : plan.kill) Kill(id);
    for (const std::string& id : plan.health_kills) {
      health_kills_.push_back(id);
      for (v1::Task& task : tasks_) {
        if (task.id() == id) task.set_failed_health_check(true);
      }
    }
    for (int i = 0; i < plan.to_launch; ++i) Launch();
    Check("the plan was applied");
  }

  // Rounds until the deployment is no longer RUNNING or ROLLING_BACK (or
  // `max` rounds); the number run.
  int RunWhileRollingOut(int max = 400) {
    int rounds = 0;
    while (rounds < max && Rolling()) {
      Round();
      ++rounds;
    }
    return rounds;
  }

  void Resume() {
    v1::Deployment* deployment = service_.mutable_deployment();
    ASSERT_EQ(deployment->state(), v1::Deployment::PAUSED);
    if (deployment->step_done()) deployment->set_step(deployment->step() + 1);
    deployment->set_step_done(false);
    deployment->set_state(v1::Deployment::RUNNING);
    ToProtoTimestamp(now_, deployment->mutable_step_started());
  }

  v1::Deployment::State state() const { return service_.deployment().state(); }
  const v1::Deployment& deployment() const { return service_.deployment(); }
  const std::vector<std::string>& violations() const { return violations_; }
  const std::vector<v1::Deployment::State>& states() const { return states_; }

  // Live tasks of `version`, and how many of them are ready.
  int Live(uint64_t version) const {
    int n = 0;
    for (const v1::Task& task : tasks_) n += IsLive(task) && task.version() == version ? 1 : 0;
    return n;
  }
  int ReadyOf(uint64_t version) const {
    int n = 0;
    for (const v1::Task& task : tasks_) {
      n += task.version() == version && IsTaskReady(service_, task) ? 1 : 0;
    }
    return n;
  }
  size_t size() const { return tasks_.size(); }

 private:
  bool Rolling() const {
    return state() == v1::Deployment::RUNNING || state() == v1::Deployment::ROLLING_BACK;
  }

  std::vector<const v1::Task*> Ptrs() const {
    std::vector<const v1::Task*> out;
    for (const v1::Task& task : tasks_) out.push_back(&task);
    return out;
  }

  int Ready() const {
    int n = 0;
    for (const v1::Task& task : tasks_) n += IsTaskReady(service_, task) ? 1 : 0;
    return n;
  }

  void Launch() {
    v1::Task task;
    task.set_id(absl::StrCat("t", next_id_++));
    task.set_version(service_.task_version());
    task.set_state(v1::Task::STAGING);
    ToProtoTimestamp(now_, task.mutable_created());
    tasks_.push_back(task);
  }

  void Run(v1::Task& task) {
    task.set_state(v1::Task::RUNNING);
    ToProtoTimestamp(now_, task.mutable_started());
    task.set_healthy(true);
    task.set_ready(never_ready_.count(task.version()) == 0);
    if (sick_.count(task.id()) > 0) {
      task.set_healthy(false);
      ToProtoTimestamp(now_, task.mutable_unhealthy_since());
    }
  }

  // A sick task's check passes again after its rounds.
  void Heal(v1::Task& task) {
    auto it = sick_.find(task.id());
    if (it == sick_.end() || it->second < 0 || task.healthy()) return;
    if (--it->second < 0) {
      task.set_healthy(true);
      task.clear_unhealthy_since();
    }
  }

  void Kill(const std::string& id) {
    for (v1::Task& task : tasks_) {
      if (task.id() != id) continue;
      if (!IsLive(task)) violations_.push_back(absl::StrCat(id, " killed twice"));
      task.set_kill_requested(true);
      return;
    }
    violations_.push_back(absl::StrCat(id, " killed, unknown"));
  }

  // Killed tasks end; launched ones run, or fail.
  void MoveWorld() {
    std::vector<v1::Task> next;
    for (v1::Task& task : tasks_) {
      if (task.kill_requested()) {
        if (task.failed_health_check())
          ++(*records_.mutable_failed_by_task_version())[task.version()];
        continue;
      }
      if (task.state() == v1::Task::RUNNING) Heal(task);
      if (task.state() == v1::Task::STAGING && failing_.count(task.version()) > 0) {
        ++(*records_.mutable_failed_by_task_version())[task.version()];
        records_.set_failed(records_.failed() + 1);
        records_.set_last_failure("exited with status 1");
        continue;
      }
      if (task.state() == v1::Task::STAGING) Run(task);
      next.push_back(task);
    }
    tasks_ = std::move(next);
  }

  void Apply(const DeploymentTransition& t) {
    v1::Deployment* deployment = service_.mutable_deployment();
    EXPECT_EQ(t.deployment_id, deployment->id());
    states_.push_back(t.state);
    deployment->set_state(t.state);
    if (!t.failure_reason.empty()) deployment->set_failure_reason(t.failure_reason);
    if (t.state == v1::Deployment::RUNNING) {
      deployment->set_step(t.step);
      ToProtoTimestamp(now_, deployment->mutable_step_started());
    } else if (t.state == v1::Deployment::PAUSED) {
      deployment->set_step_done(true);
    } else if (t.state == v1::Deployment::ROLLING_BACK) {
      *service_.mutable_spec() = deployment->from_spec();
      service_.set_task_version(deployment->from_task_version());
      deployment->set_step(0);
      ToProtoTimestamp(now_, deployment->mutable_step_started());
      baseline_ = Ready();  // the bounds hold from where the rollback starts
    }
  }

  // Ready tasks >= min(L, ready at the start); tasks, live or being killed,
  // <= U (no health check fails here: no health surge).
  void Check(const std::string& when) {
    const RolloutBounds bounds = RolloutBoundsOf(service_.spec());
    const int ready = Ready();
    if (ready < std::min(bounds.min_ready, baseline_)) {
      violations_.push_back(absl::StrCat(absl::FormatTime(now_), " ", when, ": ", ready,
                                         " ready, below ", bounds.min_ready));
    }
    const int total = static_cast<int>(tasks_.size());  // ended ones are dropped
    if (total > bounds.max_tasks + health_allowance_) {
      violations_.push_back(absl::StrCat(absl::FormatTime(now_), " ", when, ": ", total,
                                         " tasks, above ", bounds.max_tasks));
    }
  }

  v1::Service service_;
  std::vector<v1::Task> tasks_;
  v1::records::TaskRecords records_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  int next_id_ = 0;
  int baseline_ = 0;
  int health_allowance_ = 0;
  std::map<std::string, int> sick_;  // task id -> rounds unhealthy left
  std::vector<std::string> health_kills_;
  std::set<uint64_t> failing_, never_ready_;
  std::vector<std::string> violations_;
  std::vector<v1::Deployment::State> states_;
};

struct SimCase {
  const char* name;
  std::optional<double> min_health, max_over;
  std::vector<double> steps;  // > 0: instances; < 0: -percent
  bool oldest_first = false;
};

void PrintTo(const SimCase& c, std::ostream* os) { *os << c.name; }

std::function<void(v1::ServiceSpec&)> StrategyOf(const SimCase& c) {
  return [c](v1::ServiceSpec& spec) {
    spec.mutable_command()->set_shell("v2");
    v1::UpgradeStrategy* strategy = spec.mutable_upgrade_strategy();
    if (c.min_health) strategy->set_minimum_health_capacity(*c.min_health);
    if (c.max_over) strategy->set_maximum_over_capacity(*c.max_over);
    for (double step : c.steps) {
      if (step > 0) {
        strategy->add_steps()->set_instances(static_cast<uint32_t>(step));
      } else {
        strategy->add_steps()->set_percent(-step);
      }
    }
    if (c.oldest_first) strategy->set_kill_selection(v1::UpgradeStrategy::OLDEST_FIRST);
  };
}

class RolloutSimulationTest : public ::testing::TestWithParam<std::tuple<uint32_t, SimCase>> {};

TEST_P(RolloutSimulationTest, EndsWithEveryTaskNewWithinTheBounds) {
  const auto& [instances, c] = GetParam();
  Rollout rollout(instances, StrategyOf(c));
  const int rounds = rollout.RunWhileRollingOut();
  EXPECT_EQ(v1::Deployment::State_Name(rollout.state()), "SUCCEEDED")
      << rollout.deployment().failure_reason() << " after " << rounds << " rounds";
  EXPECT_THAT(rollout.violations(), IsEmpty());
  EXPECT_EQ(rollout.ReadyOf(2), static_cast<int>(instances));
  EXPECT_EQ(rollout.Live(1), 0);
  rollout.Round();  // the last killed ones end; nothing else moves
  EXPECT_EQ(rollout.size(), instances);
  EXPECT_EQ(rollout.ReadyOf(2), static_cast<int>(instances));
  EXPECT_THAT(rollout.violations(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    Strategies, RolloutSimulationTest,
    ::testing::Combine(
        ::testing::Values(1u, 3u, 20u),
        ::testing::Values(
            SimCase{.name = "Defaults"},
            SimCase{.name = "NinetyTen", .min_health = 0.9, .max_over = 0.1},
            SimCase{.name = "HalfNoSurge", .min_health = 0.5, .max_over = 0},
            SimCase{.name = "ZeroZero", .min_health = 0, .max_over = 0},
            SimCase{.name = "FullNoSurge", .min_health = 1, .max_over = 0},
            SimCase{.name = "ZeroFull", .min_health = 0, .max_over = 1},
            SimCase{.name = "OneAtATimeOldest",
                    .min_health = 1,
                    .max_over = 0.05,
                    .oldest_first = true},
            SimCase{
                .name = "PercentSteps", .min_health = 0.9, .max_over = 0.1, .steps = {-10, -50}},
            SimCase{.name = "Canary", .steps = {1}})),
    [](const auto& info) {
      return absl::StrCat(std::get<1>(info.param).name, "_", std::get<0>(info.param));
    });

class PausedSimulationTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(PausedSimulationTest, StopsAtEveryStepUntilResumed) {
  const uint32_t instances = GetParam();
  const SimCase c{.name = "Paused", .min_health = 1, .max_over = 0.1, .steps = {1, -50}};
  Rollout rollout(instances, [&](v1::ServiceSpec& spec) {
    StrategyOf(c)(spec);
    spec.mutable_upgrade_strategy()->set_pause_after_step(true);
  });
  const int half = static_cast<int>((instances + 1) / 2);
  for (int target : {1, half}) {
    SCOPED_TRACE(target);
    rollout.RunWhileRollingOut();
    ASSERT_EQ(v1::Deployment::State_Name(rollout.state()), "PAUSED");
    EXPECT_TRUE(rollout.deployment().step_done());
    for (int i = 0; i < 5; ++i) rollout.Round();  // it stays there
    EXPECT_EQ(rollout.state(), v1::Deployment::PAUSED);
    EXPECT_EQ(rollout.ReadyOf(2), target);
    EXPECT_EQ(rollout.Live(1), static_cast<int>(instances) - target);
    EXPECT_EQ(rollout.size(), instances);
    rollout.Resume();
  }
  rollout.RunWhileRollingOut();
  EXPECT_EQ(v1::Deployment::State_Name(rollout.state()), "SUCCEEDED");
  EXPECT_EQ(rollout.ReadyOf(2), static_cast<int>(instances));
  EXPECT_EQ(rollout.Live(1), 0);
  EXPECT_THAT(rollout.violations(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Sizes, PausedSimulationTest, ::testing::Values(3u, 20u));

TEST(FailureSimulationTest, FailingTasksRollBackWithAutoRollback) {
  for (bool auto_rollback : {true, false}) {
    SCOPED_TRACE(auto_rollback);
    Rollout rollout(3, [&](v1::ServiceSpec& spec) {
      spec.mutable_upgrade_strategy()->set_auto_rollback(auto_rollback);
    });
    rollout.FailVersion(2);
    rollout.RunWhileRollingOut();
    EXPECT_THAT(rollout.violations(), IsEmpty());
    if (auto_rollback) {
      EXPECT_EQ(v1::Deployment::State_Name(rollout.state()), "ROLLED_BACK");
      EXPECT_THAT(rollout.states(), ::testing::ElementsAre(v1::Deployment::ROLLING_BACK,
                                                           v1::Deployment::ROLLED_BACK));
    } else {
      EXPECT_EQ(v1::Deployment::State_Name(rollout.state()), "FAILED");
    }
    EXPECT_EQ(rollout.deployment().failure_reason(),
              "3 tasks of version 2 failed (threshold 3): exited with status 1");
    // Stopped in place or rolled back, the old tasks still serve.
    for (int i = 0; i < 3; ++i) rollout.Round();
    EXPECT_EQ(rollout.ReadyOf(1), 3);
  }
}

TEST(FailureSimulationTest, TasksNeverReadyMissTheDeadlineAndAreRolledBack) {
  for (uint32_t instances : {1u, 3u, 20u}) {
    SCOPED_TRACE(instances);
    Rollout rollout(instances, [](v1::ServiceSpec& spec) {
      spec.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::TCP);
      spec.mutable_upgrade_strategy()->set_minimum_health_capacity(0.5);
      spec.mutable_upgrade_strategy()->set_maximum_over_capacity(0.1);
      spec.mutable_upgrade_strategy()->mutable_progress_deadline()->set_seconds(60);
      spec.mutable_upgrade_strategy()->set_auto_rollback(true);
    });
    rollout.NeverReady(2);
    const int rounds = rollout.RunWhileRollingOut();
    EXPECT_LT(rounds, 100);
    EXPECT_EQ(v1::Deployment::State_Name(rollout.state()), "ROLLED_BACK");
    EXPECT_THAT(rollout.violations(), IsEmpty());
    rollout.Round();
    EXPECT_EQ(rollout.Live(2), 0);
    EXPECT_EQ(rollout.ReadyOf(1), static_cast<int>(instances));
  }
}

// New tasks with a health check (10 s, 3 failures): `sick` is unhealthy for
// good, `flapping` for one round.
std::function<void(v1::ServiceSpec&)> Checked(double min_health, double max_over) {
  return [=](v1::ServiceSpec& spec) {
    spec.mutable_health_check()->set_protocol(v1::HealthCheck::HTTP);
    spec.mutable_health_check()->mutable_interval()->set_seconds(10);
    spec.mutable_health_check()->set_consecutive_failures(3);
    spec.mutable_upgrade_strategy()->set_minimum_health_capacity(min_health);
    spec.mutable_upgrade_strategy()->set_maximum_over_capacity(max_over);
  };
}

TEST(HealthSimulationTest, AFailedNewTaskIsReplacedAndCountsAsAFailure) {
  for (uint32_t instances : {1u, 3u, 20u}) {
    SCOPED_TRACE(instances);
    Rollout rollout(instances, Checked(1, 0.1));
    rollout.Sicken(0, -1);
    rollout.RunWhileRollingOut();
    EXPECT_EQ(v1::Deployment::State_Name(rollout.state()), "SUCCEEDED")
        << rollout.deployment().failure_reason();
    EXPECT_THAT(rollout.violations(), IsEmpty());
    ASSERT_EQ(rollout.health_kills().size(), 1u);
    EXPECT_EQ(rollout.health_kills()[0], absl::StrCat("t", instances));
    rollout.Round();
    EXPECT_EQ(rollout.FailuresOf(2), 1u);
    EXPECT_EQ(rollout.ReadyOf(2), static_cast<int>(instances));
  }
}

TEST(HealthSimulationTest, AFlappingNewTaskIsNeitherReplacedNorAFailure) {
  Rollout rollout(3, Checked(1, 0.1));
  rollout.Sicken(0, 1);
  rollout.RunWhileRollingOut();
  EXPECT_EQ(v1::Deployment::State_Name(rollout.state()), "SUCCEEDED");
  EXPECT_THAT(rollout.health_kills(), IsEmpty());
  EXPECT_EQ(rollout.FailuresOf(2), 0u);
  EXPECT_THAT(rollout.violations(), IsEmpty());
}

TEST(HealthSimulationTest, NewTasksFailingTheirChecksFailTheDeployment) {
  Rollout rollout(3, [](v1::ServiceSpec& spec) {
    Checked(1, 1)(spec);
    spec.mutable_upgrade_strategy()->set_auto_rollback(true);
  });
  for (int i = 0; i < 10; ++i) rollout.Sicken(i, -1);
  rollout.RunWhileRollingOut();
  EXPECT_EQ(v1::Deployment::State_Name(rollout.state()), "ROLLED_BACK");
  EXPECT_THAT(rollout.deployment().failure_reason(), ::testing::StartsWith("3 tasks of version 2"));
  EXPECT_THAT(rollout.violations(), IsEmpty());
  rollout.Round();
  EXPECT_EQ(rollout.ReadyOf(1), 3);
  EXPECT_EQ(rollout.Live(2), 0);
}

}  // namespace
}  // namespace mast
