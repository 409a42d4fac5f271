// The Redis client against a real redis-server on a free loopback port.
#include "common/redis.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Kind = RedisReply::Kind;

// Reads one field of INFO (e.g. "blocked_clients") over its own connection.
int64_t InfoField(int port, absl::string_view section, absl::string_view field) {
  RedisOptions options;
  options.port = port;
  RedisConnection probe(options);
  absl::StatusOr<RedisReply> info = probe.Command({"INFO", section});
  if (!info.ok() || info->kind != Kind::kString) return -1;
  for (absl::string_view line : absl::StrSplit(info->str, "\r\n")) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ':');
    int64_t value = 0;
    if (kv.first == field && absl::SimpleAtoi(kv.second, &value)) return value;
  }
  return -1;
}

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RedisServerOptions server_options;
    // DEBUG SLEEP makes a reply arrive late on purpose.
    server_options.extra_args = {"--enable-debug-command", "local"};
    absl::StatusOr<std::unique_ptr<RedisServer>> server =
        RedisServer::Start(server_options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  RedisOptions Options() const {
    RedisOptions options;
    options.host = server_->host();
    options.port = server_->port();
    options.connect_timeout = absl::Milliseconds(500);
    options.command_timeout = absl::Milliseconds(500);
    options.reconnect_backoff = absl::ZeroDuration();
    return options;
  }

  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisTest, SetGetIncrAndNil) {
  RedisConnection redis(Options());
  EXPECT_FALSE(redis.connected());
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply set, redis.Command({"SET", "greeting", "hello"}));
  EXPECT_EQ(set, RedisReply::Status("OK"));
  EXPECT_TRUE(redis.connected());
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply get, redis.Command({"GET", "greeting"}));
  EXPECT_EQ(get.kind, Kind::kString);
  EXPECT_EQ(get.str, "hello");

  for (int64_t expected = 1; expected <= 3; ++expected) {
    OKR_ASSERT_OK_AND_ASSIGN(RedisReply incr, redis.Command({"INCR", "counter"}));
    EXPECT_EQ(incr, RedisReply::Integer(expected));
  }
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply by, redis.Command({"INCRBY", "counter", "-10"}));
  EXPECT_EQ(by.integer, -7);

  OKR_ASSERT_OK_AND_ASSIGN(RedisReply missing, redis.Command({"GET", "no-such-key"}));
  EXPECT_TRUE(missing.is_nil());
  EXPECT_EQ(missing.DebugString(), "nil");
  OKR_EXPECT_OK(missing.ToStatus());

  EXPECT_EQ(redis.Command(absl::Span<const absl::string_view>()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RedisTest, ValuesAndKeysAreBinarySafe) {
  RedisConnection redis(Options());
  std::string bytes;
  for (int c = 0; c < 256; ++c) bytes.push_back(static_cast<char>(c));
  bytes += "\r\n$3\r\nfoo\r\n";  // RESP framing inside a value must not confuse it
  const std::string key("k\0ey\r\n", 6);

  OKR_ASSERT_OK(redis.Command({"SET", key, bytes}));
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply get, redis.Command({"GET", key}));
  EXPECT_EQ(get.str, bytes);
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply len, redis.Command({"STRLEN", key}));
  EXPECT_EQ(len.integer, static_cast<int64_t>(bytes.size()));
  // The key is distinct from its prefix up to the NUL.
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply prefix, redis.Command({"EXISTS", "k"}));
  EXPECT_EQ(prefix.integer, 0);

  OKR_ASSERT_OK(redis.Command({"SET", "empty", ""}));
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply empty, redis.Command({"GET", "empty"}));
  EXPECT_EQ(empty.kind, Kind::kString);
  EXPECT_EQ(empty.str, "");
}

