#include "services/tracking/postgres_tracking_store.h"

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
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/postgres.h"
#include "common/status_macros.h"

namespace okr::tracking {
namespace {

constexpr absl::string_view kMigrationsTable = "tracking_schema_migrations";

// Released migrations are never edited; a schema change is a new entry.
std::vector<PgMigration> Migrations() {
  return {
      {1, R"sql(
CREATE TABLE tracking_org_sequences (
  org TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  latest BIGINT NOT NULL
);
CREATE TABLE tracking_check_ins (
  org TEXT COLLATE "C" NOT NULL,
  sequence BIGINT NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  key_result_id TEXT COLLATE "C" NOT NULL,
  client_key TEXT COLLATE "C" NOT NULL,
  time_ns BIGINT NOT NULL,
  has_value BOOLEAN NOT NULL,
  has_done BOOLEAN NOT NULL,
  has_signal BOOLEAN NOT NULL,
  fingerprint BYTEA NOT NULL,
  body BYTEA NOT NULL,
  PRIMARY KEY (org, sequence),
  UNIQUE (org, key_result_id, client_key)
);
CREATE INDEX tracking_check_ins_by_time
  ON tracking_check_ins (org, key_result_id, time_ns DESC, sequence DESC);
CREATE TABLE tracking_reviews (
  org TEXT COLLATE "C" NOT NULL,
  objective_id TEXT COLLATE "C" NOT NULL,
  kind TEXT COLLATE "C" NOT NULL,
  cycle_id TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  sequence BIGINT NOT NULL,
  body BYTEA NOT NULL,
  PRIMARY KEY (org, objective_id, kind)
);
CREATE INDEX tracking_reviews_by_sequence ON tracking_reviews (org, sequence);
CREATE TABLE tracking_frozen_cycles (
  org TEXT COLLATE "C" NOT NULL,
  cycle_id TEXT COLLATE "C" NOT NULL,
  sequence BIGINT NOT NULL,
  freeze_time_ns BIGINT NOT NULL,
  PRIMARY KEY (org, cycle_id)
);
CREATE INDEX tracking_frozen_cycles_by_sequence ON tracking_frozen_cycles (org, sequence);
CREATE TABLE tracking_frozen_scores (
  org TEXT COLLATE "C" NOT NULL,
  cycle_id TEXT COLLATE "C" NOT NULL,
  position INTEGER NOT NULL,
  kind TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  body BYTEA NOT NULL,
  PRIMARY KEY (org, cycle_id, position),
  FOREIGN KEY (org, cycle_id) REFERENCES tracking_frozen_cycles (org, cycle_id)
);
)sql"},
  };
}

// The columns ReadCheckIn expects, in its order.
#define OKR_PG_CHECK_IN_COLUMNS_OF(t)                                                  \
  t "sequence, " t "id, " t "key_result_id, " t "client_key, " t "time_ns, " t "has_value, " \
  t "has_done, " t "has_signal, " t "fingerprint, " t "body"
#define OKR_PG_CHECK_IN_COLUMNS OKR_PG_CHECK_IN_COLUMNS_OF("")

#define OKR_PG_REVIEW_COLUMNS "objective_id, kind, cycle_id, version, sequence, body"

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

// Scores per INSERT of a freeze: 6 parameters each, far below PostgreSQL's
// 65535, and few round trips for a large cycle.
constexpr size_t kScoresPerInsert = 200;

int64_t ToColumn(absl::Time t) { return absl::ToUnixNanos(t); }
absl::Time FromColumn(int64_t nanos) { return absl::FromUnixNanos(nanos); }

// libpq passes text parameters as C strings, so a NUL would silently cut
// the value short (and PostgreSQL text cannot hold one anyway).
absl::Status RequireNoNul(absl::string_view value, absl::string_view field) {
  if (absl::StrContains(value, '\0')) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must not contain a NUL byte"));
  }
  return absl::OkStatus();
}

// Runs one statement; a failure names what the store was doing, keeping the
// code PgStatus chose.
absl::StatusOr<PgRows> Run(PgConnection& conn, absl::string_view what, absl::string_view sql,
                           absl::Span<const PgParam> params = {}) {
  absl::StatusOr<PgRows> rows = conn.Exec(sql, params);
  if (!rows.ok()) {
    return absl::Status(rows.status().code(),
                        absl::StrCat("tracking store: ", what, ": ", rows.status().message()));
  }
  return rows;
}

// Reads the OKR_PG_CHECK_IN_COLUMNS of `row` starting at column `first`.
StoredCheckIn ReadCheckIn(const PgRows& rows, int row, int first = 0) {
  StoredCheckIn check_in;
  check_in.sequence = rows.Int(row, first);
  check_in.id = rows.Text(row, first + 1);
  check_in.key_result_id = rows.Text(row, first + 2);
  check_in.client_key = rows.Text(row, first + 3);
  check_in.time = FromColumn(rows.Int(row, first + 4));
  check_in.has_value = rows.Bool(row, first + 5);
  check_in.has_done = rows.Bool(row, first + 6);
  check_in.has_signal = rows.Bool(row, first + 7);
  check_in.fingerprint = rows.Bytes(row, first + 8);
  check_in.body = rows.Bytes(row, first + 9);
  return check_in;
}

absl::StatusOr<StoredReview> ReadReview(const PgRows& rows, int row, absl::string_view org) {
  StoredReview review;
  review.objective_id = rows.Text(row, 0);
  const std::string kind = rows.Text(row, 1);
  if (!ParseName(kind, &review.kind) || review.kind == ReviewKind::kUnspecified) {
    return absl::DataLossError(absl::StrCat(
        "table tracking_reviews, organisation '", org, "', objective '", review.objective_id,
        "': unknown review kind '", kind,
        "'; the database was written by a newer or foreign program"));
  }
  review.cycle_id = rows.Text(row, 2);
  review.version = rows.Int(row, 3);
  review.sequence = rows.Int(row, 4);
  review.body = rows.Bytes(row, 5);
  return review;
}

absl::StatusOr<int64_t> QueryLatestSequence(PgConnection& conn, absl::string_view org) {
  const PgParam params[] = {PgParam::Text(org)};
  OKR_ASSIGN_OR_RETURN(
      PgRows rows, Run(conn, "read the latest sequence",
                       "SELECT latest FROM tracking_org_sequences WHERE org = $1::text", params));
  return rows.size() > 0 ? rows.Int(0, 0) : 0;
}

// Locks the organisation's sequence row (creating it at 0) until the
// transaction ends and returns the latest number handed out. Every write
// takes this lock before it reads what it must not duplicate: the next
// statement's READ COMMITTED snapshot then includes every write of the
// organisation that committed before, so the check and the numbering see
// the same history on every replica.
absl::StatusOr<int64_t> LockSequence(PgConnection& conn, absl::string_view org) {
  const PgParam params[] = {PgParam::Text(org)};
  OKR_ASSIGN_OR_RETURN(
      PgRows rows,
      Run(conn, "lock the organisation's sequence",
          "INSERT INTO tracking_org_sequences (org, latest) VALUES ($1::text, 0) "
          "ON CONFLICT (org) DO UPDATE SET latest = tracking_org_sequences.latest "
          "RETURNING latest",
          params));
  if (rows.size() != 1) {
    return absl::InternalError("tracking_org_sequences: the upsert returned no row");
  }
  return rows.Int(0, 0);
}

absl::StatusOr<std::optional<StoredCheckIn>> QueryCheckIn(PgConnection& conn,
                                                          absl::string_view org,
                                                          absl::string_view key_result_id,
                                                          absl::string_view client_key) {
  const PgParam params[] = {PgParam::Text(org), PgParam::Text(key_result_id),
                            PgParam::Text(client_key)};
  OKR_ASSIGN_OR_RETURN(
      PgRows rows,
      Run(conn, "find a check-in",
          "SELECT " OKR_PG_CHECK_IN_COLUMNS " FROM tracking_check_ins "
          "WHERE org = $1::text AND key_result_id = $2::text AND client_key = $3::text",
          params));
  if (rows.size() == 0) return std::nullopt;
  return ReadCheckIn(rows, 0);
}

absl::StatusOr<std::optional<StoredReview>> QueryReview(PgConnection& conn,
                                                        absl::string_view org,
                                                        absl::string_view objective_id,
                                                        ReviewKind kind) {
  const PgParam params[] = {PgParam::Text(org), PgParam::Text(objective_id),
                            PgParam::Text(Name(kind))};
  OKR_ASSIGN_OR_RETURN(
      PgRows rows,
      Run(conn, "read a review",
          "SELECT " OKR_PG_REVIEW_COLUMNS " FROM tracking_reviews "
          "WHERE org = $1::text AND objective_id = $2::text AND kind = $3::text",
          params));
  if (rows.size() == 0) return std::nullopt;
  return ReadReview(rows, 0, org);
}

// Reviews with a sequence in (after, up_to], by sequence.
absl::StatusOr<std::vector<StoredReview>> QueryReviews(PgConnection& conn, absl::string_view org,
                                                       int64_t after, int64_t up_to) {
  const PgParam params[] = {PgParam::Text(org), PgParam::Int(after), PgParam::Int(up_to)};
  OKR_ASSIGN_OR_RETURN(
      PgRows rows,
      Run(conn, "read reviews",
          "SELECT " OKR_PG_REVIEW_COLUMNS " FROM tracking_reviews "
          "WHERE org = $1::text AND sequence > $2::bigint AND sequence <= $3::bigint "
          "ORDER BY sequence",
          params));
  std::vector<StoredReview> reviews;
  reviews.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    OKR_ASSIGN_OR_RETURN(StoredReview review, ReadReview(rows, i, org));
    reviews.push_back(std::move(review));
  }
  return reviews;
}

