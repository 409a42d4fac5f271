#include "services/notify/cadence.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "common/model.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/notify.pb.h"

namespace okr::notify {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Expected instants are written in UTC from each zone's known offset on that
// date (zdump: Berlin CET +1 / CEST +2 from 2027-03-28 01:00Z; New York EST
// -5 / EDT -4 from 2027-03-14 07:00Z to 2027-11-07 06:00Z; Auckland NZDT +13
// until 2027-04-03 14:00Z; Kiritimati +14 all year), never with the code
// under test. ISO week keys were checked with `date +%G-W%V -d <day>`.
absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

absl::TimeZone Zone(const std::string& name) {
  absl::StatusOr<absl::TimeZone> zone = LoadZone(name);
  EXPECT_TRUE(zone.ok()) << zone.status();
  return zone.ok() ? *zone : absl::UTCTimeZone();
}

using Day = absl::CivilDay;

std::vector<std::string> FieldsOf(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolationsOf(status)) fields.push_back(v.field);
  return fields;
}

// --- ValidatePolicy ------------------------------------------------------------

v1::ReminderPolicy GoodPolicy() {
  v1::ReminderPolicy p;
  p.set_team_id("team-a");
  p.set_time_zone("Europe/Berlin");
  p.mutable_weekly_check_in()->set_enabled(true);
  p.mutable_weekly_check_in()->set_weekday(v1::DAY_OF_WEEK_SUNDAY);
  p.mutable_weekly_check_in()->mutable_local_time()->set_hours(23);
  p.mutable_weekly_check_in()->mutable_local_time()->set_minutes(59);
  p.mutable_mid_quarter_review()->set_enabled(true);
  p.mutable_mid_quarter_review()->set_offset_days(45);
  p.mutable_end_of_quarter_review()->set_offset_days(-45);
  p.mutable_end_of_quarter_review()->mutable_local_time()->set_hours(0);
  p.mutable_planning_milestones()->set_enabled(false);
  return p;
}

TEST(ValidatePolicyTest, AcceptsAGoodPolicyAndTheLimits) {
  EXPECT_TRUE(ValidatePolicy(GoodPolicy(), "policy").ok());
  EXPECT_TRUE(ValidatePolicy(v1::ReminderPolicy(), "policy").ok());
}

TEST(ValidatePolicyTest, EmptyTimeZoneMeansTheOrganisations) {
  v1::ReminderPolicy p = GoodPolicy();
  p.clear_time_zone();
  EXPECT_TRUE(ValidatePolicy(p, "policy").ok());
}

TEST(ValidatePolicyTest, UnknownTimeZoneNamesTheField) {
  v1::ReminderPolicy p = GoodPolicy();
  p.set_time_zone("Mars/Olympus");
  const absl::Status status = ValidatePolicy(p, "policy");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("policy.time_zone: "));
  EXPECT_THAT(status.message(), HasSubstr("Mars/Olympus"));
  EXPECT_THAT(FieldsOf(status), ElementsAre("policy.time_zone"));

  // Host-dependent names are not zones either.
  p.set_time_zone("localtime");
  EXPECT_THAT(FieldsOf(ValidatePolicy(p, "policy")), ElementsAre("policy.time_zone"));
  p.set_time_zone(std::string(100, 'A'));
  EXPECT_THAT(FieldsOf(ValidatePolicy(p, "policy")), ElementsAre("policy.time_zone"));
}

TEST(ValidatePolicyTest, WeekdayOutOfRangeNamesTheField) {
  v1::ReminderPolicy p = GoodPolicy();
  p.mutable_weekly_check_in()->set_weekday(static_cast<v1::DayOfWeek>(9));
  const absl::Status status = ValidatePolicy(p, "policy");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("policy.weekly_check_in.weekday: "));
  EXPECT_THAT(status.message(), HasSubstr("got 9"));
  EXPECT_THAT(FieldsOf(status), ElementsAre("policy.weekly_check_in.weekday"));

  // Unspecified is the default (Monday), not an error.
  p.mutable_weekly_check_in()->set_weekday(v1::DAY_OF_WEEK_UNSPECIFIED);
  EXPECT_TRUE(ValidatePolicy(p, "policy").ok());
}

TEST(ValidatePolicyTest, LocalTimesOutOfRangeNameTheirFields) {
  v1::ReminderPolicy p = GoodPolicy();
  p.mutable_weekly_check_in()->mutable_local_time()->set_hours(24);
  EXPECT_THAT(FieldsOf(ValidatePolicy(p, "policy")),
              ElementsAre("policy.weekly_check_in.local_time.hours"));

  p = GoodPolicy();
  p.mutable_weekly_check_in()->mutable_local_time()->set_minutes(60);
  EXPECT_THAT(FieldsOf(ValidatePolicy(p, "policy")),
              ElementsAre("policy.weekly_check_in.local_time.minutes"));

  p = GoodPolicy();
  p.mutable_mid_quarter_review()->mutable_local_time()->set_hours(-1);
  EXPECT_THAT(FieldsOf(ValidatePolicy(p, "policy")),
              ElementsAre("policy.mid_quarter_review.local_time.hours"));

  p = GoodPolicy();
  p.mutable_end_of_quarter_review()->mutable_local_time()->set_minutes(60);
  const absl::Status status = ValidatePolicy(p, "policy");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("policy.end_of_quarter_review.local_time.minutes: "));
}

TEST(ValidatePolicyTest, OffsetsOutOfRangeNameTheirFields) {
  v1::ReminderPolicy p = GoodPolicy();
  p.mutable_mid_quarter_review()->set_offset_days(46);
  absl::Status status = ValidatePolicy(p, "policy");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("policy.mid_quarter_review.offset_days: "));
  EXPECT_THAT(status.message(), HasSubstr("got 46"));

  p = GoodPolicy();
  p.mutable_end_of_quarter_review()->set_offset_days(-46);
  status = ValidatePolicy(p, "policy");
  EXPECT_THAT(FieldsOf(status), ElementsAre("policy.end_of_quarter_review.offset_days"));
  EXPECT_THAT(status.message(), HasSubstr("got -46"));
}

