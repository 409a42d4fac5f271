// A fixture for unit tests of the tracking use-cases: a Tracking with a
// pinned clock over an in-memory TrackingStore, fed by an in-process Planning
// (over its in-memory store) through PlanningPlanSource, and optionally a
// RollupCache over a real redis-server.
//
// The plan is built through planning's own use-cases (CreateObjective,
// AlignObjective, CascadeKeyResult ...), so every plan a test scores is one
// planning accepts, and tracking learns it the way it does in production:
// from planning's change feed. The builders fail the test (ADD_FAILURE) when
// a setup step fails and return a default value, so a test reads as a list
// of steps without status plumbing.
//
// The organisation "acme" (America/New_York, fiscal year from February) has
// FY2027 (1 Feb 2026 .. 1 Feb 2027) and its quarters; the year and Q1
// (1 Feb .. 1 May 2026) are ACTIVE, the other quarters PLANNING. The clock
// starts at 2026-03-18 10:00 New York time, inside Q1.
#ifndef OKR_TESTS_SERVICES_TRACKING_TRACKING_TEST_UTIL_H_
#define OKR_TESTS_SERVICES_TRACKING_TRACKING_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/redis.h"
#include "common/scoring.h"
#include "okr/v1/tracking.pb.h"
#include "services/planning/planning.h"
#include "services/tracking/rollup_cache.h"
#include "services/tracking/tracking.h"
#include "tests/services/planning/memory_store.h"
#include "tests/services/tracking/memory_store.h"
#include "tests/services/tracking/planning_plan_source.h"
#include "tests/support/test_support.h"

namespace okr::tracking {

// How MakeObjective shapes an objective; the defaults give a PUBLISHED,
// COMMITTED individual objective in Q1 scored from its key results.
struct ObjectiveSpec {
  Id cycle_id;  // empty: Q1
  ObjectiveKind kind = ObjectiveKind::kCommitted;
  ProgressSource progress_source = ProgressSource::kKeyResults;
  ObjectiveState state = ObjectiveState::kPublished;
  Level level = Level::kIndividual;  // kTeam needs team_id
  Id team_id;
};

// Whether `status` has `code` and names `field` in its message as
// "<field>: ..." (the field's own name, not a longer path ending in it).
::testing::AssertionResult IsFieldError(const absl::Status& status, absl::StatusCode code,
                                        absl::string_view field);

// A default ObjectiveSpec scored from `source`.
inline ObjectiveSpec ScoredFrom(ProgressSource source) {
  ObjectiveSpec spec;
  spec.progress_source = source;
  return spec;
}

class TrackingTest : public ::testing::Test {
 protected:
  static constexpr char kOrg[] = "acme";
  static constexpr char kTimeZone[] = "America/New_York";

  TrackingTest();
  ~TrackingTest() override;

  // --- Process and infrastructure ------------------------------------------

  // Replaces tracking_ by a new Tracking over the same stores, plan source and
  // cache, with options_: what a process restart does (nothing in memory
  // survives).
  void Restart();

  // Starts a redis-server, puts a RollupCache over it and restarts tracking
  // with it. False (after ADD_FAILURE) when the server does not start.
  bool EnableCache();

  // The pinned clock of planning and tracking.
  void AdvanceClock(absl::Duration d) { now_ += d; }
  // The instant `day` starts in acme's time zone.
  absl::Time StartOf(absl::CivilDay day) const;

  // --- Plan builders (planning use-cases) ----------------------------------

  Person MakePerson(const std::string& display_name);
  Objective MakeObjective(const std::string& title, const Id& owner_id,
                          const ObjectiveSpec& spec = {});
  // A metric KPI from `from` to `to` (INCREASE or DECREASE by their order).
  KeyResult MakeMetricKr(const Id& objective_id, const std::string& title, double from,
                         double to, double weight = 1.0, const Id& owner_id = "");
  // A threshold KR: `direction` kAtLeast or kAtMost on `threshold`.
  KeyResult MakeThresholdKr(const Id& objective_id, const std::string& title, double from,
                            double threshold, Direction direction, double weight = 1.0);
  KeyResult MakeMilestoneKr(const Id& objective_id, const std::string& title,
                            double weight = 1.0);
  // Classic: `child_id` aligned to the objective `parent_id` with `weight`.
  Objective Align(const Id& child_id, const Id& parent_id, double weight = 1.0);
  // Duality: a new PUBLISHED objective cascaded from `key_result_id`, owned
  // by `owner_id`, in the parent's cycle (title empty: the KR's).
  Objective Cascade(const Id& key_result_id, const Id& owner_id, const std::string& title = "",
                    double weight = 1.0, const ObjectiveSpec& spec = {});

  // Plan changes (each reads the stored version first).
  KeyResult SetKrWeight(const Id& key_result_id, double weight);
  KeyResult SetProgressFromChildren(const Id& key_result_id, bool on);
  KeyResult ArchiveKr(const Id& key_result_id);
  Objective SetObjectiveState(const Id& objective_id, ObjectiveState state);
  // Steps the cycle forward (ACTIVE, REVIEW, CLOSED) until it is in `state`.
  Cycle AdvanceCycle(const Id& cycle_id, CycleState state);
  Cycle SetCycleGraceDays(const Id& cycle_id, std::optional<int> days);
  Organisation SetOrgGraceDays(std::optional<int> days);
  Cycle GetCycle(const Id& cycle_id);

  // --- Tracking helpers ------------------------------------------------------

  // A METRIC / MILESTONE check-in request by author_ with a fresh client_key
  // and no time (now).
  v1::RecordCheckInRequest ValueRequest(const Id& key_result_id, double value);
  v1::RecordCheckInRequest DoneRequest(const Id& key_result_id, bool done);
  // Records a check-in; ADD_FAILURE and an empty response when refused.
  v1::RecordCheckInResponse CheckIn(const Id& key_result_id, double value);
  v1::RecordCheckInResponse CheckInDone(const Id& key_result_id, bool done);
  v1::RecordCheckInResponse CheckIn(const v1::RecordCheckInRequest& request);
  // The status of RecordCheckIn for `request` (response discarded).
  absl::Status TryCheckIn(const v1::RecordCheckInRequest& request);

  // Current scores; ADD_FAILURE and an empty message on error.
  v1::KeyResultScore KrScore(const Id& key_result_id);
  v1::ObjectiveScore ObjScore(const Id& objective_id, bool include_key_results = false);

  // The model library's full recompute over planning's current plan and
  // `check_ins`: what every score of tracking must equal.
  absl::StatusOr<ScoreGraph> Recompute(const std::vector<okr::CheckIn>& check_ins);

  // Members in construction order: the stores outlive tracking_.
  absl::Time now_;
  absl::TimeZone zone_;
  planning::MemoryPlanningStore plan_store_;
  std::unique_ptr<planning::Planning> planning_;
  std::unique_ptr<PlanningPlanSource> plan_source_;
  MemoryTrackingStore store_;
  std::unique_ptr<RedisServer> redis_server_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<RollupCache> cache_;
  // The options of the next Restart(); clock reads now_.
  TrackingOptions options_;
  std::unique_ptr<Tracking> tracking_;

  // The plan every test starts with.
  Person author_;  // the CEO; writes check-ins by default
  Cycle year_;     // FY2027, ACTIVE
  Cycle q1_;       // FY2027-Q1, ACTIVE, contains now_
  Cycle q2_;       // FY2027-Q2, PLANNING

 private:
  int next_client_key_ = 0;
};

}  // namespace okr::tracking

#endif  // OKR_TESTS_SERVICES_TRACKING_TRACKING_TEST_UTIL_H_
