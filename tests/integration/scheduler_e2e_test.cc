// End-to-end scheduling through the gRPC API: three mastd processes on a
// real ZooKeeper keep services at their declared shape on a Mesos master.
// Deploys through a follower, scaling, deletes, a crash-looping task and its
// backoff, the leader SIGKILLed in the middle of a deploy, master restarts,
// a lost agent, a rolling update and a watch stream across a leader change.
//
// The project's local master (in process, with fault injection) runs every
// case. The real Mesos 1.11 master and agents (../shared/mesos, found through
// MAST_REAL_MESOS) run the deploy, scale, delete and leader-kill cases, with
// tasks really run by the command executor; those skip, saying so, where the
// build is absent.
//
// What the master reports (/master/tasks, the same JSON from both masters)
// is compared with what every replica's ListTasks reports. Waits are bounded
// (WaitFor); mastd runs with short intervals so that each case takes seconds.

#include "tests/integration/e2e_fixture.h"

namespace mast::e2e {
namespace {

TEST_F(LocalMasterE2eTest, DeployThroughFollower) {
  StartMaster();
  DeployThroughFollower();
}

TEST_F(LocalMasterE2eTest, FetchedArtifactsReachTheSandbox) {
  local::LocalMasterConfig config = LocalConfig();
  config.execute = true;
  StartMaster(config);
  FetchedArtifactsReachTheSandbox();
}

TEST_F(LocalMasterE2eTest, SecretsAndVolumesReachTheTask) {
  local::LocalMasterConfig config = LocalConfig();
  config.execute = true;
  StartMaster(config);
  SecretsAndVolumesReachTheTask(/*secret_file=*/true, /*sandbox_volume=*/false);
}

// A service on a named container network: its tasks take only the mapped
// host port, and every replica lists the address the agent reported.
TEST_F(LocalMasterE2eTest, ContainerNetworkTasksShowTheirAddresses) {
  StartMaster();
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  v1::ServiceSpec spec = Spec("e2e/overlay", 2);
  spec.clear_ports();
  v1::Network* network = spec.add_networks();
  network->set_mode(v1::Network::CONTAINER);
  network->set_name("overlay");
  v1::PortSpec* http = spec.add_ports();
  http->set_name("http");
  http->set_container_port(8080);
  v1::PortSpec* admin = spec.add_ports();
  admin->set_name("admin");
  admin->set_container_port(9090);
  admin->set_container_only(true);
  grpc::Status status = Create((leader + 1) % 3, spec);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(WaitConverged("e2e/overlay", 2).size(), 2u);
  for (int i = 0; i < 3; ++i) {
    std::string why;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto tasks = ListTasks(i, "e2e/overlay");
          if (!tasks.ok() || tasks->size() != 2) return false;
          for (const v1::Task& task : *tasks) {
            why = absl::StrCat(task.id(), " ips=", absl::StrJoin(task.ip_addresses(), ","),
                               " ports=", absl::StrJoin(task.ports(), ","));
            if (task.ip_addresses_size() != 1 || !absl::StartsWith(task.ip_addresses(0), "10.")) {
              return false;
            }
            // The mapped port's host port; the container-only one took none.
            if (task.ports_size() != 2 || task.ports(0) == 0 || task.ports(1) != 0) return false;
          }
          return true;
        },
        absl::Seconds(10), kPoll))
        << "r" << i << ": " << why;
  }
}

TEST_F(LocalMasterE2eTest, AServiceInItsOwnRoleRuns) {
  StartMaster();
  AServiceInItsOwnRoleRuns();
}

TEST_F(LocalMasterE2eTest, ScaleUpThenDownKillsTheYoungest) {
  StartMaster();
  ScaleUpThenDown();
}

// A write's answer shows the status a read would: a scale of a service
// with two running tasks answers "running 2" (it answered 0 before the
// writer computed it), through a follower too.
TEST_F(LocalMasterE2eTest, ScaleAnswerCountsTheRunningTasks) {
  StartMaster();
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  ASSERT_TRUE(Create(follower, Spec("e2e/status", 2)).ok());
  // The leader's copy knows both running (its answers are computed from it).
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::GetServiceResponse got;
        return Get(leader, "e2e/status", &got).ok() && got.service().status().running() == 2;
      },
      absl::Seconds(30), kPoll));
  v1::Service scaled;
  grpc::Status status = Scale(follower, "e2e/status", 3, &scaled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(scaled.version(), 2u);
  EXPECT_EQ(scaled.spec().instances(), 3u);
  EXPECT_EQ(scaled.status().running(), 2u);
  EXPECT_EQ(scaled.status().deployment_id(), "");  // a scale starts no deployment
}

