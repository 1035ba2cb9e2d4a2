// Mast against a Mesos master: the same cases against the real Apache Mesos
// 1.11 master and agents (../shared/mesos) and, where the project's local
// master is built in, against it, so that any difference between the two
// shows up as a failing case. Each case runs mastd processes on a real
// ZooKeeper.

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "local_mesos/local_master.h"
#include "scheduler/control/framework_controller.h"
#include "scheduler/mesos/http_mesos_client.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/mesos_cluster.h"
#include "tests/processes/stand_in_scheduler.h"
#include "tests/processes/wait.h"
#include "tests/processes/zk_server.h"

namespace mast {
namespace {

using ::mast::testing::JsonField;
using ::mast::testing::MastdProcess;
using ::mast::testing::WaitFor;

// A Mesos master to test against.
class MesosBackend {
 public:
  virtual ~MesosBackend() = default;
  virtual std::string master_url() const = 0;
  virtual absl::StatusOr<google::protobuf::Struct> GetJson(const std::string& path) const = 0;
  virtual std::string Log() const = 0;
};

class RealMesosBackend final : public MesosBackend {
 public:
  explicit RealMesosBackend(std::unique_ptr<testing::RealMesosCluster> c) : c_(std::move(c)) {}
  std::string master_url() const override { return c_->master_url(); }
  absl::StatusOr<google::protobuf::Struct> GetJson(const std::string& path) const override {
    return c_->GetJson(path);
  }
  std::string Log() const override { return c_->MasterLog(); }

 private:
  std::unique_ptr<testing::RealMesosCluster> c_;
};

class LocalMasterBackend final : public MesosBackend {
 public:
  explicit LocalMasterBackend(std::unique_ptr<local::LocalMaster> m) : m_(std::move(m)) {}
  std::string master_url() const override { return m_->url(); }
  absl::StatusOr<google::protobuf::Struct> GetJson(const std::string& path) const override {
    auto body = testing::HttpGet(m_->port(), path);
    if (!body.ok()) return body.status();
    google::protobuf::Struct out;
    auto status = google::protobuf::util::JsonStringToMessage(*body, &out);
    if (!status.ok()) return absl::DataLossError(status.ToString());
    return out;
  }
  std::string Log() const override { return ""; }

 private:
  std::unique_ptr<local::LocalMaster> m_;
};

struct Param {
  std::string backend;   // "real" or "local"
  std::string encoding;  // "protobuf" or "json"
};

void PrintTo(const Param& p, std::ostream* os) { *os << p.backend << "/" << p.encoding; }

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  return info.param.backend + "_" + info.param.encoding;
}

// The ids of the frameworks the master lists as registered and as completed.
struct MasterFrameworks {
  std::vector<std::string> active, inactive, completed;
};

class MesosConformanceTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (GetParam().backend == "real") {
      if (!testing::RealMesosDir()) {
        GTEST_SKIP() << "SKIPPED: the real Mesos 1.11 build (../shared/mesos) is not present on "
                        "this machine; only the local-master cases ran";
      }
      auto cluster = testing::RealMesosCluster::Start({});
      ASSERT_TRUE(cluster.ok()) << cluster.status();
      backend_ = std::make_unique<RealMesosBackend>(std::move(*cluster));
    } else {
      auto master = local::LocalMaster::Start({}, RealClock::Default());
      ASSERT_TRUE(master.ok()) << master.status();
      backend_ = std::make_unique<LocalMasterBackend>(std::move(*master));
    }
    auto zk = testing::ZkServer::Launch();
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
  }
  void TearDown() override {
    if (HasFailure()) set_.DumpLogs();
  }

  MastdProcess& StartReplica(const std::string& id) {
    return set_.Start(
        zk_->hosts(), id, absl::Seconds(2),
        {"--mesos=" + backend_->master_url(), "--mesos_encoding=" + GetParam().encoding,
         "--failover_timeout=1h", "--framework_name=mast-conformance"});
  }

  // The replica that is subscribed, once exactly one is.
  MastdProcess* Subscribed() {
    MastdProcess* found = nullptr;
    for (const auto& r : replicas_) {
      if (!r->process().Running()) continue;
      if (r->Metric("mast_mesos_subscribed") == 1.0) {
        if (found != nullptr) return nullptr;
        found = r.get();
      }
    }
    return found;
  }

  static double CallCount(MastdProcess& r, const std::string& type, const std::string& code) {
    auto metrics = r.Metrics();
    if (!metrics.ok()) return 0;
    for (const auto& [key, value] : *metrics) {
      if (absl::StartsWith(key, "mast_mesos_calls_total{") &&
          absl::StrContains(key, absl::StrCat("type=\"", type, "\"")) &&
          absl::StrContains(key, absl::StrCat("code=\"", code, "\""))) {
        return value;
      }
    }
    return 0;
  }

  MasterFrameworks Frameworks() {
    MasterFrameworks out;
    auto json = backend_->GetJson("/master/frameworks");
    if (!json.ok()) return out;
    if (const auto* list = JsonField(*json, "frameworks")) {
      for (const auto& f : list->list_value().values()) {
        const auto* id = JsonField(f, "id");
        const auto* active = JsonField(f, "active");
        if (id == nullptr) continue;
        (active != nullptr && active->bool_value() ? out.active : out.inactive)
            .push_back(id->string_value());
      }
    }
    if (const auto* list = JsonField(*json, "completed_frameworks")) {
      for (const auto& f : list->list_value().values()) {
        if (const auto* id = JsonField(f, "id")) out.completed.push_back(id->string_value());
      }
    }
    return out;
  }

  std::unique_ptr<MesosBackend> backend_;
  std::unique_ptr<testing::ZkServer> zk_;
  testing::ReplicaSet set_;
  std::vector<std::unique_ptr<MastdProcess>>& replicas_ = set_.replicas();
};

