#include "services/notify/reminder_publisher.h"

#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
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

// --- Fast proto3 JSON of a reminder ---------------------------------------------
// MessageToJsonString goes through a binary round trip and a type resolver:
// about 100 us a reminder, which is most of a 100,000-owner run. This writer
// produces the same bytes for the messages it accepts (same field order,
// names, omitted defaults, enum names, timestamps and string escapes; the
// tests compare the two on every case below) and declines the rare rest:
// strings that are not valid UTF-8 or hold a code point protobuf escapes as
// \uXXXX beyond ASCII, enum values without a name, timestamps out of range,
// unknown fields. ToJson then falls back to MessageToJsonString. It knows
// Reminder, DueItem, ResourceRef and Timestamp field by field; a test fails
// when one of them gains a field.

// Whether protobuf's JSON writer escapes this non-ASCII code point (it
// escapes C1 controls and invisible formatting characters).
bool EscapedBeyondAscii(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0xad || (cp >= 0x600 && cp <= 0x603) ||
         cp == 0x6dd || cp == 0x70f || cp == 0x17b4 || cp == 0x17b5 ||
         (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff ||
         (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0x1d173 && cp <= 0x1d17a) || cp == 0xe0001 ||
         (cp >= 0xe0020 && cp <= 0xe007f);
}

// Appends `text` as a JSON string; false when it declines (see above).
bool AppendJsonString(absl::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\b': out->append("\\b"); break;
        case '\t': out->append("\\t"); break;
        case '\n': out->append("\\n"); break;
        case '\f': out->append("\\f"); break;
        case '\r': out->append("\\r"); break;
        case '<': out->append("\\u003c"); break;
        case '>': out->append("\\u003e"); break;
        default:
          if (c < 0x20 || c == 0x7f) {
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 0xf]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++p;
      continue;
    }
    // A UTF-8 sequence: copied as is when valid and not escaped by protobuf.
    int length = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < length) return false;
    for (int i = 1; i < length; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are not UTF-8.
    if ((length == 3 && cp < 0x800) || (length == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || EscapedBeyondAscii(cp)) {
      return false;
    }
    out->append(reinterpret_cast<const char*>(p), length);
    p += length;
  }
  out->push_back('"');
  return true;
}

// Appends ,"name": (the comma unless first).
void AppendName(absl::string_view name, bool* first, std::string* out) {
  if (!*first) out->push_back(',');
  *first = false;
  out->push_back('"');
  out->append(name.data(), name.size());
  out->append("\":");
}

bool AppendStringField(absl::string_view name, const std::string& value, bool* first,
                       std::string* out) {
  if (value.empty()) return true;
  AppendName(name, first, out);
  return AppendJsonString(value, out);
}

// `text` is the enum value's name, empty when it has none.
bool AppendEnumField(absl::string_view name, int value, const std::string& text, bool* first,
                     std::string* out) {
  if (value == 0) return true;
  if (text.empty()) return false;  // protobuf writes the number
  AppendName(name, first, out);
  out->push_back('"');
  out->append(text);
  out->push_back('"');
  return true;
}

// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf writes it.
bool AppendTimestampField(absl::string_view name, const google::protobuf::Timestamp& time,
                          bool* first, std::string* out) {
  // Years before 1000 are left to protobuf, which pads them to four digits.
  constexpr int64_t kMinSeconds = -30610224000;  // 1000-01-01T00:00:00Z
  constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
  if (time.seconds() < kMinSeconds || time.seconds() > kMaxSeconds || time.nanos() < 0 ||
      time.nanos() > 999999999) {
    return false;
  }
  AppendName(name, first, out);
  out->push_back('"');
  out->append(absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(time.seconds()),
                               absl::UTCTimeZone()));
  const int nanos = time.nanos();
  if (nanos != 0) {
    if (nanos % 1000000 == 0) {
      absl::StrAppend(out, ".", absl::Dec(nanos / 1000000, absl::kZeroPad3));
    } else if (nanos % 1000 == 0) {
      absl::StrAppend(out, ".", absl::Dec(nanos / 1000, absl::kZeroPad6));
    } else {
      absl::StrAppend(out, ".", absl::Dec(nanos, absl::kZeroPad9));
    }
  }
  out->append("Z\"");
  return true;
}

bool HasUnknownFields(const google::protobuf::Message& message) {
  return !message.GetReflection()->GetUnknownFields(message).empty();
}

