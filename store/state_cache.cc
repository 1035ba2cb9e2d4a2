#include "store/state_cache.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metric_builders.h"
#include "common/proto_util.h"
#include "store/deployments.h"

namespace mast {

namespace {

prometheus::Family<prometheus::Gauge>& ActiveDeployments(prometheus::Registry& registry) {
  // Register() returns the existing family when called again with the same
  // name and help, so each label is added to one family.
  return prometheus::BuildGauge()
      .Name("mast_deployments_active")
      .Help("Deployments in progress in this replica's state cache, by state.")
      .Register(registry);
}

using ::mast::v1::records::TaskRecords;

}  // namespace

StateCacheMetrics::StateCacheMetrics(prometheus::Registry& registry)
    : corrupt_records(NewCounter(registry, "mast_store_corrupt_records_total",
                                 "Reads of a stored record that could not be parsed (the record "
                                 "was skipped).")),
      resyncs(NewCounter(registry, "mast_store_cache_resyncs_total",
                         "Full reloads of the state cache (first load, new ZooKeeper session, "
                         "retry after a failed read).")),
      store_version(NewGauge(registry, "mast_store_cache_version",
                             "The store version (highest zxid) the state cache reflects.")),
      deployments_running(ActiveDeployments(registry).Add({{"state", "RUNNING"}})),
      deployments_paused(ActiveDeployments(registry).Add({{"state", "PAUSED"}})),
      deployments_rolling_back(ActiveDeployments(registry).Add({{"state", "ROLLING_BACK"}})),
      deployment_oldest_update(NewGauge(
          registry, "mast_deployment_oldest_update_timestamp_seconds",
          "When the active deployment that moved least recently last changed state or step "
          "(Unix seconds; 0 when none is active).")) {}

void StateCacheMetrics::CountDeployments(
    const std::map<std::string, std::shared_ptr<const StoredService>>& services) {
  int running = 0, paused = 0, rolling_back = 0;
  std::optional<absl::Time> oldest;
  for (const auto& [name, stored] : services) {
    const v1::Service& service = stored->record.service();
    if (!HasActiveDeployment(service)) continue;
    const v1::Deployment& deployment = service.deployment();
    switch (deployment.state()) {
      case v1::Deployment::RUNNING:
        ++running;
        break;
      case v1::Deployment::PAUSED:
        ++paused;
        break;
      default:
        ++rolling_back;
        break;
    }
    const absl::Time updated = FromProtoTimestamp(deployment.updated());
    if (!oldest.has_value() || updated < *oldest) oldest = updated;
  }
  deployments_running.Set(running);
  deployments_paused.Set(paused);
  deployments_rolling_back.Set(rolling_back);
  deployment_oldest_update.Set(
      oldest.has_value() ? absl::ToDoubleSeconds(*oldest - absl::UnixEpoch()) : 0);
}

StateCache::StateCache(ZkClient& zk, EventLoop& loop, std::string zk_root,
                       StateCacheMetrics* metrics, BackoffConfig retry_backoff)
    : zk_(zk),
      loop_(loop),
      paths_(absl::StrCat(zk_root, "/state")),
      metrics_(metrics),
      retry_backoff_(retry_backoff),
      snapshot_(std::make_shared<StateSnapshot>()) {}

StateCache::~StateCache() {
  if (retry_timer_ != 0) loop_.Cancel(retry_timer_);
}

void StateCache::Start() {
  zk_.AddSessionListener(
      callbacks_.Bind([this](const ZkSessionEvent& event) { OnSessionEvent(event); }));
}

std::shared_ptr<const StateSnapshot> StateCache::snapshot() const {
  absl::MutexLock lock(&snapshot_mu_);
  return snapshot_;
}

void StateCache::OnSessionEvent(const ZkSessionEvent& event) {
  switch (event.state) {
    case ZkSessionState::kConnected:
      connected_ = true;
      // A reconnect of the same session keeps its watches; a new one has none.
      if (event.session_generation != session_generation_) {
        session_generation_ = event.session_generation;
        Resync();
      }
      return;
    case ZkSessionState::kSuspended:
      connected_ = false;
      return;
    case ZkSessionState::kConnecting:
    case ZkSessionState::kExpired:
    case ZkSessionState::kAuthFailed:
    case ZkSessionState::kClosed:
      // The watches are gone: what we hold is the last known state.
      connected_ = false;
      ++epoch_;
      loaded_ = false;
      outstanding_ = 0;
      Publish();
      return;
  }
}

void StateCache::Resync() {
  ++epoch_;
  loaded_ = false;
  outstanding_ = 0;
  watched_services_.clear();
  watched_tasks_.clear();
  if (metrics_ != nullptr) metrics_->resyncs.Increment();
  ListDir(Dir::kServices);
  ListDir(Dir::kTasks);
  ReadDirVersion();
}

std::string StateCache::DirPath(Dir dir) const {
  return dir == Dir::kServices ? paths_.services_dir() : paths_.tasks_dir();
}

void StateCache::Relist(Dir dir) {
  const int index = static_cast<int>(dir);
  const absl::Time due = last_list_[index] + min_relist_interval_;
  if (min_relist_interval_ <= absl::ZeroDuration() || loop_.clock().Now() >= due) {
    ListDir(dir);
    if (dir == Dir::kServices) ReadDirVersion();
    return;
  }
  // Counted as a read in flight, so that nothing calls this settled before
  // the listing is done. A reload (new epoch) resets the count: a timer of
  // an older epoch then does nothing.
  ++outstanding_;
  uint64_t epoch = epoch_;
  loop_.RunAt(due, callbacks_.Bind([this, dir, epoch]() {
    if (!Current(epoch)) return;
    --outstanding_;
    ListDir(dir);
    if (dir == Dir::kServices) ReadDirVersion();
  }));
}

void StateCache::ListDir(Dir dir) {
  ++outstanding_;
  last_list_[static_cast<int>(dir)] = loop_.clock().Now();
  uint64_t epoch = epoch_;
  zk_.GetChildren(
      DirPath(dir), callbacks_.Bind([this, dir, epoch](const ZkWatchEvent&) {
        if (!Current(epoch)) return;
        Relist(dir);
      }),
      callbacks_.Bind([this, dir, epoch](absl::StatusOr<std::vector<std::string>> children) {
        if (!Current(epoch)) return;
        if (absl::IsNotFound(children.status())) {
          // Nothing was ever stored: wait for the directory.
          OnChildren(dir, {});
          WatchDirCreation(dir);
        } else if (!children.ok()) {
          RetryLater(absl::StrCat("list ", DirPath(dir)), children.status());
        } else {
          OnChildren(dir, std::move(*children));
        }
        Done();
      }));
}

void StateCache::WatchDirCreation(Dir dir) {
  ++outstanding_;
  uint64_t epoch = epoch_;
  zk_.Exists(DirPath(dir), callbacks_.Bind([this, dir, epoch](const ZkWatchEvent&) {
    if (Current(epoch)) ListDir(dir);
  }),
             callbacks_.Bind([this, dir, epoch](absl::StatusOr<std::optional<ZkStat>> stat) {
               if (!Current(epoch)) return;
               if (!stat.ok()) {
                 RetryLater(absl::StrCat("exists ", DirPath(dir)), stat.status());
               } else if (stat->has_value()) {
                 ListDir(dir);  // created meanwhile (its watch will fire too, harmlessly)
               }
               Done();
             }));
}

void StateCache::OnChildren(Dir dir, std::vector<std::string> children) {
  // Linear in the number of services after one sort: this runs for every
  // listing of a directory that may hold tens of thousands of names.
  std::vector<std::string> present;
  present.reserve(children.size());
  for (const std::string& child : children) {
    // Task shards (`<escaped>.<gen>.<i>`) are read with their head.
    if (dir == Dir::kTasks && child.find('.') != std::string::npos) continue;
    absl::StatusOr<std::string> name = UnescapeServiceName(child);
    if (!name.ok()) {
      ReportCorrupt(absl::StrCat(DirPath(dir), "/", child), std::string(name.status().message()));
      continue;
    }
    present.push_back(std::move(*name));
  }
  std::sort(present.begin(), present.end());
  auto& watched = dir == Dir::kServices ? watched_services_ : watched_tasks_;
  // Gone since the last listing: walk the held records and `present` together.
  auto drop_missing = [&](auto& held) {
    auto next = present.begin();
    for (auto it = held.begin(); it != held.end();) {
      next = std::lower_bound(next, present.end(), it->first);
      if (next != present.end() && *next == it->first) {
        ++it;
        continue;
      }
      watched.erase(it->first);
      ClearCorrupt(dir == Dir::kServices ? paths_.service(it->first)
                                         : paths_.tasks_head(it->first));
      it = held.erase(it);
    }
  };
  if (dir == Dir::kServices) {
    drop_missing(services_);
  } else {
    drop_missing(tasks_);
  }
  const std::string prefix = DirPath(dir) + "/";
  for (auto it = corrupt_.begin(); it != corrupt_.end();) {
    // Corrupt entries of this directory whose znode went.
    if (it->first.rfind(prefix, 0) != 0) {
      ++it;
      continue;
    }
    std::string child = it->first.substr(prefix.size());
    bool still_there = std::find(children.begin(), children.end(), child) != children.end();
    it = still_there ? std::next(it) : corrupt_.erase(it);
  }
  // New names: those of `present` not yet watched (both sorted).
  std::vector<std::string> added;
  std::set_difference(present.begin(), present.end(), watched.begin(), watched.end(),
                      std::back_inserter(added));
  for (const std::string& name : added) {
    dir == Dir::kServices ? ReadService(name) : ReadTasks(name);
  }
}

// `state/services` is touched by every delete: its mzxid is the store
// version of the latest delete, which no record carries.
void StateCache::ReadDirVersion() {
  ++outstanding_;
  uint64_t epoch = epoch_;
  zk_.Exists(paths_.services_dir(), nullptr,
             callbacks_.Bind([this, epoch](absl::StatusOr<std::optional<ZkStat>> stat) {
               if (!Current(epoch)) return;
               if (stat.ok() && stat->has_value()) SeenZxid((*stat)->mzxid);
               Done();
             }));
}

void StateCache::ReadService(const std::string& name) {
  ++outstanding_;
  watched_services_.insert(name);
  uint64_t epoch = epoch_;
  std::string path = paths_.service(name);
  zk_.Get(path, callbacks_.Bind([this, name, epoch](const ZkWatchEvent& event) {
    if (!Current(epoch)) return;
    watched_services_.erase(name);
    if (event.type == ZkEventType::kDeleted) {
      services_.erase(name);
      ClearCorrupt(paths_.service(name));
      if (outstanding_ == 0) Publish();
      return;
    }
    ReadService(name);
  }),
          callbacks_.Bind([this, name, path, epoch](absl::StatusOr<ZkNode> node) {
            if (!Current(epoch)) return;
            if (absl::IsNotFound(node.status())) {
              watched_services_.erase(name);  // no watch is left on a missing znode
              services_.erase(name);
              ClearCorrupt(path);
            } else if (!node.ok()) {
              watched_services_.erase(name);
              RetryLater(absl::StrCat("get ", path), node.status());
            } else {
              SeenZxid(node->stat.mzxid);
              auto stored = std::make_shared<StoredService>();
              stored->version = node->stat.version;
              stored->mzxid = node->stat.mzxid;
              if (!stored->record.ParseFromString(node->data)) {
                services_.erase(name);
                ReportCorrupt(path, "cannot parse ServiceRecord");
              } else if (stored->record.service().spec().name() != name) {
                services_.erase(name);
                ReportCorrupt(path, absl::StrCat("the record names service \"",
                                                 stored->record.service().spec().name(), "\""));
              } else {
                services_[name] = std::move(stored);
                ClearCorrupt(path);
              }
            }
            Done();
          }));
}

void StateCache::ReadTasks(const std::string& name) {
  ++outstanding_;
  watched_tasks_.insert(name);
  uint64_t epoch = epoch_;
  std::string path = paths_.tasks_head(name);
  ReadTaskRecords(zk_, paths_, name,
                  callbacks_.Bind([this, name, epoch](const ZkWatchEvent& event) {
                    if (!Current(epoch)) return;
                    watched_tasks_.erase(name);
                    if (event.type == ZkEventType::kDeleted) {
                      tasks_.erase(name);
                      ClearCorrupt(paths_.tasks_head(name));
                      if (outstanding_ == 0) Publish();
                      return;
                    }
                    ReadTasks(name);
                  }),
                  callbacks_.Bind([this, name, path, epoch](absl::StatusOr<TaskRecordsRead> read) {
                    if (!Current(epoch)) return;
                    if (absl::IsNotFound(read.status())) {
                      watched_tasks_.erase(name);
                      tasks_.erase(name);
                      ClearCorrupt(path);
                    } else if (absl::IsAborted(read.status())) {
                      // A newer generation was committed while the shards were read; the
                      // head's watch (set by this read) brings it.
                    } else if (absl::IsDataLoss(read.status())) {
                      tasks_.erase(name);  // the head was read, so its watch is set
                      ReportCorrupt(path, std::string(read.status().message()));
                    } else if (!read.ok()) {
                      watched_tasks_.erase(name);
                      RetryLater(absl::StrCat("read ", path), read.status());
                    } else {
                      SeenZxid(read->head_stat.mzxid);
                      tasks_[name] = std::make_shared<const TaskRecords>(std::move(read->records));
                      ClearCorrupt(path);
                    }
                    Done();
                  }));
}

void StateCache::ReportCorrupt(const std::string& znode, const std::string& error) {
  LogWarning("store_corrupt_record", {{"znode", znode}, {"error", error}});
  if (metrics_ != nullptr) metrics_->corrupt_records.Increment();
  corrupt_[znode] = error;
}

void StateCache::ClearCorrupt(const std::string& znode) { corrupt_.erase(znode); }

void StateCache::SeenZxid(int64_t zxid) { max_zxid_ = std::max(max_zxid_, zxid); }

void StateCache::RetryLater(absl::string_view what, const absl::Status& status) {
  if (retry_timer_ != 0) return;
  absl::Duration delay = retry_backoff_.Next(bitgen_);
  LogWarning(
      "store_cache_read_failed",
      {{"what", what}, {"status", status.ToString()}, {"retry_in", absl::FormatDuration(delay)}});
  retry_timer_ = loop_.RunAfter(delay, callbacks_.Bind([this]() {
    retry_timer_ = 0;
    Resync();
  }));
}

void StateCache::Done() {
  if (--outstanding_ > 0) return;
  if (!loaded_ && retry_timer_ == 0) {
    loaded_ = true;
    retry_backoff_.Reset();
  }
  Publish();
}

void StateCache::Publish() {
  auto next = std::make_shared<StateSnapshot>();
  next->store_version = max_zxid_;
  next->synced = loaded_ && retry_timer_ == 0;
  next->services = services_;
  next->tasks = tasks_;
  for (const auto& [znode, error] : corrupt_) next->corrupt.push_back({znode, error});
  if (metrics_ != nullptr) {
    metrics_->store_version.Set(static_cast<double>(max_zxid_));
    metrics_->CountDeployments(services_);
  }
  std::shared_ptr<const StateSnapshot> published = next;
  {
    absl::MutexLock lock(&snapshot_mu_);
    snapshot_ = std::move(next);
  }
  for (const Listener& listener : listeners_) listener(published);
  if (published->synced && outstanding_ == 0 && !settled_waiters_.empty()) {
    auto waiters = std::move(settled_waiters_);
    settled_waiters_.clear();
    for (auto& waiter : waiters) std::move(waiter)(published);
  }
}

void StateCache::WhenSettled(
    absl::AnyInvocable<void(std::shared_ptr<const StateSnapshot>) &&> done) {
  std::shared_ptr<const StateSnapshot> current = snapshot();
  if (current->synced && outstanding_ == 0) {
    loop_.Post([done = std::move(done), current]() mutable { std::move(done)(current); });
    return;
  }
  settled_waiters_.push_back(std::move(done));
}

}  // namespace mast
