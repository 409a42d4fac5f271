// RecordCheckIn and ListCheckIns: the validation order, idempotency, the plan
// rules (archived, draft, cycle states, grace period, cycle start) and what
// happens when planning cannot be reached.
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/model_proto.h"
#include "tests/services/tracking/tracking_test_util.h"

namespace okr::tracking {
namespace {

using ::absl::StatusCode;

// One objective with a metric, a milestone and a threshold key result.
class CheckInTest : public TrackingTest {
 protected:
  CheckInTest() {
    objective_ = MakeObjective("Grow online revenue", author_.id);
    revenue_ = MakeMetricKr(objective_.id, "Revenue from 100k to 200k", 100, 200);
    launch_ = MakeMilestoneKr(objective_.id, "Launch the new shop");
    nps_ = MakeThresholdKr(objective_.id, "Keep NPS at least 8", 7, 8, Direction::kAtLeast);
  }

  Objective objective_;
  KeyResult revenue_;
  KeyResult launch_;
  KeyResult nps_;
};

TEST_F(CheckInTest, RecordsAMetricCheckInAndScoresIt) {
  v1::RecordCheckInRequest request = ValueRequest(revenue_.id, 150);
  request.set_confidence(7);
  request.set_note("Black Friday helped");
  const v1::RecordCheckInResponse response = CheckIn(request);

  EXPECT_FALSE(response.replayed());
  const v1::CheckIn& check_in = response.check_in();
  EXPECT_FALSE(check_in.id().empty());
  EXPECT_EQ(check_in.key_result_id(), revenue_.id);
  EXPECT_EQ(check_in.client_key(), request.client_key());
  EXPECT_EQ(check_in.value(), 150);
  EXPECT_FALSE(check_in.has_done());
  EXPECT_EQ(check_in.confidence(), 7);
  EXPECT_EQ(check_in.note(), "Black Friday helped");
  EXPECT_EQ(check_in.author_id(), author_.id);
  // No time given: the check-in happened now.
  EXPECT_EQ(check_in.time().seconds(), absl::ToUnixSeconds(now_));
  EXPECT_EQ(check_in.create_time().seconds(), absl::ToUnixSeconds(now_));

  // (150 - 100) / (200 - 100) = 0.5
  const v1::KeyResultScore& kr = response.key_result_score();
  EXPECT_EQ(kr.key_result_id(), revenue_.id);
  EXPECT_EQ(kr.objective_id(), objective_.id);
  EXPECT_DOUBLE_EQ(kr.progress(), 0.5);
  EXPECT_EQ(kr.current_value(), 150);
  EXPECT_EQ(kr.confidence(), 7);
  EXPECT_EQ(kr.check_in_count(), 1);
  EXPECT_EQ(kr.last_check_in_time().seconds(), absl::ToUnixSeconds(now_));
  EXPECT_EQ(kr.grade(), v1::GRADE_YELLOW);
  EXPECT_FALSE(kr.frozen());
  EXPECT_FALSE(kr.has_final_score());

  // The objective: mean of 0.5 (revenue), 0 (launch), 0 (NPS 7 < 8) = 1/6.
  ASSERT_EQ(response.objective_scores_size(), 1);
  EXPECT_EQ(response.objective_scores(0).objective_id(), objective_.id);
  EXPECT_NEAR(response.objective_scores(0).score(), 1.0 / 6, 1e-12);
  EXPECT_EQ(response.objective_scores(0).grade(), v1::GRADE_RED);

  // Reads agree with the response.
  EXPECT_DOUBLE_EQ(KrScore(revenue_.id).progress(), 0.5);
  EXPECT_NEAR(ObjScore(objective_.id).score(), 1.0 / 6, 1e-12);
}

TEST_F(CheckInTest, MilestoneAndThresholdCheckIns) {
  // Before any check-in: current = from, milestone not done.
  v1::KeyResultScore launch = KrScore(launch_.id);
  EXPECT_EQ(launch.progress(), 0);
  EXPECT_EQ(launch.check_in_count(), 0);
  EXPECT_FALSE(launch.has_last_check_in_time());
  EXPECT_EQ(KrScore(revenue_.id).current_value(), 100);

  EXPECT_EQ(CheckInDone(launch_.id, true).key_result_score().progress(), 1);
  EXPECT_TRUE(KrScore(launch_.id).done());
  // A later done = false takes it back.
  EXPECT_EQ(CheckInDone(launch_.id, false).key_result_score().progress(), 0);
  EXPECT_EQ(KrScore(launch_.id).check_in_count(), 2);

  // AT_LEAST 8 is binary: 7.9 misses, 8 holds.
  EXPECT_EQ(CheckIn(nps_.id, 7.9).key_result_score().progress(), 0);
  EXPECT_EQ(CheckIn(nps_.id, 8).key_result_score().progress(), 1);
  // Objective: (0 + 0 + 1) / 3.
  EXPECT_NEAR(ObjScore(objective_.id).score(), 1.0 / 3, 1e-12);
}

TEST_F(CheckInTest, ConfidenceOnlyCheckInKeepsTheValue) {
  CheckIn(revenue_.id, 180);
  // A check-in without progress is refused, so "confidence only" means the
  // same value again with a new confidence.
  v1::RecordCheckInRequest request = ValueRequest(revenue_.id, 180);
  request.set_confidence(3);
  request.set_status(v1::CHECK_IN_STATUS_AT_RISK);
  const v1::KeyResultScore kr = CheckIn(request).key_result_score();
  EXPECT_DOUBLE_EQ(kr.progress(), 0.8);
  EXPECT_EQ(kr.confidence(), 3);
  EXPECT_EQ(kr.status(), v1::CHECK_IN_STATUS_AT_RISK);
}

// --- Shape (step 1) -------------------------------------------------------------

TEST_F(CheckInTest, ShapeErrorsNameTheField) {
  struct Case {
    std::string name;
    std::function<void(v1::RecordCheckInRequest&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"no key result", [](auto& r) { r.clear_key_result_id(); }, "key_result_id"},
      {"no client key", [](auto& r) { r.clear_client_key(); }, "client_key"},
      {"client key of 65", [](auto& r) { r.set_client_key(std::string(65, 'k')); },
       "client_key"},
      {"no author", [](auto& r) { r.clear_author_id(); }, "author_id"},
      {"no progress", [](auto& r) { r.clear_progress(); }, "progress"},
      {"NaN value",
       [](auto& r) { r.set_value(std::numeric_limits<double>::quiet_NaN()); }, "value"},
      {"infinite value",
       [](auto& r) { r.set_value(std::numeric_limits<double>::infinity()); }, "value"},
      {"confidence -1", [](auto& r) { r.set_confidence(-1); }, "confidence"},
      {"confidence 11", [](auto& r) { r.set_confidence(11); }, "confidence"},
      {"unknown status", [](auto& r) { r.set_status(static_cast<v1::CheckInStatus>(9)); },
       "status"},
      {"note of 2001", [](auto& r) { r.set_note(std::string(2001, 'n')); }, "note"},
      {"time beyond now + 5 min",
       [this](auto& r) { *r.mutable_time() = ToProto(now_ + absl::Minutes(5) + absl::Seconds(1)); },
       "time"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::RecordCheckInRequest request = ValueRequest(revenue_.id, 150);
    c.change(request);
    EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kInvalidArgument, c.field));
  }
  EXPECT_EQ(KrScore(revenue_.id).check_in_count(), 0) << "nothing refused was stored";
}

TEST_F(CheckInTest, ShapeLimitsAreInclusive) {
  v1::RecordCheckInRequest request = ValueRequest(revenue_.id, 150);
  request.set_client_key(std::string(64, 'k'));
  request.set_confidence(10);
  request.set_note(std::string(2000, 'n'));
  *request.mutable_time() = ToProto(now_ + absl::Minutes(5));
  EXPECT_TRUE(TryCheckIn(request).ok());

  request = ValueRequest(revenue_.id, 150);
  request.set_confidence(0);
  request.set_client_key("k");
  EXPECT_TRUE(TryCheckIn(request).ok());
}

TEST_F(CheckInTest, ShapeIsCheckedBeforeThePlan) {
  // Unknown KR and bad confidence: the shape error wins.
  v1::RecordCheckInRequest request = ValueRequest("kr-nope", 1);
  request.set_confidence(12);
  EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kInvalidArgument, "confidence"));
  // A milestone given no progress at all: "progress", not "done".
  request = DoneRequest(launch_.id, true);
  request.clear_progress();
  EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kInvalidArgument, "progress"));
}

