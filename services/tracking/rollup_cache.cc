#include "services/tracking/rollup_cache.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/model.h"
#include "common/redis.h"
#include "common/redis_script.h"
#include "common/status_macros.h"

namespace okr::tracking {
namespace {

// The cache's Prometheus counters (common/metrics.h), process-wide like the
// registry: okr_cache_requests_total{result} counts keys read (a hit, a
// miss, or a fallback: the read failed and the caller answers from memory)
// and okr_cache_errors_total{operation} the calls Redis failed.
struct CacheMetrics {
  metrics::Counter& hit;
  metrics::Counter& miss;
  metrics::Counter& fallback;
  metrics::Counter& get_errors;
  metrics::Counter& put_errors;
  metrics::Counter& clear_errors;
};

const CacheMetrics& Metrics() {
  static const CacheMetrics* const kMetrics = [] {
    metrics::CounterFamily& requests = metrics::Default().AddCounter(
        "okr_cache_requests_total",
        "Rollup cache keys read, by result: hit, miss, or fallback (Redis failed and the score "
        "came from memory).",
        {"result"});
    metrics::CounterFamily& errors = metrics::Default().AddCounter(
        "okr_cache_errors_total", "Rollup cache calls that Redis failed, by operation.",
        {"operation"});
    return new CacheMetrics{requests.WithLabels({"hit"}),    requests.WithLabels({"miss"}),
                            requests.WithLabels({"fallback"}), errors.WithLabels({"get"}),
                            errors.WithLabels({"put"}),        errors.WithLabels({"clear"})};
  }();
  return *kMetrics;
}

// Counts a failed call of `errors`' operation and passes `status` on.
absl::Status CountError(metrics::Counter& errors, absl::Status status) {
  errors.Increment();
  return status;
}

// Versions travel through Lua numbers (doubles); below this every integer is
// exact, so the script's comparisons agree with ScoreVersion's.
constexpr int64_t kMaxSequence = (int64_t{1} << 53) - 1;

// The compare-and-set of Put. KEYS[i] is entry i's hash, ARGV[3i-2],
// ARGV[3i-1], ARGV[3i] its t, p and v. Returns how many entries it wrote.
//
// Atomicity: Redis runs a script to completion before serving anyone else, so
// other clients see all of its writes or none. Redis does not roll a script
// back, though, so nothing in it may fail once it has written: HMGET goes
// through pcall (a key of another type is junk to replace, not an error), such
// a key is deleted before HSET, and the only remaining failure, OOM, is
// raised at the script's first write, before anything changed. Entries are
// compared and written one by one, so a key repeated in one Put compares
// against its own earlier write.
//
// A cached t or p that is not a plain decimal below 2^53 (junk written by
// hand) makes the entry malformed, exactly as ParseSequence() sees it:
// readers miss it, so any write replaces it. So does an entry without v.
constexpr absl::string_view kPutScript = R"lua(
local function seq(s)
  if type(s) ~= 'string' or #s > 16 or not string.find(s, '^%d+$') then return nil end
  local n = tonumber(s)
  if n > 9007199254740991 then return nil end
  return n
end
local written = 0
for i = 1, #KEYS do
  local key = KEYS[i]
  local t, p = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1])
  local cur = redis.pcall('HMGET', key, 't', 'p')
  local wrong_type = type(cur) ~= 'table' or cur.err ~= nil
  local write = true
  if not wrong_type then
    local ct, cp = seq(cur[1]), seq(cur[2])
    if ct ~= nil and cp ~= nil and (t < ct or (t == ct and p < cp)) then
      write = redis.call('HEXISTS', key, 'v') == 0
    end
  end
  if write then
    if wrong_type then redis.call('DEL', key) end
    redis.call('HSET', key, 't', ARGV[3 * i - 2], 'p', ARGV[3 * i - 1], 'v', ARGV[3 * i])
    written = written + 1
  end
end
return written
)lua";

// kPutScript, run by its SHA-1 (EVAL when Redis' script cache lost it).
const RedisScript& PutScript() {
  static const RedisScript* const kScript = new RedisScript(kPutScript);
  return *kScript;
}

