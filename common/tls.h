// TLS and mTLS for the services' gRPC ports and for their calls to each other.
//
// Server side: --tls_cert and --tls_key (PEM files) turn TLS on; --tls_client_ca
// additionally requires and verifies a client certificate (mTLS). Kubernetes'
// gRPC probes do not speak TLS, so --health_listen serves only grpc.health.v1
// in plaintext on a second port, mirroring the main server's health (see
// ServerOptions::health_listen_address in common/server.h).
//
// Client side (calls to planning / tracking, okrctl, okr-reminder-job):
// --tls_ca verifies the peer; with mTLS the process presents --tls_cert /
// --tls_key as its client certificate. A service's one certificate is thus
// both its server and its client identity: when it carries an extended key
// usage, it must allow both serverAuth and clientAuth.
//
// Rotation: the files are checked once at start (so a typo fails fast, with
// the flag's name), and the credentials then watch them with gRPC's
// FileWatcherCertificateProvider, re-reading them every
// kCertificateRefreshInterval (an experimental gRPC API, stable in 1.51). Replacing the files in place (a Kubernetes
// Secret volume does, atomically) reaches new handshakes without a restart;
// connections already open keep the certificate they were made with.
#ifndef OKR_COMMON_TLS_H_
#define OKR_COMMON_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace okr {

// How often the credentials re-read their files (gRPC's file watcher).
inline constexpr absl::Duration kCertificateRefreshInterval = absl::Minutes(1);

struct TlsConfig {
  std::string cert_file;       // --tls_cert
  std::string key_file;        // --tls_key
  std::string client_ca_file;  // --tls_client_ca: mTLS when set
  std::string ca_file;         // --tls_ca: verify the services this one calls
  std::string health_listen;   // --health_listen: plaintext health-only port
  // How often the files are re-read; whole seconds, at least one. Tests
  // shorten it to see a rotation.
  absl::Duration refresh_interval = kCertificateRefreshInterval;

  bool server_tls() const { return !cert_file.empty(); }
  bool client_tls() const { return !ca_file.empty(); }
};

// Checks a config without starting anything: INVALID_ARGUMENT naming the
// flag for a certificate without its key (or the reverse), a client CA
// without a server certificate, a file that cannot be read or holds no PEM
// certificate (CA bundles too) or private key, or a key that does not belong
// to the certificate.
absl::Status ValidateTlsConfig(const TlsConfig& config);

// Reads the flags and validates them (ValidateTlsConfig).
absl::StatusOr<TlsConfig> TlsConfigFromFlags();

// Validates the config first (ValidateTlsConfig). Then insecure credentials
// when it has no certificate; otherwise TLS with the certificate, requiring
// and verifying a client certificate signed by client_ca_file when that is
// set.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const TlsConfig& config);

// Validates the config first (ValidateTlsConfig). Then insecure credentials
// when it has no CA; otherwise TLS verifying the peer against ca_file (chain
// and host name: the host dialled must be in the peer certificate's
// subjectAltName), presenting cert_file / key_file as the client
// certificate when they are set.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const TlsConfig& config);

inline constexpr const char* kTlsFlagNames[] = {"tls_cert", "tls_key", "tls_client_ca", "tls_ca",
                                                "health_listen"};

}  // namespace okr

#endif  // OKR_COMMON_TLS_H_