// --- Idempotency (step 2) ---------------------------------------------------------

TEST_F(CheckInTest, SameClientKeySameContentIsReplayed) {
  const v1::RecordCheckInRequest request = ValueRequest(revenue_.id, 130);
  const v1::RecordCheckInResponse first = CheckIn(request);
  CheckIn(revenue_.id, 160);  // a newer value since

  // A retry a minute later: the request (time unset) is the same.
  AdvanceClock(absl::Minutes(1));
  v1::RecordCheckInResponse again;
  ASSERT_TRUE(tracking_->RecordCheckIn(kOrg, request, &again).ok());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.check_in().id(), first.check_in().id());
  EXPECT_EQ(again.check_in().value(), 130);
  EXPECT_EQ(again.check_in().time().seconds(), first.check_in().time().seconds());
  // The current scores, not those of the first answer.
  EXPECT_DOUBLE_EQ(again.key_result_score().progress(), 0.6);
  EXPECT_EQ(again.key_result_score().check_in_count(), 2);
  ASSERT_EQ(again.objective_scores_size(), 1);
  EXPECT_NEAR(again.objective_scores(0).score(), 0.6 / 3, 1e-12);

  // And after a restart, from the store.
  Restart();
  v1::RecordCheckInResponse restarted;
  ASSERT_TRUE(tracking_->RecordCheckIn(kOrg, request, &restarted).ok());
  EXPECT_TRUE(restarted.replayed());
  EXPECT_EQ(restarted.check_in().id(), first.check_in().id());
  EXPECT_DOUBLE_EQ(restarted.key_result_score().progress(), 0.6);
  EXPECT_EQ(KrScore(revenue_.id).check_in_count(), 2);
}

