#include "common/lint.h"

#include <array>
#include <cmath>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace okr {
namespace {

constexpr absl::string_view kTooFewObjectives = "too-few-objectives";
constexpr absl::string_view kTooManyObjectives = "too-many-objectives";
constexpr absl::string_view kTooFewKeyResults = "too-few-key-results";
constexpr absl::string_view kTooManyKeyResults = "too-many-key-results";
constexpr absl::string_view kMetricWithoutRange = "metric-without-range";
constexpr absl::string_view kTaskNotOutcome = "task-not-outcome";
constexpr absl::string_view kMissingOwner = "missing-owner";
constexpr absl::string_view kMissingLevel = "missing-level";
constexpr absl::string_view kMissingTimePeriod = "missing-time-period";
constexpr absl::string_view kUnalignedObjective = "unaligned-objective";
constexpr absl::string_view kUnknownDataSource = "unknown-data-source";
constexpr absl::string_view kCommittedWithoutStretch =
    "committed-without-stretch";
constexpr absl::string_view kQuarterlyNotLinked =
    "quarterly-not-linked-to-annual";
constexpr absl::string_view kMissingMissionVision = "missing-mission-vision";

constexpr std::array<LintRule, 14> kRules{{
    {kTooFewObjectives, LintSeverity::kInfo, LintTarget::kOwnerCycle,
     "An owner has fewer than 3 objectives in a cycle (3 to 5 is the "
     "recommended focus)."},
    {kTooManyObjectives, LintSeverity::kWarning, LintTarget::kOwnerCycle,
     "An owner has more than 5 objectives in a cycle; focus on 3 to 5."},
    {kTooFewKeyResults, LintSeverity::kWarning, LintTarget::kObjective,
     "An objective has fewer than 3 key results (3 to 5 measurable ones are "
     "recommended)."},
    {kTooManyKeyResults, LintSeverity::kWarning, LintTarget::kObjective,
     "An objective has more than 5 key results; keep the 3 to 5 that are "
     "necessary and sufficient."},
    {kMetricWithoutRange, LintSeverity::kError, LintTarget::kKeyResult,
     "A metric key result has no usable from/to (missing, equal, not finite, "
     "or against its direction)."},
    {kTaskNotOutcome, LintSeverity::kWarning, LintTarget::kKeyResult,
     "A key result starts with an activity verb (implement, launch, ...) and "
     "states no number: it reads as a task, not an outcome."},
    {kMissingOwner, LintSeverity::kError, LintTarget::kObjective,
     "An objective has no owner (the O of PLOT)."},
    {kMissingLevel, LintSeverity::kError, LintTarget::kObjective,
     "An objective has no level: company, team or individual (the L of "
     "PLOT)."},
    {kMissingTimePeriod, LintSeverity::kError, LintTarget::kObjective,
     "An objective has no cycle, or one not in the plan (the T of PLOT)."},
    {kUnalignedObjective, LintSeverity::kWarning, LintTarget::kObjective,
     "A team or individual objective is not aligned to anything and is not a "
     "breakdown of another objective."},
    {kUnknownDataSource, LintSeverity::kWarning, LintTarget::kKeyResult,
     "A key result's data source is UNKNOWN: decide where its updates come "
     "from (manual, spreadsheet, integration)."},
    {kCommittedWithoutStretch, LintSeverity::kWarning, LintTarget::kObjective,
     "A committed objective does not stretch: each metric key result is "
     "already met at its start value or moves it by less than 5%."},
    {kQuarterlyNotLinked, LintSeverity::kWarning, LintTarget::kObjective,
     "A quarterly objective is neither a breakdown of nor aligned up to an "
     "objective in an annual cycle."},
    {kMissingMissionVision, LintSeverity::kWarning, LintTarget::kObjective,
     "A company objective exists while the organisation has no mission or no "
     "vision to connect it to."},
}};

const LintRule& Rule(absl::string_view id) {
  for (const LintRule& r : kRules) {
    if (r.id == id) return r;
  }
  return kRules[0];  // Unreachable: every caller names a rule above.
}

// The activity verbs of the task-not-outcome heuristic, lower case.
constexpr std::array<absl::string_view, 36> kActivityVerbs{{
    "build",    "complete", "conduct",  "create",    "define",  "deliver",
    "deploy",   "design",   "develop",  "do",        "draft",   "establish",
    "finish",   "hold",     "host",     "identify",  "implement", "introduce",
    "launch",   "make",     "migrate",  "organise",  "organize", "plan",
    "prepare",  "publish",  "release",  "roll",      "run",     "schedule",
    "set",      "ship",     "start",    "train",     "write",   "execute",
}};

bool IsActivityVerb(absl::string_view word) {
  for (absl::string_view v : kActivityVerbs) {
    if (v == word) return true;
  }
  return false;
}

// The first word of a title in lower case, when the title starts with a
// word (leading spaces and punctuation skipped; a leading number is not a
// verb, so it yields "").
std::string FirstWord(absl::string_view title) {
  size_t i = 0;
  while (i < title.size() &&
         !absl::ascii_isalnum(static_cast<unsigned char>(title[i]))) {
    ++i;
  }
  size_t j = i;
  while (j < title.size() &&
         absl::ascii_isalpha(static_cast<unsigned char>(title[j]))) {
    ++j;
  }
  return absl::AsciiStrToLower(title.substr(i, j - i));
}

// A measurable number is a '%' or a run of digits not glued to a preceding
// letter, so "Q1", "FY2027" or "B2B" (periods and names) do not count while
// "3 improvements", "$150" and "100%" do.
bool StatesNumber(absl::string_view title) {
  for (size_t i = 0; i < title.size(); ++i) {
    const auto c = static_cast<unsigned char>(title[i]);
    if (c == '%') return true;
    if (absl::ascii_isdigit(c) &&
        (i == 0 ||
         !absl::ascii_isalpha(static_cast<unsigned char>(title[i - 1])))) {
      return true;
    }
  }
  return false;
}

// Whether a metric KR has from/to that scoring can use.
bool HasUsableRange(const KeyResult& kr) {
  if (!std::isfinite(kr.from) || !std::isfinite(kr.to)) return false;
  switch (kr.direction) {
    case Direction::kAtLeast:
    case Direction::kAtMost:
      return true;
    case Direction::kIncrease:
      return kr.to > kr.from;
    case Direction::kDecrease:
      return kr.to < kr.from;
    default:
      return kr.to != kr.from;
  }
}

// How far a usable metric KR moves its measure, as a fraction; infinite when
// it starts from zero. Thresholds move it fully unless already met at the
// start value, when they do not move it at all.
double Stretch(const KeyResult& kr) {
  switch (kr.direction) {
    case Direction::kAtLeast:
      return kr.from >= kr.to ? 0 : INFINITY;
    case Direction::kAtMost:
      return kr.from <= kr.to ? 0 : INFINITY;
    default:
      break;
  }
  const double delta = std::fabs(kr.to - kr.from);
  if (kr.measure == Measure::kPercentComplete) return delta / 100;
  if (kr.from == 0) return INFINITY;
  return delta / std::fabs(kr.from);
}

std::string Quoted(absl::string_view title) {
  return absl::StrCat("\"", title, "\"");
}

absl::string_view LevelWord(Level level) {
  switch (level) {
    case Level::kCompany:
      return "Company objective";
    case Level::kTeam:
      return "Team objective";
    case Level::kIndividual:
      return "Individual objective";
    default:
      return "Objective";
  }
}

// Lookups over a plan, built once per lint call.
class PlanIndex {
 public:
  explicit PlanIndex(const Plan& plan) : plan_(plan) {
    for (const Objective& o : plan.objectives) objectives_.try_emplace(o.id, &o);
    for (const Cycle& c : plan.cycles) cycles_.try_emplace(c.id, &c);
    for (const Person& p : plan.people) people_.try_emplace(p.id, &p);
    for (const KeyResult& kr : plan.key_results) {
      key_results_.try_emplace(kr.id, &kr);
      if (!kr.archived) by_objective_[kr.objective_id].push_back(&kr);
    }
  }

