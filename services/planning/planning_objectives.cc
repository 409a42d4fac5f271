// Objectives and key results: create, get, list, update, archive, delete.
//
// The rules beyond the field checks of common/validation.h: the owner, team
// and cycle an objective names must exist; a CLOSED cycle's plan is final;
// an owner has at most kMaxObjectivesPerOwnerCycle live objectives per cycle
// and an objective at most kMaxKeyResultsPerObjective live key results;
// nothing is deleted while another objective hangs under it. Alignment and
// breakdown links are never written here (planning_alignment.cc owns them).

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/model.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "services/planning/org_state.h"
#include "services/planning/planning.h"

namespace okr::planning {
namespace {

// Weights of key results are (0, kMaxWeight]; 0 on create means 1.
constexpr double kMaxWeight = 1000;

// How many ids a refusal lists before it says "and N more".
constexpr size_t kMaxIdsInMessage = 5;

using FieldSet = absl::flat_hash_set<std::string>;

std::string QuoteIds(const std::vector<const Objective*>& objectives) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < objectives.size() && i < kMaxIdsInMessage; ++i) {
    ids.push_back(absl::StrCat("'", objectives[i]->id, "'"));
  }
  std::string out = absl::StrJoin(ids, ", ");
  if (objectives.size() > kMaxIdsInMessage) {
    absl::StrAppend(&out, " and ", objectives.size() - kMaxIdsInMessage,
                    " more");
  }
  return out;
}

// Appends the field violations `status` carries to `out`. A non-OK status
// without violations cannot be merged and is returned as is.
absl::Status AppendViolations(const absl::Status& status,
                              std::vector<FieldViolation>* out) {
  if (status.ok()) return status;
  std::vector<FieldViolation> violations = FieldViolationsOf(status);
  if (violations.empty()) return status;
  for (FieldViolation& v : violations) out->push_back(std::move(v));
  return absl::OkStatus();
}

bool HasViolation(const std::vector<FieldViolation>& violations,
                  absl::string_view field) {
  return std::any_of(violations.begin(), violations.end(),
                     [&](const FieldViolation& v) { return v.field == field; });
}

// The model names a metric KR's values `from` and `to`; the API calls them
// start_value and target_value, and a person reading an error has only the
// API's names to go by.
void UseApiKeyResultNames(std::vector<FieldViolation>* violations) {
  for (FieldViolation& v : *violations) {
    if (v.field == "key_result.from") v.field = "key_result.start_value";
    if (v.field == "key_result.to") v.field = "key_result.target_value";
    v.description = absl::StrReplaceAll(
        v.description, {{"key_result.from", "key_result.start_value"},
                        {"from and to", "start_value and target_value"},
                        {"from (", "start_value ("},
                        {"to (", "target_value ("}});
  }
}

// --- Update masks -----------------------------------------------------------

struct MaskRules {
  absl::Span<const absl::string_view> mutable_fields;
  // Output-only fields; a path inside one ("alignment.weight") counts too.
  absl::Span<const absl::string_view> output_only;
  // Immutable fields with the way to change them instead.
  absl::Span<const std::pair<absl::string_view, absl::string_view>> immutable;
};

bool IsOrUnder(absl::string_view path, absl::string_view field) {
  return path == field ||
         (path.size() > field.size() && path.substr(0, field.size()) == field &&
          path[field.size()] == '.');
}

