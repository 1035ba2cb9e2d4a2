#include "api/grpc_server_metrics.h"

#include <utility>

#include "absl/status/status.h"

namespace mast {

namespace {

// Seconds: from a cached read (~100 µs) to a long watch stream.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *buckets;
}

// One per call: gRPC creates it when the call starts and destroys it after
// the call ends, calling Intercept() from whichever thread runs each batch.
class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(GrpcServerMetrics& metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), started_at_(metrics.clock().Now()) {
    metrics_.Started(method_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_.Handled(method_, methods->GetSendStatus().error_code(),
                       metrics_.clock().Now() - started_at_);
    }
    methods->Proceed();
  }

 private:
  GrpcServerMetrics& metrics_;
  const std::string method_;
  const absl::Time started_at_;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(GrpcServerMetrics& metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, MethodLabel(info->method()));
  }

 private:
  GrpcServerMetrics& metrics_;
};

}  // namespace

std::string MethodLabel(const char* full_method) {
  std::string method = full_method == nullptr ? "" : full_method;
  if (!method.empty() && method.front() == '/') method.erase(0, 1);
  return method.empty() ? "unknown" : method;
}

std::string GrpcCodeName(grpc::StatusCode code) {
  // gRPC's and abseil's codes are the same numbers (both follow
  // google.rpc.Code); abseil knows their names.
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

GrpcServerMetrics::GrpcServerMetrics(prometheus::Registry& registry, const Clock& clock)
    : clock_(clock),
      started_(prometheus::BuildCounter()
                   .Name("mast_grpc_server_started_total")
                   .Help("gRPC calls started on this replica's server, by method.")
                   .Register(registry)),
      handled_(prometheus::BuildCounter()
                   .Name("mast_grpc_server_handled_total")
                   .Help("gRPC calls this replica's server finished, by method and status code.")
                   .Register(registry)),
      seconds_(prometheus::BuildHistogram()
                   .Name("mast_grpc_server_handling_seconds")
                   .Help("Time from a gRPC call's start to its status, by method (a watch "
                         "stream counts its whole life).")
                   .Register(registry)) {}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcServerMetrics::NewInterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(*this);
}

GrpcServerMetrics::PerMethod& GrpcServerMetrics::For(const std::string& method) {
  auto it = methods_.find(method);
  if (it == methods_.end()) {
    it = methods_
             .emplace(method, PerMethod{&started_.Add({{"method", method}}),
                                        &seconds_.Add({{"method", method}}, LatencyBuckets())})
             .first;
  }
  return it->second;
}

void GrpcServerMetrics::Started(const std::string& method) {
  absl::MutexLock lock(&mu_);
  For(method).started->Increment();
}

void GrpcServerMetrics::Handled(const std::string& method, grpc::StatusCode code,
                                absl::Duration took) {
  prometheus::Counter* handled;
  prometheus::Histogram* seconds;
  {
    absl::MutexLock lock(&mu_);
    seconds = For(method).seconds;
    handled = &handled_.Add({{"method", method}, {"code", GrpcCodeName(code)}});
  }
  handled->Increment();
  seconds->Observe(absl::ToDoubleSeconds(took));
}

}  // namespace mast
