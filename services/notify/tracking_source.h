// What notify asks tracking: which key results are due a check-in, and which
// objectives already have a review. TrackingSource is the interface the
// use-cases see; NewGrpcTrackingSource calls okr.v1.TrackingService with a
// deadline on every call; tests may serve it from an in-process Tracking.
#ifndef OKR_SERVICES_NOTIFY_TRACKING_SOURCE_H_
#define OKR_SERVICES_NOTIFY_TRACKING_SOURCE_H_

#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/service_client.h"
#include "okr/v1/tracking.pb.h"

namespace okr::notify {

class TrackingSource {
 public:
  virtual ~TrackingSource() = default;

  // Every key result of the organisation's ACTIVE cycles without a check-in
  // since `since` (all pages of ListStaleKeyResults), ordered by owner then
  // key result. UNAVAILABLE naming tracking's address when it cannot be
  // reached within the deadline.
  virtual absl::StatusOr<std::vector<v1::StaleKeyResult>> StaleKeyResults(
      absl::string_view organisation_id, absl::Time since) = 0;

  // The same key results in the same order, handed to `page` a page at a
  // time as they arrive (a large organisation's listing is never all in
  // memory at once); the first error, of tracking or of `page`, ends it.
  // The default calls StaleKeyResults and hands over one page.
  using StalePage = absl::FunctionRef<absl::Status(
      const google::protobuf::RepeatedPtrField<v1::StaleKeyResult>&)>;
  virtual absl::Status ForEachStalePage(absl::string_view organisation_id, absl::Time since,
                                        StalePage page) {
    absl::StatusOr<std::vector<v1::StaleKeyResult>> all = StaleKeyResults(organisation_id, since);
    if (!all.ok()) return all.status();
    google::protobuf::RepeatedPtrField<v1::StaleKeyResult> one(
        std::make_move_iterator(all->begin()), std::make_move_iterator(all->end()));
    return page(one);
  }

  // Every review of the objectives of `cycle_id` of `kind` (all pages of
  // ListReviews).
  virtual absl::StatusOr<std::vector<v1::Review>> Reviews(absl::string_view organisation_id,
                                                          absl::string_view cycle_id,
                                                          v1::ReviewKind kind) = 0;
};

struct GrpcTrackingSourceOptions {
  // tracking's address, HOST:PORT (the --tracking_addr flag).
  std::string address;
  // Deadline of each call, retries included.
  absl::Duration call_timeout = absl::Seconds(5);
  // Bearer token sent as "authorization: Bearer <token>" when not empty.
  std::string token;
  // TLS and a rotating service token (ServiceRuntime::PeerCredentials()).
  PeerCredentials credentials;
};

// A TrackingSource over okr.v1.TrackingService, built like
// services/tracking's GrpcPlanSource: the organisation in the
// "okr-organisation-id" metadata entry, gRPC's retry policy for UNAVAILABLE.
// Thread-safe.
absl::StatusOr<std::unique_ptr<TrackingSource>> NewGrpcTrackingSource(
    GrpcTrackingSourceOptions options);

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_TRACKING_SOURCE_H_
