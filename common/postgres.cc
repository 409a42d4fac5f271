#include "common/postgres.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace okr {
namespace {

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

absl::StatusCode CodeForSqlState(absl::string_view state) {
  if (state == "23505") return absl::StatusCode::kAlreadyExists;
  if (state == "40001" || state == "40P01") return absl::StatusCode::kAborted;
  if (state == "57014") return absl::StatusCode::kDeadlineExceeded;
  if (state == "57P01" || state == "57P02" || state == "57P03" || state == "53300") {
    return absl::StatusCode::kUnavailable;
  }
  if (state == "53100" || state == "53200") return absl::StatusCode::kResourceExhausted;
  if (state == "42501") return absl::StatusCode::kPermissionDenied;
  if (absl::StartsWith(state, "08")) return absl::StatusCode::kUnavailable;
  if (absl::StartsWith(state, "23")) return absl::StatusCode::kFailedPrecondition;
  if (absl::StartsWith(state, "22")) return absl::StatusCode::kInvalidArgument;
  if (absl::StartsWith(state, "28")) return absl::StatusCode::kPermissionDenied;
  return absl::StatusCode::kInternal;
}

bool IsRetryableSqlState(absl::string_view state) {
  return state == "40001" || state == "40P01";
}

// libpq messages end in a newline and sometimes span lines.
std::string OneLine(absl::string_view text) {
  std::string line(absl::StripAsciiWhitespace(text));
  for (char& c : line) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return line;
}

// The password of a URL's userinfo ("scheme://user:password@host/..."), so
// that it can be kept out of every message; "" when there is none.
std::string PasswordOf(absl::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) {
    // Keyword form: "... password=secret ...".
    size_t at = url.find("password=");
    if (at == absl::string_view::npos) return "";
    absl::string_view rest = url.substr(at + 9);
    size_t end = rest.find(' ');
    return std::string(rest.substr(0, end));
  }
  absl::string_view rest = url.substr(scheme + 3);
  size_t at = rest.rfind('@', rest.find('/'));
  if (at == absl::string_view::npos) return "";
  absl::string_view userinfo = rest.substr(0, at);
  size_t colon = userinfo.find(':');
  if (colon == absl::string_view::npos) return "";
  return std::string(userinfo.substr(colon + 1));
}

// `text` with the URL's password replaced, fit for a log or an error message.
std::string Redact(absl::string_view text, absl::string_view password) {
  if (password.empty()) return std::string(text);
  return absl::StrReplaceAll(text, {{password, "****"}});
}

