#include "api/service_reads.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

absl::Status FillGetService(const StateSnapshot& snapshot, const v1::GetServiceRequest& request,
                            v1::GetServiceResponse* response) {
  if (absl::Status readable = CheckReadable(snapshot); !readable.ok()) return readable;
  response->set_store_version(snapshot.store_version);
  auto it = snapshot.services.find(request.name());
  if (it == snapshot.services.end()) {
    // A record that exists but cannot be read is not a missing service.
    const std::string suffix = absl::StrCat("/services/", EscapeServiceName(request.name()));
    for (const CorruptRecord& corrupt : snapshot.corrupt) {
      if (absl::EndsWith(corrupt.znode, suffix)) {
        return absl::DataLossError(absl::StrCat("service '", request.name().substr(0, 255),
                                                "': its stored record is unreadable (",
                                                corrupt.error, "); an operator must repair ",
                                                corrupt.znode));
      }
    }
    return absl::NotFoundError(absl::StrCat("service '", request.name().substr(0, 255),
                                            "' not found at store version ",
                                            snapshot.store_version));
  }
  *response->mutable_service() = it->second->record.service();
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
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be at most ", kMaxPageSize, ", not ", request.page_size()));
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
    const v1::Service& service = it->second->record.service();
    if (!Matches(service, *selector)) continue;
    if (static_cast<uint32_t>(response->services_size()) == page_size) {
      response->set_next_page_token(response->services().rbegin()->spec().name());
      break;
    }
    *response->add_services() = service;
  }
  return absl::OkStatus();
}

}  // namespace mast
