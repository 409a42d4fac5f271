#include "common/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of this process: a server's certificate (turns TLS on), and "
          "the client certificate (mTLS) of its calls made with --tls_ca. Re-read every "
          "minute.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert (unencrypted).");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle that client certificates must chain to; turns mTLS on (needs "
          "--tls_cert).");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle to verify the services this one calls; turns TLS on for them.");
ABSL_FLAG(std::string, health_listen, "",
          "HOST:PORT of a plaintext grpc.health.v1-only port (for Kubernetes probes when TLS "
          "is on). Empty: none.");

namespace okr {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

absl::Status FlagError(absl::string_view flag, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", message));
}

absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return FlagError(flag, absl::StrCat("cannot read '", path, "': ", std::strerror(errno)));
  }
  std::string contents;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) contents.append(buffer, n);
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return FlagError(flag, absl::StrCat("cannot read '", path, "'"));
  return contents;
}

BioPtr MemoryBio(const std::string& contents) {
  return BioPtr(BIO_new_mem_buf(contents.data(), static_cast<int>(contents.size())));
}

// Every PEM certificate of the file must parse, and there must be one; the
// first is returned (the leaf, for a chain).
absl::StatusOr<X509Ptr> ReadCertificates(absl::string_view flag, const std::string& path) {
  OKR_ASSIGN_OR_RETURN(const std::string contents, ReadFlagFile(flag, path));
  BioPtr bio = MemoryBio(contents);
  X509Ptr first;
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (first == nullptr) {
      first.reset(cert);
    } else {
      X509_free(cert);
    }
    ++count;
  }
  // The loop ends on an error (PEM_R_NO_START_LINE at the end of the data):
  // it must not linger in this thread's queue for gRPC's next TLS call.
  ERR_clear_error();
  if (count == 0) {
    return FlagError(flag, absl::StrCat("'", path,
                                        "' holds no PEM certificate (expected "
                                        "-----BEGIN CERTIFICATE-----)"));
  }
  return first;
}

// Refuses to prompt for a passphrase: a server has no terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

absl::StatusOr<PkeyPtr> ReadPrivateKey(absl::string_view flag, const std::string& path) {
  OKR_ASSIGN_OR_RETURN(const std::string contents, ReadFlagFile(flag, path));
  BioPtr bio = MemoryBio(contents);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return FlagError(flag, absl::StrCat("'", path,
                                        "' holds no unencrypted PEM private key (expected "
                                        "-----BEGIN PRIVATE KEY----- or similar)"));
  }
  return key;
}

// The certificate and key must both be there, parse, and belong together.
absl::Status CheckKeyPair(const TlsConfig& config) {
  OKR_ASSIGN_OR_RETURN(const X509Ptr cert, ReadCertificates("tls_cert", config.cert_file));
  OKR_ASSIGN_OR_RETURN(const PkeyPtr key, ReadPrivateKey("tls_key", config.key_file));
  const bool match = X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  if (!match) {
    return FlagError("tls_key", absl::StrCat("'", config.key_file,
                                             "' is not the private key of the certificate in '",
                                             config.cert_file, "' (--tls_cert)"));
  }
  return absl::OkStatus();
}

unsigned RefreshSeconds(const TlsConfig& config) {
  return static_cast<unsigned>(
      std::max<int64_t>(1, absl::ToInt64Seconds(config.refresh_interval)));
}

}  // namespace

absl::Status ValidateTlsConfig(const TlsConfig& config) {
  if (!config.key_file.empty() && config.cert_file.empty()) {
    return FlagError("tls_key", "given without --tls_cert, the certificate it belongs to");
  }
  if (!config.cert_file.empty() && config.key_file.empty()) {
    return FlagError("tls_cert", "given without --tls_key, its private key");
  }
  if (!config.client_ca_file.empty() && config.cert_file.empty()) {
    return FlagError("tls_client_ca",
                     "mTLS needs TLS: give --tls_cert and --tls_key (this server's own "
                     "certificate) too");
  }
  if (!config.cert_file.empty()) OKR_RETURN_IF_ERROR(CheckKeyPair(config));
  if (!config.client_ca_file.empty()) {
    OKR_RETURN_IF_ERROR(ReadCertificates("tls_client_ca", config.client_ca_file).status());
  }
  if (!config.ca_file.empty()) {
    OKR_RETURN_IF_ERROR(ReadCertificates("tls_ca", config.ca_file).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<TlsConfig> TlsConfigFromFlags() {
  TlsConfig config;
  config.cert_file = absl::GetFlag(FLAGS_tls_cert);
  config.key_file = absl::GetFlag(FLAGS_tls_key);
  config.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  config.ca_file = absl::GetFlag(FLAGS_tls_ca);
  config.health_listen = absl::GetFlag(FLAGS_health_listen);
  OKR_RETURN_IF_ERROR(ValidateTlsConfig(config));
  return config;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const TlsConfig& config) {
  OKR_RETURN_IF_ERROR(ValidateTlsConfig(config));
  if (!config.server_tls()) return grpc::InsecureServerCredentials();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      config.key_file, config.cert_file, config.client_ca_file, RefreshSeconds(config));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!config.client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const TlsConfig& config) {
  OKR_RETURN_IF_ERROR(ValidateTlsConfig(config));
  if (!config.client_tls()) return grpc::InsecureChannelCredentials();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      config.key_file, config.cert_file, config.ca_file, RefreshSeconds(config));
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (config.server_tls()) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::experimental::TlsCredentials(options);
  if (credentials == nullptr) {
    return absl::InternalError("gRPC refused the TLS channel options");
  }
  return credentials;
}

}  // namespace okr
