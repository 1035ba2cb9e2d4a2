#include "auth/policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mast::auth {
namespace {

using ::testing::HasSubstr;

const Identity kAlice{Identity::Kind::kToken, "alice"};
const Identity kOps{Identity::Kind::kCertificate, "spiffe://mast/ops"};
const Identity kNobody{};

Policy Parse(absl::string_view text) {
  absl::StatusOr<Policy> policy = ParsePolicy(text, "policy");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy : Policy();
}

TEST(PolicyTest, GrantsByPrefixWithRolesIncludingTheLowerOnes) {
  Policy policy = Parse(
      "grant alice write team/\n"
      "grant alice read shared/\n"
      "grant spiffe://mast/ops admin *\n");
  EXPECT_TRUE(policy.Allows(kAlice, Role::kRead, "team/web"));
  EXPECT_TRUE(policy.Allows(kAlice, Role::kWrite, "team/web"));
  EXPECT_FALSE(policy.Allows(kAlice, Role::kAdmin, "team/web"));
  EXPECT_FALSE(policy.Allows(kAlice, Role::kRead, "teamx/web"));  // a prefix, not a pattern
  EXPECT_TRUE(policy.Allows(kAlice, Role::kRead, "shared/db"));
  EXPECT_FALSE(policy.Allows(kAlice, Role::kWrite, "shared/db"));
  EXPECT_FALSE(policy.Allows(kAlice, Role::kRead, ""));  // every service: only with *
  EXPECT_TRUE(policy.Allows(kOps, Role::kAdmin, ""));
  EXPECT_TRUE(policy.Allows(kOps, Role::kWrite, "team/web"));
  // A certificate and a token of the same name are the same identity; kinds
  // only tell how it was proven.
  EXPECT_FALSE(policy.Allows(Identity{Identity::Kind::kToken, "bob"}, Role::kRead, "team/web"));
  EXPECT_FALSE(policy.Allows(kNobody, Role::kRead, "team/web"));
  EXPECT_FALSE(policy.HasAnonymousGrants());
}

TEST(PolicyTest, AnonymousGrantsApplyToEveryone) {
  Policy policy = Parse("anonymous read public/\ngrant alice write team/\n");
  EXPECT_TRUE(policy.HasAnonymousGrants());
  EXPECT_TRUE(policy.Allows(kNobody, Role::kRead, "public/status"));
  EXPECT_FALSE(policy.Allows(kNobody, Role::kWrite, "public/status"));
  EXPECT_FALSE(policy.Allows(kNobody, Role::kRead, "team/web"));
  EXPECT_TRUE(policy.Allows(kAlice, Role::kRead, "public/status"));
}

TEST(PolicyTest, ForwardersAreNamedIdentities) {
  Policy policy = Parse("forwarder spiffe://mast/replica\n");
  EXPECT_TRUE(policy.IsForwarder("spiffe://mast/replica"));
  EXPECT_FALSE(policy.IsForwarder("alice"));
  EXPECT_FALSE(policy.Allows(Identity{Identity::Kind::kCertificate, "spiffe://mast/replica"},
                             Role::kRead, "team/web"));
}

TEST(ParsePolicyTest, EveryErrorNamesTheFileAndLine) {
  struct Case {
    std::string text;
    std::string expect;
  };
  const Case cases[] = {
      {"grant alice write\n", "policy:1: want 'grant <identity> <role> <prefix>'"},
      {"# c\ngrant alice owner team/\n", "policy:2: role 'owner': want read, write or admin"},
      {"grant alice read Team/\n", "policy:1: prefix 'Team/'"},
      {"grant al\"ice read team/\n", "policy:1: identity 'al\"ice'"},
      {"anonymous read\n", "policy:1: want 'anonymous <role> <prefix>'"},
      {"forwarder\n", "policy:1: want 'forwarder <identity>'"},
      {"allow alice read team/\n", "policy:1: unknown rule 'allow'"},
      {std::string(5000, 'x'), "policy:1: line longer than 4096 bytes"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Policy> policy = ParsePolicy(c.text, "policy");
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(policy.status().message(), HasSubstr(c.expect)) << c.text;
  }
}

}  // namespace
}  // namespace mast::auth