TEST_F(RedisTest, PipelineOfAThousandCommands) {
  RedisConnection redis(Options());
  RedisPipeline pipeline;
  constexpr int kCommands = 1000;
  for (int i = 0; i < kCommands; ++i) {
    const std::string n = absl::StrCat(i);
    switch (i % 3) {
      case 0:
        pipeline.Add({"INCRBY", "sum", n});
        break;
      case 1:
        pipeline.Add({"RPUSH", "list", n});
        break;
      default:
        pipeline.Add({"SET", absl::StrCat("key:", i), absl::StrCat("value-", i)});
    }
  }
  ASSERT_EQ(pipeline.size(), static_cast<size_t>(kCommands));
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<RedisReply> replies, redis.Execute(pipeline));
  ASSERT_EQ(replies.size(), static_cast<size_t>(kCommands));

  int64_t sum = 0;
  int64_t list_length = 0;
  for (int i = 0; i < kCommands; ++i) {
    const RedisReply& reply = replies[i];
    switch (i % 3) {
      case 0:
        sum += i;
        EXPECT_EQ(reply, RedisReply::Integer(sum)) << i;
        break;
      case 1:
        ++list_length;
        EXPECT_EQ(reply, RedisReply::Integer(list_length)) << i;
        break;
      default:
        EXPECT_EQ(reply, RedisReply::Status("OK")) << i;
    }
  }
  // The effects are all there.
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply value, redis.Command({"GET", "key:998"}));
  EXPECT_EQ(value.str, "value-998");
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply llen, redis.Command({"LLEN", "list"}));
  EXPECT_EQ(llen.integer, list_length);

  OKR_ASSERT_OK_AND_ASSIGN(std::vector<RedisReply> none, redis.Execute(RedisPipeline()));
  EXPECT_TRUE(none.empty());

  RedisPipeline with_empty;
  with_empty.Add({"PING"}).Add({}).Add({"PING"});
  absl::StatusOr<std::vector<RedisReply>> rejected = redis.Execute(with_empty);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(rejected.status().message(), HasSubstr("command 2"));
}

