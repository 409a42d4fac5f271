// The notify service's store: reminder policies, webhooks, the reminders that
// were published (the "once per (recipient, kind, window)" ledger), the
// webhook outbox and the delivery log.
//
// The store is what makes reminders exactly-once across reruns and replicas:
// ClaimReminders inserts a reminder only when its (recipient, kind, window)
// is new, under a unique constraint, in the same transaction that queues its
// webhook deliveries. Whoever inserted it publishes it; a run that crashed
// between the claim and the Redis publication leaves it "unpublished", and
// the next run publishes it (the Redis side dedupes by reminder id, see
// reminder_publisher.h).
//
// Bodies are serialized okr.v1 messages (ReminderPolicy, Webhook, Reminder,
// Delivery) the store never parses; the columns it filters and orders on are
// passed beside them. SQLite (embedded default) and PostgreSQL (shared by
// replicas) implement it; tests/services/notify holds the conformance suite every
// backend must pass.
#ifndef OKR_SERVICES_NOTIFY_NOTIFY_STORE_H_
#define OKR_SERVICES_NOTIFY_NOTIFY_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/model.h"

namespace okr::notify {

// The policy of the organisation (team_id empty) or of one team. `body` is the
// serialized okr.v1.ReminderPolicy with version and update_time filled in.
struct StoredPolicy {
  Id team_id;
  int64_t version = 0;  // 1 on create, +1 on each replace
  absl::Time update_time = absl::UnixEpoch();
  std::string body;
};

// A webhook. `body` is the serialized okr.v1.Webhook, output fields filled.
struct StoredWebhook {
  Id id;
  std::string request_id;  // idempotency key of CreateWebhook; may be empty
  // The URL deliveries go to (as in the body): LeaseWebhookTasks joins it
  // into each task, since the store never parses bodies.
  std::string url;
  absl::Time create_time = absl::UnixEpoch();
  std::string body;
};

// A published (or claimed, not yet published) reminder. `body` is the
// serialized okr.v1.Reminder with id and publish_time filled in.
struct StoredReminder {
  Id id;
  Id recipient_id;
  int kind = 0;  // okr.v1.ReminderKind
  std::string window_key;
  Id team_id;
  absl::Time publish_time = absl::UnixEpoch();
  // True once the Redis stream and channel have it (or Redis is not used).
  bool published = false;
  std::string body;
};

// One delivery attempt. `body` is the serialized okr.v1.Delivery.
struct StoredDelivery {
  Id id;
  Id reminder_id;
  int channel = 0;  // okr.v1.DeliveryChannel
  Id webhook_id;    // empty unless channel is WEBHOOK
  int attempt = 1;
  int status = 0;   // okr.v1.DeliveryStatus
  absl::Time time = absl::UnixEpoch();
  std::string body;
};

// A reminder to claim, with the webhooks that must receive it.
struct NewReminder {
  StoredReminder reminder;  // published == false
  std::vector<Id> webhook_ids;
};

// A webhook delivery waiting in the outbox, joined with what delivering it
// needs. Leased by one dispatcher at a time.
struct WebhookTask {
  std::string organisation_id;
  Id reminder_id;
  Id webhook_id;
  std::string url;            // the webhook's URL
  std::string reminder_body;  // serialized okr.v1.Reminder
  int attempts = 0;           // attempts made so far
  absl::Time next_attempt = absl::UnixEpoch();
};

// Filters and paging of ListReminders. Newest first: by publish order, the
// store's own insertion sequence, descending.
struct ReminderQuery {
  int kind = 0;  // 0: every kind
  Id recipient_id;
  std::string window_key;
  std::optional<absl::Time> start_time;  // publish_time >= start_time
  int64_t before_sequence = 0;           // 0: from the newest
  int limit = 50;
};

struct ReminderPage {
  std::vector<StoredReminder> reminders;
  int64_t next_before_sequence = 0;  // 0 on the last page
  int64_t total = 0;                 // matching the filters, all pages
};

// Filters and paging of ListDeliveries, newest first.
struct DeliveryQuery {
  Id reminder_id;
  Id webhook_id;
  int channel = 0;  // 0: every channel
  int status = 0;   // 0: every status
  std::optional<absl::Time> start_time;  // time >= start_time
  int64_t before_sequence = 0;
  int limit = 50;
};

struct DeliveryPage {
  std::vector<StoredDelivery> deliveries;
  int64_t next_before_sequence = 0;
  int64_t total = 0;
};

class NotifyStore {
 public:
  virtual ~NotifyStore() = default;

