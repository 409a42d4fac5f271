// Tests of the directory use-cases: organisation bootstrap and update, teams,
// people and cycles (services/planning/planning_directory.cc), over the
// in-memory store. People, teams and cycles are those of the example plans
// (examples/*.csv): Alex Rivera's Leadership team, Jane's Customer Success,
// Maya Chen's In-Store Sales, Li Wei's Sales department, fiscal year 2027.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
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

// The status has `code` and names `field` as the first thing it says.
void ExpectError(const absl::Status& status, absl::StatusCode code,
                 const std::string& field) {
  EXPECT_EQ(status.code(), code) << status;
  if (!field.empty()) {
    EXPECT_THAT(std::string(status.message()), HasSubstr(field + ":"))
        << status;
  }
}

template <typename T>
std::vector<std::string> NamesOf(const std::vector<T>& items) {
  std::vector<std::string> names;
  for (const T& item : items) names.push_back(item.name);
  return names;
}

std::vector<std::string> DisplayNamesOf(const std::vector<Person>& people) {
  std::vector<std::string> names;
  for (const Person& p : people) names.push_back(p.display_name);
  return names;
}

class DirectoryTest : public PlanningTest {
 protected:
  Planning& p() { return *planning_; }

  Organisation NewOrganisation(const std::string& name) {
    Organisation o;
    o.name = name;
    o.fiscal_year_start_month = 0;  // as an unset proto field arrives
    o.time_zone.clear();
    o.planning_profile = PlanningProfile::kUnspecified;
    return o;
  }

  Team NewTeam(const std::string& name, const Id& parent = "",
               const Id& lead = "") {
    Team t;
    t.name = name;
    t.parent_team_id = parent;
    t.lead_person_id = lead;
    return t;
  }

  Person NewPerson(const std::string& name, const std::string& email,
                   std::vector<Id> team_ids = {}) {
    Person person;
    person.display_name = name;
    person.email = email;
    person.team_ids = std::move(team_ids);
    return person;
  }

  Cycle NewCycle(const std::string& name, CycleKind kind, absl::CivilDay start,
                 absl::CivilDay end, const Id& parent = "") {
    Cycle c;
    c.name = name;
    c.kind = kind;
    c.start = start;
    c.end = end;
    c.parent_cycle_id = parent;
    return c;
  }

  // A team created through the use-case, or a failed test.
  Team CreateTeamOk(const Team& team) {
    absl::StatusOr<Team> created = p().CreateTeam(kOrg, team, {});
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : Team{};
  }

  Person CreatePersonOk(const Person& person) {
    absl::StatusOr<Person> created = p().CreatePerson(kOrg, person, {});
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : Person{};
  }

  // Every page of ListTeams with `page_size`, concatenated.
  std::vector<Team> AllTeams(const TeamFilter& filter, int page_size) {
    std::vector<Team> all;
    PageRequest page{page_size, ""};
    for (int guard = 0; guard < 100; ++guard) {
      absl::StatusOr<Page<Team>> got = p().ListTeams(kOrg, filter, page);
      EXPECT_TRUE(got.ok()) << got.status();
      if (!got.ok()) break;
      all.insert(all.end(), got->items.begin(), got->items.end());
      if (got->next_page_token.empty()) break;
      page.page_token = got->next_page_token;
    }
    return all;
  }

  std::vector<Cycle> AllCycles(const CycleFilter& filter, int page_size) {
    std::vector<Cycle> all;
    PageRequest page{page_size, ""};
    for (int guard = 0; guard < 100; ++guard) {
      absl::StatusOr<Page<Cycle>> got = p().ListCycles(kOrg, filter, page);
      EXPECT_TRUE(got.ok()) << got.status();
      if (!got.ok()) break;
      all.insert(all.end(), got->items.begin(), got->items.end());
      if (got->next_page_token.empty()) break;
      page.page_token = got->next_page_token;
    }
    return all;
  }
};

// =============================================================================
// Organisation
// =============================================================================

TEST(ValidateOrganisationIdTest, AcceptsTheProtoRule) {
  for (const char* id : {"abc", "acme", "acme-retail-2027", "a1-",
                         "a234567890123456789012345678901234567890123456789012"
                         "345678901234"}) {
    EXPECT_TRUE(ValidateOrganisationId("organisation_id", id).ok()) << id;
  }
}

TEST(ValidateOrganisationIdTest, RefusesEverythingElse) {
  for (const char* id :
       {"", "ab", "1acme", "-acme", "Acme", "acme_retail", "acme.retail",
        "acme retail", "a2345678901234567890123456789012345678901234567890123"
                       "4567890123456"}) {
    absl::Status status = ValidateOrganisationId("organisation_id", id);
    ExpectError(status, absl::StatusCode::kInvalidArgument, "organisation_id");
    EXPECT_THAT(FieldViolationsOf(status),
                ElementsAre(::testing::Field(&FieldViolation::field,
                                             "organisation_id")))
        << id;
  }
}

TEST_F(DirectoryTest, BootstrapFillsDefaultsAndStamps) {
  const int commits = store_.commits();
  absl::StatusOr<Organisation> got =
      p().BootstrapOrganisation("globex", NewOrganisation("Globex"), {});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, "globex");
  EXPECT_EQ(got->name, "Globex");
  EXPECT_EQ(got->fiscal_year_start_month, 1);
  EXPECT_EQ(got->time_zone, "UTC");
  EXPECT_EQ(got->planning_profile, PlanningProfile::kSmall);
  EXPECT_EQ(got->check_in_grace_days, std::optional<int>(7));
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->create_time, now_);
  EXPECT_EQ(got->update_time, now_);
  EXPECT_EQ(store_.commits(), commits + 1);

  absl::StatusOr<Organisation> read = p().GetOrganisation("globex");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->name, "Globex");
  EXPECT_EQ(read->version, 1);

  // And a restarted service finds it in the store.
  absl::StatusOr<Organisation> after = Restart()->GetOrganisation("globex");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->time_zone, "UTC");
}

TEST_F(DirectoryTest, BootstrapKeepsGivenValuesAndIgnoresOutputOnlyFields) {
  Organisation o = NewOrganisation("Retail Co");
  o.id = "somebody-else";
  o.version = 42;
  o.fiscal_year_start_month = 2;
  o.time_zone = "America/New_York";
  o.planning_profile = PlanningProfile::kEnterprise;
  o.check_in_grace_days = 0;
  o.mission = "Make shopping delightful";
  o.values = {"Customers first", "Own it"};
  absl::StatusOr<Organisation> got =
      p().BootstrapOrganisation("retail-co", o, {});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, "retail-co");
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->fiscal_year_start_month, 2);
  EXPECT_EQ(got->time_zone, "America/New_York");
  EXPECT_EQ(got->planning_profile, PlanningProfile::kEnterprise);
  EXPECT_EQ(got->check_in_grace_days, std::optional<int>(0));
  EXPECT_THAT(got->values, ElementsAre("Customers first", "Own it"));
}

TEST_F(DirectoryTest, BootstrapOfAnExistingOrganisationIsAlreadyExists) {
  const int commits = store_.commits();
  ExpectError(
      p().BootstrapOrganisation(kOrg, NewOrganisation("Acme"), {}).status(),
      absl::StatusCode::kAlreadyExists, "organisation_id");
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(p().GetOrganisation(kOrg)->name, "Acme Retail");
}