// The mask's paths as a set, or INVALID_ARGUMENT "update_mask: ..." listing
// every path that is not a mutable field.
absl::StatusOr<FieldSet> ParseMask(const std::vector<std::string>& paths,
                                   const MaskRules& rules) {
  if (paths.empty()) {
    return MakeInvalidArgument(
        {{"update_mask",
          absl::StrCat("required: name the fields to change (",
                       absl::StrJoin(rules.mutable_fields, ", "), ")")}});
  }
  std::vector<FieldViolation> violations;
  FieldSet mask;
  for (const std::string& path : paths) {
    if (std::find(rules.mutable_fields.begin(), rules.mutable_fields.end(),
                  path) != rules.mutable_fields.end()) {
      mask.insert(path);
      continue;
    }
    bool known = false;
    for (absl::string_view field : rules.output_only) {
      if (IsOrUnder(path, field)) {
        violations.push_back(
            {"update_mask",
             absl::StrCat("'", path, "' is output only and cannot be set")});
        known = true;
        break;
      }
    }
    for (const auto& [field, instead] : rules.immutable) {
      if (!known && IsOrUnder(path, field)) {
        violations.push_back(
            {"update_mask",
             absl::StrCat("'", path, "' is immutable; ", instead)});
        known = true;
      }
    }
    if (!known) {
      violations.push_back(
          {"update_mask",
           absl::StrCat("unknown field '", path, "'; the mutable fields are ",
                        absl::StrJoin(rules.mutable_fields, ", "))});
    }
  }
  if (!violations.empty()) return MakeInvalidArgument(violations);
  return mask;
}

constexpr absl::string_view kObjectiveMutable[] = {
    "title", "description", "level",    "owner_id", "team_id",
    "kind",  "category",    "priority", "state",    "progress_source"};
constexpr absl::string_view kObjectiveOutputOnly[] = {
    "id",
    "alignment",
    "breakdown_of_objective_id",
    "rolled_over_from_id",
    "version",
    "create_time",
    "update_time"};
constexpr std::pair<absl::string_view, absl::string_view>
    kObjectiveImmutable[] = {
        {"cycle_id",
         "use RollOverObjectives to carry the objective into another cycle"}};

constexpr absl::string_view kKeyResultMutable[] = {
    "title",       "owner_id",        "type",
    "measure",     "start_value",     "target_value",
    "unit",        "direction",       "weight",
    "data_source", "data_source_ref", "progress_from_children"};
constexpr absl::string_view kKeyResultOutputOnly[] = {
    "id",      "archived",    "rolled_over_from_id",
    "version", "create_time", "update_time"};
constexpr std::pair<absl::string_view, absl::string_view>
    kKeyResultImmutable[] = {
        {"objective_id",
         "create a key result on the other objective and delete or archive "
         "this one"}};

// --- Objective rules ---------------------------------------------------------

// Which cross-field rules of the API to apply on top of ValidateObjective.
struct ObjectiveChecks {
  bool owner_required = true;  // every objective has an owner (PLOT's O)
  bool team_required = true;   // TEAM objectives name their team
};

// INVALID_ARGUMENT listing every field problem of `o`, or OK.
absl::Status CheckObjectiveFields(const Objective& o,
                                  const ObjectiveChecks& checks) {
  std::vector<FieldViolation> violations;
  OKR_RETURN_IF_ERROR(AppendViolations(ValidateObjective(o), &violations));
  if (checks.owner_required && o.owner_id.empty() &&
      !HasViolation(violations, "objective.owner_id")) {
    violations.push_back(
        {"objective.owner_id",
         "is required: the person responsible for the objective (the O of "
         "PLOT)"});
  }
  if (checks.team_required && o.level == Level::kTeam && o.team_id.empty()) {
    violations.push_back(
        {"objective.team_id",
         "is required for a TEAM objective: the team it belongs to"});
  }
  if (o.state == ObjectiveState::kArchived) {
    violations.push_back(
        {"objective.state",
         "must be DRAFT or PUBLISHED; archive with ArchiveObjective"});
  }
  return MakeInvalidArgument(violations);
}

absl::Status ClosedCycleError(absl::string_view field, const Cycle& cycle,
                              absl::string_view what) {
  return absl::FailedPreconditionError(
      absl::StrCat(field, ": cycle '", cycle.name, "' (", cycle.id,
                   ") is CLOSED and its plan is final; ", what));
}

// Live (not archived) objectives of `owner_id` in `cycle_id`, other than
// `except_id`.
int CountLiveObjectives(const OrgState& state, absl::string_view owner_id,
                        absl::string_view cycle_id,
                        absl::string_view except_id) {
  int count = state.LiveObjectiveCount(owner_id, cycle_id);
  if (const Objective* except = state.FindObjective(except_id);
      except != nullptr && except->owner_id == owner_id &&
      except->cycle_id == cycle_id &&
      except->state != ObjectiveState::kArchived) {
    --count;
  }
  return count;
}

