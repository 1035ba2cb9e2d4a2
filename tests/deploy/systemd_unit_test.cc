// deploy/systemd: the unit passes `systemd-analyze verify`, and every flag
// the example environment file sets or explains is one mastd has.

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/processes/mastd_process.h"
#include "tests/processes/subprocess.h"

namespace mast {
namespace {

using ::mast::testing::Subprocess;
using ::testing::HasSubstr;

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(MAST_SOURCE_DIR) + "/" + relative);
  EXPECT_TRUE(in.good()) << relative;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs argv to its end; its stdout and stderr, and the exit code in `code`.
std::string RunToEnd(const std::vector<std::string>& argv, const std::string& dir, int& code) {
  auto p = Subprocess::Spawn(argv, dir + "/run.out");
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return "";
  auto status = p->Wait(absl::Seconds(60));
  EXPECT_TRUE(status.has_value()) << argv[0] << " did not exit";
  code = status.has_value() && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
  std::string out = p->ReadLog();
  testing::RemoveTree(dir + "/run.out");
  return out;
}

// The flags of the example's MASTD_FLAGS value (continued lines joined, as
// systemd reads an EnvironmentFile) and those its comments explain.
struct EnvExampleFlags {
  std::vector<std::string> set;     // "--name=value"
  std::set<std::string> explained;  // "name"
};
EnvExampleFlags ParseEnvExample(const std::string& text) {
  EnvExampleFlags flags;
  std::string value;
  bool in_value = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!in_value && absl::ConsumePrefix(&line, "#")) {
      line = absl::StripLeadingAsciiWhitespace(line);
      if (absl::ConsumePrefix(&line, "--")) {
        flags.explained.insert(std::string(line.substr(0, line.find_first_of(" \t"))));
      }
      continue;
    }
    if (!in_value && !absl::ConsumePrefix(&line, "MASTD_FLAGS=")) continue;
    in_value = absl::ConsumeSuffix(&line, "\\");
    absl::StrAppend(&value, line);
  }
  value = absl::StrReplaceAll(value, {{"\"", ""}});
  for (absl::string_view flag : absl::StrSplit(value, ' ', absl::SkipWhitespace())) {
    flags.set.emplace_back(flag);
  }
  return flags;
}

TEST(SystemdUnitTest, EveryFlagOfTheEnvExampleIsAMastdFlag) {
  EnvExampleFlags flags = ParseEnvExample(ReadSource("deploy/systemd/mastd.env.example"));
  ASSERT_GE(flags.set.size(), 10u);
  ASSERT_GE(flags.explained.size(), 10u);
  std::string dir = testing::MakeTempDir("mast-deploy");
  int code = 0;
  std::string help = RunToEnd({testing::MastdBinary(), "--help"}, dir, code);
  ASSERT_THAT(help, HasSubstr("--zk ("));
  std::set<std::string> set_names;
  for (const std::string& flag : flags.set) {
    ASSERT_TRUE(absl::StartsWith(flag, "--") && absl::StrContains(flag, '=')) << flag;
    std::string name = flag.substr(2, flag.find('=') - 2);
    set_names.insert(name);
    EXPECT_THAT(help, HasSubstr(absl::StrCat("--", name, " ("))) << "set but not a flag";
  }
  for (const std::string& name : flags.explained) {
    EXPECT_THAT(help, HasSubstr(absl::StrCat("--", name, " ("))) << "explained but not a flag";
  }
  // What the example sets, it explains.
  for (const std::string& name : set_names) EXPECT_TRUE(flags.explained.count(name)) << name;

  // The values parse: with a bad --zk_root appended, mastd fails on that
  // flag alone, after absl has parsed every flag of the example.
  std::vector<std::string> argv = {testing::MastdBinary()};
  argv.insert(argv.end(), flags.set.begin(), flags.set.end());
  argv.push_back("--zk_root=relative");
  std::string out = RunToEnd(argv, dir, code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("--zk_root")) << out;
  testing::RemoveTree(dir);
}

TEST(SystemdUnitTest, TheUnitPassesSystemdAnalyzeVerify) {
  const std::string unit = ReadSource("deploy/systemd/mastd.service");
  EXPECT_THAT(unit, HasSubstr("\nExecStart=/usr/local/bin/mastd $MASTD_FLAGS\n"));
  EXPECT_THAT(unit, HasSubstr("\nEnvironmentFile=/etc/mast/mastd.env\n"));
  EXPECT_THAT(unit, HasSubstr("\nKillSignal=SIGTERM\n"));
  std::string analyze;
  for (const char* path : {"/usr/bin/systemd-analyze", "/bin/systemd-analyze"}) {
    if (access(path, X_OK) == 0) analyze = path;
  }
  if (analyze.empty()) GTEST_SKIP() << "systemd-analyze is not installed";
  // verify checks that ExecStart's binary exists: point it at this build's.
  std::string dir = testing::MakeTempDir("mast-unit");
  {
    std::ofstream out(dir + "/mastd.service");
    out << absl::StrReplaceAll(unit, {{"/usr/local/bin/mastd", testing::MastdBinary()}});
  }
  int code = 0;
  std::string out = RunToEnd({analyze, "verify", dir + "/mastd.service"}, dir, code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "") << "verify warns";
  testing::RemoveTree(dir);
}

}  // namespace
}  // namespace mast
