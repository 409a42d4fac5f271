// The tracking store conformance suite on PostgreSQL (a fresh database per
// test on a real server), plus what only a shared store has to show: two
// stores with their own pools (two replicas) writing one organisation at
// once, the schema's prefixes, the --store URL, and a server outage.
#include "services/tracking/postgres_tracking_store.h"

#include <algorithm>
#include <barrier>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/postgres.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/tracking/tracking_store.h"
#include "tests/services/tracking/store_conformance.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_support.h"

namespace okr::tracking {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::StartsWith;

// A new database on the binary's shared server; "" after reporting a
// failure.
std::string NewDatabase(absl::string_view prefix) {
  absl::StatusOr<testing::PostgresServer*> server = testing::SharedPostgresServer();
  if (!server.ok()) {
    ADD_FAILURE() << "PostgreSQL did not start: " << server.status();
    return "";
  }
  absl::StatusOr<std::string> url = (*server)->CreateUniqueDatabase(prefix);
  if (!url.ok()) {
    ADD_FAILURE() << url.status();
    return "";
  }
  return *url;
}

// Opens through the --store URL, as okr-tracking does.
std::unique_ptr<TrackingStore> MustOpen(const std::string& url) {
  absl::StatusOr<std::unique_ptr<TrackingStore>> store = OpenTrackingStore(url);
  if (!store.ok()) {
    ADD_FAILURE() << store.status();
    return nullptr;
  }
  return *std::move(store);
}

// --- The conformance suite ---------------------------------------------------

StoreFactory PostgresLocation() {
  const std::string url = NewDatabase("tracking_conformance");
  return [url]() -> std::unique_ptr<TrackingStore> {
    if (url.empty()) return nullptr;
    return MustOpen(url);
  };
}

INSTANTIATE_TEST_SUITE_P(Postgres, TrackingStoreConformance,
                         ::testing::Values(StoreBackend{"Postgres", PostgresLocation, true}),
                         StoreBackendName);

// --- PostgreSQL only ---------------------------------------------------------

StoredCheckIn CheckIn(absl::string_view key_result_id, absl::string_view client_key,
                      int64_t seconds = 0) {
  StoredCheckIn c;
  c.id = absl::StrCat("ci-", key_result_id, "-", client_key);
  c.key_result_id = std::string(key_result_id);
  c.client_key = std::string(client_key);
  c.time = absl::FromUnixNanos(1767225600000000000 + seconds * 1000000000 + 1);
  c.has_value = true;
  c.fingerprint = absl::StrCat("fp-", client_key);
  c.body = absl::StrCat("body-", client_key);
  return c;
}

StoredReview Review(absl::string_view objective_id, absl::string_view body) {
  StoredReview r;
  r.objective_id = std::string(objective_id);
  r.kind = ReviewKind::kEndOfQuarter;
  r.cycle_id = "q1";
  r.body = std::string(body);
  return r;
}

FrozenCycle Freeze(absl::string_view cycle_id, int scores) {
  FrozenCycle cycle;
  cycle.cycle_id = std::string(cycle_id);
  cycle.freeze_time = absl::FromUnixNanos(1775001600987654321);
  for (int i = 0; i < scores; ++i) {
    FrozenScore score;
    score.kind = i % 3 == 0 ? ResourceKind::kObjective : ResourceKind::kKeyResult;
    score.id = absl::StrCat(cycle_id, "-s", i);
    score.body = absl::StrCat("score-", i, std::string("\0\xff", 2));
    cycle.scores.push_back(std::move(score));
  }
  return cycle;
}

// Every sequence `store` has handed out for `org`, in ChangesAfter order.
std::vector<int64_t> AllSequences(TrackingStore& store, absl::string_view org) {
  std::vector<int64_t> sequences;
  int64_t after = 0;
  for (int pages = 0; pages < 1000; ++pages) {
    absl::StatusOr<TrackingChanges> changes = store.ChangesAfter(org, after, 64);
    EXPECT_TRUE(changes.ok()) << changes.status();
    if (!changes.ok()) break;
    std::vector<int64_t> page;
    for (const StoredCheckIn& c : changes->check_ins) page.push_back(c.sequence);
    for (const StoredReview& r : changes->reviews) page.push_back(r.sequence);
    for (const FrozenCycle& f : changes->frozen_cycles) page.push_back(f.sequence);
    if (page.empty()) break;
    std::sort(page.begin(), page.end());
    sequences.insert(sequences.end(), page.begin(), page.end());
    after = page.back();
  }
  return sequences;
}

std::vector<int64_t> OneTo(int64_t n) {
  std::vector<int64_t> out;
  for (int64_t i = 1; i <= n; ++i) out.push_back(i);
  return out;
}

// Tables and indexes of the database at `url` whose name starts with
// "tracking_".
std::vector<std::string> TrackingRelations(const std::string& url) {
  std::vector<std::string> names;
  absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Open({.url = url});
  EXPECT_TRUE(pool.ok()) << pool.status();
  if (!pool.ok()) return names;
  OKR_EXPECT_OK((*pool)->WithConnection([&](PgConnection& conn) -> absl::Status {
    absl::StatusOr<PgRows> rows = conn.Exec(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')");
    if (!rows.ok()) return rows.status();
    for (int i = 0; i < rows->size(); ++i) names.push_back(rows->Text(i, 0));
    return absl::OkStatus();
  }));
  return names;
}

TEST(PostgresTrackingStoreTest, OpenCreatesThePrefixedSchemaOnce) {
  const std::string url = NewDatabase("tracking_schema");
  ASSERT_FALSE(url.empty());
  // Two replicas starting at once: the migration runs once, both open.
  std::unique_ptr<TrackingStore> a, b;
  {
    std::thread other([&] { b = MustOpen(url); });
    a = MustOpen(url);
    other.join();
  }
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const std::vector<std::string> relations = TrackingRelations(url);
  EXPECT_THAT(relations,
              IsSupersetOf({"tracking_schema_migrations", "tracking_org_sequences",
                            "tracking_check_ins", "tracking_check_ins_by_time",
                            "tracking_reviews", "tracking_reviews_by_sequence",
                            "tracking_frozen_cycles", "tracking_frozen_scores"}));
  // Nothing unprefixed: planning and notify share the database.
  for (const std::string& name : relations) {
    EXPECT_THAT(name, StartsWith("tracking_"));
  }
  // Both write to the same data.
  OKR_EXPECT_OK(a->AppendCheckIn("acme", CheckIn("kr1", "a")).status());
  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredCheckIn> seen, b->FindCheckIn("acme", "kr1", "a"));
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->sequence, 1);
  // Opening again migrates nothing and keeps the data.
  a.reset();
  a = MustOpen(url);
  ASSERT_NE(a, nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, a->LatestSequence("acme"));
  EXPECT_EQ(latest, 1);
}

