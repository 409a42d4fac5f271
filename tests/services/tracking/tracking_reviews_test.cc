// Reviews (create, replace, validation, final-score overrides), CloseCycle
// (grace, force, freezing, idempotency) and RebuildRollups.
#include <algorithm>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/model_proto.h"
#include "tests/services/tracking/tracking_test_util.h"

namespace okr::tracking {
namespace {

using ::absl::StatusCode;
using ::testing::ElementsAre;

// 2026-05-08T04:00:00Z: Q1's end (1 May) + 7 grace days, midnight in New
// York on daylight time.
constexpr int64_t kQ1GraceEndUnix = 1778212800;

// Q1 holds a parent P (scored from its children) and O aligned to it; O has
// a = 2.5 / 10 = 0.25 and b = 5 / 10 = 0.5, so O = P = 0.375.
class ReviewsTest : public TrackingTest {
 protected:
  ReviewsTest() {
    parent_ = MakeObjective("Parent", author_.id, ScoredFrom(ProgressSource::kChildren));
    objective_ = MakeObjective("Reviewed", author_.id);
    a_ = MakeMetricKr(objective_.id, "A", 0, 10);
    b_ = MakeMetricKr(objective_.id, "B", 0, 10);
    Align(objective_.id, parent_.id);
    CheckIn(a_.id, 2.5);
    CheckIn(b_.id, 5);
  }

  v1::Review EndOfQuarter(const Id& objective_id) {
    v1::Review review;
    review.set_objective_id(objective_id);
    review.set_kind(v1::REVIEW_KIND_END_OF_QUARTER);
    return review;
  }

  absl::Status Upsert(const v1::Review& review, int64_t version, v1::Review* out = nullptr) {
    v1::UpsertReviewRequest request;
    *request.mutable_review() = review;
    request.set_version(version);
    v1::Review ignored;
    return tracking_->UpsertReview(kOrg, request, out != nullptr ? out : &ignored);
  }

  absl::Status Close(const Id& cycle_id, bool force, v1::CloseCycleResponse* out) {
    v1::CloseCycleRequest request;
    request.set_cycle_id(cycle_id);
    request.set_force(force);
    return tracking_->CloseCycle(kOrg, request, out);
  }

