// Unit tests of the objective and key result use-cases
// (services/planning/planning_objectives.cc) over the in-memory store. Test
// data comes from the domain documents: the retail plan, the customer-success
// cascade and the sales department's annual objective with its first-quarter
// breakdown.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/validation.h"
#include "services/planning/planning.h"
#include "tests/services/planning/planning_test_util.h"

namespace okr::planning {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

std::vector<std::string> FieldsOf(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolationsOf(status)) {
    fields.push_back(v.field);
  }
  return fields;
}

template <typename T>
std::vector<std::string> TitlesOf(const std::vector<T>& items) {
  std::vector<std::string> titles;
  for (const T& item : items) titles.push_back(item.title);
  return titles;
}

// Builds a T with `set` applied to a default one (designated initializers
// would trip -Wmissing-field-initializers).
template <typename T, typename Fn>
T Make(Fn set) {
  T value;
  set(value);
  return value;
}

class ObjectivesTest : public PlanningTest {
 protected:
  ObjectivesTest() {
    maya_ = MakePerson("Maya Chen");
    li_ = MakePerson("Li Wei");
    in_store_ = MakeTeam("In-Store Sales");
    sales_ = MakeTeam("Sales");
    fy2027_ = MakeFiscalYear(2027);
    year_ = fy2027_.year.id;
    q1_ = fy2027_.quarters.at(0).id;
    q2_ = fy2027_.quarters.at(1).id;
  }

  // A retail-plan objective as a client would send it (defaults left unset).
  Objective NewObjective(const std::string& title, const Id& cycle_id,
                         const Id& owner_id) {
    Objective o;
    o.title = title;
    o.level = Level::kCompany;
    o.owner_id = owner_id;
    o.cycle_id = cycle_id;
    o.kind = ObjectiveKind::kCommitted;
    o.state = ObjectiveState::kUnspecified;
    o.progress_source = ProgressSource::kUnspecified;
    return o;
  }

  KeyResult NewMetric(const Id& objective_id, const std::string& title,
                      double from, double to) {
    KeyResult kr;
    kr.objective_id = objective_id;
    kr.title = title;
    kr.type = KeyResultType::kMetric;
    kr.measure = Measure::kKpi;
    kr.from = from;
    kr.to = to;
    kr.data_source = DataSource::kManual;
    return kr;
  }

  Objective CreateOk(const Objective& o, const RequestKey& key = {}) {
    absl::StatusOr<Objective> created =
        planning_->CreateObjective(kOrg, o, key);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : Objective{};
  }

  KeyResult CreateOk(const KeyResult& kr, const RequestKey& key = {}) {
    absl::StatusOr<KeyResult> created =
        planning_->CreateKeyResult(kOrg, kr, key);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : KeyResult{};
  }

  Cycle ClosedYear(int year) {
    Cycle cycle;
    cycle.name = absl::StrCat("FY", year);
    cycle.kind = CycleKind::kAnnual;
    cycle.start = absl::CivilDay(year - 1, 1, 1);
    cycle.end = absl::CivilDay(year, 1, 1);
    cycle.state = CycleState::kClosed;
    return PutNew(ResourceKind::kCycle, cycle);
  }

  // An objective aligned (Classic) to `parent`, put without use-case rules.
  Objective PutAligned(const std::string& title, const Id& cycle_id,
                       const Objective& parent) {
    Objective o = NewObjective(title, cycle_id, li_.id);
    o.state = ObjectiveState::kPublished;
    o.progress_source = ProgressSource::kKeyResults;
    o.alignment.kind = AlignmentKind::kObjective;
    o.alignment.parent_objective_id = parent.id;
    return PutNew(ResourceKind::kObjective, o);
  }

  std::vector<Objective> ListAll(const ObjectiveFilter& filter) {
    absl::StatusOr<Page<Objective>> page =
        planning_->ListObjectives(kOrg, filter, PageRequest{});
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->items : std::vector<Objective>{};
  }

  std::vector<KeyResult> ListAll(const KeyResultFilter& filter) {
    absl::StatusOr<Page<KeyResult>> page =
        planning_->ListKeyResults(kOrg, filter, PageRequest{});
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->items : std::vector<KeyResult>{};
  }

  Person maya_, li_;
  Team in_store_, sales_;
  FiscalYear fy2027_;
  Id year_, q1_, q2_;
};

// --- CreateObjective ---------------------------------------------------------

TEST_F(ObjectivesTest,
       CreateObjectiveStoresDraftWithDefaultsAndIgnoresOutputs) {
  Objective o =
      NewObjective("Drive sales contribution of new customers from 10% to 20%",
                   year_, maya_.id);
  o.team_id = in_store_.id;
  o.category = Category::kProfit;
  o.priority = 1;
  // Output-only fields a client may echo back; all ignored.
  o.id = "ob-mine";
  o.version = 42;
  o.alignment.kind = AlignmentKind::kObjective;
  o.alignment.parent_objective_id = "ob-elsewhere";
  o.breakdown_of_objective_id = "ob-other";
  o.rolled_over_from_id = "ob-old";

  const Objective created = CreateOk(o);
  EXPECT_FALSE(created.id.empty());
  EXPECT_NE(created.id, "ob-mine");
  EXPECT_EQ(created.version, 1);
  EXPECT_EQ(created.create_time, now_);
  EXPECT_EQ(created.update_time, now_);
  EXPECT_EQ(created.state, ObjectiveState::kDraft);
  EXPECT_EQ(created.progress_source, ProgressSource::kKeyResults);
  EXPECT_EQ(created.alignment.kind, AlignmentKind::kNone);
  EXPECT_THAT(created.alignment.parent_objective_id, IsEmpty());
  EXPECT_THAT(created.breakdown_of_objective_id, IsEmpty());
  EXPECT_THAT(created.rolled_over_from_id, IsEmpty());
  EXPECT_EQ(created.title, o.title);
  EXPECT_EQ(created.team_id, in_store_.id);
  EXPECT_EQ(created.category, Category::kProfit);
  EXPECT_EQ(created.priority, 1);

  absl::StatusOr<Objective> got = planning_->GetObjective(kOrg, created.id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->title, o.title);
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->owner_id, maya_.id);
}

