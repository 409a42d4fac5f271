// Commands over the organisation, teams, people and cycles.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "common/status_macros.h"
#include "tools/okrctl/commands.h"

namespace okr::okrctl {
namespace {

using Stub = PlanningClient::Stub;

// ---- org --------------------------------------------------------------------

std::string DescribeOrganisation(const okr::v1::Organisation& o) {
  std::vector<std::vector<std::string>> rows = {
      {"id", o.id()},
      {"name", o.name()},
      {"fiscal year starts", absl::StrCat("month ", o.fiscal_year_start_month())},
      {"time zone", o.time_zone()},
      {"planning profile", ShortName(o.planning_profile())},
      {"check-in grace days",
       o.has_check_in_grace_days() ? absl::StrCat(o.check_in_grace_days()) : ""},
      {"mission", o.mission()},
      {"vision", o.vision()},
      {"values", absl::StrJoin(o.values(), "; ")},
      {"version", absl::StrCat(o.version())},
  };
  std::string out;
  for (const auto& row : rows) {
    if (!row[1].empty()) absl::StrAppend(&out, row[0], ": ", row[1], "\n");
  }
  return out;
}

absl::Status OrgBootstrap(Context& ctx) {
  std::string id = ctx.args().empty() ? ctx.client().options().organisation : ctx.args()[0];
  if (id.empty()) return UsageError("org bootstrap needs the organisation id (ID or --org)");
  okr::v1::BootstrapOrganisationRequest request;
  request.set_organisation_id(id);
  request.set_request_id(ctx.RequestId());
  okr::v1::Organisation* o = request.mutable_organisation();
  o->set_name(ctx.flags().GetOr("name", id));
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> month, ctx.flags().Int("fiscal-start-month"));
  if (month.has_value()) o->set_fiscal_year_start_month(static_cast<int32_t>(*month));
  o->set_time_zone(ctx.flags().GetOr("time-zone", ""));
  if (auto profile = ctx.flags().Get("profile"); profile.has_value()) {
    OKR_ASSIGN_OR_RETURN(okr::v1::PlanningProfile p,
                         ParseEnum<okr::v1::PlanningProfile>("profile", *profile));
    o->set_planning_profile(p);
  }
  o->set_mission(ctx.flags().GetOr("mission", ""));
  o->set_vision(ctx.flags().GetOr("vision", ""));
  for (const std::string& v : ctx.flags().GetAll("value")) o->add_values(v);
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> grace, ctx.flags().Int("grace-days"));
  if (grace.has_value()) o->set_check_in_grace_days(static_cast<int32_t>(*grace));
  ctx.client().set_organisation(id);
  OKR_ASSIGN_OR_RETURN(okr::v1::Organisation created,
                       ctx.client().Call("BootstrapOrganisation",
                                         &Stub::BootstrapOrganisation, request));
  ctx.PrintCreated(created, "organisation", {{created.id(), created.name()}});
  return absl::OkStatus();
}

absl::Status OrgShow(Context& ctx) {
  OKR_ASSIGN_OR_RETURN(okr::v1::Organisation o,
                       ctx.client().Call("GetOrganisation", &Stub::GetOrganisation,
                                         okr::v1::GetOrganisationRequest()));
  ctx.Print(o, [&] { return DescribeOrganisation(o); });
  return absl::OkStatus();
}

// ---- team -------------------------------------------------------------------

absl::Status TeamCreate(Context& ctx) {
  okr::v1::CreateTeamRequest request;
  request.set_request_id(ctx.RequestId());
  okr::v1::Team* team = request.mutable_team();
  team->set_name(ctx.args()[0]);
  OKR_ASSIGN_OR_RETURN(*team->mutable_parent_team_id(), ctx.TeamFlag("parent"));
  OKR_ASSIGN_OR_RETURN(*team->mutable_lead_person_id(), ctx.PersonFlag("lead"));
  OKR_ASSIGN_OR_RETURN(okr::v1::Team created,
                       ctx.client().Call("CreateTeam", &Stub::CreateTeam, request));
  ctx.PrintCreated(created, "team", {{created.id(), created.name()}});
  return absl::OkStatus();
}

