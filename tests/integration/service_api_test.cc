// The service API on three mastd processes (--mesos=none) against a real
// ZooKeeper: writes through a follower, reads converging on every replica,
// the error codes, deletes that mark the service until the leader's
// scheduler removes it, tasks and watches, mastctl, writes and watches
// after the leader is SIGTERMed, and reading one's own writes on any replica
// (min_store_version).

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/store_version.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "mast/v1/mast.grpc.pb.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/wait.h"
#include "tests/processes/zk_server.h"

namespace mast {
namespace {

using ::mast::testing::MastdProcess;
using ::mast::testing::Subprocess;
using ::mast::testing::WaitFor;
using ::mast::testing::ZkServer;
using ::testing::HasSubstr;

v1::ServiceSpec Spec(const std::string& name, uint32_t instances) {
  v1::ServiceSpec spec;
  spec.set_name(name);
  spec.mutable_command()->set_shell("sleep 1000");
  spec.mutable_resources()->set_cpus(0.1);
  spec.mutable_resources()->set_mem_mib(32);
  spec.set_instances(instances);
  (*spec.mutable_labels())["tier"] = "web";
  return spec;
}

class ServiceApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto zk = ZkServer::Launch();
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
    for (int i = 0; i < 3; ++i) {
      MastdProcess& r =
          set_.Start(zk_->hosts(), absl::StrCat("r", i), absl::Seconds(2), {"--mesos=none"});
      stubs_.push_back(v1::Mast::NewStub(
          grpc::CreateChannel(r.grpc_address(), grpc::InsecureChannelCredentials())));
    }
  }
  void TearDown() override {
    if (HasFailure()) set_.DumpLogs();
  }

  template <typename Call>
  grpc::Status Rpc(Call call) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    return call(&context);
  }
  grpc::Status Create(int replica, const v1::ServiceSpec& spec, v1::Service* out,
                      const std::string& key = "") {
    v1::CreateServiceRequest request;
    *request.mutable_spec() = spec;
    request.set_idempotency_key(key);
    return Rpc(
        [&](grpc::ClientContext* c) { return stubs_[replica]->CreateService(c, request, out); });
  }
  grpc::Status Get(int replica, const std::string& name, v1::GetServiceResponse* out) {
    v1::GetServiceRequest request;
    request.set_name(name);
    return Rpc(
        [&](grpc::ClientContext* c) { return stubs_[replica]->GetService(c, request, out); });
  }
  // Every live replica reports `name` at `version` (0: absent).
  bool Converged(const std::string& name, uint64_t version, uint32_t instances = 0) {
    for (size_t i = 0; i < replicas_.size(); ++i) {
      if (!replicas_[i]->process().Running()) continue;
      v1::GetServiceResponse got;
      grpc::Status status = Get(static_cast<int>(i), name, &got);
      if (version == 0) {
        if (status.error_code() != grpc::StatusCode::NOT_FOUND) return false;
        continue;
      }
      if (!status.ok() || got.service().version() != version || got.store_version() <= 0) {
        return false;
      }
      if (instances != 0 && got.service().spec().instances() != instances) return false;
    }
    return true;
  }

  // Deletes `name` through `replica`: OK, then the record shows deleting
  // (until the leader's scheduler removes it: that may already have
  // happened), then it is gone from every replica.
  void DeleteAndWaitGone(int replica, const std::string& name, uint64_t expected_version) {
    v1::DeleteServiceRequest remove;
    remove.set_name(name);
    remove.set_expected_version(expected_version);
    v1::DeleteServiceResponse removed;
    grpc::Status status = Rpc([&](grpc::ClientContext* c) {
      return stubs_[replica]->DeleteService(c, remove, &removed);
    });
    ASSERT_TRUE(status.ok()) << status.error_message();
    // The replica's copy follows: deleting, or already gone.
    EXPECT_TRUE(WaitFor(
        [&] {
          v1::GetServiceResponse got;
          status = Get(replica, name, &got);
          return status.ok() ? got.service().deleting()
                             : status.error_code() == grpc::StatusCode::NOT_FOUND;
        },
        absl::Seconds(10)))
        << name << ": " << status.error_message();
    // Deleting again is OK (or NOT_FOUND once it is gone).
    status = Rpc([&](grpc::ClientContext* c) {
      return stubs_[replica]->DeleteService(c, remove, &removed);
    });
    EXPECT_TRUE(status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND)
        << status.error_message();
    EXPECT_TRUE(WaitFor([&] { return Converged(name, 0); }, absl::Seconds(30)))
        << name << " was not removed (the leader's scheduler removes deleting services)";
  }

  // Runs mastctl against a dead endpoint, then `replica`; its exit code.
  int Mastctl(int replica, std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = {absl::StrCat("--endpoint=127.0.0.1:", testing::PickFreePort(),
                                                  ",", replicas_[replica]->grpc_address())};
    argv.insert(argv.end(), args.begin(), args.end());
    return set_.RunMastctl(argv, out);
  }

  std::unique_ptr<ZkServer> zk_;
  testing::ReplicaSet set_;
  std::vector<std::unique_ptr<MastdProcess>>& replicas_ = set_.replicas();
  std::vector<std::unique_ptr<v1::Mast::Stub>> stubs_;
};

