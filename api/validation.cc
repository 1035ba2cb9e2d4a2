#include "api/validation.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/parse.h"
#include "common/proto_util.h"
// RE2 (libre2-dev) comes in through gRPC's link interface (gRPC::grpc
// links re2::re2). It matches in linear time, so a user's constraint regex
// cannot stall the leader.
#include "api/validation_internal.h"
#include "re2/re2.h"

namespace mast {
namespace validation_internal {

absl::Status Invalid(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

void Errors::Add(const absl::Status& status) {
  if (!status.ok()) messages_.push_back(absl::StrCat(prefix_, status.message()));
}

absl::Status Errors::ToStatus() const {
  if (messages_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(messages_, "; "));
}

// User text in messages: escaped, at most 64 bytes of it.
std::string Quote(absl::string_view text) {
  constexpr size_t kMax = 64;
  if (text.size() <= kMax) return absl::StrCat("'", absl::CHexEscape(text), "'");
  return absl::StrCat("'", absl::CHexEscape(text.substr(0, kMax)), "...'");
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }

// google.protobuf.Duration's own rules: |seconds| <= 10,000 years, |nanos| <
// 1e9, and both of one sign.
std::optional<absl::Duration> FromProto(const google::protobuf::Duration& d) {
  constexpr int64_t kMaxSeconds = 315576000000;
  if (d.seconds() > kMaxSeconds || d.seconds() < -kMaxSeconds) return std::nullopt;
  if (d.nanos() <= -1000000000 || d.nanos() >= 1000000000) return std::nullopt;
  if ((d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0)) {
    return std::nullopt;
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

void ToProto(absl::Duration d, google::protobuf::Duration* out) { *out = ToProtoDuration(d); }

// POSIX portable user names: [A-Za-z0-9._][A-Za-z0-9._-]*, at most 32.
bool IsUserName(absl::string_view s) {
  if (s.empty() || s.size() > 32 || s.front() == '-') return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

// `command` found at `path` ("command", "health_check.command").
absl::Status ValidateCommandAt(const v1::Command& command, absl::string_view path) {
  const auto at = [path](absl::string_view field) { return absl::StrCat(path, field); };
  switch (command.kind_case()) {
    case v1::Command::kShell: {
      const std::string& shell = command.shell();
      if (absl::StripAsciiWhitespace(shell).empty()) {
        return Invalid(at(".shell"), "must not be empty");
      }
      if (shell.size() > kMaxCommandBytes) {
        return Invalid(at(".shell"), absl::StrCat("longer than ", kMaxCommandBytes, " bytes"));
      }
      if (absl::StrContains(shell, '\0')) return Invalid(at(".shell"), "contains a NUL byte");
      break;
    }
    case v1::Command::kArgv: {
      const auto& args = command.argv().args();
      if (args.empty()) return Invalid(at(".argv.args"), "must not be empty");
      if (args.size() > kMaxArgs) {
        return Invalid(at(".argv.args"), absl::StrCat("more than ", kMaxArgs, " arguments"));
      }
      if (args[0].empty()) {
        return Invalid(at(".argv.args[0]"), "must not be empty (it is the program)");
      }
      size_t total = 0;
      for (int i = 0; i < args.size(); ++i) {
        if (absl::StrContains(args[i], '\0')) {
          return Invalid(absl::StrCat(path, ".argv.args[", i, "]"), "contains a NUL byte");
        }
        total += args[i].size();
      }
      if (total > kMaxCommandBytes) {
        return Invalid(at(".argv.args"),
                       absl::StrCat("longer than ", kMaxCommandBytes, " bytes in all"));
      }
      break;
    }
    case v1::Command::KIND_NOT_SET:
      return Invalid(path, "exactly one of shell or argv is required");
  }
  if (!command.user().empty() && !IsUserName(command.user())) {
    return Invalid(at(".user"), absl::StrCat(Quote(command.user()), " is not a valid user name"));
  }
  return absl::OkStatus();
}

// Whole numbers without an exponent (16777216, not 1.67772e+07).
std::string FormatNumber(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

bool IsEnvName(absl::string_view s) {
  if (s.empty() || s.size() > kMaxEnvNameBytes) return false;
  if (absl::ascii_isdigit(static_cast<unsigned char>(s.front()))) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '_') return false;
  }
  return true;
}

// The variables Mast or Mesos set in a task.
bool IsReservedEnvName(absl::string_view s) {
  if (s == "PORT" || s == "PORTS") return true;
  if (absl::StartsWith(s, "PORT_") || absl::StartsWith(s, "MESOS_") ||
      absl::StartsWith(s, "MAST_")) {
    return true;
  }
  if (absl::StartsWith(s, "PORT") && s.size() > 4) {
    for (char c : s.substr(4)) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
  }
  return false;
}

}  // namespace validation_internal

namespace {

using validation_internal::Errors;
using validation_internal::FormatNumber;
using validation_internal::FromProto;
using validation_internal::Invalid;
using validation_internal::IsAlnum;
using validation_internal::IsEnvName;
using validation_internal::IsLowerAlnum;
using validation_internal::IsReservedEnvName;
using validation_internal::Quote;
using validation_internal::ToProto;
using validation_internal::ValidateCommandAt;
using validation_internal::ValidateHealthCheck;
using validation_internal::ValidateReadinessCheck;
using validation_internal::ValidateUpgradeStrategy;

// [a-z0-9]([a-z0-9-]*[a-z0-9])?, at most 63 characters (RFC 1123 label).
bool IsDnsLabel(absl::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// A DNS subdomain: DNS labels joined by '.', at most 253 characters.
bool IsDnsSubdomain(absl::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(s, '.')) {
    if (!IsDnsLabel(label)) return false;
  }
  return true;
}
absl::Status ValidateName(absl::string_view name) {
  if (name.empty()) return Invalid("name", "required");
  const std::string prefix = absl::StrCat(Quote(name), " is not a path of DNS labels");
  if (name.size() > 255)
    return Invalid("name", absl::StrCat(prefix, ": longer than 255 characters"));
  std::vector<absl::string_view> labels = absl::StrSplit(name, '/');
  if (labels.size() > 8) return Invalid("name", absl::StrCat(prefix, ": more than 8 labels"));
  for (absl::string_view label : labels) {
    if (!IsDnsLabel(label)) {
      return Invalid("name", absl::StrCat(prefix, ": label ", Quote(label),
                                          " must match [a-z0-9]([a-z0-9-]*[a-z0-9])? and have at "
                                          "most 63 characters"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateCommand(const v1::ServiceSpec& spec) {
  if (!spec.has_command()) return Invalid("command", "required");
  return ValidateCommandAt(spec.command(), "command");
}

// Docker's reference grammar (distribution/reference), loosely: an
// optional registry host[:port], lower-case path components, an optional
// tag and an optional digest.
const RE2& ImageReferenceRegex() {
  static const RE2* const kRegex = [] {
    const std::string domain_component = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    const std::string domain =
        absl::StrCat(domain_component, "(?:\\.", domain_component, ")*(?::[0-9]+)?");
    const std::string path_component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    const std::string name =
        absl::StrCat("((?:", domain, "/)?", path_component, "(?:/", path_component, ")*)");
    const std::string tag = "(?::[\\w][\\w.-]{0,127})?";
    const std::string digest =
        "(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?";
    RE2::Options options;
    options.set_log_errors(false);
    return new RE2(absl::StrCat(name, tag, digest), options);
  }();
  return *kRegex;
}

absl::Status ValidateContainer(const v1::ServiceSpec& spec) {
  if (!spec.has_container()) return absl::OkStatus();
  const v1::Container& container = spec.container();
  const std::string& image = container.docker_image();
  if (image.empty()) {
    if (container.force_pull_image()) {
      return Invalid("container.force_pull_image", "needs container.docker_image");
    }
    return absl::OkStatus();
  }
  std::string name;
  if (image.size() > 1024 || !RE2::FullMatch(image, ImageReferenceRegex(), &name) ||
      name.size() > 255) {
    return Invalid("container.docker_image", absl::StrCat(Quote(image),
                                                          " is not an image reference like "
                                                          "[registry[:port]/]path[:tag][@digest]"));
  }
  return absl::OkStatus();
}

absl::Status ValidateScalar(absl::string_view path, double value, double min, bool min_inclusive,
                            double max) {
  if (std::isnan(value) || std::isinf(value)) return Invalid(path, "must be a finite number");
  if (min_inclusive ? value < min : value <= min) {
    return Invalid(path, absl::StrCat("must be ", min_inclusive ? ">= " : "> ", FormatNumber(min)));
  }
  if (value > max) return Invalid(path, absl::StrCat("must be <= ", FormatNumber(max)));
  return absl::OkStatus();
}

// Each resource is a field of its own: all that are invalid are noted.
void ValidateResources(const v1::ServiceSpec& spec, Errors& errors) {
  const v1::Resources& r = spec.resources();
  absl::Status cpus = ValidateScalar("resources.cpus", r.cpus(), 0, false, kMaxCpus);
  // Mesos keeps 3 decimals: less than 0.001 would be offered as nothing.
  if (cpus.ok() && r.cpus() < 0.001) cpus = Invalid("resources.cpus", "must be >= 0.001");
  errors.Add(cpus);
  absl::Status mem = ValidateScalar("resources.mem_mib", r.mem_mib(), 0, false, kMaxMemMib);
  if (mem.ok() && r.mem_mib() < kMinMemMib) {
    mem = Invalid("resources.mem_mib", absl::StrCat("must be >= ", FormatNumber(kMinMemMib)));
  }
  errors.Add(mem);
  errors.Add(ValidateScalar("resources.disk_mib", r.disk_mib(), 0, true, kMaxDiskMib));
  if (r.gpus() > kMaxGpus) errors.Add(AboveLimit("resources.gpus", kMaxGpus, r.gpus()));
}

bool IsPortName(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// ports[i]; `names` and `numbers` hold those of the ports before it.
absl::Status ValidatePort(const v1::PortSpec& port, int i, std::set<std::string>& names,
                          std::set<uint32_t>& numbers) {
  const std::string path = absl::StrCat("ports[", i, "]");
  // Names are optional, as in Marathon: an unnamed port gets PORT<i> only.
  if (!port.name().empty()) {
    if (!IsPortName(port.name())) {
      return Invalid(absl::StrCat(path, ".name"),
                     absl::StrCat(Quote(port.name()), " must be 1-63 characters of [a-z0-9-]"));
    }
    if (!names.insert(port.name()).second) {
      return Invalid(absl::StrCat(path, ".name"), absl::StrCat("duplicate ", Quote(port.name())));
    }
  }
  if (port.number() > 65535) {
    return Invalid(absl::StrCat(path, ".number"),
                   absl::StrCat(port.number(), " is not 0 (any) or a port in 1..65535"));
  }
  // One host port is one Mesos resource, whatever the protocol.
  if (port.number() != 0 && !numbers.insert(port.number()).second) {
    return Invalid(absl::StrCat(path, ".number"), absl::StrCat("duplicate ", port.number()));
  }
  if (!port.protocol().empty() && port.protocol() != "tcp" && port.protocol() != "udp") {
    return Invalid(absl::StrCat(path, ".protocol"),
                   absl::StrCat(Quote(port.protocol()), " is not \"tcp\" or \"udp\""));
  }
  return absl::OkStatus();
}

// Each port's first problem.
void ValidatePorts(const v1::ServiceSpec& spec, Errors& errors) {
  const auto& ports = spec.ports();
  if (ports.size() > kMaxPorts) {
    errors.Add(Invalid("ports", absl::StrCat("more than ", kMaxPorts, " ports")));
    return;
  }
  std::set<std::string> names;
  std::set<uint32_t> numbers;
  for (int i = 0; i < ports.size(); ++i) errors.Add(ValidatePort(ports[i], i, names, numbers));
}

absl::Status ValidateEnvVar(absl::string_view name, absl::string_view value) {
  const std::string path = absl::StrCat("env[", Quote(name), "]");
  if (!IsEnvName(name)) {
    return Invalid(path, "name must match [A-Za-z_][A-Za-z0-9_]* (at most 255 characters)");
  }
  if (IsReservedEnvName(name)) {
    return Invalid(path,
                   "reserved: Mast sets PORT, PORTS, PORT<n>, PORT_* and MAST_*, "
                   "Mesos sets MESOS_*");
  }
  if (value.size() > kMaxEnvValueBytes) {
    return Invalid(path, absl::StrCat("value longer than ", kMaxEnvValueBytes, " bytes"));
  }
  if (absl::StrContains(value, '\0')) return Invalid(path, "value contains a NUL byte");
  return absl::OkStatus();
}

// Each variable's first problem, then the total.
void ValidateEnv(const v1::ServiceSpec& spec, Errors& errors) {
  if (spec.env_size() > kMaxEnvVars) {
    errors.Add(Invalid("env", absl::StrCat("more than ", kMaxEnvVars, " variables")));
    return;
  }
  // Sorted, so the order of the problems does not depend on map order; the
  // values come along, so there is nothing to look up again.
  const std::map<absl::string_view, absl::string_view> env(spec.env().begin(), spec.env().end());
  size_t total = 0;
  for (const auto& [name, value] : env) {
    errors.Add(ValidateEnvVar(name, value));
    total += name.size() + value.size();
  }
  if (total > kMaxEnvTotalBytes) {
    errors.Add(Invalid("env", absl::StrCat("longer than ", kMaxEnvTotalBytes, " bytes in all")));
  }
}

// Kubernetes' label key syntax: an optional DNS-subdomain prefix and '/',
// then 1-63 characters [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?. Marathon
// style keys (HAPROXY_0_VHOST) fit it.
bool IsLabelKey(absl::string_view key) {
  absl::string_view name = key;
  const size_t slash = key.find('/');
  if (slash != absl::string_view::npos) {
    if (!IsDnsSubdomain(key.substr(0, slash))) return false;
    name = key.substr(slash + 1);
  }
  if (name.empty() || name.size() > 63 || !IsAlnum(name.front()) || !IsAlnum(name.back())) {
    return false;
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

absl::Status ValidateLabel(absl::string_view key, absl::string_view value) {
  const std::string path = absl::StrCat("labels[", Quote(key), "]");
  if (!IsLabelKey(key)) {
    return Invalid(path,
                   "key must be [prefix/]name: a DNS subdomain prefix, a name of 1-63 "
                   "characters [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?");
  }
  if (absl::StartsWith(key, kReservedLabelPrefix)) {
    return Invalid(path, absl::StrCat("the prefix '", kReservedLabelPrefix, "' is reserved"));
  }
  if (value.size() > kMaxLabelValueBytes) {
    return Invalid(path, absl::StrCat("value longer than ", kMaxLabelValueBytes, " bytes"));
  }
  return absl::OkStatus();
}

// Each label's first problem.
void ValidateLabels(const v1::ServiceSpec& spec, Errors& errors) {
  if (spec.labels_size() > kMaxLabels) {
    errors.Add(Invalid("labels", absl::StrCat("more than ", kMaxLabels, " labels")));
    return;
  }
  // Sorted, as env; the values come along.
  const std::map<absl::string_view, absl::string_view> labels(spec.labels().begin(),
                                                              spec.labels().end());
  for (const auto& [key, value] : labels) errors.Add(ValidateLabel(key, value));
}

// "hostname" or a Mesos agent attribute name (agents are configured with
// "name:value;..." so names hold no ':', ';' or ',').
bool IsConstraintField(absl::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (c <= ' ' || c >= 0x7f || c == ':' || c == ';' || c == ',') return false;
  }
  return true;
}

// constraints[i].
absl::Status ValidateConstraint(const v1::Constraint& c, int i) {
  const std::string path = absl::StrCat("constraints[", i, "]");
  if (!IsConstraintField(c.field())) {
    return Invalid(absl::StrCat(path, ".field"),
                   c.field().empty() ? std::string("required")
                                     : absl::StrCat(Quote(c.field()),
                                                    " is not \"hostname\" or an attribute name"));
  }
  const std::string value_path = absl::StrCat(path, ".value");
  if (c.value().size() > kMaxConstraintValueBytes) {
    return Invalid(value_path, absl::StrCat("longer than ", kMaxConstraintValueBytes, " bytes"));
  }
  if (!v1::Constraint::Operator_IsValid(c.operator_())) {
    return Invalid(absl::StrCat(path, ".operator"),
                   absl::StrCat("unknown operator ", static_cast<int>(c.operator_())));
  }
  const std::string op = v1::Constraint::Operator_Name(c.operator_());
  switch (c.operator_()) {
    case v1::Constraint::OPERATOR_UNSPECIFIED:
      return Invalid(absl::StrCat(path, ".operator"),
                     "required: UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE or MAX_PER");
    case v1::Constraint::UNIQUE:
      if (!c.value().empty()) return Invalid(value_path, "UNIQUE takes no value");
      break;
    case v1::Constraint::CLUSTER:
      // Empty: the value of the first task placed.
      break;
    case v1::Constraint::GROUP_BY:
      if (!c.value().empty() && !ParsePositiveInt(c.value())) {
        return Invalid(value_path,
                       "GROUP_BY needs no value or a positive integer (the number of groups)");
      }
      break;
    case v1::Constraint::LIKE:
    case v1::Constraint::UNLIKE: {
      if (c.value().empty()) {
        return Invalid(value_path, absl::StrCat(op, " needs a regex"));
      }
      RE2::Options options;
      options.set_log_errors(false);
      RE2 regex(c.value(), options);
      if (!regex.ok()) {
        return Invalid(value_path,
                       absl::StrCat(op, " needs a valid regex (RE2 syntax): ", regex.error()));
      }
      break;
    }
    case v1::Constraint::MAX_PER:
      if (!ParsePositiveInt(c.value()))
        return Invalid(value_path, "MAX_PER needs a positive integer");
      break;
    case v1::Constraint_Operator_Constraint_Operator_INT_MIN_SENTINEL_DO_NOT_USE_:
    case v1::Constraint_Operator_Constraint_Operator_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;  // not reachable: Operator_IsValid above
  }
  return absl::OkStatus();
}

// Each constraint's first problem.
void ValidateConstraints(const v1::ServiceSpec& spec, Errors& errors) {
  const auto& constraints = spec.constraints();
  if (constraints.size() > kMaxConstraints) {
    errors.Add(Invalid("constraints", absl::StrCat("more than ", kMaxConstraints, " constraints")));
    return;
  }
  for (int i = 0; i < constraints.size(); ++i) errors.Add(ValidateConstraint(constraints[i], i));
}

absl::Status ValidateKillGracePeriod(const v1::ServiceSpec& spec) {
  if (!spec.has_kill_grace_period()) return absl::OkStatus();
  std::optional<absl::Duration> d = FromProto(spec.kill_grace_period());
  if (!d) return Invalid("kill_grace_period", "not a valid duration");
  if (*d < absl::ZeroDuration() || *d > kMaxKillGracePeriod) {
    return Invalid(
        "kill_grace_period",
        absl::StrCat("must be in [0s, ", absl::FormatDuration(kMaxKillGracePeriod), "]"));
  }
  return absl::OkStatus();
}

// unreachable_strategy: each set duration in [0s, 7d]; expunge_after not
// before inactive_after.
void ValidateUnreachableStrategy(const v1::ServiceSpec& spec, Errors& errors) {
  if (!spec.has_unreachable_strategy()) return;
  const v1::UnreachableStrategy& strategy = spec.unreachable_strategy();
  const auto check = [&](bool set, const google::protobuf::Duration& value,
                         absl::string_view field) -> std::optional<absl::Duration> {
    if (!set) return std::nullopt;
    const std::string path = absl::StrCat("unreachable_strategy.", field);
    std::optional<absl::Duration> d = FromProto(value);
    if (!d) {
      errors.Add(Invalid(path, "not a valid duration"));
      return std::nullopt;
    }
    if (*d < absl::ZeroDuration() || *d > kMaxUnreachableWait) {
      errors.Add(Invalid(
          path, absl::StrCat("must be in [0s, ", absl::FormatDuration(kMaxUnreachableWait), "]")));
      return std::nullopt;
    }
    return d;
  };
  std::optional<absl::Duration> inactive =
      check(strategy.has_inactive_after(), strategy.inactive_after(), "inactive_after");
  std::optional<absl::Duration> expunge =
      check(strategy.has_expunge_after(), strategy.expunge_after(), "expunge_after");
  if (inactive && expunge && *expunge < *inactive) {
    errors.Add(Invalid("unreachable_strategy.expunge_after",
                       absl::StrCat("must be >= inactive_after (", absl::FormatDuration(*inactive),
                                    "), not ", absl::FormatDuration(*expunge))));
  }
}

// backoff.initial or backoff.max (set): a valid duration, at most kMaxBackoff.
absl::StatusOr<absl::Duration> BackoffDuration(const google::protobuf::Duration& value,
                                               absl::string_view path) {
  std::optional<absl::Duration> d = FromProto(value);
  if (!d) return Invalid(path, "not a valid duration");
  if (*d > kMaxBackoff) {
    return Invalid(path, absl::StrCat("must be <= ", absl::FormatDuration(kMaxBackoff)));
  }
  return *d;
}

// initial, factor and max each on their own.
// fetch[i]: a URI the Mesos fetcher takes, and a safe name in the sandbox.
absl::Status ValidateFetchUri(const v1::FetchUri& fetch, int i) {
  const std::string path = absl::StrCat("fetch[", i, "]");
  const std::string& uri = fetch.uri();
  if (uri.empty()) return Invalid(absl::StrCat(path, ".uri"), "required");
  if (uri.size() > kMaxFetchUriBytes) {
    return Invalid(absl::StrCat(path, ".uri"),
                   absl::StrCat("longer than ", kMaxFetchUriBytes, " characters"));
  }
  for (char c : uri) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return Invalid(absl::StrCat(path, ".uri"),
                     absl::StrCat(Quote(uri), " holds a space or a control character"));
    }
  }
  if (uri.front() != '/') {
    const size_t colon = uri.find("://");
    const std::string scheme =
        colon == std::string::npos ? "" : absl::AsciiStrToLower(uri.substr(0, colon));
    static const auto* kSchemes = new absl::flat_hash_set<std::string>{
        "http", "https", "ftp", "ftps", "hdfs", "s3", "s3a", "s3n", "file"};
    if (!kSchemes->contains(scheme)) {
      return Invalid(absl::StrCat(path, ".uri"),
                     absl::StrCat(Quote(uri),
                                  " is neither an absolute path nor an http, https, ftp, ftps, "
                                  "hdfs, s3, s3a, s3n or file URI"));
    }
    if (colon + 3 >= uri.size()) {
      return Invalid(absl::StrCat(path, ".uri"), absl::StrCat(Quote(uri), " names nothing"));
    }
  }
  if (fetch.executable() && fetch.has_extract() && fetch.extract()) {
    return Invalid(path,
                   "executable and extract: an executable file is not extracted; "
                   "set extract: false");
  }
  const std::string& out = fetch.output_file();
  if (!out.empty()) {
    const std::string out_path = absl::StrCat(path, ".output_file");
    if (out.size() > 255) return Invalid(out_path, "longer than 255 characters");
    if (out.front() == '/') {
      return Invalid(out_path,
                     absl::StrCat(Quote(out), " is absolute: name a file in the sandbox"));
    }
    for (absl::string_view part : absl::StrSplit(out, '/')) {
      if (part == "..") {
        return Invalid(out_path, absl::StrCat(Quote(out), " leaves the sandbox (..)"));
      }
    }
    for (char c : out) {
      if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) {
        return Invalid(out_path, absl::StrCat(Quote(out), " holds a control character"));
      }
    }
  }
  return absl::OkStatus();
}

void ValidateFetch(const v1::ServiceSpec& spec, Errors& errors) {
  const auto& fetch = spec.fetch();
  if (fetch.size() > kMaxFetchUris) {
    errors.Add(Invalid("fetch", absl::StrCat("more than ", kMaxFetchUris, " URIs")));
    return;
  }
  for (int i = 0; i < fetch.size(); ++i) errors.Add(ValidateFetchUri(fetch[i], i));
}

void ValidateBackoff(const v1::ServiceSpec& spec, Errors& errors) {
  if (!spec.has_backoff()) return;
  const v1::BackoffPolicy& backoff = spec.backoff();
  std::optional<absl::Duration> initial = kDefaultBackoffInitial;  // nullopt: invalid
  if (backoff.has_initial()) {
    absl::StatusOr<absl::Duration> d = BackoffDuration(backoff.initial(), "backoff.initial");
    if (d.ok() && *d <= absl::ZeroDuration()) d = Invalid("backoff.initial", "must be > 0");
    errors.Add(d.status());
    initial = d.ok() ? std::optional<absl::Duration>(*d) : std::nullopt;
  }
  // 0 reads as unset (proto3 scalar): the default applies.
  if (backoff.factor() != 0) {
    if (std::isnan(backoff.factor()) || backoff.factor() < 1 ||
        backoff.factor() > kMaxBackoffFactor) {
      errors.Add(Invalid("backoff.factor",
                         absl::StrCat("must be in [1, ", FormatNumber(kMaxBackoffFactor), "]")));
    }
  }
  if (backoff.has_max()) {
    absl::StatusOr<absl::Duration> d = BackoffDuration(backoff.max(), "backoff.max");
    // An invalid initial is no bound to compare with.
    if (d.ok() && initial && *d < *initial)
      d = Invalid("backoff.max", "must be >= backoff.initial");
    errors.Add(d.status());
  }
}

// no whitespace, '/' or DEL. Control characters are refused too.
absl::Status ValidateRole(absl::string_view role) {
  if (role.empty() || role == "*") return absl::OkStatus();
  const auto bad = [&](absl::string_view why) {
    return Invalid("role", absl::StrCat(Quote(role), " is not a Mesos role: ", why));
  };
  if (role.size() > 255) return bad("longer than 255 characters");
  if (role.front() == '/' || role.back() == '/') return bad("starts or ends with '/'");
  for (absl::string_view component : absl::StrSplit(role, '/')) {
    if (component.empty()) return bad("contains '//'");
    if (component == "." || component == ".." || component == "*") {
      return bad(absl::StrCat("a component is ", Quote(component)));
    }
    if (component.front() == '-') return bad("a component starts with '-'");
    for (char c : component) {
      if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
        return bad("contains whitespace or a control character");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace validation_internal {

// Names the top-level field that takes the most of a too large spec's bytes.
absl::Status SpecTooLarge(const v1::ServiceSpec& spec) {
  const size_t size = spec.ByteSizeLong();
  v1::ServiceSpec rest = spec;
  v1::ServiceSpec holder;
  const google::protobuf::Reflection* reflection = rest.GetReflection();
  const google::protobuf::Descriptor* descriptor = rest.GetDescriptor();
  std::string largest = "spec";  // not kept: some field holds the bytes
  size_t largest_bytes = 0;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    // A field's share is what the spec loses without it; swapped out and
    // back rather than copied (it may be a MiB).
    reflection->SwapFields(&rest, &holder, {field});
    const size_t bytes = size - rest.ByteSizeLong();
    reflection->SwapFields(&rest, &holder, {field});
    if (bytes > largest_bytes) {
      largest = field->name();
      largest_bytes = bytes;
    }
  }
  return Invalid(largest, absl::StrCat(largest_bytes, " of the spec's ", size,
                                       " bytes (a spec may have at most ", kMaxSpecBytes, ")"));
}

}  // namespace validation_internal

absl::Status AboveLimit(absl::string_view field, uint64_t max, uint64_t value) {
  return Invalid(field, absl::StrCat("must be <= ", max, ", not ", value));
}

absl::Status ValidateServiceSpec(const v1::ServiceSpec& spec, absl::string_view field_prefix) {
  Errors errors(field_prefix);
  if (spec.ByteSizeLong() > kMaxSpecBytes) {
    // The rest is not looked at: the spec is refused whatever it holds.
    errors.Add(validation_internal::SpecTooLarge(spec));
    return errors.ToStatus();
  }
  errors.Add(ValidateName(spec.name()));
  errors.Add(ValidateCommand(spec));
  errors.Add(ValidateContainer(spec));
  ValidateResources(spec, errors);
  ValidatePorts(spec, errors);
  if (spec.instances() > kMaxInstances) {
    errors.Add(AboveLimit("instances", kMaxInstances, spec.instances()));
  }
  ValidateEnv(spec, errors);
  validation_internal::ValidateSecrets(spec, errors);
  validation_internal::ValidateVolumes(spec, errors);
  validation_internal::ValidateNetworks(spec, errors);
  ValidateLabels(spec, errors);
  ValidateConstraints(spec, errors);
  ValidateFetch(spec, errors);
  errors.Add(ValidateKillGracePeriod(spec));
  ValidateUnreachableStrategy(spec, errors);
  ValidateBackoff(spec, errors);
  errors.Add(ValidateRole(spec.role()));
  ValidateHealthCheck(spec, errors);
  ValidateReadinessCheck(spec, errors);
  ValidateUpgradeStrategy(spec, errors);
  return errors.ToStatus();
}

v1::ServiceSpec WithDefaults(v1::ServiceSpec spec) {
  if (!spec.has_kill_grace_period()) {
    ToProto(kDefaultKillGracePeriod, spec.mutable_kill_grace_period());
  }
  v1::BackoffPolicy* backoff = spec.mutable_backoff();
  if (!backoff->has_initial()) ToProto(kDefaultBackoffInitial, backoff->mutable_initial());
  if (backoff->factor() == 0) backoff->set_factor(kDefaultBackoffFactor);
  if (!backoff->has_max()) {
    // An initial delay longer than the default maximum stays valid.
    std::optional<absl::Duration> initial = FromProto(backoff->initial());
    ToProto(initial && *initial > kDefaultBackoffMax ? *initial : kDefaultBackoffMax,
            backoff->mutable_max());
  }
  for (v1::PortSpec& port : *spec.mutable_ports()) {
    if (port.protocol().empty()) port.set_protocol("tcp");
  }
  validation_internal::AddCheckAndStrategyDefaults(spec);
  return spec;
}

}  // namespace mast
