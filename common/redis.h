// A small synchronous Redis client over hiredis 0.14, for the rollup cache and
// reminder publication. Redis is never the only copy of anything in the suite,
// so every failure comes back as a Status the caller can fall back on (rebuild
// from the store, retry later) instead of an exception or a hang.
//
// - RedisConnection owns one hiredis context. It connects lazily, bounds every
//   command by `command_timeout`, and after ANY I/O error or timeout frees the
//   context, so a late reply can never answer the next command; the next call
//   connects afresh and sets the timeout again. Not thread-safe.
// - RedisClient is the thread-safe entry point services share: a pool of at
//   most `pool_size` connections, each used by one thread at a time.
// - RedisReply is a plain value copied out of hiredis' redisReply.
// - RedisKey() builds the suite's key scheme "okr:{<org>}:<part>:...", whose
//   hash tag keeps one organisation's keys in one Redis Cluster slot.
//
// Status codes: UNAVAILABLE for connection refused/reset, timeouts and EOF
// (retry, or fall back to the store); INTERNAL for a protocol error;
// RESOURCE_EXHAUSTED when hiredis runs out of memory. A Redis error reply
// ("-ERR ...", "-WRONGTYPE ...") is NOT a failed call: it comes back OK as a
// RedisReply of kind kError; RedisReply::ToStatus() turns it into a Status.
//
// The calling thread's SIGPIPE is blocked while a command writes, and one
// raised by a write to a dead server is discarded, so a service need not
// ignore SIGPIPE process-wide for Redis' sake.
#ifndef OKR_COMMON_REDIS_H_
#define OKR_COMMON_REDIS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
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

struct redisContext;
struct redisReply;

namespace okr {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  // Bounds the TCP connect; the AUTH that follows is a command like any other.
  absl::Duration connect_timeout = absl::Milliseconds(500);
  // Bounds each blocking read and write on the socket (SO_RCVTIMEO /
  // SO_SNDTIMEO), so a silent server fails a command after this long; a
  // server that trickles a reply byte by byte can stretch one reply further.
  absl::Duration command_timeout = absl::Milliseconds(500);
  // After a failed connect, calls fail fast with UNAVAILABLE for this long,
  // counted from the end of the failed attempt, instead of each trying (and
  // waiting out connect_timeout) again. Zero retries every call.
  absl::Duration reconnect_backoff = absl::Milliseconds(100);
  // Sent as AUTH [username] password after each connect when not empty.
  std::string username;
  std::string password;
  // RedisClient only: the most connections it opens.
  int pool_size = 4;
};

// One reply, copied out of hiredis. `str` holds the bytes of a string, the
// text of a status ("OK") or the message of an error ("ERR unknown ...").
struct RedisReply {
  enum class Kind { kNil, kInteger, kString, kStatus, kArray, kError };

  Kind kind = Kind::kNil;
  int64_t integer = 0;
  std::string str;
  std::vector<RedisReply> elements;

  static RedisReply Nil() { return {}; }
  static RedisReply Integer(int64_t value);
  static RedisReply String(absl::string_view bytes);
  static RedisReply Status(absl::string_view text);
  static RedisReply Error(absl::string_view message);
  static RedisReply Array(std::vector<RedisReply> elements);

  bool is_nil() const { return kind == Kind::kNil; }
  bool is_error() const { return kind == Kind::kError; }

  // OK unless this is an error reply. Errors the server reports as transient
  // (LOADING, BUSY, MASTERDOWN, TRYAGAIN, CLUSTERDOWN) map to UNAVAILABLE,
  // OOM to RESOURCE_EXHAUSTED, every other error reply to FAILED_PRECONDITION.
  absl::Status ToStatus() const;

  // A readable rendering for logs and test failures, e.g. ["a", 1, nil].
  std::string DebugString() const;

  friend bool operator==(const RedisReply& a, const RedisReply& b);
};

// Copies a hiredis reply (recursively for arrays).
RedisReply CopyReply(const ::redisReply& reply);

// Owning handles for hiredis objects.
struct RedisContextDeleter {
  void operator()(::redisContext* context) const;
};
struct RedisReplyDeleter {
  void operator()(::redisReply* reply) const;
};
using RedisContextPtr = std::unique_ptr<::redisContext, RedisContextDeleter>;
using RedisReplyPtr = std::unique_ptr<::redisReply, RedisReplyDeleter>;

// Commands to send in one round trip. Arguments are copied (binary-safe) into
// one RESP buffer when added.
class RedisPipeline {
 public:
  // An empty `args` makes Execute() fail with INVALID_ARGUMENT (Redis would
  // send no reply to it, and the pipeline would time out).
  RedisPipeline& Add(absl::Span<const absl::string_view> args);
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  const std::string& buffer() const { return buffer_; }
  // 1-based position of the first empty command, 0 when there is none.
  size_t first_empty() const { return first_empty_; }
  // Names of the commands that change the connection's session state (MULTI,
  // WATCH, EXEC, SELECT, ...), in order; see RedisSession.
  const std::vector<std::string>& session_commands() const { return session_commands_; }

