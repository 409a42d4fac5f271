// The OKR calendar: fiscal periods, the annual planning timeline and the
// cadence windows that reminders are deduplicated by.
//
// Everything here is pure (no I/O beyond the system tzdata that Abseil reads
// on first use of a zone) and works on Abseil civil time. Periods are
// half-open ranges of civil days [start, end) in the organisation's time zone;
// they become instants only when a zone is applied (StartOfDay and friends).
//
// Fiscal years are named by the calendar year in which they END: with a start
// month of 1, FY2027 is 1 Jan 2027 .. 31 Dec 2027; with a start month of 2
// (the retail convention), FY2027 is 1 Feb 2026 .. 31 Jan 2027.
#ifndef OKR_COMMON_CALENDAR_H_
#define OKR_COMMON_CALENDAR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/model.h"

namespace okr {

// A half-open range of civil days [start, end).
struct Period {
  absl::CivilDay start;
  absl::CivilDay end;

  // True when start <= day < end.
  bool Contains(absl::CivilDay day) const { return start <= day && day < end; }
  // The number of days in the period (0 for an empty or inverted one).
  int64_t Days() const { return end > start ? end - start : 0; }

  friend bool operator==(const Period& a, const Period& b) {
    return a.start == b.start && a.end == b.end;
  }
  friend bool operator!=(const Period& a, const Period& b) { return !(a == b); }
};

// The period a cycle covers.
inline Period PeriodOf(const Cycle& cycle) { return {cycle.start, cycle.end}; }

// Where a civil day sits in the fiscal calendar.
struct FiscalPosition {
  int64_t year = 0;  // the fiscal year's name, e.g. 2027 for FY2027
  int quarter = 0;   // 1..4
  int month = 0;     // fiscal month 1..12 (1 is the fiscal year's first month)
};

// Fiscal periods for an organisation whose fiscal year starts on the first day
// of `start_month`. Cheap to copy; create one per request from the
// organisation's fiscal_year_start_month.
class FiscalCalendar {
 public:
  // Returns INVALID_ARGUMENT naming `fiscal_year_start_month` unless
  // 1 <= start_month <= 12.
  static absl::StatusOr<FiscalCalendar> Create(int start_month);

  int start_month() const { return start_month_; }

  // The fiscal year (by name) that contains `day`.
  int64_t FiscalYearOf(absl::CivilDay day) const;
  // The fiscal year, quarter and fiscal month that contain `day`.
  FiscalPosition Locate(absl::CivilDay day) const;

  // The whole fiscal year `fiscal_year`, e.g. Year(2027) for FY2027.
  Period Year(int64_t fiscal_year) const;
  // Quarter `quarter` (1..4) of a fiscal year; INVALID_ARGUMENT naming
  // `quarter` when out of range.
  absl::StatusOr<Period> Quarter(int64_t fiscal_year, int quarter) const;
  // Fiscal month `month` (1..12) of a fiscal year; INVALID_ARGUMENT naming
  // `month` when out of range. Fiscal month 1 is the start month.
  absl::StatusOr<Period> Month(int64_t fiscal_year, int month) const;

  // The fiscal year, quarter or month that contains `day`.
  Period YearContaining(absl::CivilDay day) const;
  Period QuarterContaining(absl::CivilDay day) const;
  Period MonthContaining(absl::CivilDay day) const;

 private:
  explicit FiscalCalendar(int start_month) : start_month_(start_month) {}

  // The first month of fiscal year `fiscal_year`.
  absl::CivilMonth FirstMonth(int64_t fiscal_year) const;