TEST_F(CheckInTest, SameClientKeyOtherContentIsAlreadyExists) {
  v1::RecordCheckInRequest request = ValueRequest(revenue_.id, 130);
  CheckIn(request);
  request.set_value(131);
  EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kAlreadyExists, "client_key"));
  request.set_value(130);
  request.set_note("now with a note");
  EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kAlreadyExists, "client_key"));
  EXPECT_EQ(KrScore(revenue_.id).check_in_count(), 1);
  EXPECT_EQ(KrScore(revenue_.id).current_value(), 130);

  // The key is per key result: the same key on another one is a new check-in.
  v1::RecordCheckInRequest other = ValueRequest(nps_.id, 8);
  other.set_client_key(request.client_key());
  EXPECT_FALSE(CheckIn(other).replayed());
}

TEST_F(CheckInTest, IdempotencyIsCheckedBeforeThePlan) {
  const v1::RecordCheckInRequest request = ValueRequest(revenue_.id, 120);
  const v1::RecordCheckInResponse first = CheckIn(request);
  ArchiveKr(revenue_.id);
  // A new check-in on the archived KR is refused ...
  EXPECT_EQ(TryCheckIn(ValueRequest(revenue_.id, 125)).code(),
            StatusCode::kFailedPrecondition);
  // ... but the retry of the stored one still gets its answer.
  v1::RecordCheckInResponse again;
  ASSERT_TRUE(tracking_->RecordCheckIn(kOrg, request, &again).ok());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.check_in().id(), first.check_in().id());
  // Shape still comes first, even for a stored key.
  v1::RecordCheckInRequest bad = request;
  bad.set_note(std::string(2001, 'x'));
  EXPECT_TRUE(IsFieldError(TryCheckIn(bad), StatusCode::kInvalidArgument, "note"));
}

