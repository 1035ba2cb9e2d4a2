// mastctl: the command-line client of the Mast gRPC API.
//
//   mastctl [--endpoint=HOST:PORT[,HOST:PORT...]] [-o table|json] leader
//
// --endpoint takes a comma list; the next replica is tried when one does not
// answer.

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

namespace mast {
namespace {

constexpr char kUsage[] =
    "mastctl: the Mast command-line client.\n"
    "Usage: mastctl [--endpoint=HOST:PORT[,...]] [-o table|json] COMMAND\n"
    "Commands:\n"
    "  leader    who leads the replica set\n";

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
  std::fprintf(stderr, "mastctl: unknown command '%s'\n%s", command.c_str(), mast::kUsage);
  return 2;
}
