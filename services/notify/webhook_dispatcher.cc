#include "services/notify/webhook_dispatcher.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/model_proto.h"
#include "okr/v1/notify.pb.h"
#include "services/planning/org_state.h"

namespace okr::notify {
namespace {

// okr_webhook_deliveries_total{result}: every attempt, as delivered, retried
// (failed, another attempt is due) or failed (for good).
void CountDelivery(int status) {
  static metrics::CounterFamily& deliveries = metrics::Default().AddCounter(
      "okr_webhook_deliveries_total",
      "Webhook delivery attempts by result: delivered, retried (another attempt follows) or "
      "failed (for good).",
      {"result"});
  static metrics::Counter& delivered = deliveries.WithLabels({"delivered"});
  static metrics::Counter& retried = deliveries.WithLabels({"retried"});
  static metrics::Counter& failed = deliveries.WithLabels({"failed"});
  if (status == v1::DELIVERY_STATUS_SUCCEEDED) {
    delivered.Increment();
  } else if (status == v1::DELIVERY_STATUS_RETRYING) {
    retried.Increment();
  } else {
    failed.Increment();
  }
}

absl::Duration Backoff(const WebhookDispatcherOptions& options, int next_attempt) {
  if (next_attempt <= 1) return absl::ZeroDuration();
  absl::Duration delay = options.initial_backoff;
  for (int i = 2; i < next_attempt && delay < options.max_backoff; ++i) delay *= 2;
  return std::min(delay, options.max_backoff);
}

}  // namespace

// Threads: one poller leases due tasks into `queue`; `threads` workers take
// them one at a time and POST. `mu` guards only the queue and the flags; no
// lock is held across a POST or a store call.
struct WebhookDispatcher::Impl {
  Impl(NotifyStore* store_arg, WebhookSender* sender_arg,
       WebhookDispatcherOptions options_arg)
      : store(store_arg),
        sender(sender_arg),
        options(std::move(options_arg)),
        threads(std::max(1, options.threads)),
        capacity(threads * 4),
        lease(options.lease > options.attempt_timeout ? options.lease
                                                      : 2 * options.attempt_timeout),
        per_webhook(std::max(1, threads - 1)) {
    if (lease != options.lease) {
      // A lease shorter than an attempt would hand the task to a second
      // dispatcher mid-POST (and Attempt() would skip every task).
      LogWarn("webhook dispatcher: the lease must exceed the attempt timeout; using twice "
              "the attempt timeout",
              {{"lease", options.lease}, {"attempt_timeout", options.attempt_timeout}});
    }
  }

  // A leased task and the moment its lease runs out.
  struct Leased {
    WebhookTask task;
    absl::Time lease_end;
  };

  void PollLoop();
  void WorkLoop();
  // Leases up to `limit` due tasks; logs and returns an empty batch on a
  // store error (the next poll tries again).
  std::vector<Leased> Lease(int limit);
  // One POST of `leased` and its delivery record.
  void Attempt(const Leased& leased);
  absl::Duration Jittered(absl::Duration delay);

  NotifyStore* const store;
  WebhookSender* const sender;
  const WebhookDispatcherOptions options;
  const int threads;
  // Tasks leased and not yet finished at most: leasing more than the workers
  // can start soon would let leases run out in the queue.
  const int capacity;
  // options.lease, raised when it does not exceed attempt_timeout.
  const absl::Duration lease;
  // Attempts one webhook may have under way at once: all threads but one, so
  // a hanging receiver with many queued tasks can never hold every thread
  // and delay the other webhooks' deliveries by whole timeouts.
  const int per_webhook;

  absl::Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool wake ABSL_GUARDED_BY(mu) = false;
  std::deque<Leased> queue ABSL_GUARDED_BY(mu);
  int running ABSL_GUARDED_BY(mu) = 0;  // attempts under way on workers
  std::map<std::string, int> running_by_webhook ABSL_GUARDED_BY(mu);

  // Whether `leased`'s webhook is below per_webhook attempts under way.
  bool Eligible(const Leased& leased) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = running_by_webhook.find(leased.task.webhook_id);
    return it == running_by_webhook.end() || it->second < per_webhook;
  }
  // The first queued task that is Eligible(), else end().
  std::deque<Leased>::iterator NextEligible() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return std::find_if(queue.begin(), queue.end(),
                        [this](const Leased& leased)
                            ABSL_NO_THREAD_SAFETY_ANALYSIS { return Eligible(leased); });
  }
  std::thread poller;
  std::vector<std::thread> workers;

  absl::Mutex random_mu;
  absl::BitGen random ABSL_GUARDED_BY(random_mu);
};

