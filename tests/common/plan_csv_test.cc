#include "common/plan_csv.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

std::string ExamplesDir() {
  absl::StatusOr<std::string> dir = OkrSourceFile("examples");
  EXPECT_TRUE(dir.ok()) << dir.status();
  return dir.value_or("examples");
}

std::string Num(double v) { return absl::StrFormat("%.17g", v); }

template <typename T>
std::string Opt(const std::optional<T>& v) {
  if (!v.has_value()) return "-";
  if constexpr (std::is_same_v<T, double>) {
    return Num(*v);
  } else {
    return absl::StrCat(*v);
  }
}

// Every field the format carries, so that EXPECT_EQ on these strings both
// compares and shows the difference.
std::string Describe(const Objective& o) {
  return absl::StrCat(
      "id=", o.id, "|title=", o.title, "|desc=", o.description,
      "|level=", Name(o.level), "|owner=", o.owner_id, "|team=", o.team_id,
      "|cycle=", o.cycle_id, "|kind=", Name(o.kind), "|cat=", Name(o.category),
      "|prio=", o.priority, "|state=", Name(o.state),
      "|src=", Name(o.progress_source), "|align=", Name(o.alignment.kind), ":",
      o.alignment.parent_objective_id, ":", o.alignment.parent_key_result_id,
      ":", Num(o.alignment.weight), "|breakdown=", o.breakdown_of_objective_id);
}

std::string Describe(const KeyResult& k) {
  return absl::StrCat("id=", k.id, "|obj=", k.objective_id, "|title=", k.title,
                      "|owner=", k.owner_id, "|type=", Name(k.type),
                      "|measure=", Name(k.measure), "|from=", Num(k.from),
                      "|to=", Num(k.to), "|unit=", k.unit,
                      "|dir=", Name(k.direction), "|w=", Num(k.weight),
                      "|ds=", Name(k.data_source), ":", k.data_source_ref,
                      "|children=", k.progress_from_children);
}

std::string Describe(const CheckIn& c) {
  return absl::StrCat("kr=", c.key_result_id, "|value=", Opt(c.value),
                      "|done=", Opt(c.done), "|conf=", Opt(c.confidence));
}

std::string Describe(const Cycle& c) {
  return absl::StrCat(c.id, "/", c.name, "/", Name(c.kind), "/",
                      c.parent_cycle_id);
}
std::string Describe(const Person& p) {
  return absl::StrCat(p.id, "/", p.display_name);
}
std::string Describe(const Team& t) { return absl::StrCat(t.id, "/", t.name); }

template <typename T>
std::vector<std::string> DescribeAll(const std::vector<T>& v) {
  std::vector<std::string> out;
  for (const T& x : v) out.push_back(Describe(x));
  return out;
}

void ExpectSame(const PlanCsv& a, const PlanCsv& b) {
  EXPECT_EQ(DescribeAll(a.plan.objectives), DescribeAll(b.plan.objectives));
  EXPECT_EQ(DescribeAll(a.plan.key_results), DescribeAll(b.plan.key_results));
  EXPECT_EQ(DescribeAll(a.check_ins), DescribeAll(b.check_ins));
  EXPECT_EQ(DescribeAll(a.plan.cycles), DescribeAll(b.plan.cycles));
  EXPECT_EQ(DescribeAll(a.plan.people), DescribeAll(b.plan.people));
  EXPECT_EQ(DescribeAll(a.plan.teams), DescribeAll(b.plan.teams));
}

const Objective* FindObjective(const PlanCsv& p, absl::string_view id) {
  for (const Objective& o : p.plan.objectives) {
    if (o.id == id) return &o;
  }
  return nullptr;
}
const KeyResult* FindKr(const PlanCsv& p, absl::string_view id) {
  for (const KeyResult& k : p.plan.key_results) {
    if (k.id == id) return &k;
  }
  return nullptr;
}
const CheckIn* FindCheckIn(const PlanCsv& p, absl::string_view kr_id) {
  for (const CheckIn& c : p.check_ins) {
    if (c.key_result_id == kr_id) return &c;
  }
  return nullptr;
}
std::vector<std::string> KrTitlesOf(const PlanCsv& p, absl::string_view obj) {
  std::vector<std::string> out;
  for (const KeyResult& k : p.plan.key_results) {
    if (k.objective_id == obj) out.push_back(k.title);
  }
  return out;
}

PlanCsv MustParse(absl::string_view text) {
  std::vector<PlanCsvError> errors;
  absl::StatusOr<PlanCsv> p = ParsePlanCsv(text, &errors);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : PlanCsv();
}

std::vector<PlanCsvError> MustFail(
    absl::string_view text, const PlanCsvOptions& limits = PlanCsvOptions()) {
  std::vector<PlanCsvError> errors;
  absl::StatusOr<PlanCsv> p = ParsePlanCsv(text, &errors, limits);
  EXPECT_FALSE(p.ok());
  if (!p.ok()) {
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    // The message lists every structured error.
    for (const PlanCsvError& e : errors) {
      EXPECT_THAT(std::string(p.status().message()), HasSubstr(e.ToString()));
    }
  }
  return errors;
}

std::vector<std::string> ErrorStrings(const std::vector<PlanCsvError>& errors) {
  std::vector<std::string> out;
  for (const PlanCsvError& e : errors) out.push_back(e.ToString());
  return out;
}

// A small header covering objective and KR columns, used by most cases.
constexpr absl::string_view kHeader =
    "cycle,objective_ref,objective_title,kind,aligned_to,aligned_to_kr,"
    "alignment_weight,breakdown_of,kr_ref,kr_title,kr_type,from,to,direction,"
    "current_value,done,confidence\n";
// Row 2: a valid objective with one metric KR.
constexpr absl::string_view kGoodRow =
    "FY2027,O1,Grow,COMMITTED,,,,,K1,Sell more,METRIC,0,10,,5,,7\n";

// ---------------------------------------------------------------------------
// The example plans
// ---------------------------------------------------------------------------

PlanCsv ParseExample(const std::string& name) {
  const std::string text = ReadFileToString(ExamplesDir() + "/" + name);
  EXPECT_FALSE(text.empty()) << "missing example " << name;
  return MustParse(text);
}

TEST(PlanCsvExamples, EveryExampleParsesAndRoundTrips) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ExamplesDir())) {
    if (entry.path().extension() != ".csv") continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    const std::string text = ReadFileToString(entry.path().string());
    PlanCsv first = MustParse(text);
    EXPECT_FALSE(first.plan.objectives.empty());
    absl::StatusOr<std::string> written =
        WritePlanCsv(first.plan, first.check_ins);
    ASSERT_TRUE(written.ok()) << written.status();
    ExpectSame(first, MustParse(*written));
  }
  EXPECT_GE(files, 4);
}

