// Scoring: key result progress, objective scores, the alignment rollup, grade
// bands, success and pace (DESIGN.md section 4).
//
// Everything here is pure computation: no I/O, no clock (callers pass `now`),
// no gRPC. The free functions score one thing at a time; ScoreGraph scores a
// whole plan (objectives, key results, latest check-ins) and then keeps it up
// to date one check-in at a time, touching only the changed key result and
// its ancestors.
//
// The rules, exactly as implemented:
//
// Key result progress, a value in [0, 1]:
//  - METRIC (and an unspecified type) with current value c: the value of the
//    latest check-in that carries a finite one, or `from` when there is none
//    yet. A non-finite value counts as no value, so a confidence-only
//    check-in keeps the previous value.
//      INCREASE / DECREASE (and unspecified, see okr::EffectiveDirection; the
//      PERCENT_COMPLETE measure too): p = clamp((c - from) / (to - from), 0, 1),
//      which covers both signs of to - from, snapped like means (below) to
//      0, 0.4, 0.7 or 1 when within 1e-12 of it. When to == from (rejected at
//      creation, handled defensively): p = c >= to ? 1 : 0 for INCREASE and
//      c <= to ? 1 : 0 for DECREASE.
//      AT_LEAST: p = 1 when c >= to, else 0; AT_MOST: p = 1 when c <= to,
//      else 0. Thresholds are binary: there is no partial credit.
//  - MILESTONE: 0 until the latest check-in that says anything about `done`
//    says done = true, then 1; a later done = false takes it back to 0.
//  - A KR with progress_from_children and at least one non-archived Duality
//    child (an objective aligned to this KR) takes the weighted mean, by link
//    weight, of those children's scores and ignores its check-ins; with no
//    such child it falls back to its check-ins.
//
// Objective score = sum(weight x progress) / sum(weight) over its inputs:
//  - KEY_RESULTS (and unspecified): its non-archived KRs, weighted by KR weight.
//  - CHILDREN: its non-archived aligned objectives (Classic children and
//    Duality children aligned to any of its KRs), weighted by link weight.
//  - BOTH: the two pooled, except that a Duality child whose KR is
//    non-archived and has progress_from_children counts only through that KR.
//  No inputs, or a total weight of 0: score 0 ("no weighted inputs").
//  A mean within 1e-12 of 0, 0.4, 0.7 or 1 is snapped to it, so floating-point
//  rounding never turns a fully achieved objective into a miss or moves a
//  grade band (weights 0.3, 0.2, 0.05, 0.3 at progress 1 would otherwise give
//  0.9999999999999999).
//  Negative or non-finite weights count as 0. An archived objective still has
//  a score of its own but is an input of nothing.
//
// Grades: RED below 0.4, YELLOW from 0.4 to below 0.7, GREEN from 0.7, on the
// raw (unrounded) score. An ASPIRATIONAL (or unspecified) objective succeeds
// at 0.7, a COMMITTED one only at 1.0.
//
// Pace: expected = elapsed fraction of [cycle_start, cycle_end) at `now`; the
// gap g = expected - progress gives ON_TRACK (g <= 0.10), AT_RISK (g <= 0.30)
// or OFF_TRACK; the owner's signal (reported status, else confidence) can only
// make it worse; progress 1.0 is always ON_TRACK.
#ifndef OKR_COMMON_SCORING_H_
#define OKR_COMMON_SCORING_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/model.h"

