// MastService in process: the write routing (a follower forwards to the
// leader with the caller's deadline and metadata; UNAVAILABLE when no leader
// is known, when the leader is paused, and for a write forwarded twice; the
// leader's store version relayed), ListTasks, reads that wait for a store
// version, and WatchEvents streams (cancelled, timed out, a slow consumer
// dropped while the others go on).

#include "api/mast_service.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/leader_forwarder.h"
#include "api/watch_hub.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "store/service_store.h"
#include "store/zk_store.h"
#include "tests/api/mast_service_harness.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/fakes/manual_clock.h"
#include "tests/processes/wait.h"

namespace mast {
namespace {

using ::mast::testing::WaitFor;
using ::testing::HasSubstr;

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
  // The leader's store version comes back with the answer.
  const auto& trailers = context.GetServerTrailingMetadata();
  auto version = trailers.find(kStoreVersionTrailer);
  ASSERT_NE(version, trailers.end());
  EXPECT_EQ(std::string(version->second.data(), version->second.size()), "42");
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

TEST_F(MastServiceRoutingTest, FollowerForwardsRestart) {
  SetElection(Follower());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::RestartServiceRequest request;
  request.set_name("team/web");
  request.set_expected_version(3);
  v1::Service answer;
  grpc::Status status = stub_->RestartService(&context, request, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answer.task_version(), 4u);
  EXPECT_EQ(leader_.Metadata(kForwardedByHeader), "r1");
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(local_writes_, 0);
}

TEST_F(MastServiceRoutingTest, DeploymentWritesAreForwardedOrPosted) {
  SetElection(Follower());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::CancelDeploymentRequest request;
  request.set_service("team/web");
  request.set_id("4-1");
  request.set_rollback(true);
  v1::Deployment answer;
  grpc::Status status = stub_->CancelDeployment(&context, request, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answer.id(), "4-1");
  EXPECT_EQ(answer.state(), v1::Deployment::ROLLING_BACK);
  EXPECT_EQ(leader_.Metadata(kForwardedByHeader), "r1");
  const auto& trailers = context.GetServerTrailingMetadata();
  auto version = trailers.find(kStoreVersionTrailer);
  ASSERT_NE(version, trailers.end());
  EXPECT_EQ(std::string(version->second.data(), version->second.size()), "43");
  {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(local_writes_, 0);
  }

  // Leading: posted to the writer, which checks the request first.
  ElectionSnapshot leading = Follower();
  leading.leading = true;
  leading.lease_expiry = absl::InfiniteFuture();
  SetElection(leading);
  grpc::ClientContext pause_context;
  pause_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::Deployment paused;
  status = stub_->PauseDeployment(&pause_context, v1::DeploymentRequest(), &paused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("service: required"));
  grpc::ClientContext rollback_context;
  rollback_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::Service rolled;
  status = stub_->RollbackService(&rollback_context, v1::RollbackServiceRequest(), &rolled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("name: required"));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(local_writes_, 2);
}

TEST_F(MastServiceRoutingTest, ListTasksReadsTheReplicasSnapshot) {
  auto snapshot = std::make_shared<StateSnapshot>();
  snapshot->synced = true;
  snapshot->store_version = 9;
  auto stored = std::make_shared<StoredService>();
  stored->record.mutable_service()->mutable_spec()->set_name("web");
  snapshot->services["web"] = stored;
  auto tasks = std::make_shared<v1::records::TaskRecords>();
  tasks->add_tasks()->set_id("web.1");
  snapshot->tasks["web"] = tasks;
  SetState(snapshot);
  grpc::ClientContext context;
  v1::ListTasksRequest request;
  request.set_service("web");
  v1::ListTasksResponse response;
  grpc::Status status = stub_->ListTasks(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.tasks_size(), 1);
  EXPECT_EQ(response.tasks(0).id(), "web.1");
  EXPECT_EQ(response.tasks(0).service(), "web");
  EXPECT_EQ(response.store_version(), 9);
  grpc::ClientContext unknown_context;
  request.set_service("db");
  EXPECT_EQ(stub_->ListTasks(&unknown_context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(MastServiceRoutingTest, ReadsWithMinStoreVersionWaitForTheCopy) {
  auto publish = [&](std::shared_ptr<const StateSnapshot> snapshot) {
    SetState(snapshot);
    waiter_.OnSnapshot(snapshot);
  };
  publish(Services(5, 1));
  auto deadline = [] { return absl::ToChronoTime(absl::Now() + absl::Seconds(30)); };

  // Reached already: answered at once.
  {
    grpc::ClientContext context;
    context.set_deadline(deadline());
    v1::GetServiceRequest request;
    request.set_name("s1");
    request.set_min_store_version(5);
    v1::GetServiceResponse response;
    grpc::Status status = stub_->GetService(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.store_version(), 5);
  }

  // Above the copy: answered once the copy catches up, not NOT_FOUND.
  grpc::ClientContext context;
  context.set_deadline(deadline());
  v1::GetServiceRequest request;
  request.set_name("s2");
  request.set_min_store_version(6);
  v1::GetServiceResponse response;
  absl::Mutex done_mu;
  std::optional<grpc::Status> done;
  stub_->async()->GetService(&context, &request, &response, [&](grpc::Status status) {
    absl::MutexLock lock(&done_mu);
    done = status;
  });
  ASSERT_TRUE(WaitFor([&] { return waiter_.waiting() == 1; }, absl::Seconds(10)));
  publish(Services(6, 1));  // at version 6, still without s2
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::MutexLock lock(&done_mu);
        return done.has_value();
      },
      absl::Seconds(10)));
  {
    absl::MutexLock lock(&done_mu);
    // Version 6 was reached, and s2 is not in it: a definite NOT_FOUND at 6.
    EXPECT_EQ(done->error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(done->error_message(), HasSubstr("at store version 6"));
    done.reset();
  }
  request.set_min_store_version(7);
  grpc::ClientContext again;
  again.set_deadline(deadline());
  stub_->async()->GetService(&again, &request, &response, [&](grpc::Status status) {
    absl::MutexLock lock(&done_mu);
    done = status;
  });
  ASSERT_TRUE(WaitFor([&] { return waiter_.waiting() == 1; }, absl::Seconds(10)));
  publish(Services(7, 2));
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::MutexLock lock(&done_mu);
        return done.has_value();
      },
      absl::Seconds(10)));
  absl::MutexLock lock(&done_mu);
  ASSERT_TRUE(done->ok()) << done->error_message();
  EXPECT_EQ(response.service().spec().name(), "s2");
  EXPECT_EQ(response.store_version(), 7);
}