// The examples were written by an independent CSV writer (minimal quoting,
// CRLF) in the canonical column order, so ours must reproduce them exactly.
TEST(PlanCsvExamples, WriterReproducesTheExampleFilesByteForByte) {
  for (const char* name :
       {"retail-annual.csv", "customer-success-duality.csv",
        "customer-success-classic.csv", "sales-annual-quarterly.csv"}) {
    SCOPED_TRACE(name);
    const std::string text = ReadFileToString(ExamplesDir() + "/" + name);
    PlanCsv p = MustParse(text);
    absl::StatusOr<std::string> written = WritePlanCsv(p.plan, p.check_ins);
    ASSERT_TRUE(written.ok()) << written.status();
    EXPECT_EQ(*written, text);
  }
}

TEST(PlanCsvExamples, RetailAnnual) {
  PlanCsv p = ParseExample("retail-annual.csv");
  ASSERT_THAT(p.plan.objectives, SizeIs(8));
  EXPECT_THAT(p.plan.key_results, SizeIs(24));
  EXPECT_THAT(DescribeAll(p.plan.cycles), ElementsAre("FY2027/FY2027/ANNUAL/"));

  // The in-store sales function's three objectives, as in the guide.
  EXPECT_EQ(p.plan.objectives[0].title,
            "Drive sales contribution of new customers from 10% to 20%");
  EXPECT_EQ(p.plan.objectives[1].title,
            "Reduce churn of existing customers from 40% to 20%");
  EXPECT_EQ(
      p.plan.objectives[2].title,
      "Increase the average bill value (ABV) per customer from $100 to $150");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(p.plan.objectives[i].owner_id, "Maya Chen");
    EXPECT_EQ(p.plan.objectives[i].team_id, "In-Store Sales");
    EXPECT_EQ(p.plan.objectives[i].level, Level::kCompany);
    EXPECT_EQ(p.plan.objectives[i].state, ObjectiveState::kPublished);
  }
  EXPECT_THAT(
      KrTitlesOf(p, "RET-2"),
      ElementsAre(
          "5 out of 10 customers to avail loyalty points during purchase",
          "Train 1000 in-store sales staff to deliver best in-store experience",
          "Reduce average out-of-stock days in key categories (E.g.: "
          "Grocery) from 5 days to 1 day"));
  // A description with a comma and one with a line break survive quoting.
  EXPECT_THAT(p.plan.objectives[0].description,
              HasSubstr("customers, measured"));
  EXPECT_EQ(p.plan.objectives[2].description,
            "ABV = in-store revenue / number of bills.\nMeasured across all "
            "stores, excluding online orders.");

  const KeyResult* anchor = FindKr(p, "RET-1-KR2");
  ASSERT_NE(anchor, nullptr);
  EXPECT_EQ(anchor->from, 100);
  EXPECT_EQ(anchor->to, 110);
  EXPECT_EQ(anchor->unit, "anchor stores");
  EXPECT_EQ(anchor->data_source, DataSource::kSpreadsheet);
  const KeyResult* stockout = FindKr(p, "RET-2-KR3");
  ASSERT_NE(stockout, nullptr);
  EXPECT_EQ(stockout->direction, Direction::kDecrease);
  EXPECT_EQ(stockout->weight, 2);
  EXPECT_EQ(stockout->data_source, DataSource::kIntegration);
  EXPECT_EQ(stockout->data_source_ref, "erp.stockout_days.grocery");
  const KeyResult* delivery = FindKr(p, "RET-P5-KR1");
  ASSERT_NE(delivery, nullptr);
  EXPECT_EQ(delivery->measure, Measure::kPercentComplete);
  EXPECT_EQ(FindKr(p, "RET-P5-KR2")->direction, Direction::kAtMost);

  // One objective (at least) for each of the 5 Ps.
  std::vector<Category> seen;
  for (const Objective& o : p.plan.objectives) seen.push_back(o.category);
  for (Category c : {Category::kProfit, Category::kProduct, Category::kPeople,
                     Category::kPromotion, Category::kProgress}) {
    EXPECT_NE(std::find(seen.begin(), seen.end(), c), seen.end()) << Name(c);
  }

  // Current values became check-ins, decimals exact.
  ASSERT_NE(FindCheckIn(p, "RET-P1-KR2"), nullptr);
  EXPECT_EQ(FindCheckIn(p, "RET-P1-KR2")->value, 13250000.5);
  EXPECT_EQ(FindCheckIn(p, "RET-2-KR3")->value, 3.5);
  EXPECT_EQ(FindCheckIn(p, "RET-1-KR1")->confidence, 7);
  ASSERT_NE(FindCheckIn(p, "RET-P5-KR3"), nullptr);
  EXPECT_EQ(FindCheckIn(p, "RET-P5-KR3")->done, true);
  EXPECT_FALSE(FindCheckIn(p, "RET-P5-KR3")->value.has_value());
  EXPECT_EQ(FindCheckIn(p, "RET-P2-KR2"), nullptr);  // no current value given
  EXPECT_EQ(p.key_result_rows.at("RET-1-KR1"), 2);
  EXPECT_EQ(p.objective_rows.at("RET-2"), 5);
}

TEST(PlanCsvExamples, CustomerSuccessDuality) {
  PlanCsv p = ParseExample("customer-success-duality.csv");
  ASSERT_THAT(p.plan.objectives, SizeIs(3));
  const Objective* company = FindObjective(p, "CO-1");
  const Objective* jane = FindObjective(p, "JANE-1");
  const Objective* nick = FindObjective(p, "NICK-1");
  ASSERT_TRUE(company && jane && nick);
  EXPECT_EQ(company->title, "Earn customer love and trust");
  EXPECT_EQ(company->alignment.kind, AlignmentKind::kNone);
  EXPECT_THAT(KrTitlesOf(p, "CO-1"),
              ElementsAre("Increase customer retention rate to 99%"));
  EXPECT_TRUE(FindKr(p, "CO-1-KR1")->progress_from_children);

  // Jane inherits the company KR as her objective...
  EXPECT_EQ(jane->title, "Increase customer retention rate to 99%");
  EXPECT_EQ(jane->owner_id, "Jane");
  EXPECT_EQ(jane->level, Level::kTeam);
  EXPECT_EQ(jane->cycle_id, "FY2027-Q1");
  EXPECT_EQ(jane->alignment.kind, AlignmentKind::kKeyResult);
  EXPECT_EQ(jane->alignment.parent_objective_id, "CO-1");
  EXPECT_EQ(jane->alignment.parent_key_result_id, "CO-1-KR1");
  EXPECT_THAT(
      KrTitlesOf(p, "JANE-1"),
      ElementsAre(
          "Implement customer improvement plan for 100% of at-risk customers",
          "Increase NPS score from 7 to 8.5",
          "Increase customer engagement from 1x a month to 2x a month"));
  // ...and Nick inherits Jane's first KR.
  EXPECT_EQ(
      nick->title,
      "Implement customer improvement plan for 100% of all at-risk customers");
  EXPECT_EQ(nick->owner_id, "Nick");
  EXPECT_EQ(nick->alignment.kind, AlignmentKind::kKeyResult);
  EXPECT_EQ(nick->alignment.parent_objective_id, "JANE-1");
  EXPECT_EQ(nick->alignment.parent_key_result_id, "JANE-1-KR1");
  EXPECT_THAT(
      KrTitlesOf(p, "NICK-1"),
      ElementsAre("Reduce customer response time from 72 hours to <24 hours",
                  "Increase total amount of completed QBRs from 88% to 100%",
                  "Develop an action plan with 3 improvements and implement "
                  "this quarter"));
  const KeyResult* nps = FindKr(p, "JANE-1-KR2");
  EXPECT_EQ(nps->from, 7);
  EXPECT_EQ(nps->to, 8.5);
  EXPECT_EQ(FindCheckIn(p, "NICK-1-KR1")->value, 40);
  EXPECT_THAT(DescribeAll(p.plan.cycles),
              ElementsAre("FY2027/FY2027/ANNUAL/",
                          "FY2027-Q1/FY2027-Q1/QUARTERLY/FY2027"));
  EXPECT_THAT(DescribeAll(p.plan.people),
              ElementsAre("Alex Rivera/Alex Rivera", "Jane/Jane", "Nick/Nick"));
  EXPECT_THAT(DescribeAll(p.plan.teams),
              ElementsAre("Leadership/Leadership",
                          "Customer Success/Customer Success"));
}

