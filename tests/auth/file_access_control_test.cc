#include "auth/file_access_control.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "auth/tokens.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/fakes/manual_clock.h"
#include "tests/support/metric_value.h"

namespace mast::auth {
namespace {

using ::mast::ManualClock;
using ::testing::HasSubstr;

class FileAccessControlTest : public ::testing::Test {
 protected:
  FileAccessControlTest() {
    char pattern[] = "/tmp/mast-auth-XXXXXX";
    dir_ = mkdtemp(pattern);
    tokens_ = dir_ + "/tokens";
    policy_ = dir_ + "/policy";
    Write(tokens_, absl::StrCat("alice sha256:", Sha256Hex("alice-token"), "\n",
                                "replica sha256:", Sha256Hex("replica-token"), "\n"));
    Write(policy_, "grant alice write team/\nforwarder replica\n");
  }
  ~FileAccessControlTest() override {
    std::remove(tokens_.c_str());
    std::remove(policy_.c_str());
    rmdir(dir_.c_str());
  }
  // Replaced through a rename, as editors and Kubernetes do.
  static void Write(const std::string& path, const std::string& text) {
    std::string next = path + ".next";
    std::ofstream(next) << text;
    std::rename(next.c_str(), path.c_str());
  }
  absl::StatusOr<std::unique_ptr<AccessControl>> Make() {
    FileAccessControlConfig config;
    config.tokens_file = tokens_;
    config.policy_file = policy_;
    config.reload_interval = absl::Seconds(5);
    config.clock = &clock_;
    config.registry = &registry_;
    return MakeFileAccessControl(config);
  }
  absl::StatusOr<Identity> WithToken(AccessControl& access, const std::string& token) {
    Credentials credentials;
    credentials.bearer_token = token;
    return access.Authenticate(credentials, clock_.Now());
  }
  double Reloads(const std::string& file, const std::string& result) {
    return ::mast::testing::MetricValue(registry_, "mast_auth_file_reloads_total",
                                        {{"file", file}, {"result", result}});
  }

  ManualClock clock_;
  prometheus::Registry registry_;
  std::string dir_, tokens_, policy_;
};

TEST_F(FileAccessControlTest, TokensCertificatesAndNoCredentials) {
  auto access = Make();
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_FALSE((*access)->Open());
  absl::StatusOr<Identity> alice = WithToken(**access, "alice-token");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->kind, Identity::Kind::kToken);
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(WithToken(**access, "wrong").status().code(), absl::StatusCode::kUnauthenticated);
  // A wrong token is refused even with a certificate beside it.
  Credentials both;
  both.bearer_token = "wrong";
  both.certificate_identity = "alice";
  EXPECT_EQ((*access)->Authenticate(both, clock_.Now()).status().code(),
            absl::StatusCode::kUnauthenticated);
  Credentials certificate;
  certificate.certificate_identity = "spiffe://mast/ci";
  absl::StatusOr<Identity> ci = (*access)->Authenticate(certificate, clock_.Now());
  ASSERT_TRUE(ci.ok()) << ci.status();
  EXPECT_EQ(ci->kind, Identity::Kind::kCertificate);
  absl::StatusOr<Identity> none = (*access)->Authenticate(Credentials(), clock_.Now());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(none.status().message(), HasSubstr("no credentials"));
}

TEST_F(FileAccessControlTest, AuthorizesByThePolicyAndNamesWhatIsMissing) {
  auto access = Make();
  ASSERT_TRUE(access.ok()) << access.status();
  Identity alice = *WithToken(**access, "alice-token");
  EXPECT_TRUE((*access)->Authorize(alice, Role::kWrite, "team/web").ok());
  absl::Status denied = (*access)->Authorize(alice, Role::kWrite, "other/web");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message(), "token alice does not hold write on service other/web");
  EXPECT_EQ((*access)->Authorize(alice, Role::kAdmin, "").message(),
            "token alice does not hold admin on every service");
  EXPECT_TRUE((*access)->MayActForOthers(*WithToken(**access, "replica-token")));
  EXPECT_FALSE((*access)->MayActForOthers(alice));
}

TEST_F(FileAccessControlTest, ReloadsAChangedFileAfterTheIntervalAndKeepsTheLastGoodOne) {
  auto access = Make();
  ASSERT_TRUE(access.ok()) << access.status();
  Identity alice = *WithToken(**access, "alice-token");
  Write(policy_, "grant alice read team/\n");
  // Not looked at before the interval.
  clock_.Advance(absl::Seconds(4));
  EXPECT_TRUE((*access)->Authorize(alice, Role::kWrite, "team/web").ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE((*access)->Authorize(alice, Role::kWrite, "team/web").ok());
  EXPECT_TRUE((*access)->Authorize(alice, Role::kRead, "team/web").ok());
  EXPECT_EQ(Reloads("policy", "ok"), 1);

  // A broken file: logged, counted, the last good policy stays.
  Write(policy_, "grant alice bogus team/\n");
  clock_.Advance(absl::Seconds(5));
  EXPECT_TRUE((*access)->Authorize(alice, Role::kRead, "team/web").ok());
  EXPECT_EQ(Reloads("policy", "error"), 1);
  // A removed tokens file too.
  std::remove(tokens_.c_str());
  clock_.Advance(absl::Seconds(5));
  EXPECT_TRUE(WithToken(**access, "alice-token").ok());
  EXPECT_EQ(Reloads("tokens", "error"), 1);
  // A new token takes effect once the file is back.
  Write(tokens_, absl::StrCat("bob sha256:", Sha256Hex("bob-token"), "\n"));
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(WithToken(**access, "bob-token").value_or(Identity()).name, "bob");
  EXPECT_EQ(WithToken(**access, "alice-token").status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(FileAccessControlTest, ExpiredTokensAreRefusedByTheClock) {
  Write(tokens_, absl::StrCat("temp sha256:", Sha256Hex("temp-token"), " expires=",
                              absl::FormatTime(absl::RFC3339_sec, clock_.Now() + absl::Hours(1),
                                               absl::UTCTimeZone()),
                              "\n"));
  auto access = Make();
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_TRUE(WithToken(**access, "temp-token").ok());
  clock_.Advance(absl::Hours(1));
  absl::StatusOr<Identity> expired = WithToken(**access, "temp-token");
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(expired.status().message(), HasSubstr("expired"));
}

TEST_F(FileAccessControlTest, StartFailsOnAMissingOrInvalidFileNamingIt) {
  Write(policy_, "grant alice write team/\ngrant bob\n");
  auto invalid = Make();
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(invalid.status().message(), HasSubstr(policy_ + ":2: want 'grant"));
  std::remove(policy_.c_str());
  auto missing = Make();
  EXPECT_THAT(missing.status().message(), HasSubstr(policy_));
  FileAccessControlConfig no_policy;
  EXPECT_EQ(MakeFileAccessControl(no_policy).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mast::auth
