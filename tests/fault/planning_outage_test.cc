// okr-planning stopped under okr-tracking: tracking answers within its
// planning deadline (--planning_timeout, 2 s by default) instead of hanging:
// an organisation it has loaded is served from its mirror of the plan, one it
// never loaded is UNAVAILABLE. When planning comes back on the same address,
// tracking recovers by itself (no restart): writes go through again and a
// plan change made after the outage reaches its scores.
#include <signal.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/fault_env.h"

namespace okr::fault {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;

// planning's deadline as tracking runs with it, and how late an answer may
// come on a loaded 2-core machine on top of it.
constexpr absl::Duration kPlanningTimeout = absl::Seconds(2);
constexpr absl::Duration kSlack = absl::Seconds(3);
constexpr absl::string_view kOtherOrg = "globex";

TEST_F(FaultTest, PlanningDownTrackingAnswersWithinItsDeadlineAndRecoversByItself) {
  ASSERT_NO_FATAL_FAILURE(StartRedis());
  ASSERT_NO_FATAL_FAILURE(StartPlanning());
  ASSERT_NO_FATAL_FAILURE(StartTracking(
      {absl::StrCat("--planning_timeout=", absl::FormatDuration(kPlanningTimeout))}));
  ASSERT_NO_FATAL_FAILURE(BuildPlan(2));
  // A second organisation that tracking has never been asked about.
  {
    v1::BootstrapOrganisationRequest boot;
    boot.set_organisation_id(std::string(kOtherOrg));
    boot.mutable_organisation()->set_name("Globex");
    boot.mutable_organisation()->set_time_zone(std::string(kZone));
    v1::Organisation organisation;
    FAULT_ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::BootstrapOrganisation, boot,
                              &organisation, kCallTimeout, kOtherOrg));
  }
  // Tracking loads kOrg with a first check-in.
  int n = 0;
  {
    v1::RecordCheckInResponse response;
    FAULT_ASSERT_GRPC_OK(Call(track_.get(), &TrackStub::RecordCheckIn,
                              CheckInNumber(n, absl::StrCat("ck-", n)), &response));
    ++n;
  }
  const Scores before = ReadScores();
  ASSERT_FALSE(HasFailure());

  absl::StatusOr<ExitStatus> killed = planning_->Kill();
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_EQ(killed->signal, SIGKILL);
  // Let the mirror grow older than its refresh interval (1 s), so every read
  // below tries planning first.
  absl::SleepFor(absl::Milliseconds(1200));

  // Each call gets a client deadline far beyond tracking's own: an answer
  // must come from tracking's deadline, not the client's.
  constexpr absl::Duration kClientDeadline = absl::Seconds(20);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    // kOrg is loaded: its scores are served from the mirror.
    absl::Time start = absl::Now();
    v1::GetScoredTreeRequest tree_request;
    tree_request.set_cycle_id(quarter_.id());
    v1::ScoredTree tree;
    grpc::Status status =
        Call(track_.get(), &TrackStub::GetScoredTree, tree_request, &tree, kClientDeadline);
    EXPECT_LT(absl::Now() - start, kPlanningTimeout + kSlack);
    EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
    // The whole tree (values may include check-ins accepted below; they are
    // compared with the recomputation once planning is back).
    EXPECT_EQ(tree.objective_scores_size(), static_cast<int>(before.objectives.size()));
    for (const v1::ObjectiveScore& score : tree.objective_scores()) {
      EXPECT_TRUE(before.objectives.contains(score.objective_id())) << score.objective_id();
    }

    // kOtherOrg was never loaded: UNAVAILABLE, within the deadline.
    start = absl::Now();
    tree_request.set_cycle_id("cyc-000000000000");
    status = Call(track_.get(), &TrackStub::GetScoredTree, tree_request, &tree, kClientDeadline,
                  kOtherOrg);
    EXPECT_LT(absl::Now() - start, kPlanningTimeout + kSlack);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    EXPECT_FALSE(status.error_message().empty());

    // A check-in on kOrg: accepted on the recent mirror or refused as
    // UNAVAILABLE, never left hanging. An accepted one must survive.
    start = absl::Now();
    const v1::RecordCheckInRequest request = CheckInNumber(n, absl::StrCat("ck-", n));
    v1::RecordCheckInResponse response;
    status = Call(track_.get(), &TrackStub::RecordCheckIn, request, &response, kClientDeadline);
    EXPECT_LT(absl::Now() - start, kPlanningTimeout + kSlack);
    EXPECT_THAT(status.error_code(),
                AnyOf(Eq(grpc::StatusCode::OK), Eq(grpc::StatusCode::UNAVAILABLE)))
        << status.error_message();
    if (status.ok()) ++n;
  }
  ASSERT_FALSE(HasFailure());

  // Planning returns on its address; tracking is not touched.
  OKR_ASSERT_OK(planning_->Restart());
  const absl::Time back = absl::Now();
  // A plan change made after the outage: a new key result.
  MakeKr(objective_ids_[1], people_[0], 0, 4);
  ASSERT_FALSE(HasFailure());
  const PlanKr added = krs_.back();
  // Tracking takes check-ins again, on the new key result too, within a few
  // seconds (its channel reconnects within about a second).
  grpc::Status status;
  v1::RecordCheckInResponse response;
  v1::RecordCheckInRequest on_added;
  on_added.set_key_result_id(added.id);
  on_added.set_client_key("after-the-outage");
  on_added.set_author_id(added.owner_id);
  on_added.set_value(3);
  do {
    status = Call(track_.get(), &TrackStub::RecordCheckIn, on_added, &response, absl::Seconds(5));
    if (!status.ok()) absl::SleepFor(absl::Milliseconds(100));
  } while (!status.ok() && absl::Now() - back < absl::Seconds(15));
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  EXPECT_LT(absl::Now() - back, absl::Seconds(10)) << "tracking took long to recover";
  EXPECT_NEAR(response.key_result_score().progress(), 0.75, kTolerance);
  // The other organisation is reachable now: its unknown cycle is NOT_FOUND,
  // no longer UNAVAILABLE.
  v1::GetScoredTreeRequest tree_request;
  tree_request.set_cycle_id("cyc-000000000000");
  v1::ScoredTree tree;
  status = Call(track_.get(), &TrackStub::GetScoredTree, tree_request, &tree, kCallTimeout,
                kOtherOrg);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  // Every accepted check-in is stored, and the scores are the recomputation.
  EXPECT_EQ(StoredCheckIns().size(), static_cast<size_t>(n) + 1);
  ExpectServes(Recompute());
}

}  // namespace
}  // namespace okr::fault
