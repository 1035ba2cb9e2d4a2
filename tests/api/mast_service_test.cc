// MastService's write routing, in process: a follower forwards to the
// leader with the caller's deadline and metadata; UNAVAILABLE when no leader
// is known, when the leader is paused, and for a write forwarded twice.

#include "api/mast_service.h"

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "api/leader_forwarder.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/common/manual_clock.h"

namespace mast {
namespace {

using ::testing::HasSubstr;

// Stands in for the leader: records what a forwarded CreateService carried.
class RecordingLeader final : public v1::Mast::CallbackService {
 public:
  grpc::ServerUnaryReactor* CreateService(grpc::CallbackServerContext* context,
                                          const v1::CreateServiceRequest* request,
                                          v1::Service* response) override {
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [key, value] : context->client_metadata()) {
        metadata_[std::string(key.data(), key.size())] = std::string(value.data(), value.size());
      }
      deadline_ = absl::FromChrono(context->deadline());
    }
    *response->mutable_spec() = request->spec();
    response->set_version(1);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  std::string Metadata(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = metadata_.find(key);
    return it == metadata_.end() ? "" : it->second;
  }
  absl::Time deadline() {
    absl::MutexLock lock(&mu_);
    return deadline_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> metadata_ ABSL_GUARDED_BY(mu_);
  absl::Time deadline_ ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<grpc::Server> Serve(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

class MastServiceRoutingTest : public ::testing::Test {
 protected:
  MastServiceRoutingTest()
      : service_([this] { return Election(); }, [] { return std::make_shared<StateSnapshot>(); },
                 clock_,
                 [this](absl::AnyInvocable<void(ServiceWriter&) &&> task) {
                   {
                     absl::MutexLock lock(&mu_);
                     ++local_writes_;
                   }
                   // Stands in for the control loop: this writer has no
                   // store, and answers at once.
                   std::move(task)(writer_);
                 },
                 forwarder_) {
    leader_server_ = Serve(&leader_, &leader_port_);
    follower_server_ = Serve(&service_, &follower_port_);
    stub_ = v1::Mast::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", follower_port_),
                                                  grpc::InsecureChannelCredentials()));
  }
  ~MastServiceRoutingTest() override {
    follower_server_->Shutdown();
    leader_server_->Shutdown();
  }

  std::shared_ptr<const ElectionSnapshot> Election() {
    absl::MutexLock lock(&mu_);
    return std::make_shared<ElectionSnapshot>(election_);
  }
  void SetElection(ElectionSnapshot snapshot) {
    absl::MutexLock lock(&mu_);
    election_ = std::move(snapshot);
  }
  ElectionSnapshot Follower() {
    ElectionSnapshot s;
    s.replica_id = "r1";
    s.leader = LeaderInfo{"r0", absl::StrCat("127.0.0.1:", leader_port_), 7, absl::InfinitePast(),
                          "/mast/election/n_0"};
    return s;
  }
  grpc::Status Create(grpc::ClientContext* context, v1::Service* out) {
    v1::CreateServiceRequest request;
    request.mutable_spec()->set_name("team/web");
    return stub_->CreateService(context, request, out);
  }

  ManualClock clock_;
  ServiceWriter writer_{clock_};
  LeaderForwarder forwarder_;
  RecordingLeader leader_;
  absl::Mutex mu_;
  ElectionSnapshot election_ ABSL_GUARDED_BY(mu_);
  int local_writes_ ABSL_GUARDED_BY(mu_) = 0;
  MastService service_;
  int leader_port_ = 0;
  int follower_port_ = 0;
  std::unique_ptr<grpc::Server> leader_server_;
  std::unique_ptr<grpc::Server> follower_server_;
  std::unique_ptr<v1::Mast::Stub> stub_;
};

TEST_F(MastServiceRoutingTest, FollowerForwardsWithDeadlineAndMetadata) {
  SetElection(Follower());
  grpc::ClientContext context;
  const absl::Time deadline = absl::Now() + absl::Seconds(7);
  context.set_deadline(absl::ToChronoTime(deadline));
  context.AddMetadata("x-request-id", "abc-123");
  v1::Service answer;
  grpc::Status status = Create(&context, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answer.spec().name(), "team/web");
  EXPECT_EQ(answer.version(), 1u);
  EXPECT_EQ(leader_.Metadata("x-request-id"), "abc-123");
  EXPECT_EQ(leader_.Metadata(kForwardedByHeader), "r1");
  EXPECT_LT(absl::AbsDuration(leader_.deadline() - deadline), absl::Seconds(1));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(local_writes_, 0);
}

TEST_F(MastServiceRoutingTest, UnavailableWithoutAnActingLeader) {
  struct Case {
    const char* name;
    ElectionSnapshot election;
    const char* metadata;  // kForwardedByHeader value, or null
    const char* message;
  };
  ElectionSnapshot no_leader;
  no_leader.replica_id = "r1";
  ElectionSnapshot paused = Follower();
  paused.leading = true;
  paused.paused = true;
  paused.lease_expiry = absl::InfiniteFuture();
  ElectionSnapshot lapsed = Follower();
  lapsed.leading = true;
  lapsed.lease_expiry = clock_.Now();
  for (const Case& c :
       {Case{"no leader", no_leader, nullptr, "no leader is known"},
        Case{"paused", paused, nullptr, "paused"}, Case{"lease lapsed", lapsed, nullptr, "paused"},
        Case{"forwarded twice", Follower(), "r2", "forwarded to it by r2"}}) {
    SetElection(c.election);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    if (c.metadata != nullptr) context.AddMetadata(kForwardedByHeader, c.metadata);
    v1::Service answer;
    grpc::Status status = Create(&context, &answer);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << c.name;
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
    EXPECT_THAT(status.error_message(), HasSubstr("retry")) << c.name;
  }
  EXPECT_EQ(leader_.Metadata(kForwardedByHeader), "");  // nothing reached the leader
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(local_writes_, 0);
}

TEST_F(MastServiceRoutingTest, ActingLeaderPostsToTheLoop) {
  ElectionSnapshot leading;
  leading.replica_id = "r1";
  leading.leading = true;
  leading.lease_expiry = absl::InfiniteFuture();
  SetElection(leading);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::Service answer;
  grpc::Status status = Create(&context, &answer);
  // Answered by the writer through the call's reactor (the spec is checked
  // first: it has only a name).
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("spec."));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(local_writes_, 1);
}

TEST(LeaderForwarderTest, ChannelFollowsTheLeader) {
  std::vector<std::string> dialed;
  LeaderForwarder forwarder([&](const std::string& address) {
    dialed.push_back(address);
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  });
  auto a = forwarder.StubFor("10.0.0.1:7070");
  EXPECT_EQ(forwarder.StubFor("10.0.0.1:7070"), a);  // reused
  forwarder.OnNewLeader(LeaderInfo{"r2", "10.0.0.2:7070", 9, absl::InfinitePast(), "/e/n"});
  EXPECT_NE(forwarder.StubFor("10.0.0.2:7070"), a);
  forwarder.OnNewLeader(std::nullopt);
  forwarder.StubFor("10.0.0.2:7070");
  EXPECT_EQ(dialed, (std::vector<std::string>{"10.0.0.1:7070", "10.0.0.2:7070", "10.0.0.2:7070"}));
}

}  // namespace
}  // namespace mast