// Fills the scores of `cycle` (cycle_id set) in the order they were frozen.
absl::Status QueryFrozenScores(PgConnection& conn, absl::string_view org, FrozenCycle& cycle) {
  const PgParam params[] = {PgParam::Text(org), PgParam::Text(cycle.cycle_id)};
  OKR_ASSIGN_OR_RETURN(
      PgRows rows, Run(conn, "read frozen scores",
                       "SELECT kind, id, body FROM tracking_frozen_scores "
                       "WHERE org = $1::text AND cycle_id = $2::text ORDER BY position",
                       params));
  for (int i = 0; i < rows.size(); ++i) {
    FrozenScore score;
    const std::string kind = rows.Text(i, 0);
    score.id = rows.Text(i, 1);
    if (!ParseName(kind, &score.kind) || (score.kind != ResourceKind::kKeyResult &&
                                          score.kind != ResourceKind::kObjective)) {
      return absl::DataLossError(absl::StrCat(
          "table tracking_frozen_scores, organisation '", org, "', cycle '", cycle.cycle_id,
          "', id '", score.id, "': unknown score kind '", kind,
          "'; the database was written by a newer or foreign program"));
    }
    score.body = rows.Bytes(i, 2);
    cycle.scores.push_back(std::move(score));
  }
  return absl::OkStatus();
}

