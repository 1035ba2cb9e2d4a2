#include "store/deployments.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/proto_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/deployment_progress.h"

namespace mast {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

v1::ServiceSpec Spec(const std::string& shell, uint32_t instances = 4) {
  v1::ServiceSpec spec;
  spec.set_name("web");
  spec.mutable_command()->set_shell(shell);
  spec.set_instances(instances);
  return spec;
}

// A record at `version` with `spec`, as a write leaves it before the deployment starts.
v1::records::ServiceRecord Record(const v1::ServiceSpec& spec, uint64_t version,
                                  uint64_t task_version) {
  v1::records::ServiceRecord record;
  *record.mutable_service()->mutable_spec() = spec;
  record.mutable_service()->set_version(version);
  record.mutable_service()->set_task_version(task_version);
  return record;
}

// Updates `record` to `spec` (version + 1, a new task_version) and starts a deployment.
void Deploy(v1::records::ServiceRecord& record, const v1::ServiceSpec& spec, absl::Time now) {
  const v1::Service from = record.service();
  v1::Service* service = record.mutable_service();
  service->set_version(from.version() + 1);
  service->set_task_version(from.version() + 1);
  *service->mutable_spec() = spec;
  ASSERT_TRUE(StartDeployment(record, from, v1::Deployment::UPDATE, now).ok());
}

DeploymentTransition To(const v1::records::ServiceRecord& record, v1::Deployment::State state,
                        uint32_t step = 0, const std::string& reason = "") {
  return DeploymentTransition{record.service().deployment().id(), state, step, reason};
}

TEST(DeploymentsTest, StartRecordsBothSides) {
  v1::ServiceSpec to = Spec("v2");
  to.mutable_upgrade_strategy()->add_steps()->set_instances(1);
  v1::records::ServiceRecord record = Record(Spec("v1"), 3, 2);
  Deploy(record, to, kT0);
  const v1::Deployment& d = record.service().deployment();
  EXPECT_THAT(d.id(), MatchesRegex("4-[0-9a-f]+"));
  EXPECT_EQ(d.service(), "web");
  EXPECT_EQ(d.cause(), v1::Deployment::UPDATE);
  EXPECT_EQ(d.from_version(), 3u);
  EXPECT_EQ(d.from_task_version(), 2u);
  EXPECT_EQ(d.from_spec().command().shell(), "v1");
  EXPECT_EQ(d.to_version(), 4u);
  EXPECT_EQ(d.to_task_version(), 4u);
  EXPECT_EQ(d.to_spec().command().shell(), "v2");
  EXPECT_EQ(d.state(), v1::Deployment::RUNNING);
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(d.step_count(), 2u);  // 1, then the implied 4
  EXPECT_EQ(FromProtoTimestamp(d.created()), kT0);
  EXPECT_EQ(FromProtoTimestamp(d.step_started()), kT0);
  EXPECT_TRUE(HasActiveDeployment(record.service()));

  // One at a time; the id holds the time (unique across a re-create).
  v1::Service from = record.service();
  absl::Status again = StartDeployment(record, from, v1::Deployment::RESTART, kT0);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.message(), HasSubstr("in progress (RUNNING)"));
  EXPECT_NE(DeploymentId(4, kT0), DeploymentId(4, kT0 + absl::Microseconds(1)));
}

