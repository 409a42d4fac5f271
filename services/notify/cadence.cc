#include "services/notify/cadence.h"

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace okr::notify {
namespace {

// A weekday for messages: the enum name when it has one, else the number a
// client sent (proto3 enums are open, so 9 arrives as 9).
std::string WeekdayName(v1::DayOfWeek weekday) {
  const std::string& name = v1::DayOfWeek_Name(weekday);
  return name.empty() ? absl::StrCat(static_cast<int>(weekday)) : name;
}

// okr.v1.DayOfWeek numbers ISO days (MONDAY = 1 .. SUNDAY = 7) while
// absl::Weekday starts at monday = 0, so the mapping is spelled out rather
// than done by arithmetic on either enum.
bool ToAbslWeekday(v1::DayOfWeek weekday, absl::Weekday* out) {
  switch (weekday) {
    case v1::DAY_OF_WEEK_MONDAY:
      *out = absl::Weekday::monday;
      return true;
    case v1::DAY_OF_WEEK_TUESDAY:
      *out = absl::Weekday::tuesday;
      return true;
    case v1::DAY_OF_WEEK_WEDNESDAY:
      *out = absl::Weekday::wednesday;
      return true;
    case v1::DAY_OF_WEEK_THURSDAY:
      *out = absl::Weekday::thursday;
      return true;
    case v1::DAY_OF_WEEK_FRIDAY:
      *out = absl::Weekday::friday;
      return true;
    case v1::DAY_OF_WEEK_SATURDAY:
      *out = absl::Weekday::saturday;
      return true;
    case v1::DAY_OF_WEEK_SUNDAY:
      *out = absl::Weekday::sunday;
      return true;
    default:
      return false;
  }
}

bool IsFinite(absl::Time t) {
  return t != absl::InfinitePast() && t != absl::InfiniteFuture();
}

// The local wall time a section goes out at: its local_time when set, else
// the proto's documented default 09:00 (an unset TimeOfDay is not midnight).
struct HourMinute {
  int hour = kDefaultHour;
  int minute = 0;
};

template <typename Section>
HourMinute LocalTimeOf(const Section& section) {
  if (!section.has_local_time()) return {};
  return {section.local_time().hours(), section.local_time().minutes()};
}

// The instant `day` at `at` local time; DST gaps and overlaps resolve as in
// LocalToInstant so every rule agrees on the same instant.
absl::Time At(absl::CivilDay day, HourMinute at, absl::TimeZone zone) {
  return LocalToInstant(
      absl::CivilSecond(day.year(), day.month(), day.day(), at.hour, at.minute, 0), zone);
}

std::string Field(absl::string_view prefix, absl::string_view path) {
  return prefix.empty() ? std::string(path) : absl::StrCat(prefix, ".", path);
}

void CheckLocalTime(const v1::TimeOfDay& time, absl::string_view path,
                    std::vector<FieldViolation>* violations) {
  if (time.hours() < 0 || time.hours() > 23) {
    violations->push_back(
        {absl::StrCat(path, ".hours"),
         absl::StrCat("must be 0..23 (24-hour local time), got ", time.hours())});
  }
  if (time.minutes() < 0 || time.minutes() > 59) {
    violations->push_back({absl::StrCat(path, ".minutes"),
                           absl::StrCat("must be 0..59, got ", time.minutes())});
  }
}

void CheckReview(const v1::ReviewReminderPolicy& review, absl::string_view path,
                 absl::string_view anchor, std::vector<FieldViolation>* violations) {
  if (review.offset_days() < -kMaxOffsetDays || review.offset_days() > kMaxOffsetDays) {
    violations->push_back(
        {absl::StrCat(path, ".offset_days"),
         absl::StrCat("must be ", -kMaxOffsetDays, "..", kMaxOffsetDays, " (days after ",
                      anchor, "; negative is before), got ", review.offset_days())});
  }
  if (review.has_local_time()) {
    CheckLocalTime(review.local_time(), absl::StrCat(path, ".local_time"), violations);
  }
}

// The review window [due, end) when it contains `now`; an offset that puts
// the due time at or after the end makes it empty, so nothing is ever due.
std::optional<DueWindow> OpenWindow(absl::Time due, absl::Time end, absl::Time now,
                                    const std::string& key) {
  if (!(due <= now && now < end)) return std::nullopt;
  return DueWindow{due, end, key};
}

}  // namespace

absl::Status ValidatePolicy(const v1::ReminderPolicy& policy, absl::string_view prefix) {
  std::vector<FieldViolation> violations;
  if (!policy.time_zone().empty()) {
    if (policy.time_zone().size() > kMaxTimeZoneLength) {
      violations.push_back(
          {Field(prefix, "time_zone"),
           absl::StrCat("must be an IANA time zone name of at most ", kMaxTimeZoneLength,
                        " characters, got ", policy.time_zone().size())});
    } else if (absl::StatusOr<absl::TimeZone> zone = LoadZone(policy.time_zone());
               !zone.ok()) {
      // LoadZone names its own field; keep its advice, under our path.
      violations.push_back(
          {Field(prefix, "time_zone"),
           std::string(absl::StripPrefix(zone.status().message(), "time_zone: "))});
    }
  }
  if (policy.has_weekly_check_in()) {
    const v1::WeeklyCheckInPolicy& weekly = policy.weekly_check_in();
    absl::Weekday unused;
    if (weekly.weekday() != v1::DAY_OF_WEEK_UNSPECIFIED &&
        !ToAbslWeekday(weekly.weekday(), &unused)) {
      violations.push_back(
          {Field(prefix, "weekly_check_in.weekday"),
           absl::StrCat("must be DAY_OF_WEEK_MONDAY (1) .. DAY_OF_WEEK_SUNDAY (7), or "
                        "unspecified for the default Monday, got ",
                        WeekdayName(weekly.weekday()))});
    }
    if (weekly.has_local_time()) {
      CheckLocalTime(weekly.local_time(), Field(prefix, "weekly_check_in.local_time"),
                     &violations);
    }
  }
  if (policy.has_mid_quarter_review()) {
    CheckReview(policy.mid_quarter_review(), Field(prefix, "mid_quarter_review"),
                "the quarter's middle day", &violations);
  }
  if (policy.has_end_of_quarter_review()) {
    CheckReview(policy.end_of_quarter_review(), Field(prefix, "end_of_quarter_review"),
                "the quarter's last day", &violations);
  }
  return MakeInvalidArgument(violations);
}

v1::ReminderPolicy EffectivePolicy(const Organisation& organisation,
                                   absl::string_view team_id,
                                   absl::Span<const v1::ReminderPolicy* const> chain) {
  v1::ReminderPolicy effective;
  effective.set_time_zone(organisation.time_zone.empty() ? "UTC"
                                                         : organisation.time_zone);
  effective.mutable_weekly_check_in()->set_enabled(true);
  effective.mutable_mid_quarter_review()->set_enabled(true);
  effective.mutable_mid_quarter_review()->set_offset_days(kDefaultMidQuarterOffsetDays);
  effective.mutable_end_of_quarter_review()->set_enabled(true);
  effective.mutable_end_of_quarter_review()->set_offset_days(
      kDefaultEndOfQuarterOffsetDays);
  effective.mutable_planning_milestones()->set_enabled(true);

  // Farthest first, so nearer levels overwrite: the team beats its parent,
  // which beats the organisation.
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const v1::ReminderPolicy* level = *it;
    if (level == nullptr) continue;
    if (!level->time_zone().empty()) effective.set_time_zone(level->time_zone());
    if (level->has_weekly_check_in()) {
      *effective.mutable_weekly_check_in() = level->weekly_check_in();
    }
    if (level->has_mid_quarter_review()) {
      *effective.mutable_mid_quarter_review() = level->mid_quarter_review();
    }
    if (level->has_end_of_quarter_review()) {
      *effective.mutable_end_of_quarter_review() = level->end_of_quarter_review();
    }
    if (level->has_planning_milestones()) {
      *effective.mutable_planning_milestones() = level->planning_milestones();
    }
  }

  // Make the defaults explicit, so readers of the effective policy (and the
  // window functions) never have to know them.
  v1::WeeklyCheckInPolicy* weekly = effective.mutable_weekly_check_in();
  if (weekly->weekday() == v1::DAY_OF_WEEK_UNSPECIFIED) {
    weekly->set_weekday(v1::DAY_OF_WEEK_MONDAY);
  }
  if (!weekly->has_local_time()) weekly->mutable_local_time()->set_hours(kDefaultHour);
  for (v1::ReviewReminderPolicy* review : {effective.mutable_mid_quarter_review(),
                                           effective.mutable_end_of_quarter_review()}) {
    if (!review->has_local_time()) review->mutable_local_time()->set_hours(kDefaultHour);
  }
  effective.set_team_id(std::string(team_id));
  effective.set_version(0);
  effective.clear_update_time();
  return effective;
}

