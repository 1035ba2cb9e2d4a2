#pragma once

// The audit trail of writes: one structured log line for every write a
// replica refuses or performs.

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "auth/access.h"
#include "mast/v1/mast.pb.h"

namespace prometheus {
class Counter;
template <typename T>
class Family;
class Registry;
}  // namespace prometheus

namespace mast {

struct AuditRecord {
  auth::Identity who;
  std::string peer;     // the caller's address as gRPC reports it
  std::string method;   // e.g. "ScaleService"
  std::string service;  // the service written
  // The service's version before and after (0: none, or not known here).
  uint64_t version_before = 0;
  uint64_t version_after = 0;
  // Refused (UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT...) or
  // performed (OK). Writes a follower forwards are audited by the leader
  // that performs them; the follower audits only what it refuses itself.
  absl::Status result;
  absl::Time at;  // when it was decided
};

// Writes event=audit lines (level info; warning for refusals by auth) and
// counts mast_audit_events_total{result}; counts every call refused by auth,
// read or write, in mast_auth_denials_total{code}. Thread-safe.
class AuditLog {
 public:
  // Receives every record as an event too (for WatchEvents), on the thread
  // that records it; it must not block.
  using Sink = std::function<void(v1::AuditEvent)>;

  // `registry` may be null (no counting), `sink` too.
  explicit AuditLog(prometheus::Registry* registry, Sink sink = nullptr);
  void Record(const AuditRecord& record);
  // A call refused with `status` (UNAUTHENTICATED or PERMISSION_DENIED).
  void CountDenial(const absl::Status& status);

 private:
  prometheus::Family<prometheus::Counter>* events_ = nullptr;
  prometheus::Family<prometheus::Counter>* denials_ = nullptr;
  const Sink sink_;
};

// "token:alice", "certificate:spiffe://...", "anonymous".
std::string DescribeCaller(const auth::Identity& who);

}  // namespace mast
