// Plan-wide commands: the alignment tree, lint, the planning timeline,
// templates, CSV import and export, and the change feed.
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "tools/okrctl/commands.h"

namespace okr::okrctl {
namespace {

using Stub = PlanningClient::Stub;

absl::Status Tree(Context& ctx) {
  const bool scores = ctx.flags().Bool("scores");
  const bool positional = !ctx.args().empty();
  if (positional && ctx.flags().Has("cycle")) {
    return UsageError("tree: give the cycle as CYCLE or --cycle, not both");
  }
  if (scores && !positional && !ctx.flags().Has("cycle")) {
    return UsageError("tree --scores needs the cycle (CYCLE or --cycle)");
  }
  if (scores && ctx.flags().Bool("include-archived")) {
    return UsageError("tree: --include-archived cannot be combined with --scores");
  }
  std::string cycle;
  if (positional) {
    OKR_ASSIGN_OR_RETURN(cycle, ctx.ResolveCycle("CYCLE", ctx.args()[0]));
  } else {
    OKR_ASSIGN_OR_RETURN(cycle, ctx.CycleFlag("cycle"));
  }
  // Without --scores the tree is planning's alone: tracking need not run.
  if (scores) return ScoredTree(ctx, cycle);
  okr::v1::GetAlignmentTreeRequest request;
  request.set_cycle_id(cycle);
  request.set_root_objective_id(ctx.flags().GetOr("root", ""));
  request.set_include_archived(ctx.flags().Bool("include-archived"));
  request.set_exclude_key_results(ctx.flags().Bool("no-krs"));
  OKR_ASSIGN_OR_RETURN(okr::v1::AlignmentTree tree,
                       ctx.client().Call("GetAlignmentTree", &Stub::GetAlignmentTree, request));
  if (ctx.json()) {
    ctx.out() << ToJson(tree);
    return absl::OkStatus();
  }
  if (tree.objectives().empty()) {
    ctx.out() << "no objectives\n";
    return absl::OkStatus();
  }
  OKR_ASSIGN_OR_RETURN(const Names* names, ctx.names());
  ctx.out() << RenderAlignmentTree(tree, *names);
  return absl::OkStatus();
}

absl::Status Lint(Context& ctx) {
  const Invocation& f = ctx.flags();
  okr::v1::LintRequest request;
  if (f.Has("objective")) {
    if (f.Has("owner") || f.Has("cycle")) {
      return UsageError("lint: --objective cannot be combined with --owner or --cycle");
    }
    request.set_objective_id(*f.Get("objective"));
  } else if (f.Has("owner")) {
    if (!f.Has("cycle")) return UsageError("lint: --owner needs --cycle");
    OKR_ASSIGN_OR_RETURN(*request.mutable_owner_cycle()->mutable_owner_id(),
                         ctx.PersonFlag("owner"));
    OKR_ASSIGN_OR_RETURN(*request.mutable_owner_cycle()->mutable_cycle_id(),
                         ctx.CycleFlag("cycle"));
  } else {
    OKR_ASSIGN_OR_RETURN(*request.mutable_organisation()->mutable_cycle_id(),
                         ctx.CycleFlag("cycle"));
  }
  if (auto v = f.Get("min-severity")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::LintSeverity severity,
                         ParseEnum<okr::v1::LintSeverity>("min-severity", *v));
    request.set_minimum_severity(severity);
  }
  for (const std::string& rules : f.GetAll("disable")) {
    for (absl::string_view rule : absl::StrSplit(rules, ',', absl::SkipEmpty())) {
      request.add_disabled_rule_ids(std::string(rule));
    }
  }
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> max, f.Int("max"));
  if (max.has_value()) request.set_max_findings(static_cast<int32_t>(*max));
  OKR_ASSIGN_OR_RETURN(okr::v1::LintResponse response,
                       ctx.client().Call("Lint", &Stub::Lint, request));
  ctx.Print(response, [&] {
    std::vector<std::vector<std::string>> rows;
    for (const auto& finding : response.findings()) {
      std::string target = absl::AsciiStrToLower(ShortName(finding.target().kind()));
      absl::StrAppend(&target, " ", finding.target().id());
      if (!finding.field().empty()) absl::StrAppend(&target, ".", finding.field());
      rows.push_back({ShortName(finding.severity()), finding.rule_id(), target,
                      finding.message()});
    }
    return absl::StrCat(RenderTable({"SEVERITY", "RULE", "TARGET", "MESSAGE"}, rows),
                        response.findings_size(), " finding",
                        response.findings_size() == 1 ? "" : "s",
                        response.truncated() ? " (more exist; raise --max)" : "", " in ",
                        response.objectives_checked(), " objective",
                        response.objectives_checked() == 1 ? "" : "s", " checked\n");
  });
  return absl::OkStatus();
}

