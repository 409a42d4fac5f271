// The rollup cache against a real redis-server on a free loopback port, with
// a second, raw RedisClient to look at (and spoil) what the cache wrote.
#include "services/tracking/rollup_cache.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/model.h"
#include "common/redis.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace okr::tracking {
namespace {

using ::testing::HasSubstr;
using Kind = RedisReply::Kind;

constexpr int64_t kMaxExactSequence = (int64_t{1} << 53) - 1;

ScoreKey Kr(absl::string_view id) { return {ResourceKind::kKeyResult, std::string(id)}; }
ScoreKey Ob(absl::string_view id) { return {ResourceKind::kObjective, std::string(id)}; }

CachedScore Entry(ScoreKey key, int64_t t, int64_t p, std::string body) {
  CachedScore entry;
  entry.key = std::move(key);
  entry.version = {t, p};
  entry.body = std::move(body);
  return entry;
}

// Short timeouts: a test that stops Redis must fail fast, not hang.
RedisOptions Options(int port) {
  RedisOptions options;
  options.port = port;
  options.connect_timeout = absl::Milliseconds(300);
  options.command_timeout = absl::Milliseconds(500);
  options.reconnect_backoff = absl::Milliseconds(50);
  options.pool_size = 8;
  return options;
}

class RollupCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<RedisClient>(Options(server_->port()));
    raw_ = std::make_unique<RedisClient>(Options(server_->port()));
    cache_ = std::make_unique<RollupCache>(client_.get());
  }

  // Runs a command on the raw client; a failed call is a failed test (the
  // reply then comes back as an error reply naming the status).
  RedisReply Raw(std::vector<absl::string_view> args) {
    absl::StatusOr<RedisReply> reply = raw_->Command(args);
    EXPECT_TRUE(reply.ok()) << args[0] << ": " << reply.status();
    return reply.ok() ? *std::move(reply) : RedisReply::Error(reply.status().ToString());
  }

  // The single entry of `key`, or nullopt for a miss; a failed Get fails the test.
  std::optional<CachedScore> GetOne(absl::string_view org, const ScoreKey& key) {
    absl::StatusOr<std::vector<std::optional<CachedScore>>> got = cache_->Get(org, {key});
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok() || got->size() != 1) return std::nullopt;
    return (*got)[0];
  }

  // "calls" of one command in INFO commandstats (0 when never called).
  int64_t CommandCalls(absl::string_view command) {
    const RedisReply info = Raw({"INFO", "commandstats"});
    const std::string prefix = absl::StrCat("cmdstat_", command, ":calls=");
    for (absl::string_view line : absl::StrSplit(info.str, "\r\n")) {
      if (!absl::ConsumePrefix(&line, prefix)) continue;
      int64_t calls = 0;
      if (absl::SimpleAtoi(line.substr(0, line.find(',')), &calls)) return calls;
    }
    return 0;
  }

  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<RedisClient> raw_;
  std::unique_ptr<RollupCache> cache_;
};

TEST_F(RollupCacheTest, PutThenGetReturnsEntriesInKeyOrder) {
  const std::string binary("score\0with\xff" "bytes", 16);
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(Kr("kr-1"), 7, 3, binary),
                                      Entry(Ob("ob-1"), 7, 3, "objective"),
                                      Entry(Ob("ob-root"), 2, 9, "")}));

  OKR_ASSERT_OK_AND_ASSIGN(auto got,
                           cache_->Get("org-1", {Ob("ob-root"), Kr("kr-1"), Ob("ob-1")}));
  ASSERT_EQ(got.size(), 3u);
  ASSERT_TRUE(got[0].has_value());
  EXPECT_EQ(got[0]->key.kind, ResourceKind::kObjective);
  EXPECT_EQ(got[0]->key.id, "ob-root");
  EXPECT_EQ(got[0]->version, (ScoreVersion{2, 9}));
  EXPECT_EQ(got[0]->body, "");
  ASSERT_TRUE(got[1].has_value());
  EXPECT_EQ(got[1]->key.kind, ResourceKind::kKeyResult);
  EXPECT_EQ(got[1]->key.id, "kr-1");
  EXPECT_EQ(got[1]->version, (ScoreVersion{7, 3}));
  EXPECT_EQ(got[1]->body, binary);
  ASSERT_TRUE(got[2].has_value());
  EXPECT_EQ(got[2]->body, "objective");

  const RollupCacheStats stats = cache_->stats();
  EXPECT_EQ(stats.writes, 3);
  EXPECT_EQ(stats.refused, 0);
  EXPECT_EQ(stats.hits, 3);
  EXPECT_EQ(stats.misses, 0);
  EXPECT_EQ(stats.failures, 0);
  EXPECT_TRUE(stats.available);
}

