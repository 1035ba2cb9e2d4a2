#include "api/validation.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/api/validation_test_support.h"

namespace mast {
namespace {

using validation_test::Case;
using validation_test::Mutation;
using validation_test::SetDuration;
using validation_test::ValidSpec;

v1::Constraint* AddConstraint(v1::ServiceSpec& spec, const std::string& field,
                              v1::Constraint::Operator op, const std::string& value = "") {
  v1::Constraint* c = spec.add_constraints();
  c->set_field(field);
  c->set_operator_(op);
  c->set_value(value);
  return c;
}

const std::vector<Case>& Cases() {
  static const auto* const kCases = new std::vector<Case>{
      // --- valid specs ---
      {"the base spec", [](v1::ServiceSpec&) {}, ""},
      {"argv command",
       [](v1::ServiceSpec& s) {
         s.mutable_command()->mutable_argv()->add_args("/bin/server");
         s.mutable_command()->mutable_argv()->add_args("--port=$PORT0");
       },
       ""},
      {"user", [](v1::ServiceSpec& s) { s.mutable_command()->set_user("nobody"); }, ""},
      {"one-label name", [](v1::ServiceSpec& s) { s.set_name("web"); }, ""},
      {"eight labels", [](v1::ServiceSpec& s) { s.set_name("a/b/c/d/e/f/g/h"); }, ""},
      {"63-character label", [](v1::ServiceSpec& s) { s.set_name(std::string(63, 'a')); }, ""},
      {"plain image", [](v1::ServiceSpec& s) { s.mutable_container()->set_docker_image("alpine"); },
       ""},
      {"image with tag",
       [](v1::ServiceSpec& s) { s.mutable_container()->set_docker_image("library/alpine:3.19"); },
       ""},
      {"image with registry and port",
       [](v1::ServiceSpec& s) {
         s.mutable_container()->set_docker_image("registry.example.com:5000/team/web_app:v1.2-rc1");
       },
       ""},
      {"image with digest",
       [](v1::ServiceSpec& s) {
         s.mutable_container()->set_docker_image("ghcr.io/org/app@sha256:" + std::string(64, 'a'));
       },
       ""},
      {"image on localhost, force pull",
       [](v1::ServiceSpec& s) {
         s.mutable_container()->set_docker_image("localhost/foo");
         s.mutable_container()->set_force_pull_image(true);
       },
       ""},
      {"zero instances", [](v1::ServiceSpec& s) { s.set_instances(0); }, ""},
      {"10000 instances", [](v1::ServiceSpec& s) { s.set_instances(10000); }, ""},
      {"smallest cpus and mem",
       [](v1::ServiceSpec& s) {
         s.mutable_resources()->set_cpus(0.001);
         s.mutable_resources()->set_mem_mib(4);
       },
       ""},
      {"disk and gpus",
       [](v1::ServiceSpec& s) {
         s.mutable_resources()->set_disk_mib(1024);
         s.mutable_resources()->set_gpus(2);
       },
       ""},
      {"fixed, any and udp ports",
       [](v1::ServiceSpec& s) {
         v1::PortSpec* p = s.add_ports();
         p->set_name("dns");
         p->set_number(53);
         p->set_protocol("udp");
         s.add_ports()->set_number(0);  // unnamed, any
         v1::PortSpec* q = s.add_ports();
         q->set_name("admin-2");
         q->set_number(65535);
         q->set_protocol("tcp");
       },
       ""},
      {"env HOST and PORTAL are the user's",
       [](v1::ServiceSpec& s) {
         (*s.mutable_env())["HOST"] = "0.0.0.0";
         (*s.mutable_env())["PORTAL"] = "x";
         (*s.mutable_env())["_x1"] = "";
       },
       ""},
      {"Marathon and Kubernetes label keys",
       [](v1::ServiceSpec& s) {
         (*s.mutable_labels())["HAPROXY_0_VHOST"] = "web.example.com";
         (*s.mutable_labels())["example.com/owner"] = "x";
       },
       ""},
      {"every operator",
       [](v1::ServiceSpec& s) {
         AddConstraint(s, "hostname", v1::Constraint::UNIQUE);
         AddConstraint(s, "rack", v1::Constraint::CLUSTER, "rack-1");
         AddConstraint(s, "rack", v1::Constraint::CLUSTER);
         AddConstraint(s, "zone", v1::Constraint::GROUP_BY);
         AddConstraint(s, "zone", v1::Constraint::GROUP_BY, "3");
         AddConstraint(s, "hostname", v1::Constraint::LIKE, "web-[0-9]+\\.example\\.com");
         AddConstraint(s, "os", v1::Constraint::UNLIKE, "windows|macos");
         AddConstraint(s, "hostname", v1::Constraint::MAX_PER, "2");
       },
       ""},
      {"kill grace 10 min",
       [](v1::ServiceSpec& s) { SetDuration(s.mutable_kill_grace_period(), 600); }, ""},
      {"kill grace 0", [](v1::ServiceSpec& s) { SetDuration(s.mutable_kill_grace_period(), 0); },
       ""},
      {"full backoff",
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_backoff()->mutable_initial(), 0, 500000000);
         s.mutable_backoff()->set_factor(2);
         SetDuration(s.mutable_backoff()->mutable_max(), 60);
       },
       ""},
      {"backoff factor only", [](v1::ServiceSpec& s) { s.mutable_backoff()->set_factor(1); }, ""},
      {"long initial backoff without max",
       [](v1::ServiceSpec& s) { SetDuration(s.mutable_backoff()->mutable_initial(), 600); }, ""},
      {"roles",
       [](v1::ServiceSpec& s) { s.set_role("eng/backend.prod"); }, ""},
      {"star role", [](v1::ServiceSpec& s) { s.set_role("*"); }, ""},

      // --- spec size ---
      {"spec too large",
       [](v1::ServiceSpec& s) {
         for (int i = 0; i < 100; ++i) {
           (*s.mutable_labels())[absl::StrCat("l", i)] = std::string(4000, 'x');
         }
       },
       "labels: "},

