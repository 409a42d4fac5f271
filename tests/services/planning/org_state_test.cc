// Tests of the planning core: OrgState's indexes, pagination, version checks
// and Planning's Read/Write (commit before apply, idempotent replay, catching
// up with another replica, change feed and subscriptions).
#include "services/planning/org_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/validation.h"
#include "okr/v1/planning.pb.h"
#include "services/planning/planning.h"
#include "tests/services/planning/planning_test_util.h"

namespace okr::planning {

// Gives the tests access to the core's Write, as the use-case files have.
class PlanningCoreTest : public PlanningTest {
 protected:
  absl::Status PutTitle(Planning& planning, const Id& id,
                        const std::string& title) {
    return planning.Write(
        kOrg, [&](const OrgState& state, const WriteContext& ctx, Mutation* m) {
          Objective objective = *state.FindObjective(id);
          objective.title = title;
          StampUpdated(objective, ctx.now);
          m->puts.push_back(objective);
          return absl::OkStatus();
        });
  }

  absl::StatusOr<Id> CreateOnce(const RequestKey& key, int* runs) {
    Id created;
    absl::Status status = planning_->Write(
        kOrg, "CreateTeam", key,
        [&](const OrgState&, const WriteContext& ctx, Mutation* m) {
          ++*runs;
          Team team;
          team.name = "Stores";
          team.id = ctx.new_id(ResourceKind::kTeam);
          StampCreated(team, ctx.now);
          m->puts.push_back(team);
          m->result_ids.push_back(team.id);
          created = team.id;
          return absl::OkStatus();
        },
        [&](const OrgState& state, absl::Span<const Id> ids) {
          EXPECT_EQ(ids.size(), 1u);
          EXPECT_NE(state.FindTeam(ids[0]), nullptr);
          created = ids[0];
          return absl::OkStatus();
        });
    if (!status.ok()) return status;
    return created;
  }