TEST(PlanCsvExamples, CustomerSuccessClassic) {
  PlanCsv p = ParseExample("customer-success-classic.csv");
  ASSERT_THAT(p.plan.objectives, SizeIs(3));
  const Objective* company = FindObjective(p, "CO-1");
  const Objective* jane = FindObjective(p, "JANE-1");
  const Objective* nick = FindObjective(p, "NICK-1");
  ASSERT_TRUE(company && jane && nick);
  EXPECT_EQ(company->progress_source, ProgressSource::kBoth);
  const KeyResult* nps = FindKr(p, "CO-1-KR1");
  EXPECT_EQ(nps->title, "Maintain an NPS score greater than 8");
  EXPECT_EQ(nps->direction, Direction::kAtLeast);
  EXPECT_EQ(nps->to, 8);

  EXPECT_EQ(jane->title, "Increase customer satisfaction");
  EXPECT_EQ(jane->alignment.kind, AlignmentKind::kObjective);
  EXPECT_EQ(jane->alignment.parent_objective_id, "CO-1");
  EXPECT_THAT(
      KrTitlesOf(p, "JANE-1"),
      ElementsAre("Identify top 3 drivers causing friction and implement "
                  "corrective action",
                  "Reduce customer response time to <24 hours",
                  "Resolve 90% open cases"));
  EXPECT_EQ(FindKr(p, "JANE-1-KR1")->type, KeyResultType::kMilestone);
  EXPECT_EQ(FindCheckIn(p, "JANE-1-KR1")->done, false);

  EXPECT_EQ(nick->title, ">4.5 CSAT score on implementations");
  EXPECT_EQ(nick->kind, ObjectiveKind::kAspirational);
  EXPECT_EQ(nick->alignment.kind, AlignmentKind::kObjective);
  EXPECT_EQ(nick->alignment.parent_objective_id, "JANE-1");
  EXPECT_EQ(nick->alignment.weight, 2);
  EXPECT_THAT(
      KrTitlesOf(p, "NICK-1"),
      ElementsAre(
          "Deploy new onboarding and implementation process to 100% "
          "of new customers",
          "Implement new customer community with 65% engagement rate",
          "Make customer office hour training sessions available 4x week"));
}

TEST(PlanCsvExamples, SalesAnnualQuarterly) {
  PlanCsv p = ParseExample("sales-annual-quarterly.csv");
  ASSERT_THAT(p.plan.objectives, SizeIs(4));
  const Objective& annual = p.plan.objectives[0];
  EXPECT_EQ(annual.id, "SALES-FY");
  EXPECT_EQ(annual.cycle_id, "FY2027");
  EXPECT_THAT(KrTitlesOf(p, "SALES-FY"), SizeIs(5));
  EXPECT_EQ(FindKr(p, "SALES-FY-KR5")->to, 50000000);
  EXPECT_EQ(FindCheckIn(p, "SALES-FY-KR5")->value, 11800000);

  // The Q1 breakdowns in the document's priority order.
  std::vector<std::string> q1;
  for (const Objective& o : p.plan.objectives) {
    if (o.cycle_id != "FY2027-Q1") continue;
    EXPECT_EQ(o.breakdown_of_objective_id, "SALES-FY");
    q1.push_back(absl::StrCat(o.priority, ". ", o.title));
  }
  EXPECT_THAT(q1,
              ElementsAre("1. Improve the business ability of the sales team",
                          "2. Build benchmark customers in five industries, at "
                          "least one in each industry",
                          "3. Recruit at least 30 outstanding sales elites"));
  EXPECT_THAT(KrTitlesOf(p, "SALES-Q1-1"), SizeIs(4));
  EXPECT_THAT(KrTitlesOf(p, "SALES-Q1-2"), IsEmpty());
  EXPECT_THAT(KrTitlesOf(p, "SALES-Q1-3"), IsEmpty());
  EXPECT_EQ(FindKr(p, "SALES-Q1-1-KR2")->direction, Direction::kAtLeast);
  EXPECT_EQ(FindCheckIn(p, "SALES-Q1-1-KR4")->done, true);
}

// ---------------------------------------------------------------------------
// CSV syntax
// ---------------------------------------------------------------------------

TEST(PlanCsvSyntax, QuotingCommasQuotesAndNewlines) {
  PlanCsv p = MustParse(
      "cycle,objective_ref,objective_title,objective_description,kr_title,kr_"
      "type,from,to,unit\r\n"
      "FY2027,O1,\"Grow, fast\",\"He said "
      "\"\"go\"\"\",\"two\r\nlines\",METRIC,1,2,\"a\nb\"\r\n");
  ASSERT_THAT(p.plan.objectives, SizeIs(1));
  EXPECT_EQ(p.plan.objectives[0].title, "Grow, fast");
  EXPECT_EQ(p.plan.objectives[0].description, "He said \"go\"");
  ASSERT_THAT(p.plan.key_results, SizeIs(1));
  EXPECT_EQ(p.plan.key_results[0].title, "two\r\nlines");
  EXPECT_EQ(p.plan.key_results[0].unit, "a\nb");
  // No kr_ref column: the ref is generated from the objective.
  EXPECT_EQ(p.plan.key_results[0].id, "O1-KR1");
}

