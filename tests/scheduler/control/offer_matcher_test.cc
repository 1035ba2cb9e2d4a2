#include "scheduler/control/offer_matcher.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "store/health_check.h"

namespace mast {
namespace {

using ::mesos::v1::Offer;
using ::mesos::v1::Resource;
using ::mesos::v1::TaskInfo;

struct OfferArgs {
  std::string id;
  std::string host;
  double cpus = 2;
  double mem = 2048;
  double disk = 10240;
  double gpus = 0;
  std::vector<std::pair<uint64_t, uint64_t>> ports = {{31000, 31009}};
  std::string role = "*";
  std::vector<std::pair<std::string, std::string>> attributes;  // TEXT
};

Resource Scalar(const std::string& name, double value, const std::string& role) {
  Resource r;
  r.set_name(name);
  r.set_type(::mesos::v1::Value::SCALAR);
  r.mutable_scalar()->set_value(value);
  r.mutable_allocation_info()->set_role(role);
  return r;
}

Offer MakeOffer(const OfferArgs& a) {
  Offer offer;
  offer.mutable_id()->set_value(a.id);
  offer.mutable_framework_id()->set_value("fw");
  offer.mutable_agent_id()->set_value("agent-" + a.host);
  offer.set_hostname(a.host);
  offer.mutable_allocation_info()->set_role(a.role);
  const std::pair<const char*, double> scalars[] = {
      {"cpus", a.cpus}, {"mem", a.mem}, {"disk", a.disk}, {"gpus", a.gpus}};
  for (const auto& [name, value] : scalars) {
    if (value > 0) *offer.add_resources() = Scalar(name, value, a.role);
  }
  if (!a.ports.empty()) {
    Resource* ports = offer.add_resources();
    ports->set_name("ports");
    ports->set_type(::mesos::v1::Value::RANGES);
    ports->mutable_allocation_info()->set_role(a.role);
    for (const auto& [begin, end] : a.ports) {
      ::mesos::v1::Value::Range* range = ports->mutable_ranges()->add_range();
      range->set_begin(begin);
      range->set_end(end);
    }
  }
  for (const auto& [name, value] : a.attributes) {
    ::mesos::v1::Attribute* attribute = offer.add_attributes();
    attribute->set_name(name);
    attribute->set_type(::mesos::v1::Value::TEXT);
    attribute->mutable_text()->set_value(value);
  }
  return offer;
}

std::vector<Offer> MakeOffers(const std::vector<OfferArgs>& args) {
  std::vector<Offer> offers;
  for (const OfferArgs& a : args) offers.push_back(MakeOffer(a));
  return offers;
}

// A validated spec with defaults: 1 cpu, 512 MiB, no ports.
v1::ServiceSpec Spec(const std::function<void(v1::ServiceSpec&)>& mutate = nullptr) {
  v1::ServiceSpec spec;
  spec.set_name("team/web");
  spec.mutable_command()->set_shell("sleep 1000");
  spec.mutable_resources()->set_cpus(1);
  spec.mutable_resources()->set_mem_mib(512);
  spec.set_instances(1);
  if (mutate) mutate(spec);
  spec = WithDefaults(std::move(spec));
  absl::Status status = ValidateServiceSpec(spec);
  EXPECT_TRUE(status.ok()) << status;
  return spec;
}

Placement Place(const std::string& host, std::vector<std::pair<std::string, std::string>> attrs) {
  Placement p;
  p.hostname = host;
  for (const auto& [name, value] : attrs) {
    ::mesos::v1::Attribute* a = &p.attributes.emplace_back();
    a->set_name(name);
    a->set_type(::mesos::v1::Value::TEXT);
    a->mutable_text()->set_value(value);
  }
  return p;
}

// Task ids "<service>-1", "<service>-2", ... in the order they are asked for.
class TaskIds {
 public:
  std::string operator()(const v1::ServiceSpec& spec) {
    return absl::StrCat(spec.name(), "-", ++n_);
  }

