// Linked into every test binary as an object file (not from the static
// library, where nothing would reference it and the linker would drop it): the
// registration below is its only entry point.

#include "gtest/gtest.h"
#include "tests/processes/process_init.h"

namespace mast::testing {
namespace {

// SetUp runs in RUN_ALL_TESTS, before any test starts a thread.
class ProcessInitEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { InitProcessLibraries(); }
};

// gtest takes ownership of the environment.
[[maybe_unused]] const ::testing::Environment* const kProcessInit =
    ::testing::AddGlobalTestEnvironment(new ProcessInitEnvironment);

}  // namespace
}  // namespace mast::testing