TEST(ValidatePolicyTest, ListsEveryViolationUnderThePrefix) {
  v1::ReminderPolicy p;
  p.set_time_zone("Mars/Olympus");
  p.mutable_weekly_check_in()->set_weekday(static_cast<v1::DayOfWeek>(8));
  p.mutable_weekly_check_in()->mutable_local_time()->set_hours(24);
  p.mutable_mid_quarter_review()->set_offset_days(-46);
  p.mutable_end_of_quarter_review()->set_offset_days(46);
  EXPECT_THAT(
      FieldsOf(ValidatePolicy(p, "request.policy")),
      ElementsAre("request.policy.time_zone", "request.policy.weekly_check_in.weekday",
                  "request.policy.weekly_check_in.local_time.hours",
                  "request.policy.mid_quarter_review.offset_days",
                  "request.policy.end_of_quarter_review.offset_days"));
  // No prefix: the paths are the policy's own.
  EXPECT_THAT(
      FieldsOf(ValidatePolicy(p, "")),
      ElementsAre("time_zone", "weekly_check_in.weekday",
                  "weekly_check_in.local_time.hours", "mid_quarter_review.offset_days",
                  "end_of_quarter_review.offset_days"));
}

// --- EffectivePolicy -----------------------------------------------------------

Organisation Org(const std::string& zone) {
  Organisation org;
  org.id = "org-1";
  org.time_zone = zone;
  return org;
}

void ExpectLocalTime(const v1::TimeOfDay& t, int hours, int minutes) {
  EXPECT_EQ(t.hours(), hours);
  EXPECT_EQ(t.minutes(), minutes);
}

TEST(EffectivePolicyTest, DefaultsWithTheOrganisationsZone) {
  const v1::ReminderPolicy p = EffectivePolicy(Org("Europe/Berlin"), "", {});
  EXPECT_EQ(p.team_id(), "");
  EXPECT_EQ(p.time_zone(), "Europe/Berlin");
  ASSERT_TRUE(p.has_weekly_check_in());
  EXPECT_TRUE(p.weekly_check_in().enabled());
  EXPECT_EQ(p.weekly_check_in().weekday(), v1::DAY_OF_WEEK_MONDAY);
  ASSERT_TRUE(p.weekly_check_in().has_local_time());
  ExpectLocalTime(p.weekly_check_in().local_time(), 9, 0);
  ASSERT_TRUE(p.has_mid_quarter_review());
  EXPECT_TRUE(p.mid_quarter_review().enabled());
  EXPECT_EQ(p.mid_quarter_review().offset_days(), 0);
  ExpectLocalTime(p.mid_quarter_review().local_time(), 9, 0);
  ASSERT_TRUE(p.has_end_of_quarter_review());
  EXPECT_TRUE(p.end_of_quarter_review().enabled());
  EXPECT_EQ(p.end_of_quarter_review().offset_days(), -3);
  ExpectLocalTime(p.end_of_quarter_review().local_time(), 9, 0);
  ASSERT_TRUE(p.has_planning_milestones());
  EXPECT_TRUE(p.planning_milestones().enabled());
  EXPECT_EQ(p.version(), 0);
  EXPECT_FALSE(p.has_update_time());

  // A team without any stored policy gets the same, under its own id.
  const v1::ReminderPolicy team = EffectivePolicy(Org("Europe/Berlin"), "team-a", {});
  EXPECT_EQ(team.team_id(), "team-a");
  EXPECT_EQ(team.weekly_check_in().weekday(), v1::DAY_OF_WEEK_MONDAY);
  EXPECT_EQ(team.end_of_quarter_review().offset_days(), -3);

  // An organisation without a zone falls back to UTC, never to empty.
  EXPECT_EQ(EffectivePolicy(Org(""), "", {}).time_zone(), "UTC");
}

