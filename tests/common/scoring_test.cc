#include "common/scoring.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace okr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr double kEps = 1e-12;

// --- builders ---------------------------------------------------------------

Objective Obj(const std::string& id, ProgressSource source = ProgressSource::kKeyResults) {
  Objective o;
  o.id = id;
  o.title = absl::StrCat("Objective ", id);
  o.progress_source = source;
  o.kind = ObjectiveKind::kAspirational;
  o.state = ObjectiveState::kPublished;
  return o;
}

Objective AlignedTo(Objective o, const std::string& parent, double weight = 1) {
  o.alignment.kind = AlignmentKind::kObjective;
  o.alignment.parent_objective_id = parent;
  o.alignment.weight = weight;
  return o;
}

Objective CascadedFrom(Objective o, const std::string& parent_objective,
                       const std::string& parent_kr, double weight = 1) {
  o.alignment.kind = AlignmentKind::kKeyResult;
  o.alignment.parent_objective_id = parent_objective;
  o.alignment.parent_key_result_id = parent_kr;
  o.alignment.weight = weight;
  return o;
}

KeyResult Metric(const std::string& id, const std::string& objective, double from, double to,
                 double weight = 1, Direction direction = Direction::kUnspecified) {
  KeyResult kr;
  kr.id = id;
  kr.title = absl::StrCat("KR ", id);
  kr.objective_id = objective;
  kr.type = KeyResultType::kMetric;
  kr.measure = Measure::kKpi;
  kr.from = from;
  kr.to = to;
  kr.weight = weight;
  kr.direction = direction;
  return kr;
}

KeyResult Milestone(const std::string& id, const std::string& objective, double weight = 1) {
  KeyResult kr;
  kr.id = id;
  kr.title = absl::StrCat("Milestone ", id);
  kr.objective_id = objective;
  kr.type = KeyResultType::kMilestone;
  kr.weight = weight;
  return kr;
}

KeyResult FromChildren(KeyResult kr) {
  kr.progress_from_children = true;
  return kr;
}

absl::Time T(int day) { return absl::FromCivil(absl::CivilDay(2027, 1, day), absl::UTCTimeZone()); }

CheckIn ValueAt(const std::string& kr, double value, absl::Time time = T(1)) {
  CheckIn c;
  c.key_result_id = kr;
  c.value = value;
  c.time = time;
  return c;
}

CheckIn DoneAt(const std::string& kr, bool done, absl::Time time = T(1)) {
  CheckIn c;
  c.key_result_id = kr;
  c.done = done;
  c.time = time;
  return c;
}

double Progress(const KeyResult& kr, std::optional<double> value) {
  CheckIn c;
  c.value = value;
  return KeyResultProgress(kr, &c);
}

ScoreGraph MustBuild(const std::vector<Objective>& objectives,
                     const std::vector<KeyResult>& key_results,
                     const std::vector<CheckIn>& check_ins = {}) {
  absl::StatusOr<ScoreGraph> g = ScoreGraph::Build(objectives, key_results, check_ins);
  EXPECT_TRUE(g.ok()) << g.status();
  if (!g.ok()) std::abort();
  return std::move(*g);
}

double ScoreOf(const ScoreGraph& g, const std::string& id) {
  absl::StatusOr<double> s = g.ScoreOf(id);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : std::nan("");
}

double ProgressOf(const ScoreGraph& g, const std::string& id) {
  absl::StatusOr<double> p = g.ProgressOf(id);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : std::nan("");
}

// --- metric progress ----------------------------------------------------------

TEST(MetricProgressTest, NoCheckInMeansCurrentEqualsFrom) {
  const KeyResult kr = Metric("k", "o", 10, 20);
  EXPECT_EQ(KeyResultProgress(kr, nullptr), 0);
  EXPECT_EQ(Progress(kr, 10), 0);
  // A threshold that already holds at the start scores from day one.
  EXPECT_EQ(KeyResultProgress(Metric("k", "o", 8.2, 8, 1, Direction::kAtLeast), nullptr), 1);
}

TEST(MetricProgressTest, LinearBetweenFromAndTo) {
  const KeyResult kr = Metric("k", "o", 10, 20);
  EXPECT_NEAR(Progress(kr, 12.5), 0.25, kEps);
  EXPECT_EQ(Progress(kr, 20), 1);
}

TEST(MetricProgressTest, RoundingJustBelowAGradeEdgeIsSnappedToIt) {
  // NPS from 7 to 8.5 at 7.6 is 0.4 exactly, but (7.6 - 7) / 1.5 computes as
  // 0.39999999999999974 in doubles, which would grade RED.
  ASSERT_LT((7.6 - 7.0) / (8.5 - 7.0), 0.4);
  EXPECT_EQ(MetricProgress(Direction::kIncrease, 7, 8.5, 7.6), 0.4);
  EXPECT_EQ(GradeOf(MetricProgress(Direction::kIncrease, 7, 8.5, 7.6)), Grade::kYellow);
  // A value genuinely below the edge stays below it.
  EXPECT_LT(MetricProgress(Direction::kIncrease, 7, 8.5, 7.5999), 0.4);
}

TEST(MetricProgressTest, OvershootClampsToOne) {
  EXPECT_EQ(Progress(Metric("k", "o", 10, 20), 35), 1);
  EXPECT_EQ(Progress(Metric("k", "o", 72, 24), 3), 1);
}

TEST(MetricProgressTest, BelowStartClampsToZero) {
  EXPECT_EQ(Progress(Metric("k", "o", 10, 20), 4), 0);
  EXPECT_EQ(Progress(Metric("k", "o", 72, 24), 80), 0);
}

TEST(MetricProgressTest, NegativeAndFractionalRanges) {
  // -10 -> -4: 3 of 6 units covered.
  EXPECT_NEAR(Progress(Metric("k", "o", -10, -4), -7), 0.5, kEps);
  // -1 -> 1 crossing zero: 0.5 of 2.
  EXPECT_NEAR(Progress(Metric("k", "o", -1, 1), -0.5), 0.25, kEps);
  // 0.25 -> 0.75: 0.1 of 0.5.
  EXPECT_NEAR(Progress(Metric("k", "o", 0.25, 0.75), 0.35), 0.2, kEps);
  // Decreasing negative range -2 -> -5: covered 1.5 of 3.
  EXPECT_NEAR(Progress(Metric("k", "o", -2, -5), -3.5), 0.5, kEps);
}

TEST(MetricProgressTest, DecreaseFromTheDocument) {
  // "Reduce customer response time from 72 hours to <24 hours": 36 h is
  // (36 - 72) / (24 - 72) = 36 / 48 = 0.75 of the way.
  const KeyResult kr = Metric("k", "o", 72, 24);
  EXPECT_EQ(EffectiveDirection(kr), Direction::kDecrease);
  EXPECT_NEAR(Progress(kr, 36), 0.75, kEps);
  // An explicit DECREASE scores the same.
  EXPECT_NEAR(Progress(Metric("k", "o", 72, 24, 1, Direction::kDecrease), 36), 0.75, kEps);
}

TEST(MetricProgressTest, PercentCompleteUsesTheSameFormula) {
  KeyResult kr = Metric("k", "o", 0, 100);
  kr.measure = Measure::kPercentComplete;
  EXPECT_NEAR(Progress(kr, 40), 0.4, kEps);
}

TEST(MetricProgressTest, EqualFromAndToIsAStep) {
  EXPECT_EQ(Progress(Metric("k", "o", 5, 5), 4.9), 0);
  EXPECT_EQ(Progress(Metric("k", "o", 5, 5), 5), 1);
  EXPECT_EQ(Progress(Metric("k", "o", 5, 5, 1, Direction::kDecrease), 5.1), 0);
  EXPECT_EQ(Progress(Metric("k", "o", 5, 5, 1, Direction::kDecrease), 4), 1);
}

TEST(MetricProgressTest, AtLeastThreshold) {
  // "Maintain an NPS score greater than 8".
  const KeyResult kr = Metric("k", "o", 7, 8, 1, Direction::kAtLeast);
  EXPECT_EQ(Progress(kr, 8), 1);     // at
  EXPECT_EQ(Progress(kr, 9.5), 1);   // above
  EXPECT_EQ(Progress(kr, 7.99), 0);  // below: no partial credit
}