// --- Against the plan (step 3) ------------------------------------------------------

TEST_F(CheckInTest, PlanErrorsNameTheField) {
  EXPECT_TRUE(IsFieldError(TryCheckIn(ValueRequest("kr-unknown", 1)), StatusCode::kNotFound,
                           "key_result_id"));
  EXPECT_TRUE(IsFieldError(TryCheckIn(ValueRequest(launch_.id, 1)),
                           StatusCode::kInvalidArgument, "value"));
  EXPECT_TRUE(IsFieldError(TryCheckIn(DoneRequest(revenue_.id, true)),
                           StatusCode::kInvalidArgument, "done"));
  v1::RecordCheckInRequest request = ValueRequest(revenue_.id, 1);
  request.set_author_id("pe-nobody");
  EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kNotFound, "author_id"));
  EXPECT_EQ(KrScore(revenue_.id).check_in_count(), 0);
}

TEST_F(CheckInTest, PlanChecksRunInOrder) {
  // Unknown KR and unknown author: the KR is named.
  v1::RecordCheckInRequest request = ValueRequest("kr-unknown", 1);
  request.set_author_id("pe-nobody");
  EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kNotFound, "key_result_id"));
  // Value on a milestone and an unknown author: the value is named.
  request = ValueRequest(launch_.id, 1);
  request.set_author_id("pe-nobody");
  EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kInvalidArgument, "value"));
  // Archived KR, unknown author: the author comes first.
  ArchiveKr(nps_.id);
  request = ValueRequest(nps_.id, 8);
  request.set_author_id("pe-nobody");
  EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kNotFound, "author_id"));
  // Archived KR and a time before the cycle: FAILED_PRECONDITION first.
  request = ValueRequest(nps_.id, 8);
  *request.mutable_time() = ToProto(StartOf(q1_.start) - absl::Hours(1));
  EXPECT_EQ(TryCheckIn(request).code(), StatusCode::kFailedPrecondition);
}

TEST_F(CheckInTest, ArchivedKeyResultIsRefused) {
  ArchiveKr(revenue_.id);
  absl::Status status = TryCheckIn(ValueRequest(revenue_.id, 150));
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;
}

TEST_F(CheckInTest, DraftObjectiveIsRefusedUntilPublished) {
  ObjectiveSpec draft;
  draft.state = ObjectiveState::kDraft;
  const Objective objective = MakeObjective("Still a draft", author_.id, draft);
  const KeyResult kr = MakeMetricKr(objective.id, "Draft KR", 0, 10);
  absl::Status status = TryCheckIn(ValueRequest(kr.id, 5));
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;

  // Publishing is a plan change that the next write picks up.
  SetObjectiveState(objective.id, ObjectiveState::kPublished);
  EXPECT_DOUBLE_EQ(CheckIn(kr.id, 5).key_result_score().progress(), 0.5);
}

TEST_F(CheckInTest, CycleStatesThatRefuseAndAccept) {
  // Q2 is still PLANNING.
  ObjectiveSpec in_q2;
  in_q2.cycle_id = q2_.id;
  const Objective planned = MakeObjective("Next quarter", author_.id, in_q2);
  const KeyResult planned_kr = MakeMetricKr(planned.id, "Planned", 0, 10);
  absl::Status status = TryCheckIn(ValueRequest(planned_kr.id, 1));
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;

  // Q1 in REVIEW still accepts (until the grace end).
  AdvanceCycle(q1_.id, CycleState::kReview);
  EXPECT_DOUBLE_EQ(CheckIn(revenue_.id, 110).key_result_score().progress(), 0.1);

  // CLOSED refuses.
  AdvanceCycle(q1_.id, CycleState::kClosed);
  status = TryCheckIn(ValueRequest(revenue_.id, 120));
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;
}

