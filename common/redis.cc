#include "common/redis.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace okr {
namespace {

// hiredis writes with write(2), not send(MSG_NOSIGNAL): a write to a server
// that went away raises SIGPIPE, whose default action kills the process.
// Blocking it for the calling thread and discarding one that our write raised
// keeps the rest of the process's signal handling untouched.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    already_blocked_ = sigismember(&old_, SIGPIPE) == 1;
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

  ~ScopedSigpipeBlock() {
    if (already_blocked_) return;  // the caller manages SIGPIPE itself
    if (failed_) {
      sigset_t pending;
      sigemptyset(&pending);
      if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero = {0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

  // Only a failed write can have raised SIGPIPE; success skips the check.
  void Failed() { failed_ = true; }

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool already_blocked_ = false;
  bool failed_ = false;
};

// A zero timeval means "no timeout" to setsockopt and 0 ms to poll(): both
// wrong for a bound, so clamp to at least a millisecond.
timeval PositiveTimeval(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::Milliseconds(1)));
}

// Appends one command in RESP: *<argc>\r\n then $<len>\r\n<bytes>\r\n each.
void AppendResp(std::string& out, absl::Span<const absl::string_view> args) {
  absl::StrAppend(&out, "*", args.size(), "\r\n");
  for (absl::string_view arg : args) {
    absl::StrAppend(&out, "$", arg.size(), "\r\n", arg, "\r\n");
  }
}

// Escapes one key component (see RedisKey()).
void AppendKeyComponent(std::string& out, absl::string_view component) {
  for (char c : component) {
    switch (c) {
      case '%':
      case ':':
      case '{':
      case '}':
      case '*':
      case '?':
      case '[':
      case ']':
      case '\\': {
        const unsigned char byte = static_cast<unsigned char>(c);
        constexpr char kHex[] = "0123456789ABCDEF";
        out.push_back('%');
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 0xf]);
        break;
      }
      default:
        out.push_back(c);
    }
  }
}

bool StartsWithWord(absl::string_view message, absl::string_view word) {
  return absl::StartsWith(message, word) &&
         (message.size() == word.size() || message[word.size()] == ' ');
}

}  // namespace

// ---------------------------------------------------------------------------
// RedisReply

RedisReply RedisReply::Integer(int64_t value) {
  RedisReply r;
  r.kind = Kind::kInteger;
  r.integer = value;
  return r;
}

RedisReply RedisReply::String(absl::string_view bytes) {
  RedisReply r;
  r.kind = Kind::kString;
  r.str = std::string(bytes);
  return r;
}

RedisReply RedisReply::Status(absl::string_view text) {
  RedisReply r;
  r.kind = Kind::kStatus;
  r.str = std::string(text);
  return r;
}

RedisReply RedisReply::Error(absl::string_view message) {
  RedisReply r;
  r.kind = Kind::kError;
  r.str = std::string(message);
  return r;
}

RedisReply RedisReply::Array(std::vector<RedisReply> elements) {
  RedisReply r;
  r.kind = Kind::kArray;
  r.elements = std::move(elements);
  return r;
}

