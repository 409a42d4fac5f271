// The tracking use-cases: everything okr.v1.TrackingService does, with no
// gRPC in sight (services/tracking/grpc_tracking_service.h is the adapter).
//
// Requests and results are the okr.v1 protocol messages themselves: scores,
// explanations and reviews exist only as what the API returns, so tracking
// has no model structs of its own to convert into and back. Check-ins are
// converted to the model's CheckIn where the scoring library needs them.
//
// Per organisation, tracking keeps in memory:
//  - a mirror of the plan (an OrgState), brought up to date from planning's
//    change feed (PlanSource) before a write and, for reads, when it is older
//    than plan_refresh_interval;
//  - a ScoreGraph over the whole organisation, built from the plan and the
//    latest check-ins, then updated one check-in at a time (O(depth));
//  - per key result the check-in count and latest time, the reviews, and the
//    frozen scores of closed cycles;
//  - the version (tracking sequence, plan sequence) at which each score last
//    changed.
// A write goes to the store first (TrackingStore), then to memory, then to
// the Redis rollup cache (RollupCache): what a caller was told is stored is
// stored. Reads are served from the cache when its entry is at least as new
// as this replica's own state, else from memory (and the entry is repaired);
// with Redis down everything is served from memory and the organisation is
// marked for a cache rewrite once Redis answers again (Maintain()).
//
// Thread-safe. Methods block on the store, planning and Redis: call them
// from worker threads, never from a gRPC reactor.
//
// The method files: tracking.cc (the core: loading, refresh, check-ins,
// scores, explanations, stale key results) and tracking_reviews.cc (reviews,
// closing cycles, rebuilding rollups).
#ifndef OKR_SERVICES_TRACKING_TRACKING_H_
#define OKR_SERVICES_TRACKING_TRACKING_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "okr/v1/tracking.pb.h"
#include "services/tracking/plan_source.h"
#include "services/tracking/rollup_cache.h"
#include "services/tracking/tracking_store.h"

namespace okr::tracking {

struct TrackingOptions {
  // Reads bring the plan mirror up to date when it is older than this.
  absl::Duration plan_refresh_interval = absl::Seconds(1);
  // When planning cannot be reached, writes go on with a mirror refreshed
  // within this long (and say so in the log); beyond it they fail with
  // UNAVAILABLE. An organisation never loaded always needs planning.
  absl::Duration plan_max_staleness = absl::Seconds(30);
  // Reads pick up other replicas' writes from the store when this replica's
  // copy is older than this.
  absl::Duration store_refresh_interval = absl::Seconds(1);
  // Grace days when neither the cycle nor the organisation sets them.
  int default_grace_days = kDefaultCheckInGraceDays;
  // The clock (tests pin it).
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// What the service reports beside SERVING: whether the cache and planning
// answered the last time they were asked.
struct TrackingHealth {
  bool cache_enabled = false;
  RollupCacheStats cache;
  bool plan_reachable = true;
  std::string plan_error;  // the last failure, when not reachable
  int64_t organisations_loaded = 0;
  int64_t organisations_cache_dirty = 0;  // waiting for a cache rewrite
};

class Tracking {
 public:
  // `store` and `plan` must outlive this; `cache` may be null (no Redis:
  // every read is served from memory).
  Tracking(TrackingStore* store, PlanSource* plan, RollupCache* cache,
           TrackingOptions options = {});
  ~Tracking();
  Tracking(const Tracking&) = delete;
  Tracking& operator=(const Tracking&) = delete;

