// libFuzzer target: okr.v1.NotifyService's request handling, against real
// in-process planning and tracking services reached over 127.0.0.1, without
// Redis and with the webhook dispatcher stopped (no network). The first byte
// picks the RPC, the rest is its request (tests/fuzz/fuzz_stack.h).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_stack.h"

namespace {
constexpr int kResetEvery = 2000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  okr::fuzz::RunServiceInput(okr::fuzz::StackLevel::kNotify, okr::fuzz::NotifyDescriptor(),
                             data, size, kResetEvery);
  return 0;
}
