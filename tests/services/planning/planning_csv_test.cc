// CSV import and export through Planning, over the in-memory store: the
// example plans load and lint as the documents judge them, problems come
// back per row and column with nothing written, and export -> import ->
// export gives the same file apart from ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/lint.h"
#include "common/plan_csv.h"
#include "common/validation.h"
#include "services/planning/planning.h"
#include "tests/services/planning/planning_test_util.h"
#include "tests/support/test_support.h"

namespace okr::planning {
namespace {

std::vector<std::string> FieldsOf(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolationsOf(status)) {
    fields.push_back(v.field);
  }
  return fields;
}

std::string ExamplePath(absl::string_view name) {
  absl::StatusOr<std::string> path =
      OkrSourceFile(absl::StrCat("examples/", name));
  EXPECT_TRUE(path.ok()) << path.status();
  return path.value_or(std::string(name));
}

std::string Example(absl::string_view name) {
  return ReadFileToString(ExamplePath(name));
}

std::vector<std::string> ExampleNames() {
  std::vector<std::string> names;
  absl::StatusOr<std::string> dir = OkrSourceFile("examples");
  EXPECT_TRUE(dir.ok()) << dir.status();
  if (!dir.ok()) return names;
  for (const auto& entry : std::filesystem::directory_iterator(*dir)) {
    if (entry.path().extension() == ".csv") {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

PlanCsv Parse(absl::string_view csv) {
  absl::StatusOr<PlanCsv> parsed = ParsePlanCsv(csv);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.value_or(PlanCsv());
}

// The file with its refs renamed by position and without current values:
// two files that differ only in ids (and check-ins) have the same canonical
// text.
std::string Canonical(absl::string_view csv) {
  Plan plan = Parse(csv).plan;
  absl::flat_hash_map<Id, Id> objective_ref;
  absl::flat_hash_map<Id, Id> kr_ref;
  for (size_t i = 0; i < plan.objectives.size(); ++i) {
    objective_ref[plan.objectives[i].id] = absl::StrCat("O", i + 1);
  }
  for (size_t i = 0; i < plan.key_results.size(); ++i) {
    kr_ref[plan.key_results[i].id] = absl::StrCat("K", i + 1);
  }
  auto rename = [](const absl::flat_hash_map<Id, Id>& map, Id* id) {
    if (!id->empty()) *id = map.at(*id);
  };
  for (Objective& o : plan.objectives) {
    rename(objective_ref, &o.id);
    rename(objective_ref, &o.alignment.parent_objective_id);
    rename(kr_ref, &o.alignment.parent_key_result_id);
    rename(objective_ref, &o.breakdown_of_objective_id);
  }
  for (KeyResult& kr : plan.key_results) {
    rename(kr_ref, &kr.id);
    rename(objective_ref, &kr.objective_id);
  }
  absl::StatusOr<std::string> out = WritePlanCsv(plan, {});
  EXPECT_TRUE(out.ok()) << out.status();
  return out.value_or("");
}

class PlanningCsvTest : public PlanningTest {
 protected:
  // A fresh organisation with a mission and a vision (lint asks for them).
  void Bootstrap(const std::string& org) {
    Organisation o;
    o.name = org;
    o.mission = "Turn customers into lifelong fans.";
    o.vision = "The store every shopper loves.";
    OKR_EXPECT_OK(planning_->BootstrapOrganisation(org, o, {}));
  }

  // Creates the people, teams and fiscal years (with their quarters) that a
  // file names, so that it can be imported into `org`.
  void SetUpDirectory(const std::string& org, const PlanCsv& file) {
    absl::StatusOr<Page<Person>> people =
        planning_->ListPeople(org, {}, PageRequest{500, ""});
    ASSERT_TRUE(people.ok()) << people.status();
    std::set<std::string> have_people;
    for (const Person& p : people->items) have_people.insert(p.display_name);
    for (const Person& p : file.plan.people) {
      if (have_people.count(p.display_name)) continue;
      Person person;
      person.display_name = p.display_name;
      OKR_ASSERT_OK(planning_->CreatePerson(org, person, {}));
    }
    absl::StatusOr<Page<Team>> teams =
        planning_->ListTeams(org, {}, PageRequest{500, ""});
    ASSERT_TRUE(teams.ok()) << teams.status();
    std::set<std::string> have_teams;
    for (const Team& t : teams->items) have_teams.insert(t.name);
    for (const Team& t : file.plan.teams) {
      if (have_teams.count(t.name)) continue;
      Team team;
      team.name = t.name;
      OKR_ASSERT_OK(planning_->CreateTeam(org, team, {}));
    }
    absl::StatusOr<Page<Cycle>> cycles =
        planning_->ListCycles(org, {}, PageRequest{500, ""});
    ASSERT_TRUE(cycles.ok()) << cycles.status();
    std::set<std::string> have_cycles;
    for (const Cycle& c : cycles->items) have_cycles.insert(c.name);
    for (const Cycle& c : file.plan.cycles) {
      const std::string year = c.name.substr(0, 6);  // "FY2027"
      if (have_cycles.count(year)) continue;
      OKR_ASSERT_OK(planning_->CreateFiscalYear(
          org, std::stoi(year.substr(2)), /*include_months=*/false,
          std::nullopt, {}));
      have_cycles.insert(year);
    }
  }

  // Imports an example into `org` (set up for it first).
  ImportResult ImportExample(const std::string& org, absl::string_view name) {
    const std::string csv = Example(name);
    SetUpDirectory(org, Parse(csv));
    absl::StatusOr<ImportResult> result =
        planning_->ImportPlanCsv(org, csv, "", false, {});
    EXPECT_TRUE(result.ok()) << name << ": " << result.status();
    return result.value_or(ImportResult());
  }

  std::string Export(const std::string& org, const ExportFilter& filter = {}) {
    absl::StatusOr<ExportResult> result = planning_->ExportPlanCsv(org, filter);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->csv : "";
  }

  Id CycleNamed(const std::string& org, const std::string& name) {
    absl::StatusOr<Page<Cycle>> cycles =
        planning_->ListCycles(org, {}, PageRequest{500, ""});
    EXPECT_TRUE(cycles.ok()) << cycles.status();
    if (cycles.ok()) {
      for (const Cycle& c : cycles->items) {
        if (c.name == name) return c.id;
      }
    }
    ADD_FAILURE() << "no cycle " << name;
    return "";
  }

  int ObjectiveCount(const std::string& org) {
    ObjectiveFilter all;
    absl::StatusOr<Page<Objective>> page =
        planning_->ListObjectives(org, all, PageRequest{1, ""});
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->total_size : -1;
  }

  // Findings of the organisation's lint, by the file ref of their objective.
  absl::flat_hash_map<Id, std::vector<Finding>> LintByRef(
      const std::string& org, const PlanCsv& file, const ImportResult& result,
      std::vector<Finding>* all = nullptr) {
    absl::flat_hash_map<Id, Id> ref_of;
    for (size_t i = 0; i < result.objective_ids.size(); ++i) {
      ref_of[result.objective_ids[i]] = file.plan.objectives.at(i).id;
    }
    absl::StatusOr<LintResult> lint = planning_->Lint(org, LintQuery());
    EXPECT_TRUE(lint.ok()) << lint.status();
    absl::flat_hash_map<Id, std::vector<Finding>> by_ref;
    if (!lint.ok()) return by_ref;
    EXPECT_FALSE(lint->truncated);
    for (const Finding& f : lint->findings) {
      EXPECT_NE(f.severity, LintSeverity::kError) << f.message;
      if (!f.objective_id.empty()) by_ref[ref_of.at(f.objective_id)].push_back(f);
    }
    if (all != nullptr) *all = lint->findings;
    return by_ref;
  }

  static bool Has(const std::vector<Finding>& findings, absl::string_view rule) {
    return std::any_of(findings.begin(), findings.end(),
                       [&](const Finding& f) { return f.rule_id == rule; });
  }
};

// --- The example plans -----------------------------------------------------------

TEST_F(PlanningCsvTest, EveryExampleImportsAndExportsBackUnchanged) {
  const std::vector<std::string> names = ExampleNames();
  ASSERT_GE(names.size(), 4u);
  for (size_t n = 0; n < names.size(); ++n) {
    SCOPED_TRACE(names[n]);
    const std::string org = absl::StrCat("example-", n);
    Bootstrap(org);
    const std::string csv = Example(names[n]);
    const PlanCsv file = Parse(csv);
    const ImportResult result = ImportExample(org, names[n]);
    ASSERT_EQ(result.objective_ids.size(), file.plan.objectives.size());
    EXPECT_EQ(result.objectives_created,
              static_cast<int>(file.plan.objectives.size()));
    EXPECT_EQ(result.key_results_created,
              static_cast<int>(file.plan.key_results.size()));
    EXPECT_TRUE(result.errors.empty());

    // Ids in row order; links redrawn between the new ids.
    absl::flat_hash_map<Id, Id> id_of;
    for (size_t i = 0; i < file.plan.objectives.size(); ++i) {
      id_of[file.plan.objectives[i].id] = result.objective_ids[i];
    }
    for (size_t i = 0; i < file.plan.objectives.size(); ++i) {
      const Objective& want = file.plan.objectives[i];
      OKR_ASSERT_OK_AND_ASSIGN(
          Objective got, planning_->GetObjective(org, result.objective_ids[i]));
      EXPECT_EQ(got.title, want.title);
      EXPECT_EQ(got.alignment.kind, want.alignment.kind);
      if (!want.alignment.parent_objective_id.empty()) {
        EXPECT_EQ(got.alignment.parent_objective_id,
                  id_of.at(want.alignment.parent_objective_id));
      }
      if (!want.breakdown_of_objective_id.empty()) {
        EXPECT_EQ(got.breakdown_of_objective_id,
                  id_of.at(want.breakdown_of_objective_id));
      }
    }

    OKR_ASSERT_OK_AND_ASSIGN(ExportResult exported,
                             planning_->ExportPlanCsv(org, {}));
    EXPECT_EQ(Canonical(exported.csv), Canonical(csv));
    int rows = 0;
    for (const Objective& o : file.plan.objectives) {
      int krs = 0;
      for (const KeyResult& kr : file.plan.key_results) {
        if (kr.objective_id == o.id) ++krs;
      }
      rows += std::max(krs, 1);
    }
    EXPECT_EQ(exported.row_count, rows);
    // Planning keeps no check-ins: the current values are not exported.
    EXPECT_TRUE(Parse(exported.csv).check_ins.empty());
  }
}

TEST_F(PlanningCsvTest, DualityCascadeLinksKeyResultsToTheirChildren) {
  Bootstrap("cust");
  const PlanCsv file = Parse(Example("customer-success-duality.csv"));
  const ImportResult result = ImportExample("cust", "customer-success-duality.csv");
  ASSERT_EQ(result.objective_ids.size(), 3u);
  // Jane's objective is cascaded from the company KR "Increase customer
  // retention rate to 99%"; Nick's from Jane's first KR.
  for (size_t child : {1u, 2u}) {
    OKR_ASSERT_OK_AND_ASSIGN(
        Objective o, planning_->GetObjective("cust", result.objective_ids[child]));
    ASSERT_EQ(o.alignment.kind, AlignmentKind::kKeyResult);
    OKR_ASSERT_OK_AND_ASSIGN(
        KeyResult parent_kr,
        planning_->GetKeyResult("cust", o.alignment.parent_key_result_id));
    EXPECT_EQ(parent_kr.objective_id, result.objective_ids[child - 1]);
    EXPECT_EQ(parent_kr.objective_id, o.alignment.parent_objective_id);
    EXPECT_EQ(o.title, file.plan.objectives[child].title);
    EXPECT_TRUE(parent_kr.progress_from_children);
  }
  // Jane inherits the company key result as her objective, word for word.
  OKR_ASSERT_OK_AND_ASSIGN(Objective jane,
                           planning_->GetObjective("cust", result.objective_ids[1]));
  OKR_ASSERT_OK_AND_ASSIGN(
      KeyResult company_kr,
      planning_->GetKeyResult("cust", jane.alignment.parent_key_result_id));
  EXPECT_EQ(company_kr.title, jane.title);
}

TEST_F(PlanningCsvTest, RetailPlanLintsAsTheGuideJudgesIt) {
  Bootstrap("retail");
  const PlanCsv file = Parse(Example("retail-annual.csv"));
  const ImportResult result = ImportExample("retail", "retail-annual.csv");
  std::vector<Finding> all;
  auto by_ref = LintByRef("retail", file, result, &all);

  // 3 to 5 objectives per owner: only the in-store sales lead (3 objectives)
  // meets it; each 5-P owner has one.
  absl::flat_hash_map<Id, int> objectives_of;
  for (const Objective& o : file.plan.objectives) ++objectives_of[o.owner_id];
  int short_owners = 0;
  for (const auto& [owner, count] : objectives_of) {
    if (count < kMinObjectivesPerOwnerCycle) ++short_owners;
  }
  int too_few_objectives = 0;
  for (const Finding& f : all) {
    if (f.rule_id == "too-few-objectives") ++too_few_objectives;
  }
  EXPECT_EQ(too_few_objectives, short_owners);
  EXPECT_EQ(short_owners, 5);

  for (const Objective& o : file.plan.objectives) {
    SCOPED_TRACE(o.id);
    const std::vector<Finding>& f = by_ref[o.id];
    // Three key results each, company level (nothing to align to), every
    // data source known, committed ones stretch.
    EXPECT_FALSE(Has(f, "too-few-key-results"));
    EXPECT_FALSE(Has(f, "too-many-key-results"));
    EXPECT_FALSE(Has(f, "unaligned-objective"));
    EXPECT_FALSE(Has(f, "unknown-data-source"));
    EXPECT_FALSE(Has(f, "committed-without-stretch"));
    EXPECT_FALSE(Has(f, "missing-mission-vision"));
  }
  // The one key result that reads as a task: a milestone that names the
  // work ("Publish ...") rather than an outcome with a number.
  std::vector<std::string> tasks;
  for (const Finding& f : all) {
    if (f.rule_id == "task-not-outcome") tasks.push_back(f.message);
  }
  ASSERT_EQ(tasks.size(), 1u) << absl::StrJoin(tasks, "\n");
  EXPECT_TRUE(absl::StrContains(tasks[0], "Publish the sustainable sourcing"))
      << tasks[0];
}

TEST_F(PlanningCsvTest, CustomerSuccessCascadesLintAsAligned) {
  for (const char* name :
       {"customer-success-duality.csv", "customer-success-classic.csv"}) {
    SCOPED_TRACE(name);
    const std::string org =
        absl::StrContains(name, "duality") ? "duality" : "classic";
    Bootstrap(org);
    const PlanCsv file = Parse(Example(name));
    const ImportResult result = ImportExample(org, name);
    auto by_ref = LintByRef(org, file, result);
    // Both methods link Jane's and Nick's quarterly objectives up to the
    // annual company objective.
    for (const char* ref : {"JANE-1", "NICK-1"}) {
      EXPECT_FALSE(Has(by_ref[ref], "unaligned-objective")) << ref;
      EXPECT_FALSE(Has(by_ref[ref], "quarterly-not-linked-to-annual")) << ref;
      EXPECT_FALSE(Has(by_ref[ref], "too-few-key-results")) << ref;
    }
    // The guide shows the company objective with the one key result that
    // concerns customer success.
    EXPECT_TRUE(Has(by_ref["CO-1"], "too-few-key-results"));
  }
}

TEST_F(PlanningCsvTest, SalesBreakdownLintsAsTheCaseDescribesIt) {
  Bootstrap("sales");
  const PlanCsv file = Parse(Example("sales-annual-quarterly.csv"));
  const ImportResult result = ImportExample("sales", "sales-annual-quarterly.csv");
  std::vector<Finding> all;
  auto by_ref = LintByRef("sales", file, result, &all);
  // The annual objective has its 5 KRs, the first Q1 priority its 4; the
  // other two priorities are declared without key results yet.
  EXPECT_FALSE(Has(by_ref["SALES-FY"], "too-few-key-results"));
  EXPECT_FALSE(Has(by_ref["SALES-Q1-1"], "too-few-key-results"));
  EXPECT_TRUE(Has(by_ref["SALES-Q1-2"], "too-few-key-results"));
  EXPECT_TRUE(Has(by_ref["SALES-Q1-3"], "too-few-key-results"));
  // Every quarterly objective is a breakdown of the annual one.
  for (const char* ref : {"SALES-Q1-1", "SALES-Q1-2", "SALES-Q1-3"}) {
    EXPECT_FALSE(Has(by_ref[ref], "quarterly-not-linked-to-annual")) << ref;
    EXPECT_FALSE(Has(by_ref[ref], "unaligned-objective")) << ref;
  }
  // Three Q1 priorities: the owner's quarter is within 3 to 5 objectives;
  // the year has the one annual objective.
  const Id q1 = CycleNamed("sales", "FY2027-Q1");
  const Id year = CycleNamed("sales", "FY2027");
  int year_counts = 0;
  for (const Finding& f : all) {
    if (f.target_kind != LintTarget::kOwnerCycle) continue;
    EXPECT_NE(f.cycle_id, q1) << f.message;
    if (f.cycle_id == year) ++year_counts;
  }
  EXPECT_EQ(year_counts, 1);
}

// --- Round trip ---------------------------------------------------------------------

TEST_F(PlanningCsvTest, ExportImportExportGivesTheSameFileApartFromIds) {
  for (const std::string& name : ExampleNames()) ImportExample(kOrg, name);
  const std::string first = Export(kOrg);
  ASSERT_FALSE(first.empty());

  Bootstrap("fresh");
  SetUpDirectory("fresh", Parse(first));
  OKR_ASSERT_OK_AND_ASSIGN(
      ImportResult imported,
      planning_->ImportPlanCsv("fresh", first, "", false, {}));
  EXPECT_EQ(imported.objectives_created, ObjectiveCount(kOrg));
  const std::string second = Export("fresh");

  EXPECT_NE(first, second) << "the ids differ";
  EXPECT_EQ(Canonical(first), Canonical(second));
  // Apart from ids means byte for byte once each id is swapped for its
  // counterpart: same rows, same order, same quoting.
  const PlanCsv a = Parse(first);
  const PlanCsv b = Parse(second);
  ASSERT_EQ(a.plan.objectives.size(), b.plan.objectives.size());
  ASSERT_EQ(a.plan.key_results.size(), b.plan.key_results.size());
  std::vector<std::pair<std::string, std::string>> swaps;
  for (size_t i = 0; i < a.plan.objectives.size(); ++i) {
    swaps.emplace_back(b.plan.objectives[i].id, a.plan.objectives[i].id);
  }
  for (size_t i = 0; i < a.plan.key_results.size(); ++i) {
    swaps.emplace_back(b.plan.key_results[i].id, a.plan.key_results[i].id);
  }
  std::string swapped = second;
  for (const auto& [from, to] : swaps) {
    size_t at = 0;
    while ((at = swapped.find(from, at)) != std::string::npos) {
      swapped.replace(at, from.size(), to);
      at += to.size();
    }
  }
  EXPECT_EQ(swapped, first);
}

// --- Errors: per row, all or nothing ------------------------------------------------

constexpr char kHeader[] =
    "cycle,objective_ref,objective_title,objective_description,level,owner,"
    "team,kind,kr_title,kr_owner,kr_type,from,to,data_source\n";

TEST_F(PlanningCsvTest, FileErrorsNameRowAndColumnAndWriteNothing) {
  MakePerson("Jane");
  MakeFiscalYear(2027);
  // Row 3 spells a kind wrong; the quoted two-line description on row 2 is
  // still one spreadsheet row.
  const std::string csv = absl::StrCat(
      kHeader,
      "FY2027,A,Grow,\"two\nlines\",COMPANY,Jane,,COMMITTED,Grow X from 1 to "
      "2,,METRIC,1,2,MANUAL\n",
      "FY2027,B,Keep,,COMPANY,Jane,,COMMITED,Grow Y from 1 to 2,,METRIC,1,2,"
      "MANUAL\n");
  const int commits = store_.commits();
  absl::StatusOr<ImportResult> result =
      planning_->ImportPlanCsv(kOrg, csv, "", false, {});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(result.status()), std::vector<std::string>{"rows[3].kind"});
  EXPECT_TRUE(absl::StrContains(result.status().message(), "COMMITED"))
      << result.status();
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(ObjectiveCount(kOrg), 0);
}

TEST_F(PlanningCsvTest, PlanErrorsNameRowAndColumnAndWriteNothing) {
  MakePerson("Jane");
  MakeTeam("Sales");
  MakeFiscalYear(2027);
  const std::string csv = absl::StrCat(
      kHeader,
      // Row 2 is fine.
      "FY2027,A,Fine,,COMPANY,Jane,Sales,COMMITTED,Grow X from 1 to 2,,METRIC,"
      "1,2,MANUAL\n",
      // Row 3: nobody called Zed; row 4: no such cycle; row 5: no level
      // (validation requires one); row 6: a KR owner nobody knows and no
      // team called Marketing.
      "FY2027,B,Owner,,COMPANY,Zed,,COMMITTED,Grow Y from 1 to 2,,METRIC,1,2,"
      "MANUAL\n",
      "FY2031,C,Cycle,,COMPANY,Jane,,COMMITTED,Grow Z from 1 to 2,,METRIC,1,2,"
      "MANUAL\n",
      "FY2027,D,Level,,,Jane,,COMMITTED,Grow W from 1 to 2,,METRIC,1,2,"
      "MANUAL\n",
      "FY2027,E,Team,,COMPANY,Jane,Marketing,COMMITTED,Grow V from 1 to 2,Ann,"
      "METRIC,1,2,MANUAL\n");
  const int commits = store_.commits();
  absl::StatusOr<ImportResult> result =
      planning_->ImportPlanCsv(kOrg, csv, "", false, {});
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  EXPECT_EQ(FieldsOf(result.status()),
            (std::vector<std::string>{"rows[3].owner", "rows[4].cycle",
                                      "rows[5].level", "rows[6].team",
                                      "rows[6].kr_owner"}));
  EXPECT_TRUE(absl::StrContains(result.status().message(), "'Zed'"))
      << result.status();
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(ObjectiveCount(kOrg), 0);

  // A dry run reports the same problems in the result, with status OK.
  OKR_ASSERT_OK_AND_ASSIGN(ImportResult dry,
                           planning_->ImportPlanCsv(kOrg, csv, "", true, {}));
  std::vector<std::string> cells;
  for (const CsvRowError& e : dry.errors) {
    cells.push_back(absl::StrCat(e.row, ":", e.column));
    EXPECT_FALSE(e.reason.empty());
  }
  EXPECT_EQ(cells, (std::vector<std::string>{"3:owner", "4:cycle", "5:level",
                                             "6:team", "6:kr_owner"}));
  EXPECT_EQ(dry.objectives_created, 5);
  EXPECT_EQ(dry.key_results_created, 5);
  EXPECT_TRUE(dry.objective_ids.empty());
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(PlanningCsvTest, DryRunOfAGoodFileWritesNothing) {
  Bootstrap("dry");
  const std::string csv = Example("sales-annual-quarterly.csv");
  SetUpDirectory("dry", Parse(csv));
  const int commits = store_.commits();
  OKR_ASSERT_OK_AND_ASSIGN(ImportResult dry,
                           planning_->ImportPlanCsv("dry", csv, "", true, {}));
  EXPECT_TRUE(dry.errors.empty());
  EXPECT_EQ(dry.objectives_created, 4);
  EXPECT_EQ(dry.key_results_created, 9);
  EXPECT_TRUE(dry.objective_ids.empty());
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(ObjectiveCount("dry"), 0);
}

TEST_F(PlanningCsvTest, AlignmentRulesSpeakInTheFilesRefs) {
  MakePerson("Jane");
  MakeFiscalYear(2027);
  const std::string csv =
      "cycle,objective_ref,objective_title,level,owner,kind,aligned_to,"
      "breakdown_of\n"
      // The annual objective aligns to a quarterly one: never the reverse.
      "FY2027,YEAR,Year,COMPANY,Jane,COMMITTED,Q-1,\n"
      "FY2027-Q1,Q-1,Quarter,COMPANY,Jane,COMMITTED,,\n"
      // A quarter cannot break down another quarter.
      "FY2027-Q2,Q-2,Next quarter,COMPANY,Jane,COMMITTED,,Q-1\n";
  absl::StatusOr<ImportResult> result =
      planning_->ImportPlanCsv(kOrg, csv, "", false, {});
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  EXPECT_EQ(FieldsOf(result.status()),
            (std::vector<std::string>{"rows[2].aligned_to",
                                      "rows[4].breakdown_of"}));
  EXPECT_TRUE(absl::StrContains(result.status().message(), "'Q-1'"))
      << result.status();
  EXPECT_EQ(ObjectiveCount(kOrg), 0);
}

TEST_F(PlanningCsvTest, DefaultCycleFillsEmptyCells) {
  MakePerson("Jane");
  const FiscalYear fy = MakeFiscalYear(2027);
  const std::string csv =
      "objective_ref,objective_title,level,owner,kind\n"
      "A,First,TEAM,Jane,COMMITTED\n"
      "B,Second,TEAM,Jane,ASPIRATIONAL\n";
  // Names are matched without regard to case.
  OKR_ASSERT_OK_AND_ASSIGN(
      ImportResult result,
      planning_->ImportPlanCsv(kOrg, csv, "fy2027-q2", false, {}));
  ASSERT_EQ(result.objective_ids.size(), 2u);
  for (const Id& id : result.objective_ids) {
    OKR_ASSERT_OK_AND_ASSIGN(Objective o, planning_->GetObjective(kOrg, id));
    EXPECT_EQ(o.cycle_id, fy.quarters.at(1).id);
  }

  const int commits = store_.commits();
  absl::StatusOr<ImportResult> unknown =
      planning_->ImportPlanCsv(kOrg, csv, "FY2030-Q1", false, {});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FieldsOf(unknown.status()),
            std::vector<std::string>{"default_cycle"});
  absl::StatusOr<ImportResult> unknown_dry =
      planning_->ImportPlanCsv(kOrg, csv, "FY2030-Q1", true, {});
  EXPECT_EQ(unknown_dry.status().code(), absl::StatusCode::kNotFound);
  // Without a default, the missing cycle is the file's problem.
  absl::StatusOr<ImportResult> none =
      planning_->ImportPlanCsv(kOrg, csv, "", false, {});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_.commits(), commits);
}

TEST_F(PlanningCsvTest, AClosedCycleIsAFailedPrecondition) {
  MakePerson("Jane");
  const FiscalYear fy = MakeFiscalYear(2027);
  const Id q1 = fy.quarters.at(0).id;
  for (CycleState next :
       {CycleState::kActive, CycleState::kReview, CycleState::kClosed}) {
    OKR_ASSERT_OK_AND_ASSIGN(Cycle c, planning_->GetCycle(kOrg, q1));
    OKR_ASSERT_OK(planning_->UpdateCycleState(kOrg, q1, next, c.version));
  }
  const std::string csv =
      "cycle,objective_ref,objective_title,level,owner,kind\n"
      "FY2027-Q1,A,Too late,TEAM,Jane,COMMITTED\n";
  const int commits = store_.commits();
  absl::StatusOr<ImportResult> result =
      planning_->ImportPlanCsv(kOrg, csv, "", false, {});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition)
      << result.status();
  EXPECT_EQ(FieldsOf(result.status()), std::vector<std::string>{"rows[2].cycle"});
  EXPECT_TRUE(absl::StrContains(result.status().message(), "CLOSED"));
  EXPECT_EQ(store_.commits(), commits);

  OKR_ASSERT_OK_AND_ASSIGN(ImportResult dry,
                           planning_->ImportPlanCsv(kOrg, csv, "", true, {}));
  ASSERT_EQ(dry.errors.size(), 1u);
  EXPECT_EQ(dry.errors[0].row, 2);
  EXPECT_EQ(dry.errors[0].column, "cycle");
}

TEST_F(PlanningCsvTest, OversizedFilesAreRefusedWhole) {
  std::string csv = "objective_ref,objective_title\n";
  csv.append(kMaxCsvBytes, 'x');
  absl::StatusOr<ImportResult> result =
      planning_->ImportPlanCsv(kOrg, csv, "", false, {});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(result.status()), std::vector<std::string>{"csv"});

