// The directory use-cases of Planning: the organisation itself, its teams and
// people, and its cycles (planning.h, sections "Organisation", "Teams and
// people" and "Cycles").
//
// Names that must be unique (sibling teams, cycles, e-mail addresses) compare
// ASCII case-insensitively: "Sales" and "sales" under one parent would be the
// same team to any reader. Lists sort case-insensitively too, then by the
// exact text, then by id, so that every sort key is unique as Paginate needs.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/types/span.h"
#include "common/calendar.h"
#include "common/model.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "services/planning/org_state.h"
#include "services/planning/planning.h"

namespace okr::planning {
namespace {

// Teams nest at most this deep (a top-level team is level 1).
constexpr int kMaxTeamDepth = 20;
// A person belongs to at most this many teams.
constexpr size_t kMaxPersonTeams = 50;
// Grace days, on an organisation or a cycle, inclusive.
constexpr int kMaxCheckInGraceDays = 90;
// Fiscal years CreateFiscalYear accepts (as GetPlanningTimeline), and the
// calendar years a cycle's dates may fall in. Four-digit years keep the
// ISO dates in ListCycles' sort keys in chronological order.
constexpr int kMinFiscalYear = 1970;
constexpr int kMaxFiscalYear = 9998;
const absl::CivilDay kFirstCycleDay(1970, 1, 1);
const absl::CivilDay kLastCycleDay(9999, 12, 31);

// Separates the parts of a composite sort key; below every byte that
// validated text may contain, so ("ab", x) sorts before ("abc", y).
constexpr char kKeySep = '\x01';

std::string Quote(absl::string_view s) { return absl::StrCat("'", s, "'"); }

std::string Day(absl::CivilDay day) { return absl::FormatCivilTime(day); }

absl::Status Violation(absl::StatusCode code, absl::string_view field,
                       std::string description) {
  FieldViolation fv{std::string(field), std::move(description)};
  return MakeFieldStatus(code, {&fv, 1});
}

absl::Status InvalidField(absl::string_view field, std::string description) {
  return Violation(absl::StatusCode::kInvalidArgument, field,
                   std::move(description));
}

// Merges a validator's INVALID_ARGUMENT with further violations of the same
// request, so that the caller learns every problem at once.
absl::Status MergeViolations(const absl::Status& validated,
                             std::vector<FieldViolation> extra) {
  if (!validated.ok() &&
      validated.code() != absl::StatusCode::kInvalidArgument) {
    return validated;
  }
  std::vector<FieldViolation> all = FieldViolationsOf(validated);
  if (!validated.ok() && all.empty()) return validated;  // no payload
  all.insert(all.end(), std::make_move_iterator(extra.begin()),
             std::make_move_iterator(extra.end()));
  return MakeInvalidArgument(all);
}

void CheckGraceDays(std::vector<FieldViolation>& v, absl::string_view field,
                    const std::optional<int>& days) {
  if (days.has_value() && (*days < 0 || *days > kMaxCheckInGraceDays)) {
    v.push_back({std::string(field),
                 absl::StrFormat("must be between 0 and %d days; got %d",
                                 kMaxCheckInGraceDays, *days)});
  }
}

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

// "name" sorted case-insensitively, then exactly, then by id.
std::string NameKey(absl::string_view name, absl::string_view id) {
  return absl::StrCat(Lower(name), std::string(1, kKeySep), name,
                      std::string(1, kKeySep), id);
}

// Sorts `entries` by key and returns the page `request` asks for.
template <typename T>
absl::StatusOr<Page<T>> MakePage(
    const PageRequest& request, absl::string_view filter_key,
    std::vector<std::pair<std::string, const T*>> entries) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> keys;
  keys.reserve(entries.size());
  for (const auto& entry : entries) keys.push_back(entry.first);
  OKR_ASSIGN_OR_RETURN(PageSlice slice,
                       Paginate(request, filter_key, keys));
  Page<T> page;
  page.total_size = static_cast<int>(entries.size());
  page.next_page_token = std::move(slice.next_page_token);
  for (size_t i = slice.begin; i < slice.end && i < entries.size(); ++i) {
    page.items.push_back(*entries[i].second);
  }
  return page;
}

// --- Update masks -------------------------------------------------------------

struct MaskRules {
  std::vector<absl::string_view> mutable_paths;
  // Paths that exist but cannot change here, with the reason ("is output
  // only", "changes through UpdateCycleState").
  std::vector<std::pair<absl::string_view, absl::string_view>> refused;
};

// INVALID_ARGUMENT "update_mask: ..." for an empty mask or a path that is
// unknown or refused; every bad path is named.
absl::Status CheckMask(const std::vector<std::string>& paths,
                       const MaskRules& rules) {
  if (paths.empty()) {
    return InvalidField(
        "update_mask",
        absl::StrCat("required: name the fields to change (",
                     absl::StrJoin(rules.mutable_paths, ", "), ")"));
  }
  std::vector<FieldViolation> v;
  for (const std::string& path : paths) {
    if (std::find(rules.mutable_paths.begin(), rules.mutable_paths.end(),
                  path) != rules.mutable_paths.end()) {
      continue;
    }
    auto refused = std::find_if(
        rules.refused.begin(), rules.refused.end(),
        [&](const auto& r) { return r.first == path; });
    if (refused != rules.refused.end()) {
      v.push_back({"update_mask",
                   absl::StrCat(Quote(path), " ", refused->second)});
    } else {
      v.push_back({"update_mask",
                   absl::StrCat("unknown field ", Quote(path),
                                "; the fields that can change are ",
                                absl::StrJoin(rules.mutable_paths, ", "))});
    }
  }
  return MakeInvalidArgument(v);
}

bool HasPath(const std::vector<std::string>& paths, absl::string_view path) {
  return std::find(paths.begin(), paths.end(), path) != paths.end();
}

constexpr absl::string_view kOutputOnly = "is output only";

// --- Organisation -----------------------------------------------------------

// Field rules plus what ValidateOrganisation leaves to us: the grace days'
// range, and a zone that the calendar code (okr::LoadZone) will load.
absl::Status CheckOrganisation(const Organisation& organisation) {
  std::vector<FieldViolation> extra;
  CheckGraceDays(extra, "organisation.check_in_grace_days",
                 organisation.check_in_grace_days);
  absl::Status validated = ValidateOrganisation(organisation);
  if (validated.ok()) {
    if (absl::StatusOr<absl::TimeZone> zone = LoadZone(organisation.time_zone);
        !zone.ok()) {
      // LoadZone names the bare field; the request's is under organisation.
      extra.push_back({"organisation.time_zone",
                       std::string(absl::StripPrefix(zone.status().message(),
                                                     "time_zone: "))});
    }
  }
  return MergeViolations(validated, std::move(extra));
}

// --- Teams --------------------------------------------------------------------

// The level of `team_id` in the tree: 1 for a top-level team. Stops at a
// (corrupt) loop rather than spinning.
int TeamDepth(const OrgState& state, absl::string_view team_id) {
  int depth = 0;
  const size_t limit = state.teams().size() + 1;
  for (const Team* t = state.FindTeam(team_id); t != nullptr;
       t = state.FindTeam(t->parent_team_id)) {
    if (static_cast<size_t>(++depth) > limit) break;
  }
  return depth;
}

// The number of levels of the subtree rooted at `team_id` (1 for a leaf).
int SubtreeHeight(const OrgState& state, absl::string_view team_id) {
  absl::flat_hash_map<absl::string_view, std::vector<absl::string_view>>
      children;
  for (const auto& [id, team] : state.teams()) {
    if (!team.parent_team_id.empty()) {
      children[team.parent_team_id].push_back(id);
    }
  }
  int height = 0;
  std::vector<absl::string_view> level = {team_id};
  absl::flat_hash_set<absl::string_view> seen = {team_id};
  while (!level.empty()) {
    ++height;
    std::vector<absl::string_view> next;
    for (absl::string_view id : level) {
      auto it = children.find(id);
      if (it == children.end()) continue;
      for (absl::string_view child : it->second) {
        if (seen.insert(child).second) next.push_back(child);
      }
    }
    level = std::move(next);
  }
  return height;
}

// Checks `team` (new or changed) against the rest of the tree: parent and
// lead exist, the parent is not inside the team's own subtree, the tree stays
// within kMaxTeamDepth, and no sibling has the same name.
absl::Status CheckTeamInTree(const OrgState& state, const Team& team) {
  if (!team.parent_team_id.empty()) {
    OKR_RETURN_IF_ERROR(
        state.GetTeam(team.parent_team_id, "team.parent_team_id").status());
  }
  if (!team.lead_person_id.empty()) {
    OKR_RETURN_IF_ERROR(
        state.GetPerson(team.lead_person_id, "team.lead_person_id").status());
  }
  if (!team.id.empty() && !team.parent_team_id.empty()) {
    const size_t limit = state.teams().size() + 1;
    size_t steps = 0;
    for (const Team* t = state.FindTeam(team.parent_team_id);
         t != nullptr && ++steps <= limit;
         t = state.FindTeam(t->parent_team_id)) {
      if (t->id == team.id) {
        return InvalidField(
            "team.parent_team_id",
            absl::StrCat(Quote(team.parent_team_id), " is a sub-team of ",
                         Quote(team.id),
                         "; a team cannot move under its own sub-tree"));
      }
    }
  }
  const int parent_depth =
      team.parent_team_id.empty() ? 0 : TeamDepth(state, team.parent_team_id);
  const int height = team.id.empty() || state.FindTeam(team.id) == nullptr
                         ? 1
                         : SubtreeHeight(state, team.id);
  if (parent_depth + height > kMaxTeamDepth) {
    return Violation(
        absl::StatusCode::kFailedPrecondition, "team.parent_team_id",
        absl::StrFormat("the team tree would be %d levels deep; at most %d "
                        "are allowed (attach the team higher up)",
                        parent_depth + height, kMaxTeamDepth));
  }
  for (const Team* other : state.SubTeamsOf(team.parent_team_id)) {
    const Id& id = other->id;
    if (id != team.id && absl::EqualsIgnoreCase(other->name, team.name)) {
      return Violation(
          absl::StatusCode::kAlreadyExists, "team.name",
          absl::StrCat(Quote(team.name), " is already the name of team ",
                       Quote(id),
                       team.parent_team_id.empty()
                           ? " at the top level"
                           : absl::StrCat(" under ",
                                          Quote(team.parent_team_id)),
                       "; sibling teams need different names"));
    }
  }
  return absl::OkStatus();
}

// --- People -------------------------------------------------------------------

// Field rules of a person, plus the team list's size and duplicates.
absl::Status CheckPersonFields(const Person& person) {
  std::vector<FieldViolation> extra;
  if (person.team_ids.size() > kMaxPersonTeams) {
    extra.push_back({"person.team_ids",
                     absl::StrFormat("must have at most %d entries; got %d",
                                     kMaxPersonTeams, person.team_ids.size())});
  }
  absl::flat_hash_map<absl::string_view, size_t> first;
  for (size_t i = 0; i < person.team_ids.size(); ++i) {
    auto [it, inserted] = first.try_emplace(person.team_ids[i], i);
    if (!inserted) {
      extra.push_back({absl::StrCat("person.team_ids[", i, "]"),
                       absl::StrCat("repeats team_ids[", it->second, "] (",
                                    Quote(person.team_ids[i]), ")")});
    }
  }
  return MergeViolations(ValidatePerson(person), std::move(extra));
}

// Teams exist and the e-mail address (when given) is not another person's.
absl::Status CheckPersonInDirectory(const OrgState& state,
                                    const Person& person) {
  for (size_t i = 0; i < person.team_ids.size(); ++i) {
    OKR_RETURN_IF_ERROR(
        state
            .GetTeam(person.team_ids[i],
                     absl::StrCat("person.team_ids[", i, "]"))
            .status());
  }
  if (person.email.empty()) return absl::OkStatus();
  for (const Person* other : state.PeopleWithEmail(person.email)) {
    if (other->id != person.id) {
      return Violation(absl::StatusCode::kAlreadyExists, "person.email",
                       absl::StrCat(Quote(person.email),
                                    " is already the e-mail address of person ",
                                    Quote(other->id)));
    }
  }
  return absl::OkStatus();
}

// --- Cycles -------------------------------------------------------------------

int KindRank(CycleKind kind) {
  switch (kind) {
    case CycleKind::kAnnual:
      return 1;
    case CycleKind::kQuarterly:
      return 2;
    case CycleKind::kMonthly:
      return 3;
    default:
      return 4;
  }
}

std::string Describe(const Cycle& c) {
  return absl::StrFormat("%s cycle %s ('%s', %s to %s)", Name(c.kind),
                         Quote(c.id), c.name, Day(c.start), Day(c.end));
}

// ValidateCycle names the model's fields "start" and "end"; the API calls
// them start_date and end_date.
absl::Status RenameDateFields(const absl::Status& status) {
  std::vector<FieldViolation> v = FieldViolationsOf(status);
  if (v.empty()) return status;
  for (FieldViolation& fv : v) {
    for (std::string* text : {&fv.field, &fv.description}) {
      *text = absl::StrReplaceAll(*text, {{"cycle.start", "cycle.start_date"},
                                          {"cycle.end", "cycle.end_date"}});
    }
  }
  return MakeFieldStatus(status.code(), v);
}

// Field rules of a cycle, with the API's field names, plus the grace days
// and the date range the service supports.
absl::Status CheckCycleFields(const Cycle& cycle) {
  std::vector<FieldViolation> extra;
  CheckGraceDays(extra, "cycle.check_in_grace_days", cycle.check_in_grace_days);
  if (cycle.start < kFirstCycleDay || cycle.start > kLastCycleDay) {
    extra.push_back({"cycle.start_date",
                     absl::StrCat("must be between ", Day(kFirstCycleDay),
                                  " and ", Day(kLastCycleDay), "; got ",
                                  Day(cycle.start))});
  }
  if (cycle.end < kFirstCycleDay || cycle.end > kLastCycleDay) {
    extra.push_back({"cycle.end_date",
                     absl::StrCat("must be between ", Day(kFirstCycleDay),
                                  " and ", Day(kLastCycleDay), "; got ",
                                  Day(cycle.end))});
  }
  return MergeViolations(RenameDateFields(ValidateCycle(cycle)),
                         std::move(extra));
}

// The name is not another cycle's (ALREADY_EXISTS naming `field`).
absl::Status CheckCycleName(const OrgState& state, const Cycle& cycle,
                            absl::string_view field) {
  for (const auto& [id, other] : state.cycles()) {
    if (id != cycle.id && absl::EqualsIgnoreCase(other.name, cycle.name)) {
      return Violation(absl::StatusCode::kAlreadyExists, field,
                       absl::StrCat("a cycle named ", Quote(cycle.name),
                                    " already exists: ", Describe(other)));
    }
  }
  return absl::OkStatus();
}

// The cycle's dates lie inside its parent's, cover its children's, and do not
// overlap another cycle of the same kind (FAILED_PRECONDITION naming
// `field`). Checked against every cycle of the kind, not only those with the
// same parent: two overlapping quarters would make "the current quarter"
// ambiguous even when one of them stands alone.
absl::Status CheckCycleDates(const OrgState& state, const Cycle& cycle,
                             absl::string_view field) {
  if (const Cycle* parent = state.FindCycle(cycle.parent_cycle_id)) {
    if (cycle.start < parent->start || cycle.end > parent->end) {
      return Violation(
          absl::StatusCode::kFailedPrecondition, field,
          absl::StrCat(Day(cycle.start), " to ", Day(cycle.end),
                       " is not inside the parent ", Describe(*parent)));
    }
  }
  for (const auto& [id, other] : state.cycles()) {
    if (id == cycle.id) continue;
    if (!cycle.id.empty() && other.parent_cycle_id == cycle.id &&
        (other.start < cycle.start || other.end > cycle.end)) {
      return Violation(
          absl::StatusCode::kFailedPrecondition, field,
          absl::StrCat(Day(cycle.start), " to ", Day(cycle.end),
                       " would leave its child ", Describe(other),
                       " outside; change the child first"));
    }
    if (other.kind == cycle.kind && other.start < cycle.end &&
        cycle.start < other.end) {
      return Violation(
          absl::StatusCode::kFailedPrecondition, field,
          absl::StrCat(Day(cycle.start), " to ", Day(cycle.end),
                       " overlaps ", Describe(other),
                       "; cycles of one kind must not overlap"));
    }
  }
  return absl::OkStatus();
}

// The parent exists (NOT_FOUND) and is of the kind one level up: a
// quarter's parent is a year, a month's a quarter (INVALID_ARGUMENT).
absl::Status CheckCycleParent(const OrgState& state, const Cycle& cycle) {
  if (cycle.parent_cycle_id.empty()) return absl::OkStatus();
  OKR_ASSIGN_OR_RETURN(
      const Cycle* parent,
      state.GetCycle(cycle.parent_cycle_id, "cycle.parent_cycle_id"));
  const CycleKind expected = cycle.kind == CycleKind::kMonthly
                                 ? CycleKind::kQuarterly
                                 : CycleKind::kAnnual;
  if (parent->kind != expected) {
    return InvalidField(
        "cycle.parent_cycle_id",
        absl::StrCat("the parent of a ", Name(cycle.kind), " cycle must be ",
                     Name(expected), "; ", Describe(*parent), " is not"));
  }
  return absl::OkStatus();
}

CycleState NextState(CycleState state) {
  switch (state) {
    case CycleState::kPlanning:
      return CycleState::kActive;
    case CycleState::kActive:
      return CycleState::kReview;
    case CycleState::kReview:
      return CycleState::kClosed;
    default:
      return CycleState::kUnspecified;
  }
}

// Rebuilds a FiscalYear from the ids its creation recorded (year first).
absl::StatusOr<FiscalYear> FiscalYearFromIds(const OrgState& state,
                                             absl::Span<const Id> ids) {
  FiscalYear result;
  for (const Id& id : ids) {
    OKR_ASSIGN_OR_RETURN(const Cycle* c, state.GetCycle(id, "request_id"));
    switch (c->kind) {
      case CycleKind::kAnnual:
        result.year = *c;
        break;
      case CycleKind::kQuarterly:
        result.quarters.push_back(*c);
        break;
      default:
        result.months.push_back(*c);
        break;
    }
  }
  return result;
}

}  // namespace