  // --- Policies ------------------------------------------------------------

  // The stored policy of `team_id` ("" for the organisation's), or nullopt.
  virtual absl::StatusOr<std::optional<StoredPolicy>> GetPolicy(
      absl::string_view organisation_id, absl::string_view team_id) = 0;
  // Every stored policy: the organisation's first, then teams by id.
  virtual absl::StatusOr<std::vector<StoredPolicy>> ListPolicies(
      absl::string_view organisation_id) = 0;
  // Creates (expected_version 0, none stored) or replaces (expected_version ==
  // the stored version) the policy of policy.team_id. The caller sets
  // policy.version = expected_version + 1 and policy.update_time, and puts
  // both in the body too; the store keeps them as given and returns the
  // stored policy. ABORTED "version: ..." on any other expected_version.
  virtual absl::StatusOr<StoredPolicy> PutPolicy(absl::string_view organisation_id,
                                                 const StoredPolicy& policy,
                                                 int64_t expected_version) = 0;
  // Deletes the policy of `team_id`. NOT_FOUND when none is stored, ABORTED
  // "version: ..." when `expected_version` is not the stored one.
  virtual absl::Status DeletePolicy(absl::string_view organisation_id,
                                    absl::string_view team_id,
                                    int64_t expected_version) = 0;

  // --- Webhooks ------------------------------------------------------------

  // Stores a new webhook. A non-empty request_id already used by a webhook of
  // the organisation returns that webhook instead (idempotent retry).
  // FAILED_PRECONDITION naming the limit when the organisation already has
  // `limit` webhooks.
  virtual absl::StatusOr<StoredWebhook> CreateWebhook(absl::string_view organisation_id,
                                                      const StoredWebhook& webhook,
                                                      int limit) = 0;
  // Every webhook of the organisation by (create_time, id).
  virtual absl::StatusOr<std::vector<StoredWebhook>> ListWebhooks(
      absl::string_view organisation_id) = 0;
  // Deletes a webhook and drops its queued (not leased) outbox tasks.
  // NOT_FOUND "id: ..." when absent.
  virtual absl::Status DeleteWebhook(absl::string_view organisation_id,
                                     absl::string_view id) = 0;

  // --- Reminders -------------------------------------------------------------

  // In one transaction: inserts each reminder whose (recipient_id, kind,
  // window_key) the organisation does not have yet, and queues one outbox
  // task (attempts 0, next_attempt = its publish_time) per listed webhook of
  // each inserted reminder. Returns, per input, whether it was inserted.
  // Two callers racing on the same (recipient, kind, window) never both
  // insert it (also across processes sharing the database).
  virtual absl::StatusOr<std::vector<bool>> ClaimReminders(
      absl::string_view organisation_id, absl::Span<const NewReminder> reminders) = 0;
  // Up to `limit` claimed reminders with published == false, oldest first.
  virtual absl::StatusOr<std::vector<StoredReminder>> UnpublishedReminders(
      absl::string_view organisation_id, int limit) = 0;
  // Sets published = true on these reminders (unknown ids are ignored).
  virtual absl::Status MarkPublished(absl::string_view organisation_id,
                                     absl::Span<const Id> reminder_ids) = 0;
  virtual absl::StatusOr<ReminderPage> ListReminders(absl::string_view organisation_id,
                                                     const ReminderQuery& query) = 0;

  // --- Delivery log and webhook outbox ----------------------------------------

  // Appends delivery attempts (Redis channels; webhook attempts go through
  // CompleteWebhookAttempt).
  virtual absl::Status AppendDeliveries(absl::string_view organisation_id,
                                        absl::Span<const StoredDelivery> deliveries) = 0;
  virtual absl::StatusOr<DeliveryPage> ListDeliveries(absl::string_view organisation_id,
                                                      const DeliveryQuery& query) = 0;

