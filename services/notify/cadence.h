// The cadence rules of reminders, as pure functions: policy validation and
// inheritance, and the window each reminder kind is due in at an instant.
//
// A window is the span in which one reminder per recipient and kind is due,
// with the key the reminder is deduplicated by (okr.v1.Reminder.window_key):
//  - weekly check-in: from the latest policy weekday + local time at or
//    before now, for 7 civil days (common/calendar.h's WeeklyWindow, 167 or
//    169 hours across a DST change); keyed by the ISO 8601 week of the
//    window's first local day, "2027-W05" (ISO week-year: 2027-01-01, a
//    Friday, is in "2026-W53");
//  - mid-quarter review: due at the policy's local time on the cycle's
//    MidQuarterDay + offset_days, open until the cycle ends; keyed by the
//    cycle id;
//  - end-of-quarter review: due at the local time on the cycle's last day +
//    offset_days, open until its check-in grace ends (StartOfDay(end +
//    grace_days)); keyed by the cycle id;
//  - planning milestone: due from the start of its start day until the start
//    of its due day (common/calendar.h's PlanningTimeline), for the fiscal
//    year of now and the next one; keyed "FY<year>:<milestone id>".
// All local times are in the policy's time zone.
#ifndef OKR_SERVICES_NOTIFY_CADENCE_H_
#define OKR_SERVICES_NOTIFY_CADENCE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/calendar.h"
#include "common/model.h"
#include "okr/v1/notify.pb.h"

namespace okr::notify {

// Built-in defaults, used where neither a team nor the organisation says
// otherwise: weekly check-ins on MONDAY at 09:00, the mid-quarter review on
// its middle day (offset 0) and the end-of-quarter review 3 days before the
// last day (offset -3), both at 09:00, planning milestones on; every kind
// enabled.
inline constexpr int kDefaultHour = 9;
inline constexpr int kDefaultMidQuarterOffsetDays = 0;
inline constexpr int kDefaultEndOfQuarterOffsetDays = -3;
inline constexpr int kMaxOffsetDays = 45;

// Checks a policy as SetReminderPolicy receives it: time_zone empty or a
// known IANA zone (LoadZone), weekday UNSPECIFIED (default) or MONDAY..SUNDAY,
// local times 0..23 : 0..59, offset_days -45..45. INVALID_ARGUMENT naming
// the field under `prefix`, e.g. "policy.time_zone",
// "policy.weekly_check_in.local_time.hours",
// "policy.end_of_quarter_review.offset_days". team_id is not checked here.
absl::Status ValidatePolicy(const v1::ReminderPolicy& policy, absl::string_view prefix);

// The effective policy of a team (or of the organisation when team_id is
// empty): starting from the built-in defaults with the organisation's time
// zone, each policy of `chain` applied from the last to the first (the
// chain is nearest first: the team's, its parent team's, ..., the
// organisation's; absent levels are simply left out). A policy sets the
// sections it has (whole sections: an unset section inherits) and its
// time_zone when not empty. In the result every section is set, weekday and
// local times are explicit (defaults filled in), time_zone is set, team_id is
// `team_id`, version 0 and update_time unset.
v1::ReminderPolicy EffectivePolicy(const Organisation& organisation,
                                   absl::string_view team_id,
                                   absl::Span<const v1::ReminderPolicy* const> chain);

// A window a reminder is due in: [due, end), keyed.
struct DueWindow {
  absl::Time due;
  absl::Time end;
  std::string key;
};

// "2027-W05": the ISO 8601 week (and week-year) of `day`.
std::string IsoWeekKey(absl::CivilDay day);

// The weekly check-in window containing `now` under an effective policy's
// weekly section (weekday and local time explicit). INVALID_ARGUMENT for an
// unspecified weekday or an infinite `now`.
absl::StatusOr<DueWindow> WeeklyCheckInWindow(const v1::WeeklyCheckInPolicy& policy,
                                              absl::TimeZone zone, absl::Time now);

// The mid-quarter review window of `cycle` when `now` is inside it, else
// nullopt (also for an empty cycle period).
std::optional<DueWindow> MidQuarterReviewWindow(const v1::ReviewReminderPolicy& policy,
                                                const Cycle& cycle, absl::TimeZone zone,
                                                absl::Time now);

// The end-of-quarter review window of `cycle` when `now` is inside it, else
// nullopt. `grace_days` >= 0: the cycle's, else the organisation's, else
// kDefaultCheckInGraceDays (the caller resolves it).
std::optional<DueWindow> EndOfQuarterReviewWindow(const v1::ReviewReminderPolicy& policy,
                                                  const Cycle& cycle, int grace_days,
                                                  absl::TimeZone zone, absl::Time now);

// Who a planning milestone is for.
enum class MilestoneAudience {
  kLeadership,  // leads of top-level teams (no parent team)
  kTeamLeads,   // the lead of every team
  kEveryone,    // every person of the organisation
};

// leadership-kickoff, company-okrs: kLeadership; communicate-company-okrs,
// team-q1-okrs: kTeamLeads; rollout-q1-team-okrs, cascade-to-individuals,
// schedule-check-ins-reviews (and any id not known here): kEveryone.
MilestoneAudience AudienceOf(absl::string_view milestone_id);

struct DueMilestone {
  int64_t fiscal_year = 0;
  PlanningMilestone milestone;
  MilestoneAudience audience = MilestoneAudience::kEveryone;
  DueWindow window;
};

// The planning milestones whose window contains `now` in `zone`, for the
// organisation's fiscal calendar and planning profile, for the fiscal year
// containing now's local day and the next one; ordered by fiscal year, then
// timeline order. INVALID_ARGUMENT for a bad fiscal start month or an
// unspecified planning profile.
absl::StatusOr<std::vector<DueMilestone>> DueMilestones(const Organisation& organisation,
                                                        absl::TimeZone zone,
                                                        absl::Time now);

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_CADENCE_H_