      // --- name ---
      {"no name", [](v1::ServiceSpec& s) { s.clear_name(); }, "name: required"},
      {"upper case", [](v1::ServiceSpec& s) { s.set_name("Team/web"); },
       "name: 'Team/web' is not a path of DNS labels"},
      {"empty label", [](v1::ServiceSpec& s) { s.set_name("team//web"); },
       "name: 'team//web' is not a path of DNS labels: label ''"},
      {"leading slash", [](v1::ServiceSpec& s) { s.set_name("/web"); },
       "name: '/web' is not a path of DNS labels"},
      {"leading hyphen", [](v1::ServiceSpec& s) { s.set_name("team/-web"); },
       "name: 'team/-web' is not a path of DNS labels: label '-web'"},
      {"dot", [](v1::ServiceSpec& s) { s.set_name("team/web.app"); },
       "name: 'team/web.app' is not a path of DNS labels"},
      {"nine labels", [](v1::ServiceSpec& s) { s.set_name("a/b/c/d/e/f/g/h/i"); },
       "name: 'a/b/c/d/e/f/g/h/i' is not a path of DNS labels: more than 8 labels"},
      {"64-character label", [](v1::ServiceSpec& s) { s.set_name(std::string(64, 'a')); },
       "name: 'aaaa"},
      {"256 characters",
       [](v1::ServiceSpec& s) { s.set_name(std::string(60, 'a') + "/" + std::string(60, 'b') +
                                           "/" + std::string(60, 'c') + "/" +
                                           std::string(60, 'd') + "/" + std::string(12, 'e')); },
       "name:"},

      // --- command ---
      {"no command", [](v1::ServiceSpec& s) { s.clear_command(); }, "command: required"},
      {"neither shell nor argv",
       [](v1::ServiceSpec& s) {
         s.mutable_command()->clear_kind();
         s.mutable_command()->set_user("nobody");
       },
       "command: exactly one of shell or argv is required"},
      {"blank shell", [](v1::ServiceSpec& s) { s.mutable_command()->set_shell(" \t"); },
       "command.shell: must not be empty"},
      {"long shell",
       [](v1::ServiceSpec& s) { s.mutable_command()->set_shell(std::string(64 * 1024 + 1, 'x')); },
       "command.shell: longer than 65536 bytes"},
      {"NUL in shell",
       [](v1::ServiceSpec& s) { s.mutable_command()->set_shell(std::string("a\0b", 3)); },
       "command.shell: contains a NUL byte"},
      {"empty argv", [](v1::ServiceSpec& s) { s.mutable_command()->mutable_argv(); },
       "command.argv.args: must not be empty"},
      {"empty program",
       [](v1::ServiceSpec& s) { s.mutable_command()->mutable_argv()->add_args(""); },
       "command.argv.args[0]: must not be empty"},
      {"NUL in an argument",
       [](v1::ServiceSpec& s) {
         s.mutable_command()->mutable_argv()->add_args("/bin/x");
         s.mutable_command()->mutable_argv()->add_args(std::string("\0", 1));
       },
       "command.argv.args[1]: contains a NUL byte"},
      {"long argv",
       [](v1::ServiceSpec& s) {
         for (int i = 0; i < 3; ++i) {
           s.mutable_command()->mutable_argv()->add_args(std::string(30000, 'x'));
         }
       },
       "command.argv.args: longer than 65536 bytes in all"},
      {"bad user", [](v1::ServiceSpec& s) { s.mutable_command()->set_user("no body"); },
       "command.user: 'no body' is not a valid user name"},

      // --- container ---
      {"upper-case repository",
       [](v1::ServiceSpec& s) { s.mutable_container()->set_docker_image("Alpine"); },
       "container.docker_image: 'Alpine' is not an image reference"},
      {"empty tag", [](v1::ServiceSpec& s) { s.mutable_container()->set_docker_image("alpine:"); },
       "container.docker_image:"},
      {"space in image",
       [](v1::ServiceSpec& s) { s.mutable_container()->set_docker_image("alpine 3"); },
       "container.docker_image:"},
      {"short digest",
       [](v1::ServiceSpec& s) { s.mutable_container()->set_docker_image("alpine@sha256:abc"); },
       "container.docker_image:"},
      {"force pull without image",
       [](v1::ServiceSpec& s) { s.mutable_container()->set_force_pull_image(true); },
       "container.force_pull_image: needs container.docker_image"},

      // --- resources ---
      {"no resources", [](v1::ServiceSpec& s) { s.clear_resources(); },
       "resources.cpus: must be > 0"},
      {"zero cpus", [](v1::ServiceSpec& s) { s.mutable_resources()->set_cpus(0); },
       "resources.cpus: must be > 0"},
      {"negative cpus", [](v1::ServiceSpec& s) { s.mutable_resources()->set_cpus(-1); },
       "resources.cpus: must be > 0"},
      {"NaN cpus",
       [](v1::ServiceSpec& s) {
         s.mutable_resources()->set_cpus(std::numeric_limits<double>::quiet_NaN());
       },
       "resources.cpus: must be a finite number"},
      {"infinite cpus",
       [](v1::ServiceSpec& s) { s.mutable_resources()->set_cpus(INFINITY); },
       "resources.cpus: must be a finite number"},
      {"cpus below Mesos precision",
       [](v1::ServiceSpec& s) { s.mutable_resources()->set_cpus(0.0001); },
       "resources.cpus: must be >= 0.001"},
      {"too many cpus", [](v1::ServiceSpec& s) { s.mutable_resources()->set_cpus(5000); },
       "resources.cpus: must be <= 4096"},
      {"zero mem", [](v1::ServiceSpec& s) { s.mutable_resources()->set_mem_mib(0); },
       "resources.mem_mib: must be > 0"},
      {"tiny mem", [](v1::ServiceSpec& s) { s.mutable_resources()->set_mem_mib(2); },
       "resources.mem_mib: must be >= 4"},
      {"huge mem", [](v1::ServiceSpec& s) { s.mutable_resources()->set_mem_mib(1e9); },
       "resources.mem_mib: must be <= 16777216"},
      {"negative disk", [](v1::ServiceSpec& s) { s.mutable_resources()->set_disk_mib(-1); },
       "resources.disk_mib: must be >= 0"},
      {"too many gpus", [](v1::ServiceSpec& s) { s.mutable_resources()->set_gpus(129); },
       "resources.gpus: must be <= 128, not 129"},

