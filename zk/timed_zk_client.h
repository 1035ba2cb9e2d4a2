#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "zk/zk_client.h"

namespace mast {

// ZooKeeper request metrics, shared by every TimedZkClient of a process:
//   mast_zk_requests_total{op,code}   op: create, delete, exists, get,
//                                     get_children, set, multi; code: the
//                                     Status code name (NOT_FOUND is a normal
//                                     answer to exists/get)
//   mast_zk_request_seconds{op}       histogram, from the call to its answer
//                                     as the caller's loop sees it
// Thread-safe (prometheus-cpp); must outlive every client using it.
class ZkRequestMetrics {
 public:
  explicit ZkRequestMetrics(prometheus::Registry& registry);
  void Observe(const char* op, absl::StatusCode code, absl::Duration took);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& seconds_;
};

// A ZkClient that passes every request to `inner` and records its latency
// and result in `metrics`. Watches and session listeners pass through.
//
// Threads: like the wrapped client (its loop). The answer callbacks hold
// only `metrics` and `clock`, not this object, so an answer delivered after
// the wrapper is gone is still recorded. `inner`, `metrics` and `clock` must
// outlive every request made through it.
class TimedZkClient final : public ZkClient {
 public:
  TimedZkClient(ZkClient& inner, ZkRequestMetrics& metrics, const Clock& clock);

  void Create(const std::string& path, std::string data, ZkCreateMode mode,
              ZkCallback<absl::StatusOr<ZkCreated>> done) override;
  void Delete(const std::string& path, int32_t version, ZkCallback<absl::Status> done) override;
  void Exists(const std::string& path, ZkWatcher watcher,
              ZkCallback<absl::StatusOr<std::optional<ZkStat>>> done) override;
  void Get(const std::string& path, ZkWatcher watcher,
           ZkCallback<absl::StatusOr<ZkNode>> done) override;
  void GetChildren(const std::string& path, ZkWatcher watcher,
                   ZkCallback<absl::StatusOr<std::vector<std::string>>> done) override;
  void Set(const std::string& path, std::string data, int32_t version,
           ZkCallback<absl::StatusOr<ZkStat>> done) override;
  void Multi(std::vector<ZkOp> ops,
             ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done) override;
  void AddSessionListener(ZkSessionListener listener) override;

 private:
  // `done`, wrapped to record `op` when it runs.
  template <typename T>
  ZkCallback<T> Timed(const char* op, ZkCallback<T> done) const;

  ZkClient& inner_;
  ZkRequestMetrics& metrics_;
  const Clock& clock_;
};

}  // namespace mast