TEST(PlanCsvSyntax, BomCrlfLfAndNoFinalNewlineGiveTheSamePlan) {
  const std::string lf = std::string(kHeader) + std::string(kGoodRow) +
                         "FY2027,O2,Other,,,,,,,,,,,,,,\n";
  std::string crlf = absl::StrJoin(absl::StrSplit(lf, '\n'), "\r\n");
  std::string bom_no_final = "\xEF\xBB\xBF" + lf.substr(0, lf.size() - 1);
  PlanCsv a = MustParse(lf);
  ASSERT_THAT(a.plan.objectives, SizeIs(2));
  ExpectSame(a, MustParse(crlf));
  ExpectSame(a, MustParse(bom_no_final));
  EXPECT_EQ(a.plan.objectives[0].cycle_id, "FY2027");  // BOM not in the name
}

TEST(PlanCsvSyntax, HeaderCaseInsensitiveAnyOrderSpacesTrimmed) {
  PlanCsv p = MustParse(
      " KR_Title , Objective_Title,CYCLE,objective_ref,Kr_Type,TO,From\n"
      "  Sell more , Grow  , fy2027-q2 ,  O1 ,metric, 10 , 0 \n");
  ASSERT_THAT(p.plan.objectives, SizeIs(1));
  // Unquoted fields are trimmed by the CSV reader; cycle names are canonical.
  EXPECT_EQ(p.plan.objectives[0].title, "Grow");
  EXPECT_EQ(p.plan.objectives[0].cycle_id, "FY2027-Q2");
  EXPECT_EQ(p.plan.key_results[0].title, "Sell more");
  EXPECT_EQ(p.plan.key_results[0].to, 10);
  EXPECT_THAT(DescribeAll(p.plan.cycles),
              ElementsAre("FY2027-Q2/FY2027-Q2/QUARTERLY/FY2027"));
}

TEST(PlanCsvSyntax, QuotedSpacesAreKeptInFreeText) {
  PlanCsv p = MustParse(
      "cycle,objective_ref,objective_title\nFY2027,O1,\"  padded  \"\n");
  EXPECT_EQ(p.plan.objectives[0].title, "  padded  ");
}

TEST(PlanCsvSyntax,
     RowNumbersCountBlankLinesAndMultiLineFieldsAsSpreadsheetsDo) {
  // Row 1 header, row 2 a two-line quoted title, row 3 blank, row 4 empty
  // cells, row 5 the bad one.
  std::vector<PlanCsvError> errors = MustFail(
      "cycle,objective_ref,objective_title,kind\r\n"
      "FY2027,O1,\"two\r\nlines\",COMMITTED\r\n"
      "\r\n"
      ",,,\r\n"
      "FY2027,O2,Bad,SOMETIMES\r\n");
  EXPECT_THAT(ErrorStrings(errors),
              ElementsAre("row 5, column kind: 'SOMETIMES' is not one of "
                          "COMMITTED, ASPIRATIONAL (or leave it empty)"));
}

TEST(PlanCsvSyntax, DefaultCycleFillsEmptyCellsAndMissingColumn) {
  PlanCsvOptions options;
  options.default_cycle = "fy2027-q1";
  absl::StatusOr<PlanCsv> p = ParsePlanCsv(
      "objective_ref,objective_title\nO1,Grow\n", nullptr, options);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->plan.objectives[0].cycle_id, "FY2027-Q1");

  p = ParsePlanCsv("cycle,objective_ref,objective_title\n,O1,A\nFY2027,O2,B\n",
                   nullptr, options);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->plan.objectives[0].cycle_id, "FY2027-Q1");
  EXPECT_EQ(p->plan.objectives[1].cycle_id, "FY2027");

  // Without a default the column is required...
  EXPECT_THAT(ErrorStrings(MustFail("objective_ref,objective_title\nO1,A\n")),
              ElementsAre("row 1, column cycle: required column is missing "
                          "from the header"));
  // ...and a bad default is the caller's mistake, reported as such.
  options.default_cycle = "Q1";
  EXPECT_THAT(
      ErrorStrings(MustFail("objective_ref,objective_title\nO1,A\n", options)),
      ElementsAre("default cycle 'Q1' is not a cycle name, e.g. "
                  "FY2027-Q1"));
}

TEST(PlanCsvSyntax, ObjectiveWithoutKeyResultsAndRepeatedObjectiveColumns) {
  PlanCsv p = MustParse(
      std::string(kHeader) +
      "FY2027,O1,Grow,COMMITTED,,,,,K1,Sell more,METRIC,0,10,,,,\n"
      "FY2027,O2,Alone,,,,,,,,,,,,,,\n"
      // O1 again, later, with objective columns left empty: inherits them.
      ",O1,,,,,,,K2,Sell better,MILESTONE,,,,,TRUE,9\n");
  ASSERT_THAT(p.plan.objectives, SizeIs(2));
  EXPECT_THAT(KrTitlesOf(p, "O1"), ElementsAre("Sell more", "Sell better"));
  EXPECT_THAT(KrTitlesOf(p, "O2"), IsEmpty());
  // Key results are grouped by objective.
  EXPECT_EQ(p.plan.key_results[1].id, "K2");
  EXPECT_EQ(p.key_result_rows.at("K2"), 4);
  EXPECT_EQ(p.objective_rows.at("O1"), 2);
  EXPECT_THAT(DescribeAll(p.check_ins),
              ElementsAre("kr=K2|value=-|done=1|conf=9"));
}

// ---------------------------------------------------------------------------
// Errors: each kind with its row and column
// ---------------------------------------------------------------------------

struct ErrorCase {
  const char* name;
  std::string rows;  // appended after kHeader
  std::string
      expected;  // the error's ToString(), or a prefix of it ending in '*'
};

class PlanCsvRowErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(PlanCsvRowErrors, ReportsRowAndColumn) {
  const ErrorCase& c = GetParam();
  std::vector<PlanCsvError> errors = MustFail(std::string(kHeader) + c.rows);
  ASSERT_THAT(errors, SizeIs(1)) << absl::StrJoin(ErrorStrings(errors), "\n");
  const std::string got = errors[0].ToString();
  if (absl::EndsWith(c.expected, "*")) {
    EXPECT_TRUE(
        absl::StartsWith(got, c.expected.substr(0, c.expected.size() - 1)))
        << got;
  } else {
    EXPECT_EQ(got, c.expected);
  }
}

std::string Good() { return std::string(kGoodRow); }