 private:
  std::string buffer_;
  size_t count_ = 0;
  size_t first_empty_ = 0;
  std::vector<std::string> session_commands_;
};

// What a connection carries from one command to the next beyond the reply:
// an open MULTI, WATCHed keys, or a sticky change (SELECT, SUBSCRIBE,
// MONITOR, CLIENT). A pooled connection must be clean when it goes back to
// the pool, or the next borrower's commands would be queued, aborted or sent
// to another database.
struct RedisSession {
  bool in_multi = false;
  bool watching = false;
  bool sticky = false;

  // Whether `command` (its first argument) can change the session state.
  static bool Affects(absl::string_view command);
  // Updates the state after `command` was sent and answered.
  void Apply(absl::string_view command);
  bool clean() const { return !in_multi && !watching && !sticky; }
};

// One connection. Not thread-safe: use it from one thread at a time (or use
// RedisClient).
class RedisConnection {
 public:
  explicit RedisConnection(RedisOptions options);
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;
  ~RedisConnection();

  // Sends one command, e.g. Command({"SET", key, value}), and returns its
  // reply. Arguments are binary-safe. Connects first if needed.
  absl::StatusOr<RedisReply> Command(absl::Span<const absl::string_view> args);

  // Sends every command of `pipeline`, then reads all replies, in order. On an
  // I/O error or timeout the whole call fails and some commands may have run
  // (wrap them in MULTI/EXEC when they must apply together). An empty
  // pipeline returns no replies without touching the network.
  absl::StatusOr<std::vector<RedisReply>> Execute(const RedisPipeline& pipeline);

  // Connects now if not connected; UNAVAILABLE when the server is not there.
  absl::Status Connect();
  // Drops the connection; the next call reconnects.
  void Disconnect();
  bool connected() const { return context_ != nullptr; }
  // False while a MULTI is open, keys are WATCHed, or the session was changed
  // for good (SELECT, SUBSCRIBE, ...). RedisClient drops such a connection
  // when a lease returns it.
  bool session_clean() const { return session_.clean(); }

  const RedisOptions& options() const { return options_; }

 private:
  // Frees the context and turns its error into a Status naming `what`.
  absl::Status Fail(absl::string_view what, int saved_errno);
  absl::Status Authenticate();

  RedisOptions options_;
  RedisContextPtr context_;
  RedisSession session_;  // of context_; reset with it
  absl::Time next_connect_ = absl::InfinitePast();
  std::string last_connect_error_;
};

// The thread-safe client: a pool of RedisConnections. Each call borrows an
// idle connection, or opens one while fewer than `pool_size` exist, or waits
// up to `command_timeout` for one to come back (then UNAVAILABLE).
class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // As RedisConnection::Command / Execute, on a borrowed connection.
  absl::StatusOr<RedisReply> Command(absl::Span<const absl::string_view> args);
  absl::StatusOr<std::vector<RedisReply>> Execute(const RedisPipeline& pipeline);

  // A connection held exclusively until the Lease is destroyed, for command
  // sequences that need one connection (WATCH ... MULTI ... EXEC). The
  // RedisClient must outlive its leases.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    RedisConnection& operator*() const { return *connection_; }
    RedisConnection* operator->() const { return connection_.get(); }

   private:
    friend class RedisClient;
    Lease(RedisClient* client, std::unique_ptr<RedisConnection> connection)
        : client_(client), connection_(std::move(connection)) {}
    RedisClient* client_;
    std::unique_ptr<RedisConnection> connection_;
  };
  absl::StatusOr<Lease> Acquire();

  const RedisOptions& options() const { return options_; }

 private:
  void Release(std::unique_ptr<RedisConnection> connection);

  const RedisOptions options_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<RedisConnection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + leased
};

// The suite's key for `parts` of organisation `org`: "okr:{<org>}:<p1>:<p2>".
// Each component is escaped ('%', ':', '{', '}' and the glob characters
// '*', '?', '[', ']', '\\' become %XX), so distinct inputs never share a key,
// an id cannot break out of the hash tag, and the prefix is safe in SCAN MATCH.
std::string RedisKey(absl::string_view org,
                     absl::Span<const absl::string_view> parts);
// "okr:{<org>}:", the prefix of every key RedisKey() builds for `org`.
std::string RedisKeyPrefix(absl::string_view org);

}  // namespace okr

#endif  // OKR_COMMON_REDIS_H_
