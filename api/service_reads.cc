#include "api/service_reads.h"

#include <algorithm>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/validation.h"
#include "common/status_macros.h"
#include "store/deployment_progress.h"
#include "store/deployments.h"
#include "store/service_store.h"

namespace mast {

absl::StatusOr<LabelSelector> ParseLabelSelector(absl::string_view selector) {
  LabelSelector out;
  for (absl::string_view item : absl::StrSplit(selector, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("label_selector: '", item.substr(0, 64), "' is not key=value"));
    }
    absl::string_view key = absl::StripAsciiWhitespace(item.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(item.substr(eq + 1));
    if (key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("label_selector: '", item.substr(0, 64), "' has an empty key"));
    }
    out.emplace_back(std::string(key), std::string(value));
  }
  return out;
}

absl::Status CheckReadable(const StateSnapshot& snapshot) {
  if (!snapshot.synced && snapshot.store_version == 0) {
    return absl::UnavailableError(
        "this replica has not loaded the store yet; retry shortly or ask another replica");
  }
  return absl::OkStatus();
}

namespace {

// DATA_LOSS naming the znode when the snapshot lists `name`'s record in
// `dir` ("services" or "tasks") as unreadable; OK otherwise.
absl::Status CheckNotCorrupt(const StateSnapshot& snapshot, absl::string_view dir,
                             const std::string& name, absl::string_view what) {
  const std::string suffix = absl::StrCat("/", dir, "/", EscapeServiceName(name));
  for (const CorruptRecord& corrupt : snapshot.corrupt) {
    if (absl::EndsWith(corrupt.znode, suffix)) {
      return absl::DataLossError(absl::StrCat("service '", name.substr(0, 255), "': its stored ",
                                              what, " is unreadable (", corrupt.error,
                                              "); an operator must repair ", corrupt.znode));
    }
  }
  return absl::OkStatus();
}

// The service named `name`, or NOT_FOUND / DATA_LOSS (a record that exists
// but cannot be read is not a missing service).
absl::StatusOr<const StoredService*> FindService(const StateSnapshot& snapshot,
                                                 const std::string& name) {
  auto it = snapshot.services.find(name);
  if (it != snapshot.services.end()) return it->second.get();
  MAST_RETURN_IF_ERROR(CheckNotCorrupt(snapshot, "services", name, "record"));
  return absl::NotFoundError(absl::StrCat("service '", name.substr(0, 255),
                                          "' not found at store version ", snapshot.store_version));
}

void SetFailure(const mast::v1::records::TaskRecords& tasks, v1::ServiceStatus* status) {
  status->set_failed(tasks.failed());
  status->set_last_failure(tasks.last_failure());
  if (tasks.has_last_failure_time()) {
    *status->mutable_last_failure_time() = tasks.last_failure_time();
  }
  if (tasks.has_placement()) *status->mutable_placement() = tasks.placement();
}

}  // namespace

v1::ServiceStatus ComputeServiceStatus(const v1::Service& service,
                                       const mast::v1::records::TaskRecords* tasks) {
  v1::ServiceStatus status;
  if (tasks != nullptr) {
    SetFailure(*tasks, &status);
    for (const v1::Task& task : tasks->tasks()) {
      switch (task.state()) {
        case v1::Task::PENDING:
        case v1::Task::STAGING:
        case v1::Task::STARTING:
          status.set_staged(status.staged() + 1);
          break;
        case v1::Task::RUNNING:
          status.set_running(status.running() + 1);
          if (task.healthy()) status.set_healthy(status.healthy() + 1);
          if (IsReady(service.spec(), task)) status.set_ready(status.ready() + 1);
          break;
        default:
          break;
      }
    }
  }
  if (HasActiveDeployment(service)) status.set_deployment_id(service.deployment().id());
  return status;
}

v1::Service ServiceView(const StoredService& stored, const mast::v1::records::TaskRecords* tasks) {
  v1::Service service = stored.record.service();
  if (stored.record.deleting()) service.set_deleting(true);
  *service.mutable_status() = ComputeServiceStatus(service, tasks);
  if (service.has_deployment()) FillProgress(service, tasks, service.mutable_deployment());
  return service;
}

void FillProgress(const v1::Service& service, const mast::v1::records::TaskRecords* tasks,
                  v1::Deployment* deployment) {
  static const auto* const kNoTasks = new mast::v1::records::TaskRecords();
  if (tasks == nullptr) tasks = kNoTasks;
  std::vector<const v1::Task*> all;
  all.reserve(tasks->tasks_size());
  for (const v1::Task& task : tasks->tasks()) all.push_back(&task);
  *deployment->mutable_progress() = DeploymentProgressOf(service, all, *tasks);
}

