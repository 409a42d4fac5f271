// Feeds the WatchReminders streams of this replica from Redis, so that a
// watcher sees every reminder any replica published, not only its own.
//
// One thread holds a subscriber connection (PSUBSCRIBE on every
// organisation's reminder channel, okr:{*}:reminders) and hands each message,
// decoded from its proto3 JSON, to the WatchHub (messages arriving while the
// hub has no watcher are dropped undecoded). When Redis is configured,
// main.cc gives Notify no hub: publication reaches the local watchers through
// Redis like everyone else's, exactly once. Pub/sub is at-most-once, which is
// what WatchReminders promises (durable consumers read the stream). After a
// connection failure the feed reconnects with backoff and subscribes again;
// what was published meanwhile is not replayed.
#ifndef OKR_SERVICES_NOTIFY_REDIS_WATCH_FEED_H_
#define OKR_SERVICES_NOTIFY_REDIS_WATCH_FEED_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/redis.h"
#include "services/notify/watch_hub.h"

namespace okr::notify {

struct RedisWatchFeedOptions {
  RedisOptions redis;
  // How often the thread wakes to check for Stop() while nothing arrives.
  absl::Duration poll_interval = absl::Milliseconds(200);
  // Wait between reconnect attempts (doubling up to max_backoff).
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
};

class RedisWatchFeed {
 public:
  // Starts the subscriber thread at once; `hub` must outlive the feed.
  RedisWatchFeed(RedisWatchFeedOptions options, WatchHub* hub);
  ~RedisWatchFeed();  // Stop()
  RedisWatchFeed(const RedisWatchFeed&) = delete;
  RedisWatchFeed& operator=(const RedisWatchFeed&) = delete;

  // Ends the thread; idempotent.
  void Stop();

  // Whether the subscription is in place now (for tests and health).
  bool subscribed() const;
  // Messages handed to the hub, and messages that could not be decoded.
  int64_t delivered() const;
  int64_t malformed() const;

 private:
  void Run();
  // One connection's life: connect, subscribe, read until an error or Stop.
  // Returns whether the subscription was in place at some point.
  bool Session();
  bool stopping() const;

  const RedisWatchFeedOptions options_;
  WatchHub* const hub_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t malformed_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

// The organisation of a reminder channel name ("okr:{acme}:reminders" ->
// "acme"); empty when `channel` is not one.
std::string OrganisationOfReminderChannel(absl::string_view channel);

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_REDIS_WATCH_FEED_H_