      // --- ports ---
      {"upper-case port name", [](v1::ServiceSpec& s) { s.mutable_ports(0)->set_name("HTTP"); },
       "ports[0].name: 'HTTP' must be 1-63 characters of [a-z0-9-]"},
      {"underscore in port name",
       [](v1::ServiceSpec& s) { s.mutable_ports(0)->set_name("my_port"); }, "ports[0].name:"},
      {"duplicate port name", [](v1::ServiceSpec& s) { s.add_ports()->set_name("http"); },
       "ports[1].name: duplicate 'http'"},
      {"port above 65535", [](v1::ServiceSpec& s) { s.mutable_ports(0)->set_number(65536); },
       "ports[0].number: 65536 is not 0 (any) or a port in 1..65535"},
      {"duplicate port number",
       [](v1::ServiceSpec& s) {
         s.mutable_ports(0)->set_number(8080);
         v1::PortSpec* p = s.add_ports();
         p->set_number(8080);
         p->set_protocol("udp");
       },
       "ports[1].number: duplicate 8080"},
      {"sctp", [](v1::ServiceSpec& s) { s.mutable_ports(0)->set_protocol("sctp"); },
       "ports[0].protocol: 'sctp' is not \"tcp\" or \"udp\""},
      {"upper-case protocol", [](v1::ServiceSpec& s) { s.mutable_ports(0)->set_protocol("TCP"); },
       "ports[0].protocol:"},
      {"65 ports",
       [](v1::ServiceSpec& s) {
         for (int i = 0; i < 64; ++i) s.add_ports();
       },
       "ports: more than 64 ports"},

      // --- instances ---
      {"too many instances", [](v1::ServiceSpec& s) { s.set_instances(10001); },
       "instances: must be <= 10000, not 10001"},

      // --- env ---
      {"env name starts with a digit", [](v1::ServiceSpec& s) { (*s.mutable_env())["1X"] = ""; },
       "env['1X']: name must match"},
      {"env name with hyphen", [](v1::ServiceSpec& s) { (*s.mutable_env())["A-B"] = ""; },
       "env['A-B']: name must match"},
      {"empty env name", [](v1::ServiceSpec& s) { (*s.mutable_env())[""] = "x"; },
       "env['']: name must match"},
      {"env PORT", [](v1::ServiceSpec& s) { (*s.mutable_env())["PORT"] = "80"; },
       "env['PORT']: reserved"},
      {"env PORT0", [](v1::ServiceSpec& s) { (*s.mutable_env())["PORT0"] = "80"; },
       "env['PORT0']: reserved"},
      {"env PORT12", [](v1::ServiceSpec& s) { (*s.mutable_env())["PORT12"] = "80"; },
       "env['PORT12']: reserved"},
      {"env PORTS", [](v1::ServiceSpec& s) { (*s.mutable_env())["PORTS"] = "80"; },
       "env['PORTS']: reserved"},
      {"env PORT_HTTP", [](v1::ServiceSpec& s) { (*s.mutable_env())["PORT_HTTP"] = "80"; },
       "env['PORT_HTTP']: reserved"},
      {"env MESOS_*", [](v1::ServiceSpec& s) { (*s.mutable_env())["MESOS_TASK_ID"] = "x"; },
       "env['MESOS_TASK_ID']: reserved"},
      {"env MAST_*", [](v1::ServiceSpec& s) { (*s.mutable_env())["MAST_SERVICE"] = "x"; },
       "env['MAST_SERVICE']: reserved"},
      {"first bad env name in sorted order",
       [](v1::ServiceSpec& s) {
         (*s.mutable_env())["PORT_Z"] = "";
         (*s.mutable_env())["MESOS_A"] = "";
       },
       "env['MESOS_A']: reserved"},
      {"long env value",
       [](v1::ServiceSpec& s) { (*s.mutable_env())["BIG"] = std::string(32 * 1024 + 1, 'x'); },
       "env['BIG']: value longer than 32768 bytes"},
      {"NUL in env value",
       [](v1::ServiceSpec& s) { (*s.mutable_env())["NUL"] = std::string("a\0", 2); },
       "env['NUL']: value contains a NUL byte"},
      {"env too large in all",
       [](v1::ServiceSpec& s) {
         for (int i = 0; i < 5; ++i) {
           (*s.mutable_env())[absl::StrCat("V", i)] = std::string(30000, 'x');
         }
       },
       "env: longer than 131072 bytes in all"},
      {"too many env vars",
       [](v1::ServiceSpec& s) {
         for (int i = 0; i < 1025; ++i) (*s.mutable_env())[absl::StrCat("V", i)] = "";
       },
       "env: more than 1024 variables"},

      // --- labels ---
      {"reserved label prefix",
       [](v1::ServiceSpec& s) { (*s.mutable_labels())["mast.io/service"] = "x"; },
       "labels['mast.io/service']: the prefix 'mast.io/' is reserved"},
      {"label key with space", [](v1::ServiceSpec& s) { (*s.mutable_labels())["a b"] = "x"; },
       "labels['a b']: key must be [prefix/]name"},
      {"label key ending in a dot", [](v1::ServiceSpec& s) { (*s.mutable_labels())["a."] = ""; },
       "labels['a.']: key must be"},
      {"label with a bad prefix",
       [](v1::ServiceSpec& s) { (*s.mutable_labels())["Example.com/x"] = ""; },
       "labels['Example.com/x']: key must be"},
      {"empty label key", [](v1::ServiceSpec& s) { (*s.mutable_labels())[""] = ""; },
       "labels['']: key must be"},
      {"long label value",
       [](v1::ServiceSpec& s) { (*s.mutable_labels())["big"] = std::string(4097, 'x'); },
       "labels['big']: value longer than 4096 bytes"},

