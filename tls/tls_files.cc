#include "tls/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/support/channel_arguments.h"

namespace mast::tls {

namespace {

// The last OpenSSL error, for messages ("" if none).
std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return absl::StrCat(" (", text, ")");
}

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": cannot read"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

Bio MemoryBio(const std::string& text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// The first certificate of a PEM file, and how many it holds.
absl::StatusOr<Certificate> ReadCertificates(const std::string& path, absl::string_view what,
                                             int* count = nullptr) {
  absl::StatusOr<std::string> text = ReadFile(path, what);
  if (!text.ok()) return text.status();
  Bio bio = MemoryBio(*text);
  Certificate first(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (first == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, ": no PEM certificate in it", OpenSslError()));
  }
  int n = 1;
  while (Certificate more{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) ++n;
  ERR_clear_error();  // the end of the file reads as an error
  if (count != nullptr) *count = n;
  return first;
}

absl::Status CheckKeyPair(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a certificate needs its key and a key its certificate (certificate '",
                     cert_file, "', key '", key_file, "')"));
  }
  if (cert_file.empty()) return absl::OkStatus();
  absl::StatusOr<Certificate> cert = ReadCertificates(cert_file, "certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key_text = ReadFile(key_file, "key");
  if (!key_text.ok()) return key_text.status();
  Bio bio = MemoryBio(*key_text);
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("key ", key_file, ": no unencrypted PEM private key in it", OpenSslError()));
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("key ", key_file, " is not the key of certificate ", cert_file));
  }
  return absl::OkStatus();
}

absl::Status CheckCaBundle(const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  return ReadCertificates(path, "CA bundle").status();
}

unsigned int Seconds(absl::Duration d) {
  return static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(d)));
}

}  // namespace

absl::Status CheckServerFiles(const ServerFiles& files) {
  if (files.cert_file.empty()) {
    return absl::InvalidArgumentError("a TLS server needs a certificate and its key");
  }
  if (absl::Status s = CheckKeyPair(files.cert_file, files.key_file); !s.ok()) return s;
  if (files.require_client_cert && files.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "requiring client certificates needs the CA bundle that signs them");
  }
  return CheckCaBundle(files.client_ca_file);
}

absl::Status CheckChannelFiles(const ChannelFiles& files) {
  if (absl::Status s = CheckKeyPair(files.cert_file, files.key_file); !s.ok()) return s;
  return CheckCaBundle(files.ca_file);
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const ServerFiles& files) {
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.client_ca_file, Seconds(files.reload_interval));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (files.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(files.require_client_cert
                                      ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const ChannelFiles& files) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  if (!files.ca_file.empty() || !files.cert_file.empty()) {
    options.set_certificate_provider(
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            files.key_file, files.cert_file, files.ca_file, Seconds(files.reload_interval)));
    if (!files.ca_file.empty()) options.watch_root_certs();
    if (!files.cert_file.empty()) options.watch_identity_key_cert_pairs();
  }
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

grpc::ChannelArguments ChannelArgumentsFor(const ChannelFiles& files) {
  grpc::ChannelArguments args;
  if (!files.server_name.empty()) args.SetSslTargetNameOverride(files.server_name);
  return args;
}

absl::StatusOr<absl::Time> CertificateNotAfter(const std::string& cert_file) {
  absl::StatusOr<Certificate> cert = ReadCertificates(cert_file, "certificate");
  if (!cert.ok()) return cert.status();
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert->get()), &tm) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate ", cert_file, ": unreadable notAfter", OpenSslError()));
  }
  return absl::FromTimeT(timegm(&tm));
}

}  // namespace mast::tls
