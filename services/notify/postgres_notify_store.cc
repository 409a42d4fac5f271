#include "services/notify/postgres_notify_store.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/model.h"
#include "common/postgres.h"
#include "common/status_macros.h"

namespace okr::notify {
namespace {

// Released migrations are never edited; a schema change is a new entry.
const PgMigration kMigrations[] = {
    {1, R"sql(
CREATE TABLE notify_policies (
  org TEXT COLLATE "C" NOT NULL,
  team_id TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  update_time TIMESTAMPTZ NOT NULL,
  body BYTEA NOT NULL,
  PRIMARY KEY (org, team_id)
);
CREATE TABLE notify_webhooks (
  org TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  request_id TEXT COLLATE "C" NOT NULL,
  url TEXT NOT NULL,
  create_time TIMESTAMPTZ NOT NULL,
  body BYTEA NOT NULL,
  PRIMARY KEY (org, id)
);
CREATE UNIQUE INDEX notify_webhooks_by_request ON notify_webhooks (org, request_id)
  WHERE request_id <> '';
CREATE INDEX notify_webhooks_by_create_time ON notify_webhooks (org, create_time, id);
CREATE TABLE notify_reminders (
  sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  recipient_id TEXT COLLATE "C" NOT NULL,
  kind INTEGER NOT NULL,
  window_key TEXT COLLATE "C" NOT NULL,
  team_id TEXT COLLATE "C" NOT NULL,
  publish_time TIMESTAMPTZ NOT NULL,
  published BOOLEAN NOT NULL,
  body BYTEA NOT NULL,
  CONSTRAINT notify_reminders_id_key UNIQUE (org, id),
  CONSTRAINT notify_reminders_ledger_key UNIQUE (org, recipient_id, kind, window_key)
);
CREATE INDEX notify_reminders_by_sequence ON notify_reminders (org, sequence);
CREATE INDEX notify_reminders_by_recipient ON notify_reminders (org, recipient_id, sequence);
CREATE INDEX notify_reminders_unpublished ON notify_reminders (org, sequence)
  WHERE NOT published;
CREATE TABLE notify_deliveries (
  sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  reminder_id TEXT COLLATE "C" NOT NULL,
  channel INTEGER NOT NULL,
  webhook_id TEXT COLLATE "C" NOT NULL,
  attempt INTEGER NOT NULL,
  status INTEGER NOT NULL,
  time TIMESTAMPTZ NOT NULL,
  body BYTEA NOT NULL,
  CONSTRAINT notify_deliveries_id_key UNIQUE (org, id)
);
CREATE INDEX notify_deliveries_by_sequence ON notify_deliveries (org, sequence);
CREATE INDEX notify_deliveries_by_reminder ON notify_deliveries (org, reminder_id, sequence);
CREATE INDEX notify_deliveries_by_webhook ON notify_deliveries (org, webhook_id, sequence);
CREATE TABLE notify_outbox (
  org TEXT COLLATE "C" NOT NULL,
  reminder_id TEXT COLLATE "C" NOT NULL,
  webhook_id TEXT COLLATE "C" NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt TIMESTAMPTZ NOT NULL,
  lease_until TIMESTAMPTZ,
  PRIMARY KEY (org, reminder_id, webhook_id)
);
CREATE INDEX notify_outbox_by_next_attempt ON notify_outbox (next_attempt);
)sql"},
};

constexpr absl::string_view kPolicyColumns = "team_id, version, update_time, body";
constexpr absl::string_view kWebhookColumns = "id, request_id, url, create_time, body";
constexpr absl::string_view kReminderColumns =
    "id, recipient_id, kind, window_key, team_id, publish_time, published, body";
constexpr absl::string_view kDeliveryColumns =
    "id, reminder_id, channel, webhook_id, attempt, status, time, body";

// What a later read returns for `t`: timestamptz keeps microseconds, and the
// store rounds down (like SQLite's) before PostgreSQL could round otherwise.
absl::Time Stored(absl::Time t) { return absl::FromUnixMicros(absl::ToUnixMicros(t)); }
// Infinite times (writes refuse them; a filter may hold one) stay infinite.
PgParam TimeParam(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return PgParam::Time(t);
  return PgParam::Time(Stored(t));
}
PgParam BoolParam(bool value) { return PgParam::Text(value ? "true" : "false"); }

// Runs one statement; a failure says which operation of the notify store it
// was. The status keeps its code and payloads (the pool's retry of
// serialization failures may rely on them).
absl::StatusOr<PgRows> Exec(PgConnection& conn, absl::string_view what, absl::string_view sql,
                            absl::Span<const PgParam> params = {}) {
  absl::StatusOr<PgRows> rows = conn.Exec(sql, params);
  if (rows.ok()) return rows;
  absl::Status annotated(rows.status().code(),
                         absl::StrCat("notify store, ", what, ": ", rows.status().message()));
  rows.status().ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    annotated.SetPayload(url, payload);
  });
  return annotated;
}

