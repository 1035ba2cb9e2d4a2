#include "api/service_writer.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/service_store.h"
#include "store/zk_store.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/support/zk_test_util.h"

namespace mast {
namespace {

using ::mast::testing::CallOnLoop;
using ::mast::testing::FakeZkClient;
using ::mast::testing::FakeZkEnsemble;
using ::testing::HasSubstr;
using ::testing::StartsWith;

v1::ServiceSpec Spec(const std::string& name, uint32_t instances = 2) {
  v1::ServiceSpec spec;
  spec.set_name(name);
  spec.mutable_command()->set_shell("sleep 1000");
  spec.mutable_resources()->set_cpus(0.5);
  spec.mutable_resources()->set_mem_mib(64);
  spec.set_instances(instances);
  return spec;
}

// A ServiceWriter over a real ServiceStore on an in-memory ZooKeeper.
class ServiceWriterTest : public ::testing::Test {
 protected:
  ServiceWriterTest()
      : zk_(ensemble_, driven_.loop()),
        zk_store_(zk_, "/mast"),
        store_(zk_, zk_store_),
        writer_(
            store_, driven_.clock(), [this] { return state_; },
            ServiceWriter::Options{.idempotency_keys = 3, .allowed_roles = {"web", "batch"}}) {
    zk_.Connect();
    auto term = ::mast::testing::TakeLeadershipForTest(zk_, driven_.loop(), driven_.clock());
    EXPECT_TRUE(term.ok()) << term.status();
    if (term.ok()) term_ = *term;
    OnLoop([&] { writer_.OnStartedLeading(term_); });
  }
  ~ServiceWriterTest() override { driven_.RunUntilIdle(); }

  // Runs `f` on the test thread (the driven loop's own), then what it set going.
  void OnLoop(absl::AnyInvocable<void() &&> f) {
    std::move(f)();
    driven_.RunUntilIdle();
  }

  template <typename T>
  using Answer = absl::StatusOr<ServiceWriter::Written<T>>;
  // The response of `written`, noting its store version in last_store_version_.
  template <typename T>
  absl::StatusOr<T> Unwrap(Answer<T> written) {
    last_store_version_ = written.ok() ? written->store_version : -1;
    if (!written.ok()) return written.status();
    return std::move(written->response);
  }

  absl::StatusOr<v1::Service> Create(const v1::ServiceSpec& spec, const std::string& key = "") {
    v1::CreateServiceRequest request;
    *request.mutable_spec() = spec;
    request.set_idempotency_key(key);
    return Unwrap(CallOnLoop<Answer<v1::Service>>(
        driven_.loop(), [&](auto cb) { writer_.Create(request, std::move(cb)); }));
  }
  absl::StatusOr<v1::Service> Update(const v1::ServiceSpec& spec, uint64_t expected,
                                     bool force = false) {
    v1::UpdateServiceRequest request;
    *request.mutable_spec() = spec;
    request.set_expected_version(expected);
    request.set_force(force);
    return Unwrap(CallOnLoop<Answer<v1::Service>>(
        driven_.loop(), [&](auto cb) { writer_.Update(request, std::move(cb)); }));
  }
  absl::StatusOr<v1::Service> Scale(const std::string& name, uint32_t instances,
                                    uint64_t expected = 0, const std::string& key = "") {
    v1::ScaleServiceRequest request;
    request.set_name(name);
    request.set_instances(instances);
    request.set_expected_version(expected);
    request.set_idempotency_key(key);
    return Unwrap(CallOnLoop<Answer<v1::Service>>(
        driven_.loop(), [&](auto cb) { writer_.Scale(request, std::move(cb)); }));
  }
  absl::StatusOr<v1::Service> Restart(const std::string& name, uint64_t expected = 0,
                                      const std::string& key = "", bool force = false) {
    v1::RestartServiceRequest request;
    request.set_name(name);
    request.set_expected_version(expected);
    request.set_idempotency_key(key);
    request.set_force(force);
    return Unwrap(CallOnLoop<Answer<v1::Service>>(
        driven_.loop(), [&](auto cb) { writer_.Restart(request, std::move(cb)); }));
  }
  absl::Status Delete(const std::string& name, uint64_t expected = 0) {
    v1::DeleteServiceRequest request;
    request.set_name(name);
    request.set_expected_version(expected);
    return Unwrap(CallOnLoop<Answer<v1::DeleteServiceResponse>>(
                      driven_.loop(), [&](auto cb) { writer_.Delete(request, std::move(cb)); }))
        .status();
  }
  absl::StatusOr<v1::Deployment> Pause(const std::string& service, const std::string& id = "",
                                       const std::string& key = "") {
    v1::DeploymentRequest request;
    request.set_service(service);
    request.set_id(id);
    request.set_idempotency_key(key);
    return Unwrap(CallOnLoop<Answer<v1::Deployment>>(
        driven_.loop(), [&](auto cb) { writer_.Pause(request, std::move(cb)); }));
  }
  absl::StatusOr<v1::Deployment> Resume(const std::string& service, const std::string& id = "") {
    v1::DeploymentRequest request;
    request.set_service(service);
    request.set_id(id);
    return Unwrap(CallOnLoop<Answer<v1::Deployment>>(
        driven_.loop(), [&](auto cb) { writer_.Resume(request, std::move(cb)); }));
  }
  absl::StatusOr<v1::Deployment> Cancel(const std::string& service, bool rollback,
                                        const std::string& id = "") {
    v1::CancelDeploymentRequest request;
    request.set_service(service);
    request.set_id(id);
    request.set_rollback(rollback);
    return Unwrap(CallOnLoop<Answer<v1::Deployment>>(
        driven_.loop(), [&](auto cb) { writer_.Cancel(request, std::move(cb)); }));
  }
  absl::StatusOr<v1::Service> Rollback(const std::string& name, uint64_t to_version,
                                       bool force = false) {
    v1::RollbackServiceRequest request;
    request.set_name(name);
    request.set_to_version(to_version);
    request.set_force(force);
    return Unwrap(CallOnLoop<Answer<v1::Service>>(
        driven_.loop(), [&](auto cb) { writer_.Rollback(request, std::move(cb)); }));
  }
  absl::Status Record(const std::string& service, DeploymentTransition transition) {
    return CallOnLoop<absl::Status>(driven_.loop(), [&](auto cb) {
      writer_.Record(service, std::move(transition), std::move(cb));
    });
  }
  std::optional<v1::records::ServiceRecord> Rec(const std::string& name) {
    std::optional<StoredService> stored = StoredRecord(name);
    if (!stored.has_value()) return std::nullopt;
    return stored->record;
  }

