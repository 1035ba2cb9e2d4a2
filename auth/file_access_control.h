#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/access.h"
#include "common/clock.h"

namespace prometheus {
class Registry;
}

namespace mast::auth {

struct FileAccessControlConfig {
  // The tokens file (tokens.h); empty: no tokens (certificates and the
  // policy's anonymous grants only).
  std::string tokens_file;
  // The policy file (policy.h). Required.
  std::string policy_file;
  // Each file is looked at (stat) at most this often, on a call; re-read
  // and re-parsed when its inode, size or mtime changed (a Kubernetes
  // Secret's symlink swap included).
  absl::Duration reload_interval = absl::Seconds(5);
  Clock* clock = nullptr;  // default: the real clock
  // Counts mast_auth_file_reloads_total{file,result} when given.
  prometheus::Registry* registry = nullptr;
};

// AccessControl over the tokens and policy files (access.h for the
// contract). Both must exist and parse at start (INVALID_ARGUMENT naming
// file and line); later, a file that disappears or stops parsing is logged
// and counted, and the last good contents stay in force.
//
// Authenticate: a bearer token must be in the tokens file (else
// UNAUTHENTICATED, whatever else the call carries); without one a verified
// certificate identifies the caller; without either the caller is
// anonymous if the policy has anonymous grants, else UNAUTHENTICATED.
// Thread-safe.
absl::StatusOr<std::unique_ptr<AccessControl>> MakeFileAccessControl(
    FileAccessControlConfig config);

}  // namespace mast::auth
