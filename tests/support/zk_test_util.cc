#include "tests/support/zk_test_util.h"

#include "absl/strings/str_cat.h"

namespace mast::testing {
namespace {

class SharedZkEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { server.reset(); }
  std::unique_ptr<ZkServer> server;
};

SharedZkEnvironment* environment = nullptr;

}  // namespace

ZkServer& SharedZkServer() {
  if (environment == nullptr) {
    environment = new SharedZkEnvironment();
    ::testing::AddGlobalTestEnvironment(environment);  // owns it
  }
  if (environment->server == nullptr) {
    auto server = ZkServer::Launch();
    if (!server.ok()) {
      // Without the server these tests cannot mean anything: fail loudly.
      std::fprintf(stderr, "cannot start ZooKeeper: %s\n", server.status().ToString().c_str());
      std::abort();
    }
    environment->server = std::move(*server);
  }
  return *environment->server;
}

std::string TestRoot() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrCat("/t/", info->test_suite_name(), ".", info->name());
}

absl::StatusOr<LeaderTerm> TakeLeadershipForTest(ZkClient& zk, EventLoop& loop, Clock& clock,
                                                 const std::string& root) {
  auto made = CallOnLoop<absl::StatusOr<ZkCreated>>(loop, [&](auto cb) {
    zk.Create(root, "", ZkCreateMode::kPersistent, [](auto) {});
    zk.Create(root + "/election", "", ZkCreateMode::kPersistent, [](auto) {});
    zk.Create(root + "/election/n_x-", "", ZkCreateMode::kEphemeralSequential, std::move(cb));
  });
  if (!made.ok()) return made.status();
  return LeaderTerm{static_cast<uint64_t>(made->stat.czxid), made->path, clock.Now()};
}

}  // namespace mast::testing