// The key-kind component of an entry's key; empty for a kind the cache does
// not hold.
absl::string_view KindPart(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kKeyResult:
      return "kr";
    case ResourceKind::kObjective:
      return "ob";
    default:
      return {};
  }
}

// The field names of errors are built only on failure: Put and Get check
// every key on the hot path.
// The error names the key as list[index]suffix, e.g. "entries[2].key".
absl::Status CheckKey(const ScoreKey& key, absl::string_view list, size_t index,
                      absl::string_view suffix) {
  if (KindPart(key.kind).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(list, "[", index, "]", suffix,
                     ".kind: must be KEY_RESULT or OBJECTIVE, not ", Name(key.kind)));
  }
  if (key.id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(list, "[", index, "]", suffix, ".id: required"));
  }
  return absl::OkStatus();
}

absl::Status CheckSequence(int64_t value, size_t index, absl::string_view name) {
  if (value < 0 || value > kMaxSequence) {
    return absl::InvalidArgumentError(absl::StrCat(
        "entries[", index, "].version.", name, ": ", value,
        " is outside [0, 2^53): the cache compares versions as Lua numbers (doubles), "
        "exact only below 2^53"));
  }
  return absl::OkStatus();
}

std::string EntryKey(absl::string_view org, const ScoreKey& key) {
  const absl::string_view parts[] = {"score", KindPart(key.kind), key.id};
  return RedisKey(org, parts);
}

// A cached t or p: digits only, as Put writes them, and within the range Put
// accepts; anything else makes the entry malformed.
std::optional<int64_t> ParseSequence(const RedisReply& reply) {
  if (reply.kind != RedisReply::Kind::kString || reply.str.empty() ||
      reply.str.size() > 16) {
    return std::nullopt;
  }
  int64_t value = 0;
  for (char c : reply.str) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > kMaxSequence) return std::nullopt;
  return value;
}

// One HMGET t p v reply as an entry, or nullopt for a miss or junk. Moves the
// body out of `reply`.
std::optional<CachedScore> ParseEntry(const ScoreKey& key, RedisReply& reply) {
  if (reply.kind != RedisReply::Kind::kArray || reply.elements.size() != 3 ||
      reply.elements[2].kind != RedisReply::Kind::kString) {
    return std::nullopt;
  }
  std::optional<int64_t> t = ParseSequence(reply.elements[0]);
  std::optional<int64_t> p = ParseSequence(reply.elements[1]);
  if (!t.has_value() || !p.has_value()) return std::nullopt;
  CachedScore entry;
  entry.key = key;
  entry.version.tracking_sequence = *t;
  entry.version.plan_sequence = *p;
  entry.body = std::move(reply.elements[2].str);
  return entry;
}

// A Redis error reply as a Status naming what failed.
absl::Status ReplyError(absl::string_view what, const RedisReply& reply) {
  absl::Status status = reply.ToStatus();
  return absl::Status(status.code(), absl::StrCat("rollup cache ", what, ": ",
                                                  status.message()));
}

}  // namespace

RollupCache::RollupCache(RedisClient* redis) : redis_(redis) {}

