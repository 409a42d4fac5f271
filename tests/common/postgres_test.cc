// Tests of common/postgres against a real PostgreSQL 15 server
// (tests/support/postgres_server.h): parameters and result decoding, the
// SQLSTATE -> Status mapping, transactions and their retries, the pool's
// limits and its recovery after a server restart, and the migration runner.
#include "common/postgres.h"

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::okr::testing::PostgresServer;
using ::okr::testing::SharedPostgresServer;

// A pool on a fresh database of the shared server.
std::unique_ptr<PgPool> FreshPool(std::string* url_out = nullptr,
                                  PgPoolOptions options = {}) {
  absl::StatusOr<PostgresServer*> server = SharedPostgresServer();
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  absl::StatusOr<std::string> url = (*server)->CreateUniqueDatabase("pg_test");
  EXPECT_TRUE(url.ok()) << url.status();
  if (!url.ok()) return nullptr;
  if (url_out != nullptr) *url_out = *url;
  options.url = *url;
  absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Open(options);
  EXPECT_TRUE(pool.ok()) << pool.status();
  return pool.ok() ? *std::move(pool) : nullptr;
}

// Runs one statement on the pool and returns its rows.
absl::StatusOr<PgRows> Query(PgPool& pool, absl::string_view sql,
                             std::vector<PgParam> params = {}) {
  absl::StatusOr<PgRows> out = absl::InternalError("not run");
  absl::Status status = pool.WithConnection([&](PgConnection& conn) {
    out = conn.Exec(sql, params);
    return out.status();
  });
  if (!status.ok()) return status;
  return out;
}

absl::Time Utc(int64_t year, int month, int day, int hour, int minute, int second) {
  return absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, second),
                         absl::UTCTimeZone());
}

TEST(PgParamTest, TextAndIntRoundTrip) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  const std::string text = "héllo, 'quoted' \"and\" \\ backslash; DROP TABLE x; --";
  const int64_t big = std::numeric_limits<int64_t>::max();
  const int64_t small = std::numeric_limits<int64_t>::min();
  OKR_ASSERT_OK_AND_ASSIGN(
      PgRows rows, Query(*pool, "SELECT $1::text, length($1::text), $2::bigint, $3::bigint, "
                                "$2::bigint > 0, $3::bigint < 0",
                         {PgParam::Text(text), PgParam::Int(big), PgParam::Int(small)}));
  ASSERT_EQ(rows.size(), 1);
  EXPECT_EQ(rows.Text(0, 0), text);
  // Characters, not bytes: the server decoded the parameter as UTF-8 (one
  // character per byte that is not a continuation byte).
  int64_t characters = 0;
  for (unsigned char c : text) characters += (c & 0xc0) != 0x80 ? 1 : 0;
  EXPECT_EQ(characters + 1, static_cast<int64_t>(text.size()));  // one two-byte "é"
  EXPECT_EQ(rows.Int(0, 1), characters);
  EXPECT_EQ(rows.Int(0, 2), big);
  EXPECT_EQ(rows.Int(0, 3), small);
  EXPECT_TRUE(rows.Bool(0, 4));
  EXPECT_TRUE(rows.Bool(0, 5));
}

