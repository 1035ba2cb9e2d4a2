#include "api/secret_redaction.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/validation_internal.h"

namespace mast {
namespace {

std::string SecretPath(absl::string_view prefix, absl::string_view name) {
  return absl::StrCat(prefix, "secrets[", validation_internal::Quote(name), "]");
}

}  // namespace

void RedactSecrets(v1::ServiceSpec& spec) {
  for (auto& [name, secret] : *spec.mutable_secrets()) {
    if (secret.source_case() == v1::Secret::kValue) {
      secret.clear_value();
      secret.set_redacted(true);
    }
  }
}

void RedactSecrets(v1::Deployment& deployment) {
  if (deployment.has_from_spec()) RedactSecrets(*deployment.mutable_from_spec());
  if (deployment.has_to_spec()) RedactSecrets(*deployment.mutable_to_spec());
}

void RedactSecrets(v1::Service& service) {
  RedactSecrets(*service.mutable_spec());
  if (service.has_deployment()) RedactSecrets(*service.mutable_deployment());
}

void RedactSecrets(v1::WatchEvent& event) {
  if (event.has_service()) RedactSecrets(*event.mutable_service());
  if (event.has_deployment()) RedactSecrets(*event.mutable_deployment());
}

void RedactSecrets(v1::GetServiceResponse& response) {
  if (response.has_service()) RedactSecrets(*response.mutable_service());
}

void RedactSecrets(v1::ListServicesResponse& response) {
  for (v1::Service& service : *response.mutable_services()) RedactSecrets(service);
}

void RedactSecrets(v1::GetDeploymentResponse& response) {
  if (response.has_deployment()) RedactSecrets(*response.mutable_deployment());
}

void RedactSecrets(v1::ListDeploymentsResponse& response) {
  for (v1::Deployment& deployment : *response.mutable_deployments()) RedactSecrets(deployment);
}

absl::Status KeepRedactedSecrets(const v1::ServiceSpec& current, v1::ServiceSpec& spec,
                                 absl::string_view field_prefix) {
  std::vector<std::string> missing;
  for (auto& [name, secret] : *spec.mutable_secrets()) {
    if (!secret.redacted() || secret.source_case() != v1::Secret::SOURCE_NOT_SET) continue;
    auto kept = current.secrets().find(name);
    if (kept == current.secrets().end() ||
        kept->second.source_case() == v1::Secret::SOURCE_NOT_SET) {
      missing.push_back(name);
      continue;
    }
    secret = kept->second;
    secret.set_redacted(false);
  }
  if (missing.empty()) return absl::OkStatus();
  std::sort(missing.begin(), missing.end());
  std::vector<std::string> messages;
  for (const std::string& name : missing) {
    messages.push_back(absl::StrCat(SecretPath(field_prefix, name),
                                    ": redacted, but the service holds no secret of that "
                                    "name to keep; send its value or reference"));
  }
  return absl::InvalidArgumentError(absl::StrJoin(messages, "; "));
}

absl::Status RefuseRedactedSecrets(const v1::ServiceSpec& spec, absl::string_view field_prefix) {
  std::vector<std::string> redacted;
  for (const auto& [name, secret] : spec.secrets()) {
    if (secret.source_case() == v1::Secret::SOURCE_NOT_SET && secret.redacted()) {
      redacted.push_back(name);
    }
  }
  if (redacted.empty()) return absl::OkStatus();
  std::sort(redacted.begin(), redacted.end());
  std::vector<std::string> messages;
  for (const std::string& name : redacted) {
    messages.push_back(absl::StrCat(SecretPath(field_prefix, name),
                                    ": redacted: a new service needs the value or reference"));
  }
  return absl::InvalidArgumentError(absl::StrJoin(messages, "; "));
}

}  // namespace mast