  Objective parent_;
  Objective objective_;
  KeyResult a_;
  KeyResult b_;
};

TEST_F(ReviewsTest, CreateFillsTheOutputFields) {
  v1::Review review = EndOfQuarter(objective_.id);
  v1::KeyResultReview* kr = review.add_key_results();
  kr->set_key_result_id(a_.id);
  kr->set_final_score(0.9);
  kr->set_note("The campaign landed late but well");
  review.set_learnings("Start the campaign earlier");
  review.set_roll_over(true);
  review.set_author_id(author_.id);
  review.set_id("ignored");
  review.set_version(42);

  v1::Review stored;
  ASSERT_TRUE(Upsert(review, 0, &stored).ok());
  EXPECT_FALSE(stored.id().empty());
  EXPECT_NE(stored.id(), "ignored");
  EXPECT_EQ(stored.objective_id(), objective_.id);
  EXPECT_EQ(stored.cycle_id(), q1_.id);
  EXPECT_EQ(stored.kind(), v1::REVIEW_KIND_END_OF_QUARTER);
  EXPECT_EQ(stored.version(), 1);
  EXPECT_NEAR(stored.computed_score(), 0.375, 1e-12);
  ASSERT_EQ(stored.key_results_size(), 1);
  EXPECT_DOUBLE_EQ(stored.key_results(0).computed_score(), 0.25);
  EXPECT_EQ(stored.key_results(0).final_score(), 0.9);
  EXPECT_EQ(stored.key_results(0).note(), "The campaign landed late but well");
  // Effective: no objective final score, so the KR-weighted mean of final-or-
  // computed scores: (0.9 + 0.5) / 2 = 0.7, GREEN.
  EXPECT_FALSE(stored.has_final_score());
  EXPECT_EQ(stored.grade(), v1::GRADE_GREEN);
  EXPECT_EQ(stored.learnings(), "Start the campaign earlier");
  EXPECT_TRUE(stored.roll_over());
  EXPECT_EQ(stored.author_id(), author_.id);
  EXPECT_EQ(stored.create_time().seconds(), absl::ToUnixSeconds(now_));
  EXPECT_EQ(stored.update_time().seconds(), absl::ToUnixSeconds(now_));

  v1::GetReviewRequest get;
  get.set_objective_id(objective_.id);
  get.set_kind(v1::REVIEW_KIND_END_OF_QUARTER);
  v1::Review read;
  ASSERT_TRUE(tracking_->GetReview(kOrg, get, &read).ok());
  EXPECT_EQ(read.ShortDebugString(), stored.ShortDebugString());
  Restart();
  ASSERT_TRUE(tracking_->GetReview(kOrg, get, &read).ok());
  EXPECT_EQ(read.ShortDebugString(), stored.ShortDebugString());
}

TEST_F(ReviewsTest, FinalScoresOverrideOnlyTheReviewedObjectiveAndItsKeyResults) {
  v1::Review review = EndOfQuarter(objective_.id);
  v1::KeyResultReview* kr = review.add_key_results();
  kr->set_key_result_id(a_.id);
  kr->set_final_score(0.9);
  ASSERT_TRUE(Upsert(review, 0).ok());

  const v1::KeyResultScore a = KrScore(a_.id);
  EXPECT_DOUBLE_EQ(a.progress(), 0.25);  // computed, unchanged
  EXPECT_EQ(a.final_score(), 0.9);
  EXPECT_EQ(a.grade(), v1::GRADE_GREEN);
  const v1::KeyResultScore b = KrScore(b_.id);
  EXPECT_FALSE(b.has_final_score());
  EXPECT_EQ(b.grade(), v1::GRADE_YELLOW);

  // O: computed 0.375; final = (0.9 + 0.5) / 2 = 0.7: GREEN, but COMMITTED
  // needs 1.0 to succeed.
  v1::ObjectiveScore o = ObjScore(objective_.id);
  EXPECT_NEAR(o.score(), 0.375, 1e-12);
  EXPECT_NEAR(o.final_score(), 0.7, 1e-12);
  EXPECT_EQ(o.grade(), v1::GRADE_GREEN);
  EXPECT_FALSE(o.success());
  // The parent keeps the computed rollup.
  v1::ObjectiveScore p = ObjScore(parent_.id);
  EXPECT_NEAR(p.score(), 0.375, 1e-12);
  EXPECT_FALSE(p.has_final_score());
  EXPECT_EQ(p.grade(), v1::GRADE_RED);

  // The explanation shows the override.
  v1::ExplainScoreRequest explain;
  explain.set_key_result_id(a_.id);
  v1::ScoreExplanation e;
  ASSERT_TRUE(tracking_->ExplainScore(kOrg, explain, &e).ok());
  bool has_override = false;
  for (const v1::ScoreInput& input : e.inputs()) {
    if (input.kind() == v1::SCORE_INPUT_KIND_REVIEW_OVERRIDE) {
      has_override = true;
      EXPECT_EQ(input.value(), 0.9);
    }
  }
  EXPECT_TRUE(has_override) << e.ShortDebugString();
  bool noted = false;
  for (const std::string& note : e.notes()) {
    noted |= absl::StrContains(absl::AsciiStrToLower(note), "override");
  }
  EXPECT_TRUE(noted) << e.ShortDebugString();

  // The objective's own final score wins over the KR mean: 0.3 is RED.
  review.set_final_score(0.3);
  AdvanceClock(absl::Minutes(5));
  v1::Review replaced;
  ASSERT_TRUE(Upsert(review, 1, &replaced).ok());
  EXPECT_EQ(replaced.version(), 2);
  EXPECT_EQ(replaced.grade(), v1::GRADE_RED);
  EXPECT_EQ(replaced.update_time().seconds(), absl::ToUnixSeconds(now_));
  EXPECT_EQ(replaced.create_time().seconds(), absl::ToUnixSeconds(now_ - absl::Minutes(5)));
  o = ObjScore(objective_.id);
  EXPECT_EQ(o.final_score(), 0.3);
  EXPECT_EQ(o.grade(), v1::GRADE_RED);
  EXPECT_NEAR(ObjScore(parent_.id).score(), 0.375, 1e-12);

  // A later check-in moves the computed scores, not the overrides.
  CheckIn(a_.id, 10);
  EXPECT_DOUBLE_EQ(KrScore(a_.id).progress(), 1);
  EXPECT_EQ(KrScore(a_.id).final_score(), 0.9);
  EXPECT_NEAR(ObjScore(parent_.id).score(), 0.75, 1e-12);
  EXPECT_EQ(ObjScore(objective_.id).final_score(), 0.3);
}

TEST_F(ReviewsTest, MidQuarterReviewsDoNotOverride) {
  v1::Review review = EndOfQuarter(objective_.id);
  review.set_kind(v1::REVIEW_KIND_MID_QUARTER);
  v1::KeyResultReview* kr = review.add_key_results();
  kr->set_key_result_id(b_.id);
  kr->set_final_score(0.1);
  review.set_final_score(0.1);
  ASSERT_TRUE(Upsert(review, 0).ok());
  EXPECT_FALSE(KrScore(b_.id).has_final_score());
  EXPECT_EQ(KrScore(b_.id).grade(), v1::GRADE_YELLOW);
  EXPECT_FALSE(ObjScore(objective_.id).has_final_score());
}

TEST_F(ReviewsTest, VersionsGuardReplaces) {
  v1::Review review = EndOfQuarter(objective_.id);
  ASSERT_TRUE(Upsert(review, 0).ok());
  EXPECT_EQ(Upsert(review, 0).code(), StatusCode::kAborted);  // exists
  ASSERT_TRUE(Upsert(review, 1).ok());
  EXPECT_EQ(Upsert(review, 1).code(), StatusCode::kAborted);  // stale
  EXPECT_EQ(Upsert(review, 7).code(), StatusCode::kAborted);
  // Replacing one that does not exist.
  v1::Review other = EndOfQuarter(parent_.id);
  EXPECT_EQ(Upsert(other, 3).code(), StatusCode::kAborted);
  v1::Review stored;
  ASSERT_TRUE(Upsert(review, 2, &stored).ok());
  EXPECT_EQ(stored.version(), 3);
}

TEST_F(ReviewsTest, ValidationNamesTheField) {
  const Objective other = MakeObjective("Other", author_.id);
  const KeyResult foreign = MakeMetricKr(other.id, "Foreign", 0, 1);

  v1::UpsertReviewRequest empty;
  v1::Review out;
  EXPECT_TRUE(IsFieldError(tracking_->UpsertReview(kOrg, empty, &out),
                           StatusCode::kInvalidArgument, "review"));
  EXPECT_EQ(Upsert(EndOfQuarter("ob-unknown"), 0).code(), StatusCode::kNotFound);

  struct Case {
    std::string name;
    std::function<void(v1::Review&)> change;
    StatusCode code;
    std::string field;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Case> cases = {
      {"no kind", [](v1::Review& r) { r.clear_kind(); }, StatusCode::kInvalidArgument,
       "review.kind"},
      {"KR of another objective",
       [&](v1::Review& r) {
         r.add_key_results()->set_key_result_id(a_.id);
         r.add_key_results()->set_key_result_id(foreign.id);
       },
       StatusCode::kInvalidArgument, "review.key_results[1].key_result_id"},
      {"unknown KR", [](v1::Review& r) { r.add_key_results()->set_key_result_id("kr-x"); },
       StatusCode::kInvalidArgument, "review.key_results[0].key_result_id"},
      {"KR final above 1",
       [&](v1::Review& r) {
         auto* kr = r.add_key_results();
         kr->set_key_result_id(a_.id);
         kr->set_final_score(1.5);
       },
       StatusCode::kInvalidArgument, "review.key_results[0].final_score"},
      {"KR final below 0",
       [&](v1::Review& r) {
         auto* kr = r.add_key_results();
         kr->set_key_result_id(a_.id);
         kr->set_final_score(-0.1);
       },
       StatusCode::kInvalidArgument, "review.key_results[0].final_score"},
      {"KR final NaN",
       [&](v1::Review& r) {
         auto* kr = r.add_key_results();
         kr->set_key_result_id(a_.id);
         kr->set_final_score(nan);
       },
       StatusCode::kInvalidArgument, "review.key_results[0].final_score"},
      {"objective final 2", [](v1::Review& r) { r.set_final_score(2); },
       StatusCode::kInvalidArgument, "review.final_score"},
      {"objective final NaN", [&](v1::Review& r) { r.set_final_score(nan); },
       StatusCode::kInvalidArgument, "review.final_score"},
      {"learnings 8001", [](v1::Review& r) { r.set_learnings(std::string(8001, 'l')); },
       StatusCode::kInvalidArgument, "review.learnings"},
      {"KR note 2001",
       [&](v1::Review& r) {
         auto* kr = r.add_key_results();
         kr->set_key_result_id(a_.id);
         kr->set_note(std::string(2001, 'n'));
       },
       StatusCode::kInvalidArgument, "review.key_results[0].note"},
      {"unknown author", [](v1::Review& r) { r.set_author_id("pe-nobody"); },
       StatusCode::kNotFound, "review.author_id"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::Review review = EndOfQuarter(objective_.id);
    c.change(review);
    EXPECT_TRUE(IsFieldError(Upsert(review, 0), c.code, c.field));
  }
  // Nothing was stored.
  v1::GetReviewRequest get;
  get.set_objective_id(objective_.id);
  get.set_kind(v1::REVIEW_KIND_END_OF_QUARTER);
  EXPECT_EQ(tracking_->GetReview(kOrg, get, &out).code(), StatusCode::kNotFound);

  // The limits themselves are fine.
  v1::Review edge = EndOfQuarter(objective_.id);
  edge.set_learnings(std::string(8000, 'l'));
  edge.set_final_score(1);
  auto* kr = edge.add_key_results();
  kr->set_key_result_id(a_.id);
  kr->set_final_score(0);
  kr->set_note(std::string(2000, 'n'));
  EXPECT_TRUE(Upsert(edge, 0).ok());
}

TEST_F(ReviewsTest, PlanningCycleRefusesReviews) {
  ObjectiveSpec next;
  next.cycle_id = q2_.id;
  const Objective planned = MakeObjective("Next quarter", author_.id, next);
  absl::Status status = Upsert(EndOfQuarter(planned.id), 0);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;
}

TEST_F(ReviewsTest, GetReviewOfAnAbsentReview) {
  v1::GetReviewRequest get;
  get.set_objective_id(objective_.id);
  get.set_kind(v1::REVIEW_KIND_MID_QUARTER);
  v1::Review out;
  EXPECT_EQ(tracking_->GetReview(kOrg, get, &out).code(), StatusCode::kNotFound);
  get.set_objective_id("ob-unknown");
  EXPECT_EQ(tracking_->GetReview(kOrg, get, &out).code(), StatusCode::kNotFound);
}

TEST_F(ReviewsTest, ListReviewsOrderFiltersAndPages) {
  const Person other_owner = MakePerson("Olga Owner");
  const Objective third = MakeObjective("Third", other_owner.id);
  // Five reviews, created out of order.
  v1::Review r = EndOfQuarter(third.id);
  r.set_roll_over(true);
  ASSERT_TRUE(Upsert(r, 0).ok());
  r = EndOfQuarter(objective_.id);
  ASSERT_TRUE(Upsert(r, 0).ok());
  r.set_kind(v1::REVIEW_KIND_MID_QUARTER);
  r.set_roll_over(true);
  ASSERT_TRUE(Upsert(r, 0).ok());
  r = EndOfQuarter(parent_.id);
  r.set_kind(v1::REVIEW_KIND_MID_QUARTER);
  ASSERT_TRUE(Upsert(r, 0).ok());
  r.set_kind(v1::REVIEW_KIND_END_OF_QUARTER);
  ASSERT_TRUE(Upsert(r, 0).ok());

  std::vector<std::pair<std::string, int>> expected = {
      {objective_.id, v1::REVIEW_KIND_MID_QUARTER},
      {objective_.id, v1::REVIEW_KIND_END_OF_QUARTER},
      {parent_.id, v1::REVIEW_KIND_MID_QUARTER},
      {parent_.id, v1::REVIEW_KIND_END_OF_QUARTER},
      {third.id, v1::REVIEW_KIND_END_OF_QUARTER}};
  std::sort(expected.begin(), expected.end());

  auto list = [&](v1::ListReviewsRequest request) {
    std::vector<std::pair<std::string, int>> got;
    for (int page = 0; page < 20; ++page) {
      v1::ListReviewsResponse response;
      absl::Status status = tracking_->ListReviews(kOrg, request, &response);
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok()) break;
      for (const v1::Review& review : response.reviews()) {
        got.emplace_back(review.objective_id(), review.kind());
      }
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return got;
  };
  EXPECT_EQ(list(v1::ListReviewsRequest()), expected);

  v1::ListReviewsRequest paged;
  paged.set_page_size(2);
  v1::ListReviewsResponse first;
  ASSERT_TRUE(tracking_->ListReviews(kOrg, paged, &first).ok());
  EXPECT_EQ(first.reviews_size(), 2);
  EXPECT_EQ(first.total_size(), 5);
  EXPECT_EQ(list(paged), expected);

  v1::ListReviewsRequest filter;
  filter.set_kind(v1::REVIEW_KIND_MID_QUARTER);
  auto mid = expected;
  mid.erase(std::remove_if(mid.begin(), mid.end(),
                           [](const auto& e) { return e.second != v1::REVIEW_KIND_MID_QUARTER; }),
            mid.end());
  EXPECT_EQ(list(filter), mid);
  filter.Clear();
  filter.set_objective_id(parent_.id);
  EXPECT_EQ(list(filter).size(), 2u);
  filter.Clear();
  filter.set_owner_id(other_owner.id);
  EXPECT_THAT(list(filter), ElementsAre(std::make_pair(third.id, +v1::REVIEW_KIND_END_OF_QUARTER)));
  filter.Clear();
  filter.set_roll_over_only(true);
  EXPECT_EQ(list(filter).size(), 2u);
  filter.Clear();
  filter.set_cycle_id(q2_.id);
  EXPECT_TRUE(list(filter).empty());
  filter.set_cycle_id(q1_.id);
  EXPECT_EQ(list(filter), expected);
}

// --- CloseCycle -------------------------------------------------------------------------

TEST_F(ReviewsTest, CloseCycleErrors) {
  v1::CloseCycleResponse out;
  EXPECT_TRUE(IsFieldError(Close("cy-unknown", true, &out), StatusCode::kNotFound, "cycle_id"));
  absl::Status status = Close(q2_.id, true, &out);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;  // PLANNING

  // Within the grace period (which runs to 8 May), without force: refused,
  // naming the grace end.
  now_ = StartOf(absl::CivilDay(2026, 5, 7));
  status = Close(q1_.id, false, &out);
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "2026-05-08")) << status;
  EXPECT_EQ(GetCycle(q1_.id).state, CycleState::kActive);
  EXPECT_TRUE(TryCheckIn(ValueRequest(a_.id, 3)).ok()) << "nothing was frozen";
}

TEST_F(ReviewsTest, CloseCycleAfterTheGraceEndFreezesScores) {
  v1::Review review = EndOfQuarter(objective_.id);
  auto* kr = review.add_key_results();
  kr->set_key_result_id(a_.id);
  kr->set_final_score(0.9);
  ASSERT_TRUE(Upsert(review, 0).ok());
  // An annual objective above the quarter stays open.
  ObjectiveSpec annual;
  annual.cycle_id = year_.id;
  const Objective yearly = MakeObjective("Yearly", author_.id, annual);
  const KeyResult yearly_kr = MakeMetricKr(yearly.id, "Yearly KR", 0, 10);

  now_ = absl::FromUnixSeconds(kQ1GraceEndUnix);
  v1::CloseCycleResponse closed;
  ASSERT_TRUE(Close(q1_.id, false, &closed).ok());
  EXPECT_EQ(closed.cycle().id(), q1_.id);
  EXPECT_EQ(closed.cycle().state(), v1::CYCLE_STATE_CLOSED);
  EXPECT_EQ(closed.objectives_frozen(), 2);  // P and O
  EXPECT_EQ(closed.key_results_frozen(), 2);  // a and b
  EXPECT_EQ(closed.grace_end_time().seconds(), kQ1GraceEndUnix);
  EXPECT_EQ(GetCycle(q1_.id).state, CycleState::kClosed);

  // Idempotent.
  v1::CloseCycleResponse again;
  ASSERT_TRUE(Close(q1_.id, false, &again).ok());
  EXPECT_EQ(again.objectives_frozen(), 2);
  EXPECT_EQ(again.key_results_frozen(), 2);
  EXPECT_EQ(again.cycle().state(), v1::CYCLE_STATE_CLOSED);

  const v1::KeyResultScore a = KrScore(a_.id);
  EXPECT_TRUE(a.frozen());
  EXPECT_DOUBLE_EQ(a.progress(), 0.25);
  EXPECT_EQ(a.final_score(), 0.9);
  EXPECT_EQ(a.grade(), v1::GRADE_GREEN);
  const v1::ObjectiveScore o = ObjScore(objective_.id);
  EXPECT_TRUE(o.frozen());
  EXPECT_NEAR(o.score(), 0.375, 1e-12);
  EXPECT_NEAR(o.final_score(), 0.7, 1e-12);
  EXPECT_TRUE(ObjScore(parent_.id).frozen());
  EXPECT_FALSE(ObjScore(yearly.id).frozen());

  // Check-ins and reviews are refused; the annual cycle goes on.
  EXPECT_EQ(TryCheckIn(ValueRequest(a_.id, 9)).code(), StatusCode::kFailedPrecondition);
  review.set_final_score(1);
  EXPECT_EQ(Upsert(review, 1).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(TryCheckIn(ValueRequest(yearly_kr.id, 9)).ok());

  v1::GetScoredTreeRequest tree_request;
  tree_request.set_cycle_id(q1_.id);
  v1::ScoredTree tree;
  ASSERT_TRUE(tracking_->GetScoredTree(kOrg, tree_request, &tree).ok());
  EXPECT_TRUE(tree.frozen());
  v1::ExplainScoreRequest explain;
  explain.set_objective_id(objective_.id);
  v1::ScoreExplanation e;
  ASSERT_TRUE(tracking_->ExplainScore(kOrg, explain, &e).ok());
  bool noted = false;
  for (const std::string& note : e.notes()) {
    noted |= absl::StrContains(absl::AsciiStrToLower(note), "frozen");
  }
  EXPECT_TRUE(noted) << e.ShortDebugString();

  // Later plan changes do not move frozen scores, before or after a restart.
  const std::string frozen_o = ObjScore(objective_.id).ShortDebugString();
  const std::string frozen_b = KrScore(b_.id).ShortDebugString();
  ArchiveKr(b_.id);
  AdvanceClock(absl::Seconds(5));
  EXPECT_EQ(ObjScore(objective_.id).ShortDebugString(), frozen_o);
  EXPECT_EQ(KrScore(b_.id).ShortDebugString(), frozen_b);
  Restart();
  EXPECT_EQ(ObjScore(objective_.id).ShortDebugString(), frozen_o);
  EXPECT_EQ(KrScore(b_.id).ShortDebugString(), frozen_b);
  EXPECT_EQ(TryCheckIn(ValueRequest(a_.id, 9)).code(), StatusCode::kFailedPrecondition);
}

TEST_F(ReviewsTest, ForceClosesWithinTheGracePeriod) {
  AdvanceCycle(q1_.id, CycleState::kReview);
  v1::CloseCycleResponse closed;
  ASSERT_TRUE(Close(q1_.id, true, &closed).ok());
  EXPECT_EQ(closed.cycle().state(), v1::CYCLE_STATE_CLOSED);
  EXPECT_EQ(closed.objectives_frozen(), 2);
  EXPECT_EQ(closed.grace_end_time().seconds(), kQ1GraceEndUnix);
  EXPECT_EQ(GetCycle(q1_.id).state, CycleState::kClosed);
  EXPECT_EQ(TryCheckIn(ValueRequest(b_.id, 9)).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(KrScore(b_.id).frozen());
  EXPECT_DOUBLE_EQ(KrScore(b_.id).progress(), 0.5);
}

TEST_F(ReviewsTest, CloseCycleNeedsPlanningToMoveTheCycle) {
  CheckIn(a_.id, 3);  // loaded
  plan_source_->set_unavailable(true);
  v1::CloseCycleResponse out;
  absl::Status status = Close(q1_.id, true, &out);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
  plan_source_->set_unavailable(false);
  ASSERT_TRUE(Close(q1_.id, true, &out).ok());  // a retry finishes the job
  EXPECT_EQ(GetCycle(q1_.id).state, CycleState::kClosed);
  EXPECT_EQ(out.objectives_frozen(), 2);
}

// --- RebuildRollups ---------------------------------------------------------------------

TEST_F(ReviewsTest, RebuildRollupsCounts) {
  ObjectiveSpec annual;
  annual.cycle_id = year_.id;
  const Objective yearly = MakeObjective("Yearly", author_.id, annual);
  MakeMetricKr(yearly.id, "Yearly KR", 0, 10);
  ObjectiveSpec next;
  next.cycle_id = q2_.id;
  const Objective planned = MakeObjective("Planned", author_.id, next);
  MakeMetricKr(planned.id, "Planned 1", 0, 10);
  MakeMetricKr(planned.id, "Planned 2", 0, 10);
  // A rebuild may restamp versions; the scores themselves stay.
  auto score_of = [this](const Id& id) {
    v1::ObjectiveScore score = ObjScore(id);
    score.clear_score_version();
    score.clear_compute_time();
    return score.ShortDebugString();
  };
  const std::string before = score_of(parent_.id);
  auto rebuild = [this](const std::string& cycle_id, v1::RebuildRollupsResponse* response) {
    v1::RebuildRollupsRequest request;
    request.set_cycle_id(cycle_id);
    return tracking_->RebuildRollups(kOrg, request, response);
  };

  v1::RebuildRollupsResponse q1_only;
  ASSERT_TRUE(rebuild(q1_.id, &q1_only).ok());
  EXPECT_EQ(q1_only.objectives_rebuilt(), 2);
  EXPECT_EQ(q1_only.key_results_rebuilt(), 2);

  // Every cycle that is not closed: Q1 (2 + 2), FY2027 (1 + 1), Q2 (1 + 2).
  v1::RebuildRollupsResponse open;
  ASSERT_TRUE(rebuild("", &open).ok());
  EXPECT_EQ(open.objectives_rebuilt(), 4);
  EXPECT_EQ(open.key_results_rebuilt(), 5);
  EXPECT_EQ(score_of(parent_.id), before);
  EXPECT_NEAR(ObjScore(objective_.id).score(), 0.375, 1e-12);

  v1::CloseCycleResponse closed;
  ASSERT_TRUE(Close(q1_.id, true, &closed).ok());
  v1::RebuildRollupsResponse after_close;
  ASSERT_TRUE(rebuild("", &after_close).ok());
  EXPECT_EQ(after_close.objectives_rebuilt(), 2);
  EXPECT_EQ(after_close.key_results_rebuilt(), 3);
  EXPECT_TRUE(ObjScore(parent_.id).frozen());

  v1::RebuildRollupsResponse unknown;
  EXPECT_TRUE(IsFieldError(rebuild("cy-unknown", &unknown), StatusCode::kNotFound, "cycle_id"));
}

}  // namespace
}  // namespace okr::tracking
