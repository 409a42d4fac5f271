// Concurrent conflicting updates in planning (optimistic concurrency): many
// threads, on one Planning or on two replicas over the same SQLite file,
// write the same objective or key result with the same expected version.
// Exactly one wins, every other gets ABORTED naming `version`, and what is
// stored (also after a restart) is the winner's write: no lost update.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "services/planning/planning.h"
#include "services/planning/sqlite_planning_store.h"
#include "tests/support/test_support.h"

namespace okr::planning {
namespace {

using ::absl::StatusCode;

constexpr char kOrg[] = "acme";
constexpr int kWriters = 8;
constexpr int kRounds = 5;

// Whether `status` is ABORTED naming "version:".
bool IsVersionConflict(const absl::Status& status) {
  return status.code() == StatusCode::kAborted &&
         absl::StartsWith(status.message(), "version:");
}

ObjectiveFilter ChildrenOf(const Id& parent_id) {
  ObjectiveFilter f;
  f.parent_objective_id = parent_id;
  return f;
}

class PlanningConflictTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_a_ = OpenStore();
    store_b_ = OpenStore();
    ASSERT_NE(store_a_, nullptr);
    ASSERT_NE(store_b_, nullptr);
    a_ = NewPlanning(store_a_.get());
    Organisation org;
    org.name = "Acme Retail";
    org.fiscal_year_start_month = 1;
    org.time_zone = "UTC";
    org.planning_profile = PlanningProfile::kSmall;
    ASSERT_TRUE(a_->BootstrapOrganisation(kOrg, org, {}).ok());
    absl::StatusOr<FiscalYear> fy = a_->CreateFiscalYear(
        kOrg, 2027, /*include_months=*/false, std::nullopt, {});
    ASSERT_TRUE(fy.ok()) << fy.status();
    q1_ = fy->quarters[0];
    Person person;
    person.display_name = "Ada Chief";
    person.email = "ada@acme.example";
    absl::StatusOr<Person> owner = a_->CreatePerson(kOrg, person, {});
    ASSERT_TRUE(owner.ok()) << owner.status();
    owner_ = *owner;
    // A second replica over the same file (its own connections).
    b_ = NewPlanning(store_b_.get());
  }

  std::unique_ptr<SqlitePlanningStore> OpenStore() {
    absl::StatusOr<std::unique_ptr<SqlitePlanningStore>> store =
        SqlitePlanningStore::Open(dir_.File("planning.db"));
    if (!store.ok()) {
      ADD_FAILURE() << store.status();
      return nullptr;
    }
    return *std::move(store);
  }

  std::unique_ptr<Planning> NewPlanning(PlanningStore* store) {
    // refresh_interval 0: reads on a replica see the other's commits at once.
    return std::make_unique<Planning>(
        store, PlanningOptions{[] { return absl::Now(); }, absl::ZeroDuration()});
  }

  Objective NewObjective(const std::string& title) {
    Objective o;
    o.title = title;
    o.cycle_id = q1_.id;
    o.owner_id = owner_.id;
    o.level = Level::kCompany;
    o.kind = ObjectiveKind::kCommitted;
    o.state = ObjectiveState::kPublished;
    return o;
  }

  // Runs `write(i)` on kWriters threads released together; returns the
  // statuses by writer.
  template <typename F>
  std::vector<absl::Status> Race(F write) {
    std::vector<absl::Status> results(kWriters);
    absl::Barrier* start = new absl::Barrier(kWriters);
    std::vector<std::thread> threads;
    for (int i = 0; i < kWriters; ++i) {
      threads.emplace_back([&, i] {
        if (start->Block()) delete start;
        results[i] = write(i);
      });
    }
    for (std::thread& t : threads) t.join();
    return results;
  }

