#include "common/sqlite.h"

#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::testing::HasSubstr;

// Reads a single integer, e.g. "SELECT count(*) FROM t".
int64_t QueryInt(SqliteDb& db, absl::string_view sql) {
  absl::StatusOr<Statement> stmt = db.Prepare(sql);
  EXPECT_TRUE(stmt.ok()) << stmt.status();
  if (!stmt.ok()) return -1;
  absl::StatusOr<bool> row = stmt->Step();
  EXPECT_TRUE(row.ok() && *row) << sql;
  if (!row.ok() || !*row) return -1;
  return stmt->ColumnInt64(0);
}

std::string QueryText(SqliteDb& db, absl::string_view sql) {
  absl::StatusOr<Statement> stmt = db.Prepare(sql);
  EXPECT_TRUE(stmt.ok()) << stmt.status();
  if (!stmt.ok()) return "";
  absl::StatusOr<bool> row = stmt->Step();
  EXPECT_TRUE(row.ok() && *row) << sql;
  if (!row.ok() || !*row) return "";
  return stmt->ColumnText(0);
}

bool TableExists(SqliteDb& db, absl::string_view table) {
  return QueryInt(db, absl::StrCat("SELECT count(*) FROM sqlite_master WHERE "
                                   "type = 'table' AND name = '",
                                   table, "'")) == 1;
}

class SqliteTest : public ::testing::Test {
 protected:
  std::string DbPath() const { return dir_.File("okr.db"); }

