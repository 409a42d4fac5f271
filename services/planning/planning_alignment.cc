// Alignment and roll over: the Classic method (AlignObjective), the Duality
// method (CascadeKeyResult), UnalignObjective, the annual-to-quarterly
// breakdown, the alignment tree of a cycle, and carrying objectives into the
// next cycle.
//
// The rules of a link (parent exists, no loop, a quarterly objective may
// align to an annual one and never the reverse) are common/validation.h's
// ValidateAlignment; this file adds what only the stored plan can tell
// (archived parents, closed cycles, which cycles enclose which) and renames
// the validator's field paths to the request's.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "services/planning/planning.h"

namespace okr::planning {
namespace {

// List sizes from the proto comments.
constexpr int kMaxBreakdownItems = 12;
constexpr int kMaxRollOverItems = 100;
// Link weights: > 0 and <= 1000; 0 in a request means 1.
constexpr double kMaxLinkWeight = 1000;

// The weight a request asks for, with the proto's "0 means 1".
absl::StatusOr<double> LinkWeight(double weight) {
  if (weight == 0) return 1.0;
  if (!std::isfinite(weight) || weight < 0 || weight > kMaxLinkWeight) {
    return MakeInvalidArgument(
        {{"weight",
          absl::StrFormat("must be > 0 and <= %g (0 means 1); got %g",
                          kMaxLinkWeight, weight)}});
  }
  return weight;
}

// Adds the violations of ValidateId(field, id, required), if any.
void CheckId(std::vector<FieldViolation>& violations, const std::string& field,
             absl::string_view id, bool required) {
  for (FieldViolation& v :
       FieldViolationsOf(ValidateId(field, id, required))) {
    violations.push_back(std::move(v));
  }
}

// `status` with every field path passed through `rename`; the code and the
// violations' descriptions stay. A status without violations is returned
// unchanged.
absl::Status RenameFields(
    const absl::Status& status,
    absl::FunctionRef<std::string(const std::string&)> rename) {
  std::vector<FieldViolation> violations = FieldViolationsOf(status);
  if (violations.empty()) return status;
  for (FieldViolation& v : violations) v.field = rename(v.field);
  return MakeFieldStatus(status.code(), violations);
}

// Replaces the prefix `from` of each field path by `to` ("objective.title"
// -> "items[2].title").
absl::Status Reprefix(const absl::Status& status, absl::string_view from,
                      absl::string_view to) {
  return RenameFields(status, [&](const std::string& field) {
    if (!absl::StartsWith(field, from)) return field;
    return absl::StrCat(to, field.substr(from.size()));
  });
}

absl::Status FieldError(absl::StatusCode code, std::string field,
                        std::string description) {
  FieldViolation v{std::move(field), std::move(description)};
  return MakeFieldStatus(code, {&v, 1});
}

std::string DescribeCycle(const Cycle& cycle) {
  return absl::StrFormat("'%s' (%s, from %s until %s)", cycle.name,
                         Name(cycle.kind),
                         absl::FormatCivilTime(cycle.start),
                         absl::FormatCivilTime(cycle.end));
}

bool Contains(const Cycle& outer, const Cycle& inner) {
  return outer.start <= inner.start && inner.end <= outer.end;
}

int LengthRank(CycleKind kind) {
  switch (kind) {
    case CycleKind::kMonthly:
      return 1;
    case CycleKind::kQuarterly:
      return 2;
    case CycleKind::kAnnual:
      return 3;
    default:
      return 0;
  }
}

bool IsArchived(const Objective& objective) {
  return objective.state == ObjectiveState::kArchived;
}

// The objective an objective is aligned to, for either method; empty for a
// root. A Duality link is resolved through its key result, which always
// knows its objective.
Id ParentIdOf(const OrgState& state, const Objective& objective) {
  switch (objective.alignment.kind) {
    case AlignmentKind::kObjective:
      return objective.alignment.parent_objective_id;
    case AlignmentKind::kKeyResult:
      if (const KeyResult* kr =
              state.FindKeyResult(objective.alignment.parent_key_result_id)) {
        return kr->objective_id;
      }
      return objective.alignment.parent_objective_id;
    default:
      return "";
  }
}

// A `code` "<field>: ..." error unless `parent_cycle` encloses (or is)
// `child_cycle`: progress flows up to a parent that is being worked on at
// the same time, and a quarterly objective may align to an annual one but
// never the reverse.
absl::Status CheckEnclosingCycle(const Cycle& child_cycle,
                                 const Objective& parent,
                                 const Cycle& parent_cycle,
                                 absl::StatusCode code,
                                 const std::string& field) {
  if (Contains(parent_cycle, child_cycle) &&
      LengthRank(parent_cycle.kind) >= LengthRank(child_cycle.kind)) {
    return absl::OkStatus();
  }
  return FieldError(
      code, field,
      absl::StrFormat(
          "objective '%s' is in cycle %s, which does not enclose cycle %s; "
          "align to an objective of the same or an enclosing cycle (a "
          "quarterly objective may align to an annual one, never the "
          "reverse)",
          parent.id, DescribeCycle(parent_cycle), DescribeCycle(child_cycle)));
}

// The stored plan as ValidateAlignment looks things up: straight from the
// state's maps, so a check walks the parent chain instead of copying the
// organisation.
class StateLookup final : public AlignmentLookup {
 public:
  explicit StateLookup(const OrgState& state) : state_(state) {}
  const Objective* FindObjective(absl::string_view id) const override {
    return state_.FindObjective(id);
  }
  const KeyResult* FindKeyResult(absl::string_view id) const override {
    return state_.FindKeyResult(id);
  }
  const Cycle* FindCycle(absl::string_view id) const override {
    return state_.FindCycle(id);
  }

