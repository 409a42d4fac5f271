// The notify store on a real PostgreSQL server (tests/support/
// postgres_server.h, one server per test binary, a fresh database per test):
// the conformance suite, then what only a shared server has: store objects
// standing for replicas racing the reminder ledger and the outbox, replicas
// migrating one database at once, and a server that stops and comes back.
#include <algorithm>
#include <barrier>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/postgres.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/notify/notify_store.h"
#include "services/notify/postgres_notify_store.h"
#include "tests/services/notify/store_conformance.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_support.h"

namespace okr::notify {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// okr.v1 enum numbers.
constexpr int kWeekly = 1;
constexpr int kWebhookChannel = 3;
constexpr int kSucceeded = 1;

// A fresh database on the binary's shared server; nullopt (after a gtest
// failure) when there is none.
std::optional<std::string> FreshDatabase(absl::string_view prefix) {
  absl::StatusOr<okr::testing::PostgresServer*> server = okr::testing::SharedPostgresServer();
  if (!server.ok()) {
    ADD_FAILURE() << "no PostgreSQL server: " << server.status();
    return std::nullopt;
  }
  absl::StatusOr<std::string> url = (*server)->CreateUniqueDatabase(prefix);
  if (!url.ok()) {
    ADD_FAILURE() << "no database: " << url.status();
    return std::nullopt;
  }
  return *std::move(url);
}

std::unique_ptr<NotifyStore> OpenOrFail(const std::string& url) {
  absl::StatusOr<std::unique_ptr<NotifyStore>> store = OpenNotifyStore(url);
  if (!store.ok()) {
    ADD_FAILURE() << "OpenNotifyStore(" << url << "): " << store.status();
    return nullptr;
  }
  return *std::move(store);
}

// Through OpenNotifyStore, the way okr-notify opens it.
StoreFactory PostgresLocation() {
  std::optional<std::string> url = FreshDatabase("notify_conformance");
  if (!url.has_value()) return [] { return std::unique_ptr<NotifyStore>(); };
  return [url = *url] { return OpenOrFail(url); };
}

INSTANTIATE_TEST_SUITE_P(Postgres, NotifyStoreConformance,
                         ::testing::Values(NotifyStoreBackend{"Postgres", PostgresLocation}),
                         NotifyStoreBackendName);

// --- Builders --------------------------------------------------------------------------

absl::Time At(int64_t seconds) {
  return absl::FromUnixMicros(1799020800000000 + seconds * 1000000);
}

NewReminder Reminder(absl::string_view id, absl::string_view recipient, absl::string_view window,
                     std::vector<Id> webhook_ids = {}) {
  NewReminder reminder;
  reminder.reminder.id = std::string(id);
  reminder.reminder.recipient_id = std::string(recipient);
  reminder.reminder.kind = kWeekly;
  reminder.reminder.window_key = std::string(window);
  reminder.reminder.publish_time = At(0);
  reminder.reminder.body = absl::StrCat("body of ", id);
  reminder.webhook_ids = std::move(webhook_ids);
  return reminder;
}

StoredWebhook Webhook(absl::string_view id) {
  StoredWebhook webhook;
  webhook.id = std::string(id);
  webhook.url = absl::StrCat("http://127.0.0.1:9/", id);
  webhook.create_time = At(0);
  webhook.body = std::string(id);
  return webhook;
}

// Two store objects (two pools) on one database stand for two replicas.
class PostgresReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<std::string> url = FreshDatabase("notify_replicas");
    ASSERT_TRUE(url.has_value());
    url_ = *url;
    for (auto* store : {&first_, &second_}) {
      *store = OpenOrFail(url_);
      ASSERT_NE(*store, nullptr);
    }
  }

  std::string url_;
  std::unique_ptr<NotifyStore> first_;
  std::unique_ptr<NotifyStore> second_;
};

