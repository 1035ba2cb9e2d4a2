#include "mastctl/client.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/store_version.h"
#include "google/protobuf/util/json_util.h"
#include "mastctl/error_format.h"
#include "mastctl/rollout_format.h"
#include "tls/tls_files.h"

ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token sent with every call (see mastd --auth_tokens_file).");
ABSL_FLAG(std::string, ca, "",
          "PEM bundle of the CAs that sign the replicas' certificates: dial with TLS (also "
          "implied by --cert; without --ca the system roots verify the server).");
ABSL_FLAG(std::string, cert, "", "PEM client certificate for mutual TLS (with --key).");
ABSL_FLAG(std::string, key, "", "PEM private key of --cert.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name the replicas' certificates carry, when it is not the host dialled.");

namespace mast::ctl {

namespace {
std::string bearer_token;  // from --token_file; empty: none
// From --ca, --cert, --key: TLS when set.
std::optional<tls::ChannelFiles> tls_files;
std::shared_ptr<grpc::ChannelCredentials> tls_credentials;
}  // namespace

absl::Status LoadCredentials() {
  if (!absl::GetFlag(FLAGS_ca).empty() || !absl::GetFlag(FLAGS_cert).empty() ||
      !absl::GetFlag(FLAGS_key).empty()) {
    tls::ChannelFiles files{absl::GetFlag(FLAGS_ca), absl::GetFlag(FLAGS_cert),
                            absl::GetFlag(FLAGS_key), absl::GetFlag(FLAGS_tls_server_name)};
    if (absl::Status s = tls::CheckChannelFiles(files); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--ca/--cert/--key: ", s.message()));
    }
    tls_credentials = tls::MakeChannelCredentials(files);
    tls_files = std::move(files);
  }
  const std::string path = absl::GetFlag(FLAGS_token_file);
  if (path.empty()) return absl::OkStatus();
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--token_file: cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  bearer_token = std::string(absl::StripAsciiWhitespace(text.str()));
  if (bearer_token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--token_file: ", path, " is empty"));
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> Dial(const std::string& endpoint, grpc::ChannelArguments args) {
  if (!tls_files.has_value()) {
    return grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
  }
  if (!tls_files->server_name.empty()) args.SetSslTargetNameOverride(tls_files->server_name);
  return grpc::CreateCustomChannel(endpoint, tls_credentials, args);
}

void AddCredentials(grpc::ClientContext& context) {
  // Metadata rather than call credentials: gRPC sends those only on TLS
  // channels, and a token over plaintext is the operator's choice.
  if (!bearer_token.empty()) context.AddMetadata("authorization", "Bearer " + bearer_token);
}

std::string OutputFormat() {
  std::string o = absl::GetFlag(FLAGS_o);
  return o.empty() ? absl::GetFlag(FLAGS_output) : o;
}

std::vector<std::string> Endpoints() {
  return absl::StrSplit(absl::GetFlag(FLAGS_endpoint), ',', absl::SkipEmpty());
}

// The store version a write answered with (its trailing metadata), or 0.
int64_t WrittenStoreVersion(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(mast::kStoreVersionTrailer);
  int64_t version = 0;
  if (it == trailers.end() ||
      !absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &version)) {
    return 0;
  }
  return version;
}

// The newest store version a write of this invocation answered with. Every
// read made after it asks for it (MinStoreVersion), so that a command that
// writes and then reads sees its own write, whichever endpoint answers.
int64_t written_store_version = 0;

// A read's min_store_version: --min_store_version, or this invocation's
// last write if newer.
int64_t MinStoreVersion() {
  return std::max(absl::GetFlag(FLAGS_min_store_version), written_store_version);
}

bool IsDefiniteRefusal(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return true;
    default:
      return false;
  }
}

int PrintError(const grpc::Status& status) {
  std::fprintf(stderr, "mastctl: %s\n",
               ErrorText(status.error_code(), status.error_message()).c_str());
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

std::string ServiceState(const mast::v1::Service& service) {
  if (service.deleting()) return "deleting";
  if (!service.status().deployment_id().empty()) {
    const bool paused = service.deployment().state() == mast::v1::Deployment::PAUSED;
    return absl::StrCat(paused ? "paused " : "deploying ", service.status().deployment_id());
  }
  if (service.status().running() + service.status().staged() != service.spec().instances()) {
    return "scaling";
  }
  return "stable";
}

void PrintServiceTable(const std::vector<const mast::v1::Service*>& services) {
  absl::PrintF("%-32s %-8s %-10s %-8s %-6s %-9s %-14s %-21s %s\n", "NAME", "VERSION", "INSTANCES",
               "RUNNING", "CPUS", "MEM_MIB", "STATE", "UPDATED", "COMMAND");
  for (const mast::v1::Service* s : services) {
    const mast::v1::ServiceSpec& spec = s->spec();
    std::string command = spec.command().has_argv()
                              ? absl::StrJoin(spec.command().argv().args(), " ")
                              : spec.command().shell();
    if (command.size() > 40) command = command.substr(0, 37) + "...";
    absl::PrintF("%-32s %-8d %-10d %-8d %-6g %-9g %-14s %-21s %s\n", spec.name(), s->version(),
                 spec.instances(), s->status().running(), spec.resources().cpus(),
                 spec.resources().mem_mib(), ServiceState(*s), FormatTimestamp(s->updated()),
                 command);
  }
}

void PrintPlacement(const mast::v1::Service& service) {
  if (!service.status().has_placement()) return;
  const mast::v1::PlacementStatus& placement = service.status().placement();
  std::vector<std::string> refused;
  for (const auto& refusal : placement.refused()) {
    refused.push_back(absl::StrCat(refusal.offers(), " ", refusal.requirement()));
  }
  absl::PrintF("\nWAITING  %d task(s) not placed since %s; of %d offer(s) refused: %s\n",
               placement.waiting(), FormatTimestamp(placement.since()), placement.offers(),
               refused.empty() ? "-" : absl::StrJoin(refused, ", "));
  for (const auto& offer : placement.last_offers()) {
    absl::PrintF("  %-32s %s\n", offer.agent(), offer.requirement());
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

// Says on stderr at which store version the write was made, for later
// reads that must see it (--min_store_version).
void PrintStoreVersion() {
  if (written_store_version <= 0) return;
  std::fprintf(
      stderr, "mastctl: written at store version %lld (--min_store_version=%lld reads it)\n",
      static_cast<long long>(written_store_version), static_cast<long long>(written_store_version));
}

}  // namespace mast::ctl