  std::unique_ptr<SqliteDb> OpenDb(SqliteOptions options = {}) {
    absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(DbPath(), options);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  TempDir dir_;
};

constexpr Migration kV1 = {1, "create_objectives",
                           "CREATE TABLE objectives (id TEXT PRIMARY KEY, title TEXT);"};
// Not idempotent on purpose: running it twice would insert a second row.
constexpr Migration kV2 = {2, "seed_objective",
                           "INSERT INTO objectives (id, title) VALUES ('o1', 'Ship v1');"};
constexpr Migration kV3 = {
    3, "create_key_results",
    "CREATE TABLE key_results ("
    "  id TEXT PRIMARY KEY,"
    "  objective_id TEXT NOT NULL REFERENCES objectives(id),"
    "  weight REAL NOT NULL CHECK (weight > 0));"};

TEST_F(SqliteTest, OpenAppliesPragmas) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(QueryText(*db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(QueryInt(*db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(QueryInt(*db, "PRAGMA synchronous"), 1);  // NORMAL

  SqliteOptions full;
  full.durability = SqliteDurability::kPowerLoss;
  full.busy_timeout = absl::Milliseconds(1234);
  auto db_full = OpenDb(full);
  ASSERT_NE(db_full, nullptr);
  EXPECT_EQ(QueryInt(*db_full, "PRAGMA synchronous"), 2);  // FULL
  EXPECT_EQ(QueryInt(*db_full, "PRAGMA busy_timeout"), 1234);
}

TEST_F(SqliteTest, MigrationsAreAppliedOnceAcrossRuns) {
  const std::vector<Migration> migrations = {kV1, kV2};
  {
    auto db = OpenDb();
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(*SchemaVersion(*db), 0);
    OKR_ASSERT_OK_AND_ASSIGN(int version, Migrate(*db, migrations));
    EXPECT_EQ(version, 2);
    EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM schema_migrations"), 2);
    EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM objectives"), 1);
    // The same connection again: nothing pending.
    OKR_ASSERT_OK_AND_ASSIGN(version, Migrate(*db, migrations));
    EXPECT_EQ(version, 2);
  }
  {
    // A second "process start".
    auto db = OpenDb();
    ASSERT_NE(db, nullptr);
    OKR_ASSERT_OK_AND_ASSIGN(int version, Migrate(*db, migrations));
    EXPECT_EQ(version, 2);
    EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM schema_migrations"), 2);
    EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM objectives"), 1);
    EXPECT_EQ(QueryText(*db, "SELECT name FROM schema_migrations WHERE version = 2"),
              "seed_objective");

    // A newer binary adds migration 3: only it runs.
    OKR_ASSERT_OK_AND_ASSIGN(version, Migrate(*db, {kV1, kV2, kV3}));
    EXPECT_EQ(version, 3);
    EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM schema_migrations"), 3);
    EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM objectives"), 1);
    EXPECT_TRUE(TableExists(*db, "key_results"));
    EXPECT_EQ(*SchemaVersion(*db), 3);
  }
}

TEST_F(SqliteTest, FailingMigrationRollsBackCompletely) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  const Migration broken = {
      2, "half_done",
      "CREATE TABLE reviews (id TEXT PRIMARY KEY);"
      "INSERT INTO objectives (id, title) VALUES ('o2', 'leftover');"
      "INSERT INTO no_such_table VALUES (1);"};
  absl::StatusOr<int> result = Migrate(*db, {kV1, broken});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("migration 2 (half_done)"));
  EXPECT_THAT(result.status().message(), HasSubstr("no such table: no_such_table"));

  // Migration 1 committed on its own; nothing of migration 2 is left.
  EXPECT_EQ(*SchemaVersion(*db), 1);
  EXPECT_TRUE(TableExists(*db, "objectives"));
  EXPECT_FALSE(TableExists(*db, "reviews"));
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM objectives"), 0);
  EXPECT_FALSE(db->InTransaction());

  // The fixed migration then applies normally.
  const Migration fixed = {2, "half_done", "CREATE TABLE reviews (id TEXT PRIMARY KEY);"};
  OKR_ASSERT_OK_AND_ASSIGN(int version, Migrate(*db, {kV1, fixed}));
  EXPECT_EQ(version, 2);
  EXPECT_TRUE(TableExists(*db, "reviews"));
}

TEST_F(SqliteTest, RefusesDatabaseNewerThanTheCode) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK(Migrate(*db, {kV1, kV2, kV3}));

  absl::StatusOr<int> old_binary = Migrate(*db, {kV1, kV2});
  EXPECT_EQ(old_binary.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(old_binary.status().message(), HasSubstr("schema version 3"));
  EXPECT_THAT(old_binary.status().message(), HasSubstr("knows versions up to 2"));
  EXPECT_EQ(*SchemaVersion(*db), 3);
}

TEST_F(SqliteTest, RefusesMismatchedOrMalformedHistory) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK(Migrate(*db, {kV1, kV2}));

  const Migration renamed = {2, "something_else", "SELECT 1;"};
  absl::StatusOr<int> mismatch = Migrate(*db, {kV1, renamed});
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(mismatch.status().message(), HasSubstr("something_else"));

  absl::StatusOr<int> unordered = Migrate(*db, {kV2, kV1});
  EXPECT_EQ(unordered.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unordered.status().message(), HasSubstr("migrations[1].version"));

  const Migration zero = {0, "zero", "SELECT 1;"};
  EXPECT_EQ(Migrate(*db, {zero}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteTest, TransactionRollsBackOnErrorAndOnDestruction) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK(Migrate(*db, {kV1}));

  // An early return with an error: the destructor rolls back.
  auto insert_then_fail = [&db]() -> absl::Status {
    OKR_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db));
    OKR_RETURN_IF_ERROR(db->Exec("INSERT INTO objectives VALUES ('a', 'first')"));
    // Duplicate key: fails half-way through the transaction.
    OKR_RETURN_IF_ERROR(db->Exec("INSERT INTO objectives VALUES ('a', 'again')"));
    return txn.Commit();
  };
  absl::Status failed = insert_then_fail();
  EXPECT_EQ(failed.code(), absl::StatusCode::kAlreadyExists) << failed;
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM objectives"), 0);
  EXPECT_FALSE(db->InTransaction());

  {
    OKR_ASSERT_OK_AND_ASSIGN(Transaction txn, Transaction::Begin(*db));
    OKR_ASSERT_OK(db->Exec("INSERT INTO objectives VALUES ('b', 'dropped')"));
    EXPECT_TRUE(db->InTransaction());
    EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM objectives"), 1);
    // No Commit(): leaving the scope must undo the insert.
  }
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM objectives"), 0);

