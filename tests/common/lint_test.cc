// Tests of the plan lint rules in common/lint.h, on the documents' examples:
// the retail in-store sales annual OKRs, the customer-success Duality and
// Classic cascades (Jane and Nick), and the sales department's annual -> Q1
// breakdown.
#include "common/lint.h"

#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace okr {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

// --- Builders ---------------------------------------------------------------

Objective Obj(Id id, std::string title, Level level, Id owner, Id cycle,
              ObjectiveKind kind = ObjectiveKind::kAspirational) {
  Objective o;
  o.id = std::move(id);
  o.title = std::move(title);
  o.level = level;
  o.owner_id = std::move(owner);
  o.cycle_id = std::move(cycle);
  o.kind = kind;
  o.state = ObjectiveState::kPublished;
  return o;
}

Objective AlignedTo(Objective o, Id parent) {
  o.alignment.kind = AlignmentKind::kObjective;
  o.alignment.parent_objective_id = std::move(parent);
  return o;
}

Objective CascadedFrom(Objective o, Id key_result) {
  o.alignment.kind = AlignmentKind::kKeyResult;
  o.alignment.parent_key_result_id = std::move(key_result);
  return o;
}

KeyResult Metric(Id id, Id objective, std::string title, double from, double to,
                 Direction direction = Direction::kUnspecified,
                 Measure measure = Measure::kKpi) {
  KeyResult kr;
  kr.id = std::move(id);
  kr.objective_id = std::move(objective);
  kr.title = std::move(title);
  kr.type = KeyResultType::kMetric;
  kr.measure = measure;
  kr.from = from;
  kr.to = to;
  kr.direction = direction;
  kr.data_source = DataSource::kSpreadsheet;
  return kr;
}

KeyResult Milestone(Id id, Id objective, std::string title) {
  KeyResult kr;
  kr.id = std::move(id);
  kr.objective_id = std::move(objective);
  kr.title = std::move(title);
  kr.type = KeyResultType::kMilestone;
  kr.data_source = DataSource::kManual;
  return kr;
}

Cycle MakeCycle(Id id, std::string name, CycleKind kind, absl::CivilDay start,
                absl::CivilDay end) {
  Cycle c;
  c.id = std::move(id);
  c.name = std::move(name);
  c.kind = kind;
  c.start = start;
  c.end = end;
  return c;
}

Person MakePerson(Id id, std::string name) {
  Person p;
  p.id = std::move(id);
  p.display_name = std::move(name);
  return p;
}

// An organisation with mission and vision, the fiscal year 2027, its Q1 and
// the people of the examples.
Plan BasePlan() {
  Plan plan;
  plan.organisation.id = "acme";
  plan.organisation.name = "Acme Retail";
  plan.organisation.mission = "Turn customers into lifelong fans.";
  plan.organisation.vision = "Every shopper's favourite store, in every channel.";
  plan.cycles = {
      MakeCycle("fy27", "FY2027", CycleKind::kAnnual, absl::CivilDay(2027, 1, 1),
                absl::CivilDay(2028, 1, 1)),
      MakeCycle("fy27-q1", "FY2027-Q1", CycleKind::kQuarterly,
                absl::CivilDay(2027, 1, 1), absl::CivilDay(2027, 4, 1)),
  };
  plan.people = {MakePerson("ceo", "Alex, CEO"),
                 MakePerson("jane", "Jane, VP of Customer Success"),
                 MakePerson("nick", "Nick, Director of Customer Success"),
                 MakePerson("sales-head", "Sam, Head of Sales")};
  return plan;
}

// "Annual company OKR examples: In-store sales function": three company
// objectives with three key results each.
Plan RetailPlan() {
  Plan plan = BasePlan();
  plan.objectives = {
      Obj("new", "Drive sales contribution of new customers from 10% to 20%",
          Level::kCompany, "ceo", "fy27"),
      Obj("churn", "Reduce churn of existing customers from 40% to 20%",
          Level::kCompany, "ceo", "fy27", ObjectiveKind::kCommitted),
      Obj("abv", "Increase the average bill value (ABV) per customer from $100 "
                 "to $150",
          Level::kCompany, "ceo", "fy27"),
  };
  plan.key_results = {
      Milestone("new-1", "new", "Exclusive tie-up deals with 2 top brands to "
                                "draw new footfalls to the store"),
      Metric("new-2", "new", "Become the anchor store in 10 mall complexes (# "
                             "of current anchor stores: 100) by end of Q1",
             100, 110),
      Metric("new-3", "new", "Increase the number of out-of-store adverts from "
                             "3 to 5 in all geographies",
             3, 5),
      Metric("churn-1", "churn", "5 out of 10 customers to avail loyalty points "
                                 "during purchase",
             2, 5),
      Metric("churn-2", "churn", "Train 1000 in-store sales staff to deliver "
                                 "best in-store experience",
             0, 1000),
      Metric("churn-3", "churn", "Reduce average out-of-stock days in key "
                                 "categories (E.g.: Grocery) from 5 days to 1 "
                                 "day",
             5, 1),
      Metric("abv-1", "abv", "Deliver 3 targeted in-store promotion activities",
             0, 3),
      Metric("abv-2", "abv", "Ensure daily 3 in-store staff incentive achievers "
                             "for driving ABV",
             0, 3, Direction::kAtLeast),
      Metric("abv-3", "abv", "Increase the store layout revamp frequency from "
                             "'Once-in-2-months' to 'Once-every-month'",
             6, 12),
  };
  return plan;
}