TEST(DeploymentsTest, TransitionsMoveStepsAndPause) {
  v1::ServiceSpec to = Spec("v2");
  to.mutable_upgrade_strategy()->add_steps()->set_instances(1);
  to.mutable_upgrade_strategy()->add_steps()->set_percent(50);
  v1::records::ServiceRecord record = Record(Spec("v1"), 1, 1);
  Deploy(record, to, kT0);
  ASSERT_EQ(record.service().deployment().step_count(), 3u);

  ASSERT_TRUE(
      ApplyTransition(record, To(record, v1::Deployment::PAUSED), kT0 + absl::Seconds(1)).ok());
  EXPECT_EQ(record.service().deployment().state(), v1::Deployment::PAUSED);
  EXPECT_TRUE(record.service().deployment().step_done());
  EXPECT_EQ(record.service().deployment().step(), 0u);
  EXPECT_TRUE(HasActiveDeployment(record.service()));

  const absl::Time t2 = kT0 + absl::Seconds(2);
  ASSERT_TRUE(ApplyTransition(record, To(record, v1::Deployment::RUNNING, 1), t2).ok());
  const v1::Deployment& d = record.service().deployment();
  EXPECT_EQ(d.state(), v1::Deployment::RUNNING);
  EXPECT_EQ(d.step(), 1u);
  EXPECT_FALSE(d.step_done());
  EXPECT_EQ(FromProtoTimestamp(d.step_started()), t2);
  EXPECT_EQ(FromProtoTimestamp(d.updated()), t2);
  EXPECT_EQ(record.service().version(), 2u);  // a step is no new version

  EXPECT_EQ(ApplyTransition(record, To(record, v1::Deployment::RUNNING, 3), t2).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyTransition(record, To(record, v1::Deployment::STATE_UNSPECIFIED), t2).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DeploymentsTest, RollingBackRestoresTheFromSpec) {
  v1::records::ServiceRecord record = Record(Spec("v1", 4), 5, 3);
  Deploy(record, Spec("v2", 4), kT0);
  record.mutable_service()->mutable_spec()->set_instances(6);  // a scale meanwhile
  record.mutable_service()->set_version(7);
  ASSERT_TRUE(ApplyTransition(record, To(record, v1::Deployment::ROLLING_BACK, 0, "3 failures"),
                              kT0 + absl::Seconds(9))
                  .ok());
  const v1::Service& service = record.service();
  EXPECT_EQ(service.spec().command().shell(), "v1");
  EXPECT_EQ(service.spec().instances(), 6u);  // the scale stays
  EXPECT_EQ(service.task_version(), 3u);
  EXPECT_EQ(service.version(), 8u);
  EXPECT_EQ(FromProtoTimestamp(service.updated()), kT0 + absl::Seconds(9));
  const v1::Deployment& d = service.deployment();
  EXPECT_EQ(d.state(), v1::Deployment::ROLLING_BACK);
  EXPECT_EQ(d.rollback_ends_as(), v1::Deployment::ROLLED_BACK);
  EXPECT_EQ(d.failure_reason(), "3 failures");
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(d.step_count(), 1u);
  EXPECT_EQ(CurrentStepTarget(service), 6u);
  EXPECT_EQ(ApplyTransition(record, To(record, v1::Deployment::ROLLING_BACK), kT0).code(),
            absl::StatusCode::kInvalidArgument);

  // A cancel's rollback ends as CANCELLED.
  v1::records::ServiceRecord cancelled = Record(Spec("v1"), 1, 1);
  Deploy(cancelled, Spec("v2"), kT0);
  cancelled.mutable_service()->mutable_deployment()->set_rollback_ends_as(
      v1::Deployment::CANCELLED);
  ASSERT_TRUE(ApplyTransition(cancelled, To(cancelled, v1::Deployment::ROLLING_BACK), kT0).ok());
  EXPECT_EQ(cancelled.service().deployment().rollback_ends_as(), v1::Deployment::CANCELLED);
}

TEST(DeploymentsTest, EndedDeploymentsGoToTheHistory) {
  v1::records::ServiceRecord record = Record(Spec("v1"), 1, 1);
  Deploy(record, Spec("v2"), kT0);
  const std::string id = record.service().deployment().id();
  const absl::Time done = kT0 + absl::Minutes(1);
  ASSERT_TRUE(ApplyTransition(record, To(record, v1::Deployment::SUCCEEDED), done).ok());
  EXPECT_EQ(record.service().deployment().state(), v1::Deployment::SUCCEEDED);
  EXPECT_EQ(FromProtoTimestamp(record.service().deployment().finished()), done);
  EXPECT_FALSE(HasActiveDeployment(record.service()));
  ASSERT_EQ(record.deployment_history_size(), 1);
  EXPECT_EQ(record.deployment_history(0).id(), id);
  EXPECT_EQ(record.deployment_history(0).state(), v1::Deployment::SUCCEEDED);

  // A transition of a deployment no longer in progress, or of another one.
  absl::Status stale = ApplyTransition(record, To(record, v1::Deployment::RUNNING, 0), done);
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(stale.message(), HasSubstr(id));
  Deploy(record, Spec("v3"), done);
  DeploymentTransition other{id, v1::Deployment::FAILED, 0, "x"};
  EXPECT_EQ(ApplyTransition(record, other, done).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ApplyTransition(record, To(record, v1::Deployment::FAILED, 0, "deadline"), done).ok(),
            true);
  EXPECT_EQ(record.deployment_history(1).failure_reason(), "deadline");

  // EndDeployment: a no-op without an active one.
  EndDeployment(record, v1::Deployment::CANCELLED, "service deleted", done);
  EXPECT_EQ(record.deployment_history_size(), 2);
  Deploy(record, Spec("v4"), done);
  EndDeployment(record, v1::Deployment::CANCELLED, "service deleted", done);
  EXPECT_EQ(record.service().deployment().state(), v1::Deployment::CANCELLED);
  EXPECT_EQ(record.service().deployment().failure_reason(), "service deleted");
  EXPECT_EQ(record.deployment_history_size(), 3);
}

TEST(DeploymentsTest, HistoryIsBoundedByCount) {
  v1::records::ServiceRecord record = Record(Spec("v0"), 1, 1);
  for (int i = 1; i <= 13; ++i) {
    Deploy(record, Spec(absl::StrCat("v", i)), kT0 + absl::Seconds(i));
    EndDeployment(record, v1::Deployment::SUCCEEDED, "", kT0 + absl::Seconds(i));
  }
  ASSERT_EQ(record.deployment_history_size(), static_cast<int>(kDeploymentHistory));
  EXPECT_EQ(record.deployment_history(0).to_spec().command().shell(), "v4");  // oldest dropped
  EXPECT_EQ(record.deployment_history(9).to_spec().command().shell(), "v13");
}

TEST(DeploymentsTest, HistoryIsBoundedByBytes) {
  // Each deployment holds two 40 KB specs: about three fit in 256 KiB.
  v1::records::ServiceRecord record = Record(Spec(std::string(40000, '0')), 1, 1);
  for (int i = 1; i <= 6; ++i) {
    Deploy(record, Spec(std::string(40000, static_cast<char>('0' + i))), kT0 + absl::Seconds(i));
    EndDeployment(record, v1::Deployment::SUCCEEDED, "", kT0 + absl::Seconds(i));
  }
  EXPECT_EQ(record.deployment_history_size(), 3);
  size_t bytes = 0;
  for (const auto& d : record.deployment_history()) bytes += d.ByteSizeLong();
  EXPECT_LE(bytes, kDeploymentHistoryBytes);
  EXPECT_EQ(record.deployment_history(2).to_spec().command().shell()[0], '6');

  // One larger than the budget alone: none kept, service.deployment keeps it.
  Deploy(record, Spec(std::string(250000, 'x')), kT0 + absl::Seconds(7));
  EndDeployment(record, v1::Deployment::SUCCEEDED, "", kT0 + absl::Seconds(7));
  EXPECT_EQ(record.deployment_history_size(), 0);
  EXPECT_EQ(record.service().deployment().state(), v1::Deployment::SUCCEEDED);
}

TEST(DeploymentsTest, SpecsAreKeptByVersion) {
  v1::records::ServiceRecord record = Record(Spec("v1"), 1, 1);
  EXPECT_FALSE(PreviousSpec(record).has_value());
  Deploy(record, Spec("v2"), kT0);  // version 2
  EndDeployment(record, v1::Deployment::SUCCEEDED, "", kT0);
  record.mutable_service()->set_version(3);            // a scale
  Deploy(record, Spec("v4"), kT0 + absl::Seconds(1));  // version 4, from 3

  auto current = SpecAtVersion(record, 4);
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(current->spec.command().shell(), "v4");
  EXPECT_EQ(current->task_version, 4u);
  auto three = SpecAtVersion(record, 3);
  ASSERT_TRUE(three.has_value());
  EXPECT_EQ(three->spec.command().shell(), "v2");
  EXPECT_EQ(three->task_version, 2u);
  auto one = SpecAtVersion(record, 1);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->spec.command().shell(), "v1");
  EXPECT_EQ(SpecAtVersion(record, 2)->spec.command().shell(), "v2");
  EXPECT_FALSE(SpecAtVersion(record, 9).has_value());
  EXPECT_FALSE(SpecAtVersion(record, 0).has_value());

  auto previous = PreviousSpec(record);
  ASSERT_TRUE(previous.has_value());
  EXPECT_EQ(previous->version, 3u);
  EXPECT_EQ(previous->spec.command().shell(), "v2");

  // Once rolled back, the from_spec is current: the previous one is the to_spec.
  ASSERT_TRUE(ApplyTransition(record, To(record, v1::Deployment::ROLLING_BACK), kT0).ok());
  previous = PreviousSpec(record);
  ASSERT_TRUE(previous.has_value());
  EXPECT_EQ(previous->version, 4u);
  EXPECT_EQ(previous->spec.command().shell(), "v4");
}

