// A NotifyStore decorator that measures every call of the store it wraps
// (okr_store_duration_seconds and okr_store_errors_total with
// service="notify" and the method's name as `operation`; see
// common/metrics.h). okr-notify wraps whatever --store opened, so SQLite and
// PostgreSQL are measured alike and the use-cases and the webhook
// dispatcher do not know.
#ifndef OKR_SERVICES_NOTIFY_INSTRUMENTED_NOTIFY_STORE_H_
#define OKR_SERVICES_NOTIFY_INSTRUMENTED_NOTIFY_STORE_H_

#include <memory>

#include "services/notify/notify_store.h"

namespace okr::notify {

// Returns a store that forwards every call to `store` and records its
// latency and failures. The result owns `store`.
std::unique_ptr<NotifyStore> InstrumentNotifyStore(std::unique_ptr<NotifyStore> store);

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_INSTRUMENTED_NOTIFY_STORE_H_
