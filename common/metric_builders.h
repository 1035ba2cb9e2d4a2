#pragma once

#include <string>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace mast {

// A counter or gauge without labels, registered in `registry` (which owns
// it and must outlive every use).
prometheus::Counter& NewCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help);
prometheus::Gauge& NewGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help);

}  // namespace mast