// --- Argument checks (the SQLite store's) ----------------------------------------

absl::Status RequirePageStart(int64_t before_sequence) {
  if (before_sequence < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("before_sequence: must be 0 (newest) or a sequence a page returned, got ",
                     before_sequence));
  }
  return absl::OkStatus();
}

// --- Row readers ------------------------------------------------------------------

StoredPolicy ReadPolicy(const PgRows& rows, int row) {
  StoredPolicy policy;
  policy.team_id = rows.Text(row, 0);
  policy.version = rows.Int(row, 1);
  policy.update_time = rows.Time(row, 2);
  policy.body = rows.Bytes(row, 3);
  return policy;
}

StoredWebhook ReadWebhook(const PgRows& rows, int row) {
  StoredWebhook webhook;
  webhook.id = rows.Text(row, 0);
  webhook.request_id = rows.Text(row, 1);
  webhook.url = rows.Text(row, 2);
  webhook.create_time = rows.Time(row, 3);
  webhook.body = rows.Bytes(row, 4);
  return webhook;
}

// Reads kReminderColumns starting at column `first`.
StoredReminder ReadReminder(const PgRows& rows, int row, int first) {
  StoredReminder reminder;
  reminder.id = rows.Text(row, first);
  reminder.recipient_id = rows.Text(row, first + 1);
  reminder.kind = static_cast<int>(rows.Int(row, first + 2));
  reminder.window_key = rows.Text(row, first + 3);
  reminder.team_id = rows.Text(row, first + 4);
  reminder.publish_time = rows.Time(row, first + 5);
  reminder.published = rows.Bool(row, first + 6);
  reminder.body = rows.Bytes(row, first + 7);
  return reminder;
}

StoredDelivery ReadDelivery(const PgRows& rows, int row, int first) {
  StoredDelivery delivery;
  delivery.id = rows.Text(row, first);
  delivery.reminder_id = rows.Text(row, first + 1);
  delivery.channel = static_cast<int>(rows.Int(row, first + 2));
  delivery.webhook_id = rows.Text(row, first + 3);
  delivery.attempt = static_cast<int>(rows.Int(row, first + 4));
  delivery.status = static_cast<int>(rows.Int(row, first + 5));
  delivery.time = rows.Time(row, first + 6);
  delivery.body = rows.Bytes(row, first + 7);
  return delivery;
}

// --- Queries shared by several methods ---------------------------------------------

absl::StatusOr<std::optional<StoredPolicy>> QueryPolicy(PgConnection& conn, absl::string_view org,
                                                        absl::string_view team_id) {
  OKR_ASSIGN_OR_RETURN(
      PgRows rows,
      Exec(conn, "read a policy",
           absl::StrCat("SELECT ", kPolicyColumns,
                        " FROM notify_policies WHERE org = $1 AND team_id = $2"),
           {PgParam::Text(org), PgParam::Text(team_id)}));
  if (rows.size() == 0) return std::nullopt;
  return ReadPolicy(rows, 0);
}