v1::ReminderPolicy OrgPolicy() {
  v1::ReminderPolicy p;
  p.mutable_weekly_check_in()->set_enabled(true);
  p.mutable_weekly_check_in()->set_weekday(v1::DAY_OF_WEEK_FRIDAY);
  p.mutable_weekly_check_in()->mutable_local_time()->set_hours(17);
  p.mutable_weekly_check_in()->mutable_local_time()->set_minutes(30);
  // A whole section: enabled=false and no offset means offset 0, not -3.
  p.mutable_end_of_quarter_review()->set_enabled(false);
  p.set_version(4);
  p.mutable_update_time()->set_seconds(1'800'000'000);
  return p;
}

TEST(EffectivePolicyTest, OrganisationPolicyOverridesWholeSections) {
  const v1::ReminderPolicy org = OrgPolicy();
  const v1::ReminderPolicy* chain[] = {&org};
  const v1::ReminderPolicy p = EffectivePolicy(Org("UTC"), "", chain);
  EXPECT_EQ(p.weekly_check_in().weekday(), v1::DAY_OF_WEEK_FRIDAY);
  ExpectLocalTime(p.weekly_check_in().local_time(), 17, 30);
  EXPECT_FALSE(p.end_of_quarter_review().enabled());
  EXPECT_EQ(p.end_of_quarter_review().offset_days(), 0);
  ExpectLocalTime(p.end_of_quarter_review().local_time(), 9, 0);
  // Sections the organisation left unset keep the defaults.
  EXPECT_TRUE(p.mid_quarter_review().enabled());
  EXPECT_EQ(p.mid_quarter_review().offset_days(), 0);
  EXPECT_TRUE(p.planning_milestones().enabled());
  // Output-only fields are the effective policy's, not the stored one's.
  EXPECT_EQ(p.version(), 0);
  EXPECT_FALSE(p.has_update_time());
  EXPECT_EQ(p.time_zone(), "UTC");
}

TEST(EffectivePolicyTest, TeamPolicyOverridesPerSectionAndInheritsTheRest) {
  const v1::ReminderPolicy org = OrgPolicy();
  v1::ReminderPolicy team;
  team.set_team_id("team-a");
  // Weekday only: the section replaces the organisation's, so the local time
  // is the default 09:00, not the organisation's 17:30.
  team.mutable_weekly_check_in()->set_enabled(true);
  team.mutable_weekly_check_in()->set_weekday(v1::DAY_OF_WEEK_TUESDAY);
  team.mutable_mid_quarter_review()->set_enabled(true);
  team.mutable_mid_quarter_review()->set_offset_days(5);
  team.mutable_mid_quarter_review()->mutable_local_time()->set_hours(14);
  const v1::ReminderPolicy* chain[] = {&team, &org};
  const v1::ReminderPolicy p = EffectivePolicy(Org("UTC"), "team-a", chain);
  EXPECT_EQ(p.team_id(), "team-a");
  EXPECT_EQ(p.weekly_check_in().weekday(), v1::DAY_OF_WEEK_TUESDAY);
  ExpectLocalTime(p.weekly_check_in().local_time(), 9, 0);
  EXPECT_EQ(p.mid_quarter_review().offset_days(), 5);
  ExpectLocalTime(p.mid_quarter_review().local_time(), 14, 0);
  // From the organisation.
  EXPECT_FALSE(p.end_of_quarter_review().enabled());
  // From the defaults.
  EXPECT_TRUE(p.planning_milestones().enabled());
}

TEST(EffectivePolicyTest, TimeZoneIsInheritedUnlessALevelSetsOne) {
  const Organisation org = Org("America/New_York");
  v1::ReminderPolicy org_policy;
  v1::ReminderPolicy team_policy;
  const v1::ReminderPolicy* chain[] = {&team_policy, &org_policy};
  EXPECT_EQ(EffectivePolicy(org, "t", chain).time_zone(), "America/New_York");

  org_policy.set_time_zone("Europe/Berlin");
  EXPECT_EQ(EffectivePolicy(org, "t", chain).time_zone(), "Europe/Berlin");

  team_policy.set_time_zone("Asia/Tokyo");
  EXPECT_EQ(EffectivePolicy(org, "t", chain).time_zone(), "Asia/Tokyo");

  // The organisation's own effective policy ignores the team's zone.
  const v1::ReminderPolicy* org_only[] = {&org_policy};
  EXPECT_EQ(EffectivePolicy(org, "", org_only).time_zone(), "Europe/Berlin");
}

TEST(EffectivePolicyTest, NearestLevelWinsAlongTheChain) {
  v1::ReminderPolicy team;
  team.mutable_weekly_check_in()->set_weekday(v1::DAY_OF_WEEK_WEDNESDAY);
  v1::ReminderPolicy parent;
  parent.mutable_weekly_check_in()->set_weekday(v1::DAY_OF_WEEK_THURSDAY);
  parent.mutable_mid_quarter_review()->set_offset_days(7);
  parent.mutable_mid_quarter_review()->set_enabled(true);
  parent.set_time_zone("Asia/Kolkata");
  v1::ReminderPolicy org;
  org.mutable_weekly_check_in()->set_weekday(v1::DAY_OF_WEEK_FRIDAY);
  org.mutable_mid_quarter_review()->set_offset_days(3);
  org.mutable_planning_milestones()->set_enabled(false);
  org.set_time_zone("Europe/Paris");

  const v1::ReminderPolicy* chain[] = {&team, &parent, &org};
  const v1::ReminderPolicy p = EffectivePolicy(Org("UTC"), "team-a", chain);
  EXPECT_EQ(p.weekly_check_in().weekday(), v1::DAY_OF_WEEK_WEDNESDAY);
  // The team's section says enabled=false (unset bool): whole sections.
  EXPECT_FALSE(p.weekly_check_in().enabled());
  EXPECT_EQ(p.mid_quarter_review().offset_days(), 7);
  EXPECT_TRUE(p.mid_quarter_review().enabled());
  EXPECT_FALSE(p.planning_milestones().enabled());
  EXPECT_EQ(p.time_zone(), "Asia/Kolkata");

  // Reversed, the organisation is nearest and wins everything it sets.
  const v1::ReminderPolicy* reversed[] = {&org, &parent, &team};
  const v1::ReminderPolicy r = EffectivePolicy(Org("UTC"), "team-a", reversed);
  EXPECT_EQ(r.weekly_check_in().weekday(), v1::DAY_OF_WEEK_FRIDAY);
  EXPECT_EQ(r.mid_quarter_review().offset_days(), 3);
  EXPECT_FALSE(r.mid_quarter_review().enabled());
  EXPECT_EQ(r.time_zone(), "Europe/Paris");
}

// --- IsoWeekKey ------------------------------------------------------------------

TEST(IsoWeekKeyTest, UsesTheIsoWeekYear) {
  // 2027-01-01 is a Friday: its week's Thursday is 2026-12-31.
  EXPECT_EQ(IsoWeekKey(Day(2027, 1, 1)), "2026-W53");
  EXPECT_EQ(IsoWeekKey(Day(2027, 1, 3)), "2026-W53");
  EXPECT_EQ(IsoWeekKey(Day(2026, 12, 28)), "2026-W53");
  EXPECT_EQ(IsoWeekKey(Day(2027, 1, 4)), "2027-W01");
  // 2024-12-30 is a Monday whose Thursday is 2025-01-02.
  EXPECT_EQ(IsoWeekKey(Day(2024, 12, 30)), "2025-W01");
  EXPECT_EQ(IsoWeekKey(Day(2024, 12, 29)), "2024-W52");
  EXPECT_EQ(IsoWeekKey(Day(2027, 3, 22)), "2027-W12");
  EXPECT_EQ(IsoWeekKey(Day(2027, 3, 29)), "2027-W13");
  EXPECT_EQ(IsoWeekKey(Day(2021, 1, 3)), "2020-W53");
}

// --- WeeklyCheckInWindow -----------------------------------------------------------

v1::WeeklyCheckInPolicy Weekly(v1::DayOfWeek weekday, int hours, int minutes) {
  v1::WeeklyCheckInPolicy p;
  p.set_enabled(true);
  p.set_weekday(weekday);
  p.mutable_local_time()->set_hours(hours);
  p.mutable_local_time()->set_minutes(minutes);
  return p;
}

DueWindow MustWeekly(const v1::WeeklyCheckInPolicy& policy, absl::TimeZone zone,
                     absl::Time now) {
  absl::StatusOr<DueWindow> window = WeeklyCheckInWindow(policy, zone, now);
  EXPECT_TRUE(window.ok()) << window.status();
  return window.ok() ? *window : DueWindow{};
}

TEST(WeeklyCheckInWindowTest, BerlinSpringForwardWindowIs167Hours) {
  const absl::TimeZone berlin = Zone("Europe/Berlin");
  const v1::WeeklyCheckInPolicy monday = Weekly(v1::DAY_OF_WEEK_MONDAY, 9, 0);
  // Mon 22 Mar 09:00 CET = 08:00Z .. Mon 29 Mar 09:00 CEST = 07:00Z.
  const DueWindow w = MustWeekly(monday, berlin, Utc(2027, 3, 24, 12));
  EXPECT_EQ(w.due, Utc(2027, 3, 22, 8));
  EXPECT_EQ(w.end, Utc(2027, 3, 29, 7));
  EXPECT_EQ(w.end - w.due, absl::Hours(167));
  EXPECT_EQ(w.key, "2027-W12");

  // One second before the next occurrence: still the old window.
  EXPECT_EQ(MustWeekly(monday, berlin, Utc(2027, 3, 29, 6, 59, 59)).key, "2027-W12");
  // The instant of the occurrence belongs to the new window.
  const DueWindow next = MustWeekly(monday, berlin, Utc(2027, 3, 29, 7));
  EXPECT_EQ(next.due, Utc(2027, 3, 29, 7));
  EXPECT_EQ(next.end, Utc(2027, 4, 5, 7));
  EXPECT_EQ(next.key, "2027-W13");
}

TEST(WeeklyCheckInWindowTest, NewYorkWindowsAcrossBothDstChanges) {
  const absl::TimeZone new_york = Zone("America/New_York");
  const v1::WeeklyCheckInPolicy monday = Weekly(v1::DAY_OF_WEEK_MONDAY, 9, 0);
  // Spring: Mon 8 Mar 09:00 EST = 14:00Z .. Mon 15 Mar 09:00 EDT = 13:00Z.
  DueWindow w = MustWeekly(monday, new_york, Utc(2027, 3, 14, 12));
  EXPECT_EQ(w.due, Utc(2027, 3, 8, 14));
  EXPECT_EQ(w.end, Utc(2027, 3, 15, 13));
  EXPECT_EQ(w.end - w.due, absl::Hours(167));
  EXPECT_EQ(w.key, "2027-W10");
  EXPECT_EQ(MustWeekly(monday, new_york, Utc(2027, 3, 15, 13)).key, "2027-W11");

  // Autumn: Mon 1 Nov 09:00 EDT = 13:00Z .. Mon 8 Nov 09:00 EST = 14:00Z.
  w = MustWeekly(monday, new_york, Utc(2027, 11, 7, 12));
  EXPECT_EQ(w.due, Utc(2027, 11, 1, 13));
  EXPECT_EQ(w.end, Utc(2027, 11, 8, 14));
  EXPECT_EQ(w.end - w.due, absl::Hours(169));
  EXPECT_EQ(w.key, "2027-W44");
  // 09:00 UTC-4 would be 13:00Z on 8 Nov, but the clock went back: at
  // 13:30Z it is 08:30 EST, still the week of 1 Nov.
  EXPECT_EQ(MustWeekly(monday, new_york, Utc(2027, 11, 8, 13, 30)).key, "2027-W44");
  EXPECT_EQ(MustWeekly(monday, new_york, Utc(2027, 11, 8, 14)).key, "2027-W45");
}

TEST(WeeklyCheckInWindowTest, MondayMorningAndFridayEveningDiffer) {
  const absl::TimeZone berlin = Zone("Europe/Berlin");
  const absl::Time now = Utc(2027, 3, 31, 10);  // Wed 31 Mar, 12:00 CEST
  const DueWindow monday = MustWeekly(Weekly(v1::DAY_OF_WEEK_MONDAY, 9, 0), berlin, now);
  EXPECT_EQ(monday.due, Utc(2027, 3, 29, 7));
  EXPECT_EQ(monday.key, "2027-W13");
  // Fri 26 Mar 17:30 CET = 16:30Z .. Fri 2 Apr 17:30 CEST = 15:30Z.
  const DueWindow friday =
      MustWeekly(Weekly(v1::DAY_OF_WEEK_FRIDAY, 17, 30), berlin, now);
  EXPECT_EQ(friday.due, Utc(2027, 3, 26, 16, 30));
  EXPECT_EQ(friday.end, Utc(2027, 4, 2, 15, 30));
  EXPECT_EQ(friday.key, "2027-W12");
}

TEST(WeeklyCheckInWindowTest, KeyIsTheWeekOfTheWindowsFirstLocalDay) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::Time now = Utc(2027, 1, 4, 12);  // Monday
  // The Friday window began on Fri 1 Jan 2027, which is in 2026-W53.
  const DueWindow friday = MustWeekly(Weekly(v1::DAY_OF_WEEK_FRIDAY, 17, 30), utc, now);
  EXPECT_EQ(friday.due, Utc(2027, 1, 1, 17, 30));
  EXPECT_EQ(friday.key, "2026-W53");
  const DueWindow monday = MustWeekly(Weekly(v1::DAY_OF_WEEK_MONDAY, 9, 0), utc, now);
  EXPECT_EQ(monday.due, Utc(2027, 1, 4, 9));
  EXPECT_EQ(monday.key, "2027-W01");
}

