#include "services/planning/sqlite_planning_store.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace okr::planning {
namespace {

// Released migrations are never edited; a schema change is a new entry.
constexpr Migration kMigrations[] = {
    {1, "planning store",
     R"sql(
CREATE TABLE resources (
  org TEXT NOT NULL,
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (org, kind, id)
) STRICT;
CREATE TABLE plan_changes (
  org TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  commit_time INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (org, sequence)
) STRICT;
CREATE TABLE requests (
  org TEXT NOT NULL,
  method TEXT NOT NULL,
  request_id TEXT NOT NULL,
  fingerprint BLOB NOT NULL,
  result_ids BLOB NOT NULL,
  create_time INTEGER NOT NULL,
  PRIMARY KEY (org, method, request_id)
) STRICT;
)sql"},
};

constexpr absl::string_view kLatestSequenceSql =
    "SELECT COALESCE(MAX(sequence), 0) FROM plan_changes WHERE org = ?1";

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

absl::StatusOr<ResourceKind> KindFromColumn(const std::string& name,
                                            absl::string_view table,
                                            absl::string_view org,
                                            absl::string_view id) {
  ResourceKind kind = ResourceKind::kUnspecified;
  if (!ParseName(name, &kind)) {
    return absl::DataLossError(absl::StrCat(
        "table ", table, ", organisation '", org, "', id '", id,
        "': unknown resource kind '", name,
        "'; the database was written by a newer or foreign program"));
  }
  return kind;
}

absl::StatusOr<int64_t> QueryLatestSequence(SqliteDb& db,
                                            absl::string_view org) {
  OKR_ASSIGN_OR_RETURN(Statement * query, db.Cached(kLatestSequenceSql));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, org));
  OKR_ASSIGN_OR_RETURN(bool row, query->Step());
  return row ? query->ColumnInt64(0) : 0;
}

absl::StatusOr<std::optional<StoredRequest>> QueryRequest(
    SqliteDb& db, absl::string_view org, absl::string_view method,
    absl::string_view request_id) {
  OKR_ASSIGN_OR_RETURN(
      Statement * query,
      db.Cached("SELECT fingerprint, result_ids, create_time FROM requests "
                "WHERE org = ?1 AND method = ?2 AND request_id = ?3"));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, org));
  OKR_RETURN_IF_ERROR(query->BindText(2, method));
  OKR_RETURN_IF_ERROR(query->BindText(3, request_id));
  OKR_ASSIGN_OR_RETURN(bool row, query->Step());
  if (!row) return std::nullopt;
  StoredRequest request;
  request.method = std::string(method);
  request.request_id = std::string(request_id);
  request.fingerprint = query->ColumnBlob(0);
  absl::StatusOr<std::vector<Id>> ids = DecodeIdList(query->ColumnBlob(1));
  if (!ids.ok()) {
    return absl::DataLossError(absl::StrCat(
        "table requests, organisation '", org, "', method '", method,
        "', request_id '", request_id, "': ", ids.status().message()));
  }
  request.result_ids = *std::move(ids);
  request.create_time = FromColumn(query->ColumnInt64(2));
  return request;
}