 private:
  int n_ = 0;
};

OfferPlan Match(const std::vector<Offer>& offers, const std::vector<QueuedService>& queue,
                const MatchOptions& options = {}) {
  TaskIds ids;
  return MatchOffers(
      offers, queue, [&ids](const v1::ServiceSpec& spec) { return ids(spec); }, options);
}

// "o1:2 o3:1 | unused o2": tasks per launched offer, then the unused ones.
std::string Summary(const OfferPlan& plan) {
  std::vector<std::string> launches;
  for (const OfferLaunch& launch : plan.launches) {
    launches.push_back(absl::StrCat(launch.offer_id.value(), ":", launch.tasks.size()));
  }
  std::vector<std::string> unused;
  for (const ::mesos::v1::OfferID& id : plan.unused) unused.push_back(id.value());
  return absl::StrCat(launches.empty() ? "-" : absl::StrJoin(launches, " "), " | unused ",
                      unused.empty() ? "-" : absl::StrJoin(unused, ","));
}

size_t Placed(const OfferPlan& plan) {
  size_t n = 0;
  for (const OfferLaunch& launch : plan.launches) n += launch.tasks.size();
  return n;
}

double Sum(const TaskInfo& task, const std::string& name) {
  double total = 0;
  for (const Resource& r : task.resources()) {
    if (r.name() == name) total += r.scalar().value();
  }
  return total;
}

std::map<std::string, std::string> Env(const TaskInfo& task) {
  std::map<std::string, std::string> env;
  for (const auto& v : task.command().environment().variables()) env[v.name()] = v.value();
  return env;
}

// --- resources -------------------------------------------------------------

struct ResourceCase {
  std::string name;
  OfferArgs offer;
  std::function<void(v1::ServiceSpec&)> spec;
  int to_launch;
  std::string want;
  std::string reason;  // a part of the unmet reason, when tasks stay queued
};

TEST(OfferMatcherTest, Resources) {
  const auto res = [](double cpus, double mem, double disk = 0, uint32_t gpus = 0) {
    return [=](v1::ServiceSpec& s) {
      s.mutable_resources()->set_cpus(cpus);
      s.mutable_resources()->set_mem_mib(mem);
      s.mutable_resources()->set_disk_mib(disk);
      s.mutable_resources()->set_gpus(gpus);
    };
  };
  const ResourceCase cases[] = {
      {"fits exactly",
       {.id = "o1", .host = "h1", .cpus = 1, .mem = 512},
       res(1, 512),
       1,
       "o1:1 | unused -",
       ""},
      {"too few cpus",
       {.id = "o1", .host = "h1", .cpus = 0.5},
       res(1, 512),
       1,
       "- | unused o1",
       "1 insufficient cpus"},
      {"too little mem",
       {.id = "o1", .host = "h1", .mem = 256},
       res(1, 512),
       1,
       "- | unused o1",
       "1 insufficient mem"},
      {"too little disk",
       {.id = "o1", .host = "h1", .disk = 100},
       res(1, 512, 200),
       1,
       "- | unused o1",
       "1 insufficient disk"},
      {"no gpus offered",
       {.id = "o1", .host = "h1"},
       res(1, 512, 0, 1),
       1,
       "- | unused o1",
       "1 insufficient gpus"},
      {"gpus offered",
       {.id = "o1", .host = "h1", .gpus = 2},
       res(1, 512, 0, 2),
       1,
       "o1:1 | unused -",
       ""},
      {"several tasks per offer, cpus bound",
       {.id = "o1", .host = "h1", .cpus = 2, .mem = 4096},
       res(0.5, 256),
       5,
       "o1:4 | unused -",
       "1 of 5 tasks not placed"},
      {"several tasks per offer, mem bound",
       {.id = "o1", .host = "h1", .cpus = 8, .mem = 1000},
       res(0.5, 300),
       5,
       "o1:3 | unused -",
       "2 of 5 tasks not placed"},
      {"tenths add up exactly",
       {.id = "o1", .host = "h1", .cpus = 1, .mem = 1000},
       res(0.1, 100),
       10,
       "o1:10 | unused -",
       ""},
  };
  for (const ResourceCase& c : cases) {
    const v1::ServiceSpec spec = Spec(c.spec);
    OfferPlan plan = Match({MakeOffer(c.offer)}, {{&spec, 1, c.to_launch, {}}});
    EXPECT_EQ(Summary(plan), c.want) << c.name;
    if (c.reason.empty()) {
      EXPECT_TRUE(plan.unmet_reasons.empty()) << c.name;
    } else {
      ASSERT_EQ(plan.unmet_reasons.size(), 1u) << c.name;
      EXPECT_TRUE(absl::StrContains(plan.unmet_reasons[0], c.reason))
          << c.name << ": " << plan.unmet_reasons[0];
    }
  }
}

TEST(OfferMatcherTest, TaskResourcesComeFromTheOffer) {
  const v1::ServiceSpec spec = Spec([](v1::ServiceSpec& s) {
    s.mutable_resources()->set_cpus(0.5);
    s.mutable_resources()->set_disk_mib(64);
    s.add_ports();
  });
  Offer offer = MakeOffer({.id = "o1", .host = "h1", .role = "web"});
  // Only the offer says which role it is for: the tasks' resources say it too.
  for (Resource& r : *offer.mutable_resources()) r.clear_allocation_info();
  OfferPlan plan = Match({offer}, {{&spec, 1, 2, {}}}, {.default_role = "web"});
  ASSERT_EQ(Summary(plan), "o1:2 | unused -");
  for (const PlannedTask& task : plan.launches[0].tasks) {
    EXPECT_EQ(task.info.agent_id().value(), "agent-h1");
    EXPECT_DOUBLE_EQ(Sum(task.info, "cpus"), 0.5);
    EXPECT_DOUBLE_EQ(Sum(task.info, "mem"), 512);
    EXPECT_DOUBLE_EQ(Sum(task.info, "disk"), 64);
    for (const Resource& r : task.info.resources()) {
      EXPECT_EQ(r.allocation_info().role(), "web") << r.ShortDebugString();
    }
  }
}

TEST(OfferMatcherTest, ReservedResourcesAreTakenFirst) {
  Offer offer = MakeOffer({.id = "o1", .host = "h1", .cpus = 1, .role = "prod"});
  Resource reserved = Scalar("cpus", 0.25, "prod");
  ::mesos::v1::Resource::ReservationInfo* reservation = reserved.add_reservations();
  reservation->set_type(::mesos::v1::Resource::ReservationInfo::STATIC);
  reservation->set_role("prod");
  *offer.add_resources() = reserved;
  // Neither revocable nor persistent-volume cpus are ever taken.
  Resource revocable = Scalar("cpus", 8, "prod");
  revocable.mutable_revocable();
  *offer.add_resources() = revocable;

  const v1::ServiceSpec spec = Spec([](v1::ServiceSpec& s) {
    s.set_role("prod");
    s.mutable_resources()->set_cpus(0.5);
  });
  OfferPlan plan = Match({offer}, {{&spec, 1, 3, {}}});
  ASSERT_EQ(Summary(plan), "o1:2 | unused -");
  const TaskInfo& first = plan.launches[0].tasks[0].info;
  std::vector<std::string> pieces;
  for (const Resource& r : first.resources()) {
    if (r.name() == "cpus") {
      pieces.push_back(absl::StrCat(r.scalar().value(), r.reservations_size() > 0 ? "R" : "U"));
    }
  }
  EXPECT_EQ(absl::StrJoin(pieces, " "), "0.25R 0.25U");
  EXPECT_DOUBLE_EQ(Sum(plan.launches[0].tasks[1].info, "cpus"), 0.5);
}

// --- roles -----------------------------------------------------------------

TEST(OfferMatcherTest, TasksOnlyUseOffersOfTheirRole) {
  struct RoleCase {
    std::string name;
    std::string spec_role;
    std::string default_role;
    std::string want;
  };
  const RoleCase cases[] = {
      {"spec role matches the second offer", "prod", "*", "o2:1 | unused o1"},
      {"no spec role: the framework's role", "", "*", "o1:1 | unused o2"},
      {"framework role other than *", "", "prod", "o2:1 | unused o1"},
      {"no offer for the role", "dev", "*", "- | unused o1,o2"},
  };
  for (const RoleCase& c : cases) {
    const v1::ServiceSpec spec = Spec([&](v1::ServiceSpec& s) { s.set_role(c.spec_role); });
    OfferPlan plan = Match(MakeOffers({{.id = "o1", .host = "h1", .role = "*"},
                                       {.id = "o2", .host = "h2", .role = "prod"}}),
                           {{&spec, 1, 1, {}}}, {.default_role = c.default_role});
    EXPECT_EQ(Summary(plan), c.want) << c.name;
    if (Placed(plan) == 0) {
      ASSERT_EQ(plan.unmet_reasons.size(), 1u);
      EXPECT_TRUE(absl::StrContains(plan.unmet_reasons[0], "2 for another role than 'dev'"))
          << plan.unmet_reasons[0];
    }
  }
}

// --- ports -----------------------------------------------------------------

struct PortCase {
  std::string name;
  std::vector<OfferArgs> offers;
  std::vector<uint32_t> numbers;  // one PortSpec each (0: any)
  int to_launch;
  std::string want;
  std::vector<std::string> host_ports;  // per planned task, "a,b"
};

TEST(OfferMatcherTest, Ports) {
  const PortCase cases[] = {
      {"any port: the lowest free",
       {{.id = "o1", .host = "h1"}},
       {0, 0},
       2,
       "o1:2 | unused -",
       {"31000,31001", "31002,31003"}},
      {"fixed port in range",
       {{.id = "o1", .host = "h1", .ports = {{8000, 8100}}}},
       {8080, 0},
       1,
       "o1:1 | unused -",
       {"8080,8000"}},
      {"fixed port outside the offer",
       {{.id = "o1", .host = "h1"}},
       {8080},
       1,
       "- | unused o1",
       {}},
      {"fixed port taken by the first task moves the next",
       {{.id = "o1", .host = "h1", .ports = {{8080, 8080}}},
        {.id = "o2", .host = "h2", .ports = {{8080, 8081}}}},
       {8080},
       3,
       "o1:1 o2:1 | unused -",
       {"8080", "8080"}},
      {"ports run out",
       {{.id = "o1", .host = "h1", .cpus = 8, .mem = 8192, .ports = {{31000, 31002}}}},
       {0},
       5,
       "o1:3 | unused -",
       {"31000", "31001", "31002"}},
      {"ranges across gaps",
       {{.id = "o1", .host = "h1", .ports = {{31005, 31005}, {31000, 31001}}}},
       {0, 0, 0},
       1,
       "o1:1 | unused -",
       {"31000,31001,31005"}},
      {"no ports resource at all",
       {{.id = "o1", .host = "h1", .ports = {}}},
       {0},
       1,
       "- | unused o1",
       {}},
  };
  for (const PortCase& c : cases) {
    const v1::ServiceSpec spec = Spec([&](v1::ServiceSpec& s) {
      for (uint32_t n : c.numbers) s.add_ports()->set_number(n);
    });
    OfferPlan plan = Match(MakeOffers(c.offers), {{&spec, 1, c.to_launch, {}}});
    EXPECT_EQ(Summary(plan), c.want) << c.name;
    std::vector<std::string> got;
    for (const OfferLaunch& launch : plan.launches) {
      for (const PlannedTask& task : launch.tasks) {
        got.push_back(absl::StrJoin(task.host_ports, ","));
        // The ports resource holds exactly the chosen ports.
        std::vector<std::string> ranges;
        for (const Resource& r : task.info.resources()) {
          if (r.name() != "ports") continue;
          for (const auto& range : r.ranges().range()) {
            ranges.push_back(absl::StrCat(range.begin(), "-", range.end()));
          }
        }
        EXPECT_EQ(ranges.size() > 0, !task.host_ports.empty()) << c.name;
      }
    }
    EXPECT_EQ(got, c.host_ports) << c.name;
    if (Placed(plan) < static_cast<size_t>(c.to_launch) && Placed(plan) == 0) {
      ASSERT_EQ(plan.unmet_reasons.size(), 1u) << c.name;
      EXPECT_TRUE(absl::StrContains(plan.unmet_reasons[0], "insufficient ports"))
          << plan.unmet_reasons[0];
    }
  }
}

// --- constraints -----------------------------------------------------------

v1::Constraint C(const std::string& field, v1::Constraint::Operator op,
                 const std::string& value = "") {
  v1::Constraint c;
  c.set_field(field);
  c.set_operator_(op);
  c.set_value(value);
  return c;
}

struct ConstraintCase {
  std::string name;
  std::vector<v1::Constraint> constraints;
  std::vector<Placement> existing;
  int to_launch;
  std::string want;
  int unmet;
};

// Four agents, two tasks (1 cpu each) fit on each: h1 and h2 in rack a,
// h3 in rack b, h4 in rack c; zones x, y, x, y.
std::vector<Offer> RackOffers() {
  return MakeOffers({
      {.id = "o1", .host = "h1", .attributes = {{"rack", "a"}, {"zone", "x"}}},
      {.id = "o2", .host = "h2", .attributes = {{"rack", "a"}, {"zone", "y"}}},
      {.id = "o3", .host = "h3", .attributes = {{"rack", "b"}, {"zone", "x"}}},
      {.id = "o4", .host = "h4", .attributes = {{"rack", "c"}, {"zone", "y"}}},
  });
}

TEST(OfferMatcherTest, Constraints) {
  using v1::Constraint;
  const auto rack = [](const std::string& host, const std::string& value) {
    return Place(host, {{"rack", value}});
  };
  const ConstraintCase cases[] = {
      // UNIQUE
      {"UNIQUE hostname spreads within the plan",
       {C("hostname", Constraint::UNIQUE)},
       {},
       3,
       "o1:1 o2:1 o3:1 | unused o4",
       0},
      {"UNIQUE hostname avoids existing tasks",
       {C("hostname", Constraint::UNIQUE)},
       {Place("h1", {})},
       3,
       "o2:1 o3:1 o4:1 | unused o1",
       0},
      {"UNIQUE hostname leaves the rest queued",
       {C("hostname", Constraint::UNIQUE)},
       {},
       5,
       "o1:1 o2:1 o3:1 o4:1 | unused -",
       1},
      {"UNIQUE rack",
       {C("rack", Constraint::UNIQUE)},
       {rack("h9", "a")},
       3,
       "o3:1 o4:1 | unused o1,o2",
       1},
      // CLUSTER
      {"CLUSTER on a value",
       {C("rack", Constraint::CLUSTER, "b")},
       {},
       3,
       "o3:2 | unused o1,o2,o4",
       1},
      {"CLUSTER without value follows existing tasks",
       {C("rack", Constraint::CLUSTER)},
       {rack("h9", "c")},
       2,
       "o4:2 | unused o1,o2,o3",
       0},
      {"CLUSTER without value follows the first task placed",
       {C("rack", Constraint::CLUSTER)},
       {},
       5,
       "o1:2 o2:2 | unused o3,o4",
       1},
      // LIKE / UNLIKE
      {"LIKE hostname (full match)",
       {C("hostname", Constraint::LIKE, "h[23]")},
       {},
       4,
       "o2:2 o3:2 | unused o1,o4",
       0},
      {"LIKE is not a substring match",
       {C("hostname", Constraint::LIKE, "h")},
       {},
       1,
       "- | unused o1,o2,o3,o4",
       1},
      {"UNLIKE rack", {C("rack", Constraint::UNLIKE, "a")}, {}, 4, "o3:2 o4:2 | unused o1,o2", 0},
      {"LIKE on a missing attribute",
       {C("gpu", Constraint::LIKE, ".*")},
       {},
       1,
       "- | unused o1,o2,o3,o4",
       1},
      {"UNLIKE on a missing attribute",
       {C("gpu", Constraint::UNLIKE, "a100")},
       {},
       1,
       "o1:1 | unused o2,o3,o4",
       0},
      // MAX_PER
      {"MAX_PER rack within the plan",
       {C("rack", Constraint::MAX_PER, "2")},
       {},
       7,
       "o1:2 o3:2 o4:2 | unused o2",
       1},
      {"MAX_PER hostname with existing tasks",
       {C("hostname", Constraint::MAX_PER, "1")},
       {Place("h1", {}), Place("h2", {})},
       4,
       "o3:1 o4:1 | unused o1,o2",
       2},
      {"MAX_PER counts existing and planned together",
       {C("rack", Constraint::MAX_PER, "3")},
       {rack("h1", "a"), rack("h2", "a")},
       4,
       "o1:1 o3:2 o4:1 | unused o2",
       0},
      // GROUP_BY
      {"GROUP_BY rack spreads evenly",
       {C("rack", Constraint::GROUP_BY)},
       {},
       6,
       "o1:2 o3:2 o4:2 | unused o2",
       0},
      {"GROUP_BY rack catches up with existing tasks",
       {C("rack", Constraint::GROUP_BY)},
       {rack("h1", "a"), rack("h2", "a"), rack("h3", "b")},
       3,
       "o3:1 o4:2 | unused o1,o2",
       0},
      {"GROUP_BY with too few values waits",
       {C("rack", Constraint::GROUP_BY, "4")},
       {},
       6,
       "o1:1 o3:1 o4:1 | unused o2",
       3},
      {"GROUP_BY: a value with no offer now holds the others back",
       {C("rack", Constraint::GROUP_BY)},
       {rack("h9", "d"), rack("h1", "a"), rack("h1", "a"), rack("h3", "b"), rack("h3", "b"),
        rack("h4", "c"), rack("h4", "c")},
       2,
       "- | unused o1,o2,o3,o4",
       2},
      {"GROUP_BY: new values first, then the least used",
       {C("rack", Constraint::GROUP_BY)},
       {rack("h9", "d")},
       4,
       "o1:2 o3:1 o4:1 | unused o2",
       0},
      {"two GROUP_BYs spread over both",
       {C("rack", Constraint::GROUP_BY), C("zone", Constraint::GROUP_BY)},
       {},
       4,
       "o1:1 o2:1 o3:1 o4:1 | unused -",
       0},
      // Combinations
      {"GROUP_BY rack and UNIQUE hostname",
       {C("rack", Constraint::GROUP_BY), C("hostname", Constraint::UNIQUE)},
       {},
       5,
       "o1:1 o2:1 o3:1 o4:1 | unused -",
       1},
      {"LIKE rack and MAX_PER hostname",
       {C("rack", Constraint::LIKE, "[ab]"), C("hostname", Constraint::MAX_PER, "1")},
       {},
       4,
       "o1:1 o2:1 o3:1 | unused o4",
       1},
  };
  for (const ConstraintCase& c : cases) {
    const v1::ServiceSpec spec = Spec([&](v1::ServiceSpec& s) {
      for (const v1::Constraint& constraint : c.constraints) *s.add_constraints() = constraint;
    });
    OfferPlan plan = Match(RackOffers(), {{&spec, 1, c.to_launch, c.existing}});
    EXPECT_EQ(Summary(plan), c.want) << c.name;
    EXPECT_EQ(Placed(plan) + c.unmet, static_cast<size_t>(c.to_launch)) << c.name;
    EXPECT_EQ(plan.unmet_reasons.size(), c.unmet > 0 ? 1u : 0u) << c.name;
  }
}

TEST(OfferMatcherTest, UniqueHostnameCountsEveryOfferOfAHost) {
  const v1::ServiceSpec spec = Spec(
      [](v1::ServiceSpec& s) { *s.add_constraints() = C("hostname", v1::Constraint::UNIQUE); });
  // The same agent offered to two roles, then another agent.
  std::vector<Offer> offers = MakeOffers(
      {{.id = "o1", .host = "h1"}, {.id = "o2", .host = "h1"}, {.id = "o3", .host = "h2"}});
  EXPECT_EQ(Summary(Match(offers, {{&spec, 1, 3, {}}})), "o1:1 o3:1 | unused o2");
}

TEST(OfferMatcherTest, AttributeTypes) {
  struct AttributeCase {
    std::string name;
    ::mesos::v1::Attribute attribute;
    std::string want;
  };
  std::vector<AttributeCase> cases;
  {
    ::mesos::v1::Attribute a;
    a.set_name("cores");
    a.set_type(::mesos::v1::Value::SCALAR);
    a.mutable_scalar()->set_value(8);
    cases.push_back({"integral scalar", a, "8"});
    a.mutable_scalar()->set_value(2.5);
    cases.push_back({"fractional scalar", a, "2.5"});
    a.mutable_scalar()->set_value(0.12345);
    cases.push_back({"3 decimals as Mesos keeps", a, "0.123"});
  }
  {
    ::mesos::v1::Attribute a;
    a.set_name("ids");
    a.set_type(::mesos::v1::Value::RANGES);
    auto* r1 = a.mutable_ranges()->add_range();
    r1->set_begin(10);
    r1->set_end(20);
    auto* r2 = a.mutable_ranges()->add_range();
    r2->set_begin(1);
    r2->set_end(2);
    cases.push_back({"ranges, sorted", a, "[1-2,10-20]"});
  }
  {
    ::mesos::v1::Attribute a;
    a.set_name("features");
    a.set_type(::mesos::v1::Value::SET);
    a.mutable_set()->add_item("ssd");
    a.mutable_set()->add_item("avx");
    cases.push_back({"set, sorted", a, "{avx,ssd}"});
  }
  {
    ::mesos::v1::Attribute a;
    a.set_name("os");
    a.set_type(::mesos::v1::Value::TEXT);
    a.mutable_text()->set_value("linux");
    cases.push_back({"text", a, "linux"});
  }
  for (const AttributeCase& c : cases) {
    EXPECT_EQ(AttributeValueString(c.attribute), c.want) << c.name;
    // And a LIKE constraint sees that same string.
    const v1::ServiceSpec spec = Spec([&](v1::ServiceSpec& s) {
      *s.add_constraints() = C(c.attribute.name(), v1::Constraint::LIKE, RE2::QuoteMeta(c.want));
    });
    Offer offer = MakeOffer({.id = "o1", .host = "h1"});
    *offer.add_attributes() = c.attribute;
    EXPECT_EQ(Summary(Match({offer}, {{&spec, 1, 1, {}}})), "o1:1 | unused -") << c.name;
  }
}

// --- the TaskInfo ----------------------------------------------------------

TEST(OfferMatcherTest, BuildsTheTaskInfo) {
  const v1::ServiceSpec spec = Spec([](v1::ServiceSpec& s) {
    s.mutable_command()->set_user("app");
    s.mutable_container()->set_docker_image("alpine:3");
    (*s.mutable_labels())["owner"] = "web-team";
  });
  OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 42, 1, {}}});
  ASSERT_EQ(Summary(plan), "o1:1 | unused -");
  const PlannedTask& task = plan.launches[0].tasks[0];
  EXPECT_EQ(task.queue_index, 0u);
  const TaskInfo& info = task.info;
  EXPECT_EQ(info.task_id().value(), "team/web-1");
  EXPECT_EQ(info.name(), "web.team");
  EXPECT_EQ(info.agent_id().value(), "agent-h1");
  EXPECT_TRUE(info.command().shell());
  EXPECT_EQ(info.command().value(), "sleep 1000");
  EXPECT_EQ(info.command().user(), "app");
  EXPECT_EQ(info.container().type(), ::mesos::v1::ContainerInfo::MESOS);
  EXPECT_EQ(info.container().mesos().image().type(), ::mesos::v1::Image::DOCKER);
  EXPECT_EQ(info.container().mesos().image().docker().name(), "alpine:3");
  EXPECT_TRUE(info.container().mesos().image().cached());
  EXPECT_EQ(info.kill_policy().grace_period().nanoseconds(), 3000000000);
  std::vector<std::string> labels;
  for (const auto& l : info.labels().labels()) labels.push_back(l.key() + "=" + l.value());
  EXPECT_EQ(absl::StrJoin(labels, " "),
            "owner=web-team mast.io/service=team/web mast.io/version=42");
  EXPECT_FALSE(info.has_executor());
}

