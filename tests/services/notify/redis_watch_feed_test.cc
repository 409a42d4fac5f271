// RedisWatchFeed against a real redis-server: what any replica publishes
// (through ReminderPublisher) reaches this replica's watchers once, the feed
// survives a Redis restart, and junk on the channels is counted, not fatal.
#include "services/notify/redis_watch_feed.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/redis.h"
#include "services/notify/reminder_publisher.h"
#include "services/notify/watch_hub.h"
#include "tests/support/test_support.h"

namespace okr::notify {
namespace {

using ::okr::RedisServer;

RedisOptions Options(int port) {
  RedisOptions options;
  options.port = port;
  options.connect_timeout = absl::Milliseconds(300);
  options.command_timeout = absl::Milliseconds(500);
  options.reconnect_backoff = absl::Milliseconds(50);
  return options;
}

v1::Reminder MakeReminder(const std::string& id, const std::string& recipient) {
  v1::Reminder reminder;
  reminder.set_id(id);
  reminder.set_recipient_id(recipient);
  reminder.set_kind(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  reminder.set_window_key("2026-W48");
  reminder.set_text("Time for your weekly check-in");
  return reminder;
}

// What the hub handed to one watcher.
class Collector {
 public:
  void Add(const v1::Reminder& reminder) {
    absl::MutexLock lock(&mu_);
    ids_.push_back(reminder.id());
  }
  // Waits until `n` reminders arrived (or `timeout`) and returns them.
  std::vector<std::string> WaitFor(size_t n, absl::Duration timeout = absl::Seconds(5)) {
    absl::MutexLock lock(&mu_);
    const auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ids_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return ids_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> ids_ ABSL_GUARDED_BY(mu_);
};

bool WaitSubscribed(const RedisWatchFeed& feed) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!feed.subscribed() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  return feed.subscribed();
}

TEST(OrganisationOfReminderChannel, ParsesOnlyReminderChannels) {
  EXPECT_EQ(OrganisationOfReminderChannel(ReminderPublisher::ChannelName("acme")), "acme");
  EXPECT_EQ(OrganisationOfReminderChannel("okr:{}:reminders"), "");
  EXPECT_EQ(OrganisationOfReminderChannel("okr:{acme}:other"), "");
  EXPECT_EQ(OrganisationOfReminderChannel("reminders"), "");
}

TEST(RedisWatchFeed, DeliversEveryReplicasPublicationOnceToMatchingWatchers) {
  auto redis = RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  WatchHub hub;
  Collector acme_watcher;
  Collector globex_watcher;
  WatchFilter acme;
  acme.organisation_id = "acme";
  hub.Subscribe(acme, [&](const v1::Reminder& r) { acme_watcher.Add(r); });
  WatchFilter globex;
  globex.organisation_id = "globex";
  hub.Subscribe(globex, [&](const v1::Reminder& r) { globex_watcher.Add(r); });

  RedisWatchFeedOptions options;
  options.redis = Options((*redis)->port());
  RedisWatchFeed feed(options, &hub);
  ASSERT_TRUE(WaitSubscribed(feed));

  // "Another replica": its own client and publisher.
  RedisClient client(Options((*redis)->port()));
  ReminderPublisher publisher(&client);
  ASSERT_TRUE(publisher.Publish("acme", MakeReminder("rem-1", "jane")).ok());
  ASSERT_TRUE(publisher.Publish("globex", MakeReminder("rem-2", "nick")).ok());
  ASSERT_TRUE(publisher.Publish("acme", MakeReminder("rem-3", "alex")).ok());
  // A retry of rem-1 is not published again (the marker), so not seen again.
  ASSERT_TRUE(publisher.Publish("acme", MakeReminder("rem-1", "jane")).ok());

  EXPECT_EQ(acme_watcher.WaitFor(2), (std::vector<std::string>{"rem-1", "rem-3"}));
  EXPECT_EQ(globex_watcher.WaitFor(1), (std::vector<std::string>{"rem-2"}));
  // Nothing more arrives.
  EXPECT_EQ(acme_watcher.WaitFor(3, absl::Milliseconds(300)).size(), 2u);
  EXPECT_EQ(feed.delivered(), 3);
}

TEST(RedisWatchFeed, CountsMalformedMessagesAndKeepsGoing) {
  auto redis = RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  WatchHub hub;
  Collector watcher;
  WatchFilter filter;
  filter.organisation_id = "acme";
  hub.Subscribe(filter, [&](const v1::Reminder& r) { watcher.Add(r); });
  RedisWatchFeedOptions options;
  options.redis = Options((*redis)->port());
  RedisWatchFeed feed(options, &hub);
  ASSERT_TRUE(WaitSubscribed(feed));

  RedisClient client(Options((*redis)->port()));
  const std::string channel = ReminderPublisher::ChannelName("acme");
  const absl::string_view junk[] = {"PUBLISH", channel, "{not json"};
  ASSERT_TRUE(client.Command(junk).ok());
  ReminderPublisher publisher(&client);
  ASSERT_TRUE(publisher.Publish("acme", MakeReminder("rem-ok", "jane")).ok());
  EXPECT_EQ(watcher.WaitFor(1), (std::vector<std::string>{"rem-ok"}));
  EXPECT_EQ(feed.malformed(), 1);
}

TEST(RedisWatchFeed, ResubscribesAfterRedisRestarts) {
  auto redis = RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  WatchHub hub;
  Collector watcher;
  WatchFilter filter;
  filter.organisation_id = "acme";
  hub.Subscribe(filter, [&](const v1::Reminder& r) { watcher.Add(r); });
  RedisWatchFeedOptions options;
  options.redis = Options((*redis)->port());
  options.max_backoff = absl::Milliseconds(200);
  RedisWatchFeed feed(options, &hub);
  ASSERT_TRUE(WaitSubscribed(feed));

  ASSERT_TRUE((*redis)->Restart().ok());
  // The feed notices the closed connection and subscribes again.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  RedisClient client(Options((*redis)->port()));
  ReminderPublisher publisher(&client);
  // PUBLISH reaches nobody until the subscription is back: publish distinct
  // reminders until one arrives.
  int attempt = 0;
  std::vector<std::string> seen;
  while (seen.empty() && absl::Now() < deadline) {
    (void)publisher.Publish("acme", MakeReminder(absl::StrCat("after-", attempt++), "jane"));
    absl::SleepFor(absl::Milliseconds(50));
    seen = watcher.WaitFor(0);
  }
  ASSERT_FALSE(seen.empty()) << "no reminder after the restart";
  EXPECT_TRUE(feed.subscribed());
}

TEST(RedisWatchFeed, StopsPromptlyWhileRedisIsDown) {
  auto redis = RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  WatchHub hub;
  RedisWatchFeedOptions options;
  options.redis = Options((*redis)->port());
  auto feed = std::make_unique<RedisWatchFeed>(options, &hub);
  ASSERT_TRUE(WaitSubscribed(*feed));
  ASSERT_TRUE((*redis)->Stop().ok());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(feed->subscribed());
  const absl::Time start = absl::Now();
  feed.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

}  // namespace
}  // namespace okr::notify
