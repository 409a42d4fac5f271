#include "common/calendar.h"

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace okr {
namespace {

using ::testing::HasSubstr;

// Expected instants are written in UTC from the zone's known offset on that
// date (e.g. 09:00 EST = 14:00Z), not computed with the code under test.
absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0),
                         absl::UTCTimeZone());
}

absl::TimeZone Zone(const std::string& name) {
  absl::StatusOr<absl::TimeZone> zone = LoadZone(name);
  EXPECT_TRUE(zone.ok()) << zone.status();
  return zone.ok() ? *zone : absl::UTCTimeZone();
}

FiscalCalendar Calendar(int start_month) {
  absl::StatusOr<FiscalCalendar> calendar = FiscalCalendar::Create(start_month);
  EXPECT_TRUE(calendar.ok()) << calendar.status();
  return calendar.ok() ? *calendar : *FiscalCalendar::Create(1);
}

Period P(absl::CivilDay start, absl::CivilDay end) { return {start, end}; }

using Day = absl::CivilDay;

// --- Fiscal periods --------------------------------------------------------

TEST(FiscalCalendarTest, JanuaryStartIsTheCalendarYear) {
  const FiscalCalendar cal = Calendar(1);
  EXPECT_EQ(cal.Year(2027), P(Day(2027, 1, 1), Day(2028, 1, 1)));
  EXPECT_EQ(*cal.Quarter(2027, 1), P(Day(2027, 1, 1), Day(2027, 4, 1)));
  EXPECT_EQ(*cal.Quarter(2027, 4), P(Day(2027, 10, 1), Day(2028, 1, 1)));
  EXPECT_EQ(*cal.Month(2027, 12), P(Day(2027, 12, 1), Day(2028, 1, 1)));
  EXPECT_EQ(cal.FiscalYearOf(Day(2027, 1, 1)), 2027);
  EXPECT_EQ(cal.FiscalYearOf(Day(2027, 12, 31)), 2027);
  EXPECT_EQ(cal.FiscalYearOf(Day(2028, 1, 1)), 2028);
}

TEST(FiscalCalendarTest, FebruaryStartFollowsTheRetailConvention) {
  const FiscalCalendar cal = Calendar(2);
  // FY2027 ends in (and is named after) 2027.
  EXPECT_EQ(cal.Year(2027), P(Day(2026, 2, 1), Day(2027, 2, 1)));
  EXPECT_EQ(*cal.Quarter(2027, 1), P(Day(2026, 2, 1), Day(2026, 5, 1)));
  EXPECT_EQ(*cal.Quarter(2027, 2), P(Day(2026, 5, 1), Day(2026, 8, 1)));
  EXPECT_EQ(*cal.Quarter(2027, 4), P(Day(2026, 11, 1), Day(2027, 2, 1)));
  EXPECT_EQ(*cal.Month(2027, 1), P(Day(2026, 2, 1), Day(2026, 3, 1)));
  EXPECT_EQ(*cal.Month(2027, 12), P(Day(2027, 1, 1), Day(2027, 2, 1)));

  // A January day belongs to the fiscal year that ends that month.
  const FiscalPosition jan = cal.Locate(Day(2027, 1, 15));
  EXPECT_EQ(jan.year, 2027);
  EXPECT_EQ(jan.quarter, 4);
  EXPECT_EQ(jan.month, 12);
  EXPECT_EQ(cal.FiscalYearOf(Day(2027, 1, 31)), 2027);

  // The year boundary: 31 Jan is the last day of FY2027, 1 Feb the first of
  // FY2028.
  const FiscalPosition feb = cal.Locate(Day(2027, 2, 1));
  EXPECT_EQ(feb.year, 2028);
  EXPECT_EQ(feb.quarter, 1);
  EXPECT_EQ(feb.month, 1);
  const FiscalPosition apr = cal.Locate(Day(2026, 4, 30));
  EXPECT_EQ(apr.year, 2027);
  EXPECT_EQ(apr.quarter, 1);
  EXPECT_EQ(apr.month, 3);
  EXPECT_EQ(cal.Locate(Day(2026, 5, 1)).quarter, 2);

  EXPECT_EQ(cal.QuarterContaining(Day(2027, 1, 31)),
            P(Day(2026, 11, 1), Day(2027, 2, 1)));
  EXPECT_EQ(cal.YearContaining(Day(2027, 2, 1)),
            P(Day(2027, 2, 1), Day(2028, 2, 1)));
  EXPECT_EQ(cal.MonthContaining(Day(2027, 1, 31)),
            P(Day(2027, 1, 1), Day(2027, 2, 1)));
}

TEST(FiscalCalendarTest, DecemberStartBeginsInThePreviousYear) {
  const FiscalCalendar cal = Calendar(12);
  EXPECT_EQ(cal.Year(2027), P(Day(2026, 12, 1), Day(2027, 12, 1)));
  EXPECT_EQ(cal.FiscalYearOf(Day(2026, 12, 1)), 2027);
  EXPECT_EQ(cal.FiscalYearOf(Day(2026, 11, 30)), 2026);
  EXPECT_EQ(cal.FiscalYearOf(Day(2027, 12, 1)), 2028);
}

