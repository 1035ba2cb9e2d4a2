#pragma once

// Per-method request counts, result codes and latencies of a gRPC server,
// measured by a server interceptor so that every service on the server (the
// Mast API, health, reflection) is covered without touching its handlers.

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "grpcpp/support/server_interceptor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace mast {

// Exports, labelled by method ("mast.v1.Mast/CreateService"):
//   mast_grpc_server_started_total{method}
//   mast_grpc_server_handled_total{method,code}   code: OK, NOT_FOUND, ...
//   mast_grpc_server_handling_seconds{method}      histogram, start to status
// A call is started when its initial metadata arrives and handled when the
// server sends its status; a streaming call (WatchEvents) is one call that
// lasts as long as the stream.
//
// Thread-safe: gRPC's threads call the interceptors concurrently. The
// registry and clock must outlive this object and the server using it.
class GrpcServerMetrics {
 public:
  GrpcServerMetrics(prometheus::Registry& registry, const Clock& clock);

  // For ServerBuilder::experimental().SetInterceptorCreators(); the factory
  // refers to this object, which must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();

  // What the interceptor reports (public for tests of the bookkeeping).
  void Started(const std::string& method);
  void Handled(const std::string& method, grpc::StatusCode code, absl::Duration took);

  const Clock& clock() const { return clock_; }

 private:
  struct PerMethod {
    prometheus::Counter* started;
    prometheus::Histogram* seconds;
  };
  PerMethod& For(const std::string& method) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& seconds_;
  absl::Mutex mu_;
  // The family's Add() looks labels up under its own lock and hashes them
  // every time; this keeps the per-method pointers for the hot path.
  absl::flat_hash_map<std::string, PerMethod> methods_ ABSL_GUARDED_BY(mu_);
};

// The label gRPC's full method name gets: "/pkg.Service/Method" without the
// leading slash; "unknown" when empty.
std::string MethodLabel(const char* full_method);

// The canonical upper-case name of a gRPC status code ("DEADLINE_EXCEEDED").
std::string GrpcCodeName(grpc::StatusCode code);

}  // namespace mast