absl::Status InsertDelivery(PgConnection& conn, absl::string_view org,
                            const StoredDelivery& delivery) {
  absl::StatusOr<PgRows> inserted =
      Exec(conn, "append a delivery",
           absl::StrCat("INSERT INTO notify_deliveries (org, ", kDeliveryColumns,
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
           {PgParam::Text(org), PgParam::Text(delivery.id), PgParam::Text(delivery.reminder_id),
            PgParam::Int(delivery.channel), PgParam::Text(delivery.webhook_id),
            PgParam::Int(delivery.attempt), PgParam::Int(delivery.status),
            TimeParam(delivery.time), PgParam::Bytes(delivery.body)});
  // (org, id) is the only key a caller's value can collide with.
  if (absl::IsAlreadyExists(inserted.status())) {
    return absl::AlreadyExistsError(
        absl::StrCat("delivery.id: '", delivery.id, "' is already in the delivery log"));
  }
  return inserted.status();
}

// Sets published on these reminders, inside the caller's transaction.
absl::Status MarkPublishedIn(PgConnection& conn, absl::string_view org,
                             absl::Span<const Id> reminder_ids) {
  for (const Id& id : reminder_ids) {
    OKR_RETURN_IF_ERROR(Exec(conn, "mark a reminder published",
                             "UPDATE notify_reminders SET published = true "
                             "WHERE org = $1 AND id = $2 AND NOT published",
                             {PgParam::Text(org), PgParam::Text(id)})
                            .status());
  }
  return absl::OkStatus();
}

// A WHERE clause assembled from the filters that are set, numbering the
// parameters $1, $2, ... in the order they are added (values are always
// parameters, never SQL text).
class Filter {
 public:
  explicit Filter(absl::string_view org) { Add("org = $", PgParam::Text(org)); }

  // `condition` ends with "$": the parameter's number is appended.
  void Add(absl::string_view condition, PgParam value) {
    params_.push_back(std::move(value));
    conditions_.push_back(absl::StrCat(condition, params_.size()));
  }

  std::string Where() const { return absl::StrJoin(conditions_, " AND "); }
  const std::vector<PgParam>& params() const { return params_; }

 private:
  std::vector<std::string> conditions_;
  std::vector<PgParam> params_;
};

// One page, newest first, of `table` under `filter`, with the count of every
// matching row, read in one snapshot (REPEATABLE READ). `read` turns a row of
// `columns` (from column 1; column 0 is the sequence) into a T.
template <typename T, typename Read>
absl::Status ListPage(PgPool& pool, absl::string_view table, absl::string_view columns,
                      const Filter& filter, int64_t before_sequence, int limit, Read read,
                      std::vector<T>& items, int64_t& next_before_sequence, int64_t& total) {
  return pool.Transaction(
      [&](PgConnection& conn) -> absl::Status {
        items.clear();
        next_before_sequence = 0;
        total = 0;
        std::vector<PgParam> params = filter.params();
        std::string sql = absl::StrCat("SELECT sequence, ", columns, " FROM ", table, " WHERE ",
                                       filter.Where());
        if (before_sequence > 0) {
          params.push_back(PgParam::Int(before_sequence));
          absl::StrAppend(&sql, " AND sequence < $", params.size());
        }
        // One row more than the page tells whether another page follows.
        params.push_back(PgParam::Int(int64_t{limit} + 1));
        absl::StrAppend(&sql, " ORDER BY sequence DESC LIMIT $", params.size());
        OKR_ASSIGN_OR_RETURN(PgRows rows, Exec(conn, absl::StrCat("list ", table), sql, params));
        int64_t last_sequence = 0;
        for (int row = 0; row < rows.size(); ++row) {
          if (items.size() == static_cast<size_t>(limit)) {
            next_before_sequence = last_sequence;
            break;
          }
          last_sequence = rows.Int(row, 0);
          items.push_back(read(rows, row, 1));
        }
        OKR_ASSIGN_OR_RETURN(
            PgRows count,
            Exec(conn, absl::StrCat("count ", table),
                 absl::StrCat("SELECT COUNT(*) FROM ", table, " WHERE ", filter.Where()),
                 filter.params()));
        total = count.size() > 0 ? count.Int(0, 0) : 0;
        return absl::OkStatus();
      },
      PgPool::Isolation::kRepeatableRead);
}

// The user part of a postgresql:// URL's password, for scrubbing messages; ""
// when there is none.
std::string PasswordOf(absl::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) return "";
  absl::string_view rest = url.substr(scheme + 3);
  const size_t at = rest.rfind('@');
  if (at == absl::string_view::npos) return "";
  absl::string_view userinfo = rest.substr(0, at);
  const size_t colon = userinfo.find(':');
  if (colon == absl::string_view::npos) return "";
  return std::string(userinfo.substr(colon + 1));
}

// `status` with every occurrence of `secret` masked.
absl::Status Scrub(const absl::Status& status, absl::string_view secret) {
  if (status.ok() || secret.empty() || !absl::StrContains(status.message(), secret)) {
    return status;
  }
  return absl::Status(status.code(),
                      absl::StrReplaceAll(status.message(), {{secret, "********"}}));
}

}  // namespace

// --- Open ----------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<PostgresNotifyStore>> PostgresNotifyStore::Open(
    PgPoolOptions options) {
  const std::string password = PasswordOf(options.url);
  absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Open(std::move(options));
  if (!pool.ok()) return Scrub(pool.status(), password);
  absl::Status migrated = PgMigrate(**pool, kNotifyMigrationsTable, kMigrations);
  if (!migrated.ok()) return Scrub(migrated, password);
  return std::unique_ptr<PostgresNotifyStore>(new PostgresNotifyStore(*std::move(pool)));
}

