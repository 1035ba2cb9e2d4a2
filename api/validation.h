#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mast/v1/service.pb.h"

namespace mast {

// Limits a ServiceSpec must respect. They keep one spec well below the
// ZooKeeper record size and a TaskInfo well below what Mesos and the kernel
// (ARG_MAX, MAX_ARG_STRLEN) accept.
inline constexpr size_t kMaxSpecBytes = 256 * 1024;  // serialized ServiceSpec
inline constexpr uint32_t kMaxInstances = 10000;
inline constexpr size_t kMaxCommandBytes = 64 * 1024;  // shell, or all argv together
inline constexpr int kMaxArgs = 4096;
inline constexpr int kMaxPorts = 64;
inline constexpr int kMaxEnvVars = 1024;
inline constexpr size_t kMaxEnvNameBytes = 255;
inline constexpr size_t kMaxEnvValueBytes = 32 * 1024;
inline constexpr size_t kMaxEnvTotalBytes = 128 * 1024;  // names + values
inline constexpr int kMaxLabels = 256;
inline constexpr size_t kMaxLabelValueBytes = 4096;
inline constexpr int kMaxConstraints = 32;
inline constexpr int kMaxFetchUris = 64;
inline constexpr int kMaxSecrets = 32;
inline constexpr size_t kMaxSecretNameBytes = 63;
inline constexpr size_t kMaxSecretValueBytes = 64 * 1024;
inline constexpr int kMaxVolumes = 32;
inline constexpr size_t kMaxVolumePathBytes = 255;
inline constexpr absl::Duration kMaxUnreachableWait = absl::Hours(24 * 7);
inline constexpr size_t kMaxFetchUriBytes = 4096;
inline constexpr size_t kMaxConstraintValueBytes = 1024;
inline constexpr double kMaxCpus = 4096;
inline constexpr double kMaxMemMib = 16.0 * 1024 * 1024;     // 16 TiB
inline constexpr double kMaxDiskMib = 1024.0 * 1024 * 1024;  // 1 PiB
inline constexpr double kMinMemMib = 4;
inline constexpr uint32_t kMaxGpus = 128;
inline constexpr absl::Duration kMaxKillGracePeriod = absl::Minutes(10);
inline constexpr double kMaxBackoffFactor = 100;
inline constexpr absl::Duration kMaxBackoff = absl::Hours(24);

// Defaults a Marathon user expects, applied by WithDefaults.
inline constexpr absl::Duration kDefaultKillGracePeriod = absl::Seconds(3);
inline constexpr absl::Duration kDefaultBackoffInitial = absl::Seconds(1);
inline constexpr double kDefaultBackoffFactor = 1.15;
inline constexpr absl::Duration kDefaultBackoffMax = absl::Seconds(300);
// Health checks: Marathon's defaults, and Mesos' delay.
inline constexpr absl::Duration kDefaultHealthGracePeriod = absl::Seconds(300);
inline constexpr absl::Duration kDefaultHealthInterval = absl::Seconds(60);
inline constexpr absl::Duration kDefaultHealthTimeout = absl::Seconds(20);
inline constexpr uint32_t kDefaultHealthConsecutiveFailures = 3;
inline constexpr absl::Duration kDefaultHealthDelay = absl::Seconds(15);
inline constexpr absl::Duration kMaxHealthCheckDuration = absl::Hours(1);
inline constexpr uint32_t kMaxHealthConsecutiveFailures = 100;
inline constexpr size_t kMaxHealthCheckPathBytes = 1024;
// Readiness checks (Mesos' CheckInfo defaults; the same bounds as health checks).
inline constexpr absl::Duration kDefaultReadinessInterval = absl::Seconds(10);
inline constexpr absl::Duration kDefaultReadinessTimeout = absl::Seconds(10);
inline constexpr absl::Duration kDefaultReadinessDelay = absl::ZeroDuration();
// Upgrade strategies (Marathon's defaults).
inline constexpr double kDefaultMinimumHealthCapacity = 1;
inline constexpr double kDefaultMaximumOverCapacity = 1;
inline constexpr absl::Duration kDefaultProgressDeadline = absl::Seconds(600);
inline constexpr uint32_t kDefaultFailureThreshold = 3;
inline constexpr absl::Duration kMaxProgressDeadline = absl::Hours(24 * 7);
inline constexpr absl::Duration kMaxMinReady = absl::Hours(1);
inline constexpr int kMaxRolloutSteps = 20;

// Environment variables Mast sets in every task (validation refuses them in
// ServiceSpec.env): PORT, PORTS, PORT<n>, PORT_<NAME>, MAST_*; Mesos sets MESOS_*.
// HOST is set too, but a HOST in ServiceSpec.env wins (as in Marathon).
// Mesos label keys Mast puts on every TaskInfo; the prefix is reserved in
// ServiceSpec.labels.
inline constexpr char kReservedLabelPrefix[] = "mast.io/";
inline constexpr char kServiceLabel[] = "mast.io/service";
inline constexpr char kVersionLabel[] = "mast.io/version";

// Checks every field of a spec as a client sent it. Fields left unset that
// WithDefaults fills are accepted (so a spec is valid exactly when
// WithDefaults(spec) is). Returns OK or one INVALID_ARGUMENT naming every
// invalid field, in field order, joined by "; ": each part starts with
// `field_prefix` and the field path, e.g. "name: required; resources.cpus:
// must be > 0", "ports[1].name: duplicate 'http'", "env['PORT0']: reserved
// ...". A field is named once, with its first problem; each port, env
// variable, label and constraint counts as a field (and a check's port,
// path and command together as one). A spec over kMaxSpecBytes gets only that problem, naming
// the top-level field that takes the most bytes ("env: 1048600 of the
// spec's 1048663 bytes (a spec may have at most 262144)"). User text quoted
// in messages is escaped and cut short.
//
// Constraint values that are regexes (LIKE, UNLIKE) must be RE2 syntax,
// matched against the whole value: the Java-only features Marathon allowed
// (backreferences, lookaround) are refused here rather than failing later.
absl::Status ValidateServiceSpec(const v1::ServiceSpec& spec, absl::string_view field_prefix = "");

// The one wording of a count over its limit, wherever it is checked:
// INVALID_ARGUMENT "<field>: must be <= <max>, not <value>".
absl::Status AboveLimit(absl::string_view field, uint64_t max, uint64_t value);

// Returns `spec` with the defaults filled in where a field is unset:
// kill_grace_period 3 s; backoff initial 1 s, factor 1.15 (when 0), max
// 300 s (or `initial` when that is longer); ports' protocol "tcp"; a health
// check's grace period 300 s, interval 60 s, timeout 20 s, 3 consecutive
// failures, delay 15 s and, for HTTP(S), path "/"; a readiness check's
// interval 10 s, timeout 10 s, delay 0 s and, for HTTP, path "/"; the
// upgrade strategy (always filled in): minimum_health_capacity 1,
// maximum_over_capacity 1, YOUNGEST_FIRST, progress_deadline 600 s and
// failure_threshold 3 (only when unset: 0 stays "never"). disk_mib
// already reads 0 when unset; instances and everything else are left as
// they are. Idempotent; does not validate.
v1::ServiceSpec WithDefaults(v1::ServiceSpec spec);

}  // namespace mast
