#include "zk/zk_status.h"

#include <zookeeper/zookeeper.h>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mast {

absl::Status ZkErrorToStatus(int zk_rc, absl::string_view what) {
  if (zk_rc == ZOK) return absl::OkStatus();
  std::string message = absl::StrCat(what, ": ", zerror(zk_rc));
  switch (zk_rc) {
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONEXPIRED:
    case ZSESSIONMOVED:
    case ZCLOSING:
    case ZINVALIDSTATE:
    case ZNOTHING:
    case ZNOTREADONLY:
      return absl::UnavailableError(message);
    case ZBADVERSION:
      return absl::AbortedError(message);
    case ZNONODE:
      return absl::NotFoundError(message);
    case ZNODEEXISTS:
      return absl::AlreadyExistsError(message);
    case ZNOTEMPTY:
    case ZNOCHILDRENFOREPHEMERALS:
      return absl::FailedPreconditionError(message);
    case ZNOAUTH:
    case ZAUTHFAILED:
      return absl::PermissionDeniedError(message);
    case ZBADARGUMENTS:
    case ZINVALIDACL:
      return absl::InvalidArgumentError(message);
    case ZUNIMPLEMENTED:
      return absl::UnimplementedError(message);
    default:
      return absl::InternalError(message);
  }
}

namespace {
constexpr char kFailedOpPayload[] = "type.mast/zk.failed_multi_op";
}  // namespace

absl::Status WithFailedOp(absl::Status status, size_t index) {
  status.SetPayload(kFailedOpPayload, absl::Cord(absl::StrCat(index)));
  return status;
}

std::optional<size_t> FailedMultiOp(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kFailedOpPayload);
  size_t index = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &index)) return std::nullopt;
  return index;
}

absl::Status ValidateZkPath(absl::string_view path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "': must start with '/'"));
  }
  if (path == "/") return absl::OkStatus();
  if (path.back() == '/') {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "': must not end with '/'"));
  }
  for (absl::string_view part : absl::StrSplit(path.substr(1), '/')) {
    if (part.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("'", path, "': empty path component"));
    }
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError(absl::StrCat("'", path, "': '.' and '..' are not allowed"));
    }
    if (part == "zookeeper" && path.rfind("/zookeeper", 0) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("'", path, "': /zookeeper is reserved"));
    }
    for (unsigned char c : part) {
      if (c < 0x20 || c == 0x7f) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", path, "': control characters are not allowed"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace mast