TEST(WeeklyCheckInWindowTest, LocalDayDecidesFarFromUtc) {
  // Kiritimati is UTC+14: Monday 09:00 there is Sunday 19:00Z.
  const absl::TimeZone kiritimati = Zone("Pacific/Kiritimati");
  const v1::WeeklyCheckInPolicy monday = Weekly(v1::DAY_OF_WEEK_MONDAY, 9, 0);
  const DueWindow w = MustWeekly(monday, kiritimati, Utc(2027, 1, 3, 19));
  EXPECT_EQ(w.due, Utc(2027, 1, 3, 19));
  EXPECT_EQ(w.end, Utc(2027, 1, 10, 19));
  EXPECT_EQ(w.key, "2027-W01");
  EXPECT_EQ(MustWeekly(monday, kiritimati, Utc(2027, 1, 3, 18, 59)).key, "2026-W53");
}

TEST(WeeklyCheckInWindowTest, UnsetLocalTimeIsNineOClock) {
  v1::WeeklyCheckInPolicy p;
  p.set_weekday(v1::DAY_OF_WEEK_WEDNESDAY);
  const DueWindow w = MustWeekly(p, absl::UTCTimeZone(), Utc(2027, 3, 5));
  EXPECT_EQ(w.due, Utc(2027, 3, 3, 9));
}