// "web" at `version` whose deployment is `id` (RUNNING), with one ended
// one ("0-old") in its history.
std::shared_ptr<const StateSnapshot> Deploying(int64_t version, const std::string& id) {
  auto snapshot = std::make_shared<StateSnapshot>();
  snapshot->synced = true;
  snapshot->store_version = version;
  auto stored = std::make_shared<StoredService>();
  v1::Service* service = stored->record.mutable_service();
  service->mutable_spec()->set_name("web");
  service->mutable_spec()->set_instances(2);
  service->mutable_deployment()->set_id(id);
  service->mutable_deployment()->set_state(v1::Deployment::RUNNING);
  v1::Deployment* old = stored->record.add_deployment_history();
  old->set_id("0-old");
  old->set_state(v1::Deployment::SUCCEEDED);
  snapshot->services["web"] = stored;
  return snapshot;
}

TEST_F(MastServiceRoutingTest, DeploymentReadsAnswerFromTheCopyAndWaitForAVersion) {
  auto publish = [&](std::shared_ptr<const StateSnapshot> snapshot) {
    SetState(snapshot);
    waiter_.OnSnapshot(snapshot);
  };
  publish(Deploying(5, "1-a"));
  {
    grpc::ClientContext context;
    v1::ListDeploymentsRequest request;
    request.set_service("web");
    v1::ListDeploymentsResponse response;
    grpc::Status status = stub_->ListDeployments(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.deployments_size(), 2);
    EXPECT_EQ(response.deployments(0).id(), "1-a");
    EXPECT_EQ(response.deployments(0).progress().target_instances(), 2u);
    EXPECT_EQ(response.deployments(1).id(), "0-old");
    EXPECT_EQ(response.store_version(), 5);
  }
  {
    grpc::ClientContext context;
    v1::GetDeploymentRequest request;
    request.set_service("db");
    v1::GetDeploymentResponse response;
    EXPECT_EQ(stub_->GetDeployment(&context, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::GetDeploymentRequest request;
  request.set_service("web");
  request.set_min_store_version(6);
  v1::GetDeploymentResponse response;
  // A blocking call on a thread of its own: it returns once the copy is at 6.
  grpc::Status status;
  std::thread call([&] { status = stub_->GetDeployment(&context, request, &response); });
  ASSERT_TRUE(WaitFor([&] { return waiter_.waiting() == 1; }, absl::Seconds(10)));
  publish(Deploying(6, "2-b"));
  call.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.deployment().id(), "2-b");
  EXPECT_EQ(response.store_version(), 6);
}

TEST_F(MastServiceRoutingTest, AReadWhoseVersionIsNeverReachedIsUnavailable) {
  auto snapshot = Services(5, 1);
  SetState(snapshot);
  waiter_.OnSnapshot(snapshot);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::ListTasksRequest request;
  request.set_min_store_version(100);
  v1::ListTasksResponse response;
  absl::Mutex done_mu;
  std::optional<grpc::Status> done;
  stub_->async()->ListTasks(&context, &request, &response, [&](grpc::Status status) {
    absl::MutexLock lock(&done_mu);
    done = status;
  });
  // Waiting, its timer armed on the loop (the wait ends before the deadline).
  ASSERT_TRUE(WaitFor(
      [&] { return waiter_.waiting() == 1 && waiter_loop_.loop().NextTimerDeadline().has_value(); },
      absl::Seconds(10)));
  EXPECT_LT(*waiter_loop_.loop().NextTimerDeadline(), waiter_loop_.Now() + absl::Seconds(30));
  waiter_loop_.Advance(absl::Seconds(30));
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::MutexLock lock(&done_mu);
        return done.has_value();
      },
      absl::Seconds(10)));
  {
    absl::MutexLock lock(&done_mu);
    EXPECT_EQ(done->error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(done->error_message(), HasSubstr("at store version 5"));
    EXPECT_THAT(done->error_message(), HasSubstr("min_store_version 100"));
  }

  grpc::ClientContext negative;
  request.set_min_store_version(-1);
  grpc::Status status = stub_->ListTasks(&negative, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("min_store_version"));
}

