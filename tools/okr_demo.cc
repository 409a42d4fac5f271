// okr-demo: runs the example plans through the OKR model library.
//
// Reads each spreadsheet-template CSV in --examples_dir, dates its cycles with
// the organisation's fiscal calendar, scores it (KR progress, objective score,
// grade, success, pace) and lints it, and prints the annual planning timeline
// first. It is the main job's stand-in until the services exist; it reads only
// the project's own files.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "common/lint.h"
#include "common/model.h"
#include "common/plan_csv.h"
#include "common/scoring.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, examples_dir, "examples", "Directory holding the example plan CSV files.");
ABSL_FLAG(std::vector<std::string>, files, {},
          "Comma-separated CSV file names inside --examples_dir (default: every *.csv).");
ABSL_FLAG(int, fiscal_year, 2027,
          "Fiscal year to show, named by the calendar year in which it ends.");
ABSL_FLAG(int, fiscal_year_start_month, 2,
          "First month (1-12) of the organisation's fiscal year; retail often starts in February.");
ABSL_FLAG(std::string, time_zone, "America/New_York", "The organisation's IANA time zone.");
ABSL_FLAG(std::string, planning_profile, "SMALL",
          "SMALL (planning starts 4-6 weeks ahead) or ENTERPRISE (2-3 months ahead).");
ABSL_FLAG(std::string, now, "",
          "The instant to score at, RFC 3339 (e.g. 2026-04-15T12:00:00-04:00); default: now.");
ABSL_FLAG(int, max_findings, 8, "Lint findings to print per plan (all are counted).");

namespace okr {
namespace {

struct Org {
  FiscalCalendar calendar;
  absl::TimeZone zone;
  int64_t fiscal_year;
  PlanningProfile profile;
  absl::Time now;
};

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Day(absl::CivilDay d) { return absl::FormatCivilTime(d); }

void PrintTimeline(const Org& org) {
  auto milestones = PlanningTimeline(org.calendar, org.fiscal_year, org.profile);
  const Period year = org.calendar.Year(org.fiscal_year);
  absl::PrintF("\nAnnual planning timeline for %s (%s profile; the year runs %s .. %s)\n",
               FiscalYearName(org.fiscal_year), Name(org.profile), Day(year.start),
               Day(year.end - 1));
  if (!milestones.ok()) {
    absl::PrintF("  %s\n", milestones.status().message());
    return;
  }
  for (const PlanningMilestone& m : *milestones) {
    absl::PrintF("  %s .. %s  %s\n", Day(m.start), Day(m.due - 1), m.title);
  }
}

// Gives every cycle named in the file its dates from the fiscal calendar.
absl::Status DateCycles(const Org& org, Plan& plan) {
  absl::flat_hash_map<std::string, Cycle> known;
  for (int64_t fy = org.fiscal_year - 1; fy <= org.fiscal_year + 1; ++fy) {
    for (Cycle& c : FiscalYearCycles(org.calendar, fy, "demo", /*include_months=*/true)) {
      known[c.name] = c;
    }
  }
  for (Cycle& cycle : plan.cycles) {
    auto it = known.find(cycle.name);
    if (it == known.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cycle '", cycle.name, "' is not a fiscal year, quarter or month near ",
                       FiscalYearName(org.fiscal_year)));
    }
    const Id id = cycle.id;
    cycle = it->second;
    cycle.id = id;
    cycle.parent_cycle_id.clear();
    cycle.state = CycleState::kActive;
  }
  return absl::OkStatus();
}

