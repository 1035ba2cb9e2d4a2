#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mesos/v1/mesos.pb.h"
#include "scheduler/control/offer_matcher.h"

// The TaskInfos MatchOffers (offer_matcher.h) plans, as documented there,
// apart from ids and resources. Internal to the matcher; pure.
namespace mast::offer_matching {

// What every task of one queued service shares, built once per plan.
struct TaskTemplate {
  // Name, command and user, container, labels, kill policy, health check,
  // check (the readiness check) and DiscoveryInfo without ports.
  ::mesos::v1::TaskInfo base;
  std::vector<std::pair<std::string, std::string>> env;  // the spec's, sorted
  bool sets_host = false;                                // the spec sets HOST itself
};

TaskTemplate MakeTaskTemplate(const QueuedService& queued);

// Adds what depends on where a task landed to `info` (a copy of
// `task_template.base`): its environment, the ports its health check and
// readiness check check, and its DiscoveryInfo ports.
// `host_ports` are in the order of the spec's ports.
void AddPlacementToTaskInfo(const TaskTemplate& task_template, const QueuedService& queued,
                            const std::string& hostname, const std::vector<uint32_t>& host_ports,
                            ::mesos::v1::TaskInfo& info);

}  // namespace mast::offer_matching