absl::Status ApplyCommit(SqliteDb& db, const PlanCommit& commit) {
  const std::string& org = commit.organisation_id;
  OKR_ASSIGN_OR_RETURN(int64_t latest, QueryLatestSequence(db, org));
  if (latest != commit.base_sequence) {
    return absl::AbortedError(absl::StrCat(
        "organisation '", org, "': the commit was built on sequence ",
        commit.base_sequence, " but the store is at ", latest,
        "; another writer committed first: reload and retry"));
  }
  if (commit.request.has_value()) {
    OKR_ASSIGN_OR_RETURN(std::optional<StoredRequest> recorded,
                         QueryRequest(db, org, commit.request->method,
                                      commit.request->request_id));
    if (recorded.has_value()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "organisation '", org, "': request_id '",
          commit.request->request_id, "' was already used for ",
          commit.request->method));
    }
  }

  OKR_ASSIGN_OR_RETURN(
      Statement * put,
      db.Cached("INSERT INTO resources (org, kind, id, version, body) "
                "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (org, kind, id) "
                "DO UPDATE SET version = excluded.version, body = excluded.body"));
  for (const StoredResource& resource : commit.puts) {
    ResetOnExit reset(put);
    OKR_RETURN_IF_ERROR(put->BindText(1, org));
    OKR_RETURN_IF_ERROR(put->BindText(2, Name(resource.kind)));
    OKR_RETURN_IF_ERROR(put->BindText(3, resource.id));
    OKR_RETURN_IF_ERROR(put->BindInt64(4, resource.version));
    OKR_RETURN_IF_ERROR(put->BindBlob(5, resource.body));
    OKR_RETURN_IF_ERROR(put->Run());
  }

  OKR_ASSIGN_OR_RETURN(
      Statement * remove,
      db.Cached("DELETE FROM resources WHERE org = ?1 AND kind = ?2 AND id = ?3"));
  for (const auto& [kind, id] : commit.deletes) {
    ResetOnExit reset(remove);
    OKR_RETURN_IF_ERROR(remove->BindText(1, org));
    OKR_RETURN_IF_ERROR(remove->BindText(2, Name(kind)));
    OKR_RETURN_IF_ERROR(remove->BindText(3, id));
    OKR_RETURN_IF_ERROR(remove->Run());
  }

  OKR_ASSIGN_OR_RETURN(
      Statement * append,
      db.Cached("INSERT INTO plan_changes "
                "(org, sequence, kind, id, commit_time, body) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  for (const StoredChange& change : commit.changes) {
    ResetOnExit reset(append);
    OKR_RETURN_IF_ERROR(append->BindText(1, org));
    OKR_RETURN_IF_ERROR(append->BindInt64(2, change.sequence));
    OKR_RETURN_IF_ERROR(append->BindText(3, Name(change.kind)));
    OKR_RETURN_IF_ERROR(append->BindText(4, change.id));
    OKR_RETURN_IF_ERROR(append->BindInt64(5, ToColumn(change.commit_time)));
    OKR_RETURN_IF_ERROR(append->BindBlob(6, change.body));
    OKR_RETURN_IF_ERROR(append->Run());
  }

  if (commit.request.has_value()) {
    const StoredRequest& request = *commit.request;
    OKR_ASSIGN_OR_RETURN(
        Statement * record,
        db.Cached("INSERT INTO requests (org, method, request_id, fingerprint, "
                  "result_ids, create_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    ResetOnExit reset(record);
    OKR_RETURN_IF_ERROR(record->BindText(1, org));
    OKR_RETURN_IF_ERROR(record->BindText(2, request.method));
    OKR_RETURN_IF_ERROR(record->BindText(3, request.request_id));
    OKR_RETURN_IF_ERROR(record->BindBlob(4, request.fingerprint));
    OKR_RETURN_IF_ERROR(record->BindBlob(5, EncodeIdList(request.result_ids)));
    OKR_RETURN_IF_ERROR(record->BindInt64(6, ToColumn(request.create_time)));
    OKR_RETURN_IF_ERROR(record->Run());
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------
// result_ids encoding

std::string EncodeIdList(const std::vector<Id>& ids) {
  std::string out;
  for (const Id& id : ids) absl::StrAppend(&out, id.size(), ":", id);
  return out;
}

absl::StatusOr<std::vector<Id>> DecodeIdList(absl::string_view encoded) {
  std::vector<Id> ids;
  absl::string_view rest = encoded;
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    // A length has at most 10 digits: no id in a request comes near 10 GB.
    if (colon == absl::string_view::npos || colon == 0 || colon > 10) {
      return absl::DataLossError(absl::StrCat(
          "result_ids: expected '<length>:' at byte ",
          encoded.size() - rest.size(), " of a ", encoded.size(),
          "-byte list"));
    }
    uint64_t length = 0;
    absl::string_view digits = rest.substr(0, colon);
    bool all_digits = true;
    for (char c : digits) all_digits = all_digits && c >= '0' && c <= '9';
    if (!all_digits || !absl::SimpleAtoi(digits, &length) ||
        length > rest.size() - colon - 1) {
      return absl::DataLossError(absl::StrCat(
          "result_ids: bad length '", digits, "' at byte ",
          encoded.size() - rest.size(), " of a ", encoded.size(),
          "-byte list"));
    }
    rest.remove_prefix(colon + 1);
    ids.emplace_back(rest.substr(0, length));
    rest.remove_prefix(length);
  }
  return ids;
}

// ---------------------------------------------------------------------------
// SqlitePlanningStore

absl::StatusOr<std::unique_ptr<SqlitePlanningStore>> SqlitePlanningStore::Open(
    absl::string_view path, const SqlitePlanningStoreOptions& options) {
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "path: the SQLite planning store needs a file path");
  }
  if (path == ":memory:") {
    return absl::InvalidArgumentError(
        "path: \":memory:\" is refused: the plan must survive a restart, and "
        "each connection would see its own empty database; give a file path");
  }
  if (options.reader_connections < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reader_connections: must be at least 1, got ",
        options.reader_connections));
  }
  SqliteOptions sqlite;
  sqlite.durability = options.durability;
  sqlite.busy_timeout = options.busy_timeout;

  OKR_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> writer,
                       SqliteDb::Open(path, sqlite));
  OKR_RETURN_IF_ERROR(Migrate(*writer, kMigrations).status());
  std::vector<std::unique_ptr<SqliteDb>> readers;
  for (int i = 0; i < options.reader_connections; ++i) {
    OKR_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> reader,
                         SqliteDb::Open(path, sqlite));
    readers.push_back(std::move(reader));
  }
  return std::unique_ptr<SqlitePlanningStore>(new SqlitePlanningStore(
      std::string(path), options, std::move(writer), std::move(readers)));
}