  {
    OKR_ASSERT_OK_AND_ASSIGN(Transaction txn, Transaction::Begin(*db));
    OKR_ASSERT_OK(db->Exec("INSERT INTO objectives VALUES ('c', 'kept')"));
    // Nested BEGIN is refused without disturbing the open transaction.
    EXPECT_EQ(Transaction::Begin(*db).status().code(),
              absl::StatusCode::kFailedPrecondition);
    OKR_ASSERT_OK(txn.Commit());
    EXPECT_EQ(txn.Commit().code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(QueryText(*db, "SELECT group_concat(id) FROM objectives"), "c");

  {
    OKR_ASSERT_OK_AND_ASSIGN(Transaction txn, Transaction::Begin(*db));
    OKR_ASSERT_OK(db->Exec("DELETE FROM objectives"));
    OKR_ASSERT_OK(txn.Rollback());
    EXPECT_FALSE(db->InTransaction());
  }
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM objectives"), 1);
}

TEST_F(SqliteTest, BindsAndReadsEveryType) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK(db->Exec("CREATE TABLE v (k INTEGER PRIMARY KEY, i INTEGER, "
                         "d REAL, t TEXT, b BLOB, n TEXT)"));

  const std::string text_with_nul("a\0b\0", 4);
  const std::string utf8 = "Z\xC3\xBCrich \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC";
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

  OKR_ASSERT_OK_AND_ASSIGN(Statement insert,
                           db->Prepare("INSERT INTO v VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  // By index.
  OKR_ASSERT_OK(insert.BindInt64(1, 1));
  OKR_ASSERT_OK(insert.BindInt64(2, kMax));
  OKR_ASSERT_OK(insert.BindDouble(3, -0.125));
  OKR_ASSERT_OK(insert.BindText(4, text_with_nul));
  OKR_ASSERT_OK(insert.BindBlob(5, all_bytes));
  OKR_ASSERT_OK(insert.BindNull(6));
  OKR_ASSERT_OK(insert.Run());
  EXPECT_EQ(db->Changes(), 1);
  EXPECT_EQ(db->LastInsertRowId(), 1);

  // Reuse after Reset(); bindings survive until ClearBindings().
  insert.Reset();
  OKR_ASSERT_OK(insert.BindInt64(1, 2));
  OKR_ASSERT_OK(insert.BindInt64(2, kMin));
  OKR_ASSERT_OK(insert.BindText(4, utf8));
  OKR_ASSERT_OK(insert.BindBlob(5, ""));
  OKR_ASSERT_OK(insert.Run());
  insert.Reset();
  insert.ClearBindings();
  OKR_ASSERT_OK(insert.BindInt64(1, 3));
  OKR_ASSERT_OK(insert.Run());

  // By name.
  OKR_ASSERT_OK_AND_ASSIGN(
      Statement named,
      db->Prepare("INSERT INTO v (k, i, d, t, b, n) VALUES (:k, :i, @d, $t, :b, :n)"));
  OKR_ASSERT_OK(named.BindInt64(":k", 4));
  OKR_ASSERT_OK(named.BindInt64(":i", -7));
  OKR_ASSERT_OK(named.BindDouble("@d", 1e300));
  OKR_ASSERT_OK(named.BindText("$t", ""));
  OKR_ASSERT_OK(named.BindBlob(":b", std::string("\0\xff", 2)));
  OKR_ASSERT_OK(named.BindNull(":n"));
  OKR_ASSERT_OK(named.Run());

  OKR_ASSERT_OK_AND_ASSIGN(
      Statement select,
      db->Prepare("SELECT k, i, d, t, b, n, typeof(t), length(CAST(t AS BLOB)) "
                  "FROM v ORDER BY k"));
  ASSERT_EQ(select.ColumnCount(), 8);
  EXPECT_EQ(select.ColumnName(3), "t");

  ASSERT_TRUE(*select.Step());
  EXPECT_EQ(select.ColumnInt64(1), kMax);
  EXPECT_EQ(select.ColumnDouble(2), -0.125);
  EXPECT_EQ(select.ColumnText(3), text_with_nul);
  EXPECT_EQ(select.ColumnText(3).size(), 4u);
  EXPECT_EQ(select.ColumnBlob(4), all_bytes);
  EXPECT_TRUE(select.ColumnIsNull(5));
  EXPECT_EQ(select.ColumnText(6), "text");
  EXPECT_EQ(select.ColumnInt64(7), 4);  // the NULs were stored, not truncated

  ASSERT_TRUE(*select.Step());
  EXPECT_EQ(select.ColumnInt64(1), kMin);
  EXPECT_EQ(select.ColumnDouble(2), -0.125);  // kept from the first binding
  EXPECT_EQ(select.ColumnText(3), utf8);
  EXPECT_FALSE(select.ColumnIsNull(4));
  EXPECT_EQ(select.ColumnBlob(4), "");

  ASSERT_TRUE(*select.Step());  // everything but k cleared to NULL
  EXPECT_EQ(select.ColumnInt64(0), 3);
  for (int c = 1; c <= 5; ++c) EXPECT_TRUE(select.ColumnIsNull(c)) << c;

  ASSERT_TRUE(*select.Step());
  EXPECT_EQ(select.ColumnInt64(1), -7);
  EXPECT_EQ(select.ColumnDouble(2), 1e300);
  EXPECT_FALSE(select.ColumnIsNull(3));
  EXPECT_EQ(select.ColumnText(3), "");
  EXPECT_EQ(select.ColumnBlob(4), std::string("\0\xff", 2));
  EXPECT_TRUE(select.ColumnIsNull(5));

  EXPECT_FALSE(*select.Step());
}

TEST_F(SqliteTest, BindingMistakesAreInvalidArgument) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(Statement stmt, db->Prepare("SELECT :a, ?2"));
  absl::Status out_of_range = stmt.BindInt64(3, 1);
  EXPECT_EQ(out_of_range.code(), absl::StatusCode::kInvalidArgument) << out_of_range;
  absl::Status unknown = stmt.BindText(":missing", "x");
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.message(), HasSubstr(":missing"));
  EXPECT_EQ(*stmt.ParameterIndex(":a"), 1);
}

TEST_F(SqliteTest, PrepareRejectsBadSqlAndScripts) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  absl::StatusOr<Statement> bad = db->Prepare("SELEC 1");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(bad.status().message(), HasSubstr("syntax error"));

