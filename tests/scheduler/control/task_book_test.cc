// TaskBook on a fake ZooKeeper (ServiceStore as in production) and a driven
// loop: batching of writes, waiters, retries, the fence, failures and
// backoff, removal, and that a destroyed book drops its completions.
#include "scheduler/control/task_book.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "store/zk_store.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/support/zk_test_util.h"

namespace mast {
namespace {

using ::mast::testing::CallOnLoop;
using ::mast::testing::FakeZkClient;
using ::mast::testing::FakeZkEnsemble;
using ::mast::v1::records::ServiceRecord;
using ::mast::v1::records::TaskRecords;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kService[] = "team/web";

class TaskBookTest : public ::testing::Test {
 protected:
  TaskBookTest()
      : zk_(ensemble_, driven_.loop()),
        zk_store_(zk_, "/mast"),
        store_(zk_, zk_store_),
        metrics_(registry_) {
    zk_.Connect();
    auto term = ::mast::testing::TakeLeadershipForTest(zk_, driven_.loop(), driven_.clock());
    EXPECT_TRUE(term.ok()) << term.status();
    if (term.ok()) term_ = *term;
    hooks_.step_down = [this](absl::string_view reason) { step_downs_.emplace_back(reason); };
    hooks_.replan_at = [this](const std::string& name, absl::Time when) {
      replans_at_.push_back({name, when});
    };
    hooks_.replan = [this](const std::string& name) { replans_.push_back(name); };
    hooks_.task_dropped = [this](const std::string& id) { dropped_.push_back(id); };
    book_ = std::make_unique<TaskBook>(config_, store_, term_, driven_.loop(), driven_.clock(),
                                       &metrics_, hooks_);
  }
  ~TaskBookTest() override {
    book_.reset();
    driven_.RunUntilIdle();
  }

  // Stores a service record and books it.
  BookedService& AddService(bool deleting = false) {
    ServiceRecord record;
    v1::Service* service = record.mutable_service();
    service->mutable_spec()->set_name(kService);
    service->mutable_spec()->set_instances(1);
    service->mutable_spec()->mutable_backoff()->mutable_initial()->set_seconds(1);
    service->mutable_spec()->mutable_backoff()->set_factor(2);
    service->mutable_spec()->mutable_backoff()->mutable_max()->set_seconds(60);
    service->set_deleting(deleting);
    auto put = CallOnLoop<absl::StatusOr<int32_t>>(driven_.loop(), [&](auto cb) {
      store_.PutService(term_, record, ServiceStore::kAnyVersion, std::move(cb));
    });
    EXPECT_TRUE(put.ok()) << put.status();
    auto stored = std::make_shared<StoredService>();
    stored->record = record;
    return book_->Add(kService, std::move(stored));
  }

  static v1::Task MakeTask(const std::string& id) {
    v1::Task task;
    task.set_id(id);
    task.set_service(kService);
    task.set_state(v1::Task::PENDING);
    return task;
  }

  TaskRecords Stored() {
    std::optional<std::string> head_data = ensemble_.Data(store_.paths().tasks_head(kService));
    if (!head_data) return {};
    v1::records::TaskRecordsHead head;
    if (!head.ParseFromString(*head_data)) return {};
    auto records = DecodeTaskRecords(head, {});
    return records.ok() ? *records : TaskRecords();
  }

  // A waiter that records its outcome.
  absl::AnyInvocable<void(absl::Status) &&> Waiter(std::vector<absl::Status>& outcomes) {
    return [&outcomes](absl::Status status) { outcomes.push_back(std::move(status)); };
  }

  double writes() { return metrics_.task_writes.Value(); }

