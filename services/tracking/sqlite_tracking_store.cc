#include "services/tracking/sqlite_tracking_store.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace okr::tracking {
namespace {

// Released migrations are never edited; a schema change is a new entry.
constexpr Migration kMigrations[] = {
    {1, "tracking store",
     R"sql(
CREATE TABLE org_sequences (
  org TEXT NOT NULL PRIMARY KEY,
  latest INTEGER NOT NULL
) STRICT;
CREATE TABLE check_ins (
  org TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  id TEXT NOT NULL,
  key_result_id TEXT NOT NULL,
  client_key TEXT NOT NULL,
  time_ns INTEGER NOT NULL,
  has_value INTEGER NOT NULL,
  has_done INTEGER NOT NULL,
  has_signal INTEGER NOT NULL,
  fingerprint BLOB NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (org, sequence),
  UNIQUE (org, key_result_id, client_key)
) STRICT;
CREATE INDEX check_ins_by_time
  ON check_ins (org, key_result_id, time_ns DESC, sequence DESC);
CREATE TABLE reviews (
  org TEXT NOT NULL,
  objective_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  cycle_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  sequence INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (org, objective_id, kind)
) STRICT;
CREATE INDEX reviews_by_sequence ON reviews (org, sequence);
CREATE TABLE frozen_cycles (
  org TEXT NOT NULL,
  cycle_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  freeze_time_ns INTEGER NOT NULL,
  PRIMARY KEY (org, cycle_id)
) STRICT;
CREATE INDEX frozen_cycles_by_sequence ON frozen_cycles (org, sequence);
CREATE TABLE frozen_scores (
  org TEXT NOT NULL,
  cycle_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (org, cycle_id, position),
  FOREIGN KEY (org, cycle_id) REFERENCES frozen_cycles (org, cycle_id)
) STRICT;
)sql"},
};

// The columns ReadCheckIn expects, in its order.
#define OKR_CHECK_IN_COLUMNS_OF(t)                                                     \
  t "sequence, " t "id, " t "key_result_id, " t "client_key, " t "time_ns, " t "has_value, " \
  t "has_done, " t "has_signal, " t "fingerprint, " t "body"
#define OKR_CHECK_IN_COLUMNS OKR_CHECK_IN_COLUMNS_OF("")

constexpr absl::string_view kReviewColumns =
    "objective_id, kind, cycle_id, version, sequence, body";

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

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

int64_t ToColumn(absl::Time t) { return absl::ToUnixNanos(t); }
absl::Time FromColumn(int64_t nanos) { return absl::FromUnixNanos(nanos); }

// Reads the OKR_CHECK_IN_COLUMNS starting at column `first`.
StoredCheckIn ReadCheckIn(const Statement& row, int first = 0) {
  StoredCheckIn check_in;
  check_in.sequence = row.ColumnInt64(first);
  check_in.id = row.ColumnText(first + 1);
  check_in.key_result_id = row.ColumnText(first + 2);
  check_in.client_key = row.ColumnText(first + 3);
  check_in.time = FromColumn(row.ColumnInt64(first + 4));
  check_in.has_value = row.ColumnInt64(first + 5) != 0;
  check_in.has_done = row.ColumnInt64(first + 6) != 0;
  check_in.has_signal = row.ColumnInt64(first + 7) != 0;
  check_in.fingerprint = row.ColumnBlob(first + 8);
  check_in.body = row.ColumnBlob(first + 9);
  return check_in;
}

absl::StatusOr<StoredReview> ReadReview(const Statement& row, absl::string_view org) {
  StoredReview review;
  review.objective_id = row.ColumnText(0);
  const std::string kind = row.ColumnText(1);
  if (!ParseName(kind, &review.kind) || review.kind == ReviewKind::kUnspecified) {
    return absl::DataLossError(absl::StrCat(
        "table reviews, organisation '", org, "', objective '", review.objective_id,
        "': unknown review kind '", kind,
        "'; the database was written by a newer or foreign program"));
  }
  review.cycle_id = row.ColumnText(2);
  review.version = row.ColumnInt64(3);
  review.sequence = row.ColumnInt64(4);
  review.body = row.ColumnBlob(5);
  return review;
}

absl::StatusOr<int64_t> QueryLatestSequence(SqliteDb& db, absl::string_view org) {
  OKR_ASSIGN_OR_RETURN(Statement * query,
                       db.Cached("SELECT latest FROM org_sequences WHERE org = ?1"));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, org));
  OKR_ASSIGN_OR_RETURN(bool row, query->Step());
  return row ? query->ColumnInt64(0) : 0;
}

