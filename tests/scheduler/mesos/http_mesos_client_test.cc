// HttpMesosClient against a scripted server: what a real master (or a broken
// one) can send, byte for byte, to check the client's protocol handling:
// redirects, 503, garbage, records split at any byte, heartbeat loss, call
// headers and order, ERROR.
#include "scheduler/mesos/http_mesos_client.h"

#include <functional>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "local_mesos/http_server.h"
#include "prometheus/registry.h"
#include "tests/processes/wait.h"

namespace mast::mesos {
namespace {

namespace mesos_v1 = ::mesos::v1;

using ::mast::testing::WaitFor;
using ::testing::HasSubstr;

std::string Record(const mesos_v1::scheduler::Event& event) {
  return RecordIoEncode(event.SerializeAsString());
}

std::string SubscribedRecord(double heartbeat_seconds = 15) {
  mesos_v1::scheduler::Event event;
  event.set_type(mesos_v1::scheduler::Event::SUBSCRIBED);
  event.mutable_subscribed()->mutable_framework_id()->set_value("fw-1");
  event.mutable_subscribed()->set_heartbeat_interval_seconds(heartbeat_seconds);
  return Record(event);
}

// A master whose every answer the test scripts. Thread-safe.
class ScriptedMaster {
 public:
  // How to answer the n-th SUBSCRIBE (0-based); returns the stream to keep
  // writing to, or nullptr after a plain response.
  using SubscribeScript = std::function<std::shared_ptr<local::ResponseStream>(
      int n, const local::HttpRequest&, local::HttpExchange&)>;

  explicit ScriptedMaster(SubscribeScript script) : script_(std::move(script)) {
    auto server = local::HttpServer::Start(
        {}, [this](const local::HttpRequest& request, local::HttpExchange& exchange) {
          Handle(request, exchange);
        });
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  ~ScriptedMaster() { server_->Stop(); }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", server_->port()); }
  int subscribes() {
    absl::MutexLock lock(&mu_);
    return subscribes_;
  }
  std::vector<local::HttpRequest> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::vector<local::HttpRequest> subscribe_requests() {
    absl::MutexLock lock(&mu_);
    return subscribe_requests_;
  }
  std::shared_ptr<local::ResponseStream> stream() {
    absl::MutexLock lock(&mu_);
    return stream_;
  }
  local::HttpServer& server() { return *server_; }

 private:
  void Handle(const local::HttpRequest& request, local::HttpExchange& exchange) {
    mesos_v1::scheduler::Call call;
    call.ParseFromString(request.body);
    if (call.type() == mesos_v1::scheduler::Call::SUBSCRIBE) {
      int n;
      {
        absl::MutexLock lock(&mu_);
        n = subscribes_++;
        subscribe_requests_.push_back(request);
      }
      auto stream = script_(n, request, exchange);
      absl::MutexLock lock(&mu_);
      if (stream) stream_ = stream;
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      calls_.push_back(request);
    }
    exchange.Respond({202, {}, ""});
  }

  SubscribeScript script_;
  std::unique_ptr<local::HttpServer> server_;
  absl::Mutex mu_;
  int subscribes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<local::HttpRequest> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<local::HttpRequest> subscribe_requests_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<local::ResponseStream> stream_ ABSL_GUARDED_BY(mu_);
};

std::shared_ptr<local::ResponseStream> Accept(local::HttpExchange& exchange,
                                              const std::string& first_bytes) {
  auto stream = exchange.StartStream(
      200, {{"Content-Type", "application/x-protobuf"}, {"Mesos-Stream-Id", "stream-1"}});
  if (!first_bytes.empty()) stream->Write(first_bytes);
  return stream;
}

// The client on its own loop, with what its callbacks saw.
class ClientHarness {
 public:
  ClientHarness(std::vector<std::string> masters, MesosClientConfig config = Fast())
      : loop_(RealClock::Default(), "client"), detector_(std::move(masters)), metrics_(registry_) {
    MesosClientCallbacks callbacks;
    callbacks.on_subscribed = [this](const mesos_v1::scheduler::Event::Subscribed& s) {
      absl::MutexLock lock(&mu_);
      subscribed_.push_back(s.framework_id().value());
    };
    callbacks.on_event = [this](const mesos_v1::scheduler::Event& e) {
      absl::MutexLock lock(&mu_);
      events_.push_back(e.type());
    };
    callbacks.on_disconnected = [this](absl::string_view reason) {
      absl::MutexLock lock(&mu_);
      disconnects_.emplace_back(reason);
    };
    callbacks.on_error = [this](absl::string_view message) {
      absl::MutexLock lock(&mu_);
      errors_.emplace_back(message);
    };
    loop_.Post([this, config, callbacks = std::move(callbacks)]() mutable {
      client_ = std::make_unique<HttpMesosClient>(config, detector_, transport_, loop_,
                                                  std::move(callbacks), &metrics_);
      mesos_v1::FrameworkInfo info;
      info.set_user("u");
      info.set_name("n");
      client_->Subscribe(info, {});
    });
  }
  ~ClientHarness() {
    loop_.Post([this] { client_.reset(); });
    loop_.Flush();
  }
  static MesosClientConfig Fast() {
    MesosClientConfig config;
    config.backoff = {absl::Milliseconds(10), absl::Milliseconds(50), 2.0, 0.0};
    return config;
  }
  int subscribed() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(subscribed_.size());
  }
  std::vector<std::string> errors() {
    absl::MutexLock lock(&mu_);
    return errors_;
  }
  std::vector<std::string> disconnects() {
    absl::MutexLock lock(&mu_);
    return disconnects_;
  }
  std::vector<int> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  absl::Status Send(mesos_v1::scheduler::Call call) {
    absl::Notification done;
    absl::Status result;
    loop_.Post([&] {
      client_->Send(call, [&](absl::Status s) {
        result = s;
        done.Notify();
      });
    });
    done.WaitForNotification();
    return result;
  }
  std::string master() {
    std::string out;
    absl::Notification done;
    loop_.Post([&] {
      out = client_->master();
      done.Notify();
    });
    done.WaitForNotification();
    return out;
  }
  MesosMetrics& metrics() { return metrics_; }
  EventLoop& loop() { return loop_; }
  HttpMesosClient& client() { return *client_; }

