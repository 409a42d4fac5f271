// Publishes reminders to Redis: PUBLISH on the organisation's channel for
// live listeners (at-most-once) and XADD to the organisation's stream for
// durable consumers, who read it with a consumer group (XREADGROUP, XACK, and
// XAUTOCLAIM for what a dead consumer left pending).
//
// Both happen in one Lua script together with SET NX of a per-reminder
// marker key, so a reminder id reaches the stream and the channel at most
// once however often it is published: a rerun after a crash, or two notify
// replicas retrying the same unpublished reminder, add nothing. The marker
// expires after `marker_ttl` (longer than any cadence window).
//
// PublishMany sends many reminders' scripts in pipelined round trips (one
// write and one read per `pipeline_depth` reminders instead of one each):
// every reminder still runs its own script, so the once-per-id guarantee and
// the atomicity of each reminder's "mark, append, announce" are those of
// Publish.
//
// Keys (common/redis.h's RedisKey, one hash slot per organisation):
//   stream   okr:{<org>}:reminders            entries: see StreamFields
//   channel  okr:{<org>}:reminders            (PUBLISH; channels and keys
//                                              live in separate namespaces)
//   marker   okr:{<org>}:reminder-sent:<id>
// A stream entry has the fields "id", "kind" (the enum name, e.g.
// "REMINDER_KIND_WEEKLY_CHECK_IN"), "recipient_id", "window_key" and "json"
// (the okr.v1.Reminder as proto3 JSON); a channel message is that JSON.
#ifndef OKR_SERVICES_NOTIFY_REMINDER_PUBLISHER_H_
#define OKR_SERVICES_NOTIFY_REMINDER_PUBLISHER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/redis.h"
#include "okr/v1/notify.pb.h"

namespace okr::notify {

struct ReminderPublisherOptions {
  // Approximate cap of each organisation's stream (XADD MAXLEN ~).
  int64_t stream_max_length = 100000;
  // How long the "already published" marker of a reminder lives.
  absl::Duration marker_ttl = absl::Hours(24 * 60);
  // Scripts per round trip in PublishMany. A few hundred keep Redis' reply
  // buffer and the time one round trip holds Redis small.
  int pipeline_depth = 256;
};

struct PublishOutcome {
  // False when the reminder had been published before (nothing was added).
  bool published = false;
  // The stream entry id XADD assigned; empty when not published.
  std::string stream_entry_id;
  // Subscribers the PUBLISH reached (0 is normal: nobody listening).
  int64_t subscribers = 0;
};

class ReminderPublisher {
 public:
  // `redis` is not owned and must outlive the publisher.
  ReminderPublisher(RedisClient* redis, ReminderPublisherOptions options = {});

  // Publishes `reminder` (id set) of `organisation_id` on the stream and the
  // channel, once per reminder id. UNAVAILABLE when Redis cannot be reached
  // (nothing or everything was applied: the script is atomic).
  // INVALID_ARGUMENT, before any Redis call, for an empty organisation or
  // reminder id, invalid options, or a timestamp proto3 JSON cannot hold;
  // FAILED_PRECONDITION when the stream key holds another type (nothing
  // applied, the marker included).
  absl::StatusOr<PublishOutcome> Publish(absl::string_view organisation_id,
                                         const v1::Reminder& reminder);

  // Publishes each of `reminders` as Publish does, `pipeline_depth` scripts
  // per round trip, and returns their outcomes in order. A refusal before
  // Redis (INVALID_ARGUMENT) or an error reply concerns its reminder only.
  // A round trip that fails in transport fails all of its reminders with
  // that status (Redis may have applied some of them: the markers make a
  // retry of those add nothing), and after an UNAVAILABLE the rest are not
  // sent but fail with the same status, since they would only wait out
  // their timeouts. INVALID_ARGUMENT for all when the organisation or the
  // options are invalid.
  std::vector<absl::StatusOr<PublishOutcome>> PublishMany(
      absl::string_view organisation_id, absl::Span<const v1::Reminder* const> reminders);

  // The organisation's stream key and channel name.
  static std::string StreamKey(absl::string_view organisation_id);
  static std::string ChannelName(absl::string_view organisation_id);

 private:
  RedisClient* const redis_;
  const ReminderPublisherOptions options_;
};

// The reminder as one line of proto3 JSON (the channel message and the
// stream's "json" field); empty when a timestamp is outside what proto3 JSON
// can express (Publish refuses such a reminder).
std::string ReminderJson(const v1::Reminder& reminder);

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_REMINDER_PUBLISHER_H_