 private:
  const OrgState& state_;
};

// ValidateAlignment against the whole stored plan, with its field paths
// renamed by `rename` (the validator speaks of "objective.alignment.*").
absl::Status CheckAlignment(
    const OrgState& state, const Objective& child,
    absl::FunctionRef<std::string(const std::string&)> rename) {
  return RenameFields(ValidateAlignment(child, StateLookup(state)), rename);
}

// FAILED_PRECONDITION when the new live objectives `added` would give an
// owner more than kMaxObjectivesPerOwnerCycle live objectives in a cycle
// (the same limit CreateObjective keeps); `field(i)` names the request field
// behind added[i]. Objectives without an owner have no limit to count in.
absl::Status CheckObjectiveLimits(
    const OrgState& state, absl::Span<const Objective> added,
    absl::FunctionRef<std::string(size_t)> field) {
  absl::flat_hash_map<std::pair<Id, Id>, int> live;
  for (size_t i = 0; i < added.size(); ++i) {
    const Objective& o = added[i];
    if (o.owner_id.empty()) continue;
    auto [it, fresh] = live.try_emplace({o.owner_id, o.cycle_id}, 0);
    if (fresh) it->second = state.LiveObjectiveCount(o.owner_id, o.cycle_id);
    if (++it->second > kMaxObjectivesPerOwnerCycle) {
      return FieldError(
          absl::StatusCode::kFailedPrecondition, field(i),
          absl::StrFormat("person '%s' would have more than %d live "
                          "objectives in cycle '%s', the limit (the guide "
                          "recommends 3 to 5); archive or delete some first",
                          o.owner_id, kMaxObjectivesPerOwnerCycle,
                          o.cycle_id));
    }
  }
  return absl::OkStatus();
}

// The ordering key of siblings in a tree: ranked objectives first (1 is the
// most important), then unranked ones (priority 0), then by id.
auto SiblingKey(const Objective& o) {
  return std::make_tuple(o.priority == 0, o.priority, o.id);
}

}  // namespace

// --- Classic ---------------------------------------------------------------------

absl::StatusOr<Objective> Planning::AlignObjective(
    absl::string_view org, absl::string_view objective_id,
    absl::string_view parent_id, double weight, int64_t version) {
  std::vector<FieldViolation> invalid;
  CheckId(invalid, "objective_id", objective_id, true);
  CheckId(invalid, "parent_objective_id", parent_id, true);
  absl::StatusOr<double> link_weight = LinkWeight(weight);
  for (FieldViolation& v : FieldViolationsOf(link_weight.status())) {
    invalid.push_back(std::move(v));
  }
  if (invalid.empty() && objective_id == parent_id) {
    invalid.push_back({"parent_objective_id",
                       "must differ from objective_id: an objective cannot "
                       "align to itself"});
  }
  if (!invalid.empty()) return MakeInvalidArgument(invalid);

  Objective result;
  OKR_RETURN_IF_ERROR(Write(
      org,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Objective* child,
                             state.GetObjective(objective_id, "objective_id"));
        OKR_RETURN_IF_ERROR(CheckVersion(version, child->version));
        OKR_ASSIGN_OR_RETURN(
            const Objective* parent,
            state.GetObjective(parent_id, "parent_objective_id"));
        if (IsArchived(*child)) {
          return FieldError(absl::StatusCode::kFailedPrecondition,
                            "objective_id",
                            absl::StrCat("objective '", child->id,
                                         "' is archived; an archived "
                                         "objective cannot be aligned"));
        }
        if (IsArchived(*parent)) {
          return FieldError(
              absl::StatusCode::kFailedPrecondition, "parent_objective_id",
              absl::StrCat("objective '", parent->id,
                           "' is archived; align to a current objective"));
        }
        OKR_ASSIGN_OR_RETURN(const Cycle* child_cycle,
                             state.GetCycle(child->cycle_id, "objective_id"));
        OKR_ASSIGN_OR_RETURN(
            const Cycle* parent_cycle,
            state.GetCycle(parent->cycle_id, "parent_objective_id"));
        OKR_RETURN_IF_ERROR(CheckEnclosingCycle(
            *child_cycle, *parent, *parent_cycle,
            absl::StatusCode::kFailedPrecondition, "parent_objective_id"));

        const Alignment& old = child->alignment;
        if (old.kind == AlignmentKind::kObjective &&
            old.parent_objective_id == parent->id &&
            old.weight == *link_weight) {
          result = *child;  // already so: nothing to store
          return absl::OkStatus();
        }
        Objective updated = *child;
        updated.alignment = Alignment{.kind = AlignmentKind::kObjective,
                                      .parent_objective_id = parent->id,
                                      .parent_key_result_id = "",
                                      .weight = *link_weight};
        // Only the alignment changes: a stale breakdown link of the child
        // is not this request's business.
        Objective proposed = updated;
        proposed.breakdown_of_objective_id.clear();
        OKR_RETURN_IF_ERROR(
            CheckAlignment(state, proposed, [](const std::string& field) {
              if (field == "objective.alignment.parent_objective_id") {
                return std::string("parent_objective_id");
              }
              return field;
            }));
        StampUpdated(updated, ctx.now);
        m->puts.push_back(updated);
        result = std::move(updated);
        return absl::OkStatus();
      }));
  return result;
}

