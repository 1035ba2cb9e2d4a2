#pragma once

// The fixture of the end-to-end scheduling tests (scheduler_e2e_test,
// deployment_e2e_test): three mastd processes on a real ZooKeeper, their
// gRPC stubs, and the view of the master (the local one in process, or the
// real Mesos 1.11 where present), with bounded waits.

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/proto_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "local_mesos/local_master.h"
#include "mast/v1/mast.grpc.pb.h"
#include "mesos/v1/mesos.pb.h"
#include "scheduler/control/task_scheduler.h"
#include "store/task_state.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/mesos_cluster.h"
#include "tests/processes/subprocess.h"
#include "tests/processes/wait.h"
#include "tests/processes/zk_server.h"

namespace mast::e2e {

namespace mesos_v1 = ::mesos::v1;
using ::mast::testing::JsonField;
using ::mast::testing::MastdProcess;
using ::mast::testing::WaitFor;

inline constexpr absl::Duration kPoll = absl::Milliseconds(20);

// A task as the master's /master/tasks lists it.
struct MasterTask {
  std::string id;
  std::string framework_id;
  std::string agent_id;
  mesos_v1::TaskState state = mesos_v1::TASK_STAGING;
  // Every status update the master recorded: state, timestamp (seconds).
  std::vector<std::pair<mesos_v1::TaskState, double>> statuses;

  double first_timestamp() const {
    double t = 0;
    for (const auto& [s, ts] : statuses) t = (t == 0 || ts < t) ? ts : t;
    return t;
  }
  std::optional<double> timestamp_of(mesos_v1::TaskState wanted) const {
    for (const auto& [s, ts] : statuses) {
      if (s == wanted) return ts;
    }
    return std::nullopt;
  }
};

inline bool MesosTerminal(mesos_v1::TaskState state) {
  switch (state) {
    case mesos_v1::TASK_FINISHED:
    case mesos_v1::TASK_FAILED:
    case mesos_v1::TASK_KILLED:
    case mesos_v1::TASK_LOST:
    case mesos_v1::TASK_ERROR:
    case mesos_v1::TASK_DROPPED:
    case mesos_v1::TASK_GONE:
    case mesos_v1::TASK_GONE_BY_OPERATOR:
    case mesos_v1::TASK_UNKNOWN:
      return true;
    default:
      return false;
  }
}

inline std::string StringField(const google::protobuf::Value& v, const std::string& key) {
  const google::protobuf::Value* field = JsonField(v, key);
  return field != nullptr ? field->string_value() : "";
}

inline absl::StatusOr<std::vector<MasterTask>> ParseMasterTasks(
    const google::protobuf::Struct& json) {
  const google::protobuf::Value* list = JsonField(json, "tasks");
  if (list == nullptr || !list->has_list_value()) {
    return absl::DataLossError("/master/tasks: no 'tasks' list");
  }
  std::vector<MasterTask> out;
  for (const google::protobuf::Value& v : list->list_value().values()) {
    MasterTask task;
    task.id = StringField(v, "id");
    task.framework_id = StringField(v, "framework_id");
    task.agent_id = StringField(v, "slave_id");
    if (!mesos_v1::TaskState_Parse(StringField(v, "state"), &task.state)) {
      return absl::DataLossError(absl::StrCat("/master/tasks: task ", task.id, " has state '",
                                              StringField(v, "state"), "'"));
    }
    const google::protobuf::Value* statuses = JsonField(v, "statuses");
    if (statuses != nullptr && statuses->has_list_value()) {
      for (const google::protobuf::Value& s : statuses->list_value().values()) {
        mesos_v1::TaskState state = mesos_v1::TASK_STAGING;
        mesos_v1::TaskState_Parse(StringField(s, "state"), &state);
        const google::protobuf::Value* ts = JsonField(s, "timestamp");
        task.statuses.emplace_back(state, ts != nullptr ? ts->number_value() : 0);
      }
    }
    out.push_back(std::move(task));
  }
  return out;
}

// Whether a task id is one of `service`'s (Mast's ids name the service).
inline bool OfService(const std::string& task_id, const std::string& service) {
  std::optional<std::pair<std::string, uint64_t>> parsed = ParseTaskId(task_id);
  return parsed.has_value() && parsed->first == service;
}

inline google::protobuf::Duration ProtoDuration(absl::Duration d) { return ToProtoDuration(d); }

// A service whose tasks run until killed. A short kill grace keeps
// scale-downs, deletes and replacements quick (the local master's simulated
// tasks hold on for the whole grace period).
inline v1::ServiceSpec Spec(const std::string& name, uint32_t instances,
                            const std::string& shell = "sleep 600") {
  v1::ServiceSpec spec;
  spec.set_name(name);
  spec.mutable_command()->set_shell(shell);
  spec.mutable_resources()->set_cpus(0.1);
  spec.mutable_resources()->set_mem_mib(32);
  spec.set_instances(instances);
  *spec.mutable_kill_grace_period() = ProtoDuration(absl::Milliseconds(200));
  return spec;
}

inline std::string Ids(const std::set<std::string>& ids) { return absl::StrJoin(ids, ","); }

// A WatchEvents stream read on its own thread until it ends.
class WatchReader {
 public:
  WatchReader(v1::Mast::Stub& stub, int64_t from_version, const std::string& prefix) {
    v1::WatchEventsRequest request;
    request.set_from_version(from_version);
    request.set_service_prefix(prefix);
    thread_ = std::thread([this, &stub, request] {
      std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader =
          stub.WatchEvents(&context_, request);
      v1::WatchEvent event;
      while (reader->Read(&event)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(event);
      }
      grpc::Status status = reader->Finish();
      absl::MutexLock lock(&mu_);
      status_ = status;
    });
  }
  ~WatchReader() {
    context_.TryCancel();
    thread_.join();
  }