absl::Status RollupCache::Put(absl::string_view organisation_id,
                              absl::Span<const CachedScore> entries) {
  if (entries.empty()) return absl::OkStatus();
  for (size_t i = 0; i < entries.size(); ++i) {
    OKR_RETURN_IF_ERROR(CheckKey(entries[i].key, "entries", i, ".key"));
    OKR_RETURN_IF_ERROR(
        CheckSequence(entries[i].version.tracking_sequence, i, "tracking_sequence"));
    OKR_RETURN_IF_ERROR(CheckSequence(entries[i].version.plan_sequence, i, "plan_sequence"));
  }

  // KEYS are the entries' hashes, ARGV t p v per entry; the views point into
  // `keys` and `numbers`, which are complete before any view is taken.
  const size_t n = entries.size();
  std::vector<std::string> keys;
  keys.reserve(n);
  for (const CachedScore& entry : entries) {
    keys.push_back(EntryKey(organisation_id, entry.key));
  }
  std::string numbers;
  numbers.reserve(n * 2 * 17);
  std::vector<size_t> ends;
  ends.reserve(n * 2);
  for (const CachedScore& entry : entries) {
    absl::StrAppend(&numbers, entry.version.tracking_sequence);
    ends.push_back(numbers.size());
    absl::StrAppend(&numbers, entry.version.plan_sequence);
    ends.push_back(numbers.size());
  }
  const std::vector<absl::string_view> key_views(keys.begin(), keys.end());
  std::vector<absl::string_view> args;
  args.reserve(3 * n);
  const absl::string_view all_numbers = numbers;
  size_t begin = 0;
  for (size_t i = 0; i < n; ++i) {
    for (int j = 0; j < 2; ++j) {
      const size_t end = ends[2 * i + j];
      args.push_back(all_numbers.substr(begin, end - begin));
      begin = end;
    }
    args.push_back(entries[i].body);
  }

  absl::StatusOr<RedisReply> reply = PutScript().Run(*redis_, key_views, args);
  if (!reply.ok()) return Record(CountError(Metrics().put_errors, reply.status()));
  if (reply->is_error()) return Record(CountError(Metrics().put_errors, ReplyError("put", *reply)));
  if (reply->kind != RedisReply::Kind::kInteger) {
    return Record(CountError(Metrics().put_errors, absl::InternalError(absl::StrCat(
        "rollup cache put: the script answered ", reply->DebugString(),
        " instead of a count"))));
  }
  writes_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
  refused_.fetch_add(static_cast<int64_t>(n) - reply->integer, std::memory_order_relaxed);
  return Record(absl::OkStatus());
}

absl::StatusOr<std::vector<std::optional<CachedScore>>> RollupCache::Get(
    absl::string_view organisation_id, absl::Span<const ScoreKey> keys) {
  std::vector<std::optional<CachedScore>> result;
  if (keys.empty()) return result;
  for (size_t i = 0; i < keys.size(); ++i) {
    OKR_RETURN_IF_ERROR(CheckKey(keys[i], "keys", i, ""));
  }
  RedisPipeline pipeline;
  for (const ScoreKey& key : keys) {
    const std::string name = EntryKey(organisation_id, key);
    const absl::string_view args[] = {"HMGET", name, "t", "p", "v"};
    pipeline.Add(args);
  }
  absl::StatusOr<std::vector<RedisReply>> replies = redis_->Execute(pipeline);
  const auto fallback = [&](absl::Status status) {
    Metrics().fallback.Increment(static_cast<double>(keys.size()));
    return Record(CountError(Metrics().get_errors, std::move(status)));
  };
  if (!replies.ok()) return fallback(replies.status());
  if (replies->size() != keys.size()) {
    return fallback(absl::InternalError(absl::StrCat(
        "rollup cache get: ", replies->size(), " replies to ", keys.size(), " commands")));
  }
  // A per-key error reply (WRONGTYPE on a key someone else wrote) is junk in
  // our namespace, a miss like any other malformed entry.
  result.reserve(keys.size());
  int64_t hits = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    result.push_back(ParseEntry(keys[i], (*replies)[i]));
    if (result.back().has_value()) ++hits;
  }
  hits_.fetch_add(hits, std::memory_order_relaxed);
  misses_.fetch_add(static_cast<int64_t>(keys.size()) - hits, std::memory_order_relaxed);
  Metrics().hit.Increment(static_cast<double>(hits));
  Metrics().miss.Increment(static_cast<double>(static_cast<int64_t>(keys.size()) - hits));
  OKR_RETURN_IF_ERROR(Record(absl::OkStatus()));
  return result;
}

