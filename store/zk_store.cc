#include "store/zk_store.h"

#include "absl/strings/str_cat.h"
#include "zk/zk_status.h"

namespace mast {

ZkStore::ZkStore(ZkClient& zk, std::string zk_root)
    : zk_(zk), state_root_(absl::StrCat(zk_root, "/state")) {}

void ZkStore::ReadFrameworkId(
    absl::AnyInvocable<void(absl::StatusOr<std::optional<std::string>>) &&> done) {
  zk_.Get(absl::StrCat(state_root_, "/framework_id"), nullptr,
          [done = std::move(done)](absl::StatusOr<ZkNode> node) mutable {
            using Result = absl::StatusOr<std::optional<std::string>>;
            if (absl::IsNotFound(node.status())) return std::move(done)(Result(std::nullopt));
            if (!node.ok()) return std::move(done)(Result(node.status()));
            if (node->data.empty()) {
              return std::move(done)(Result(absl::DataLossError(
                  "state/framework_id: empty record (expected a Mesos FrameworkID)")));
            }
            std::move(done)(Result(std::move(node->data)));
          });
}

void ZkStore::WriteFrameworkId(const LeaderTerm& term, const std::string& framework_id,
                               absl::AnyInvocable<void(absl::Status) &&> done) {
  if (framework_id.empty() || framework_id.size() > 255) {
    std::move(done)(absl::InvalidArgumentError("framework_id: must be 1 to 255 bytes"));
    return;
  }
  FencedWrite(term, absl::StrCat(state_root_, "/framework_id"), framework_id, std::move(done));
}

void ZkStore::FencedWrite(const LeaderTerm& term, const std::string& path, std::string data,
                          absl::AnyInvocable<void(absl::Status) &&> done) {
  FencedWriteAttempt(term, path, std::move(data), /*create=*/false, /*attempts_left=*/3,
                     std::move(done));
}

void ZkStore::FencedMulti(const LeaderTerm& term, std::vector<ZkOp> ops,
                          ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done) {
  using Result = absl::StatusOr<std::vector<ZkOpResult>>;
  if (term.znode.empty()) {
    std::move(done)(Result(absl::FailedPreconditionError("fenced write without a leader term")));
    return;
  }
  std::string first_path = ops.empty() ? std::string() : ops.front().path;
  ops.insert(ops.begin(), ZkOp::Check(term.znode, -1));
  zk_.Multi(
      std::move(ops), callbacks_.Bind([term_znode = term.znode, first_path = std::move(first_path),
                                       done = std::move(done)](Result result) mutable {
        if (result.ok()) {
          result->erase(result->begin());  // the fence's own result
          return std::move(done)(std::move(result));
        }
        std::optional<size_t> failed = FailedMultiOp(result.status());
        if (failed == 0u) {
          return std::move(done)(Result(absl::FailedPreconditionError(
              absl::StrCat("fenced write to ", first_path,
                           " refused: this replica no longer leads (", term_znode, " is gone)"))));
        }
        if (failed.has_value()) {
          return std::move(done)(Result(WithFailedOp(result.status(), *failed - 1)));
        }
        std::move(done)(Result(result.status()));
      }));
}

void ZkStore::FencedWriteAttempt(const LeaderTerm& term, const std::string& path, std::string data,
                                 bool create, int attempts_left,
                                 absl::AnyInvocable<void(absl::Status) &&> done) {
  std::vector<ZkOp> ops;
  ops.push_back(create ? ZkOp::Create(path, data, ZkCreateMode::kPersistent)
                       : ZkOp::Set(path, data, -1));
  FencedMulti(term, std::move(ops),
              [this, term, path, data = std::move(data), create, attempts_left,
               done = std::move(done)](absl::StatusOr<std::vector<ZkOpResult>> result) mutable {
                if (result.ok()) return std::move(done)(absl::OkStatus());
                const absl::Status& status = result.status();
                if (attempts_left <= 1 || FailedMultiOp(status) != 0u)
                  return std::move(done)(status);
                if (!create && absl::IsNotFound(status)) {
                  // First write of this record: create it (and its parents).
                  return CreateParents(
                      path, [this, term, path, data = std::move(data), attempts_left,
                             done = std::move(done)](absl::Status parents) mutable {
                        if (!parents.ok()) return std::move(done)(parents);
                        FencedWriteAttempt(term, path, std::move(data), /*create=*/true,
                                           attempts_left - 1, std::move(done));
                      });
                }
                if (create && absl::IsAlreadyExists(status)) {
                  // Created meanwhile (by our own earlier attempt whose reply was lost).
                  return FencedWriteAttempt(term, path, std::move(data), /*create=*/false,
                                            attempts_left - 1, std::move(done));
                }
                std::move(done)(status);
              });
}

void ZkStore::CreateParents(const std::string& path,
                            absl::AnyInvocable<void(absl::Status) &&> done) {
  EnsureParents(path, 0, std::move(done));
}

// Parents of the records are plain persistent znodes; creating them needs no
// fence (they carry no data).
void ZkStore::EnsureParents(const std::string& path, size_t depth,
                            absl::AnyInvocable<void(absl::Status) &&> done) {
  std::vector<std::string> parents;
  for (size_t i = 1; i < path.size(); ++i) {
    if (path[i] == '/') parents.push_back(path.substr(0, i));
  }
  if (depth >= parents.size()) return std::move(done)(absl::OkStatus());
  zk_.Create(parents[depth], "", ZkCreateMode::kPersistent,
             callbacks_.Bind([this, path, depth,
                              done = std::move(done)](absl::StatusOr<ZkCreated> created) mutable {
               if (!created.ok() && !absl::IsAlreadyExists(created.status())) {
                 return std::move(done)(created.status());
               }
               EnsureParents(path, depth + 1, std::move(done));
             }));
}

}  // namespace mast