TEST_F(RollupCacheTest, EmptyPutAndGetNeedNoRedis) {
  OKR_ASSERT_OK(server_->Stop());
  OKR_EXPECT_OK(cache_->Put("org-1", {}));
  OKR_ASSERT_OK_AND_ASSIGN(auto got, cache_->Get("org-1", {}));
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(cache_->stats().available);
}

TEST_F(RollupCacheTest, OlderVersionIsRefusedComparingTrackingSequenceFirst) {
  const ScoreKey key = Kr("kr-1");
  auto version_and_body = [&]() -> std::pair<ScoreVersion, std::string> {
    std::optional<CachedScore> entry = GetOne("org-1", key);
    if (!entry.has_value()) return {{-1, -1}, "<miss>"};
    return {entry->version, entry->body};
  };
  using Seen = std::pair<ScoreVersion, std::string>;

  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(key, 5, 5, "5/5")}));
  EXPECT_EQ(version_and_body(), (Seen{{5, 5}, "5/5"}));

  // Older t, even with a newer p: refused (the call itself succeeds).
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(key, 4, 9, "4/9")}));
  EXPECT_EQ(version_and_body(), (Seen{{5, 5}, "5/5"}));
  // Same t, older p: refused.
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(key, 5, 4, "5/4")}));
  EXPECT_EQ(version_and_body(), (Seen{{5, 5}, "5/5"}));
  // Equal version: replaces (a rebuild rewrites what it computed again).
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(key, 5, 5, "5/5 again")}));
  EXPECT_EQ(version_and_body(), (Seen{{5, 5}, "5/5 again"}));
  // Same t, newer p: accepted.
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(key, 5, 6, "5/6")}));
  EXPECT_EQ(version_and_body(), (Seen{{5, 6}, "5/6"}));
  // Newer t wins over an older p.
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(key, 6, 0, "6/0")}));
  EXPECT_EQ(version_and_body(), (Seen{{6, 0}, "6/0"}));

  EXPECT_EQ(cache_->stats().writes, 6);
  EXPECT_EQ(cache_->stats().refused, 2);
}

TEST_F(RollupCacheTest, EachEntryOfOnePutIsComparedOnItsOwn) {
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(Kr("a"), 10, 0, "a10"), Entry(Ob("b"), 1, 0, "b1")}));
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(Kr("a"), 5, 0, "a5"), Entry(Ob("b"), 5, 0, "b5")}));
  EXPECT_EQ(GetOne("org-1", Kr("a"))->body, "a10");
  EXPECT_EQ(GetOne("org-1", Ob("b"))->body, "b5");

  // A key repeated within one Put ends at the newest of its versions.
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(Kr("c"), 8, 0, "c8"), Entry(Kr("c"), 3, 0, "c3")}));
  EXPECT_EQ(GetOne("org-1", Kr("c"))->body, "c8");
}

TEST_F(RollupCacheTest, VersionsUpToTwoToThe53AreComparedExactly) {
  const ScoreKey key = Kr("kr-1");
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(key, kMaxExactSequence, 0, "max")}));
  // One below the limit is a distinct, older version in Lua's doubles too.
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(key, kMaxExactSequence - 1, 7, "below")}));
  std::optional<CachedScore> entry = GetOne("org-1", key);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->version, (ScoreVersion{kMaxExactSequence, 0}));
  EXPECT_EQ(entry->body, "max");

  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(key, kMaxExactSequence, kMaxExactSequence, "both")}));
  entry = GetOne("org-1", key);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->version, (ScoreVersion{kMaxExactSequence, kMaxExactSequence}));
}