// Frozen cycles with a sequence in (after, up_to], by sequence, with scores.
absl::StatusOr<std::vector<FrozenCycle>> QueryFrozenCycles(PgConnection& conn,
                                                           absl::string_view org, int64_t after,
                                                           int64_t up_to) {
  const PgParam params[] = {PgParam::Text(org), PgParam::Int(after), PgParam::Int(up_to)};
  OKR_ASSIGN_OR_RETURN(
      PgRows rows,
      Run(conn, "read frozen cycles",
          "SELECT cycle_id, sequence, freeze_time_ns FROM tracking_frozen_cycles "
          "WHERE org = $1::text AND sequence > $2::bigint AND sequence <= $3::bigint "
          "ORDER BY sequence",
          params));
  std::vector<FrozenCycle> cycles;
  cycles.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    FrozenCycle cycle;
    cycle.cycle_id = rows.Text(i, 0);
    cycle.sequence = rows.Int(i, 1);
    cycle.freeze_time = FromColumn(rows.Int(i, 2));
    cycles.push_back(std::move(cycle));
  }
  for (FrozenCycle& cycle : cycles) OKR_RETURN_IF_ERROR(QueryFrozenScores(conn, org, cycle));
  return cycles;
}

absl::StatusOr<std::optional<FrozenCycle>> QueryFrozenCycle(PgConnection& conn,
                                                            absl::string_view org,
                                                            absl::string_view cycle_id) {
  const PgParam params[] = {PgParam::Text(org), PgParam::Text(cycle_id)};
  OKR_ASSIGN_OR_RETURN(
      PgRows rows, Run(conn, "read a frozen cycle",
                       "SELECT sequence, freeze_time_ns FROM tracking_frozen_cycles "
                       "WHERE org = $1::text AND cycle_id = $2::text",
                       params));
  if (rows.size() == 0) return std::nullopt;
  FrozenCycle cycle;
  cycle.cycle_id = std::string(cycle_id);
  cycle.sequence = rows.Int(0, 0);
  cycle.freeze_time = FromColumn(rows.Int(0, 1));
  OKR_RETURN_IF_ERROR(QueryFrozenScores(conn, org, cycle));
  return cycle;
}

