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

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "api/grpc_server_metrics.h"
#include "api/leader_forwarder.h"
#include "api/mast_service.h"
#include "api/service_writer.h"
#include "api/snapshot_waiter.h"
#include "api/watch_hub.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/log.h"
#include "common/process_metrics.h"
#include "common/status_macros.h"
#include "election/election_metrics.h"
#include "election/leader_elector.h"
#include "election/leadership.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "mast_build_info.h"
#include "mastd/flags.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "scheduler/control/framework_controller.h"
#include "scheduler/control/task_scheduler.h"
#include "scheduler/mesos/http_mesos_client.h"
#include "scheduler/mesos/http_transport.h"
#include "scheduler/mesos/zk_master_detector.h"
#include "store/service_store.h"
#include "store/state_cache.h"
#include "store/zk_store.h"
#include "tls/certificate_metrics.h"
#include "tls/tls_files.h"
#include "zk/throttled_zk_client.h"
#include "zk/timed_zk_client.h"
#include "zk/zk_acl_check.h"
#include "zk/zk_session.h"

namespace mast {
namespace {

constexpr char kLeaderHealthService[] = "mast.v1.Leader";
// ZooKeeper requests of the store, cache and scheduler outstanding at once.
constexpr size_t kStoreRequestsInFlight = 64;
// Znodes whose ACL the start-up check reads, at most (zk_acl_check.h).
constexpr int kMaxAclChecks = 500;

// The follower-to-leader channels: TLS with this replica's certificate as
// its client certificate (the leader sees a forwarder) when the API uses
// TLS; else plaintext.
LeaderForwarder::ChannelFactory ForwardChannels(const DaemonConfig& config) {
  if (!config.forward_tls.has_value()) return {};
  tls::ChannelFiles files = *config.forward_tls;
  std::shared_ptr<grpc::ChannelCredentials> credentials = tls::MakeChannelCredentials(files);
  return [files, credentials](const std::string& address) {
    return grpc::CreateCustomChannel(address, credentials, tls::ChannelArgumentsFor(files));
  };
}

// The TLS certificates a replica uses, for their expiry metric.
std::shared_ptr<tls::CertificateMetrics> CertificatesOf(const DaemonConfig& config) {
  std::vector<std::pair<std::string, std::string>> files;
  if (config.tls.has_value()) {
    files.emplace_back("server", config.tls->cert_file);
    if (!config.tls->client_ca_file.empty()) {
      files.emplace_back("client_ca", config.tls->client_ca_file);
    }
    if (config.forward_tls.has_value() && !config.forward_tls->ca_file.empty() &&
        config.forward_tls->ca_file != config.tls->client_ca_file) {
      files.emplace_back("peer_ca", config.forward_tls->ca_file);
    }
  }
  return std::make_shared<tls::CertificateMetrics>(std::move(files));
}

// True when `address` (host:port) listens only on loopback.
bool LoopbackOnly(absl::string_view address) {
  return absl::StartsWith(address, "127.") || absl::StartsWith(address, "[::1]:") ||
         absl::StartsWith(address, "localhost:");
}

int Fail(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "mastd: %s: %s\n", std::string(what).c_str(),
               std::string(status.message()).c_str());
  return 2;
}

// Runs `fn` on `loop` and waits for it (wiring steps whose objects belong
// to the loop thread).
template <typename Fn>
auto OnLoop(EventLoop& loop, Fn fn) {
  using Result = decltype(fn());
  std::optional<Result> result;
  absl::Notification done;
  loop.Post([&] {
    result.emplace(fn());
    done.Notify();
  });
  done.WaitForNotification();
  return std::move(*result);
}

// The daemon's object graph. Members are declared in the order they are
// built (so they are destroyed in the reverse order), and each is built by
// one named step of Start(), after everything it uses:
//   StartGrpc      the API (reads the read copy, posts writes to the writer)
//   OpenStore      ZooKeeper session, throttle, store, read copy, writer
//                  (on the loop, before any write the API posts)
//   StartMetrics   the Prometheus exposer
//   FindMesos      the master detector (a list, or Mesos' own ZooKeeper)
//   StartElection  scheduler, framework controller, Leadership, elector
// Objects marked "loop" are made, used and destroyed on the control loop.
class Daemon {
 public:
  // `stop_signals` are blocked; start-up waits end when one arrives.
  Daemon(DaemonConfig config, const sigset_t& stop_signals)
      : config_(std::move(config)),
        stop_signals_(stop_signals),
        election_metrics_(*registry_),
        state_metrics_(*registry_),
        scheduler_metrics_(*registry_),
        watch_metrics_(*registry_),
        mesos_metrics_(*registry_),
        forwarder_(ForwardChannels(config_)),
        certificate_metrics_(CertificatesOf(config_)),
        watch_hub_(WatchHub::Options(), &watch_metrics_) {}