// FAILED_PRECONDITION when `o` would be one live objective too many for its
// owner and cycle. Objectives without an owner have no limit to count in.
absl::Status CheckObjectiveLimit(const OrgState& state, const Objective& o) {
  if (o.owner_id.empty() || o.state == ObjectiveState::kArchived) {
    return absl::OkStatus();
  }
  if (CountLiveObjectives(state, o.owner_id, o.cycle_id, o.id) >=
      kMaxObjectivesPerOwnerCycle) {
    return absl::FailedPreconditionError(absl::StrCat(
        "objective.owner_id: person '", o.owner_id, "' already has ",
        kMaxObjectivesPerOwnerCycle, " objectives in cycle '", o.cycle_id,
        "', the limit (the guide recommends 3 to 5); archive or delete one "
        "first"));
  }
  return absl::OkStatus();
}

int CountLiveKeyResults(const OrgState& state, absl::string_view objective_id) {
  int count = 0;
  for (const KeyResult* kr : state.KeyResultsOf(objective_id)) {
    if (!kr->archived) ++count;
  }
  return count;
}

// The objective a key result measures, open for changes to its key results:
// not archived and not in a CLOSED cycle.
absl::StatusOr<const Objective*> OpenObjectiveOf(const OrgState& state,
                                                 absl::string_view objective_id,
                                                 absl::string_view field) {
  OKR_ASSIGN_OR_RETURN(const Objective* objective,
                       state.GetObjective(objective_id, field));
  if (objective->state == ObjectiveState::kArchived) {
    return absl::FailedPreconditionError(absl::StrCat(
        field, ": objective '", objective->id,
        "' is archived; restore it (UpdateObjective with state DRAFT or "
        "PUBLISHED) before changing its key results"));
  }
  if (const Cycle* cycle = state.FindCycle(objective->cycle_id);
      cycle != nullptr && cycle->state == CycleState::kClosed) {
    return ClosedCycleError(field, *cycle,
                            "its key results can no longer change");
  }
  return objective;
}

// --- Key result rules --------------------------------------------------------

// INVALID_ARGUMENT listing every field problem of `kr` under the API's field
// names, or OK. `weight_checked`: apply the API's (0, 1000] weight range.
absl::Status CheckKeyResultFields(const KeyResult& kr, bool weight_checked) {
  std::vector<FieldViolation> violations;
  OKR_RETURN_IF_ERROR(AppendViolations(ValidateKeyResult(kr), &violations));
  UseApiKeyResultNames(&violations);
  if (weight_checked && std::isfinite(kr.weight) &&
      !HasViolation(violations, "key_result.weight")) {
    if (kr.weight == 0) {
      violations.push_back(
          {"key_result.weight",
           "must be > 0; archive the key result to leave it out of the "
           "score"});
    } else if (kr.weight > kMaxWeight) {
      violations.push_back(
          {"key_result.weight",
           absl::StrCat("must be at most ", kMaxWeight, "; got ", kr.weight)});
    }
  }
  return MakeInvalidArgument(violations);
}

// --- List ordering -----------------------------------------------------------

// Sort keys compare as strings. A space sorts below every character an id
// may hold ([A-Za-z0-9_.:-]), so a shorter id sorts before its extensions.
constexpr char kSep[] = " ";

std::string PriorityKey(int priority) {
  // Unranked (0) last.
  return absl::StrFormat("%010d", priority <= 0 ? INT_MAX : priority);
}

std::string CycleKey(const OrgState& state, absl::string_view cycle_id) {
  const Cycle* cycle = state.FindCycle(cycle_id);
  if (cycle == nullptr) return absl::StrCat("99999999", kSep, cycle_id);
  // Longer cycles first among those starting the same day, as ListCycles.
  return absl::StrFormat("%04d%02d%02d%s%d%s%s",
                         std::clamp<int64_t>(cycle->start.year(), 0, 9999),
                         cycle->start.month(), cycle->start.day(), kSep,
                         static_cast<int>(cycle->kind), kSep, cycle->id);
}