absl::Status Timeline(Context& ctx) {
  okr::v1::GetPlanningTimelineRequest request;
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> year, ctx.flags().Int("year"));
  if (!year.has_value()) return UsageError("timeline needs --year (the fiscal year, e.g. 2027)");
  request.set_fiscal_year(static_cast<int32_t>(*year));
  if (auto v = ctx.flags().Get("profile")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::PlanningProfile profile,
                         ParseEnum<okr::v1::PlanningProfile>("profile", *v));
    request.set_planning_profile(profile);
  }
  OKR_ASSIGN_OR_RETURN(
      okr::v1::GetPlanningTimelineResponse response,
      ctx.client().Call("GetPlanningTimeline", &Stub::GetPlanningTimeline, request));
  ctx.Print(response, [&] {
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : response.milestones()) {
      rows.push_back({FormatDate(m.start_date()), FormatDate(m.due_date()), m.title(),
                      m.audience()});
    }
    return absl::StrCat("Fiscal year FY", *year, " starts ",
                        FormatDate(response.fiscal_year_start()), " (",
                        absl::AsciiStrToLower(ShortName(response.planning_profile())),
                        " profile)\n",
                        RenderTable({"START", "DUE", "MILESTONE", "WHO"}, rows));
  });
  return absl::OkStatus();
}