// Four claimers (two per replica) claim the same 40 (recipient, window) keys
// per round with ids of their own, half of them in reverse order (so that
// their inserts cross): every key is claimed by exactly one of them, and only
// the winners queue webhook tasks.
TEST_F(PostgresReplicasTest, ClaimingTheSameSetClaimsEachReminderOnce) {
  OKR_ASSERT_OK(first_->CreateWebhook("acme", Webhook("wh-1"), 20).status());
  constexpr int kKeys = 40;
  constexpr int kClaimers = 4;
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    const std::string window = absl::StrCat("2027-W", 10 + round);
    std::vector<absl::StatusOr<std::vector<bool>>> results(kClaimers,
                                                           absl::UnknownError("not run"));
    std::vector<std::vector<NewReminder>> claims(kClaimers);
    for (int c = 0; c < kClaimers; ++c) {
      for (int k = 0; k < kKeys; ++k) {
        claims[c].push_back(Reminder(absl::StrCat("rem-", round, "-", c, "-", k),
                                     absl::StrCat("person-", k), window, {"wh-1"}));
      }
      if (c % 2 == 1) std::reverse(claims[c].begin(), claims[c].end());
    }
    std::barrier start(kClaimers);
    std::vector<std::thread> threads;
    for (int c = 0; c < kClaimers; ++c) {
      threads.emplace_back([&, c] {
        NotifyStore* store = c % 2 == 0 ? first_.get() : second_.get();
        start.arrive_and_wait();
        results[c] = store->ClaimReminders("acme", claims[c]);
      });
    }
    for (std::thread& thread : threads) thread.join();

    std::map<std::string, int> winners;  // recipient -> claims won
    for (int c = 0; c < kClaimers; ++c) {
      ASSERT_TRUE(results[c].ok()) << "round " << round << ", claimer " << c << ": "
                                   << results[c].status();
      ASSERT_EQ(results[c]->size(), static_cast<size_t>(kKeys));
      for (int k = 0; k < kKeys; ++k) {
        if ((*results[c])[k]) ++winners[claims[c][k].reminder.recipient_id];
      }
    }
    EXPECT_EQ(winners.size(), static_cast<size_t>(kKeys)) << "round " << round;
    for (const auto& [recipient, won] : winners) {
      EXPECT_EQ(won, 1) << "round " << round << ": " << recipient << " claimed " << won << " times";
    }
  }
  ReminderQuery query;
  query.limit = 1;
  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage page, second_->ListReminders("acme", query));
  EXPECT_EQ(page.total, kKeys * kRounds);
  OKR_ASSERT_OK_AND_ASSIGN(int64_t pending, first_->PendingWebhookTasks());
  EXPECT_EQ(pending, kKeys * kRounds);
}

