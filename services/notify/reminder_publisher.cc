#include "services/notify/reminder_publisher.h"

#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "common/redis_script.h"
#include "okr/v1/notify.pb.h"

namespace okr::notify {
namespace {

// KEYS[1] the marker, KEYS[2] the stream. ARGV: marker TTL (ms), MAXLEN,
// channel, then the entry's id, kind, recipient_id, window_key and json.
// Returns {entry id, subscribers}, or nil when the marker already existed.
//
// Redis runs a script to completion before serving anyone else, which makes
// "mark, append, announce" one step for every other client, including a
// second publisher of the same id. Redis does not roll a script back,
// though, so the only command that can still fail after the marker is set
// must not: a stream key of another type is refused before SET (else the
// marker would be set and the reminder never appended), and OOM is raised at
// a script's first write (the SET), before anything changed.
constexpr absl::string_view kPublishScript = R"lua(
local stream_type = redis.call('TYPE', KEYS[2])['ok']
if stream_type ~= 'none' and stream_type ~= 'stream' then
  return redis.error_reply('WRONGTYPE reminder stream ' .. KEYS[2] .. ' holds a ' ..
                           stream_type .. ', not a stream')
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return false
end
local entry = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*',
                         'id', ARGV[4], 'kind', ARGV[5], 'recipient_id', ARGV[6],
                         'window_key', ARGV[7], 'json', ARGV[8])
local subscribers = redis.call('PUBLISH', ARGV[3], ARGV[8])
return {entry, subscribers}
)lua";

// Counts a publication Redis failed (okr_reminder_publish_errors_total{code})
// and passes `status` on; refusals before any Redis call are not counted.
absl::Status PublishFailed(absl::Status status) {
  static metrics::CounterFamily& errors = metrics::Default().AddCounter(
      "okr_reminder_publish_errors_total",
      "Reminder publications to Redis that failed (retried by the next run), by status code.",
      {"code"});
  errors.WithLabels({absl::StatusCodeToString(status.code())}).Increment();
  return status;
}

const RedisScript& PublishScript() {
  static const RedisScript* const kScript = new RedisScript(kPublishScript);
  return *kScript;
}

// The proto3 JSON of `reminder`; fails on what proto3 JSON cannot express
// (a timestamp outside years 1-9999, nanos out of range).
absl::StatusOr<std::string> ToJson(const v1::Reminder& reminder) {
  std::string json;
  // Default options: compact (one line), lowerCamelCase names, defaults
  // omitted, enums by name: canonical proto3 JSON any consumer can parse.
  const auto status = google::protobuf::util::MessageToJsonString(reminder, &json);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reminder: cannot be written as proto3 JSON: ", status.ToString()));
  }
  return json;
}

std::string KindName(v1::ReminderKind kind) {
  const std::string& name = v1::ReminderKind_Name(kind);
  // A value from a newer peer has no name here; the number still tells it.
  return name.empty() ? absl::StrCat(static_cast<int>(kind)) : name;
}

std::string MarkerKey(absl::string_view organisation_id, absl::string_view reminder_id) {
  const absl::string_view parts[] = {"reminder-sent", reminder_id};
  return RedisKey(organisation_id, parts);
}

}  // namespace

ReminderPublisher::ReminderPublisher(RedisClient* redis, ReminderPublisherOptions options)
    : redis_(redis), options_(std::move(options)) {}

std::string ReminderPublisher::StreamKey(absl::string_view organisation_id) {
  const absl::string_view parts[] = {"reminders"};
  return RedisKey(organisation_id, parts);
}

std::string ReminderPublisher::ChannelName(absl::string_view organisation_id) {
  // The same text as the stream key: PUBLISH channels are not keys, so they
  // cannot collide, and one name per organisation is easy to find.
  return StreamKey(organisation_id);
}

absl::StatusOr<PublishOutcome> ReminderPublisher::Publish(absl::string_view organisation_id,
                                                          const v1::Reminder& reminder) {
  if (organisation_id.empty()) {
    return absl::InvalidArgumentError("organisation_id: required");
  }
  if (reminder.id().empty()) {
    return absl::InvalidArgumentError(
        "reminder.id: required (the id is what makes publishing happen once)");
  }
  const int64_t ttl_ms = absl::ToInt64Milliseconds(options_.marker_ttl);
  if (ttl_ms < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ReminderPublisherOptions.marker_ttl: must be at least 1ms, not ",
                     absl::FormatDuration(options_.marker_ttl)));
  }
  if (options_.stream_max_length < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ReminderPublisherOptions.stream_max_length: must be positive, not ",
                     options_.stream_max_length));
  }
  absl::StatusOr<std::string> json = ToJson(reminder);
  if (!json.ok()) return json.status();

  const std::string marker = MarkerKey(organisation_id, reminder.id());
  const std::string stream = StreamKey(organisation_id);
  const std::string channel = ChannelName(organisation_id);
  const std::string ttl = absl::StrCat(ttl_ms);
  const std::string max_length = absl::StrCat(options_.stream_max_length);
  const std::string kind = KindName(reminder.kind());
  const absl::string_view keys[] = {marker, stream};
  const absl::string_view args[] = {ttl,
                                    max_length,
                                    channel,
                                    reminder.id(),
                                    kind,
                                    reminder.recipient_id(),
                                    reminder.window_key(),
                                    *json};
  absl::StatusOr<RedisReply> reply = PublishScript().Run(*redis_, keys, args);
  if (!reply.ok()) {
    return PublishFailed(absl::Status(reply.status().code(),
                                      absl::StrCat("publishing reminder ", reminder.id(), " to ",
                                                   stream, ": ", reply.status().message())));
  }
  if (reply->is_error()) {
    const absl::Status status = reply->ToStatus();
    return PublishFailed(absl::Status(status.code(),
                                      absl::StrCat("publishing reminder ", reminder.id(), " to ",
                                                   stream, ": ", status.message())));
  }
  PublishOutcome outcome;
  if (reply->is_nil()) return outcome;  // published before: the marker was there
  if (reply->kind != RedisReply::Kind::kArray || reply->elements.size() != 2 ||
      reply->elements[0].kind != RedisReply::Kind::kString ||
      reply->elements[1].kind != RedisReply::Kind::kInteger) {
    return PublishFailed(absl::InternalError(
        absl::StrCat("publishing reminder ", reminder.id(), ": the script answered ",
                     reply->DebugString(), " instead of {entry id, subscribers}")));
  }
  outcome.published = true;
  outcome.stream_entry_id = std::move(reply->elements[0].str);
  outcome.subscribers = reply->elements[1].integer;
  return outcome;
}

std::string ReminderJson(const v1::Reminder& reminder) {
  absl::StatusOr<std::string> json = ToJson(reminder);
  return json.ok() ? *std::move(json) : std::string();
}

}  // namespace okr::notify