// Takes the organisation's next sequence. Only inside a write transaction.
absl::StatusOr<int64_t> NextSequence(SqliteDb& db, absl::string_view org) {
  OKR_ASSIGN_OR_RETURN(
      Statement * next,
      db.Cached("INSERT INTO org_sequences (org, latest) VALUES (?1, 1) "
                "ON CONFLICT (org) DO UPDATE SET latest = org_sequences.latest + 1 "
                "RETURNING latest"));
  ResetOnExit reset(next);
  OKR_RETURN_IF_ERROR(next->BindText(1, org));
  OKR_ASSIGN_OR_RETURN(bool row, next->Step());
  if (!row) return absl::InternalError("org_sequences: the upsert returned no row");
  return next->ColumnInt64(0);
}

absl::StatusOr<std::optional<StoredCheckIn>> QueryCheckIn(SqliteDb& db, absl::string_view org,
                                                          absl::string_view key_result_id,
                                                          absl::string_view client_key) {
  OKR_ASSIGN_OR_RETURN(Statement * query,
                       db.Cached("SELECT " OKR_CHECK_IN_COLUMNS " FROM check_ins "
                                 "WHERE org = ?1 AND key_result_id = ?2 AND client_key = ?3"));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, org));
  OKR_RETURN_IF_ERROR(query->BindText(2, key_result_id));
  OKR_RETURN_IF_ERROR(query->BindText(3, client_key));
  OKR_ASSIGN_OR_RETURN(bool row, query->Step());
  if (!row) return std::nullopt;
  return ReadCheckIn(*query);
}

// One check-in inside the group's transaction. The look-up comes first so
// that a replay takes no sequence number.
absl::StatusOr<AppendResult> AppendOne(SqliteDb& db, absl::string_view org,
                                       const StoredCheckIn& check_in) {
  OKR_ASSIGN_OR_RETURN(std::optional<StoredCheckIn> existing,
                       QueryCheckIn(db, org, check_in.key_result_id, check_in.client_key));
  if (existing.has_value()) return AppendResult{*std::move(existing), true};

  AppendResult result{check_in, false};
  StoredCheckIn& stored = result.check_in;
  OKR_ASSIGN_OR_RETURN(stored.sequence, NextSequence(db, org));
  stored.time = FromColumn(ToColumn(check_in.time));
  OKR_ASSIGN_OR_RETURN(
      Statement * insert,
      db.Cached("INSERT INTO check_ins (org, " OKR_CHECK_IN_COLUMNS
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
  ResetOnExit reset(insert);
  OKR_RETURN_IF_ERROR(insert->BindText(1, org));
  OKR_RETURN_IF_ERROR(insert->BindInt64(2, stored.sequence));
  OKR_RETURN_IF_ERROR(insert->BindText(3, stored.id));
  OKR_RETURN_IF_ERROR(insert->BindText(4, stored.key_result_id));
  OKR_RETURN_IF_ERROR(insert->BindText(5, stored.client_key));
  OKR_RETURN_IF_ERROR(insert->BindInt64(6, ToColumn(stored.time)));
  OKR_RETURN_IF_ERROR(insert->BindInt64(7, stored.has_value ? 1 : 0));
  OKR_RETURN_IF_ERROR(insert->BindInt64(8, stored.has_done ? 1 : 0));
  OKR_RETURN_IF_ERROR(insert->BindInt64(9, stored.has_signal ? 1 : 0));
  OKR_RETURN_IF_ERROR(insert->BindBlob(10, stored.fingerprint));
  OKR_RETURN_IF_ERROR(insert->BindBlob(11, stored.body));
  OKR_RETURN_IF_ERROR(insert->Run());
  return result;
}

absl::StatusOr<std::optional<StoredReview>> QueryReview(SqliteDb& db, absl::string_view org,
                                                        absl::string_view objective_id,
                                                        ReviewKind kind) {
  OKR_ASSIGN_OR_RETURN(Statement * query,
                       db.Cached(absl::StrCat("SELECT ", kReviewColumns,
                                              " FROM reviews WHERE org = ?1 AND "
                                              "objective_id = ?2 AND kind = ?3")));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, org));
  OKR_RETURN_IF_ERROR(query->BindText(2, objective_id));
  OKR_RETURN_IF_ERROR(query->BindText(3, Name(kind)));
  OKR_ASSIGN_OR_RETURN(bool row, query->Step());
  if (!row) return std::nullopt;
  return ReadReview(*query, org);
}

