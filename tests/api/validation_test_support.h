#pragma once

// Shared by the ServiceSpec validation tests: a valid spec to mutate, the
// table case, and how a case's result is checked.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "api/validation.h"
#include "gtest/gtest.h"
#include "mast/v1/service.pb.h"

namespace mast::validation_test {

using Mutation = std::function<void(v1::ServiceSpec&)>;

inline v1::ServiceSpec ValidSpec() {
  v1::ServiceSpec spec;
  spec.set_name("team/web");
  spec.mutable_command()->set_shell("python3 -m http.server $PORT_HTTP");
  spec.mutable_resources()->set_cpus(0.5);
  spec.mutable_resources()->set_mem_mib(128);
  spec.add_ports()->set_name("http");
  spec.set_instances(3);
  (*spec.mutable_env())["GREETING"] = "hello";
  (*spec.mutable_labels())["owner"] = "web-team";
  return spec;
}

inline void SetDuration(google::protobuf::Duration* d, int64_t seconds, int32_t nanos = 0) {
  d->set_seconds(seconds);
  d->set_nanos(nanos);
}

struct Case {
  std::string name;
  Mutation mutate;
  // Empty: valid. Otherwise the start of the INVALID_ARGUMENT message.
  std::string error;
};

inline void ExpectResult(const absl::Status& status, const std::string& error,
                         const std::string& name) {
  if (error.empty()) {
    EXPECT_TRUE(status.ok()) << name << ": " << status;
    return;
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name << ": " << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), error))
      << name << ": got \"" << status.message() << "\", want a message starting \"" << error
      << "\"";
}

// Checks every case against ValidateServiceSpec, of the mutated ValidSpec()
// as it is and with its defaults filled in (filling defaults neither
// rescues an invalid spec nor breaks a valid one, and the problem reported
// stays the same).
inline void ExpectCases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    v1::ServiceSpec spec = ValidSpec();
    c.mutate(spec);
    ExpectResult(ValidateServiceSpec(spec), c.error, c.name);
    ExpectResult(ValidateServiceSpec(WithDefaults(spec)), c.error, c.name + " (with defaults)");
  }
}

}  // namespace mast::validation_test
