#pragma once

#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "mast/v1/records.pb.h"
#include "mesos/v1/scheduler/scheduler.pb.h"
#include "scheduler/control/framework_listener.h"

namespace mast::testing {

// A MesosCaller that records every call (with the task records stored at that
// moment when given a way to read them, so a test can check what was durable
// when a call went out) and answers OK. Strict: a call beyond those the test
// announced with Expect (by type) fails the test, and VerifyAllMade fails it
// for every announced call that was not made.
//
// Thread: the test's (driven loop) thread.
class RecordingCaller final : public MesosCaller {
 public:
  struct Sent {
    ::mesos::v1::scheduler::Call call;
    ::mast::v1::records::TaskRecords stored;  // of the service under test, when the call was made
  };
  explicit RecordingCaller(std::function<::mast::v1::records::TaskRecords()> read_stored = nullptr)
      : read_stored_(std::move(read_stored)) {}
  void Call(::mesos::v1::scheduler::Call call,
            absl::AnyInvocable<void(absl::Status) &&> done) override {
    const ::mesos::v1::scheduler::Call::Type type = call.type();
    const int made = ++made_[type];
    if (made > allowed_[type]) {
      ADD_FAILURE() << "unexpected call " << ::mesos::v1::scheduler::Call::Type_Name(type)
                    << " (call " << made << " of this type, " << allowed_[type] << " expected)";
    }
    sent.push_back(
        {std::move(call), read_stored_ ? read_stored_() : ::mast::v1::records::TaskRecords()});
    if (done) std::move(done)(absl::OkStatus());
  }
  // The scheduler may make `n` more calls of `type`.
  void Expect(::mesos::v1::scheduler::Call::Type type, int n = 1) { allowed_[type] += n; }
  // Fails the test for every expected call that was not made.
  void VerifyAllMade() const {
    for (const auto& [type, allowed] : allowed_) {
      auto made = made_.find(type);
      const int n = made == made_.end() ? 0 : made->second;
      if (n < allowed) {
        ADD_FAILURE() << "expected " << allowed << " "
                      << ::mesos::v1::scheduler::Call::Type_Name(type) << " calls, " << n
                      << " made";
      }
    }
  }
  std::vector<const Sent*> OfType(::mesos::v1::scheduler::Call::Type type) const {
    std::vector<const Sent*> out;
    for (const Sent& s : sent) {
      if (s.call.type() == type) out.push_back(&s);
    }
    return out;
  }
  std::vector<Sent> sent;

 private:
  std::function<::mast::v1::records::TaskRecords()> read_stored_;
  std::map<::mesos::v1::scheduler::Call::Type, int> allowed_;
  std::map<::mesos::v1::scheduler::Call::Type, int> made_;
};

}  // namespace mast::testing
