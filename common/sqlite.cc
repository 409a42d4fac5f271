#include "common/sqlite.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace okr {
namespace {

constexpr absl::string_view kMigrationsTable = "schema_migrations";

// Keeps messages readable when a statement is long (a whole migration).
std::string Abbreviate(absl::string_view sql) {
  std::string flat(absl::StripAsciiWhitespace(sql));
  for (char& c : flat) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  }
  constexpr size_t kMax = 80;
  if (flat.size() > kMax) flat = absl::StrCat(flat.substr(0, kMax), "...");
  return flat;
}

absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
          rc == SQLITE_CONSTRAINT_ROWID) {
        return absl::StatusCode::kAlreadyExists;
      }
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::StatusCode::kPermissionDenied;
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
      return absl::StatusCode::kInvalidArgument;
    case SQLITE_INTERRUPT:
      return absl::StatusCode::kCancelled;
    default:
      return absl::StatusCode::kInternal;
  }
}

// A hint a person can act on, for the codes whose SQLite text alone is terse.
absl::string_view HintFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "another connection holds the lock past the busy timeout; retry";
    case SQLITE_READONLY:
      return "the database is read-only (opened read-only, file or directory "
             "not writable, or a read-only mount)";
    case SQLITE_FULL:
      return "the disk is full";
    case SQLITE_IOERR:
      return "disk I/O error; check the volume";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "the file is not a healthy SQLite database; restore a backup";
    case SQLITE_CANTOPEN:
      return "check that the directory exists and is writable";
    default:
      return "";
  }
}

// Checks that nothing but whitespace follows the first statement.
bool OnlyWhitespace(const char* begin, const char* end) {
  for (const char* p = begin; p < end; ++p) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(*p)) && *p != ';') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::Status SqliteStatus(int rc, sqlite3* db, absl::string_view context) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) {
    return absl::OkStatus();
  }
  std::string message(context);
  absl::string_view generic = sqlite3_errstr(rc);
  absl::string_view specific = db != nullptr ? sqlite3_errmsg(db) : generic;
  absl::StrAppend(&message, ": ", specific);
  if (specific != generic) absl::StrAppend(&message, " (", generic, ")");
  absl::string_view hint = HintFor(rc);
  if (!hint.empty()) absl::StrAppend(&message, "; ", hint);
  absl::StrAppend(&message, " [sqlite code ", rc, "]");
  return absl::Status(CodeFor(rc), message);
}

// ---------------------------------------------------------------------------
// Statement

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

absl::Status Statement::BindResult(int rc, int index, absl::string_view what) {
  if (rc == SQLITE_OK) return absl::OkStatus();
  return SqliteStatus(rc, db_,
                      absl::StrCat("binding ", what, " to parameter ", index,
                                   " of \"", Abbreviate(Sql()), "\""));
}

absl::Status Statement::BindInt64(int index, int64_t value) {
  return BindResult(sqlite3_bind_int64(stmt_, index, value), index, "an integer");
}

absl::Status Statement::BindDouble(int index, double value) {
  return BindResult(sqlite3_bind_double(stmt_, index, value), index, "a double");
}

absl::Status Statement::BindText(int index, absl::string_view value) {
  // sqlite3_bind_text64 keeps the length, so NULs inside `value` survive;
  // a null data pointer would bind NULL, hence the "" for an empty view.
  const char* data = value.data() != nullptr ? value.data() : "";
  return BindResult(sqlite3_bind_text64(stmt_, index, data, value.size(),
                                        SQLITE_TRANSIENT, SQLITE_UTF8),
                    index, "text");
}

absl::Status Statement::BindBlob(int index, absl::string_view bytes) {
  const char* data = bytes.data() != nullptr ? bytes.data() : "";
  return BindResult(
      sqlite3_bind_blob64(stmt_, index, data, bytes.size(), SQLITE_TRANSIENT),
      index, "a blob");
}

absl::Status Statement::BindNull(int index) {
  return BindResult(sqlite3_bind_null(stmt_, index), index, "NULL");
}

