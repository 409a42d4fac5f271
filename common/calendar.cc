#include "common/calendar.h"

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace okr {
namespace {

// Months to add to a calendar month so that the fiscal year's first month
// lands on January of the year the fiscal year is named after. Start month 1:
// no shift. Start month 2: Feb 2026 (first month of FY2027) + 11 = Jan 2027.
int NamingShift(int start_month) { return (13 - start_month) % 12; }

absl::Status MustBeNonEmpty(const Period& period, absl::string_view field) {
  if (period.end > period.start) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": end ", absl::FormatCivilTime(period.end),
      " must be after start ", absl::FormatCivilTime(period.start)));
}

}  // namespace

// --- FiscalCalendar --------------------------------------------------------

absl::StatusOr<FiscalCalendar> FiscalCalendar::Create(int start_month) {
  if (start_month < 1 || start_month > 12) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fiscal_year_start_month: must be 1..12 (1 = January), got ",
        start_month));
  }
  return FiscalCalendar(start_month);
}

absl::CivilMonth FiscalCalendar::FirstMonth(int64_t fiscal_year) const {
  // Named by the year it ends in: unless it starts in January, the fiscal
  // year begins in the previous calendar year.
  const int64_t first_year = start_month_ == 1 ? fiscal_year : fiscal_year - 1;
  return absl::CivilMonth(first_year, start_month_);
}

int64_t FiscalCalendar::FiscalYearOf(absl::CivilDay day) const {
  return (absl::CivilMonth(day) + NamingShift(start_month_)).year();
}

FiscalPosition FiscalCalendar::Locate(absl::CivilDay day) const {
  const absl::CivilMonth shifted =
      absl::CivilMonth(day) + NamingShift(start_month_);
  FiscalPosition pos;
  pos.year = shifted.year();
  pos.month = shifted.month();
  pos.quarter = (pos.month - 1) / 3 + 1;
  return pos;
}

Period FiscalCalendar::Year(int64_t fiscal_year) const {
  const absl::CivilMonth first = FirstMonth(fiscal_year);
  return {absl::CivilDay(first), absl::CivilDay(first + 12)};
}

absl::StatusOr<Period> FiscalCalendar::Quarter(int64_t fiscal_year,
                                               int quarter) const {
  if (quarter < 1 || quarter > 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("quarter: must be 1..4, got ", quarter));
  }
  const absl::CivilMonth first = FirstMonth(fiscal_year) + 3 * (quarter - 1);
  return Period{absl::CivilDay(first), absl::CivilDay(first + 3)};
}

absl::StatusOr<Period> FiscalCalendar::Month(int64_t fiscal_year,
                                             int month) const {
  if (month < 1 || month > 12) {
    return absl::InvalidArgumentError(
        absl::StrCat("month: must be 1..12 (fiscal month), got ", month));
  }
  const absl::CivilMonth first = FirstMonth(fiscal_year) + (month - 1);
  return Period{absl::CivilDay(first), absl::CivilDay(first + 1)};
}

Period FiscalCalendar::YearContaining(absl::CivilDay day) const {
  return Year(FiscalYearOf(day));
}

Period FiscalCalendar::QuarterContaining(absl::CivilDay day) const {
  const FiscalPosition pos = Locate(day);
  return *Quarter(pos.year, pos.quarter);
}

Period FiscalCalendar::MonthContaining(absl::CivilDay day) const {
  const absl::CivilMonth month(day);
  return {absl::CivilDay(month), absl::CivilDay(month + 1)};
}

std::string FiscalYearName(int64_t fiscal_year) {
  return absl::StrFormat("FY%04d", fiscal_year);
}

std::string FiscalQuarterName(int64_t fiscal_year, int quarter) {
  return absl::StrFormat("FY%04d-Q%d", fiscal_year, quarter);
}

std::string FiscalMonthName(int64_t fiscal_year, int month) {
  return absl::StrFormat("FY%04d-M%02d", fiscal_year, month);
}

