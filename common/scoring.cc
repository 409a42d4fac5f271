#include "common/scoring.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace okr {
namespace {

// Clamps to [0, 1]; NaN becomes 0 so that a bad number can never poison a
// whole rollup.
double Clamp01(double x) {
  if (!(x > 0)) return 0;  // also NaN
  return x < 1 ? x : 1;
}

// Weights below zero or non-finite count as 0 (validation rejects them; this
// is defence in depth).
double SanitizeWeight(double w) { return std::isfinite(w) && w > 0 ? w : 0; }

bool IncludesKeyResults(ProgressSource s) {
  return s == ProgressSource::kUnspecified || s == ProgressSource::kKeyResults ||
         s == ProgressSource::kBoth;
}

bool IncludesChildren(ProgressSource s) {
  return s == ProgressSource::kChildren || s == ProgressSource::kBoth;
}

// The source name as shown in explanations; unspecified behaves as KEY_RESULTS.
absl::string_view SourceName(ProgressSource s) {
  return Name(s == ProgressSource::kUnspecified ? ProgressSource::kKeyResults : s);
}

int Severity(CheckInStatus s) {
  switch (s) {
    case CheckInStatus::kOnTrack:
      return 1;
    case CheckInStatus::kAtRisk:
      return 2;
    case CheckInStatus::kOffTrack:
      return 3;
    case CheckInStatus::kUnspecified:
      break;
  }
  return 0;
}

std::string FormatTimeUtc(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

std::string Num(double x) { return absl::StrFormat("%.6g", x); }

// "= 2.25 / 4 = 0.5625", or the no-input wording, for a weighted mean.
std::string MeanWords(double sum, double weight, double result, absl::string_view what) {
  if (!(weight > 0)) return absl::StrCat("no weighted inputs: ", what, " = 0");
  return absl::StrCat("= ", Num(sum), " / ", Num(weight), " = ", Num(result));
}

}  // namespace

// Rounding can land a hair below a meaningful edge: weights 0.3, 0.2, 0.05,
// 0.3 all at progress 1 give a mean of 0.9999999999999999, which would make a
// finished COMMITTED objective a miss, and an NPS KR from 7 to 8.5 at 7.6
// gives (7.6 - 7) / 1.5 = 0.39999999999999974, RED instead of YELLOW. Results
// within kSnap of 0, a grade edge or 1 are taken as that edge.
namespace {

constexpr double kSnap = 1e-12;

double SnapToEdges(double x) {
  for (double edge : {0.0, kYellowFrom, kGreenFrom, 1.0}) {
    if (std::fabs(x - edge) <= kSnap) return edge;
  }
  return x;
}

}  // namespace

double MetricProgress(Direction direction, double from, double to, double current) {
  switch (direction) {
    case Direction::kAtLeast:
      return current >= to ? 1 : 0;
    case Direction::kAtMost:
      return current <= to ? 1 : 0;
    case Direction::kDecrease:
      if (to == from) return current <= to ? 1 : 0;
      break;
    case Direction::kIncrease:
    case Direction::kUnspecified:
      if (to == from) return current >= to ? 1 : 0;
      break;
  }
  return SnapToEdges(Clamp01((current - from) / (to - from)));
}

double KeyResultProgress(const KeyResult& kr, const CheckIn* latest) {
  if (kr.type == KeyResultType::kMilestone) {
    return latest != nullptr && latest->done.value_or(false) ? 1 : 0;
  }
  double current = kr.from;
  if (latest != nullptr && latest->value.has_value() && std::isfinite(*latest->value)) {
    current = *latest->value;
  }
  return MetricProgress(EffectiveDirection(kr), kr.from, kr.to, current);
}

Grade GradeOf(double score) {
  if (score >= kGreenFrom) return Grade::kGreen;
  if (score >= kYellowFrom) return Grade::kYellow;
  return Grade::kRed;
}

bool IsSuccess(ObjectiveKind kind, double score) {
  return kind == ObjectiveKind::kCommitted ? score >= 1.0 : score >= kGreenFrom;
}

CheckInStatus OwnerSignal(std::optional<int> confidence, CheckInStatus reported) {
  if (reported != CheckInStatus::kUnspecified) return reported;
  if (!confidence.has_value()) return CheckInStatus::kUnspecified;
  const int c = std::clamp(*confidence, 0, 10);
  if (c >= 7) return CheckInStatus::kOnTrack;
  if (c >= 4) return CheckInStatus::kAtRisk;
  return CheckInStatus::kOffTrack;
}

double ExpectedProgress(absl::Time cycle_start, absl::Time cycle_end, absl::Time now) {
  if (now >= cycle_end) return 1;
  if (now <= cycle_start || cycle_end <= cycle_start) return 0;
  return Clamp01(absl::FDivDuration(now - cycle_start, cycle_end - cycle_start));
}

PaceReport EvaluatePace(double progress, absl::Time cycle_start, absl::Time cycle_end,
                        absl::Time now, CheckInStatus owner_signal) {
  PaceReport r;
  r.expected = ExpectedProgress(cycle_start, cycle_end, now);
  r.progress = Clamp01(progress);
  r.gap = r.expected - r.progress;
  if (r.progress >= 1 || r.gap <= kOnTrackMaxGap) {
    r.pace_status = CheckInStatus::kOnTrack;
  } else if (r.gap <= kAtRiskMaxGap) {
    r.pace_status = CheckInStatus::kAtRisk;
  } else {
    r.pace_status = CheckInStatus::kOffTrack;
  }
  r.owner_signal = owner_signal;
  r.status = Severity(owner_signal) > Severity(r.pace_status) ? owner_signal : r.pace_status;
  // Done is done, whatever the owner felt on the way.
  if (r.progress >= 1) r.status = CheckInStatus::kOnTrack;
  return r;
}

std::string ScoreExplanation::ToString() const {
  std::string out =
      absl::StrCat(kind, " '", id, "' (", title, "): ", Num(result), "\n  ", formula, "\n");
  if (!origin.empty()) absl::StrAppend(&out, "  current: ", origin, "\n");
  for (const ScoreInput& in : inputs) {
    absl::StrAppend(&out, "  - ", in.kind, " '", in.id, "' (", in.title, "): weight ",
                    Num(in.weight), ", progress ", Num(in.progress), " [", in.origin, "]\n");
  }
  for (const std::string& note : notes) absl::StrAppend(&out, "  note: ", note, "\n");
  return out;
}

// --- ScoreGraph internals ---------------------------------------------------


double ScoreGraph::Accumulator::Mean() const {
  return weight > 0 ? SnapToEdges(Clamp01(Value() / weight)) : 0;
}

void ScoreGraph::Accumulator::Add(double x) {
  const double t = sum + x;
  carry += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
  sum = t;
}

void ScoreGraph::Latest::Merge(const CheckIn& c) {
  // `>=`: on equal times the later arrival wins, in Build and incrementally.
  const int64_t time = absl::ToUnixNanos(c.time);
  if (c.value.has_value() && std::isfinite(*c.value) && (!has_value || time >= value_time)) {
    has_value = true;
    value = *c.value;
    value_time = time;
  }
  if (c.done.has_value() && (!has_done || time >= done_time)) {
    has_done = true;
    done = *c.done;
    done_time = time;
  }
  if ((c.confidence.has_value() || c.status != CheckInStatus::kUnspecified) &&
      (!has_signal || time >= signal_time)) {
    has_signal = true;
    has_confidence = c.confidence.has_value();
    confidence = static_cast<int8_t>(std::clamp(c.confidence.value_or(0), 0, 10));
    status = c.status;
    signal_time = time;
  }
}

bool ScoreGraph::KrCountsInObjective(int32_t k) const {
  const KrNode& kr = key_results_[k];
  return !kr.archived && IncludesKeyResults(objectives_[kr.objective].source);
}

bool ScoreGraph::KrTakesChildren(int32_t k) const {
  const KrNode& kr = key_results_[k];
  return kr.progress_from_children && kr.active_children > 0;
}

bool ScoreGraph::CountsInParentKr(int32_t o) const {
  const ObjNode& n = objectives_[o];
  return !n.archived && n.link_kind == AlignmentKind::kKeyResult &&
         key_results_[n.parent_kr].progress_from_children;
}

bool ScoreGraph::CountsInParentObjective(int32_t o) const {
  const ObjNode& n = objectives_[o];
  if (n.archived || n.parent < 0) return false;
  const ProgressSource source = objectives_[n.parent].source;
  if (!IncludesChildren(source)) return false;
  if (source == ProgressSource::kBoth && n.link_kind == AlignmentKind::kKeyResult) {
    // Already counted through the KR it feeds; an archived KR is no input, so
    // then the child counts directly.
    const KrNode& kr = key_results_[n.parent_kr];
    if (kr.progress_from_children && !kr.archived) return false;
  }
  return true;
}

double ScoreGraph::ProgressFromCheckIns(int32_t k) const {
  const KrNode& kr = key_results_[k];
  if (kr.milestone) {
    return kr.latest.has_done && kr.latest.done ? 1 : 0;
  }
  return MetricProgress(kr.direction, kr.from, kr.to,
                        kr.latest.has_value ? kr.latest.value : kr.from);
}

std::string ScoreGraph::KrOrigin(int32_t k) const {
  const KrNode& kr = key_results_[k];
  if (KrTakesChildren(k)) {
    return absl::StrCat("children: weighted mean of ", kr.active_children,
                        kr.active_children == 1 ? " aligned objective" : " aligned objectives");
  }
  if (kr.milestone) {
    if (!kr.latest.has_done) return "no check-in yet: milestone not done";
    return absl::StrCat(kr.latest.done ? "milestone done" : "milestone not done", " (check-in at ",
                        FormatTimeUtc(absl::FromUnixNanos(kr.latest.done_time)), ")");
  }
  if (!kr.latest.has_value) {
    return absl::StrCat("no check-in yet: current = from (", Num(kr.from), ")");
  }
  return absl::StrCat("check-in value ", Num(kr.latest.value), " at ",
                      FormatTimeUtc(absl::FromUnixNanos(kr.latest.value_time)));
}

void ScoreGraph::ResumKr(int32_t k) {
  KrNode& kr = key_results_[k];
  Accumulator acc;
  for (int32_t i = kr_child_begin_[k]; i < kr_child_begin_[k + 1]; ++i) {
    const int32_t c = kr_children_[i];
    if (objectives_[c].archived) continue;
    const double w = SanitizeWeight(objectives_[c].link_weight);
    acc.weight += w;
    acc.Add(w * objectives_[c].score);
  }
  kr.children = acc;
  kr.progress = acc.Mean();
}

void ScoreGraph::ResumObjective(int32_t o) {
  ObjNode& n = objectives_[o];
  Accumulator acc;
  if (IncludesKeyResults(n.source)) {
    for (int32_t i = objective_kr_begin_[o]; i < objective_kr_begin_[o + 1]; ++i) {
      const int32_t k = objective_krs_[i];
      if (key_results_[k].archived) continue;
      const double w = SanitizeWeight(key_results_[k].weight);
      acc.weight += w;
      acc.Add(w * key_results_[k].progress);
    }
  }
  if (IncludesChildren(n.source)) {
    for (int32_t i = objective_child_begin_[o]; i < objective_child_begin_[o + 1]; ++i) {
      const int32_t c = objective_children_[i];
      if (!CountsInParentObjective(c)) continue;
      const double w = SanitizeWeight(objectives_[c].link_weight);
      acc.weight += w;
      acc.Add(w * objectives_[c].score);
    }
  }
  n.inputs = acc;
  n.score = acc.Mean();
}

void ScoreGraph::AddToKr(int32_t k, double delta) {
  KrNode& kr = key_results_[k];
  kr.children.Add(delta);
  if (kr.children.Value() < 0) {
    ++drift_recomputes_;
    ResumKr(k);
    return;
  }
  kr.progress = kr.children.Mean();
}

void ScoreGraph::AddToObjective(int32_t o, double delta) {
  ObjNode& n = objectives_[o];
  n.inputs.Add(delta);
  if (n.inputs.Value() < 0) {
    ++drift_recomputes_;
    ResumObjective(o);
    return;
  }
  n.score = n.inputs.Mean();
}

void ScoreGraph::PropagateKr(int32_t k, double old_progress, ScoreUpdate* update) {
  const KrNode& kr = key_results_[k];
  if (kr.progress == old_progress) return;
  update->key_results.push_back(IdOf(kr));
  if (!KrCountsInObjective(k)) return;
  const int32_t o = kr.objective;
  const double old_score = objectives_[o].score;
  AddToObjective(o, SanitizeWeight(kr.weight) * (kr.progress - old_progress));
  PropagateObjective(o, old_score, update);
}

void ScoreGraph::PropagateObjective(int32_t o, double old_score, ScoreUpdate* update) {
  // A loop, not recursion: chains can be thousands deep.
  while (objectives_[o].score != old_score) {
    update->objectives.push_back(IdOf(objectives_[o]));
    const ObjNode& n = objectives_[o];
    if (n.parent < 0 || n.archived) return;
    const double delta = SanitizeWeight(n.link_weight) * (n.score - old_score);
    const int32_t parent = n.parent;
    const double parent_old = objectives_[parent].score;
    if (CountsInParentKr(o)) {
      const int32_t k = n.parent_kr;
      const double kr_old = key_results_[k].progress;
      AddToKr(k, delta);
      const KrNode& kr = key_results_[k];
      if (kr.progress != kr_old) {
        update->key_results.push_back(IdOf(kr));
        if (KrCountsInObjective(k)) {
          AddToObjective(parent, SanitizeWeight(kr.weight) * (kr.progress - kr_old));
        }
      }
    }
    if (CountsInParentObjective(o)) AddToObjective(parent, delta);
    o = parent;
    old_score = parent_old;
  }
}

// --- ScoreGraph public ------------------------------------------------------

absl::StatusOr<ScoreGraph> ScoreGraph::Build(const std::vector<Objective>& objectives,
                                             const std::vector<KeyResult>& key_results,
                                             const std::vector<CheckIn>& check_ins) {
  std::vector<const Objective*> o;
  o.reserve(objectives.size());
  for (const Objective& x : objectives) o.push_back(&x);
  std::vector<const KeyResult*> k;
  k.reserve(key_results.size());
  for (const KeyResult& x : key_results) k.push_back(&x);
  std::vector<const CheckIn*> c;
  c.reserve(check_ins.size());
  for (const CheckIn& x : check_ins) c.push_back(&x);
  return Build(o, k, c);
}

absl::StatusOr<ScoreGraph> ScoreGraph::Build(absl::Span<const Objective* const> objectives,
                                             absl::Span<const KeyResult* const> key_results,
                                             absl::Span<const CheckIn* const> check_ins) {
  constexpr size_t kMaxNodes = 0x7fffffff;
  if (objectives.size() >= kMaxNodes || key_results.size() >= kMaxNodes) {
    return absl::InvalidArgumentError("plan too large to score: more than 2^31 nodes");
  }
  ScoreGraph g;
  const int32_t num_obj = static_cast<int32_t>(objectives.size());
  const int32_t num_kr = static_cast<int32_t>(key_results.size());

  // One arena for every id and title: a single allocation instead of a
  // million small strings.
  size_t arena_size = 0;
  for (const Objective* o : objectives) arena_size += o->id.size() + o->title.size();
  for (const KeyResult* k : key_results) arena_size += k->id.size() + k->title.size();
  if (arena_size > UINT32_MAX) {
    return absl::InvalidArgumentError("plan too large to score: ids and titles exceed 4 GiB");
  }
  g.strings_ = std::make_unique_for_overwrite<char[]>(arena_size + 1);
  size_t arena_used = 0;
  auto intern = [&](const std::string& str) {
    StrRef ref{static_cast<uint32_t>(arena_used), static_cast<uint32_t>(str.size())};
    if (!str.empty()) std::memcpy(g.strings_.get() + arena_used, str.data(), str.size());
    arena_used += str.size();
    return ref;
  };

  // reserve + emplace_back rather than resize: one pass over fresh memory.
  g.objectives_.reserve(num_obj);
  g.objective_index_.reserve(num_obj);
  for (int32_t o = 0; o < num_obj; ++o) {
    const Objective& in = *objectives[o];
    ObjNode& n = g.objectives_.emplace_back();
    n.id = intern(in.id);
    n.title = intern(in.title);
    n.source = in.progress_source;
    n.archived = in.state == ObjectiveState::kArchived;
    n.link_kind = in.alignment.kind;
    n.link_weight = in.alignment.weight;
    if (!g.objective_index_.emplace(g.Str(n.id), o).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("objective '", in.id, "': duplicate objective id"));
    }
  }