TEST(OfferMatcherTest, FetchUrisGoIntoTheCommandForTheFetcher) {
  const v1::ServiceSpec spec = Spec([](v1::ServiceSpec& s) {
    s.add_fetch()->set_uri("https://example.com/app.tgz");  // extract by default
    v1::FetchUri* script = s.add_fetch();
    script->set_uri("/opt/run.sh");
    script->set_executable(true);  // hence not extracted
    script->set_cache(true);
    script->set_output_file("bin/run");
    v1::FetchUri* raw = s.add_fetch();
    raw->set_uri("http://example.com/data.tar");
    raw->set_extract(false);
  });
  OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
  ASSERT_EQ(Summary(plan), "o1:1 | unused -");
  const auto& uris = plan.launches[0].tasks[0].info.command().uris();
  ASSERT_EQ(uris.size(), 3);
  EXPECT_EQ(uris[0].value(), "https://example.com/app.tgz");
  EXPECT_TRUE(uris[0].extract());
  EXPECT_FALSE(uris[0].executable());
  EXPECT_FALSE(uris[0].has_output_file());
  EXPECT_EQ(uris[1].value(), "/opt/run.sh");
  EXPECT_TRUE(uris[1].has_extract());
  EXPECT_FALSE(uris[1].extract());
  EXPECT_TRUE(uris[1].executable());
  EXPECT_TRUE(uris[1].cache());
  EXPECT_EQ(uris[1].output_file(), "bin/run");
  EXPECT_FALSE(uris[2].extract());
}