TEST_F(ServiceApiTest, WritesThroughFollowersReadsEverywhereAndFailover) {
  const int leader = set_.WaitForAgreedLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  const int other = (leader + 2) % 3;

  // Create through a follower (forwarded), read from every replica.
  v1::Service created;
  grpc::Status status = Create(follower, Spec("team/web", 2), &created, "create-1");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.version(), 1u);
  EXPECT_EQ(created.spec().kill_grace_period().seconds(), 3);
  EXPECT_TRUE(WaitFor([&] { return Converged("team/web", 1, 2); }, absl::Seconds(10)));

  // The same idempotency key through another replica: the first answer.
  v1::Service repeated;
  status = Create(other, Spec("team/web", 2), &repeated, "create-1");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(repeated.SerializeAsString(), created.SerializeAsString());

  v1::Service ignored;
  status = Create(other, Spec("team/web", 2), &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << status.error_message();

  v1::ServiceSpec invalid = Spec("team/bad", 1);
  invalid.mutable_resources()->set_cpus(0);
  status = Create(follower, invalid, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("spec.resources.cpus"));
  // Every bad field at once, in field order.
  invalid.set_name("Team/bad");
  status = Create(follower, invalid, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              ::testing::MatchesRegex("spec\\.name: .*; spec\\.resources\\.cpus: must be > 0"));

  v1::UpdateServiceRequest stale;
  *stale.mutable_spec() = Spec("team/web", 4);
  stale.set_expected_version(7);
  status = Rpc(
      [&](grpc::ClientContext* c) { return stubs_[follower]->UpdateService(c, stale, &ignored); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();

  // Scale through the other follower, with the right version.
  v1::ScaleServiceRequest scale;
  scale.set_name("team/web");
  scale.set_instances(5);
  scale.set_expected_version(1);
  v1::Service scaled;
  status =
      Rpc([&](grpc::ClientContext* c) { return stubs_[other]->ScaleService(c, scale, &scaled); });
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(scaled.version(), 2u);
  EXPECT_TRUE(WaitFor([&] { return Converged("team/web", 2, 5); }, absl::Seconds(10)));

  // List from a follower: prefix and label filters.
  ASSERT_TRUE(Create(leader, Spec("team/db", 1), &ignored).ok());
  ASSERT_TRUE(Create(follower, Spec("other/x", 1), &ignored).ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        v1::ListServicesRequest list;
        list.set_prefix("team/");
        list.set_label_selector("tier=web");
        v1::ListServicesResponse page;
        grpc::Status s = Rpc(
            [&](grpc::ClientContext* c) { return stubs_[other]->ListServices(c, list, &page); });
        return s.ok() && page.services_size() == 2 && page.services(0).spec().name() == "team/db" &&
               page.services(1).spec().name() == "team/web" && page.store_version() > 0;
      },
      absl::Seconds(10)));

  // Restart through a follower: a new task version, the spec unchanged.
  v1::RestartServiceRequest restart;
  restart.set_name("team/web");
  restart.set_expected_version(2);
  v1::Service restarted;
  status = Rpc([&](grpc::ClientContext* c) {
    return stubs_[follower]->RestartService(c, restart, &restarted);
  });
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(restarted.version(), 3u);
  EXPECT_EQ(restarted.task_version(), 3u);
  EXPECT_EQ(restarted.spec().instances(), 5u);
  EXPECT_TRUE(WaitFor([&] { return Converged("team/web", 3, 5); }, absl::Seconds(10)));

  // Tasks, from a follower's copy (no Mesos here: none were launched).
  v1::ListTasksRequest tasks;
  tasks.set_service("team/web");
  v1::ListTasksResponse task_page;
  status =
      Rpc([&](grpc::ClientContext* c) { return stubs_[other]->ListTasks(c, tasks, &task_page); });
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(task_page.store_version(), 0);
  tasks.set_service("team/none");
  status =
      Rpc([&](grpc::ClientContext* c) { return stubs_[other]->ListTasks(c, tasks, &task_page); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  // Delete with a stale version, then for real: the service is marked
  // deleting, later writes to it are refused, and the leader's scheduler
  // removes it.
  v1::DeleteServiceRequest remove;
  remove.set_name("team/web");
  remove.set_expected_version(1);
  v1::DeleteServiceResponse removed;
  status = Rpc(
      [&](grpc::ClientContext* c) { return stubs_[follower]->DeleteService(c, remove, &removed); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
  DeleteAndWaitGone(follower, "team/web", 3);
  status =
      Rpc([&](grpc::ClientContext* c) { return stubs_[other]->ScaleService(c, scale, &scaled); });
  EXPECT_TRUE(status.error_code() == grpc::StatusCode::NOT_FOUND ||
              status.error_code() == grpc::StatusCode::FAILED_PRECONDITION)
      << status.error_message();

  // mastctl through a dead endpoint and a follower: deploy from a JSON
  // file, get, ls, scale, rm.
  const std::string spec_path = set_.log_dir() + "/spec.json";
  std::ofstream(spec_path) << R"({"name": "team/ctl", "command": {"shell": "sleep 1"},
      "resources": {"cpus": 0.1, "memMib": 32}, "instances": 1})";
  std::string out;
  EXPECT_EQ(Mastctl(follower, {"deploy", "-f", spec_path}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("team/ctl"));
  EXPECT_TRUE(WaitFor([&] { return Converged("team/ctl", 1, 1); }, absl::Seconds(10)));
  EXPECT_EQ(Mastctl(other, {"get", "team/ctl", "-o", "json"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(R"("name":"team/ctl")"));
  EXPECT_EQ(Mastctl(other, {"ls", "--prefix=team/"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("team/db"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("other/x")));
  EXPECT_EQ(Mastctl(follower, {"scale", "team/ctl", "1000000000"}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("mastctl: INVALID_ARGUMENT: instances: must be <= 10000, not "
                             "1000000000"));
  EXPECT_EQ(Mastctl(follower, {"scale", "team/ctl", "3"}, &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] { return Converged("team/ctl", 2, 3); }, absl::Seconds(10)));
  std::ofstream(spec_path) << R"({"name": "team/ctl", "command": {"shell": "sleep 2"},
      "resources": {"cpus": 0.1, "memMib": 32}, "instances": 3})";
  EXPECT_EQ(
      Mastctl(follower, {"update", "-f", spec_path, "--expected_version=2", "-o", "json"}, &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr(R"("task_version":"3")"));
  EXPECT_EQ(Mastctl(follower, {"update", "-f", spec_path, "--expected_version=2"}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("at version 3"));
  // --force: the update's deployment may still be in progress.
  EXPECT_EQ(Mastctl(other, {"restart", "team/ctl", "--force"}, &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] { return Converged("team/ctl", 4, 3); }, absl::Seconds(10)));
  // No Mesos here: the restart's deployment waits for tasks that never run.
  // Paused, `rollout status` says so (3); cancelled, it says that (6).
  EXPECT_EQ(Mastctl(other, {"rollout", "pause", "team/ctl"}, &out), 0) << out;
  EXPECT_EQ(Mastctl(other, {"rollout", "status", "team/ctl", "--timeout=15s"}, &out), 3) << out;
  EXPECT_EQ(Mastctl(follower, {"rollout", "cancel", "team/ctl"}, &out), 0) << out;
  EXPECT_EQ(Mastctl(other, {"rollout", "status", "team/ctl", "--timeout=15s"}, &out), 6) << out;
  EXPECT_EQ(Mastctl(follower, {"rollout", "history", "team/ctl"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("VERSIONS"));
  EXPECT_EQ(Mastctl(other, {"rollout", "status", "team/none"}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("not found"));
  EXPECT_EQ(Mastctl(other, {"rollout", "bogus", "team/ctl"}, &out), 2) << out;
  EXPECT_EQ(Mastctl(other, {"tasks", "team/ctl", "--state=RUNNING,STAGING"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("SERVICE"));
  EXPECT_EQ(Mastctl(other, {"tasks", "-o", "json"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(R"("store_version")"));
  EXPECT_EQ(Mastctl(other, {"tasks", "--state=BOGUS"}, &out), 2) << out;
  EXPECT_EQ(Mastctl(follower, {"rm", "team/ctl"}, &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] { return Converged("team/ctl", 0); }, absl::Seconds(30)));
  EXPECT_EQ(Mastctl(follower, {"get", "team/ctl"}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("mastctl: NOT_FOUND: "));
  EXPECT_THAT(out, HasSubstr("not found"));
  // A refused spec: the code by name, then every bad field.
  std::ofstream(spec_path) << R"({"name": "Team/ctl", "command": {"shell": "sleep 1"},
      "resources": {"cpus": -1, "memMib": 32}, "instances": 20000})";
  EXPECT_EQ(Mastctl(follower, {"deploy", "-f", spec_path}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("mastctl: INVALID_ARGUMENT: spec.name: 'Team/ctl' is not"));
  EXPECT_THAT(out, HasSubstr("; spec.resources.cpus: must be > 0; spec.instances: must be <= "
                             "10000, not 20000\n"));

  // A watch through mastctl, connected to the leader first: it must
  // survive the leader going (it resumes on the next endpoint).
  auto watch = Subprocess::Spawn({testing::MastctlBinary(),
                                  absl::StrCat("--endpoint=", replicas_[leader]->grpc_address(),
                                               ",", replicas_[follower]->grpc_address()),
                                  "watch", "--prefix=team/"},
                                 absl::StrCat(set_.log_dir(), "/mastctl-watch"));
  ASSERT_TRUE(watch.ok()) << watch.status();
  EXPECT_TRUE(
      WaitFor([&] { return absl::StrContains(watch->ReadLog(), " SYNCED"); }, absl::Seconds(10)))
      << watch->ReadLog();
  EXPECT_THAT(watch->ReadLog(), HasSubstr("ADDED service team/db"));
  EXPECT_THAT(watch->ReadLog(), ::testing::Not(HasSubstr("other/x")));

  // A gRPC watch on a follower sees a change made through the leader.
  grpc::ClientContext watch_context;
  watch_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::WatchEventsRequest watch_request;
  watch_request.set_service_prefix("team/");
  auto follower_watch = stubs_[other]->WatchEvents(&watch_context, watch_request);
  v1::WatchEvent event;
  do {
    ASSERT_TRUE(follower_watch->Read(&event));
  } while (event.type() != v1::WatchEvent::SYNCED);
  ASSERT_TRUE(Create(leader, Spec("team/watched", 1), &ignored).ok());
  do {
    ASSERT_TRUE(follower_watch->Read(&event));
  } while (!event.has_service());
  EXPECT_EQ(event.type(), v1::WatchEvent::ADDED);
  EXPECT_EQ(event.service().spec().name(), "team/watched");
  EXPECT_GT(event.store_version(), 0);
  watch_context.TryCancel();
  follower_watch->Finish();

  // SIGTERM the leader: writes through the survivors keep working (after
  // UNAVAILABLE while the election settles).
  replicas_[leader]->process().Signal(SIGTERM);
  ASSERT_TRUE(replicas_[leader]->process().Wait(absl::Seconds(10)).has_value());
  grpc::Status after;
  EXPECT_TRUE(WaitFor(
      [&] {
        after = Create(follower, Spec("team/after", 3), &ignored, "after-1");
        return after.ok();
      },
      absl::Seconds(30)))
      << after.error_message();
  scale.set_name("team/db");
  scale.set_instances(4);
  scale.set_expected_version(1);
  status =
      Rpc([&](grpc::ClientContext* c) { return stubs_[other]->ScaleService(c, scale, &scaled); });
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(WaitFor([&] { return Converged("team/after", 1, 3) && Converged("team/db", 2, 4); },
                      absl::Seconds(10)));
  // The watch resumed on the next endpoint and saw both.
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string log = watch->ReadLog();
        return absl::StrContains(log, "service team/after version=1") &&
               absl::StrContains(log, "service team/db version=2");
      },
      absl::Seconds(20)))
      << watch->ReadLog();
  EXPECT_THAT(watch->ReadLog(), HasSubstr("resuming from version"));
  EXPECT_TRUE(watch->Running());
  DeleteAndWaitGone(other, "team/after", 0);
}

TEST_F(ServiceApiTest, NoLeaderKnownIsUnavailableWithARetryHint) {
  ASSERT_GE(set_.WaitForAgreedLeader(), 0);
  // Stop ZooKeeper: followers lose the leader, the leader pauses.
  zk_->Stop();
  grpc::Status status;
  EXPECT_TRUE(WaitFor(
      [&] {
        v1::Service ignored;
        bool all = true;
        for (int i = 0; i < 3; ++i) {
          status = Create(i, Spec(absl::StrCat("x/", i), 1), &ignored);
          all = all && status.error_code() == grpc::StatusCode::UNAVAILABLE;
        }
        return all;
      },
      absl::Seconds(30)))
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("retry"));
}

// The store version a write answered with (0 when it carried none).
int64_t WrittenAt(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(kStoreVersionTrailer);
  int64_t version = 0;
  if (it == trailers.end() ||
      !absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &version)) {
    return 0;
  }
  return version;
}

// Read your own writes: a read given the store version of a write made just
// before sees it at once, on the replica that took the write (the leader
// itself, whose read copy follows ZooKeeper's watches a little later) and on
// a follower, whether the write went to the leader or was forwarded.
TEST_F(ServiceApiTest, ReadsAtTheWritesStoreVersionSeeTheWriteOnEveryReplica) {
  const int leader = set_.WaitForAgreedLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  const int other = (leader + 2) % 3;
  auto write_at = [&](int replica, const std::string& name, int64_t* version) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::CreateServiceRequest request;
    *request.mutable_spec() = Spec(name, 1);
    v1::Service created;
    grpc::Status status = stubs_[replica]->CreateService(&context, request, &created);
    *version = WrittenAt(context);
    return status;
  };
  auto get_at = [&](int replica, const std::string& name, int64_t version,
                    v1::GetServiceResponse* out) {
    v1::GetServiceRequest request;
    request.set_name(name);
    request.set_min_store_version(version);
    return Rpc(
        [&](grpc::ClientContext* c) { return stubs_[replica]->GetService(c, request, out); });
  };

  int64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    // Written through the leader, and through a follower (forwarded).
    for (int writer : {leader, follower}) {
      const std::string name = absl::StrCat("ryw/", writer == leader ? "l" : "f", i);
      int64_t version = 0;
      grpc::Status status = write_at(writer, name, &version);
      ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();
      ASSERT_GT(version, last) << name << ": every write answers a newer store version";
      last = version;
      // Read right away on the writer, and on both other replicas.
      for (int reader : {writer, follower == writer ? leader : follower, other}) {
        v1::GetServiceResponse got;
        status = get_at(reader, name, version, &got);
        ASSERT_TRUE(status.ok()) << name << " read on replica " << reader << " at version "
                                 << version << ": " << status.error_message();
        EXPECT_EQ(got.service().version(), 1u);
        EXPECT_GE(got.store_version(), version);
      }
    }
  }

  // A scale through a follower, read back there: the new instances, and the
  // answer shows the computed status like a read does (no tasks here).
  grpc::ClientContext scale_context;
  scale_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::ScaleServiceRequest scale;
  scale.set_name("ryw/l0");
  scale.set_instances(3);
  v1::Service scaled;
  grpc::Status status = stubs_[follower]->ScaleService(&scale_context, scale, &scaled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const int64_t scaled_at = WrittenAt(scale_context);
  EXPECT_EQ(scaled.status().deployment_id(), "");  // a scale starts no deployment
  v1::GetServiceResponse got;
  status = get_at(follower, "ryw/l0", scaled_at, &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(got.service().spec().instances(), 3u);
  EXPECT_EQ(got.service().status().SerializeAsString(), scaled.status().SerializeAsString());

  // The lists wait too.
  v1::ListServicesRequest list;
  list.set_prefix("ryw/");
  list.set_min_store_version(scaled_at);
  v1::ListServicesResponse listed;
  status =
      Rpc([&](grpc::ClientContext* c) { return stubs_[other]->ListServices(c, list, &listed); });
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(listed.services_size(), 40);
  EXPECT_GE(listed.store_version(), scaled_at);
  v1::ListTasksRequest tasks;
  tasks.set_service("ryw/f19");
  tasks.set_min_store_version(scaled_at);
  v1::ListTasksResponse none;
  status = Rpc([&](grpc::ClientContext* c) { return stubs_[other]->ListTasks(c, tasks, &none); });
  EXPECT_TRUE(status.ok()) << status.error_message();

  // A delete through a follower: read at its version, the service shows
  // deleting (or is gone already), never as it was.
  grpc::ClientContext delete_context;
  delete_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::DeleteServiceRequest remove;
  remove.set_name("ryw/f0");
  v1::DeleteServiceResponse removed;
  status = stubs_[follower]->DeleteService(&delete_context, remove, &removed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const int64_t deleted_at = WrittenAt(delete_context);
  status = get_at(other, "ryw/f0", deleted_at, &got);
  if (deleted_at > 0) {
    EXPECT_TRUE(status.ok() ? got.service().deleting()
                            : status.error_code() == grpc::StatusCode::NOT_FOUND)
        << status.error_message();
  }

  // mastctl prints a write's version; a get given it sees the write at once
  // on another replica.
  const std::string spec_path = set_.log_dir() + "/ryw.json";
  std::ofstream(spec_path) << R"({"name": "ryw/ctl", "command": {"shell": "sleep 1"},
      "resources": {"cpus": 0.1, "memMib": 32}, "instances": 1})";
  std::string out;
  ASSERT_EQ(Mastctl(follower, {"deploy", "-f", spec_path}, &out), 0) << out;
  const std::string marker = "written at store version ";
  const size_t at = out.find(marker);
  ASSERT_NE(at, std::string::npos) << out;
  int64_t ctl_version = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      out.substr(at + marker.size(), out.find(' ', at + marker.size()) - at - marker.size()),
      &ctl_version))
      << out;
  EXPECT_GT(ctl_version, last);
  EXPECT_EQ(
      Mastctl(other,
              {"get", "ryw/ctl", absl::StrCat("--min_store_version=", ctl_version), "-o", "json"},
              &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr(R"("name":"ryw/ctl")"));

  // A version no replica has reached: UNAVAILABLE naming it, within the deadline.
  grpc::ClientContext future;
  future.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
  v1::GetServiceRequest ahead;
  ahead.set_name("ryw/l0");
  ahead.set_min_store_version(last + (int64_t{1} << 40));
  status = stubs_[other]->GetService(&future, ahead, &got);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr(absl::StrCat(ahead.min_store_version())));
}

}  // namespace
}  // namespace mast
