#include "tests/bench/micro/plans.h"

#include <map>
#include <memory>

namespace okr::bench {

const BenchPlan& PlanOf(int objectives) {
  static auto* plans = new std::map<int, std::unique_ptr<BenchPlan>>();
  auto& slot = (*plans)[objectives];
  if (slot == nullptr) {
    slot = std::make_unique<BenchPlan>();
    slot->plan = GenerateOrg({.seed = 1, .objectives = objectives});
    slot->check_ins.reserve(slot->plan.key_results.size());
    for (uint64_t i = 0; i < slot->plan.key_results.size(); ++i) {
      slot->check_ins.push_back(GenerateCheckIn(slot->plan, i));
    }
  }
  return *slot;
}

}  // namespace okr::bench
