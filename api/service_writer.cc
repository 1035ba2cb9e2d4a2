#include "api/service_writer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "api/validation.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace mast {
namespace {

// Definite answers: repeating the request would give the same one.
bool Remembered(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

std::string Deterministic(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(t);
  out->set_seconds(nanos / 1000000000);
  out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

// The spec as it will be stored, or INVALID_ARGUMENT naming `field_prefix` + field.
absl::StatusOr<v1::ServiceSpec> CheckedSpec(const v1::ServiceSpec& spec,
                                            absl::string_view field_prefix) {
  v1::ServiceSpec filled = WithDefaults(spec);
  absl::Status valid = ValidateServiceSpec(filled);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field_prefix, valid.message()));
  }
  return filled;
}

}  // namespace

absl::Status ForClient(absl::Status status) {
  if (status.code() != absl::StatusCode::kFailedPrecondition) return status;
  return absl::UnavailableError(absl::StrCat("not applied: this replica no longer leads (",
                                             status.message(),
                                             "); retry, the request goes to the new leader"));
}

ServiceWriter::ServiceWriter(Clock& clock, Options options) : clock_(clock), options_(options) {}

void ServiceWriter::OnStartedLeading(const LeaderTerm& term) {
  term_ = term;
  paused_ = false;
}

void ServiceWriter::OnStoppedLeading() {
  term_.reset();
  paused_ = false;
}

absl::Status ServiceWriter::CheckLeading() const {
  if (store_ == nullptr) {
    return absl::UnavailableError("this replica is starting; retry shortly");
  }
  if (!term_.has_value()) {
    return absl::UnavailableError("this replica does not lead (any more); retry shortly");
  }
  if (paused_) {
    return absl::UnavailableError(
        "the leader is paused (its ZooKeeper connection is suspended); retry shortly");
  }
  return absl::OkStatus();
}

template <typename Request, typename Response>
void ServiceWriter::Idempotent(absl::string_view method, const Request& request,
                               Done<Response> done,
                               absl::AnyInvocable<void(Done<Response>) &&> run) {
  if (request.idempotency_key().empty()) {
    std::move(run)(std::move(done));
    return;
  }
  const std::string& key = request.idempotency_key();
  Request keyless = request;
  keyless.clear_idempotency_key();
  std::string fingerprint = absl::StrCat(method, "\n", Deterministic(keyless));

  auto reply = [](Done<Response> done, const Outcome& outcome) {
    if (!outcome.status.ok()) {
      std::move(done)(outcome.status);
      return;
    }
    Response response;
    response.ParseFromString(outcome.response);
    std::move(done)(std::move(response));
  };
  auto it = idempotency_.find(key);
  if (it != idempotency_.end()) {
    if (it->second.fingerprint != fingerprint) {
      std::move(done)(absl::InvalidArgumentError(absl::StrCat(
          "idempotency_key: '", key.substr(0, 128), "' was used for a different request")));
    } else if (it->second.answered) {
      reply(std::move(done), it->second.outcome);
    } else {
      it->second.waiters.push_back(
          [reply, done = std::move(done)](const Outcome& o) mutable { reply(std::move(done), o); });
    }
    return;
  }
  idempotency_[key].fingerprint = std::move(fingerprint);
  std::move(run)([this, alive = std::weak_ptr<char>(alive_), key,
                  done = std::move(done)](absl::StatusOr<Response> result) mutable {
    if (alive.expired()) return;
    Outcome outcome;
    outcome.status = result.status();
    if (result.ok()) outcome.response = Deterministic(*result);
    Remember(key, outcome);
    if (result.ok()) {
      std::move(done)(*std::move(result));
    } else {
      std::move(done)(result.status());
    }
  });
}

void ServiceWriter::Remember(const std::string& key, Outcome outcome) {
  auto it = idempotency_.find(key);
  if (it == idempotency_.end()) return;
  std::vector<absl::AnyInvocable<void(const Outcome&)&&>> waiters = std::move(it->second.waiters);
  if (Remembered(outcome.status)) {
    it->second.answered = true;
    it->second.outcome = outcome;
    answered_order_.push_back(key);
    while (answered_order_.size() > options_.idempotency_keys) {
      idempotency_.erase(answered_order_.front());
      answered_order_.pop_front();
    }
  } else {
    idempotency_.erase(it);  // may be retried under the same key
  }
  for (auto& waiter : waiters) std::move(waiter)(outcome);
}

void ServiceWriter::Serialized(const std::string& name, Op op) {
  auto [it, first] = queues_.try_emplace(name);
  if (!first) {
    it->second.push_back(std::move(op));
    return;
  }
  RunQueued(name, std::move(op));
}

