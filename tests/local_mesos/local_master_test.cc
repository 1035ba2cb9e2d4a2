// The local Mesos master: the v1 scheduler HTTP API driven with raw HTTP (libcurl, through
// mast::mesos::HttpTransport) and with Mast's own client, the fault-injection knobs, and
// --execute. Timers run on a ManualClock wherever the test is about time, so nothing sleeps;
// HTTP round trips are awaited with deadlines. "Nothing more arrived" is proven with a barrier:
// a RECONCILE for an unknown task whose answer comes after everything the master sent before.

#include "local_mesos/local_master.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "local_mesos/fetcher.h"
#include "local_mesos/resources.h"
#include "local_mesos/task_checks.h"
#include "mesos/v1/scheduler/scheduler.pb.h"
#include "scheduler/mesos/http_mesos_client.h"
#include "scheduler/mesos/http_transport.h"
#include "scheduler/mesos/master_detector.h"
#include "scheduler/mesos/recordio.h"
#include "tests/fakes/manual_clock.h"
#include "tests/processes/wait.h"

namespace mast::local {
namespace {

namespace mesos_v1 = ::mesos::v1;
using Call = mesos_v1::scheduler::Call;
using Event = mesos_v1::scheduler::Event;
using ::mast::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kWait = absl::Seconds(10);
constexpr char kProtobuf[] = "application/x-protobuf";
constexpr char kJson[] = "application/json";

// ---- Raw HTTP ----

struct Reply {
  int status = 0;
  mesos::HttpHeaders head;
  std::string body;
  absl::Status transport;  // not OK: no HTTP answer
  std::optional<std::string> Header(absl::string_view name) const { return head.Get(name); }
};

Reply Request(mesos::HttpTransport& transport, const std::string& url,
              std::vector<std::string> headers, std::string body, bool post = true) {
  mesos::HttpRequestSpec spec;
  spec.url = url;
  spec.headers = std::move(headers);
  spec.body = std::move(body);
  spec.post = post;
  spec.timeout = kWait;
  auto reply = std::make_shared<Reply>();
  auto done = std::make_shared<absl::Notification>();
  transport.Send(std::move(spec), [reply, done](absl::StatusOr<mesos::HttpResult> result) {
    if (result.ok()) {
      reply->status = result->head.status;
      reply->head = std::move(result->head);
      reply->body = std::move(result->body);
    } else {
      reply->transport = result.status();
    }
    done->Notify();
  });
  if (!done->WaitForNotificationWithTimeout(kWait + absl::Seconds(5))) {
    return Reply{0, {}, "", absl::DeadlineExceededError("no answer")};
  }
  return *reply;
}

std::string Encode(const Call& call, bool json) {
  if (!json) return call.SerializeAsString();
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(call, &out, options);
  return out;
}

// A subscription stream read incrementally as RecordIO.
class EventStream {
 public:
  EventStream(mesos::HttpTransport& transport, const std::string& url, std::string body,
              std::vector<std::string> headers, bool json)
      : transport_(transport), json_(json) {
    mesos::HttpRequestSpec spec;
    spec.url = url;
    spec.headers = std::move(headers);
    spec.body = std::move(body);
    mesos::HttpStreamHandlers handlers;
    handlers.on_headers = [this](const mesos::HttpHeaders& head) {
      absl::MutexLock lock(&mu_);
      head_ = head;
      have_head_ = true;
    };
    handlers.on_data = [this](absl::string_view data) {
      absl::MutexLock lock(&mu_);
      raw_.append(data.data(), data.size());
      std::vector<std::string> records;
      decode_status_.Update(decoder_.Feed(data, &records));
      for (std::string& record : records) records_.push_back(std::move(record));
    };
    handlers.on_end = [this](absl::Status status) {
      absl::MutexLock lock(&mu_);
      ended_ = true;
      end_status_ = std::move(status);
    };
    id_ = transport_.Stream(std::move(spec), std::move(handlers));
  }
  ~EventStream() { Close(); }

  // Drops the connection (the client vanishes) and waits until the transport let go of it.
  void Close() {
    transport_.Cancel(id_);
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&ended_), kWait);
  }

  int status() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&have_head_), kWait);
    return head_.status;
  }
  std::string header(absl::string_view name) {
    status();
    absl::MutexLock lock(&mu_);
    return head_.Get(name).value_or("");
  }
  std::string raw() {
    absl::MutexLock lock(&mu_);
    return raw_;
  }
  absl::Status decode_status() {
    absl::MutexLock lock(&mu_);
    return decode_status_;
  }

  // The next event, HEARTBEATs included; nullopt at the end of the stream or after `timeout`.
  std::optional<Event> NextAny(absl::Duration timeout = kWait) {
    std::string record;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !records_.empty() || ended_; };
      mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
      if (records_.empty()) return std::nullopt;
      record = std::move(records_.front());
      records_.pop_front();
    }
    Event event;
    bool ok;
    if (json_) {
      google::protobuf::util::JsonParseOptions options;
      options.ignore_unknown_fields = true;
      ok = google::protobuf::util::JsonStringToMessage(record, &event, options).ok();
    } else {
      ok = event.ParseFromString(record);
    }
    EXPECT_TRUE(ok) << "undecodable event: " << record;
    return event;
  }
  // The next event that is not a HEARTBEAT.
  std::optional<Event> Next(absl::Duration timeout = kWait) {
    while (true) {
      std::optional<Event> event = NextAny(timeout);
      if (!event || event->type() != Event::HEARTBEAT) return event;
    }
  }
  // Skips events until one of `type` (HEARTBEATs and others are dropped).
  std::optional<Event> NextOf(Event::Type type, absl::Duration timeout = kWait) {
    while (true) {
      std::optional<Event> event = NextAny(timeout);
      if (!event || event->type() == type) return event;
    }
  }
  // Waits for the end of the stream; its status (OK: a clean end with the terminating chunk).
  std::optional<absl::Status> WaitEnd(absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&ended_), timeout)) return std::nullopt;
    return end_status_;
  }
  // Events received and not read yet.
  std::vector<Event::Type> Unread() {
    std::vector<Event::Type> types;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (records_.empty()) return types;
      }
      std::optional<Event> event = NextAny(absl::ZeroDuration());
      if (event) types.push_back(event->type());
    }
  }
  bool ended() {
    absl::MutexLock lock(&mu_);
    return ended_;
  }

 private:
  mesos::HttpTransport& transport_;
  const bool json_;
  mesos::HttpTransport::RequestId id_ = 0;
  absl::Mutex mu_;
  bool have_head_ ABSL_GUARDED_BY(mu_) = false;
  mesos::HttpHeaders head_ ABSL_GUARDED_BY(mu_);
  std::string raw_ ABSL_GUARDED_BY(mu_);
  mesos::RecordIoDecoder decoder_ ABSL_GUARDED_BY(mu_);
  absl::Status decode_status_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> records_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);
};

mesos_v1::FrameworkInfo Info(const std::string& name = "test", bool partition_aware = true,
                             bool killing_state = true) {
  mesos_v1::FrameworkInfo info;
  info.set_user("tester");
  info.set_name(name);
  info.set_failover_timeout(3600);
  info.add_roles("web");
  info.add_capabilities()->set_type(mesos_v1::FrameworkInfo::Capability::MULTI_ROLE);
  if (partition_aware) {
    info.add_capabilities()->set_type(mesos_v1::FrameworkInfo::Capability::PARTITION_AWARE);
  }
  if (killing_state) {
    info.add_capabilities()->set_type(mesos_v1::FrameworkInfo::Capability::TASK_KILLING_STATE);
  }
  return info;
}

Call SubscribeCall(const mesos_v1::FrameworkInfo& info) {
  Call call;
  call.set_type(Call::SUBSCRIBE);
  if (info.has_id()) *call.mutable_framework_id() = info.id();
  *call.mutable_subscribe()->mutable_framework_info() = info;
  return call;
}

// One subscribed framework as a raw HTTP scheduler sees it.
struct Subscription {
  std::unique_ptr<EventStream> stream;
  std::string framework_id;
  std::string stream_id;
  bool json = false;
  mesos_v1::FrameworkInfo info;
};

class LocalMasterTest : public ::testing::Test {
 protected:
  static LocalMasterConfig DefaultConfig() {
    LocalMasterConfig config;
    config.agents = 2;
    config.agent_resources = "cpus:2;mem:1024;disk:2048;ports:[31000-31009]";
    config.agent_attributes = {{"rack", "r1"}, {"zone", "a"}};
    return config;
  }

  void StartMaster(LocalMasterConfig config = DefaultConfig()) {
    auto master = LocalMaster::Start(std::move(config), clock_);
    ASSERT_TRUE(master.ok()) << master.status();
    master_ = std::move(*master);
    url_ = master_->url() + "/api/v1/scheduler";
  }

  // Advances the master's clock. The master's loop is then poked with a posted task:
  // ManualClock::AwaitWithDeadline can miss an Advance() that lands between its deadline check
  // and its read of the wake-up generation (tests/fakes/manual_clock.cc), and a posted task
  // wakes the loop, which then runs the timers that fell due.
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    (void)master_->stats();
  }

  Reply Post(const std::string& body, std::vector<std::string> headers) {
    return Request(transport_, url_, std::move(headers), body);
  }
  Reply PostCall(const Call& call, bool json, std::optional<std::string> stream_id) {
    std::vector<std::string> headers = {absl::StrCat("Content-Type: ", json ? kJson : kProtobuf)};
    if (stream_id) headers.push_back(absl::StrCat("Mesos-Stream-Id: ", *stream_id));
    return Post(Encode(call, json), headers);
  }
  Reply Get(const std::string& path) {
    return Request(transport_, master_->url() + path, {}, "", /*post=*/false);
  }

  std::unique_ptr<EventStream> OpenStream(const Call& call, bool json,
                                          std::vector<std::string> extra_headers = {}) {
    std::vector<std::string> headers = {absl::StrCat("Content-Type: ", json ? kJson : kProtobuf),
                                        absl::StrCat("Accept: ", json ? kJson : kProtobuf)};
    headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
    return std::make_unique<EventStream>(transport_, url_, Encode(call, json), headers, json);
  }

  // Subscribes and checks the first two events: SUBSCRIBED, then HEARTBEAT.
  Subscription Subscribe(mesos_v1::FrameworkInfo info = Info(), bool json = false) {
    Subscription sub;
    sub.json = json;
    sub.stream = OpenStream(SubscribeCall(info), json);
    EXPECT_EQ(sub.stream->status(), 200);
    sub.stream_id = sub.stream->header("Mesos-Stream-Id");
    std::optional<Event> subscribed = sub.stream->NextAny();
    EXPECT_TRUE(subscribed.has_value());
    if (!subscribed) return sub;
    EXPECT_EQ(subscribed->type(), Event::SUBSCRIBED) << subscribed->DebugString();
    sub.framework_id = subscribed->subscribed().framework_id().value();
    std::optional<Event> heartbeat = sub.stream->NextAny();
    EXPECT_TRUE(heartbeat.has_value() && heartbeat->type() == Event::HEARTBEAT);
    info.mutable_id()->set_value(sub.framework_id);
    sub.info = info;
    return sub;
  }

  Reply Send(const Subscription& sub, Call call) {
    call.mutable_framework_id()->set_value(sub.framework_id);
    return PostCall(call, sub.json, sub.stream_id);
  }

  // Sends a RECONCILE for an unknown task and returns every event (HEARTBEATs excluded) the
  // stream carried before its answer: whatever the master had sent before the barrier.
  std::vector<Event> Barrier(Subscription& sub, bool include_heartbeats = false) {
    const std::string id = absl::StrCat("barrier-", ++barriers_);
    Call call;
    call.set_type(Call::RECONCILE);
    call.mutable_reconcile()->add_tasks()->mutable_task_id()->set_value(id);
    EXPECT_EQ(Send(sub, call).status, 202);
    std::vector<Event> before;
    while (std::optional<Event> event =
               include_heartbeats ? sub.stream->NextAny() : sub.stream->Next()) {
      if (event->type() == Event::UPDATE && event->update().status().task_id().value() == id) {
        return before;
      }
      before.push_back(*event);
    }
    ADD_FAILURE() << "no answer to the barrier " << id;
    return before;
  }

  std::vector<mesos_v1::Offer> NextOffers(Subscription& sub) {
    std::optional<Event> event = sub.stream->NextOf(Event::OFFERS);
    EXPECT_TRUE(event.has_value()) << "no OFFERS";
    if (!event) return {};
    return {event->offers().offers().begin(), event->offers().offers().end()};
  }

  // The next UPDATE for `task_id`.
  std::optional<mesos_v1::TaskStatus> NextUpdate(Subscription& sub, const std::string& task_id) {
    while (std::optional<Event> event = sub.stream->Next()) {
      if (event->type() == Event::UPDATE && event->update().status().task_id().value() == task_id) {
        return event->update().status();
      }
    }
    ADD_FAILURE() << "no UPDATE for " << task_id;
    return std::nullopt;
  }

  void Acknowledge(Subscription& sub, const mesos_v1::TaskStatus& status) {
    Call call;
    call.set_type(Call::ACKNOWLEDGE);
    *call.mutable_acknowledge()->mutable_agent_id() = status.agent_id();
    *call.mutable_acknowledge()->mutable_task_id() = status.task_id();
    call.mutable_acknowledge()->set_uuid(status.uuid());
    EXPECT_EQ(Send(sub, call).status, 202);
  }

  static mesos_v1::TaskInfo Task(const std::string& id, const mesos_v1::Offer& offer,
                                 double cpus = 0.5, double mem = 128,
                                 const std::string& command = "sleep 1000") {
    mesos_v1::TaskInfo task;
    task.set_name(id);
    task.mutable_task_id()->set_value(id);
    *task.mutable_agent_id() = offer.agent_id();
    auto add = [&](const char* name, double value) {
      mesos_v1::Resource* r = task.add_resources();
      r->set_name(name);
      r->set_type(mesos_v1::Value::SCALAR);
      r->mutable_scalar()->set_value(value);
      r->mutable_allocation_info()->set_role(offer.allocation_info().role());
    };
    add("cpus", cpus);
    add("mem", mem);
    task.mutable_command()->set_value(command);
    return task;
  }

  static Call AcceptCall(const std::vector<mesos_v1::OfferID>& offer_ids,
                         const std::vector<mesos_v1::TaskInfo>& tasks,
                         double refuse_seconds = 3600) {
    Call call;
    call.set_type(Call::ACCEPT);
    for (const auto& id : offer_ids) *call.mutable_accept()->add_offer_ids() = id;
    auto* operation = call.mutable_accept()->add_operations();
    operation->set_type(mesos_v1::Offer::Operation::LAUNCH);
    for (const auto& task : tasks) *operation->mutable_launch()->add_task_infos() = task;
    call.mutable_accept()->mutable_filters()->set_refuse_seconds(refuse_seconds);
    return call;
  }

  // `holder` stops taking offers and gives back the ones it has (RESCIND), so that another
  // framework gets the agents.
  void ReleaseAllOffers(Subscription& holder) {
    Call suppress;
    suppress.set_type(Call::SUPPRESS);
    EXPECT_EQ(Send(holder, suppress).status, 202);
    master_->RescindAllOffers();
  }

  // Launches `task_id` on the first offer and acknowledges STARTING and RUNNING.
  mesos_v1::TaskStatus LaunchRunning(Subscription& sub, const std::string& task_id,
                                     mesos_v1::Offer* used) {
    std::vector<mesos_v1::Offer> offers = NextOffers(sub);
    EXPECT_FALSE(offers.empty());
    if (offers.empty()) return {};
    *used = offers[0];
    EXPECT_EQ(Send(sub, AcceptCall({offers[0].id()}, {Task(task_id, offers[0])})).status, 202);
    std::optional<mesos_v1::TaskStatus> starting = NextUpdate(sub, task_id);
    EXPECT_TRUE(starting && starting->state() == mesos_v1::TASK_STARTING);
    if (!starting) return {};
    Acknowledge(sub, *starting);
    std::optional<mesos_v1::TaskStatus> running = NextUpdate(sub, task_id);
    EXPECT_TRUE(running && running->state() == mesos_v1::TASK_RUNNING);
    if (!running) return {};
    Acknowledge(sub, *running);
    return *running;
  }

  // The next UPDATE for `task_id`; every UPDATE read on the way is acknowledged and kept for
  // its own task, so that the updates of several tasks may interleave.
  std::optional<mesos_v1::TaskStatus> NextAckedUpdate(Subscription& sub,
                                                      const std::string& task_id) {
    std::deque<mesos_v1::TaskStatus>& queue = kept_updates_[task_id];
    while (queue.empty()) {
      std::optional<Event> event = sub.stream->Next();
      if (!event.has_value()) {
        ADD_FAILURE() << "no UPDATE for " << task_id;
        return std::nullopt;
      }
      if (event->type() != Event::UPDATE) continue;
      const mesos_v1::TaskStatus& status = event->update().status();
      if (status.has_uuid()) Acknowledge(sub, status);
      kept_updates_[status.task_id().value()].push_back(status);
    }
    mesos_v1::TaskStatus status = queue.front();
    queue.pop_front();
    return status;
  }

  // The master's view of `task_id` (a default one if it does not know the task).
  LocalMaster::TaskView View(const std::string& task_id) const {
    for (const LocalMaster::TaskView& view : master_->tasks()) {
      if (view.task_id == task_id) return view;
    }
    return LocalMaster::TaskView{};
  }

  // Waits (real time) until the task's health check (or check) has `n` results.
  bool AwaitResults(const std::string& task_id, int n, bool health = true) {
    return WaitFor([&] {
      LocalMaster::TaskView view = View(task_id);
      return (health ? view.health_check_results : view.check_results) >= n;
    });
  }

  // Moves the clock on by `step` until the task's health check (or check) has more than
  // `results` results; false after 30 s. A step may need repeating: a probe due after one step
  // may miss its poke of the loop (see Advance()), and a real probe takes real time.
  bool AdvanceUntilResults(const std::string& task_id, int results, absl::Duration step,
                           bool health = true) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      Advance(step);
      if (WaitFor(
              [&] {
                LocalMaster::TaskView view = View(task_id);
                return (health ? view.health_check_results : view.check_results) > results;
              },
              absl::Seconds(1))) {
        return true;
      }
    }
    return false;
  }

  ManualClock clock_;
  mesos::HttpTransport transport_;
  LocalMasterPtr master_;
  std::string url_;
  int barriers_ = 0;
  std::map<std::string, std::deque<mesos_v1::TaskStatus>> kept_updates_;
};