std::string IsolationSql(PgPool::Isolation isolation) {
  switch (isolation) {
    case PgPool::Isolation::kSerializable:
      return "BEGIN ISOLATION LEVEL SERIALIZABLE";
    case PgPool::Isolation::kRepeatableRead:
      return "BEGIN ISOLATION LEVEL REPEATABLE READ";
    case PgPool::Isolation::kReadCommitted:
      break;
  }
  return "BEGIN ISOLATION LEVEL READ COMMITTED";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses PostgreSQL's ISO output of a timestamptz in UTC:
// "2024-01-02 03:04:05.123456+00", optionally " BC", or "[-]infinity".
std::optional<absl::Time> ParseTimestamp(absl::string_view text) {
  if (text == "infinity") return absl::InfiniteFuture();
  if (text == "-infinity") return absl::InfinitePast();
  bool bc = false;
  if (absl::ConsumeSuffix(&text, " BC")) bc = true;
  // The zone: "+00", "+00:00" or "+00:00:00" (always UTC: the connection
  // sets TIME ZONE 'UTC', but honour an offset anyway).
  size_t zone = text.find_last_of("+-");
  if (zone == absl::string_view::npos || zone < 10) return std::nullopt;
  absl::string_view offset_text = text.substr(zone + 1);
  int sign = text[zone] == '-' ? -1 : 1;
  text = text.substr(0, zone);
  int64_t offset_parts[3] = {0, 0, 0};
  int part_index = 0;
  for (absl::string_view piece : absl::StrSplit(offset_text, ':')) {
    if (part_index == 3 || !absl::SimpleAtoi(piece, &offset_parts[part_index])) {
      return std::nullopt;
    }
    ++part_index;
  }
  const int64_t offset_seconds =
      sign * (offset_parts[0] * 3600 + offset_parts[1] * 60 + offset_parts[2]);
  // "Y-M-D H:M:S[.ffffff]"; the year may have more than four digits.
  size_t space = text.find(' ');
  if (space == absl::string_view::npos) return std::nullopt;
  absl::string_view date = text.substr(0, space);
  absl::string_view clock = text.substr(space + 1);
  int64_t year = 0;
  int month = 0, day = 0, hour = 0, minute = 0, second = 0;
  size_t d1 = date.find('-');
  size_t d2 = date.find('-', d1 == absl::string_view::npos ? 0 : d1 + 1);
  if (d1 == absl::string_view::npos || d2 == absl::string_view::npos) return std::nullopt;
  if (!absl::SimpleAtoi(date.substr(0, d1), &year) ||
      !absl::SimpleAtoi(date.substr(d1 + 1, d2 - d1 - 1), &month) ||
      !absl::SimpleAtoi(date.substr(d2 + 1), &day)) {
    return std::nullopt;
  }
  int64_t micros = 0;
  size_t dot = clock.find('.');
  if (dot != absl::string_view::npos) {
    std::string fraction(clock.substr(dot + 1));
    if (fraction.empty() || fraction.size() > 6) return std::nullopt;
    fraction.resize(6, '0');
    if (!absl::SimpleAtoi(fraction, &micros)) return std::nullopt;
    clock = clock.substr(0, dot);
  }
  if (clock.size() != 8 || clock[2] != ':' || clock[5] != ':' ||
      !absl::SimpleAtoi(clock.substr(0, 2), &hour) ||
      !absl::SimpleAtoi(clock.substr(3, 2), &minute) ||
      !absl::SimpleAtoi(clock.substr(6, 2), &second)) {
    return std::nullopt;
  }
  // PostgreSQL has no year 0: 1 BC is astronomical year 0.
  if (bc) year = 1 - year;
  absl::Time base = absl::FromCivil(
      absl::CivilSecond(year, month, day, hour, minute, second), absl::UTCTimeZone());
  return base + absl::Microseconds(micros) - absl::Seconds(offset_seconds);
}

}  // namespace

absl::Status PgStatus(const pg_result* result, const pg_conn* conn,
                      absl::string_view context) {
  std::string state;
  std::string message;
  if (result != nullptr) {
    const char* field = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (field != nullptr) state = field;
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    if (primary != nullptr) {
      message = primary;
    } else {
      message = OneLine(PQresultErrorMessage(result));
    }
  }
  if (message.empty() && conn != nullptr) message = OneLine(PQerrorMessage(conn));
  if (message.empty()) message = "unknown PostgreSQL error";

  absl::StatusCode code = absl::StatusCode::kInternal;
  if (!state.empty()) {
    code = CodeForSqlState(state);
  } else if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    // libpq's own failures (server gone, socket closed) carry no SQLSTATE.
    code = absl::StatusCode::kUnavailable;
  }
  std::string text = absl::StrCat(context, ": ", message);
  if (!state.empty()) absl::StrAppend(&text, " (SQLSTATE ", state, ")");
  if (code == absl::StatusCode::kUnavailable) {
    absl::StrAppend(&text, "; the PostgreSQL server is unreachable or shutting down, retry");
  }
  absl::Status status(code, text);
  if (!state.empty()) status.SetPayload(kPgSqlStatePayload, absl::Cord(state));
  return status;
}

std::string PgSqlState(const absl::Status& status) {
  auto payload = status.GetPayload(kPgSqlStatePayload);
  return payload.has_value() ? std::string(*payload) : std::string();
}

// ---------------------------------------------------------------------------
// PgParam

PgParam PgParam::Text(absl::string_view value) {
  PgParam param;
  param.value_ = std::string(value);
  return param;
}

PgParam PgParam::Int(int64_t value) {
  PgParam param;
  param.value_ = absl::StrCat(value);
  return param;
}

PgParam PgParam::Bytes(absl::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex = "\\x";
  hex.reserve(2 + value.size() * 2);
  for (unsigned char c : value) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 0xf]);
  }
  PgParam param;
  param.value_ = std::move(hex);
  return param;
}

PgParam PgParam::Null() { return PgParam(); }

