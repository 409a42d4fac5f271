// The store conformance suite on SQLite and on the in-memory fake, plus what
// only the SQLite store has: the --store URL, its schema, corrupt rows,
// rollback of a commit failing half-way, and several stores (processes) on
// one file.
#include "services/planning/sqlite_planning_store.h"

#include <atomic>
#include <cstdint>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/sqlite.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/planning/planning_store.h"
#include "tests/services/planning/memory_store.h"
#include "tests/services/planning/store_conformance.h"
#include "tests/support/test_support.h"

namespace okr::planning {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// --- The conformance suite ---------------------------------------------------

StoreFactory SqliteLocation() {
  auto dir = std::make_shared<TempDir>("okr-planning-store");
  return [dir]() -> std::unique_ptr<PlanningStore> {
    absl::StatusOr<std::unique_ptr<PlanningStore>> store =
        OpenPlanningStore(absl::StrCat("sqlite:", dir->File("plan.db")));
    if (!store.ok()) {
      ADD_FAILURE() << store.status();
      return nullptr;
    }
    return *std::move(store);
  };
}

StoreFactory MemoryLocation() {
  return [] { return std::make_unique<MemoryPlanningStore>(); };
}

INSTANTIATE_TEST_SUITE_P(
    Backends, PlanningStoreConformance,
    ::testing::Values(StoreBackend{"Sqlite", SqliteLocation, true},
                      // The fake the use-case tests rely on keeps the same
                      // contract, minus durability.
                      StoreBackend{"Memory", MemoryLocation, false}),
    StoreBackendName);

// --- SQLite only ------------------------------------------------------------

std::unique_ptr<SqlitePlanningStore> MustOpen(
    const std::string& path, SqlitePlanningStoreOptions options = {}) {
  absl::StatusOr<std::unique_ptr<SqlitePlanningStore>> store =
      SqlitePlanningStore::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

std::unique_ptr<SqliteDb> MustOpenRaw(const std::string& path,
                                      SqliteOptions options = {}) {
  absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(path, options);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

PlanCommit OnePut(absl::string_view org, int64_t base, absl::string_view id,
                  absl::string_view body) {
  PlanCommit commit;
  commit.organisation_id = std::string(org);
  commit.base_sequence = base;
  StoredResource r;
  r.kind = ResourceKind::kObjective;
  r.id = std::string(id);
  r.version = 1;
  r.body = std::string(body);
  commit.puts.push_back(r);
  StoredChange c;
  c.sequence = base + 1;
  c.kind = ResourceKind::kObjective;
  c.id = std::string(id);
  c.commit_time = absl::FromUnixSeconds(1767225600);
  c.body = std::string(body);
  commit.changes.push_back(c);
  return commit;
}

std::vector<std::string> Columns(SqliteDb& db, absl::string_view table) {
  std::vector<std::string> columns;
  absl::StatusOr<Statement> info =
      db.Prepare(absl::StrCat("PRAGMA table_info(", table, ")"));
  EXPECT_TRUE(info.ok()) << info.status();
  if (!info.ok()) return columns;
  while (true) {
    absl::StatusOr<bool> row = info->Step();
    EXPECT_TRUE(row.ok()) << row.status();
    if (!row.ok() || !*row) break;
    columns.push_back(info->ColumnText(1));
  }
  return columns;
}

TEST(SqlitePlanningStoreTest, OpenCreatesTheSchema) {
  TempDir dir;
  const std::string path = dir.File("plan.db");
  OKR_ASSERT_OK_AND_ASSIGN(auto store,
                           OpenPlanningStore(absl::StrCat("sqlite:", path)));
  store.reset();

  auto db = MustOpenRaw(path);
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(int version, SchemaVersion(*db));
  EXPECT_EQ(version, 1);
  EXPECT_THAT(Columns(*db, "resources"),
              ElementsAre("org", "kind", "id", "version", "body"));
  EXPECT_THAT(Columns(*db, "plan_changes"),
              ElementsAre("org", "sequence", "kind", "id", "commit_time", "body"));
  EXPECT_THAT(Columns(*db, "requests"),
              ElementsAre("org", "method", "request_id", "fingerprint",
                          "result_ids", "create_time"));

  // Opening again finds the schema in place and keeps it.
  OKR_ASSERT_OK_AND_ASSIGN(store,
                           OpenPlanningStore(absl::StrCat("sqlite:", path)));
  OKR_ASSERT_OK_AND_ASSIGN(version, SchemaVersion(*db));
  EXPECT_EQ(version, 1);
}

TEST(SqlitePlanningStoreTest, UrlChoosesDurability) {
  TempDir dir;
  struct Case {
    std::string suffix;
    SqliteDurability want;
  };
  for (const Case& c :
       {Case{"", SqliteDurability::kProcessCrash},
        Case{"?durability=process-crash", SqliteDurability::kProcessCrash},
        Case{"?durability=power-loss", SqliteDurability::kPowerLoss}}) {
    const std::string path = dir.File("plan.db");
    OKR_ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<PlanningStore> store,
        OpenPlanningStore(absl::StrCat("sqlite:", path, c.suffix)));
    auto* sqlite = dynamic_cast<SqlitePlanningStore*>(store.get());
    ASSERT_NE(sqlite, nullptr) << c.suffix;
    EXPECT_EQ(sqlite->path(), path) << c.suffix;
    EXPECT_EQ(sqlite->options().durability, c.want) << c.suffix;
    // A store in either mode commits.
    OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store->LatestSequence("acme"));
    OKR_EXPECT_OK(store->Commit(OnePut("acme", latest, "o", "b")));
  }
}

TEST(SqlitePlanningStoreTest, BadUrlsAreRefusedNamingTheFlag) {
  TempDir dir;
  struct Case {
    std::string url;
    absl::StatusCode code;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {"", absl::StatusCode::kInvalidArgument, "expected sqlite:PATH"},
      {"/var/lib/plan.db", absl::StatusCode::kInvalidArgument, "sqlite:PATH"},
      {"mysql://root:hunter2@db/okr", absl::StatusCode::kInvalidArgument,
       "unknown store \"mysql:...\""},
      // postgresql:// URLs: postgres_planning_store_test.cc.
      {"sqlite:", absl::StatusCode::kInvalidArgument, "needs a file path"},
      {"sqlite:?durability=power-loss", absl::StatusCode::kInvalidArgument,
       "needs a file path"},
      {"sqlite::memory:", absl::StatusCode::kInvalidArgument, ":memory:"},
      {"sqlite://" + dir.File("x.db"), absl::StatusCode::kInvalidArgument,
       "looks like a URL"},
      {"sqlite:" + dir.File("x.db") + "?durability=fsync",
       absl::StatusCode::kInvalidArgument, "durability=\"fsync\""},
      {"sqlite:" + dir.File("x.db") + "?cache=shared",
       absl::StatusCode::kInvalidArgument, "unknown SQLite option \"cache=shared\""},
      {"sqlite:" + dir.File("x.db") + "?durability=power-loss&",
       absl::StatusCode::kInvalidArgument, "unknown SQLite option"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::unique_ptr<PlanningStore>> store =
        OpenPlanningStore(c.url);
    EXPECT_EQ(store.status().code(), c.code) << c.url << ": " << store.status();
    EXPECT_THAT(std::string(store.status().message()),
                AllOf(StartsWith("--store: "), HasSubstr(c.mentions)))
        << c.url;
    // URLs may carry passwords; no error repeats one.
    EXPECT_THAT(std::string(store.status().message()),
                AllOf(Not(HasSubstr("hunter2")), Not(HasSubstr("secret"))));
  }
  // None of the refused SQLite URLs created a file.
  std::ifstream stray(dir.File("x.db"));
  EXPECT_FALSE(stray.good());
}

TEST(SqlitePlanningStoreTest, OpenFailuresSayWhy) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<PlanningStore>> missing_dir =
      OpenPlanningStore(absl::StrCat("sqlite:", dir.File("no/such/dir.db")));
  EXPECT_EQ(missing_dir.status().code(), absl::StatusCode::kFailedPrecondition)
      << missing_dir.status();
  EXPECT_THAT(std::string(missing_dir.status().message()),
              AllOf(StartsWith("--store: "), HasSubstr("no/such/dir.db")));

  const std::string junk = dir.File("junk.db");
  std::ofstream(junk) << std::string(4096, 'j');
  absl::StatusOr<std::unique_ptr<PlanningStore>> not_a_db =
      OpenPlanningStore(absl::StrCat("sqlite:", junk));
  EXPECT_EQ(not_a_db.status().code(), absl::StatusCode::kDataLoss)
      << not_a_db.status();

  EXPECT_EQ(SqlitePlanningStore::Open(dir.File("p.db"), {.reader_connections = 0})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SqlitePlanningStoreTest, NewerSchemaIsRefused) {
  TempDir dir;
  const std::string path = dir.File("plan.db");
  ASSERT_NE(MustOpen(path), nullptr);
  {
    auto db = MustOpenRaw(path);
    ASSERT_NE(db, nullptr);
    OKR_ASSERT_OK(db->Exec(
        "INSERT INTO schema_migrations (version, name) VALUES (2, 'future')"));
  }
  absl::StatusOr<std::unique_ptr<SqlitePlanningStore>> store =
      SqlitePlanningStore::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
      << store.status();
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("version 2"));
}

TEST(SqlitePlanningStoreTest, CorruptRowsAreDataLoss) {
  TempDir dir;
  const std::string path = dir.File("plan.db");
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  PlanCommit commit = OnePut("acme", 0, "o1", "fine");
  StoredRequest request;
  request.method = "CreateObjective";
  request.request_id = "r1";
  request.result_ids = {"o1"};
  commit.request = request;
  OKR_ASSERT_OK(store->Commit(commit));

  auto db = MustOpenRaw(path);
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK(db->Exec("UPDATE resources SET kind = 'GADGET'"));
  OKR_ASSERT_OK(db->Exec("UPDATE plan_changes SET kind = 'GADGET'"));
  OKR_ASSERT_OK(db->Exec("UPDATE requests SET result_ids = X'393A6F31'"));

  absl::StatusOr<StoredOrganisation> org = store->LoadOrganisation("acme");
  EXPECT_EQ(org.status().code(), absl::StatusCode::kDataLoss) << org.status();
  EXPECT_THAT(std::string(org.status().message()),
              AllOf(HasSubstr("GADGET"), HasSubstr("o1"), HasSubstr("acme")));
  absl::StatusOr<std::vector<StoredChange>> changes =
      store->ListChanges("acme", 0, 10);
  EXPECT_EQ(changes.status().code(), absl::StatusCode::kDataLoss)
      << changes.status();
  absl::StatusOr<std::optional<StoredRequest>> found =
      store->FindRequest("acme", "CreateObjective", "r1");
  EXPECT_EQ(found.status().code(), absl::StatusCode::kDataLoss)
      << found.status();
  EXPECT_THAT(std::string(found.status().message()), HasSubstr("r1"));

  // The pool's connections are usable again after the failed reads.
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store->LatestSequence("acme"));
  EXPECT_EQ(latest, 1);
}

