#include "zk/timed_zk_client.h"

#include <string>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/fakes/manual_clock.h"
#include "tests/support/metric_value.h"

namespace mast {
namespace {

using ::mast::testing::FakeZkClient;
using ::mast::testing::FakeZkEnsemble;
using ::mast::testing::MetricValue;

class TimedZkClientTest : public ::testing::Test {
 protected:
  TimedZkClientTest() : loop_(clock_, "zk"), zk_(ensemble_, loop_), timed_(zk_, metrics_, clock_) {
    zk_.Connect();
    Settle();
  }
  void Settle() {
    for (int i = 0; i < 10; ++i) loop_.Flush();
  }
  std::optional<testing::HistogramValue> Latency(const std::string& op) {
    return testing::HistogramOf(registry_, "mast_zk_request_seconds", {{"op", op}});
  }

  ManualClock clock_;
  EventLoop loop_;
  FakeZkEnsemble ensemble_;
  FakeZkClient zk_;
  prometheus::Registry registry_;
  ZkRequestMetrics metrics_{registry_};
  TimedZkClient timed_;
};

TEST_F(TimedZkClientTest, CountsEachAnswerByOperationAndCodeAndTimesIt) {
  int answers = 0;
  loop_.Post([&] {
    timed_.Create("/a", "x", ZkCreateMode::kPersistent, [&](auto created) {
      EXPECT_TRUE(created.ok());
      ++answers;
    });
    timed_.Create("/a", "x", ZkCreateMode::kPersistent, [&](auto created) {
      EXPECT_EQ(created.status().code(), absl::StatusCode::kAlreadyExists);
      ++answers;
    });
    timed_.Get("/missing", nullptr, [&](auto node) {
      EXPECT_EQ(node.status().code(), absl::StatusCode::kNotFound);
      ++answers;
    });
    // The answers are posted: they run after this much manual time.
    clock_.Advance(absl::Milliseconds(4));
  });
  Settle();
  ASSERT_EQ(answers, 3) << "every caller got its answer through the wrapper";
  EXPECT_EQ(MetricValue(registry_, "mast_zk_requests_total", {{"op", "create"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(MetricValue(registry_, "mast_zk_requests_total",
                        {{"op", "create"}, {"code", "ALREADY_EXISTS"}}),
            1);
  EXPECT_EQ(
      MetricValue(registry_, "mast_zk_requests_total", {{"op", "get"}, {"code", "NOT_FOUND"}}), 1);
  std::optional<testing::HistogramValue> create = Latency("create");
  ASSERT_TRUE(create.has_value());
  EXPECT_EQ(create->count, 2u);
  EXPECT_NEAR(create->sum, 0.008, 1e-9);
  ASSERT_TRUE(Latency("get").has_value());
  EXPECT_EQ(Latency("get")->count, 1u);
  EXPECT_TRUE(ensemble_.Exists("/a"));
}

TEST_F(TimedZkClientTest, WatchesAndMultiPassThrough) {
  bool fired = false;
  int results = -1;
  loop_.Post([&] {
    timed_.Exists(
        "/w", [&](const ZkWatchEvent&) { fired = true; }, [](auto) {});
    std::vector<ZkOp> ops;
    ops.push_back(ZkOp::Create("/w", "", ZkCreateMode::kPersistent));
    timed_.Multi(std::move(ops), [&](auto done) { results = done.ok() ? done->size() : 0; });
  });
  Settle();
  EXPECT_EQ(results, 1);
  EXPECT_TRUE(fired) << "the exists watch saw the create";
  EXPECT_EQ(MetricValue(registry_, "mast_zk_requests_total", {{"op", "multi"}, {"code", "OK"}}), 1);
  EXPECT_EQ(MetricValue(registry_, "mast_zk_requests_total", {{"op", "exists"}, {"code", "OK"}}),
            1);
}

}  // namespace
}  // namespace mast
