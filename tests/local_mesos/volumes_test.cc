#include "local_mesos/volumes.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mast::local {
namespace {

namespace fs = std::filesystem;
using ::mesos::v1::Volume;
using ::testing::HasSubstr;

class VolumesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mast-volumes-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    sandbox_ = dir_ + "/sandbox";
    fs::create_directories(sandbox_);
    fs::create_directories(dir_ + "/host");
    std::ofstream(dir_ + "/host/f") << "host file";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_, sandbox_;
};

TEST_F(VolumesTest, HostPathIsLinkedAndASecretIsAPrivateFile) {
  ::mesos::v1::ContainerInfo container;
  container.set_type(::mesos::v1::ContainerInfo::MESOS);
  Volume* host = container.add_volumes();
  host->set_container_path("data/host");
  host->set_host_path(dir_ + "/host");
  host->set_mode(Volume::RO);
  Volume* secret = container.add_volumes();
  secret->set_container_path("secrets/db");
  secret->set_mode(Volume::RO);
  secret->mutable_source()->set_type(Volume::Source::SECRET);
  secret->mutable_source()->mutable_secret()->set_type(::mesos::v1::Secret::VALUE);
  secret->mutable_source()->mutable_secret()->mutable_value()->set_data("hunter2");
  ASSERT_TRUE(PrepareVolumes(container, sandbox_).ok());
  std::string text;
  std::getline(std::ifstream(sandbox_ + "/data/host/f"), text);
  EXPECT_EQ(text, "host file");
  std::getline(std::ifstream(sandbox_ + "/secrets/db"), text);
  EXPECT_EQ(text, "hunter2");
  struct stat st {};
  ASSERT_EQ(stat((sandbox_ + "/secrets/db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
}

TEST_F(VolumesTest, AnAbsoluteContainerPathAndAReferenceAreRefusedAsPosixMesosDoes) {
  ::mesos::v1::ContainerInfo container;
  Volume* host = container.add_volumes();
  host->set_container_path("/data");
  host->set_host_path(dir_ + "/host");
  host->set_mode(Volume::RW);
  absl::Status status = PrepareVolumes(container, sandbox_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("Absolute container path '/data'"));

  ::mesos::v1::Environment env;
  ::mesos::v1::Environment::Variable* variable = env.add_variables();
  variable->set_name("TOKEN");
  variable->set_type(::mesos::v1::Environment::Variable::SECRET);
  variable->mutable_secret()->set_type(::mesos::v1::Secret::REFERENCE);
  variable->mutable_secret()->mutable_reference()->set_name("/team/token");
  status = CheckSecretEnvironment(env);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'TOKEN'"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("secret resolver module"));
}

}  // namespace
}  // namespace mast::local
