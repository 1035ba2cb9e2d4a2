// bench/follower_reads: what a follower's read API costs next to doing nothing.
//
// Three mastd replicas and the local master; one service of --instances
// RUNNING tasks. Then, closed loop on --channels channels (each its own TCP
// connection, one call outstanding per channel) for --duration each, in one
// run: GetService and ListTasks (that service) against a FOLLOWER, and the
// same two methods against an echo server in this process that answers with
// the follower's own answer, copied (the same size), built the same way as
// mastd's server (ServerBuilder defaults, the callback API). The follower
// and the echo take turns in --slices slices, so that both see the same
// machine. Prints req/s, p50 and p99 of each and the follower's rate as a
// share of the echo's.
// Targets: >= 80% of the echo's rate, p99 <= 5 ms.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "api/arena_allocator.h"
#include "bench/bench_cluster.h"
#include "grpcpp/grpcpp.h"
#include "tests/processes/process_init.h"
#include "tests/processes/wait.h"

ABSL_FLAG(int, instances, 100, "Tasks of the service read");
ABSL_FLAG(int, channels, 16, "Client channels (connections), one call in flight each");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Measured time per method and server");
ABSL_FLAG(absl::Duration, warmup, absl::Milliseconds(200), "Unmeasured time before each slice");
ABSL_FLAG(int, slices, 10,
          "Each server's --duration is cut into this many slices, run alternately with the "
          "other server's");
ABSL_FLAG(bool, echo_process, false,
          "Also measure an echo server in a process of its own (this binary again), beside the "
          "one in this process");
ABSL_FLAG(std::string, serve_echo, "",
          "Internal (--echo_process): serve the answers stored in <path>.get and <path>.list "
          "and print the port");
ABSL_FLAG(
    std::string, perf_out, "",
    "If set: perf record (call graphs) of the follower while it serves ListTasks, into this file");

namespace mast::bench {
namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "follower_reads: %s\n", what.c_str());
  return 1;
}

// Answers GetService and ListTasks with fixed copies of real answers.
class EchoService final : public v1::Mast::CallbackService {
 public:
  EchoService(v1::GetServiceResponse get, v1::ListTasksResponse list)
      : get_(std::move(get)), list_(std::move(list)) {
    // Messages allocated as mastd allocates them (MastService), so that
    // the comparison is of serving, not of allocators.
    static auto* list_tasks_allocator =
        new ArenaMessageAllocator<v1::ListTasksRequest, v1::ListTasksResponse>();
    SetMessageAllocatorFor_ListTasks(list_tasks_allocator);
  }

  grpc::ServerUnaryReactor* GetService(grpc::CallbackServerContext* context,
                                       const v1::GetServiceRequest*,
                                       v1::GetServiceResponse* response) override {
    *response = get_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* context,
                                      const v1::ListTasksRequest*,
                                      v1::ListTasksResponse* response) override {
    *response = list_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const v1::GetServiceResponse get_;
  const v1::ListTasksResponse list_;
};

std::unique_ptr<grpc::Server> StartEcho(EchoService& echo, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(&echo);
  return builder.BuildAndStart();
}

// --serve_echo: the echo server as a process of its own, until killed.
int ServeEcho(const std::string& path) {
  v1::GetServiceResponse get;
  v1::ListTasksResponse list;
  std::ifstream get_in(path + ".get", std::ios::binary), list_in(path + ".list", std::ios::binary);
  if (!get.ParseFromIstream(&get_in) || !list.ParseFromIstream(&list_in)) {
    std::fprintf(stderr, "echo: cannot read %s.{get,list}\n", path.c_str());
    return 1;
  }
  EchoService echo(std::move(get), std::move(list));
  int port = 0;
  std::unique_ptr<grpc::Server> server = StartEcho(echo, &port);
  if (server == nullptr) return 1;
  std::printf("echo_port=%d\n", port);
  std::fflush(stdout);
  server->Wait();
  return 0;
}

struct Result {
  int64_t calls = 0;  // completed OK in the measured window
  int64_t errors = 0;
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

template <typename Request, typename Response>
using AsyncCall = std::function<void(v1::Mast::Stub&, grpc::ClientContext*, const Request*,
                                     Response*, std::function<void(grpc::Status)>)>;

// `channels` closed loops of `call` to one server, each on a channel (a TCP
// connection) of its own with one call in flight. Run() may be called
// several times; the figures add up.
template <typename Request, typename Response>
class ClosedLoops {
 public:
  ClosedLoops(const std::string& address, Request request, AsyncCall<Request, Response> call)
      : request_(std::move(request)),
        call_(std::move(call)),
        workers_(absl::GetFlag(FLAGS_channels)) {
    for (Worker& w : workers_) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
      auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
      channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      w.stub = v1::Mast::NewStub(channel);
    }
  }

