// libFuzzer target: okr.v1.TrackingService's request handling, against a
// real in-process planning service reached over 127.0.0.1 (its real
// GrpcPlanSource). The first byte picks the RPC, the rest is its request
// (tests/fuzz/fuzz_stack.h).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_stack.h"

namespace {
constexpr int kResetEvery = 2000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  okr::fuzz::RunServiceInput(okr::fuzz::StackLevel::kTracking, okr::fuzz::TrackingDescriptor(),
                             data, size, kResetEvery);
  return 0;
}