// "How to Cascade OKRs", the Duality method: the company's KR becomes Jane's
// objective, Jane's first KR becomes Nick's.
Plan DualityPlan() {
  Plan plan = BasePlan();
  plan.objectives = {
      Obj("company", "Earn customer love and trust", Level::kCompany, "ceo",
          "fy27"),
      CascadedFrom(Obj("jane-o", "Increase customer retention rate to 99%",
                       Level::kIndividual, "jane", "fy27-q1"),
                   "company-kr1"),
      CascadedFrom(Obj("nick-o", "Implement customer improvement plan for 100% "
                                 "of all at-risk customers",
                       Level::kIndividual, "nick", "fy27-q1",
                       ObjectiveKind::kCommitted),
                   "jane-kr1"),
  };
  plan.key_results = {
      Metric("company-kr1", "company", "Increase customer retention rate to 99%",
             95, 99),
      Metric("jane-kr1", "jane-o", "Implement customer improvement plan for "
                                   "100% of at-risk customers",
             0, 100, Direction::kIncrease, Measure::kPercentComplete),
      Metric("jane-kr2", "jane-o", "Increase NPS score from 7 to 8.5", 7, 8.5),
      Metric("jane-kr3", "jane-o", "Increase customer engagement from 1x a "
                                   "month to 2x a month",
             1, 2),
      Metric("nick-kr1", "nick-o", "Reduce customer response time from 72 "
                                   "hours to <24 hours",
             72, 24),
      Metric("nick-kr2", "nick-o", "Increase total amount of completed QBRs "
                                   "from 88% to 100%",
             88, 100, Direction::kIncrease, Measure::kPercentComplete),
      Milestone("nick-kr3", "nick-o", "Develop an action plan with 3 "
                                      "improvements and implement this "
                                      "quarter"),
  };
  return plan;
}

// The sales department's annual objective and its first-quarter breakdown.
Plan SalesBreakdownPlan() {
  Plan plan = BasePlan();
  Objective annual =
      Obj("sales-fy", "Significantly improve the performance level of the "
                      "sales department",
          Level::kTeam, "sales-head", "fy27");
  Objective q1 = Obj("sales-q1", "Improve the business ability of the sales team",
                     Level::kTeam, "sales-head", "fy27-q1");
  q1.breakdown_of_objective_id = "sales-fy";
  q1.priority = 1;
  plan.objectives = {annual, q1};
  plan.key_results = {
      Metric("fy-1", "sales-fy", "The conversion rate of sales transactions "
                                 "increased 15%",
             20, 23),
      Metric("fy-2", "sales-fy", "The average customer unit price has "
                                 "increased by 30%",
             100, 130),
      Metric("fy-3", "sales-fy", "Completed 10 major customers 10 million", 0,
             10),
      Metric("fy-4", "sales-fy", "Recruiting 50 outstanding sales elites", 0, 50),
      Metric("fy-5", "sales-fy", "The cumulative performance of the whole year "
                                 "exceeded 50 million",
             0, 50),
      Milestone("q1-1", "sales-q1", "Make the sales training plan by stages "
                                    "and implement it as planned"),
      Metric("q1-2", "sales-q1", "After taking part in the training, the "
                                 "passing rate of assessment is over 98%",
             80, 98, Direction::kAtLeast, Measure::kPercentComplete),
      Metric("q1-3", "sales-q1", "According to the business scenario, complete "
                                 "the role-playing for more than 3 times per "
                                 "sale",
             0, 3),
      Milestone("q1-4", "sales-q1", "Frequently Asked Questions on Production "
                                    "and Sales"),
  };
  return plan;
}

Objective& FindObjective(Plan& plan, absl::string_view id) {
  for (Objective& o : plan.objectives) {
    if (o.id == id) return o;
  }
  ADD_FAILURE() << "no objective " << id;
  return plan.objectives.front();
}