std::string ObjectiveSortKey(const OrgState& state, const Objective& o,
                             bool breakdown_order) {
  if (breakdown_order) {
    return absl::StrCat(PriorityKey(o.priority), kSep,
                        CycleKey(state, o.cycle_id), kSep, o.id);
  }
  return absl::StrCat(CycleKey(state, o.cycle_id), kSep, o.owner_id, kSep,
                      PriorityKey(o.priority), kSep, o.id);
}

bool Matches(const ObjectiveFilter& f, const Objective& o) {
  if (f.state == ObjectiveState::kUnspecified) {
    if (o.state == ObjectiveState::kArchived) return false;
  } else if (o.state != f.state) {
    return false;
  }
  if (!f.cycle_id.empty() && o.cycle_id != f.cycle_id) return false;
  if (f.level != Level::kUnspecified && o.level != f.level) return false;
  if (!f.owner_id.empty() && o.owner_id != f.owner_id) return false;
  if (!f.team_id.empty() && o.team_id != f.team_id) return false;
  if (!f.parent_objective_id.empty() &&
      (o.alignment.kind == AlignmentKind::kNone ||
       o.alignment.parent_objective_id != f.parent_objective_id)) {
    return false;
  }
  if (!f.breakdown_of_objective_id.empty() &&
      o.breakdown_of_objective_id != f.breakdown_of_objective_id) {
    return false;
  }
  return true;
}

std::string FilterKey(const ObjectiveFilter& f) {
  return absl::StrCat(
      "objectives|cycle=", f.cycle_id, "|level=", static_cast<int>(f.level),
      "|owner=", f.owner_id, "|team=", f.team_id,
      "|state=", static_cast<int>(f.state), "|parent=", f.parent_objective_id,
      "|breakdown_of=", f.breakdown_of_objective_id);
}

std::string FilterKey(const KeyResultFilter& f) {
  return absl::StrCat("key_results|objective=", f.objective_id,
                      "|owner=", f.owner_id, "|cycle=", f.cycle_id,
                      "|archived=", f.include_archived ? 1 : 0);
}

template <typename T>
struct Keyed {
  std::string key;
  const T* value;
};

// Sorts `entries` by key and cuts the requested page out of them.
template <typename T>
absl::StatusOr<Page<T>> MakePage(std::vector<Keyed<T>> entries,
                                 absl::string_view filter_key,
                                 const PageRequest& request) {
  std::sort(entries.begin(), entries.end(),
            [](const Keyed<T>& a, const Keyed<T>& b) { return a.key < b.key; });
  std::vector<std::string> keys;
  keys.reserve(entries.size());
  for (const Keyed<T>& e : entries) keys.push_back(e.key);
  OKR_ASSIGN_OR_RETURN(PageSlice slice, Paginate(request, filter_key, keys));
  Page<T> page;
  page.total_size = static_cast<int>(entries.size());
  page.next_page_token = std::move(slice.next_page_token);
  for (size_t i = slice.begin; i < slice.end; ++i) {
    page.items.push_back(*entries[i].value);
  }
  return page;
}

}  // namespace

// --- Objectives --------------------------------------------------------------

