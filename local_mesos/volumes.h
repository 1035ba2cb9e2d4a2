#pragma once

// The local master's stand-in for an agent's filesystem/posix,
// volume/sandbox_path and volume/secret isolators and its default secret
// resolver: makes a task's ContainerInfo.volumes appear in its sandbox and
// resolves its secrets, before the command starts.
//
// Without a root filesystem to mount into, every volume appears at a path
// relative to the sandbox, as Mesos' posix isolators make it: a host path
// and a sandbox path as a symbolic link, a secret as a file (mode 0400).
// An absolute container_path is refused, as filesystem/posix refuses it
// (it needs filesystem/linux). As Mesos' default secret resolver, only
// VALUE secrets resolve; a REFERENCE needs a secret resolver module, so it
// fails the launch. Read-only is not enforced (a link cannot be).
//
// Threads: blocking; the caller's (the local master's control loop).

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mesos/v1/mesos.pb.h"

namespace mast::local {

// Volumes of `container` into `sandbox` (which exists).
absl::Status PrepareVolumes(const ::mesos::v1::ContainerInfo& container,
                            const std::string& sandbox);

// The bytes of a secret as the default resolver gives them.
absl::StatusOr<std::string> ResolveSecret(const ::mesos::v1::Secret& secret);

// FAILED_PRECONDITION naming the variable when a SECRET variable of
// `environment` does not resolve (see ResolveSecret).
absl::Status CheckSecretEnvironment(const ::mesos::v1::Environment& environment);

}  // namespace mast::local