TEST(PgParamTest, BytesRoundTripEveryByteValue) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  static constexpr char kTail[] = "\0\0\xff\xfe not utf-8 \xc3\x28";
  bytes += std::string(kTail, sizeof(kTail) - 1);
  OKR_ASSERT_OK(Query(*pool, "CREATE TABLE blobs (id int PRIMARY KEY, body bytea NOT NULL)")
                    .status());
  OKR_ASSERT_OK(Query(*pool, "INSERT INTO blobs VALUES (1, $1)", {PgParam::Bytes(bytes)})
                    .status());
  OKR_ASSERT_OK(Query(*pool, "INSERT INTO blobs VALUES (2, $1)", {PgParam::Bytes("")})
                    .status());
  OKR_ASSERT_OK_AND_ASSIGN(
      PgRows rows,
      Query(*pool, "SELECT body, length(body), CASE WHEN id = 1 THEN get_byte(body, 0) END, "
                   "CASE WHEN id = 1 THEN get_byte(body, 255) END, "
                   "CASE WHEN id = 1 THEN get_byte(body, 256) END FROM blobs ORDER BY id"));
  ASSERT_EQ(rows.size(), 2);
  EXPECT_EQ(rows.Bytes(0, 0), bytes);
  // The server saw the same bytes, not their hex text.
  EXPECT_EQ(rows.Int(0, 1), static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(rows.Int(0, 2), 0);
  EXPECT_EQ(rows.Int(0, 3), 255);
  EXPECT_EQ(rows.Int(0, 4), 0);
  EXPECT_EQ(rows.Bytes(1, 0), "");
  EXPECT_FALSE(rows.IsNull(1, 0));
}

TEST(PgParamTest, NullRoundTrip) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(
      PgRows rows, Query(*pool, "SELECT $1::text, $1::text IS NULL, $2::text",
                         {PgParam::Null(), PgParam::Text("")}));
  EXPECT_TRUE(rows.IsNull(0, 0));
  EXPECT_TRUE(rows.Bool(0, 1));
  // An empty string is not NULL.
  EXPECT_FALSE(rows.IsNull(0, 2));
  EXPECT_EQ(rows.Text(0, 2), "");
}

TEST(PgParamTest, InvalidUtf8TextIsInvalidArgument) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  absl::StatusOr<PgRows> rows = Query(*pool, "SELECT $1::text", {PgParam::Text("bad \xc3\x28")});
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument) << rows.status();
  EXPECT_EQ(PgSqlState(rows.status()), "22021");
}

TEST(PgParamTest, TimestampsKeepMicrosecondsAndFarDates) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  struct Case {
    absl::Time time;
    // The same instant written by hand in PostgreSQL's input syntax, so that
    // the server, not our formatter, says what the instant is.
    std::string literal;
  };
  const std::vector<Case> cases = {
      {Utc(2024, 2, 29, 23, 59, 58) + absl::Microseconds(123456),
       "2024-02-29 23:59:58.123456+00"},
      {Utc(2024, 2, 29, 23, 59, 58) + absl::Microseconds(1), "2024-02-29 23:59:58.000001+00"},
      {Utc(1969, 12, 31, 23, 59, 59) + absl::Microseconds(999999),
       "1969-12-31 23:59:59.999999+00"},
      {absl::UnixEpoch(), "1970-01-01 00:00:00+00"},
      {Utc(9999, 12, 31, 23, 59, 59), "9999-12-31 23:59:59+00"},
      {Utc(100000, 1, 1, 0, 0, 0) + absl::Microseconds(5), "100000-01-01 00:00:00.000005+00"},
      {Utc(1, 1, 1, 0, 0, 0), "0001-01-01 00:00:00+00"},
      {Utc(0, 6, 15, 12, 0, 0), "0001-06-15 12:00:00+00 BC"},
      {Utc(-4000, 3, 1, 8, 30, 0) + absl::Microseconds(250), "4001-03-01 08:30:00.00025+00 BC"},
      {absl::InfiniteFuture(), "infinity"},
      {absl::InfinitePast(), "-infinity"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.literal);
    OKR_ASSERT_OK_AND_ASSIGN(
        PgRows rows, Query(*pool, "SELECT $1::timestamptz, $1::timestamptz = $2::timestamptz",
                           {PgParam::Time(c.time), PgParam::Text(c.literal)}));
    EXPECT_TRUE(rows.Bool(0, 1)) << "server has " << rows.Text(0, 0);
    EXPECT_EQ(rows.Time(0, 0), c.time) << rows.Text(0, 0);
  }
  // Sub-microsecond parts are dropped (PostgreSQL keeps microseconds).
  absl::Time precise = Utc(2030, 1, 1, 0, 0, 0) + absl::Nanoseconds(1999);
  OKR_ASSERT_OK_AND_ASSIGN(PgRows rows,
                           Query(*pool, "SELECT $1::timestamptz", {PgParam::Time(precise)}));
  EXPECT_EQ(rows.Time(0, 0), Utc(2030, 1, 1, 0, 0, 0) + absl::Microseconds(1));
}

