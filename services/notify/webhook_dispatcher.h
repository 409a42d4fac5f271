// Drains the webhook outbox: leases due tasks from the NotifyStore, POSTs
// each reminder to its webhook on a small pool of threads (so a hanging or
// failing receiver holds one thread for at most one attempt's timeout and
// never delays the others), logs every attempt as a Delivery, and schedules
// retries with exponential backoff until `max_attempts`.
//
// The outbox lives in the store, so deliveries survive a restart; leases
// keep two replicas from sending the same task at once. A delivery is
// at-least-once: a process that dies after the POST and before logging it
// sends it again when the lease expires.
#ifndef OKR_SERVICES_NOTIFY_WEBHOOK_DISPATCHER_H_
#define OKR_SERVICES_NOTIFY_WEBHOOK_DISPATCHER_H_

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/notify/notify_store.h"
#include "services/notify/webhook.h"

namespace okr::notify {

struct WebhookDispatcherOptions {
  // Threads POSTing at once.
  int threads = 4;
  // Deadline of one POST.
  absl::Duration attempt_timeout = absl::Seconds(5);
  // Attempts per delivery, the first included; then FAILED.
  int max_attempts = 5;
  // Delay before the second attempt; each later one doubles it (with up to
  // 20% jitter), capped at max_backoff.
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(5);
  // How often the outbox is polled when nobody calls Wake().
  absl::Duration poll_interval = absl::Seconds(1);
  // How long a leased task stays with this dispatcher; must exceed
  // attempt_timeout.
  absl::Duration lease = absl::Seconds(30);
  // The clock (tests pin it).
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

class WebhookDispatcher {
 public:
  // Neither is owned; both must outlive the dispatcher.
  WebhookDispatcher(NotifyStore* store, WebhookSender* sender,
                    WebhookDispatcherOptions options = {});
  ~WebhookDispatcher();  // Stop()s
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // Starts the polling thread and the POST threads.
  void Start();
  // Asks for a poll now (new tasks were queued).
  void Wake();
  // Stops polling, lets attempts under way finish (each bounded by
  // attempt_timeout), joins the threads. Idempotent.
  void Stop();

  // One pass without the threads, for tests: leases the due tasks, attempts
  // each (in parallel), logs them; returns how many were attempted.
  absl::StatusOr<int> RunOnce();

  // The delay before attempt `next_attempt` (2, 3, ...), without jitter.
  absl::Duration BackoffBefore(int next_attempt) const;

 private:
  // ... the implementation's members.
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_WEBHOOK_DISPATCHER_H_