TEST_F(RollupCacheTest, InvalidEntriesAreRefusedBeforeRedis) {
  absl::Status status = cache_->Put("org-1", {Entry(Kr("a"), 1, 0, "ok"),
                                              Entry(Kr("b"), kMaxExactSequence + 1, 0, "x")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("entries[1].version.tracking_sequence"));

  status = cache_->Put("org-1", {Entry(Kr("a"), 1, -1, "x")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("entries[0].version.plan_sequence"));

  status = cache_->Put("org-1", {Entry({ResourceKind::kCycle, "c"}, 1, 1, "x")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("entries[0].key.kind"));

  status = cache_->Put("org-1", {Entry(Ob(""), 1, 1, "x")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("entries[0].key.id"));

  absl::StatusOr<std::vector<std::optional<CachedScore>>> got =
      cache_->Get("org-1", {Kr("a"), ScoreKey{}});
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr("keys[1].kind"));

  // Nothing was written, not even the valid first entry of the first Put.
  EXPECT_EQ(Raw({"DBSIZE"}).integer, 0);
  EXPECT_TRUE(cache_->stats().available);
}

TEST_F(RollupCacheTest, KeysCarryTheOrganisationAsHashTag) {
  OKR_ASSERT_OK(cache_->Put("acme", {Entry(Kr("kr-1"), 1, 2, "acme kr"),
                                     Entry(Ob("ob-1"), 1, 2, "acme ob")}));
  OKR_ASSERT_OK(cache_->Put("globex", {Entry(Kr("kr-1"), 3, 4, "globex kr")}));
  // Separators and braces in ids cannot escape the tag (RedisKey escapes them).
  OKR_ASSERT_OK(cache_->Put("x:y}", {Entry(Kr("a:b"), 1, 1, "escaped")}));

  // The documented layout "okr:{<org>}:score:<kr|ob>:<id>", a hash of t, p, v.
  EXPECT_EQ(Raw({"TYPE", "okr:{acme}:score:kr:kr-1"}).str, "hash");
  EXPECT_EQ(Raw({"HGET", "okr:{acme}:score:kr:kr-1", "v"}).str, "acme kr");
  EXPECT_EQ(Raw({"HGET", "okr:{acme}:score:kr:kr-1", "t"}).str, "1");
  EXPECT_EQ(Raw({"HGET", "okr:{acme}:score:kr:kr-1", "p"}).str, "2");
  EXPECT_EQ(Raw({"HGET", "okr:{acme}:score:ob:ob-1", "v"}).str, "acme ob");
  EXPECT_EQ(Raw({"HGET", "okr:{globex}:score:kr:kr-1", "v"}).str, "globex kr");
  EXPECT_EQ(Raw({"HGET", "okr:{x%3Ay%7D}:score:kr:a%3Ab", "v"}).str, "escaped");
  EXPECT_EQ(Raw({"DBSIZE"}).integer, 4);

  // Same ids, different organisations: each reads its own.
  EXPECT_EQ(GetOne("acme", Kr("kr-1"))->body, "acme kr");
  EXPECT_EQ(GetOne("globex", Kr("kr-1"))->body, "globex kr");
  EXPECT_FALSE(GetOne("globex", Ob("ob-1")).has_value());
  EXPECT_FALSE(GetOne("x", Kr("a:b")).has_value());
}

TEST_F(RollupCacheTest, UnknownIdsAreMisses) {
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(Kr("known"), 1, 1, "k")}));
  OKR_ASSERT_OK_AND_ASSIGN(
      auto got, cache_->Get("org-1", {Kr("unknown"), Kr("known"), Ob("known"), Kr("known")}));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_FALSE(got[0].has_value());
  ASSERT_TRUE(got[1].has_value());
  EXPECT_EQ(got[1]->body, "k");
  EXPECT_FALSE(got[2].has_value());  // an objective is not the key result of the same id
  ASSERT_TRUE(got[3].has_value());

  const RollupCacheStats stats = cache_->stats();
  EXPECT_EQ(stats.hits, 2);
  EXPECT_EQ(stats.misses, 2);
  EXPECT_EQ(stats.failures, 0);
}

