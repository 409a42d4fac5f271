#include "services/planning/instrumented_planning_store.h"

#include <utility>

#include "common/metrics.h"

namespace okr::planning {
namespace {

constexpr absl::string_view kService = "planning";

class InstrumentedPlanningStore final : public PlanningStore {
 public:
  explicit InstrumentedPlanningStore(std::unique_ptr<PlanningStore> store)
      : store_(std::move(store)) {}

  absl::StatusOr<StoredOrganisation> LoadOrganisation(absl::string_view organisation_id) override {
    return load_organisation_.Measure([&] { return store_->LoadOrganisation(organisation_id); });
  }
  absl::StatusOr<std::vector<Id>> ListOrganisationIds() override {
    return list_organisation_ids_.Measure([&] { return store_->ListOrganisationIds(); });
  }
  absl::Status Commit(const PlanCommit& commit) override {
    return commit_.Measure([&] { return store_->Commit(commit); });
  }
  absl::StatusOr<int64_t> LatestSequence(absl::string_view organisation_id) override {
    return latest_sequence_.Measure([&] { return store_->LatestSequence(organisation_id); });
  }
  absl::StatusOr<std::vector<StoredChange>> ListChanges(absl::string_view organisation_id,
                                                        int64_t after_sequence,
                                                        int limit) override {
    return list_changes_.Measure(
        [&] { return store_->ListChanges(organisation_id, after_sequence, limit); });
  }
  absl::StatusOr<std::optional<StoredRequest>> FindRequest(absl::string_view organisation_id,
                                                           absl::string_view method,
                                                           absl::string_view request_id) override {
    return find_request_.Measure(
        [&] { return store_->FindRequest(organisation_id, method, request_id); });
  }
  absl::Status CheckHealth() override {
    return check_health_.Measure([&] { return store_->CheckHealth(); });
  }

 private:
  const std::unique_ptr<PlanningStore> store_;
  metrics::StoreOperation load_organisation_{kService, "LoadOrganisation"};
  metrics::StoreOperation list_organisation_ids_{kService, "ListOrganisationIds"};
  metrics::StoreOperation commit_{kService, "Commit"};
  metrics::StoreOperation latest_sequence_{kService, "LatestSequence"};
  metrics::StoreOperation list_changes_{kService, "ListChanges"};
  metrics::StoreOperation find_request_{kService, "FindRequest"};
  metrics::StoreOperation check_health_{kService, "CheckHealth"};
};

}  // namespace

std::unique_ptr<PlanningStore> InstrumentPlanningStore(std::unique_ptr<PlanningStore> store) {
  return std::make_unique<InstrumentedPlanningStore>(std::move(store));
}

}  // namespace okr::planning