  // 0 on success, else the exit code (after printing why).
  int Start() {
    if (absl::Status s = LoadAccess(); !s.ok()) return Fail("auth", s);
    // The store opens on the loop once the API's port is bound (a replica
    // that cannot listen says only that, and touches no ZooKeeper); writes
    // the API posts meanwhile queue behind it, so they find the writer.
    absl::Notification grpc_bound;
    bool grpc_ok = false;
    absl::Status opened = absl::OkStatus();
    absl::Notification store_done;
    loop_.Post([&] {
      grpc_bound.WaitForNotification();
      if (grpc_ok) opened = OpenStore();
      store_done.Notify();
    });
    absl::Status grpc = StartGrpc();
    grpc_ok = grpc.ok();
    grpc_bound.Notify();
    store_done.WaitForNotification();
    if (!grpc.ok()) return Fail("--grpc_address", grpc);
    if (!opened.ok()) return Fail("invalid flags", opened);
    if (absl::Status s = CheckStateAcls(); !s.ok()) return Fail("--zk_auth_file", s);
    if (absl::Status s = StartMetrics(); !s.ok()) return Fail("--metrics_address", s);
    if (absl::Status s = OnLoop(loop_, [&] { return FindMesos(); }); !s.ok()) {
      return Fail("--mesos", s);
    }
    if (absl::Status s = OnLoop(loop_, [&] { return StartElection(); }); !s.ok()) {
      return Fail("invalid flags", s);
    }
    LogInfo("mastd_started", {{"replica_id", config_.election.replica_id},
                              {"advertise_address", config_.election.advertise_address},
                              {"grpc_port", grpc_port_},
                              {"metrics_port", metrics_port_},
                              {"zk", config_.zk.hosts},
                              {"mesos", config_.mesos},
                              {"zk_root", config_.zk_root}});
    return 0;
  }

  // Hands leadership over (the election znode is deleted first, so the next
  // replica takes over at once), closes the session, stops serving, and
  // destroys the loop's objects on the loop.
  void Stop() {
    absl::Notification resigned;
    loop_.Post([&] {
      elector_->Resign([&](absl::Status status) {
        if (!status.ok()) LogWarning("resign_failed", {{"error", status.ToString()}});
        session_->Close();
        resigned.Notify();
      });
    });
    if (!resigned.WaitForNotificationWithTimeout(config_.shutdown_grace)) {
      LogWarning("resign_timeout", {{"msg", "leaving the session to expire"}});
    }
    SetHealth("", false);
    // Reads waiting for a store version are answered now, not at their deadline.
    snapshot_waiter_.Close();
    // Reads are served from snapshots and finish at once; a write still in
    // flight is cut off by the deadline (the client retries at the new leader).
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    if (probe_server_ != nullptr) probe_server_->Shutdown(std::chrono::system_clock::now());
    absl::Notification destroyed;
    loop_.Post([&] {
      DestroyLoopObjects();
      destroyed.Notify();
    });
    destroyed.WaitForNotificationWithTimeout(config_.shutdown_grace);
    loop_.Stop();
  }

 private:
  // Loop, right after the API's port is bound (see Start): writes the API
  // posts queue behind this, so they always find the writer.
  absl::Status OpenStore() {
    absl::StatusOr<std::unique_ptr<ZkSession>> session = ZkSession::Create(config_.zk, loop_);
    if (!session.ok()) return session.status();
    session_ = std::move(*session);
    // The store's traffic goes through a bounded window, so that a burst of
    // it never stands long before the elector's requests (which use the
    // session directly; see ThrottledZkClient).
    // Every request of the elector and the store is timed
    // (mast_zk_request_seconds).
    timed_zk_ = std::make_unique<TimedZkClient>(*session_, zk_metrics_, clock_);
    store_zk_ = std::make_unique<ThrottledZkClient>(*timed_zk_, kStoreRequestsInFlight);
    store_ = std::make_unique<ZkStore>(*store_zk_, config_.zk_root);
    service_store_ = std::make_unique<ServiceStore>(*store_zk_, *store_);
    state_cache_ =
        std::make_unique<StateCache>(*store_zk_, loop_, config_.zk_root, &state_metrics_);
    // Creating thousands of services must not list the directory each time.
    state_cache_->set_min_relist_interval(absl::Milliseconds(20));
    state_cache_->AddListener([this](const auto& s) {
      watch_hub_.OnSnapshot(s);
      snapshot_waiter_.OnSnapshot(s);
    });
    state_cache_->Start();
    // Write answers show the status from the leader's own read copy.
    ServiceWriter::Options writer_options;
    if (!config_.allowed_roles.empty()) {
      writer_options.allowed_roles = config_.allowed_roles;
      writer_options.allowed_roles.push_back(config_.framework.role);
    }
    writer_ = std::make_unique<ServiceWriter>(
        *service_store_, clock_, [this] { return state_cache_->snapshot(); }, writer_options);
    cache_ready_.Notify();
    return absl::OkStatus();
  }

