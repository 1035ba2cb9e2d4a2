#include "api/service_reads.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mast {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

StateSnapshot MakeSnapshot(const std::vector<std::pair<std::string, std::string>>& services) {
  StateSnapshot snapshot;
  snapshot.synced = true;
  snapshot.store_version = 42;
  for (const auto& [name, tier] : services) {
    auto stored = std::make_shared<StoredService>();
    stored->record.mutable_service()->mutable_spec()->set_name(name);
    stored->record.mutable_service()->set_version(3);
    if (!tier.empty()) {
      (*stored->record.mutable_service()->mutable_spec()->mutable_labels())["tier"] = tier;
      (*stored->record.mutable_service()->mutable_spec()->mutable_labels())["team"] = "a";
    }
    snapshot.services[name] = stored;
  }
  return snapshot;
}

std::vector<std::string> Names(const v1::ListServicesResponse& response) {
  std::vector<std::string> names;
  for (const auto& s : response.services()) names.push_back(s.spec().name());
  return names;
}

TEST(ParseLabelSelectorTest, ParsesPairsAndRefusesMalformedItems) {
  auto parsed = ParseLabelSelector(" tier=web , team=a,,empty=");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, ElementsAre(Pair("tier", "web"), Pair("team", "a"), Pair("empty", "")));
  EXPECT_TRUE(ParseLabelSelector("").ok());

  struct Case {
    const char* selector;
    const char* message;
  };
  for (const Case& c : {Case{"tier", "is not key=value"}, Case{"a=b,=x", "has an empty key"}}) {
    auto bad = ParseLabelSelector(c.selector);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << c.selector;
    EXPECT_THAT(bad.status().message(), HasSubstr("label_selector: ")) << c.selector;
    EXPECT_THAT(bad.status().message(), HasSubstr(c.message)) << c.selector;
  }
}

TEST(ServiceReadsTest, NothingIsAnsweredBeforeTheFirstLoad) {
  StateSnapshot empty;
  v1::GetServiceResponse get;
  EXPECT_EQ(FillGetService(empty, {}, &get).code(), absl::StatusCode::kUnavailable);
  v1::ListServicesResponse list;
  EXPECT_EQ(FillListServices(empty, {}, &list).code(), absl::StatusCode::kUnavailable);
  // A loaded store that is empty is an answer.
  empty.synced = true;
  EXPECT_TRUE(FillListServices(empty, {}, &list).ok());
  // A stale view (resyncing) is served with its version.
  StateSnapshot stale = MakeSnapshot({{"a", ""}});
  stale.synced = false;
  v1::GetServiceRequest request;
  request.set_name("a");
  EXPECT_TRUE(FillGetService(stale, request, &get).ok());
  EXPECT_EQ(get.store_version(), 42);
}

TEST(ServiceReadsTest, GetServiceFindsByNameWithTheStoreVersion) {
  StateSnapshot snapshot = MakeSnapshot({{"team/web", "web"}});
  v1::GetServiceRequest request;
  request.set_name("team/web");
  v1::GetServiceResponse response;
  ASSERT_TRUE(FillGetService(snapshot, request, &response).ok());
  EXPECT_EQ(response.service().spec().name(), "team/web");
  EXPECT_EQ(response.service().version(), 3u);
  EXPECT_EQ(response.store_version(), 42);

  request.set_name("team/db");
  absl::Status missing = FillGetService(snapshot, request, &response);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("team/db"));

  // Present but unreadable: DATA_LOSS naming the znode, not NOT_FOUND.
  snapshot.corrupt.push_back({"/mast/state/services/team%2Fdb", "bad protobuf"});
  absl::Status corrupt = FillGetService(snapshot, request, &response);
  EXPECT_EQ(corrupt.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(corrupt.message(), HasSubstr("/mast/state/services/team%2Fdb"));
}