  OKR_ASSERT_OK_AND_ASSIGN(ImportResult dry,
                           planning_->ImportPlanCsv(kOrg, csv, "", true, {}));
  ASSERT_EQ(dry.errors.size(), 1u);
  EXPECT_EQ(dry.errors[0].row, 0);
}

TEST_F(PlanningCsvTest, AFailedImportListsTheFirstProblemsOnly) {
  MakeFiscalYear(2027);
  std::string csv = "cycle,objective_ref,objective_title,level,owner,kind\n";
  for (int i = 0; i < 40; ++i) {
    absl::StrAppend(&csv, "FY2027,R", i, ",Title,COMPANY,Nobody", i,
                    ",COMMITTED\n");
  }
  absl::StatusOr<ImportResult> result =
      planning_->ImportPlanCsv(kOrg, csv, "", false, {});
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> fields = FieldsOf(result.status());
  ASSERT_GE(fields.size(), 2u);
  EXPECT_LT(fields.size(), 40u);
  EXPECT_EQ(fields.front(), "rows[2].owner");
  EXPECT_EQ(fields.back(), "csv");
  EXPECT_TRUE(absl::StrContains(result.status().message(), "dry_run"));

  OKR_ASSERT_OK_AND_ASSIGN(ImportResult dry,
                           planning_->ImportPlanCsv(kOrg, csv, "", true, {}));
  EXPECT_EQ(dry.errors.size(), 40u);
}