// ---- Config and resources ----

TEST(LocalMasterConfigTest, RejectsBadFieldsByName) {
  struct Case {
    std::function<void(LocalMasterConfig&)> mutate;
    std::string field;
  };
  std::vector<Case> cases = {
      {[](LocalMasterConfig& c) { c.agents = -1; }, "agents"},
      {[](LocalMasterConfig& c) { c.agent_resources = "cpus"; }, "agent_resources"},
      {[](LocalMasterConfig& c) { c.agent_resources = "cpus:x"; }, "agent_resources"},
      {[](LocalMasterConfig& c) { c.agent_resources = "ports:[5-3]"; }, "agent_resources"},
      {[](LocalMasterConfig& c) { c.agent_resources = "cpus(web):1"; }, "agent_resources"},
      {[](LocalMasterConfig& c) {
         c.agent_attributes = {{"rack", ""}};
       },
       "agent_attributes"},
      {[](LocalMasterConfig& c) { c.heartbeat_interval = absl::ZeroDuration(); },
       "heartbeat_interval"},
      {[](LocalMasterConfig& c) { c.update_retry_interval = absl::Seconds(-1); },
       "update_retry_interval"},
      {[](LocalMasterConfig& c) { c.allocation_interval = absl::Seconds(-1); },
       "allocation_interval"},
      {[](LocalMasterConfig& c) { c.address = ""; }, "address"},
      {[](LocalMasterConfig& c) { c.agents = 10001; }, "agents"},
      {[](LocalMasterConfig& c) { c.default_kill_grace = absl::Seconds(-1); },
       "default_kill_grace"},
      {[](LocalMasterConfig& c) { c.restart_recovery = absl::Seconds(-1); }, "restart_recovery"},
      {[](LocalMasterConfig& c) { c.max_body_bytes = 0; }, "max_body_bytes"},
  };
  EXPECT_TRUE(ValidateLocalMasterConfig({}).ok());
  for (const Case& c : cases) {
    LocalMasterConfig config;
    c.mutate(config);
    absl::Status status = ValidateLocalMasterConfig(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(status.message()), StartsWith(c.field + ":"));
  }
  ManualClock clock;
  LocalMasterConfig bad;
  bad.address = "256.0.0.1:0";
  EXPECT_FALSE(LocalMaster::Start(bad, clock).ok());
}

TEST(ResourcesTest, ParsesAndCountsLikeMesos) {
  auto r = Resources::Parse("cpus:4;mem:8192;disk:10000;ports:[31000-32000, 33000-33001]");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Scalar("cpus"), 4);
  EXPECT_EQ(r->RangeCount("ports"), 1003u);
  auto part = Resources::Parse("cpus:0.1;mem:32;ports:[31000-31000]");
  ASSERT_TRUE(part.ok());
  EXPECT_TRUE(r->Contains(*part));
  EXPECT_FALSE(part->Contains(*r));
  Resources left = *r;
  for (int i = 0; i < 10; ++i) left.Subtract(*part);
  EXPECT_EQ(left.Scalar("cpus"), 3);  // fixed point: ten 0.1s are exactly 1
  EXPECT_EQ(left.RangeCount("ports"), 1002u);
  EXPECT_EQ(part->ToString(), "cpus:0.1; mem:32; ports:[31000-31000]");
  EXPECT_EQ(part->ToStateJson(),
            R"({"disk":0.0,"mem":32.0,"gpus":0.0,"cpus":0.1,"ports":"[31000-31000]"})");
  EXPECT_FALSE(Resources::Parse("cpus:-1").ok());
  EXPECT_FALSE(Resources::Parse("cpus:1;cpus:[1-2]").ok());
  auto attributes = ParseAttributes("rack:r1; zone:a");
  ASSERT_TRUE(attributes.ok());
  EXPECT_EQ(attributes->size(), 2u);
  EXPECT_FALSE(ParseAttributes("rack").ok());
  EXPECT_FALSE(ParseAttributes("a:1;a:2").ok());
}

// ---- §1.3: every status code, in the order the master checks them ----

TEST_F(LocalMasterTest, StatusCodesFollowTheMastersCheckOrder) {
  StartMaster();
  const std::string proto = absl::StrCat("Content-Type: ", kProtobuf);
  const std::string json = absl::StrCat("Content-Type: ", kJson);

  // Row 1: a non-leading master redirects anything, before any other check.
  master_->SetRedirect("leader.example:5050");
  Reply r = Get("/api/v1/scheduler");
  EXPECT_EQ(r.status, 307);
  EXPECT_EQ(r.Header("Location"), "//leader.example:5050/api/v1/scheduler");
  EXPECT_EQ(Post("garbage", {"Content-Type: text/plain"}).status, 307);
  EXPECT_EQ(Get("/redirect").Header("Location"), "//leader.example:5050");
  master_->SetRedirect(std::nullopt);
  EXPECT_EQ(Get("/redirect").Header("Location"), master_->url().substr(5));

  // Row 1b: no leader at all.
  master_->SetUnavailable(true);
  r = Get("/api/v1/scheduler");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "No leader elected");
  master_->SetUnavailable(false);

  // Row 2: a new leader that has not recovered yet.
  master_->Restart(/*keep_state=*/true);
  r = Post("garbage", {proto});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "Master has not finished recovery");
  Advance(absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return Post("garbage", {proto}).status != 503; }));

  // Row 3: only POST, with Allow.
  r = Get("/api/v1/scheduler");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow"), "POST");

  // Row 4: Content-Type missing (400) or not exactly one of the two (415).
  r = Post("garbage", {"Content-Type:"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Expecting 'Content-Type' to be present");
  EXPECT_EQ(Post("garbage", {"Content-Type: text/plain"}).status, 415);
  EXPECT_EQ(Post("{}", {"Content-Type: application/json; charset=utf-8"}).status, 415);

  // Row 5: bodies that do not parse, including missing proto2 required fields.
  r = Post("\xff\xff garbage", {proto});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Failed to parse body into Call protobuf");
  r = Post("{xx", {json});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, StartsWith("Failed to parse body into JSON"));
  r = Post(R"({"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}})", {json});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            "Failed to convert JSON into Call protobuf: Missing required fields: "
            "subscribe.framework_info.user");
  Call partial;
  partial.set_type(Call::SUBSCRIBE);
  partial.mutable_subscribe()->mutable_framework_info()->set_name("x");  // no user
  EXPECT_EQ(Post(partial.SerializePartialAsString(), {proto}).status, 400);

  // Row 6: validation, before Accept (row 7) is looked at.
  r = Post("{}", {json, "Accept: text/html"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Failed to validate scheduler::Call: Expecting 'type' to be present");
  Call ack;
  ack.set_type(Call::ACKNOWLEDGE);
  ack.mutable_framework_id()->set_value("any");
  ack.mutable_acknowledge()->mutable_agent_id()->set_value("a");
  ack.mutable_acknowledge()->mutable_task_id()->set_value("t");
  ack.mutable_acknowledge()->set_uuid("short");
  r = PostCall(ack, false, std::nullopt);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Failed to validate scheduler::Call: Not a valid UUID");
  Call mismatch = SubscribeCall(Info());
  mismatch.mutable_framework_id()->set_value("other");
  EXPECT_EQ(PostCall(mismatch, false, std::nullopt).status, 400);

  // Row 7 before row 8: Accept allows neither type.
  const std::string subscribe = Encode(SubscribeCall(Info()), false);
  r = Post(subscribe, {proto, "Accept: text/html", "Mesos-Stream-Id: x"});
  EXPECT_EQ(r.status, 406);
  EXPECT_EQ(Post(subscribe, {proto, "Accept: application/json;q=0, text/*"}).status, 406);

  // Row 8: SUBSCRIBE must not carry a stream id.
  r = Post(subscribe, {proto, "Accept: application/x-protobuf", "Mesos-Stream-Id: x"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Subscribe calls should not include the 'Mesos-Stream-Id' header");

  // Row 9: 200 and a stream.
  Subscription sub = Subscribe();
  ASSERT_FALSE(sub.framework_id.empty());

  // Row 10: unknown framework, even without a stream id.
  Call revive;
  revive.set_type(Call::REVIVE);
  revive.mutable_framework_id()->set_value("no-such-framework");
  r = PostCall(revive, false, std::nullopt);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Framework cannot be found");

  // Row 13: the stream id is missing or not the current one.
  revive.mutable_framework_id()->set_value(sub.framework_id);
  r = PostCall(revive, false, std::nullopt);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
  r = PostCall(revive, false, std::string("bogus"));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("didn't match the stream ID currently associated"));

  // Row 14: 202 (empty body), 200 for UPDATE_FRAMEWORK, 501 for UNKNOWN.
  r = Send(sub, revive);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "");
  Call update;
  update.set_type(Call::UPDATE_FRAMEWORK);
  *update.mutable_update_framework()->mutable_framework_info() = sub.info;
  EXPECT_EQ(Send(sub, update).status, 200);
  Call unknown;
  unknown.set_type(Call::UNKNOWN);
  EXPECT_EQ(Send(sub, unknown).status, 501);

  // Row 12 before row 13: a known framework without a stream gets 403, stream id or not.
  sub.stream->Close();
  ASSERT_TRUE(WaitFor([&] { return master_->stats().frameworks_connected == 0; }));
  EXPECT_EQ(PostCall(revive, false, std::nullopt).status, 403);
  r = Send(sub, revive);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "Framework is not subscribed");
  EXPECT_EQ(master_->stats().calls_by_type["REVIVE"], 1);
}

// ---- Subscription streams ----

TEST_F(LocalMasterTest, SubscribeStreamsRecordIoProtobufWithHeartbeats) {
  LocalMasterConfig config = DefaultConfig();
  config.heartbeat_interval = absl::Seconds(5);
  StartMaster(config);
  std::unique_ptr<EventStream> stream = OpenStream(SubscribeCall(Info()), /*json=*/false);
  ASSERT_EQ(stream->status(), 200);
  EXPECT_EQ(stream->header("Content-Type"), kProtobuf);
  EXPECT_EQ(stream->header("Transfer-Encoding"), "chunked");
  const std::string stream_id = stream->header("Mesos-Stream-Id");
  EXPECT_THAT(stream_id,
              ::testing::MatchesRegex(
                  "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));

  std::optional<Event> subscribed = stream->NextAny();
  ASSERT_TRUE(subscribed.has_value());
  ASSERT_EQ(subscribed->type(), Event::SUBSCRIBED);
  const auto& s = subscribed->subscribed();
  const std::string master_id = master_->master_id();
  EXPECT_EQ(s.framework_id().value(), master_id + "-0000");
  EXPECT_EQ(s.heartbeat_interval_seconds(), 5.0);
  EXPECT_EQ(s.master_info().id(), master_id);
  EXPECT_EQ(s.master_info().port(), static_cast<uint32_t>(master_->port()));
  EXPECT_EQ(s.master_info().ip(), 16777343u);  // 127.0.0.1, network order read little-endian
  EXPECT_EQ(s.master_info().address().ip(), "127.0.0.1");
  std::optional<Event> heartbeat = stream->NextAny();
  ASSERT_TRUE(heartbeat.has_value());
  EXPECT_EQ(heartbeat->type(), Event::HEARTBEAT);

  // Framing: <length>\n<bytes>, no separators; HEARTBEAT is exactly "2\n\x08\x08".
  std::string raw = stream->raw();
  std::string subscribed_bytes = subscribed->SerializeAsString();
  std::string first = mesos::RecordIoEncode(subscribed_bytes);
  ASSERT_GE(raw.size(), first.size() + 4);
  EXPECT_EQ(raw.substr(0, first.size()), first);
  EXPECT_EQ(raw.substr(first.size(), 4), std::string("2\n\x08\x08", 4));

  // Offers follow the first heartbeat; then one HEARTBEAT per interval.
  std::optional<Event> offers = stream->NextAny();
  ASSERT_TRUE(offers.has_value());
  EXPECT_EQ(offers->type(), Event::OFFERS);
  for (int i = 0; i < 3; ++i) {
    Advance(absl::Seconds(5));
    std::optional<Event> next = stream->NextAny();
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->type(), Event::HEARTBEAT);
  }
  EXPECT_TRUE(stream->decode_status().ok());
  EXPECT_EQ(master_->stats().subscriptions, 1);
}

TEST_F(LocalMasterTest, JsonSubscriptionAndCalls) {
  StartMaster();
  Subscription sub = Subscribe(Info("json"), /*json=*/true);
  EXPECT_EQ(sub.stream->header("Content-Type"), kJson);
  std::string raw = sub.stream->raw();
  EXPECT_THAT(raw, HasSubstr(R"("type":"SUBSCRIBED")"));
  EXPECT_THAT(raw, HasSubstr(R"("heartbeat_interval_seconds":15.0)"));
  EXPECT_THAT(raw, HasSubstr("\n{\"type\":\"HEARTBEAT\"}"));
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 2u);  // one per agent
  raw = sub.stream->raw();
  EXPECT_THAT(raw, HasSubstr(R"("ranges":{"range":[{"begin":31000,"end":31009}]})"))
      << "64-bit integers are JSON numbers, as Mesos writes them";

  // A JSON DECLINE, then a JSON REVIVE brings the offers back.
  Call decline;
  decline.set_type(Call::DECLINE);
  for (const auto& offer : offers) *decline.mutable_decline()->add_offer_ids() = offer.id();
  decline.mutable_decline()->mutable_filters()->set_refuse_seconds(3600);
  EXPECT_EQ(Send(sub, decline).status, 202);
  Call revive;
  revive.set_type(Call::REVIVE);
  EXPECT_EQ(Send(sub, revive).status, 202);
  EXPECT_EQ(NextOffers(sub).size(), 2u);

  // No Accept header means "anything": JSON is picked first.
  std::unique_ptr<EventStream> any = std::make_unique<EventStream>(
      transport_, url_, Encode(SubscribeCall(Info("any")), false),
      std::vector<std::string>{absl::StrCat("Content-Type: ", kProtobuf)}, /*json=*/true);
  EXPECT_EQ(any->header("Content-Type"), kJson);
  std::optional<Event> event = any->NextAny();
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->type(), Event::SUBSCRIBED);
}

