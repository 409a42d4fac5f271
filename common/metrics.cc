// PLACEHOLDER (issue 6 skeleton).
#include "common/metrics.h"

#include "absl/flags/flag.h"
#include "absl/status/status.h"

ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT to serve Prometheus metrics on at /metrics (port 0: a free one). Empty: "
          "no metrics endpoint.");

namespace okr {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(absl::string_view) {
  return absl::UnimplementedError("metrics are not built yet");
}

void InstallServerMetrics(grpc::ServerBuilder&, absl::string_view) {}

std::string MetricsListenFromFlags() { return absl::GetFlag(FLAGS_metrics_listen); }

}  // namespace okr