TEST_F(CheckInTest, TimeBeforeTheCycleStartIsRefused) {
  // Q1 starts 1 Feb 2026 at midnight in New York (05:00 UTC).
  const absl::Time start = absl::FromUnixSeconds(1769922000);  // 2026-02-01T05:00:00Z
  ASSERT_EQ(StartOf(q1_.start), start);
  v1::RecordCheckInRequest request = ValueRequest(revenue_.id, 110);
  *request.mutable_time() = ToProto(start - absl::Seconds(1));
  EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kInvalidArgument, "time"));

  request = ValueRequest(revenue_.id, 110);
  *request.mutable_time() = ToProto(start);
  const v1::RecordCheckInResponse response = CheckIn(request);
  EXPECT_EQ(response.check_in().time().seconds(), absl::ToUnixSeconds(start));
  EXPECT_EQ(response.key_result_score().last_check_in_time().seconds(),
            absl::ToUnixSeconds(start));
}

TEST_F(CheckInTest, AnOlderCheckInDoesNotReplaceANewerValue) {
  CheckIn(revenue_.id, 170);  // now
  v1::RecordCheckInRequest older = ValueRequest(revenue_.id, 120);
  *older.mutable_time() = ToProto(now_ - absl::Hours(48));
  const v1::KeyResultScore kr = CheckIn(older).key_result_score();
  EXPECT_DOUBLE_EQ(kr.progress(), 0.7);
  EXPECT_EQ(kr.current_value(), 170);
  EXPECT_EQ(kr.check_in_count(), 2);
  EXPECT_EQ(kr.last_check_in_time().seconds(), absl::ToUnixSeconds(now_));
}

// --- The grace period -------------------------------------------------------------

// Q1 ends 1 May 2026 (its end_date, exclusive). Grace end = start of day
// (end_date + grace days) in New York, which is on daylight time (UTC-4) in
// May: with 7 days, 2026-05-08T04:00:00Z.
TEST_F(CheckInTest, GraceEndOfTheOrganisationDefault) {
  const absl::Time grace_end = absl::FromUnixSeconds(1778212800);  // 2026-05-08T04:00:00Z
  ASSERT_EQ(StartOf(absl::CivilDay(2026, 5, 8)), grace_end);
  now_ = grace_end - absl::Seconds(1);
  EXPECT_DOUBLE_EQ(CheckIn(revenue_.id, 190).key_result_score().progress(), 0.9);
  now_ = grace_end;
  absl::Status status = TryCheckIn(ValueRequest(revenue_.id, 200));
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(KrScore(revenue_.id).current_value(), 190);
}

