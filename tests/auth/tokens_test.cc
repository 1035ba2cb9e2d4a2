#include "auth/tokens.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mast::auth {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

TEST(Sha256HexTest, MatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(IsValidIdentityNameTest, AllowsNamesAndSpiffeUrisOnly) {
  EXPECT_TRUE(IsValidIdentityName("ci-deployer"));
  EXPECT_TRUE(IsValidIdentityName("spiffe://mast/replica-0"));
  EXPECT_TRUE(IsValidIdentityName("alice@example.com"));
  EXPECT_FALSE(IsValidIdentityName(""));
  EXPECT_FALSE(IsValidIdentityName("has space"));
  EXPECT_FALSE(IsValidIdentityName("quote\""));
  EXPECT_FALSE(IsValidIdentityName(std::string(256, 'a')));
}

TEST(TokenTableTest, IdentifiesByHashAndRefusesUnknownAndExpiredTokens) {
  std::string text = absl::StrCat("# deployers\n", "ci sha256:", Sha256Hex("ci-token"), "\n", "\n",
                                  "old sha256:", Sha256Hex("old-token"),
                                  " expires=2027-01-15T00:00:00Z  # rotated\n");
  absl::StatusOr<TokenTable> table = ParseTokens(text, "tokens");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  EXPECT_EQ(table->Identify("ci-token", kNow).value_or(""), "ci");
  absl::StatusOr<std::string> unknown = table->Identify("guess", kNow);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown token"));
  // 2027-01-15 is before kNow (2027-01-15T08:00:00Z).
  absl::StatusOr<std::string> expired = table->Identify("old-token", kNow);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(expired.status().message(), HasSubstr("token of old expired at 2027-01-15"));
  EXPECT_EQ(table->Identify("old-token", absl::FromUnixSeconds(1'700'000'000)).value_or(""), "old");
}

TEST(ParseTokensTest, EveryErrorNamesTheFileAndLine) {
  const std::string hash = Sha256Hex("t");
  struct Case {
    std::string text;
    std::string expect;
  };
  const Case cases[] = {
      {"ci\n", "tokens:1: want '<identity> sha256:<hex>"},
      {absl::StrCat("\n\nci md5:", hash, "\n"), "tokens:3: the hash must be sha256:"},
      {"ci sha256:ABCDEF\n", "tokens:1: the hash must be sha256:"},
      {absl::StrCat("ci sha256:", std::string(64, 'G')), "tokens:1: the hash"},
      {absl::StrCat("bad\"name sha256:", hash), "tokens:1: identity 'bad\"name'"},
      {absl::StrCat("ci sha256:", hash, " expires=tomorrow"), "tokens:1: 'expires=tomorrow'"},
      {absl::StrCat("ci sha256:", hash, " x=1"), "tokens:1: 'x=1'"},
      {absl::StrCat("a sha256:", hash, "\nb sha256:", hash), "tokens:2: this hash is listed twice"},
      {absl::StrCat("a sha256:", hash, " e=1 extra"), "tokens:1: want"},
      {std::string("a\0b", 3), "tokens:1: NUL byte"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TokenTable> table = ParseTokens(c.text, "tokens");
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(table.status().message(), HasSubstr(c.expect)) << c.text;
  }
}

}  // namespace
}  // namespace mast::auth