  const Plan& plan() const { return plan_; }

  const Cycle* FindCycle(absl::string_view id) const {
    auto it = cycles_.find(id);
    return it == cycles_.end() ? nullptr : it->second;
  }
  const Objective* FindObjective(absl::string_view id) const {
    auto it = objectives_.find(id);
    return it == objectives_.end() ? nullptr : it->second;
  }

  const std::vector<const KeyResult*>& KeyResultsOf(absl::string_view id) const {
    static const std::vector<const KeyResult*> kNone;
    auto it = by_objective_.find(id);
    return it == by_objective_.end() ? kNone : it->second;
  }

  std::string OwnerName(absl::string_view owner_id) const {
    auto it = people_.find(owner_id);
    if (it != people_.end() && !it->second->display_name.empty()) {
      return it->second->display_name;
    }
    return absl::StrCat("Owner '", owner_id, "'");
  }

  std::string CycleName(absl::string_view cycle_id) const {
    const Cycle* c = FindCycle(cycle_id);
    return std::string(c != nullptr && !c->name.empty() ? c->name : cycle_id);
  }

  // The objectives `o` links up to: its Classic or Duality parent and the
  // objective it is a breakdown of (either may be empty).
  std::array<absl::string_view, 2> ParentsOf(const Objective& o) const {
    absl::string_view aligned;
    if (o.alignment.kind == AlignmentKind::kObjective) {
      aligned = o.alignment.parent_objective_id;
    } else if (o.alignment.kind == AlignmentKind::kKeyResult) {
      auto it = key_results_.find(o.alignment.parent_key_result_id);
      aligned = it != key_results_.end() ? absl::string_view(it->second->objective_id)
                                         : absl::string_view(o.alignment.parent_objective_id);
    }
    return {aligned, o.breakdown_of_objective_id};
  }

