// LeaderForwarder: one channel to the leader's address, made by the factory
// when the leader (or the address a caller asks for) changes, kept otherwise,
// dropped when no leader is known. Channels connect lazily, so no server is
// needed: the factory's calls are what is observed.
#include "api/leader_forwarder.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mast {
namespace {

using ::testing::ElementsAre;

class LeaderForwarderTest : public ::testing::Test {
 protected:
  LeaderForwarderTest()
      : forwarder_([this](const std::string& address) {
          absl::MutexLock lock(&mu_);
          dialed_.push_back(address);
          return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
        }) {}

  std::vector<std::string> Dialed() {
    absl::MutexLock lock(&mu_);
    return dialed_;
  }

  static LeaderInfo Leader(const std::string& address) {
    LeaderInfo leader;
    leader.replica_id = "r-" + address;
    leader.address = address;
    return leader;
  }

  absl::Mutex mu_;
  std::vector<std::string> dialed_ ABSL_GUARDED_BY(mu_);
  LeaderForwarder forwarder_;
};

TEST_F(LeaderForwarderTest, NothingIsDialedBeforeALeaderIsKnown) {
  EXPECT_TRUE(Dialed().empty());
  forwarder_.OnNewLeader(std::nullopt);
  EXPECT_TRUE(Dialed().empty());
}

TEST_F(LeaderForwarderTest, NewLeaderDialsItsAddressAndStubForReusesTheChannel) {
  forwarder_.OnNewLeader(Leader("127.0.0.1:1"));
  EXPECT_THAT(Dialed(), ElementsAre("127.0.0.1:1"));
  std::shared_ptr<v1::Mast::Stub> stub = forwarder_.StubFor("127.0.0.1:1");
  ASSERT_NE(stub, nullptr);
  EXPECT_EQ(forwarder_.StubFor("127.0.0.1:1"), stub);
  EXPECT_THAT(Dialed(), ElementsAre("127.0.0.1:1"));
}

TEST_F(LeaderForwarderTest, SameLeaderAgainDoesNotRedial) {
  forwarder_.OnNewLeader(Leader("127.0.0.1:1"));
  std::shared_ptr<v1::Mast::Stub> stub = forwarder_.StubFor("127.0.0.1:1");
  LeaderInfo same = Leader("127.0.0.1:1");
  same.fencing_token = 7;  // a new term of the same leader, same address
  forwarder_.OnNewLeader(same);
  EXPECT_EQ(forwarder_.StubFor("127.0.0.1:1"), stub);
  EXPECT_THAT(Dialed(), ElementsAre("127.0.0.1:1"));
}

TEST_F(LeaderForwarderTest, NewLeaderAddressReplacesTheChannel) {
  forwarder_.OnNewLeader(Leader("127.0.0.1:1"));
  std::shared_ptr<v1::Mast::Stub> first = forwarder_.StubFor("127.0.0.1:1");
  forwarder_.OnNewLeader(Leader("127.0.0.1:2"));
  std::shared_ptr<v1::Mast::Stub> second = forwarder_.StubFor("127.0.0.1:2");
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second, first);
  EXPECT_THAT(Dialed(), ElementsAre("127.0.0.1:1", "127.0.0.1:2"));
  // A stub handed out before stays usable by its holder (shared ownership).
  EXPECT_NE(first, nullptr);
}

TEST_F(LeaderForwarderTest, StubForANewerAddressThanTheLastLeaderDialsIt) {
  forwarder_.OnNewLeader(Leader("127.0.0.1:1"));
  std::shared_ptr<v1::Mast::Stub> newer = forwarder_.StubFor("127.0.0.1:3");
  ASSERT_NE(newer, nullptr);
  // ...and that channel is the current one from then on.
  EXPECT_EQ(forwarder_.StubFor("127.0.0.1:3"), newer);
  EXPECT_THAT(Dialed(), ElementsAre("127.0.0.1:1", "127.0.0.1:3"));
}

TEST_F(LeaderForwarderTest, LeaderGoneDropsTheChannel) {
  forwarder_.OnNewLeader(Leader("127.0.0.1:1"));
  std::shared_ptr<v1::Mast::Stub> before = forwarder_.StubFor("127.0.0.1:1");
  forwarder_.OnNewLeader(std::nullopt);
  EXPECT_THAT(Dialed(), ElementsAre("127.0.0.1:1"));
  // The same leader coming back is dialed again: nothing was kept.
  forwarder_.OnNewLeader(Leader("127.0.0.1:1"));
  EXPECT_THAT(Dialed(), ElementsAre("127.0.0.1:1", "127.0.0.1:1"));
  EXPECT_NE(forwarder_.StubFor("127.0.0.1:1"), before);
}

TEST_F(LeaderForwarderTest, DefaultFactoryMakesAStub) {
  LeaderForwarder forwarder;
  forwarder.OnNewLeader(Leader("127.0.0.1:1"));
  std::shared_ptr<v1::Mast::Stub> stub = forwarder.StubFor("127.0.0.1:1");
  EXPECT_NE(stub, nullptr);
  EXPECT_EQ(forwarder.StubFor("127.0.0.1:1"), stub);
}

// OnNewLeader (control loop) and StubFor (gRPC threads) race; every StubFor
// gets a stub and concurrent callers of one address share one channel.
TEST_F(LeaderForwarderTest, ConcurrentStubForAndOnNewLeaderAreSafe) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 200;
  std::atomic<int> null_stubs = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) {
        if (forwarder_.StubFor("127.0.0.1:1") == nullptr) ++null_stubs;
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < kCalls; ++i) {
      if (i % 2 == 0) {
        forwarder_.OnNewLeader(Leader("127.0.0.1:1"));
      } else {
        forwarder_.OnNewLeader(std::nullopt);
      }
    }
  });
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(null_stubs.load(), 0);
  for (const std::string& address : Dialed()) EXPECT_EQ(address, "127.0.0.1:1");
  // With the leader settled, everyone shares one channel again.
  forwarder_.OnNewLeader(Leader("127.0.0.1:1"));
  const size_t dialed = Dialed().size();
  std::shared_ptr<v1::Mast::Stub> stub = forwarder_.StubFor("127.0.0.1:1");
  EXPECT_EQ(forwarder_.StubFor("127.0.0.1:1"), stub);
  EXPECT_EQ(Dialed().size(), dialed);
}

}  // namespace
}  // namespace mast