WebhookDispatcher::WebhookDispatcher(NotifyStore* store, WebhookSender* sender,
                                     WebhookDispatcherOptions options)
    : impl_(std::make_unique<Impl>(store, sender, std::move(options))) {}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

void WebhookDispatcher::Start() {
  absl::MutexLock lock(&impl_->mu);
  if (impl_->started) return;
  impl_->started = true;
  for (int i = 0; i < impl_->threads; ++i) {
    impl_->workers.emplace_back([impl = impl_.get()] { impl->WorkLoop(); });
  }
  impl_->poller = std::thread([impl = impl_.get()] { impl->PollLoop(); });
}

void WebhookDispatcher::Wake() {
  absl::MutexLock lock(&impl_->mu);
  impl_->wake = true;
}

void WebhookDispatcher::Stop() {
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    // Tasks leased but not begun stay leased in the store; any dispatcher
    // takes them again once the lease expires.
    impl_->queue.clear();
  }
  if (impl_->poller.joinable()) impl_->poller.join();
  for (std::thread& worker : impl_->workers) {
    if (worker.joinable()) worker.join();
  }
}

absl::StatusOr<int> WebhookDispatcher::RunOnce() {
  const absl::Time now = impl_->options.clock();
  OKR_ASSIGN_OR_RETURN(
      std::vector<WebhookTask> tasks,
      impl_->store->LeaseWebhookTasks(now, impl_->lease, impl_->capacity));
  std::vector<Impl::Leased> batch;
  batch.reserve(tasks.size());
  for (WebhookTask& task : tasks) {
    batch.push_back({std::move(task), now + impl_->lease});
  }
  // Workers take the next index until the batch is done.
  absl::Mutex next_mu;
  size_t next = 0;
  auto work = [&] {
    while (true) {
      size_t index;
      {
        absl::MutexLock lock(&next_mu);
        if (next >= batch.size()) return;
        index = next++;
      }
      impl_->Attempt(batch[index]);
    }
  };
  std::vector<std::thread> pool;
  const int spawn = std::min<int>(impl_->threads, static_cast<int>(batch.size()));
  for (int i = 0; i < spawn; ++i) pool.emplace_back(work);
  for (std::thread& thread : pool) thread.join();
  return static_cast<int>(batch.size());
}

absl::Duration WebhookDispatcher::BackoffBefore(int next_attempt) const {
  return Backoff(impl_->options, next_attempt);
}

void WebhookDispatcher::Impl::PollLoop() {
  while (true) {
    int free_slots = 0;
    {
      absl::MutexLock lock(&mu);
      // A poll interval passes, or Wake() asks for a poll while there is
      // room, or Stop().
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        return stopping || (wake && static_cast<int>(queue.size()) + running < capacity);
      };
      mu.AwaitWithTimeout(absl::Condition(&ready), options.poll_interval);
      if (stopping) return;
      wake = false;
      // Tasks waiting for their webhook's cap do not take slots: otherwise a
      // queue full of a hanging webhook's tasks would stop other webhooks'
      // tasks from being leased at all. Their leases lapse if they wait too
      // long (Attempt() skips them) and the outbox hands them out again.
      free_slots = capacity - running -
                   static_cast<int>(std::count_if(
                       queue.begin(), queue.end(),
                       [this](const Leased& leased) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                         return Eligible(leased);
                       }));
      if (static_cast<int>(queue.size()) >= 8 * capacity) free_slots = 0;
    }
    if (free_slots <= 0) continue;
    std::vector<Leased> batch = Lease(free_slots);
    if (batch.empty()) continue;
    absl::MutexLock lock(&mu);
    if (stopping) return;  // leases lapse and another dispatcher takes them
    for (Leased& leased : batch) queue.push_back(std::move(leased));
    // Tasks just leased may have siblings still due: poll again at once.
    if (static_cast<int>(batch.size()) == free_slots) wake = true;
  }
}

void WebhookDispatcher::Impl::WorkLoop() {
  while (true) {
    Leased leased;
    {
      absl::MutexLock lock(&mu);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        return stopping || NextEligible() != queue.end();
      };
      mu.Await(absl::Condition(&ready));
      if (stopping) return;
      auto next = NextEligible();
      leased = std::move(*next);
      queue.erase(next);
      ++running;
      ++running_by_webhook[leased.task.webhook_id];
    }
    Attempt(leased);
    absl::MutexLock lock(&mu);
    --running;
    if (--running_by_webhook[leased.task.webhook_id] <= 0) {
      running_by_webhook.erase(leased.task.webhook_id);
    }
  }
}

