#include "bench/bench_cluster.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "tests/processes/wait.h"

namespace mast::bench {

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

std::optional<int64_t> RssBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "VmRSS:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    int64_t kib = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kib)) return std::nullopt;
    return kib * 1024;
  }
  return std::nullopt;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

std::optional<LogHit> FindLogEvent(const std::string& log, const std::string& event, size_t from) {
  const std::string needle = absl::StrCat(" event=", event);
  for (size_t at = log.find(needle, from); at != std::string::npos; at = log.find(needle, at + 1)) {
    // The whole event name, not a prefix of a longer one.
    const size_t after = at + needle.size();
    if (after < log.size() && log[after] != ' ' && log[after] != '\n') continue;
    const size_t begin = log.rfind('\n', at);
    const size_t line = begin == std::string::npos ? 0 : begin + 1;
    const size_t ts = log.find("ts=", line);
    if (ts == std::string::npos || ts > at) continue;
    const size_t ts_end = log.find(' ', ts);
    absl::Time t;
    std::string error;
    if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", log.substr(ts + 3, ts_end - ts - 3),
                         absl::UTCTimeZone(), &t, &error)) {
      continue;
    }
    size_t end = log.find('\n', at);
    return LogHit{t, end == std::string::npos ? log.size() : end + 1};
  }
  return std::nullopt;
}

v1::ServiceSpec TinyService(const std::string& name, uint32_t instances, int ports) {
  v1::ServiceSpec spec;
  spec.set_name(name);
  spec.mutable_command()->set_shell("sleep 100000");
  spec.mutable_resources()->set_cpus(0.01);
  spec.mutable_resources()->set_mem_mib(4);
  for (int i = 0; i < ports; ++i) spec.add_ports()->set_name(absl::StrCat("p", i));
  spec.set_instances(instances);
  return spec;
}

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Start(ClusterOptions options) {
  std::unique_ptr<Cluster> cluster(new Cluster());
  cluster->options_ = std::move(options);
  auto zk = testing::ZkServer::Launch();
  if (!zk.ok()) return zk.status();
  cluster->zk_ = std::move(*zk);
  auto master = local::LocalMaster::Start(cluster->options_.master, RealClock::Default());
  if (!master.ok()) return master.status();
  cluster->master_ = std::move(*master);
  cluster->log_dir_ = testing::MakeTempDir("mast-bench");
  for (int i = 0; i < cluster->options_.replicas; ++i) {
    auto replica = cluster->StartReplica(absl::StrCat("r", cluster->next_id_++));
    if (!replica.ok()) return replica.status();
    cluster->replicas_.push_back(std::move(*replica));
  }
  return cluster;
}

Cluster::~Cluster() {
  replicas_.clear();
  master_.reset();
  zk_.reset();
  if (log_dir_.empty()) return;
  const char* keep = std::getenv("MAST_BENCH_KEEP_LOGS");
  if (keep != nullptr && *keep != '\0' && std::string(keep) != "0") {
    std::fprintf(stderr, "mastd logs kept in %s\n", log_dir_.c_str());
    return;
  }
  testing::RemoveTree(log_dir_);
}

absl::StatusOr<std::unique_ptr<testing::MastdProcess>> Cluster::StartReplica(
    const std::string& id) {
  testing::MastdProcess::Options options;
  options.zk_hosts = zk_->hosts();
  options.replica_id = id;
  options.session_timeout = options_.session_timeout;
  options.log_dir = log_dir_;
  options.extra_flags = {"--mesos=" + master_->url(), "--failover_timeout=1h"};
  for (const std::string& flag : options_.extra_flags) options.extra_flags.push_back(flag);
  return testing::MastdProcess::Start(options);
}

absl::Status Cluster::Restart(int i) {
  auto replica = StartReplica(absl::StrCat("r", next_id_++));
  if (!replica.ok()) return replica.status();
  replicas_[i] = std::move(*replica);
  return absl::OkStatus();
}

int Cluster::SettledLeader(int ignoring) const {
  int leader = -1;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    if (static_cast<int>(i) == ignoring) continue;
    auto answer = replicas_[i]->GetLeader();
    if (!answer.ok() || !answer->leader_known()) return -1;
    if (answer->is_leader()) leader = static_cast<int>(i);
  }
  if (leader < 0) return -1;
  auto metrics = replicas_[leader]->Metrics();
  if (!metrics.ok() || (*metrics)["mast_mesos_subscribed"] != 1 ||
      (*metrics)["mast_reconciliations_total"] < 1) {
    return -1;
  }
  return leader;
}