// Reviews with a sequence in (after, up_to], by sequence.
absl::StatusOr<std::vector<StoredReview>> QueryReviews(SqliteDb& db, absl::string_view org,
                                                       int64_t after, int64_t up_to) {
  OKR_ASSIGN_OR_RETURN(
      Statement * query,
      db.Cached(absl::StrCat("SELECT ", kReviewColumns,
                             " FROM reviews WHERE org = ?1 AND sequence > ?2 AND "
                             "sequence <= ?3 ORDER BY sequence")));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, org));
  OKR_RETURN_IF_ERROR(query->BindInt64(2, after));
  OKR_RETURN_IF_ERROR(query->BindInt64(3, up_to));
  std::vector<StoredReview> reviews;
  while (true) {
    OKR_ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    OKR_ASSIGN_OR_RETURN(StoredReview review, ReadReview(*query, org));
    reviews.push_back(std::move(review));
  }
  return reviews;
}

// Fills the scores of `cycle` (cycle_id set) in the order they were frozen.
absl::Status QueryFrozenScores(SqliteDb& db, absl::string_view org, FrozenCycle& cycle) {
  OKR_ASSIGN_OR_RETURN(Statement * query,
                       db.Cached("SELECT kind, id, body FROM frozen_scores "
                                 "WHERE org = ?1 AND cycle_id = ?2 ORDER BY position"));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, org));
  OKR_RETURN_IF_ERROR(query->BindText(2, cycle.cycle_id));
  while (true) {
    OKR_ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    FrozenScore score;
    const std::string kind = query->ColumnText(0);
    score.id = query->ColumnText(1);
    if (!ParseName(kind, &score.kind) || (score.kind != ResourceKind::kKeyResult &&
                                          score.kind != ResourceKind::kObjective)) {
      return absl::DataLossError(absl::StrCat(
          "table frozen_scores, organisation '", org, "', cycle '", cycle.cycle_id, "', id '",
          score.id, "': unknown score kind '", kind,
          "'; the database was written by a newer or foreign program"));
    }
    score.body = query->ColumnBlob(2);
    cycle.scores.push_back(std::move(score));
  }
  return absl::OkStatus();
}

// Frozen cycles with a sequence in (after, up_to], by sequence, with scores.
absl::StatusOr<std::vector<FrozenCycle>> QueryFrozenCycles(SqliteDb& db, absl::string_view org,
                                                           int64_t after, int64_t up_to) {
  std::vector<FrozenCycle> cycles;
  {
    OKR_ASSIGN_OR_RETURN(
        Statement * query,
        db.Cached("SELECT cycle_id, sequence, freeze_time_ns FROM frozen_cycles "
                  "WHERE org = ?1 AND sequence > ?2 AND sequence <= ?3 ORDER BY sequence"));
    ResetOnExit reset(query);
    OKR_RETURN_IF_ERROR(query->BindText(1, org));
    OKR_RETURN_IF_ERROR(query->BindInt64(2, after));
    OKR_RETURN_IF_ERROR(query->BindInt64(3, up_to));
    while (true) {
      OKR_ASSIGN_OR_RETURN(bool row, query->Step());
      if (!row) break;
      FrozenCycle cycle;
      cycle.cycle_id = query->ColumnText(0);
      cycle.sequence = query->ColumnInt64(1);
      cycle.freeze_time = FromColumn(query->ColumnInt64(2));
      cycles.push_back(std::move(cycle));
    }
  }
  for (FrozenCycle& cycle : cycles) OKR_RETURN_IF_ERROR(QueryFrozenScores(db, org, cycle));
  return cycles;
}

