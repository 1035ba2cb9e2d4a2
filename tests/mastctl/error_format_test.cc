#include "mastctl/error_format.h"

#include "gtest/gtest.h"

namespace mast::ctl {
namespace {

TEST(ErrorTextTest, NamesTheCode) {
  EXPECT_EQ(ErrorText(3, "spec.name: required"), "INVALID_ARGUMENT: spec.name: required");
  EXPECT_EQ(ErrorText(14, "connection refused"), "UNAVAILABLE: connection refused");
  EXPECT_EQ(ErrorText(5, "service 'web' not found"), "NOT_FOUND: service 'web' not found");
}

TEST(ErrorTextTest, AnUnknownCodeKeepsItsNumber) { EXPECT_EQ(ErrorText(42, "odd"), "42: odd"); }

}  // namespace
}  // namespace mast::ctl
