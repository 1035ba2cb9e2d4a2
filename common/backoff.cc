#include "common/backoff.h"

#include <algorithm>

#include "absl/random/distributions.h"

namespace mast {

absl::Status ValidateBackoffConfig(const BackoffConfig& config) {
  if (config.initial <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("backoff.initial: must be > 0");
  }
  if (config.max < config.initial) {
    return absl::InvalidArgumentError("backoff.max: must be >= backoff.initial");
  }
  if (!(config.multiplier >= 1.0)) {
    return absl::InvalidArgumentError("backoff.multiplier: must be >= 1");
  }
  if (!(config.jitter >= 0.0 && config.jitter <= 1.0)) {
    return absl::InvalidArgumentError("backoff.jitter: must be in [0, 1]");
  }
  return absl::OkStatus();
}

Backoff::Backoff(BackoffConfig config) : config_(config), current_(config.initial) {}

absl::Duration Backoff::Next(absl::BitGenRef gen) {
  absl::Duration base = current_;
  ++failures_;
  current_ = std::min(config_.max, current_ * config_.multiplier);
  if (config_.jitter <= 0.0) return base;
  double keep = 1.0 - config_.jitter * absl::Uniform(gen, 0.0, 1.0);
  return base * keep;
}

void Backoff::Reset() {
  current_ = config_.initial;
  failures_ = 0;
}

}  // namespace mast