absl::StatusOr<std::optional<FrozenCycle>> QueryFrozenCycle(SqliteDb& db, absl::string_view org,
                                                            absl::string_view cycle_id) {
  FrozenCycle cycle;
  {
    OKR_ASSIGN_OR_RETURN(Statement * query,
                         db.Cached("SELECT sequence, freeze_time_ns FROM frozen_cycles "
                                   "WHERE org = ?1 AND cycle_id = ?2"));
    ResetOnExit reset(query);
    OKR_RETURN_IF_ERROR(query->BindText(1, org));
    OKR_RETURN_IF_ERROR(query->BindText(2, cycle_id));
    OKR_ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) return std::nullopt;
    cycle.cycle_id = std::string(cycle_id);
    cycle.sequence = query->ColumnInt64(0);
    cycle.freeze_time = FromColumn(query->ColumnInt64(1));
  }
  OKR_RETURN_IF_ERROR(QueryFrozenScores(db, org, cycle));
  return cycle;
}

// The key results' histories: one walk of the time index, newest first
// within each key result, keeping per key result the first row (the
// latest), the first with a value, with done and with a signal, and the
// count. A row picked for several reasons comes once; the columns of a row
// not picked are never read. (A window-function query that picked in SQL
// and joined the bodies back cost 4-5 times the CPU at 100,000 key results:
// it read every row through the table for has_* and sorted the result.)
absl::StatusOr<std::vector<KeyResultHistory>> QueryHistories(SqliteDb& db,
                                                             absl::string_view org) {
  OKR_ASSIGN_OR_RETURN(
      Statement * query,
      db.Cached("SELECT " OKR_CHECK_IN_COLUMNS " FROM check_ins INDEXED BY check_ins_by_time "
                "WHERE org = ?1 ORDER BY key_result_id, time_ns DESC, sequence DESC"));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, org));
  std::vector<KeyResultHistory> histories;
  bool have_value = false;
  bool have_done = false;
  bool have_signal = false;
  std::string key_result_id;
  while (true) {
    OKR_ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    key_result_id = query->ColumnText(2);
    const bool first = histories.empty() || histories.back().key_result_id != key_result_id;
    if (first) {
      KeyResultHistory& history = histories.emplace_back();
      history.key_result_id = key_result_id;
      have_value = have_done = have_signal = false;
    }
    KeyResultHistory& history = histories.back();
    ++history.check_in_count;
    const bool has_value = query->ColumnInt64(5) != 0;
    const bool has_done = query->ColumnInt64(6) != 0;
    const bool has_signal = query->ColumnInt64(7) != 0;
    const bool picked = first || (has_value && !have_value) || (has_done && !have_done) ||
                        (has_signal && !have_signal);
    have_value |= has_value;
    have_done |= has_done;
    have_signal |= has_signal;
    if (!picked) continue;
    StoredCheckIn check_in = ReadCheckIn(*query);
    if (first) history.last_time = check_in.time;  // the first row is the newest
    history.latest.push_back(std::move(check_in));
  }
  return histories;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteTrackingStore>> SqliteTrackingStore::Open(
    absl::string_view path, const SqliteTrackingStoreOptions& options) {
  if (path.empty()) {
    return absl::InvalidArgumentError("path: the SQLite tracking store needs a file path");
  }
  if (path == ":memory:") {
    return absl::InvalidArgumentError(
        "path: \":memory:\" is refused: check-ins must survive a restart, and each connection "
        "would see its own empty database; give a file path");
  }
  if (options.reader_connections < 1) {
    return absl::InvalidArgumentError(absl::StrCat("reader_connections: must be at least 1, got ",
                                                   options.reader_connections));
  }
  if (options.max_group_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_group_size: must be at least 1, got ", options.max_group_size));
  }
  SqliteOptions sqlite;
  sqlite.durability = options.durability;
  sqlite.busy_timeout = options.busy_timeout;

  OKR_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> writer, SqliteDb::Open(path, sqlite));
  OKR_RETURN_IF_ERROR(Migrate(*writer, kMigrations).status());
  std::vector<std::unique_ptr<SqliteDb>> readers;
  for (int i = 0; i < options.reader_connections; ++i) {
    OKR_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> reader, SqliteDb::Open(path, sqlite));
    readers.push_back(std::move(reader));
  }
  return std::unique_ptr<SqliteTrackingStore>(new SqliteTrackingStore(
      std::string(path), options, std::move(writer), std::move(readers)));
}