absl::Status Templates(Context& ctx) {
  okr::v1::ListTemplatesRequest request;
  if (auto v = ctx.flags().Get("category")) {
    OKR_ASSIGN_OR_RETURN(okr::v1::Category category,
                         ParseEnum<okr::v1::Category>("category", *v));
    request.set_category(category);
  }
  request.set_function(ctx.flags().GetOr("function", ""));
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(okr::v1::ListTemplatesResponse response,
                       ctx.client().ListAll("ListTemplates", &Stub::ListTemplates, request,
                                            limit,
                                            [](const okr::v1::ListTemplatesResponse& r) {
                                              return r.templates_size();
                                            }));
  ctx.Print(response, [&] {
    std::string out;
    for (const auto& t : response.templates()) {
      std::vector<std::string> filed;
      if (t.category() != okr::v1::CATEGORY_NONE) filed.push_back(ShortName(t.category()));
      if (!t.function().empty()) filed.push_back(t.function());
      absl::StrAppend(&out, t.objective_title(), "  [", t.id(), "]  ",
                      absl::StrJoin(filed, " · "), "\n");
      for (const auto& kr : t.key_results()) absl::StrAppend(&out, "  - ", kr.title(), "\n");
    }
    if (out.empty()) out = "no templates\n";
    return out;
  });
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::stringstream buffer;
  if (path == "-") {
    buffer << std::cin.rdbuf();
    return buffer.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return UsageError(absl::StrCat("FILE: cannot read '", path, "'"));
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status Import(Context& ctx) {
  okr::v1::ImportPlanCsvRequest request;
  OKR_ASSIGN_OR_RETURN(*request.mutable_csv(), ReadInput(ctx.args()[0]));
  request.set_default_cycle(ctx.flags().GetOr("default-cycle", ""));
  request.set_dry_run(ctx.flags().Bool("dry-run"));
  request.set_request_id(ctx.RequestId());
  OKR_ASSIGN_OR_RETURN(okr::v1::ImportPlanCsvResponse response,
                       ctx.client().Call("ImportPlanCsv", &Stub::ImportPlanCsv, request));
  if (ctx.json()) {
    ctx.out() << ToJson(response);
  } else if (request.dry_run()) {
    ctx.out() << "dry run: the file would create " << response.objectives_created()
              << " objectives and " << response.key_results_created() << " key results\n";
  } else if (ctx.quiet()) {
    for (const std::string& id : response.objective_ids()) ctx.out() << id << "\n";
  } else {
    ctx.out() << "imported " << response.objectives_created() << " objectives and "
              << response.key_results_created() << " key results\n";
  }
  if (response.errors().empty()) return absl::OkStatus();
  // A dry run that found problems fails like the real import would, with the
  // same "row N, column C: reason" lines.
  std::vector<FieldViolation> violations;
  for (const auto& e : response.errors()) {
    std::string field = absl::StrCat("rows[", e.row(), "]");
    if (!e.column().empty()) absl::StrAppend(&field, ".", e.column());
    violations.push_back({field, e.reason()});
  }
  return Annotate(MakeInvalidArgument(violations),
                  absl::StrCat("ImportPlanCsv (dry run): ", response.errors_size(), " problem",
                               response.errors_size() == 1 ? "" : "s",
                               " found, nothing imported"));
}

absl::Status Export(Context& ctx) {
  okr::v1::ExportPlanCsvRequest request;
  OKR_ASSIGN_OR_RETURN(*request.mutable_cycle_id(), ctx.CycleFlag("cycle"));
  OKR_ASSIGN_OR_RETURN(*request.mutable_owner_id(), ctx.PersonFlag("owner"));
  OKR_ASSIGN_OR_RETURN(*request.mutable_team_id(), ctx.TeamFlag("team"));
  request.set_include_archived(ctx.flags().Bool("include-archived"));
  OKR_ASSIGN_OR_RETURN(okr::v1::ExportPlanCsvResponse response,
                       ctx.client().Call("ExportPlanCsv", &Stub::ExportPlanCsv, request));
  if (ctx.json()) {
    ctx.out() << ToJson(response);
    return absl::OkStatus();
  }
  std::optional<std::string> output = ctx.flags().Get("output");
  if (!output.has_value() || *output == "-") {
    ctx.out() << response.csv();
    return absl::OkStatus();
  }
  std::ofstream file(*output, std::ios::binary | std::ios::trunc);
  file << response.csv();
  file.close();
  if (!file) return UsageError(absl::StrCat("--output: cannot write '", *output, "'"));
  ctx.out() << "exported " << response.row_count() << " rows to " << *output << "\n";
  return absl::OkStatus();
}

std::string SnapshotLabel(const okr::v1::PlanChange& c) {
  switch (c.snapshot_case()) {
    case okr::v1::PlanChange::kOrganisation: return c.organisation().name();
    case okr::v1::PlanChange::kTeam: return c.team().name();
    case okr::v1::PlanChange::kPerson: return c.person().display_name();
    case okr::v1::PlanChange::kCycle:
      return absl::StrCat(c.cycle().name(), " ", ShortName(c.cycle().state()));
    case okr::v1::PlanChange::kObjective: return c.objective().title();
    case okr::v1::PlanChange::kKeyResult: return c.key_result().title();
    default: return "";
  }
}

absl::Status Changes(Context& ctx) {
  okr::v1::ListPlanChangesRequest request;
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> after, ctx.flags().Int("after"));
  request.set_after_sequence(after.value_or(0));
  for (const std::string& kinds : ctx.flags().GetAll("kind")) {
    for (absl::string_view kind : absl::StrSplit(kinds, ',', absl::SkipEmpty())) {
      OKR_ASSIGN_OR_RETURN(okr::v1::ResourceKind k,
                           ParseEnum<okr::v1::ResourceKind>("kind", kind));
      request.add_resource_kinds(k);
    }
  }
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(okr::v1::ListPlanChangesResponse response,
                       ctx.client().ListAll("ListPlanChanges", &Stub::ListPlanChanges, request,
                                            limit,
                                            [](const okr::v1::ListPlanChangesResponse& r) {
                                              return r.changes_size();
                                            }));
  ctx.Print(response, [&] {
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : response.changes()) {
      rows.push_back({absl::StrCat(c.sequence()), FormatTimestamp(c.commit_time()),
                      absl::AsciiStrToLower(ShortName(c.resource().kind())), c.resource().id(),
                      absl::StrCat(c.version()), c.deleted() ? "deleted" : "",
                      c.deleted() ? "" : SnapshotLabel(c)});
    }
    return absl::StrCat(
        RenderTable({"SEQ", "TIME", "KIND", "ID", "VERSION", "DELETED", "NOW"}, rows),
        "latest sequence ", response.latest_sequence(), "\n");
  });
  return absl::OkStatus();
}

}  // namespace

