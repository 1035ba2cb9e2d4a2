#pragma once

// mast_tls_certificate_expiry_timestamp_seconds{file,use}: the notAfter of
// each certificate a replica serves or presents, read from disk on every
// scrape, so that a renewed certificate shows at once and an alert can
// fire days before one lapses. A file that cannot be read is left out
// (and counted in mast_tls_certificate_read_errors gauge = 1 for it).

#include <string>
#include <utility>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace mast::tls {

class CertificateMetrics final : public prometheus::Collectable {
 public:
  // (use, path): e.g. ("server", "/etc/mast/tls/tls.crt"), ("client_ca", ...).
  explicit CertificateMetrics(std::vector<std::pair<std::string, std::string>> files)
      : files_(std::move(files)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::vector<std::pair<std::string, std::string>> files_;
};

}  // namespace mast::tls