TEST_F(LocalMasterTest, InvalidSubscriptionsGetOneErrorThenTheStreamEnds) {
  StartMaster();
  struct Case {
    std::function<void(mesos_v1::FrameworkInfo&, Call&)> mutate;
    std::string error;
  };
  std::vector<Case> cases = {
      {[](mesos_v1::FrameworkInfo& i, Call&) { i.clear_capabilities(); },
       "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"},
      {[](mesos_v1::FrameworkInfo& i, Call&) { i.add_roles("web"); },
       "'FrameworkInfo.roles' contains duplicate items: { web }"},
      {[](mesos_v1::FrameworkInfo& i, Call&) { i.set_roles(0, "-bad"); }, "is not valid"},
      {[](mesos_v1::FrameworkInfo& i, Call&) { i.set_failover_timeout(1e300); },
       "The framework failover_timeout (1e+300) is invalid"},
      {[](mesos_v1::FrameworkInfo&, Call& c) { c.mutable_subscribe()->add_suppressed_roles("db"); },
       "Suppressed role 'db' is not contained in the list of roles"},
      {[](mesos_v1::FrameworkInfo& i, Call& c) {
         i.mutable_id()->set_value("a/b");
         c.mutable_framework_id()->set_value("a/b");
       },
       "'a/b' contains invalid characters"},
  };
  for (const Case& c : cases) {
    mesos_v1::FrameworkInfo info = Info();
    Call call;
    c.mutate(info, call);
    Call subscribe = SubscribeCall(info);
    subscribe.MergeFrom(call);
    std::unique_ptr<EventStream> stream = OpenStream(subscribe, false);
    EXPECT_EQ(stream->status(), 200);
    std::optional<Event> error = stream->NextAny();
    ASSERT_TRUE(error.has_value()) << c.error;
    EXPECT_EQ(error->type(), Event::ERROR);
    EXPECT_THAT(error->error().message(), HasSubstr(c.error));
    std::optional<absl::Status> end = stream->WaitEnd();
    ASSERT_TRUE(end.has_value());
    EXPECT_TRUE(end->ok()) << *end;  // closed with the terminating chunk
  }
  EXPECT_EQ(master_->stats().frameworks_registered, 0);

  // A torn-down framework's ID is refused for good.
  Subscription sub = Subscribe();
  Call teardown;
  teardown.set_type(Call::TEARDOWN);
  EXPECT_EQ(Send(sub, teardown).status, 202);
  std::optional<absl::Status> end = sub.stream->WaitEnd();  // no event, just the end
  ASSERT_TRUE(end.has_value());
  for (Event::Type type : sub.stream->Unread()) EXPECT_NE(type, Event::ERROR);
  EXPECT_EQ(Send(sub, teardown).body, "Framework cannot be found");
  std::unique_ptr<EventStream> again = OpenStream(SubscribeCall(sub.info), false);
  std::optional<Event> error = again->NextAny();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().message(), "Framework has been removed");
  EXPECT_EQ(master_->stats().frameworks_completed, 1);

  // An ID this master never saw is re-created (a new leader learns frameworks this way).
  mesos_v1::FrameworkInfo known_elsewhere = Info();
  known_elsewhere.mutable_id()->set_value("from-another-master-0000");
  Subscription recreated = Subscribe(known_elsewhere);
  EXPECT_EQ(recreated.framework_id, "from-another-master-0000");
}

TEST_F(LocalMasterTest, SecondSubscribeFailsTheFirstStreamOver) {
  StartMaster();
  Subscription first = Subscribe();
  ASSERT_EQ(NextOffers(first).size(), 2u);
  Subscription second = Subscribe(first.info);
  EXPECT_EQ(second.framework_id, first.framework_id);
  EXPECT_NE(second.stream_id, first.stream_id);

  std::optional<Event> error = first.stream->Next();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->type(), Event::ERROR);
  EXPECT_EQ(error->error().message(), "Framework failed over");
  EXPECT_TRUE(first.stream->WaitEnd().has_value());

  Call revive;
  revive.set_type(Call::REVIVE);
  EXPECT_EQ(Send(first, revive).status, 400);  // the old stream id
  EXPECT_EQ(Send(second, revive).status, 202);
  // The old offers were dropped silently: the new stream gets fresh ones, never a RESCIND.
  std::vector<Event> events = Barrier(second);
  int offers = 0;
  for (const Event& e : events) {
    EXPECT_NE(e.type(), Event::RESCIND);
    if (e.type() == Event::OFFERS) offers += e.offers().offers_size();
  }
  EXPECT_EQ(offers, 2);
  LocalMaster::Stats stats = master_->stats();
  EXPECT_EQ(stats.failovers, 1);
  EXPECT_EQ(stats.subscriptions, 2);
  EXPECT_EQ(stats.frameworks_registered, 1);
  EXPECT_EQ(stats.offers_outstanding, 2);
}

TEST_F(LocalMasterTest, DisconnectedFrameworkIsRemovedAfterItsFailoverTimeout) {
  StartMaster();
  mesos_v1::FrameworkInfo info = Info();
  info.set_failover_timeout(10);
  Subscription sub = Subscribe(info);
  mesos_v1::Offer offer;
  LaunchRunning(sub, "t1", &offer);
  sub.stream->Close();  // the scheduler vanishes
  ASSERT_TRUE(WaitFor([&] { return master_->stats().frameworks_connected == 0; }));
  Call revive;
  revive.set_type(Call::REVIVE);
  EXPECT_EQ(Send(sub, revive).status, 403);
  EXPECT_EQ(master_->stats().offers_outstanding, 0);  // its offers went with it
  auto frameworks = Get("/master/frameworks");
  EXPECT_THAT(frameworks.body, HasSubstr(R"("active":false,"connected":false)"));

  Advance(absl::Seconds(9));
  EXPECT_EQ(Send(sub, revive).status, 403);
  Advance(absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return master_->stats().frameworks_completed == 1; }));
  Reply r = Send(sub, revive);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Framework cannot be found");
  EXPECT_TRUE(master_->tasks().empty());  // its tasks were killed with it
  std::unique_ptr<EventStream> again = OpenStream(SubscribeCall(sub.info), false);
  std::optional<Event> error = again->NextAny();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().message(), "Framework has been removed");
  frameworks = Get("/master/frameworks");
  EXPECT_THAT(frameworks.body, HasSubstr(R"("completed_frameworks":[{"id":")" + sub.framework_id));
}

// ---- Offers, launches, updates ----

TEST_F(LocalMasterTest, OffersAgentResourcesPerRole) {
  StartMaster();
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 2u);
  std::set<std::string> agents, ids;
  for (const mesos_v1::Offer& offer : offers) {
    agents.insert(offer.hostname());
    ids.insert(offer.id().value());
    EXPECT_THAT(offer.id().value(), StartsWith(master_->master_id() + "-O"));
    EXPECT_EQ(offer.framework_id().value(), sub.framework_id);
    EXPECT_EQ(offer.allocation_info().role(), "web");
    auto resources = Resources::FromProto(offer.resources());
    ASSERT_TRUE(resources.ok());
    EXPECT_EQ(*resources, *Resources::Parse("cpus:2;mem:1024;disk:2048;ports:[31000-31009]"));
    for (const mesos_v1::Resource& r : offer.resources()) {
      EXPECT_EQ(r.allocation_info().role(), "web");
    }
    ASSERT_EQ(offer.attributes_size(), 2);
    EXPECT_EQ(offer.attributes(0).name(), "rack");
    EXPECT_EQ(offer.attributes(0).text().value(), "r1");
  }
  EXPECT_EQ(agents, (std::set<std::string>{"agent-0", "agent-1"}));
  EXPECT_EQ(ids.size(), 2u);
}

TEST_F(LocalMasterTest, LaunchSendsStartingAndRunningResentUntilAcknowledged) {
  StartMaster();
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_FALSE(offers.empty());
  ASSERT_EQ(Send(sub, AcceptCall({offers[0].id()}, {Task("t1", offers[0])})).status, 202);

  std::optional<mesos_v1::TaskStatus> starting = NextUpdate(sub, "t1");
  ASSERT_TRUE(starting.has_value());
  EXPECT_EQ(starting->state(), mesos_v1::TASK_STARTING);
  EXPECT_EQ(starting->uuid().size(), 16u);
  EXPECT_EQ(starting->source(), mesos_v1::TaskStatus::SOURCE_EXECUTOR);
  EXPECT_EQ(starting->agent_id().value(), offers[0].agent_id().value());
  EXPECT_EQ(starting->executor_id().value(), "t1");

  // Not acknowledged: the agent resends the same update (and nothing newer).
  EXPECT_TRUE(Barrier(sub).empty());
  Advance(absl::Seconds(10));
  std::optional<mesos_v1::TaskStatus> resent = NextUpdate(sub, "t1");
  ASSERT_TRUE(resent.has_value());
  EXPECT_EQ(resent->state(), mesos_v1::TASK_STARTING);
  EXPECT_EQ(resent->uuid(), starting->uuid());
  Advance(absl::Seconds(10));  // backoff doubles: 20 s to the next resend
  EXPECT_TRUE(Barrier(sub).empty());
  Advance(absl::Seconds(10));
  resent = NextUpdate(sub, "t1");
  ASSERT_TRUE(resent.has_value());
  EXPECT_EQ(resent->uuid(), starting->uuid());

  // A uuid that is not 16 bytes is refused; a wrong 16-byte one is ignored.
  Call bad;
  bad.set_type(Call::ACKNOWLEDGE);
  *bad.mutable_acknowledge()->mutable_agent_id() = starting->agent_id();
  *bad.mutable_acknowledge()->mutable_task_id() = starting->task_id();
  bad.mutable_acknowledge()->set_uuid("0123456789abcde");
  EXPECT_EQ(Send(sub, bad).status, 400);
  bad.mutable_acknowledge()->set_uuid("0123456789abcdef");
  EXPECT_EQ(Send(sub, bad).status, 202);
  EXPECT_TRUE(Barrier(sub).empty());

  Acknowledge(sub, *starting);
  std::optional<mesos_v1::TaskStatus> running = NextUpdate(sub, "t1");
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->state(), mesos_v1::TASK_RUNNING);
  EXPECT_EQ(running->uuid().size(), 16u);
  EXPECT_NE(running->uuid(), starting->uuid());
  Acknowledge(sub, *running);
  ASSERT_TRUE(Barrier(sub).empty());
  std::vector<LocalMaster::TaskView> tasks = master_->tasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].state, mesos_v1::TASK_RUNNING);
  EXPECT_TRUE(tasks[0].acknowledged);
  EXPECT_EQ(master_->stats().acknowledged, 2);

  // The master's view.
  Reply state = Get("/master/tasks");
  EXPECT_THAT(state.body, HasSubstr(R"("id":"t1")"));
  EXPECT_THAT(state.body, HasSubstr(R"("state":"TASK_RUNNING")"));
  EXPECT_THAT(state.body, HasSubstr(R"("slave_id":")" + offers[0].agent_id().value()));
}

TEST_F(LocalMasterTest, DeclineFiltersAreHonouredAndRevivedAway) {
  StartMaster();
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 2u);
  // Agent 0 refused for 60 s, agent 1 with the default filter (5 s).
  Call decline;
  decline.set_type(Call::DECLINE);
  *decline.mutable_decline()->add_offer_ids() = offers[0].id();
  decline.mutable_decline()->mutable_filters()->set_refuse_seconds(60);
  ASSERT_EQ(Send(sub, decline).status, 202);
  Call decline_default;
  decline_default.set_type(Call::DECLINE);
  *decline_default.mutable_decline()->add_offer_ids() = offers[1].id();
  ASSERT_EQ(Send(sub, decline_default).status, 202);
  EXPECT_EQ(master_->stats().declined_offers, 2);

  Advance(absl::Seconds(4));
  EXPECT_TRUE(Barrier(sub).empty());
  Advance(absl::Seconds(2));  // the default filter expired
  std::vector<mesos_v1::Offer> again = NextOffers(sub);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].agent_id().value(), offers[1].agent_id().value());

  // Declined with refuse_seconds 0: offered again at the next allocation.
  Call no_filter;
  no_filter.set_type(Call::DECLINE);
  *no_filter.mutable_decline()->add_offer_ids() = again[0].id();
  no_filter.mutable_decline()->mutable_filters()->set_refuse_seconds(0);
  ASSERT_EQ(Send(sub, no_filter).status, 202);
  EXPECT_TRUE(Barrier(sub).empty());
  Advance(absl::Seconds(1));
  ASSERT_EQ(NextOffers(sub).size(), 1u);

  // Agent 0 is still filtered; REVIVE clears that at once.
  EXPECT_TRUE(Barrier(sub).empty());
  Call revive;
  revive.set_type(Call::REVIVE);
  ASSERT_EQ(Send(sub, revive).status, 202);
  std::vector<mesos_v1::Offer> revived = NextOffers(sub);
  ASSERT_EQ(revived.size(), 1u);
  EXPECT_EQ(revived[0].agent_id().value(), offers[0].agent_id().value());
  EXPECT_EQ(master_->stats().revive_calls, 1);
  // Unknown offer ids are ignored silently.
  Call stale;
  stale.set_type(Call::DECLINE);
  stale.mutable_decline()->add_offer_ids()->set_value("no-such-offer");
  EXPECT_EQ(Send(sub, stale).status, 202);
}

TEST_F(LocalMasterTest, SuppressStopsOffersUntilRevive) {
  StartMaster();
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  Call suppress;
  suppress.set_type(Call::SUPPRESS);
  ASSERT_EQ(Send(sub, suppress).status, 202);
  Call decline;
  decline.set_type(Call::DECLINE);
  for (const auto& offer : offers) *decline.mutable_decline()->add_offer_ids() = offer.id();
  decline.mutable_decline()->mutable_filters()->set_refuse_seconds(0);
  ASSERT_EQ(Send(sub, decline).status, 202);
  Advance(absl::Seconds(30));
  EXPECT_TRUE(Barrier(sub).empty());
  // A role the framework does not have: the whole call is dropped (still 202).
  Call bad_revive;
  bad_revive.set_type(Call::REVIVE);
  bad_revive.mutable_revive()->add_roles("not-mine");
  ASSERT_EQ(Send(sub, bad_revive).status, 202);
  EXPECT_TRUE(Barrier(sub).empty());
  Call revive;
  revive.set_type(Call::REVIVE);
  revive.mutable_revive()->add_roles("web");
  ASSERT_EQ(Send(sub, revive).status, 202);
  EXPECT_EQ(NextOffers(sub).size(), 2u);
  EXPECT_EQ(master_->stats().suppress_calls, 1);

  // Subscribing with suppressed_roles starts suppressed (the agents are free now).
  ReleaseAllOffers(sub);
  Call subscribe = SubscribeCall(Info("quiet"));
  subscribe.mutable_subscribe()->add_suppressed_roles("web");
  std::unique_ptr<EventStream> quiet = OpenStream(subscribe, false);
  std::optional<Event> subscribed = quiet->NextAny();
  ASSERT_TRUE(subscribed.has_value());
  Subscription q{std::move(quiet), subscribed->subscribed().framework_id().value(), "", false,
                 Info("quiet")};
  q.stream_id = q.stream->header("Mesos-Stream-Id");
  EXPECT_TRUE(Barrier(q).empty());
}

