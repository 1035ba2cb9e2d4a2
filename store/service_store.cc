#include "store/service_store.h"

#include <zlib.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "zk/zk_status.h"

namespace mast {
namespace {

using ::mast::v1::records::ServiceRecord;
using ::mast::v1::records::TaskRecords;
using ::mast::v1::records::TaskRecordsHead;

// A decompressed payload beyond this is taken for a corrupt head.
constexpr uint64_t kMaxRawTaskBytes = uint64_t{1} << 30;

bool Plain(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

uint32_t Crc32(const std::string& data) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

// Status of a failed op, re-labelled for the caller.
absl::Status Relabel(const absl::Status& status, absl::StatusCode code, absl::string_view what) {
  return absl::Status(code, absl::StrCat(what, ": ", status.message()));
}

}  // namespace

std::string EscapeServiceName(absl::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (Plain(c)) {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, absl::StrFormat("%%%02X", static_cast<unsigned char>(c)));
    }
  }
  return out;
}

absl::StatusOr<std::string> UnescapeServiceName(absl::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    char c = escaped[i];
    if (Plain(c)) {
      out.push_back(c);
      continue;
    }
    int value = 0;
    if (c != '%' || i + 2 >= escaped.size()) {
      return absl::InvalidArgumentError(absl::StrCat("bad escaped service name: ", escaped));
    }
    if (!absl::SimpleHexAtoi(escaped.substr(i + 1, 2), &value) ||
        !absl::ascii_isxdigit(static_cast<unsigned char>(escaped[i + 1])) ||
        !absl::ascii_isxdigit(static_cast<unsigned char>(escaped[i + 2])) ||
        Plain(static_cast<char>(value))) {
      return absl::InvalidArgumentError(absl::StrCat("bad escaped service name: ", escaped));
    }
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  if (out.empty()) return absl::InvalidArgumentError("empty service name");
  return out;
}

std::string StatePaths::service(absl::string_view name) const {
  return absl::StrCat(services_dir(), "/", EscapeServiceName(name));
}
std::string StatePaths::tasks_head(absl::string_view name) const {
  return absl::StrCat(tasks_dir(), "/", EscapeServiceName(name));
}
std::string StatePaths::task_shard(absl::string_view name, uint64_t generation,
                                   uint32_t index) const {
  return absl::StrCat(tasks_head(name), ".", generation, ".", index);
}

absl::StatusOr<EncodedTaskRecords> EncodeTaskRecords(const TaskRecords& tasks, uint64_t generation,
                                                     const TaskEncodingOptions& options) {
  EncodedTaskRecords out;
  std::string raw = tasks.SerializeAsString();
  std::string payload;
  out.head.set_encoding(TaskRecordsHead::ENCODING_RAW);
  if (raw.size() > options.compress_above_bytes) {
    uLongf bound = compressBound(static_cast<uLong>(raw.size()));
    std::string compressed(bound, '\0');
    int rc = compress2(reinterpret_cast<Bytef*>(compressed.data()), &bound,
                       reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
                       Z_BEST_SPEED);  // half the CPU of the default, ~10% larger
    if (rc != Z_OK) return absl::InternalError(absl::StrCat("zlib compress2 failed: ", rc));
    compressed.resize(bound);
    if (compressed.size() < raw.size()) {
      payload = std::move(compressed);
      out.head.set_encoding(TaskRecordsHead::ENCODING_ZLIB);
    }
  }
  if (out.head.encoding() == TaskRecordsHead::ENCODING_RAW) payload = raw;
  out.head.set_raw_size(raw.size());
  out.head.set_payload_size(payload.size());
  out.head.set_payload_crc32(Crc32(payload));
  out.head.set_generation(generation);
  // The head's other fields take well under 100 bytes.
  if (payload.size() + 100 <= options.max_znode_bytes) {
    out.head.set_inline_payload(std::move(payload));
    return out;
  }
  size_t count = (payload.size() + options.max_znode_bytes - 1) / options.max_znode_bytes;
  if (count > options.max_shards) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "task records of ", payload.size(), " bytes (", raw.size(), " before compression) need ",
        count, " shards; at most ", options.max_shards, " are allowed"));
  }
  for (size_t offset = 0; offset < payload.size(); offset += options.max_znode_bytes) {
    out.shards.push_back(payload.substr(offset, options.max_znode_bytes));
  }
  out.head.set_shard_count(static_cast<uint32_t>(out.shards.size()));
  return out;
}

