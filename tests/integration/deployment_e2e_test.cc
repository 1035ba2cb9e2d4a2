// Deployments end to end: three mastd processes on a real ZooKeeper roll
// services out on the local master (in process; it runs the health checks
// the way the Mesos command executor does). A rolling update of 20 tasks at
// minimum health 0.8, a canary that pauses and resumes, a failing version
// that rolls back by itself, and the leader SIGKILLed at every step of a
// deployment.
//
// The bounds of UpgradeStrategy are checked from the WatchEvents stream of
// a replica: after every store version, the ready tasks (RUNNING, healthy,
// not being killed) never fall below ceil(min_health x N) and the tasks not
// yet ended never exceed floor((1 + max_over) x N).

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "store/task_state.h"
#include "tests/integration/e2e_fixture.h"

namespace mast::e2e {
namespace {

// A COMMAND health check run every 200 ms, passing at once (unless the
// master is told to fail it).
void AddHealthCheck(v1::ServiceSpec& spec) {
  v1::HealthCheck* check = spec.mutable_health_check();
  check->set_protocol(v1::HealthCheck::COMMAND);
  check->mutable_command()->set_shell("true");
  *check->mutable_delay() = ProtoDuration(absl::ZeroDuration());
  *check->mutable_grace_period() = ProtoDuration(absl::ZeroDuration());
  *check->mutable_interval() = ProtoDuration(absl::Milliseconds(200));
  // A check slowed by a loaded machine must not fail: an unhealthy old task
  // is the first a deployment replaces.
  *check->mutable_timeout() = ProtoDuration(absl::Seconds(10));
  check->set_consecutive_failures(2);
}

bool Ended(const v1::Task& task) { return IsTerminal(task.state()); }

// The tasks of one service rebuilt from a WatchEvents stream, and the
// extremes of the counts UpgradeStrategy bounds, taken at every store
// version (the events of one write are applied together first).
class RolloutBounds {
 public:
  RolloutBounds(std::string service, bool health_checked)
      : service_(std::move(service)), health_checked_(health_checked) {}

  // Replays `events` (from a stream that began at version 0) from the start.
  void Replay(const std::vector<v1::WatchEvent>& events) {
    tasks_.clear();
    min_ready_ = -1;
    max_total_ = 0;
    bool synced = false;
    int64_t version = 0;
    for (const v1::WatchEvent& e : events) {
      if (synced && e.store_version() != version) Sample();
      version = version_ = e.store_version();
      if (e.type() == v1::WatchEvent::SYNCED) synced = true;
      if (e.object_case() != v1::WatchEvent::kTask || e.task().service() != service_) continue;
      if (e.type() == v1::WatchEvent::DELETED || Ended(e.task())) {
        tasks_.erase(e.task().id());
      } else {
        tasks_[e.task().id()] = e.task();
      }
    }
    if (synced) Sample();
  }

  int min_ready() const { return min_ready_; }
  int max_total() const { return max_total_; }
  const std::string& worst() const { return worst_; }

 private:
  void Sample() {
    int ready = 0;
    for (const auto& [id, task] : tasks_) {
      ready += task.state() == v1::Task::RUNNING && !task.kill_requested() &&
                       (!health_checked_ || task.healthy())
                   ? 1
                   : 0;
    }
    const int total = static_cast<int>(tasks_.size());
    if (min_ready_ < 0 || ready < min_ready_) {
      min_ready_ = ready;
      worst_ = absl::StrCat("ready ", ready, " of ", total, " at store version ", version_, ":");
      for (const auto& [id, task] : tasks_) {
        absl::StrAppend(&worst_, " ", id, "=", v1::Task::State_Name(task.state()),
                        task.healthy() ? "/healthy" : "", task.kill_requested() ? "/killed" : "");
      }
    }
    max_total_ = std::max(max_total_, total);
  }

  const std::string service_;
  const bool health_checked_;
  std::map<std::string, v1::Task> tasks_;
  int min_ready_ = -1;
  int max_total_ = 0;
  int64_t version_ = 0;
  std::string worst_;
};

class DeploymentE2eTest : public LocalMasterE2eTest {
 protected:
  // The master's config; tasks are simulated (they run until killed).
  virtual local::LocalMasterConfig MasterConfig() { return LocalConfig(); }

