#include "tools/okrctl/client.h"

#include "common/grpc_status.h"

namespace okr::okrctl {

absl::Status Annotate(const absl::Status& status, absl::string_view prefix) {
  if (status.ok()) return status;
  absl::Status annotated(status.code(), absl::StrCat(prefix, ": ", status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    annotated.SetPayload(url, payload);
  });
  return annotated;
}

ClientBase::ClientBase(ClientOptions options, std::optional<absl::Time> deadline)
    : options_(std::move(options)),
      deadline_(deadline.value_or(absl::Now() + options_.timeout)) {}

void ClientBase::Prepare(grpc::ClientContext& context, bool with_deadline) const {
  if (with_deadline) context.set_deadline(absl::ToChronoTime(deadline_));
  if (!options_.organisation.empty()) {
    context.AddMetadata("okr-organisation-id", options_.organisation);
  }
  if (!options_.token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
}

absl::Status ClientBase::Converted(const grpc::Status& status, absl::string_view rpc) const {
  absl::Status converted = ToAbslStatus(status);
  if (converted.code() == absl::StatusCode::kUnavailable ||
      converted.code() == absl::StatusCode::kDeadlineExceeded) {
    // The bare gRPC message ("failed to connect to all addresses") does not
    // say where okrctl tried to connect or how long it waited.
    converted = Annotate(converted, absl::StrCat("server ", options_.address,
                                                 ", timeout ",
                                                 absl::FormatDuration(options_.timeout)));
  }
  return Annotate(converted, rpc);
}

}  // namespace okr::okrctl
