#include "services/notify/sqlite_notify_store.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/model.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace okr::notify {
namespace {

// Released migrations are never edited; a schema change is a new entry.
constexpr Migration kMigrations[] = {
    {1, "notify store",
     R"sql(
CREATE TABLE policies (
  org TEXT NOT NULL,
  team_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  update_us INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (org, team_id)
) STRICT;
CREATE TABLE webhooks (
  org TEXT NOT NULL,
  id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  url TEXT NOT NULL,
  create_us INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (org, id)
) STRICT;
CREATE UNIQUE INDEX webhooks_by_request ON webhooks (org, request_id) WHERE request_id <> '';
CREATE INDEX webhooks_by_create_time ON webhooks (org, create_us, id);
CREATE TABLE reminders (
  sequence INTEGER PRIMARY KEY,
  org TEXT NOT NULL,
  id TEXT NOT NULL,
  recipient_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  window_key TEXT NOT NULL,
  team_id TEXT NOT NULL,
  publish_us INTEGER NOT NULL,
  published INTEGER NOT NULL,
  body BLOB NOT NULL,
  UNIQUE (org, id),
  UNIQUE (org, recipient_id, kind, window_key)
) STRICT;
CREATE INDEX reminders_by_sequence ON reminders (org, sequence);
CREATE INDEX reminders_by_recipient ON reminders (org, recipient_id, sequence);
CREATE INDEX reminders_unpublished ON reminders (org, sequence) WHERE published = 0;
CREATE TABLE deliveries (
  sequence INTEGER PRIMARY KEY,
  org TEXT NOT NULL,
  id TEXT NOT NULL,
  reminder_id TEXT NOT NULL,
  channel INTEGER NOT NULL,
  webhook_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status INTEGER NOT NULL,
  time_us INTEGER NOT NULL,
  body BLOB NOT NULL,
  UNIQUE (org, id)
) STRICT;
CREATE INDEX deliveries_by_sequence ON deliveries (org, sequence);
CREATE INDEX deliveries_by_reminder ON deliveries (org, reminder_id, sequence);
CREATE INDEX deliveries_by_webhook ON deliveries (org, webhook_id, sequence);
CREATE TABLE outbox (
  org TEXT NOT NULL,
  reminder_id TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_us INTEGER NOT NULL,
  lease_until_us INTEGER,
  PRIMARY KEY (org, reminder_id, webhook_id)
) STRICT;
CREATE INDEX outbox_by_next_attempt ON outbox (next_attempt_us);
)sql"},
};

// The writer connection's page cache, in KiB.
constexpr int kWriterCacheKib = 32 * 1024;

constexpr absl::string_view kReminderColumns =
    "id, recipient_id, kind, window_key, team_id, publish_us, published, body";
constexpr absl::string_view kDeliveryColumns =
    "id, reminder_id, channel, webhook_id, attempt, status, time_us, body";

// Resets a cached statement when the scope ends, so that neither an early
// return nor an unfinished read leaves it pinning a snapshot.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement* statement) : statement_(statement) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { statement_->Reset(); }

 private:
  Statement* statement_;
};

int64_t ToColumn(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromColumn(int64_t micros) { return absl::FromUnixMicros(micros); }
// What a later read returns for `t`.
absl::Time Stored(absl::Time t) { return FromColumn(ToColumn(t)); }

// Argument checks: RequireOrganisation and the others in notify_store.h.

// --- Row readers -----------------------------------------------------------------

// Reads kReminderColumns starting at column `first`.
StoredReminder ReadReminder(const Statement& row, int first = 0) {
  StoredReminder reminder;
  reminder.id = row.ColumnText(first);
  reminder.recipient_id = row.ColumnText(first + 1);
  reminder.kind = static_cast<int>(row.ColumnInt64(first + 2));
  reminder.window_key = row.ColumnText(first + 3);
  reminder.team_id = row.ColumnText(first + 4);
  reminder.publish_time = FromColumn(row.ColumnInt64(first + 5));
  reminder.published = row.ColumnInt64(first + 6) != 0;
  reminder.body = row.ColumnBlob(first + 7);
  return reminder;
}

StoredDelivery ReadDelivery(const Statement& row, int first = 0) {
  StoredDelivery delivery;
  delivery.id = row.ColumnText(first);
  delivery.reminder_id = row.ColumnText(first + 1);
  delivery.channel = static_cast<int>(row.ColumnInt64(first + 2));
  delivery.webhook_id = row.ColumnText(first + 3);
  delivery.attempt = static_cast<int>(row.ColumnInt64(first + 4));
  delivery.status = static_cast<int>(row.ColumnInt64(first + 5));
  delivery.time = FromColumn(row.ColumnInt64(first + 6));
  delivery.body = row.ColumnBlob(first + 7);
  return delivery;
}

StoredPolicy ReadPolicy(const Statement& row) {
  StoredPolicy policy;
  policy.team_id = row.ColumnText(0);
  policy.version = row.ColumnInt64(1);
  policy.update_time = FromColumn(row.ColumnInt64(2));
  policy.body = row.ColumnBlob(3);
  return policy;
}

StoredWebhook ReadWebhook(const Statement& row) {
  StoredWebhook webhook;
  webhook.id = row.ColumnText(0);
  webhook.request_id = row.ColumnText(1);
  webhook.url = row.ColumnText(2);
  webhook.create_time = FromColumn(row.ColumnInt64(3));
  webhook.body = row.ColumnBlob(4);
  return webhook;
}

constexpr absl::string_view kPolicyColumns = "team_id, version, update_us, body";
constexpr absl::string_view kWebhookColumns = "id, request_id, url, create_us, body";

// --- Queries shared by readers and the writer ------------------------------------

absl::StatusOr<std::optional<StoredPolicy>> QueryPolicy(SqliteDb& db, absl::string_view org,
                                                        absl::string_view team_id) {
  OKR_ASSIGN_OR_RETURN(Statement * query,
                       db.Cached(absl::StrCat("SELECT ", kPolicyColumns,
                                              " FROM policies WHERE org = ?1 AND team_id = ?2")));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, org));
  OKR_RETURN_IF_ERROR(query->BindText(2, team_id));
  OKR_ASSIGN_OR_RETURN(bool row, query->Step());
  if (!row) return std::nullopt;
  return ReadPolicy(*query);
}