absl::StatusOr<TaskRecords> DecodeTaskRecords(const TaskRecordsHead& head,
                                              const std::vector<std::string>& shards) {
  std::string payload;
  if (head.shard_count() == 0) {
    payload = head.inline_payload();
  } else {
    if (shards.size() != head.shard_count()) {
      return absl::DataLossError(
          absl::StrCat("task records: ", shards.size(), " shards, head says ", head.shard_count()));
    }
    for (const std::string& shard : shards) payload += shard;
  }
  if (payload.size() != head.payload_size() || Crc32(payload) != head.payload_crc32()) {
    return absl::DataLossError(absl::StrCat("task records: payload of ", payload.size(),
                                            " bytes does not match its head (size ",
                                            head.payload_size(), ", crc32)"));
  }
  std::string raw;
  switch (head.encoding()) {
    case TaskRecordsHead::ENCODING_RAW:
      raw = std::move(payload);
      break;
    case TaskRecordsHead::ENCODING_ZLIB: {
      if (head.raw_size() > kMaxRawTaskBytes) {
        return absl::DataLossError(
            absl::StrCat("task records: raw size ", head.raw_size(), " is implausible"));
      }
      raw.resize(head.raw_size());
      uLongf size = static_cast<uLongf>(raw.size());
      int rc = uncompress(reinterpret_cast<Bytef*>(raw.data()), &size,
                          reinterpret_cast<const Bytef*>(payload.data()),
                          static_cast<uLong>(payload.size()));
      if (rc != Z_OK || size != head.raw_size()) {
        return absl::DataLossError(absl::StrCat("task records: zlib uncompress failed (", rc, ")"));
      }
      break;
    }
    default:
      return absl::DataLossError(
          absl::StrCat("task records: unknown encoding ", static_cast<int>(head.encoding())));
  }
  TaskRecords tasks;
  if (!tasks.ParseFromString(raw)) {
    return absl::DataLossError("task records: cannot parse TaskRecords");
  }
  return tasks;
}

void ReadTaskRecords(ZkClient& zk, const StatePaths& paths, const std::string& service,
                     ZkWatcher head_watcher, ZkCallback<absl::StatusOr<TaskRecordsRead>> done) {
  std::string head_path = paths.tasks_head(service);
  zk.Get(
      head_path, std::move(head_watcher),
      [&zk, paths, service, head_path,
       done = std::move(done)](absl::StatusOr<ZkNode> node) mutable {
        using Result = absl::StatusOr<TaskRecordsRead>;
        if (!node.ok()) return std::move(done)(Result(node.status()));
        TaskRecordsHead head;
        if (!head.ParseFromString(node->data)) {
          return std::move(done)(Result(
              absl::DataLossError(absl::StrCat(head_path, ": cannot parse TaskRecordsHead"))));
        }
        if (head.shard_count() == 0) {
          absl::StatusOr<TaskRecords> tasks = DecodeTaskRecords(head, {});
          if (!tasks.ok()) {
            return std::move(done)(
                Result(Relabel(tasks.status(), tasks.status().code(), head_path)));
          }
          return std::move(done)(Result(TaskRecordsRead{std::move(*tasks), node->stat}));
        }
        // The shards of a generation never change, so reading them one
        // by one after the head is consistent.
        struct Pending {
          TaskRecordsHead head;
          ZkStat stat;
          std::string head_path;
          std::vector<std::string> shards;
          size_t remaining;
          absl::Status error;
          ZkCallback<Result> done;
        };
        auto pending = std::make_shared<Pending>();
        pending->head = std::move(head);
        pending->stat = node->stat;
        pending->head_path = head_path;
        pending->shards.resize(pending->head.shard_count());
        pending->remaining = pending->shards.size();
        pending->done = std::move(done);
        for (uint32_t i = 0; i < pending->head.shard_count(); ++i) {
          zk.Get(
              paths.task_shard(service, pending->head.generation(), i), nullptr,
              [pending, i](absl::StatusOr<ZkNode> shard) {
                if (shard.ok()) {
                  pending->shards[i] = std::move(shard->data);
                } else if (pending->error.ok()) {
                  pending->error = absl::IsNotFound(shard.status())
                                       ? absl::AbortedError(absl::StrCat(
                                             pending->head_path, ": a shard went while reading (",
                                             shard.status().message(), "); read again"))
                                       : shard.status();
                }
                if (--pending->remaining > 0) return;
                if (!pending->error.ok()) {
                  return std::move(pending->done)(Result(pending->error));
                }
                absl::StatusOr<TaskRecords> tasks =
                    DecodeTaskRecords(pending->head, pending->shards);
                if (!tasks.ok()) {
                  return std::move(pending->done)(
                      Result(Relabel(tasks.status(), tasks.status().code(), pending->head_path)));
                }
                std::move(pending->done)(Result(TaskRecordsRead{std::move(*tasks), pending->stat}));
              });
        }
      });
}