TEST(PgParamTest, TimestampsFromTheServerAreUtc) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  // A literal with an offset: the connection's UTC session reads it back in UTC.
  OKR_ASSERT_OK_AND_ASSIGN(
      PgRows rows, Query(*pool, "SELECT '2024-06-01 12:00:00.5+02'::timestamptz, "
                                "current_setting('TimeZone')"));
  EXPECT_EQ(rows.Time(0, 0), Utc(2024, 6, 1, 10, 0, 0) + absl::Milliseconds(500));
  EXPECT_EQ(rows.Text(0, 1), "UTC");
}

TEST(PgStatusTest, MapsSqlStates) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  OKR_ASSERT_OK(Query(*pool, "CREATE TABLE parents (id int PRIMARY KEY, n int CHECK (n > 0))")
                    .status());
  OKR_ASSERT_OK(Query(*pool, "CREATE TABLE children (parent int REFERENCES parents (id))")
                    .status());
  OKR_ASSERT_OK(Query(*pool, "INSERT INTO parents VALUES (1, 1)").status());

  absl::Status duplicate = Query(*pool, "INSERT INTO parents VALUES (1, 2)").status();
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists) << duplicate;
  EXPECT_EQ(PgSqlState(duplicate), "23505");
  EXPECT_TRUE(absl::StrContains(duplicate.message(), "INSERT INTO parents")) << duplicate;

  absl::Status check = Query(*pool, "INSERT INTO parents VALUES (2, 0)").status();
  EXPECT_EQ(check.code(), absl::StatusCode::kFailedPrecondition) << check;
  absl::Status foreign = Query(*pool, "INSERT INTO children VALUES (7)").status();
  EXPECT_EQ(foreign.code(), absl::StatusCode::kFailedPrecondition) << foreign;
  EXPECT_EQ(PgSqlState(foreign), "23503");

  absl::Status division = Query(*pool, "SELECT 1 / 0").status();
  EXPECT_EQ(division.code(), absl::StatusCode::kInvalidArgument) << division;
  absl::Status several = Query(*pool, "SELECT 1; SELECT 2").status();
  EXPECT_EQ(several.code(), absl::StatusCode::kInternal) << several;
  absl::Status syntax = Query(*pool, "SELEKT 1").status();
  EXPECT_EQ(syntax.code(), absl::StatusCode::kInternal) << syntax;
  absl::Status forced = Query(*pool, "DO $$ BEGIN RAISE EXCEPTION 'full' USING ERRCODE = "
                                     "'disk_full'; END $$")
                            .status();
  EXPECT_EQ(forced.code(), absl::StatusCode::kResourceExhausted) << forced;
  absl::Status privilege = Query(*pool, "DO $$ BEGIN RAISE EXCEPTION 'no' USING ERRCODE = "
                                        "'insufficient_privilege'; END $$")
                               .status();
  EXPECT_EQ(privilege.code(), absl::StatusCode::kPermissionDenied) << privilege;
  // The pool still works after every failure.
  OKR_EXPECT_OK(pool->Ping());
}

TEST(PgStatusTest, StatementTimeoutIsDeadlineExceeded) {
  PgPoolOptions options;
  options.statement_timeout = absl::Milliseconds(200);
  auto pool = FreshPool(nullptr, options);
  ASSERT_NE(pool, nullptr);
  absl::Time start = absl::Now();
  absl::Status status = Query(*pool, "SELECT pg_sleep(5)").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
}