class PlanPrinter {
 public:
  PlanPrinter(const Org& org, const Plan& plan, const ScoreGraph& graph)
      : org_(org), plan_(plan), graph_(graph) {
    for (const Cycle& c : plan.cycles) cycles_[c.id] = &c;
    for (const KeyResult& kr : plan.key_results) krs_by_objective_[kr.objective_id].push_back(&kr);
    for (const Objective& o : plan.objectives) {
      switch (o.alignment.kind) {
        case AlignmentKind::kNone:
          roots_.push_back(&o);
          break;
        case AlignmentKind::kObjective:
          children_of_objective_[o.alignment.parent_objective_id].push_back(&o);
          break;
        case AlignmentKind::kKeyResult:
          children_of_kr_[o.alignment.parent_key_result_id].push_back(&o);
          break;
      }
    }
  }

  void Print() const {
    for (const Objective* root : roots_) PrintObjective(*root, 1);
  }

 private:
  void PrintObjective(const Objective& o, int depth) const {
    const double score = graph_.ScoreOf(o.id).value_or(0);
    std::string pace = "";
    if (auto it = cycles_.find(o.cycle_id); it != cycles_.end()) {
      const Cycle& c = *it->second;
      PaceReport report =
          EvaluatePace(score, StartOfDay(c.start, org_.zone), StartOfDay(c.end, org_.zone), org_.now);
      pace = absl::StrFormat("%s, expected %.2f", Name(report.status), report.expected);
    }
    const bool success = IsSuccess(o.kind, score);
    absl::PrintF("%s%-9s %-62s %4.2f %-6s %s %s; %s%s\n", Indent(depth), o.cycle_id,
                 Clip(o.title, 62), score, Name(GradeOf(score)), Name(o.kind),
                 success ? "met" : (o.kind == ObjectiveKind::kCommitted ? "not yet met" : "below 0.7"),
                 pace, o.owner_id.empty() ? "" : absl::StrCat("  [", o.owner_id, "]"));
    if (auto it = krs_by_objective_.find(o.id); it != krs_by_objective_.end()) {
      for (const KeyResult* kr : it->second) PrintKeyResult(*kr, depth + 1);
    }
    if (auto it = children_of_objective_.find(o.id); it != children_of_objective_.end()) {
      for (const Objective* child : it->second) PrintObjective(*child, depth + 1);
    }
  }

  void PrintKeyResult(const KeyResult& kr, int depth) const {
    const double progress = graph_.ProgressOf(kr.id).value_or(0);
    std::string origin;
    if (auto explanation = graph_.ExplainKeyResult(kr.id); explanation.ok()) {
      origin = explanation->origin.empty() ? explanation->formula : explanation->origin;
    }
    absl::PrintF("%sKR %-64s %4.2f  %s\n", Indent(depth), Clip(kr.title, 64), progress,
                 Clip(origin, 70));
    if (auto it = children_of_kr_.find(kr.id); it != children_of_kr_.end()) {
      for (const Objective* child : it->second) PrintObjective(*child, depth + 1);
    }
  }

  static std::string Indent(int depth) { return std::string(2 * depth, ' '); }
  static std::string Clip(const std::string& s, size_t n) {
    return s.size() <= n ? s : absl::StrCat(s.substr(0, n - 3), "...");
  }

  const Org& org_;
  const Plan& plan_;
  const ScoreGraph& graph_;
  absl::flat_hash_map<Id, const Cycle*> cycles_;
  absl::flat_hash_map<Id, std::vector<const KeyResult*>> krs_by_objective_;
  absl::flat_hash_map<Id, std::vector<const Objective*>> children_of_objective_;
  absl::flat_hash_map<Id, std::vector<const Objective*>> children_of_kr_;
  std::vector<const Objective*> roots_;
};

