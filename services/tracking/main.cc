// okr-tracking: the tracking service (okr.v1.TrackingService) as a process.
// It wires the flags into the store, the Redis rollup cache, planning's
// change feed, the use-cases, the worker pool and the gRPC adapter, and
// serves until SIGTERM or SIGINT. A maintenance thread rewrites the cache
// after a Redis outage every few seconds and publishes the cache's state as
// the health entry "okr.v1.TrackingService.rollup_cache": a Redis outage
// degrades the service (scores come from memory), it does not stop it, so
// the server's own entries stay SERVING. Shutdown goes in order: health
// NOT_SERVING, stop the maintenance thread, drain the server, run the queued
// work, close the store.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/runtime.h"
#include "common/redis.h"
#include "common/server.h"
#include "common/worker_pool.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "services/tracking/grpc_tracking_service.h"
#include "services/tracking/instrumented_tracking_store.h"
#include "services/tracking/plan_source.h"
#include "services/tracking/rollup_cache.h"
#include "services/tracking/tracking.h"
#include "services/tracking/tracking_store.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50052",
          "HOST:PORT to serve gRPC on (health and reflection included). Port "
          "0 picks a free port; the \"serving\" log line names it.");
ABSL_FLAG(std::string, store, "sqlite:okr-tracking.db",
          "Where check-ins, reviews and frozen scores are kept: sqlite:PATH, "
          "an SQLite file (WAL) created with its schema when missing, or "
          "postgresql://USER[:PASS]@HOST:PORT/DB (several replicas; tables "
          "tracking_*, migrated at start). Must survive restarts: :memory: is refused.");
ABSL_FLAG(std::string, redis, "127.0.0.1:6379",
          "HOST:PORT of the Redis that caches scores for every replica. Redis "
          "is never the only copy: while it is down, scores are served from "
          "memory and the health entry okr.v1.TrackingService.rollup_cache "
          "says NOT_SERVING. Empty disables the cache (every read from "
          "memory).");
ABSL_FLAG(std::string, planning_addr, "127.0.0.1:50051",
          "HOST:PORT of okr-planning, whose change feed is the plan tracking "
          "scores against.");
ABSL_FLAG(absl::Duration, planning_timeout, absl::Seconds(2),
          "Deadline of each call to planning, retries included. An "
          "organisation not loaded yet fails with UNAVAILABLE after this long "
          "when planning does not answer.");
ABSL_FLAG(int, workers, 32,
          "Worker threads that run requests against the store, planning and "
          "Redis (gRPC's own threads never block on them), at least 1. Most "
          "of a check-in's time is spent waiting on shared planning, store "
          "and Redis round trips, so more workers mean bigger shared batches.");
ABSL_FLAG(int, max_queued, 256,
          "Requests that may wait for a free worker; beyond that the server "
          "answers UNAVAILABLE at once (retry with backoff) instead of "
          "queueing without bound. At least 0.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "After SIGTERM, how long in-flight calls may finish before they are "
          "cancelled.");
ABSL_FLAG(int, grace_days, 7,
          "Days after a cycle's end that still accept check-ins when neither "
          "the cycle nor the organisation sets check_in_grace_days. At least "
          "0.");

namespace {

// How often the maintenance thread heals the cache and refreshes health.
constexpr absl::Duration kMaintenanceInterval = absl::Seconds(2);

// The health entry that reports the rollup cache.
constexpr absl::string_view kCacheHealthEntry = "okr.v1.TrackingService.rollup_cache";

// An organisation id planning never issues (ids are [a-z0-9-]), so the probe
// key below can never hold a real score.
constexpr absl::string_view kProbeOrganisation = "_health";

// The store URL without credentials, for logs ("postgresql://u:p@h/db" ->
// "postgresql://***@h/db"); an sqlite: path is kept as it is.
std::string RedactStoreUrl(absl::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) return std::string(url);
  const size_t at = url.find('@', scheme + 3);
  if (at == absl::string_view::npos) return std::string(url);
  return absl::StrCat(url.substr(0, scheme + 3), "***", url.substr(at));
}

// "HOST:PORT" ("[::1]:PORT" for IPv6) as Redis options, or INVALID_ARGUMENT
// naming --redis.
absl::StatusOr<okr::RedisOptions> ParseRedisAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--redis: expected HOST:PORT (or empty to disable the cache), got '", address, "'"));
  }
  absl::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  okr::RedisOptions options;
  options.host = std::string(host);
  options.port = port;
  // A cache that does not answer quickly is worse than none: every request
  // waits for it before falling back to memory.
  options.connect_timeout = absl::Milliseconds(200);
  options.command_timeout = absl::Milliseconds(200);
  options.reconnect_backoff = absl::Seconds(1);
  return options;
}

