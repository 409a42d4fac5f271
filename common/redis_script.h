// A Lua script run on Redis by its SHA-1 (EVALSHA), so the script body
// travels once per Redis script cache rather than with every call. When Redis
// answers NOSCRIPT (its script cache is empty after a restart, a failover or
// SCRIPT FLUSH) the call is repeated once with EVAL, which also puts the
// script back into the cache for the next EVALSHA.
//
// Shared by the tracking rollup cache's compare-and-set and the notify
// reminder publisher, so the fallback and the script's naming live in one
// place.
#ifndef OKR_COMMON_REDIS_SCRIPT_H_
#define OKR_COMMON_REDIS_SCRIPT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/redis.h"

namespace okr {

class RedisScript {
 public:
  // Copies `source` and computes its SHA-1 once, here.
  explicit RedisScript(absl::string_view source);

  // Runs the script with KEYS = `keys` and ARGV = `args` on `redis` and
  // returns its reply as RedisClient::Command does: transport failures as a
  // Status (UNAVAILABLE when Redis is down), a Redis error reply (including
  // one the script raised) as an OK RedisReply of kind kError. A NOSCRIPT
  // answer never reaches the caller: the call is retried with EVAL.
  absl::StatusOr<RedisReply> Run(RedisClient& redis,
                                 absl::Span<const absl::string_view> keys,
                                 absl::Span<const absl::string_view> args) const;

  const std::string& source() const { return source_; }
  // The SHA-1 of source() in lowercase hex, the name Redis files it under.
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

// The SHA-1 of `data` in lowercase hex (40 characters).
std::string Sha1Hex(absl::string_view data);

}  // namespace okr

#endif  // OKR_COMMON_REDIS_SCRIPT_H_