absl::StatusOr<Objective> Planning::CreateObjective(absl::string_view org,
                                                    Objective objective,
                                                    const RequestKey& key) {
  // Output-only fields are ignored, alignment included (the proto's
  // contract): links are made by AlignObjective, CascadeKeyResult and
  // BreakDownObjective, which check them.
  objective.id.clear();
  objective.organisation_id = std::string(org);
  objective.alignment = Alignment{};
  objective.breakdown_of_objective_id.clear();
  objective.rolled_over_from_id.clear();
  objective.version = 0;
  objective.create_time = absl::InfinitePast();
  objective.update_time = absl::InfinitePast();
  if (objective.state == ObjectiveState::kUnspecified) {
    objective.state = ObjectiveState::kDraft;
  }
  if (objective.progress_source == ProgressSource::kUnspecified) {
    objective.progress_source = ProgressSource::kKeyResults;
  }
  OKR_RETURN_IF_ERROR(CheckObjectiveFields(objective, ObjectiveChecks{}));

  Objective created;
  OKR_RETURN_IF_ERROR(Write(
      org, "CreateObjective", key,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        Objective o = objective;
        OKR_RETURN_IF_ERROR(
            state.GetPerson(o.owner_id, "objective.owner_id").status());
        if (!o.team_id.empty()) {
          OKR_RETURN_IF_ERROR(
              state.GetTeam(o.team_id, "objective.team_id").status());
        }
        OKR_ASSIGN_OR_RETURN(const Cycle* cycle,
                             state.GetCycle(o.cycle_id, "objective.cycle_id"));
        if (cycle->state == CycleState::kClosed) {
          return ClosedCycleError("objective.cycle_id", *cycle,
                                  "plan new objectives in an open cycle");
        }
        OKR_RETURN_IF_ERROR(CheckObjectiveLimit(state, o));
        o.id = ctx.new_id(ResourceKind::kObjective);
        StampCreated(o, ctx.now);
        m->puts.push_back(o);
        m->result_ids.push_back(o.id);
        created = std::move(o);
        return absl::OkStatus();
      },
      [&](const OrgState& state, absl::Span<const Id> ids) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Objective* o,
                             state.GetObjective(ids.at(0), "request_id"));
        created = *o;
        return absl::OkStatus();
      }));
  return created;
}

absl::StatusOr<Objective> Planning::GetObjective(absl::string_view org,
                                                 absl::string_view id) {
  Objective found;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(const Objective* o, state.GetObjective(id, "id"));
    found = *o;
    return absl::OkStatus();
  }));
  return found;
}

absl::StatusOr<Page<Objective>> Planning::ListObjectives(
    absl::string_view org, const ObjectiveFilter& filter,
    const PageRequest& page) {
  // Breakdowns of one parent are read in the parent's priority order.
  const bool breakdown_order = !filter.breakdown_of_objective_id.empty();
  Page<Objective> result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    std::vector<Keyed<Objective>> entries;
    auto consider = [&](const Objective& o) {
      if (Matches(filter, o)) {
        entries.push_back({ObjectiveSortKey(state, o, breakdown_order), &o});
      }
    };
    // The indexes narrow the scan when a link filter is given.
    if (!filter.parent_objective_id.empty()) {
      for (const Objective* o : state.ChildrenOf(filter.parent_objective_id)) {
        consider(*o);
      }
    } else if (breakdown_order) {
      for (const Objective* o :
           state.BreakdownsOf(filter.breakdown_of_objective_id)) {
        consider(*o);
      }
    } else {
      for (const auto& [id, o] : state.objectives()) consider(o);
    }
    OKR_ASSIGN_OR_RETURN(result,
                         MakePage(std::move(entries), FilterKey(filter), page));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<Objective> Planning::UpdateObjective(
    absl::string_view org, const Objective& values,
    const std::vector<std::string>& paths, int64_t version) {
  OKR_ASSIGN_OR_RETURN(
      const FieldSet mask,
      ParseMask(paths, {kObjectiveMutable, kObjectiveOutputOnly,
                        kObjectiveImmutable}));
  auto has = [&](absl::string_view f) { return mask.contains(f); };

  Objective updated;
  OKR_RETURN_IF_ERROR(Write(
      org,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Objective* stored,
                             state.GetObjective(values.id, "objective.id"));
        OKR_RETURN_IF_ERROR(CheckVersion(version, stored->version));
        Objective o = *stored;
        if (has("title")) o.title = values.title;
        if (has("description")) o.description = values.description;
        if (has("level")) o.level = values.level;
        if (has("owner_id")) o.owner_id = values.owner_id;
        if (has("team_id")) o.team_id = values.team_id;
        if (has("kind")) o.kind = values.kind;
        if (has("category")) o.category = values.category;
        if (has("priority")) o.priority = values.priority;
        if (has("state")) o.state = values.state;
        if (has("progress_source")) o.progress_source = values.progress_source;

        // The PLOT rules apply to what the caller touches, so that an
        // objective stored before them (an import) can still be edited.
        ObjectiveChecks checks;
        checks.owner_required = has("owner_id") || has("level");
        checks.team_required = has("team_id") || has("level");
        if (!has("state") && o.state == ObjectiveState::kArchived) {
          // Editing an archived objective keeps it archived.
          Objective probe = o;
          probe.state = ObjectiveState::kDraft;
          OKR_RETURN_IF_ERROR(CheckObjectiveFields(probe, checks));
        } else {
          OKR_RETURN_IF_ERROR(CheckObjectiveFields(o, checks));
        }

        if (const Cycle* cycle = state.FindCycle(o.cycle_id);
            cycle != nullptr && cycle->state == CycleState::kClosed) {
          return ClosedCycleError("objective.cycle_id", *cycle,
                                  "its objectives can no longer change");
        }
        if (has("owner_id") && o.owner_id != stored->owner_id) {
          OKR_RETURN_IF_ERROR(
              state.GetPerson(o.owner_id, "objective.owner_id").status());
        }
        if (has("team_id") && !o.team_id.empty() &&
            o.team_id != stored->team_id) {
          OKR_RETURN_IF_ERROR(
              state.GetTeam(o.team_id, "objective.team_id").status());
        }
        const bool restored = stored->state == ObjectiveState::kArchived &&
                              o.state != ObjectiveState::kArchived;
        if (restored || o.owner_id != stored->owner_id) {
          OKR_RETURN_IF_ERROR(CheckObjectiveLimit(state, o));
        }
        StampUpdated(o, ctx.now);
        m->puts.push_back(o);
        updated = std::move(o);
        return absl::OkStatus();
      }));
  return updated;
}