absl::Status ShowPlan(const Org& org, const std::filesystem::path& path) {
  OKR_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  OKR_ASSIGN_OR_RETURN(PlanCsv parsed, ParsePlanCsv(text));
  Plan& plan = parsed.plan;
  OKR_RETURN_IF_ERROR(DateCycles(org, plan));
  // The spreadsheet's current values become check-ins made "now".
  for (size_t i = 0; i < parsed.check_ins.size(); ++i) {
    parsed.check_ins[i].id = absl::StrCat("import-", i + 1);
    parsed.check_ins[i].time = org.now;
  }
  OKR_ASSIGN_OR_RETURN(ScoreGraph graph,
                       ScoreGraph::Build(plan.objectives, plan.key_results, parsed.check_ins));

  absl::PrintF("\n%s: %d objectives, %d key results, %d current values\n",
               path.filename().string(), plan.objectives.size(), plan.key_results.size(),
               parsed.check_ins.size());
  PlanPrinter(org, plan, graph).Print();

  const std::vector<Finding> findings = LintPlan(plan);
  int counts[3] = {0, 0, 0};
  for (const Finding& f : findings) ++counts[static_cast<int>(f.severity)];
  absl::PrintF("  lint: %d errors, %d warnings, %d notes\n", counts[2], counts[1], counts[0]);
  const int limit = absl::GetFlag(FLAGS_max_findings);
  for (int i = 0; i < static_cast<int>(findings.size()) && i < limit; ++i) {
    absl::PrintF("    %-7s %-28s %s\n", Name(findings[i].severity), findings[i].rule_id,
                 findings[i].message);
  }
  if (static_cast<int>(findings.size()) > limit) {
    absl::PrintF("    ... %d more (--max_findings)\n", findings.size() - limit);
  }
  return absl::OkStatus();
}

absl::StatusOr<Org> OrgFromFlags() {
  OKR_ASSIGN_OR_RETURN(FiscalCalendar calendar,
                       FiscalCalendar::Create(absl::GetFlag(FLAGS_fiscal_year_start_month)));
  OKR_ASSIGN_OR_RETURN(absl::TimeZone zone, LoadZone(absl::GetFlag(FLAGS_time_zone)));
  PlanningProfile profile;
  if (!ParseName(absl::GetFlag(FLAGS_planning_profile), &profile) ||
      profile == PlanningProfile::kUnspecified) {
    return absl::InvalidArgumentError("--planning_profile: must be SMALL or ENTERPRISE");
  }
  absl::Time now = absl::Now();
  if (const std::string flag = absl::GetFlag(FLAGS_now); !flag.empty()) {
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, flag, &now, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("--now: not an RFC 3339 time: ", error));
    }
  }
  return Org{calendar, zone, absl::GetFlag(FLAGS_fiscal_year), profile, now};
}

int Main() {
  absl::StatusOr<Org> org = OrgFromFlags();
  if (!org.ok()) {
    std::cerr << "okr-demo: " << org.status().message() << "\n";
    return 2;
  }
  const std::filesystem::path dir = absl::GetFlag(FLAGS_examples_dir);
  std::vector<std::filesystem::path> files;
  for (const std::string& name : absl::GetFlag(FLAGS_files)) files.push_back(dir / name);
  if (files.empty()) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".csv") files.push_back(entry.path());
    }
    if (ec) {
      std::cerr << "okr-demo: cannot list " << dir << ": " << ec.message() << "\n";
      return 2;
    }
    std::sort(files.begin(), files.end());
  }

  absl::PrintF("OKR Suite model library demo: scored at %s (%s)\n",
               absl::FormatTime("%Y-%m-%d %H:%M %Z", org->now, org->zone), org->zone.name());
  PrintTimeline(*org);
  int failures = 0;
  for (const auto& file : files) {
    if (absl::Status status = ShowPlan(*org, file); !status.ok()) {
      std::cerr << "okr-demo: " << file.string() << ": " << status.message() << "\n";
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace okr

int main(int argc, char** argv) {
  // absl's --help lists the flags of files named like the program; ours is
  // okr_demo.cc for a binary called okr-demo.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "okr_demo");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "Runs the example OKR plans through the model library: planning timeline, scores, "
      "grades, pace and lint.\nUsage: okr-demo [--examples_dir=DIR] [--now=RFC3339] ...");
  absl::ParseCommandLine(argc, argv);
  return okr::Main();
}
