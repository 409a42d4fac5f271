// Microbenchmarks of scoring (common/scoring.h): KR progress of each type,
// score lookups and explanations, the cold ScoreGraph::Build of a whole
// organisation, and the incremental ApplyCheckIn whose cost must stay flat in
// the organisation's size (it walks one parent chain). Plans come from the
// organisation generator, one latest check-in per key result.
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "common/model.h"
#include "common/scoring.h"
#include "tests/bench/micro/plans.h"

namespace okr::bench {
namespace {

void BM_MetricProgress(benchmark::State& state) {
  const auto direction = static_cast<Direction>(state.range(0));
  double current = 10;
  for (auto _ : state) {
    benchmark::DoNotOptimize(MetricProgress(direction, 10, 50, current));
    current = current < 60 ? current + 0.5 : 0;
  }
  state.SetLabel(std::string(Name(direction)));
}
BENCHMARK(BM_MetricProgress)
    ->Arg(static_cast<int>(Direction::kIncrease))
    ->Arg(static_cast<int>(Direction::kDecrease))
    ->Arg(static_cast<int>(Direction::kAtLeast))
    ->Arg(static_cast<int>(Direction::kAtMost));

// 0: KPI increase, 1: KPI decrease, 2: percent complete, 3: at least,
// 4: milestone.
void BM_KeyResultProgress(benchmark::State& state) {
  KeyResult kr;
  kr.id = "kr";
  kr.type = KeyResultType::kMetric;
  kr.measure = Measure::kKpi;
  kr.from = 20;
  kr.to = 45;
  const char* label = "KPI increase";
  switch (state.range(0)) {
    case 1:
      kr.from = 24;
      kr.to = 8;
      label = "KPI decrease";
      break;
    case 2:
      kr.measure = Measure::kPercentComplete;
      kr.from = 0;
      kr.to = 100;
      label = "percent complete";
      break;
    case 3:
      kr.direction = Direction::kAtLeast;
      kr.to = 85;
      label = "at least";
      break;
    case 4:
      kr = KeyResult();
      kr.id = "kr";
      kr.type = KeyResultType::kMilestone;
      label = "milestone";
      break;
    default:
      break;
  }
  CheckIn ci;
  ci.key_result_id = "kr";
  if (kr.type == KeyResultType::kMilestone) {
    ci.done = true;
  } else {
    ci.value = 30;
  }
  for (auto _ : state) benchmark::DoNotOptimize(KeyResultProgress(kr, &ci));
  state.SetLabel(label);
}
BENCHMARK(BM_KeyResultProgress)->DenseRange(0, 4);

// A built graph per plan size, shared by the read and update benchmarks.
ScoreGraph& GraphOf(int objectives) {
  static auto* graphs = new std::map<int, std::unique_ptr<ScoreGraph>>();
  auto& slot = (*graphs)[objectives];
  if (slot == nullptr) {
    const BenchPlan& p = PlanOf(objectives);
    slot = std::make_unique<ScoreGraph>(
        *ScoreGraph::Build(p.plan.objectives, p.plan.key_results, p.check_ins));
  }
  return *slot;
}

void BM_ScoreOf(benchmark::State& state) {
  const BenchPlan& p = PlanOf(static_cast<int>(state.range(0)));
  ScoreGraph& graph = GraphOf(static_cast<int>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(graph.ScoreOf(p.plan.objectives[i].id));
    if (++i == p.plan.objectives.size()) i = 0;
  }
}
BENCHMARK(BM_ScoreOf)->Arg(100)->Arg(100000);

void BM_ExplainObjective(benchmark::State& state) {
  const BenchPlan& p = PlanOf(static_cast<int>(state.range(0)));
  ScoreGraph& graph = GraphOf(static_cast<int>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(graph.ExplainObjective(p.plan.objectives[i].id));
    if (++i == p.plan.objectives.size()) i = 0;
  }
}
BENCHMARK(BM_ExplainObjective)->Arg(100);

// The cold rebuild: a whole organisation (objectives x 4 KRs, one check-in
// per KR) scored from scratch, as tracking does at start and on RebuildRollups.
void BM_GraphBuild(benchmark::State& state) {
  const BenchPlan& p = PlanOf(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    absl::StatusOr<ScoreGraph> graph =
        ScoreGraph::Build(p.plan.objectives, p.plan.key_results, p.check_ins);
    if (!graph.ok()) {
      state.SkipWithError("Build failed");
      break;
    }
    benchmark::DoNotOptimize(graph->objective_count());
  }
  state.counters["objectives"] = static_cast<double>(p.plan.objectives.size());
  state.counters["key_results"] = static_cast<double>(p.plan.key_results.size());
  state.SetItemsProcessed(state.iterations() *
                          static_cast<int64_t>(p.plan.objectives.size() + p.plan.key_results.size()));
}
BENCHMARK(BM_GraphBuild)->Arg(100)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

// One incremental check-in: merge into the KR and carry the change up its
// chain. The stream moves every KR towards its target, so most calls change
// a score and propagate.
void BM_GraphApplyCheckIn(benchmark::State& state) {
  const BenchPlan& p = PlanOf(static_cast<int>(state.range(0)));
  ScoreGraph& graph = GraphOf(static_cast<int>(state.range(0)));
  // Pre-generated so the loop times ApplyCheckIn alone.
  std::vector<CheckIn> stream;
  const uint64_t count = 4096;
  const uint64_t first = p.plan.key_results.size();  // after the initial round
  stream.reserve(count);
  // Pairs of check-ins of one KR four rounds apart, so that every call
  // changes the KR's value (A, B, A, B ... on successive passes).
  const uint64_t krs = p.plan.key_results.size();
  for (uint64_t i = 0; i < count / 2; ++i) {
    const uint64_t index = first + (i * 7919) % (4 * krs);
    stream.push_back(GenerateCheckIn(p.plan, index));
    stream.push_back(GenerateCheckIn(p.plan, index + 4 * krs));
  }
  // Each check-in is made newer than everything before it, so that it is
  // merged rather than ignored as stale.
  static absl::Time clock = absl::Now();
  size_t i = 0;
  int64_t touched = 0;
  for (auto _ : state) {
    clock += absl::Microseconds(1);
    stream[i].time = clock;
    absl::StatusOr<ScoreUpdate> update = graph.ApplyCheckIn(stream[i]);
    touched += update.ok() ? static_cast<int64_t>(update->objectives.size()) : 0;
    if (++i == stream.size()) i = 0;
  }
  state.counters["objectives_touched"] =
      benchmark::Counter(static_cast<double>(touched), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_GraphApplyCheckIn)->Arg(100)->Arg(10000)->Arg(100000);

}  // namespace
}  // namespace okr::bench
