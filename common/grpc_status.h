// The one place where absl::Status (domain code, use-cases, stores) and
// grpc::Status (the gRPC adapters) meet. Both use the canonical codes with the
// same numbers, so the code is carried over unchanged and the message kept
// verbatim. Services call ToGrpcStatus() when finishing an RPC and
// ToAbslStatus() on the result of an outgoing call.
//
// Field violations: a status built by the validation library lists its
// violations in the message and carries them as a payload. So that no
// violation is lost when a caller rewrites the message, a process may install
// GrpcStatusHooks that list a status's violations; any that the message does
// not already contain are appended to it. A second hook may produce the
// grpc-status-details-bin bytes (a serialized google.rpc.Status with a
// BadRequest detail); until one is installed, details received from a peer
// are carried through as a payload and sent on unchanged.
#ifndef OKR_COMMON_GRPC_STATUS_H_
#define OKR_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace okr {

// Payload URL under which ToAbslStatus() keeps a peer's
// grpc-status-details-bin bytes (a serialized google.rpc.Status).
inline constexpr absl::string_view kGrpcStatusDetailsPayloadUrl =
    "type.okr.dev/grpc-status-details-bin";

struct GrpcStatusHooks {
  // Returns the field violations `status` carries, one "field: description"
  // string each (empty when there are none). Intended to be backed by
  // okr::FieldViolationsOf from common/validation.h.
  std::vector<std::string> (*list_field_violations)(
      const absl::Status& status) = nullptr;
  // Returns the serialized google.rpc.Status to send as
  // grpc-status-details-bin, or an empty string to send none.
  std::string (*encode_error_details)(const absl::Status& status) = nullptr;
};

// Installs process-wide hooks; call once at start-up before serving. Hooks
// left null fall back to the behaviour described above.
void SetGrpcStatusHooks(const GrpcStatusHooks& hooks);

// Converts a domain status to the status an RPC finishes with. OK maps to
// grpc::Status::OK; a code outside the canonical range maps to UNKNOWN.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Converts the status of an outgoing call back into a domain status, same
// code and message; non-empty error details are kept as the payload
// kGrpcStatusDetailsPayloadUrl.
absl::Status ToAbslStatus(const grpc::Status& status);

}  // namespace okr

#endif  // OKR_COMMON_GRPC_STATUS_H_