KeyResult& FindKeyResult(Plan& plan, absl::string_view id) {
  for (KeyResult& kr : plan.key_results) {
    if (kr.id == id) return kr;
  }
  ADD_FAILURE() << "no key result " << id;
  return plan.key_results.front();
}

// The findings of one rule.
std::vector<Finding> Only(const std::vector<Finding>& findings,
                          absl::string_view rule_id) {
  std::vector<Finding> out;
  for (const Finding& f : findings) {
    if (f.rule_id == rule_id) out.push_back(f);
  }
  return out;
}

std::vector<std::string> RuleIds(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const Finding& f : findings) out.push_back(f.rule_id);
  return out;
}

// Every finding names a listed rule with that rule's severity and target kind,
// and carries a message.
void ExpectConsistentWithRules(const std::vector<Finding>& findings) {
  for (const Finding& f : findings) {
    auto rules = LintRules();
    auto it = std::find_if(rules.begin(), rules.end(),
                           [&](const LintRule& r) { return r.id == f.rule_id; });
    ASSERT_NE(it, rules.end()) << f.rule_id;
    EXPECT_EQ(f.severity, it->severity) << f.rule_id;
    EXPECT_EQ(f.target_kind, it->target_kind) << f.rule_id;
    EXPECT_FALSE(f.message.empty()) << f.rule_id;
  }
}

// --- The rule list ----------------------------------------------------------

TEST(LintRulesTest, StableKebabCaseIdsWithDescriptions) {
  // Kebab case: lower-case words joined by single hyphens.
  auto is_kebab = [](const std::string& id) {
    if (id.empty() || id.front() == '-' || id.back() == '-') return false;
    for (size_t i = 0; i < id.size(); ++i) {
      const bool lower = id[i] >= 'a' && id[i] <= 'z';
      const bool hyphen = id[i] == '-' && id[i - 1] != '-';
      if (!lower && !hyphen) return false;
    }
    return true;
  };
  EXPECT_FALSE(is_kebab("Too-few"));
  EXPECT_FALSE(is_kebab("too--few"));
  EXPECT_FALSE(is_kebab("too_few"));
  std::set<std::string> ids;
  for (const LintRule& r : LintRules()) {
    const std::string id(r.id);
    EXPECT_TRUE(is_kebab(id)) << id;
    EXPECT_TRUE(ids.insert(id).second) << "duplicate " << id;
    EXPECT_GT(r.description.size(), 20u) << id;
    EXPECT_EQ(r.description.find('\n'), absl::string_view::npos) << id;
  }
  // The rules DESIGN.md section 5 asks for.
  for (const char* id :
       {"too-few-objectives", "too-many-objectives", "too-few-key-results",
        "too-many-key-results", "metric-without-range", "task-not-outcome",
        "missing-owner", "missing-level", "missing-time-period",
        "unaligned-objective", "unknown-data-source",
        "committed-without-stretch", "quarterly-not-linked-to-annual",
        "missing-mission-vision"}) {
    EXPECT_TRUE(ids.count(id)) << id;
  }
}

TEST(LintRulesTest, Names) {
  EXPECT_EQ(Name(LintSeverity::kInfo), "INFO");
  EXPECT_EQ(Name(LintSeverity::kWarning), "WARNING");
  EXPECT_EQ(Name(LintSeverity::kError), "ERROR");
  EXPECT_EQ(Name(LintTarget::kObjective), "OBJECTIVE");
  EXPECT_EQ(Name(LintTarget::kKeyResult), "KEY_RESULT");
  EXPECT_EQ(Name(LintTarget::kOwnerCycle), "OWNER_CYCLE");
}

// --- Clean examples ---------------------------------------------------------

TEST(LintPlanTest, RetailAnnualCompanyOkrsAreClean) {
  const Plan plan = RetailPlan();
  EXPECT_THAT(LintPlan(plan), IsEmpty());
}

TEST(LintPlanTest, DualityCascadeNeedsOnlyMoreObjectivesAndKeyResults) {
  const Plan plan = DualityPlan();
  std::vector<Finding> findings = LintPlan(plan);
  ExpectConsistentWithRules(findings);
  // The example shows one objective per person and one KR on the company
  // objective; everything else (alignment, ranges, stretch, data) is fine.
  EXPECT_THAT(RuleIds(findings),
              ElementsAre("too-few-objectives", "too-few-objectives",
                          "too-few-objectives", "too-few-key-results"));
  EXPECT_EQ(findings[3].target_id, "company");
}

// --- Owner and cycle --------------------------------------------------------

