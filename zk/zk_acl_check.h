#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "zk/zk_client.h"

namespace mast {

// The start-up check of the state tree's ACLs: with digest authentication
// configured, Mast creates every znode creator-only, so a znode under its
// root that anyone may read or change ("world:anyone" in its ACL) was made
// by a replica without authentication (or by hand) and leaks or exposes the
// state. mastd refuses to start on such a tree unless told to accept it.

// Reads one znode's ACL (ZkSession::GetAcl in mastd; a map in tests).
using ZkAclReader = std::function<void(const std::string& path,
                                       ZkCallback<absl::StatusOr<std::vector<ZkAclEntry>>> done)>;

struct ZkAclCheckResult {
  int checked = 0;                      // znodes whose ACL was read
  std::vector<std::string> open_paths;  // those with a world:anyone entry
};

// True when `acl` grants anything to everyone ("world", "anyone").
bool IsOpenAcl(const std::vector<ZkAclEntry>& acl);

// Reads the ACLs of `root`, its children and their children (the fixed
// directories and the records right under them: a tree made without
// authentication is open from the top), at most `max_znodes` of them, and
// reports those that are open. A root that does not exist yet is fine (Mast
// creates it with the right ACL); znodes that vanish meanwhile are skipped.
// Other errors (UNAVAILABLE while ZooKeeper is away) end the check with that
// error: the caller retries. Runs on `zk`'s loop; `done` runs there once.
void CheckZkAcls(ZkClient& zk, ZkAclReader read_acl, std::string root, int max_znodes,
                 ZkCallback<absl::StatusOr<ZkAclCheckResult>> done);

}  // namespace mast
