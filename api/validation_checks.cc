// ServiceSpec validation and defaults of the health check, the readiness
// check and the upgrade strategy (see api/validation.h).

#include <cmath>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "api/validation.h"
#include "api/validation_internal.h"
#include "common/status_macros.h"
#include "store/health_check.h"

namespace mast::validation_internal {
namespace {

// A check's duration at `path` (unset: OK, the default applies).
absl::Status ValidateCheckDuration(const google::protobuf::Duration& value, bool set,
                                   const std::string& path, bool zero_allowed) {
  if (!set) return absl::OkStatus();
  std::optional<absl::Duration> d = FromProto(value);
  if (!d) return Invalid(path, "not a valid duration");
  const bool too_small = zero_allowed ? *d < absl::ZeroDuration() : *d <= absl::ZeroDuration();
  if (too_small || *d > kMaxHealthCheckDuration) {
    return Invalid(path, absl::StrCat("must be in ", zero_allowed ? "[0s, " : "(0s, ",
                                      absl::FormatDuration(kMaxHealthCheckDuration), "]"));
  }
  return absl::OkStatus();
}

// "an HTTP check", "a TCP check".
template <typename Check>
std::string ACheck(const Check& check) {
  return absl::StrCat(check.protocol() == Check::TCP ? "a " : "an ",
                      Check::Protocol_Name(check.protocol()), " check");
}

// The port of a network check (HealthCheck or ReadinessCheck, at `field`:
// "health_check"): it must resolve (CheckPortIndex) to a port that is not udp.
template <typename Check>
absl::Status ValidateCheckPort(const v1::ServiceSpec& spec, const Check& check,
                               absl::string_view field) {
  std::optional<int> port = CheckPortIndex(spec, check);
  if (!port) {
    switch (check.port_case()) {
      case Check::kPortName:
        return Invalid(absl::StrCat(field, ".port_name"),
                       absl::StrCat(Quote(check.port_name()), " is not one of the spec's ports"));
      case Check::kPortIndex:
        return Invalid(absl::StrCat(field, ".port_index"),
                       absl::StrCat("must be < ", spec.ports_size(), " (the spec's ports)"));
      case Check::PORT_NOT_SET:
        break;
    }
    return Invalid(field, absl::StrCat(ACheck(check), " needs a port: ports is empty"));
  }
  if (spec.ports(*port).protocol() == "udp") {
    return Invalid(field, absl::StrCat(ACheck(check), " cannot check udp port ",
                                       Quote(spec.ports(*port).name())));
  }
  return absl::OkStatus();
}

// An HTTP check's path (empty: "/") at `path_field`.
absl::Status ValidateHttpPath(const std::string& path, const std::string& path_field) {
  if (path.empty()) return absl::OkStatus();
  if (path.size() > kMaxHealthCheckPathBytes) {
    return Invalid(path_field, absl::StrCat("longer than ", kMaxHealthCheckPathBytes, " bytes"));
  }
  if (path.front() != '/') return Invalid(path_field, "must start with '/'");
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return Invalid(path_field, "contains whitespace or a control character");
    }
  }
  return absl::OkStatus();
}

// A network check (HTTP, HTTPS, TCP) at `field`: its port, no command, and
// a path for HTTP(S) only.
template <typename Check>
absl::Status ValidateNetworkCheck(const v1::ServiceSpec& spec, const Check& check,
                                  const std::string& field) {
  if (check.has_command()) {
    return Invalid(absl::StrCat(field, ".command"), absl::StrCat("not for ", ACheck(check)));
  }
  MAST_RETURN_IF_ERROR(ValidateCheckPort(spec, check, field));
  if (check.protocol() == Check::TCP) {
    if (!check.path().empty()) return Invalid(absl::StrCat(field, ".path"), "not for a TCP check");
    return absl::OkStatus();
  }
  return ValidateHttpPath(check.path(), absl::StrCat(field, ".path"));
}

// A COMMAND check at `field`: a valid command, no port, no path.
template <typename Check>
absl::Status ValidateCommandCheck(const Check& check, const std::string& field) {
  if (check.port_case() != Check::PORT_NOT_SET) {
    return Invalid(
        absl::StrCat(field, check.port_case() == Check::kPortName ? ".port_name" : ".port_index"),
        "not for a COMMAND check");
  }
  if (!check.path().empty())
    return Invalid(absl::StrCat(field, ".path"), "not for a COMMAND check");
  if (!check.has_command()) {
    return Invalid(absl::StrCat(field, ".command"), "required for COMMAND");
  }
  return ValidateCommandAt(check.command(), absl::StrCat(field, ".command"));
}

// The interval, timeout and delay every check has, each on its own.
template <typename Check>
void ValidateCheckTimings(const Check& check, const std::string& field, Errors& errors) {
  const auto at = [&field](absl::string_view name) { return absl::StrCat(field, ".", name); };
  errors.Add(ValidateCheckDuration(check.interval(), check.has_interval(), at("interval"), false));
  errors.Add(ValidateCheckDuration(check.timeout(), check.has_timeout(), at("timeout"), false));
  errors.Add(ValidateCheckDuration(check.delay(), check.has_delay(), at("delay"), true));
}

}  // namespace