// =============================================================================
// Organisation
// =============================================================================

absl::StatusOr<Organisation> Planning::BootstrapOrganisation(
    absl::string_view org, Organisation organisation, const RequestKey& key) {
  OKR_RETURN_IF_ERROR(ValidateOrganisationId("organisation_id", org));
  // The id comes from the request field, and output-only fields are ignored.
  organisation.id = std::string(org);
  organisation.version = 0;
  organisation.create_time = absl::InfinitePast();
  organisation.update_time = absl::InfinitePast();
  // Zero values on the wire mean "the default".
  if (organisation.fiscal_year_start_month == 0) {
    organisation.fiscal_year_start_month = 1;
  }
  if (organisation.time_zone.empty()) organisation.time_zone = "UTC";
  if (organisation.planning_profile == PlanningProfile::kUnspecified) {
    organisation.planning_profile = PlanningProfile::kSmall;
  }
  if (!organisation.check_in_grace_days.has_value()) {
    organisation.check_in_grace_days = kDefaultCheckInGraceDays;
  }
  OKR_RETURN_IF_ERROR(CheckOrganisation(organisation));

  Organisation created;
  OKR_RETURN_IF_ERROR(Write(
      org, "BootstrapOrganisation", key,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        if (state.exists()) {
          return Violation(absl::StatusCode::kAlreadyExists, "organisation_id",
                           absl::StrCat("organisation ", Quote(org),
                                        " already exists; choose another id"));
        }
        StampCreated(organisation, ctx.now);
        m->puts.push_back(organisation);
        m->result_ids.push_back(organisation.id);
        created = organisation;
        return absl::OkStatus();
      },
      [&](const OrgState& state, absl::Span<const Id>) -> absl::Status {
        created = state.organisation();
        return absl::OkStatus();
      },
      /*allow_missing=*/true));
  return created;
}