// The key results' histories, picked in SQL as in the SQLite store: one
// window per key result, newest first, ranks each row and counts the values,
// dones and signals up to it; the latest of a kind is the row of that kind
// whose running count is 1. Only the picked rows' bodies leave the server.
// Rows arrive grouped by key result, newest first within each.
absl::StatusOr<std::vector<KeyResultHistory>> QueryHistories(PgConnection& conn,
                                                             absl::string_view org) {
  const PgParam params[] = {PgParam::Text(org)};
  OKR_ASSIGN_OR_RETURN(
      PgRows rows,
      Run(conn, "read the latest check-ins",
          "SELECT ranked.check_in_count, " OKR_PG_CHECK_IN_COLUMNS_OF("c.") " FROM ("
          "SELECT sequence, has_value, has_done, has_signal, "
          "ROW_NUMBER() OVER w AS rank_all, "
          "SUM(has_value::int) OVER (w ROWS UNBOUNDED PRECEDING) AS values_so_far, "
          "SUM(has_done::int) OVER (w ROWS UNBOUNDED PRECEDING) AS dones_so_far, "
          "SUM(has_signal::int) OVER (w ROWS UNBOUNDED PRECEDING) AS signals_so_far, "
          "COUNT(*) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) "
          "AS check_in_count "
          "FROM tracking_check_ins WHERE org = $1::text "
          "WINDOW w AS (PARTITION BY key_result_id ORDER BY time_ns DESC, sequence DESC)"
          ") AS ranked JOIN tracking_check_ins AS c "
          "ON c.org = $1::text AND c.sequence = ranked.sequence "
          "WHERE ranked.rank_all = 1 "
          "OR (ranked.has_value AND ranked.values_so_far = 1) "
          "OR (ranked.has_done AND ranked.dones_so_far = 1) "
          "OR (ranked.has_signal AND ranked.signals_so_far = 1) "
          "ORDER BY c.key_result_id, c.time_ns DESC, c.sequence DESC",
          params));
  std::vector<KeyResultHistory> histories;
  for (int i = 0; i < rows.size(); ++i) {
    StoredCheckIn check_in = ReadCheckIn(rows, i, 1);
    if (histories.empty() || histories.back().key_result_id != check_in.key_result_id) {
      KeyResultHistory history;
      history.key_result_id = check_in.key_result_id;
      history.check_in_count = rows.Int(i, 0);
      // The first row of a key result is its newest.
      history.last_time = check_in.time;
      histories.push_back(std::move(history));
    }
    histories.back().latest.push_back(std::move(check_in));
  }
  return histories;
}