SqlitePlanningStore::SqlitePlanningStore(
    std::string path, SqlitePlanningStoreOptions options,
    std::unique_ptr<SqliteDb> writer,
    std::vector<std::unique_ptr<SqliteDb>> readers)
    : path_(std::move(path)),
      options_(options),
      writer_(std::move(writer)),
      readers_(std::move(readers)) {}

SqlitePlanningStore::~SqlitePlanningStore() = default;

absl::StatusOr<StoredOrganisation> SqlitePlanningStore::LoadOrganisation(
    absl::string_view organisation_id) {
  SqliteConnectionPool::Lease lease(&readers_);
  SqliteDb& db = lease.db();
  // One snapshot for the rows and the sequence, so that a commit landing in
  // between cannot pair new rows with an old sequence (or the reverse).
  OKR_ASSIGN_OR_RETURN(Transaction txn,
                       Transaction::Begin(db, Transaction::Mode::kDeferred));
  StoredOrganisation org;
  {
    OKR_ASSIGN_OR_RETURN(
        Statement * query,
        db.Cached("SELECT kind, id, version, body FROM resources WHERE org = ?1"));
    ResetOnExit reset(query);
    OKR_RETURN_IF_ERROR(query->BindText(1, organisation_id));
    while (true) {
      OKR_ASSIGN_OR_RETURN(bool row, query->Step());
      if (!row) break;
      StoredResource resource;
      resource.id = query->ColumnText(1);
      OKR_ASSIGN_OR_RETURN(resource.kind,
                           KindFromColumn(query->ColumnText(0), "resources",
                                          organisation_id, resource.id));
      resource.version = query->ColumnInt64(2);
      resource.body = query->ColumnBlob(3);
      org.resources.push_back(std::move(resource));
    }
  }
  OKR_ASSIGN_OR_RETURN(org.latest_sequence,
                       QueryLatestSequence(db, organisation_id));
  OKR_RETURN_IF_ERROR(txn.Commit());
  return org;
}

absl::StatusOr<std::vector<Id>> SqlitePlanningStore::ListOrganisationIds() {
  SqliteConnectionPool::Lease lease(&readers_);
  // BINARY collation compares bytes like std::string does.
  OKR_ASSIGN_OR_RETURN(
      Statement * query,
      lease.db().Cached("SELECT DISTINCT org FROM resources ORDER BY org"));
  ResetOnExit reset(query);
  std::vector<Id> ids;
  while (true) {
    OKR_ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    ids.push_back(query->ColumnText(0));
  }
  return ids;
}

absl::Status SqlitePlanningStore::Commit(const PlanCommit& commit) {
  OKR_RETURN_IF_ERROR(ValidatePlanCommit(commit));
  absl::MutexLock lock(&writer_mu_);
  // IMMEDIATE takes the write lock before the base-sequence check, so no
  // other process can commit between the check and our writes.
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*writer_));
  OKR_RETURN_IF_ERROR(ApplyCommit(*writer_, commit));
  return txn.Commit();
}

absl::StatusOr<int64_t> SqlitePlanningStore::LatestSequence(
    absl::string_view organisation_id) {
  SqliteConnectionPool::Lease lease(&readers_);
  return QueryLatestSequence(lease.db(), organisation_id);
}

absl::StatusOr<std::vector<StoredChange>> SqlitePlanningStore::ListChanges(
    absl::string_view organisation_id, int64_t after_sequence, int limit) {
  if (limit <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: must be positive, got ", limit));
  }
  SqliteConnectionPool::Lease lease(&readers_);
  OKR_ASSIGN_OR_RETURN(
      Statement * query,
      lease.db().Cached(
          "SELECT sequence, kind, id, commit_time, body FROM plan_changes "
          "WHERE org = ?1 AND sequence > ?2 ORDER BY sequence LIMIT ?3"));
  ResetOnExit reset(query);
  OKR_RETURN_IF_ERROR(query->BindText(1, organisation_id));
  OKR_RETURN_IF_ERROR(query->BindInt64(2, after_sequence));
  OKR_RETURN_IF_ERROR(query->BindInt64(3, limit));
  std::vector<StoredChange> changes;
  while (true) {
    OKR_ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    StoredChange change;
    change.sequence = query->ColumnInt64(0);
    change.id = query->ColumnText(2);
    OKR_ASSIGN_OR_RETURN(change.kind,
                         KindFromColumn(query->ColumnText(1), "plan_changes",
                                        organisation_id, change.id));
    change.commit_time = FromColumn(query->ColumnInt64(3));
    change.body = query->ColumnBlob(4);
    changes.push_back(std::move(change));
  }
  return changes;
}

absl::StatusOr<std::optional<StoredRequest>> SqlitePlanningStore::FindRequest(
    absl::string_view organisation_id, absl::string_view method,
    absl::string_view request_id) {
  SqliteConnectionPool::Lease lease(&readers_);
  return QueryRequest(lease.db(), organisation_id, method, request_id);
}

absl::Status SqlitePlanningStore::CheckHealth() {
  SqliteConnectionPool::Lease lease(&readers_);
  return CheckSqliteHealth(lease.db());
}

}  // namespace okr::planning