TEST_F(CheckInTest, GraceDaysOfTheCycleWin) {
  SetCycleGraceDays(q1_.id, 2);  // grace end: 3 May 2026 00:00 New York
  const absl::Time grace_end = StartOf(absl::CivilDay(2026, 5, 3));
  now_ = grace_end - absl::Seconds(1);
  EXPECT_TRUE(TryCheckIn(ValueRequest(revenue_.id, 150)).ok());
  now_ = grace_end;
  EXPECT_EQ(TryCheckIn(ValueRequest(revenue_.id, 150)).code(),
            StatusCode::kFailedPrecondition);
  // Within the organisation's 7 days, but the cycle says 2.
  now_ = StartOf(absl::CivilDay(2026, 5, 6));
  EXPECT_EQ(TryCheckIn(ValueRequest(revenue_.id, 150)).code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(CheckInTest, ZeroGraceDaysEndAtTheCycleEnd) {
  SetCycleGraceDays(q1_.id, 0);
  const absl::Time end = StartOf(q1_.end);
  now_ = end - absl::Seconds(1);
  EXPECT_TRUE(TryCheckIn(ValueRequest(revenue_.id, 150)).ok());
  now_ = end;
  EXPECT_EQ(TryCheckIn(ValueRequest(revenue_.id, 160)).code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(CheckInTest, GraceDaysOfTheOrganisation) {
  SetOrgGraceDays(10);  // the cycle sets none: 11 May 2026 00:00 New York
  const absl::Time grace_end = StartOf(absl::CivilDay(2026, 5, 11));
  now_ = grace_end - absl::Seconds(1);
  EXPECT_TRUE(TryCheckIn(ValueRequest(revenue_.id, 150)).ok());
  now_ = grace_end;
  EXPECT_EQ(TryCheckIn(ValueRequest(revenue_.id, 160)).code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(CheckInTest, GraceDaysOfTheOptionsWhenNobodySetsThem) {
  SetOrgGraceDays(std::nullopt);
  options_.default_grace_days = 3;  // 4 May 2026 00:00 New York
  Restart();
  const absl::Time grace_end = StartOf(absl::CivilDay(2026, 5, 4));
  now_ = grace_end - absl::Seconds(1);
  EXPECT_TRUE(TryCheckIn(ValueRequest(revenue_.id, 150)).ok());
  now_ = grace_end;
  EXPECT_EQ(TryCheckIn(ValueRequest(revenue_.id, 160)).code(),
            StatusCode::kFailedPrecondition);
}

// --- ListCheckIns ---------------------------------------------------------------------

TEST_F(CheckInTest, ListCheckInsNewestFirstInPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    v1::RecordCheckInRequest request = ValueRequest(revenue_.id, 100 + 10 * i);
    *request.mutable_time() = ToProto(now_ - absl::Hours(10 - i));
    ids.push_back(CheckIn(request).check_in().id());
  }
  std::vector<std::string> listed;
  v1::ListCheckInsRequest request;
  request.set_key_result_id(revenue_.id);
  request.set_page_size(2);
  for (int page = 0; page < 5; ++page) {
    v1::ListCheckInsResponse response;
    ASSERT_TRUE(tracking_->ListCheckIns(kOrg, request, &response).ok());
    EXPECT_EQ(response.total_size(), 5);
    for (const v1::CheckIn& c : response.check_ins()) listed.push_back(c.id());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(listed, ::testing::ElementsAre(ids[4], ids[3], ids[2], ids[1], ids[0]));

  v1::ListCheckInsRequest unknown;
  unknown.set_key_result_id("kr-unknown");
  v1::ListCheckInsResponse response;
  EXPECT_EQ(tracking_->ListCheckIns(kOrg, unknown, &response).code(), StatusCode::kNotFound);
}

// --- Planning unavailable -----------------------------------------------------------

TEST_F(CheckInTest, AnOrganisationNeverLoadedNeedsPlanning) {
  plan_source_->set_unavailable(true);
  Restart();
  v1::GetKeyResultScoreRequest request;
  request.set_key_result_id(revenue_.id);
  v1::KeyResultScore score;
  EXPECT_EQ(tracking_->GetKeyResultScore(kOrg, request, &score).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(TryCheckIn(ValueRequest(revenue_.id, 150)).code(), StatusCode::kUnavailable);
  EXPECT_FALSE(tracking_->health().plan_reachable);

  plan_source_->set_unavailable(false);
  EXPECT_DOUBLE_EQ(CheckIn(revenue_.id, 150).key_result_score().progress(), 0.5);
  EXPECT_TRUE(tracking_->health().plan_reachable);
}

TEST_F(CheckInTest, ALoadedOrganisationKeepsAnsweringWithoutPlanning) {
  CheckIn(revenue_.id, 150);
  const double before = ObjScore(objective_.id).score();
  plan_source_->set_unavailable(true);
  AdvanceClock(absl::Seconds(5));  // past the refresh interval: reads try planning
  EXPECT_DOUBLE_EQ(KrScore(revenue_.id).progress(), 0.5);
  EXPECT_DOUBLE_EQ(ObjScore(objective_.id).score(), before);
  EXPECT_GT(plan_source_->changes_after_calls(), 0);

  // Writes go on with a mirror refreshed within plan_max_staleness (30 s) ...
  AdvanceClock(absl::Seconds(20));
  EXPECT_DOUBLE_EQ(CheckIn(revenue_.id, 160).key_result_score().progress(), 0.6);
  // ... and stop beyond it; reads still answer.
  AdvanceClock(absl::Seconds(11));
  EXPECT_EQ(TryCheckIn(ValueRequest(revenue_.id, 170)).code(), StatusCode::kUnavailable);
  EXPECT_DOUBLE_EQ(KrScore(revenue_.id).progress(), 0.6);

  plan_source_->set_unavailable(false);
  AdvanceClock(absl::Seconds(2));
  EXPECT_DOUBLE_EQ(CheckIn(revenue_.id, 170).key_result_score().progress(), 0.7);
}

TEST_F(CheckInTest, AnOrganisationPlanningDoesNotKnowIsNotFound) {
  v1::RecordCheckInResponse response;
  absl::Status status =
      tracking_->RecordCheckIn("globex", ValueRequest(revenue_.id, 1), &response);
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status;
}

// --- The test plan source itself ---------------------------------------------------

TEST_F(TrackingTest, PlanningPlanSourceServesPlanningsFeed) {
  absl::StatusOr<PlanDeltaPage> unknown = plan_source_->ChangesAfter("globex", 0);
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_TRUE(unknown->changes.empty());
  EXPECT_EQ(unknown->latest_sequence, 0);

  absl::StatusOr<PlanDeltaPage> page = plan_source_->ChangesAfter(kOrg, 0);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_FALSE(page->changes.empty());
  EXPECT_EQ(page->changes.back().sequence, page->latest_sequence);
  int64_t previous = 0;
  for (const PlanDelta& delta : page->changes) {
    EXPECT_GT(delta.sequence, previous);
    previous = delta.sequence;
    ASSERT_TRUE(delta.resource.has_value());
    EXPECT_EQ(planning::KindOf(*delta.resource), delta.kind);
    EXPECT_EQ(planning::IdOf(*delta.resource), delta.id);
  }
  EXPECT_EQ(page->changes.front().kind, ResourceKind::kOrganisation);
  // The latest change is Q1 moving to ACTIVE.
  const PlanDelta& last = page->changes.back();
  ASSERT_EQ(last.kind, ResourceKind::kCycle);
  const Cycle& cycle = std::get<Cycle>(*last.resource);
  EXPECT_EQ(cycle.id, q1_.id);
  EXPECT_EQ(cycle.state, CycleState::kActive);
  EXPECT_EQ(cycle.organisation_id, kOrg);

  absl::StatusOr<PlanDeltaPage> none = plan_source_->ChangesAfter(kOrg, page->latest_sequence);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->changes.empty());
  EXPECT_EQ(none->latest_sequence, page->latest_sequence);

  const int64_t calls = plan_source_->changes_after_calls();
  plan_source_->set_unavailable(true);
  EXPECT_EQ(plan_source_->ChangesAfter(kOrg, 0).status(),
            absl::UnavailableError(PlanningPlanSource::kUnavailableMessage));
  EXPECT_EQ(plan_source_->UpdateCycleState(kOrg, q1_.id, CycleState::kReview, q1_.version)
                .status()
                .code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(plan_source_->changes_after_calls(), calls + 1);
  EXPECT_EQ(plan_source_->update_cycle_state_calls(), 1);
  plan_source_->set_unavailable(false);
  absl::StatusOr<Cycle> moved =
      plan_source_->UpdateCycleState(kOrg, q1_.id, CycleState::kReview, q1_.version);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->state, CycleState::kReview);
  // Planning's own errors pass through: a stale version is ABORTED.
  EXPECT_EQ(plan_source_->UpdateCycleState(kOrg, q1_.id, CycleState::kClosed, q1_.version)
                .status()
                .code(),
            StatusCode::kAborted);
}

}  // namespace
}  // namespace okr::tracking
