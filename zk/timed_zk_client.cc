#include "zk/timed_zk_client.h"

namespace mast {

namespace {

// ZooKeeper answers in about a millisecond on a healthy ensemble; the tail
// buckets show a struggling one (fsync stalls, elections, GC).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *buckets;
}

absl::StatusCode CodeOf(const absl::Status& status) { return status.code(); }
template <typename T>
absl::StatusCode CodeOf(const absl::StatusOr<T>& result) {
  return result.status().code();
}

}  // namespace

ZkRequestMetrics::ZkRequestMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("mast_zk_requests_total")
                    .Help("ZooKeeper requests answered, by operation and status code.")
                    .Register(registry)),
      seconds_(prometheus::BuildHistogram()
                   .Name("mast_zk_request_seconds")
                   .Help("Time from a ZooKeeper request to its answer, by operation.")
                   .Register(registry)) {}

void ZkRequestMetrics::Observe(const char* op, absl::StatusCode code, absl::Duration took) {
  requests_.Add({{"op", op}, {"code", absl::StatusCodeToString(code)}}).Increment();
  seconds_.Add({{"op", op}}, LatencyBuckets()).Observe(absl::ToDoubleSeconds(took));
}

TimedZkClient::TimedZkClient(ZkClient& inner, ZkRequestMetrics& metrics, const Clock& clock)
    : inner_(inner), metrics_(metrics), clock_(clock) {}

template <typename T>
ZkCallback<T> TimedZkClient::Timed(const char* op, ZkCallback<T> done) const {
  return [op, metrics = &metrics_, clock = &clock_, start = clock_.Now(),
          done = std::move(done)](T result) mutable {
    metrics->Observe(op, CodeOf(result), clock->Now() - start);
    std::move(done)(std::move(result));
  };
}

void TimedZkClient::Create(const std::string& path, std::string data, ZkCreateMode mode,
                           ZkCallback<absl::StatusOr<ZkCreated>> done) {
  inner_.Create(path, std::move(data), mode, Timed("create", std::move(done)));
}

void TimedZkClient::Delete(const std::string& path, int32_t version,
                           ZkCallback<absl::Status> done) {
  inner_.Delete(path, version, Timed("delete", std::move(done)));
}

void TimedZkClient::Exists(const std::string& path, ZkWatcher watcher,
                           ZkCallback<absl::StatusOr<std::optional<ZkStat>>> done) {
  inner_.Exists(path, std::move(watcher), Timed("exists", std::move(done)));
}

void TimedZkClient::Get(const std::string& path, ZkWatcher watcher,
                        ZkCallback<absl::StatusOr<ZkNode>> done) {
  inner_.Get(path, std::move(watcher), Timed("get", std::move(done)));
}

void TimedZkClient::GetChildren(const std::string& path, ZkWatcher watcher,
                                ZkCallback<absl::StatusOr<std::vector<std::string>>> done) {
  inner_.GetChildren(path, std::move(watcher), Timed("get_children", std::move(done)));
}

void TimedZkClient::Set(const std::string& path, std::string data, int32_t version,
                        ZkCallback<absl::StatusOr<ZkStat>> done) {
  inner_.Set(path, std::move(data), version, Timed("set", std::move(done)));
}

void TimedZkClient::Multi(std::vector<ZkOp> ops,
                          ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done) {
  inner_.Multi(std::move(ops), Timed("multi", std::move(done)));
}

void TimedZkClient::AddSessionListener(ZkSessionListener listener) {
  inner_.AddSessionListener(std::move(listener));
}

}  // namespace mast