      // --- constraints ---
      {"no field",
       [](v1::ServiceSpec& s) { AddConstraint(s, "", v1::Constraint::UNIQUE); },
       "constraints[0].field: required"},
      {"field with a colon",
       [](v1::ServiceSpec& s) { AddConstraint(s, "rack:1", v1::Constraint::UNIQUE); },
       "constraints[0].field: 'rack:1' is not \"hostname\" or an attribute name"},
      {"no operator",
       [](v1::ServiceSpec& s) {
         AddConstraint(s, "hostname", v1::Constraint::UNIQUE);
         AddConstraint(s, "rack", v1::Constraint::OPERATOR_UNSPECIFIED);
       },
       "constraints[1].operator: required"},
      {"unknown operator",
       [](v1::ServiceSpec& s) {
         AddConstraint(s, "rack", static_cast<v1::Constraint::Operator>(42));
       },
       "constraints[0].operator: unknown operator 42"},
      {"UNIQUE with a value",
       [](v1::ServiceSpec& s) { AddConstraint(s, "hostname", v1::Constraint::UNIQUE, "x"); },
       "constraints[0].value: UNIQUE takes no value"},
      {"GROUP_BY with a word",
       [](v1::ServiceSpec& s) { AddConstraint(s, "rack", v1::Constraint::GROUP_BY, "three"); },
       "constraints[0].value: GROUP_BY needs no value or a positive integer"},
      {"GROUP_BY 0",
       [](v1::ServiceSpec& s) { AddConstraint(s, "rack", v1::Constraint::GROUP_BY, "0"); },
       "constraints[0].value: GROUP_BY needs"},
      {"LIKE without a regex",
       [](v1::ServiceSpec& s) { AddConstraint(s, "rack", v1::Constraint::LIKE); },
       "constraints[0].value: LIKE needs a regex"},
      {"LIKE with a bad regex",
       [](v1::ServiceSpec& s) { AddConstraint(s, "rack", v1::Constraint::LIKE, "rack-("); },
       "constraints[0].value: LIKE needs a valid regex"},
      {"UNLIKE with a lookahead (Java only)",
       [](v1::ServiceSpec& s) { AddConstraint(s, "rack", v1::Constraint::UNLIKE, "(?=a)a"); },
       "constraints[0].value: UNLIKE needs a valid regex"},
      {"MAX_PER without a value",
       [](v1::ServiceSpec& s) { AddConstraint(s, "rack", v1::Constraint::MAX_PER); },
       "constraints[0].value: MAX_PER needs a positive integer"},
      {"MAX_PER 0",
       [](v1::ServiceSpec& s) { AddConstraint(s, "rack", v1::Constraint::MAX_PER, "0"); },
       "constraints[0].value: MAX_PER needs a positive integer"},
      {"MAX_PER -1",
       [](v1::ServiceSpec& s) { AddConstraint(s, "rack", v1::Constraint::MAX_PER, "-1"); },
       "constraints[0].value: MAX_PER needs a positive integer"},
      {"MAX_PER 1.5",
       [](v1::ServiceSpec& s) { AddConstraint(s, "rack", v1::Constraint::MAX_PER, "1.5"); },
       "constraints[0].value: MAX_PER needs a positive integer"},
      {"long constraint value",
       [](v1::ServiceSpec& s) {
         AddConstraint(s, "rack", v1::Constraint::CLUSTER, std::string(1025, 'a'));
       },
       "constraints[0].value: longer than 1024 bytes"},
      {"33 constraints",
       [](v1::ServiceSpec& s) {
         for (int i = 0; i < 33; ++i) AddConstraint(s, "hostname", v1::Constraint::UNIQUE);
       },
       "constraints: more than 32 constraints"},

      // --- kill_grace_period ---
      {"negative kill grace",
       [](v1::ServiceSpec& s) { SetDuration(s.mutable_kill_grace_period(), -1); },
       "kill_grace_period: must be in [0s, 10m]"},
      {"kill grace above 10 min",
       [](v1::ServiceSpec& s) { SetDuration(s.mutable_kill_grace_period(), 600, 1); },
       "kill_grace_period: must be in [0s, 10m]"},
      {"malformed kill grace",
       [](v1::ServiceSpec& s) { SetDuration(s.mutable_kill_grace_period(), 1, -5); },
       "kill_grace_period: not a valid duration"},

