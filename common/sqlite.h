// SQLite plumbing shared by the services' embedded stores: a connection opened
// with the suite's pragmas (WAL, busy timeout, foreign keys, a chosen
// durability), RAII prepared statements and transactions, the mapping from
// SQLite result codes to absl::Status, and a versioned migration runner.
//
// Nothing here knows about gRPC or the domain; a service's store implements its
// own interface on top of these types.
//
// Thread-safety: a SqliteDb and every Statement prepared on it belong to one
// thread at a time (connections are opened in SQLite's multi-thread mode, so
// SQLite adds no per-call mutex of its own). To share a connection, guard it
// and its statements with one mutex; for concurrency, open one connection per
// thread: under WAL any number of readers run beside one writer, and a second
// writer waits up to `busy_timeout` before getting UNAVAILABLE.
#ifndef OKR_COMMON_SQLITE_H_
#define OKR_COMMON_SQLITE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

struct sqlite3;
struct sqlite3_stmt;

namespace okr {

// What a committed transaction survives.
//   kProcessCrash: synchronous=NORMAL under WAL. A commit survives kill -9 of
//     the process; the last commits may be lost on power loss or a kernel
//     crash. No fsync per commit (the WAL is synced at checkpoints).
//   kPowerLoss: synchronous=FULL. The WAL is fsynced on every commit; callers
//     that need throughput group several writes into one transaction.
enum class SqliteDurability { kProcessCrash, kPowerLoss };

struct SqliteOptions {
  SqliteDurability durability = SqliteDurability::kProcessCrash;
  // How long a writer waits for another connection's write lock before the
  // statement fails with UNAVAILABLE.
  absl::Duration busy_timeout = absl::Seconds(5);
  // Opens the file read-only: writes fail with FAILED_PRECONDITION, and the
  // file must already exist.
  bool read_only = false;
  // When false, opening a missing file fails with NOT_FOUND instead of
  // creating an empty database.
  bool create_if_missing = true;
};

// Converts a SQLite result code into a Status whose code says what the caller
// can do about it, and whose message carries `context`, SQLite's own message
// (from `db` when given) and the extended code:
//   BUSY, LOCKED                        -> UNAVAILABLE (retry later)
//   CONSTRAINT_UNIQUE / _PRIMARYKEY     -> ALREADY_EXISTS
//   other CONSTRAINT (FK, CHECK, ...)   -> FAILED_PRECONDITION
//   READONLY                            -> FAILED_PRECONDITION ("read-only")
//   FULL, NOMEM                         -> RESOURCE_EXHAUSTED ("disk full")
//   IOERR                               -> UNAVAILABLE ("disk I/O error")
//   CORRUPT, NOTADB                     -> DATA_LOSS
//   CANTOPEN                            -> FAILED_PRECONDITION (Open() says
//                                          NOT_FOUND for a missing file)
//   PERM, AUTH                          -> PERMISSION_DENIED
//   RANGE, MISMATCH, TOOBIG             -> INVALID_ARGUMENT
//   INTERRUPT                           -> CANCELLED
//   anything else (SQL errors, misuse)  -> INTERNAL
// Returns OkStatus() for SQLITE_OK, SQLITE_ROW and SQLITE_DONE.
absl::Status SqliteStatus(int rc, sqlite3* db, absl::string_view context);

class SqliteDb;

// A prepared statement. Move-only; finalized on destruction. Parameters are
// numbered from 1 as in SQLite; columns from 0. Text and blobs are copied at
// bind time, so the caller's buffers may go away before Step().
class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binders return INVALID_ARGUMENT for an index out of range or an unknown
  // parameter name (names include their prefix: ":id", "@id" or "$id").
  absl::Status BindInt64(int index, int64_t value);
  absl::Status BindDouble(int index, double value);
  // Binary-safe: embedded NULs are kept, the length comes from `value`.
  absl::Status BindText(int index, absl::string_view value);
  absl::Status BindBlob(int index, absl::string_view bytes);
  absl::Status BindNull(int index);
  absl::Status BindInt64(absl::string_view name, int64_t value);
  absl::Status BindDouble(absl::string_view name, double value);
  absl::Status BindText(absl::string_view name, absl::string_view value);
  absl::Status BindBlob(absl::string_view name, absl::string_view bytes);
  absl::Status BindNull(absl::string_view name);