TEST(MetricProgressTest, AtMostThreshold) {
  // "Reduce customer response time to <24 hours".
  const KeyResult kr = Metric("k", "o", 72, 24, 1, Direction::kAtMost);
  EXPECT_EQ(Progress(kr, 24), 1);     // at
  EXPECT_EQ(Progress(kr, 12), 1);     // below
  EXPECT_EQ(Progress(kr, 24.01), 0);  // above: no partial credit
  EXPECT_EQ(Progress(kr, 36), 0);
}

TEST(MetricProgressTest, NonFiniteValueCountsAsNoValue) {
  const KeyResult kr = Metric("k", "o", 10, 20);
  EXPECT_EQ(Progress(kr, std::numeric_limits<double>::quiet_NaN()), 0);
  EXPECT_EQ(Progress(kr, std::numeric_limits<double>::infinity()), 0);
  EXPECT_EQ(Progress(kr, std::nullopt), 0);
  // NaN bounds do not leak NaN.
  EXPECT_EQ(MetricProgress(Direction::kIncrease, std::nan(""), 1, 0.5), 0);
}

TEST(MilestoneProgressTest, DoneAndUndone) {
  const KeyResult kr = Milestone("m", "o");
  EXPECT_EQ(KeyResultProgress(kr, nullptr), 0);
  const CheckIn done = DoneAt("m", true);
  EXPECT_EQ(KeyResultProgress(kr, &done), 1);
  const CheckIn undone = DoneAt("m", false);
  EXPECT_EQ(KeyResultProgress(kr, &undone), 0);
  const CheckIn confidence_only = [] {
    CheckIn c;
    c.confidence = 9;
    return c;
  }();
  EXPECT_EQ(KeyResultProgress(kr, &confidence_only), 0);
}

TEST(MilestoneProgressTest, LatestCheckInDecidesInTheGraph) {
  ScoreGraph g = MustBuild({Obj("o")}, {Milestone("m", "o")}, {DoneAt("m", true, T(2))});
  EXPECT_EQ(ProgressOf(g, "m"), 1);
  // An older "not done" does not undo a newer "done" ...
  ASSERT_TRUE(g.ApplyCheckIn(DoneAt("m", false, T(1))).ok());
  EXPECT_EQ(ProgressOf(g, "m"), 1);
  // ... but a newer one does.
  absl::StatusOr<ScoreUpdate> u = g.ApplyCheckIn(DoneAt("m", false, T(3)));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(ProgressOf(g, "m"), 0);
  EXPECT_EQ(ScoreOf(g, "o"), 0);
  EXPECT_THAT(u->key_results, ElementsAre("m"));
  EXPECT_THAT(u->objectives, ElementsAre("o"));
}

// --- grades, success, pace ----------------------------------------------------

TEST(GradeTest, BandEdges) {
  EXPECT_EQ(GradeOf(0), Grade::kRed);
  EXPECT_EQ(GradeOf(0.3999), Grade::kRed);
  EXPECT_EQ(GradeOf(0.4), Grade::kYellow);
  EXPECT_EQ(GradeOf(0.6999), Grade::kYellow);
  EXPECT_EQ(GradeOf(0.7), Grade::kGreen);
  EXPECT_EQ(GradeOf(1), Grade::kGreen);
  EXPECT_EQ(GradeOf(std::nan("")), Grade::kRed);
  // The raw value counts: nothing rounds 0.39999999 up to yellow.
  EXPECT_EQ(GradeOf(std::nextafter(0.4, 0.0)), Grade::kRed);
  EXPECT_EQ(GradeOf(std::nextafter(0.7, 0.0)), Grade::kYellow);
}

TEST(GradeTest, CommittedVersusAspirationalSuccess) {
  EXPECT_TRUE(IsSuccess(ObjectiveKind::kAspirational, 0.7));
  EXPECT_FALSE(IsSuccess(ObjectiveKind::kAspirational, 0.6999));
  EXPECT_TRUE(IsSuccess(ObjectiveKind::kAspirational, 1.0));
  EXPECT_FALSE(IsSuccess(ObjectiveKind::kCommitted, 0.7));
  EXPECT_FALSE(IsSuccess(ObjectiveKind::kCommitted, 0.9999));
  EXPECT_TRUE(IsSuccess(ObjectiveKind::kCommitted, 1.0));
  EXPECT_TRUE(IsSuccess(ObjectiveKind::kUnspecified, 0.7));
  EXPECT_FALSE(IsSuccess(ObjectiveKind::kUnspecified, 0.6999));
}

TEST(PaceTest, ExpectedIsTheElapsedFraction) {
  const absl::Time start = T(1);
  const absl::Time end = T(11);  // 10 days
  EXPECT_EQ(ExpectedProgress(start, end, start - absl::Hours(1)), 0);
  EXPECT_EQ(ExpectedProgress(start, end, start), 0);
  EXPECT_NEAR(ExpectedProgress(start, end, T(3)), 0.2, kEps);
  EXPECT_EQ(ExpectedProgress(start, end, end), 1);
  EXPECT_EQ(ExpectedProgress(start, end, end + absl::Hours(5)), 1);
  // Degenerate cycles do not divide by zero.
  EXPECT_EQ(ExpectedProgress(end, start, start - absl::Hours(1)), 0);
  EXPECT_EQ(ExpectedProgress(end, start, T(5)), 1);
  EXPECT_EQ(ExpectedProgress(start, start, start - absl::Hours(1)), 0);
  EXPECT_EQ(ExpectedProgress(start, start, start), 1);
}

TEST(PaceTest, StatusFromGap) {
  const absl::Time start = T(1);
  const absl::Time end = T(11);
  const absl::Time half = T(6);  // expected 0.5
  PaceReport r = EvaluatePace(0.45, start, end, half);
  EXPECT_NEAR(r.expected, 0.5, kEps);
  EXPECT_NEAR(r.progress, 0.45, kEps);
  EXPECT_NEAR(r.gap, 0.05, kEps);
  EXPECT_EQ(r.status, CheckInStatus::kOnTrack);
  // Ahead of pace: negative gap.
  r = EvaluatePace(0.8, start, end, half);
  EXPECT_NEAR(r.gap, -0.3, kEps);
  EXPECT_EQ(r.status, CheckInStatus::kOnTrack);
  // Gap 0.2 and 0.3 (the edge) are at risk, 0.35 is off track.
  EXPECT_EQ(EvaluatePace(0.3, start, end, half).status, CheckInStatus::kAtRisk);
  EXPECT_EQ(EvaluatePace(0.25, start, end, half).status, CheckInStatus::kAtRisk);
  EXPECT_EQ(EvaluatePace(0.15, start, end, half).status, CheckInStatus::kOffTrack);
  // Behind everything after the end, unless done.
  EXPECT_EQ(EvaluatePace(0.5, start, end, end).status, CheckInStatus::kOffTrack);
  EXPECT_EQ(EvaluatePace(1.0, start, end, end).status, CheckInStatus::kOnTrack);
}

TEST(PaceTest, EdgesOfTheGapBands) {
  // Expected 0.5; step a hair either side of each gap limit (exact decimal
  // edges are not representable, so probe 1e-9 around them).
  const absl::Time start = T(1);
  const absl::Time end = T(11);
  const absl::Time half = T(6);
  auto status_at_gap = [&](double gap) { return EvaluatePace(0.5 - gap, start, end, half).status; };
  EXPECT_EQ(status_at_gap(kOnTrackMaxGap - 1e-9), CheckInStatus::kOnTrack);
  EXPECT_EQ(status_at_gap(kOnTrackMaxGap + 1e-9), CheckInStatus::kAtRisk);
  EXPECT_EQ(status_at_gap(kAtRiskMaxGap - 1e-9), CheckInStatus::kAtRisk);
  EXPECT_EQ(status_at_gap(kAtRiskMaxGap + 1e-9), CheckInStatus::kOffTrack);
}

