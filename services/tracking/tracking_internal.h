// The tracking core's per-organisation state and the helpers its method files
// share (tracking.cc, tracking_reviews.cc). Not part of the service's API.
#ifndef OKR_SERVICES_TRACKING_TRACKING_INTERNAL_H_
#define OKR_SERVICES_TRACKING_TRACKING_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/scoring.h"
#include "okr/v1/common.pb.h"
#include "okr/v1/tracking.pb.h"
#include "services/planning/org_state.h"
#include "services/tracking/rollup_cache.h"
#include "services/tracking/tracking.h"
#include "services/tracking/tracking_store.h"

namespace okr::tracking {

// A check-in as memory keeps it: the model value plus its store sequence
// (which orders check-ins with equal times).
struct KeptCheckIn {
  CheckIn check_in;
  int64_t sequence = 0;
};

// One kept check-in, shared by the slots of a KeyResultTrack that hold it.
using KeptRef = std::shared_ptr<const KeptCheckIn>;

// What scoring and the score messages need of one key result's history: the
// latest check-in with a value, with `done`, with a signal, and overall.
// Usually one check-in fills all four slots, so they share it: a track is
// 72 bytes plus one check-in, not four copies (1.1 KB per key result before,
// 590 MB of hash table at 400,000 key results).
struct KeyResultTrack {
  int64_t count = 0;
  KeptRef value, done, signal, last;  // null: no such check-in yet

  // Merges a check-in by (time, sequence): a later one replaces an earlier.
  void Merge(KeptCheckIn kept);
  // The distinct check-ins kept, ordered by (time, sequence); they live as
  // long as the track does not change.
  std::vector<const KeptCheckIn*> Distinct() const;
  absl::Time last_time() const {
    return last != nullptr ? last->check_in.time : absl::InfinitePast();
  }
};

// The frozen scores of closed cycles, by id.
struct FrozenScores {
  absl::flat_hash_map<Id, v1::KeyResultScore> key_results;
  absl::flat_hash_map<Id, v1::ObjectiveScore> objectives;
  absl::flat_hash_map<Id, FrozenCycle> cycles;  // as stored, by cycle id
};

// When a score last changed.
struct NodeStamp {
  int64_t tracking_sequence = 0;
  absl::Time time = absl::InfinitePast();
};

// Tracking::Org::StaleListing (see there).
struct StaleKeyResultListing {
  std::string filter_key;  // since and the filters, as the page tokens carry them
  int64_t plan_sequence = 0;
  int64_t tracking_sequence = 0;
  size_t frozen_cycles = 0;
  std::vector<std::string> keys;  // "<owner>\x1f<key result id>", ascending
};

struct Tracking::Org {
  explicit Org(std::string id) : id(std::move(id)) {}

  const std::string id;
  // Check-ins hold it shared from their plan checks until their write is
  // applied to memory, with `mu` released while the store and Redis work;
  // CloseCycle and RebuildRollups hold it exclusively, so a freeze or a
  // rebuild never runs between a check-in's store write and its application
  // here. Taken before `mu`.
  absl::Mutex write_gate;
  absl::Mutex mu;

  bool loaded = false;
  planning::OrgState plan;
  absl::TimeZone zone = absl::UTCTimeZone();
  absl::Time plan_refreshed = absl::InfinitePast();
  absl::Time store_refreshed = absl::InfinitePast();

  // The scores: built from the plan and the kept check-ins at
  // graph_plan_sequence, then updated one check-in at a time.
  std::optional<ScoreGraph> graph;
  int64_t graph_plan_sequence = 0;
  absl::Time graph_time = absl::InfinitePast();

  int64_t tracking_sequence = 0;  // the store's latest write applied here
  absl::flat_hash_map<Id, KeyResultTrack> tracks;
  // Reviews as stored (output fields filled), by objective id and kind.
  absl::flat_hash_map<Id, absl::flat_hash_map<int, v1::Review>> reviews;
  FrozenScores frozen;
  absl::flat_hash_map<Id, NodeStamp> kr_stamps, objective_stamps;
  // The stamp of a score that has not changed since the organisation was
  // loaded or rebuilt: everything was computed at that sequence, so a cache
  // entry from an earlier life of the process is never taken as newer.
  NodeStamp base_stamp;
  // Planning failed: do not ask again before this (the mirror serves).
  absl::Time plan_retry_after = absl::InfinitePast();

  // Cache writes failed: Maintain() rewrites every score once Redis answers.
  bool cache_dirty = false;

