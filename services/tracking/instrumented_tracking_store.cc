#include "services/tracking/instrumented_tracking_store.h"

#include <utility>

#include "common/metrics.h"

namespace okr::tracking {
namespace {

constexpr absl::string_view kService = "tracking";

class InstrumentedTrackingStore final : public TrackingStore {
 public:
  explicit InstrumentedTrackingStore(std::unique_ptr<TrackingStore> store)
      : store_(std::move(store)) {}

  absl::StatusOr<AppendResult> AppendCheckIn(absl::string_view organisation_id,
                                             const StoredCheckIn& check_in) override {
    return append_check_in_.Measure(
        [&] { return store_->AppendCheckIn(organisation_id, check_in); });
  }
  absl::StatusOr<std::optional<StoredCheckIn>> FindCheckIn(absl::string_view organisation_id,
                                                           absl::string_view key_result_id,
                                                           absl::string_view client_key) override {
    return find_check_in_.Measure(
        [&] { return store_->FindCheckIn(organisation_id, key_result_id, client_key); });
  }
  absl::StatusOr<CheckInPage> ListCheckIns(absl::string_view organisation_id,
                                           const CheckInQuery& query) override {
    return list_check_ins_.Measure([&] { return store_->ListCheckIns(organisation_id, query); });
  }
  absl::StatusOr<StoredReview> PutReview(absl::string_view organisation_id,
                                         const StoredReview& review,
                                         int64_t expected_version) override {
    return put_review_.Measure(
        [&] { return store_->PutReview(organisation_id, review, expected_version); });
  }
  absl::StatusOr<FrozenCycle> FreezeCycle(absl::string_view organisation_id,
                                          const FrozenCycle& cycle) override {
    return freeze_cycle_.Measure([&] { return store_->FreezeCycle(organisation_id, cycle); });
  }
  absl::StatusOr<TrackingSnapshot> LoadOrganisation(absl::string_view organisation_id) override {
    return load_organisation_.Measure([&] { return store_->LoadOrganisation(organisation_id); });
  }
  absl::StatusOr<TrackingChanges> ChangesAfter(absl::string_view organisation_id,
                                               int64_t after_sequence, int limit) override {
    return changes_after_.Measure(
        [&] { return store_->ChangesAfter(organisation_id, after_sequence, limit); });
  }
  absl::StatusOr<int64_t> LatestSequence(absl::string_view organisation_id) override {
    return latest_sequence_.Measure([&] { return store_->LatestSequence(organisation_id); });
  }
  absl::Status CheckHealth() override {
    return check_health_.Measure([&] { return store_->CheckHealth(); });
  }

 private:
  const std::unique_ptr<TrackingStore> store_;
  metrics::StoreOperation append_check_in_{kService, "AppendCheckIn"};
  metrics::StoreOperation find_check_in_{kService, "FindCheckIn"};
  metrics::StoreOperation list_check_ins_{kService, "ListCheckIns"};
  metrics::StoreOperation put_review_{kService, "PutReview"};
  metrics::StoreOperation freeze_cycle_{kService, "FreezeCycle"};
  metrics::StoreOperation load_organisation_{kService, "LoadOrganisation"};
  metrics::StoreOperation changes_after_{kService, "ChangesAfter"};
  metrics::StoreOperation latest_sequence_{kService, "LatestSequence"};
  metrics::StoreOperation check_health_{kService, "CheckHealth"};
};

}  // namespace

std::unique_ptr<TrackingStore> InstrumentTrackingStore(std::unique_ptr<TrackingStore> store) {
  return std::make_unique<InstrumentedTrackingStore>(std::move(store));
}

}  // namespace okr::tracking