absl::StatusOr<int> Statement::ParameterIndex(absl::string_view name) const {
  std::string terminated(name);
  int index = sqlite3_bind_parameter_index(stmt_, terminated.c_str());
  if (index == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("no parameter named \"", name, "\" in \"",
                     Abbreviate(Sql()),
                     "\" (names include their prefix, e.g. \":id\")"));
  }
  return index;
}

absl::Status Statement::BindInt64(absl::string_view name, int64_t value) {
  OKR_ASSIGN_OR_RETURN(int index, ParameterIndex(name));
  return BindInt64(index, value);
}

absl::Status Statement::BindDouble(absl::string_view name, double value) {
  OKR_ASSIGN_OR_RETURN(int index, ParameterIndex(name));
  return BindDouble(index, value);
}

absl::Status Statement::BindText(absl::string_view name,
                                 absl::string_view value) {
  OKR_ASSIGN_OR_RETURN(int index, ParameterIndex(name));
  return BindText(index, value);
}

absl::Status Statement::BindBlob(absl::string_view name,
                                 absl::string_view bytes) {
  OKR_ASSIGN_OR_RETURN(int index, ParameterIndex(name));
  return BindBlob(index, bytes);
}

absl::Status Statement::BindNull(absl::string_view name) {
  OKR_ASSIGN_OR_RETURN(int index, ParameterIndex(name));
  return BindNull(index);
}

absl::StatusOr<bool> Statement::Step() {
  if (stmt_ == nullptr) {
    return absl::FailedPreconditionError("Step() on an empty Statement");
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(rc, db_, absl::StrCat("running \"", Abbreviate(Sql()), "\""));
}

absl::Status Statement::Run() {
  while (true) {
    OKR_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }

std::string Statement::ColumnName(int column) const {
  const char* name = sqlite3_column_name(stmt_, column);
  return name != nullptr ? std::string(name) : std::string();
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::ColumnDouble(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string Statement::ColumnText(int column) const {
  // The pointer first, then the length: that order is what SQLite documents
  // as safe when a type conversion happens.
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return std::string();
  int size = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(size));
}

std::string Statement::ColumnBlob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  if (blob == nullptr) return std::string();
  int size = sqlite3_column_bytes(stmt_, column);
  return std::string(static_cast<const char*>(blob), static_cast<size_t>(size));
}

void Statement::Reset() {
  // sqlite3_reset repeats the error of the last Step(), already reported.
  if (stmt_ != nullptr) sqlite3_reset(stmt_);
}

void Statement::ClearBindings() {
  if (stmt_ != nullptr) sqlite3_clear_bindings(stmt_);
}

std::string Statement::Sql() const {
  const char* sql = stmt_ != nullptr ? sqlite3_sql(stmt_) : nullptr;
  return sql != nullptr ? std::string(sql) : std::string();
}

// ---------------------------------------------------------------------------
// SqliteDb

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(
    absl::string_view path, const SqliteOptions& options) {
  std::string file(path);
  const bool in_memory = file == ":memory:" || file.empty();
  if (!in_memory && (options.read_only || !options.create_if_missing)) {
    struct stat st;
    if (stat(file.c_str(), &st) != 0) {
      return absl::NotFoundError(absl::StrCat(
          "SQLite database \"", file, "\" does not exist and ",
          options.read_only ? "was opened read-only"
                            : "create_if_missing is false"));
    }
  }
  // NOMUTEX: multi-thread mode; the class contract already forbids sharing a
  // connection between threads without a caller-held mutex.
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (!options.read_only && options.create_if_missing) flags |= SQLITE_OPEN_CREATE;

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status =
        SqliteStatus(rc, raw, absl::StrCat("opening SQLite database \"", file, "\""));
    sqlite3_close_v2(raw);  // a handle is returned even on failure
    return status;
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, file, options));

  int64_t busy_ms = absl::ToInt64Milliseconds(options.busy_timeout);
  if (busy_ms > INT_MAX) busy_ms = INT_MAX;
  sqlite3_busy_timeout(raw, busy_ms < 0 ? 0 : static_cast<int>(busy_ms));

  if (!options.read_only && !in_memory) {
    // journal_mode answers with the mode in force; anything but "wal" means
    // the file system refused WAL (e.g. no shared memory), which we do not
    // silently accept because readers would then block writers.
    OKR_ASSIGN_OR_RETURN(Statement journal, db->Prepare("PRAGMA journal_mode=WAL"));
    OKR_ASSIGN_OR_RETURN(bool row, journal.Step());
    std::string mode = row ? absl::AsciiStrToLower(journal.ColumnText(0)) : "";
    if (mode != "wal") {
      return absl::FailedPreconditionError(absl::StrCat(
          "SQLite database \"", file, "\" could not switch to WAL (mode is \"",
          mode, "\"); is it on a network or read-only file system?"));
    }
  }
  OKR_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  OKR_RETURN_IF_ERROR(db->Exec(options.durability == SqliteDurability::kPowerLoss
                                   ? "PRAGMA synchronous=FULL"
                                   : "PRAGMA synchronous=NORMAL"));
  // Reading the file header now turns "not a database" into an Open() error
  // instead of a surprise at the first query.
  OKR_RETURN_IF_ERROR(db->Exec("SELECT count(*) FROM sqlite_master"));
  return db;
}

