// The store conformance suite on PostgreSQL (a fresh database of a real
// server per test), plus what only the PostgreSQL store has: several stores
// (replicas) on one database racing for the same base, its schema and
// migrations table, the postgresql:// --store URL, an outage of the server,
// and okr-planning itself keeping its plan in PostgreSQL across a restart.
#include "services/planning/postgres_planning_store.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/postgres.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/planning.grpc.pb.h"
#include "services/planning/planning_store.h"
#include "tests/services/planning/store_conformance.h"
#include "tests/support/postgres_server.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr::planning {
namespace {

using ::okr::testing::PostgresServer;
using ::okr::testing::SharedPostgresServer;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// A new database on the shared server; "" after a gtest failure.
std::string FreshDatabase(absl::string_view prefix = "planning") {
  absl::StatusOr<PostgresServer*> server = SharedPostgresServer();
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return "";
  absl::StatusOr<std::string> url = (*server)->CreateUniqueDatabase(prefix);
  EXPECT_TRUE(url.ok()) << url.status();
  return url.ok() ? *url : "";
}

std::unique_ptr<PlanningStore> MustOpen(const std::string& url) {
  absl::StatusOr<std::unique_ptr<PlanningStore>> store = OpenPlanningStore(url);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// --- The conformance suite ---------------------------------------------------

StoreFactory PostgresLocation() {
  const std::string url = FreshDatabase("planning_conformance");
  return [url]() -> std::unique_ptr<PlanningStore> {
    if (url.empty()) return nullptr;
    return MustOpen(url);
  };
}

INSTANTIATE_TEST_SUITE_P(Backends, PlanningStoreConformance,
                         ::testing::Values(StoreBackend{"Postgres", PostgresLocation, true}),
                         StoreBackendName);

// --- PostgreSQL only ----------------------------------------------------------

PlanCommit OnePut(absl::string_view org, int64_t base, absl::string_view id,
                  absl::string_view body) {
  PlanCommit commit;
  commit.organisation_id = std::string(org);
  commit.base_sequence = base;
  StoredResource resource;
  resource.kind = ResourceKind::kObjective;
  resource.id = std::string(id);
  resource.version = base + 1;
  resource.body = std::string(body);
  commit.puts.push_back(resource);
  StoredChange change;
  change.sequence = base + 1;
  change.kind = ResourceKind::kObjective;
  change.id = std::string(id);
  change.commit_time = absl::FromUnixNanos(1767225600000000001 + base);
  change.body = absl::StrCat("change of ", id);
  commit.changes.push_back(change);
  return commit;
}

TEST(PostgresPlanningStoreTest, TwoReplicasRacingOnOneBaseExactlyOneWins) {
  const std::string url = FreshDatabase();
  ASSERT_FALSE(url.empty());
  // Two stores are two pools: what two okr-planning replicas would hold.
  auto first = MustOpen(url);
  auto second = MustOpen(url);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  constexpr int kRounds = 20;
  std::barrier sync(2);
  std::vector<absl::Status> results[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      PlanningStore& store = t == 0 ? *first : *second;
      for (int round = 0; round < kRounds; ++round) {
        // Both build on the same base, read before either commits.
        absl::StatusOr<int64_t> base = store.LatestSequence("acme");
        sync.arrive_and_wait();
        results[t].push_back(
            base.ok() ? store.Commit(OnePut("acme", *base, absl::StrCat("r", round, "t", t),
                                            absl::StrCat("body", t)))
                      : base.status());
        sync.arrive_and_wait();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int wins[2] = {0, 0};
  for (int round = 0; round < kRounds; ++round) {
    const absl::Status& a = results[0][round];
    const absl::Status& b = results[1][round];
    EXPECT_NE(a.ok(), b.ok()) << "round " << round << ": " << a << " / " << b;
    const absl::Status& loser = a.ok() ? b : a;
    EXPECT_EQ(loser.code(), absl::StatusCode::kAborted) << "round " << round << ": " << loser;
    wins[a.ok() ? 0 : 1]++;
  }
  EXPECT_EQ(wins[0] + wins[1], kRounds);
  // Each replica sees the other's commits.
  for (PlanningStore* store : {first.get(), second.get()}) {
    OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org, store->LoadOrganisation("acme"));
    EXPECT_EQ(org.latest_sequence, kRounds);
    EXPECT_EQ(org.resources.size(), size_t{kRounds});
  }
}

TEST(PostgresPlanningStoreTest, FirstCommitsOfANewOrganisationRaceSafely) {
  const std::string url = FreshDatabase();
  ASSERT_FALSE(url.empty());
  auto first = MustOpen(url);
  auto second = MustOpen(url);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  for (int round = 0; round < 10; ++round) {
    const std::string org = absl::StrCat("new-org-", round);
    std::barrier sync(2);
    absl::Status results[2];
    std::thread a([&] {
      sync.arrive_and_wait();
      results[0] = first->Commit(OnePut(org, 0, "a", "a"));
    });
    std::thread b([&] {
      sync.arrive_and_wait();
      results[1] = second->Commit(OnePut(org, 0, "b", "b"));
    });
    a.join();
    b.join();
    EXPECT_NE(results[0].ok(), results[1].ok()) << results[0] << " / " << results[1];
    EXPECT_EQ((results[0].ok() ? results[1] : results[0]).code(), absl::StatusCode::kAborted);
  }
}

TEST(PostgresPlanningStoreTest, ReopenedStoreSeesEverythingAndMigratesOnce) {
  const std::string url = FreshDatabase();
  ASSERT_FALSE(url.empty());
  {
    auto store = MustOpen(url);
    ASSERT_NE(store, nullptr);
    PlanCommit commit = OnePut("acme", 0, "o1", std::string("bin\0\xff", 5));
    StoredRequest request;
    request.method = "CreateObjective";
    request.request_id = "req-1";
    request.fingerprint = std::string("\0fp", 3);
    request.result_ids = {"o1"};
    request.create_time = absl::FromUnixNanos(1767225600123456789);
    commit.request = request;
    OKR_ASSERT_OK(store->Commit(commit));
    OKR_ASSERT_OK(store->Commit(OnePut("acme", 1, "o2", "second")));
  }
  // Opening again (a restart, or another replica) runs no migration twice.
  auto store = MustOpen(url);
  ASSERT_NE(store, nullptr);
  auto other = MustOpen(url);
  ASSERT_NE(other, nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org, store->LoadOrganisation("acme"));
  EXPECT_EQ(org.latest_sequence, 2);
  ASSERT_EQ(org.resources.size(), 2u);
  OKR_ASSERT_OK_AND_ASSIGN(auto request, store->FindRequest("acme", "CreateObjective", "req-1"));
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->fingerprint, std::string("\0fp", 3));
  EXPECT_EQ(request->create_time, absl::FromUnixNanos(1767225600123456789));
  OKR_ASSERT_OK_AND_ASSIGN(auto changes, store->ListChanges("acme", 0, 10));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].commit_time, absl::FromUnixNanos(1767225600000000001));