TEST_P(MesosConformanceTest, SubscribesStoresTheIdDeclinesAndSuppresses) {
  MastdProcess& r = StartReplica("r0");
  ASSERT_TRUE(WaitFor([&] { return Subscribed() == &r; }));
  std::string id = r.FrameworkId();
  ASSERT_FALSE(id.empty());
  MasterFrameworks frameworks;
  ASSERT_TRUE(WaitFor([&] {
    frameworks = Frameworks();
    return frameworks.active.size() == 1;
  }));
  EXPECT_EQ(frameworks.active[0], id);
  EXPECT_TRUE(frameworks.completed.empty());

  // The agent's resources are offered, declined with the long filter, and
  // the role is suppressed.
  ASSERT_TRUE(WaitFor([&] { return r.Metric("mast_offers_declined_total").value_or(0) >= 1; }));
  ASSERT_TRUE(WaitFor([&] { return CallCount(r, "SUPPRESS", "202") >= 1; }));
  EXPECT_GE(CallCount(r, "DECLINE", "202"), 1);
  EXPECT_EQ(r.Metric("mast_mesos_stream_errors_total"), 0.0);
  EXPECT_GE(r.Metric("mast_mesos_events_total").value_or(0), 1);
}

TEST_P(MesosConformanceTest, LeaderSigtermAndSigkillReregisterTheSameFramework) {
  for (int i = 0; i < 3; ++i) StartReplica(absl::StrCat("r", i));
  MastdProcess* leader = nullptr;
  ASSERT_TRUE(WaitFor([&] { return (leader = Subscribed()) != nullptr; }));
  const std::string id = leader->FrameworkId();
  ASSERT_FALSE(id.empty());

  for (int sig : {SIGTERM, SIGKILL}) {
    // The ID is durable only once stored; a leader that dies between
    // SUBSCRIBED and that write leaves the next one no ID to reuse.
    ASSERT_TRUE(WaitFor([&] {
      return leader->LogContains("event=framework_id_stored") ||
             leader->LogContains("event=framework_subscribe framework_id=" + id);
    }));
    leader->process().Signal(sig);
    ASSERT_TRUE(leader->process().Wait(absl::Seconds(10)).has_value());
    MastdProcess* next = nullptr;
    ASSERT_TRUE(WaitFor([&] {
      next = Subscribed();
      return next != nullptr && next != leader;
    })) << "no resubscription after signal "
        << sig;
    EXPECT_EQ(next->FrameworkId(), id) << "signal " << sig;
    EXPECT_EQ(next->Metric("mast_mesos_subscriptions_total"), 1.0);
    MasterFrameworks frameworks;
    ASSERT_TRUE(WaitFor([&] {
      frameworks = Frameworks();
      return frameworks.active.size() == 1 && frameworks.inactive.empty();
    })) << "signal "
        << sig;
    EXPECT_EQ(frameworks.active[0], id) << "one framework, never a second";
    EXPECT_TRUE(frameworks.completed.empty());
    leader = next;
  }
}

