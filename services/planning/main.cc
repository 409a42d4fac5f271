// okr-planning: the planning service (okr.v1.PlanningService) as a process.
// It wires the flags into the store, the use-cases, the worker pool and the
// gRPC adapter, serves until SIGTERM or SIGINT, then shuts down in order:
// health NOT_SERVING, end the change-feed streams, drain the server, run the
// queued work, close the store.
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/runtime.h"
#include "common/server.h"
#include "common/worker_pool.h"
#include "okr/v1/planning.grpc.pb.h"
#include "services/planning/grpc_planning_service.h"
#include "services/planning/planning.h"
#include "services/planning/instrumented_planning_store.h"
#include "services/planning/planning_store.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "HOST:PORT to serve gRPC on (health and reflection included). Port "
          "0 picks a free port; the \"serving\" log line names it.");
ABSL_FLAG(std::string, store, "sqlite:okr-planning.db",
          "Where the plan is kept: sqlite:PATH, an SQLite file (WAL) created "
          "with its schema when missing, or postgresql://USER[:PASS]@HOST:PORT/DB "
          "(tables planning_*, migrated at start). Must survive restarts: "
          ":memory: is refused.");
ABSL_FLAG(int, workers, 8,
          "Worker threads that run requests against the store (gRPC's own "
          "threads never block on it), at least 1.");
ABSL_FLAG(int, max_queued, 256,
          "Requests that may wait for a free worker; beyond that the server "
          "answers UNAVAILABLE at once (retry with backoff) instead of "
          "queueing without bound. At least 0.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "After SIGTERM, how long in-flight calls may finish before they are "
          "cancelled. WatchPlanChanges streams end at once with UNAVAILABLE.");

namespace {

// The store URL without credentials, for logs ("postgresql://u:p@h/db" ->
// "postgresql://***@h/db"); an sqlite: path is kept as it is.
std::string RedactStoreUrl(absl::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) return std::string(url);
  const size_t at = url.find('@', scheme + 3);
  if (at == absl::string_view::npos) return std::string(url);
  return absl::StrCat(url.substr(0, scheme + 3), "***", url.substr(at));
}

}  // namespace

int main(int argc, char** argv) {
  okr::InitMain(
      argc, argv,
      {.service_name = "planning",
       .usage = "the OKR planning service (okr.v1.PlanningService): "
                "organisations, teams, people, cycles, objectives, key "
                "results, alignment, lint, CSV import and export, and the plan "
                "change feed.\nEvery flag also reads FLAGS_<name> from the "
                "environment when not given on the command line.\n\nUsage: "
                "okr-planning [--listen=HOST:PORT] [--store=sqlite:PATH] "
                "[--workers=N] [--max_queued=N] [--shutdown_grace=10s]",
       .env_flags = okr::WithRuntimeEnvFlags(
           {"listen", "store", "workers", "max_queued", "shutdown_grace"})});

  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string store_url = absl::GetFlag(FLAGS_store);
  const int workers = absl::GetFlag(FLAGS_workers);
  const int max_queued = absl::GetFlag(FLAGS_max_queued);
  const absl::Duration shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (workers < 1 || max_queued < 0 || shutdown_grace < absl::ZeroDuration()) {
    okr::LogError("bad flags: --workers must be >= 1, --max_queued >= 0 and "
                  "--shutdown_grace >= 0",
                  {{"workers", workers},
                   {"max_queued", max_queued},
                   {"shutdown_grace", shutdown_grace}});
    return 2;
  }

  absl::StatusOr<std::unique_ptr<okr::ServiceRuntime>> runtime_or =
      okr::ServiceRuntime::FromFlags("planning");
  if (!runtime_or.ok()) {
    okr::LogError("bad flags", {{"error", runtime_or.status()}});
    return 2;
  }
  okr::ServiceRuntime& runtime = **runtime_or;

  absl::StatusOr<std::unique_ptr<okr::planning::PlanningStore>> store =
      okr::planning::OpenPlanningStore(store_url);
  if (!store.ok()) {
    okr::LogError("cannot open the store", {{"store", RedactStoreUrl(store_url)},
                                            {"error", store.status()}});
    return 1;
  }
  *store = okr::planning::InstrumentPlanningStore(*std::move(store));  // okr_store_* metrics
  okr::planning::Planning planning(store->get());
  okr::WorkerPool pool(
      {.threads = workers, .max_queued = max_queued, .name = "planning"});
  okr::planning::PlanningGrpcService service(&planning, &pool, runtime.authenticator());

  // The store is open, so the server may report SERVING as it starts.
  okr::ServerOptions server_options{.listen_address = listen,
                                    .service_name = "planning",
                                    .shutdown_grace = shutdown_grace};
  if (absl::Status configured = runtime.ConfigureServer(server_options); !configured.ok()) {
    okr::LogError("bad flags", {{"error", configured}});
    return 2;
  }
  absl::StatusOr<std::unique_ptr<okr::Server>> server =
      okr::Server::Start(server_options, {&service});
  if (!server.ok()) {
    okr::LogError("cannot start", {{"listen", listen},
                                   {"error", server.status()}});
    return 1;
  }
  // The service's own health entry, as tracking and notify have, so a probe
  // may name the service.
  (*server)->grpc_server()->GetHealthCheckService()->SetServingStatus(
      okr::v1::PlanningService::service_full_name(), true);
  if (absl::Status started =
          runtime.Start(**server, [&store] { return (*store)->CheckHealth(); });
      !started.ok()) {
    okr::LogError("cannot start", {{"error", started}});
    return 1;
  }
  okr::LogInfo("serving", {{"listen", (*server)->address()},
                           {"port", (*server)->port()},
                           {"store", RedactStoreUrl(store_url)},
                           {"workers", workers},
                           {"max_queued", max_queued}});

  const int signal = okr::WaitForShutdownSignal();
  okr::LogInfo("shutdown signal received", {{"signal", signal}});
  // Health first, so probes and balancers stop sending; then the streams,
  // which would otherwise keep the drain waiting for the whole grace period.
  runtime.Stop();  // the health watch must not set SERVING again
  (*server)->SetServing(false);
  service.StopStreams();
  (*server)->Shutdown();
  // Streams release their subscriptions partly on the pool: let them, then
  // run whatever is still queued before Planning and the store go away.
  if (!service.WaitForStreams(absl::Seconds(5))) {
    okr::LogWarn("change-feed streams still open after shutdown",
                 {{"streams", service.live_streams()}});
  }
  pool.Shutdown();
  okr::LogInfo("stopped");
  return 0;
}