TEST(PaceTest, OwnerSignal) {
  EXPECT_EQ(OwnerSignal(10, CheckInStatus::kUnspecified), CheckInStatus::kOnTrack);
  EXPECT_EQ(OwnerSignal(7, CheckInStatus::kUnspecified), CheckInStatus::kOnTrack);
  EXPECT_EQ(OwnerSignal(6, CheckInStatus::kUnspecified), CheckInStatus::kAtRisk);
  EXPECT_EQ(OwnerSignal(4, CheckInStatus::kUnspecified), CheckInStatus::kAtRisk);
  EXPECT_EQ(OwnerSignal(3, CheckInStatus::kUnspecified), CheckInStatus::kOffTrack);
  EXPECT_EQ(OwnerSignal(0, CheckInStatus::kUnspecified), CheckInStatus::kOffTrack);
  EXPECT_EQ(OwnerSignal(std::nullopt, CheckInStatus::kUnspecified), CheckInStatus::kUnspecified);
  // A reported status replaces confidence.
  EXPECT_EQ(OwnerSignal(2, CheckInStatus::kOnTrack), CheckInStatus::kOnTrack);
  EXPECT_EQ(OwnerSignal(9, CheckInStatus::kOffTrack), CheckInStatus::kOffTrack);
}

TEST(PaceTest, WorseOfPaceAndOwnerSignal) {
  const absl::Time start = T(1);
  const absl::Time end = T(11);
  const absl::Time half = T(6);
  // On pace, but the owner is worried.
  PaceReport r = EvaluatePace(0.5, start, end, half, CheckInStatus::kAtRisk);
  EXPECT_EQ(r.pace_status, CheckInStatus::kOnTrack);
  EXPECT_EQ(r.status, CheckInStatus::kAtRisk);
  // Behind pace; an optimistic owner does not hide it.
  r = EvaluatePace(0.1, start, end, half, CheckInStatus::kOnTrack);
  EXPECT_EQ(r.pace_status, CheckInStatus::kOffTrack);
  EXPECT_EQ(r.status, CheckInStatus::kOffTrack);
  // Done beats a gloomy owner.
  r = EvaluatePace(1.0, start, end, half, CheckInStatus::kOffTrack);
  EXPECT_EQ(r.status, CheckInStatus::kOnTrack);
  // No signal: pace alone.
  EXPECT_EQ(EvaluatePace(0.25, start, end, half).status, CheckInStatus::kAtRisk);
}

TEST(PaceTest, KeyResultPaceUsesTheLatestSignal) {
  CheckIn low = ValueAt("k", 50, T(2));
  low.confidence = 2;
  CheckIn status_only;
  status_only.key_result_id = "k";
  status_only.status = CheckInStatus::kAtRisk;
  status_only.time = T(3);
  ScoreGraph g = MustBuild({Obj("o")}, {Metric("k", "o", 0, 100)}, {low});
  absl::StatusOr<PaceReport> r = g.KeyResultPace("k", T(1), T(11), T(6));
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->progress, 0.5, kEps);
  EXPECT_EQ(r->pace_status, CheckInStatus::kOnTrack);
  EXPECT_EQ(r->owner_signal, CheckInStatus::kOffTrack);  // confidence 2
  EXPECT_EQ(r->status, CheckInStatus::kOffTrack);
  // A later status-only check-in replaces the signal but keeps the value.
  ASSERT_TRUE(g.ApplyCheckIn(status_only).ok());
  r = g.KeyResultPace("k", T(1), T(11), T(6));
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->progress, 0.5, kEps);
  EXPECT_EQ(r->status, CheckInStatus::kAtRisk);
  EXPECT_EQ(g.KeyResultPace("nope", T(1), T(11), T(6)).status().code(),
            absl::StatusCode::kNotFound);
}

// --- objective scores ---------------------------------------------------------

TEST(ObjectiveScoreTest, UnequalWeights) {
  // (3 x 1.0 + 1 x 0.2) / 4 = 0.8
  ScoreGraph g = MustBuild({Obj("o")}, {Metric("a", "o", 0, 10, 3), Metric("b", "o", 0, 10, 1)},
                           {ValueAt("a", 10), ValueAt("b", 2)});
  EXPECT_NEAR(ScoreOf(g, "o"), 0.8, kEps);
}

TEST(ObjectiveScoreTest, FullyAchievedIsExactlyOneWhateverTheWeights) {
  // 0.3 + 0.2 + 0.05 + 0.3 in floating point divides to 0.9999999999999999
  // unless the mean is snapped: a finished COMMITTED objective must succeed.
  Objective o = Obj("o");
  o.kind = ObjectiveKind::kCommitted;
  const std::vector<KeyResult> krs = {Milestone("a", "o", 0.3), Milestone("b", "o", 0.2),
                                      Milestone("c", "o", 0.05), Milestone("d", "o", 0.3)};
  ScoreGraph full = MustBuild({o}, krs,
                              {DoneAt("a", true), DoneAt("b", true), DoneAt("c", true),
                               DoneAt("d", true)});
  EXPECT_EQ(ScoreOf(full, "o"), 1.0);
  EXPECT_TRUE(IsSuccess(ObjectiveKind::kCommitted, ScoreOf(full, "o")));

  // The same one check-in at a time, incrementally, in another order.
  ScoreGraph incremental = MustBuild({o}, krs, {});
  for (const char* id : {"d", "c", "b", "a"}) {
    ASSERT_TRUE(incremental.ApplyCheckIn(DoneAt(id, true, T(2))).ok());
  }
  EXPECT_EQ(ScoreOf(incremental, "o"), 1.0);
  EXPECT_EQ(GradeOf(ScoreOf(incremental, "o")), Grade::kGreen);
}

TEST(ObjectiveScoreTest, MeansOnAGradeEdgeStayOnIt) {
  // Three KRs at 0.7 each: the mean is 0.7 (GREEN), not a hair below it.
  ScoreGraph g = MustBuild({Obj("o")},
                           {Metric("a", "o", 0, 10, 0.1), Metric("b", "o", 0, 10, 0.1),
                            Metric("c", "o", 0, 10, 0.1)},
                           {ValueAt("a", 7), ValueAt("b", 7), ValueAt("c", 7)});
  EXPECT_EQ(GradeOf(ScoreOf(g, "o")), Grade::kGreen);
}

TEST(ObjectiveScoreTest, ZeroWeightsCountForNothing) {
  ScoreGraph g = MustBuild(
      {Obj("o"), Obj("p")},
      {Metric("a", "o", 0, 10, 0), Metric("b", "o", 0, 10, 2), Metric("c", "p", 0, 10, 0)},
      {ValueAt("a", 10), ValueAt("b", 5), ValueAt("c", 10)});
  EXPECT_NEAR(ScoreOf(g, "o"), 0.5, kEps);
  // All weights zero: no weighted inputs, score 0 even with c at 100%.
  EXPECT_EQ(ScoreOf(g, "p"), 0);
  absl::StatusOr<ScoreExplanation> e = g.ExplainObjective("p");
  ASSERT_TRUE(e.ok());
  EXPECT_THAT(e->formula, HasSubstr("no weighted inputs"));
}

TEST(ObjectiveScoreTest, NegativeAndNonFiniteWeightsCountAsZero) {
  ScoreGraph g = MustBuild({Obj("o")},
                           {Metric("a", "o", 0, 10, -5), Metric("b", "o", 0, 10, 1),
                            Metric("c", "o", 0, 10, std::numeric_limits<double>::infinity()),
                            Metric("d", "o", 0, 10, std::nan(""))},
                           {ValueAt("a", 10), ValueAt("b", 3), ValueAt("c", 10), ValueAt("d", 10)});
  EXPECT_NEAR(ScoreOf(g, "o"), 0.3, kEps);
}

TEST(ObjectiveScoreTest, ObjectiveWithoutKeyResults) {
  ScoreGraph g = MustBuild({Obj("o"), Obj("c", ProgressSource::kChildren)}, {});
  EXPECT_EQ(ScoreOf(g, "o"), 0);
  EXPECT_EQ(ScoreOf(g, "c"), 0);
  absl::StatusOr<ScoreExplanation> e = g.ExplainObjective("o");
  ASSERT_TRUE(e.ok());
  EXPECT_THAT(e->inputs, IsEmpty());
  EXPECT_THAT(e->formula, HasSubstr("no weighted inputs"));
}