absl::StatusOr<std::optional<StoredWebhook>> QueryWebhookByRequest(SqliteDb& db,
                                                                   absl::string_view org,
                                                                   absl::string_view request_id) {
  OKR_ASSIGN_OR_RETURN(Statement * query,
                       db.Cached(absl::StrCat("SELECT ", kWebhookColumns,
                                              " FROM webhooks WHERE org = ?1 AND request_id = ?2 "
                                              "AND request_id <> ''")));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, org));
  OKR_RETURN_IF_ERROR(query->BindText(2, request_id));
  OKR_ASSIGN_OR_RETURN(bool row, query->Step());
  if (!row) return std::nullopt;
  return ReadWebhook(*query);
}

// The single integer `sql` selects, with `org` bound to ?1 when non-empty.
absl::StatusOr<int64_t> CountRows(SqliteDb& db, absl::string_view sql, absl::string_view org = "") {
  OKR_ASSIGN_OR_RETURN(Statement * count, db.Cached(sql));
  ResetOnExit reset(count);
  if (!org.empty()) OKR_RETURN_IF_ERROR(count->BindText(1, org));
  OKR_ASSIGN_OR_RETURN(bool row, count->Step());
  return row ? count->ColumnInt64(0) : 0;
}

absl::Status InsertDelivery(SqliteDb& db, absl::string_view org, const StoredDelivery& delivery) {
  // Built once: AppendDeliveries inserts hundreds of thousands in a large run.
  static const std::string* const kInsert =
      new std::string(absl::StrCat("INSERT INTO deliveries (org, ", kDeliveryColumns,
                                   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  OKR_ASSIGN_OR_RETURN(Statement * insert, db.Cached(*kInsert));
  ResetOnExit reset(insert);
  OKR_RETURN_IF_ERROR(insert->BindText(1, org));
  OKR_RETURN_IF_ERROR(insert->BindText(2, delivery.id));
  OKR_RETURN_IF_ERROR(insert->BindText(3, delivery.reminder_id));
  OKR_RETURN_IF_ERROR(insert->BindInt64(4, delivery.channel));
  OKR_RETURN_IF_ERROR(insert->BindText(5, delivery.webhook_id));
  OKR_RETURN_IF_ERROR(insert->BindInt64(6, delivery.attempt));
  OKR_RETURN_IF_ERROR(insert->BindInt64(7, delivery.status));
  OKR_RETURN_IF_ERROR(insert->BindInt64(8, ToColumn(delivery.time)));
  OKR_RETURN_IF_ERROR(insert->BindBlob(9, delivery.body));
  absl::Status status = insert->Run();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(
        absl::StrCat("delivery.id: '", delivery.id, "' is already in the delivery log"));
  }
  return status;
}

// Whether the organisation has a reminder for this (recipient, kind, window).
absl::StatusOr<bool> LedgerHas(SqliteDb& db, absl::string_view org,
                               const StoredReminder& reminder) {
  OKR_ASSIGN_OR_RETURN(Statement * query,
                       db.Cached("SELECT 1 FROM reminders WHERE org = ?1 AND recipient_id = ?2 "
                                 "AND kind = ?3 AND window_key = ?4"));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, org));
  OKR_RETURN_IF_ERROR(query->BindText(2, reminder.recipient_id));
  OKR_RETURN_IF_ERROR(query->BindInt64(3, reminder.kind));
  OKR_RETURN_IF_ERROR(query->BindText(4, reminder.window_key));
  return query->Step();
}