  std::vector<v1::WatchEvent> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  std::optional<grpc::Status> ended() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  // The store version to resume from: the last event's.
  int64_t last_version() const {
    absl::MutexLock lock(&mu_);
    return events_.empty() ? 0 : events_.back().store_version();
  }
  bool Saw(const std::function<bool(const v1::WatchEvent&)>& match) const {
    absl::MutexLock lock(&mu_);
    return std::any_of(events_.begin(), events_.end(), match);
  }

 private:
  grpc::ClientContext context_;
  mutable absl::Mutex mu_;
  std::vector<v1::WatchEvent> events_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

inline std::string Describe(const v1::WatchEvent& e) {
  std::string what;
  switch (e.object_case()) {
    case v1::WatchEvent::kService:
      what = absl::StrCat("service ", e.service().spec().name(), " v", e.service().version(),
                          " instances=", e.service().spec().instances());
      break;
    case v1::WatchEvent::kTask:
      what = absl::StrCat("task ", e.task().id(), " ", v1::Task::State_Name(e.task().state()));
      break;
    case v1::WatchEvent::kLeader:
      what = absl::StrCat("leader ", e.leader().leader_id());
      break;
    case v1::WatchEvent::kDeployment:
      what = absl::StrCat("deployment ", e.deployment().id(), " ",
                          v1::Deployment::State_Name(e.deployment().state()));
      break;
    case v1::WatchEvent::kAudit:
      what = absl::StrCat("audit ", e.audit().method(), " ", e.audit().service(), " ",
                          e.audit().code());
      break;
    case v1::WatchEvent::OBJECT_NOT_SET:
      break;
  }
  return absl::StrCat(v1::WatchEvent::Type_Name(e.type()), "@", e.store_version(), " ", what);
}

// Three replicas, their gRPC stubs, and the master's view. Subclasses
// provide the master (local or real).
class SchedulerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto zk = testing::ZkServer::Launch();
    ASSERT_TRUE(zk.ok()) << zk.status();
    zk_ = std::move(*zk);
  }
  void TearDown() override {
    if (HasFailure()) {
      set_.DumpLogs();
      auto tasks = testing::HttpGet(master_port_, "/master/tasks?limit=10000");
      std::fprintf(stderr, "---- /master/tasks ----\n%s\n",
                   tasks.ok() ? tasks->c_str() : std::string(tasks.status().message()).c_str());
    }
  }

  // Starts three replicas against the master at master_url_.
  void StartReplicas(std::vector<std::string> extra_flags = {}) {
    std::vector<std::string> flags = {
        "--mesos=" + master_url_,
        "--failover_timeout=1h",
        "--mesos_heartbeat_misses=3",
        "--revive_interval=100ms",
        "--reconcile_interval=3s",
        "--unreachable_grace=1s",
        "--kill_retry=2s",
        "--busy_decline_refuse_seconds=0.2",
        "--decline_refuse_seconds=5",
    };
    flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
    flags_ = flags;
    for (int i = 0; i < 3; ++i) {
      MastdProcess& r = set_.Start(zk_->hosts(), absl::StrCat("r", i), absl::Seconds(2), flags);
      stubs_.push_back(NewStub(r));
    }
  }

  // Replaces replica `i` (dead, or killed here) with a new process, a new
  // replica id and the same flags.
  void RestartReplica(int i) {
    set_.Start(zk_->hosts(), absl::StrCat("r", i, "-", ++restarts_), absl::Seconds(2), flags_);
    replicas_[static_cast<size_t>(i)] = std::move(replicas_.back());
    replicas_.pop_back();
    stubs_[static_cast<size_t>(i)] = NewStub(replica(i));
  }