// --- Duality -----------------------------------------------------------------------

absl::StatusOr<Objective> Planning::CascadeKeyResult(
    absl::string_view org, absl::string_view key_result_id, Objective child,
    double weight, const RequestKey& key) {
  // The server owns these: the new objective's identity, its links and its
  // history.
  child.id.clear();
  child.organisation_id = std::string(org);
  child.alignment = Alignment{};
  child.breakdown_of_objective_id.clear();
  child.rolled_over_from_id.clear();
  if (child.state == ObjectiveState::kUnspecified) {
    child.state = ObjectiveState::kDraft;
  }
  if (child.progress_source == ProgressSource::kUnspecified) {
    child.progress_source = ProgressSource::kKeyResults;
  }

  std::vector<FieldViolation> invalid;
  CheckId(invalid, "key_result_id", key_result_id, true);
  absl::StatusOr<double> link_weight = LinkWeight(weight);
  for (FieldViolation& v : FieldViolationsOf(link_weight.status())) {
    invalid.push_back(std::move(v));
  }
  {
    // What the request alone can be judged on; the defaults that need the
    // key result (title, cycle, kind) stand in as valid placeholders.
    Objective shape = child;
    if (shape.title.empty()) shape.title = "(the key result's title)";
    if (shape.cycle_id.empty()) shape.cycle_id = "placeholder";
    if (shape.kind == ObjectiveKind::kUnspecified) {
      shape.kind = ObjectiveKind::kCommitted;
    }
    for (FieldViolation& v : FieldViolationsOf(ValidateObjective(shape))) {
      invalid.push_back(std::move(v));
    }
  }
  if (child.state == ObjectiveState::kArchived) {
    invalid.push_back({"objective.state",
                       "must be DRAFT or PUBLISHED: a new objective cannot "
                       "be archived"});
  }
  if (!invalid.empty()) return MakeInvalidArgument(invalid);

  Objective created;
  OKR_RETURN_IF_ERROR(Write(
      org, "CascadeKeyResult", key,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const KeyResult* kr,
                             state.GetKeyResult(key_result_id, "key_result_id"));
        OKR_ASSIGN_OR_RETURN(const Objective* parent,
                             state.GetObjective(kr->objective_id,
                                                "key_result_id"));
        if (kr->archived) {
          return FieldError(absl::StatusCode::kFailedPrecondition,
                            "key_result_id",
                            absl::StrCat("key result '", kr->id,
                                         "' is archived; cascade a current "
                                         "key result"));
        }
        if (IsArchived(*parent)) {
          return FieldError(
              absl::StatusCode::kFailedPrecondition, "key_result_id",
              absl::StrCat("key result '", kr->id, "' belongs to objective '",
                           parent->id, "', which is archived"));
        }
        Objective o = child;
        if (o.title.empty()) o.title = kr->title;
        if (o.cycle_id.empty()) o.cycle_id = parent->cycle_id;
        if (o.kind == ObjectiveKind::kUnspecified) o.kind = parent->kind;

        OKR_ASSIGN_OR_RETURN(const Cycle* cycle,
                             state.GetCycle(o.cycle_id, "objective.cycle_id"));
        if (!o.owner_id.empty()) {
          OKR_RETURN_IF_ERROR(
              state.GetPerson(o.owner_id, "objective.owner_id").status());
        }
        if (!o.team_id.empty()) {
          OKR_RETURN_IF_ERROR(
              state.GetTeam(o.team_id, "objective.team_id").status());
        }
        if (cycle->state == CycleState::kClosed) {
          return FieldError(absl::StatusCode::kFailedPrecondition,
                            "objective.cycle_id",
                            absl::StrCat("cycle ", DescribeCycle(*cycle),
                                         " is CLOSED; cascade into a cycle "
                                         "that is still open"));
        }
        OKR_ASSIGN_OR_RETURN(const Cycle* parent_cycle,
                             state.GetCycle(parent->cycle_id, "key_result_id"));
        OKR_RETURN_IF_ERROR(
            CheckEnclosingCycle(*cycle, *parent, *parent_cycle,
                                absl::StatusCode::kInvalidArgument,
                                "objective.cycle_id"));
        // The title may now come from the key result: check it again.
        OKR_RETURN_IF_ERROR(ValidateObjective(o));

        o.alignment = Alignment{.kind = AlignmentKind::kKeyResult,
                                .parent_objective_id = parent->id,
                                .parent_key_result_id = kr->id,
                                .weight = *link_weight};
        OKR_RETURN_IF_ERROR(
            CheckAlignment(state, o, [](const std::string& field) {
              if (field == "objective.alignment.parent_key_result_id") {
                return std::string("key_result_id");
              }
              return field;
            }));
        OKR_RETURN_IF_ERROR(CheckObjectiveLimits(
            state, {&o, 1}, [](size_t) { return "objective.owner_id"; }));
        o.id = ctx.new_id(ResourceKind::kObjective);
        StampCreated(o, ctx.now);

        // Duality: the child objective is what the key result measures, so
        // the first child makes the KR take its progress from its children.
        // Later cascades leave the flag as it is, which respects an owner
        // who switched it off.
        if (!kr->progress_from_children && state.CascadedFrom(kr->id).empty()) {
          KeyResult updated = *kr;
          updated.progress_from_children = true;
          StampUpdated(updated, ctx.now);
          m->puts.push_back(updated);
        }
        m->puts.push_back(o);
        m->result_ids.push_back(o.id);
        created = std::move(o);
        return absl::OkStatus();
      },
      [&](const OrgState& state, absl::Span<const Id> ids) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Objective* o,
                             state.GetObjective(ids[0], "request_id"));
        created = *o;
        return absl::OkStatus();
      }));
  return created;
}