// --- Idempotency and the change feed ------------------------------------------------

TEST_F(PlanningCsvTest, ImportIsIdempotentByRequestId) {
  Bootstrap("again");
  const std::string csv = Example("customer-success-classic.csv");
  SetUpDirectory("again", Parse(csv));
  const RequestKey key{"import-1", "fingerprint-a"};
  OKR_ASSERT_OK_AND_ASSIGN(ImportResult first,
                           planning_->ImportPlanCsv("again", csv, "", false, key));
  const int commits = store_.commits();
  OKR_ASSERT_OK_AND_ASSIGN(ImportResult second,
                           planning_->ImportPlanCsv("again", csv, "", false, key));
  EXPECT_EQ(second.objective_ids, first.objective_ids);
  EXPECT_EQ(second.objectives_created, first.objectives_created);
  EXPECT_EQ(second.key_results_created, first.key_results_created);
  EXPECT_EQ(store_.commits(), commits);
  EXPECT_EQ(ObjectiveCount("again"), first.objectives_created);

  absl::StatusOr<ImportResult> other = planning_->ImportPlanCsv(
      "again", csv, "", false, RequestKey{"import-1", "fingerprint-b"});
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ObjectiveCount("again"), first.objectives_created);
}

TEST_F(PlanningCsvTest, TheFeedListsParentsBeforeChildren) {
  MakePerson("Jane");
  MakeFiscalYear(2027);
  // The child comes first in the file and points forwards.
  const std::string csv =
      "cycle,objective_ref,objective_title,level,owner,kind,aligned_to_kr,"
      "kr_ref,kr_title,kr_type,from,to,data_source\n"
      "FY2027-Q1,CHILD,Child,TEAM,Jane,COMMITTED,PARENT-KR,,,,,,\n"
      "FY2027,PARENT,Parent,COMPANY,Jane,COMMITTED,,PARENT-KR,Grow X from 1 "
      "to 2,METRIC,1,2,MANUAL\n";
  OKR_ASSERT_OK_AND_ASSIGN(Planning::ChangeBatch before,
                           planning_->ListPlanChanges(kOrg, 0, 1000));
  OKR_ASSERT_OK_AND_ASSIGN(ImportResult result,
                           planning_->ImportPlanCsv(kOrg, csv, "", false, {}));
  ASSERT_EQ(result.objective_ids.size(), 2u);
  OKR_ASSERT_OK_AND_ASSIGN(
      Planning::ChangeBatch after,
      planning_->ListPlanChanges(kOrg, before.latest_sequence, 1000));
  std::vector<std::string> order;
  for (const StoredChange& c : after.changes) {
    order.push_back(c.id == result.objective_ids[0]   ? "child"
                    : c.id == result.objective_ids[1] ? "parent"
                                                      : "kr");
  }
  EXPECT_EQ(order, (std::vector<std::string>{"parent", "kr", "child"}));
}