absl::StatusOr<Organisation> Planning::GetOrganisation(absl::string_view org) {
  Organisation result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) {
    result = state.organisation();
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<Organisation> Planning::UpdateOrganisation(
    absl::string_view org, const Organisation& values,
    const std::vector<std::string>& paths, int64_t version) {
  static const MaskRules* const kRules = new MaskRules{
      {"name", "mission", "vision", "values", "fiscal_year_start_month",
       "time_zone", "planning_profile", "check_in_grace_days"},
      {{"id", kOutputOnly},
       {"version", kOutputOnly},
       {"create_time", kOutputOnly},
       {"update_time", kOutputOnly}}};
  OKR_RETURN_IF_ERROR(CheckMask(paths, *kRules));
  Organisation updated;
  OKR_RETURN_IF_ERROR(Write(
      org,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_RETURN_IF_ERROR(
            CheckVersion(version, state.organisation().version));
        Organisation o = state.organisation();
        // Existing cycles keep their dates when the fiscal-year start moves:
        // they were planned on the old calendar, and only new fiscal years
        // follow the new one.
        if (HasPath(paths, "name")) o.name = values.name;
        if (HasPath(paths, "mission")) o.mission = values.mission;
        if (HasPath(paths, "vision")) o.vision = values.vision;
        if (HasPath(paths, "values")) o.values = values.values;
        if (HasPath(paths, "fiscal_year_start_month")) {
          o.fiscal_year_start_month = values.fiscal_year_start_month;
        }
        if (HasPath(paths, "time_zone")) o.time_zone = values.time_zone;
        if (HasPath(paths, "planning_profile")) {
          o.planning_profile = values.planning_profile;
        }
        if (HasPath(paths, "check_in_grace_days")) {
          o.check_in_grace_days = values.check_in_grace_days;
        }
        OKR_RETURN_IF_ERROR(CheckOrganisation(o));
        StampUpdated(o, ctx.now);
        m->puts.push_back(o);
        updated = std::move(o);
        return absl::OkStatus();
      }));
  return updated;
}