// Heals the cache every kMaintenanceInterval and publishes its availability
// as kCacheHealthEntry, logging each flip.
class Maintenance {
 public:
  Maintenance(okr::tracking::Tracking* tracking, okr::tracking::RollupCache* cache,
              grpc::HealthCheckServiceInterface* health)
      : tracking_(tracking), cache_(cache), health_(health) {
    // So that the entry is right from the start, not after the first step.
    Probe();
    Publish();
    thread_ = std::thread([this] { Run(); });
  }
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;
  ~Maintenance() {
    BeginStop();
    thread_.join();
  }

  // Makes the thread end at its next step and freezes the health entry;
  // call it before setting health NOT_SERVING so the entry stays so. The
  // destructor waits for the thread.
  void BeginStop() {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }

 private:
  void Run() {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        const auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
        if (mu_.AwaitWithTimeout(absl::Condition(&stop), kMaintenanceInterval)) return;
      }
      // Maintain() calls Redis only for organisations whose cache writes
      // failed; without one, a probe keeps the cache's availability current,
      // so that an outage (or a recovery) is seen without traffic too.
      if (tracking_->Maintain() == 0 && tracking_->health().organisations_cache_dirty == 0) {
        Probe();
      }
      Publish();
    }
  }

  // One read of a key that never exists, through the cache so that its
  // availability reflects the result (it counts as a miss).
  void Probe() {
    if (cache_ == nullptr) return;
    const okr::tracking::ScoreKey probe{okr::ResourceKind::kKeyResult, "probe"};
    (void)cache_->Get(kProbeOrganisation, {&probe, 1});
  }

  // Sets the entry from the cache's state; skipped once stopping.
  void Publish() {
    const okr::tracking::TrackingHealth state = tracking_->health();
    if (!state.cache_enabled) return;
    const bool available = state.cache.available;
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    health_->SetServingStatus(std::string(kCacheHealthEntry), available);
    if (published_.has_value() && *published_ == available) return;
    if (published_.has_value() || !available) {
      if (available) {
        okr::LogInfo("health: rollup cache SERVING", {{"entry", kCacheHealthEntry}});
      } else {
        okr::LogWarn("health: rollup cache NOT_SERVING; scores are served from memory",
                     {{"entry", kCacheHealthEntry}, {"error", state.cache.last_error}});
      }
    }
    published_ = available;
  }

  okr::tracking::Tracking* const tracking_;
  okr::tracking::RollupCache* const cache_;  // null when the cache is off
  grpc::HealthCheckServiceInterface* const health_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<bool> published_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  okr::InitMain(argc, argv,
                {.service_name = "tracking",
                 .usage = "the OKR tracking service (okr.v1.TrackingService): check-ins, "
                          "scores and their rollup through the alignment tree, score "
                          "explanations, stale key results, reviews and the closing of "
                          "cycles. The plan comes from okr-planning; scores are cached "
                          "in Redis.\nEvery flag also reads FLAGS_<name> from the "
                          "environment when not given on the command line.\n\nUsage: "
                          "okr-tracking [--listen=HOST:PORT] [--store=sqlite:PATH] "
                          "[--redis=HOST:PORT] [--planning_addr=HOST:PORT] "
                          "[--planning_timeout=2s] [--workers=N] [--max_queued=N] "
                          "[--shutdown_grace=10s] [--grace_days=7]",
                 .env_flags = okr::WithRuntimeEnvFlags(
                     {"listen", "store", "redis", "planning_addr", "planning_timeout", "workers",
                      "max_queued", "shutdown_grace", "grace_days"})});

  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string store_url = absl::GetFlag(FLAGS_store);
  const std::string redis_address = absl::GetFlag(FLAGS_redis);
  const std::string planning_addr = absl::GetFlag(FLAGS_planning_addr);
  const absl::Duration planning_timeout = absl::GetFlag(FLAGS_planning_timeout);
  const int workers = absl::GetFlag(FLAGS_workers);
  const int max_queued = absl::GetFlag(FLAGS_max_queued);
  const absl::Duration shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  const int grace_days = absl::GetFlag(FLAGS_grace_days);
  if (workers < 1 || max_queued < 0 || shutdown_grace < absl::ZeroDuration() ||
      planning_timeout <= absl::ZeroDuration() || grace_days < 0) {
    okr::LogError(
        "bad flags: --workers must be >= 1, --max_queued >= 0, --shutdown_grace >= 0, "
        "--planning_timeout > 0 and --grace_days >= 0",
        {{"workers", workers},
         {"max_queued", max_queued},
         {"shutdown_grace", shutdown_grace},
         {"planning_timeout", planning_timeout},
         {"grace_days", grace_days}});
    return 2;
  }
  std::optional<okr::RedisOptions> redis_options;
  if (!redis_address.empty()) {
    absl::StatusOr<okr::RedisOptions> parsed = ParseRedisAddress(redis_address);
    if (!parsed.ok()) {
      okr::LogError("bad flags", {{"error", parsed.status()}});
      return 2;
    }
    redis_options = *std::move(parsed);
  }

  absl::StatusOr<std::unique_ptr<okr::ServiceRuntime>> runtime_or =
      okr::ServiceRuntime::FromFlags("tracking");
  if (!runtime_or.ok()) {
    okr::LogError("bad flags", {{"error", runtime_or.status()}});
    return 2;
  }
  okr::ServiceRuntime& runtime = **runtime_or;

  absl::StatusOr<std::unique_ptr<okr::tracking::TrackingStore>> store =
      okr::tracking::OpenTrackingStore(store_url);
  if (!store.ok()) {
    okr::LogError("cannot open the store",
                  {{"store", RedactStoreUrl(store_url)}, {"error", store.status()}});
    return 1;
  }
  *store = okr::tracking::InstrumentTrackingStore(*std::move(store));  // okr_store_* metrics
  // Redis connects lazily: a cache that is down at start is only degraded.
  std::unique_ptr<okr::RedisClient> redis;
  std::unique_ptr<okr::tracking::RollupCache> cache;
  if (redis_options.has_value()) {
    redis = std::make_unique<okr::RedisClient>(*redis_options);
    cache = std::make_unique<okr::tracking::RollupCache>(redis.get());
  }
  okr::tracking::GrpcPlanSourceOptions plan_options;
  plan_options.address = planning_addr;
  plan_options.call_timeout = planning_timeout;
  absl::StatusOr<okr::PeerCredentials> peer_credentials = runtime.PeerCredentialsFor();
  if (!peer_credentials.ok()) {
    okr::LogError("bad flags", {{"error", peer_credentials.status()}});
    return 2;
  }
  plan_options.credentials = *peer_credentials;
  absl::StatusOr<std::unique_ptr<okr::tracking::PlanSource>> plan =
      okr::tracking::NewGrpcPlanSource(plan_options);
  if (!plan.ok()) {
    okr::LogError("bad flags", {{"planning_addr", planning_addr}, {"error", plan.status()}});
    return 2;
  }
  okr::tracking::TrackingOptions tracking_options;
  tracking_options.default_grace_days = grace_days;
  okr::tracking::Tracking tracking(store->get(), plan->get(), cache.get(), tracking_options);
  okr::WorkerPool pool({.threads = workers, .max_queued = max_queued, .name = "tracking"});
  okr::tracking::TrackingGrpcService service(&tracking, &pool, runtime.authenticator());

  okr::ServerOptions server_options{
      .listen_address = listen, .service_name = "tracking", .shutdown_grace = shutdown_grace};
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
  if (absl::Status started = runtime.Start(**server, [&store] { return (*store)->CheckHealth(); });
      !started.ok()) {
    okr::LogError("cannot start", {{"error", started}});
    (*server)->Shutdown();
    pool.Shutdown();
    return 1;
  }
  // okr::Server enables gRPC's default health service, so this is not null.
  grpc::HealthCheckServiceInterface* health = (*server)->grpc_server()->GetHealthCheckService();
  health->SetServingStatus(okr::v1::TrackingService::service_full_name(), true);
  std::optional<Maintenance> maintenance;
  maintenance.emplace(&tracking, cache.get(), health);
  okr::LogInfo("serving", {{"listen", (*server)->address()},
                           {"address", (*server)->address()},
                           {"port", (*server)->port()},
                           {"store", RedactStoreUrl(store_url)},
                           {"redis", redis_address.empty() ? "off" : redis_address},
                           {"planning_addr", planning_addr},
                           {"planning_timeout", planning_timeout},
                           {"grace_days", grace_days},
                           {"workers", workers},
                           {"max_queued", max_queued}});

  const int signal = okr::WaitForShutdownSignal();
  okr::LogInfo("shutdown signal received", {{"signal", signal}});
  // Health first, so probes and balancers stop sending; the maintenance
  // thread is told first so that it cannot set its entry back to SERVING.
  maintenance->BeginStop();
  runtime.Stop();  // the health watch must not set SERVING again
  (*server)->SetServing(false);
  maintenance.reset();
  (*server)->Shutdown();
  // Run whatever is still queued before Tracking and the store go away.
  pool.Shutdown();
  okr::LogInfo("stopped");
  return 0;
}
