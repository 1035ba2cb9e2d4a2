#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mast/v1/mast.pb.h"
#include "store/state_cache.h"
#include "store/task_state.h"

namespace mast {

// Pure read logic of the API over one immutable StateSnapshot; no I/O, no
// locks. Every replica answers reads with these from its own StateCache.

// The replica's current read copy (StateCache::snapshot, or a stand-in).
using StateView = std::function<std::shared_ptr<const StateSnapshot>()>;

// ListServices' page size when the request gives none, and its maximum.
inline constexpr uint32_t kDefaultPageSize = 100;
inline constexpr uint32_t kMaxPageSize = 1000;
// ListTasks' page size when the request gives none, and its maximum.
inline constexpr uint32_t kDefaultTaskPageSize = 500;
inline constexpr uint32_t kMaxTaskPageSize = 5000;

using LabelSelector = std::vector<std::pair<std::string, std::string>>;

// Parses "k=v,k2=v2" (spaces around items ignored; empty: no condition).
// INVALID_ARGUMENT "label_selector: ..." for an item without '=' or with an
// empty key.
absl::StatusOr<LabelSelector> ParseLabelSelector(absl::string_view selector);

// UNAVAILABLE while the snapshot was never loaded (nothing can be answered
// yet); OK otherwise, also for a stale snapshot (its store version says how old).
absl::Status CheckReadable(const StateSnapshot& snapshot);

// IsTerminal, IsLive: store/task_state.h (shared with the scheduler).

// The status of `service` computed from its task records (null: none
// stored): staged = PENDING + STAGING + STARTING, running = RUNNING, healthy
// = RUNNING and healthy, ready = IsReady (RUNNING, not being killed, healthy
// and ready as the spec's checks require), failed / last_failure /
// last_failure_time from the records' failure history; deployment_id is the
// id of the service's deployment while it is active (RUNNING, PAUSED,
// ROLLING_BACK), else empty.
v1::ServiceStatus ComputeServiceStatus(const v1::Service& service,
                                       const mast::v1::records::TaskRecords* tasks);

// The service as the API shows it: the stored one with its status computed
// from the snapshot's task records, its deployment's progress filled in
// (FillProgress), and `deleting` set when either the service or its record
// says so.
v1::Service ServiceView(const StateSnapshot& snapshot, const StoredService& stored);
// The same with the service's task records given (null: none).
v1::Service ServiceView(const StoredService& stored, const mast::v1::records::TaskRecords* tasks);

// Sets deployment->progress (`service`'s current deployment) from the
// service's task records (null: none), with DeploymentProgressOf.
void FillProgress(const v1::Service& service, const mast::v1::records::TaskRecords* tasks,
                  v1::Deployment* deployment);

// The deployments of `stored`, newest first: the service's deployment (the
// active one or the last to end, with its progress), then the kept history
// newest first, the service's one not repeated.
std::vector<v1::Deployment> DeploymentsOf(const StateSnapshot& snapshot,
                                          const StoredService& stored);
// ListDeployments, GetDeployment (an empty id: the newest). INVALID_ARGUMENT
// without a service name; NOT_FOUND for an unknown service, or an id that is
// not (or no longer) kept.
absl::Status FillListDeployments(const StateSnapshot& snapshot,
                                 const v1::ListDeploymentsRequest& request,
                                 v1::ListDeploymentsResponse* response);
absl::Status FillGetDeployment(const StateSnapshot& snapshot,
                               const v1::GetDeploymentRequest& request,
                               v1::GetDeploymentResponse* response);

// NOT_FOUND when `name` is not in the snapshot.
absl::Status FillGetService(const StateSnapshot& snapshot, const v1::GetServiceRequest& request,
                            v1::GetServiceResponse* response);

// Filters by prefix and labels, in name order, one page at a time. The page
// token is the last name of the previous page, so paging is stable while
// services come and go (none is repeated; one created behind the cursor is
// not seen).
absl::Status FillListServices(const StateSnapshot& snapshot, const v1::ListServicesRequest& request,
                              v1::ListServicesResponse* response);

// Tasks in (service, task id) order, of one service (exact name) or of all,
// filtered by state, one page at a time. The page token is opaque (it names
// the last task of the previous page): paging is stable while tasks come and
// go. NOT_FOUND for a service unknown to this replica; DATA_LOSS when the
// requested service's record or task records cannot be read (a corrupt
// record of another service is skipped when listing all); INVALID_ARGUMENT
// for a page_size over kMaxTaskPageSize or a malformed token.
absl::Status FillListTasks(const StateSnapshot& snapshot, const v1::ListTasksRequest& request,
                           v1::ListTasksResponse* response);

}  // namespace mast
