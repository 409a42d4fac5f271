// Where tracking gets the plan from: planning's change feed.
//
// Tracking never owns the plan. It keeps a mirror of each organisation's plan
// (an OrgState, the same in-memory shape planning serves from) and brings it
// up to date by applying planning's change-feed entries in sequence order.
// PlanSource is that feed as tracking consumes it: GrpcPlanSource calls
// okr.v1.PlanningService over gRPC with a deadline on every call and retries
// on UNAVAILABLE; tests may serve the feed from an in-process Planning.
#ifndef OKR_SERVICES_TRACKING_PLAN_SOURCE_H_
#define OKR_SERVICES_TRACKING_PLAN_SOURCE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/service_client.h"
#include "services/planning/org_state.h"

namespace okr::tracking {

// One change-feed entry, converted to the model.
struct PlanDelta {
  int64_t sequence = 0;
  ResourceKind kind = ResourceKind::kUnspecified;
  Id id;
  bool deleted = false;
  // The resource after the change; absent when deleted.
  std::optional<planning::Resource> resource;
};

// One page of the feed.
struct PlanDeltaPage {
  std::vector<PlanDelta> changes;  // in sequence order
  // The organisation's latest sequence when the page was read; when it is
  // above the last change's sequence there is more to fetch.
  int64_t latest_sequence = 0;
};

class PlanSource {
 public:
  virtual ~PlanSource() = default;

  // Up to one page (at most 1,000) of `organisation_id`'s changes with a
  // sequence above `after_sequence`. An organisation planning does not know
  // has no changes (latest_sequence 0), not an error. UNAVAILABLE (or
  // DEADLINE_EXCEEDED turned into UNAVAILABLE) when planning cannot be
  // reached within the call's deadline, with a message naming planning's
  // address.
  virtual absl::StatusOr<PlanDeltaPage> ChangesAfter(absl::string_view organisation_id,
                                                     int64_t after_sequence) = 0;

  // The pages of `organisation_id`'s changes after `after_sequence`, each
  // handed to `on_page` in order, until one reaches the latest sequence.
  // Stops at the first failure, of a fetch or of `on_page`, and returns it;
  // the pages handed over before it stay handed over. Every page is read
  // after the call started. The default calls ChangesAfter page after page;
  // GrpcPlanSource asks for the next page while `on_page` takes this one.
  virtual absl::Status ForEachPage(absl::string_view organisation_id, int64_t after_sequence,
                                   absl::FunctionRef<absl::Status(PlanDeltaPage&&)> on_page);

  // Moves a cycle one state forward (CloseCycle's last steps: ACTIVE ->
  // REVIEW -> CLOSED) and returns it as stored. `version` is the version
  // read; planning's own errors (ABORTED, FAILED_PRECONDITION, NOT_FOUND)
  // pass through with their messages.
  virtual absl::StatusOr<Cycle> UpdateCycleState(absl::string_view organisation_id,
                                                 absl::string_view cycle_id, CycleState state,
                                                 int64_t version) = 0;
};

// What CatchUpPlan changed.
struct PlanCatchUp {
  bool organisation_changed = false;  // the organisation's settings
  bool objectives_changed = false;    // objectives or key results
};

// Applies `source`'s changes after plan->sequence() to `plan`, page after
// page, until it holds the latest sequence. Stops at the first failure (the
// pages applied before it stay applied, so a retry resumes).
absl::StatusOr<PlanCatchUp> CatchUpPlan(PlanSource& source, absl::string_view organisation_id,
                                        planning::OrgState& plan);

// Applies one page of the feed to `plan` (changes at or below its sequence
// are skipped, so a page fetched earlier is harmless) and notes in `result`
// what changed. Returns whether the plan now holds the page's latest
// sequence (nothing more to fetch).
bool ApplyPlanPage(const PlanDeltaPage& page, planning::OrgState& plan, PlanCatchUp* result);
// The same, moving the page's resources into `plan` instead of copying them
// (a first catch-up applies hundreds of thousands).
bool ApplyPlanPage(PlanDeltaPage&& page, planning::OrgState& plan, PlanCatchUp* result);

// The pages of `organisation_id`'s changes after `after_sequence`, fetched
// until the latest, without touching any plan: the slow part of a catch-up,
// which tracking runs without holding the organisation's lock. `status` is
// the first failure; the pages before it are kept (apply them, a retry
// resumes from there).
struct FetchedPlanChanges {
  std::vector<PlanDeltaPage> pages;
  absl::Status status;
};
FetchedPlanChanges FetchPlanChanges(PlanSource& source, absl::string_view organisation_id,
                                    int64_t after_sequence);

// Options of GrpcPlanSource.
struct GrpcPlanSourceOptions {
  // planning's address, HOST:PORT (the --planning_addr flag).
  std::string address;
  // Deadline of each call, retries included.
  absl::Duration call_timeout = absl::Seconds(2);
  // Bearer token sent as "authorization: Bearer <token>" when not empty.
  std::string token;
  // TLS and a rotating service token (ServiceRuntime::PeerCredentials()).
  PeerCredentials credentials;
};

// A PlanSource over okr.v1.PlanningService. The channel is created at once
// and connects lazily; gRPC's retry policy (service config) retries
// UNAVAILABLE up to 3 attempts with backoff inside call_timeout. The
// organisation goes in the "okr-organisation-id" metadata entry. Thread-safe.
absl::StatusOr<std::unique_ptr<PlanSource>> NewGrpcPlanSource(GrpcPlanSourceOptions options);

}  // namespace okr::tracking

#endif  // OKR_SERVICES_TRACKING_PLAN_SOURCE_H_