TEST(LintOwnerCycleTest, ThreeToFiveObjectives) {
  Plan plan = RetailPlan();
  EXPECT_THAT(Only(LintOwnerCycle(plan, "ceo", "fy27"), "too-few-objectives"),
              IsEmpty());

  // Nick has one objective in Q1.
  const Plan duality = DualityPlan();
  std::vector<Finding> few = Only(LintOwnerCycle(duality, "nick", "fy27-q1"),
                                  "too-few-objectives");
  ASSERT_THAT(few, SizeIs(1));
  EXPECT_EQ(few[0].severity, LintSeverity::kInfo);
  EXPECT_EQ(few[0].target_kind, LintTarget::kOwnerCycle);
  EXPECT_EQ(few[0].target_id, "nick");
  EXPECT_EQ(few[0].owner_id, "nick");
  EXPECT_EQ(few[0].cycle_id, "fy27-q1");
  EXPECT_EQ(few[0].message,
            "Nick, Director of Customer Success has 1 objective in cycle "
            "'FY2027-Q1'; aim for 3 to 5 that cover what matters most.");

  // Five is fine, six is too many; archived ones do not count.
  for (int i = 0; i < 2; ++i) {
    plan.objectives.push_back(Obj(absl::StrCat("extra", i), absl::StrCat("Extra ", i),
                                  Level::kCompany, "ceo", "fy27"));
  }
  EXPECT_THAT(Only(LintOwnerCycle(plan, "ceo", "fy27"), "too-many-objectives"),
              IsEmpty());
  plan.objectives.push_back(
      Obj("sixth", "Sixth objective", Level::kCompany, "ceo", "fy27"));
  std::vector<Finding> many =
      Only(LintOwnerCycle(plan, "ceo", "fy27"), "too-many-objectives");
  ASSERT_THAT(many, SizeIs(1));
  EXPECT_EQ(many[0].severity, LintSeverity::kWarning);
  EXPECT_THAT(many[0].message, HasSubstr("Alex, CEO has 6 objectives in cycle "
                                         "'FY2027'; keep 3 to 5"));
  FindObjective(plan, "sixth").state = ObjectiveState::kArchived;
  EXPECT_THAT(Only(LintOwnerCycle(plan, "ceo", "fy27"), "too-many-objectives"),
              IsEmpty());
}

TEST(LintOwnerCycleTest, CoversOnlyThatOwnersObjectivesInThatCycle) {
  Plan plan = DualityPlan();
  FindKeyResult(plan, "jane-kr2").data_source = DataSource::kUnknown;
  FindKeyResult(plan, "nick-kr2").data_source = DataSource::kUnknown;
  std::vector<Finding> findings = LintOwnerCycle(plan, "nick", "fy27-q1");
  EXPECT_THAT(findings, Each(Field(&Finding::owner_id, "nick")));
  EXPECT_THAT(RuleIds(findings),
              ElementsAre("too-few-objectives", "unknown-data-source"));
  EXPECT_EQ(findings[1].target_id, "nick-kr2");
  // An owner with nothing planned yet.
  EXPECT_THAT(RuleIds(LintOwnerCycle(plan, "sales-head", "fy27-q1")),
              ElementsAre("too-few-objectives"));
  EXPECT_THAT(LintOwnerCycle(plan, "sales-head", "fy27-q1")[0].message,
              HasSubstr("has 0 objectives"));
}

// --- Key result count -------------------------------------------------------

TEST(LintObjectiveTest, ThreeToFiveKeyResults) {
  Plan plan = DualityPlan();
  // The company objective carries the single KR shown in the example.
  std::vector<Finding> few =
      Only(LintObjective(plan, FindObjective(plan, "company")),
           "too-few-key-results");
  ASSERT_THAT(few, SizeIs(1));
  EXPECT_EQ(few[0].target_kind, LintTarget::kObjective);
  EXPECT_EQ(few[0].message,
            "Company objective \"Earn customer love and trust\" has 1 key "
            "result; write 3 to 5 measurable key results so that achieving "
            "all of them means the objective is achieved.");
  // Jane has three.
  EXPECT_THAT(Only(LintObjective(plan, FindObjective(plan, "jane-o")),
                   "too-few-key-results"),
              IsEmpty());
  // Five pass, six do not, an archived sixth does not count.
  for (int i = 4; i <= 5; ++i) {
    plan.key_results.push_back(Metric(absl::StrCat("jane-kr", i), "jane-o",
                                      absl::StrCat("Raise CSAT item ", i), 3, 4));
  }
  EXPECT_THAT(LintObjective(plan, FindObjective(plan, "jane-o")), IsEmpty());
  plan.key_results.push_back(
      Metric("jane-kr6", "jane-o", "Raise CSAT item 6", 3, 4));
  std::vector<Finding> many =
      Only(LintObjective(plan, FindObjective(plan, "jane-o")),
           "too-many-key-results");
  ASSERT_THAT(many, SizeIs(1));
  EXPECT_THAT(many[0].message, HasSubstr("has 6 key results; keep the 3 to 5"));
  FindKeyResult(plan, "jane-kr6").archived = true;
  EXPECT_THAT(LintObjective(plan, FindObjective(plan, "jane-o")), IsEmpty());
}