std::vector<Cycle> FiscalYearCycles(const FiscalCalendar& calendar,
                                    int64_t fiscal_year,
                                    absl::string_view organisation_id,
                                    bool include_months,
                                    const CycleIdGenerator& make_id) {
  std::vector<Cycle> cycles;
  cycles.reserve(include_months ? 17 : 5);
  auto add = [&](std::string name, CycleKind kind, const Period& period,
                 const Id& parent_id) -> const Id& {
    Cycle c;
    c.organisation_id = std::string(organisation_id);
    c.name = std::move(name);
    c.kind = kind;
    c.start = period.start;
    c.end = period.end;
    c.parent_cycle_id = parent_id;
    c.state = CycleState::kPlanning;
    c.id = make_id ? make_id(c) : c.name;
    cycles.push_back(std::move(c));
    return cycles.back().id;
  };

  // Copies, not references: push_back may reallocate under a reference.
  const Id year_id = add(FiscalYearName(fiscal_year), CycleKind::kAnnual,
                         calendar.Year(fiscal_year), Id());
  for (int q = 1; q <= 4; ++q) {
    const Id quarter_id =
        add(FiscalQuarterName(fiscal_year, q), CycleKind::kQuarterly,
            *calendar.Quarter(fiscal_year, q), year_id);
    if (!include_months) continue;
    for (int m = 3 * (q - 1) + 1; m <= 3 * q; ++m) {
      add(FiscalMonthName(fiscal_year, m), CycleKind::kMonthly,
          *calendar.Month(fiscal_year, m), quarter_id);
    }
  }
  return cycles;
}

// --- Instants ------------------------------------------------------------

absl::StatusOr<absl::TimeZone> LoadZone(absl::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError(
        "time_zone: must not be empty; use an IANA name such as "
        "'Europe/Berlin' or 'UTC'");
  }
  // The loader would also accept "localtime", absolute or relative file
  // paths and "file:<path>"; their meaning depends on the host, so an organisation's zone
  // could silently differ between replicas.
  if (name == "localtime" || absl::StartsWith(name, "/") ||
      absl::StrContains(name, "..") || absl::StrContains(name, ":")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "time_zone: '", name,
        "' is not an IANA time zone name (e.g. 'America/New_York')"));
  }
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(std::string(name), &zone)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "time_zone: unknown IANA time zone '", name,
        "' (expected a name such as 'Europe/Berlin' from the tz database)"));
  }
  return zone;
}

absl::Time LocalToInstant(absl::CivilSecond local, absl::TimeZone zone) {
  // absl::FromCivil already resolves a skipped time to the transition and a
  // repeated one to the earlier (pre-transition) instant; spelled out here
  // because the cadence and pace rules depend on exactly that choice.
  const absl::TimeZone::TimeInfo info = zone.At(local);
  if (info.kind == absl::TimeZone::TimeInfo::SKIPPED) return info.trans;
  return info.pre;
}

absl::Time StartOfDay(absl::CivilDay day, absl::TimeZone zone) {
  return LocalToInstant(absl::CivilSecond(day), zone);
}

double ElapsedFraction(const Period& period, absl::TimeZone zone,
                       absl::Time now) {
  const absl::Time start = StartOfDay(period.start, zone);
  const absl::Time end = StartOfDay(period.end, zone);
  if (now < start) return 0.0;
  if (now >= end) return 1.0;
  // Here start <= now < end, so end > start and the division is safe.
  return absl::FDivDuration(now - start, end - start);
}