TEST(ObjectiveScoreTest, ArchivedKeyResultsAndChildrenAreNotInputs) {
  KeyResult archived = Metric("x", "o", 0, 10);
  archived.archived = true;
  Objective archived_child = AlignedTo(Obj("c2"), "o");
  archived_child.state = ObjectiveState::kArchived;
  ScoreGraph g = MustBuild(
      {Obj("o", ProgressSource::kBoth), AlignedTo(Obj("c1"), "o"), archived_child},
      {Metric("a", "o", 0, 10), archived, Metric("k1", "c1", 0, 10), Metric("k2", "c2", 0, 10)},
      {ValueAt("a", 4), ValueAt("x", 10), ValueAt("k1", 8), ValueAt("k2", 10)});
  // Inputs: a 0.4 and c1 0.8 -> 0.6; x and c2 are out.
  EXPECT_NEAR(ScoreOf(g, "o"), 0.6, kEps);
  // The archived objective still has its own score.
  EXPECT_EQ(ScoreOf(g, "c2"), 1);
  absl::StatusOr<ScoreExplanation> e = g.ExplainObjective("o");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->inputs.size(), 2u);
  EXPECT_EQ(e->notes.size(), 2u);
}

TEST(ObjectiveScoreTest, ChildrenSource) {
  // Parent scored from two children only (its own KR is ignored):
  // (1 x 0.5 + 3 x 1.0) / 4 = 0.875.
  ScoreGraph g =
      MustBuild({Obj("p", ProgressSource::kChildren), AlignedTo(Obj("c1"), "p", 1),
                 AlignedTo(Obj("c2"), "p", 3)},
                {Metric("own", "p", 0, 10), Metric("k1", "c1", 0, 10), Metric("k2", "c2", 0, 10)},
                {ValueAt("own", 0), ValueAt("k1", 5), ValueAt("k2", 10)});
  EXPECT_NEAR(ScoreOf(g, "p"), 0.875, kEps);
}

TEST(ObjectiveScoreTest, ChildrenSourceCountsDualityChildrenToo) {
  // p has KR pk (no progress_from_children); d is cascaded from pk, c is a
  // Classic child. CHILDREN pools both children: (0.2 + 0.6) / 2 = 0.4.
  ScoreGraph g =
      MustBuild({Obj("p", ProgressSource::kChildren), CascadedFrom(Obj("d"), "p", "pk"),
                 AlignedTo(Obj("c"), "p")},
                {Metric("pk", "p", 0, 10), Metric("dk", "d", 0, 10), Metric("ck", "c", 0, 10)},
                {ValueAt("pk", 10), ValueAt("dk", 2), ValueAt("ck", 6)});
  EXPECT_NEAR(ScoreOf(g, "p"), 0.4, kEps);
}

TEST(ObjectiveScoreTest, BothSourceWithoutDoubleCounting) {
  // p: KR pk1 takes progress from children (Duality child d1), KR pk2 is a
  // plain metric at 0.5 and has a Duality child d2 without the flag; c is a
  // Classic child.
  //   d1 = 0.2 -> pk1 = 0.2 (counted once, through pk1, not again as a child)
  //   pk2 = 0.5, d2 = 1.0 counts as a child (pk2 does not take it in)
  //   c = 0.9
  //   BOTH: (pk1 0.2 + pk2 0.5 + d2 1.0 + c 0.9) / 4 = 2.6 / 4 = 0.65
  ScoreGraph g =
      MustBuild({Obj("p", ProgressSource::kBoth), CascadedFrom(Obj("d1"), "p", "pk1"),
                 CascadedFrom(Obj("d2"), "", "pk2"), AlignedTo(Obj("c"), "p")},
                {FromChildren(Metric("pk1", "p", 0, 10)), Metric("pk2", "p", 0, 10),
                 Metric("d1k", "d1", 0, 10), Metric("d2k", "d2", 0, 10), Metric("ck", "c", 0, 10)},
                {ValueAt("pk1", 10), ValueAt("pk2", 5), ValueAt("d1k", 2), ValueAt("d2k", 10),
                 ValueAt("ck", 9)});
  EXPECT_NEAR(ProgressOf(g, "pk1"), 0.2, kEps);
  EXPECT_NEAR(ScoreOf(g, "p"), 0.65, kEps);
  absl::StatusOr<ScoreExplanation> e = g.ExplainObjective("p");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->inputs.size(), 4u);
  ASSERT_EQ(e->notes.size(), 1u);
  EXPECT_THAT(e->notes[0], HasSubstr("'d1' counts only through key result 'pk1'"));

  // The incremental path respects the same rule: d1 -> 0.6 moves pk1 to 0.6
  // and p to (0.6 + 0.5 + 1.0 + 0.9) / 4 = 0.75, not more.
  absl::StatusOr<ScoreUpdate> u = g.ApplyCheckIn(ValueAt("d1k", 6, T(2)));
  ASSERT_TRUE(u.ok());
  EXPECT_NEAR(ScoreOf(g, "p"), 0.75, kEps);
  EXPECT_THAT(u->key_results, ElementsAre("d1k", "pk1"));
  EXPECT_THAT(u->objectives, ElementsAre("d1", "p"));
}

TEST(ObjectiveScoreTest, KeyResultsSourceIgnoresClassicChildren) {
  ScoreGraph g = MustBuild({Obj("p"), AlignedTo(Obj("c"), "p")},
                           {Metric("pk", "p", 0, 10), Metric("ck", "c", 0, 10)},
                           {ValueAt("pk", 3), ValueAt("ck", 10)});
  EXPECT_NEAR(ScoreOf(g, "p"), 0.3, kEps);
  absl::StatusOr<ScoreUpdate> u = g.ApplyCheckIn(ValueAt("ck", 5, T(2)));
  ASSERT_TRUE(u.ok());
  EXPECT_THAT(u->objectives, ElementsAre("c"));
  EXPECT_NEAR(ScoreOf(g, "p"), 0.3, kEps);
}

// --- Duality: KR progress from children -----------------------------------------

TEST(DualityTest, KeyResultTakesWeightedMeanOfChildren) {
  // pk takes (1 x 0.25 + 3 x 0.75) / 4 = 0.625 from d1, d2; its own
  // check-in of 10/10 is ignored. An archived child is not an input.
  Objective archived = CascadedFrom(Obj("d3"), "p", "pk");
  archived.state = ObjectiveState::kArchived;
  ScoreGraph g =
      MustBuild({Obj("p"), CascadedFrom(Obj("d1"), "p", "pk", 1),
                 CascadedFrom(Obj("d2"), "p", "pk", 3), archived},
                {FromChildren(Metric("pk", "p", 0, 10)), Metric("k1", "d1", 0, 4),
                 Metric("k2", "d2", 0, 4), Metric("k3", "d3", 0, 4)},
                {ValueAt("pk", 10), ValueAt("k1", 1), ValueAt("k2", 3), ValueAt("k3", 4)});
  EXPECT_NEAR(ProgressOf(g, "pk"), 0.625, kEps);
  EXPECT_NEAR(ScoreOf(g, "p"), 0.625, kEps);
  absl::StatusOr<ScoreExplanation> e = g.ExplainKeyResult("pk");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->inputs.size(), 2u);
  EXPECT_EQ(e->inputs[1].id, "d2");
  EXPECT_EQ(e->inputs[1].kind, "objective");
  EXPECT_EQ(e->inputs[1].weight, 3);
  EXPECT_THAT(e->formula, HasSubstr("check-ins ignored"));

  // A check-in on pk changes nothing while it takes progress from children.
  absl::StatusOr<ScoreUpdate> u = g.ApplyCheckIn(ValueAt("pk", 0, T(5)));
  ASSERT_TRUE(u.ok());
  EXPECT_THAT(u->key_results, IsEmpty());
  EXPECT_NEAR(ProgressOf(g, "pk"), 0.625, kEps);
}