SqliteDb::~SqliteDb() {
  cache_.clear();  // statements must be finalized before the connection
  sqlite3_close_v2(db_);
}

absl::Status SqliteDb::Exec(absl::string_view sql) {
  std::string terminated(sql);
  int rc = sqlite3_exec(db_, terminated.c_str(), nullptr, nullptr, nullptr);
  return SqliteStatus(rc, db_, absl::StrCat("running \"", Abbreviate(sql), "\""));
}

absl::StatusOr<Statement> SqliteDb::Prepare(absl::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  if (sql.size() > INT_MAX) {
    return absl::InvalidArgumentError("SQL text longer than 2 GiB");
  }
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()),
                              &stmt, &tail);
  if (rc != SQLITE_OK) {
    return SqliteStatus(rc, db_,
                        absl::StrCat("preparing \"", Abbreviate(sql), "\""));
  }
  Statement statement(db_, stmt);
  if (stmt == nullptr) {
    return absl::InvalidArgumentError("Prepare(): the SQL text holds no statement");
  }
  if (tail != nullptr && !OnlyWhitespace(tail, sql.data() + sql.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("Prepare(): \"", Abbreviate(sql),
                     "\" holds more than one statement; use Exec() for scripts"));
  }
  return statement;
}

absl::StatusOr<Statement*> SqliteDb::Cached(absl::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    OKR_ASSIGN_OR_RETURN(Statement statement, Prepare(sql));
    it = cache_
             .emplace(std::string(sql),
                      std::make_unique<Statement>(std::move(statement)))
             .first;
  }
  Statement* statement = it->second.get();
  statement->Reset();
  statement->ClearBindings();
  return statement;
}

int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }

int64_t SqliteDb::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

bool SqliteDb::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

// ---------------------------------------------------------------------------
// Transaction

