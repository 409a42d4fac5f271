// The rollup cache: every key result's and objective's current score in
// Redis, shared by all tracking replicas.
//
// Keys: RedisKey(org, {"score", "kr", id}) and RedisKey(org, {"score", "ob",
// id}), each a hash with fields
//   t  the tracking sequence the score reflects (check-ins, reviews),
//   p  the plan sequence it reflects,
//   v  the serialized okr.v1.KeyResultScore / okr.v1.ObjectiveScore.
// A write replaces an entry only when its version (t, p), compared t first,
// is not older than the cached one, so a slow writer can never put an older
// score over a newer one, and a reader that gets an entry at least as new as
// the version its own write produced never sees an older score. Put writes
// all entries of one check-in (the key result and its ancestors) with one
// script call in one round trip, atomically.
//
// Redis is never the only copy: every failure comes back as a Status and the
// caller serves from its own state instead. The cache counts its hits,
// misses and failures and remembers whether Redis answered last time, for
// logs, health detail and metrics.
#ifndef OKR_SERVICES_TRACKING_ROLLUP_CACHE_H_
#define OKR_SERVICES_TRACKING_ROLLUP_CACHE_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/model.h"
#include "common/redis.h"

namespace okr::tracking {

// A score's version: compared t first, then p.
struct ScoreVersion {
  int64_t tracking_sequence = 0;
  int64_t plan_sequence = 0;
  friend bool operator<(const ScoreVersion& a, const ScoreVersion& b) {
    return a.tracking_sequence != b.tracking_sequence
               ? a.tracking_sequence < b.tracking_sequence
               : a.plan_sequence < b.plan_sequence;
  }
  friend bool operator==(const ScoreVersion& a, const ScoreVersion& b) {
    return a.tracking_sequence == b.tracking_sequence && a.plan_sequence == b.plan_sequence;
  }
};

// Which score: a key result's (kKeyResult) or an objective's (kObjective).
struct ScoreKey {
  ResourceKind kind = ResourceKind::kUnspecified;
  Id id;
};

struct CachedScore {
  ScoreKey key;
  ScoreVersion version;
  std::string body;  // serialized okr.v1.KeyResultScore / ObjectiveScore
};

// What the cache has seen, for health detail and metrics.
struct RollupCacheStats {
  bool available = true;     // the last call reached Redis
  std::string last_error;    // of the last failed call
  absl::Time last_change = absl::InfinitePast();  // when `available` last flipped
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t failures = 0;      // calls that failed (each a fallback for the caller)
  int64_t writes = 0;        // entries written (or kept because newer)
};

class RollupCache {
 public:
  // `redis` must outlive the cache.
  explicit RollupCache(RedisClient* redis);
  RollupCache(const RollupCache&) = delete;
  RollupCache& operator=(const RollupCache&) = delete;

  // Writes `entries` of `organisation_id` atomically in one round trip; each
  // replaces its cached entry unless that one has a newer version. An error
  // (UNAVAILABLE when Redis is down) means nothing is known to be written.
  absl::Status Put(absl::string_view organisation_id, absl::Span<const CachedScore> entries);

  // Reads the entries of `keys` in one round trip: one element per key, in
  // order, nullopt for a miss (or an entry that does not parse).
  absl::StatusOr<std::vector<std::optional<CachedScore>>> Get(absl::string_view organisation_id,
                                                             absl::Span<const ScoreKey> keys);

  // Deletes every cached score of `organisation_id` (SCAN of its prefix and
  // UNLINK, in batches), e.g. before a full rebuild. Returns how many.
  absl::StatusOr<int64_t> Clear(absl::string_view organisation_id);

  RollupCacheStats stats() const;

 private:
  // Records the outcome of a call for stats() (and logs a flip of
  // availability once, not per call).
  void Record(const absl::Status& status);

  RedisClient* redis_;
  mutable absl::Mutex mu_;
  RollupCacheStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace okr::tracking

#endif  // OKR_SERVICES_TRACKING_ROLLUP_CACHE_H_