  // What the leader's scheduler does once a deleting service has no task left.
  void RemoveRecord(const std::string& name) {
    absl::Status removed = CallOnLoop<absl::Status>(
        driven_.loop(), [&](auto cb) { store_.DeleteService(term_, name, std::move(cb)); });
    ASSERT_TRUE(removed.ok()) << removed;
  }
  std::optional<StoredService> StoredRecord(const std::string& name) {
    auto read = CallOnLoop<absl::StatusOr<std::optional<StoredService>>>(
        driven_.loop(), [&](auto cb) { store_.GetService(name, std::move(cb)); });
    EXPECT_TRUE(read.ok()) << read.status();
    if (!read.ok()) return std::nullopt;
    return *std::move(read);
  }
  std::optional<v1::Service> Stored(const std::string& name) {
    std::optional<StoredService> stored = StoredRecord(name);
    if (!stored.has_value()) return std::nullopt;
    return stored->record.service();
  }
  // The stored part of an answer (answers carry the computed status).
  // The answer as stored: without what reads compute from the tasks.
  static std::string StoredBytes(v1::Service service) {
    service.clear_status();
    service.mutable_deployment()->clear_progress();
    if (service.deployment().ByteSizeLong() == 0) service.clear_deployment();
    return service.SerializeAsString();
  }

  DrivenLoop driven_;
  FakeZkEnsemble ensemble_;
  FakeZkClient zk_;
  ZkStore zk_store_;
  ServiceStore store_;
  // The leader's read copy, as the writer's answers see it.
  std::shared_ptr<const StateSnapshot> state_ = std::make_shared<StateSnapshot>();
  ServiceWriter writer_;
  LeaderTerm term_;
  int64_t last_store_version_ = 0;  // of the last answer; -1 after an error
};

TEST_F(ServiceWriterTest, CreateStoresVersionOneWithDefaults) {
  auto created = Create(Spec("team/web"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->version(), 1u);
  EXPECT_EQ(created->spec().kill_grace_period().seconds(), 3);  // WithDefaults
  EXPECT_EQ(created->created().seconds(), absl::ToUnixSeconds(driven_.Now()));
  auto stored = Stored("team/web");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->SerializeAsString(), StoredBytes(*created));

  auto again = Create(Spec("team/web"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("team/web"));
}

TEST_F(ServiceWriterTest, InvalidSpecsNameTheField) {
  v1::ServiceSpec no_cpus = Spec("team/web");
  no_cpus.mutable_resources()->set_cpus(0);
  auto refused = Create(no_cpus);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), StartsWith("spec.resources.cpus: "));
  EXPECT_FALSE(Stored("team/web").has_value());

