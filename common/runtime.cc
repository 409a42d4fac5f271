#include "common/runtime.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace okr {

std::vector<std::string> WithRuntimeEnvFlags(std::initializer_list<const char*> names) {
  std::vector<std::string> out(names.begin(), names.end());
  for (const char* name : kAuthFlagNames) out.emplace_back(name);
  for (const char* name : kTlsFlagNames) out.emplace_back(name);
  for (const char* name : kMetricsFlagNames) out.emplace_back(name);
  return out;
}

absl::StatusOr<std::unique_ptr<ServiceRuntime>> ServiceRuntime::FromFlags(
    absl::string_view service_name) {
  std::unique_ptr<ServiceRuntime> runtime(new ServiceRuntime());
  runtime->service_name_ = std::string(service_name);
  OKR_ASSIGN_OR_RETURN(runtime->authenticator_, AuthenticatorFromFlags());
  OKR_ASSIGN_OR_RETURN(runtime->service_token_, ServiceTokenFromFlags());
  OKR_ASSIGN_OR_RETURN(runtime->tls_, TlsConfigFromFlags());
  runtime->metrics_listen_ = MetricsListenFromFlags();
  if (!runtime->authenticator_->enabled()) {
    LogWarn("AUTH IS OFF (--auth=false): every caller may read and change every organisation; "
            "for local development only");
  }
  return runtime;
}

ServiceRuntime::~ServiceRuntime() { Stop(); }

absl::Status ServiceRuntime::ConfigureServer(ServerOptions& options) const {
  // Without TLS the server keeps its default (insecure) credentials, so its
  // "server started" line reports "tls":false.
  if (tls_.server_tls()) {
    OKR_ASSIGN_OR_RETURN(options.credentials, ServerCredentialsFor(tls_));
  }
  options.health_listen_address = tls_.health_listen;
  std::function<void(grpc::ServerBuilder&)> previous = std::move(options.configure_builder);
  options.configure_builder = [previous = std::move(previous),
                               service = service_name_](grpc::ServerBuilder& builder) {
    InstallServerMetrics(builder, service);
    if (previous) previous(builder);
  };
  return absl::OkStatus();
}

absl::StatusOr<PeerCredentials> ServiceRuntime::PeerCredentialsFor() const {
  PeerCredentials credentials;
  OKR_ASSIGN_OR_RETURN(credentials.channel, ChannelCredentialsFor(tls_));
  std::shared_ptr<ServiceToken> token = service_token_;
  credentials.token = [token] { return token->Get(); };
  return credentials;
}

absl::Status ServiceRuntime::Start(Server& server, std::function<absl::Status()> store_probe) {
  if (!metrics_listen_.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> metrics = MetricsServer::Start(metrics_listen_);
    if (!metrics.ok()) {
      return absl::Status(metrics.status().code(),
                          absl::StrCat("metrics_listen: ", metrics.status().message()));
    }
    metrics_server_ = *std::move(metrics);
    LogInfo("metrics serving", {{"metrics_listen", metrics_listen_},
                                {"metrics_port", metrics_server_->port()}});
  }
  health_watch_ = HealthWatch::Start(&server, std::move(store_probe), kHealthInterval);
  return absl::OkStatus();
}

void ServiceRuntime::Stop() {
  if (health_watch_ != nullptr) health_watch_->Stop();
  if (metrics_server_ != nullptr) metrics_server_->Stop();
}

}  // namespace okr