SqliteTrackingStore::SqliteTrackingStore(std::string path, SqliteTrackingStoreOptions options,
                                         std::unique_ptr<SqliteDb> writer,
                                         std::vector<std::unique_ptr<SqliteDb>> readers)
    : path_(std::move(path)),
      options_(options),
      writer_(std::move(writer)),
      readers_(std::move(readers)) {}

SqliteTrackingStore::~SqliteTrackingStore() = default;

absl::StatusOr<AppendResult> SqliteTrackingStore::AppendCheckIn(
    absl::string_view organisation_id, const StoredCheckIn& check_in) {
  OKR_RETURN_IF_ERROR(ValidateCheckInForAppend(organisation_id, check_in));
  PendingAppend self{organisation_id, &check_in};
  absl::MutexLock lock(&queue_mu_);
  queue_.push_back(&self);
  while (!self.done && leader_active_) group_written_.Wait(&queue_mu_);
  // Either a leader wrote us, or nobody leads and we do: we are still queued
  // (a leader takes from the front), so at most a few rounds write us too.
  if (!self.done) {
    leader_active_ = true;
    while (!self.done) {
      const size_t take = std::min(queue_.size(), static_cast<size_t>(options_.max_group_size));
      std::vector<PendingAppend*> group(queue_.begin(), queue_.begin() + take);
      queue_.erase(queue_.begin(), queue_.begin() + take);
      queue_mu_.Unlock();
      WriteGroup(group);
      queue_mu_.Lock();
      for (PendingAppend* pending : group) pending->done = true;
      group_written_.SignalAll();
    }
    leader_active_ = false;
    // Someone queued while we wrote may be waiting for a leader.
    group_written_.SignalAll();
  }
  return std::move(self.result);
}

void SqliteTrackingStore::WriteGroup(const std::vector<PendingAppend*>& group) {
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  auto fail_all = [&](const absl::Status& status) {
    for (PendingAppend* pending : group) pending->result = status;
  };
  absl::StatusOr<Transaction> txn = Transaction::Begin(db);
  if (!txn.ok()) return fail_all(txn.status());
  // A savepoint per check-in: one failing statement undoes that check-in
  // only, and the others of the group still commit. Alone in its group, a
  // check-in needs none: the transaction is its own.
  const bool savepoints = group.size() > 1;
  for (PendingAppend* pending : group) {
    if (savepoints) {
      if (absl::Status status = db.Exec("SAVEPOINT check_in"); !status.ok()) {
        return fail_all(status);
      }
    }
    pending->result = AppendOne(db, pending->organisation_id, *pending->check_in);
    if (!db.InTransaction()) {
      // SQLite rolled the whole transaction back (disk full, I/O error):
      // nothing of the group was kept.
      return fail_all(pending->result.ok()
                          ? absl::UnavailableError("the transaction was rolled back")
                          : pending->result.status());
    }
    if (!savepoints) {
      // Its error is its result; returning rolls the transaction back.
      if (!pending->result.ok()) return;
      break;
    }
    absl::Status status = pending->result.ok()
                              ? db.Exec("RELEASE check_in")
                              : db.Exec("ROLLBACK TO check_in; RELEASE check_in");
    if (!status.ok()) return fail_all(status);
  }
  if (absl::Status status = txn->Commit(); !status.ok()) {
    for (PendingAppend* pending : group) {
      if (pending->result.ok()) pending->result = status;
    }
  }
}

absl::StatusOr<std::optional<StoredCheckIn>> SqliteTrackingStore::FindCheckIn(
    absl::string_view organisation_id, absl::string_view key_result_id,
    absl::string_view client_key) {
  SqliteConnectionPool::Lease lease(&readers_);
  return QueryCheckIn(lease.db(), organisation_id, key_result_id, client_key);
}