  g.key_results_.reserve(num_kr);
  g.kr_index_.reserve(num_kr);
  int32_t previous_objective = -1;
  for (int32_t k = 0; k < num_kr; ++k) {
    const KeyResult& in = *key_results[k];
    KrNode& kr = g.key_results_.emplace_back();
    kr.id = intern(in.id);
    kr.title = intern(in.title);
    kr.milestone = in.type == KeyResultType::kMilestone;
    kr.direction = EffectiveDirection(in);
    kr.from = in.from;
    kr.to = in.to;
    kr.weight = in.weight;
    kr.progress_from_children = in.progress_from_children;
    kr.archived = in.archived;
    if (!g.kr_index_.emplace(g.Str(kr.id), k).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("key result '", in.id, "': duplicate key result id"));
    }
    // KRs usually arrive grouped by objective: skip the lookup for a run.
    if (previous_objective >= 0 && g.Str(g.objectives_[previous_objective].id) == in.objective_id) {
      kr.objective = previous_objective;
      continue;
    }
    auto it = g.objective_index_.find(in.objective_id);
    if (it == g.objective_index_.end()) {
      return absl::NotFoundError(absl::StrCat("key result '", in.id, "': objective_id '",
                                              in.objective_id, "' is not in the plan"));
    }
    kr.objective = previous_objective = it->second;
  }

  // Resolve alignment links to indexes.
  for (int32_t o = 0; o < num_obj; ++o) {
    const Alignment& a = objectives[o]->alignment;
    const std::string& id = objectives[o]->id;
    ObjNode& n = g.objectives_[o];
    if (a.kind == AlignmentKind::kObjective) {
      if (a.parent_objective_id.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "objective '", id, "': alignment.parent_objective_id: required for kind OBJECTIVE"));
      }
      auto it = g.objective_index_.find(a.parent_objective_id);
      if (it == g.objective_index_.end()) {
        return absl::NotFoundError(absl::StrCat("objective '", id,
                                                "': alignment.parent_objective_id '",
                                                a.parent_objective_id, "' is not in the plan"));
      }
      n.parent = it->second;
    } else if (a.kind == AlignmentKind::kKeyResult) {
      if (a.parent_key_result_id.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "objective '", id, "': alignment.parent_key_result_id: required for kind KEY_RESULT"));
      }
      auto it = g.kr_index_.find(a.parent_key_result_id);
      if (it == g.kr_index_.end()) {
        return absl::NotFoundError(absl::StrCat("objective '", id,
                                                "': alignment.parent_key_result_id '",
                                                a.parent_key_result_id, "' is not in the plan"));
      }
      n.parent_kr = it->second;
      n.parent = g.key_results_[n.parent_kr].objective;
      const absl::string_view kr_objective = g.Str(g.objectives_[n.parent].id);
      if (!a.parent_objective_id.empty() && a.parent_objective_id != kr_objective) {
        return absl::InvalidArgumentError(
            absl::StrCat("objective '", id, "': alignment.parent_objective_id '",
                         a.parent_objective_id, "' must be the objective of key result '",
                         a.parent_key_result_id, "' ('", kr_objective, "')"));
      }
    }
  }

  // Depth of every objective, walking parent pointers iteratively; a walk that
  // meets its own trail has found a cycle.
  std::vector<int32_t> depth(num_obj, -1);
  std::vector<int32_t> walk_of(num_obj, -1);
  std::vector<int32_t> trail;
  int32_t max_depth = -1;
  for (int32_t s = 0; s < num_obj; ++s) {
    if (depth[s] >= 0) continue;
    trail.clear();
    int32_t x = s;
    while (x >= 0 && depth[x] < 0) {
      if (walk_of[x] == s) {
        std::vector<std::string> ids;
        const auto start = std::find(trail.begin(), trail.end(), x);
        constexpr size_t kShown = 8;
        for (auto it = start; it != trail.end() && ids.size() < kShown; ++it) {
          ids.push_back(absl::StrCat("'", g.Str(g.objectives_[*it].id), "'"));
        }
        if (static_cast<size_t>(trail.end() - start) > kShown) ids.push_back("...");
        ids.push_back(absl::StrCat("'", g.Str(g.objectives_[x].id), "'"));
        return absl::FailedPreconditionError(
            absl::StrCat("objective '", g.Str(g.objectives_[x].id), "': alignment forms a cycle (",
                         absl::StrJoin(ids, " -> "), "); the alignment graph must be a forest"));
      }
      walk_of[x] = s;
      trail.push_back(x);
      x = g.objectives_[x].parent;
    }
    int32_t d = x < 0 ? -1 : depth[x];
    for (auto it = trail.rbegin(); it != trail.rend(); ++it) depth[*it] = ++d;
    max_depth = std::max(max_depth, d);
  }

  // Compressed adjacency lists, in input order within each list.
  auto build_csr = [](int32_t nodes, int32_t items, auto owner_of, std::vector<int32_t>* begin,
                      std::vector<int32_t>* list) {
    begin->assign(nodes + 1, 0);
    for (int32_t i = 0; i < items; ++i) {
      const int32_t owner = owner_of(i);
      if (owner >= 0) ++(*begin)[owner + 1];
    }
    for (int32_t n = 0; n < nodes; ++n) (*begin)[n + 1] += (*begin)[n];
    list->assign((*begin)[nodes], 0);
    std::vector<int32_t> fill(begin->begin(), begin->end() - 1);
    for (int32_t i = 0; i < items; ++i) {
      const int32_t owner = owner_of(i);
      if (owner >= 0) (*list)[fill[owner]++] = i;
    }
  };
  build_csr(
      num_obj, num_kr, [&](int32_t k) { return g.key_results_[k].objective; },
      &g.objective_kr_begin_, &g.objective_krs_);
  build_csr(
      num_obj, num_obj, [&](int32_t o) { return g.objectives_[o].parent; },
      &g.objective_child_begin_, &g.objective_children_);
  build_csr(
      num_kr, num_obj, [&](int32_t o) { return g.objectives_[o].parent_kr; }, &g.kr_child_begin_,
      &g.kr_children_);
  for (int32_t o = 0; o < num_obj; ++o) {
    const ObjNode& n = g.objectives_[o];
    if (n.parent_kr >= 0 && !n.archived) ++g.key_results_[n.parent_kr].active_children;
  }

  // Check-ins often come in KR order: try the KR after the previous match
  // before hashing.
  int32_t next_kr = 0;
  for (const CheckIn* check_in : check_ins) {
    const CheckIn& c = *check_in;
    int32_t k = -1;
    if (next_kr < num_kr && g.Str(g.key_results_[next_kr].id) == c.key_result_id) {
      k = next_kr;
    } else if (auto it = g.kr_index_.find(c.key_result_id); it != g.kr_index_.end()) {
      k = it->second;
    }
    if (k < 0) continue;
    g.key_results_[k].latest.Merge(c);
    next_kr = k + 1;
  }

  // Score deepest objectives first: a KR's Duality children sit one level
  // below its objective, so they are final before the KR reads them.
  std::vector<int32_t> by_depth_begin(max_depth + 2, 0);
  for (int32_t o = 0; o < num_obj; ++o) ++by_depth_begin[depth[o] + 1];
  for (int32_t d = 0; d <= max_depth; ++d) by_depth_begin[d + 1] += by_depth_begin[d];
  std::vector<int32_t> order(num_obj);
  {
    std::vector<int32_t> fill(by_depth_begin.begin(), by_depth_begin.end() - 1);
    for (int32_t o = 0; o < num_obj; ++o) order[fill[depth[o]]++] = o;
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const int32_t o = *it;
    for (int32_t i = g.objective_kr_begin_[o]; i < g.objective_kr_begin_[o + 1]; ++i) {
      const int32_t k = g.objective_krs_[i];
      if (g.KrTakesChildren(k)) {
        g.ResumKr(k);
      } else {
        g.key_results_[k].progress = g.ProgressFromCheckIns(k);
      }
    }
    g.ResumObjective(o);
  }
  return g;
}