TEST(PgTransactionTest, CommitsOrRollsBack) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  OKR_ASSERT_OK(Query(*pool, "CREATE TABLE t (v int)").status());
  OKR_ASSERT_OK(pool->Transaction([](PgConnection& conn) {
    return conn.Exec("INSERT INTO t VALUES (1)").status();
  }));
  absl::Status failed = pool->Transaction([](PgConnection& conn) -> absl::Status {
    OKR_RETURN_IF_ERROR(conn.Exec("INSERT INTO t VALUES (2)").status());
    return absl::FailedPreconditionError("caller changed its mind");
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kFailedPrecondition);
  // A statement error the callback swallowed still rolls back.
  absl::Status swallowed = pool->Transaction([](PgConnection& conn) {
    (void)conn.Exec("INSERT INTO t VALUES (3)");
    (void)conn.Exec("INSERT INTO missing_table VALUES (1)");
    return absl::OkStatus();
  });
  EXPECT_FALSE(swallowed.ok());
  OKR_ASSERT_OK_AND_ASSIGN(PgRows rows, Query(*pool, "SELECT v FROM t ORDER BY v"));
  ASSERT_EQ(rows.size(), 1);
  EXPECT_EQ(rows.Int(0, 0), 1);
}

constexpr absl::string_view kForceSerializationFailure =
    "DO $$ BEGIN RAISE EXCEPTION 'forced conflict' USING ERRCODE = "
    "'serialization_failure'; END $$";

TEST(PgTransactionTest, RetriesSerializationFailures) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  OKR_ASSERT_OK(Query(*pool, "CREATE TABLE t (v int)").status());
  int calls = 0;
  OKR_ASSERT_OK(pool->Transaction(
      [&](PgConnection& conn) -> absl::Status {
        ++calls;
        OKR_RETURN_IF_ERROR(conn.Exec("INSERT INTO t VALUES ($1)", {PgParam::Int(calls)})
                                .status());
        if (calls < 3) OKR_RETURN_IF_ERROR(conn.ExecScript(kForceSerializationFailure));
        return absl::OkStatus();
      },
      PgPool::Isolation::kSerializable, /*attempts=*/5));
  EXPECT_EQ(calls, 3);
  // Only the successful attempt's row is there.
  OKR_ASSERT_OK_AND_ASSIGN(PgRows rows, Query(*pool, "SELECT v FROM t"));
  ASSERT_EQ(rows.size(), 1);
  EXPECT_EQ(rows.Int(0, 0), 3);
}

TEST(PgTransactionTest, GivesUpWithAbortedWhenConflictsPersist) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  int calls = 0;
  absl::Status status = pool->Transaction(
      [&](PgConnection& conn) {
        ++calls;
        return conn.ExecScript(kForceSerializationFailure);
      },
      PgPool::Isolation::kRepeatableRead, /*attempts=*/4);
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
  EXPECT_EQ(calls, 4);
  EXPECT_TRUE(absl::StrContains(status.message(), "4 attempts")) << status;
  OKR_EXPECT_OK(pool->Ping());
}