// A commit that fails after some of its rows were written leaves nothing:
// a trigger refuses the change-feed row, which comes after the puts.
TEST(SqlitePlanningStoreTest, CommitFailingHalfWayIsRolledBack) {
  TempDir dir;
  const std::string path = dir.File("plan.db");
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  OKR_ASSERT_OK(store->Commit(OnePut("acme", 0, "o1", "kept")));
  {
    auto db = MustOpenRaw(path);
    ASSERT_NE(db, nullptr);
    OKR_ASSERT_OK(db->Exec(
        "CREATE TRIGGER refuse BEFORE INSERT ON plan_changes "
        "WHEN NEW.id = 'boom' BEGIN SELECT RAISE(ABORT, 'injected'); END"));
  }
  PlanCommit failing = OnePut("acme", 1, "boom", "lost");
  failing.puts.push_back(failing.puts[0]);
  failing.puts.back().id = "o1";
  failing.puts.back().body = "overwritten";
  failing.deletes.emplace_back(ResourceKind::kObjective, "o1");
  StoredRequest request;
  request.method = "CreateObjective";
  request.request_id = "boom";
  failing.request = request;
  absl::Status status = store->Commit(failing);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("injected"));

  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                           store->LoadOrganisation("acme"));
  ASSERT_EQ(org.resources.size(), 1u);
  EXPECT_EQ(org.resources[0].id, "o1");
  EXPECT_EQ(org.resources[0].body, "kept");
  EXPECT_EQ(org.latest_sequence, 1);
  OKR_ASSERT_OK_AND_ASSIGN(auto found,
                           store->FindRequest("acme", "CreateObjective", "boom"));
  EXPECT_FALSE(found.has_value());

  // The writer is not left inside a transaction: the next commit lands.
  OKR_ASSERT_OK(store->Commit(OnePut("acme", 1, "o2", "next")));
  OKR_ASSERT_OK_AND_ASSIGN(org, store->LoadOrganisation("acme"));
  EXPECT_EQ(org.resources.size(), 2u);
  EXPECT_EQ(org.latest_sequence, 2);
}

