#include "zk/zk_session.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/processes/tcp_proxy.h"
#include "tests/processes/wait.h"
#include "tests/support/zk_test_util.h"
#include "zk/zk_status.h"

namespace mast {
namespace {

using ::mast::testing::CallOnLoop;
using ::mast::testing::SharedZkServer;
using ::mast::testing::TestRoot;
using ::mast::testing::WaitFor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// A session on its own loop, with its state changes recorded.
class SessionHarness {
 public:
  explicit SessionHarness(ZkSessionConfig config) : loop_(RealClock::Default(), "zk-test") {
    auto session = ZkSession::Create(std::move(config), loop_);
    EXPECT_TRUE(session.ok()) << session.status();
    session_ = std::move(*session);
    loop_.Post([this] {
      session_->AddSessionListener([this](const ZkSessionEvent& e) {
        absl::MutexLock lock(&mu_);
        events_.push_back(e);
      });
    });
  }
  ~SessionHarness() {
    absl::Notification done;
    loop_.Post([&] {
      session_.reset();
      done.Notify();
    });
    done.WaitForNotification();
  }

  bool WaitForState(ZkSessionState state, size_t after = 0,
                    absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (size_t i = after; i < events_.size(); ++i) {
        if (events_[i].state == state) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }
  std::vector<ZkSessionEvent> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  EventLoop& loop() { return loop_; }
  ZkSession& session() { return *session_; }

  template <typename T, typename Start>
  T Call(Start start) {
    return CallOnLoop<T>(loop_, std::move(start));
  }
  absl::StatusOr<ZkCreated> Create(const std::string& path, std::string data,
                                   ZkCreateMode mode = ZkCreateMode::kPersistent) {
    return Call<absl::StatusOr<ZkCreated>>(
        [&, path, data](auto cb) { session_->Create(path, data, mode, std::move(cb)); });
  }
  absl::StatusOr<ZkNode> Get(const std::string& path, ZkWatcher watcher = nullptr) {
    auto w = std::make_shared<ZkWatcher>(std::move(watcher));
    return Call<absl::StatusOr<ZkNode>>(
        [&, path, w](auto cb) { session_->Get(path, std::move(*w), std::move(cb)); });
  }
  absl::StatusOr<std::optional<ZkStat>> Exists(const std::string& path,
                                               ZkWatcher watcher = nullptr) {
    auto w = std::make_shared<ZkWatcher>(std::move(watcher));
    return Call<absl::StatusOr<std::optional<ZkStat>>>(
        [&, path, w](auto cb) { session_->Exists(path, std::move(*w), std::move(cb)); });
  }
  absl::StatusOr<std::vector<std::string>> Children(const std::string& path,
                                                    ZkWatcher watcher = nullptr) {
    auto w = std::make_shared<ZkWatcher>(std::move(watcher));
    return Call<absl::StatusOr<std::vector<std::string>>>(
        [&, path, w](auto cb) { session_->GetChildren(path, std::move(*w), std::move(cb)); });
  }
  absl::StatusOr<ZkStat> Set(const std::string& path, std::string data, int32_t version) {
    return Call<absl::StatusOr<ZkStat>>(
        [&, path, data](auto cb) { session_->Set(path, data, version, std::move(cb)); });
  }
  absl::Status Delete(const std::string& path, int32_t version = -1) {
    return Call<absl::Status>(
        [&, path](auto cb) { session_->Delete(path, version, std::move(cb)); });
  }
  absl::StatusOr<std::vector<ZkOpResult>> Multi(std::vector<ZkOp> ops) {
    auto shared = std::make_shared<std::vector<ZkOp>>(std::move(ops));
    return Call<absl::StatusOr<std::vector<ZkOpResult>>>(
        [&, shared](auto cb) { session_->Multi(std::move(*shared), std::move(cb)); });
  }
  // Creates `path` and its parents.
  void CreatePath(const std::string& path) {
    ASSERT_TRUE(WaitForState(ZkSessionState::kConnected));
    for (size_t i = 1; i <= path.size(); ++i) {
      if (i == path.size() || path[i] == '/') {
        auto created = Create(path.substr(0, i), "");
        ASSERT_TRUE(created.ok() || absl::IsAlreadyExists(created.status())) << created.status();
      }
    }
  }

 private:
  EventLoop loop_;
  std::unique_ptr<ZkSession> session_;
  absl::Mutex mu_;
  std::vector<ZkSessionEvent> events_ ABSL_GUARDED_BY(mu_);
};

ZkSessionConfig Config() {
  ZkSessionConfig config;
  config.hosts = SharedZkServer().hosts();
  config.session_timeout = absl::Seconds(4);
  return config;
}

// Collects watch events delivered on the loop.
struct WatchLog {
  absl::Mutex mu;
  std::vector<ZkWatchEvent> events ABSL_GUARDED_BY(mu);
  ZkWatcher Watcher() {
    return [this](const ZkWatchEvent& e) {
      absl::MutexLock lock(&mu);
      events.push_back(e);
    };
  }
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return events.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }
};

TEST(ZkSessionTest, ConnectsAndReportsTheNegotiatedTimeout) {
  SessionHarness h(Config());
  ASSERT_TRUE(h.WaitForState(ZkSessionState::kConnected));
  auto events = h.events();
  const ZkSessionEvent& last = events.back();
  EXPECT_EQ(last.state, ZkSessionState::kConnected);
  EXPECT_NE(last.session_id, 0);
  EXPECT_EQ(last.negotiated_timeout, absl::Seconds(4));
  EXPECT_EQ(last.session_generation, 1u);
}

TEST(ZkSessionTest, CreateGetSetDeleteWithVersions) {
  SessionHarness h(Config());
  const std::string root = TestRoot();
  h.CreatePath(root);
  auto created = h.Create(root + "/a", "one");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->path, root + "/a");
  EXPECT_GT(created->stat.czxid, 0);