TEST(FiscalCalendarTest, EveryStartMonthTilesTwelveMonthsWithoutGapOrOverlap) {
  for (int s = 1; s <= 12; ++s) {
    SCOPED_TRACE(testing::Message() << "start month " << s);
    const FiscalCalendar cal = Calendar(s);
    EXPECT_EQ(cal.start_month(), s);
    for (int64_t fy = 1999; fy <= 2032; ++fy) {
      SCOPED_TRACE(testing::Message() << "FY" << fy);
      const Period year = cal.Year(fy);
      // Starts on the 1st of the start month and is named by the calendar
      // year of its last day.
      EXPECT_EQ(year.start.month(), s);
      EXPECT_EQ(year.start.day(), 1);
      EXPECT_EQ((year.end - 1).year(), fy);
      EXPECT_EQ(year.end, cal.Year(fy + 1).start);
      EXPECT_GE(year.Days(), 365);
      EXPECT_LE(year.Days(), 366);

      absl::CivilDay cursor = year.start;
      int64_t month_days = 0;
      for (int m = 1; m <= 12; ++m) {
        const Period month = *cal.Month(fy, m);
        EXPECT_EQ(month.start, cursor) << "month " << m;
        EXPECT_EQ(month.start.day(), 1);
        EXPECT_EQ(month.end, absl::CivilDay(absl::CivilMonth(month.start) + 1));
        EXPECT_EQ(month.start.month(), (s - 1 + m - 1) % 12 + 1);
        month_days += month.Days();
        cursor = month.end;
      }
      EXPECT_EQ(cursor, year.end);
      EXPECT_EQ(month_days, year.Days());

      cursor = year.start;
      for (int q = 1; q <= 4; ++q) {
        const Period quarter = *cal.Quarter(fy, q);
        EXPECT_EQ(quarter.start, cursor) << "quarter " << q;
        EXPECT_EQ(quarter.start, cal.Month(fy, 3 * q - 2)->start);
        EXPECT_EQ(quarter.end, cal.Month(fy, 3 * q)->end);
        cursor = quarter.end;
      }
      EXPECT_EQ(cursor, year.end);
    }

    // Every day is located in exactly the periods that contain it.
    for (absl::CivilDay d(2019, 1, 1); d < absl::CivilDay(2031, 1, 1); ++d) {
      const FiscalPosition pos = cal.Locate(d);
      ASSERT_TRUE(cal.Year(pos.year).Contains(d)) << d;
      ASSERT_FALSE(cal.Year(pos.year - 1).Contains(d)) << d;
      ASSERT_FALSE(cal.Year(pos.year + 1).Contains(d)) << d;
      ASSERT_TRUE(cal.Quarter(pos.year, pos.quarter)->Contains(d)) << d;
      ASSERT_TRUE(cal.Month(pos.year, pos.month)->Contains(d)) << d;
      ASSERT_EQ(pos.quarter, (pos.month - 1) / 3 + 1) << d;
      ASSERT_EQ(cal.FiscalYearOf(d), pos.year) << d;
    }
  }
}

TEST(FiscalCalendarTest, LeapDayInJanuaryYear) {
  const FiscalCalendar cal = Calendar(1);
  const Period q1 = *cal.Quarter(2028, 1);
  EXPECT_TRUE(q1.Contains(Day(2028, 2, 29)));
  EXPECT_EQ(q1.Days(), 31 + 29 + 31);
  EXPECT_EQ(cal.Month(2028, 2)->Days(), 29);
  EXPECT_EQ(cal.Month(2027, 2)->Days(), 28);
  EXPECT_EQ(cal.Year(2028).Days(), 366);
  const FiscalPosition pos = cal.Locate(Day(2028, 2, 29));
  EXPECT_EQ(pos.year, 2028);
  EXPECT_EQ(pos.quarter, 1);
  EXPECT_EQ(pos.month, 2);
}

TEST(FiscalCalendarTest, MarchStartAroundALeapYear) {
  const FiscalCalendar cal = Calendar(3);
  // FY2028 = 1 Mar 2027 .. 29 Feb 2028: the leap day is its very last day.
  EXPECT_EQ(cal.Year(2028), P(Day(2027, 3, 1), Day(2028, 3, 1)));
  EXPECT_EQ(cal.Year(2028).Days(), 366);
  EXPECT_EQ(cal.Year(2029).Days(), 365);
  EXPECT_EQ(cal.Year(2027).Days(), 365);
  EXPECT_EQ(*cal.Month(2028, 12), P(Day(2028, 2, 1), Day(2028, 3, 1)));
  EXPECT_EQ(cal.Month(2028, 12)->Days(), 29);
  EXPECT_EQ(*cal.Quarter(2028, 4), P(Day(2027, 12, 1), Day(2028, 3, 1)));
  EXPECT_EQ(cal.Quarter(2028, 4)->Days(), 31 + 31 + 29);
  EXPECT_EQ(cal.Quarter(2029, 4)->Days(), 31 + 31 + 28);

  const FiscalPosition leap = cal.Locate(Day(2028, 2, 29));
  EXPECT_EQ(leap.year, 2028);
  EXPECT_EQ(leap.quarter, 4);
  EXPECT_EQ(leap.month, 12);
  const FiscalPosition after = cal.Locate(Day(2028, 3, 1));
  EXPECT_EQ(after.year, 2029);
  EXPECT_EQ(after.quarter, 1);
  EXPECT_EQ(after.month, 1);
}

TEST(FiscalCalendarTest, FebruaryStartPutsLeapDayInQ1) {
  const FiscalCalendar cal = Calendar(2);
  const Period q1 = *cal.Quarter(2029, 1);  // Feb-Apr 2028
  EXPECT_EQ(q1, P(Day(2028, 2, 1), Day(2028, 5, 1)));
  EXPECT_TRUE(q1.Contains(Day(2028, 2, 29)));
  EXPECT_EQ(q1.Days(), 29 + 31 + 30);
  EXPECT_EQ(cal.Month(2029, 1)->Days(), 29);
}

