// mastctl: the command-line client of the Mast gRPC API.
//
//   mastctl [--endpoint=HOST:PORT[,HOST:PORT...]] [-o table|json] COMMAND
//
// COMMAND: leader | deploy -f spec.json | get NAME | ls [--prefix=P]
//          [--selector=k=v,...] | scale NAME N | rm NAME
//
// --endpoint takes a comma list; the next replica is tried when one does not
// answer.

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "mast/v1/mast.grpc.pb.h"

ABSL_FLAG(std::string, endpoint, "127.0.0.1:7070",
          "Mast replica(s) to ask: host:port, or a comma list tried in order.");
ABSL_FLAG(std::string, output, "table", "Output format: table or json.");
ABSL_FLAG(std::string, o, "", "Shorthand for --output.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "Deadline of each call.");
ABSL_FLAG(std::string, f, "", "deploy: the ServiceSpec file (protobuf JSON).");
ABSL_FLAG(std::string, prefix, "", "ls: only names starting with this.");
ABSL_FLAG(std::string, selector, "", "ls: only services with these labels (k=v,k2=v2).");
ABSL_FLAG(uint64_t, expected_version, 0,
          "deploy (update), scale, rm: fail with ABORTED unless the service is at this "
          "version (0: any).");
ABSL_FLAG(std::string, idempotency_key, "",
          "Writes: the idempotency key (default: a random one per invocation, so that the "
          "retries of one invocation on several endpoints apply at most once).");

namespace mast {
namespace {

constexpr char kUsage[] =
    "mastctl: the Mast command-line client.\n"
    "Usage: mastctl [--endpoint=HOST:PORT[,...]] [-o table|json] COMMAND\n"
    "Commands:\n"
    "  leader                 who leads the replica set\n"
    "  deploy -f spec.json    create the service (or update it if it exists)\n"
    "  get NAME               one service\n"
    "  ls [--prefix=P] [--selector=k=v,...]  services\n"
    "  scale NAME N           set the number of instances\n"
    "  rm NAME                delete the service\n";

std::string OutputFormat() {
  std::string o = absl::GetFlag(FLAGS_o);
  return o.empty() ? absl::GetFlag(FLAGS_output) : o;
}

// Calls `rpc` on each endpoint in turn until one answers (any status but
// UNAVAILABLE / DEADLINE_EXCEEDED counts as an answer).
template <typename Response, typename Rpc>
grpc::Status CallAny(Rpc rpc, Response* response, std::string* answered_by) {
  grpc::Status last(grpc::StatusCode::UNAVAILABLE, "no endpoint given");
  for (absl::string_view endpoint :
       absl::StrSplit(absl::GetFlag(FLAGS_endpoint), ',', absl::SkipEmpty())) {
    auto channel = grpc::CreateChannel(std::string(endpoint), grpc::InsecureChannelCredentials());
    auto stub = mast::v1::Mast::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_timeout)));
    last = rpc(*stub, &context, response);
    if (last.ok() || (last.error_code() != grpc::StatusCode::UNAVAILABLE &&
                      last.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED)) {
      *answered_by = std::string(endpoint);
      return last;
    }
    std::fprintf(stderr, "mastctl: %s: %s\n", std::string(endpoint).c_str(),
                 last.error_message().c_str());
  }
  return last;
}

