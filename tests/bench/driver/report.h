// The result table of okr-bench (issue 7, docs/performance.md): one row per
// measured figure, each with its absolute value, the baseline measured in the
// same run, their ratio, the target and whether it was met. Absolute times
// on a shared machine drift from run to run; the ratio to a baseline taken
// minutes earlier on the same machine is what the targets are stated in.
//
// Everything here is pure (no I/O), so the formatting and the verdicts are
// unit-tested without running a service.
#ifndef OKR_TESTS_BENCH_DRIVER_REPORT_H_
#define OKR_TESTS_BENCH_DRIVER_REPORT_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace okr::bench {

// How a row's value and baseline are printed. Durations are in seconds,
// sizes in bytes, rates in events per second.
enum class Unit { kPerSecond, kSeconds, kBytes, kCount };

// What a row is judged against. Ratio targets compare Row::ratio(); value
// targets compare the absolute value; kAtMostBaselinePlus compares the value
// with baseline + limit (same unit as the value).
enum class TargetKind {
  kNone,
  kRatioAtLeast,
  kRatioAtMost,
  kValueBelow,
  kValueEquals,
  kEqualsBaseline,
  kAtMostBaselinePlus,
};

struct Target {
  TargetKind kind = TargetKind::kNone;
  double limit = 0;
};

struct Row {
  // Scenario key as accepted by --scenarios ("cached_read"), and the row's
  // label in the table ("b. cached read: GetObjectiveScore QPS @32").
  std::string scenario = {};
  std::string label = {};
  Unit unit = Unit::kCount;
  // Printed after a kPerSecond value ("/s" by default, e.g. " objectives/s").
  std::string rate_suffix = "/s";
  double value = 0;
  std::optional<double> baseline = std::nullopt;
  std::string baseline_label = {};  // e.g. "Empty @32"
  // When true, ratio() is baseline / value: for throughputs whose cost, not
  // speed, is compared ("100 vs 100,000 objectives: at most 1.2x slower").
  bool inverse_ratio = false;
  Target target = {};
  std::string note = {};  // free text under the table

  // value / baseline (or the inverse); nullopt without a positive baseline
  // and value.
  std::optional<double> ratio() const;
  // Whether the target is met; nullopt when the row has no target or the
  // figure it compares is missing.
  std::optional<bool> met() const;
};

// "52,134/s", "152 us", "4.52 ms", "1.23 s", "23.4 MiB", "12,345".
std::string FormatValue(Unit unit, double value, absl::string_view rate_suffix = "/s");
// ">= 0.8x", "<= 1.5x", "< 0.5 s", "= 0", "= baseline", "<= baseline + 100 us",
// "" for kNone.
std::string FormatTarget(const Row& row);

// The markdown table: scenario | value | baseline | ratio | target | met.
// With `smoke` the met column says "smoke" wherever there is a target (a
// smoke-sized run gives no verdicts); otherwise "yes", "**no**" or "-".
// Rows with notes get numbered footnotes under the table.
std::string RenderMarkdown(const std::vector<Row>& rows, bool smoke);

// The rows as a JSON document: {"meta": {...}, "rows": [...]}; `meta` is a
// list of string key/value pairs (size, machine, phases...). Numbers are
// plain JSON numbers in the units of Unit; missing ones are null.
std::string RenderJson(const std::vector<Row>& rows, bool smoke,
                       const std::vector<std::pair<std::string, std::string>>& meta);

// The scenario keys every full table must have rows for, in table order.
const std::vector<std::string>& AllScenarios();

}  // namespace okr::bench

#endif  // OKR_TESTS_BENCH_DRIVER_REPORT_H_