TEST_F(MastServiceRoutingTest, WatchStreamsTheStateAndEndsWhenTheClientCancels) {
  hub_.OnSnapshot(Services(10, 1));
  grpc::ClientContext context;
  v1::WatchEventsRequest request;
  auto reader = stub_->WatchEvents(&context, request);
  v1::WatchEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), v1::WatchEvent::ADDED);
  EXPECT_EQ(event.service().spec().name(), "s1");
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), v1::WatchEvent::SYNCED);
  EXPECT_EQ(event.store_version(), 10);
  // A change reaches the idle stream (woken by the hub).
  hub_.OnSnapshot(Services(11, 2));
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), v1::WatchEvent::ADDED);
  EXPECT_EQ(event.service().spec().name(), "s2");
  EXPECT_EQ(event.store_version(), 11);
  EXPECT_EQ(hub_.subscriptions(), 1u);

  context.TryCancel();
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitFor([&] { return hub_.subscriptions() == 0; }, absl::Seconds(10)));
}

TEST_F(MastServiceRoutingTest, WatchEndsAtItsDeadlineAndRefusesBadVersions) {
  hub_.OnSnapshot(Services(10, 0));
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
    auto reader = stub_->WatchEvents(&context, v1::WatchEventsRequest());
    v1::WatchEvent event;
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_EQ(event.type(), v1::WatchEvent::SYNCED);
    EXPECT_FALSE(reader->Read(&event));  // nothing more before the deadline
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  EXPECT_TRUE(WaitFor([&] { return hub_.subscriptions() == 0; }, absl::Seconds(10)));

  grpc::ClientContext context;
  v1::WatchEventsRequest request;
  request.set_from_version(-5);
  auto reader = stub_->WatchEvents(&context, request);
  v1::WatchEvent event;
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("from_version"));
  EXPECT_EQ(hub_.subscriptions(), 0u);
}