void AddPlanCommands(std::vector<Command>& commands) {
  commands.push_back(
      {"tree", "[CYCLE]", "Draw the alignment tree (objectives, KRs, cascades)",
       {ValueFlag("cycle", "CYCLE", "only this cycle (with its ancestors); or give CYCLE"),
        ValueFlag("root", "OBJECTIVE", "only this objective and its descendants"),
        BoolFlag("include-archived", "also archived objectives and key results"),
        BoolFlag("no-krs", "leave key results out"),
        BoolFlag("scores",
                 "with scores, grades and pace from the tracking service (needs the cycle)")},
       0, 1, Tree});
  commands.push_back(
      {"lint", "", "Check OKRs against the guide's rules",
       {ValueFlag("objective", "ID", "one objective and its key results"),
        ValueFlag("owner", "PERSON", "one owner's objectives (with --cycle)"),
        ValueFlag("cycle", "CYCLE", "the cycle (alone: every objective of the cycle)"),
        ValueFlag("min-severity", "info|warning|error", "leave out less severe findings"),
        ListFlag("disable", "RULE[,RULE]", "rule ids to skip"),
        ValueFlag("max", "N", "at most N findings (default 1000)")},
       0, 0, Lint});
  commands.push_back({"timeline", "", "The dated milestones of annual planning",
                      {ValueFlag("year", "YEAR", "the fiscal year (named by the year it ends in)"),
                       ValueFlag("profile", "small|enterprise",
                                 "planning profile (default: the organisation's)")},
                      0, 0, Timeline});
  commands.push_back({"templates", "", "Example OKRs by the 5 Ps and by business function",
                      {ValueFlag("category", "profit|product|people|promotion|progress",
                                 "only this category"),
                       ValueFlag("function", "NAME", "only this function, e.g. Sales"),
                       LimitFlag()},
                      0, 0, Templates});
  commands.push_back(
      {"import", "FILE", "Import a plan CSV (all or nothing; FILE '-' reads stdin)",
       {ValueFlag("default-cycle", "NAME", "cycle for rows whose cycle cell is empty"),
        BoolFlag("dry-run", "only check the file and list every problem"), RequestIdFlag()},
       1, 1, Import});
  commands.push_back({"export", "", "Export objectives and key results as plan CSV",
                      {ValueFlag("cycle", "CYCLE", "only this cycle"),
                       ValueFlag("owner", "PERSON", "only this owner's objectives"),
                       ValueFlag("team", "TEAM", "only this team's objectives"),
                       BoolFlag("include-archived", "also archived ones"),
                       {"output", FlagSpec::Kind::kValue, "FILE",
                        "write the CSV to FILE (default: stdout)", 'o'}},
                      0, 0, Export});
  commands.push_back({"changes", "", "List the plan change feed",
                      {ValueFlag("after", "SEQ", "only changes after this sequence"),
                       ListFlag("kind", "KIND[,KIND]",
                                "only these resource kinds (objective, key-result, ...)"),
                       LimitFlag()},
                      0, 0, Changes});
}

}  // namespace okr::okrctl
