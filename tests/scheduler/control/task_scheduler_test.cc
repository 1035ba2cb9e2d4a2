// TaskScheduler on a fake ZooKeeper (ServiceStore + StateCache as in
// production), a fake Mesos caller and a DrivenLoop (manual clock, loop run on the
// test thread): the order of durable writes and Mesos calls, reconciliation,
// backoff, kills and removal.
#include "scheduler/control/task_scheduler.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "store/service_store.h"
#include "store/zk_store.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/fakes/recording_caller.h"
#include "tests/support/zk_test_util.h"

namespace mast {
namespace {

namespace mesos_v1 = ::mesos::v1;
using Call = mesos_v1::scheduler::Call;
using ::mast::testing::CallOnLoop;
using ::mast::testing::FakeZkClient;
using ::mast::testing::FakeZkEnsemble;
using ::mast::testing::RecordingCaller;
using ::mast::v1::records::ServiceRecord;
using ::mast::v1::records::TaskRecords;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class TaskSchedulerTest : public ::testing::Test {
 protected:
  static constexpr char kService[] = "team/web";

  TaskSchedulerTest()
      : writer_zk_(ensemble_, driven_.loop()),
        cache_zk_(ensemble_, driven_.loop()),
        zk_store_(writer_zk_, "/mast"),
        store_(writer_zk_, zk_store_),
        metrics_(registry_),
        caller_([this] { return Stored(); }) {
    writer_zk_.Connect();
    cache_zk_.Connect();
    auto term = ::mast::testing::TakeLeadershipForTest(writer_zk_, driven_.loop(), driven_.clock());
    EXPECT_TRUE(term.ok()) << term.status();
    if (term.ok()) term_ = *term;
    config_.revive_interval = absl::Seconds(5);
    config_.revive_burst = 1;  // the timing of each REVIVE is asserted; the budget has its test
    config_.tick = absl::Seconds(1);
    config_.kill_retry = absl::Seconds(10);
    config_.unreachable_grace = absl::Seconds(30);
    config_.reconcile_retry = {absl::Seconds(1), absl::Seconds(8), 2.0, 0.0};
  }
  void TearDown() override { caller_.VerifyAllMade(); }
  ~TaskSchedulerTest() override {
    scheduler_.reset();
    cache_.reset();
    driven_.RunUntilIdle();
  }

  // Runs `fn` on the test thread (the driven loop's own), then everything it
  // set going.
  void Run(const std::function<void()>& fn) {
    fn();
    driven_.RunUntilIdle();
  }

  void PutService(uint32_t instances, uint64_t task_version = 1, bool deleting = false,
                  v1::BackoffPolicy backoff = {},
                  std::function<void(v1::ServiceSpec&)> edit = nullptr,
                  std::function<void(v1::Service&)> edit_service = nullptr) {
    ServiceRecord record;
    v1::Service* service = record.mutable_service();
    service->mutable_spec()->set_name(kService);
    service->mutable_spec()->mutable_command()->set_shell("sleep 1000");
    service->mutable_spec()->mutable_resources()->set_cpus(0.1);
    service->mutable_spec()->mutable_resources()->set_mem_mib(32);
    service->mutable_spec()->set_instances(instances);
    if (backoff.has_initial()) {
      *service->mutable_spec()->mutable_backoff() = backoff;
    } else {
      service->mutable_spec()->mutable_backoff()->mutable_initial()->set_seconds(1);
      service->mutable_spec()->mutable_backoff()->set_factor(2);
      service->mutable_spec()->mutable_backoff()->mutable_max()->set_seconds(60);
    }
    if (edit) edit(*service->mutable_spec());
    service->set_version(task_version);
    service->set_task_version(task_version);
    service->set_deleting(deleting);
    if (edit_service) edit_service(*service);
    // On the driven loop: runs until idle, so the cache and the scheduler
    // have seen the write when it returns.
    auto put = CallOnLoop<absl::StatusOr<int32_t>>(driven_.loop(), [&](auto cb) {
      store_.PutService(term_, record, ServiceStore::kAnyVersion, std::move(cb));
    });
    ASSERT_TRUE(put.ok()) << put.status();
  }

  // Starts the cache and the scheduler, leading and subscribed (which
  // reconciles: one RECONCILE expected).
  void Start(bool subscribe = true) {
    if (subscribe) caller_.Expect(Call::RECONCILE);
    Run([this] {
      cache_ = std::make_unique<StateCache>(cache_zk_, driven_.loop(), "/mast", nullptr);
      cache_->Start();
      scheduler_ = std::make_unique<TaskScheduler>(
          config_, store_, *cache_, driven_.loop(), driven_.clock(), &metrics_,
          [this](absl::string_view reason) { step_downs_.push_back(std::string(reason)); });
      scheduler_->OnStartedLeading(term_);
    });
    if (subscribe) Run([this] { scheduler_->OnSubscribed(caller_); });
  }

  TaskRecords Stored() {
    std::optional<std::string> head_data = ensemble_.Data(store_.paths().tasks_head(kService));
    if (!head_data) return {};
    v1::records::TaskRecordsHead head;
    if (!head.ParseFromString(*head_data)) return {};
    auto records = DecodeTaskRecords(head, {});
    return records.ok() ? *records : TaskRecords();
  }

  mesos_v1::Offer MakeOffer(const std::string& id, const std::string& agent, double cpus = 1,
                            const std::string& rack = "") {
    mesos_v1::Offer offer;
    if (!rack.empty()) {
      mesos_v1::Attribute* attribute = offer.add_attributes();
      attribute->set_name("rack");
      attribute->set_type(mesos_v1::Value::TEXT);
      attribute->mutable_text()->set_value(rack);
    }
    offer.mutable_id()->set_value(id);
    offer.mutable_framework_id()->set_value("fw");
    offer.mutable_agent_id()->set_value(agent);
    offer.set_hostname(agent + ".example");
    for (auto [name, value] : {std::pair<const char*, double>{"cpus", cpus}, {"mem", 1024}}) {
      mesos_v1::Resource* r = offer.add_resources();
      r->set_name(name);
      r->set_type(mesos_v1::Value::SCALAR);
      r->mutable_scalar()->set_value(value);
      r->mutable_allocation_info()->set_role("*");
    }
    return offer;
  }
  void Offer(std::vector<mesos_v1::Offer> offers) {
    mesos_v1::scheduler::Event::Offers event;
    for (auto& o : offers) *event.add_offers() = std::move(o);
    Run([this, event] { scheduler_->OnOffers(event); });
  }
  void Update(
      const std::string& task_id, mesos_v1::TaskState state, const std::string& uuid = "u",
      mesos_v1::TaskStatus::Reason reason = mesos_v1::TaskStatus::REASON_COMMAND_EXECUTOR_FAILED) {
    mesos_v1::TaskStatus status;
    status.mutable_task_id()->set_value(task_id);
    status.mutable_agent_id()->set_value("a1");
    status.set_state(state);
    if (!uuid.empty()) status.set_uuid(uuid + task_id);
    status.set_reason(reason);
    Run([this, status] { scheduler_->OnUpdate(status); });
  }
  std::vector<std::string> LaunchedIds() {
    std::vector<std::string> ids;
    for (const auto* s : caller_.OfType(Call::ACCEPT)) {
      for (const auto& op : s->call.accept().operations()) {
        for (const auto& info : op.launch().task_infos()) ids.push_back(info.task_id().value());
      }
    }
    return ids;
  }
  std::vector<std::string> KilledIds() {
    std::vector<std::string> ids;
    for (const auto* s : caller_.OfType(Call::KILL))
      ids.push_back(s->call.kill().task_id().value());
    return ids;
  }
  TaskScheduler::Stats Stats() { return scheduler_->stats(); }
  static const v1::Task* Find(const TaskRecords& records, const std::string& id) {
    for (const auto& t : records.tasks()) {
      if (t.id() == id) return &t;
    }
    return nullptr;
  }

  DrivenLoop driven_;
  FakeZkEnsemble ensemble_;
  FakeZkClient writer_zk_;
  FakeZkClient cache_zk_;
  ZkStore zk_store_;
  ServiceStore store_;
  prometheus::Registry registry_;
  SchedulerMetrics metrics_;
  RecordingCaller caller_;
  LeaderTerm term_;
  TaskSchedulerConfig config_;
  std::unique_ptr<StateCache> cache_;
  std::unique_ptr<TaskScheduler> scheduler_;
  std::vector<std::string> step_downs_;
};

TEST(TaskIdTest, RoundTripsServiceAndVersion) {
  std::string id = MakeTaskId("team/web", 7, 0xabc);
  EXPECT_EQ(id, "team_web.7.0000000000000abc");
  auto parsed = ParseTaskId(id);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->first, "team/web");
  EXPECT_EQ(parsed->second, 7u);
  EXPECT_FALSE(ParseTaskId("someone-elses-task").has_value());
  EXPECT_FALSE(ParseTaskId("a.b.0000000000000abc").has_value());
}

TEST_F(TaskSchedulerTest, IntentsAreDurableBeforeTheAccept) {
  PutService(3);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT, 2);
  Offer({MakeOffer("o1", "a1", 0.25), MakeOffer("o2", "a2", 1)});
  std::vector<std::string> launched = LaunchedIds();
  ASSERT_THAT(launched, SizeIs(3));
  ASSERT_THAT(caller_.OfType(Call::ACCEPT), SizeIs(2)) << "one ACCEPT per offer used";
  for (const auto* accept : caller_.OfType(Call::ACCEPT)) {
    for (const auto& info : accept->call.accept().operations(0).launch().task_infos()) {
      const v1::Task* stored = Find(accept->stored, info.task_id().value());
      ASSERT_NE(stored, nullptr) << "ACCEPT before the intent of " << info.task_id().value()
                                 << " was stored";
      EXPECT_EQ(stored->state(), v1::Task::PENDING);
      EXPECT_EQ(stored->agent_id(), info.agent_id().value());
    }
  }
  EXPECT_EQ(Stats().waiting, 0u);
  // Nothing waits any more: the role is suppressed.
  EXPECT_THAT(caller_.OfType(Call::SUPPRESS), SizeIs(1));
  EXPECT_EQ(metrics_.offers_held.Value(), 0) << "accepted offers are no longer held";
  EXPECT_EQ(metrics_.offers_accepted.Value(), 2);
}