// Sets published = 1 on these reminders, inside the caller's transaction.
absl::Status MarkPublishedIn(SqliteDb& db, absl::string_view org, absl::Span<const Id> ids) {
  OKR_ASSIGN_OR_RETURN(Statement * mark, db.Cached("UPDATE reminders SET published = 1 "
                                                   "WHERE org = ?1 AND id = ?2 AND published = 0"));
  for (const Id& id : ids) {
    ResetOnExit reset(mark);
    OKR_RETURN_IF_ERROR(mark->BindText(1, org));
    OKR_RETURN_IF_ERROR(mark->BindText(2, id));
    OKR_RETURN_IF_ERROR(mark->Run());
  }
  return absl::OkStatus();
}

// --- Filtered, paged lists ------------------------------------------------------------

// A WHERE clause assembled from the filters that are set, with the values to
// bind to its named parameters. Each combination of filters is its own SQL
// text, so each gets its own cached statement and the index that fits it.
class Filter {
 public:
  explicit Filter(absl::string_view org) { Text("org = :org", ":org", org); }

  void Text(absl::string_view condition, absl::string_view name, absl::string_view value) {
    conditions_.emplace_back(condition);
    texts_.emplace_back(name, std::string(value));
  }
  void Int(absl::string_view condition, absl::string_view name, int64_t value) {
    conditions_.emplace_back(condition);
    ints_.emplace_back(name, value);
  }

  std::string Where() const { return absl::StrJoin(conditions_, " AND "); }

  // Binds the filters' values; the statement may hold more parameters.
  absl::Status Bind(Statement& statement) const {
    for (const auto& [name, value] : texts_) OKR_RETURN_IF_ERROR(statement.BindText(name, value));
    for (const auto& [name, value] : ints_) OKR_RETURN_IF_ERROR(statement.BindInt64(name, value));
    return absl::OkStatus();
  }

 private:
  std::vector<std::string> conditions_;
  std::vector<std::pair<std::string, std::string>> texts_;
  std::vector<std::pair<std::string, int64_t>> ints_;
};

// One page, newest first, of `table` under `filter`, read in one snapshot
// with the count of every matching row. `read` turns a row of `columns`
// into a T.
template <typename T, typename Read>
absl::Status ListPage(SqliteDb& db, absl::string_view table, absl::string_view columns,
                      const Filter& filter, int64_t before_sequence, int limit, Read read,
                      std::vector<T>& items, int64_t& next_before_sequence, int64_t& total) {
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::Mode::kDeferred));
  {
    OKR_ASSIGN_OR_RETURN(
        Statement * rows,
        db.Cached(absl::StrCat("SELECT sequence, ", columns, " FROM ", table, " WHERE ",
                               filter.Where(), before_sequence > 0 ? " AND sequence < :before" : "",
                               " ORDER BY sequence DESC LIMIT :limit")));
    ResetOnExit reset(rows);
    OKR_RETURN_IF_ERROR(filter.Bind(*rows));
    if (before_sequence > 0) OKR_RETURN_IF_ERROR(rows->BindInt64(":before", before_sequence));
    // One row more than the page tells whether another page follows.
    OKR_RETURN_IF_ERROR(rows->BindInt64(":limit", int64_t{limit} + 1));
    int64_t last_sequence = 0;
    next_before_sequence = 0;
    while (true) {
      OKR_ASSIGN_OR_RETURN(bool row, rows->Step());
      if (!row) break;
      if (items.size() == static_cast<size_t>(limit)) {
        next_before_sequence = last_sequence;
        break;
      }
      last_sequence = rows->ColumnInt64(0);
      items.push_back(read(*rows, 1));
    }
  }
  {
    OKR_ASSIGN_OR_RETURN(Statement * count, db.Cached(absl::StrCat("SELECT COUNT(*) FROM ", table,
                                                                   " WHERE ", filter.Where())));
    ResetOnExit reset(count);
    OKR_RETURN_IF_ERROR(filter.Bind(*count));
    OKR_ASSIGN_OR_RETURN(bool row, count->Step());
    total = row ? count->ColumnInt64(0) : 0;
  }
  return txn.Commit();
}

}  // namespace

// --- Open --------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<SqliteNotifyStore>> SqliteNotifyStore::Open(
    absl::string_view path, const SqliteNotifyStoreOptions& options) {
  if (path.empty()) {
    return absl::InvalidArgumentError("path: the SQLite notify store needs a file path");
  }
  if (path == ":memory:") {
    return absl::InvalidArgumentError(
        "path: \":memory:\" is refused: the reminder ledger must survive a restart, and each "
        "connection would see its own empty database; give a file path");
  }
  if (options.reader_connections < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("reader_connections: must be at least 1, got ", options.reader_connections));
  }
  SqliteOptions sqlite;
  sqlite.durability = options.durability;
  sqlite.busy_timeout = options.busy_timeout;

  OKR_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> writer, SqliteDb::Open(path, sqlite));
  // A large run writes hundreds of thousands of ledger and delivery rows in
  // a few transactions; SQLite's default 2 MB page cache would re-read index
  // pages from the file for most of them. Pages are allocated as used.
  OKR_RETURN_IF_ERROR(writer->Exec(absl::StrCat("PRAGMA cache_size=-", kWriterCacheKib)));
  OKR_RETURN_IF_ERROR(Migrate(*writer, kMigrations).status());
  std::vector<std::unique_ptr<SqliteDb>> readers;
  for (int i = 0; i < options.reader_connections; ++i) {
    OKR_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> reader, SqliteDb::Open(path, sqlite));
    readers.push_back(std::move(reader));
  }
  return std::unique_ptr<SqliteNotifyStore>(
      new SqliteNotifyStore(std::string(path), options, std::move(writer), std::move(readers)));
}

