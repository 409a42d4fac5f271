// The tracking store conformance suite on SQLite and on the in-memory fake,
// plus what only the SQLite store has: the --store URL, its schema, corrupt
// rows, a foreign write lock, and several stores (processes) on one file.
#include "services/tracking/sqlite_tracking_store.h"

#include <barrier>
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
#include "services/tracking/tracking_store.h"
#include "tests/services/tracking/memory_store.h"
#include "tests/services/tracking/store_conformance.h"
#include "tests/support/test_support.h"

namespace okr::tracking {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::StartsWith;

// --- The conformance suite ---------------------------------------------------

StoreFactory SqliteLocation() {
  auto dir = std::make_shared<TempDir>("okr-tracking-store");
  return [dir]() -> std::unique_ptr<TrackingStore> {
    absl::StatusOr<std::unique_ptr<TrackingStore>> store =
        OpenTrackingStore(absl::StrCat("sqlite:", dir->File("tracking.db")));
    if (!store.ok()) {
      ADD_FAILURE() << store.status();
      return nullptr;
    }
    return *std::move(store);
  };
}

StoreFactory MemoryLocation() {
  return [] { return std::make_unique<MemoryTrackingStore>(); };
}

INSTANTIATE_TEST_SUITE_P(Backends, TrackingStoreConformance,
                         ::testing::Values(StoreBackend{"Sqlite", SqliteLocation, true},
                                           // The fake the use-case tests rely on keeps
                                           // the same contract, minus durability.
                                           StoreBackend{"Memory", MemoryLocation, false}),
                         StoreBackendName);

// --- SQLite only ------------------------------------------------------------

std::unique_ptr<SqliteTrackingStore> MustOpen(const std::string& path,
                                              SqliteTrackingStoreOptions options = {}) {
  absl::StatusOr<std::unique_ptr<SqliteTrackingStore>> store =
      SqliteTrackingStore::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

std::unique_ptr<SqliteDb> MustOpenRaw(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(path);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

StoredCheckIn CheckIn(absl::string_view key_result_id, absl::string_view client_key,
                      int64_t seconds = 0) {
  StoredCheckIn c;
  c.id = absl::StrCat("ci-", client_key);
  c.key_result_id = std::string(key_result_id);
  c.client_key = std::string(client_key);
  c.time = absl::FromUnixSeconds(1767225600 + seconds);
  c.has_value = true;
  c.fingerprint = absl::StrCat("fp-", client_key);
  c.body = absl::StrCat("body-", client_key);
  return c;
}

std::vector<std::string> SchemaObjects(SqliteDb& db) {
  std::vector<std::string> names;
  absl::StatusOr<Statement> query =
      db.Prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')");
  EXPECT_TRUE(query.ok()) << query.status();
  if (!query.ok()) return names;
  while (true) {
    absl::StatusOr<bool> row = query->Step();
    EXPECT_TRUE(row.ok()) << row.status();
    if (!row.ok() || !*row) break;
    names.push_back(query->ColumnText(0));
  }
  return names;
}

TEST(SqliteTrackingStoreTest, OpenCreatesTheSchema) {
  TempDir dir;
  const std::string path = dir.File("tracking.db");
  ASSERT_NE(MustOpen(path), nullptr);
  auto db = MustOpenRaw(path);
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(int version, SchemaVersion(*db));
  EXPECT_EQ(version, 1);
  EXPECT_THAT(SchemaObjects(*db),
              IsSupersetOf({"org_sequences", "check_ins", "check_ins_by_time", "reviews",
                            "reviews_by_sequence", "frozen_cycles", "frozen_scores"}));
  // Opening again migrates nothing and keeps the version.
  ASSERT_NE(MustOpen(path), nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(version, SchemaVersion(*db));
  EXPECT_EQ(version, 1);
}

// A key result's history is read through the time index, not a scan of the
// organisation's check-ins.
TEST(SqliteTrackingStoreTest, ListingUsesTheTimeIndex) {
  TempDir dir;
  const std::string path = dir.File("tracking.db");
  ASSERT_NE(MustOpen(path), nullptr);
  auto db = MustOpenRaw(path);
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(
      Statement plan,
      db->Prepare("EXPLAIN QUERY PLAN SELECT body FROM check_ins WHERE org = 'a' AND "
                  "key_result_id = 'k' AND time_ns >= 0 AND time_ns < 10 AND "
                  "(time_ns, sequence) < (5, 5) ORDER BY time_ns DESC, sequence DESC LIMIT 3"));
  std::string details;
  while (true) {
    OKR_ASSERT_OK_AND_ASSIGN(bool row, plan.Step());
    if (!row) break;
    absl::StrAppend(&details, plan.ColumnText(3), "\n");
  }
  EXPECT_THAT(details, HasSubstr("check_ins_by_time"));
  EXPECT_THAT(details, Not(HasSubstr("TEMP B-TREE"))) << "sorts instead of walking the index";
}

TEST(SqliteTrackingStoreTest, UrlChoosesDurability) {
  TempDir dir;
  struct Case {
    std::string suffix;
    SqliteDurability want;
  };
  for (const Case& c : {Case{"", SqliteDurability::kProcessCrash},
                        Case{"?durability=process-crash", SqliteDurability::kProcessCrash},
                        Case{"?durability=power-loss", SqliteDurability::kPowerLoss}}) {
    const std::string path = dir.File("tracking.db");
    OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<TrackingStore> store,
                             OpenTrackingStore(absl::StrCat("sqlite:", path, c.suffix)));
    auto* sqlite = dynamic_cast<SqliteTrackingStore*>(store.get());
    ASSERT_NE(sqlite, nullptr) << c.suffix;
    EXPECT_EQ(sqlite->path(), path) << c.suffix;
    EXPECT_EQ(sqlite->options().durability, c.want) << c.suffix;
    // A store in either mode writes.
    OKR_EXPECT_OK(store->AppendCheckIn("acme", CheckIn("kr", c.suffix + "x")).status());
  }
}

TEST(SqliteTrackingStoreTest, BadUrlsAreRefusedNamingTheFlag) {
  TempDir dir;
  struct Case {
    std::string url;
    absl::StatusCode code;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {"", absl::StatusCode::kInvalidArgument, "expected sqlite:PATH"},
      {"/var/lib/tracking.db", absl::StatusCode::kInvalidArgument, "sqlite:PATH"},
      {"mysql://root:hunter2@db/okr", absl::StatusCode::kInvalidArgument,
       "unknown store \"mysql:...\""},
      // postgresql:// URLs: postgres_tracking_store_test.cc.
      {"sqlite:", absl::StatusCode::kInvalidArgument, "needs a file path"},
      {"sqlite:?durability=power-loss", absl::StatusCode::kInvalidArgument, "needs a file path"},
      {"sqlite::memory:", absl::StatusCode::kInvalidArgument, ":memory:"},
      {"sqlite://" + dir.File("x.db"), absl::StatusCode::kInvalidArgument, "looks like a URL"},
      {"sqlite:" + dir.File("x.db") + "?durability=fsync", absl::StatusCode::kInvalidArgument,
       "durability=\"fsync\""},
      {"sqlite:" + dir.File("x.db") + "?cache=shared", absl::StatusCode::kInvalidArgument,
       "unknown SQLite option \"cache=shared\""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::unique_ptr<TrackingStore>> store = OpenTrackingStore(c.url);
    EXPECT_EQ(store.status().code(), c.code) << c.url << ": " << store.status();
    EXPECT_THAT(std::string(store.status().message()),
                AllOf(StartsWith("--store: "), HasSubstr(c.mentions)))
        << c.url;
    // URLs may carry passwords; no error repeats one.
    EXPECT_THAT(std::string(store.status().message()),
                AllOf(Not(HasSubstr("hunter2")), Not(HasSubstr("secret"))));
  }
  std::ifstream stray(dir.File("x.db"));
  EXPECT_FALSE(stray.good()) << "a refused URL created its file";
}

TEST(SqliteTrackingStoreTest, OpenFailuresSayWhy) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<TrackingStore>> missing_dir =
      OpenTrackingStore(absl::StrCat("sqlite:", dir.File("no/such/dir.db")));
  EXPECT_EQ(missing_dir.status().code(), absl::StatusCode::kFailedPrecondition)
      << missing_dir.status();
  EXPECT_THAT(std::string(missing_dir.status().message()),
              AllOf(StartsWith("--store: "), HasSubstr("no/such/dir.db")));

  const std::string junk = dir.File("junk.db");
  std::ofstream(junk) << std::string(4096, 'j');
  EXPECT_EQ(OpenTrackingStore(absl::StrCat("sqlite:", junk)).status().code(),
            absl::StatusCode::kDataLoss);

  EXPECT_EQ(SqliteTrackingStore::Open(dir.File("t.db"), {.reader_connections = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SqliteTrackingStore::Open(dir.File("t.db"), {.max_group_size = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SqliteTrackingStoreTest, CorruptKindsAreDataLoss) {
  TempDir dir;
  const std::string path = dir.File("tracking.db");
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  StoredReview review;
  review.objective_id = "o1";
  review.kind = ReviewKind::kMidQuarter;
  review.cycle_id = "q1";
  OKR_ASSERT_OK(store->PutReview("acme", review, 0).status());
  auto db = MustOpenRaw(path);
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK(db->Exec("UPDATE reviews SET kind = 'FINAL_EXAM'"));
  absl::StatusOr<TrackingSnapshot> snapshot = store->LoadOrganisation("acme");
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kDataLoss) << snapshot.status();
  EXPECT_THAT(std::string(snapshot.status().message()),
              AllOf(HasSubstr("reviews"), HasSubstr("o1"), HasSubstr("FINAL_EXAM")));
}

// Another process holding the write lock: reads go on (WAL), an append waits
// for the busy timeout, then reports UNAVAILABLE, and succeeds once the lock
// is released.
TEST(SqliteTrackingStoreTest, ForeignWriteLockMakesAppendsUnavailable) {
  TempDir dir;
  const std::string path = dir.File("tracking.db");
  auto store = MustOpen(path, {.busy_timeout = absl::Milliseconds(100)});
  ASSERT_NE(store, nullptr);
  OKR_ASSERT_OK(store->AppendCheckIn("acme", CheckIn("kr", "a")).status());
  auto other = MustOpenRaw(path);
  ASSERT_NE(other, nullptr);
  {
    OKR_ASSERT_OK_AND_ASSIGN(Transaction lock, Transaction::Begin(*other));
    OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store->LatestSequence("acme"));
    EXPECT_EQ(latest, 1);
    const absl::Time start = absl::Now();
    absl::StatusOr<AppendResult> blocked = store->AppendCheckIn("acme", CheckIn("kr", "b"));
    EXPECT_EQ(blocked.status().code(), absl::StatusCode::kUnavailable) << blocked.status();
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
  }
  OKR_ASSERT_OK_AND_ASSIGN(AppendResult result, store->AppendCheckIn("acme", CheckIn("kr", "b")));
  EXPECT_FALSE(result.replayed);
  EXPECT_EQ(result.check_in.sequence, 2);
}

// Two stores on one file stand for two processes (two replicas): SQLite's
// file lock and the unique key, not the store's mutexes, must keep the
// numbering contiguous and a racing client_key stored once.
TEST(SqliteTrackingStoreTest, TwoStoresOnOneFileShareSequenceAndIdempotency) {
  TempDir dir;
  const std::string path = dir.File("tracking.db");
  std::vector<std::unique_ptr<SqliteTrackingStore>> stores;
  stores.push_back(MustOpen(path, {.busy_timeout = absl::Seconds(30)}));
  stores.push_back(MustOpen(path, {.busy_timeout = absl::Seconds(30)}));
  ASSERT_NE(stores[0], nullptr);
  ASSERT_NE(stores[1], nullptr);

  constexpr int kThreads = 8;
  constexpr int kKeys = 15;
  // Every thread appends every key: each key is raced by all 8 threads,
  // 4 through each store.
  std::vector<std::vector<AppendResult>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      TrackingStore& store = *stores[t % 2];
      start.arrive_and_wait();
      for (int k = 0; k < kKeys; ++k) {
        StoredCheckIn check_in = CheckIn("kr", absl::StrCat("key-", k), k);
        check_in.fingerprint = absl::StrCat("thread-", t);
        absl::StatusOr<AppendResult> result = store.AppendCheckIn("acme", check_in);
        if (!result.ok()) {
          errors[t] = result.status().ToString();
          return;
        }
        results[t].push_back(*std::move(result));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& error : errors) ASSERT_EQ(error, "");

  std::set<int64_t> sequences;
  for (int k = 0; k < kKeys; ++k) {
    int stored = 0;
    std::set<std::string> fingerprints;
    std::set<int64_t> key_sequences;
    for (int t = 0; t < kThreads; ++t) {
      const AppendResult& r = results[t][k];
      stored += r.replayed ? 0 : 1;
      fingerprints.insert(r.check_in.fingerprint);
      key_sequences.insert(r.check_in.sequence);
    }
    EXPECT_EQ(stored, 1) << "key " << k;
    EXPECT_EQ(fingerprints.size(), 1u) << "key " << k << ": callers saw different rows";
    EXPECT_EQ(key_sequences.size(), 1u) << "key " << k;
    sequences.insert(key_sequences.begin(), key_sequences.end());
  }
  ASSERT_EQ(sequences.size(), size_t{kKeys});
  EXPECT_EQ(*sequences.begin(), 1);
  EXPECT_EQ(*sequences.rbegin(), kKeys);
  for (auto& store : stores) {
    OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store->LatestSequence("acme"));
    EXPECT_EQ(latest, kKeys);
  }
}

// Appends made one at a time by many callers are written in groups; every
// caller still gets its own row, and the file holds them all after a reopen.
TEST(SqliteTrackingStoreTest, GroupCommitKeepsEveryAppendDurable) {
  TempDir dir;
  const std::string path = dir.File("tracking.db");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  {
    auto store = MustOpen(path, {.durability = SqliteDurability::kPowerLoss, .max_group_size = 3});
    ASSERT_NE(store, nullptr);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const std::string key = absl::StrCat("t", t, "-", i);
          absl::StatusOr<AppendResult> r = store->AppendCheckIn("acme", CheckIn("kr", key, i));
          if (!r.ok() || r->replayed || r->check_in.client_key != key) {
            errors[t] = r.ok() ? "wrong row" : r.status().ToString();
            return;
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (const std::string& error : errors) EXPECT_EQ(error, "");
  }
  auto reopened = MustOpen(path);
  ASSERT_NE(reopened, nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot snapshot, reopened->LoadOrganisation("acme"));
  EXPECT_EQ(snapshot.latest_sequence, kThreads * kPerThread);
  ASSERT_EQ(snapshot.key_results.size(), 1u);
  EXPECT_EQ(snapshot.key_results[0].check_in_count, kThreads * kPerThread);
}

// A check-in the database refuses (here: a trigger) fails alone, whether it
// is written on its own or inside a group: the others commit, and it leaves
// no gap in the sequence.
TEST(SqliteTrackingStoreTest, FailingCheckInTakesNothingWithIt) {
  TempDir dir;
  const std::string path = dir.File("tracking.db");
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  auto db = MustOpenRaw(path);
  ASSERT_NE(db, nullptr);
  OKR_ASSERT_OK(
      db->Exec("CREATE TRIGGER poison BEFORE INSERT ON check_ins "
               "WHEN NEW.client_key LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"));

  absl::StatusOr<AppendResult> alone = store->AppendCheckIn("acme", CheckIn("kr", "poison-0"));
  EXPECT_EQ(alone.status().code(), absl::StatusCode::kFailedPrecondition) << alone.status();
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store->LatestSequence("acme"));
  EXPECT_EQ(latest, 0);

  constexpr int kThreads = 8;
  constexpr int kPerThread = 20;
  std::vector<int> good(kThreads, 0);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const bool poisoned = (t + i) % 4 == 0;
        const std::string key = absl::StrCat(poisoned ? "poison-" : "good-", t, "-", i);
        absl::StatusOr<AppendResult> r = store->AppendCheckIn("acme", CheckIn("kr", key, i));
        if (poisoned != !r.ok()) {
          errors[t] = absl::StrCat(key, ": ", r.status().ToString());
          return;
        }
        if (r.ok()) ++good[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int stored = 0;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "");
    stored += good[t];
  }
  OKR_ASSERT_OK_AND_ASSIGN(TrackingChanges changes, store->ChangesAfter("acme", 0, 1000));
  ASSERT_EQ(changes.check_ins.size(), static_cast<size_t>(stored));
  for (size_t i = 0; i < changes.check_ins.size(); ++i) {
    EXPECT_EQ(changes.check_ins[i].sequence, int64_t(i) + 1);
    EXPECT_THAT(changes.check_ins[i].client_key, StartsWith("good-"));
  }
  EXPECT_EQ(changes.latest_sequence, stored);
}

// --- The in-memory fake's own test hooks -------------------------------------

TEST(MemoryTrackingStoreTest, FailureFailsEveryCallUntilHealed) {
  MemoryTrackingStore store;
  OKR_ASSERT_OK(store.AppendCheckIn("acme", CheckIn("kr", "a")).status());
  EXPECT_EQ(store.writes(), 1);

  store.set_failure(absl::UnavailableError("store down"));
  EXPECT_EQ(store.AppendCheckIn("acme", CheckIn("kr", "b")).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.FindCheckIn("acme", "kr", "a").status().code(), absl::StatusCode::kUnavailable);
  CheckInQuery query;
  query.key_result_id = "kr";
  EXPECT_EQ(store.ListCheckIns("acme", query).status().code(), absl::StatusCode::kUnavailable);
  StoredReview review;
  review.objective_id = "o1";
  review.kind = ReviewKind::kMidQuarter;
  review.cycle_id = "q1";
  EXPECT_EQ(store.PutReview("acme", review, 0).status().code(), absl::StatusCode::kUnavailable);
  FrozenCycle cycle;
  cycle.cycle_id = "q1";
  EXPECT_EQ(store.FreezeCycle("acme", cycle).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.LoadOrganisation("acme").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.ChangesAfter("acme", 0, 10).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.LatestSequence("acme").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.writes(), 1);

  store.set_failure(absl::OkStatus());
  OKR_ASSERT_OK_AND_ASSIGN(AppendResult result, store.AppendCheckIn("acme", CheckIn("kr", "b")));
  EXPECT_EQ(result.check_in.sequence, 2);
  OKR_ASSERT_OK(store.PutReview("acme", review, 0).status());
  OKR_ASSERT_OK(store.FreezeCycle("acme", cycle).status());
  EXPECT_EQ(store.writes(), 4);
  // A replay and a second freeze write nothing.
  OKR_ASSERT_OK(store.AppendCheckIn("acme", CheckIn("kr", "b")).status());
  OKR_ASSERT_OK(store.FreezeCycle("acme", cycle).status());
  EXPECT_EQ(store.writes(), 4);
}

}  // namespace
}  // namespace okr::tracking