INSTANTIATE_TEST_SUITE_P(
    AllKinds, PlanCsvRowErrors,
    ::testing::Values(
        ErrorCase{"MissingObjectiveRef", Good() + "FY2027,,T,,,,,,,,,,,,,,\n",
                  "row 3, column objective_ref: required*"},
        ErrorCase{"MissingTitle", Good() + "FY2027,O2,,,,,,,,,,,,,,,\n",
                  "row 3, column objective_title: required"},
        ErrorCase{"MissingCycle", Good() + ",O2,T,,,,,,,,,,,,,,\n",
                  "row 3, column cycle: required*"},
        ErrorCase{"BadCycle", Good() + "2027 Q1,O2,T,,,,,,,,,,,,,,\n",
                  "row 3, column cycle: '2027 Q1' is not a cycle name*"},
        ErrorCase{"BadMonth", Good() + "FY2027-M13,O2,T,,,,,,,,,,,,,,\n",
                  "row 3, column cycle: 'FY2027-M13' is not a cycle name*"},
        ErrorCase{"BadKind", Good() + "FY2027,O2,T,MAYBE,,,,,,,,,,,,,\n",
                  "row 3, column kind: 'MAYBE' is not one of COMMITTED, "
                  "ASPIRATIONAL (or leave it empty)"},
        ErrorCase{"UnspecifiedIsNotAName",
                  Good() + "FY2027,O2,T,UNSPECIFIED,,,,,,,,,,,,,\n",
                  "row 3, column kind: 'UNSPECIFIED' is not one of*"},
        ErrorCase{
            "ObjectiveColumnsDisagree",
            Good() + "FY2027,O1,Grow,ASPIRATIONAL,,,,,K2,More,METRIC,0,1,,,,\n",
            "row 3, column kind: 'ASPIRATIONAL' differs from 'COMMITTED' "
            "on row 2 for objective_ref 'O1'*"},
        ErrorCase{"MissingKrTitle", "FY2027,O1,Grow,,,,,,K1,,METRIC,0,10,,,,\n",
                  "row 2, column kr_title: required on a key-result row*"},
        ErrorCase{"MissingKrType", "FY2027,O1,Grow,,,,,,K1,Sell,,0,10,,,,\n",
                  "row 2, column kr_type: required on a key-result row; use "
                  "METRIC or MILESTONE"},
        ErrorCase{
            "BadKrType", "FY2027,O1,Grow,,,,,,K1,Sell,BINARY,0,10,,,,\n",
            "row 2, column kr_type: 'BINARY' is not one of METRIC, MILESTONE"},
        ErrorCase{"MissingFrom", "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,,10,,,,\n",
                  "row 2, column from: required for a METRIC: the start value"},
        ErrorCase{"MissingTo", "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,0,,,,,\n",
                  "row 2, column to: required for a METRIC*"},
        ErrorCase{"NotANumber",
                  "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,0,\"1,000\",,,,\n",
                  "row 2, column to: '1,000' is not a number*"},
        ErrorCase{"Percent", "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,0,45%,,,,\n",
                  "row 2, column to: '45%' is not a number*"},
        ErrorCase{"Infinity", "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,0,inf,,,,\n",
                  "row 2, column to: 'inf' is not a number*"},
        ErrorCase{"NaN", "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,nan,1,,,,\n",
                  "row 2, column from: 'nan' is not a number*"},
        ErrorCase{
            "ToEqualsFrom", "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,5,5,,,,\n",
            "row 2, column to: must differ from 'from' (both are 5); a target "
            "equal to the start value needs direction AT_LEAST or AT_MOST"},
        ErrorCase{"IncreaseDownwards",
                  "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,10,5,INCREASE,,,\n",
                  "row 2, column direction: INCREASE, but to (5) is below from "
                  "(10)*"},
        ErrorCase{"DecreaseUpwards",
                  "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,5,10,DECREASE,,,\n",
                  "row 2, column direction: DECREASE, but to (10) is above "
                  "from (5)*"},
        ErrorCase{
            "BadDirection", "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,5,10,UP,,,\n",
            "row 2, column direction: 'UP' is not one of INCREASE, DECREASE, "
            "AT_LEAST, AT_MOST"},
        ErrorCase{"MilestoneWithFrom",
                  "FY2027,O1,Grow,,,,,,K1,Ship,MILESTONE,0,,,,,\n",
                  "row 2, column from: applies to METRIC key results only*"},
        ErrorCase{
            "MilestoneWithCurrentValue",
            "FY2027,O1,Grow,,,,,,K1,Ship,MILESTONE,,,,3,,\n",
            "row 2, column current_value: applies to METRIC key results only*"},
        ErrorCase{"MetricWithDone",
                  "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,0,1,,,TRUE,\n",
                  "row 2, column done: applies to MILESTONE key results only*"},
        ErrorCase{"BadDone",
                  "FY2027,O1,Grow,,,,,,K1,Ship,MILESTONE,,,,,maybe,\n",
                  "row 2, column done: 'maybe' is not TRUE or FALSE"},
        ErrorCase{"ConfidenceOutOfRange",
                  "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,0,1,,1,,11\n",
                  "row 2, column confidence: '11' is not a whole number from 0 "
                  "to 10"},
        ErrorCase{
            "ConfidenceWithoutValue",
            "FY2027,O1,Grow,,,,,,K1,Sell,METRIC,0,1,,,,5\n",
            "row 2, column confidence: needs a current_value on the same row"},
        ErrorCase{"DuplicateKrRef",
                  Good() + "FY2027,O1,Grow,,,,,,K1,Again,METRIC,0,1,,,,\n",
                  "row 3, column kr_ref: 'K1' is already used on row 2*"},
        ErrorCase{
            "GeneratedKrRefCollides",
            "FY2027,O1,Grow,,,,,,O1-KR2,A,METRIC,0,1,,,,\n"
            "FY2027,O1,Grow,,,,,,,B,METRIC,0,1,,,,\n",
            "row 3, column kr_ref: empty, and the generated ref 'O1-KR2' is "
            "already used on row 2*"},
        ErrorCase{"UnknownAlignedTo", Good() + "FY2027,O2,T,,O9,,,,,,,,,,,,\n",
                  "row 3, column aligned_to: 'O9' is not an objective_ref in "
                  "this file"},
        ErrorCase{
            "AlignedToSelf", Good() + "FY2027,O2,T,,O2,,,,,,,,,,,,\n",
            "row 3, column aligned_to: an objective cannot align to itself"},
        ErrorCase{
            "UnknownAlignedToKr", Good() + "FY2027,O2,T,,,K9,,,,,,,,,,,\n",
            "row 3, column aligned_to_kr: 'K9' is not a kr_ref in this file"},
        ErrorCase{
            "AlignedToOwnKr", "FY2027,O1,Grow,,,K1,,,K1,Sell,METRIC,0,1,,,,\n",
            "row 2, column aligned_to_kr: 'K1' is a key result of this same "
            "objective"},
        ErrorCase{"AlignedBothWays", Good() + "FY2027,O2,T,,O1,K1,,,,,,,,,,,\n",
                  "row 3, column aligned_to_kr: set aligned_to (Classic*"},
        ErrorCase{"WeightWithoutAlignment",
                  Good() + "FY2027,O2,T,,,,2,,,,,,,,,,\n",
                  "row 3, column alignment_weight: set only for an aligned "
                  "objective*"},
        ErrorCase{
            "NegativeWeight", Good() + "FY2027,O2,T,,O1,,-1,,,,,,,,,,\n",
            "row 3, column alignment_weight: must be 0 or more (got -1)"},
        ErrorCase{"UnknownBreakdownOf",
                  Good() + "FY2027-Q1,O2,T,,,,,O7,,,,,,,,,\n",
                  "row 3, column breakdown_of: 'O7' is not an objective_ref in "
                  "this file"},
        ErrorCase{
            "BreakdownOfSelf", Good() + "FY2027-Q1,O2,T,,,,,O2,,,,,,,,,\n",
            "row 3, column breakdown_of: an objective cannot be a breakdown of "
            "itself"},
        ErrorCase{
            "AlignmentLoop",
            "FY2027,O1,A,,O3,,,,,,,,,,,,\n"
            "FY2027,O2,B,,,K3,,,K2,x,METRIC,0,1,,,,\n"
            "FY2027,O3,C,,,K2,,,K3,y,METRIC,0,1,,,,\n",
            // O1 hangs off the loop O2 -> O3 -> O2 but is not in it.
            "row 3, column aligned_to_kr: alignment loop O2 -> O3 -> O2*"},
        ErrorCase{"BreakdownLoop",
                  "FY2027,O1,A,,,,,O2,,,,,,,,,\nFY2027,O2,B,,,,,O1,,,,,,,,,\n",
                  "row 2, column breakdown_of: breakdown loop O1 -> O2 -> O1*"},
        ErrorCase{
            "InvalidUtf8",
            Good() + "FY2027,O2,Bad \xC3\x28 text,,,,,,,,,,,,,,\n",
            "row 3, column objective_title: is not valid UTF-8 (byte 5)*"},
        ErrorCase{
            "OverlongUtf8", Good() + "FY2027,O2,\xC0\xAF,,,,,,,,,,,,,,\n",
            "row 3, column objective_title: is not valid UTF-8 (byte 1)*"},
        ErrorCase{
            "ControlCharacter", Good() + "FY2027,O2,a\x01z,,,,,,,,,,,,,,\n",
            "row 3, column objective_title: contains the control character "
            "0x01 at byte 2"},
        ErrorCase{
            "ExtraField", Good() + "FY2027,O2,T,,,,,,,,,,,,,,,surprise\n",
            "row 3, column #18: value in a field that has no column name in "
            "the header"},
        ErrorCase{"QuoteInsideUnquotedField",
                  Good() + "FY2027,O2,say \"hi\",\n",
                  "row 3, column objective_title: malformed quoting*"},
        ErrorCase{"TextAfterClosingQuote", Good() + "FY2027,\"O2\"x,T\n",
                  "row 3, column objective_ref: malformed quoting*"},
        ErrorCase{"UnterminatedQuote", Good() + "FY2027,O2,\"never ends\n",
                  "row 3, column objective_title: malformed quoting*"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) {
      return std::string(info.param.name);
    });

TEST(PlanCsvErrors, EmptyFile) {
  for (absl::string_view text : {"", "\xEF\xBB\xBF", "\n\r\n  \n"}) {
    EXPECT_THAT(
        ErrorStrings(MustFail(text)),
        ElementsAre(HasSubstr("the file is empty; the first row must be "
                              "the header")));
  }
}

TEST(PlanCsvErrors, HeaderProblemsAreAllReported) {
  std::vector<PlanCsvError> errors =
      MustFail("Cycle,objective_title,colour,CYCLE,\nFY2027,T,red,FY2027,\n");
  EXPECT_THAT(
      ErrorStrings(errors),
      ElementsAre(HasSubstr("row 1, column colour: unknown column; the "
                            "columns are cycle, objective_ref,"),
                  "row 1, column cycle: appears twice (fields 1 and 4); "
                  "keep one",
                  "row 1, column objective_ref: required column is "
                  "missing from the header"));
}

TEST(PlanCsvErrors, AllErrorsListedInRowOrderAndNothingReturned) {
  std::vector<PlanCsvError> errors;
  absl::StatusOr<PlanCsv> p = ParsePlanCsv(
      std::string(kHeader) + Good() +
          "FY2027,O2,T,,,,,,K2,x,METRIC,a,b,,,,\n"  // two errors on row 3
          "FY2027,O3,T,,,,,,,,,,,,,,\n"             // fine
          "FY2027,O4,T,,O9,,,,,,,,,,,,\n",          // unknown ref, row 5
      &errors);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_THAT(errors, SizeIs(3));
  EXPECT_EQ(errors[0].row, 3);
  EXPECT_EQ(errors[0].column, "from");
  EXPECT_EQ(errors[1].row, 3);
  EXPECT_EQ(errors[1].column, "to");
  EXPECT_EQ(errors[2].row, 5);
  EXPECT_EQ(errors[2].column, "aligned_to");
  EXPECT_THAT(
      std::string(p.status().message()),
      HasSubstr("nothing imported; 3 errors: row 3, column from: 'a' is "
                "not a number"));

  // The same out-vector is cleared by a later success.
  ASSERT_TRUE(ParsePlanCsv(std::string(kHeader) + Good(), &errors).ok());
  EXPECT_THAT(errors, IsEmpty());
}

TEST(PlanCsvErrors, Limits) {
  PlanCsvOptions limits;
  limits.max_rows = 2;
  const std::string three_rows = std::string(kHeader) + Good() +
                                 "FY2027,O2,T,,,,,,,,,,,,,,\n"
                                 "FY2027,O3,T,,,,,,,,,,,,,,\n";
  EXPECT_THAT(ErrorStrings(MustFail(three_rows, limits)),
              ElementsAre("row 4: the file has more than 2 data rows; split it "
                          "into several imports"));
  // Exactly at the limit is fine.
  limits.max_rows = 3;
  EXPECT_TRUE(ParsePlanCsv(three_rows, nullptr, limits).ok());

  limits = PlanCsvOptions();
  limits.max_field_bytes = 8;
  EXPECT_THAT(ErrorStrings(MustFail(
                  std::string(kHeader) + "FY2027,O1,123456789,,,,,,,,,,,,,,\n",
                  limits)),
              ElementsAre("row 2, column objective_title: is 9 bytes long; the "
                          "limit is 8"));

  limits = PlanCsvOptions();
  limits.max_input_bytes = 10;
  EXPECT_THAT(ErrorStrings(MustFail(std::string(kHeader), limits)),
              ElementsAre(HasSubstr("the limit is 10 bytes")));

  limits = PlanCsvOptions();
  limits.max_errors = 2;
  std::string many(kHeader);
  for (int i = 0; i < 5; ++i)
    absl::StrAppend(&many, "FY2027,O", i, ",,,,,,,,,,,,,,\n");
  std::vector<PlanCsvError> errors;
  absl::StatusOr<PlanCsv> p = ParsePlanCsv(many, &errors, limits);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(errors, SizeIs(2));
  EXPECT_THAT(std::string(p.status().message()),
              HasSubstr("stopped after 2 errors"));
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

// Small builders: designated initialisers would trip
// -Wmissing-field-initializers.
Cycle MakeCycle(const std::string& id, const std::string& name) {
  Cycle c;
  c.id = id;
  c.name = name;
  return c;
}
Person MakePerson(const std::string& id, const std::string& name) {
  Person p;
  p.id = id;
  p.display_name = name;
  return p;
}
Team MakeTeam(const std::string& id, const std::string& name) {
  Team t;
  t.id = id;
  t.name = name;
  return t;
}
CheckIn MakeValue(const std::string& kr, double value, absl::Time time,
                  std::optional<int> confidence = std::nullopt) {
  CheckIn c;
  c.key_result_id = kr;
  c.value = value;
  c.time = time;
  c.confidence = confidence;
  return c;
}

// A minimal plan with names distinct from ids, as the planning service has.
Plan ServicePlan() {
  Plan plan;
  plan.cycles.push_back(MakeCycle("c-1", "FY2027"));
  plan.people.push_back(MakePerson("p-1", "Jane"));
  plan.teams.push_back(MakeTeam("t-1", "Customer Success"));
  Objective o;
  o.id = "obj-1";
  o.title = "Grow, \"a lot\"";
  o.cycle_id = "c-1";
  o.owner_id = "p-1";
  o.team_id = "t-1";
  o.kind = ObjectiveKind::kCommitted;
  o.state = ObjectiveState::kPublished;
  plan.objectives.push_back(o);
  KeyResult kr;
  kr.id = "kr-1";
  kr.objective_id = "obj-1";
  kr.title = " leading space";
  kr.type = KeyResultType::kMetric;
  kr.measure = Measure::kKpi;
  kr.from = 0.1;
  kr.to = 1e-300;
  plan.key_results.push_back(kr);
  return plan;
}

TEST(PlanCsvWrite, NamesQuotingNumbersAndLatestValue) {
  Plan plan = ServicePlan();
  CheckIn older = MakeValue("kr-1", 0.5, absl::FromUnixSeconds(100));
  CheckIn newer =
      MakeValue("kr-1", 0.30000000000000004, absl::FromUnixSeconds(200), 3);
  CheckIn stray = MakeValue("elsewhere", 1, absl::FromUnixSeconds(300));
  absl::StatusOr<std::string> out = WritePlanCsv(plan, {newer, older, stray});
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<std::string> lines = absl::StrSplit(*out, "\r\n");
  ASSERT_THAT(lines, SizeIs(3));  // header, one row, "" after the last CRLF
  EXPECT_EQ(lines[0], absl::StrJoin(PlanCsvColumns(), ","));
  EXPECT_EQ(lines[1],
            "FY2027,obj-1,\"Grow, \"\"a lot\"\"\",,,Jane,Customer Success,"
            "COMMITTED,,,PUBLISHED,KEY_RESULTS,,,,,kr-1,\" leading space\",,"
            "METRIC,KPI,0.1,1e-300,,,1,UNKNOWN,,,0.30000000000000004,,3");

  PlanCsv back = MustParse(*out);
  ASSERT_THAT(back.plan.key_results, SizeIs(1));
  EXPECT_EQ(back.plan.objectives[0].title, "Grow, \"a lot\"");
  EXPECT_EQ(back.plan.key_results[0].title, " leading space");
  EXPECT_EQ(back.plan.key_results[0].to, 1e-300);
  EXPECT_EQ(back.check_ins[0].value, 0.30000000000000004);

  PlanCsvWriteOptions bom;
  bom.byte_order_mark = true;
  absl::StatusOr<std::string> with_bom = WritePlanCsv(plan, {}, bom);
  ASSERT_TRUE(with_bom.ok());
  EXPECT_TRUE(absl::StartsWith(*with_bom,
                               "\xEF\xBB\xBF"
                               "cycle,"));
  EXPECT_TRUE(ParsePlanCsv(*with_bom).ok());
}

TEST(PlanCsvWrite, RejectsWhatCouldNotBeReadBack) {
  {
    Plan plan = ServicePlan();
    plan.objectives[0].cycle_id = "nope";
    EXPECT_THAT(
        std::string(WritePlanCsv(plan, {}).status().message()),
        HasSubstr("objective 'obj-1': cycle 'nope' is not in the plan"));
  }
  {
    Plan plan = ServicePlan();
    plan.objectives[0].alignment.kind = AlignmentKind::kObjective;
    plan.objectives[0].alignment.parent_objective_id = "parent";
    absl::Status s = WritePlanCsv(plan, {}).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()),
                HasSubstr("export its ancestors too"));
  }
  {
    Plan plan = ServicePlan();
    plan.key_results[0].to = std::numeric_limits<double>::infinity();
    EXPECT_THAT(std::string(WritePlanCsv(plan, {}).status().message()),
                HasSubstr("key_result 'kr-1': to: inf is not a finite number"));
  }
  {
    Plan plan = ServicePlan();
    plan.objectives[0].owner_id = "ghost";
    EXPECT_THAT(std::string(WritePlanCsv(plan, {}).status().message()),
                HasSubstr("person 'ghost' is not in the plan"));
  }
  {
    Plan plan = ServicePlan();
    plan.key_results[0].objective_id = "missing";
    EXPECT_FALSE(WritePlanCsv(plan, {}).ok());
  }
  {
    // Validation allows any cycle name; the CSV format takes FY names only.
    Plan plan = ServicePlan();
    plan.cycles[0].name = "Q1 2027";
    EXPECT_THAT(std::string(WritePlanCsv(plan, {}).status().message()),
                HasSubstr("cycle name 'Q1 2027' cannot be read back"));
  }
}