TEST(DualityTest, FallsBackToCheckInsWithoutChildren) {
  Objective archived = CascadedFrom(Obj("d"), "p", "pk");
  archived.state = ObjectiveState::kArchived;
  ScoreGraph g = MustBuild({Obj("p"), archived},
                           {FromChildren(Metric("pk", "p", 0, 10)), Metric("dk", "d", 0, 10)},
                           {ValueAt("pk", 3), ValueAt("dk", 10)});
  EXPECT_NEAR(ProgressOf(g, "pk"), 0.3, kEps);
  absl::StatusOr<ScoreExplanation> e = g.ExplainKeyResult("pk");
  ASSERT_TRUE(e.ok());
  EXPECT_THAT(e->origin, HasSubstr("check-in value 3"));
  EXPECT_THAT(e->notes, testing::Contains(HasSubstr("no non-archived objective")));
}

TEST(DualityTest, WithoutTheFlagTheKeyResultKeepsItsCheckIns) {
  ScoreGraph g = MustBuild({Obj("p"), CascadedFrom(Obj("d"), "p", "pk")},
                           {Metric("pk", "p", 0, 10), Metric("dk", "d", 0, 10)},
                           {ValueAt("pk", 3), ValueAt("dk", 10)});
  EXPECT_NEAR(ProgressOf(g, "pk"), 0.3, kEps);
  EXPECT_NEAR(ScoreOf(g, "p"), 0.3, kEps);
}

// --- the customer-success cascade of annual-planning-with-okrs.txt ----------------

// Both cascades of "How to Cascade OKRs", side by side in one forest.
//
// Duality method (company KR -> Jane's objective -> Jane's KR -> Nick's objective):
//   Company "Earn customer love and trust" (dc), KR dc1 "Increase customer
//   retention rate to 99%" takes progress from children.
//   Jane "Increase customer retention rate to 99%" (dj), cascaded from dc1:
//     dj1 "Implement customer improvement plan for 100% of at-risk customers"
//         takes progress from children;
//     dj2 "Increase NPS score from 7 to 8.5": check-in 8.2 -> 1.2 / 1.5 = 0.8
//     dj3 "Increase customer engagement from 1x a month to 2x a month":
//         check-in 1.5 -> 0.5 / 1 = 0.5
//   Nick "Implement customer improvement plan for 100% of all at-risk
//   customers" (dn), cascaded from dj1:
//     dn1 "Reduce customer response time from 72 hours to <24 hours", weight 2:
//         check-in 36 -> (36 - 72) / (24 - 72) = 0.75
//     dn2 "Increase total amount of completed QBRs from 88% to 100%":
//         check-in 97 -> 9 / 12 = 0.75
//     dn3 "Develop an action plan with 3 improvements ..." milestone, not done: 0
//   dn  = (2 x 0.75 + 0.75 + 0) / 4 = 2.25 / 4 = 0.5625
//   dj1 = dn = 0.5625
//   dj  = (0.5625 + 0.8 + 0.5) / 3 = 1.8625 / 3 = 0.6208333...
//   dc1 = dj = 0.6208333... (its own check-in of 99% is ignored)
//   dc  = 0.6208333...  -> YELLOW, not yet an aspirational success.
//
// Classic method (each level writes its own objective and aligns it):
//   Company "Earn customer love and trust" (cc), source BOTH, KR cc1 "Maintain
//   an NPS score greater than 8" AT_LEAST 8: check-in 8.3 -> 1.
//   Jane "Increase customer satisfaction" (cj), aligned to cc, source BOTH:
//     cj1 "Identify top 3 drivers causing friction and implement corrective
//         action" milestone, done -> 1
//     cj2 "Reduce customer response time to <24 hours" AT_MOST 24: 30 h -> 0
//     cj3 "Resolve 90% open cases" 0 -> 90: 45 -> 0.5
//   Nick ">4.5 CSAT score on implementations" (cn), aligned to cj, link weight 2:
//     cn1 "Deploy new onboarding ... to 100% of new customers" 0 -> 100: 40 -> 0.4
//     cn2 "Implement new customer community with 65% engagement rate" 0 -> 65:
//         52 -> 0.8
//     cn3 "Make customer office hour training sessions available 4x week" 0 -> 4:
//         4 -> 1
//   cn = (0.4 + 0.8 + 1) / 3 = 2.2 / 3 = 0.7333...
//   cj = (1 + 0 + 0.5 + 2 x 0.7333...) / (3 + 2) = 2.9666... / 5 = 0.5933...
//   cc = (1 + 0.5933...) / 2 = 0.7966...  -> GREEN: aspirational success, but a
//   committed objective would be a miss.
class CustomerSuccessCascadeTest : public ::testing::Test {
 protected:
  static std::vector<Objective> Objectives() {
    Objective dc = Obj("dc");
    dc.title = "Earn customer love and trust";
    dc.level = Level::kCompany;
    Objective dj = CascadedFrom(Obj("dj"), "dc", "dc1");
    dj.title = "Increase customer retention rate to 99%";
    Objective dn = CascadedFrom(Obj("dn"), "dj", "dj1");
    dn.title = "Implement customer improvement plan for 100% of all at-risk customers";

    Objective cc = Obj("cc", ProgressSource::kBoth);
    cc.title = "Earn customer love and trust";
    Objective cj = AlignedTo(Obj("cj", ProgressSource::kBoth), "cc");
    cj.title = "Increase customer satisfaction";
    Objective cn = AlignedTo(Obj("cn"), "cj", 2);
    cn.title = ">4.5 CSAT score on implementations";
    return {dc, dj, dn, cc, cj, cn};
  }

  static std::vector<KeyResult> KeyResults() {
    return {
        FromChildren(Metric("dc1", "dc", 90, 99)),
        FromChildren(Metric("dj1", "dj", 0, 100)),
        Metric("dj2", "dj", 7, 8.5),
        Metric("dj3", "dj", 1, 2),
        Metric("dn1", "dn", 72, 24, 2),
        Metric("dn2", "dn", 88, 100),
        Milestone("dn3", "dn"),
        Metric("cc1", "cc", 7.5, 8, 1, Direction::kAtLeast),
        Milestone("cj1", "cj"),
        Metric("cj2", "cj", 72, 24, 1, Direction::kAtMost),
        Metric("cj3", "cj", 0, 90),
        Metric("cn1", "cn", 0, 100),
        Metric("cn2", "cn", 0, 65),
        Metric("cn3", "cn", 0, 4),
    };
  }

  static std::vector<CheckIn> CheckIns() {
    return {ValueAt("dc1", 99), ValueAt("dj2", 8.2),  ValueAt("dj3", 1.5), ValueAt("dn1", 36),
            ValueAt("dn2", 97), DoneAt("dn3", false), ValueAt("cc1", 8.3), DoneAt("cj1", true),
            ValueAt("cj2", 30), ValueAt("cj3", 45),   ValueAt("cn1", 40),  ValueAt("cn2", 52),
            ValueAt("cn3", 4)};
  }
};

TEST_F(CustomerSuccessCascadeTest, DualityScores) {
  ScoreGraph g = MustBuild(Objectives(), KeyResults(), CheckIns());
  EXPECT_NEAR(ScoreOf(g, "dn"), 0.5625, kEps);
  EXPECT_NEAR(ProgressOf(g, "dj1"), 0.5625, kEps);
  EXPECT_NEAR(ProgressOf(g, "dj2"), 0.8, kEps);
  EXPECT_NEAR(ProgressOf(g, "dj3"), 0.5, kEps);
  EXPECT_NEAR(ScoreOf(g, "dj"), 1.8625 / 3, kEps);
  EXPECT_NEAR(ProgressOf(g, "dc1"), 1.8625 / 3, kEps);
  EXPECT_NEAR(ScoreOf(g, "dc"), 1.8625 / 3, kEps);
  EXPECT_EQ(GradeOf(ScoreOf(g, "dc")), Grade::kYellow);
  EXPECT_FALSE(IsSuccess(ObjectiveKind::kAspirational, ScoreOf(g, "dc")));
}

