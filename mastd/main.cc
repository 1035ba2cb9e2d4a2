// mastd: one replica of the Mast scheduler.
//
// Wiring: one control loop (EventLoop) owns the ZooKeeper session and the
// leader elector, and the service store with its read copy (StateCache);
// gRPC and the Prometheus exposer run on their own threads, read snapshots
// and post writes to the loop (ServiceWriter). SIGTERM/SIGINT hand
// leadership over (the election znode is deleted first, so the next replica
// takes over at once) and exit.

#include <curl/curl.h>
#include <signal.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "api/leader_forwarder.h"
#include "api/mast_service.h"
#include "api/service_writer.h"
#include "api/watch_hub.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/log.h"
#include "common/process_metrics.h"
#include "election/election_metrics.h"
#include "election/leader_elector.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "mastd/flags.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "scheduler/control/framework_controller.h"
#include "scheduler/control/task_scheduler.h"
#include "scheduler/mesos/http_mesos_client.h"
#include "scheduler/mesos/http_transport.h"
#include "scheduler/mesos/zk_master_detector.h"
#include "store/service_store.h"
#include "store/state_cache.h"
#include "store/zk_store.h"
#include "zk/throttled_zk_client.h"
#include "zk/zk_session.h"

namespace mast {
namespace {

constexpr char kLeaderHealthService[] = "mast.v1.Leader";
// ZooKeeper requests of the store, cache and scheduler outstanding at once.
constexpr size_t kStoreRequestsInFlight = 64;

int Fail(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "mastd: %s: %s\n", std::string(what).c_str(),
               std::string(status.message()).c_str());
  return 2;
}

int Run() {
  absl::StatusOr<DaemonConfig> config_or = ConfigFromFlags();
  if (!config_or.ok()) return Fail("invalid flags", config_or.status());
  DaemonConfig config = std::move(*config_or);

  // Signals are taken by sigwait() in main; every thread started below
  // inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Clock& clock = RealClock::Default();
  auto registry = std::make_shared<prometheus::Registry>();
  ElectionMetrics election_metrics(*registry);
  StateCacheMetrics state_metrics(*registry);
  SchedulerMetrics scheduler_metrics(*registry);
  EventLoop loop(clock, "control");

  // gRPC first: its bound port names this replica.
  std::shared_ptr<const ElectionSnapshot> empty = std::make_shared<ElectionSnapshot>();
  LeaderElector* elector_view = nullptr;  // set before the server takes calls
  absl::Notification elector_ready;
  std::shared_ptr<const StateSnapshot> empty_state = std::make_shared<StateSnapshot>();
  StateCache* cache_view = nullptr;  // set before cache_ready
  absl::Notification cache_ready;
  // Loop thread only (posted to); wired to the store and the leadership below.
  ServiceWriter writer(clock);
  LeaderForwarder forwarder;
  WatchMetrics watch_metrics(*registry);
  // WatchEvents: fed on the loop (cache listener, on_new_leader).
  WatchHub watch_hub(WatchHub::Options(), &watch_metrics);
  MastService service(
      [&]() -> std::shared_ptr<const ElectionSnapshot> {
        return elector_ready.HasBeenNotified() ? elector_view->snapshot() : empty;
      },
      [&]() -> std::shared_ptr<const StateSnapshot> {
        return cache_ready.HasBeenNotified() ? cache_view->snapshot() : empty_state;
      },
      clock,
      [&](absl::AnyInvocable<void(ServiceWriter&) &&> task) {
        loop.Post([&writer, task = std::move(task)]() mutable { std::move(task)(writer); });
      },
      forwarder, watch_hub);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(config.grpc_address, grpc::InsecureServerCredentials(), &grpc_port);
  // Watch clients ping quiet streams every 20 s (mastctl watch) to notice a
  // vanished replica; accept that rather than answer with too_many_pings.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || grpc_port == 0) {
    return Fail("--grpc_address",
                absl::UnavailableError(absl::StrCat("cannot listen on ", config.grpc_address)));
  }
  absl::Status resolved = ResolveAddresses(config, grpc_port);
  if (!resolved.ok()) return Fail("invalid flags", resolved);
  SetLogPrefixField("replica", config.election.replica_id);
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(true);
  health->SetServingStatus(kLeaderHealthService, false);

  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(config.metrics_address);
  } catch (const std::exception& e) {
    return Fail("--metrics_address",
                absl::UnavailableError(
                    absl::StrCat("cannot listen on ", config.metrics_address, ": ", e.what())));
  }
  exposer->RegisterCollectable(registry);
  auto process_metrics = std::make_shared<ProcessMetrics>();
  exposer->RegisterCollectable(process_metrics);
  std::vector<int> metrics_ports = exposer->GetListeningPorts();

  mesos::MesosMetrics mesos_metrics(*registry);
  mesos::HttpTransport transport;

  // The leading master: from a list, or from Mesos' own ZooKeeper (a
  // session of its own: that ensemble may not be Mast's).
  std::unique_ptr<ZkSession> mesos_zk;
  std::unique_ptr<mesos::MasterDetector> detector;
  if (config.mesos_zk) {
    const mesos::ZkMasterUrl* url = &*config.mesos_zk;
    ZkSessionConfig mesos_zk_config = config.zk;
    mesos_zk_config.hosts = url->hosts;
    mesos_zk_config.digest_auth = url->digest_auth;
    absl::Status made = absl::OkStatus();
    absl::Notification ready;
    loop.Post([&] {
      auto session = ZkSession::Create(mesos_zk_config, loop);
      if (session.ok()) {
        mesos_zk = std::move(*session);
        detector = std::make_unique<mesos::ZkMasterDetector>(*mesos_zk, url->path);
      } else {
        made = session.status();
      }
      ready.Notify();
    });
    ready.WaitForNotification();
    if (!made.ok()) return Fail("--mesos", made);
  } else if (config.mesos != "none") {
    detector = std::make_unique<mesos::StaticMasterDetector>(config.mesos_masters);
  }
  std::unique_ptr<ZkSession> session;
  std::unique_ptr<ThrottledZkClient> store_zk;
  std::unique_ptr<ZkStore> store;
  std::unique_ptr<ServiceStore> service_store;
  std::unique_ptr<StateCache> state_cache;
  std::unique_ptr<FrameworkController> controller;
  std::unique_ptr<TaskScheduler> scheduler;
  std::unique_ptr<LeaderElector> elector;
  absl::Status wired = absl::OkStatus();
  absl::Notification wired_done;
  loop.Post([&] {
    auto session_or = ZkSession::Create(config.zk, loop);
    if (!session_or.ok()) {
      wired = session_or.status();
      wired_done.Notify();
      return;
    }
    session = std::move(*session_or);
    // The store's traffic goes through a bounded window, so that a burst of
    // it never stands long before the elector's requests (which use the
    // session directly; see ThrottledZkClient).
    store_zk = std::make_unique<ThrottledZkClient>(*session, kStoreRequestsInFlight);
    store = std::make_unique<ZkStore>(*store_zk, config.zk_root);
    service_store = std::make_unique<ServiceStore>(*store_zk, *store);
    writer.SetStore(service_store.get());
    state_cache = std::make_unique<StateCache>(*store_zk, loop, config.zk_root, &state_metrics);
    // Creating thousands of services must not list the directory each time.
    state_cache->set_min_relist_interval(absl::Milliseconds(20));
    state_cache->AddListener([&watch_hub](const auto& s) { watch_hub.OnSnapshot(s); });
    state_cache->Start();
    cache_view = state_cache.get();
    cache_ready.Notify();
    if (detector != nullptr)
      controller = std::make_unique<FrameworkController>(
          config.framework,
          [&](mesos::MesosClientCallbacks callbacks) -> mesos::MesosClientPtr {
            return std::make_unique<mesos::HttpMesosClient>(config.mesos_client, *detector,
                                                            transport, loop, std::move(callbacks),
                                                            &mesos_metrics);
          },
          *store, loop, &mesos_metrics,
          [&](absl::string_view reason) {
            // Stop acting; rejoin at the back after a session timeout, so a
            // scheduler that took the framework over is not fought over.
            elector->Abdicate(reason, config.zk.session_timeout);
          });
    // The scheduling loop runs on every leader, with or without Mesos (a
    // deleting service without tasks is removed either way).
    scheduler = std::make_unique<TaskScheduler>(
        config.scheduler, *service_store, *state_cache, loop, clock, &scheduler_metrics,
        [&](absl::string_view reason) { elector->Abdicate(reason, config.zk.session_timeout); });
    if (controller) controller->SetListener(scheduler.get());
    LeaderCallbacks callbacks;
    callbacks.on_started_leading = [health, &controller, &writer,
                                    &scheduler](const LeaderTerm& term) {
      health->SetServingStatus(kLeaderHealthService, true);
      writer.OnStartedLeading(term);
      scheduler->OnStartedLeading(term);
      if (controller) controller->OnStartedLeading(term);
    };
    callbacks.on_stopped_leading = [health, &controller, &writer, &scheduler](const LeaderTerm&,
                                                                              absl::string_view) {
      health->SetServingStatus(kLeaderHealthService, false);
      writer.OnStoppedLeading();
      if (controller) controller->OnStoppedLeading();
      scheduler->OnStoppedLeading();
    };
    callbacks.on_new_leader = [&controller, &forwarder, &watch_hub,
                               &config](const std::optional<LeaderInfo>& leader) {
      forwarder.OnNewLeader(leader);
      watch_hub.OnLeader(LeaderResponseFrom(leader, config.election.replica_id));
      if (leader && controller) controller->Prefetch();
    };
    callbacks.on_paused_changed = [health, &controller, &writer](bool paused) {
      health->SetServingStatus(kLeaderHealthService, !paused);
      writer.OnPaused(paused);
      if (controller) controller->OnPaused(paused);
    };
    auto elector_or = LeaderElector::Create(config.election, *session, loop, std::move(callbacks),
                                            &election_metrics);
    if (!elector_or.ok()) {
      wired = elector_or.status();
      wired_done.Notify();
      return;
    }
    elector = std::move(*elector_or);
    elector_view = elector.get();
    elector_ready.Notify();
    elector->Start();
    wired_done.Notify();
  });
  wired_done.WaitForNotification();
  if (!wired.ok()) return Fail("invalid flags", wired);

  LogInfo("mastd_started", {{"replica_id", config.election.replica_id},
                            {"advertise_address", config.election.advertise_address},
                            {"grpc_port", grpc_port},
                            {"metrics_port", metrics_ports.empty() ? 0 : metrics_ports.front()},
                            {"zk", config.zk.hosts},
                            {"mesos", config.mesos},
                            {"zk_root", config.zk_root}});

  int sig = 0;
  sigwait(&stop_signals, &sig);
  LogInfo("mastd_stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});

  // Hand leadership over first: delete our znode so the next replica takes
  // over at once, then close the session.
  absl::Notification resigned;
  loop.Post([&] {
    elector->Resign([&](absl::Status status) {
      if (!status.ok()) LogWarning("resign_failed", {{"error", status.ToString()}});
      session->Close();
      resigned.Notify();
    });
  });
  if (!resigned.WaitForNotificationWithTimeout(config.shutdown_grace)) {
    LogWarning("resign_timeout", {{"msg", "leaving the session to expire"}});
  }
  health->SetServingStatus(false);
  // Reads are served from snapshots and finish at once; a write still in
  // flight is cut off by the deadline (the client retries at the new leader).
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  absl::Notification destroyed;
  loop.Post([&] {
    elector.reset();
    if (controller) controller->SetListener(nullptr);
    controller.reset();
    scheduler.reset();
    writer.SetStore(nullptr);
    state_cache.reset();
    service_store.reset();
    store.reset();
    store_zk.reset();
    session.reset();
    detector.reset();
    mesos_zk.reset();
    destroyed.Notify();
  });
  destroyed.WaitForNotificationWithTimeout(config.shutdown_grace);
  loop.Stop();
  LogInfo("mastd_stopped");
  // Leadership is handed over and the session closed: nothing is left to
  // flush. Skip the destructors of the gRPC server and the exposer, whose
  // thread joins take seconds.
  std::fflush(nullptr);
  _exit(0);
}

}  // namespace
}  // namespace mast

int main(int argc, char** argv) {
  // Debian's abseil keeps mutex deadlock detection on; it costs every lock
  // (measured on the read path) and the thread-safety annotations are
  // checked at compile time instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "mastd: a replica of the Mast scheduler of long-running services on Apache Mesos.\n"
      "Usage: mastd --zk=HOST:PORT[,...] [--zk_root=/mast] [--grpc_address=0.0.0.0:7070] ...");
  absl::FlagsUsageConfig usage;
  // --help lists mastd's own flags (they live in mastd/flags.cc).
  usage.contains_help_flags = [](absl::string_view path) {
    return path.find("mastd/") != absl::string_view::npos;
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  // Process-wide library setup belongs here, not in the libraries: curl's is
  // not thread-safe and must precede the first HttpTransport (and any thread).
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::fprintf(stderr, "mastd: curl_global_init failed\n");
    return 1;
  }
  // The ZooKeeper C client logs an INFO line per connect attempt, which says
  // nothing mastd's own zk events do not.
  zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
  return mast::Run();
}