  // What a run records for a slice of reminders Redis took: appends
  // `deliveries` (as AppendDeliveries) and marks `reminder_ids` published
  // (as MarkPublished). Backends do both in one transaction; this default
  // calls the two in that order.
  virtual absl::Status RecordPublished(absl::string_view organisation_id,
                                       absl::Span<const StoredDelivery> deliveries,
                                       absl::Span<const Id> reminder_ids);

  // Leases up to `limit` outbox tasks of any organisation whose next_attempt
  // <= now and whose lease (if any) has expired, for `lease` from `now`,
  // oldest next_attempt first. A leased task is given to no other caller
  // until its lease expires (a dispatcher that died mid-attempt), also
  // across processes sharing the database.
  virtual absl::StatusOr<std::vector<WebhookTask>> LeaseWebhookTasks(absl::Time now,
                                                                     absl::Duration lease,
                                                                     int limit) = 0;
  // Records one attempt of a leased task in one transaction: appends
  // `delivery` to the log and either removes the task (next_attempt
  // nullopt: delivered or failed for good) or sets attempts =
  // delivery.attempt, next_attempt, and ends the lease. A task whose webhook
  // was deleted meanwhile still gets its delivery logged.
  virtual absl::Status CompleteWebhookAttempt(const WebhookTask& task,
                                              const StoredDelivery& delivery,
                                              std::optional<absl::Time> next_attempt) = 0;
  // Outbox tasks not yet finished, for health and tests.
  virtual absl::StatusOr<int64_t> PendingWebhookTasks() = 0;

  // OK when the store can serve now (one cheap round trip); UNAVAILABLE
  // naming the reason otherwise. The health watch calls it every few seconds
  // and reports NOT_SERVING while it fails. Backends override it; the
  // default (for in-memory test stores) is always OK.
  virtual absl::Status CheckHealth() { return absl::OkStatus(); }
};

// Opens the store named by the --store flag: "sqlite:PATH" (created with its
// schema when missing; WAL) or "postgresql://USER@HOST:PORT/DB" (also
// "postgres://"; tables notify_*, migrated on open; see
// postgres_notify_store.h). INVALID_ARGUMENT naming `store` for any other
// scheme, ":memory:" or an empty path; UNAVAILABLE when the PostgreSQL server
// cannot be reached. A URL's password never appears in an error.
absl::StatusOr<std::unique_ptr<NotifyStore>> OpenNotifyStore(absl::string_view url);

// --- For backends ---------------------------------------------------------------
// Every backend checks its arguments with these, so that SQLite and
// PostgreSQL refuse the same input with the same INVALID_ARGUMENT message
// naming the field.

absl::Status RequireOrganisation(absl::string_view organisation_id);
absl::Status RequireNonEmpty(absl::string_view value, absl::string_view field);
// Infinite times would be stored as int64's extremes and read back as
// something else.
absl::Status RequireFinite(absl::Time t, absl::string_view field);
absl::Status RequirePositive(int64_t value, absl::string_view field);
// `field`.id, `field`.reminder_id and `field`.time.
absl::Status ValidateDelivery(const StoredDelivery& delivery, absl::string_view field);
// The organisation and each of `deliveries` (as "deliveries[i]"): the
// argument checks of AppendDeliveries and RecordPublished.
absl::Status ValidateDeliveries(absl::string_view organisation_id,
                                absl::Span<const StoredDelivery> deliveries);
// "the organisation" or "team '<id>'", for messages about a policy.
std::string PolicyOwner(absl::string_view team_id);
// The argument checks of PutPolicy (policy.version must be
// expected_version + 1), CreateWebhook and ClaimReminders.
absl::Status ValidatePolicyForPut(absl::string_view organisation_id, const StoredPolicy& policy,
                                  int64_t expected_version);
absl::Status ValidateWebhookForCreate(absl::string_view organisation_id,
                                      const StoredWebhook& webhook, int limit);
absl::Status ValidateRemindersForClaim(absl::string_view organisation_id,
                                       absl::Span<const NewReminder> reminders);

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_NOTIFY_STORE_H_
