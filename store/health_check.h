#pragma once

#include <cstdint>
#include <optional>

#include "mast/v1/service.pb.h"

namespace mast {

// The index, in spec.ports, of the port a network check (`check`: a
// HealthCheck or a ReadinessCheck, which share the port fields) checks: by
// port_name, by port_index, or the first port. nullopt when the spec has
// no such port (validation refuses that) or the check's protocol needs no
// port (COMMAND, unspecified).
template <typename Check>
std::optional<int> CheckPortIndex(const v1::ServiceSpec& spec, const Check& check) {
  if (check.protocol() == Check::COMMAND || check.protocol() == Check::PROTOCOL_UNSPECIFIED) {
    return std::nullopt;
  }
  switch (check.port_case()) {
    case Check::kPortName:
      for (int i = 0; i < spec.ports_size(); ++i) {
        if (spec.ports(i).name() == check.port_name()) return i;
      }
      return std::nullopt;
    case Check::kPortIndex:
      if (check.port_index() < static_cast<uint32_t>(spec.ports_size())) {
        return static_cast<int>(check.port_index());
      }
      return std::nullopt;
    case Check::PORT_NOT_SET:
      break;
  }
  if (spec.ports_size() == 0) return std::nullopt;
  return 0;
}

// The port spec.health_check (HTTP, HTTPS, TCP) checks; see CheckPortIndex.
inline std::optional<int> HealthCheckPortIndex(const v1::ServiceSpec& spec) {
  return CheckPortIndex(spec, spec.health_check());
}

// The port spec.readiness_check (HTTP, TCP) checks; see CheckPortIndex.
inline std::optional<int> ReadinessCheckPortIndex(const v1::ServiceSpec& spec) {
  return CheckPortIndex(spec, spec.readiness_check());
}

}  // namespace mast