TEST_F(RedisTest, ErrorRepliesAreValuesAndKeepTheConnection) {
  RedisConnection redis(Options());
  OKR_ASSERT_OK(redis.Command({"SET", "text", "not a number"}));
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply incr, redis.Command({"INCR", "text"}));
  EXPECT_TRUE(incr.is_error());
  EXPECT_THAT(incr.str, HasSubstr("not an integer"));
  absl::Status as_status = incr.ToStatus();
  EXPECT_EQ(as_status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(as_status.message(), HasSubstr("not an integer"));

  OKR_ASSERT_OK_AND_ASSIGN(RedisReply wrong_type, redis.Command({"LPUSH", "text", "x"}));
  EXPECT_TRUE(wrong_type.is_error());
  EXPECT_THAT(wrong_type.str, HasSubstr("WRONGTYPE"));

  OKR_ASSERT_OK_AND_ASSIGN(RedisReply unknown, redis.Command({"NO-SUCH-COMMAND"}));
  EXPECT_TRUE(unknown.is_error());
  EXPECT_THAT(unknown.str, HasSubstr("unknown command"));

  // An error inside a pipeline does not disturb the replies around it.
  RedisPipeline pipeline;
  pipeline.Add({"SET", "a", "1"}).Add({"INCR", "text"}).Add({"INCR", "a"});
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<RedisReply> replies, redis.Execute(pipeline));
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0], RedisReply::Status("OK"));
  EXPECT_TRUE(replies[1].is_error());
  EXPECT_EQ(replies[2], RedisReply::Integer(2));
  EXPECT_TRUE(redis.connected());

  EXPECT_EQ(RedisReply::Error("LOADING Redis is loading").ToStatus().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(RedisReply::Error("OOM command not allowed").ToStatus().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RedisReply::Error("BUSYKEY Target key name already exists").ToStatus().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(RedisTest, ArraysIncludingNestedAndNil) {
  RedisConnection redis(Options());
  OKR_ASSERT_OK(redis.Command({"RPUSH", "list", "a", "b", "c"}));
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply range, redis.Command({"LRANGE", "list", "0", "-1"}));
  EXPECT_EQ(range, RedisReply::Array({RedisReply::String("a"), RedisReply::String("b"),
                                      RedisReply::String("c")}));
  EXPECT_EQ(range.DebugString(), "[\"a\", \"b\", \"c\"]");

  OKR_ASSERT_OK(redis.Command({"HSET", "hash", "f1", "v1", "f2", "v2"}));
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply all, redis.Command({"HGETALL", "hash"}));
  ASSERT_EQ(all.kind, Kind::kArray);
  ASSERT_EQ(all.elements.size(), 4u);
  std::map<std::string, std::string> fields;
  for (size_t i = 0; i + 1 < all.elements.size(); i += 2) {
    fields[all.elements[i].str] = all.elements[i + 1].str;
  }
  EXPECT_EQ(fields, (std::map<std::string, std::string>{{"f1", "v1"}, {"f2", "v2"}}));

  OKR_ASSERT_OK_AND_ASSIGN(RedisReply mget, redis.Command({"MGET", "list-none", "hash-none"}));
  EXPECT_EQ(mget, RedisReply::Array({RedisReply::Nil(), RedisReply::Nil()}));

  OKR_ASSERT_OK_AND_ASSIGN(RedisReply empty, redis.Command({"LRANGE", "missing", "0", "-1"}));
  EXPECT_EQ(empty.kind, Kind::kArray);
  EXPECT_TRUE(empty.elements.empty());

  OKR_ASSERT_OK_AND_ASSIGN(
      RedisReply nested,
      redis.Command({"EVAL", "return {1, {2, 'x'}, redis.status_reply('FINE')}", "0"}));
  EXPECT_EQ(nested, RedisReply::Array({RedisReply::Integer(1),
                                       RedisReply::Array({RedisReply::Integer(2),
                                                          RedisReply::String("x")}),
                                       RedisReply::Status("FINE")}));
}

TEST_F(RedisTest, StoppedServerGivesUnavailablePromptly) {
  RedisOptions options = Options();
  options.command_timeout = absl::Milliseconds(300);
  RedisConnection redis(options);
  OKR_ASSERT_OK(redis.Command({"SET", "k", "v"}));

  OKR_ASSERT_OK(server_->Kill());
  for (int attempt = 0; attempt < 2; ++attempt) {
    // First the dead connection (EOF / reset), then connection refused.
    const absl::Time start = absl::Now();
    absl::StatusOr<RedisReply> reply = redis.Command({"GET", "k"});
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
    EXPECT_THAT(reply.status().message(), HasSubstr(absl::StrCat(":", server_->port())));
    // A generous bound: it proves "no hang", not speed, on a loaded CI machine.
    EXPECT_LE(took, options.command_timeout + absl::Seconds(2)) << attempt;
    EXPECT_FALSE(redis.connected());
  }
  absl::StatusOr<RedisReply> refused = redis.Command({"GET", "k"});
  EXPECT_THAT(refused.status().message(), HasSubstr("connect failed"));
}