TEST(LintObjectiveTest, DraftNotYetInThePlan) {
  const Plan plan = RetailPlan();
  Objective draft = Obj("", "Delight customers in every channel",
                        Level::kCompany, "ceo", "fy27");
  EXPECT_THAT(RuleIds(LintObjective(plan, draft)),
              ElementsAre("too-few-key-results"));
}

// --- Key results ------------------------------------------------------------

TEST(LintKeyResultTest, MetricWithoutUsableRange) {
  Plan plan = RetailPlan();
  EXPECT_THAT(Only(LintPlan(plan), "metric-without-range"), IsEmpty());
  // Imported without numbers: from == to == 0.
  KeyResult& kr = FindKeyResult(plan, "new-3");
  kr.from = 0;
  kr.to = 0;
  std::vector<Finding> f = Only(LintPlan(plan), "metric-without-range");
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].severity, LintSeverity::kError);
  EXPECT_EQ(f[0].target_kind, LintTarget::kKeyResult);
  EXPECT_EQ(f[0].target_id, "new-3");
  EXPECT_EQ(f[0].objective_id, "new");
  EXPECT_THAT(f[0].message,
              HasSubstr("Key result \"Increase the number of out-of-store "
                        "adverts from 3 to 5 in all geographies\" is a metric "
                        "without a usable from/to (from 0, to 0"));
  // Against its direction, or not finite.
  kr.from = 5;
  kr.to = 3;
  kr.direction = Direction::kIncrease;
  EXPECT_THAT(Only(LintPlan(plan), "metric-without-range"), SizeIs(1));
  kr.direction = Direction::kUnspecified;
  kr.to = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(Only(LintPlan(plan), "metric-without-range"), SizeIs(1));
  // A threshold needs no distinct start value ("Maintain an NPS score
  // greater than 8").
  kr.from = 8;
  kr.to = 8;
  kr.direction = Direction::kAtLeast;
  EXPECT_THAT(Only(LintPlan(plan), "metric-without-range"), IsEmpty());
  // Milestones have no range to check.
  EXPECT_THAT(Only(LintPlan(plan), "metric-without-range"),
              Not(Contains(Field(&Finding::target_id, "new-1"))));
}

TEST(LintKeyResultTest, TaskRatherThanOutcome) {
  // The sales Q1 breakdown: "Make the sales training plan by stages and
  // implement it as planned" is a task; the other KRs are outcomes, or state
  // a number ("complete the role-playing for more than 3 times").
  Plan plan = SalesBreakdownPlan();
  std::vector<Finding> f = Only(LintPlan(plan), "task-not-outcome");
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].target_id, "q1-1");
  EXPECT_EQ(f[0].severity, LintSeverity::kWarning);
  EXPECT_THAT(f[0].message,
              AllOf(HasSubstr("\"Make the sales training plan by stages and "
                              "implement it as planned\" reads as a task "
                              "(\"make ...\")"),
                    HasSubstr("a milestone may be binary")));

  // The cascades' activity-verb KRs all state a number and pass: "Develop an
  // action plan with 3 improvements", "Deploy ... to 100% of new customers",
  // "Make customer office hour training sessions available 4x week".
  Plan duality = DualityPlan();
  EXPECT_THAT(Only(LintPlan(duality), "task-not-outcome"), IsEmpty());
  Plan classic = BasePlan();
  classic.objectives = {Obj("nick-c", ">4.5 CSAT score on implementations",
                            Level::kIndividual, "nick", "fy27-q1")};
  classic.key_results = {
      Milestone("c1", "nick-c", "Deploy new onboarding and implementation "
                                "process to 100% of new customers"),
      Milestone("c2", "nick-c", "Implement new customer community with 65% "
                                "engagement rate"),
      Milestone("c3", "nick-c", "Make customer office hour training sessions "
                                "available 4x week"),
  };
  EXPECT_THAT(Only(LintPlan(classic), "task-not-outcome"), IsEmpty());

  // Without the numbers they read as tasks. "Q1" is a period, not a measure.
  classic.key_results[0].title = "Deploy the new onboarding process by end of Q1";
  classic.key_results[1].title = "  launch: new customer community";
  f = Only(LintPlan(classic), "task-not-outcome");
  EXPECT_THAT(f, ElementsAre(Field(&Finding::target_id, "c1"),
                             Field(&Finding::target_id, "c2")));
  EXPECT_THAT(f[1].message, HasSubstr("(\"launch ...\")"));

  // A metric KR with a usable from/to is measurable whatever its verb.
  classic.key_results[0] =
      Metric("c1", "nick-c", "Deploy the new onboarding process", 0, 100,
             Direction::kIncrease, Measure::kPercentComplete);
  EXPECT_THAT(Only(LintPlan(classic), "task-not-outcome"),
              ElementsAre(Field(&Finding::target_id, "c2")));
}

