// The reminder publisher against a real redis-server on a free loopback
// port. The consuming side (a SUBSCRIBEd listener, consumer groups) is plain
// hiredis, as a consumer in another process or language would be, with a
// read timeout on every connection so a missing message fails instead of
// hanging.
#include "services/notify/reminder_publisher.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/barrier.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/redis.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/notify.pb.h"
#include "tests/support/test_support.h"

namespace okr::notify {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Kind = RedisReply::Kind;

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

// One hiredis connection of the consuming side. Every read is bounded by
// `read_timeout`; a failed call is reported as a Status, never a hang.
class Hiredis {
 public:
  static absl::StatusOr<std::unique_ptr<Hiredis>> Connect(
      int port, absl::Duration read_timeout = absl::Seconds(2)) {
    const timeval connect_timeout = absl::ToTimeval(absl::Seconds(2));
    RedisContextPtr context(redisConnectWithTimeout("127.0.0.1", port, connect_timeout));
    if (context == nullptr) return absl::ResourceExhaustedError("hiredis: out of memory");
    if (context->err != 0) {
      return absl::UnavailableError(absl::StrCat("hiredis connect: ", context->errstr));
    }
    if (redisSetTimeout(context.get(), absl::ToTimeval(read_timeout)) != REDIS_OK) {
      return absl::InternalError(absl::StrCat("hiredis timeout: ", context->errstr));
    }
    return std::unique_ptr<Hiredis>(new Hiredis(std::move(context)));
  }

  // Sends one command and reads its reply.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    RedisReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(
        context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (reply == nullptr) return Failed(args[0]);
    return CopyReply(*reply);
  }

  // Reads the next message pushed to a subscribed connection.
  absl::StatusOr<RedisReply> NextMessage() {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
      return Failed("read");
    }
    RedisReplyPtr reply(static_cast<redisReply*>(raw));
    return CopyReply(*reply);
  }

 private:
  explicit Hiredis(RedisContextPtr context) : context_(std::move(context)) {}

  absl::Status Failed(absl::string_view what) const {
    const std::string message = absl::StrCat("hiredis ", what, ": ", context_->errstr);
    // A read timeout is EAGAIN under an I/O error: nothing came in time.
    return context_->err == REDIS_ERR_IO ? absl::DeadlineExceededError(message)
                                         : absl::InternalError(message);
  }

  RedisContextPtr context_;
};

// A stream entry as the consuming side sees it.
struct StreamEntry {
  std::string entry_id;
  std::map<std::string, std::string> fields;
};

// [id, [field, value, ...]] as a StreamEntry; a malformed one fails the test.
StreamEntry ParseEntry(const RedisReply& reply) {
  StreamEntry entry;
  EXPECT_EQ(reply.kind, Kind::kArray) << reply.DebugString();
  if (reply.kind != Kind::kArray || reply.elements.size() != 2) return entry;
  entry.entry_id = reply.elements[0].str;
  const std::vector<RedisReply>& pairs = reply.elements[1].elements;
  EXPECT_EQ(pairs.size() % 2, 0u) << reply.DebugString();
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    entry.fields[pairs[i].str] = pairs[i + 1].str;
  }
  return entry;
}

// The entries of an XREADGROUP / XREAD reply on one stream:
// [[stream, [entry, ...]]]; nil (nothing new) is no entries.
std::vector<StreamEntry> ParseRead(const RedisReply& reply) {
  std::vector<StreamEntry> entries;
  if (reply.is_nil()) return entries;
  EXPECT_EQ(reply.kind, Kind::kArray) << reply.DebugString();
  if (reply.kind != Kind::kArray || reply.elements.size() != 1 ||
      reply.elements[0].elements.size() != 2) {
    ADD_FAILURE() << "unexpected read reply " << reply.DebugString();
    return entries;
  }
  for (const RedisReply& entry : reply.elements[0].elements[1].elements) {
    entries.push_back(ParseEntry(entry));
  }
  return entries;
}

v1::Reminder MakeReminder(absl::string_view id, absl::string_view recipient = "person-ana",
                          v1::ReminderKind kind = v1::REMINDER_KIND_WEEKLY_CHECK_IN,
                          absl::string_view window_key = "2027-W05") {
  v1::Reminder reminder;
  reminder.set_id(std::string(id));
  reminder.set_recipient_id(std::string(recipient));
  reminder.set_recipient_name("Ana Lima");
  reminder.set_kind(kind);
  reminder.set_window_key(std::string(window_key));
  v1::DueItem* item = reminder.add_due_items();
  item->set_title("Ship the onboarding flow");
  item->set_detail("no check-in since 2027-01-25");
  reminder.set_text("Weekly check-in: 1 key result needs a check-in: \"Ship\" \u00e9");
  reminder.set_team_id("team-web");
  reminder.mutable_due_time()->set_seconds(1801468800);
  reminder.mutable_publish_time()->set_seconds(1801474200);
  reminder.mutable_publish_time()->set_nanos(250000000);
  return reminder;
}