// Another scheduler subscribes with Mast's FrameworkID (as a second
// instance would): the master sends the leader's stream ERROR "Framework
// failed over"; the leader stops acting and rejoins as a follower, and the
// next leader takes the framework back.
TEST_P(MesosConformanceTest, LeaderWhoseStreamIsTakenOverStepsDown) {
  for (int i = 0; i < 2; ++i) StartReplica(absl::StrCat("r", i));
  MastdProcess* leader = nullptr;
  ASSERT_TRUE(WaitFor([&] { return (leader = Subscribed()) != nullptr; }));
  const std::string id = leader->FrameworkId();
  ASSERT_TRUE(WaitFor([&] { return leader->LogContains("event=framework_id_stored"); }));
  const uint64_t old_token = leader->GetLeader()->fencing_token();

  // The intruder: a raw SUBSCRIBE with the same FrameworkID.
  EventLoop loop(RealClock::Default(), "intruder");
  mesos::HttpTransport transport;
  mesos::StaticMasterDetector detector({backend_->master_url()});
  mesos::MesosClientConfig config;
  config.json = GetParam().encoding == "json";
  absl::Mutex mu;
  bool intruder_subscribed = false;
  std::string intruder_error;
  mesos::MesosClientCallbacks callbacks;
  callbacks.on_subscribed = [&](const auto&) {
    absl::MutexLock lock(&mu);
    intruder_subscribed = true;
  };
  callbacks.on_error = [&](absl::string_view message) {
    absl::MutexLock lock(&mu);
    intruder_error = std::string(message);
  };
  std::unique_ptr<mesos::HttpMesosClient> intruder;
  loop.Post([&] {
    intruder = std::make_unique<mesos::HttpMesosClient>(config, detector, transport, loop,
                                                        std::move(callbacks), nullptr);
    FrameworkConfig fw;
    fw.user = "root";
    fw.name = "mast-conformance";
    fw.failover_timeout = absl::Hours(1);
    intruder->Subscribe(BuildFrameworkInfo(fw, id), {});
  });
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    return intruder_subscribed;
  }));
  ASSERT_TRUE(WaitFor([&] { return leader->Metric("mast_mesos_error_events_total") == 1.0; }));
  ASSERT_TRUE(WaitFor([&] { return leader->LogContains("event=leader_abdicating"); }));
  EXPECT_TRUE(leader->LogContains("Framework failed over"));

  // The other replica leads and takes the framework back; the intruder is
  // the one failed over now.
  MastdProcess* next = nullptr;
  ASSERT_TRUE(WaitFor([&] {
    next = Subscribed();
    return next != nullptr && next != leader;
  }));
  EXPECT_EQ(next->FrameworkId(), id);
  EXPECT_GT(next->GetLeader()->fencing_token(), old_token);
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    return !intruder_error.empty();
  }));
  EXPECT_THAT(intruder_error, ::testing::HasSubstr("Framework failed over"));
  MasterFrameworks frameworks = Frameworks();
  ASSERT_EQ(frameworks.active.size(), 1u);
  EXPECT_EQ(frameworks.active[0], id);
  loop.Post([&] { intruder.reset(); });
  loop.Flush();
}

// A task of the framework with an unacknowledged update (left by an earlier
// instance): the next leader acknowledges the redelivered updates and kills
// the task, which it does not know; the master ends it TASK_KILLED.
TEST_P(MesosConformanceTest, UpdatesAreAcknowledgedAndUnknownTasksKilled) {
  MastdProcess& first = StartReplica("r0");
  ASSERT_TRUE(WaitFor([&] { return first.LogContains("event=framework_id_stored"); }));
  const std::string id = first.FrameworkId();
  first.process().Signal(SIGTERM);
  ASSERT_TRUE(first.process().Wait(absl::Seconds(10)).has_value());
  ASSERT_TRUE(testing::LaunchUnacknowledgedTask(backend_->master_url(), id, "orphan-1",
                                                "sleep 1000", GetParam().encoding == "json")
                  .ok());

  MastdProcess& next = StartReplica("r1");
  ASSERT_TRUE(WaitFor([&] { return Subscribed() == &next; }));
  EXPECT_EQ(next.FrameworkId(), id);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto tasks = backend_->GetJson("/master/tasks");
        if (!tasks.ok()) return false;
        const auto* list = JsonField(*tasks, "tasks");
        if (list == nullptr) return false;
        for (const auto& t : list->list_value().values()) {
          const auto* task_id = JsonField(t, "id");
          const auto* state = JsonField(t, "state");
          if (task_id && state && task_id->string_value() == "orphan-1" &&
              state->string_value() == "TASK_KILLED") {
            return true;
          }
        }
        return false;
      },
      absl::Seconds(60)))
      << "the orphan was not killed";
  EXPECT_TRUE(next.LogContains("event=killing_unknown_task"));
  EXPECT_GE(CallCount(next, "ACKNOWLEDGE", "202"), 1);
  EXPECT_GE(CallCount(next, "KILL", "202"), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, MesosConformanceTest,
                         ::testing::Values(Param{"real", "protobuf"}, Param{"real", "json"},
                                           Param{"local", "protobuf"}, Param{"local", "json"}),
                         ParamName);

}  // namespace
}  // namespace mast