SqliteNotifyStore::SqliteNotifyStore(std::string path, SqliteNotifyStoreOptions options,
                                     std::unique_ptr<SqliteDb> writer,
                                     std::vector<std::unique_ptr<SqliteDb>> readers)
    : path_(std::move(path)),
      options_(options),
      writer_(std::move(writer)),
      readers_(std::move(readers)) {}

SqliteNotifyStore::~SqliteNotifyStore() = default;

// --- Policies ------------------------------------------------------------------------

absl::StatusOr<std::optional<StoredPolicy>> SqliteNotifyStore::GetPolicy(
    absl::string_view organisation_id, absl::string_view team_id) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  SqliteConnectionPool::Lease lease(&readers_);
  return QueryPolicy(lease.db(), organisation_id, team_id);
}

absl::StatusOr<std::vector<StoredPolicy>> SqliteNotifyStore::ListPolicies(
    absl::string_view organisation_id) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  SqliteConnectionPool::Lease lease(&readers_);
  // The organisation's policy has team_id "", which sorts before any team.
  OKR_ASSIGN_OR_RETURN(Statement * query,
                       lease.db().Cached(absl::StrCat("SELECT ", kPolicyColumns,
                                                      " FROM policies WHERE org = ?1 "
                                                      "ORDER BY team_id")));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, organisation_id));
  std::vector<StoredPolicy> policies;
  while (true) {
    OKR_ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    policies.push_back(ReadPolicy(*query));
  }
  return policies;
}

absl::StatusOr<StoredPolicy> SqliteNotifyStore::PutPolicy(absl::string_view organisation_id,
                                                          const StoredPolicy& policy,
                                                          int64_t expected_version) {
  OKR_RETURN_IF_ERROR(ValidatePolicyForPut(organisation_id, policy, expected_version));
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  OKR_ASSIGN_OR_RETURN(std::optional<StoredPolicy> stored,
                       QueryPolicy(db, organisation_id, policy.team_id));
  const int64_t stored_version = stored.has_value() ? stored->version : 0;
  if (stored_version != expected_version) {
    return absl::AbortedError(absl::StrCat(
        "version: the reminder policy of ", PolicyOwner(policy.team_id), " ",
        stored.has_value() ? absl::StrCat("is at version ", stored_version)
                           : std::string("does not exist yet"),
        ", not ", expected_version, expected_version == 0 ? " (0 creates a new one)" : "",
        "; reload it and retry with its version"));
  }
  StoredPolicy row = policy;
  row.update_time = Stored(policy.update_time);
  {
    OKR_ASSIGN_OR_RETURN(
        Statement * put,
        db.Cached("INSERT INTO policies (org, team_id, version, update_us, body) "
                  "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (org, team_id) DO UPDATE SET "
                  "version = excluded.version, update_us = excluded.update_us, "
                  "body = excluded.body"));
    ResetOnExit reset(put);
    OKR_RETURN_IF_ERROR(put->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(put->BindText(2, row.team_id));
    OKR_RETURN_IF_ERROR(put->BindInt64(3, row.version));
    OKR_RETURN_IF_ERROR(put->BindInt64(4, ToColumn(row.update_time)));
    OKR_RETURN_IF_ERROR(put->BindBlob(5, row.body));
    OKR_RETURN_IF_ERROR(put->Run());
  }
  OKR_RETURN_IF_ERROR(txn.Commit());
  return row;
}

absl::Status SqliteNotifyStore::DeletePolicy(absl::string_view organisation_id,
                                             absl::string_view team_id, int64_t expected_version) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  OKR_ASSIGN_OR_RETURN(std::optional<StoredPolicy> stored,
                       QueryPolicy(db, organisation_id, team_id));
  if (!stored.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("team_id: no reminder policy is stored for ", PolicyOwner(team_id)));
  }
  if (stored->version != expected_version) {
    return absl::AbortedError(absl::StrCat(
        "version: the reminder policy of ", PolicyOwner(team_id), " is at version ",
        stored->version, ", not ", expected_version, "; reload it and retry with its version"));
  }
  {
    OKR_ASSIGN_OR_RETURN(Statement * remove,
                         db.Cached("DELETE FROM policies WHERE org = ?1 AND team_id = ?2"));
    ResetOnExit reset(remove);
    OKR_RETURN_IF_ERROR(remove->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(remove->BindText(2, team_id));
    OKR_RETURN_IF_ERROR(remove->Run());
  }
  return txn.Commit();
}

