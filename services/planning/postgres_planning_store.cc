#include "services/planning/postgres_planning_store.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/postgres.h"
#include "common/status_macros.h"
#include "services/planning/sqlite_planning_store.h"

namespace okr::planning {
namespace {

constexpr absl::string_view kMigrationsTable = "planning_schema_migrations";

// Released migrations are never edited; a schema change is a new entry.
const PgMigration kMigrations[] = {
    {1, R"sql(
CREATE TABLE planning_organisations (
  org text PRIMARY KEY,
  latest_sequence bigint NOT NULL CHECK (latest_sequence >= 0)
);
CREATE TABLE planning_resources (
  org text NOT NULL,
  kind text NOT NULL,
  id text NOT NULL,
  version bigint NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (org, kind, id)
);
CREATE TABLE planning_changes (
  org text NOT NULL,
  sequence bigint NOT NULL,
  kind text NOT NULL,
  id text NOT NULL,
  commit_time_unix_nanos bigint NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (org, sequence)
);
CREATE TABLE planning_requests (
  org text NOT NULL,
  method text NOT NULL,
  request_id text NOT NULL,
  fingerprint bytea NOT NULL,
  result_ids bytea NOT NULL,
  create_time_unix_nanos bigint NOT NULL,
  PRIMARY KEY (org, method, request_id)
);
)sql"},
};

// Rows per multi-row INSERT / DELETE: a 10,000-resource import is a handful
// of round trips, far below PostgreSQL's 65,535 parameters per statement.
constexpr size_t kRowsPerStatement = 500;

absl::StatusOr<ResourceKind> KindFromColumn(const std::string& name, absl::string_view table,
                                            absl::string_view org, absl::string_view id) {
  ResourceKind kind = ResourceKind::kUnspecified;
  if (!ParseName(name, &kind)) {
    return absl::DataLossError(absl::StrCat(
        "table ", table, ", organisation '", org, "', id '", id, "': unknown resource kind '",
        name, "'; the database was written by a newer or foreign program"));
  }
  return kind;
}

// "($1, $2, $3), ($4, $5, $6)" for `rows` rows of `columns` parameters,
// numbered from `first`.
std::string Placeholders(size_t rows, size_t columns, size_t first) {
  std::string out;
  size_t n = first;
  for (size_t row = 0; row < rows; ++row) {
    absl::StrAppend(&out, row == 0 ? "(" : ", (");
    for (size_t column = 0; column < columns; ++column) {
      absl::StrAppend(&out, column == 0 ? "$" : ", $", n++);
    }
    absl::StrAppend(&out, ")");
  }
  return out;
}

absl::StatusOr<std::optional<StoredRequest>> QueryRequest(PgConnection& conn,
                                                          absl::string_view org,
                                                          absl::string_view method,
                                                          absl::string_view request_id) {
  OKR_ASSIGN_OR_RETURN(
      PgRows rows,
      conn.Exec("SELECT fingerprint, result_ids, create_time_unix_nanos FROM planning_requests "
                "WHERE org = $1 AND method = $2 AND request_id = $3",
                {PgParam::Text(org), PgParam::Text(method), PgParam::Text(request_id)}));
  if (rows.size() == 0) return std::nullopt;
  StoredRequest request;
  request.method = std::string(method);
  request.request_id = std::string(request_id);
  request.fingerprint = rows.Bytes(0, 0);
  absl::StatusOr<std::vector<Id>> ids = DecodeIdList(rows.Bytes(0, 1));
  if (!ids.ok()) {
    return absl::DataLossError(absl::StrCat("table planning_requests, organisation '", org,
                                            "', method '", method, "', request_id '",
                                            request_id, "': ", ids.status().message()));
  }
  request.result_ids = *std::move(ids);
  request.create_time = absl::FromUnixNanos(rows.Int(0, 2));
  return request;
}

absl::Status ApplyCommit(PgConnection& conn, const PlanCommit& commit) {
  const std::string& org = commit.organisation_id;
  // The organisation's row is the lock every commit of it takes first: a
  // second writer waits here until the first commits, then sees its
  // sequence. ON CONFLICT DO NOTHING lets two first commits of a new
  // organisation race safely (the loser waits on the key, then finds it).
  OKR_RETURN_IF_ERROR(conn.Exec("INSERT INTO planning_organisations (org, latest_sequence) "
                                "VALUES ($1, 0) ON CONFLICT (org) DO NOTHING",
                                {PgParam::Text(org)})
                          .status());
  OKR_ASSIGN_OR_RETURN(PgRows locked,
                       conn.Exec("SELECT latest_sequence FROM planning_organisations "
                                 "WHERE org = $1 FOR UPDATE",
                                 {PgParam::Text(org)}));
  const int64_t latest = locked.size() == 0 ? 0 : locked.Int(0, 0);
  if (latest != commit.base_sequence) {
    return absl::AbortedError(absl::StrCat(
        "organisation '", org, "': the commit was built on sequence ", commit.base_sequence,
        " but the store is at ", latest, "; another writer committed first: reload and retry"));
  }
  if (commit.request.has_value()) {
    OKR_ASSIGN_OR_RETURN(
        std::optional<StoredRequest> recorded,
        QueryRequest(conn, org, commit.request->method, commit.request->request_id));
    if (recorded.has_value()) {
      return absl::AlreadyExistsError(absl::StrCat("organisation '", org, "': request_id '",
                                                   commit.request->request_id,
                                                   "' was already used for ",
                                                   commit.request->method));
    }
  }

  // The last put of a (kind, id) wins, as if applied one by one; one
  // multi-row upsert may not touch a row twice.
  std::map<std::pair<ResourceKind, Id>, const StoredResource*> puts;
  for (const StoredResource& resource : commit.puts) {
    puts[{resource.kind, resource.id}] = &resource;
  }
  std::vector<const StoredResource*> ordered;
  ordered.reserve(puts.size());
  for (const auto& [key, resource] : puts) ordered.push_back(resource);
  for (size_t start = 0; start < ordered.size(); start += kRowsPerStatement) {
    const size_t count = std::min(kRowsPerStatement, ordered.size() - start);
    std::vector<PgParam> params = {PgParam::Text(org)};
    for (size_t i = start; i < start + count; ++i) {
      params.push_back(PgParam::Text(Name(ordered[i]->kind)));
      params.push_back(PgParam::Text(ordered[i]->id));
      params.push_back(PgParam::Int(ordered[i]->version));
      params.push_back(PgParam::Bytes(ordered[i]->body));
    }
    OKR_RETURN_IF_ERROR(
        conn.Exec(absl::StrCat("INSERT INTO planning_resources (org, kind, id, version, body) "
                               "SELECT $1, v.kind, v.id, v.version::bigint, v.body::bytea "
                               "FROM (VALUES ",
                               Placeholders(count, 4, 2),
                               ") AS v (kind, id, version, body) "
                               "ON CONFLICT (org, kind, id) DO UPDATE SET "
                               "version = excluded.version, body = excluded.body"),
                  params)
            .status());
  }

  for (size_t start = 0; start < commit.deletes.size(); start += kRowsPerStatement) {
    const size_t count = std::min(kRowsPerStatement, commit.deletes.size() - start);
    std::vector<PgParam> params = {PgParam::Text(org)};
    for (size_t i = start; i < start + count; ++i) {
      params.push_back(PgParam::Text(Name(commit.deletes[i].first)));
      params.push_back(PgParam::Text(commit.deletes[i].second));
    }
    OKR_RETURN_IF_ERROR(conn.Exec(absl::StrCat("DELETE FROM planning_resources WHERE org = $1 "
                                               "AND (kind, id) IN (",
                                               Placeholders(count, 2, 2), ")"),
                                  params)
                            .status());
  }

  for (size_t start = 0; start < commit.changes.size(); start += kRowsPerStatement) {
    const size_t count = std::min(kRowsPerStatement, commit.changes.size() - start);
    std::vector<PgParam> params = {PgParam::Text(org)};
    for (size_t i = start; i < start + count; ++i) {
      const StoredChange& change = commit.changes[i];
      params.push_back(PgParam::Int(change.sequence));
      params.push_back(PgParam::Text(Name(change.kind)));
      params.push_back(PgParam::Text(change.id));
      params.push_back(PgParam::Int(absl::ToUnixNanos(change.commit_time)));
      params.push_back(PgParam::Bytes(change.body));
    }
    OKR_RETURN_IF_ERROR(
        conn.Exec(absl::StrCat("INSERT INTO planning_changes "
                               "(org, sequence, kind, id, commit_time_unix_nanos, body) "
                               "SELECT $1, v.sequence::bigint, v.kind, v.id, "
                               "v.nanos::bigint, v.body::bytea FROM (VALUES ",
                               Placeholders(count, 5, 2),
                               ") AS v (sequence, kind, id, nanos, body)"),
                  params)
            .status());
  }

  if (commit.request.has_value()) {
    const StoredRequest& request = *commit.request;
    OKR_RETURN_IF_ERROR(
        conn.Exec("INSERT INTO planning_requests (org, method, request_id, fingerprint, "
                  "result_ids, create_time_unix_nanos) VALUES ($1, $2, $3, $4, $5, $6)",
                  {PgParam::Text(org), PgParam::Text(request.method),
                   PgParam::Text(request.request_id), PgParam::Bytes(request.fingerprint),
                   PgParam::Bytes(EncodeIdList(request.result_ids)),
                   PgParam::Int(absl::ToUnixNanos(request.create_time))})
            .status());
  }

  if (!commit.changes.empty()) {
    OKR_RETURN_IF_ERROR(
        conn.Exec("UPDATE planning_organisations SET latest_sequence = $2 WHERE org = $1",
                  {PgParam::Text(org), PgParam::Int(commit.changes.back().sequence)})
            .status());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresPlanningStore>> PostgresPlanningStore::Open(
    PgPoolOptions options) {
  OKR_ASSIGN_OR_RETURN(std::unique_ptr<PgPool> pool, PgPool::Open(std::move(options)));
  OKR_RETURN_IF_ERROR(PgMigrate(*pool, kMigrationsTable, kMigrations));
  return std::unique_ptr<PostgresPlanningStore>(new PostgresPlanningStore(std::move(pool)));
}

PostgresPlanningStore::PostgresPlanningStore(std::unique_ptr<PgPool> pool)
    : pool_(std::move(pool)) {}

PostgresPlanningStore::~PostgresPlanningStore() = default;

absl::StatusOr<StoredOrganisation> PostgresPlanningStore::LoadOrganisation(
    absl::string_view organisation_id) {
  StoredOrganisation org;
  // One snapshot for the rows and the sequence, so that a commit landing in
  // between cannot pair new rows with an old sequence (or the reverse).
  OKR_RETURN_IF_ERROR(pool_->Transaction(
      [&](PgConnection& conn) -> absl::Status {
        org = StoredOrganisation();
        OKR_ASSIGN_OR_RETURN(
            PgRows rows,
            conn.Exec("SELECT kind, id, version, body FROM planning_resources WHERE org = $1",
                      {PgParam::Text(organisation_id)}));
        org.resources.reserve(rows.size());
        for (int i = 0; i < rows.size(); ++i) {
          StoredResource resource;
          resource.id = rows.Text(i, 1);
          OKR_ASSIGN_OR_RETURN(resource.kind, KindFromColumn(rows.Text(i, 0),
                                                             "planning_resources",
                                                             organisation_id, resource.id));
          resource.version = rows.Int(i, 2);
          resource.body = rows.Bytes(i, 3);
          org.resources.push_back(std::move(resource));
        }
        OKR_ASSIGN_OR_RETURN(PgRows latest,
                             conn.Exec("SELECT latest_sequence FROM planning_organisations "
                                       "WHERE org = $1",
                                       {PgParam::Text(organisation_id)}));
        org.latest_sequence = latest.size() == 0 ? 0 : latest.Int(0, 0);
        return absl::OkStatus();
      },
      PgPool::Isolation::kRepeatableRead));
  return org;
}

absl::StatusOr<std::vector<Id>> PostgresPlanningStore::ListOrganisationIds() {
  std::vector<Id> ids;
  OKR_RETURN_IF_ERROR(pool_->WithConnection([&](PgConnection& conn) -> absl::Status {
    // COLLATE "C" compares bytes, like std::string, whatever the database's
    // locale.
    OKR_ASSIGN_OR_RETURN(PgRows rows, conn.Exec("SELECT DISTINCT org COLLATE \"C\" AS org "
                                                "FROM planning_resources ORDER BY 1"));
    for (int i = 0; i < rows.size(); ++i) ids.push_back(rows.Text(i, 0));
    return absl::OkStatus();
  }));
  return ids;
}

absl::Status PostgresPlanningStore::Commit(const PlanCommit& commit) {
  OKR_RETURN_IF_ERROR(ValidatePlanCommit(commit));
  return pool_->Transaction(
      [&commit](PgConnection& conn) { return ApplyCommit(conn, commit); });
}

absl::StatusOr<int64_t> PostgresPlanningStore::LatestSequence(
    absl::string_view organisation_id) {
  int64_t latest = 0;
  OKR_RETURN_IF_ERROR(pool_->WithConnection([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(
        PgRows rows,
        conn.Exec("SELECT latest_sequence FROM planning_organisations WHERE org = $1",
                  {PgParam::Text(organisation_id)}));
    latest = rows.size() == 0 ? 0 : rows.Int(0, 0);
    return absl::OkStatus();
  }));
  return latest;
}

absl::StatusOr<std::vector<StoredChange>> PostgresPlanningStore::ListChanges(
    absl::string_view organisation_id, int64_t after_sequence, int limit) {
  if (limit <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("limit: must be positive, got ", limit));
  }
  std::vector<StoredChange> changes;
  OKR_RETURN_IF_ERROR(pool_->WithConnection([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(
        PgRows rows,
        conn.Exec("SELECT sequence, kind, id, commit_time_unix_nanos, body FROM "
                  "planning_changes WHERE org = $1 AND sequence > $2 ORDER BY sequence "
                  "LIMIT $3",
                  {PgParam::Text(organisation_id), PgParam::Int(after_sequence),
                   PgParam::Int(limit)}));
    changes.reserve(rows.size());
    for (int i = 0; i < rows.size(); ++i) {
      StoredChange change;
      change.sequence = rows.Int(i, 0);
      change.id = rows.Text(i, 2);
      OKR_ASSIGN_OR_RETURN(change.kind, KindFromColumn(rows.Text(i, 1), "planning_changes",
                                                       organisation_id, change.id));
      change.commit_time = absl::FromUnixNanos(rows.Int(i, 3));
      change.body = rows.Bytes(i, 4);
      changes.push_back(std::move(change));
    }
    return absl::OkStatus();
  }));
  return changes;
}

absl::StatusOr<std::optional<StoredRequest>> PostgresPlanningStore::FindRequest(
    absl::string_view organisation_id, absl::string_view method,
    absl::string_view request_id) {
  std::optional<StoredRequest> found;
  OKR_RETURN_IF_ERROR(pool_->WithConnection([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(found, QueryRequest(conn, organisation_id, method, request_id));
    return absl::OkStatus();
  }));
  return found;
}

absl::Status PostgresPlanningStore::CheckHealth() { return pool_->Ping(); }

}  // namespace okr::planning