  // Exactly one OK, every other a version conflict; returns the winner or -1.
  static int OneWinner(const std::vector<absl::Status>& results) {
    int winner = -1;
    int wins = 0;
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i].ok()) {
        winner = static_cast<int>(i);
        ++wins;
      } else {
        EXPECT_TRUE(IsVersionConflict(results[i]))
            << "writer " << i << ": " << results[i];
      }
    }
    EXPECT_EQ(wins, 1);
    return wins == 1 ? winner : -1;
  }

  // The replica writer `i` uses: even on a_, odd on b_.
  Planning* ReplicaOf(int i) { return i % 2 == 0 ? a_.get() : b_.get(); }

  TempDir dir_{"okr-planning-conflict"};
  std::unique_ptr<SqlitePlanningStore> store_a_;
  std::unique_ptr<SqlitePlanningStore> store_b_;
  std::unique_ptr<Planning> a_;
  std::unique_ptr<Planning> b_;
  Cycle q1_;
  Person owner_;
};

TEST_F(PlanningConflictTest, SameVersionObjectiveUpdatesOneWinsOnOneReplica) {
  absl::StatusOr<Objective> created =
      a_->CreateObjective(kOrg, NewObjective("Start"), {});
  ASSERT_TRUE(created.ok()) << created.status();
  Objective current = *created;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const int64_t version = current.version;
    std::vector<absl::Status> results = Race([&](int i) {
      Objective values = current;
      values.title = absl::StrCat("Title by writer ", i, " in round ", round);
      return a_->UpdateObjective(kOrg, values, {"title"}, version).status();
    });
    const int winner = OneWinner(results);
    ASSERT_GE(winner, 0);
    absl::StatusOr<Objective> stored = a_->GetObjective(kOrg, current.id);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->title,
              absl::StrCat("Title by writer ", winner, " in round ", round));
    EXPECT_EQ(stored->version, version + 1);
    current = *stored;
  }
  // The store agrees after a restart.
  std::unique_ptr<Planning> restarted = NewPlanning(store_a_.get());
  absl::StatusOr<Objective> reloaded = restarted->GetObjective(kOrg, current.id);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(reloaded->title, current.title);
  EXPECT_EQ(reloaded->version, current.version);
}

TEST_F(PlanningConflictTest, SameVersionUpdatesAcrossTwoReplicasOneWins) {
  absl::StatusOr<Objective> created =
      a_->CreateObjective(kOrg, NewObjective("Start"), {});
  ASSERT_TRUE(created.ok()) << created.status();
  // Both replicas have loaded the organisation before the race.
  ASSERT_TRUE(b_->GetObjective(kOrg, created->id).ok());
  Objective current = *created;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const int64_t version = current.version;
    std::vector<absl::Status> results = Race([&](int i) {
      Objective values = current;
      values.description = absl::StrCat("Description by writer ", i);
      values.priority = i + 1;
      return ReplicaOf(i)
          ->UpdateObjective(kOrg, values, {"description", "priority"}, version)
          .status();
    });
    const int winner = OneWinner(results);
    ASSERT_GE(winner, 0);
    for (Planning* replica : {a_.get(), b_.get()}) {
      absl::StatusOr<Objective> stored = replica->GetObjective(kOrg, current.id);
      ASSERT_TRUE(stored.ok());
      EXPECT_EQ(stored->description, absl::StrCat("Description by writer ", winner));
      EXPECT_EQ(stored->priority, winner + 1);
      EXPECT_EQ(stored->version, version + 1);
      current = *stored;
    }
  }
}

