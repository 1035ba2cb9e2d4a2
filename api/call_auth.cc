#include "api/call_auth.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mast {

namespace {

std::optional<absl::string_view> Metadata(const grpc::ServerContextBase& context,
                                          absl::string_view key) {
  auto it = context.client_metadata().find(grpc::string_ref(key.data(), key.size()));
  if (it == context.client_metadata().end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

}  // namespace

auth::Credentials CredentialsOf(const grpc::ServerContextBase& context) {
  auth::Credentials credentials;
  if (std::optional<absl::string_view> header = Metadata(context, "authorization")) {
    absl::string_view value = absl::StripAsciiWhitespace(*header);
    if (value.size() > 7 && absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ")) {
      credentials.bearer_token = std::string(absl::StripAsciiWhitespace(value.substr(7)));
    } else {
      credentials.bearer_token = std::string();  // present but not a bearer token: refused
    }
  }
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    std::vector<grpc::string_ref> identity = auth->GetPeerIdentity();
    if (!identity.empty()) {
      credentials.certificate_identity.assign(identity.front().data(), identity.front().size());
    }
  }
  return credentials;
}

absl::StatusOr<auth::Identity> IdentifyCaller(const auth::AccessControl& access,
                                              const grpc::ServerContextBase& context,
                                              absl::Time now) {
  absl::StatusOr<auth::Identity> direct = access.Authenticate(CredentialsOf(context), now);
  if (!direct.ok()) return direct;
  std::optional<absl::string_view> on_behalf_of = Metadata(context, auth::kOnBehalfOfHeader);
  if (!on_behalf_of || !access.MayActForOthers(*direct)) return direct;
  std::optional<auth::Identity> caller = ParseOnBehalfOf(*on_behalf_of);
  if (!caller) {
    return absl::UnauthenticatedError(
        absl::StrCat("the forwarding replica named the caller '", on_behalf_of->substr(0, 256),
                     "'; want token:<name>, certificate:<name> or anonymous"));
  }
  return *caller;
}

std::string OnBehalfOfValue(const auth::Identity& who) {
  switch (who.kind) {
    case auth::Identity::Kind::kAnonymous:
      return "anonymous";
    case auth::Identity::Kind::kToken:
      return absl::StrCat("token:", who.name);
    case auth::Identity::Kind::kCertificate:
      return absl::StrCat("certificate:", who.name);
  }
  return "anonymous";
}

std::optional<auth::Identity> ParseOnBehalfOf(absl::string_view value) {
  if (value == "anonymous") return auth::Identity{};
  auth::Identity who;
  if (absl::ConsumePrefix(&value, "token:")) {
    who.kind = auth::Identity::Kind::kToken;
  } else if (absl::ConsumePrefix(&value, "certificate:")) {
    who.kind = auth::Identity::Kind::kCertificate;
  } else {
    return std::nullopt;
  }
  if (value.empty() || value.size() > 255) return std::nullopt;
  who.name = std::string(value);
  return who;
}

}  // namespace mast