 private:
  EventLoop loop_;
  HttpTransport transport_;
  StaticMasterDetector detector_;
  prometheus::Registry registry_;
  MesosMetrics metrics_;
  std::unique_ptr<HttpMesosClient> client_;
  absl::Mutex mu_;
  std::vector<std::string> subscribed_ ABSL_GUARDED_BY(mu_);
  std::vector<int> events_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> disconnects_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
};

TEST(HttpMesosClientTest, SubscribeSendsExactHeadersAndNoStreamId) {
  ScriptedMaster master(
      [](int, const auto&, auto& exchange) { return Accept(exchange, SubscribedRecord()); });
  ClientHarness client({master.url()});
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() == 1; }));
  auto request = master.subscribe_requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/api/v1/scheduler");
  EXPECT_EQ(request.Header("Content-Type"), "application/x-protobuf");
  EXPECT_EQ(request.Header("Accept"), "application/x-protobuf");
  EXPECT_FALSE(request.Header("Mesos-Stream-Id").has_value());
  mesos_v1::scheduler::Call call;
  ASSERT_TRUE(call.ParseFromString(request.body));
  EXPECT_EQ(call.type(), mesos_v1::scheduler::Call::SUBSCRIBE);
  EXPECT_EQ(call.subscribe().framework_info().user(), "u");
}