// --- Annual planning timeline ----------------------------------------------
//
// Dates, with F the first day of the fiscal year (from the source document's
// "annual planning timeline overview" and its three "who needs to be
// involved" sections):
//
//   step                        SMALL               ENTERPRISE
//   leadership-kickoff          [F-6w,  F-5w)       [F-3mo, F-2mo)
//   company-okrs                [F-5w,  F-4w)       [F-2mo, F-1mo)
//   communicate-company-okrs    [F-4w,  F-2w)       [F-1mo, F-1mo+2w)
//   team-q1-okrs                [F-4w,  F)          [F-1mo, F)
//   rollout-q1-team-okrs        [F,     F+2w)       same
//   cascade-to-individuals      [F,     F+3w)       same
//   schedule-check-ins-reviews  [F,     F+3w)       same
//
// The document gives 4-6 weeks of lead for small brands and 2-3 months for
// enterprises; we take the upper bound so the schedule has slack. Reflection
// gets the first week (SMALL) or month (ENTERPRISE) and writing the company
// OKRs the rest of the time until communication, which is "a minimum of a
// month" before the year (SMALL: 4 weeks, to stay on a weekly rhythm). Team
// leaders start their Q1 OKRs as soon as the company OKRs are communicated,
// while priorities are still discussed, because the document puts both in
// the same "1 month prior" column.

absl::StatusOr<std::vector<PlanningMilestone>> PlanningTimeline(
    const FiscalCalendar& calendar, int64_t fiscal_year,
    PlanningProfile profile) {
  const absl::CivilDay f = calendar.Year(fiscal_year).start;
  const absl::CivilMonth f_month(f);  // F is always the 1st of a month
  absl::CivilDay kickoff;
  absl::CivilDay writing;
  absl::CivilDay communicate;
  switch (profile) {
    case PlanningProfile::kSmall:
      kickoff = f - 6 * 7;
      writing = f - 5 * 7;
      communicate = f - 4 * 7;
      break;
    case PlanningProfile::kEnterprise:
      kickoff = absl::CivilDay(f_month - 3);
      writing = absl::CivilDay(f_month - 2);
      communicate = absl::CivilDay(f_month - 1);
      break;
    case PlanningProfile::kUnspecified:
      return absl::InvalidArgumentError(
          "planning_profile: must be SMALL (4-6 weeks of lead time) or "
          "ENTERPRISE (2-3 months), got PLANNING_PROFILE_UNSPECIFIED");
  }

  const std::string fy = FiscalYearName(fiscal_year);
  std::vector<PlanningMilestone> out;
  out.push_back({
      "leadership-kickoff",
      absl::StrCat("Leadership kick-off and reflection for ", fy),
      "Executives and senior-level leadership",
      "Begin annual planning meetings. Reflect on last year's annual goals "
      "before creating new ones: which goals no longer apply, which to roll "
      "over, what was learned from the ones not reached, and whether the "
      "OKRs were well written. Celebrate the wins.",
      kickoff,
      writing,
  });
  out.push_back({
      "company-okrs",
      absl::StrCat("Write ", fy, " company annual OKRs and Q1 company OKRs"),
      "Executives and senior-level leadership",
      "Write 3-5 company-level annual objectives with 3-5 key results each, "
      "connected to the mission, vision and values, and the first quarter's "
      "company OKRs. Edit, align (PLOT) and decide how each key result is "
      "measured and where its data comes from.",
      writing,
      communicate,
  });
  out.push_back({
      "communicate-company-okrs",
      "Communicate company OKRs to team leaders",
      "Executive leadership, directors and team leaders",
      "Communicate the company-level annual OKRs to directors and team "
      "leaders and discuss how they align with each team's quarterly goals "
      "and the priorities and focus for the upcoming year. Optionally run "
      "OKR workshops and coaching for teams and leaders new to OKRs.",
      communicate,
      communicate + 2 * 7,
  });
  out.push_back({
      "team-q1-okrs",
      "Team leaders write Q1 team OKRs",
      "Team leaders, with senior leadership",
      "Write each team's Q1 OKRs aligned to the company-level OKRs, ready "
      "by the first day of the fiscal year.",
      communicate,
      f,
  });
  out.push_back({
      "rollout-q1-team-okrs",
      "Roll out Q1 team OKRs",
      "Team leaders and their teams (the entire company)",
      "Roll out the Q1 team OKRs and communicate the expectations for the "
      "first three months.",
      f,
      f + 2 * 7,
  });
  out.push_back({
      "cascade-to-individuals",
      "Cascade team OKRs to individuals",
      "Team leaders and individual contributors",
      "Cascade team OKRs to individuals, either with the Duality method (a "
      "parent key result becomes the child's objective) or the Classic "
      "method (individuals write their own OKRs aligned to the team's).",
      f,
      f + 3 * 7,
  });
  out.push_back({
      "schedule-check-ins-reviews",
      "Schedule check-ins, mid-quarter and end-of-quarter reviews",
      "Team leaders and team members",
      "Schedule regular check-ins throughout the quarter, a mid-quarter "
      "review, and time to score and review OKRs at the end of the quarter. "
      "The cycle repeats every quarter.",
      f,
      f + 3 * 7,
  });
  std::stable_sort(out.begin(), out.end(),
                   [](const PlanningMilestone& a, const PlanningMilestone& b) {
                     return std::tie(a.start, a.due) < std::tie(b.start, b.due);
                   });
  return out;
}