PostgresNotifyStore::PostgresNotifyStore(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

PostgresNotifyStore::~PostgresNotifyStore() = default;

absl::Status PostgresNotifyStore::CheckHealth() { return pool_->Ping(); }

// --- Policies --------------------------------------------------------------------------

absl::StatusOr<std::optional<StoredPolicy>> PostgresNotifyStore::GetPolicy(
    absl::string_view organisation_id, absl::string_view team_id) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  std::optional<StoredPolicy> policy;
  OKR_RETURN_IF_ERROR(pool_->WithConnection([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(policy, QueryPolicy(conn, organisation_id, team_id));
    return absl::OkStatus();
  }));
  return policy;
}

absl::StatusOr<std::vector<StoredPolicy>> PostgresNotifyStore::ListPolicies(
    absl::string_view organisation_id) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  std::vector<StoredPolicy> policies;
  OKR_RETURN_IF_ERROR(pool_->WithConnection([&](PgConnection& conn) -> absl::Status {
    // The organisation's policy has team_id "", first in byte order.
    OKR_ASSIGN_OR_RETURN(PgRows rows,
                         Exec(conn, "list policies",
                              absl::StrCat("SELECT ", kPolicyColumns,
                                           " FROM notify_policies WHERE org = $1 ORDER BY team_id"),
                              {PgParam::Text(organisation_id)}));
    for (int row = 0; row < rows.size(); ++row) policies.push_back(ReadPolicy(rows, row));
    return absl::OkStatus();
  }));
  return policies;
}

absl::StatusOr<StoredPolicy> PostgresNotifyStore::PutPolicy(absl::string_view organisation_id,
                                                            const StoredPolicy& policy,
                                                            int64_t expected_version) {
  OKR_RETURN_IF_ERROR(ValidatePolicyForPut(organisation_id, policy, expected_version));
  StoredPolicy row = policy;
  row.update_time = Stored(policy.update_time);
  OKR_RETURN_IF_ERROR(pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    // One conditional statement decides: a racing writer with the same
    // expected version changes zero rows.
    absl::StatusOr<PgRows> written =
        expected_version == 0
            ? Exec(conn, "create a policy",
                   "INSERT INTO notify_policies (org, team_id, version, update_time, body) "
                   "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org, team_id) DO NOTHING",
                   {PgParam::Text(organisation_id), PgParam::Text(row.team_id),
                    PgParam::Int(row.version), TimeParam(row.update_time),
                    PgParam::Bytes(row.body)})
            : Exec(conn, "replace a policy",
                   "UPDATE notify_policies SET version = $3, update_time = $4, body = $5 "
                   "WHERE org = $1 AND team_id = $2 AND version = $6",
                   {PgParam::Text(organisation_id), PgParam::Text(row.team_id),
                    PgParam::Int(row.version), TimeParam(row.update_time),
                    PgParam::Bytes(row.body), PgParam::Int(expected_version)});
    OKR_RETURN_IF_ERROR(written.status());
    if (written->affected() > 0) return absl::OkStatus();
    OKR_ASSIGN_OR_RETURN(std::optional<StoredPolicy> stored,
                         QueryPolicy(conn, organisation_id, row.team_id));
    return absl::AbortedError(absl::StrCat(
        "version: the reminder policy of ", PolicyOwner(row.team_id), " ",
        stored.has_value() ? absl::StrCat("is at version ", stored->version)
                           : std::string("does not exist yet"),
        ", not ", expected_version, expected_version == 0 ? " (0 creates a new one)" : "",
        "; reload it and retry with its version"));
  }));
  return row;
}

absl::Status PostgresNotifyStore::DeletePolicy(absl::string_view organisation_id,
                                               absl::string_view team_id,
                                               int64_t expected_version) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  return pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(
        PgRows deleted,
        Exec(conn, "delete a policy",
             "DELETE FROM notify_policies WHERE org = $1 AND team_id = $2 AND version = $3",
             {PgParam::Text(organisation_id), PgParam::Text(team_id),
              PgParam::Int(expected_version)}));
    if (deleted.affected() > 0) return absl::OkStatus();
    OKR_ASSIGN_OR_RETURN(std::optional<StoredPolicy> stored,
                         QueryPolicy(conn, organisation_id, team_id));
    if (!stored.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("team_id: no reminder policy is stored for ", PolicyOwner(team_id)));
    }
    return absl::AbortedError(absl::StrCat(
        "version: the reminder policy of ", PolicyOwner(team_id), " is at version ",
        stored->version, ", not ", expected_version, "; reload it and retry with its version"));
  });
}

// --- Webhooks ----------------------------------------------------------------------------