  // The API first among what names this replica: the port it binds fills
  // the defaults of --replica_id and --advertise_address. Until the elector
  // exists (StartElection) the API reports that no leader is known.
  // Who may do what: the auth files, or everyone everything without a policy.
  absl::Status LoadAccess() {
    if (config_.auth.policy_file.empty()) {
      access_ = auth::AllowEverything();
      return absl::OkStatus();
    }
    config_.auth.registry = registry_.get();
    absl::StatusOr<std::unique_ptr<auth::AccessControl>> access =
        auth::MakeFileAccessControl(config_.auth);
    if (!access.ok()) return access.status();
    access_ = std::move(*access);
    return absl::OkStatus();
  }

  absl::Status StartGrpc() {
    service_ = std::make_unique<MastService>(
        [this]() -> std::shared_ptr<const ElectionSnapshot> {
          return elector_ready_.HasBeenNotified() ? elector_view_->snapshot() : no_election_;
        },
        [this]() -> std::shared_ptr<const StateSnapshot> {
          return cache_ready_.HasBeenNotified() ? state_cache_->snapshot() : no_state_;
        },
        clock_,
        [this](absl::AnyInvocable<void(ServiceWriter&) &&> task) {
          loop_.Post([this, task = std::move(task)]() mutable { std::move(task)(*writer_); });
        },
        forwarder_, snapshot_waiter_, watch_hub_, *access_, audit_);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
    if (config_.tls.has_value()) {
      credentials = tls::MakeServerCredentials(*config_.tls);
    } else if (!LoopbackOnly(config_.grpc_address)) {
      LogWarning("grpc_plaintext",
                 {{"grpc_address", config_.grpc_address},
                  {"why",
                   "--allow_plaintext: bearer tokens and service specs cross the network "
                   "unencrypted; give --tls_cert and --tls_key"}});
    }
    builder.AddListeningPort(config_.grpc_address, credentials, &grpc_port_);
    // Watch clients ping quiet streams every 20 s (mastctl watch) to notice a
    // vanished replica; accept that rather than answer with too_many_pings.
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
    builder.RegisterService(service_.get());
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(grpc_metrics_.NewInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || grpc_port_ == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", config_.grpc_address));
    }
    MAST_RETURN_IF_ERROR(ResolveAddresses(config_, grpc_port_));
    SetLogPrefixField("replica", config_.election.replica_id);
    health_ = server_->GetHealthCheckService();
    if (!config_.health_address.empty()) {
      // Probes only: the health service alone, in plaintext (it tells
      // nothing but SERVING or not).
      grpc::ServerBuilder probe_builder;
      int probe_port = 0;
      probe_builder.AddListeningPort(config_.health_address, grpc::InsecureServerCredentials(),
                                     &probe_port);
      probe_server_ = probe_builder.BuildAndStart();
      if (probe_server_ == nullptr || probe_port == 0) {
        return absl::UnavailableError(absl::StrCat("cannot listen on ", config_.health_address));
      }
      probe_health_ = probe_server_->GetHealthCheckService();
    }
    SetHealth("", true);
    SetHealth(kLeaderHealthService, false);
    return absl::OkStatus();
  }