TEST(FiscalCalendarTest, RejectsOutOfRangeArguments) {
  for (int bad : {0, 13, -1}) {
    absl::StatusOr<FiscalCalendar> cal = FiscalCalendar::Create(bad);
    ASSERT_FALSE(cal.ok());
    EXPECT_EQ(cal.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(cal.status().message(), HasSubstr("fiscal_year_start_month"));
  }
  const FiscalCalendar cal = Calendar(4);
  EXPECT_EQ(cal.Quarter(2027, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cal.Quarter(2027, 5).status().message(), HasSubstr("quarter"));
  EXPECT_THAT(cal.Month(2027, 13).status().message(), HasSubstr("month"));
  EXPECT_EQ(cal.Month(2027, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FiscalCalendarTest, CycleNames) {
  EXPECT_EQ(FiscalYearName(2027), "FY2027");
  EXPECT_EQ(FiscalQuarterName(2027, 3), "FY2027-Q3");
  EXPECT_EQ(FiscalMonthName(2027, 1), "FY2027-M01");
  EXPECT_EQ(FiscalMonthName(2027, 12), "FY2027-M12");
}

// --- Cycles ------------------------------------------------------------------

TEST(FiscalYearCyclesTest, YearAndQuartersWithNameIds) {
  const FiscalCalendar cal = Calendar(2);
  const std::vector<Cycle> cycles =
      FiscalYearCycles(cal, 2027, "org-1", /*include_months=*/false);
  ASSERT_EQ(cycles.size(), 5u);
  EXPECT_EQ(cycles[0].name, "FY2027");
  EXPECT_EQ(cycles[0].id, "FY2027");
  EXPECT_EQ(cycles[0].kind, CycleKind::kAnnual);
  EXPECT_EQ(cycles[0].parent_cycle_id, "");
  EXPECT_EQ(cycles[0].start, Day(2026, 2, 1));
  EXPECT_EQ(cycles[0].end, Day(2027, 2, 1));
  for (int q = 1; q <= 4; ++q) {
    const Cycle& c = cycles[q];
    EXPECT_EQ(c.name, "FY2027-Q" + std::to_string(q));
    EXPECT_EQ(c.id, c.name);
    EXPECT_EQ(c.kind, CycleKind::kQuarterly);
    EXPECT_EQ(c.parent_cycle_id, "FY2027");
    EXPECT_EQ(PeriodOf(c), *cal.Quarter(2027, q));
  }
  for (const Cycle& c : cycles) {
    EXPECT_EQ(c.organisation_id, "org-1");
    EXPECT_EQ(c.state, CycleState::kPlanning);
  }
  EXPECT_EQ(cycles[1].start, Day(2026, 2, 1));
  EXPECT_EQ(cycles[1].end, Day(2026, 5, 1));
}

TEST(FiscalYearCyclesTest, MonthsAndGeneratedIdsLinkToTheirParents) {
  const FiscalCalendar cal = Calendar(7);
  std::set<Id> seen;
  int calls = 0;
  auto make_id = [&](const Cycle& c) {
    EXPECT_TRUE(c.id.empty());
    // Parents come first, so the parent's id has already been handed out.
    if (!c.parent_cycle_id.empty()) {
      EXPECT_EQ(seen.count(c.parent_cycle_id), 1u) << c.name;
    }
    Id id = "cyc-" + std::to_string(++calls);
    seen.insert(id);
    return id;
  };
  const std::vector<Cycle> cycles =
      FiscalYearCycles(cal, 2027, "org-9", /*include_months=*/true, make_id);
  ASSERT_EQ(cycles.size(), 17u);
  EXPECT_EQ(calls, 17);

  const Cycle& year = cycles[0];
  EXPECT_EQ(year.kind, CycleKind::kAnnual);
  EXPECT_EQ(year.id, "cyc-1");
  int quarters = 0;
  int months = 0;
  for (const Cycle& c : cycles) {
    if (c.kind == CycleKind::kQuarterly) {
      ++quarters;
      EXPECT_EQ(c.parent_cycle_id, year.id) << c.name;
    } else if (c.kind == CycleKind::kMonthly) {
      ++months;
      const FiscalPosition pos = cal.Locate(c.start);
      EXPECT_EQ(c.name, FiscalMonthName(2027, pos.month));
      EXPECT_EQ(PeriodOf(c), *cal.Month(2027, pos.month));
      // The parent is the quarter cycle whose period contains the month.
      bool found = false;
      for (const Cycle& parent : cycles) {
        if (parent.id != c.parent_cycle_id) continue;
        found = true;
        EXPECT_EQ(parent.kind, CycleKind::kQuarterly);
        EXPECT_EQ(parent.name, FiscalQuarterName(2027, pos.quarter));
        EXPECT_TRUE(parent.start <= c.start && c.end <= parent.end) << c.name;
      }
      EXPECT_TRUE(found) << c.name;
    }
  }
  EXPECT_EQ(quarters, 4);
  EXPECT_EQ(months, 12);
  // FY2027 with a July start: M01 is July 2026.
  EXPECT_EQ(cycles[2].name, "FY2027-M01");
  EXPECT_EQ(cycles[2].start, Day(2026, 7, 1));
}

// --- Zones and instants ------------------------------------------------------

TEST(LoadZoneTest, UnknownZoneNamesTheField) {
  absl::StatusOr<absl::TimeZone> zone = LoadZone("Mars/Base");
  ASSERT_FALSE(zone.ok());
  EXPECT_EQ(zone.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(zone.status().message(),
              HasSubstr("time_zone: unknown IANA time zone 'Mars/Base'"));
}

TEST(LoadZoneTest, RejectsHostDependentNames) {
  for (const char* name : {"", "localtime", "/etc/localtime", "../zoneinfo/UTC",
                           "Europe/../UTC", "file:/etc/localtime",
                           "file:/usr/share/zoneinfo/Asia/Tokyo"}) {
    absl::StatusOr<absl::TimeZone> zone = LoadZone(name);
    ASSERT_FALSE(zone.ok()) << name;
    EXPECT_EQ(zone.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(zone.status().message(), HasSubstr("time_zone"));
  }
}

TEST(LoadZoneTest, LoadsIanaZones) {
  for (const char* name : {"UTC", "Europe/Berlin", "America/New_York",
                           "Australia/Adelaide", "Asia/Kolkata"}) {
    absl::StatusOr<absl::TimeZone> zone = LoadZone(name);
    ASSERT_TRUE(zone.ok()) << zone.status();
    EXPECT_EQ(zone->name(), name);
  }
}

TEST(InstantTest, StartOfDayIsLocalMidnight) {
  EXPECT_EQ(StartOfDay(Day(2027, 1, 15), Zone("America/New_York")),
            Utc(2027, 1, 15, 5));  // EST, UTC-5
  EXPECT_EQ(StartOfDay(Day(2027, 7, 1), Zone("Europe/Berlin")),
            Utc(2027, 6, 30, 22));  // CEST, UTC+2
  EXPECT_EQ(StartOfDay(Day(2027, 1, 1), Zone("Asia/Kolkata")),
            Utc(2026, 12, 31, 18, 30));  // IST, UTC+5:30
  // The spring-forward day itself still starts at midnight (the gap is at 2am)
  // and lasts 23 hours.
  const absl::TimeZone ny = Zone("America/New_York");
  EXPECT_EQ(StartOfDay(Day(2027, 3, 14), ny), Utc(2027, 3, 14, 5));
  EXPECT_EQ(StartOfDay(Day(2027, 3, 15), ny) - StartOfDay(Day(2027, 3, 14), ny),
            absl::Hours(23));
}

TEST(InstantTest, SkippedMidnightStartsAtTheEndOfTheGap) {
  // Brazil began DST on 4 Nov 2018 at 00:00 (UTC-3 -> UTC-2): that day had
  // no midnight and began at 01:00 local = 03:00Z.
  const absl::TimeZone sao_paulo = Zone("America/Sao_Paulo");
  EXPECT_EQ(StartOfDay(Day(2018, 11, 4), sao_paulo), Utc(2018, 11, 4, 3));
  EXPECT_EQ(StartOfDay(Day(2018, 11, 3), sao_paulo), Utc(2018, 11, 3, 3));
  EXPECT_EQ(StartOfDay(Day(2018, 11, 5), sao_paulo), Utc(2018, 11, 5, 2));
}

TEST(InstantTest, LocalTimesInGapsAndOverlaps) {
  const absl::TimeZone ny = Zone("America/New_York");
  // 02:30 on 14 Mar 2027 does not exist; the clock jumps to 03:00 EDT.
  EXPECT_EQ(LocalToInstant(absl::CivilSecond(2027, 3, 14, 2, 30, 0), ny),
            Utc(2027, 3, 14, 7));
  // 01:30 on 7 Nov 2027 happens twice; the first (EDT, UTC-4) wins.
  EXPECT_EQ(LocalToInstant(absl::CivilSecond(2027, 11, 7, 1, 30, 0), ny),
            Utc(2027, 11, 7, 5, 30));
}

TEST(ElapsedFractionTest, LinearInRealTimeAndClamped) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const Period q1 = P(Day(2027, 1, 1), Day(2027, 4, 1));  // 90 days
  EXPECT_EQ(ElapsedFraction(q1, utc, Utc(2026, 12, 31, 23)), 0.0);
  EXPECT_EQ(ElapsedFraction(q1, utc, Utc(2027, 1, 1)), 0.0);
  EXPECT_DOUBLE_EQ(ElapsedFraction(q1, utc, Utc(2027, 2, 15)), 45.0 / 90.0);
  EXPECT_DOUBLE_EQ(ElapsedFraction(q1, utc, Utc(2027, 1, 10, 12)), 9.5 / 90.0);
  EXPECT_EQ(ElapsedFraction(q1, utc, Utc(2027, 4, 1)), 1.0);
  EXPECT_EQ(ElapsedFraction(q1, utc, Utc(2030, 1, 1)), 1.0);

  // In New York the quarter loses an hour to DST: 90 * 24 - 1 hours, from
  // 1 Jan 05:00Z to 1 Apr 04:00Z. Local midnight 15 Mar (EDT) is 04:00Z,
  // 73 days minus one hour after the start.
  const absl::TimeZone ny = Zone("America/New_York");
  EXPECT_DOUBLE_EQ(ElapsedFraction(q1, ny, Utc(2027, 3, 15, 4)),
                   (73.0 * 24 - 1) / (90.0 * 24 - 1));
  EXPECT_EQ(ElapsedFraction(q1, ny, Utc(2027, 1, 1, 4, 59)), 0.0);

  const Period empty = P(Day(2027, 1, 1), Day(2027, 1, 1));
  EXPECT_EQ(ElapsedFraction(empty, utc, Utc(2026, 12, 31)), 0.0);
  EXPECT_EQ(ElapsedFraction(empty, utc, Utc(2027, 1, 1)), 1.0);
}

// --- Weekly windows ----------------------------------------------------------

// Checks the window's bounds, length and key, and that the bounds are the
// requested local wall time in `zone`.
void ExpectWeekly(const CadenceWindow& w, absl::Time start, absl::Time end,
                  absl::Duration length, const std::string& key,
                  absl::TimeZone zone, int hour, int minute) {
  EXPECT_EQ(w.start, start);
  EXPECT_EQ(w.end, end);
  EXPECT_EQ(w.end - w.start, length);
  EXPECT_EQ(w.key, key);
  const absl::CivilSecond local_start = absl::ToCivilSecond(w.start, zone);
  const absl::CivilSecond local_end = absl::ToCivilSecond(w.end, zone);
  EXPECT_EQ(local_start.hour(), hour);
  EXPECT_EQ(local_start.minute(), minute);
  EXPECT_EQ(local_end.hour(), hour);
  EXPECT_EQ(local_end.minute(), minute);
  EXPECT_EQ(absl::CivilDay(local_end) - absl::CivilDay(local_start), 7);
}

TEST(WeeklyWindowTest, NewYorkSpringForwardWeekIs167Hours) {
  const absl::TimeZone ny = Zone("America/New_York");
  absl::StatusOr<CadenceWindow> w =
      WeeklyWindow(Utc(2027, 3, 10, 12), absl::Weekday::monday, 9, 0, ny);
  ASSERT_TRUE(w.ok()) << w.status();
  // Mon 8 Mar 09:00 EST (14:00Z) .. Mon 15 Mar 09:00 EDT (13:00Z).
  ExpectWeekly(*w, Utc(2027, 3, 8, 14), Utc(2027, 3, 15, 13), absl::Hours(167),
               "weekly:2027-03-08T09:00", ny, 9, 0);
}

TEST(WeeklyWindowTest, NewYorkFallBackWeekIs169Hours) {
  const absl::TimeZone ny = Zone("America/New_York");
  absl::StatusOr<CadenceWindow> w =
      WeeklyWindow(Utc(2027, 11, 7, 6), absl::Weekday::monday, 9, 0, ny);
  ASSERT_TRUE(w.ok()) << w.status();
  // Mon 1 Nov 09:00 EDT (13:00Z) .. Mon 8 Nov 09:00 EST (14:00Z).
  ExpectWeekly(*w, Utc(2027, 11, 1, 13), Utc(2027, 11, 8, 14), absl::Hours(169),
               "weekly:2027-11-01T09:00", ny, 9, 0);
}

TEST(WeeklyWindowTest, BerlinSpringForwardAndFallBack) {
  const absl::TimeZone berlin = Zone("Europe/Berlin");
  // DST starts Sun 28 Mar 2027, ends Sun 31 Oct 2027.
  absl::StatusOr<CadenceWindow> spring =
      WeeklyWindow(Utc(2027, 3, 28, 12), absl::Weekday::monday, 9, 30, berlin);
  ASSERT_TRUE(spring.ok()) << spring.status();
  // Mon 22 Mar 09:30 CET (08:30Z) .. Mon 29 Mar 09:30 CEST (07:30Z).
  ExpectWeekly(*spring, Utc(2027, 3, 22, 8, 30), Utc(2027, 3, 29, 7, 30),
               absl::Hours(167), "weekly:2027-03-22T09:30", berlin, 9, 30);

  absl::StatusOr<CadenceWindow> fall = WeeklyWindow(
      Utc(2027, 10, 31, 1, 30), absl::Weekday::monday, 9, 30, berlin);
  ASSERT_TRUE(fall.ok()) << fall.status();
  // Mon 25 Oct 09:30 CEST (07:30Z) .. Mon 1 Nov 09:30 CET (08:30Z).
  ExpectWeekly(*fall, Utc(2027, 10, 25, 7, 30), Utc(2027, 11, 1, 8, 30),
               absl::Hours(169), "weekly:2027-10-25T09:30", berlin, 9, 30);
}

TEST(WeeklyWindowTest, WallTimeInsideTheGapStartsWhenTheGapEnds) {
  const absl::TimeZone berlin = Zone("Europe/Berlin");
  // Sundays at 02:30: on 28 Mar 2027 the clock jumps 02:00 CET -> 03:00 CEST
  // (01:00Z), so that week's occurrence is 01:00Z.
  absl::StatusOr<CadenceWindow> before = WeeklyWindow(
      Utc(2027, 3, 28, 0, 59), absl::Weekday::sunday, 2, 30, berlin);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->start, Utc(2027, 3, 21, 1, 30));  // 02:30 CET
  EXPECT_EQ(before->end, Utc(2027, 3, 28, 1, 0));
  EXPECT_EQ(before->key, "weekly:2027-03-21T02:30");

  absl::StatusOr<CadenceWindow> after = WeeklyWindow(
      Utc(2027, 3, 28, 1, 0), absl::Weekday::sunday, 2, 30, berlin);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->start, Utc(2027, 3, 28, 1, 0));
  EXPECT_EQ(after->end, Utc(2027, 4, 4, 0, 30));  // 02:30 CEST
  EXPECT_EQ(after->key, "weekly:2027-03-28T02:30");

  // 02:30 on 31 Oct 2027 happens twice; the window starts at the first
  // (CEST, 00:30Z), so the second one (01:30Z) is inside it.
  absl::StatusOr<CadenceWindow> repeated = WeeklyWindow(
      Utc(2027, 10, 31, 1, 30), absl::Weekday::sunday, 2, 30, berlin);
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  EXPECT_EQ(repeated->start, Utc(2027, 10, 31, 0, 30));
  EXPECT_EQ(repeated->key, "weekly:2027-10-31T02:30");
}

TEST(WeeklyWindowTest, SouthernHemisphereHalfHourZone) {
  // Adelaide is UTC+10:30 in summer (ACDT) and UTC+9:30 in winter (ACST);
  // DST ends Sun 4 Apr 2027 and starts Sun 3 Oct 2027.
  const absl::TimeZone adelaide = Zone("Australia/Adelaide");
  absl::StatusOr<CadenceWindow> autumn =
      WeeklyWindow(Utc(2027, 4, 1), absl::Weekday::monday, 9, 0, adelaide);
  ASSERT_TRUE(autumn.ok()) << autumn.status();
  ExpectWeekly(*autumn, Utc(2027, 3, 28, 22, 30), Utc(2027, 4, 4, 23, 30),
               absl::Hours(169), "weekly:2027-03-29T09:00", adelaide, 9, 0);

  absl::StatusOr<CadenceWindow> spring =
      WeeklyWindow(Utc(2027, 10, 3), absl::Weekday::monday, 9, 0, adelaide);
  ASSERT_TRUE(spring.ok()) << spring.status();
  ExpectWeekly(*spring, Utc(2027, 9, 26, 23, 30), Utc(2027, 10, 3, 22, 30),
               absl::Hours(167), "weekly:2027-09-27T09:00", adelaide, 9, 0);
}

TEST(WeeklyWindowTest, WindowAcrossTheYearEnd) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::StatusOr<CadenceWindow> w =
      WeeklyWindow(Utc(2027, 1, 1), absl::Weekday::monday, 9, 0, utc);
  ASSERT_TRUE(w.ok()) << w.status();
  ExpectWeekly(*w, Utc(2026, 12, 28, 9), Utc(2027, 1, 4, 9), absl::Hours(168),
               "weekly:2026-12-28T09:00", utc, 9, 0);
  EXPECT_TRUE(w->Contains(Utc(2027, 1, 1)));
  EXPECT_TRUE(w->Contains(Utc(2026, 12, 31, 23, 59)));

  // Same in Berlin: local midnight on New Year's Day (23:00Z) is inside.
  const absl::TimeZone berlin = Zone("Europe/Berlin");
  absl::StatusOr<CadenceWindow> b =
      WeeklyWindow(Utc(2026, 12, 31, 23), absl::Weekday::monday, 9, 0, berlin);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->start, Utc(2026, 12, 28, 8));
  EXPECT_EQ(b->end, Utc(2027, 1, 4, 8));
  EXPECT_EQ(b->key, "weekly:2026-12-28T09:00");
}

TEST(WeeklyWindowTest, InstantAtTheStartBelongsToTheNewWindow) {
  const absl::TimeZone ny = Zone("America/New_York");
  const absl::Time boundary = Utc(2027, 3, 15, 13);  // Mon 09:00 EDT
  absl::StatusOr<CadenceWindow> at =
      WeeklyWindow(boundary, absl::Weekday::monday, 9, 0, ny);
  absl::StatusOr<CadenceWindow> before = WeeklyWindow(
      boundary - absl::Nanoseconds(1), absl::Weekday::monday, 9, 0, ny);
  ASSERT_TRUE(at.ok() && before.ok());
  EXPECT_EQ(at->start, boundary);
  EXPECT_EQ(at->key, "weekly:2027-03-15T09:00");
  EXPECT_EQ(before->end, boundary);
  EXPECT_EQ(before->key, "weekly:2027-03-08T09:00");
  EXPECT_FALSE(before->Contains(boundary));
  EXPECT_TRUE(at->Contains(boundary));
}

TEST(WeeklyWindowTest, SameDayBeforeTheWallTimeIsInThePreviousWeek) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  // Wednesday 08:59 with a Wednesday 09:00 check-in: last week's window.
  absl::StatusOr<CadenceWindow> w =
      WeeklyWindow(Utc(2027, 6, 9, 8, 59), absl::Weekday::wednesday, 9, 0, utc);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->start, Utc(2027, 6, 2, 9));
  EXPECT_EQ(w->end, Utc(2027, 6, 9, 9));
}

