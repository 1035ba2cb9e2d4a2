// mastctl: the command-line client of the Mast gRPC API.
//
//   mastctl [--endpoint=HOST:PORT[,HOST:PORT...]] [-o table|json] COMMAND
//
// COMMAND: leader | deploy -f spec.json | update -f spec.json | get NAME |
//          ls [--prefix=P] [--selector=k=v,...] | scale NAME N | restart NAME |
//          rm NAME | tasks [NAME] [--state=S,...] | watch [--from=V] [--prefix=P] |
//          rollout status|history|undo|pause|resume|cancel NAME (mastctl/rollout.cc)
//
// --endpoint takes a comma list; the next replica is tried when one does not
// answer. `watch` streams until interrupted: when its stream ends (the
// replica went, or dropped it as too slow) it reconnects to the next
// endpoint and resumes from the last version it printed in full.

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/store_version.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "mast/v1/mast.grpc.pb.h"
#include "mast_build_info.h"
#include "mastctl/client.h"
#include "mastctl/error_format.h"
#include "mastctl/rollout.h"
#include "mastctl/rollout_format.h"

ABSL_FLAG(std::string, endpoint, "127.0.0.1:7070",
          "Mast replica(s) to ask: host:port, or a comma list tried in order.");
ABSL_FLAG(std::string, output, "table", "Output format: table or json.");
ABSL_FLAG(std::string, o, "", "Shorthand for --output.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "Deadline of each call.");
ABSL_FLAG(std::string, f, "", "deploy, update: the ServiceSpec file (protobuf JSON).");
ABSL_FLAG(std::string, prefix, "", "ls, watch: only names starting with this.");
ABSL_FLAG(std::string, selector, "", "ls: only services with these labels (k=v,k2=v2).");
ABSL_FLAG(std::string, state, "",
          "tasks: only tasks in these states (comma list, e.g. RUNNING,STAGING).");
ABSL_FLAG(bool, audit, false,
          "watch: also the audit events (writes performed or refused) of the replica "
          "watched, for the services you administer.");
ABSL_FLAG(int64_t, from, 0,
          "watch: resume after this store version (0: the current state first, then "
          "changes).");
ABSL_FLAG(uint64_t, expected_version, 0,
          "deploy (update), update, scale, restart, rm: fail with ABORTED unless the service "
          "is at this version (0: any).");
ABSL_FLAG(int64_t, min_store_version, 0,
          "get, ls, tasks: answer only from a replica's copy at this store version or later "
          "(the one a write printed: read your own writes on any replica); the replica waits "
          "for it up to --timeout. 0: any.");
ABSL_FLAG(bool, force, false,
          "update, deploy (update), restart, rollout undo: replace a deployment in progress "
          "(it is cancelled where it stands) instead of failing with FAILED_PRECONDITION.");
ABSL_FLAG(std::string, idempotency_key, "",
          "Writes: the idempotency key (default: a random one per invocation, so that the "
          "retries of one invocation on several endpoints apply at most once).");

namespace mast {
namespace {

using ctl::AllPages;
using ctl::Call;
using ctl::Endpoints;
using ctl::ErrorText;
using ctl::FormatTimestamp;
using ctl::IdempotencyKey;
using ctl::MinStoreVersion;
using ctl::OutputFormat;
using ctl::PrintError;
using ctl::PrintPlacement;
using ctl::PrintService;
using ctl::PrintServiceTable;
using ctl::PrintStoreVersion;
using ctl::ServiceState;
using ctl::ToJson;
using ctl::WriteService;

constexpr char kUsage[] =
    "mastctl: the Mast command-line client.\n"
    "Usage: mastctl [--endpoint=HOST:PORT[,...]] [-o table|json] COMMAND\n"
    "Commands:\n"
    "  leader                 who leads the replica set\n"
    "  deploy -f spec.json    create the service (or update it if it exists)\n"
    "  update -f spec.json    replace the spec of an existing service\n"
    "  get NAME               one service\n"
    "                         (get, ls, tasks: --min_store_version=V waits for the\n"
    "                         version a write printed, to read it on any replica)\n"
    "  ls [--prefix=P] [--selector=k=v,...]  services\n"
    "  scale NAME N           set the number of instances\n"
    "  restart NAME           replace every task of the service (a deployment)\n"
    "                         (update, restart: --force replaces a deployment in progress)\n"
    "  rm NAME                delete the service (its tasks are killed first)\n"
    "  tasks [NAME] [--state=RUNNING,...]  tasks, of one service or all\n"
    "  watch [--from=VERSION] [--prefix=P] [--audit]  stream changes, one line each\n";

std::string Usage() { return absl::StrCat(kUsage, ctl::kRolloutHelp); }

// Reads the ServiceSpec of -f; an exit code (2) on failure.
std::optional<mast::v1::ServiceSpec> ReadSpec(const char* command) {
  const std::string path = absl::GetFlag(FLAGS_f);
  if (path.empty()) {
    std::fprintf(stderr, "mastctl: %s: -f spec.json is required\n", command);
    return std::nullopt;
  }
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "mastctl: %s: cannot read %s\n", command, path.c_str());
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  mast::v1::ServiceSpec spec;
  auto parsed = google::protobuf::util::JsonStringToMessage(text.str(), &spec);
  if (!parsed.ok()) {
    std::fprintf(stderr, "mastctl: %s: %s: %s\n", command, path.c_str(),
                 std::string(parsed.message()).c_str());
    return std::nullopt;
  }
  return spec;
}

int Deploy() {
  std::optional<mast::v1::ServiceSpec> spec = ReadSpec("deploy");
  if (!spec.has_value()) return 2;
  const std::string key = IdempotencyKey();
  mast::v1::CreateServiceRequest create;
  *create.mutable_spec() = *spec;
  create.set_idempotency_key(key);
  mast::v1::Service service;
  grpc::Status status = Call(&mast::v1::Mast::Stub::CreateService, create, &service);
  if (status.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
    if (!status.ok()) return PrintError(status);
    PrintStoreVersion();
    return PrintService(service);
  }
  mast::v1::UpdateServiceRequest update;
  *update.mutable_spec() = *std::move(spec);
  update.set_expected_version(absl::GetFlag(FLAGS_expected_version));
  update.set_idempotency_key(key + "-update");
  update.set_force(absl::GetFlag(FLAGS_force));
  return WriteService(&mast::v1::Mast::Stub::UpdateService, update);
}

int Update() {
  std::optional<mast::v1::ServiceSpec> spec = ReadSpec("update");
  if (!spec.has_value()) return 2;
  mast::v1::UpdateServiceRequest update;
  *update.mutable_spec() = *std::move(spec);
  update.set_expected_version(absl::GetFlag(FLAGS_expected_version));
  update.set_idempotency_key(IdempotencyKey());
  update.set_force(absl::GetFlag(FLAGS_force));
  return WriteService(&mast::v1::Mast::Stub::UpdateService, update);
}

int Get(const std::string& name) {
  mast::v1::GetServiceRequest request;
  request.set_name(name);
  request.set_min_store_version(MinStoreVersion());
  mast::v1::GetServiceResponse response;
  grpc::Status status = Call(&mast::v1::Mast::Stub::GetService, request, &response);
  if (!status.ok()) return PrintError(status);
  if (OutputFormat() == "json") {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  PrintService(response.service());
  PrintPlacement(response.service());
  return 0;
}

int List() {
  mast::v1::ListServicesRequest request;
  request.set_prefix(absl::GetFlag(FLAGS_prefix));
  request.set_label_selector(absl::GetFlag(FLAGS_selector));
  request.set_min_store_version(MinStoreVersion());
  mast::v1::ListServicesResponse all;
  grpc::Status status = AllPages(&mast::v1::Mast::Stub::ListServices, request, &all);
  if (!status.ok()) return PrintError(status);
  if (OutputFormat() == "json") {
    std::cout << ToJson(all) << "\n";
    return 0;
  }
  std::vector<const mast::v1::Service*> rows;
  for (const auto& s : all.services()) rows.push_back(&s);
  PrintServiceTable(rows);
  return 0;
}

// A write request naming `name`, with --expected_version and an idempotency key.
template <typename Request>
Request NamedWrite(const std::string& name) {
  Request request;
  request.set_name(name);
  request.set_expected_version(absl::GetFlag(FLAGS_expected_version));
  request.set_idempotency_key(IdempotencyKey());
  return request;
}

int Scale(const std::string& name, const std::string& count) {
  uint32_t instances = 0;
  if (!absl::SimpleAtoi(count, &instances)) {
    std::fprintf(stderr, "mastctl: scale: N must be a number >= 0, not '%s'\n", count.c_str());
    return 2;
  }
  auto request = NamedWrite<mast::v1::ScaleServiceRequest>(name);
  request.set_instances(instances);
  return WriteService(&mast::v1::Mast::Stub::ScaleService, request);
}

int Restart(const std::string& name) {
  auto request = NamedWrite<mast::v1::RestartServiceRequest>(name);
  request.set_force(absl::GetFlag(FLAGS_force));
  return WriteService(&mast::v1::Mast::Stub::RestartService, request);
}

int Remove(const std::string& name) {
  auto request = NamedWrite<mast::v1::DeleteServiceRequest>(name);
  mast::v1::DeleteServiceResponse response;
  grpc::Status status = Call(&mast::v1::Mast::Stub::DeleteService, request, &response);
  if (!status.ok()) return PrintError(status);
  PrintStoreVersion();
  if (OutputFormat() == "json") {
    std::cout << "{}\n";
  } else {
    std::cout << "deleting " << name << " (its tasks are killed, then it is removed)\n";
  }
  return 0;
}

int Tasks(const std::string& service) {
  mast::v1::ListTasksRequest request;
  request.set_service(service);
  request.set_min_store_version(MinStoreVersion());
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_state), ',', absl::SkipWhitespace())) {
    mast::v1::Task::State state;
    if (!mast::v1::Task::State_Parse(absl::AsciiStrToUpper(absl::StripAsciiWhitespace(name)),
                                     &state) ||
        state == mast::v1::Task::STATE_UNSPECIFIED) {
      std::fprintf(stderr,
                   "mastctl: tasks: --state: unknown state '%s' (PENDING, STAGING, STARTING, "
                   "RUNNING, KILLING, FINISHED, FAILED, KILLED, LOST, UNREACHABLE, GONE, "
                   "ERROR)\n",
                   std::string(name).c_str());
      return 2;
    }
    request.add_states(state);
  }
  mast::v1::ListTasksResponse all;
  grpc::Status status = AllPages(&mast::v1::Mast::Stub::ListTasks, request, &all);
  if (!status.ok()) return PrintError(status);
  if (OutputFormat() == "json") {
    std::cout << ToJson(all) << "\n";
    return 0;
  }
  absl::PrintF("%-44s %-32s %-8s %-12s %-24s %-16s %s\n", "ID", "SERVICE", "VERSION", "STATE",
               "HOST", "PORTS", "UPDATED");
  for (const mast::v1::Task& t : all.tasks()) {
    std::string state = mast::v1::Task::State_Name(t.state());
    if (t.kill_requested() && t.state() != mast::v1::Task::KILLING) state += "*";
    absl::PrintF("%-44s %-32s %-8d %-12s %-24s %-16s %s\n", t.id(), t.service(), t.version(), state,
                 // A container network's address after the agent's name.
                 absl::StrCat(t.host().empty() ? "-" : t.host(),
                              t.ip_addresses().empty()
                                  ? ""
                                  : absl::StrCat(" [", absl::StrJoin(t.ip_addresses(), ","), "]")),
                 t.ports().empty() ? "-" : absl::StrJoin(t.ports(), ","),
                 FormatTimestamp(t.updated()));
  }
  return 0;
}