// Health checks end to end, run by the local master as the Mesos executor
// runs them: every task reports healthy; one made to fail its checks gets a
// replacement, and is killed only once the replacement is healthy, so the
// service never has fewer than 2 healthy tasks of 3 (and never below 3 once
// the replacement is in); the executor itself kills nothing.
TEST_F(LocalMasterE2eTest, AFailingHealthCheckReplacesTheTaskReplacementFirst) {
  StartMaster();
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  v1::ServiceSpec spec = Spec("e2e/health", 3);
  v1::HealthCheck* check = spec.mutable_health_check();
  check->set_protocol(v1::HealthCheck::COMMAND);
  check->mutable_command()->set_shell("true");
  *check->mutable_delay() = ProtoDuration(absl::ZeroDuration());
  *check->mutable_grace_period() = ProtoDuration(absl::ZeroDuration());
  *check->mutable_interval() = ProtoDuration(absl::Milliseconds(200));
  *check->mutable_timeout() = ProtoDuration(absl::Seconds(1));
  check->set_consecutive_failures(2);
  ASSERT_TRUE(Create((leader + 1) % 3, spec).ok());
  const std::set<std::string> ids = WaitConverged("e2e/health", 3);
  ASSERT_EQ(ids.size(), 3u);
  auto healthy_tasks = [&](bool* sick_killed, const std::string& sick) -> int {
    auto tasks = ListTasks(leader, "e2e/health");
    if (!tasks.ok()) return -1;
    int healthy = 0;
    for (const v1::Task& task : *tasks) {
      if (task.id() == sick) *sick_killed = task.kill_requested();
      healthy += task.healthy() && task.id() != sick ? 1 : 0;
    }
    return healthy;
  };
  bool unused = false;
  ASSERT_TRUE(WaitFor([&] { return healthy_tasks(&unused, "") == 3; }, absl::Seconds(30), kPoll))
      << "every task reports healthy";

  const std::string sick = *ids.begin();
  master_->SetHealthChecksFailing(sick, true);
  int min_others_healthy = 3, healthy_when_killed = -1;
  std::set<std::string> final_ids;
  ASSERT_TRUE(WaitFor(
      [&] {
        bool killed = false;
        const int others = healthy_tasks(&killed, sick);
        if (others < 0) return false;
        min_others_healthy = std::min(min_others_healthy, others);
        if (killed && healthy_when_killed < 0) healthy_when_killed = others;
        return Converged("e2e/health", 3, &final_ids) && final_ids.count(sick) == 0 &&
               healthy_tasks(&killed, "") == 3;
      },
      absl::Seconds(60), kPoll))
      << last_why_;
  EXPECT_GE(min_others_healthy, 2) << "the other two stayed healthy throughout";
  EXPECT_EQ(healthy_when_killed, 3) << "killed only once its replacement was healthy";
  EXPECT_EQ(final_ids.size(), 3u);
}

TEST_F(LocalMasterE2eTest, DeleteKillsTheTasksThenRemovesTheService) {
  StartMaster();
  DeleteKillsThenRemoves();
}