TEST_F(PlanningConflictTest, SameVersionKeyResultUpdatesAcrossReplicasOneWins) {
  absl::StatusOr<Objective> o = a_->CreateObjective(kOrg, NewObjective("Host"), {});
  ASSERT_TRUE(o.ok()) << o.status();
  KeyResult kr;
  kr.objective_id = o->id;
  kr.title = "Reach 100 customers";
  kr.type = KeyResultType::kMetric;
  kr.measure = Measure::kKpi;
  kr.from = 0;
  kr.to = 100;
  kr.direction = Direction::kIncrease;
  kr.data_source = DataSource::kManual;
  absl::StatusOr<KeyResult> created = a_->CreateKeyResult(kOrg, kr, {});
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(b_->GetKeyResult(kOrg, created->id).ok());
  KeyResult current = *created;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const int64_t version = current.version;
    std::vector<absl::Status> results = Race([&](int i) {
      KeyResult values = current;
      values.to = 100 + 10 * (i + 1);
      values.weight = i + 1;
      return ReplicaOf(i)
          ->UpdateKeyResult(kOrg, values, {"target_value", "weight"}, version)
          .status();
    });
    const int winner = OneWinner(results);
    ASSERT_GE(winner, 0);
    absl::StatusOr<KeyResult> stored = b_->GetKeyResult(kOrg, current.id);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->to, 100 + 10 * (winner + 1));  // both fields of one writer
    EXPECT_EQ(stored->weight, winner + 1);
    EXPECT_EQ(stored->version, version + 1);
    current = *stored;
  }
}

TEST_F(PlanningConflictTest, SameVersionAlignmentsOneParentWins) {
  absl::StatusOr<Objective> child = a_->CreateObjective(kOrg, NewObjective("Child"), {});
  ASSERT_TRUE(child.ok()) << child.status();
  std::vector<Id> parents;
  for (int i = 0; i < kWriters; ++i) {
    Objective p = NewObjective(absl::StrCat("Parent ", i));
    absl::StatusOr<Objective> created = a_->CreateObjective(kOrg, p, {});
    ASSERT_TRUE(created.ok()) << created.status();
    parents.push_back(created->id);
  }
  ASSERT_TRUE(b_->GetObjective(kOrg, child->id).ok());
  std::vector<absl::Status> results = Race([&](int i) {
    return ReplicaOf(i)
        ->AlignObjective(kOrg, child->id, parents[i], 1, child->version)
        .status();
  });
  const int winner = OneWinner(results);
  ASSERT_GE(winner, 0);
  absl::StatusOr<Objective> stored = a_->GetObjective(kOrg, child->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->alignment.parent_objective_id, parents[winner]);
  // Exactly one parent lists the child.
  int listing = 0;
  for (const Id& parent : parents) {
    absl::StatusOr<Page<Objective>> children =
        b_->ListObjectives(kOrg, ChildrenOf(parent), {});
    ASSERT_TRUE(children.ok());
    listing += static_cast<int>(children->items.size());
  }
  EXPECT_EQ(listing, 1);
}

TEST_F(PlanningConflictTest, ArchiveRacingAnUpdateNeverLosesEither) {
  // Half archive, half rename, all with the same version: one of them wins
  // and the stored objective is exactly that write.
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    absl::StatusOr<Objective> o = a_->CreateObjective(
        kOrg, NewObjective(absl::StrCat("Round ", round)), {});
    ASSERT_TRUE(o.ok()) << o.status();
    ASSERT_TRUE(b_->GetObjective(kOrg, o->id).ok());
    std::vector<absl::Status> results = Race([&](int i) {
      if (i % 2 == 0) {
        return ReplicaOf(i)->ArchiveObjective(kOrg, o->id, o->version).status();
      }
      Objective values = *o;
      values.title = absl::StrCat("Renamed by ", i);
      return ReplicaOf(i)->UpdateObjective(kOrg, values, {"title"}, o->version).status();
    });
    const int winner = OneWinner(results);
    ASSERT_GE(winner, 0);
    absl::StatusOr<Objective> stored = a_->GetObjective(kOrg, o->id);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->version, o->version + 1);
    if (winner % 2 == 0) {
      EXPECT_EQ(stored->state, ObjectiveState::kArchived);
      EXPECT_EQ(stored->title, o->title);
    } else {
      EXPECT_EQ(stored->state, ObjectiveState::kPublished);
      EXPECT_EQ(stored->title, absl::StrCat("Renamed by ", winner));
    }
  }
}

}  // namespace
}  // namespace okr::planning
