// Lint, lint rules, the planning timeline and templates through Planning,
// over the in-memory store.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/calendar.h"
#include "common/lint.h"
#include "common/validation.h"
#include "services/planning/planning.h"
#include "services/planning/templates.h"
#include "tests/services/planning/planning_test_util.h"
#include "tests/support/test_support.h"

namespace okr::planning {
namespace {

int Rank(LintSeverity s) {
  return s == LintSeverity::kError ? 2 : s == LintSeverity::kWarning ? 1 : 0;
}

std::vector<std::string> FieldsOf(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolationsOf(status)) {
    fields.push_back(v.field);
  }
  return fields;
}

class PlanningEditingTest : public PlanningTest {
 protected:
  PlanningEditingTest() {
    jane_ = MakePerson("Jane");
    nick_ = MakePerson("Nick");
    fy_ = MakeFiscalYear(2027);
  }

  const Cycle& Q(int n) const { return fy_.quarters.at(n - 1); }

  std::vector<std::string> RuleIds(const LintResult& result) {
    std::vector<std::string> ids;
    for (const Finding& f : result.findings) ids.push_back(f.rule_id);
    return ids;
  }

  // Walks a cycle through ACTIVE and REVIEW to CLOSED.
  void CloseCycle(const Id& id) {
    for (CycleState next :
         {CycleState::kActive, CycleState::kReview, CycleState::kClosed}) {
      absl::StatusOr<Cycle> c = planning_->GetCycle(kOrg, id);
      ASSERT_TRUE(c.ok()) << c.status();
      OKR_ASSERT_OK(planning_->UpdateCycleState(kOrg, id, next, c->version));
    }
  }

  Person jane_;
  Person nick_;
  FiscalYear fy_;
};

// --- Lint: one objective ----------------------------------------------------------

TEST_F(PlanningEditingTest, LintObjectiveReportsTheObjectivesFindingsOnly) {
  const Objective annual = MakeObjective("Earn customer love and trust",
                                         fy_.year.id, jane_.id);
  MakeKeyResult(annual.id, "Increase customer retention rate from 95% to 99%",
                95, 99);
  // Another objective with its own problems, which must not show up.
  const Objective other =
      MakeObjective("Grow revenue", fy_.year.id, nick_.id);

  LintQuery query;
  query.scope = LintScope::kObjective;
  query.objective_id = annual.id;
  OKR_ASSERT_OK_AND_ASSIGN(LintResult result, planning_->Lint(kOrg, query));
  EXPECT_EQ(result.objectives_checked, 1);
  EXPECT_FALSE(result.truncated);
  ASSERT_FALSE(result.findings.empty());
  for (const Finding& f : result.findings) {
    EXPECT_EQ(f.objective_id, annual.id) << f.rule_id;
    // Owner-and-cycle counts belong to the other scopes.
    EXPECT_NE(f.target_kind, LintTarget::kOwnerCycle) << f.rule_id;
  }
  // One key result where the guide asks for three to five.
  const std::vector<std::string> ids = RuleIds(result);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "too-few-key-results"),
            ids.end());
}

TEST_F(PlanningEditingTest, LintObjectiveErrors) {
  LintQuery query;
  query.scope = LintScope::kObjective;
  absl::StatusOr<LintResult> missing = planning_->Lint(kOrg, query);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(missing.status()),
            std::vector<std::string>{"objective_id"});

  query.objective_id = "ob-nope";
  absl::StatusOr<LintResult> unknown = planning_->Lint(kOrg, query);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(unknown.status().message(), "objective_id"))
      << unknown.status();

  absl::StatusOr<LintResult> no_org = planning_->Lint("nobody", query);
  EXPECT_EQ(no_org.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PlanningEditingTest, ArchivedObjectivesAreNotLinted) {
  const Objective kept = MakeObjective("Kept", fy_.year.id, jane_.id);
  const Objective gone = MakeObjective("Gone", fy_.year.id, jane_.id);
  OKR_ASSERT_OK(planning_->ArchiveObjective(kOrg, gone.id, gone.version));

  LintQuery one;
  one.scope = LintScope::kObjective;
  one.objective_id = gone.id;
  OKR_ASSERT_OK_AND_ASSIGN(LintResult archived, planning_->Lint(kOrg, one));
  EXPECT_EQ(archived.objectives_checked, 0);
  EXPECT_TRUE(archived.findings.empty());

  LintQuery all;
  OKR_ASSERT_OK_AND_ASSIGN(LintResult org, planning_->Lint(kOrg, all));
  EXPECT_EQ(org.objectives_checked, 1);
  for (const Finding& f : org.findings) {
    EXPECT_NE(f.objective_id, gone.id) << f.rule_id;
    EXPECT_NE(f.target_id, gone.id) << f.rule_id;
  }
  EXPECT_TRUE(std::any_of(org.findings.begin(), org.findings.end(),
                          [&](const Finding& f) {
                            return f.objective_id == kept.id;
                          }));
}

