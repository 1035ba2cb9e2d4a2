#include "common/log.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

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

}  // namespace
}  // namespace mast