  // Calls for warmup + measured; counts the calls that end in the measured part.
  void Run(absl::Duration warmup, absl::Duration measured) {
    from_ = absl::Now() + warmup;
    to_ = from_ + measured;
    measured_ += measured;
    left_ = static_cast<int>(workers_.size());
    absl::Notification done;
    done_ = &done;
    for (Worker& w : workers_) Issue(w);
    done.WaitForNotification();
  }

  Result result() const {
    Result result;
    std::vector<double> all;
    for (const Worker& w : workers_) {
      all.insert(all.end(), w.latencies_ms.begin(), w.latencies_ms.end());
      result.errors += w.errors;
    }
    result.calls = static_cast<int64_t>(all.size());
    result.rps = static_cast<double>(all.size()) / absl::ToDoubleSeconds(measured_);
    result.p50_ms = Percentile(all, 50);
    result.p99_ms = Percentile(all, 99);
    return result;
  }

 private:
  struct Worker {
    std::unique_ptr<v1::Mast::Stub> stub;
    std::unique_ptr<grpc::ClientContext> context;
    Response response;
    absl::Time sent;
    std::vector<double> latencies_ms;
    int64_t errors = 0;
  };

  void Issue(Worker& w) {
    w.context = std::make_unique<grpc::ClientContext>();
    w.context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    w.response.Clear();
    w.sent = absl::Now();
    call_(*w.stub, w.context.get(), &request_, &w.response,
          [this, worker = &w](grpc::Status status) {
            const absl::Time now = absl::Now();
            if (!status.ok()) {
              ++worker->errors;
            } else if (now >= from_ && now < to_) {
              worker->latencies_ms.push_back(absl::ToDoubleMilliseconds(now - worker->sent));
            }
            if (now >= to_) {
              if (--left_ == 0) done_->Notify();
              return;
            }
            Issue(*worker);
          });
  }

