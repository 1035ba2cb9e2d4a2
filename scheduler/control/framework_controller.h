#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "common/event_loop.h"
#include "common/weak_callback.h"
#include "election/leader_term.h"
#include "scheduler/control/framework_listener.h"
#include "scheduler/mesos/mesos_client.h"
#include "scheduler/mesos/mesos_metrics.h"
#include "store/store.h"

namespace mast {

// How Mast registers with Mesos. Built from mastd's --framework_* flags.
struct FrameworkConfig {
  std::string name = "mast";
  std::string user;  // required: HTTP schedulers must set it
  std::string role = "*";
  std::string principal;  // empty: none
  std::string hostname;
  std::string webui_url;
  absl::Duration failover_timeout = absl::Hours(24 * 7);
  // Offers are declined with this filter while there is nothing to launch.
  absl::Duration decline_refuse = absl::Seconds(120);
  // Minimum offer shape for the role (offer_filters), e.g. {{"cpus", 0.01}}.
  std::vector<std::pair<std::string, double>> min_offer_resources;
  BackoffConfig retry_backoff = {absl::Milliseconds(100), absl::Seconds(10), 2.0, 0.5};
};

absl::Status ValidateFrameworkConfig(const FrameworkConfig& config);

// The FrameworkInfo Mast subscribes with: checkpointing on; capabilities
// PARTITION_AWARE, TASK_KILLING_STATE and MULTI_ROLE (role in `roles`), and
// GPU_RESOURCES with `gpu_resources` (a master offers GPU agents only to
// frameworks that declare it); `id` set when a FrameworkID was stored.
// What the smallest task of a role asks for: the role's offers are only
// worth making when they hold at least this much (0: no filter).
struct RoleMinimum {
  double cpus = 0;
  double mem_mib = 0;
  bool operator==(const RoleMinimum&) const = default;
};

// `roles`: the roles services use, with their smallest task (MULTI_ROLE:
// every one is in `roles`, config.role first, then sorted). Offer filters
// (min_allocatable_resources) per role: config.min_offer_resources for
// every role when set, else the role's smallest task (the allocator then
// never offers a role less than any of its tasks needs).
::mesos::v1::FrameworkInfo BuildFrameworkInfo(const FrameworkConfig& config,
                                              const std::optional<std::string>& framework_id,
                                              bool gpu_resources = false,
                                              const std::map<std::string, RoleMinimum>& roles = {});

// The leader's side of Mesos, driven by the elector's callbacks:
// - OnStartedLeading: reads the stored FrameworkID and subscribes (a fresh
//   registration only when none was ever stored); the ID of SUBSCRIBED is
//   stored with a write fenced on the term before anything else is done.
// - OnPaused: calls stop at once (the subscription is kept for a blip).
// - OnStoppedLeading: the subscription is closed.
// - An ERROR event or a fenced write refused as deposed makes this replica
//   stop acting: `step_down(reason)` is called (the daemon makes the elector
//   abdicate and rejoin as a follower).
// Scheduling is the listener's (SetListener; the daemon's TaskScheduler):
// once the FrameworkID of a subscription is stored, offers, updates and
// rescinds go to it, and it acknowledges updates itself. Before that, offers
// are declined with a short filter and updates are left unacknowledged (the
// master redelivers them). Without a listener (tests of this class alone)
// offers are declined with a long refuse_seconds and the role suppressed;
// updates carrying a uuid are acknowledged and live tasks are killed.
//
// Lifetime: what a leadership term does (its store reads and writes of the
// FrameworkID, their retries) belongs to a Term built by OnStartedLeading and
// destroyed by OnStoppedLeading, so the completions of an ended term are
// dropped. The client and the warm FrameworkID outlive terms.
//
// Threads: everything on the control loop. Followers never create a client
// subscription: the client exists, but Subscribe is called only here.
class FrameworkController final : public MesosCaller {
 public:
  using ClientFactory = std::function<mesos::MesosClientPtr(mesos::MesosClientCallbacks callbacks)>;