// (4) A task that fails at once (really run: `exit 1`) is relaunched after
// the spec's backoff, which grows with every consecutive failure: the gap
// between a task's end and the next launch, as the master timestamps them,
// is at least initial * factor^(k-1) before the k-th relaunch.
TEST_F(LocalMasterE2eTest, FailingTaskIsRelaunchedWithGrowingBackoff) {
  local::LocalMasterConfig config = LocalConfig();
  config.agents = 1;
  config.execute = true;
  StartMaster(config);
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  v1::ServiceSpec spec = Spec("e2e/crash", 1, "exit 1");
  *spec.mutable_backoff()->mutable_initial() = ProtoDuration(absl::Milliseconds(200));
  spec.mutable_backoff()->set_factor(2);
  *spec.mutable_backoff()->mutable_max() = ProtoDuration(absl::Seconds(30));
  ASSERT_TRUE(Create((leader + 1) % 3, spec).ok());

  // Six runs: five relaunches, after 200, 400, 800, 1600 and 3200 ms at least.
  constexpr int kRuns = 6;
  std::vector<MasterTask> ended;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto tasks = MasterTasks("e2e/crash");
        if (!tasks.ok()) return false;
        ended.clear();
        for (const MasterTask& task : *tasks) {
          if (task.state == mesos_v1::TASK_FAILED) ended.push_back(task);
        }
        return ended.size() >= kRuns;
      },
      absl::Seconds(60), kPoll))
      << "failed runs: " << ended.size();
  std::sort(ended.begin(), ended.end(), [](const MasterTask& a, const MasterTask& b) {
    return a.first_timestamp() < b.first_timestamp();
  });
  std::string timeline;
  for (const MasterTask& task : ended) {
    absl::StrAppend(&timeline, task.id, " launched ",
                    absl::StrFormat("%.3f", task.first_timestamp()), " failed ",
                    absl::StrFormat("%.3f", task.timestamp_of(mesos_v1::TASK_FAILED).value_or(0)),
                    "\n");
  }
  for (int k = 1; k < kRuns; ++k) {
    const double failed = ended[k - 1].timestamp_of(mesos_v1::TASK_FAILED).value_or(0);
    const double gap = ended[k].first_timestamp() - failed;
    const double want = 0.2 * std::pow(2.0, k - 1);
    EXPECT_GE(gap, want - 0.005) << "relaunch " << k << " came " << gap << " s after the failure, "
                                 << "want >= " << want << " s\n"
                                 << timeline;
  }

  // Mast counts the failures and names the last one, on every replica.
  for (int i = 0; i < 3; ++i) {
    v1::GetServiceResponse got;
    ASSERT_TRUE(WaitFor(
        [&] {
          return Get(i, "e2e/crash", &got).ok() && got.service().status().failed() >= kRuns - 1;
        },
        absl::Seconds(10), kPoll))
        << "r" << i << ": " << got.service().status().ShortDebugString();
    const v1::ServiceStatus& status = got.service().status();
    EXPECT_THAT(status.last_failure(), ::testing::HasSubstr("TASK_FAILED"));
    EXPECT_TRUE(status.has_last_failure_time());
  }
  EXPECT_TRUE(replica(leader).LogContains("event=task_failed"));
}

// (5) The leader is SIGKILLed in the middle of a 50-instance deploy. Half
// the agents are partitioned away until then, so that the deploy cannot
// finish before the kill; Mast's calls are slowed down (each answered after
// 150 ms) so that the kill lands as soon as the first tasks are launched,
// often with other intents stored and their ACCEPTs not yet applied.
TEST_F(LocalMasterE2eTest, LeaderKilledMidDeployEndsExactWithoutDuplicates) {
  local::LocalMasterConfig config = LocalConfig();
  config.agents = 6;  // room for 60: duplicates would show
  config.agent_resources = "cpus:1;mem:1024;disk:1000;ports:[31000-32000]";
  StartMaster(config);
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  const std::string framework_id = replica(leader).FrameworkId();
  for (int i = 3; i < 6; ++i) master_->DisconnectAgent(i);
  master_->SetCallDelay(absl::Milliseconds(150));
  ASSERT_TRUE(Create((leader + 1) % 3, Spec("e2e/big", 50)).ok());
  size_t at_kill = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        size_t n = 0;
        for (const auto& task : master_->tasks()) n += OfService(task.task_id, "e2e/big") ? 1 : 0;
        at_kill = n;
        return n > 0;
      },
      absl::Seconds(30), absl::Milliseconds(1)));
  replica(leader).process().Signal(SIGKILL);
  master_->SetCallDelay(absl::ZeroDuration());
  EXPECT_LT(at_kill, 50u) << "the kill came after the whole deploy";
  std::fprintf(stderr, "leader killed with %zu of 50 tasks at the master\n", at_kill);
  for (int i = 3; i < 6; ++i) master_->ReconnectAgent(i);
  FinishesAfterLeaderKill("e2e/big", 50, leader, framework_id);
}