  absl::StatusOr<Statement> two = db->Prepare("SELECT 1; SELECT 2");
  EXPECT_EQ(two.status().code(), absl::StatusCode::kInvalidArgument);
  OKR_EXPECT_OK(db->Prepare("SELECT 1;  \n"));
}

TEST_F(SqliteTest, ConstraintViolationsMapToCodes) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK(Migrate(*db, {kV1, kV2, kV3}));

  absl::Status duplicate = db->Exec("INSERT INTO objectives VALUES ('o1', 'dup')");
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists) << duplicate;
  EXPECT_THAT(duplicate.message(), HasSubstr("UNIQUE constraint failed: objectives.id"));

  // Foreign keys are enforced (Open turns them on).
  absl::Status orphan = db->Exec("INSERT INTO key_results VALUES ('k1', 'nope', 1)");
  EXPECT_EQ(orphan.code(), absl::StatusCode::kFailedPrecondition) << orphan;
  EXPECT_THAT(orphan.message(), HasSubstr("FOREIGN KEY constraint failed"));

  absl::Status check = db->Exec("INSERT INTO key_results VALUES ('k1', 'o1', 0)");
  EXPECT_EQ(check.code(), absl::StatusCode::kFailedPrecondition) << check;
  EXPECT_THAT(check.message(), HasSubstr("CHECK constraint failed"));
}

TEST_F(SqliteTest, BusyWriterGetsUnavailableWhileReadersProceed) {
  SqliteOptions impatient;
  impatient.busy_timeout = absl::Milliseconds(50);
  auto writer = OpenDb();
  auto other = OpenDb(impatient);
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(other, nullptr);
  OKR_ASSERT_OK(Migrate(*writer, {kV1}));

  OKR_ASSERT_OK_AND_ASSIGN(Transaction txn, Transaction::Begin(*writer));
  OKR_ASSERT_OK(writer->Exec("INSERT INTO objectives VALUES ('w', 'pending')"));

  const absl::Time start = absl::Now();
  absl::StatusOr<Transaction> second = Transaction::Begin(*other);
  const absl::Duration waited = absl::Now() - start;
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr("database is locked"));
  EXPECT_GE(waited, absl::Milliseconds(40));  // it honoured the busy timeout
  EXPECT_FALSE(other->InTransaction());

  // WAL: a reader is not blocked by the writer and sees the last commit.
  EXPECT_EQ(QueryInt(*other, "SELECT count(*) FROM objectives"), 0);

  OKR_ASSERT_OK(txn.Commit());
  OKR_ASSERT_OK_AND_ASSIGN(Transaction now_free, Transaction::Begin(*other));
  EXPECT_EQ(QueryInt(*other, "SELECT count(*) FROM objectives"), 1);
  OKR_EXPECT_OK(now_free.Commit());
}