// --- Lint: owner and cycle ---------------------------------------------------------

TEST_F(PlanningEditingTest, LintOwnerCycleCountsTheOwnersObjectives) {
  MakeObjective("One", Q(1).id, jane_.id, Level::kTeam);
  MakeObjective("Two", Q(1).id, jane_.id, Level::kTeam);
  MakeObjective("Elsewhere", Q(2).id, jane_.id, Level::kTeam);
  MakeObjective("Nick's", Q(1).id, nick_.id, Level::kTeam);

  LintQuery query;
  query.scope = LintScope::kOwnerCycle;
  query.owner_id = jane_.id;
  query.cycle_id = Q(1).id;
  OKR_ASSERT_OK_AND_ASSIGN(LintResult result, planning_->Lint(kOrg, query));
  EXPECT_EQ(result.objectives_checked, 2);
  int counts = 0;
  for (const Finding& f : result.findings) {
    EXPECT_EQ(f.owner_id, jane_.id) << f.rule_id;
    EXPECT_EQ(f.cycle_id, Q(1).id) << f.rule_id;
    if (f.target_kind == LintTarget::kOwnerCycle) {
      ++counts;
      EXPECT_EQ(f.rule_id, "too-few-objectives");
      EXPECT_EQ(f.target_id, jane_.id);
      EXPECT_TRUE(absl::StrContains(f.message, "2 objectives")) << f.message;
    }
  }
  EXPECT_EQ(counts, 1);
}

TEST_F(PlanningEditingTest, LintOwnerCycleErrors) {
  LintQuery query;
  query.scope = LintScope::kOwnerCycle;
  absl::StatusOr<LintResult> empty = planning_->Lint(kOrg, query);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(empty.status()),
            (std::vector<std::string>{"owner_cycle.owner_id",
                                      "owner_cycle.cycle_id"}));

  query.owner_id = "pe-nope";
  query.cycle_id = Q(1).id;
  absl::StatusOr<LintResult> owner = planning_->Lint(kOrg, query);
  EXPECT_EQ(owner.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(owner.status().message(),
                                "owner_cycle.owner_id"))
      << owner.status();

  query.owner_id = jane_.id;
  query.cycle_id = "cy-nope";
  absl::StatusOr<LintResult> cycle = planning_->Lint(kOrg, query);
  EXPECT_EQ(cycle.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(cycle.status().message(),
                                "owner_cycle.cycle_id"))
      << cycle.status();
}

// --- Lint: organisation --------------------------------------------------------------

