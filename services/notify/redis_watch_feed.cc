#include "services/notify/redis_watch_feed.h"

#include <google/protobuf/util/json_util.h>
#include <hiredis/hiredis.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "services/notify/reminder_publisher.h"

namespace okr::notify {
namespace {

// Every organisation's reminder channel (ReminderPublisher::ChannelName). In
// a Redis glob only * ? [ ] and \ are special, so the braces are literal.
constexpr absl::string_view kChannelPattern = "okr:{*}:reminders";
constexpr absl::string_view kChannelPrefix = "okr:{";
constexpr absl::string_view kChannelSuffix = "}:reminders";

timeval BoundedTimeval(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::Milliseconds(1)));
}

// A blocking command on a freshly connected context (AUTH, PSUBSCRIBE).
RedisReplyPtr Command(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  return RedisReplyPtr(static_cast<redisReply*>(redisCommandArgv(
      context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
}

}  // namespace

std::string OrganisationOfReminderChannel(absl::string_view channel) {
  if (!absl::ConsumePrefix(&channel, kChannelPrefix) ||
      !absl::ConsumeSuffix(&channel, kChannelSuffix) || channel.empty()) {
    return "";
  }
  return std::string(channel);
}

RedisWatchFeed::RedisWatchFeed(RedisWatchFeedOptions options, WatchHub* hub)
    : options_(std::move(options)), hub_(hub) {
  thread_ = std::thread([this] { Run(); });
}

RedisWatchFeed::~RedisWatchFeed() { Stop(); }

void RedisWatchFeed::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool RedisWatchFeed::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool RedisWatchFeed::subscribed() const {
  absl::MutexLock lock(&mu_);
  return subscribed_;
}

int64_t RedisWatchFeed::delivered() const {
  absl::MutexLock lock(&mu_);
  return delivered_;
}

int64_t RedisWatchFeed::malformed() const {
  absl::MutexLock lock(&mu_);
  return malformed_;
}

void RedisWatchFeed::Run() {
  absl::Duration backoff = options_.initial_backoff;
  bool warned = false;
  while (!stopping()) {
    const absl::Time started = absl::Now();
    if (Session()) warned = false;  // it worked for a while: warn on the next loss
    {
      absl::MutexLock lock(&mu_);
      subscribed_ = false;
      if (stopping_) return;
    }
    // A session that lasted a while was a working subscription: start the
    // backoff afresh so a blip costs little.
    if (absl::Now() - started > options_.max_backoff) backoff = options_.initial_backoff;
    if (!warned) {
      LogWarn("watch feed: Redis subscription lost; WatchReminders streams get no reminders "
              "from other replicas until it is back",
              {{"redis", absl::StrCat(options_.redis.host, ":", options_.redis.port)}});
      warned = true;
    }
    absl::MutexLock lock(&mu_);
    const auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stop), backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool RedisWatchFeed::Session() {
  RedisContextPtr context(redisConnectWithTimeout(options_.redis.host.c_str(), options_.redis.port,
                                             BoundedTimeval(options_.redis.connect_timeout)));
  if (context == nullptr || context->err != 0) return false;
  redisSetTimeout(context.get(), BoundedTimeval(options_.redis.command_timeout));
  if (!options_.redis.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!options_.redis.username.empty()) auth.push_back(options_.redis.username);
    auth.push_back(options_.redis.password);
    RedisReplyPtr reply = Command(context.get(), auth);
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      LogError("watch feed: Redis refused AUTH", {{"redis", options_.redis.host}});
      return false;
    }
  }
  RedisReplyPtr subscribed = Command(context.get(), {"PSUBSCRIBE", std::string(kChannelPattern)});
  if (subscribed == nullptr || subscribed->type != REDIS_REPLY_ARRAY) return false;
  {
    absl::MutexLock lock(&mu_);
    subscribed_ = true;
  }
  LogInfo("watch feed: subscribed to the reminder channels",
          {{"pattern", kChannelPattern},
           {"redis", absl::StrCat(options_.redis.host, ":", options_.redis.port)}});

  // Reads without a socket timeout: hiredis cannot reuse a context after a
  // timed-out read, so the thread waits in poll() and reads only when data
  // is there (or Stop() is due).
  const int poll_ms = static_cast<int>(absl::ToInt64Milliseconds(options_.poll_interval));
  while (!stopping()) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(context.get(), &raw) != REDIS_OK) return true;
    if (raw == nullptr) {
      pollfd descriptor{context->fd, POLLIN, 0};
      const int ready = poll(&descriptor, 1, std::max(poll_ms, 1));
      if (ready < 0 && errno != EINTR) return true;
      if (ready > 0 && redisBufferRead(context.get()) != REDIS_OK) return true;
      continue;
    }
    RedisReplyPtr message(static_cast<redisReply*>(raw));
    // ["pmessage", pattern, channel, payload]
    if (message->type != REDIS_REPLY_ARRAY || message->elements != 4 ||
        message->element[2]->type != REDIS_REPLY_STRING ||
        message->element[3]->type != REDIS_REPLY_STRING) {
      continue;  // a subscription confirmation or something we did not ask for
    }
    // Decoding costs more than Redis took to send it (a run of 100,000
    // reminders is 100,000 messages): skip it while nobody here watches.
    // A watcher subscribing now would have missed this message anyway.
    if (hub_->watchers() == 0) continue;
    const std::string organisation = OrganisationOfReminderChannel(
        absl::string_view(message->element[2]->str, message->element[2]->len));
    v1::Reminder reminder;
    google::protobuf::util::JsonParseOptions parse;
    parse.ignore_unknown_fields = true;  // a newer publisher may add fields
    const bool parsed =
        !organisation.empty() &&
        google::protobuf::util::JsonStringToMessage(
            std::string(message->element[3]->str, message->element[3]->len), &reminder, parse)
            .ok();
    if (!parsed) {
      absl::MutexLock lock(&mu_);
      ++malformed_;
      continue;
    }
    hub_->Publish(organisation, reminder);
    absl::MutexLock lock(&mu_);
    ++delivered_;
  }
  return true;
}

}  // namespace okr::notify
