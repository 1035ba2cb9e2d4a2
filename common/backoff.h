#pragma once

#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mast {

// Capped exponential backoff with full jitter ("decorrelated" retries never
// line up across replicas). Pure value type: not thread-safe, no I/O.
struct BackoffConfig {
  absl::Duration initial = absl::Milliseconds(100);  // first delay's upper bound
  absl::Duration max = absl::Seconds(15);            // cap on any delay
  double multiplier = 2.0;                           // growth per failure, >= 1
  double jitter = 0.5;  // fraction of each delay drawn at random, in [0, 1]
};

// Checks the fields' ranges.
absl::Status ValidateBackoffConfig(const BackoffConfig& config);

class Backoff {
 public:
  // `config` must be valid (see ValidateBackoffConfig).
  explicit Backoff(BackoffConfig config);

  // The delay before the next attempt; each call grows the base delay.
  absl::Duration Next(absl::BitGenRef gen);
  // After a success: the next failure starts from `initial` again.
  void Reset();
  int failures() const { return failures_; }

 private:
  BackoffConfig config_;
  absl::Duration current_;
  int failures_ = 0;
};

}  // namespace mast
