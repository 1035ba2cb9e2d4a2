// ValidateServiceSpec names every invalid field at once, and a spec too
// large to store names the field that makes it large.

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/validation.h"
#include "gtest/gtest.h"
#include "tests/api/validation_test_support.h"

namespace mast {
namespace {

using validation_test::ValidSpec;

std::string Message(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

TEST(ValidateServiceSpecErrorsTest, OneBadFieldReadsAsBefore) {
  v1::ServiceSpec spec = ValidSpec();
  spec.mutable_resources()->set_cpus(-1);
  EXPECT_EQ(Message(ValidateServiceSpec(spec)), "resources.cpus: must be > 0");
  EXPECT_EQ(Message(ValidateServiceSpec(spec, "spec.")), "spec.resources.cpus: must be > 0");
}

struct ManyErrorsCase {
  std::string name;
  validation_test::Mutation mutate;
  std::string error;  // the whole message
};

// Every bad field, in field order, each with its first problem only; as
// given and with the defaults filled in.
TEST(ValidateServiceSpecErrorsTest, NamesEveryBadFieldInFieldOrder) {
  const std::vector<ManyErrorsCase> cases = {
      {"two: the name and cpus",
       [](v1::ServiceSpec& s) {
         s.mutable_resources()->set_cpus(-1);  // checked after the name
         s.clear_name();
       },
       "spec.name: required; spec.resources.cpus: must be > 0"},
      {"three: mem, instances, env",
       [](v1::ServiceSpec& s) {
         s.set_instances(10001);
         (*s.mutable_env())["PORT0"] = "80";
         s.mutable_resources()->set_mem_mib(1);
       },
       "spec.resources.mem_mib: must be >= 4; spec.instances: must be <= 10000, not 10001; "
       "spec.env['PORT0']: reserved: Mast sets PORT, PORTS, PORT<n>, PORT_* and MAST_*, "
       "Mesos sets MESOS_*"},
      {"each field once: NaN cpus is not also under 0.001; ports one by one",
       [](v1::ServiceSpec& s) {
         s.mutable_resources()->set_cpus(std::numeric_limits<double>::quiet_NaN());
         s.mutable_resources()->set_gpus(129);
         s.add_ports()->set_name("http");  // ports[1]: a duplicate of ports[0]
         s.add_ports()->set_protocol("sctp");
       },
       "spec.resources.cpus: must be a finite number; spec.resources.gpus: must be <= 128, not "
       "129; spec.ports[1].name: duplicate 'http'; spec.ports[2].protocol: 'sctp' is not "
       "\"tcp\" or \"udp\""},
      {"labels one by one, the strategy field by field",
       [](v1::ServiceSpec& s) {
         (*s.mutable_labels())["mast.io/x"] = "";
         (*s.mutable_labels())["-bad"] = "";
         s.mutable_upgrade_strategy()->set_minimum_health_capacity(2);
         s.mutable_upgrade_strategy()->set_maximum_over_capacity(-1);
       },
       "spec.labels['-bad']: key must be [prefix/]name: a DNS subdomain prefix, a name of 1-63 "
       "characters [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?; spec.labels['mast.io/x']: the "
       "prefix 'mast.io/' is reserved; spec.upgrade_strategy.minimum_health_capacity: must be "
       "in [0, 1]; spec.upgrade_strategy.maximum_over_capacity: must be in [0, 1]"},
      {"backoff and the checks field by field",
       [](v1::ServiceSpec& s) {
         validation_test::SetDuration(s.mutable_backoff()->mutable_initial(), -1);
         s.mutable_backoff()->set_factor(0.5);
         // No "must be >= backoff.initial": the initial is no bound.
         validation_test::SetDuration(s.mutable_backoff()->mutable_max(), 1);
         v1::HealthCheck* health = s.mutable_health_check();
         health->set_protocol(v1::HealthCheck::TCP);
         health->set_port_index(5);
         validation_test::SetDuration(health->mutable_interval(), 0);
         health->set_consecutive_failures(101);
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::TCP);
         validation_test::SetDuration(s.mutable_readiness_check()->mutable_delay(), -1);
       },
       "spec.backoff.initial: must be > 0; spec.backoff.factor: must be in [1, 100]; "
       "spec.health_check.port_index: must be < 1 (the spec's ports); "
       "spec.health_check.interval: must be in (0s, 1h]; "
       "spec.health_check.consecutive_failures: must be <= 100, not 101; "
       "spec.readiness_check.delay: must be in [0s, 1h]"},
  };
  for (const ManyErrorsCase& c : cases) {
    v1::ServiceSpec spec = ValidSpec();
    c.mutate(spec);
    EXPECT_EQ(Message(ValidateServiceSpec(spec, "spec.")), c.error) << c.name;
    EXPECT_EQ(Message(ValidateServiceSpec(WithDefaults(spec), "spec.")), c.error)
        << c.name << " (with defaults)";
  }
}

TEST(ValidateServiceSpecErrorsTest, ATooLargeSpecNamesItsLargestField) {
  v1::ServiceSpec spec = ValidSpec();
  (*spec.mutable_env())["BIG"] = std::string(1 << 20, 'x');
  v1::ServiceSpec without_env = spec;
  without_env.clear_env();
  const size_t size = spec.ByteSizeLong();
  const size_t env_bytes = size - without_env.ByteSizeLong();
  EXPECT_EQ(Message(ValidateServiceSpec(spec, "spec.")),
            absl::StrCat("spec.env: ", env_bytes, " of the spec's ", size,
                         " bytes (a spec may have at most 262144)"));
  // The value alone is over its own limit too, but a spec this large is
  // refused for its size alone.
  EXPECT_GT(env_bytes, size_t{1} << 20);
}

TEST(ValidateServiceSpecErrorsTest, ATooLargeSpecNamesTheLargerOfTwoBigFields) {
  v1::ServiceSpec spec = ValidSpec();
  spec.mutable_command()->set_shell(std::string(200 * 1024, 'a'));
  (*spec.mutable_labels())["owner"] = std::string(100 * 1024, 'b');
  const std::string message = Message(ValidateServiceSpec(spec));
  EXPECT_EQ(message.substr(0, 9), "command: ") << message;
  // Swapping a field out to weigh it puts it back: the labels, weighed
  // after the command, are whole when they hold the most.
  (*spec.mutable_labels())["owner"] = std::string(300 * 1024, 'b');
  EXPECT_EQ(Message(ValidateServiceSpec(spec)).substr(0, 8), "labels: ");
}

TEST(AboveLimitTest, SaysTheLimitAndTheValue) {
  absl::Status status = AboveLimit("instances", 10000, 1000000000);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "instances: must be <= 10000, not 1000000000");
}

}  // namespace
}  // namespace mast