absl::StatusOr<StoredWebhook> PostgresNotifyStore::CreateWebhook(
    absl::string_view organisation_id, const StoredWebhook& webhook, int limit) {
  OKR_RETURN_IF_ERROR(ValidateWebhookForCreate(organisation_id, webhook, limit));
  StoredWebhook result;
  OKR_RETURN_IF_ERROR(pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    // Serialises the organisation's creates (across replicas) until commit:
    // READ COMMITTED alone would let two creates both count limit - 1, or
    // both miss the other's request id.
    OKR_RETURN_IF_ERROR(Exec(conn, "lock the organisation's webhooks",
                             "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                             {PgParam::Text(absl::StrCat("notify_webhooks:", organisation_id))})
                            .status());
    if (!webhook.request_id.empty()) {
      OKR_ASSIGN_OR_RETURN(
          PgRows earlier,
          Exec(conn, "find a webhook by request id",
               absl::StrCat("SELECT ", kWebhookColumns,
                            " FROM notify_webhooks WHERE org = $1 AND request_id = $2"),
               {PgParam::Text(organisation_id), PgParam::Text(webhook.request_id)}));
      if (earlier.size() > 0) {
        // A retry: nothing is written.
        result = ReadWebhook(earlier, 0);
        return absl::OkStatus();
      }
    }
    OKR_ASSIGN_OR_RETURN(PgRows count, Exec(conn, "count webhooks",
                                            "SELECT COUNT(*) FROM notify_webhooks WHERE org = $1",
                                            {PgParam::Text(organisation_id)}));
    const int64_t webhooks = count.Int(0, 0);
    if (webhooks >= limit) {
      return absl::FailedPreconditionError(absl::StrCat(
          "webhooks: the organisation already has ", webhooks, " webhooks, the limit is ", limit,
          "; delete one before creating another"));
    }
    result = webhook;
    result.create_time = Stored(webhook.create_time);
    absl::StatusOr<PgRows> inserted =
        Exec(conn, "create a webhook",
             absl::StrCat("INSERT INTO notify_webhooks (org, ", kWebhookColumns,
                          ") VALUES ($1, $2, $3, $4, $5, $6)"),
             {PgParam::Text(organisation_id), PgParam::Text(result.id),
              PgParam::Text(result.request_id), PgParam::Text(result.url),
              TimeParam(result.create_time), PgParam::Bytes(result.body)});
    if (absl::IsAlreadyExists(inserted.status())) {
      return absl::AlreadyExistsError(
          absl::StrCat("webhook.id: the organisation already has a webhook '", result.id, "'"));
    }
    return inserted.status();
  }));
  return result;
}

absl::StatusOr<std::vector<StoredWebhook>> PostgresNotifyStore::ListWebhooks(
    absl::string_view organisation_id) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  std::vector<StoredWebhook> webhooks;
  OKR_RETURN_IF_ERROR(pool_->WithConnection([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(
        PgRows rows,
        Exec(conn, "list webhooks",
             absl::StrCat("SELECT ", kWebhookColumns,
                          " FROM notify_webhooks WHERE org = $1 ORDER BY create_time, id"),
             {PgParam::Text(organisation_id)}));
    for (int row = 0; row < rows.size(); ++row) webhooks.push_back(ReadWebhook(rows, row));
    return absl::OkStatus();
  }));
  return webhooks;
}

absl::Status PostgresNotifyStore::DeleteWebhook(absl::string_view organisation_id,
                                                absl::string_view id) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  return pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(PgRows deleted,
                         Exec(conn, "delete a webhook",
                              "DELETE FROM notify_webhooks WHERE org = $1 AND id = $2",
                              {PgParam::Text(organisation_id), PgParam::Text(id)}));
    if (deleted.affected() == 0) {
      return absl::NotFoundError(absl::StrCat("id: the organisation has no webhook '", id, "'"));
    }
    // Leased tasks stay with their dispatcher, which logs the attempt it is
    // making; CompleteWebhookAttempt then drops them.
    return Exec(conn, "drop a webhook's queued tasks",
                "DELETE FROM notify_outbox WHERE org = $1 AND webhook_id = $2 "
                "AND lease_until IS NULL",
                {PgParam::Text(organisation_id), PgParam::Text(id)})
        .status();
  });
}

// --- Reminders -----------------------------------------------------------------------------

