#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace mast::mesos {

// The Mesos client's metrics, listed once; updated on the control loop.
struct MesosMetrics {
  explicit MesosMetrics(prometheus::Registry& registry);

  prometheus::Gauge& subscribed;                          // mast_mesos_subscribed
  prometheus::Gauge& subscribed_timestamp;                // mast_mesos_subscribed_timestamp_seconds
  prometheus::Counter& subscriptions;                     // mast_mesos_subscriptions_total
  prometheus::Family<prometheus::Counter>& events;        // mast_mesos_events_total{type}
  prometheus::Family<prometheus::Counter>& calls;         // mast_mesos_calls_total{type,code}
  prometheus::Family<prometheus::Counter>& reconnects;    // mast_mesos_reconnects_total{reason}
  prometheus::Gauge& heartbeat_age;                       // mast_mesos_heartbeat_age_seconds
  prometheus::Counter& offers_received;                   // mast_offers_received_total
  prometheus::Counter& offers_declined;                   // mast_offers_declined_total
  prometheus::Family<prometheus::Gauge>& framework_info;  // mast_framework_info{framework_id}
  prometheus::Counter& stream_errors;  // mast_mesos_stream_errors_total (garbage)
  prometheus::Counter& errors;         // mast_mesos_error_events_total

  void Event(const std::string& type) { events.Add({{"type", type}}).Increment(); }
  void Call(const std::string& type, const std::string& code) {
    calls.Add({{"type", type}, {"code", code}}).Increment();
  }
  void Reconnect(const std::string& reason) { reconnects.Add({{"reason", reason}}).Increment(); }
  // Shows `framework_id` as the one current framework.
  void SetFrameworkId(const std::string& framework_id);

 private:
  absl::Mutex mu_;
  prometheus::Gauge* framework_gauge_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace mast::mesos
