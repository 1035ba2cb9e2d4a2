#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/weak_callback.h"
#include "election/leader_term.h"
#include "mast/v1/records.pb.h"
#include "store/zk_store.h"
#include "zk/zk_client.h"

namespace mast {

// The layout of the service state this code writes. Readers refuse a newer one.
inline constexpr int kStateSchemaVersion = 1;

// Service names become znode names: every byte outside [A-Za-z0-9_-] is
// written as %XX (so "team/web" is "team%2Fweb"). Reversible, and an escaped
// name never holds '.', which separates a task shard's suffix.
std::string EscapeServiceName(absl::string_view name);
// INVALID_ARGUMENT for a malformed escape.
absl::StatusOr<std::string> UnescapeServiceName(absl::string_view escaped);

// The znodes of the service state under `<zk_root>/state`:
//   schema_version               decimal text, e.g. "1"
//   services/<escaped>           records::ServiceRecord (binary)
//   tasks/<escaped>              records::TaskRecordsHead (binary)
//   tasks/<escaped>.<gen>.<i>    shard i of generation gen of a large payload
class StatePaths {
 public:
  explicit StatePaths(std::string state_root) : root_(std::move(state_root)) {}
  std::string schema() const { return root_ + "/schema_version"; }
  std::string services_dir() const { return root_ + "/services"; }
  std::string tasks_dir() const { return root_ + "/tasks"; }
  std::string service(absl::string_view name) const;
  std::string tasks_head(absl::string_view name) const;
  std::string task_shard(absl::string_view name, uint64_t generation, uint32_t index) const;

 private:
  std::string root_;
};

// Task records as stored: the head and its shards (empty when inline).
struct EncodedTaskRecords {
  mast::v1::records::TaskRecordsHead head;
  std::vector<std::string> shards;
};

struct TaskEncodingOptions {
  // A serialized TaskRecords larger than this (bytes) is zlib-compressed.
  // Default 64 KiB.
  size_t compress_above_bytes = 64 * 1024;
  // The most data one znode gets (bytes); larger payloads are sharded.
  // Default 900 KiB, under ZooKeeper's 1 MB request limit (jute.maxbuffer).
  size_t max_znode_bytes = 900 * 1024;
  // Payloads needing more shards are refused (RESOURCE_EXHAUSTED). Default 64.
  uint32_t max_shards = 64;
};

// Pure encoding of task records; no I/O.
absl::StatusOr<EncodedTaskRecords> EncodeTaskRecords(const mast::v1::records::TaskRecords& tasks,
                                                     uint64_t generation,
                                                     const TaskEncodingOptions& options);
// DATA_LOSS when the payload does not match its head or cannot be parsed.
absl::StatusOr<mast::v1::records::TaskRecords> DecodeTaskRecords(
    const mast::v1::records::TaskRecordsHead& head, const std::vector<std::string>& shards);

struct TaskRecordsRead {
  mast::v1::records::TaskRecords records;
  ZkStat head_stat;
};
// Reads a service's task records: the head (setting `head_watcher` on it, if
// given) and then its shards. NOT_FOUND without a head; DATA_LOSS for a
// corrupt one; ABORTED when a shard went meanwhile (a newer write committed:
// read again). Calls back on the ZkClient's loop.
void ReadTaskRecords(ZkClient& zk, const StatePaths& paths, const std::string& service,
                     ZkWatcher head_watcher, ZkCallback<absl::StatusOr<TaskRecordsRead>> done);

// A service record as read, with the znode version that PutService expects.
struct StoredService {
  mast::v1::records::ServiceRecord record;
  int32_t version = 0;  // znode data version
  int64_t mzxid = 0;
};

// Services and their task records in ZooKeeper (layout: StatePaths). Each
// record is one znode, so znodes and watches grow with services, not tasks.
//
// Writes are made by the leader through ZkStore::FencedMulti on `term`, and
// each also checks that `state/schema_version` is the one this store read
// (created as kStateSchemaVersion by the first write; a newer or unknown
// number is refused with FAILED_PRECONDITION and nothing is written).
// Errors as in store.h: FAILED_PRECONDITION (deposed, or schema), ABORTED
// (a concurrent write won: re-read), UNAVAILABLE (retry), DATA_LOSS.
//
// Large task records are compressed and, past TaskEncodingOptions::
// max_znode_bytes, sharded. Shards are written each in its own fenced
// multi-op (a multi-op is one ZooKeeper request and is bound by the same
// 1 MB limit), under a new generation; then one fenced multi-op switches
// the head to that generation and deletes the old shards. Readers therefore
// see the old or the new records, never a mix. A write that fails between
// the two steps leaves unreferenced shards; DeleteService removes them.
//
// Threads: called on the ZkClient's loop; callbacks run there. Callbacks of
// a destroyed store never run. The store does not serialize concurrent
// PutTasks of one service: the second may fail with ABORTED.
class ServiceStore {
 public:
  // Versions for PutService beyond a znode version (>= 0).
  static constexpr int64_t kMustNotExist = -1;  // create; ALREADY_EXISTS if present
  static constexpr int64_t kAnyVersion = -2;    // create or overwrite