TEST(PgTransactionTest, CallersOwnAbortedIsNotRetried) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  int calls = 0;
  absl::Status status = pool->Transaction([&](PgConnection&) {
    ++calls;
    return absl::AbortedError("stale base sequence");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(status.message(), "stale base sequence");
  EXPECT_EQ(calls, 1);
}

TEST(PgTransactionTest, ConcurrentSerializableIncrementsAllLand) {
  std::string url;
  auto pool = FreshPool(&url);
  ASSERT_NE(pool, nullptr);
  OKR_ASSERT_OK(Query(*pool, "CREATE TABLE counter (n int NOT NULL)").status());
  OKR_ASSERT_OK(Query(*pool, "INSERT INTO counter VALUES (0)").status());
  PgPoolOptions second_options;
  second_options.url = url;
  OKR_ASSERT_OK_AND_ASSIGN(auto second, PgPool::Open(second_options));
  constexpr int kThreads = 4;
  constexpr int kIncrements = 10;
  std::atomic<int> failures{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    PgPool* target = t % 2 == 0 ? pool.get() : second.get();
    threads.emplace_back([&, target] {
      for (int i = 0; i < kIncrements; ++i) {
        bool first = true;
        absl::Status status = target->Transaction(
            [&](PgConnection& conn) -> absl::Status {
              if (!first) conflicts.fetch_add(1);
              first = false;
              OKR_ASSIGN_OR_RETURN(PgRows rows, conn.Exec("SELECT n FROM counter"));
              // Widen the window between the read and the write.
              absl::SleepFor(absl::Milliseconds(1));
              return conn.Exec("UPDATE counter SET n = $1", {PgParam::Int(rows.Int(0, 0) + 1)})
                  .status();
            },
            PgPool::Isolation::kSerializable, /*attempts=*/200);
        if (!status.ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  OKR_ASSERT_OK_AND_ASSIGN(PgRows rows, Query(*pool, "SELECT n FROM counter"));
  EXPECT_EQ(rows.Int(0, 0), kThreads * kIncrements);
  // The race really happened (otherwise this test proves nothing).
  EXPECT_GT(conflicts.load(), 0);
}

TEST(PgPoolTest, ExhaustedPoolIsUnavailableAfterAcquireTimeout) {
  PgPoolOptions options;
  options.max_connections = 1;
  options.acquire_timeout = absl::Milliseconds(300);
  auto pool = FreshPool(nullptr, options);
  ASSERT_NE(pool, nullptr);
  absl::Status inner;
  absl::Duration waited;
  OKR_ASSERT_OK(pool->WithConnection([&](PgConnection&) {
    absl::Time start = absl::Now();
    inner = pool->Ping();
    waited = absl::Now() - start;
    return absl::OkStatus();
  }));
  EXPECT_EQ(inner.code(), absl::StatusCode::kUnavailable) << inner;
  EXPECT_TRUE(absl::StrContains(inner.message(), "busy")) << inner;
  EXPECT_GE(waited, absl::Milliseconds(290));
  EXPECT_LT(waited, absl::Seconds(3));
  // Returned: usable again.
  OKR_EXPECT_OK(pool->Ping());
}

TEST(PgPoolTest, WaitersGetAConnectionWhenOneIsReturned) {
  PgPoolOptions options;
  options.max_connections = 2;
  options.acquire_timeout = absl::Seconds(20);
  auto pool = FreshPool(nullptr, options);
  ASSERT_NE(pool, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      absl::Status status = pool->WithConnection([](PgConnection& conn) {
        return conn.Exec("SELECT pg_sleep(0.05)").status();
      });
      if (status.ok()) ok.fetch_add(1);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 6);
  OKR_ASSERT_OK_AND_ASSIGN(
      PgRows rows, Query(*pool, "SELECT count(*) FROM pg_stat_activity WHERE "
                                "datname = current_database() AND application_name = 'okr'"));
  EXPECT_LE(rows.Int(0, 0), 2);
}

TEST(PgPoolTest, MalformedUrlIsInvalidArgumentWithoutPassword) {
  for (const std::string url : {"postgresql://okr:s3cretpw@127.0.0.1:5432/db?nonsense_option=1",
                                "postgresql://okr:s3cretpw@[::1/db"}) {
    SCOPED_TRACE(url);
    PgPoolOptions options;
    options.url = url;
    absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Open(options);
    EXPECT_EQ(pool.status().code(), absl::StatusCode::kInvalidArgument) << pool.status();
    EXPECT_TRUE(absl::StrContains(pool.status().message(), "--store")) << pool.status();
    EXPECT_FALSE(absl::StrContains(pool.status().message(), "s3cretpw")) << pool.status();
  }
}

TEST(PgPoolTest, UnreachableServerIsUnavailableWithoutPassword) {
  OKR_ASSERT_OK_AND_ASSIGN(int port, FreeLoopbackPort());
  PgPoolOptions options;
  options.url = absl::StrCat("postgresql://okr:s3cretpw@127.0.0.1:", port, "/db");
  options.connect_timeout = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Open(options);
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kUnavailable) << pool.status();
  EXPECT_FALSE(absl::StrContains(pool.status().message(), "s3cretpw")) << pool.status();
  EXPECT_TRUE(absl::StrContains(pool.status().message(), absl::StrCat(port)))
      << pool.status();
}

TEST(PgPoolTest, StoppedServerIsUnavailableAndThePoolRecoversAfterRestart) {
  // A server of its own: stopping the shared one would disturb other tests.
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PostgresServer> server, PostgresServer::Start());
  OKR_ASSERT_OK_AND_ASSIGN(std::string url, server->CreateUniqueDatabase("outage"));
  PgPoolOptions options;
  options.url = url;
  options.max_connections = 3;
  options.connect_timeout = absl::Seconds(2);
  OKR_ASSERT_OK_AND_ASSIGN(auto pool, PgPool::Open(options));
  OKR_ASSERT_OK(Query(*pool, "CREATE TABLE t (v int)").status());
  OKR_ASSERT_OK(Query(*pool, "INSERT INTO t VALUES (42)").status());
  // Several idle connections in the pool, all of which the restart kills.
  std::vector<std::thread> warm;
  for (int i = 0; i < 3; ++i) {
    warm.emplace_back([&] {
      (void)pool->WithConnection(
          [](PgConnection& conn) { return conn.Exec("SELECT pg_sleep(0.05)").status(); });
    });
  }
  for (std::thread& thread : warm) thread.join();

  OKR_ASSERT_OK(server->Stop());
  absl::Status ping = pool->Ping();
  EXPECT_EQ(ping.code(), absl::StatusCode::kUnavailable) << ping;
  absl::Status transaction = pool->Transaction(
      [](PgConnection& conn) { return conn.Exec("INSERT INTO t VALUES (1)").status(); });
  EXPECT_EQ(transaction.code(), absl::StatusCode::kUnavailable) << transaction;
  absl::Status read = Query(*pool, "SELECT v FROM t").status();
  EXPECT_EQ(read.code(), absl::StatusCode::kUnavailable) << read;

  OKR_ASSERT_OK(server->Restart());
  // The very first calls after the restart succeed: dead idle connections
  // are noticed and replaced, not handed out.
  OKR_EXPECT_OK(pool->Ping());
  OKR_ASSERT_OK_AND_ASSIGN(PgRows rows, Query(*pool, "SELECT v FROM t"));
  ASSERT_EQ(rows.size(), 1);
  EXPECT_EQ(rows.Int(0, 0), 42);
  OKR_EXPECT_OK(pool->Transaction(
      [](PgConnection& conn) { return conn.Exec("INSERT INTO t VALUES (2)").status(); }));
}

TEST(PgPoolTest, RestartWhileIdleDoesNotFailTheNextTransaction) {
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PostgresServer> server, PostgresServer::Start());
  OKR_ASSERT_OK_AND_ASSIGN(std::string url, server->CreateUniqueDatabase("restart"));
  PgPoolOptions options;
  options.url = url;
  OKR_ASSERT_OK_AND_ASSIGN(auto pool, PgPool::Open(options));
  OKR_ASSERT_OK(Query(*pool, "CREATE TABLE t (v int)").status());
  OKR_ASSERT_OK(server->Stop());
  OKR_ASSERT_OK(server->Restart());
  OKR_EXPECT_OK(pool->Transaction(
      [](PgConnection& conn) { return conn.Exec("INSERT INTO t VALUES (1)").status(); }));
}

std::vector<PgMigration> Migrations() {
  return {
      // Not idempotent on purpose: running it twice fails.
      {1, "CREATE TABLE things (id int PRIMARY KEY); CREATE TABLE runs (n int)"},
      {2, "ALTER TABLE things ADD COLUMN name text; INSERT INTO runs VALUES (2)"},
  };
}

TEST(PgMigrateTest, AppliesEachMigrationOnce) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  std::vector<PgMigration> migrations = Migrations();
  OKR_ASSERT_OK(PgMigrate(*pool, "test_schema_migrations", {migrations[0]}));
  OKR_ASSERT_OK(PgMigrate(*pool, "test_schema_migrations", {migrations[0]}));
  OKR_ASSERT_OK(PgMigrate(*pool, "test_schema_migrations", migrations));
  OKR_ASSERT_OK(PgMigrate(*pool, "test_schema_migrations", migrations));
  OKR_ASSERT_OK_AND_ASSIGN(PgRows runs, Query(*pool, "SELECT n FROM runs"));
  EXPECT_EQ(runs.size(), 1);
  OKR_ASSERT_OK_AND_ASSIGN(PgRows versions,
                           Query(*pool, "SELECT version FROM test_schema_migrations "
                                        "ORDER BY version"));
  ASSERT_EQ(versions.size(), 2);
  EXPECT_EQ(versions.Int(0, 0), 1);
  EXPECT_EQ(versions.Int(1, 0), 2);
  // Another service's migrations table is independent.
  OKR_ASSERT_OK(PgMigrate(*pool, "other_schema_migrations",
                          {{1, "CREATE TABLE other_things (id int)"}}));
}

TEST(PgMigrateTest, FailedMigrationIsRolledBackAndNotRecorded) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  std::vector<PgMigration> migrations = Migrations();
  migrations.push_back({3, "CREATE TABLE half (id int); SELECT no_such_function()"});
  absl::Status status = PgMigrate(*pool, "test_schema_migrations", migrations);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), "migration 3")) << status;
  OKR_ASSERT_OK_AND_ASSIGN(PgRows half,
                           Query(*pool, "SELECT to_regclass('half') IS NULL"));
  EXPECT_TRUE(half.Bool(0, 0));
  OKR_ASSERT_OK_AND_ASSIGN(PgRows versions,
                           Query(*pool, "SELECT max(version) FROM test_schema_migrations"));
  EXPECT_EQ(versions.Int(0, 0), 2);
  // Fixed, it applies.
  migrations.back().sql = "CREATE TABLE half (id int)";
  OKR_EXPECT_OK(PgMigrate(*pool, "test_schema_migrations", migrations));
}

