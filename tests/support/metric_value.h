#pragma once

// Reads one sample of a prometheus-cpp registry in tests.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "prometheus/registry.h"

namespace mast::testing {

// The value of the counter or gauge `name` whose labels include every one of
// `labels`; -1 when no such sample exists (so a test can tell "never
// counted" from 0).
inline double MetricValue(prometheus::Registry& registry, const std::string& name,
                          const std::map<std::string, std::string>& labels = {}) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      size_t matched = 0;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        auto it = labels.find(label.name);
        if (it != labels.end() && it->second == label.value) ++matched;
      }
      if (matched != labels.size()) continue;
      return family.type == prometheus::MetricType::Gauge ? metric.gauge.value
                                                          : metric.counter.value;
    }
  }
  return -1;
}

// The sample count and sum of the histogram `name` whose labels include
// every one of `labels`; nullopt when no such histogram exists.
struct HistogramValue {
  uint64_t count = 0;
  double sum = 0;
};
inline std::optional<HistogramValue> HistogramOf(
    prometheus::Registry& registry, const std::string& name,
    const std::map<std::string, std::string>& labels = {}) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      size_t matched = 0;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        auto it = labels.find(label.name);
        if (it != labels.end() && it->second == label.value) ++matched;
      }
      if (matched != labels.size()) continue;
      return HistogramValue{metric.histogram.sample_count, metric.histogram.sample_sum};
    }
  }
  return std::nullopt;
}

}  // namespace mast::testing