TEST(PostgresTrackingStoreTest, UnreachableServerIsUnavailableWithoutThePassword) {
  OKR_ASSERT_OK_AND_ASSIGN(const int port, FreeLoopbackPort());
  for (const std::string& url :
       {absl::StrCat("postgresql://okr:hunter2@127.0.0.1:", port, "/okr"),
        absl::StrCat("postgres://okr:hunter2@127.0.0.1:", port, "/okr")}) {
    absl::StatusOr<std::unique_ptr<TrackingStore>> store = OpenTrackingStore(url);
    EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable) << store.status();
    EXPECT_THAT(std::string(store.status().message()),
                AllOf(StartsWith("--store: "), Not(HasSubstr("hunter2"))));
  }
}

TEST(PostgresTrackingStoreTest, NulBytesInIdsAreRefusedNamingTheField) {
  std::unique_ptr<TrackingStore> store = MustOpen(NewDatabase("tracking_nul"));
  ASSERT_NE(store, nullptr);
  StoredCheckIn c = CheckIn("kr1", std::string("a\0b", 3));
  c.id = "ci-1";
  absl::StatusOr<AppendResult> appended = store->AppendCheckIn("acme", c);
  EXPECT_EQ(appended.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(appended.status().message()), HasSubstr("check_in.client_key"));
  StoredReview r = Review(std::string("o\0", 2), "x");
  absl::StatusOr<StoredReview> put = store->PutReview("acme", r, 0);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(put.status().message()), HasSubstr("review.objective_id"));
  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredCheckIn> found,
                           store->FindCheckIn("acme", "kr1", std::string("a\0b", 3)));
  EXPECT_FALSE(found.has_value());
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store->LatestSequence("acme"));
  EXPECT_EQ(latest, 0);
}