absl::StatusOr<double> ScoreGraph::ProgressOf(absl::string_view key_result_id) const {
  auto it = kr_index_.find(key_result_id);
  if (it == kr_index_.end()) {
    return absl::NotFoundError(absl::StrCat("key result '", key_result_id, "' is not scored"));
  }
  return key_results_[it->second].progress;
}

absl::StatusOr<double> ScoreGraph::ScoreOf(absl::string_view objective_id) const {
  auto it = objective_index_.find(objective_id);
  if (it == objective_index_.end()) {
    return absl::NotFoundError(absl::StrCat("objective '", objective_id, "' is not scored"));
  }
  return objectives_[it->second].score;
}

absl::StatusOr<ScoreExplanation> ScoreGraph::ExplainKeyResult(
    absl::string_view key_result_id) const {
  auto found = kr_index_.find(key_result_id);
  if (found == kr_index_.end()) {
    return absl::NotFoundError(absl::StrCat("key result '", key_result_id, "' is not scored"));
  }
  const int32_t k = found->second;
  const KrNode& kr = key_results_[k];
  ScoreExplanation e;
  e.id = IdOf(kr);
  e.title = std::string(Str(kr.title));
  e.kind = "key_result";
  e.result = kr.progress;

  if (KrTakesChildren(k)) {
    double sum = 0;
    double weight = 0;
    for (int32_t i = kr_child_begin_[k]; i < kr_child_begin_[k + 1]; ++i) {
      const ObjNode& c = objectives_[kr_children_[i]];
      if (c.archived) {
        e.notes.push_back(absl::StrCat("objective '", Str(c.id), "' is archived: not an input"));
        continue;
      }
      const double w = SanitizeWeight(c.link_weight);
      sum += w * c.score;
      weight += w;
      e.inputs.push_back({IdOf(c), std::string(Str(c.title)), "objective", w, c.score,
                          absl::StrCat("objective score (", SourceName(c.source), ")")});
    }
    e.formula = absl::StrCat(
        "progress = weighted mean of the scores of the objectives aligned to this key "
        "result (progress from children; check-ins ignored): sum(weight x score) / "
        "sum(weight) ",
        MeanWords(sum, weight, kr.progress, "progress"));
    return e;
  }

  if (kr.progress_from_children) {
    e.notes.push_back(
        "progress_from_children is set but no non-archived objective is aligned to this "
        "key result: scored from its check-ins");
  }
  e.origin = KrOrigin(k);
  if (kr.milestone) {
    e.formula =
        absl::StrCat("progress = 1 when the latest check-in marks the milestone done, else 0: ",
                     kr.latest.has_done && kr.latest.done ? "done -> 1" : "not done -> 0");
    return e;
  }
  const double current = kr.latest.has_value ? kr.latest.value : kr.from;
  switch (kr.direction) {
    case Direction::kAtLeast:
      e.formula = absl::StrCat(
          "progress = 1 if current >= to, else 0 (AT_LEAST threshold, no "
          "partial credit): current ",
          Num(current), current >= kr.to ? " >= " : " < ", Num(kr.to), " -> ", Num(kr.progress));
      break;
    case Direction::kAtMost:
      e.formula = absl::StrCat(
          "progress = 1 if current <= to, else 0 (AT_MOST threshold, no "
          "partial credit): current ",
          Num(current), current <= kr.to ? " <= " : " > ", Num(kr.to), " -> ", Num(kr.progress));
      break;
    default:
      if (kr.to == kr.from) {
        e.formula = absl::StrCat("progress = 1 if the target ", Num(kr.to), " is reached (",
                                 Name(kr.direction), "; from equals to), else 0: current ",
                                 Num(current), " -> ", Num(kr.progress));
      } else {
        e.formula = absl::StrCat(
            "progress = clamp((current - from) / (to - from), 0, 1) = "
            "clamp((",
            Num(current), " - ", Num(kr.from), ") / (", Num(kr.to), " - ", Num(kr.from),
            "), 0, 1) = ", Num(kr.progress));
      }
      break;
  }
  return e;
}

