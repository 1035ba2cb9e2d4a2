#include "store/service_store.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/zk_store.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/fakes/manual_clock.h"
#include "tests/support/zk_test_util.h"

namespace mast {
namespace {

using ::mast::testing::CallOnLoop;
using ::mast::testing::FakeZkClient;
using ::mast::testing::FakeZkEnsemble;
using ::mast::v1::records::ServiceRecord;
using ::mast::v1::records::TaskRecords;
using ::mast::v1::records::TaskRecordsHead;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

ServiceRecord MakeService(const std::string& name, uint32_t instances) {
  ServiceRecord record;
  record.mutable_service()->mutable_spec()->set_name(name);
  record.mutable_service()->mutable_spec()->set_instances(instances);
  record.mutable_service()->mutable_spec()->mutable_command()->set_shell("sleep 1000");
  return record;
}

// Realistic-looking tasks: ids and agents vary, so they compress like real ones.
TaskRecords MakeTasks(const std::string& service, int count) {
  TaskRecords tasks;
  for (int i = 0; i < count; ++i) {
    mast::v1::Task* task = tasks.add_tasks();
    uint64_t h = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
    task->set_id(absl::StrFormat("%s.%016x", service, h));
    task->set_service(service);
    task->set_version(3);
    task->set_agent_id(absl::StrFormat("a1b2c3d4-%04x-S%d", (h >> 20) & 0xffff, i % 1000));
    task->set_host(absl::StrCat("agent-", i % 1000, ".dc1.example.com"));
    task->add_ports(31000 + static_cast<uint32_t>(h % 1000));
    task->set_state(mast::v1::Task::RUNNING);
    task->mutable_started()->set_seconds(1'700'000'000 + i);
  }
  return tasks;
}

class ServiceStoreFakeTest : public ::testing::Test {
 protected:
  ServiceStoreFakeTest()
      : loop_(clock_, "store"),
        zk_(ensemble_, loop_),
        zk_store_(zk_, "/mast"),
        store_(zk_, zk_store_) {
    zk_.Connect();
    auto term = ::mast::testing::TakeLeadershipForTest(zk_, loop_, clock_);
    EXPECT_TRUE(term.ok()) << term.status();
    if (term.ok()) term_ = *term;
  }
  ~ServiceStoreFakeTest() override { loop_.Flush(); }

  absl::StatusOr<int32_t> Put(ServiceStore& store, const ServiceRecord& record, int64_t expected) {
    return CallOnLoop<absl::StatusOr<int32_t>>(
        loop_, [&](auto cb) { store.PutService(term_, record, expected, std::move(cb)); });
  }
  absl::StatusOr<int32_t> Put(const ServiceRecord& record, int64_t expected) {
    return Put(store_, record, expected);
  }
  absl::StatusOr<std::optional<StoredService>> Get(const std::string& name) {
    return CallOnLoop<absl::StatusOr<std::optional<StoredService>>>(
        loop_, [&](auto cb) { store_.GetService(name, std::move(cb)); });
  }
  absl::Status Delete(const std::string& name) {
    return CallOnLoop<absl::Status>(
        loop_, [&](auto cb) { store_.DeleteService(term_, name, std::move(cb)); });
  }
  absl::Status PutTasks(const std::string& name, const TaskRecords& tasks) {
    return CallOnLoop<absl::Status>(
        loop_, [&](auto cb) { store_.PutTasks(term_, name, tasks, std::move(cb)); });
  }
  absl::StatusOr<TaskRecords> GetTasks(const std::string& name) {
    return CallOnLoop<absl::StatusOr<TaskRecords>>(
        loop_, [&](auto cb) { store_.GetTasks(name, std::move(cb)); });
  }

  ManualClock clock_;
  EventLoop loop_;
  FakeZkEnsemble ensemble_;
  FakeZkClient zk_;
  ZkStore zk_store_;
  ServiceStore store_;
  LeaderTerm term_;
};

TEST(ServiceNameEscapeTest, RoundTripsAndRejectsMalformed) {
  for (const std::string name : {"web", "team/web", "a/b/c", "x.y", "100%", "a b", "\xc3\xa9"}) {
    std::string escaped = EscapeServiceName(name);
    EXPECT_EQ(escaped.find_first_of("/."), std::string::npos) << escaped;
    EXPECT_EQ(UnescapeServiceName(escaped).value_or(""), name) << escaped;
  }
  EXPECT_EQ(EscapeServiceName("team/web"), "team%2Fweb");
  for (const std::string bad : {"", "a%2", "a%zz", "a%61", "a.b", "a/b"}) {
    EXPECT_FALSE(UnescapeServiceName(bad).ok()) << bad;
  }
}

TEST_F(ServiceStoreFakeTest, PutGetDelete) {
  EXPECT_FALSE(Get("team/web")->has_value());
  ASSERT_EQ(Put(MakeService("team/web", 2), ServiceStore::kMustNotExist).value_or(-9), 0);
  EXPECT_TRUE(ensemble_.Exists("/mast/state/services/team%2Fweb"));
  EXPECT_EQ(ensemble_.Data("/mast/state/schema_version"), "1");
  auto got = Get("team/web");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->record.service().spec().instances(), 2u);
  EXPECT_EQ((*got)->version, 0);

  EXPECT_EQ(Put(MakeService("team/web", 3), 0).value_or(-9), 1);
  EXPECT_EQ(Put(MakeService("team/web", 4), ServiceStore::kAnyVersion).value_or(-9), 2);
  EXPECT_EQ(Get("team/web").value()->record.service().spec().instances(), 4u);
  EXPECT_EQ(Put(MakeService("new", 1), ServiceStore::kAnyVersion).value_or(-9), 0);

  ASSERT_TRUE(PutTasks("team/web", MakeTasks("team/web", 3)).ok());
  EXPECT_EQ(GetTasks("team/web")->tasks_size(), 3);
  EXPECT_EQ(GetTasks("nothing")->tasks_size(), 0);

  ASSERT_TRUE(Delete("team/web").ok());
  EXPECT_FALSE(Get("team/web")->has_value());
  EXPECT_EQ(GetTasks("team/web")->tasks_size(), 0);
  EXPECT_THAT(ensemble_.Children("/mast/state/tasks"), ElementsAre());
  EXPECT_THAT(ensemble_.Children("/mast/state/services"), ElementsAre("new"));
  EXPECT_EQ(Delete("team/web").code(), absl::StatusCode::kNotFound);
}

TEST_F(ServiceStoreFakeTest, ExpectedVersionMismatchIsAborted) {
  ASSERT_TRUE(Put(MakeService("web", 1), ServiceStore::kMustNotExist).ok());
  ASSERT_TRUE(Put(MakeService("web", 2), 0).ok());
  absl::StatusOr<int32_t> stale = Put(MakeService("web", 9), 0);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
  EXPECT_EQ(Get("web").value()->record.service().spec().instances(), 2u);
  EXPECT_EQ(Put(MakeService("web", 9), ServiceStore::kMustNotExist).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Put(MakeService("gone", 9), 4).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Put(MakeService("", 1), ServiceStore::kAnyVersion).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ServiceStoreFakeTest, DeposedTermWritesNothing) {
  ASSERT_TRUE(Put(MakeService("web", 1), ServiceStore::kMustNotExist).ok());
  ASSERT_TRUE(PutTasks("web", MakeTasks("web", 2)).ok());
  ensemble_.Delete(term_.znode);  // the session expired: the election znode went
  absl::StatusOr<int32_t> put = Put(MakeService("web", 7), ServiceStore::kAnyVersion);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(put.status().message()), HasSubstr("no longer leads"));
  EXPECT_EQ(PutTasks("web", MakeTasks("web", 5)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Delete("web").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Get("web").value()->record.service().spec().instances(), 1u);
  EXPECT_EQ(GetTasks("web")->tasks_size(), 2);
}

TEST_F(ServiceStoreFakeTest, HundredThousandTasksAreCompressedShardedAndRoundTrip) {
  const TaskRecords tasks = MakeTasks("team/big", 100'000);
  ASSERT_TRUE(PutTasks("team/big", tasks).ok());

  TaskRecordsHead head;
  ASSERT_TRUE(head.ParseFromString(ensemble_.Data("/mast/state/tasks/team%2Fbig").value()));
  EXPECT_EQ(head.encoding(), TaskRecordsHead::ENCODING_ZLIB);
  EXPECT_GT(head.shard_count(), 1u);
  EXPECT_LT(head.payload_size(), head.raw_size());
  for (const std::string& child : ensemble_.Children("/mast/state/tasks")) {
    EXPECT_LE(ensemble_.Data("/mast/state/tasks/" + child)->size(), 900u * 1024) << child;
  }
  EXPECT_EQ(ensemble_.Children("/mast/state/tasks").size(), head.shard_count() + 1);

  absl::StatusOr<TaskRecords> read = GetTasks("team/big");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->tasks_size(), 100'000);
  EXPECT_EQ(read->SerializeAsString(), tasks.SerializeAsString());

  // A small rewrite goes inline and drops the old generation's shards.
  ASSERT_TRUE(PutTasks("team/big", MakeTasks("team/big", 10)).ok());
  EXPECT_THAT(ensemble_.Children("/mast/state/tasks"), ElementsAre("team%2Fbig"));
  EXPECT_EQ(GetTasks("team/big")->tasks_size(), 10);
}

TEST_F(ServiceStoreFakeTest, DeleteRemovesShardsAndLeftovers) {
  ASSERT_TRUE(Put(MakeService("big", 1), ServiceStore::kMustNotExist).ok());
  ASSERT_TRUE(PutTasks("big", MakeTasks("big", 100'000)).ok());
  ASSERT_TRUE(Put(MakeService("big2", 1), ServiceStore::kMustNotExist).ok());
  ASSERT_TRUE(PutTasks("big2", MakeTasks("big2", 1)).ok());
  // A write that failed after its shards: unreferenced shard znodes remain.
  auto leftover = CallOnLoop<absl::StatusOr<ZkCreated>>(loop_, [&](auto cb) {
    zk_.Create("/mast/state/tasks/big.7.0", "junk", ZkCreateMode::kPersistent, std::move(cb));
  });
  ASSERT_TRUE(leftover.ok());
  ASSERT_TRUE(Delete("big").ok());
  EXPECT_THAT(ensemble_.Children("/mast/state/tasks"), ElementsAre("big2"));
  EXPECT_THAT(ensemble_.Children("/mast/state/services"), ElementsAre("big2"));
}

TEST_F(ServiceStoreFakeTest, CorruptTaskPayloadIsDataLoss) {
  ASSERT_TRUE(PutTasks("web", MakeTasks("web", 5)).ok());
  ensemble_.SetData("/mast/state/tasks/web", "\xff\xff not a head");
  EXPECT_EQ(GetTasks("web").status().code(), absl::StatusCode::kDataLoss);

  absl::StatusOr<EncodedTaskRecords> encoded = EncodeTaskRecords(MakeTasks("web", 5), 1, {});
  ASSERT_TRUE(encoded.ok());
  TaskRecordsHead head = encoded->head;
  head.mutable_inline_payload()->back() ^= 1;
  EXPECT_EQ(DecodeTaskRecords(head, {}).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ServiceStoreFakeTest, NewerSchemaIsRefused) {
  ASSERT_TRUE(Put(MakeService("web", 1), ServiceStore::kMustNotExist).ok());
  ensemble_.SetData("/mast/state/schema_version", "2");  // a newer Mast migrated the state

  // This store read schema 1 before: its writes' schema check fails.
  absl::StatusOr<int32_t> put = Put(MakeService("web", 2), ServiceStore::kAnyVersion);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kFailedPrecondition) << put.status();
  // A store that reads the schema now refuses it by number.
  ServiceStore fresh(zk_, zk_store_);
  put = Put(fresh, MakeService("web", 3), ServiceStore::kAnyVersion);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(put.status().message()), HasSubstr("newer"));
  EXPECT_EQ(Get("web").value()->record.service().spec().instances(), 1u);
  EXPECT_EQ(ensemble_.Data("/mast/state/schema_version"), "2");
}

}  // namespace
}  // namespace mast
