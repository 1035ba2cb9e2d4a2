#include "zk/throttled_zk_client.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/fakes/manual_clock.h"

namespace mast {
namespace {

using ::mast::testing::FakeZkClient;
using ::mast::testing::FakeZkEnsemble;
using ::testing::ElementsAre;

class ThrottledZkClientTest : public ::testing::Test {
 protected:
  ThrottledZkClientTest() : loop_(clock_, "zk"), zk_(ensemble_, loop_), throttled_(zk_, 2) {
    zk_.Connect();
    Settle();
  }
  void Settle() {
    for (int i = 0; i < 10; ++i) loop_.Flush();
  }

  ManualClock clock_;
  EventLoop loop_;
  FakeZkEnsemble ensemble_;
  FakeZkClient zk_;
  ThrottledZkClient throttled_;
};

TEST_F(ThrottledZkClientTest, KeepsAtMostMaxInFlightAndSendsTheRestInOrder) {
  std::vector<std::string> answered;
  size_t in_flight = 0, waiting = 0;
  loop_.Post([&] {
    for (const char* name : {"/a", "/b", "/c", "/d"}) {
      throttled_.Create(name, "", ZkCreateMode::kPersistent,
                        [&answered](absl::StatusOr<ZkCreated> created) {
                          answered.push_back(created.ok() ? created->path : "error");
                        });
    }
    in_flight = throttled_.in_flight();
    waiting = throttled_.waiting();
  });
  loop_.Flush();
  EXPECT_EQ(in_flight, 2u);
  EXPECT_EQ(waiting, 2u);
  Settle();
  EXPECT_THAT(answered, ElementsAre("/a", "/b", "/c", "/d"));
  EXPECT_TRUE(ensemble_.Exists("/d"));
  loop_.Post([&] { in_flight = throttled_.in_flight(); });
  loop_.Flush();
  EXPECT_EQ(in_flight, 0u);
}

TEST_F(ThrottledZkClientTest, AReadAfterAWriteThroughItSeesTheWrite) {
  std::string seen;
  loop_.Post([&] {
    throttled_.Create("/x", "1", ZkCreateMode::kPersistent, [](auto) {});
    throttled_.Create("/y", "", ZkCreateMode::kPersistent, [](auto) {});
    throttled_.Set("/x", "2", -1, [](auto) {});  // queued behind the two creates
    throttled_.Get("/x", nullptr, [&](absl::StatusOr<ZkNode> node) {
      seen = node.ok() ? node->data : node.status().ToString();
    });
  });
  Settle();
  EXPECT_EQ(seen, "2");
}

TEST_F(ThrottledZkClientTest, WatchesAndErrorsPassThrough) {
  bool fired = false;
  absl::Status missing;
  loop_.Post([&] {
    throttled_.Exists(
        "/w", [&](const ZkWatchEvent&) { fired = true; }, [](auto) {});
    throttled_.Delete("/nope", -1, [&](absl::Status s) { missing = s; });
  });
  Settle();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  loop_.Post([&] { zk_.Create("/w", "", ZkCreateMode::kPersistent, [](auto) {}); });
  Settle();
  EXPECT_TRUE(fired);
}

}  // namespace
}  // namespace mast