TEST(WeeklyCheckInWindowTest, RejectsUnspecifiedWeekdayAndInfiniteNow) {
  v1::WeeklyCheckInPolicy p = Weekly(v1::DAY_OF_WEEK_UNSPECIFIED, 9, 0);
  absl::StatusOr<DueWindow> w =
      WeeklyCheckInWindow(p, absl::UTCTimeZone(), Utc(2027, 1, 1));
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("weekday"));

  p = Weekly(v1::DAY_OF_WEEK_MONDAY, 9, 0);
  w = WeeklyCheckInWindow(p, absl::UTCTimeZone(), absl::InfiniteFuture());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("now"));

  p = Weekly(v1::DAY_OF_WEEK_MONDAY, 24, 0);
  w = WeeklyCheckInWindow(p, absl::UTCTimeZone(), Utc(2027, 1, 1));
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("local_time"));
}

// --- Review windows ------------------------------------------------------------------

Cycle Quarter(const std::string& id, Day start, Day end) {
  Cycle c;
  c.id = id;
  c.organisation_id = "org-1";
  c.name = id;
  c.kind = CycleKind::kQuarterly;
  c.start = start;
  c.end = end;
  c.state = CycleState::kActive;
  return c;
}

v1::ReviewReminderPolicy Review(int offset_days, int hours, int minutes) {
  v1::ReviewReminderPolicy p;
  p.set_enabled(true);
  p.set_offset_days(offset_days);
  p.mutable_local_time()->set_hours(hours);
  p.mutable_local_time()->set_minutes(minutes);
  return p;
}

// FY2027-Q1 of a calendar fiscal year: 31 + 28 + 31 = 90 days, so its
// middle day is 1 Jan + 45 = 15 Feb and its last day 31 Mar.
Cycle CalendarQ1() { return Quarter("cyc-q1", Day(2027, 1, 1), Day(2027, 4, 1)); }

TEST(MidQuarterReviewWindowTest, DueOnTheMiddleDayOpenUntilTheCycleEnds) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const Cycle q1 = CalendarQ1();
  const v1::ReviewReminderPolicy policy = Review(0, 9, 0);
  EXPECT_EQ(MidQuarterReviewWindow(policy, q1, utc, Utc(2027, 2, 15, 8, 59, 59)),
            std::nullopt);
  const std::optional<DueWindow> w =
      MidQuarterReviewWindow(policy, q1, utc, Utc(2027, 2, 15, 9));
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->due, Utc(2027, 2, 15, 9));
  EXPECT_EQ(w->end, Utc(2027, 4, 1));
  EXPECT_EQ(w->key, "cyc-q1");
  EXPECT_TRUE(
      MidQuarterReviewWindow(policy, q1, utc, Utc(2027, 3, 31, 23, 59, 59)).has_value());
  EXPECT_EQ(MidQuarterReviewWindow(policy, q1, utc, Utc(2027, 4, 1)), std::nullopt);
  EXPECT_EQ(MidQuarterReviewWindow(policy, q1, utc, Utc(2026, 12, 1)), std::nullopt);
}

TEST(MidQuarterReviewWindowTest, OffsetAndLocalTimeInTheZone) {
  const absl::TimeZone berlin = Zone("Europe/Berlin");
  // 15 Feb + 2 = 17 Feb 14:30 CET = 13:30Z; the cycle ends at local
  // midnight of 1 Apr, CEST = 31 Mar 22:00Z.
  const std::optional<DueWindow> w =
      MidQuarterReviewWindow(Review(2, 14, 30), CalendarQ1(), berlin, Utc(2027, 3, 1));
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->due, Utc(2027, 2, 17, 13, 30));
  EXPECT_EQ(w->end, Utc(2027, 3, 31, 22));
  EXPECT_EQ(MidQuarterReviewWindow(Review(2, 14, 30), CalendarQ1(), berlin,
                                   Utc(2027, 3, 31, 22)),
            std::nullopt);
  // A negative offset moves it earlier: 15 Feb - 10 = 5 Feb 09:00 CET.
  const std::optional<DueWindow> early =
      MidQuarterReviewWindow(Review(-10, 9, 0), CalendarQ1(), berlin, Utc(2027, 2, 5, 8));
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(early->due, Utc(2027, 2, 5, 8));
}