int PrintError(const grpc::Status& status) {
  std::fprintf(stderr, "mastctl: %d %s\n", static_cast<int>(status.error_code()),
               status.error_message().c_str());
  return 1;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

std::string IdempotencyKey() {
  std::string key = absl::GetFlag(FLAGS_idempotency_key);
  if (!key.empty()) return key;
  std::random_device random;
  std::mt19937_64 gen(static_cast<uint64_t>(random()) << 32 | random());
  return absl::StrFormat("mastctl-%016x%016x", gen(), gen());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

void PrintServiceTable(const std::vector<const mast::v1::Service*>& services) {
  absl::PrintF("%-32s %-8s %-10s %-6s %-9s %-21s %s\n", "NAME", "VERSION", "INSTANCES", "CPUS",
               "MEM_MIB", "UPDATED", "COMMAND");
  for (const mast::v1::Service* s : services) {
    const mast::v1::ServiceSpec& spec = s->spec();
    std::string command = spec.command().has_argv()
                              ? absl::StrJoin(spec.command().argv().args(), " ")
                              : spec.command().shell();
    if (command.size() > 40) command = command.substr(0, 37) + "...";
    absl::PrintF("%-32s %-8d %-10d %-6g %-9g %-21s %s\n", spec.name(), s->version(),
                 spec.instances(), spec.resources().cpus(), spec.resources().mem_mib(),
                 FormatTimestamp(s->updated()), command);
  }
}

int PrintService(const mast::v1::Service& service) {
  if (OutputFormat() == "json") {
    std::cout << ToJson(service) << "\n";
  } else {
    PrintServiceTable({&service});
  }
  return 0;
}

int Deploy() {
  const std::string path = absl::GetFlag(FLAGS_f);
  if (path.empty()) {
    std::fprintf(stderr, "mastctl: deploy: -f spec.json is required\n");
    return 2;
  }
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "mastctl: deploy: cannot read %s\n", path.c_str());
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  mast::v1::ServiceSpec spec;
  auto parsed = google::protobuf::util::JsonStringToMessage(text.str(), &spec);
  if (!parsed.ok()) {
    std::fprintf(stderr, "mastctl: deploy: %s: %s\n", path.c_str(),
                 std::string(parsed.message()).c_str());
    return 2;
  }
  const std::string key = IdempotencyKey();
  mast::v1::Service service;
  std::string answered_by;
  mast::v1::CreateServiceRequest create;
  *create.mutable_spec() = spec;
  create.set_idempotency_key(key);
  grpc::Status status = CallAny(
      [&](mast::v1::Mast::Stub& stub, grpc::ClientContext* ctx, mast::v1::Service* r) {
        return stub.CreateService(ctx, create, r);
      },
      &service, &answered_by);
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    mast::v1::UpdateServiceRequest update;
    *update.mutable_spec() = spec;
    update.set_expected_version(absl::GetFlag(FLAGS_expected_version));
    update.set_idempotency_key(key + "-update");
    status = CallAny(
        [&](mast::v1::Mast::Stub& stub, grpc::ClientContext* ctx, mast::v1::Service* r) {
          return stub.UpdateService(ctx, update, r);
        },
        &service, &answered_by);
  }
  if (!status.ok()) return PrintError(status);
  return PrintService(service);
}

int Get(const std::string& name) {
  mast::v1::GetServiceRequest request;
  request.set_name(name);
  mast::v1::GetServiceResponse response;
  std::string answered_by;
  grpc::Status status = CallAny(
      [&](mast::v1::Mast::Stub& stub, grpc::ClientContext* ctx, mast::v1::GetServiceResponse* r) {
        return stub.GetService(ctx, request, r);
      },
      &response, &answered_by);
  if (!status.ok()) return PrintError(status);
  if (OutputFormat() == "json") {
    std::cout << ToJson(response) << "\n";
    return 0;
  }
  return PrintService(response.service());
}

int List() {
  mast::v1::ListServicesRequest request;
  request.set_prefix(absl::GetFlag(FLAGS_prefix));
  request.set_label_selector(absl::GetFlag(FLAGS_selector));
  std::vector<mast::v1::ListServicesResponse> pages;
  do {
    mast::v1::ListServicesResponse page;
    std::string answered_by;
    grpc::Status status = CallAny(
        [&](mast::v1::Mast::Stub& stub, grpc::ClientContext* ctx,
            mast::v1::ListServicesResponse* r) { return stub.ListServices(ctx, request, r); },
        &page, &answered_by);
    if (!status.ok()) return PrintError(status);
    request.set_page_token(page.next_page_token());
    pages.push_back(std::move(page));
  } while (!request.page_token().empty());
  mast::v1::ListServicesResponse all;
  for (auto& page : pages) {
    for (auto& s : *page.mutable_services()) *all.add_services() = std::move(s);
    all.set_store_version(page.store_version());
  }
  if (OutputFormat() == "json") {
    std::cout << ToJson(all) << "\n";
    return 0;
  }
  std::vector<const mast::v1::Service*> rows;
  for (const auto& s : all.services()) rows.push_back(&s);
  PrintServiceTable(rows);
  return 0;
}