absl::StatusOr<std::vector<bool>> PostgresNotifyStore::ClaimReminders(
    absl::string_view organisation_id, absl::Span<const NewReminder> reminders) {
  OKR_RETURN_IF_ERROR(ValidateRemindersForClaim(organisation_id, reminders));
  std::vector<bool> inserted(reminders.size(), false);
  if (reminders.empty()) return inserted;

  OKR_RETURN_IF_ERROR(pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    std::fill(inserted.begin(), inserted.end(), false);
    // Claims of one organisation take turns (a transaction-scoped advisory
    // lock): two replicas inserting overlapping sets in different orders
    // would otherwise each wait for the other's uncommitted rows, a deadlock
    // PostgreSQL only breaks after deadlock_timeout. One lock per call, not
    // per key, so a large claim does not fill the server's lock table; the
    // second claimer's inserts then all do nothing at once.
    OKR_RETURN_IF_ERROR(Exec(conn, "lock the organisation's reminder ledger",
                             "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                             {PgParam::Text(absl::StrCat("notify_ledger:", organisation_id))})
                            .status());
    for (size_t i = 0; i < reminders.size(); ++i) {
      const StoredReminder& reminder = reminders[i].reminder;
      // No conflict target: a collision on the ledger key or on the id does
      // nothing instead of aborting the transaction (a racing insert is
      // waited for first). Which key collided is decided below.
      OKR_ASSIGN_OR_RETURN(
          PgRows claimed,
          Exec(conn, "claim a reminder",
               absl::StrCat("INSERT INTO notify_reminders (org, ", kReminderColumns,
                            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                            "ON CONFLICT DO NOTHING RETURNING sequence"),
               {PgParam::Text(organisation_id), PgParam::Text(reminder.id),
                PgParam::Text(reminder.recipient_id), PgParam::Int(reminder.kind),
                PgParam::Text(reminder.window_key), PgParam::Text(reminder.team_id),
                TimeParam(reminder.publish_time), BoolParam(reminder.published),
                PgParam::Bytes(reminder.body)}));
      if (claimed.size() == 0) {
        // Only the ledger key may make a claim lose (a retried call has the
        // same ids and keys); a reused id for another key is the caller's
        // bug and fails the whole call.
        OKR_ASSIGN_OR_RETURN(
            PgRows ledger,
            Exec(conn, "look up the reminder ledger",
                 "SELECT 1 FROM notify_reminders WHERE org = $1 AND recipient_id = $2 "
                 "AND kind = $3 AND window_key = $4",
                 {PgParam::Text(organisation_id), PgParam::Text(reminder.recipient_id),
                  PgParam::Int(reminder.kind), PgParam::Text(reminder.window_key)}));
        if (ledger.size() > 0) continue;
        return absl::AlreadyExistsError(
            absl::StrCat("reminders[", i, "].id: the organisation already has a reminder '",
                         reminder.id, "' for another (recipient, kind, window)"));
      }
      inserted[i] = true;
      for (const Id& webhook_id : reminders[i].webhook_ids) {
        OKR_RETURN_IF_ERROR(
            Exec(conn, "queue a webhook task",
                 "INSERT INTO notify_outbox (org, reminder_id, webhook_id, attempts, "
                 "next_attempt, lease_until) VALUES ($1, $2, $3, 0, $4, NULL) "
                 "ON CONFLICT (org, reminder_id, webhook_id) DO NOTHING",
                 {PgParam::Text(organisation_id), PgParam::Text(reminder.id),
                  PgParam::Text(webhook_id), TimeParam(reminder.publish_time)})
                .status());
      }
    }
    return absl::OkStatus();
  }));
  return inserted;
}

absl::StatusOr<std::vector<StoredReminder>> PostgresNotifyStore::UnpublishedReminders(
    absl::string_view organisation_id, int limit) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  OKR_RETURN_IF_ERROR(RequirePositive(limit, "limit"));
  std::vector<StoredReminder> reminders;
  OKR_RETURN_IF_ERROR(pool_->WithConnection([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(PgRows rows,
                         Exec(conn, "list unpublished reminders",
                              absl::StrCat("SELECT ", kReminderColumns,
                                           " FROM notify_reminders WHERE org = $1 AND NOT "
                                           "published ORDER BY sequence LIMIT $2"),
                              {PgParam::Text(organisation_id), PgParam::Int(limit)}));
    for (int row = 0; row < rows.size(); ++row) reminders.push_back(ReadReminder(rows, row, 0));
    return absl::OkStatus();
  }));
  return reminders;
}

absl::Status PostgresNotifyStore::MarkPublished(absl::string_view organisation_id,
                                                absl::Span<const Id> reminder_ids) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  if (reminder_ids.empty()) return absl::OkStatus();
  return pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    return MarkPublishedIn(conn, organisation_id, reminder_ids);
  });
}