TEST(OfferMatcherTest, SecretsAndVolumesGoIntoTheContainer) {
  const v1::ServiceSpec spec = Spec([](v1::ServiceSpec& s) {
    (*s.mutable_env())["PLAIN"] = "p";
    (*s.mutable_secrets())["db"].set_value("hunter2");
    v1::SecretReference* ref = (*s.mutable_secrets())["api"].mutable_reference();
    ref->set_name("/team/api");
    ref->set_key("token");
    (*s.mutable_secret_env())["DB_PASSWORD"] = "db";
    (*s.mutable_secret_env())["API_TOKEN"] = "api";
    v1::Volume* host = s.add_volumes();
    host->set_container_path("data");
    host->set_host_path("/var/lib/app");
    host->set_read_only(true);
    v1::Volume* sandbox = s.add_volumes();
    sandbox->set_container_path("/scratch");
    sandbox->set_sandbox_path("tmp/scratch");
    v1::Volume* file = s.add_volumes();
    file->set_container_path("secrets/db");
    file->set_secret("db");
    file->set_read_only(true);
  });
  OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
  ASSERT_EQ(Summary(plan), "o1:1 | unused -");
  const TaskInfo& info = plan.launches[0].tasks[0].info;
  using Variable = ::mesos::v1::Environment::Variable;
  std::map<std::string, const Variable*> env;
  for (const Variable& v : info.command().environment().variables()) env[v.name()] = &v;
  ASSERT_TRUE(env.contains("DB_PASSWORD") && env.contains("API_TOKEN") && env.contains("PLAIN"));
  EXPECT_EQ(env["PLAIN"]->type(), Variable::VALUE);
  EXPECT_EQ(env["DB_PASSWORD"]->type(), Variable::SECRET);
  EXPECT_FALSE(env["DB_PASSWORD"]->has_value()) << "the secret is not a plain value";
  EXPECT_EQ(env["DB_PASSWORD"]->secret().type(), ::mesos::v1::Secret::VALUE);
  EXPECT_EQ(env["DB_PASSWORD"]->secret().value().data(), "hunter2");
  EXPECT_EQ(env["API_TOKEN"]->secret().type(), ::mesos::v1::Secret::REFERENCE);
  EXPECT_EQ(env["API_TOKEN"]->secret().reference().name(), "/team/api");
  EXPECT_EQ(env["API_TOKEN"]->secret().reference().key(), "token");

  ASSERT_TRUE(info.has_container());
  EXPECT_EQ(info.container().type(), ::mesos::v1::ContainerInfo::MESOS);
  EXPECT_FALSE(info.container().has_mesos()) << "no image";
  using MesosVolume = ::mesos::v1::Volume;
  const auto& volumes = info.container().volumes();
  ASSERT_EQ(volumes.size(), 3);
  EXPECT_EQ(volumes[0].container_path(), "data");
  EXPECT_EQ(volumes[0].host_path(), "/var/lib/app");
  EXPECT_EQ(volumes[0].mode(), MesosVolume::RO);
  EXPECT_FALSE(volumes[0].has_source()) << "a host path as Marathon sends it";
  EXPECT_EQ(volumes[1].mode(), MesosVolume::RW);
  EXPECT_EQ(volumes[1].source().type(), MesosVolume::Source::SANDBOX_PATH);
  EXPECT_EQ(volumes[1].source().sandbox_path().type(), MesosVolume::Source::SandboxPath::SELF);
  EXPECT_EQ(volumes[1].source().sandbox_path().path(), "tmp/scratch");
  EXPECT_EQ(volumes[2].source().type(), MesosVolume::Source::SECRET);
  EXPECT_EQ(volumes[2].source().secret().value().data(), "hunter2");
}