namespace okr {

// Grade bands start here (inclusive).
inline constexpr double kYellowFrom = 0.4;
inline constexpr double kGreenFrom = 0.7;
// Pace gap limits (inclusive) for ON_TRACK and AT_RISK.
inline constexpr double kOnTrackMaxGap = 0.10;
inline constexpr double kAtRiskMaxGap = 0.30;

// Progress in [0, 1] of a metric KR at current value `current`, by the rules
// in the file comment. NaN anywhere yields 0 rather than propagating.
double MetricProgress(Direction direction, double from, double to, double current);

// Progress in [0, 1] of `kr` from its check-ins alone (progress_from_children
// is the graph's business). `latest` is the latest check-in or nullptr when
// there is none; a check-in without a finite value (metric) or without `done`
// (milestone) counts as no check-in.
double KeyResultProgress(const KeyResult& kr, const CheckIn* latest);

// The grade band of a score. NaN is RED.
Grade GradeOf(double score);

// Whether an objective of `kind` met its goal with `score`: COMMITTED needs
// 1.0, ASPIRATIONAL and unspecified need 0.7.
bool IsSuccess(ObjectiveKind kind, double score);

// The owner's signal from a check-in: a reported status wins; otherwise
// confidence (clamped to 0..10) >= 7 is ON_TRACK, 4..6 AT_RISK, <= 3
// OFF_TRACK. kUnspecified when neither is given.
CheckInStatus OwnerSignal(std::optional<int> confidence, CheckInStatus reported);

// Elapsed fraction of the half-open cycle [start, end) at `now`, clamped to
// [0, 1]; an empty or reversed cycle is 0 before `end` and 1 from it.
double ExpectedProgress(absl::Time cycle_start, absl::Time cycle_end, absl::Time now);

struct PaceReport {
  double expected = 0;  // elapsed fraction of the cycle
  double progress = 0;  // the score or progress that was judged, clamped to [0, 1]
  double gap = 0;       // expected - progress; positive means behind
  CheckInStatus pace_status = CheckInStatus::kUnspecified;   // from the gap alone
  CheckInStatus owner_signal = CheckInStatus::kUnspecified;  // as given
  CheckInStatus status = CheckInStatus::kUnspecified;        // the verdict
};

// Judges `progress` against the cycle's pace and the owner's signal (pass
// kUnspecified when there is none). The verdict is the worse of the two,
// except that progress >= 1 is always ON_TRACK. Cycles are civil days: turn
// them into instants with absl::FromCivil(day, organisation_time_zone).
PaceReport EvaluatePace(double progress, absl::Time cycle_start, absl::Time cycle_end,
                        absl::Time now, CheckInStatus owner_signal = CheckInStatus::kUnspecified);

// One input of a score, as ScoreGraph explains it.
struct ScoreInput {
  Id id;
  std::string title;
  std::string kind;     // "key_result" or "objective"
  double weight = 0;    // the weight that was used (after sanitising)
  double progress = 0;  // the input's own progress or score
  // Where the input's value came from, e.g. "check-in value 30 at
  // 2027-02-01T09:00:00+00:00", "milestone done (check-in at ...)",
  // "children: weighted mean of 2 aligned objectives",
  // "no check-in yet: current = from (72)", "objective score (KEY_RESULTS)".
  std::string origin;
};

// Why a KR has its progress or an objective its score.
struct ScoreExplanation {
  Id id;
  std::string title;
  std::string kind;                // "key_result" or "objective"
  std::string formula;             // the rule in words, with the numbers filled in
  std::string origin;              // for a KR scored from check-ins: where `current` came from
  std::vector<ScoreInput> inputs;  // weighted inputs, empty for a check-in KR
  std::vector<std::string> notes;  // candidates left out, and why
  double result = 0;

