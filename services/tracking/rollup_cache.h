// The rollup cache: every key result's and objective's current score in
// Redis, shared by all tracking replicas.
//
// Keys: RedisKey(org, {"score", "kr", id}) and RedisKey(org, {"score", "ob",
// id}), i.e. "okr:{<org>}:score:kr:<id>", each a hash with fields
//   t  the tracking sequence the score reflects (check-ins, reviews),
//   p  the plan sequence it reflects,
//   v  the serialized okr.v1.KeyResultScore / okr.v1.ObjectiveScore.
// t and p are written as decimal integers in [0, 2^53): the compare-and-set
// runs in Redis' Lua, whose numbers are doubles, and every integer below 2^53
// is exact there. Put refuses larger versions rather than compare them wrong.
//
// A write replaces an entry only when its version (t, p), compared t first,
// is not older than the cached one (an equal version replaces), so a slow
// writer can never put an older score over a newer one, and a reader that
// gets an entry at least as new as the version its own write produced never
// sees an older score. Put writes all entries of one check-in (the key
// result and its ancestors) with one script call in one round trip: Redis
// runs a script to completion before any other command, so no reader, however
// it reads, sees some of those entries updated and others not. An entry that
// is not a well-formed hash (missing fields, junk numbers, another type) is a
// miss for Get and is overwritten by any Put.
//
// The organisation is the hash tag of every key, so one Put touches a single
// Redis Cluster slot.
//
// Redis is never the only copy: every failure comes back as a Status and the
// caller serves from its own state instead. The cache counts its hits,
// misses and failures and remembers whether its last call succeeded, for
// logs (one line when that flips), health detail and metrics: the process
// registry's okr_cache_requests_total{result="hit|miss|fallback"} (per key
// read; fallback = the read failed and the caller answers from memory) and
// okr_cache_errors_total{operation="get|put|clear"}.
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
  // Whether the last call that went to Redis succeeded. False after a call
  // failed for any reason Redis gave (down, timeout, OOM, read-only replica):
  // the cache is of no use to callers then, whatever the cause.
  bool available = true;
  std::string last_error;    // of the last failed call
  absl::Time last_change = absl::InfinitePast();  // when `available` last flipped
  int64_t hits = 0;          // Get keys found
  int64_t misses = 0;        // Get keys absent or malformed
  // Calls that went to Redis and failed (each a fallback for the caller);
  // INVALID_ARGUMENT refusals never reach Redis and are not counted.
  int64_t failures = 0;
  int64_t writes = 0;        // entries written (or kept because newer)
  int64_t refused = 0;       // of `writes`, those kept because the cached one was newer
};

class RollupCache {
 public:
  // `redis` must outlive the cache.
  explicit RollupCache(RedisClient* redis);
  RollupCache(const RollupCache&) = delete;
  RollupCache& operator=(const RollupCache&) = delete;

  // Writes `entries` of `organisation_id` atomically in one round trip; each
  // replaces its cached entry unless that one has a newer version (entries
  // are applied in order, so a repeated key ends at the newest of them). An
  // error (UNAVAILABLE when Redis is down) means nothing is known to be
  // written. INVALID_ARGUMENT, before any Redis call, for a kind other than
  // kKeyResult / kObjective, an empty id, or a sequence outside [0, 2^53).
  absl::Status Put(absl::string_view organisation_id, absl::Span<const CachedScore> entries);

  // Reads the entries of `keys` in one round trip: one element per key, in
  // order, nullopt for a miss (or an entry that does not parse). Each entry
  // is read atomically, the set of them is not (compare each one's version).
  // INVALID_ARGUMENT, before any Redis call, for a key Put would refuse.
  absl::StatusOr<std::vector<std::optional<CachedScore>>> Get(absl::string_view organisation_id,
                                                             absl::Span<const ScoreKey> keys);

  // Deletes every cached score of `organisation_id` (SCAN of its prefix and
  // UNLINK, in batches), e.g. before a full rebuild. Returns how many. Not
  // atomic: an entry Put while Clear runs may survive it. On an error some
  // entries may already be gone, which is harmless for a cache.
  absl::StatusOr<int64_t> Clear(absl::string_view organisation_id);

  // A copy of the counters and the availability; the counters are read one
  // by one while calls may go on, so they need not add up exactly.
  RollupCacheStats stats() const;

 private:
  // Records the outcome of a call that went to Redis for stats() (and logs a
  // flip of availability once, not per call). Returns `status`.
  absl::Status Record(absl::Status status);

  RedisClient* const redis_;

  // The counters are bumped on every call, so they are atomics rather than
  // fields under mu_, which only the rare availability flips take.
  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> misses_{0};
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> writes_{0};
  std::atomic<int64_t> refused_{0};
  std::atomic<bool> available_{true};  // written only under mu_

  mutable absl::Mutex mu_;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  absl::Time last_change_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace okr::tracking

#endif  // OKR_SERVICES_TRACKING_ROLLUP_CACHE_H_
