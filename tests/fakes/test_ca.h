#pragma once

// A certificate authority for TLS tests: issues P-256 certificates with
// the names, SANs and validity a test asks for, as PEM. Not thread-safe.

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mast::testing {

struct PemPair {
  std::string cert;  // PEM certificate
  std::string key;   // PEM private key (unencrypted)
};

class TestCa {
 public:
  // A self-signed CA named `name`, valid from a day ago for ten years.
  explicit TestCa(const std::string& name);

  struct Leaf {
    std::string common_name;
    // "DNS:localhost", "IP:127.0.0.1", "URI:spiffe://mast/r0", in order.
    std::vector<std::string> subject_alt_names;
    // Valid from not_before for `valid_for` (a test makes an expired one
    // with not_before in the past).
    absl::Time not_before = absl::Now() - absl::Hours(1);
    absl::Duration valid_for = absl::Hours(24);
  };
  // A certificate signed by this CA, usable by servers and clients.
  PemPair Issue(const Leaf& leaf) const;

  const PemPair& ca() const { return ca_; }

 private:
  PemPair ca_;
};

// Writes `text` to `path` (replacing it through a rename, as a Secret
// update does); false on error.
bool WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace mast::testing
