// Generated plans shared by the microbenchmarks: one per size, built on
// first use (outside any timed loop) and kept for the process.
#ifndef OKR_TESTS_BENCH_MICRO_PLANS_H_
#define OKR_TESTS_BENCH_MICRO_PLANS_H_

#include <vector>

#include "common/model.h"
#include "tests/bench/org/org_generator.h"

namespace okr::bench {

struct BenchPlan {
  Plan plan;
  std::vector<CheckIn> check_ins;  // one per key result (its first check-in)
};

// The plan of `objectives` quarter objectives (4 KRs each, seed 1). Not
// thread-safe; benchmarks run on one thread.
const BenchPlan& PlanOf(int objectives);

}  // namespace okr::bench

#endif  // OKR_TESTS_BENCH_MICRO_PLANS_H_
