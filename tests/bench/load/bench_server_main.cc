// okr-bench-server: the empty-RPC baseline of the benchmark harness
// (okr.bench.v1.BenchService). It starts exactly as the real services do
// (services/tracking/main.cc): InitMain, the runtime's flags (auth, TLS,
// metrics), ConfigureServer (RPC metrics interceptor and access log),
// okr::Server with health and reflection, the "serving" log line, and a
// graceful shutdown on SIGTERM or SIGINT. Its two methods do nothing, so a
// benchmark that runs them next to a real RPC in the same invocation can
// report the real RPC as a ratio to what the bootstrap alone costs:
// Empty answers on gRPC's callback thread, PoolEmpty goes through the
// Authenticator and a WorkerPool like every real handler.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/runtime.h"
#include "common/server.h"
#include "common/worker_pool.h"
#include "okr/bench/v1/bench.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50059",
          "HOST:PORT to serve gRPC on (health and reflection included). Port 0 picks a free "
          "port; the \"serving\" log line names it.");
ABSL_FLAG(int, workers, 8,
          "Worker threads that answer PoolEmpty (as --workers of the real services), at "
          "least 1.");
ABSL_FLAG(int, max_queued, 256,
          "PoolEmpty calls that may wait for a free worker; beyond that the server answers "
          "UNAVAILABLE at once. At least 0.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "After SIGTERM, how long in-flight calls may finish before they are cancelled.");

namespace {

class BenchService final : public okr::bench::v1::BenchService::CallbackService {
 public:
  BenchService(okr::WorkerPool* pool, const okr::Authenticator& auth) : pool_(*pool), auth_(auth) {}

  grpc::ServerUnaryReactor* Empty(grpc::CallbackServerContext* context,
                                  const okr::bench::v1::EmptyRequest* /*request*/,
                                  okr::bench::v1::EmptyResponse* /*response*/) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  // What services/*/grpc_*_service.cc do for every call: authorise on
  // gRPC's thread, run the body on a worker.
  grpc::ServerUnaryReactor* PoolEmpty(grpc::CallbackServerContext* context,
                                      const okr::bench::v1::EmptyRequest* /*request*/,
                                      okr::bench::v1::EmptyResponse* /*response*/) override {
    absl::StatusOr<okr::Caller> caller = auth_.Authorize(*context, okr::Role::kReader);
    if (!caller.ok()) {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      reactor->Finish(okr::ToGrpcStatus(caller.status()));
      return reactor;
    }
    return okr::RunUnary(context, pool_, [] { return absl::OkStatus(); });
  }

 private:
  okr::WorkerPool& pool_;
  const okr::Authenticator& auth_;
};

}  // namespace

int main(int argc, char** argv) {
  okr::InitMain(argc, argv,
                {.service_name = "bench",
                 .usage = "the benchmark harness's empty-RPC baseline "
                          "(okr.bench.v1.BenchService: Empty, PoolEmpty), served with the "
                          "same bootstrap, interceptors and flags as the OKR services.\nEvery "
                          "flag also reads FLAGS_<name> from the environment when not given "
                          "on the command line.\n\nUsage: okr-bench-server "
                          "[--listen=HOST:PORT] [--workers=N] [--max_queued=N] "
                          "[--shutdown_grace=10s] [--auth=false]",
                 .env_flags = okr::WithRuntimeEnvFlags(
                     {"listen", "workers", "max_queued", "shutdown_grace"})});

  const std::string listen = absl::GetFlag(FLAGS_listen);
  const int workers = absl::GetFlag(FLAGS_workers);
  const int max_queued = absl::GetFlag(FLAGS_max_queued);
  const absl::Duration shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (workers < 1 || max_queued < 0 || shutdown_grace < absl::ZeroDuration()) {
    okr::LogError(
        "bad flags: --workers must be >= 1, --max_queued >= 0 and --shutdown_grace >= 0",
        {{"workers", workers}, {"max_queued", max_queued}, {"shutdown_grace", shutdown_grace}});
    return 2;
  }

  absl::StatusOr<std::unique_ptr<okr::ServiceRuntime>> runtime_or =
      okr::ServiceRuntime::FromFlags("bench");
  if (!runtime_or.ok()) {
    okr::LogError("bad flags", {{"error", runtime_or.status()}});
    return 2;
  }
  okr::ServiceRuntime& runtime = **runtime_or;

  okr::WorkerPool pool({.threads = workers, .max_queued = max_queued, .name = "bench"});
  BenchService service(&pool, runtime.authenticator());

  okr::ServerOptions server_options{
      .listen_address = listen, .service_name = "bench", .shutdown_grace = shutdown_grace};
  if (absl::Status configured = runtime.ConfigureServer(server_options); !configured.ok()) {
    okr::LogError("bad flags", {{"error", configured}});
    pool.Shutdown();
    return 2;
  }
  absl::StatusOr<std::unique_ptr<okr::Server>> server =
      okr::Server::Start(server_options, {&service});
  if (!server.ok()) {
    okr::LogError("cannot start", {{"listen", listen}, {"error", server.status()}});
    pool.Shutdown();
    return 1;
  }
  // No store: the health watch's probe always passes.
  if (absl::Status started = runtime.Start(**server, [] { return absl::OkStatus(); });
      !started.ok()) {
    okr::LogError("cannot start", {{"error", started}});
    (*server)->Shutdown();
    pool.Shutdown();
    return 1;
  }
  (*server)->grpc_server()->GetHealthCheckService()->SetServingStatus(
      okr::bench::v1::BenchService::service_full_name(), true);
  okr::LogInfo("serving", {{"listen", (*server)->address()},
                           {"address", (*server)->address()},
                           {"port", (*server)->port()},
                           {"workers", workers},
                           {"max_queued", max_queued}});

  const int signal = okr::WaitForShutdownSignal();
  okr::LogInfo("shutdown signal received", {{"signal", signal}});
  runtime.Stop();  // the health watch must not set SERVING again
  (*server)->SetServing(false);
  (*server)->Shutdown();
  pool.Shutdown();
  okr::LogInfo("stopped");
  return 0;
}