void ServiceWriter::RunQueued(const std::string& name, Op op) {
  std::move(op)([this, alive = std::weak_ptr<char>(alive_), name]() {
    if (alive.expired()) return;
    auto it = queues_.find(name);
    if (it == queues_.end()) return;
    if (it->second.empty()) {
      queues_.erase(it);
      return;
    }
    Op next = std::move(it->second.front());
    it->second.pop_front();
    RunQueued(name, std::move(next));
  });
}

void ServiceWriter::ReadChecked(
    const std::string& name, uint64_t expected_version, Release release,
    absl::AnyInvocable<void(absl::StatusOr<StoredService>, Release) &&> then) {
  store_->GetService(name, [alive = std::weak_ptr<char>(alive_), name, expected_version,
                            release = std::move(release), then = std::move(then)](
                               absl::StatusOr<std::optional<StoredService>> read) mutable {
    if (alive.expired()) return;
    if (!read.ok()) {
      std::move(then)(ForClient(read.status()), std::move(release));
      return;
    }
    if (!read->has_value()) {
      std::move(then)(absl::NotFoundError(absl::StrCat("service '", name, "' not found")),
                      std::move(release));
      return;
    }
    const uint64_t version = (*read)->record.service().version();
    if (expected_version != 0 && expected_version != version) {
      std::move(then)(absl::AbortedError(absl::StrCat("expected_version: service '", name,
                                                      "' is at version ", version, ", not ",
                                                      expected_version, "; re-read and retry")),
                      std::move(release));
      return;
    }
    if ((*read)->record.deleting()) {
      std::move(then)(absl::NotFoundError(absl::StrCat("service '", name, "' is being deleted")),
                      std::move(release));
      return;
    }
    std::move(then)(std::move(**read), std::move(release));
  });
}

void ServiceWriter::PutUpdated(StoredService stored, Release release, Done<v1::Service> done) {
  v1::Service* service = stored.record.mutable_service();
  service->set_version(service->version() + 1);
  SetTime(clock_.Now(), service->mutable_updated());
  v1::Service answer = *service;
  store_->PutService(
      *term_, std::move(stored.record), stored.version,
      [release = std::move(release), done = std::move(done),
       answer = std::move(answer)](absl::StatusOr<int32_t> put) mutable {
        std::move(release)();
        if (!put.ok()) {
          absl::Status status = put.status();
          if (absl::IsAborted(status)) {
            status = absl::AbortedError(absl::StrCat("service '", answer.spec().name(),
                                                     "' changed concurrently; re-read and retry"));
          }
          std::move(done)(ForClient(status));
          return;
        }
        std::move(done)(std::move(answer));
      });
}

void ServiceWriter::Create(v1::CreateServiceRequest request, Done<v1::Service> done) {
  Idempotent<v1::CreateServiceRequest, v1::Service>(
      "create", request, std::move(done), [this, request](Done<v1::Service> done) mutable {
        absl::StatusOr<v1::ServiceSpec> spec = CheckedSpec(request.spec(), "spec.");
        if (!spec.ok()) return std::move(done)(spec.status());
        if (absl::Status leading = CheckLeading(); !leading.ok()) {
          return std::move(done)(leading);
        }
        std::string name = spec->name();
        Serialized(
            name, [this, spec = *std::move(spec), done = std::move(done)](Release release) mutable {
              if (absl::Status leading = CheckLeading(); !leading.ok()) {
                std::move(release)();
                return std::move(done)(leading);
              }
              v1::records::ServiceRecord record;
              v1::Service* service = record.mutable_service();
              *service->mutable_spec() = std::move(spec);
              service->set_version(1);
              SetTime(clock_.Now(), service->mutable_created());
              *service->mutable_updated() = service->created();
              v1::Service answer = *service;
              store_->PutService(*term_, std::move(record), ServiceStore::kMustNotExist,
                                 [release = std::move(release), done = std::move(done),
                                  answer = std::move(answer)](absl::StatusOr<int32_t> put) mutable {
                                   std::move(release)();
                                   if (!put.ok()) {
                                     absl::Status status = put.status();
                                     if (absl::IsAlreadyExists(status)) {
                                       status = absl::AlreadyExistsError(absl::StrCat(
                                           "service '", answer.spec().name(), "' already exists"));
                                     }
                                     return std::move(done)(ForClient(status));
                                   }
                                   std::move(done)(std::move(answer));
                                 });
            });
      });
}

