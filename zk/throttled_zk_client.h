#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "zk/zk_client.h"

namespace mast {

// A ZkClient that keeps at most `max_in_flight` requests outstanding on the
// client it wraps; the others wait here, in order, and are sent as answers
// come back.
//
// Why: a ZooKeeper session answers its requests strictly in order. A burst
// of store work (thousands of reads and writes pipelined at once) would put
// every later request of the session behind it, including the elector's
// lease renewal, and a leader could lose its lease to its own backlog. The
// daemon gives the elector the session itself and everything else this
// wrapper, so that at most `max_in_flight` requests ever stand before a
// renewal.
//
// Order: requests made through this wrapper reach the session in the order
// made (so one caller's read-after-write order holds); requests made on the
// wrapped client directly may overtake them. Watches and session listeners
// pass through unchanged.
//
// Threads: like the wrapped client, called on its loop, with callbacks
// there. `inner` must outlive this.
class ThrottledZkClient final : public ZkClient {
 public:
  ThrottledZkClient(ZkClient& inner, size_t max_in_flight);
  ~ThrottledZkClient() override;

  void Create(const std::string& path, std::string data, ZkCreateMode mode,
              ZkCallback<absl::StatusOr<ZkCreated>> done) override;
  void Delete(const std::string& path, int32_t version, ZkCallback<absl::Status> done) override;
  void Exists(const std::string& path, ZkWatcher watcher,
              ZkCallback<absl::StatusOr<std::optional<ZkStat>>> done) override;
  void Get(const std::string& path, ZkWatcher watcher,
           ZkCallback<absl::StatusOr<ZkNode>> done) override;
  void GetChildren(const std::string& path, ZkWatcher watcher,
                   ZkCallback<absl::StatusOr<std::vector<std::string>>> done) override;
  void Set(const std::string& path, std::string data, int32_t version,
           ZkCallback<absl::StatusOr<ZkStat>> done) override;
  void Multi(std::vector<ZkOp> ops,
             ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done) override;
  void AddSessionListener(ZkSessionListener listener) override;

  size_t in_flight() const { return in_flight_; }
  size_t waiting() const { return waiting_.size(); }

 private:
  using Send = absl::AnyInvocable<void() &&>;
  // Sends now or queues `send`, which issues one request on `inner_`.
  void Submit(Send send);
  void Pump();
  // Wraps `done` so that the answer frees a slot first.
  template <typename T>
  ZkCallback<T> Counted(ZkCallback<T> done);

  ZkClient& inner_;
  const size_t max_in_flight_;
  size_t in_flight_ = 0;
  std::deque<Send> waiting_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace mast
