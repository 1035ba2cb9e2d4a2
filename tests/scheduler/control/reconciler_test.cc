// Reconciler on a strict recording caller and a driven loop: explicit
// reconciliation in batches, resent with backoff for the unanswered, then
// implicit, periodically; and the decisions about unknown tasks.
#include "scheduler/control/reconciler.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/recording_caller.h"

namespace mast {
namespace {

using Call = ::mesos::v1::scheduler::Call;
using ::mast::testing::RecordingCaller;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest()
      : metrics_(registry_),
        calls_(caller_, driven_.clock(), &metrics_),
        reconciler_(std::make_unique<Reconciler>(
            config_, calls_, driven_.loop(), driven_.clock(), &metrics_,
            [this](absl::Time at) { reconciled_at_.push_back(at); })) {}
  void TearDown() override { caller_.VerifyAllMade(); }

  // The task IDs of each RECONCILE call since the last look (empty for an
  // implicit one).
  std::vector<std::set<std::string>> TakeReconciles() {
    std::vector<std::set<std::string>> out;
    for (size_t i = seen_; i < caller_.sent.size(); ++i) {
      const Call& call = caller_.sent[i].call;
      if (call.type() != Call::RECONCILE) continue;
      std::set<std::string>& ids = out.emplace_back();
      for (const auto& task : call.reconcile().tasks()) ids.insert(task.task_id().value());
    }
    seen_ = caller_.sent.size();
    return out;
  }

  static std::set<std::string> Ids(std::initializer_list<const char*> ids) {
    return {ids.begin(), ids.end()};
  }

