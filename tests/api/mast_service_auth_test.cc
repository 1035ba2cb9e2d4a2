// MastService with tokens and a policy (auth/): every write refused without
// credentials, with a wrong or expired token, or on another team's services,
// with nothing posted to the writer nor forwarded to the leader; the
// caller named on a forwarded write trusted only from a forwarder; reads
// and watches filtered to what the caller may see; refusals counted and
// audited.

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/call_auth.h"
#include "auth/file_access_control.h"
#include "auth/tokens.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/api/mast_service_harness.h"
#include "tests/support/metric_value.h"

namespace mast {
namespace {

using ::mast::testing::MetricValue;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Team "team/" is alice's (write) and bob's (read); bob also writes
// "other/". carol's token expired before the test's clock. "replica" is
// the identity replicas forward with.
class MastServiceAuthTest : public MastServiceRoutingTest {
 protected:
  MastServiceAuthTest() {
    char pattern[] = "/tmp/mast-api-auth-XXXXXX";
    dir_ = mkdtemp(pattern);
    std::ofstream(dir_ + "/tokens") << absl::StrCat(
        "alice sha256:", auth::Sha256Hex("alice-token"), "\n",
        "bob sha256:", auth::Sha256Hex("bob-token"), "\n",
        "carol sha256:", auth::Sha256Hex("carol-token"), " expires=2023-01-01T00:00:00Z\n",
        "replica sha256:", auth::Sha256Hex("replica-token"), "\n",
        "dave sha256:", auth::Sha256Hex("dave-token"), "\n");
    std::ofstream(dir_ + "/policy") << "grant alice write team/\n"
                                       "grant bob read team/\n"
                                       "grant bob write other/\n"
                                       "grant carol admin *\n"
                                       "grant dave admin team/\n"
                                       "forwarder replica\n";
    auth::FileAccessControlConfig config;
    config.tokens_file = dir_ + "/tokens";
    config.policy_file = dir_ + "/policy";
    config.clock = &clock_;
    absl::StatusOr<std::unique_ptr<auth::AccessControl>> access =
        auth::MakeFileAccessControl(config);
    EXPECT_TRUE(access.ok()) << access.status();
    if (access.ok()) access_.Set(*std::move(access));
  }
  ~MastServiceAuthTest() override {
    std::remove((dir_ + "/tokens").c_str());
    std::remove((dir_ + "/policy").c_str());
    rmdir(dir_.c_str());
  }

  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }

  ElectionSnapshot Leading() {
    ElectionSnapshot leading = Follower();
    leading.leading = true;
    leading.lease_expiry = absl::InfiniteFuture();
    return leading;
  }

  int LocalWrites() {
    absl::MutexLock lock(&mu_);
    return local_writes_;
  }

  // Each write of the API on service `name`, with `context`.
  std::vector<std::pair<std::string, std::function<grpc::Status(grpc::ClientContext*)>>> Writes(
      const std::string& name) {
    v1::Service service;
    v1::Deployment deployment;
    return {
        {"CreateService",
         [=, this](grpc::ClientContext* c) mutable {
           v1::CreateServiceRequest r;
           r.mutable_spec()->set_name(name);
           return stub_->CreateService(c, r, &service);
         }},
        {"UpdateService",
         [=, this](grpc::ClientContext* c) mutable {
           v1::UpdateServiceRequest r;
           r.mutable_spec()->set_name(name);
           return stub_->UpdateService(c, r, &service);
         }},
        {"ScaleService",
         [=, this](grpc::ClientContext* c) mutable {
           v1::ScaleServiceRequest r;
           r.set_name(name);
           r.set_instances(2);
           return stub_->ScaleService(c, r, &service);
         }},
        {"RestartService",
         [=, this](grpc::ClientContext* c) mutable {
           v1::RestartServiceRequest r;
           r.set_name(name);
           return stub_->RestartService(c, r, &service);
         }},
        {"DeleteService",
         [=, this](grpc::ClientContext* c) mutable {
           v1::DeleteServiceRequest r;
           r.set_name(name);
           v1::DeleteServiceResponse deleted;
           return stub_->DeleteService(c, r, &deleted);
         }},
        {"PauseDeployment",
         [=, this](grpc::ClientContext* c) mutable {
           v1::DeploymentRequest r;
           r.set_service(name);
           return stub_->PauseDeployment(c, r, &deployment);
         }},
        {"ResumeDeployment",
         [=, this](grpc::ClientContext* c) mutable {
           v1::DeploymentRequest r;
           r.set_service(name);
           return stub_->ResumeDeployment(c, r, &deployment);
         }},
        {"CancelDeployment",
         [=, this](grpc::ClientContext* c) mutable {
           v1::CancelDeploymentRequest r;
           r.set_service(name);
           return stub_->CancelDeployment(c, r, &deployment);
         }},
        {"RollbackService",
         [=, this](grpc::ClientContext* c) mutable {
           v1::RollbackServiceRequest r;
           r.set_name(name);
           return stub_->RollbackService(c, r, &service);
         }},
    };
  }

