// The store and its read copy on a real ZooKeeper server (process tests:
// the unit cases over the fake are in zk_store_test.cc and
// state_cache_test.cc).

#include <memory>
#include <string>

#include "election/leader_elector.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "store/service_store.h"
#include "store/state_cache.h"
#include "store/zk_store.h"
#include "tests/processes/wait.h"
#include "tests/store/records_for_test.h"
#include "tests/support/zk_test_util.h"
#include "zk/zk_session.h"

namespace mast {
namespace {

using ::mast::testing::CallOnLoop;
using ::mast::testing::MakeService;
using ::mast::testing::MakeTasks;
using ::testing::IsEmpty;

// The same fence on a real ZooKeeper, with real leader election: the old
// leader's term no longer writes once the next one leads.
TEST(ZkStoreTest, DeposedLeaderCannotWriteOnARealZooKeeper) {
  EventLoop loop(RealClock::Default(), "store");
  ZkSessionConfig config;
  config.hosts = testing::SharedZkServer().hosts();
  config.session_timeout = absl::Seconds(2);
  const std::string root = testing::TestRoot();
  std::unique_ptr<ZkSession> a_zk = *ZkSession::Create(config, loop);
  std::unique_ptr<ZkSession> b_zk = *ZkSession::Create(config, loop);
  std::optional<LeaderTerm> a_term, b_term;
  auto make = [&](ZkSession& zk, const std::string& id, std::optional<LeaderTerm>* term) {
    LeaderElectorConfig ec;
    ec.election_path = root + "/election";
    ec.replica_id = id;
    ec.advertise_address = id + ":1";
    LeaderCallbacks callbacks;
    callbacks.on_started_leading = [term](const LeaderTerm& t) { *term = t; };
    return *LeaderElector::Create(ec, zk, loop, std::move(callbacks), nullptr);
  };
  std::unique_ptr<LeaderElector> a = make(*a_zk, "a", &a_term);
  loop.Post([&] { a->Start(); });
  ASSERT_TRUE(testing::WaitFor(
      [&] { return CallOnLoop<bool>(loop, [&](auto cb) { cb(a_term.has_value()); }); }));
  std::unique_ptr<LeaderElector> b = make(*b_zk, "b", &b_term);
  loop.Post([&] { b->Start(); });
  ZkStore a_store(*a_zk, root);
  ZkStore b_store(*b_zk, root);
  LeaderTerm old_term = CallOnLoop<LeaderTerm>(loop, [&](auto cb) { cb(*a_term); });
  ASSERT_TRUE(CallOnLoop<absl::Status>(loop, [&](auto cb) {
                a_store.WriteFrameworkId(old_term, "fw-a", std::move(cb));
              }).ok());

  ASSERT_TRUE(CallOnLoop<absl::Status>(loop, [&](auto cb) { a->Resign(std::move(cb)); }).ok());
  ASSERT_TRUE(testing::WaitFor(
      [&] { return CallOnLoop<bool>(loop, [&](auto cb) { cb(b_term.has_value()); }); }));
  absl::Status deposed = CallOnLoop<absl::Status>(
      loop, [&](auto cb) { a_store.WriteFrameworkId(old_term, "fw-stale", std::move(cb)); });
  EXPECT_EQ(deposed.code(), absl::StatusCode::kFailedPrecondition) << deposed;
  LeaderTerm new_term = CallOnLoop<LeaderTerm>(loop, [&](auto cb) { cb(*b_term); });
  EXPECT_GT(new_term.fencing_token, old_term.fencing_token);
  ASSERT_TRUE(CallOnLoop<absl::Status>(loop, [&](auto cb) {
                b_store.WriteFrameworkId(new_term, "fw-a", std::move(cb));
              }).ok());
  auto read = CallOnLoop<absl::StatusOr<std::optional<std::string>>>(
      loop, [&](auto cb) { b_store.ReadFrameworkId(std::move(cb)); });
  EXPECT_EQ(read->value_or(""), "fw-a");
  loop.Post([&] {
    a.reset();
    b.reset();
    a_zk.reset();
    b_zk.reset();
  });
  loop.Flush();
}

// A writer and, in a second session, a cache, on a real ZooKeeper.
TEST(StateCacheTest, ConvergesWithAWriterOnARealZooKeeper) {
  EventLoop loop(RealClock::Default(), "store");
  ZkSessionConfig config;
  config.hosts = testing::SharedZkServer().hosts();
  config.session_timeout = absl::Seconds(4);
  const std::string root = testing::TestRoot();
  std::unique_ptr<ZkSession> writer_zk = *ZkSession::Create(config, loop);
  std::unique_ptr<ZkSession> cache_zk = *ZkSession::Create(config, loop);
  auto made = CallOnLoop<absl::StatusOr<ZkCreated>>(loop, [&](auto cb) {
    writer_zk->Create("/t", "", ZkCreateMode::kPersistent, [](auto) {});
    writer_zk->Create(root, "", ZkCreateMode::kPersistent, [](auto) {});
    writer_zk->Create(root + "/election", "", ZkCreateMode::kPersistent, [](auto) {});
    writer_zk->Create(root + "/election/n_w-", "", ZkCreateMode::kEphemeralSequential,
                      std::move(cb));
  });
  ASSERT_TRUE(made.ok()) << made.status();
  LeaderTerm term{static_cast<uint64_t>(made->stat.czxid), made->path, absl::Now()};
  auto zk_store = std::make_unique<ZkStore>(*writer_zk, root);
  auto store = std::make_unique<ServiceStore>(*writer_zk, *zk_store);
  prometheus::Registry registry;
  StateCacheMetrics metrics(registry);
  auto cache = std::make_unique<StateCache>(*cache_zk, loop, root, &metrics);
  loop.Post([&] { cache->Start(); });

  auto put = CallOnLoop<absl::StatusOr<int32_t>>(loop, [&](auto cb) {
    store->PutService(term, MakeService("team/web", 3), ServiceStore::kMustNotExist, std::move(cb));
  });
  ASSERT_TRUE(put.ok()) << put.status();
  ASSERT_TRUE(CallOnLoop<absl::Status>(loop, [&](auto cb) {
                store->PutService(term, MakeService("api", 1), ServiceStore::kMustNotExist,
                                  [cb = std::move(cb)](absl::StatusOr<int32_t> r) mutable {
                                    std::move(cb)(r.status());
                                  });
              }).ok());
  // Large enough to be sharded on the real server (each request under 1 MB).
  absl::Status tasks = CallOnLoop<absl::Status>(loop, [&](auto cb) {
    store->PutTasks(term, "team/web", MakeTasks("team/web", 300'000), std::move(cb));
  });
  ASSERT_TRUE(tasks.ok()) << tasks;
  auto head = CallOnLoop<absl::StatusOr<ZkNode>>(loop, [&](auto cb) {
    writer_zk->Get(root + "/state/tasks/team%2Fweb", nullptr, std::move(cb));
  });
  ASSERT_TRUE(head.ok()) << head.status();
  mast::v1::records::TaskRecordsHead parsed;
  ASSERT_TRUE(parsed.ParseFromString(head->data));
  EXPECT_GT(parsed.shard_count(), 1u);
  auto converged = [&](auto&& predicate) {
    return testing::WaitFor([&] {
      auto snapshot = cache->snapshot();
      return snapshot->synced && predicate(*snapshot);
    });
  };
  EXPECT_TRUE(converged([](const StateSnapshot& s) {
    return s.services.size() == 2 && s.tasks.count("team/web") > 0 &&
           s.tasks.at("team/web")->tasks_size() == 300'000;
  }));

  ASSERT_TRUE(CallOnLoop<absl::Status>(loop, [&](auto cb) {
                store->DeleteService(term, "team/web", std::move(cb));
              }).ok());
  EXPECT_TRUE(converged([](const StateSnapshot& s) {
    return s.services.size() == 1 && s.services.count("api") == 1 && s.tasks.empty();
  }));
  EXPECT_THAT(cache->snapshot()->corrupt, IsEmpty());

  loop.Post([&] {
    cache.reset();
    store.reset();
    zk_store.reset();
    writer_zk.reset();
    cache_zk.reset();
  });
  loop.Flush();
}

}  // namespace
}  // namespace mast