  ASSERT_TRUE(Create(Spec("team/web")).ok());
  EXPECT_THAT(Update(no_cpus, 0).status().message(), StartsWith("spec.resources.cpus: "));
  auto too_many = Scale("team/web", kMaxInstances + 1);
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_many.status().message(), StartsWith("instances: "));
  EXPECT_THAT(Scale("", 1).status().message(), StartsWith("name: "));
}

// --allowed_roles: a service may run under a listed role (or none: the
// framework's); another is refused on create and update, naming the list.
TEST_F(ServiceWriterTest, OnlyAllowedRolesAreTaken) {
  v1::ServiceSpec batch = Spec("team/job");
  batch.set_role("batch");
  ASSERT_TRUE(Create(batch).ok());
  ASSERT_TRUE(Create(Spec("team/web")).ok()) << "no role: the framework's";
  v1::ServiceSpec other = Spec("team/other");
  other.set_role("finance");
  auto refused = Create(other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(),
            "spec.role: 'finance' is not a role this framework may use (--allowed_roles: web, "
            "batch)");
  EXPECT_FALSE(Stored("team/other").has_value());
  batch.set_role("finance");
  EXPECT_THAT(Update(batch, 0).status().message(), StartsWith("spec.role: 'finance'"));
}

TEST_F(ServiceWriterTest, CreateAndScaleWordTheInstanceLimitAlike) {
  auto too_many_created = Create(Spec("team/web", kMaxInstances + 1));
  EXPECT_EQ(too_many_created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(too_many_created.status().message(), "spec.instances: must be <= 10000, not 10001");

  ASSERT_TRUE(Create(Spec("team/web")).ok());
  auto too_many_scaled = Scale("team/web", 1000000000);
  EXPECT_EQ(too_many_scaled.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(too_many_scaled.status().message(), "instances: must be <= 10000, not 1000000000");
}

TEST_F(ServiceWriterTest, AnInvalidSpecNamesEveryBadFieldWithThePrefix) {
  v1::ServiceSpec spec = Spec("Team/web");
  spec.mutable_resources()->set_cpus(-1);
  auto refused = Create(spec);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              StartsWith("spec.name: 'Team/web' is not a path of DNS labels"));
  EXPECT_THAT(refused.status().message(), HasSubstr("; spec.resources.cpus: must be > 0"));
}

TEST_F(ServiceWriterTest, ExpectedVersionIsCheckedOnEveryWrite) {
  ASSERT_TRUE(Create(Spec("web")).ok());
  driven_.Advance(absl::Seconds(5));
  auto updated = Update(Spec("web", 5), 1);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->version(), 2u);
  EXPECT_EQ(updated->spec().instances(), 5u);
  EXPECT_EQ(updated->updated().seconds(), updated->created().seconds() + 5);

  auto stale = Update(Spec("web", 6), 1);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(stale.status().message(), HasSubstr("at version 2, not 1"));
  EXPECT_EQ(Scale("web", 1, 1).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Delete("web", 1).code(), absl::StatusCode::kAborted);

  auto scaled = Scale("web", 7, 2);
  ASSERT_TRUE(scaled.ok()) << scaled.status();
  EXPECT_EQ(scaled->version(), 3u);
  EXPECT_EQ(scaled->spec().instances(), 7u);
  EXPECT_EQ(Stored("web")->spec().instances(), 7u);
  auto any = Scale("web", 8, 0);
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->version(), 4u);

  EXPECT_EQ(Restart("web", 3).status().code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(Delete("web", 4).ok());
  EXPECT_EQ(Stored("web")->version(), 5u);
  RemoveRecord("web");
  EXPECT_EQ(Delete("web").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Scale("web", 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Update(Spec("web"), 0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Restart("web").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ServiceWriterTest, TaskVersionMovesWhenTasksMustBeReplaced) {
  struct Step {
    const char* what;
    std::function<absl::StatusOr<v1::Service>()> write;
    uint64_t version;
    uint64_t task_version;
  };
  v1::ServiceSpec changed = Spec("web", 4);
  changed.mutable_command()->set_shell("sleep 2000");
  v1::ServiceSpec restrategied = changed;
  restrategied.mutable_upgrade_strategy()->set_minimum_health_capacity(0.5);
  v1::ServiceSpec labelled = restrategied;
  (*labelled.mutable_labels())["tier"] = "web";
  const std::vector<Step> steps = {
      {"create", [&] { return Create(Spec("web")); }, 1, 1},
      {"scale", [&] { return Scale("web", 3); }, 2, 1},
      {"update of instances only", [&] { return Update(Spec("web", 4), 0); }, 3, 1},
      {"update of the command", [&] { return Update(changed, 0); }, 4, 4},
      {"update to the same spec", [&] { return Update(changed, 4); }, 5, 4},
      // How tasks are replaced is no change of what runs (no force needed).
      {"update of the strategy", [&] { return Update(restrategied, 5); }, 6, 4},
      // (force: each replaces the deployment the one before started)
      {"update of a label", [&] { return Update(labelled, 0, true); }, 7, 7},
      {"restart", [&] { return Restart("web", 7, "", true); }, 8, 8},
      {"restart again", [&] { return Restart("web", 0, "", true); }, 9, 9},
      {"scale after restart", [&] { return Scale("web", 1); }, 10, 9},
  };
  for (const Step& step : steps) {
    driven_.Advance(absl::Seconds(1));
    absl::StatusOr<v1::Service> written = step.write();
    ASSERT_TRUE(written.ok()) << step.what << ": " << written.status();
    EXPECT_EQ(written->version(), step.version) << step.what;
    EXPECT_EQ(written->task_version(), step.task_version) << step.what;
    EXPECT_EQ(written->updated().seconds(), absl::ToUnixSeconds(driven_.Now())) << step.what;
    std::optional<v1::Service> stored = Stored("web");
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->SerializeAsString(), StoredBytes(*written)) << step.what;
  }
  // A restart keeps the spec.
  EXPECT_EQ(Stored("web")->spec().command().shell(), "sleep 2000");
  EXPECT_THAT(Restart("").status().message(), StartsWith("name: "));
}

TEST_F(ServiceWriterTest, DeleteMarksTheServiceDeletingUntilTheSchedulerRemovesIt) {
  ASSERT_TRUE(Create(Spec("web")).ok());
  ASSERT_TRUE(Delete("web", 1).ok());
  std::optional<v1::Service> stored = Stored("web");
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->deleting());
  EXPECT_EQ(stored->version(), 2u);
  EXPECT_EQ(stored->task_version(), 1u);
  auto record = CallOnLoop<absl::StatusOr<std::optional<StoredService>>>(
      driven_.loop(), [&](auto cb) { store_.GetService("web", std::move(cb)); });
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_TRUE((*record)->record.deleting());
  const int32_t znode_version = (*record)->version;

  // Deleting again is done already: OK, nothing written (even with the
  // version the first delete expected).
  EXPECT_TRUE(Delete("web").ok());
  EXPECT_TRUE(Delete("web", 1).ok());
  record = CallOnLoop<absl::StatusOr<std::optional<StoredService>>>(
      driven_.loop(), [&](auto cb) { store_.GetService("web", std::move(cb)); });
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->version, znode_version);

  // Other writes are refused while it goes.
  for (absl::Status refused :
       {Scale("web", 3).status(), Update(Spec("web", 3), 0).status(), Restart("web").status()}) {
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
    EXPECT_THAT(refused.message(), HasSubstr("service 'web' is being deleted"));
  }
  auto create = Create(Spec("web"));
  EXPECT_EQ(create.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(create.status().message(), HasSubstr("being deleted"));
  EXPECT_EQ(Stored("web")->version(), 2u);

  // Once the record is gone the name is free again, at version 1.
  RemoveRecord("web");
  auto again = Create(Spec("web"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->version(), 1u);
  EXPECT_FALSE(again->deleting());
}

TEST_F(ServiceWriterTest, DeleteIsWrittenAtTheReadVersion) {
  ASSERT_TRUE(Create(Spec("web")).ok());
  // Another writer (the scheduler, say) changes the record between the
  // delete's read and its write: the delete is ABORTED, not applied over it.
  v1::records::ServiceRecord other;
  *other.mutable_service() = *Stored("web");
  other.mutable_service()->mutable_spec()->set_instances(9);
  Answer<v1::DeleteServiceResponse> raced;
  bool done = false;
  OnLoop([&] {
    v1::DeleteServiceRequest request;
    request.set_name("web");
    writer_.Delete(request, [&](Answer<v1::DeleteServiceResponse> r) {
      raced = std::move(r);
      done = true;
    });
    // The read was made (the fake answers it at once); its answer is queued.
    ensemble_.SetData(store_.paths().service("web"), other.SerializeAsString());
  });
  ASSERT_TRUE(done);
  EXPECT_EQ(raced.status().code(), absl::StatusCode::kAborted) << raced.status();
  EXPECT_THAT(raced.status().message(), HasSubstr("changed concurrently"));
  EXPECT_FALSE(Stored("web")->deleting());
  EXPECT_EQ(Stored("web")->spec().instances(), 9u);
}

TEST_F(ServiceWriterTest, WritesOfOneNameAreSerialized) {
  ASSERT_TRUE(Create(Spec("web")).ok());
  // Two scales expecting version 1, issued together: exactly one wins.
  Answer<v1::Service> first, second;
  bool first_done = false, second_done = false;
  OnLoop([&] {
    v1::ScaleServiceRequest request;
    request.set_name("web");
    request.set_instances(3);
    request.set_expected_version(1);
    writer_.Scale(request, [&](Answer<v1::Service> r) {
      first = std::move(r);
      first_done = true;
    });
    writer_.Scale(request, [&](Answer<v1::Service> r) {
      second = std::move(r);
      second_done = true;
    });
  });
  ASSERT_TRUE(first_done);
  ASSERT_TRUE(second_done);
  EXPECT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
}

TEST_F(ServiceWriterTest, OnlyAnActingLeaderWrites) {
  OnLoop([&] { writer_.OnPaused(true); });
  auto paused = Create(Spec("web"));
  EXPECT_EQ(paused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(paused.status().message(), HasSubstr("paused"));
  OnLoop([&] { writer_.OnPaused(false); });
  ASSERT_TRUE(Create(Spec("web")).ok());

  OnLoop([&] { writer_.OnStoppedLeading(); });
  EXPECT_EQ(Scale("web", 3).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Stored("web")->version(), 1u);

  // A deposed leader that still believes it leads: the fence refuses, and
  // the client is told to retry (UNAVAILABLE), not that it failed for good.
  OnLoop([&] { writer_.OnStartedLeading(term_); });
  ensemble_.Delete(term_.znode);
  auto deposed = Scale("web", 3);
  EXPECT_EQ(deposed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(deposed.status().message(), HasSubstr("retry"));
  EXPECT_EQ(Stored("web")->version(), 1u);
}

TEST_F(ServiceWriterTest, RepeatedIdempotencyKeyGetsTheFirstAnswer) {
  auto first = Create(Spec("web"), "k1");
  ASSERT_TRUE(first.ok());
  driven_.Advance(absl::Seconds(1));
  auto repeat = Create(Spec("web"), "k1");  // not ALREADY_EXISTS: the same answer
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_EQ(repeat->SerializeAsString(), first->SerializeAsString());

  auto reused = Create(Spec("other"), "k1");
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reused.status().message(), StartsWith("idempotency_key: "));
  EXPECT_FALSE(Stored("other").has_value());

  // Scales are applied once per key.
  ASSERT_TRUE(Scale("web", 4, 0, "s1").ok());
  auto scale_again = Scale("web", 4, 0, "s1");
  ASSERT_TRUE(scale_again.ok());
  EXPECT_EQ(scale_again->version(), 2u);
  EXPECT_EQ(Stored("web")->version(), 2u);

  // Definite errors are remembered too.
  EXPECT_EQ(Create(Spec("web"), "dup").status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(Delete("web").ok());
  EXPECT_EQ(Create(Spec("web"), "dup").status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ServiceWriterTest, TransientErrorsAreNotRememberedAndMemoryIsBounded) {
  zk_.FailNext(absl::UnavailableError("connection loss"));
  auto lost = Create(Spec("web"), "k");
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable);
  auto retried = Create(Spec("web"), "k");
  ASSERT_TRUE(retried.ok()) << retried.status();

  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Scale("web", i, 0, absl::StrCat("s", i)).ok());
  size_t entries = 0;
  OnLoop([&] { entries = writer_.idempotency_entries(); });
  EXPECT_EQ(entries, 3u);
  // The oldest key was forgotten: applied again.
  auto forgotten = Create(Spec("web"), "k");
  EXPECT_EQ(forgotten.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ServiceWriterTest, AnswersCarryTheStoreVersionOfTheWrite) {
  ASSERT_TRUE(Create(Spec("web")).ok());
  const int64_t created = last_store_version_;
  // The record's own mzxid: a read copy at it holds the write.
  EXPECT_GT(created, 0);
  EXPECT_EQ(created, StoredRecord("web")->mzxid);

  ASSERT_TRUE(Scale("web", 3).ok());
  const int64_t scaled = last_store_version_;
  EXPECT_GT(scaled, created);
  EXPECT_EQ(scaled, StoredRecord("web")->mzxid);

  // A repeated key answers the first write's version, not a newer one.
  ASSERT_TRUE(Restart("web", 0, "r1").ok());
  const int64_t restarted = last_store_version_;
  EXPECT_GT(restarted, scaled);
  ASSERT_TRUE(Scale("web", 4).ok());
  ASSERT_TRUE(Restart("web", 0, "r1").ok());
  EXPECT_EQ(last_store_version_, restarted);

  ASSERT_TRUE(Delete("web").ok());
  const int64_t deleted = last_store_version_;
  EXPECT_EQ(deleted, StoredRecord("web")->mzxid);
  // Deleting again writes nothing: the version of the record as read.
  ASSERT_TRUE(Delete("web").ok());
  EXPECT_EQ(last_store_version_, deleted);

  EXPECT_FALSE(Scale("web", 1).ok());
  EXPECT_EQ(last_store_version_, -1);
}

TEST_F(ServiceWriterTest, AnswersHaveTheStatusAReadShows) {
  ASSERT_TRUE(Create(Spec("web", 2)).ok());
  // The leader's copy knows the service's two running tasks (one healthy).
  auto snapshot = std::make_shared<StateSnapshot>();
  snapshot->synced = true;
  snapshot->store_version = StoredRecord("web")->mzxid;
  auto tasks = std::make_shared<v1::records::TaskRecords>();
  for (int i = 0; i < 2; ++i) {
    v1::Task* task = tasks->add_tasks();
    task->set_id(absl::StrCat("web.", i));
    task->set_service("web");
    task->set_version(1);
    task->set_state(v1::Task::RUNNING);
    task->set_healthy(i == 0);
  }
  tasks->set_failed(1);
  snapshot->tasks["web"] = tasks;
  state_ = snapshot;

  auto scaled = Scale("web", 3);
  ASSERT_TRUE(scaled.ok()) << scaled.status();
  EXPECT_EQ(scaled->status().running(), 2u);  // not "RUNNING 0"
  EXPECT_EQ(scaled->status().healthy(), 1u);
  EXPECT_EQ(scaled->status().failed(), 1u);
  EXPECT_EQ(scaled->status().ready(), 2u);
  EXPECT_EQ(scaled->status().deployment_id(), "");  // a scale starts no deployment

  // Exactly what a read of the written record shows.
  auto read_copy = std::make_shared<StateSnapshot>(*snapshot);
  read_copy->services["web"] = std::make_shared<StoredService>(*StoredRecord("web"));
  v1::GetServiceRequest get;
  get.set_name("web");
  v1::GetServiceResponse read;
  ASSERT_TRUE(FillGetService(*read_copy, get, &read).ok());
  EXPECT_EQ(read.service().SerializeAsString(), scaled->SerializeAsString());

  for (auto written : {Update(Spec("web", 2), 0), Restart("web")}) {
    ASSERT_TRUE(written.ok()) << written.status();
    EXPECT_EQ(written->status().running(), 2u);
  }
}

// A spec whose command (and so its task definition) is `shell`.
v1::ServiceSpec Changed(const std::string& name, const std::string& shell, uint32_t instances = 2) {
  v1::ServiceSpec spec = Spec(name, instances);
  spec.mutable_command()->set_shell(shell);
  return spec;
}

TEST_F(ServiceWriterTest, UpdateStartsADeploymentAndForceReplacesIt) {
  ASSERT_TRUE(Create(Spec("web")).ok());
  ASSERT_TRUE(Scale("web", 3).ok());  // a scale starts none
  EXPECT_FALSE(Stored("web")->has_deployment());

  driven_.Advance(absl::Seconds(1));
  auto updated = Update(Changed("web", "v2", 3), 0);
  ASSERT_TRUE(updated.ok()) << updated.status();
  const v1::Deployment& first = updated->deployment();
  EXPECT_EQ(first.state(), v1::Deployment::RUNNING);
  EXPECT_EQ(first.cause(), v1::Deployment::UPDATE);
  EXPECT_EQ(first.from_version(), 2u);
  EXPECT_EQ(first.to_version(), 3u);
  EXPECT_EQ(first.to_task_version(), 3u);
  EXPECT_EQ(first.from_spec().command().shell(), "sleep 1000");
  EXPECT_EQ(Stored("web")->deployment().id(), first.id());

  // Another change of the tasks waits for it...
  auto refused = Update(Changed("web", "v3", 3), 0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message(),
            absl::StrCat("service 'web' has deployment ", first.id(),
                         " in progress (RUNNING); pass force to replace it"));
  EXPECT_EQ(Restart("web").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Stored("web")->version(), 3u);

  // ...but a scale, or an update of instances only, does not.
  auto scaled = Scale("web", 5);
  ASSERT_TRUE(scaled.ok()) << scaled.status();
  EXPECT_EQ(scaled->deployment().id(), first.id());
  ASSERT_TRUE(Update(Changed("web", "v2", 4), 0).ok());
  EXPECT_EQ(Stored("web")->deployment().state(), v1::Deployment::RUNNING);

  driven_.Advance(absl::Seconds(1));
  auto forced = Update(Changed("web", "v3", 4), 0, /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_NE(forced->deployment().id(), first.id());
  EXPECT_EQ(forced->deployment().state(), v1::Deployment::RUNNING);
  EXPECT_EQ(forced->deployment().from_spec().command().shell(), "v2");  // where it stood
  EXPECT_EQ(forced->deployment().from_version(), 5u);
  std::optional<v1::records::ServiceRecord> record = Rec("web");
  ASSERT_TRUE(record.has_value());
  ASSERT_EQ(record->deployment_history_size(), 1);
  EXPECT_EQ(record->deployment_history(0).id(), first.id());
  EXPECT_EQ(record->deployment_history(0).state(), v1::Deployment::CANCELLED);
  EXPECT_EQ(record->deployment_history(0).failure_reason(), "replaced by a forced update");

  // A delete cancels the one in progress.
  ASSERT_TRUE(Delete("web").ok());
  record = Rec("web");
  EXPECT_EQ(record->service().deployment().state(), v1::Deployment::CANCELLED);
  EXPECT_EQ(record->service().deployment().failure_reason(), "service deleted");
  EXPECT_EQ(record->deployment_history_size(), 2);
}

TEST_F(ServiceWriterTest, PauseAndResume) {
  ASSERT_TRUE(Create(Spec("web")).ok());
  EXPECT_EQ(Pause("web").status().code(), absl::StatusCode::kNotFound);  // none yet
  EXPECT_EQ(Pause("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Pause("").status().message(), StartsWith("service: "));
  v1::ServiceSpec canary = Changed("web", "v2", 4);
  canary.mutable_upgrade_strategy()->add_steps()->set_instances(1);
  auto restarted = Update(canary, 0);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  const std::string id = restarted->deployment().id();

  auto wrong = Pause("web", "2-0");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(wrong.status().message(), HasSubstr(absl::StrCat("(", id, " is)")));
  EXPECT_EQ(Resume("web").status().code(), absl::StatusCode::kFailedPrecondition);

  auto paused = Pause("web", id, "p1");
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_EQ(paused->id(), id);
  EXPECT_EQ(paused->state(), v1::Deployment::PAUSED);
  EXPECT_FALSE(paused->step_done());
  EXPECT_EQ(Stored("web")->deployment().state(), v1::Deployment::PAUSED);
  EXPECT_EQ(Stored("web")->version(), 2u);  // no new version
  // The same key: the first answer, not "is PAUSED".
  auto repeat = Pause("web", id, "p1");
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_EQ(repeat->SerializeAsString(), paused->SerializeAsString());
  auto again = Pause("web");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("is PAUSED"));

  driven_.Advance(absl::Seconds(5));
  auto resumed = Resume("web");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->state(), v1::Deployment::RUNNING);
  EXPECT_EQ(resumed->step(), 0u);  // paused mid-step: the same step
  EXPECT_EQ(resumed->step_started().seconds(), absl::ToUnixSeconds(driven_.Now()));

  // Paused by the scheduler after its step: resuming starts the next one.
  ASSERT_TRUE(Record("web", {id, v1::Deployment::PAUSED, 0, ""}).ok());
  EXPECT_TRUE(Stored("web")->deployment().step_done());
  auto next = Resume("web", id);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->step(), 1u);
  EXPECT_FALSE(next->step_done());
}

TEST_F(ServiceWriterTest, CancelWithAndWithoutRollback) {
  ASSERT_TRUE(Create(Spec("web")).ok());
  ASSERT_TRUE(Update(Changed("web", "v2"), 0).ok());
  auto stopped = Cancel("web", /*rollback=*/false);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->state(), v1::Deployment::CANCELLED);
  EXPECT_EQ(stopped->failure_reason(), "cancelled");
  EXPECT_EQ(Stored("web")->spec().command().shell(), "v2");  // stopped in place
  EXPECT_EQ(Stored("web")->version(), 2u);
  EXPECT_EQ(Cancel("web", false).status().code(), absl::StatusCode::kNotFound);
  auto ended = Cancel("web", false, stopped->id());
  EXPECT_EQ(ended.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ended.status().message(), HasSubstr("is CANCELLED"));

  auto restarted = Restart("web");  // task_version 3
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  ASSERT_TRUE(Pause("web").ok());
  auto back = Cancel("web", /*rollback=*/true);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->state(), v1::Deployment::ROLLING_BACK);
  EXPECT_EQ(back->rollback_ends_as(), v1::Deployment::CANCELLED);
  EXPECT_EQ(back->failure_reason(), "cancelled");
  std::optional<v1::Service> stored = Stored("web");
  EXPECT_EQ(stored->version(), 4u);
  EXPECT_EQ(stored->task_version(), 2u);  // the from side's
  EXPECT_EQ(Cancel("web", true).status().code(), absl::StatusCode::kFailedPrecondition);
  // The scheduler ends it as the cancel said.
  ASSERT_TRUE(Record("web", {back->id(), v1::Deployment::CANCELLED, 0, ""}).ok());
  EXPECT_EQ(Stored("web")->deployment().state(), v1::Deployment::CANCELLED);
  EXPECT_EQ(Rec("web")->deployment_history_size(), 2);
}

TEST_F(ServiceWriterTest, RollbackToThePreviousOrANamedVersion) {
  ASSERT_TRUE(Create(Changed("web", "v1")).ok());  // version 1
  EXPECT_EQ(Rollback("web", 0).status().code(), absl::StatusCode::kNotFound);
  auto v2 = Update(Changed("web", "v2"), 0);  // version 2
  ASSERT_TRUE(v2.ok());
  ASSERT_TRUE(Record("web", {v2->deployment().id(), v1::Deployment::SUCCEEDED, 0, ""}).ok());
  ASSERT_TRUE(Update(Changed("web", "v3"), 0).ok());  // version 3

  // While v3 rolls out, a rollback needs force.
  EXPECT_EQ(Rollback("web", 0).status().code(), absl::StatusCode::kFailedPrecondition);
  auto previous = Rollback("web", 0, /*force=*/true);
  ASSERT_TRUE(previous.ok()) << previous.status();
  EXPECT_EQ(previous->version(), 4u);
  EXPECT_EQ(previous->spec().command().shell(), "v2");
  EXPECT_EQ(previous->task_version(), 2u);  // tasks of v2 still running count as new
  EXPECT_EQ(previous->deployment().cause(), v1::Deployment::ROLLBACK);
  EXPECT_EQ(previous->deployment().from_version(), 3u);
  EXPECT_EQ(Rec("web")->deployment_history().rbegin()->failure_reason(),
            "replaced by a forced update");

  ASSERT_TRUE(Cancel("web", false).ok());
  auto first = Rollback("web", 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->version(), 5u);
  EXPECT_EQ(first->spec().command().shell(), "v1");
  EXPECT_EQ(first->task_version(), 1u);
  ASSERT_TRUE(Cancel("web", false).ok());

  auto gone = Rollback("web", 99);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(), "version 99 of service 'web' is no longer kept");
  EXPECT_EQ(Rollback("nope", 1).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ServiceWriterTest, RecordAppliesTransitionsOfTheDeploymentInProgress) {
  ASSERT_TRUE(Create(Spec("web")).ok());
  v1::ServiceSpec canary = Changed("web", "v2", 4);
  canary.mutable_upgrade_strategy()->add_steps()->set_instances(1);
  auto updated = Update(canary, 0);
  ASSERT_TRUE(updated.ok());
  const std::string id = updated->deployment().id();
  driven_.Advance(absl::Seconds(3));
  ASSERT_TRUE(Record("web", {id, v1::Deployment::RUNNING, 1, ""}).ok());
  std::optional<v1::Service> stored = Stored("web");
  EXPECT_EQ(stored->deployment().step(), 1u);
  EXPECT_EQ(stored->deployment().step_started().seconds(), absl::ToUnixSeconds(driven_.Now()));
  EXPECT_EQ(stored->version(), 2u);

  absl::Status stale = Record("web", {"1-0", v1::Deployment::SUCCEEDED, 0, ""});
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted) << stale;
  EXPECT_EQ(Record("nope", {id, v1::Deployment::SUCCEEDED, 0, ""}).code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE(Record("web", {id, v1::Deployment::SUCCEEDED, 0, ""}).ok());
  EXPECT_EQ(Record("web", {id, v1::Deployment::SUCCEEDED, 0, ""}).code(),
            absl::StatusCode::kAborted);  // no longer in progress

  // Deposed: the fence refuses, and the scheduler is told so (not to retry).
  ASSERT_TRUE(Restart("web").ok());
  const std::string restart = Stored("web")->deployment().id();
  ensemble_.Delete(term_.znode);
  EXPECT_EQ(Record("web", {restart, v1::Deployment::SUCCEEDED, 0, ""}).code(),
            absl::StatusCode::kFailedPrecondition);
  OnLoop([&] { writer_.OnPaused(true); });
  EXPECT_EQ(Record("web", {restart, v1::Deployment::SUCCEEDED, 0, ""}).code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace mast
