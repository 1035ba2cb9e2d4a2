// ServiceSpec validation of what the task brings into its container:
// secrets (and the variables set from them) and volumes (see
// api/validation.h).

#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "api/validation.h"
#include "api/validation_internal.h"
#include "store/networks.h"

namespace mast::validation_internal {
namespace {

bool IsSecretName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxSecretNameBytes) return false;
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

absl::Status ValidateSecret(absl::string_view name, const v1::Secret& secret) {
  const std::string path = absl::StrCat("secrets[", Quote(name), "]");
  if (!IsSecretName(name)) {
    return Invalid(path, absl::StrCat("name must match [A-Za-z0-9_.-]+ (at most ",
                                      kMaxSecretNameBytes, " characters)"));
  }
  switch (secret.source_case()) {
    case v1::Secret::kReference: {
      if (secret.redacted()) {
        return Invalid(path, "redacted with a reference: send one or the other");
      }
      const v1::SecretReference& reference = secret.reference();
      if (reference.name().empty()) return Invalid(path + ".reference.name", "required");
      if (reference.name().size() > 1024 || reference.key().size() > 1024) {
        return Invalid(path + ".reference", "name and key are at most 1024 characters");
      }
      return absl::OkStatus();
    }
    case v1::Secret::kValue:
      if (secret.redacted()) {
        return Invalid(path, "redacted with a value: send one or the other");
      }
      if (secret.value().empty()) return Invalid(path + ".value", "empty");
      if (secret.value().size() > kMaxSecretValueBytes) {
        return Invalid(path + ".value",
                       absl::StrCat("longer than ", kMaxSecretValueBytes, " bytes"));
      }
      return absl::OkStatus();
    case v1::Secret::SOURCE_NOT_SET:
      if (secret.redacted()) return absl::OkStatus();  // kept (UpdateService)
      return Invalid(path, "needs a reference or a value");
  }
  return Invalid(path, "unknown source");
}

// A path with no empty, "." or ".." component and no control character.
absl::Status ValidateVolumePath(absl::string_view value, const std::string& path,
                                bool relative_only) {
  if (value.empty()) return Invalid(path, "required");
  if (value.size() > kMaxVolumePathBytes) {
    return Invalid(path, absl::StrCat("longer than ", kMaxVolumePathBytes, " characters"));
  }
  if (relative_only && value.front() == '/') {
    return Invalid(path, absl::StrCat(Quote(value), " is absolute: name a path in the sandbox"));
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) {
      return Invalid(path, absl::StrCat(Quote(value), " holds a control character"));
    }
  }
  absl::string_view rest = value;
  if (rest.front() == '/') rest.remove_prefix(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return Invalid(path, absl::StrCat(Quote(value), " is the root"));
  for (absl::string_view part : absl::StrSplit(rest, '/')) {
    if (part == "..") return Invalid(path, absl::StrCat(Quote(value), " holds '..'"));
    if (part.empty() || part == ".") {
      return Invalid(path, absl::StrCat(Quote(value), " holds an empty or '.' component"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateVolume(const v1::ServiceSpec& spec, const v1::Volume& volume, int i,
                            std::set<std::string>& container_paths) {
  const std::string path = absl::StrCat("volumes[", i, "]");
  if (absl::Status status =
          ValidateVolumePath(volume.container_path(), path + ".container_path", false);
      !status.ok()) {
    return status;
  }
  std::string normalized = volume.container_path();
  while (normalized.size() > 1 && normalized.back() == '/') normalized.pop_back();
  if (!container_paths.insert(normalized).second) {
    return Invalid(path + ".container_path",
                   absl::StrCat(Quote(volume.container_path()), " is used by another volume"));
  }
  switch (volume.source_case()) {
    case v1::Volume::kHostPath:
      if (!volume.host_path().empty() && volume.host_path().front() != '/') {
        return Invalid(path + ".host_path",
                       absl::StrCat(Quote(volume.host_path()), " is not absolute"));
      }
      return ValidateVolumePath(volume.host_path(), path + ".host_path", false);
    case v1::Volume::kSandboxPath:
      if (volume.container_path().front() != '/') {
        return Invalid(path + ".container_path",
                       absl::StrCat(Quote(volume.container_path()),
                                    " is relative: a sandbox_path volume is mounted at an "
                                    "absolute path (Mesos refuses a relative one)"));
      }
      return ValidateVolumePath(volume.sandbox_path(), path + ".sandbox_path", true);
    case v1::Volume::kSecret:
      if (!spec.secrets().contains(volume.secret())) {
        return Invalid(path + ".secret",
                       absl::StrCat(Quote(volume.secret()), " is not in secrets"));
      }
      if (!volume.read_only()) {
        return Invalid(path + ".read_only", "a secret volume is read-only: set read_only");
      }
      return absl::OkStatus();
    case v1::Volume::SOURCE_NOT_SET:
      return Invalid(path, "needs a source: host_path, sandbox_path or secret");
  }
  return Invalid(path, "unknown source");
}

bool IsNetworkName(absl::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

absl::Status ValidateNetwork(const v1::Network& network, int i, int count,
                             std::set<std::string>& names) {
  const std::string path = absl::StrCat("networks[", i, "]");
  switch (network.mode()) {
    case v1::Network::MODE_UNSPECIFIED:
    case v1::Network::HOST:
      if (count > 1) return Invalid(path + ".mode", "HOST is the only network when given");
      if (!network.name().empty() || !network.labels().empty()) {
        return Invalid(path, "a HOST network has no name or labels");
      }
      return absl::OkStatus();
    case v1::Network::CONTAINER:
      if (!IsNetworkName(network.name())) {
        return Invalid(path + ".name",
                       absl::StrCat(Quote(network.name()),
                                    " is not a network name ([A-Za-z0-9_.-], 1-63 characters)"));
      }
      if (!names.insert(network.name()).second) {
        return Invalid(path + ".name", absl::StrCat("duplicate ", Quote(network.name())));
      }
      if (network.labels_size() > 32) return Invalid(path + ".labels", "more than 32 labels");
      for (const auto& [key, value] : network.labels()) {
        if (key.empty() || key.size() > 255 || value.size() > 1024) {
          return Invalid(absl::StrCat(path, ".labels[", Quote(key), "]"),
                         "keys are 1-255 characters, values at most 1024");
        }
      }
      return absl::OkStatus();
    default:
      return Invalid(path + ".mode", absl::StrCat("unknown mode ", network.mode()));
  }
}

}  // namespace

void ValidateNetworks(const v1::ServiceSpec& spec, Errors& errors) {
  constexpr int kMaxNetworks = 8;
  if (spec.networks_size() > kMaxNetworks) {
    errors.Add(Invalid("networks", absl::StrCat("more than ", kMaxNetworks, " networks")));
    return;
  }
  std::set<std::string> names;
  for (int i = 0; i < spec.networks_size(); ++i) {
    errors.Add(ValidateNetwork(spec.networks(i), i, spec.networks_size(), names));
  }
  const bool container = OnContainerNetwork(spec);
  std::set<uint32_t> container_ports;
  for (int i = 0; i < spec.ports_size(); ++i) {
    const v1::PortSpec& port = spec.ports(i);
    const std::string path = absl::StrCat("ports[", i, "]");
    if (!container && (port.container_port() != 0 || port.container_only())) {
      errors.Add(Invalid(path + (port.container_only() ? ".container_only" : ".container_port"),
                         "needs a CONTAINER network (the task is on the host's)"));
      continue;
    }
    if (port.container_port() > 65535) {
      errors.Add(Invalid(path + ".container_port",
                         absl::StrCat(port.container_port(), " is not a port in 1..65535")));
      continue;
    }
    if (port.container_only() && port.container_port() == 0) {
      errors.Add(Invalid(path + ".container_port",
                         "required with container_only (there is no host port to reuse)"));
      continue;
    }
    if (port.container_only() && port.number() != 0) {
      errors.Add(Invalid(path + ".number", "a container_only port takes no host port"));
      continue;
    }
    if (port.container_port() != 0 && !container_ports.insert(port.container_port()).second) {
      errors.Add(
          Invalid(path + ".container_port", absl::StrCat("duplicate ", port.container_port())));
    }
  }
}

void ValidateSecrets(const v1::ServiceSpec& spec, Errors& errors) {
  if (spec.secrets_size() > kMaxSecrets) {
    errors.Add(Invalid("secrets", absl::StrCat("more than ", kMaxSecrets, " secrets")));
  } else {
    // Sorted, so that the errors come in the same order every time.
    const std::map<std::string, const v1::Secret*> secrets = [&] {
      std::map<std::string, const v1::Secret*> sorted;
      for (const auto& [name, secret] : spec.secrets()) sorted.emplace(name, &secret);
      return sorted;
    }();
    for (const auto& [name, secret] : secrets) errors.Add(ValidateSecret(name, *secret));
  }
  const std::map<std::string, std::string> secret_env(spec.secret_env().begin(),
                                                      spec.secret_env().end());
  if (secret_env.size() > static_cast<size_t>(kMaxEnvVars)) {
    errors.Add(Invalid("secret_env", absl::StrCat("more than ", kMaxEnvVars, " variables")));
    return;
  }
  for (const auto& [variable, secret] : secret_env) {
    const std::string path = absl::StrCat("secret_env[", Quote(variable), "]");
    if (!IsEnvName(variable)) {
      errors.Add(Invalid(path, "name must match [A-Za-z_][A-Za-z0-9_]* (at most 255 characters)"));
    } else if (IsReservedEnvName(variable)) {
      errors.Add(Invalid(path,
                         "reserved: Mast sets PORT, PORTS, PORT<n>, PORT_* and MAST_*, "
                         "Mesos sets MESOS_*"));
    } else if (spec.env().contains(variable)) {
      errors.Add(Invalid(path, "also set in env: a variable comes from one or the other"));
    } else if (!spec.secrets().contains(secret)) {
      errors.Add(Invalid(path, absl::StrCat(Quote(secret), " is not in secrets")));
    }
  }
}

void ValidateVolumes(const v1::ServiceSpec& spec, Errors& errors) {
  if (spec.volumes_size() > kMaxVolumes) {
    errors.Add(Invalid("volumes", absl::StrCat("more than ", kMaxVolumes, " volumes")));
    return;
  }
  std::set<std::string> container_paths;
  for (int i = 0; i < spec.volumes_size(); ++i) {
    errors.Add(ValidateVolume(spec, spec.volumes(i), i, container_paths));
  }
}

}  // namespace mast::validation_internal