TEST(HttpMesosClientTest, CallsCarryTheStreamIdAndKeepTheirOrder) {
  ScriptedMaster master(
      [](int, const auto&, auto& exchange) { return Accept(exchange, SubscribedRecord()); });
  ClientHarness client({master.url()});
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() == 1; }));
  absl::Notification all_done;
  std::vector<absl::Status> results;
  client.loop().Post([&] {
    for (int i = 0; i < 20; ++i) {
      mesos_v1::scheduler::Call call;
      call.set_type(mesos_v1::scheduler::Call::KILL);
      call.mutable_kill()->mutable_task_id()->set_value(absl::StrCat("t", i));
      client.client().Send(call, [&](absl::Status s) {
        results.push_back(s);
        if (results.size() == 20) all_done.Notify();
      });
    }
  });
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  auto calls = master.calls();
  ASSERT_EQ(calls.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(results[i].ok());
    EXPECT_EQ(calls[i].Header("Mesos-Stream-Id"), "stream-1");
    mesos_v1::scheduler::Call call;
    ASSERT_TRUE(call.ParseFromString(calls[i].body));
    EXPECT_EQ(call.kill().task_id().value(), absl::StrCat("t", i)) << "order kept";
    EXPECT_EQ(call.framework_id().value(), "fw-1") << "framework_id filled in";
  }
}

TEST(HttpMesosClientTest, FollowsAProtocolRelativeRedirect) {
  ScriptedMaster leader(
      [](int, const auto&, auto& exchange) { return Accept(exchange, SubscribedRecord()); });
  const int leader_port = leader.server().port();
  ScriptedMaster standby([leader_port](int, const auto&, auto& exchange) {
    exchange.Respond(
        {307, {{"Location", absl::StrCat("//127.0.0.1:", leader_port, "/api/v1/scheduler")}}, ""});
    return std::shared_ptr<local::ResponseStream>();
  });
  ClientHarness client({standby.url()});
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() == 1; }));
  EXPECT_EQ(client.master(), leader.url());
  EXPECT_EQ(standby.subscribes(), 1);
}

TEST(HttpMesosClientTest, Answers503AreRetriedWithBackoff) {
  ScriptedMaster master([](int n, const auto&, auto& exchange) {
    if (n < 3) {
      exchange.Respond({503, {}, "No leader elected"});
      return std::shared_ptr<local::ResponseStream>();
    }
    return Accept(exchange, SubscribedRecord());
  });
  ClientHarness client({master.url()});
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() == 1; }));
  EXPECT_EQ(master.subscribes(), 4);
  EXPECT_EQ(client.metrics().reconnects.Add({{"reason", "unavailable"}}).Value(), 3);
}

TEST(HttpMesosClientTest, GarbageOnTheStreamDropsItAndResubscribes) {
  ScriptedMaster master([](int n, const auto&, auto& exchange) {
    return Accept(exchange, n == 0 ? SubscribedRecord() + "12x\nnonsense" : SubscribedRecord());
  });
  ClientHarness client({master.url()});
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() == 2; }));
  EXPECT_EQ(client.metrics().stream_errors.Value(), 1);
  EXPECT_THAT(client.disconnects().at(0), HasSubstr("record length"));
}

TEST(HttpMesosClientTest, UndecodableEventIsAStreamError) {
  ScriptedMaster master([](int n, const auto&, auto& exchange) {
    return Accept(exchange, n == 0 ? SubscribedRecord() + RecordIoEncode("\xff\xff\xff")
                                   : SubscribedRecord());
  });
  ClientHarness client({master.url()});
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() == 2; }));
  EXPECT_EQ(client.metrics().stream_errors.Value(), 1);
}

TEST(HttpMesosClientTest, RecordsSplitIntoSingleByteChunksStillDecode) {
  ScriptedMaster master([](int, const auto&, auto& exchange) {
    auto stream = Accept(exchange, "");
    mesos_v1::scheduler::Event heartbeat;
    heartbeat.set_type(mesos_v1::scheduler::Event::HEARTBEAT);
    mesos_v1::scheduler::Event rescind;
    rescind.set_type(mesos_v1::scheduler::Event::RESCIND);
    rescind.mutable_rescind()->mutable_offer_id()->set_value("o1");
    std::string bytes = SubscribedRecord() + Record(heartbeat) + Record(rescind);
    for (char c : bytes) stream->Write(std::string(1, c));
    return stream;
  });
  ClientHarness client({master.url()});
  ASSERT_TRUE(WaitFor([&] { return client.events().size() == 1; }));
  EXPECT_EQ(client.subscribed(), 1);
  EXPECT_EQ(client.events()[0], mesos_v1::scheduler::Event::RESCIND);
}