v1::Service ServiceView(const StateSnapshot& snapshot, const StoredService& stored) {
  auto tasks = snapshot.tasks.find(stored.record.service().spec().name());
  return ServiceView(stored, tasks == snapshot.tasks.end() ? nullptr : tasks->second.get());
}

absl::Status FillGetService(const StateSnapshot& snapshot, const v1::GetServiceRequest& request,
                            v1::GetServiceResponse* response) {
  MAST_RETURN_IF_ERROR(CheckReadable(snapshot));
  response->set_store_version(snapshot.store_version);
  MAST_ASSIGN_OR_RETURN(const StoredService* stored, FindService(snapshot, request.name()));
  *response->mutable_service() = ServiceView(snapshot, *stored);
  return absl::OkStatus();
}

namespace {

bool Matches(const v1::Service& service, const LabelSelector& selector) {
  const auto& labels = service.spec().labels();
  return std::all_of(selector.begin(), selector.end(), [&](const auto& kv) {
    auto it = labels.find(kv.first);
    return it != labels.end() && it->second == kv.second;
  });
}

}  // namespace

absl::Status FillListServices(const StateSnapshot& snapshot, const v1::ListServicesRequest& request,
                              v1::ListServicesResponse* response) {
  if (absl::Status readable = CheckReadable(snapshot); !readable.ok()) return readable;
  absl::StatusOr<LabelSelector> selector = ParseLabelSelector(request.label_selector());
  if (!selector.ok()) return selector.status();
  if (request.page_size() > kMaxPageSize) {
    return AboveLimit("page_size", kMaxPageSize, request.page_size());
  }
  const uint32_t page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  response->set_store_version(snapshot.store_version);

  const std::string& prefix = request.prefix();
  auto it = request.page_token().empty() ? snapshot.services.lower_bound(prefix)
                                         : snapshot.services.upper_bound(request.page_token());
  for (; it != snapshot.services.end(); ++it) {
    if (!absl::StartsWith(it->first, prefix)) {
      if (it->first > prefix) break;  // past every name with the prefix
      continue;                       // a token before the prefix
    }
    if (!Matches(it->second->record.service(), *selector)) continue;
    if (static_cast<uint32_t>(response->services_size()) == page_size) {
      response->set_next_page_token(response->services().rbegin()->spec().name());
      break;
    }
    *response->add_services() = ServiceView(snapshot, *it->second);
  }
  return absl::OkStatus();
}

namespace {

// A ListTasks cursor: the last (service, task id) served. Encoded as
// web-safe base64 of "<service length>:<service><task id>", so that any
// bytes in either part survive.
struct TaskCursor {
  std::string service;
  std::string task_id;
};

std::string EncodeTaskCursor(const TaskCursor& cursor) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(cursor.service.size(), ":", cursor.service, cursor.task_id));
}

absl::StatusOr<TaskCursor> DecodeTaskCursor(absl::string_view token) {
  const absl::Status invalid =
      absl::InvalidArgumentError("page_token: not a token from a previous ListTasks answer");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return invalid;
  const size_t colon = raw.find(':');
  size_t length = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(raw).substr(0, colon), &length) ||
      length > raw.size() - colon - 1) {
    return invalid;
  }
  return TaskCursor{raw.substr(colon + 1, length), raw.substr(colon + 1 + length)};
}

}  // namespace

