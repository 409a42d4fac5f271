// The scenario runner behind okr-bench (issue 7, docs/performance.md): starts
// Redis, okr-bench-server and the three services as child processes, loads
// the generated organisations through the public APIs, runs every selected
// scenario with the load generator and returns the result table.
//
// Each figure is reported next to a baseline measured in the same run (the
// empty RPC of okr-bench-server, its RSS, its start time), because absolute
// numbers on a shared machine drift between runs. Correctness checks (no
// failed call, no acknowledged check-in missing from the store, a reminder
// rerun publishing nothing) are failures of the run, not rows.
#ifndef OKR_TESTS_BENCH_DRIVER_BENCH_RUNNER_H_
#define OKR_TESTS_BENCH_DRIVER_BENCH_RUNNER_H_

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/bench/driver/report.h"

namespace okr::bench {

struct BenchConfig {
  bool smoke = true;
  int objectives = 300;            // the large organisation
  int tree_objectives = 200;       // the scored-tree organisation
  int small_objectives = 100;      // the "100 objectives" side of check_in_scale
  int64_t check_ins = 3000;        // loaded into the large organisation before the scenarios
  absl::Duration duration = absl::Milliseconds(300);  // measured time per load point
  absl::Duration warmup = absl::Milliseconds(100);
  int start_samples = 5;           // spawns per binary for "start"
  std::set<std::string> scenarios = {};  // keys of AllScenarios(); empty: all
  std::string work_dir = {};       // empty: a temporary directory, removed at the end
  uint64_t seed = 1;
};

// The presets of --size: "smoke" (seconds) and "full" (the sizes).
// INVALID_ARGUMENT for any other name.
absl::StatusOr<BenchConfig> PresetConfig(absl::string_view size);

struct BenchOutcome {
  std::vector<Row> rows;
  // Wall time of each phase, in order (starting services, loading, each scenario).
  std::vector<std::pair<std::string, absl::Duration>> phases;
  // Per load point, "<what> @<in flight>" and the CPU time per completed
  // call of each process (client = okr-bench itself), warm-up included.
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, absl::Duration>>>>
      cpu_per_call;
  // Correctness failures, each naming its scenario; non-empty means exit 1.
  std::vector<std::string> failures;
  // Facts about the run for the JSON meta block (machine, sizes, work dir).
  std::vector<std::pair<std::string, std::string>> meta;
};

// Runs the benchmark. Failed checks, and the error that stopped a run which
// could not go on (a binary missing, a service that does not start, a load
// that cannot connect: "run aborted: ..."), are in BenchOutcome::failures,
// next to the rows measured up to then. An error status only for a bad
// config (INVALID_ARGUMENT naming the scenario).
absl::StatusOr<BenchOutcome> RunBench(const BenchConfig& config);

}  // namespace okr::bench

#endif  // OKR_TESTS_BENCH_DRIVER_BENCH_RUNNER_H_
