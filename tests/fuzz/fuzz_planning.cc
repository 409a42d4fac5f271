// libFuzzer target: okr.v1.PlanningService's request handling. The first
// byte picks the RPC, the rest is its request (tests/fuzz/fuzz_stack.h).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_stack.h"

namespace {
// Each input may create objects; a fresh stack every so often keeps the
// organisation small and runs fast.
constexpr int kResetEvery = 2000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  okr::fuzz::RunServiceInput(okr::fuzz::StackLevel::kPlanning, okr::fuzz::PlanningDescriptor(),
                             data, size, kResetEvery);
  return 0;
}