absl::StatusOr<ScoreExplanation> ScoreGraph::ExplainObjective(
    absl::string_view objective_id) const {
  auto found = objective_index_.find(objective_id);
  if (found == objective_index_.end()) {
    return absl::NotFoundError(absl::StrCat("objective '", objective_id, "' is not scored"));
  }
  const int32_t o = found->second;
  const ObjNode& n = objectives_[o];
  ScoreExplanation e;
  e.id = IdOf(n);
  e.title = std::string(Str(n.title));
  e.kind = "objective";
  e.result = n.score;

  double sum = 0;
  double weight = 0;
  if (IncludesKeyResults(n.source)) {
    for (int32_t i = objective_kr_begin_[o]; i < objective_kr_begin_[o + 1]; ++i) {
      const int32_t k = objective_krs_[i];
      const KrNode& kr = key_results_[k];
      if (kr.archived) {
        e.notes.push_back(absl::StrCat("key result '", Str(kr.id), "' is archived: not an input"));
        continue;
      }
      const double w = SanitizeWeight(kr.weight);
      sum += w * kr.progress;
      weight += w;
      e.inputs.push_back(
          {IdOf(kr), std::string(Str(kr.title)), "key_result", w, kr.progress, KrOrigin(k)});
    }
  }
  const int32_t num_children = objective_child_begin_[o + 1] - objective_child_begin_[o];
  if (IncludesChildren(n.source)) {
    for (int32_t i = objective_child_begin_[o]; i < objective_child_begin_[o + 1]; ++i) {
      const int32_t c = objective_children_[i];
      const ObjNode& child = objectives_[c];
      if (child.archived) {
        e.notes.push_back(
            absl::StrCat("objective '", Str(child.id), "' is archived: not an input"));
        continue;
      }
      if (!CountsInParentObjective(c)) {
        e.notes.push_back(absl::StrCat(
            "objective '", Str(child.id), "' counts only through key result '",
            Str(key_results_[child.parent_kr].id), "', which takes its progress from children"));
        continue;
      }
      const double w = SanitizeWeight(child.link_weight);
      sum += w * child.score;
      weight += w;
      e.inputs.push_back({IdOf(child), std::string(Str(child.title)), "objective", w, child.score,
                          absl::StrCat("objective score (", SourceName(child.source), ")")});
    }
  } else if (num_children > 0) {
    e.notes.push_back(absl::StrCat(num_children,
                                   " aligned objective(s) not counted directly: progress "
                                   "source is KEY_RESULTS"));
  }
  e.formula = absl::StrCat("score = weighted mean of the inputs (progress source ",
                           SourceName(n.source), "): sum(weight x progress) / sum(weight) ",
                           MeanWords(sum, weight, n.score, "score"));
  return e;
}