// The reminder's proto3 JSON, or nullopt when the writer declines.
std::optional<std::string> FastReminderJson(const v1::Reminder& reminder) {
  if (HasUnknownFields(reminder)) return std::nullopt;
  std::string out;
  out.reserve(256 + 192 * reminder.due_items_size() + reminder.text().size());
  out.push_back('{');
  bool first = true;
  bool ok = AppendStringField("id", reminder.id(), &first, &out) &&
            AppendStringField("recipientId", reminder.recipient_id(), &first, &out) &&
            AppendStringField("recipientName", reminder.recipient_name(), &first, &out) &&
            AppendEnumField("kind", reminder.kind(), v1::ReminderKind_Name(reminder.kind()),
                            &first, &out) &&
            AppendStringField("windowKey", reminder.window_key(), &first, &out);
  if (ok && reminder.due_items_size() > 0) {
    AppendName("dueItems", &first, &out);
    out.push_back('[');
    for (int i = 0; ok && i < reminder.due_items_size(); ++i) {
      const v1::DueItem& item = reminder.due_items(i);
      if (HasUnknownFields(item)) return std::nullopt;
      if (i > 0) out.push_back(',');
      out.push_back('{');
      bool item_first = true;
      if (item.has_target()) {
        const v1::ResourceRef& target = item.target();
        if (HasUnknownFields(target)) return std::nullopt;
        AppendName("target", &item_first, &out);
        out.push_back('{');
        bool target_first = true;
        ok = AppendEnumField("kind", target.kind(), v1::ResourceKind_Name(target.kind()),
                             &target_first, &out) &&
             AppendStringField("id", target.id(), &target_first, &out);
        out.push_back('}');
      }
      ok = ok && AppendStringField("title", item.title(), &item_first, &out) &&
           AppendStringField("detail", item.detail(), &item_first, &out) &&
           (!item.has_last_check_in_time() ||
            AppendTimestampField("lastCheckInTime", item.last_check_in_time(), &item_first,
                                 &out));
      out.push_back('}');
    }
    out.push_back(']');
  }
  ok = ok && AppendStringField("text", reminder.text(), &first, &out) &&
       AppendStringField("teamId", reminder.team_id(), &first, &out) &&
       (!reminder.has_due_time() ||
        AppendTimestampField("dueTime", reminder.due_time(), &first, &out)) &&
       (!reminder.has_publish_time() ||
        AppendTimestampField("publishTime", reminder.publish_time(), &first, &out));
  if (!ok) return std::nullopt;
  out.push_back('}');
  return out;
}

// The proto3 JSON of `reminder`; fails on what proto3 JSON cannot express
// (a timestamp outside years 1-9999, nanos out of range).
absl::StatusOr<std::string> ToJson(const v1::Reminder& reminder) {
  if (std::optional<std::string> fast = FastReminderJson(reminder); fast.has_value()) {
    return *std::move(fast);
  }
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
  const v1::Reminder* const one[] = {&reminder};
  return std::move(PublishMany(organisation_id, one).front());
}

