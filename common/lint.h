// Plan lint: the "edit your OKRs" step (DESIGN.md section 5) as pure checks
// over an okr::Plan.
//
// Validation (common/validation.h) rejects values that cannot be stored;
// lint accepts any plan and reports how to make it a better one: 3-5
// objectives per owner and cycle, 3-5 key results per objective, measurable
// outcomes rather than task lists, the PLOT elements (process, level, owner,
// time period), alignment, data sources and stretch. Each finding names a
// stable rule id (kebab-case, part of the API), a severity, what it is about,
// and a message that says what is wrong and what to do, quoting the title.
//
// Archived objectives and archived key results are ignored everywhere.
// Findings come in a deterministic order: owner-and-cycle findings first (in
// the order owners first appear in plan.objectives), then per objective in
// plan order, each objective's own findings before its key results'.
#ifndef OKR_COMMON_LINT_H_
#define OKR_COMMON_LINT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/model.h"

namespace okr {

// ERROR: the plan misses something OKRs cannot work without (an owner, a
// measurable range). WARNING: a best practice of the documents is broken.
// INFO: worth a look, often fine (e.g. an owner with one objective).
enum class LintSeverity { kInfo, kWarning, kError };

// What a finding is about.
enum class LintTarget { kObjective, kKeyResult, kOwnerCycle };

// "INFO", "WARNING", "ERROR" and "OBJECTIVE", "KEY_RESULT", "OWNER_CYCLE".
absl::string_view Name(LintSeverity v);
absl::string_view Name(LintTarget v);

// The documents' recommended counts, inclusive.
inline constexpr int kMinObjectivesPerOwnerCycle = 3;
inline constexpr int kMaxObjectivesPerOwnerCycle = 5;
inline constexpr int kMinKeyResultsPerObjective = 3;
inline constexpr int kMaxKeyResultsPerObjective = 5;
// A metric key result stretches when it moves its measure by at least this
// fraction (of |from| for a KPI, of 100 points for PERCENT_COMPLETE).
inline constexpr double kMinStretch = 0.05;

struct Finding {
  std::string rule_id;  // e.g. "too-few-key-results"; see LintRules()
  LintSeverity severity = LintSeverity::kWarning;
  LintTarget target_kind = LintTarget::kObjective;
  // The objective or key result id; the owner id for kOwnerCycle.
  Id target_id;
  // Context for grouping: the objective the target belongs to (empty for
  // kOwnerCycle), its owner and its cycle.
  Id objective_id;
  Id owner_id;
  Id cycle_id;
  std::string message;
};

struct LintRule {
  absl::string_view id;
  LintSeverity severity;
  LintTarget target_kind;
  absl::string_view description;  // one line, for the API's rule listing
};

// Every rule lint applies, in a stable order.
absl::Span<const LintRule> LintRules();

// Lints one objective and its non-archived key results (those of
// plan.key_results whose objective_id is objective.id). `objective` need not
// be in the plan (lint before saving); the plan supplies the organisation,
// cycles, key results and the objectives it may align to. Owner-and-cycle
// counts are not checked here.
std::vector<Finding> LintObjective(const Plan& plan, const Objective& objective);

// Lints an owner's plan for one cycle: the objective count for the pair,
// then every non-archived objective of plan.objectives with that owner_id and
// cycle_id, as LintObjective does.
std::vector<Finding> LintOwnerCycle(const Plan& plan, absl::string_view owner_id,
                                    absl::string_view cycle_id);

// Lints the whole organisation: every (owner, cycle) pair that has an
// objective, then every non-archived objective. Linear in the plan's size.
std::vector<Finding> LintPlan(const Plan& plan);

}  // namespace okr

#endif  // OKR_COMMON_LINT_H_
