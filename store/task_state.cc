#include "store/task_state.h"

namespace mast {

bool IsTerminal(v1::Task::State state) {
  switch (state) {
    case v1::Task::FINISHED:
    case v1::Task::FAILED:
    case v1::Task::KILLED:
    case v1::Task::LOST:
    case v1::Task::GONE:
    case v1::Task::ERROR:
      return true;
    default:
      return false;
  }
}

bool IsLive(const v1::Task& task) { return !IsTerminal(task.state()) && !task.kill_requested(); }

bool IsReady(const v1::ServiceSpec& spec, const v1::Task& task) {
  return task.state() == v1::Task::RUNNING && !task.kill_requested() &&
         (!spec.has_health_check() || task.healthy()) &&
         (!spec.has_readiness_check() || task.ready());
}

}  // namespace mast
