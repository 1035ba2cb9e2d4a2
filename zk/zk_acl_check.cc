#include "zk/zk_acl_check.h"

#include <deque>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mast {

namespace {

constexpr int kMaxDepth = 2;  // root = 0

// One walk, breadth first, one request at a time (a few hundred znodes at
// start-up; no need to flood the ensemble). Owns itself through the
// callbacks it hands out.
class AclWalk : public std::enable_shared_from_this<AclWalk> {
 public:
  AclWalk(ZkClient& zk, ZkAclReader read_acl, int max_znodes,
          ZkCallback<absl::StatusOr<ZkAclCheckResult>> done)
      : zk_(zk), read_acl_(std::move(read_acl)), max_znodes_(max_znodes), done_(std::move(done)) {}

  void Start(std::string root) {
    pending_.push_back({std::move(root), 0});
    Next();
  }

 private:
  struct Node {
    std::string path;
    int depth;
  };

  void Next() {
    if (pending_.empty() || result_.checked >= max_znodes_) {
      return std::move(done_)(std::move(result_));
    }
    Node node = std::move(pending_.front());
    pending_.pop_front();
    read_acl_(node.path, [self = shared_from_this(), node](auto acl) mutable {
      self->OnAcl(std::move(node), std::move(acl));
    });
  }

  void OnAcl(Node node, absl::StatusOr<std::vector<ZkAclEntry>> acl) {
    if (absl::IsNotFound(acl.status())) return Next();
    if (!acl.ok()) return std::move(done_)(acl.status());
    ++result_.checked;
    if (IsOpenAcl(*acl)) result_.open_paths.push_back(node.path);
    if (node.depth >= kMaxDepth) return Next();
    zk_.GetChildren(node.path, nullptr, [self = shared_from_this(), node](auto children) mutable {
      self->OnChildren(node, std::move(children));
    });
  }

  void OnChildren(const Node& node, absl::StatusOr<std::vector<std::string>> children) {
    if (absl::IsNotFound(children.status())) return Next();
    if (!children.ok()) return std::move(done_)(children.status());
    for (const std::string& child : *children) {
      pending_.push_back({absl::StrCat(node.path, "/", child), node.depth + 1});
    }
    Next();
  }

  ZkClient& zk_;
  ZkAclReader read_acl_;
  const int max_znodes_;
  ZkCallback<absl::StatusOr<ZkAclCheckResult>> done_;
  std::deque<Node> pending_;
  ZkAclCheckResult result_;
};

}  // namespace

bool IsOpenAcl(const std::vector<ZkAclEntry>& acl) {
  for (const ZkAclEntry& entry : acl) {
    if (entry.scheme == "world" && entry.id == "anyone" && entry.perms != 0) return true;
  }
  return false;
}

void CheckZkAcls(ZkClient& zk, ZkAclReader read_acl, std::string root, int max_znodes,
                 ZkCallback<absl::StatusOr<ZkAclCheckResult>> done) {
  auto walk = std::make_shared<AclWalk>(zk, std::move(read_acl), max_znodes, std::move(done));
  walk->Start(std::move(root));
}

}  // namespace mast
