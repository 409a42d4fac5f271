// Microbenchmarks of lint (common/lint.h) and the calendar
// (common/calendar.h): the pure model functions the services call per
// request or per reminder run.
#include <cstdint>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "common/calendar.h"
#include "common/lint.h"
#include "tests/bench/micro/plans.h"

namespace okr::bench {
namespace {

// The whole-organisation lint of a generated plan (the planning service's
// Lint with an organisation scope).
void BM_LintPlan(benchmark::State& state) {
  const BenchPlan& p = PlanOf(static_cast<int>(state.range(0)));
  size_t findings = 0;
  for (auto _ : state) {
    std::vector<Finding> result = LintPlan(p.plan);
    findings = result.size();
    benchmark::DoNotOptimize(result.data());
  }
  state.counters["findings"] = static_cast<double>(findings);
  state.counters["objectives"] = static_cast<double>(p.plan.objectives.size());
}
BENCHMARK(BM_LintPlan)->Arg(1000)->Unit(benchmark::kMillisecond);

// One objective with its KRs, as CreateObjective / UpdateObjective lint it.
void BM_LintObjective(benchmark::State& state) {
  const BenchPlan& p = PlanOf(1000);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(LintObjective(p.plan, p.plan.objectives[i]));
    if (++i == p.plan.objectives.size()) i = 0;
  }
}
BENCHMARK(BM_LintObjective);

const absl::TimeZone& Zone() {
  static const absl::TimeZone* zone = [] {
    auto* z = new absl::TimeZone;
    if (!absl::LoadTimeZone("America/New_York", z)) *z = absl::UTCTimeZone();
    return z;
  }();
  return *zone;
}

void BM_CalendarLocate(benchmark::State& state) {
  const FiscalCalendar calendar = *FiscalCalendar::Create(2);
  absl::CivilDay day(2026, 1, 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(calendar.Locate(day));
    day += 1;
  }
}
BENCHMARK(BM_CalendarLocate);

void BM_CalendarQuarterContaining(benchmark::State& state) {
  const FiscalCalendar calendar = *FiscalCalendar::Create(2);
  absl::CivilDay day(2026, 1, 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(calendar.QuarterContaining(day));
    day += 1;
  }
}
BENCHMARK(BM_CalendarQuarterContaining);

void BM_CalendarFiscalYearCycles(benchmark::State& state) {
  const FiscalCalendar calendar = *FiscalCalendar::Create(2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(FiscalYearCycles(calendar, 2027, "org", /*include_months=*/true));
  }
}
BENCHMARK(BM_CalendarFiscalYearCycles);

void BM_CalendarStartOfDay(benchmark::State& state) {
  const absl::TimeZone zone = Zone();
  absl::CivilDay day(2026, 1, 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(StartOfDay(day, zone));
    day += 1;
  }
}
BENCHMARK(BM_CalendarStartOfDay);

void BM_CalendarElapsedFraction(benchmark::State& state) {
  const absl::TimeZone zone = Zone();
  const Period quarter{absl::CivilDay(2026, 2, 1), absl::CivilDay(2026, 5, 1)};
  absl::Time now = absl::FromCivil(absl::CivilDay(2026, 3, 1), zone);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ElapsedFraction(quarter, zone, now));
    now += absl::Minutes(7);
  }
}
BENCHMARK(BM_CalendarElapsedFraction);

// The notify service's per-recipient window keys.
void BM_CalendarWeeklyWindow(benchmark::State& state) {
  const absl::TimeZone zone = Zone();
  absl::Time at = absl::FromCivil(absl::CivilDay(2026, 3, 1), zone);
  for (auto _ : state) {
    benchmark::DoNotOptimize(WeeklyWindow(at, absl::Weekday::monday, 9, 0, zone));
    at += absl::Minutes(37);
  }
}
BENCHMARK(BM_CalendarWeeklyWindow);

void BM_CalendarReviewWindows(benchmark::State& state) {
  const absl::TimeZone zone = Zone();
  const Period quarter{absl::CivilDay(2026, 2, 1), absl::CivilDay(2026, 5, 1)};
  for (auto _ : state) {
    benchmark::DoNotOptimize(MidQuarterWindow(quarter, zone));
    benchmark::DoNotOptimize(EndOfQuarterWindow(quarter, zone, 7));
  }
}
BENCHMARK(BM_CalendarReviewWindows);

void BM_CalendarPlanningTimeline(benchmark::State& state) {
  const FiscalCalendar calendar = *FiscalCalendar::Create(2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(PlanningTimeline(calendar, 2027, PlanningProfile::kEnterprise));
  }
}
BENCHMARK(BM_CalendarPlanningTimeline);

}  // namespace
}  // namespace okr::bench