// A write to a peer that has gone raises SIGPIPE, which would kill the test
// binary if the client did not guard against it.
TEST_F(RedisTest, LargeWriteToDeadServerDoesNotKillTheProcess) {
  RedisConnection redis(Options());
  OKR_ASSERT_OK(redis.Command({"PING"}));
  OKR_ASSERT_OK(server_->Stop());
  const std::string big(8 << 20, 'x');
  RedisPipeline pipeline;
  for (int i = 0; i < 4; ++i) pipeline.Add({"SET", absl::StrCat("big", i), big});
  absl::StatusOr<std::vector<RedisReply>> replies = redis.Execute(pipeline);
  EXPECT_EQ(replies.status().code(), absl::StatusCode::kUnavailable) << replies.status();
  absl::StatusOr<RedisReply> single = redis.Command({"SET", "big", big});
  EXPECT_EQ(single.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RedisTest, ReconnectsByItselfAfterServerRestart) {
  RedisClient client(Options());
  OKR_ASSERT_OK(client.Command({"SET", "k", "before"}));
  const int port = server_->port();

  OKR_ASSERT_OK(server_->Restart());
  EXPECT_EQ(server_->port(), port);

  // The pooled connection broke with the old server; using it reports that
  // once, and the next call connects to the new server.
  absl::StatusOr<RedisReply> stale = client.Command({"GET", "k"});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kUnavailable) << stale.status();
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply fresh, client.Command({"GET", "k"}));
  EXPECT_TRUE(fresh.is_nil());  // no persistence: the restart lost "k"
  OKR_ASSERT_OK(client.Command({"SET", "k", "after"}));
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply get, client.Command({"GET", "k"}));
  EXPECT_EQ(get.str, "after");
}

TEST_F(RedisTest, CommandTimeoutDropsTheConnectionAndRecovers) {
  RedisOptions options = Options();
  options.command_timeout = absl::Milliseconds(200);
  RedisConnection redis(options);

  for (int round = 0; round < 2; ++round) {
    // BLPOP with no server-side timeout would block forever; the client
    // timeout must end it, including after a reconnect (hiredis' reconnect
    // would drop the timeout).
    const absl::Time start = absl::Now();
    absl::StatusOr<RedisReply> blocked = redis.Command({"BLPOP", "empty-list", "0"});
    const absl::Duration took = absl::Now() - start;
    ASSERT_EQ(blocked.status().code(), absl::StatusCode::kUnavailable) << blocked.status();
    EXPECT_THAT(blocked.status().message(), HasSubstr("timed out after 200ms"));
    EXPECT_GE(took, absl::Milliseconds(150)) << round;
    EXPECT_LE(took, absl::Milliseconds(2500)) << round;
    EXPECT_FALSE(redis.connected());

    // The server sees the client go away: nobody is left blocked on the list.
    int64_t blocked_clients = -1;
    for (int i = 0; i < 100 && blocked_clients != 0; ++i) {
      blocked_clients = InfoField(server_->port(), "clients", "blocked_clients");
      if (blocked_clients != 0) absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_EQ(blocked_clients, 0);

    OKR_ASSERT_OK_AND_ASSIGN(RedisReply pong, redis.Command({"PING"}));
    EXPECT_EQ(pong, RedisReply::Status("PONG"));
  }
}

TEST_F(RedisTest, LateReplyNeverAnswersTheNextCommand) {
  RedisOptions options = Options();
  options.command_timeout = absl::Milliseconds(100);
  RedisConnection redis(options);
  absl::StatusOr<RedisReply> slow = redis.Command({"DEBUG", "SLEEP", "0.3"});
  ASSERT_EQ(slow.status().code(), absl::StatusCode::kUnavailable) << slow.status();
  // By now the "+OK" of DEBUG SLEEP has been sent; on the old connection it
  // would be read as the reply to ECHO.
  absl::SleepFor(absl::Milliseconds(400));
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply echo, redis.Command({"ECHO", "mine"}));
  EXPECT_EQ(echo, RedisReply::String("mine"));
}

TEST_F(RedisTest, ConnectionRefusedAndBackoff) {
  OKR_ASSERT_OK_AND_ASSIGN(int unused_port, FreeLoopbackPort());
  RedisOptions options = Options();
  options.port = unused_port;
  options.reconnect_backoff = absl::Hours(1);
  RedisConnection redis(options);

  absl::Status first = redis.Connect();
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(first.message(), HasSubstr("Connection refused"));
  absl::StatusOr<RedisReply> second = redis.Command({"PING"});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("not retrying"));
  EXPECT_THAT(second.status().message(), HasSubstr("Connection refused"));
}