absl::StatusOr<ReminderPage> PostgresNotifyStore::ListReminders(absl::string_view organisation_id,
                                                                const ReminderQuery& query) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  OKR_RETURN_IF_ERROR(RequirePositive(query.limit, "limit"));
  OKR_RETURN_IF_ERROR(RequirePageStart(query.before_sequence));
  Filter filter(organisation_id);
  if (query.kind != 0) filter.Add("kind = $", PgParam::Int(query.kind));
  if (!query.recipient_id.empty()) {
    filter.Add("recipient_id = $", PgParam::Text(query.recipient_id));
  }
  if (!query.window_key.empty()) filter.Add("window_key = $", PgParam::Text(query.window_key));
  if (query.start_time.has_value()) {
    filter.Add("publish_time >= $", TimeParam(*query.start_time));
  }
  ReminderPage page;
  OKR_RETURN_IF_ERROR(ListPage(*pool_, "notify_reminders", kReminderColumns, filter,
                               query.before_sequence, query.limit, ReadReminder, page.reminders,
                               page.next_before_sequence, page.total));
  return page;
}

// --- Delivery log and webhook outbox ------------------------------------------------------

absl::Status PostgresNotifyStore::AppendDeliveries(absl::string_view organisation_id,
                                                   absl::Span<const StoredDelivery> deliveries) {
  OKR_RETURN_IF_ERROR(ValidateDeliveries(organisation_id, deliveries));
  if (deliveries.empty()) return absl::OkStatus();
  return pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    for (const StoredDelivery& delivery : deliveries) {
      OKR_RETURN_IF_ERROR(InsertDelivery(conn, organisation_id, delivery));
    }
    return absl::OkStatus();
  });
}

absl::Status PostgresNotifyStore::RecordPublished(absl::string_view organisation_id,
                                                  absl::Span<const StoredDelivery> deliveries,
                                                  absl::Span<const Id> reminder_ids) {
  OKR_RETURN_IF_ERROR(ValidateDeliveries(organisation_id, deliveries));
  if (deliveries.empty() && reminder_ids.empty()) return absl::OkStatus();
  return pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    for (const StoredDelivery& delivery : deliveries) {
      OKR_RETURN_IF_ERROR(InsertDelivery(conn, organisation_id, delivery));
    }
    return MarkPublishedIn(conn, organisation_id, reminder_ids);
  });
}

absl::StatusOr<DeliveryPage> PostgresNotifyStore::ListDeliveries(
    absl::string_view organisation_id, const DeliveryQuery& query) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  OKR_RETURN_IF_ERROR(RequirePositive(query.limit, "limit"));
  OKR_RETURN_IF_ERROR(RequirePageStart(query.before_sequence));
  Filter filter(organisation_id);
  if (!query.reminder_id.empty()) filter.Add("reminder_id = $", PgParam::Text(query.reminder_id));
  if (!query.webhook_id.empty()) filter.Add("webhook_id = $", PgParam::Text(query.webhook_id));
  if (query.channel != 0) filter.Add("channel = $", PgParam::Int(query.channel));
  if (query.status != 0) filter.Add("status = $", PgParam::Int(query.status));
  if (query.start_time.has_value()) {
    filter.Add("time >= $", TimeParam(*query.start_time));
  }
  DeliveryPage page;
  OKR_RETURN_IF_ERROR(ListPage(*pool_, "notify_deliveries", kDeliveryColumns, filter,
                               query.before_sequence, query.limit, ReadDelivery, page.deliveries,
                               page.next_before_sequence, page.total));
  return page;
}

