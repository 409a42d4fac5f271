// okr-bench: runs the benchmark scenarios of issue 7 against freshly started
// services and writes the result table (docs/performance.md explains it).
//
//   okr-bench --size=full --out=bench-results.md --json_out=bench-results.json
//   okr-bench --size=smoke --scenarios=cached_read --work_dir=/tmp/okr-bench
//
// Exit status: 0 when every correctness check passed (targets missed are not
// failures: they are rows marked "no"), 1 when a check failed or the run could
// not be carried out, 2 for bad flags.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "tests/bench/driver/bench_runner.h"
#include "tests/bench/driver/report.h"

ABSL_FLAG(std::string, size, "smoke", "preset: smoke (seconds) or full (the issue's sizes)");
ABSL_FLAG(int, objectives, 0, "objectives of the large organisation (0: the preset's)");
ABSL_FLAG(int64_t, check_ins, -1, "check-ins loaded before the scenarios (-1: the preset's)");
ABSL_FLAG(absl::Duration, duration, absl::ZeroDuration(),
          "measured time per load point (0: the preset's)");
ABSL_FLAG(absl::Duration, warmup, absl::InfiniteDuration(),
          "unmeasured warm-up per load point (default: the preset's)");
ABSL_FLAG(std::string, scenarios, "",
          "comma-separated scenarios (baseline, load, cached_read, check_in, check_in_scale, "
          "tree, rebuild, reminders, memory, start); empty: all");
ABSL_FLAG(std::string, out, "", "markdown table path (empty: stdout only)");
ABSL_FLAG(std::string, json_out, "", "JSON results path (empty: none)");
ABSL_FLAG(std::string, work_dir, "",
          "stores and logs of the services; kept when given (empty: a temporary directory)");

namespace {

bool WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  out.close();
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Runs the OKR Suite benchmark scenarios and writes a markdown table.");
  absl::ParseCommandLine(argc, argv);

  absl::StatusOr<okr::bench::BenchConfig> config =
      okr::bench::PresetConfig(absl::GetFlag(FLAGS_size));
  if (!config.ok()) {
    std::cerr << "okr-bench: " << config.status().message() << "\n";
    return 2;
  }
  if (const int n = absl::GetFlag(FLAGS_objectives); n != 0) {
    if (n < 1) {
      std::cerr << "okr-bench: --objectives: must be >= 1\n";
      return 2;
    }
    config->objectives = n;
  }
  if (const int64_t n = absl::GetFlag(FLAGS_check_ins); n >= 0) config->check_ins = n;
  if (const absl::Duration d = absl::GetFlag(FLAGS_duration); d != absl::ZeroDuration()) {
    if (d < absl::ZeroDuration()) {
      std::cerr << "okr-bench: --duration: must be > 0\n";
      return 2;
    }
    config->duration = d;
  }
  if (const absl::Duration d = absl::GetFlag(FLAGS_warmup); d != absl::InfiniteDuration()) {
    if (d < absl::ZeroDuration()) {
      std::cerr << "okr-bench: --warmup: must be >= 0\n";
      return 2;
    }
    config->warmup = d;
  }
  for (absl::string_view s :
       absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',', absl::SkipWhitespace())) {
    const auto& all = okr::bench::AllScenarios();
    if (std::find(all.begin(), all.end(), s) == all.end()) {
      std::cerr << "okr-bench: --scenarios: unknown scenario '" << s << "'\n";
      return 2;
    }
    config->scenarios.insert(std::string(s));
  }
  config->work_dir = absl::GetFlag(FLAGS_work_dir);

  absl::StatusOr<okr::bench::BenchOutcome> outcome = okr::bench::RunBench(*config);
  if (!outcome.ok()) {
    std::cerr << "okr-bench: " << outcome.status() << "\n";
    return 1;
  }

  std::string markdown = absl::StrCat(
      "## okr-bench (", config->smoke ? "smoke" : "full", ")\n\n");
  for (const auto& [key, value] : outcome->meta) {
    if (key.rfind("phase: ", 0) == 0) continue;
    absl::StrAppend(&markdown, "- ", key, ": ", value, "\n");
  }
  absl::StrAppend(&markdown, "\n", okr::bench::RenderMarkdown(outcome->rows, config->smoke));
  if (!outcome->cpu_per_call.empty()) {
    // One column per process, in the order they first appear.
    std::vector<std::string> columns;
    for (const auto& [point, usage] : outcome->cpu_per_call) {
      for (const auto& [process, each] : usage) {
        if (std::find(columns.begin(), columns.end(), process) == columns.end()) {
          columns.push_back(process);
        }
      }
    }
    absl::StrAppend(&markdown,
                    "\nCPU per call, us (each process's user + system time over the calls of "
                    "the point, warm-up included; blank: under 1 us):\n\n| load point |");
    for (const std::string& c : columns) absl::StrAppend(&markdown, " ", c, " |");
    absl::StrAppend(&markdown, " total |\n| --- |");
    for (size_t i = 0; i <= columns.size(); ++i) absl::StrAppend(&markdown, " ---: |");
    absl::StrAppend(&markdown, "\n");
    for (const auto& [point, usage] : outcome->cpu_per_call) {
      absl::StrAppend(&markdown, "| ", point, " |");
      absl::Duration total;
      for (const std::string& c : columns) {
        auto it =
            std::find_if(usage.begin(), usage.end(), [&](const auto& u) { return u.first == c; });
        if (it == usage.end()) {
          absl::StrAppend(&markdown, " |");
          continue;
        }
        total += it->second;
        absl::StrAppend(&markdown,
                        absl::StrFormat(" %.0f |", absl::ToDoubleMicroseconds(it->second)));
      }
      absl::StrAppend(&markdown, absl::StrFormat(" %.0f |\n", absl::ToDoubleMicroseconds(total)));
    }
  }
  absl::StrAppend(&markdown, "\nPhases:\n\n");
  for (const auto& [name, took] : outcome->phases) {
    absl::StrAppend(&markdown,
                    absl::StrFormat("- %s: %.1f s\n", name, absl::ToDoubleSeconds(took)));
  }
  if (!outcome->failures.empty()) {
    absl::StrAppend(&markdown, "\nFAILED checks:\n\n");
    for (const std::string& f : outcome->failures) absl::StrAppend(&markdown, "- ", f, "\n");
  }
  std::cout << markdown;
  if (const std::string path = absl::GetFlag(FLAGS_out); !path.empty()) {
    if (!WriteFile(path, markdown)) {
      std::cerr << "okr-bench: --out: cannot write '" << path << "'\n";
      return 1;
    }
  }
  if (const std::string path = absl::GetFlag(FLAGS_json_out); !path.empty()) {
    if (!WriteFile(path, okr::bench::RenderJson(outcome->rows, config->smoke, outcome->meta))) {
      std::cerr << "okr-bench: --json_out: cannot write '" << path << "'\n";
      return 1;
    }
  }
  if (!outcome->failures.empty()) {
    for (const std::string& f : outcome->failures) std::cerr << "okr-bench: FAILED " << f << "\n";
    return 1;
  }
  return 0;
}
