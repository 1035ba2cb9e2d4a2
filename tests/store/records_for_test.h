#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "mast/v1/records.pb.h"

namespace mast::testing {

// Records for the store's tests: a service of `instances`, and `count`
// RUNNING tasks of `service` spread over 97 agents.
inline mast::v1::records::ServiceRecord MakeService(const std::string& name, uint32_t instances) {
  mast::v1::records::ServiceRecord record;
  record.mutable_service()->mutable_spec()->set_name(name);
  record.mutable_service()->mutable_spec()->set_instances(instances);
  return record;
}

inline mast::v1::records::TaskRecords MakeTasks(const std::string& service, int count) {
  mast::v1::records::TaskRecords tasks;
  for (int i = 0; i < count; ++i) {
    mast::v1::Task* task = tasks.add_tasks();
    task->set_id(absl::StrCat(service, ".", i * 7919));
    task->set_service(service);
    task->set_host(absl::StrCat("agent-", i % 97));
    task->set_state(mast::v1::Task::RUNNING);
  }
  return tasks;
}

}  // namespace mast::testing