  DrivenLoop driven_;
  prometheus::Registry registry_;
  SchedulerMetrics metrics_;
  RecordingCaller caller_;
  MesosCalls calls_;
  Reconciler::Config config_{.batch = 2,
                             .retry = {absl::Seconds(1), absl::Seconds(4), 2.0, 0.0},
                             .interval = absl::Minutes(10)};
  std::unique_ptr<Reconciler> reconciler_;
  std::vector<absl::Time> reconciled_at_;
  size_t seen_ = 0;
};

TEST_F(ReconcilerTest, ExplicitInBatchesThenImplicitOnceEveryTaskAnswered) {
  caller_.Expect(Call::RECONCILE, 2);
  reconciler_->Start({{"t1", "a1"}, {"t2", "a1"}, {"t3", ""}});
  EXPECT_EQ(metrics_.reconcile_unanswered.Value(), 3);
  std::vector<std::set<std::string>> sent = TakeReconciles();
  ASSERT_THAT(sent, SizeIs(2)) << "batches of 2";
  EXPECT_EQ(sent[0].size() + sent[1].size(), 3u);
  const Call& first = caller_.sent[0].call;
  for (const auto& task : first.reconcile().tasks()) {
    if (task.task_id().value() != "t3") EXPECT_EQ(task.agent_id().value(), "a1");
  }
  reconciler_->Answered("t1");
  reconciler_->Answered("t2");
  reconciler_->Answered("unknown");  // not asked about: no effect
  EXPECT_FALSE(reconciler_->reconciled());
  EXPECT_EQ(metrics_.reconcile_unanswered.Value(), 1);
  caller_.Expect(Call::RECONCILE);  // the implicit one
  driven_.Advance(absl::Milliseconds(500));
  reconciler_->Answered("t3");
  EXPECT_TRUE(reconciler_->reconciled());
  EXPECT_THAT(reconciled_at_, ElementsAre(driven_.Now()));
  EXPECT_THAT(TakeReconciles(), ElementsAre(IsEmpty())) << "one implicit RECONCILE, no tasks";
  EXPECT_EQ(metrics_.reconciliations.Value(), 1);
  EXPECT_DOUBLE_EQ(metrics_.reconcile_seconds.Value(), 0.5);
  EXPECT_EQ(metrics_.reconcile_unanswered.Value(), 0);
}

TEST_F(ReconcilerTest, TheUnansweredAreAskedAgainWithGrowingBackoff) {
  caller_.Expect(Call::RECONCILE, 1);
  reconciler_->Start({{"t1", "a1"}, {"t2", "a1"}});
  TakeReconciles();
  reconciler_->Answered("t1");
  caller_.Expect(Call::RECONCILE, 1);
  driven_.Advance(absl::Seconds(1));
  EXPECT_THAT(TakeReconciles(), ElementsAre(Ids({"t2"})));
  driven_.Advance(absl::Seconds(1));
  EXPECT_THAT(TakeReconciles(), IsEmpty()) << "the second resend waits 2 s";
  caller_.Expect(Call::RECONCILE, 1);
  driven_.Advance(absl::Seconds(1));
  EXPECT_THAT(TakeReconciles(), ElementsAre(Ids({"t2"})));
}

TEST_F(ReconcilerTest, NoTaskCompletesAtOnceAndImplicitRepeatsEveryInterval) {
  caller_.Expect(Call::RECONCILE);
  reconciler_->Start({});
  EXPECT_TRUE(reconciler_->reconciled());
  EXPECT_THAT(TakeReconciles(), ElementsAre(IsEmpty()));
  driven_.Advance(config_.interval - absl::Seconds(1));
  EXPECT_THAT(TakeReconciles(), IsEmpty());
  caller_.Expect(Call::RECONCILE, 2);
  driven_.Advance(absl::Seconds(1) + config_.interval);
  EXPECT_THAT(TakeReconciles(), ElementsAre(IsEmpty(), IsEmpty()));
}

TEST_F(ReconcilerTest, TasksOfAFailedAcceptAreAskedAbout) {
  caller_.Expect(Call::RECONCILE);
  reconciler_->Start({{"t1", "a1"}});
  TakeReconciles();
  // During the explicit phase (its resend timer is set) they join the resend.
  reconciler_->Ask({{"t9", "a2"}});
  EXPECT_EQ(metrics_.reconcile_unanswered.Value(), 2);
  EXPECT_THAT(TakeReconciles(), IsEmpty());
  caller_.Expect(Call::RECONCILE);
  driven_.Advance(absl::Seconds(1));
  EXPECT_THAT(TakeReconciles(), ElementsAre(Ids({"t1", "t9"})));
  reconciler_->Answered("t9");
  caller_.Expect(Call::RECONCILE);  // the implicit one
  reconciler_->Answered("t1");
  EXPECT_TRUE(reconciler_->reconciled());
}

TEST_F(ReconcilerTest, ADestroyedReconcilerSendsNothingMore) {
  caller_.Expect(Call::RECONCILE);
  reconciler_->Start({{"t1", "a1"}});
  reconciler_.reset();
  EXPECT_EQ(metrics_.reconcile_unanswered.Value(), 0) << "the next subscription asks anew";
  driven_.Advance(absl::Hours(1));
  EXPECT_THAT(caller_.sent, SizeIs(1));
}

TEST(DecideUnknownTaskTest, AdoptKeepKillOrIgnore) {
  struct Case {
    bool terminal, adopts, unreadable;
    UnknownTaskAction want;
  };
  const Case cases[] = {
      {true, true, true, UnknownTaskAction::kIgnore},
      {true, false, false, UnknownTaskAction::kIgnore},
      {false, true, false, UnknownTaskAction::kAdopt},
      {false, true, true, UnknownTaskAction::kAdopt},
      {false, false, true, UnknownTaskAction::kKeep},
      {false, false, false, UnknownTaskAction::kKill},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DecideUnknownTask(c.terminal, c.adopts, c.unreadable), c.want)
        << "terminal=" << c.terminal << " adopts=" << c.adopts << " unreadable=" << c.unreadable;
  }
}

}  // namespace
}  // namespace mast
