// Tests of the field rules and alignment rules in common/validation.h.
#include "common/validation.h"

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace okr {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string Repeat(absl::string_view unit, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out.append(unit.data(), unit.size());
  return out;
}

// Expects `status` to carry a violation of `field` whose description contains
// `rule`, both in the payload and in the message as "<field>: <rule>".
void ExpectViolation(const absl::Status& status, absl::string_view field,
                     absl::string_view rule,
                     absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_THAT(FieldViolationsOf(status),
              Contains(AllOf(Field(&FieldViolation::field, std::string(field)),
                             Field(&FieldViolation::description,
                                   HasSubstr(std::string(rule))))))
      << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(absl::StrCat(field, ": ")))
      << status;
}

// As ExpectViolation, and the violation is the only one.
void ExpectOnlyViolation(const absl::Status& status, absl::string_view field,
                         absl::string_view rule,
                         absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
  ExpectViolation(status, field, rule, code);
  EXPECT_THAT(FieldViolationsOf(status), SizeIs(1)) << status;
}

// --- Status with violations -------------------------------------------------

TEST(FieldViolationsTest, MessageListsEveryViolationAndPayloadRoundTrips) {
  const std::vector<FieldViolation> in = {
      {"key_result.to", "must differ"},
      {"objective.title", "tabs\tnew\nlines and back\\slashes survive"},
      {"check_in.note", ""}};
  absl::Status s = MakeInvalidArgument(in);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            absl::StrCat(in[0].field, ": ", in[0].description, "; ",
                         in[1].field, ": ", in[1].description, "; ",
                         in[2].field, ": ", in[2].description));
  EXPECT_EQ(FieldViolationsOf(s), in);
  EXPECT_TRUE(s.GetPayload(kFieldViolationsTypeUrl).has_value());
}

TEST(FieldViolationsTest, NoViolationsIsOk) {
  EXPECT_TRUE(MakeInvalidArgument({}).ok());
  EXPECT_TRUE(MakeFieldStatus(absl::StatusCode::kNotFound, {}).ok());
}

TEST(FieldViolationsTest, OtherCodesKeepTheirCode) {
  const std::vector<FieldViolation> in = {{"objective.cycle_id", "no cycle"}};
  absl::Status s = MakeFieldStatus(absl::StatusCode::kNotFound, in);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FieldViolationsOf(s), in);
}

TEST(FieldViolationsTest, StatusesWithoutOurPayloadHaveNone) {
  EXPECT_THAT(FieldViolationsOf(absl::OkStatus()), IsEmpty());
  EXPECT_THAT(FieldViolationsOf(absl::InvalidArgumentError("plain")), IsEmpty());
  absl::Status bad = absl::InvalidArgumentError("x");
  bad.SetPayload(kFieldViolationsTypeUrl, absl::Cord("a\\q\tb\n"));
  EXPECT_THAT(FieldViolationsOf(bad), IsEmpty());
  bad.SetPayload(kFieldViolationsTypeUrl, absl::Cord("no tab here\n"));
  EXPECT_THAT(FieldViolationsOf(bad), IsEmpty());
}

// --- Identifiers ------------------------------------------------------------

TEST(ValidateIdTest, ShapeAndLength) {
  EXPECT_TRUE(ValidateId("objective.cycle_id", "org-1:FY2027.Q1_a", true).ok());
  EXPECT_TRUE(ValidateId("objective.team_id", "", false).ok());
  ExpectOnlyViolation(ValidateId("objective.cycle_id", "", true),
                      "objective.cycle_id", "is required");
  EXPECT_TRUE(ValidateId("x.id", Repeat("a", kMaxIdLength), true).ok());
  ExpectOnlyViolation(ValidateId("x.id", Repeat("a", kMaxIdLength + 1), true),
                      "x.id", "at most 128 characters; got 129");
  ExpectOnlyViolation(ValidateId("x.id", "a/b", true), "x.id",
                      "found '/' at position 2");
  ExpectOnlyViolation(ValidateId("x.id", "a b", true), "x.id", "position 2");
  ExpectOnlyViolation(ValidateId("x.id", "caf\xC3\xA9", true), "x.id",
                      "position 4");
}

// --- Organisation -----------------------------------------------------------

Organisation ValidOrganisation() {
  Organisation org;
  org.id = "acme";
  org.name = "Acme Retail";
  org.fiscal_year_start_month = 2;
  org.time_zone = "America/New_York";
  org.mission = "Turn customers into lifelong fans.";
  org.vision = "Every shopper's favourite store, in every channel.";
  org.values = {"Customer first", "Own it", "Learn fast"};
  org.planning_profile = PlanningProfile::kEnterprise;
  return org;
}

TEST(ValidateOrganisationTest, ValidPasses) {
  EXPECT_TRUE(ValidateOrganisation(ValidOrganisation()).ok());
  Organisation org = ValidOrganisation();
  org.mission.clear();
  org.vision.clear();
  org.values.clear();
  org.time_zone = "UTC";
  EXPECT_TRUE(ValidateOrganisation(org).ok());
}

TEST(ValidateOrganisationTest, FiscalYearStartMonth) {
  for (int month : {1, 12}) {
    Organisation org = ValidOrganisation();
    org.fiscal_year_start_month = month;
    EXPECT_TRUE(ValidateOrganisation(org).ok()) << month;
  }
  for (int month : {0, 13, -1}) {
    Organisation org = ValidOrganisation();
    org.fiscal_year_start_month = month;
    ExpectOnlyViolation(ValidateOrganisation(org),
                        "organisation.fiscal_year_start_month",
                        absl::StrCat("between 1 (January) and 12 (December); got ",
                                     month));
  }
}

TEST(ValidateOrganisationTest, TimeZoneMustBeALoadableIanaName) {
  Organisation org = ValidOrganisation();
  org.time_zone = "Europe/Berlin";
  EXPECT_TRUE(ValidateOrganisation(org).ok());
  org.time_zone = "";
  ExpectOnlyViolation(ValidateOrganisation(org), "organisation.time_zone",
                      "is required");
  for (const char* bad : {"Mars/Olympus", "../../etc/passwd", "/etc/localtime",
                          "localtime", "America/New York", "Europe/../UTC"}) {
    org.time_zone = bad;
    ExpectOnlyViolation(ValidateOrganisation(org), "organisation.time_zone",
                        "is not a known IANA time zone name");
  }
}

TEST(ValidateOrganisationTest, PlanningProfileNameAndTexts) {
  Organisation org = ValidOrganisation();
  org.planning_profile = PlanningProfile::kUnspecified;
  ExpectOnlyViolation(ValidateOrganisation(org), "organisation.planning_profile",
                      "SMALL");
  org = ValidOrganisation();
  org.name = " ";
  ExpectOnlyViolation(ValidateOrganisation(org), "organisation.name",
                      "is required");
  org = ValidOrganisation();
  org.mission = Repeat("m", kMaxDescriptionLength);
  org.vision = "Line one\nline two";
  EXPECT_TRUE(ValidateOrganisation(org).ok());
  org.mission += "m";
  ExpectOnlyViolation(ValidateOrganisation(org), "organisation.mission",
                      "at most 4000 characters; got 4001");
}

