// MesosCalls: the shape of the calls, and which kills are due again.
#include "scheduler/control/mesos_calls.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/recording_caller.h"

namespace mast {
namespace {

using Call = ::mesos::v1::scheduler::Call;
using ::mast::testing::RecordingCaller;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

TEST(MesosCallsTest, KillsAreRememberedAndDueAgainAfterThePeriod) {
  DrivenLoop driven;
  prometheus::Registry registry;
  SchedulerMetrics metrics(registry);
  RecordingCaller caller;
  MesosCalls calls(caller, driven.clock(), &metrics);
  v1::Task task;
  task.set_id("t1");
  task.set_agent_id("a1");
  caller.Expect(Call::KILL, 2);
  calls.Kill(task);
  ASSERT_THAT(caller.sent, SizeIs(1));
  EXPECT_EQ(caller.sent[0].call.kill().task_id().value(), "t1");
  EXPECT_EQ(caller.sent[0].call.kill().agent_id().value(), "a1");
  EXPECT_TRUE(calls.KillSentWithin("t1", absl::Seconds(10)));
  EXPECT_THAT(calls.KillsDue(absl::Seconds(10)), IsEmpty());
  driven.Advance(absl::Seconds(10));
  EXPECT_FALSE(calls.KillSentWithin("t1", absl::Seconds(10)));
  EXPECT_THAT(calls.KillsDue(absl::Seconds(10)), UnorderedElementsAre("t1"));
  calls.Kill(task);
  EXPECT_THAT(calls.KillsDue(absl::Seconds(10)), IsEmpty());
  calls.ForgetKill("t1");
  EXPECT_FALSE(calls.KillSentWithin("t1", absl::Seconds(10)));
  EXPECT_EQ(metrics.kills_sent.Value(), 2);
  // Acknowledge only what asks for it; Decline nothing for no offers.
  ::mesos::v1::TaskStatus status;
  status.mutable_task_id()->set_value("t1");
  calls.Acknowledge(status);  // no uuid, no agent
  calls.Decline({}, absl::Seconds(5));
  EXPECT_THAT(caller.sent, SizeIs(2));
  caller.VerifyAllMade();
}

}  // namespace
}  // namespace mast
