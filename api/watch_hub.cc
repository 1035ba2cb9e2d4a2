#include "api/watch_hub.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/secret_redaction.h"
#include "api/service_reads.h"
#include "common/log.h"
#include "common/proto_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "store/service_store.h"

namespace mast {
namespace {

using google::protobuf::util::MessageDifferencer;
using TaskRecordsPtr = std::shared_ptr<const mast::v1::records::TaskRecords>;

WatchEventPtr ServiceEvent(v1::WatchEvent::Type type, int64_t version, v1::Service service) {
  auto event = std::make_shared<v1::WatchEvent>();
  event->set_type(type);
  event->set_store_version(version);
  *event->mutable_service() = std::move(service);
  RedactSecrets(*event);
  return event;
}

// `deployment` of service `service` (the records' key is authoritative).
WatchEventPtr DeploymentEvent(v1::WatchEvent::Type type, int64_t version,
                              const v1::Deployment& deployment, const std::string& service) {
  auto event = std::make_shared<v1::WatchEvent>();
  event->set_type(type);
  event->set_store_version(version);
  *event->mutable_deployment() = deployment;
  event->mutable_deployment()->set_service(service);
  RedactSecrets(*event);
  return event;
}

// The event for a service's deployment going from `before` to `after`
// (either may be unset): ADDED for a new id, MODIFIED when its state or step
// moved; null when neither (progress alone shows in the service's event).
WatchEventPtr DeploymentChange(const v1::Service& before, const v1::Service& after, int64_t version,
                               const std::string& service) {
  if (!after.has_deployment()) return nullptr;
  const v1::Deployment& a = after.deployment();
  if (!before.has_deployment() || before.deployment().id() != a.id()) {
    return DeploymentEvent(v1::WatchEvent::ADDED, version, a, service);
  }
  const v1::Deployment& b = before.deployment();
  if (b.state() == a.state() && b.step() == a.step() && b.step_done() == a.step_done()) {
    return nullptr;
  }
  return DeploymentEvent(v1::WatchEvent::MODIFIED, version, a, service);
}

// What the service's events show that its tasks may change: the status
// and the deployment's progress.
bool SameComputedView(const v1::Service& a, const v1::Service& b) {
  return MessageDifferencer::Equals(a.status(), b.status()) &&
         MessageDifferencer::Equals(a.deployment().progress(), b.deployment().progress());
}

WatchEventPtr TaskEvent(v1::WatchEvent::Type type, int64_t version, const v1::Task& task,
                        const std::string& service) {
  auto event = std::make_shared<v1::WatchEvent>();
  event->set_type(type);
  event->set_store_version(version);
  *event->mutable_task() = task;
  event->mutable_task()->set_service(service);  // the records' key is authoritative
  return event;
}

WatchEventPtr MarkerEvent(v1::WatchEvent::Type type, int64_t version) {
  auto event = std::make_shared<v1::WatchEvent>();
  event->set_type(type);
  event->set_store_version(version);
  return event;
}

// `leader` (may be null) as part of a base at `version`: a leader reported
// before that base carries the base's version.
WatchEventPtr LeaderAt(const WatchEventPtr& leader, int64_t version) {
  if (leader == nullptr || leader->store_version() >= version) return leader;
  auto restamped = std::make_shared<v1::WatchEvent>(*leader);
  restamped->set_store_version(version);
  return restamped;
}

template <typename Map>
typename Map::mapped_type Find(const Map& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? nullptr : it->second;
}

// The smallest key after `after` (or the first, when null) over `maps`.
template <typename... Maps>
const std::string* NextName(const std::string* after, const Maps&... maps) {
  const std::string* next = nullptr;
  auto consider = [&](const auto& map) {
    auto it = after == nullptr ? map.begin() : map.upper_bound(*after);
    if (it != map.end() && (next == nullptr || it->first < *next)) next = &it->first;
  };
  (consider(maps), ...);
  return next;
}

bool Listed(const StateSnapshot& snapshot, const std::string& znode_suffix) {
  return std::any_of(snapshot.corrupt.begin(), snapshot.corrupt.end(),
                     [&](const CorruptRecord& c) { return absl::EndsWith(c.znode, znode_suffix); });
}

// The events of a service that is new or may have changed (none when
// `new_service` is null): a deployment's event comes before its service's
// (after it when the service is new, as in the initial state).
void AppendServiceEvents(const std::string& name, int64_t version,
                         const std::shared_ptr<const StoredService>& old_service,
                         const std::shared_ptr<const StoredService>& new_service,
                         const TaskRecordsPtr& old_tasks, const TaskRecordsPtr& new_tasks,
                         std::vector<WatchEventPtr>& events) {
  if (new_service == nullptr) return;
  v1::Service view = ServiceView(*new_service, new_tasks.get());
  if (old_service == nullptr) {
    WatchEventPtr deployment = DeploymentChange(v1::Service(), view, version, name);
    events.push_back(ServiceEvent(v1::WatchEvent::ADDED, version, std::move(view)));
    if (deployment != nullptr) events.push_back(std::move(deployment));
    return;
  }
  const bool record_changed = old_service != new_service &&
                              !MessageDifferencer::Equals(old_service->record, new_service->record);
  if (record_changed) {
    if (WatchEventPtr deployment =
            DeploymentChange(old_service->record.service(), view, version, name)) {
      events.push_back(std::move(deployment));
    }
  }
  if (record_changed || (old_tasks != new_tasks &&
                         !SameComputedView(ServiceView(*old_service, old_tasks.get()), view))) {
    events.push_back(ServiceEvent(v1::WatchEvent::MODIFIED, version, std::move(view)));
  }
}

}  // namespace

// --- WatchSubscription ---

WatchSubscription::WatchSubscription(std::string prefix, std::function<void()> wake,
                                     size_t max_queue, int64_t resumed_through,
                                     ServiceFilter may_read, ServiceFilter may_audit)
    : prefix_(std::move(prefix)),
      may_read_(std::move(may_read)),
      may_audit_(std::move(may_audit)),
      wake_(std::move(wake)),
      max_queue_(std::max<size_t>(max_queue, 1)),
      complete_through_(resumed_through) {}

bool WatchSubscription::Visible(absl::string_view service) const {
  return absl::StartsWith(service, prefix_) && (may_read_ == nullptr || may_read_(service));
}

bool WatchSubscription::Wants(const v1::WatchEvent& event) const {
  if (event.has_service()) return Visible(event.service().spec().name());
  if (event.has_task()) return Visible(event.task().service());
  if (event.has_deployment()) return Visible(event.deployment().service());
  if (event.has_audit()) {
    return may_audit_ != nullptr && absl::StartsWith(event.audit().service(), prefix_) &&
           may_audit_(event.audit().service());
  }
  return true;  // LEADER, SYNCED
}

void WatchSubscription::AwaitBase() {
  absl::MutexLock lock(&mu_);
  awaiting_base_ = true;
}

bool WatchSubscription::SetBase(std::shared_ptr<const StateSnapshot> snapshot,
                                WatchEventPtr leader) {
  absl::MutexLock lock(&mu_);
  awaiting_base_ = false;
  if (end_.has_value()) return false;
  synced_ = MarkerEvent(v1::WatchEvent::SYNCED, snapshot->store_version);
  base_ = std::move(snapshot);
  base_leader_ = std::move(leader);
  const bool wake = armed_;
  armed_ = false;
  return wake;
}

void WatchSubscription::Replay(std::vector<WatchEventPtr> events) {
  absl::MutexLock lock(&mu_);
  for (WatchEventPtr& event : events) replay_.push_back(std::move(event));
}

bool WatchSubscription::Offer(const std::vector<WatchEventPtr>& events) {
  absl::MutexLock lock(&mu_);
  if (end_.has_value() || awaiting_base_) return false;
  size_t wanted = 0;
  for (const WatchEventPtr& event : events) wanted += Wants(*event) ? 1 : 0;
  if (wanted == 0) return false;
  // A consumer that has caught up (nothing queued) takes the next batch
  // whole, however large: only one that is behind is ended.
  if (!queue_.empty() && queue_.size() + wanted > max_queue_) {
    LogWarning(
        "watch_consumer_dropped",
        {{"resume_from", complete_through_}, {"queued", queue_.size()}, {"prefix", prefix_}});
    if (dropped_ != nullptr) dropped_->Increment();
    end_ = absl::ResourceExhaustedError(
        absl::StrCat("watch consumer too slow; resume from version ", complete_through_));
    queue_.clear();
    replay_.clear();
    base_.reset();
    base_deployment_.reset();
    synced_.reset();
  } else {
    for (const WatchEventPtr& event : events) {
      if (Wants(*event)) queue_.push_back(event);
    }
  }
  const bool wake = armed_;
  armed_ = false;
  return wake;
}

bool WatchSubscription::SkipUnreadableBaseNames() {
  if (may_read_ == nullptr) return true;
  const StateSnapshot& base = *base_;
  while (!may_read_(base_name_)) {
    const std::string* next = NextName(&base_name_, base.services, base.tasks);
    if (next == nullptr || !absl::StartsWith(*next, prefix_)) return false;
    base_name_ = *next;
  }
  return true;
}

WatchEventPtr WatchSubscription::NextBaseEvent() {
  const StateSnapshot& base = *base_;
  while (true) {
    if (base_deployment_ != nullptr) return std::move(base_deployment_);
    if (!base_started_) {
      base_started_ = true;
      auto first_service = base.services.lower_bound(prefix_);
      auto first_tasks = base.tasks.lower_bound(prefix_);
      const std::string* first = nullptr;
      if (first_service != base.services.end()) first = &first_service->first;
      if (first_tasks != base.tasks.end() && (first == nullptr || first_tasks->first < *first)) {
        first = &first_tasks->first;
      }
      if (first == nullptr || !absl::StartsWith(*first, prefix_)) break;
      base_name_ = *first;
      if (!SkipUnreadableBaseNames()) break;
    }
    TaskRecordsPtr tasks = Find(base.tasks, base_name_);
    if (!base_service_sent_) {
      base_service_sent_ = true;
      if (std::shared_ptr<const StoredService> service = Find(base.services, base_name_)) {
        v1::Service view = ServiceView(*service, tasks.get());
        // Its deployment comes next (after the service, before its tasks).
        if (view.has_deployment()) {
          base_deployment_ = DeploymentEvent(v1::WatchEvent::ADDED, base.store_version,
                                             view.deployment(), base_name_);
        }
        return ServiceEvent(v1::WatchEvent::ADDED, base.store_version, std::move(view));
      }
    }
    if (tasks != nullptr && base_task_ < tasks->tasks_size()) {
      return TaskEvent(v1::WatchEvent::ADDED, base.store_version, tasks->tasks(base_task_++),
                       base_name_);
    }
    const std::string* next = NextName(&base_name_, base.services, base.tasks);
    if (next == nullptr || !absl::StartsWith(*next, prefix_)) break;
    base_name_ = *next;
    base_service_sent_ = false;
    base_task_ = 0;
    if (!SkipUnreadableBaseNames()) break;
  }
  base_.reset();
  return nullptr;
}

WatchSubscription::Step WatchSubscription::Hand(std::deque<WatchEventPtr>& from) {
  WatchEventPtr event = std::move(from.front());
  from.pop_front();
  // A version is complete once nothing pending carries it any more (every
  // snapshot's events are queued together).
  const std::deque<WatchEventPtr>& pending = !replay_.empty() ? replay_ : queue_;
  if (pending.empty() || pending.front()->store_version() != event->store_version()) {
    complete_through_ = std::max(complete_through_, event->store_version());
  }
  in_flight_ = true;
  return Step{std::move(event), std::nullopt};
}

std::optional<WatchSubscription::Step> WatchSubscription::Next() {
  absl::MutexLock lock(&mu_);
  if (in_flight_ || end_yielded_) return std::nullopt;
  if (end_.has_value()) {
    end_yielded_ = true;
    return Step{nullptr, *end_};
  }
  if (base_leader_ != nullptr) {
    in_flight_ = true;
    return Step{std::move(base_leader_), std::nullopt};
  }
  if (base_ != nullptr) {
    if (WatchEventPtr event = NextBaseEvent()) {
      in_flight_ = true;
      return Step{std::move(event), std::nullopt};
    }
  }
  if (synced_ != nullptr) {
    complete_through_ = std::max(complete_through_, synced_->store_version());
    in_flight_ = true;
    return Step{std::move(synced_), std::nullopt};
  }
  if (!replay_.empty()) return Hand(replay_);
  if (!queue_.empty()) return Hand(queue_);
  armed_ = true;
  return std::nullopt;
}

void WatchSubscription::Written() {
  absl::MutexLock lock(&mu_);
  in_flight_ = false;
}

void WatchSubscription::Cancel(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (end_.has_value()) return;
  end_ = std::move(status);
  queue_.clear();
  replay_.clear();
  base_.reset();
  base_deployment_.reset();
  base_leader_.reset();
  synced_.reset();
}

size_t WatchSubscription::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

// --- WatchHub ---

WatchMetrics::WatchMetrics(prometheus::Registry& registry)
    : streams(prometheus::BuildGauge()
                  .Name("mast_watch_streams")
                  .Help("WatchEvents streams open on this replica.")
                  .Register(registry)
                  .Add({})),
      dropped(prometheus::BuildCounter()
                  .Name("mast_watch_consumers_dropped_total")
                  .Help("WatchEvents streams ended with RESOURCE_EXHAUSTED: the consumer fell "
                        "too far behind.")
                  .Register(registry)
                  .Add({})) {}

WatchHub::WatchHub(Options options, WatchMetrics* metrics) : options_(options), metrics_(metrics) {}

std::vector<WatchEventPtr> WatchHub::Diff(const StateSnapshot& snapshot) {
  std::vector<WatchEventPtr> events;
  for (const std::string* name =
           NextName(nullptr, services_, tasks_, snapshot.services, snapshot.tasks);
       name != nullptr;) {
    const std::string key = *name;  // `name` may point into what DiffOne changes
    DiffOne(key, snapshot, events);
    name = NextName(&key, services_, tasks_, snapshot.services, snapshot.tasks);
  }
  return events;
}

void WatchHub::DiffOne(const std::string& name, const StateSnapshot& snapshot,
                       std::vector<WatchEventPtr>& events) {
  const int64_t version = snapshot.store_version;
  std::shared_ptr<const StoredService> old_service = Find(services_, name);
  std::shared_ptr<const StoredService> new_service = Find(snapshot.services, name);
  TaskRecordsPtr old_tasks = Find(tasks_, name);
  TaskRecordsPtr new_tasks = Find(snapshot.tasks, name);
  if (old_service == new_service && old_tasks == new_tasks) return;  // the same objects
  // An unreadable record is unknown, not gone: keep the last known one.
  if (old_service != nullptr && new_service == nullptr &&
      Listed(snapshot, absl::StrCat("/services/", EscapeServiceName(name)))) {
    new_service = old_service;
  }
  if (old_tasks != nullptr && new_tasks == nullptr &&
      Listed(snapshot, absl::StrCat("/tasks/", EscapeServiceName(name)))) {
    new_tasks = old_tasks;
  }

  // The service first (added or changed), then its tasks, then its deletion.
  AppendServiceEvents(name, version, old_service, new_service, old_tasks, new_tasks, events);
  if (old_tasks != new_tasks) {
    std::map<absl::string_view, const v1::Task*> old_by_id;
    if (old_tasks != nullptr) {
      for (const v1::Task& task : old_tasks->tasks()) old_by_id[task.id()] = &task;
    }
    if (new_tasks != nullptr) {
      for (const v1::Task& task : new_tasks->tasks()) {
        auto old = old_by_id.find(task.id());
        if (old == old_by_id.end()) {
          events.push_back(TaskEvent(v1::WatchEvent::ADDED, version, task, name));
          continue;
        }
        // Deterministic serialization (map fields sorted) makes equal tasks
        // equal bytes; a byte compare is ~10x cheaper than
        // MessageDifferencer here (it runs for every task of a changed
        // record on every replica).
        if (old->second->ByteSizeLong() != task.ByteSizeLong() ||
            DeterministicBytes(*old->second) != DeterministicBytes(task)) {
          events.push_back(TaskEvent(v1::WatchEvent::MODIFIED, version, task, name));
        }
        old_by_id.erase(old);
      }
    }
    for (const auto& [id, task] : old_by_id) {
      events.push_back(TaskEvent(v1::WatchEvent::DELETED, version, *task, name));
    }
  }
  if (old_service != nullptr && new_service == nullptr) {
    events.push_back(
        ServiceEvent(v1::WatchEvent::DELETED, version, ServiceView(*old_service, old_tasks.get())));
  }

  if (new_service != nullptr) {
    services_[name] = std::move(new_service);
  } else {
    services_.erase(name);
  }
  if (new_tasks != nullptr) {
    tasks_[name] = std::move(new_tasks);
  } else {
    tasks_.erase(name);
  }
}

void WatchHub::OnSnapshot(const std::shared_ptr<const StateSnapshot>& snapshot) {
  if (snapshot == nullptr) return;
  if (!have_base_) {
    // Nothing was ever loaded: not a state to start streams from.
    if (!snapshot->synced && snapshot->store_version == 0) return;
    have_base_ = true;
    services_ = snapshot->services;
    tasks_ = snapshot->tasks;
    std::vector<std::shared_ptr<WatchSubscription>> to_wake;
    {
      absl::MutexLock lock(&mu_);
      current_ = snapshot;
      history_floor_ = snapshot->store_version;
      for (const auto& subscription : subscriptions_) {
        if (subscription->SetBase(snapshot, LeaderAt(leader_, snapshot->store_version))) {
          to_wake.push_back(subscription);
        }
      }
    }
    for (const auto& subscription : to_wake) subscription->wake_();
    return;
  }
  Publish(Diff(*snapshot), snapshot, nullptr);
}

void WatchHub::OnLeader(v1::GetLeaderResponse leader) {
  auto event = std::make_shared<v1::WatchEvent>();
  {
    absl::MutexLock lock(&mu_);  // only this thread changes leader_ and current_
    if (leader_ != nullptr && MessageDifferencer::Equals(leader_->leader(), leader)) return;
    event->set_store_version(current_ != nullptr ? current_->store_version : 0);
  }
  event->set_type(v1::WatchEvent::LEADER);
  *event->mutable_leader() = std::move(leader);
  // Before the base, streams get the leader with it.
  std::vector<WatchEventPtr> events;
  if (have_base_) events.push_back(event);
  Publish(std::move(events), nullptr, std::move(event));
}

void WatchHub::OnAudit(v1::AuditEvent audit) {
  auto event = std::make_shared<v1::WatchEvent>();
  {
    absl::MutexLock lock(&mu_);
    if (current_ == nullptr) return;  // before the first readable state: no stream runs
    event->set_store_version(current_->store_version);
  }
  event->set_type(v1::WatchEvent::AUDIT);
  *event->mutable_audit() = std::move(audit);
  Publish({std::move(event)}, nullptr, nullptr, /*keep_in_history=*/false);
}

void WatchHub::Publish(std::vector<WatchEventPtr> events,
                       std::shared_ptr<const StateSnapshot> snapshot, WatchEventPtr leader,
                       bool keep_in_history) {
  std::vector<std::shared_ptr<WatchSubscription>> to_wake;
  {
    absl::MutexLock lock(&mu_);
    if (snapshot != nullptr) current_ = std::move(snapshot);
    if (leader != nullptr) leader_ = std::move(leader);
    if (keep_in_history) {
      for (const WatchEventPtr& event : events) history_.push_back(event);
    }
    while (history_.size() > options_.history_events) {
      history_floor_ = std::max(history_floor_, history_.front()->store_version());
      history_.pop_front();
    }
    if (!events.empty()) {
      for (const auto& subscription : subscriptions_) {
        if (subscription->Offer(events)) to_wake.push_back(subscription);
      }
    }
  }
  for (const auto& subscription : to_wake) subscription->wake_();
}

absl::StatusOr<std::shared_ptr<WatchSubscription>> WatchHub::Subscribe(
    const v1::WatchEventsRequest& request, std::function<void()> wake, ServiceFilter may_read,
    ServiceFilter may_audit) {
  if (request.from_version() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("from_version: must be >= 0, not ", request.from_version()));
  }
  absl::MutexLock lock(&mu_);
  const bool resume = current_ != nullptr && request.from_version() != 0 &&
                      request.from_version() >= history_floor_;
  auto subscription = std::make_shared<WatchSubscription>(
      request.service_prefix(), std::move(wake), options_.queue_events,
      resume ? request.from_version() : 0, std::move(may_read), std::move(may_audit));
  if (current_ == nullptr) {
    subscription->AwaitBase();
  } else if (!resume) {
    subscription->SetBase(current_, LeaderAt(leader_, current_->store_version));
  } else {
    // History versions never decrease: the first one after from_version on.
    auto first = std::upper_bound(
        history_.begin(), history_.end(), request.from_version(),
        [](int64_t version, const WatchEventPtr& e) { return version < e->store_version(); });
    std::vector<WatchEventPtr> replay;
    // A resumed stream first hears who leads now: a leadership change writes
    // no state, so its event usually carries the very version resumed from
    // and would not be replayed (the client may have missed it while it
    // reconnected, often because of that very change).
    if (leader_ != nullptr && leader_->store_version() <= request.from_version()) {
      replay.push_back(LeaderAt(leader_, request.from_version()));
    }
    for (auto it = first; it != history_.end(); ++it) {
      if (subscription->Wants(**it)) replay.push_back(*it);
    }
    subscription->Replay(std::move(replay));
  }
  if (metrics_ != nullptr) {
    subscription->dropped_ = &metrics_->dropped;
    metrics_->streams.Increment();
  }
  subscriptions_.push_back(subscription);
  return subscription;
}

void WatchHub::Unsubscribe(const std::shared_ptr<WatchSubscription>& subscription) {
  absl::MutexLock lock(&mu_);
  auto gone = std::remove(subscriptions_.begin(), subscriptions_.end(), subscription);
  if (metrics_ != nullptr && gone != subscriptions_.end()) metrics_->streams.Decrement();
  subscriptions_.erase(gone, subscriptions_.end());
}

size_t WatchHub::subscriptions() const {
  absl::MutexLock lock(&mu_);
  return subscriptions_.size();
}

v1::GetLeaderResponse LeaderResponseFrom(const std::optional<LeaderInfo>& leader,
                                         absl::string_view replica_id) {
  v1::GetLeaderResponse response;
  response.set_replica_id(std::string(replica_id));
  if (!leader.has_value()) return response;
  response.set_leader_known(true);
  response.set_leader_id(leader->replica_id);
  response.set_leader_address(leader->address);
  response.set_fencing_token(leader->fencing_token);
  if (leader->since != absl::InfinitePast()) {
    response.set_leader_since_unix_nanos(absl::ToUnixNanos(leader->since));
  }
  response.set_is_leader(leader->replica_id == replica_id);
  return response;
}

}  // namespace mast