// --- Webhooks ------------------------------------------------------------------------

absl::StatusOr<StoredWebhook> SqliteNotifyStore::CreateWebhook(absl::string_view organisation_id,
                                                               const StoredWebhook& webhook,
                                                               int limit) {
  OKR_RETURN_IF_ERROR(ValidateWebhookForCreate(organisation_id, webhook, limit));
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  if (!webhook.request_id.empty()) {
    OKR_ASSIGN_OR_RETURN(std::optional<StoredWebhook> earlier,
                         QueryWebhookByRequest(db, organisation_id, webhook.request_id));
    // A retry: the transaction rolls back, nothing is written.
    if (earlier.has_value()) return *std::move(earlier);
  }
  OKR_ASSIGN_OR_RETURN(int64_t count, CountRows(db, "SELECT COUNT(*) FROM webhooks WHERE org = ?1",
                                                organisation_id));
  if (count >= limit) {
    return absl::FailedPreconditionError(absl::StrCat("webhooks: the organisation already has ",
                                                      count, " webhooks, the limit is ", limit,
                                                      "; delete one before creating another"));
  }
  StoredWebhook row = webhook;
  row.create_time = Stored(webhook.create_time);
  {
    OKR_ASSIGN_OR_RETURN(Statement * insert,
                         db.Cached(absl::StrCat("INSERT INTO webhooks (org, ", kWebhookColumns,
                                                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)")));
    ResetOnExit reset(insert);
    OKR_RETURN_IF_ERROR(insert->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(insert->BindText(2, row.id));
    OKR_RETURN_IF_ERROR(insert->BindText(3, row.request_id));
    OKR_RETURN_IF_ERROR(insert->BindText(4, row.url));
    OKR_RETURN_IF_ERROR(insert->BindInt64(5, ToColumn(row.create_time)));
    OKR_RETURN_IF_ERROR(insert->BindBlob(6, row.body));
    absl::Status status = insert->Run();
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          absl::StrCat("webhook.id: the organisation already has a webhook '", row.id, "'"));
    }
    OKR_RETURN_IF_ERROR(status);
  }
  OKR_RETURN_IF_ERROR(txn.Commit());
  return row;
}

absl::StatusOr<std::vector<StoredWebhook>> SqliteNotifyStore::ListWebhooks(
    absl::string_view organisation_id) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  SqliteConnectionPool::Lease lease(&readers_);
  OKR_ASSIGN_OR_RETURN(Statement * query,
                       lease.db().Cached(absl::StrCat("SELECT ", kWebhookColumns,
                                                      " FROM webhooks WHERE org = ?1 "
                                                      "ORDER BY create_us, id")));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, organisation_id));
  std::vector<StoredWebhook> webhooks;
  while (true) {
    OKR_ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    webhooks.push_back(ReadWebhook(*query));
  }
  return webhooks;
}

