#include "api/leader_forwarder.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "auth/access.h"

namespace mast {
namespace {

// Headers gRPC sets itself; copying them would break or confuse the call.
bool Reserved(absl::string_view key) {
  return key.empty() || key[0] == ':' || absl::StartsWith(key, "grpc-") || key == "te" ||
         key == "content-type" || key == "user-agent" || key == "host" ||
         key == kForwardedByHeader || key == auth::kOnBehalfOfHeader;
}

}  // namespace

LeaderForwarder::LeaderForwarder(ChannelFactory factory) : factory_(std::move(factory)) {
  if (!factory_) {
    factory_ = [](const std::string& address) -> std::shared_ptr<grpc::ChannelInterface> {
      return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    };
  }
}

void LeaderForwarder::OnNewLeader(const std::optional<LeaderInfo>& leader) {
  if (!leader.has_value()) {
    absl::MutexLock lock(&mu_);
    address_.clear();
    stub_.reset();
    return;
  }
  StubFor(leader->address);
}

std::shared_ptr<v1::Mast::Stub> LeaderForwarder::StubFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  if (stub_ == nullptr || address_ != address) {
    address_ = address;
    stub_ = std::shared_ptr<v1::Mast::Stub>(v1::Mast::NewStub(factory_(address)));
  }
  return stub_;
}

std::unique_ptr<grpc::ClientContext> LeaderForwarder::ForwardContext(
    const grpc::CallbackServerContext& server, absl::string_view replica_id,
    absl::string_view on_behalf_of) {
  std::unique_ptr<grpc::ClientContext> context =
      grpc::ClientContext::FromCallbackServerContext(server);
  for (const auto& [key_ref, value_ref] : server.client_metadata()) {
    std::string key(key_ref.data(), key_ref.size());
    if (Reserved(key)) continue;
    context->AddMetadata(key, std::string(value_ref.data(), value_ref.size()));
  }
  context->AddMetadata(kForwardedByHeader, std::string(replica_id));
  if (!on_behalf_of.empty()) {
    context->AddMetadata(auth::kOnBehalfOfHeader, std::string(on_behalf_of));
  }
  return context;
}

}  // namespace mast