TEST(ValidateOrganisationTest, Values) {
  Organisation org = ValidOrganisation();
  org.values.assign(kMaxOrganisationValues, "Value");
  org.values.back() = Repeat("v", kMaxOrganisationValueLength);
  EXPECT_TRUE(ValidateOrganisation(org).ok());
  org.values.push_back("One too many");
  ExpectOnlyViolation(ValidateOrganisation(org), "organisation.values",
                      "at most 20 entries; got 21");
  org = ValidOrganisation();
  org.values[1] = "";
  org.values[2] = Repeat("v", kMaxOrganisationValueLength + 1);
  absl::Status s = ValidateOrganisation(org);
  ExpectViolation(s, "organisation.values[1]", "is required");
  ExpectViolation(s, "organisation.values[2]", "got 201");
  EXPECT_THAT(FieldViolationsOf(s), SizeIs(2));
}

TEST(ValidateOrganisationTest, ReportsEveryViolationAtOnce) {
  Organisation org = ValidOrganisation();
  org.fiscal_year_start_month = 13;
  org.time_zone = "Nowhere/Special";
  absl::Status s = ValidateOrganisation(org);
  EXPECT_THAT(FieldViolationsOf(s),
              ElementsAre(Field(&FieldViolation::field,
                                "organisation.fiscal_year_start_month"),
                          Field(&FieldViolation::field, "organisation.time_zone")));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("got 13; organisation.time_zone: 'Nowhere/Special'"));
}

// --- Team and person --------------------------------------------------------

TEST(ValidateTeamTest, NameAndParent) {
  Team team;
  team.id = "cs";
  team.name = "Customer Success";
  team.parent_team_id = "ops";
  EXPECT_TRUE(ValidateTeam(team).ok());
  team.parent_team_id = "cs";
  ExpectOnlyViolation(ValidateTeam(team), "team.parent_team_id",
                      "cannot be its own parent");
  team.parent_team_id = "";
  team.name = "";
  ExpectOnlyViolation(ValidateTeam(team), "team.name", "is required");
  team.name = Repeat("n", kMaxNameLength + 1);
  ExpectOnlyViolation(ValidateTeam(team), "team.name", "got 201");
}

TEST(ValidatePersonTest, DisplayNameAndEmail) {
  Person jane;
  jane.id = "jane";
  jane.display_name = "Jane, VP of Customer Success";
  jane.email = "jane.doe+okr@example.co.uk";
  EXPECT_TRUE(ValidatePerson(jane).ok());
  jane.email = "";
  EXPECT_TRUE(ValidatePerson(jane).ok());  // optional
  for (const char* bad : {"jane", "jane@", "@example.com", "jane@example",
                          "jane@@example.com", "jane doe@example.com",
                          "jane@example..com", "jane@.example.com",
                          "jane@example.com.", "jane@exa\tmple.com"}) {
    jane.email = bad;
    ExpectOnlyViolation(ValidatePerson(jane), "person.email",
                        "must look like name@example.com");
  }
  jane.email = absl::StrCat(Repeat("j", 64), "@", Repeat("e", 185), ".com");
  ASSERT_EQ(jane.email.size(), kMaxEmailLength);
  EXPECT_TRUE(ValidatePerson(jane).ok());
  jane.email.insert(0, "j");
  ExpectOnlyViolation(ValidatePerson(jane), "person.email",
                      "at most 254 characters; got 255");
  jane.email = "jane@example.com";
  jane.display_name = "";
  ExpectOnlyViolation(ValidatePerson(jane), "person.display_name",
                      "is required");
}

// --- Cycle ------------------------------------------------------------------

Cycle MakeCycle(Id id, CycleKind kind, absl::CivilDay start, absl::CivilDay end) {
  Cycle c;
  c.id = id;
  c.name = id;
  c.kind = kind;
  c.start = start;
  c.end = end;
  c.state = CycleState::kPlanning;
  return c;
}

TEST(ValidateCycleTest, FiscalPeriodsOfTheRightLength) {
  // A fiscal year starting in February: Q1 = Feb-Apr.
  EXPECT_TRUE(ValidateCycle(MakeCycle("FY2027", CycleKind::kAnnual,
                                      absl::CivilDay(2027, 2, 1),
                                      absl::CivilDay(2028, 2, 1)))
                  .ok());
  EXPECT_TRUE(ValidateCycle(MakeCycle("FY2027-Q1", CycleKind::kQuarterly,
                                      absl::CivilDay(2027, 2, 1),
                                      absl::CivilDay(2027, 5, 1)))
                  .ok());
  EXPECT_TRUE(ValidateCycle(MakeCycle("FY2027-Q4", CycleKind::kQuarterly,
                                      absl::CivilDay(2027, 11, 1),
                                      absl::CivilDay(2028, 2, 1)))
                  .ok());
  EXPECT_TRUE(ValidateCycle(MakeCycle("FY2027-M01", CycleKind::kMonthly,
                                      absl::CivilDay(2027, 2, 1),
                                      absl::CivilDay(2027, 3, 1)))
                  .ok());
}

TEST(ValidateCycleTest, WrongSpansAreRejected) {
  ExpectOnlyViolation(
      ValidateCycle(MakeCycle("q", CycleKind::kQuarterly,
                              absl::CivilDay(2027, 2, 1),
                              absl::CivilDay(2027, 6, 1))),
      "cycle.end",
      "a QUARTERLY cycle must span exactly 3 months");
  ExpectOnlyViolation(
      ValidateCycle(MakeCycle("q", CycleKind::kQuarterly,
                              absl::CivilDay(2027, 2, 1),
                              absl::CivilDay(2027, 5, 2))),
      "cycle.end", "got 2027-02-01 to 2027-05-02");
  ExpectOnlyViolation(
      ValidateCycle(MakeCycle("m", CycleKind::kMonthly,
                              absl::CivilDay(2027, 1, 1),
                              absl::CivilDay(2027, 3, 1))),
      "cycle.end", "a MONTHLY cycle must span exactly 1 month ");
  ExpectOnlyViolation(
      ValidateCycle(MakeCycle("y", CycleKind::kAnnual, absl::CivilDay(2027, 1, 1),
                              absl::CivilDay(2027, 12, 31))),
      "cycle.end", "12 months");
}