  // A multi-line human-readable rendering (for CLIs and logs).
  std::string ToString() const;
};

// The ids whose progress (KRs) or score (objectives) changed in one update,
// bottom-up in propagation order.
struct ScoreUpdate {
  std::vector<Id> key_results;
  std::vector<Id> objectives;
};

// The scored alignment forest of one organisation (or any self-contained slice
// of it). Build it once from the plan, read scores in O(1), and apply check-ins
// and weight changes incrementally in O(depth of the changed node), whatever
// the fan-in: each node keeps running sums (sum of weights, sum of
// weight x progress) and a change travels up the single parent chain
// objective -> parent objective, or objective -> parent KR (when that KR takes
// progress from children) -> its objective -> ...
//
// Not thread-safe: callers serialise writers and readers. Move-only (its id
// index points into its own string arena).
class ScoreGraph {
 public:
  // Scores the plan. `check_ins` may hold the latest check-in per KR or any
  // part of their history: per KR, the metric value comes from the latest
  // (by time; on a tie, later in the vector) check-in with a finite value,
  // `done` from the latest that sets it, and the owner's signal from the
  // latest with a confidence or status. Check-ins of unknown KRs are ignored
  // (tracking may outlive a KR deleted in planning).
  // Errors: INVALID_ARGUMENT for duplicate ids or an alignment that names no
  // parent; NOT_FOUND for a KR whose objective or an objective whose parent
  // (objective or KR) is missing; FAILED_PRECONDITION when alignment forms a
  // cycle. Each message names the offending objective or KR.
  static absl::StatusOr<ScoreGraph> Build(const std::vector<Objective>& objectives,
                                          const std::vector<KeyResult>& key_results,
                                          const std::vector<CheckIn>& check_ins);
  // The same over pointers, for a caller that holds the plan elsewhere (a
  // service's plan mirror) and must not copy it: 100,000 objectives and
  // 400,000 KRs are about 200 MB of strings.
  static absl::StatusOr<ScoreGraph> Build(absl::Span<const Objective* const> objectives,
                                          absl::Span<const KeyResult* const> key_results,
                                          absl::Span<const CheckIn* const> check_ins);

  ScoreGraph(ScoreGraph&&) = default;
  ScoreGraph& operator=(ScoreGraph&&) = default;
  ScoreGraph(const ScoreGraph&) = delete;
  ScoreGraph& operator=(const ScoreGraph&) = delete;

  // The progress of a KR / score of an objective; NOT_FOUND for unknown ids.
  absl::StatusOr<double> ProgressOf(absl::string_view key_result_id) const;
  absl::StatusOr<double> ScoreOf(absl::string_view objective_id) const;

  // The inputs, weights and formula behind a progress or score; NOT_FOUND for
  // unknown ids.
  absl::StatusOr<ScoreExplanation> ExplainKeyResult(absl::string_view key_result_id) const;
  absl::StatusOr<ScoreExplanation> ExplainObjective(absl::string_view objective_id) const;

  // Pace of a KR with the owner's signal from its check-ins; NOT_FOUND for an
  // unknown id.
  absl::StatusOr<PaceReport> KeyResultPace(absl::string_view key_result_id, absl::Time cycle_start,
                                           absl::Time cycle_end, absl::Time now) const;

  // Merges `check_in` into its KR's latest check-in (by the rules of Build,
  // so an older value never replaces a newer one) and propagates the change.
  // A KR that takes progress from children keeps the check-in (for its
  // owner's signal and a later fallback) without changing progress.
  // NOT_FOUND when the KR is unknown; the graph is then unchanged.
  absl::StatusOr<ScoreUpdate> ApplyCheckIn(const CheckIn& check_in);

  // Changes a KR's weight, or the weight of an objective's alignment link, and
  // propagates. The one directly affected node is re-summed from its inputs
  // (O(its fan-in)); everything above it in O(depth). NOT_FOUND for unknown
  // ids; FAILED_PRECONDITION for the link weight of an unaligned objective.
  absl::StatusOr<ScoreUpdate> SetKeyResultWeight(absl::string_view key_result_id, double weight);
  absl::StatusOr<ScoreUpdate> SetAlignmentWeight(absl::string_view objective_id, double weight);

  size_t objective_count() const { return objectives_.size(); }
  size_t key_result_count() const { return key_results_.size(); }
  // How often a running sum drifted below zero and its node was re-summed
  // from its inputs (diagnostics: stays 0 in practice).
  int64_t drift_recomputes() const { return drift_recomputes_; }