TEST(ServiceReadsTest, ListFiltersByPrefixAndLabels) {
  StateSnapshot snapshot = MakeSnapshot(
      {{"a/x", "web"}, {"b/one", "web"}, {"b/two", "db"}, {"b/three", ""}, {"c", "web"}});
  struct Case {
    std::string prefix;
    std::string selector;
    std::vector<std::string> want;
  };
  for (const Case& c : std::vector<Case>{
           {"", "", {"a/x", "b/one", "b/three", "b/two", "c"}},
           {"b/", "", {"b/one", "b/three", "b/two"}},
           {"b/", "tier=web", {"b/one"}},
           {"", "tier=web,team=a", {"a/x", "b/one", "c"}},
           {"", "tier=none", {}},
           {"zzz", "", {}},
       }) {
    v1::ListServicesRequest request;
    request.set_prefix(c.prefix);
    request.set_label_selector(c.selector);
    v1::ListServicesResponse response;
    ASSERT_TRUE(FillListServices(snapshot, request, &response).ok());
    EXPECT_EQ(Names(response), c.want) << c.prefix << " " << c.selector;
    EXPECT_EQ(response.next_page_token(), "");
    EXPECT_EQ(response.store_version(), 42);
  }
  v1::ListServicesRequest bad;
  bad.set_label_selector("tier");
  v1::ListServicesResponse response;
  EXPECT_EQ(FillListServices(snapshot, bad, &response).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServiceReadsTest, ListPagesThroughEveryMatchOnce) {
  StateSnapshot snapshot = MakeSnapshot(
      {{"a", "web"}, {"b", "db"}, {"c", "web"}, {"d", "web"}, {"e", "web"}, {"f", "web"}});
  v1::ListServicesRequest request;
  request.set_label_selector("tier=web");
  request.set_page_size(2);
  std::vector<std::vector<std::string>> pages;
  for (int i = 0; i < 10; ++i) {
    v1::ListServicesResponse response;
    ASSERT_TRUE(FillListServices(snapshot, request, &response).ok());
    pages.push_back(Names(response));
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(pages, ElementsAre(ElementsAre("a", "c"), ElementsAre("d", "e"), ElementsAre("f")));

  request.set_page_size(kMaxPageSize + 1);
  v1::ListServicesResponse response;
  absl::Status too_big = FillListServices(snapshot, request, &response);
  EXPECT_EQ(too_big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_big.message(), HasSubstr("page_size: must be <= 1000, not 1001"));
}

v1::Task MakeTask(const std::string& id, v1::Task::State state, uint64_t version = 1,
                  bool healthy = false, bool kill_requested = false) {
  v1::Task task;
  task.set_id(id);
  task.set_state(state);
  task.set_version(version);
  task.set_healthy(healthy);
  task.set_kill_requested(kill_requested);
  return task;
}

std::shared_ptr<const v1::records::TaskRecords> Records(const std::string& service,
                                                        std::vector<v1::Task> tasks) {
  auto records = std::make_shared<v1::records::TaskRecords>();
  for (v1::Task& task : tasks) {
    task.set_service(service);
    *records->add_tasks() = std::move(task);
  }
  return records;
}

TEST(ServiceStatusTest, CountsTasks) {
  v1::Service service;
  service.mutable_spec()->set_name("web");
  service.mutable_spec()->set_instances(2);
  service.set_version(5);
  service.set_task_version(4);
  struct Case {
    const char* name;
    std::vector<v1::Task> tasks;
    uint32_t staged, running, healthy, ready;
  };
  using T = v1::Task;
  for (const Case& c : std::vector<Case>{
           {"no tasks yet", {}, 0, 0, 0, 0},
           {"converged",
            {MakeTask("a", T::RUNNING, 4, true), MakeTask("b", T::RUNNING, 4)},
            0,
            2,
            1,
            2},
           {"one still staging",
            {MakeTask("a", T::RUNNING, 4), MakeTask("b", T::PENDING, 4)},
            1,
            1,
            0,
            1},
           {"an old task counts too",
            {MakeTask("a", T::RUNNING, 4), MakeTask("b", T::RUNNING, 3)},
            0,
            2,
            0,
            2},
           {"one being killed is not ready",
            {MakeTask("a", T::RUNNING, 4), MakeTask("b", T::STARTING, 4),
             MakeTask("c", T::RUNNING, 3, false, /*kill_requested=*/true)},
            1,
            2,
            0,
            1},
           {"terminal ones do not count",
            {MakeTask("a", T::RUNNING, 4), MakeTask("b", T::STAGING, 4),
             MakeTask("c", T::FAILED, 3)},
            1,
            1,
            0,
            1},
       }) {
    auto records = Records("web", c.tasks);
    v1::ServiceStatus status = ComputeServiceStatus(service, records.get());
    EXPECT_EQ(status.staged(), c.staged) << c.name;
    EXPECT_EQ(status.running(), c.running) << c.name;
    EXPECT_EQ(status.healthy(), c.healthy) << c.name;
    EXPECT_EQ(status.ready(), c.ready) << c.name;
    EXPECT_EQ(status.deployment_id(), "") << c.name << ": no deployment";
  }
}

TEST(ServiceStatusTest, ReadyNeedsThePassingChecksTheSpecHas) {
  v1::Service service;
  service.mutable_spec()->set_instances(3);
  service.mutable_spec()->mutable_health_check()->set_protocol(v1::HealthCheck::TCP);
  service.mutable_spec()->mutable_readiness_check()->set_protocol(v1::ReadinessCheck::TCP);
  v1::Task healthy_only = MakeTask("a", v1::Task::RUNNING, 1, /*healthy=*/true);
  v1::Task both = healthy_only;
  both.set_id("b");
  both.set_ready(true);
  v1::Task ready_only = MakeTask("c", v1::Task::RUNNING, 1);
  ready_only.set_ready(true);
  auto records = Records("web", {healthy_only, both, ready_only});
  EXPECT_EQ(ComputeServiceStatus(service, records.get()).ready(), 1u);
  EXPECT_EQ(ComputeServiceStatus(service, records.get()).healthy(), 2u);
}

TEST(ServiceStatusTest, DeploymentIdIsTheActiveDeployments) {
  v1::Service service;
  service.mutable_spec()->set_instances(1);
  service.mutable_deployment()->set_id("7-abc");
  for (auto [state, want] : std::vector<std::pair<v1::Deployment::State, std::string>>{
           {v1::Deployment::RUNNING, "7-abc"},
           {v1::Deployment::PAUSED, "7-abc"},
           {v1::Deployment::ROLLING_BACK, "7-abc"},
           {v1::Deployment::SUCCEEDED, ""},
           {v1::Deployment::FAILED, ""},
           {v1::Deployment::ROLLED_BACK, ""},
           {v1::Deployment::CANCELLED, ""},
       }) {
    service.mutable_deployment()->set_state(state);
    EXPECT_EQ(ComputeServiceStatus(service, nullptr).deployment_id(), want)
        << v1::Deployment::State_Name(state);
  }
  service.clear_deployment();
  EXPECT_EQ(ComputeServiceStatus(service, nullptr).deployment_id(), "");
}

TEST(ServiceStatusTest, GetAndListComputeTheStatusFromTheSnapshotsTasks) {
  StateSnapshot snapshot = MakeSnapshot({{"web", ""}, {"db", ""}});
  auto records = std::make_shared<v1::records::TaskRecords>(
      *Records("web", {MakeTask("a", v1::Task::RUNNING, 0, true)}));
  records->set_failed(3);
  records->set_last_failure("exited with 1");
  records->mutable_last_failure_time()->set_seconds(1700000000);
  snapshot.tasks["web"] = records;
  auto deleting = std::make_shared<StoredService>(*snapshot.services["db"]);
  deleting->record.set_deleting(true);
  snapshot.services["db"] = deleting;

  v1::GetServiceRequest get;
  get.set_name("web");
  v1::GetServiceResponse got;
  ASSERT_TRUE(FillGetService(snapshot, get, &got).ok());
  const v1::ServiceStatus& status = got.service().status();
  EXPECT_EQ(status.running(), 1u);
  EXPECT_EQ(status.healthy(), 1u);
  EXPECT_EQ(status.failed(), 3u);
  EXPECT_EQ(status.last_failure(), "exited with 1");
  EXPECT_EQ(status.last_failure_time().seconds(), 1700000000);
  EXPECT_FALSE(got.service().deleting());

  v1::ListServicesResponse list;
  ASSERT_TRUE(FillListServices(snapshot, {}, &list).ok());
  ASSERT_EQ(list.services_size(), 2);
  EXPECT_EQ(list.services(0).spec().name(), "db");
  EXPECT_TRUE(list.services(0).deleting());  // from the record's flag
  EXPECT_EQ(list.services(1).status().failed(), 3u);
}

std::vector<std::string> TaskIds(const v1::ListTasksResponse& response) {
  std::vector<std::string> ids;
  for (const auto& t : response.tasks()) ids.push_back(absl::StrCat(t.service(), ":", t.id()));
  return ids;
}

StateSnapshot TaskSnapshot() {
  StateSnapshot snapshot = MakeSnapshot({{"a", ""}, {"b", ""}, {"c", ""}});
  using T = v1::Task;
  snapshot.tasks["a"] = Records(
      "a", {MakeTask("a.3", T::RUNNING), MakeTask("a.1", T::RUNNING), MakeTask("a.2", T::STAGING)});
  snapshot.tasks["c"] = Records("c", {MakeTask("c.1", T::RUNNING), MakeTask("c.2", T::FAILED)});
  return snapshot;
}

TEST(ListTasksTest, ListsByServiceOrAllInOrderFilteredByState) {
  StateSnapshot snapshot = TaskSnapshot();
  struct Case {
    std::string service;
    std::vector<v1::Task::State> states;
    std::vector<std::string> want;
  };
  for (const Case& c : std::vector<Case>{
           {"", {}, {"a:a.1", "a:a.2", "a:a.3", "c:c.1", "c:c.2"}},
           {"a", {}, {"a:a.1", "a:a.2", "a:a.3"}},
           {"b", {}, {}},
           {"", {v1::Task::RUNNING}, {"a:a.1", "a:a.3", "c:c.1"}},
           {"c", {v1::Task::STAGING, v1::Task::FAILED}, {"c:c.2"}},
       }) {
    v1::ListTasksRequest request;
    request.set_service(c.service);
    for (auto state : c.states) request.add_states(state);
    v1::ListTasksResponse response;
    ASSERT_TRUE(FillListTasks(snapshot, request, &response).ok()) << c.service;
    EXPECT_EQ(TaskIds(response), c.want) << c.service;
    EXPECT_EQ(response.next_page_token(), "");
    EXPECT_EQ(response.store_version(), 42);
  }
}

TEST(ListTasksTest, PagesThroughEveryTaskOnceWithAnOpaqueToken) {
  StateSnapshot snapshot = TaskSnapshot();
  for (const std::string& service : {std::string(""), std::string("a")}) {
    v1::ListTasksRequest request;
    request.set_service(service);
    request.set_page_size(2);
    std::vector<std::string> all;
    int pages = 0;
    for (; pages < 10; ++pages) {
      v1::ListTasksResponse response;
      ASSERT_TRUE(FillListTasks(snapshot, request, &response).ok());
      EXPECT_LE(response.tasks_size(), 2);
      for (const std::string& id : TaskIds(response)) all.push_back(id);
      if (response.next_page_token().empty()) break;
      EXPECT_THAT(response.next_page_token(), ::testing::Not(HasSubstr("a.")));  // opaque
      request.set_page_token(response.next_page_token());
    }
    if (service.empty()) {
      EXPECT_THAT(all, ElementsAre("a:a.1", "a:a.2", "a:a.3", "c:c.1", "c:c.2"));
      EXPECT_EQ(pages, 2);
    } else {
      EXPECT_THAT(all, ElementsAre("a:a.1", "a:a.2", "a:a.3"));
      EXPECT_EQ(pages, 1);
    }
  }

  // Stable while tasks come and go: a task behind the cursor is not seen,
  // one ahead is.
  v1::ListTasksRequest request;
  request.set_page_size(2);
  v1::ListTasksResponse first;
  ASSERT_TRUE(FillListTasks(snapshot, request, &first).ok());
  snapshot.tasks["a"] =
      Records("a", {MakeTask("a.0", v1::Task::RUNNING), MakeTask("a.2", v1::Task::RUNNING),
                    MakeTask("a.4", v1::Task::RUNNING)});
  request.set_page_token(first.next_page_token());
  request.set_page_size(100);
  v1::ListTasksResponse rest;
  ASSERT_TRUE(FillListTasks(snapshot, request, &rest).ok());
  EXPECT_THAT(TaskIds(rest), ElementsAre("a:a.4", "c:c.1", "c:c.2"));
}

TEST(ListTasksTest, RefusesUnknownServicesCorruptRecordsAndBadRequests) {
  StateSnapshot snapshot = TaskSnapshot();
  v1::ListTasksResponse response;
  struct Case {
    const char* name;
    v1::ListTasksRequest request;
    absl::StatusCode code;
    const char* message;
  };
  v1::ListTasksRequest unknown;
  unknown.set_service("zzz");
  v1::ListTasksRequest prefix_only;  // exact names, not prefixes
  prefix_only.set_service("a/");
  v1::ListTasksRequest too_big;
  too_big.set_page_size(kMaxTaskPageSize + 1);
  v1::ListTasksRequest bad_token;
  bad_token.set_page_token("not a token!");
  v1::ListTasksRequest forged_token;
  forged_token.set_page_token("OTk5OmE");  // "999:a": a length past the end
  for (const Case& c : std::vector<Case>{
           {"unknown", unknown, absl::StatusCode::kNotFound, "'zzz' not found"},
           {"prefix", prefix_only, absl::StatusCode::kNotFound, "not found"},
           {"page size", too_big, absl::StatusCode::kInvalidArgument, "page_size: "},
           {"bad token", bad_token, absl::StatusCode::kInvalidArgument, "page_token: "},
           {"forged token", forged_token, absl::StatusCode::kInvalidArgument, "page_token: "},
       }) {
    absl::Status status = FillListTasks(snapshot, c.request, &response);
    EXPECT_EQ(status.code(), c.code) << c.name << ": " << status;
    EXPECT_THAT(status.message(), HasSubstr(c.message)) << c.name;
  }

  // The requested service's task records are unreadable: DATA_LOSS, not an
  // empty list; listing all skips them.
  snapshot.tasks.erase("c");
  snapshot.corrupt.push_back({"/mast/state/tasks/c", "crc mismatch"});
  v1::ListTasksRequest of_c;
  of_c.set_service("c");
  absl::Status corrupt = FillListTasks(snapshot, of_c, &response);
  EXPECT_EQ(corrupt.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(corrupt.message(), HasSubstr("/mast/state/tasks/c"));
  v1::ListTasksResponse all;
  ASSERT_TRUE(FillListTasks(snapshot, {}, &all).ok());
  EXPECT_EQ(all.tasks_size(), 3);
  // So is a corrupt service record.
  snapshot.services.erase("b");
  snapshot.corrupt.push_back({"/mast/state/services/b", "bad protobuf"});
  v1::ListTasksRequest of_b;
  of_b.set_service("b");
  EXPECT_EQ(FillListTasks(snapshot, of_b, &response).code(), absl::StatusCode::kDataLoss);

  StateSnapshot unloaded;
  EXPECT_EQ(FillListTasks(unloaded, {}, &response).code(), absl::StatusCode::kUnavailable);
}

v1::Deployment MakeDeployment(const std::string& id, v1::Deployment::State state) {
  v1::Deployment deployment;
  deployment.set_id(id);
  deployment.set_service("web");
  deployment.set_state(state);
  return deployment;
}

// "web" at task_version 2, with 3 instances: a RUNNING deployment "3-c"
// (its history: "1-a", "2-b") and tasks of both versions.
StateSnapshot DeploymentSnapshot(v1::Deployment::State state = v1::Deployment::RUNNING) {
  StateSnapshot snapshot = MakeSnapshot({{"web", ""}});
  auto stored = std::make_shared<StoredService>(*snapshot.services["web"]);
  v1::Service* service = stored->record.mutable_service();
  service->mutable_spec()->set_instances(3);
  service->set_task_version(2);
  *service->mutable_deployment() = MakeDeployment("3-c", state);
  *stored->record.add_deployment_history() = MakeDeployment("1-a", v1::Deployment::SUCCEEDED);
  *stored->record.add_deployment_history() = MakeDeployment("2-b", v1::Deployment::FAILED);
  snapshot.services["web"] = stored;
  using T = v1::Task;
  auto records = std::make_shared<v1::records::TaskRecords>(
      *Records("web", {MakeTask("n1", T::RUNNING, 2), MakeTask("n2", T::STAGING, 2),
                       MakeTask("o1", T::RUNNING, 1), MakeTask("o2", T::RUNNING, 1),
                       MakeTask("o3", T::KILLING, 1, false, /*kill_requested=*/true)}));
  (*records->mutable_failed_by_task_version())[2] = 1;
  snapshot.tasks["web"] = records;
  return snapshot;
}

std::vector<std::string> DeploymentIds(const v1::ListDeploymentsResponse& response) {
  std::vector<std::string> ids;
  for (const auto& d : response.deployments()) ids.push_back(d.id());
  return ids;
}

TEST(DeploymentReadsTest, ServiceViewFillsTheDeploymentsProgressAndTheStatus) {
  StateSnapshot snapshot = DeploymentSnapshot();
  v1::Service view = ServiceView(snapshot, *snapshot.services["web"]);
  const v1::DeploymentProgress& progress = view.deployment().progress();
  EXPECT_EQ(progress.target_instances(), 3u);
  EXPECT_EQ(progress.new_tasks(), 2u);
  EXPECT_EQ(progress.new_ready(), 1u);
  EXPECT_EQ(progress.old_tasks(), 2u);  // the one being killed is not live
  EXPECT_EQ(progress.old_ready(), 2u);
  EXPECT_EQ(progress.failed_new_tasks(), 1u);
  EXPECT_EQ(view.status().deployment_id(), "3-c");
  EXPECT_EQ(view.status().ready(), 3u);
  // The stored record is not changed (progress is not stored).
  EXPECT_FALSE(snapshot.services["web"]->record.service().deployment().has_progress());
}

TEST(DeploymentReadsTest, ListsTheCurrentOneThenTheHistoryNewestFirst) {
  StateSnapshot snapshot = DeploymentSnapshot();
  v1::ListDeploymentsRequest request;
  request.set_service("web");
  v1::ListDeploymentsResponse response;
  ASSERT_TRUE(FillListDeployments(snapshot, request, &response).ok());
  EXPECT_THAT(DeploymentIds(response), ElementsAre("3-c", "2-b", "1-a"));
  EXPECT_EQ(response.store_version(), 42);
  EXPECT_EQ(response.deployments(0).progress().new_tasks(), 2u);
  EXPECT_FALSE(response.deployments(1).has_progress());  // an ended one of the history
}

TEST(DeploymentReadsTest, TheLastOneToEndIsNotListedTwice) {
  StateSnapshot snapshot = DeploymentSnapshot(v1::Deployment::SUCCEEDED);
  auto stored = std::make_shared<StoredService>(*snapshot.services["web"]);
  *stored->record.add_deployment_history() = stored->record.service().deployment();
  snapshot.services["web"] = stored;
  v1::ListDeploymentsRequest request;
  request.set_service("web");
  v1::ListDeploymentsResponse response;
  ASSERT_TRUE(FillListDeployments(snapshot, request, &response).ok());
  EXPECT_THAT(DeploymentIds(response), ElementsAre("3-c", "2-b", "1-a"));
  EXPECT_TRUE(response.deployments(0).has_progress());  // the service's own, with progress
}

TEST(DeploymentReadsTest, ServiceWithoutDeploymentsListsNone) {
  StateSnapshot snapshot = MakeSnapshot({{"web", ""}});
  v1::ListDeploymentsRequest request;
  request.set_service("web");
  v1::ListDeploymentsResponse response;
  ASSERT_TRUE(FillListDeployments(snapshot, request, &response).ok());
  EXPECT_EQ(response.deployments_size(), 0);
  v1::GetDeploymentRequest get;
  get.set_service("web");
  v1::GetDeploymentResponse got;
  EXPECT_EQ(FillGetDeployment(snapshot, get, &got).code(), absl::StatusCode::kNotFound);
}

TEST(DeploymentReadsTest, GetsTheNewestOrOneById) {
  StateSnapshot snapshot = DeploymentSnapshot();
  v1::GetDeploymentRequest request;
  request.set_service("web");
  v1::GetDeploymentResponse response;
  ASSERT_TRUE(FillGetDeployment(snapshot, request, &response).ok());
  EXPECT_EQ(response.deployment().id(), "3-c");
  EXPECT_EQ(response.deployment().progress().new_ready(), 1u);
  EXPECT_EQ(response.store_version(), 42);

  request.set_id("1-a");
  response.Clear();
  ASSERT_TRUE(FillGetDeployment(snapshot, request, &response).ok());
  EXPECT_EQ(response.deployment().id(), "1-a");
  EXPECT_EQ(response.deployment().state(), v1::Deployment::SUCCEEDED);

  request.set_id("9-z");
  absl::Status unknown = FillGetDeployment(snapshot, request, &response);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.message(), HasSubstr("'9-z'"));
}

TEST(DeploymentReadsTest, RefusesUnknownServicesAndUnreadableSnapshots) {
  StateSnapshot snapshot = DeploymentSnapshot();
  v1::ListDeploymentsRequest list;
  list.set_service("nope");
  v1::ListDeploymentsResponse listed;
  EXPECT_EQ(FillListDeployments(snapshot, list, &listed).code(), absl::StatusCode::kNotFound);
  list.set_service("");
  EXPECT_EQ(FillListDeployments(snapshot, list, &listed).code(),
            absl::StatusCode::kInvalidArgument);
  v1::GetDeploymentRequest get;
  get.set_service("nope");
  v1::GetDeploymentResponse got;
  EXPECT_EQ(FillGetDeployment(snapshot, get, &got).code(), absl::StatusCode::kNotFound);
  StateSnapshot never_loaded;
  get.set_service("web");
  EXPECT_EQ(FillGetDeployment(never_loaded, get, &got).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace mast