// Inserts `scores` of a freeze in batches of kScoresPerInsert rows.
absl::Status InsertFrozenScores(PgConnection& conn, absl::string_view org,
                                absl::string_view cycle_id,
                                const std::vector<FrozenScore>& scores) {
  for (size_t begin = 0; begin < scores.size(); begin += kScoresPerInsert) {
    const size_t end = std::min(scores.size(), begin + kScoresPerInsert);
    std::string sql =
        "INSERT INTO tracking_frozen_scores (org, cycle_id, position, kind, id, body) VALUES ";
    std::vector<PgParam> params = {PgParam::Text(org), PgParam::Text(cycle_id)};
    for (size_t i = begin; i < end; ++i) {
      const size_t p = params.size() + 1;  // the first of this row's parameters
      absl::StrAppend(&sql, i == begin ? "" : ", ", "($1::text, $2::text, $", p,
                      "::integer, $", p + 1, "::text, $", p + 2, "::text, $", p + 3,
                      "::bytea)");
      params.push_back(PgParam::Int(static_cast<int64_t>(i)));
      params.push_back(PgParam::Text(Name(scores[i].kind)));
      params.push_back(PgParam::Text(scores[i].id));
      params.push_back(PgParam::Bytes(scores[i].body));
    }
    OKR_RETURN_IF_ERROR(Run(conn, "store frozen scores", sql, params).status());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresTrackingStore>> PostgresTrackingStore::Open(
    PgPoolOptions options) {
  OKR_ASSIGN_OR_RETURN(std::unique_ptr<PgPool> pool, PgPool::Open(std::move(options)));
  const std::vector<PgMigration> migrations = Migrations();
  OKR_RETURN_IF_ERROR(PgMigrate(*pool, kMigrationsTable, migrations));
  return std::unique_ptr<PostgresTrackingStore>(new PostgresTrackingStore(std::move(pool)));
}

PostgresTrackingStore::PostgresTrackingStore(std::unique_ptr<PgPool> pool)
    : pool_(std::move(pool)) {}

PostgresTrackingStore::~PostgresTrackingStore() = default;

absl::StatusOr<AppendResult> PostgresTrackingStore::AppendCheckIn(
    absl::string_view organisation_id, const StoredCheckIn& check_in) {
  OKR_RETURN_IF_ERROR(ValidateCheckInForAppend(organisation_id, check_in));
  OKR_RETURN_IF_ERROR(RequireNoNul(organisation_id, "organisation_id"));
  OKR_RETURN_IF_ERROR(RequireNoNul(check_in.id, "check_in.id"));
  OKR_RETURN_IF_ERROR(RequireNoNul(check_in.key_result_id, "check_in.key_result_id"));
  OKR_RETURN_IF_ERROR(RequireNoNul(check_in.client_key, "check_in.client_key"));
  AppendResult result;
  OKR_RETURN_IF_ERROR(pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(const int64_t latest, LockSequence(conn, organisation_id));
    // After the lock, so that a duplicate committed by another replica a
    // moment ago is seen: it comes back as a replay and takes no number.
    OKR_ASSIGN_OR_RETURN(
        std::optional<StoredCheckIn> existing,
        QueryCheckIn(conn, organisation_id, check_in.key_result_id, check_in.client_key));
    if (existing.has_value()) {
      result = AppendResult{*std::move(existing), true};
      return absl::OkStatus();
    }
    result = AppendResult{check_in, false};
    result.check_in.sequence = latest + 1;
    const StoredCheckIn& stored = result.check_in;
    const PgParam params[] = {PgParam::Text(organisation_id),
                              PgParam::Int(stored.sequence),
                              PgParam::Text(stored.id),
                              PgParam::Text(stored.key_result_id),
                              PgParam::Text(stored.client_key),
                              PgParam::Int(ToColumn(stored.time)),
                              PgParam::Text(stored.has_value ? "true" : "false"),
                              PgParam::Text(stored.has_done ? "true" : "false"),
                              PgParam::Text(stored.has_signal ? "true" : "false"),
                              PgParam::Bytes(stored.fingerprint),
                              PgParam::Bytes(stored.body)};
    return Run(conn, "store a check-in",
               "WITH taken AS (UPDATE tracking_org_sequences SET latest = $2::bigint "
               "WHERE org = $1::text) "
               "INSERT INTO tracking_check_ins (org, " OKR_PG_CHECK_IN_COLUMNS ") VALUES "
               "($1::text, $2::bigint, $3::text, $4::text, $5::text, $6::bigint, "
               "$7::boolean, $8::boolean, $9::boolean, $10::bytea, $11::bytea)",
               params)
        .status();
  }));
  return result;
}

absl::StatusOr<std::optional<StoredCheckIn>> PostgresTrackingStore::FindCheckIn(
    absl::string_view organisation_id, absl::string_view key_result_id,
    absl::string_view client_key) {
  // A key with a NUL was never stored (AppendCheckIn refuses it).
  if (absl::StrContains(organisation_id, '\0') || absl::StrContains(key_result_id, '\0') ||
      absl::StrContains(client_key, '\0')) {
    return std::nullopt;
  }
  std::optional<StoredCheckIn> found;
  OKR_RETURN_IF_ERROR(pool_->WithConnection([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(found, QueryCheckIn(conn, organisation_id, key_result_id, client_key));
    return absl::OkStatus();
  }));
  return found;
}

