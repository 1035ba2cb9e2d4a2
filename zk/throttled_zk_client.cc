#include "zk/throttled_zk_client.h"

#include <algorithm>
#include <utility>

namespace mast {

ThrottledZkClient::ThrottledZkClient(ZkClient& inner, size_t max_in_flight)
    : inner_(inner), max_in_flight_(std::max<size_t>(1, max_in_flight)) {}

ThrottledZkClient::~ThrottledZkClient() { alive_.reset(); }

template <typename T>
ZkCallback<T> ThrottledZkClient::Counted(ZkCallback<T> done) {
  return [this, alive = std::weak_ptr<char>(alive_), done = std::move(done)](T result) mutable {
    if (alive.lock()) {
      --in_flight_;
      Pump();
    }
    std::move(done)(std::move(result));
  };
}

void ThrottledZkClient::Submit(Send send) {
  if (in_flight_ < max_in_flight_ && waiting_.empty()) {
    ++in_flight_;
    return std::move(send)();
  }
  waiting_.push_back(std::move(send));
}

void ThrottledZkClient::Pump() {
  while (in_flight_ < max_in_flight_ && !waiting_.empty()) {
    Send send = std::move(waiting_.front());
    waiting_.pop_front();
    ++in_flight_;
    std::move(send)();
  }
}

void ThrottledZkClient::Create(const std::string& path, std::string data, ZkCreateMode mode,
                               ZkCallback<absl::StatusOr<ZkCreated>> done) {
  Submit([this, path, data = std::move(data), mode, done = Counted(std::move(done))]() mutable {
    inner_.Create(path, std::move(data), mode, std::move(done));
  });
}

void ThrottledZkClient::Delete(const std::string& path, int32_t version,
                               ZkCallback<absl::Status> done) {
  Submit([this, path, version, done = Counted(std::move(done))]() mutable {
    inner_.Delete(path, version, std::move(done));
  });
}

void ThrottledZkClient::Exists(const std::string& path, ZkWatcher watcher,
                               ZkCallback<absl::StatusOr<std::optional<ZkStat>>> done) {
  Submit([this, path, watcher = std::move(watcher), done = Counted(std::move(done))]() mutable {
    inner_.Exists(path, std::move(watcher), std::move(done));
  });
}

void ThrottledZkClient::Get(const std::string& path, ZkWatcher watcher,
                            ZkCallback<absl::StatusOr<ZkNode>> done) {
  Submit([this, path, watcher = std::move(watcher), done = Counted(std::move(done))]() mutable {
    inner_.Get(path, std::move(watcher), std::move(done));
  });
}

void ThrottledZkClient::GetChildren(const std::string& path, ZkWatcher watcher,
                                    ZkCallback<absl::StatusOr<std::vector<std::string>>> done) {
  Submit([this, path, watcher = std::move(watcher), done = Counted(std::move(done))]() mutable {
    inner_.GetChildren(path, std::move(watcher), std::move(done));
  });
}

void ThrottledZkClient::Set(const std::string& path, std::string data, int32_t version,
                            ZkCallback<absl::StatusOr<ZkStat>> done) {
  Submit([this, path, data = std::move(data), version, done = Counted(std::move(done))]() mutable {
    inner_.Set(path, std::move(data), version, std::move(done));
  });
}

void ThrottledZkClient::Multi(std::vector<ZkOp> ops,
                              ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done) {
  Submit([this, ops = std::move(ops), done = Counted(std::move(done))]() mutable {
    inner_.Multi(std::move(ops), std::move(done));
  });
}

void ThrottledZkClient::AddSessionListener(ZkSessionListener listener) {
  inner_.AddSessionListener(std::move(listener));
}

}  // namespace mast