// Parses proto3 JSON back into a Reminder; a parse failure fails the test.
v1::Reminder ParseJson(absl::string_view json) {
  v1::Reminder reminder;
  const auto status =
      google::protobuf::util::JsonStringToMessage(std::string(json), &reminder);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return reminder;
}

bool SameReminder(const v1::Reminder& a, const v1::Reminder& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

class ReminderPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<RedisClient>(Options(server_->port()));
    publisher_ = std::make_unique<ReminderPublisher>(client_.get());
    absl::StatusOr<std::unique_ptr<Hiredis>> raw = Hiredis::Connect(server_->port());
    ASSERT_TRUE(raw.ok()) << raw.status();
    raw_ = *std::move(raw);
  }

  // Runs a command on the raw connection; a failed call fails the test (the
  // reply then comes back as an error reply naming the status).
  RedisReply Raw(std::vector<std::string> args) {
    absl::StatusOr<RedisReply> reply = raw_->Command(args);
    EXPECT_TRUE(reply.ok()) << args[0] << ": " << reply.status();
    return reply.ok() ? *std::move(reply) : RedisReply::Error(reply.status().ToString());
  }

  // Publishes and expects success; a failed call fails the test.
  PublishOutcome PublishOk(absl::string_view org, const v1::Reminder& reminder) {
    absl::StatusOr<PublishOutcome> outcome = publisher_->Publish(org, reminder);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.ok() ? *std::move(outcome) : PublishOutcome{};
  }

  // A new subscriber of `org`'s channel, after Redis confirmed SUBSCRIBE.
  std::unique_ptr<Hiredis> Subscribe(absl::string_view org,
                                     absl::Duration read_timeout = absl::Seconds(2)) {
    absl::StatusOr<std::unique_ptr<Hiredis>> subscriber =
        Hiredis::Connect(server_->port(), read_timeout);
    EXPECT_TRUE(subscriber.ok()) << subscriber.status();
    if (!subscriber.ok()) return nullptr;
    const std::string channel = ReminderPublisher::ChannelName(org);
    absl::StatusOr<RedisReply> confirm = (*subscriber)->Command({"SUBSCRIBE", channel});
    EXPECT_TRUE(confirm.ok()) << confirm.status();
    if (!confirm.ok()) return nullptr;
    EXPECT_EQ(confirm->DebugString(),
              RedisReply::Array({RedisReply::String("subscribe"), RedisReply::String(channel),
                                 RedisReply::Integer(1)})
                  .DebugString());
    return *std::move(subscriber);
  }

  int64_t StreamLength(absl::string_view org) {
    return Raw({"XLEN", ReminderPublisher::StreamKey(org)}).integer;
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
  std::unique_ptr<ReminderPublisher> publisher_;
  std::unique_ptr<Hiredis> raw_;
};

TEST(ReminderPublisherKeysTest, StreamAndChannelFollowTheSuiteKeyScheme) {
  EXPECT_EQ(ReminderPublisher::StreamKey("acme"), "okr:{acme}:reminders");
  EXPECT_EQ(ReminderPublisher::ChannelName("acme"), "okr:{acme}:reminders");
  // An organisation id cannot break out of its hash tag into another's keys.
  EXPECT_EQ(ReminderPublisher::StreamKey("a}:b"), "okr:{a%7D%3Ab}:reminders");
  EXPECT_NE(ReminderPublisher::StreamKey("a"), ReminderPublisher::StreamKey("b"));
}

TEST(ReminderJsonTest, IsOneLineOfProto3JsonThatParsesBack) {
  const v1::Reminder reminder = MakeReminder("rem-000000000001");
  const std::string json = ReminderJson(reminder);
  EXPECT_THAT(json, Not(HasSubstr("\n")));
  // proto3 JSON: lowerCamelCase names, enums by name, RFC 3339 timestamps.
  EXPECT_THAT(json, HasSubstr("\"recipientId\":\"person-ana\""));
  EXPECT_THAT(json, HasSubstr("\"kind\":\"REMINDER_KIND_WEEKLY_CHECK_IN\""));
  EXPECT_THAT(json, HasSubstr("\"publishTime\":\"2027-02-01T09:30:00.250Z\""));
  EXPECT_TRUE(SameReminder(ParseJson(json), reminder)) << json;
}

TEST(ReminderJsonTest, ATimestampJsonCannotHoldIsRefusedBeforeRedis) {
  v1::Reminder reminder = MakeReminder("rem-000000000001");
  reminder.mutable_due_time()->set_seconds(int64_t{1} << 40);  // past year 9999
  EXPECT_EQ(ReminderJson(reminder), "");
  // No server at all: the refusal comes before any connection attempt.
  RedisClient nowhere(Options(1));
  ReminderPublisher publisher(&nowhere);
  absl::StatusOr<PublishOutcome> outcome = publisher.Publish("acme", reminder);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kInvalidArgument) << outcome.status();
  EXPECT_THAT(outcome.status().message(), HasSubstr("reminder"));
}