  static std::unique_ptr<v1::Mast::Stub> NewStub(const MastdProcess& r) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return v1::Mast::NewStub(
        grpc::CreateCustomChannel(r.grpc_address(), grpc::InsecureChannelCredentials(), args));
  }

  bool Alive(int i) { return replicas_[static_cast<size_t>(i)]->process().Running(); }
  MastdProcess& replica(int i) { return *replicas_[static_cast<size_t>(i)]; }

  // The index of the replica every live one agrees leads, or -1.
  int AgreedLeader() {
    std::string leader_id;
    int leader = -1;
    for (int i = 0; i < 3; ++i) {
      if (!Alive(i)) continue;
      auto answer = replica(i).GetLeader();
      if (!answer.ok() || !answer->leader_known()) return -1;
      if (leader_id.empty()) leader_id = answer->leader_id();
      if (answer->leader_id() != leader_id) return -1;
      if (answer->is_leader()) leader = i;
    }
    return leader;
  }
  int WaitForLeader() {
    int leader = -1;
    WaitFor([&] { return (leader = AgreedLeader()) >= 0; }, absl::Seconds(30), kPoll);
    return leader;
  }
  // The agreed leader once it is subscribed to Mesos with its FrameworkID
  // stored, or -1 after 30 s.
  int WaitForSubscribedLeader() {
    int leader = -1;
    WaitFor(
        [&] {
          leader = AgreedLeader();
          return leader >= 0 && replica(leader).Metric("mast_mesos_subscribed") == 1.0 &&
                 !replica(leader).FrameworkId().empty();
        },
        absl::Seconds(30), kPoll);
    return leader;
  }

  // ---- gRPC ----
  template <typename Call>
  grpc::Status Rpc(Call call) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    return call(&context);
  }
  grpc::Status Create(int r, const v1::ServiceSpec& spec, v1::Service* out = nullptr) {
    v1::CreateServiceRequest request;
    *request.mutable_spec() = spec;
    v1::Service ignored;
    return Rpc([&](grpc::ClientContext* c) {
      return stubs_[r]->CreateService(c, request, out != nullptr ? out : &ignored);
    });
  }
  grpc::Status Update(int r, const v1::ServiceSpec& spec, v1::Service* out) {
    v1::UpdateServiceRequest request;
    *request.mutable_spec() = spec;
    return Rpc([&](grpc::ClientContext* c) { return stubs_[r]->UpdateService(c, request, out); });
  }
  grpc::Status Scale(int r, const std::string& name, uint32_t instances,
                     v1::Service* out = nullptr) {
    v1::ScaleServiceRequest request;
    request.set_name(name);
    request.set_instances(instances);
    v1::Service ignored;
    return Rpc([&](grpc::ClientContext* c) {
      return stubs_[r]->ScaleService(c, request, out != nullptr ? out : &ignored);
    });
  }
  grpc::Status Delete(int r, const std::string& name) {
    v1::DeleteServiceRequest request;
    request.set_name(name);
    v1::DeleteServiceResponse ignored;
    return Rpc(
        [&](grpc::ClientContext* c) { return stubs_[r]->DeleteService(c, request, &ignored); });
  }
  grpc::Status Get(int r, const std::string& name, v1::GetServiceResponse* out) {
    v1::GetServiceRequest request;
    request.set_name(name);
    return Rpc([&](grpc::ClientContext* c) { return stubs_[r]->GetService(c, request, out); });
  }
  // Every page of ListTasks for `service`.
  absl::StatusOr<std::vector<v1::Task>> ListTasks(int r, const std::string& service) {
    std::vector<v1::Task> out;
    v1::ListTasksRequest request;
    request.set_service(service);
    request.set_page_size(7);  // several pages for the larger services
    do {
      v1::ListTasksResponse page;
      grpc::Status status =
          Rpc([&](grpc::ClientContext* c) { return stubs_[r]->ListTasks(c, request, &page); });
      if (!status.ok()) {
        return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                            status.error_message());
      }
      out.insert(out.end(), page.tasks().begin(), page.tasks().end());
      request.set_page_token(page.next_page_token());
    } while (!request.page_token().empty());
    return out;
  }

  // ---- The master's view ----
  absl::StatusOr<google::protobuf::Struct> MasterJson(const std::string& path) {
    auto body = testing::HttpGet(master_port_, path, absl::Seconds(5));
    if (!body.ok()) return body.status();
    google::protobuf::Struct out;
    auto status = google::protobuf::util::JsonStringToMessage(*body, &out);
    if (!status.ok()) return absl::DataLossError(status.ToString());
    return out;
  }
  // Every task of `service` the master lists, completed ones included.
  absl::StatusOr<std::vector<MasterTask>> MasterTasks(const std::string& service) {
    auto json = MasterJson("/master/tasks?limit=10000");
    if (!json.ok()) return json.status();
    auto all = ParseMasterTasks(*json);
    if (!all.ok()) return all.status();
    std::vector<MasterTask> out;
    for (MasterTask& task : *all) {
      if (OfService(task.id, service)) out.push_back(std::move(task));
    }
    return out;
  }
  absl::StatusOr<std::vector<MasterTask>> LiveAtMaster(const std::string& service) {
    auto tasks = MasterTasks(service);
    if (!tasks.ok()) return tasks.status();
    std::vector<MasterTask> live;
    for (MasterTask& task : *tasks) {
      if (!MesosTerminal(task.state)) live.push_back(std::move(task));
    }
    return live;
  }
  // Registered frameworks (connected or not), or -1.
  int RegisteredFrameworks() {
    auto json = MasterJson("/master/frameworks");
    if (!json.ok()) return -1;
    const google::protobuf::Value* list = JsonField(*json, "frameworks");
    return list != nullptr && list->has_list_value() ? list->list_value().values_size() : -1;
  }

  // RECONCILE calls `r` made (any answer).
  static double ReconcileCalls(MastdProcess& r) {
    auto metrics = r.Metrics();
    if (!metrics.ok()) return 0;
    double sum = 0;
    for (const auto& [key, value] : *metrics) {
      if (absl::StartsWith(key, "mast_mesos_calls_total{") &&
          absl::StrContains(key, "type=\"RECONCILE\"")) {
        sum += value;
      }
    }
    return sum;
  }

  // The last line of `r`'s log that contains `text`.
  static std::string LastLogLine(MastdProcess& r, const std::string& text) {
    const std::string log = r.Log();
    const size_t at = log.rfind(text);
    if (at == std::string::npos) return "";
    const size_t begin = log.rfind('\n', at);
    const size_t end = log.find('\n', at);
    return log.substr(begin == std::string::npos ? 0 : begin + 1,
                      end == std::string::npos ? std::string::npos : end - begin - 1);
  }

  bool Why(std::string why) {
    last_why_ = std::move(why);
    return false;
  }

  // The master runs exactly `n` tasks of `service`, all RUNNING, and every
  // live replica's ListTasks lists exactly those, RUNNING, none being
  // killed. Otherwise false, with the reason in last_why_.
  bool Converged(const std::string& service, size_t n, std::set<std::string>* ids_out = nullptr) {
    auto live = LiveAtMaster(service);
    if (!live.ok()) return Why(absl::StrCat("master: ", live.status().ToString()));
    std::set<std::string> ids;
    for (const MasterTask& task : *live) {
      if (task.state != mesos_v1::TASK_RUNNING) {
        return Why(absl::StrCat("master: ", task.id, " is ", mesos_v1::TaskState_Name(task.state)));
      }
      ids.insert(task.id);
    }
    if (ids.size() != n) {
      return Why(absl::StrCat("master: ", ids.size(), " live tasks, want ", n, ": ", Ids(ids)));
    }
    for (int i = 0; i < 3; ++i) {
      if (!Alive(i)) continue;
      auto tasks = ListTasks(i, service);
      if (!tasks.ok()) return Why(absl::StrCat("r", i, " ListTasks: ", tasks.status().ToString()));
      std::set<std::string> mine;
      for (const v1::Task& task : *tasks) {
        if (task.state() != v1::Task::RUNNING || task.kill_requested()) {
          return Why(absl::StrCat("r", i, ": ", task.id(), " is ",
                                  v1::Task::State_Name(task.state()),
                                  task.kill_requested() ? " (being killed)" : ""));
        }
        mine.insert(task.id());
      }
      if (mine != ids) {
        return Why(absl::StrCat("r", i, " lists ", Ids(mine), "; the master runs ", Ids(ids)));
      }
    }
    if (ids_out != nullptr) *ids_out = ids;
    return true;
  }

  // Converged within `timeout`; the ids. Fails the test otherwise.
  std::set<std::string> WaitConverged(const std::string& service, size_t n,
                                      absl::Duration timeout = absl::Seconds(60)) {
    std::set<std::string> ids;
    EXPECT_TRUE(WaitFor([&] { return Converged(service, n, &ids); }, timeout, kPoll))
        << service << " did not converge on " << n << " tasks: " << last_why_;
    return ids;
  }

  // ---- Scenarios shared by both masters ----

  // (1) A deploy through a follower: every instance RUNNING at the master,
  // and every replica's ListTasks agrees with it; one framework.
  void DeployThroughFollower() {
    StartReplicas();
    const int leader = WaitForSubscribedLeader();
    ASSERT_GE(leader, 0);
    const int follower = (leader + 1) % 3;
    grpc::Status status = Create(follower, Spec("e2e/web", 5));
    ASSERT_TRUE(status.ok()) << status.error_message();
    std::set<std::string> ids = WaitConverged("e2e/web", 5);
    ASSERT_EQ(ids.size(), 5u);

    const std::string framework_id = replica(leader).FrameworkId();
    EXPECT_FALSE(framework_id.empty());
    EXPECT_EQ(RegisteredFrameworks(), 1);
    auto live = LiveAtMaster("e2e/web");
    ASSERT_TRUE(live.ok()) << live.status();
    for (const MasterTask& task : *live) EXPECT_EQ(task.framework_id, framework_id) << task.id;
    // The service's status, from every replica: 5 running, no deployment.
    EXPECT_TRUE(WaitFor(
        [&] {
          for (int i = 0; i < 3; ++i) {
            v1::GetServiceResponse got;
            if (!Get(i, "e2e/web", &got).ok()) return false;
            const v1::ServiceStatus& s = got.service().status();
            if (s.running() != 5 || s.staged() != 0 || !s.deployment_id().empty()) return false;
          }
          return true;
        },
        absl::Seconds(10), kPoll));
  }

  // (1b) A service with artifacts (spec.fetch): the agent's fetcher puts an
  // executable script under its output_file name and an extracted archive
  // into each sandbox before the command, which uses both and reports
  // through a file outside the sandbox. The master must run tasks for real.
  void FetchedArtifactsReachTheSandbox() {
    const std::string dir = testing::MakeTempDir("mast-e2e-fetch");
    std::filesystem::create_directories(dir + "/pkg/data");
    std::ofstream(dir + "/run.sh") << "#!/bin/sh\necho ran > ran\n";
    std::ofstream(dir + "/pkg/data/hello.txt") << "hello from the archive\n";
    ASSERT_EQ(std::system(absl::StrCat("tar -czf ", dir, "/pkg.tgz -C ", dir, "/pkg data").c_str()),
              0);
    std::filesystem::create_directories(dir + "/out");
    StartReplicas();
    const int leader = WaitForSubscribedLeader();
    ASSERT_GE(leader, 0);
    v1::ServiceSpec spec = Spec("e2e/fetch", 2,
                                // The sandbox is .../executors/<task id>/runs/<container>
                                // (the real command executor sets no MESOS_TASK_ID).
                                "id=$(basename \"$(dirname \"$(dirname \"$PWD\")\")\"); "
                                "exec 2> \"$OUT/$id.stderr\"; bin/run && test -f ran && "
                                "cat data/hello.txt > \"$OUT/$id\" && sleep 600");
    (*spec.mutable_env())["OUT"] = dir + "/out";
    v1::FetchUri* script = spec.add_fetch();
    script->set_uri("file://" + dir + "/run.sh");
    script->set_executable(true);
    script->set_output_file("bin/run");
    spec.add_fetch()->set_uri(dir + "/pkg.tgz");
    grpc::Status status = Create((leader + 1) % 3, spec);
    ASSERT_TRUE(status.ok()) << status.error_message();
    std::set<std::string> ids = WaitConverged("e2e/fetch", 2);
    ASSERT_EQ(ids.size(), 2u);
    for (const std::string& id : ids) {
      std::string line;
      EXPECT_TRUE(WaitFor(
          [&] {
            std::ifstream in(dir + "/out/" + id);
            return std::getline(in, line) && line == "hello from the archive";
          },
          absl::Seconds(20), kPoll))
          << id << " wrote '" << line << "'; its stderr: " << [&] {
               std::ifstream err(dir + "/out/" + id + ".stderr");
               std::stringstream text;
               text << err.rdbuf();
               return text.str();
             }();
    }
    if (getenv("MAST_KEEP_MESOS_DIR") == nullptr) testing::RemoveTree(dir);
  }

  // (1c) Secrets and volumes: a VALUE secret as an environment variable
  // (and, where the agent can, as a file), a host path and a sandbox path
  // as volumes, all seen by the command. Reads show the secret redacted on
  // every replica; the spec read back, scaled, keeps the stored value (the
  // new task sees it too); no replica logs the value. `secret_file`: also a
  // secret volume; `sandbox_volume`: also a sandbox path mounted at an
  // absolute path (the real agent needs filesystem/linux for both, the
  // local master has no mounts for the second).
  void SecretsAndVolumesReachTheTask(bool secret_file, bool sandbox_volume) {
    const std::string dir = testing::MakeTempDir("mast-e2e-secrets");
    std::filesystem::create_directories(dir + "/host");
    std::filesystem::create_directories(dir + "/out");
    std::filesystem::create_directories(dir + "/mnt");
    std::ofstream(dir + "/host/hello.txt") << "from the host\n";
    const std::string secret = "s3cret-value-7f1c";
    StartReplicas();
    const int leader = WaitForSubscribedLeader();
    ASSERT_GE(leader, 0);
    std::string command =
        "id=$(basename \"$(dirname \"$(dirname \"$PWD\")\")\"); "
        "exec 2> \"$OUT/$id.stderr\"; "
        "{ printf '%s\\n' \"$DB_PASSWORD\"; cat hostdata/hello.txt; ";
    // Written through the mount, seen in the sandbox.
    if (sandbox_volume) command += "echo scratch > \"$MNT/f\" && cat tmp/scratch/f; ";
    if (secret_file) command += "cat secrets/db; echo; ";
    command += "} > \"$OUT/$id.tmp\" && mv \"$OUT/$id.tmp\" \"$OUT/$id\" && sleep 600";
    v1::ServiceSpec spec = Spec("e2e/secrets", 1, command);
    (*spec.mutable_env())["OUT"] = dir + "/out";
    (*spec.mutable_secrets())["db"].set_value(secret);
    (*spec.mutable_secret_env())["DB_PASSWORD"] = "db";
    v1::Volume* host = spec.add_volumes();
    host->set_container_path("hostdata");
    host->set_host_path(dir + "/host");
    host->set_read_only(true);
    if (sandbox_volume) {
      (*spec.mutable_env())["MNT"] = dir + "/mnt";
      v1::Volume* scratch = spec.add_volumes();
      scratch->set_container_path(dir + "/mnt");
      scratch->set_sandbox_path("tmp/scratch");
    }
    if (secret_file) {
      v1::Volume* file = spec.add_volumes();
      file->set_container_path("secrets/db");
      file->set_secret("db");
      file->set_read_only(true);
    }
    v1::Service created;
    grpc::Status status = Create((leader + 1) % 3, spec, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(created.spec().secrets().at("db").redacted());
    EXPECT_TRUE(created.spec().secrets().at("db").value().empty()) << "the write's answer";

    std::string want = secret + "\nfrom the host\n";
    if (sandbox_volume) want += "scratch\n";
    if (secret_file) want += secret + "\n";
    const auto expect_output = [&](const std::set<std::string>& ids) {
      for (const std::string& id : ids) {
        std::string text;
        EXPECT_TRUE(WaitFor(
            [&] {
              std::ifstream in(dir + "/out/" + id);
              std::stringstream all;
              all << in.rdbuf();
              text = all.str();
              return text == want;
            },
            absl::Seconds(20), kPoll))
            << id << " wrote '" << text << "'; its stderr: " << [&] {
                 std::ifstream err(dir + "/out/" + id + ".stderr");
                 std::stringstream all;
                 all << err.rdbuf();
                 return all.str();
               }();
      }
    };
    const std::set<std::string> first = WaitConverged("e2e/secrets", 1);
    ASSERT_EQ(first.size(), 1u);
    expect_output(first);

    v1::GetServiceResponse got;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(
          WaitFor([&] { return Get(i, "e2e/secrets", &got).ok(); }, absl::Seconds(10), kPoll));
      const v1::Secret& read = got.service().spec().secrets().at("db");
      EXPECT_TRUE(read.redacted()) << "r" << i;
      EXPECT_TRUE(read.value().empty()) << "r" << i << " shows the secret";
      EXPECT_EQ(got.service().spec().secret_env().at("DB_PASSWORD"), "db");
    }
    // Read, edit, send back: the redacted secret keeps its value.
    v1::ServiceSpec edited = got.service().spec();
    edited.set_instances(2);
    v1::Service updated;
    status = Update(leader, edited, &updated);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(updated.task_version(), created.task_version()) << "a scale: no new tasks";
    const std::set<std::string> both = WaitConverged("e2e/secrets", 2);
    ASSERT_EQ(both.size(), 2u);
    expect_output(both);
    for (int i = 0; i < 3; ++i) {
      EXPECT_FALSE(absl::StrContains(replica(i).Log(), secret)) << "r" << i << " logged it";
    }
    if (getenv("MAST_KEEP_MESOS_DIR") == nullptr) testing::RemoveTree(dir);
  }

  // (1d) MULTI_ROLE: a service under a role of its own is offered
  // resources for it once the leader has told the master of the role
  // (UPDATE_FRAMEWORK with the role added).
  void AServiceInItsOwnRoleRuns() {
    StartReplicas();
    const int leader = WaitForSubscribedLeader();
    ASSERT_GE(leader, 0);
    v1::ServiceSpec spec = Spec("e2e/batch", 2);
    spec.set_role("batch");
    grpc::Status status = Create((leader + 1) % 3, spec);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(WaitConverged("e2e/batch", 2).size(), 2u);
    EXPECT_FALSE(LastLogLine(replica(leader), "framework_roles").empty())
        << "the leader announced the new role";
  }

  // (2) Scale up, then down: the youngest go, exactly N remain.
  void ScaleUpThenDown() {
    StartReplicas();
    const int leader = WaitForSubscribedLeader();
    ASSERT_GE(leader, 0);
    const int follower = (leader + 1) % 3, other = (leader + 2) % 3;
    ASSERT_TRUE(Create(follower, Spec("e2e/scale", 3)).ok());
    const std::set<std::string> first = WaitConverged("e2e/scale", 3);
    ASSERT_EQ(first.size(), 3u);

    grpc::Status status = Scale(other, "e2e/scale", 6);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const std::set<std::string> grown = WaitConverged("e2e/scale", 6);
    ASSERT_EQ(grown.size(), 6u);
    std::set<std::string> young;
    std::set_difference(grown.begin(), grown.end(), first.begin(), first.end(),
                        std::inserter(young, young.begin()));
    EXPECT_EQ(young.size(), 3u) << "the first three kept running: " << Ids(grown);

    status = Scale(follower, "e2e/scale", 3);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const std::set<std::string> shrunk = WaitConverged("e2e/scale", 3);
    EXPECT_EQ(shrunk, first) << "the three youngest should have been killed";
    auto tasks = MasterTasks("e2e/scale");
    ASSERT_TRUE(tasks.ok()) << tasks.status();
    for (const MasterTask& task : *tasks) {
      if (young.count(task.id) > 0) {
        EXPECT_EQ(task.state, mesos_v1::TASK_KILLED) << task.id;
      }
    }
  }

  // (3) Delete: the tasks are killed, then the record goes; never the
  // other way round.
  void DeleteKillsThenRemoves() {
    StartReplicas();
    const int leader = WaitForSubscribedLeader();
    ASSERT_GE(leader, 0);
    const int follower = (leader + 1) % 3;
    ASSERT_TRUE(Create(follower, Spec("e2e/gone", 3)).ok());
    const std::set<std::string> ids = WaitConverged("e2e/gone", 3);
    ASSERT_EQ(ids.size(), 3u);

    grpc::Status status = Delete(follower, "e2e/gone");
    ASSERT_TRUE(status.ok()) << status.error_message();
    std::string removed_early;
    ASSERT_TRUE(WaitFor(
        [&] {
          bool gone_everywhere = true;
          for (int i = 0; i < 3; ++i) {
            v1::GetServiceResponse got;
            grpc::Status s = Get(i, "e2e/gone", &got);
            if (s.error_code() != grpc::StatusCode::NOT_FOUND) {
              gone_everywhere = false;
              continue;
            }
            // The record is gone: no task of it may still live at the master.
            auto live = LiveAtMaster("e2e/gone");
            if (live.ok() && !live->empty() && removed_early.empty()) {
              removed_early = absl::StrCat("r", i, " reports NOT_FOUND while ", live->front().id,
                                           " is ", mesos_v1::TaskState_Name(live->front().state));
            }
          }
          return gone_everywhere;
        },
        absl::Seconds(60), kPoll));
    EXPECT_EQ(removed_early, "");
    auto tasks = MasterTasks("e2e/gone");
    ASSERT_TRUE(tasks.ok()) << tasks.status();
    std::set<std::string> killed;
    for (const MasterTask& task : *tasks) {
      EXPECT_TRUE(MesosTerminal(task.state))
          << task.id << " " << mesos_v1::TaskState_Name(task.state);
      if (task.state == mesos_v1::TASK_KILLED) killed.insert(task.id);
    }
    EXPECT_EQ(killed, ids);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(ListTasks(i, "e2e/gone").status().code(), absl::StatusCode::kNotFound) << i;
    }
  }

  // (5), after the leader was SIGKILLed mid-deploy: a new leader finishes
  // the deploy with exactly `n` tasks, never more live at the master, every
  // live one listed by every replica, one framework.
  void FinishesAfterLeaderKill(const std::string& service, size_t n, int killed,
                               const std::string& framework_id,
                               absl::Duration timeout = absl::Seconds(90)) {
    ASSERT_TRUE(replica(killed).process().Wait(absl::Seconds(10)).has_value());
    size_t max_live = 0;
    std::string max_live_ids;
    std::set<std::string> ids;
    ASSERT_TRUE(WaitFor(
        [&] {
          auto live = LiveAtMaster(service);
          if (live.ok() && live->size() > max_live) {
            max_live = live->size();
            std::set<std::string> now;
            for (const MasterTask& t : *live) now.insert(t.id);
            max_live_ids = Ids(now);
          }
          return Converged(service, n, &ids);
        },
        timeout, kPoll))
        << last_why_;
    EXPECT_LE(max_live, n) << "duplicates: " << max_live_ids;
    const int leader = WaitForSubscribedLeader();
    ASSERT_GE(leader, 0);
    EXPECT_NE(leader, killed);
    EXPECT_EQ(replica(leader).FrameworkId(), framework_id);
    EXPECT_TRUE(replica(leader).LogContains("event=reconciliation_complete"));
    std::fprintf(stderr, "new leader: %s\n",
                 LastLogLine(replica(leader), "event=scheduler_loaded").c_str());
    // And it stays exact through the next implicit reconciliation
    // (--reconcile_interval=3s), which would find an orphan.
    const double reconciles = ReconcileCalls(replica(leader));
    std::string deviation;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto live = LiveAtMaster(service);
          if (live.ok() && live->size() != n && deviation.empty()) {
            deviation = absl::StrCat(live->size(), " live");
          }
          return ReconcileCalls(replica(leader)) > reconciles && Converged(service, n);
        },
        absl::Seconds(30), kPoll))
        << last_why_;
    EXPECT_EQ(deviation, "");
    EXPECT_EQ(RegisteredFrameworks(), 1);
    auto live = LiveAtMaster(service);
    ASSERT_TRUE(live.ok());
    for (const MasterTask& task : *live) EXPECT_EQ(task.framework_id, framework_id) << task.id;
  }

  std::unique_ptr<testing::ZkServer> zk_;
  testing::ReplicaSet set_;
  std::vector<std::unique_ptr<MastdProcess>>& replicas_ = set_.replicas();
  std::vector<std::unique_ptr<v1::Mast::Stub>> stubs_;
  std::vector<std::string> flags_;  // of every replica
  int restarts_ = 0;
  std::string master_url_;
  int master_port_ = 0;
  std::string last_why_;
};

