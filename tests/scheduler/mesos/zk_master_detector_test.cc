#include "scheduler/mesos/zk_master_detector.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/support/zk_test_util.h"

namespace mast::mesos {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kInfoM1[] =
    R"({"id":"a","ip":16777226,"port":5050,"pid":"master@10.0.0.1:5050","hostname":"m1",)"
    R"("version":"1.11.0","address":{"hostname":"m1","ip":"10.0.0.1","port":5050},)"
    R"("capabilities":[{"type":"AGENT_UPDATE"}]})";
constexpr char kInfoM2[] =
    R"({"id":"b","ip":33554442,"port":5051,"address":{"ip":"10.0.0.2","port":5051}})";

TEST(ZkMasterUrlTest, ParsesHostsPathAndCredentials) {
  auto url = ParseZkMasterUrl("zk://zk1:2181,zk2:2181/mesos");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->hosts, "zk1:2181,zk2:2181");
  EXPECT_EQ(url->path, "/mesos");
  EXPECT_TRUE(url->digest_auth.empty());
  auto auth = ParseZkMasterUrl("zk://u:p@zk1:2181/a/b");
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(auth->digest_auth, "u:p");
  EXPECT_EQ(auth->path, "/a/b");
  for (const char* bad : {"zk://zk1:2181", "http://x:1/mesos", "zk:///mesos", "zk://h:1/bad/"}) {
    EXPECT_FALSE(ParseZkMasterUrl(bad).ok()) << bad;
  }
}

TEST(ZkMasterUrlTest, MasterInfoJsonToUrl) {
  EXPECT_EQ(MasterUrlFromInfoJson(kInfoM1).value_or(""), "http://m1:5050");
  EXPECT_EQ(MasterUrlFromInfoJson(kInfoM2).value_or(""), "http://10.0.0.2:5051");
  // Only the deprecated fields: ip is IPv4 in network byte order.
  EXPECT_EQ(MasterUrlFromInfoJson(R"({"id":"c","ip":16777226,"port":5050})").value_or(""),
            "http://10.0.0.1:5050");
  EXPECT_EQ(MasterUrlFromInfoJson("not json").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(MasterUrlFromInfoJson(R"({"id":"d","ip":0,"port":0})").status().code(),
            absl::StatusCode::kDataLoss);
}

class ZkMasterDetectorTest : public ::testing::Test {
 protected:
  ZkMasterDetectorTest() : zk_(ensemble_, driven_.loop()) {}
  ~ZkMasterDetectorTest() override {
    detector_.reset();
    driven_.RunUntilIdle();
  }
  void Start() {
    detector_ = std::make_unique<ZkMasterDetector>(zk_, "/mesos");
    detector_->Watch([this](const std::optional<std::string>& m) { seen_.push_back(m); });
    zk_.Connect();
    driven_.RunUntilIdle();
  }
  void Create(const std::string& path, const std::string& data) {
    auto created = testing::CallOnLoop<absl::StatusOr<ZkCreated>>(driven_.loop(), [&](auto cb) {
      zk_.Create(path, data, ZkCreateMode::kPersistent, std::move(cb));
    });
    ASSERT_TRUE(created.ok()) << created.status();
    driven_.RunUntilIdle();
  }

  DrivenLoop driven_;
  testing::FakeZkEnsemble ensemble_;
  testing::FakeZkClient zk_;
  std::unique_ptr<ZkMasterDetector> detector_;
  std::vector<std::optional<std::string>> seen_;
};

TEST_F(ZkMasterDetectorTest, FollowsTheLowestSequenceAndIgnoresOtherNodes) {
  Start();
  EXPECT_THAT(seen_, ElementsAre(std::nullopt)) << "no path yet: no leader";
  Create("/mesos", "");
  Create("/mesos/log_replicas", "");
  Create("/mesos/json.info_0000000007", kInfoM2);
  Create("/mesos/json.info_0000000003", kInfoM1);
  ASSERT_FALSE(seen_.empty());
  EXPECT_EQ(seen_.back(), "http://m1:5050");
  ensemble_.Delete("/mesos/json.info_0000000003");  // the leader failed over
  driven_.RunUntilIdle();
  EXPECT_EQ(seen_.back(), "http://10.0.0.2:5051");
  ensemble_.Delete("/mesos/json.info_0000000007");
  driven_.RunUntilIdle();
  EXPECT_EQ(seen_.back(), std::nullopt);
}

TEST_F(ZkMasterDetectorTest, CorruptMasterInfoMeansNoLeaderNotACrash) {
  Start();
  Create("/mesos", "");
  Create("/mesos/json.info_0000000001", "{garbage");
  EXPECT_EQ(seen_.back(), std::nullopt);
  ensemble_.SetData("/mesos/json.info_0000000001", kInfoM1);
  ensemble_.Delete("/mesos/json.info_0000000001");
  Create("/mesos/json.info_0000000002", kInfoM1);
  EXPECT_EQ(seen_.back(), "http://m1:5050");
}

}  // namespace
}  // namespace mast::mesos