// =============================================================================
// Teams
// =============================================================================

absl::StatusOr<Team> Planning::CreateTeam(absl::string_view org, Team team,
                                          const RequestKey& key) {
  team.id.clear();
  team.organisation_id = std::string(org);
  team.version = 0;
  OKR_RETURN_IF_ERROR(ValidateTeam(team));
  Team created;
  OKR_RETURN_IF_ERROR(Write(
      org, "CreateTeam", key,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_RETURN_IF_ERROR(CheckTeamInTree(state, team));
        team.id = ctx.new_id(ResourceKind::kTeam);
        StampCreated(team, ctx.now);
        m->puts.push_back(team);
        m->result_ids.push_back(team.id);
        created = team;
        return absl::OkStatus();
      },
      [&](const OrgState& state, absl::Span<const Id> ids) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Team* t, state.GetTeam(ids[0], "request_id"));
        created = *t;
        return absl::OkStatus();
      }));
  return created;
}

absl::StatusOr<Team> Planning::GetTeam(absl::string_view org,
                                       absl::string_view id) {
  OKR_RETURN_IF_ERROR(ValidateId("id", id, /*required=*/true));
  Team result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(const Team* t, state.GetTeam(id, "id"));
    result = *t;
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<Page<Team>> Planning::ListTeams(absl::string_view org,
                                               const TeamFilter& filter,
                                               const PageRequest& page) {
  OKR_RETURN_IF_ERROR(
      ValidateId("parent_team_id", filter.parent_team_id, false));
  OKR_RETURN_IF_ERROR(ValidateId("person_id", filter.person_id, false));
  Page<Team> result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    const Person* person =
        filter.person_id.empty() ? nullptr : state.FindPerson(filter.person_id);
    std::vector<std::pair<std::string, const Team*>> entries;
    for (const auto& [id, team] : state.teams()) {
      if (!filter.parent_team_id.empty() &&
          team.parent_team_id != filter.parent_team_id) {
        continue;
      }
      if (!filter.person_id.empty()) {
        const bool member =
            person != nullptr &&
            std::find(person->team_ids.begin(), person->team_ids.end(), id) !=
                person->team_ids.end();
        if (!member && team.lead_person_id != filter.person_id) continue;
      }
      entries.emplace_back(NameKey(team.name, id), &team);
    }
    OKR_ASSIGN_OR_RETURN(
        result, MakePage(page,
                         absl::StrCat("teams", std::string(1, kKeySep),
                                      filter.parent_team_id,
                                      std::string(1, kKeySep),
                                      filter.person_id),
                         std::move(entries)));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<Team> Planning::UpdateTeam(absl::string_view org,
                                          const Team& values,
                                          const std::vector<std::string>& paths,
                                          int64_t version) {
  static const MaskRules* const kRules =
      new MaskRules{{"name", "parent_team_id", "lead_person_id"},
                    {{"id", kOutputOnly},
                     {"version", kOutputOnly},
                     {"create_time", kOutputOnly},
                     {"update_time", kOutputOnly}}};
  OKR_RETURN_IF_ERROR(ValidateId("team.id", values.id, /*required=*/true));
  OKR_RETURN_IF_ERROR(CheckMask(paths, *kRules));
  Team updated;
  OKR_RETURN_IF_ERROR(Write(
      org,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Team* stored,
                             state.GetTeam(values.id, "team.id"));
        OKR_RETURN_IF_ERROR(CheckVersion(version, stored->version));
        Team t = *stored;
        if (HasPath(paths, "name")) t.name = values.name;
        if (HasPath(paths, "parent_team_id")) {
          t.parent_team_id = values.parent_team_id;
        }
        if (HasPath(paths, "lead_person_id")) {
          t.lead_person_id = values.lead_person_id;
        }
        OKR_RETURN_IF_ERROR(ValidateTeam(t));
        OKR_RETURN_IF_ERROR(CheckTeamInTree(state, t));
        StampUpdated(t, ctx.now);
        m->puts.push_back(t);
        updated = std::move(t);
        return absl::OkStatus();
      }));
  return updated;
}