TEST(ValidateCycleTest, StartBeforeEnd) {
  ExpectOnlyViolation(
      ValidateCycle(MakeCycle("q", CycleKind::kQuarterly,
                              absl::CivilDay(2027, 2, 1),
                              absl::CivilDay(2027, 2, 1))),
      "cycle.end", "must be after cycle.start (2027-02-01)");
  ExpectOnlyViolation(
      ValidateCycle(MakeCycle("q", CycleKind::kQuarterly,
                              absl::CivilDay(2027, 5, 1),
                              absl::CivilDay(2027, 2, 1))),
      "cycle.end", "must be after cycle.start");
}

TEST(ValidateCycleTest, KindStateNameAndParent) {
  Cycle c = MakeCycle("q", CycleKind::kUnspecified, absl::CivilDay(2027, 2, 1),
                      absl::CivilDay(2027, 5, 1));
  ExpectOnlyViolation(ValidateCycle(c), "cycle.kind", "ANNUAL, QUARTERLY or MONTHLY");
  c.kind = CycleKind::kQuarterly;
  c.state = CycleState::kUnspecified;
  ExpectOnlyViolation(ValidateCycle(c), "cycle.state", "PLANNING");
  c.state = CycleState::kActive;
  c.name = "";
  ExpectOnlyViolation(ValidateCycle(c), "cycle.name", "is required");
  c.name = "FY2027-Q1";
  c.parent_cycle_id = "q";
  ExpectOnlyViolation(ValidateCycle(c), "cycle.parent_cycle_id",
                      "must differ from cycle.id");
  c.parent_cycle_id = "FY2027";
  EXPECT_TRUE(ValidateCycle(c).ok());
  Cycle year = MakeCycle("FY2027", CycleKind::kAnnual, absl::CivilDay(2027, 2, 1),
                         absl::CivilDay(2028, 2, 1));
  year.parent_cycle_id = "FY2026";
  ExpectOnlyViolation(ValidateCycle(year), "cycle.parent_cycle_id",
                      "must be empty for an ANNUAL cycle");
}

// --- Objective --------------------------------------------------------------

// Jane's Classic objective from the customer-success cascade.
Objective ValidObjective() {
  Objective o;
  o.id = "jane-q1";
  o.title = "Increase customer satisfaction";
  o.level = Level::kIndividual;
  o.owner_id = "jane";
  o.team_id = "cs";
  o.cycle_id = "FY2027-Q1";
  o.kind = ObjectiveKind::kAspirational;
  o.category = Category::kProduct;
  o.priority = 1;
  o.state = ObjectiveState::kPublished;
  o.alignment.kind = AlignmentKind::kObjective;
  o.alignment.parent_objective_id = "company-love";
  return o;
}

TEST(ValidateObjectiveTest, ValidPasses) {
  EXPECT_TRUE(ValidateObjective(ValidObjective()).ok());
  Objective company = ValidObjective();
  company.level = Level::kCompany;
  company.owner_id = "";  // owner is only required for INDIVIDUAL objectives
  company.alignment = Alignment{};
  company.priority = 0;
  EXPECT_TRUE(ValidateObjective(company).ok());
}

TEST(ValidateObjectiveTest, TitleLengthCountsCodePoints) {
  Objective o = ValidObjective();
  o.title = Repeat("a", kMaxTitleLength);
  EXPECT_TRUE(ValidateObjective(o).ok());
  o.title += "a";
  ExpectOnlyViolation(ValidateObjective(o), "objective.title",
                      "must be at most 200 characters; got 201");
  // Two-, three- and four-byte characters count once each.
  for (absl::string_view ch : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x9A\x80"}) {
    o.title = Repeat(ch, kMaxTitleLength);
    EXPECT_TRUE(ValidateObjective(o).ok()) << o.title.size() << " bytes";
    o.title.append(ch.data(), ch.size());
    ExpectOnlyViolation(ValidateObjective(o), "objective.title", "got 201");
  }
  o.title = absl::StrCat(Repeat("\xC3\xA9", 100), Repeat("x", 100));
  EXPECT_TRUE(ValidateObjective(o).ok());
}