  auto node = h.Get(root + "/a");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->data, "one");
  EXPECT_EQ(node->stat.version, 0);

  EXPECT_EQ(h.Create(root + "/a", "again").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(h.Set(root + "/a", "two", 5).status().code(), absl::StatusCode::kAborted);
  auto set = h.Set(root + "/a", "two", 0);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->version, 1);
  EXPECT_EQ(h.Get(root + "/a")->data, "two");
  EXPECT_EQ(h.Delete(root + "/a", 0).code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(h.Delete(root + "/a", 1).ok());
  EXPECT_EQ(h.Get(root + "/a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(h.Exists(root + "/a")->has_value());
  EXPECT_EQ(h.Delete(root + "/a").code(), absl::StatusCode::kNotFound);
}

TEST(ZkSessionTest, SequentialNodesGetIncreasingSuffixes) {
  SessionHarness h(Config());
  const std::string root = TestRoot();
  h.CreatePath(root);
  auto a = h.Create(root + "/n-", "", ZkCreateMode::kEphemeralSequential);
  auto b = h.Create(root + "/n-", "", ZkCreateMode::kEphemeralSequential);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(a->path, b->path);
  EXPECT_LT(a->stat.czxid, b->stat.czxid);
  EXPECT_THAT(a->path, HasSubstr(root + "/n-00000000"));
}

TEST(ZkSessionTest, WatchesFireOnceOnTheLoop) {
  SessionHarness h(Config());
  const std::string root = TestRoot();
  h.CreatePath(root);
  ASSERT_TRUE(h.Create(root + "/x", "v").ok());
  WatchLog data_watch, exists_watch, child_watch;
  ASSERT_TRUE(h.Get(root + "/x", data_watch.Watcher()).ok());
  ASSERT_TRUE(h.Exists(root + "/missing", exists_watch.Watcher()).ok());
  ASSERT_TRUE(h.Children(root, child_watch.Watcher()).ok());

  ASSERT_TRUE(h.Set(root + "/x", "w", -1).ok());
  ASSERT_TRUE(data_watch.WaitFor(1));
  ASSERT_TRUE(h.Create(root + "/missing", "").ok());
  ASSERT_TRUE(exists_watch.WaitFor(1));
  ASSERT_TRUE(child_watch.WaitFor(1));
  ASSERT_TRUE(h.Set(root + "/x", "again", -1).ok());  // one-shot: no second event
  h.loop().Flush();
  {
    absl::MutexLock lock(&data_watch.mu);
    ASSERT_EQ(data_watch.events.size(), 1u);
    EXPECT_EQ(data_watch.events[0].type, ZkEventType::kDataChanged);
    EXPECT_EQ(data_watch.events[0].path, root + "/x");
  }
  {
    absl::MutexLock lock(&exists_watch.mu);
    EXPECT_EQ(exists_watch.events[0].type, ZkEventType::kCreated);
  }
  {
    absl::MutexLock lock(&child_watch.mu);
    EXPECT_EQ(child_watch.events[0].type, ZkEventType::kChildrenChanged);
  }
}

TEST(ZkSessionTest, MultiIsAllOrNothingAndNamesTheFailedOp) {
  SessionHarness h(Config());
  const std::string root = TestRoot();
  h.CreatePath(root);
  ASSERT_TRUE(h.Create(root + "/fence", "").ok());
  auto ok = h.Multi({ZkOp::Check(root + "/fence", 0),
                     ZkOp::Create(root + "/a", "1", ZkCreateMode::kPersistent),
                     ZkOp::Set(root + "/fence", "x", 0)});
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ((*ok)[1].created_path, root + "/a");
  EXPECT_EQ((*ok)[2].stat.version, 1);

  // The check fails (version is now 1): nothing of the multi happens.
  auto failed = h.Multi(
      {ZkOp::Check(root + "/fence", 0), ZkOp::Create(root + "/b", "2", ZkCreateMode::kPersistent)});
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("op 0"));
  EXPECT_EQ(FailedMultiOp(failed.status()), 0u);
  EXPECT_FALSE(h.Exists(root + "/b")->has_value());

  auto missing = h.Multi({ZkOp::Check(root + "/gone", -1), ZkOp::Delete(root + "/a", -1)});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FailedMultiOp(missing.status()), 0u);
  EXPECT_TRUE(h.Exists(root + "/a")->has_value());
}

TEST(ZkSessionTest, CloseRemovesEphemeralsAtOnce) {
  const std::string root = TestRoot();
  SessionHarness observer(Config());
  observer.CreatePath(root);
  {
    SessionHarness owner(Config());
    ASSERT_TRUE(owner.Create(root + "/eph", "", ZkCreateMode::kEphemeral).ok());
    ASSERT_TRUE(observer.Exists(root + "/eph")->has_value());
    CallOnLoop<bool>(owner.loop(), [&](auto cb) {
      owner.session().Close();
      cb(true);
    });
    EXPECT_TRUE(owner.WaitForState(ZkSessionState::kClosed));
    EXPECT_EQ(owner.Get(root + "/x").status().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_FALSE(observer.Exists(root + "/eph")->has_value());
}

TEST(ZkSessionTest, PartitionBeyondTheTimeoutExpiresAndANewSessionFollows) {
  const std::string root = TestRoot();
  auto proxy = testing::TcpProxy::Start(SharedZkServer().port());
  ASSERT_TRUE(proxy.ok());
  ZkSessionConfig config = Config();
  config.hosts = absl::StrCat("127.0.0.1:", (*proxy)->port());
  config.session_timeout = absl::Seconds(1);
  SessionHarness h(config);
  SessionHarness observer(Config());
  observer.CreatePath(root);
  ASSERT_TRUE(h.WaitForState(ZkSessionState::kConnected));
  ASSERT_TRUE(h.Create(root + "/eph", "", ZkCreateMode::kEphemeral).ok());
  WatchLog never;
  ASSERT_TRUE(h.Get(root + "/eph", never.Watcher()).ok());
  int64_t old_session = h.events().back().session_id;
  size_t before = h.events().size();

  (*proxy)->SetBlocked(true);
  ASSERT_TRUE(h.WaitForState(ZkSessionState::kSuspended, before));
  // The server expires the session: its ephemeral goes.
  ASSERT_TRUE(WaitFor([&] {
    auto e = observer.Exists(root + "/eph");
    return e.ok() && !e->has_value();
  }));
  (*proxy)->SetBlocked(false);
  ASSERT_TRUE(h.WaitForState(ZkSessionState::kExpired, before));
  size_t expired_at = before;
  for (auto events = h.events(); events[expired_at].state != ZkSessionState::kExpired;) {
    ++expired_at;
  }
  ASSERT_TRUE(h.WaitForState(ZkSessionState::kConnected, expired_at));
  auto events = h.events();
  EXPECT_EQ(events.back().state, ZkSessionState::kConnected);
  EXPECT_EQ(events.back().session_generation, 2u);
  EXPECT_NE(events.back().session_id, old_session);
  EXPECT_TRUE(h.Exists(root + "/other")->has_value() == false);  // the new session works
  h.loop().Flush();
  absl::MutexLock lock(&never.mu);
  EXPECT_TRUE(never.events.empty()) << "a watch of an expired session must not fire";
}

TEST(ZkSessionTest, ShortPartitionKeepsTheSessionAndItsWatches) {
  const std::string root = TestRoot();
  auto proxy = testing::TcpProxy::Start(SharedZkServer().port());
  ASSERT_TRUE(proxy.ok());
  ZkSessionConfig config = Config();
  config.hosts = absl::StrCat("127.0.0.1:", (*proxy)->port());
  config.session_timeout = absl::Seconds(4);
  SessionHarness h(config);
  SessionHarness writer(Config());
  writer.CreatePath(root);
  ASSERT_TRUE(h.WaitForState(ZkSessionState::kConnected));
  ASSERT_TRUE(writer.Create(root + "/x", "1").ok());
  WatchLog watch;
  ASSERT_TRUE(h.Get(root + "/x", watch.Watcher()).ok());
  int64_t session = h.events().back().session_id;
  size_t before = h.events().size();

  (*proxy)->SetBlocked(true);
  ASSERT_TRUE(h.WaitForState(ZkSessionState::kSuspended, before));
  ASSERT_TRUE(writer.Set(root + "/x", "2", -1).ok());  // changes while cut off
  (*proxy)->SetBlocked(false);
  ASSERT_TRUE(h.WaitForState(ZkSessionState::kConnected, before));
  EXPECT_EQ(h.events().back().session_id, session);
  // The watch set before the partition still fires for the change made during it.
  ASSERT_TRUE(watch.WaitFor(1));
  for (const auto& e : h.events()) EXPECT_NE(e.state, ZkSessionState::kExpired);
}

TEST(ZkSessionTest, DigestAuthProtectsWhatItCreates) {
  const std::string root = TestRoot();
  ZkSessionConfig with_auth = Config();
  with_auth.digest_auth = "mast:secret";
  SessionHarness owner(with_auth);
  SessionHarness stranger(Config());
  stranger.CreatePath(root);
  ASSERT_TRUE(owner.Create(root + "/private", "data").ok());
  EXPECT_EQ(owner.Get(root + "/private")->data, "data");
  EXPECT_EQ(stranger.Get(root + "/private").status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(ZkSessionTest, GetAclReportsTheDigestOrTheWorldEntry) {
  const std::string root = TestRoot();
  ZkSessionConfig with_auth = Config();
  with_auth.digest_auth = "mast:secret";
  SessionHarness owner(with_auth);
  SessionHarness open(Config());
  open.CreatePath(root);
  ASSERT_TRUE(owner.Create(root + "/private", "").ok());
  auto acl = [](SessionHarness& h, const std::string& path) {
    return h.Call<absl::StatusOr<std::vector<ZkAclEntry>>>(
        [&h, path](auto cb) { h.session().GetAcl(path, std::move(cb)); });
  };
  absl::StatusOr<std::vector<ZkAclEntry>> private_acl = acl(owner, root + "/private");
  ASSERT_TRUE(private_acl.ok()) << private_acl.status();
  ASSERT_EQ(private_acl->size(), 1u);
  EXPECT_EQ((*private_acl)[0].scheme, "digest");
  EXPECT_THAT((*private_acl)[0].id, ::testing::StartsWith("mast:"));
  EXPECT_EQ((*private_acl)[0].perms, 31);  // ZOO_PERM_ALL
  absl::StatusOr<std::vector<ZkAclEntry>> open_acl = acl(open, root);
  ASSERT_TRUE(open_acl.ok()) << open_acl.status();
  ASSERT_EQ(open_acl->size(), 1u);
  EXPECT_EQ((*open_acl)[0].scheme, "world");
  EXPECT_EQ((*open_acl)[0].id, "anyone");
  EXPECT_EQ(acl(open, root + "/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(ZkSessionTest, UnreachableServerKeepsConnectingAndFailsCallsAsUnavailable) {
  ZkSessionConfig config;
  config.hosts = absl::StrCat("127.0.0.1:", testing::PickFreePort());
  config.session_timeout = absl::Seconds(1);
  SessionHarness h(config);
  // Calls queue while connecting; they must not hang forever or crash.
  auto node = CallOnLoop<absl::StatusOr<ZkNode>>(
      h.loop(), [&](auto cb) { h.session().Get("/x", nullptr, std::move(cb)); }, absl::Seconds(30));
  EXPECT_EQ(node.status().code(), absl::StatusCode::kUnavailable) << node.status();
  auto events = h.events();
  for (const auto& e : events) EXPECT_NE(e.state, ZkSessionState::kConnected);
}

TEST(ZkSessionTest, ConfigValidationNamesTheField) {
  struct Case {
    std::string hosts;
    absl::Duration timeout;
    std::string auth;
    std::string expect;  // substring of the error; empty: valid
  };
  const Case cases[] = {
      {"127.0.0.1:2181", absl::Seconds(10), "", ""},
      {"a:1,b:2/chroot/x", absl::Seconds(10), "", ""},
      {"", absl::Seconds(10), "", "zk hosts"},
      {"localhost", absl::Seconds(10), "", "not host:port"},
      {"localhost:99999", absl::Seconds(10), "", "not host:port"},
      {"a:1/bad/", absl::Seconds(10), "", "chroot"},
      {"a:1", absl::Milliseconds(10), "", "session_timeout"},
      {"a:1", absl::Seconds(10), "nocolon", "digest_auth"},
  };
  for (const Case& c : cases) {
    ZkSessionConfig config;
    config.hosts = c.hosts;
    config.session_timeout = c.timeout;
    config.digest_auth = c.auth;
    absl::Status status = ValidateZkSessionConfig(config);
    if (c.expect.empty()) {
      EXPECT_TRUE(status.ok()) << c.hosts << ": " << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.hosts;
      EXPECT_THAT(std::string(status.message()), HasSubstr(c.expect));
    }
  }
}

TEST(ZkSessionTest, ConfigValidationNamesABadReopenBackoff) {
  ZkSessionConfig config;
  config.hosts = "127.0.0.1:2181";
  ASSERT_TRUE(ValidateZkSessionConfig(config).ok());
  config.reopen_backoff.max = config.reopen_backoff.initial / 2;
  absl::Status status = ValidateZkSessionConfig(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("reopen_backoff.max"));
}

}  // namespace
}  // namespace mast