// The protocol's part (its port and path, or its command) counts as one
// field; the timings each as their own.
void ValidateHealthCheck(const v1::ServiceSpec& spec, Errors& errors) {
  if (!spec.has_health_check()) return;
  const v1::HealthCheck& check = spec.health_check();
  const std::string field = "health_check";
  switch (check.protocol()) {
    case v1::HealthCheck::PROTOCOL_UNSPECIFIED:
      errors.Add(Invalid("health_check.protocol", "required: HTTP, HTTPS, TCP or COMMAND"));
      break;
    case v1::HealthCheck::HTTP:
    case v1::HealthCheck::HTTPS:
    case v1::HealthCheck::TCP:
      errors.Add(ValidateNetworkCheck(spec, check, field));
      break;
    case v1::HealthCheck::COMMAND:
      errors.Add(ValidateCommandCheck(check, field));
      break;
    default:
      errors.Add(Invalid("health_check.protocol",
                         absl::StrCat("unknown protocol ", static_cast<int>(check.protocol()))));
  }
  errors.Add(ValidateCheckDuration(check.grace_period(), check.has_grace_period(),
                                   "health_check.grace_period", /*zero_allowed=*/true));
  ValidateCheckTimings(check, field, errors);
  if (check.consecutive_failures() > kMaxHealthConsecutiveFailures) {
    errors.Add(AboveLimit("health_check.consecutive_failures", kMaxHealthConsecutiveFailures,
                          check.consecutive_failures()));
  }
}

void ValidateReadinessCheck(const v1::ServiceSpec& spec, Errors& errors) {
  if (!spec.has_readiness_check()) return;
  const v1::ReadinessCheck& check = spec.readiness_check();
  const std::string field = "readiness_check";
  switch (check.protocol()) {
    case v1::ReadinessCheck::PROTOCOL_UNSPECIFIED:
      errors.Add(Invalid("readiness_check.protocol", "required: HTTP, TCP or COMMAND"));
      break;
    case v1::ReadinessCheck::HTTP:
    case v1::ReadinessCheck::TCP:
      errors.Add(ValidateNetworkCheck(spec, check, field));
      break;
    case v1::ReadinessCheck::COMMAND:
      errors.Add(ValidateCommandCheck(check, field));
      break;
    default:
      errors.Add(Invalid("readiness_check.protocol",
                         absl::StrCat("unknown protocol ", static_cast<int>(check.protocol()))));
  }
  ValidateCheckTimings(check, field, errors);
}

namespace {

// A capacity fraction of the strategy: finite, in [0, 1].
absl::Status ValidateFraction(double value, absl::string_view name) {
  if (!std::isfinite(value) || value < 0 || value > 1) {
    return Invalid(absl::StrCat("upgrade_strategy.", name), "must be in [0, 1]");
  }
  return absl::OkStatus();
}

// Counts ascending among counts, percents among percents (how they
// interleave depends on `instances`, which may change).
absl::Status ValidateSteps(const v1::UpgradeStrategy& strategy) {
  const auto& steps = strategy.steps();
  if (steps.size() > kMaxRolloutSteps) {
    return Invalid("upgrade_strategy.steps",
                   absl::StrCat("more than ", kMaxRolloutSteps, " steps"));
  }
  std::optional<uint32_t> last_count;
  std::optional<double> last_percent;
  for (int i = 0; i < steps.size(); ++i) {
    const v1::RolloutStep& step = steps[i];
    const std::string path = absl::StrCat("upgrade_strategy.steps[", i, "]");
    switch (step.target_case()) {
      case v1::RolloutStep::kInstances:
        if (step.instances() < 1 || step.instances() > kMaxInstances) {
          return Invalid(absl::StrCat(path, ".instances"),
                         absl::StrCat("must be in [1, ", kMaxInstances, "]"));
        }
        if (last_count && step.instances() <= *last_count) {
          return Invalid(
              absl::StrCat(path, ".instances"),
              absl::StrCat("must be more than the step before's ", *last_count, " (steps ascend)"));
        }
        last_count = step.instances();
        break;
      case v1::RolloutStep::kPercent:
        if (!std::isfinite(step.percent()) || step.percent() <= 0 || step.percent() > 100) {
          return Invalid(absl::StrCat(path, ".percent"), "must be in (0, 100]");
        }
        if (last_percent && step.percent() <= *last_percent) {
          return Invalid(absl::StrCat(path, ".percent"),
                         absl::StrCat("must be more than the step before's ",
                                      FormatNumber(*last_percent), " (steps ascend)"));
        }
        last_percent = step.percent();
        break;
      case v1::RolloutStep::TARGET_NOT_SET:
        return Invalid(path, "one of instances or percent is required");
    }
  }
  return absl::OkStatus();
}

// A duration of the strategy, if set: valid and in [0s, max].
absl::Status ValidateStrategyDuration(bool set, const google::protobuf::Duration& value,
                                      const std::string& field, absl::Duration max,
                                      absl::string_view zero_means) {
  if (!set) return absl::OkStatus();
  std::optional<absl::Duration> d = FromProto(value);
  if (!d) return Invalid(field, "not a valid duration");
  if (*d < absl::ZeroDuration() || *d > max) {
    return Invalid(field,
                   absl::StrCat("must be in [0s, ", absl::FormatDuration(max), "]", zero_means));
  }
  return absl::OkStatus();
}

}  // namespace