  // Each method serves the RPC of the same name for organisation `org` (from
  // the caller's credentials), fills `response` and returns the status the
  // RPC answers with; the error codes are those of tracking.proto.
  absl::Status RecordCheckIn(absl::string_view org, const v1::RecordCheckInRequest& request,
                             v1::RecordCheckInResponse* response);
  absl::Status ListCheckIns(absl::string_view org, const v1::ListCheckInsRequest& request,
                            v1::ListCheckInsResponse* response);
  absl::Status GetKeyResultScore(absl::string_view org,
                                 const v1::GetKeyResultScoreRequest& request,
                                 v1::KeyResultScore* response);
  absl::Status GetObjectiveScore(absl::string_view org,
                                 const v1::GetObjectiveScoreRequest& request,
                                 v1::ObjectiveScore* response);
  absl::Status GetScoredTree(absl::string_view org, const v1::GetScoredTreeRequest& request,
                             v1::ScoredTree* response);
  absl::Status ExplainScore(absl::string_view org, const v1::ExplainScoreRequest& request,
                            v1::ScoreExplanation* response);
  absl::Status ListStaleKeyResults(absl::string_view org,
                                   const v1::ListStaleKeyResultsRequest& request,
                                   v1::ListStaleKeyResultsResponse* response);
  absl::Status UpsertReview(absl::string_view org, const v1::UpsertReviewRequest& request,
                            v1::Review* response);
  absl::Status GetReview(absl::string_view org, const v1::GetReviewRequest& request,
                         v1::Review* response);
  absl::Status ListReviews(absl::string_view org, const v1::ListReviewsRequest& request,
                           v1::ListReviewsResponse* response);
  absl::Status CloseCycle(absl::string_view org, const v1::CloseCycleRequest& request,
                          v1::CloseCycleResponse* response);
  absl::Status RebuildRollups(absl::string_view org, const v1::RebuildRollupsRequest& request,
                              v1::RebuildRollupsResponse* response);

  // Rewrites the cache of every organisation whose cache writes failed,
  // once Redis answers again. The main runs it every few seconds; tests call
  // it directly. Returns the number of organisations healed.
  int Maintain();

  TrackingHealth health() const;

  // The per-organisation state (tracking_internal.h).
  struct Org;

 private:
  // Returns the organisation's state, created empty on first use; the
  // caller locks org->mu and calls Prepare.
  Org* FindOrCreateOrg(absl::string_view org);
  // Loads the organisation on first use (plan from planning, the rest from
  // the store) and brings it up to date: the plan before a write or when
  // older than plan_refresh_interval, other replicas' writes when older
  // than store_refresh_interval. UNAVAILABLE when planning is needed and
  // cannot be reached.
  absl::Status Prepare(Org& org, bool for_write);
  // Pulls planning's changes into the mirror and rebuilds the scores when
  // objectives or key results changed. Called with org.mu held; returns the
  // outcome of a ListPlanChanges catch-up that STARTED after the call, shared
  // with concurrent callers (one runs it, with org.mu released during the
  // RPC, the others wait), so the mirror holds everything planning
  // acknowledged before the caller asked.
  absl::Status RefreshPlan(Org& org);
  // Applies the store's writes after the organisation's sequence.
  absl::Status CatchUpStore(Org& org);
  // Writes the given scores (or, with `all`, every score) to the cache;
  // marks the organisation for Maintain() when Redis fails.
  void WriteCache(Org& org, const std::vector<ScoreKey>& keys, bool all);
  // Writes `entries` to the cache together with those of concurrent callers
  // (one Put per batch) and returns once a Put that includes them finished.
  // Called without org.mu; marks the organisation for Maintain() when Redis
  // fails.
  void PutCoalesced(Org& org, std::vector<CachedScore> entries);
  // The cache entries of `keys` (as RollupCache::Get), read by a Get that
  // started after the call, shared with concurrent readers: one pipelined
  // round trip per batch. Called without org.mu.
  absl::StatusOr<std::vector<std::optional<CachedScore>>> GetCoalesced(
      Org& org, const std::vector<ScoreKey>& keys);
  void NotePlanReachable(const absl::Status& status);
  std::string PlanError() const;

  TrackingStore* const store_;
  PlanSource* const plan_;
  RollupCache* const cache_;
  const TrackingOptions options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Org>> orgs_ ABSL_GUARDED_BY(mu_);
  bool plan_reachable_ ABSL_GUARDED_BY(mu_) = true;
  std::string plan_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace okr::tracking

#endif  // OKR_SERVICES_TRACKING_TRACKING_H_