      // --- backoff ---
      {"zero initial backoff",
       [](v1::ServiceSpec& s) { SetDuration(s.mutable_backoff()->mutable_initial(), 0); },
       "backoff.initial: must be > 0"},
      {"factor below 1", [](v1::ServiceSpec& s) { s.mutable_backoff()->set_factor(0.5); },
       "backoff.factor: must be in [1, 100]"},
      {"NaN factor",
       [](v1::ServiceSpec& s) {
         s.mutable_backoff()->set_factor(std::numeric_limits<double>::quiet_NaN());
       },
       "backoff.factor:"},
      {"max below initial",
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_backoff()->mutable_initial(), 10);
         SetDuration(s.mutable_backoff()->mutable_max(), 5);
       },
       "backoff.max: must be >= backoff.initial"},
      {"max below the default initial",
       [](v1::ServiceSpec& s) { SetDuration(s.mutable_backoff()->mutable_max(), 0, 500000000); },
       "backoff.max: must be >= backoff.initial"},
      {"max above a day",
       [](v1::ServiceSpec& s) { SetDuration(s.mutable_backoff()->mutable_max(), 2 * 86400); },
       "backoff.max: must be <= 24h"},

      // --- health check ---
      {"HTTP check on the first port",
       [](v1::ServiceSpec& s) { s.mutable_health_check()->set_protocol(v1::HealthCheck::HTTP); },
       ""},
      {"HTTPS check by port name with a path and timings",
       [](v1::ServiceSpec& s) {
         v1::HealthCheck* c = s.mutable_health_check();
         c->set_protocol(v1::HealthCheck::HTTPS);
         c->set_port_name("http");
         c->set_path("/health?deep=1");
         SetDuration(c->mutable_grace_period(), 0);
         SetDuration(c->mutable_interval(), 5);
         SetDuration(c->mutable_timeout(), 2);
         SetDuration(c->mutable_delay(), 0);
         c->set_consecutive_failures(5);
       },
       ""},
      {"TCP check by index",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::TCP);
         s.mutable_health_check()->set_port_index(0);
       },
       ""},
      {"COMMAND check",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::COMMAND);
         s.mutable_health_check()->mutable_command()->set_shell("test -f /tmp/ok");
       },
       ""},
      {"check without protocol", [](v1::ServiceSpec& s) { s.mutable_health_check(); },
       "health_check.protocol: required: HTTP, HTTPS, TCP or COMMAND"},
      {"check of an unknown protocol",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(static_cast<v1::HealthCheck::Protocol>(9));
       },
       "health_check.protocol: unknown protocol 9"},
      {"check of a port name the spec lacks",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::HTTP);
         s.mutable_health_check()->set_port_name("admin");
       },
       "health_check.port_name: 'admin' is not one of the spec's ports"},
      {"check of a port index past the ports",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::TCP);
         s.mutable_health_check()->set_port_index(1);
       },
       "health_check.port_index: must be < 1 (the spec's ports)"},
      {"HTTP check without ports",
       [](v1::ServiceSpec& s) {
         s.clear_ports();
         s.mutable_command()->set_shell("sleep 1000");
         s.mutable_health_check()->set_protocol(v1::HealthCheck::HTTP);
       },
       "health_check: an HTTP check needs a port: ports is empty"},
      {"TCP check of a udp port",
       [](v1::ServiceSpec& s) {
         s.mutable_ports(0)->set_protocol("udp");
         s.mutable_health_check()->set_protocol(v1::HealthCheck::TCP);
       },
       "health_check: a TCP check cannot check udp port 'http'"},
      {"TCP check with a path",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::TCP);
         s.mutable_health_check()->set_path("/x");
       },
       "health_check.path: not for a TCP check"},
      {"HTTP path without '/'",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::HTTP);
         s.mutable_health_check()->set_path("health");
       },
       "health_check.path: must start with '/'"},
      {"HTTP path with a space",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::HTTP);
         s.mutable_health_check()->set_path("/a b");
       },
       "health_check.path: contains whitespace"},
      {"HTTP check with a command",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::HTTP);
         s.mutable_health_check()->mutable_command()->set_shell("true");
       },
       "health_check.command: not for an HTTP check"},
      {"COMMAND check without command",
       [](v1::ServiceSpec& s) { s.mutable_health_check()->set_protocol(v1::HealthCheck::COMMAND); },
       "health_check.command: required for COMMAND"},
      {"COMMAND check with an empty shell",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::COMMAND);
         s.mutable_health_check()->mutable_command()->set_shell(" ");
       },
       "health_check.command.shell: must not be empty"},
      {"COMMAND check with a port",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::COMMAND);
         s.mutable_health_check()->mutable_command()->set_shell("true");
         s.mutable_health_check()->set_port_index(0);
       },
       "health_check.port_index: not for a COMMAND check"},
      {"zero interval",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::TCP);
         SetDuration(s.mutable_health_check()->mutable_interval(), 0);
       },
       "health_check.interval: must be in (0s, 1h]"},
      {"negative grace period",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::TCP);
         SetDuration(s.mutable_health_check()->mutable_grace_period(), -1);
       },
       "health_check.grace_period: must be in [0s, 1h]"},
      {"timeout over an hour",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::TCP);
         SetDuration(s.mutable_health_check()->mutable_timeout(), 7200);
       },
       "health_check.timeout: must be in (0s, 1h]"},
      {"too many consecutive failures",
       [](v1::ServiceSpec& s) {
         s.mutable_health_check()->set_protocol(v1::HealthCheck::TCP);
         s.mutable_health_check()->set_consecutive_failures(101);
       },
       "health_check.consecutive_failures: must be <= 100, not 101"},

      // --- fetch ---
      {"fetch of an https URI, extracted",
       [](v1::ServiceSpec& s) { s.add_fetch()->set_uri("https://example.com/app.tgz"); }, ""},
      {"fetch of an absolute path, executable, named",
       [](v1::ServiceSpec& s) {
         v1::FetchUri* f = s.add_fetch();
         f->set_uri("/opt/artifacts/run.sh");
         f->set_executable(true);
         f->set_output_file("bin/run.sh");
       },
       ""},
      {"fetch without a uri", [](v1::ServiceSpec& s) { s.add_fetch(); }, "fetch[0].uri: required"},
      {"fetch of an unknown scheme",
       [](v1::ServiceSpec& s) {
         s.add_fetch()->set_uri("https://example.com/ok");
         s.add_fetch()->set_uri("gopher://example.com/app");
       },
       "fetch[1].uri: 'gopher://example.com/app' is neither an absolute path nor"},
      {"fetch of a relative path", [](v1::ServiceSpec& s) { s.add_fetch()->set_uri("app.tgz"); },
       "fetch[0].uri: 'app.tgz' is neither an absolute path nor"},
      {"fetch of a scheme alone", [](v1::ServiceSpec& s) { s.add_fetch()->set_uri("http://"); },
       "fetch[0].uri: 'http://' names nothing"},
      {"fetch with a space",
       [](v1::ServiceSpec& s) { s.add_fetch()->set_uri("http://example.com/a b"); },
       "fetch[0].uri: 'http://example.com/a b' holds a space or a control character"},
      {"fetch executable and extract",
       [](v1::ServiceSpec& s) {
         v1::FetchUri* f = s.add_fetch();
         f->set_uri("http://example.com/run");
         f->set_executable(true);
         f->set_extract(true);
       },
       "fetch[0]: executable and extract: an executable file is not extracted"},
      {"fetch output_file outside the sandbox",
       [](v1::ServiceSpec& s) {
         v1::FetchUri* f = s.add_fetch();
         f->set_uri("http://example.com/run");
         f->set_output_file("../etc/passwd");
       },
       "fetch[0].output_file: '../etc/passwd' leaves the sandbox (..)"},
      {"fetch output_file absolute",
       [](v1::ServiceSpec& s) {
         v1::FetchUri* f = s.add_fetch();
         f->set_uri("http://example.com/run");
         f->set_output_file("/tmp/run");
       },
       "fetch[0].output_file: '/tmp/run' is absolute"},
      {"too many fetch URIs",
       [](v1::ServiceSpec& s) {
         for (int i = 0; i < 65; ++i) s.add_fetch()->set_uri("http://example.com/a");
       },
       "fetch: more than 64 URIs"},

      // --- unreachable_strategy ---
      {"unreachable strategy of 1 and 10 minutes",
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_unreachable_strategy()->mutable_inactive_after(), 60);
         SetDuration(s.mutable_unreachable_strategy()->mutable_expunge_after(), 600);
       },
       ""},
      {"unreachable expunge before inactive",
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_unreachable_strategy()->mutable_inactive_after(), 600);
         SetDuration(s.mutable_unreachable_strategy()->mutable_expunge_after(), 60);
       },
       "unreachable_strategy.expunge_after: must be >= inactive_after (10m), not 1m"},
      {"unreachable inactive negative",
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_unreachable_strategy()->mutable_inactive_after(), -1);
       },
       "unreachable_strategy.inactive_after: must be in [0s, 168h]"},
      {"unreachable expunge over a week",
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_unreachable_strategy()->mutable_expunge_after(), 8 * 86400);
       },
       "unreachable_strategy.expunge_after: must be in [0s, 168h]"},

      // --- secrets, secret_env, volumes ---
      {"secret value as an env variable and a file",
       [](v1::ServiceSpec& s) {
         (*s.mutable_secrets())["db-password"].set_value("hunter2");
         (*s.mutable_secrets())["api.key"].mutable_reference()->set_name("/team/api");
         (*s.mutable_secret_env())["DB_PASSWORD"] = "db-password";
         v1::Volume* v = s.add_volumes();
         v->set_container_path("secrets/api-key");
         v->set_secret("api.key");
         v->set_read_only(true);
       },
       ""},
      {"secret kept by an update (redacted, no value)",
       [](v1::ServiceSpec& s) { (*s.mutable_secrets())["db"].set_redacted(true); }, ""},
      {"secret with neither value nor reference",
       [](v1::ServiceSpec& s) { (*s.mutable_secrets())["db"]; },
       "secrets['db']: needs a reference or a value"},
      {"secret redacted with a value",
       [](v1::ServiceSpec& s) {
         (*s.mutable_secrets())["db"].set_value("x");
         (*s.mutable_secrets())["db"].set_redacted(true);
       },
       "secrets['db']: redacted with a value"},
      {"secret with a bad name",
       [](v1::ServiceSpec& s) { (*s.mutable_secrets())["db pass"].set_value("x"); },
       "secrets['db pass']: name must match [A-Za-z0-9_.-]+"},
      {"secret reference without a name",
       [](v1::ServiceSpec& s) { (*s.mutable_secrets())["db"].mutable_reference()->set_key("k"); },
       "secrets['db'].reference.name: required"},
      {"secret value too long",
       [](v1::ServiceSpec& s) {
         (*s.mutable_secrets())["db"].set_value(std::string(64 * 1024 + 1, 'x'));
       },
       "secrets['db'].value: longer than 65536 bytes"},
      {"secret_env naming no secret",
       [](v1::ServiceSpec& s) { (*s.mutable_secret_env())["DB"] = "nope"; },
       "secret_env['DB']: 'nope' is not in secrets"},
      {"secret_env also in env",
       [](v1::ServiceSpec& s) {
         (*s.mutable_secrets())["db"].set_value("x");
         (*s.mutable_secret_env())["DB"] = "db";
         (*s.mutable_env())["DB"] = "plain";
       },
       "secret_env['DB']: also set in env"},
      {"secret_env reserved name",
       [](v1::ServiceSpec& s) {
         (*s.mutable_secrets())["db"].set_value("x");
         (*s.mutable_secret_env())["MAST_DB"] = "db";
       },
       "secret_env['MAST_DB']: reserved"},
      {"host and sandbox volumes",
       [](v1::ServiceSpec& s) {
         v1::Volume* host = s.add_volumes();
         host->set_container_path("data");
         host->set_host_path("/var/lib/app");
         v1::Volume* sandbox = s.add_volumes();
         sandbox->set_container_path("/scratch");
         sandbox->set_sandbox_path("tmp/scratch");
       },
       ""},
      {"volume without a source",
       [](v1::ServiceSpec& s) { s.add_volumes()->set_container_path("data"); },
       "volumes[0]: needs a source: host_path, sandbox_path or secret"},
      {"volume without a container path",
       [](v1::ServiceSpec& s) { s.add_volumes()->set_host_path("/var/lib/app"); },
       "volumes[0].container_path: required"},
      {"volume host path relative",
       [](v1::ServiceSpec& s) {
         v1::Volume* v = s.add_volumes();
         v->set_container_path("data");
         v->set_host_path("var/lib/app");
       },
       "volumes[0].host_path: 'var/lib/app' is not absolute"},
      {"sandbox volume at a relative path",
       [](v1::ServiceSpec& s) {
         v1::Volume* v = s.add_volumes();
         v->set_container_path("data");
         v->set_sandbox_path("tmp/data");
       },
       "volumes[0].container_path: 'data' is relative: a sandbox_path volume is mounted"},
      {"volume sandbox path leaving the sandbox",
       [](v1::ServiceSpec& s) {
         v1::Volume* v = s.add_volumes();
         v->set_container_path("/data");
         v->set_sandbox_path("../other");
       },
       "volumes[0].sandbox_path: '../other' holds '..'"},
      {"volume container path with '..'",
       [](v1::ServiceSpec& s) {
         v1::Volume* v = s.add_volumes();
         v->set_container_path("a/../../etc");
         v->set_host_path("/data");
       },
       "volumes[0].container_path: 'a/../../etc' holds '..'"},
      {"two volumes at one path",
       [](v1::ServiceSpec& s) {
         for (int i = 0; i < 2; ++i) {
           v1::Volume* v = s.add_volumes();
           v->set_container_path(i == 0 ? "data" : "data/");
           v->set_host_path("/data");
         }
       },
       "volumes[1].container_path: 'data/' is used by another volume"},
      {"secret volume naming no secret",
       [](v1::ServiceSpec& s) {
         v1::Volume* v = s.add_volumes();
         v->set_container_path("key");
         v->set_secret("nope");
         v->set_read_only(true);
       },
       "volumes[0].secret: 'nope' is not in secrets"},
      {"secret volume read-write",
       [](v1::ServiceSpec& s) {
         (*s.mutable_secrets())["k"].set_value("x");
         v1::Volume* v = s.add_volumes();
         v->set_container_path("key");
         v->set_secret("k");
       },
       "volumes[0].read_only: a secret volume is read-only"},
      {"too many volumes",
       [](v1::ServiceSpec& s) {
         for (int i = 0; i < 33; ++i) {
           v1::Volume* v = s.add_volumes();
           v->set_container_path(absl::StrCat("v", i));
           v->set_host_path("/data");
         }
       },
       "volumes: more than 32 volumes"},

      // --- networks ---
      {"container network with mapped and container-only ports",
       [](v1::ServiceSpec& s) {
         v1::Network* n = s.add_networks();
         n->set_mode(v1::Network::CONTAINER);
         n->set_name("overlay-1");
         s.add_ports()->set_container_port(8080);
         s.mutable_ports(0)->set_name("http");
         s.add_ports()->set_container_port(9090);
         s.mutable_ports(1)->set_name("admin");
         s.mutable_ports(1)->set_container_only(true);
       },
       ""},
      {"container port on the host network",
       [](v1::ServiceSpec& s) { s.add_ports()->set_container_port(8080); },
       "ports[1].container_port: needs a CONTAINER network"},
      {"container network without a name",
       [](v1::ServiceSpec& s) { s.add_networks()->set_mode(v1::Network::CONTAINER); },
       "networks[0].name: '' is not a network name"},
      {"two networks, one HOST",
       [](v1::ServiceSpec& s) {
         s.add_networks()->set_mode(v1::Network::HOST);
         v1::Network* n = s.add_networks();
         n->set_mode(v1::Network::CONTAINER);
         n->set_name("a");
       },
       "networks[0].mode: HOST is the only network when given"},
      {"a network twice",
       [](v1::ServiceSpec& s) {
         for (int i = 0; i < 2; ++i) {
           v1::Network* n = s.add_networks();
           n->set_mode(v1::Network::CONTAINER);
           n->set_name("a");
         }
       },
       "networks[1].name: duplicate 'a'"},
      {"container-only port without a container port",
       [](v1::ServiceSpec& s) {
         v1::Network* n = s.add_networks();
         n->set_mode(v1::Network::CONTAINER);
         n->set_name("a");
         s.add_ports()->set_container_only(true);
       },
       "ports[1].container_port: required with container_only"},
      {"container-only port with a host port",
       [](v1::ServiceSpec& s) {
         v1::Network* n = s.add_networks();
         n->set_mode(v1::Network::CONTAINER);
         n->set_name("a");
         v1::PortSpec* p = s.add_ports();
         p->set_container_port(80);
         p->set_container_only(true);
         p->set_number(31000);
       },
       "ports[1].number: a container_only port takes no host port"},
      {"a container port twice",
       [](v1::ServiceSpec& s) {
         v1::Network* n = s.add_networks();
         n->set_mode(v1::Network::CONTAINER);
         n->set_name("a");
         s.add_ports()->set_container_port(80);
         s.add_ports()->set_container_port(80);
       },
       "ports[2].container_port: duplicate 80"},

      // --- role ---
      {"role starting with '-'", [](v1::ServiceSpec& s) { s.set_role("-prod"); },
       "role: '-prod' is not a Mesos role"},
      {"role with '//'", [](v1::ServiceSpec& s) { s.set_role("eng//prod"); },
       "role: 'eng//prod' is not a Mesos role: contains '//'"},
      {"role ending in '/'", [](v1::ServiceSpec& s) { s.set_role("eng/"); }, "role:"},
      {"role '.'", [](v1::ServiceSpec& s) { s.set_role("."); }, "role: '.' is not a Mesos role"},
      {"role with a '*' component", [](v1::ServiceSpec& s) { s.set_role("eng/*"); }, "role:"},
      {"role with a space", [](v1::ServiceSpec& s) { s.set_role("eng prod"); }, "role:"},
  };
  return *kCases;
}