TEST(PlanCsvWrite, ZeroWeightsSurviveTheRoundTrip) {
  // Validation and scoring accept weight 0 ("counts for nothing"), so an
  // export holding one must import again.
  Plan plan = ServicePlan();
  plan.key_results[0].weight = 0;
  absl::StatusOr<std::string> out = WritePlanCsv(plan, {});
  ASSERT_TRUE(out.ok()) << out.status();
  PlanCsv back = MustParse(*out);
  ASSERT_THAT(back.plan.key_results, SizeIs(1));
  EXPECT_EQ(back.plan.key_results[0].weight, 0);
}

// ---------------------------------------------------------------------------
// Round trip property: write(random plan) parses back to the same plan
// ---------------------------------------------------------------------------

class RandomPlans {
 public:
  explicit RandomPlans(uint32_t seed) : rng_(seed) {}

  int Int(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  bool Coin() { return Int(0, 1) == 1; }

  // Text made to stress the quoting: commas, quotes, line breaks, padding
  // and non-ASCII, but never blank (titles must not be).
  std::string Text() {
    static const char* kPieces[] = {
        "a",    "Grow", ",", "\"",   "\n",  "\r\n", " ", "\t",      "é",
        "日本", "100%", "'", ">4.5", "x,y", "\"\"", "#", "=SUM(A1)"};
    std::string s;
    const int n = Int(1, 6);
    for (int i = 0; i < n; ++i) s += kPieces[Int(0, std::size(kPieces) - 1)];
    if (absl::StripAsciiWhitespace(s).empty()) s += "t";
    return s;
  }
  // Names and refs: trimmed by design, may contain commas and quotes.
  std::string Name() {
    static const char* kPieces[] = {"Ann",   "O'Neil", "Smith, J.",
                                    "\"Q\"", "Zoë",    "team 7"};
    return kPieces[Int(0, std::size(kPieces) - 1)];
  }
  double Number() {
    switch (Int(0, 5)) {
      case 0:
        return Int(-1000, 1000);
      case 1:
        return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
      case 2:
        return 0.1 * Int(1, 99);
      case 3:
        return std::ldexp(1.0, Int(-1000, 1000));
      case 4:
        return std::numeric_limits<double>::denorm_min() * Int(1, 5);
      default:
        return std::numeric_limits<double>::max() / Int(1, 3);
    }
  }

  PlanCsv Make() {
    PlanCsv p;
    const int n = Int(1, 6);
    for (int i = 0; i < n; ++i) {
      Objective o;
      o.id = absl::StrCat("O", i, Coin() ? ", \"x\"" : "");
      o.title = Text();
      if (Coin()) o.description = Text();
      o.level = static_cast<Level>(Int(0, 3));
      if (Coin()) o.owner_id = Name();
      if (Coin()) o.team_id = Name();
      o.cycle_id = Coin() ? "FY2027" : "FY2027-Q3";
      o.kind = static_cast<ObjectiveKind>(Int(0, 2));
      o.category = static_cast<Category>(Int(0, 5));
      o.priority = Int(0, 5);
      o.state = static_cast<ObjectiveState>(Int(1, 3));
      o.progress_source = static_cast<ProgressSource>(Int(1, 3));
      // Parents only among earlier objectives: never a loop.
      if (i > 0 && Coin()) {
        const Objective& parent = p.plan.objectives[Int(0, i - 1)];
        std::vector<const KeyResult*> parent_krs;
        for (const KeyResult& k : p.plan.key_results) {
          if (k.objective_id == parent.id) parent_krs.push_back(&k);
        }
        if (!parent_krs.empty() && Coin()) {
          o.alignment.kind = AlignmentKind::kKeyResult;
          o.alignment.parent_objective_id = parent.id;
          o.alignment.parent_key_result_id =
              parent_krs[Int(0, parent_krs.size() - 1)]->id;
        } else {
          o.alignment.kind = AlignmentKind::kObjective;
          o.alignment.parent_objective_id = parent.id;
        }
        o.alignment.weight = std::abs(Number()) + 0.5;
      }
      if (i > 0 && Coin())
        o.breakdown_of_objective_id = p.plan.objectives[Int(0, i - 1)].id;
      p.plan.objectives.push_back(o);

      const int krs = Int(0, 4);
      for (int k = 0; k < krs; ++k) {
        KeyResult kr;
        kr.id = absl::StrCat(o.id, "/k", k);
        kr.objective_id = o.id;
        kr.title = Text();
        if (Coin()) kr.owner_id = Name();
        kr.type = Coin() ? KeyResultType::kMetric : KeyResultType::kMilestone;
        CheckIn ci;
        ci.key_result_id = kr.id;
        if (kr.type == KeyResultType::kMetric) {
          kr.measure = Coin() ? Measure::kKpi : Measure::kPercentComplete;
          kr.from = Number();
          do {
            kr.to = Number();
          } while (kr.to == kr.from);
          kr.direction = static_cast<Direction>(Int(0, 4));
          if (kr.direction == Direction::kIncrease && kr.to < kr.from)
            std::swap(kr.from, kr.to);
          if (kr.direction == Direction::kDecrease && kr.to > kr.from)
            std::swap(kr.from, kr.to);
          if (Coin()) kr.unit = Text();
          ci.value = Number();
        } else {
          ci.done = Coin();
        }
        kr.weight = std::abs(Number()) + 1;
        kr.data_source = static_cast<DataSource>(Int(0, 3));
        if (Coin()) kr.data_source_ref = Text();
        kr.progress_from_children = Coin();
        if (Coin()) ci.confidence = Int(0, 10);
        if (Coin()) p.check_ins.push_back(ci);
        p.plan.key_results.push_back(kr);
      }
    }
    return p;
  }

 private:
  std::mt19937 rng_;
};

TEST(PlanCsvRoundTrip, RandomPlansSurviveWriteThenParse) {
  RandomPlans gen(20270101);
  for (int iteration = 0; iteration < 300; ++iteration) {
    SCOPED_TRACE(iteration);
    PlanCsv original = gen.Make();
    // Supply the names the writer looks up; the parser recreates them.
    Plan plan = original.plan;
    absl::flat_hash_set<std::string> names, teams;
    for (const Objective& o : plan.objectives) {
      names.insert(o.owner_id);
      teams.insert(o.team_id);
      plan.cycles.push_back(MakeCycle(o.cycle_id, o.cycle_id));
    }
    for (const KeyResult& k : plan.key_results) names.insert(k.owner_id);
    for (const std::string& n : names) plan.people.push_back(MakePerson(n, n));
    for (const std::string& t : teams) plan.teams.push_back(MakeTeam(t, t));

    absl::StatusOr<std::string> text = WritePlanCsv(plan, original.check_ins);
    ASSERT_TRUE(text.ok()) << text.status();
    std::vector<PlanCsvError> errors;
    absl::StatusOr<PlanCsv> back = ParsePlanCsv(*text, &errors);
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << *text;
    EXPECT_EQ(DescribeAll(back->plan.objectives),
              DescribeAll(original.plan.objectives));
    EXPECT_EQ(DescribeAll(back->plan.key_results),
              DescribeAll(original.plan.key_results));
    EXPECT_EQ(DescribeAll(back->check_ins), DescribeAll(original.check_ins));
    // And a second trip is byte-identical.
    absl::StatusOr<std::string> again =
        WritePlanCsv(back->plan, back->check_ins);
    ASSERT_TRUE(again.ok());
    PlanCsv reparsed = MustParse(*again);
    ExpectSame(*back, reparsed);
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace okr
