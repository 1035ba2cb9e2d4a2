#pragma once

// Helpers shared by the parts of ServiceSpec validation (validation.cc: the
// task definition; validation_checks.cc: health and readiness checks, the
// upgrade strategy). Not an API: use api/validation.h.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "mast/v1/service.pb.h"

namespace mast::validation_internal {

// INVALID_ARGUMENT "<path>: <message>".
absl::Status Invalid(absl::string_view path, absl::string_view message);
// User text in messages: escaped, cut short, in single quotes.
std::string Quote(absl::string_view text);
bool IsLowerAlnum(char c);
bool IsAlnum(char c);
// Whole numbers without an exponent (16777216, not 1.67772e+07).
std::string FormatNumber(double value);

// A google.protobuf.Duration within its own rules, else nullopt.
std::optional<absl::Duration> FromProto(const google::protobuf::Duration& d);
void ToProto(absl::Duration d, google::protobuf::Duration* out);

// `command` found at `path` ("command", "health_check.command").
absl::Status ValidateCommandAt(const v1::Command& command, absl::string_view path);

// spec.health_check, spec.readiness_check, spec.upgrade_strategy (each OK
// when unset; unset fields are taken as their defaults).
absl::Status ValidateHealthCheck(const v1::ServiceSpec& spec);
absl::Status ValidateReadinessCheck(const v1::ServiceSpec& spec);
absl::Status ValidateUpgradeStrategy(const v1::ServiceSpec& spec);

// WithDefaults' part for the checks and the upgrade strategy.
void AddCheckAndStrategyDefaults(v1::ServiceSpec& spec);

}  // namespace mast::validation_internal