ServiceStore::ServiceStore(ZkClient& zk, ZkStore& fenced, TaskEncodingOptions options)
    : zk_(zk), fenced_(fenced), paths_(fenced.state_root()), options_(options) {}

void ServiceStore::GetService(const std::string& name,
                              ZkCallback<absl::StatusOr<std::optional<StoredService>>> done) {
  std::string path = paths_.service(name);
  zk_.Get(path, nullptr, [path, done = std::move(done)](absl::StatusOr<ZkNode> node) mutable {
    using Result = absl::StatusOr<std::optional<StoredService>>;
    if (absl::IsNotFound(node.status())) return std::move(done)(Result(std::nullopt));
    if (!node.ok()) return std::move(done)(Result(node.status()));
    StoredService stored;
    if (!stored.record.ParseFromString(node->data)) {
      return std::move(done)(
          Result(absl::DataLossError(absl::StrCat(path, ": cannot parse ServiceRecord"))));
    }
    stored.version = node->stat.version;
    stored.mzxid = node->stat.mzxid;
    std::move(done)(Result(std::move(stored)));
  });
}

void ServiceStore::GetTasks(const std::string& service,
                            ZkCallback<absl::StatusOr<TaskRecords>> done) {
  ReadTaskRecords(zk_, paths_, service, nullptr,
                  [done = std::move(done)](absl::StatusOr<TaskRecordsRead> read) mutable {
                    using Result = absl::StatusOr<TaskRecords>;
                    if (absl::IsNotFound(read.status()))
                      return std::move(done)(Result(TaskRecords()));
                    if (!read.ok()) return std::move(done)(Result(read.status()));
                    std::move(done)(Result(std::move(read->records)));
                  });
}

void ServiceStore::EnsureSchema(const LeaderTerm& term, int attempts_left,
                                ZkCallback<absl::StatusOr<int32_t>> done) {
  using Result = absl::StatusOr<int32_t>;
  if (schema_znode_version_.has_value()) return std::move(done)(Result(*schema_znode_version_));
  // "x" stands for any record: its parents are the two directories.
  fenced_.CreateParents(
      paths_.services_dir() + "/x",
      callbacks_.Bind([this, term, attempts_left,
                       done = std::move(done)](absl::Status status) mutable {
        if (!status.ok()) return std::move(done)(Result(status));
        fenced_.CreateParents(
            paths_.tasks_dir() + "/x",
            callbacks_.Bind([this, term, attempts_left,
                             done = std::move(done)](absl::Status status) mutable {
              if (!status.ok()) return std::move(done)(Result(status));
              zk_.Get(
                  paths_.schema(), nullptr,
                  callbacks_.Bind([this, term, attempts_left,
                                   done = std::move(done)](absl::StatusOr<ZkNode> node) mutable {
                    if (absl::IsNotFound(node.status())) {
                      // First write of this layout: record its number (fenced, so a
                      // deposed leader cannot claim the layout).
                      std::vector<ZkOp> ops;
                      ops.push_back(ZkOp::Create(paths_.schema(), absl::StrCat(kStateSchemaVersion),
                                                 ZkCreateMode::kPersistent));
                      return fenced_.FencedMulti(
                          term, std::move(ops),
                          callbacks_.Bind(
                              [this, term, attempts_left, done = std::move(done)](
                                  absl::StatusOr<std::vector<ZkOpResult>> made) mutable {
                                if (absl::IsAlreadyExists(made.status()) && attempts_left > 1) {
                                  return EnsureSchema(term, attempts_left - 1, std::move(done));
                                }
                                if (!made.ok()) return std::move(done)(Result(made.status()));
                                schema_znode_version_ = 0;
                                std::move(done)(Result(0));
                              }));
                    }
                    if (!node.ok()) return std::move(done)(Result(node.status()));
                    int schema = 0;
                    if (!absl::SimpleAtoi(node->data, &schema)) {
                      return std::move(done)(Result(absl::DataLossError(
                          absl::StrCat(paths_.schema(), ": not a schema number: \"",
                                       absl::CHexEscape(node->data.substr(0, 32)), "\""))));
                    }
                    if (schema != kStateSchemaVersion) {
                      return std::move(done)(Result(absl::FailedPreconditionError(absl::StrCat(
                          paths_.schema(), " is ", schema, "; this Mast writes schema ",
                          kStateSchemaVersion,
                          schema > kStateSchemaVersion ? " (a newer Mast wrote this state: upgrade)"
                                                       : " (no migration from it is known)"))));
                    }
                    schema_znode_version_ = node->stat.version;
                    std::move(done)(Result(node->stat.version));
                  }));
            }));
      }));
}