  DrivenLoop driven_;
  FakeZkEnsemble ensemble_;
  FakeZkClient zk_;
  ZkStore zk_store_;
  ServiceStore store_;
  prometheus::Registry registry_;
  SchedulerMetrics metrics_;
  LeaderTerm term_;
  TaskBook::Config config_{.write_retry = {absl::Seconds(1), absl::Seconds(8), 2.0, 0.0},
                           .stable_run = absl::Minutes(1),
                           .unreachable_grace = absl::Seconds(30)};
  TaskBookHooks hooks_;
  std::unique_ptr<TaskBook> book_;
  std::vector<std::string> step_downs_;
  std::vector<std::pair<std::string, absl::Time>> replans_at_;
  std::vector<std::string> replans_;
  std::vector<std::string> dropped_;
};

TEST_F(TaskBookTest, ChangesOfOneTurnAreOneWriteAndWaitersRunOnceItIsDurable) {
  AddService();
  std::vector<absl::Status> outcomes;
  for (const char* id : {"t1", "t2", "t3"}) {
    book_->AddTask(kService, MakeTask(id));
    book_->MarkChanged(kService);
  }
  book_->WhenDurable(kService, /*fail_fast=*/false, Waiter(outcomes));
  EXPECT_THAT(outcomes, IsEmpty()) << "ran before the write";
  driven_.RunUntilIdle();
  ASSERT_THAT(outcomes, SizeIs(1));
  EXPECT_TRUE(outcomes[0].ok()) << outcomes[0];
  EXPECT_EQ(writes(), 1) << "three changes of one turn, one write";
  EXPECT_THAT(Stored().tasks(), SizeIs(3));
  // Nothing changed since: a waiter runs at once.
  book_->WhenDurable(kService, false, Waiter(outcomes));
  EXPECT_THAT(outcomes, SizeIs(2));
}

TEST_F(TaskBookTest, AChangeMadeDuringAWriteGoesIntoTheNext) {
  AddService();
  std::vector<absl::Status> first, second;
  book_->AddTask(kService, MakeTask("t1"));
  book_->MarkChanged(kService);
  book_->WhenDurable(kService, false, [&](absl::Status status) {
    first.push_back(status);
    // The first write is durable; t2 waits for a second one.
    book_->AddTask(kService, MakeTask("t2"));
    book_->MarkChanged(kService);
    book_->WhenDurable(kService, false, Waiter(second));
    EXPECT_THAT(second, IsEmpty());
  });
  driven_.RunUntilIdle();
  EXPECT_THAT(first, SizeIs(1));
  ASSERT_THAT(second, SizeIs(1));
  EXPECT_EQ(writes(), 2);
  EXPECT_THAT(Stored().tasks(), SizeIs(2));
}

TEST_F(TaskBookTest, AFailedWriteFailsLaunchesAtOnceAndRetriesForTheOthers) {
  AddService();
  std::vector<absl::Status> launch, ack;
  book_->AddTask(kService, MakeTask("t1"));
  book_->MarkChanged(kService);
  book_->WhenDurable(kService, /*fail_fast=*/true, Waiter(launch));
  book_->WhenDurable(kService, /*fail_fast=*/false, Waiter(ack));
  zk_.FailNext(absl::UnavailableError("connection loss"));
  driven_.RunUntilIdle();
  ASSERT_THAT(launch, SizeIs(1));
  EXPECT_TRUE(absl::IsUnavailable(launch[0])) << launch[0];
  EXPECT_THAT(ack, IsEmpty()) << "an acknowledgement waits for the retry";
  EXPECT_EQ(metrics_.task_write_failures.Value(), 1);
  EXPECT_THAT(Stored().tasks(), IsEmpty());
  driven_.Advance(absl::Milliseconds(999));
  EXPECT_THAT(ack, IsEmpty()) << "retried before its backoff (1 s)";
  driven_.Advance(absl::Milliseconds(1));
  ASSERT_THAT(ack, SizeIs(1));
  EXPECT_TRUE(ack[0].ok()) << ack[0];
  EXPECT_THAT(Stored().tasks(), SizeIs(1));
  EXPECT_THAT(step_downs_, IsEmpty());
}

TEST_F(TaskBookTest, AWriteRefusedByTheFenceStepsDownAndReleasesNobody) {
  AddService();
  std::vector<absl::Status> outcomes;
  ensemble_.Delete(term_.znode);  // deposed: the election znode is gone
  book_->AddTask(kService, MakeTask("t1"));
  book_->MarkChanged(kService);
  book_->WhenDurable(kService, false, Waiter(outcomes));
  book_->WhenDurable(kService, true, Waiter(outcomes));
  driven_.Advance(absl::Minutes(1));
  EXPECT_THAT(step_downs_, SizeIs(1));
  EXPECT_THAT(outcomes, IsEmpty());
  EXPECT_EQ(writes(), 1) << "a refused write is not retried";
}

TEST_F(TaskBookTest, FailuresGrowTheBackoffUnlessTheTaskRanLongEnough) {
  BookedService& service = AddService();
  const absl::Time start = driven_.Now();
  v1::Task task = MakeTask("t1");
  book_->RecordFailure(service, task, "TASK_FAILED");
  EXPECT_EQ(service.history.consecutive_failures(), 1u);
  EXPECT_TRUE(service.BackingOff(start));
  EXPECT_FALSE(service.BackingOff(start + absl::Seconds(1)));
  book_->RecordFailure(service, task, "TASK_FAILED");
  EXPECT_EQ(service.history.failed(), 2u);
  EXPECT_EQ(service.history.last_failure(), "t1: TASK_FAILED");
  ASSERT_THAT(replans_at_, SizeIs(2));
  EXPECT_EQ(replans_at_[0].second, start + absl::Seconds(1));
  EXPECT_EQ(replans_at_[1].second, start + absl::Seconds(2)) << "the delay doubles";
  service.to_launch = 1;
  EXPECT_EQ(service.Launchable(start + absl::Seconds(1)), 0) << "still backing off";
  EXPECT_EQ(service.Launchable(start + absl::Seconds(2)), 1);
  // A task that ran for stable_run before failing: no crash loop.
  ToProtoTimestamp(start - absl::Minutes(2), task.mutable_started());
  book_->RecordFailure(service, task, "TASK_KILLED");
  EXPECT_EQ(service.history.consecutive_failures(), 1u);
  EXPECT_EQ(replans_at_.back().second, start + absl::Seconds(1));
}

TEST_F(TaskBookTest, FailuresAreCountedByTaskVersionAndMadeDurable) {
  BookedService& service = AddService();
  v1::Task old_version = MakeTask("t1");
  old_version.set_version(3);
  v1::Task new_version = MakeTask("t2");
  new_version.set_version(4);
  book_->RecordFailure(service, old_version, "TASK_FAILED");
  book_->RecordFailure(service, new_version, "TASK_FAILED");
  book_->RecordFailure(service, new_version, "TASK_LOST");
  EXPECT_EQ(service.history.failed(), 3u);
  EXPECT_EQ(service.history.failed_by_task_version().at(3), 1u);
  EXPECT_EQ(service.history.failed_by_task_version().at(4), 2u);
  book_->MarkChanged(kService);
  driven_.RunUntilIdle();
  const TaskRecords stored = Stored();
  EXPECT_EQ(stored.failed(), 3u);
  ASSERT_EQ(stored.failed_by_task_version().size(), 2u);
  EXPECT_EQ(stored.failed_by_task_version().at(4), 2u);
}

TEST_F(TaskBookTest, FailuresByVersionKeepTheNewestVersionsOnly) {
  BookedService& service = AddService();
  for (uint64_t version = 1; version <= kMaxFailedVersions + 4; ++version) {
    v1::Task task = MakeTask(absl::StrCat("t", version));
    task.set_version(version);
    book_->RecordFailure(service, task, "TASK_FAILED");
  }
  const auto& by_version = service.history.failed_by_task_version();
  EXPECT_EQ(by_version.size(), static_cast<size_t>(kMaxFailedVersions));
  for (uint64_t version = 1; version <= 4; ++version) {
    EXPECT_FALSE(by_version.contains(version)) << "the oldest go first: " << version;
  }
  EXPECT_TRUE(by_version.contains(5));
  EXPECT_TRUE(by_version.contains(kMaxFailedVersions + 4));
  EXPECT_EQ(service.history.failed(), static_cast<uint32_t>(kMaxFailedVersions + 4))
      << "the total keeps counting";
}

TEST_F(TaskBookTest, AnEndCountsAsAFailureUnlessMastAskedForIt) {
  BookedService& service = AddService();
  ::mesos::v1::TaskStatus status;
  status.set_state(::mesos::v1::TASK_KILLED);
  // Asked for (scale-down, replacement): no failure.
  v1::Task asked = MakeTask("asked");
  asked.set_state(v1::Task::RUNNING);
  asked.set_version(2);
  asked.set_kill_requested(true);
  EXPECT_FALSE(book_->RecordEnd(service, asked, status));
  // A PENDING intent the master never heard of: no failure either.
  v1::Task intent = MakeTask("intent");
  ::mesos::v1::TaskStatus lost;
  lost.set_state(::mesos::v1::TASK_LOST);
  lost.set_reason(::mesos::v1::TaskStatus::REASON_RECONCILIATION);
  EXPECT_FALSE(book_->RecordEnd(service, intent, lost));
  EXPECT_EQ(service.history.failed(), 0u);
  EXPECT_THAT(service.history.failed_by_task_version(), IsEmpty());
  EXPECT_THAT(replans_at_, IsEmpty()) << "no backoff";
  // Ended on its own.
  v1::Task crashed = MakeTask("crashed");
  crashed.set_state(v1::Task::RUNNING);
  crashed.set_version(2);
  ::mesos::v1::TaskStatus failed;
  failed.set_state(::mesos::v1::TASK_FAILED);
  failed.set_message("exit 1");
  EXPECT_TRUE(book_->RecordEnd(service, crashed, failed));
  EXPECT_EQ(service.history.last_failure(), "crashed: TASK_FAILED: exit 1");
  EXPECT_EQ(service.history.failed_by_task_version().at(2), 1u);
  EXPECT_EQ(service.history.consecutive_failures(), 1u);
}

TEST_F(TaskBookTest, ATaskKilledForItsHealthCheckFailsItsVersionOnceItEnds) {
  BookedService& service = AddService();
  v1::Task task = MakeTask("sick");
  task.set_state(v1::Task::RUNNING);
  task.set_version(7);
  book_->AddTask(kService, task);
  EXPECT_FALSE(book_->MarkFailedHealthCheck("nobody"));
  const double writes_before = writes();
  ASSERT_TRUE(book_->MarkFailedHealthCheck("sick"));
  EXPECT_FALSE(book_->MarkFailedHealthCheck("sick")) << "already marked";
  std::vector<absl::Status> outcomes;
  book_->WhenDurable(kService, false, Waiter(outcomes));
  EXPECT_THAT(outcomes, IsEmpty()) << "the mark is a change to write";
  driven_.RunUntilIdle();
  ASSERT_THAT(outcomes, SizeIs(1));
  EXPECT_EQ(writes(), writes_before + 1);
  ASSERT_THAT(Stored().tasks(), SizeIs(1));
  EXPECT_TRUE(Stored().tasks(0).failed_health_check()) << "durable, for the next leader";
  EXPECT_EQ(service.history.failed(), 0u) << "counted when it ends, not when marked";

  // Mast's kill (kill_requested) ends it: a failure of version 7, once.
  v1::Task& booked = *book_->FindTask("sick").task;
  booked.set_kill_requested(true);
  const absl::Time now = driven_.Now();
  ::mesos::v1::TaskStatus killed;
  killed.set_state(::mesos::v1::TASK_KILLED);
  killed.set_message("Command terminated with signal Terminated");
  EXPECT_TRUE(book_->RecordEnd(service, booked, killed));
  EXPECT_EQ(service.history.failed(), 1u);
  EXPECT_EQ(service.history.failed_by_task_version().at(7), 1u);
  EXPECT_EQ(service.history.last_failure(), "sick: health check failed");
  EXPECT_EQ(FromProtoTimestamp(service.history.last_failure_time()), now);
  EXPECT_EQ(service.history.consecutive_failures(), 1u) << "the backoff grows once";
  ASSERT_THAT(replans_at_, SizeIs(1));
  EXPECT_EQ(replans_at_[0].second, now + absl::Seconds(1));
  // Had it ended on its own (FAILED) after the mark, it would count the same, once.
  v1::Task other = booked;
  other.set_id("sick2");
  other.set_kill_requested(false);
  ::mesos::v1::TaskStatus crashed;
  crashed.set_state(::mesos::v1::TASK_FAILED);
  EXPECT_TRUE(book_->RecordEnd(service, other, crashed));
  EXPECT_EQ(service.history.failed_by_task_version().at(7), 2u);
  EXPECT_EQ(service.history.consecutive_failures(), 2u);
  EXPECT_EQ(service.history.last_failure(), "sick2: health check failed");
}

TEST_F(TaskBookTest, TheReadyMetricIsRegistered) {
  metrics_.became_ready.Increment();
  bool found = false;
  for (const prometheus::MetricFamily& family : registry_.Collect()) {
    if (family.name != "mast_task_ready_total") continue;
    found = true;
    ASSERT_THAT(family.metric, SizeIs(1));
    EXPECT_EQ(family.metric[0].counter.value, 1);
  }
  EXPECT_TRUE(found);
}

TEST_F(TaskBookTest, TasksAreFoundByIdAndADroppedOneIsReported) {
  AddService();
  book_->AddTask(kService, MakeTask("t1"));
  book_->AddTask("no/such", MakeTask("t2"));  // not booked: ignored
  TaskBook::TaskRef ref = book_->FindTask("t1");
  ASSERT_TRUE(ref);
  EXPECT_EQ(*ref.service_name, kService);
  EXPECT_EQ(ref.task->id(), "t1");
  EXPECT_FALSE(book_->FindTask("t2"));
  EXPECT_EQ(book_->task_count(), 1u);
  book_->DropTask(kService, ref.task->id());  // the task's own id, gone with it
  EXPECT_FALSE(book_->HasTask("t1"));
  EXPECT_THAT(dropped_, ElementsAre("t1"));
}

TEST_F(TaskBookTest, TheLaunchQueueHoldsServicesWithTasksToLaunch) {
  AddService();
  book_->SetToLaunch(kService, 2);
  EXPECT_THAT(book_->waiting(), ElementsAre(kService));
  EXPECT_EQ(book_->to_launch_total(), 2u);
  book_->SetToLaunch(kService, 0);
  EXPECT_THAT(book_->waiting(), IsEmpty());
}

TEST_F(TaskBookTest, ADeletingServiceIsRemovedOnlyOnceItsRecordsAreWritten) {
  AddService(/*deleting=*/true);
  book_->AddTask(kService, MakeTask("t1"));
  book_->MarkChanged(kService);
  driven_.RunUntilIdle();
  EXPECT_THAT(replans_, ElementsAre(kService)) << "a deleting service's write asks for a plan";
  book_->DropTask(kService, "t1");
  book_->MarkChanged(kService);
  book_->Remove(kService);  // a write is pending: not yet
  EXPECT_NE(book_->Find(kService), nullptr);
  driven_.RunUntilIdle();
  EXPECT_TRUE(ensemble_.Exists(store_.paths().service(kService)));
  book_->Remove(kService);
  EXPECT_TRUE(book_->removing(kService));
  driven_.RunUntilIdle();
  EXPECT_EQ(book_->Find(kService), nullptr);
  EXPECT_FALSE(ensemble_.Exists(store_.paths().service(kService)));
}

TEST_F(TaskBookTest, ADestroyedBookDropsTheCompletionsOfItsWrites) {
  AddService();
  std::vector<absl::Status> outcomes;
  book_->AddTask(kService, MakeTask("t1"));
  book_->MarkChanged(kService);
  book_->WhenDurable(kService, false, Waiter(outcomes));
  zk_.FailNext(absl::UnavailableError("connection loss"));
  driven_.RunUntilIdle();  // failed; a retry timer is set
  book_.reset();
  driven_.Advance(absl::Minutes(1));
  EXPECT_THAT(outcomes, IsEmpty());
  EXPECT_EQ(writes(), 1) << "no retry after the book is gone";
}

TEST_F(TaskBookTest, LoadTakesNonTerminalTasksAndAsksForUnreachableGraceEnds) {
  AddService();
  book_->AddTask(kService, MakeTask("t1"));
  v1::Task unreachable = MakeTask("t2");
  unreachable.set_state(v1::Task::UNREACHABLE);
  ToProtoTimestamp(driven_.Now(), unreachable.mutable_unreachable_since());
  book_->AddTask(kService, unreachable);
  v1::Task ended = MakeTask("t3");
  ended.set_state(v1::Task::FAILED);
  book_->AddTask(kService, ended);
  book_->MarkChanged(kService);
  driven_.RunUntilIdle();

  StateSnapshot snapshot;
  auto stored = std::make_shared<StoredService>();
  stored->record.mutable_service()->mutable_spec()->set_name(kService);
  snapshot.services[kService] = stored;
  snapshot.tasks[kService] = std::make_shared<TaskRecords>(Stored());
  TaskBook loaded(config_, store_, term_, driven_.loop(), driven_.clock(), &metrics_, hooks_);
  replans_at_.clear();
  EXPECT_EQ(loaded.Load(snapshot), 2u) << "the FAILED task is not taken";
  EXPECT_TRUE(loaded.HasTask("t1"));
  EXPECT_FALSE(loaded.HasTask("t3"));
  ASSERT_THAT(replans_at_, SizeIs(1));
  EXPECT_EQ(replans_at_[0].second, driven_.Now() + config_.unreachable_grace);
  EXPECT_FALSE(loaded.Find(kService)->adopt_unknown);
}

// A named network's addresses are recorded; the host network's (unnamed,
// the agent's) is not, and an update without a container status keeps them.
TEST(ApplyStatusTest, RecordsTheContainerNetworksAddresses) {
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  v1::Task task;
  ::mesos::v1::TaskStatus status;
  status.set_state(::mesos::v1::TASK_RUNNING);
  auto* container = status.mutable_container_status();
  container->add_network_infos()->add_ip_addresses()->set_ip_address("192.168.1.5");
  EXPECT_TRUE(ApplyStatus(status, now, task).changed);
  EXPECT_TRUE(task.ip_addresses().empty()) << "the host network's address is the agent's";
  ::mesos::v1::NetworkInfo* overlay = container->add_network_infos();
  overlay->set_name("overlay");
  overlay->add_ip_addresses()->set_ip_address("10.0.0.7");
  EXPECT_TRUE(ApplyStatus(status, now, task).changed);
  EXPECT_THAT(task.ip_addresses(), ::testing::ElementsAre("10.0.0.7"));
  EXPECT_FALSE(ApplyStatus(status, now, task).changed);
  status.clear_container_status();
  EXPECT_FALSE(ApplyStatus(status, now, task).changed);
  EXPECT_THAT(task.ip_addresses(), ::testing::ElementsAre("10.0.0.7"));
}

// ApplyStatus: what a non-terminal update changes in a task record.
TEST(ApplyStatusTest, RecordsStateAgentHealthStartAndUnreachability) {
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  v1::Task task;
  task.set_state(v1::Task::PENDING);
  ::mesos::v1::TaskStatus status;
  status.set_state(::mesos::v1::TASK_RUNNING);
  status.mutable_agent_id()->set_value("a1");
  status.set_healthy(true);
  status.set_message("ok");
  TaskChange change = ApplyStatus(status, now, task);
  EXPECT_TRUE(change.changed);
  EXPECT_FALSE(change.became_unreachable);
  EXPECT_EQ(task.state(), v1::Task::RUNNING);
  EXPECT_EQ(task.agent_id(), "a1");
  EXPECT_TRUE(task.healthy());
  EXPECT_EQ(FromProtoTimestamp(task.started()), now);
  EXPECT_EQ(task.message(), "ok");
  EXPECT_TRUE(change.health_changed);
  // The same update again changes nothing (not even `updated`).
  const v1::Task before = task;
  EXPECT_FALSE(ApplyStatus(status, now + absl::Seconds(1), task).changed);
  EXPECT_EQ(task.SerializeAsString(), before.SerializeAsString());
  // An answer that says nothing of health (reconciliation) keeps it.
  ::mesos::v1::TaskStatus silent = status;
  silent.clear_healthy();
  EXPECT_FALSE(ApplyStatus(silent, now + absl::Seconds(1), task).changed);
  EXPECT_TRUE(task.healthy());
  silent.set_healthy(false);
  change = ApplyStatus(silent, now + absl::Seconds(1), task);
  EXPECT_TRUE(change.health_changed);
  EXPECT_FALSE(task.healthy());
  status.set_healthy(false);
  // Unreachable: since now; reachable again: cleared, `started` kept.
  status.set_state(::mesos::v1::TASK_UNREACHABLE);
  change = ApplyStatus(status, now + absl::Seconds(2), task);
  EXPECT_TRUE(change.became_unreachable);
  EXPECT_EQ(FromProtoTimestamp(task.unreachable_since()), now + absl::Seconds(2));
  EXPECT_FALSE(ApplyStatus(status, now + absl::Seconds(3), task).became_unreachable);
  status.set_state(::mesos::v1::TASK_RUNNING);
  EXPECT_TRUE(ApplyStatus(status, now + absl::Seconds(4), task).changed);
  EXPECT_FALSE(task.has_unreachable_since());
  EXPECT_EQ(FromProtoTimestamp(task.started()), now);
}

TEST(ApplyStatusTest, ReadyLatchesOnTheFirstPassingCheck) {
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  v1::Task task;
  task.set_state(v1::Task::RUNNING);
  ::mesos::v1::TaskStatus status;
  status.set_state(::mesos::v1::TASK_RUNNING);
  // Just launched: the check has no result yet.
  status.mutable_check_status()->set_type(::mesos::v1::CheckInfo::HTTP);
  status.mutable_check_status()->mutable_http();
  TaskChange change = ApplyStatus(status, now, task);
  EXPECT_FALSE(change.became_ready);
  EXPECT_FALSE(task.ready());
  status.set_reason(::mesos::v1::TaskStatus::REASON_TASK_CHECK_STATUS_UPDATED);
  status.mutable_check_status()->mutable_http()->set_status_code(503);
  EXPECT_FALSE(ApplyStatus(status, now, task).became_ready);
  EXPECT_FALSE(task.ready());
  status.mutable_check_status()->mutable_http()->set_status_code(200);
  change = ApplyStatus(status, now + absl::Seconds(1), task);
  EXPECT_TRUE(change.became_ready);
  EXPECT_TRUE(change.changed) << "a ready task is a change to write";
  EXPECT_TRUE(task.ready());
  EXPECT_EQ(FromProtoTimestamp(task.updated()), now + absl::Seconds(1));
  EXPECT_EQ(task.reason(), "REASON_TASK_CHECK_STATUS_UPDATED");
  // Latched: a failing check later leaves it ready, and changes nothing.
  status.mutable_check_status()->mutable_http()->set_status_code(500);
  change = ApplyStatus(status, now + absl::Seconds(2), task);
  EXPECT_FALSE(change.became_ready);
  EXPECT_FALSE(change.changed);
  EXPECT_TRUE(task.ready());
  // An update without check_status (reconciliation, no check) keeps it too.
  status.clear_check_status();
  EXPECT_FALSE(ApplyStatus(status, now + absl::Seconds(3), task).changed);
  EXPECT_TRUE(task.ready());
}

TEST(ApplyStatusTest, CheckResultsPassInMesosTerms) {
  using ::mesos::v1::CheckInfo;
  using ::mesos::v1::CheckStatusInfo;
  CheckStatusInfo http;
  http.set_type(CheckInfo::HTTP);
  http.mutable_http();
  EXPECT_FALSE(CheckStatusPassed(http)) << "no result yet";
  for (uint32_t code : {200u, 204u, 299u}) {
    http.mutable_http()->set_status_code(code);
    EXPECT_TRUE(CheckStatusPassed(http)) << code;
  }
  for (uint32_t code : {199u, 302u, 404u, 503u}) {
    http.mutable_http()->set_status_code(code);
    EXPECT_FALSE(CheckStatusPassed(http)) << code << ": only 2xx is ready";
  }
  CheckStatusInfo tcp;
  tcp.set_type(CheckInfo::TCP);
  tcp.mutable_tcp();
  EXPECT_FALSE(CheckStatusPassed(tcp));
  tcp.mutable_tcp()->set_succeeded(false);
  EXPECT_FALSE(CheckStatusPassed(tcp));
  tcp.mutable_tcp()->set_succeeded(true);
  EXPECT_TRUE(CheckStatusPassed(tcp));
  CheckStatusInfo command;
  command.set_type(CheckInfo::COMMAND);
  command.mutable_command();
  EXPECT_FALSE(CheckStatusPassed(command)) << "timed out / not run: no exit code";
  command.mutable_command()->set_exit_code(1);
  EXPECT_FALSE(CheckStatusPassed(command));
  command.mutable_command()->set_exit_code(0);
  EXPECT_TRUE(CheckStatusPassed(command));
  // The type decides: a TCP result in an HTTP-typed status is no pass.
  CheckStatusInfo mixed;
  mixed.set_type(CheckInfo::HTTP);
  mixed.mutable_tcp()->set_succeeded(true);
  EXPECT_FALSE(CheckStatusPassed(mixed));
  EXPECT_FALSE(CheckStatusPassed(CheckStatusInfo()));
}

}  // namespace
}  // namespace mast
