// A PlanSource served by an in-process Planning, for unit tests of the
// tracking use-cases.
//
// It reads planning's change feed exactly as the gRPC adapter would serve it
// (ListPlanChanges gives serialized okr.v1.PlanChange bodies, which are
// parsed and converted with common/model_proto.h), so tracking's plan mirror
// sees the same deltas it would see from okr-planning, without a server.
// set_unavailable(true) plays a planning outage: every call then fails with
// UNAVAILABLE until it is switched back. Call counters let a test see when
// tracking went to planning.
#ifndef OKR_TESTS_SERVICES_TRACKING_PLANNING_PLAN_SOURCE_H_
#define OKR_TESTS_SERVICES_TRACKING_PLANNING_PLAN_SOURCE_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/planning/planning.h"
#include "services/tracking/plan_source.h"

namespace okr::tracking {

class PlanningPlanSource : public PlanSource {
 public:
  // The message of every call made while unavailable.
  static constexpr char kUnavailableMessage[] = "planning unreachable (test)";

  // `planning` is not owned and must outlive this object. Thread-safe.
  explicit PlanningPlanSource(planning::Planning* planning) : planning_(planning) {}

  // Up to 1,000 changes after `after_sequence`, converted to PlanDeltas. An
  // organisation planning does not know (never bootstrapped) gives an empty
  // page with latest_sequence 0. DATA_LOSS when a change does not parse.
  absl::StatusOr<PlanDeltaPage> ChangesAfter(absl::string_view organisation_id,
                                             int64_t after_sequence) override;

  // Planning::UpdateCycleState; its errors pass through unchanged.
  absl::StatusOr<Cycle> UpdateCycleState(absl::string_view organisation_id,
                                         absl::string_view cycle_id, CycleState state,
                                         int64_t version) override;

  // While true, every call fails with UNAVAILABLE kUnavailableMessage (and is
  // still counted).
  void set_unavailable(bool unavailable) { unavailable_ = unavailable; }
  bool unavailable() const { return unavailable_; }

  // Calls so far, failed ones included.
  int64_t changes_after_calls() const { return changes_after_calls_; }
  int64_t update_cycle_state_calls() const { return update_cycle_state_calls_; }

 private:
  planning::Planning* const planning_;
  std::atomic<bool> unavailable_{false};
  std::atomic<int64_t> changes_after_calls_{0};
  std::atomic<int64_t> update_cycle_state_calls_{0};
};

}  // namespace okr::tracking

#endif  // OKR_TESTS_SERVICES_TRACKING_PLANNING_PLAN_SOURCE_H_