TEST(WeeklyWindowTest, WindowsTileTimeInEveryZone) {
  for (const char* name :
       {"UTC", "America/New_York", "Europe/Berlin", "Australia/Adelaide",
        "Asia/Kolkata", "Pacific/Chatham"}) {
    SCOPED_TRACE(name);
    const absl::TimeZone zone = Zone(name);
    absl::StatusOr<CadenceWindow> w =
        WeeklyWindow(Utc(2026, 12, 30), absl::Weekday::friday, 16, 45, zone);
    ASSERT_TRUE(w.ok()) << w.status();
    std::set<std::string> keys;
    for (int i = 0; i < 60; ++i) {
      const absl::Duration length = w->end - w->start;
      EXPECT_GE(length, absl::Hours(167));
      EXPECT_LE(length, absl::Hours(169));
      const absl::CivilSecond local = absl::ToCivilSecond(w->start, zone);
      EXPECT_EQ(absl::GetWeekday(local), absl::Weekday::friday);
      EXPECT_EQ(local.hour(), 16);
      EXPECT_EQ(local.minute(), 45);
      EXPECT_TRUE(keys.insert(w->key).second) << w->key;
      // Any instant inside gives the same window.
      const absl::Time mid = w->start + length / 2;
      absl::StatusOr<CadenceWindow> same =
          WeeklyWindow(mid, absl::Weekday::friday, 16, 45, zone);
      ASSERT_TRUE(same.ok());
      EXPECT_EQ(same->start, w->start);
      EXPECT_EQ(same->key, w->key);
      absl::StatusOr<CadenceWindow> next =
          WeeklyWindow(w->end, absl::Weekday::friday, 16, 45, zone);
      ASSERT_TRUE(next.ok());
      EXPECT_EQ(next->start, w->end);
      w = next;
    }
  }
}