absl::StatusOr<std::vector<WebhookTask>> PostgresNotifyStore::LeaseWebhookTasks(
    absl::Time now, absl::Duration lease, int limit) {
  OKR_RETURN_IF_ERROR(RequireFinite(now, "now"));
  if (lease <= absl::ZeroDuration() || lease == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lease: must be a positive, finite duration, got ", absl::FormatDuration(lease)));
  }
  OKR_RETURN_IF_ERROR(RequirePositive(limit, "limit"));
  std::vector<WebhookTask> tasks;
  OKR_RETURN_IF_ERROR(pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    tasks.clear();
    // Tasks nobody can deliver any more. SKIP LOCKED: another dispatcher
    // busy with a row keeps it, and this one never waits (nor deadlocks).
    OKR_RETURN_IF_ERROR(
        Exec(conn, "drop tasks of deleted webhooks",
             "DELETE FROM notify_outbox AS o USING ("
             "SELECT x.org, x.reminder_id, x.webhook_id FROM notify_outbox AS x "
             "WHERE (x.lease_until IS NULL OR x.lease_until <= $1) "
             "AND NOT EXISTS (SELECT 1 FROM notify_webhooks AS w "
             "WHERE w.org = x.org AND w.id = x.webhook_id) "
             "FOR UPDATE OF x SKIP LOCKED) AS d "
             "WHERE o.org = d.org AND o.reminder_id = d.reminder_id "
             "AND o.webhook_id = d.webhook_id",
             {TimeParam(now)})
            .status());
    // The rows are locked until commit, by which time their lease is
    // written: a racing dispatcher skips them now and sees the lease after.
    OKR_ASSIGN_OR_RETURN(
        PgRows due,
        Exec(conn, "lease webhook tasks",
             "SELECT o.org, o.reminder_id, o.webhook_id, w.url, r.body, o.attempts, "
             "o.next_attempt FROM notify_outbox AS o "
             "JOIN notify_webhooks AS w ON w.org = o.org AND w.id = o.webhook_id "
             "JOIN notify_reminders AS r ON r.org = o.org AND r.id = o.reminder_id "
             "WHERE o.next_attempt <= $1 AND (o.lease_until IS NULL OR o.lease_until <= $1) "
             "ORDER BY o.next_attempt, o.org, o.reminder_id, o.webhook_id LIMIT $2 "
             "FOR UPDATE OF o SKIP LOCKED",
             {TimeParam(now), PgParam::Int(limit)}));
    for (int row = 0; row < due.size(); ++row) {
      WebhookTask task;
      task.organisation_id = due.Text(row, 0);
      task.reminder_id = due.Text(row, 1);
      task.webhook_id = due.Text(row, 2);
      task.url = due.Text(row, 3);
      task.reminder_body = due.Bytes(row, 4);
      task.attempts = static_cast<int>(due.Int(row, 5));
      task.next_attempt = due.Time(row, 6);
      tasks.push_back(std::move(task));
    }
    for (const WebhookTask& task : tasks) {
      OKR_RETURN_IF_ERROR(Exec(conn, "lease a webhook task",
                               "UPDATE notify_outbox SET lease_until = $4 "
                               "WHERE org = $1 AND reminder_id = $2 AND webhook_id = $3",
                               {PgParam::Text(task.organisation_id),
                                PgParam::Text(task.reminder_id), PgParam::Text(task.webhook_id),
                                TimeParam(now + lease)})
                              .status());
    }
    return absl::OkStatus();
  }));
  return tasks;
}

absl::Status PostgresNotifyStore::CompleteWebhookAttempt(const WebhookTask& task,
                                                         const StoredDelivery& delivery,
                                                         std::optional<absl::Time> next_attempt) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(task.organisation_id));
  OKR_RETURN_IF_ERROR(RequireNonEmpty(task.reminder_id, "task.reminder_id"));
  OKR_RETURN_IF_ERROR(RequireNonEmpty(task.webhook_id, "task.webhook_id"));
  OKR_RETURN_IF_ERROR(ValidateDelivery(delivery, "delivery"));
  if (next_attempt.has_value()) OKR_RETURN_IF_ERROR(RequireFinite(*next_attempt, "next_attempt"));
  return pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    OKR_RETURN_IF_ERROR(InsertDelivery(conn, task.organisation_id, delivery));
    const std::vector<PgParam> key = {PgParam::Text(task.organisation_id),
                                      PgParam::Text(task.reminder_id),
                                      PgParam::Text(task.webhook_id)};
    bool reschedule = next_attempt.has_value();
    if (reschedule) {
      // Nobody could lease a retry for a deleted webhook; it would only
      // wait. KEY SHARE holds off a concurrent DeleteWebhook until commit,
      // which then drops the rescheduled (unleased) task itself.
      OKR_ASSIGN_OR_RETURN(
          PgRows exists,
          Exec(conn, "check the task's webhook",
               "SELECT 1 FROM notify_webhooks WHERE org = $1 AND id = $2 FOR KEY SHARE",
               {PgParam::Text(task.organisation_id), PgParam::Text(task.webhook_id)}));
      reschedule = exists.size() > 0;
    }
    if (!reschedule) {
      return Exec(conn, "remove a webhook task",
                  "DELETE FROM notify_outbox WHERE org = $1 AND reminder_id = $2 "
                  "AND webhook_id = $3",
                  key)
          .status();
    }
    std::vector<PgParam> retry = key;
    retry.push_back(PgParam::Int(delivery.attempt));
    retry.push_back(TimeParam(*next_attempt));
    return Exec(conn, "reschedule a webhook task",
                "UPDATE notify_outbox SET attempts = $4, next_attempt = $5, lease_until = NULL "
                "WHERE org = $1 AND reminder_id = $2 AND webhook_id = $3",
                retry)
        .status();
  });
}

absl::StatusOr<int64_t> PostgresNotifyStore::PendingWebhookTasks() {
  int64_t pending = 0;
  OKR_RETURN_IF_ERROR(pool_->WithConnection([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(PgRows rows, Exec(conn, "count webhook tasks",
                                           "SELECT COUNT(*) FROM notify_outbox"));
    pending = rows.Int(0, 0);
    return absl::OkStatus();
  }));
  return pending;
}

}  // namespace okr::notify
