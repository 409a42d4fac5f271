#include "common/request_context.h"

#include <cstdint>
#include <random>
#include <utility>

namespace okr {
namespace {

std::string& CurrentSlot() {
  thread_local std::string current;
  return current;
}

}  // namespace

std::string NewRequestId() {
  // One generator per thread, seeded from the OS: ids need to be unique,
  // not unguessable, and a lock here would serialise every RPC.
  thread_local std::mt19937_64 generator([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = generator();
    for (int i = 0; i < 16; ++i) {
      id[half * 16 + i] = kHex[bits & 0xF];
      bits >>= 4;
    }
  }
  return id;
}

bool IsValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' ||
                    c == '=';
    if (!ok) return false;
  }
  return true;
}

std::string RequestIdFromMetadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  const auto it = metadata.find(grpc::string_ref(kRequestIdKey.data(), kRequestIdKey.size()));
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

const std::string& CurrentRequestId() { return CurrentSlot(); }

ScopedRequestId::ScopedRequestId(std::string id) : previous_(std::move(CurrentSlot())) {
  CurrentSlot() = std::move(id);
}

ScopedRequestId::~ScopedRequestId() { CurrentSlot() = std::move(previous_); }

}  // namespace okr
