#include "scheduler/control/offer_task_info.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "store/health_check.h"
#include "store/networks.h"

namespace mast::offer_matching {
namespace {

using ::mesos::v1::TaskInfo;

std::string TaskName(const std::string& service_name) {
  // "team/web" -> "web.team", a DNS name as Marathon makes (for Mesos-DNS).
  std::vector<absl::string_view> labels = absl::StrSplit(service_name, '/');
  std::reverse(labels.begin(), labels.end());
  return absl::StrJoin(labels, ".");
}

int64_t DurationNanos(const google::protobuf::Duration& d) {
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1000000000 - 1;
  const int64_t seconds = std::clamp<int64_t>(d.seconds(), -kMaxSeconds, kMaxSeconds);
  return seconds * 1000000000 + d.nanos();
}

double Seconds(const google::protobuf::Duration& d) {
  return static_cast<double>(DurationNanos(d)) / 1e9;
}

// A shell command, or argv with shell=false and value argv[0]; the user.
void ToCommandInfo(const v1::Command& from, ::mesos::v1::CommandInfo& command) {
  if (from.has_argv()) {
    command.set_shell(false);
    const auto& args = from.argv().args();
    if (!args.empty()) command.set_value(args[0]);
    for (const std::string& arg : args) command.add_arguments(arg);
  } else {
    command.set_shell(true);
    command.set_value(from.shell());
  }
  if (!from.user().empty()) command.set_user(from.user());
}

// Everything of the check but the port of an HTTP(S) or TCP check, which
// AddPlacementToTaskInfo sets. Timings as the spec has them (WithDefaults
// filled them in).
::mesos::v1::HealthCheck BaseHealthCheck(const v1::HealthCheck& from) {
  using Mesos = ::mesos::v1::HealthCheck;
  Mesos check;
  check.set_delay_seconds(Seconds(from.delay()));
  check.set_interval_seconds(Seconds(from.interval()));
  check.set_timeout_seconds(Seconds(from.timeout()));
  check.set_grace_period_seconds(Seconds(from.grace_period()));
  // Mast replaces a task that fails its checks (starting the replacement
  // first, see PlanService), so the executor must never kill it itself: it
  // only reports each result.
  check.set_consecutive_failures(std::numeric_limits<uint32_t>::max());
  switch (from.protocol()) {
    case v1::HealthCheck::HTTP:
    case v1::HealthCheck::HTTPS:
      check.set_type(Mesos::HTTP);
      check.mutable_http()->set_path(from.path().empty() ? "/" : from.path());
      check.mutable_http()->set_scheme(from.protocol() == v1::HealthCheck::HTTPS ? "https"
                                                                                 : "http");
      break;
    case v1::HealthCheck::TCP:
      check.set_type(Mesos::TCP);
      check.mutable_tcp();
      break;
    case v1::HealthCheck::COMMAND:
      check.set_type(Mesos::COMMAND);
      ToCommandInfo(from.command(), *check.mutable_command());
      break;
    default:
      check.set_type(Mesos::UNKNOWN);  // validation refuses it; Mesos would too
      break;
  }
  return check;
}

// A Duration of the spec, or `unset` when the spec leaves it out.
double SecondsOr(bool has, const google::protobuf::Duration& d, double unset) {
  return has ? Seconds(d) : unset;
}

// The readiness check as a Mesos check (TaskInfo.check): never kills, its
// results come back in TaskStatus.check_status. The port of an HTTP or TCP
// check is 0 here (the field is required) until AddPlacementToTaskInfo sets
// the host port. Timings unset in the spec: delay 0 s, interval 10 s,
// timeout 10 s (the spec's documented defaults, not Mesos' 15/10/20).
::mesos::v1::CheckInfo BaseReadinessCheck(const v1::ReadinessCheck& from) {
  using Mesos = ::mesos::v1::CheckInfo;
  Mesos check;
  check.set_delay_seconds(SecondsOr(from.has_delay(), from.delay(), 0));
  check.set_interval_seconds(SecondsOr(from.has_interval(), from.interval(), 10));
  check.set_timeout_seconds(SecondsOr(from.has_timeout(), from.timeout(), 10));
  switch (from.protocol()) {
    case v1::ReadinessCheck::HTTP:
      check.set_type(Mesos::HTTP);
      check.mutable_http()->set_port(0);
      check.mutable_http()->set_path(from.path().empty() ? "/" : from.path());
      break;
    case v1::ReadinessCheck::TCP:
      check.set_type(Mesos::TCP);
      check.mutable_tcp()->set_port(0);
      break;
    case v1::ReadinessCheck::COMMAND:
      check.set_type(Mesos::COMMAND);
      ToCommandInfo(from.command(), *check.mutable_command()->mutable_command());
      break;
    default:
      check.set_type(Mesos::UNKNOWN);  // validation refuses it; Mesos would too
      break;
  }
  return check;
}

::mesos::v1::Secret ToMesosSecret(const v1::Secret& from) {
  ::mesos::v1::Secret secret;
  if (from.has_reference()) {
    secret.set_type(::mesos::v1::Secret::REFERENCE);
    secret.mutable_reference()->set_name(from.reference().name());
    if (!from.reference().key().empty())
      secret.mutable_reference()->set_key(from.reference().key());
  } else {
    secret.set_type(::mesos::v1::Secret::VALUE);
    secret.mutable_value()->set_data(from.value());
  }
  return secret;
}

// Environment.Variable of type SECRET, in variable order (validation made
// sure each names a secret of the spec).
void AddSecretEnv(const v1::ServiceSpec& spec, ::mesos::v1::Environment& env) {
  std::vector<std::pair<std::string, std::string>> variables(spec.secret_env().begin(),
                                                             spec.secret_env().end());
  std::sort(variables.begin(), variables.end());
  for (const auto& [name, secret] : variables) {
    auto found = spec.secrets().find(secret);
    if (found == spec.secrets().end()) continue;
    ::mesos::v1::Environment::Variable* variable = env.add_variables();
    variable->set_name(name);
    variable->set_type(::mesos::v1::Environment::Variable::SECRET);
    *variable->mutable_secret() = ToMesosSecret(found->second);
  }
}

// ContainerInfo.volumes: a host path as Marathon sends it (Volume.host_path,
// which the agent's filesystem isolator mounts or, for a relative
// container_path, links), a sandbox path and a secret file as a
// Volume.Source.
void AddVolumes(const v1::ServiceSpec& spec, ::mesos::v1::ContainerInfo& container) {
  using MesosVolume = ::mesos::v1::Volume;
  for (const v1::Volume& from : spec.volumes()) {
    MesosVolume* volume = container.add_volumes();
    volume->set_container_path(from.container_path());
    volume->set_mode(from.read_only() ? MesosVolume::RO : MesosVolume::RW);
    switch (from.source_case()) {
      case v1::Volume::kHostPath:
        volume->set_host_path(from.host_path());
        break;
      case v1::Volume::kSandboxPath: {
        MesosVolume::Source* source = volume->mutable_source();
        source->set_type(MesosVolume::Source::SANDBOX_PATH);
        source->mutable_sandbox_path()->set_type(MesosVolume::Source::SandboxPath::SELF);
        source->mutable_sandbox_path()->set_path(from.sandbox_path());
        break;
      }
      case v1::Volume::kSecret: {
        MesosVolume::Source* source = volume->mutable_source();
        source->set_type(MesosVolume::Source::SECRET);
        auto found = spec.secrets().find(from.secret());
        if (found != spec.secrets().end()) *source->mutable_secret() = ToMesosSecret(found->second);
        break;
      }
      case v1::Volume::SOURCE_NOT_SET:
        break;  // validation refuses it
    }
  }
}

TaskInfo BaseTaskInfo(const QueuedService& queued) {
  const v1::ServiceSpec& spec = *queued.spec;
  TaskInfo info;
  info.set_name(TaskName(spec.name()));
  ToCommandInfo(spec.command(), *info.mutable_command());
  for (const v1::FetchUri& fetch : spec.fetch()) {
    ::mesos::v1::CommandInfo::URI* uri = info.mutable_command()->add_uris();
    uri->set_value(fetch.uri());
    uri->set_extract(fetch.has_extract() ? fetch.extract() : !fetch.executable());
    if (fetch.executable()) uri->set_executable(true);
    if (fetch.cache()) uri->set_cache(true);
    if (!fetch.output_file().empty()) uri->set_output_file(fetch.output_file());
  }
  if (spec.has_health_check()) *info.mutable_health_check() = BaseHealthCheck(spec.health_check());
  if (spec.has_readiness_check())
    *info.mutable_check() = BaseReadinessCheck(spec.readiness_check());
  if (spec.secret_env_size() > 0)
    AddSecretEnv(spec, *info.mutable_command()->mutable_environment());
  if (!spec.container().docker_image().empty()) {
    ::mesos::v1::ContainerInfo* container = info.mutable_container();
    container->set_type(::mesos::v1::ContainerInfo::MESOS);
    ::mesos::v1::Image* image = container->mutable_mesos()->mutable_image();
    image->set_type(::mesos::v1::Image::DOCKER);
    image->mutable_docker()->set_name(spec.container().docker_image());
    image->set_cached(!spec.container().force_pull_image());
  }
  if (spec.volumes_size() > 0) {
    info.mutable_container()->set_type(::mesos::v1::ContainerInfo::MESOS);
    AddVolumes(spec, *info.mutable_container());
  }
  if (OnContainerNetwork(spec)) {
    ::mesos::v1::ContainerInfo* container = info.mutable_container();
    container->set_type(::mesos::v1::ContainerInfo::MESOS);
    for (const v1::Network& from : spec.networks()) {
      if (from.mode() != v1::Network::CONTAINER) continue;
      ::mesos::v1::NetworkInfo* network = container->add_network_infos();
      network->set_name(from.name());
      std::vector<std::pair<std::string, std::string>> labels(from.labels().begin(),
                                                              from.labels().end());
      std::sort(labels.begin(), labels.end());
      for (auto& [key, value] : labels) {
        ::mesos::v1::Label* label = network->mutable_labels()->add_labels();
        label->set_key(std::move(key));
        label->set_value(std::move(value));
      }
    }
  }
  std::vector<std::pair<std::string, std::string>> labels(spec.labels().begin(),
                                                          spec.labels().end());
  std::sort(labels.begin(), labels.end());
  labels.emplace_back("mast.io/service", spec.name());
  labels.emplace_back("mast.io/version", absl::StrCat(queued.version));
  for (auto& [key, value] : labels) {
    ::mesos::v1::Label* label = info.mutable_labels()->add_labels();
    label->set_key(std::move(key));
    label->set_value(std::move(value));
  }
  if (spec.has_kill_grace_period()) {
    info.mutable_kill_policy()->mutable_grace_period()->set_nanoseconds(
        DurationNanos(spec.kill_grace_period()));
  }
  ::mesos::v1::DiscoveryInfo* discovery = info.mutable_discovery();
  discovery->set_visibility(::mesos::v1::DiscoveryInfo::FRAMEWORK);
  discovery->set_name(info.name());
  return info;
}

}  // namespace

TaskTemplate MakeTaskTemplate(const QueuedService& queued) {
  const v1::ServiceSpec& spec = *queued.spec;
  TaskTemplate task_template;
  task_template.base = BaseTaskInfo(queued);
  task_template.env.assign(spec.env().begin(), spec.env().end());
  std::sort(task_template.env.begin(), task_template.env.end());
  task_template.sets_host = spec.env().count("HOST") > 0;
  return task_template;
}

void AddPlacementToTaskInfo(const TaskTemplate& task_template, const QueuedService& queued,
                            const std::string& hostname, const std::vector<uint32_t>& host_ports,
                            TaskInfo& info) {
  const v1::ServiceSpec& spec = *queued.spec;
  ::mesos::v1::Environment* env = info.mutable_command()->mutable_environment();
  const auto add_env = [env](std::string name, std::string value) {
    ::mesos::v1::Environment::Variable* variable = env->add_variables();
    variable->set_name(std::move(name));
    variable->set_value(std::move(value));
  };
  for (const auto& [name, value] : task_template.env) add_env(name, value);
  if (!task_template.sets_host) add_env("HOST", hostname);
  // The ports the task listens on: on a container network, the container
  // ports (as Marathon's PORT<i> with port mappings).
  std::vector<uint32_t> task_ports(host_ports.size());
  for (size_t i = 0; i < host_ports.size(); ++i) {
    task_ports[i] = TaskPort(spec.ports(static_cast<int>(i)), host_ports[i]);
  }
  if (!task_ports.empty()) {
    add_env("PORTS", absl::StrJoin(task_ports, ","));
    add_env("PORT", absl::StrCat(task_ports[0]));
  }
  for (size_t i = 0; i < task_ports.size(); ++i) {
    add_env(absl::StrCat("PORT", i), absl::StrCat(task_ports[i]));
  }
  for (int i = 0; i < spec.ports_size(); ++i) {
    if (spec.ports(i).name().empty()) continue;
    std::string name = absl::StrCat("PORT_", spec.ports(i).name());
    for (char& ch : name) ch = ch == '-' ? '_' : absl::ascii_toupper(ch);
    add_env(std::move(name), absl::StrCat(task_ports[i]));
  }
  add_env("MAST_SERVICE", spec.name());
  add_env("MAST_SERVICE_VERSION", absl::StrCat(queued.version));

  // Checks run where the task listens (Mesos enters a container network's
  // namespace to check).
  if (std::optional<int> checked = HealthCheckPortIndex(spec);
      checked && info.has_health_check() && static_cast<size_t>(*checked) < task_ports.size()) {
    ::mesos::v1::HealthCheck* check = info.mutable_health_check();
    if (check->has_http()) check->mutable_http()->set_port(task_ports[*checked]);
    if (check->has_tcp()) check->mutable_tcp()->set_port(task_ports[*checked]);
  }
  if (std::optional<int> checked = ReadinessCheckPortIndex(spec);
      checked && info.has_check() && static_cast<size_t>(*checked) < task_ports.size()) {
    ::mesos::v1::CheckInfo* check = info.mutable_check();
    if (check->has_http()) check->mutable_http()->set_port(task_ports[*checked]);
    if (check->has_tcp()) check->mutable_tcp()->set_port(task_ports[*checked]);
  }

  const bool container_network = OnContainerNetwork(spec);
  ::mesos::v1::NetworkInfo* mapped = nullptr;  // the first container network
  if (container_network && info.has_container()) {
    for (::mesos::v1::NetworkInfo& network : *info.mutable_container()->mutable_network_infos()) {
      mapped = &network;
      break;
    }
  }
  ::mesos::v1::DiscoveryInfo* discovery = info.mutable_discovery();
  for (int i = 0; i < spec.ports_size(); ++i) {
    const v1::PortSpec& spec_port = spec.ports(i);
    const std::string protocol = spec_port.protocol().empty() ? "tcp" : spec_port.protocol();
    const auto add_port = [&](uint32_t number, const char* scope) {
      ::mesos::v1::Port* port = discovery->mutable_ports()->add_ports();
      port->set_number(number);
      if (!spec_port.name().empty()) port->set_name(spec_port.name());
      port->set_protocol(protocol);
      if (scope != nullptr) {
        // As Marathon labels them, so that Mesos-DNS style discovery tells
        // the container's ports from the host's.
        ::mesos::v1::Label* label = port->mutable_labels()->add_labels();
        label->set_key("network-scope");
        label->set_value(scope);
        if (mapped != nullptr && std::string(scope) == "container") {
          ::mesos::v1::Label* name = port->mutable_labels()->add_labels();
          name->set_key("network-name");
          name->set_value(mapped->name());
        }
      }
    };
    if (!container_network) {
      add_port(host_ports[i], nullptr);
      continue;
    }
    add_port(task_ports[i], "container");
    if (host_ports[i] == 0) continue;  // container_only
    add_port(host_ports[i], "host");
    if (mapped != nullptr) {
      ::mesos::v1::NetworkInfo::PortMapping* mapping = mapped->add_port_mappings();
      mapping->set_host_port(host_ports[i]);
      mapping->set_container_port(task_ports[i]);
      mapping->set_protocol(protocol);
    }
  }
}

}  // namespace mast::offer_matching
