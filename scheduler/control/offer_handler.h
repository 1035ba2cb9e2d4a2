#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/weak_callback.h"
#include "mesos/v1/scheduler/scheduler.pb.h"
#include "scheduler/control/mesos_calls.h"
#include "scheduler/control/offer_matcher.h"
#include "scheduler/control/reconciler.h"
#include "scheduler/control/scheduler_metrics.h"
#include "scheduler/control/task_book.h"

namespace mast {

// Agents' attributes, learnt from offers (by agent ID), for the constraints
// of later placements.
using AgentAttributes = absl::flat_hash_map<std::string, std::vector<::mesos::v1::Attribute>>;

// Offers of one subscription: matches them against the book's launch queue
// (MatchOffers), records each launch's intent (a PENDING task with its agent
// and ports) in the book, and ACCEPTs once every intent is durable
// (AcceptWhenDurable: all or nothing; if a write fails, the offers are
// declined and the intents dropped). Unused offers are declined (a long
// filter when nothing waits). The role is SUPPRESSed when nothing waits and
// REVIVEd at once when something does, up to revive_burst REVIVEs per
// revive_interval (beyond that the next one waits for the oldest to age out).
//
// An ACCEPT whose answer is not OK may or may not have launched: its tasks
// are handed to the reconciler to ask the master.
//
// Lifetime: one subscription (offers die with it, so do launches still
// waiting for their writes). Threads: the control loop only. Everything
// passed by reference outlives it.
class OfferHandler {
 public:
  struct Config {
    std::string default_role;
    absl::Duration idle_decline_refuse;
    absl::Duration busy_decline_refuse;
    absl::Duration revive_interval;
    int revive_burst = 1;
    // Offers of agents going down within this are used last (see
    // MatchOptions::maintenance_horizon).
    absl::Duration maintenance_horizon = absl::Hours(1);
  };

  // `replan(service)` plans a service now (its tasks changed).
  OfferHandler(Config config, TaskBook& book, MesosCalls& calls, Reconciler& reconciler,
               const AgentAttributes& agent_attributes, EventLoop& loop, Clock& clock,
               SchedulerMetrics* metrics, std::function<void(const std::string&)> replan);
  ~OfferHandler();
  OfferHandler(const OfferHandler&) = delete;
  OfferHandler& operator=(const OfferHandler&) = delete;

  void OnOffers(const ::mesos::v1::scheduler::Event::Offers& event);
  // SUPPRESS or REVIVE as the launch queue is empty or not.
  void UpdateOfferInterest();

 private:
  // The launch queue at `now`, and the service name of each entry.
  struct Queue {
    std::vector<QueuedService> services;
    std::vector<std::string> names;
  };
  Queue BuildQueue(absl::Time now) const;
  std::vector<Placement> ExistingPlacements(const BookedService& service) const;
  void LogUnmet(const std::vector<std::string>& reasons, absl::Time now);
  // Records the intent of every planned task; returns the services touched
  // and the task IDs.
  std::pair<std::vector<std::string>, std::vector<std::string>> RecordIntents(
      const OfferPlan& plan, const Queue& queue,
      const ::mesos::v1::scheduler::Event::Offers& offers);
  // ACCEPT once every intent is durable: all or nothing.
  void AcceptWhenDurable(std::vector<OfferLaunch> launches, std::vector<std::string> services,
                         std::vector<std::string> task_ids);
  void Accept(std::vector<OfferLaunch> launches);
  // Offers held by AcceptWhenDurable (mast_offers_held): `change` more.
  void HoldOffers(int change);
  // A write of the intents failed: the offers go back, the intents go.
  void GiveUp(const std::vector<OfferLaunch>& launches, const std::vector<std::string>& task_ids);
  void Revive();

  const Config config_;
  TaskBook& book_;
  MesosCalls& calls_;
  Reconciler& reconciler_;
  const AgentAttributes& agent_attributes_;
  EventLoop& loop_;
  Clock& clock_;
  SchedulerMetrics* metrics_;
  std::function<void(const std::string&)> replan_;
  absl::BitGen bitgen_;

  bool offers_wanted_ = true;       // not suppressed, no long filters since (a new subscription)
  std::deque<absl::Time> revives_;  // the last revive_burst REVIVEs, oldest first
  EventLoop::TimerId revive_timer_ = 0;
  int offers_held_ = 0;  // they die with the subscription: the destructor releases them
  // Service -> the last "tasks not placed" reason logged, and when.
  absl::flat_hash_map<std::string, std::pair<std::string, absl::Time>> unmet_logged_;
  WeakCallbacks callbacks_;
};

}  // namespace mast