PgParam PgParam::Time(absl::Time value) {
  PgParam param;
  if (value == absl::InfiniteFuture()) {
    param.value_ = "infinity";
    return param;
  }
  if (value == absl::InfinitePast()) {
    param.value_ = "-infinity";
    return param;
  }
  absl::CivilSecond civil = absl::ToCivilSecond(value, absl::UTCTimeZone());
  absl::Duration within_second =
      value - absl::FromCivil(civil, absl::UTCTimeZone());
  int64_t micros = absl::ToInt64Microseconds(within_second);  // floor: [0, 1e6)
  int64_t year = civil.year();
  const char* era = "";
  if (year <= 0) {
    // Astronomical year 0 is 1 BC in PostgreSQL's calendar.
    year = 1 - year;
    era = " BC";
  }
  param.value_ = absl::StrFormat("%04d-%02d-%02d %02d:%02d:%02d.%06d+00%s", year,
                                 civil.month(), civil.day(), civil.hour(),
                                 civil.minute(), civil.second(), micros, era);
  return param;
}

// ---------------------------------------------------------------------------
// PgRows

PgRows::PgRows(PgRows&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}

PgRows& PgRows::operator=(PgRows&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

PgRows::~PgRows() {
  if (result_ != nullptr) PQclear(result_);
}

int PgRows::size() const { return result_ == nullptr ? 0 : PQntuples(result_); }

int64_t PgRows::affected() const {
  if (result_ == nullptr) return 0;
  int64_t count = 0;
  if (!absl::SimpleAtoi(PQcmdTuples(result_), &count)) return 0;
  return count;
}

bool PgRows::IsNull(int row, int column) const {
  return result_ == nullptr || PQgetisnull(result_, row, column) != 0;
}

std::string PgRows::Text(int row, int column) const {
  if (IsNull(row, column)) return "";
  return std::string(PQgetvalue(result_, row, column),
                     static_cast<size_t>(PQgetlength(result_, row, column)));
}

int64_t PgRows::Int(int row, int column) const {
  int64_t value = 0;
  if (IsNull(row, column) || !absl::SimpleAtoi(Text(row, column), &value)) return 0;
  return value;
}

std::string PgRows::Bytes(int row, int column) const {
  std::string text = Text(row, column);
  absl::string_view hex = text;
  // bytea_output is set to hex on every connection.
  if (!absl::ConsumePrefix(&hex, "\\x")) return text;
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    int high = HexValue(hex[i]);
    int low = HexValue(hex[i + 1]);
    if (high < 0 || low < 0) break;
    bytes.push_back(static_cast<char>((high << 4) | low));
  }
  return bytes;
}

absl::Time PgRows::Time(int row, int column) const {
  if (IsNull(row, column)) return absl::InfinitePast();
  return ParseTimestamp(Text(row, column)).value_or(absl::InfinitePast());
}

bool PgRows::Bool(int row, int column) const {
  if (IsNull(row, column)) return false;
  const char* value = PQgetvalue(result_, row, column);
  return value[0] == 't';
}

// ---------------------------------------------------------------------------
// PgConnection

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

void PgConnection::NoteFailure(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kUnavailable || PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
  }
  if (IsRetryableSqlState(PgSqlState(status))) retryable_failure_ = true;
}

absl::StatusOr<PgRows> PgConnection::Exec(absl::string_view sql,
                                          absl::Span<const PgParam> params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& param : params) {
    values.push_back(param.value().has_value() ? param.value()->c_str() : nullptr);
  }
  std::string statement(sql);
  PGresult* result =
      PQexecParams(conn_, statement.c_str(), static_cast<int>(values.size()),
                   /*paramTypes=*/nullptr, values.data(), /*paramLengths=*/nullptr,
                   /*paramFormats=*/nullptr, /*resultFormat=*/0);
  PgRows rows(result);
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  absl::Status error = PgStatus(result, conn_, Abbreviate(sql));
  NoteFailure(error);
  return error;
}

absl::Status PgConnection::ExecScript(absl::string_view sql) {
  std::string script(sql);
  PgRows rows(PQexec(conn_, script.c_str()));
  ExecStatusType status =
      rows.result_ == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(rows.result_);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ||
      status == PGRES_EMPTY_QUERY) {
    return absl::OkStatus();
  }
  absl::Status error = PgStatus(rows.result_, conn_, Abbreviate(sql));
  NoteFailure(error);
  return error;
}