  std::string TitleSeenBy(Planning& planning, const Id& id) {
    std::string title;
    EXPECT_TRUE(planning
                    .Read(kOrg,
                          [&](const OrgState& state) {
                            title = state.FindObjective(id)->title;
                            return absl::OkStatus();
                          })
                    .ok());
    return title;
  }
};

TEST_F(PlanningCoreTest, IndexesFollowAlignmentChanges) {
  FiscalYear fy = MakeFiscalYear(2027);
  Person ceo = MakePerson("Dana Chief");
  Objective parent = MakeObjective("Delight customers", fy.year.id, ceo.id);
  Objective other = MakeObjective("Grow revenue", fy.year.id, ceo.id);
  KeyResult kr = MakeKeyResult(parent.id, "NPS from 30 to 50", 30, 50);
  Objective child = MakeObjective("Faster support", fy.quarters[0].id, ceo.id,
                                  Level::kTeam);

  OrgState state;
  ASSERT_TRUE(planning_
                  ->Read(kOrg,
                         [&](const OrgState& s) {
                           state = s;
                           return absl::OkStatus();
                         })
                  .ok());
  Objective aligned = child;
  aligned.alignment = {.kind = AlignmentKind::kKeyResult,
                       .parent_objective_id = parent.id,
                       .parent_key_result_id = kr.id,
                       .weight = 1.0};
  state.Put(aligned);
  ASSERT_EQ(state.ChildrenOf(parent.id).size(), 1u);
  EXPECT_EQ(state.ChildrenOf(parent.id)[0]->id, child.id);
  ASSERT_EQ(state.CascadedFrom(kr.id).size(), 1u);

  // Re-aligning moves the child between parents in every index.
  aligned.alignment = {.kind = AlignmentKind::kObjective,
                       .parent_objective_id = other.id,
                       .parent_key_result_id = "",
                       .weight = 2.0};
  state.Put(aligned);
  EXPECT_TRUE(state.ChildrenOf(parent.id).empty());
  EXPECT_TRUE(state.CascadedFrom(kr.id).empty());
  ASSERT_EQ(state.ChildrenOf(other.id).size(), 1u);

  aligned.breakdown_of_objective_id = parent.id;
  state.Put(aligned);
  ASSERT_EQ(state.BreakdownsOf(parent.id).size(), 1u);
  state.Erase(ResourceKind::kObjective, child.id);
  EXPECT_TRUE(state.ChildrenOf(other.id).empty());
  EXPECT_TRUE(state.BreakdownsOf(parent.id).empty());

  ASSERT_EQ(state.KeyResultsOf(parent.id).size(), 1u);
  state.Erase(ResourceKind::kKeyResult, kr.id);
  EXPECT_TRUE(state.KeyResultsOf(parent.id).empty());
  EXPECT_EQ(state.FindKeyResult(kr.id), nullptr);
}

// LiveObjectiveCount counted the slow way: what the index must always equal.
int ScanLiveObjectives(const OrgState& state, absl::string_view owner_id,
                       absl::string_view cycle_id) {
  int count = 0;
  for (const auto& [id, o] : state.objectives()) {
    if (o.owner_id == owner_id && o.cycle_id == cycle_id &&
        o.state != ObjectiveState::kArchived) {
      ++count;
    }
  }
  return count;
}

TEST_F(PlanningCoreTest, LiveObjectiveCountFollowsStateOwnerAndCycle) {
  FiscalYear fy = MakeFiscalYear(2027);
  Person ana = MakePerson("Ana Lead");
  Person ben = MakePerson("Ben Lead");
  Objective first = MakeObjective("Delight customers", fy.year.id, ana.id);
  MakeObjective("Grow revenue", fy.year.id, ana.id);

  OrgState state;
  ASSERT_TRUE(planning_
                  ->Read(kOrg,
                         [&](const OrgState& s) {
                           state = s;
                           return absl::OkStatus();
                         })
                  .ok());
  EXPECT_EQ(state.LiveObjectiveCount(ana.id, fy.year.id), 2);
  EXPECT_EQ(state.LiveObjectiveCount(ana.id, fy.quarters[0].id), 0);
  EXPECT_EQ(state.LiveObjectiveCount(ben.id, fy.year.id), 0);

  Objective changed = first;
  changed.state = ObjectiveState::kArchived;
  state.Put(changed);
  EXPECT_EQ(state.LiveObjectiveCount(ana.id, fy.year.id), 1);
  changed.state = ObjectiveState::kDraft;  // restored
  state.Put(changed);
  EXPECT_EQ(state.LiveObjectiveCount(ana.id, fy.year.id), 2);
  changed.owner_id = ben.id;
  changed.cycle_id = fy.quarters[1].id;
  state.Put(changed);
  EXPECT_EQ(state.LiveObjectiveCount(ana.id, fy.year.id), 1);
  EXPECT_EQ(state.LiveObjectiveCount(ben.id, fy.quarters[1].id), 1);
  // Archived objectives leave no trace when deleted.
  changed.state = ObjectiveState::kArchived;
  state.Put(changed);
  EXPECT_EQ(state.LiveObjectiveCount(ben.id, fy.quarters[1].id), 0);
  state.Erase(ResourceKind::kObjective, changed.id);
  EXPECT_EQ(state.LiveObjectiveCount(ben.id, fy.quarters[1].id), 0);
  EXPECT_EQ(state.LiveObjectiveCount(ana.id, fy.year.id), 1);
  state.Erase(ResourceKind::kObjective, changed.id);  // twice: no effect
  EXPECT_EQ(state.LiveObjectiveCount(ana.id, fy.year.id), 1);
}

TEST_F(PlanningCoreTest, LiveObjectiveCountSurvivesUseCasesAndRestart) {
  FiscalYear fy = MakeFiscalYear(2027);
  Person ana = MakePerson("Ana Lead");
  Person ben = MakePerson("Ben Lead");
  Objective annual = MakeObjective("Delight customers", fy.year.id, ana.id);
  Objective q1 = MakeObjective("Faster support", fy.quarters[0].id, ana.id);
  Objective other = MakeObjective("Cheaper support", fy.quarters[0].id, ben.id);

  absl::StatusOr<Objective> archived =
      planning_->ArchiveObjective(kOrg, q1.id, q1.version);
  ASSERT_TRUE(archived.ok()) << archived.status();
  Objective restore = *archived;
  restore.state = ObjectiveState::kDraft;
  absl::StatusOr<Objective> restored =
      planning_->UpdateObjective(kOrg, restore, {"state"}, archived->version);
  ASSERT_TRUE(restored.ok()) << restored.status();
  Objective moved = *restored;
  moved.owner_id = ben.id;
  absl::StatusOr<Objective> updated =
      planning_->UpdateObjective(kOrg, moved, {"owner_id"}, restored->version);
  ASSERT_TRUE(updated.ok()) << updated.status();
  absl::Status deleted = planning_->DeleteObjective(kOrg, other.id, other.version);
  ASSERT_TRUE(deleted.ok()) << deleted;
  BreakdownItem part;
  part.cycle_id = fy.quarters[1].id;
  part.title = "Q2 part";
  absl::StatusOr<std::vector<Objective>> parts = planning_->BreakDownObjective(
      kOrg, annual.id, {part}, /*align=*/true, {});
  ASSERT_TRUE(parts.ok()) << parts.status();
  RollOverItem roll;
  roll.objective_id = (*parts)[0].id;
  absl::StatusOr<RollOverResult> rolled = planning_->RollOverObjectives(
      kOrg, fy.quarters[2].id, {roll}, /*keep_alignment=*/true, {});
  ASSERT_TRUE(rolled.ok()) << rolled.status();

  auto expect_index_matches_scan = [&](Planning& planning) {
    absl::Status read = planning.Read(kOrg, [&](const OrgState& state) {
      for (const Person* p : {&ana, &ben}) {
        for (const auto& [cycle_id, cycle] : state.cycles()) {
          EXPECT_EQ(state.LiveObjectiveCount(p->id, cycle_id),
                    ScanLiveObjectives(state, p->id, cycle_id))
              << p->display_name << " in " << cycle.name;
        }
      }
      EXPECT_EQ(state.LiveObjectiveCount(ana.id, fy.year.id), 1);
      EXPECT_EQ(state.LiveObjectiveCount(ben.id, fy.quarters[0].id), 1);
      EXPECT_EQ(state.LiveObjectiveCount(ana.id, fy.quarters[1].id), 1);
      EXPECT_EQ(state.LiveObjectiveCount(ana.id, fy.quarters[2].id), 1);
      return absl::OkStatus();
    });
    EXPECT_TRUE(read.ok()) << read;
  };
  expect_index_matches_scan(*planning_);
  std::unique_ptr<Planning> restarted = Restart();
  expect_index_matches_scan(*restarted);
}

TEST_F(PlanningCoreTest, PeopleWithEmailIgnoresCaseAndFollowsChanges) {
  Person ana = MakePerson("Ana Lead");
  ASSERT_FALSE(ana.email.empty());
  OrgState state;
  ASSERT_TRUE(planning_
                  ->Read(kOrg,
                         [&](const OrgState& s) {
                           state = s;
                           return absl::OkStatus();
                         })
                  .ok());
  std::vector<const Person*> found =
      state.PeopleWithEmail(absl::AsciiStrToUpper(ana.email));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]->id, ana.id);
  EXPECT_TRUE(state.PeopleWithEmail("").empty());

  Person renamed = ana;
  renamed.email = "ana@elsewhere.example";
  state.Put(renamed);
  EXPECT_TRUE(state.PeopleWithEmail(ana.email).empty());
  ASSERT_EQ(state.PeopleWithEmail("ANA@elsewhere.example").size(), 1u);

  Person twin = renamed;  // stored data may repeat an address: both are kept
  twin.id = "person-twin";
  state.Put(twin);
  found = state.PeopleWithEmail(renamed.email);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_LT(found[0]->id, found[1]->id);

  state.Erase(ResourceKind::kPerson, ana.id);
  found = state.PeopleWithEmail(renamed.email);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]->id, "person-twin");
  renamed = twin;
  renamed.email.clear();
  state.Put(renamed);
  EXPECT_TRUE(state.PeopleWithEmail(twin.email).empty());
}