// One line for an event: "<store version> <TYPE> <what>".
std::string DescribeEvent(const mast::v1::WatchEvent& event) {
  std::string line =
      absl::StrCat(event.store_version(), " ", mast::v1::WatchEvent::Type_Name(event.type()));
  if (event.has_service()) {
    const mast::v1::Service& s = event.service();
    absl::StrAppend(&line, " service ", s.spec().name(), " version=", s.version(),
                    " instances=", s.spec().instances(), " running=", s.status().running(),
                    " state=", absl::StrReplaceAll(ServiceState(s), {{" ", ":"}}));
  } else if (event.has_deployment()) {
    absl::StrAppend(&line, " ", event.deployment().service(), " ",
                    ctl::ProgressLine(event.deployment()));
  } else if (event.has_task()) {
    const mast::v1::Task& t = event.task();
    absl::StrAppend(&line, " task ", t.service(), " ", t.id(), " version=", t.version(),
                    " state=", mast::v1::Task::State_Name(t.state()),
                    " host=", t.host().empty() ? "-" : t.host());
  } else if (event.has_audit()) {
    const mast::v1::AuditEvent& a = event.audit();
    absl::StrAppend(&line, " ", a.method(), " ", a.service().empty() ? "-" : a.service(),
                    " who=", a.who(), " result=", a.code(), " version=", a.version_before(), "->",
                    a.version_after(), " replica=", a.replica_id());
    if (!a.error().empty()) absl::StrAppend(&line, " error=\"", a.error(), "\"");
  } else if (event.has_leader()) {
    const mast::v1::GetLeaderResponse& l = event.leader();
    if (l.leader_known()) {
      absl::StrAppend(&line, " leader ", l.leader_id(), " address=", l.leader_address(),
                      " token=", l.fencing_token());
    } else {
      absl::StrAppend(&line, " leader none");
    }
  }
  return line;
}