absl::StatusOr<Transaction> Transaction::Begin(SqliteDb& db, Mode mode) {
  if (db.InTransaction()) {
    return absl::FailedPreconditionError(
        "a transaction is already open on this connection (SQLite has no "
        "nested BEGIN)");
  }
  OKR_RETURN_IF_ERROR(
      db.Exec(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() { Rollback().IgnoreError(); }

absl::Status Transaction::Commit() {
  if (db_ == nullptr) {
    return absl::FailedPreconditionError("the transaction is already finished");
  }
  SqliteDb* db = std::exchange(db_, nullptr);
  absl::Status status = db->Exec("COMMIT");
  // SQLite keeps the transaction open after some COMMIT failures (e.g. BUSY)
  // and rolls it back itself after others (e.g. FULL); end it either way.
  if (!status.ok() && db->InTransaction()) db->Exec("ROLLBACK").IgnoreError();
  return status;
}

absl::Status Transaction::Rollback() {
  if (db_ == nullptr) return absl::OkStatus();
  SqliteDb* db = std::exchange(db_, nullptr);
  // An I/O error or a full disk may already have rolled the transaction back.
  if (!db->InTransaction()) return absl::OkStatus();
  return db->Exec("ROLLBACK");
}

// ---------------------------------------------------------------------------
// Migrations

namespace {

absl::StatusOr<bool> MigrationsTableExists(SqliteDb& db) {
  OKR_ASSIGN_OR_RETURN(
      Statement query,
      db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1"));
  OKR_RETURN_IF_ERROR(query.BindText(1, kMigrationsTable));
  return query.Step();
}

// version -> name of every applied migration.
absl::StatusOr<std::map<int, std::string>> AppliedMigrations(SqliteDb& db) {
  std::map<int, std::string> applied;
  OKR_ASSIGN_OR_RETURN(bool exists, MigrationsTableExists(db));
  if (!exists) return applied;
  OKR_ASSIGN_OR_RETURN(Statement query,
                       db.Prepare("SELECT version, name FROM schema_migrations"));
  while (true) {
    OKR_ASSIGN_OR_RETURN(bool row, query.Step());
    if (!row) break;
    applied[static_cast<int>(query.ColumnInt64(0))] = query.ColumnText(1);
  }
  return applied;
}

absl::Status ValidateMigrations(absl::Span<const Migration> migrations) {
  int previous = 0;
  for (size_t i = 0; i < migrations.size(); ++i) {
    const Migration& m = migrations[i];
    if (m.version <= previous) {
      return absl::InvalidArgumentError(absl::StrCat(
          "migrations[", i, "].version: ", m.version,
          " must be positive and greater than the previous one (", previous, ")"));
    }
    if (m.name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("migrations[", i, "].name: must not be empty"));
    }
    previous = m.version;
  }
  return absl::OkStatus();
}

// Compares what the database has applied with what the code knows.
absl::Status CheckHistory(const std::map<int, std::string>& applied,
                          absl::Span<const Migration> migrations,
                          const std::string& path) {
  if (applied.empty()) return absl::OkStatus();
  const int db_version = applied.rbegin()->first;
  const int code_version = migrations.empty() ? 0 : migrations.back().version;
  if (db_version > code_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database \"", path, "\" has schema version ", db_version,
        " but this binary knows versions up to ", code_version,
        "; run a binary at least as new as the one that migrated it"));
  }
  for (const Migration& m : migrations) {
    auto it = applied.find(m.version);
    if (it == applied.end()) {
      if (m.version < db_version) {
        return absl::FailedPreconditionError(absl::StrCat(
            "database \"", path, "\" lacks migration ", m.version, " (", m.name,
            ") although it has version ", db_version,
            "; its schema history does not match this binary"));
      }
      continue;
    }
    if (it->second != m.name) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database \"", path, "\" applied migration ", m.version, " as \"",
          it->second, "\" but this binary calls it \"", m.name,
          "\"; the schema history does not match this binary"));
    }
  }
  for (const auto& [version, name] : applied) {
    bool known = false;
    for (const Migration& m : migrations) known = known || m.version == version;
    if (!known) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database \"", path, "\" applied migration ", version, " (", name,
          ") which this binary does not know"));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyOne(SqliteDb& db, const Migration& m) {
  OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db));
  // Another process may have applied it while we waited for the write lock.
  OKR_ASSIGN_OR_RETURN(
      Statement check, db.Prepare("SELECT 1 FROM schema_migrations WHERE version = ?1"));
  OKR_RETURN_IF_ERROR(check.BindInt64(1, m.version));
  OKR_ASSIGN_OR_RETURN(bool done, check.Step());
  check = Statement();  // finalize before the schema changes
  if (done) return txn.Commit();

  OKR_RETURN_IF_ERROR(db.Exec(m.sql));
  OKR_ASSIGN_OR_RETURN(
      Statement record,
      db.Prepare("INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)"));
  OKR_RETURN_IF_ERROR(record.BindInt64(1, m.version));
  OKR_RETURN_IF_ERROR(record.BindText(2, m.name));
  OKR_RETURN_IF_ERROR(record.Run());
  record = Statement();
  return txn.Commit();
}

}  // namespace