std::vector<absl::StatusOr<PublishOutcome>> ReminderPublisher::PublishMany(
    absl::string_view organisation_id, absl::Span<const v1::Reminder* const> reminders) {
  std::vector<absl::StatusOr<PublishOutcome>> outcomes(reminders.size(),
                                                       absl::UnknownError("not published"));
  absl::Status refused;
  if (organisation_id.empty()) refused = absl::InvalidArgumentError("organisation_id: required");
  const int64_t ttl_ms = absl::ToInt64Milliseconds(options_.marker_ttl);
  if (refused.ok() && ttl_ms < 1) {
    refused = absl::InvalidArgumentError(
        absl::StrCat("ReminderPublisherOptions.marker_ttl: must be at least 1ms, not ",
                     absl::FormatDuration(options_.marker_ttl)));
  }
  if (refused.ok() && options_.stream_max_length < 1) {
    refused = absl::InvalidArgumentError(
        absl::StrCat("ReminderPublisherOptions.stream_max_length: must be positive, not ",
                     options_.stream_max_length));
  }
  if (refused.ok() && options_.pipeline_depth < 1) {
    refused = absl::InvalidArgumentError(
        absl::StrCat("ReminderPublisherOptions.pipeline_depth: must be positive, not ",
                     options_.pipeline_depth));
  }
  if (!refused.ok()) {
    for (auto& outcome : outcomes) outcome = refused;
    return outcomes;
  }

  const std::string stream = StreamKey(organisation_id);
  const std::string channel = ChannelName(organisation_id);
  const std::string ttl = absl::StrCat(ttl_ms);
  const std::string max_length = absl::StrCat(options_.stream_max_length);
  const std::string key_count = "2";
  const RedisScript& script = PublishScript();

  // What one reminder's script call needs beside the shared arguments.
  struct Call {
    size_t index;  // into reminders / outcomes
    std::string marker;
    std::string kind;
    std::string json;
  };
  // Appends the script call of `call` (EVAL with the source, else EVALSHA).
  auto add = [&](RedisPipeline& pipeline, const Call& call, bool with_source) {
    const v1::Reminder& reminder = *reminders[call.index];
    const absl::string_view command[] = {with_source ? "EVAL" : "EVALSHA",
                                         with_source ? script.source() : script.sha1(),
                                         key_count,
                                         call.marker,
                                         stream,
                                         ttl,
                                         max_length,
                                         channel,
                                         reminder.id(),
                                         call.kind,
                                         reminder.recipient_id(),
                                         reminder.window_key(),
                                         call.json};
    pipeline.Add(command);
  };
  auto failed = [&](const Call& call, const absl::Status& status) {
    outcomes[call.index] = PublishFailed(
        absl::Status(status.code(), absl::StrCat("publishing reminder ", reminders[call.index]->id(),
                                                 " to ", stream, ": ", status.message())));
  };

  absl::Status unavailable;
  std::vector<Call> calls;
  size_t next = 0;
  while (next < reminders.size()) {
    // The next round trip's calls; refusals before Redis take no slot.
    calls.clear();
    for (; next < reminders.size() &&
           static_cast<int>(calls.size()) < options_.pipeline_depth;
         ++next) {
      const v1::Reminder& reminder = *reminders[next];
      if (reminder.id().empty()) {
        outcomes[next] = absl::InvalidArgumentError(
            "reminder.id: required (the id is what makes publishing happen once)");
        continue;
      }
      absl::StatusOr<std::string> json = ToJson(reminder);
      if (!json.ok()) {
        outcomes[next] = json.status();
        continue;
      }
      calls.push_back(
          {next, MarkerKey(organisation_id, reminder.id()), KindName(reminder.kind()), *json});
    }
    if (calls.empty()) continue;
    if (!unavailable.ok()) {
      for (const Call& call : calls) failed(call, unavailable);
      continue;
    }
    RedisPipeline pipeline;
    for (const Call& call : calls) add(pipeline, call, /*with_source=*/false);
    absl::StatusOr<std::vector<RedisReply>> replies = redis_->Execute(pipeline);
    if (replies.ok()) {
      // An empty script cache (Redis restarted, failed over, SCRIPT FLUSH)
      // answers NOSCRIPT without running anything: send those again, the
      // first as EVAL, which caches the script for the EVALSHAs after it.
      std::vector<size_t> again;
      for (size_t i = 0; i < calls.size(); ++i) {
        if ((*replies)[i].is_error() && absl::StartsWith((*replies)[i].str, "NOSCRIPT")) {
          again.push_back(i);
        }
      }
      if (!again.empty()) {
        RedisPipeline retry;
        for (size_t i = 0; i < again.size(); ++i) add(retry, calls[again[i]], i == 0);
        absl::StatusOr<std::vector<RedisReply>> retried = redis_->Execute(retry);
        if (!retried.ok()) {
          replies = retried.status();
        } else {
          for (size_t i = 0; i < again.size(); ++i) {
            (*replies)[again[i]] = std::move((*retried)[i]);
          }
        }
      }
    }
    if (!replies.ok()) {
      for (const Call& call : calls) failed(call, replies.status());
      if (replies.status().code() == absl::StatusCode::kUnavailable) {
        unavailable = replies.status();
      }
      continue;
    }
    for (size_t i = 0; i < calls.size(); ++i) {
      const Call& call = calls[i];
      RedisReply& reply = (*replies)[i];
      if (reply.is_error()) {
        failed(call, reply.ToStatus());
        continue;
      }
      PublishOutcome outcome;
      if (reply.is_nil()) {  // published before: the marker was there
        outcomes[call.index] = std::move(outcome);
        continue;
      }
      if (reply.kind != RedisReply::Kind::kArray || reply.elements.size() != 2 ||
          reply.elements[0].kind != RedisReply::Kind::kString ||
          reply.elements[1].kind != RedisReply::Kind::kInteger) {
        outcomes[call.index] = PublishFailed(absl::InternalError(
            absl::StrCat("publishing reminder ", reminders[call.index]->id(),
                         ": the script answered ", reply.DebugString(),
                         " instead of {entry id, subscribers}")));
        continue;
      }
      outcome.published = true;
      outcome.stream_entry_id = std::move(reply.elements[0].str);
      outcome.subscribers = reply.elements[1].integer;
      outcomes[call.index] = std::move(outcome);
    }
  }
  return outcomes;
}

std::string ReminderJson(const v1::Reminder& reminder) {
  absl::StatusOr<std::string> json = ToJson(reminder);
  return json.ok() ? *std::move(json) : std::string();
}

}  // namespace okr::notify
