// Validation of the readiness check and the upgrade strategy (the table of
// api/validation_checks.cc; the rest of the spec: validation_test.cc).

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "api/validation.h"
#include "gtest/gtest.h"
#include "tests/api/validation_test_support.h"

namespace mast {
namespace {

using validation_test::Case;
using validation_test::SetDuration;
using validation_test::ValidSpec;

const std::vector<Case>& Cases() {
  static const auto* const kCases = new std::vector<Case>{
      // --- readiness check ---
      {"HTTP readiness check on the first port",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::HTTP);
       },
       ""},
      {"TCP readiness check by port name",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::TCP);
         s.mutable_readiness_check()->set_port_name("http");
       },
       ""},
      {"COMMAND readiness check",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::COMMAND);
         s.mutable_readiness_check()->mutable_command()->set_shell("test -f ready");
         SetDuration(s.mutable_readiness_check()->mutable_interval(), 2);
         SetDuration(s.mutable_readiness_check()->mutable_delay(), 0);
       },
       ""},
      {"readiness check without protocol",
       [](v1::ServiceSpec& s) { s.mutable_readiness_check()->set_port_index(0); },
       "readiness_check.protocol: required: HTTP, TCP or COMMAND"},
      {"readiness check of an unknown protocol",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(static_cast<v1::ReadinessCheck::Protocol>(9));
       },
       "readiness_check.protocol: unknown protocol 9"},
      {"readiness check of an unknown port name",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::HTTP);
         s.mutable_readiness_check()->set_port_name("admin");
       },
       "readiness_check.port_name: 'admin' is not one of the spec's ports"},
      {"readiness check port index out of range",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::TCP);
         s.mutable_readiness_check()->set_port_index(1);
       },
       "readiness_check.port_index: must be < 1"},
      {"network readiness check without ports",
       [](v1::ServiceSpec& s) {
         s.clear_ports();
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::HTTP);
       },
       "readiness_check: an HTTP check needs a port: ports is empty"},
      {"readiness path without '/'",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::HTTP);
         s.mutable_readiness_check()->set_path("ready");
       },
       "readiness_check.path: must start with '/'"},
      {"TCP readiness check with a path",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::TCP);
         s.mutable_readiness_check()->set_path("/ready");
       },
       "readiness_check.path: not for a TCP check"},
      {"HTTP readiness check with a command",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::HTTP);
         s.mutable_readiness_check()->mutable_command()->set_shell("true");
       },
       "readiness_check.command: not for an HTTP check"},
      {"COMMAND readiness check without command",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::COMMAND);
       },
       "readiness_check.command: required for COMMAND"},
      {"COMMAND readiness check with an argv-less command",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::COMMAND);
         s.mutable_readiness_check()->mutable_command()->mutable_argv();
       },
       "readiness_check.command.argv.args: must not be empty"},
      {"COMMAND readiness check with a port",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::COMMAND);
         s.mutable_readiness_check()->mutable_command()->set_shell("true");
         s.mutable_readiness_check()->set_port_name("http");
       },
       "readiness_check.port_name: not for a COMMAND check"},
      {"readiness interval of zero",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::TCP);
         SetDuration(s.mutable_readiness_check()->mutable_interval(), 0);
       },
       "readiness_check.interval: must be in (0s, 1h]"},
      {"readiness timeout over an hour",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::TCP);
         SetDuration(s.mutable_readiness_check()->mutable_timeout(), 3601);
       },
       "readiness_check.timeout: must be in (0s, 1h]"},
      {"negative readiness delay",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::TCP);
         SetDuration(s.mutable_readiness_check()->mutable_delay(), -1);
       },
       "readiness_check.delay: must be in [0s, 1h]"},

      // --- upgrade strategy ---
      {"rolling without extra capacity",
       [](v1::ServiceSpec& s) {
         s.mutable_upgrade_strategy()->set_minimum_health_capacity(0.5);
         s.mutable_upgrade_strategy()->set_maximum_over_capacity(0);
       },
       ""},
      {"canary steps, counts and percents, paused",
       [](v1::ServiceSpec& s) {
         v1::UpgradeStrategy* u = s.mutable_upgrade_strategy();
         u->add_steps()->set_instances(1);
         u->add_steps()->set_percent(10);
         u->add_steps()->set_instances(5);
         u->add_steps()->set_percent(100);
         u->set_pause_after_step(true);
         u->set_failure_threshold(0);
         SetDuration(u->mutable_progress_deadline(), 0);
         SetDuration(u->mutable_min_ready(), 0);
         u->set_kill_selection(v1::UpgradeStrategy::OLDEST_FIRST);
       },
       ""},
      {"pause after step without steps",
       [](v1::ServiceSpec& s) { s.mutable_upgrade_strategy()->set_pause_after_step(true); }, ""},
      {"minimum health over 1",
       [](v1::ServiceSpec& s) { s.mutable_upgrade_strategy()->set_minimum_health_capacity(1.5); },
       "upgrade_strategy.minimum_health_capacity: must be in [0, 1]"},
      {"negative minimum health",
       [](v1::ServiceSpec& s) { s.mutable_upgrade_strategy()->set_minimum_health_capacity(-0.1); },
       "upgrade_strategy.minimum_health_capacity: must be in [0, 1]"},
      {"NaN over capacity",
       [](v1::ServiceSpec& s) {
         s.mutable_upgrade_strategy()->set_maximum_over_capacity(
             std::numeric_limits<double>::quiet_NaN());
       },
       "upgrade_strategy.maximum_over_capacity: must be in [0, 1]"},
      {"no room to move (over capacity 0, minimum health by default 1)",
       [](v1::ServiceSpec& s) { s.mutable_upgrade_strategy()->set_maximum_over_capacity(0); },
       "upgrade_strategy: no room to replace a task: "},
      {"unknown kill selection",
       [](v1::ServiceSpec& s) {
         s.mutable_upgrade_strategy()->set_kill_selection(
             static_cast<v1::UpgradeStrategy::KillSelection>(7));
       },
       "upgrade_strategy.kill_selection: unknown kill selection 7"},
      {"step without target", [](v1::ServiceSpec& s) { s.mutable_upgrade_strategy()->add_steps(); },
       "upgrade_strategy.steps[0]: one of instances or percent is required"},
      {"step of zero instances",
       [](v1::ServiceSpec& s) { s.mutable_upgrade_strategy()->add_steps()->set_instances(0); },
       "upgrade_strategy.steps[0].instances: must be in [1, 10000]"},
      {"step of zero percent",
       [](v1::ServiceSpec& s) { s.mutable_upgrade_strategy()->add_steps()->set_percent(0); },
       "upgrade_strategy.steps[0].percent: must be in (0, 100]"},
      {"step over 100 percent",
       [](v1::ServiceSpec& s) { s.mutable_upgrade_strategy()->add_steps()->set_percent(100.5); },
       "upgrade_strategy.steps[0].percent: must be in (0, 100]"},
      {"counts not ascending",
       [](v1::ServiceSpec& s) {
         s.mutable_upgrade_strategy()->add_steps()->set_instances(2);
         s.mutable_upgrade_strategy()->add_steps()->set_percent(50);
         s.mutable_upgrade_strategy()->add_steps()->set_instances(2);
       },
       "upgrade_strategy.steps[2].instances: must be more than the step before's 2"},
      {"percents not ascending",
       [](v1::ServiceSpec& s) {
         s.mutable_upgrade_strategy()->add_steps()->set_percent(50);
         s.mutable_upgrade_strategy()->add_steps()->set_percent(25);
       },
       "upgrade_strategy.steps[1].percent: must be more than the step before's 50"},
      {"more than 20 steps",
       [](v1::ServiceSpec& s) {
         for (uint32_t i = 1; i <= 21; ++i)
           s.mutable_upgrade_strategy()->add_steps()->set_instances(i);
       },
       "upgrade_strategy.steps: more than 20 steps"},
      {"negative progress deadline",
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_upgrade_strategy()->mutable_progress_deadline(), -1);
       },
       "upgrade_strategy.progress_deadline: must be in [0s, 168h]"},
      {"progress deadline over a week",
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_upgrade_strategy()->mutable_progress_deadline(), 7 * 86400 + 1);
       },
       "upgrade_strategy.progress_deadline: must be in [0s, 168h]"},
      {"negative min_ready",
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_upgrade_strategy()->mutable_min_ready(), -1);
       },
       "upgrade_strategy.min_ready: must be in [0s, 1h]"},
      {"min_ready over an hour",
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_upgrade_strategy()->mutable_min_ready(), 3601);
       },
       "upgrade_strategy.min_ready: must be in [0s, 1h]"},

  };
  return *kCases;
}

TEST(ValidateChecksAndStrategyTest, ChecksEveryFieldWithAndWithoutDefaults) {
  validation_test::ExpectCases(Cases());
}

}  // namespace
}  // namespace mast