  void SetUp() override {
    LocalMasterE2eTest::SetUp();
    StartMaster(MasterConfig());
    StartReplicas();
    leader_ = WaitForSubscribedLeader();
    ASSERT_GE(leader_, 0);
  }

  // The service's deployment as replica `r` reads it (unset if none).
  v1::Deployment DeploymentAt(int r, const std::string& name) {
    v1::GetServiceResponse got;
    if (!Get(r, name, &got).ok()) return v1::Deployment();
    return got.service().deployment();
  }

  // Waits until some live replica reads the deployment `id` of `name` in
  // `state`; the deployment then.
  std::optional<v1::Deployment> WaitForState(const std::string& name, const std::string& id,
                                             v1::Deployment::State state,
                                             absl::Duration timeout = absl::Seconds(60)) {
    std::optional<v1::Deployment> found;
    WaitFor(
        [&] {
          for (int i = 0; i < 3; ++i) {
            if (!Alive(i)) continue;
            v1::Deployment d = DeploymentAt(i, name);
            if (d.id() == id && d.state() == state) {
              found = d;
              return true;
            }
            if (d.id() == id) Why(absl::StrCat("deployment ", id, " is ", State(d)));
          }
          return false;
        },
        timeout, kPoll);
    return found;
  }

  static std::string State(const v1::Deployment& d) {
    return absl::StrCat(v1::Deployment::State_Name(d.state()), " step ", d.step(), "/",
                        d.step_count(), " ", d.failure_reason());
  }

  grpc::Status Resume(int r, const std::string& name, v1::Deployment* out) {
    v1::DeploymentRequest request;
    request.set_service(name);
    return Rpc(
        [&](grpc::ClientContext* c) { return stubs_[r]->ResumeDeployment(c, request, out); });
  }

  // Tasks of `service` every replica lists, by task_version.
  std::map<uint64_t, int> LiveByVersion(int r, const std::string& service) {
    std::map<uint64_t, int> by_version;
    auto tasks = ListTasks(r, service);
    if (!tasks.ok()) return by_version;
    for (const v1::Task& task : *tasks) {
      if (!Ended(task) && !task.kill_requested()) ++by_version[task.version()];
    }
    return by_version;
  }

  // Waits until the leader lists `n` tasks of `service`, all RUNNING and
  // healthy (not-ready old tasks are the first a deployment replaces, so the
  // bounds hold from a healthy start).
  bool WaitAllHealthy(const std::string& service, int n) {
    return WaitFor(
        [&] {
          auto tasks = ListTasks(leader_, service);
          if (!tasks.ok() || static_cast<int>(tasks->size()) != n) return false;
          return std::all_of(tasks->begin(), tasks->end(), [](const v1::Task& t) {
            return t.state() == v1::Task::RUNNING && t.healthy() && !t.kill_requested();
          });
        },
        absl::Seconds(30), kPoll);
  }