absl::Status TeamList(Context& ctx) {
  okr::v1::ListTeamsRequest request;
  OKR_ASSIGN_OR_RETURN(*request.mutable_parent_team_id(), ctx.TeamFlag("parent"));
  OKR_ASSIGN_OR_RETURN(*request.mutable_person_id(), ctx.PersonFlag("person"));
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(
      okr::v1::ListTeamsResponse teams,
      ctx.client().ListAll("ListTeams", &Stub::ListTeams, request, limit,
                           [](const okr::v1::ListTeamsResponse& r) { return r.teams_size(); }));
  if (ctx.json()) {
    ctx.out() << ToJson(teams);
    return absl::OkStatus();
  }
  OKR_ASSIGN_OR_RETURN(const Names* names, ctx.names());
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : teams.teams()) {
    rows.push_back({t.id(), t.name(), t.parent_team_id().empty() ? "" : names->Team(t.parent_team_id()),
                    t.lead_person_id().empty() ? "" : names->Person(t.lead_person_id())});
  }
  ctx.out() << RenderTable({"ID", "NAME", "PARENT", "LEAD"}, rows);
  return absl::OkStatus();
}

// ---- person -----------------------------------------------------------------

absl::Status PersonCreate(Context& ctx) {
  okr::v1::CreatePersonRequest request;
  request.set_request_id(ctx.RequestId());
  okr::v1::Person* person = request.mutable_person();
  person->set_display_name(ctx.args()[0]);
  person->set_email(ctx.flags().GetOr("email", ""));
  for (const std::string& team : ctx.flags().GetAll("team")) {
    OKR_ASSIGN_OR_RETURN(*person->add_team_ids(), ctx.ResolveTeam("--team", team));
  }
  OKR_ASSIGN_OR_RETURN(okr::v1::Person created,
                       ctx.client().Call("CreatePerson", &Stub::CreatePerson, request));
  ctx.PrintCreated(created, "person", {{created.id(), created.display_name()}});
  return absl::OkStatus();
}

absl::Status PersonList(Context& ctx) {
  okr::v1::ListPeopleRequest request;
  OKR_ASSIGN_OR_RETURN(*request.mutable_team_id(), ctx.TeamFlag("team"));
  request.set_email(ctx.flags().GetOr("email", ""));
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(
      okr::v1::ListPeopleResponse people,
      ctx.client().ListAll("ListPeople", &Stub::ListPeople, request, limit,
                           [](const okr::v1::ListPeopleResponse& r) { return r.people_size(); }));
  if (ctx.json()) {
    ctx.out() << ToJson(people);
    return absl::OkStatus();
  }
  OKR_ASSIGN_OR_RETURN(const Names* names, ctx.names());
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : people.people()) {
    std::vector<std::string> teams;
    for (const std::string& t : p.team_ids()) teams.push_back(names->Team(t));
    rows.push_back({p.id(), p.display_name(), p.email(), absl::StrJoin(teams, ", ")});
  }
  ctx.out() << RenderTable({"ID", "NAME", "EMAIL", "TEAMS"}, rows);
  return absl::OkStatus();
}

// ---- cycle ------------------------------------------------------------------

std::vector<std::string> CycleRow(const okr::v1::Cycle& c, const Names* names) {
  return {c.id(),
          c.name(),
          ShortName(c.kind()),
          ShortName(c.state()),
          FormatDate(c.start_date()),
          FormatDate(c.end_date()),
          c.parent_cycle_id().empty() ? "" : names->Cycle(c.parent_cycle_id())};
}

const std::vector<std::string> kCycleHeader = {"ID",    "NAME", "KIND",  "STATE",
                                               "START", "END",  "PARENT"};

