#include "tests/processes/stand_in_scheduler.h"

#include <memory>

#include "absl/synchronization/notification.h"
#include "scheduler/control/framework_controller.h"
#include "scheduler/mesos/http_mesos_client.h"

namespace mast::testing {

namespace mesos_v1 = ::mesos::v1;

absl::Status LaunchUnacknowledgedTask(const std::string& master_url,
                                      const std::string& framework_id, const std::string& task_id,
                                      const std::string& command, bool json,
                                      absl::Duration timeout) {
  EventLoop loop(RealClock::Default(), "stand-in");
  mesos::HttpTransport transport;
  mesos::StaticMasterDetector detector({master_url});
  absl::Notification updated;
  bool launched = false;  // loop thread only
  std::unique_ptr<mesos::HttpMesosClient> client;
  mesos::MesosClientCallbacks callbacks;
  callbacks.on_subscribed = [&](const mesos_v1::scheduler::Event::Subscribed&) {
    mesos_v1::scheduler::Call revive;
    revive.set_type(mesos_v1::scheduler::Call::REVIVE);
    client->Send(revive, [](absl::Status) {});
  };
  callbacks.on_event = [&](const mesos_v1::scheduler::Event& event) {
    if (event.type() == mesos_v1::scheduler::Event::UPDATE) {
      if (!updated.HasBeenNotified()) updated.Notify();
      return;
    }
    if (event.type() != mesos_v1::scheduler::Event::OFFERS || launched ||
        event.offers().offers().empty()) {
      return;
    }
    const mesos_v1::Offer& offer = event.offers().offers(0);
    mesos_v1::scheduler::Call accept;
    accept.set_type(mesos_v1::scheduler::Call::ACCEPT);
    *accept.mutable_accept()->add_offer_ids() = offer.id();
    auto* op = accept.mutable_accept()->add_operations();
    op->set_type(mesos_v1::Offer::Operation::LAUNCH);
    mesos_v1::TaskInfo* task = op->mutable_launch()->add_task_infos();
    task->set_name(task_id);
    task->mutable_task_id()->set_value(task_id);
    *task->mutable_agent_id() = offer.agent_id();
    task->mutable_command()->set_value(command);
    for (const char* name : {"cpus", "mem"}) {
      mesos_v1::Resource* res = task->add_resources();
      res->set_name(name);
      res->set_type(mesos_v1::Value::SCALAR);
      res->mutable_scalar()->set_value(std::string(name) == "cpus" ? 0.1 : 32);
      if (offer.resources_size() > 0 && offer.resources(0).has_allocation_info()) {
        *res->mutable_allocation_info() = offer.resources(0).allocation_info();
      }
    }
    launched = true;
    client->Send(accept, [](absl::Status) {});
  };
  mesos::MesosClientConfig config;
  config.json = json;
  loop.Post([&] {
    client = std::make_unique<mesos::HttpMesosClient>(config, detector, transport, loop,
                                                      std::move(callbacks), nullptr);
    FrameworkConfig fw;
    fw.user = "root";
    fw.failover_timeout = absl::Hours(1);
    client->Subscribe(BuildFrameworkInfo(fw, framework_id), {});
  });
  bool ok = updated.WaitForNotificationWithTimeout(timeout);
  loop.Post([&] { client.reset(); });
  loop.Flush();
  return ok ? absl::OkStatus()
            : absl::DeadlineExceededError("the stand-in saw no status update of its task");
}

}  // namespace mast::testing
