#pragma once

// Secrets never leave a replica through the API: every answer that holds a
// ServiceSpec (a service, a deployment's from/to specs, a watch event) has
// each secret's value removed and `redacted` set. References are kept (they
// name where the secret lives, not what it is). The stored record keeps the
// values; UpdateService takes a `redacted` secret as "keep the stored one".
//
// Pure functions; no threads, no I/O.

#include "absl/status/status.h"
#include "mast/v1/mast.pb.h"
#include "mast/v1/service.pb.h"

namespace mast {

void RedactSecrets(v1::ServiceSpec& spec);
void RedactSecrets(v1::Deployment& deployment);
void RedactSecrets(v1::Service& service);
void RedactSecrets(v1::WatchEvent& event);
void RedactSecrets(v1::GetServiceResponse& response);
void RedactSecrets(v1::ListServicesResponse& response);
void RedactSecrets(v1::GetDeploymentResponse& response);
void RedactSecrets(v1::ListDeploymentsResponse& response);
// Answers that hold no spec (tasks, the leader, a delete): nothing to do.
inline void RedactSecrets(v1::ListTasksResponse&) {}
inline void RedactSecrets(v1::GetLeaderResponse&) {}
inline void RedactSecrets(v1::DeleteServiceResponse&) {}

// UpdateService: fills each `redacted` secret of `spec` with the one
// `current` holds under that name. INVALID_ARGUMENT (naming
// "<prefix>secrets['name']") when `current` has none to keep.
absl::Status KeepRedactedSecrets(const v1::ServiceSpec& current, v1::ServiceSpec& spec,
                                 absl::string_view field_prefix);

// CreateService: INVALID_ARGUMENT for a `redacted` secret, as there is no
// stored one to keep.
absl::Status RefuseRedactedSecrets(const v1::ServiceSpec& spec, absl::string_view field_prefix);

}  // namespace mast
