#include "common/grpc_status.h"

#include <atomic>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace okr {
namespace {

// Function pointers in atomics: conversions run on every failed RPC, from any
// thread, and must not take a lock.
std::atomic<std::vector<std::string> (*)(const absl::Status&)>
    g_list_field_violations{nullptr};
std::atomic<std::string (*)(const absl::Status&)> g_encode_error_details{
    nullptr};

// absl::StatusCode and grpc::StatusCode share the canonical numbering
// (OK = 0 ... UNAUTHENTICATED = 16); anything else is not a code we can trust.
constexpr int kMaxCanonicalCode = 16;

std::string MessageWithViolations(const absl::Status& status) {
  std::string message(status.message());
  auto* list = g_list_field_violations.load(std::memory_order_acquire);
  if (list == nullptr) return message;
  for (const std::string& violation : list(status)) {
    if (absl::StrContains(message, violation)) continue;
    absl::StrAppend(&message, message.empty() ? "" : "; ", violation);
  }
  return message;
}

}  // namespace

void SetGrpcStatusHooks(const GrpcStatusHooks& hooks) {
  g_list_field_violations.store(hooks.list_field_violations,
                                std::memory_order_release);
  g_encode_error_details.store(hooks.encode_error_details,
                               std::memory_order_release);
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const int raw = static_cast<int>(status.code());
  const grpc::StatusCode code = raw > 0 && raw <= kMaxCanonicalCode
                                    ? static_cast<grpc::StatusCode>(raw)
                                    : grpc::StatusCode::UNKNOWN;
  std::string details;
  if (auto* encode = g_encode_error_details.load(std::memory_order_acquire)) {
    details = encode(status);
  } else if (auto payload = status.GetPayload(kGrpcStatusDetailsPayloadUrl)) {
    details = std::string(*payload);
  }
  return grpc::Status(code, MessageWithViolations(status), std::move(details));
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int raw = static_cast<int>(status.error_code());
  const absl::StatusCode code = raw > 0 && raw <= kMaxCanonicalCode
                                    ? static_cast<absl::StatusCode>(raw)
                                    : absl::StatusCode::kUnknown;
  absl::Status out(code, status.error_message());
  if (!status.error_details().empty()) {
    out.SetPayload(kGrpcStatusDetailsPayloadUrl,
                   absl::Cord(status.error_details()));
  }
  return out;
}

}  // namespace okr