TEST(HttpMesosClientTest, SilenceForTheHeartbeatMissesResubscribes) {
  // SUBSCRIBED advertises 50 ms heartbeats and then nothing comes.
  ScriptedMaster master(
      [](int, const auto&, auto& exchange) { return Accept(exchange, SubscribedRecord(0.05)); });
  ClientHarness client({master.url()});
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() >= 2; }));
  EXPECT_GE(client.metrics().reconnects.Add({{"reason", "heartbeat_timeout"}}).Value(), 1);
}

TEST(HttpMesosClientTest, DroppedStreamResubscribesWithTheFrameworkId) {
  ScriptedMaster master(
      [](int, const auto&, auto& exchange) { return Accept(exchange, SubscribedRecord()); });
  ClientHarness client({master.url()});
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() == 1; }));
  master.server().DropAllConnections();
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() == 2; }));
  mesos_v1::scheduler::Call second;
  ASSERT_TRUE(second.ParseFromString(master.subscribe_requests().at(1).body));
  EXPECT_EQ(second.framework_id().value(), "fw-1");
  EXPECT_EQ(second.subscribe().framework_info().id().value(), "fw-1");
  EXPECT_FALSE(client.disconnects().empty());
}

TEST(HttpMesosClientTest, ErrorEventStopsTheClientForGood) {
  ScriptedMaster master([](int, const auto&, auto& exchange) {
    mesos_v1::scheduler::Event error;
    error.set_type(mesos_v1::scheduler::Event::ERROR);
    error.mutable_error()->set_message("Framework failed over");
    auto stream = Accept(exchange, SubscribedRecord() + Record(error));
    stream->Close();
    return stream;
  });
  ClientHarness client({master.url()});
  ASSERT_TRUE(WaitFor([&] { return !client.errors().empty(); }));
  EXPECT_EQ(client.errors()[0], "Framework failed over");
  EXPECT_EQ(client.metrics().errors.Value(), 1);
  mesos_v1::scheduler::Call call;
  call.set_type(mesos_v1::scheduler::Call::REVIVE);
  EXPECT_EQ(client.Send(call).code(), absl::StatusCode::kUnavailable);
  client.loop().Flush();
  EXPECT_EQ(master.subscribes(), 1) << "no resubscription after ERROR";
}

TEST(HttpMesosClientTest, PausedCallsAreHeldBack) {
  ScriptedMaster master(
      [](int, const auto&, auto& exchange) { return Accept(exchange, SubscribedRecord()); });
  ClientHarness client({master.url()});
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() == 1; }));
  client.loop().Post([&] { client.client().SetPaused(true); });
  mesos_v1::scheduler::Call call;
  call.set_type(mesos_v1::scheduler::Call::REVIVE);
  EXPECT_EQ(client.Send(call).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(master.calls().empty());
  client.loop().Post([&] { client.client().SetPaused(false); });
  EXPECT_TRUE(client.Send(call).ok());
  EXPECT_EQ(master.calls().size(), 1u);
}

TEST(MasterUrlsTest, ParsesListsAndLocations) {
  EXPECT_EQ(ParseMasterUrls("http://m1:5050, m2:5051").value(),
            (std::vector<std::string>{"http://m1:5050", "http://m2:5051"}));
  EXPECT_FALSE(ParseMasterUrls("https://m1:5050").ok());
  EXPECT_FALSE(ParseMasterUrls("m1").ok());
  EXPECT_FALSE(ParseMasterUrls("").ok());
  EXPECT_EQ(BaseUrlFromLocation("//m2:5050/api/v1/scheduler").value(), "http://m2:5050");
  EXPECT_EQ(BaseUrlFromLocation("http://m3:5050/x").value(), "http://m3:5050");
  EXPECT_FALSE(BaseUrlFromLocation("m2:5050").ok());
}