TEST(PostgresTrackingStoreTest, LargeFreezeKeepsEveryScoreInOrder) {
  std::unique_ptr<TrackingStore> store = MustOpen(NewDatabase("tracking_freeze"));
  ASSERT_NE(store, nullptr);
  // More scores than one INSERT carries.
  const FrozenCycle sent = Freeze("q1", 457);
  OKR_ASSERT_OK_AND_ASSIGN(FrozenCycle stored, store->FreezeCycle("acme", sent));
  EXPECT_EQ(stored.sequence, 1);
  OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot snapshot, store->LoadOrganisation("acme"));
  ASSERT_EQ(snapshot.frozen_cycles.size(), 1u);
  const std::vector<FrozenScore>& scores = snapshot.frozen_cycles[0].scores;
  ASSERT_EQ(scores.size(), sent.scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    EXPECT_EQ(scores[i].kind, sent.scores[i].kind) << i;
    EXPECT_EQ(scores[i].id, sent.scores[i].id) << i;
    EXPECT_EQ(scores[i].body, sent.scores[i].body) << i;
  }
}

// Two replicas: every thread of each writes check-ins, reviews and a freeze
// of its own, and replays another thread's check-ins through the other
// store. The organisation's numbers come out 1..N with no gap and no
// duplicate, and each client key is stored once.
TEST(PostgresTrackingStoreTest, TwoStoresWritingAtOnceNumberWithoutGaps) {
  const std::string url = NewDatabase("tracking_replicas");
  ASSERT_FALSE(url.empty());
  std::unique_ptr<TrackingStore> stores[2] = {MustOpen(url), MustOpen(url)};
  ASSERT_NE(stores[0], nullptr);
  ASSERT_NE(stores[1], nullptr);

  constexpr int kThreadsPerStore = 3;
  constexpr int kThreads = 2 * kThreadsPerStore;
  constexpr int kCheckIns = 20;  // per thread
  constexpr int kReviews = 2;    // per thread, one objective each, created then replaced
  struct Outcome {
    std::vector<int64_t> sequences;  // of new writes, in the order made
    // Of reviews replaced later: ChangesAfter returns each review's current
    // row only.
    std::vector<int64_t> superseded;
    int replays = 0;
    std::string error;
  };
  std::vector<Outcome> outcomes(kThreads);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      TrackingStore& mine = *stores[t % 2];
      TrackingStore& other = *stores[(t + 1) % 2];
      Outcome& out = outcomes[t];
      auto fail = [&](absl::string_view what, const absl::Status& status) {
        if (out.error.empty()) out.error = absl::StrCat(what, ": ", status.ToString());
      };
      start.arrive_and_wait();
      for (int i = 0; i < kCheckIns; ++i) {
        const StoredCheckIn c = CheckIn(absl::StrCat("kr", i % 4), absl::StrCat("t", t, "-", i), i);
        absl::StatusOr<AppendResult> result = mine.AppendCheckIn("acme", c);
        if (!result.ok()) return fail("append", result.status());
        if (result->replayed) return fail("append", absl::InternalError("replayed"));
        out.sequences.push_back(result->check_in.sequence);
        // A client retrying on the other replica (the previous thread's key
        // too, which may or may not be stored yet).
        absl::StatusOr<AppendResult> retry = other.AppendCheckIn("acme", c);
        if (!retry.ok()) return fail("retry", retry.status());
        if (!retry->replayed || retry->check_in.sequence != result->check_in.sequence) {
          return fail("retry", absl::InternalError("not replayed as the stored check-in"));
        }
        ++out.replays;
        const StoredCheckIn racing =
            CheckIn("kr-shared", absl::StrCat("shared-", i), i);  // every thread sends it
        absl::StatusOr<AppendResult> shared = other.AppendCheckIn("acme", racing);
        if (!shared.ok()) return fail("shared", shared.status());
        if (shared->replayed) {
          ++out.replays;
        } else {
          out.sequences.push_back(shared->check_in.sequence);
        }
      }
      for (int r = 0; r < kReviews; ++r) {
        const std::string objective = absl::StrCat("o", t, "-", r);
        absl::StatusOr<StoredReview> created = mine.PutReview("acme", Review(objective, "v1"), 0);
        if (!created.ok()) return fail("review", created.status());
        out.sequences.push_back(created->sequence);
        out.superseded.push_back(created->sequence);
        absl::StatusOr<StoredReview> replaced =
            other.PutReview("acme", Review(objective, "v2"), created->version);
        if (!replaced.ok()) return fail("review", replaced.status());
        out.sequences.push_back(replaced->sequence);
      }
      absl::StatusOr<FrozenCycle> frozen = mine.FreezeCycle("acme", Freeze(absl::StrCat("c", t), 3));
      if (!frozen.ok()) return fail("freeze", frozen.status());
      out.sequences.push_back(frozen->sequence);
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::multiset<int64_t> handed_out;
  std::set<int64_t> superseded;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(outcomes[t].error, "") << "thread " << t;
    // A caller's own writes are numbered in the order it made them.
    EXPECT_TRUE(std::is_sorted(outcomes[t].sequences.begin(), outcomes[t].sequences.end()))
        << "thread " << t;
    handed_out.insert(outcomes[t].sequences.begin(), outcomes[t].sequences.end());
    superseded.insert(outcomes[t].superseded.begin(), outcomes[t].superseded.end());
  }
  // Own check-ins, the shared keys once each, two review writes per
  // objective, one freeze per thread.
  const int64_t total = kThreads * kCheckIns + kCheckIns + kThreads * kReviews * 2 + kThreads;
  EXPECT_EQ(std::vector<int64_t>(handed_out.begin(), handed_out.end()), OneTo(total))
      << "a number was skipped or handed out twice";
  std::vector<int64_t> current;  // what ChangesAfter still returns
  for (int64_t sequence : OneTo(total)) {
    if (!superseded.contains(sequence)) current.push_back(sequence);
  }
  for (const auto& store : stores) {
    OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store->LatestSequence("acme"));
    EXPECT_EQ(latest, total);
    EXPECT_EQ(AllSequences(*store, "acme"), current);
  }
  // Each shared key is stored once, whoever won it.
  OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot snapshot, stores[0]->LoadOrganisation("acme"));
  int64_t shared_count = -1;
  for (const KeyResultHistory& history : snapshot.key_results) {
    if (history.key_result_id == "kr-shared") shared_count = history.check_in_count;
  }
  EXPECT_EQ(shared_count, kCheckIns);
  EXPECT_EQ(snapshot.reviews.size(), size_t{kThreads * kReviews});
  for (const StoredReview& review : snapshot.reviews) EXPECT_EQ(review.version, 2);
  EXPECT_EQ(snapshot.frozen_cycles.size(), size_t{kThreads});
}