absl::StatusOr<PaceReport> ScoreGraph::KeyResultPace(absl::string_view key_result_id,
                                                     absl::Time cycle_start, absl::Time cycle_end,
                                                     absl::Time now) const {
  auto it = kr_index_.find(key_result_id);
  if (it == kr_index_.end()) {
    return absl::NotFoundError(absl::StrCat("key result '", key_result_id, "' is not scored"));
  }
  const KrNode& kr = key_results_[it->second];
  const CheckInStatus signal =
      kr.latest.has_signal
          ? OwnerSignal(
                kr.latest.has_confidence ? std::optional<int>(kr.latest.confidence) : std::nullopt,
                kr.latest.status)
          : CheckInStatus::kUnspecified;
  return EvaluatePace(kr.progress, cycle_start, cycle_end, now, signal);
}

absl::StatusOr<ScoreUpdate> ScoreGraph::ApplyCheckIn(const CheckIn& check_in) {
  auto it = kr_index_.find(check_in.key_result_id);
  if (it == kr_index_.end()) {
    return absl::NotFoundError(absl::StrCat("check_in.key_result_id: key result '",
                                            check_in.key_result_id, "' is not in the plan"));
  }
  const int32_t k = it->second;
  key_results_[k].latest.Merge(check_in);
  ScoreUpdate update;
  if (KrTakesChildren(k)) return update;
  const double old_progress = key_results_[k].progress;
  key_results_[k].progress = ProgressFromCheckIns(k);
  PropagateKr(k, old_progress, &update);
  return update;
}

