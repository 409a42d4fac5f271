// The notify use-cases: everything okr.v1.NotifyService does except the
// WatchReminders stream itself (the gRPC adapter serves it from the
// WatchHub), with no gRPC in sight.
//
// As tracking does, the use-cases take and fill the okr.v1 messages. The
// plan (people, teams, cycles, objectives, key results, the organisation's
// time zone and fiscal calendar) comes from planning's change feed into an
// in-memory mirror per organisation; who has not checked in comes from
// tracking (TrackingSource); policies, webhooks, the reminder ledger, the
// outbox and the delivery log live in the NotifyStore.
//
// RunDueReminders(now), in order:
//  1. brings the plan mirror up to date, loads the stored policies and
//     resolves the effective policy of every person (their first team's,
//     walking up parent teams, then the organisation's, then defaults;
//     cadence.h);
//  2. finds the due reminders of each requested and enabled kind (one per
//     recipient, kind and window, listing what is due);
//  3. publishes what earlier runs claimed and left unpublished (a crash, a
//     Redis outage), a page at a time;
//  4. claims the due reminders in the store: only those whose (recipient,
//     kind, window) is new are inserted, together with their webhook outbox
//     tasks;
//  5. publishes every claimed one on the Redis stream and channel (once per
//     reminder id, pipelined), logs those deliveries and marks them
//     published a slice at a time, hands them to the watchers and wakes the
//     webhook dispatcher.
// A rerun, or a second replica running at the same time, finds the same
// reminders and claims none of them: it publishes nothing new.
//
// Thread-safe. Methods block on the store, planning, tracking and Redis:
// call them from worker threads.
#ifndef OKR_SERVICES_NOTIFY_NOTIFY_H_
#define OKR_SERVICES_NOTIFY_NOTIFY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "okr/v1/notify.pb.h"
#include "services/notify/notify_store.h"
#include "services/notify/reminder_publisher.h"
#include "services/notify/tracking_source.h"
#include "services/notify/watch_hub.h"
#include "services/notify/webhook.h"
#include "services/notify/webhook_dispatcher.h"
#include "services/planning/org_state.h"
#include "services/tracking/plan_source.h"

namespace okr::notify {

struct NotifyOptions {
  // Webhooks per organisation.
  int max_webhooks = 20;
  // Which hosts a webhook URL may name (public addresses only by default);
  // the sender checks the resolved addresses again at connect time.
  WebhookDestinationPolicy webhook_destinations;
  // The clock: publish times, update times, and `now` when a request has none.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// What okr-notify reports beside SERVING.
struct NotifyHealth {
  bool redis_enabled = false;
  bool redis_reachable = true;  // the last publication's outcome
  std::string redis_error;
};

class Notify {
 public:
  // Not owned, must outlive this: store, plan and tracking (required),
  // publisher (null: no Redis; reminders count as published once stored),
  // hub and dispatcher (null: no watchers / no webhook wake-ups).
  Notify(NotifyStore* store, tracking::PlanSource* plan, TrackingSource* tracking,
         ReminderPublisher* publisher, WatchHub* hub, WebhookDispatcher* dispatcher,
         NotifyOptions options = {});
  Notify(const Notify&) = delete;
  Notify& operator=(const Notify&) = delete;
  ~Notify();

  absl::Status SetReminderPolicy(absl::string_view org, const v1::SetReminderPolicyRequest& request,
                                 v1::ReminderPolicy* response);
  absl::Status GetReminderPolicy(absl::string_view org, const v1::GetReminderPolicyRequest& request,
                                 v1::ReminderPolicy* response);
  absl::Status ListReminderPolicies(absl::string_view org,
                                    const v1::ListReminderPoliciesRequest& request,
                                    v1::ListReminderPoliciesResponse* response);
  absl::Status DeleteReminderPolicy(absl::string_view org,
                                    const v1::DeleteReminderPolicyRequest& request);

  absl::Status CreateWebhook(absl::string_view org, const v1::CreateWebhookRequest& request,
                             v1::Webhook* response);
  absl::Status ListWebhooks(absl::string_view org, const v1::ListWebhooksRequest& request,
                            v1::ListWebhooksResponse* response);
  absl::Status DeleteWebhook(absl::string_view org, const v1::DeleteWebhookRequest& request);

  absl::Status RunDueReminders(absl::string_view org, const v1::RunDueRemindersRequest& request,
                               v1::RunDueRemindersResponse* response);
  absl::Status ListReminders(absl::string_view org, const v1::ListRemindersRequest& request,
                             v1::ListRemindersResponse* response);
  absl::Status ListDeliveries(absl::string_view org, const v1::ListDeliveriesRequest& request,
                              v1::ListDeliveriesResponse* response);

  // Checks a WatchReminders request (INVALID_ARGUMENT "kinds[i]" for an
  // unknown kind); the adapter calls it before it subscribes.
  static absl::Status ValidateWatch(const v1::WatchRemindersRequest& request);

  NotifyHealth health() const;

 private:
  struct Org;
  // The organisation's state, created on first use; its mutex serialises
  // plan refreshes and runs within this process.
  Org& OrgFor(absl::string_view org);
  absl::Status RefreshPlan(Org& org);

  NotifyStore* const store_;
  tracking::PlanSource* const plan_;
  TrackingSource* const tracking_;
  ReminderPublisher* const publisher_;
  WatchHub* const hub_;
  WebhookDispatcher* const dispatcher_;
  const NotifyOptions options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Org>> orgs_ ABSL_GUARDED_BY(mu_);
  NotifyHealth health_ ABSL_GUARDED_BY(mu_);
};

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_NOTIFY_H_