// Two replicas replacing the same review version at once: one wins, the
// other is ABORTED, and no update is lost.
TEST(PostgresTrackingStoreTest, RacingReviewUpdatesAcrossStoresLoseNothing) {
  const std::string url = NewDatabase("tracking_reviews");
  ASSERT_FALSE(url.empty());
  std::unique_ptr<TrackingStore> stores[2] = {MustOpen(url), MustOpen(url)};
  ASSERT_NE(stores[0], nullptr);
  ASSERT_NE(stores[1], nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(StoredReview current,
                           stores[0]->PutReview("acme", Review("o1", "first"), 0));
  constexpr int kRounds = 15;
  for (int round = 0; round < kRounds; ++round) {
    absl::StatusOr<StoredReview> results[2] = {absl::UnknownError("not run"),
                                               absl::UnknownError("not run")};
    std::barrier start(2);
    std::vector<std::thread> threads;
    for (int s = 0; s < 2; ++s) {
      threads.emplace_back([&, s] {
        start.arrive_and_wait();
        results[s] = stores[s]->PutReview(
            "acme", Review("o1", absl::StrCat("round-", round, "-store-", s)), current.version);
      });
    }
    for (std::thread& thread : threads) thread.join();
    int won = -1;
    for (int s = 0; s < 2; ++s) {
      if (results[s].ok()) {
        EXPECT_EQ(won, -1) << "round " << round << ": both stores replaced version "
                           << current.version;
        won = s;
      } else {
        EXPECT_EQ(results[s].status().code(), absl::StatusCode::kAborted)
            << "round " << round << ": " << results[s].status();
        EXPECT_THAT(std::string(results[s].status().message()), HasSubstr("version"));
      }
    }
    ASSERT_NE(won, -1) << "round " << round << ": neither store replaced the review";
    EXPECT_EQ(results[won]->version, current.version + 1);
    EXPECT_EQ(results[won]->sequence, current.sequence + 1) << "a refused write took a number";
    current = *results[won];
  }
  // Both replicas read the winner of the last round.
  for (const auto& store : stores) {
    OKR_ASSERT_OK_AND_ASSIGN(TrackingSnapshot snapshot, store->LoadOrganisation("acme"));
    ASSERT_EQ(snapshot.reviews.size(), 1u);
    EXPECT_EQ(snapshot.reviews[0].version, kRounds + 1);
    EXPECT_EQ(snapshot.reviews[0].body, current.body);
    EXPECT_EQ(snapshot.latest_sequence, kRounds + 1);
  }
}

// Retries `call` until it is OK or `timeout` passes; returns the last status.
template <typename Call>
absl::Status EventuallyOk(Call call, absl::Duration timeout = absl::Seconds(15)) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status status = call();
  while (!status.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    status = call();
  }
  return status;
}