TEST_F(ObjectivesTest, CreateObjectiveKeepsPublishedAndProgressSource) {
  Objective o = NewObjective(
      "Significantly improve the performance level of "
      "the sales department",
      year_, li_.id);
  o.level = Level::kTeam;
  o.team_id = sales_.id;
  o.kind = ObjectiveKind::kAspirational;
  o.state = ObjectiveState::kPublished;
  o.progress_source = ProgressSource::kBoth;
  const Objective created = CreateOk(o);
  EXPECT_EQ(created.state, ObjectiveState::kPublished);
  EXPECT_EQ(created.progress_source, ProgressSource::kBoth);
  EXPECT_EQ(created.level, Level::kTeam);
}

TEST_F(ObjectivesTest, CreateObjectiveNamesEveryInvalidField) {
  const int commits = store_.commits();
  Objective o = NewObjective("", q1_, "");
  o.level = Level::kTeam;  // without a team
  o.kind = ObjectiveKind::kUnspecified;
  o.state = ObjectiveState::kArchived;
  o.priority = -1;
  absl::StatusOr<Objective> created =
      planning_->CreateObjective(kOrg, o, RequestKey{});
  ASSERT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(created.status()),
              UnorderedElementsAre("objective.title", "objective.kind",
                                   "objective.priority", "objective.owner_id",
                                   "objective.team_id", "objective.state"));
  EXPECT_THAT(created.status().message(), HasSubstr("ArchiveObjective"));
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(ObjectivesTest, CreateObjectiveRequiresExistingOwnerTeamAndCycle) {
  const int commits = store_.commits();
  struct Case {
    const char* field;
    Objective objective;
  };
  Objective bad_owner = NewObjective("Reduce churn", year_, "pe-nobody");
  Objective bad_team = NewObjective("Reduce churn", year_, maya_.id);
  bad_team.team_id = "te-nowhere";
  Objective bad_cycle = NewObjective("Reduce churn", "cy-never", maya_.id);
  for (const Case& c : {Case{"objective.owner_id", bad_owner},
                        Case{"objective.team_id", bad_team},
                        Case{"objective.cycle_id", bad_cycle}}) {
    absl::StatusOr<Objective> created =
        planning_->CreateObjective(kOrg, c.objective, RequestKey{});
    EXPECT_EQ(created.status().code(), absl::StatusCode::kNotFound) << c.field;
    EXPECT_THAT(created.status().message(), HasSubstr(c.field));
  }
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(ObjectivesTest, CreateObjectiveInClosedCycleIsRefused) {
  const Cycle fy2026 = ClosedYear(2026);
  const int commits = store_.commits();
  absl::StatusOr<Objective> created = planning_->CreateObjective(
      kOrg, NewObjective("Reduce churn", fy2026.id, maya_.id), RequestKey{});
  EXPECT_EQ(created.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(created.status().message(), HasSubstr("CLOSED"));
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(ObjectivesTest, CreateObjectiveOnUnknownOrganisationIsNotFound) {
  absl::StatusOr<Objective> created = planning_->CreateObjective(
      "globex", NewObjective("Reduce churn", year_, maya_.id), RequestKey{});
  EXPECT_EQ(created.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ObjectivesTest, OwnerAndCycleHoldAtMostTwentyLiveObjectives) {
  std::vector<Objective> made;
  for (int i = 1; i <= kMaxObjectivesPerOwnerCycle; ++i) {
    made.push_back(
        CreateOk(NewObjective(absl::StrCat("Objective ", i), q1_, maya_.id)));
  }
  const int commits = store_.commits();
  absl::StatusOr<Objective> extra = planning_->CreateObjective(
      kOrg, NewObjective("One too many", q1_, maya_.id), RequestKey{});
  EXPECT_EQ(extra.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(extra.status().message(), HasSubstr("20"));
  EXPECT_EQ(store_.commits(), commits);

  // Other cycles and other owners are counted apart.
  CreateOk(NewObjective("Next quarter", q2_, maya_.id));
  const Objective lis = CreateOk(NewObjective("Someone else", q1_, li_.id));

  // An archived objective leaves room; restoring it is then one too many.
  absl::StatusOr<Objective> archived =
      planning_->ArchiveObjective(kOrg, made[0].id, made[0].version);
  ASSERT_TRUE(archived.ok()) << archived.status();
  CreateOk(NewObjective("Replacement", q1_, maya_.id));
  Objective restore;
  restore.id = made[0].id;
  restore.state = ObjectiveState::kPublished;
  absl::StatusOr<Objective> restored =
      planning_->UpdateObjective(kOrg, restore, {"state"}, archived->version);
  EXPECT_EQ(restored.status().code(), absl::StatusCode::kFailedPrecondition);

  // Handing an objective to an owner who is full is refused the same way.
  Objective move = lis;
  move.owner_id = maya_.id;
  absl::StatusOr<Objective> moved =
      planning_->UpdateObjective(kOrg, move, {"owner_id"}, lis.version);
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_.commits(), commits + 4);
}

TEST_F(ObjectivesTest, CreateObjectiveIsIdempotentByRequestId) {
  const Objective o = NewObjective(
      "Reduce churn of existing customers from "
      "40% to 20%",
      year_, maya_.id);
  const RequestKey key{"9b1f7c2e-req", "fingerprint-a"};
  const Objective first = CreateOk(o, key);
  const int commits = store_.commits();
  now_ += absl::Minutes(5);
  const Objective again = CreateOk(o, key);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.create_time, first.create_time);
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(ListAll(ObjectiveFilter{}).size(), 1u);

  absl::StatusOr<Objective> other = planning_->CreateObjective(
      kOrg, o, RequestKey{"9b1f7c2e-req", "fingerprint-b"});
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_.commits(), commits);
}

// --- GetObjective / ListObjectives -------------------------------------------

TEST_F(ObjectivesTest, GetObjectiveUnknownIsNotFound) {
  absl::StatusOr<Objective> got = planning_->GetObjective(kOrg, "ob-missing");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("ob-missing"));
}

TEST_F(ObjectivesTest, ListObjectivesOrdersByCycleOwnerAndPriority) {
  // Person ids are generated: learn which of the two sorts first.
  const bool maya_first = maya_.id < li_.id;
  const Id& first_owner = maya_first ? maya_.id : li_.id;
  const Id& second_owner = maya_first ? li_.id : maya_.id;

  auto make = [&](const std::string& title, const Id& cycle, const Id& owner,
                  int priority) {
    Objective o = NewObjective(title, cycle, owner);
    o.priority = priority;
    return CreateOk(o);
  };
  // Created out of order on purpose.
  make("q2 first owner p1", q2_, first_owner, 1);
  make("q1 second owner p1", q1_, second_owner, 1);
  make("q1 first owner unranked", q1_, first_owner, 0);
  make("q1 first owner p2", q1_, first_owner, 2);
  make("year second owner p3", year_, second_owner, 3);
  make("q1 first owner p1", q1_, first_owner, 1);

  // The year and Q1 start the same day: the longer cycle comes first.
  EXPECT_THAT(TitlesOf(ListAll(ObjectiveFilter{})),
              ElementsAre("year second owner p3", "q1 first owner p1",
                          "q1 first owner p2", "q1 first owner unranked",
                          "q1 second owner p1", "q2 first owner p1"));
}

TEST_F(ObjectivesTest, ListObjectivesFiltersCombine) {
  Objective team = NewObjective(
      "Improve the business ability of the sales "
      "team",
      q1_, li_.id);
  team.level = Level::kTeam;
  team.team_id = sales_.id;
  team.state = ObjectiveState::kPublished;
  CreateOk(team);
  CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  const Objective gone = CreateOk(NewObjective("Old idea", q1_, maya_.id));
  CreateOk(NewObjective("Grow margin", year_, maya_.id));
  ASSERT_TRUE(planning_->ArchiveObjective(kOrg, gone.id, gone.version).ok());

  EXPECT_THAT(TitlesOf(ListAll(Make<ObjectiveFilter>(
                  [&](ObjectiveFilter& f) { f.cycle_id = q1_; }))),
              UnorderedElementsAre(team.title, "Reduce churn"));
  EXPECT_THAT(TitlesOf(ListAll(Make<ObjectiveFilter>(
                  [&](ObjectiveFilter& f) { f.level = Level::kTeam; }))),
              ElementsAre(team.title));
  EXPECT_THAT(TitlesOf(ListAll(Make<ObjectiveFilter>(
                  [&](ObjectiveFilter& f) { f.owner_id = maya_.id; }))),
              UnorderedElementsAre("Reduce churn", "Grow margin"));
  EXPECT_THAT(TitlesOf(ListAll(Make<ObjectiveFilter>(
                  [&](ObjectiveFilter& f) { f.team_id = sales_.id; }))),
              ElementsAre(team.title));
  EXPECT_THAT(TitlesOf(ListAll(Make<ObjectiveFilter>([&](ObjectiveFilter& f) {
                f.state = ObjectiveState::kArchived;
              }))),
              ElementsAre("Old idea"));
  EXPECT_THAT(TitlesOf(ListAll(Make<ObjectiveFilter>([&](ObjectiveFilter& f) {
                f.state = ObjectiveState::kPublished;
              }))),
              ElementsAre(team.title));
  EXPECT_THAT(TitlesOf(ListAll(Make<ObjectiveFilter>([&](ObjectiveFilter& f) {
                f.cycle_id = q1_;
                f.owner_id = maya_.id;
                f.state = ObjectiveState::kDraft;
              }))),
              ElementsAre("Reduce churn"));
  EXPECT_THAT(ListAll(Make<ObjectiveFilter>(
                  [&](ObjectiveFilter& f) { f.owner_id = "pe-nobody"; })),
              IsEmpty());
}

TEST_F(ObjectivesTest, ListObjectivesByParentAndBreakdownInPriorityOrder) {
  // The sales department's annual objective and its Q1 priorities.
  Objective annual = NewObjective(
      "Significantly improve the performance "
      "level of the sales department",
      year_, li_.id);
  annual.level = Level::kTeam;
  annual.team_id = sales_.id;
  annual.state = ObjectiveState::kPublished;
  annual.progress_source = ProgressSource::kKeyResults;
  annual = PutNew(ResourceKind::kObjective, annual);

  auto breakdown = [&](const std::string& title, int priority, bool aligned) {
    Objective o = NewObjective(title, q1_, li_.id);
    o.state = ObjectiveState::kPublished;
    o.progress_source = ProgressSource::kKeyResults;
    o.priority = priority;
    o.breakdown_of_objective_id = annual.id;
    if (aligned) {
      o.alignment.kind = AlignmentKind::kObjective;
      o.alignment.parent_objective_id = annual.id;
    }
    return PutNew(ResourceKind::kObjective, o);
  };
  breakdown("Recruit at least 30 outstanding sales elites", 3, false);
  breakdown("Improve the business ability of the sales team", 1, true);
  breakdown("Build benchmark customers in five industries", 2, true);
  PutAligned("Unrelated child", q2_, annual);

  EXPECT_THAT(TitlesOf(ListAll(Make<ObjectiveFilter>([&](ObjectiveFilter& f) {
                f.breakdown_of_objective_id = annual.id;
              }))),
              ElementsAre("Improve the business ability of the sales team",
                          "Build benchmark customers in five industries",
                          "Recruit at least 30 outstanding sales elites"));
  EXPECT_THAT(
      TitlesOf(ListAll(Make<ObjectiveFilter>(
          [&](ObjectiveFilter& f) { f.parent_objective_id = annual.id; }))),
      UnorderedElementsAre("Improve the business ability of the sales team",
                           "Build benchmark customers in five industries",
                           "Unrelated child"));
  EXPECT_THAT(TitlesOf(ListAll(Make<ObjectiveFilter>([&](ObjectiveFilter& f) {
                f.cycle_id = q2_;
                f.parent_objective_id = annual.id;
              }))),
              ElementsAre("Unrelated child"));
}

TEST_F(ObjectivesTest, ListObjectivesPagesThroughEverythingOnce) {
  std::vector<std::string> titles;
  for (int i = 1; i <= 7; ++i) {
    Objective o = NewObjective(absl::StrCat("Objective ", i), q1_, maya_.id);
    o.priority = i;
    titles.push_back(CreateOk(o).title);
  }
  std::vector<std::string> seen;
  PageRequest request;
  request.page_size = 3;
  int pages = 0;
  do {
    absl::StatusOr<Page<Objective>> page =
        planning_->ListObjectives(kOrg, ObjectiveFilter{}, request);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->total_size, 7);
    EXPECT_LE(page->items.size(), 3u);
    for (const Objective& o : page->items) seen.push_back(o.title);
    request.page_token = page->next_page_token;
    ++pages;
  } while (!request.page_token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, titles);

  // A token is bound to its filters; negative sizes are refused.
  absl::StatusOr<Page<Objective>> first = planning_->ListObjectives(
      kOrg, ObjectiveFilter{},
      Make<PageRequest>([&](PageRequest& f) { f.page_size = 3; }));
  ASSERT_TRUE(first.ok());
  absl::StatusOr<Page<Objective>> mixed = planning_->ListObjectives(
      kOrg,
      Make<ObjectiveFilter>([&](ObjectiveFilter& f) { f.owner_id = maya_.id; }),
      Make<PageRequest>([&](PageRequest& f) {
        f.page_size = 3;
        f.page_token = first->next_page_token;
      }));
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(mixed.status()), ElementsAre("page_token"));
  absl::StatusOr<Page<Objective>> negative = planning_->ListObjectives(
      kOrg, ObjectiveFilter{},
      Make<PageRequest>([&](PageRequest& f) { f.page_size = -1; }));
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
}