TEST(MidQuarterReviewWindowTest, EmptyCycleOrOffsetPastTheEndIsNeverDue) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const Cycle empty = Quarter("cyc-empty", Day(2027, 1, 1), Day(2027, 1, 1));
  EXPECT_EQ(MidQuarterReviewWindow(Review(0, 0, 0), empty, utc, Utc(2027, 1, 1)),
            std::nullopt);
  // 15 Feb + 45 = 1 Apr: due when the cycle has already ended.
  for (absl::Time now : {Utc(2027, 3, 31, 12), Utc(2027, 4, 1, 9), Utc(2027, 4, 2)}) {
    EXPECT_EQ(MidQuarterReviewWindow(Review(45, 9, 0), CalendarQ1(), utc, now),
              std::nullopt);
  }
}

TEST(EndOfQuarterReviewWindowTest, DueBeforeTheLastDayOpenUntilGraceEnds) {
  const absl::TimeZone berlin = Zone("Europe/Berlin");
  const Cycle q1 = CalendarQ1();
  const v1::ReviewReminderPolicy policy = Review(-3, 9, 0);
  // 31 Mar - 3 = 28 Mar, the day Berlin springs forward: 09:00 CEST = 07:00Z.
  // Grace 7: open until 1 Apr + 7 = 8 Apr 00:00 CEST = 7 Apr 22:00Z.
  EXPECT_EQ(EndOfQuarterReviewWindow(policy, q1, 7, berlin, Utc(2027, 3, 28, 6, 59)),
            std::nullopt);
  const std::optional<DueWindow> w =
      EndOfQuarterReviewWindow(policy, q1, 7, berlin, Utc(2027, 3, 28, 7));
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->due, Utc(2027, 3, 28, 7));
  EXPECT_EQ(w->end, Utc(2027, 4, 7, 22));
  EXPECT_EQ(w->key, "cyc-q1");
  // After the quarter, during the grace.
  EXPECT_TRUE(EndOfQuarterReviewWindow(policy, q1, 7, berlin, Utc(2027, 4, 7, 21, 59))
                  .has_value());
  EXPECT_EQ(EndOfQuarterReviewWindow(policy, q1, 7, berlin, Utc(2027, 4, 7, 22)),
            std::nullopt);
  // Without grace the window closes with the quarter.
  const std::optional<DueWindow> no_grace =
      EndOfQuarterReviewWindow(policy, q1, 0, berlin, Utc(2027, 3, 30));
  ASSERT_TRUE(no_grace.has_value());
  EXPECT_EQ(no_grace->end, Utc(2027, 3, 31, 22));
  EXPECT_EQ(EndOfQuarterReviewWindow(policy, q1, 0, berlin, Utc(2027, 3, 31, 22)),
            std::nullopt);
  // Mid-quarter is long past: outside.
  EXPECT_EQ(EndOfQuarterReviewWindow(policy, q1, 7, berlin, Utc(2027, 2, 15, 12)),
            std::nullopt);
}

TEST(ReviewWindowTest, RetailFiscalYearQuarter) {
  // Start month 2: FY2027-Q4 is 1 Nov 2026 .. 31 Jan 2027, 30 + 31 + 31 = 92
  // days; middle day 1 Nov + 46 = 17 Dec 2026.
  absl::StatusOr<FiscalCalendar> calendar = FiscalCalendar::Create(2);
  ASSERT_TRUE(calendar.ok());
  absl::StatusOr<Period> q4 = calendar->Quarter(2027, 4);
  ASSERT_TRUE(q4.ok());
  ASSERT_EQ(q4->start, Day(2026, 11, 1));
  ASSERT_EQ(q4->end, Day(2027, 2, 1));
  const Cycle cycle = Quarter("FY2027-Q4", q4->start, q4->end);
  const absl::TimeZone new_york = Zone("America/New_York");

  // 17 Dec 09:00 EST = 14:00Z.
  const std::optional<DueWindow> mid =
      MidQuarterReviewWindow(Review(0, 9, 0), cycle, new_york, Utc(2026, 12, 17, 14));
  ASSERT_TRUE(mid.has_value());
  EXPECT_EQ(mid->due, Utc(2026, 12, 17, 14));
  EXPECT_EQ(mid->end, Utc(2027, 2, 1, 5));
  EXPECT_EQ(mid->key, "FY2027-Q4");
  EXPECT_EQ(
      MidQuarterReviewWindow(Review(0, 9, 0), cycle, new_york, Utc(2026, 12, 17, 13, 59)),
      std::nullopt);

  // Last day 31 Jan 2027 - 3 = 28 Jan 09:00 EST = 14:00Z; grace 7 ends at
  // 8 Feb 00:00 EST = 05:00Z.
  const std::optional<DueWindow> end =
      EndOfQuarterReviewWindow(Review(-3, 9, 0), cycle, 7, new_york, Utc(2027, 2, 3));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->due, Utc(2027, 1, 28, 14));
  EXPECT_EQ(end->end, Utc(2027, 2, 8, 5));
  EXPECT_EQ(end->key, "FY2027-Q4");
}