absl::StatusOr<Objective> Planning::ArchiveObjective(absl::string_view org,
                                                     absl::string_view id,
                                                     int64_t version) {
  Objective archived;
  OKR_RETURN_IF_ERROR(
      Write(org,
            [&](const OrgState& state, const WriteContext& ctx,
                Mutation* m) -> absl::Status {
              OKR_ASSIGN_OR_RETURN(const Objective* stored,
                                   state.GetObjective(id, "id"));
              OKR_RETURN_IF_ERROR(CheckVersion(version, stored->version));
              archived = *stored;
              // Archiving twice changes nothing (no new version, no feed
              // entry).
              if (archived.state == ObjectiveState::kArchived) {
                return absl::OkStatus();
              }
              // Its key results and links stay as they are, so that a restore
              // brings the objective back whole.
              archived.state = ObjectiveState::kArchived;
              StampUpdated(archived, ctx.now);
              m->puts.push_back(archived);
              return absl::OkStatus();
            }));
  return archived;
}

absl::Status Planning::DeleteObjective(absl::string_view org,
                                       absl::string_view id, int64_t version) {
  return Write(
      org,
      [&](const OrgState& state, const WriteContext&,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Objective* stored,
                             state.GetObjective(id, "id"));
        OKR_RETURN_IF_ERROR(CheckVersion(version, stored->version));
        const std::vector<const KeyResult*> key_results =
            state.KeyResultsOf(stored->id);
        // ChildrenOf covers the Duality children of its key results too; the
        // per-KR index is asked as well so that a child whose link names the
        // KR but not its objective still blocks the delete.
        std::vector<const Objective*> children = state.ChildrenOf(stored->id);
        for (const KeyResult* kr : key_results) {
          for (const Objective* child : state.CascadedFrom(kr->id)) {
            if (std::find(children.begin(), children.end(), child) ==
                children.end()) {
              children.push_back(child);
            }
          }
        }
        if (!children.empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "id: objective '", stored->id, "' has aligned objectives (",
              QuoteIds(children),
              "); unalign them first, or archive this objective instead"));
        }
        const std::vector<const Objective*> breakdowns =
            state.BreakdownsOf(stored->id);
        if (!breakdowns.empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "id: objective '", stored->id, "' is broken down into ",
              QuoteIds(breakdowns),
              "; delete those first, or archive this objective instead"));
        }
        // Key results go with their objective, in the same commit, before it
        // in the feed so that no follower sees a key result without objective.
        for (const KeyResult* kr : key_results) {
          m->deletes.emplace_back(ResourceKind::kKeyResult, kr->id);
        }
        m->deletes.emplace_back(ResourceKind::kObjective, stored->id);
        return absl::OkStatus();
      });
}

