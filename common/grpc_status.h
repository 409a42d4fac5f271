// The one place where absl::Status (domain code, use-cases, stores) and
// grpc::Status (the gRPC adapters) meet. Both use the canonical codes with the
// same numbers, so the code is carried over unchanged and the message kept
// verbatim (up to the size bound below). Services call ToGrpcStatus() when
// finishing an RPC and ToAbslStatus() on the result of an outgoing call.
//
// Field violations (common/validation.h) cross the boundary in two forms: as
// "field: description" text in the message, for a person reading only that,
// and as the grpc-status-details-bin trailer, an okr.v1.RpcStatus whose
// details hold one okr.v1.BadRequest packed with the type URL
// "type.googleapis.com/google.rpc.BadRequest". Both messages are
// wire-compatible with their google.rpc namesakes, so any gRPC client with
// googleapis decodes the violations without our protos. ToAbslStatus() turns
// such details back into field violations, so a service that returns the
// error of a service it called passes them on intact.
//
// A failed call's headers must fit the client's metadata limit (8 KiB by
// default in gRPC), or the client sees only RESOURCE_EXHAUSTED and loses the
// error. So the message is cut to about 2 KiB (saying so) and message plus
// details to about 6 KiB: the BadRequest then lists the violations that fit,
// in order, and the message says how many there were in all. A few dozen
// typical violations fit unabridged.
#ifndef OKR_COMMON_GRPC_STATUS_H_
#define OKR_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace okr {

// Payload URL under which ToAbslStatus() keeps a peer's
// grpc-status-details-bin bytes (a serialized okr.v1.RpcStatus), whatever
// they contain, so that details this code does not understand are not lost.
inline constexpr absl::string_view kGrpcStatusDetailsPayloadUrl =
    "type.okr.dev/grpc-status-details-bin";

// The type URL of the BadRequest detail, the one google.rpc clients expect.
inline constexpr absl::string_view kBadRequestTypeUrl =
    "type.googleapis.com/google.rpc.BadRequest";

// Converts a domain status to the status an RPC finishes with. OK maps to
// grpc::Status::OK; a code outside the canonical range maps to UNKNOWN.
// When `status` carries field violations (any code), each one missing from
// the message is appended to it ("; "-separated), and the details are a
// serialized okr.v1.RpcStatus {code, message, [BadRequest, then the
// non-BadRequest details of a peer's kept details, if any]}. Without
// violations, a peer's kept details are sent on unchanged, or none. Sizes
// are bounded as described above.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Converts the status of an outgoing call back into a domain status, same
// code and message verbatim. Non-empty error details are kept under
// kGrpcStatusDetailsPayloadUrl; the field violations of every BadRequest
// among them become the status's field violations (FieldViolationsOf).
absl::Status ToAbslStatus(const grpc::Status& status);

}  // namespace okr

#endif  // OKR_COMMON_GRPC_STATUS_H_
