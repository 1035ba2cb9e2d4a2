#pragma once

#include <string>
#include <vector>

#include "common/weak_callback.h"
#include "store/store.h"
#include "zk/zk_client.h"

namespace mast {

// The Store in ZooKeeper under `<zk_root>/state/`. The FrameworkID is kept
// as its plain value in `state/framework_id`.
//
// Every write goes through FencedMulti: a multi-op {check(term znode),
// ops...}. A failed check means this replica no longer leads and is
// reported as FAILED_PRECONDITION. FencedWrite (set-or-create one record)
// is built on it.
//
// Threads: like its ZkClient, called and calling back on the owner's loop.
class ZkStore final : public Store {
 public:
  // `zk_root` must be a valid path (e.g. "/mast"); `zk` must outlive this.
  ZkStore(ZkClient& zk, std::string zk_root);

  void ReadFrameworkId(
      absl::AnyInvocable<void(absl::StatusOr<std::optional<std::string>>) &&> done) override;
  void WriteFrameworkId(const LeaderTerm& term, const std::string& framework_id,
                        absl::AnyInvocable<void(absl::Status) &&> done) override;

  // Applies `ops` atomically only while `term` holds: the one write path of
  // the store. The results (and the failed-op index of an error, see
  // FailedMultiOp) count `ops` only, not the fence. A failed fence is
  // FAILED_PRECONDITION and carries no index. No retries: the caller knows
  // what its ops mean.
  void FencedMulti(const LeaderTerm& term, std::vector<ZkOp> ops,
                   ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done);

  // Writes `data` to `path` (creating it and missing parents under the state
  // root) only while `term` holds, through FencedMulti.
  void FencedWrite(const LeaderTerm& term, const std::string& path, std::string data,
                   absl::AnyInvocable<void(absl::Status) &&> done);

  // Creates the missing parents of `path` (not `path` itself) as empty
  // persistent znodes. Unfenced: they carry no data.
  void CreateParents(const std::string& path, absl::AnyInvocable<void(absl::Status) &&> done);

  const std::string& state_root() const { return state_root_; }

 private:
  void FencedWriteAttempt(const LeaderTerm& term, const std::string& path, std::string data,
                          bool create, int attempts_left,
                          absl::AnyInvocable<void(absl::Status) &&> done);
  void EnsureParents(const std::string& path, size_t depth,
                     absl::AnyInvocable<void(absl::Status) &&> done);

  ZkClient& zk_;
  const std::string state_root_;
  // Completions handed to ZooKeeper do nothing once the store is gone.
  WeakCallbacks callbacks_;
};

}  // namespace mast