// What protobuf's own writer makes of `reminder`; ReminderJson must match it
// byte for byte (its fast path) or be it (its fallback).
std::string ProtobufJson(const v1::Reminder& reminder) {
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(reminder, &json);
  return status.ok() ? json : "";
}

TEST(ReminderJsonTest, MatchesProtobufsWriterByteForByte) {
  std::vector<v1::Reminder> cases;
  cases.push_back(MakeReminder("rem-000000000001"));
  cases.push_back(v1::Reminder());  // every field at its default: "{}"
  v1::Reminder sparse;
  sparse.set_id("rem-2");
  sparse.add_due_items();                                    // an empty item
  sparse.add_due_items()->mutable_target();                  // an empty target
  sparse.mutable_due_time();                                 // set, at the epoch
  cases.push_back(sparse);
  // Every ASCII character, the escaped ones included.
  std::string ascii;
  for (int c = 1; c < 128; ++c) ascii.push_back(static_cast<char>(c));
  v1::Reminder escapes = MakeReminder("rem-3");
  escapes.set_text(ascii);
  escapes.mutable_due_items(0)->set_title(std::string("nul \0 inside", 12));
  cases.push_back(escapes);
  // Letters beyond ASCII (2, 3 and 4 bytes) pass through as UTF-8.
  v1::Reminder unicode = MakeReminder("rem-4");
  unicode.set_recipient_name("Zo\u00eb M\u00fcller \u4e2d\u6587 \U0001F680 \u20ac");
  cases.push_back(unicode);
  // Code points protobuf escapes (the fast path declines them).
  for (const char* special : {"\u00ad", "\u200b", "\u2028", "\ufeff", "\u0085", "\U0001D173"}) {
    v1::Reminder r = MakeReminder("rem-5");
    r.set_text(absl::StrCat("before ", special, " after"));
    cases.push_back(r);
  }
  // Fractions of a second: none, millis, micros, nanos; and a last check-in.
  for (int nanos : {0, 5000000, 123456000, 7, 999999999}) {
    v1::Reminder r = MakeReminder("rem-6");
    r.mutable_publish_time()->set_nanos(nanos);
    *r.mutable_due_items(0)->mutable_last_check_in_time() = r.publish_time();
    r.mutable_due_items(0)->mutable_target()->set_kind(v1::RESOURCE_KIND_KEY_RESULT);
    r.mutable_due_items(0)->mutable_target()->set_id("kr-1");
    cases.push_back(r);
  }
  // Early and late years, an enum value without a name.
  v1::Reminder early = MakeReminder("rem-7");
  early.mutable_due_time()->set_seconds(-62135596800);  // 0001-01-01
  cases.push_back(early);
  v1::Reminder late = MakeReminder("rem-8");
  late.mutable_due_time()->set_seconds(253402300799);  // 9999-12-31T23:59:59
  cases.push_back(late);
  v1::Reminder unnamed = MakeReminder("rem-9");
  unnamed.set_kind(static_cast<v1::ReminderKind>(77));
  cases.push_back(unnamed);
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string expected = ProtobufJson(cases[i]);
    ASSERT_FALSE(expected.empty()) << "case " << i;
    EXPECT_EQ(ReminderJson(cases[i]), expected) << "case " << i;
  }
}

// The fast writer knows these messages field by field: a new field must be
// added to it (this test then fails until it is).
TEST(ReminderJsonTest, KnowsEveryFieldOfTheMessagesItWrites) {
  auto fields = [](const google::protobuf::Descriptor* descriptor) {
    std::vector<std::string> names;
    for (int i = 0; i < descriptor->field_count(); ++i) {
      names.push_back(absl::StrCat(descriptor->field(i)->number(), ":",
                                   descriptor->field(i)->json_name()));
    }
    return names;
  };
  EXPECT_THAT(fields(v1::Reminder::descriptor()),
              ElementsAre("1:id", "2:recipientId", "3:recipientName", "4:kind", "5:windowKey",
                          "6:dueItems", "7:text", "8:teamId", "9:dueTime", "10:publishTime"));
  EXPECT_THAT(fields(v1::DueItem::descriptor()),
              ElementsAre("1:target", "2:title", "3:detail", "4:lastCheckInTime"));
  EXPECT_THAT(fields(v1::ResourceRef::descriptor()), ElementsAre("1:kind", "2:id"));
}