// --- Key results -------------------------------------------------------------

absl::StatusOr<KeyResult> Planning::CreateKeyResult(absl::string_view org,
                                                    KeyResult key_result,
                                                    const RequestKey& key) {
  key_result.id.clear();
  key_result.organisation_id = std::string(org);
  key_result.archived = false;
  key_result.rolled_over_from_id.clear();
  key_result.version = 0;
  key_result.create_time = absl::InfinitePast();
  key_result.update_time = absl::InfinitePast();
  if (key_result.weight == 0) key_result.weight = 1;
  OKR_RETURN_IF_ERROR(CheckKeyResultFields(key_result, true));

  KeyResult created;
  OKR_RETURN_IF_ERROR(Write(
      org, "CreateKeyResult", key,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        KeyResult kr = key_result;
        OKR_ASSIGN_OR_RETURN(
            const Objective* objective,
            OpenObjectiveOf(state, kr.objective_id, "key_result.objective_id"));
        if (!kr.owner_id.empty()) {
          OKR_RETURN_IF_ERROR(
              state.GetPerson(kr.owner_id, "key_result.owner_id").status());
        }
        if (CountLiveKeyResults(state, objective->id) >=
            kMaxKeyResultsPerObjective) {
          return absl::FailedPreconditionError(absl::StrCat(
              "key_result.objective_id: objective '", objective->id,
              "' already has ", kMaxKeyResultsPerObjective,
              " key results, the limit (the guide recommends 3 to 5); "
              "archive or delete one first"));
        }
        kr.id = ctx.new_id(ResourceKind::kKeyResult);
        StampCreated(kr, ctx.now);
        m->puts.push_back(kr);
        m->result_ids.push_back(kr.id);
        created = std::move(kr);
        return absl::OkStatus();
      },
      [&](const OrgState& state, absl::Span<const Id> ids) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const KeyResult* kr,
                             state.GetKeyResult(ids.at(0), "request_id"));
        created = *kr;
        return absl::OkStatus();
      }));
  return created;
}

absl::StatusOr<KeyResult> Planning::GetKeyResult(absl::string_view org,
                                                 absl::string_view id) {
  KeyResult found;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    OKR_ASSIGN_OR_RETURN(const KeyResult* kr, state.GetKeyResult(id, "id"));
    found = *kr;
    return absl::OkStatus();
  }));
  return found;
}