absl::StatusOr<CheckInPage> PostgresTrackingStore::ListCheckIns(
    absl::string_view organisation_id, const CheckInQuery& query) {
  OKR_RETURN_IF_ERROR(ValidateCheckInQuery(organisation_id, query));
  OKR_ASSIGN_OR_RETURN(std::optional<CheckInCursor> cursor,
                       DecodeCheckInPageToken(organisation_id, query));
  CheckInPage page;
  if (absl::StrContains(organisation_id, '\0') || absl::StrContains(query.key_result_id, '\0')) {
    return page;  // nothing with such an id was ever stored
  }
  // Stored times are strictly inside int64's range (ValidateCheckInForAppend),
  // so the extremes stand for "no bound", and (max, max) is a cursor before
  // every row.
  const int64_t start = ToColumn(query.start_time);
  const int64_t end = ToColumn(query.end_time);
  OKR_RETURN_IF_ERROR(pool_->Transaction(
      [&](PgConnection& conn) -> absl::Status {
        page = CheckInPage{};
        {
          const PgParam params[] = {PgParam::Text(organisation_id),
                                    PgParam::Text(query.key_result_id),
                                    PgParam::Int(start),
                                    PgParam::Int(end),
                                    PgParam::Int(cursor ? ToColumn(cursor->time) : kMaxInt64),
                                    PgParam::Int(cursor ? cursor->sequence : kMaxInt64),
                                    // One row more tells whether another page follows.
                                    PgParam::Int(int64_t{query.page_size} + 1)};
          OKR_ASSIGN_OR_RETURN(
              PgRows rows,
              Run(conn, "list check-ins",
                  "SELECT " OKR_PG_CHECK_IN_COLUMNS " FROM tracking_check_ins "
                  "WHERE org = $1::text AND key_result_id = $2::text "
                  "AND time_ns >= $3::bigint AND time_ns < $4::bigint "
                  "AND (time_ns, sequence) < ($5::bigint, $6::bigint) "
                  "ORDER BY time_ns DESC, sequence DESC LIMIT $7::bigint",
                  params));
          const int kept = std::min(rows.size(), query.page_size);
          for (int i = 0; i < kept; ++i) page.check_ins.push_back(ReadCheckIn(rows, i));
          if (rows.size() > query.page_size) {
            const StoredCheckIn& last = page.check_ins.back();
            page.next_page_token =
                EncodeCheckInPageToken(organisation_id, query, {last.time, last.sequence});
          }
        }
        const PgParam params[] = {PgParam::Text(organisation_id),
                                  PgParam::Text(query.key_result_id), PgParam::Int(start),
                                  PgParam::Int(end)};
        OKR_ASSIGN_OR_RETURN(
            PgRows count,
            Run(conn, "count check-ins",
                "SELECT COUNT(*) FROM tracking_check_ins WHERE org = $1::text "
                "AND key_result_id = $2::text AND time_ns >= $3::bigint AND time_ns < $4::bigint",
                params));
        page.total_size = count.size() > 0 ? count.Int(0, 0) : 0;
        return absl::OkStatus();
      },
      // One snapshot for the page and its total.
      PgPool::Isolation::kRepeatableRead));
  return page;
}