TEST(OfferMatcherTest, ContainerNetworkMapsPortsAndLabelsDiscovery) {
  const v1::ServiceSpec spec = Spec([](v1::ServiceSpec& s) {
    v1::Network* n = s.add_networks();
    n->set_mode(v1::Network::CONTAINER);
    n->set_name("overlay");
    (*n->mutable_labels())["tier"] = "web";
    v1::PortSpec* http = s.add_ports();
    http->set_name("http");
    http->set_container_port(8080);
    v1::PortSpec* admin = s.add_ports();
    admin->set_name("admin");
    admin->set_container_port(9090);
    admin->set_container_only(true);
    admin->set_protocol("udp");
  });
  // One host port in the offer is enough: the container-only port takes none.
  OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1", .ports = {{31000, 31000}}})},
                         {{&spec, 1, 1, {}}});
  ASSERT_EQ(Summary(plan), "o1:1 | unused -");
  const TaskInfo& info = plan.launches[0].tasks[0].info;
  ASSERT_EQ(info.container().network_infos_size(), 1);
  const ::mesos::v1::NetworkInfo& network = info.container().network_infos(0);
  EXPECT_EQ(network.name(), "overlay");
  ASSERT_EQ(network.labels().labels_size(), 1);
  EXPECT_EQ(network.labels().labels(0).key(), "tier");
  ASSERT_EQ(network.port_mappings_size(), 1) << "the container-only port is not mapped";
  EXPECT_EQ(network.port_mappings(0).host_port(), 31000u);
  EXPECT_EQ(network.port_mappings(0).container_port(), 8080u);
  EXPECT_EQ(network.port_mappings(0).protocol(), "tcp");
  EXPECT_EQ(plan.launches[0].tasks[0].host_ports, (std::vector<uint32_t>{31000, 0}));
  // Discovery: each port in the container's scope, and the mapped one in
  // the host's too.
  std::vector<std::string> ports;
  for (const ::mesos::v1::Port& port : info.discovery().ports().ports()) {
    std::string line = absl::StrCat(port.name(), ":", port.number(), "/", port.protocol());
    for (const ::mesos::v1::Label& label : port.labels().labels()) {
      absl::StrAppend(&line, " ", label.key(), "=", label.value());
    }
    ports.push_back(line);
  }
  EXPECT_THAT(
      ports, ::testing::ElementsAre("http:8080/tcp network-scope=container network-name=overlay",
                                    "http:31000/tcp network-scope=host",
                                    "admin:9090/udp network-scope=container network-name=overlay"));
}

TEST(OfferMatcherTest, UnmetServicesSayWhichRequirementEachOfferFailed) {
  const v1::ServiceSpec spec = Spec([](v1::ServiceSpec& s) {
    s.mutable_resources()->set_mem_mib(2048);
    v1::Constraint* c = s.add_constraints();
    c->set_field("hostname");
    c->set_operator_(v1::Constraint::UNIQUE);
  });
  OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1", .mem = 4096}),
                          MakeOffer({.id = "o2", .host = "h2", .mem = 512}),
                          MakeOffer({.id = "o3", .host = "h3", .mem = 1024})},
                         {{&spec, 1, 3, {}}});
  ASSERT_EQ(plan.unmet.size(), 1u);
  ASSERT_EQ(plan.unmet_reasons.size(), 1u);
  const v1::PlacementStatus& placement = plan.unmet[0].placement;
  EXPECT_EQ(plan.unmet[0].queue_index, 0u);
  EXPECT_EQ(placement.waiting(), 2u);
  EXPECT_EQ(placement.offers(), 3u);
  std::vector<std::string> refused;
  for (const auto& r : placement.refused())
    refused.push_back(absl::StrCat(r.requirement(), "=", r.offers()));
  EXPECT_THAT(refused, ::testing::ElementsAre("mem=2", "constraints[0] hostname UNIQUE=1"))
      << placement.summary();
  std::vector<std::string> offers;
  for (const auto& o : placement.last_offers())
    offers.push_back(absl::StrCat(o.agent(), ":", o.requirement()));
  EXPECT_THAT(offers,
              ::testing::ElementsAre("h1:constraints[0] hostname UNIQUE", "h2:mem", "h3:mem"));
  EXPECT_TRUE(absl::StartsWith(placement.summary(), "2 of 3 tasks not placed"))
      << placement.summary();
}

// Maintenance: an agent going down soon (or down now) takes tasks only
// when no other offer can; a window that has ended, or starts after the
// horizon, does not count. The plan keeps the offers' order.
TEST(OfferMatcherTest, AgentsGoingDownAreUsedLast) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  const auto going_down = [&](Offer offer, absl::Duration in, std::optional<absl::Duration> for_) {
    offer.mutable_unavailability()->mutable_start()->set_nanoseconds(absl::ToUnixNanos(now + in));
    if (for_)
      offer.mutable_unavailability()->mutable_duration()->set_nanoseconds(
          absl::ToInt64Nanoseconds(*for_));
    return offer;
  };
  MatchOptions options;
  options.now = now;
  options.maintenance_horizon = absl::Hours(1);
  const v1::ServiceSpec spec = Spec([](v1::ServiceSpec& s) { s.mutable_resources()->set_cpus(1); });
  const Offer soon = going_down(MakeOffer({.id = "o1", .host = "h1", .cpus = 1}), absl::Minutes(10),
                                absl::Hours(2));
  const Offer fine = MakeOffer({.id = "o2", .host = "h2", .cpus = 1});
  EXPECT_EQ(Summary(Match({soon, fine}, {{&spec, 1, 1, {}}}, options)), "o2:1 | unused o1");
  // No other place: the agent going down takes it rather than nothing.
  EXPECT_EQ(Summary(Match({soon, fine}, {{&spec, 1, 2, {}}}, options)), "o1:1 o2:1 | unused -");
  // Down now, with no end.
  const Offer down =
      going_down(MakeOffer({.id = "o1", .host = "h1", .cpus = 1}), -absl::Minutes(5), std::nullopt);
  EXPECT_EQ(Summary(Match({down, fine}, {{&spec, 1, 1, {}}}, options)), "o2:1 | unused o1");
  // Back already, or not before the horizon: an ordinary offer.
  const Offer back =
      going_down(MakeOffer({.id = "o1", .host = "h1", .cpus = 1}), -absl::Hours(3), absl::Hours(1));
  EXPECT_EQ(Summary(Match({back, fine}, {{&spec, 1, 1, {}}}, options)), "o1:1 | unused o2");
  const Offer later =
      going_down(MakeOffer({.id = "o1", .host = "h1", .cpus = 1}), absl::Hours(2), absl::Hours(1));
  EXPECT_EQ(Summary(Match({later, fine}, {{&spec, 1, 1, {}}}, options)), "o1:1 | unused o2");
  // Without `now`, unavailability is not looked at.
  EXPECT_EQ(Summary(Match({soon, fine}, {{&spec, 1, 1, {}}})), "o1:1 | unused o2");
}