TEST_F(RollupCacheTest, MalformedEntriesAreMissesAndAnyPutReplacesThem) {
  const std::string prefix = "okr:{org-1}:score:kr:";
  auto key = [&](absl::string_view id) { return absl::StrCat(prefix, id); };
  Raw({"HSET", key("junk-t"), "t", "abc", "p", "1", "v", "x"});
  Raw({"HSET", key("no-p"), "t", "1", "v", "x"});
  Raw({"HSET", key("no-v"), "t", "1", "p", "1"});
  Raw({"HSET", key("negative"), "t", "-1", "p", "1", "v", "x"});
  Raw({"HSET", key("exponent"), "t", "1e3", "p", "1", "v", "x"});
  Raw({"HSET", key("too-big"), "t", "9007199254740993", "p", "1", "v", "x"});
  Raw({"SET", key("string"), "not a hash"});
  Raw({"RPUSH", key("list"), "t", "p", "v"});
  const std::vector<std::string> ids = {"junk-t",   "no-p",    "no-v",   "negative",
                                        "exponent", "too-big", "string", "list"};

  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(Kr("good"), 1, 1, "good")}));
  std::vector<ScoreKey> keys;
  for (const std::string& id : ids) keys.push_back(Kr(id));
  keys.push_back(Kr("good"));
  OKR_ASSERT_OK_AND_ASSIGN(auto got, cache_->Get("org-1", keys));
  ASSERT_EQ(got.size(), ids.size() + 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_FALSE(got[i].has_value()) << ids[i];
  }
  ASSERT_TRUE(got.back().has_value());
  EXPECT_EQ(got.back()->body, "good");
  EXPECT_EQ(cache_->stats().misses, static_cast<int64_t>(ids.size()));
  EXPECT_TRUE(cache_->stats().available);

  // The oldest possible version still replaces each of them, whatever type
  // the junk had.
  std::vector<CachedScore> entries;
  for (const std::string& id : ids) entries.push_back(Entry(Kr(id), 0, 0, "fixed " + id));
  OKR_ASSERT_OK(cache_->Put("org-1", entries));
  OKR_ASSERT_OK_AND_ASSIGN(got, cache_->Get("org-1", keys));
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(got[i].has_value()) << ids[i];
    EXPECT_EQ(got[i]->body, "fixed " + ids[i]);
    EXPECT_EQ(got[i]->version, (ScoreVersion{0, 0}));
  }
  EXPECT_EQ(cache_->stats().refused, 0);
}

TEST_F(RollupCacheTest, ClearRemovesOneOrganisationsScoresOnly) {
  // More entries than one SCAN step returns, so Clear has to batch.
  constexpr int kEntries = 2500;
  for (int batch = 0; batch < kEntries / 100; ++batch) {
    std::vector<CachedScore> entries;
    for (int i = 0; i < 100; ++i) {
      entries.push_back(Entry(Kr(absl::StrCat("kr-", batch * 100 + i)), 1, 1, "x"));
    }
    OKR_ASSERT_OK(cache_->Put("acme", entries));
  }
  OKR_ASSERT_OK(cache_->Put("acme", {Entry(Ob("ob-1"), 1, 1, "o")}));
  OKR_ASSERT_OK(cache_->Put("acmes", {Entry(Kr("kr-1"), 1, 1, "other org")}));
  // An organisation whose id is a glob must not match acme's keys.
  OKR_ASSERT_OK(cache_->Put("acm*", {Entry(Kr("kr-1"), 1, 1, "glob org")}));
  Raw({"SET", "okr:{acme}:reminders:cursor", "42"});  // acme's, but not a score

  OKR_ASSERT_OK_AND_ASSIGN(int64_t cleared_glob, cache_->Clear("acm*"));
  EXPECT_EQ(cleared_glob, 1);
  EXPECT_EQ(Raw({"DBSIZE"}).integer, kEntries + 1 + 1 + 1);

  OKR_ASSERT_OK_AND_ASSIGN(int64_t cleared, cache_->Clear("acme"));
  EXPECT_EQ(cleared, kEntries + 1);
  EXPECT_FALSE(GetOne("acme", Kr("kr-0")).has_value());
  EXPECT_FALSE(GetOne("acme", Kr(absl::StrCat("kr-", kEntries - 1))).has_value());
  EXPECT_FALSE(GetOne("acme", Ob("ob-1")).has_value());
  EXPECT_EQ(GetOne("acmes", Kr("kr-1"))->body, "other org");
  EXPECT_EQ(Raw({"GET", "okr:{acme}:reminders:cursor"}).str, "42");
  EXPECT_EQ(Raw({"DBSIZE"}).integer, 2);

  OKR_ASSERT_OK_AND_ASSIGN(int64_t again, cache_->Clear("acme"));
  EXPECT_EQ(again, 0);
}