TEST_F(LocalMasterTest, KillGoesThroughKillingToKilledAndFreesResources) {
  StartMaster();
  Subscription sub = Subscribe();
  mesos_v1::Offer offer;
  LaunchRunning(sub, "t1", &offer);
  Call kill;
  kill.set_type(Call::KILL);
  kill.mutable_kill()->mutable_task_id()->set_value("t1");
  ASSERT_EQ(Send(sub, kill).status, 202);
  std::optional<mesos_v1::TaskStatus> killing = NextUpdate(sub, "t1");
  ASSERT_TRUE(killing.has_value());
  EXPECT_EQ(killing->state(), mesos_v1::TASK_KILLING);
  Acknowledge(sub, *killing);
  Advance(absl::Seconds(2));
  EXPECT_TRUE(Barrier(sub).empty());
  Advance(absl::Seconds(1));  // the default 3 s grace period
  std::optional<mesos_v1::TaskStatus> killed = NextUpdate(sub, "t1");
  ASSERT_TRUE(killed.has_value());
  EXPECT_EQ(killed->state(), mesos_v1::TASK_KILLED);
  EXPECT_EQ(killed->uuid().size(), 16u);
  // The task's resources come back (after the allocation interval).
  Advance(absl::Seconds(1));
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].agent_id().value(), offer.agent_id().value());
  Acknowledge(sub, *killed);
  ASSERT_TRUE(WaitFor([&] { return master_->tasks().empty(); }));

  // Without TASK_KILLING_STATE there is no KILLING; a kill_policy sets the grace period.
  ReleaseAllOffers(sub);
  Subscription plain = Subscribe(Info("plain", true, /*killing_state=*/false));
  mesos_v1::Offer offer2;
  LaunchRunning(plain, "t2", &offer2);
  kill.mutable_kill()->mutable_task_id()->set_value("t2");
  kill.mutable_kill()->mutable_kill_policy()->mutable_grace_period()->set_nanoseconds(0);
  ASSERT_EQ(Send(plain, kill).status, 202);
  killed = NextUpdate(plain, "t2");
  ASSERT_TRUE(killed.has_value());
  EXPECT_EQ(killed->state(), mesos_v1::TASK_KILLED);
}

TEST_F(LocalMasterTest, ReconcileAnswersFollowTheTable) {
  StartMaster();
  Subscription pa = Subscribe(Info("pa"));
  mesos_v1::Offer offer;
  LaunchRunning(pa, "t1", &offer);
  Subscription plain = Subscribe(Info("plain", /*partition_aware=*/false));

  auto reconcile = [&](Subscription& sub, const std::string& task,
                       std::optional<std::string> agent) {
    Call call;
    call.set_type(Call::RECONCILE);
    auto* item = call.mutable_reconcile()->add_tasks();
    item->mutable_task_id()->set_value(task);
    if (agent) item->mutable_agent_id()->set_value(*agent);
    EXPECT_EQ(Send(sub, call).status, 202);
    std::optional<mesos_v1::TaskStatus> status = NextUpdate(sub, task);
    if (status) {
      EXPECT_EQ(status->source(), mesos_v1::TaskStatus::SOURCE_MASTER);
      EXPECT_EQ(status->reason(), mesos_v1::TaskStatus::REASON_RECONCILIATION);
      EXPECT_FALSE(status->has_uuid());
      EXPECT_THAT(status->message(), StartsWith("Reconciliation: "));
    }
    return status.value_or(mesos_v1::TaskStatus());
  };
  const std::string agent = offer.agent_id().value();
  EXPECT_EQ(reconcile(pa, "t1", std::nullopt).state(), mesos_v1::TASK_RUNNING);
  EXPECT_EQ(reconcile(pa, "t1", std::nullopt).message(), "Reconciliation: Latest task state");
  EXPECT_EQ(reconcile(pa, "nope", agent).state(), mesos_v1::TASK_GONE);
  EXPECT_EQ(reconcile(pa, "nope", std::nullopt).state(), mesos_v1::TASK_UNKNOWN);
  EXPECT_EQ(reconcile(pa, "nope", std::string("no-such-agent")).state(), mesos_v1::TASK_UNKNOWN);
  EXPECT_EQ(reconcile(plain, "nope", agent).state(), mesos_v1::TASK_LOST);
  EXPECT_EQ(reconcile(plain, "nope", std::nullopt).state(), mesos_v1::TASK_LOST);

  // KILL of an unknown task is answered the same way.
  Call kill;
  kill.set_type(Call::KILL);
  kill.mutable_kill()->mutable_task_id()->set_value("ghost");
  ASSERT_EQ(Send(pa, kill).status, 202);
  std::optional<mesos_v1::TaskStatus> ghost = NextUpdate(pa, "ghost");
  ASSERT_TRUE(ghost.has_value());
  EXPECT_EQ(ghost->state(), mesos_v1::TASK_UNKNOWN);

  // Implicit: one answer per known task.
  Call implicit;
  implicit.set_type(Call::RECONCILE);
  implicit.mutable_reconcile();
  ASSERT_EQ(Send(pa, implicit).status, 202);
  std::optional<mesos_v1::TaskStatus> t1 = NextUpdate(pa, "t1");
  ASSERT_TRUE(t1.has_value());
  EXPECT_EQ(t1->state(), mesos_v1::TASK_RUNNING);
  EXPECT_FALSE(t1->has_uuid());
  EXPECT_TRUE(Barrier(pa).empty());

  // Unreachable and gone agents.
  master_->DisconnectAgent(offer.agent_id().value() == master_->master_id() + "-S0" ? 0 : 1);
  ASSERT_TRUE(NextUpdate(pa, "t1").has_value());  // the partition's own TASK_UNREACHABLE
  mesos_v1::TaskStatus unreachable = reconcile(pa, "t1", agent);
  EXPECT_EQ(unreachable.state(), mesos_v1::TASK_UNREACHABLE);
  EXPECT_TRUE(unreachable.has_unreachable_time());
  EXPECT_EQ(reconcile(plain, "t1", agent).state(), mesos_v1::TASK_LOST);
}

TEST_F(LocalMasterTest, InvalidOffersDropTasksAndInvalidTasksError) {
  StartMaster();
  Subscription pa = Subscribe(Info("pa"));
  std::vector<mesos_v1::Offer> offers = NextOffers(pa);
  ASSERT_EQ(offers.size(), 2u);

  mesos_v1::OfferID bogus;
  bogus.set_value("bogus");
  ASSERT_EQ(Send(pa, AcceptCall({bogus}, {Task("x1", offers[0])})).status, 202);
  std::optional<mesos_v1::TaskStatus> dropped = NextUpdate(pa, "x1");
  ASSERT_TRUE(dropped.has_value());
  EXPECT_EQ(dropped->state(), mesos_v1::TASK_DROPPED);
  EXPECT_EQ(dropped->reason(), mesos_v1::TaskStatus::REASON_INVALID_OFFERS);
  EXPECT_EQ(dropped->source(), mesos_v1::TaskStatus::SOURCE_MASTER);
  EXPECT_FALSE(dropped->has_uuid());
  EXPECT_EQ(dropped->message(),
            "Task launched with invalid offers: Offer bogus is no longer valid");

  // Offers of two agents in one ACCEPT: invalid, and both offers are gone.
  ASSERT_EQ(
      Send(pa, AcceptCall({offers[0].id(), offers[1].id()}, {Task("x2", offers[0])}, 0)).status,
      202);
  dropped = NextUpdate(pa, "x2");
  ASSERT_TRUE(dropped.has_value());
  EXPECT_EQ(dropped->state(), mesos_v1::TASK_DROPPED);
  EXPECT_THAT(dropped->message(), HasSubstr("one single agent"));
  // ... offered again at the next allocation (refuse_seconds was 0).
  Advance(absl::Seconds(1));
  offers = NextOffers(pa);
  ASSERT_EQ(offers.size(), 2u);

  // Invalid tasks next to a valid one.
  mesos_v1::TaskInfo good = Task("good", offers[0]);
  mesos_v1::TaskInfo dup = Task("good", offers[0]);
  mesos_v1::TaskInfo none = Task("none", offers[0]);
  none.clear_resources();
  mesos_v1::TaskInfo big = Task("big", offers[0], 100);
  mesos_v1::TaskInfo both = Task("both", offers[0]);
  both.mutable_executor()->mutable_executor_id()->set_value("e");
  mesos_v1::TaskInfo bad_id = Task("a/b", offers[0]);
  mesos_v1::TaskInfo wrong_agent = Task("wa", offers[1]);
  ASSERT_EQ(
      Send(pa, AcceptCall({offers[0].id()}, {good, dup, none, big, both, bad_id, wrong_agent}))
          .status,
      202);
  std::map<std::string, std::string> errors;
  bool good_started = false;
  while (errors.size() < 6 || !good_started) {
    std::optional<Event> event = pa.stream->Next();
    ASSERT_TRUE(event.has_value());
    if (event->type() != Event::UPDATE) continue;
    const mesos_v1::TaskStatus& status = event->update().status();
    if (status.state() == mesos_v1::TASK_ERROR) {
      EXPECT_EQ(status.reason(), mesos_v1::TaskStatus::REASON_TASK_INVALID);
      EXPECT_FALSE(status.has_uuid());
      errors[status.task_id().value()] = status.message();
    } else if (status.task_id().value() == "good") {
      good_started = status.state() == mesos_v1::TASK_STARTING;
    }
  }
  EXPECT_EQ(errors["good"], "Task has duplicate ID: good");
  EXPECT_EQ(errors["none"], "Task uses no resources");
  EXPECT_THAT(errors["big"], HasSubstr("required by task and its executor is more than available"));
  EXPECT_EQ(errors["both"],
            "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present");
  EXPECT_EQ(errors["a/b"], "'a/b' contains invalid characters");
  EXPECT_THAT(errors["wa"], StartsWith("Task uses invalid agent"));

  // Not PARTITION_AWARE: TASK_LOST instead of TASK_DROPPED.
  Subscription plain = Subscribe(Info("plain", /*partition_aware=*/false));
  ASSERT_EQ(Send(plain, AcceptCall({bogus}, {Task("y1", offers[0])})).status, 202);
  std::optional<mesos_v1::TaskStatus> lost = NextUpdate(plain, "y1");
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(lost->state(), mesos_v1::TASK_LOST);
  EXPECT_EQ(lost->reason(), mesos_v1::TaskStatus::REASON_INVALID_OFFERS);
}

TEST_F(LocalMasterTest, TaskGroupsLaunchTogetherOrNotAtAll) {
  StartMaster();
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 2u);
  auto group_call = [&](const mesos_v1::Offer& offer,
                        const std::vector<mesos_v1::TaskInfo>& tasks) {
    Call call;
    call.set_type(Call::ACCEPT);
    *call.mutable_accept()->add_offer_ids() = offer.id();
    auto* operation = call.mutable_accept()->add_operations();
    operation->set_type(mesos_v1::Offer::Operation::LAUNCH_GROUP);
    auto* executor = operation->mutable_launch_group()->mutable_executor();
    executor->mutable_executor_id()->set_value("default-executor");
    executor->set_type(mesos_v1::ExecutorInfo::DEFAULT);
    mesos_v1::Resource* cpus = executor->add_resources();
    cpus->set_name("cpus");
    cpus->set_type(mesos_v1::Value::SCALAR);
    cpus->mutable_scalar()->set_value(0.1);
    for (const auto& task : tasks) {
      *operation->mutable_launch_group()->mutable_task_group()->add_tasks() = task;
    }
    call.mutable_accept()->mutable_filters()->set_refuse_seconds(3600);
    return call;
  };
  // One bad task (too big) fails the whole group.
  ASSERT_EQ(
      Send(sub, group_call(offers[0], {Task("g1", offers[0]), Task("g2", offers[0], 50)})).status,
      202);
  for (const char* id : {"g1", "g2"}) {
    std::optional<mesos_v1::TaskStatus> error = NextUpdate(sub, id);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->state(), mesos_v1::TASK_ERROR);
    EXPECT_EQ(error->reason(), mesos_v1::TaskStatus::REASON_TASK_GROUP_INVALID);
  }
  ASSERT_EQ(Send(sub, group_call(offers[1], {Task("g3", offers[1]), Task("g4", offers[1])})).status,
            202);
  std::set<std::string> started;
  while (started.size() < 2) {
    std::optional<Event> event = sub.stream->Next();
    ASSERT_TRUE(event.has_value());
    if (event->type() != Event::UPDATE) continue;
    EXPECT_EQ(event->update().status().state(), mesos_v1::TASK_STARTING);
    EXPECT_EQ(event->update().status().executor_id().value(), "default-executor");
    started.insert(event->update().status().task_id().value());
  }
  EXPECT_EQ(started, (std::set<std::string>{"g3", "g4"}));
  EXPECT_EQ(master_->tasks().size(), 2u);
}

TEST_F(LocalMasterTest, UpdateFrameworkAppliesOrRefuses) {
  StartMaster();
  Subscription sub = Subscribe();
  ASSERT_EQ(NextOffers(sub).size(), 2u);
  Call update;
  update.set_type(Call::UPDATE_FRAMEWORK);
  mesos_v1::FrameworkInfo info = sub.info;
  info.set_user("someone-else");
  *update.mutable_update_framework()->mutable_framework_info() = info;
  Reply r = Send(sub, update);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("Updating 'FrameworkInfo.user' is unsupported"));

  // Leaving role "web" for "api": the offers of "web" are rescinded.
  info = sub.info;
  info.set_name("renamed");
  info.set_roles(0, "api");
  *update.mutable_update_framework()->mutable_framework_info() = info;
  update.mutable_update_framework()->add_suppressed_roles("api");
  r = Send(sub, update);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  int rescinded = 0;
  for (const Event& e : Barrier(sub)) {
    if (e.type() == Event::RESCIND) ++rescinded;
    EXPECT_NE(e.type(), Event::OFFERS);  // "api" is suppressed
  }
  EXPECT_EQ(rescinded, 2);
  EXPECT_THAT(Get("/master/frameworks").body, HasSubstr(R"("name":"renamed")"));
}

// ---- Fault injection ----

TEST_F(LocalMasterTest, DropSubscriptionsAbortsStreamsAndDisconnects) {
  StartMaster();
  Subscription sub = Subscribe();
  master_->DropSubscriptions();
  std::optional<absl::Status> end = sub.stream->WaitEnd();
  ASSERT_TRUE(end.has_value());
  EXPECT_FALSE(end->ok()) << "no terminating chunk: the transfer is cut off";
  Call revive;
  revive.set_type(Call::REVIVE);
  EXPECT_EQ(Send(sub, revive).status, 403);
  Subscription back = Subscribe(sub.info);
  EXPECT_EQ(back.framework_id, sub.framework_id);
  EXPECT_EQ(master_->stats().failovers, 0);
}

TEST_F(LocalMasterTest, HeartbeatsCanBeStoppedAndResumed) {
  StartMaster();
  Subscription sub = Subscribe();
  ASSERT_EQ(NextOffers(sub).size(), 2u);
  master_->SetHeartbeats(false);
  Advance(absl::Seconds(60));
  std::vector<Event> events = Barrier(sub, /*include_heartbeats=*/true);
  EXPECT_TRUE(events.empty());
  EXPECT_FALSE(sub.stream->ended());
  master_->SetHeartbeats(true);
  Advance(absl::Seconds(15));
  std::optional<Event> heartbeat = sub.stream->NextAny();
  ASSERT_TRUE(heartbeat.has_value());
  EXPECT_EQ(heartbeat->type(), Event::HEARTBEAT);
}

TEST_F(LocalMasterTest, RescindAllOffersAndOfferAgain) {
  StartMaster();
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 2u);
  master_->RescindAllOffers();
  std::set<std::string> rescinded;
  for (int i = 0; i < 2; ++i) {
    std::optional<Event> event = sub.stream->Next();
    ASSERT_TRUE(event.has_value());
    ASSERT_EQ(event->type(), Event::RESCIND);
    rescinded.insert(event->rescind().offer_id().value());
  }
  EXPECT_EQ(rescinded, (std::set<std::string>{offers[0].id().value(), offers[1].id().value()}));
  ASSERT_EQ(Send(sub, AcceptCall({offers[0].id()}, {Task("late", offers[0])})).status, 202);
  std::optional<mesos_v1::TaskStatus> dropped = NextUpdate(sub, "late");
  ASSERT_TRUE(dropped.has_value());
  EXPECT_EQ(dropped->state(), mesos_v1::TASK_DROPPED);
  Advance(absl::Seconds(1));
  EXPECT_EQ(NextOffers(sub).size(), 2u);
  EXPECT_EQ(master_->stats().offers_rescinded, 2);
}