// ---------------------------------------------------------------------------
// PgPool

class PgPool::Impl {
 public:
  explicit Impl(PgPoolOptions options)
      : options_(std::move(options)), password_(PasswordOf(options_.url)) {}

  ~Impl() {
    absl::MutexLock lock(&mu_);
    for (pg_conn* conn : idle_) PQfinish(conn);
    idle_.clear();
  }

  const PgPoolOptions& options() const { return options_; }

  // Opens a new connection with the session settings every statement relies
  // on (UTC, ISO dates, hex bytea, the statement timeout).
  absl::StatusOr<pg_conn*> Connect() {
    int64_t connect_seconds =
        std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(options_.connect_timeout,
                                                             absl::Seconds(1))));
    std::string timeout_text = absl::StrCat(connect_seconds);
    const char* keywords[] = {"dbname", "connect_timeout", "application_name", nullptr};
    const char* values[] = {options_.url.c_str(), timeout_text.c_str(), "okr", nullptr};
    pg_conn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (conn == nullptr) {
      return absl::ResourceExhaustedError("PostgreSQL: out of memory opening a connection");
    }
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string message = Redact(OneLine(PQerrorMessage(conn)), password_);
      PQfinish(conn);
      return absl::UnavailableError(absl::StrCat(
          "cannot connect to PostgreSQL at ", Redact(options_.url, password_), ": ",
          message, "; check --store and that the server is up"));
    }
    // Notices (and the server's goodbye on shutdown) would go to stderr.
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
    std::string setup = absl::StrCat(
        "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'; SET bytea_output = 'hex'; "
        "SET client_encoding = 'UTF8'; SET statement_timeout = ",
        absl::ToInt64Milliseconds(options_.statement_timeout));
    PGresult* result = PQexec(conn, setup.c_str());
    if (result == nullptr || PQresultStatus(result) != PGRES_COMMAND_OK) {
      absl::Status status = PgStatus(result, conn, "PostgreSQL session setup");
      if (result != nullptr) PQclear(result);
      PQfinish(conn);
      return status;
    }
    PQclear(result);
    return conn;
  }

  // Borrows a connection: an idle one that is still alive, else a new one
  // while fewer than max_connections are open, else waits up to
  // acquire_timeout. `reused` says whether it came from the idle list.
  absl::StatusOr<std::unique_ptr<PgConnection>> Acquire(bool* reused) {
    absl::Time deadline = absl::Now() + options_.acquire_timeout;
    while (true) {
      pg_conn* idle = nullptr;
      {
        absl::MutexLock lock(&mu_);
        while (idle_.empty() && open_ >= options_.max_connections) {
          if (cv_.WaitWithDeadline(&mu_, deadline) && absl::Now() >= deadline) {
            break;
          }
        }
        if (!idle_.empty()) {
          idle = idle_.back();
          idle_.pop_back();
        } else if (open_ < options_.max_connections) {
          ++open_;
        } else {
          return absl::UnavailableError(absl::StrCat(
              "PostgreSQL pool: all ", options_.max_connections,
              " connections stayed busy for ", absl::FormatDuration(options_.acquire_timeout),
              "; the server or the store is overloaded, retry"));
        }
      }
      if (idle != nullptr) {
        // A server restart closes idle connections; reading what is pending
        // (without blocking) notices that before a statement fails on it.
        if (PQconsumeInput(idle) == 0 || PQstatus(idle) != CONNECTION_OK) {
          PQfinish(idle);
          Forget();
          continue;
        }
        *reused = true;
        return std::unique_ptr<PgConnection>(new PgConnection(idle));
      }
      absl::StatusOr<pg_conn*> fresh = Connect();
      if (!fresh.ok()) {
        Forget();
        return fresh.status();
      }
      *reused = false;
      return std::unique_ptr<PgConnection>(new PgConnection(*fresh));
    }
  }

  // Returns a borrowed connection: kept for reuse when healthy and idle,
  // closed otherwise.
  void Release(std::unique_ptr<PgConnection> connection) {
    pg_conn* conn = std::exchange(connection->conn_, nullptr);
    bool keep = !connection->broken_ && PQstatus(conn) == CONNECTION_OK;
    if (keep && PQtransactionStatus(conn) != PQTRANS_IDLE) {
      // The callback left a transaction open: roll it back, or drop the
      // connection if even that fails.
      PGresult* result = PQexec(conn, "ROLLBACK");
      keep = result != nullptr && PQresultStatus(result) == PGRES_COMMAND_OK &&
             PQtransactionStatus(conn) == PQTRANS_IDLE;
      if (result != nullptr) PQclear(result);
    }
    if (!keep) {
      PQfinish(conn);
      Forget();
      return;
    }
    absl::MutexLock lock(&mu_);
    idle_.push_back(conn);
    cv_.Signal();
  }

 private:
  // One open connection fewer (closed or never opened).
  void Forget() {
    absl::MutexLock lock(&mu_);
    --open_;
    cv_.Signal();
  }

  const PgPoolOptions options_;
  const std::string password_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::vector<pg_conn*> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + borrowed
};