absl::Status SqliteNotifyStore::DeleteWebhook(absl::string_view organisation_id,
                                              absl::string_view id) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  {
    OKR_ASSIGN_OR_RETURN(Statement * remove,
                         db.Cached("DELETE FROM webhooks WHERE org = ?1 AND id = ?2"));
    ResetOnExit reset(remove);
    OKR_RETURN_IF_ERROR(remove->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(remove->BindText(2, id));
    OKR_RETURN_IF_ERROR(remove->Run());
  }
  if (db.Changes() == 0) {
    return absl::NotFoundError(absl::StrCat("id: the organisation has no webhook '", id, "'"));
  }
  {
    // Leased tasks stay with their dispatcher, which logs the attempt it is
    // making; CompleteWebhookAttempt then drops them.
    OKR_ASSIGN_OR_RETURN(Statement * drop,
                         db.Cached("DELETE FROM outbox WHERE org = ?1 AND webhook_id = ?2 "
                                   "AND lease_until_us IS NULL"));
    ResetOnExit reset(drop);
    OKR_RETURN_IF_ERROR(drop->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(drop->BindText(2, id));
    OKR_RETURN_IF_ERROR(drop->Run());
  }
  return txn.Commit();
}

// --- Reminders -----------------------------------------------------------------------

absl::StatusOr<std::vector<bool>> SqliteNotifyStore::ClaimReminders(
    absl::string_view organisation_id, absl::Span<const NewReminder> reminders) {
  OKR_RETURN_IF_ERROR(ValidateRemindersForClaim(organisation_id, reminders));
  std::vector<bool> inserted(reminders.size(), false);
  if (reminders.empty()) return inserted;

  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  // Only the ledger key may make a claim lose; a reused reminder id is a bug
  // of the caller and fails the whole call (ALREADY_EXISTS).
  OKR_ASSIGN_OR_RETURN(
      Statement * insert,
      db.Cached(absl::StrCat("INSERT INTO reminders (org, ", kReminderColumns,
                             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                             "ON CONFLICT (org, recipient_id, kind, window_key) DO NOTHING")));
  OKR_ASSIGN_OR_RETURN(
      Statement * queue,
      db.Cached("INSERT INTO outbox (org, reminder_id, webhook_id, attempts, next_attempt_us, "
                "lease_until_us) VALUES (?1, ?2, ?3, 0, ?4, NULL) "
                "ON CONFLICT (org, reminder_id, webhook_id) DO NOTHING"));
  for (size_t i = 0; i < reminders.size(); ++i) {
    const StoredReminder& reminder = reminders[i].reminder;
    {
      ResetOnExit reset(insert);
      OKR_RETURN_IF_ERROR(insert->BindText(1, organisation_id));
      OKR_RETURN_IF_ERROR(insert->BindText(2, reminder.id));
      OKR_RETURN_IF_ERROR(insert->BindText(3, reminder.recipient_id));
      OKR_RETURN_IF_ERROR(insert->BindInt64(4, reminder.kind));
      OKR_RETURN_IF_ERROR(insert->BindText(5, reminder.window_key));
      OKR_RETURN_IF_ERROR(insert->BindText(6, reminder.team_id));
      OKR_RETURN_IF_ERROR(insert->BindInt64(7, ToColumn(reminder.publish_time)));
      OKR_RETURN_IF_ERROR(insert->BindInt64(8, reminder.published ? 1 : 0));
      OKR_RETURN_IF_ERROR(insert->BindBlob(9, reminder.body));
      absl::Status status = insert->Run();
      if (absl::IsAlreadyExists(status)) {
        // SQLite may check the id before the ledger key: a retried call
        // (same ids, same keys) must still just lose its claims.
        OKR_ASSIGN_OR_RETURN(bool claimed, LedgerHas(db, organisation_id, reminder));
        if (claimed) continue;
        return absl::AlreadyExistsError(
            absl::StrCat("reminders[", i, "].id: the organisation already has a reminder '",
                         reminder.id, "' for another (recipient, kind, window)"));
      }
      OKR_RETURN_IF_ERROR(status);
      inserted[i] = db.Changes() > 0;
    }
    if (!inserted[i]) continue;
    for (const Id& webhook_id : reminders[i].webhook_ids) {
      ResetOnExit reset(queue);
      OKR_RETURN_IF_ERROR(queue->BindText(1, organisation_id));
      OKR_RETURN_IF_ERROR(queue->BindText(2, reminder.id));
      OKR_RETURN_IF_ERROR(queue->BindText(3, webhook_id));
      OKR_RETURN_IF_ERROR(queue->BindInt64(4, ToColumn(reminder.publish_time)));
      OKR_RETURN_IF_ERROR(queue->Run());
    }
  }
  OKR_RETURN_IF_ERROR(txn.Commit());
  return inserted;
}

absl::StatusOr<std::vector<StoredReminder>> SqliteNotifyStore::UnpublishedReminders(
    absl::string_view organisation_id, int limit) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  OKR_RETURN_IF_ERROR(RequirePositive(limit, "limit"));
  SqliteConnectionPool::Lease lease(&readers_);
  OKR_ASSIGN_OR_RETURN(Statement * query, lease.db().Cached(absl::StrCat(
                                              "SELECT ", kReminderColumns,
                                              " FROM reminders WHERE org = ?1 AND published = 0 "
                                              "ORDER BY sequence LIMIT ?2")));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, organisation_id));
  OKR_RETURN_IF_ERROR(query->BindInt64(2, limit));
  std::vector<StoredReminder> reminders;
  while (true) {
    OKR_ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    reminders.push_back(ReadReminder(*query));
  }
  return reminders;
}

absl::Status SqliteNotifyStore::MarkPublished(absl::string_view organisation_id,
                                              absl::Span<const Id> reminder_ids) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  if (reminder_ids.empty()) return absl::OkStatus();
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  OKR_RETURN_IF_ERROR(MarkPublishedIn(db, organisation_id, reminder_ids));
  return txn.Commit();
}

absl::StatusOr<ReminderPage> SqliteNotifyStore::ListReminders(absl::string_view organisation_id,
                                                              const ReminderQuery& query) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  OKR_RETURN_IF_ERROR(RequirePositive(query.limit, "limit"));
  if (query.before_sequence < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("before_sequence: must be 0 (newest) or a sequence a page returned, got ",
                     query.before_sequence));
  }
  Filter filter(organisation_id);
  if (query.kind != 0) filter.Int("kind = :kind", ":kind", query.kind);
  if (!query.recipient_id.empty()) {
    filter.Text("recipient_id = :recipient", ":recipient", query.recipient_id);
  }
  if (!query.window_key.empty()) filter.Text("window_key = :window", ":window", query.window_key);
  if (query.start_time.has_value()) {
    filter.Int("publish_us >= :start", ":start", ToColumn(*query.start_time));
  }
  SqliteConnectionPool::Lease lease(&readers_);
  ReminderPage page;
  OKR_RETURN_IF_ERROR(ListPage(lease.db(), "reminders", kReminderColumns, filter,
                               query.before_sequence, query.limit, ReadReminder, page.reminders,
                               page.next_before_sequence, page.total));
  return page;
}

