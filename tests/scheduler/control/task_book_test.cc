// TaskBook on a fake ZooKeeper (ServiceStore as in production) and a driven
// loop: batching of writes, waiters, retries, the fence, failures and
// backoff, removal, and that a destroyed book drops its completions.
#include "scheduler/control/task_book.h"

#include <memory>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace mast
