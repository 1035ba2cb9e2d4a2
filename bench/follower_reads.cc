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

int Run() {
  const int instances = absl::GetFlag(FLAGS_instances);
  ClusterOptions options;
  options.master.agents = 10;
  std::printf("follower_reads: one service of %d tasks, %d channels, %s per run; load %s\n",
              instances, absl::GetFlag(FLAGS_channels),
              absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str(), LoadAverage().c_str());
  auto cluster = Cluster::Start(options);
  if (!cluster.ok()) return Fail(cluster.status().ToString());
  Cluster& c = **cluster;
  auto leader = c.WaitForSettledLeader(absl::Seconds(60));
  if (!leader.ok()) return Fail(leader.status().ToString());
  const std::string name = "bench/reads";
  if (absl::Status s = c.CreateServices(*leader, {TinyService(name, instances)}); !s.ok()) {
    return Fail(s.ToString());
  }
  const int follower = c.Follower(*leader);
  std::unique_ptr<v1::Mast::Stub> stub = c.Stub(follower);
  if (absl::Status s = WaitAllRunning(*stub, instances, absl::Seconds(60)); !s.ok()) {
    return Fail(s.ToString());
  }
  absl::SleepFor(absl::Seconds(2));  // the implicit reconciliation and its writes are done

  // The follower's answers, for the echo server to give back.
  v1::GetServiceRequest get_request;
  get_request.set_name(name);
  v1::GetServiceResponse get_answer;
  v1::ListTasksRequest list_request;
  list_request.set_service(name);
  v1::ListTasksResponse list_answer;
  {
    grpc::ClientContext context;
    grpc::Status status = stub->GetService(&context, get_request, &get_answer);
    if (!status.ok()) return Fail("GetService: " + status.error_message());
  }
  {
    grpc::ClientContext context;
    grpc::Status status = stub->ListTasks(&context, list_request, &list_answer);
    if (!status.ok()) return Fail("ListTasks: " + status.error_message());
  }
  std::printf("answers: GetService %zu bytes, ListTasks %zu bytes (%d tasks)\n",
              get_answer.ByteSizeLong(), list_answer.ByteSizeLong(), list_answer.tasks_size());

  EchoService echo(get_answer, list_answer);
  int echo_port = 0;
  std::unique_ptr<grpc::Server> server = StartEcho(echo, &echo_port);
  if (server == nullptr) return Fail("cannot start the echo server");
  const std::string echo_address = absl::StrCat("127.0.0.1:", echo_port);
  const std::string follower_address = c.replica(follower).grpc_address();
  // The same echo in a process of its own (this binary with --serve_echo).
  std::optional<testing::Subprocess> echo_process;
  std::string echo_process_address;
  if (absl::GetFlag(FLAGS_echo_process)) {
    const std::string path = c.log_dir() + "/echo";
    std::ofstream(path + ".get", std::ios::binary) << get_answer.SerializeAsString();
    std::ofstream(path + ".list", std::ios::binary) << list_answer.SerializeAsString();
    auto spawned = testing::Subprocess::Spawn(
        {std::filesystem::read_symlink("/proc/self/exe").string(), "--serve_echo=" + path},
        path + ".log");
    if (!spawned.ok()) return Fail(spawned.status().ToString());
    echo_process = std::move(*spawned);
    int port = 0;
    if (!testing::WaitFor([&] {
          const std::string log = echo_process->ReadLog();
          const size_t at = log.find("echo_port=");
          return at != std::string::npos &&
                 std::sscanf(log.c_str() + at, "echo_port=%d", &port) == 1;
        })) {
      return Fail("the echo process did not start: " + echo_process->ReadLog());
    }
    echo_process_address = absl::StrCat("127.0.0.1:", port);
  }

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

  std::printf("\n");
  const std::string load_before = LoadAverage();
  auto [get_follower, get_echo] = Compare(follower_address, echo_address, get_request, get);
  PrintRow("GetService", "follower", get_follower);
  PrintRow("GetService", "echo", get_echo);
  std::unique_ptr<PerfRecorder> perf;  // the follower while it serves ListTasks
  if (!absl::GetFlag(FLAGS_perf_out).empty()) {
    perf = std::make_unique<PerfRecorder>(absl::GetFlag(FLAGS_perf_out),
                                          c.replica(follower).process().pid());
  }
  auto [list_follower, list_echo] = Compare(follower_address, echo_address, list_request, list);
  if (perf) perf->Stop();
  PrintRow("ListTasks", "follower", list_follower);
  PrintRow("ListTasks", "echo", list_echo);
  std::optional<std::pair<Result, Result>> get_process, list_process;
  if (echo_process) {
    get_process = Compare(follower_address, echo_process_address, get_request, get);
    PrintRow("GetService", "follower", get_process->first);
    PrintRow("GetService", "echo proc", get_process->second);
    list_process = Compare(follower_address, echo_process_address, list_request, list);
    PrintRow("ListTasks", "follower", list_process->first);
    PrintRow("ListTasks", "echo proc", list_process->second);
  }

  auto verdict = [](const char* method, const char* echo, const Result& f, const Result& e) {
    const double share = e.rps > 0 ? f.rps / e.rps : 0;
    std::printf(
        "%-11s follower/%-9s %5.1f%% (target >= 80%%: %s), follower p99 %.3f ms "
        "(target <= 5 ms: %s)\n",
        method, echo, share * 100, share >= 0.8 ? "met" : "MISSED", f.p99_ms,
        f.p99_ms <= 5 ? "met" : "MISSED");
  };
  std::printf("\n");
  verdict("GetService", "echo", get_follower, get_echo);
  verdict("ListTasks", "echo", list_follower, list_echo);
  if (echo_process) {
    verdict("GetService", "echo proc", get_process->first, get_process->second);
    verdict("ListTasks", "echo proc", list_process->first, list_process->second);
  }
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