std::string IsoWeekKey(absl::CivilDay day) {
  // An ISO week belongs to the year of its Thursday, and week 1 is the one
  // holding the year's first Thursday, so counting Thursdays gives the week.
  const absl::CivilDay monday = absl::PrevWeekday(day + 1, absl::Weekday::monday);
  const absl::CivilDay thursday = monday + 3;
  const int week = (absl::GetYearDay(thursday) - 1) / 7 + 1;
  return absl::StrFormat("%04d-W%02d", thursday.year(), week);
}

absl::StatusOr<DueWindow> WeeklyCheckInWindow(const v1::WeeklyCheckInPolicy& policy,
                                              absl::TimeZone zone, absl::Time now) {
  if (!IsFinite(now)) return absl::InvalidArgumentError("now: must be a finite time");
  absl::Weekday weekday;
  if (!ToAbslWeekday(policy.weekday(), &weekday)) {
    return absl::InvalidArgumentError(
        absl::StrCat("weekday: must be DAY_OF_WEEK_MONDAY .. DAY_OF_WEEK_SUNDAY for a "
                     "weekly check-in window (use the effective policy), got ",
                     WeekdayName(policy.weekday())));
  }
  const HourMinute at = LocalTimeOf(policy);
  if (at.hour < 0 || at.hour > 23 || at.minute < 0 || at.minute > 59) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "local_time: must be 00:00..23:59, got %d:%02d", at.hour, at.minute));
  }
  OKR_ASSIGN_OR_RETURN(const CadenceWindow window,
                       WeeklyWindow(now, weekday, at.hour, at.minute, zone));
  // The window starts on `weekday` unless a DST gap pushed its start past
  // local midnight; the latest `weekday` at or before the start's local day
  // is the occurrence's own day either way.
  const absl::CivilDay start_day = absl::PrevWeekday(
      absl::CivilDay(absl::ToCivilSecond(window.start, zone)) + 1, weekday);
  return DueWindow{window.start, window.end, IsoWeekKey(start_day)};
}