TEST(DeploymentsTest, StepTargets) {
  struct Case {
    const char* what;
    std::vector<std::pair<bool, double>> steps;  // (percent?, value)
    uint32_t instances;
    uint32_t count;
    std::vector<uint32_t> targets;  // of steps 0..count (one past the last)
  };
  const std::vector<Case> cases = {
      {"no steps", {}, 4, 1, {4, 4}},
      {"one canary", {{false, 1}}, 4, 2, {1, 4, 4}},
      {"percent rounds up", {{true, 10}, {true, 50}}, 5, 3, {1, 3, 5, 5}},
      {"30% of 10 is 3", {{true, 30}}, 10, 2, {3, 10, 10}},
      {"capped at N", {{false, 2}, {false, 9}}, 4, 2, {2, 4, 4}},
      {"a last step of N is not counted twice", {{false, 1}, {true, 100}}, 4, 2, {1, 4, 4}},
      {"count equal to N", {{false, 4}}, 4, 1, {4, 4}},
  };
  for (const Case& c : cases) {
    v1::ServiceSpec spec = Spec("x", c.instances);
    for (auto [percent, value] : c.steps) {
      v1::RolloutStep* step = spec.mutable_upgrade_strategy()->add_steps();
      if (percent) {
        step->set_percent(value);
      } else {
        step->set_instances(static_cast<uint32_t>(value));
      }
    }
    EXPECT_EQ(StepCount(spec), c.count) << c.what;
    for (uint32_t i = 0; i < c.targets.size(); ++i) {
      EXPECT_EQ(StepTarget(spec, i, c.instances), c.targets[i]) << c.what << " step " << i;
    }
  }
  // A scale during the deployment: the last step follows N.
  v1::ServiceSpec canary = Spec("x", 4);
  canary.mutable_upgrade_strategy()->add_steps()->set_percent(50);
  EXPECT_EQ(StepTarget(canary, 0, 8), 4u);
  EXPECT_EQ(StepTarget(canary, 1, 8), 8u);

  v1::records::ServiceRecord record = Record(Spec("v1"), 1, 1);
  EXPECT_EQ(CurrentStepTarget(record.service()), 4u);  // no deployment: N
  Deploy(record, canary, kT0);
  EXPECT_EQ(CurrentStepTarget(record.service()), 2u);
}

}  // namespace
}  // namespace mast
