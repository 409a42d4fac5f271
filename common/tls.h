// TLS and mTLS for the services' gRPC ports and for their calls to each other.
//
// Server side: --tls_cert and --tls_key (PEM files) turn TLS on; --tls_client_ca
// additionally requires and verifies a client certificate (mTLS). Kubernetes'
// gRPC probes do not speak TLS, so --health_listen serves only grpc.health.v1
// in plaintext on a second port, mirroring the main server's health.
//
// Client side (calls to planning / tracking, okrctl, okr-reminder-job):
// --tls_ca verifies the peer; with mTLS the process presents --tls_cert /
// --tls_key as its client certificate.
#ifndef OKR_COMMON_TLS_H_
#define OKR_COMMON_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace okr {

struct TlsConfig {
  std::string cert_file;       // --tls_cert
  std::string key_file;        // --tls_key
  std::string client_ca_file;  // --tls_client_ca: mTLS when set
  std::string ca_file;         // --tls_ca: verify the services this one calls
  std::string health_listen;   // --health_listen: plaintext health-only port

  bool server_tls() const { return !cert_file.empty(); }
  bool client_tls() const { return !ca_file.empty(); }
};

// Reads the flags; INVALID_ARGUMENT naming the flag for a cert without a key
// (or the reverse), a client CA without a cert, or an unreadable file.
absl::StatusOr<TlsConfig> TlsConfigFromFlags();

// Insecure credentials when the config has no certificate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const TlsConfig& config);

// Insecure credentials when the config has no CA.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const TlsConfig& config);

inline constexpr const char* kTlsFlagNames[] = {"tls_cert", "tls_key", "tls_client_ca", "tls_ca",
                                                "health_listen"};

}  // namespace okr

#endif  // OKR_COMMON_TLS_H_
