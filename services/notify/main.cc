// okr-notify: the notify service (okr.v1.NotifyService) as a process. It
// wires the flags into the store, the Redis publisher, planning's change
// feed, tracking, the webhook dispatcher, the watch hub, the use-cases, the
// worker pool and the gRPC adapter, and serves until SIGTERM or SIGINT.
//
// Reminders fall due when somebody calls RunDueReminders: normally the
// okr-reminder-job CronJob; on a single machine the optional in-process
// ticker (--ticker_interval) does it for the listed organisations. Shutdown
// goes in order: health NOT_SERVING, stop the ticker, end the watch streams,
// drain the server, stop the webhook dispatcher (attempts under way
// finish), run the queued work, close the store.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/runtime.h"
#include "common/redis.h"
#include "common/server.h"
#include "common/worker_pool.h"
#include "okr/v1/notify.grpc.pb.h"
#include "services/notify/grpc_notify_service.h"
#include "services/notify/notify.h"
#include "services/notify/instrumented_notify_store.h"
#include "services/notify/notify_store.h"
#include "services/notify/redis_watch_feed.h"
#include "services/notify/reminder_publisher.h"
#include "services/notify/tracking_source.h"
#include "services/notify/watch_hub.h"
#include "services/notify/webhook.h"
#include "services/notify/webhook_dispatcher.h"
#include "services/tracking/plan_source.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50053",
          "HOST:PORT to serve gRPC on (health and reflection included). Port "
          "0 picks a free port; the \"serving\" log line names it.");
ABSL_FLAG(std::string, store, "sqlite:okr-notify.db",
          "Where policies, webhooks, the reminder ledger, the webhook outbox "
          "and the delivery log are kept: sqlite:PATH, an SQLite file (WAL) "
          "created with its schema when missing, or postgresql://USER[:PASS]@HOST:PORT/DB "
          "(several replicas; tables notify_*, migrated at start). Must survive restarts "
          "(the ledger is what keeps a reminder from going out twice).");
ABSL_FLAG(std::string, redis, "127.0.0.1:6379",
          "HOST:PORT of the Redis that reminders are published to (stream and "
          "channel okr:{<org>}:reminders). While it is down, reminders stay "
          "claimed and unpublished and the next run publishes them. Empty "
          "disables the Redis channels (webhooks and watchers still work).");
ABSL_FLAG(std::string, planning_addr, "127.0.0.1:50051",
          "HOST:PORT of okr-planning, whose change feed is the plan reminders "
          "are worked out from.");
ABSL_FLAG(std::string, tracking_addr, "127.0.0.1:50052",
          "HOST:PORT of okr-tracking, which says which key results are due a "
          "check-in and which objectives have been reviewed.");
ABSL_FLAG(absl::Duration, planning_timeout, absl::Seconds(2),
          "Deadline of each call to planning, retries included.");
ABSL_FLAG(absl::Duration, tracking_timeout, absl::Seconds(5),
          "Deadline of each call to tracking (each page), retries included.");
ABSL_FLAG(int, workers, 8,
          "Worker threads that run requests against the store, planning, "
          "tracking and Redis (gRPC's own threads never block on them), at "
          "least 1.");
ABSL_FLAG(int, max_queued, 256,
          "Requests that may wait for a free worker; beyond that the server "
          "answers UNAVAILABLE at once (retry with backoff). At least 0.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "After SIGTERM, how long in-flight calls may finish before they are "
          "cancelled. Watch streams end at once with UNAVAILABLE.");
ABSL_FLAG(int, webhook_threads, 4,
          "Threads POSTing to webhooks at once, at least 1. A hanging "
          "receiver holds one for at most --webhook_timeout.");
ABSL_FLAG(absl::Duration, webhook_timeout, absl::Seconds(5),
          "Deadline of one webhook POST.");
ABSL_FLAG(int, webhook_max_attempts, 5,
          "Attempts per webhook delivery, the first included, at least 1; "
          "then the delivery is logged FAILED.");
ABSL_FLAG(absl::Duration, webhook_initial_backoff, absl::Seconds(1),
          "Delay before a webhook's second attempt; each later one doubles it "
          "(with jitter), up to 5 minutes.");
ABSL_FLAG(std::string, webhook_allow_cidrs, "",
          "Comma-separated networks (10.0.0.0/8, fd00::/8, a bare address is one "
          "host) that webhooks may reach besides public addresses. Empty (the "
          "default) refuses every private, loopback, link-local, unique-local, "
          "CGNAT, multicast and other non-public destination, both when a "
          "webhook is created and at every connect (so a name resolving to one "
          "is refused too). Tests and single-machine setups with a local "
          "receiver use 127.0.0.0/8,::1/128.");
