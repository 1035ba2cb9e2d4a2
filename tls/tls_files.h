#pragma once

// TLS for Mast's gRPC: the replicas' server (TLS, optionally mutual), the
// follower-to-leader forwarding channel and mastctl's channel, all from PEM
// files.
//
// The credentials made here watch their files (gRPC's
// FileWatcherCertificateProvider): a certificate, key or CA bundle replaced
// on disk (cert-manager renewing a Kubernetes Secret, an operator's
// `install`) is picked up within `reload_interval` by new handshakes,
// without a restart; a replacement that does not parse is logged by gRPC
// and the previous one stays in use. At start the files are checked here
// (parse, key matches certificate), since gRPC would only fail handshakes.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace mast::tls {

struct ServerFiles {
  std::string cert_file;  // PEM chain, leaf first; required
  std::string key_file;   // PEM private key of the leaf; required
  // PEM bundle of the CAs whose client certificates are accepted; empty:
  // client certificates are not requested.
  std::string client_ca_file;
  // With client_ca_file: a client without a valid certificate is refused
  // in the handshake (true), or may still call and be authenticated by a
  // token (false; a certificate it presents must still verify).
  bool require_client_cert = false;
  absl::Duration reload_interval = absl::Minutes(1);
};

struct ChannelFiles {
  // PEM bundle of the CAs that sign the servers' certificates; empty: the
  // system's roots.
  std::string ca_file;
  // This side's certificate and key for mutual TLS; both or neither.
  std::string cert_file;
  std::string key_file;
  // The name the server's certificate must carry instead of the dialled
  // host (a certificate issued to the service name, not to each address);
  // empty: the host dialled.
  std::string server_name;
  absl::Duration reload_interval = absl::Minutes(1);
};

// INVALID_ARGUMENT naming the file and the flag-like role ("certificate",
// "key", "CA bundle") when a file is missing, unreadable, not PEM, or when
// the key is not the certificate's.
absl::Status CheckServerFiles(const ServerFiles& files);
absl::Status CheckChannelFiles(const ChannelFiles& files);

// Credentials over the files; check them first (the functions above).
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const ServerFiles& files);
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const ChannelFiles& files);
// The channel arguments `files` needs (the server name override).
grpc::ChannelArguments ChannelArgumentsFor(const ChannelFiles& files);

// The notAfter time of the first certificate in a PEM file.
absl::StatusOr<absl::Time> CertificateNotAfter(const std::string& cert_file);

}  // namespace mast::tls