TEST_F(LocalMasterTest, AgentPartitionAndReturnThenRemoval) {
  StartMaster();
  Subscription sub = Subscribe();
  mesos_v1::Offer offer;
  LaunchRunning(sub, "t1", &offer);
  const int index = offer.agent_id().value() == master_->master_id() + "-S0" ? 0 : 1;
  master_->DisconnectAgent(index);
  std::optional<mesos_v1::TaskStatus> unreachable = NextUpdate(sub, "t1");
  ASSERT_TRUE(unreachable.has_value());
  EXPECT_EQ(unreachable->state(), mesos_v1::TASK_UNREACHABLE);
  EXPECT_EQ(unreachable->reason(), mesos_v1::TaskStatus::REASON_AGENT_REMOVED);
  EXPECT_EQ(unreachable->source(), mesos_v1::TaskStatus::SOURCE_MASTER);
  EXPECT_TRUE(unreachable->has_unreachable_time());
  EXPECT_FALSE(unreachable->has_uuid());
  bool failure = false;
  for (const Event& e : Barrier(sub)) {
    if (e.type() == Event::FAILURE)
      failure = e.failure().agent_id().value() == offer.agent_id().value();
  }
  EXPECT_TRUE(failure);
  EXPECT_THAT(Get("/master/state").body, HasSubstr(R"("unreachable_slaves":1.0)"));

  master_->ReconnectAgent(index);
  std::optional<mesos_v1::TaskStatus> back = NextUpdate(sub, "t1");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->state(), mesos_v1::TASK_RUNNING);
  EXPECT_EQ(back->reason(), mesos_v1::TaskStatus::REASON_AGENT_REREGISTERED);

  master_->RemoveAgent(index);
  std::optional<mesos_v1::TaskStatus> gone = NextUpdate(sub, "t1");
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->state(), mesos_v1::TASK_GONE_BY_OPERATOR);
  EXPECT_EQ(gone->reason(), mesos_v1::TaskStatus::REASON_AGENT_REMOVED_BY_OPERATOR);
  EXPECT_TRUE(master_->tasks().empty());
  master_->ReconnectAgent(index);  // gone for good: ignored
  EXPECT_THAT(Get("/master/state").body, HasSubstr(R"("activated_slaves":1.0)"));

  // Not PARTITION_AWARE: TASK_LOST.
  ReleaseAllOffers(sub);
  Subscription plain = Subscribe(Info("plain", false));
  mesos_v1::Offer offer2;
  LaunchRunning(plain, "p1", &offer2);
  master_->DisconnectAgent(1 - index);
  std::optional<mesos_v1::TaskStatus> lost = NextUpdate(plain, "p1");
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(lost->state(), mesos_v1::TASK_LOST);
}

TEST_F(LocalMasterTest, KillOfAnUnreachableTaskIsAnsweredByReconciliation) {
  StartMaster();
  Subscription sub = Subscribe();
  mesos_v1::Offer offer;
  LaunchRunning(sub, "t1", &offer);
  const int index = offer.agent_id().value() == master_->master_id() + "-S0" ? 0 : 1;
  master_->DisconnectAgent(index);
  ASSERT_TRUE(NextUpdate(sub, "t1").has_value());  // UNREACHABLE
  // A KILL now: the master does not know the task any more.
  Call kill;
  kill.set_type(Call::KILL);
  kill.mutable_kill()->mutable_task_id()->set_value("t1");
  *kill.mutable_kill()->mutable_agent_id() = offer.agent_id();
  ASSERT_EQ(Send(sub, kill).status, 202);
  std::optional<mesos_v1::TaskStatus> answer = NextUpdate(sub, "t1");
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->state(), mesos_v1::TASK_UNREACHABLE);
  EXPECT_EQ(answer->reason(), mesos_v1::TaskStatus::REASON_RECONCILIATION);
}

TEST_F(LocalMasterTest, RestartKeepingStateDropsStreamsAndAcceptsTheFrameworkBack) {
  StartMaster();
  Subscription sub = Subscribe();
  mesos_v1::Offer offer;
  LaunchRunning(sub, "t1", &offer);
  const std::string old_master = master_->master_id();
  master_->Restart(/*keep_state=*/true);
  ASSERT_TRUE(sub.stream->WaitEnd().has_value());
  Call revive;
  revive.set_type(Call::REVIVE);
  EXPECT_EQ(Send(sub, revive).status, 503);
  Advance(absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return Send(sub, revive).status != 503; }));
  EXPECT_EQ(Send(sub, revive).status, 403);  // known, not subscribed
  EXPECT_NE(master_->master_id(), old_master);
  Subscription back = Subscribe(sub.info);
  EXPECT_EQ(back.framework_id, sub.framework_id);
  ASSERT_EQ(master_->tasks().size(), 1u);
  EXPECT_EQ(master_->tasks()[0].state, mesos_v1::TASK_RUNNING);
  EXPECT_EQ(master_->stats().master_restarts, 1);
  EXPECT_EQ(master_->stats().failovers, 0);
}

TEST_F(LocalMasterTest, RestartLosingStateRecoversFrameworksFromTheirTasks) {
  StartMaster();
  Subscription sub = Subscribe();
  mesos_v1::Offer offer;
  LaunchRunning(sub, "t1", &offer);
  Subscription idle = Subscribe(Info("idle"));
  Call teardown;
  teardown.set_type(Call::TEARDOWN);
  Subscription gone = Subscribe(Info("gone"));
  ASSERT_EQ(Send(gone, teardown).status, 202);
  master_->Restart(/*keep_state=*/false);
  Advance(absl::Seconds(1));
  Call revive;
  revive.set_type(Call::REVIVE);
  ASSERT_TRUE(WaitFor([&] { return Send(sub, revive).status != 503; }));
  EXPECT_EQ(Send(sub, revive).status, 403);   // known again from the agent's tasks
  EXPECT_EQ(Send(idle, revive).status, 400);  // no tasks: forgotten
  Reply frameworks = Get("/master/frameworks");
  EXPECT_THAT(frameworks.body, HasSubstr(R"("recovered":true)"));
  EXPECT_THAT(frameworks.body, HasSubstr(R"("completed_frameworks":[])"));
  // Every ID is accepted again, even the torn-down one (the new master never heard of it).
  Subscription back = Subscribe(sub.info);
  EXPECT_EQ(back.framework_id, sub.framework_id);
  Subscription gone_back = Subscribe(gone.info);
  EXPECT_EQ(gone_back.framework_id, gone.framework_id);
  ASSERT_EQ(master_->tasks().size(), 1u);
}

TEST_F(LocalMasterTest, DuplicateUpdatesAreSentTwice) {
  StartMaster();
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  master_->SetDuplicateUpdates(true);
  ASSERT_EQ(Send(sub, AcceptCall({offers[0].id()}, {Task("t1", offers[0])})).status, 202);
  std::optional<mesos_v1::TaskStatus> first = NextUpdate(sub, "t1");
  std::optional<mesos_v1::TaskStatus> second = NextUpdate(sub, "t1");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->state(), mesos_v1::TASK_STARTING);
  EXPECT_EQ(second->uuid(), first->uuid());
  Acknowledge(sub, *first);
  Acknowledge(sub, *second);  // the duplicate acknowledgement is ignored
  std::optional<mesos_v1::TaskStatus> running = NextUpdate(sub, "t1");
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->state(), mesos_v1::TASK_RUNNING);
  EXPECT_EQ(master_->stats().acknowledged, 1);
}

TEST_F(LocalMasterTest, CallDelayHoldsAnswersBackOnTheClock) {
  StartMaster();
  Subscription sub = Subscribe();
  master_->SetCallDelay(absl::Seconds(30));
  Call revive;
  revive.set_type(Call::REVIVE);
  revive.mutable_framework_id()->set_value(sub.framework_id);
  mesos::HttpRequestSpec spec;
  spec.url = url_;
  spec.headers = {absl::StrCat("Content-Type: ", kProtobuf),
                  absl::StrCat("Mesos-Stream-Id: ", sub.stream_id)};
  spec.body = revive.SerializeAsString();
  absl::Notification answered;
  int status = 0;
  transport_.Send(spec, [&](absl::StatusOr<mesos::HttpResult> result) {
    status = result.ok() ? result->head.status : -1;
    answered.Notify();
  });
  EXPECT_FALSE(answered.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  Advance(absl::Seconds(30));
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(status, 202);
  master_->SetCallDelay(absl::ZeroDuration());
  EXPECT_EQ(Send(sub, revive).status, 202);
}

TEST_F(LocalMasterTest, BadInputNeverHurtsTheMaster) {
  LocalMasterConfig config = DefaultConfig();
  config.max_body_bytes = 1 << 20;
  StartMaster(config);
  absl::BitGen gen;
  for (int i = 0; i < 50; ++i) {
    std::string body(absl::Uniform<size_t>(gen, 0, 300), '\0');
    for (char& c : body) c = static_cast<char>(absl::Uniform<uint8_t>(gen));
    int status = Post(body, {absl::StrCat("Content-Type: ", i % 2 ? kJson : kProtobuf)}).status;
    EXPECT_EQ(status, 400);  // unparsable, or no type, or no such framework
  }
  Reply huge = Post(std::string(2 << 20, 'x'), {absl::StrCat("Content-Type: ", kJson)});
  EXPECT_TRUE(huge.status == 413 || !huge.transport.ok()) << huge.status;
  EXPECT_EQ(
      Post(R"({"type":"SUBSCRIBE","subscribe":[1,2]})", {absl::StrCat("Content-Type: ", kJson)})
          .status,
      400);
  // Schedulers that vanish right after subscribing, mid-stream.
  for (int i = 0; i < 10; ++i) {
    std::unique_ptr<EventStream> stream = OpenStream(SubscribeCall(Info()), i % 2 == 0);
    if (i % 3 == 0) stream->status();
    stream->Close();
  }
  ASSERT_TRUE(WaitFor([&] { return master_->stats().frameworks_connected == 0; }));
  Subscription sub = Subscribe();
  EXPECT_EQ(NextOffers(sub).size(), 2u);
  EXPECT_EQ(Get("/version").status, 200);
}

TEST_F(LocalMasterTest, StateEndpointsLookLikeTheRealMasters) {
  StartMaster();
  Subscription sub = Subscribe();
  mesos_v1::Offer offer;
  LaunchRunning(sub, "t1", &offer);
  Reply version = Get("/version");
  EXPECT_THAT(version.body, HasSubstr(R"("version":"1.11.0")"));
  Reply state = Get("/master/state");
  ASSERT_EQ(state.status, 200);
  EXPECT_EQ(state.Header("Content-Type"), kJson);
  for (const char* key : {R"("activated_slaves":2.0)", R"("elected_time":)", R"("id":")",
                          R"("frameworks":[{"id":")", R"("completed_frameworks":[])",
                          R"("slaves":[{"id":")", R"("attributes":{"rack":"r1","zone":"a"})"}) {
    EXPECT_THAT(state.body, HasSubstr(key));
  }
  Reply frameworks = Get("/master/frameworks");
  for (const std::string& key :
       {absl::StrCat(R"({"frameworks":[{"id":")", sub.framework_id, R"(","name":"test")"),
        std::string(R"("active":true,"connected":true)"), std::string(R"("roles":["web"])"),
        std::string(R"("tasks":[{"id":"t1")"), std::string(R"("unregistered_frameworks":[])")}) {
    EXPECT_THAT(frameworks.body, HasSubstr(key));
  }
  Reply tasks = Get("/master/tasks");
  EXPECT_THAT(tasks.body,
              HasSubstr(absl::StrCat(R"({"tasks":[{"id":"t1","name":"t1","framework_id":")",
                                     sub.framework_id)));
  EXPECT_EQ(Get("/nothing-here").status, 404);
}

// Real Mesos writes TaskInfo.labels and FrameworkInfo.labels as the bare list of key/value
// objects, not as the Labels message ({"labels": [...]}); tools that read the state endpoints
// (and Mast's own tests) index into that list.
TEST_F(LocalMasterTest, StateEndpointsWriteLabelsAsAList) {
  StartMaster();
  mesos_v1::FrameworkInfo info = Info();
  mesos_v1::Label* framework_label = info.mutable_labels()->add_labels();
  framework_label->set_key("team");
  framework_label->set_value("infra");
  Subscription sub = Subscribe(info);
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_FALSE(offers.empty());
  mesos_v1::TaskInfo task = Task("t1", offers[0]);
  mesos_v1::Label* label = task.mutable_labels()->add_labels();
  label->set_key("k");
  label->set_value("v");
  task.mutable_labels()->add_labels()->set_key("only-key");
  ASSERT_EQ(Send(sub, AcceptCall({offers[0].id()}, {task})).status, 202);
  std::optional<mesos_v1::TaskStatus> starting = NextUpdate(sub, "t1");
  ASSERT_TRUE(starting.has_value());

  // The value of `key` in the object `value`, which must be there.
  auto field = [](const google::protobuf::Value& value,
                  const std::string& key) -> const google::protobuf::Value& {
    static const google::protobuf::Value kMissing;
    const auto& fields = value.struct_value().fields();
    auto it = fields.find(key);
    EXPECT_TRUE(it != fields.end()) << key << " missing";
    return it == fields.end() ? kMissing : it->second;
  };
  auto parse = [](const std::string& body) {
    google::protobuf::Value value;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(body, &value).ok()) << body;
    return value;
  };

  Reply tasks = Get("/master/tasks");
  ASSERT_EQ(tasks.status, 200);
  google::protobuf::Value tasks_json = parse(tasks.body);
  const google::protobuf::Value& task_list = field(tasks_json, "tasks");
  ASSERT_EQ(task_list.list_value().values_size(), 1) << tasks.body;
  const google::protobuf::Value& labels = field(task_list.list_value().values(0), "labels");
  ASSERT_EQ(labels.kind_case(), google::protobuf::Value::kListValue) << tasks.body;
  ASSERT_EQ(labels.list_value().values_size(), 2) << tasks.body;
  const google::protobuf::Value& first = labels.list_value().values(0);
  ASSERT_EQ(first.kind_case(), google::protobuf::Value::kStructValue);
  EXPECT_EQ(field(first, "key").string_value(), "k");
  EXPECT_EQ(field(first, "value").string_value(), "v");
  const google::protobuf::Value& second = labels.list_value().values(1);
  EXPECT_EQ(field(second, "key").string_value(), "only-key");
  EXPECT_FALSE(second.struct_value().fields().contains("value")) << tasks.body;

  Reply frameworks = Get("/master/frameworks");
  ASSERT_EQ(frameworks.status, 200);
  google::protobuf::Value frameworks_json = parse(frameworks.body);
  const google::protobuf::Value& framework_list = field(frameworks_json, "frameworks");
  ASSERT_EQ(framework_list.list_value().values_size(), 1) << frameworks.body;
  const google::protobuf::Value& framework = framework_list.list_value().values(0);
  const google::protobuf::Value& framework_labels = field(framework, "labels");
  ASSERT_EQ(framework_labels.kind_case(), google::protobuf::Value::kListValue) << frameworks.body;
  ASSERT_EQ(framework_labels.list_value().values_size(), 1);
  EXPECT_EQ(field(framework_labels.list_value().values(0), "key").string_value(), "team");
  EXPECT_EQ(field(framework_labels.list_value().values(0), "value").string_value(), "infra");
  // The framework's tasks are written by the same code as /master/tasks.
  const google::protobuf::Value& framework_tasks = field(framework, "tasks");
  ASSERT_EQ(framework_tasks.list_value().values_size(), 1);
  EXPECT_EQ(field(framework_tasks.list_value().values(0), "labels").kind_case(),
            google::protobuf::Value::kListValue);
}

// ---- Mast's own client against the local master ----

struct ClientEvents {
  absl::Mutex mu;
  int subscribed ABSL_GUARDED_BY(mu) = 0;
  int disconnected ABSL_GUARDED_BY(mu) = 0;
  std::string framework_id ABSL_GUARDED_BY(mu);
  std::string error ABSL_GUARDED_BY(mu);
  std::vector<Event> events ABSL_GUARDED_BY(mu);
  int Subscribed() {
    absl::MutexLock lock(&mu);
    return subscribed;
  }
  std::string Error() {
    absl::MutexLock lock(&mu);
    return error;
  }
  int Offers() {
    absl::MutexLock lock(&mu);
    int n = 0;
    for (const Event& e : events) n += e.type() == Event::OFFERS ? 1 : 0;
    return n;
  }
};

