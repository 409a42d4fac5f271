// Prometheus metrics: a process-wide registry of counters, gauges and
// histograms with labels, the text exposition format served at /metrics on
// --metrics_listen, and a gRPC server interceptor that counts every RPC and
// observes its latency by method and status code.
//
// PLACEHOLDER (issue 6 skeleton): the observability work defines the
// registry API here; runtime.cc only needs the two entry points below.
#ifndef OKR_COMMON_METRICS_H_
#define OKR_COMMON_METRICS_H_

#include <grpcpp/server_builder.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace okr {

// The HTTP endpoint serving /metrics.
class MetricsServer {
 public:
  virtual ~MetricsServer() = default;
  // Starts serving the process registry on "HOST:PORT" (port 0: a free one).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(absl::string_view listen);
  virtual int port() const = 0;
  virtual void Stop() = 0;
};

// Adds the RPC metrics interceptor (okr_rpc_* families, labelled with
// `service`) to a server being built.
void InstallServerMetrics(grpc::ServerBuilder& builder, absl::string_view service);

// --metrics_listen; empty means no metrics endpoint.
std::string MetricsListenFromFlags();

inline constexpr const char* kMetricsFlagNames[] = {"metrics_listen"};

}  // namespace okr

#endif  // OKR_COMMON_METRICS_H_