// As given and with the defaults filled in (ExpectCases).
TEST(ValidateServiceSpecTest, ChecksEveryField) { validation_test::ExpectCases(Cases()); }

TEST(ValidateServiceSpecTest, QuotesLongAndBinaryTextShortly) {
  v1::ServiceSpec spec = ValidSpec();
  spec.set_name(std::string("x\x01") + std::string(500, 'y'));
  absl::Status status = ValidateServiceSpec(spec);
  EXPECT_TRUE(absl::StartsWith(status.message(), "name: 'x\\x01yyy")) << status;
  EXPECT_LT(status.message().size(), 300u) << status;
}

// The strategy WithDefaults fills in when a spec has none.
void AddDefaultStrategy(v1::ServiceSpec& s) {
  v1::UpgradeStrategy* u = s.mutable_upgrade_strategy();
  u->set_minimum_health_capacity(1);
  u->set_maximum_over_capacity(1);
  u->set_kill_selection(v1::UpgradeStrategy::YOUNGEST_FIRST);
  SetDuration(u->mutable_progress_deadline(), 600);
  u->set_failure_threshold(3);
}

void AddOtherDefaults(v1::ServiceSpec& s) {
  SetDuration(s.mutable_kill_grace_period(), 3);
  SetDuration(s.mutable_backoff()->mutable_initial(), 1);
  s.mutable_backoff()->set_factor(1.15);
  SetDuration(s.mutable_backoff()->mutable_max(), 300);
}

