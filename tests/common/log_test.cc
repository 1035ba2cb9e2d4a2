#include "common/log.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/processes/flat_json.h"

namespace mast {
namespace {

// Captures what Log() writes to stderr.
std::string CaptureLog(const std::function<void()>& fn) {
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int pipes[2];
  EXPECT_EQ(pipe(pipes), 0);
  dup2(pipes[1], STDERR_FILENO);
  fn();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(pipes[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipes[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(pipes[0]);
  return out;
}

TEST(LogTest, WritesOneLogfmtLinePerEvent) {
  std::string out = CaptureLog([] {
    LogInfo("leader_started", {{"fencing_token", uint64_t{42}},
                               {"reason", "two words"},
                               {"quote", "a\"b"},
                               {"flag", true}});
  });
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "exactly one line";
  EXPECT_EQ(out.rfind("ts=", 0), 0u);
  EXPECT_NE(out.find(" level=info"), std::string::npos);
  EXPECT_NE(out.find(" event=leader_started"), std::string::npos);
  EXPECT_NE(out.find(" fencing_token=42"), std::string::npos);
  EXPECT_NE(out.find(" reason=\"two words\""), std::string::npos);
  EXPECT_NE(out.find(" quote=\"a\\\"b\""), std::string::npos);
  EXPECT_NE(out.find(" flag=true"), std::string::npos);
}

TEST(LogTest, EscapesNewlinesSoALineStaysOneLine) {
  std::string out = CaptureLog([] { LogWarning("x", {{"msg", "a\nb"}}); });
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  EXPECT_NE(out.find("msg=\"a\\nb\""), std::string::npos);
}

TEST(LogTest, DropsLinesBelowTheMinimumLevel) {
  SetMinLogLevel(LogLevel::kWarning);
  std::string out = CaptureLog([] { LogInfo("quiet"); });
  SetMinLogLevel(LogLevel::kInfo);
  EXPECT_TRUE(out.empty());
}

TEST(LogTest, JsonQuoteEscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote(""), "\"\"");
  EXPECT_EQ(JsonQuote("plain text"), "\"plain text\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(JsonQuote(std::string("\x01\x1f\x7f\0", 4)), "\"\\u0001\\u001f\\u007f\\u0000\"");
  // UTF-8 is copied as it is.
  EXPECT_EQ(JsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

// The JSON format writes one object per line with logfmt's fields in
// logfmt's order: ts, level, the prefix fields, event, then the call's.
TEST(LogTest, JsonFormatWritesOneObjectPerLineInFieldOrder) {
  SetLogPrefixField("replica", "r0");
  SetLogFormat(LogFormat::kJson);
  std::string out = CaptureLog([] {
    LogWarning("leader_started", {{"fencing_token", uint64_t{42}},
                                  {"share", 0.25},
                                  {"delta", -3},
                                  {"flag", true},
                                  {"nan", std::nan("")},
                                  {"id", absl::StrCat(7)},
                                  {"reason", "say \"hi\"\n\\ \x02"}});
  });
  SetLogFormat(LogFormat::kLogfmt);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "exactly one line";
  EXPECT_EQ(out.rfind("{\"ts\":\"", 0), 0u) << out;
  auto members = testing::ParseFlatJsonObject(out);
  ASSERT_TRUE(members.has_value()) << out;
  std::vector<std::string> keys;
  for (const auto& m : *members) keys.push_back(m.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"ts", "level", "replica", "event", "fencing_token",
                                            "share", "delta", "flag", "nan", "id", "reason"}));
  auto member = [&](size_t i) { return (*members)[i]; };
  EXPECT_EQ(member(1).value, "warning");
  EXPECT_EQ(member(2).value, "r0");
  EXPECT_EQ(member(3).value, "leader_started");
  // Numbers and bools unquoted, a string that looks like a number quoted,
  // NaN (no JSON number) a string.
  EXPECT_FALSE(member(4).quoted);
  EXPECT_EQ(member(4).value, "42");
  EXPECT_FALSE(member(5).quoted);
  EXPECT_EQ(member(5).value, "0.25");
  EXPECT_FALSE(member(6).quoted);
  EXPECT_EQ(member(6).value, "-3");
  EXPECT_FALSE(member(7).quoted);
  EXPECT_EQ(member(7).value, "true");
  EXPECT_TRUE(member(8).quoted);
  EXPECT_TRUE(member(9).quoted);
  EXPECT_EQ(member(9).value, "7");
  EXPECT_TRUE(member(10).quoted);
  EXPECT_EQ(member(10).value, "say \"hi\"\n\\ \x02");
  EXPECT_NE(out.find("\\u0002"), std::string::npos) << out;

  // Back to logfmt, with the same prefix field.
  std::string logfmt = CaptureLog([] { LogInfo("after"); });
  EXPECT_EQ(logfmt.rfind("ts=", 0), 0u);
  EXPECT_NE(logfmt.find(" replica=r0 event=after"), std::string::npos) << logfmt;
}

TEST(LogTest, FlatJsonParserRejectsWhatIsNotOneFlatObject) {
  EXPECT_TRUE(testing::ParseFlatJsonObject("{}").has_value());
  EXPECT_TRUE(testing::ParseFlatJsonObject("{\"a\":1,\"b\":\"x\"}\n").has_value());
  EXPECT_FALSE(testing::ParseFlatJsonObject("ts=1 level=info").has_value());
  EXPECT_FALSE(testing::ParseFlatJsonObject("{\"a\":\"x}").has_value());
  EXPECT_FALSE(testing::ParseFlatJsonObject("{\"a\":\"\n\"}").has_value());  // raw newline
  EXPECT_FALSE(testing::ParseFlatJsonObject("{\"a\":bare}").has_value());
  EXPECT_FALSE(testing::ParseFlatJsonObject("{\"a\":1,}").has_value());
}

}  // namespace
}  // namespace mast