// An HttpMesosClient on its own loop (RealClock), as mastd runs it.
class MastClient {
 public:
  MastClient(const std::string& master_url, bool json,
             absl::Duration heartbeat_default = absl::Seconds(15))
      : loop_(RealClock::Default(), "test-client"), detector_({master_url}) {
    mesos::MesosClientConfig config;
    config.json = json;
    config.default_heartbeat_interval = heartbeat_default;
    config.backoff = {absl::Milliseconds(20), absl::Milliseconds(200), 2.0, 0.5};
    mesos::MesosClientCallbacks callbacks;
    callbacks.on_subscribed = [this](const Event::Subscribed& s) {
      absl::MutexLock lock(&events_.mu);
      ++events_.subscribed;
      events_.framework_id = s.framework_id().value();
    };
    callbacks.on_event = [this](const Event& e) {
      absl::MutexLock lock(&events_.mu);
      events_.events.push_back(e);
    };
    callbacks.on_disconnected = [this](absl::string_view) {
      absl::MutexLock lock(&events_.mu);
      ++events_.disconnected;
    };
    callbacks.on_error = [this](absl::string_view message) {
      absl::MutexLock lock(&events_.mu);
      events_.error = std::string(message);
    };
    loop_.Post([this, config, callbacks = std::move(callbacks)]() mutable {
      client_ = std::make_unique<mesos::HttpMesosClient>(config, detector_, transport_, loop_,
                                                         std::move(callbacks), nullptr);
    });
  }
  ~MastClient() {
    loop_.Post([this] { client_.reset(); });
    loop_.Flush();
  }
  void Subscribe(mesos_v1::FrameworkInfo info) {
    loop_.Post([this, info] { client_->Subscribe(info, {}); });
  }
  absl::Status Send(Call call) {
    absl::Notification done;
    absl::Status status;
    loop_.Post([&] {
      client_->Send(call, [&](absl::Status s) {
        status = s;
        done.Notify();
      });
    });
    if (!done.WaitForNotificationWithTimeout(kWait)) return absl::DeadlineExceededError("send");
    return status;
  }
  ClientEvents& events() { return events_; }
  std::string framework_id() {
    absl::MutexLock lock(&events_.mu);
    return events_.framework_id;
  }

 private:
  ClientEvents events_;
  EventLoop loop_;
  mesos::StaticMasterDetector detector_;
  mesos::HttpTransport transport_;
  std::unique_ptr<mesos::HttpMesosClient> client_;
};

class LocalMasterWithMastClientTest : public ::testing::TestWithParam<bool> {
 protected:
  LocalMasterPtr Start(LocalMasterConfig config = {}) {
    config.restart_recovery = absl::Milliseconds(100);
    config.allocation_interval = absl::Milliseconds(50);
    auto master = LocalMaster::Start(std::move(config), RealClock::Default());
    EXPECT_TRUE(master.ok()) << master.status();
    return master.ok() ? std::move(*master) : nullptr;
  }
};

TEST_P(LocalMasterWithMastClientTest, SubscribesDeclinesAndSurvivesFaults) {
  const bool json = GetParam();
  LocalMasterPtr master = Start();
  ASSERT_NE(master, nullptr);
  MastClient client(master->url(), json);
  client.Subscribe(Info("mast"));
  ASSERT_TRUE(WaitFor([&] { return client.events().Subscribed() == 1; }, kWait));
  ASSERT_TRUE(WaitFor([&] { return client.events().Offers() >= 1; }, kWait));
  const std::string id = client.framework_id();
  EXPECT_EQ(id, master->master_id() + "-0000");

  Call decline;
  decline.set_type(Call::DECLINE);
  {
    absl::MutexLock lock(&client.events().mu);
    for (const Event& e : client.events().events) {
      for (const auto& offer : e.offers().offers())
        *decline.mutable_decline()->add_offer_ids() = offer.id();
    }
  }
  EXPECT_TRUE(client.Send(decline).ok());
  Call suppress;
  suppress.set_type(Call::SUPPRESS);
  EXPECT_TRUE(client.Send(suppress).ok());
  EXPECT_EQ(master->stats().suppress_calls, 1);

  // A dropped stream: the client resubscribes with its FrameworkID.
  master->DropSubscriptions();
  ASSERT_TRUE(WaitFor([&] { return client.events().Subscribed() == 2; }, kWait));
  EXPECT_EQ(client.framework_id(), id);

  // A master failover that forgets everything: 503 for a while, then the same ID again.
  master->Restart(/*keep_state=*/false);
  ASSERT_TRUE(WaitFor([&] { return client.events().Subscribed() == 3; }, kWait));
  EXPECT_EQ(client.framework_id(), id);
  EXPECT_EQ(master->stats().frameworks_registered, 1);
  EXPECT_TRUE(client.events().Error().empty());
}

TEST_P(LocalMasterWithMastClientTest, FollowsRedirectsToTheLeader) {
  const bool json = GetParam();
  LocalMasterPtr leader = Start();
  LocalMasterPtr standby = Start();
  ASSERT_TRUE(leader && standby);
  standby->SetRedirect(leader->url().substr(7));  // "127.0.0.1:port"
  MastClient client(standby->url(), json);
  client.Subscribe(Info("mast"));
  ASSERT_TRUE(WaitFor([&] { return client.events().Subscribed() == 1; }, kWait));
  EXPECT_EQ(leader->stats().subscriptions, 1);
  EXPECT_EQ(standby->stats().subscriptions, 0);
}

TEST_P(LocalMasterWithMastClientTest, SilenceWithoutHeartbeatsMakesTheClientReconnect) {
  LocalMasterConfig config;
  config.heartbeat_interval = absl::Milliseconds(100);
  LocalMasterPtr master = Start(config);
  ASSERT_NE(master, nullptr);
  MastClient client(master->url(), GetParam());
  client.Subscribe(Info("mast"));
  ASSERT_TRUE(WaitFor([&] { return client.events().Subscribed() == 1; }, kWait));
  master->SetHeartbeats(false);
  ASSERT_TRUE(WaitFor([&] { return client.events().Subscribed() >= 2; }, kWait));
}

TEST_P(LocalMasterWithMastClientTest, ASecondInstanceTakesTheFrameworkOver) {
  LocalMasterPtr master = Start();
  ASSERT_NE(master, nullptr);
  MastClient first(master->url(), GetParam());
  first.Subscribe(Info("mast"));
  ASSERT_TRUE(WaitFor([&] { return first.events().Subscribed() == 1; }, kWait));
  MastClient intruder(master->url(), !GetParam());
  mesos_v1::FrameworkInfo info = Info("mast");
  info.mutable_id()->set_value(first.framework_id());
  intruder.Subscribe(info);
  ASSERT_TRUE(WaitFor([&] { return intruder.events().Subscribed() == 1; }, kWait));
  ASSERT_TRUE(WaitFor([&] { return !first.events().Error().empty(); }, kWait));
  EXPECT_EQ(first.events().Error(), "Framework failed over");
  EXPECT_EQ(master->stats().failovers, 1);
  EXPECT_EQ(master->stats().frameworks_registered, 1);
}

INSTANTIATE_TEST_SUITE_P(Encodings, LocalMasterWithMastClientTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "json" : "protobuf";
                         });

// ---- Health checks and checks ----

// A listening socket on 127.0.0.1:<port>, left open across exec so that the tasks the master
// starts inherit it and serve it: no other process can take the port in between, as it could
// if the task bound a port picked beforehand. Closed by the destructor (the task keeps its copy).
struct TaskListener {
  int fd = -1;
  int port = 0;
  TaskListener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);  // no SOCK_CLOEXEC: inherited
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::listen(fd, 64) == 0 && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
  }
  ~TaskListener() {
    if (fd >= 0) ::close(fd);
  }
  TaskListener(const TaskListener&) = delete;
  TaskListener& operator=(const TaskListener&) = delete;
  // A task command serving HTTP (the sandbox's files) on the inherited socket.
  std::string ServeHttpCommand() const {
    return absl::StrCat(
        "exec python3 -c 'import http.server, socket; "
        "s = http.server.ThreadingHTTPServer((\"127.0.0.1\", 0), "
        "http.server.SimpleHTTPRequestHandler, False); "
        "s.socket = socket.socket(fileno=",
        fd, "); s.serve_forever()'");
  }
};

mesos_v1::HealthCheck FastHealthCheck(mesos_v1::HealthCheck::Type type, int port = 0) {
  mesos_v1::HealthCheck check;
  check.set_type(type);
  if (type == mesos_v1::HealthCheck::HTTP) {
    check.mutable_http()->set_port(static_cast<uint32_t>(port));
    check.mutable_http()->set_path("/");
  } else if (type == mesos_v1::HealthCheck::TCP) {
    check.mutable_tcp()->set_port(static_cast<uint32_t>(port));
  } else {
    check.mutable_command()->set_value("exit 0");
  }
  check.set_delay_seconds(0);
  check.set_interval_seconds(0.2);
  check.set_timeout_seconds(5);
  check.set_grace_period_seconds(60);
  check.set_consecutive_failures(2);
  return check;
}

TEST(HealthTrackerTest, GracePeriodUntilTheFirstSuccessThenConsecutiveFailures) {
  mesos_v1::HealthCheck check;
  check.set_grace_period_seconds(10);
  check.set_consecutive_failures(3);
  const absl::Time start = absl::FromUnixSeconds(1000);
  HealthTracker tracker(check, start);
  EXPECT_FALSE(tracker.OnResult(false, start + absl::Seconds(1)).has_value()) << "in grace";
  EXPECT_FALSE(tracker.OnResult(false, start + absl::Seconds(10)).has_value()) << "in grace";
  std::optional<HealthTracker::Verdict> first = tracker.OnResult(true, start + absl::Seconds(11));
  ASSERT_TRUE(first.has_value()) << "the first success is reported";
  EXPECT_TRUE(first->healthy);
  EXPECT_FALSE(tracker.OnResult(true, start + absl::Seconds(12)).has_value()) << "no change";
  // After a success the grace period no longer applies, even while it lasts.
  HealthTracker early(check, start);
  ASSERT_TRUE(early.OnResult(true, start + absl::Seconds(1)).has_value());
  std::optional<HealthTracker::Verdict> failed = early.OnResult(false, start + absl::Seconds(2));
  ASSERT_TRUE(failed.has_value());
  EXPECT_FALSE(failed->healthy);
  EXPECT_FALSE(failed->kill);
  // Every counted failure is reported; the third in a row kills; a success resets the count.
  for (int i = 0; i < 2; ++i) {
    std::optional<HealthTracker::Verdict> v = tracker.OnResult(false, start + absl::Seconds(20));
    ASSERT_TRUE(v.has_value());
    EXPECT_FALSE(v->kill);
  }
  ASSERT_TRUE(tracker.OnResult(true, start + absl::Seconds(21)).has_value()) << "healthy again";
  for (int i = 1; i <= 3; ++i) {
    std::optional<HealthTracker::Verdict> v = tracker.OnResult(false, start + absl::Seconds(30));
    ASSERT_TRUE(v.has_value());
    EXPECT_FALSE(v->healthy);
    EXPECT_EQ(v->kill, i == 3) << i;
  }
  // Outside the grace period the first failure counts at once.
  HealthTracker late(check, start);
  std::optional<HealthTracker::Verdict> v = late.OnResult(false, start + absl::Seconds(11));
  ASSERT_TRUE(v.has_value());
  EXPECT_FALSE(v->healthy);
}

TEST(TaskChecksTest, ResultsAndValidationInMesosTerms) {
  EXPECT_TRUE(ProbeSucceeded(mesos_v1::CheckInfo::HTTP, {std::nullopt, 200, std::nullopt}));
  EXPECT_TRUE(ProbeSucceeded(mesos_v1::CheckInfo::HTTP, {std::nullopt, 302, std::nullopt}));
  EXPECT_FALSE(ProbeSucceeded(mesos_v1::CheckInfo::HTTP, {std::nullopt, 404, std::nullopt}));
  EXPECT_FALSE(ProbeSucceeded(mesos_v1::CheckInfo::HTTP, {}));
  EXPECT_TRUE(ProbeSucceeded(mesos_v1::CheckInfo::COMMAND, {0, std::nullopt, std::nullopt}));
  EXPECT_FALSE(ProbeSucceeded(mesos_v1::CheckInfo::COMMAND, {1, std::nullopt, std::nullopt}));
  EXPECT_TRUE(ProbeSucceeded(mesos_v1::CheckInfo::TCP, {std::nullopt, std::nullopt, true}));
  EXPECT_FALSE(ProbeSucceeded(mesos_v1::CheckInfo::TCP, {}));
  mesos_v1::CheckStatusInfo unavailable = CheckStatus(mesos_v1::CheckInfo::HTTP, {});
  EXPECT_EQ(unavailable.type(), mesos_v1::CheckInfo::HTTP);
  EXPECT_TRUE(unavailable.has_http());
  EXPECT_FALSE(unavailable.http().has_status_code());

  mesos_v1::TaskInfo task;
  EXPECT_FALSE(ValidateTaskChecks(task).has_value());
  task.mutable_health_check()->set_type(mesos_v1::HealthCheck::HTTP);
  EXPECT_EQ(ValidateTaskChecks(task),
            "Task's health check is invalid: Expecting 'http' to be set for HTTP health check");
  *task.mutable_health_check() = FastHealthCheck(mesos_v1::HealthCheck::TCP, 80);
  task.mutable_health_check()->set_interval_seconds(-1);
  EXPECT_EQ(ValidateTaskChecks(task),
            "Task's health check is invalid: Expecting 'interval_seconds' to be non-negative");
  *task.mutable_health_check() = FastHealthCheck(mesos_v1::HealthCheck::HTTP, 80);
  task.mutable_health_check()->mutable_http()->set_path("health");
  EXPECT_EQ(ValidateTaskChecks(task),
            "Task's health check is invalid: The path 'health' of HTTP health check must start "
            "with '/'");
  task.clear_health_check();
  task.mutable_check();
  EXPECT_EQ(ValidateTaskChecks(task), "Task's check is invalid: CheckInfo must specify 'type'");
}

