#include "zk/zk_session.h"

#include <zookeeper/zookeeper.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>

#include "absl/functional/any_invocable.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "zk/zk_status.h"

namespace mast {

// Runs a task if the session still exists. Bound by the session's
// WeakCallbacks on the loop and kept in the contexts handed to the C client,
// whose threads only copy it into a task posted to the loop: it is called
// there, as WeakCallbacks requires.
using ZkRunIfAlive = std::function<void(absl::AnyInvocable<void()>)>;

// What the C client hands back to our static callbacks. Owned by the session;
// freed only after zookeeper_close() has returned, when no callback can run.
struct ZkSession::HandleContext {
  ZkSession* session;
  EventLoop* loop;
  ZkRunIfAlive run_if_alive;
  uint64_t generation;
};

namespace {

// On the loop only (it reads the session's WeakCallbacks).
ZkRunIfAlive BindRunIfAlive(const WeakCallbacks& callbacks) {
  return callbacks.Bind([](absl::AnyInvocable<void()> task) { std::move(task)(); });
}

// Runs `fn` on the session's loop if the session still exists then. Any
// thread.
template <typename Fn>
void PostIfAlive(EventLoop* loop, const ZkRunIfAlive& run_if_alive, Fn fn) {
  loop->Post([run_if_alive, fn = std::move(fn)]() mutable { run_if_alive(std::move(fn)); });
}

ZkStat ToZkStat(const Stat* s) {
  ZkStat out;
  if (s == nullptr) return out;
  out.czxid = s->czxid;
  out.mzxid = s->mzxid;
  out.ctime_ms = s->ctime;
  out.mtime_ms = s->mtime;
  out.version = s->version;
  out.cversion = s->cversion;
  out.ephemeral_owner = s->ephemeralOwner;
  out.data_length = s->dataLength;
  out.num_children = s->numChildren;
  return out;
}

int ToZkMode(ZkCreateMode mode) {
  switch (mode) {
    case ZkCreateMode::kPersistent:
      return ZOO_PERSISTENT;
    case ZkCreateMode::kEphemeral:
      return ZOO_EPHEMERAL;
    case ZkCreateMode::kPersistentSequential:
      return ZOO_PERSISTENT_SEQUENTIAL;
    case ZkCreateMode::kEphemeralSequential:
      return ZOO_EPHEMERAL_SEQUENTIAL;
  }
  return ZOO_PERSISTENT;
}

std::optional<ZkEventType> ToEventType(int type) {
  if (type == ZOO_CREATED_EVENT) return ZkEventType::kCreated;
  if (type == ZOO_DELETED_EVENT) return ZkEventType::kDeleted;
  if (type == ZOO_CHANGED_EVENT) return ZkEventType::kDataChanged;
  if (type == ZOO_CHILD_EVENT) return ZkEventType::kChildrenChanged;
  if (type == ZOO_NOTWATCHING_EVENT) return ZkEventType::kNotWatching;
  return std::nullopt;
}

// Per-call context of an asynchronous C call: where to post the result.
template <typename T>
struct OpContext {
  EventLoop* loop;
  ZkRunIfAlive run_if_alive;
  std::string what;  // "get /path", for error messages
  ZkCallback<T> done;
  // Only for calls that set a watch: forget it if the call failed.
  ZkSession* session = nullptr;
  uint64_t watch_id = 0;
};

template <typename T>
void Deliver(OpContext<T>* raw, T result) {
  std::unique_ptr<OpContext<T>> ctx(raw);
  PostIfAlive(ctx->loop, ctx->run_if_alive,
              [done = std::move(ctx->done), result = std::move(result)]() mutable {
                std::move(done)(std::move(result));
              });
}

// The C client's own log lines, re-leveled into ours.
void ClientLog(const char* message) {
  absl::string_view text(message);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  LogLevel level = LogLevel::kInfo;
  if (absl::StrContains(text, ":ZOO_ERROR@")) {
    level = LogLevel::kError;
  } else if (absl::StrContains(text, ":ZOO_WARN@")) {
    level = LogLevel::kWarning;
  }
  Log(level, "zk_client_log", {{"msg", text}});
}

}  // namespace

absl::Status ValidateZkSessionConfig(const ZkSessionConfig& config) {
  if (config.hosts.empty()) return absl::InvalidArgumentError("zk hosts: must not be empty");
  absl::string_view hosts = config.hosts;
  size_t slash = hosts.find('/');
  if (slash != absl::string_view::npos) {
    absl::Status chroot = ValidateZkPath(hosts.substr(slash));
    if (!chroot.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("zk hosts chroot: ", chroot.message()));
    }
    hosts = hosts.substr(0, slash);
  }
  for (absl::string_view host_port : absl::StrSplit(hosts, ',')) {
    size_t colon = host_port.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(host_port.substr(colon + 1), &port) || port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("zk hosts: '", host_port, "' is not host:port"));
    }
  }
  if (config.session_timeout < absl::Milliseconds(100) || config.session_timeout > absl::Hours(1)) {
    return absl::InvalidArgumentError("zk session_timeout: must be in [100ms, 1h]");
  }
  if (!config.digest_auth.empty() && config.digest_auth.find(':') == std::string::npos) {
    return absl::InvalidArgumentError("zk digest_auth: must be user:password");
  }
  absl::Status backoff = ValidateBackoffConfig(config.reopen_backoff);
  if (!backoff.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("zk reopen_", backoff.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ZkSession>> ZkSession::Create(ZkSessionConfig config,
                                                             EventLoop& loop) {
  absl::Status valid = ValidateZkSessionConfig(config);
  if (!valid.ok()) return valid;
  std::unique_ptr<ZkSession> session(new ZkSession(std::move(config), loop));
  // The handle is opened on the loop, which owns all session state.
  ZkSession* raw = session.get();
  loop.Post(session->callbacks_.Bind([raw] { raw->OpenHandle(); }));
  return session;
}

ZkSession::ZkSession(ZkSessionConfig config, EventLoop& loop)
    : config_(std::move(config)), loop_(loop), reopen_backoff_(config_.reopen_backoff) {
  disconnected_since_ = loop_.clock().Now();
}

ZkSession::~ZkSession() {
  callbacks_.Invalidate();
  closed_ = true;
  CloseHandle();
  loop_.Cancel(unreachable_timer_);
  loop_.Cancel(reopen_timer_);
}

void ZkSession::Close() {
  if (closed_) return;
  closed_ = true;
  CloseHandle();
  loop_.Cancel(unreachable_timer_);
  loop_.Cancel(reopen_timer_);
  SetState(ZkSessionState::kClosed);
}

void ZkSession::OpenHandle() {
  if (closed_ || handle_ != nullptr) return;
  ++generation_;
  session_id_ = 0;
  handle_context_ = new HandleContext{this, &loop_, BindRunIfAlive(callbacks_), generation_};
  auto global_watcher = [](zhandle_t*, int type, int state, const char*, void* ctx) {
    if (type != ZOO_SESSION_EVENT) return;  // node events use per-call watchers
    auto* h = static_cast<HandleContext*>(ctx);
    ZkSession* session = h->session;
    uint64_t generation = h->generation;
    PostIfAlive(h->loop, h->run_if_alive,
                [session, generation, state] { session->OnSessionStateChange(generation, state); });
  };
  errno = 0;
  handle_ = zookeeper_init2(config_.hosts.c_str(), global_watcher,
                            static_cast<int>(absl::ToInt64Milliseconds(config_.session_timeout)),
                            nullptr, handle_context_, 0, &ClientLog);
  if (handle_ == nullptr) {
    int err = errno;
    delete handle_context_;
    handle_context_ = nullptr;
    ScheduleReopen(absl::StrCat("zookeeper_init failed: ", std::strerror(err)));
    return;
  }
  if (!config_.digest_auth.empty()) {
    int rc = zoo_add_auth(handle_, "digest", config_.digest_auth.data(),
                          static_cast<int>(config_.digest_auth.size()), nullptr, nullptr);
    if (rc != ZOK) LogError("zk_add_auth_failed", {{"error", zerror(rc)}});
  }
  SetState(ZkSessionState::kConnecting);
  ArmUnreachableWarning();
}

void ZkSession::CloseHandle() {
  if (handle_ == nullptr) return;
  // zookeeper_close runs outstanding completions (with ZCLOSING) before it
  // returns; they only post to the loop.
  zookeeper_close(handle_);
  handle_ = nullptr;
  delete handle_context_;
  handle_context_ = nullptr;
  // Watches of this handle will never fire: forget them.
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    if (it->second.generation == generation_) {
      watchers_.erase(it++);
    } else {
      ++it;
    }
  }
}

void ZkSession::ScheduleReopen(absl::string_view reason) {
  absl::Duration delay = reopen_backoff_.Next(bitgen_);
  LogError(
      "zk_session_open_failed",
      {{"hosts", config_.hosts}, {"reason", reason}, {"retry_in", absl::FormatDuration(delay)}});
  loop_.Cancel(reopen_timer_);
  reopen_timer_ = loop_.RunAfter(delay, callbacks_.Bind([this]() { OpenHandle(); }));
}

void ZkSession::OnSessionStateChange(uint64_t generation, int zk_state) {
  if (generation != generation_ || handle_ == nullptr) return;  // a closed handle's news
  if (zk_state == ZOO_CONNECTED_STATE) {
    const clientid_t* id = zoo_client_id(handle_);
    bool new_session = session_id_ != id->client_id;
    session_id_ = id->client_id;
    negotiated_timeout_ = absl::Milliseconds(zoo_recv_timeout(handle_));
    reopen_backoff_.Reset();
    loop_.Cancel(unreachable_timer_);
    if (new_session) {
      LogInfo("zk_session_established", {{"session_id", absl::StrCat("0x", absl::Hex(session_id_))},
                                         {"timeout", absl::FormatDuration(negotiated_timeout_)}});
    } else {
      LogInfo("zk_session_reconnected",
              {{"session_id", absl::StrCat("0x", absl::Hex(session_id_))},
               {"after", absl::FormatDuration(loop_.clock().Now() - disconnected_since_)}});
    }
    SetState(ZkSessionState::kConnected);
  } else if (zk_state == ZOO_CONNECTING_STATE || zk_state == ZOO_ASSOCIATING_STATE) {
    if (state_ == ZkSessionState::kConnected) {
      disconnected_since_ = loop_.clock().Now();
      LogWarning("zk_connection_suspended",
                 {{"session_id", absl::StrCat("0x", absl::Hex(session_id_))}});
      SetState(ZkSessionState::kSuspended);
      ArmUnreachableWarning();
    }
  } else if (zk_state == ZOO_EXPIRED_SESSION_STATE) {
    LogWarning("zk_session_expired", {{"session_id", absl::StrCat("0x", absl::Hex(session_id_))}});
    CloseHandle();
    SetState(ZkSessionState::kExpired);
    OpenHandle();
  } else if (zk_state == ZOO_AUTH_FAILED_STATE) {
    CloseHandle();
    SetState(ZkSessionState::kAuthFailed);
    ScheduleReopen("authentication failed");
  }
}

void ZkSession::SetState(ZkSessionState state) {
  state_ = state;
  if (state == ZkSessionState::kConnecting) disconnected_since_ = loop_.clock().Now();
  ZkSessionEvent event = CurrentEvent();
  // A listener may add listeners; iterate by index over a stable prefix.
  size_t n = listeners_.size();
  for (size_t i = 0; i < n; ++i) listeners_[i](event);
}

ZkSessionEvent ZkSession::CurrentEvent() const {
  return ZkSessionEvent{state_, session_id_, negotiated_timeout_, generation_};
}

std::optional<ZkSession::Credentials> ZkSession::credentials() const {
  if (handle_ == nullptr || session_id_ == 0) return std::nullopt;
  const clientid_t* id = zoo_client_id(handle_);
  return Credentials{id->client_id, std::string(id->passwd, sizeof(id->passwd))};
}

void ZkSession::ArmUnreachableWarning() {
  loop_.Cancel(unreachable_timer_);
  absl::Duration interval = config_.session_timeout;
  unreachable_timer_ = loop_.RunAfter(interval, callbacks_.Bind([this]() {
    if (state_ == ZkSessionState::kConnected || closed_) return;
    LogWarning("zk_unreachable",
               {{"hosts", config_.hosts},
                {"state", ZkSessionStateName(state_)},
                {"for", absl::FormatDuration(loop_.clock().Now() - disconnected_since_)},
                {"msg", "no ZooKeeper server answers; still retrying"}});
    ArmUnreachableWarning();
  }));
}

void ZkSession::AddSessionListener(ZkSessionListener listener) {
  listeners_.push_back(std::move(listener));
  size_t index = listeners_.size() - 1;
  loop_.Post(callbacks_.Bind([this, index] { listeners_[index](CurrentEvent()); }));
}

uint64_t ZkSession::AddWatcher(ZkWatcher watcher) {
  if (!watcher) return 0;
  uint64_t id = next_watch_id_++;
  watchers_.emplace(id, WatchEntry{generation_, std::move(watcher)});
  return id;
}

void ZkSession::ForgetWatcher(uint64_t watch_id) { watchers_.erase(watch_id); }

void ZkSession::FireWatcher(uint64_t generation, uint64_t watch_id, ZkWatchEvent event) {
  auto it = watchers_.find(watch_id);
  if (it == watchers_.end() || it->second.generation != generation) return;
  ZkWatcher watcher = std::move(it->second.watcher);
  watchers_.erase(it);
  std::move(watcher)(event);
}

// The C callbacks. They run on the C client's completion thread and only post.
struct ZkSessionCallbacks {
  static void Watch(zhandle_t* zh, int type, int, const char* path, void* ctx) {
    if (type == ZOO_SESSION_EVENT) return;  // session news goes to the session watcher
    std::optional<ZkEventType> event_type = ToEventType(type);
    if (!event_type) return;
    auto* h = static_cast<const ZkSession::HandleContext*>(zoo_get_context(zh));
    if (h == nullptr) return;
    ZkSession* session = h->session;
    uint64_t generation = h->generation;
    uint64_t watch_id = reinterpret_cast<uintptr_t>(ctx);
    ZkWatchEvent event{*event_type, path == nullptr ? "" : path};
    PostIfAlive(h->loop, h->run_if_alive,
                [session, generation, watch_id, event = std::move(event)] {
                  session->FireWatcher(generation, watch_id, event);
                });
  }

  // A watch is set on the server only when the read succeeds (exists: also
  // when the node is missing); otherwise forget it.
  template <typename T>
  static void DeliverWatched(OpContext<T>* raw, T result, bool watch_set) {
    if (!watch_set && raw->watch_id != 0) {
      ZkSession* session = raw->session;
      uint64_t id = raw->watch_id;
      PostIfAlive(raw->loop, raw->run_if_alive, [session, id] { session->ForgetWatcher(id); });
    }
    Deliver(raw, std::move(result));
  }

  static void CreateDone(int rc, const char* path, const Stat* stat, const void* data) {
    auto* ctx = static_cast<OpContext<absl::StatusOr<ZkCreated>>*>(const_cast<void*>(data));
    if (rc != ZOK) return Deliver(ctx, absl::StatusOr<ZkCreated>(ZkErrorToStatus(rc, ctx->what)));
    Deliver(ctx, absl::StatusOr<ZkCreated>(ZkCreated{path, ToZkStat(stat)}));
  }

  static void VoidDone(int rc, const void* data) {
    auto* ctx = static_cast<OpContext<absl::Status>*>(const_cast<void*>(data));
    Deliver(ctx, ZkErrorToStatus(rc, ctx->what));
  }

  static void ExistsDone(int rc, const Stat* stat, const void* data) {
    using T = absl::StatusOr<std::optional<ZkStat>>;
    auto* ctx = static_cast<OpContext<T>*>(const_cast<void*>(data));
    if (rc == ZOK) return DeliverWatched(ctx, T(ToZkStat(stat)), true);
    if (rc == ZNONODE) return DeliverWatched(ctx, T(std::nullopt), true);
    DeliverWatched(ctx, T(ZkErrorToStatus(rc, ctx->what)), false);
  }

  static void GetDone(int rc, const char* value, int len, const Stat* stat, const void* data) {
    using T = absl::StatusOr<ZkNode>;
    auto* ctx = static_cast<OpContext<T>*>(const_cast<void*>(data));
    if (rc != ZOK) return DeliverWatched(ctx, T(ZkErrorToStatus(rc, ctx->what)), false);
    ZkNode node;
    if (value != nullptr && len > 0) node.data.assign(value, static_cast<size_t>(len));
    node.stat = ToZkStat(stat);
    DeliverWatched(ctx, T(std::move(node)), true);
  }

  static void AclDone(int rc, ACL_vector* acl, Stat*, const void* data) {
    using T = absl::StatusOr<std::vector<ZkAclEntry>>;
    auto* ctx = static_cast<OpContext<T>*>(const_cast<void*>(data));
    if (rc != ZOK) return Deliver(ctx, T(ZkErrorToStatus(rc, ctx->what)));
    std::vector<ZkAclEntry> entries;
    for (int i = 0; acl != nullptr && i < acl->count; ++i) {
      const ACL& entry = acl->data[i];
      entries.push_back({entry.id.scheme == nullptr ? "" : entry.id.scheme,
                         entry.id.id == nullptr ? "" : entry.id.id, entry.perms});
    }
    Deliver(ctx, T(std::move(entries)));
  }

  static void ChildrenDone(int rc, const String_vector* strings, const Stat*, const void* data) {
    using T = absl::StatusOr<std::vector<std::string>>;
    auto* ctx = static_cast<OpContext<T>*>(const_cast<void*>(data));
    if (rc != ZOK) return DeliverWatched(ctx, T(ZkErrorToStatus(rc, ctx->what)), false);
    std::vector<std::string> children;
    if (strings != nullptr) {
      children.reserve(static_cast<size_t>(strings->count));
      for (int i = 0; i < strings->count; ++i) children.emplace_back(strings->data[i]);
    }
    DeliverWatched(ctx, T(std::move(children)), true);
  }

  static void SetDone(int rc, const Stat* stat, const void* data) {
    using T = absl::StatusOr<ZkStat>;
    auto* ctx = static_cast<OpContext<T>*>(const_cast<void*>(data));
    if (rc != ZOK) return Deliver(ctx, T(ZkErrorToStatus(rc, ctx->what)));
    Deliver(ctx, T(ToZkStat(stat)));
  }
};

namespace {

// Everything a multi needs to stay alive until the C client completes it.
struct MultiContext {
  OpContext<absl::StatusOr<std::vector<ZkOpResult>>> op;
  std::vector<ZkOp> ops;
  std::vector<zoo_op_t> zoo_ops;
  std::vector<zoo_op_result_t> results;
  std::vector<Stat> stats;
  std::vector<std::array<char, 1024>> path_buffers;
};

void MultiDone(int rc, const void* data) {
  std::unique_ptr<MultiContext> ctx(static_cast<MultiContext*>(const_cast<void*>(data)));
  using T = absl::StatusOr<std::vector<ZkOpResult>>;
  auto* op = new OpContext<T>(std::move(ctx->op));
  if (rc != ZOK) {
    // Name the first op that failed: callers tell a failed fence from a
    // failed write this way.
    for (size_t i = 0; i < ctx->results.size(); ++i) {
      int err = ctx->results[i].err;
      if (err != ZOK && err != ZRUNTIMEINCONSISTENCY) {
        return Deliver(op,
                       T(WithFailedOp(ZkErrorToStatus(err, absl::StrCat(op->what, " op ", i, " (",
                                                                        ctx->ops[i].path, ")")),
                                      i)));
      }
    }
    return Deliver(op, T(ZkErrorToStatus(rc, op->what)));
  }
  std::vector<ZkOpResult> out(ctx->ops.size());
  for (size_t i = 0; i < ctx->ops.size(); ++i) {
    if (ctx->ops[i].type == ZkOp::Type::kCreate) out[i].created_path = ctx->path_buffers[i].data();
    if (ctx->ops[i].type == ZkOp::Type::kSet) out[i].stat = ToZkStat(&ctx->stats[i]);
  }
  Deliver(op, T(std::move(out)));
}

}  // namespace

template <typename T>
static OpContext<T>* NewOp(EventLoop& loop, const WeakCallbacks& callbacks, std::string what,
                           ZkCallback<T> done) {
  return new OpContext<T>{&loop, BindRunIfAlive(callbacks), std::move(what), std::move(done)};
}

// Runs when the C call could not even be queued (no handle, bad state).
template <typename T>
static void FailNow(EventLoop& loop, const WeakCallbacks& callbacks, OpContext<T>* ctx, int rc) {
  std::unique_ptr<OpContext<T>> owned(ctx);
  absl::Status status = ZkErrorToStatus(rc, ctx->what);
  loop.Post(callbacks.Bind(
      [done = std::move(owned->done), status]() mutable { std::move(done)(T(status)); }));
}

const ACL_vector* ZkSession::Acl() const {
  return config_.digest_auth.empty() ? &ZOO_OPEN_ACL_UNSAFE : &ZOO_CREATOR_ALL_ACL;
}

void ZkSession::Create(const std::string& path, std::string data, ZkCreateMode mode,
                       ZkCallback<absl::StatusOr<ZkCreated>> done) {
  auto* ctx = NewOp(loop_, callbacks_, absl::StrCat("create ", path), std::move(done));
  int rc = handle_ == nullptr
               ? ZINVALIDSTATE
               : zoo_acreate2(handle_, path.c_str(), data.data(), static_cast<int>(data.size()),
                              Acl(), ToZkMode(mode), &ZkSessionCallbacks::CreateDone, ctx);
  if (rc != ZOK) FailNow(loop_, callbacks_, ctx, rc);
}

void ZkSession::Delete(const std::string& path, int32_t version, ZkCallback<absl::Status> done) {
  auto* ctx = NewOp(loop_, callbacks_, absl::StrCat("delete ", path), std::move(done));
  int rc = handle_ == nullptr
               ? ZINVALIDSTATE
               : zoo_adelete(handle_, path.c_str(), version, &ZkSessionCallbacks::VoidDone, ctx);
  if (rc != ZOK) FailNow(loop_, callbacks_, ctx, rc);
}

void ZkSession::Exists(const std::string& path, ZkWatcher watcher,
                       ZkCallback<absl::StatusOr<std::optional<ZkStat>>> done) {
  auto* ctx = NewOp(loop_, callbacks_, absl::StrCat("exists ", path), std::move(done));
  ctx->session = this;
  ctx->watch_id = handle_ == nullptr ? 0 : AddWatcher(std::move(watcher));
  int rc = handle_ == nullptr
               ? ZINVALIDSTATE
               : zoo_awexists(
                     handle_, path.c_str(), ctx->watch_id ? &ZkSessionCallbacks::Watch : nullptr,
                     reinterpret_cast<void*>(ctx->watch_id), &ZkSessionCallbacks::ExistsDone, ctx);
  if (rc != ZOK) {
    ForgetWatcher(ctx->watch_id);
    FailNow(loop_, callbacks_, ctx, rc);
  }
}

void ZkSession::Get(const std::string& path, ZkWatcher watcher,
                    ZkCallback<absl::StatusOr<ZkNode>> done) {
  auto* ctx = NewOp(loop_, callbacks_, absl::StrCat("get ", path), std::move(done));
  ctx->session = this;
  ctx->watch_id = handle_ == nullptr ? 0 : AddWatcher(std::move(watcher));
  int rc =
      handle_ == nullptr
          ? ZINVALIDSTATE
          : zoo_awget(handle_, path.c_str(), ctx->watch_id ? &ZkSessionCallbacks::Watch : nullptr,
                      reinterpret_cast<void*>(ctx->watch_id), &ZkSessionCallbacks::GetDone, ctx);
  if (rc != ZOK) {
    ForgetWatcher(ctx->watch_id);
    FailNow(loop_, callbacks_, ctx, rc);
  }
}

void ZkSession::GetChildren(const std::string& path, ZkWatcher watcher,
                            ZkCallback<absl::StatusOr<std::vector<std::string>>> done) {
  auto* ctx = NewOp(loop_, callbacks_, absl::StrCat("get children ", path), std::move(done));
  ctx->session = this;
  ctx->watch_id = handle_ == nullptr ? 0 : AddWatcher(std::move(watcher));
  int rc = handle_ == nullptr
               ? ZINVALIDSTATE
               : zoo_awget_children2(handle_, path.c_str(),
                                     ctx->watch_id ? &ZkSessionCallbacks::Watch : nullptr,
                                     reinterpret_cast<void*>(ctx->watch_id),
                                     &ZkSessionCallbacks::ChildrenDone, ctx);
  if (rc != ZOK) {
    ForgetWatcher(ctx->watch_id);
    FailNow(loop_, callbacks_, ctx, rc);
  }
}

void ZkSession::GetAcl(const std::string& path,
                       ZkCallback<absl::StatusOr<std::vector<ZkAclEntry>>> done) {
  auto* ctx = NewOp(loop_, callbacks_, absl::StrCat("get acl ", path), std::move(done));
  int rc = handle_ == nullptr
               ? ZINVALIDSTATE
               : zoo_aget_acl(handle_, path.c_str(), &ZkSessionCallbacks::AclDone, ctx);
  if (rc != ZOK) FailNow(loop_, callbacks_, ctx, rc);
}

void ZkSession::Set(const std::string& path, std::string data, int32_t version,
                    ZkCallback<absl::StatusOr<ZkStat>> done) {
  auto* ctx = NewOp(loop_, callbacks_, absl::StrCat("set ", path), std::move(done));
  int rc = handle_ == nullptr
               ? ZINVALIDSTATE
               : zoo_aset(handle_, path.c_str(), data.data(), static_cast<int>(data.size()),
                          version, &ZkSessionCallbacks::SetDone, ctx);
  if (rc != ZOK) FailNow(loop_, callbacks_, ctx, rc);
}

void ZkSession::Multi(std::vector<ZkOp> ops,
                      ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done) {
  auto ctx = std::make_unique<MultiContext>();
  ctx->op = OpContext<absl::StatusOr<std::vector<ZkOpResult>>>{&loop_, BindRunIfAlive(callbacks_),
                                                               "multi", std::move(done)};
  ctx->ops = std::move(ops);
  size_t n = ctx->ops.size();
  ctx->zoo_ops.resize(n);
  ctx->results.resize(n);
  ctx->stats.resize(n);
  ctx->path_buffers.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const ZkOp& op = ctx->ops[i];
    switch (op.type) {
      case ZkOp::Type::kCheck:
        zoo_check_op_init(&ctx->zoo_ops[i], op.path.c_str(), op.version);
        break;
      case ZkOp::Type::kCreate:
        ctx->path_buffers[i][0] = '\0';
        zoo_create_op_init(&ctx->zoo_ops[i], op.path.c_str(), op.data.data(),
                           static_cast<int>(op.data.size()), Acl(), ToZkMode(op.mode),
                           ctx->path_buffers[i].data(),
                           static_cast<int>(ctx->path_buffers[i].size()));
        break;
      case ZkOp::Type::kSet:
        zoo_set_op_init(&ctx->zoo_ops[i], op.path.c_str(), op.data.data(),
                        static_cast<int>(op.data.size()), op.version, &ctx->stats[i]);
        break;
      case ZkOp::Type::kDelete:
        zoo_delete_op_init(&ctx->zoo_ops[i], op.path.c_str(), op.version);
        break;
    }
  }
  if (n == 0) {
    loop_.Post(callbacks_.Bind([done = std::move(ctx->op.done)]() mutable {
      std::move(done)(std::vector<ZkOpResult>{});
    }));
    return;
  }
  MultiContext* raw = ctx.release();
  int rc = handle_ == nullptr ? ZINVALIDSTATE
                              : zoo_amulti(handle_, static_cast<int>(n), raw->zoo_ops.data(),
                                           raw->results.data(), &MultiDone, raw);
  if (rc != ZOK) {
    std::unique_ptr<MultiContext> owned(raw);
    auto* op = new OpContext<absl::StatusOr<std::vector<ZkOpResult>>>(std::move(owned->op));
    FailNow(loop_, callbacks_, op, rc);
  }
}

std::ostream& operator<<(std::ostream& os, ZkEventType type) {
  switch (type) {
    case ZkEventType::kCreated:
      return os << "created";
    case ZkEventType::kDeleted:
      return os << "deleted";
    case ZkEventType::kDataChanged:
      return os << "data_changed";
    case ZkEventType::kChildrenChanged:
      return os << "children_changed";
    case ZkEventType::kNotWatching:
      return os << "not_watching";
  }
  return os << "unknown";
}

const char* ZkSessionStateName(ZkSessionState state) {
  switch (state) {
    case ZkSessionState::kConnecting:
      return "connecting";
    case ZkSessionState::kConnected:
      return "connected";
    case ZkSessionState::kSuspended:
      return "suspended";
    case ZkSessionState::kExpired:
      return "expired";
    case ZkSessionState::kAuthFailed:
      return "auth_failed";
    case ZkSessionState::kClosed:
      return "closed";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, ZkSessionState state) {
  return os << ZkSessionStateName(state);
}

}  // namespace mast