absl::Status RedisReply::ToStatus() const {
  if (kind != Kind::kError) return absl::OkStatus();
  const std::string message = absl::StrCat("redis error reply: ", str);
  for (absl::string_view transient :
       {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"}) {
    if (StartsWithWord(str, transient)) return absl::UnavailableError(message);
  }
  if (StartsWithWord(str, "OOM")) return absl::ResourceExhaustedError(message);
  return absl::FailedPreconditionError(message);
}

std::string RedisReply::DebugString() const {
  switch (kind) {
    case Kind::kNil:
      return "nil";
    case Kind::kInteger:
      return absl::StrCat(integer);
    case Kind::kString:
      return absl::StrCat("\"", absl::CHexEscape(str), "\"");
    case Kind::kStatus:
      return absl::StrCat("+", str);
    case Kind::kError:
      return absl::StrCat("-", str);
    case Kind::kArray:
      return absl::StrCat(
          "[",
          absl::StrJoin(elements, ", ",
                        [](std::string* out, const RedisReply& e) {
                          out->append(e.DebugString());
                        }),
          "]");
  }
  return "?";
}

bool operator==(const RedisReply& a, const RedisReply& b) {
  return a.kind == b.kind && a.integer == b.integer && a.str == b.str &&
         a.elements == b.elements;
}

RedisReply CopyReply(const ::redisReply& reply) {
  switch (reply.type) {
    case REDIS_REPLY_INTEGER:
      return RedisReply::Integer(reply.integer);
    case REDIS_REPLY_STRING:
      return RedisReply::String(absl::string_view(reply.str, reply.len));
    case REDIS_REPLY_STATUS:
      return RedisReply::Status(absl::string_view(reply.str, reply.len));
    case REDIS_REPLY_ERROR:
      return RedisReply::Error(absl::string_view(reply.str, reply.len));
    case REDIS_REPLY_ARRAY: {
      std::vector<RedisReply> elements;
      elements.reserve(reply.elements);
      for (size_t i = 0; i < reply.elements; ++i) {
        elements.push_back(reply.element[i] != nullptr ? CopyReply(*reply.element[i])
                                                       : RedisReply::Nil());
      }
      return RedisReply::Array(std::move(elements));
    }
    case REDIS_REPLY_NIL:
    default:
      return RedisReply::Nil();
  }
}

void RedisContextDeleter::operator()(::redisContext* context) const {
  redisFree(context);
}

void RedisReplyDeleter::operator()(::redisReply* reply) const {
  freeReplyObject(reply);
}

// ---------------------------------------------------------------------------
// RedisPipeline

RedisPipeline& RedisPipeline::Add(absl::Span<const absl::string_view> args) {
  ++count_;
  if (args.empty()) {
    if (first_empty_ == 0) first_empty_ = count_;
    return *this;
  }
  AppendResp(buffer_, args);
  if (RedisSession::Affects(args[0])) session_commands_.emplace_back(args[0]);
  return *this;
}

// ---------------------------------------------------------------------------
// RedisSession

bool RedisSession::Affects(absl::string_view command) {
  for (absl::string_view name : {"MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SELECT",
                                 "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR",
                                 "CLIENT", "RESET"}) {
    if (absl::EqualsIgnoreCase(command, name)) return true;
  }
  return false;
}

void RedisSession::Apply(absl::string_view command) {
  auto is = [command](absl::string_view name) { return absl::EqualsIgnoreCase(command, name); };
  if (is("EXEC") || is("DISCARD") || is("RESET")) {
    // Both end the transaction and forget WATCHed keys (RESET: everything,
    // but it also drops authentication, so it stays sticky below).
    in_multi = false;
    watching = false;
    if (is("RESET")) sticky = true;
  } else if (in_multi) {
    // Inside MULTI commands are queued and run at EXEC. A queued SELECT or
    // CLIENT would change the session then, so be conservative and treat it
    // as sticky now (MULTI, WATCH and UNWATCH change nothing that EXEC or
    // DISCARD does not reset).
    if (!is("MULTI") && !is("WATCH") && !is("UNWATCH")) sticky = true;
  } else if (is("MULTI")) {
    in_multi = true;
  } else if (is("WATCH")) {
    watching = true;
  } else if (is("UNWATCH")) {
    watching = false;
  } else if (Affects(command)) {
    sticky = true;  // SELECT, SUBSCRIBE, MONITOR, CLIENT ...: no cheap undo
  }
}

// ---------------------------------------------------------------------------
// RedisConnection

RedisConnection::RedisConnection(RedisOptions options)
    : options_(std::move(options)) {}

RedisConnection::~RedisConnection() = default;

void RedisConnection::Disconnect() {
  context_.reset();
  session_ = RedisSession();
}

absl::Status RedisConnection::Connect() {
  if (context_ != nullptr) return absl::OkStatus();
  const std::string where = absl::StrCat(options_.host, ":", options_.port);
  const absl::Time now = absl::Now();
  if (now < next_connect_) {
    return absl::UnavailableError(absl::StrCat(
        "redis ", where, ": not retrying for another ",
        absl::FormatDuration(absl::Ceil(next_connect_ - now, absl::Milliseconds(1))),
        " after a failed connect (", last_connect_error_, ")"));
  }
  RedisContextPtr context(redisConnectWithTimeout(
      options_.host.c_str(), options_.port, PositiveTimeval(options_.connect_timeout)));
  std::string error;
  if (context == nullptr) {
    error = "cannot allocate a hiredis context";
  } else if (context->err != 0) {
    error = context->errstr;
  } else if (redisSetTimeout(context.get(), PositiveTimeval(options_.command_timeout)) !=
             REDIS_OK) {
    error = absl::StrCat("cannot set the command timeout: ", context->errstr);
  }
  if (!error.empty()) {
    last_connect_error_ = error;
    // From the end of the attempt: a connect that timed out took longer than
    // the back-off, which must still spare the next calls the same wait.
    next_connect_ = absl::Now() + options_.reconnect_backoff;
    return absl::UnavailableError(
        absl::StrCat("redis ", where, ": connect failed: ", error));
  }
  context_ = std::move(context);
  if (!options_.password.empty()) {
    absl::Status status = Authenticate();
    if (!status.ok()) {
      context_.reset();
      last_connect_error_ = std::string(status.message());
      next_connect_ = absl::Now() + options_.reconnect_backoff;
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status RedisConnection::Authenticate() {
  absl::InlinedVector<absl::string_view, 3> args = {"AUTH"};
  if (!options_.username.empty()) args.push_back(options_.username);
  args.push_back(options_.password);
  OKR_ASSIGN_OR_RETURN(RedisReply reply, Command(args));
  if (reply.is_error()) {
    // Never echo the password; the server's message does not contain it.
    return absl::PermissionDeniedError(absl::StrCat(
        "redis ", options_.host, ":", options_.port, ": AUTH refused: ", reply.str));
  }
  return absl::OkStatus();
}

absl::Status RedisConnection::Fail(absl::string_view what, int saved_errno) {
  const int err = context_ != nullptr ? context_->err : REDIS_ERR_OTHER;
  const std::string errstr = context_ != nullptr ? context_->errstr : "no context";
  // The reply to this command may still arrive; on a fresh connection it
  // cannot be mistaken for the reply to the next one.
  Disconnect();
  const std::string prefix =
      absl::StrCat("redis ", options_.host, ":", options_.port, ": ", what);
  switch (err) {
    case REDIS_ERR_IO:
      if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK ||
          absl::StrContains(errstr, "temporarily unavailable")) {
        return absl::UnavailableError(absl::StrCat(
            prefix, " timed out after ",
            absl::FormatDuration(options_.command_timeout),
            " (command_timeout); the connection was dropped"));
      }
      return absl::UnavailableError(absl::StrCat(prefix, ": I/O error: ", errstr));
    case REDIS_ERR_EOF:
      return absl::UnavailableError(
          absl::StrCat(prefix, ": the server closed the connection (", errstr, ")"));
    case REDIS_ERR_PROTOCOL:
      return absl::InternalError(
          absl::StrCat(prefix, ": protocol error: ", errstr));
    case REDIS_ERR_OOM:
      return absl::ResourceExhaustedError(
          absl::StrCat(prefix, ": out of memory: ", errstr));
    default:
      return absl::UnavailableError(absl::StrCat(prefix, ": ", errstr));
  }
}

absl::StatusOr<RedisReply> RedisConnection::Command(
    absl::Span<const absl::string_view> args) {
  if (args.empty()) {
    return absl::InvalidArgumentError("redis command: no arguments");
  }
  OKR_RETURN_IF_ERROR(Connect());
  absl::InlinedVector<const char*, 8> argv;
  absl::InlinedVector<size_t, 8> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (absl::string_view arg : args) {
    argv.push_back(arg.data() != nullptr ? arg.data() : "");
    lengths.push_back(arg.size());
  }
  ScopedSigpipeBlock sigpipe;
  void* raw = redisCommandArgv(context_.get(), static_cast<int>(args.size()),
                               argv.data(), lengths.data());
  const int saved_errno = errno;
  RedisReplyPtr reply(static_cast<::redisReply*>(raw));
  if (reply == nullptr) {
    sigpipe.Failed();
    return Fail(absl::StrCat("command ", args[0]), saved_errno);
  }
  if (RedisSession::Affects(args[0])) session_.Apply(args[0]);
  return CopyReply(*reply);
}

absl::StatusOr<std::vector<RedisReply>> RedisConnection::Execute(
    const RedisPipeline& pipeline) {
  std::vector<RedisReply> replies;
  if (pipeline.first_empty() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "redis pipeline: command ", pipeline.first_empty(), " has no arguments"));
  }
  if (pipeline.empty()) return replies;
  OKR_RETURN_IF_ERROR(Connect());
  ScopedSigpipeBlock sigpipe;
  if (redisAppendFormattedCommand(context_.get(), pipeline.buffer().data(),
                                  pipeline.buffer().size()) != REDIS_OK) {
    const int saved_errno = errno;
    sigpipe.Failed();
    return Fail("pipeline", saved_errno);
  }
  replies.reserve(pipeline.size());
  for (size_t i = 0; i < pipeline.size(); ++i) {
    void* raw = nullptr;
    const int rc = redisGetReply(context_.get(), &raw);
    const int saved_errno = errno;
    RedisReplyPtr reply(static_cast<::redisReply*>(raw));
    if (rc != REDIS_OK || reply == nullptr) {
      sigpipe.Failed();
      return Fail(absl::StrCat("pipeline reply ", i + 1, " of ", pipeline.size()),
                  saved_errno);
    }
    replies.push_back(CopyReply(*reply));
  }
  for (const std::string& command : pipeline.session_commands()) session_.Apply(command);
  return replies;
}

// ---------------------------------------------------------------------------
// RedisClient

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

RedisClient::Lease::Lease(Lease&& other) noexcept
    : client_(other.client_), connection_(std::move(other.connection_)) {}

RedisClient::Lease::~Lease() {
  if (connection_ != nullptr) client_->Release(std::move(connection_));
}

absl::StatusOr<RedisClient::Lease> RedisClient::Acquire() {
  const int limit = std::max(1, options_.pool_size);
  absl::MutexLock lock(&mu_);
  auto can_acquire = [this, limit]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || open_ < limit;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&can_acquire),
                            options_.command_timeout)) {
    return absl::UnavailableError(absl::StrCat(
        "redis ", options_.host, ":", options_.port, ": all ", limit,
        " pooled connections stayed busy for ",
        absl::FormatDuration(options_.command_timeout)));
  }
  if (!idle_.empty()) {
    std::unique_ptr<RedisConnection> connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(connection));
  }
  ++open_;
  return Lease(this, std::make_unique<RedisConnection>(options_));
}