// --- Delivery log and webhook outbox --------------------------------------------------

absl::Status SqliteNotifyStore::AppendDeliveries(absl::string_view organisation_id,
                                                 absl::Span<const StoredDelivery> deliveries) {
  OKR_RETURN_IF_ERROR(ValidateDeliveries(organisation_id, deliveries));
  if (deliveries.empty()) return absl::OkStatus();
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  for (const StoredDelivery& delivery : deliveries) {
    OKR_RETURN_IF_ERROR(InsertDelivery(db, organisation_id, delivery));
  }
  return txn.Commit();
}

absl::Status SqliteNotifyStore::RecordPublished(absl::string_view organisation_id,
                                                absl::Span<const StoredDelivery> deliveries,
                                                absl::Span<const Id> reminder_ids) {
  OKR_RETURN_IF_ERROR(ValidateDeliveries(organisation_id, deliveries));
  if (deliveries.empty() && reminder_ids.empty()) return absl::OkStatus();
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  for (const StoredDelivery& delivery : deliveries) {
    OKR_RETURN_IF_ERROR(InsertDelivery(db, organisation_id, delivery));
  }
  OKR_RETURN_IF_ERROR(MarkPublishedIn(db, organisation_id, reminder_ids));
  return txn.Commit();
}

absl::StatusOr<DeliveryPage> SqliteNotifyStore::ListDeliveries(absl::string_view organisation_id,
                                                               const DeliveryQuery& query) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  OKR_RETURN_IF_ERROR(RequirePositive(query.limit, "limit"));
  if (query.before_sequence < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("before_sequence: must be 0 (newest) or a sequence a page returned, got ",
                     query.before_sequence));
  }
  Filter filter(organisation_id);
  if (!query.reminder_id.empty()) {
    filter.Text("reminder_id = :reminder", ":reminder", query.reminder_id);
  }
  if (!query.webhook_id.empty()) filter.Text("webhook_id = :webhook", ":webhook", query.webhook_id);
  if (query.channel != 0) filter.Int("channel = :channel", ":channel", query.channel);
  if (query.status != 0) filter.Int("status = :status", ":status", query.status);
  if (query.start_time.has_value()) {
    filter.Int("time_us >= :start", ":start", ToColumn(*query.start_time));
  }
  SqliteConnectionPool::Lease lease(&readers_);
  DeliveryPage page;
  OKR_RETURN_IF_ERROR(ListPage(lease.db(), "deliveries", kDeliveryColumns, filter,
                               query.before_sequence, query.limit, ReadDelivery, page.deliveries,
                               page.next_before_sequence, page.total));
  return page;
}

absl::StatusOr<std::vector<WebhookTask>> SqliteNotifyStore::LeaseWebhookTasks(absl::Time now,
                                                                              absl::Duration lease,
                                                                              int limit) {
  OKR_RETURN_IF_ERROR(RequireFinite(now, "now"));
  if (lease <= absl::ZeroDuration() || lease == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lease: must be a positive, finite duration, got ", absl::FormatDuration(lease)));
  }
  OKR_RETURN_IF_ERROR(RequirePositive(limit, "limit"));
  const int64_t now_us = ToColumn(now);
  const int64_t until_us = ToColumn(now + lease);
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  // IMMEDIATE: the read and the marking happen under the write lock, so a
  // second store (process) on the file sees the leases before it reads.
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  {
    OKR_ASSIGN_OR_RETURN(
        Statement * orphans,
        db.Cached("DELETE FROM outbox WHERE (lease_until_us IS NULL OR lease_until_us <= ?1) "
                  "AND NOT EXISTS (SELECT 1 FROM webhooks AS w "
                  "WHERE w.org = outbox.org AND w.id = outbox.webhook_id)"));
    ResetOnExit reset(orphans);
    OKR_RETURN_IF_ERROR(orphans->BindInt64(1, now_us));
    OKR_RETURN_IF_ERROR(orphans->Run());
  }
  std::vector<WebhookTask> tasks;
  {
    OKR_ASSIGN_OR_RETURN(
        Statement * due,
        db.Cached("SELECT o.org, o.reminder_id, o.webhook_id, w.url, r.body, o.attempts, "
                  "o.next_attempt_us FROM outbox AS o "
                  "JOIN webhooks AS w ON w.org = o.org AND w.id = o.webhook_id "
                  "JOIN reminders AS r ON r.org = o.org AND r.id = o.reminder_id "
                  "WHERE o.next_attempt_us <= ?1 "
                  "AND (o.lease_until_us IS NULL OR o.lease_until_us <= ?1) "
                  "ORDER BY o.next_attempt_us, o.org, o.reminder_id, o.webhook_id LIMIT ?2"));
    ResetOnExit reset(due);
    OKR_RETURN_IF_ERROR(due->BindInt64(1, now_us));
    OKR_RETURN_IF_ERROR(due->BindInt64(2, limit));
    while (true) {
      OKR_ASSIGN_OR_RETURN(bool row, due->Step());
      if (!row) break;
      WebhookTask task;
      task.organisation_id = due->ColumnText(0);
      task.reminder_id = due->ColumnText(1);
      task.webhook_id = due->ColumnText(2);
      task.url = due->ColumnText(3);
      task.reminder_body = due->ColumnBlob(4);
      task.attempts = static_cast<int>(due->ColumnInt64(5));
      task.next_attempt = FromColumn(due->ColumnInt64(6));
      tasks.push_back(std::move(task));
    }
  }
  // Marked after the read has finished: updating rows under a running
  // SELECT of the same table is undefined in SQLite.
  OKR_ASSIGN_OR_RETURN(Statement * mark,
                       db.Cached("UPDATE outbox SET lease_until_us = ?4 "
                                 "WHERE org = ?1 AND reminder_id = ?2 AND webhook_id = ?3"));
  for (const WebhookTask& task : tasks) {
    ResetOnExit reset(mark);
    OKR_RETURN_IF_ERROR(mark->BindText(1, task.organisation_id));
    OKR_RETURN_IF_ERROR(mark->BindText(2, task.reminder_id));
    OKR_RETURN_IF_ERROR(mark->BindText(3, task.webhook_id));
    OKR_RETURN_IF_ERROR(mark->BindInt64(4, until_us));
    OKR_RETURN_IF_ERROR(mark->Run());
  }
  OKR_RETURN_IF_ERROR(txn.Commit());
  return tasks;
}