TEST(ReminderPublisherValidationTest, EmptyIdsAndBadOptionsAreInvalidArguments) {
  RedisClient nowhere(Options(1));
  ReminderPublisher publisher(&nowhere);
  absl::StatusOr<PublishOutcome> no_org = publisher.Publish("", MakeReminder("rem-1"));
  EXPECT_EQ(no_org.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_org.status().message(), HasSubstr("organisation_id"));
  absl::StatusOr<PublishOutcome> no_id = publisher.Publish("acme", MakeReminder(""));
  EXPECT_EQ(no_id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_id.status().message(), HasSubstr("reminder.id"));

  ReminderPublisher no_ttl(&nowhere, {.stream_max_length = 10, .marker_ttl = absl::ZeroDuration()});
  EXPECT_THAT(no_ttl.Publish("acme", MakeReminder("rem-1")).status().message(),
              HasSubstr("marker_ttl"));
  ReminderPublisher no_cap(&nowhere, {.stream_max_length = 0});
  EXPECT_THAT(no_cap.Publish("acme", MakeReminder("rem-1")).status().message(),
              HasSubstr("stream_max_length"));
}

TEST_F(ReminderPublisherTest, ASubscriberReceivesTheReminderJson) {
  std::unique_ptr<Hiredis> subscriber = Subscribe("acme");
  ASSERT_NE(subscriber, nullptr);
  const v1::Reminder reminder = MakeReminder("rem-000000000001");

  const PublishOutcome outcome = PublishOk("acme", reminder);
  EXPECT_TRUE(outcome.published);
  EXPECT_EQ(outcome.subscribers, 1);
  EXPECT_FALSE(outcome.stream_entry_id.empty());

  OKR_ASSERT_OK_AND_ASSIGN(RedisReply message, subscriber->NextMessage());
  ASSERT_EQ(message.kind, Kind::kArray) << message.DebugString();
  ASSERT_EQ(message.elements.size(), 3u) << message.DebugString();
  EXPECT_EQ(message.elements[0].str, "message");
  EXPECT_EQ(message.elements[1].str, "okr:{acme}:reminders");
  EXPECT_THAT(message.elements[2].str, Not(HasSubstr("\n")));
  EXPECT_TRUE(SameReminder(ParseJson(message.elements[2].str), reminder))
      << message.elements[2].str;
}

TEST_F(ReminderPublisherTest, NobodyListeningIsNormal) {
  const PublishOutcome outcome = PublishOk("acme", MakeReminder("rem-000000000001"));
  EXPECT_TRUE(outcome.published);
  EXPECT_EQ(outcome.subscribers, 0);
  EXPECT_EQ(StreamLength("acme"), 1);
}

TEST_F(ReminderPublisherTest, AConsumerGroupReadsTheEntryAndAcksIt) {
  const std::string stream = ReminderPublisher::StreamKey("acme");
  EXPECT_EQ(Raw({"XGROUP", "CREATE", stream, "g", "0", "MKSTREAM"}).str, "OK");
  const v1::Reminder reminder =
      MakeReminder("rem-000000000002", "person-bo", v1::REMINDER_KIND_MID_QUARTER_REVIEW,
                   "cyc-2027-q1");
  const PublishOutcome outcome = PublishOk("acme", reminder);
  ASSERT_TRUE(outcome.published);

  const std::vector<StreamEntry> read = ParseRead(
      Raw({"XREADGROUP", "GROUP", "g", "c1", "COUNT", "10", "STREAMS", stream, ">"}));
  ASSERT_EQ(read.size(), 1u);
  const StreamEntry& entry = read[0];
  EXPECT_EQ(entry.entry_id, outcome.stream_entry_id);
  EXPECT_EQ(entry.fields.size(), 5u);
  EXPECT_EQ(entry.fields.at("id"), "rem-000000000002");
  EXPECT_EQ(entry.fields.at("kind"), "REMINDER_KIND_MID_QUARTER_REVIEW");
  EXPECT_EQ(entry.fields.at("recipient_id"), "person-bo");
  EXPECT_EQ(entry.fields.at("window_key"), "cyc-2027-q1");
  EXPECT_TRUE(SameReminder(ParseJson(entry.fields.at("json")), reminder));

  // Read but not acknowledged: pending for c1 until XACK.
  RedisReply pending = Raw({"XPENDING", stream, "g"});
  ASSERT_EQ(pending.kind, Kind::kArray) << pending.DebugString();
  EXPECT_EQ(pending.elements[0].integer, 1);
  EXPECT_EQ(Raw({"XACK", stream, "g", entry.entry_id}).integer, 1);
  pending = Raw({"XPENDING", stream, "g"});
  EXPECT_EQ(pending.elements[0].integer, 0) << pending.DebugString();
  // Nothing new for the group either.
  EXPECT_TRUE(ParseRead(Raw({"XREADGROUP", "GROUP", "g", "c1", "COUNT", "10", "STREAMS",
                             stream, ">"}))
                  .empty());
}