  int start_month_;
};

// Cycle names: "FY2027", "FY2027-Q1", "FY2027-M01". Quarter and month are not
// range-checked here; callers pass values from FiscalCalendar.
std::string FiscalYearName(int64_t fiscal_year);
std::string FiscalQuarterName(int64_t fiscal_year, int quarter);
std::string FiscalMonthName(int64_t fiscal_year, int month);

// Chooses the id of a generated cycle. It is called with the cycle fully
// filled in except `id` (parent_cycle_id already set), parents before their
// children, so a generator may use the parent's id.
using CycleIdGenerator = std::function<Id(const Cycle&)>;

// The cycles of one fiscal year: the ANNUAL cycle first, then each QUARTERLY
// cycle followed (when `include_months`) by its three MONTHLY cycles; so a
// parent always precedes its children. All are in state PLANNING with
// version 0. When `make_id` is empty the id of each cycle is its name
// ("FY2027-Q1"), unique within one organisation only.
std::vector<Cycle> FiscalYearCycles(const FiscalCalendar& calendar,
                                    int64_t fiscal_year,
                                    absl::string_view organisation_id,
                                    bool include_months,
                                    const CycleIdGenerator& make_id = nullptr);

// --- Instants ------------------------------------------------------------

// Loads an IANA time zone (e.g. "Europe/Berlin") from the system tzdata.
// Returns INVALID_ARGUMENT naming `time_zone` for an empty or unknown name,
// and also for "localtime" and file paths, whose meaning depends on the host.
absl::StatusOr<absl::TimeZone> LoadZone(absl::string_view name);

// The instant a local wall time happens in `zone`. A wall time skipped by a
// DST gap maps to the end of the gap (the first instant the clock shows a
// later time); a repeated wall time maps to its first occurrence.
absl::Time LocalToInstant(absl::CivilSecond local, absl::TimeZone zone);

// The instant `day` begins in `zone`: local midnight, or the end of the DST
// gap on the rare days whose midnight is skipped (e.g. America/Sao_Paulo
// before 2019), so that the result is always the first instant of the day.
absl::Time StartOfDay(absl::CivilDay day, absl::TimeZone zone);

// The fraction of `period` that has elapsed at `now` in `zone`: 0 before its
// first day starts, 1 from the instant its end day starts, linear in real
// (not wall-clock) time in between, so a 23-hour DST day counts 23 hours.
// Used as the expected progress ("pace"). An empty period gives 0 before its
// start and 1 from it on.
double ElapsedFraction(const Period& period, absl::TimeZone zone,
                       absl::Time now);

// --- Annual planning timeline ----------------------------------------------

// One dated step of annual planning. The step runs over [start, due): `due`
// is the first day on which the work is expected to be done (half-open, like
// Period), e.g. Q1 team OKRs are due on the first day of the fiscal year.
struct PlanningMilestone {
  std::string id;     // stable slug, e.g. "company-okrs"
  std::string title;  // one line for a calendar entry
  std::string who;    // who needs to be involved
  std::string what;   // what needs to happen
  absl::CivilDay start;
  absl::CivilDay due;
};

// The annual planning milestones ahead of fiscal year `fiscal_year` for
// `profile`, ordered by start day (then due day). Planning starts 6 weeks
// before the fiscal year for SMALL and 3 months before for ENTERPRISE; see
// calendar.cc for every date rule. INVALID_ARGUMENT naming
// `planning_profile` when it is unspecified.
absl::StatusOr<std::vector<PlanningMilestone>> PlanningTimeline(
    const FiscalCalendar& calendar, int64_t fiscal_year,
    PlanningProfile profile);

// --- Cadence windows ------------------------------------------------------

// A span of time [start, end) in which one reminder of a kind is due, with a
// key that is the same for every instant of the window and differs between
// windows of the same kind, for "send once per window" deduplication.
struct CadenceWindow {
  absl::Time start;
  absl::Time end;
  std::string key;  // e.g. "weekly:2027-03-08T09:00"

  // True when start <= t < end.
  bool Contains(absl::Time t) const { return start <= t && t < end; }
};

// The weekly check-in window that contains `at`: it starts at the latest
// occurrence of `weekday` `hour`:`minute` local time in `zone` at or before
// `at` and ends at the next occurrence, 7 civil days later at the same wall
// time (167 or 169 hours across a DST change). An instant exactly at an
// occurrence belongs to the window that starts there. Occurrences in a DST
// gap or overlap resolve as in LocalToInstant. The key is "weekly:" plus the
// local start wall time ("weekly:2027-03-08T09:00"). INVALID_ARGUMENT naming
// `hour`, `minute` or `at` (for an infinite time) on bad input.
absl::StatusOr<CadenceWindow> WeeklyWindow(absl::Time at, absl::Weekday weekday,
                                           int hour, int minute,
                                           absl::TimeZone zone);

// The mid-quarter review day: start + floor(days / 2). For a 90-day quarter
// starting 1 Jan that is 15 Feb (day 46 of 90).
absl::CivilDay MidQuarterDay(const Period& quarter);

// The mid-quarter review window: the week starting at the beginning of
// MidQuarterDay (7 civil days, cut at the quarter's end), keyed
// "mid-quarter:<mid day>". INVALID_ARGUMENT naming `quarter` for an empty
// period. Works for any period, e.g. a month.
absl::StatusOr<CadenceWindow> MidQuarterWindow(const Period& quarter,
                                               absl::TimeZone zone);

// The end-of-quarter review window: the last 7 civil days of the quarter
// (all of it when shorter) up to its end, extended by `grace_days` civil days
// after the end (late check-ins and scoring before the cycle closes). Keyed
// "end-of-quarter:<last day of the quarter>", independent of the grace so a
// changed policy does not re-send. INVALID_ARGUMENT naming `quarter` for an
// empty period or `grace_days` when negative.
absl::StatusOr<CadenceWindow> EndOfQuarterWindow(const Period& quarter,
                                                 absl::TimeZone zone,
                                                 int grace_days = 0);

}  // namespace okr

#endif  // OKR_COMMON_CALENDAR_H_