// The version a RESOURCE_EXHAUSTED watch end names ("... resume from version N").
std::optional<int64_t> ResumeVersion(const std::string& message) {
  constexpr absl::string_view kMarker = "resume from version ";
  const size_t at = absl::string_view(message).find(kMarker);
  int64_t version = 0;
  if (at == absl::string_view::npos ||
      !absl::SimpleAtoi(absl::string_view(message).substr(at + kMarker.size()), &version)) {
    return std::nullopt;
  }
  return version;
}

// Streams events until interrupted. The resume point is the last version
// printed in full (events come in version order, so a version is complete
// once a later one, or SYNCED, arrives); after a reconnect the events of a
// version that was in progress may be printed again. Only a definite
// refusal (e.g. INVALID_ARGUMENT) ends it.
int Watch() {
  const std::vector<std::string> endpoints = Endpoints();
  if (endpoints.empty())
    return PrintError(grpc::Status(grpc::StatusCode::UNAVAILABLE, "no endpoint given"));
  const bool json = OutputFormat() == "json";
  int64_t complete = absl::GetFlag(FLAGS_from);
  std::random_device random;
  std::mt19937_64 jitter(static_cast<uint64_t>(random()) << 32 | random());
  absl::Duration backoff = absl::Milliseconds(100);
  size_t failures_in_a_row = 0;
  for (size_t attempt = 0;; ++attempt) {
    const std::string& endpoint = endpoints[attempt % endpoints.size()];
    // A quiet stream is pinged, so that a replica that vanished without
    // closing its connection (a dead host, a partition) ends the stream
    // within ~30 s and the watch moves on to the next endpoint.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    auto stub = mast::v1::Mast::NewStub(mast::ctl::Dial(endpoint, args));
    grpc::ClientContext context;
    mast::ctl::AddCredentials(context);
    mast::v1::WatchEventsRequest request;
    request.set_from_version(complete);
    request.set_service_prefix(absl::GetFlag(FLAGS_prefix));
    request.set_audit(absl::GetFlag(FLAGS_audit));
    std::unique_ptr<grpc::ClientReader<mast::v1::WatchEvent>> reader =
        stub->WatchEvents(&context, request);
    mast::v1::WatchEvent event;
    int64_t current = complete;
    bool got_any = false;
    while (reader->Read(&event)) {
      got_any = true;
      if (event.store_version() > current) {
        complete = std::max(complete, current);
        current = event.store_version();
      }
      if (event.type() == mast::v1::WatchEvent::SYNCED) complete = event.store_version();
      std::cout << (json ? ToJson(event) : DescribeEvent(event)) << std::endl;
    }
    grpc::Status status = reader->Finish();
    if (ctl::IsDefiniteRefusal(status)) return PrintError(status);
    switch (status.error_code()) {
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
        if (std::optional<int64_t> resume = ResumeVersion(status.error_message())) {
          complete = std::max(complete, *resume);
        }
        break;
      default:
        break;
    }
    std::fprintf(stderr, "mastctl: watch: %s: %s; resuming from version %lld\n", endpoint.c_str(),
                 ErrorText(status.error_code(), status.error_message()).c_str(),
                 static_cast<long long>(complete));
    // Wait only when a whole round of endpoints failed to stream anything.
    failures_in_a_row = got_any ? 0 : failures_in_a_row + 1;
    if (failures_in_a_row > 0 && failures_in_a_row % endpoints.size() == 0) {
      std::uniform_real_distribution<double> spread(0.5, 1.0);
      absl::SleepFor(backoff * spread(jitter));
      backoff = std::min(backoff * 2, absl::Seconds(5));
    } else if (got_any) {
      backoff = absl::Milliseconds(100);
    }
  }
}