  // Main thread, before the election: with digest auth, the state tree may
  // hold no znode open to anyone unless --zk_allow_open_acl (zk_acl_check.h).
  // Retried while ZooKeeper is away; a stop signal ends the wait.
  absl::Status CheckStateAcls() {
    if (config_.zk.digest_auth.empty()) return absl::OkStatus();  // open by --zk_allow_open_acl
    absl::StatusOr<ZkAclCheckResult> result;
    for (int attempt = 0;; ++attempt) {
      absl::Notification done;
      loop_.Post([&] {
        ZkAclReader read_acl = [this](const std::string& path, auto cb) {
          session_->GetAcl(path, std::move(cb));
        };
        CheckZkAcls(*session_, std::move(read_acl), config_.zk_root, kMaxAclChecks, [&](auto r) {
          result = std::move(r);
          done.Notify();
        });
      });
      done.WaitForNotification();
      if (result.ok() || !absl::IsUnavailable(result.status())) break;
      if (attempt % 20 == 0) {
        LogWarning("zk_acl_check_waiting", {{"error", result.status().ToString()}});
      }
      timespec pause{0, 500 * 1000 * 1000};
      if (sigtimedwait(&stop_signals_, nullptr, &pause) > 0) {
        return absl::CancelledError("stopped before the state's ACLs could be checked");
      }
    }
    if (!result.ok()) return result.status();
    prometheus::BuildGauge()
        .Name("mast_zk_open_acl_znodes")
        .Help("Znodes under --zk_root open to anyone (world:anyone) found at start.")
        .Register(*registry_)
        .Add({})
        .Set(static_cast<double>(result->open_paths.size()));
    if (result->open_paths.empty()) return absl::OkStatus();
    std::string what = absl::StrCat(
        result->open_paths.size(), " of ", result->checked, " znodes checked under ",
        config_.zk_root, " are open to anyone (world:anyone), e.g. ", result->open_paths.front());
    if (!config_.zk_allow_open_acl) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, "; set their ACLs to the digest user (setAcl), or start with --zk_allow_open_acl"));
    }
    LogWarning("zk_open_acl_accepted", {{"msg", what}});
    return absl::OkStatus();
  }

  absl::Status StartMetrics() {
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(config_.metrics_address);
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", config_.metrics_address, ": ", e.what()));
    }
    exposer_->RegisterCollectable(registry_);
    // The exposer keeps weak references: the daemon owns what it collects.
    exposer_->RegisterCollectable(process_metrics_);
    exposer_->RegisterCollectable(certificate_metrics_);
    std::vector<int> ports = exposer_->GetListeningPorts();
    metrics_port_ = ports.empty() ? 0 : ports.front();
    return absl::OkStatus();
  }

  // Loop. The leading master: from a list, or from Mesos' own ZooKeeper (a
  // session of its own: that ensemble may not be Mast's). None with
  // --mesos=none.
  absl::Status FindMesos() {
    if (config_.mesos_zk) {
      ZkSessionConfig mesos_zk_config = config_.zk;
      mesos_zk_config.hosts = config_.mesos_zk->hosts;
      mesos_zk_config.digest_auth = config_.mesos_zk->digest_auth;
      absl::StatusOr<std::unique_ptr<ZkSession>> session =
          ZkSession::Create(mesos_zk_config, loop_);
      if (!session.ok()) return session.status();
      mesos_zk_ = std::move(*session);
      detector_ = std::make_unique<mesos::ZkMasterDetector>(*mesos_zk_, config_.mesos_zk->path);
    } else if (config_.mesos != "none") {
      detector_ = std::make_unique<mesos::StaticMasterDetector>(config_.mesos_masters);
    }
    return absl::OkStatus();
  }

  // Loop. What acts only while leading, then the elector that starts it.
  absl::Status StartElection() {
    auto abdicate = [this](absl::string_view reason) {
      // Stop acting; rejoin at the back after a session timeout, so a
      // scheduler that took the framework over is not fought over.
      elector_->Abdicate(reason, config_.zk.session_timeout);
    };
    // The scheduling loop runs on every leader, with or without Mesos (a
    // deleting service without tasks is removed either way).
    scheduler_ = std::make_unique<TaskScheduler>(config_.scheduler, *service_store_, *state_cache_,
                                                 loop_, clock_, &scheduler_metrics_, abdicate);
    // Deployment transitions go through the API's writer, serialized with its writes.
    scheduler_->SetDeploymentRecorder(writer_.get());
    if (detector_ != nullptr) {
      controller_ = std::make_unique<FrameworkController>(
          config_.framework,
          [this](mesos::MesosClientCallbacks callbacks) -> mesos::MesosClientPtr {
            return std::make_unique<mesos::HttpMesosClient>(config_.mesos_client, *detector_,
                                                            transport_, loop_, std::move(callbacks),
                                                            &mesos_metrics_);
          },
          *store_, loop_, &mesos_metrics_, abdicate);
      controller_->SetListener(scheduler_.get());
      // GPU_RESOURCES is declared while some service asks for GPUs.
      auto wants_gpus = [](const StateSnapshot& snapshot) {
        return std::any_of(snapshot.services.begin(), snapshot.services.end(), [](const auto& s) {
          return s.second->record.service().spec().resources().gpus() > 0;
        });
      };
      // MULTI_ROLE: subscribed with every role a service runs under, each
      // with its smallest task as the offers' minimum.
      auto roles = [](const StateSnapshot& snapshot) {
        std::map<std::string, RoleMinimum> used;
        for (const auto& [name, stored] : snapshot.services) {
          const v1::ServiceSpec& spec = stored->record.service().spec();
          const RoleMinimum task{spec.resources().cpus(), spec.resources().mem_mib()};
          auto [minimum, inserted] = used.try_emplace(spec.role(), task);
          if (!inserted) {
            minimum->second.cpus = std::min(minimum->second.cpus, task.cpus);
            minimum->second.mem_mib = std::min(minimum->second.mem_mib, task.mem_mib);
          }
        }
        return used;
      };
      controller_->SetGpuResources(wants_gpus(*state_cache_->snapshot()));
      controller_->SetRoles(roles(*state_cache_->snapshot()));
      state_cache_->AddListener([this, wants_gpus, roles](const auto& snapshot) {
        controller_->SetGpuResources(wants_gpus(*snapshot));
        controller_->SetRoles(roles(*snapshot));
      });
    }
    AddLeadershipParts();
    LeaderCallbacks callbacks;
    callbacks.on_started_leading = [this](const LeaderTerm& term) {
      leadership_.OnStartedLeading(term);
    };
    callbacks.on_stopped_leading = [this](const LeaderTerm&, absl::string_view) {
      leadership_.OnStoppedLeading();
    };
    callbacks.on_paused_changed = [this](bool paused) { leadership_.OnPausedChanged(paused); };
    callbacks.on_new_leader = [this](const std::optional<LeaderInfo>& leader) {
      forwarder_.OnNewLeader(leader);
      watch_hub_.OnLeader(LeaderResponseFrom(leader, config_.election.replica_id));
      if (leader && controller_) controller_->Prefetch();
    };
    absl::StatusOr<std::unique_ptr<LeaderElector>> elector = LeaderElector::Create(
        config_.election, *timed_zk_, loop_, std::move(callbacks), &election_metrics_);
    if (!elector.ok()) return elector.status();
    elector_ = std::move(*elector);
    elector_view_ = elector_.get();
    elector_ready_.Notify();
    elector_->Start();
    return absl::OkStatus();
  }

  // `service` ("": the server as a whole) on the API's health service and
  // the probes' one. Any thread (gRPC's health services are thread-safe).
  void SetHealth(const std::string& service, bool serving) {
    for (grpc::HealthCheckServiceInterface* health : {health_, probe_health_}) {
      if (health == nullptr) continue;
      if (service.empty()) {
        health->SetServingStatus(serving);
      } else {
        health->SetServingStatus(service, serving);
      }
    }
  }

  // Loop. In the order they start (Leadership stops them in the reverse
  // order): the leader's health and the API's writes first, then the task
  // book (TaskScheduler), then the Mesos subscription, which feeds the book
  // and so ends before it.
  void AddLeadershipParts() {
    leadership_.Add({"leader_health",
                     [this](const LeaderTerm&) { SetHealth(kLeaderHealthService, true); },
                     [this] { SetHealth(kLeaderHealthService, false); },
                     [this](bool paused) { SetHealth(kLeaderHealthService, !paused); }});
    leadership_.Add({"service_writer",
                     [this](const LeaderTerm& term) { writer_->OnStartedLeading(term); },
                     [this] { writer_->OnStoppedLeading(); },
                     [this](bool paused) { writer_->OnPaused(paused); }});
    leadership_.Add({"task_scheduler",
                     [this](const LeaderTerm& term) { scheduler_->OnStartedLeading(term); },
                     [this] { scheduler_->OnStoppedLeading(); }, nullptr});
    if (controller_ == nullptr) return;
    leadership_.Add({"framework_controller",
                     [this](const LeaderTerm& term) { controller_->OnStartedLeading(term); },
                     [this] { controller_->OnStoppedLeading(); },
                     [this](bool paused) { controller_->OnPaused(paused); }});
  }

  // Loop. The elector first (no more leadership callbacks), then each object
  // before what it uses.
  void DestroyLoopObjects() {
    elector_.reset();
    if (controller_) controller_->SetListener(nullptr);
    controller_.reset();
    scheduler_.reset();
    detector_.reset();
    mesos_zk_.reset();
    writer_.reset();
    state_cache_.reset();
    service_store_.reset();
    store_.reset();
    store_zk_.reset();
    timed_zk_.reset();
    session_.reset();
  }

  DaemonConfig config_;
  const sigset_t stop_signals_;
  Clock& clock_ = RealClock::Default();
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  ElectionMetrics election_metrics_;
  StateCacheMetrics state_metrics_;
  SchedulerMetrics scheduler_metrics_;
  WatchMetrics watch_metrics_;
  mesos::MesosMetrics mesos_metrics_;
  mesos::HttpTransport transport_;
  LeaderForwarder forwarder_;
  std::shared_ptr<tls::CertificateMetrics> certificate_metrics_;
  std::unique_ptr<auth::AccessControl> access_;
  // Audit records also go to WatchEvents (streams that asked, for admins),
  // through the loop like every other event of the hub.
  AuditLog audit_{registry_.get(), [this](v1::AuditEvent event) {
                    loop_.Post([this, event = std::move(event)]() mutable {
                      event.set_replica_id(config_.election.replica_id);
                      watch_hub_.OnAudit(std::move(event));
                    });
                  }};
  GrpcServerMetrics grpc_metrics_{*registry_, clock_};
  ZkRequestMetrics zk_metrics_{*registry_};
  // WatchEvents: fed on the loop (cache listener, on_new_leader).
  WatchHub watch_hub_;
  const std::shared_ptr<const ElectionSnapshot> no_election_ = std::make_shared<ElectionSnapshot>();
  EventLoop loop_{clock_, "control"};
  // Reads waiting for a store version: fed on the loop (cache listener).
  SnapshotWaiter snapshot_waiter_{loop_};
  // OpenStore (loop).
  std::unique_ptr<ZkSession> session_;
  std::unique_ptr<TimedZkClient> timed_zk_;
  std::unique_ptr<ThrottledZkClient> store_zk_;
  std::unique_ptr<ZkStore> store_;
  std::unique_ptr<ServiceStore> service_store_;
  std::unique_ptr<StateCache> state_cache_;
  std::unique_ptr<ServiceWriter> writer_;
  // The API reads an empty state until the read copy exists.
  absl::Notification cache_ready_;
  const std::shared_ptr<const StateSnapshot> no_state_ = std::make_shared<StateSnapshot>();
  // StartGrpc.
  std::unique_ptr<MastService> service_;
  std::unique_ptr<grpc::Server> server_;
  int grpc_port_ = 0;
  grpc::HealthCheckServiceInterface* health_ = nullptr;
  // --health_address: the same statuses, for probes without TLS.
  std::unique_ptr<grpc::Server> probe_server_;
  grpc::HealthCheckServiceInterface* probe_health_ = nullptr;
  // StartMetrics.
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<ProcessMetrics> process_metrics_ = std::make_shared<ProcessMetrics>();
  int metrics_port_ = 0;
  // FindMesos (loop).
  std::unique_ptr<ZkSession> mesos_zk_;
  std::unique_ptr<mesos::MasterDetector> detector_;
  // StartElection (loop). The API reads the elector's snapshot from gRPC
  // threads once elector_ready_ is notified.
  std::unique_ptr<TaskScheduler> scheduler_;
  std::unique_ptr<FrameworkController> controller_;
  Leadership leadership_;
  std::unique_ptr<LeaderElector> elector_;
  LeaderElector* elector_view_ = nullptr;
  absl::Notification elector_ready_;
};

// Signals are taken by sigwait(); every thread started after this inherits
// the blocked mask.
sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

int Run() {
  absl::StatusOr<DaemonConfig> config = ConfigFromFlags();
  if (!config.ok()) return Fail("invalid flags", config.status());
  SetLogFormat(config->log_format);
  sigset_t stop_signals = BlockStopSignals();
  // Never destroyed: see the _exit below.
  auto* daemon = new Daemon(std::move(*config), stop_signals);
  if (int failed = daemon->Start(); failed != 0) return failed;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  LogInfo("mastd_stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  daemon->Stop();
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
  // --version (absl's own flag) prints this and exits 0.
  usage.version_string = [] { return mast::VersionLine("mastd"); };
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