absl::Status CycleCreateYear(Context& ctx) {
  okr::v1::CreateFiscalYearRequest request;
  int32_t year = 0;
  absl::string_view text = ctx.args()[0];
  absl::ConsumePrefix(&text, "FY");
  if (!absl::SimpleAtoi(text, &year)) {
    return UsageError(absl::StrCat("YEAR: '", ctx.args()[0],
                                   "' is not a fiscal year (e.g. 2027 or FY2027)"));
  }
  request.set_fiscal_year(year);
  request.set_include_months(ctx.flags().Bool("months"));
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> grace, ctx.flags().Int("grace-days"));
  if (grace.has_value()) request.set_check_in_grace_days(static_cast<int32_t>(*grace));
  request.set_request_id(ctx.RequestId());
  OKR_ASSIGN_OR_RETURN(okr::v1::CreateFiscalYearResponse created,
                       ctx.client().Call("CreateFiscalYear", &Stub::CreateFiscalYear, request));
  std::vector<std::pair<std::string, std::string>> ids = {
      {created.year().id(), created.year().name()}};
  for (const auto& q : created.quarters()) ids.push_back({q.id(), q.name()});
  for (const auto& m : created.months()) ids.push_back({m.id(), m.name()});
  ctx.PrintCreated(created, "cycle", ids);
  return absl::OkStatus();
}

absl::Status CycleList(Context& ctx) {
  okr::v1::ListCyclesRequest request;
  if (auto kind = ctx.flags().Get("kind"); kind.has_value()) {
    OKR_ASSIGN_OR_RETURN(okr::v1::CycleKind k, ParseEnum<okr::v1::CycleKind>("kind", *kind));
    request.set_kind(k);
  }
  if (auto state = ctx.flags().Get("state"); state.has_value()) {
    OKR_ASSIGN_OR_RETURN(okr::v1::CycleState s,
                         ParseEnum<okr::v1::CycleState>("state", *state));
    request.set_state(s);
  }
  OKR_ASSIGN_OR_RETURN(*request.mutable_parent_cycle_id(), ctx.CycleFlag("parent"));
  if (auto day = ctx.flags().Get("contains"); day.has_value()) {
    absl::CivilDay civil;
    if (!absl::ParseCivilTime(*day, &civil)) {
      return UsageError(absl::StrCat("--contains: '", *day, "' is not a date (YYYY-MM-DD)"));
    }
    request.mutable_contains_date()->set_year(static_cast<int32_t>(civil.year()));
    request.mutable_contains_date()->set_month(civil.month());
    request.mutable_contains_date()->set_day(civil.day());
  }
  OKR_ASSIGN_OR_RETURN(int64_t limit, LimitOf(ctx));
  OKR_ASSIGN_OR_RETURN(
      okr::v1::ListCyclesResponse cycles,
      ctx.client().ListAll("ListCycles", &Stub::ListCycles, request, limit,
                           [](const okr::v1::ListCyclesResponse& r) { return r.cycles_size(); }));
  if (ctx.json()) {
    ctx.out() << ToJson(cycles);
    return absl::OkStatus();
  }
  OKR_ASSIGN_OR_RETURN(const Names* names, ctx.names());
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : cycles.cycles()) rows.push_back(CycleRow(c, names));
  ctx.out() << RenderTable(kCycleHeader, rows);
  return absl::OkStatus();
}

absl::StatusOr<okr::v1::Cycle> GetCycle(Context& ctx, const std::string& id_or_name) {
  okr::v1::GetCycleRequest request;
  OKR_ASSIGN_OR_RETURN(*request.mutable_id(), ctx.ResolveCycle("CYCLE", id_or_name));
  return ctx.client().Call("GetCycle", &Stub::GetCycle, request);
}

absl::Status CycleShow(Context& ctx) {
  OKR_ASSIGN_OR_RETURN(okr::v1::Cycle cycle, GetCycle(ctx, ctx.args()[0]));
  if (ctx.json()) {
    ctx.out() << ToJson(cycle);
    return absl::OkStatus();
  }
  OKR_ASSIGN_OR_RETURN(const Names* names, ctx.names());
  ctx.out() << RenderTable(kCycleHeader, {CycleRow(cycle, names)});
  return absl::OkStatus();
}