// (6) Master failover. Restart(keep_state=false): the master forgets its
// frameworks, but (as with real Mesos) the agents keep their tasks and
// report them when they re-register; Mast resubscribes with its FrameworkID
// (accepted by a failed-over master) and keeps the same tasks. Then a master
// that has lost everything, agents and tasks included (a new one on the same
// port): Mast resubscribes with the same ID, learns through reconciliation
// that its tasks are gone and relaunches them to the declared count.
TEST_F(LocalMasterE2eTest, MasterRestartWithLostStateResubscribesAndRelaunches) {
  local::LocalMasterConfig config = LocalConfig();
  StartMaster(config);
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  const std::string framework_id = replica(leader).FrameworkId();
  ASSERT_TRUE(Create((leader + 1) % 3, Spec("e2e/restart", 4)).ok());
  const std::set<std::string> before = WaitConverged("e2e/restart", 4);
  ASSERT_EQ(before.size(), 4u);
  const double subscriptions = replica(leader).Metric("mast_mesos_subscriptions_total").value_or(0);

  master_->Restart(/*keep_state=*/false);
  ASSERT_TRUE(WaitFor(
      [&] {
        return replica(leader).Metric("mast_mesos_subscriptions_total").value_or(0) >=
                   subscriptions + 1 &&
               replica(leader).Metric("mast_mesos_subscribed") == 1.0 &&
               replica(leader).FrameworkId() == framework_id;
      },
      absl::Seconds(30), kPoll));
  const std::set<std::string> after_restart = WaitConverged("e2e/restart", 4);
  EXPECT_EQ(after_restart, before) << "the agents kept the tasks: nothing to relaunch";
  EXPECT_EQ(RegisteredFrameworks(), 1);

  // Everything lost: a new master (new agents, no tasks) on the same port.
  config.address = absl::StrCat("127.0.0.1:", master_port_);
  master_.reset();
  StartMaster(config);
  ASSERT_TRUE(WaitFor(
      [&] {
        return replica(leader).Metric("mast_mesos_subscriptions_total").value_or(0) >=
                   subscriptions + 2 &&
               replica(leader).Metric("mast_mesos_subscribed") == 1.0;
      },
      absl::Seconds(30), kPoll));
  EXPECT_EQ(replica(leader).FrameworkId(), framework_id);
  const std::set<std::string> relaunched = WaitConverged("e2e/restart", 4);
  ASSERT_EQ(relaunched.size(), 4u);
  for (const std::string& id : relaunched) EXPECT_EQ(before.count(id), 0u) << id;
  EXPECT_EQ(RegisteredFrameworks(), 1);
  EXPECT_EQ(master_->stats().frameworks_registered, 1);
}

// (7) An agent is partitioned away: its tasks become UNREACHABLE, are
// replaced on the other agents after --unreachable_grace (1 s), and are
// killed when the agent comes back; the count ends exact.
TEST_F(LocalMasterE2eTest, LostAgentTasksAreReplacedAndKilledWhenTheyReturn) {
  local::LocalMasterConfig config = LocalConfig();
  config.agents = 3;
  StartMaster(config);
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(Create((leader + 1) % 3, Spec("e2e/agents", 4)).ok());
  const std::set<std::string> before = WaitConverged("e2e/agents", 4);
  ASSERT_EQ(before.size(), 4u);

  // The agent of the first task, and every task on it.
  auto live = LiveAtMaster("e2e/agents");
  ASSERT_TRUE(live.ok() && !live->empty());
  const std::string lost_agent = live->front().agent_id;
  const size_t s = lost_agent.rfind("-S");
  ASSERT_NE(s, std::string::npos) << lost_agent;
  const int index = std::stoi(lost_agent.substr(s + 2));
  std::set<std::string> stranded;
  for (const MasterTask& task : *live) {
    if (task.agent_id == lost_agent) stranded.insert(task.id);
  }
  master_->DisconnectAgent(index);

  // Mast sees them UNREACHABLE (kept for the grace period)...
  bool seen_unreachable = false;
  // ...then replaces them elsewhere: four RUNNING on the other agents, and
  // Mast lists exactly those.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto tasks = ListTasks(leader, "e2e/agents");
        if (!tasks.ok()) return false;
        for (const v1::Task& task : *tasks) {
          if (task.state() == v1::Task::UNREACHABLE && stranded.count(task.id()) > 0) {
            seen_unreachable = true;
          }
        }
        auto at_master = LiveAtMaster("e2e/agents");
        if (!at_master.ok()) return false;
        std::set<std::string> elsewhere;
        for (const MasterTask& task : *at_master) {
          if (task.agent_id != lost_agent && task.state == mesos_v1::TASK_RUNNING) {
            elsewhere.insert(task.id);
          }
        }
        std::set<std::string> listed;
        for (const v1::Task& task : *tasks) {
          if (task.state() == v1::Task::RUNNING) listed.insert(task.id());
        }
        if (elsewhere.size() != 4 || listed != elsewhere || tasks->size() != 4) {
          return Why(absl::StrCat("elsewhere ", Ids(elsewhere), "; Mast lists ", Ids(listed),
                                  " of ", tasks->size()));
        }
        return true;
      },
      absl::Seconds(30), kPoll))
      << last_why_;
  EXPECT_TRUE(seen_unreachable) << "never saw " << Ids(stranded) << " UNREACHABLE";
  EXPECT_TRUE(replica(leader).LogContains("event=task_expunged"));

  // The agent returns: the late tasks are unknown to Mast and killed.
  master_->ReconnectAgent(index);
  const std::set<std::string> after = WaitConverged("e2e/agents", 4);
  for (const std::string& id : stranded) EXPECT_EQ(after.count(id), 0u) << id;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto tasks = MasterTasks("e2e/agents");
        if (!tasks.ok()) return false;
        size_t killed = 0;
        for (const MasterTask& task : *tasks) {
          killed += stranded.count(task.id) > 0 && task.state == mesos_v1::TASK_KILLED ? 1 : 0;
        }
        return killed == stranded.size();
      },
      absl::Seconds(10), kPoll));
  EXPECT_TRUE(replica(leader).LogContains("event=killing_unknown_task"));
  EXPECT_TRUE(Converged("e2e/agents", 4)) << last_why_;
}