// A master that holds every call's answer until it has had `hold_until`
// calls at once (then answers all at once from there on), recording the
// order of arrival and how many calls it had at once. When a client does
// not overlap that many calls, the master gives up holding after 10 s and
// the count of calls at once shows it.
class SlowMaster {
 public:
  explicit SlowMaster(int hold_until) : hold_until_(hold_until) {
    auto server = local::HttpServer::Start(
        {}, [this](const local::HttpRequest& request, local::HttpExchange& exchange) {
          mesos_v1::scheduler::Call call;
          call.ParseFromString(request.body);
          if (call.type() == mesos_v1::scheduler::Call::SUBSCRIBE) {
            absl::MutexLock lock(&mu_);
            stream_ = Accept(exchange, SubscribedRecord());
            return;
          }
          int now;
          {
            absl::MutexLock lock(&mu_);
            now = ++active_;
            max_active_ = std::max(max_active_, now);
            std::string what = call.type() == mesos_v1::scheduler::Call::ACKNOWLEDGE
                                   ? call.acknowledge().task_id().value()
                                   : mesos_v1::scheduler::Call::Type_Name(call.type());
            order_.push_back(what);
            if (call.type() != mesos_v1::scheduler::Call::ACKNOWLEDGE) alone_.push_back(now == 1);
          }
          {
            absl::MutexLock lock(&mu_);
            if (!mu_.AwaitWithTimeout(absl::Condition(
                                          +[](SlowMaster* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(m->mu_) {
                                            return m->gave_up_ || m->max_active_ >= m->hold_until_;
                                          },
                                          this),
                                      absl::Seconds(10))) {
              gave_up_ = true;  // the client does not overlap: answer the rest at once
            }
            --active_;
          }
          exchange.Respond({202, {}, ""});
        });
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  ~SlowMaster() { server_->Stop(); }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", server_->port()); }
  std::vector<std::string> order() {
    absl::MutexLock lock(&mu_);
    return order_;
  }
  std::vector<bool> alone() {
    absl::MutexLock lock(&mu_);
    return alone_;
  }
  int max_active() {
    absl::MutexLock lock(&mu_);
    return max_active_;
  }

 private:
  const int hold_until_;
  std::unique_ptr<local::HttpServer> server_;
  absl::Mutex mu_;
  std::shared_ptr<local::ResponseStream> stream_ ABSL_GUARDED_BY(mu_);
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  int max_active_ ABSL_GUARDED_BY(mu_) = 0;
  bool gave_up_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> alone_ ABSL_GUARDED_BY(mu_);
};

TEST(HttpMesosClientTest, RunsOfAcknowledgementsOverlapAndTypesKeepTheirOrder) {
  SlowMaster master(/*hold_until=*/5);
  ClientHarness client({master.url()});
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() == 1; }));
  absl::Notification all_done;
  std::vector<absl::Status> results;
  const int kAcks = 40;
  client.loop().Post([&] {
    auto send = [&](mesos_v1::scheduler::Call call) {
      client.client().Send(call, [&](absl::Status s) {
        results.push_back(s);
        if (results.size() == 2 * kAcks + 2) all_done.Notify();
      });
    };
    auto ack = [&](const std::string& task) {
      mesos_v1::scheduler::Call call;
      call.set_type(mesos_v1::scheduler::Call::ACKNOWLEDGE);
      call.mutable_acknowledge()->mutable_task_id()->set_value(task);
      call.mutable_acknowledge()->mutable_agent_id()->set_value("s");
      call.mutable_acknowledge()->set_uuid("u");
      send(call);
    };
    for (int i = 0; i < kAcks; ++i) ack(absl::StrCat("a", i));
    mesos_v1::scheduler::Call kill;
    kill.set_type(mesos_v1::scheduler::Call::KILL);
    kill.mutable_kill()->mutable_task_id()->set_value("k");
    send(kill);
    for (int i = 0; i < kAcks; ++i) ack(absl::StrCat("b", i));
    mesos_v1::scheduler::Call revive;
    revive.set_type(mesos_v1::scheduler::Call::REVIVE);
    send(revive);
  });
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  std::vector<std::string> order = master.order();
  ASSERT_EQ(order.size(), 2u * kAcks + 2);
  for (int i = 0; i < kAcks; ++i) EXPECT_EQ(order[i][0], 'a') << i;
  EXPECT_EQ(order[kAcks], "KILL");
  for (int i = kAcks + 1; i < 2 * kAcks + 1; ++i) EXPECT_EQ(order[i][0], 'b') << i;
  EXPECT_EQ(order.back(), "REVIVE");
  EXPECT_EQ(master.alone(), (std::vector<bool>{true, true})) << "KILL and REVIVE went alone";
  EXPECT_GT(master.max_active(), 4) << "acknowledgements overlapped";
  EXPECT_LE(master.max_active(), 16);
  std::printf("max calls at once: %d\n", master.max_active());
}