TEST(OfferMatcherTest, ArgvCommandAndNoImage) {
  const v1::ServiceSpec spec = Spec([](v1::ServiceSpec& s) {
    s.mutable_command()->mutable_argv()->add_args("/bin/server");
    s.mutable_command()->mutable_argv()->add_args("--verbose");
  });
  OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
  ASSERT_EQ(Summary(plan), "o1:1 | unused -");
  const TaskInfo& info = plan.launches[0].tasks[0].info;
  EXPECT_FALSE(info.command().shell());
  EXPECT_EQ(info.command().value(), "/bin/server");
  EXPECT_EQ(absl::StrJoin(info.command().arguments(), " "), "/bin/server --verbose");
  EXPECT_FALSE(info.has_container());
}

TEST(OfferMatcherTest, HealthChecksGoIntoTheTaskInfoWithTheHostPort) {
  const auto two_ports = [](v1::ServiceSpec& s) {
    s.add_ports()->set_name("admin");
    s.add_ports()->set_name("http");
  };
  {
    const v1::ServiceSpec spec = Spec([&](v1::ServiceSpec& s) {
      two_ports(s);
      s.mutable_health_check()->set_protocol(v1::HealthCheck::HTTPS);
      s.mutable_health_check()->set_port_name("http");
      s.mutable_health_check()->set_path("/ready");
      s.mutable_health_check()->mutable_interval()->set_seconds(5);
      s.mutable_health_check()->mutable_timeout()->set_nanos(500000000);
    });
    OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
    ASSERT_EQ(Summary(plan), "o1:1 | unused -");
    const PlannedTask& task = plan.launches[0].tasks[0];
    const ::mesos::v1::HealthCheck& check = task.info.health_check();
    EXPECT_EQ(check.type(), ::mesos::v1::HealthCheck::HTTP);
    EXPECT_EQ(check.http().scheme(), "https");
    EXPECT_EQ(check.http().path(), "/ready");
    ASSERT_EQ(task.host_ports.size(), 2u);
    EXPECT_EQ(check.http().port(), task.host_ports[1]) << "the host port of 'http'";
    EXPECT_DOUBLE_EQ(check.interval_seconds(), 5);
    EXPECT_DOUBLE_EQ(check.timeout_seconds(), 0.5);
    // WithDefaults' values for what the spec left out.
    EXPECT_DOUBLE_EQ(check.grace_period_seconds(), 300);
    EXPECT_DOUBLE_EQ(check.delay_seconds(), 15);
    EXPECT_EQ(check.consecutive_failures(), std::numeric_limits<uint32_t>::max())
        << "Mast replaces failing tasks itself: the executor must never kill them";
  }
  {
    const v1::ServiceSpec spec = Spec([&](v1::ServiceSpec& s) {
      two_ports(s);
      s.mutable_health_check()->set_protocol(v1::HealthCheck::TCP);
    });
    OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
    ASSERT_EQ(Summary(plan), "o1:1 | unused -");
    const PlannedTask& task = plan.launches[0].tasks[0];
    EXPECT_EQ(task.info.health_check().type(), ::mesos::v1::HealthCheck::TCP);
    EXPECT_EQ(task.info.health_check().tcp().port(), task.host_ports[0]) << "the first port";
    EXPECT_FALSE(task.info.health_check().has_http());
  }
  {
    const v1::ServiceSpec spec = Spec([](v1::ServiceSpec& s) {
      s.mutable_health_check()->set_protocol(v1::HealthCheck::COMMAND);
      s.mutable_health_check()->mutable_command()->mutable_argv()->add_args("/bin/check");
      s.mutable_health_check()->mutable_command()->mutable_argv()->add_args("--quick");
    });
    OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
    ASSERT_EQ(Summary(plan), "o1:1 | unused -");
    const ::mesos::v1::HealthCheck& check = plan.launches[0].tasks[0].info.health_check();
    EXPECT_EQ(check.type(), ::mesos::v1::HealthCheck::COMMAND);
    EXPECT_FALSE(check.command().shell());
    EXPECT_EQ(check.command().value(), "/bin/check");
    EXPECT_EQ(absl::StrJoin(check.command().arguments(), " "), "/bin/check --quick");
  }
  {
    const v1::ServiceSpec spec = Spec([](v1::ServiceSpec&) {});
    OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
    ASSERT_EQ(Summary(plan), "o1:1 | unused -");
    EXPECT_FALSE(plan.launches[0].tasks[0].info.has_health_check()) << "none asked for";
  }
}

TEST(OfferMatcherTest, ReadinessChecksGoIntoTheTaskInfoAsACheckWithTheHostPort) {
  const auto two_ports = [](v1::ServiceSpec& s) {
    s.add_ports()->set_name("admin");
    s.add_ports()->set_name("http");
  };
  {
    const v1::ServiceSpec spec = Spec([&](v1::ServiceSpec& s) {
      two_ports(s);
      v1::ReadinessCheck* ready = s.mutable_readiness_check();
      ready->set_protocol(v1::ReadinessCheck::HTTP);
      ready->set_port_name("http");
      ready->set_path("/ready");
      ready->mutable_interval()->set_seconds(3);
      ready->mutable_timeout()->set_nanos(250000000);
      ready->mutable_delay()->set_seconds(2);
    });
    OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
    ASSERT_EQ(Summary(plan), "o1:1 | unused -");
    const PlannedTask& task = plan.launches[0].tasks[0];
    ASSERT_TRUE(task.info.has_check());
    const ::mesos::v1::CheckInfo& check = task.info.check();
    EXPECT_EQ(check.type(), ::mesos::v1::CheckInfo::HTTP);
    EXPECT_EQ(check.http().path(), "/ready");
    ASSERT_EQ(task.host_ports.size(), 2u);
    EXPECT_EQ(check.http().port(), task.host_ports[1]) << "the host port of 'http'";
    EXPECT_FALSE(check.has_tcp());
    EXPECT_FALSE(check.has_command());
    EXPECT_DOUBLE_EQ(check.interval_seconds(), 3);
    EXPECT_DOUBLE_EQ(check.timeout_seconds(), 0.25);
    EXPECT_DOUBLE_EQ(check.delay_seconds(), 2);
    EXPECT_FALSE(task.info.has_health_check()) << "a readiness check is no health check";
    EXPECT_TRUE(check.IsInitialized()) << check.InitializationErrorString();
  }
  {
    // TCP on the port given by index; timings left out: 0 s, 10 s, 10 s.
    const v1::ServiceSpec spec = Spec([&](v1::ServiceSpec& s) {
      two_ports(s);
      s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::TCP);
      s.mutable_readiness_check()->set_port_index(1);
      s.mutable_readiness_check()->clear_interval();
      s.mutable_readiness_check()->clear_timeout();
      s.mutable_readiness_check()->clear_delay();
    });
    OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
    ASSERT_EQ(Summary(plan), "o1:1 | unused -");
    const PlannedTask& task = plan.launches[0].tasks[0];
    const ::mesos::v1::CheckInfo& check = task.info.check();
    EXPECT_EQ(check.type(), ::mesos::v1::CheckInfo::TCP);
    EXPECT_EQ(check.tcp().port(), task.host_ports[1]);
    EXPECT_FALSE(check.has_http());
    EXPECT_TRUE(check.has_delay_seconds()) << "sent explicitly: Mesos' default is 15 s";
    EXPECT_DOUBLE_EQ(check.delay_seconds(), 0);
    EXPECT_DOUBLE_EQ(check.interval_seconds(), 10);
    EXPECT_TRUE(check.has_timeout_seconds()) << "sent explicitly: Mesos' default is 20 s";
    EXPECT_DOUBLE_EQ(check.timeout_seconds(), 10);
  }
  {
    // HTTP on the first port with the default path.
    const v1::ServiceSpec spec = Spec([&](v1::ServiceSpec& s) {
      two_ports(s);
      s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::HTTP);
    });
    OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
    ASSERT_EQ(Summary(plan), "o1:1 | unused -");
    const PlannedTask& task = plan.launches[0].tasks[0];
    EXPECT_EQ(task.info.check().http().port(), task.host_ports[0]) << "the first port";
    EXPECT_EQ(task.info.check().http().path(), "/");
  }
  {
    const v1::ServiceSpec spec = Spec([](v1::ServiceSpec& s) {
      s.mutable_readiness_check()->set_protocol(v1::ReadinessCheck::COMMAND);
      s.mutable_readiness_check()->mutable_command()->set_shell("test -f ready");
      s.mutable_readiness_check()->mutable_command()->set_user("nobody");
    });
    OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
    ASSERT_EQ(Summary(plan), "o1:1 | unused -");
    const ::mesos::v1::CheckInfo& check = plan.launches[0].tasks[0].info.check();
    EXPECT_EQ(check.type(), ::mesos::v1::CheckInfo::COMMAND);
    ASSERT_TRUE(check.has_command());
    EXPECT_TRUE(check.command().command().shell());
    EXPECT_EQ(check.command().command().value(), "test -f ready");
    EXPECT_EQ(check.command().command().user(), "nobody");
    EXPECT_FALSE(check.has_http());
    EXPECT_FALSE(check.has_tcp());
  }
  {
    const v1::ServiceSpec spec = Spec([](v1::ServiceSpec&) {});
    OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 1, 1, {}}});
    ASSERT_EQ(Summary(plan), "o1:1 | unused -");
    EXPECT_FALSE(plan.launches[0].tasks[0].info.has_check()) << "none asked for";
  }
}