absl::Status CheckSqliteHealth(SqliteDb& db) {
  struct stat info;
  if (::stat(db.path().c_str(), &info) != 0) {
    const int error = errno;
    return absl::UnavailableError(absl::StrCat("sqlite: the database file ", db.path(),
                                               " is no longer there (", std::strerror(error),
                                               "); writes would be lost at the next restart"));
  }
  absl::StatusOr<Statement*> query = db.Cached("SELECT count(*) FROM sqlite_master");
  absl::Status status = query.status();
  if (query.ok()) {
    absl::StatusOr<bool> row = (*query)->Step();
    status = row.status();
    (*query)->Reset();
  }
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("sqlite: cannot read ", db.path(), ": ", status.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> SchemaVersion(SqliteDb& db) {
  OKR_ASSIGN_OR_RETURN(auto applied, AppliedMigrations(db));
  return applied.empty() ? 0 : applied.rbegin()->first;
}

absl::StatusOr<int> Migrate(SqliteDb& db, absl::Span<const Migration> migrations) {
  OKR_RETURN_IF_ERROR(ValidateMigrations(migrations));
  if (db.InTransaction()) {
    return absl::FailedPreconditionError(
        "Migrate() must run outside a transaction: each migration opens its own");
  }
  OKR_ASSIGN_OR_RETURN(auto applied, AppliedMigrations(db));
  OKR_RETURN_IF_ERROR(CheckHistory(applied, migrations, db.path()));
  int version = applied.empty() ? 0 : applied.rbegin()->first;
  if (migrations.empty() || version == migrations.back().version) return version;

  OKR_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY,"
      " name TEXT NOT NULL,"
      " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"));
  for (const Migration& m : migrations) {
    if (m.version <= version) continue;
    absl::Status status = ApplyOne(db, m);
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("migration ", m.version, " (", m.name,
                                       "): ", status.message()));
    }
    version = m.version;
  }
  // A concurrent migrator may have raced us; re-check the whole history.
  OKR_ASSIGN_OR_RETURN(applied, AppliedMigrations(db));
  OKR_RETURN_IF_ERROR(CheckHistory(applied, migrations, db.path()));
  return applied.empty() ? 0 : applied.rbegin()->first;
}

SqliteConnectionPool::Lease::Lease(SqliteConnectionPool* pool) : pool_(pool) {
  absl::MutexLock lock(&pool_->mu_);
  pool_->mu_.Await(absl::Condition(
      +[](std::vector<std::unique_ptr<SqliteDb>>* idle) { return !idle->empty(); },
      &pool_->idle_));
  db_ = std::move(pool_->idle_.back());
  pool_->idle_.pop_back();
}

SqliteConnectionPool::Lease::~Lease() {
  absl::MutexLock lock(&pool_->mu_);
  pool_->idle_.push_back(std::move(db_));
}

absl::StatusOr<SqliteStoreSpec> ParseSqliteStoreSpec(absl::string_view spec,
                                                     absl::string_view example_path) {
  const size_t question = spec.find('?');
  const absl::string_view path = spec.substr(0, question);
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--store: sqlite: needs a file path, e.g. --store=sqlite:", example_path));
  }
  if (absl::StartsWith(path, "//")) {
    // "sqlite://x" would silently mean the file "/x"; say what we expect.
    return absl::InvalidArgumentError(
        absl::StrCat("--store: \"sqlite:", path,
                     "\" looks like a URL; write sqlite:/absolute/path or "
                     "sqlite:relative/path"));
  }
  SqliteStoreSpec out;
  out.path = std::string(path);
  if (question == absl::string_view::npos) return out;
  for (absl::string_view option : absl::StrSplit(spec.substr(question + 1), '&')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(option, absl::MaxSplits('=', 1));
    if (kv.first != "durability") {
      return absl::InvalidArgumentError(
          absl::StrCat("--store: unknown SQLite option \"", option,
                       "\"; the only option is durability=process-crash|power-loss"));
    }
    if (kv.second == "process-crash") {
      out.durability = SqliteDurability::kProcessCrash;
    } else if (kv.second == "power-loss") {
      out.durability = SqliteDurability::kPowerLoss;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--store: durability=\"", kv.second,
                       "\" is not one of process-crash (default), power-loss"));
    }
  }
  return out;
}

}  // namespace okr