 private:
  // Running weighted sum with Neumaier compensation, so that millions of
  // delta updates do not drift away from a full recompute.
  struct Accumulator {
    double weight = 0;  // sum of weights, re-summed from the inputs on any change
    double sum = 0;     // sum of weight x progress ...
    double carry = 0;   // ... plus its lost low-order bits
    void Add(double x);
    double Value() const { return sum + carry; }
    // sum / weight clamped to [0, 1] and snapped to 0, 0.4, 0.7 or 1 when
    // within 1e-12 of it; 0 when the weight is 0.
    double Mean() const;
  };

  // Ids and titles live in one arena owned by the graph; nodes refer to them.
  struct StrRef {
    uint32_t offset = 0;
    uint32_t size = 0;
  };

  // The parts of a KR's check-ins that scoring and pace need. Times are Unix
  // nanoseconds (saturating), which keeps 400,000 of these small.
  struct Latest {
    double value = 0;
    int64_t value_time = 0;
    int64_t done_time = 0;
    int64_t signal_time = 0;
    CheckInStatus status = CheckInStatus::kUnspecified;
    int8_t confidence = 0;
    bool has_confidence = false;
    bool has_value = false;
    bool has_done = false;
    bool done = false;
    bool has_signal = false;
    void Merge(const CheckIn& check_in);
  };

  struct KrNode {
    StrRef id;
    StrRef title;
    int32_t objective = -1;
    int32_t active_children = 0;                 // non-archived Duality children
    Direction direction = Direction::kIncrease;  // effective
    bool milestone = false;
    bool progress_from_children = false;
    bool archived = false;
    double from = 0;
    double to = 0;
    double weight = 1;  // as given; sanitised on use
    double progress = 0;
    Accumulator children;  // over the active Duality children
    Latest latest;
  };

  struct ObjNode {
    StrRef id;
    StrRef title;
    ProgressSource source = ProgressSource::kKeyResults;
    AlignmentKind link_kind = AlignmentKind::kNone;
    bool archived = false;
    int32_t parent = -1;     // parent objective (for kKeyResult: the KR's objective)
    int32_t parent_kr = -1;  // kKeyResult only
    double link_weight = 1;  // as given; sanitised on use
    double score = 0;
    Accumulator inputs;
  };

  ScoreGraph() = default;

  bool KrCountsInObjective(int32_t k) const;
  bool KrTakesChildren(int32_t k) const;
  bool CountsInParentKr(int32_t o) const;
  bool CountsInParentObjective(int32_t o) const;
  double ProgressFromCheckIns(int32_t k) const;
  std::string KrOrigin(int32_t k) const;

  // Re-sum a node from its inputs' current values.
  void ResumKr(int32_t k);
  void ResumObjective(int32_t o);
  // Add a delta to a node's weighted sum, re-summing on drift.
  void AddToKr(int32_t k, double delta);
  void AddToObjective(int32_t o, double delta);
  // Carry a change of KR k's progress / objective o's score up the chain.
  void PropagateKr(int32_t k, double old_progress, ScoreUpdate* update);
  void PropagateObjective(int32_t o, double old_score, ScoreUpdate* update);

  absl::string_view Str(StrRef r) const { return {strings_.get() + r.offset, r.size}; }
  Id IdOf(const ObjNode& n) const { return Id(Str(n.id)); }
  Id IdOf(const KrNode& n) const { return Id(Str(n.id)); }

  std::unique_ptr<char[]> strings_;
  std::vector<ObjNode> objectives_;
  std::vector<KrNode> key_results_;
  // Compressed adjacency: the items of node i are [begin[i], begin[i + 1]).
  std::vector<int32_t> objective_kr_begin_, objective_krs_;
  std::vector<int32_t> objective_child_begin_, objective_children_;
  std::vector<int32_t> kr_child_begin_, kr_children_;
  // Keys view ids in strings_, which never moves or grows after Build.
  absl::flat_hash_map<absl::string_view, int32_t> objective_index_;
  absl::flat_hash_map<absl::string_view, int32_t> kr_index_;
  int64_t drift_recomputes_ = 0;
};

}  // namespace okr

#endif  // OKR_COMMON_SCORING_H_
