#include "scheduler/mesos/mesos_metrics.h"

namespace mast::mesos {

MesosMetrics::MesosMetrics(prometheus::Registry& registry)
    : subscribed(prometheus::BuildGauge()
                     .Name("mast_mesos_subscribed")
                     .Help("1 while this replica holds a Mesos subscription, else 0.")
                     .Register(registry)
                     .Add({})),
      subscribed_timestamp(
          prometheus::BuildGauge()
              .Name("mast_mesos_subscribed_timestamp_seconds")
              .Help("Unix time of this replica's latest SUBSCRIBED event; 0 if never.")
              .Register(registry)
              .Add({})),
      subscriptions(prometheus::BuildCounter()
                        .Name("mast_mesos_subscriptions_total")
                        .Help("SUBSCRIBED events received.")
                        .Register(registry)
                        .Add({})),
      events(prometheus::BuildCounter()
                 .Name("mast_mesos_events_total")
                 .Help("Events received from the Mesos master, by type.")
                 .Register(registry)),
      calls(prometheus::BuildCounter()
                .Name("mast_mesos_calls_total")
                .Help("Calls sent to the Mesos master, by type and HTTP status (or error).")
                .Register(registry)),
      reconnects(prometheus::BuildCounter()
                     .Name("mast_mesos_reconnects_total")
                     .Help("Subscription losses followed by a reconnect, by reason.")
                     .Register(registry)),
      heartbeat_age(prometheus::BuildGauge()
                        .Name("mast_mesos_heartbeat_age_seconds")
                        .Help("Seconds since the subscription last received bytes.")
                        .Register(registry)
                        .Add({})),
      offers_received(prometheus::BuildCounter()
                          .Name("mast_offers_received_total")
                          .Help("Offers received.")
                          .Register(registry)
                          .Add({})),
      offers_declined(prometheus::BuildCounter()
                          .Name("mast_offers_declined_total")
                          .Help("Offers declined.")
                          .Register(registry)
                          .Add({})),
      framework_info(prometheus::BuildGauge()
                         .Name("mast_framework_info")
                         .Help("1, labelled with the framework ID in use.")
                         .Register(registry)),
      stream_errors(prometheus::BuildCounter()
                        .Name("mast_mesos_stream_errors_total")
                        .Help("Subscription streams dropped for undecodable data.")
                        .Register(registry)
                        .Add({})),
      errors(prometheus::BuildCounter()
                 .Name("mast_mesos_error_events_total")
                 .Help("ERROR events received (subscription refused or failed over).")
                 .Register(registry)
                 .Add({})) {}

void MesosMetrics::SetFrameworkId(const std::string& framework_id) {
  absl::MutexLock lock(&mu_);
  if (framework_gauge_ != nullptr) framework_info.Remove(framework_gauge_);
  framework_gauge_ = &framework_info.Add({{"framework_id", framework_id}});
  framework_gauge_->Set(1);
}

}  // namespace mast::mesos
