#include "scheduler/control/framework_controller.h"

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "store/zk_store.h"
#include "tests/fakes/driven_loop.h"
#include "tests/fakes/fake_zk_client.h"
#include "tests/support/zk_test_util.h"

namespace mast {
namespace {

// "cpus=0.5 mem=128": the min_allocatable_resources of `role`, sorted.
std::string MinimumOf(const ::mesos::v1::FrameworkInfo& info, const std::string& role) {
  auto filters = info.offer_filters().find(role);
  if (filters == info.offer_filters().end()) return "";
  std::map<std::string, double> sorted;
  for (const auto& [name, value] :
       filters->second.min_allocatable_resources().quantities(0).quantities()) {
    sorted[name] = value.value();
  }
  std::string out;
  for (const auto& [name, value] : sorted) {
    absl::StrAppend(&out, out.empty() ? "" : " ", name, "=", value);
  }
  return out;
}

namespace mesos_v1 = ::mesos::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// A MesosClient that records what the controller asks of it; the test plays
// the master by calling the captured callbacks. Strict: a call beyond the
// `allowed_calls` the test announced fails the test.
class RecordingMesosClient final : public mesos::MesosClient {
 public:
  RecordingMesosClient(mesos::MesosClientCallbacks callbacks, const int* allowed_calls)
      : callbacks(std::move(callbacks)), allowed_calls_(allowed_calls) {}
  void Subscribe(mesos_v1::FrameworkInfo framework, std::vector<std::string> suppressed) override {
    subscriptions.push_back(framework);
    suppressed_roles = std::move(suppressed);
    subscribed_ = false;
  }
  void Send(mesos_v1::scheduler::Call call,
            absl::AnyInvocable<void(absl::Status) &&> done) override {
    if (++sent_ > *allowed_calls_) {
      ADD_FAILURE() << "unexpected call " << mesos_v1::scheduler::Call::Type_Name(call.type())
                    << " (call " << sent_ << ", " << *allowed_calls_ << " expected)";
    }
    calls.push_back(call);
    std::move(done)(paused ? absl::UnavailableError("paused") : absl::OkStatus());
  }
  void Close() override {
    ++closes;
    subscribed_ = false;
  }
  void SetPaused(bool p) override { paused = p; }
  bool subscribed() const override { return subscribed_; }

  // Plays the master: SUBSCRIBED with `id`.
  void Subscribed(const std::string& id) {
    subscribed_ = true;
    mesos_v1::scheduler::Event::Subscribed s;
    s.mutable_framework_id()->set_value(id);
    s.set_heartbeat_interval_seconds(15);
    callbacks.on_subscribed(s);
  }

  mesos::MesosClientCallbacks callbacks;
  std::vector<mesos_v1::FrameworkInfo> subscriptions;
  std::vector<std::string> suppressed_roles;
  std::vector<mesos_v1::scheduler::Call> calls;
  int closes = 0;
  bool paused = false;
  bool subscribed_ = false;

 private:
  const int* allowed_calls_;
  int sent_ = 0;
};

class FrameworkControllerTest : public ::testing::Test {
 protected:
  FrameworkControllerTest()
      : zk_(ensemble_, driven_.loop()), store_(zk_, "/mast"), metrics_(registry_) {
    zk_.Connect();
    FrameworkConfig config;
    config.user = "mast-user";
    config.role = "web";
    config.min_offer_resources = {{"cpus", 0.1}};
    RunOnLoop([&] {
      controller_ = std::make_unique<FrameworkController>(
          config,
          [this](mesos::MesosClientCallbacks callbacks) {
            auto client =
                std::make_unique<RecordingMesosClient>(std::move(callbacks), &allowed_calls_);
            client_ = client.get();
            return client;
          },
          store_, driven_.loop(), &metrics_,
          [this](absl::string_view reason) { step_downs_.emplace_back(reason); });
    });
    term_ = MakeTerm();
  }
  ~FrameworkControllerTest() override {
    RunOnLoop([&] { controller_.reset(); });
  }