TEST_F(ReminderPublisherTest, AnotherConsumerClaimsWhatADeadOneLeftPending) {
  const std::string stream = ReminderPublisher::StreamKey("acme");
  EXPECT_EQ(Raw({"XGROUP", "CREATE", stream, "g", "0", "MKSTREAM"}).str, "OK");
  const v1::Reminder reminder = MakeReminder("rem-000000000003");
  const PublishOutcome outcome = PublishOk("acme", reminder);
  ASSERT_TRUE(outcome.published);

  {
    // c1 reads the entry on its own connection, then dies without XACK.
    OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Hiredis> doomed,
                             Hiredis::Connect(server_->port()));
    OKR_ASSERT_OK_AND_ASSIGN(RedisReply read,
                             doomed->Command({"XREADGROUP", "GROUP", "g", "c1", "COUNT",
                                              "10", "STREAMS", stream, ">"}));
    ASSERT_EQ(ParseRead(read).size(), 1u);
  }

  // Too fresh to claim under a long min-idle-time: c1 might still be alive.
  RedisReply early = Raw({"XAUTOCLAIM", stream, "g", "c2", "60000", "0-0"});
  ASSERT_EQ(early.kind, Kind::kArray) << early.DebugString();
  EXPECT_TRUE(early.elements[1].elements.empty()) << early.DebugString();

  absl::SleepFor(absl::Milliseconds(30));
  RedisReply claimed = Raw({"XAUTOCLAIM", stream, "g", "c2", "10", "0-0"});
  ASSERT_EQ(claimed.kind, Kind::kArray) << claimed.DebugString();
  ASSERT_GE(claimed.elements.size(), 2u) << claimed.DebugString();
  ASSERT_EQ(claimed.elements[1].elements.size(), 1u) << claimed.DebugString();
  const StreamEntry entry = ParseEntry(claimed.elements[1].elements[0]);
  EXPECT_EQ(entry.entry_id, outcome.stream_entry_id);
  EXPECT_EQ(entry.fields.at("id"), "rem-000000000003");
  EXPECT_TRUE(SameReminder(ParseJson(entry.fields.at("json")), reminder));

  // Now pending for c2, delivered twice; c2 acknowledges it.
  RedisReply detail = Raw({"XPENDING", stream, "g", "-", "+", "10"});
  ASSERT_EQ(detail.elements.size(), 1u) << detail.DebugString();
  EXPECT_EQ(detail.elements[0].elements[1].str, "c2");
  EXPECT_EQ(detail.elements[0].elements[3].integer, 2);
  EXPECT_EQ(Raw({"XACK", stream, "g", entry.entry_id}).integer, 1);
  EXPECT_EQ(Raw({"XPENDING", stream, "g"}).elements[0].integer, 0);
}

TEST_F(ReminderPublisherTest, TheSameReminderIdIsPublishedOnce) {
  std::unique_ptr<Hiredis> subscriber = Subscribe("acme", absl::Milliseconds(300));
  ASSERT_NE(subscriber, nullptr);
  const v1::Reminder reminder = MakeReminder("rem-000000000004");

  const PublishOutcome first = PublishOk("acme", reminder);
  EXPECT_TRUE(first.published);
  const PublishOutcome second = PublishOk("acme", reminder);
  EXPECT_FALSE(second.published);
  EXPECT_EQ(second.stream_entry_id, "");
  EXPECT_EQ(second.subscribers, 0);
  EXPECT_EQ(StreamLength("acme"), 1);

  // One message on the channel, not two.
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply message, subscriber->NextMessage());
  EXPECT_EQ(message.elements.size(), 3u);
  absl::StatusOr<RedisReply> another = subscriber->NextMessage();
  EXPECT_EQ(another.status().code(), absl::StatusCode::kDeadlineExceeded)
      << (another.ok() ? another->DebugString() : another.status().ToString());

  // A different id in the same window is another reminder.
  EXPECT_TRUE(PublishOk("acme", MakeReminder("rem-000000000005")).published);
  EXPECT_EQ(StreamLength("acme"), 2);
}

TEST_F(ReminderPublisherTest, ConcurrentPublishersOfOneIdPublishItOnce) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 15;
  for (int round = 0; round < kRounds; ++round) {
    const v1::Reminder reminder = MakeReminder(absl::StrCat("rem-race-", round));
    std::atomic<int> published{0};
    std::atomic<int> failed{0};
    absl::Barrier* start = new absl::Barrier(kThreads);  // deleted by the last waiter
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, start] {
        if (start->Block()) delete start;
        absl::StatusOr<PublishOutcome> outcome = publisher_->Publish("acme", reminder);
        if (!outcome.ok()) {
          failed.fetch_add(1);
        } else if (outcome->published) {
          published.fetch_add(1);
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(failed.load(), 0) << "round " << round;
    EXPECT_EQ(published.load(), 1) << "round " << round;
  }
  EXPECT_EQ(StreamLength("acme"), kRounds);
}