  FrameworkController(FrameworkConfig config, ClientFactory client_factory, Store& store,
                      EventLoop& loop, mesos::MesosMetrics* metrics,
                      std::function<void(absl::string_view reason)> step_down);
  ~FrameworkController();

  // Followers keep the stored FrameworkID warm (read when a leader is
  // observed), so a new leader subscribes without a store round trip. The
  // ID never changes once stored, so a cached value cannot be stale; with
  // none cached the leader reads the store first.
  void Prefetch();
  // Not owned; must outlive this controller (or be reset to null first).
  void SetListener(FrameworkListener* listener) { listener_ = listener; }
  // MesosCaller: calls on the current subscription.
  void Call(::mesos::v1::scheduler::Call call,
            absl::AnyInvocable<void(absl::Status) &&> done = nullptr) override;
  void OnStartedLeading(const LeaderTerm& term);
  void OnStoppedLeading();
  void OnPaused(bool paused);
  // Some service asks for GPUs (or none does any more): the FrameworkInfo
  // declares GPU_RESOURCES from the next subscription on, and a subscribed
  // leader tells the master at once with UPDATE_FRAMEWORK (which also
  // unsuppresses the role; offers then come until the scheduler suppresses
  // again).
  void SetGpuResources(bool wanted);
  // The roles the services use and their smallest task ("" is the
  // framework's own role): subscribed with from the next subscription on;
  // a subscribed leader tells the master at once with UPDATE_FRAMEWORK (as
  // SetGpuResources) when they change.
  void SetRoles(std::map<std::string, RoleMinimum> roles);

  bool subscribed() const { return client_ != nullptr && client_->subscribed(); }
  const std::optional<std::string>& framework_id() const { return framework_id_; }

 private:
  // The state of one leadership term; its store completions and retry
  // timer die with it.
  struct Term {
    Term(LeaderTerm term, BackoffConfig retry) : term(std::move(term)), backoff(retry) {}
    LeaderTerm term;
    Backoff backoff;  // of store reads and writes
    EventLoop::TimerId retry_timer = 0;
    WeakCallbacks callbacks;
  };

  void EndTerm();
  void ReadFrameworkIdThenSubscribe();
  void OnSubscribed(const ::mesos::v1::scheduler::Event::Subscribed& subscribed);
  void StoreFrameworkId(std::string id);
  void OnEvent(const ::mesos::v1::scheduler::Event& event);
  void OnError(absl::string_view message);
  void DeclineOffers(const ::mesos::v1::scheduler::Event::Offers& offers, absl::Duration refuse,
                     bool suppress);
  void HandleUpdate(const ::mesos::v1::TaskStatus& status);
  void Send(::mesos::v1::scheduler::Call call);
  void RetryLater(std::function<void()> fn);
  // The FrameworkID of this subscription is stored: hand over to the listener.
  void MarkReady();
  void MarkNotReady();

  const FrameworkConfig config_;
  Store& store_;
  EventLoop& loop_;
  mesos::MesosMetrics* metrics_;
  std::function<void(absl::string_view)> step_down_;
  std::unique_ptr<mesos::MesosClient> client_;
  FrameworkListener* listener_ = nullptr;
  bool ready_ = false;  // the listener was told OnSubscribed

  // Loop thread only.
  std::unique_ptr<Term> term_;               // while leading
  std::optional<std::string> framework_id_;  // the last one known
  std::optional<std::string> cached_framework_id_;
  bool gpu_resources_ = false;
  std::map<std::string, RoleMinimum> roles_;  // SetRoles ("" as config_.role)
  // UPDATE_FRAMEWORK with the current FrameworkInfo, if subscribed.
  void UpdateFramework();
  absl::BitGen bitgen_;
  WeakCallbacks callbacks_;  // the client's and the store's completions
};

}  // namespace mast
