#include "tests/services/tracking/planning_plan_source.h"

#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/model_proto.h"
#include "common/status_macros.h"
#include "okr/v1/planning.pb.h"

namespace okr::tracking {
namespace {

// The change feed's page size (PlanSource promises at most 1,000).
constexpr int kPageSize = 1000;

// Converts one snapshot message, stamping the organisation the wire leaves
// out (tenancy travels in metadata, not in the messages).
template <typename Model, typename Message>
absl::StatusOr<planning::Resource> Convert(const Message& message,
                                           absl::string_view organisation_id,
                                           int64_t sequence) {
  Model model;
  OKR_RETURN_IF_ERROR(
      FromProto(message, absl::StrCat("changes[", sequence, "]"), &model));
  if constexpr (!std::is_same_v<Model, Organisation>) {
    model.organisation_id = std::string(organisation_id);
  }
  return planning::Resource(std::move(model));
}

absl::StatusOr<planning::Resource> SnapshotOf(const v1::PlanChange& change,
                                              absl::string_view organisation_id) {
  const int64_t seq = change.sequence();
  switch (change.snapshot_case()) {
    case v1::PlanChange::kOrganisation:
      return Convert<Organisation>(change.organisation(), organisation_id, seq);
    case v1::PlanChange::kTeam:
      return Convert<Team>(change.team(), organisation_id, seq);
    case v1::PlanChange::kPerson:
      return Convert<Person>(change.person(), organisation_id, seq);
    case v1::PlanChange::kCycle:
      return Convert<Cycle>(change.cycle(), organisation_id, seq);
    case v1::PlanChange::kObjective:
      return Convert<Objective>(change.objective(), organisation_id, seq);
    case v1::PlanChange::kKeyResult:
      return Convert<KeyResult>(change.key_result(), organisation_id, seq);
    default:
      return absl::DataLossError(
          absl::StrCat("plan change ", seq, " has neither a snapshot nor deleted"));
  }
}

}  // namespace

absl::StatusOr<PlanDeltaPage> PlanningPlanSource::ChangesAfter(
    absl::string_view organisation_id, int64_t after_sequence) {
  ++changes_after_calls_;
  if (unavailable_) return absl::UnavailableError(kUnavailableMessage);
  absl::StatusOr<planning::Planning::ChangeBatch> batch =
      planning_->ListPlanChanges(organisation_id, after_sequence, kPageSize);
  // Planning answers NOT_FOUND for an organisation it was never told about;
  // the feed of such an organisation is simply empty.
  if (absl::IsNotFound(batch.status())) return PlanDeltaPage{};
  if (!batch.ok()) return batch.status();

  PlanDeltaPage page;
  page.latest_sequence = batch->latest_sequence;
  page.changes.reserve(batch->changes.size());
  for (const planning::StoredChange& stored : batch->changes) {
    v1::PlanChange change;
    if (!change.ParseFromString(stored.body)) {
      return absl::DataLossError(absl::StrCat("plan change ", stored.sequence, " of '",
                                              organisation_id, "' does not parse"));
    }
    PlanDelta delta;
    delta.sequence = stored.sequence;
    delta.kind = stored.kind;
    delta.id = stored.id;
    delta.deleted = change.deleted();
    if (!delta.deleted) {
      OKR_ASSIGN_OR_RETURN(delta.resource, SnapshotOf(change, organisation_id));
    }
    page.changes.push_back(std::move(delta));
  }
  return page;
}

absl::StatusOr<Cycle> PlanningPlanSource::UpdateCycleState(absl::string_view organisation_id,
                                                          absl::string_view cycle_id,
                                                          CycleState state,
                                                          int64_t version) {
  ++update_cycle_state_calls_;
  if (unavailable_) return absl::UnavailableError(kUnavailableMessage);
  return planning_->UpdateCycleState(organisation_id, cycle_id, state, version);
}

}  // namespace okr::tracking
