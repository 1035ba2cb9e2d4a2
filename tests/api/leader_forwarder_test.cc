// LeaderForwarder: one channel to the leader's address, made by the factory
// when the leader (or the address a caller asks for) changes, kept otherwise,
// dropped when no leader is known. Channels connect lazily, so those tests
// need no server: the factory's calls are what is observed. ForwardContext
// is tested over two loopback gRPC servers (127.0.0.1, port 0).
#include "api/leader_forwarder.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mast {
namespace {

using ::testing::ElementsAre;

constexpr absl::Duration kWait = absl::Seconds(10);

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

// ForwardContext, over two loopback hops: a test client calls a front server
// that forwards CreateService to a stand-in leader with ForwardContext.

// The leader: records the metadata of the call it got; a spec named "hang"
// is answered only when the call is cancelled.
class StandInLeader final : public v1::Mast::CallbackService {
 public:
  grpc::ServerUnaryReactor* CreateService(grpc::CallbackServerContext* context,
                                          const v1::CreateServiceRequest* request,
                                          v1::Service* response) override {
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [key, value] : context->client_metadata()) {
        metadata_.emplace_back(std::string(key.data(), key.size()),
                               std::string(value.data(), value.size()));
      }
      deadline_ = absl::FromChrono(context->deadline());
    }
    if (request->spec().name() == "hang") {
      auto* reactor = new CancelledReactor(&cancelled_);
      received_.Notify();
      return reactor;
    }
    *response->mutable_spec() = request->spec();
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    received_.Notify();
    return reactor;
  }

  std::vector<std::string> Values(const std::string& key) {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> values;
    for (const auto& [k, v] : metadata_) {
      if (k == key) values.push_back(v);
    }
    return values;
  }
  absl::Time deadline() {
    absl::MutexLock lock(&mu_);
    return deadline_;
  }
  absl::Notification received_;
  absl::Notification cancelled_;

 private:
  class CancelledReactor final : public grpc::ServerUnaryReactor {
   public:
    explicit CancelledReactor(absl::Notification* cancelled) : cancelled_(cancelled) {}
    void OnCancel() override {
      cancelled_->Notify();
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
    void OnDone() override { delete this; }

   private:
    absl::Notification* cancelled_;
  };

  absl::Mutex mu_;
  std::vector<std::pair<std::string, std::string>> metadata_ ABSL_GUARDED_BY(mu_);
  absl::Time deadline_ ABSL_GUARDED_BY(mu_);
};

// The follower: forwards every CreateService to `leader_address`.
class ForwardingFront final : public v1::Mast::CallbackService {
 public:
  explicit ForwardingFront(std::string leader_address)
      : leader_address_(std::move(leader_address)) {}

  grpc::ServerUnaryReactor* CreateService(grpc::CallbackServerContext* context,
                                          const v1::CreateServiceRequest* request,
                                          v1::Service* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    std::shared_ptr<grpc::ClientContext> forward = LeaderForwarder::ForwardContext(*context, "r1");
    std::shared_ptr<v1::Mast::Stub> stub = forwarder_.StubFor(leader_address_);
    stub->async()->CreateService(
        forward.get(), request, response,
        [reactor, forward, stub](grpc::Status status) { reactor->Finish(status); });
    return reactor;
  }

 private:
  const std::string leader_address_;
  LeaderForwarder forwarder_;
};

std::unique_ptr<grpc::Server> Serve(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

class ForwardContextTest : public ::testing::Test {
 protected:
  ForwardContextTest() {
    leader_server_ = Serve(&leader_, &leader_port_);
    front_ = std::make_unique<ForwardingFront>(absl::StrCat("127.0.0.1:", leader_port_));
    front_server_ = Serve(front_.get(), &front_port_);
    stub_ = v1::Mast::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", front_port_),
                                                  grpc::InsecureChannelCredentials()));
  }
  ~ForwardContextTest() override {
    front_server_->Shutdown(absl::ToChronoTime(absl::Now() + kWait));
    leader_server_->Shutdown(absl::ToChronoTime(absl::Now() + kWait));
  }

  StandInLeader leader_;
  int leader_port_ = 0;
  int front_port_ = 0;
  std::unique_ptr<grpc::Server> leader_server_;
  std::unique_ptr<ForwardingFront> front_;
  std::unique_ptr<grpc::Server> front_server_;
  std::unique_ptr<v1::Mast::Stub> stub_;
};

TEST_F(ForwardContextTest, CopiesMetadataSetsForwardedByAndKeepsTheDeadline) {
  ASSERT_NE(leader_server_, nullptr);
  ASSERT_NE(front_server_, nullptr);
  grpc::ClientContext context;
  const absl::Time deadline = absl::Now() + kWait;
  context.set_deadline(absl::ToChronoTime(deadline));
  context.AddMetadata("x-request-id", "abc-123");
  context.AddMetadata(kForwardedByHeader, "spoofed");  // replaced, not copied
  v1::CreateServiceRequest request;
  request.mutable_spec()->set_name("team/web");
  v1::Service answer;
  grpc::Status status = stub_->CreateService(&context, request, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answer.spec().name(), "team/web");
  EXPECT_THAT(leader_.Values("x-request-id"), ElementsAre("abc-123"));
  EXPECT_THAT(leader_.Values(kForwardedByHeader), ElementsAre("r1"));
  // gRPC's own headers are the forwarding channel's, not copies.
  EXPECT_THAT(leader_.Values("user-agent").size(), ::testing::Le(1u));
  EXPECT_LT(absl::AbsDuration(leader_.deadline() - deadline), absl::Seconds(1));
}

TEST_F(ForwardContextTest, CancellingTheCallerCancelsTheForwardedCall) {
  ASSERT_NE(leader_server_, nullptr);
  ASSERT_NE(front_server_, nullptr);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + 3 * kWait));
  v1::CreateServiceRequest request;
  request.mutable_spec()->set_name("hang");
  v1::Service answer;
  absl::Notification done;
  grpc::Status status;
  stub_->async()->CreateService(&context, &request, &answer, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  EXPECT_TRUE(leader_.received_.WaitForNotificationWithTimeout(kWait));
  context.TryCancel();
  EXPECT_TRUE(leader_.cancelled_.WaitForNotificationWithTimeout(kWait));
  // The call must end before `context` and `done` go (its deadline bounds it).
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
}

}  // namespace
}  // namespace mast