TEST_F(PlanningCoreTest, SubTeamsOfFollowsMovesAndDeletes) {
  Team sales = MakeTeam("Sales");
  Team retail = MakeTeam("Retail");
  Team north = MakeTeam("North", sales.id);
  auto ids = [](const std::vector<const Team*>& teams) {
    std::vector<Id> out;
    for (const Team* t : teams) out.push_back(t->id);
    return out;
  };
  OrgState state;
  ASSERT_TRUE(planning_
                  ->Read(kOrg,
                         [&](const OrgState& s) {
                           state = s;
                           return absl::OkStatus();
                         })
                  .ok());
  std::vector<Id> top = {sales.id, retail.id};
  std::sort(top.begin(), top.end());
  EXPECT_EQ(ids(state.SubTeamsOf("")), top);
  EXPECT_EQ(ids(state.SubTeamsOf(sales.id)), std::vector<Id>{north.id});

  north.parent_team_id = retail.id;  // moved
  state.Put(north);
  EXPECT_TRUE(state.SubTeamsOf(sales.id).empty());
  EXPECT_EQ(ids(state.SubTeamsOf(retail.id)), std::vector<Id>{north.id});
  north.parent_team_id.clear();  // to the top
  state.Put(north);
  EXPECT_EQ(state.SubTeamsOf("").size(), 3u);
  state.Erase(ResourceKind::kTeam, north.id);
  EXPECT_EQ(ids(state.SubTeamsOf("")), top);
  EXPECT_TRUE(state.SubTeamsOf(retail.id).empty());
}