absl::StatusOr<Page<KeyResult>> Planning::ListKeyResults(
    absl::string_view org, const KeyResultFilter& filter,
    const PageRequest& page) {
  Page<KeyResult> result;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    std::vector<Keyed<KeyResult>> entries;
    auto consider = [&](const KeyResult& kr) {
      const Objective* objective = state.FindObjective(kr.objective_id);
      if (objective == nullptr) return;
      // An archived objective hides its key results with it.
      if (!filter.include_archived &&
          (kr.archived || objective->state == ObjectiveState::kArchived)) {
        return;
      }
      if (!filter.objective_id.empty() &&
          kr.objective_id != filter.objective_id) {
        return;
      }
      if (!filter.cycle_id.empty() && objective->cycle_id != filter.cycle_id) {
        return;
      }
      const Id& owner = kr.owner_id.empty() ? objective->owner_id : kr.owner_id;
      if (!filter.owner_id.empty() && owner != filter.owner_id) return;
      const int64_t created_us =
          std::max<int64_t>(0, absl::ToUnixMicros(kr.create_time));
      entries.push_back(
          {absl::StrCat(kr.objective_id, kSep,
                        absl::StrFormat("%020d", created_us), kSep, kr.id),
           &kr});
    };
    if (!filter.objective_id.empty()) {
      for (const KeyResult* kr : state.KeyResultsOf(filter.objective_id)) {
        consider(*kr);
      }
    } else {
      for (const auto& [id, kr] : state.key_results()) consider(kr);
    }
    OKR_ASSIGN_OR_RETURN(result,
                         MakePage(std::move(entries), FilterKey(filter), page));
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<KeyResult> Planning::UpdateKeyResult(
    absl::string_view org, const KeyResult& values,
    const std::vector<std::string>& paths, int64_t version) {
  OKR_ASSIGN_OR_RETURN(
      const FieldSet mask,
      ParseMask(paths, {kKeyResultMutable, kKeyResultOutputOnly,
                        kKeyResultImmutable}));
  auto has = [&](absl::string_view f) { return mask.contains(f); };

  KeyResult updated;
  OKR_RETURN_IF_ERROR(Write(
      org,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const KeyResult* stored,
                             state.GetKeyResult(values.id, "key_result.id"));
        OKR_RETURN_IF_ERROR(CheckVersion(version, stored->version));
        KeyResult kr = *stored;
        if (has("title")) kr.title = values.title;
        if (has("owner_id")) kr.owner_id = values.owner_id;
        // Planning does not see check-ins, so a type change is allowed here;
        // tracking refuses check-ins that do not fit the new type.
        if (has("type")) kr.type = values.type;
        if (has("measure")) kr.measure = values.measure;
        if (has("start_value")) kr.from = values.from;
        if (has("target_value")) kr.to = values.to;
        if (has("unit")) kr.unit = values.unit;
        if (has("direction")) kr.direction = values.direction;
        if (has("weight")) kr.weight = values.weight;
        if (has("data_source")) kr.data_source = values.data_source;
        if (has("data_source_ref")) kr.data_source_ref = values.data_source_ref;
        if (has("progress_from_children")) {
          kr.progress_from_children = values.progress_from_children;
        }
        OKR_RETURN_IF_ERROR(CheckKeyResultFields(kr, has("weight")));
        OKR_RETURN_IF_ERROR(
            OpenObjectiveOf(state, kr.objective_id, "key_result.objective_id")
                .status());
        if (has("owner_id") && !kr.owner_id.empty() &&
            kr.owner_id != stored->owner_id) {
          OKR_RETURN_IF_ERROR(
              state.GetPerson(kr.owner_id, "key_result.owner_id").status());
        }
        StampUpdated(kr, ctx.now);
        m->puts.push_back(kr);
        updated = std::move(kr);
        return absl::OkStatus();
      }));
  return updated;
}

absl::StatusOr<KeyResult> Planning::ArchiveKeyResult(absl::string_view org,
                                                     absl::string_view id,
                                                     int64_t version) {
  KeyResult archived;
  OKR_RETURN_IF_ERROR(
      Write(org,
            [&](const OrgState& state, const WriteContext& ctx,
                Mutation* m) -> absl::Status {
              OKR_ASSIGN_OR_RETURN(const KeyResult* stored,
                                   state.GetKeyResult(id, "id"));
              OKR_RETURN_IF_ERROR(CheckVersion(version, stored->version));
              archived = *stored;
              if (archived.archived) return absl::OkStatus();
              archived.archived = true;
              StampUpdated(archived, ctx.now);
              m->puts.push_back(archived);
              return absl::OkStatus();
            }));
  return archived;
}

absl::Status Planning::DeleteKeyResult(absl::string_view org,
                                       absl::string_view id, int64_t version) {
  return Write(
      org,
      [&](const OrgState& state, const WriteContext&,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const KeyResult* stored,
                             state.GetKeyResult(id, "id"));
        OKR_RETURN_IF_ERROR(CheckVersion(version, stored->version));
        const std::vector<const Objective*> children =
            state.CascadedFrom(stored->id);
        if (!children.empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "id: objectives were cascaded from key result '", stored->id,
              "' (", QuoteIds(children),
              "); unalign them first, or archive the key result instead"));
        }
        m->deletes.emplace_back(ResourceKind::kKeyResult, stored->id);
        return absl::OkStatus();
      });
}

}  // namespace okr::planning
