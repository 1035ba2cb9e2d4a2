// GrpcServerMetrics: a real gRPC server on loopback with the interceptor,
// calls that succeed and fail, and a manual clock the handler advances so
// the latency observed is exact.

#include "api/grpc_server_metrics.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/fakes/manual_clock.h"
#include "tests/support/metric_value.h"

namespace mast {
namespace {

namespace health = ::grpc::health::v1;
using testing::MetricValue;

// Answers Check for "web" after 30 ms of manual time, NOT_FOUND otherwise.
class SlowHealth final : public health::Health::Service {
 public:
  explicit SlowHealth(ManualClock& clock) : clock_(clock) {}
  grpc::Status Check(grpc::ServerContext*, const health::HealthCheckRequest* request,
                     health::HealthCheckResponse* response) override {
    clock_.Advance(absl::Milliseconds(30));
    if (request->service() != "web") return grpc::Status(grpc::StatusCode::NOT_FOUND, "no");
    response->set_status(health::HealthCheckResponse::SERVING);
    return grpc::Status::OK;
  }

 private:
  ManualClock& clock_;
};

class GrpcServerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(metrics_.NewInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = health::Health::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  grpc::Status Check(const std::string& service) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    health::HealthCheckRequest request;
    request.set_service(service);
    health::HealthCheckResponse response;
    return stub_->Check(&context, request, &response);
  }

  static constexpr const char* kCheck = "grpc.health.v1.Health/Check";
  prometheus::Registry registry_;
  ManualClock clock_;
  GrpcServerMetrics metrics_{registry_, clock_};
  SlowHealth service_{clock_};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<health::Health::Stub> stub_;
};

TEST_F(GrpcServerMetricsTest, CountsCallsByMethodAndCode) {
  ASSERT_TRUE(Check("web").ok());
  ASSERT_TRUE(Check("web").ok());
  ASSERT_EQ(Check("db").error_code(), grpc::StatusCode::NOT_FOUND);

  EXPECT_EQ(MetricValue(registry_, "mast_grpc_server_started_total", {{"method", kCheck}}), 3);
  EXPECT_EQ(MetricValue(registry_, "mast_grpc_server_handled_total",
                        {{"method", kCheck}, {"code", "OK"}}),
            2);
  EXPECT_EQ(MetricValue(registry_, "mast_grpc_server_handled_total",
                        {{"method", kCheck}, {"code", "NOT_FOUND"}}),
            1);
  EXPECT_EQ(MetricValue(registry_, "mast_grpc_server_handled_total",
                        {{"method", kCheck}, {"code", "INTERNAL"}}),
            -1);
}

TEST_F(GrpcServerMetricsTest, ObservesTheTimeFromStartToStatus) {
  ASSERT_TRUE(Check("web").ok());
  ASSERT_EQ(Check("db").error_code(), grpc::StatusCode::NOT_FOUND);
  std::optional<testing::HistogramValue> sample =
      testing::HistogramOf(registry_, "mast_grpc_server_handling_seconds", {{"method", kCheck}});
  ASSERT_TRUE(sample.has_value());
  EXPECT_EQ(sample->count, 2u);
  EXPECT_NEAR(sample->sum, 0.060, 1e-9);  // 30 ms of manual time per call
}

TEST(GrpcServerMetricsLabelsTest, MethodAndCodeNames) {
  EXPECT_EQ(MethodLabel("/mast.v1.Mast/CreateService"), "mast.v1.Mast/CreateService");
  EXPECT_EQ(MethodLabel(""), "unknown");
  EXPECT_EQ(MethodLabel(nullptr), "unknown");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::PERMISSION_DENIED), "PERMISSION_DENIED");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
}

}  // namespace
}  // namespace mast