int Leader() {
  mast::v1::GetLeaderResponse response;
  std::string answered_by;
  grpc::Status status =
      Call(&mast::v1::Mast::Stub::GetLeader, mast::v1::GetLeaderRequest(), &response, &answered_by);
  if (!status.ok()) return PrintError(status);
  if (OutputFormat() == "json") {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  if (!response.leader_known()) {
    std::cout << "no leader known to " << response.replica_id() << " (" << answered_by << ")"
              << (response.paused() ? " — it leads but is paused" : "") << "\n";
    return 3;
  }
  std::string since = "-";
  if (response.leader_since_unix_nanos() > 0) {
    since = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                             absl::FromUnixNanos(response.leader_since_unix_nanos()),
                             absl::UTCTimeZone());
  }
  std::string answered =
      absl::StrCat(response.replica_id(), response.is_leader() ? " (leader)" : " (follower)");
  absl::PrintF("%-24s %-24s %-14s %-26s %s\n", "LEADER", "ADDRESS", "TOKEN", "SINCE",
               "ANSWERED BY");
  absl::PrintF("%-24s %-24s %-14d %-26s %s\n", response.leader_id(), response.leader_address(),
               response.fencing_token(), since, answered);
  return 0;
}

}  // namespace
}  // namespace mast

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(mast::Usage());
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) {
    return path.find("mastctl/") != absl::string_view::npos;
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  // --version (absl's own flag) prints this and exits 0.
  usage.version_string = [] { return mast::VersionLine("mastctl"); };
  absl::SetFlagsUsageConfig(usage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (absl::Status loaded = mast::ctl::LoadCredentials(); !loaded.ok()) {
    std::fprintf(stderr, "mastctl: %s\n", std::string(loaded.message()).c_str());
    return 2;
  }
  std::string format = mast::ctl::OutputFormat();
  if (format != "table" && format != "json") {
    std::fprintf(stderr, "mastctl: --output: must be table or json, not '%s'\n", format.c_str());
    return 2;
  }
  if (args.size() < 2) {
    std::fputs(mast::Usage().c_str(), stderr);
    return 2;
  }
  std::string command = args[1];
  if (command == "leader") return mast::Leader();
  const size_t operands = args.size() - 2;
  auto arity = [&](size_t n, const char* usage) {
    if (operands == n) return true;
    std::fprintf(stderr, "mastctl: usage: mastctl %s\n", usage);
    return false;
  };
  if (command == "deploy") return arity(0, "deploy -f spec.json") ? mast::Deploy() : 2;
  if (command == "update") {
    return arity(0, "update -f spec.json [--expected_version=N]") ? mast::Update() : 2;
  }
  if (command == "get") return arity(1, "get NAME") ? mast::Get(args[2]) : 2;
  if (command == "ls") return arity(0, "ls [--prefix=P] [--selector=k=v,...]") ? mast::List() : 2;
  if (command == "scale") return arity(2, "scale NAME N") ? mast::Scale(args[2], args[3]) : 2;
  if (command == "restart") return arity(1, "restart NAME") ? mast::Restart(args[2]) : 2;
  if (command == "rm") return arity(1, "rm NAME") ? mast::Remove(args[2]) : 2;
  if (command == "tasks") {
    if (operands > 1) {
      std::fprintf(stderr, "mastctl: usage: mastctl tasks [NAME] [--state=RUNNING,...]\n");
      return 2;
    }
    return mast::Tasks(operands == 1 ? args[2] : "");
  }
  if (command == "watch") {
    return arity(0, "watch [--from=VERSION] [--prefix=P] [--audit]") ? mast::Watch() : 2;
  }
  if (command == "rollout") {
    return mast::ctl::Rollout(std::vector<std::string>(args.begin() + 2, args.end()));
  }
  std::fprintf(stderr, "mastctl: unknown command '%s'\n%s", command.c_str(), mast::Usage().c_str());
  return 2;
}