TEST_F(PlanningCoreTest, KeyResultsOfAreInCreationOrder) {
  FiscalYear fy = MakeFiscalYear(2027);
  Person owner = MakePerson("Ola Owner");
  Objective objective = MakeObjective("Grow", fy.year.id, owner.id);
  std::vector<Id> created;
  for (int i = 0; i < 5; ++i) {
    now_ += absl::Seconds(1);
    created.push_back(
        MakeKeyResult(objective.id, absl::StrCat("KR ", i), 0, 10 + i).id);
  }
  std::vector<Id> listed;
  ASSERT_TRUE(planning_
                  ->Read(kOrg,
                         [&](const OrgState& state) {
                           for (const KeyResult* kr :
                                state.KeyResultsOf(objective.id)) {
                             listed.push_back(kr->id);
                           }
                           return absl::OkStatus();
                         })
                  .ok());
  EXPECT_EQ(listed, created);
}

TEST(PaginateTest, WalksPagesAndSurvivesInsertions) {
  std::vector<std::string> keys = {"a", "c", "e", "g", "i"};
  absl::StatusOr<PageSlice> first = Paginate({.page_size = 2, .page_token = ""}, "f", keys);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->begin, 0u);
  EXPECT_EQ(first->end, 2u);
  ASSERT_FALSE(first->next_page_token.empty());

  // An entry inserted before the cut does not reappear or shift the page.
  keys.insert(keys.begin() + 1, "b");
  absl::StatusOr<PageSlice> second =
      Paginate({.page_size = 2, .page_token = first->next_page_token}, "f",
               keys);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(keys[second->begin], "e");
  EXPECT_EQ(second->end - second->begin, 2u);

  absl::StatusOr<PageSlice> last =
      Paginate({.page_size = 2, .page_token = second->next_page_token}, "f",
               keys);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(keys[last->begin], "i");
  EXPECT_EQ(last->end, keys.size());
  EXPECT_TRUE(last->next_page_token.empty());
}