TEST(ValidateObjectiveTest, TitleMustBePresentValidUtf8AndOneLine) {
  Objective o = ValidObjective();
  for (const char* blank : {"", "   ", "\t"}) {
    o.title = blank;
    EXPECT_EQ(ValidateObjective(o).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(FieldViolationsOf(ValidateObjective(o)),
                Contains(Field(&FieldViolation::field, "objective.title")));
  }
  o.title = "";
  ExpectOnlyViolation(ValidateObjective(o), "objective.title",
                      "is required (1 to 200 characters");
  for (const char* invalid : {"caf\xC3", "\xC3\x28", "\xC0\xAF overlong",
                              "\xED\xA0\x80 surrogate", "\xF4\x90\x80\x80 too big",
                              "\xFF"}) {
    o.title = invalid;
    ExpectOnlyViolation(ValidateObjective(o), "objective.title",
                        "is not valid UTF-8");
  }
  o.title = "Earn customer\nlove";
  ExpectOnlyViolation(ValidateObjective(o), "objective.title",
                      "must not contain control characters (found U+000A at "
                      "character 14)");
  o.title = "Tab\there";
  ExpectOnlyViolation(ValidateObjective(o), "objective.title", "U+0009");
  o.title = "C1 \xC2\x85 control";
  ExpectOnlyViolation(ValidateObjective(o), "objective.title", "U+0085");
}

TEST(ValidateObjectiveTest, DescriptionAllowsNewlinesAndTabsOnly) {
  Objective o = ValidObjective();
  o.description = "Why:\n\t- NPS is how the company measures love and trust.";
  EXPECT_TRUE(ValidateObjective(o).ok());
  o.description = "Carriage\r\nreturn";
  ExpectOnlyViolation(ValidateObjective(o), "objective.description",
                      "other than newline and tab (found U+000D");
  o.description = "bell \x07";
  ExpectOnlyViolation(ValidateObjective(o), "objective.description", "U+0007");
  o.description = Repeat("\xE2\x82\xAC", kMaxDescriptionLength);
  EXPECT_TRUE(ValidateObjective(o).ok());
  o.description += "x";
  ExpectOnlyViolation(ValidateObjective(o), "objective.description",
                      "at most 4000 characters; got 4001");
}

TEST(ValidateObjectiveTest, RequiredEnumsAndIds) {
  Objective o = ValidObjective();
  o.level = Level::kUnspecified;
  ExpectOnlyViolation(ValidateObjective(o), "objective.level",
                      "COMPANY, TEAM or INDIVIDUAL");
  o = ValidObjective();
  o.kind = ObjectiveKind::kUnspecified;
  ExpectOnlyViolation(ValidateObjective(o), "objective.kind", "COMMITTED");
  o = ValidObjective();
  o.state = ObjectiveState::kUnspecified;
  ExpectOnlyViolation(ValidateObjective(o), "objective.state", "DRAFT");
  o = ValidObjective();
  o.progress_source = ProgressSource::kUnspecified;
  ExpectOnlyViolation(ValidateObjective(o), "objective.progress_source",
                      "KEY_RESULTS");
  o = ValidObjective();
  o.category = static_cast<Category>(99);
  ExpectOnlyViolation(ValidateObjective(o), "objective.category", "PROFIT");
  o = ValidObjective();
  o.cycle_id = "";
  ExpectOnlyViolation(ValidateObjective(o), "objective.cycle_id", "is required");
  o = ValidObjective();
  o.owner_id = "";
  ExpectOnlyViolation(ValidateObjective(o), "objective.owner_id", "is required");
  o.level = Level::kTeam;
  EXPECT_TRUE(ValidateObjective(o).ok());
  o = ValidObjective();
  o.priority = -1;
  ExpectOnlyViolation(ValidateObjective(o), "objective.priority",
                      ">= 0 (1 is the most important, 0 unranked); got -1");
}

TEST(ValidateObjectiveTest, Alignment) {
  for (double w : {kNaN, kInf, -kInf, -0.5}) {
    Objective o = ValidObjective();
    o.alignment.weight = w;
    ExpectOnlyViolation(ValidateObjective(o), "objective.alignment.weight",
                        "must be a finite number >= 0");
  }
  Objective o = ValidObjective();
  o.alignment.weight = 0;
  EXPECT_TRUE(ValidateObjective(o).ok());

  o = ValidObjective();
  o.alignment.parent_objective_id = "";
  ExpectOnlyViolation(ValidateObjective(o),
                      "objective.alignment.parent_objective_id", "is required");
  o = ValidObjective();
  o.alignment.parent_objective_id = o.id;
  ExpectOnlyViolation(ValidateObjective(o),
                      "objective.alignment.parent_objective_id",
                      "cannot align to itself");
  o = ValidObjective();
  o.alignment.parent_key_result_id = "kr-1";
  ExpectOnlyViolation(ValidateObjective(o),
                      "objective.alignment.parent_key_result_id",
                      "must be empty when alignment.kind is OBJECTIVE");

  // Duality: the parent KR is required, its objective optional.
  o = ValidObjective();
  o.alignment.kind = AlignmentKind::kKeyResult;
  o.alignment.parent_objective_id = "";
  ExpectOnlyViolation(ValidateObjective(o),
                      "objective.alignment.parent_key_result_id", "is required");
  o.alignment.parent_key_result_id = "company-love-kr1";
  EXPECT_TRUE(ValidateObjective(o).ok());

  o = ValidObjective();
  o.alignment.kind = AlignmentKind::kNone;
  ExpectOnlyViolation(ValidateObjective(o),
                      "objective.alignment.parent_objective_id",
                      "must be empty when alignment.kind is NONE");
  o.alignment.parent_objective_id = "";
  EXPECT_TRUE(ValidateObjective(o).ok());

  o = ValidObjective();
  o.breakdown_of_objective_id = o.id;
  ExpectOnlyViolation(ValidateObjective(o), "objective.breakdown_of_objective_id",
                      "cannot be a breakdown of itself");
}

// --- Key result -------------------------------------------------------------

// "Increase NPS score from 7 to 8.5" (Jane, Duality cascade).
KeyResult ValidMetric() {
  KeyResult kr;
  kr.id = "jane-kr2";
  kr.objective_id = "jane-q1";
  kr.title = "Increase NPS score from 7 to 8.5";
  kr.type = KeyResultType::kMetric;
  kr.measure = Measure::kKpi;
  kr.from = 7;
  kr.to = 8.5;
  kr.unit = "points";
  kr.data_source = DataSource::kSpreadsheet;
  return kr;
}

KeyResult ValidMilestone() {
  KeyResult kr;
  kr.id = "kr-tieup";
  kr.objective_id = "instore-new";
  kr.title = "Exclusive tie-up deals with 2 top brands to draw new footfalls";
  kr.type = KeyResultType::kMilestone;
  kr.data_source = DataSource::kManual;
  return kr;
}

TEST(ValidateKeyResultTest, DocumentExamplesPass) {
  EXPECT_TRUE(ValidateKeyResult(ValidMetric()).ok());
  EXPECT_TRUE(ValidateKeyResult(ValidMilestone()).ok());
  // "Reduce customer response time from 72 hours to <24 hours".
  KeyResult response = ValidMetric();
  response.from = 72;
  response.to = 24;
  response.direction = Direction::kDecrease;
  EXPECT_TRUE(ValidateKeyResult(response).ok());
  // "Maintain an NPS score greater than 8": a threshold may have to == from.
  KeyResult nps = ValidMetric();
  nps.from = 8;
  nps.to = 8;
  nps.direction = Direction::kAtLeast;
  EXPECT_TRUE(ValidateKeyResult(nps).ok());
  // "Increase total amount of completed QBRs from 88% to 100%".
  KeyResult qbr = ValidMetric();
  qbr.measure = Measure::kPercentComplete;
  qbr.from = 88;
  qbr.to = 100;
  qbr.unit = "%";
  EXPECT_TRUE(ValidateKeyResult(qbr).ok());
}

TEST(ValidateKeyResultTest, ToMustDifferFromFromUnlessThreshold) {
  for (Direction d : {Direction::kUnspecified, Direction::kIncrease,
                      Direction::kDecrease}) {
    KeyResult kr = ValidMetric();
    kr.to = kr.from;
    kr.direction = d;
    absl::Status s = ValidateKeyResult(kr);
    ExpectOnlyViolation(s, "key_result.to",
                        "must differ from key_result.from for an "
                        "INCREASE/DECREASE metric key result (use AT_LEAST or "
                        "AT_MOST for a threshold)");
    EXPECT_THAT(std::string(s.message()),
                HasSubstr("key_result.to: must differ from key_result.from"));
  }
  KeyResult kr = ValidMetric();
  kr.to = kr.from;
  kr.direction = Direction::kAtMost;
  EXPECT_TRUE(ValidateKeyResult(kr).ok());
}

TEST(ValidateKeyResultTest, GivenDirectionMustAgreeWithFromAndTo) {
  KeyResult kr = ValidMetric();
  kr.direction = Direction::kIncrease;
  EXPECT_TRUE(ValidateKeyResult(kr).ok());
  kr.direction = Direction::kDecrease;
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.direction",
                      "is DECREASE but to (8.5) is above from (7)");
  kr.from = 72;
  kr.to = 24;
  EXPECT_TRUE(ValidateKeyResult(kr).ok());
  kr.direction = Direction::kIncrease;
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.direction",
                      "is INCREASE but to (24) is below from (72)");
  kr.direction = static_cast<Direction>(17);
  ExpectViolation(ValidateKeyResult(kr), "key_result.direction",
                  "must be INCREASE, DECREASE");
}