absl::StatusOr<ScoreUpdate> ScoreGraph::SetKeyResultWeight(absl::string_view key_result_id,
                                                           double weight) {
  auto it = kr_index_.find(key_result_id);
  if (it == kr_index_.end()) {
    return absl::NotFoundError(absl::StrCat("key result '", key_result_id, "' is not in the plan"));
  }
  const int32_t k = it->second;
  key_results_[k].weight = weight;
  ScoreUpdate update;
  if (!KrCountsInObjective(k)) return update;
  const int32_t o = key_results_[k].objective;
  const double old_score = objectives_[o].score;
  ResumObjective(o);
  PropagateObjective(o, old_score, &update);
  return update;
}

absl::StatusOr<ScoreUpdate> ScoreGraph::SetAlignmentWeight(absl::string_view objective_id,
                                                           double weight) {
  auto it = objective_index_.find(objective_id);
  if (it == objective_index_.end()) {
    return absl::NotFoundError(absl::StrCat("objective '", objective_id, "' is not in the plan"));
  }
  const int32_t o = it->second;
  ObjNode& n = objectives_[o];
  if (n.parent < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("objective '", objective_id,
                     "' is not aligned, so its link has no weight; align it "
                     "first"));
  }
  n.link_weight = weight;
  ScoreUpdate update;
  if (CountsInParentKr(o)) {
    const int32_t k = n.parent_kr;
    const double old_progress = key_results_[k].progress;
    ResumKr(k);
    PropagateKr(k, old_progress, &update);
  }
  if (CountsInParentObjective(o)) {
    const int32_t parent = n.parent;
    const double old_score = objectives_[parent].score;
    ResumObjective(parent);
    PropagateObjective(parent, old_score, &update);
  }
  return update;
}

}  // namespace okr
