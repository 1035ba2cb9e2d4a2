#pragma once

// The client side shared by mastctl's commands: the endpoints and how a
// call goes to them, the output helpers. Single-threaded (one invocation).

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "mast/v1/mast.grpc.pb.h"

ABSL_DECLARE_FLAG(std::string, endpoint);
ABSL_DECLARE_FLAG(std::string, output);
ABSL_DECLARE_FLAG(std::string, o);
ABSL_DECLARE_FLAG(absl::Duration, timeout);
ABSL_DECLARE_FLAG(uint64_t, expected_version);
ABSL_DECLARE_FLAG(int64_t, min_store_version);
ABSL_DECLARE_FLAG(std::string, idempotency_key);
ABSL_DECLARE_FLAG(bool, force);
ABSL_DECLARE_FLAG(std::string, token_file);

namespace mast::ctl {

// Reads --token_file (the token alone; surrounding whitespace dropped) and
// checks --ca, --cert, --key; an error names the flag. Called once, before
// any call.
absl::Status LoadCredentials();
// A channel to `endpoint` with this invocation's channel credentials (TLS
// when --ca or --cert is given).
std::shared_ptr<grpc::Channel> Dial(const std::string& endpoint, grpc::ChannelArguments args = {});
// Adds this invocation's call credentials (the bearer token) to `context`.
void AddCredentials(grpc::ClientContext& context);

// table or json (--output, -o).
std::string OutputFormat();
// --endpoint's list.
std::vector<std::string> Endpoints();

// The store version a write answered with (its trailing metadata), or 0.
int64_t WrittenStoreVersion(const grpc::ClientContext& context);
// The newest store version a write of this invocation answered with. Every
// read made after it asks for it (MinStoreVersion), so that a command that
// writes and then reads sees its own write, whichever endpoint answers.
extern int64_t written_store_version;
// A read's min_store_version: --min_store_version, or this invocation's
// last write if newer.
int64_t MinStoreVersion();

// A refusal that retrying elsewhere will not change (INVALID_ARGUMENT,
// UNIMPLEMENTED, PERMISSION_DENIED, UNAUTHENTICATED): streams end on it.
bool IsDefiniteRefusal(const grpc::Status& status);
// "mastctl: <CODE>: <message>" on stderr; returns the exit code 1.
int PrintError(const grpc::Status& status);
std::string ToJson(const google::protobuf::Message& message);
// --idempotency_key, or a random one.
std::string IdempotencyKey();

// "deleting", "deploying <id>" / "paused <id>" (a deployment is active),
// "scaling" (tasks are started or stopped), or "stable".
std::string ServiceState(const mast::v1::Service& service);
void PrintServiceTable(const std::vector<const mast::v1::Service*>& services);
// After a service's table (mastctl get): why its waiting tasks are not
// placed (status.placement), if they are not.
void PrintPlacement(const mast::v1::Service& service);
int PrintService(const mast::v1::Service& service);
// Says on stderr at which store version the write was made, for later
// reads that must see it (--min_store_version).
void PrintStoreVersion();

// A unary method of the stub, e.g. &mast::v1::Mast::Stub::GetService.
template <typename Request, typename Response>
using Rpc = grpc::Status (mast::v1::Mast::Stub::*)(grpc::ClientContext*, const Request&, Response*);

// Calls `rpc` on each endpoint in turn until one answers (any status but
// UNAVAILABLE / DEADLINE_EXCEEDED counts as an answer); `answered_by` (if
// given) names it. Notes a write's store version in written_store_version.
template <typename Request, typename Response>
grpc::Status Call(Rpc<Request, Response> rpc, const Request& request, Response* response,
                  std::string* answered_by = nullptr) {
  grpc::Status last(grpc::StatusCode::UNAVAILABLE, "no endpoint given");
  for (const std::string& endpoint : Endpoints()) {
    auto stub = mast::v1::Mast::NewStub(Dial(endpoint));
    grpc::ClientContext context;
    AddCredentials(context);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_timeout)));
    last = ((*stub).*rpc)(&context, request, response);
    if (last.ok() || (last.error_code() != grpc::StatusCode::UNAVAILABLE &&
                      last.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED)) {
      if (answered_by != nullptr) *answered_by = endpoint;
      written_store_version = std::max(written_store_version, WrittenStoreVersion(context));
      return last;
    }
    std::fprintf(stderr, "mastctl: %s: %s\n", endpoint.c_str(), last.error_message().c_str());
  }
  return last;
}

// Calls a paged list RPC (page_token / next_page_token) from the first page
// to the last; `all` gets every page's items and the last store version.
template <typename Request, typename Response>
grpc::Status AllPages(Rpc<Request, Response> rpc, Request request, Response* all) {
  do {
    Response page;
    grpc::Status status = Call(rpc, request, &page);
    if (!status.ok()) return status;
    request.set_page_token(page.next_page_token());
    all->MergeFrom(page);  // appends the items; the last store_version wins
  } while (!request.page_token().empty());
  all->clear_next_page_token();
  return grpc::Status::OK;
}

// Runs a write answered with the service, and prints the service.
template <typename Request>
int WriteService(Rpc<Request, mast::v1::Service> rpc, const Request& request) {
  mast::v1::Service service;
  grpc::Status status = Call(rpc, request, &service);
  if (!status.ok()) return PrintError(status);
  PrintStoreVersion();
  return PrintService(service);
}

}  // namespace mast::ctl