absl::StatusOr<Objective> Planning::UnalignObjective(
    absl::string_view org, absl::string_view objective_id, int64_t version) {
  std::vector<FieldViolation> invalid;
  CheckId(invalid, "objective_id", objective_id, true);
  if (!invalid.empty()) return MakeInvalidArgument(invalid);

  Objective result;
  OKR_RETURN_IF_ERROR(Write(
      org,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Objective* stored,
                             state.GetObjective(objective_id, "objective_id"));
        OKR_RETURN_IF_ERROR(CheckVersion(version, stored->version));
        if (stored->alignment.kind == AlignmentKind::kNone) {
          result = *stored;  // already a root
          return absl::OkStatus();
        }
        Objective updated = *stored;
        updated.alignment = Alignment{};
        StampUpdated(updated, ctx.now);
        m->puts.push_back(updated);
        result = std::move(updated);
        return absl::OkStatus();
      }));
  return result;
}

// --- Breakdown ---------------------------------------------------------------------

absl::StatusOr<std::vector<Objective>> Planning::BreakDownObjective(
    absl::string_view org, absl::string_view objective_id,
    const std::vector<BreakdownItem>& items, bool align,
    const RequestKey& key) {
  std::vector<FieldViolation> invalid;
  CheckId(invalid, "objective_id", objective_id, true);
  if (items.empty()) {
    invalid.push_back({"items", "at least one item is required"});
  } else if (items.size() > kMaxBreakdownItems) {
    invalid.push_back(
        {"items", absl::StrFormat("at most %d items per request; got %d",
                                  kMaxBreakdownItems, items.size())});
  } else {
    for (size_t i = 0; i < items.size(); ++i) {
      const BreakdownItem& item = items[i];
      // The item's own fields; what comes from the broken-down objective
      // stands in as valid placeholders.
      Objective shape;
      shape.title = item.title;
      shape.description = item.description;
      shape.level = Level::kTeam;
      shape.owner_id = item.owner_id;
      shape.cycle_id = item.cycle_id;
      shape.kind = item.kind == ObjectiveKind::kUnspecified
                       ? ObjectiveKind::kCommitted
                       : item.kind;
      for (FieldViolation& v : FieldViolationsOf(
               Reprefix(ValidateObjective(shape), "objective.",
                        absl::StrCat("items[", i, "].")))) {
        invalid.push_back(std::move(v));
      }
    }
  }
  if (!invalid.empty()) return MakeInvalidArgument(invalid);

  std::vector<Objective> created;
  OKR_RETURN_IF_ERROR(Write(
      org, "BreakDownObjective", key,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Objective* parent,
                             state.GetObjective(objective_id, "objective_id"));
        if (IsArchived(*parent)) {
          return FieldError(
              absl::StatusCode::kFailedPrecondition, "objective_id",
              absl::StrCat("objective '", parent->id,
                           "' is archived; break down a current objective"));
        }
        OKR_ASSIGN_OR_RETURN(const Cycle* parent_cycle,
                             state.GetCycle(parent->cycle_id, "objective_id"));
        std::vector<std::string> child_cycle_names;
        for (const auto& [id, cycle] : state.cycles()) {
          if (cycle.parent_cycle_id == parent_cycle->id) {
            child_cycle_names.push_back(absl::StrCat("'", cycle.name, "'"));
          }
        }
        std::sort(child_cycle_names.begin(), child_cycle_names.end());

        std::vector<Objective> objectives;
        for (size_t i = 0; i < items.size(); ++i) {
          const BreakdownItem& item = items[i];
          const std::string prefix = absl::StrCat("items[", i, "].");
          OKR_ASSIGN_OR_RETURN(
              const Cycle* cycle,
              state.GetCycle(item.cycle_id, absl::StrCat(prefix, "cycle_id")));
          if (!item.owner_id.empty()) {
            OKR_RETURN_IF_ERROR(
                state.GetPerson(item.owner_id, absl::StrCat(prefix, "owner_id"))
                    .status());
          }
          if (cycle->parent_cycle_id != parent_cycle->id) {
            return FieldError(
                absl::StatusCode::kFailedPrecondition,
                absl::StrCat(prefix, "cycle_id"),
                absl::StrCat(
                    "cycle ", DescribeCycle(*cycle),
                    " is not a child cycle of the objective's cycle ",
                    DescribeCycle(*parent_cycle), "; ",
                    child_cycle_names.empty()
                        ? "that cycle has no child cycles yet (CreateFiscalYear "
                          "creates a year's quarters)"
                        : absl::StrCat("choose one of ",
                                       absl::StrJoin(child_cycle_names, ", "))));
          }
          if (cycle->state == CycleState::kClosed) {
            return FieldError(absl::StatusCode::kFailedPrecondition,
                              absl::StrCat(prefix, "cycle_id"),
                              absl::StrCat("cycle ", DescribeCycle(*cycle),
                                           " is CLOSED"));
          }
          Objective o;
          o.organisation_id = std::string(org);
          o.title = item.title;
          o.description = item.description;
          o.level = parent->level;
          o.owner_id = item.owner_id.empty() ? parent->owner_id : item.owner_id;
          o.team_id = parent->team_id;
          o.cycle_id = cycle->id;
          o.kind = item.kind == ObjectiveKind::kUnspecified ? parent->kind
                                                             : item.kind;
          o.category = parent->category;
          o.priority = static_cast<int>(i) + 1;
          o.state = ObjectiveState::kDraft;
          o.progress_source = ProgressSource::kKeyResults;
          o.breakdown_of_objective_id = parent->id;
          if (align) {
            o.alignment = Alignment{.kind = AlignmentKind::kObjective,
                                    .parent_objective_id = parent->id,
                                    .parent_key_result_id = "",
                                    .weight = 1.0};
          }
          OKR_RETURN_IF_ERROR(
              Reprefix(ValidateObjective(o), "objective.", prefix));
          objectives.push_back(std::move(o));
        }
        // Against the stored plan alone: the new objectives only point at
        // the stored parent, so they cannot affect each other.
        const StateLookup lookup(state);
        for (size_t i = 0; i < objectives.size(); ++i) {
          OKR_RETURN_IF_ERROR(RenameFields(
              ValidateAlignment(objectives[i], lookup),
              [&](const std::string& field) {
                if (absl::StartsWith(field, "objective.cycle_id")) {
                  return absl::StrCat("items[", i, "].cycle_id");
                }
                return std::string("objective_id");
              }));
        }
        OKR_RETURN_IF_ERROR(
            CheckObjectiveLimits(state, objectives, [](size_t i) {
              return absl::StrCat("items[", i, "].owner_id");
            }));
        for (Objective& o : objectives) {
          o.id = ctx.new_id(ResourceKind::kObjective);
          StampCreated(o, ctx.now);
          m->puts.push_back(o);
          m->result_ids.push_back(o.id);
        }
        created = std::move(objectives);
        return absl::OkStatus();
      },
      [&](const OrgState& state, absl::Span<const Id> ids) -> absl::Status {
        created.clear();
        for (const Id& id : ids) {
          OKR_ASSIGN_OR_RETURN(const Objective* o,
                               state.GetObjective(id, "request_id"));
          created.push_back(*o);
        }
        return absl::OkStatus();
      }));
  return created;
}