TEST(ValidateKeyResultTest, FromAndToMustBeFinite) {
  KeyResult kr = ValidMetric();
  kr.from = kNaN;
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.from",
                      "must be a finite number; got nan");
  kr = ValidMetric();
  kr.to = kInf;
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.to",
                      "must be a finite number; got inf");
  kr.from = -kInf;
  absl::Status s = ValidateKeyResult(kr);
  ExpectViolation(s, "key_result.from", "got -inf");
  ExpectViolation(s, "key_result.to", "got inf");
  EXPECT_THAT(FieldViolationsOf(s), SizeIs(2));
  kr = ValidMetric();
  kr.direction = Direction::kAtLeast;
  kr.to = kNaN;
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.to", "finite");
}

TEST(ValidateKeyResultTest, MetricNeedsAMeasureAndPercentStaysWithin100) {
  KeyResult kr = ValidMetric();
  kr.measure = Measure::kUnspecified;
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.measure",
                      "KPI or PERCENT_COMPLETE");
  kr = ValidMetric();
  kr.measure = Measure::kPercentComplete;
  kr.from = 0;
  kr.to = 100;
  EXPECT_TRUE(ValidateKeyResult(kr).ok());
  kr.to = 100.5;
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.to",
                      "between 0 and 100 for a PERCENT_COMPLETE key result; "
                      "got 100.5");
  kr.to = 50;
  kr.from = -1;
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.from", "got -1");
}

TEST(ValidateKeyResultTest, UnitLength) {
  KeyResult kr = ValidMetric();
  kr.unit = Repeat("\xC3\xBC", kMaxUnitLength);
  EXPECT_TRUE(ValidateKeyResult(kr).ok());
  kr.unit += "x";
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.unit",
                      "at most 32 characters; got 33");
}

TEST(ValidateKeyResultTest, MilestoneCarriesNoMetricFields) {
  KeyResult kr = ValidMilestone();
  kr.from = 1;
  kr.to = 5;
  kr.direction = Direction::kIncrease;
  kr.measure = Measure::kKpi;
  kr.unit = "deals";
  absl::Status s = ValidateKeyResult(kr);
  ExpectViolation(s, "key_result.from", "must be 0 for a MILESTONE key result");
  ExpectViolation(s, "key_result.to", "measure a value); got 5");
  ExpectViolation(s, "key_result.direction", "must be UNSPECIFIED for a MILESTONE");
  ExpectViolation(s, "key_result.measure", "got KPI");
  ExpectViolation(s, "key_result.unit", "must be empty for a MILESTONE");
  EXPECT_THAT(FieldViolationsOf(s), SizeIs(5));
}

TEST(ValidateKeyResultTest, TypeWeightDataSourceTitleAndObjective) {
  KeyResult kr = ValidMetric();
  kr.type = KeyResultType::kUnspecified;
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.type",
                      "METRIC (from a start value to a target) or MILESTONE");
  for (double w : {kNaN, kInf, -1.0}) {
    kr = ValidMetric();
    kr.weight = w;
    ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.weight",
                        "must be a finite number >= 0");
  }
  kr = ValidMetric();
  kr.weight = 0;
  EXPECT_TRUE(ValidateKeyResult(kr).ok());
  kr.data_source = DataSource::kIntegration;
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.data_source_ref",
                      "is required when data_source is INTEGRATION");
  kr.data_source_ref = "salesforce:report/00O5e000008Nps";
  EXPECT_TRUE(ValidateKeyResult(kr).ok());
  kr.data_source_ref = Repeat("r", kMaxDataSourceRefLength + 1);
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.data_source_ref",
                      "at most 512");
  kr = ValidMetric();
  kr.objective_id = "";
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.objective_id",
                      "is required");
  kr = ValidMetric();
  kr.title = Repeat("t", kMaxTitleLength + 1);
  ExpectOnlyViolation(ValidateKeyResult(kr), "key_result.title", "got 201");
}

// --- Check-in ---------------------------------------------------------------

CheckIn MetricCheckIn() {
  CheckIn c;
  c.key_result_id = "jane-kr2";
  c.value = 7.6;
  c.confidence = 7;
  c.note = "Two detractor accounts recovered.\nQBRs booked.";
  c.author_id = "jane";
  return c;
}

TEST(ValidateCheckInTest, Metric) {
  const KeyResult kr = ValidMetric();
  EXPECT_TRUE(ValidateCheckIn(MetricCheckIn(), kr).ok());
  CheckIn c = MetricCheckIn();
  c.value.reset();
  ExpectOnlyViolation(ValidateCheckIn(c, kr), "check_in.value",
                      "is required for a METRIC key result");
  for (double v : {kNaN, kInf}) {
    c.value = v;
    ExpectOnlyViolation(ValidateCheckIn(c, kr), "check_in.value",
                        "must be a finite number");
  }
  c = MetricCheckIn();
  c.done = true;
  ExpectOnlyViolation(ValidateCheckIn(c, kr), "check_in.done",
                      "must not be set for a METRIC key result");
  KeyResult percent = ValidMetric();
  percent.measure = Measure::kPercentComplete;
  percent.from = 0;
  percent.to = 100;
  c = MetricCheckIn();
  c.value = 100;
  EXPECT_TRUE(ValidateCheckIn(c, percent).ok());
  c.value = 101;
  ExpectOnlyViolation(ValidateCheckIn(c, percent), "check_in.value",
                      "between 0 and 100");
}

TEST(ValidateCheckInTest, Milestone) {
  const KeyResult kr = ValidMilestone();
  CheckIn c;
  c.key_result_id = kr.id;
  c.author_id = "store-ops-lead";
  c.done = false;
  EXPECT_TRUE(ValidateCheckIn(c, kr).ok());
  c.done.reset();
  ExpectOnlyViolation(ValidateCheckIn(c, kr), "check_in.done",
                      "is required for a MILESTONE key result");
  c.done = true;
  c.value = 1;
  ExpectOnlyViolation(ValidateCheckIn(c, kr), "check_in.value",
                      "must not be set for a MILESTONE key result");
}