absl::Status Planning::DeleteTeam(absl::string_view org, absl::string_view id,
                                  int64_t version) {
  OKR_RETURN_IF_ERROR(ValidateId("id", id, /*required=*/true));
  return Write(org, [&](const OrgState& state, const WriteContext& ctx,
                        Mutation* m) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(const Team* team, state.GetTeam(id, "id"));
    OKR_RETURN_IF_ERROR(CheckVersion(version, team->version));
    std::vector<absl::string_view> sub_teams;
    for (const auto& [other_id, other] : state.teams()) {
      if (other.parent_team_id == id) sub_teams.push_back(other_id);
    }
    if (!sub_teams.empty()) {
      return Violation(
          absl::StatusCode::kFailedPrecondition, "id",
          absl::StrFormat("team '%s' has %d sub-team(s) ('%s'); move or delete "
                          "them first",
                          id, sub_teams.size(),
                          absl::StrJoin(sub_teams, "', '")));
    }
    std::vector<absl::string_view> objectives;
    for (const auto& [objective_id, objective] : state.objectives()) {
      if (objective.team_id == id) objectives.push_back(objective_id);
    }
    if (!objectives.empty()) {
      return Violation(
          absl::StatusCode::kFailedPrecondition, "id",
          absl::StrFormat(
              "team '%s' has %d objective(s) (archived ones included, e.g. "
              "'%s'); move them to another team or delete them first",
              id, objectives.size(), objectives.front()));
    }
    // Membership is not a reason to keep a team: members simply leave it, so
    // that no person refers to a team that no longer exists.
    for (const auto& [person_id, person] : state.people()) {
      if (std::find(person.team_ids.begin(), person.team_ids.end(), id) ==
          person.team_ids.end()) {
        continue;
      }
      Person p = person;
      p.team_ids.erase(std::remove(p.team_ids.begin(), p.team_ids.end(), id),
                       p.team_ids.end());
      StampUpdated(p, ctx.now);
      m->puts.push_back(std::move(p));
    }
    m->deletes.emplace_back(ResourceKind::kTeam, std::string(id));
    return absl::OkStatus();
  });
}

