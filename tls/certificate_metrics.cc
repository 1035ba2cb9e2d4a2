#include "tls/certificate_metrics.h"

#include "tls/tls_files.h"

namespace mast::tls {

std::vector<prometheus::MetricFamily> CertificateMetrics::Collect() const {
  prometheus::MetricFamily expiry;
  expiry.name = "mast_tls_certificate_expiry_timestamp_seconds";
  expiry.help = "notAfter (Unix seconds) of the first certificate of each TLS file in use.";
  expiry.type = prometheus::MetricType::Gauge;
  prometheus::MetricFamily unreadable;
  unreadable.name = "mast_tls_certificate_unreadable";
  unreadable.help = "1 when a TLS certificate file in use cannot be read or parsed.";
  unreadable.type = prometheus::MetricType::Gauge;
  for (const auto& [use, path] : files_) {
    std::vector<prometheus::ClientMetric::Label> labels = {{"file", path}, {"use", use}};
    absl::StatusOr<absl::Time> not_after = CertificateNotAfter(path);
    prometheus::ClientMetric bad;
    bad.label = labels;
    bad.gauge.value = not_after.ok() ? 0 : 1;
    unreadable.metric.push_back(bad);
    if (!not_after.ok()) continue;
    prometheus::ClientMetric metric;
    metric.label = std::move(labels);
    metric.gauge.value = static_cast<double>(absl::ToUnixSeconds(*not_after));
    expiry.metric.push_back(std::move(metric));
  }
  return {std::move(expiry), std::move(unreadable)};
}

}  // namespace mast::tls