void ServiceStore::SchemaFencedMulti(const LeaderTerm& term, int32_t schema_version,
                                     std::vector<ZkOp> ops,
                                     ZkCallback<absl::StatusOr<std::vector<ZkOpResult>>> done) {
  using Result = absl::StatusOr<std::vector<ZkOpResult>>;
  ops.insert(ops.begin(), ZkOp::Check(paths_.schema(), schema_version));
  fenced_.FencedMulti(
      term, std::move(ops), callbacks_.Bind([this, done = std::move(done)](Result result) mutable {
        if (result.ok()) {
          result->erase(result->begin());
          return std::move(done)(std::move(result));
        }
        std::optional<size_t> failed = FailedMultiOp(result.status());
        if (failed == 0u) {
          schema_znode_version_.reset();  // read it again next time
          return std::move(done)(Result(absl::FailedPreconditionError(absl::StrCat(
              paths_.schema(), " changed under this replica (", result.status().message(), ")"))));
        }
        if (failed.has_value())
          return std::move(done)(Result(WithFailedOp(result.status(), *failed - 1)));
        std::move(done)(std::move(result));
      }));
}

void ServiceStore::PutService(const LeaderTerm& term, ServiceRecord record,
                              int64_t expected_version, ZkCallback<absl::StatusOr<int32_t>> done) {
  std::string name = record.service().spec().name();
  if (name.empty()) {
    return std::move(done)(absl::InvalidArgumentError("service.spec.name: must not be empty"));
  }
  if (expected_version < kAnyVersion || expected_version > INT32_MAX) {
    return std::move(done)(absl::InvalidArgumentError(
        absl::StrCat("expected_version: ", expected_version, " is not a znode version")));
  }
  std::string data = record.SerializeAsString();
  if (data.size() > options_.max_znode_bytes) {
    return std::move(done)(
        absl::InvalidArgumentError(absl::StrCat("service ", name, ": record of ", data.size(),
                                                " bytes exceeds ", options_.max_znode_bytes)));
  }
  PutServiceAttempt(term, std::move(name), std::move(data), expected_version,
                    /*create=*/expected_version == kMustNotExist, /*attempts_left=*/3,
                    std::move(done));
}

void ServiceStore::PutServiceAttempt(const LeaderTerm& term, std::string name, std::string data,
                                     int64_t expected_version, bool create, int attempts_left,
                                     ZkCallback<absl::StatusOr<int32_t>> done) {
  using Result = absl::StatusOr<int32_t>;
  EnsureSchema(
      term, 3,
      [this, term, name = std::move(name), data = std::move(data), expected_version, create,
       attempts_left, done = std::move(done)](Result schema) mutable {
        if (!schema.ok()) return std::move(done)(Result(schema.status()));
        std::string path = paths_.service(name);
        std::vector<ZkOp> ops;
        int32_t version = expected_version >= 0 ? static_cast<int32_t>(expected_version) : -1;
        ops.push_back(create ? ZkOp::Create(path, data, ZkCreateMode::kPersistent)
                             : ZkOp::Set(path, data, version));
        SchemaFencedMulti(
            term, *schema, std::move(ops),
            [this, term, name = std::move(name), data, path, expected_version, create,
             attempts_left,
             done = std::move(done)](absl::StatusOr<std::vector<ZkOpResult>> result) mutable {
              if (result.ok())
                return std::move(done)(Result(create ? 0 : (*result)[0].stat.version));
              const absl::Status& status = result.status();
              if (FailedMultiOp(status) != 0u) return std::move(done)(Result(status));
              if (expected_version == kAnyVersion && attempts_left > 1 &&
                  (absl::IsNotFound(status) || absl::IsAlreadyExists(status))) {
                // Create-or-overwrite: the record was (not) there after all.
                return PutServiceAttempt(term, std::move(name), std::move(data), expected_version,
                                         !create, attempts_left - 1, std::move(done));
              }
              if (absl::IsAborted(status)) {
                return std::move(done)(Result(absl::AbortedError(
                    absl::StrCat("service ", name, " is not at version ", expected_version,
                                 ": it was changed concurrently; re-read it"))));
              }
              if (absl::IsNotFound(status)) {
                return std::move(done)(Result(
                    Relabel(status, absl::StatusCode::kNotFound, absl::StrCat("service ", name))));
              }
              if (absl::IsAlreadyExists(status)) {
                return std::move(done)(Result(Relabel(status, absl::StatusCode::kAlreadyExists,
                                                      absl::StrCat("service ", name))));
              }
              std::move(done)(Result(status));
            });
      });
}