PgPool::PgPool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgPool::~PgPool() = default;

absl::StatusOr<std::unique_ptr<PgPool>> PgPool::Open(PgPoolOptions options) {
  std::string password = PasswordOf(options.url);
  if (options.url.empty()) {
    return absl::InvalidArgumentError(
        "--store: empty PostgreSQL URL; expected postgresql://user@host:port/db");
  }
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.url.c_str(), &error);
  if (parsed == nullptr) {
    std::string message = error != nullptr ? OneLine(error) : "cannot parse";
    if (error != nullptr) PQfreemem(error);
    return absl::InvalidArgumentError(absl::StrCat(
        "--store: malformed PostgreSQL URL \"", Redact(options.url, password),
        "\": ", Redact(message, password),
        "; expected postgresql://user[:password]@host:port/db[?param=value]"));
  }
  PQconninfoFree(parsed);
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError("PgPoolOptions.max_connections: must be at least 1");
  }
  auto pool = std::unique_ptr<PgPool>(new PgPool(std::make_unique<Impl>(std::move(options))));
  // One connection now, so that a wrong URL or a down server shows at start.
  OKR_RETURN_IF_ERROR(pool->Ping());
  return pool;
}

absl::Status PgPool::WithConnection(const std::function<absl::Status(PgConnection&)>& fn) {
  bool reused = false;
  OKR_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> connection, impl_->Acquire(&reused));
  absl::Status status = fn(*connection);
  impl_->Release(std::move(connection));
  return status;
}

absl::Status PgPool::Transaction(const std::function<absl::Status(PgConnection&)>& fn,
                                 Isolation isolation, int attempts) {
  const std::string begin = IsolationSql(isolation);
  absl::Status last;
  attempts = std::max(attempts, 1);
  constexpr int kMaxStaleReplaced = 16;
  int stale_replaced = 0;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      // Back off a little (with jitter) so that the transactions that
      // collided do not collide again at once.
      absl::SleepFor(absl::Milliseconds(attempt * 2 + std::rand() % 5));
    }
    bool reused = false;
    OKR_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> connection, impl_->Acquire(&reused));
    PgConnection& conn = *connection;
    conn.retryable_failure_ = false;
    absl::StatusOr<PgRows> begun = conn.Exec(begin);
    if (!begun.ok()) {
      bool broken = conn.broken_;
      impl_->Release(std::move(connection));
      // Nothing ran yet: a pooled connection that died while idle (a server
      // restart) is replaced without using up an attempt.
      if (broken && reused && stale_replaced++ < kMaxStaleReplaced) {
        --attempt;
        continue;
      }
      return begun.status();
    }
    absl::Status status = fn(conn);
    if (status.ok() && PQtransactionStatus(conn.raw()) == PQTRANS_INERROR) {
      status = absl::InternalError(
          "PostgreSQL transaction: a statement failed but the callback returned OK");
    }
    if (status.ok()) {
      absl::StatusOr<PgRows> committed = conn.Exec("COMMIT");
      if (committed.ok() && PQcmdStatus(committed->result_) != absl::string_view("COMMIT")) {
        status = absl::InternalError(absl::StrCat(
            "PostgreSQL transaction ended in ", PQcmdStatus(committed->result_),
            " instead of COMMIT"));
      } else {
        status = committed.status();
      }
    }
    if (status.ok()) {
      impl_->Release(std::move(connection));
      return status;
    }
    if (!conn.broken_ && PQtransactionStatus(conn.raw()) != PQTRANS_IDLE) {
      (void)conn.Exec("ROLLBACK");
    }
    bool retry = conn.retryable_failure_ && !conn.broken_;
    impl_->Release(std::move(connection));
    if (!retry) return status;
    last = status;
  }
  return absl::AbortedError(absl::StrCat("PostgreSQL transaction gave up after ", attempts,
                                         " attempts on conflicting writes; retry later: ",
                                         last.message()));
}