TEST(ValidateCheckInTest, ConfidenceNoteAuthorAndKeyResult) {
  const KeyResult kr = ValidMetric();
  CheckIn c = MetricCheckIn();
  for (int ok : {0, 10}) {
    c.confidence = ok;
    EXPECT_TRUE(ValidateCheckIn(c, kr).ok()) << ok;
  }
  c.confidence.reset();
  EXPECT_TRUE(ValidateCheckIn(c, kr).ok());
  for (int bad : {-1, 11}) {
    c.confidence = bad;
    ExpectOnlyViolation(ValidateCheckIn(c, kr), "check_in.confidence",
                        absl::StrCat("between 0 and 10; got ", bad));
  }
  c = MetricCheckIn();
  c.note = Repeat("\xE2\x9C\x93", kMaxNoteLength);
  EXPECT_TRUE(ValidateCheckIn(c, kr).ok());
  c.note += "\n";
  ExpectOnlyViolation(ValidateCheckIn(c, kr), "check_in.note",
                      "at most 2000 characters; got 2001");
  c = MetricCheckIn();
  c.author_id = "";
  ExpectOnlyViolation(ValidateCheckIn(c, kr), "check_in.author_id",
                      "is required");
  c = MetricCheckIn();
  c.key_result_id = "someone-elses-kr";
  ExpectOnlyViolation(ValidateCheckIn(c, kr), "check_in.key_result_id",
                      "'jane-kr2'");
  KeyResult untyped = ValidMetric();
  untyped.type = KeyResultType::kUnspecified;
  ExpectOnlyViolation(ValidateCheckIn(MetricCheckIn(), untyped),
                      "check_in.key_result_id", "without a type");
}

// --- Alignment rules --------------------------------------------------------

// The customer-success cascade in a calendar fiscal year: the company's
// annual objective, Jane's quarterly objective, Nick's quarterly objective.
class AlignmentTest : public ::testing::Test {
 protected:
  AlignmentTest() {
    cycles_ = {
        MakeCycle("FY2027", CycleKind::kAnnual, absl::CivilDay(2027, 1, 1),
                  absl::CivilDay(2028, 1, 1)),
        MakeCycle("FY2027-Q1", CycleKind::kQuarterly, absl::CivilDay(2027, 1, 1),
                  absl::CivilDay(2027, 4, 1)),
        MakeCycle("FY2027-Q2", CycleKind::kQuarterly, absl::CivilDay(2027, 4, 1),
                  absl::CivilDay(2027, 7, 1)),
        MakeCycle("FY2027-M01", CycleKind::kMonthly, absl::CivilDay(2027, 1, 1),
                  absl::CivilDay(2027, 2, 1)),
        MakeCycle("FY2028", CycleKind::kAnnual, absl::CivilDay(2028, 1, 1),
                  absl::CivilDay(2029, 1, 1)),
    };
    objectives_ = {
        Obj("company", "Earn customer love and trust", "FY2027"),
        Obj("jane", "Increase customer retention rate to 99%", "FY2027-Q1"),
        Obj("nick", "Implement customer improvement plan for 100% of all "
                    "at-risk customers",
            "FY2027-Q1"),
        Obj("sales-2028", "Significantly improve the performance level of the "
                          "sales department",
            "FY2028"),
    };
    key_results_ = {KR("company-kr1", "company"), KR("jane-kr1", "jane")};
  }

  static Objective Obj(Id id, std::string title, Id cycle) {
    Objective o;
    o.id = std::move(id);
    o.title = std::move(title);
    o.cycle_id = std::move(cycle);
    return o;
  }
  static KeyResult KR(Id id, Id objective) {
    KeyResult kr;
    kr.id = std::move(id);
    kr.objective_id = std::move(objective);
    return kr;
  }
  static Objective AlignedTo(Objective o, Id parent) {
    o.alignment.kind = AlignmentKind::kObjective;
    o.alignment.parent_objective_id = std::move(parent);
    return o;
  }
  static Objective CascadedFrom(Objective o, Id kr) {
    o.alignment.kind = AlignmentKind::kKeyResult;
    o.alignment.parent_key_result_id = std::move(kr);
    return o;
  }
  Objective& Find(absl::string_view id) {
    for (Objective& o : objectives_) {
      if (o.id == id) return o;
    }
    ADD_FAILURE() << "no objective " << id;
    return objectives_.front();
  }
  // Both overloads, which must agree to the byte (planning uses the lookup
  // one, the CSV import the vector one).
  absl::Status Validate(const Objective& child) {
    absl::Status by_vectors =
        ValidateAlignment(child, objectives_, key_results_, cycles_);
    const CountingLookup lookup(objectives_, key_results_, cycles_);
    absl::Status by_lookup = ValidateAlignment(child, lookup);
    EXPECT_EQ(by_lookup, by_vectors) << "child " << child.id;
    EXPECT_EQ(FieldViolationsOf(by_lookup), FieldViolationsOf(by_vectors));
    return by_vectors;
  }

  // An AlignmentLookup over the fixture's vectors that counts its calls.
  class CountingLookup final : public AlignmentLookup {
   public:
    CountingLookup(absl::Span<const Objective> objectives,
                   absl::Span<const KeyResult> key_results,
                   absl::Span<const Cycle> cycles) {
      for (const Objective& o : objectives) objectives_.try_emplace(o.id, &o);
      for (const KeyResult& kr : key_results) key_results_.try_emplace(kr.id, &kr);
      for (const Cycle& c : cycles) cycles_.try_emplace(c.id, &c);
    }
    const Objective* FindObjective(absl::string_view id) const override {
      ++calls;
      auto it = objectives_.find(std::string(id));
      return it == objectives_.end() ? nullptr : it->second;
    }
    const KeyResult* FindKeyResult(absl::string_view id) const override {
      ++calls;
      auto it = key_results_.find(std::string(id));
      return it == key_results_.end() ? nullptr : it->second;
    }
    const Cycle* FindCycle(absl::string_view id) const override {
      ++calls;
      auto it = cycles_.find(std::string(id));
      return it == cycles_.end() ? nullptr : it->second;
    }
    mutable int calls = 0;

   private:
    std::map<std::string, const Objective*> objectives_;
    std::map<std::string, const KeyResult*> key_results_;
    std::map<std::string, const Cycle*> cycles_;
  };

  std::vector<Cycle> cycles_;
  std::vector<Objective> objectives_;
  std::vector<KeyResult> key_results_;
};

TEST_F(AlignmentTest, DualityAndClassicCascadesPass) {
  // Jane inherits the company KR "Increase customer retention rate to 99%".
  Find("jane") = CascadedFrom(Find("jane"), "company-kr1");
  EXPECT_TRUE(Validate(Find("jane")).ok());
  // Nick's objective is Jane's KR (Duality) ...
  EXPECT_TRUE(Validate(CascadedFrom(Find("nick"), "jane-kr1")).ok());
  // ... or his own objective aligned to Jane's (Classic).
  EXPECT_TRUE(Validate(AlignedTo(Find("nick"), "jane")).ok());
  // Naming the KR's objective too is fine.
  Objective nick = CascadedFrom(Find("nick"), "jane-kr1");
  nick.alignment.parent_objective_id = "jane";
  EXPECT_TRUE(Validate(nick).ok());
  // A new objective without an id yet.
  Objective fresh = AlignedTo(Obj("", "Raise CSAT above 4.5", "FY2027-M01"), "nick");
  EXPECT_TRUE(Validate(fresh).ok());
  // No links at all: nothing to check.
  EXPECT_TRUE(Validate(Obj("x", "Unlinked", "nowhere")).ok());
}

