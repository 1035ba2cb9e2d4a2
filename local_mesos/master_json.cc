// The local master's JSON endpoints, /master/state, /master/frameworks and /master/tasks, in the
// shapes of Mesos 1.11's (the fields a scheduler or a test looks at, in the same order).

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "local_mesos/json.h"
#include "local_mesos/master_state.h"

namespace mast::local {

namespace mesos_v1 = ::mesos::v1;

namespace {

double UnixSeconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

// The state endpoints write a `Labels` message as its bare list, `[{"key":..,"value":..}]`, not
// as the message `{"labels": [...]}`: Mesos' master has a JSON overload for Labels that does
// this (for TaskInfo.labels and FrameworkInfo.labels), and tools reading /master/tasks and
// /master/frameworks expect the list. Messages nested deeper (discovery, container) keep the
// plain protobuf form there too, so they go through MesosJson unchanged.
std::string LabelsJson(const mesos_v1::Labels& labels) {
  JsonWriter json;
  json.BeginArray();
  for (const mesos_v1::Label& label : labels.labels()) json.Raw(MesosJson(label));
  json.EndArray();
  return json.str();
}

// A MULTI_ROLE framework's "roles", else its legacy "role".
void WriteRolesJson(const mesos_v1::FrameworkInfo& info, JsonWriter& json) {
  if (HasCapability(info, mesos_v1::FrameworkInfo::Capability::MULTI_ROLE)) {
    json.Key("roles").BeginArray();
    for (const std::string& role : info.roles()) json.String(role);
    json.EndArray();
  } else {
    json.Key("role").String(LegacyRole(info));
  }
}

}  // namespace

std::string LocalMaster::State::TaskJson(const Task& task) const {
  JsonWriter json;
  json.BeginObject()
      .Key("id")
      .String(task.info.task_id().value())
      .Key("name")
      .String(task.info.name())
      .Key("framework_id")
      .String(task.framework_id)
      .Key("executor_id")
      .String(task.executor_id)
      .Key("slave_id")
      .String(agents_[static_cast<size_t>(task.agent)].id)
      .Key("state")
      .String(mesos_v1::TaskState_Name(task.master_state))
      .Key("resources")
      .Raw(task.resources.ToStateJson())
      .Key("role")
      .String(task.role);
  json.Key("statuses").BeginArray();
  for (const mesos_v1::TaskStatus& status : task.statuses) {
    json.BeginObject().Key("state").String(mesos_v1::TaskState_Name(status.state()));
    json.Key("timestamp").Number(status.timestamp());
    if (status.has_healthy()) json.Key("healthy").Bool(status.healthy());
    if (status.has_check_status()) json.Key("check_status").Raw(MesosJson(status.check_status()));
    if (status.has_container_status()) {
      mesos_v1::ContainerStatus container = status.container_status();
      container.clear_executor_pid();
      json.Key("container_status").Raw(MesosJson(container));
    }
    json.EndObject();
  }
  json.EndArray();
  if (task.unreachable) {
    json.Key("unreachable_time").Raw(MesosJson(task.unreachable_time));
  }
  if (task.info.has_labels()) json.Key("labels").Raw(LabelsJson(task.info.labels()));
  if (task.info.has_discovery()) json.Key("discovery").Raw(MesosJson(task.info.discovery()));
  if (task.info.has_container()) json.Key("container").Raw(MesosJson(task.info.container()));
  json.EndObject();
  return json.str();
}

void LocalMaster::State::WriteFrameworkJson(const Framework& framework, JsonWriter& json) const {
  Resources used, offered;
  for (const Agent& agent : agents_) {
    for (const auto& [key, task] : agent.tasks) {
      if (key.first == framework.id && !task->released) used.Add(task->resources);
    }
  }
  for (const std::string& offer_id : framework.offers) {
    // framework.offers only holds outstanding offers (RemoveOffer drops the ID from both), so
    // the lookup always succeeds; a missing one would have nothing to count.
    if (const Offer* offer = FindOffer(offer_id)) offered.Add(offer->resources);
  }
  Resources total = used;
  total.Add(offered);
  const mesos_v1::FrameworkInfo& info = framework.info;
  json.BeginObject()
      .Key("id")
      .String(framework.id)
      .Key("name")
      .String(info.name())
      .Key("used_resources")
      .Raw(used.ToStateJson())
      .Key("offered_resources")
      .Raw(offered.ToStateJson())
      .Key("capabilities")
      .BeginArray();
  for (const auto& capability : info.capabilities()) {
    json.String(mesos_v1::FrameworkInfo::Capability::Type_Name(capability.type()));
  }
  json.EndArray()
      .Key("hostname")
      .String(info.hostname())
      .Key("webui_url")
      .String(info.webui_url())
      .Key("active")
      .Bool(framework.connected)
      .Key("connected")
      .Bool(framework.connected)
      .Key("recovered")
      .Bool(framework.recovered)
      .Key("user")
      .String(info.user())
      .Key("failover_timeout")
      .Number(info.failover_timeout())
      .Key("checkpoint")
      .Bool(info.checkpoint())
      .Key("registered_time")
      .Number(UnixSeconds(framework.registered_time))
      .Key("unregistered_time")
      .Number(framework.unregistered_time ? UnixSeconds(*framework.unregistered_time) : 0.0)
      .Key("resources")
      .Raw(total.ToStateJson());
  if (info.has_principal()) json.Key("principal").String(info.principal());
  if (framework.reregistered_time) {
    json.Key("reregistered_time").Number(UnixSeconds(*framework.reregistered_time));
  }
  WriteRolesJson(info, json);
  if (info.has_labels()) json.Key("labels").Raw(LabelsJson(info.labels()));
  WriteFrameworkTasksJson(framework, json);
  json.Key("offers").BeginArray();
  for (const std::string& offer_id : framework.offers) {
    if (const Offer* offer = FindOffer(offer_id)) WriteOfferJson(*offer, json);  // as above
  }
  json.EndArray().Key("executors").BeginArray().EndArray();
  json.Key("offer_constraints").Raw(MesosJson(framework.constraints));
  json.EndObject();
}

void LocalMaster::State::WriteFrameworkTasksJson(const Framework& framework,
                                                 JsonWriter& json) const {
  json.Key("tasks").BeginArray();
  for (const Agent& agent : agents_) {
    if (agent.status != AgentStatus::kActive) continue;
    for (const auto& [key, task] : agent.tasks) {
      if (key.first == framework.id && !task->unreachable) json.Raw(TaskJson(*task));
    }
  }
  json.EndArray().Key("unreachable_tasks").BeginArray();
  for (const Agent& agent : agents_) {
    for (const auto& [key, task] : agent.tasks) {
      if (key.first == framework.id && task->unreachable) json.Raw(TaskJson(*task));
    }
  }
  json.EndArray().Key("completed_tasks").BeginArray();
  for (const std::string& task : framework.completed_tasks_json) json.Raw(task);
  json.EndArray();
}

void LocalMaster::State::WriteOfferJson(const Offer& offer, JsonWriter& json) const {
  json.BeginObject()
      .Key("id")
      .String(offer.id)
      .Key("framework_id")
      .String(offer.framework_id)
      .Key("allocation_info")
      .BeginObject()
      .Key("role")
      .String(offer.role)
      .EndObject()
      .Key("slave_id")
      .String(agents_[static_cast<size_t>(offer.agent)].id)
      .Key("resources")
      .Raw(offer.resources.ToStateJson())
      .EndObject();
}

void LocalMaster::State::WriteFrameworkListsJson(JsonWriter& json) const {
  json.Key("frameworks").BeginArray();
  for (const auto& [id, framework] : frameworks_) WriteFrameworkJson(*framework, json);
  json.EndArray().Key("completed_frameworks").BeginArray();
  for (auto it = completed_json_.rbegin(); it != completed_json_.rend(); ++it) json.Raw(*it);
  json.EndArray();
}

std::string LocalMaster::State::FrameworksJson() const {
  JsonWriter json;
  json.BeginObject();
  WriteFrameworkListsJson(json);
  json.Key("unregistered_frameworks").BeginArray().EndArray().EndObject();
  return json.str();
}

std::string LocalMaster::State::TasksJson() const {
  JsonWriter json;
  json.BeginObject().Key("tasks").BeginArray();
  for (const Agent& agent : agents_) {
    if (agent.status == AgentStatus::kGone) continue;
    for (const auto& [key, task] : agent.tasks) {
      if (FindFramework(key.first) != nullptr) json.Raw(TaskJson(*task));
    }
  }
  for (const auto& [id, framework] : frameworks_) {
    for (const std::string& task : framework->completed_tasks_json) json.Raw(task);
  }
  json.EndArray().EndObject();
  return json.str();
}

std::string LocalMaster::State::StateJson() const {
  const mesos_v1::MasterInfo info = MasterInfo();
  int active = 0, unreachable = 0;
  for (const Agent& agent : agents_) {
    if (agent.status == AgentStatus::kActive) ++active;
    if (agent.status == AgentStatus::kUnreachable) ++unreachable;
  }
  JsonWriter json;
  json.BeginObject()
      .Key("version")
      .String(kMesosVersion)
      .Key("build_date")
      .String("local")
      .Key("build_time")
      .Number(0)
      .Key("build_user")
      .String("mast")
      .Key("start_time")
      .Number(UnixSeconds(start_time_))
      .Key("elected_time")
      .Number(UnixSeconds(elected_time_))
      .Key("id")
      .String(master_id_)
      .Key("pid")
      .String(info.pid())
      .Key("hostname")
      .String(info.hostname())
      .Key("capabilities")
      .BeginArray()
      .String("AGENT_UPDATE")
      .String("AGENT_DRAINING")
      .String("QUOTA_V2")
      .EndArray()
      .Key("activated_slaves")
      .Number(active)
      .Key("deactivated_slaves")
      .Number(0)
      .Key("unreachable_slaves")
      .Number(unreachable)
      .Key("leader")
      .String(info.pid())
      .Key("leader_info")
      .BeginObject()
      .Key("id")
      .String(master_id_)
      .Key("pid")
      .String(info.pid())
      .Key("port")
      .Int(port_)
      .Key("hostname")
      .String(info.hostname())
      .EndObject();
  WriteFlagsJson(json);
  json.Key("slaves").BeginArray();
  for (const Agent& agent : agents_) {
    if (agent.status != AgentStatus::kActive) continue;
    WriteAgentJson(agent, json);
  }
  json.EndArray().Key("recovered_slaves").BeginArray().EndArray();
  WriteFrameworkListsJson(json);
  json.Key("orphan_tasks")
      .BeginArray()
      .EndArray()
      .Key("unregistered_frameworks")
      .BeginArray()
      .EndArray()
      .EndObject();
  return json.str();
}

// The master flags a scheduler or a tool may read.
void LocalMaster::State::WriteFlagsJson(JsonWriter& json) const {
  json.Key("flags")
      .BeginObject()
      .Key("allocation_interval")
      .String(absl::FormatDuration(config_.allocation_interval))
      .Key("min_allocatable_resources")
      .String("cpus:0.01|mem:32")
      .Key("max_completed_frameworks")
      .String(absl::StrCat(kMaxCompletedFrameworks))
      .Key("root_submissions")
      .String("true")
      .Key("registry")
      .String("in_memory")
      .EndObject();
}

void LocalMaster::State::WriteAgentJson(const Agent& agent, JsonWriter& json) const {
  json.BeginObject()
      .Key("id")
      .String(agent.id)
      .Key("hostname")
      .String(agent.hostname)
      .Key("port")
      .Int(0)
      .Key("attributes")
      .BeginObject();
  for (const auto& [name, value] : config_.agent_attributes) json.Key(name).String(value);
  json.EndObject()
      .Key("pid")
      .String(absl::StrCat("slave(1)@", agent.hostname, ":0"))
      .Key("registered_time")
      .Number(UnixSeconds(agent.registered_time))
      .Key("resources")
      .Raw(agent.total.ToStateJson())
      .Key("used_resources")
      .Raw(agent.used.ToStateJson())
      .Key("offered_resources")
      .Raw(agent.offered.ToStateJson())
      .Key("reserved_resources")
      .BeginObject()
      .EndObject()
      .Key("unreserved_resources")
      .Raw(agent.total.ToStateJson())
      .Key("active")
      .Bool(true)
      .Key("deactivated")
      .Bool(false)
      .Key("version")
      .String(kMesosVersion)
      .Key("capabilities")
      .BeginArray()
      .String("MULTI_ROLE")
      .String("HIERARCHICAL_ROLE")
      .String("RESERVATION_REFINEMENT")
      .EndArray()
      .EndObject();
}

}  // namespace mast::local