// Without --execute there is nothing to probe: the checks pass (healthy once, one check result)
// unless made to fail, on the master's clock; the grace period and the kill follow Mesos.
TEST_F(LocalMasterTest, SimulatedChecksPassUnlessMadeToFailAndHonourTheGracePeriod) {
  StartMaster();
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_FALSE(offers.empty());
  mesos_v1::TaskInfo task = Task("sim", offers[0]);
  mesos_v1::HealthCheck* health = task.mutable_health_check();
  *health = FastHealthCheck(mesos_v1::HealthCheck::HTTP, 8080);
  health->set_delay_seconds(1);
  health->set_interval_seconds(1);
  health->set_grace_period_seconds(3);
  mesos_v1::CheckInfo* check = task.mutable_check();
  check->set_type(mesos_v1::CheckInfo::TCP);
  check->mutable_tcp()->set_port(8080);
  check->set_delay_seconds(1);
  check->set_interval_seconds(1);
  ASSERT_EQ(Send(sub, AcceptCall({offers[0].id()}, {task})).status, 202);
  std::optional<mesos_v1::TaskStatus> starting = NextAckedUpdate(sub, "sim");
  ASSERT_TRUE(starting.has_value());
  EXPECT_EQ(starting->state(), mesos_v1::TASK_STARTING);
  EXPECT_FALSE(starting->has_healthy());
  ASSERT_TRUE(starting->has_check_status()) << "every update of a task with a check has one";
  EXPECT_TRUE(starting->check_status().has_tcp());
  EXPECT_FALSE(starting->check_status().tcp().has_succeeded()) << "no result yet";
  std::optional<mesos_v1::TaskStatus> running = NextAckedUpdate(sub, "sim");
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->state(), mesos_v1::TASK_RUNNING);

  Advance(absl::Seconds(1));
  std::map<mesos_v1::TaskStatus::Reason, mesos_v1::TaskStatus> first;
  for (int i = 0; i < 2; ++i) {
    std::optional<mesos_v1::TaskStatus> status = NextAckedUpdate(sub, "sim");
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->state(), mesos_v1::TASK_RUNNING);
    EXPECT_EQ(status->source(), mesos_v1::TaskStatus::SOURCE_EXECUTOR);
    first[status->reason()] = *status;
  }
  const mesos_v1::TaskStatus& healthy =
      first[mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED];
  ASSERT_TRUE(healthy.has_healthy());
  EXPECT_TRUE(healthy.healthy());
  const mesos_v1::TaskStatus& checked =
      first[mesos_v1::TaskStatus::REASON_TASK_CHECK_STATUS_UPDATED];
  EXPECT_TRUE(checked.check_status().tcp().succeeded());
  EXPECT_FALSE(checked.has_healthy());
  // Unchanged results send nothing.
  Advance(absl::Seconds(1));
  ASSERT_TRUE(AwaitResults("sim", 2));
  ASSERT_TRUE(AwaitResults("sim", 2, /*health=*/false));
  for (const Event& event : Barrier(sub)) {
    EXPECT_NE(event.update().status().task_id().value(), "sim") << event.DebugString();
  }
  EXPECT_EQ(View("sim").healthy, true);

  // The agent's checks fail: every failure is reported (the task was healthy: no grace).
  const std::string& agent_id = offers[0].agent_id().value();
  const int agent = std::stoi(agent_id.substr(agent_id.rfind('S') + 1));
  master_->SetAgentHealthChecksFailing(agent, true);
  Advance(absl::Seconds(1));
  std::map<mesos_v1::TaskStatus::Reason, mesos_v1::TaskStatus> failed;
  for (int i = 0; i < 2; ++i) {
    std::optional<mesos_v1::TaskStatus> status = NextAckedUpdate(sub, "sim");
    ASSERT_TRUE(status.has_value());
    failed[status->reason()] = *status;
  }
  EXPECT_FALSE(failed[mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED].healthy());
  EXPECT_FALSE(failed[mesos_v1::TaskStatus::REASON_TASK_CHECK_STATUS_UPDATED]
                   .check_status()
                   .tcp()
                   .succeeded());
  Advance(absl::Seconds(1));
  std::optional<mesos_v1::TaskStatus> second = NextAckedUpdate(sub, "sim");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->reason(), mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
  EXPECT_FALSE(second->healthy());
  // consecutive_failures (2): the executor kills the task; its end says healthy=false.
  std::optional<mesos_v1::TaskStatus> killing = NextAckedUpdate(sub, "sim");
  ASSERT_TRUE(killing.has_value());
  EXPECT_EQ(killing->state(), mesos_v1::TASK_KILLING);
  Advance(absl::Seconds(3));  // default_kill_grace
  std::optional<mesos_v1::TaskStatus> killed = NextAckedUpdate(sub, "sim");
  ASSERT_TRUE(killed.has_value());
  EXPECT_EQ(killed->state(), mesos_v1::TASK_KILLED);
  ASSERT_TRUE(killed->has_healthy());
  EXPECT_FALSE(killed->healthy());
  EXPECT_FALSE(killed->has_reason());
  master_->SetAgentHealthChecksFailing(agent, false);

  // A task failing from its start (on the other agent): failures within the grace period (3 s
  // from the start of the checks) are ignored; the first one after it counts.
  ASSERT_EQ(offers.size(), 2u);
  mesos_v1::TaskInfo late = Task("late", offers[1]);
  *late.mutable_health_check() = *health;
  master_->SetHealthChecksFailing("late", true);
  ASSERT_EQ(Send(sub, AcceptCall({offers[1].id()}, {late})).status, 202);
  for (mesos_v1::TaskState state : {mesos_v1::TASK_STARTING, mesos_v1::TASK_RUNNING}) {
    std::optional<mesos_v1::TaskStatus> status = NextAckedUpdate(sub, "late");
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->state(), state);
  }
  for (int i = 1; i <= 3; ++i) {  // probes at 1, 2 and 3 s: all in the grace period
    Advance(absl::Seconds(1));
    ASSERT_TRUE(AwaitResults("late", i));
  }
  for (const Event& event : Barrier(sub)) {
    EXPECT_NE(event.update().status().task_id().value(), "late") << event.DebugString();
  }
  EXPECT_EQ(View("late").healthy, std::nullopt);
  Advance(absl::Seconds(1));
  std::optional<mesos_v1::TaskStatus> unhealthy = NextAckedUpdate(sub, "late");
  ASSERT_TRUE(unhealthy.has_value());
  EXPECT_EQ(unhealthy->reason(), mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
  EXPECT_FALSE(unhealthy->healthy());
  // Passing again: healthy, and the failure count starts over.
  master_->SetHealthChecksFailing("late", false);
  Advance(absl::Seconds(1));
  std::optional<mesos_v1::TaskStatus> recovered = NextAckedUpdate(sub, "late");
  ASSERT_TRUE(recovered.has_value());
  EXPECT_TRUE(recovered->healthy());
  EXPECT_EQ(View("late").agent_state, mesos_v1::TASK_RUNNING);
  // The state endpoints show each status' health and check result, as Mesos does.
  Reply tasks = Get("/master/tasks");
  EXPECT_THAT(tasks.body, HasSubstr("\"healthy\":true"));
  EXPECT_THAT(tasks.body, HasSubstr("\"check_status\":{\"type\":\"TCP\""));
}

// SetChecksFailing (and POST /faults/checks) fails a task's check (TaskInfo.check, Mast's
// readiness check) alone: its health check keeps passing. Each result that changes goes out
// with REASON_TASK_CHECK_STATUS_UPDATED and the check_status of the check's type.
TEST_F(LocalMasterTest, ChecksAloneCanBeMadeToFail) {
  LocalMasterConfig config = DefaultConfig();
  config.fault_endpoints = true;
  StartMaster(std::move(config));
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 2u);
  mesos_v1::TaskInfo web = Task("web", offers[0]);
  *web.mutable_health_check() = FastHealthCheck(mesos_v1::HealthCheck::HTTP, 8080);
  web.mutable_health_check()->set_delay_seconds(1);
  web.mutable_health_check()->set_interval_seconds(1);
  mesos_v1::CheckInfo* check = web.mutable_check();
  check->set_type(mesos_v1::CheckInfo::HTTP);
  check->mutable_http()->set_port(8080);
  check->mutable_http()->set_path("/ready");
  check->set_delay_seconds(1);
  check->set_interval_seconds(1);
  master_->SetChecksFailing("web", true);
  ASSERT_EQ(Send(sub, AcceptCall({offers[0].id()}, {web})).status, 202);
  for (mesos_v1::TaskState state : {mesos_v1::TASK_STARTING, mesos_v1::TASK_RUNNING}) {
    std::optional<mesos_v1::TaskStatus> status = NextAckedUpdate(sub, "web");
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->state(), state);
    ASSERT_TRUE(status->has_check_status());
    EXPECT_EQ(status->check_status().type(), mesos_v1::CheckInfo::HTTP);
    EXPECT_FALSE(status->check_status().http().has_status_code()) << "no result yet";
  }
  Advance(absl::Seconds(1));
  std::map<mesos_v1::TaskStatus::Reason, mesos_v1::TaskStatus> first;
  for (int i = 0; i < 2; ++i) {
    std::optional<mesos_v1::TaskStatus> status = NextAckedUpdate(sub, "web");
    ASSERT_TRUE(status.has_value());
    first[status->reason()] = *status;
  }
  EXPECT_TRUE(first[mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED].healthy())
      << "the health check is not made to fail";
  const mesos_v1::TaskStatus& failing =
      first[mesos_v1::TaskStatus::REASON_TASK_CHECK_STATUS_UPDATED];
  EXPECT_EQ(failing.state(), mesos_v1::TASK_RUNNING);
  EXPECT_EQ(failing.source(), mesos_v1::TaskStatus::SOURCE_EXECUTOR);
  EXPECT_EQ(failing.check_status().type(), mesos_v1::CheckInfo::HTTP);
  EXPECT_EQ(failing.check_status().http().status_code(), 503u);
  // The same result again: no update.
  Advance(absl::Seconds(1));
  ASSERT_TRUE(AwaitResults("web", 2, /*health=*/false));
  for (const Event& event : Barrier(sub)) {
    EXPECT_NE(event.update().status().task_id().value(), "web") << event.DebugString();
  }
  // Passing again (through the fault endpoint): 200.
  EXPECT_EQ(Request(transport_, master_->url() + "/faults/checks?task=web&fail=0", {}, "x").status,
            200);
  Advance(absl::Seconds(1));
  std::optional<mesos_v1::TaskStatus> passing = NextAckedUpdate(sub, "web");
  ASSERT_TRUE(passing.has_value());
  EXPECT_EQ(passing->reason(), mesos_v1::TaskStatus::REASON_TASK_CHECK_STATUS_UPDATED);
  EXPECT_EQ(passing->check_status().http().status_code(), 200u);
  EXPECT_EQ(View("web").healthy, true);

  // A COMMAND check (no health check) passes with exit code 0, then fails with 1 through the
  // endpoint; the task keeps running (a check never kills).
  mesos_v1::TaskInfo cmd = Task("cmd", offers[1]);
  mesos_v1::CheckInfo* command = cmd.mutable_check();
  command->set_type(mesos_v1::CheckInfo::COMMAND);
  command->mutable_command()->mutable_command()->set_value("test -f ready");
  command->set_delay_seconds(1);
  command->set_interval_seconds(1);
  ASSERT_EQ(Send(sub, AcceptCall({offers[1].id()}, {cmd})).status, 202);
  for (mesos_v1::TaskState state : {mesos_v1::TASK_STARTING, mesos_v1::TASK_RUNNING}) {
    std::optional<mesos_v1::TaskStatus> status = NextAckedUpdate(sub, "cmd");
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->state(), state);
    EXPECT_TRUE(status->check_status().has_command());
    EXPECT_FALSE(status->check_status().command().has_exit_code()) << "no result yet";
  }
  Advance(absl::Seconds(1));
  std::optional<mesos_v1::TaskStatus> exit0 = NextAckedUpdate(sub, "cmd");
  ASSERT_TRUE(exit0.has_value());
  ASSERT_EQ(exit0->reason(), mesos_v1::TaskStatus::REASON_TASK_CHECK_STATUS_UPDATED);
  EXPECT_EQ(exit0->check_status().type(), mesos_v1::CheckInfo::COMMAND);
  EXPECT_EQ(exit0->check_status().command().exit_code(), 0);
  EXPECT_FALSE(exit0->has_healthy());
  EXPECT_EQ(Request(transport_, master_->url() + "/faults/checks?task=cmd&fail=1", {}, "x").status,
            200);
  EXPECT_EQ(Request(transport_, master_->url() + "/faults/checks?fail=1", {}, "x").status, 400)
      << "task=ID is required";
  Advance(absl::Seconds(1));
  std::optional<mesos_v1::TaskStatus> exit1 = NextAckedUpdate(sub, "cmd");
  ASSERT_TRUE(exit1.has_value());
  EXPECT_EQ(exit1->state(), mesos_v1::TASK_RUNNING);
  EXPECT_EQ(exit1->reason(), mesos_v1::TaskStatus::REASON_TASK_CHECK_STATUS_UPDATED);
  EXPECT_EQ(exit1->check_status().command().exit_code(), 1);
  EXPECT_EQ(View("cmd").agent_state, mesos_v1::TASK_RUNNING);
}

// ---- --execute ----

class LocalMasterExecuteTest : public LocalMasterTest {
 protected:
  void SetUp() override {
    work_dir_ = (std::filesystem::temp_directory_path() /
                 absl::StrCat("mast-local-master-test-", ::getpid()))
                    .string();
    LocalMasterConfig config = DefaultConfig();
    config.agents = 1;
    config.execute = true;
    config.work_dir = work_dir_;
    StartMaster(config);
  }
  void TearDown() override {
    master_.reset();
    std::filesystem::remove_all(work_dir_);
  }
  std::string work_dir_;
};

TEST_F(LocalMasterExecuteTest, CommandsRunInTheirSandboxes) {
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 1u);
  mesos_v1::TaskInfo fails = Task("fails", offers[0], 0.1, 32, "echo hi > out; exit 3");
  mesos_v1::TaskInfo env =
      Task("env", offers[0], 0.1, 32, "echo \"$MESOS_TASK_ID $GREETING\" > env");
  auto* variable = env.mutable_command()->mutable_environment()->add_variables();
  variable->set_name("GREETING");
  variable->set_value("hello");
  mesos_v1::TaskInfo argv = Task("argv", offers[0], 0.1, 32, "/bin/sh");
  argv.mutable_command()->set_shell(false);
  argv.mutable_command()->add_arguments("sh");
  argv.mutable_command()->add_arguments("-c");
  argv.mutable_command()->add_arguments("exit 0");
  mesos_v1::TaskInfo sleeper = Task("sleeper", offers[0], 0.1, 32, "sleep 60");
  ASSERT_EQ(Send(sub, AcceptCall({offers[0].id()}, {fails, env, argv, sleeper})).status, 202);

  // Every update is acknowledged at once; terminal states are collected.
  std::map<std::string, mesos_v1::TaskStatus> terminal;
  bool sleeper_running = false;
  while (terminal.size() < 3 || !sleeper_running) {
    std::optional<Event> event = sub.stream->Next(absl::Seconds(20));
    ASSERT_TRUE(event.has_value()) << "still waiting; " << terminal.size() << " done";
    if (event->type() != Event::UPDATE) continue;
    const mesos_v1::TaskStatus& status = event->update().status();
    if (status.task_id().value() == "sleeper" && status.state() == mesos_v1::TASK_RUNNING) {
      sleeper_running = true;
    }
    if (status.state() == mesos_v1::TASK_FAILED || status.state() == mesos_v1::TASK_FINISHED) {
      terminal[status.task_id().value()] = status;
      continue;  // not acknowledged: the task (and its sandbox path) stays known
    }
    if (status.has_uuid()) Acknowledge(sub, status);
  }
  EXPECT_EQ(terminal["fails"].state(), mesos_v1::TASK_FAILED);
  EXPECT_EQ(terminal["fails"].message(), "Command exited with status 3");
  EXPECT_EQ(terminal["env"].state(), mesos_v1::TASK_FINISHED);
  EXPECT_EQ(terminal["argv"].state(), mesos_v1::TASK_FINISHED);
  std::map<std::string, std::string> sandboxes;
  for (const auto& view : master_->tasks()) sandboxes[view.task_id] = view.sandbox;
  ASSERT_THAT(sandboxes["fails"], StartsWith(work_dir_));
  std::ifstream out(sandboxes["fails"] + "/out");
  std::string line;
  std::getline(out, line);
  EXPECT_EQ(line, "hi");
  std::ifstream env_out(sandboxes["env"] + "/env");
  std::getline(env_out, line);
  EXPECT_EQ(line, "env hello");

  // KILL: SIGTERM to the process group; `sleep` dies at once, well within the grace period.
  Call kill;
  kill.set_type(Call::KILL);
  kill.mutable_kill()->mutable_task_id()->set_value("sleeper");
  ASSERT_EQ(Send(sub, kill).status, 202);
  std::optional<mesos_v1::TaskStatus> killing = NextUpdate(sub, "sleeper");
  ASSERT_TRUE(killing.has_value());
  EXPECT_EQ(killing->state(), mesos_v1::TASK_KILLING);
  Acknowledge(sub, *killing);
  std::optional<mesos_v1::TaskStatus> killed = NextUpdate(sub, "sleeper");
  ASSERT_TRUE(killed.has_value());
  EXPECT_EQ(killed->state(), mesos_v1::TASK_KILLED);
  EXPECT_EQ(killed->message(), "Command terminated with signal Terminated");
}