absl::Status FillListTasks(const StateSnapshot& snapshot, const v1::ListTasksRequest& request,
                           v1::ListTasksResponse* response) {
  MAST_RETURN_IF_ERROR(CheckReadable(snapshot));
  if (request.page_size() > kMaxTaskPageSize) {
    return AboveLimit("page_size", kMaxTaskPageSize, request.page_size());
  }
  std::optional<TaskCursor> cursor;
  if (!request.page_token().empty()) {
    MAST_ASSIGN_OR_RETURN(cursor, DecodeTaskCursor(request.page_token()));
  }
  const bool one_service = !request.service().empty();
  if (one_service) {
    MAST_RETURN_IF_ERROR(FindService(snapshot, request.service()).status());
    MAST_RETURN_IF_ERROR(CheckNotCorrupt(snapshot, "tasks", request.service(), "task records"));
  }
  const uint32_t page_size = request.page_size() == 0 ? kDefaultTaskPageSize : request.page_size();
  const std::set<int> states(request.states().begin(), request.states().end());
  response->set_store_version(snapshot.store_version);

  // From the cursor's service (or the requested one) on, by name.
  std::string first = one_service ? request.service() : "";
  if (cursor.has_value() && cursor->service > first) first = cursor->service;
  for (auto it = snapshot.tasks.lower_bound(first); it != snapshot.tasks.end(); ++it) {
    if (one_service && it->first != request.service()) break;
    std::vector<const v1::Task*> tasks;
    tasks.reserve(it->second->tasks_size());
    for (const v1::Task& task : it->second->tasks()) {
      if (!states.empty() && states.count(task.state()) == 0) continue;
      if (cursor.has_value() && it->first == cursor->service && task.id() <= cursor->task_id) {
        continue;
      }
      tasks.push_back(&task);
    }
    std::sort(tasks.begin(), tasks.end(),
              [](const v1::Task* a, const v1::Task* b) { return a->id() < b->id(); });
    for (const v1::Task* task : tasks) {
      if (static_cast<uint32_t>(response->tasks_size()) == page_size) {
        const v1::Task& last = *response->tasks().rbegin();
        response->set_next_page_token(EncodeTaskCursor({last.service(), last.id()}));
        return absl::OkStatus();
      }
      v1::Task* out = response->add_tasks();
      *out = *task;
      out->set_service(it->first);  // the records' key is authoritative
    }
  }
  return absl::OkStatus();
}

namespace {}  // namespace

std::vector<v1::Deployment> DeploymentsOf(const StateSnapshot& snapshot,
                                          const StoredService& stored) {
  std::vector<v1::Deployment> out;
  v1::Service view = ServiceView(snapshot, stored);
  if (view.has_deployment()) out.push_back(std::move(*view.mutable_deployment()));
  const auto& history = stored.record.deployment_history();
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    // The last one to end is also the service's deployment (with its progress).
    if (!out.empty() && it->id() == out.front().id()) continue;
    out.push_back(*it);
  }
  return out;
}

namespace {

// The deployments of the service named `name` (DeploymentsOf), or
// INVALID_ARGUMENT (no name), NOT_FOUND, UNAVAILABLE.
absl::StatusOr<std::vector<v1::Deployment>> ReadDeployments(const StateSnapshot& snapshot,
                                                            const std::string& name) {
  MAST_RETURN_IF_ERROR(CheckReadable(snapshot));
  if (name.empty()) return absl::InvalidArgumentError("service: required");
  MAST_ASSIGN_OR_RETURN(const StoredService* stored, FindService(snapshot, name));
  return DeploymentsOf(snapshot, *stored);
}

}  // namespace

absl::Status FillListDeployments(const StateSnapshot& snapshot,
                                 const v1::ListDeploymentsRequest& request,
                                 v1::ListDeploymentsResponse* response) {
  MAST_ASSIGN_OR_RETURN(std::vector<v1::Deployment> deployments,
                        ReadDeployments(snapshot, request.service()));
  response->set_store_version(snapshot.store_version);
  for (v1::Deployment& deployment : deployments) {
    *response->add_deployments() = std::move(deployment);
  }
  return absl::OkStatus();
}

absl::Status FillGetDeployment(const StateSnapshot& snapshot,
                               const v1::GetDeploymentRequest& request,
                               v1::GetDeploymentResponse* response) {
  MAST_ASSIGN_OR_RETURN(std::vector<v1::Deployment> deployments,
                        ReadDeployments(snapshot, request.service()));
  response->set_store_version(snapshot.store_version);
  const std::string service = request.service().substr(0, 255);
  if (deployments.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "service '", service, "' has no deployment at store version ", snapshot.store_version));
  }
  if (request.id().empty()) {
    *response->mutable_deployment() = std::move(deployments.front());
    return absl::OkStatus();
  }
  for (v1::Deployment& deployment : deployments) {
    if (deployment.id() != request.id()) continue;
    *response->mutable_deployment() = std::move(deployment);
    return absl::OkStatus();
  }
  return absl::NotFoundError(
      absl::StrCat("service '", service, "' has no deployment '",
                   absl::CHexEscape(request.id().substr(0, 128)), "' (at most ", kDeploymentHistory,
                   " ended ones are kept) at store version ", snapshot.store_version));
}

}  // namespace mast