TEST_F(CustomerSuccessCascadeTest, ClassicScores) {
  ScoreGraph g = MustBuild(Objectives(), KeyResults(), CheckIns());
  EXPECT_NEAR(ScoreOf(g, "cn"), 2.2 / 3, kEps);
  EXPECT_NEAR(ScoreOf(g, "cj"), (1.5 + 2 * 2.2 / 3) / 5, kEps);
  const double cc = (1 + (1.5 + 2 * 2.2 / 3) / 5) / 2;
  EXPECT_NEAR(ScoreOf(g, "cc"), cc, kEps);
  EXPECT_NEAR(cc, 0.79666666, 1e-7);
  EXPECT_EQ(GradeOf(ScoreOf(g, "cc")), Grade::kGreen);
  EXPECT_TRUE(IsSuccess(ObjectiveKind::kAspirational, ScoreOf(g, "cc")));
  EXPECT_FALSE(IsSuccess(ObjectiveKind::kCommitted, ScoreOf(g, "cc")));
}

TEST_F(CustomerSuccessCascadeTest, NickFinishingHisActionPlanRollsUp) {
  ScoreGraph g = MustBuild(Objectives(), KeyResults(), CheckIns());
  // dn3 done: dn = (1.5 + 0.75 + 1) / 4 = 0.8125; dj = (0.8125 + 0.8 + 0.5) / 3
  // = 2.1125 / 3 = 0.7041666...; dc1 and dc follow. The Classic tree is untouched.
  absl::StatusOr<ScoreUpdate> u = g.ApplyCheckIn(DoneAt("dn3", true, T(8)));
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_NEAR(ScoreOf(g, "dn"), 0.8125, kEps);
  EXPECT_NEAR(ScoreOf(g, "dj"), 2.1125 / 3, kEps);
  EXPECT_NEAR(ScoreOf(g, "dc"), 2.1125 / 3, kEps);
  EXPECT_EQ(GradeOf(ScoreOf(g, "dc")), Grade::kGreen);
  EXPECT_THAT(u->key_results, ElementsAre("dn3", "dj1", "dc1"));
  EXPECT_THAT(u->objectives, ElementsAre("dn", "dj", "dc"));
}

