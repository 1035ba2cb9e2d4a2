#pragma once

// Helpers shared by the parts of ServiceSpec validation (validation.cc: the
// task definition; validation_checks.cc: health and readiness checks, the
// upgrade strategy). Not an API: use api/validation.h.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "mast/v1/service.pb.h"

namespace mast::validation_internal {

// INVALID_ARGUMENT "<path>: <message>".
absl::Status Invalid(absl::string_view path, absl::string_view message);

// The problems of one spec, collected in field order so that one answer
// names every invalid field. Each is noted as "<prefix><path>: <message>"
// ("spec." + "resources.cpus: must be > 0").
class Errors {
 public:
  explicit Errors(absl::string_view prefix) : prefix_(prefix) {}
  // Notes the message of a non-OK `status` (from Invalid); OK notes nothing.
  void Add(const absl::Status& status);
  // OK when nothing was noted, else INVALID_ARGUMENT with every problem
  // noted, in order, joined by "; ".
  absl::Status ToStatus() const;

 private:
  std::string prefix_;
  std::vector<std::string> messages_;
};
// User text in messages: escaped, cut short, in single quotes.
std::string Quote(absl::string_view text);
bool IsLowerAlnum(char c);
bool IsAlnum(char c);
// Whole numbers without an exponent (16777216, not 1.67772e+07).
std::string FormatNumber(double value);

// A google.protobuf.Duration within its own rules, else nullopt.
std::optional<absl::Duration> FromProto(const google::protobuf::Duration& d);
void ToProto(absl::Duration d, google::protobuf::Duration* out);

// An environment variable name ([A-Za-z_][A-Za-z0-9_]*, at most 255), and
// the names Mast or Mesos set in a task (PORT*, MAST_*, MESOS_*).
bool IsEnvName(absl::string_view s);
bool IsReservedEnvName(absl::string_view s);

// spec.secrets with spec.secret_env, and spec.volumes (validation_workload.cc):
// each invalid entry, by name or index. A secret may be `redacted` without
// a value (UpdateService keeps the stored one; CreateService refuses it).
void ValidateSecrets(const v1::ServiceSpec& spec, Errors& errors);
void ValidateVolumes(const v1::ServiceSpec& spec, Errors& errors);
// spec.networks, and the container fields of spec.ports they allow.
void ValidateNetworks(const v1::ServiceSpec& spec, Errors& errors);

// `command` found at `path` ("command", "health_check.command").
absl::Status ValidateCommandAt(const v1::Command& command, absl::string_view path);

// spec.health_check, spec.readiness_check, spec.upgrade_strategy: each of
// their invalid fields (a check's port, path and command together count as
// one). Unset is valid; unset fields are taken as their defaults.
void ValidateHealthCheck(const v1::ServiceSpec& spec, Errors& errors);
void ValidateReadinessCheck(const v1::ServiceSpec& spec, Errors& errors);
void ValidateUpgradeStrategy(const v1::ServiceSpec& spec, Errors& errors);

// INVALID_ARGUMENT for a spec over kMaxSpecBytes, naming its largest
// top-level field ("env: 1048600 of the spec's 1048663 bytes (...)").
absl::Status SpecTooLarge(const v1::ServiceSpec& spec);

// WithDefaults' part for the checks and the upgrade strategy.
void AddCheckAndStrategyDefaults(v1::ServiceSpec& spec);

}  // namespace mast::validation_internal