// --- Tree --------------------------------------------------------------------------

absl::StatusOr<AlignmentTree> Planning::GetAlignmentTree(
    absl::string_view org, const AlignmentTreeQuery& query) {
  std::vector<FieldViolation> invalid;
  CheckId(invalid, "cycle_id", query.cycle_id, false);
  CheckId(invalid, "root_objective_id", query.root_objective_id, false);
  if (!invalid.empty()) return MakeInvalidArgument(invalid);

  AlignmentTree tree;
  OKR_RETURN_IF_ERROR(Read(org, [&](const OrgState& state) -> absl::Status {
    const Cycle* cycle = nullptr;
    if (!query.cycle_id.empty()) {
      OKR_ASSIGN_OR_RETURN(cycle, state.GetCycle(query.cycle_id, "cycle_id"));
    }
    const Objective* root = nullptr;
    if (!query.root_objective_id.empty()) {
      OKR_ASSIGN_OR_RETURN(root, state.GetObjective(query.root_objective_id,
                                                    "root_objective_id"));
    }
    auto visible = [&](const Objective& o) {
      return query.include_archived || !IsArchived(o);
    };

    // The cycle's objectives, then their ancestors in enclosing cycles (an
    // annual parent of a quarterly objective), so that the quarter's tree
    // shows what it rolls up into. A parent outside (archived, or in a
    // cycle that does not enclose this one) makes its child a root.
    absl::flat_hash_set<Id> members;
    std::vector<const Objective*> in_cycle;
    for (const auto& [id, o] : state.objectives()) {
      if (!visible(o)) continue;
      if (cycle == nullptr || o.cycle_id == cycle->id) {
        members.insert(id);
        in_cycle.push_back(&o);
      }
    }
    if (cycle != nullptr) {
      for (const Objective* o : in_cycle) {
        for (const Objective* cur = o;;) {
          const Objective* parent = state.FindObjective(ParentIdOf(state, *cur));
          if (parent == nullptr || !visible(*parent)) break;
          const Cycle* parent_cycle = state.FindCycle(parent->cycle_id);
          if (parent_cycle == nullptr || !Contains(*parent_cycle, *cycle)) {
            break;
          }
          // Already there: its own ancestors are (or will be) walked.
          if (!members.insert(parent->id).second) break;
          cur = parent;
        }
      }
    }
    auto children_of = [&](const Objective& o) {
      std::vector<const Objective*> children;
      for (const Objective* child : state.ChildrenOf(o.id)) {
        if (members.contains(child->id)) {
          children.push_back(child);
        }
      }
      std::sort(children.begin(), children.end(),
                [](const Objective* a, const Objective* b) {
                  return SiblingKey(*a) < SiblingKey(*b);
                });
      return children;
    };
    if (root != nullptr) {
      // The named root is shown even when archived or outside the cycle:
      // the caller asked for it by id.
      absl::flat_hash_set<Id> subtree = {root->id};
      std::deque<const Objective*> queue = {root};
      while (!queue.empty()) {
        const Objective* cur = queue.front();
        queue.pop_front();
        for (const Objective* child : children_of(*cur)) {
          if (subtree.insert(child->id).second) queue.push_back(child);
        }
      }
      members = std::move(subtree);
    }
    if (members.size() > static_cast<size_t>(kMaxTreeObjectives)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "the alignment tree has %d objectives, more than the limit of %d; "
          "narrow it with root_objective_id or page through ListObjectives",
          members.size(), kMaxTreeObjectives));
    }

    std::vector<const Objective*> roots;
    for (const Id& id : members) {
      const Objective* o = state.FindObjective(id);
      if (root != nullptr ? o == root
                          : !members.contains(ParentIdOf(state, *o))) {
        roots.push_back(o);
      }
    }
    auto by_sibling_key = [](const Objective* a, const Objective* b) {
      return SiblingKey(*a) < SiblingKey(*b);
    };
    std::sort(roots.begin(), roots.end(), by_sibling_key);

    // Breadth first from all roots at once, so every parent precedes its
    // children and each level follows the one above it.
    absl::flat_hash_set<Id> visited;
    std::deque<const Objective*> queue;
    auto walk = [&](const std::vector<const Objective*>& starts) {
      for (const Objective* start : starts) {
        if (!visited.insert(start->id).second) continue;
        tree.root_objective_ids.push_back(start->id);
        queue.push_back(start);
      }
      while (!queue.empty()) {
        const Objective* cur = queue.front();
        queue.pop_front();
        tree.objectives.push_back(*cur);
        for (const Objective* child : children_of(*cur)) {
          if (visited.insert(child->id).second) queue.push_back(child);
        }
      }
    };
    walk(roots);
    if (visited.size() < members.size()) {
      // Only a stored loop leaves members unreached; validation keeps the
      // graph a forest, but a snapshot should never drop objectives.
      std::vector<const Objective*> rest;
      for (const Id& id : members) {
        if (!visited.contains(id)) rest.push_back(state.FindObjective(id));
      }
      std::sort(rest.begin(), rest.end(), by_sibling_key);
      for (const Objective* r : rest) walk({r});
    }

    const absl::flat_hash_set<Id> roots_set(tree.root_objective_ids.begin(),
                                            tree.root_objective_ids.end());
    for (const Objective& o : tree.objectives) {
      if (o.alignment.kind == AlignmentKind::kNone || roots_set.contains(o.id)) {
        continue;
      }
      tree.links.push_back(AlignmentLink{
          .child_objective_id = o.id,
          .parent_objective_id = ParentIdOf(state, o),
          .parent_key_result_id = o.alignment.kind == AlignmentKind::kKeyResult
                                      ? o.alignment.parent_key_result_id
                                      : "",
          .kind = o.alignment.kind,
          .weight = o.alignment.weight});
    }
    if (!query.exclude_key_results) {
      for (const Objective& o : tree.objectives) {
        for (const KeyResult* kr : state.KeyResultsOf(o.id)) {
          if (query.include_archived || !kr->archived) {
            tree.key_results.push_back(*kr);
          }
        }
      }
    }
    tree.sequence = state.sequence();
    return absl::OkStatus();
  }));
  return tree;
}

