// mastctl rollout: follows and steers a service's deployments.

#include "mastctl/rollout.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "mastctl/client.h"
#include "mastctl/error_format.h"
#include "mastctl/rollout_format.h"

ABSL_FLAG(uint64_t, to_version, 0,
          "rollout undo: the service version to go back to (0: the one before the current spec).");
ABSL_FLAG(std::string, id, "",
          "rollout pause, resume, cancel: the deployment (default: the one in progress).");
ABSL_FLAG(bool, rollback, false,
          "rollout cancel: roll the service back to the deployment's previous spec (default: "
          "stop in place, tasks of both versions left as they are).");

namespace mast::ctl {

const char kRolloutHelp[] =
    "  rollout status NAME [--timeout=10m]  follow the service's deployment to its end;\n"
    "                         exit 0 succeeded, 1 error, 2 usage, 3 paused, 4 failed,\n"
    "                         5 rolled back, 6 cancelled, 7 timed out (--timeout, default\n"
    "                         10m for this command)\n"
    "  rollout history NAME   the service's deployments, newest first\n"
    "  rollout undo NAME [--to_version=V] [--force]  deploy an earlier spec again\n"
    "  rollout pause|resume NAME [--id=ID]  pause or resume the deployment in progress\n"
    "  rollout cancel NAME [--rollback] [--id=ID]  cancel it (stop in place, or roll back)\n";

namespace {

using v1::Mast;

// Prints `deployment` (a line, or JSON).
int PrintDeployment(const v1::Deployment& deployment) {
  if (OutputFormat() == "json") {
    std::cout << ToJson(deployment) << "\n";
  } else {
    std::cout << ProgressLine(deployment) << "\n";
  }
  return 0;
}

int History(const std::string& name) {
  v1::ListDeploymentsRequest request;
  request.set_service(name);
  request.set_min_store_version(MinStoreVersion());
  v1::ListDeploymentsResponse response;
  grpc::Status status = Call(&Mast::Stub::ListDeployments, request, &response);
  if (!status.ok()) return PrintError(status);
  if (OutputFormat() == "json") {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  std::cout << HistoryHeader() << "\n";
  for (const v1::Deployment& d : response.deployments()) std::cout << HistoryRow(d) << "\n";
  return 0;
}

int Undo(const std::string& name) {
  v1::RollbackServiceRequest request;
  request.set_name(name);
  request.set_to_version(absl::GetFlag(FLAGS_to_version));
  request.set_expected_version(absl::GetFlag(FLAGS_expected_version));
  request.set_idempotency_key(IdempotencyKey());
  request.set_force(absl::GetFlag(FLAGS_force));
  return WriteService(&Mast::Stub::RollbackService, request);
}

// Pause, resume or cancel: answered with the deployment.
template <typename Request>
int SteerDeployment(Rpc<Request, v1::Deployment> rpc, Request request) {
  request.set_id(absl::GetFlag(FLAGS_id));
  request.set_idempotency_key(IdempotencyKey());
  v1::Deployment deployment;
  grpc::Status status = Call(rpc, request, &deployment);
  if (!status.ok()) return PrintError(status);
  PrintStoreVersion();
  return PrintDeployment(deployment);
}

// What `rollout status` follows, across the events of one service.
struct Follower {
  std::string id;         // the deployment followed (the service's current one)
  std::string last_line;  // the last progress printed
  int64_t min_version = 0;

  // Reports `service`'s deployment; the exit code once it is done.
  std::optional<int> Report(const v1::Service& service, int64_t store_version) {
    if (!service.has_deployment()) {
      if (store_version < min_version) return std::nullopt;
      std::cout << "service " << service.spec().name() << " has no deployment\n";
      return kRolloutSucceeded;
    }
    const v1::Deployment& d = service.deployment();
    if (!id.empty() && d.id() != id) {
      std::cout << "deployment " << id << " was replaced by " << d.id() << "\n";
    }
    id = d.id();
    const std::string line = OutputFormat() == "json" ? ToJson(d) : ProgressLine(d);
    if (line != last_line) std::cout << line << std::endl;
    last_line = line;
    // A replica behind the version asked for may still show an older end.
    if (store_version < min_version) return std::nullopt;
    return RolloutExitCode(d.state());
  }
};

// One watch of `name` on `endpoint` until the deployment is done (its exit
// code), the stream ends (nullopt; `status` says why) or `deadline`.
std::optional<int> WatchOnce(const std::string& endpoint, const std::string& name,
                             absl::Time deadline, Follower& follower, grpc::Status& status) {
  auto stub = Mast::NewStub(Dial(endpoint));
  grpc::ClientContext context;
  AddCredentials(context);
  context.set_deadline(absl::ToChronoTime(deadline));
  v1::WatchEventsRequest request;
  request.set_service_prefix(name);
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader = stub->WatchEvents(&context, request);
  v1::WatchEvent event;
  bool seen = false;
  std::optional<int> done;
  while (!done.has_value() && reader->Read(&event)) {
    if (event.type() == v1::WatchEvent::SYNCED && !seen) {
      std::fprintf(stderr, "mastctl: rollout status: service '%s' not found\n", name.c_str());
      done = kRolloutError;
    }
    if (!event.has_service() || event.service().spec().name() != name) continue;
    if (event.type() == v1::WatchEvent::DELETED) {
      std::fprintf(stderr, "mastctl: rollout status: service '%s' was deleted\n", name.c_str());
      done = kRolloutError;
      break;
    }
    seen = true;
    done = follower.Report(event.service(), event.store_version());
  }
  if (done.has_value()) context.TryCancel();
  status = reader->Finish();
  return done;
}

int Status(const std::string& name) {
  // --timeout when it was changed from its (per call) default, else 10 minutes.
  absl::Duration timeout = absl::Minutes(10);
  if (const absl::CommandLineFlag* flag = absl::FindCommandLineFlag("timeout");
      flag != nullptr && flag->CurrentValue() != flag->DefaultValue()) {
    timeout = absl::GetFlag(FLAGS_timeout);
  }
  const absl::Time deadline = absl::Now() + timeout;
  const std::vector<std::string> endpoints = Endpoints();
  if (endpoints.empty()) {
    return PrintError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "no endpoint given"));
  }
  Follower follower;
  follower.min_version = MinStoreVersion();
  absl::Duration backoff = absl::Milliseconds(100);
  for (size_t attempt = 0;; ++attempt) {
    grpc::Status status;
    const std::string& endpoint = endpoints[attempt % endpoints.size()];
    if (std::optional<int> done = WatchOnce(endpoint, name, deadline, follower, status)) {
      return *done;
    }
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED || absl::Now() >= deadline) {
      std::fprintf(stderr, "mastctl: rollout status: timed out after %s%s\n",
                   absl::FormatDuration(timeout).c_str(),
                   follower.id.empty() ? "" : absl::StrCat(" following ", follower.id).c_str());
      return kRolloutTimedOut;
    }
    if (IsDefiniteRefusal(status)) return PrintError(status);
    std::fprintf(stderr, "mastctl: rollout status: %s: %s; watching again\n", endpoint.c_str(),
                 ErrorText(status.error_code(), status.error_message()).c_str());
    absl::SleepFor(std::min(backoff, deadline - absl::Now()));
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

int Usage() {
  std::fprintf(stderr, "mastctl: usage:\n%s", kRolloutHelp);
  return kRolloutUsage;
}

}  // namespace

int Rollout(const std::vector<std::string>& operands) {
  if (operands.size() != 2) return Usage();
  const std::string& sub = operands[0];
  const std::string& name = operands[1];
  if (sub == "status") return Status(name);
  if (sub == "history") return History(name);
  if (sub == "undo") return Undo(name);
  if (sub == "pause" || sub == "resume") {
    v1::DeploymentRequest request;
    request.set_service(name);
    return SteerDeployment(
        sub == "pause" ? &Mast::Stub::PauseDeployment : &Mast::Stub::ResumeDeployment, request);
  }
  if (sub == "cancel") {
    v1::CancelDeploymentRequest request;
    request.set_service(name);
    request.set_rollback(absl::GetFlag(FLAGS_rollback));
    return SteerDeployment(&Mast::Stub::CancelDeployment, request);
  }
  return Usage();
}

}  // namespace mast::ctl
