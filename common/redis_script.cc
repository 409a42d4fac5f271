#include "common/redis_script.h"

#include <openssl/sha.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/redis.h"

namespace okr {

std::string Sha1Hex(absl::string_view data) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * SHA_DIGEST_LENGTH);
  for (unsigned char byte : digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0xf]);
  }
  return hex;
}

RedisScript::RedisScript(absl::string_view source)
    : source_(source), sha1_(Sha1Hex(source)) {}

absl::StatusOr<RedisReply> RedisScript::Run(
    RedisClient& redis, absl::Span<const absl::string_view> keys,
    absl::Span<const absl::string_view> args) const {
  const std::string key_count = absl::StrCat(keys.size());
  std::vector<absl::string_view> command;
  command.reserve(3 + keys.size() + args.size());
  command.push_back("EVALSHA");
  command.push_back(sha1_);
  command.push_back(key_count);
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  absl::StatusOr<RedisReply> reply = redis.Command(command);
  if (reply.ok() && reply->is_error() && absl::StartsWith(reply->str, "NOSCRIPT")) {
    // One extra round trip per loss of Redis' script cache; EVAL caches the
    // script again, so the next call's EVALSHA hits.
    command[0] = "EVAL";
    command[1] = source_;
    reply = redis.Command(command);
  }
  return reply;
}

}  // namespace okr
