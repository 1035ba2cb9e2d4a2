#pragma once

// The gRPC side of auth/: a call's credentials and its caller, and how a
// follower names the caller of a write it forwards to the leader.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "auth/access.h"
#include "grpcpp/grpcpp.h"

namespace mast {

// The bearer token of the `authorization` metadata ("Bearer <token>", the
// scheme in any case) and the verified client certificate's identity (its
// first SAN, else its CN; empty unless the TLS handshake verified it).
auth::Credentials CredentialsOf(const grpc::ServerContextBase& context);

// Who makes the call. Its own credentials are authenticated first; when
// the call carries auth::kOnBehalfOfHeader and that identity may act for
// others (a replica forwarding a write), the header names the caller.
// From anyone else the header is ignored: a client cannot borrow rights by
// setting it. UNAUTHENTICATED as AccessControl::Authenticate says, or for
// a forwarder's header that does not parse.
absl::StatusOr<auth::Identity> IdentifyCaller(const auth::AccessControl& access,
                                              const grpc::ServerContextBase& context,
                                              absl::Time now);

// The header's value for `who`: "token:<name>", "certificate:<name>",
// "anonymous". ParseOnBehalfOf is its inverse (nullopt for anything else).
std::string OnBehalfOfValue(const auth::Identity& who);
std::optional<auth::Identity> ParseOnBehalfOf(absl::string_view value);

}  // namespace mast