// Its own server, since it stops it.
TEST(PostgresTrackingStoreTest, ServerOutageIsUnavailableAndRecovers) {
  absl::StatusOr<std::unique_ptr<testing::PostgresServer>> server =
      testing::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  OKR_ASSERT_OK_AND_ASSIGN(std::string url, (*server)->CreateDatabase("tracking_outage"));
  // The test server trusts local connections, so the password is ignored;
  // it is there to show that no error repeats it.
  url = absl::StrReplaceAll(url, {{"://okr@", "://okr:hunter2@"}});
  std::unique_ptr<TrackingStore> store = MustOpen(url);
  ASSERT_NE(store, nullptr);
  OKR_ASSERT_OK(store->CheckHealth());
  OKR_ASSERT_OK(store->AppendCheckIn("acme", CheckIn("kr1", "before")).status());

  OKR_ASSERT_OK((*server)->Stop());
  absl::Status health = store->CheckHealth();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable) << health;
  absl::StatusOr<AppendResult> during = store->AppendCheckIn("acme", CheckIn("kr1", "during"));
  EXPECT_EQ(during.status().code(), absl::StatusCode::kUnavailable) << during.status();
  absl::StatusOr<TrackingSnapshot> load = store->LoadOrganisation("acme");
  EXPECT_EQ(load.status().code(), absl::StatusCode::kUnavailable) << load.status();
  for (const absl::Status& status : {health, during.status(), load.status()}) {
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("hunter2")));
  }

  OKR_ASSERT_OK((*server)->Restart());
  OKR_EXPECT_OK(EventuallyOk([&] { return store->CheckHealth(); }));
  absl::StatusOr<AppendResult> after = absl::UnknownError("not run");
  OKR_EXPECT_OK(EventuallyOk([&] {
    after = store->AppendCheckIn("acme", CheckIn("kr1", "after"));
    return after.status();
  }));
  ASSERT_TRUE(after.ok());
  // Nothing of the failed write was kept: the numbers carry on.
  EXPECT_FALSE(after->replayed);
  EXPECT_EQ(after->check_in.sequence, 2);
  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredCheckIn> before,
                           store->FindCheckIn("acme", "kr1", "before"));
  EXPECT_TRUE(before.has_value());
  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredCheckIn> lost,
                           store->FindCheckIn("acme", "kr1", "during"));
  EXPECT_FALSE(lost.has_value());
}

}  // namespace
}  // namespace okr::tracking