// CommandInfo.uris are fetched into the sandbox before the command: a script
// made executable under its output_file name, an archive extracted, a file
// kept as it is; a URI that cannot be fetched fails the launch.
TEST_F(LocalMasterExecuteTest, UrisAreFetchedIntoTheSandboxBeforeTheCommand) {
  const std::string artifacts = work_dir_ + "/artifacts";
  std::filesystem::create_directories(artifacts + "/pkg/data");
  std::ofstream(artifacts + "/run.sh") << "#!/bin/sh\necho ran > ran\n";
  std::ofstream(artifacts + "/pkg/data/hello.txt") << "hello from the archive\n";
  std::ofstream(artifacts + "/notes.tar") << "not extracted";
  ASSERT_EQ(
      std::system(
          absl::StrCat("tar -czf ", artifacts, "/pkg.tgz -C ", artifacts, "/pkg data").c_str()),
      0);

  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 1u);
  mesos_v1::TaskInfo fetched = Task("fetched", offers[0], 0.1, 32,
                                    "bin/run && cat data/hello.txt > got && test -f notes.tar");
  auto* script = fetched.mutable_command()->add_uris();
  script->set_value("file://" + artifacts + "/run.sh");
  script->set_executable(true);
  script->set_extract(false);
  script->set_output_file("bin/run");
  fetched.mutable_command()->add_uris()->set_value(artifacts + "/pkg.tgz");
  auto* kept = fetched.mutable_command()->add_uris();
  kept->set_value(artifacts + "/notes.tar");
  kept->set_extract(false);
  mesos_v1::TaskInfo missing = Task("missing", offers[0], 0.1, 32, "true");
  missing.mutable_command()->add_uris()->set_value(artifacts + "/nothing-here.tgz");
  ASSERT_EQ(Send(sub, AcceptCall({offers[0].id()}, {fetched, missing})).status, 202);

  std::map<std::string, mesos_v1::TaskStatus> terminal;
  while (terminal.size() < 2) {
    std::optional<Event> event = sub.stream->Next(absl::Seconds(20));
    ASSERT_TRUE(event.has_value()) << "still waiting; " << terminal.size() << " done";
    if (event->type() != Event::UPDATE) continue;
    const mesos_v1::TaskStatus& status = event->update().status();
    if (status.state() == mesos_v1::TASK_FAILED || status.state() == mesos_v1::TASK_FINISHED) {
      terminal[status.task_id().value()] = status;
      continue;
    }
    if (status.has_uuid()) Acknowledge(sub, status);
  }
  EXPECT_EQ(terminal["fetched"].state(), mesos_v1::TASK_FINISHED) << terminal["fetched"].message();
  EXPECT_EQ(terminal["missing"].state(), mesos_v1::TASK_FAILED);
  EXPECT_EQ(terminal["missing"].reason(), mesos_v1::TaskStatus::REASON_CONTAINER_LAUNCH_FAILED);
  EXPECT_THAT(terminal["missing"].message(), HasSubstr("Failed to fetch all URIs for container"));
  EXPECT_THAT(terminal["missing"].message(), HasSubstr("nothing-here.tgz"));
  std::map<std::string, std::string> sandboxes;
  for (const auto& view : master_->tasks()) sandboxes[view.task_id] = view.sandbox;
  std::string line;
  std::ifstream got(sandboxes["fetched"] + "/got");
  std::getline(got, line);
  EXPECT_EQ(line, "hello from the archive");
  std::ifstream ran(sandboxes["fetched"] + "/ran");
  std::getline(ran, line);
  EXPECT_EQ(line, "ran");
}

TEST(FetchedNameTest, TheLastPathSegmentWithoutQuery) {
  EXPECT_EQ(FetchedName("https://example.com/a/app.tgz?sig=1#x"), "app.tgz");
  EXPECT_EQ(FetchedName("/opt/run.sh"), "run.sh");
  EXPECT_EQ(FetchedName("http://example.com/dir/"), "");
}

// An HTTP health check against a real server process: its first success is reported healthy
// (any failure while it starts would fall in the grace period); injected failures are reported
// unhealthy and the second one in a row kills the task (SIGTERM), whose end says healthy=false.
TEST_F(LocalMasterExecuteTest, HttpHealthCheckOfARealServerThenInjectedFailuresKillIt) {
  TaskListener listener;
  ASSERT_GT(listener.port, 0);
  const int port = listener.port;
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 1u);
  mesos_v1::TaskInfo web = Task("web", offers[0], 0.1, 32, listener.ServeHttpCommand());
  *web.mutable_health_check() = FastHealthCheck(mesos_v1::HealthCheck::HTTP, port);
  ASSERT_EQ(Send(sub, AcceptCall({offers[0].id()}, {web})).status, 202);
  for (mesos_v1::TaskState state : {mesos_v1::TASK_STARTING, mesos_v1::TASK_RUNNING}) {
    std::optional<mesos_v1::TaskStatus> status = NextAckedUpdate(sub, "web");
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->state(), state);
  }
  // The first probe runs at once (no delay); then one interval on the clock after each result,
  // until the server answers.
  ASSERT_TRUE(AwaitResults("web", 1));
  while (View("web").healthy != true) {
    ASSERT_TRUE(
        AdvanceUntilResults("web", View("web").health_check_results, absl::Milliseconds(200)))
        << "never healthy";
  }
  std::optional<mesos_v1::TaskStatus> healthy = NextAckedUpdate(sub, "web");
  ASSERT_TRUE(healthy.has_value());
  EXPECT_EQ(healthy->state(), mesos_v1::TASK_RUNNING);
  EXPECT_EQ(healthy->reason(), mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
  EXPECT_EQ(healthy->source(), mesos_v1::TaskStatus::SOURCE_EXECUTOR);
  ASSERT_TRUE(healthy->has_healthy());
  EXPECT_TRUE(healthy->healthy());

  master_->SetHealthChecksFailing("web", true);
  ASSERT_TRUE(
      AdvanceUntilResults("web", View("web").health_check_results, absl::Milliseconds(200)));
  std::optional<mesos_v1::TaskStatus> unhealthy = NextAckedUpdate(sub, "web");
  ASSERT_TRUE(unhealthy.has_value());
  EXPECT_EQ(unhealthy->state(), mesos_v1::TASK_RUNNING);
  EXPECT_EQ(unhealthy->reason(), mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
  EXPECT_FALSE(unhealthy->healthy());
  EXPECT_EQ(View("web").agent_state, mesos_v1::TASK_RUNNING) << "one failure of two";
  ASSERT_TRUE(
      AdvanceUntilResults("web", View("web").health_check_results, absl::Milliseconds(200)));
  std::optional<mesos_v1::TaskStatus> second = NextAckedUpdate(sub, "web");
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(second->healthy());
  std::optional<mesos_v1::TaskStatus> killing = NextAckedUpdate(sub, "web");
  ASSERT_TRUE(killing.has_value());
  EXPECT_EQ(killing->state(), mesos_v1::TASK_KILLING);
  std::optional<mesos_v1::TaskStatus> killed = NextAckedUpdate(sub, "web");
  ASSERT_TRUE(killed.has_value());
  EXPECT_EQ(killed->state(), mesos_v1::TASK_KILLED);
  EXPECT_EQ(killed->message(), "Command terminated with signal Terminated");
  ASSERT_TRUE(killed->has_healthy());
  EXPECT_FALSE(killed->healthy());
}

// A probe that gets no answer (a listener that never accepts) times out on the master's clock and
// counts as a failure; a probe still in flight does not hold up the master's destruction.
TEST_F(LocalMasterExecuteTest, AProbeWithoutAnAnswerTimesOutAndDoesNotDelayShutdown) {
  TaskListener listener;  // nobody serves it: connections wait in its backlog
  ASSERT_GT(listener.port, 0);
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 1u);
  mesos_v1::TaskInfo mute = Task("mute", offers[0], 0.1, 32, "exec sleep 60");
  *mute.mutable_health_check() = FastHealthCheck(mesos_v1::HealthCheck::HTTP, listener.port);
  mute.mutable_health_check()->set_timeout_seconds(20);
  mute.mutable_health_check()->set_grace_period_seconds(0);
  ASSERT_EQ(Send(sub, AcceptCall({offers[0].id()}, {mute})).status, 202);
  for (mesos_v1::TaskState state : {mesos_v1::TASK_STARTING, mesos_v1::TASK_RUNNING}) {
    std::optional<mesos_v1::TaskStatus> status = NextAckedUpdate(sub, "mute");
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->state(), state);
  }
  ASSERT_TRUE(AdvanceUntilResults("mute", 0, absl::Seconds(20)));
  std::optional<mesos_v1::TaskStatus> timed_out = NextAckedUpdate(sub, "mute");
  ASSERT_TRUE(timed_out.has_value());
  EXPECT_EQ(timed_out->reason(), mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
  EXPECT_FALSE(timed_out->healthy());
  EXPECT_EQ(View("mute").health_check_results, 1);
  Advance(absl::Milliseconds(200));  // the next probe starts, and hangs
  const absl::Time start = absl::Now();
  master_.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// A TCP health check against a real listener, a COMMAND health check run in the task's sandbox
// with its environment, and a COMMAND check whose exit code is reported in check_status.
TEST_F(LocalMasterExecuteTest, TcpAndCommandHealthChecksAndACommandCheck) {
  TaskListener listener;
  ASSERT_GT(listener.port, 0);
  const int port = listener.port;
  Subscription sub = Subscribe();
  std::vector<mesos_v1::Offer> offers = NextOffers(sub);
  ASSERT_EQ(offers.size(), 1u);
  mesos_v1::TaskInfo tcp = Task("tcp", offers[0], 0.1, 32, listener.ServeHttpCommand());
  *tcp.mutable_health_check() = FastHealthCheck(mesos_v1::HealthCheck::TCP, port);
  // An HTTP check of a path the server does not have: its status code is the result.
  mesos_v1::CheckInfo* missing = tcp.mutable_check();
  missing->set_type(mesos_v1::CheckInfo::HTTP);
  missing->mutable_http()->set_port(static_cast<uint32_t>(port));
  missing->mutable_http()->set_path("/missing");
  missing->set_delay_seconds(0);
  missing->set_interval_seconds(0.2);
  missing->set_timeout_seconds(5);
  mesos_v1::TaskInfo cmd = Task("cmd", offers[0], 0.1, 32, "touch ready; exec sleep 60");
  *cmd.mutable_health_check() = FastHealthCheck(mesos_v1::HealthCheck::COMMAND);
  cmd.mutable_health_check()->mutable_command()->set_value(
      "test -f ready && test \"$MESOS_TASK_ID\" = cmd");
  mesos_v1::CheckInfo* check = cmd.mutable_check();
  check->set_type(mesos_v1::CheckInfo::COMMAND);
  check->mutable_command()->mutable_command()->set_value("exit 3");
  check->set_delay_seconds(0);
  check->set_interval_seconds(0.2);
  check->set_timeout_seconds(5);
  ASSERT_EQ(Send(sub, AcceptCall({offers[0].id()}, {tcp, cmd})).status, 202);

  // The clock moved on one interval after each round of results, until both are healthy.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (View("tcp").healthy != true || View("cmd").healthy != true) {
    ASSERT_LT(absl::Now(), deadline) << "tcp " << View("tcp").health_check_results << " cmd "
                                     << View("cmd").health_check_results;
    const int tcp_results = View("tcp").health_check_results;
    const int cmd_results = View("cmd").health_check_results;
    Advance(absl::Milliseconds(200));
    WaitFor(
        [&] {
          return View("tcp").health_check_results > tcp_results &&
                 View("cmd").health_check_results > cmd_results;
        },
        absl::Seconds(1));
  }
  bool cmd_healthy = false;
  bool cmd_checked = false;
  while (!cmd_healthy || !cmd_checked) {
    std::optional<mesos_v1::TaskStatus> status = NextAckedUpdate(sub, "cmd");
    ASSERT_TRUE(status.has_value());
    ASSERT_TRUE(status->has_check_status()) << status->DebugString();
    EXPECT_EQ(status->check_status().type(), mesos_v1::CheckInfo::COMMAND);
    if (status->reason() == mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED) {
      EXPECT_TRUE(status->healthy());
      cmd_healthy = true;
    }
    if (status->reason() == mesos_v1::TaskStatus::REASON_TASK_CHECK_STATUS_UPDATED) {
      EXPECT_EQ(status->check_status().command().exit_code(), 3);
      EXPECT_FALSE(cmd_checked) << "an unchanged result is reported once";
      cmd_checked = true;
    }
  }
  // The HTTP check's results until the server answers 404 (it serves by now: two more results
  // make sure one of them was probed since).
  ASSERT_TRUE(AdvanceUntilResults("tcp", View("tcp").check_results + 1, absl::Milliseconds(200),
                                  /*health=*/false));
  bool tcp_healthy = false;
  bool tcp_not_found = false;
  while (!tcp_healthy || !tcp_not_found) {
    std::optional<mesos_v1::TaskStatus> status = NextAckedUpdate(sub, "tcp");
    ASSERT_TRUE(status.has_value());
    ASSERT_TRUE(status->has_check_status());
    EXPECT_EQ(status->check_status().type(), mesos_v1::CheckInfo::HTTP);
    if (status->reason() == mesos_v1::TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED) {
      EXPECT_TRUE(status->healthy());
      tcp_healthy = true;
    }
    if (status->reason() == mesos_v1::TaskStatus::REASON_TASK_CHECK_STATUS_UPDATED &&
        status->check_status().http().has_status_code()) {
      EXPECT_EQ(status->check_status().http().status_code(), 404u);
      tcp_not_found = true;
    }
  }
  // Reconciliation answers with the latest check result (and `healthy` only if the latest update
  // had it, as the real master does).
  Call reconcile;
  reconcile.set_type(Call::RECONCILE);
  reconcile.mutable_reconcile()->add_tasks()->mutable_task_id()->set_value("cmd");
  ASSERT_EQ(Send(sub, reconcile).status, 202);
  std::optional<mesos_v1::TaskStatus> answer = NextAckedUpdate(sub, "cmd");
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->reason(), mesos_v1::TaskStatus::REASON_RECONCILIATION);
  EXPECT_EQ(answer->check_status().command().exit_code(), 3);
}

}  // namespace
// The fault endpoints of a running mast-local-mesos drive the same knobs.
TEST(LocalMasterFaultEndpointsTest, PostFaultsToggleTheMastersBehaviour) {
  LocalMasterConfig config;
  config.fault_endpoints = true;
  auto master = LocalMaster::Start(config, RealClock::Default());
  ASSERT_TRUE(master.ok()) << master.status();
  mesos::HttpTransport transport;
  const std::string base = (*master)->url();
  auto scheduler_status = [&] {
    return Request(transport, base + "/api/v1/scheduler", {"Content-Type: application/x-protobuf"},
                   "")
        .status;
  };
  EXPECT_EQ(scheduler_status(), 400) << "an empty body, but the master serves";
  EXPECT_EQ(Request(transport, base + "/faults/unavailable?on=1", {}, "x").status, 200);
  EXPECT_EQ(scheduler_status(), 503);
  EXPECT_EQ(Request(transport, base + "/faults/unavailable?on=0", {}, "x").status, 200);
  EXPECT_EQ(Request(transport, base + "/faults/redirect?leader=127.0.0.1:1", {}, "x").status, 200);
  Reply redirected = Request(transport, base + "/api/v1/scheduler", {}, "");
  EXPECT_EQ(redirected.status, 307);
  EXPECT_EQ(redirected.Header("Location"), "//127.0.0.1:1/api/v1/scheduler");
  EXPECT_EQ(Request(transport, base + "/faults/redirect", {}, "x").status, 200);
  EXPECT_EQ(scheduler_status(), 400);
  EXPECT_EQ(Request(transport, base + "/faults/disconnect-agent?index=7", {}, "x").status, 400);
  EXPECT_EQ(Request(transport, base + "/faults/no-such-fault", {}, "x").status, 404);
  EXPECT_EQ(Request(transport, base + "/faults/health-checks?task=web&fail=1", {}, "x").status,
            200);
  EXPECT_EQ(Request(transport, base + "/faults/health-checks?agent=0&fail=0", {}, "x").status, 200);
  EXPECT_EQ(Request(transport, base + "/faults/health-checks?agent=9", {}, "x").status, 400);
  EXPECT_EQ(Request(transport, base + "/faults/drop-subscriptions", {}, "", /*post=*/false).status,
            405);
  EXPECT_EQ(Request(transport, base + "/faults/restart?keep_state=1", {}, "x").status, 200);
  EXPECT_EQ((*master)->stats().master_restarts, 1);
}

TEST(LocalMasterFaultEndpointsTest, OffByDefaultInTheLibrary) {
  auto master = LocalMaster::Start({}, RealClock::Default());
  ASSERT_TRUE(master.ok());
  mesos::HttpTransport transport;
  EXPECT_EQ(Request(transport, (*master)->url() + "/faults/unavailable?on=1", {}, "x").status, 404);
}

}  // namespace mast::local