void ServiceStore::DeleteService(const LeaderTerm& term, const std::string& name,
                                 ZkCallback<absl::Status> done) {
  DeleteServiceAttempt(term, name, /*attempts_left=*/3, std::move(done));
}

void ServiceStore::DeleteServiceAttempt(const LeaderTerm& term, std::string name, int attempts_left,
                                        ZkCallback<absl::Status> done) {
  EnsureSchema(
      term, 3,
      [this, term, name = std::move(name), attempts_left,
       done = std::move(done)](absl::StatusOr<int32_t> schema) mutable {
        if (!schema.ok()) return std::move(done)(schema.status());
        // What exists now: the record, the head and every shard (also those of
        // failed writes), all found among the children of the directories.
        zk_.GetChildren(
            paths_.services_dir(), nullptr,
            callbacks_.Bind([this, term, name = std::move(name), attempts_left, schema = *schema,
                             done = std::move(done)](
                                absl::StatusOr<std::vector<std::string>> services) mutable {
              if (!services.ok()) return std::move(done)(services.status());
              std::string escaped = EscapeServiceName(name);
              bool has_record =
                  std::find(services->begin(), services->end(), escaped) != services->end();
              zk_.GetChildren(
                  paths_.tasks_dir(), nullptr,
                  callbacks_.Bind([this, term, name = std::move(name), attempts_left, schema,
                                   escaped, has_record, done = std::move(done)](
                                      absl::StatusOr<std::vector<std::string>> tasks) mutable {
                    if (!tasks.ok()) return std::move(done)(tasks.status());
                    std::vector<ZkOp> ops;
                    if (has_record) ops.push_back(ZkOp::Delete(paths_.service(name), -1));
                    for (const std::string& child : *tasks) {
                      if (child == escaped || child.rfind(escaped + ".", 0) == 0) {
                        ops.push_back(
                            ZkOp::Delete(absl::StrCat(paths_.tasks_dir(), "/", child), -1));
                      }
                    }
                    if (ops.empty()) {
                      return std::move(done)(absl::NotFoundError(absl::StrCat("service ", name)));
                    }
                    // Touch the directory: its mzxid tells readers the store version of
                    // the delete (a deleted znode leaves no mzxid behind).
                    ops.push_back(ZkOp::Set(paths_.services_dir(), "", -1));
                    SchemaFencedMulti(
                        term, schema, std::move(ops),
                        [this, term, name = std::move(name), attempts_left, done = std::move(done)](
                            absl::StatusOr<std::vector<ZkOpResult>> result) mutable {
                          if (result.ok()) return std::move(done)(absl::OkStatus());
                          const absl::Status& status = result.status();
                          // A znode came or went between the listing and the
                          // multi-op: list again.
                          if (FailedMultiOp(status).has_value() && attempts_left > 1 &&
                              (absl::IsNotFound(status) || absl::IsFailedPrecondition(status))) {
                            return DeleteServiceAttempt(term, std::move(name), attempts_left - 1,
                                                        std::move(done));
                          }
                          std::move(done)(status);
                        });
                  }));
            }));
      });
}