// --- UpdateObjective ---------------------------------------------------------

TEST_F(ObjectivesTest, UpdateObjectiveChangesOnlyMaskedFields) {
  Objective o =
      NewObjective("Increase the average bill value", year_, maya_.id);
  o.description = "ABV = in-store revenue / number of bills.";
  const Objective created = CreateOk(o);
  now_ += absl::Hours(1);

  Objective values;
  values.id = created.id;
  values.title = "Increase the average bill value (ABV) from $100 to $150";
  values.description = "ignored: not in the mask";
  values.kind = ObjectiveKind::kAspirational;
  values.priority = 3;
  values.state = ObjectiveState::kPublished;
  absl::StatusOr<Objective> updated = planning_->UpdateObjective(
      kOrg, values, {"title", "kind", "priority", "state"}, created.version);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->title, values.title);
  EXPECT_EQ(updated->kind, ObjectiveKind::kAspirational);
  EXPECT_EQ(updated->priority, 3);
  EXPECT_EQ(updated->state, ObjectiveState::kPublished);
  EXPECT_EQ(updated->description, o.description);
  EXPECT_EQ(updated->owner_id, maya_.id);
  EXPECT_EQ(updated->version, created.version + 1);
  EXPECT_EQ(updated->create_time, created.create_time);
  EXPECT_EQ(updated->update_time, now_);

  absl::StatusOr<Objective> got = planning_->GetObjective(kOrg, created.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->title, values.title);
  EXPECT_EQ(got->version, updated->version);
}