absl::StatusOr<int64_t> RollupCache::Clear(absl::string_view organisation_id) {
  // RedisKeyPrefix escapes the glob characters of the organisation, so the
  // pattern matches this organisation's score keys and nothing else.
  const std::string pattern = absl::StrCat(RedisKeyPrefix(organisation_id), "score:*");
  constexpr absl::string_view kBatch = "1000";
  // Each round trip deletes the keys the previous SCAN step found and asks
  // for the next step; SCAN may return a key twice, UNLINK counts it once.
  std::string cursor = "0";
  std::vector<std::string> found;
  int64_t deleted = 0;
  bool done = false;
  while (!done || !found.empty()) {
    RedisPipeline pipeline;
    if (!found.empty()) {
      std::vector<absl::string_view> unlink;
      unlink.reserve(found.size() + 1);
      unlink.push_back("UNLINK");
      for (const std::string& key : found) unlink.push_back(key);
      pipeline.Add(unlink);
    }
    if (!done) {
      const absl::string_view scan[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", kBatch};
      pipeline.Add(scan);
    }
    absl::StatusOr<std::vector<RedisReply>> replies = redis_->Execute(pipeline);
    if (!replies.ok()) return Record(CountError(Metrics().clear_errors, replies.status()));
    for (const RedisReply& reply : *replies) {
      if (reply.is_error()) {
        return Record(CountError(Metrics().clear_errors, ReplyError("clear", reply)));
      }
    }
    size_t next = 0;
    if (!found.empty()) {
      const RedisReply& unlinked = (*replies)[next++];
      if (unlinked.kind == RedisReply::Kind::kInteger) deleted += unlinked.integer;
      found.clear();
    }
    if (!done) {
      RedisReply& scanned = (*replies)[next];
      if (scanned.kind != RedisReply::Kind::kArray || scanned.elements.size() != 2 ||
          scanned.elements[0].kind != RedisReply::Kind::kString ||
          scanned.elements[1].kind != RedisReply::Kind::kArray) {
        return Record(CountError(
            Metrics().clear_errors,
            absl::InternalError(absl::StrCat("rollup cache clear: unexpected SCAN reply ",
                                             scanned.DebugString()))));
      }
      cursor = std::move(scanned.elements[0].str);
      done = cursor == "0";
      for (RedisReply& key : scanned.elements[1].elements) {
        if (key.kind == RedisReply::Kind::kString) found.push_back(std::move(key.str));
      }
    }
  }
  OKR_RETURN_IF_ERROR(Record(absl::OkStatus()));
  return deleted;
}

RollupCacheStats RollupCache::stats() const {
  RollupCacheStats stats;
  absl::MutexLock lock(&mu_);
  stats.available = available_.load(std::memory_order_relaxed);
  stats.last_error = last_error_;
  stats.last_change = last_change_;
  stats.hits = hits_.load(std::memory_order_relaxed);
  stats.misses = misses_.load(std::memory_order_relaxed);
  stats.failures = failures_.load(std::memory_order_relaxed);
  stats.writes = writes_.load(std::memory_order_relaxed);
  stats.refused = refused_.load(std::memory_order_relaxed);
  return stats;
}

absl::Status RollupCache::Record(absl::Status status) {
  if (status.ok()) {
    // The hot path: Redis was and is fine, no lock.
    if (available_.load(std::memory_order_acquire)) return status;
    absl::MutexLock lock(&mu_);
    if (available_.load(std::memory_order_relaxed)) return status;  // another caller flipped it
    available_.store(true, std::memory_order_release);
    const absl::Time now = absl::Now();
    const absl::Duration down_for = now - last_change_;
    last_change_ = now;
    LogInfo("rollup cache: redis answers again; scores are cached again",
            {{"redis", absl::StrCat(redis_->options().host, ":", redis_->options().port)},
             {"down_for", down_for}});
    return status;
  }
  failures_.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  last_error_ = std::string(status.message());
  if (available_.load(std::memory_order_relaxed)) {
    available_.store(false, std::memory_order_release);
    last_change_ = absl::Now();
    // Logged once per outage, not per call: callers keep failing over to
    // their own state until Redis answers again.
    LogWarn("rollup cache: redis failed; serving scores without the cache",
            {{"redis", absl::StrCat(redis_->options().host, ":", redis_->options().port)},
             {"error", status}});
  }
  return status;
}

}  // namespace okr::tracking