absl::StatusOr<StoredReview> PostgresTrackingStore::PutReview(absl::string_view organisation_id,
                                                              const StoredReview& review,
                                                              int64_t expected_version) {
  OKR_RETURN_IF_ERROR(ValidateReviewForPut(organisation_id, review, expected_version));
  OKR_RETURN_IF_ERROR(RequireNoNul(organisation_id, "organisation_id"));
  OKR_RETURN_IF_ERROR(RequireNoNul(review.objective_id, "review.objective_id"));
  OKR_RETURN_IF_ERROR(RequireNoNul(review.cycle_id, "review.cycle_id"));
  StoredReview row;
  OKR_RETURN_IF_ERROR(pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(const int64_t latest, LockSequence(conn, organisation_id));
    // Read under the lock: of two replicas replacing the same version, the
    // second sees the first's and is refused, so no update is lost.
    OKR_ASSIGN_OR_RETURN(std::optional<StoredReview> stored,
                         QueryReview(conn, organisation_id, review.objective_id, review.kind));
    const int64_t stored_version = stored.has_value() ? stored->version : 0;
    if (stored_version != expected_version) {
      return absl::AbortedError(absl::StrCat(
          "version: the ", Name(review.kind), " review of objective '", review.objective_id,
          "' ",
          stored.has_value() ? absl::StrCat("is at version ", stored_version)
                             : std::string("does not exist yet"),
          ", not ", expected_version, expected_version == 0 ? " (0 creates a new one)" : "",
          "; reload it and retry with its version"));
    }
    row = review;
    row.version = expected_version + 1;
    row.sequence = latest + 1;
    const PgParam params[] = {PgParam::Text(organisation_id), PgParam::Int(row.sequence),
                              PgParam::Text(row.objective_id), PgParam::Text(Name(row.kind)),
                              PgParam::Text(row.cycle_id),     PgParam::Int(row.version),
                              PgParam::Bytes(row.body)};
    return Run(conn, "store a review",
               "WITH taken AS (UPDATE tracking_org_sequences SET latest = $2::bigint "
               "WHERE org = $1::text) "
               "INSERT INTO tracking_reviews "
               "(org, objective_id, kind, cycle_id, version, sequence, body) VALUES "
               "($1::text, $3::text, $4::text, $5::text, $6::bigint, $2::bigint, $7::bytea) "
               "ON CONFLICT (org, objective_id, kind) DO UPDATE SET "
               "cycle_id = excluded.cycle_id, version = excluded.version, "
               "sequence = excluded.sequence, body = excluded.body",
               params)
        .status();
  }));
  return row;
}

absl::StatusOr<FrozenCycle> PostgresTrackingStore::FreezeCycle(absl::string_view organisation_id,
                                                               const FrozenCycle& cycle) {
  OKR_RETURN_IF_ERROR(ValidateFrozenCycle(organisation_id, cycle));
  OKR_RETURN_IF_ERROR(RequireNoNul(organisation_id, "organisation_id"));
  OKR_RETURN_IF_ERROR(RequireNoNul(cycle.cycle_id, "cycle.cycle_id"));
  for (size_t i = 0; i < cycle.scores.size(); ++i) {
    OKR_RETURN_IF_ERROR(
        RequireNoNul(cycle.scores[i].id, absl::StrCat("cycle.scores[", i, "].id")));
  }
  FrozenCycle row;
  OKR_RETURN_IF_ERROR(pool_->Transaction([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(const int64_t latest, LockSequence(conn, organisation_id));
    OKR_ASSIGN_OR_RETURN(std::optional<FrozenCycle> first,
                         QueryFrozenCycle(conn, organisation_id, cycle.cycle_id));
    if (first.has_value()) {
      row = *std::move(first);  // frozen once: a retry gets the first freeze
      return absl::OkStatus();
    }
    row = cycle;
    row.freeze_time = FromColumn(ToColumn(cycle.freeze_time));
    row.sequence = latest + 1;
    const PgParam params[] = {PgParam::Text(organisation_id), PgParam::Int(row.sequence),
                              PgParam::Text(row.cycle_id),
                              PgParam::Int(ToColumn(row.freeze_time))};
    OKR_RETURN_IF_ERROR(
        Run(conn, "store a frozen cycle",
            "WITH taken AS (UPDATE tracking_org_sequences SET latest = $2::bigint "
            "WHERE org = $1::text) "
            "INSERT INTO tracking_frozen_cycles (org, cycle_id, sequence, freeze_time_ns) "
            "VALUES ($1::text, $3::text, $2::bigint, $4::bigint)",
            params)
            .status());
    return InsertFrozenScores(conn, organisation_id, row.cycle_id, row.scores);
  }));
  return row;
}