// =============================================================================
// People
// =============================================================================

absl::StatusOr<Person> Planning::CreatePerson(absl::string_view org,
                                              Person person,
                                              const RequestKey& key) {
  person.id.clear();
  person.organisation_id = std::string(org);
  person.version = 0;
  OKR_RETURN_IF_ERROR(CheckPersonFields(person));
  Person created;
  OKR_RETURN_IF_ERROR(Write(
      org, "CreatePerson", key,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_RETURN_IF_ERROR(CheckPersonInDirectory(state, person));
        person.id = ctx.new_id(ResourceKind::kPerson);
        StampCreated(person, ctx.now);
        m->puts.push_back(person);
        m->result_ids.push_back(person.id);
        created = person;
        return absl::OkStatus();
      },
      [&](const OrgState& state, absl::Span<const Id> ids) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Person* p,
                             state.GetPerson(ids[0], "request_id"));
        created = *p;
        return absl::OkStatus();
      }));
  return created;
}

absl::StatusOr<Person> Planning::GetPerson(absl::string_view org,
                                           absl::string_view id) {
  OKR_RETURN_IF_ERROR(ValidateId("id", id, /*required=*/true));
  Person result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(const Person* p, state.GetPerson(id, "id"));
    result = *p;
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<Page<Person>> Planning::ListPeople(absl::string_view org,
                                                  const PersonFilter& filter,
                                                  const PageRequest& page) {
  OKR_RETURN_IF_ERROR(ValidateId("team_id", filter.team_id, false));
  Page<Person> result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    std::vector<std::pair<std::string, const Person*>> entries;
    for (const auto& [id, person] : state.people()) {
      if (!filter.team_id.empty() &&
          std::find(person.team_ids.begin(), person.team_ids.end(),
                    filter.team_id) == person.team_ids.end()) {
        continue;
      }
      if (!filter.email.empty() &&
          !absl::EqualsIgnoreCase(person.email, filter.email)) {
        continue;
      }
      entries.emplace_back(NameKey(person.display_name, id), &person);
    }
    OKR_ASSIGN_OR_RETURN(
        result, MakePage(page,
                         absl::StrCat("people", std::string(1, kKeySep),
                                      filter.team_id, std::string(1, kKeySep),
                                      Lower(filter.email)),
                         std::move(entries)));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<Person> Planning::UpdatePerson(
    absl::string_view org, const Person& values,
    const std::vector<std::string>& paths, int64_t version) {
  static const MaskRules* const kRules =
      new MaskRules{{"display_name", "email", "team_ids"},
                    {{"id", kOutputOnly},
                     {"version", kOutputOnly},
                     {"create_time", kOutputOnly},
                     {"update_time", kOutputOnly}}};
  OKR_RETURN_IF_ERROR(ValidateId("person.id", values.id, /*required=*/true));
  OKR_RETURN_IF_ERROR(CheckMask(paths, *kRules));
  Person updated;
  OKR_RETURN_IF_ERROR(Write(
      org,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Person* stored,
                             state.GetPerson(values.id, "person.id"));
        OKR_RETURN_IF_ERROR(CheckVersion(version, stored->version));
        Person p = *stored;
        if (HasPath(paths, "display_name")) p.display_name = values.display_name;
        if (HasPath(paths, "email")) p.email = values.email;
        if (HasPath(paths, "team_ids")) p.team_ids = values.team_ids;
        OKR_RETURN_IF_ERROR(CheckPersonFields(p));
        OKR_RETURN_IF_ERROR(CheckPersonInDirectory(state, p));
        StampUpdated(p, ctx.now);
        m->puts.push_back(p);
        updated = std::move(p);
        return absl::OkStatus();
      }));
  return updated;
}

