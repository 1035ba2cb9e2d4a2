#include "zk/zk_acl_check.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/fakes/manual_clock.h"

namespace mast {
namespace {

using ::mast::testing::FakeZkClient;
using ::mast::testing::FakeZkEnsemble;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

const ZkAclEntry kWorld{"world", "anyone", 31};
const ZkAclEntry kDigest{"digest", "mast:abc=", 31};

// The fake ensemble keeps no ACLs: the test says what each path's ACL is
// (digest-only unless listed), and which reads fail.
class ZkAclCheckTest : public ::testing::Test {
 protected:
  ZkAclCheckTest() : loop_(clock_, "zk"), zk_(ensemble_, loop_) {
    zk_.Connect();
    Settle();
  }
  void Settle() {
    for (int i = 0; i < 20; ++i) loop_.Flush();
  }
  void Make(const std::vector<std::string>& paths) {
    loop_.Post([&] {
      for (const std::string& path : paths) {
        zk_.Create(path, "", ZkCreateMode::kPersistent,
                   [](auto created) { ASSERT_TRUE(created.ok()) << created.status(); });
      }
    });
    Settle();
  }
  absl::StatusOr<ZkAclCheckResult> Check(int max_znodes = 100) {
    std::optional<absl::StatusOr<ZkAclCheckResult>> result;
    ZkAclReader reader = [this](const std::string& path, auto done) {
      reads_.push_back(path);
      if (failing_ == path) return std::move(done)(absl::UnavailableError("connection lost"));
      if (!ensemble_.Exists(path)) return std::move(done)(absl::NotFoundError(path));
      if (open_.count(path)) return std::move(done)(std::vector<ZkAclEntry>{kWorld});
      std::move(done)(std::vector<ZkAclEntry>{kDigest});
    };
    loop_.Post([&] {
      CheckZkAcls(zk_, reader, "/mast", max_znodes, [&](auto r) { result = std::move(r); });
    });
    Settle();
    EXPECT_TRUE(result.has_value());
    return result.value_or(absl::InternalError("check never finished"));
  }

  ManualClock clock_;
  EventLoop loop_;
  FakeZkEnsemble ensemble_;
  FakeZkClient zk_;
  std::map<std::string, bool> open_;
  std::string failing_;
  std::vector<std::string> reads_;
};

TEST(IsOpenAclTest, OnlyAWorldAnyoneEntryWithPermissionsIsOpen) {
  EXPECT_TRUE(IsOpenAcl({kDigest, kWorld}));
  EXPECT_FALSE(IsOpenAcl({kDigest}));
  EXPECT_FALSE(IsOpenAcl({}));
  EXPECT_FALSE(IsOpenAcl({{"world", "anyone", 0}}));
  EXPECT_FALSE(IsOpenAcl({{"ip", "127.0.0.1", 31}}));
}

TEST_F(ZkAclCheckTest, AMissingRootIsFine) {
  absl::StatusOr<ZkAclCheckResult> result = Check();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->checked, 0);
  EXPECT_TRUE(result->open_paths.empty());
}

TEST_F(ZkAclCheckTest, FindsOpenZnodesDownToTheRecordsUnderTheDirectories) {
  Make({"/mast", "/mast/services", "/mast/services/a", "/mast/services/a/deep", "/mast/tasks",
        "/other"});
  open_ = {{"/mast/services/a", true},
           {"/mast/tasks", true},
           {"/mast/services/a/deep", true},
           {"/other", true}};
  absl::StatusOr<ZkAclCheckResult> result = Check();
  ASSERT_TRUE(result.ok()) << result.status();
  // Depth 3 (/mast/services/a/deep) is not read; nothing outside the root is.
  EXPECT_EQ(result->checked, 4);
  EXPECT_THAT(result->open_paths, UnorderedElementsAre("/mast/services/a", "/mast/tasks"));
  EXPECT_THAT(reads_,
              UnorderedElementsAre("/mast", "/mast/services", "/mast/tasks", "/mast/services/a"));
}

TEST_F(ZkAclCheckTest, AClosedTreeReportsNothing) {
  Make({"/mast", "/mast/services", "/mast/services/a"});
  absl::StatusOr<ZkAclCheckResult> result = Check();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->checked, 3);
  EXPECT_TRUE(result->open_paths.empty());
}

TEST_F(ZkAclCheckTest, StopsAfterMaxZnodes) {
  Make({"/mast", "/mast/a", "/mast/b", "/mast/c"});
  absl::StatusOr<ZkAclCheckResult> result = Check(/*max_znodes=*/2);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->checked, 2);
  EXPECT_EQ(reads_.size(), 2u);
}

TEST_F(ZkAclCheckTest, AFailedReadEndsTheCheckWithItsError) {
  Make({"/mast", "/mast/services"});
  failing_ = "/mast/services";
  absl::StatusOr<ZkAclCheckResult> result = Check();
  EXPECT_TRUE(absl::IsUnavailable(result.status())) << result.status();
}

}  // namespace
}  // namespace mast