  // Archived objectives are ignored by lint, also as annual anchors.
  bool InAnnualCycle(const Objective& o) const {
    if (o.state == ObjectiveState::kArchived) return false;
    const Cycle* c = FindCycle(o.cycle_id);
    return c != nullptr && c->kind == CycleKind::kAnnual;
  }

  // Whether one of `o`'s ancestors (over alignment and breakdown links) is
  // in an annual cycle.
  bool LinkedToAnnual(const Objective& o) {
    if (!linked_computed_) ComputeLinked();
    for (absl::string_view p : ParentsOf(o)) {
      if (p.empty() || p == o.id) continue;
      const Objective* parent = FindObjective(p);
      if (parent == nullptr || parent->state == ObjectiveState::kArchived) continue;
      if (InAnnualCycle(*parent) || linked_.contains(p)) return true;
    }
    return false;
  }

 private:
  // One breadth-first pass down from every annual objective marks all their
  // descendants, so that LinkedToAnnual costs O(1) per objective even on
  // deep chains. The visited set makes stored loops harmless.
  void ComputeLinked() {
    linked_computed_ = true;
    absl::flat_hash_map<absl::string_view, std::vector<const Objective*>> children;
    std::deque<const Objective*> queue;
    for (const Objective& o : plan_.objectives) {
      for (absl::string_view p : ParentsOf(o)) {
        if (!p.empty() && p != o.id) children[p].push_back(&o);
      }
      if (InAnnualCycle(o)) queue.push_back(&o);
    }
    absl::flat_hash_set<absl::string_view> visited;
    while (!queue.empty()) {
      const Objective* o = queue.front();
      queue.pop_front();
      if (!visited.insert(o->id).second) continue;
      auto it = children.find(o->id);
      if (it == children.end()) continue;
      for (const Objective* child : it->second) {
        // An archived objective links nothing below it.
        if (child->state == ObjectiveState::kArchived) continue;
        linked_.insert(child->id);
        queue.push_back(child);
      }
    }
  }