TEST_F(ReminderPublisherTest, OrganisationsKeepToTheirOwnKeysAndChannels) {
  std::unique_ptr<Hiredis> listener_a = Subscribe("org-a", absl::Milliseconds(300));
  ASSERT_NE(listener_a, nullptr);
  ASSERT_TRUE(PublishOk("org-a", MakeReminder("rem-a-1")).published);
  ASSERT_TRUE(PublishOk("org-b", MakeReminder("rem-b-1")).published);
  ASSERT_TRUE(PublishOk("org-b", MakeReminder("rem-b-2")).published);
  // Reminder ids are the marker's namespace only within an organisation.
  ASSERT_TRUE(PublishOk("org-a", MakeReminder("rem-b-2")).published);

  // Every key lives under its organisation's prefix and mentions only its
  // own reminders.
  const RedisReply keys = Raw({"KEYS", "*"});
  ASSERT_EQ(keys.elements.size(), 6u) << keys.DebugString();  // 2 streams, 4 markers
  for (const RedisReply& key : keys.elements) {
    const bool of_a = absl::StartsWith(key.str, "okr:{org-a}:");
    const bool of_b = absl::StartsWith(key.str, "okr:{org-b}:");
    EXPECT_TRUE(of_a != of_b) << key.str;
    if (absl::StrContains(key.str, "reminder-sent")) {
      EXPECT_TRUE(of_a ? (absl::EndsWith(key.str, "rem-a-1") ||
                          absl::EndsWith(key.str, "rem-b-2"))
                       : absl::StrContains(key.str, "rem-b-"))
          << key.str;
    }
  }
  auto ids_in = [&](absl::string_view org) {
    std::vector<std::string> ids;
    for (const StreamEntry& entry : ParseRead(Raw(
             {"XREAD", "COUNT", "100", "STREAMS", ReminderPublisher::StreamKey(org), "0"}))) {
      ids.push_back(entry.fields.at("id"));
      EXPECT_EQ(ParseJson(entry.fields.at("json")).id(), entry.fields.at("id"));
    }
    return ids;
  };
  EXPECT_THAT(ids_in("org-a"), ElementsAre("rem-a-1", "rem-b-2"));
  EXPECT_THAT(ids_in("org-b"), ElementsAre("rem-b-1", "rem-b-2"));

  // org-a's listener hears org-a's two reminders and nothing of org-b's.
  std::vector<std::string> heard;
  for (int i = 0; i < 2; ++i) {
    OKR_ASSERT_OK_AND_ASSIGN(RedisReply message, listener_a->NextMessage());
    ASSERT_EQ(message.elements.size(), 3u);
    heard.push_back(ParseJson(message.elements[2].str).id());
  }
  EXPECT_THAT(heard, ElementsAre("rem-a-1", "rem-b-2"));
  EXPECT_EQ(listener_a->NextMessage().status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(ReminderPublisherTest, TheMarkerExpiresAfterItsTtl) {
  ReminderPublisher short_lived(client_.get(), {.marker_ttl = absl::Milliseconds(200)});
  const v1::Reminder reminder = MakeReminder("rem-000000000006");
  OKR_ASSERT_OK_AND_ASSIGN(PublishOutcome first, short_lived.Publish("acme", reminder));
  EXPECT_TRUE(first.published);
  const int64_t pttl = Raw({"PTTL", "okr:{acme}:reminder-sent:rem-000000000006"}).integer;
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 200);

  // The default lives for weeks.
  ASSERT_TRUE(PublishOk("acme", MakeReminder("rem-000000000007")).published);
  EXPECT_GT(Raw({"PTTL", "okr:{acme}:reminder-sent:rem-000000000007"}).integer,
            absl::ToInt64Milliseconds(absl::Hours(24 * 59)));

  absl::SleepFor(absl::Milliseconds(400));
  OKR_ASSERT_OK_AND_ASSIGN(PublishOutcome again, short_lived.Publish("acme", reminder));
  EXPECT_TRUE(again.published);
  EXPECT_EQ(StreamLength("acme"), 3);
}

TEST_F(ReminderPublisherTest, TheStreamIsCappedApproximately) {
  ReminderPublisher capped(client_.get(), {.stream_max_length = 10});
  constexpr int kReminders = 600;
  for (int i = 0; i < kReminders; ++i) {
    absl::StatusOr<PublishOutcome> outcome =
        capped.Publish("acme", MakeReminder(absl::StrCat("rem-cap-", i)));
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    ASSERT_TRUE(outcome->published);
  }
  // "~" trims whole stream nodes (100 entries by default): at least the cap
  // stays, far fewer than were added.
  const int64_t length = StreamLength("acme");
  EXPECT_GE(length, 10);
  EXPECT_LT(length, kReminders / 2);
  // The newest entries are the ones kept.
  const RedisReply last = Raw({"XREVRANGE", ReminderPublisher::StreamKey("acme"), "+", "-",
                               "COUNT", "1"});
  ASSERT_EQ(last.elements.size(), 1u);
  EXPECT_EQ(ParseEntry(last.elements[0]).fields.at("id"),
            absl::StrCat("rem-cap-", kReminders - 1));
}

TEST_F(ReminderPublisherTest, AStreamKeyOfAnotherTypeChangesNothing) {
  const std::string stream = ReminderPublisher::StreamKey("acme");
  EXPECT_EQ(Raw({"SET", stream, "not a stream"}).str, "OK");
  const v1::Reminder reminder = MakeReminder("rem-000000000008");
  absl::StatusOr<PublishOutcome> refused = publisher_->Publish("acme", reminder);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition)
      << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("WRONGTYPE"));
  // The marker was not set, so once the key is fixed the reminder goes out.
  EXPECT_EQ(Raw({"EXISTS", "okr:{acme}:reminder-sent:rem-000000000008"}).integer, 0);
  EXPECT_EQ(Raw({"DEL", stream}).integer, 1);
  EXPECT_TRUE(PublishOk("acme", reminder).published);
  EXPECT_EQ(StreamLength("acme"), 1);
}