TEST(WeeklyWindowTest, RejectsBadInput) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::Time t = Utc(2027, 1, 1);
  EXPECT_THAT(
      WeeklyWindow(t, absl::Weekday::monday, 24, 0, utc).status().message(),
      HasSubstr("hour"));
  EXPECT_THAT(
      WeeklyWindow(t, absl::Weekday::monday, -1, 0, utc).status().message(),
      HasSubstr("hour"));
  EXPECT_THAT(
      WeeklyWindow(t, absl::Weekday::monday, 9, 60, utc).status().message(),
      HasSubstr("minute"));
  absl::StatusOr<CadenceWindow> inf =
      WeeklyWindow(absl::InfiniteFuture(), absl::Weekday::monday, 9, 0, utc);
  EXPECT_EQ(inf.status().code(), absl::StatusCode::kInvalidArgument);
}

// --- Review windows ----------------------------------------------------------

TEST(MidQuarterTest, HalfwayDay) {
  // 90 days from 1 Jan 2027: + 45 days = 15 Feb.
  EXPECT_EQ(MidQuarterDay(P(Day(2027, 1, 1), Day(2027, 4, 1))),
            Day(2027, 2, 15));
  // 91 days (leap year): floor(91 / 2) = 45 -> 15 Feb 2028.
  EXPECT_EQ(MidQuarterDay(P(Day(2028, 1, 1), Day(2028, 4, 1))),
            Day(2028, 2, 15));
  // 92 days from 1 Jul: + 46 = 16 Aug.
  EXPECT_EQ(MidQuarterDay(P(Day(2027, 7, 1), Day(2027, 10, 1))),
            Day(2027, 8, 16));
  // February-start Q1 (Feb-Apr 2026, 89 days): + 44 = 17 Mar.
  EXPECT_EQ(MidQuarterDay(*Calendar(2).Quarter(2027, 1)), Day(2026, 3, 17));
}