  // Runs `fn` on the test thread (the driven loop's own), then everything it
  // set going.
  template <typename Fn>
  void RunOnLoop(Fn fn) {
    fn();
    driven_.RunUntilIdle();
  }
  LeaderTerm MakeTerm() {
    auto made = testing::CallOnLoop<absl::StatusOr<ZkCreated>>(driven_.loop(), [&](auto cb) {
      zk_.Create("/mast", "", ZkCreateMode::kPersistent, [](auto) {});
      zk_.Create("/mast/election", "", ZkCreateMode::kPersistent, [](auto) {});
      zk_.Create("/mast/election/n_", "", ZkCreateMode::kEphemeralSequential, std::move(cb));
    });
    return LeaderTerm{static_cast<uint64_t>(made->stat.czxid), made->path, driven_.Now()};
  }
  // The controller may send `n` more calls to the master.
  void ExpectCalls(int n) { allowed_calls_ += n; }
  void Event(const mesos_v1::scheduler::Event& event) {
    RunOnLoop([&] { client_->callbacks.on_event(event); });
  }

  DrivenLoop driven_;
  testing::FakeZkEnsemble ensemble_;
  testing::FakeZkClient zk_;
  ZkStore store_;
  prometheus::Registry registry_;
  mesos::MesosMetrics metrics_;
  std::unique_ptr<FrameworkController> controller_;
  RecordingMesosClient* client_ = nullptr;
  std::vector<std::string> step_downs_;
  LeaderTerm term_;
  int allowed_calls_ = 0;
};

TEST_F(FrameworkControllerTest, FollowersNeverSubscribe) {
  driven_.RunUntilIdle();
  EXPECT_TRUE(client_->subscriptions.empty());
  EXPECT_TRUE(client_->calls.empty());
}

TEST_F(FrameworkControllerTest, FirstLeaderRegistersAndStoresTheIdFenced) {
  RunOnLoop([&] { controller_->OnStartedLeading(term_); });
  ASSERT_THAT(client_->subscriptions, SizeIs(1));
  const mesos_v1::FrameworkInfo& info = client_->subscriptions[0];
  EXPECT_FALSE(info.has_id()) << "a fresh registration when no ID was ever stored";
  EXPECT_EQ(info.user(), "mast-user");
  EXPECT_EQ(info.name(), "mast");
  EXPECT_TRUE(info.checkpoint());
  EXPECT_EQ(info.failover_timeout(), 7 * 24 * 3600);
  EXPECT_THAT(info.roles(), ElementsAre("web"));
  std::vector<int> caps;
  for (const auto& c : info.capabilities()) caps.push_back(c.type());
  EXPECT_THAT(caps, ElementsAre(mesos_v1::FrameworkInfo::Capability::PARTITION_AWARE,
                                mesos_v1::FrameworkInfo::Capability::TASK_KILLING_STATE,
                                mesos_v1::FrameworkInfo::Capability::MULTI_ROLE));
  EXPECT_EQ(info.offer_filters()
                .at("web")
                .min_allocatable_resources()
                .quantities(0)
                .quantities()
                .at("cpus")
                .value(),
            0.1);
  EXPECT_TRUE(client_->suppressed_roles.empty());

  RunOnLoop([&] { client_->Subscribed("fw-1"); });
  EXPECT_EQ(ensemble_.Data("/mast/state/framework_id"), "fw-1");
}

TEST_F(FrameworkControllerTest, NextLeaderReregistersWithTheStoredId) {
  RunOnLoop([&] { controller_->OnStartedLeading(term_); });
  RunOnLoop([&] { client_->Subscribed("fw-1"); });
  RunOnLoop([&] { controller_->OnStoppedLeading(); });
  EXPECT_EQ(client_->closes, 1);
  LeaderTerm next = MakeTerm();
  RunOnLoop([&] { controller_->OnStartedLeading(next); });
  ASSERT_THAT(client_->subscriptions, SizeIs(2));
  EXPECT_EQ(client_->subscriptions[1].id().value(), "fw-1");
}

TEST_F(FrameworkControllerTest, AFollowersWarmCopySparesTheNewLeaderAStoreRead) {
  RunOnLoop([&] { controller_->OnStartedLeading(term_); });
  RunOnLoop([&] { client_->Subscribed("fw-1"); });
  RunOnLoop([&] { controller_->OnStoppedLeading(); });
  RunOnLoop([&] { controller_->Prefetch(); });
  LeaderTerm next = MakeTerm();
  int calls_before = zk_.calls();
  RunOnLoop([&] { controller_->OnStartedLeading(next); });
  ASSERT_THAT(client_->subscriptions, SizeIs(2));
  EXPECT_EQ(client_->subscriptions[1].id().value(), "fw-1");
  EXPECT_EQ(zk_.calls(), calls_before) << "no store read on the way to SUBSCRIBE";
}

TEST_F(FrameworkControllerTest, DeposedLeaderStepsDownWhenItsFencedWriteIsRefused) {
  RunOnLoop([&] { controller_->OnStartedLeading(term_); });
  ensemble_.Delete(term_.znode);  // our session expired meanwhile
  RunOnLoop([&] { client_->Subscribed("fw-1"); });
  ASSERT_THAT(step_downs_, SizeIs(1));
  EXPECT_THAT(step_downs_[0], HasSubstr("deposed"));
  EXPECT_FALSE(ensemble_.Exists("/mast/state/framework_id"));
}

TEST_F(FrameworkControllerTest, ErrorEventMakesTheLeaderStepDown) {
  RunOnLoop([&] { controller_->OnStartedLeading(term_); });
  RunOnLoop([&] { client_->Subscribed("fw-1"); });
  RunOnLoop([&] { client_->callbacks.on_error("Framework failed over"); });
  ASSERT_THAT(step_downs_, SizeIs(1));
  EXPECT_THAT(step_downs_[0], HasSubstr("Framework failed over"));
}

TEST_F(FrameworkControllerTest, OffersAreDeclinedWithTheLongFilterAndTheRoleSuppressed) {
  RunOnLoop([&] { controller_->OnStartedLeading(term_); });
  RunOnLoop([&] { client_->Subscribed("fw-1"); });
  mesos_v1::scheduler::Event event;
  event.set_type(mesos_v1::scheduler::Event::OFFERS);
  for (const char* id : {"o1", "o2"})
    event.mutable_offers()->add_offers()->mutable_id()->set_value(id);
  ExpectCalls(2);
  Event(event);
  ASSERT_THAT(client_->calls, SizeIs(2));
  const auto& decline = client_->calls[0];
  EXPECT_EQ(decline.type(), mesos_v1::scheduler::Call::DECLINE);
  ASSERT_THAT(decline.decline().offer_ids(), SizeIs(2));
  EXPECT_EQ(decline.decline().filters().refuse_seconds(), 120);
  EXPECT_EQ(client_->calls[1].type(), mesos_v1::scheduler::Call::SUPPRESS);
  EXPECT_TRUE(client_->calls[1].suppress().roles().empty()) << "every role of the framework";
  EXPECT_EQ(metrics_.offers_received.Value(), 2);
  EXPECT_EQ(metrics_.offers_declined.Value(), 2);
}

struct UpdateCase {
  mesos_v1::TaskState state;
  bool with_uuid;
  bool expect_kill;
  bool expect_ack;
};

TEST_F(FrameworkControllerTest, UpdatesAreAcknowledgedOnlyWithAUuidAndUnknownLiveTasksKilled) {
  RunOnLoop([&] { controller_->OnStartedLeading(term_); });
  RunOnLoop([&] { client_->Subscribed("fw-1"); });
  const UpdateCase cases[] = {
      {mesos_v1::TASK_RUNNING, true, true, true},
      {mesos_v1::TASK_RUNNING, false, true, false},
      {mesos_v1::TASK_STAGING, false, true, false},
      {mesos_v1::TASK_FINISHED, true, false, true},
      {mesos_v1::TASK_LOST, false, false, false},
      {mesos_v1::TASK_UNREACHABLE, false, true, false},
      {mesos_v1::TASK_UNKNOWN, false, false, false},
      {mesos_v1::TASK_KILLING, true, true, true},
  };
  for (const UpdateCase& c : cases) {
    client_->calls.clear();
    mesos_v1::scheduler::Event event;
    event.set_type(mesos_v1::scheduler::Event::UPDATE);
    auto* status = event.mutable_update()->mutable_status();
    status->mutable_task_id()->set_value("t1");
    status->mutable_agent_id()->set_value("a1");
    status->set_state(c.state);
    if (c.with_uuid) status->set_uuid(std::string(16, 'u'));
    ExpectCalls((c.expect_kill ? 1 : 0) + (c.expect_ack ? 1 : 0));
    Event(event);
    int kills = 0, acks = 0;
    for (const auto& call : client_->calls) {
      if (call.type() == mesos_v1::scheduler::Call::KILL) {
        ++kills;
        EXPECT_EQ(call.kill().task_id().value(), "t1");
        EXPECT_EQ(call.kill().agent_id().value(), "a1");
      }
      if (call.type() == mesos_v1::scheduler::Call::ACKNOWLEDGE) {
        ++acks;
        EXPECT_EQ(call.acknowledge().uuid(), std::string(16, 'u'));
      }
    }
    EXPECT_EQ(kills, c.expect_kill ? 1 : 0) << mesos_v1::TaskState_Name(c.state);
    EXPECT_EQ(acks, c.expect_ack ? 1 : 0) << mesos_v1::TaskState_Name(c.state);
    EXPECT_THAT(client_->calls, SizeIs(kills + acks)) << mesos_v1::TaskState_Name(c.state);
  }
}

// Records what the controller hands over.
class RecordingListener final : public FrameworkListener {
 public:
  void OnSubscribed(MesosCaller& c) override {
    caller = &c;
    log.push_back("subscribed");
  }
  void OnUnsubscribed() override {
    caller = nullptr;
    log.push_back("unsubscribed");
  }
  void OnOffers(const mesos_v1::scheduler::Event::Offers& offers) override {
    log.push_back(absl::StrCat("offers ", offers.offers_size()));
  }
  void OnRescind(const mesos_v1::OfferID& id) override { log.push_back("rescind " + id.value()); }
  void OnUpdate(const mesos_v1::TaskStatus& status) override {
    log.push_back("update " + status.task_id().value());
  }
  MesosCaller* caller = nullptr;
  std::vector<std::string> log;
};

TEST_F(FrameworkControllerTest, AListenerGetsTheSubscriptionOnlyOnceTheIdIsStored) {
  RecordingListener listener;
  RunOnLoop([&] { controller_->SetListener(&listener); });
  RunOnLoop([&] { controller_->OnStartedLeading(term_); });
  zk_.FailNext(absl::UnavailableError("connection loss"));  // the ID's first write fails
  RunOnLoop([&] { client_->Subscribed("fw-1"); });
  EXPECT_THAT(listener.log, ::testing::IsEmpty());

  // Meanwhile offers go back at once with a short filter, updates wait.
  mesos_v1::scheduler::Event offers;
  offers.set_type(mesos_v1::scheduler::Event::OFFERS);
  offers.mutable_offers()->add_offers()->mutable_id()->set_value("o1");
  ExpectCalls(1);  // the decline
  Event(offers);
  mesos_v1::scheduler::Event update;
  update.set_type(mesos_v1::scheduler::Event::UPDATE);
  update.mutable_update()->mutable_status()->mutable_task_id()->set_value("t1");
  update.mutable_update()->mutable_status()->mutable_agent_id()->set_value("a1");
  update.mutable_update()->mutable_status()->set_state(mesos_v1::TASK_RUNNING);
  update.mutable_update()->mutable_status()->set_uuid("u1");
  Event(update);
  ASSERT_THAT(client_->calls, SizeIs(1));
  EXPECT_EQ(client_->calls[0].type(), mesos_v1::scheduler::Call::DECLINE);
  EXPECT_EQ(client_->calls[0].decline().filters().refuse_seconds(), 1);
  EXPECT_THAT(listener.log, ::testing::IsEmpty());

  // The retried write lands: the listener takes over; the controller no
  // longer acknowledges or declines by itself.
  driven_.Advance(absl::Seconds(1));
  EXPECT_EQ(ensemble_.Data("/mast/state/framework_id"), "fw-1");
  EXPECT_THAT(listener.log, ElementsAre("subscribed"));
  Event(offers);
  Event(update);
  EXPECT_THAT(listener.log, ElementsAre("subscribed", "offers 1", "update t1"));
  EXPECT_THAT(client_->calls, SizeIs(1));
  ExpectCalls(1);
  RunOnLoop([&] {
    mesos_v1::scheduler::Call revive;
    revive.set_type(mesos_v1::scheduler::Call::REVIVE);
    listener.caller->Call(std::move(revive));
  });
  ASSERT_THAT(client_->calls, SizeIs(2));
  EXPECT_EQ(client_->calls[1].type(), mesos_v1::scheduler::Call::REVIVE);

  // A dropped connection and a resubscription: over and in again, at once
  // (the ID is stored).
  RunOnLoop([&] { client_->callbacks.on_disconnected("eof"); });
  RunOnLoop([&] { client_->Subscribed("fw-1"); });
  RunOnLoop([&] { controller_->OnStoppedLeading(); });
  EXPECT_THAT(listener.log, ElementsAre("subscribed", "offers 1", "update t1", "unsubscribed",
                                        "subscribed", "unsubscribed"));
}

TEST_F(FrameworkControllerTest, PauseHoldsCallsBackAndResumeLetsThemGo) {
  RunOnLoop([&] { controller_->OnStartedLeading(term_); });
  RunOnLoop([&] { controller_->OnPaused(true); });
  EXPECT_TRUE(client_->paused);
  RunOnLoop([&] { controller_->OnPaused(false); });
  EXPECT_FALSE(client_->paused);
}

TEST_F(FrameworkControllerTest, ConfigValidationNamesTheField) {
  FrameworkConfig ok;
  ok.user = "u";
  EXPECT_TRUE(ValidateFrameworkConfig(ok).ok());
  FrameworkConfig no_user;
  EXPECT_THAT(std::string(ValidateFrameworkConfig(no_user).message()), HasSubstr("user"));
  FrameworkConfig bad_role = ok;
  bad_role.role = "a/b";
  EXPECT_THAT(std::string(ValidateFrameworkConfig(bad_role).message()), HasSubstr("role"));
  FrameworkConfig bad_timeout = ok;
  bad_timeout.failover_timeout = absl::ZeroDuration();
  EXPECT_THAT(std::string(ValidateFrameworkConfig(bad_timeout).message()),
              HasSubstr("failover_timeout"));
}

// The whole table: each invalid field is an INVALID_ARGUMENT whose message
// starts with the field's name (mastd maps it to its flag).
TEST(FrameworkConfigTest, EachBadFieldIsNamed) {
  FrameworkConfig ok;
  ok.user = "u";  // the default has none (mastd fills in the process's user)
  ASSERT_TRUE(ValidateFrameworkConfig(ok).ok());
  struct Case {
    const char* field;
    std::function<void(FrameworkConfig&)> mutate;
  };
  const Case cases[] = {
      {"name", [](auto& c) { c.name.clear(); }},
      {"user", [](auto& c) { c.user.clear(); }},
      {"role", [](auto& c) { c.role.clear(); }},
      {"role", [](auto& c) { c.role = ".."; }},
      {"role", [](auto& c) { c.role = "a b"; }},
      {"role", [](auto& c) { c.role = "-a"; }},
      {"failover_timeout", [](auto& c) { c.failover_timeout = absl::ZeroDuration(); }},
      {"decline_refuse", [](auto& c) { c.decline_refuse = -absl::Seconds(1); }},
      {"min_offer_resources",
       [](auto& c) {
         c.min_offer_resources = {{"cpus", 0}};
       }},
      {"min_offer_resources",
       [](auto& c) {
         c.min_offer_resources = {{"", 1}};
       }},
      {"retry_backoff.jitter", [](auto& c) { c.retry_backoff.jitter = 2; }},
  };
  for (const Case& c : cases) {
    FrameworkConfig config = ok;
    c.mutate(config);
    absl::Status status = ValidateFrameworkConfig(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field << ": " << status;
    EXPECT_THAT(std::string(status.message()), ::testing::StartsWith(absl::StrCat(c.field, ":")))
        << status;
  }
}

// MULTI_ROLE: the framework subscribes with every role its services use
// (its own first), each filtered by its smallest task, and a new role
// reaches a subscribed master with UPDATE_FRAMEWORK.
TEST_F(FrameworkControllerTest, RolesOfTheServicesAreSubscribedWith) {
  // "" and "web" are both the framework's role: one entry, the smaller.
  RunOnLoop([&] {
    controller_->SetRoles({{"", {0.5, 256}}, {"web", {1, 128}}, {"batch", {2, 1024}}});
  });
  RunOnLoop([&] { controller_->OnStartedLeading(term_); });
  ASSERT_THAT(client_->subscriptions, SizeIs(1));
  const mesos_v1::FrameworkInfo& info = client_->subscriptions[0];
  EXPECT_THAT(info.roles(), ElementsAre("web", "batch"));
  // --min_offer_resources (cpus 0.1 here) overrides the tasks' minimums.
  EXPECT_EQ(MinimumOf(info, "web"), "cpus=0.1");
  EXPECT_EQ(MinimumOf(info, "batch"), "cpus=0.1");
  RunOnLoop([&] { client_->Subscribed("fw-1"); });
  RunOnLoop([&] {
    controller_->SetRoles({{"", {0.5, 128}}, {"batch", {2, 1024}}});  // the same: no call
  });
  EXPECT_TRUE(client_->calls.empty());
  ExpectCalls(1);
  RunOnLoop([&] {
    controller_->SetRoles({{"", {0.5, 128}}, {"batch", {2, 1024}}, {"ml", {4, 8192}}});
  });
  ASSERT_THAT(client_->calls, SizeIs(1));
  const mesos_v1::scheduler::Call& update = client_->calls[0];
  EXPECT_EQ(update.type(), mesos_v1::scheduler::Call::UPDATE_FRAMEWORK);
  EXPECT_THAT(update.update_framework().framework_info().roles(),
              ElementsAre("web", "batch", "ml"));
}

// Without --min_offer_resources, each role's offers are filtered by its
// smallest task (the framework's role under "" or its name).
TEST(BuildFrameworkInfoTest, EachRoleIsFilteredByItsSmallestTask) {
  FrameworkConfig config;
  config.user = "u";
  config.role = "web";
  const mesos_v1::FrameworkInfo info = BuildFrameworkInfo(
      config, std::nullopt, false, {{"", {0.5, 128}}, {"batch", {2, 1024}}, {"free", {0, 0}}});
  EXPECT_THAT(info.roles(), ElementsAre("web", "batch", "free"));
  EXPECT_EQ(MinimumOf(info, "web"), "cpus=0.5 mem=128");
  EXPECT_EQ(MinimumOf(info, "batch"), "cpus=2 mem=1024");
  EXPECT_FALSE(info.offer_filters().contains("free")) << "nothing to filter on";
}

}  // namespace
}  // namespace mast

namespace mast {
namespace {

bool HasCapability(const mesos_v1::FrameworkInfo& info,
                   mesos_v1::FrameworkInfo::Capability::Type type) {
  for (const auto& capability : info.capabilities()) {
    if (capability.type() == type) return true;
  }
  return false;
}

// GPU_RESOURCES: declared at subscription while some service wants GPUs,
// and told to a subscribed master with UPDATE_FRAMEWORK when that changes.
TEST_F(FrameworkControllerTest, GpuResourcesAreDeclaredWhileAServiceWantsThem) {
  constexpr auto kGpu = mesos_v1::FrameworkInfo::Capability::GPU_RESOURCES;
  RunOnLoop([&] { controller_->SetGpuResources(true); });  // a follower: nothing sent
  RunOnLoop([&] { controller_->OnStartedLeading(term_); });
  ASSERT_THAT(client_->subscriptions, SizeIs(1));
  EXPECT_TRUE(HasCapability(client_->subscriptions[0], kGpu));
  RunOnLoop([&] { client_->Subscribed("fw-1"); });
  RunOnLoop([&] { controller_->SetGpuResources(true); });  // unchanged: no call
  EXPECT_TRUE(client_->calls.empty());
  ExpectCalls(1);
  RunOnLoop([&] { controller_->SetGpuResources(false); });
  ASSERT_THAT(client_->calls, SizeIs(1));
  const mesos_v1::scheduler::Call& update = client_->calls[0];
  EXPECT_EQ(update.type(), mesos_v1::scheduler::Call::UPDATE_FRAMEWORK);
  EXPECT_EQ(update.update_framework().framework_info().id().value(), "fw-1");
  EXPECT_FALSE(HasCapability(update.update_framework().framework_info(), kGpu));
  EXPECT_TRUE(HasCapability(update.update_framework().framework_info(),
                            mesos_v1::FrameworkInfo::Capability::MULTI_ROLE))
      << "the whole FrameworkInfo, not only the change";
}

}  // namespace
}  // namespace mast