  // `zk` and `fenced` must outlive the store; `fenced` must use `zk`.
  ServiceStore(ZkClient& zk, ZkStore& fenced, TaskEncodingOptions options = {});

  const StatePaths& paths() const { return paths_; }

  // nullopt when there is no such service; DATA_LOSS when unparsable.
  void GetService(const std::string& name,
                  ZkCallback<absl::StatusOr<std::optional<StoredService>>> done);
  // Empty records when none were stored.
  void GetTasks(const std::string& service,
                ZkCallback<absl::StatusOr<mast::v1::records::TaskRecords>> done);

  // Writes `record` (named by record.service().spec().name()) if its znode is
  // at `expected_version` (ABORTED if not; NOT_FOUND if it is gone), or see
  // kMustNotExist / kAnyVersion. Returns the new znode version.
  void PutService(const LeaderTerm& term, mast::v1::records::ServiceRecord record,
                  int64_t expected_version, ZkCallback<absl::StatusOr<int32_t>> done);
  // Removes the service record and all its task znodes in one multi-op.
  // NOT_FOUND when there is neither.
  void DeleteService(const LeaderTerm& term, const std::string& name,
                     ZkCallback<absl::Status> done);
  // Replaces all task records of `service`.
  void PutTasks(const LeaderTerm& term, const std::string& service,
                mast::v1::records::TaskRecords tasks, ZkCallback<absl::Status> done);

 private:
  // Creates the directories and the schema znode if missing and checks the
  // schema number; yields the schema znode's version for the writes' check.
  void EnsureSchema(const LeaderTerm& term, int attempts_left,
                    ZkCallback<absl::StatusOr<int32_t>> done);
  // FencedMulti with {check(schema at `schema_version`)} first; a failed
  // schema check is FAILED_PRECONDITION. Indices and results count `ops`.
  void SchemaFencedMulti(const LeaderTerm& term, int32_t schema_version, std::vector<ZkOp> ops,
                         ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done);
  void PutServiceAttempt(const LeaderTerm& term, std::string name, std::string data,
                         int64_t expected_version, bool create, int attempts_left,
                         ZkCallback<absl::StatusOr<int32_t>> done);
  void DeleteServiceAttempt(const LeaderTerm& term, std::string name, int attempts_left,
                            ZkCallback<absl::Status> done);
  void WriteShards(const LeaderTerm& term, int32_t schema_version, std::string service,
                   std::shared_ptr<EncodedTaskRecords> encoded, size_t next,
                   ZkCallback<absl::Status> done);

  ZkClient& zk_;
  ZkStore& fenced_;
  const StatePaths paths_;
  const TaskEncodingOptions options_;
  // Loop thread only: the schema znode's version once checked.
  std::optional<int32_t> schema_znode_version_;
  // Completions handed to ZooKeeper do nothing once the store is gone.
  WeakCallbacks callbacks_;
};

}  // namespace mast