  // Returns the 1-based index of a named parameter, or INVALID_ARGUMENT.
  absl::StatusOr<int> ParameterIndex(absl::string_view name) const;

  // Advances the statement: true when a row is available through the column
  // getters, false when the statement has finished. After an error the
  // statement must be Reset() before it is run again.
  absl::StatusOr<bool> Step();

  // Steps until done, discarding any rows; for INSERT/UPDATE/DELETE/DDL.
  absl::Status Run();

  // Column getters read the current row; calling them without a row (or with
  // an index out of range) is a programming error and yields 0 / "".
  int ColumnCount() const;
  std::string ColumnName(int column) const;
  bool ColumnIsNull(int column) const;
  int64_t ColumnInt64(int column) const;
  double ColumnDouble(int column) const;
  // Copies the value out, embedded NULs included.
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;

  // Rewinds the statement so it can run again. Keeps the bindings; call
  // ClearBindings() to set every parameter back to NULL.
  void Reset();
  void ClearBindings();

  // The SQL text the statement was prepared from.
  std::string Sql() const;

  bool valid() const { return stmt_ != nullptr; }
  sqlite3_stmt* raw() const { return stmt_; }

 private:
  friend class SqliteDb;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  absl::Status BindResult(int rc, int index, absl::string_view what);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// One SQLite connection. Not thread-safe (see the file comment).
class SqliteDb {
 public:
  // Opens (or creates) the database at `path` (":memory:" for a private
  // in-memory one) and applies the suite's pragmas: journal_mode=WAL (not for
  // read-only or in-memory databases), foreign_keys=ON, the busy timeout and
  // the synchronous level of `options.durability`. Fails with NOT_FOUND when
  // the file is missing and may not be created, DATA_LOSS when it is not a
  // database.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(
      absl::string_view path, const SqliteOptions& options = {});

  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  // Finalizes cached statements and closes the connection. Statements the
  // caller still holds must be destroyed first.
  ~SqliteDb();

  // Runs one or more ';'-separated statements that return no rows of
  // interest (DDL, pragmas, migrations).
  absl::Status Exec(absl::string_view sql);

  // Prepares one statement; INTERNAL with SQLite's message for bad SQL.
  absl::StatusOr<Statement> Prepare(absl::string_view sql);

  // Returns a statement prepared once per connection and cached by its SQL
  // text, reset and with its bindings cleared. The pointer stays valid for
  // the connection's lifetime; use it for one query at a time, and Reset() it
  // when stopping before the last row (an unfinished read pins a snapshot).
  absl::StatusOr<Statement*> Cached(absl::string_view sql);

  // Rows changed by the last INSERT/UPDATE/DELETE, and the last rowid.
  int64_t Changes() const;
  int64_t LastInsertRowId() const;
  // True while a transaction is open on this connection.
  bool InTransaction() const;

  const std::string& path() const { return path_; }
  const SqliteOptions& options() const { return options_; }
  sqlite3* raw() const { return db_; }

 private:
  SqliteDb(sqlite3* db, std::string path, SqliteOptions options)
      : db_(db), path_(std::move(path)), options_(options) {}

  sqlite3* db_;
  std::string path_;
  SqliteOptions options_;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> cache_;
};

// A transaction scope. Begin() opens it; Commit() ends it; destruction
// without a successful Commit() rolls back, so an early `return status;`
// leaves nothing half-written. Move-only; the SqliteDb must outlive it.
class Transaction {
 public:
  enum class Mode {
    // Takes the write lock at BEGIN, so a read-modify-write never fails
    // half-way with BUSY: the wait (and UNAVAILABLE) happens up front.
    kImmediate,
    // Reads only until the first write; for read-only snapshots.
    kDeferred,
  };

