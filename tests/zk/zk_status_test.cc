#include "zk/zk_status.h"

#include <zookeeper/zookeeper.h>

#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "zk/zk_client.h"

namespace mast {
namespace {

TEST(ZkStatusTest, MapsCodesByWhatTheCallerShouldDo) {
  const std::pair<int, absl::StatusCode> cases[] = {
      {ZOK, absl::StatusCode::kOk},
      {ZCONNECTIONLOSS, absl::StatusCode::kUnavailable},
      {ZOPERATIONTIMEOUT, absl::StatusCode::kUnavailable},
      {ZSESSIONEXPIRED, absl::StatusCode::kUnavailable},
      {ZCLOSING, absl::StatusCode::kUnavailable},
      {ZBADVERSION, absl::StatusCode::kAborted},
      {ZNONODE, absl::StatusCode::kNotFound},
      {ZNODEEXISTS, absl::StatusCode::kAlreadyExists},
      {ZNOTEMPTY, absl::StatusCode::kFailedPrecondition},
      {ZNOAUTH, absl::StatusCode::kPermissionDenied},
      {ZBADARGUMENTS, absl::StatusCode::kInvalidArgument},
      {ZMARSHALLINGERROR, absl::StatusCode::kInternal},
  };
  for (const auto& [rc, code] : cases) {
    EXPECT_EQ(ZkErrorToStatus(rc, "get /x").code(), code) << zerror(rc);
  }
  absl::Status status = ZkErrorToStatus(ZNONODE, "get /mast/x");
  EXPECT_NE(status.message().find("get /mast/x"), absl::string_view::npos);
}

TEST(ZkStatusTest, ValidatesPaths) {
  EXPECT_TRUE(ValidateZkPath("/").ok());
  EXPECT_TRUE(ValidateZkPath("/mast").ok());
  EXPECT_TRUE(ValidateZkPath("/mast/prod-1/election").ok());
  for (const char* bad : {"", "mast", "/mast/", "//mast", "/mast//x", "/mast/./x", "/mast/../x",
                          "/zookeeper", "/zookeeper/quota", "/ma\x01st"}) {
    EXPECT_EQ(ValidateZkPath(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ZkSessionStateTest, PrintsItsName) {
  const std::pair<ZkSessionState, std::string> cases[] = {
      {ZkSessionState::kConnecting, "connecting"},  {ZkSessionState::kConnected, "connected"},
      {ZkSessionState::kSuspended, "suspended"},    {ZkSessionState::kExpired, "expired"},
      {ZkSessionState::kAuthFailed, "auth_failed"}, {ZkSessionState::kClosed, "closed"},
  };
  for (const auto& [state, name] : cases) {
    std::ostringstream os;
    os << state;
    EXPECT_EQ(os.str(), name);
    EXPECT_EQ(ZkSessionStateName(state), name);
  }
}

}  // namespace
}  // namespace mast