  // A state with services team/web, other/db and lone, one task each.
  void SetThreeServices() {
    auto snapshot = std::make_shared<StateSnapshot>();
    snapshot->synced = true;
    snapshot->store_version = 5;
    for (const char* name : {"team/web", "other/db", "lone"}) {
      auto stored = std::make_shared<StoredService>();
      stored->record.mutable_service()->mutable_spec()->set_name(name);
      stored->record.mutable_service()->set_version(3);
      snapshot->services[name] = stored;
      auto tasks = std::make_shared<v1::records::TaskRecords>();
      tasks->add_tasks()->set_id(absl::StrCat(name, ".1"));
      snapshot->tasks[name] = tasks;
    }
    SetState(snapshot);
    hub_.OnSnapshot(snapshot);
  }

  std::string dir_;
};

TEST_F(MastServiceAuthTest, EveryWriteIsRefusedWithoutRightsAndNothingIsWritten) {
  struct Case {
    const char* who;
    std::string token;
    grpc::StatusCode code;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"no token", "", grpc::StatusCode::UNAUTHENTICATED, "credentials"},
      {"wrong token", "guess", grpc::StatusCode::UNAUTHENTICATED, "token"},
      {"expired token", "carol-token", grpc::StatusCode::UNAUTHENTICATED, "expired"},
      {"reader of the team", "bob-token", grpc::StatusCode::PERMISSION_DENIED, "bob"},
      // The replicas' own identity holds no rights of its own.
      {"forwarder for nobody", "replica-token", grpc::StatusCode::PERMISSION_DENIED, "replica"},
  };
  int refusals = 0;
  for (const ElectionSnapshot& election : {Follower(), Leading()}) {
    SetElection(election);
    for (const auto& [method, write] : Writes("team/web")) {
      for (const Case& c : cases) {
        std::unique_ptr<grpc::ClientContext> context = Context(c.token);
        grpc::Status status = write(context.get());
        const std::string where = absl::StrCat(method, ", ", c.who, ", leading ", election.leading);
        EXPECT_EQ(status.error_code(), c.code) << where << ": " << status.error_message();
        EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << where;
        ++refusals;
      }
    }
  }
  EXPECT_EQ(LocalWrites(), 0);
  EXPECT_EQ(leader_.Metadata(kForwardedByHeader), "");  // nothing forwarded
  // 2 elections x 9 writes x (3 unauthenticated + 2 denied), each audited.
  EXPECT_EQ(refusals, 90);
  EXPECT_EQ(MetricValue(registry_, "mast_auth_denials_total", {{"code", "UNAUTHENTICATED"}}), 54);
  EXPECT_EQ(MetricValue(registry_, "mast_auth_denials_total", {{"code", "PERMISSION_DENIED"}}), 36);
  EXPECT_EQ(MetricValue(registry_, "mast_audit_events_total", {{"result", "UNAUTHENTICATED"}}), 54);
  EXPECT_EQ(MetricValue(registry_, "mast_audit_events_total", {{"result", "PERMISSION_DENIED"}}),
            36);
}