void ServiceStore::PutTasks(const LeaderTerm& term, const std::string& service, TaskRecords tasks,
                            ZkCallback<absl::Status> done) {
  if (service.empty()) return std::move(done)(absl::InvalidArgumentError("service: empty name"));
  EnsureSchema(
      term, 3,
      [this, term, service, tasks = std::move(tasks),
       done = std::move(done)](absl::StatusOr<int32_t> schema) mutable {
        if (!schema.ok()) return std::move(done)(schema.status());
        std::string head_path = paths_.tasks_head(service);
        zk_.Get(
            head_path, nullptr,
            callbacks_.Bind([this, term, service, head_path, schema = *schema,
                             tasks = std::move(tasks),
                             done = std::move(done)](absl::StatusOr<ZkNode> node) mutable {
              if (!node.ok() && !absl::IsNotFound(node.status()))
                return std::move(done)(node.status());
              TaskRecordsHead old;
              std::optional<int32_t> old_version;
              if (node.ok()) {
                old_version = node->stat.version;
                // A corrupt head is overwritten; its shards, if any, stay until the
                // service is deleted.
                if (!old.ParseFromString(node->data)) old.Clear();
              }
              absl::StatusOr<EncodedTaskRecords> encoded =
                  EncodeTaskRecords(tasks, old.generation() + 1, options_);
              if (!encoded.ok()) {
                return std::move(done)(Relabel(encoded.status(), encoded.status().code(),
                                               absl::StrCat("tasks of service ", service)));
              }
              auto shared = std::make_shared<EncodedTaskRecords>(std::move(*encoded));
              WriteShards(
                  term, schema, service, shared, 0,
                  callbacks_.Bind([this, term, service, head_path, schema, shared,
                                   old = std::move(old), old_version,
                                   done = std::move(done)](absl::Status written) mutable {
                    if (!written.ok()) return std::move(done)(written);
                    // Commit: switch the head, drop the old generation.
                    std::vector<ZkOp> ops;
                    std::string data = shared->head.SerializeAsString();
                    ops.push_back(
                        old_version.has_value()
                            ? ZkOp::Set(head_path, std::move(data), *old_version)
                            : ZkOp::Create(head_path, std::move(data), ZkCreateMode::kPersistent));
                    for (uint32_t i = 0; i < old.shard_count(); ++i) {
                      ops.push_back(
                          ZkOp::Delete(paths_.task_shard(service, old.generation(), i), -1));
                    }
                    SchemaFencedMulti(term, schema, std::move(ops),
                                      [service, done = std::move(done)](
                                          absl::StatusOr<std::vector<ZkOpResult>> result) mutable {
                                        if (result.ok()) return std::move(done)(absl::OkStatus());
                                        const absl::Status& status = result.status();
                                        if (FailedMultiOp(status).has_value() &&
                                            (absl::IsAborted(status) || absl::IsNotFound(status) ||
                                             absl::IsAlreadyExists(status))) {
                                          return std::move(done)(absl::AbortedError(absl::StrCat(
                                              "tasks of service ", service,
                                              " were written concurrently: ", status.message())));
                                        }
                                        std::move(done)(status);
                                      });
                  }));
            }));
      });
}

void ServiceStore::WriteShards(const LeaderTerm& term, int32_t schema_version, std::string service,
                               std::shared_ptr<EncodedTaskRecords> encoded, size_t next,
                               ZkCallback<absl::Status> done) {
  if (next >= encoded->shards.size()) return std::move(done)(absl::OkStatus());
  std::string path =
      paths_.task_shard(service, encoded->head.generation(), static_cast<uint32_t>(next));
  std::vector<ZkOp> ops;
  // Left over from a failed write of the same generation: overwrite it.
  ops.push_back(ZkOp::Create(path, encoded->shards[next], ZkCreateMode::kPersistent));
  SchemaFencedMulti(
      term, schema_version, std::move(ops),
      [this, term, schema_version, service = std::move(service), encoded, next, path,
       done = std::move(done)](absl::StatusOr<std::vector<ZkOpResult>> result) mutable {
        if (result.ok()) {
          return WriteShards(term, schema_version, std::move(service), std::move(encoded), next + 1,
                             std::move(done));
        }
        if (!absl::IsAlreadyExists(result.status()) || FailedMultiOp(result.status()) != 0u) {
          return std::move(done)(result.status());
        }
        std::vector<ZkOp> overwrite;
        overwrite.push_back(ZkOp::Set(path, encoded->shards[next], -1));
        SchemaFencedMulti(
            term, schema_version, std::move(overwrite),
            [this, term, schema_version, service = std::move(service), encoded, next,
             done = std::move(done)](absl::StatusOr<std::vector<ZkOpResult>> result) mutable {
              if (!result.ok()) return std::move(done)(result.status());
              WriteShards(term, schema_version, std::move(service), std::move(encoded), next + 1,
                          std::move(done));
            });
      });
}

}  // namespace mast
