#include "common/backoff.h"

#include "absl/random/random.h"
#include "gtest/gtest.h"

namespace mast {
namespace {

TEST(BackoffTest, GrowsToTheCapWithoutJitter) {
  Backoff backoff({absl::Milliseconds(100), absl::Milliseconds(500), 2.0, 0.0});
  absl::BitGen gen;
  EXPECT_EQ(backoff.Next(gen), absl::Milliseconds(100));
  EXPECT_EQ(backoff.Next(gen), absl::Milliseconds(200));
  EXPECT_EQ(backoff.Next(gen), absl::Milliseconds(400));
  EXPECT_EQ(backoff.Next(gen), absl::Milliseconds(500));
  EXPECT_EQ(backoff.Next(gen), absl::Milliseconds(500));
  EXPECT_EQ(backoff.failures(), 5);
  backoff.Reset();
  EXPECT_EQ(backoff.Next(gen), absl::Milliseconds(100));
}

TEST(BackoffTest, JitterStaysWithinItsFraction) {
  Backoff backoff({absl::Seconds(1), absl::Seconds(1), 2.0, 0.5});
  absl::BitGen gen;
  absl::Duration lowest = absl::InfiniteDuration();
  absl::Duration highest = absl::ZeroDuration();
  for (int i = 0; i < 1000; ++i) {
    absl::Duration d = backoff.Next(gen);
    lowest = std::min(lowest, d);
    highest = std::max(highest, d);
  }
  EXPECT_GE(lowest, absl::Milliseconds(500));
  EXPECT_LE(highest, absl::Seconds(1));
  EXPECT_LT(lowest, highest);  // it does vary
}

struct ConfigCase {
  BackoffConfig config;
  const char* field;  // empty: valid
};

TEST(BackoffTest, ValidatesEveryField) {
  const ConfigCase cases[] = {
      {{absl::Milliseconds(1), absl::Seconds(1), 2.0, 0.5}, ""},
      {{absl::ZeroDuration(), absl::Seconds(1), 2.0, 0.5}, "backoff.initial"},
      {{absl::Seconds(2), absl::Seconds(1), 2.0, 0.5}, "backoff.max"},
      {{absl::Seconds(1), absl::Seconds(2), 0.5, 0.5}, "backoff.multiplier"},
      {{absl::Seconds(1), absl::Seconds(2), 2.0, 1.5}, "backoff.jitter"},
      {{absl::Seconds(1), absl::Seconds(2), 2.0, -0.1}, "backoff.jitter"},
  };
  for (const ConfigCase& c : cases) {
    absl::Status status = ValidateBackoffConfig(c.config);
    if (std::string(c.field).empty()) {
      EXPECT_TRUE(status.ok()) << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
      EXPECT_NE(status.message().find(c.field), absl::string_view::npos) << status;
    }
  }
}

}  // namespace
}  // namespace mast