TEST_F(RollupCacheTest, PutUsesTheCachedScriptAndSurvivesScriptFlush) {
  // The first Put finds Redis' script cache empty and falls back to EVAL
  // once; later ones hit with EVALSHA, which proves the SHA-1 we send is the
  // script's.
  for (int t = 1; t <= 3; ++t) {
    OKR_ASSERT_OK(cache_->Put("org-1", {Entry(Kr("kr-1"), t, 0, absl::StrCat(t))}));
  }
  EXPECT_EQ(CommandCalls("evalsha"), 3);
  EXPECT_EQ(CommandCalls("eval"), 1);

  // As after a Redis restart: the script is gone, Put must still work.
  EXPECT_EQ(Raw({"SCRIPT", "FLUSH"}).str, "OK");
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(Kr("kr-1"), 4, 0, "4")}));
  EXPECT_EQ(GetOne("org-1", Kr("kr-1"))->body, "4");
  EXPECT_EQ(CommandCalls("eval"), 2);
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(Kr("kr-1"), 5, 0, "5")}));
  EXPECT_EQ(GetOne("org-1", Kr("kr-1"))->body, "5");
  EXPECT_EQ(CommandCalls("eval"), 2);
  EXPECT_EQ(cache_->stats().failures, 0);
}

// Writes log lines into a string for the test's duration.
class CapturedLog {
 public:
  CapturedLog() { InitLogging("rollup-cache-test", out_); }
  ~CapturedLog() { InitLogging("okr"); }  // back to stdout before out_ goes
  int Count(absl::string_view level, absl::string_view text) const {
    int count = 0;
    for (absl::string_view line : absl::StrSplit(out_.str(), '\n')) {
      if (absl::StrContains(line, absl::StrCat("\"level\":\"", level, "\"")) &&
          absl::StrContains(line, text)) {
        ++count;
      }
    }
    return count;
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

TEST_F(RollupCacheTest, RedisDownFailsFastThenRecoversAfterRestart) {
  CapturedLog log;
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(Kr("kr-1"), 1, 1, "before")}));
  ASSERT_EQ(GetOne("org-1", Kr("kr-1"))->body, "before");
  const absl::Time up_since = absl::Now();

  OKR_ASSERT_OK(server_->Stop());
  const absl::Duration bound =
      client_->options().command_timeout + client_->options().connect_timeout +
      absl::Milliseconds(500);
  for (int i = 0; i < 3; ++i) {
    absl::Time start = absl::Now();
    absl::Status put = cache_->Put("org-1", {Entry(Kr("kr-1"), 2, 1, "during")});
    EXPECT_EQ(put.code(), absl::StatusCode::kUnavailable) << put;
    EXPECT_LT(absl::Now() - start, bound);

    start = absl::Now();
    absl::StatusOr<std::vector<std::optional<CachedScore>>> got =
        cache_->Get("org-1", {Kr("kr-1")});
    EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
    EXPECT_LT(absl::Now() - start, bound);

    start = absl::Now();
    EXPECT_EQ(cache_->Clear("org-1").status().code(), absl::StatusCode::kUnavailable);
    EXPECT_LT(absl::Now() - start, bound);
  }
  RollupCacheStats stats = cache_->stats();
  EXPECT_FALSE(stats.available);
  EXPECT_EQ(stats.failures, 9);
  EXPECT_THAT(stats.last_error, HasSubstr(absl::StrCat(server_->port())));
  EXPECT_GE(stats.last_change, up_since);
  const absl::Time down_at = stats.last_change;
  // One warning for the outage, not one per failed call.
  EXPECT_EQ(log.Count("warning", "rollup cache"), 1) << log.text();
  EXPECT_EQ(log.Count("info", "rollup cache"), 0) << log.text();

  OKR_ASSERT_OK(server_->Restart());  // same port, empty, no scripts loaded
  absl::SleepFor(2 * client_->options().reconnect_backoff);
  OKR_ASSERT_OK(cache_->Put("org-1", {Entry(Kr("kr-1"), 3, 1, "after")}));
  std::optional<CachedScore> entry = GetOne("org-1", Kr("kr-1"));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->body, "after");
  EXPECT_EQ(entry->version, (ScoreVersion{3, 1}));

  stats = cache_->stats();
  EXPECT_TRUE(stats.available);
  EXPECT_EQ(stats.failures, 9);
  EXPECT_GT(stats.last_change, down_at);
  EXPECT_EQ(log.Count("warning", "rollup cache"), 1) << log.text();
  EXPECT_EQ(log.Count("info", "rollup cache"), 1) << log.text();
}