ABSL_FLAG(absl::Duration, ticker_interval, absl::ZeroDuration(),
          "Single-machine scheduling: every interval, run RunDueReminders for "
          "each of --ticker_organisations in process. 0 turns the ticker off "
          "(a CronJob runs okr-reminder-job instead).");
ABSL_FLAG(std::string, ticker_organisations, "",
          "Comma-separated organisation ids the ticker runs reminders for.");

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

// "HOST:PORT" ("[::1]:PORT" for IPv6) as Redis options, or INVALID_ARGUMENT
// naming --redis.
absl::StatusOr<okr::RedisOptions> ParseRedisAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--redis: expected HOST:PORT (or empty to disable Redis), got '", address, "'"));
  }
  absl::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  okr::RedisOptions options;
  options.host = std::string(host);
  options.port = port;
  // A run publishes each reminder in turn; a Redis that does not answer
  // must fail them quickly (they stay unpublished for the next run) rather
  // than hold the run for the CronJob's whole deadline.
  options.connect_timeout = absl::Milliseconds(500);
  options.command_timeout = absl::Seconds(1);
  options.reconnect_backoff = absl::Seconds(1);
  return options;
}

// The in-process scheduler: every `interval`, RunDueReminders(now unset)
// for each organisation, on its own thread, logging the counts.
class Ticker {
 public:
  Ticker(okr::notify::Notify* notify, std::vector<std::string> organisations,
         absl::Duration interval)
      : notify_(notify), organisations_(std::move(organisations)), interval_(interval) {
    thread_ = std::thread([this] { Run(); });
  }
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;
  // Waits for a run under way to end (each call is bounded by the planning
  // and tracking deadlines).
  ~Ticker() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }

 private:
  void Run() {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        const auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
        if (mu_.AwaitWithTimeout(absl::Condition(&stop), interval_)) return;
      }
      for (const std::string& org : organisations_) {
        {
          absl::MutexLock lock(&mu_);
          if (stopping_) return;
        }
        RunOne(org);
      }
    }
  }

  void RunOne(const std::string& org) {
    okr::v1::RunDueRemindersRequest request;  // now unset: server time
    okr::v1::RunDueRemindersResponse response;
    const absl::Time start = absl::Now();
    const absl::Status status = notify_->RunDueReminders(org, request, &response);
    if (!status.ok()) {
      okr::LogWarn("ticker: RunDueReminders failed; the next tick retries",
                   {{"organisation", org}, {"error", status}});
      return;
    }
    int found = 0, published = 0, skipped = 0, failed = 0;
    for (const okr::v1::ReminderKindCounts& counts : response.counts()) {
      found += counts.found();
      published += counts.published();
      skipped += counts.skipped();
      failed += counts.failed();
    }
    okr::LogInfo("ticker: reminders run", {{"organisation", org},
                                          {"found", found},
                                          {"published", published},
                                          {"skipped", skipped},
                                          {"failed", failed},
                                          {"duration", absl::Now() - start}});
  }

  okr::notify::Notify* const notify_;
  const std::vector<std::string> organisations_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  okr::InitMain(
      argc, argv,
      {.service_name = "notify",
       .usage = "the OKR notify service (okr.v1.NotifyService): reminder policies, "
                "the reminders that fall due (weekly check-ins, mid- and end-of-quarter "
                "reviews, planning milestones) and their delivery to Redis, webhooks and "
                "watching clients. The plan comes from okr-planning, check-ins and "
                "reviews from okr-tracking.\nEvery flag also reads FLAGS_<name> from "
                "the environment when not given on the command line.\n\nUsage: "
                "okr-notify [--listen=HOST:PORT] [--store=sqlite:PATH] "
                "[--redis=HOST:PORT] [--planning_addr=HOST:PORT] "
                "[--tracking_addr=HOST:PORT] [--ticker_interval=DURATION "
                "--ticker_organisations=ORG,...] [other flags: --help]",
       .env_flags = okr::WithRuntimeEnvFlags(
           {"listen", "store", "redis", "planning_addr", "tracking_addr", "planning_timeout",
            "tracking_timeout", "workers", "max_queued", "shutdown_grace", "webhook_threads",
            "webhook_timeout", "webhook_max_attempts", "webhook_initial_backoff",
            "webhook_allow_cidrs", "ticker_interval", "ticker_organisations"})});

  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string store_url = absl::GetFlag(FLAGS_store);
  const std::string redis_address = absl::GetFlag(FLAGS_redis);
  const std::string planning_addr = absl::GetFlag(FLAGS_planning_addr);
  const std::string tracking_addr = absl::GetFlag(FLAGS_tracking_addr);
  const absl::Duration planning_timeout = absl::GetFlag(FLAGS_planning_timeout);
  const absl::Duration tracking_timeout = absl::GetFlag(FLAGS_tracking_timeout);
  const int workers = absl::GetFlag(FLAGS_workers);
  const int max_queued = absl::GetFlag(FLAGS_max_queued);
  const absl::Duration shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  const int webhook_threads = absl::GetFlag(FLAGS_webhook_threads);
  const absl::Duration webhook_timeout = absl::GetFlag(FLAGS_webhook_timeout);
  const int webhook_max_attempts = absl::GetFlag(FLAGS_webhook_max_attempts);
  const absl::Duration webhook_initial_backoff = absl::GetFlag(FLAGS_webhook_initial_backoff);
  const absl::Duration ticker_interval = absl::GetFlag(FLAGS_ticker_interval);
  std::vector<std::string> ticker_organisations =
      absl::StrSplit(absl::GetFlag(FLAGS_ticker_organisations), ',', absl::SkipWhitespace());
  for (std::string& org : ticker_organisations) {
    org = std::string(absl::StripAsciiWhitespace(org));
  }

  if (workers < 1 || max_queued < 0 || shutdown_grace < absl::ZeroDuration() ||
      planning_timeout <= absl::ZeroDuration() || tracking_timeout <= absl::ZeroDuration() ||
      webhook_threads < 1 || webhook_timeout <= absl::ZeroDuration() ||
      webhook_max_attempts < 1 || webhook_initial_backoff <= absl::ZeroDuration() ||
      ticker_interval < absl::ZeroDuration()) {
    okr::LogError(
        "bad flags: --workers and --webhook_threads and --webhook_max_attempts must be >= 1, "
        "--max_queued >= 0, --shutdown_grace >= 0, --ticker_interval >= 0, and "
        "--planning_timeout, --tracking_timeout, --webhook_timeout and "
        "--webhook_initial_backoff > 0",
        {{"workers", workers},
         {"max_queued", max_queued},
         {"shutdown_grace", shutdown_grace},
         {"planning_timeout", planning_timeout},
         {"tracking_timeout", tracking_timeout},
         {"webhook_threads", webhook_threads},
         {"webhook_timeout", webhook_timeout},
         {"webhook_max_attempts", webhook_max_attempts},
         {"webhook_initial_backoff", webhook_initial_backoff},
         {"ticker_interval", ticker_interval}});
    return 2;
  }
  if (ticker_interval > absl::ZeroDuration() && ticker_organisations.empty()) {
    okr::LogError("bad flags: --ticker_interval needs --ticker_organisations (comma list)",
                  {{"ticker_interval", ticker_interval}});
    return 2;
  }
  absl::StatusOr<okr::notify::WebhookDestinationPolicy> webhook_destinations =
      okr::notify::WebhookDestinationPolicy::Parse(absl::GetFlag(FLAGS_webhook_allow_cidrs),
                                                   "--webhook_allow_cidrs");
  if (!webhook_destinations.ok()) {
    okr::LogError("bad flags", {{"error", webhook_destinations.status()}});
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
      okr::ServiceRuntime::FromFlags("notify");
  if (!runtime_or.ok()) {
    okr::LogError("bad flags", {{"error", runtime_or.status()}});
    return 2;
  }
  okr::ServiceRuntime& runtime = **runtime_or;
  absl::StatusOr<okr::PeerCredentials> peer_credentials = runtime.PeerCredentialsFor();
  if (!peer_credentials.ok()) {
    okr::LogError("bad flags", {{"error", peer_credentials.status()}});
    return 2;
  }

  okr::tracking::GrpcPlanSourceOptions plan_options;
  plan_options.credentials = *peer_credentials;
  plan_options.address = planning_addr;
  plan_options.call_timeout = planning_timeout;
  absl::StatusOr<std::unique_ptr<okr::tracking::PlanSource>> plan =
      okr::tracking::NewGrpcPlanSource(plan_options);
  if (!plan.ok()) {
    okr::LogError("bad flags", {{"planning_addr", planning_addr}, {"error", plan.status()}});
    return 2;
  }
  okr::notify::GrpcTrackingSourceOptions tracking_options;
  tracking_options.address = tracking_addr;
  tracking_options.call_timeout = tracking_timeout;
  tracking_options.credentials = *peer_credentials;
  absl::StatusOr<std::unique_ptr<okr::notify::TrackingSource>> tracking =
      okr::notify::NewGrpcTrackingSource(tracking_options);
  if (!tracking.ok()) {
    okr::LogError("bad flags", {{"tracking_addr", tracking_addr}, {"error", tracking.status()}});
    return 2;
  }

  absl::StatusOr<std::unique_ptr<okr::notify::NotifyStore>> store =
      okr::notify::OpenNotifyStore(store_url);
  if (!store.ok()) {
    okr::LogError("cannot open the store",
                  {{"store", RedactStoreUrl(store_url)}, {"error", store.status()}});
    return 1;
  }
  *store = okr::notify::InstrumentNotifyStore(*std::move(store));  // okr_store_* metrics
  // Redis connects lazily: one that is down at start only delays publication.
  std::unique_ptr<okr::RedisClient> redis;
  std::unique_ptr<okr::notify::ReminderPublisher> publisher;
  if (redis_options.has_value()) {
    redis = std::make_unique<okr::RedisClient>(*redis_options);
    publisher = std::make_unique<okr::notify::ReminderPublisher>(redis.get());
  }
  std::unique_ptr<okr::notify::WebhookSender> sender =
      okr::notify::NewCurlWebhookSender(*webhook_destinations);
  okr::notify::WebhookDispatcherOptions dispatcher_options;
  dispatcher_options.threads = webhook_threads;
  dispatcher_options.attempt_timeout = webhook_timeout;
  dispatcher_options.max_attempts = webhook_max_attempts;
  dispatcher_options.initial_backoff = webhook_initial_backoff;
  // The lease must outlast an attempt, or a slow attempt's task would be
  // leased again (and sent twice) while it is still under way.
  if (dispatcher_options.lease <= 2 * webhook_timeout) {
    dispatcher_options.lease = 2 * webhook_timeout + absl::Seconds(5);
  }
  okr::notify::WebhookDispatcher dispatcher(store->get(), sender.get(), dispatcher_options);
  okr::notify::WatchHub hub;
  // With Redis, local watchers hear every replica's reminders through the
  // subscription (their own included), so Notify does not also hand them
  // over directly: each arrives once. Without Redis only this replica
  // publishes, straight to the hub.
  std::optional<okr::notify::RedisWatchFeed> watch_feed;
  if (redis_options.has_value()) {
    watch_feed.emplace(okr::notify::RedisWatchFeedOptions{.redis = *redis_options}, &hub);
  }
  okr::notify::Notify notify(store->get(), plan->get(), tracking->get(), publisher.get(),
                             watch_feed.has_value() ? nullptr : &hub,
                             &dispatcher,
                             {.webhook_destinations = *webhook_destinations});
  okr::WorkerPool pool({.threads = workers, .max_queued = max_queued, .name = "notify"});
  okr::notify::NotifyGrpcService service(&notify, &hub, &pool, runtime.authenticator());

  okr::ServerOptions server_options{
      .listen_address = listen, .service_name = "notify", .shutdown_grace = shutdown_grace};
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
  // Deliveries left in the outbox by an earlier process resume now.
  dispatcher.Start();
  // okr::Server enables gRPC's default health service, so this is not null.
  grpc::HealthCheckServiceInterface* health = (*server)->grpc_server()->GetHealthCheckService();
  health->SetServingStatus(okr::v1::NotifyService::service_full_name(), true);
  std::optional<Ticker> ticker;
  if (ticker_interval > absl::ZeroDuration()) {
    ticker.emplace(&notify, ticker_organisations, ticker_interval);
  }
  okr::LogInfo("serving",
               {{"listen", (*server)->address()},
                {"address", (*server)->address()},
                {"port", (*server)->port()},
                {"store", RedactStoreUrl(store_url)},
                {"redis", redis_address.empty() ? "off" : redis_address},
                {"planning_addr", planning_addr},
                {"tracking_addr", tracking_addr},
                {"planning_timeout", planning_timeout},
                {"tracking_timeout", tracking_timeout},
                {"workers", workers},
                {"max_queued", max_queued},
                {"webhook_threads", webhook_threads},
                {"webhook_max_attempts", webhook_max_attempts},
                {"ticker_interval", ticker_interval},
                {"ticker_organisations", absl::StrJoin(ticker_organisations, ",")}});

  const int signal = okr::WaitForShutdownSignal();
  okr::LogInfo("shutdown signal received", {{"signal", signal}});
  // Health first, so probes and balancers stop sending.
  runtime.Stop();  // the health watch must not set SERVING again
  (*server)->SetServing(false);
  ticker.reset();
  // Watch streams never end by themselves; the server's drain would wait
  // the whole grace period for them.
  service.Shutdown();
  if (watch_feed.has_value()) watch_feed->Stop();
  (*server)->Shutdown();
  dispatcher.Stop();
  // Run whatever is still queued before Notify and the store go away.
  pool.Shutdown();
  okr::LogInfo("stopped");
  return 0;
}