  const Request request_;
  const AsyncCall<Request, Response> call_;
  std::vector<Worker> workers_;
  // Set by Run() before the first call of a run; read by the callbacks.
  absl::Time from_, to_;
  absl::Duration measured_;
  std::atomic<int> left_{0};
  absl::Notification* done_ = nullptr;
};

// The two servers measured in alternation, in --slices slices each (the
// order flips every slice), so that a change of the machine's load during
// the run falls on both alike.
template <typename Request, typename Response>
std::pair<Result, Result> Compare(const std::string& follower, const std::string& echo,
                                  const Request& request, AsyncCall<Request, Response> call) {
  ClosedLoops<Request, Response> a(follower, request, call);
  ClosedLoops<Request, Response> b(echo, request, call);
  const int slices = std::max(1, absl::GetFlag(FLAGS_slices));
  const absl::Duration slice = absl::GetFlag(FLAGS_duration) / slices;
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  for (int i = 0; i < slices; ++i) {
    if (i % 2 == 0) {
      a.Run(warmup, slice);
      b.Run(warmup, slice);
    } else {
      b.Run(warmup, slice);
      a.Run(warmup, slice);
    }
  }
  return {a.result(), b.result()};
}

void PrintRow(const char* method, const char* server, const Result& r) {
  std::printf("%-11s %-9s %9.0f req/s   p50 %6.3f ms   p99 %6.3f ms   (%lld calls, %lld errors)\n",
              method, server, r.rps, r.p50_ms, r.p99_ms, static_cast<long long>(r.calls),
              static_cast<long long>(r.errors));
  std::fflush(stdout);
}

// The cluster with the service RUNNING, and the follower read from.
struct Setup {
  std::unique_ptr<Cluster> cluster;
  int follower = -1;
  std::unique_ptr<v1::Mast::Stub> stub;  // to the follower
};

absl::StatusOr<Setup> StartWithService(const std::string& name, int instances) {
  ClusterOptions options;
  options.master.agents = 10;
  auto cluster = Cluster::Start(options);
  if (!cluster.ok()) return cluster.status();
  Cluster& c = **cluster;
  auto leader = c.WaitForSettledLeader(absl::Seconds(60));
  if (!leader.ok()) return leader.status();
  if (absl::Status s = c.CreateServices(*leader, {TinyService(name, instances)}); !s.ok()) {
    return s;
  }
  Setup setup;
  setup.follower = c.Follower(*leader);
  setup.stub = c.Stub(setup.follower);
  if (absl::Status s = WaitAllRunning(*setup.stub, instances, absl::Seconds(60)); !s.ok()) {
    return s;
  }
  absl::SleepFor(absl::Seconds(2));  // the implicit reconciliation and its writes are done
  setup.cluster = std::move(*cluster);
  return setup;
}

// The follower's answers, for the echo server to give back.
struct Answers {
  v1::GetServiceRequest get_request;
  v1::GetServiceResponse get;
  v1::ListTasksRequest list_request;
  v1::ListTasksResponse list;
};

// False once it has printed why it failed.
bool FetchAnswers(v1::Mast::Stub& stub, const std::string& name, Answers& answers) {
  answers.get_request.set_name(name);
  answers.list_request.set_service(name);
  {
    grpc::ClientContext context;
    grpc::Status status = stub.GetService(&context, answers.get_request, &answers.get);
    if (!status.ok()) {
      Fail("GetService: " + status.error_message());
      return false;
    }
  }
  {
    grpc::ClientContext context;
    grpc::Status status = stub.ListTasks(&context, answers.list_request, &answers.list);
    if (!status.ok()) {
      Fail("ListTasks: " + status.error_message());
      return false;
    }
  }
  std::printf("answers: GetService %zu bytes, ListTasks %zu bytes (%d tasks)\n",
              answers.get.ByteSizeLong(), answers.list.ByteSizeLong(), answers.list.tasks_size());
  return true;
}

// The same echo in a process of its own (this binary with --serve_echo);
// sets `process` and `address`. False once it has printed why it failed.
bool StartEchoProcess(Cluster& c, const Answers& answers,
                      std::optional<testing::Subprocess>& process, std::string& address) {
  const std::string path = c.log_dir() + "/echo";
  std::ofstream(path + ".get", std::ios::binary) << answers.get.SerializeAsString();
  std::ofstream(path + ".list", std::ios::binary) << answers.list.SerializeAsString();
  auto spawned = testing::Subprocess::Spawn(
      {std::filesystem::read_symlink("/proc/self/exe").string(), "--serve_echo=" + path},
      path + ".log");
  if (!spawned.ok()) {
    Fail(spawned.status().ToString());
    return false;
  }
  process = std::move(*spawned);
  int port = 0;
  if (!testing::WaitFor([&] {
        const std::string log = process->ReadLog();
        const size_t at = log.find("echo_port=");
        return at != std::string::npos && std::sscanf(log.c_str() + at, "echo_port=%d", &port) == 1;
      })) {
    Fail("the echo process did not start: " + process->ReadLog());
    return false;
  }
  address = absl::StrCat("127.0.0.1:", port);
  return true;
}

// Where the follower and the echo servers listen; `echo_process` is empty
// without --echo_process.
struct Addresses {
  std::string follower;
  std::string echo;
  std::string echo_process;
};

// (follower, echo) figures of each method and echo server.
struct Measured {
  std::pair<Result, Result> get, list;
  std::optional<std::pair<Result, Result>> get_process, list_process;
};

// Measures both methods against each echo server and prints a row per
// figure; perf records the follower while it serves ListTasks.
Measured MeasureAndPrint(Cluster& c, int follower, const Addresses& at, const Answers& answers) {
  AsyncCall<v1::GetServiceRequest, v1::GetServiceResponse> get =
      [](v1::Mast::Stub& s, grpc::ClientContext* ctx, const v1::GetServiceRequest* req,
         v1::GetServiceResponse* resp, std::function<void(grpc::Status)> done) {
        s.async()->GetService(ctx, req, resp, std::move(done));
      };
  AsyncCall<v1::ListTasksRequest, v1::ListTasksResponse> list =
      [](v1::Mast::Stub& s, grpc::ClientContext* ctx, const v1::ListTasksRequest* req,
         v1::ListTasksResponse* resp, std::function<void(grpc::Status)> done) {
        s.async()->ListTasks(ctx, req, resp, std::move(done));
      };
  Measured m;
  m.get = Compare(at.follower, at.echo, answers.get_request, get);
  PrintRow("GetService", "follower", m.get.first);
  PrintRow("GetService", "echo", m.get.second);
  std::unique_ptr<PerfRecorder> perf;  // the follower while it serves ListTasks
  if (!absl::GetFlag(FLAGS_perf_out).empty()) {
    perf = std::make_unique<PerfRecorder>(absl::GetFlag(FLAGS_perf_out),
                                          c.replica(follower).process().pid());
  }
  m.list = Compare(at.follower, at.echo, answers.list_request, list);
  if (perf) perf->Stop();
  PrintRow("ListTasks", "follower", m.list.first);
  PrintRow("ListTasks", "echo", m.list.second);
  if (!at.echo_process.empty()) {
    m.get_process = Compare(at.follower, at.echo_process, answers.get_request, get);
    PrintRow("GetService", "follower", m.get_process->first);
    PrintRow("GetService", "echo proc", m.get_process->second);
    m.list_process = Compare(at.follower, at.echo_process, answers.list_request, list);
    PrintRow("ListTasks", "follower", m.list_process->first);
    PrintRow("ListTasks", "echo proc", m.list_process->second);
  }
  return m;
}

void PrintVerdicts(const Measured& m) {
  auto verdict = [](const char* method, const char* echo, const Result& f, const Result& e) {
    const double share = e.rps > 0 ? f.rps / e.rps : 0;
    std::printf(
        "%-11s follower/%-9s %5.1f%% (target >= 80%%: %s), follower p99 %.3f ms "
        "(target <= 5 ms: %s)\n",
        method, echo, share * 100, share >= 0.8 ? "met" : "MISSED", f.p99_ms,
        f.p99_ms <= 5 ? "met" : "MISSED");
  };
  verdict("GetService", "echo", m.get.first, m.get.second);
  verdict("ListTasks", "echo", m.list.first, m.list.second);
  if (m.get_process) {
    verdict("GetService", "echo proc", m.get_process->first, m.get_process->second);
    verdict("ListTasks", "echo proc", m.list_process->first, m.list_process->second);
  }
}

int Run() {
  const int instances = absl::GetFlag(FLAGS_instances);
  std::printf("follower_reads: one service of %d tasks, %d channels, %s per run; load %s\n",
              instances, absl::GetFlag(FLAGS_channels),
              absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str(), LoadAverage().c_str());
  const std::string name = "bench/reads";
  absl::StatusOr<Setup> setup = StartWithService(name, instances);
  if (!setup.ok()) return Fail(setup.status().ToString());
  Cluster& c = *setup->cluster;
  Answers answers;
  if (!FetchAnswers(*setup->stub, name, answers)) return 1;

  EchoService echo(answers.get, answers.list);
  int echo_port = 0;
  std::unique_ptr<grpc::Server> server = StartEcho(echo, &echo_port);
  if (server == nullptr) return Fail("cannot start the echo server");
  Addresses at;
  at.echo = absl::StrCat("127.0.0.1:", echo_port);
  at.follower = c.replica(setup->follower).grpc_address();
  std::optional<testing::Subprocess> echo_process;
  if (absl::GetFlag(FLAGS_echo_process) &&
      !StartEchoProcess(c, answers, echo_process, at.echo_process)) {
    return 1;
  }

  std::printf("\n");
  const std::string load_before = LoadAverage();
  const Measured measured = MeasureAndPrint(c, setup->follower, at, answers);
  std::printf("\n");
  PrintVerdicts(measured);
  std::printf("load before %s, after %s\n", load_before.c_str(), LoadAverage().c_str());
  server->Shutdown(std::chrono::system_clock::now());
  return 0;
}

}  // namespace
}  // namespace mast::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  mast::testing::InitProcessLibraries();
  if (!absl::GetFlag(FLAGS_serve_echo).empty()) {
    return mast::bench::ServeEcho(absl::GetFlag(FLAGS_serve_echo));
  }
  return mast::bench::Run();
}