  // The schema: planning_ tables only, one migrations row.
  PgPoolOptions options;
  options.url = url;
  OKR_ASSERT_OK_AND_ASSIGN(auto pool, PgPool::Open(options));
  std::vector<std::string> tables;
  int64_t migrations = 0;
  OKR_ASSERT_OK(pool->WithConnection([&](PgConnection& conn) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(PgRows rows, conn.Exec("SELECT tablename FROM pg_tables WHERE "
                                                "schemaname = 'public' ORDER BY 1"));
    for (int i = 0; i < rows.size(); ++i) tables.push_back(rows.Text(i, 0));
    OKR_ASSIGN_OR_RETURN(PgRows count,
                         conn.Exec("SELECT count(*) FROM planning_schema_migrations"));
    migrations = count.Int(0, 0);
    return absl::OkStatus();
  }));
  EXPECT_THAT(tables, ElementsAre("planning_changes", "planning_organisations",
                                  "planning_requests", "planning_resources",
                                  "planning_schema_migrations"));
  EXPECT_EQ(migrations, 1);
}

TEST(PostgresPlanningStoreTest, NonUtf8IdIsInvalidArgument) {
  auto store = MustOpen(FreshDatabase());
  ASSERT_NE(store, nullptr);
  absl::Status status = store->Commit(OnePut("acme", 0, "bad\xff", "x"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  OKR_ASSERT_OK_AND_ASSIGN(int64_t latest, store->LatestSequence("acme"));
  EXPECT_EQ(latest, 0);
}

TEST(PostgresPlanningStoreTest, BadUrlsAreRefusedNamingTheFlagWithoutThePassword) {
  OKR_ASSERT_OK_AND_ASSIGN(int port, FreeLoopbackPort());
  struct Case {
    std::string url;
    absl::StatusCode code;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {"postgresql://okr:hunter2@[::1/okr", absl::StatusCode::kInvalidArgument,
       "malformed PostgreSQL URL"},
      {"postgres://okr:hunter2@127.0.0.1/okr?no_such_option=1",
       absl::StatusCode::kInvalidArgument, "malformed PostgreSQL URL"},
      // Nobody listens there.
      {absl::StrCat("postgresql://okr:hunter2@127.0.0.1:", port, "/okr"),
       absl::StatusCode::kUnavailable, absl::StrCat("127.0.0.1:", port)},
      {absl::StrCat("postgres://okr:hunter2@127.0.0.1:", port, "/okr"),
       absl::StatusCode::kUnavailable, "cannot connect"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::unique_ptr<PlanningStore>> store = OpenPlanningStore(c.url);
    EXPECT_EQ(store.status().code(), c.code) << c.url << ": " << store.status();
    EXPECT_THAT(std::string(store.status().message()),
                AllOf(StartsWith("--store: "), HasSubstr(c.mentions), Not(HasSubstr("hunter2"))))
        << c.url;
  }
}

TEST(PostgresPlanningStoreTest, ServerOutageIsUnavailableAndTheStoreRecovers) {
  // A server of its own: stopping the shared one would disturb other tests.
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PostgresServer> server, PostgresServer::Start());
  OKR_ASSERT_OK_AND_ASSIGN(std::string url, server->CreateUniqueDatabase("planning_outage"));
  auto store = MustOpen(url);
  ASSERT_NE(store, nullptr);
  OKR_ASSERT_OK(store->Commit(OnePut("acme", 0, "o1", "kept")));
  OKR_EXPECT_OK(store->CheckHealth());

  OKR_ASSERT_OK(server->Stop());
  absl::Status health = store->CheckHealth();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable) << health;
  EXPECT_EQ(store->Commit(OnePut("acme", 1, "o2", "lost")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->LoadOrganisation("acme").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->LatestSequence("acme").status().code(), absl::StatusCode::kUnavailable);

  OKR_ASSERT_OK(server->Restart());
  OKR_EXPECT_OK(store->CheckHealth());
  OKR_ASSERT_OK_AND_ASSIGN(StoredOrganisation org, store->LoadOrganisation("acme"));
  EXPECT_EQ(org.latest_sequence, 1);
  ASSERT_EQ(org.resources.size(), 1u);
  EXPECT_EQ(org.resources[0].body, "kept");
  OKR_EXPECT_OK(store->Commit(OnePut("acme", 1, "o2", "after")));
}

// --- The binary ---------------------------------------------------------------

TEST(PostgresPlanningBinaryTest, ServesFromPostgresAndKeepsThePlanAcrossARestart) {
  const std::string url = FreshDatabase("planning_binary");
  ASSERT_FALSE(url.empty());
  OKR_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<ServiceProcess> process,
      ServiceProcess::Start({.binary = "okr-planning",
                             .args = {absl::StrCat("--store=", url), "--auth=false",
                                      "--shutdown_grace=5s"}}));
  auto call_get = [&](v1::Organisation* out) {
    auto channel = grpc::CreateChannel(process->address(), grpc::InsecureChannelCredentials());
    auto stub = v1::PlanningService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    context.AddMetadata("okr-organisation-id", "acme");
    return stub->GetOrganisation(&context, v1::GetOrganisationRequest(), out);
  };
  {
    auto channel = grpc::CreateChannel(process->address(), grpc::InsecureChannelCredentials());
    auto stub = v1::PlanningService::NewStub(channel);
    v1::BootstrapOrganisationRequest request;
    request.set_organisation_id("acme");
    request.mutable_organisation()->set_name("Acme Retail");
    request.mutable_organisation()->set_time_zone("Europe/Berlin");
    request.mutable_organisation()->set_mission("Delight every shopper");
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    v1::Organisation created;
    grpc::Status status = stub->BootstrapOrganisation(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message() << "\n"
                             << process->LogTail();
  }
  OKR_ASSERT_OK(process->Restart());
  v1::Organisation loaded;
  grpc::Status status = call_get(&loaded);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message() << "\n"
                           << process->LogTail();
  EXPECT_EQ(loaded.name(), "Acme Retail");
  EXPECT_EQ(loaded.mission(), "Delight every shopper");
  // The plan really is in PostgreSQL, not in a file beside the binary.
  auto store = MustOpen(url);
  ASSERT_NE(store, nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<Id> orgs, store->ListOrganisationIds());
  EXPECT_THAT(orgs, ElementsAre("acme"));
}

}  // namespace
}  // namespace okr::planning