absl::Status CycleSetState(Context& ctx) {
  okr::v1::UpdateCycleStateRequest request;
  OKR_ASSIGN_OR_RETURN(okr::v1::CycleState state,
                       ParseEnum<okr::v1::CycleState>("STATE", ctx.args()[1]));
  request.set_state(state);
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> version, ctx.flags().Int("if-version"));
  if (version.has_value()) {
    OKR_ASSIGN_OR_RETURN(*request.mutable_id(), ctx.ResolveCycle("CYCLE", ctx.args()[0]));
    request.set_version(*version);
  } else {
    OKR_ASSIGN_OR_RETURN(okr::v1::Cycle current, GetCycle(ctx, ctx.args()[0]));
    request.set_id(current.id());
    request.set_version(current.version());
  }
  OKR_ASSIGN_OR_RETURN(okr::v1::Cycle updated,
                       ctx.client().Call("UpdateCycleState", &Stub::UpdateCycleState, request));
  ctx.Print(updated, [&] {
    return absl::StrCat("cycle ", updated.id(), " (", updated.name(), ") is now ",
                        ShortName(updated.state()), "\n");
  });
  return absl::OkStatus();
}

}  // namespace

void AddDirectoryCommands(std::vector<Command>& commands) {
  commands.push_back(
      {"org bootstrap", "[ID]", "Create an organisation (tenant); ID defaults to --org",
       {ValueFlag("name", "TEXT", "display name (default: the id)"),
        ValueFlag("fiscal-start-month", "1-12", "first month of the fiscal year (default 1)"),
        ValueFlag("time-zone", "IANA", "time zone, e.g. America/New_York (default UTC)"),
        ValueFlag("profile", "small|enterprise", "planning profile (default small)"),
        ValueFlag("mission", "TEXT", "the mission"), ValueFlag("vision", "TEXT", "the vision"),
        ListFlag("value", "TEXT", "a company value"),
        ValueFlag("grace-days", "N", "days of late check-ins after a cycle (default 7)"),
        RequestIdFlag()},
       0, 1, OrgBootstrap});
  commands.push_back({"org show", "", "Show the organisation", {}, 0, 0, OrgShow});
  commands.push_back({"team create", "NAME", "Create a team",
                      {ValueFlag("parent", "TEAM", "parent team (id or name)"),
                       ValueFlag("lead", "PERSON", "the person leading it"), RequestIdFlag()},
                      1, 1, TeamCreate});
  commands.push_back({"team list", "", "List teams",
                      {ValueFlag("parent", "TEAM", "only direct children of this team"),
                       ValueFlag("person", "PERSON", "only teams this person is in or leads"),
                       LimitFlag()},
                      0, 0, TeamList});
  commands.push_back({"person create", "NAME", "Create a person",
                      {ValueFlag("email", "ADDRESS", "e-mail address, unique"),
                       ListFlag("team", "TEAM", "a team the person belongs to"),
                       RequestIdFlag()},
                      1, 1, PersonCreate});
  commands.push_back({"person list", "", "List people",
                      {ValueFlag("team", "TEAM", "only members of this team"),
                       ValueFlag("email", "ADDRESS", "only the person with this e-mail"),
                       LimitFlag()},
                      0, 0, PersonList});
  commands.push_back(
      {"cycle create-year", "YEAR",
       "Create fiscal year YEAR (named by the year it ends in) with its quarters",
       {BoolFlag("months", "also create the twelve months"),
        ValueFlag("grace-days", "N", "late check-in days of the new cycles"), RequestIdFlag()},
       1, 1, CycleCreateYear});
  commands.push_back({"cycle list", "", "List cycles by start date",
                      {ValueFlag("kind", "annual|quarterly|monthly", "only cycles of this kind"),
                       ValueFlag("state", "STATE", "only cycles in this state"),
                       ValueFlag("parent", "CYCLE", "only direct children of this cycle"),
                       ValueFlag("contains", "YYYY-MM-DD", "only cycles containing this day"),
                       LimitFlag()},
                      0, 0, CycleList});
  commands.push_back({"cycle show", "CYCLE", "Show one cycle", {}, 1, 1, CycleShow});
  commands.push_back({"cycle set-state", "CYCLE STATE",
                      "Move a cycle forward: planning -> active -> review -> closed",
                      {IfVersionFlag()}, 2, 2, CycleSetState});
}

}  // namespace okr::okrctl