TEST_F(AlignmentTest, MissingParentsAreNotFound) {
  ExpectOnlyViolation(Validate(AlignedTo(Find("nick"), "ghost")),
                      "objective.alignment.parent_objective_id",
                      "no objective 'ghost'", absl::StatusCode::kNotFound);
  ExpectOnlyViolation(Validate(CascadedFrom(Find("nick"), "ghost-kr")),
                      "objective.alignment.parent_key_result_id",
                      "no key result 'ghost-kr'", absl::StatusCode::kNotFound);
  key_results_.push_back(KR("orphan-kr", "deleted-objective"));
  ExpectOnlyViolation(Validate(CascadedFrom(Find("nick"), "orphan-kr")),
                      "objective.alignment.parent_key_result_id",
                      "belongs to objective 'deleted-objective', which does not "
                      "exist",
                      absl::StatusCode::kNotFound);
  Objective nick = Find("nick");
  nick.breakdown_of_objective_id = "ghost";
  ExpectOnlyViolation(Validate(nick), "objective.breakdown_of_objective_id",
                      "no objective 'ghost'", absl::StatusCode::kNotFound);
  Objective lost = AlignedTo(Find("nick"), "jane");
  lost.cycle_id = "FY1999";
  ExpectOnlyViolation(Validate(lost), "objective.cycle_id", "no cycle 'FY1999'",
                      absl::StatusCode::kNotFound);
}

TEST_F(AlignmentTest, SelfAlignmentIsALoopOfLengthOne) {
  ExpectOnlyViolation(Validate(AlignedTo(Find("jane"), "jane")),
                      "objective.alignment.parent_objective_id",
                      "cannot align to itself");
  Objective jane = Find("jane");
  jane.breakdown_of_objective_id = "jane";
  ExpectOnlyViolation(Validate(jane), "objective.breakdown_of_objective_id",
                      "cannot be a breakdown of itself");
  // Via one of its own key results: a malformed link, like aligning to itself.
  ExpectOnlyViolation(Validate(CascadedFrom(Find("jane"), "jane-kr1")),
                      "objective.alignment.parent_key_result_id",
                      "cannot align to its own key result");
}

TEST_F(AlignmentTest, ParentObjectiveMustBeTheKeyResultsObjective) {
  Objective nick = CascadedFrom(Find("nick"), "jane-kr1");
  nick.alignment.parent_objective_id = "company";
  ExpectOnlyViolation(Validate(nick), "objective.alignment.parent_objective_id",
                      "key result 'jane-kr1' belongs to objective 'jane'");
}

TEST_F(AlignmentTest, LoopOfLengthTwo) {
  Find("nick") = AlignedTo(Find("nick"), "jane");
  absl::Status s = Validate(AlignedTo(Find("jane"), "nick"));
  ExpectOnlyViolation(s, "objective.alignment.parent_objective_id",
                      "aligning 'jane' to 'nick' would close the loop 'jane' "
                      "-> 'nick' -> 'jane'",
                      absl::StatusCode::kFailedPrecondition);
  // The same loop through key results (Duality both ways).
  Find("nick") = CascadedFrom(Find("nick"), "jane-kr1");
  key_results_.push_back(KR("nick-kr1", "nick"));
  ExpectOnlyViolation(Validate(CascadedFrom(Find("jane"), "nick-kr1")),
                      "objective.alignment.parent_key_result_id",
                      "'jane' -> 'nick' -> 'jane'",
                      absl::StatusCode::kFailedPrecondition);
}

TEST_F(AlignmentTest, TimeRuleChildCycleNotLongerThanParents) {
  // Quarterly -> annual, quarterly -> quarterly, monthly -> annual: fine.
  EXPECT_TRUE(Validate(AlignedTo(Find("jane"), "company")).ok());
  EXPECT_TRUE(Validate(AlignedTo(Find("nick"), "jane")).ok());
  EXPECT_TRUE(Validate(AlignedTo(Obj("m", "Monthly", "FY2027-M01"), "company")).ok());
  // Annual -> quarterly: never.
  ExpectOnlyViolation(Validate(AlignedTo(Find("company"), "jane")),
                      "objective.alignment.parent_objective_id",
                      "never the reverse");
  ExpectOnlyViolation(Validate(CascadedFrom(Find("company"), "jane-kr1")),
                      "objective.alignment.parent_key_result_id",
                      "is in QUARTERLY cycle 'FY2027-Q1', shorter than this "
                      "objective's ANNUAL cycle 'FY2027'");
}

TEST_F(AlignmentTest, BreakdownPointsToALongerContainingCycle) {
  // The sales department: an annual objective broken into Q1 priorities.
  objectives_.push_back(Obj("sales-2027", "Significantly improve the "
                                          "performance level of the sales "
                                          "department",
                            "FY2027"));
  Objective q1 = Obj("sales-q1", "Improve the business ability of the sales "
                                 "team",
                     "FY2027-Q1");
  q1.breakdown_of_objective_id = "sales-2027";
  q1.priority = 1;
  EXPECT_TRUE(Validate(q1).ok());
  Objective m1 = Obj("sales-m1", "Train existing sales staff", "FY2027-M01");
  m1.breakdown_of_objective_id = "sales-q1";
  objectives_.push_back(q1);
  EXPECT_TRUE(Validate(m1).ok());

  // Next year's annual objective does not contain Q1 2027.
  q1.breakdown_of_objective_id = "sales-2028";
  ExpectOnlyViolation(Validate(q1), "objective.breakdown_of_objective_id",
                      "objective 'sales-2028' is in cycle 'FY2028' (ANNUAL, "
                      "2028-01-01 to 2029-01-01), which must be longer than "
                      "and contain this objective's cycle 'FY2027-Q1'");
  // Another quarter is not longer.
  q1.breakdown_of_objective_id = "jane";
  ExpectOnlyViolation(Validate(q1), "objective.breakdown_of_objective_id",
                      "must be longer than and contain");
  // Nor is the same year's annual objective from an annual one.
  Objective annual = Obj("a2", "Annual", "FY2027");
  annual.breakdown_of_objective_id = "sales-2027";
  ExpectOnlyViolation(Validate(annual), "objective.breakdown_of_objective_id",
                      "must be longer than and contain");
}

TEST_F(AlignmentTest, ExistingLoopElsewhereDoesNotHang) {
  objectives_.push_back(AlignedTo(Obj("x", "X", "FY2027-Q1"), "y"));
  objectives_.push_back(AlignedTo(Obj("y", "Y", "FY2027-Q1"), "x"));
  EXPECT_TRUE(Validate(AlignedTo(Find("nick"), "x")).ok());
  ExpectOnlyViolation(ValidateAlignmentForest(objectives_, key_results_),
                      "objective.alignment", "'x' -> 'y' -> 'x'",
                      absl::StatusCode::kFailedPrecondition);
}