TEST(HttpMesosClientTest, OneCallInFlightKeepsEveryOrder) {
  SlowMaster master(/*hold_until=*/1);
  MesosClientConfig config = ClientHarness::Fast();
  config.max_calls_in_flight = 1;
  ClientHarness client({master.url()}, config);
  ASSERT_TRUE(WaitFor([&] { return client.subscribed() == 1; }));
  absl::Notification all_done;
  int done = 0;
  client.loop().Post([&] {
    for (int i = 0; i < 10; ++i) {
      mesos_v1::scheduler::Call call;
      call.set_type(mesos_v1::scheduler::Call::ACKNOWLEDGE);
      call.mutable_acknowledge()->mutable_task_id()->set_value(absl::StrCat("a", i));
      call.mutable_acknowledge()->mutable_agent_id()->set_value("s");
      call.mutable_acknowledge()->set_uuid("u");
      client.client().Send(call, [&](absl::Status s) {
        EXPECT_TRUE(s.ok()) << s;
        if (++done == 10) all_done.Notify();
      });
    }
  });
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(master.max_active(), 1);
  std::vector<std::string> order = master.order();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(order[i], absl::StrCat("a", i));
}

// ValidateMesosClientConfig: the defaults pass; each invalid field is an
// INVALID_ARGUMENT whose message names the field.
TEST(MesosClientConfigTest, DefaultIsValidAndEachBadFieldIsNamed) {
  EXPECT_TRUE(ValidateMesosClientConfig({}).ok());
  struct Case {
    const char* field;
    std::function<void(MesosClientConfig&)> mutate;
  };
  const Case cases[] = {
      {"heartbeat_misses", [](auto& c) { c.heartbeat_misses = 0; }},
      {"default_heartbeat_interval",
       [](auto& c) { c.default_heartbeat_interval = absl::ZeroDuration(); }},
      {"call_timeout", [](auto& c) { c.call_timeout = -absl::Seconds(1); }},
      {"max_redirects", [](auto& c) { c.max_redirects = -1; }},
      {"max_calls_in_flight", [](auto& c) { c.max_calls_in_flight = 0; }},
      {"backoff.max", [](auto& c) { c.backoff.max = absl::Milliseconds(1); }},
  };
  for (const Case& c : cases) {
    MesosClientConfig config;
    c.mutate(config);
    absl::Status status = ValidateMesosClientConfig(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field << ": " << status;
    EXPECT_THAT(std::string(status.message()), ::testing::StartsWith(absl::StrCat(c.field, ":")))
        << status;
  }
  MesosClientConfig no_redirects;
  no_redirects.max_redirects = 0;
  EXPECT_TRUE(ValidateMesosClientConfig(no_redirects).ok());
}

}  // namespace
}  // namespace mast::mesos