TEST(ReadinessCheckPortIndexTest, ByNameByIndexFirstOrNone) {
  v1::ServiceSpec spec;
  EXPECT_EQ(ReadinessCheckPortIndex(spec), std::nullopt) << "no readiness check";
  spec.add_ports()->set_name("admin");
  spec.add_ports()->set_name("http");
  v1::ReadinessCheck* check = spec.mutable_readiness_check();
  check->set_protocol(v1::ReadinessCheck::TCP);
  EXPECT_EQ(ReadinessCheckPortIndex(spec), 0);
  check->set_port_name("http");
  EXPECT_EQ(ReadinessCheckPortIndex(spec), 1);
  check->set_port_name("nope");
  EXPECT_EQ(ReadinessCheckPortIndex(spec), std::nullopt);
  check->set_port_index(1);
  EXPECT_EQ(ReadinessCheckPortIndex(spec), 1);
  check->set_port_index(2);
  EXPECT_EQ(ReadinessCheckPortIndex(spec), std::nullopt);
  check->set_protocol(v1::ReadinessCheck::COMMAND);
  check->set_port_index(0);
  EXPECT_EQ(ReadinessCheckPortIndex(spec), std::nullopt) << "COMMAND checks no port";
  check->set_protocol(v1::ReadinessCheck::HTTP);
  spec.clear_ports();
  check->clear_port_index();
  EXPECT_EQ(ReadinessCheckPortIndex(spec), std::nullopt) << "no port to check";
}

TEST(OfferMatcherTest, EnvironmentCarriesPorts) {
  struct EnvCase {
    std::string name;
    std::function<void(v1::ServiceSpec&)> spec;
    std::map<std::string, std::string> want;  // "" value: must be absent
  };
  const auto port = [](v1::ServiceSpec& s, const std::string& name, uint32_t number) {
    v1::PortSpec* p = s.add_ports();
    p->set_name(name);
    p->set_number(number);
  };
  const EnvCase cases[] = {
      {"named, fixed and unnamed ports",
       [&](v1::ServiceSpec& s) {
         port(s, "http", 0);
         port(s, "metrics-v2", 31005);
         port(s, "", 0);
         (*s.mutable_env())["GREETING"] = "hi";
       },
       {{"PORT", "31000"},
        {"PORT0", "31000"},
        {"PORT1", "31005"},
        {"PORT2", "31001"},
        {"PORTS", "31000,31005,31001"},
        {"PORT_HTTP", "31000"},
        {"PORT_METRICS_V2", "31005"},
        {"HOST", "h1"},
        {"GREETING", "hi"},
        {"MAST_SERVICE", "team/web"},
        {"MAST_SERVICE_VERSION", "7"}}},
      {"no ports: no PORT variables",
       [](v1::ServiceSpec&) {},
       {{"PORT", ""}, {"PORTS", ""}, {"PORT0", ""}, {"HOST", "h1"}}},
      {"the user's HOST wins",
       [](v1::ServiceSpec& s) { (*s.mutable_env())["HOST"] = "0.0.0.0"; },
       {{"HOST", "0.0.0.0"}}},
      {"container network: the container ports",
       [&](v1::ServiceSpec& s) {
         v1::Network* n = s.add_networks();
         n->set_mode(v1::Network::CONTAINER);
         n->set_name("overlay");
         port(s, "http", 0);
         s.mutable_ports(0)->set_container_port(8080);
         port(s, "admin", 0);
         s.mutable_ports(1)->set_container_port(9090);
         s.mutable_ports(1)->set_container_only(true);
         port(s, "same", 0);  // container port = its host port
       },
       {{"PORT0", "8080"},
        {"PORT1", "9090"},
        {"PORT2", "31001"},
        {"PORTS", "8080,9090,31001"},
        {"PORT_HTTP", "8080"},
        {"PORT_ADMIN", "9090"}}},
  };
  for (const EnvCase& c : cases) {
    const v1::ServiceSpec spec = Spec(c.spec);
    OfferPlan plan = Match({MakeOffer({.id = "o1", .host = "h1"})}, {{&spec, 7, 1, {}}});
    ASSERT_EQ(Summary(plan), "o1:1 | unused -") << c.name;
    const TaskInfo& info = plan.launches[0].tasks[0].info;
    std::map<std::string, std::string> env = Env(info);
    for (const auto& [name, value] : c.want) {
      if (value.empty()) {
        EXPECT_EQ(env.count(name), 0u) << c.name << ": " << name;
      } else {
        EXPECT_EQ(env[name], value) << c.name << ": " << name;
      }
    }
    // Each variable once.
    EXPECT_EQ(env.size(), static_cast<size_t>(info.command().environment().variables_size()))
        << c.name;
    // DiscoveryInfo names the same ports (on the host network; a container
    // network's are in ContainerNetworkMapsPortsAndLabelsDiscovery).
    if (!spec.networks().empty()) continue;
    ASSERT_EQ(info.discovery().ports().ports_size(), spec.ports_size()) << c.name;
    for (int i = 0; i < spec.ports_size(); ++i) {
      EXPECT_EQ(info.discovery().ports().ports(i).number(),
                plan.launches[0].tasks[0].host_ports[i]);
      EXPECT_EQ(info.discovery().ports().ports(i).protocol(), "tcp");
    }
  }
}

// --- the plan as a whole ---------------------------------------------------

TEST(OfferMatcherTest, UnusedOffersAndUnmetReasons) {
  const v1::ServiceSpec web = Spec();
  const v1::ServiceSpec big = Spec([](v1::ServiceSpec& s) {
    s.set_name("team/big");
    s.mutable_resources()->set_mem_mib(100000);
  });
  struct PlanCase {
    std::string name;
    std::vector<QueuedService> queue;
    std::string want;
    std::vector<std::string> reasons;
  };
  const PlanCase cases[] = {
      {"empty queue: every offer unused", {}, "- | unused o1,o2,o3", {}},
      {"nothing to launch", {{&web, 1, 0, {}}, {nullptr, 1, 5, {}}}, "- | unused o1,o2,o3", {}},
      {"one task: the rest unused", {{&web, 1, 1, {}}}, "o1:1 | unused o2,o3", {}},
      {"too big for any offer",
       {{&big, 1, 2, {}}},
       "- | unused o1,o2,o3",
       {"team/big: 2 of 2 tasks not placed; of 3 offers: 3 insufficient mem"}},
      {"offers used up",
       {{&web, 1, 7, {}}},
       "o1:2 o2:2 o3:2 | unused -",
       {"team/web: 1 of 7 tasks not placed; of 3 offers: 3 used up by this plan"}},
  };
  for (const PlanCase& c : cases) {
    OfferPlan plan = Match(
        MakeOffers(
            {{.id = "o1", .host = "h1"}, {.id = "o2", .host = "h2"}, {.id = "o3", .host = "h3"}}),
        c.queue);
    EXPECT_EQ(Summary(plan), c.want) << c.name;
    EXPECT_EQ(plan.unmet_reasons, c.reasons) << c.name;
  }
}

