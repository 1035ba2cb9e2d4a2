#pragma once

// Who may do what through Mast's API: the identities (bearer tokens, mTLS
// client certificates) and the policy of roles by service-name prefix.
//
// This header is the contract between the auth library (auth/, pure: no
// gRPC) and the API (api/), which extracts the credentials from a gRPC call
// and asks AccessControl about them.

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mast::auth {

// Roles are ordered: admin includes write, write includes read.
// - read: GetService, ListServices, ListTasks, ListDeployments,
//   GetDeployment, WatchEvents (service and task events) of the services
//   under the grant's prefix.
// - write: also every write of those services (create, update, scale,
//   restart, delete, deployment pause/resume/cancel, rollback).
// - admin: also audit events in WatchEvents (an admin grant on the empty
//   prefix) .
enum class Role { kRead = 1, kWrite = 2, kAdmin = 3 };

absl::string_view RoleName(Role role);  // "read", "write", "admin"

// A caller as authenticated. `name` is empty only for kAnonymous.
struct Identity {
  enum class Kind {
    kAnonymous,    // no credentials and authentication is not required
    kToken,        // a bearer token from the tokens file
    kCertificate,  // a verified mTLS client certificate (SAN, else CN)
  };
  Kind kind = Kind::kAnonymous;
  std::string name;
};

// What the API knows about a call's credentials.
struct Credentials {
  // The value after "Bearer " of the `authorization` header, if any.
  std::optional<std::string> bearer_token;
  // The verified client certificate's identity (its first URI or DNS SAN,
  // else its CN); empty without a verified certificate.
  std::string certificate_identity;
};

// Decides authentication and authorization. Thread-safe: called from gRPC
// threads. Implementations reload their files on change (at most once per
// check interval) and keep the last good contents when a reload fails (the
// failure is logged and counted).
class AccessControl {
 public:
  virtual ~AccessControl() = default;

  // UNAUTHENTICATED (naming why: no credentials, unknown or expired token)
  // when the credentials identify nobody and authentication is required.
  // A token takes precedence over a certificate when both are present.
  virtual absl::StatusOr<Identity> Authenticate(const Credentials& credentials,
                                                absl::Time now) const = 0;

  // OK when `who` holds `role` (or a higher one) on a prefix of
  // `service_name`; else PERMISSION_DENIED naming the identity, the role
  // and the service. `service_name` empty asks for a grant on every service
  // (the empty prefix), as audit events need.
  virtual absl::Status Authorize(const Identity& who, Role role,
                                 absl::string_view service_name) const = 0;

  // True when `who` may act for another identity: a replica forwarding a
  // write to the leader names the original caller in kOnBehalfOfHeader.
  virtual bool MayActForOthers(const Identity& who) const = 0;

  // True when calls need no credentials (every caller is allowed
  // everything): the default when no tokens file, no client CA and no
  // policy are configured.
  virtual bool Open() const = 0;
};

// Every caller is anonymous and allowed everything (no auth configured).
std::unique_ptr<AccessControl> AllowEverything();

// Set by a replica forwarding a write, to the identity it authenticated;
// trusted only from a caller for whom MayActForOthers() is true.
inline constexpr char kOnBehalfOfHeader[] = "mast-on-behalf-of";

}  // namespace mast::auth