TEST(LintKeyResultTest, UnknownDataSource) {
  Plan plan = RetailPlan();
  FindKeyResult(plan, "churn-3").data_source = DataSource::kUnknown;
  std::vector<Finding> f = Only(LintPlan(plan), "unknown-data-source");
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].target_id, "churn-3");
  EXPECT_EQ(f[0].target_kind, LintTarget::kKeyResult);
  EXPECT_THAT(f[0].message, HasSubstr("has an UNKNOWN data source; decide "
                                      "where its updates will come from"));
  FindKeyResult(plan, "churn-3").data_source = DataSource::kIntegration;
  EXPECT_THAT(Only(LintPlan(plan), "unknown-data-source"), IsEmpty());
}

// --- PLOT -------------------------------------------------------------------

TEST(LintObjectiveTest, MissingOwnerLevelAndTimePeriod) {
  Plan plan = RetailPlan();
  Objective o = FindObjective(plan, "churn");
  EXPECT_THAT(LintObjective(plan, o), IsEmpty());

  o.owner_id = "";
  std::vector<Finding> f = LintObjective(plan, o);
  ASSERT_THAT(RuleIds(f), ElementsAre("missing-owner"));
  EXPECT_EQ(f[0].severity, LintSeverity::kError);
  EXPECT_EQ(f[0].message,
            "Company objective \"Reduce churn of existing customers from 40% "
            "to 20%\" has no owner; name the person responsible for its "
            "success (the O of PLOT).");

  o = FindObjective(plan, "churn");
  o.level = Level::kUnspecified;
  EXPECT_THAT(RuleIds(LintObjective(plan, o)), ElementsAre("missing-level"));

  o = FindObjective(plan, "churn");
  o.cycle_id = "";
  f = LintObjective(plan, o);
  ASSERT_THAT(RuleIds(f), ElementsAre("missing-time-period"));
  EXPECT_THAT(f[0].message, HasSubstr("has no time period"));
  o.cycle_id = "fy1999";
  f = LintObjective(plan, o);
  ASSERT_THAT(RuleIds(f), ElementsAre("missing-time-period"));
  EXPECT_THAT(f[0].message, HasSubstr("names cycle 'fy1999', which is not in "
                                      "the plan"));
}

TEST(LintObjectiveTest, TeamAndIndividualObjectivesMustBeAligned) {
  Plan plan = DualityPlan();
  EXPECT_THAT(Only(LintPlan(plan), "unaligned-objective"), IsEmpty());
  // Jane's objective without the Duality link.
  FindObjective(plan, "jane-o").alignment = Alignment{};
  std::vector<Finding> f = Only(LintPlan(plan), "unaligned-objective");
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].target_id, "jane-o");
  EXPECT_THAT(f[0].message,
              HasSubstr("Individual objective \"Increase customer retention "
                        "rate to 99%\" is not aligned to anything"));
  // Company objectives are roots.
  EXPECT_THAT(f, Not(Contains(Field(&Finding::target_id, "company"))));

  // The sales department's annual team objective is aligned to nothing; its
  // Q1 breakdown counts as linked.
  const Plan sales = SalesBreakdownPlan();
  f = Only(LintPlan(sales), "unaligned-objective");
  EXPECT_THAT(f, ElementsAre(Field(&Finding::target_id, "sales-fy")));
  EXPECT_THAT(f[0].message, HasSubstr("Team objective"));
}

// --- Time ---------------------------------------------------------------------

TEST(LintObjectiveTest, QuarterlyObjectiveLinkedToAnnual) {
  // Linked by breakdown (sales) or by a chain of alignments (Nick -> Jane ->
  // the company's annual objective).
  EXPECT_THAT(Only(LintPlan(SalesBreakdownPlan()),
                   "quarterly-not-linked-to-annual"),
              IsEmpty());
  EXPECT_THAT(Only(LintPlan(DualityPlan()), "quarterly-not-linked-to-annual"),
              IsEmpty());

  Plan sales = SalesBreakdownPlan();
  FindObjective(sales, "sales-q1").breakdown_of_objective_id = "";
  std::vector<Finding> f = Only(LintPlan(sales), "quarterly-not-linked-to-annual");
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].target_id, "sales-q1");
  EXPECT_THAT(f[0].message,
              HasSubstr("\"Improve the business ability of the sales team\" "
                        "in quarterly cycle 'FY2027-Q1' is not linked to an "
                        "annual objective"));

  // Cutting Jane loose unlinks Nick too: his chain now ends in a quarter.
  Plan duality = DualityPlan();
  FindObjective(duality, "jane-o").alignment = Alignment{};
  f = Only(LintPlan(duality), "quarterly-not-linked-to-annual");
  EXPECT_THAT(f, ElementsAre(Field(&Finding::target_id, "jane-o"),
                             Field(&Finding::target_id, "nick-o")));

  // Annual objectives are not subject to the rule.
  EXPECT_THAT(f, Not(Contains(Field(&Finding::target_id, "company"))));
  // An archived annual objective anchors nothing: the breakdown of an
  // archived annual objective is not linked.
  Plan archived = SalesBreakdownPlan();
  FindObjective(archived, "sales-fy").state = ObjectiveState::kArchived;
  f = Only(LintPlan(archived), "quarterly-not-linked-to-annual");
  EXPECT_THAT(f, Contains(Field(&Finding::target_id, "sales-q1")));
}