absl::Status Planning::DeletePerson(absl::string_view org,
                                    absl::string_view id, int64_t version) {
  OKR_RETURN_IF_ERROR(ValidateId("id", id, /*required=*/true));
  return Write(org, [&](const OrgState& state, const WriteContext&,
                        Mutation* m) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(const Person* person, state.GetPerson(id, "id"));
    OKR_RETURN_IF_ERROR(CheckVersion(version, person->version));
    std::vector<std::string> reasons;
    int objectives = 0;
    absl::string_view an_objective;
    for (const auto& [objective_id, objective] : state.objectives()) {
      if (objective.owner_id != id) continue;
      if (objectives++ == 0) an_objective = objective_id;
    }
    if (objectives > 0) {
      reasons.push_back(absl::StrFormat("owns %d objective(s), e.g. '%s'",
                                        objectives, an_objective));
    }
    int key_results = 0;
    absl::string_view a_key_result;
    for (const auto& [key_result_id, key_result] : state.key_results()) {
      if (key_result.owner_id != id) continue;
      if (key_results++ == 0) a_key_result = key_result_id;
    }
    if (key_results > 0) {
      reasons.push_back(absl::StrFormat("owns %d key result(s), e.g. '%s'",
                                        key_results, a_key_result));
    }
    for (const auto& [team_id, team] : state.teams()) {
      if (team.lead_person_id == id) {
        reasons.push_back(absl::StrFormat("leads team '%s'", team_id));
      }
    }
    if (!reasons.empty()) {
      return Violation(
          absl::StatusCode::kFailedPrecondition, "id",
          absl::StrFormat("person '%s' %s (archived ones included); reassign "
                          "them first",
                          id, absl::StrJoin(reasons, ", ")));
    }
    m->deletes.emplace_back(ResourceKind::kPerson, std::string(id));
    return absl::OkStatus();
  });
}

// =============================================================================
// Cycles
// =============================================================================

absl::StatusOr<Cycle> Planning::CreateCycle(absl::string_view org, Cycle cycle,
                                            const RequestKey& key) {
  cycle.id.clear();
  cycle.organisation_id = std::string(org);
  cycle.state = CycleState::kPlanning;
  cycle.version = 0;
  OKR_RETURN_IF_ERROR(CheckCycleFields(cycle));
  Cycle created;
  OKR_RETURN_IF_ERROR(Write(
      org, "CreateCycle", key,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_RETURN_IF_ERROR(CheckCycleParent(state, cycle));
        OKR_RETURN_IF_ERROR(CheckCycleName(state, cycle, "cycle.name"));
        OKR_RETURN_IF_ERROR(CheckCycleDates(state, cycle, "cycle.start_date"));
        cycle.id = ctx.new_id(ResourceKind::kCycle);
        StampCreated(cycle, ctx.now);
        m->puts.push_back(cycle);
        m->result_ids.push_back(cycle.id);
        created = cycle;
        return absl::OkStatus();
      },
      [&](const OrgState& state, absl::Span<const Id> ids) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Cycle* c,
                             state.GetCycle(ids[0], "request_id"));
        created = *c;
        return absl::OkStatus();
      }));
  return created;
}

absl::StatusOr<FiscalYear> Planning::CreateFiscalYear(
    absl::string_view org, int fiscal_year, bool include_months,
    std::optional<int> check_in_grace_days, const RequestKey& key) {
  std::vector<FieldViolation> v;
  if (fiscal_year < kMinFiscalYear || fiscal_year > kMaxFiscalYear) {
    v.push_back({"fiscal_year",
                 absl::StrFormat("must be between %d and %d (the calendar "
                                 "year in which the fiscal year ends); got %d",
                                 kMinFiscalYear, kMaxFiscalYear, fiscal_year)});
  }
  CheckGraceDays(v, "check_in_grace_days", check_in_grace_days);
  OKR_RETURN_IF_ERROR(MakeInvalidArgument(v));

  FiscalYear result;
  OKR_RETURN_IF_ERROR(Write(
      org, "CreateFiscalYear", key,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(
            FiscalCalendar calendar,
            FiscalCalendar::Create(
                state.organisation().fiscal_year_start_month));
        std::vector<Cycle> cycles = FiscalYearCycles(
            calendar, fiscal_year, state.organisation().id, include_months,
            [&](const Cycle&) { return ctx.new_id(ResourceKind::kCycle); });
        // Name clashes first (the year, or a quarter or month someone
        // created by hand), then overlaps with cycles already planned.
        for (const Cycle& c : cycles) {
          OKR_RETURN_IF_ERROR(CheckCycleName(state, c, "fiscal_year"));
        }
        for (const Cycle& c : cycles) {
          // The new cycles lie inside one another by construction; only
          // stored cycles can conflict with them.
          Cycle probe = c;
          probe.parent_cycle_id.clear();
          OKR_RETURN_IF_ERROR(CheckCycleDates(state, probe, "fiscal_year"));
        }
        result = FiscalYear{};
        for (Cycle& c : cycles) {
          c.check_in_grace_days = check_in_grace_days;
          StampCreated(c, ctx.now);
          m->puts.push_back(c);
          m->result_ids.push_back(c.id);
          switch (c.kind) {
            case CycleKind::kAnnual:
              result.year = c;
              break;
            case CycleKind::kQuarterly:
              result.quarters.push_back(c);
              break;
            default:
              result.months.push_back(c);
              break;
          }
        }
        return absl::OkStatus();
      },
      [&](const OrgState& state, absl::Span<const Id> ids) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(result, FiscalYearFromIds(state, ids));
        return absl::OkStatus();
      }));
  return result;
}

