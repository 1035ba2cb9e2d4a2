#include "mastctl/rollout_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mast::ctl {
namespace {

using ::testing::HasSubstr;

v1::Deployment Deployment(v1::Deployment::State state) {
  v1::Deployment d;
  d.set_id("7-ab12");
  d.set_state(state);
  d.set_step(0);
  d.set_step_count(2);
  v1::DeploymentProgress* p = d.mutable_progress();
  p->set_target_instances(10);
  p->set_step_target(1);
  p->set_new_tasks(4);
  p->set_new_ready(3);
  p->set_old_tasks(7);
  return d;
}

TEST(ProgressLineTest, SaysTheStepAndTheNewAndOldTasks) {
  EXPECT_EQ(ProgressLine(Deployment(v1::Deployment::RUNNING)),
            "deployment 7-ab12: step 1/2, new 3/10 ready, old 7");
  EXPECT_EQ(ProgressLine(Deployment(v1::Deployment::PAUSED)),
            "deployment 7-ab12: PAUSED, step 1/2, new 3/10 ready, old 7");
  v1::Deployment failed = Deployment(v1::Deployment::FAILED);
  failed.set_step(1);
  failed.mutable_progress()->set_failed_new_tasks(3);
  failed.set_failure_reason("3 new tasks failed");
  EXPECT_EQ(ProgressLine(failed),
            "deployment 7-ab12: FAILED, step 2/2, new 3/10 ready, old 7, 3 failed: 3 new tasks "
            "failed");
  // Without a step count (not stored yet): one step.
  v1::Deployment bare;
  bare.set_id("1-x");
  bare.set_state(v1::Deployment::RUNNING);
  EXPECT_EQ(ProgressLine(bare), "deployment 1-x: step 1/1, new 0/0 ready, old 0");
}

TEST(RolloutExitCodeTest, EveryEndHasItsOwnCode) {
  EXPECT_EQ(RolloutExitCode(v1::Deployment::SUCCEEDED), 0);
  EXPECT_EQ(RolloutExitCode(v1::Deployment::PAUSED), 3);
  EXPECT_EQ(RolloutExitCode(v1::Deployment::FAILED), 4);
  EXPECT_EQ(RolloutExitCode(v1::Deployment::ROLLED_BACK), 5);
  EXPECT_EQ(RolloutExitCode(v1::Deployment::CANCELLED), 6);
  EXPECT_EQ(RolloutExitCode(v1::Deployment::RUNNING), std::nullopt);
  EXPECT_EQ(RolloutExitCode(v1::Deployment::ROLLING_BACK), std::nullopt);
  EXPECT_EQ(RolloutExitCode(v1::Deployment::STATE_UNSPECIFIED), std::nullopt);
  // Distinct from the usage (2), error (1) and timeout (7) codes.
  EXPECT_NE(kRolloutTimedOut, kRolloutFailed);
  EXPECT_NE(kRolloutTimedOut, kRolloutPaused);
}

TEST(HistoryRowTest, ShowsCauseVersionsStateTimesAndReason) {
  v1::Deployment d = Deployment(v1::Deployment::ROLLED_BACK);
  d.set_cause(v1::Deployment::UPDATE);
  d.set_from_version(3);
  d.set_to_version(4);
  d.mutable_created()->set_seconds(1764780000);  // 2025-12-03T16:40:00Z
  d.set_failure_reason("progress deadline passed");
  const std::string row = HistoryRow(d);
  EXPECT_THAT(row, HasSubstr("7-ab12"));
  EXPECT_THAT(row, HasSubstr(" update "));
  EXPECT_THAT(row, HasSubstr(" 3->4 "));
  EXPECT_THAT(row, HasSubstr(" ROLLED_BACK "));
  EXPECT_THAT(row, HasSubstr("2025-12-03T16:40:00Z"));
  EXPECT_THAT(row, HasSubstr(" - "));  // not finished
  EXPECT_THAT(row, HasSubstr("progress deadline passed"));
  EXPECT_THAT(HistoryHeader(), HasSubstr("VERSIONS"));
  // Columns line up with the header.
  EXPECT_EQ(HistoryHeader().find("CAUSE"), row.find("update"));
}

}  // namespace
}  // namespace mast::ctl
