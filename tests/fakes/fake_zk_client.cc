#include "tests/fakes/fake_zk_client.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "zk/zk_status.h"

namespace mast::testing {
namespace {

using Events = std::vector<std::pair<std::string, ZkEventType>>;

bool IsEphemeral(ZkCreateMode mode) {
  return mode == ZkCreateMode::kEphemeral || mode == ZkCreateMode::kEphemeralSequential;
}
bool IsSequential(ZkCreateMode mode) {
  return mode == ZkCreateMode::kPersistentSequential || mode == ZkCreateMode::kEphemeralSequential;
}

}  // namespace

FakeZkEnsemble::FakeZkEnsemble() {
  absl::MutexLock lock(&mu_);
  tree_["/"] = Node{};
}

std::string FakeZkEnsemble::Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool FakeZkEnsemble::Exists(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  return tree_.count(path) > 0;
}

std::vector<std::string> FakeZkEnsemble::Children(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  std::string prefix = path == "/" ? "/" : path + "/";
  for (auto it = tree_.lower_bound(prefix); it != tree_.end() && it->first.rfind(prefix, 0) == 0;
       ++it) {
    std::string rest = it->first.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos) out.push_back(rest);
  }
  return out;
}

std::optional<std::string> FakeZkEnsemble::Data(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  auto it = tree_.find(path);
  if (it == tree_.end()) return std::nullopt;
  return it->second.data;
}

// Applies one op to `tree`; the caller decides whether to keep the result.
static absl::Status ApplyOp(std::map<std::string, FakeZkEnsemble::Node>& tree, int64_t& zxid,
                            const ZkOp& op, int64_t session, ZkOpResult* result, Events* events);

void FakeZkEnsemble::SetData(const std::string& path, const std::string& data) {
  absl::MutexLock lock(&mu_);
  auto it = tree_.find(path);
  if (it == tree_.end()) return;
  it->second.data = data;
  it->second.stat.version++;
  it->second.stat.mzxid = ++zxid_;
  Fire(path, ZkEventType::kDataChanged);
}

void FakeZkEnsemble::Delete(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (tree_.erase(path) == 0) return;
  auto parent = tree_.find(Parent(path));
  if (parent != tree_.end()) parent->second.stat.cversion++;
  Fire(path, ZkEventType::kDeleted);
  FireChildren(Parent(path));
}

