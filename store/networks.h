#pragma once

// How a spec's ports meet its networks; shared by validation, offer
// matching and the TaskInfo. Pure functions.

#include <cstdint>

#include "mast/v1/service.pb.h"

namespace mast {

// The task joins a container network: it has an address of its own and its
// ports are mapped from host ports.
inline bool OnContainerNetwork(const v1::ServiceSpec& spec) {
  for (const v1::Network& network : spec.networks()) {
    if (network.mode() == v1::Network::CONTAINER) return true;
  }
  return false;
}

// The port takes a host port from the offer (all do, but a container-only
// port of a container network).
inline bool TakesHostPort(const v1::PortSpec& port) { return !port.container_only(); }

// The port the task listens on, given the host port it got (0: none): the
// container port where one is set, else the host port.
inline uint32_t TaskPort(const v1::PortSpec& port, uint32_t host_port) {
  return port.container_port() != 0 ? port.container_port() : host_port;
}

}  // namespace mast