  // The sorted result of the last ListStaleKeyResults, so that its later
  // pages cost their own size instead of a scan and sort of every key result
  // each (a listing of 400,000 is 400 pages). Valid while the plan, the
  // store's writes and the frozen cycles are where they were when it was
  // built; dropped after its last page. Guarded by `mu`.
  // Defined outside: clang cannot default-construct a nested struct with
  // member initializers inside std::optional before Org is complete.
  using StaleListing = StaleKeyResultListing;
  std::optional<StaleListing> stale_listing;

  // Catch-ups with planning, one at a time and shared (Tracking::RefreshPlan):
  // calls are numbered as they start; a caller waits for one that started
  // after it asked. Guarded by `mu`, which is released during the call.
  int64_t plan_calls_started = 0;
  int64_t plan_calls_finished = 0;
  bool plan_call_running = false;
  absl::Status plan_call_status;
  absl::CondVar plan_call_done;

  // The cache entries of concurrent check-ins, written by one Put per batch
  // (Tracking::PutCoalesced); numbered like the plan calls. Guarded by
  // `cache_mu`, never held with `mu`.
  absl::Mutex cache_mu;
  std::vector<CachedScore> cache_pending;
  int64_t cache_batches_started = 0;
  int64_t cache_batches_finished = 0;
  bool cache_batch_running = false;
  absl::CondVar cache_batch_done;

  // The cache reads of concurrent readers, fetched by one pipelined Get per
  // batch (Tracking::GetCoalesced); numbered like the plan calls. Guarded by
  // `cache_read_mu`, never held with `mu`.
  struct CacheRead {
    const std::vector<ScoreKey>* keys;
    absl::StatusOr<std::vector<std::optional<CachedScore>>> result;
  };
  absl::Mutex cache_read_mu;
  std::vector<CacheRead*> cache_reads_pending;
  int64_t cache_reads_started = 0;
  int64_t cache_reads_finished = 0;
  bool cache_read_running = false;
  absl::CondVar cache_read_done;
};

// Helpers shared by the method files; each runs with org.mu held.
namespace internal {

// The version a score of `org` carries: when it last changed here and the
// plan the scores were built on.
ScoreVersion VersionOf(const Tracking::Org& org, const NodeStamp& stamp);

// When the score of a key result / objective last changed.
NodeStamp KeyResultStamp(const Tracking::Org& org, absl::string_view id);
NodeStamp ObjectiveStamp(const Tracking::Org& org, absl::string_view id);

// Marks every score as computed at the organisation's current sequence
// (after a load or a rebuild from the store).
void ResetStamps(Tracking::Org& org, absl::Time now);

// The review of (objective, kind), or null.
const v1::Review* FindReview(const Tracking::Org& org, absl::string_view objective_id,
                               ReviewKind kind);

// The instants of a cycle's start, end and grace end in the organisation's
// time zone.
struct CycleInstants {
  absl::Time start;
  absl::Time end;
  absl::Time grace_end;
};
CycleInstants InstantsOf(const Tracking::Org& org, const Cycle& cycle, int default_grace_days);

// The current score messages of a key result / objective, computed from
// memory (frozen scores win), with the pace at `now` unless !with_pace (the
// cache's copy has none: it would cost a pass over the objective's KRs).
absl::StatusOr<v1::KeyResultScore> KeyResultScoreOf(const Tracking::Org& org,
                                                    absl::string_view id);
absl::StatusOr<v1::ObjectiveScore> ObjectiveScoreOf(const Tracking::Org& org, absl::string_view id,
                                                    absl::Time now, bool with_pace = true);
// Fills the objective's pace from its effective score at `now`.
void FillPace(const Tracking::Org& org, const Objective& objective, absl::Time now,
              v1::ObjectiveScore* score);

// Whether the cycle's scores are frozen (closed through CloseCycle).
bool IsFrozen(const Tracking::Org& org, absl::string_view cycle_id);

// Re-reads everything from the store and rebuilds the scores (RebuildRollups,
// first load).
absl::Status ApplySnapshot(Tracking::Org& org, const TrackingSnapshot& snapshot);
absl::Status RebuildGraph(Tracking::Org& org, absl::Time now);

// Hands memory freed by a load or a rebuild back to the system (glibc keeps
// it otherwise, and the RSS would stay at the peak).
void ReturnFreedMemory();

}  // namespace internal
}  // namespace okr::tracking

#endif  // OKR_SERVICES_TRACKING_TRACKING_INTERNAL_H_