TEST_F(SqliteTest, ReadOnlyDatabaseSaysSo) {
  {
    auto db = OpenDb();
    ASSERT_NE(db, nullptr);
    OKR_ASSERT_OK(Migrate(*db, {kV1, kV2}));
  }
  SqliteOptions read_only;
  read_only.read_only = true;
  auto db = OpenDb(read_only);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM objectives"), 1);
  // Migrating to the version it already has needs no write.
  OKR_ASSERT_OK_AND_ASSIGN(int version, Migrate(*db, {kV1, kV2}));
  EXPECT_EQ(version, 2);

  absl::Status write = db->Exec("INSERT INTO objectives VALUES ('x', 'y')");
  EXPECT_EQ(write.code(), absl::StatusCode::kFailedPrecondition) << write;
  EXPECT_THAT(write.message(), HasSubstr("readonly database"));
  EXPECT_THAT(write.message(), HasSubstr("read-only"));

  // A pending migration cannot be applied either, and says why.
  absl::StatusOr<int> migrate = Migrate(*db, {kV1, kV2, kV3});
  EXPECT_EQ(migrate.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(migrate.status().message(), HasSubstr("read-only"));
}

TEST_F(SqliteTest, OpenReportsMissingAndForeignFiles) {
  SqliteOptions read_only;
  read_only.read_only = true;
  absl::StatusOr<std::unique_ptr<SqliteDb>> missing =
      SqliteDb::Open(dir_.File("absent.db"), read_only);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("absent.db"));

  SqliteOptions no_create;
  no_create.create_if_missing = false;
  EXPECT_EQ(SqliteDb::Open(dir_.File("absent.db"), no_create).status().code(),
            absl::StatusCode::kNotFound);

  const std::string junk = dir_.File("junk.db");
  std::ofstream(junk) << std::string(4096, 'x');
  absl::StatusOr<std::unique_ptr<SqliteDb>> not_db = SqliteDb::Open(junk);
  EXPECT_EQ(not_db.status().code(), absl::StatusCode::kDataLoss) << not_db.status();
  EXPECT_THAT(not_db.status().message(), HasSubstr("not a database"));
}

TEST_F(SqliteTest, CachedStatementsArePreparedOnceAndComeBackClean) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  constexpr absl::string_view kSql = "SELECT ?1";
  OKR_ASSERT_OK_AND_ASSIGN(Statement * first, db->Cached(kSql));
  OKR_ASSERT_OK(first->BindInt64(1, 42));
  ASSERT_TRUE(*first->Step());
  EXPECT_EQ(first->ColumnInt64(0), 42);

  // Returned mid-row: Cached() resets it and clears the binding.
  OKR_ASSERT_OK_AND_ASSIGN(Statement * again, db->Cached(kSql));
  EXPECT_EQ(again, first);
  ASSERT_TRUE(*again->Step());
  EXPECT_TRUE(again->ColumnIsNull(0));
}

TEST_F(SqliteTest, InMemoryDatabaseWorks) {
  OKR_ASSERT_OK_AND_ASSIGN(auto db, SqliteDb::Open(":memory:"));
  OKR_ASSERT_OK_AND_ASSIGN(int version, Migrate(*db, {kV1, kV2}));
  EXPECT_EQ(version, 2);
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM objectives"), 1);
}

TEST(SqliteStatusTest, MapsResultCodes) {
  EXPECT_TRUE(SqliteStatus(0, nullptr, "ok").ok());
  EXPECT_TRUE(SqliteStatus(101, nullptr, "done").ok());
  // Primary codes from sqlite3.h: BUSY 5, READONLY 8, IOERR 10, FULL 13,
  // CONSTRAINT 19 (UNIQUE is 19 | 8 << 8).
  EXPECT_EQ(SqliteStatus(5, nullptr, "x").code(), absl::StatusCode::kUnavailable);
  absl::Status readonly = SqliteStatus(8, nullptr, "writing");
  EXPECT_EQ(readonly.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(readonly.message(), HasSubstr("writing: "));
  absl::Status io = SqliteStatus(10, nullptr, "x");
  EXPECT_EQ(io.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(io.message(), HasSubstr("disk I/O error"));
  absl::Status full = SqliteStatus(13, nullptr, "x");
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("disk is full"));
  EXPECT_EQ(SqliteStatus(19 | (8 << 8), nullptr, "x").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(SqliteStatus(19 | (3 << 8), nullptr, "x").code(),  // FOREIGNKEY
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace okr