TEST_F(MastServiceAuthTest, AnAllowedWriteIsForwardedNamingTheCaller) {
  SetElection(Follower());
  std::unique_ptr<grpc::ClientContext> context = Context("alice-token");
  // A client cannot name someone else: its header is replaced.
  context->AddMetadata(auth::kOnBehalfOfHeader, "token:carol");
  v1::Service answer;
  grpc::Status status = Create(context.get(), &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(leader_.Metadata(auth::kOnBehalfOfHeader), "token:alice");
  EXPECT_EQ(leader_.Metadata("authorization"), "Bearer alice-token");
  EXPECT_EQ(leader_.Metadata(kForwardedByHeader), "r1");
  EXPECT_EQ(LocalWrites(), 0);
  // Forwarded writes are audited by the leader that performs them.
  EXPECT_EQ(MetricValue(registry_, "mast_audit_events_total", {{"result", "OK"}}), -1);
}

TEST_F(MastServiceAuthTest, TheLeaderTrustsTheNamedCallerOnlyFromAForwarder) {
  SetElection(Leading());
  struct Case {
    const char* what;
    std::string token;
    std::string on_behalf_of;
    grpc::StatusCode code;  // INVALID_ARGUMENT: allowed, then posted and validated
  };
  for (const Case& c : {
           // bob may not write team/: naming alice does not help him.
           Case{"reader naming a writer", "bob-token", "token:alice",
                grpc::StatusCode::PERMISSION_DENIED},
           // A forwarder writes for the caller it names, with that caller's rights.
           Case{"forwarder for a writer", "replica-token", "token:alice",
                grpc::StatusCode::INVALID_ARGUMENT},
           Case{"forwarder for a reader", "replica-token", "token:bob",
                grpc::StatusCode::PERMISSION_DENIED},
           Case{"forwarder for anonymous", "replica-token", "anonymous",
                grpc::StatusCode::PERMISSION_DENIED},
           Case{"forwarder naming garbage", "replica-token", "root",
                grpc::StatusCode::UNAUTHENTICATED},
       }) {
    std::unique_ptr<grpc::ClientContext> context = Context(c.token);
    context->AddMetadata(kForwardedByHeader, "r2");
    context->AddMetadata(auth::kOnBehalfOfHeader, c.on_behalf_of);
    v1::Service answer;
    grpc::Status status = Create(context.get(), &answer);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
  }
  // Only the allowed one reached the writer.
  EXPECT_EQ(LocalWrites(), 1);
  EXPECT_EQ(MetricValue(registry_, "mast_audit_events_total", {{"result", "INVALID_ARGUMENT"}}), 1);
}

TEST_F(MastServiceAuthTest, ReadsAreFilteredToWhatTheCallerMaySee) {
  SetThreeServices();
  auto names = [](const v1::ListServicesResponse& response) {
    std::vector<std::string> out;
    for (const v1::Service& s : response.services()) out.push_back(s.spec().name());
    return out;
  };
  {
    v1::ListServicesResponse response;
    grpc::Status status =
        stub_->ListServices(Context("alice-token").get(), v1::ListServicesRequest(), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_THAT(names(response), ElementsAre("team/web"));
  }
  {
    v1::ListServicesResponse response;
    ASSERT_TRUE(
        stub_->ListServices(Context("bob-token").get(), v1::ListServicesRequest(), &response).ok());
    EXPECT_THAT(names(response), ElementsAre("other/db", "team/web"));
  }
  {
    v1::ListServicesResponse response;
    grpc::Status status =
        stub_->ListServices(Context("").get(), v1::ListServicesRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    v1::ListTasksResponse response;
    ASSERT_TRUE(
        stub_->ListTasks(Context("alice-token").get(), v1::ListTasksRequest(), &response).ok());
    ASSERT_EQ(response.tasks_size(), 1);
    EXPECT_EQ(response.tasks(0).id(), "team/web.1");
    v1::ListTasksRequest other;
    other.set_service("other/db");
    grpc::Status status = stub_->ListTasks(Context("alice-token").get(), other, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(status.error_message(), HasSubstr("other/db"));
  }
  {
    v1::GetServiceRequest request;
    request.set_name("other/db");
    v1::GetServiceResponse response;
    EXPECT_EQ(stub_->GetService(Context("alice-token").get(), request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_TRUE(stub_->GetService(Context("bob-token").get(), request, &response).ok());
    EXPECT_EQ(response.service().spec().name(), "other/db");
  }
  {
    v1::GetLeaderResponse response;
    EXPECT_EQ(
        stub_->GetLeader(Context("guess").get(), v1::GetLeaderRequest(), &response).error_code(),
        grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_TRUE(
        stub_->GetLeader(Context("bob-token").get(), v1::GetLeaderRequest(), &response).ok());
  }
}

TEST_F(MastServiceAuthTest, WatchShowsOnlyWhatTheCallerMayRead) {
  SetThreeServices();
  std::unique_ptr<grpc::ClientContext> context = Context("alice-token");
  auto reader = stub_->WatchEvents(context.get(), v1::WatchEventsRequest());
  std::vector<std::string> seen;
  v1::WatchEvent event;
  while (reader->Read(&event) && event.type() != v1::WatchEvent::SYNCED) {
    if (event.has_service()) seen.push_back(event.service().spec().name());
    if (event.has_task()) seen.push_back(event.task().id());
  }
  EXPECT_EQ(event.type(), v1::WatchEvent::SYNCED);
  EXPECT_THAT(seen, ElementsAre("team/web", "team/web.1"));
  context->TryCancel();
  reader->Finish();

  std::unique_ptr<grpc::ClientContext> anonymous = Context("");
  auto refused = stub_->WatchEvents(anonymous.get(), v1::WatchEventsRequest());
  EXPECT_FALSE(refused->Read(&event));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// WatchEvents(audit) brings the audit of writes to admins of the service
// only; others who ask get the rest of the stream without them.
TEST_F(MastServiceAuthTest, AuditEventsReachOnlyAdminsOfTheService) {
  SetThreeServices();
  auto open_stream = [&](const std::string& token, std::unique_ptr<grpc::ClientContext>& context) {
    context = Context(token);
    v1::WatchEventsRequest request;
    request.set_audit(true);
    auto reader = stub_->WatchEvents(context.get(), request);
    v1::WatchEvent event;
    while (reader->Read(&event) && event.type() != v1::WatchEvent::SYNCED) {
    }
    EXPECT_EQ(event.type(), v1::WatchEvent::SYNCED);
    return reader;
  };
  std::unique_ptr<grpc::ClientContext> dave_context, alice_context;
  auto dave = open_stream("dave-token", dave_context);
  auto alice = open_stream("alice-token", alice_context);

  // bob may only read team/: his scale is refused and audited.
  std::unique_ptr<grpc::ClientContext> bob = Context("bob-token");
  v1::ScaleServiceRequest scale;
  scale.set_name("team/web");
  scale.set_instances(3);
  v1::Service out;
  ASSERT_EQ(stub_->ScaleService(bob.get(), scale, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  v1::WatchEvent event;
  ASSERT_TRUE(dave->Read(&event));
  ASSERT_EQ(event.type(), v1::WatchEvent::AUDIT);
  EXPECT_EQ(event.audit().who(), "token:bob");
  EXPECT_EQ(event.audit().method(), "ScaleService");
  EXPECT_EQ(event.audit().service(), "team/web");
  EXPECT_EQ(event.audit().code(), "PERMISSION_DENIED");
  EXPECT_EQ(event.audit().version_before(), 3u);
  EXPECT_EQ(event.audit().time().seconds(), absl::ToUnixSeconds(clock_.Now()));

  // alice (write, not admin) asked too: her next event is the leader change
  // that followed, not the audit.
  v1::GetLeaderResponse leader;
  leader.set_leader_known(true);
  leader.set_leader_id("r9");
  hub_.OnLeader(leader);
  ASSERT_TRUE(alice->Read(&event));
  EXPECT_EQ(event.type(), v1::WatchEvent::LEADER);
  ASSERT_TRUE(dave->Read(&event));
  EXPECT_EQ(event.type(), v1::WatchEvent::LEADER);
  dave_context->TryCancel();
  alice_context->TryCancel();
  dave->Finish();
  alice->Finish();
}

TEST(OnBehalfOfTest, ValuesRoundTripAndGarbageIsRefused) {
  for (const auth::Identity& who :
       {auth::Identity{}, auth::Identity{auth::Identity::Kind::kToken, "alice"},
        auth::Identity{auth::Identity::Kind::kCertificate, "spiffe://mast/r1"}}) {
    std::optional<auth::Identity> back = ParseOnBehalfOf(OnBehalfOfValue(who));
    ASSERT_TRUE(back.has_value()) << OnBehalfOfValue(who);
    EXPECT_EQ(back->kind, who.kind);
    EXPECT_EQ(back->name, who.name);
  }
  for (const char* garbage : {"", "token:", "certificate:", "alice", "Token:alice"}) {
    EXPECT_FALSE(ParseOnBehalfOf(garbage).has_value()) << garbage;
  }
  EXPECT_FALSE(ParseOnBehalfOf(absl::StrCat("token:", std::string(300, 'a'))).has_value());
}

}  // namespace
}  // namespace mast