TEST_F(RedisTest, PoolSharesConnectionsBetweenThreads) {
  RedisOptions options = Options();
  options.pool_size = 2;
  RedisClient client(options);
  constexpr int kThreads = 6;
  constexpr int kIncrements = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&client, &failures] {
      for (int i = 0; i < kIncrements; ++i) {
        absl::StatusOr<RedisReply> reply = client.Command({"INCR", "shared"});
        if (!reply.ok() || reply->kind != Kind::kInteger) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply total, client.Command({"GET", "shared"}));
  EXPECT_EQ(total.str, absl::StrCat(kThreads * kIncrements));
  // Two pooled connections plus the probe's own.
  EXPECT_EQ(InfoField(server_->port(), "clients", "connected_clients"), 3);
}

TEST_F(RedisTest, PoolWaitsThenGivesUpWhenAllConnectionsAreLeased) {
  RedisOptions options = Options();
  options.pool_size = 1;
  options.command_timeout = absl::Milliseconds(100);
  RedisClient client(options);
  {
    OKR_ASSERT_OK_AND_ASSIGN(RedisClient::Lease lease, client.Acquire());
    OKR_ASSERT_OK(lease->Command({"SET", "k", "1"}));
    const absl::Time start = absl::Now();
    absl::StatusOr<RedisReply> starved = client.Command({"GET", "k"});
    EXPECT_EQ(starved.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(starved.status().message(), HasSubstr("busy"));
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
  }
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply get, client.Command({"GET", "k"}));
  EXPECT_EQ(get.str, "1");
}

TEST_F(RedisTest, LeaseEndingInsideATransactionIsNotReused) {
  RedisOptions options = Options();
  options.pool_size = 1;  // the next call would get the same connection back
  RedisClient client(options);
  OKR_ASSERT_OK(client.Command({"SET", "k", "old"}));
  {
    // An early return between WATCH/MULTI and EXEC.
    OKR_ASSERT_OK_AND_ASSIGN(RedisClient::Lease lease, client.Acquire());
    OKR_ASSERT_OK(lease->Command({"WATCH", "k"}));
    OKR_ASSERT_OK(lease->Command({"MULTI"}));
    OKR_ASSERT_OK(lease->Command({"SET", "k", "queued"}));
  }
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply set, client.Command({"SET", "k", "new"}));
  EXPECT_EQ(set.kind, Kind::kStatus);
  EXPECT_EQ(set.str, "OK");  // not "QUEUED"
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply get, client.Command({"GET", "k"}));
  EXPECT_EQ(get.str, "new");

  {
    // SELECT in a pipeline is sticky too: the next borrower must see db 0.
    OKR_ASSERT_OK_AND_ASSIGN(RedisClient::Lease lease, client.Acquire());
    RedisPipeline pipeline;
    pipeline.Add({"SELECT", "1"}).Add({"SET", "k", "db1"});
    OKR_ASSERT_OK(lease->Execute(pipeline));
    EXPECT_FALSE(lease->session_clean());
  }
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply again, client.Command({"GET", "k"}));
  EXPECT_EQ(again.str, "new");

  {
    // A SELECT queued inside MULTI runs at EXEC: the session is not clean.
    OKR_ASSERT_OK_AND_ASSIGN(RedisClient::Lease lease, client.Acquire());
    OKR_ASSERT_OK(lease->Command({"MULTI"}));
    OKR_ASSERT_OK(lease->Command({"SELECT", "2"}));
    OKR_ASSERT_OK(lease->Command({"EXEC"}));
    EXPECT_FALSE(lease->session_clean());
  }
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply db0, client.Command({"GET", "k"}));
  EXPECT_EQ(db0.str, "new");

  {
    // A finished transaction leaves the session clean and the connection kept.
    OKR_ASSERT_OK_AND_ASSIGN(RedisClient::Lease lease, client.Acquire());
    OKR_ASSERT_OK(lease->Command({"MULTI"}));
    OKR_ASSERT_OK(lease->Command({"INCR", "n"}));
    OKR_ASSERT_OK(lease->Command({"EXEC"}));
    EXPECT_TRUE(lease->session_clean());
  }
}