  const Plan& plan_;
  absl::flat_hash_map<absl::string_view, const Objective*> objectives_;
  absl::flat_hash_map<absl::string_view, const KeyResult*> key_results_;
  absl::flat_hash_map<absl::string_view, const Cycle*> cycles_;
  absl::flat_hash_map<absl::string_view, const Person*> people_;
  absl::flat_hash_map<absl::string_view, std::vector<const KeyResult*>>
      by_objective_;
  bool linked_computed_ = false;
  absl::flat_hash_set<absl::string_view> linked_;
};

Finding MakeFinding(absl::string_view rule_id, const Objective& o,
                    std::string message) {
  const LintRule& rule = Rule(rule_id);
  Finding f;
  f.rule_id = std::string(rule.id);
  f.severity = rule.severity;
  f.target_kind = rule.target_kind;
  f.target_id = o.id;
  f.objective_id = o.id;
  f.owner_id = o.owner_id;
  f.cycle_id = o.cycle_id;
  f.message = std::move(message);
  return f;
}

Finding MakeKeyResultFinding(absl::string_view rule_id, const Objective& o,
                             const KeyResult& kr, std::string message) {
  Finding f = MakeFinding(rule_id, o, std::move(message));
  f.target_id = kr.id;
  if (!kr.owner_id.empty()) f.owner_id = kr.owner_id;
  return f;
}

void LintKeyResult(const Objective& o, const KeyResult& kr,
                   std::vector<Finding>& out) {
  const bool metric = kr.type == KeyResultType::kMetric;
  const bool usable = metric && HasUsableRange(kr);
  if (metric && !usable) {
    out.push_back(MakeKeyResultFinding(
        kMetricWithoutRange, o, kr,
        absl::StrCat(
            "Key result ", Quoted(kr.title),
            " is a metric without a usable from/to (from ", kr.from, ", to ",
            kr.to, ", direction ", Name(kr.direction),
            "); set the start value and the target so progress can be "
            "scored, e.g. \"Increase in-store pre-sale attendance from 350 "
            "to 500 people\", or use AT_LEAST/AT_MOST for a threshold.")));
  }
  const std::string verb = FirstWord(kr.title);
  if (IsActivityVerb(verb) && !StatesNumber(kr.title) && !usable) {
    out.push_back(MakeKeyResultFinding(
        kTaskNotOutcome, o, kr,
        absl::StrCat(
            "Key result ", Quoted(kr.title), " reads as a task (\"", verb,
            " ...\") rather than an outcome and states no number to measure",
            kr.type == KeyResultType::kMilestone
                ? "; a milestone may be binary, but should name the result "
                  "the work achieves"
                : "",
            ". Say what changes and by how much: verb + what you measure + "
            "from x to y.")));
  }
  if (kr.data_source == DataSource::kUnknown) {
    out.push_back(MakeKeyResultFinding(
        kUnknownDataSource, o, kr,
        absl::StrCat("Key result ", Quoted(kr.title),
                     " has an UNKNOWN data source; decide where its updates "
                     "will come from (MANUAL, SPREADSHEET or INTEGRATION) "
                     "before you finalise the plan.")));
  }
}

void LintObjectiveInto(PlanIndex& index, const Objective& o,
                       std::vector<Finding>& out) {
  const std::string title = Quoted(o.title);
  const absl::string_view what = LevelWord(o.level);

  // PLOT: owner, level, time period.
  if (o.owner_id.empty()) {
    out.push_back(MakeFinding(
        kMissingOwner, o,
        absl::StrCat(what, " ", title,
                     " has no owner; name the person responsible for its "
                     "success (the O of PLOT).")));
  }
  if (Name(o.level) == "UNSPECIFIED") {
    out.push_back(MakeFinding(
        kMissingLevel, o,
        absl::StrCat("Objective ", title,
                     " has no level; say where in the company it lives: "
                     "COMPANY, TEAM or INDIVIDUAL (the L of PLOT).")));
  }
  const Cycle* cycle = index.FindCycle(o.cycle_id);
  if (o.cycle_id.empty()) {
    out.push_back(MakeFinding(
        kMissingTimePeriod, o,
        absl::StrCat(what, " ", title,
                     " has no time period; put it in an annual or quarterly "
                     "cycle (the T of PLOT).")));
  } else if (cycle == nullptr) {
    out.push_back(MakeFinding(
        kMissingTimePeriod, o,
        absl::StrCat(what, " ", title, " names cycle '", o.cycle_id,
                     "', which is not in the plan; put it in an existing "
                     "annual or quarterly cycle (the T of PLOT).")));
  }

  // Key result count.
  const std::vector<const KeyResult*>& krs = index.KeyResultsOf(o.id);
  const int kr_count = o.id.empty() ? 0 : static_cast<int>(krs.size());
  if (kr_count < kMinKeyResultsPerObjective) {
    out.push_back(MakeFinding(
        kTooFewKeyResults, o,
        absl::StrFormat("%s %s has %d key result%s; write %d to %d measurable "
                        "key results so that achieving all of them means the "
                        "objective is achieved.",
                        what, title, kr_count, kr_count == 1 ? "" : "s",
                        kMinKeyResultsPerObjective,
                        kMaxKeyResultsPerObjective)));
  } else if (kr_count > kMaxKeyResultsPerObjective) {
    out.push_back(MakeFinding(
        kTooManyKeyResults, o,
        absl::StrFormat("%s %s has %d key results; keep the %d to %d that are "
                        "necessary and sufficient to achieve it.",
                        what, title, kr_count, kMinKeyResultsPerObjective,
                        kMaxKeyResultsPerObjective)));
  }

  // Alignment.
  const bool linked = o.alignment.kind != AlignmentKind::kNone ||
                      !o.breakdown_of_objective_id.empty();
  if ((o.level == Level::kTeam || o.level == Level::kIndividual) && !linked) {
    out.push_back(MakeFinding(
        kUnalignedObjective, o,
        absl::StrCat(what, " ", title,
                     " is not aligned to anything; align it to the objective "
                     "it supports (Classic method) or cascade it from a key "
                     "result (Duality method) so its contribution shows.")));
  }
  if (cycle != nullptr && cycle->kind == CycleKind::kQuarterly &&
      !index.LinkedToAnnual(o)) {
    out.push_back(MakeFinding(
        kQuarterlyNotLinked, o,
        absl::StrCat(what, " ", title, " in quarterly cycle '",
                     index.CycleName(o.cycle_id),
                     "' is not linked to an annual objective; make it a "
                     "breakdown of an annual objective, or align it (or its "
                     "parent) to one, so the quarter serves the year.")));
  }
  if (o.level == Level::kCompany) {
    const Organisation& org = index.plan().organisation;
    const bool no_mission = absl::StripAsciiWhitespace(org.mission).empty();
    const bool no_vision = absl::StripAsciiWhitespace(org.vision).empty();
    if (no_mission || no_vision) {
      out.push_back(MakeFinding(
          kMissingMissionVision, o,
          absl::StrCat(
              "Company objective ", title, " has no organisation ",
              no_mission && no_vision ? "mission and vision"
              : no_mission            ? "mission"
                                      : "vision",
              " to connect to; write the organisation's mission, vision and "
              "values first, then check that the objective serves them.")));
    }
  }

  // Stretch: judged on usable metric key results only; milestones are binary.
  if (o.kind == ObjectiveKind::kCommitted && kr_count > 0) {
    int judged = 0;
    bool stretches = false;
    for (const KeyResult* kr : krs) {
      if (kr->type != KeyResultType::kMetric || !HasUsableRange(*kr)) continue;
      ++judged;
      if (Stretch(*kr) >= kMinStretch) stretches = true;
    }
    if (judged > 0 && !stretches) {
      out.push_back(MakeFinding(
          kCommittedWithoutStretch, o,
          absl::StrFormat(
              "Committed objective %s does not stretch: each of its %d metric "
              "key result%s is already met at its start value or moves it by "
              "less than %d%%; raise the targets so the objective propels the "
              "business forward.",
              title, judged, judged == 1 ? "" : "s",
              static_cast<int>(std::lround(kMinStretch * 100)))));
    }
  }

  if (kr_count > 0) {
    for (const KeyResult* kr : krs) LintKeyResult(o, *kr, out);
  }
}

void LintOwnerCycleCount(const PlanIndex& index, absl::string_view owner_id,
                         absl::string_view cycle_id, int count,
                         std::vector<Finding>& out) {
  absl::string_view rule_id;
  std::string advice;
  if (count < kMinObjectivesPerOwnerCycle) {
    rule_id = kTooFewObjectives;
    advice = absl::StrFormat("aim for %d to %d that cover what matters most",
                             kMinObjectivesPerOwnerCycle,
                             kMaxObjectivesPerOwnerCycle);
  } else if (count > kMaxObjectivesPerOwnerCycle) {
    rule_id = kTooManyObjectives;
    advice = absl::StrFormat(
        "keep %d to %d: which ones can be eliminated or moved to a later "
        "cycle?",
        kMinObjectivesPerOwnerCycle, kMaxObjectivesPerOwnerCycle);
  } else {
    return;
  }
  const LintRule& rule = Rule(rule_id);
  Finding f;
  f.rule_id = std::string(rule.id);
  f.severity = rule.severity;
  f.target_kind = LintTarget::kOwnerCycle;
  f.target_id = std::string(owner_id);
  f.owner_id = std::string(owner_id);
  f.cycle_id = std::string(cycle_id);
  f.message = absl::StrFormat("%s has %d objective%s in cycle '%s'; %s.",
                              index.OwnerName(owner_id), count,
                              count == 1 ? "" : "s", index.CycleName(cycle_id),
                              advice);
  out.push_back(std::move(f));
}

}  // namespace

