// mast-local-mesos: a Mesos master speaking the v1 scheduler HTTP API, with simulated agents,
// for development and tests (`mastd --mesos=http://127.0.0.1:5050`).

#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "local_mesos/local_master.h"
#include "local_mesos/resources.h"

ABSL_FLAG(std::string, address, "127.0.0.1:5050",
          "Where to listen, ip:port (loopback by default; port 0 picks a free one)");
ABSL_FLAG(int, agents, 1, "Number of simulated agents (hostnames agent-0, agent-1, ...)");
ABSL_FLAG(std::string, agent_resources, "cpus:4;mem:8192;disk:10000;ports:[31000-32000]",
          "Resources of every agent, in Mesos --resources form (unreserved only)");
ABSL_FLAG(std::string, agent_attributes, "",
          "TEXT attributes of every agent, e.g. 'rack:r1;zone:a'");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(15),
          "Interval of HEARTBEAT events on subscription streams");
ABSL_FLAG(absl::Duration, update_retry_interval, absl::Seconds(10),
          "First resend of an unacknowledged status update (doubles up to 10m)");
ABSL_FLAG(absl::Duration, allocation_interval, absl::Seconds(1),
          "Delay before freed resources are offered again");
ABSL_FLAG(bool, execute, false,
          "Agents run tasks' commands as local processes (else tasks run until killed); health "
          "checks and checks then probe the tasks for real (else they pass unless made to fail)");
ABSL_FLAG(bool, fault_endpoints, true,
          "Serve POST /faults/<name> to inject faults into the running master (drop-subscriptions, "
          "heartbeats?enabled=0|1, redirect?leader=host:port, unavailable?on=0|1, rescind-offers, "
          "disconnect-agent|reconnect-agent|remove-agent?index=i, restart?keep_state=0|1, "
          "duplicate-updates?on=0|1, call-delay?ms=N, health-checks?task=ID|agent=i&fail=0|1, "
          "checks?task=ID&fail=0|1)");
ABSL_FLAG(std::string, work_dir, "",
          "Directory for the sandboxes of executed tasks (default: a temporary directory)");

namespace {

// The master's config from the flags; the error names the flag (without its "--").
absl::StatusOr<mast::local::LocalMasterConfig> ConfigFromFlags() {
  mast::local::LocalMasterConfig config;
  config.address = absl::GetFlag(FLAGS_address);
  config.agents = absl::GetFlag(FLAGS_agents);
  config.agent_resources = absl::GetFlag(FLAGS_agent_resources);
  auto attributes = mast::local::ParseAttributes(absl::GetFlag(FLAGS_agent_attributes));
  if (!attributes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("agent_attributes: ", attributes.status().message()));
  }
  config.agent_attributes = *attributes;
  config.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  config.update_retry_interval = absl::GetFlag(FLAGS_update_retry_interval);
  config.allocation_interval = absl::GetFlag(FLAGS_allocation_interval);
  config.execute = absl::GetFlag(FLAGS_execute);
  config.fault_endpoints = absl::GetFlag(FLAGS_fault_endpoints);
  config.work_dir = absl::GetFlag(FLAGS_work_dir);
  if (absl::Status status = mast::local::ValidateLocalMasterConfig(config); !status.ok()) {
    return status;
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "A local Mesos master (v1 scheduler HTTP API) with simulated agents.\n"
      "Usage: mast-local-mesos [--address=127.0.0.1:5050] [--agents=N] [--execute] ...");
  absl::FlagsUsageConfig usage;
  // --help lists this binary's own flags (they live in this file).
  usage.contains_help_flags = [](absl::string_view path) {
    return path.find("local_mesos/main") != absl::string_view::npos;
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);

  absl::StatusOr<mast::local::LocalMasterConfig> flags_config = ConfigFromFlags();
  if (!flags_config.ok()) {
    std::fprintf(stderr, "--%s\n", std::string(flags_config.status().message()).c_str());
    return 2;
  }
  const mast::local::LocalMasterConfig& config = *flags_config;

  // SIGTERM and SIGINT are taken with sigwait() on this thread; every other thread (started
  // after this) inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto master = mast::local::LocalMaster::Start(config, mast::RealClock::Default());
  if (!master.ok()) {
    mast::LogError("local_master_start_failed", {{"error", master.status().ToString()}});
    return 1;
  }
  mast::LogInfo("local_master_serving", {{"url", (*master)->url()},
                                         {"agents", config.agents},
                                         {"resources", config.agent_resources},
                                         {"execute", config.execute}});
  int sig = 0;
  sigwait(&signals, &sig);
  mast::LogInfo("local_master_signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  master->reset();
  return 0;
}