// Another process holding the write lock: reads go on (WAL), a commit waits
// for the busy timeout and then reports UNAVAILABLE, and succeeds once the
// lock is released.
TEST(SqlitePlanningStoreTest, ForeignWriteLockMakesCommitsUnavailable) {
  TempDir dir;
  const std::string path = dir.File("plan.db");
  auto store = MustOpen(path, {.busy_timeout = absl::Milliseconds(100)});
  ASSERT_NE(store, nullptr);
  OKR_ASSERT_OK(store->Commit(OnePut("acme", 0, "o1", "b")));

  auto other = MustOpenRaw(path);
  ASSERT_NE(other, nullptr);
  {
    OKR_ASSERT_OK_AND_ASSIGN(Transaction lock, Transaction::Begin(*other));
    OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org,
                             store->LoadOrganisation("acme"));
    EXPECT_EQ(org.latest_sequence, 1);
    const absl::Time start = absl::Now();
    absl::Status status = store->Commit(OnePut("acme", 1, "o2", "b"));
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
  }
  OKR_EXPECT_OK(store->Commit(OnePut("acme", 1, "o2", "b")));
}

// Two stores on one file stand for two processes: SQLite's file lock, not
// the store's mutex, must keep their commits from interleaving.
TEST(SqlitePlanningStoreTest, TwoStoresOnOneFileNeverLoseACommit) {
  TempDir dir;
  const std::string path = dir.File("plan.db");
  std::vector<std::unique_ptr<SqlitePlanningStore>> stores;
  stores.push_back(MustOpen(path, {.busy_timeout = absl::Seconds(30)}));
  stores.push_back(MustOpen(path, {.busy_timeout = absl::Seconds(30)}));
  ASSERT_NE(stores[0], nullptr);
  ASSERT_NE(stores[1], nullptr);

  constexpr int kPerThread = 20;
  std::vector<std::vector<std::string>> won(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      PlanningStore& store = *stores[t % 2];
      for (int n = 0; n < kPerThread;) {
        absl::StatusOr<int64_t> latest = store.LatestSequence("acme");
        if (!latest.ok()) {
          errors[t] = latest.status().ToString();
          return;
        }
        const std::string tag = absl::StrCat("t", t, "-", n);
        absl::Status status = store.Commit(OnePut("acme", *latest, tag, tag));
        if (status.ok()) {
          won[t].push_back(tag);
          ++n;
        } else if (status.code() != absl::StatusCode::kAborted) {
          errors[t] = status.ToString();
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& error : errors) EXPECT_EQ(error, "");

  std::set<std::string> reported;
  for (const auto& tags : won) reported.insert(tags.begin(), tags.end());
  for (auto& store : stores) {
    OKR_ASSERT_OK_AND_ASSIGN(auto changes, store->ListChanges("acme", 0, 1000));
    ASSERT_EQ(changes.size(), size_t{4 * kPerThread});
    std::set<std::string> in_feed;
    for (size_t i = 0; i < changes.size(); ++i) {
      EXPECT_EQ(changes[i].sequence, int64_t(i) + 1);
      in_feed.insert(changes[i].id);
    }
    EXPECT_EQ(in_feed, reported);
  }
}

// More callers than reader connections wait for one instead of failing.
TEST(SqlitePlanningStoreTest, ReadersShareASmallPool) {
  TempDir dir;
  auto store = MustOpen(dir.File("plan.db"), {.reader_connections = 1});
  ASSERT_NE(store, nullptr);
  OKR_ASSERT_OK(store->Commit(OnePut("acme", 0, "o1", "b")));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        absl::StatusOr<StoredOrganisation> org = store->LoadOrganisation("acme");
        if (org.ok() && org->resources.size() == 1) ++ok;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 200);
}

TEST(IdListEncodingTest, IsLengthPrefixed) {
  EXPECT_EQ(EncodeIdList({"abc", "xy"}), "3:abc2:xy");
  EXPECT_EQ(EncodeIdList({}), "");
  EXPECT_EQ(EncodeIdList({""}), "0:");
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<Id> ids, DecodeIdList("3:abc2:xy0:"));
  EXPECT_THAT(ids, ElementsAre("abc", "xy", ""));
  OKR_ASSERT_OK_AND_ASSIGN(ids, DecodeIdList(""));
  EXPECT_THAT(ids, IsEmpty());
}

