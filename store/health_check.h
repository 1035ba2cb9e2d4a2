#pragma once

#include <optional>

#include "mast/v1/service.pb.h"

namespace mast {

// The index, in spec.ports, of the port a health check of the HTTP, HTTPS or
// TCP protocol checks: by port_name, by port_index, or the first port.
// nullopt when the spec has no such port (validation refuses that) or the
// check's protocol needs no port.
inline std::optional<int> HealthCheckPortIndex(const v1::ServiceSpec& spec) {
  const v1::HealthCheck& check = spec.health_check();
  if (check.protocol() == v1::HealthCheck::COMMAND ||
      check.protocol() == v1::HealthCheck::PROTOCOL_UNSPECIFIED) {
    return std::nullopt;
  }
  switch (check.port_case()) {
    case v1::HealthCheck::kPortName:
      for (int i = 0; i < spec.ports_size(); ++i) {
        if (spec.ports(i).name() == check.port_name()) return i;
      }
      return std::nullopt;
    case v1::HealthCheck::kPortIndex:
      if (check.port_index() < static_cast<uint32_t>(spec.ports_size())) {
        return static_cast<int>(check.port_index());
      }
      return std::nullopt;
    case v1::HealthCheck::PORT_NOT_SET:
      break;
  }
  if (spec.ports_size() == 0) return std::nullopt;
  return 0;
}

// The same for the readiness check (HTTP or TCP): the index in spec.ports of
// the port it checks; nullopt for COMMAND, an unset protocol, or no such port.
inline std::optional<int> ReadinessCheckPortIndex(const v1::ServiceSpec& spec) {
  const v1::ReadinessCheck& check = spec.readiness_check();
  if (check.protocol() != v1::ReadinessCheck::HTTP && check.protocol() != v1::ReadinessCheck::TCP) {
    return std::nullopt;
  }
  switch (check.port_case()) {
    case v1::ReadinessCheck::kPortName:
      for (int i = 0; i < spec.ports_size(); ++i) {
        if (spec.ports(i).name() == check.port_name()) return i;
      }
      return std::nullopt;
    case v1::ReadinessCheck::kPortIndex:
      if (check.port_index() < static_cast<uint32_t>(spec.ports_size())) {
        return static_cast<int>(check.port_index());
      }
      return std::nullopt;
    case v1::ReadinessCheck::PORT_NOT_SET:
      break;
  }
  if (spec.ports_size() == 0) return std::nullopt;
  return 0;
}

}  // namespace mast
