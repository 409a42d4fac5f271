// An in-memory TrackingStore for unit tests of the tracking use-cases. It
// keeps the interface's contract (per-organisation sequences, idempotent
// appends, versioned reviews, freeze-once, the same page tokens and the same
// orders as the SQLite store) but nothing survives the object. Never a proof
// that a feature works end to end: the service tests run the real binary on
// SQLite.
#ifndef OKR_TESTS_SERVICES_TRACKING_MEMORY_STORE_H_
#define OKR_TESTS_SERVICES_TRACKING_MEMORY_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/model.h"
#include "services/tracking/tracking_store.h"

namespace okr::tracking {

class MemoryTrackingStore : public TrackingStore {
 public:
  absl::StatusOr<AppendResult> AppendCheckIn(absl::string_view organisation_id,
                                             const StoredCheckIn& check_in) override;
  absl::StatusOr<std::optional<StoredCheckIn>> FindCheckIn(absl::string_view organisation_id,
                                                           absl::string_view key_result_id,
                                                           absl::string_view client_key) override;
  absl::StatusOr<CheckInPage> ListCheckIns(absl::string_view organisation_id,
                                           const CheckInQuery& query) override;
  absl::StatusOr<StoredReview> PutReview(absl::string_view organisation_id,
                                         const StoredReview& review,
                                         int64_t expected_version) override;
  absl::StatusOr<FrozenCycle> FreezeCycle(absl::string_view organisation_id,
                                          const FrozenCycle& cycle) override;
  absl::StatusOr<TrackingSnapshot> LoadOrganisation(absl::string_view organisation_id) override;
  absl::StatusOr<TrackingChanges> ChangesAfter(absl::string_view organisation_id,
                                               int64_t after_sequence, int limit) override;
  absl::StatusOr<int64_t> LatestSequence(absl::string_view organisation_id) override;

  // Makes every following call fail with `status` before it reads or writes
  // anything (OkStatus() heals it), to test what the use-cases do when the
  // store is unreachable.
  void set_failure(absl::Status status);
  // Calls that wrote something so far: new check-ins, reviews put and first
  // freezes. Replays, repeated freezes and failed calls do not count.
  int writes() const;

 private:
  struct Org {
    int64_t latest = 0;
    std::vector<StoredCheckIn> check_ins;  // by sequence
    // (key_result_id, client_key) -> index in check_ins.
    std::map<std::pair<Id, std::string>, size_t> by_client_key;
    std::map<std::pair<Id, ReviewKind>, StoredReview> reviews;
    std::map<Id, FrozenCycle> frozen_cycles;
  };

  mutable absl::Mutex mu_;
  std::map<Id, Org, std::less<>> orgs_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int writes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace okr::tracking

#endif  // OKR_TESTS_SERVICES_TRACKING_MEMORY_STORE_H_