TEST(ReviewWindowTest, LocalDaysFarFromUtc) {
  // Auckland in February is NZDT, UTC+13: 15 Feb 09:00 is 14 Feb 20:00Z,
  // so the review is due while it is still the 14th in UTC.
  const absl::TimeZone auckland = Zone("Pacific/Auckland");
  const std::optional<DueWindow> mid = MidQuarterReviewWindow(
      Review(0, 9, 0), CalendarQ1(), auckland, Utc(2027, 2, 14, 20));
  ASSERT_TRUE(mid.has_value());
  EXPECT_EQ(mid->due, Utc(2027, 2, 14, 20));
  // The same instant under UTC is before the due time.
  EXPECT_EQ(MidQuarterReviewWindow(Review(0, 9, 0), CalendarQ1(), absl::UTCTimeZone(),
                                   Utc(2027, 2, 14, 20)),
            std::nullopt);
  // 1 Apr 00:00 NZDT = 31 Mar 11:00Z: the cycle has ended in Auckland while
  // it is still 31 Mar in UTC.
  EXPECT_EQ(mid->end, Utc(2027, 3, 31, 11));
  EXPECT_EQ(MidQuarterReviewWindow(Review(0, 9, 0), CalendarQ1(), auckland,
                                   Utc(2027, 3, 31, 12)),
            std::nullopt);

  // Kiritimati, UTC+14 all year: last day 31 Mar 09:00 = 30 Mar 19:00Z, no
  // grace: open until 1 Apr 00:00 = 31 Mar 10:00Z.
  const absl::TimeZone kiritimati = Zone("Pacific/Kiritimati");
  const std::optional<DueWindow> end = EndOfQuarterReviewWindow(
      Review(0, 9, 0), CalendarQ1(), 0, kiritimati, Utc(2027, 3, 30, 19));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->due, Utc(2027, 3, 30, 19));
  EXPECT_EQ(end->end, Utc(2027, 3, 31, 10));
  EXPECT_EQ(EndOfQuarterReviewWindow(Review(0, 9, 0), CalendarQ1(), 0, kiritimati,
                                     Utc(2027, 3, 31, 10)),
            std::nullopt);
}

// --- Planning milestones
// ----------------------------------------------------------------

std::vector<std::string> KeysOf(const std::vector<DueMilestone>& due) {
  std::vector<std::string> keys;
  for (const DueMilestone& m : due) keys.push_back(m.window.key);
  return keys;
}

std::vector<DueMilestone> MustDue(const Organisation& org, absl::TimeZone zone,
                                  absl::Time now) {
  absl::StatusOr<std::vector<DueMilestone>> due = DueMilestones(org, zone, now);
  EXPECT_TRUE(due.ok()) << due.status();
  return due.ok() ? *due : std::vector<DueMilestone>{};
}

Organisation PlanningOrg(int start_month, PlanningProfile profile) {
  Organisation org = Org("UTC");
  org.fiscal_year_start_month = start_month;
  org.planning_profile = profile;
  return org;
}

TEST(AudienceOfTest, MapsEveryMilestone) {
  EXPECT_EQ(AudienceOf("leadership-kickoff"), MilestoneAudience::kLeadership);
  EXPECT_EQ(AudienceOf("company-okrs"), MilestoneAudience::kLeadership);
  EXPECT_EQ(AudienceOf("communicate-company-okrs"), MilestoneAudience::kTeamLeads);
  EXPECT_EQ(AudienceOf("team-q1-okrs"), MilestoneAudience::kTeamLeads);
  EXPECT_EQ(AudienceOf("rollout-q1-team-okrs"), MilestoneAudience::kEveryone);
  EXPECT_EQ(AudienceOf("cascade-to-individuals"), MilestoneAudience::kEveryone);
  EXPECT_EQ(AudienceOf("schedule-check-ins-reviews"), MilestoneAudience::kEveryone);
  EXPECT_EQ(AudienceOf("something-new"), MilestoneAudience::kEveryone);
}

TEST(DueMilestonesTest, SmallLastWeeksOfTheYearGiveNextYearsMilestones) {
  // FY2027 starts 1 Jan 2027 = F. SMALL: communicate [F-4w, F-2w) =
  // [4 Dec, 18 Dec 2026) and team Q1 OKRs [4 Dec 2026, F).
  const Organisation org = PlanningOrg(1, PlanningProfile::kSmall);
  const std::vector<DueMilestone> due =
      MustDue(org, absl::UTCTimeZone(), Utc(2026, 12, 10, 12));
  EXPECT_THAT(KeysOf(due),
              ElementsAre("FY2027:communicate-company-okrs", "FY2027:team-q1-okrs"));
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].fiscal_year, 2027);
  EXPECT_EQ(due[0].milestone.id, "communicate-company-okrs");
  EXPECT_EQ(due[0].audience, MilestoneAudience::kTeamLeads);
  EXPECT_EQ(due[0].window.due, Utc(2026, 12, 4));
  EXPECT_EQ(due[0].window.end, Utc(2026, 12, 18));
  EXPECT_EQ(due[1].window.due, Utc(2026, 12, 4));
  EXPECT_EQ(due[1].window.end, Utc(2027, 1, 1));

  // Kick-off [F-6w, F-5w) = [20 Nov, 27 Nov 2026), then company OKRs.
  EXPECT_THAT(KeysOf(MustDue(org, absl::UTCTimeZone(), Utc(2026, 11, 20))),
              ElementsAre("FY2027:leadership-kickoff"));
  EXPECT_THAT(KeysOf(MustDue(org, absl::UTCTimeZone(), Utc(2026, 11, 19, 23, 59))),
              ElementsAre());
  const std::vector<DueMilestone> writing =
      MustDue(org, absl::UTCTimeZone(), Utc(2026, 11, 27));
  EXPECT_THAT(KeysOf(writing), ElementsAre("FY2027:company-okrs"));
  ASSERT_EQ(writing.size(), 1u);
  EXPECT_EQ(writing[0].audience, MilestoneAudience::kLeadership);
  // The last second of FY2026: only team Q1 OKRs are still open.
  EXPECT_THAT(KeysOf(MustDue(org, absl::UTCTimeZone(), Utc(2026, 12, 31, 23, 59, 59))),
              ElementsAre("FY2027:team-q1-okrs"));
}