// --- Roll over -------------------------------------------------------------------

absl::StatusOr<RollOverResult> Planning::RollOverObjectives(
    absl::string_view org, absl::string_view target_cycle_id,
    const std::vector<RollOverItem>& items, bool keep_alignment,
    const RequestKey& key) {
  std::vector<FieldViolation> invalid;
  CheckId(invalid, "target_cycle_id", target_cycle_id, true);
  if (items.empty()) {
    invalid.push_back({"items", "at least one item is required"});
  } else if (items.size() > kMaxRollOverItems) {
    invalid.push_back(
        {"items", absl::StrFormat("at most %d items per request; got %d",
                                  kMaxRollOverItems, items.size())});
  } else {
    absl::flat_hash_map<absl::string_view, size_t> seen_objectives;
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string prefix = absl::StrCat("items[", i, "].");
      CheckId(invalid, absl::StrCat(prefix, "objective_id"),
              items[i].objective_id, true);
      auto [it, fresh] =
          seen_objectives.emplace(items[i].objective_id, i);
      if (!fresh && !items[i].objective_id.empty()) {
        invalid.push_back(
            {absl::StrCat(prefix, "objective_id"),
             absl::StrFormat("'%s' is already items[%d]; roll each objective "
                             "over once per request",
                             items[i].objective_id, it->second)});
      }
      absl::flat_hash_map<absl::string_view, size_t> seen_key_results;
      for (size_t j = 0; j < items[i].key_result_ids.size(); ++j) {
        const std::string field =
            absl::StrCat(prefix, "key_result_ids[", j, "]");
        CheckId(invalid, field, items[i].key_result_ids[j], true);
        auto [kit, kfresh] =
            seen_key_results.emplace(items[i].key_result_ids[j], j);
        if (!kfresh) {
          invalid.push_back(
              {field, absl::StrFormat("'%s' is already key_result_ids[%d]",
                                      items[i].key_result_ids[j], kit->second)});
        }
      }
    }
  }
  if (!invalid.empty()) return MakeInvalidArgument(invalid);

  RollOverResult result;
  OKR_RETURN_IF_ERROR(Write(
      org, "RollOverObjectives", key,
      [&](const OrgState& state, const WriteContext& ctx,
          Mutation* m) -> absl::Status {
        OKR_ASSIGN_OR_RETURN(const Cycle* target,
                             state.GetCycle(target_cycle_id, "target_cycle_id"));
        if (target->state == CycleState::kClosed) {
          return FieldError(absl::StatusCode::kFailedPrecondition,
                            "target_cycle_id",
                            absl::StrCat("cycle ", DescribeCycle(*target),
                                         " is CLOSED; roll over into a cycle "
                                         "that is still open"));
        }

        // Resolve and check every item before building anything.
        std::vector<const Objective*> sources;
        std::vector<std::vector<const KeyResult*>> source_krs;
        for (size_t i = 0; i < items.size(); ++i) {
          const std::string prefix = absl::StrCat("items[", i, "].");
          OKR_ASSIGN_OR_RETURN(
              const Objective* source,
              state.GetObjective(items[i].objective_id,
                                 absl::StrCat(prefix, "objective_id")));
          OKR_ASSIGN_OR_RETURN(
              const Cycle* source_cycle,
              state.GetCycle(source->cycle_id,
                             absl::StrCat(prefix, "objective_id")));
          if (source_cycle->kind != target->kind) {
            return FieldError(
                absl::StatusCode::kFailedPrecondition,
                absl::StrCat(prefix, "objective_id"),
                absl::StrFormat("objective '%s' is in cycle %s, but the "
                                "target cycle %s is of another kind; roll "
                                "over into a cycle of the same kind",
                                source->id, DescribeCycle(*source_cycle),
                                DescribeCycle(*target)));
          }
          if (source_cycle->id == target->id) {
            return FieldError(
                absl::StatusCode::kFailedPrecondition,
                absl::StrCat(prefix, "objective_id"),
                absl::StrFormat("objective '%s' is already in the target "
                                "cycle %s; roll over into another cycle",
                                source->id, DescribeCycle(*target)));
          }
          std::vector<const KeyResult*> krs;
          if (items[i].key_result_ids.empty()) {
            for (const KeyResult* kr : state.KeyResultsOf(source->id)) {
              if (!kr->archived) krs.push_back(kr);
            }
          } else {
            for (size_t j = 0; j < items[i].key_result_ids.size(); ++j) {
              const std::string field =
                  absl::StrCat(prefix, "key_result_ids[", j, "]");
              OKR_ASSIGN_OR_RETURN(
                  const KeyResult* kr,
                  state.GetKeyResult(items[i].key_result_ids[j], field));
              if (kr->objective_id != source->id) {
                return FieldError(
                    absl::StatusCode::kFailedPrecondition, field,
                    absl::StrFormat("key result '%s' belongs to objective "
                                    "'%s', not to '%s'",
                                    kr->id, kr->objective_id, source->id));
              }
              krs.push_back(kr);
            }
          }
          if (krs.size() > static_cast<size_t>(kMaxKeyResultsPerObjective)) {
            return FieldError(
                absl::StatusCode::kFailedPrecondition,
                absl::StrCat(prefix, "key_result_ids"),
                absl::StrFormat("%d key results chosen, more than the limit "
                                "of %d live key results per objective",
                                krs.size(), kMaxKeyResultsPerObjective));
          }
          sources.push_back(source);
          source_krs.push_back(std::move(krs));
        }

        // Every copy's id first, so that links between copies can be
        // redrawn whatever the order of the items.
        absl::flat_hash_map<Id, size_t> item_of_objective;
        absl::flat_hash_map<Id, Id> copy_of_key_result;
        std::vector<Objective> copies(items.size());
        std::vector<std::vector<KeyResult>> kr_copies(items.size());
        for (size_t i = 0; i < items.size(); ++i) {
          item_of_objective[sources[i]->id] = i;
          copies[i].id = ctx.new_id(ResourceKind::kObjective);
          for (const KeyResult* kr : source_krs[i]) {
            KeyResult copy = *kr;
            copy.id = ctx.new_id(ResourceKind::kKeyResult);
            copy_of_key_result[kr->id] = copy.id;
            kr_copies[i].push_back(std::move(copy));
          }
        }
        // A stored objective stays a valid parent for the target cycle when
        // it is current and its cycle encloses the target.
        auto valid_parent = [&](const Objective* parent) {
          if (parent == nullptr || IsArchived(*parent)) return false;
          const Cycle* c = state.FindCycle(parent->cycle_id);
          return c != nullptr && Contains(*c, *target) &&
                 LengthRank(c->kind) >= LengthRank(target->kind);
        };
        // The copy's alignment and, when it is another copy, that copy's
        // item (to store parents first).
        std::vector<std::optional<size_t>> parent_item(items.size());
        for (size_t i = 0; i < items.size(); ++i) {
          const Objective& source = *sources[i];
          Objective& copy = copies[i];
          const Id id = copy.id;
          copy = source;
          copy.id = id;
          copy.cycle_id = target->id;
          copy.state = ObjectiveState::kDraft;
          copy.rolled_over_from_id = source.id;
          copy.alignment = Alignment{};
          const Alignment& a = source.alignment;
          if (keep_alignment && a.kind == AlignmentKind::kObjective) {
            if (auto it = item_of_objective.find(a.parent_objective_id);
                it != item_of_objective.end()) {
              copy.alignment = a;
              copy.alignment.parent_objective_id = copies[it->second].id;
              parent_item[i] = it->second;
            } else if (valid_parent(
                           state.FindObjective(a.parent_objective_id))) {
              copy.alignment = a;
            }
          } else if (keep_alignment && a.kind == AlignmentKind::kKeyResult) {
            const KeyResult* kr = state.FindKeyResult(a.parent_key_result_id);
            if (auto it = copy_of_key_result.find(a.parent_key_result_id);
                kr != nullptr && it != copy_of_key_result.end()) {
              const size_t p = item_of_objective.at(kr->objective_id);
              copy.alignment = a;
              copy.alignment.parent_key_result_id = it->second;
              copy.alignment.parent_objective_id = copies[p].id;
              parent_item[i] = p;
            } else if (kr != nullptr && !kr->archived &&
                       valid_parent(state.FindObjective(kr->objective_id))) {
              copy.alignment = a;
              copy.alignment.parent_objective_id = kr->objective_id;
            }
          }
          // A breakdown stays one while its annual (or quarterly) objective
          // still encloses the target cycle.
          if (!copy.breakdown_of_objective_id.empty()) {
            const Objective* of =
                state.FindObjective(copy.breakdown_of_objective_id);
            const Cycle* of_cycle =
                of == nullptr ? nullptr : state.FindCycle(of->cycle_id);
            if (of_cycle == nullptr || !Contains(*of_cycle, *target) ||
                LengthRank(of_cycle->kind) <= LengthRank(target->kind)) {
              copy.breakdown_of_objective_id.clear();
            }
          }
          StampCreated(copy, ctx.now);
        }
        for (size_t i = 0; i < items.size(); ++i) {
          for (size_t k = 0; k < kr_copies[i].size(); ++k) {
            KeyResult& kr = kr_copies[i][k];
            kr.objective_id = copies[i].id;
            kr.rolled_over_from_id = source_krs[i][k]->id;
            kr.archived = false;
            StampCreated(kr, ctx.now);
          }
        }

        OKR_RETURN_IF_ERROR(
            CheckObjectiveLimits(state, copies, [](size_t i) {
              return absl::StrCat("items[", i, "].objective_id");
            }));

        // Parents before children in the feed.
        std::vector<bool> stored(items.size(), false);
        auto store = [&](auto&& self, size_t i) -> void {
          if (stored[i]) return;
          stored[i] = true;
          if (parent_item[i].has_value()) self(self, *parent_item[i]);
          m->puts.push_back(copies[i]);
          for (const KeyResult& kr : kr_copies[i]) m->puts.push_back(kr);
        };
        for (size_t i = 0; i < items.size(); ++i) store(store, i);

        result = RollOverResult{};
        for (size_t i = 0; i < items.size(); ++i) {
          m->result_ids.push_back(copies[i].id);
          result.objectives.push_back(copies[i]);
        }
        for (size_t i = 0; i < items.size(); ++i) {
          for (const KeyResult& kr : kr_copies[i]) {
            m->result_ids.push_back(kr.id);
            result.key_results.push_back(kr);
          }
        }
        return absl::OkStatus();
      },
      [&](const OrgState& state, absl::Span<const Id> ids) -> absl::Status {
        result = RollOverResult{};
        for (const Id& id : ids) {
          if (const Objective* o = state.FindObjective(id)) {
            result.objectives.push_back(*o);
            continue;
          }
          OKR_ASSIGN_OR_RETURN(const KeyResult* kr,
                               state.GetKeyResult(id, "request_id"));
          result.key_results.push_back(*kr);
        }
        return absl::OkStatus();
      }));
  return result;
}

}  // namespace okr::planning