absl::StatusOr<int> Cluster::WaitForSettledLeader(absl::Duration timeout) {
  int leader = -1;
  if (!testing::WaitFor([&] { return (leader = SettledLeader()) >= 0; }, timeout,
                        absl::Milliseconds(20))) {
    return absl::DeadlineExceededError("no settled leader (subscribed and reconciled)");
  }
  return leader;
}

std::unique_ptr<v1::Mast::Stub> Cluster::Stub(int i) const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  return v1::Mast::NewStub(grpc::CreateCustomChannel(replicas_[i]->grpc_address(),
                                                     grpc::InsecureChannelCredentials(), args));
}

Cluster::MasterCounts Cluster::CountMasterTasks() const {
  MasterCounts counts;
  for (const local::LocalMaster::TaskView& task : master_->tasks()) {
    ++counts.tasks;
    if (task.state == ::mesos::v1::TASK_RUNNING) ++counts.running;
  }
  return counts;
}

absl::Status Cluster::CreateServices(int i, const std::vector<v1::ServiceSpec>& specs,
                                     int parallel) {
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, parallel); ++t) {
    threads.emplace_back([&] {
      std::unique_ptr<v1::Mast::Stub> stub = Stub(i);
      for (size_t k = next++; k < specs.size(); k = next++) {
        v1::CreateServiceRequest request;
        *request.mutable_spec() = specs[k];
        v1::Service response;
        grpc::Status status;
        for (int attempt = 0; attempt < 5; ++attempt) {
          grpc::ClientContext context;
          context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
          status = stub->CreateService(&context, request, &response);
          if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
          absl::SleepFor(absl::Milliseconds(100));
        }
        if (!status.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) {
            first_error = absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                       absl::StrCat(specs[k].name(), ": ", status.error_message()));
          }
          next = specs.size();
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return first_error;
}

int64_t RunningInAllServices(v1::Mast::Stub& stub) {
  int64_t running = 0;
  v1::ListServicesRequest request;
  request.set_page_size(1000);
  do {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::ListServicesResponse response;
    grpc::Status status = stub.ListServices(&context, request, &response);
    if (!status.ok()) return -1;
    for (const v1::Service& service : response.services()) running += service.status().running();
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return running;
}

absl::Status WaitAllRunning(v1::Mast::Stub& stub, int64_t tasks, absl::Duration timeout,
                            absl::Duration poll) {
  int64_t running = 0;
  if (testing::WaitFor([&] { return (running = RunningInAllServices(stub)) >= tasks; }, timeout,
                       poll)) {
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat(running, " of ", tasks, " tasks RUNNING after ", absl::FormatDuration(timeout)));
}

void PrintLeaderMetrics(const testing::MastdProcess& replica) {
  auto metrics = replica.Metrics();
  if (!metrics.ok()) return;
  static const char* const kNames[] = {"mast_mesos_calls_total{",
                                       "mast_mesos_events_total{",
                                       "mast_status_updates_total",
                                       "mast_task_record_writes_total",
                                       "mast_task_record_write_failures_total",
                                       "mast_offers_accepted_total",
                                       "mast_scheduler_offers_declined_total",
                                       "mast_revives_total",
                                       "mast_suppresses_total",
                                       "mast_tasks_launched_total",
                                       "process_cpu_seconds_total",
                                       "process_resident_memory_bytes"};
  std::printf("%s metrics:\n", replica.replica_id().c_str());
  for (const auto& [name, value] : *metrics) {
    bool wanted = false;
    for (const char* prefix : kNames) {
      const bool labelled = prefix[std::strlen(prefix) - 1] == '{';
      wanted |= labelled ? name.rfind(prefix, 0) == 0 : name == prefix;
    }
    if (wanted) std::printf("  %s %.6g\n", name.c_str(), value);
  }
}

PerfRecorder::PerfRecorder(std::string out, pid_t pid) : out_(std::move(out)) {
  if (out_.empty()) return;
  auto perf = testing::Subprocess::Spawn({"/usr/bin/perf", "record", "-F", "199", "--call-graph",
                                          "dwarf,32768", "-o", out_, "-p", absl::StrCat(pid)},
                                         out_ + ".log");
  if (!perf.ok()) {
    std::fprintf(stderr, "perf: %s\n", perf.status().ToString().c_str());
    return;
  }
  perf_ = std::move(*perf);
  absl::SleepFor(absl::Milliseconds(300));  // attached before the measured part starts
}

void PerfRecorder::Stop() {
  if (!perf_) return;
  perf_->Signal(SIGINT);
  perf_->Wait(absl::Seconds(30));
  perf_.reset();
  std::printf("perf data: %s (perf report -i %s --no-children)\n", out_.c_str(), out_.c_str());
}

}  // namespace mast::bench