// --- Export ----------------------------------------------------------------------------

TEST_F(PlanningCsvTest, ExportFiltersKeepTheFileClosed) {
  Bootstrap("cust");
  const PlanCsv file = Parse(Example("customer-success-duality.csv"));
  const ImportResult imported =
      ImportExample("cust", "customer-success-duality.csv");
  ASSERT_EQ(imported.objective_ids.size(), 3u);

  // Nick's objective alone needs Jane's (its parent KR) and the company's.
  OKR_ASSERT_OK_AND_ASSIGN(Objective nick,
                           planning_->GetObjective("cust", imported.objective_ids[2]));
  ExportFilter by_owner;
  by_owner.owner_id = nick.owner_id;
  const std::string csv = Export("cust", by_owner);
  EXPECT_EQ(Parse(csv).plan.objectives.size(), 3u);
  // A filtered export imports elsewhere as it is.
  Bootstrap("copy");
  SetUpDirectory("copy", file);
  OKR_EXPECT_OK(planning_->ImportPlanCsv("copy", csv, "", false, {}));

  ExportFilter year;
  year.cycle_id = CycleNamed("cust", "FY2027");
  OKR_ASSERT_OK_AND_ASSIGN(ExportResult annual,
                           planning_->ExportPlanCsv("cust", year));
  EXPECT_EQ(Parse(annual.csv).plan.objectives.size(), 1u);
  EXPECT_EQ(annual.row_count, 1);

  ExportFilter unknown_cycle;
  unknown_cycle.cycle_id = "cy-nope";
  ExportFilter unknown_owner;
  unknown_owner.owner_id = "pe-nope";
  ExportFilter unknown_team;
  unknown_team.team_id = "tm-nope";
  for (const auto& [field, filter] :
       std::vector<std::pair<std::string, ExportFilter>>{
           {"cycle_id", unknown_cycle},
           {"owner_id", unknown_owner},
           {"team_id", unknown_team}}) {
    absl::StatusOr<ExportResult> r = planning_->ExportPlanCsv("cust", filter);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << field;
    EXPECT_TRUE(absl::StrContains(r.status().message(), field)) << r.status();
  }
  EXPECT_EQ(planning_->ExportPlanCsv("nobody", {}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PlanningCsvTest, ExportLeavesArchivedObjectivesOutUnlessAsked) {
  const Person jane = MakePerson("Jane");
  const FiscalYear fy = MakeFiscalYear(2027);
  const Objective kept = MakeObjective("Kept", fy.year.id, jane.id);
  const Objective gone = MakeObjective("Gone", fy.year.id, jane.id);
  MakeKeyResult(gone.id, "Grow X from 1 to 2", 1, 2);
  OKR_ASSERT_OK_AND_ASSIGN(Objective latest, planning_->GetObjective(kOrg, gone.id));
  OKR_ASSERT_OK(planning_->ArchiveObjective(kOrg, gone.id, latest.version));

  std::vector<std::string> titles;
  for (const Objective& o : Parse(Export(kOrg)).plan.objectives) {
    titles.push_back(o.title);
  }
  EXPECT_EQ(titles, std::vector<std::string>{"Kept"});

  ExportFilter archived;
  archived.include_archived = true;
  const PlanCsv all = Parse(Export(kOrg, archived));
  ASSERT_EQ(all.plan.objectives.size(), 2u);
  for (const Objective& o : all.plan.objectives) {
    EXPECT_EQ(o.state, o.title == "Gone" ? ObjectiveState::kArchived
                                         : ObjectiveState::kPublished)
        << o.title;
  }
  EXPECT_EQ(all.plan.key_results.size(), 1u);
  (void)kept;
}

TEST_F(PlanningCsvTest, ExportRefusesMoreThanTheRowLimit) {
  MakeFiscalYear(2027);
  const int half = kMaxCsvRows / 2 + 1;
  for (int part = 0; part < 2; ++part) {
    std::string csv = "cycle,objective_ref,objective_title,level,kind\n";
    for (int i = 0; i < half; ++i) {
      absl::StrAppend(&csv, "FY2027,R", i, ",Objective ", i,
                      ",COMPANY,COMMITTED\n");
    }
    OKR_ASSERT_OK(planning_->ImportPlanCsv(kOrg, csv, "", false, {}));
  }
  absl::StatusOr<ExportResult> all = planning_->ExportPlanCsv(kOrg, {});
  EXPECT_EQ(all.status().code(), absl::StatusCode::kFailedPrecondition)
      << all.status();
  EXPECT_TRUE(absl::StrContains(all.status().message(), "narrow"));
}

}  // namespace
}  // namespace okr::planning
