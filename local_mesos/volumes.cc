#include "local_mesos/volumes.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace mast::local {
namespace {

namespace fs = std::filesystem;
using ::mesos::v1::Volume;

absl::Status Link(const fs::path& target, const fs::path& link) {
  std::error_code error;
  fs::create_directories(link.parent_path(), error);
  if (!error) fs::create_symlink(target, link, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot link ", link.string(), " to ", target.string(),
                                            ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status WriteSecretFile(const std::string& data, const fs::path& file) {
  std::error_code error;
  fs::create_directories(file.parent_path(), error);
  if (error)
    return absl::InternalError(absl::StrCat("cannot create ", file.parent_path().string()));
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", file.string()));
  }
  if (chmod(file.c_str(), 0400) != 0) {
    return absl::InternalError(absl::StrCat("cannot chmod ", file.string()));
  }
  return absl::OkStatus();
}

absl::Status PrepareVolume(const Volume& volume, const fs::path& sandbox) {
  const std::string& container_path = volume.container_path();
  if (container_path.empty() || container_path.front() == '/') {
    return absl::FailedPreconditionError(
        absl::StrCat("Absolute container path '", container_path,
                     "' is not supported by the 'filesystem/posix' isolator"));
  }
  const fs::path at = sandbox / container_path;
  if (volume.has_host_path()) return Link(volume.host_path(), at);
  if (!volume.has_source()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Volume '", container_path, "' has neither host_path nor source"));
  }
  const Volume::Source& source = volume.source();
  switch (source.type()) {
    case Volume::Source::SANDBOX_PATH: {
      if (source.sandbox_path().type() != Volume::Source::SandboxPath::SELF) {
        return absl::FailedPreconditionError(
            "SANDBOX_PATH volume of type PARENT needs a nested container");
      }
      const fs::path target = sandbox / source.sandbox_path().path();
      std::error_code error;
      fs::create_directories(target, error);
      if (error) return absl::InternalError(absl::StrCat("cannot create ", target.string()));
      if (at.lexically_normal() == target.lexically_normal()) return absl::OkStatus();
      return Link(target, at);
    }
    case Volume::Source::SECRET: {
      absl::StatusOr<std::string> data = ResolveSecret(source.secret());
      if (!data.ok()) return data.status();
      return WriteSecretFile(*data, at);
    }
    case Volume::Source::HOST_PATH:
      if (!source.has_host_path()) {
        return absl::FailedPreconditionError("HOST_PATH volume without host_path");
      }
      return Link(source.host_path().path(), at);
    default:
      return absl::FailedPreconditionError(absl::StrCat(
          "Volume source type ", Volume::Source::Type_Name(source.type()), " is not supported"));
  }
}

}  // namespace

absl::StatusOr<std::string> ResolveSecret(const ::mesos::v1::Secret& secret) {
  if (secret.type() == ::mesos::v1::Secret::VALUE && secret.has_value()) {
    return secret.value().data();
  }
  if (secret.type() == ::mesos::v1::Secret::REFERENCE) {
    return absl::FailedPreconditionError(
        "Failed to resolve secret: the default secret resolver cannot resolve a REFERENCE "
        "(the agent needs a secret resolver module)");
  }
  return absl::FailedPreconditionError("Failed to resolve secret: it has no value");
}

absl::Status CheckSecretEnvironment(const ::mesos::v1::Environment& environment) {
  for (const auto& variable : environment.variables()) {
    if (variable.type() != ::mesos::v1::Environment::Variable::SECRET) continue;
    absl::StatusOr<std::string> data = ResolveSecret(variable.secret());
    if (!data.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("environment variable '", variable.name(), "': ", data.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::Status PrepareVolumes(const ::mesos::v1::ContainerInfo& container,
                            const std::string& sandbox) {
  for (const Volume& volume : container.volumes()) {
    if (absl::Status prepared = PrepareVolume(volume, sandbox); !prepared.ok()) return prepared;
  }
  return absl::OkStatus();
}

}  // namespace mast::local