// Dispatchers on both replicas lease, deliver and complete at once: the
// leases are disjoint, every task is completed once, the outbox drains.
TEST_F(PostgresReplicasTest, RacingDispatchersLeaseDisjointTasksAndDrainTheOutbox) {
  constexpr int kReminders = 30;
  OKR_ASSERT_OK(first_->CreateWebhook("acme", Webhook("wh-1"), 20).status());
  OKR_ASSERT_OK(first_->CreateWebhook("acme", Webhook("wh-2"), 20).status());
  std::vector<NewReminder> reminders;
  for (int i = 0; i < kReminders; ++i) {
    reminders.push_back(
        Reminder(absl::StrCat("rem-", i), absl::StrCat("p", i), "w1", {"wh-1", "wh-2"}));
  }
  OKR_ASSERT_OK(first_->ClaimReminders("acme", reminders).status());
  constexpr int kTasks = 2 * kReminders;

  constexpr int kDispatchers = 4;
  std::vector<std::vector<std::tuple<Id, Id>>> leased(kDispatchers);
  std::vector<std::string> errors(kDispatchers);
  std::barrier start(kDispatchers);
  std::vector<std::thread> threads;
  for (int d = 0; d < kDispatchers; ++d) {
    threads.emplace_back([&, d] {
      NotifyStore* store = d % 2 == 0 ? first_.get() : second_.get();
      start.arrive_and_wait();
      for (int guard = 0; guard < 1000; ++guard) {
        absl::StatusOr<std::vector<WebhookTask>> tasks =
            store->LeaseWebhookTasks(At(100), absl::Minutes(5), 3);
        if (!tasks.ok()) {
          errors[d] = tasks.status().ToString();
          return;
        }
        if (tasks->empty()) return;
        for (const WebhookTask& task : *tasks) {
          leased[d].emplace_back(task.reminder_id, task.webhook_id);
          StoredDelivery delivery;
          delivery.id = absl::StrCat("del-", task.reminder_id, "-", task.webhook_id, "-", d, "-",
                                     guard);
          delivery.reminder_id = task.reminder_id;
          delivery.channel = kWebhookChannel;
          delivery.webhook_id = task.webhook_id;
          delivery.attempt = task.attempts + 1;
          delivery.status = kSucceeded;
          delivery.time = At(101);
          delivery.body = delivery.id;
          absl::Status done = store->CompleteWebhookAttempt(task, delivery, std::nullopt);
          if (!done.ok()) {
            errors[d] = done.ToString();
            return;
          }
        }
      }
      errors[d] = "the outbox did not drain";
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::set<std::tuple<Id, Id>> distinct;
  size_t handed_out = 0;
  for (int d = 0; d < kDispatchers; ++d) {
    EXPECT_EQ(errors[d], "") << "dispatcher " << d;
    handed_out += leased[d].size();
    distinct.insert(leased[d].begin(), leased[d].end());
  }
  EXPECT_EQ(handed_out, size_t{kTasks}) << "a task was leased twice";
  EXPECT_EQ(distinct.size(), size_t{kTasks});
  OKR_ASSERT_OK_AND_ASSIGN(int64_t pending, second_->PendingWebhookTasks());
  EXPECT_EQ(pending, 0);
  DeliveryQuery query;
  query.status = kSucceeded;
  query.limit = 1;
  OKR_ASSERT_OK_AND_ASSIGN(DeliveryPage log, second_->ListDeliveries("acme", query));
  EXPECT_EQ(log.total, kTasks);
}

// Replicas starting together migrate one database once; the store's tables
// and its migrations table carry the notify_ prefix, so planning and
// tracking can share the database.
TEST(PostgresNotifyStoreTest, ReplicasStartingTogetherMigrateOnceIntoPrefixedTables) {
  std::optional<std::string> url = FreshDatabase("notify_migrate");
  ASSERT_TRUE(url.has_value());
  constexpr int kReplicas = 4;
  std::vector<absl::Status> opened(kReplicas, absl::UnknownError("not run"));
  std::barrier start(kReplicas);
  std::vector<std::thread> threads;
  for (int r = 0; r < kReplicas; ++r) {
    threads.emplace_back([&, r] {
      start.arrive_and_wait();
      opened[r] = OpenNotifyStore(*url).status();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int r = 0; r < kReplicas; ++r) OKR_EXPECT_OK(opened[r]) << "replica " << r;

  PgPoolOptions options;
  options.url = *url;
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PgPool> pool, PgPool::Open(options));
  std::vector<std::string> tables;
  std::vector<int64_t> versions;
  OKR_ASSERT_OK(pool->WithConnection([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(PgRows rows,
                         conn.Exec("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                   "ORDER BY tablename"));
    for (int i = 0; i < rows.size(); ++i) tables.push_back(rows.Text(i, 0));
    OKR_ASSIGN_OR_RETURN(PgRows applied,
                         conn.Exec("SELECT version FROM notify_schema_migrations"));
    for (int i = 0; i < applied.size(); ++i) versions.push_back(applied.Int(i, 0));
    return absl::OkStatus();
  }));
  EXPECT_THAT(tables, ::testing::Contains("notify_reminders"));
  EXPECT_THAT(tables, ::testing::Contains("notify_schema_migrations"));
  for (const std::string& table : tables) {
    EXPECT_TRUE(absl::StartsWith(table, "notify_")) << table;
  }
  EXPECT_THAT(versions, ::testing::ElementsAre(1));
}

TEST(PostgresNotifyStoreTest, UnreachableServerIsUnavailableAndThePasswordIsNotShown) {
  OKR_ASSERT_OK_AND_ASSIGN(const int closed_port, FreeLoopbackPort());
  for (absl::string_view scheme : {"postgresql", "postgres"}) {
    const std::string url =
        absl::StrCat(scheme, "://okr:s3cr3t-pw@127.0.0.1:", closed_port, "/notify");
    absl::Status status = OpenNotifyStore(url).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("--store")) << status;
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("s3cr3t-pw"))) << status;
  }
}

// The server goes away under an open store: calls and CheckHealth say
// UNAVAILABLE (what the health watch turns into NOT_SERVING); once it is
// back, the same store object serves again, with the data it had.
TEST(PostgresNotifyStoreTest, StoppedServerIsUnavailableAndTheStoreRecoversAfterRestart) {
  // A server of its own: stopping the shared one would fail other tests.
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<okr::testing::PostgresServer> server,
                           okr::testing::PostgresServer::Start());
  OKR_ASSERT_OK_AND_ASSIGN(const std::string url, server->CreateDatabase("notify_outage"));
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<NotifyStore> store, OpenNotifyStore(url));
  OKR_ASSERT_OK(store->CheckHealth());
  OKR_ASSERT_OK(store->ClaimReminders("acme", {Reminder("rem-1", "p1", "w1")}).status());

  OKR_ASSERT_OK(server->Stop());
  absl::Status health = store->CheckHealth();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable) << health;
  absl::Status claim = store->ClaimReminders("acme", {Reminder("rem-2", "p2", "w1")}).status();
  EXPECT_EQ(claim.code(), absl::StatusCode::kUnavailable) << claim;
  absl::Status list = store->ListReminders("acme", {}).status();
  EXPECT_EQ(list.code(), absl::StatusCode::kUnavailable) << list;

  OKR_ASSERT_OK(server->Restart());
  // Pooled connections died with the server; each is replaced on its next
  // use, so the store is healthy again within a few calls.
  absl::Status recovered = absl::UnknownError("not tried");
  for (absl::Time deadline = absl::Now() + absl::Seconds(20); absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(100))) {
    recovered = store->CheckHealth();
    if (recovered.ok()) break;
  }
  OKR_ASSERT_OK(recovered);
  absl::StatusOr<std::vector<bool>> claimed = absl::UnknownError("not tried");
  for (int attempt = 0; attempt < 20; ++attempt) {
    claimed = store->ClaimReminders("acme", {Reminder("rem-2", "p2", "w1")});
    if (claimed.ok()) break;
    ASSERT_EQ(claimed.status().code(), absl::StatusCode::kUnavailable) << claimed.status();
  }
  OKR_ASSERT_OK(claimed.status());
  EXPECT_THAT(*claimed, ::testing::ElementsAre(true));
  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage page, store->ListReminders("acme", {}));
  EXPECT_EQ(page.total, 2) << "rem-1 (before the outage) and rem-2";
}

}  // namespace
}  // namespace okr::notify