struct DefaultsCase {
  std::string name;
  Mutation input;
  Mutation want;  // applied to the input to get the expected output
};

TEST(WithDefaultsTest, FillsWhatMarathonUsersExpect) {
  const DefaultsCase cases[] = {
      {"empty spec gets every default", [](v1::ServiceSpec&) {},
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_kill_grace_period(), 3);
         SetDuration(s.mutable_backoff()->mutable_initial(), 1);
         s.mutable_backoff()->set_factor(1.15);
         SetDuration(s.mutable_backoff()->mutable_max(), 300);
       }},
      {"set values are kept (an explicit 0 s grace too)",
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_kill_grace_period(), 0);
         SetDuration(s.mutable_backoff()->mutable_initial(), 2);
         s.mutable_backoff()->set_factor(3);
         SetDuration(s.mutable_backoff()->mutable_max(), 30);
         s.set_instances(7);
         s.mutable_resources()->set_disk_mib(5);
       },
       [](v1::ServiceSpec&) {}},
      {"a health check gets Marathon's timings and the root path",
       [](v1::ServiceSpec& s) { s.mutable_health_check()->set_protocol(v1::HealthCheck::HTTP); },
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_kill_grace_period(), 3);
         SetDuration(s.mutable_backoff()->mutable_initial(), 1);
         s.mutable_backoff()->set_factor(1.15);
         SetDuration(s.mutable_backoff()->mutable_max(), 300);
         v1::HealthCheck* c = s.mutable_health_check();
         SetDuration(c->mutable_grace_period(), 300);
         SetDuration(c->mutable_interval(), 60);
         SetDuration(c->mutable_timeout(), 20);
         SetDuration(c->mutable_delay(), 15);
         c->set_consecutive_failures(3);
         c->set_path("/");
       }},
      {"partial backoff is completed",
       [](v1::ServiceSpec& s) { s.mutable_backoff()->set_factor(2); },
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_kill_grace_period(), 3);
         SetDuration(s.mutable_backoff()->mutable_initial(), 1);
         SetDuration(s.mutable_backoff()->mutable_max(), 300);
       }},
      {"a long initial delay raises the default max",
       [](v1::ServiceSpec& s) { SetDuration(s.mutable_backoff()->mutable_initial(), 600); },
       [](v1::ServiceSpec& s) {
         SetDuration(s.mutable_kill_grace_period(), 3);
         s.mutable_backoff()->set_factor(1.15);
         SetDuration(s.mutable_backoff()->mutable_max(), 600);
       }},
      {"ports default to tcp",
       [](v1::ServiceSpec& s) {
         s.add_ports()->set_name("a");
         s.add_ports()->set_protocol("udp");
       },
       [](v1::ServiceSpec& s) {
         s.mutable_ports(0)->set_protocol("tcp");
         SetDuration(s.mutable_kill_grace_period(), 3);
         SetDuration(s.mutable_backoff()->mutable_initial(), 1);
         s.mutable_backoff()->set_factor(1.15);
         SetDuration(s.mutable_backoff()->mutable_max(), 300);
       }},
      {"a readiness check gets Mesos' timings and the root path",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::HTTP);
       },
       [](v1::ServiceSpec& s) {
         AddOtherDefaults(s);
         v1::ReadinessCheck* c = s.mutable_readiness_check();
         SetDuration(c->mutable_interval(), 10);
         SetDuration(c->mutable_timeout(), 10);
         SetDuration(c->mutable_delay(), 0);
         c->set_path("/");
       }},
      {"a COMMAND readiness check gets no path",
       [](v1::ServiceSpec& s) {
         s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::COMMAND);
         SetDuration(s.mutable_readiness_check()->mutable_delay(), 5);
       },
       [](v1::ServiceSpec& s) {
         AddOtherDefaults(s);
         SetDuration(s.mutable_readiness_check()->mutable_interval(), 10);
         SetDuration(s.mutable_readiness_check()->mutable_timeout(), 10);
       }},
      {"a partial strategy is completed; failure_threshold 0 and minimum health 0 stay",
       [](v1::ServiceSpec& s) {
         s.mutable_upgrade_strategy()->set_failure_threshold(0);
         s.mutable_upgrade_strategy()->set_minimum_health_capacity(0);
         s.mutable_upgrade_strategy()->set_kill_selection(v1::UpgradeStrategy::OLDEST_FIRST);
       },
       [](v1::ServiceSpec& s) {
         AddOtherDefaults(s);
         s.mutable_upgrade_strategy()->set_maximum_over_capacity(1);
         SetDuration(s.mutable_upgrade_strategy()->mutable_progress_deadline(), 600);
       }},
  };
  for (const DefaultsCase& c : cases) {
    v1::ServiceSpec input;
    c.input(input);
    v1::ServiceSpec want = input;
    c.want(want);
    // Every spec without a strategy gets the default one.
    if (!input.has_upgrade_strategy()) AddDefaultStrategy(want);
    v1::ServiceSpec got = WithDefaults(input);
    EXPECT_EQ(got.DebugString(), want.DebugString()) << c.name;
    EXPECT_EQ(WithDefaults(got).DebugString(), got.DebugString()) << c.name << " (idempotent)";
  }
}

}  // namespace
}  // namespace mast
