#pragma once

// The in-process harness of the MastService tests: a MastService on
// loopback in front of a recording stand-in leader, with a manual clock,
// a driven waiter loop, and swappable access control.

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/audit.h"
#include "api/leader_forwarder.h"
#include "api/mast_service.h"
#include "api/watch_hub.h"
#include "auth/access.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "store/service_store.h"
#include "store/zk_store.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/fakes/manual_clock.h"

namespace mast {

// An AccessControl whose decisions come from another one, replaced by the
// test (AllowEverything until then). Thread-safe.
class SwitchableAccess final : public auth::AccessControl {
 public:
  void Set(std::unique_ptr<auth::AccessControl> inner) {
    absl::MutexLock lock(&mu_);
    inner_ = std::move(inner);
  }
  absl::StatusOr<auth::Identity> Authenticate(const auth::Credentials& credentials,
                                              absl::Time now) const override {
    return Inner().Authenticate(credentials, now);
  }
  absl::Status Authorize(const auth::Identity& who, auth::Role role,
                         absl::string_view service) const override {
    return Inner().Authorize(who, role, service);
  }
  bool MayActForOthers(const auth::Identity& who) const override {
    return Inner().MayActForOthers(who);
  }
  bool Open() const override { return Inner().Open(); }

 private:
  const auth::AccessControl& Inner() const {
    absl::MutexLock lock(&mu_);
    return *inner_;  // replaced only between calls
  }
  mutable absl::Mutex mu_;
  std::unique_ptr<auth::AccessControl> inner_ ABSL_GUARDED_BY(mu_) = auth::AllowEverything();
};

// Stands in for the leader: records what a forwarded write carried.
class RecordingLeader final : public v1::Mast::CallbackService {
 public:
  grpc::ServerUnaryReactor* CreateService(grpc::CallbackServerContext* context,
                                          const v1::CreateServiceRequest* request,
                                          v1::Service* response) override {
    Record(*context);
    *response->mutable_spec() = request->spec();
    response->set_version(1);
    context->AddTrailingMetadata(kStoreVersionTrailer, "42");
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* RestartService(grpc::CallbackServerContext* context,
                                           const v1::RestartServiceRequest* request,
                                           v1::Service* response) override {
    Record(*context);
    response->mutable_spec()->set_name(request->name());
    response->set_version(request->expected_version() + 1);
    response->set_task_version(request->expected_version() + 1);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* CancelDeployment(grpc::CallbackServerContext* context,
                                             const v1::CancelDeploymentRequest* request,
                                             v1::Deployment* response) override {
    Record(*context);
    response->set_service(request->service());
    response->set_id(request->id());
    response->set_state(request->rollback() ? v1::Deployment::ROLLING_BACK
                                            : v1::Deployment::CANCELLED);
    context->AddTrailingMetadata(kStoreVersionTrailer, "43");
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
  void Record(const grpc::CallbackServerContext& context) {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, value] : context.client_metadata()) {
      metadata_[std::string(key.data(), key.size())] = std::string(value.data(), value.size());
    }
    deadline_ = absl::FromChrono(context.deadline());
  }

  absl::Mutex mu_;
  std::map<std::string, std::string> metadata_ ABSL_GUARDED_BY(mu_);
  absl::Time deadline_ ABSL_GUARDED_BY(mu_);
};

inline std::unique_ptr<grpc::Server> Serve(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

class MastServiceRoutingTest : public ::testing::Test {
 protected:
  MastServiceRoutingTest()
      : service_([this] { return Election(); }, [this] { return State(); }, clock_,
                 [this](absl::AnyInvocable<void(ServiceWriter&) &&> task) {
                   {
                     absl::MutexLock lock(&mu_);
                     ++local_writes_;
                   }
                   // Stands in for the control loop: this writer has no
                   // store, and answers at once.
                   std::move(task)(writer_);
                 },
                 forwarder_, waiter_, hub_, access_, audit_) {
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
  std::shared_ptr<const StateSnapshot> State() {
    absl::MutexLock lock(&mu_);
    return state_;
  }
  void SetState(std::shared_ptr<const StateSnapshot> state) {
    absl::MutexLock lock(&mu_);
    state_ = std::move(state);
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
  // The writer's store: never reached (this replica does not lead here).
  DrivenLoop store_loop_;
  testing::FakeZkEnsemble ensemble_;
  testing::FakeZkClient zk_{ensemble_, store_loop_.loop()};
  ZkStore zk_store_{zk_, "/mast"};
  ServiceStore store_{zk_, zk_store_};
  ServiceWriter writer_{store_, clock_, [this] { return State(); }};
  LeaderForwarder forwarder_;
  // Everyone may do everything until a test sets files (UseAccessFiles).
  SwitchableAccess access_;
  prometheus::Registry registry_;
  // Audit records go to the hub, as mastd wires them (there, through its loop).
  AuditLog audit_{&registry_, [this](v1::AuditEvent event) { hub_.OnAudit(std::move(event)); }};
  // Small bounds, so that a stalled stream is dropped soon.
  WatchHub hub_{WatchHub::Options{.history_events = 1000, .queue_events = 5}};
  RecordingLeader leader_;
  // Reads that wait for a store version: the test drives their timers.
  DrivenLoop waiter_loop_;
  SnapshotWaiter waiter_{waiter_loop_.loop()};
  absl::Mutex mu_;
  ElectionSnapshot election_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const StateSnapshot> state_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<StateSnapshot>();
  int local_writes_ ABSL_GUARDED_BY(mu_) = 0;
  MastService service_;
  int leader_port_ = 0;
  int follower_port_ = 0;
  std::unique_ptr<grpc::Server> leader_server_;
  std::unique_ptr<grpc::Server> follower_server_;
  std::unique_ptr<v1::Mast::Stub> stub_;
};

// A snapshot sequence for the watch tests: `n` services s1..sn at version
// `version`, each with `payload` bytes in its env (to fill flow-control
// windows).
inline std::shared_ptr<const StateSnapshot> Services(int64_t version, int n, size_t payload = 0) {
  auto snapshot = std::make_shared<StateSnapshot>();
  snapshot->synced = true;
  snapshot->store_version = version;
  for (int i = 1; i <= n; ++i) {
    auto stored = std::make_shared<StoredService>();
    v1::Service* service = stored->record.mutable_service();
    service->mutable_spec()->set_name(absl::StrCat("s", i));
    (*service->mutable_spec()->mutable_env())["PAYLOAD"] = std::string(payload, 'x');
    service->set_version(1);
    snapshot->services[service->spec().name()] = stored;
  }
  return snapshot;
}

}  // namespace mast