TEST_F(ObjectivesTest, UpdateObjectiveRefusesBadMasks) {
  const Objective created =
      CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  const int commits = store_.commits();
  Objective values = created;
  for (const std::vector<std::string>& paths :
       std::vector<std::vector<std::string>>{{},
                                             {"titel"},
                                             {"version"},
                                             {"alignment.weight"},
                                             {"breakdown_of_objective_id"},
                                             {"cycle_id"},
                                             {"title", "create_time"}}) {
    absl::StatusOr<Objective> updated =
        planning_->UpdateObjective(kOrg, values, paths, created.version);
    EXPECT_EQ(updated.status().code(), absl::StatusCode::kInvalidArgument)
        << (paths.empty() ? "(empty)" : paths.back());
    for (const std::string& field : FieldsOf(updated.status())) {
      EXPECT_EQ(field, "update_mask");
    }
  }
  absl::StatusOr<Objective> immutable =
      planning_->UpdateObjective(kOrg, values, {"cycle_id"}, created.version);
  EXPECT_THAT(immutable.status().message(), HasSubstr("RollOverObjectives"));
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(ObjectivesTest, UpdateObjectiveChecksVersionExistenceAndRules) {
  const Objective created =
      CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  const int commits = store_.commits();
  Objective values = created;
  values.title = "Reduce churn of existing customers";

  absl::StatusOr<Objective> stale =
      planning_->UpdateObjective(kOrg, values, {"title"}, created.version + 1);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  absl::StatusOr<Objective> no_version =
      planning_->UpdateObjective(kOrg, values, {"title"}, 0);
  EXPECT_EQ(no_version.status().code(), absl::StatusCode::kInvalidArgument);

  Objective missing = values;
  missing.id = "ob-missing";
  EXPECT_EQ(
      planning_->UpdateObjective(kOrg, missing, {"title"}, 1).status().code(),
      absl::StatusCode::kNotFound);

  Objective unknown_owner = values;
  unknown_owner.owner_id = "pe-nobody";
  absl::StatusOr<Objective> owner = planning_->UpdateObjective(
      kOrg, unknown_owner, {"owner_id"}, created.version);
  EXPECT_EQ(owner.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(owner.status().message(), HasSubstr("objective.owner_id"));

  Objective team_level = values;
  team_level.level = Level::kTeam;
  team_level.team_id.clear();
  absl::StatusOr<Objective> no_team =
      planning_->UpdateObjective(kOrg, team_level, {"level"}, created.version);
  EXPECT_EQ(no_team.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(no_team.status()), ElementsAre("objective.team_id"));

  Objective archive = values;
  archive.state = ObjectiveState::kArchived;
  absl::StatusOr<Objective> archived =
      planning_->UpdateObjective(kOrg, archive, {"state"}, created.version);
  EXPECT_EQ(archived.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(archived.status()), ElementsAre("objective.state"));

  Objective empty_title = values;
  empty_title.title = "";
  EXPECT_THAT(FieldsOf(planning_
                           ->UpdateObjective(kOrg, empty_title, {"title"},
                                             created.version)
                           .status()),
              ElementsAre("objective.title"));
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(ObjectivesTest, UpdateObjectiveInClosedCycleIsRefused) {
  const Cycle fy2026 = ClosedYear(2026);
  Objective o = NewObjective("Reduce churn", fy2026.id, maya_.id);
  o.state = ObjectiveState::kPublished;
  o.progress_source = ProgressSource::kKeyResults;
  const Objective stored = PutNew(ResourceKind::kObjective, o);
  const int commits = store_.commits();
  Objective values = stored;
  values.title = "Too late";
  absl::StatusOr<Objective> updated =
      planning_->UpdateObjective(kOrg, values, {"title"}, stored.version);
  EXPECT_EQ(updated.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(ObjectivesTest, ArchivedObjectiveIsRestoredByUpdatingItsState) {
  const Objective created =
      CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  absl::StatusOr<Objective> archived =
      planning_->ArchiveObjective(kOrg, created.id, created.version);
  ASSERT_TRUE(archived.ok()) << archived.status();
  EXPECT_EQ(archived->state, ObjectiveState::kArchived);
  EXPECT_THAT(ListAll(ObjectiveFilter{}), IsEmpty());

  Objective values;
  values.id = created.id;
  values.state = ObjectiveState::kPublished;
  absl::StatusOr<Objective> restored =
      planning_->UpdateObjective(kOrg, values, {"state"}, archived->version);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->state, ObjectiveState::kPublished);
  EXPECT_THAT(TitlesOf(ListAll(ObjectiveFilter{})),
              ElementsAre("Reduce churn"));
}

// --- ArchiveObjective / DeleteObjective --------------------------------------

TEST_F(ObjectivesTest, ArchiveObjectiveKeepsKeyResultsAndIsIdempotent) {
  const Objective created =
      CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  const KeyResult kr = CreateOk(
      NewMetric(created.id, "Train 1000 in-store sales staff", 0, 1000));
  now_ += absl::Minutes(1);
  absl::StatusOr<Objective> archived =
      planning_->ArchiveObjective(kOrg, created.id, created.version);
  ASSERT_TRUE(archived.ok()) << archived.status();
  EXPECT_EQ(archived->version, created.version + 1);
  EXPECT_EQ(archived->update_time, now_);

  absl::StatusOr<KeyResult> kept = planning_->GetKeyResult(kOrg, kr.id);
  ASSERT_TRUE(kept.ok());
  EXPECT_FALSE(kept->archived);
  EXPECT_EQ(kept->version, kr.version);

  const int commits = store_.commits();
  absl::StatusOr<Objective> again =
      planning_->ArchiveObjective(kOrg, created.id, archived->version);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->version, archived->version);
  EXPECT_EQ(store_.commits(), commits);

  EXPECT_EQ(planning_->ArchiveObjective(kOrg, created.id, created.version)
                .status()
                .code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(planning_->ArchiveObjective(kOrg, "ob-missing", 1).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ObjectivesTest, DeleteObjectiveDeletesItsKeyResults) {
  const Objective created =
      CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  const KeyResult kr1 =
      CreateOk(NewMetric(created.id, "Loyalty points used by 5 of 10", 30, 50));
  const KeyResult kr2 =
      CreateOk(NewMetric(created.id, "Out-of-stock days from 5 to 1", 5, 1));
  const Objective other = CreateOk(NewObjective("Grow margin", q1_, maya_.id));
  const KeyResult kept = CreateOk(NewMetric(other.id, "Gross margin", 38, 42));

  const int commits = store_.commits();
  EXPECT_EQ(
      planning_->DeleteObjective(kOrg, created.id, created.version + 5).code(),
      absl::StatusCode::kAborted);
  EXPECT_EQ(store_.commits(), commits);

  ASSERT_TRUE(
      planning_->DeleteObjective(kOrg, created.id, created.version).ok());
  EXPECT_EQ(store_.commits(), commits + 1);  // one commit for all three
  EXPECT_EQ(planning_->GetObjective(kOrg, created.id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(planning_->GetKeyResult(kOrg, kr1.id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(planning_->GetKeyResult(kOrg, kr2.id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(planning_->GetKeyResult(kOrg, kept.id).ok());
  EXPECT_EQ(
      planning_->DeleteObjective(kOrg, created.id, created.version).code(),
      absl::StatusCode::kNotFound);
}

TEST_F(ObjectivesTest, DeleteObjectiveIsRefusedWhileOthersHangUnderIt) {
  // The customer-success cascade: Jane's objective, Nick's aligned to it.
  Objective jane =
      NewObjective("Deliver a world-class customer experience", q1_, maya_.id);
  const Objective parent = CreateOk(jane);
  const KeyResult nps = CreateOk(
      NewMetric(parent.id, "Increase NPS score from 7 to 8.5", 7, 8.5));
  const Objective classic =
      PutAligned("Improve customer satisfaction", q1_, parent);

  const int commits = store_.commits();
  absl::Status refused =
      planning_->DeleteObjective(kOrg, parent.id, parent.version);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr(classic.id));

  // A Duality child of one of its key results blocks it as well.
  ASSERT_TRUE(
      planning_->DeleteObjective(kOrg, classic.id, classic.version).ok());
  Objective duality =
      NewObjective("Maintain an NPS score greater than 8", q1_, li_.id);
  duality.state = ObjectiveState::kPublished;
  duality.progress_source = ProgressSource::kKeyResults;
  duality.alignment.kind = AlignmentKind::kKeyResult;
  duality.alignment.parent_objective_id = parent.id;
  duality.alignment.parent_key_result_id = nps.id;
  duality = PutNew(ResourceKind::kObjective, duality);
  refused = planning_->DeleteObjective(kOrg, parent.id, parent.version);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr(duality.id));
  ASSERT_TRUE(
      planning_->DeleteObjective(kOrg, duality.id, duality.version).ok());

  // And so does a breakdown.
  Objective q2 = NewObjective("Q2 part", q2_, maya_.id);
  q2.state = ObjectiveState::kPublished;
  q2.progress_source = ProgressSource::kKeyResults;
  q2.breakdown_of_objective_id = parent.id;
  q2 = PutNew(ResourceKind::kObjective, q2);
  refused = planning_->DeleteObjective(kOrg, parent.id, parent.version);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr(q2.id));
  EXPECT_TRUE(planning_->GetKeyResult(kOrg, nps.id).ok());

  ASSERT_TRUE(planning_->DeleteObjective(kOrg, q2.id, q2.version).ok());
  EXPECT_TRUE(planning_->DeleteObjective(kOrg, parent.id, parent.version).ok());
  EXPECT_GT(store_.commits(), commits);
}

// --- Key results -------------------------------------------------------------

TEST_F(ObjectivesTest, CreateKeyResultStoresItWithDefaults) {
  const Objective objective =
      CreateOk(NewObjective("Reduce churn", year_, maya_.id));
  KeyResult kr = NewMetric(
      objective.id, "Reduce average out-of-stock days from 5 to 1", 5, 1);
  kr.unit = "days";
  kr.weight = 0;  // 0 on create means 1
  kr.id = "kr-mine";
  kr.archived = true;
  kr.rolled_over_from_id = "kr-old";
  const KeyResult created = CreateOk(kr);
  EXPECT_FALSE(created.id.empty());
  EXPECT_NE(created.id, "kr-mine");
  EXPECT_EQ(created.weight, 1.0);
  EXPECT_FALSE(created.archived);
  EXPECT_THAT(created.rolled_over_from_id, IsEmpty());
  EXPECT_EQ(created.version, 1);
  EXPECT_EQ(created.create_time, now_);
  EXPECT_EQ(created.from, 5);
  EXPECT_EQ(created.to, 1);
  EXPECT_EQ(created.unit, "days");

  absl::StatusOr<KeyResult> got = planning_->GetKeyResult(kOrg, created.id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->title, kr.title);
  EXPECT_EQ(got->objective_id, objective.id);
  EXPECT_EQ(planning_->GetKeyResult(kOrg, "kr-missing").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ObjectivesTest, CreateKeyResultNamesApiFields) {
  const Objective objective =
      CreateOk(NewObjective("Improve customer satisfaction", q1_, li_.id));
  const int commits = store_.commits();

  // from == to without a threshold.
  absl::StatusOr<KeyResult> same = planning_->CreateKeyResult(
      kOrg, NewMetric(objective.id, "Keep NPS at 8", 8, 8), RequestKey{});
  ASSERT_EQ(same.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(same.status()), ElementsAre("key_result.target_value"));
  EXPECT_THAT(same.status().message(), HasSubstr("start_value"));
  EXPECT_THAT(same.status().message(), Not(HasSubstr("key_result.from")));

  // A milestone with values, a weight over the limit.
  KeyResult milestone =
      NewMetric(objective.id, "Sign the partner contract", 0, 1);
  milestone.type = KeyResultType::kMilestone;
  milestone.measure = Measure::kUnspecified;
  milestone.weight = 1001;
  absl::StatusOr<KeyResult> bad =
      planning_->CreateKeyResult(kOrg, milestone, RequestKey{});
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      FieldsOf(bad.status()),
      UnorderedElementsAre("key_result.target_value", "key_result.weight"));

  KeyResult untitled = NewMetric(objective.id, "", 0, 1);
  untitled.type = KeyResultType::kUnspecified;
  EXPECT_THAT(
      FieldsOf(
          planning_->CreateKeyResult(kOrg, untitled, RequestKey{}).status()),
      UnorderedElementsAre("key_result.title", "key_result.type"));
  EXPECT_EQ(store_.commits(), commits);

  // A threshold may keep from == to: "maintain an NPS score greater than 8".
  KeyResult threshold = NewMetric(objective.id,
                                  "Maintain an NPS score greater "
                                  "than 8",
                                  8, 8);
  threshold.direction = Direction::kAtLeast;
  EXPECT_EQ(CreateOk(threshold).direction, Direction::kAtLeast);
}

TEST_F(ObjectivesTest, CreateKeyResultChecksItsObjectiveAndOwner) {
  const Objective objective =
      CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  const int commits = store_.commits();

  absl::StatusOr<KeyResult> no_objective = planning_->CreateKeyResult(
      kOrg, NewMetric("ob-missing", "Loyalty", 30, 50), RequestKey{});
  EXPECT_EQ(no_objective.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_objective.status().message(),
              HasSubstr("key_result.objective_id"));

  KeyResult unknown_owner = NewMetric(objective.id, "Loyalty", 30, 50);
  unknown_owner.owner_id = "pe-nobody";
  absl::StatusOr<KeyResult> owner =
      planning_->CreateKeyResult(kOrg, unknown_owner, RequestKey{});
  EXPECT_EQ(owner.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(owner.status().message(), HasSubstr("key_result.owner_id"));
  EXPECT_EQ(store_.commits(), commits);

  ASSERT_TRUE(
      planning_->ArchiveObjective(kOrg, objective.id, objective.version).ok());
  const int after_archive = store_.commits();
  absl::StatusOr<KeyResult> archived = planning_->CreateKeyResult(
      kOrg, NewMetric(objective.id, "Loyalty", 30, 50), RequestKey{});
  EXPECT_EQ(archived.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(archived.status().message(), HasSubstr("archived"));

  const Cycle fy2026 = ClosedYear(2026);
  Objective old = NewObjective("Last year", fy2026.id, maya_.id);
  old.state = ObjectiveState::kPublished;
  old.progress_source = ProgressSource::kKeyResults;
  old = PutNew(ResourceKind::kObjective, old);
  const int before_closed = store_.commits();
  absl::StatusOr<KeyResult> closed = planning_->CreateKeyResult(
      kOrg, NewMetric(old.id, "Loyalty", 30, 50), RequestKey{});
  EXPECT_EQ(closed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(closed.status().message(), HasSubstr("CLOSED"));
  EXPECT_EQ(store_.commits(), before_closed);
  EXPECT_EQ(after_archive + 2, before_closed);  // the two setup puts only
}

TEST_F(ObjectivesTest, ObjectiveHoldsAtMostTwentyLiveKeyResults) {
  const Objective objective =
      CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  std::vector<KeyResult> made;
  for (int i = 1; i <= kMaxKeyResultsPerObjective; ++i) {
    made.push_back(
        CreateOk(NewMetric(objective.id, absl::StrCat("Metric ", i), 0, i)));
  }
  const int commits = store_.commits();
  absl::StatusOr<KeyResult> extra = planning_->CreateKeyResult(
      kOrg, NewMetric(objective.id, "One too many", 0, 1), RequestKey{});
  EXPECT_EQ(extra.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_.commits(), commits);

  ASSERT_TRUE(
      planning_->ArchiveKeyResult(kOrg, made[0].id, made[0].version).ok());
  CreateOk(NewMetric(objective.id, "Now there is room", 0, 1));
}

TEST_F(ObjectivesTest, CreateKeyResultIsIdempotentByRequestId) {
  const Objective objective =
      CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  const KeyResult kr = NewMetric(objective.id, "Loyalty", 30, 50);
  const KeyResult first = CreateOk(kr, RequestKey{"kr-req-1", "fp"});
  const int commits = store_.commits();
  const KeyResult again = CreateOk(kr, RequestKey{"kr-req-1", "fp"});
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(
      planning_->CreateKeyResult(kOrg, kr, RequestKey{"kr-req-1", "other"})
          .status()
          .code(),
      absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ListAll(KeyResultFilter{}).size(), 1u);
}

TEST_F(ObjectivesTest, ListKeyResultsOrdersByObjectiveThenCreation) {
  const Objective a = CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  const Objective b = CreateOk(NewObjective("Grow margin", year_, li_.id));
  const Objective& first = a.id < b.id ? a : b;
  const Objective& second = a.id < b.id ? b : a;
  // Creation order, not id or title order, within an objective.
  std::vector<std::string> second_titles, first_titles;
  for (const char* title : {"zeta", "alpha", "mu"}) {
    now_ += absl::Seconds(1);
    second_titles.push_back(CreateOk(NewMetric(second.id, title, 0, 1)).title);
    now_ += absl::Seconds(1);
    first_titles.push_back(
        CreateOk(NewMetric(first.id, absl::StrCat(title, "-1"), 0, 1)).title);
  }
  std::vector<std::string> expected = first_titles;
  expected.insert(expected.end(), second_titles.begin(), second_titles.end());
  EXPECT_EQ(TitlesOf(ListAll(KeyResultFilter{})), expected);
  EXPECT_EQ(TitlesOf(ListAll(Make<KeyResultFilter>(
                [&](KeyResultFilter& f) { f.objective_id = second.id; }))),
            second_titles);

  // Paged two at a time, the same order.
  std::vector<std::string> seen;
  PageRequest request;
  request.page_size = 2;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<Page<KeyResult>> page =
        planning_->ListKeyResults(kOrg, KeyResultFilter{}, request);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->total_size, 6);
    for (const KeyResult& kr : page->items) seen.push_back(kr.title);
    if (page->next_page_token.empty()) break;
    request.page_token = page->next_page_token;
  }
  EXPECT_EQ(seen, expected);
}

TEST_F(ObjectivesTest, ListKeyResultsFiltersByOwnerCycleAndArchive) {
  const Objective churn = CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  const Objective margin = CreateOk(NewObjective("Grow margin", year_, li_.id));
  CreateOk(NewMetric(churn.id, "Loyalty", 30, 50));
  KeyResult own = NewMetric(churn.id, "Train staff", 0, 1000);
  own.owner_id = li_.id;
  own = CreateOk(own);
  CreateOk(NewMetric(margin.id, "Gross margin", 38, 42));
  now_ += absl::Seconds(1);  // listed after "Gross margin"
  const KeyResult gone = CreateOk(NewMetric(margin.id, "Old metric", 0, 1));
  ASSERT_TRUE(planning_->ArchiveKeyResult(kOrg, gone.id, gone.version).ok());

  // Owners: the KR's own, else its objective's.
  EXPECT_THAT(TitlesOf(ListAll(Make<KeyResultFilter>(
                  [&](KeyResultFilter& f) { f.owner_id = maya_.id; }))),
              ElementsAre("Loyalty"));
  EXPECT_THAT(TitlesOf(ListAll(Make<KeyResultFilter>(
                  [&](KeyResultFilter& f) { f.owner_id = li_.id; }))),
              UnorderedElementsAre("Train staff", "Gross margin"));
  EXPECT_THAT(TitlesOf(ListAll(Make<KeyResultFilter>(
                  [&](KeyResultFilter& f) { f.cycle_id = q1_; }))),
              UnorderedElementsAre("Loyalty", "Train staff"));
  EXPECT_THAT(TitlesOf(ListAll(Make<KeyResultFilter>(
                  [&](KeyResultFilter& f) { f.objective_id = margin.id; }))),
              ElementsAre("Gross margin"));
  EXPECT_THAT(TitlesOf(ListAll(Make<KeyResultFilter>([&](KeyResultFilter& f) {
                f.objective_id = margin.id;
                f.include_archived = true;
              }))),
              ElementsAre("Gross margin", "Old metric"));

  // An archived objective hides its key results unless archived ones are
  // asked for.
  ASSERT_TRUE(planning_->ArchiveObjective(kOrg, churn.id, churn.version).ok());
  EXPECT_THAT(TitlesOf(ListAll(Make<KeyResultFilter>(
                  [&](KeyResultFilter& f) { f.cycle_id = q1_; }))),
              IsEmpty());
  EXPECT_THAT(TitlesOf(ListAll(Make<KeyResultFilter>([&](KeyResultFilter& f) {
                f.cycle_id = q1_;
                f.include_archived = true;
              }))),
              UnorderedElementsAre("Loyalty", "Train staff"));
}

TEST_F(ObjectivesTest, UpdateKeyResultChangesTypeAndValues) {
  const Objective objective =
      CreateOk(NewObjective("Launch same-day delivery", year_, maya_.id));
  KeyResult metric =
      NewMetric(objective.id, "Sign the last-mile contract", 0, 1);
  metric.direction = Direction::kIncrease;
  const KeyResult kr = CreateOk(metric);
  now_ += absl::Hours(2);

  // Switching to a milestone alone leaves metric values behind: refused,
  // naming the API's fields.
  KeyResult values = kr;
  values.type = KeyResultType::kMilestone;
  absl::StatusOr<KeyResult> partial =
      planning_->UpdateKeyResult(kOrg, values, {"type"}, kr.version);
  ASSERT_EQ(partial.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      FieldsOf(partial.status()),
      UnorderedElementsAre("key_result.target_value", "key_result.measure",
                           "key_result.direction"));

  values.from = 0;
  values.to = 0;
  values.measure = Measure::kUnspecified;
  values.direction = Direction::kUnspecified;
  absl::StatusOr<KeyResult> milestone = planning_->UpdateKeyResult(
      kOrg, values,
      {"type", "start_value", "target_value", "measure", "direction"},
      kr.version);
  ASSERT_TRUE(milestone.ok()) << milestone.status();
  EXPECT_EQ(milestone->type, KeyResultType::kMilestone);
  EXPECT_EQ(milestone->to, 0);
  EXPECT_EQ(milestone->version, kr.version + 1);
  EXPECT_EQ(milestone->update_time, now_);
  EXPECT_EQ(milestone->title, kr.title);

  KeyResult weight = *milestone;
  weight.weight = 2.5;
  weight.title = "not in the mask";
  absl::StatusOr<KeyResult> weighted =
      planning_->UpdateKeyResult(kOrg, weight, {"weight"}, milestone->version);
  ASSERT_TRUE(weighted.ok()) << weighted.status();
  EXPECT_EQ(weighted->weight, 2.5);
  EXPECT_EQ(weighted->title, kr.title);
}

TEST_F(ObjectivesTest, UpdateKeyResultRefusesWhatTheContractForbids) {
  const Objective objective =
      CreateOk(NewObjective("Reduce churn", q1_, maya_.id));
  const KeyResult kr = CreateOk(NewMetric(objective.id, "Loyalty", 30, 50));
  const int commits = store_.commits();
  KeyResult values = kr;

  for (const char* path : {"objective_id", "archived", "version", "bogus"}) {
    absl::StatusOr<KeyResult> updated =
        planning_->UpdateKeyResult(kOrg, values, {path}, kr.version);
    EXPECT_EQ(updated.status().code(), absl::StatusCode::kInvalidArgument)
        << path;
    EXPECT_THAT(FieldsOf(updated.status()), ElementsAre("update_mask"));
  }
  EXPECT_EQ(
      planning_->UpdateKeyResult(kOrg, values, {}, kr.version).status().code(),
      absl::StatusCode::kInvalidArgument);

  values.weight = 0;
  EXPECT_THAT(
      FieldsOf(planning_->UpdateKeyResult(kOrg, values, {"weight"}, kr.version)
                   .status()),
      ElementsAre("key_result.weight"));
  values = kr;
  values.to = values.from;
  EXPECT_THAT(
      FieldsOf(
          planning_->UpdateKeyResult(kOrg, values, {"target_value"}, kr.version)
              .status()),
      ElementsAre("key_result.target_value"));
  values = kr;
  values.owner_id = "pe-nobody";
  EXPECT_EQ(planning_->UpdateKeyResult(kOrg, values, {"owner_id"}, kr.version)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  values = kr;
  EXPECT_EQ(planning_->UpdateKeyResult(kOrg, values, {"title"}, kr.version + 1)
                .status()
                .code(),
            absl::StatusCode::kAborted);
  values.id = "kr-missing";
  EXPECT_EQ(
      planning_->UpdateKeyResult(kOrg, values, {"title"}, 1).status().code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(store_.commits(), commits);

  ASSERT_TRUE(
      planning_->ArchiveObjective(kOrg, objective.id, objective.version).ok());
  values = kr;
  values.title = "Loyalty points";
  EXPECT_EQ(planning_->UpdateKeyResult(kOrg, values, {"title"}, kr.version)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ObjectivesTest, ArchiveAndDeleteKeyResult) {
  const Objective objective =
      CreateOk(NewObjective("Improve customer satisfaction", q1_, maya_.id));
  const KeyResult nps =
      CreateOk(NewMetric(objective.id, "Increase NPS from 7 to 8.5", 7, 8.5));
  absl::StatusOr<KeyResult> archived =
      planning_->ArchiveKeyResult(kOrg, nps.id, nps.version);
  ASSERT_TRUE(archived.ok()) << archived.status();
  EXPECT_TRUE(archived->archived);
  EXPECT_EQ(archived->version, nps.version + 1);
  const int commits = store_.commits();
  absl::StatusOr<KeyResult> twice =
      planning_->ArchiveKeyResult(kOrg, nps.id, archived->version);
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->version, archived->version);
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(
      planning_->ArchiveKeyResult(kOrg, nps.id, nps.version).status().code(),
      absl::StatusCode::kAborted);

  // A key result with a cascaded (Duality) child cannot go.
  const KeyResult csat =
      CreateOk(NewMetric(objective.id, "Raise CSAT from 80 to 90", 80, 90));
  Objective child = NewObjective("Make support answers faster", q1_, li_.id);
  child.state = ObjectiveState::kPublished;
  child.progress_source = ProgressSource::kKeyResults;
  child.alignment.kind = AlignmentKind::kKeyResult;
  child.alignment.parent_objective_id = objective.id;
  child.alignment.parent_key_result_id = csat.id;
  child = PutNew(ResourceKind::kObjective, child);
  const int before = store_.commits();
  absl::Status refused =
      planning_->DeleteKeyResult(kOrg, csat.id, csat.version);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr(child.id));
  EXPECT_EQ(store_.commits(), before);

  EXPECT_EQ(planning_->DeleteKeyResult(kOrg, nps.id, nps.version).code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE(planning_->DeleteKeyResult(kOrg, nps.id, archived->version).ok());
  EXPECT_EQ(planning_->GetKeyResult(kOrg, nps.id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(planning_->DeleteKeyResult(kOrg, nps.id, archived->version).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ObjectivesTest, EverythingSurvivesARestart) {
  Objective o = NewObjective(
      "Drive sales contribution of new customers from "
      "10% to 20%",
      year_, maya_.id);
  o.priority = 1;
  o.category = Category::kProfit;
  const Objective created = CreateOk(o);
  KeyResult kr = NewMetric(
      created.id, "Become the anchor store in 10 mall complexes", 100, 110);
  kr.unit = "anchor stores";
  kr.data_source = DataSource::kSpreadsheet;
  kr.data_source_ref = "Mall partnerships FY2027";
  const KeyResult made = CreateOk(kr);
  Objective values = created;
  values.state = ObjectiveState::kPublished;
  ASSERT_TRUE(
      planning_->UpdateObjective(kOrg, values, {"state"}, created.version)
          .ok());

  std::unique_ptr<Planning> restarted = Restart();
  absl::StatusOr<Objective> got = restarted->GetObjective(kOrg, created.id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->title, o.title);
  EXPECT_EQ(got->state, ObjectiveState::kPublished);
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->priority, 1);
  EXPECT_EQ(got->category, Category::kProfit);
  EXPECT_EQ(got->create_time, created.create_time);
  absl::StatusOr<KeyResult> got_kr = restarted->GetKeyResult(kOrg, made.id);
  ASSERT_TRUE(got_kr.ok()) << got_kr.status();
  EXPECT_EQ(got_kr->from, 100);
  EXPECT_EQ(got_kr->to, 110);
  EXPECT_EQ(got_kr->unit, "anchor stores");
  EXPECT_EQ(got_kr->data_source_ref, "Mall partnerships FY2027");
  absl::StatusOr<Page<KeyResult>> listed = restarted->ListKeyResults(
      kOrg, Make<KeyResultFilter>([&](KeyResultFilter& f) {
        f.objective_id = created.id;
      }),
      PageRequest{});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->items.size(), 1u);
}

}  // namespace
}  // namespace okr::planning