// (8) A rolling update (the env changes, so the task definition does):
// tasks are replaced one at a time. Observed throughout, Mast never counts
// more than N+1 live tasks; the master never runs fewer than N, nor more
// than N+1 that are not being killed. Ends with exactly N, all on the new
// task_version.
TEST_F(LocalMasterE2eTest, RollingUpdateReplacesOneAtATime) {
  StartMaster();
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  constexpr size_t kN = 4;
  v1::ServiceSpec spec = Spec("e2e/roll", kN);
  // One task above N at a time, none below.
  spec.mutable_upgrade_strategy()->set_maximum_over_capacity(0.25);
  *spec.mutable_upgrade_strategy()->mutable_min_ready() = ProtoDuration(absl::Milliseconds(300));
  (*spec.mutable_env())["VERSION"] = "1";
  v1::Service created;
  ASSERT_TRUE(Create(follower, spec, &created).ok());
  const std::set<std::string> old_ids = WaitConverged("e2e/roll", kN);
  ASSERT_EQ(old_ids.size(), kN);

  (*spec.mutable_env())["VERSION"] = "2";
  v1::Service updated;
  grpc::Status status = Update(follower, spec, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GT(updated.task_version(), created.task_version());

  size_t max_mast_live = 0, max_master_active = 0, max_master_total = 0;
  size_t min_master_running = kN;
  std::string worst, widest;
  std::set<std::string> final_ids;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto at_master = LiveAtMaster("e2e/roll");
        auto tasks = ListTasks(leader, "e2e/roll");
        if (!at_master.ok() || !tasks.ok()) return false;
        size_t active = 0, running = 0;
        for (const MasterTask& task : *at_master) {
          active += task.state != mesos_v1::TASK_KILLING ? 1 : 0;
          running += task.state == mesos_v1::TASK_RUNNING ? 1 : 0;
        }
        size_t mast_live = 0;
        bool all_new = true;
        for (const v1::Task& task : *tasks) {
          mast_live += task.kill_requested() ? 0 : 1;
          all_new = all_new && task.version() == updated.task_version();
        }
        if (active > max_master_active || mast_live > max_mast_live) {
          worst = absl::StrCat("master: ", at_master->size(), " live, ", active,
                               " not killing; Mast: ", mast_live, " live");
        }
        if (at_master->size() > max_master_total) {
          max_master_total = at_master->size();
          widest.clear();
          for (const MasterTask& task : *at_master) {
            absl::StrAppend(&widest, " ", task.id, "=", mesos_v1::TaskState_Name(task.state));
          }
        }
        max_mast_live = std::max(max_mast_live, mast_live);
        max_master_active = std::max(max_master_active, active);
        min_master_running = std::min(min_master_running, running);
        return all_new && tasks->size() == kN && Converged("e2e/roll", kN, &final_ids);
      },
      absl::Seconds(60), kPoll))
      << last_why_;
  EXPECT_LE(max_mast_live, kN + 1) << worst;
  EXPECT_LE(max_master_active, kN + 1) << worst;
  EXPECT_GE(min_master_running, kN);
  // Tasks being killed hold their place until they end (PlanService), so
  // the master never holds more than one task above N, KILLING included.
  EXPECT_LE(max_master_total, kN + 1) << widest;
  for (const std::string& id : final_ids) {
    EXPECT_EQ(old_ids.count(id), 0u) << id;
    auto parsed = ParseTaskId(id);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->second, updated.task_version()) << id;
  }
  v1::GetServiceResponse got;
  ASSERT_TRUE(Get(follower, "e2e/roll", &got).ok());
  EXPECT_EQ(got.service().status().deployment_id(), "");
}

