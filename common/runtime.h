// What every OKR service process shares beyond the gRPC bootstrap: the flags
// for auth, TLS and metrics, and the objects they make. A main builds one
// ServiceRuntime after InitMain() and uses it to configure its server, its
// clients of other services and its adapters:
//
//   okr::InitMain(argc, argv, {..., .env_flags = okr::WithRuntimeEnvFlags({"listen", ...})});
//   auto runtime = okr::ServiceRuntime::FromFlags("tracking");   // exit 2 on error
//   ServiceClientOptions planning{...};
//   planning.credentials = *(*runtime)->PeerCredentialsFor();  // TLS + token
//   TrackingGrpcService service(&tracking, &pool, (*runtime)->authenticator());
//   ServerOptions options{...};
//   (*runtime)->ConfigureServer(options);          // TLS, health port, RPC metrics
//   auto server = okr::Server::Start(options, {&service});
//   (*runtime)->Start(**server, [&] { return store->CheckHealth(); });  // /metrics, health
//   ... wait for the signal ...
//   (*runtime)->Stop();
#ifndef OKR_COMMON_RUNTIME_H_
#define OKR_COMMON_RUNTIME_H_

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/health_watch.h"
#include "common/metrics.h"
#include "common/server.h"
#include "common/service_client.h"
#include "common/tls.h"

namespace okr {

// `names` plus the runtime's own flags, for MainOptions::env_flags.
std::vector<std::string> WithRuntimeEnvFlags(std::initializer_list<const char*> names);

class ServiceRuntime {
 public:
  // Reads the auth, TLS and metrics flags. INVALID_ARGUMENT naming the flag
  // for a bad value (a main exits 2).
  static absl::StatusOr<std::unique_ptr<ServiceRuntime>> FromFlags(absl::string_view service_name);

  // How often Start()'s health watch probes the store.
  static constexpr absl::Duration kHealthInterval = absl::Seconds(2);

  const Authenticator& authenticator() const { return *authenticator_; }
  const TlsConfig& tls() const { return tls_; }

  // TLS credentials, the plaintext health port and the RPC metrics
  // interceptor. Call before Server::Start.
  absl::Status ConfigureServer(ServerOptions& options) const;

  // TLS credentials and the service token for calls to another service.
  absl::StatusOr<PeerCredentials> PeerCredentialsFor() const;

  // Starts /metrics (when --metrics_listen is set, logging "metrics serving"
  // with its port) and the health watch of `store_probe`.
  absl::Status Start(Server& server, std::function<absl::Status()> store_probe);

  // Stops the health watch and /metrics. Idempotent.
  void Stop();

  ~ServiceRuntime();

 private:
  ServiceRuntime() = default;

  std::string service_name_;
  std::unique_ptr<Authenticator> authenticator_;
  std::shared_ptr<ServiceToken> service_token_;
  TlsConfig tls_;
  std::string metrics_listen_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::unique_ptr<HealthWatch> health_watch_;
};

}  // namespace okr

#endif  // OKR_COMMON_RUNTIME_H_