  // FAILED_PRECONDITION when a transaction is already open on `db` (SQLite
  // has no nested BEGIN); UNAVAILABLE when the write lock stays busy.
  static absl::StatusOr<Transaction> Begin(SqliteDb& db,
                                           Mode mode = Mode::kImmediate);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&& other) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // Commits. On failure the transaction is rolled back (now, or by the
  // destructor) and the error returned; nothing of it is kept.
  absl::Status Commit();
  // Rolls back now; a no-op once committed or rolled back.
  absl::Status Rollback();

 private:
  explicit Transaction(SqliteDb* db) : db_(db) {}
  SqliteDb* db_;  // nullptr once finished or moved from
};

// One schema change. `sql` may hold several statements; it runs inside a
// transaction, so it must not contain BEGIN/COMMIT or pragmas that are
// no-ops inside one (foreign_keys, journal_mode). Versions are positive and
// strictly increasing through the list; a version is never reused or edited
// once released, only followed by a new one.
struct Migration {
  int version;
  absl::string_view name;
  absl::string_view sql;
};

// Brings the schema up to the last migration of `migrations` and returns the
// resulting version. Applied migrations are recorded in `schema_migrations`
// (version, name, applied_at); each pending one runs once, in its own
// IMMEDIATE transaction, so a failing migration leaves no trace and the
// version where it was, and concurrent migrators apply each one only once.
// Errors: INVALID_ARGUMENT for a malformed list; FAILED_PRECONDITION when the
// database is newer than the last known version or an applied version's name
// differs from the code's; otherwise the failing migration's error, prefixed
// with its version and name.
absl::StatusOr<int> Migrate(SqliteDb& db, absl::Span<const Migration> migrations);

// Highest applied migration version; 0 for a database never migrated.
absl::StatusOr<int> SchemaVersion(SqliteDb& db);

// A store's CheckHealth() on SQLite: OK when the database file is still at
// db.path() (an open connection keeps working on a deleted or moved file,
// whose writes would then be lost at the next restart) and one read of the
// schema succeeds; UNAVAILABLE naming the file and the reason otherwise.
// Cheap: a stat() and a read of a cached page.
absl::Status CheckSqliteHealth(SqliteDb& db);

// A fixed set of connections (a store's WAL readers) shared by threads. A
// Lease takes an idle connection, waiting while every one is busy, and puts
// it back when it goes out of scope. Thread-safe; must outlive its leases.
class SqliteConnectionPool {
 public:
  explicit SqliteConnectionPool(std::vector<std::unique_ptr<SqliteDb>> connections)
      : idle_(std::move(connections)) {}
  SqliteConnectionPool(const SqliteConnectionPool&) = delete;
  SqliteConnectionPool& operator=(const SqliteConnectionPool&) = delete;

  class Lease {
   public:
    explicit Lease(SqliteConnectionPool* pool);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    SqliteDb& db() { return *db_; }

   private:
    SqliteConnectionPool* const pool_;
    std::unique_ptr<SqliteDb> db_;
  };

 private:
  absl::Mutex mu_;
  std::vector<std::unique_ptr<SqliteDb>> idle_ ABSL_GUARDED_BY(mu_);
};

// What follows "sqlite:" in a service's --store flag: "PATH[?durability=
// process-crash|power-loss]". Every service reads its flag through this, so
// the syntax and the messages ("--store: ...") are the same everywhere.
struct SqliteStoreSpec {
  std::string path;
  SqliteDurability durability = SqliteDurability::kProcessCrash;
};

// Parses `spec` (the text after "sqlite:"); INVALID_ARGUMENT starting
// "--store: " for an empty path (the message suggests `example_path`), a
// "sqlite://..." URL, or an unknown option or durability.
absl::StatusOr<SqliteStoreSpec> ParseSqliteStoreSpec(absl::string_view spec,
                                                     absl::string_view example_path);

}  // namespace okr

#endif  // OKR_COMMON_SQLITE_H_