TEST(LintObjectiveTest, QuarterlyLinkSurvivesStoredLoops) {
  Plan plan = DualityPlan();
  // A loop between two quarterly objectives must not hang the walk.
  plan.objectives.push_back(AlignedTo(
      Obj("x", "X", Level::kTeam, "jane", "fy27-q1"), "y"));
  plan.objectives.push_back(AlignedTo(
      Obj("y", "Y", Level::kTeam, "jane", "fy27-q1"), "x"));
  std::vector<Finding> f = Only(LintPlan(plan), "quarterly-not-linked-to-annual");
  EXPECT_THAT(f, UnorderedElementsAre(Field(&Finding::target_id, "x"),
                                      Field(&Finding::target_id, "y")));
}

// --- Stretch ----------------------------------------------------------------

TEST(LintObjectiveTest, CommittedObjectiveMustStretch) {
  // Nick's committed objective: 72 -> 24 hours and 88% -> 100% stretch.
  Plan plan = DualityPlan();
  EXPECT_THAT(Only(LintPlan(plan), "committed-without-stretch"), IsEmpty());

  // Targets that barely move: 72 -> 70 hours (2.8%), 97 -> 100 points (3 of
  // 100), and a threshold already met at its start value.
  FindKeyResult(plan, "nick-kr1").to = 70;
  FindKeyResult(plan, "nick-kr2").from = 97;
  plan.key_results.push_back(Metric("nick-kr4", "nick-o",
                                    "Maintain an NPS score greater than 8", 8.6,
                                    8, Direction::kAtLeast));
  std::vector<Finding> f = Only(LintPlan(plan), "committed-without-stretch");
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].target_id, "nick-o");
  EXPECT_EQ(f[0].severity, LintSeverity::kWarning);
  EXPECT_THAT(f[0].message,
              HasSubstr("each of its 3 metric key results is already met at "
                        "its start value or moves it by less than 5%"));

  // One stretching KR is enough: 72 -> 68 is 5.6%.
  FindKeyResult(plan, "nick-kr1").to = 68;
  EXPECT_THAT(Only(LintPlan(plan), "committed-without-stretch"), IsEmpty());
  FindKeyResult(plan, "nick-kr1").to = 70;

  // A threshold not yet met stretches.
  FindKeyResult(plan, "nick-kr4").from = 7;
  EXPECT_THAT(Only(LintPlan(plan), "committed-without-stretch"), IsEmpty());
  FindKeyResult(plan, "nick-kr4").from = 8.6;

  // Aspirational objectives are not judged.
  FindObjective(plan, "nick-o").kind = ObjectiveKind::kAspirational;
  EXPECT_THAT(Only(LintPlan(plan), "committed-without-stretch"), IsEmpty());
}

TEST(LintObjectiveTest, StretchIgnoresMilestonesAndStartsFromZero) {
  Plan plan = BasePlan();
  plan.objectives = {Obj("o", "Open the flagship store", Level::kCompany, "ceo",
                         "fy27", ObjectiveKind::kCommitted)};
  plan.key_results = {
      Milestone("m1", "o", "Flagship store open to the public"),
      Milestone("m2", "o", "Grand opening attended by the press"),
      Milestone("m3", "o", "Store team fully staffed"),
  };
  EXPECT_THAT(Only(LintPlan(plan), "committed-without-stretch"), IsEmpty());
  // From zero any target is a stretch.
  plan.key_results.push_back(
      Metric("k", "o", "Grow loyalty members from 0 to 10", 0, 10));
  EXPECT_THAT(Only(LintPlan(plan), "committed-without-stretch"), IsEmpty());
}

// --- Mission and vision -----------------------------------------------------