TEST(MidQuarterTest, WindowIsTheWeekFromTheHalfwayDay) {
  const absl::TimeZone berlin = Zone("Europe/Berlin");
  absl::StatusOr<CadenceWindow> w =
      MidQuarterWindow(P(Day(2027, 1, 1), Day(2027, 4, 1)), berlin);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->start, Utc(2027, 2, 14, 23));  // 15 Feb 00:00 CET
  EXPECT_EQ(w->end, Utc(2027, 2, 21, 23));
  EXPECT_EQ(w->key, "mid-quarter:2027-02-15");

  // A short period is cut at its end: 4 days -> mid = day 2, window to end.
  absl::StatusOr<CadenceWindow> short_w = MidQuarterWindow(
      P(Day(2027, 5, 1), Day(2027, 5, 5)), absl::UTCTimeZone());
  ASSERT_TRUE(short_w.ok());
  EXPECT_EQ(short_w->start, Utc(2027, 5, 3));
  EXPECT_EQ(short_w->end, Utc(2027, 5, 5));

  absl::StatusOr<CadenceWindow> empty =
      MidQuarterWindow(P(Day(2027, 5, 1), Day(2027, 5, 1)), berlin);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.status().message(), HasSubstr("quarter"));
}

TEST(EndOfQuarterTest, LastSevenDaysPlusGrace) {
  const absl::TimeZone ny = Zone("America/New_York");
  const Period q1 = P(Day(2027, 1, 1), Day(2027, 4, 1));
  absl::StatusOr<CadenceWindow> w = EndOfQuarterWindow(q1, ny);
  ASSERT_TRUE(w.ok()) << w.status();
  // 25 Mar 00:00 EDT (04:00Z) .. 1 Apr 00:00 EDT.
  EXPECT_EQ(w->start, Utc(2027, 3, 25, 4));
  EXPECT_EQ(w->end, Utc(2027, 4, 1, 4));
  EXPECT_EQ(w->key, "end-of-quarter:2027-03-31");
  EXPECT_TRUE(w->Contains(Utc(2027, 4, 1, 3, 59)));  // 31 Mar 23:59 local
  EXPECT_FALSE(w->Contains(Utc(2027, 4, 1, 4)));

  absl::StatusOr<CadenceWindow> grace = EndOfQuarterWindow(q1, ny, 3);
  ASSERT_TRUE(grace.ok());
  EXPECT_EQ(grace->start, w->start);
  EXPECT_EQ(grace->end, Utc(2027, 4, 4, 4));
  EXPECT_EQ(grace->key, w->key);

  // Q4 across the year end in UTC.
  absl::StatusOr<CadenceWindow> q4 = EndOfQuarterWindow(
      P(Day(2026, 10, 1), Day(2027, 1, 1)), absl::UTCTimeZone(), 2);
  ASSERT_TRUE(q4.ok());
  EXPECT_EQ(q4->start, Utc(2026, 12, 25));
  EXPECT_EQ(q4->end, Utc(2027, 1, 3));
  EXPECT_EQ(q4->key, "end-of-quarter:2026-12-31");
}

