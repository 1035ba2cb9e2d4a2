#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "election/leader_elector.h"
#include "gtest/gtest.h"
#include "tests/processes/zk_server.h"
#include "zk/zk_client.h"

namespace mast::testing {

// One real ZooKeeper server shared by the tests of a binary, started on
// first use and stopped at exit. Tests isolate themselves by root path.
ZkServer& SharedZkServer();

// Calls an asynchronous ZkClient-style method on `loop` and waits for its
// result: `start` receives the completion callback. On a driven loop, from
// its own thread: calls `start` at once and runs the loop until idle (no
// wait; a completion that does not come by then fails the test).
template <typename T, typename Start>
T CallOnLoop(EventLoop& loop, Start start, absl::Duration timeout = absl::Seconds(30)) {
  auto result = std::make_shared<std::optional<T>>();
  if (loop.driven() && loop.InLoopThread()) {
    start([result](T value) { *result = std::move(value); });
    loop.RunUntilIdle();
    if (!result->has_value()) {
      ADD_FAILURE() << "no completion once the driven loop " << loop.name() << " is idle";
      return T{};
    }
    return std::move(**result);
  }
  auto done = std::make_shared<absl::Notification>();
  loop.Post([start = std::move(start), result, done]() mutable {
    start([result, done](T value) {
      *result = std::move(value);
      done->Notify();
    });
  });
  if (!done->WaitForNotificationWithTimeout(timeout)) {
    ADD_FAILURE() << "no completion within " << timeout;
    return T{};
  }
  return std::move(**result);
}

// Makes `zk` the holder of a leadership under `<root>/election` as the
// elector would (an ephemeral sequential znode), for tests of fenced writes
// without an elector: the term's token is the znode's czxid.
absl::StatusOr<LeaderTerm> TakeLeadershipForTest(ZkClient& zk, EventLoop& loop, Clock& clock,
                                                 const std::string& root = "/mast");

// A root path unique to the running test, e.g. "/t/ZkSessionTest.Crud".
std::string TestRoot();

}  // namespace mast::testing
