// The strict fake Mesos caller: it records calls and fails the test for a call
// not announced and for an announced call never made.
#include "tests/fakes/recording_caller.h"

#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace mast::testing {
namespace {

using Call = ::mesos::v1::scheduler::Call;

Call OfType(Call::Type type) {
  Call call;
  call.set_type(type);
  return call;
}

TEST(RecordingCallerTest, RecordsAnnouncedCallsAndAnswersOk) {
  RecordingCaller caller;
  caller.Expect(Call::REVIVE, 2);
  absl::Status answer = absl::UnknownError("not answered");
  caller.Call(OfType(Call::REVIVE), [&](absl::Status status) { answer = status; });
  caller.Call(OfType(Call::REVIVE), nullptr);
  EXPECT_TRUE(answer.ok());
  EXPECT_EQ(caller.OfType(Call::REVIVE).size(), 2u);
  EXPECT_TRUE(caller.OfType(Call::KILL).empty());
  caller.VerifyAllMade();
}

TEST(RecordingCallerTest, AnUnannouncedCallFailsTheTest) {
  RecordingCaller caller;
  caller.Expect(Call::KILL);
  caller.Call(OfType(Call::KILL), nullptr);
  EXPECT_NONFATAL_FAILURE(caller.Call(OfType(Call::KILL), nullptr), "unexpected call KILL");
  EXPECT_NONFATAL_FAILURE(caller.Call(OfType(Call::DECLINE), nullptr), "unexpected call DECLINE");
}

TEST(RecordingCallerTest, AnAnnouncedCallNeverMadeFailsTheTest) {
  RecordingCaller caller;
  caller.Expect(Call::ACCEPT, 2);
  caller.Call(OfType(Call::ACCEPT), nullptr);
  EXPECT_NONFATAL_FAILURE(caller.VerifyAllMade(), "expected 2 ACCEPT calls, 1 made");
}

TEST(RecordingCallerTest, RecordsWhatWasStoredAtEachCall) {
  int reads = 0;
  RecordingCaller caller([&] {
    ::mast::v1::records::TaskRecords stored;
    stored.set_failed(static_cast<uint32_t>(++reads));
    return stored;
  });
  caller.Expect(Call::ACKNOWLEDGE, 2);
  caller.Call(OfType(Call::ACKNOWLEDGE), nullptr);
  caller.Call(OfType(Call::ACKNOWLEDGE), nullptr);
  ASSERT_EQ(caller.sent.size(), 2u);
  EXPECT_EQ(caller.sent[0].stored.failed(), 1u);
  EXPECT_EQ(caller.sent[1].stored.failed(), 2u);
}

}  // namespace
}  // namespace mast::testing