TEST(EndOfQuarterTest, ShortPeriodsAndBadInput) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::StatusOr<CadenceWindow> w =
      EndOfQuarterWindow(P(Day(2027, 5, 1), Day(2027, 5, 4)), utc);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->start, Utc(2027, 5, 1));
  EXPECT_EQ(w->end, Utc(2027, 5, 4));

  absl::StatusOr<CadenceWindow> neg =
      EndOfQuarterWindow(P(Day(2027, 1, 1), Day(2027, 4, 1)), utc, -1);
  EXPECT_EQ(neg.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(neg.status().message(), HasSubstr("grace_days"));

  absl::StatusOr<CadenceWindow> inverted =
      EndOfQuarterWindow(P(Day(2027, 4, 1), Day(2027, 1, 1)), utc);
  EXPECT_EQ(inverted.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(inverted.status().message(), HasSubstr("quarter"));
}

// --- Planning timeline -------------------------------------------------------

struct Expected {
  const char* id;
  absl::CivilDay start;
  absl::CivilDay due;
};

void ExpectTimeline(const std::vector<PlanningMilestone>& got,
                    const std::vector<Expected>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].id);
    EXPECT_EQ(got[i].id, want[i].id);
    EXPECT_EQ(got[i].start, want[i].start);
    EXPECT_EQ(got[i].due, want[i].due);
    EXPECT_LT(got[i].start, got[i].due);
    EXPECT_FALSE(got[i].title.empty());
    EXPECT_FALSE(got[i].who.empty());
    EXPECT_FALSE(got[i].what.empty());
    if (i > 0) {
      EXPECT_LE(got[i - 1].start, got[i].start);
    }
  }
}