TEST(LintObjectiveTest, CompanyObjectiveNeedsMissionAndVision) {
  Plan plan = RetailPlan();
  EXPECT_THAT(Only(LintPlan(plan), "missing-mission-vision"), IsEmpty());
  plan.organisation.vision = "  ";
  std::vector<Finding> f = Only(LintPlan(plan), "missing-mission-vision");
  ASSERT_THAT(f, SizeIs(3));  // one per company objective
  EXPECT_THAT(f[0].message,
              HasSubstr("Company objective \"Drive sales contribution of new "
                        "customers from 10% to 20%\" has no organisation vision "
                        "to connect to"));
  plan.organisation.mission = "";
  f = Only(LintPlan(plan), "missing-mission-vision");
  EXPECT_THAT(f[0].message, HasSubstr("no organisation mission and vision"));

  // Team objectives are not affected.
  Plan sales = SalesBreakdownPlan();
  sales.organisation.mission = "";
  sales.organisation.vision = "";
  EXPECT_THAT(Only(LintPlan(sales), "missing-mission-vision"), IsEmpty());
}

// --- Whole plan -------------------------------------------------------------

TEST(LintPlanTest, EveryRuleFiresOnABadPlanInADeterministicOrder) {
  Plan plan = DualityPlan();
  plan.organisation.mission = "";
  FindObjective(plan, "jane-o").alignment = Alignment{};
  FindKeyResult(plan, "nick-kr1").to = 70;
  FindKeyResult(plan, "nick-kr2").from = 99;
  FindKeyResult(plan, "jane-kr2").to = 7;  // from == to
  FindKeyResult(plan, "jane-kr3").data_source = DataSource::kUnknown;
  plan.key_results.push_back(
      Milestone("nick-kr4", "nick-o", "Hold a customer workshop"));
  for (int i = 5; i <= 7; ++i) {
    plan.key_results.push_back(Metric(absl::StrCat("nick-kr", i), "nick-o",
                                      absl::StrCat("Lower churn ", i), 10, 9.9));
  }
  for (int i = 0; i < 6; ++i) {
    plan.objectives.push_back(Obj(absl::StrCat("ceo-", i), "Extra", Level::kCompany,
                                  "ceo", "fy27"));
  }
  Objective orphan = Obj("orphan", "No owner, no level, no cycle",
                         Level::kUnspecified, "", "");
  plan.objectives.push_back(orphan);
  Objective archived = orphan;
  archived.id = "archived";
  archived.state = ObjectiveState::kArchived;
  plan.objectives.push_back(archived);

  const std::vector<Finding> findings = LintPlan(plan);
  ExpectConsistentWithRules(findings);
  std::set<std::string> fired;
  for (const Finding& f : findings) fired.insert(f.rule_id);
  std::set<std::string> all;
  for (const LintRule& r : LintRules()) all.insert(std::string(r.id));
  EXPECT_EQ(fired, all);
  EXPECT_THAT(findings, Not(Contains(Field(&Finding::target_id, "archived"))));

  // Owner-and-cycle findings come first, in order of first appearance.
  ASSERT_GE(findings.size(), 3u);
  EXPECT_EQ(findings[0].target_kind, LintTarget::kOwnerCycle);
  EXPECT_EQ(findings[0].target_id, "ceo");
  EXPECT_EQ(findings[0].rule_id, "too-many-objectives");
  EXPECT_EQ(findings[1].target_id, "jane");
  EXPECT_EQ(findings[2].target_id, "nick");
  EXPECT_EQ(findings[3].target_kind, LintTarget::kObjective);
  // Same input, same output.
  const std::vector<Finding> again = LintPlan(plan);
  ASSERT_EQ(again.size(), findings.size());
  for (size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].rule_id, findings[i].rule_id);
    EXPECT_EQ(again[i].target_id, findings[i].target_id);
    EXPECT_EQ(again[i].message, findings[i].message);
  }
}

TEST(LintPlanTest, DeepChainsStayLinear) {
  // 10,000 quarterly objectives aligned in a chain under one annual objective.
  Plan plan = BasePlan();
  plan.objectives.push_back(
      Obj("root", "Annual root", Level::kCompany, "ceo", "fy27"));
  for (int i = 0; i < 10000; ++i) {
    plan.objectives.push_back(AlignedTo(
        Obj(absl::StrCat("q", i), absl::StrCat("Quarterly ", i), Level::kTeam,
            "jane", "fy27-q1"),
        i == 0 ? "root" : absl::StrCat("q", i - 1)));
  }
  EXPECT_THAT(Only(LintPlan(plan), "quarterly-not-linked-to-annual"), IsEmpty());
  plan.objectives[1].alignment = Alignment{};  // cut the chain at the top
  EXPECT_THAT(Only(LintPlan(plan), "quarterly-not-linked-to-annual"),
              SizeIs(10000));
}

}  // namespace
}  // namespace okr
