#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mast/v1/mast.pb.h"
#include "store/state_cache.h"

namespace mast {

// Pure read logic of the API over one immutable StateSnapshot; no I/O, no
// locks. Every replica answers reads with these from its own StateCache.

// ListServices' page size when the request gives none, and its maximum.
inline constexpr uint32_t kDefaultPageSize = 100;
inline constexpr uint32_t kMaxPageSize = 1000;

using LabelSelector = std::vector<std::pair<std::string, std::string>>;

// Parses "k=v,k2=v2" (spaces around items ignored; empty: no condition).
// INVALID_ARGUMENT "label_selector: ..." for an item without '=' or with an
// empty key.
absl::StatusOr<LabelSelector> ParseLabelSelector(absl::string_view selector);

// UNAVAILABLE while the snapshot was never loaded (nothing can be answered
// yet); OK otherwise, also for a stale snapshot (its store version says how old).
absl::Status CheckReadable(const StateSnapshot& snapshot);

// NOT_FOUND when `name` is not in the snapshot.
absl::Status FillGetService(const StateSnapshot& snapshot, const v1::GetServiceRequest& request,
                            v1::GetServiceResponse* response);

// Filters by prefix and labels, in name order, one page at a time. The page
// token is the last name of the previous page, so paging is stable while
// services come and go (none is repeated; one created behind the cursor is
// not seen).
absl::Status FillListServices(const StateSnapshot& snapshot, const v1::ListServicesRequest& request,
                              v1::ListServicesResponse* response);

}  // namespace mast