absl::StatusOr<CheckInPage> SqliteTrackingStore::ListCheckIns(absl::string_view organisation_id,
                                                              const CheckInQuery& query) {
  OKR_RETURN_IF_ERROR(ValidateCheckInQuery(organisation_id, query));
  OKR_ASSIGN_OR_RETURN(std::optional<CheckInCursor> cursor,
                       DecodeCheckInPageToken(organisation_id, query));
  SqliteConnectionPool::Lease lease(&readers_);
  SqliteDb& db = lease.db();
  // One snapshot for the page and its total.
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::Mode::kDeferred));
  const int64_t start = ToColumn(query.start_time);
  const int64_t end = ToColumn(query.end_time);
  CheckInPage page;
  {
    // Stored times are strictly below int64's maximum, so (max, max) is a
    // cursor before every row.
    OKR_ASSIGN_OR_RETURN(
        Statement * rows,
        db.Cached("SELECT " OKR_CHECK_IN_COLUMNS " FROM check_ins "
                  "WHERE org = ?1 AND key_result_id = ?2 AND time_ns >= ?3 AND time_ns < ?4 "
                  "AND (time_ns, sequence) < (?5, ?6) "
                  "ORDER BY time_ns DESC, sequence DESC LIMIT ?7"));
    ResetOnExit reset(rows);
    OKR_RETURN_IF_ERROR(rows->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(rows->BindText(2, query.key_result_id));
    OKR_RETURN_IF_ERROR(rows->BindInt64(3, start));
    OKR_RETURN_IF_ERROR(rows->BindInt64(4, end));
    OKR_RETURN_IF_ERROR(rows->BindInt64(5, cursor ? ToColumn(cursor->time) : kMaxInt64));
    OKR_RETURN_IF_ERROR(rows->BindInt64(6, cursor ? cursor->sequence : kMaxInt64));
    // One row more than the page tells whether another page follows.
    OKR_RETURN_IF_ERROR(rows->BindInt64(7, int64_t{query.page_size} + 1));
    bool more = false;
    while (true) {
      OKR_ASSIGN_OR_RETURN(bool row, rows->Step());
      if (!row) break;
      if (page.check_ins.size() == static_cast<size_t>(query.page_size)) {
        more = true;
        break;
      }
      page.check_ins.push_back(ReadCheckIn(*rows));
    }
    if (more) {
      const StoredCheckIn& last = page.check_ins.back();
      page.next_page_token =
          EncodeCheckInPageToken(organisation_id, query, {last.time, last.sequence});
    }
  }
  {
    OKR_ASSIGN_OR_RETURN(
        Statement * count,
        db.Cached("SELECT COUNT(*) FROM check_ins WHERE org = ?1 AND key_result_id = ?2 "
                  "AND time_ns >= ?3 AND time_ns < ?4"));
    ResetOnExit reset(count);
    OKR_RETURN_IF_ERROR(count->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(count->BindText(2, query.key_result_id));
    OKR_RETURN_IF_ERROR(count->BindInt64(3, start));
    OKR_RETURN_IF_ERROR(count->BindInt64(4, end));
    OKR_ASSIGN_OR_RETURN(bool row, count->Step());
    page.total_size = row ? count->ColumnInt64(0) : 0;
  }
  OKR_RETURN_IF_ERROR(txn.Commit());
  return page;
}

absl::StatusOr<StoredReview> SqliteTrackingStore::PutReview(absl::string_view organisation_id,
                                                            const StoredReview& review,
                                                            int64_t expected_version) {
  OKR_RETURN_IF_ERROR(ValidateReviewForPut(organisation_id, review, expected_version));
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  OKR_ASSIGN_OR_RETURN(std::optional<StoredReview> stored,
                       QueryReview(db, organisation_id, review.objective_id, review.kind));
  const int64_t stored_version = stored.has_value() ? stored->version : 0;
  if (stored_version != expected_version) {
    return absl::AbortedError(absl::StrCat(
        "version: the ", Name(review.kind), " review of objective '", review.objective_id, "' ",
        stored.has_value() ? absl::StrCat("is at version ", stored_version)
                           : std::string("does not exist yet"),
        ", not ", expected_version,
        expected_version == 0 ? " (0 creates a new one)" : "",
        "; reload it and retry with its version"));
  }
  StoredReview row = review;
  row.version = expected_version + 1;
  OKR_ASSIGN_OR_RETURN(row.sequence, NextSequence(db, organisation_id));
  OKR_ASSIGN_OR_RETURN(
      Statement * put,
      db.Cached("INSERT INTO reviews (org, objective_id, kind, cycle_id, version, sequence, body) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (org, objective_id, kind) "
                "DO UPDATE SET cycle_id = excluded.cycle_id, version = excluded.version, "
                "sequence = excluded.sequence, body = excluded.body"));
  {
    ResetOnExit reset(put);
    OKR_RETURN_IF_ERROR(put->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(put->BindText(2, row.objective_id));
    OKR_RETURN_IF_ERROR(put->BindText(3, Name(row.kind)));
    OKR_RETURN_IF_ERROR(put->BindText(4, row.cycle_id));
    OKR_RETURN_IF_ERROR(put->BindInt64(5, row.version));
    OKR_RETURN_IF_ERROR(put->BindInt64(6, row.sequence));
    OKR_RETURN_IF_ERROR(put->BindBlob(7, row.body));
    OKR_RETURN_IF_ERROR(put->Run());
  }
  OKR_RETURN_IF_ERROR(txn.Commit());
  return row;
}

absl::StatusOr<FrozenCycle> SqliteTrackingStore::FreezeCycle(absl::string_view organisation_id,
                                                             const FrozenCycle& cycle) {
  OKR_RETURN_IF_ERROR(ValidateFrozenCycle(organisation_id, cycle));
  absl::MutexLock lock(&writer_mu_);
  SqliteDb& db = *writer_;
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  OKR_ASSIGN_OR_RETURN(std::optional<FrozenCycle> first,
                       QueryFrozenCycle(db, organisation_id, cycle.cycle_id));
  if (first.has_value()) return *std::move(first);  // the transaction rolls back: nothing written

  FrozenCycle row = cycle;
  row.freeze_time = FromColumn(ToColumn(cycle.freeze_time));
  OKR_ASSIGN_OR_RETURN(row.sequence, NextSequence(db, organisation_id));
  {
    OKR_ASSIGN_OR_RETURN(
        Statement * insert,
        db.Cached("INSERT INTO frozen_cycles (org, cycle_id, sequence, freeze_time_ns) "
                  "VALUES (?1, ?2, ?3, ?4)"));
    ResetOnExit reset(insert);
    OKR_RETURN_IF_ERROR(insert->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(insert->BindText(2, row.cycle_id));
    OKR_RETURN_IF_ERROR(insert->BindInt64(3, row.sequence));
    OKR_RETURN_IF_ERROR(insert->BindInt64(4, ToColumn(row.freeze_time)));
    OKR_RETURN_IF_ERROR(insert->Run());
  }
  OKR_ASSIGN_OR_RETURN(
      Statement * score_insert,
      db.Cached("INSERT INTO frozen_scores (org, cycle_id, position, kind, id, body) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  for (size_t i = 0; i < row.scores.size(); ++i) {
    const FrozenScore& score = row.scores[i];
    ResetOnExit reset(score_insert);
    OKR_RETURN_IF_ERROR(score_insert->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(score_insert->BindText(2, row.cycle_id));
    OKR_RETURN_IF_ERROR(score_insert->BindInt64(3, static_cast<int64_t>(i)));
    OKR_RETURN_IF_ERROR(score_insert->BindText(4, Name(score.kind)));
    OKR_RETURN_IF_ERROR(score_insert->BindText(5, score.id));
    OKR_RETURN_IF_ERROR(score_insert->BindBlob(6, score.body));
    OKR_RETURN_IF_ERROR(score_insert->Run());
  }
  OKR_RETURN_IF_ERROR(txn.Commit());
  return row;
}

absl::StatusOr<TrackingSnapshot> SqliteTrackingStore::LoadOrganisation(
    absl::string_view organisation_id) {
  SqliteConnectionPool::Lease lease(&readers_);
  SqliteDb& db = lease.db();
  // One snapshot, so that a write landing in between cannot pair new rows
  // with an old sequence (or the reverse).
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::Mode::kDeferred));
  TrackingSnapshot snapshot;
  OKR_ASSIGN_OR_RETURN(snapshot.latest_sequence, QueryLatestSequence(db, organisation_id));
  OKR_ASSIGN_OR_RETURN(snapshot.key_results, QueryHistories(db, organisation_id));
  OKR_ASSIGN_OR_RETURN(snapshot.reviews, QueryReviews(db, organisation_id, 0, kMaxInt64));
  OKR_ASSIGN_OR_RETURN(snapshot.frozen_cycles,
                       QueryFrozenCycles(db, organisation_id, 0, kMaxInt64));
  OKR_RETURN_IF_ERROR(txn.Commit());
  return snapshot;
}

absl::StatusOr<TrackingChanges> SqliteTrackingStore::ChangesAfter(
    absl::string_view organisation_id, int64_t after_sequence, int limit) {
  if (limit <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("limit: must be positive, got ", limit));
  }
  SqliteConnectionPool::Lease lease(&readers_);
  SqliteDb& db = lease.db();
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::Mode::kDeferred));
  TrackingChanges changes;
  OKR_ASSIGN_OR_RETURN(changes.latest_sequence, QueryLatestSequence(db, organisation_id));
  // The limit-th write after after_sequence, over all three kinds, bounds
  // the page; without one, everything after it fits.
  int64_t up_to = kMaxInt64;
  {
    OKR_ASSIGN_OR_RETURN(
        Statement * bound,
        db.Cached("SELECT sequence FROM ("
                  "SELECT sequence FROM check_ins WHERE org = ?1 AND sequence > ?2 "
                  "UNION ALL SELECT sequence FROM reviews WHERE org = ?1 AND sequence > ?2 "
                  "UNION ALL SELECT sequence FROM frozen_cycles WHERE org = ?1 AND sequence > ?2"
                  ") AS writes ORDER BY sequence LIMIT 1 OFFSET ?3"));
    ResetOnExit reset(bound);
    OKR_RETURN_IF_ERROR(bound->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(bound->BindInt64(2, after_sequence));
    OKR_RETURN_IF_ERROR(bound->BindInt64(3, int64_t{limit} - 1));
    OKR_ASSIGN_OR_RETURN(bool row, bound->Step());
    if (row) up_to = bound->ColumnInt64(0);
  }
  {
    OKR_ASSIGN_OR_RETURN(
        Statement * rows,
        db.Cached("SELECT " OKR_CHECK_IN_COLUMNS " FROM check_ins "
                  "WHERE org = ?1 AND sequence > ?2 AND sequence <= ?3 ORDER BY sequence"));
    ResetOnExit reset(rows);
    OKR_RETURN_IF_ERROR(rows->BindText(1, organisation_id));
    OKR_RETURN_IF_ERROR(rows->BindInt64(2, after_sequence));
    OKR_RETURN_IF_ERROR(rows->BindInt64(3, up_to));
    while (true) {
      OKR_ASSIGN_OR_RETURN(bool row, rows->Step());
      if (!row) break;
      changes.check_ins.push_back(ReadCheckIn(*rows));
    }
  }
  OKR_ASSIGN_OR_RETURN(changes.reviews,
                       QueryReviews(db, organisation_id, after_sequence, up_to));
  OKR_ASSIGN_OR_RETURN(changes.frozen_cycles,
                       QueryFrozenCycles(db, organisation_id, after_sequence, up_to));
  OKR_RETURN_IF_ERROR(txn.Commit());
  return changes;
}

absl::StatusOr<int64_t> SqliteTrackingStore::LatestSequence(absl::string_view organisation_id) {
  SqliteConnectionPool::Lease lease(&readers_);
  return QueryLatestSequence(lease.db(), organisation_id);
}

#undef OKR_CHECK_IN_COLUMNS
#undef OKR_CHECK_IN_COLUMNS_OF

absl::Status SqliteTrackingStore::CheckHealth() {
  SqliteConnectionPool::Lease lease(&readers_);
  return CheckSqliteHealth(lease.db());
}

}  // namespace okr::tracking