TEST_F(RollupCacheTest, AMultiEntryPutIsSeenWholeOrNotAtAll) {
  // Put writes both entries inside one Lua script, and Redis runs a script
  // to completion before any other command or script: a reader whose own
  // script reads both keys at one instant must see the same t in both.
  const std::string kr_key = "okr:{org-1}:score:kr:kr-1";
  const std::string ob_key = "okr:{org-1}:score:ob:ob-1";
  constexpr int kPuts = 300;
  std::atomic<bool> writing{true};
  std::atomic<int> reads_while_writing{0};
  std::atomic<int> torn{0};
  std::string first_torn;

  std::thread reader([&] {
    constexpr absl::string_view kReadBoth =
        "return {redis.call('HGET', KEYS[1], 't'), redis.call('HGET', KEYS[2], 't')}";
    while (writing.load()) {
      absl::StatusOr<RedisReply> reply = raw_->Command({"EVAL", kReadBoth, "2", kr_key, ob_key});
      if (!reply.ok() || reply->kind != Kind::kArray || reply->elements.size() != 2) continue;
      reads_while_writing.fetch_add(1);
      if (!(reply->elements[0] == reply->elements[1]) && torn.fetch_add(1) == 0) {
        first_torn = reply->DebugString();
      }
    }
  });
  // Let the reader start before the first write.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (reads_while_writing.load() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));

  absl::Status failed;
  for (int t = 1; t <= kPuts && failed.ok(); ++t) {
    failed = cache_->Put("org-1", {Entry(Kr("kr-1"), t, 0, absl::StrCat("kr ", t)),
                                   Entry(Ob("ob-1"), t, 0, absl::StrCat("ob ", t))});
  }
  const int reads_before = reads_while_writing.load();
  writing.store(false);
  reader.join();
  OKR_ASSERT_OK(failed);
  EXPECT_GT(reads_before, 0);
  EXPECT_EQ(torn.load(), 0) << "first torn read: " << first_torn;

  OKR_ASSERT_OK_AND_ASSIGN(auto got, cache_->Get("org-1", {Kr("kr-1"), Ob("ob-1")}));
  ASSERT_TRUE(got[0].has_value() && got[1].has_value());
  EXPECT_EQ(got[0]->body, absl::StrCat("kr ", kPuts));
  EXPECT_EQ(got[1]->body, absl::StrCat("ob ", kPuts));
}

TEST_F(RollupCacheTest, ConcurrentWritersLeaveTheHighestVersion) {
  constexpr int kThreads = 8;
  constexpr int kPutsPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int thread = 0; thread < kThreads; ++thread) {
    threads.emplace_back([&, thread] {
      // Each thread's versions increase; together they interleave, so most
      // writes race one from another thread.
      for (int j = 0; j < kPutsPerThread; ++j) {
        const int64_t t = int64_t{j} * kThreads + thread;
        absl::Status status =
            cache_->Put("org-1", {Entry(Kr("kr-1"), t, 0, absl::StrCat("t=", t)),
                                  Entry(Ob("ob-1"), t / 2, t % 2, absl::StrCat("t=", t))});
        if (!status.ok()) errors.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);

  constexpr int64_t kHighest = int64_t{kPutsPerThread - 1} * kThreads + kThreads - 1;
  OKR_ASSERT_OK_AND_ASSIGN(auto got, cache_->Get("org-1", {Kr("kr-1"), Ob("ob-1")}));
  ASSERT_TRUE(got[0].has_value());
  EXPECT_EQ(got[0]->version, (ScoreVersion{kHighest, 0}));
  EXPECT_EQ(got[0]->body, absl::StrCat("t=", kHighest));
  ASSERT_TRUE(got[1].has_value());
  EXPECT_EQ(got[1]->version, (ScoreVersion{kHighest / 2, kHighest % 2}));
  EXPECT_EQ(got[1]->body, absl::StrCat("t=", kHighest));

  const RollupCacheStats stats = cache_->stats();
  EXPECT_EQ(stats.writes, 2 * kThreads * kPutsPerThread);
  EXPECT_EQ(stats.failures, 0);
}

}  // namespace
}  // namespace okr::tracking
