// A TrackingStore decorator that measures every call of the store it wraps
// (okr_store_duration_seconds and okr_store_errors_total with
// service="tracking" and the method's name as `operation`; see
// common/metrics.h). okr-tracking wraps whatever --store opened, so SQLite
// and PostgreSQL are measured alike and the use-cases do not know.
#ifndef OKR_SERVICES_TRACKING_INSTRUMENTED_TRACKING_STORE_H_
#define OKR_SERVICES_TRACKING_INSTRUMENTED_TRACKING_STORE_H_

#include <memory>

#include "services/tracking/tracking_store.h"

namespace okr::tracking {

// Returns a store that forwards every call to `store` and records its
// latency and failures. The result owns `store`.
std::unique_ptr<TrackingStore> InstrumentTrackingStore(std::unique_ptr<TrackingStore> store);

}  // namespace okr::tracking

#endif  // OKR_SERVICES_TRACKING_INSTRUMENTED_TRACKING_STORE_H_