// (9) A WatchEvents stream on the leader ends when the leader is SIGKILLed;
// the client resumes on another replica from the last store_version it saw.
// The events continue from there: the change made while no stream was open
// (a scale through the new leader) arrives, the service versions seen across
// both streams have no gap, and the tasks rebuilt from the events are the
// ones ListTasks reports.
TEST_F(LocalMasterE2eTest, WatchResumesAcrossALeaderChange) {
  StartMaster();
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  const int f1 = (leader + 1) % 3, f2 = (leader + 2) % 3;
  ASSERT_TRUE(Create(f1, Spec("e2e/watch", 1)).ok());
  WaitConverged("e2e/watch", 1);

  auto first = std::make_unique<WatchReader>(*stubs_[leader], 0, "e2e/");
  ASSERT_TRUE(WaitFor(
      [&] {
        return first->Saw(
            [](const v1::WatchEvent& e) { return e.type() == v1::WatchEvent::SYNCED; });
      },
      absl::Seconds(10), kPoll));
  ASSERT_TRUE(Scale(f1, "e2e/watch", 2).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        return first->Saw([](const v1::WatchEvent& e) {
          return e.has_service() && e.service().spec().instances() == 2;
        });
      },
      absl::Seconds(10), kPoll));
  WaitConverged("e2e/watch", 2);

  replica(leader).process().Signal(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return first->ended().has_value(); }, absl::Seconds(10), kPoll));
  const int64_t resume_from = first->last_version();
  ASSERT_GT(resume_from, 0);

  // During the switch: a change through the new leader.
  const int new_leader = WaitForLeader();
  ASSERT_GE(new_leader, 0);
  ASSERT_NE(new_leader, leader);
  v1::Service scaled;
  grpc::Status status;
  ASSERT_TRUE(WaitFor(
      [&] {
        status = Scale(f1, "e2e/watch", 3, &scaled);
        return status.ok();
      },
      absl::Seconds(30), absl::Milliseconds(100)))
      << status.error_message();
  WaitConverged("e2e/watch", 3);

  WatchReader second(*stubs_[f2], resume_from, "e2e/");
  ASSERT_TRUE(WaitFor(
      [&] {
        return second.Saw([&](const v1::WatchEvent& e) {
          return e.has_service() && e.service().version() == scaled.version();
        });
      },
      absl::Seconds(10), kPoll))
      << "the scale made during the switch (v" << scaled.version() << ") never arrived";
  // And changes after the reconnection arrive too.
  v1::Service last;
  ASSERT_TRUE(Scale(f2, "e2e/watch", 1, &last).ok());
  const std::set<std::string> final_ids = WaitConverged("e2e/watch", 1);
  ASSERT_TRUE(WaitFor(
      [&] {
        return second.Saw([&](const v1::WatchEvent& e) {
          return e.has_service() && e.service().version() == last.version();
        });
      },
      absl::Seconds(10), kPoll));
  // The task events of that version and the ones before it have arrived by
  // the time ListTasks agrees; give the stream a moment to deliver them.
  const std::vector<v1::WatchEvent> before = first->events();
  std::vector<v1::WatchEvent> after;
  std::map<std::string, v1::Task> rebuilt;
  auto rebuild = [&] {
    rebuilt.clear();
    for (const std::vector<v1::WatchEvent>* stream :
         std::vector<const std::vector<v1::WatchEvent>*>{&before, &after}) {
      for (const v1::WatchEvent& e : *stream) {
        if (!e.has_task()) continue;
        if (e.type() == v1::WatchEvent::DELETED || IsTerminal(e.task().state())) {
          rebuilt.erase(e.task().id());
        } else {
          rebuilt[e.task().id()] = e.task();
        }
      }
    }
    std::set<std::string> ids;
    for (const auto& [id, task] : rebuilt) {
      if (task.state() == v1::Task::RUNNING && !task.kill_requested()) ids.insert(id);
    }
    return ids;
  };
  EXPECT_TRUE(WaitFor(
      [&] {
        after = second.events();
        return rebuild() == final_ids;
      },
      absl::Seconds(10), kPoll))
      << "rebuilt from the events: " << Ids(rebuild()) << "; ListTasks: " << Ids(final_ids);

  std::string all;
  std::set<uint64_t> service_versions;
  int64_t previous = 0;
  bool synced_again = false;
  for (const v1::WatchEvent& e : before) {
    if (e.has_service()) service_versions.insert(e.service().version());
  }
  for (const v1::WatchEvent& e : after) {
    absl::StrAppend(&all, Describe(e), "\n");
    if (e.type() == v1::WatchEvent::SYNCED) synced_again = true;
    if (e.has_service()) service_versions.insert(e.service().version());
    // Changes come after the version resumed from; the stream opens with who
    // leads now, stamped at that version.
    if (e.type() == v1::WatchEvent::LEADER) {
      EXPECT_GE(e.store_version(), resume_from) << Describe(e);
    } else {
      EXPECT_GT(e.store_version(), resume_from) << Describe(e);
    }
    EXPECT_GE(e.store_version(), previous) << Describe(e);
    previous = e.store_version();
  }
  EXPECT_FALSE(synced_again) << "the replica held the history: a resume, not a restart\n" << all;
  std::vector<uint64_t> want;
  for (uint64_t v = 1; v <= last.version(); ++v) want.push_back(v);
  EXPECT_THAT(std::vector<uint64_t>(service_versions.begin(), service_versions.end()),
              ::testing::ElementsAreArray(want))
      << all;
  // The leader change itself is reported to the resumed stream.
  const std::string new_leader_id = replica(new_leader).replica_id();
  EXPECT_TRUE(second.Saw([&](const v1::WatchEvent& e) {
    return e.type() == v1::WatchEvent::LEADER && e.leader().leader_id() == new_leader_id;
  })) << "no LEADER event for "
      << new_leader_id << " after resuming from " << resume_from << ":\n"
      << all;
}