void ServiceWriter::Update(v1::UpdateServiceRequest request, Done<v1::Service> done) {
  Idempotent<v1::UpdateServiceRequest, v1::Service>(
      "update", request, std::move(done), [this, request](Done<v1::Service> done) mutable {
        absl::StatusOr<v1::ServiceSpec> spec = CheckedSpec(request.spec(), "spec.");
        if (!spec.ok()) return std::move(done)(spec.status());
        if (absl::Status leading = CheckLeading(); !leading.ok()) {
          return std::move(done)(leading);
        }
        std::string name = spec->name();
        const uint64_t expected = request.expected_version();
        Serialized(name, [this, name, expected, spec = *std::move(spec),
                          done = std::move(done)](Release release) mutable {
          if (absl::Status leading = CheckLeading(); !leading.ok()) {
            std::move(release)();
            return std::move(done)(leading);
          }
          ReadChecked(name, expected, std::move(release),
                      [this, spec = std::move(spec), done = std::move(done)](
                          absl::StatusOr<StoredService> stored, Release release) mutable {
                        if (!stored.ok() || !term_.has_value()) {
                          std::move(release)();
                          return std::move(done)(stored.ok() ? CheckLeading() : stored.status());
                        }
                        *stored->record.mutable_service()->mutable_spec() = std::move(spec);
                        PutUpdated(*std::move(stored), std::move(release), std::move(done));
                      });
        });
      });
}

void ServiceWriter::Scale(v1::ScaleServiceRequest request, Done<v1::Service> done) {
  Idempotent<v1::ScaleServiceRequest, v1::Service>(
      "scale", request, std::move(done), [this, request](Done<v1::Service> done) mutable {
        if (request.name().empty()) {
          return std::move(done)(absl::InvalidArgumentError("name: required"));
        }
        if (request.instances() > kMaxInstances) {
          return std::move(done)(absl::InvalidArgumentError(absl::StrCat(
              "instances: must be at most ", kMaxInstances, ", not ", request.instances())));
        }
        if (absl::Status leading = CheckLeading(); !leading.ok()) {
          return std::move(done)(leading);
        }
        Serialized(request.name(), [this, request,
                                    done = std::move(done)](Release release) mutable {
          if (absl::Status leading = CheckLeading(); !leading.ok()) {
            std::move(release)();
            return std::move(done)(leading);
          }
          ReadChecked(request.name(), request.expected_version(), std::move(release),
                      [this, request, done = std::move(done)](absl::StatusOr<StoredService> stored,
                                                              Release release) mutable {
                        if (!stored.ok() || !term_.has_value()) {
                          std::move(release)();
                          return std::move(done)(stored.ok() ? CheckLeading() : stored.status());
                        }
                        stored->record.mutable_service()->mutable_spec()->set_instances(
                            request.instances());
                        PutUpdated(*std::move(stored), std::move(release), std::move(done));
                      });
        });
      });
}

void ServiceWriter::Delete(v1::DeleteServiceRequest request, Done<v1::DeleteServiceResponse> done) {
  Idempotent<v1::DeleteServiceRequest, v1::DeleteServiceResponse>(
      "delete", request, std::move(done),
      [this, request](Done<v1::DeleteServiceResponse> done) mutable {
        if (request.name().empty()) {
          return std::move(done)(absl::InvalidArgumentError("name: required"));
        }
        if (absl::Status leading = CheckLeading(); !leading.ok()) {
          return std::move(done)(leading);
        }
        Serialized(request.name(), [this, request,
                                    done = std::move(done)](Release release) mutable {
          if (absl::Status leading = CheckLeading(); !leading.ok()) {
            std::move(release)();
            return std::move(done)(leading);
          }
          ReadChecked(request.name(), request.expected_version(), std::move(release),
                      [this, name = request.name(), done = std::move(done)](
                          absl::StatusOr<StoredService> stored, Release release) mutable {
                        if (!stored.ok() || !term_.has_value()) {
                          std::move(release)();
                          return std::move(done)(stored.ok() ? CheckLeading() : stored.status());
                        }
                        // For now the record goes at once: killing the service's
                        // tasks first comes with the scheduler. The version was
                        // checked on a fresh read, and API writes of this name are
                        // serialized here, so no API write slips in between.
                        store_->DeleteService(*term_, name,
                                              [release = std::move(release), done = std::move(done),
                                               name](absl::Status deleted) mutable {
                                                std::move(release)();
                                                if (!deleted.ok()) {
                                                  if (absl::IsNotFound(deleted)) {
                                                    deleted = absl::NotFoundError(absl::StrCat(
                                                        "service '", name, "' not found"));
                                                  }
                                                  return std::move(done)(ForClient(deleted));
                                                }
                                                std::move(done)(v1::DeleteServiceResponse());
                                              });
                      });
        });
      });
}

}  // namespace mast