std::vector<WebhookDispatcher::Impl::Leased> WebhookDispatcher::Impl::Lease(int limit) {
  const absl::Time now = options.clock();
  absl::StatusOr<std::vector<WebhookTask>> tasks =
      store->LeaseWebhookTasks(now, lease, limit);
  std::vector<Leased> batch;
  if (!tasks.ok()) {
    LogError("webhook outbox: leasing tasks failed; retrying at the next poll",
             {{"error", tasks.status()}});
    return batch;
  }
  batch.reserve(tasks->size());
  for (WebhookTask& task : *tasks) batch.push_back({std::move(task), now + lease});
  return batch;
}

absl::Duration WebhookDispatcher::Impl::Jittered(absl::Duration delay) {
  // Up to 20% longer, never shorter: receivers recovering from an outage are
  // not hit by every retry at once, and the documented backoff is a minimum.
  double factor;
  {
    absl::MutexLock lock(&random_mu);
    factor = absl::Uniform(random, 0.0, 0.2);
  }
  return delay + delay * factor;
}

void WebhookDispatcher::Impl::Attempt(const Leased& leased) {
  const WebhookTask& task = leased.task;
  // A task whose lease would end during the POST may be taken by another
  // dispatcher meanwhile; leave it to whoever leases it next.
  if (options.clock() + options.attempt_timeout > leased.lease_end) {
    LogWarn("webhook outbox: lease ran out before the attempt; leaving it for the next lease",
            {{"organisation", task.organisation_id},
             {"webhook", task.webhook_id},
             {"reminder", task.reminder_id}});
    return;
  }

  v1::Reminder reminder;
  const int attempt_number = task.attempts + 1;
  WebhookAttempt attempt;
  if (!reminder.ParseFromString(task.reminder_body)) {
    attempt.outcome = WebhookAttempt::Outcome::kPermanentFailure;
    attempt.error = "stored reminder is unreadable (corrupt outbox row)";
  } else {
    attempt = sender->Post(task.url, WebhookBody(reminder), options.attempt_timeout);
  }
  const absl::Time now = options.clock();

  int status = v1::DELIVERY_STATUS_SUCCEEDED;
  std::optional<absl::Time> next_attempt;
  std::string error = attempt.error;
  switch (attempt.outcome) {
    case WebhookAttempt::Outcome::kSucceeded:
      error.clear();
      break;
    case WebhookAttempt::Outcome::kPermanentFailure:
      status = v1::DELIVERY_STATUS_FAILED;
      break;
    case WebhookAttempt::Outcome::kRetryable:
      if (attempt_number >= options.max_attempts) {
        status = v1::DELIVERY_STATUS_FAILED;
        absl::StrAppend(&error, " (gave up after ", attempt_number,
                        attempt_number == 1 ? " attempt)" : " attempts)");
      } else {
        status = v1::DELIVERY_STATUS_RETRYING;
        next_attempt = now + Jittered(Backoff(options, attempt_number + 1));
      }
      break;
  }

  v1::Delivery delivery;
  delivery.set_id(planning::NewPrefixedId("dl"));
  delivery.set_reminder_id(task.reminder_id);
  delivery.set_channel(v1::DELIVERY_CHANNEL_WEBHOOK);
  delivery.set_webhook_id(task.webhook_id);
  delivery.set_attempt(attempt_number);
  delivery.set_status(static_cast<v1::DeliveryStatus>(status));
  delivery.set_http_status(attempt.http_status);
  delivery.set_error(error);
  *delivery.mutable_time() = ToProto(now);

  StoredDelivery stored;
  stored.id = delivery.id();
  stored.reminder_id = task.reminder_id;
  stored.channel = v1::DELIVERY_CHANNEL_WEBHOOK;
  stored.webhook_id = task.webhook_id;
  stored.attempt = attempt_number;
  stored.status = status;
  stored.time = now;
  stored.body = delivery.SerializeAsString();

  CountDelivery(status);
  if (status != v1::DELIVERY_STATUS_SUCCEEDED) {
    LogWarn(status == v1::DELIVERY_STATUS_RETRYING ? "webhook delivery failed; will retry"
                                                    : "webhook delivery failed for good",
            {{"organisation", task.organisation_id},
             {"webhook", task.webhook_id},
             {"reminder", task.reminder_id},
             {"attempt", attempt_number},
             {"http_status", attempt.http_status},
             {"error", error}});
  }
  if (absl::Status recorded = store->CompleteWebhookAttempt(task, stored, next_attempt);
      !recorded.ok()) {
    // The task stays leased; when the lease expires it is attempted again
    // (at-least-once).
    LogError("webhook outbox: recording an attempt failed",
             {{"organisation", task.organisation_id},
              {"webhook", task.webhook_id},
              {"reminder", task.reminder_id},
              {"attempt", attempt_number},
              {"error", recorded}});
  }
}

}  // namespace okr::notify