TEST_F(RealMesosE2eTest, DeployThroughFollower) {
  StartCluster(2, kRealAgentResources);
  DeployThroughFollower();
}

TEST_F(RealMesosE2eTest, FetchedArtifactsReachTheSandbox) {
  StartCluster(1, kRealAgentResources);
  FetchedArtifactsReachTheSandbox();
}

// Volumes (and the secret as a file) need the agent's filesystem/linux:
// the linux launcher, root, mount namespaces and the cgroup v1 freezer.
TEST_F(RealMesosE2eTest, SecretsAndVolumesReachTheTask) {
  const std::string unavailable = testing::LinuxIsolationUnavailable();
  if (!unavailable.empty()) {
    GTEST_SKIP() << "SKIPPED: real Mesos agents need filesystem/linux for volumes, and "
                 << unavailable;
  }
  StartCluster(1, kRealAgentResources, /*linux_isolation=*/true);
  SecretsAndVolumesReachTheTask(/*secret_file=*/true, /*sandbox_volume=*/true);
}

TEST_F(RealMesosE2eTest, AServiceInItsOwnRoleRuns) {
  StartCluster(1, kRealAgentResources);
  AServiceInItsOwnRoleRuns();
}

TEST_F(RealMesosE2eTest, ScaleUpThenDownKillsTheYoungest) {
  StartCluster(2, kRealAgentResources);
  ScaleUpThenDown();
}

TEST_F(RealMesosE2eTest, DeleteKillsTheTasksThenRemovesTheService) {
  StartCluster(2, kRealAgentResources);
  DeleteKillsThenRemoves();
}