TEST(OfferMatcherTest, ServicesTakeTurns) {
  const v1::ServiceSpec a = Spec([](v1::ServiceSpec& s) { s.set_name("a"); });
  const v1::ServiceSpec b = Spec([](v1::ServiceSpec& s) { s.set_name("b"); });
  // Room for 4 tasks; a wants 10, b wants 2: b is not starved.
  OfferPlan plan = Match(MakeOffers({{.id = "o1", .host = "h1"}, {.id = "o2", .host = "h2"}}),
                         {{&a, 1, 10, {}}, {&b, 1, 2, {}}});
  std::vector<std::string> order;
  for (const OfferLaunch& launch : plan.launches) {
    for (const PlannedTask& task : launch.tasks) order.push_back(task.info.task_id().value());
  }
  EXPECT_EQ(absl::StrJoin(order, " "), "a-1 b-2 a-3 b-4");
  EXPECT_EQ(plan.launches[0].tasks[1].queue_index, 1u);
  ASSERT_EQ(plan.unmet_reasons.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(plan.unmet_reasons[0], "a: 8 of 10 tasks not placed"))
      << plan.unmet_reasons[0];
}

// Many offers and services of every shape, with constraints.
std::pair<std::vector<Offer>, std::vector<v1::ServiceSpec>> MixedInput(int offers, int services) {
  std::vector<Offer> out;
  for (int i = 0; i < offers; ++i) {
    out.push_back(MakeOffer(
        {.id = absl::StrCat("o", i),
         .host = absl::StrCat("h", i),
         .cpus = 8,
         .mem = 16384,
         .ports = {{31000, 31099}},
         .role = i % 5 == 0 ? "prod" : "*",
         .attributes = {{"rack", absl::StrCat("r", i % 10)}, {"zone", absl::StrCat("z", i % 3)}}}));
  }
  std::vector<v1::ServiceSpec> specs;
  for (int i = 0; i < services; ++i) {
    specs.push_back(Spec([i](v1::ServiceSpec& s) {
      s.set_name(absl::StrCat("svc-", i));
      s.mutable_resources()->set_cpus(0.1 * (1 + i % 4));
      s.mutable_resources()->set_mem_mib(64 * (1 + i % 3));
      if (i % 2 == 0) s.add_ports()->set_name("http");
      if (i % 7 == 0) s.set_role("prod");
      switch (i % 6) {
        case 0:
          *s.add_constraints() = C("hostname", v1::Constraint::UNIQUE);
          break;
        case 1:
          *s.add_constraints() = C("rack", v1::Constraint::GROUP_BY);
          break;
        case 2:
          *s.add_constraints() = C("hostname", v1::Constraint::MAX_PER, "3");
          break;
        case 3:
          *s.add_constraints() = C("zone", v1::Constraint::LIKE, "z[01]");
          break;
        case 4:
          *s.add_constraints() = C("rack", v1::Constraint::CLUSTER);
          break;
        default:
          break;
      }
    }));
  }
  return {out, specs};
}

std::string Fingerprint(const OfferPlan& plan) {
  std::string out = Summary(plan);
  for (const OfferLaunch& launch : plan.launches) {
    for (const PlannedTask& task : launch.tasks) {
      absl::StrAppend(&out, "\n", task.queue_index, " ", task.info.SerializeAsString());
    }
  }
  return absl::StrCat(out, "\n", absl::StrJoin(plan.unmet_reasons, "\n"));
}

TEST(OfferMatcherTest, Deterministic) {
  auto [offers, specs] = MixedInput(50, 30);
  std::vector<QueuedService> queue;
  for (size_t i = 0; i < specs.size(); ++i) {
    queue.push_back({&specs[i], i, static_cast<int>(5 + i % 20), {}});
  }
  queue[3].existing = {Place("h1", {{"rack", "r1"}})};
  const std::string first = Fingerprint(Match(offers, queue));
  for (int run = 0; run < 3; ++run) EXPECT_EQ(Fingerprint(Match(offers, queue)), first);
}

// 1,000 offers x 10,000 tasks, in shapes that would be quadratic if done
// naively. Only counts are asserted; the time is for the benchmark.
TEST(OfferMatcherTest, Scale) {
  std::vector<Offer> offers;
  for (int i = 0; i < 1000; ++i) {
    offers.push_back(MakeOffer({.id = absl::StrCat("o", i),
                                .host = absl::StrCat("h", i),
                                .cpus = 10,
                                .mem = 10240,
                                .ports = {{31000, 31099}},
                                .attributes = {{"rack", absl::StrCat("r", i % 10)}}}));
  }
  struct ScaleCase {
    std::string name;
    std::function<void(v1::ServiceSpec&)> spec;
    int services;
    int tasks_each;
    size_t want_placed;
  };
  const ScaleCase cases[] = {
      {"one service of 10,000", [](v1::ServiceSpec& s) { s.add_ports(); }, 1, 10000, 10000},
      {"10,000 services of one", [](v1::ServiceSpec&) {}, 10000, 1, 10000},
      {"GROUP_BY rack",
       [](v1::ServiceSpec& s) { *s.add_constraints() = C("rack", v1::Constraint::GROUP_BY); }, 1,
       10000, 10000},
      {"MAX_PER hostname 5, 100 services",
       [](v1::ServiceSpec& s) {
         *s.add_constraints() = C("hostname", v1::Constraint::MAX_PER, "5");
       },
       100, 100, 10000},
      {"UNIQUE hostname: 1,000 of 10,000",
       [](v1::ServiceSpec& s) { *s.add_constraints() = C("hostname", v1::Constraint::UNIQUE); }, 1,
       10000, 1000},
      {"more than fits", [](v1::ServiceSpec&) {}, 2, 6000, 10000},
      // Shapes where every service looks at every offer.
      {"10,000 services no offer suits (LIKE)",
       [](v1::ServiceSpec& s) { *s.add_constraints() = C("rack", v1::Constraint::LIKE, "x.*"); },
       10000, 1, 0},
      {"10,000 services of another role", [](v1::ServiceSpec& s) { s.set_role("dev"); }, 10000, 1,
       0},
      {"10,000 GROUP_BY services of one",
       [](v1::ServiceSpec& s) { *s.add_constraints() = C("rack", v1::Constraint::GROUP_BY); },
       10000, 1, 10000},
      {"two GROUP_BYs",
       [](v1::ServiceSpec& s) {
         *s.add_constraints() = C("rack", v1::Constraint::GROUP_BY);
         *s.add_constraints() = C("hostname", v1::Constraint::GROUP_BY);
       },
       1, 10000, 10000},
  };
  for (const ScaleCase& c : cases) {
    std::vector<v1::ServiceSpec> specs;
    specs.reserve(c.services);
    for (int i = 0; i < c.services; ++i) {
      specs.push_back(Spec([&](v1::ServiceSpec& s) {
        s.set_name(absl::StrCat("svc-", i));
        c.spec(s);
      }));
    }
    std::vector<QueuedService> queue;
    for (const v1::ServiceSpec& spec : specs) queue.push_back({&spec, 1, c.tasks_each, {}});
    size_t n = 0;
    OfferPlan plan =
        MatchOffers(offers, queue, [&n](const v1::ServiceSpec&) { return absl::StrCat("t", ++n); });
    EXPECT_EQ(Placed(plan), c.want_placed) << c.name;
    EXPECT_EQ(plan.launches.size() + plan.unused.size(), offers.size()) << c.name;
    EXPECT_EQ(n, c.want_placed) << c.name;
  }
}

}  // namespace
}  // namespace mast
