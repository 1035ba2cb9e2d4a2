#include "api/audit.h"

#include "absl/strings/str_cat.h"
#include "api/call_auth.h"
#include "common/log.h"
#include "common/proto_util.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace mast {

std::string DescribeCaller(const auth::Identity& who) { return OnBehalfOfValue(who); }

AuditLog::AuditLog(prometheus::Registry* registry, Sink sink) : sink_(std::move(sink)) {
  if (registry == nullptr) return;
  events_ = &prometheus::BuildCounter()
                 .Name("mast_audit_events_total")
                 .Help("Writes audited (performed or refused), by result code.")
                 .Register(*registry);
  denials_ = &prometheus::BuildCounter()
                  .Name("mast_auth_denials_total")
                  .Help("Calls refused for their credentials or rights, by code.")
                  .Register(*registry);
}

void AuditLog::CountDenial(const absl::Status& status) {
  if (denials_ != nullptr && !status.ok()) {
    denials_->Add({{"code", absl::StatusCodeToString(status.code())}}).Increment();
  }
}

void AuditLog::Record(const AuditRecord& record) {
  const std::string code = absl::StatusCodeToString(record.result.code());
  const bool refused_by_auth =
      absl::IsUnauthenticated(record.result) || absl::IsPermissionDenied(record.result);
  Log(refused_by_auth ? LogLevel::kWarning : LogLevel::kInfo, "audit",
      {{"who", DescribeCaller(record.who)},
       {"peer", record.peer},
       {"method", record.method},
       {"service", record.service},
       {"version_before", record.version_before},
       {"version_after", record.version_after},
       {"result", code},
       {"error", record.result.message()}});
  if (events_ != nullptr) events_->Add({{"result", code}}).Increment();
  if (sink_ == nullptr) return;
  v1::AuditEvent event;
  event.set_who(DescribeCaller(record.who));
  event.set_peer(record.peer);
  event.set_method(record.method);
  event.set_service(record.service);
  event.set_version_before(record.version_before);
  event.set_version_after(record.version_after);
  event.set_code(code);
  event.set_error(std::string(record.result.message()));
  ToProtoTimestamp(record.at, event.mutable_time());
  sink_(std::move(event));
}

}  // namespace mast