  int leader_ = -1;
};

// (1) 20 tasks with health checks, min health 0.8, max over 0.1: ready
// tasks never below 16, tasks never above 22, and every task is new at
// the end.
TEST_F(DeploymentE2eTest, RollingUpdateOf20KeepsTheStrategysBounds) {
  constexpr int kN = 20;
  v1::ServiceSpec spec = Spec("e2e/roll20", kN);
  AddHealthCheck(spec);
  spec.mutable_upgrade_strategy()->set_minimum_health_capacity(0.8);
  spec.mutable_upgrade_strategy()->set_maximum_over_capacity(0.1);
  (*spec.mutable_env())["VERSION"] = "1";
  const int follower = (leader_ + 1) % 3;
  ASSERT_TRUE(Create(follower, spec).ok());
  ASSERT_EQ(WaitConverged("e2e/roll20", kN).size(), static_cast<size_t>(kN));
  ASSERT_TRUE(WaitAllHealthy("e2e/roll20", kN));
  WatchReader watch(*stubs_[follower], 0, "e2e/roll20");

  (*spec.mutable_env())["VERSION"] = "2";
  v1::Service updated;
  grpc::Status status = Update(follower, spec, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(updated.has_deployment());
  const std::string id = updated.deployment().id();
  std::optional<v1::Deployment> done =
      WaitForState("e2e/roll20", id, v1::Deployment::SUCCEEDED, absl::Seconds(90));
  ASSERT_TRUE(done.has_value()) << last_why_;
  EXPECT_TRUE(WaitFor(
      [&] {
        return LiveByVersion(follower, "e2e/roll20") ==
               std::map<uint64_t, int>{{updated.task_version(), kN}};
      },
      absl::Seconds(10), kPoll))
      << "the follower's copy catches up: only new tasks";
  ASSERT_TRUE(WaitFor(
      [&] {
        return watch.Saw([&](const v1::WatchEvent& e) {
          return e.has_deployment() && e.deployment().id() == id &&
                 e.deployment().state() == v1::Deployment::SUCCEEDED;
        });
      },
      absl::Seconds(10), kPoll));
  RolloutBounds bounds("e2e/roll20", true);
  bounds.Replay(watch.events());
  EXPECT_GE(bounds.min_ready(), 16) << bounds.worst();
  EXPECT_LE(bounds.max_total(), 22);
  EXPECT_GT(bounds.max_total(), kN) << "the rollout used its surge";
}

// (2) A canary: one new task, then PAUSED with the other three old; a
// resume rolls out the rest.
TEST_F(DeploymentE2eTest, CanaryPausesAfterItsStepAndResumes) {
  constexpr int kN = 4;
  v1::ServiceSpec spec = Spec("e2e/canary", kN);
  (*spec.mutable_env())["VERSION"] = "1";
  const int follower = (leader_ + 1) % 3;
  v1::Service created;
  ASSERT_TRUE(Create(follower, spec, &created).ok());
  ASSERT_EQ(WaitConverged("e2e/canary", kN).size(), static_cast<size_t>(kN));

  (*spec.mutable_env())["VERSION"] = "2";
  spec.mutable_upgrade_strategy()->add_steps()->set_instances(1);
  spec.mutable_upgrade_strategy()->set_pause_after_step(true);
  // No check: a new task counts once it has run for min_ready (short here).
  *spec.mutable_upgrade_strategy()->mutable_min_ready() = ProtoDuration(absl::Milliseconds(300));
  v1::Service updated;
  ASSERT_TRUE(Update(follower, spec, &updated).ok());
  const std::string id = updated.deployment().id();
  std::optional<v1::Deployment> paused = WaitForState("e2e/canary", id, v1::Deployment::PAUSED);
  ASSERT_TRUE(paused.has_value()) << last_why_;
  EXPECT_TRUE(paused->step_done());
  EXPECT_EQ(paused->step(), 0u);
  EXPECT_EQ(paused->step_count(), 2u);
  ASSERT_TRUE(WaitFor(
      [&] {
        return LiveByVersion(follower, "e2e/canary") ==
               std::map<uint64_t, int>{{created.task_version(), 3}, {updated.task_version(), 1}};
      },
      absl::Seconds(10), kPoll))
      << "one canary beside three old tasks";

  v1::Deployment resumed;
  grpc::Status status = Resume(follower, "e2e/canary", &resumed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resumed.state(), v1::Deployment::RUNNING);
  EXPECT_EQ(resumed.step(), 1u);
  ASSERT_TRUE(WaitForState("e2e/canary", id, v1::Deployment::SUCCEEDED).has_value()) << last_why_;
  EXPECT_TRUE(WaitFor(
      [&] {
        return LiveByVersion(follower, "e2e/canary") ==
               std::map<uint64_t, int>{{updated.task_version(), kN}};
      },
      absl::Seconds(10), kPoll))
      << "the follower's copy catches up: only new tasks";
}

// The master runs the tasks' commands as processes.
class ExecutingDeploymentE2eTest : public DeploymentE2eTest {
 protected:
  local::LocalMasterConfig MasterConfig() override {
    local::LocalMasterConfig config = LocalConfig();
    config.execute = true;
    return config;
  }
};

// (3) A new version whose tasks fail at once (really run: `exit 3`): after
// two failures the deployment rolls back by itself; the old tasks stayed at
// min health.
TEST_F(ExecutingDeploymentE2eTest, AFailingVersionRollsBackByItself) {
  constexpr int kN = 4;
  // The task makes its check pass (a file in its sandbox, where the check
  // runs): a task that exits at once never passes it.
  v1::ServiceSpec spec = Spec("e2e/bad", kN, "touch alive && exec sleep 600");
  AddHealthCheck(spec);
  spec.mutable_health_check()->mutable_command()->set_shell("test -e alive");
  v1::UpgradeStrategy* strategy = spec.mutable_upgrade_strategy();
  strategy->set_minimum_health_capacity(0.75);
  strategy->set_maximum_over_capacity(0.5);
  strategy->set_failure_threshold(2);
  strategy->set_auto_rollback(true);
  const int follower = (leader_ + 1) % 3;
  v1::Service created;
  ASSERT_TRUE(Create(follower, spec, &created).ok());
  const std::set<std::string> old_ids = WaitConverged("e2e/bad", kN);
  ASSERT_EQ(old_ids.size(), static_cast<size_t>(kN));
  ASSERT_TRUE(WaitAllHealthy("e2e/bad", kN));
  WatchReader watch(*stubs_[follower], 0, "e2e/bad");

  spec.mutable_command()->set_shell("exit 3");
  v1::Service updated;
  ASSERT_TRUE(Update(follower, spec, &updated).ok());
  const std::string id = updated.deployment().id();
  std::optional<v1::Deployment> rolled =
      WaitForState("e2e/bad", id, v1::Deployment::ROLLED_BACK, absl::Seconds(90));
  ASSERT_TRUE(rolled.has_value()) << last_why_;
  EXPECT_NE(rolled->failure_reason(), "");
  v1::GetServiceResponse got;
  ASSERT_TRUE(Get(follower, "e2e/bad", &got).ok());
  EXPECT_EQ(got.service().spec().command().shell(), "touch alive && exec sleep 600")
      << "the spec went back";
  EXPECT_EQ(got.service().task_version(), created.task_version());
  EXPECT_GT(got.service().version(), updated.version());
  std::set<std::string> final_ids;
  ASSERT_TRUE(
      WaitFor([&] { return Converged("e2e/bad", kN, &final_ids); }, absl::Seconds(30), kPoll))
      << last_why_;
  // Min health 0.75 lets one old task go at the start (ready 4 > 3); the
  // other three ran throughout, and the service is back on the old version.
  int kept = 0;
  for (const std::string& task : final_ids) {
    kept += old_ids.count(task) > 0 ? 1 : 0;
    auto parsed = ParseTaskId(task);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->second, created.task_version()) << task;
  }
  EXPECT_GE(kept, 3) << Ids(final_ids) << " vs " << Ids(old_ids);
  RolloutBounds bounds("e2e/bad", true);
  bounds.Replay(watch.events());
  EXPECT_GE(bounds.min_ready(), 3) << bounds.worst();
  EXPECT_LE(bounds.max_total(), 6);
}

// (4) Steps of 1, 2 and 3 of 4 tasks; at the start and at each step the
// leader is SIGKILLed (and started again). The deployment ends SUCCEEDED
// with exactly four new tasks at the master, as without the kills.
TEST_F(DeploymentE2eTest, LeaderKilledAtEveryStepEndsTheSame) {
  constexpr int kN = 4;
  v1::ServiceSpec spec = Spec("e2e/steps", kN);
  (*spec.mutable_env())["VERSION"] = "1";
  int leader = leader_;
  ASSERT_TRUE(Create((leader + 1) % 3, spec).ok());
  ASSERT_EQ(WaitConverged("e2e/steps", kN).size(), static_cast<size_t>(kN));

  (*spec.mutable_env())["VERSION"] = "2";
  v1::UpgradeStrategy* strategy = spec.mutable_upgrade_strategy();
  for (uint32_t n : {1u, 2u, 3u}) strategy->add_steps()->set_instances(n);
  strategy->set_maximum_over_capacity(0.25);  // one task at a time
  *strategy->mutable_min_ready() = ProtoDuration(absl::Milliseconds(300));
  v1::Service updated;
  ASSERT_TRUE(Update((leader + 1) % 3, spec, &updated).ok());
  const std::string id = updated.deployment().id();
  std::set<uint32_t> killed_at;
  for (uint32_t step = 0; step < 4; ++step) {
    // Kill as soon as the deployment reads at this step.
    ASSERT_TRUE(WaitFor(
        [&] {
          for (int i = 0; i < 3; ++i) {
            if (!Alive(i)) continue;
            v1::Deployment d = DeploymentAt(i, "e2e/steps");
            if (d.id() == id && d.step() >= step) return true;
          }
          return false;
        },
        absl::Seconds(60), kPoll))
        << "step " << step;
    leader = WaitForSubscribedLeader();
    ASSERT_GE(leader, 0);
    if (DeploymentAt(leader, "e2e/steps").state() == v1::Deployment::SUCCEEDED) break;
    killed_at.insert(DeploymentAt(leader, "e2e/steps").step());
    replica(leader).process().Signal(SIGKILL);
    RestartReplica(leader);
  }
  EXPECT_GE(killed_at.size(), 2u) << "the leader died at several steps";
  ASSERT_TRUE(
      WaitForState("e2e/steps", id, v1::Deployment::SUCCEEDED, absl::Seconds(90)).has_value())
      << last_why_;
  std::set<std::string> final_ids;
  ASSERT_TRUE(
      WaitFor([&] { return Converged("e2e/steps", kN, &final_ids); }, absl::Seconds(30), kPoll))
      << last_why_;
  for (const std::string& task : final_ids) {
    auto parsed = ParseTaskId(task);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->second, updated.task_version()) << task;
  }
}

// (5) Against the real Mesos 1.11: tasks serve HTTP (python3 -m
// http.server), an HTTP health check and an HTTP readiness check run by the
// real command executor; a rolling update completes once the new tasks are
// healthy and ready.
class RealMesosDeploymentTest : public RealMesosE2eTest {};

TEST_F(RealMesosDeploymentTest, AnHttpCheckedRolloutWithReadinessCompletes) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "SKIPPED: no /usr/bin/python3";
  StartCluster(1, kRealAgentResources);
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  services_.push_back("e2e/http");
  constexpr int kN = 2;
  v1::ServiceSpec spec =
      Spec("e2e/http", kN, "exec /usr/bin/python3 -m http.server \"$PORT_HTTP\" --bind 127.0.0.1");
  spec.add_ports()->set_name("http");
  v1::HealthCheck* health = spec.mutable_health_check();
  health->set_protocol(v1::HealthCheck::HTTP);
  health->set_port_name("http");
  *health->mutable_delay() = ProtoDuration(absl::ZeroDuration());
  *health->mutable_grace_period() = ProtoDuration(absl::Seconds(30));
  *health->mutable_interval() = ProtoDuration(absl::Seconds(1));
  *health->mutable_timeout() = ProtoDuration(absl::Seconds(5));
  v1::ReadinessCheck* ready = spec.mutable_readiness_check();
  ready->set_protocol(v1::ReadinessCheck::HTTP);
  ready->set_port_name("http");
  *ready->mutable_interval() = ProtoDuration(absl::Seconds(1));
  *ready->mutable_timeout() = ProtoDuration(absl::Seconds(5));
  (*spec.mutable_env())["VERSION"] = "1";
  v1::Service created;
  ASSERT_TRUE(Create((leader + 1) % 3, spec, &created).ok());
  auto all_ready = [&](uint64_t task_version) {
    auto tasks = ListTasks(leader, "e2e/http");
    if (!tasks.ok()) return false;
    int n = 0;
    for (const v1::Task& task : *tasks) {
      n += task.version() == task_version && task.state() == v1::Task::RUNNING && task.healthy() &&
                   task.ready() && !task.kill_requested()
               ? 1
               : 0;
    }
    return n == kN && static_cast<int>(tasks->size()) == kN;
  };
  ASSERT_TRUE(WaitFor([&] { return all_ready(created.task_version()); }, absl::Seconds(90), kPoll))
      << "the real command executor reports the tasks healthy and ready";

  (*spec.mutable_env())["VERSION"] = "2";
  v1::Service updated;
  ASSERT_TRUE(Update((leader + 1) % 3, spec, &updated).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::GetServiceResponse got;
        return Get(leader, "e2e/http", &got).ok() &&
               got.service().deployment().id() == updated.deployment().id() &&
               got.service().deployment().state() == v1::Deployment::SUCCEEDED;
      },
      absl::Seconds(120), kPoll));
  EXPECT_TRUE(WaitFor([&] { return all_ready(updated.task_version()); }, absl::Seconds(30), kPoll))
      << "the old tasks end; the new ones stay healthy and ready";
}

}  // namespace
}  // namespace mast::e2e