TEST(PgMigrateTest, RejectsBadTableNamesAndVersions) {
  auto pool = FreshPool();
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(PgMigrate(*pool, "x; DROP TABLE y", Migrations()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PgMigrate(*pool, "m", {{2, "SELECT 1"}, {1, "SELECT 1"}}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PgMigrateTest, ConcurrentPoolsApplyEachMigrationOnce) {
  std::string url;
  auto first = FreshPool(&url);
  ASSERT_NE(first, nullptr);
  PgPoolOptions options;
  options.url = url;
  OKR_ASSERT_OK_AND_ASSIGN(auto second, PgPool::Open(options));
  std::vector<PgMigration> migrations = Migrations();
  // A slow first migration keeps the race window open.
  migrations[0].sql += "; SELECT pg_sleep(0.3)";
  absl::Status first_status, second_status;
  std::thread a([&] { first_status = PgMigrate(*first, "test_schema_migrations", migrations); });
  std::thread b(
      [&] { second_status = PgMigrate(*second, "test_schema_migrations", migrations); });
  a.join();
  b.join();
  OKR_EXPECT_OK(first_status);
  OKR_EXPECT_OK(second_status);
  OKR_ASSERT_OK_AND_ASSIGN(PgRows runs, Query(*first, "SELECT count(*) FROM runs"));
  EXPECT_EQ(runs.Int(0, 0), 1);
}

}  // namespace
}  // namespace okr