// ---------------------------------------------------------------------------
// Against the local master.

inline local::LocalMasterConfig LocalConfig() {
  local::LocalMasterConfig config;
  config.agents = 2;
  config.heartbeat_interval = absl::Milliseconds(200);
  config.update_retry_interval = absl::Milliseconds(500);
  config.allocation_interval = absl::Milliseconds(50);
  config.restart_recovery = absl::Milliseconds(200);
  return config;
}

class LocalMasterE2eTest : public SchedulerE2eTest {
 protected:
  void StartMaster(local::LocalMasterConfig config = LocalConfig()) {
    auto master = local::LocalMaster::Start(config, RealClock::Default());
    ASSERT_TRUE(master.ok()) << master.status();
    master_ = std::move(*master);
    master_url_ = master_->url();
    master_port_ = master_->port();
  }
  void TearDown() override {
    SchedulerE2eTest::TearDown();
    set_.replicas().clear();  // before the master they talk to
  }

  std::unique_ptr<local::LocalMaster> master_;
};

// ---------------------------------------------------------------------------
// (10) Against the real Mesos 1.11 master and agents: tasks really run
// through the command executor, and /master/tasks agrees with ListTasks.

class RealMesosE2eTest : public SchedulerE2eTest {
 protected:
  void SetUp() override {
    if (!testing::RealMesosDir()) {
      GTEST_SKIP() << "SKIPPED: the real Mesos 1.11 build (../shared/mesos, MAST_REAL_MESOS) is "
                      "not present on this machine; only the local-master cases ran";
    }
    SchedulerE2eTest::SetUp();
  }
  void TearDown() override {
    if (cluster_ == nullptr) return;
    SchedulerE2eTest::TearDown();
    if (HasFailure())
      std::fprintf(stderr, "---- mesos-master ----\n%s\n", cluster_->MasterLog().c_str());
    // Kill what runs (executors outlive their agents: checkpointing), then
    // stop everything.
    int any = -1;
    for (int i = 0; i < 3 && i < static_cast<int>(replicas_.size()); ++i) {
      if (Alive(i)) any = i;
    }
    if (any >= 0) {
      for (const std::string& name : services_) Delete(any, name);
      WaitFor(
          [&] {
            for (const std::string& name : services_) {
              auto live = LiveAtMaster(name);
              if (!live.ok() || !live->empty()) return false;
            }
            return true;
          },
          absl::Seconds(30), absl::Milliseconds(100));
    }
    set_.replicas().clear();
    extra_agent_.reset();
    if (!extra_agent_dir_.empty()) testing::RemoveTree(extra_agent_dir_);
    cluster_.reset();
  }