absl::StatusOr<Cycle> Planning::GetCycle(absl::string_view org,
                                         absl::string_view id) {
  OKR_RETURN_IF_ERROR(ValidateId("id", id, /*required=*/true));
  Cycle result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(const Cycle* c, state.GetCycle(id, "id"));
    result = *c;
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<Page<Cycle>> Planning::ListCycles(absl::string_view org,
                                                 const CycleFilter& filter,
                                                 const PageRequest& page) {
  OKR_RETURN_IF_ERROR(
      ValidateId("parent_cycle_id", filter.parent_cycle_id, false));
  Page<Cycle> result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    std::vector<std::pair<std::string, const Cycle*>> entries;
    for (const auto& [id, cycle] : state.cycles()) {
      if (filter.kind != CycleKind::kUnspecified && cycle.kind != filter.kind) {
        continue;
      }
      if (filter.state != CycleState::kUnspecified &&
          cycle.state != filter.state) {
        continue;
      }
      if (!filter.parent_cycle_id.empty() &&
          cycle.parent_cycle_id != filter.parent_cycle_id) {
        continue;
      }
      if (filter.contains_day.has_value() &&
          !PeriodOf(cycle).Contains(*filter.contains_day)) {
        continue;
      }
      // Dates are four-digit years (CheckCycleFields), so ISO text sorts
      // chronologically.
      entries.emplace_back(absl::StrCat(Day(cycle.start),
                                        std::string(1, kKeySep),
                                        KindRank(cycle.kind),
                                        std::string(1, kKeySep), id),
                           &cycle);
    }
    const std::string filter_key = absl::StrCat(
        "cycles", std::string(1, kKeySep), Name(filter.kind),
        std::string(1, kKeySep), Name(filter.state), std::string(1, kKeySep),
        filter.parent_cycle_id, std::string(1, kKeySep),
        filter.contains_day.has_value() ? Day(*filter.contains_day) : "");
    OKR_ASSIGN_OR_RETURN(result,
                         MakePage(page, filter_key, std::move(entries)));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<Cycle> Planning::UpdateCycle(
    absl::string_view org, const Cycle& values,
    const std::vector<std::string>& paths, int64_t version) {
  static const MaskRules* const kRules = new MaskRules{
      {"name", "check_in_grace_days", "start_date", "end_date"},
      {{"id", kOutputOnly},
       {"version", kOutputOnly},
       {"create_time", kOutputOnly},
       {"update_time", kOutputOnly},
       {"state", "changes through UpdateCycleState"},
       {"kind", "cannot change; create another cycle instead"},
       {"parent_cycle_id", "cannot change; create another cycle instead"}}};
  OKR_RETURN_IF_ERROR(ValidateId("cycle.id", values.id, /*required=*/true));
  OKR_RETURN_IF_ERROR(CheckMask(paths, *kRules));
  const bool dates =
      HasPath(paths, "start_date") || HasPath(paths, "end_date");
  Cycle updated;
  OKR_RETURN_IF_ERROR(Write(
      org,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Cycle* stored,
                             state.GetCycle(values.id, "cycle.id"));
        OKR_RETURN_IF_ERROR(CheckVersion(version, stored->version));
        Cycle c = *stored;
        if (HasPath(paths, "name")) c.name = values.name;
        if (HasPath(paths, "check_in_grace_days")) {
          c.check_in_grace_days = values.check_in_grace_days;
        }
        if (HasPath(paths, "start_date")) c.start = values.start;
        if (HasPath(paths, "end_date")) c.end = values.end;
        OKR_RETURN_IF_ERROR(CheckCycleFields(c));
        if (dates && PeriodOf(c) != PeriodOf(*stored)) {
          if (stored->state != CycleState::kPlanning) {
            return Violation(
                absl::StatusCode::kFailedPrecondition,
                HasPath(paths, "start_date") ? "cycle.start_date"
                                             : "cycle.end_date",
                absl::StrCat("the dates of ", Describe(*stored),
                             " can change only while it is PLANNING; it is ",
                             Name(stored->state)));
          }
          OKR_RETURN_IF_ERROR(CheckCycleDates(state, c, "cycle.start_date"));
        }
        OKR_RETURN_IF_ERROR(CheckCycleName(state, c, "cycle.name"));
        StampUpdated(c, ctx.now);
        m->puts.push_back(c);
        updated = std::move(c);
        return absl::OkStatus();
      }));
  return updated;
}

absl::StatusOr<Cycle> Planning::UpdateCycleState(absl::string_view org,
                                                 absl::string_view id,
                                                 CycleState state,
                                                 int64_t version) {
  OKR_RETURN_IF_ERROR(ValidateId("id", id, /*required=*/true));
  if (state == CycleState::kUnspecified ||
      Name(state) == Name(CycleState::kUnspecified)) {
    return InvalidField("state",
                        "is required: ACTIVE, REVIEW or CLOSED (the next state "
                        "after the cycle's current one)");
  }
  Cycle updated;
  OKR_RETURN_IF_ERROR(Write(
      org, [&](const OrgState& org_state, const WriteContext& ctx,
               Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Cycle* stored, org_state.GetCycle(id, "id"));
        OKR_RETURN_IF_ERROR(CheckVersion(version, stored->version));
        const CycleState next = NextState(stored->state);
        if (state != next) {
          return Violation(
              absl::StatusCode::kFailedPrecondition, "state",
              next == CycleState::kUnspecified
                  ? absl::StrCat(Describe(*stored),
                                 " is CLOSED; a closed cycle does not change "
                                 "state again")
                  : absl::StrCat(Describe(*stored), " is ",
                                 Name(stored->state), "; it can only move to ",
                                 Name(next), ", not ", Name(state),
                                 " (PLANNING -> ACTIVE -> REVIEW -> CLOSED, "
                                 "one step at a time)"));
        }
        Cycle c = *stored;
        c.state = state;
        StampUpdated(c, ctx.now);
        m->puts.push_back(c);
        updated = std::move(c);
        return absl::OkStatus();
      }));
  return updated;
}

}  // namespace okr::planning