std::optional<DueWindow> MidQuarterReviewWindow(const v1::ReviewReminderPolicy& policy,
                                                const Cycle& cycle, absl::TimeZone zone,
                                                absl::Time now) {
  const Period period = PeriodOf(cycle);
  if (period.Days() == 0) return std::nullopt;
  const absl::CivilDay due_day = MidQuarterDay(period) + policy.offset_days();
  return OpenWindow(At(due_day, LocalTimeOf(policy), zone), StartOfDay(period.end, zone),
                    now, cycle.id);
}

std::optional<DueWindow> EndOfQuarterReviewWindow(const v1::ReviewReminderPolicy& policy,
                                                  const Cycle& cycle, int grace_days,
                                                  absl::TimeZone zone, absl::Time now) {
  const Period period = PeriodOf(cycle);
  if (period.Days() == 0) return std::nullopt;
  // A negative grace would close the window before the quarter ends; the
  // contract asks the caller for >= 0, so treat anything less as none.
  if (grace_days < 0) grace_days = 0;
  const absl::CivilDay due_day = (period.end - 1) + policy.offset_days();
  return OpenWindow(At(due_day, LocalTimeOf(policy), zone),
                    StartOfDay(period.end + grace_days, zone), now, cycle.id);
}

MilestoneAudience AudienceOf(absl::string_view milestone_id) {
  if (milestone_id == "leadership-kickoff" || milestone_id == "company-okrs") {
    return MilestoneAudience::kLeadership;
  }
  if (milestone_id == "communicate-company-okrs" || milestone_id == "team-q1-okrs") {
    return MilestoneAudience::kTeamLeads;
  }
  return MilestoneAudience::kEveryone;
}

absl::StatusOr<std::vector<DueMilestone>> DueMilestones(const Organisation& organisation,
                                                        absl::TimeZone zone,
                                                        absl::Time now) {
  if (!IsFinite(now)) return absl::InvalidArgumentError("now: must be a finite time");
  OKR_ASSIGN_OR_RETURN(const FiscalCalendar calendar,
                       FiscalCalendar::Create(organisation.fiscal_year_start_month));
  const absl::CivilDay today(absl::ToCivilSecond(now, zone));
  const int64_t this_year = calendar.FiscalYearOf(today);

  std::vector<DueMilestone> due;
  // Planning for a year starts at most 3 months before it and its last step
  // ends within its first weeks, so this year and the next cover every
  // milestone that can be open today.
  for (int64_t year = this_year; year <= this_year + 1; ++year) {
    OKR_ASSIGN_OR_RETURN(std::vector<PlanningMilestone> timeline,
                         PlanningTimeline(calendar, year, organisation.planning_profile));
    for (PlanningMilestone& milestone : timeline) {
      DueWindow window{StartOfDay(milestone.start, zone), StartOfDay(milestone.due, zone),
                       absl::StrCat(FiscalYearName(year), ":", milestone.id)};
      if (!(window.due <= now && now < window.end)) continue;
      DueMilestone item;
      item.fiscal_year = year;
      item.audience = AudienceOf(milestone.id);
      item.milestone = std::move(milestone);
      item.window = std::move(window);
      due.push_back(std::move(item));
    }
  }
  return due;
}

}  // namespace okr::notify