void ValidateUpgradeStrategy(const v1::ServiceSpec& spec, Errors& errors) {
  if (!spec.has_upgrade_strategy()) return;
  const v1::UpgradeStrategy& strategy = spec.upgrade_strategy();
  const double min_health = strategy.has_minimum_health_capacity()
                                ? strategy.minimum_health_capacity()
                                : kDefaultMinimumHealthCapacity;
  const double max_over = strategy.has_maximum_over_capacity() ? strategy.maximum_over_capacity()
                                                               : kDefaultMaximumOverCapacity;
  const absl::Status min_health_valid = ValidateFraction(min_health, "minimum_health_capacity");
  const absl::Status max_over_valid = ValidateFraction(max_over, "maximum_over_capacity");
  errors.Add(min_health_valid);
  errors.Add(max_over_valid);
  if (min_health_valid.ok() && max_over_valid.ok() && min_health == 1 && max_over == 0) {
    errors.Add(Invalid("upgrade_strategy",
                       "no room to replace a task: minimum_health_capacity 1 allows no old task "
                       "to go first and maximum_over_capacity 0 no new one to start first"));
  }
  if (!v1::UpgradeStrategy::KillSelection_IsValid(strategy.kill_selection())) {
    errors.Add(Invalid(
        "upgrade_strategy.kill_selection",
        absl::StrCat("unknown kill selection ", static_cast<int>(strategy.kill_selection()))));
  }
  errors.Add(ValidateSteps(strategy));
  errors.Add(ValidateStrategyDuration(
      strategy.has_progress_deadline(), strategy.progress_deadline(),
      "upgrade_strategy.progress_deadline", kMaxProgressDeadline, " (0s: never)"));
  errors.Add(ValidateStrategyDuration(strategy.has_min_ready(), strategy.min_ready(),
                                      "upgrade_strategy.min_ready", kMaxMinReady, ""));
}

void AddCheckAndStrategyDefaults(v1::ServiceSpec& spec) {
  if (spec.has_health_check()) {
    v1::HealthCheck* check = spec.mutable_health_check();
    if (!check->has_grace_period()) {
      ToProto(kDefaultHealthGracePeriod, check->mutable_grace_period());
    }
    if (!check->has_interval()) ToProto(kDefaultHealthInterval, check->mutable_interval());
    if (!check->has_timeout()) ToProto(kDefaultHealthTimeout, check->mutable_timeout());
    if (!check->has_delay()) ToProto(kDefaultHealthDelay, check->mutable_delay());
    if (check->consecutive_failures() == 0) {
      check->set_consecutive_failures(kDefaultHealthConsecutiveFailures);
    }
    const bool http =
        check->protocol() == v1::HealthCheck::HTTP || check->protocol() == v1::HealthCheck::HTTPS;
    if (http && check->path().empty()) check->set_path("/");
  }
  if (spec.has_readiness_check()) {
    v1::ReadinessCheck* check = spec.mutable_readiness_check();
    if (!check->has_interval()) ToProto(kDefaultReadinessInterval, check->mutable_interval());
    if (!check->has_timeout()) ToProto(kDefaultReadinessTimeout, check->mutable_timeout());
    if (!check->has_delay()) ToProto(kDefaultReadinessDelay, check->mutable_delay());
    if (check->protocol() == v1::ReadinessCheck::HTTP && check->path().empty()) {
      check->set_path("/");
    }
  }
  v1::UpgradeStrategy* strategy = spec.mutable_upgrade_strategy();
  if (!strategy->has_minimum_health_capacity()) {
    strategy->set_minimum_health_capacity(kDefaultMinimumHealthCapacity);
  }
  if (!strategy->has_maximum_over_capacity()) {
    strategy->set_maximum_over_capacity(kDefaultMaximumOverCapacity);
  }
  if (strategy->kill_selection() == v1::UpgradeStrategy::KILL_SELECTION_UNSPECIFIED) {
    strategy->set_kill_selection(v1::UpgradeStrategy::YOUNGEST_FIRST);
  }
  if (!strategy->has_progress_deadline()) {
    ToProto(kDefaultProgressDeadline, strategy->mutable_progress_deadline());
  }
  if (!strategy->has_failure_threshold()) {
    strategy->set_failure_threshold(kDefaultFailureThreshold);
  }
}

}  // namespace mast::validation_internal