TEST(PlanningTimelineTest, SmallJanuaryStart) {
  absl::StatusOr<std::vector<PlanningMilestone>> t =
      PlanningTimeline(Calendar(1), 2027, PlanningProfile::kSmall);
  ASSERT_TRUE(t.ok()) << t.status();
  // FY2027 starts Fri 1 Jan 2027; 6 weeks before is 20 Nov 2026, 4 weeks
  // before is 4 Dec 2026.
  ExpectTimeline(
      *t, {
              {"leadership-kickoff", Day(2026, 11, 20), Day(2026, 11, 27)},
              {"company-okrs", Day(2026, 11, 27), Day(2026, 12, 4)},
              {"communicate-company-okrs", Day(2026, 12, 4), Day(2026, 12, 18)},
              {"team-q1-okrs", Day(2026, 12, 4), Day(2027, 1, 1)},
              {"rollout-q1-team-okrs", Day(2027, 1, 1), Day(2027, 1, 15)},
              {"cascade-to-individuals", Day(2027, 1, 1), Day(2027, 1, 22)},
              {"schedule-check-ins-reviews", Day(2027, 1, 1), Day(2027, 1, 22)},
          });
  EXPECT_THAT((*t)[1].title, HasSubstr("FY2027"));
  EXPECT_THAT((*t)[5].what, HasSubstr("Duality"));
  EXPECT_THAT((*t)[5].what, HasSubstr("Classic"));
  EXPECT_THAT((*t)[2].what, HasSubstr("workshops"));
}

TEST(PlanningTimelineTest, EnterpriseJanuaryStart) {
  absl::StatusOr<std::vector<PlanningMilestone>> t =
      PlanningTimeline(Calendar(1), 2027, PlanningProfile::kEnterprise);
  ASSERT_TRUE(t.ok()) << t.status();
  ExpectTimeline(
      *t, {
              {"leadership-kickoff", Day(2026, 10, 1), Day(2026, 11, 1)},
              {"company-okrs", Day(2026, 11, 1), Day(2026, 12, 1)},
              {"communicate-company-okrs", Day(2026, 12, 1), Day(2026, 12, 15)},
              {"team-q1-okrs", Day(2026, 12, 1), Day(2027, 1, 1)},
              {"rollout-q1-team-okrs", Day(2027, 1, 1), Day(2027, 1, 15)},
              {"cascade-to-individuals", Day(2027, 1, 1), Day(2027, 1, 22)},
              {"schedule-check-ins-reviews", Day(2027, 1, 1), Day(2027, 1, 22)},
          });
}

TEST(PlanningTimelineTest, SmallFebruaryStart) {
  absl::StatusOr<std::vector<PlanningMilestone>> t =
      PlanningTimeline(Calendar(2), 2027, PlanningProfile::kSmall);
  ASSERT_TRUE(t.ok()) << t.status();
  // FY2027 starts 1 Feb 2026; 42 days before is 21 Dec 2025.
  ExpectTimeline(
      *t, {
              {"leadership-kickoff", Day(2025, 12, 21), Day(2025, 12, 28)},
              {"company-okrs", Day(2025, 12, 28), Day(2026, 1, 4)},
              {"communicate-company-okrs", Day(2026, 1, 4), Day(2026, 1, 18)},
              {"team-q1-okrs", Day(2026, 1, 4), Day(2026, 2, 1)},
              {"rollout-q1-team-okrs", Day(2026, 2, 1), Day(2026, 2, 15)},
              {"cascade-to-individuals", Day(2026, 2, 1), Day(2026, 2, 22)},
              {"schedule-check-ins-reviews", Day(2026, 2, 1), Day(2026, 2, 22)},
          });
}

TEST(PlanningTimelineTest, EnterpriseFebruaryStart) {
  absl::StatusOr<std::vector<PlanningMilestone>> t =
      PlanningTimeline(Calendar(2), 2027, PlanningProfile::kEnterprise);
  ASSERT_TRUE(t.ok()) << t.status();
  ExpectTimeline(
      *t, {
              {"leadership-kickoff", Day(2025, 11, 1), Day(2025, 12, 1)},
              {"company-okrs", Day(2025, 12, 1), Day(2026, 1, 1)},
              {"communicate-company-okrs", Day(2026, 1, 1), Day(2026, 1, 15)},
              {"team-q1-okrs", Day(2026, 1, 1), Day(2026, 2, 1)},
              {"rollout-q1-team-okrs", Day(2026, 2, 1), Day(2026, 2, 15)},
              {"cascade-to-individuals", Day(2026, 2, 1), Day(2026, 2, 22)},
              {"schedule-check-ins-reviews", Day(2026, 2, 1), Day(2026, 2, 22)},
          });
}

TEST(PlanningTimelineTest, LeadTimesMatchTheDocumentForEveryStartMonth) {
  for (int s = 1; s <= 12; ++s) {
    SCOPED_TRACE(testing::Message() << "start month " << s);
    const FiscalCalendar cal = Calendar(s);
    const absl::CivilDay f = cal.Year(2030).start;
    absl::StatusOr<std::vector<PlanningMilestone>> small =
        PlanningTimeline(cal, 2030, PlanningProfile::kSmall);
    absl::StatusOr<std::vector<PlanningMilestone>> big =
        PlanningTimeline(cal, 2030, PlanningProfile::kEnterprise);
    ASSERT_TRUE(small.ok() && big.ok());
    // SMALL: 4-6 weeks of lead; ENTERPRISE: 2-3 months (61..92 days).
    EXPECT_EQ(f - small->front().start, 42);
    EXPECT_GE(f - big->front().start, 89);
    EXPECT_LE(f - big->front().start, 92);
    EXPECT_EQ(big->front().start.day(), 1);
    for (const auto* timeline : {&*small, &*big}) {
      std::set<std::string> ids;
      for (const PlanningMilestone& m : *timeline) {
        EXPECT_TRUE(ids.insert(m.id).second) << m.id;
        if (m.id == "team-q1-okrs") {
          EXPECT_EQ(m.due, f);
        }
        if (m.id == "communicate-company-okrs") {
          EXPECT_GE(f - m.start, 28);  // at least a month / 4 weeks before
        }
      }
      EXPECT_EQ(ids.size(), 7u);
    }
  }
}

TEST(PlanningTimelineTest, UnspecifiedProfileIsRejected) {
  absl::StatusOr<std::vector<PlanningMilestone>> t =
      PlanningTimeline(Calendar(1), 2027, PlanningProfile::kUnspecified);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("planning_profile"));
}

}  // namespace
}  // namespace okr