absl::Status PgPool::Ping() {
  absl::Status status = WithConnection([](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(PgRows rows, conn.Exec("SELECT 1"));
    if (rows.size() != 1 || rows.Int(0, 0) != 1) {
      return absl::InternalError("PostgreSQL: SELECT 1 did not return 1");
    }
    return absl::OkStatus();
  });
  if (status.ok() || status.code() == absl::StatusCode::kUnavailable) return status;
  return absl::UnavailableError(absl::StrCat("PostgreSQL health check: ", status.message()));
}

// ---------------------------------------------------------------------------
// PgMigrate

absl::Status PgMigrate(PgPool& pool, absl::string_view table,
                       absl::Span<const PgMigration> migrations) {
  // The table name is spliced into SQL: only plain lower-case identifiers.
  bool valid_table = !table.empty() && table.size() <= 63 && !absl::ascii_isdigit(table[0]);
  for (char c : table) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) valid_table = false;
  }
  if (!valid_table) {
    return absl::InvalidArgumentError(absl::StrCat(
        "migrations table \"", table, "\": must be a lower-case identifier ([a-z_][a-z0-9_]*)"));
  }
  int previous = 0;
  for (const PgMigration& migration : migrations) {
    if (migration.version <= previous) {
      return absl::InvalidArgumentError(absl::StrCat(
          "migration version ", migration.version,
          ": versions must be positive and strictly increasing"));
    }
    previous = migration.version;
  }
  const std::string name(table);
  return pool.WithConnection([&](PgConnection& conn) -> absl::Status {
    // A session-level advisory lock, keyed by the table, serialises replicas
    // that start at once; it is held across the per-migration transactions
    // and dies with the session if this process does.
    std::vector<PgParam> key = {PgParam::Text(name)};
    OKR_RETURN_IF_ERROR(
        conn.Exec("SELECT pg_advisory_lock(hashtext($1)::bigint)", key).status());
    absl::Status status = [&]() -> absl::Status {
      OKR_RETURN_IF_ERROR(conn.ExecScript(absl::StrCat(
          "CREATE TABLE IF NOT EXISTS ", name,
          " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")));
      OKR_ASSIGN_OR_RETURN(PgRows applied,
                           conn.Exec(absl::StrCat("SELECT version FROM ", name)));
      std::vector<int64_t> done;
      for (int i = 0; i < applied.size(); ++i) done.push_back(applied.Int(i, 0));
      for (const PgMigration& migration : migrations) {
        if (std::find(done.begin(), done.end(), migration.version) != done.end()) continue;
        OKR_RETURN_IF_ERROR(conn.ExecScript("BEGIN"));
        absl::Status applied_one = [&]() -> absl::Status {
          OKR_RETURN_IF_ERROR(conn.ExecScript(migration.sql));
          std::vector<PgParam> version = {PgParam::Int(migration.version)};
          OKR_RETURN_IF_ERROR(
              conn.Exec(absl::StrCat("INSERT INTO ", name, " (version) VALUES ($1)"), version)
                  .status());
          return conn.ExecScript("COMMIT");
        }();
        if (!applied_one.ok()) {
          if (!conn.broken()) (void)conn.ExecScript("ROLLBACK");
          return absl::Status(applied_one.code(),
                              absl::StrCat("migration ", migration.version, " of ", name, ": ",
                                           applied_one.message()));
        }
      }
      return absl::OkStatus();
    }();
    if (!conn.broken()) {
      (void)conn.Exec("SELECT pg_advisory_unlock(hashtext($1)::bigint)", key);
    }
    return status;
  });
}

}  // namespace okr