absl::string_view Name(LintSeverity v) {
  switch (v) {
    case LintSeverity::kInfo:
      return "INFO";
    case LintSeverity::kWarning:
      return "WARNING";
    case LintSeverity::kError:
      return "ERROR";
  }
  return "UNSPECIFIED";
}

absl::string_view Name(LintTarget v) {
  switch (v) {
    case LintTarget::kObjective:
      return "OBJECTIVE";
    case LintTarget::kKeyResult:
      return "KEY_RESULT";
    case LintTarget::kOwnerCycle:
      return "OWNER_CYCLE";
  }
  return "UNSPECIFIED";
}

absl::Span<const LintRule> LintRules() { return kRules; }

std::vector<Finding> LintObjective(const Plan& plan,
                                   const Objective& objective) {
  PlanIndex index(plan);
  std::vector<Finding> out;
  LintObjectiveInto(index, objective, out);
  return out;
}

std::vector<Finding> LintOwnerCycle(const Plan& plan, absl::string_view owner_id,
                                    absl::string_view cycle_id) {
  PlanIndex index(plan);
  std::vector<const Objective*> mine;
  for (const Objective& o : plan.objectives) {
    if (o.state != ObjectiveState::kArchived && o.owner_id == owner_id &&
        o.cycle_id == cycle_id) {
      mine.push_back(&o);
    }
  }
  std::vector<Finding> out;
  LintOwnerCycleCount(index, owner_id, cycle_id, static_cast<int>(mine.size()),
                      out);
  for (const Objective* o : mine) LintObjectiveInto(index, *o, out);
  return out;
}

std::vector<Finding> LintPlan(const Plan& plan) {
  PlanIndex index(plan);
  std::vector<std::pair<absl::string_view, absl::string_view>> pairs;
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, int>
      counts;
  for (const Objective& o : plan.objectives) {
    if (o.state == ObjectiveState::kArchived || o.owner_id.empty() ||
        o.cycle_id.empty()) {
      continue;
    }
    auto key = std::make_pair(absl::string_view(o.owner_id),
                              absl::string_view(o.cycle_id));
    if (counts[key]++ == 0) pairs.push_back(key);
  }
  std::vector<Finding> out;
  for (const auto& key : pairs) {
    LintOwnerCycleCount(index, key.first, key.second, counts[key], out);
  }
  for (const Objective& o : plan.objectives) {
    if (o.state != ObjectiveState::kArchived) LintObjectiveInto(index, o, out);
  }
  return out;
}

}  // namespace okr
