// A PlanningStore decorator that measures every call of the store it wraps
// (okr_store_duration_seconds and okr_store_errors_total with
// service="planning" and the method's name as `operation`; see
// common/metrics.h). okr-planning wraps whatever --store opened, so SQLite
// and PostgreSQL are measured alike and the use-cases do not know.
#ifndef OKR_SERVICES_PLANNING_INSTRUMENTED_PLANNING_STORE_H_
#define OKR_SERVICES_PLANNING_INSTRUMENTED_PLANNING_STORE_H_

#include <memory>

#include "services/planning/planning_store.h"

namespace okr::planning {

// Returns a store that forwards every call to `store` and records its
// latency and failures. The result owns `store`.
std::unique_ptr<PlanningStore> InstrumentPlanningStore(std::unique_ptr<PlanningStore> store);

}  // namespace okr::planning

#endif  // OKR_SERVICES_PLANNING_INSTRUMENTED_PLANNING_STORE_H_
