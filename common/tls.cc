// PLACEHOLDER (issue 6 skeleton): flags only; credentials are insecure until
// the TLS work lands.
#include "common/tls.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of this server; turns TLS on.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle that client certificates must chain to; turns mTLS on.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle to verify the services this one calls; turns TLS on for them.");
ABSL_FLAG(std::string, health_listen, "",
          "HOST:PORT of a plaintext grpc.health.v1-only port (for Kubernetes probes when TLS "
          "is on). Empty: none.");

namespace okr {

absl::StatusOr<TlsConfig> TlsConfigFromFlags() {
  TlsConfig config;
  config.cert_file = absl::GetFlag(FLAGS_tls_cert);
  config.key_file = absl::GetFlag(FLAGS_tls_key);
  config.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  config.ca_file = absl::GetFlag(FLAGS_tls_ca);
  config.health_listen = absl::GetFlag(FLAGS_health_listen);
  return config;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(const TlsConfig&) {
  return grpc::InsecureServerCredentials();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(const TlsConfig&) {
  return grpc::InsecureChannelCredentials();
}

}  // namespace okr