void FakeZkEnsemble::Fire(const std::string& path, ZkEventType type) {
  auto range = watches_.equal_range(path);
  for (auto it = range.first; it != range.second;) {
    bool matches = !it->second.children || type == ZkEventType::kDeleted;
    if (matches) {
      it->second.client->DeliverWatch(it->second.id, ZkWatchEvent{type, path});
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
}

void FakeZkEnsemble::FireChildren(const std::string& parent) {
  auto range = watches_.equal_range(parent);
  for (auto it = range.first; it != range.second;) {
    if (it->second.children) {
      it->second.client->DeliverWatch(it->second.id,
                                      ZkWatchEvent{ZkEventType::kChildrenChanged, parent});
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
}

void FakeZkEnsemble::RemoveSession(int64_t session, FakeZkClient* client) {
  for (auto it = watches_.begin(); it != watches_.end();) {
    it = it->second.client == client ? watches_.erase(it) : std::next(it);
  }
  std::vector<std::string> owned;
  for (const auto& [path, node] : tree_) {
    if (node.owner_session == session) owned.push_back(path);
  }
  for (const std::string& path : owned) {
    tree_.erase(path);
    auto parent = tree_.find(Parent(path));
    if (parent != tree_.end()) parent->second.stat.cversion++;
    Fire(path, ZkEventType::kDeleted);
    FireChildren(Parent(path));
  }
}

static absl::Status ApplyOp(std::map<std::string, FakeZkEnsemble::Node>& tree, int64_t& zxid,
                            const ZkOp& op, int64_t session, ZkOpResult* result, Events* events) {
  auto it = tree.find(op.path);
  auto version_ok = [&](int32_t actual) { return op.version == -1 || op.version == actual; };
  switch (op.type) {
    case ZkOp::Type::kCheck:
      if (it == tree.end()) return absl::NotFoundError(op.path);
      if (!version_ok(it->second.stat.version)) return absl::AbortedError(op.path);
      return absl::OkStatus();
    case ZkOp::Type::kCreate: {
      size_t slash = op.path.rfind('/');
      std::string parent_path = slash == 0 ? "/" : op.path.substr(0, slash);
      auto parent = tree.find(parent_path);
      if (parent == tree.end()) return absl::NotFoundError(op.path);
      if (parent->second.owner_session != 0) {
        return absl::FailedPreconditionError("no children for ephemerals");
      }
      std::string path = op.path;
      if (IsSequential(op.mode)) {
        path += absl::StrFormat("%010d", parent->second.stat.cversion);
      }
      if (tree.count(path) > 0) return absl::AlreadyExistsError(path);
      FakeZkEnsemble::Node node;
      node.data = op.data;
      node.stat.czxid = node.stat.mzxid = ++zxid;
      node.owner_session = IsEphemeral(op.mode) ? session : 0;
      node.stat.ephemeral_owner = node.owner_session;
      parent->second.stat.cversion++;
      tree[path] = node;
      result->created_path = path;
      result->stat = node.stat;
      events->emplace_back(path, ZkEventType::kCreated);
      events->emplace_back(parent_path, ZkEventType::kChildrenChanged);
      return absl::OkStatus();
    }
    case ZkOp::Type::kSet:
      if (it == tree.end()) return absl::NotFoundError(op.path);
      if (!version_ok(it->second.stat.version)) return absl::AbortedError(op.path);
      it->second.data = op.data;
      it->second.stat.version++;
      it->second.stat.mzxid = ++zxid;
      result->stat = it->second.stat;
      events->emplace_back(op.path, ZkEventType::kDataChanged);
      return absl::OkStatus();
    case ZkOp::Type::kDelete: {
      if (it == tree.end()) return absl::NotFoundError(op.path);
      if (!version_ok(it->second.stat.version)) return absl::AbortedError(op.path);
      std::string prefix = op.path + "/";
      auto child = tree.lower_bound(prefix);
      if (child != tree.end() && child->first.rfind(prefix, 0) == 0) {
        return absl::FailedPreconditionError("not empty");
      }
      tree.erase(it);
      size_t slash = op.path.rfind('/');
      std::string parent_path = slash == 0 ? "/" : op.path.substr(0, slash);
      auto parent = tree.find(parent_path);
      if (parent != tree.end()) parent->second.stat.cversion++;
      events->emplace_back(op.path, ZkEventType::kDeleted);
      events->emplace_back(parent_path, ZkEventType::kChildrenChanged);
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown op");
}

FakeZkClient::FakeZkClient(FakeZkEnsemble& ensemble, EventLoop& loop)
    : ensemble_(ensemble), loop_(loop) {}

FakeZkClient::~FakeZkClient() {
  callbacks_.Invalidate();
  absl::MutexLock lock(&ensemble_.mu_);
  for (auto it = ensemble_.watches_.begin(); it != ensemble_.watches_.end();) {
    it = it->second.client == this ? ensemble_.watches_.erase(it) : std::next(it);
  }
}

std::pair<absl::Status, bool> FakeZkClient::Admit() {
  absl::MutexLock lock(&mu_);
  ++calls_;
  if (state_ != ZkSessionState::kConnected) {
    return {absl::UnavailableError("connection loss"), false};
  }
  if (!faults_.empty()) {
    Fault fault = faults_.front();
    faults_.erase(faults_.begin());
    return {fault.status, fault.applied};
  }
  return {absl::OkStatus(), true};
}

namespace {

// The initial result of a call: its seeded failure, else "not yet known".
template <typename T>
T Reported(const absl::Status& reported) {
  return reported.ok() ? T(absl::UnknownError("unset")) : T(reported);
}

template <typename T>
void PostResult(EventLoop& loop, const WeakCallbacks& callbacks, ZkCallback<T> done, T result) {
  loop.Post(callbacks.Bind([done = std::move(done), result = std::move(result)]() mutable {
    std::move(done)(std::move(result));
  }));
}

}  // namespace

void FakeZkClient::Create(const std::string& path, std::string data, ZkCreateMode mode,
                          ZkCallback<absl::StatusOr<ZkCreated>> done) {
  auto [reported, apply] = Admit();
  absl::StatusOr<ZkCreated> result = Reported<absl::StatusOr<ZkCreated>>(reported);
  if (apply) {
    absl::MutexLock lock(&ensemble_.mu_);
    ZkOpResult op_result;
    Events events;
    absl::Status status =
        ApplyOp(ensemble_.tree_, ensemble_.zxid_, ZkOp::Create(path, std::move(data), mode),
                session_id(), &op_result, &events);
    for (const auto& [p, type] : events) {
      type == ZkEventType::kChildrenChanged ? ensemble_.FireChildren(p) : ensemble_.Fire(p, type);
    }
    if (reported.ok()) {
      result = status.ok()
                   ? absl::StatusOr<ZkCreated>(ZkCreated{op_result.created_path, op_result.stat})
                   : absl::StatusOr<ZkCreated>(status);
    }
  }
  PostResult(loop_, callbacks_, std::move(done), std::move(result));
}

void FakeZkClient::Delete(const std::string& path, int32_t version, ZkCallback<absl::Status> done) {
  auto [reported, apply] = Admit();
  absl::Status result = reported;
  if (apply) {
    absl::MutexLock lock(&ensemble_.mu_);
    ZkOpResult op_result;
    Events events;
    absl::Status status = ApplyOp(ensemble_.tree_, ensemble_.zxid_, ZkOp::Delete(path, version),
                                  session_id(), &op_result, &events);
    for (const auto& [p, type] : events) {
      type == ZkEventType::kChildrenChanged ? ensemble_.FireChildren(p) : ensemble_.Fire(p, type);
    }
    if (reported.ok()) result = status;
  }
  PostResult(loop_, callbacks_, std::move(done), std::move(result));
}

void FakeZkClient::Exists(const std::string& path, ZkWatcher watcher,
                          ZkCallback<absl::StatusOr<std::optional<ZkStat>>> done) {
  auto [reported, apply] = Admit();
  absl::StatusOr<std::optional<ZkStat>> result =
      Reported<absl::StatusOr<std::optional<ZkStat>>>(reported);
  if (reported.ok()) {
    absl::MutexLock lock(&ensemble_.mu_);
    auto it = ensemble_.tree_.find(path);
    result = it == ensemble_.tree_.end() ? std::nullopt : std::optional<ZkStat>(it->second.stat);
    if (watcher) {
      ensemble_.watches_.emplace(path,
                                 FakeZkEnsemble::Watch{this, AddWatch(std::move(watcher)), false});
    }
  }
  PostResult(loop_, callbacks_, std::move(done), std::move(result));
}

void FakeZkClient::Get(const std::string& path, ZkWatcher watcher,
                       ZkCallback<absl::StatusOr<ZkNode>> done) {
  auto [reported, apply] = Admit();
  absl::StatusOr<ZkNode> result = Reported<absl::StatusOr<ZkNode>>(reported);
  if (reported.ok()) {
    absl::MutexLock lock(&ensemble_.mu_);
    auto it = ensemble_.tree_.find(path);
    if (it == ensemble_.tree_.end()) {
      result = absl::NotFoundError(absl::StrCat("get ", path));
    } else {
      result = ZkNode{it->second.data, it->second.stat};
      if (watcher) {
        ensemble_.watches_.emplace(
            path, FakeZkEnsemble::Watch{this, AddWatch(std::move(watcher)), false});
      }
    }
  }
  PostResult(loop_, callbacks_, std::move(done), std::move(result));
}

void FakeZkClient::GetChildren(const std::string& path, ZkWatcher watcher,
                               ZkCallback<absl::StatusOr<std::vector<std::string>>> done) {
  auto [reported, apply] = Admit();
  absl::StatusOr<std::vector<std::string>> result =
      Reported<absl::StatusOr<std::vector<std::string>>>(reported);
  if (reported.ok()) {
    bool exists = ensemble_.Exists(path);
    if (!exists) {
      result = absl::NotFoundError(absl::StrCat("get children ", path));
    } else {
      result = ensemble_.Children(path);
      if (watcher) {
        absl::MutexLock lock(&ensemble_.mu_);
        ensemble_.watches_.emplace(path,
                                   FakeZkEnsemble::Watch{this, AddWatch(std::move(watcher)), true});
      }
    }
  }
  PostResult(loop_, callbacks_, std::move(done), std::move(result));
}

void FakeZkClient::Set(const std::string& path, std::string data, int32_t version,
                       ZkCallback<absl::StatusOr<ZkStat>> done) {
  auto [reported, apply] = Admit();
  absl::StatusOr<ZkStat> result = Reported<absl::StatusOr<ZkStat>>(reported);
  if (apply) {
    absl::MutexLock lock(&ensemble_.mu_);
    ZkOpResult op_result;
    Events events;
    absl::Status status =
        ApplyOp(ensemble_.tree_, ensemble_.zxid_, ZkOp::Set(path, std::move(data), version),
                session_id(), &op_result, &events);
    for (const auto& [p, type] : events) ensemble_.Fire(p, type);
    if (reported.ok()) result = status.ok() ? absl::StatusOr<ZkStat>(op_result.stat) : status;
  }
  PostResult(loop_, callbacks_, std::move(done), std::move(result));
}

void FakeZkClient::Multi(std::vector<ZkOp> ops,
                         ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done) {
  auto [reported, apply] = Admit();
  absl::StatusOr<std::vector<ZkOpResult>> result =
      Reported<absl::StatusOr<std::vector<ZkOpResult>>>(reported);
  if (apply) {
    absl::MutexLock lock(&ensemble_.mu_);
    auto tree = ensemble_.tree_;
    int64_t zxid = ensemble_.zxid_;
    std::vector<ZkOpResult> results(ops.size());
    Events events;
    absl::Status status = absl::OkStatus();
    for (size_t i = 0; i < ops.size() && status.ok(); ++i) {
      status = ApplyOp(tree, zxid, ops[i], session_id(), &results[i], &events);
      if (!status.ok()) {
        status = WithFailedOp(
            absl::Status(status.code(),
                         absl::StrCat("multi op ", i, " (", ops[i].path, "): ", status.message())),
            i);
      }
    }
    if (status.ok()) {
      ensemble_.tree_ = std::move(tree);
      ensemble_.zxid_ = zxid;
      for (const auto& [p, type] : events) {
        type == ZkEventType::kChildrenChanged ? ensemble_.FireChildren(p) : ensemble_.Fire(p, type);
      }
    }
    if (reported.ok()) {
      result = status.ok() ? absl::StatusOr<std::vector<ZkOpResult>>(std::move(results))
                           : absl::StatusOr<std::vector<ZkOpResult>>(status);
    }
  }
  PostResult(loop_, callbacks_, std::move(done), std::move(result));
}

void FakeZkClient::AddSessionListener(ZkSessionListener listener) {
  loop_.Post(callbacks_.Bind([this, listener = std::move(listener)]() mutable {
    listeners_.push_back(std::move(listener));
    ZkSessionEvent event;
    {
      absl::MutexLock lock(&mu_);
      event = ZkSessionEvent{state_, session_, timeout_, generation_};
    }
    listeners_.back()(event);
  }));
}

void FakeZkClient::Emit(ZkSessionState state) {
  ZkSessionEvent event;
  {
    absl::MutexLock lock(&mu_);
    state_ = state;
    event = ZkSessionEvent{state, session_, timeout_, generation_};
  }
  loop_.Post(callbacks_.Bind([this, event]() {
    for (auto& listener : listeners_) listener(event);
  }));
}

void FakeZkClient::Connect(absl::Duration negotiated_timeout) {
  {
    absl::MutexLock ensemble_lock(&ensemble_.mu_);
    absl::MutexLock lock(&mu_);
    session_ = ensemble_.next_session_++;
    ++generation_;
    timeout_ = negotiated_timeout;
    watchers_.clear();
    held_events_.clear();
  }
  Emit(ZkSessionState::kConnected);
}

void FakeZkClient::Suspend() { Emit(ZkSessionState::kSuspended); }

void FakeZkClient::Resume() {
  std::vector<std::pair<uint64_t, ZkWatchEvent>> held;
  {
    absl::MutexLock lock(&mu_);
    held.swap(held_events_);
  }
  Emit(ZkSessionState::kConnected);
  for (auto& [id, event] : held) PostWatch(id, std::move(event));
}

void FakeZkClient::Expire() {
  {
    absl::MutexLock ensemble_lock(&ensemble_.mu_);
    ensemble_.RemoveSession(session_id(), this);
    absl::MutexLock lock(&mu_);
    watchers_.clear();
    held_events_.clear();
  }
  Emit(ZkSessionState::kExpired);
}

void FakeZkClient::FailNext(absl::Status status, bool applied) {
  absl::MutexLock lock(&mu_);
  faults_.push_back({std::move(status), applied});
}

int64_t FakeZkClient::session_id() const {
  absl::MutexLock lock(&mu_);
  return session_;
}

int FakeZkClient::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

uint64_t FakeZkClient::AddWatch(ZkWatcher watcher) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_watch_++;
  watchers_.emplace(id, std::move(watcher));
  return id;
}

void FakeZkClient::DeliverWatch(uint64_t id, ZkWatchEvent event) {
  absl::MutexLock lock(&mu_);
  if (state_ == ZkSessionState::kSuspended) {
    held_events_.emplace_back(id, std::move(event));
    return;
  }
  PostWatch(id, std::move(event));
}

void FakeZkClient::PostWatch(uint64_t id, ZkWatchEvent event) {
  loop_.Post(callbacks_.Bind([this, id, event = std::move(event)]() {
    ZkWatcher watcher;
    {
      absl::MutexLock lock(&mu_);
      auto it = watchers_.find(id);
      if (it == watchers_.end()) return;
      watcher = std::move(it->second);
      watchers_.erase(it);
    }
    std::move(watcher)(event);
  }));
}

}  // namespace mast::testing
