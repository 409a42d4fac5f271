#include "common/grpc_status.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/io/coded_stream.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "common/validation.h"
#include "okr/v1/common.pb.h"

namespace okr {
namespace {

// absl::StatusCode and grpc::StatusCode share the canonical numbering
// (OK = 0 ... UNAUTHENTICATED = 16); anything else is not a code we can trust.
constexpr int kMaxCanonicalCode = 16;

// A trailers-only response (every failed unary call) must fit the peer's
// metadata limit, 8 KiB by default in gRPC; beyond it the client sees only
// RESOURCE_EXHAUSTED "received initial metadata size exceeds limit" and loses
// the error. gRPC counts grpc-message percent-encoded and
// grpc-status-details-bin decoded; the remaining 2 KiB are for the other
// headers (in a loopback test the call still got through at 7.5 KiB).
constexpr size_t kMaxMessageWireBytes = 2048;
constexpr size_t kMaxErrorWireBytes = 6144;  // message + details

// The size of `message` as grpc-message: gRPC percent-encodes every byte
// outside printable ASCII, and '%'.
size_t MessageWireSize(absl::string_view message) {
  size_t size = 0;
  for (const char c : message) {
    const bool plain = c >= 0x20 && c <= 0x7e && c != '%';
    size += plain ? 1 : 3;
  }
  return size;
}

// Returns `message` if it fits kMaxMessageWireBytes, else its longest
// prefix that fits with `note` appended, cut at a UTF-8 boundary, and `note`.
std::string FitMessage(std::string message, absl::string_view note) {
  if (MessageWireSize(message) <= kMaxMessageWireBytes) return message;
  const size_t budget = kMaxMessageWireBytes - MessageWireSize(note);
  size_t cut = 0;
  for (size_t size = 0; cut < message.size(); ++cut) {
    size += MessageWireSize(absl::string_view(&message[cut], 1));
    if (size > budget) break;
  }
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xc0) == 0x80) {
    --cut;  // not inside a multi-byte character
  }
  message.resize(cut);
  absl::StrAppend(&message, note);
  return message;
}

// A caller may have rewritten the message of a validation status (or built
// its own); the violations must reach a person reading only the message, as
// far as it can hold them.
std::string MessageWithViolations(absl::string_view message,
                                  absl::Span<const FieldViolation> violations) {
  std::string out(message);
  for (const FieldViolation& violation : violations) {
    const std::string text =
        absl::StrCat(violation.field, ": ", violation.description);
    if (absl::StrContains(out, text)) continue;
    absl::StrAppend(&out, out.empty() ? "" : "; ", text);
  }
  return FitMessage(std::move(out),
                    absl::StrCat(" ... [truncated; ", violations.size(),
                                 " field violations in all, as many as fit "
                                 "in the BadRequest details]"));
}

// The bytes a length-delimited field of `size` bytes adds to its message:
// a one-byte tag (field numbers here are < 16), the length varint, the data.
size_t FieldSize(size_t size) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(size) + size;
}