// Health checks on real Mesos: the command executor runs the COMMAND check
// Mast puts in the TaskInfo (and accepts being told never to kill), reports
// healthy, and a task whose check starts failing (a file the test drops in
// its sandbox) is replaced by Mast, the replacement healthy before the kill.
TEST_F(RealMesosE2eTest, AFailingHealthCheckReplacesTheTaskReplacementFirst) {
  StartCluster(1, kRealAgentResources);
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  services_.push_back("e2e/health");
  v1::ServiceSpec spec = Spec("e2e/health", 2);
  v1::HealthCheck* check = spec.mutable_health_check();
  check->set_protocol(v1::HealthCheck::COMMAND);
  // The check runs in the task's sandbox (the executor's working directory).
  check->mutable_command()->set_shell("test ! -e fail");
  *check->mutable_delay() = ProtoDuration(absl::ZeroDuration());
  *check->mutable_grace_period() = ProtoDuration(absl::ZeroDuration());
  *check->mutable_interval() = ProtoDuration(absl::Seconds(1));
  *check->mutable_timeout() = ProtoDuration(absl::Seconds(5));
  check->set_consecutive_failures(2);
  ASSERT_TRUE(Create((leader + 1) % 3, spec).ok());
  const std::set<std::string> ids = WaitConverged("e2e/health", 2);
  ASSERT_EQ(ids.size(), 2u);
  auto healthy = [&](const std::string& except, bool* except_killed) {
    auto tasks = ListTasks(leader, "e2e/health");
    int n = 0;
    if (!tasks.ok()) return -1;
    for (const v1::Task& task : *tasks) {
      if (task.id() == except) *except_killed = task.kill_requested();
      n += task.healthy() && task.id() != except ? 1 : 0;
    }
    return n;
  };
  bool unused = false;
  ASSERT_TRUE(WaitFor([&] { return healthy("", &unused) == 2; }, absl::Seconds(60), kPoll))
      << "the real command executor reports both healthy";

  const std::string sick = *ids.begin();
  absl::StatusOr<std::string> sandbox = cluster_->TaskSandbox(sick);
  ASSERT_TRUE(sandbox.ok()) << sandbox.status();
  { std::ofstream(*sandbox + "/fail") << "fail\n"; }
  int healthy_when_killed = -1, min_others = 2;
  std::set<std::string> final_ids;
  ASSERT_TRUE(WaitFor(
      [&] {
        bool killed = false;
        const int others = healthy(sick, &killed);
        if (others < 0) return false;
        min_others = std::min(min_others, others);
        if (killed && healthy_when_killed < 0) healthy_when_killed = others;
        return Converged("e2e/health", 2, &final_ids) && final_ids.count(sick) == 0 &&
               healthy("", &unused) == 2;
      },
      absl::Seconds(90), kPoll))
      << last_why_ << "\n---- the executor's stderr ----\n"
      << [&] {
           std::stringstream err;
           err << std::ifstream(*sandbox + "/stderr").rdbuf();
           return err.str();
         }();
  EXPECT_GE(min_others, 1) << "the other task stayed healthy";
  EXPECT_EQ(healthy_when_killed, 2) << "killed only once its replacement was healthy";
}

// (5) on real Mesos, where calls cannot be slowed: the one agent has room
// for about 20 of the 50 tasks, so the deploy stops part-way; the leader is
// SIGKILLed then, and a second agent joins for the new leader to finish on.
TEST_F(RealMesosE2eTest, LeaderKilledMidDeployEndsExactWithoutDuplicates) {
  StartCluster(1, "cpus:2;mem:2048;disk:4096;ports:[31000-31100]");
  StartReplicas();
  const int leader = WaitForSubscribedLeader();
  ASSERT_GE(leader, 0);
  const std::string framework_id = replica(leader).FrameworkId();
  ASSERT_TRUE(Create((leader + 1) % 3, Spec("e2e/big", 50)).ok());
  size_t at_kill = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto live = LiveAtMaster("e2e/big");
        at_kill = live.ok() ? live->size() : 0;
        return at_kill >= 15;
      },
      absl::Seconds(60), kPoll))
      << "launched: " << at_kill;
  replica(leader).process().Signal(SIGKILL);
  EXPECT_LT(at_kill, 50u);
  std::fprintf(stderr, "leader killed with %zu of 50 tasks at the master\n", at_kill);
  StartExtraAgent("cpus:4;mem:4096;disk:4096;ports:[31000-31100]");
  FinishesAfterLeaderKill("e2e/big", 50, leader, framework_id, absl::Seconds(180));
}

}  // namespace
}  // namespace mast::e2e