TEST(IdListEncodingTest, MalformedListsAreDataLoss) {
  for (absl::string_view bad :
       {"3:ab", "x:abc", ":abc", "abc", "3abc", "-1:a", "+1:a", "1:a2",
        "99999999999:a", "18446744073709551617:a"}) {
    absl::StatusOr<std::vector<Id>> ids = DecodeIdList(bad);
    EXPECT_EQ(ids.status().code(), absl::StatusCode::kDataLoss) << bad;
  }
}

// --- The in-memory fake's own test hooks -------------------------------------

TEST(MemoryPlanningStoreTest, FailWithFailsEveryCallUntilHealed) {
  MemoryPlanningStore store;
  OKR_ASSERT_OK(store.Commit(OnePut("acme", 0, "o1", "b")));
  EXPECT_EQ(store.commits(), 1);

  store.FailWith(absl::UnavailableError("store down"));
  EXPECT_EQ(store.Commit(OnePut("acme", 1, "o2", "b")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.LoadOrganisation("acme").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.ListOrganisationIds().status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.LatestSequence("acme").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.ListChanges("acme", 0, 10).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.FindRequest("acme", "m", "r").status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.commits(), 1);

  store.FailWith(absl::OkStatus());
  // Nothing was applied while down: the base is still 1.
  OKR_ASSERT_OK(store.Commit(OnePut("acme", 1, "o2", "b")));
  EXPECT_EQ(store.commits(), 2);
  // Refused commits do not count.
  EXPECT_EQ(store.Commit(OnePut("acme", 0, "o3", "b")).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(store.commits(), 2);
}

}  // namespace
}  // namespace okr::planning