absl::StatusOr<TrackingSnapshot> PostgresTrackingStore::LoadOrganisation(
    absl::string_view organisation_id) {
  TrackingSnapshot snapshot;
  if (absl::StrContains(organisation_id, '\0')) return snapshot;  // never stored
  // One snapshot, so that a write landing in between cannot pair new rows
  // with an old sequence (or the reverse).
  OKR_RETURN_IF_ERROR(pool_->Transaction(
      [&](PgConnection& conn) -> absl::Status {
        snapshot = TrackingSnapshot{};
        OKR_ASSIGN_OR_RETURN(snapshot.latest_sequence,
                             QueryLatestSequence(conn, organisation_id));
        OKR_ASSIGN_OR_RETURN(snapshot.key_results, QueryHistories(conn, organisation_id));
        OKR_ASSIGN_OR_RETURN(snapshot.reviews,
                             QueryReviews(conn, organisation_id, 0, kMaxInt64));
        OKR_ASSIGN_OR_RETURN(snapshot.frozen_cycles,
                             QueryFrozenCycles(conn, organisation_id, 0, kMaxInt64));
        return absl::OkStatus();
      },
      PgPool::Isolation::kRepeatableRead));
  return snapshot;
}

absl::StatusOr<TrackingChanges> PostgresTrackingStore::ChangesAfter(
    absl::string_view organisation_id, int64_t after_sequence, int limit) {
  if (limit <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("limit: must be positive, got ", limit));
  }
  TrackingChanges changes;
  if (absl::StrContains(organisation_id, '\0')) return changes;  // never stored
  OKR_RETURN_IF_ERROR(pool_->Transaction(
      [&](PgConnection& conn) -> absl::Status {
        changes = TrackingChanges{};
        OKR_ASSIGN_OR_RETURN(changes.latest_sequence,
                             QueryLatestSequence(conn, organisation_id));
        // The limit-th write after after_sequence, over all three kinds,
        // bounds the page; without one, everything after it fits.
        int64_t up_to = kMaxInt64;
        {
          const PgParam params[] = {PgParam::Text(organisation_id), PgParam::Int(after_sequence),
                                    PgParam::Int(int64_t{limit} - 1)};
          OKR_ASSIGN_OR_RETURN(
              PgRows bound,
              Run(conn, "bound the changes",
                  "SELECT sequence FROM ("
                  "SELECT sequence FROM tracking_check_ins "
                  "WHERE org = $1::text AND sequence > $2::bigint "
                  "UNION ALL SELECT sequence FROM tracking_reviews "
                  "WHERE org = $1::text AND sequence > $2::bigint "
                  "UNION ALL SELECT sequence FROM tracking_frozen_cycles "
                  "WHERE org = $1::text AND sequence > $2::bigint"
                  ") AS writes ORDER BY sequence LIMIT 1 OFFSET $3::bigint",
                  params));
          if (bound.size() > 0) up_to = bound.Int(0, 0);
        }
        {
          const PgParam params[] = {PgParam::Text(organisation_id), PgParam::Int(after_sequence),
                                    PgParam::Int(up_to)};
          OKR_ASSIGN_OR_RETURN(
              PgRows rows,
              Run(conn, "read check-ins after a sequence",
                  "SELECT " OKR_PG_CHECK_IN_COLUMNS " FROM tracking_check_ins "
                  "WHERE org = $1::text AND sequence > $2::bigint AND sequence <= $3::bigint "
                  "ORDER BY sequence",
                  params));
          changes.check_ins.reserve(rows.size());
          for (int i = 0; i < rows.size(); ++i) changes.check_ins.push_back(ReadCheckIn(rows, i));
        }
        OKR_ASSIGN_OR_RETURN(changes.reviews,
                             QueryReviews(conn, organisation_id, after_sequence, up_to));
        OKR_ASSIGN_OR_RETURN(changes.frozen_cycles,
                             QueryFrozenCycles(conn, organisation_id, after_sequence, up_to));
        return absl::OkStatus();
      },
      PgPool::Isolation::kRepeatableRead));
  return changes;
}

absl::StatusOr<int64_t> PostgresTrackingStore::LatestSequence(
    absl::string_view organisation_id) {
  if (absl::StrContains(organisation_id, '\0')) return 0;  // never stored
  int64_t latest = 0;
  OKR_RETURN_IF_ERROR(pool_->WithConnection([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(latest, QueryLatestSequence(conn, organisation_id));
    return absl::OkStatus();
  }));
  return latest;
}

absl::Status PostgresTrackingStore::CheckHealth() { return pool_->Ping(); }

#undef OKR_PG_CHECK_IN_COLUMNS
#undef OKR_PG_CHECK_IN_COLUMNS_OF
#undef OKR_PG_REVIEW_COLUMNS

}  // namespace okr::tracking