TEST_F(MastServiceRoutingTest, ASlowWatcherIsDroppedWithoutStallingTheOthers) {
  constexpr int kChanges = 100;
  // 12.8 MB in all: past the slow stream's flow-control window and the
  // socket buffers, so that its writes stall.
  constexpr size_t kPayload = 128 * 1024;
  hub_.OnSnapshot(Services(1, 0));

  // The slow watcher, on a connection of its own with a small window that
  // does not grow (no BDP probing), reads its first event, then nothing
  // until the end.
  grpc::ChannelArguments slow_args;
  slow_args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  slow_args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
  auto slow_stub = v1::Mast::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", follower_port_), grpc::InsecureChannelCredentials(), slow_args));
  grpc::ClientContext slow_context;
  slow_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto slow = slow_stub->WatchEvents(&slow_context, v1::WatchEventsRequest());
  v1::WatchEvent event;
  ASSERT_TRUE(slow->Read(&event));
  ASSERT_EQ(event.type(), v1::WatchEvent::SYNCED);

  // The fast one reads on its own thread.
  grpc::ClientContext fast_context;
  auto fast = stub_->WatchEvents(&fast_context, v1::WatchEventsRequest());
  absl::Mutex fast_mu;
  int fast_changes = 0;
  std::thread fast_reader([&] {
    v1::WatchEvent e;
    while (fast->Read(&e)) {
      if (e.type() != v1::WatchEvent::ADDED) continue;
      absl::MutexLock lock(&fast_mu);
      ++fast_changes;
    }
  });

  // The loop publishes one change after another; it never waits for a
  // stream (each OnSnapshot returns at once). Pacing on the fast reader
  // only keeps the fast one's own queue short.
  for (int i = 1; i <= kChanges; ++i) {
    hub_.OnSnapshot(Services(1 + i, i, kPayload));
    EXPECT_TRUE(WaitFor(
        [&] {
          absl::MutexLock lock(&fast_mu);
          return fast_changes == i;
        },
        absl::Seconds(10)))
        << "change " << i;
  }

  // Now the slow one reads: what made it through, then the end naming the
  // version it has everything of.
  int slow_changes = 0;
  int64_t last_version = 1;
  while (slow->Read(&event)) {
    ++slow_changes;
    last_version = event.store_version();
  }
  grpc::Status status = slow->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(
      status.error_message(),
      HasSubstr(absl::StrCat("watch consumer too slow; resume from version ", last_version)));
  EXPECT_LT(slow_changes, kChanges);

  // Resuming from there brings the rest.
  grpc::ClientContext resumed_context;
  resumed_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::WatchEventsRequest resume;
  resume.set_from_version(last_version);
  auto resumed = stub_->WatchEvents(&resumed_context, resume);
  int resumed_changes = 0;
  while (resumed_changes < kChanges - slow_changes && resumed->Read(&event)) {
    ++resumed_changes;
    EXPECT_GT(event.store_version(), last_version);
  }
  EXPECT_EQ(resumed_changes, kChanges - slow_changes);
  EXPECT_EQ(event.service().spec().name(), absl::StrCat("s", kChanges));

  resumed_context.TryCancel();
  fast_context.TryCancel();
  fast_reader.join();
  fast->Finish();
  resumed->Finish();
}

}  // namespace
}  // namespace mast