TEST_F(DirectoryTest, BootstrapReplaysTheSameRequest) {
  const RequestKey key{"boot-1", "fingerprint-a"};
  absl::StatusOr<Organisation> first =
      p().BootstrapOrganisation("globex", NewOrganisation("Globex"), key);
  ASSERT_TRUE(first.ok()) << first.status();
  const int commits = store_.commits();
  absl::StatusOr<Organisation> again =
      p().BootstrapOrganisation("globex", NewOrganisation("Globex"), key);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id, "globex");
  EXPECT_EQ(again->version, first->version);
  EXPECT_EQ(store_.commits(), commits);

  // Same request_id, other content.
  absl::Status other =
      p().BootstrapOrganisation("globex", NewOrganisation("Globex 2"),
                                {"boot-1", "fingerprint-b"})
          .status();
  EXPECT_EQ(other.code(), absl::StatusCode::kAlreadyExists) << other;
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(DirectoryTest, BootstrapRefusesBadInputAndStoresNothing) {
  const int commits = store_.commits();
  ExpectError(
      p().BootstrapOrganisation("Globex", NewOrganisation("Globex"), {})
          .status(),
      absl::StatusCode::kInvalidArgument, "organisation_id");
  ExpectError(p().BootstrapOrganisation("gx", NewOrganisation("G"), {}).status(),
              absl::StatusCode::kInvalidArgument, "organisation_id");

  Organisation o = NewOrganisation("Globex");
  o.fiscal_year_start_month = 13;
  o.time_zone = "Mars/Olympus_Mons";
  o.check_in_grace_days = 91;
  absl::Status status = p().BootstrapOrganisation("globex", o, {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  std::vector<std::string> fields;
  for (const FieldViolation& fv : FieldViolationsOf(status)) {
    fields.push_back(fv.field);
  }
  EXPECT_THAT(fields, ::testing::UnorderedElementsAre(
                          "organisation.fiscal_year_start_month",
                          "organisation.time_zone",
                          "organisation.check_in_grace_days"));

  o = NewOrganisation("");
  ExpectError(p().BootstrapOrganisation("globex", o, {}).status(),
              absl::StatusCode::kInvalidArgument, "organisation.name");
  o = NewOrganisation("Globex");
  o.time_zone = "localtime";
  ExpectError(p().BootstrapOrganisation("globex", o, {}).status(),
              absl::StatusCode::kInvalidArgument, "organisation.time_zone");

  EXPECT_EQ(store_.commits(), commits);
  ExpectError(p().GetOrganisation("globex").status(),
              absl::StatusCode::kNotFound, "");
}

TEST_F(DirectoryTest, UnknownOrganisationIsNotFound) {
  EXPECT_EQ(p().GetOrganisation("nobody").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(p().CreateTeam("nobody", NewTeam("Sales"), {}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(p().ListCycles("nobody", {}, {}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(DirectoryTest, UpdateOrganisationChangesOnlyMaskedFields) {
  const Organisation before = *p().GetOrganisation(kOrg);
  Organisation values;
  values.name = "ignored, not in the mask";
  values.mission = "Delight every shopper";
  values.values = {"Customers first"};
  values.planning_profile = PlanningProfile::kEnterprise;
  values.check_in_grace_days = 14;
  now_ += absl::Hours(1);
  absl::StatusOr<Organisation> got = p().UpdateOrganisation(
      kOrg, values,
      {"mission", "values", "planning_profile", "check_in_grace_days"},
      before.version);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->name, before.name);
  EXPECT_EQ(got->mission, "Delight every shopper");
  EXPECT_THAT(got->values, ElementsAre("Customers first"));
  EXPECT_EQ(got->planning_profile, PlanningProfile::kEnterprise);
  EXPECT_EQ(got->check_in_grace_days, std::optional<int>(14));
  EXPECT_EQ(got->version, before.version + 1);
  EXPECT_EQ(got->create_time, before.create_time);
  EXPECT_EQ(got->update_time, now_);
  EXPECT_EQ(p().GetOrganisation(kOrg)->mission, "Delight every shopper");

  // An unset value in the mask clears the field (back to the default).
  values.check_in_grace_days.reset();
  got = p().UpdateOrganisation(kOrg, values, {"check_in_grace_days"},
                               got->version);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->check_in_grace_days.has_value());
}

TEST_F(DirectoryTest, UpdateOrganisationRefusesBadMasksVersionsAndValues) {
  const Organisation before = *p().GetOrganisation(kOrg);
  const int commits = store_.commits();
  Organisation values = before;
  values.time_zone = "Europe/Berlin";
  ExpectError(p().UpdateOrganisation(kOrg, values, {}, before.version).status(),
              absl::StatusCode::kInvalidArgument, "update_mask");
  ExpectError(
      p().UpdateOrganisation(kOrg, values, {"id"}, before.version).status(),
      absl::StatusCode::kInvalidArgument, "update_mask");
  ExpectError(p().UpdateOrganisation(kOrg, values, {"time_zone", "colour"},
                                     before.version)
                  .status(),
              absl::StatusCode::kInvalidArgument, "update_mask");
  ExpectError(p().UpdateOrganisation(kOrg, values, {"time_zone"},
                                     before.version + 1)
                  .status(),
              absl::StatusCode::kAborted, "version");
  ExpectError(
      p().UpdateOrganisation(kOrg, values, {"time_zone"}, 0).status(),
      absl::StatusCode::kInvalidArgument, "version");
  values.time_zone = "Nowhere/City";
  ExpectError(p().UpdateOrganisation(kOrg, values, {"time_zone"},
                                     before.version)
                  .status(),
              absl::StatusCode::kInvalidArgument, "organisation.time_zone");
  values.fiscal_year_start_month = 0;
  ExpectError(p().UpdateOrganisation(kOrg, values, {"fiscal_year_start_month"},
                                     before.version)
                  .status(),
              absl::StatusCode::kInvalidArgument,
              "organisation.fiscal_year_start_month");
  values = before;
  values.check_in_grace_days = -1;
  ExpectError(p().UpdateOrganisation(kOrg, values, {"check_in_grace_days"},
                                     before.version)
                  .status(),
              absl::StatusCode::kInvalidArgument,
              "organisation.check_in_grace_days");
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(p().GetOrganisation(kOrg)->version, before.version);
}

TEST_F(DirectoryTest, MovingTheFiscalYearStartLeavesCyclesWhereTheyAre) {
  absl::StatusOr<FiscalYear> fy2027 =
      p().CreateFiscalYear(kOrg, 2027, false, std::nullopt, {});
  ASSERT_TRUE(fy2027.ok()) << fy2027.status();

  Organisation values;
  values.fiscal_year_start_month = 2;  // the retail convention
  ASSERT_TRUE(p().UpdateOrganisation(kOrg, values, {"fiscal_year_start_month"},
                                     p().GetOrganisation(kOrg)->version)
                  .ok());
  absl::StatusOr<Cycle> year = p().GetCycle(kOrg, fy2027->year.id);
  ASSERT_TRUE(year.ok());
  EXPECT_EQ(year->start, absl::CivilDay(2027, 1, 1));
  EXPECT_EQ(year->end, absl::CivilDay(2028, 1, 1));
  EXPECT_EQ(year->version, fy2027->year.version);

  // A new fiscal year follows the new calendar: FY2029 runs February 2028
  // to January 2029 ...
  absl::StatusOr<FiscalYear> fy2029 =
      p().CreateFiscalYear(kOrg, 2029, false, std::nullopt, {});
  ASSERT_TRUE(fy2029.ok()) << fy2029.status();
  EXPECT_EQ(fy2029->year.start, absl::CivilDay(2028, 2, 1));
  EXPECT_EQ(fy2029->year.end, absl::CivilDay(2029, 2, 1));
  // ... while FY2028 (February 2027 to January 2028) would overlap the old
  // FY2027.
  const int commits = store_.commits();
  ExpectError(p().CreateFiscalYear(kOrg, 2028, false, std::nullopt, {}).status(),
              absl::StatusCode::kFailedPrecondition, "fiscal_year");
  EXPECT_EQ(store_.commits(), commits);
}

// =============================================================================
// Teams
// =============================================================================

TEST_F(DirectoryTest, CreateTeamAssignsIdAndStamps) {
  const Person alex = MakePerson("Alex Rivera");
  Team input = NewTeam("Leadership", "", alex.id);
  input.id = "chosen-by-client";  // output only: ignored
  absl::StatusOr<Team> team = p().CreateTeam(kOrg, input, {});
  ASSERT_TRUE(team.ok()) << team.status();
  EXPECT_FALSE(team->id.empty());
  EXPECT_NE(team->id, "chosen-by-client");
  EXPECT_EQ(team->organisation_id, kOrg);
  EXPECT_EQ(team->name, "Leadership");
  EXPECT_EQ(team->lead_person_id, alex.id);
  EXPECT_EQ(team->version, 1);
  EXPECT_EQ(team->create_time, now_);

  absl::StatusOr<Team> read = p().GetTeam(kOrg, team->id);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->name, "Leadership");
  EXPECT_EQ(read->version, 1);

  absl::StatusOr<Team> child = p().CreateTeam(
      kOrg, NewTeam("Customer Success", team->id), {});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(child->parent_team_id, team->id);
}

TEST_F(DirectoryTest, CreateTeamRefusesWhatTheProtoLists) {
  const Team sales = CreateTeamOk(NewTeam("Sales"));
  const int commits = store_.commits();
  ExpectError(p().CreateTeam(kOrg, NewTeam(""), {}).status(),
              absl::StatusCode::kInvalidArgument, "team.name");
  ExpectError(p().CreateTeam(kOrg, NewTeam("Field", "no-such-team"), {})
                  .status(),
              absl::StatusCode::kNotFound, "team.parent_team_id");
  ExpectError(p().CreateTeam(kOrg, NewTeam("Field", "", "no-such-person"), {})
                  .status(),
              absl::StatusCode::kNotFound, "team.lead_person_id");
  // Sibling names are unique, ignoring case.
  ExpectError(p().CreateTeam(kOrg, NewTeam("SALES"), {}).status(),
              absl::StatusCode::kAlreadyExists, "team.name");
  EXPECT_EQ(store_.commits(), commits);
  // The same name under another parent is a different team.
  const Team nested = CreateTeamOk(NewTeam("Sales", sales.id));
  EXPECT_NE(nested.id, sales.id);
}

TEST_F(DirectoryTest, TeamTreeIsAtMostTwentyLevelsDeep) {
  Id parent;
  for (int level = 1; level <= 20; ++level) {
    parent = CreateTeamOk(NewTeam(absl::StrCat("Level ", level), parent)).id;
  }
  const int commits = store_.commits();
  ExpectError(p().CreateTeam(kOrg, NewTeam("Level 21", parent), {}).status(),
              absl::StatusCode::kFailedPrecondition, "team.parent_team_id");
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(DirectoryTest, CreateTeamReplaysTheSameRequest) {
  const RequestKey key{"team-1", "fp-1"};
  absl::StatusOr<Team> first = p().CreateTeam(kOrg, NewTeam("Sales"), key);
  ASSERT_TRUE(first.ok()) << first.status();
  const int commits = store_.commits();
  absl::StatusOr<Team> again = p().CreateTeam(kOrg, NewTeam("Sales"), key);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(p().ListTeams(kOrg, {}, {})->total_size, 1);

  EXPECT_EQ(p().CreateTeam(kOrg, NewTeam("Marketing"), {"team-1", "fp-2"})
                .status()
                .code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(DirectoryTest, UpdateTeamRenamesMovesAndSetsLead) {
  const Person maya = MakePerson("Maya Chen");
  const Team leadership = CreateTeamOk(NewTeam("Leadership"));
  const Team stores = CreateTeamOk(NewTeam("Stores"));
  Team values;
  values.id = stores.id;
  values.name = "In-Store Sales";
  values.parent_team_id = leadership.id;
  values.lead_person_id = maya.id;
  now_ += absl::Minutes(5);
  absl::StatusOr<Team> got = p().UpdateTeam(
      kOrg, values, {"name", "parent_team_id", "lead_person_id"},
      stores.version);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->name, "In-Store Sales");
  EXPECT_EQ(got->parent_team_id, leadership.id);
  EXPECT_EQ(got->lead_person_id, maya.id);
  EXPECT_EQ(got->version, stores.version + 1);
  EXPECT_EQ(got->update_time, now_);
  EXPECT_EQ(p().GetTeam(kOrg, stores.id)->name, "In-Store Sales");
}

TEST_F(DirectoryTest, UpdateTeamRefusesLoopsDepthAndStaleVersions) {
  const Team top = CreateTeamOk(NewTeam("Leadership"));
  const Team mid = CreateTeamOk(NewTeam("Sales", top.id));
  const Team leaf = CreateTeamOk(NewTeam("Field Sales", mid.id));
  const int commits = store_.commits();

  Team values = top;
  values.parent_team_id = leaf.id;  // under its own grandchild
  ExpectError(p().UpdateTeam(kOrg, values, {"parent_team_id"}, top.version)
                  .status(),
              absl::StatusCode::kInvalidArgument, "team.parent_team_id");
  values.parent_team_id = top.id;  // itself
  ExpectError(p().UpdateTeam(kOrg, values, {"parent_team_id"}, top.version)
                  .status(),
              absl::StatusCode::kInvalidArgument, "team.parent_team_id");
  values.parent_team_id = "no-such-team";
  ExpectError(p().UpdateTeam(kOrg, values, {"parent_team_id"}, top.version)
                  .status(),
              absl::StatusCode::kNotFound, "team.parent_team_id");
  values = mid;
  values.name = "field sales";
  // Renaming "Sales" to a name only its child has is fine ...
  ASSERT_TRUE(p().UpdateTeam(kOrg, values, {"name"}, mid.version).ok());
  // ... but not to a sibling's name.
  const Team ops = CreateTeamOk(NewTeam("Operations", top.id));
  values = ops;
  values.name = "FIELD SALES";
  ExpectError(p().UpdateTeam(kOrg, values, {"name"}, ops.version).status(),
              absl::StatusCode::kAlreadyExists, "team.name");

  ExpectError(p().UpdateTeam(kOrg, top, {"name"}, top.version + 1).status(),
              absl::StatusCode::kAborted, "version");
  values.id = "no-such-team";
  ExpectError(p().UpdateTeam(kOrg, values, {"name"}, 1).status(),
              absl::StatusCode::kNotFound, "team.id");
  ExpectError(p().UpdateTeam(kOrg, top, {"version"}, top.version).status(),
              absl::StatusCode::kInvalidArgument, "update_mask");
  ExpectError(p().UpdateTeam(kOrg, top, {}, top.version).status(),
              absl::StatusCode::kInvalidArgument, "update_mask");
  EXPECT_EQ(store_.commits(), commits + 2);  // the rename and Operations
}

TEST_F(DirectoryTest, MovingASubtreeCountsItsHeight) {
  // A chain of 15 teams and a separate chain of 6: hanging the second under
  // the end of the first would make 21 levels.
  Id deep;
  for (int level = 1; level <= 15; ++level) {
    deep = CreateTeamOk(NewTeam(absl::StrCat("A", level), deep)).id;
  }
  Id root_b;
  Id tip_b;
  for (int level = 1; level <= 6; ++level) {
    tip_b = CreateTeamOk(NewTeam(absl::StrCat("B", level), tip_b)).id;
    if (level == 1) root_b = tip_b;
  }
  Team values = *p().GetTeam(kOrg, root_b);
  values.parent_team_id = deep;
  ExpectError(p().UpdateTeam(kOrg, values, {"parent_team_id"}, values.version)
                  .status(),
              absl::StatusCode::kFailedPrecondition, "team.parent_team_id");
  // Fourteen plus six is twenty: allowed.
  values.parent_team_id = p().GetTeam(kOrg, deep)->parent_team_id;
  EXPECT_TRUE(p().UpdateTeam(kOrg, values, {"parent_team_id"}, values.version)
                  .ok());
}

TEST_F(DirectoryTest, DeleteTeamRefusedWhileItHasSubTeamsOrObjectives) {
  const FiscalYear fy = MakeFiscalYear(2027);
  const Person jane = MakePerson("Jane");
  const Team leadership = CreateTeamOk(NewTeam("Leadership"));
  const Team success = CreateTeamOk(NewTeam("Customer Success", leadership.id));
  MakeObjective("Increase customer satisfaction", fy.quarters[0].id, jane.id,
                Level::kTeam, success.id);
  const int commits = store_.commits();
  ExpectError(p().DeleteTeam(kOrg, leadership.id, leadership.version),
              absl::StatusCode::kFailedPrecondition, "id");
  ExpectError(p().DeleteTeam(kOrg, success.id, success.version),
              absl::StatusCode::kFailedPrecondition, "id");
  ExpectError(p().DeleteTeam(kOrg, "no-such-team", 1),
              absl::StatusCode::kNotFound, "id");
  ExpectError(p().DeleteTeam(kOrg, success.id, success.version + 1),
              absl::StatusCode::kAborted, "version");
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(DirectoryTest, DeleteTeamRemovesItFromItsMembers) {
  const Team sales = CreateTeamOk(NewTeam("Sales"));
  const Team marketing = CreateTeamOk(NewTeam("Marketing"));
  const Person li = CreatePersonOk(
      NewPerson("Li Wei", "li.wei@acme.example", {sales.id, marketing.id}));
  ASSERT_TRUE(p().DeleteTeam(kOrg, sales.id, sales.version).ok());
  EXPECT_EQ(p().GetTeam(kOrg, sales.id).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<Person> after = p().GetPerson(kOrg, li.id);
  ASSERT_TRUE(after.ok());
  EXPECT_THAT(after->team_ids, ElementsAre(marketing.id));
  EXPECT_EQ(after->version, li.version + 1);
  // The state survives a restart the same way.
  std::unique_ptr<Planning> restarted = Restart();
  EXPECT_THAT(restarted->GetPerson(kOrg, li.id)->team_ids,
              ElementsAre(marketing.id));
  EXPECT_EQ(restarted->GetTeam(kOrg, sales.id).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(DirectoryTest, ListTeamsOrdersByNameThenIdAndPaginates) {
  const Person li = MakePerson("Li Wei");
  const Team leadership = CreateTeamOk(NewTeam("leadership"));
  const Team sales = CreateTeamOk(NewTeam("Sales", "", li.id));
  const Team field = CreateTeamOk(NewTeam("Field Sales", sales.id));
  const Team cs = CreateTeamOk(NewTeam("Customer Success", leadership.id));
  const Team dup = CreateTeamOk(NewTeam("Sales", leadership.id));
  Person member = *p().GetPerson(kOrg, li.id);
  member.team_ids = {cs.id};
  ASSERT_TRUE(p().UpdatePerson(kOrg, member, {"team_ids"}, member.version).ok());

  for (int page_size : {0, 1, 2, 5}) {
    std::vector<Team> all = AllTeams({}, page_size);
    EXPECT_THAT(NamesOf(all), ElementsAre("Customer Success", "Field Sales",
                                          "leadership", "Sales", "Sales"))
        << page_size;
    ASSERT_EQ(all.size(), 5u);
    EXPECT_LT(all[3].id, all[4].id);  // equal names: by id
  }
  absl::StatusOr<Page<Team>> first = p().ListTeams(kOrg, {}, {2, ""});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->total_size, 5);
  EXPECT_EQ(first->items.size(), 2u);
  EXPECT_FALSE(first->next_page_token.empty());

  EXPECT_THAT(NamesOf(AllTeams({leadership.id, ""}, 1)),
              ElementsAre("Customer Success", "Sales"));
  // Member of Customer Success and lead of Sales.
  EXPECT_THAT(NamesOf(AllTeams({"", li.id}, 0)),
              ElementsAre("Customer Success", "Sales"));
  EXPECT_THAT(AllTeams({"no-such-team", ""}, 0), IsEmpty());
  (void)field;
  (void)dup;

  // A token belongs to its filters.
  ExpectError(p().ListTeams(kOrg, {leadership.id, ""},
                            {2, first->next_page_token})
                  .status(),
              absl::StatusCode::kInvalidArgument, "page_token");
  ExpectError(p().ListTeams(kOrg, {}, {-1, ""}).status(),
              absl::StatusCode::kInvalidArgument, "page_size");
  ExpectError(p().ListTeams(kOrg, {}, {0, "garbage"}).status(),
              absl::StatusCode::kInvalidArgument, "page_token");
}

TEST_F(DirectoryTest, GetTeamOfUnknownIdIsNotFound) {
  ExpectError(p().GetTeam(kOrg, "no-such-team").status(),
              absl::StatusCode::kNotFound, "id");
  ExpectError(p().GetTeam(kOrg, "").status(),
              absl::StatusCode::kInvalidArgument, "id");
}

// =============================================================================
// People
// =============================================================================

TEST_F(DirectoryTest, CreatePersonStoresAndReadsBack) {
  const Team success = CreateTeamOk(NewTeam("Customer Success"));
  absl::StatusOr<Person> jane = p().CreatePerson(
      kOrg, NewPerson("Jane", "Jane@Acme.example", {success.id}), {});
  ASSERT_TRUE(jane.ok()) << jane.status();
  EXPECT_FALSE(jane->id.empty());
  EXPECT_EQ(jane->organisation_id, kOrg);
  EXPECT_EQ(jane->email, "Jane@Acme.example");  // kept as given
  EXPECT_THAT(jane->team_ids, ElementsAre(success.id));
  EXPECT_EQ(jane->version, 1);
  EXPECT_EQ(jane->create_time, now_);
  absl::StatusOr<Person> read = p().GetPerson(kOrg, jane->id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->display_name, "Jane");
  // Two people without an e-mail address do not clash.
  CreatePersonOk(NewPerson("Contractor A", ""));
  CreatePersonOk(NewPerson("Contractor B", ""));
}

TEST_F(DirectoryTest, CreatePersonRefusesWhatTheProtoLists) {
  const Team sales = CreateTeamOk(NewTeam("Sales"));
  CreatePersonOk(NewPerson("Li Wei", "li.wei@acme.example"));
  const int commits = store_.commits();
  ExpectError(
      p().CreatePerson(kOrg, NewPerson("Li Wei 2", "LI.WEI@ACME.EXAMPLE"), {})
          .status(),
      absl::StatusCode::kAlreadyExists, "person.email");
  ExpectError(p().CreatePerson(kOrg,
                               NewPerson("Maya Chen", "maya@acme.example",
                                         {sales.id, "no-such-team"}),
                               {})
                  .status(),
              absl::StatusCode::kNotFound, "person.team_ids[1]");
  ExpectError(
      p().CreatePerson(kOrg, NewPerson("Maya Chen", "not-an-address"), {})
          .status(),
      absl::StatusCode::kInvalidArgument, "person.email");
  ExpectError(p().CreatePerson(kOrg, NewPerson("", "x@acme.example"), {})
                  .status(),
              absl::StatusCode::kInvalidArgument, "person.display_name");
  ExpectError(p().CreatePerson(kOrg,
                               NewPerson("Maya Chen", "", {sales.id, sales.id}),
                               {})
                  .status(),
              absl::StatusCode::kInvalidArgument, "person.team_ids[1]");
  std::vector<Id> many(51, sales.id);
  ExpectError(p().CreatePerson(kOrg, NewPerson("Maya Chen", "", many), {})
                  .status(),
              absl::StatusCode::kInvalidArgument, "person.team_ids");
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(DirectoryTest, CreatePersonReplaysTheSameRequest) {
  const RequestKey key{"person-1", "fp-1"};
  absl::StatusOr<Person> first =
      p().CreatePerson(kOrg, NewPerson("Jane", "jane@acme.example"), key);
  ASSERT_TRUE(first.ok()) << first.status();
  const int commits = store_.commits();
  absl::StatusOr<Person> again =
      p().CreatePerson(kOrg, NewPerson("Jane", "jane@acme.example"), key);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(p().CreatePerson(kOrg, NewPerson("Jo", "jo@acme.example"),
                             {"person-1", "fp-2"})
                .status()
                .code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(p().ListPeople(kOrg, {}, {})->total_size, 1);
}

TEST_F(DirectoryTest, UpdatePersonChecksEmailAndTeams) {
  const Team sales = CreateTeamOk(NewTeam("Sales"));
  const Person li = CreatePersonOk(NewPerson("Li Wei", "li.wei@acme.example"));
  const Person maya =
      CreatePersonOk(NewPerson("Maya Chen", "maya.chen@acme.example"));
  const int commits = store_.commits();

  Person values = maya;
  values.email = "Li.Wei@acme.example";
  ExpectError(p().UpdatePerson(kOrg, values, {"email"}, maya.version).status(),
              absl::StatusCode::kAlreadyExists, "person.email");
  values.team_ids = {"no-such-team"};
  ExpectError(
      p().UpdatePerson(kOrg, values, {"team_ids"}, maya.version).status(),
      absl::StatusCode::kNotFound, "person.team_ids[0]");
  ExpectError(
      p().UpdatePerson(kOrg, values, {"display_name"}, maya.version + 1)
          .status(),
      absl::StatusCode::kAborted, "version");
  ExpectError(p().UpdatePerson(kOrg, values, {"team_ids", "organisation_id"},
                               maya.version)
                  .status(),
              absl::StatusCode::kInvalidArgument, "update_mask");
  values.id = "no-such-person";
  ExpectError(p().UpdatePerson(kOrg, values, {"display_name"}, 1).status(),
              absl::StatusCode::kNotFound, "person.id");
  EXPECT_EQ(store_.commits(), commits);

  // Changing the case of one's own address is fine.
  values = li;
  values.email = "Li.Wei@Acme.example";
  values.team_ids = {sales.id};
  values.display_name = "ignored";
  absl::StatusOr<Person> got =
      p().UpdatePerson(kOrg, values, {"email", "team_ids"}, li.version);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->email, "Li.Wei@Acme.example");
  EXPECT_THAT(got->team_ids, ElementsAre(sales.id));
  EXPECT_EQ(got->display_name, "Li Wei");
  EXPECT_EQ(got->version, li.version + 1);
}

TEST_F(DirectoryTest, DeletePersonRefusedWhileOwningOrLeading) {
  const FiscalYear fy = MakeFiscalYear(2027);
  const Person alex = MakePerson("Alex Rivera");
  const Person jane = MakePerson("Jane");
  const Person maya = MakePerson("Maya Chen");
  const Person li = MakePerson("Li Wei");
  const Objective co = MakeObjective("Earn customer love and trust",
                                     fy.year.id, alex.id);
  KeyResult kr = MakeKeyResult(co.id, "Increase NPS from 7 to 8.5", 7, 8.5);
  // A key result owned by Jane on Alex's objective.
  ASSERT_TRUE(planning_
                  ->Write(kOrg,
                          [&](const OrgState&, const WriteContext& ctx,
                              Mutation* m) {
                            kr.owner_id = jane.id;
                            StampUpdated(kr, ctx.now);
                            m->puts.push_back(kr);
                            return absl::OkStatus();
                          })
                  .ok());
  CreateTeamOk(NewTeam("In-Store Sales", "", maya.id));
  const int commits = store_.commits();

  ExpectError(p().DeletePerson(kOrg, alex.id, alex.version),
              absl::StatusCode::kFailedPrecondition, "id");
  ExpectError(p().DeletePerson(kOrg, jane.id, jane.version),
              absl::StatusCode::kFailedPrecondition, "id");
  ExpectError(p().DeletePerson(kOrg, maya.id, maya.version),
              absl::StatusCode::kFailedPrecondition, "id");
  ExpectError(p().DeletePerson(kOrg, li.id, li.version + 1),
              absl::StatusCode::kAborted, "version");
  ExpectError(p().DeletePerson(kOrg, "no-such-person", 1),
              absl::StatusCode::kNotFound, "id");
  EXPECT_EQ(store_.commits(), commits);

  ASSERT_TRUE(p().DeletePerson(kOrg, li.id, li.version).ok());
  EXPECT_EQ(p().GetPerson(kOrg, li.id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_.commits(), commits + 1);
}

TEST_F(DirectoryTest, ListPeopleOrdersByDisplayNameAndFilters) {
  const Team success = CreateTeamOk(NewTeam("Customer Success"));
  const Person maya = CreatePersonOk(NewPerson("Maya Chen", "maya@acme.example"));
  const Person jane = CreatePersonOk(
      NewPerson("jane", "Jane.Doe@Acme.example", {success.id}));
  const Person alex = CreatePersonOk(
      NewPerson("Alex Rivera", "alex@acme.example", {success.id}));
  const Person jane2 = CreatePersonOk(NewPerson("Jane", "", {}));
  (void)maya;
  (void)alex;
  for (int page_size : {0, 1, 3}) {
    std::vector<Person> all;
    PageRequest page{page_size, ""};
    for (int guard = 0; guard < 10; ++guard) {
      absl::StatusOr<Page<Person>> got = p().ListPeople(kOrg, {}, page);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->total_size, 4);
      all.insert(all.end(), got->items.begin(), got->items.end());
      if (got->next_page_token.empty()) break;
      page.page_token = got->next_page_token;
    }
    // Case-insensitive: "Jane" and "jane" side by side, "Jane" first.
    EXPECT_THAT(DisplayNamesOf(all),
                ElementsAre("Alex Rivera", "Jane", "jane", "Maya Chen"))
        << page_size;
  }
  absl::StatusOr<Page<Person>> by_email =
      p().ListPeople(kOrg, {"", "jane.doe@ACME.example"}, {});
  ASSERT_TRUE(by_email.ok());
  ASSERT_EQ(by_email->items.size(), 1u);
  EXPECT_EQ(by_email->items[0].id, jane.id);
  absl::StatusOr<Page<Person>> by_team =
      p().ListPeople(kOrg, {success.id, ""}, {});
  ASSERT_TRUE(by_team.ok());
  EXPECT_THAT(DisplayNamesOf(by_team->items),
              ElementsAre("Alex Rivera", "jane"));
  EXPECT_EQ(by_team->total_size, 2);
  EXPECT_NE(jane2.id, jane.id);
}

// =============================================================================
// Cycles
// =============================================================================

TEST_F(DirectoryTest, CreateFiscalYearWithMonthsInOneCommit) {
  const int commits = store_.commits();
  absl::StatusOr<FiscalYear> fy =
      p().CreateFiscalYear(kOrg, 2027, /*include_months=*/true, 10, {});
  ASSERT_TRUE(fy.ok()) << fy.status();
  EXPECT_EQ(store_.commits(), commits + 1);

  EXPECT_EQ(fy->year.name, "FY2027");
  EXPECT_EQ(fy->year.kind, CycleKind::kAnnual);
  EXPECT_EQ(fy->year.start, absl::CivilDay(2027, 1, 1));
  EXPECT_EQ(fy->year.end, absl::CivilDay(2028, 1, 1));
  EXPECT_TRUE(fy->year.parent_cycle_id.empty());
  ASSERT_EQ(fy->quarters.size(), 4u);
  ASSERT_EQ(fy->months.size(), 12u);
  for (int q = 0; q < 4; ++q) {
    const Cycle& quarter = fy->quarters[q];
    EXPECT_EQ(quarter.name, absl::StrCat("FY2027-Q", q + 1));
    EXPECT_EQ(quarter.kind, CycleKind::kQuarterly);
    EXPECT_EQ(quarter.parent_cycle_id, fy->year.id);
    EXPECT_EQ(quarter.start, absl::CivilDay(2027, 1 + 3 * q, 1));
    for (int m = 0; m < 3; ++m) {
      const Cycle& month = fy->months[3 * q + m];
      EXPECT_EQ(month.kind, CycleKind::kMonthly);
      EXPECT_EQ(month.parent_cycle_id, quarter.id);
      EXPECT_EQ(month.start, absl::CivilDay(2027, 1 + 3 * q + m, 1));
    }
  }
  EXPECT_EQ(fy->months[0].name, "FY2027-M01");
  EXPECT_EQ(fy->months[11].name, "FY2027-M12");
  EXPECT_EQ(fy->months[11].end, absl::CivilDay(2028, 1, 1));
  std::vector<const Cycle*> all = {&fy->year};
  for (const Cycle& c : fy->quarters) all.push_back(&c);
  for (const Cycle& c : fy->months) all.push_back(&c);
  for (const Cycle* c : all) {
    EXPECT_EQ(c->state, CycleState::kPlanning) << c->name;
    EXPECT_EQ(c->check_in_grace_days, std::optional<int>(10)) << c->name;
    EXPECT_EQ(c->version, 1) << c->name;
    EXPECT_EQ(c->organisation_id, kOrg);
    absl::StatusOr<Cycle> stored = p().GetCycle(kOrg, c->id);
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(stored->name, c->name);
  }
  // The change feed has the year first, then parents before children.
  absl::StatusOr<Planning::ChangeBatch> feed = p().ListPlanChanges(kOrg, 0, 100);
  ASSERT_TRUE(feed.ok()) << feed.status();
  std::vector<Id> feed_ids;
  for (const StoredChange& change : feed->changes) {
    if (change.kind == ResourceKind::kCycle) feed_ids.push_back(change.id);
  }
  ASSERT_EQ(feed_ids.size(), 17u);
  EXPECT_EQ(feed_ids[0], fy->year.id);
  EXPECT_EQ(feed_ids[1], fy->quarters[0].id);
}

TEST_F(DirectoryTest, CreateFiscalYearFollowsAFebruaryStart) {
  Organisation values;
  values.fiscal_year_start_month = 2;
  ASSERT_TRUE(p().UpdateOrganisation(kOrg, values, {"fiscal_year_start_month"},
                                     p().GetOrganisation(kOrg)->version)
                  .ok());
  absl::StatusOr<FiscalYear> fy =
      p().CreateFiscalYear(kOrg, 2027, false, std::nullopt, {});
  ASSERT_TRUE(fy.ok()) << fy.status();
  // The proto's own example: FY2027 runs 2026-02-01 to 2027-02-01, and Q1 is
  // February to April.
  EXPECT_EQ(fy->year.start, absl::CivilDay(2026, 2, 1));
  EXPECT_EQ(fy->year.end, absl::CivilDay(2027, 2, 1));
  EXPECT_EQ(fy->quarters[0].start, absl::CivilDay(2026, 2, 1));
  EXPECT_EQ(fy->quarters[0].end, absl::CivilDay(2026, 5, 1));
  EXPECT_EQ(fy->quarters[3].end, absl::CivilDay(2027, 2, 1));
  EXPECT_THAT(fy->months, IsEmpty());
  EXPECT_FALSE(fy->year.check_in_grace_days.has_value());
}

TEST_F(DirectoryTest, CreateFiscalYearRefusesDuplicatesAndBadInput) {
  ASSERT_TRUE(p().CreateFiscalYear(kOrg, 2027, false, std::nullopt, {}).ok());
  const int commits = store_.commits();
  ExpectError(p().CreateFiscalYear(kOrg, 2027, true, std::nullopt, {}).status(),
              absl::StatusCode::kAlreadyExists, "fiscal_year");
  ExpectError(p().CreateFiscalYear(kOrg, 1969, false, std::nullopt, {}).status(),
              absl::StatusCode::kInvalidArgument, "fiscal_year");
  ExpectError(p().CreateFiscalYear(kOrg, 9999, false, std::nullopt, {}).status(),
              absl::StatusCode::kInvalidArgument, "fiscal_year");
  ExpectError(p().CreateFiscalYear(kOrg, 2028, false, 91, {}).status(),
              absl::StatusCode::kInvalidArgument, "check_in_grace_days");
  // A hand-made quarter with a generated name is a clash too.
  ASSERT_TRUE(p().CreateCycle(kOrg,
                              NewCycle("FY2029-Q1", CycleKind::kQuarterly,
                                       absl::CivilDay(2029, 1, 1),
                                       absl::CivilDay(2029, 4, 1)),
                              {})
                  .ok());
  ExpectError(p().CreateFiscalYear(kOrg, 2029, false, std::nullopt, {}).status(),
              absl::StatusCode::kAlreadyExists, "fiscal_year");
  EXPECT_EQ(store_.commits(), commits + 1);
  ExpectError(
      p().CreateFiscalYear("nobody", 2027, false, std::nullopt, {}).status(),
      absl::StatusCode::kNotFound, "");
}

TEST_F(DirectoryTest, CreateFiscalYearReplaysTheSameRequest) {
  const RequestKey key{"fy-2027", "fp-1"};
  absl::StatusOr<FiscalYear> first =
      p().CreateFiscalYear(kOrg, 2027, true, std::nullopt, key);
  ASSERT_TRUE(first.ok()) << first.status();
  const int commits = store_.commits();
  absl::StatusOr<FiscalYear> again =
      p().CreateFiscalYear(kOrg, 2027, true, std::nullopt, key);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(again->year.id, first->year.id);
  ASSERT_EQ(again->quarters.size(), 4u);
  ASSERT_EQ(again->months.size(), 12u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(again->quarters[i].id, first->quarters[i].id);
  }
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(again->months[i].id, first->months[i].id);
  }
  EXPECT_EQ(
      p().CreateFiscalYear(kOrg, 2028, true, std::nullopt, {"fy-2027", "fp-2"})
          .status()
          .code(),
      absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(DirectoryTest, CreateCycleChecksParentDatesAndNames) {
  const FiscalYear fy = MakeFiscalYear(2027);
  const Cycle& q1 = fy.quarters[0];
  // January under Q1; given state and id are ignored.
  Cycle january = NewCycle("Jan 2027", CycleKind::kMonthly,
                           absl::CivilDay(2027, 1, 1),
                           absl::CivilDay(2027, 2, 1), q1.id);
  january.state = CycleState::kActive;
  january.id = "client-id";
  absl::StatusOr<Cycle> got = p().CreateCycle(kOrg, january, {});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->state, CycleState::kPlanning);
  EXPECT_NE(got->id, "client-id");
  EXPECT_EQ(got->parent_cycle_id, q1.id);
  EXPECT_EQ(got->version, 1);
  const int commits = store_.commits();

  // Outside the parent.
  ExpectError(p().CreateCycle(kOrg,
                              NewCycle("Apr 2027", CycleKind::kMonthly,
                                       absl::CivilDay(2027, 4, 1),
                                       absl::CivilDay(2027, 5, 1), q1.id),
                              {})
                  .status(),
              absl::StatusCode::kFailedPrecondition, "cycle.start_date");
  // Overlapping a sibling of the same kind.
  ExpectError(p().CreateCycle(kOrg,
                              NewCycle("Mid Jan", CycleKind::kMonthly,
                                       absl::CivilDay(2027, 1, 15),
                                       absl::CivilDay(2027, 2, 15), q1.id),
                              {})
                  .status(),
              absl::StatusCode::kFailedPrecondition, "cycle.start_date");
  // Taken name, ignoring case.
  ExpectError(p().CreateCycle(kOrg,
                              NewCycle("fy2027-q1", CycleKind::kQuarterly,
                                       absl::CivilDay(2030, 1, 1),
                                       absl::CivilDay(2030, 4, 1)),
                              {})
                  .status(),
              absl::StatusCode::kAlreadyExists, "cycle.name");
  // Missing parent, parent of the wrong kind.
  ExpectError(p().CreateCycle(kOrg,
                              NewCycle("Feb 2027", CycleKind::kMonthly,
                                       absl::CivilDay(2027, 2, 1),
                                       absl::CivilDay(2027, 3, 1), "nope"),
                              {})
                  .status(),
              absl::StatusCode::kNotFound, "cycle.parent_cycle_id");
  ExpectError(p().CreateCycle(kOrg,
                              NewCycle("Feb 2027", CycleKind::kMonthly,
                                       absl::CivilDay(2027, 2, 1),
                                       absl::CivilDay(2027, 3, 1), fy.year.id),
                              {})
                  .status(),
              absl::StatusCode::kInvalidArgument, "cycle.parent_cycle_id");
  // A quarter of two months; field names are the API's.
  ExpectError(p().CreateCycle(kOrg,
                              NewCycle("Short", CycleKind::kQuarterly,
                                       absl::CivilDay(2030, 1, 1),
                                       absl::CivilDay(2030, 3, 1)),
                              {})
                  .status(),
              absl::StatusCode::kInvalidArgument, "cycle.end_date");
  ExpectError(p().CreateCycle(kOrg,
                              NewCycle("", CycleKind::kMonthly,
                                       absl::CivilDay(2030, 1, 1),
                                       absl::CivilDay(2030, 2, 1)),
                              {})
                  .status(),
              absl::StatusCode::kInvalidArgument, "cycle.name");
  Cycle graceless = NewCycle("Graceless", CycleKind::kMonthly,
                             absl::CivilDay(2030, 1, 1),
                             absl::CivilDay(2030, 2, 1));
  graceless.check_in_grace_days = 365;
  ExpectError(p().CreateCycle(kOrg, graceless, {}).status(),
              absl::StatusCode::kInvalidArgument, "cycle.check_in_grace_days");
  ExpectError(p().CreateCycle(kOrg,
                              NewCycle("Ancient", CycleKind::kMonthly,
                                       absl::CivilDay(1900, 1, 1),
                                       absl::CivilDay(1900, 2, 1)),
                              {})
                  .status(),
              absl::StatusCode::kInvalidArgument, "cycle.start_date");
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(DirectoryTest, CreateCycleReplaysTheSameRequest) {
  const Cycle fy2030 = NewCycle("FY2030", CycleKind::kAnnual,
                                absl::CivilDay(2030, 1, 1),
                                absl::CivilDay(2031, 1, 1));
  const RequestKey key{"cycle-1", "fp-1"};
  absl::StatusOr<Cycle> first = p().CreateCycle(kOrg, fy2030, key);
  ASSERT_TRUE(first.ok()) << first.status();
  const int commits = store_.commits();
  absl::StatusOr<Cycle> again = p().CreateCycle(kOrg, fy2030, key);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(p().CreateCycle(kOrg, fy2030, {"cycle-1", "fp-2"}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(DirectoryTest, ListCyclesOrdersByStartThenKindAndFilters) {
  absl::StatusOr<FiscalYear> fy =
      p().CreateFiscalYear(kOrg, 2027, true, std::nullopt, {});
  ASSERT_TRUE(fy.ok()) << fy.status();
  for (int page_size : {0, 4, 7}) {
    std::vector<Cycle> all = AllCycles({}, page_size);
    ASSERT_EQ(all.size(), 17u) << page_size;
    // 1 January starts the year, Q1 and M01: in that order.
    EXPECT_EQ(all[0].id, fy->year.id);
    EXPECT_EQ(all[1].id, fy->quarters[0].id);
    EXPECT_EQ(all[2].id, fy->months[0].id);
    for (size_t i = 1; i < all.size(); ++i) {
      EXPECT_LE(all[i - 1].start, all[i].start);
    }
  }
  CycleFilter quarters;
  quarters.kind = CycleKind::kQuarterly;
  EXPECT_THAT(NamesOf(AllCycles(quarters, 3)),
              ElementsAre("FY2027-Q1", "FY2027-Q2", "FY2027-Q3", "FY2027-Q4"));
  CycleFilter children;
  children.parent_cycle_id = fy->quarters[1].id;
  EXPECT_THAT(NamesOf(AllCycles(children, 0)),
              ElementsAre("FY2027-M04", "FY2027-M05", "FY2027-M06"));
  CycleFilter containing;
  containing.contains_day = absl::CivilDay(2027, 5, 31);
  EXPECT_THAT(NamesOf(AllCycles(containing, 0)),
              ElementsAre("FY2027", "FY2027-Q2", "FY2027-M05"));
  containing.contains_day = absl::CivilDay(2028, 1, 1);  // end is exclusive
  EXPECT_THAT(AllCycles(containing, 0), IsEmpty());

  ASSERT_TRUE(p().UpdateCycleState(kOrg, fy->quarters[0].id,
                                   CycleState::kActive,
                                   fy->quarters[0].version)
                  .ok());
  CycleFilter active;
  active.state = CycleState::kActive;
  EXPECT_THAT(NamesOf(AllCycles(active, 0)), ElementsAre("FY2027-Q1"));
  absl::StatusOr<Page<Cycle>> page = p().ListCycles(kOrg, active, {});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total_size, 1);

  absl::StatusOr<Page<Cycle>> first = p().ListCycles(kOrg, {}, {5, ""});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->total_size, 17);
  ExpectError(p().ListCycles(kOrg, quarters, {5, first->next_page_token})
                  .status(),
              absl::StatusCode::kInvalidArgument, "page_token");
}

TEST_F(DirectoryTest, UpdateCycleNameGraceAndDatesWhilePlanning) {
  const Cycle q = *p().CreateCycle(kOrg,
                                   NewCycle("Pilot quarter",
                                            CycleKind::kQuarterly,
                                            absl::CivilDay(2030, 1, 1),
                                            absl::CivilDay(2030, 4, 1)),
                                   {});
  Cycle values = q;
  values.name = "Pilot Q1";
  values.check_in_grace_days = 3;
  values.start = absl::CivilDay(2030, 2, 1);
  values.end = absl::CivilDay(2030, 5, 1);
  values.kind = CycleKind::kMonthly;  // not in the mask: ignored
  now_ += absl::Hours(2);
  absl::StatusOr<Cycle> got = p().UpdateCycle(
      kOrg, values,
      {"name", "check_in_grace_days", "start_date", "end_date"}, q.version);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->name, "Pilot Q1");
  EXPECT_EQ(got->check_in_grace_days, std::optional<int>(3));
  EXPECT_EQ(got->start, absl::CivilDay(2030, 2, 1));
  EXPECT_EQ(got->end, absl::CivilDay(2030, 5, 1));
  EXPECT_EQ(got->kind, CycleKind::kQuarterly);
  EXPECT_EQ(got->version, q.version + 1);
  EXPECT_EQ(got->update_time, now_);

  // Once ACTIVE, the dates are fixed but the name is not.
  absl::StatusOr<Cycle> active =
      p().UpdateCycleState(kOrg, q.id, CycleState::kActive, got->version);
  ASSERT_TRUE(active.ok()) << active.status();
  const int commits = store_.commits();
  values = *active;
  values.start = absl::CivilDay(2030, 3, 1);
  values.end = absl::CivilDay(2030, 6, 1);
  ExpectError(p().UpdateCycle(kOrg, values, {"start_date", "end_date"},
                              active->version)
                  .status(),
              absl::StatusCode::kFailedPrecondition, "cycle.start_date");
  EXPECT_EQ(store_.commits(), commits);
  values.name = "Pilot quarter 2030";
  got = p().UpdateCycle(kOrg, values, {"name"}, active->version);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->name, "Pilot quarter 2030");
  EXPECT_EQ(got->start, absl::CivilDay(2030, 2, 1));
}

TEST_F(DirectoryTest, UpdateCycleRefusesBadMasksConflictsAndStaleVersions) {
  const FiscalYear fy = MakeFiscalYear(2027);
  const Cycle& q1 = fy.quarters[0];
  const int commits = store_.commits();
  Cycle values = q1;
  values.state = CycleState::kActive;
  ExpectError(p().UpdateCycle(kOrg, values, {"state"}, q1.version).status(),
              absl::StatusCode::kInvalidArgument, "update_mask");
  ExpectError(p().UpdateCycle(kOrg, values, {"kind"}, q1.version).status(),
              absl::StatusCode::kInvalidArgument, "update_mask");
  ExpectError(
      p().UpdateCycle(kOrg, values, {"parent_cycle_id"}, q1.version).status(),
      absl::StatusCode::kInvalidArgument, "update_mask");
  ExpectError(p().UpdateCycle(kOrg, values, {}, q1.version).status(),
              absl::StatusCode::kInvalidArgument, "update_mask");
  values.name = "FY2027-Q2";
  ExpectError(p().UpdateCycle(kOrg, values, {"name"}, q1.version).status(),
              absl::StatusCode::kAlreadyExists, "cycle.name");
  ExpectError(p().UpdateCycle(kOrg, values, {"name"}, q1.version + 1).status(),
              absl::StatusCode::kAborted, "version");
  values = q1;
  values.id = "no-such-cycle";
  ExpectError(p().UpdateCycle(kOrg, values, {"name"}, 1).status(),
              absl::StatusCode::kNotFound, "cycle.id");
  // Moving Q1 into Q2's months overlaps Q2.
  values = q1;
  values.start = absl::CivilDay(2027, 2, 1);
  values.end = absl::CivilDay(2027, 5, 1);
  ExpectError(p().UpdateCycle(kOrg, values, {"start_date", "end_date"},
                              q1.version)
                  .status(),
              absl::StatusCode::kFailedPrecondition, "cycle.start_date");
  // Shrinking the year would leave its quarters outside.
  values = fy.year;
  values.start = absl::CivilDay(2027, 2, 1);
  values.end = absl::CivilDay(2028, 2, 1);
  ExpectError(p().UpdateCycle(kOrg, values, {"start_date", "end_date"},
                              fy.year.version)
                  .status(),
              absl::StatusCode::kFailedPrecondition, "cycle.start_date");
  values = q1;
  values.check_in_grace_days = 91;
  ExpectError(p().UpdateCycle(kOrg, values, {"check_in_grace_days"},
                              q1.version)
                  .status(),
              absl::StatusCode::kInvalidArgument, "cycle.check_in_grace_days");
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(DirectoryTest, CycleStateMovesForwardOneStepAtATime) {
  const FiscalYear fy = MakeFiscalYear(2027);
  Cycle q = fy.quarters[0];
  const int commits = store_.commits();
  ExpectError(
      p().UpdateCycleState(kOrg, q.id, CycleState::kReview, q.version).status(),
      absl::StatusCode::kFailedPrecondition, "state");
  ExpectError(p().UpdateCycleState(kOrg, q.id, CycleState::kPlanning, q.version)
                  .status(),
              absl::StatusCode::kFailedPrecondition, "state");
  ExpectError(
      p().UpdateCycleState(kOrg, q.id, CycleState::kUnspecified, q.version)
          .status(),
      absl::StatusCode::kInvalidArgument, "state");
  ExpectError(p().UpdateCycleState(kOrg, q.id, CycleState::kActive,
                                   q.version + 1)
                  .status(),
              absl::StatusCode::kAborted, "version");
  ExpectError(
      p().UpdateCycleState(kOrg, "no-such-cycle", CycleState::kActive, 1)
          .status(),
      absl::StatusCode::kNotFound, "id");
  EXPECT_EQ(store_.commits(), commits);

  for (CycleState next :
       {CycleState::kActive, CycleState::kReview, CycleState::kClosed}) {
    absl::StatusOr<Cycle> moved =
        p().UpdateCycleState(kOrg, q.id, next, q.version);
    ASSERT_TRUE(moved.ok()) << moved.status();
    EXPECT_EQ(moved->state, next);
    EXPECT_EQ(moved->version, q.version + 1);
    q = *moved;
  }
  EXPECT_EQ(store_.commits(), commits + 3);
  // Backwards (and anywhere else) from CLOSED is refused.
  for (CycleState state : {CycleState::kPlanning, CycleState::kActive,
                           CycleState::kReview, CycleState::kClosed}) {
    ExpectError(p().UpdateCycleState(kOrg, q.id, state, q.version).status(),
                absl::StatusCode::kFailedPrecondition, "state");
  }
  EXPECT_EQ(Restart()->GetCycle(kOrg, q.id)->state, CycleState::kClosed);
}

TEST_F(DirectoryTest, StoreFailureStoresNothingAndReportsIt) {
  const FiscalYear fy = MakeFiscalYear(2027);
  const int commits = store_.commits();
  store_.FailWith(absl::UnavailableError("store down"));
  EXPECT_EQ(p().CreateTeam(kOrg, NewTeam("Sales"), {}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(p().UpdateCycleState(kOrg, fy.quarters[0].id, CycleState::kActive,
                                 fy.quarters[0].version)
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  store_.FailWith(absl::OkStatus());
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(p().ListTeams(kOrg, {}, {})->total_size, 0);
  EXPECT_EQ(p().GetCycle(kOrg, fy.quarters[0].id)->state,
            CycleState::kPlanning);
}

}  // namespace
}  // namespace okr::planning