TEST(DueMilestonesTest, FirstDayOfTheYearStartsRolloutCascadeAndScheduling) {
  const Organisation org = PlanningOrg(1, PlanningProfile::kSmall);
  const std::vector<DueMilestone> due =
      MustDue(org, absl::UTCTimeZone(), Utc(2027, 1, 1));
  EXPECT_THAT(KeysOf(due),
              ElementsAre("FY2027:rollout-q1-team-okrs", "FY2027:cascade-to-individuals",
                          "FY2027:schedule-check-ins-reviews"));
  for (const DueMilestone& m : due) {
    EXPECT_EQ(m.fiscal_year, 2027);
    EXPECT_EQ(m.audience, MilestoneAudience::kEveryone);
    EXPECT_EQ(m.window.due, Utc(2027, 1, 1));
  }
  ASSERT_EQ(due.size(), 3u);
  EXPECT_EQ(due[0].window.end, Utc(2027, 1, 15));  // F + 2 weeks
  EXPECT_EQ(due[1].window.end, Utc(2027, 1, 22));  // F + 3 weeks
  // After three weeks nothing is due until next year's kick-off.
  EXPECT_THAT(KeysOf(MustDue(org, absl::UTCTimeZone(), Utc(2027, 1, 22))), ElementsAre());
}

TEST(DueMilestonesTest, EnterpriseStartsThreeMonthsAhead) {
  // F = 1 Jan 2027: kick-off [1 Oct, 1 Nov 2026), company OKRs [1 Nov,
  // 1 Dec), communicate [1 Dec, 15 Dec) and team Q1 OKRs [1 Dec, F).
  const Organisation org = PlanningOrg(1, PlanningProfile::kEnterprise);
  const absl::TimeZone utc = absl::UTCTimeZone();
  const std::vector<DueMilestone> kickoff = MustDue(org, utc, Utc(2026, 10, 15));
  EXPECT_THAT(KeysOf(kickoff), ElementsAre("FY2027:leadership-kickoff"));
  ASSERT_EQ(kickoff.size(), 1u);
  EXPECT_EQ(kickoff[0].window.due, Utc(2026, 10, 1));
  EXPECT_EQ(kickoff[0].window.end, Utc(2026, 11, 1));
  EXPECT_EQ(kickoff[0].audience, MilestoneAudience::kLeadership);
  EXPECT_THAT(KeysOf(MustDue(org, utc, Utc(2026, 9, 30, 23))), ElementsAre());
  EXPECT_THAT(KeysOf(MustDue(org, utc, Utc(2026, 11, 15))),
              ElementsAre("FY2027:company-okrs"));
  EXPECT_THAT(KeysOf(MustDue(org, utc, Utc(2026, 12, 20))),
              ElementsAre("FY2027:team-q1-okrs"));
  EXPECT_THAT(KeysOf(MustDue(org, utc, Utc(2027, 1, 1))),
              ElementsAre("FY2027:rollout-q1-team-okrs", "FY2027:cascade-to-individuals",
                          "FY2027:schedule-check-ins-reviews"));
}

TEST(DueMilestonesTest, RetailFiscalYear) {
  // Start month 2: FY2028 starts 1 Feb 2027, so ENTERPRISE kicks it off on
  // 1 Nov 2026, inside FY2027.
  const Organisation org = PlanningOrg(2, PlanningProfile::kEnterprise);
  const std::vector<DueMilestone> due =
      MustDue(org, absl::UTCTimeZone(), Utc(2026, 11, 10));
  EXPECT_THAT(KeysOf(due), ElementsAre("FY2028:leadership-kickoff"));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].fiscal_year, 2028);
  EXPECT_EQ(due[0].window.due, Utc(2026, 11, 1));
  EXPECT_EQ(due[0].window.end, Utc(2026, 12, 1));
  EXPECT_THAT(KeysOf(MustDue(org, absl::UTCTimeZone(), Utc(2027, 2, 1))),
              ElementsAre("FY2028:rollout-q1-team-okrs", "FY2028:cascade-to-individuals",
                          "FY2028:schedule-check-ins-reviews"));
}

TEST(DueMilestonesTest, LocalDayDecidesTheFiscalYear) {
  // 31 Dec 2026 10:00Z is 1 Jan 2027 00:00 in Kiritimati (UTC+14): the new
  // fiscal year has begun there, while in UTC it is FY2026's last day.
  const Organisation org = PlanningOrg(1, PlanningProfile::kSmall);
  const absl::Time now = Utc(2026, 12, 31, 10);
  const std::vector<DueMilestone> local = MustDue(org, Zone("Pacific/Kiritimati"), now);
  EXPECT_THAT(KeysOf(local),
              ElementsAre("FY2027:rollout-q1-team-okrs", "FY2027:cascade-to-individuals",
                          "FY2027:schedule-check-ins-reviews"));
  ASSERT_FALSE(local.empty());
  EXPECT_EQ(local[0].window.due, now);
  EXPECT_THAT(KeysOf(MustDue(org, absl::UTCTimeZone(), now)),
              ElementsAre("FY2027:team-q1-okrs"));
}

TEST(DueMilestonesTest, RejectsBadCalendarProfileAndTime) {
  absl::StatusOr<std::vector<DueMilestone>> due = DueMilestones(
      PlanningOrg(13, PlanningProfile::kSmall), absl::UTCTimeZone(), Utc(2027, 1, 1));
  EXPECT_EQ(due.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(due.status().message(), HasSubstr("fiscal_year_start_month"));

  due = DueMilestones(PlanningOrg(1, PlanningProfile::kUnspecified), absl::UTCTimeZone(),
                      Utc(2027, 1, 1));
  EXPECT_EQ(due.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(due.status().message(), HasSubstr("planning_profile"));

  due = DueMilestones(PlanningOrg(1, PlanningProfile::kSmall), absl::UTCTimeZone(),
                      absl::InfinitePast());
  EXPECT_EQ(due.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace okr::notify
