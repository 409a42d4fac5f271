// The notify store on PostgreSQL (libpq, common/postgres.h): the backend
// behind --store=postgresql://... (see OpenNotifyStore in notify_store.h),
// which several okr-notify replicas share. Its semantics are the SQLite
// store's (sqlite_notify_store.h), checked by the same conformance suite.
//
// Schema (migration 1 in notify_schema_migrations). Tables are prefixed
// notify_ so that planning and tracking may share the database; text keys are
// COLLATE "C" so that orders (policies by team id, outbox ties) are byte
// orders as in SQLite, whatever the database's locale:
//   notify_policies(org, team_id, version, update_time, body)
//                                  PK (org, team_id)
//   notify_webhooks(org, id, request_id, url, create_time, body)
//                                  PK (org, id),
//                                  UNIQUE (org, request_id) WHERE request_id <> ''
//   notify_reminders(sequence, org, id, recipient_id, kind, window_key,
//                    team_id, publish_time, published, body)
//                                  PK (sequence) identity,
//                                  UNIQUE (org, id),
//                                  UNIQUE (org, recipient_id, kind, window_key)
//   notify_deliveries(sequence, org, id, reminder_id, channel, webhook_id,
//                     attempt, status, time, body)
//                                  PK (sequence) identity, UNIQUE (org, id)
//   notify_outbox(org, reminder_id, webhook_id, attempts, next_attempt,
//                 lease_until)     PK (org, reminder_id, webhook_id)
// Times are timestamptz written as whole microseconds (what a read returns
// is the time given, rounded down to the microsecond); bodies are bytea.
//
// Concurrency across replicas, all in READ COMMITTED:
// - ClaimReminders: INSERT ... ON CONFLICT DO NOTHING RETURNING per reminder;
//   PostgreSQL makes a racing insert of the same key wait for the first and
//   then do nothing, so exactly one claim wins. Claims of one organisation
//   also take turns under a transaction-scoped advisory lock, so that two
//   claims of overlapping sets in different orders queue instead of
//   deadlocking.
// - LeaseWebhookTasks: SELECT ... FOR UPDATE OF the outbox SKIP LOCKED, then
//   the lease is written in the same transaction: two dispatchers never get
//   the same task, and neither waits for the other.
// - CreateWebhook: the count, the request_id lookup and the insert run under
//   a transaction-scoped advisory lock per organisation, so the limit holds
//   and a request id makes one webhook however many replicas retry it.
// - PutPolicy / DeletePolicy: one conditional INSERT / UPDATE / DELETE on the
//   expected version; zero rows changed is ABORTED (or NOT_FOUND).
// - CompleteWebhookAttempt holds a KEY SHARE lock on the webhook row while it
//   reschedules, so a concurrent DeleteWebhook either sees the rescheduled
//   task (and drops it) or makes the attempt remove it.
#ifndef OKR_SERVICES_NOTIFY_POSTGRES_NOTIFY_STORE_H_
#define OKR_SERVICES_NOTIFY_POSTGRES_NOTIFY_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/postgres.h"
#include "services/notify/notify_store.h"

namespace okr::notify {

// The migrations table of the notify store.
inline constexpr absl::string_view kNotifyMigrationsTable = "notify_schema_migrations";

class PostgresNotifyStore : public NotifyStore {
 public:
  // Connects a pool to options.url and brings the schema up to date
  // (replicas starting together are serialised by PgMigrate). UNAVAILABLE
  // when the server cannot be reached, INVALID_ARGUMENT for a malformed URL,
  // FAILED_PRECONDITION for a schema newer than this binary. The URL's
  // password never appears in an error.
  static absl::StatusOr<std::unique_ptr<PostgresNotifyStore>> Open(PgPoolOptions options);

  PostgresNotifyStore(const PostgresNotifyStore&) = delete;
  PostgresNotifyStore& operator=(const PostgresNotifyStore&) = delete;
  // No call may be in flight.
  ~PostgresNotifyStore() override;

  // The NotifyStore contract, with the SQLite store's argument checks
  // (INVALID_ARGUMENT naming the field for an empty organisation_id, empty
  // ids, infinite times, non-positive limits). A lost connection or a
  // stopped server is UNAVAILABLE.
  absl::StatusOr<std::optional<StoredPolicy>> GetPolicy(absl::string_view organisation_id,
                                                        absl::string_view team_id) override;
  absl::StatusOr<std::vector<StoredPolicy>> ListPolicies(
      absl::string_view organisation_id) override;
  absl::StatusOr<StoredPolicy> PutPolicy(absl::string_view organisation_id,
                                         const StoredPolicy& policy,
                                         int64_t expected_version) override;
  absl::Status DeletePolicy(absl::string_view organisation_id, absl::string_view team_id,
                            int64_t expected_version) override;

  absl::StatusOr<StoredWebhook> CreateWebhook(absl::string_view organisation_id,
                                              const StoredWebhook& webhook, int limit) override;
  absl::StatusOr<std::vector<StoredWebhook>> ListWebhooks(
      absl::string_view organisation_id) override;
  absl::Status DeleteWebhook(absl::string_view organisation_id, absl::string_view id) override;

  absl::StatusOr<std::vector<bool>> ClaimReminders(
      absl::string_view organisation_id, absl::Span<const NewReminder> reminders) override;
  absl::StatusOr<std::vector<StoredReminder>> UnpublishedReminders(
      absl::string_view organisation_id, int limit) override;
  absl::Status MarkPublished(absl::string_view organisation_id,
                             absl::Span<const Id> reminder_ids) override;
  absl::StatusOr<ReminderPage> ListReminders(absl::string_view organisation_id,
                                             const ReminderQuery& query) override;

  absl::Status AppendDeliveries(absl::string_view organisation_id,
                                absl::Span<const StoredDelivery> deliveries) override;
  // One transaction.
  absl::Status RecordPublished(absl::string_view organisation_id,
                               absl::Span<const StoredDelivery> deliveries,
                               absl::Span<const Id> reminder_ids) override;
  absl::StatusOr<DeliveryPage> ListDeliveries(absl::string_view organisation_id,
                                              const DeliveryQuery& query) override;

  // Like SQLite's: also drops tasks whose webhook is gone and whose lease
  // (if any) has expired.
  absl::StatusOr<std::vector<WebhookTask>> LeaseWebhookTasks(absl::Time now, absl::Duration lease,
                                                             int limit) override;
  // A task whose webhook is gone is removed instead of rescheduled.
  absl::Status CompleteWebhookAttempt(const WebhookTask& task, const StoredDelivery& delivery,
                                      std::optional<absl::Time> next_attempt) override;
  absl::StatusOr<int64_t> PendingWebhookTasks() override;

  // The pool's Ping (SELECT 1): OK or UNAVAILABLE.
  absl::Status CheckHealth() override;

 private:
  explicit PostgresNotifyStore(std::unique_ptr<PgPool> pool);

  std::unique_ptr<PgPool> pool_;
};

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_POSTGRES_NOTIFY_STORE_H_