TEST_F(TaskSchedulerTest, UpdatesAreAcknowledgedOnlyOnceDurable) {
  PutService(1);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  ASSERT_THAT(LaunchedIds(), SizeIs(1));
  const std::string id = LaunchedIds()[0];
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(id, mesos_v1::TASK_RUNNING);
  auto acks = caller_.OfType(Call::ACKNOWLEDGE);
  ASSERT_THAT(acks, SizeIs(1));
  const v1::Task* stored = Find(acks[0]->stored, id);
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(stored->state(), v1::Task::RUNNING) << "acknowledged before RUNNING was stored";
  EXPECT_TRUE(stored->has_started());
}

TEST_F(TaskSchedulerTest, HealthIsStoredAndCounted) {
  PutService(1);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  const std::string id = LaunchedIds().at(0);
  caller_.Expect(Call::ACKNOWLEDGE, 3);
  Update(id, mesos_v1::TASK_RUNNING);
  mesos_v1::TaskStatus status;
  status.mutable_task_id()->set_value(id);
  status.mutable_agent_id()->set_value("a1");
  status.set_state(mesos_v1::TASK_RUNNING);
  status.set_uuid("u-healthy");
  status.set_healthy(true);
  status.set_reason(mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
  Run([&] { scheduler_->OnUpdate(status); });
  EXPECT_TRUE(Find(Stored(), id)->healthy());
  EXPECT_EQ(metrics_.became_healthy.Value(), 1);
  status.set_uuid("u-unhealthy");
  status.set_healthy(false);
  Run([&] { scheduler_->OnUpdate(status); });
  EXPECT_FALSE(Find(Stored(), id)->healthy());
  EXPECT_EQ(metrics_.became_unhealthy.Value(), 1);
}

// A task failing its health check for consecutive_failures x interval gets
// a replacement first; it is killed once the replacement runs.
TEST_F(TaskSchedulerTest, AnUnhealthyTaskIsReplacedThenKilled) {
  PutService(1, 1, false, {}, [](v1::ServiceSpec& spec) {
    spec.mutable_health_check()->set_protocol(v1::HealthCheck::COMMAND);
    spec.mutable_health_check()->mutable_command()->set_shell("true");
    spec.mutable_health_check()->mutable_interval()->set_seconds(10);
    spec.mutable_health_check()->set_consecutive_failures(3);
  });
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  const std::string sick = LaunchedIds().at(0);
  caller_.Expect(Call::ACKNOWLEDGE, 2);
  Update(sick, mesos_v1::TASK_RUNNING);
  mesos_v1::TaskStatus status;
  status.mutable_task_id()->set_value(sick);
  status.mutable_agent_id()->set_value("a1");
  status.set_state(mesos_v1::TASK_RUNNING);
  status.set_uuid("u-failed-check");
  status.set_healthy(false);
  Run([&] { scheduler_->OnUpdate(status); });
  ASSERT_TRUE(Find(Stored(), sick)->has_unhealthy_since());
  driven_.Advance(absl::Seconds(19));
  EXPECT_EQ(Stats().waiting, 0u) << "two more checks may still pass";
  caller_.Expect(Call::REVIVE);
  driven_.Advance(absl::Seconds(1));  // the third failure's time
  EXPECT_EQ(Stats().waiting, 1u) << "its replacement waits for an offer";
  EXPECT_THAT(KilledIds(), IsEmpty()) << "not killed before the replacement runs";
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o2", "a1")});
  ASSERT_THAT(LaunchedIds(), SizeIs(2));
  caller_.Expect(Call::ACKNOWLEDGE, 2);
  Update(LaunchedIds()[1], mesos_v1::TASK_RUNNING);
  EXPECT_THAT(KilledIds(), IsEmpty()) << "the replacement runs but has passed no check yet";
  caller_.Expect(Call::KILL);
  status.mutable_task_id()->set_value(LaunchedIds()[1]);
  status.set_uuid("u-passed-check");
  status.set_healthy(true);
  Run([&] { scheduler_->OnUpdate(status); });
  EXPECT_THAT(KilledIds(), ElementsAre(sick));
}

TEST_F(TaskSchedulerTest, FailedTaskIsReplacedAfterBackoff) {
  PutService(1);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  const std::string first = LaunchedIds().at(0);
  caller_.Expect(Call::ACKNOWLEDGE, 2);
  Update(first, mesos_v1::TASK_RUNNING);
  Update(first, mesos_v1::TASK_FAILED);
  TaskRecords stored = Stored();
  EXPECT_EQ(stored.failed(), 1u);
  EXPECT_EQ(stored.consecutive_failures(), 1u);
  EXPECT_THAT(stored.last_failure(), ::testing::HasSubstr("TASK_FAILED"));
  EXPECT_THAT(stored.tasks(), IsEmpty());
  // Within the 1 s backoff an offer is declined, not used.
  caller_.Expect(Call::DECLINE);
  Offer({MakeOffer("o2", "a1")});
  EXPECT_THAT(LaunchedIds(), SizeIs(1));
  // After it: relaunched.
  caller_.Expect(Call::REVIVE);
  driven_.Advance(absl::Seconds(2));
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o3", "a1")});
  ASSERT_THAT(LaunchedIds(), SizeIs(2));
  // A second failure doubles the delay (2 s): an offer after 1.5 s is not used.
  // It starts and fails at once again (a crash loop): the delay grows.
  const std::string second = LaunchedIds().at(1);
  caller_.Expect(Call::ACKNOWLEDGE, 2);
  Update(second, mesos_v1::TASK_RUNNING);
  Update(second, mesos_v1::TASK_FAILED);
  driven_.Advance(absl::Milliseconds(1500));
  caller_.Expect(Call::DECLINE);
  Offer({MakeOffer("o4", "a1")});
  EXPECT_THAT(LaunchedIds(), SizeIs(2));
  driven_.Advance(absl::Seconds(1));
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o5", "a1")});
  EXPECT_THAT(LaunchedIds(), SizeIs(3));
  EXPECT_EQ(Stored().consecutive_failures(), 2u);
  // A task that ran longer than stable_run before failing starts the count over.
  const std::string third = LaunchedIds().at(2);
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(third, mesos_v1::TASK_RUNNING);
  driven_.Advance(config_.stable_run);
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(third, mesos_v1::TASK_FAILED);
  EXPECT_EQ(Stored().consecutive_failures(), 1u);
  EXPECT_EQ(Stored().failed(), 3u);
}

TEST_F(TaskSchedulerTest, BackoffExpiryRevivesWithoutWaitingForATick) {
  config_.tick = absl::Hours(1);
  PutService(1);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(LaunchedIds().at(0), mesos_v1::TASK_FAILED);  // backoff 1 s; nothing else waits
  caller_.Expect(Call::DECLINE);
  Offer({MakeOffer("o2", "a1")});  // declined: suppressed
  size_t revives = caller_.OfType(Call::REVIVE).size();
  caller_.Expect(Call::REVIVE);
  driven_.Advance(absl::Seconds(1));
  EXPECT_EQ(caller_.OfType(Call::REVIVE).size(), revives + 1);
}

TEST_F(TaskSchedulerTest, TasksKilledOnRequestAreNotFailures) {
  PutService(2);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  caller_.Expect(Call::ACKNOWLEDGE, 2);
  for (const std::string& id : LaunchedIds()) Update(id, mesos_v1::TASK_RUNNING);
  caller_.Expect(Call::KILL);
  PutService(1, 1);  // scale down
  ASSERT_THAT(KilledIds(), SizeIs(1));
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(KilledIds()[0], mesos_v1::TASK_KILLED);
  TaskRecords stored = Stored();
  EXPECT_EQ(stored.failed(), 0u);
  EXPECT_THAT(stored.tasks(), SizeIs(1));
}

TEST_F(TaskSchedulerTest, ScaleDownKillsTheYoungestAndRetriesTheKill) {
  PutService(1);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  const std::string older = LaunchedIds().at(0);
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(older, mesos_v1::TASK_RUNNING);
  driven_.Advance(absl::Seconds(1));
  caller_.Expect(Call::REVIVE);
  PutService(2);
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o2", "a1")});
  ASSERT_THAT(LaunchedIds(), SizeIs(2));
  const std::string younger = LaunchedIds().at(1);
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(younger, mesos_v1::TASK_RUNNING);
  caller_.Expect(Call::KILL);
  PutService(1);
  ASSERT_THAT(KilledIds(), ::testing::ElementsAre(younger));
  const v1::Task* stored = Find(Stored(), younger);
  ASSERT_NE(stored, nullptr);
  EXPECT_TRUE(stored->kill_requested());
  // No terminal update: the KILL is sent again after kill_retry.
  caller_.Expect(Call::KILL);
  driven_.Advance(absl::Seconds(11));
  EXPECT_THAT(KilledIds(), ::testing::ElementsAre(younger, younger));
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(younger, mesos_v1::TASK_KILLED);
  driven_.Advance(absl::Seconds(11));
  EXPECT_THAT(KilledIds(), SizeIs(2));
}

TEST_F(TaskSchedulerTest, ExplicitReconciliationIsResentUntilAnsweredThenImplicit) {
  PutService(2);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  std::vector<std::string> ids = LaunchedIds();
  ASSERT_THAT(ids, SizeIs(2));
  // A new subscription (e.g. after a master failover).
  caller_.Expect(Call::RECONCILE);
  caller_.Expect(Call::SUPPRESS);
  Run([this] {
    scheduler_->OnUnsubscribed();
    scheduler_->OnSubscribed(caller_);
  });
  auto reconciles = caller_.OfType(Call::RECONCILE);
  ASSERT_THAT(reconciles, SizeIs(2)) << "one per subscription";
  EXPECT_EQ(reconciles.back()->call.reconcile().tasks_size(), 2);
  EXPECT_FALSE(Stats().reconciled);
  Update(ids[0], mesos_v1::TASK_RUNNING, "", mesos_v1::TaskStatus::REASON_RECONCILIATION);
  // Unanswered: sent again after the backoff, for the one left.
  caller_.Expect(Call::RECONCILE);
  driven_.Advance(absl::Seconds(1));
  reconciles = caller_.OfType(Call::RECONCILE);
  EXPECT_EQ(reconciles.back()->call.reconcile().tasks_size(), 1);
  EXPECT_EQ(reconciles.back()->call.reconcile().tasks(0).task_id().value(), ids[1]);
  // The master does not know it: it is replaced, and it was no failure.
  caller_.Expect(Call::RECONCILE);
  caller_.Expect(Call::REVIVE);
  Update(ids[1], mesos_v1::TASK_UNKNOWN, "", mesos_v1::TaskStatus::REASON_RECONCILIATION);
  EXPECT_TRUE(Stats().reconciled);
  reconciles = caller_.OfType(Call::RECONCILE);
  EXPECT_EQ(reconciles.back()->call.reconcile().tasks_size(), 0) << "implicit follows";
  EXPECT_EQ(Stored().failed(), 0u);
  EXPECT_EQ(Stats().waiting, 1u);
  // The next implicit one comes after reconcile_interval.
  size_t before = caller_.OfType(Call::RECONCILE).size();
  caller_.Expect(Call::RECONCILE);
  driven_.Advance(config_.reconcile_interval);
  EXPECT_EQ(caller_.OfType(Call::RECONCILE).size(), before + 1);
}

TEST_F(TaskSchedulerTest, UnknownRunningTaskIsKilledAndAcknowledged) {
  PutService(0);
  caller_.Expect(Call::SUPPRESS);
  Start();
  caller_.Expect(Call::KILL);
  caller_.Expect(Call::ACKNOWLEDGE);
  Update("team_web.1.00000000000000ff", mesos_v1::TASK_RUNNING);
  EXPECT_THAT(KilledIds(), ::testing::ElementsAre("team_web.1.00000000000000ff"));
  EXPECT_THAT(caller_.OfType(Call::ACKNOWLEDGE), SizeIs(1));
  caller_.Expect(Call::ACKNOWLEDGE);
  Update("someone_else", mesos_v1::TASK_FINISHED);  // terminal and unknown: only acknowledged
  EXPECT_THAT(KilledIds(), SizeIs(1));
  EXPECT_THAT(caller_.OfType(Call::ACKNOWLEDGE), SizeIs(2));
}

TEST_F(TaskSchedulerTest, UnreachableTaskIsReplacedAfterGraceAndKilledIfItReturns) {
  PutService(1);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  const std::string lost = LaunchedIds().at(0);
  caller_.Expect(Call::ACKNOWLEDGE, 2);
  Update(lost, mesos_v1::TASK_RUNNING);
  Update(lost, mesos_v1::TASK_UNREACHABLE);
  EXPECT_TRUE(Find(Stored(), lost)->has_unreachable_since());
  caller_.Expect(Call::DECLINE);
  Offer({MakeOffer("o2", "a2")});
  EXPECT_THAT(LaunchedIds(), SizeIs(1)) << "replaced before the grace period";
  // Replaced at 30 s; its 1 s backoff ends within the 31 s: REVIVE.
  caller_.Expect(Call::REVIVE);
  driven_.Advance(absl::Seconds(31));
  EXPECT_EQ(Find(Stored(), lost), nullptr);
  EXPECT_EQ(Stats().waiting, 1u);
  driven_.Advance(absl::Seconds(2));  // the failure's backoff
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o3", "a2")});
  ASSERT_THAT(LaunchedIds(), SizeIs(2));
  // The agent comes back with the old task: it is killed.
  caller_.Expect(Call::KILL);
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(lost, mesos_v1::TASK_RUNNING);
  EXPECT_THAT(KilledIds(), ::testing::ElementsAre(lost));
}

// A service's own unreachable_strategy: replaced after inactive_after, while
// the lost task stays on record (it may come back) until expunge_after.
TEST_F(TaskSchedulerTest, UnreachableStrategyReplacesFirstAndGivesUpLater) {
  PutService(1, 1, false, {}, [](v1::ServiceSpec& spec) {
    spec.mutable_unreachable_strategy()->mutable_inactive_after()->set_seconds(10);
    spec.mutable_unreachable_strategy()->mutable_expunge_after()->set_seconds(120);
  });
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  const std::string lost = LaunchedIds().at(0);
  caller_.Expect(Call::ACKNOWLEDGE, 2);
  Update(lost, mesos_v1::TASK_RUNNING);
  Update(lost, mesos_v1::TASK_UNREACHABLE);
  caller_.Expect(Call::REVIVE);
  driven_.Advance(absl::Seconds(11));  // past inactive_after, not the global 30 s
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o2", "a2")});
  ASSERT_THAT(LaunchedIds(), SizeIs(2)) << "replaced after inactive_after";
  ASSERT_NE(Find(Stored(), lost), nullptr) << "kept until expunge_after";
  driven_.Advance(absl::Seconds(60));
  EXPECT_NE(Find(Stored(), lost), nullptr);
  driven_.Advance(absl::Seconds(50));  // 121 s unreachable
  EXPECT_EQ(Find(Stored(), lost), nullptr);
  EXPECT_THAT(LaunchedIds(), SizeIs(2)) << "the replacement already runs";
}

// Why tasks wait is kept in the service's task records (for every
// replica's reads): set by a round that cannot place them, not rewritten by
// the same reasons within 30 s, cleared once they are placed.
TEST_F(TaskSchedulerTest, UnplacedTasksRecordWhyInTheirRecords) {
  PutService(2, 1, false, {}, [](v1::ServiceSpec& spec) {
    spec.mutable_resources()->set_cpus(2);  // the offers have 1
  });
  Start();
  caller_.Expect(Call::DECLINE);
  Offer({MakeOffer("o1", "a1"), MakeOffer("o2", "a2")});
  TaskRecords records = Stored();
  ASSERT_TRUE(records.has_placement());
  const v1::PlacementStatus& placement = records.placement();
  EXPECT_EQ(placement.waiting(), 2u);
  EXPECT_EQ(placement.offers(), 2u);
  ASSERT_EQ(placement.refused_size(), 1);
  EXPECT_EQ(placement.refused(0).requirement(), "cpus");
  EXPECT_EQ(placement.refused(0).offers(), 2u);
  ASSERT_EQ(placement.last_offers_size(), 2);
  EXPECT_EQ(placement.last_offers(0).agent(), "a1.example");
  EXPECT_EQ(placement.last_offers(1).requirement(), "cpus");
  const std::string written = records.SerializeAsString();
  // The same reasons again soon after: not written again.
  driven_.Advance(absl::Seconds(5));
  caller_.Expect(Call::DECLINE);
  Offer({MakeOffer("o3", "a1")});
  EXPECT_EQ(Stored().SerializeAsString(), written);
  // A change of reasons is written at once, keeping `since`.
  caller_.Expect(Call::DECLINE);
  mesos_v1::Offer other_role = MakeOffer("o4", "a3", 4);
  other_role.mutable_allocation_info()->set_role("other");
  for (auto& resource : *other_role.mutable_resources()) {
    resource.mutable_allocation_info()->set_role("other");
  }
  Offer({other_role});
  records = Stored();
  ASSERT_TRUE(records.has_placement());
  EXPECT_EQ(records.placement().refused(0).requirement(), "role");
  EXPECT_EQ(records.placement().since().seconds(), placement.since().seconds());
  // Offers that fit: placed, and the reason goes.
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o5", "a1", 4)});
  EXPECT_THAT(LaunchedIds(), SizeIs(2));
  EXPECT_FALSE(Stored().has_placement());
}

TEST_F(TaskSchedulerTest, DeletingServiceIsKilledThenRemoved) {
  PutService(2);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  std::vector<std::string> ids = LaunchedIds();
  caller_.Expect(Call::ACKNOWLEDGE, 2);
  for (const std::string& id : ids) Update(id, mesos_v1::TASK_RUNNING);
  caller_.Expect(Call::KILL, 2);
  PutService(2, 1, /*deleting=*/true);
  EXPECT_THAT(KilledIds(), ::testing::UnorderedElementsAreArray(ids));
  EXPECT_TRUE(ensemble_.Exists(store_.paths().service(kService)));
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(ids[0], mesos_v1::TASK_KILLED);
  EXPECT_TRUE(ensemble_.Exists(store_.paths().service(kService))) << "removed with a task left";
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(ids[1], mesos_v1::TASK_KILLED);
  EXPECT_FALSE(ensemble_.Exists(store_.paths().service(kService)));
  EXPECT_FALSE(ensemble_.Exists(store_.paths().tasks_head(kService)));
  EXPECT_EQ(Stats().services, 0u);
}

TEST_F(TaskSchedulerTest, RevivesAtMostOncePerInterval) {
  PutService(0);
  caller_.Expect(Call::SUPPRESS);
  Start();
  caller_.Expect(Call::DECLINE);
  Offer({MakeOffer("o1", "a1")});  // nothing waits: declined and suppressed
  ASSERT_THAT(caller_.OfType(Call::SUPPRESS), SizeIs(1));
  caller_.Expect(Call::REVIVE);
  PutService(1);
  ASSERT_THAT(caller_.OfType(Call::REVIVE), SizeIs(1));
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o2", "a1")});
  ASSERT_THAT(LaunchedIds(), SizeIs(1));
  EXPECT_THAT(caller_.OfType(Call::SUPPRESS), SizeIs(2));
  // New work within the interval: the REVIVE waits for it to pass.
  PutService(2);
  EXPECT_THAT(caller_.OfType(Call::REVIVE), SizeIs(1));
  caller_.Expect(Call::REVIVE);
  driven_.Advance(absl::Seconds(5));
  EXPECT_THAT(caller_.OfType(Call::REVIVE), SizeIs(2));
}

// With a budget of 3 REVIVEs per interval, new work after a SUPPRESS gets
// offers at once three times; the fourth waits for the oldest to age out.
TEST_F(TaskSchedulerTest, RevivesGoAtOnceWithinTheBudget) {
  PutService(0);
  caller_.Expect(Call::SUPPRESS);
  config_.revive_burst = 3;
  Start();
  caller_.Expect(Call::DECLINE);
  Offer({MakeOffer("o1", "a1")});  // nothing waits: declined and suppressed
  for (uint32_t instances = 1; instances <= 3; ++instances) {
    caller_.Expect(Call::REVIVE);
    PutService(instances);
    ASSERT_THAT(caller_.OfType(Call::REVIVE), SizeIs(instances)) << "at once";
    caller_.Expect(Call::SUPPRESS);
    caller_.Expect(Call::ACCEPT);
    Offer({MakeOffer(absl::StrCat("o", instances + 1), "a1")});
    ASSERT_THAT(LaunchedIds(), SizeIs(instances));
  }
  driven_.Advance(absl::Seconds(1));
  PutService(4);
  EXPECT_THAT(caller_.OfType(Call::REVIVE), SizeIs(3)) << "the budget of the interval is spent";
  driven_.Advance(absl::Seconds(3));
  EXPECT_THAT(caller_.OfType(Call::REVIVE), SizeIs(3));
  caller_.Expect(Call::REVIVE);
  driven_.Advance(absl::Seconds(1));  // 5 s after the first
  EXPECT_THAT(caller_.OfType(Call::REVIVE), SizeIs(4));
}

TEST_F(TaskSchedulerTest, RollingUpdateReplacesOneTaskAtATime) {
  PutService(2, 1);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  std::vector<std::string> old = LaunchedIds();
  caller_.Expect(Call::ACKNOWLEDGE, 2);
  for (const std::string& id : old) Update(id, mesos_v1::TASK_RUNNING);
  caller_.Expect(Call::REVIVE);
  // A new task version, rolled out one task at a time (U = 3, L = 2).
  PutService(
      2, 2, false, {},
      [](v1::ServiceSpec& spec) {
        spec.mutable_upgrade_strategy()->set_minimum_health_capacity(1);
        spec.mutable_upgrade_strategy()->set_maximum_over_capacity(0.5);
        spec.mutable_upgrade_strategy()->mutable_min_ready()->set_seconds(0);
      },
      [](v1::Service& service) {
        service.mutable_deployment()->set_id("d1");
        service.mutable_deployment()->set_state(v1::Deployment::RUNNING);
      });
  driven_.Advance(absl::Seconds(5));  // revive
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o2", "a1")});
  ASSERT_THAT(LaunchedIds(), SizeIs(3)) << "one extra task at a time";
  EXPECT_THAT(KilledIds(), IsEmpty()) << "nothing killed before the new task runs";
  const std::string n1 = LaunchedIds().back();
  EXPECT_EQ(ParseTaskId(n1)->second, 2u);
  caller_.Expect(Call::KILL);
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(n1, mesos_v1::TASK_RUNNING);
  ASSERT_THAT(KilledIds(), SizeIs(1));
  caller_.Expect(Call::ACKNOWLEDGE);
  caller_.Expect(Call::REVIVE);
  Update(KilledIds()[0], mesos_v1::TASK_KILLED);
  driven_.Advance(absl::Seconds(5));
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o3", "a1")});
  ASSERT_THAT(LaunchedIds(), SizeIs(4));
  caller_.Expect(Call::KILL);
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(LaunchedIds().back(), mesos_v1::TASK_RUNNING);
  ASSERT_THAT(KilledIds(), SizeIs(2));
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(KilledIds()[1], mesos_v1::TASK_KILLED);
  TaskRecords stored = Stored();
  ASSERT_THAT(stored.tasks(), SizeIs(2));
  for (const auto& task : stored.tasks()) EXPECT_EQ(task.version(), 2u);
}

TEST_F(TaskSchedulerTest, NewLeaderTakesOverStoredTasksAndReconcilesThem) {
  PutService(2);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1")});
  std::vector<std::string> ids = LaunchedIds();
  caller_.Expect(Call::ACKNOWLEDGE, 2);
  for (const std::string& id : ids) Update(id, mesos_v1::TASK_RUNNING);
  // Step down, then lead again (same term for the fake): the records are
  // taken over from the store, nothing is launched, every task is reconciled.
  Run([this] {
    scheduler_->OnUnsubscribed();
    scheduler_->OnStoppedLeading();
    scheduler_->OnStartedLeading(term_);
  });
  caller_.sent.clear();
  caller_.Expect(Call::RECONCILE);
  caller_.Expect(Call::SUPPRESS);
  Run([this] { scheduler_->OnSubscribed(caller_); });
  EXPECT_EQ(Stats().tasks, 2u);
  EXPECT_EQ(Stats().waiting, 0u);
  auto reconciles = caller_.OfType(Call::RECONCILE);
  ASSERT_THAT(reconciles, SizeIs(1));
  EXPECT_EQ(reconciles[0]->call.reconcile().tasks_size(), 2);
}

TEST_F(TaskSchedulerTest, ANewLeaderJudgesAttributeConstraintsByTheStoredPlacement) {
  auto unique_rack = [](v1::ServiceSpec& spec) {
    v1::Constraint* c = spec.add_constraints();
    c->set_field("rack");
    c->set_operator_(v1::Constraint::UNIQUE);
  };
  PutService(1, 1, false, {}, unique_rack);
  Start();
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o1", "a1", 1, "r1")});
  ASSERT_THAT(LaunchedIds(), SizeIs(1));
  caller_.Expect(Call::ACKNOWLEDGE);
  Update(LaunchedIds()[0], mesos_v1::TASK_RUNNING);
  EXPECT_EQ(Find(Stored(), LaunchedIds()[0])->agent_attributes().at("rack"), "r1");
  // A new leader, which has seen no offer of a1: the next task must still
  // avoid rack r1.
  Run([this] {
    scheduler_ =
        std::make_unique<TaskScheduler>(config_, store_, *cache_, driven_.loop(), driven_.clock(),
                                        &metrics_, [](absl::string_view) {});
    scheduler_->OnStartedLeading(term_);
  });
  caller_.Expect(Call::RECONCILE);
  caller_.Expect(Call::SUPPRESS);
  Run([this] { scheduler_->OnSubscribed(caller_); });
  caller_.Expect(Call::REVIVE);
  PutService(2, 1, false, {}, unique_rack);
  caller_.Expect(Call::RECONCILE, 2);
  driven_.Advance(absl::Seconds(5));
  caller_.Expect(Call::DECLINE);
  caller_.Expect(Call::SUPPRESS);
  caller_.Expect(Call::ACCEPT);
  Offer({MakeOffer("o2", "a2", 1, "r1"), MakeOffer("o3", "a3", 1, "r2")});
  ASSERT_THAT(LaunchedIds(), SizeIs(2));
  auto accepts = caller_.OfType(Call::ACCEPT);
  EXPECT_EQ(accepts.back()->call.accept().offer_ids(0).value(), "o3");
}

TEST_F(TaskSchedulerTest, RefusedFencedWriteStepsDown) {
  PutService(1);
  Start();
  ensemble_.Delete(term_.znode);  // deposed: the election znode is gone
  caller_.Expect(Call::SUPPRESS);
  Offer({MakeOffer("o1", "a1")});
  EXPECT_THAT(LaunchedIds(), IsEmpty());
  EXPECT_THAT(step_downs_, SizeIs(1));
}

// ValidateTaskSchedulerConfig: the defaults pass; each invalid field is an
// INVALID_ARGUMENT that names the field (not a mastd flag).
TEST(TaskSchedulerConfigTest, DefaultIsValidAndEachBadFieldIsNamed) {
  EXPECT_TRUE(ValidateTaskSchedulerConfig({}).ok());
  struct Case {
    const char* field;
    std::function<void(TaskSchedulerConfig&)> mutate;
  };
  const Case cases[] = {
      {"revive_interval", [](auto& c) { c.revive_interval = absl::ZeroDuration(); }},
      {"revive_burst", [](auto& c) { c.revive_burst = 0; }},
      {"max_unhealthy_share", [](auto& c) { c.max_unhealthy_share = 0; }},
      {"reconcile_interval", [](auto& c) { c.reconcile_interval = -absl::Seconds(1); }},
      {"unreachable_grace", [](auto& c) { c.unreachable_grace = -absl::Seconds(1); }},
      {"kill_retry", [](auto& c) { c.kill_retry = absl::ZeroDuration(); }},
      {"tick", [](auto& c) { c.tick = absl::ZeroDuration(); }},
      {"reconcile_batch", [](auto& c) { c.reconcile_batch = 0; }},
      {"idle_decline_refuse", [](auto& c) { c.idle_decline_refuse = -absl::Seconds(1); }},
      {"busy_decline_refuse", [](auto& c) { c.busy_decline_refuse = -absl::Seconds(1); }},
      {"reconcile_retry", [](auto& c) { c.reconcile_retry.initial = absl::ZeroDuration(); }},
      {"write_retry", [](auto& c) { c.write_retry.multiplier = 0.5; }},
  };
  for (const Case& c : cases) {
    TaskSchedulerConfig config;
    c.mutate(config);
    absl::Status status = ValidateTaskSchedulerConfig(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field << ": " << status;
    EXPECT_THAT(std::string(status.message()), ::testing::StartsWith(c.field)) << status;
    EXPECT_THAT(std::string(status.message()), ::testing::Not(::testing::HasSubstr("--")));
  }
  // Zero is allowed where the rule is >= 0.
  TaskSchedulerConfig zeros;
  zeros.unreachable_grace = absl::ZeroDuration();
  zeros.idle_decline_refuse = absl::ZeroDuration();
  zeros.busy_decline_refuse = absl::ZeroDuration();
  EXPECT_TRUE(ValidateTaskSchedulerConfig(zeros).ok());
}

}  // namespace
}  // namespace mast