// With lookups, a check costs what the link touches (its parent chain), not
// the organisation: 10,000 unrelated objectives add no lookups.
TEST_F(AlignmentTest, LookupVersionTouchesOnlyTheParentChain) {
  const Objective nick = CascadedFrom(Find("nick"), "jane-kr1");
  int small = 0;
  {
    const CountingLookup lookup(objectives_, key_results_, cycles_);
    EXPECT_TRUE(ValidateAlignment(nick, lookup).ok());
    small = lookup.calls;
  }
  EXPECT_GT(small, 0);
  for (int i = 0; i < 10000; ++i) {
    objectives_.push_back(
        AlignedTo(Obj(absl::StrCat("w", i), "Wide", "FY2027-Q1"), "company"));
  }
  const CountingLookup lookup(objectives_, key_results_, cycles_);
  EXPECT_TRUE(ValidateAlignment(nick, lookup).ok());
  EXPECT_EQ(lookup.calls, small);
  // A loop check walks the chain above the parent, whatever the width.
  Objective looped = AlignedTo(Find("jane"), "nick");
  Find("nick") = AlignedTo(Find("nick"), "jane");
  const CountingLookup after(objectives_, key_results_, cycles_);
  EXPECT_EQ(ValidateAlignment(looped, after).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_LT(after.calls, 20);
}

// A 10,000-deep chain c0 <- c1 <- ... <- c9999 in one quarter.
class DeepChainTest : public AlignmentTest {
 protected:
  static constexpr int kDepth = 10000;
  DeepChainTest() {
    for (int i = 0; i < kDepth; ++i) {
      Objective o = Obj(absl::StrCat("c", i), absl::StrCat("Chain ", i), "FY2027-Q1");
      if (i > 0) o = AlignedTo(std::move(o), absl::StrCat("c", i - 1));
      objectives_.push_back(std::move(o));
    }
  }
};

TEST_F(DeepChainTest, ExtendingTheChainIsFine) {
  EXPECT_TRUE(Validate(AlignedTo(Obj("leaf", "Leaf", "FY2027-Q1"),
                                 absl::StrCat("c", kDepth - 1)))
                  .ok());
  EXPECT_TRUE(ValidateAlignmentForest(objectives_, key_results_).ok());
  EXPECT_THAT(FindAlignmentLoop(objectives_, key_results_), IsEmpty());
}

TEST_F(DeepChainTest, ClosingTheChainIsALoopOf10000) {
  const std::string last = absl::StrCat("c", kDepth - 1);
  absl::Status s = Validate(AlignedTo(Find("c0"), last));
  ExpectOnlyViolation(
      s, "objective.alignment.parent_objective_id",
      absl::StrCat("would close the loop 'c0' -> '", last, "' -> '",
                   "c", kDepth - 2, "'"),
      absl::StatusCode::kFailedPrecondition);
  // The message stays short: head, a count, tail.
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrCat("(", kDepth - 8, " more)")));
  EXPECT_LT(s.message().size(), 1000u);

  Find("c0") = AlignedTo(Find("c0"), last);
  std::vector<Id> loop = FindAlignmentLoop(objectives_, key_results_);
  ASSERT_THAT(loop, SizeIs(kDepth));
  EXPECT_EQ(loop.front(), "c0");
  EXPECT_EQ(loop[1], last);  // child -> parent order
  EXPECT_EQ(loop.back(), "c1");
  EXPECT_EQ(ValidateAlignmentForest(objectives_, key_results_).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(FindAlignmentLoopTest, ForestHasNoLoop) {
  std::vector<Objective> objectives(3);
  objectives[0].id = "company";
  objectives[1].id = "jane";
  objectives[1].alignment.kind = AlignmentKind::kKeyResult;
  objectives[1].alignment.parent_key_result_id = "company-kr1";
  objectives[2].id = "nick";
  objectives[2].alignment.kind = AlignmentKind::kObjective;
  objectives[2].alignment.parent_objective_id = "dangling";  // ends the chain
  KeyResult kr;
  kr.id = "company-kr1";
  kr.objective_id = "company";
  EXPECT_THAT(FindAlignmentLoop(objectives, {kr}), IsEmpty());
  EXPECT_TRUE(ValidateAlignmentForest(objectives, {kr}).ok());
}

TEST(FindAlignmentLoopTest, FindsLoopsOfLengthOneAndThree) {
  std::vector<Objective> objectives(4);
  for (int i = 0; i < 4; ++i) {
    objectives[i].id = std::string(1, static_cast<char>('w' + i));  // w x y z
    objectives[i].alignment.kind = AlignmentKind::kObjective;
  }
  objectives[0].alignment = Alignment{};  // w is a root
  // x -> y -> z -> x, listed from x.
  objectives[1].alignment.parent_objective_id = "y";
  objectives[2].alignment.parent_objective_id = "z";
  objectives[3].alignment.parent_objective_id = "x";
  EXPECT_THAT(FindAlignmentLoop(objectives, {}), ElementsAre("x", "y", "z"));
  // Listed so that the walk enters the loop at z: it still starts at the
  // earliest listed member.
  std::swap(objectives[1], objectives[3]);  // w z y x
  EXPECT_THAT(FindAlignmentLoop(objectives, {}), ElementsAre("z", "x", "y"));

  std::vector<Objective> self(1);
  self[0].id = "solo";
  self[0].alignment.kind = AlignmentKind::kObjective;
  self[0].alignment.parent_objective_id = "solo";
  EXPECT_THAT(FindAlignmentLoop(self, {}), ElementsAre("solo"));
  ExpectOnlyViolation(ValidateAlignmentForest(self, {}), "objective.alignment",
                      "'solo' -> 'solo'", absl::StatusCode::kFailedPrecondition);
}

TEST(FindAlignmentLoopTest, LoopThroughAKeyResult) {
  std::vector<Objective> objectives(2);
  objectives[0].id = "jane";
  objectives[0].alignment.kind = AlignmentKind::kKeyResult;
  objectives[0].alignment.parent_key_result_id = "nick-kr1";
  objectives[1].id = "nick";
  objectives[1].alignment.kind = AlignmentKind::kKeyResult;
  objectives[1].alignment.parent_key_result_id = "jane-kr1";
  std::vector<KeyResult> krs(2);
  krs[0].id = "jane-kr1";
  krs[0].objective_id = "jane";
  krs[1].id = "nick-kr1";
  krs[1].objective_id = "nick";
  EXPECT_THAT(FindAlignmentLoop(objectives, krs), ElementsAre("jane", "nick"));
  EXPECT_THAT(FindAlignmentLoop(objectives, {}), IsEmpty())
      << "without the key results the links dangle";
}

}  // namespace
}  // namespace okr
