// PostgreSQL plumbing shared by the services' PostgreSQL stores (libpq): a
// bounded pool of connections, parameterised statements (text parameters,
// never SQL built from input), transactions with automatic retry of
// serialization failures, the mapping from SQLSTATE to absl::Status, and a
// versioned migration runner.
//
// Nothing here knows about gRPC or the domain; a service's store implements
// its own interface on top of these types, like common/sqlite.h for SQLite.
//
// Thread-safety: PgPool is thread-safe; a PgConnection (borrowed from the
// pool) belongs to one thread until it is returned.
#ifndef OKR_COMMON_POSTGRES_H_
#define OKR_COMMON_POSTGRES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

struct pg_conn;
struct pg_result;

namespace okr {

// Converts a failed result into a Status whose code says what the caller can
// do, with `context`, the server's message and the SQLSTATE:
//   08*** (connection), 57P01..03 (shutdown), 53300 (too many connections)
//                                         -> UNAVAILABLE
//   40001 (serialization), 40P01 (deadlock) -> ABORTED
//   23505 (unique violation)              -> ALREADY_EXISTS
//   23*** other integrity violations      -> FAILED_PRECONDITION
//   53100 (disk full), 53200 (out of memory) -> RESOURCE_EXHAUSTED
//   22*** (data exception)                -> INVALID_ARGUMENT
//   57014 (query cancelled / statement timeout) -> DEADLINE_EXCEEDED
//   42501 (insufficient privilege), 28*** -> PERMISSION_DENIED
//   anything else                         -> INTERNAL
absl::Status PgStatus(const pg_result* result, const pg_conn* conn, absl::string_view context);

// PgStatus attaches the SQLSTATE as a payload under this URL; PgSqlState
// reads it back ("" for a status that did not come from the server, e.g. a
// callback's own error or a lost connection).
inline constexpr absl::string_view kPgSqlStatePayload = "okr.postgres/sqlstate";
std::string PgSqlState(const absl::Status& status);

// One parameter: text, or SQL NULL. Binary bodies go as bytea via
// PgParam::Bytes (hex-encoded text form), integers via PgParam::Int.
class PgParam {
 public:
  static PgParam Text(absl::string_view value);
  static PgParam Int(int64_t value);
  static PgParam Bytes(absl::string_view value);  // for a bytea column
  static PgParam Null();
  static PgParam Time(absl::Time value);  // timestamptz, microsecond precision

  const std::optional<std::string>& value() const { return value_; }

 private:
  std::optional<std::string> value_;
};

// The rows of one statement. Move-only; frees the libpq result.
class PgRows {
 public:
  PgRows(PgRows&&) noexcept;
  PgRows& operator=(PgRows&&) noexcept;
  ~PgRows();

  int size() const;
  int64_t affected() const;  // rows changed by INSERT/UPDATE/DELETE
  bool IsNull(int row, int column) const;
  std::string Text(int row, int column) const;
  int64_t Int(int row, int column) const;
  std::string Bytes(int row, int column) const;  // a bytea column, decoded
  absl::Time Time(int row, int column) const;    // a timestamptz column
  bool Bool(int row, int column) const;

 private:
  friend class PgConnection;
  friend class PgPool;
  explicit PgRows(pg_result* result) : result_(result) {}
  pg_result* result_ = nullptr;
};

// One connection, borrowed from a PgPool.
class PgConnection {
 public:
  // Runs one statement with $1, $2, ... parameters.
  absl::StatusOr<PgRows> Exec(absl::string_view sql, absl::Span<const PgParam> params = {});
  // Runs several statements without parameters (migrations).
  absl::Status ExecScript(absl::string_view sql);

  pg_conn* raw() { return conn_; }
  // True once a statement failed because the connection is gone; the pool
  // closes it instead of reusing it.
  bool broken() const { return broken_; }

  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

 private:
  friend class PgPool;
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  void NoteFailure(const absl::Status& status);
  pg_conn* conn_ = nullptr;
  bool broken_ = false;  // set on a connection-class error: not reused
  // Set when a statement failed with 40001 / 40P01 since the last BEGIN of
  // PgPool::Transaction: the whole transaction is worth retrying.
  bool retryable_failure_ = false;
};

struct PgPoolOptions {
  // A libpq URI, "postgresql://user:pass@host:port/db?sslmode=..." (the
  // --store flag).
  std::string url;
  // Connections kept open at most; Acquire waits for one up to
  // acquire_timeout, then UNAVAILABLE.
  int max_connections = 8;
  absl::Duration acquire_timeout = absl::Seconds(5);
  // libpq connect_timeout and the server-side statement_timeout.
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration statement_timeout = absl::Seconds(30);
};

class PgPool {
 public:
  // Connects once to check the URL and the server (UNAVAILABLE when the
  // server cannot be reached, INVALID_ARGUMENT naming "store" for a malformed
  // URL).
  static absl::StatusOr<std::unique_ptr<PgPool>> Open(PgPoolOptions options);
  ~PgPool();

  // Runs `fn` in a transaction (BEGIN ISOLATION LEVEL `isolation` ... COMMIT)
  // on a pooled connection. ROLLBACK when `fn` fails. A serialization failure
  // or deadlock (ABORTED from PgStatus) retries the whole transaction up to
  // `attempts` times; a broken connection is replaced and UNAVAILABLE
  // returned. Only failures whose SQLSTATE was 40001 / 40P01 are retried:
  // `fn`'s own ABORTED (for example a stale version) passes through.
  enum class Isolation { kReadCommitted, kRepeatableRead, kSerializable };
  absl::Status Transaction(const std::function<absl::Status(PgConnection&)>& fn,
                           Isolation isolation = Isolation::kReadCommitted, int attempts = 5);

  // Runs `fn` on a pooled connection without a transaction (single reads).
  absl::Status WithConnection(const std::function<absl::Status(PgConnection&)>& fn);

  // SELECT 1 on a pooled connection: OK or UNAVAILABLE.
  absl::Status Ping();

 private:
  class Impl;
  explicit PgPool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One versioned migration: applied in order, once, each in its own
// transaction, recorded in `<table>` (created if missing). Concurrent
// replicas starting at once are serialised with an advisory lock.
struct PgMigration {
  int version = 0;
  std::string sql;
};
absl::Status PgMigrate(PgPool& pool, absl::string_view table,
                       absl::Span<const PgMigration> migrations);

}  // namespace okr

#endif  // OKR_COMMON_POSTGRES_H_