TEST_F(PlanningEditingTest, LintOrganisationScopesByCycleAndSkipsClosedCycles) {
  const Objective annual = MakeObjective("Annual", fy_.year.id, jane_.id);
  MakeObjective("Q1 work", Q(1).id, jane_.id, Level::kTeam);
  MakeObjective("Q2 work", Q(2).id, nick_.id, Level::kTeam);

  LintQuery q1;
  q1.cycle_id = Q(1).id;
  OKR_ASSERT_OK_AND_ASSIGN(LintResult only_q1, planning_->Lint(kOrg, q1));
  EXPECT_EQ(only_q1.objectives_checked, 1);
  ASSERT_FALSE(only_q1.findings.empty());
  for (const Finding& f : only_q1.findings) {
    EXPECT_EQ(f.cycle_id, Q(1).id) << f.rule_id;
  }
  // The unlinked quarterly objective is judged against the whole plan.
  const std::vector<std::string> ids = RuleIds(only_q1);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "quarterly-not-linked-to-annual"),
            ids.end());

  LintQuery everything;
  OKR_ASSERT_OK_AND_ASSIGN(LintResult before, planning_->Lint(kOrg, everything));
  EXPECT_EQ(before.objectives_checked, 3);

  CloseCycle(Q(2).id);
  OKR_ASSERT_OK_AND_ASSIGN(LintResult after, planning_->Lint(kOrg, everything));
  EXPECT_EQ(after.objectives_checked, 2);
  for (const Finding& f : after.findings) {
    EXPECT_NE(f.cycle_id, Q(2).id) << f.rule_id;
  }
  // Asked for by name, a closed cycle is still linted.
  LintQuery q2;
  q2.cycle_id = Q(2).id;
  OKR_ASSERT_OK_AND_ASSIGN(LintResult closed, planning_->Lint(kOrg, q2));
  EXPECT_EQ(closed.objectives_checked, 1);

  LintQuery unknown;
  unknown.cycle_id = "cy-nope";
  EXPECT_EQ(planning_->Lint(kOrg, unknown).status().code(),
            absl::StatusCode::kNotFound);
  (void)annual;
}

TEST_F(PlanningEditingTest, LintFiltersSortsAndTruncates) {
  for (int i = 0; i < 4; ++i) {
    MakeObjective(absl::StrCat("Team objective ", i), Q(1).id, jane_.id,
                  Level::kTeam);
  }
  LintQuery query;
  OKR_ASSERT_OK_AND_ASSIGN(LintResult all, planning_->Lint(kOrg, query));
  ASSERT_GE(all.findings.size(), 8u);
  EXPECT_FALSE(all.truncated);
  for (size_t i = 1; i < all.findings.size(); ++i) {
    EXPECT_GE(Rank(all.findings[i - 1].severity),
              Rank(all.findings[i].severity))
        << "most severe first";
  }

  query.max_findings = 3;
  OKR_ASSERT_OK_AND_ASSIGN(LintResult three, planning_->Lint(kOrg, query));
  EXPECT_TRUE(three.truncated);
  ASSERT_EQ(three.findings.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(three.findings[i].rule_id, all.findings[i].rule_id);
    EXPECT_EQ(three.findings[i].target_id, all.findings[i].target_id);
  }
  EXPECT_EQ(three.objectives_checked, all.objectives_checked);

  LintQuery warnings;
  warnings.minimum_severity = LintSeverity::kWarning;
  warnings.disabled_rule_ids = {"unaligned-objective"};
  OKR_ASSERT_OK_AND_ASSIGN(LintResult filtered,
                           planning_->Lint(kOrg, warnings));
  size_t expected = 0;
  for (const Finding& f : all.findings) {
    if (f.severity != LintSeverity::kInfo && f.rule_id != "unaligned-objective")
      ++expected;
  }
  EXPECT_EQ(filtered.findings.size(), expected);
  EXPECT_LT(filtered.findings.size(), all.findings.size());
  for (const Finding& f : filtered.findings) {
    EXPECT_NE(f.severity, LintSeverity::kInfo);
    EXPECT_NE(f.rule_id, "unaligned-objective");
  }
}

TEST_F(PlanningEditingTest, LintRefusesUnknownRulesAndNegativeLimits) {
  LintQuery query;
  query.disabled_rule_ids = {"too-few-key-results", "no-such-rule"};
  query.max_findings = -1;
  absl::StatusOr<LintResult> result = planning_->Lint(kOrg, query);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(result.status()),
            (std::vector<std::string>{"disabled_rule_ids[1]", "max_findings"}));
  EXPECT_TRUE(absl::StrContains(result.status().message(), "unknown rule"))
      << result.status();

  // Limits above 10,000 are capped, not refused.
  LintQuery big;
  big.max_findings = 50000;
  OKR_EXPECT_OK(planning_->Lint(kOrg, big));
}