void RedisClient::Release(std::unique_ptr<RedisConnection> connection) {
  // A lease may end inside MULTI/WATCH (an early return) or after SELECT:
  // never hand such a session to the next borrower.
  if (!connection->session_clean()) connection->Disconnect();
  absl::MutexLock lock(&mu_);
  // Most recently used last, so the next Acquire() gets a warm connection.
  idle_.push_back(std::move(connection));
}

absl::StatusOr<RedisReply> RedisClient::Command(
    absl::Span<const absl::string_view> args) {
  OKR_ASSIGN_OR_RETURN(Lease lease, Acquire());
  return lease->Command(args);
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Execute(
    const RedisPipeline& pipeline) {
  OKR_ASSIGN_OR_RETURN(Lease lease, Acquire());
  return lease->Execute(pipeline);
}

// ---------------------------------------------------------------------------
// Keys

std::string RedisKeyPrefix(absl::string_view org) {
  std::string key = "okr:{";
  AppendKeyComponent(key, org);
  key.append("}:");
  return key;
}

std::string RedisKey(absl::string_view org,
                     absl::Span<const absl::string_view> parts) {
  std::string key = RedisKeyPrefix(org);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) key.push_back(':');
    AppendKeyComponent(key, parts[i]);
  }
  return key;
}

}  // namespace okr