TEST(PaginateTest, DefaultsCapsAndRefusals) {
  std::vector<std::string> keys;
  for (int i = 0; i < 1200; ++i) keys.push_back(absl::StrCat(10000 + i));
  absl::StatusOr<PageSlice> page = Paginate({}, "", keys);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->end, static_cast<size_t>(kDefaultPageSize));
  page = Paginate({.page_size = 100000, .page_token = ""}, "", keys);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->end, static_cast<size_t>(kMaxPageSize));

  absl::Status negative = Paginate({.page_size = -1, .page_token = ""}, "", keys).status();
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(negative).at(0).field, "page_size");

  absl::Status garbage =
      Paginate({.page_size = 0, .page_token = "not-a-token!"}, "", keys).status();
  EXPECT_EQ(garbage.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(garbage).at(0).field, "page_token");

  absl::StatusOr<PageSlice> filtered = Paginate({.page_size = 1, .page_token = ""}, "x", keys);
  ASSERT_TRUE(filtered.ok());
  absl::Status other_filter =
      Paginate({.page_size = 0, .page_token = filtered->next_page_token}, "y", keys).status();
  EXPECT_EQ(other_filter.code(), absl::StatusCode::kInvalidArgument);
}

TEST(CheckVersionTest, StaleIsAbortedAndMissingIsInvalid) {
  EXPECT_TRUE(CheckVersion(3, 3).ok());
  absl::Status stale = CheckVersion(2, 3);
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(stale.message()), ::testing::HasSubstr("3"));
  EXPECT_EQ(CheckVersion(0, 3).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PlanningCoreTest, AFailedCommitChangesNothingInMemory) {
  FiscalYear fy = MakeFiscalYear(2027);
  Person owner = MakePerson("Ola Owner");
  Objective objective = MakeObjective("Grow", fy.year.id, owner.id);
  const int commits = store_.commits();

  store_.FailWith(absl::UnavailableError("disk gone"));
  absl::Status status = PutTitle(*planning_, objective.id, "Changed");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  store_.FailWith(absl::OkStatus());
  EXPECT_EQ(TitleSeenBy(*planning_, objective.id), "Grow");
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(PlanningCoreTest, EverythingSurvivesARestart) {
  FiscalYear fy = MakeFiscalYear(2027);
  Person owner = MakePerson("Ola Owner");
  Objective objective = MakeObjective("Grow", fy.year.id, owner.id);
  KeyResult kr = MakeKeyResult(objective.id, "Revenue from 1 to 2", 1, 2);
  ASSERT_TRUE(PutTitle(*planning_, objective.id, "Grow faster").ok());

  std::unique_ptr<Planning> restarted = Restart();
  EXPECT_EQ(TitleSeenBy(*restarted, objective.id), "Grow faster");
  ASSERT_TRUE(restarted
                  ->Read(kOrg,
                         [&](const OrgState& state) {
                           EXPECT_EQ(state.organisation().name, "Acme Retail");
                           EXPECT_EQ(state.cycles().size(), 5u);
                           const KeyResult* stored =
                               state.FindKeyResult(kr.id);
                           EXPECT_NE(stored, nullptr);
                           if (stored != nullptr) {
                             EXPECT_EQ(stored->to, 2);
                             EXPECT_EQ(stored->create_time, now_);
                           }
                           EXPECT_EQ(state.FindObjective(objective.id)->version,
                                     2);
                           return absl::OkStatus();
                         })
                  .ok());
}

TEST_F(PlanningCoreTest, ReplicasCatchUpWhenAnotherCommittedFirst) {
  FiscalYear fy = MakeFiscalYear(2027);
  Person owner = MakePerson("Ola Owner");
  Objective objective = MakeObjective("Grow", fy.year.id, owner.id);
  std::unique_ptr<Planning> replica = Restart();
  ASSERT_EQ(TitleSeenBy(*replica, objective.id), "Grow");

  ASSERT_TRUE(PutTitle(*planning_, objective.id, "From the first").ok());
  // The replica's state is behind: its commit is refused by the store, it
  // takes the first replica's change and rebuilds its write on top.
  ASSERT_TRUE(PutTitle(*replica, objective.id, "From the second").ok());
  ASSERT_TRUE(replica
                  ->Read(kOrg,
                         [&](const OrgState& state) {
                           EXPECT_EQ(state.FindObjective(objective.id)->version,
                                     3);
                           return absl::OkStatus();
                         })
                  .ok());
  EXPECT_EQ(TitleSeenBy(*Restart(), objective.id), "From the second");
}

TEST_F(PlanningCoreTest, ReadsCatchUpAfterTheRefreshInterval) {
  FiscalYear fy = MakeFiscalYear(2027);
  Person owner = MakePerson("Ola Owner");
  Objective objective = MakeObjective("Grow", fy.year.id, owner.id);
  Planning always_fresh(&store_,
                        {.clock = [this] { return now_; },
                         .refresh_interval = absl::ZeroDuration()});
  Planning never_fresh(&store_, {.clock = [this] { return now_; },
                                 .refresh_interval = absl::InfiniteDuration()});
  ASSERT_EQ(TitleSeenBy(always_fresh, objective.id), "Grow");
  ASSERT_EQ(TitleSeenBy(never_fresh, objective.id), "Grow");

  ASSERT_TRUE(PutTitle(*planning_, objective.id, "Grow more").ok());
  EXPECT_EQ(TitleSeenBy(always_fresh, objective.id), "Grow more");
  // Within its interval a replica serves what it has.
  EXPECT_EQ(TitleSeenBy(never_fresh, objective.id), "Grow");
}

TEST_F(PlanningCoreTest, ARequestIdRunsOnceAndRefusesOtherContent) {
  int runs = 0;
  absl::StatusOr<Id> first = CreateOnce({"req-1", "fp-a"}, &runs);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<Id> again = CreateOnce({"req-1", "fp-a"}, &runs);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(runs, 1);

  absl::Status other = CreateOnce({"req-1", "fp-b"}, &runs).status();
  EXPECT_EQ(other.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(FieldViolationsOf(other).at(0).field, "request_id");

  // A replica that never saw the first call replays it too.
  std::unique_ptr<Planning> replica = Restart();
  Id replayed;
  ASSERT_TRUE(replica
                  ->Write(
                      kOrg, "CreateTeam", {"req-1", "fp-a"},
                      [&](const OrgState&, const WriteContext&, Mutation*) {
                        ADD_FAILURE() << "ran twice";
                        return absl::OkStatus();
                      },
                      [&](const OrgState&, absl::Span<const Id> ids) {
                        replayed = ids[0];
                        return absl::OkStatus();
                      })
                  .ok());
  EXPECT_EQ(replayed, *first);

  absl::Status bad_id = CreateOnce({"bad id with spaces", "fp"}, &runs).status();
  EXPECT_EQ(bad_id.code(), absl::StatusCode::kInvalidArgument);
}

// Forwards to a store but refuses LoadOrganisation: whatever still works
// over it does not load the organisation's state.
class NoLoadStore final : public PlanningStore {
 public:
  explicit NoLoadStore(PlanningStore* store) : store_(store) {}
  absl::StatusOr<StoredOrganisation> LoadOrganisation(absl::string_view) override {
    return absl::InternalError("LoadOrganisation called");
  }
  absl::StatusOr<std::vector<Id>> ListOrganisationIds() override {
    return store_->ListOrganisationIds();
  }
  absl::Status Commit(const PlanCommit& commit) override { return store_->Commit(commit); }
  absl::StatusOr<int64_t> LatestSequence(absl::string_view org) override {
    return store_->LatestSequence(org);
  }
  absl::StatusOr<std::vector<StoredChange>> ListChanges(absl::string_view org, int64_t after,
                                                        int limit) override {
    return store_->ListChanges(org, after, limit);
  }
  absl::StatusOr<std::optional<StoredRequest>> FindRequest(absl::string_view org,
                                                           absl::string_view method,
                                                           absl::string_view request_id) override {
    return store_->FindRequest(org, method, request_id);
  }

 private:
  PlanningStore* const store_;
};

TEST_F(PlanningCoreTest, ChangeFeedOfAColdOrganisationDoesNotLoadIt) {
  MakeFiscalYear(2027);  // bootstrap 1 + year and 4 quarters
  NoLoadStore store(&store_);
  Planning cold(&store, PlanningOptions{.clock = [this] { return now_; }});

  absl::StatusOr<Planning::ChangeBatch> batch = cold.ListPlanChanges(kOrg, 0, 1000);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->changes.size(), 6u);
  EXPECT_EQ(batch->latest_sequence, 6);
  absl::StatusOr<Planning::ChangeBatch> tail = cold.ListPlanChanges(kOrg, 4, 1);
  ASSERT_TRUE(tail.ok()) << tail.status();
  ASSERT_EQ(tail->changes.size(), 1u);
  EXPECT_EQ(tail->changes[0].sequence, 5);
  EXPECT_EQ(tail->latest_sequence, 6);

  // An organisation nothing was committed to is not bootstrapped.
  const absl::Status unknown = cold.ListPlanChanges("nobody", 0, 10).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unknown.message()), ::testing::HasSubstr("not bootstrapped"));
  EXPECT_EQ(cold.ListPlanChanges("", 0, 10).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PlanningCoreTest, UnknownOrganisationIsNotFound) {
  absl::Status status = planning_->Read(
      "nobody", [](const OrgState&) { return absl::OkStatus(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("nobody"));
}

TEST_F(PlanningCoreTest, ChangeFeedAndSubscribersSeeEveryCommit) {
  std::atomic<int> notified{0};
  const int64_t handle =
      planning_->Subscribe(kOrg, [&notified] { notified.fetch_add(1); });
  FiscalYear fy = MakeFiscalYear(2027);  // one commit, five changes
  Person owner = MakePerson("Ola Owner");
  Objective objective = MakeObjective("Grow", fy.year.id, owner.id);
  EXPECT_EQ(notified.load(), 3);
  planning_->Unsubscribe(kOrg, handle);
  ASSERT_TRUE(PutTitle(*planning_, objective.id, "Grow more").ok());
  EXPECT_EQ(notified.load(), 3);

  absl::StatusOr<Planning::ChangeBatch> batch =
      planning_->ListPlanChanges(kOrg, 0, 1000);
  ASSERT_TRUE(batch.ok()) << batch.status();
  // Bootstrap 1 + year and 4 quarters + person + objective + update.
  ASSERT_EQ(batch->changes.size(), 9u);
  EXPECT_EQ(batch->latest_sequence, 9);
  v1::PlanChange last;
  ASSERT_TRUE(last.ParseFromString(batch->changes.back().body));
  EXPECT_EQ(last.sequence(), 9);
  EXPECT_EQ(last.objective().title(), "Grow more");
  EXPECT_EQ(last.version(), 2);

  absl::StatusOr<Planning::ChangeBatch> tail =
      planning_->ListPlanChanges(kOrg, 7, 1);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->changes.size(), 1u);
  EXPECT_EQ(tail->changes[0].sequence, 8);
  EXPECT_EQ(planning_->ListPlanChanges(kOrg, -1, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace okr::planning