int Scale(const std::string& name, const std::string& count) {
  uint32_t instances = 0;
  if (!absl::SimpleAtoi(count, &instances)) {
    std::fprintf(stderr, "mastctl: scale: N must be a number >= 0, not '%s'\n", count.c_str());
    return 2;
  }
  mast::v1::ScaleServiceRequest request;
  request.set_name(name);
  request.set_instances(instances);
  request.set_expected_version(absl::GetFlag(FLAGS_expected_version));
  request.set_idempotency_key(IdempotencyKey());
  mast::v1::Service service;
  std::string answered_by;
  grpc::Status status = CallAny(
      [&](mast::v1::Mast::Stub& stub, grpc::ClientContext* ctx, mast::v1::Service* r) {
        return stub.ScaleService(ctx, request, r);
      },
      &service, &answered_by);
  if (!status.ok()) return PrintError(status);
  return PrintService(service);
}

int Remove(const std::string& name) {
  mast::v1::DeleteServiceRequest request;
  request.set_name(name);
  request.set_expected_version(absl::GetFlag(FLAGS_expected_version));
  request.set_idempotency_key(IdempotencyKey());
  mast::v1::DeleteServiceResponse response;
  std::string answered_by;
  grpc::Status status = CallAny(
      [&](mast::v1::Mast::Stub& stub, grpc::ClientContext* ctx,
          mast::v1::DeleteServiceResponse* r) { return stub.DeleteService(ctx, request, r); },
      &response, &answered_by);
  if (!status.ok()) return PrintError(status);
  if (OutputFormat() == "json") {
    std::cout << "{}\n";
  } else {
    std::cout << "deleted " << name << "\n";
  }
  return 0;
}

int Leader() {
  mast::v1::GetLeaderResponse response;
  std::string answered_by;
  grpc::Status status = CallAny(
      [](mast::v1::Mast::Stub& stub, grpc::ClientContext* ctx, mast::v1::GetLeaderResponse* r) {
        return stub.GetLeader(ctx, mast::v1::GetLeaderRequest(), r);
      },
      &response, &answered_by);
  if (!status.ok()) return PrintError(status);
  if (OutputFormat() == "json") {
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    options.preserve_proto_field_names = true;
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(response, &json, options);
    std::cout << json << "\n";
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
  std::string answered = absl::StrCat(response.replica_id(),
                                      response.is_leader() ? " (leader)" : " (follower)");
  absl::PrintF("%-24s %-24s %-14s %-26s %s\n", "LEADER", "ADDRESS", "TOKEN", "SINCE",
               "ANSWERED BY");
  absl::PrintF("%-24s %-24s %-14d %-26s %s\n", response.leader_id(), response.leader_address(),
               response.fencing_token(), since, answered);
  return 0;
}

}  // namespace
}  // namespace mast

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(mast::kUsage);
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) {
    return path.find("mastctl/") != absl::string_view::npos;
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  std::string format = mast::OutputFormat();
  if (format != "table" && format != "json") {
    std::fprintf(stderr, "mastctl: --output: must be table or json, not '%s'\n", format.c_str());
    return 2;
  }
  if (args.size() < 2) {
    std::fputs(mast::kUsage, stderr);
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
  if (command == "get") return arity(1, "get NAME") ? mast::Get(args[2]) : 2;
  if (command == "ls") return arity(0, "ls [--prefix=P] [--selector=k=v,...]") ? mast::List() : 2;
  if (command == "scale") return arity(2, "scale NAME N") ? mast::Scale(args[2], args[3]) : 2;
  if (command == "rm") return arity(1, "rm NAME") ? mast::Remove(args[2]) : 2;
  std::fprintf(stderr, "mastctl: unknown command '%s'\n%s", command.c_str(), mast::kUsage);
  return 2;
}