  void StartCluster(int agents, const std::string& resources, bool linux_isolation = false) {
    testing::RealMesosCluster::Options options;
    options.agents = agents;
    options.linux_isolation = linux_isolation;
    options.agent_resources = resources;
    auto cluster = testing::RealMesosCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    master_url_ = cluster_->master_url();
    master_port_ = cluster_->master_port();
  }

  // One more agent, started by the test (the cluster's are fixed).
  void StartExtraAgent(const std::string& resources) {
    const std::string root = *testing::RealMesosDir();
    extra_agent_dir_ = testing::MakeTempDir("mast-e2e-agent");
    auto agent = testing::Subprocess::Spawn(
        {root + "/sbin/mesos-agent", absl::StrCat("--master=127.0.0.1:", master_port_),
         "--ip=127.0.0.1", absl::StrCat("--port=", testing::PickFreePort()), "--hostname=127.0.0.9",
         "--work_dir=" + extra_agent_dir_ + "/work", "--launcher=posix",
         "--isolation=posix/cpu,posix/mem", "--no-systemd_enable_support",
         "--launcher_dir=" + root + "/libexec/mesos", "--resources=" + resources},
        extra_agent_dir_ + "/agent.log");
    ASSERT_TRUE(agent.ok()) << agent.status();
    extra_agent_.emplace(std::move(*agent));
  }

  std::unique_ptr<testing::RealMesosCluster> cluster_;
  std::optional<testing::Subprocess> extra_agent_;
  std::string extra_agent_dir_;
  std::vector<std::string> services_ = {"e2e/web", "e2e/scale", "e2e/gone", "e2e/big"};
};

inline constexpr char kRealAgentResources[] = "cpus:4;mem:4096;disk:4096;ports:[31000-31100]";

}  // namespace mast::e2e