TEST_F(CustomerSuccessCascadeTest, ExplanationsNameEveryInput) {
  ScoreGraph g = MustBuild(Objectives(), KeyResults(), CheckIns());
  absl::StatusOr<ScoreExplanation> dn = g.ExplainObjective("dn");
  ASSERT_TRUE(dn.ok());
  EXPECT_EQ(dn->kind, "objective");
  EXPECT_NEAR(dn->result, 0.5625, kEps);
  ASSERT_EQ(dn->inputs.size(), 3u);
  EXPECT_EQ(dn->inputs[0].id, "dn1");
  EXPECT_EQ(dn->inputs[0].kind, "key_result");
  EXPECT_EQ(dn->inputs[0].weight, 2);
  EXPECT_NEAR(dn->inputs[0].progress, 0.75, kEps);
  EXPECT_EQ(dn->inputs[0].origin, "check-in value 36 at 2027-01-01T00:00:00+00:00");
  EXPECT_THAT(dn->inputs[2].origin, HasSubstr("milestone not done"));
  EXPECT_THAT(dn->formula, HasSubstr("= 2.25 / 4 = 0.5625"));

  absl::StatusOr<ScoreExplanation> dn1 = g.ExplainKeyResult("dn1");
  ASSERT_TRUE(dn1.ok());
  EXPECT_THAT(dn1->formula, HasSubstr("clamp((36 - 72) / (24 - 72), 0, 1) = 0.75"));

  absl::StatusOr<ScoreExplanation> dj = g.ExplainObjective("dj");
  ASSERT_TRUE(dj.ok());
  EXPECT_THAT(dj->inputs[0].origin, HasSubstr("children: weighted mean of 1 aligned objective"));

  absl::StatusOr<ScoreExplanation> cj2 = g.ExplainKeyResult("cj2");
  ASSERT_TRUE(cj2.ok());
  EXPECT_THAT(cj2->formula, HasSubstr("current 30 > 24 -> 0"));

  absl::StatusOr<ScoreExplanation> cc = g.ExplainObjective("cc");
  ASSERT_TRUE(cc.ok());
  ASSERT_EQ(cc->inputs.size(), 2u);
  EXPECT_EQ(cc->inputs[1].id, "cj");
  EXPECT_EQ(cc->inputs[1].title, "Increase customer satisfaction");
  EXPECT_EQ(cc->inputs[1].kind, "objective");
  EXPECT_THAT(cc->ToString(), HasSubstr("objective 'cj' (Increase customer satisfaction)"));

  EXPECT_EQ(g.ExplainObjective("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(g.ExplainKeyResult("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(ExplanationTest, NoCheckInYet) {
  ScoreGraph g = MustBuild({Obj("o")}, {Metric("k", "o", 72, 24)});
  absl::StatusOr<ScoreExplanation> e = g.ExplainObjective("o");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->inputs.size(), 1u);
  EXPECT_THAT(e->inputs[0].origin, HasSubstr("no check-in yet: current = from"));
}

// --- weights changed incrementally ---------------------------------------------

TEST(IncrementalTest, WeightChanges) {
  ScoreGraph g = MustBuild(
      {Obj("p", ProgressSource::kChildren), AlignedTo(Obj("c1"), "p"), AlignedTo(Obj("c2"), "p")},
      {Metric("a", "c1", 0, 10), Metric("b", "c1", 0, 10), Metric("d", "c2", 0, 10)},
      {ValueAt("a", 10), ValueAt("b", 0), ValueAt("d", 2)});
  // c1 = 0.5, c2 = 0.2, p = 0.35.
  EXPECT_NEAR(ScoreOf(g, "p"), 0.35, kEps);
  // a weight 3: c1 = 0.75, p = (0.75 + 0.2) / 2 = 0.475.
  absl::StatusOr<ScoreUpdate> u = g.SetKeyResultWeight("a", 3);
  ASSERT_TRUE(u.ok());
  EXPECT_NEAR(ScoreOf(g, "c1"), 0.75, kEps);
  EXPECT_NEAR(ScoreOf(g, "p"), 0.475, kEps);
  EXPECT_THAT(u->objectives, ElementsAre("c1", "p"));
  // c2 link weight 0: p = c1 = 0.75.
  u = g.SetAlignmentWeight("c2", 0);
  ASSERT_TRUE(u.ok());
  EXPECT_NEAR(ScoreOf(g, "p"), 0.75, kEps);
  EXPECT_THAT(u->objectives, ElementsAre("p"));
  EXPECT_EQ(g.SetAlignmentWeight("p", 2).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(g.SetKeyResultWeight("zz", 2).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(g.ApplyCheckIn(ValueAt("zz", 2)).status().code(), absl::StatusCode::kNotFound);
}

TEST(IncrementalTest, OlderValueNeverReplacesNewer) {
  ScoreGraph g = MustBuild({Obj("o")}, {Metric("k", "o", 0, 10)}, {ValueAt("k", 6, T(5))});
  absl::StatusOr<ScoreUpdate> u = g.ApplyCheckIn(ValueAt("k", 2, T(4)));
  ASSERT_TRUE(u.ok());
  EXPECT_THAT(u->key_results, IsEmpty());
  EXPECT_NEAR(ProgressOf(g, "k"), 0.6, kEps);
  // A confidence-only check-in keeps the value.
  CheckIn confidence;
  confidence.key_result_id = "k";
  confidence.confidence = 3;
  confidence.time = T(6);
  ASSERT_TRUE(g.ApplyCheckIn(confidence).ok());
  EXPECT_NEAR(ProgressOf(g, "k"), 0.6, kEps);
}

TEST(BuildTest, CheckInHistoryPicksTheLatestValue) {
  ScoreGraph g = MustBuild({Obj("o")}, {Metric("k", "o", 0, 10)},
                           {ValueAt("k", 7, T(3)), ValueAt("k", 2, T(1)), ValueAt("k", 4, T(2)),
                            ValueAt("unknown-kr", 1, T(9))});
  EXPECT_NEAR(ProgressOf(g, "k"), 0.7, kEps);
}

// --- structure errors -------------------------------------------------------------

TEST(BuildTest, CycleIsRejected) {
  absl::StatusOr<ScoreGraph> g =
      ScoreGraph::Build({AlignedTo(Obj("a"), "c"), AlignedTo(Obj("b"), "a"),
                         AlignedTo(Obj("c"), "b"), Obj("r"), AlignedTo(Obj("leaf"), "a")},
                        {}, {});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(g.status().message(), HasSubstr("cycle"));
  EXPECT_THAT(g.status().message(), HasSubstr("objective 'a'"));
}

TEST(BuildTest, SelfAlignmentAndKeyResultLoopsAreCycles) {
  absl::StatusOr<ScoreGraph> self = ScoreGraph::Build({AlignedTo(Obj("a"), "a")}, {}, {});
  EXPECT_EQ(self.status().code(), absl::StatusCode::kFailedPrecondition);
  // An objective cascaded from its own KR.
  absl::StatusOr<ScoreGraph> own_kr =
      ScoreGraph::Build({CascadedFrom(Obj("a"), "a", "ak")}, {Metric("ak", "a", 0, 1)}, {});
  EXPECT_EQ(own_kr.status().code(), absl::StatusCode::kFailedPrecondition);
  // Through a KR: a -> b's KR, b -> a.
  absl::StatusOr<ScoreGraph> via_kr = ScoreGraph::Build(
      {CascadedFrom(Obj("a"), "b", "bk"), AlignedTo(Obj("b"), "a")}, {Metric("bk", "b", 0, 1)}, {});
  EXPECT_EQ(via_kr.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(BuildTest, MissingReferences) {
  absl::StatusOr<ScoreGraph> g = ScoreGraph::Build({AlignedTo(Obj("a"), "ghost")}, {}, {});
  EXPECT_EQ(g.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(g.status().message(), HasSubstr("objective 'a'"));
  EXPECT_THAT(g.status().message(), HasSubstr("alignment.parent_objective_id 'ghost'"));

  g = ScoreGraph::Build({CascadedFrom(Obj("a"), "", "ghost-kr")}, {}, {});
  EXPECT_EQ(g.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(g.status().message(), HasSubstr("alignment.parent_key_result_id 'ghost-kr'"));

  g = ScoreGraph::Build({Obj("a")}, {Metric("k", "ghost", 0, 1)}, {});
  EXPECT_EQ(g.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(g.status().message(), HasSubstr("key result 'k'"));

  g = ScoreGraph::Build({Obj("a"), Obj("a")}, {}, {});
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);

  g = ScoreGraph::Build({Obj("p"), Obj("q"), CascadedFrom(Obj("a"), "q", "pk")},
                        {Metric("pk", "p", 0, 1)}, {});
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(g.status().message(), HasSubstr("alignment.parent_objective_id 'q'"));
}

// --- deep and wide trees ------------------------------------------------------------

constexpr int kChain = 10000;

TEST(ScaleTest, DeepClassicChain) {
  // o0 <- o1 <- ... <- o9999, each scored from its only child; the leaf has
  // one KR. Every objective's score equals the leaf's.
  std::vector<Objective> objectives;
  objectives.push_back(Obj("o0", ProgressSource::kChildren));
  for (int i = 1; i < kChain; ++i) {
    objectives.push_back(
        AlignedTo(Obj(absl::StrCat("o", i),
                      i + 1 < kChain ? ProgressSource::kChildren : ProgressSource::kKeyResults),
                  absl::StrCat("o", i - 1)));
  }
  const std::string leaf = absl::StrCat("o", kChain - 1);
  ScoreGraph g = MustBuild(objectives, {Metric("k", leaf, 0, 4)}, {ValueAt("k", 1)});
  EXPECT_NEAR(ScoreOf(g, "o0"), 0.25, kEps);
  absl::StatusOr<ScoreUpdate> u = g.ApplyCheckIn(ValueAt("k", 3, T(2)));
  ASSERT_TRUE(u.ok());
  EXPECT_NEAR(ScoreOf(g, "o0"), 0.75, kEps);
  EXPECT_NEAR(ScoreOf(g, "o5000"), 0.75, kEps);
  EXPECT_EQ(u->objectives.size(), static_cast<size_t>(kChain));
  EXPECT_EQ(u->objectives.front(), leaf);
  EXPECT_EQ(u->objectives.back(), "o0");
}

TEST(ScaleTest, DeepDualityChain) {
  // d0 has KR d0k (from children) <- d1 cascaded from it, with KR d1k <- ...
  // The leaf's KR is a milestone.
  std::vector<Objective> objectives;
  std::vector<KeyResult> key_results;
  for (int i = 0; i < kChain; ++i) {
    const std::string id = absl::StrCat("d", i);
    objectives.push_back(
        i == 0 ? Obj(id)
               : CascadedFrom(Obj(id), absl::StrCat("d", i - 1), absl::StrCat("d", i - 1, "k")));
    key_results.push_back(i + 1 < kChain ? FromChildren(Metric(absl::StrCat(id, "k"), id, 0, 1))
                                         : Milestone(absl::StrCat(id, "k"), id));
  }
  ScoreGraph g = MustBuild(objectives, key_results);
  EXPECT_EQ(ScoreOf(g, "d0"), 0);
  absl::StatusOr<ScoreUpdate> u = g.ApplyCheckIn(DoneAt(absl::StrCat("d", kChain - 1, "k"), true));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(ScoreOf(g, "d0"), 1);
  EXPECT_EQ(u->key_results.size(), static_cast<size_t>(kChain));
  EXPECT_EQ(u->objectives.size(), static_cast<size_t>(kChain));
}

TEST(ScaleTest, DeepCycleIsFoundWithoutRecursion) {
  std::vector<Objective> objectives;
  for (int i = 0; i < kChain; ++i) {
    objectives.push_back(AlignedTo(Obj(absl::StrCat("o", i)), absl::StrCat("o", (i + 1) % kChain)));
  }
  absl::StatusOr<ScoreGraph> g = ScoreGraph::Build(objectives, {}, {});
  EXPECT_EQ(g.status().code(), absl::StatusCode::kFailedPrecondition);
  // The message stays readable: a few ids, not ten thousand.
  EXPECT_LT(g.status().message().size(), 400u);
}

TEST(ScaleTest, WideTree) {
  // A root scored from 10,000 children; child i has one KR at i % 2.
  std::vector<Objective> objectives = {Obj("root", ProgressSource::kChildren)};
  std::vector<KeyResult> key_results;
  std::vector<CheckIn> check_ins;
  for (int i = 0; i < kChain; ++i) {
    const std::string id = absl::StrCat("c", i);
    objectives.push_back(AlignedTo(Obj(id), "root"));
    key_results.push_back(Metric(absl::StrCat(id, "k"), id, 0, 1));
    check_ins.push_back(ValueAt(absl::StrCat(id, "k"), i % 2));
  }
  ScoreGraph g = MustBuild(objectives, key_results, check_ins);
  EXPECT_NEAR(ScoreOf(g, "root"), 0.5, kEps);
  // Flip every even child to 1 one by one: each step touches only KR, child
  // and root, and no sum is ever re-summed over the 10,000 children.
  for (int i = 0; i < kChain; i += 2) {
    absl::StatusOr<ScoreUpdate> u = g.ApplyCheckIn(ValueAt(absl::StrCat("c", i, "k"), 1, T(2)));
    ASSERT_TRUE(u.ok());
    ASSERT_EQ(u->objectives.size(), 2u);
    const double expected = (kChain / 2 + i / 2 + 1) / static_cast<double>(kChain);
    ASSERT_NEAR(ScoreOf(g, "root"), expected, 1e-9) << i;
  }
  EXPECT_EQ(ScoreOf(g, "root"), 1);
  EXPECT_EQ(g.drift_recomputes(), 0);
}

// --- randomized: incremental == full rebuild ----------------------------------------

struct RandomPlan {
  std::vector<Objective> objectives;
  std::vector<KeyResult> key_results;
};

RandomPlan MakeRandomForest(std::mt19937& rng, int num_objectives) {
  RandomPlan plan;
  std::uniform_real_distribution<double> unit(0, 1);
  auto chance = [&](double p) { return unit(rng) < p; };
  auto weight = [&] { return chance(0.15) ? 0.0 : std::round(unit(rng) * 40) / 8 + 0.1; };
  std::vector<std::vector<int>> krs_of(num_objectives);
  const ProgressSource sources[] = {ProgressSource::kKeyResults, ProgressSource::kChildren,
                                    ProgressSource::kBoth, ProgressSource::kUnspecified};
  for (int o = 0; o < num_objectives; ++o) {
    Objective obj = Obj(absl::StrCat("o", o), sources[rng() % 4]);
    if (chance(0.1)) obj.state = ObjectiveState::kArchived;
    // Parents come earlier, so this is a forest by construction.
    if (o > 0 && chance(0.85)) {
      const int parent = static_cast<int>(rng() % o);
      if (!krs_of[parent].empty() && chance(0.5)) {
        const int k = krs_of[parent][rng() % krs_of[parent].size()];
        obj = CascadedFrom(obj, chance(0.5) ? absl::StrCat("o", parent) : "",
                           plan.key_results[k].id, weight());
      } else {
        obj = AlignedTo(obj, absl::StrCat("o", parent), weight());
      }
    }
    plan.objectives.push_back(obj);
    const int num_krs = static_cast<int>(rng() % 5);
    for (int j = 0; j < num_krs; ++j) {
      const std::string id = absl::StrCat("o", o, "k", j);
      KeyResult kr;
      if (chance(0.2)) {
        kr = Milestone(id, obj.id, weight());
      } else {
        const double from = std::round((unit(rng) - 0.5) * 200) / 4;
        double to = std::round((unit(rng) - 0.5) * 200) / 4;
        if (to == from) to += 1;
        const Direction directions[] = {Direction::kUnspecified, Direction::kAtLeast,
                                        Direction::kAtMost, Direction::kUnspecified};
        kr = Metric(id, obj.id, from, to, weight(), directions[rng() % 4]);
      }
      kr.progress_from_children = chance(0.4);
      kr.archived = chance(0.1);
      krs_of[o].push_back(static_cast<int>(plan.key_results.size()));
      plan.key_results.push_back(kr);
    }
  }
  return plan;
}

class RandomizedTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(RandomizedTest, IncrementalMatchesFullRebuild) {
  std::mt19937 rng(GetParam());
  std::uniform_real_distribution<double> unit(0, 1);
  RandomPlan plan = MakeRandomForest(rng, 300);
  std::vector<CheckIn> history;
  ScoreGraph g = MustBuild(plan.objectives, plan.key_results, history);

  auto snapshot = [&](const ScoreGraph& graph) {
    std::vector<double> values;
    for (const Objective& o : plan.objectives) values.push_back(*graph.ScoreOf(o.id));
    for (const KeyResult& k : plan.key_results) values.push_back(*graph.ProgressOf(k.id));
    return values;
  };
  ASSERT_FALSE(plan.key_results.empty());
  for (int step = 0; step < 600; ++step) {
    const std::vector<double> before = snapshot(g);
    absl::StatusOr<ScoreUpdate> u;
    const double what = unit(rng);
    if (what < 0.85) {
      const KeyResult& kr = plan.key_results[rng() % plan.key_results.size()];
      CheckIn c;
      c.key_result_id = kr.id;
      // Mostly moving forward in time, sometimes a late (older) check-in.
      c.time =
          T(1) + absl::Minutes(step) - (unit(rng) < 0.1 ? absl::Hours(3) : absl::ZeroDuration());
      if (kr.type == KeyResultType::kMilestone) {
        if (unit(rng) < 0.9) c.done = unit(rng) < 0.6;
      } else if (unit(rng) < 0.9) {
        c.value = kr.from + (kr.to - kr.from) * (unit(rng) * 1.4 - 0.2);
      }
      if (unit(rng) < 0.3) c.confidence = static_cast<int>(rng() % 11);
      history.push_back(c);
      u = g.ApplyCheckIn(c);
    } else if (what < 0.93) {
      KeyResult& kr = plan.key_results[rng() % plan.key_results.size()];
      kr.weight = unit(rng) < 0.2 ? 0 : unit(rng) * 3;
      u = g.SetKeyResultWeight(kr.id, kr.weight);
    } else {
      Objective& o = plan.objectives[rng() % plan.objectives.size()];
      if (o.alignment.kind == AlignmentKind::kNone) continue;
      o.alignment.weight = unit(rng) < 0.2 ? 0 : unit(rng) * 3;
      u = g.SetAlignmentWeight(o.id, o.alignment.weight);
    }
    ASSERT_TRUE(u.ok()) << u.status();

    ScoreGraph full = MustBuild(plan.objectives, plan.key_results, history);
    const std::vector<double> after = snapshot(g);
    const std::vector<double> expected = snapshot(full);
    const size_t num_obj = plan.objectives.size();
    for (size_t i = 0; i < after.size(); ++i) {
      const std::string& id =
          i < num_obj ? plan.objectives[i].id : plan.key_results[i - num_obj].id;
      ASSERT_NEAR(after[i], expected[i], 1e-9) << "step " << step << " id " << id;
      // Every value that moved is reported.
      if (std::fabs(after[i] - before[i]) > 1e-12) {
        const std::vector<Id>& reported = i < num_obj ? u->objectives : u->key_results;
        ASSERT_NE(std::find(reported.begin(), reported.end(), id), reported.end())
            << "step " << step << ": " << id << " changed but was not reported";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomizedTest, ::testing::Values(1u, 7u, 42u, 2027u, 31337u));

// --- size ---------------------------------------------------------------------------

TEST(ScaleTest, HundredThousandObjectives) {
  // 100,000 objectives (10 company roots, 4-level trees, a mix of Classic
  // and Duality links) with 400,000 KRs, one check-in each.
  constexpr int kObjectives = 100000;
  std::vector<Objective> objectives;
  std::vector<KeyResult> key_results;
  std::vector<CheckIn> check_ins;
  objectives.reserve(kObjectives);
  key_results.reserve(4 * kObjectives);
  check_ins.reserve(4 * kObjectives);
  for (int o = 0; o < kObjectives; ++o) {
    const std::string id = absl::StrCat("objective-", o);
    Objective obj = Obj(id, o % 3 == 0 ? ProgressSource::kBoth : ProgressSource::kKeyResults);
    if (o >= 10) {
      const int parent = (o - 10) / 10;
      obj = o % 2 == 0 ? AlignedTo(obj, absl::StrCat("objective-", parent))
                       : CascadedFrom(obj, "", absl::StrCat("objective-", parent, "-kr-", o % 4));
    }
    objectives.push_back(obj);
    for (int j = 0; j < 4; ++j) {
      const std::string kr_id = absl::StrCat(id, "-kr-", j);
      KeyResult kr = Metric(kr_id, id, 0, 100, 1 + j);
      kr.progress_from_children = j == 1;
      key_results.push_back(kr);
      check_ins.push_back(ValueAt(kr_id, (o * 7 + j * 13) % 100));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  ScoreGraph g = MustBuild(objectives, key_results, check_ins);
  const double build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("full build of %d objectives / %zu KRs: %.1f ms\n", kObjectives, key_results.size(),
              build_ms);
  EXPECT_EQ(g.objective_count(), static_cast<size_t>(kObjectives));
  EXPECT_EQ(g.key_result_count(), 4u * kObjectives);
  // One check-in on a leaf touches a handful of nodes, not the tree.
  absl::StatusOr<ScoreUpdate> u =
      g.ApplyCheckIn(ValueAt(absl::StrCat("objective-", kObjectives - 1, "-kr-0"), 100, T(2)));
  ASSERT_TRUE(u.ok());
  EXPECT_LE(u->objectives.size(), 6u);
  EXPECT_GE(u->objectives.size(), 1u);
}

}  // namespace
}  // namespace okr
