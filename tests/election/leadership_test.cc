#include "election/leadership.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mast {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Three parts that log what reaches them, in the daemon's order.
class LeadershipTest : public ::testing::Test {
 protected:
  LeadershipTest() {
    for (const char* name : {"api", "book", "subscription"}) {
      LeadershipHooks hooks;
      hooks.name = name;
      hooks.on_started = [this, name](const LeaderTerm& term) {
        calls_.push_back(absl::StrCat("start ", name, " ", term.fencing_token));
      };
      hooks.on_stopped = [this, name] { calls_.push_back(absl::StrCat("stop ", name)); };
      hooks.on_paused = [this, name](bool paused) {
        calls_.push_back(absl::StrCat(paused ? "pause " : "resume ", name));
      };
      leadership_.Add(std::move(hooks));
    }
  }

  static LeaderTerm Term(uint64_t token) { return LeaderTerm{token, "/mast/election/n_1", {}}; }

  Leadership leadership_;
  std::vector<std::string> calls_;
};

TEST_F(LeadershipTest, StartsInOrderAndStopsInReverse) {
  EXPECT_FALSE(leadership_.leading());
  leadership_.OnStartedLeading(Term(7));
  EXPECT_THAT(calls_, ElementsAre("start api 7", "start book 7", "start subscription 7"));
  EXPECT_TRUE(leadership_.leading());
  ASSERT_TRUE(leadership_.term().has_value());
  EXPECT_EQ(leadership_.term()->fencing_token, 7u);
  calls_.clear();
  leadership_.OnStoppedLeading();
  EXPECT_THAT(calls_, ElementsAre("stop subscription", "stop book", "stop api"));
  EXPECT_FALSE(leadership_.leading());
  EXPECT_FALSE(leadership_.term().has_value());
}

TEST_F(LeadershipTest, PauseRunsInReverseAndResumeInOrder) {
  leadership_.OnStartedLeading(Term(3));
  calls_.clear();
  leadership_.OnPausedChanged(true);
  EXPECT_TRUE(leadership_.paused());
  leadership_.OnPausedChanged(true);  // no change: nothing
  leadership_.OnPausedChanged(false);
  EXPECT_FALSE(leadership_.paused());
  EXPECT_THAT(calls_, ElementsAre("pause subscription", "pause book", "pause api", "resume api",
                                  "resume book", "resume subscription"));
}

TEST_F(LeadershipTest, UnpairedCallsAreIgnored) {
  leadership_.OnStoppedLeading();     // never started
  leadership_.OnPausedChanged(true);  // not leading
  EXPECT_THAT(calls_, IsEmpty());
  leadership_.OnStartedLeading(Term(1));
  leadership_.OnStartedLeading(Term(2));  // already leading: the first term stays
  EXPECT_EQ(leadership_.term()->fencing_token, 1u);
  leadership_.OnPausedChanged(true);
  leadership_.OnStoppedLeading();  // a stop while paused also ends the pause
  EXPECT_FALSE(leadership_.paused());
  leadership_.OnStoppedLeading();
  EXPECT_THAT(calls_, ElementsAre("start api 1", "start book 1", "start subscription 1",
                                  "pause subscription", "pause book", "pause api",
                                  "stop subscription", "stop book", "stop api"));
}

TEST_F(LeadershipTest, EmptyHooksAreSkipped) {
  LeadershipHooks only_stop;
  only_stop.name = "health";
  only_stop.on_stopped = [this] { calls_.push_back("stop health"); };
  leadership_.Add(std::move(only_stop));
  leadership_.OnStartedLeading(Term(5));
  leadership_.OnPausedChanged(true);
  leadership_.OnStoppedLeading();
  EXPECT_EQ(calls_.front(), "start api 5");
  EXPECT_EQ(calls_[6], "stop health");  // added last: stopped first
  EXPECT_EQ(calls_.size(), 10u);
}

}  // namespace
}  // namespace mast