// The serialized okr.v1.RpcStatus for `message` (already final) and
// `violations`, at most `budget` bytes: violations that do not fit are left
// out (the message lists or counts them all), and so are a peer's kept
// details.
std::string EncodeDetails(int code, const std::string& message,
                          absl::Span<const FieldViolation> violations,
                          const absl::Status& status, size_t budget) {
  v1::RpcStatus rpc_status;
  rpc_status.set_code(code);
  rpc_status.set_message(message);
  // Any::PackFrom would name the type okr.v1.BadRequest, which a
  // google.rpc client does not recognise.
  google::protobuf::Any* detail = rpc_status.add_details();
  detail->set_type_url(std::string(kBadRequestTypeUrl));
  // Sizes are summed rather than re-measured per violation: a CSV import
  // can fail with thousands. Filling the Any adds its value's tag and
  // length varint and lengthens the details entry's length varint: at most
  // 5 bytes within the budget.
  size_t size = rpc_status.ByteSizeLong() + 5;
  v1::BadRequest bad_request;
  for (const FieldViolation& violation : violations) {
    v1::BadRequest::FieldViolation one;
    one.set_field(violation.field);
    one.set_description(violation.description);
    const size_t added = FieldSize(one.ByteSizeLong());
    if (size + added > budget) break;
    size += added;
    *bad_request.add_field_violations() = std::move(one);
  }
  bad_request.SerializeToString(detail->mutable_value());
  // Other details a peer sent stay; its BadRequest is superseded by
  // `violations`, which ToAbslStatus() decoded from it.
  if (absl::optional<absl::Cord> kept =
          status.GetPayload(kGrpcStatusDetailsPayloadUrl)) {
    v1::RpcStatus peer;
    if (peer.ParseFromString(std::string(*kept))) {
      for (google::protobuf::Any& any : *peer.mutable_details()) {
        if (any.type_url() == kBadRequestTypeUrl) continue;
        const size_t added = FieldSize(any.ByteSizeLong());
        if (size + added > budget) continue;
        size += added;
        *rpc_status.add_details() = std::move(any);
      }
    }
  }
  return rpc_status.SerializeAsString();
}

// The field violations of every BadRequest in `details`; empty when they do
// not parse.
std::vector<FieldViolation> DecodeViolations(const std::string& details) {
  std::vector<FieldViolation> out;
  v1::RpcStatus rpc_status;
  if (!rpc_status.ParseFromString(details)) return out;
  for (const google::protobuf::Any& any : rpc_status.details()) {
    v1::BadRequest bad_request;
    if (any.type_url() != kBadRequestTypeUrl ||
        !bad_request.ParseFromString(any.value())) {
      continue;
    }
    for (const v1::BadRequest::FieldViolation& violation :
         bad_request.field_violations()) {
      out.push_back({violation.field(), violation.description()});
    }
  }
  return out;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const int raw = static_cast<int>(status.code());
  const grpc::StatusCode code = raw > 0 && raw <= kMaxCanonicalCode
                                    ? static_cast<grpc::StatusCode>(raw)
                                    : grpc::StatusCode::UNKNOWN;
  const std::vector<FieldViolation> violations = FieldViolationsOf(status);
  if (violations.empty()) {
    std::string message =
        FitMessage(std::string(status.message()), " ... [truncated]");
    absl::optional<absl::Cord> kept =
        status.GetPayload(kGrpcStatusDetailsPayloadUrl);
    std::string details = kept ? std::string(*kept) : std::string();
    if (MessageWireSize(message) + details.size() > kMaxErrorWireBytes) {
      details.clear();  // a peer's, too big to pass on
    }
    return grpc::Status(code, std::move(message), std::move(details));
  }
  std::string message = MessageWithViolations(status.message(), violations);
  const size_t budget = kMaxErrorWireBytes - MessageWireSize(message);
  std::string details = EncodeDetails(static_cast<int>(code), message,
                                      violations, status, budget);
  return grpc::Status(code, std::move(message), std::move(details));
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int raw = static_cast<int>(status.error_code());
  const absl::StatusCode code = raw > 0 && raw <= kMaxCanonicalCode
                                    ? static_cast<absl::StatusCode>(raw)
                                    : absl::StatusCode::kUnknown;
  absl::Status out(code, status.error_message());
  if (status.error_details().empty()) return out;
  out.SetPayload(kGrpcStatusDetailsPayloadUrl,
                 absl::Cord(status.error_details()));
  const std::vector<FieldViolation> violations =
      DecodeViolations(status.error_details());
  if (!violations.empty()) {
    // The validation library owns the payload's encoding; only its payload
    // is taken, the peer's message stays verbatim.
    const absl::Status encoded = MakeFieldStatus(code, violations);
    if (absl::optional<absl::Cord> payload =
            encoded.GetPayload(kFieldViolationsTypeUrl)) {
      out.SetPayload(kFieldViolationsTypeUrl, *std::move(payload));
    }
  }
  return out;
}

}  // namespace okr
