// Planning use-cases for editing help: lint, the annual planning timeline and
// the example OKR templates. Lint and the timeline read the organisation's
// plan; the rule list and the templates are product data and need no
// organisation.
#include <algorithm>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/calendar.h"
#include "common/lint.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "services/planning/planning.h"

namespace okr::planning {
namespace {

// Lint's limits on findings per call (LintRequest.max_findings).
constexpr int kDefaultMaxFindings = 1000;
constexpr int kMaxFindings = 10000;

// The fiscal years GetPlanningTimeline plans (the proto's limit): the
// planning timeline starts up to three months before the year, so the years
// stay clear of the ends of the civil-time range the API's Date carries.
constexpr int kMinTimelineYear = 1970;
constexpr int kMaxTimelineYear = 9998;

int Rank(LintSeverity severity) {
  switch (severity) {
    case LintSeverity::kInfo:
      return 0;
    case LintSeverity::kWarning:
      return 1;
    case LintSeverity::kError:
      return 2;
  }
  return 0;
}

// Checks the request fields that need no state: the scope's required ids,
// the disabled rule ids and the finding limit.
absl::Status ValidateLintQuery(const LintQuery& query) {
  std::vector<FieldViolation> violations;
  auto require = [&](absl::string_view field, const Id& id) {
    if (id.empty()) {
      violations.push_back({std::string(field), "required"});
    }
  };
  switch (query.scope) {
    case LintScope::kObjective:
      require("objective_id", query.objective_id);
      break;
    case LintScope::kOwnerCycle:
      require("owner_cycle.owner_id", query.owner_id);
      require("owner_cycle.cycle_id", query.cycle_id);
      break;
    case LintScope::kOrganisation:
      break;
  }
  absl::flat_hash_set<absl::string_view> known;
  std::vector<absl::string_view> names;
  for (const LintRule& rule : LintRules()) {
    known.insert(rule.id);
    names.push_back(rule.id);
  }
  for (size_t i = 0; i < query.disabled_rule_ids.size(); ++i) {
    const std::string& id = query.disabled_rule_ids[i];
    if (!known.contains(id)) {
      violations.push_back(
          {absl::StrCat("disabled_rule_ids[", i, "]"),
           absl::StrCat("unknown rule '", absl::CHexEscape(id),
                        "'; the rules are ", absl::StrJoin(names, ", "),
                        " (ListLintRules describes them)")});
    }
  }
  if (query.max_findings < 0) {
    violations.push_back(
        {"max_findings",
         absl::StrFormat("must be between 0 and %d (0 means %d); got %d",
                         kMaxFindings, kDefaultMaxFindings,
                         query.max_findings)});
  }
  return MakeInvalidArgument(violations);
}

// Keeps the findings the query asks for, most severe first (lint's own
// deterministic order within a severity), at most the query's limit.
void SelectFindings(const LintQuery& query, std::vector<Finding> all,
                    LintResult* result) {
  const absl::flat_hash_set<std::string> disabled(
      query.disabled_rule_ids.begin(), query.disabled_rule_ids.end());
  const int minimum =
      query.minimum_severity.has_value() ? Rank(*query.minimum_severity) : 0;
  std::vector<Finding> kept;
  kept.reserve(all.size());
  for (Finding& f : all) {
    if (Rank(f.severity) < minimum || disabled.contains(f.rule_id)) continue;
    kept.push_back(std::move(f));
  }
  std::stable_sort(kept.begin(), kept.end(),
                   [](const Finding& a, const Finding& b) {
                     return Rank(a.severity) > Rank(b.severity);
                   });
  const size_t limit = static_cast<size_t>(
      query.max_findings == 0 ? kDefaultMaxFindings
                              : std::min(query.max_findings, kMaxFindings));
  if (kept.size() > limit) {
    kept.resize(limit);
    result->truncated = true;
  }
  result->findings = std::move(kept);
}

// The part of the stored plan LintObjective reads for `objective`: the
// organisation, every cycle, the objective's key results, its owners, and
// its ancestors over alignment and breakdown links (with the key results
// Duality links go through), which decide whether a quarterly objective
// reaches an annual one. Lint over this is lint over the whole plan, at
// the cost of the objective's depth rather than a copy of the organisation.
// Entries are in ToPlan()'s order (by id).
Plan LintScopeOf(const OrgState& state, const Objective& objective) {
  Plan plan;
  plan.organisation = state.organisation();
  for (const auto& [id, cycle] : state.cycles()) plan.cycles.push_back(cycle);
  absl::btree_map<Id, const Objective*> objectives;
  absl::btree_map<Id, const KeyResult*> key_results;
  absl::btree_map<Id, const Person*> people;
  auto add_person = [&](const Id& id) {
    if (const Person* p = state.FindPerson(id)) people.emplace(id, p);
  };
  add_person(objective.owner_id);
  for (const KeyResult* kr : state.KeyResultsOf(objective.id)) {
    key_results.emplace(kr->id, kr);
    add_person(kr->owner_id);
  }
  std::vector<const Objective*> pending = {&objective};
  objectives.emplace(objective.id, &objective);
  while (!pending.empty()) {
    const Objective* o = pending.back();
    pending.pop_back();
    std::vector<Id> parents = {o->breakdown_of_objective_id};
    if (o->alignment.kind == AlignmentKind::kObjective) {
      parents.push_back(o->alignment.parent_objective_id);
    } else if (o->alignment.kind == AlignmentKind::kKeyResult) {
      if (const KeyResult* kr =
              state.FindKeyResult(o->alignment.parent_key_result_id)) {
        key_results.emplace(kr->id, kr);
        parents.push_back(kr->objective_id);
      } else {
        parents.push_back(o->alignment.parent_objective_id);
      }
    }
    for (const Id& id : parents) {
      const Objective* parent = state.FindObjective(id);
      if (parent != nullptr && objectives.emplace(id, parent).second) {
        pending.push_back(parent);
      }
    }
  }
  for (const auto& [id, o] : objectives) plan.objectives.push_back(*o);
  for (const auto& [id, kr] : key_results) plan.key_results.push_back(*kr);
  for (const auto& [id, p] : people) plan.people.push_back(*p);
  return plan;
}

// Every template in ListTemplates' order (category, then function without
// regard to case, then id), computed once: the templates are static data.
const std::vector<const OkrTemplate*>& TemplatesInListOrder() {
  static const auto* const kOrdered = [] {
    auto* ordered = new std::vector<const OkrTemplate*>();
    for (const OkrTemplate& t : Templates()) ordered->push_back(&t);
    std::sort(ordered->begin(), ordered->end(),
              [](const OkrTemplate* a, const OkrTemplate* b) {
                return std::make_tuple(static_cast<int>(a->category),
                                       absl::AsciiStrToLower(a->function),
                                       a->id) <
                       std::make_tuple(static_cast<int>(b->category),
                                       absl::AsciiStrToLower(b->function),
                                       b->id);
              });
    return ordered;
  }();
  return *kOrdered;
}

}  // namespace

absl::StatusOr<LintResult> Planning::Lint(absl::string_view org,
                                          const LintQuery& query) {
  OKR_RETURN_IF_ERROR(ValidateLintQuery(query));
  LintResult result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    std::vector<Finding> findings;
    switch (query.scope) {
      case LintScope::kObjective: {
        OKR_ASSIGN_OR_RETURN(
            const Objective* objective,
            state.GetObjective(query.objective_id, "objective_id"));
        // Lint ignores archived objectives everywhere; asking for one by id
        // is not an error, it just has nothing to improve.
        if (objective->state == ObjectiveState::kArchived) break;
        findings = LintObjective(LintScopeOf(state, *objective), *objective);
        result.objectives_checked = 1;
        break;
      }
      case LintScope::kOwnerCycle: {
        OKR_RETURN_IF_ERROR(
            state.GetPerson(query.owner_id, "owner_cycle.owner_id").status());
        OKR_RETURN_IF_ERROR(
            state.GetCycle(query.cycle_id, "owner_cycle.cycle_id").status());
        const Plan plan = state.ToPlan();
        for (const Objective& o : plan.objectives) {
          if (o.state != ObjectiveState::kArchived &&
              o.owner_id == query.owner_id && o.cycle_id == query.cycle_id) {
            ++result.objectives_checked;
          }
        }
        findings = LintOwnerCycle(plan, query.owner_id, query.cycle_id);
        break;
      }
      case LintScope::kOrganisation: {
        // The cycles in scope: the one asked for, or every cycle that is
        // not CLOSED (a closed cycle's plan can no longer be edited).
        absl::flat_hash_set<Id> cycles;
        if (!query.cycle_id.empty()) {
          OKR_RETURN_IF_ERROR(
              state.GetCycle(query.cycle_id, "organisation.cycle_id")
                  .status());
          cycles.insert(query.cycle_id);
        } else {
          for (const auto& [id, cycle] : state.cycles()) {
            if (cycle.state != CycleState::kClosed) cycles.insert(id);
          }
        }
        // The whole plan is linted so that links to objectives outside the
        // scope (a quarterly objective's annual parent) are judged
        // correctly; only findings about the scope are kept.
        const Plan plan = state.ToPlan();
        for (const Objective& o : plan.objectives) {
          if (o.state != ObjectiveState::kArchived &&
              cycles.contains(o.cycle_id)) {
            ++result.objectives_checked;
          }
        }
        for (Finding& f : LintPlan(plan)) {
          if (cycles.contains(f.cycle_id)) findings.push_back(std::move(f));
        }
        break;
      }
    }
    SelectFindings(query, std::move(findings), &result);
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<Page<LintRule>> Planning::ListLintRules(
    const PageRequest& page) {
  std::vector<LintRule> rules(LintRules().begin(), LintRules().end());
  std::sort(rules.begin(), rules.end(),
            [](const LintRule& a, const LintRule& b) { return a.id < b.id; });
  std::vector<std::string> keys;
  keys.reserve(rules.size());
  for (const LintRule& rule : rules) keys.emplace_back(rule.id);
  OKR_ASSIGN_OR_RETURN(PageSlice slice, Paginate(page, "lint-rules", keys));
  Page<LintRule> out;
  out.items.assign(rules.begin() + slice.begin, rules.begin() + slice.end);
  out.next_page_token = std::move(slice.next_page_token);
  out.total_size = static_cast<int>(rules.size());
  return out;
}

absl::StatusOr<PlanningTimelineResult> Planning::GetPlanningTimeline(
    absl::string_view org, int fiscal_year, PlanningProfile profile) {
  if (fiscal_year < kMinTimelineYear || fiscal_year > kMaxTimelineYear) {
    return MakeInvalidArgument(
        {{"fiscal_year",
          absl::StrFormat("must be between %d and %d (the calendar year in "
                          "which the fiscal year ends); got %d",
                          kMinTimelineYear, kMaxTimelineYear, fiscal_year)}});
  }
  PlanningTimelineResult result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    const Organisation& organisation = state.organisation();
    OKR_ASSIGN_OR_RETURN(
        FiscalCalendar calendar,
        FiscalCalendar::Create(organisation.fiscal_year_start_month));
    result.profile = profile == PlanningProfile::kUnspecified
                         ? organisation.planning_profile
                         : profile;
    result.fiscal_year_start = calendar.Year(fiscal_year).start;
    OKR_ASSIGN_OR_RETURN(result.milestones,
                         PlanningTimeline(calendar, fiscal_year,
                                          result.profile));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<Page<OkrTemplate>> Planning::ListTemplates(
    const TemplateFilter& filter, const PageRequest& page) {
  // NONE as a filter means "any category", as in ListTemplatesRequest.
  const bool by_category =
      filter.category.has_value() && *filter.category != Category::kNone;
  const std::string function = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(filter.function));
  // Page keys are positions in the fixed list order, zero-padded so that
  // they sort as strings.
  std::vector<const OkrTemplate*> matches;
  std::vector<std::string> keys;
  const std::vector<const OkrTemplate*>& ordered = TemplatesInListOrder();
  for (size_t i = 0; i < ordered.size(); ++i) {
    const OkrTemplate& t = *ordered[i];
    if (by_category && t.category != *filter.category) continue;
    if (!function.empty() && absl::AsciiStrToLower(t.function) != function) {
      continue;
    }
    matches.push_back(&t);
    keys.push_back(absl::StrFormat("%06d", i));
  }
  const std::string filter_key = absl::StrCat(
      "templates|", by_category ? static_cast<int>(*filter.category) : -1, "|",
      function);
  OKR_ASSIGN_OR_RETURN(PageSlice slice, Paginate(page, filter_key, keys));
  Page<OkrTemplate> out;
  for (size_t i = slice.begin; i < slice.end; ++i) {
    out.items.push_back(*matches[i]);
  }
  out.next_page_token = std::move(slice.next_page_token);
  out.total_size = static_cast<int>(matches.size());
  return out;
}

}  // namespace okr::planning