TEST_F(PlanningEditingTest, LintRulesArePagedInIdOrder) {
  std::vector<std::string> seen;
  PageRequest page;
  page.page_size = 4;
  int pages = 0;
  do {
    OKR_ASSERT_OK_AND_ASSIGN(Page<LintRule> got,
                             planning_->ListLintRules(page));
    EXPECT_EQ(got.total_size, static_cast<int>(LintRules().size()));
    EXPECT_LE(got.items.size(), 4u);
    for (const LintRule& r : got.items) seen.emplace_back(r.id);
    page.page_token = got.next_page_token;
    ASSERT_LT(++pages, 100);
  } while (!page.page_token.empty());
  std::vector<std::string> expected;
  for (const LintRule& r : LintRules()) expected.emplace_back(r.id);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(seen, expected);

  PageRequest bad;
  bad.page_token = "garbage";
  EXPECT_EQ(planning_->ListLintRules(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- Planning timeline ---------------------------------------------------------------

TEST_F(PlanningEditingTest, TimelineUsesTheOrganisationsCalendarAndProfile) {
  OKR_ASSERT_OK_AND_ASSIGN(
      PlanningTimelineResult small,
      planning_->GetPlanningTimeline(kOrg, 2027, PlanningProfile::kUnspecified));
  EXPECT_EQ(small.profile, PlanningProfile::kSmall);
  EXPECT_EQ(small.fiscal_year_start, absl::CivilDay(2027, 1, 1));
  ASSERT_FALSE(small.milestones.empty());
  // Small brands start four to six weeks ahead.
  EXPECT_GE(small.fiscal_year_start - small.milestones.front().start, 28);
  EXPECT_LE(small.fiscal_year_start - small.milestones.front().start, 42);

  OKR_ASSERT_OK_AND_ASSIGN(
      PlanningTimelineResult enterprise,
      planning_->GetPlanningTimeline(kOrg, 2027, PlanningProfile::kEnterprise));
  EXPECT_EQ(enterprise.profile, PlanningProfile::kEnterprise);
  ASSERT_FALSE(enterprise.milestones.empty());
  // Enterprises start two to three months ahead.
  EXPECT_GE(enterprise.fiscal_year_start - enterprise.milestones.front().start,
            59);
  EXPECT_LE(enterprise.fiscal_year_start - enterprise.milestones.front().start,
            92);

  // A retailer's fiscal year from February: FY2027 starts on 1 Feb 2026.
  OKR_ASSERT_OK_AND_ASSIGN(Organisation org, planning_->GetOrganisation(kOrg));
  Organisation values;
  values.fiscal_year_start_month = 2;
  OKR_ASSERT_OK(planning_->UpdateOrganisation(
      kOrg, values, {"fiscal_year_start_month"}, org.version));
  OKR_ASSERT_OK_AND_ASSIGN(
      PlanningTimelineResult retail,
      planning_->GetPlanningTimeline(kOrg, 2027, PlanningProfile::kSmall));
  EXPECT_EQ(retail.fiscal_year_start, absl::CivilDay(2026, 2, 1));
  ASSERT_EQ(retail.milestones.size(), small.milestones.size());
  for (size_t i = 0; i < retail.milestones.size(); ++i) {
    EXPECT_EQ(retail.milestones[i].id, small.milestones[i].id);
    EXPECT_LT(retail.milestones[i].start, small.milestones[i].start);
  }
}

TEST_F(PlanningEditingTest, TimelineErrors) {
  for (int year : {1969, 9999, 0, -2027}) {
    absl::StatusOr<PlanningTimelineResult> r =
        planning_->GetPlanningTimeline(kOrg, year, PlanningProfile::kSmall);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << year;
    EXPECT_EQ(FieldsOf(r.status()), std::vector<std::string>{"fiscal_year"});
  }
  OKR_EXPECT_OK(
      planning_->GetPlanningTimeline(kOrg, 1970, PlanningProfile::kSmall));
  OKR_EXPECT_OK(
      planning_->GetPlanningTimeline(kOrg, 9998, PlanningProfile::kEnterprise));
  EXPECT_EQ(planning_->GetPlanningTimeline("nobody", 2027,
                                           PlanningProfile::kSmall)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

// --- Templates ---------------------------------------------------------------------

TEST_F(PlanningEditingTest, ListTemplatesPagesEverythingByCategoryThenFunction) {
  std::vector<OkrTemplate> seen;
  PageRequest page;
  page.page_size = 4;
  int pages = 0;
  do {
    OKR_ASSERT_OK_AND_ASSIGN(Page<OkrTemplate> got,
                             planning_->ListTemplates({}, page));
    EXPECT_EQ(got.total_size, static_cast<int>(Templates().size()));
    seen.insert(seen.end(), got.items.begin(), got.items.end());
    page.page_token = got.next_page_token;
    ASSERT_LT(++pages, 100);
  } while (!page.page_token.empty());
  ASSERT_EQ(seen.size(), Templates().size());
  std::set<std::string> ids;
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_TRUE(ids.insert(seen[i].id).second) << seen[i].id;
    if (i == 0) continue;
    const OkrTemplate& a = seen[i - 1];
    const OkrTemplate& b = seen[i];
    ASSERT_LE(static_cast<int>(a.category), static_cast<int>(b.category));
    if (a.category == b.category) {
      EXPECT_LE(absl::AsciiStrToLower(a.function),
                absl::AsciiStrToLower(b.function));
    }
  }
}

TEST_F(PlanningEditingTest, ListTemplatesFilters) {
  TemplateFilter people;
  people.category = Category::kPeople;
  OKR_ASSERT_OK_AND_ASSIGN(Page<OkrTemplate> got,
                           planning_->ListTemplates(people, {}));
  int expected = 0;
  for (const OkrTemplate& t : Templates()) {
    if (t.category == Category::kPeople) ++expected;
  }
  ASSERT_GT(expected, 0);
  EXPECT_EQ(got.total_size, expected);
  ASSERT_EQ(static_cast<int>(got.items.size()), expected);
  for (const OkrTemplate& t : got.items) EXPECT_EQ(t.category, Category::kPeople);

  TemplateFilter function;
  function.function = "customer SUCCESS";
  OKR_ASSERT_OK_AND_ASSIGN(Page<OkrTemplate> cs,
                           planning_->ListTemplates(function, {}));
  ASSERT_GE(cs.items.size(), 5u);
  for (const OkrTemplate& t : cs.items) EXPECT_EQ(t.function, "Customer success");

  // NONE means any category, as in the API.
  TemplateFilter none;
  none.category = Category::kNone;
  OKR_ASSERT_OK_AND_ASSIGN(Page<OkrTemplate> any,
                           planning_->ListTemplates(none, {}));
  EXPECT_EQ(any.total_size, static_cast<int>(Templates().size()));

  TemplateFilter nothing;
  nothing.function = "Astrology";
  OKR_ASSERT_OK_AND_ASSIGN(Page<OkrTemplate> empty,
                           planning_->ListTemplates(nothing, {}));
  EXPECT_EQ(empty.total_size, 0);
  EXPECT_TRUE(empty.items.empty());
  EXPECT_TRUE(empty.next_page_token.empty());

  // A token is bound to its filters.
  PageRequest first;
  first.page_size = 1;
  OKR_ASSERT_OK_AND_ASSIGN(Page<OkrTemplate> one,
                           planning_->ListTemplates({}, first));
  ASSERT_FALSE(one.next_page_token.empty());
  PageRequest next;
  next.page_token = one.next_page_token;
  absl::StatusOr<Page<OkrTemplate>> mismatched =
      planning_->ListTemplates(people, next);
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
  PageRequest negative;
  negative.page_size = -1;
  EXPECT_EQ(planning_->ListTemplates({}, negative).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace okr::planning