// --- Cadence windows ------------------------------------------------------

absl::StatusOr<CadenceWindow> WeeklyWindow(absl::Time at, absl::Weekday weekday,
                                           int hour, int minute,
                                           absl::TimeZone zone) {
  if (hour < 0 || hour > 23) {
    return absl::InvalidArgumentError(
        absl::StrCat("hour: must be 0..23 (local time), got ", hour));
  }
  if (minute < 0 || minute > 59) {
    return absl::InvalidArgumentError(
        absl::StrCat("minute: must be 0..59, got ", minute));
  }
  if (at == absl::InfinitePast() || at == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("at: must be a finite time");
  }
  auto occurrence = [&](absl::CivilDay day) {
    return LocalToInstant(
        absl::CivilSecond(absl::CivilMinute(day.year(), day.month(), day.day(),
                                            hour, minute)),
        zone);
  };
  // Start from the latest such weekday on or before the local date of `at`;
  // the loops correct the rare cases where the wall time there is still
  // ahead of `at`, or where a transition moved local time across midnight.
  absl::CivilDay day = absl::PrevWeekday(
      absl::CivilDay(absl::ToCivilSecond(at, zone)) + 1, weekday);
  while (occurrence(day) > at) day -= 7;
  while (occurrence(day + 7) <= at) day += 7;

  CadenceWindow window;
  window.start = occurrence(day);
  window.end = occurrence(day + 7);
  window.key = absl::StrCat(
      "weekly:", absl::FormatCivilTime(absl::CivilMinute(
                     day.year(), day.month(), day.day(), hour, minute)));
  return window;
}

absl::CivilDay MidQuarterDay(const Period& quarter) {
  return quarter.start + quarter.Days() / 2;
}

absl::StatusOr<CadenceWindow> MidQuarterWindow(const Period& quarter,
                                               absl::TimeZone zone) {
  OKR_RETURN_IF_ERROR(MustBeNonEmpty(quarter, "quarter"));
  const absl::CivilDay mid = MidQuarterDay(quarter);
  CadenceWindow window;
  window.start = StartOfDay(mid, zone);
  window.end = StartOfDay(std::min(mid + 7, quarter.end), zone);
  window.key = absl::StrCat("mid-quarter:", absl::FormatCivilTime(mid));
  return window;
}

absl::StatusOr<CadenceWindow> EndOfQuarterWindow(const Period& quarter,
                                                 absl::TimeZone zone,
                                                 int grace_days) {
  OKR_RETURN_IF_ERROR(MustBeNonEmpty(quarter, "quarter"));
  if (grace_days < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("grace_days: must be >= 0, got ", grace_days));
  }
  CadenceWindow window;
  window.start = StartOfDay(std::max(quarter.end - 7, quarter.start), zone);
  window.end = StartOfDay(quarter.end + grace_days, zone);
  window.key =
      absl::StrCat("end-of-quarter:", absl::FormatCivilTime(quarter.end - 1));
  return window;
}

}  // namespace okr
