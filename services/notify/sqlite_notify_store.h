// The notify store on an embedded SQLite file: the default behind
// --store=sqlite:PATH (see OpenNotifyStore in notify_store.h).
//
// Schema (migration 1, "notify store"). Every table carries the organisation
// and every unique key is led by it; the two logs are numbered by a global
// INTEGER PRIMARY KEY (SQLite's rowid: increasing, never reused because rows
// are never deleted) that orders "newest first" and pages:
//   policies(org, team_id, version, update_us, body)   PK (org, team_id)
//   webhooks(org, id, request_id, url, create_us, body) PK (org, id),
//                                  UNIQUE (org, request_id) WHERE request_id <> '',
//                                  INDEX (org, create_us, id)
//   reminders(sequence, org, id, recipient_id, kind, window_key, team_id,
//             publish_us, published, body)
//                                  PK (sequence), UNIQUE (org, id),
//                                  UNIQUE (org, recipient_id, kind, window_key),
//                                  INDEX (org, sequence),
//                                  INDEX (org, recipient_id, sequence),
//                                  INDEX (org, sequence) WHERE published = 0
//   deliveries(sequence, org, id, reminder_id, channel, webhook_id, attempt,
//              status, time_us, body)
//                                  PK (sequence), UNIQUE (org, id),
//                                  INDEX (org, sequence),
//                                  INDEX (org, reminder_id, sequence),
//                                  INDEX (org, webhook_id, sequence)
//   outbox(org, reminder_id, webhook_id, attempts, next_attempt_us,
//          lease_until_us)         PK (org, reminder_id, webhook_id),
//                                  INDEX (next_attempt_us)
// Times are INTEGER microseconds since the Unix epoch (so a time read back
// is the one written, rounded down to whole microseconds); kinds, channels and
// statuses are the okr.v1 enum numbers; bodies are BLOBs kept byte for byte.
// lease_until_us is NULL while a task is not leased. The SQL sticks to what
// PostgreSQL 15 also runs (ON CONFLICT targets, partial indexes, RETURNING).
//
// Concurrency: one writer connection behind a mutex, every write in a BEGIN
// IMMEDIATE transaction, and a small pool of reader connections (WAL lets
// them read beside the writer). Several processes may open the same file:
// BEGIN IMMEDIATE orders their writes (a writer waits up to busy_timeout for
// another's lock), the unique (org, recipient, kind, window) key decides
// which claim inserts a reminder, and leasing reads and marks tasks inside
// one such transaction, so no task is handed out twice.
#ifndef OKR_SERVICES_NOTIFY_SQLITE_NOTIFY_STORE_H_
#define OKR_SERVICES_NOTIFY_SQLITE_NOTIFY_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/sqlite.h"
#include "services/notify/notify_store.h"

namespace okr::notify {

struct SqliteNotifyStoreOptions {
  // kProcessCrash (default): a commit survives kill -9 of the process, the
  // last ones may be lost on power loss. kPowerLoss: an fsync per commit.
  SqliteDurability durability = SqliteDurability::kProcessCrash;
  // How long a write waits for another process's write lock before it fails
  // with UNAVAILABLE.
  absl::Duration busy_timeout = absl::Seconds(5);
  // Reader connections in the pool (at least 1).
  int reader_connections = 2;
};

class SqliteNotifyStore : public NotifyStore {
 public:
  // Opens (creating when missing) the database file at `path` and brings its
  // schema up to date. INVALID_ARGUMENT for an empty path, ":memory:" (each
  // connection would see its own empty database, and the reminder ledger
  // would not survive a restart) or reader_connections < 1; otherwise the
  // error of common/sqlite.h's Open or Migrate (FAILED_PRECONDITION for a
  // missing directory or a schema newer than this binary, DATA_LOSS for a
  // file that is not a database).
  static absl::StatusOr<std::unique_ptr<SqliteNotifyStore>> Open(
      absl::string_view path, const SqliteNotifyStoreOptions& options = {});

  SqliteNotifyStore(const SqliteNotifyStore&) = delete;
  SqliteNotifyStore& operator=(const SqliteNotifyStore&) = delete;
  // No call may be in flight.
  ~SqliteNotifyStore() override;

  // The NotifyStore contract. On top of it, every method refuses an empty
  // organisation_id, and writes refuse empty ids, infinite times and
  // non-positive limits, with INVALID_ARGUMENT naming the field.
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

  // Also drops, in the same transaction, tasks whose webhook is gone and
  // whose lease (if any) has expired: nobody can deliver them any more.
  absl::StatusOr<std::vector<WebhookTask>> LeaseWebhookTasks(absl::Time now, absl::Duration lease,
                                                             int limit) override;
  // A task whose webhook is gone is removed instead of rescheduled.
  absl::Status CompleteWebhookAttempt(const WebhookTask& task, const StoredDelivery& delivery,
                                      std::optional<absl::Time> next_attempt) override;
  absl::StatusOr<int64_t> PendingWebhookTasks() override;

  // OK while the database file is still in place and readable
  // (CheckSqliteHealth in common/sqlite.h); the health watch calls it.
  absl::Status CheckHealth() override;

  const std::string& path() const { return path_; }
  const SqliteNotifyStoreOptions& options() const { return options_; }

 private:
  SqliteNotifyStore(std::string path, SqliteNotifyStoreOptions options,
                    std::unique_ptr<SqliteDb> writer,
                    std::vector<std::unique_ptr<SqliteDb>> readers);

  const std::string path_;
  const SqliteNotifyStoreOptions options_;

  // Guards the writer connection and its cached statements for the whole of
  // each write transaction.
  absl::Mutex writer_mu_;
  std::unique_ptr<SqliteDb> writer_ ABSL_GUARDED_BY(writer_mu_);

  // The reader connections, one call at a time each.
  SqliteConnectionPool readers_;
};

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_SQLITE_NOTIFY_STORE_H_
