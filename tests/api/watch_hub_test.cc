// WatchHub over a hand-made sequence of StateSnapshots (no ZooKeeper, no
// gRPC): the diff, the initial state, resuming, the prefix filter, the
// bounded queues, and subscriptions racing the loop.

#include "api/watch_hub.h"

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace mast {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::shared_ptr<const StoredService> Svc(const std::string& name, uint64_t version,
                                         uint32_t instances = 1) {
  auto stored = std::make_shared<StoredService>();
  v1::Service* service = stored->record.mutable_service();
  service->mutable_spec()->set_name(name);
  service->mutable_spec()->set_instances(instances);
  service->set_version(version);
  service->set_task_version(1);
  return stored;
}

v1::Task MakeTask(const std::string& id, v1::Task::State state) {
  v1::Task task;
  task.set_id(id);
  task.set_state(state);
  task.set_version(1);
  return task;
}

std::shared_ptr<const v1::records::TaskRecords> Tasks(std::vector<v1::Task> tasks) {
  auto records = std::make_shared<v1::records::TaskRecords>();
  for (v1::Task& task : tasks) *records->add_tasks() = std::move(task);
  return records;
}

// Builds successive snapshots: each starts as a copy of the previous one
// (sharing its record objects, as the StateCache does).
class Sequence {
 public:
  StateSnapshot& Next(int64_t version) {
    auto next = std::make_shared<StateSnapshot>(last_ == nullptr ? StateSnapshot() : *last_);
    next->store_version = version;
    next->synced = true;
    next->corrupt.clear();
    last_ = next;
    return *next;
  }
  std::shared_ptr<const StateSnapshot> last() const { return last_; }

 private:
  std::shared_ptr<StateSnapshot> last_;
};

std::string Describe(const v1::WatchEvent& event) {
  std::string what = v1::WatchEvent::Type_Name(event.type());
  if (event.has_service()) {
    absl::StrAppend(&what, " service ", event.service().spec().name(), " v",
                    event.service().version());
    if (event.service().deleting()) absl::StrAppend(&what, " deleting");
  } else if (event.has_task()) {
    absl::StrAppend(&what, " task ", event.task().service(), "/", event.task().id(), " ",
                    v1::Task::State_Name(event.task().state()));
  } else if (event.has_deployment()) {
    const v1::Deployment& d = event.deployment();
    absl::StrAppend(&what, " deployment ", d.service(), "/", d.id(), " ",
                    v1::Deployment::State_Name(d.state()), " step ", d.step(), " new ",
                    d.progress().new_tasks());
  } else if (event.has_audit()) {
    absl::StrAppend(&what, " audit ", event.audit().method(), " ", event.audit().service(), " ",
                    event.audit().code());
  } else if (event.has_leader()) {
    absl::StrAppend(&what, " leader ",
                    event.leader().leader_known() ? event.leader().leader_id() : "none");
  }
  return absl::StrCat(what, " @", event.store_version());
}

// Takes everything the subscription has now, as a consumer whose writes
// complete at once would.
std::vector<std::string> Drain(WatchSubscription& subscription) {
  std::vector<std::string> out;
  for (int i = 0; i < 100000; ++i) {
    std::optional<WatchSubscription::Step> step = subscription.Next();
    if (!step.has_value()) break;
    if (step->end.has_value()) {
      out.push_back(absl::StrCat("END ", absl::StatusCodeToString(step->end->code()), " ",
                                 step->end->message()));
      break;
    }
    out.push_back(Describe(*step->event));
    subscription.Written();
  }
  return out;
}

v1::WatchEventsRequest From(int64_t version, const std::string& prefix = "") {
  v1::WatchEventsRequest request;
  request.set_from_version(version);
  request.set_service_prefix(prefix);
  return request;
}

class WatchHubTest : public ::testing::Test {
 protected:
  std::shared_ptr<WatchSubscription> Subscribe(const v1::WatchEventsRequest& request,
                                               int* wakes = nullptr) {
    auto subscription = hub_.Subscribe(request, [wakes] {
      if (wakes != nullptr) ++*wakes;
    });
    EXPECT_TRUE(subscription.ok()) << subscription.status();
    return subscription.ok() ? *subscription : nullptr;
  }
  // s10: a (task a.1 staging), b. The base.
  void Base() {
    StateSnapshot& s = seq_.Next(10);
    s.services["a"] = Svc("a", 1);
    s.services["b"] = Svc("b", 1);
    s.tasks["a"] = Tasks({MakeTask("a.1", v1::Task::STAGING)});
    hub_.OnSnapshot(seq_.last());
  }
  // s20: a.1 runs, a.2 added; c added; b the same record object.
  void Change20() {
    StateSnapshot& s = seq_.Next(20);
    s.tasks["a"] = Tasks({MakeTask("a.1", v1::Task::RUNNING), MakeTask("a.2", v1::Task::STAGING)});
    s.services["c"] = Svc("c", 1);
    hub_.OnSnapshot(seq_.last());
  }
  // s30: b deleted; a marked deleting; a.2 gone.
  void Change30() {
    StateSnapshot& s = seq_.Next(30);
    s.services.erase("b");
    auto deleting = std::make_shared<StoredService>(*Svc("a", 2));
    deleting->record.mutable_service()->set_deleting(true);
    s.services["a"] = deleting;
    s.tasks["a"] = Tasks({MakeTask("a.1", v1::Task::RUNNING)});
    hub_.OnSnapshot(seq_.last());
  }
  v1::GetLeaderResponse Leader(const std::string& id) {
    v1::GetLeaderResponse leader;
    leader.set_leader_known(true);
    leader.set_leader_id(id);
    leader.set_replica_id("r0");
    return leader;
  }

  WatchHub hub_{WatchHub::Options{.history_events = 100, .queue_events = 100}};
  Sequence seq_;
};

TEST_F(WatchHubTest, InitialStateThenChangesStampedWithTheirStoreVersion) {
  int wakes = 0;
  auto early = Subscribe(From(0), &wakes);
  EXPECT_THAT(Drain(*early), IsEmpty());               // nothing loaded yet: waits
  hub_.OnSnapshot(std::make_shared<StateSnapshot>());  // never loaded: ignored
  hub_.OnLeader(Leader("r1"));
  EXPECT_EQ(wakes, 0);
  Base();
  EXPECT_EQ(wakes, 1);
  EXPECT_THAT(Drain(*early),
              ElementsAre("LEADER leader r1 @10", "ADDED service a v1 @10",
                          "ADDED task a/a.1 STAGING @10", "ADDED service b v1 @10", "SYNCED @10"));
  // A stream opened now starts the same way (the leader, reported before
  // the base, at the base's version).
  auto later = Subscribe(From(0));
  EXPECT_THAT(Drain(*later),
              ElementsAre("LEADER leader r1 @10", "ADDED service a v1 @10",
                          "ADDED task a/a.1 STAGING @10", "ADDED service b v1 @10", "SYNCED @10"));

  Change20();
  EXPECT_EQ(wakes, 2);
  // a's status changed with its tasks (one runs now): MODIFIED as well.
  EXPECT_THAT(Drain(*early),
              ElementsAre("MODIFIED service a v1 @20", "MODIFIED task a/a.1 RUNNING @20",
                          "ADDED task a/a.2 STAGING @20", "ADDED service c v1 @20"));
  Change30();
  hub_.OnLeader(Leader("r2"));
  hub_.OnLeader(Leader("r2"));  // the same again: no event
  EXPECT_THAT(Drain(*early),
              ElementsAre("MODIFIED service a v2 deleting @30", "DELETED task a/a.2 STAGING @30",
                          "DELETED service b v1 @30", "LEADER leader r2 @30"));
  EXPECT_THAT(Drain(*later),
              ElementsAre("MODIFIED service a v1 @20", "MODIFIED task a/a.1 RUNNING @20",
                          "ADDED task a/a.2 STAGING @20", "ADDED service c v1 @20",
                          "MODIFIED service a v2 deleting @30", "DELETED task a/a.2 STAGING @30",
                          "DELETED service b v1 @30", "LEADER leader r2 @30"));
}

TEST_F(WatchHubTest, UnchangedContentMakesNoEvent) {
  Base();
  auto sub = Subscribe(From(0));
  Drain(*sub);
  // New objects with the same content, and an unreadable snapshot after a
  // session loss (the last known state again): nothing to report.
  StateSnapshot& s = seq_.Next(11);
  s.services["a"] = Svc("a", 1);
  s.tasks["a"] = Tasks({MakeTask("a.1", v1::Task::STAGING)});
  hub_.OnSnapshot(seq_.last());
  auto stale = std::make_shared<StateSnapshot>(*seq_.last());
  stale->synced = false;
  hub_.OnSnapshot(stale);
  EXPECT_THAT(Drain(*sub), IsEmpty());
}

TEST_F(WatchHubTest, UnreadableRecordsAreNotReportedDeleted) {
  Base();
  auto sub = Subscribe(From(0));
  Drain(*sub);
  StateSnapshot& s = seq_.Next(12);
  s.services.erase("b");
  s.corrupt.push_back({"/mast/state/services/b", "bad protobuf"});
  s.tasks.erase("a");
  s.corrupt.push_back({"/mast/state/tasks/a", "crc mismatch"});
  hub_.OnSnapshot(seq_.last());
  EXPECT_THAT(Drain(*sub), IsEmpty());
  // Repaired: back as it was, still nothing; then really deleted.
  StateSnapshot& repaired = seq_.Next(13);
  repaired.services["b"] = Svc("b", 1);
  repaired.tasks["a"] = Tasks({MakeTask("a.1", v1::Task::STAGING)});
  hub_.OnSnapshot(seq_.last());
  EXPECT_THAT(Drain(*sub), IsEmpty());
  seq_.Next(14).services.erase("b");
  hub_.OnSnapshot(seq_.last());
  EXPECT_THAT(Drain(*sub), ElementsAre("DELETED service b v1 @14"));
}

TEST_F(WatchHubTest, PrefixFiltersServicesAndTheirTasks) {
  Base();
  auto only_a = Subscribe(From(0, "a"));
  auto none = Subscribe(From(0, "zzz"));
  EXPECT_THAT(Drain(*only_a),
              ElementsAre("ADDED service a v1 @10", "ADDED task a/a.1 STAGING @10", "SYNCED @10"));
  EXPECT_THAT(Drain(*none), ElementsAre("SYNCED @10"));
  Change20();
  hub_.OnLeader(Leader("r1"));
  EXPECT_THAT(Drain(*only_a),
              ElementsAre("MODIFIED service a v1 @20", "MODIFIED task a/a.1 RUNNING @20",
                          "ADDED task a/a.2 STAGING @20", "LEADER leader r1 @20"));
  EXPECT_THAT(Drain(*none), ElementsAre("LEADER leader r1 @20"));
}

TEST_F(WatchHubTest, ResumesFromHistoryOrStartsOverWhenItIsGone) {
  Base();
  Change20();
  Change30();
  // From the base's version: the changes after it.
  auto resumed = Subscribe(From(10));
  EXPECT_THAT(Drain(*resumed),
              ElementsAre("MODIFIED service a v1 @20", "MODIFIED task a/a.1 RUNNING @20",
                          "ADDED task a/a.2 STAGING @20", "ADDED service c v1 @20",
                          "MODIFIED service a v2 deleting @30", "DELETED task a/a.2 STAGING @30",
                          "DELETED service b v1 @30"));
  auto from_20 = Subscribe(From(20));
  EXPECT_THAT(Drain(*from_20),
              ElementsAre("MODIFIED service a v2 deleting @30", "DELETED task a/a.2 STAGING @30",
                          "DELETED service b v1 @30"));
  auto current = Subscribe(From(30));
  EXPECT_THAT(Drain(*current), IsEmpty());
  // Older than the base: the current state, then SYNCED.
  auto too_old = Subscribe(From(5));
  EXPECT_THAT(Drain(*too_old),
              ElementsAre("ADDED service a v2 deleting @30", "ADDED task a/a.1 RUNNING @30",
                          "ADDED service c v1 @30", "SYNCED @30"));
  EXPECT_EQ(hub_.Subscribe(From(-1), [] {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(WatchHubTest, AResumedStreamStartsWithWhoLeadsNow) {
  Base();
  Change20();
  hub_.OnLeader(Leader("r2"));  // a leader change writes no state: stamped @20
  // A client that saw everything up to 20 but not the leader change.
  auto resumed = Subscribe(From(20));
  EXPECT_THAT(Drain(*resumed), ElementsAre("LEADER leader r2 @20"));
  Change30();
  auto from_10 = Subscribe(From(10));
  // The change is in the history after 10: it comes once, in its place.
  std::vector<std::string> events = Drain(*from_10);
  EXPECT_EQ(std::count_if(events.begin(), events.end(),
                          [](const std::string& e) { return e.rfind("LEADER", 0) == 0; }),
            1);
  EXPECT_EQ(std::count(events.begin(), events.end(), "LEADER leader r2 @20"), 1);
}

// `name` at `version` with a deployment `id` in `state` at `step`.
std::shared_ptr<const StoredService> Deploying(const std::string& name, uint64_t version,
                                               const std::string& id, v1::Deployment::State state,
                                               uint32_t step = 0) {
  auto stored = std::make_shared<StoredService>(*Svc(name, version));
  v1::Deployment* deployment = stored->record.mutable_service()->mutable_deployment();
  deployment->set_id(id);
  deployment->set_state(state);
  deployment->set_step(step);
  return stored;
}

TEST_F(WatchHubTest, TheInitialStateHasEachServicesDeploymentAfterIt) {
  StateSnapshot& s = seq_.Next(10);
  s.services["a"] = Deploying("a", 1, "1-x", v1::Deployment::PAUSED, 1);
  s.services["b"] = Svc("b", 1);
  s.tasks["a"] = Tasks({MakeTask("a.1", v1::Task::RUNNING)});
  hub_.OnSnapshot(seq_.last());
  EXPECT_THAT(
      Drain(*Subscribe(From(0))),
      ElementsAre("ADDED service a v1 @10", "ADDED deployment a/1-x PAUSED step 1 new 1 @10",
                  "ADDED task a/a.1 RUNNING @10", "ADDED service b v1 @10", "SYNCED @10"));
  EXPECT_THAT(Drain(*Subscribe(From(0, "b"))), ElementsAre("ADDED service b v1 @10", "SYNCED @10"));
}

TEST_F(WatchHubTest, ADeploymentsStartAndMovesComeBeforeItsServicesChange) {
  Base();
  auto all = Subscribe(From(0));
  auto only_b = Subscribe(From(0, "b"));
  Drain(*all);
  Drain(*only_b);

  seq_.Next(20).services["a"] = Deploying("a", 2, "2-y", v1::Deployment::RUNNING);
  hub_.OnSnapshot(seq_.last());
  seq_.Next(30).services["a"] = Deploying("a", 2, "2-y", v1::Deployment::RUNNING, 1);
  hub_.OnSnapshot(seq_.last());
  // Only the tasks move: the service's status and progress, no deployment event.
  seq_.Next(40).tasks["a"] =
      Tasks({MakeTask("a.1", v1::Task::RUNNING), MakeTask("a.2", v1::Task::STAGING)});
  hub_.OnSnapshot(seq_.last());
  // The record changes otherwise (updated time), the deployment the same.
  auto touched =
      std::make_shared<StoredService>(*Deploying("a", 2, "2-y", v1::Deployment::RUNNING, 1));
  touched->record.mutable_service()->mutable_updated()->set_seconds(5);
  seq_.Next(50).services["a"] = touched;
  hub_.OnSnapshot(seq_.last());
  seq_.Next(60).services["a"] = Deploying("a", 2, "2-y", v1::Deployment::SUCCEEDED, 1);
  hub_.OnSnapshot(seq_.last());
  // A new service that comes with a deployment: after its ADDED.
  seq_.Next(70).services["c"] = Deploying("c", 1, "1-z", v1::Deployment::RUNNING);
  hub_.OnSnapshot(seq_.last());

  EXPECT_THAT(
      Drain(*all),
      ElementsAre("ADDED deployment a/2-y RUNNING step 0 new 1 @20", "MODIFIED service a v2 @20",
                  "MODIFIED deployment a/2-y RUNNING step 1 new 1 @30", "MODIFIED service a v2 @30",
                  "MODIFIED service a v2 @40", "MODIFIED task a/a.1 RUNNING @40",
                  "ADDED task a/a.2 STAGING @40", "MODIFIED service a v2 @50",
                  "MODIFIED deployment a/2-y SUCCEEDED step 1 new 2 @60",
                  "MODIFIED service a v2 @60", "ADDED service c v1 @70",
                  "ADDED deployment c/1-z RUNNING step 0 new 0 @70"));
  EXPECT_THAT(Drain(*only_b), IsEmpty());
}

TEST(WatchHubHistoryTest, TrimmedHistoryMovesTheResumeFloor) {
  WatchHub hub(WatchHub::Options{.history_events = 2, .queue_events = 100});
  Sequence seq;
  seq.Next(10);
  hub.OnSnapshot(seq.last());
  for (int i = 1; i <= 3; ++i) {
    seq.Next(10 + i).services[absl::StrCat("s", i)] = Svc(absl::StrCat("s", i), 1);
    hub.OnSnapshot(seq.last());
  }
  // History: s2 @12, s3 @13; the floor is 11.
  auto from_11 = hub.Subscribe(From(11), [] {});
  ASSERT_TRUE(from_11.ok());
  EXPECT_THAT(Drain(**from_11), ElementsAre("ADDED service s2 v1 @12", "ADDED service s3 v1 @13"));
  auto from_10 = hub.Subscribe(From(10), [] {});
  ASSERT_TRUE(from_10.ok());
  EXPECT_THAT(Drain(**from_10), ElementsAre("ADDED service s1 v1 @13", "ADDED service s2 v1 @13",
                                            "ADDED service s3 v1 @13", "SYNCED @13"));
}

TEST_F(WatchHubTest, OneWriteAtATimeAndAWakeOnlyWhenIdle) {
  Base();
  int wakes = 0;
  auto sub = Subscribe(From(30), &wakes);  // newer than anything: no replay
  EXPECT_FALSE(sub->Next().has_value());   // idle: armed
  Change20();
  EXPECT_EQ(wakes, 1);
  auto first = sub->Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(sub->Next().has_value());  // a write is in flight
  Change30();
  EXPECT_EQ(wakes, 1);  // not idle: the consumer comes back by itself
  sub->Written();
  EXPECT_EQ(Drain(*sub).size(), 6u);
  EXPECT_EQ(sub->queued(), 0u);
}

TEST_F(WatchHubTest, ASlowConsumerIsEndedWithTheVersionToResumeFromOthersGoOn) {
  prometheus::Registry registry;
  WatchMetrics metrics(registry);
  WatchHub hub(WatchHub::Options{.history_events = 1000, .queue_events = 4}, &metrics);
  Sequence seq;
  seq.Next(10);
  hub.OnSnapshot(seq.last());
  int slow_wakes = 0;
  auto slow = hub.Subscribe(From(0), [&] { ++slow_wakes; });
  auto fast = hub.Subscribe(From(0), [] {});
  ASSERT_TRUE(slow.ok() && fast.ok());
  EXPECT_THAT(Drain(**slow), ElementsAre("SYNCED @10"));
  Drain(**fast);
  // Two services a snapshot. The slow one takes one event and stalls (its
  // write never completes); the fast one keeps up.
  std::vector<std::string> fast_seen;
  for (int i = 1; i <= 4; ++i) {
    StateSnapshot& s = seq.Next(10 + i);
    s.services[absl::StrCat("x", i)] = Svc(absl::StrCat("x", i), 1);
    s.services[absl::StrCat("y", i)] = Svc(absl::StrCat("y", i), 1);
    hub.OnSnapshot(seq.last());
    if (i == 1) {
      auto taken = (*slow)->Next();
      ASSERT_TRUE(taken.has_value() && taken->event != nullptr);
    }
    for (const std::string& e : Drain(**fast)) fast_seen.push_back(e);
  }
  EXPECT_EQ(fast_seen.size(), 8u);
  // @11: x1 taken, y1 queued (1); @12: 3; @13 would be 5 > 4: ended, the
  // queue dropped at once. 10 is the last version it has all of.
  EXPECT_EQ((*slow)->queued(), 0u);
  EXPECT_EQ(slow_wakes, 1);                   // armed before the first change
  EXPECT_FALSE((*slow)->Next().has_value());  // its write is still in flight
  (*slow)->Written();
  EXPECT_THAT(
      Drain(**slow),
      ElementsAre("END RESOURCE_EXHAUSTED watch consumer too slow; resume from version 10"));
  EXPECT_FALSE((*slow)->Next().has_value());  // the end is yielded once
  // Resuming from there replays what it missed.
  auto resumed = hub.Subscribe(From(10), [] {});
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(Drain(**resumed).size(), 8u);
  EXPECT_EQ(hub.subscriptions(), 3u);
  EXPECT_EQ(metrics.streams.Value(), 3);
  EXPECT_EQ(metrics.dropped.Value(), 1);
  hub.Unsubscribe(*slow);
  hub.Unsubscribe(*slow);  // twice: counted once
  EXPECT_EQ(hub.subscriptions(), 2u);
  EXPECT_EQ(metrics.streams.Value(), 2);
}

TEST_F(WatchHubTest, ACaughtUpConsumerTakesALargeBatchWhole) {
  WatchHub hub(WatchHub::Options{.history_events = 1000, .queue_events = 3});
  Sequence seq;
  seq.Next(10);
  hub.OnSnapshot(seq.last());
  auto sub = hub.Subscribe(From(0), [] {});
  ASSERT_TRUE(sub.ok());
  Drain(**sub);
  StateSnapshot& s = seq.Next(11);
  for (int i = 0; i < 10; ++i) s.services[absl::StrCat("s", i)] = Svc(absl::StrCat("s", i), 1);
  hub.OnSnapshot(seq.last());
  EXPECT_EQ((*sub)->queued(), 10u);
  EXPECT_EQ(Drain(**sub).size(), 10u);
}

TEST_F(WatchHubTest, TheResumeVersionCountsOnlyCompleteVersions) {
  WatchHub hub(WatchHub::Options{.history_events = 1000, .queue_events = 3});
  Sequence seq;
  seq.Next(10);
  hub.OnSnapshot(seq.last());
  auto sub = hub.Subscribe(From(0), [] {});
  ASSERT_TRUE(sub.ok());
  Drain(**sub);
  // Three services at @11: the consumer takes two of them...
  StateSnapshot& s = seq.Next(11);
  for (const char* name : {"p", "q", "r"}) s.services[name] = Svc(name, 1);
  hub.OnSnapshot(seq.last());
  ASSERT_TRUE((*sub)->Next().has_value());
  (*sub)->Written();
  ASSERT_TRUE((*sub)->Next().has_value());
  (*sub)->Written();
  // ...then overflows: it has not all of @11.
  StateSnapshot& t = seq.Next(12);
  for (const char* name : {"s", "t", "u"}) t.services[name] = Svc(name, 1);
  hub.OnSnapshot(seq.last());
  EXPECT_THAT(
      Drain(**sub),
      ElementsAre("END RESOURCE_EXHAUSTED watch consumer too slow; resume from version 10"));
}

TEST_F(WatchHubTest, CancelEndsTheStreamWithTheGivenStatus) {
  Base();
  auto sub = Subscribe(From(0));
  ASSERT_TRUE(sub->Next().has_value());  // in flight
  sub->Cancel(absl::CancelledError("client went"));
  sub->Cancel(absl::DeadlineExceededError("later"));  // the first one stays
  EXPECT_FALSE(sub->Next().has_value());
  sub->Written();
  EXPECT_THAT(Drain(*sub), ElementsAre("END CANCELLED client went"));
  Change20();
  EXPECT_THAT(Drain(*sub), IsEmpty());
}

// Streams opened from other threads while the loop publishes: each one,
// applied in order, ends at exactly the final state (no event lost or
// doubled between its initial state and its changes).
TEST(WatchHubConcurrencyTest, SubscriptionsRacingTheLoopConverge) {
  WatchHub hub(WatchHub::Options{.history_events = 100000, .queue_events = 100000});
  Sequence seq;
  seq.Next(1);
  hub.OnSnapshot(seq.last());
  constexpr int kThreads = 4;
  constexpr int kSnapshots = 300;
  // Wakes per consumer, and the end of publishing, under one mutex so that
  // a consumer can wait for either without polling.
  absl::Mutex mu;
  std::vector<int> wakes(kThreads, 0);
  bool published = false;
  std::vector<std::map<std::string, uint64_t>> states(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto sub = hub.Subscribe(From(0), [&, t] {
        absl::MutexLock lock(&mu);
        ++wakes[t];
      });
      ASSERT_TRUE(sub.ok());
      std::map<std::string, uint64_t>& state = states[t];
      while (true) {
        int seen_wakes;
        bool all_published;
        {
          absl::MutexLock lock(&mu);
          seen_wakes = wakes[t];
          all_published = published;
        }
        std::optional<WatchSubscription::Step> step = (*sub)->Next();
        if (!step.has_value()) {
          if (all_published) break;  // everything was queued before this Next()
          absl::MutexLock lock(&mu);
          auto woken = [&] { return wakes[t] != seen_wakes || published; };
          mu.Await(absl::Condition(&woken));
          continue;
        }
        ASSERT_FALSE(step->end.has_value()) << *step->end;
        const v1::WatchEvent& e = *step->event;
        if (e.has_service()) {
          if (e.type() == v1::WatchEvent::DELETED) {
            state.erase(e.service().spec().name());
          } else {
            state[e.service().spec().name()] = e.service().version();
          }
        }
        (*sub)->Written();
      }
      hub.Unsubscribe(*sub);
    });
  }
  for (int i = 0; i < kSnapshots; ++i) {
    StateSnapshot& s = seq.Next(2 + i);
    const std::string name = absl::StrCat("s", i % 17);
    if (i % 5 == 4) {
      s.services.erase(name);
    } else {
      s.services[name] = Svc(name, static_cast<uint64_t>(i));
    }
    hub.OnSnapshot(seq.last());
  }
  {
    absl::MutexLock lock(&mu);
    published = true;
  }
  for (std::thread& thread : threads) thread.join();
  std::map<std::string, uint64_t> want;
  for (const auto& [name, stored] : seq.last()->services) {
    want[name] = stored->record.service().version();
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(states[t], want) << "thread " << t;
  EXPECT_EQ(hub.subscriptions(), 0u);
}

TEST(LeaderResponseFromTest, TellsWhetherThisReplicaLeads) {
  v1::GetLeaderResponse none = LeaderResponseFrom(std::nullopt, "r0");
  EXPECT_FALSE(none.leader_known());
  EXPECT_EQ(none.replica_id(), "r0");
  LeaderInfo info{"r0", "10.0.0.1:7070", 42, absl::FromUnixSeconds(5), "/e/n_1"};
  v1::GetLeaderResponse self = LeaderResponseFrom(info, "r0");
  EXPECT_TRUE(self.leader_known());
  EXPECT_TRUE(self.is_leader());
  EXPECT_EQ(self.fencing_token(), 42u);
  EXPECT_EQ(self.leader_address(), "10.0.0.1:7070");
  EXPECT_EQ(self.leader_since_unix_nanos(), 5'000'000'000);
  EXPECT_FALSE(LeaderResponseFrom(info, "r1").is_leader());
}

}  // namespace
}  // namespace mast

namespace mast {
namespace {

v1::AuditEvent Audit(const std::string& method, const std::string& service,
                     const std::string& code) {
  v1::AuditEvent audit;
  audit.set_method(method);
  audit.set_service(service);
  audit.set_code(code);
  return audit;
}

// AUDIT events go live to the streams that asked and administer the
// service; never into the history a stream resumes from.
TEST_F(WatchHubTest, AuditEventsGoOnlyToAdminsWhoAskedAndAreNotReplayed) {
  Base();
  auto admin_of_a = hub_.Subscribe(
      From(0), [] {}, nullptr, [](absl::string_view service) { return service == "a"; });
  auto admin_under_b = hub_.Subscribe(
      From(0, "b"), [] {}, nullptr, [](absl::string_view) { return true; });
  auto not_asked = Subscribe(From(0));
  ASSERT_TRUE(admin_of_a.ok() && admin_under_b.ok());
  Drain(**admin_of_a);
  Drain(**admin_under_b);
  Drain(*not_asked);

  hub_.OnAudit(Audit("ScaleService", "a", "OK"));
  hub_.OnAudit(Audit("DeleteService", "b", "PERMISSION_DENIED"));
  EXPECT_THAT(Drain(**admin_of_a), ElementsAre("AUDIT audit ScaleService a OK @10"));
  EXPECT_THAT(Drain(**admin_under_b),
              ElementsAre("AUDIT audit DeleteService b PERMISSION_DENIED @10"));
  EXPECT_THAT(Drain(*not_asked), IsEmpty());

  // A stream resuming from before them gets the state changes, not the audit.
  Change20();
  auto resumed = hub_.Subscribe(
      From(10), [] {}, nullptr, [](absl::string_view) { return true; });
  ASSERT_TRUE(resumed.ok());
  for (const std::string& line : Drain(**resumed)) EXPECT_THAT(line, Not(HasSubstr("AUDIT")));
}

}  // namespace
}  // namespace mast