TEST_F(ReminderPublisherTest, RunsByShaAndSurvivesAScriptFlush) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(PublishOk("acme", MakeReminder(absl::StrCat("rem-sha-", i))).published);
  }
  // One EVAL filled the script cache; every call went out as EVALSHA, which
  // proves the SHA-1 sent is the script's.
  EXPECT_EQ(CommandCalls("evalsha"), 3);
  EXPECT_EQ(CommandCalls("eval"), 1);

  // As after a Redis failover: the script cache is empty.
  EXPECT_EQ(Raw({"SCRIPT", "FLUSH"}).str, "OK");
  EXPECT_TRUE(PublishOk("acme", MakeReminder("rem-sha-3")).published);
  EXPECT_FALSE(PublishOk("acme", MakeReminder("rem-sha-3")).published);
  EXPECT_EQ(CommandCalls("eval"), 2);
  EXPECT_EQ(StreamLength("acme"), 4);
}

TEST_F(ReminderPublisherTest, PublishManySendsPipelinesAndPublishesEachIdOnce) {
  ReminderPublisher pipelined(client_.get(), {.pipeline_depth = 3});
  // rem-many-2 and rem-many-5 were published before.
  ASSERT_TRUE(PublishOk("acme", MakeReminder("rem-many-2")).published);
  ASSERT_TRUE(PublishOk("acme", MakeReminder("rem-many-5")).published);
  const int64_t evalsha_before = CommandCalls("evalsha");
  std::vector<v1::Reminder> reminders;
  for (int i = 0; i < 10; ++i) reminders.push_back(MakeReminder(absl::StrCat("rem-many-", i)));
  reminders[7].set_id("");  // refused before Redis, takes no slot
  std::vector<const v1::Reminder*> pointers;
  for (const v1::Reminder& reminder : reminders) pointers.push_back(&reminder);

  std::vector<absl::StatusOr<PublishOutcome>> outcomes = pipelined.PublishMany("acme", pointers);
  ASSERT_EQ(outcomes.size(), reminders.size());
  std::set<std::string> entries;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (i == 7) {
      EXPECT_EQ(outcomes[i].status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    ASSERT_TRUE(outcomes[i].ok()) << i << ": " << outcomes[i].status();
    EXPECT_EQ(outcomes[i]->published, i != 2 && i != 5) << i;
    if (outcomes[i]->published) entries.insert(outcomes[i]->stream_entry_id);
  }
  EXPECT_EQ(entries.size(), 7u);  // distinct stream entries
  EXPECT_EQ(CommandCalls("evalsha") - evalsha_before, 9);  // one script each
  EXPECT_EQ(StreamLength("acme"), 9);

  // Again: nothing new reaches the stream.
  outcomes = pipelined.PublishMany("acme", pointers);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (i == 7) continue;
    ASSERT_TRUE(outcomes[i].ok()) << i << ": " << outcomes[i].status();
    EXPECT_FALSE(outcomes[i]->published) << i;
  }
  EXPECT_EQ(StreamLength("acme"), 9);
}