TEST(RedisBackoffTest, ConnectTimeoutIsNotRepeatedWithinTheBackoff) {
  // A listener whose accept queue is full: further SYNs are dropped, so a
  // connect hangs until connect_timeout (on loopback only).
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 0), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(c, reinterpret_cast<sockaddr*>(&address), sizeof address);
    fillers.push_back(c);
  }
  absl::SleepFor(absl::Milliseconds(50));

  RedisOptions options;
  options.host = "127.0.0.1";
  options.port = ntohs(address.sin_port);
  options.connect_timeout = absl::Milliseconds(200);
  options.reconnect_backoff = absl::Seconds(30);
  RedisConnection redis(options);
  absl::StatusOr<RedisReply> first = redis.Command({"PING"});
  ASSERT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_THAT(first.status().message(), HasSubstr("connect failed"));
  // The second call fails at once instead of waiting for another timeout.
  absl::StatusOr<RedisReply> second = redis.Command({"PING"});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("not retrying"));

  for (int c : fillers) close(c);
  close(listener);
}

TEST(RedisAuthTest, PasswordIsSentOnEveryConnect) {
  RedisServerOptions server_options;
  server_options.extra_args = {"--requirepass", "s3cret"};
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                           RedisServer::Start(server_options));
  RedisOptions options;
  options.port = server->port();
  options.reconnect_backoff = absl::ZeroDuration();

  RedisConnection anonymous(options);
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply refused, anonymous.Command({"GET", "k"}));
  EXPECT_TRUE(refused.is_error());
  EXPECT_THAT(refused.str, HasSubstr("NOAUTH"));

  options.password = "hunter2-not-it";
  RedisConnection wrong(options);
  absl::Status denied = wrong.Connect();
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied) << denied;
  EXPECT_THAT(denied.message(), Not(HasSubstr("hunter2")));
  EXPECT_FALSE(wrong.connected());

  options.password = "s3cret";
  RedisConnection right(options);
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply ok, right.Command({"SET", "k", "v"}));
  EXPECT_EQ(ok, RedisReply::Status("OK"));
  right.Disconnect();
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply get, right.Command({"GET", "k"}));
  EXPECT_EQ(get.str, "v");
}

TEST(RedisKeyTest, OrganisationIsTheHashTag) {
  EXPECT_EQ(RedisKey("acme", {"rollup", "obj-1"}), "okr:{acme}:rollup:obj-1");
  EXPECT_EQ(RedisKeyPrefix("acme"), "okr:{acme}:");
  EXPECT_EQ(RedisKey("acme", {}), "okr:{acme}:");

  // Separators and braces inside ids are escaped, so keys never collide and
  // the hash tag (text between the first '{' and the next '}') stays the org.
  const std::string tricky = RedisKey("a}b{c", {"x:y", "100%", "*?[]\\"});
  EXPECT_EQ(tricky, "okr:{a%7Db%7Bc}:x%3Ay:100%25:%2A%3F%5B%5D%5C");
  const size_t open = tricky.find('{');
  const size_t close = tricky.find('}', open + 1);
  EXPECT_EQ(tricky.substr(open + 1, close - open - 1), "a%7Db%7Bc");
  EXPECT_NE(RedisKey("a", {"b:c"}), RedisKey("a", {"b", "c"}));
  EXPECT_NE(RedisKey("a:b", {"c"}), RedisKey("a", {"b", "c"}));
  // Binary ids pass through unchanged apart from the escaped characters.
  EXPECT_EQ(RedisKey(std::string("o\0g", 3), {"k"}), std::string("okr:{o\0g}:k", 11));
}

}  // namespace
}  // namespace okr