absl::Status SqliteNotifyStore::CompleteWebhookAttempt(const WebhookTask& task,
                                                       const StoredDelivery& delivery,
                                                       std::optional<absl::Time> next_attempt) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(task.organisation_id));
  OKR_RETURN_IF_ERROR(RequireNonEmpty(task.reminder_id, "task.reminder_id"));
  OKR_RETURN_IF_ERROR(RequireNonEmpty(task.webhook_id, "task.webhook_id"));
  OKR_RETURN_IF_ERROR(ValidateDelivery(delivery, "delivery"));
  if (next_attempt.has_value()) OKR_RETURN_IF_ERROR(RequireFinite(*next_attempt, "next_attempt"));
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  OKR_RETURN_IF_ERROR(InsertDelivery(db, task.organisation_id, delivery));
  bool reschedule = next_attempt.has_value();
  if (reschedule) {
    // Nobody could lease a retry for a deleted webhook; it would only wait.
    OKR_ASSIGN_OR_RETURN(Statement * exists,
                         db.Cached("SELECT 1 FROM webhooks WHERE org = ?1 AND id = ?2"));
    ResetOnExit reset(exists);
    OKR_RETURN_IF_ERROR(exists->BindText(1, task.organisation_id));
    OKR_RETURN_IF_ERROR(exists->BindText(2, task.webhook_id));
    OKR_ASSIGN_OR_RETURN(reschedule, exists->Step());
  }
  if (reschedule) {
    OKR_ASSIGN_OR_RETURN(
        Statement * retry,
        db.Cached("UPDATE outbox SET attempts = ?4, next_attempt_us = ?5, lease_until_us = NULL "
                  "WHERE org = ?1 AND reminder_id = ?2 AND webhook_id = ?3"));
    ResetOnExit reset(retry);
    OKR_RETURN_IF_ERROR(retry->BindText(1, task.organisation_id));
    OKR_RETURN_IF_ERROR(retry->BindText(2, task.reminder_id));
    OKR_RETURN_IF_ERROR(retry->BindText(3, task.webhook_id));
    OKR_RETURN_IF_ERROR(retry->BindInt64(4, delivery.attempt));
    OKR_RETURN_IF_ERROR(retry->BindInt64(5, ToColumn(*next_attempt)));
    OKR_RETURN_IF_ERROR(retry->Run());
  } else {
    OKR_ASSIGN_OR_RETURN(Statement * remove,
                         db.Cached("DELETE FROM outbox WHERE org = ?1 AND reminder_id = ?2 "
                                   "AND webhook_id = ?3"));
    ResetOnExit reset(remove);
    OKR_RETURN_IF_ERROR(remove->BindText(1, task.organisation_id));
    OKR_RETURN_IF_ERROR(remove->BindText(2, task.reminder_id));
    OKR_RETURN_IF_ERROR(remove->BindText(3, task.webhook_id));
    OKR_RETURN_IF_ERROR(remove->Run());
  }
  return txn.Commit();
}

absl::StatusOr<int64_t> SqliteNotifyStore::PendingWebhookTasks() {
  SqliteConnectionPool::Lease lease(&readers_);
  return CountRows(lease.db(), "SELECT COUNT(*) FROM outbox");
}

absl::Status SqliteNotifyStore::CheckHealth() {
  SqliteConnectionPool::Lease lease(&readers_);
  return CheckSqliteHealth(lease.db());
}

}  // namespace okr::notify