TEST_F(ReminderPublisherTest, PublishManyRefillsAnEmptyScriptCacheWithOneEval) {
  ASSERT_TRUE(PublishOk("acme", MakeReminder("rem-cache-0")).published);
  EXPECT_EQ(Raw({"SCRIPT", "FLUSH"}).str, "OK");
  const int64_t eval_before = CommandCalls("eval");
  ReminderPublisher pipelined(client_.get(), {.pipeline_depth = 4});
  std::vector<v1::Reminder> reminders;
  for (int i = 0; i < 6; ++i) reminders.push_back(MakeReminder(absl::StrCat("rem-cache-", i)));
  std::vector<const v1::Reminder*> pointers;
  for (const v1::Reminder& reminder : reminders) pointers.push_back(&reminder);
  std::vector<absl::StatusOr<PublishOutcome>> outcomes = pipelined.PublishMany("acme", pointers);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    ASSERT_TRUE(outcomes[i].ok()) << i << ": " << outcomes[i].status();
    EXPECT_EQ(outcomes[i]->published, i != 0) << i;
  }
  EXPECT_EQ(CommandCalls("eval") - eval_before, 1);
  EXPECT_EQ(StreamLength("acme"), 6);
}

// Redis refuses writes past maxmemory: the scripts that ran are published,
// the others fail alone (nothing of theirs applied) and publish on a retry.
TEST_F(ReminderPublisherTest, PublishManyWhenRedisFillsUpMidwayFailsOnlyTheRest) {
  ReminderPublisher pipelined(client_.get(), {.pipeline_depth = 8});
  std::vector<v1::Reminder> reminders;
  for (int i = 0; i < 200; ++i) {
    v1::Reminder reminder = MakeReminder(absl::StrCat("rem-full-", i));
    reminder.set_text(std::string(2000, 'x'));  // about 2 KB an entry
    reminders.push_back(std::move(reminder));
  }
  std::vector<const v1::Reminder*> pointers;
  for (const v1::Reminder& reminder : reminders) pointers.push_back(&reminder);
  const RedisReply info = Raw({"INFO", "memory"});
  int64_t used = 0;
  for (absl::string_view line : absl::StrSplit(info.str, "\r\n")) {
    if (absl::ConsumePrefix(&line, "used_memory:")) {
      ASSERT_TRUE(absl::SimpleAtoi(line, &used));
    }
  }
  ASSERT_GT(used, 0);
  Raw({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  // Room for some 50 of the 200 entries (client buffers take some too).
  Raw({"CONFIG", "SET", "maxmemory", absl::StrCat(used + 150 * 1024)});

  std::vector<absl::StatusOr<PublishOutcome>> outcomes = pipelined.PublishMany("acme", pointers);
  int published = 0;
  std::vector<const v1::Reminder*> failed;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].ok()) {
      EXPECT_TRUE(outcomes[i]->published) << i;
      ++published;
    } else {
      EXPECT_THAT(outcomes[i].status().message(), HasSubstr("OOM")) << i << ": " << outcomes[i].status();
      failed.push_back(pointers[i]);
    }
  }
  ASSERT_GT(published, 0);
  ASSERT_FALSE(failed.empty());
  EXPECT_EQ(StreamLength("acme"), published);

  Raw({"CONFIG", "SET", "maxmemory", "0"});
  // The retry of everything publishes exactly the ones that failed.
  outcomes = pipelined.PublishMany("acme", pointers);
  int again = 0;
  for (const auto& outcome : outcomes) {
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    again += outcome->published ? 1 : 0;
  }
  EXPECT_EQ(again, static_cast<int>(failed.size()));
  EXPECT_EQ(StreamLength("acme"), 200);
}

TEST_F(ReminderPublisherTest, RedisDownIsUnavailableQuicklyAndARestartHeals) {
  ASSERT_TRUE(PublishOk("acme", MakeReminder("rem-before")).published);
  OKR_ASSERT_OK(server_->Stop());

  for (int attempt = 0; attempt < 3; ++attempt) {
    const absl::Time start = absl::Now();
    absl::StatusOr<PublishOutcome> down =
        publisher_->Publish("acme", MakeReminder("rem-during"));
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
    EXPECT_THAT(down.status().message(), HasSubstr("rem-during"));
    EXPECT_LT(took, absl::Seconds(2)) << "attempt " << attempt;
  }

  OKR_ASSERT_OK(server_->Restart());
  // The pool's connections to the old server fail once each and reconnect.
  absl::StatusOr<PublishOutcome> after = absl::UnavailableError("not tried");
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    after = publisher_->Publish("acme", MakeReminder("rem-during"));
    if (after.ok()) break;
    EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable) << after.status();
    absl::SleepFor(absl::Milliseconds(60));
  }
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->published);
  EXPECT_FALSE(PublishOk("acme", MakeReminder("rem-during")).published);

  // The restarted server lost everything (no persistence): only the new entry.
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Hiredis> fresh, Hiredis::Connect(server_->port()));
  OKR_ASSERT_OK_AND_ASSIGN(RedisReply length,
                           fresh->Command({"XLEN", ReminderPublisher::StreamKey("acme")}));
  EXPECT_EQ(length.integer, 1);
}

}  // namespace
}  // namespace okr::notify
