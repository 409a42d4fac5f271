#include "tools/okrctl/client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

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

PlanningClient::PlanningClient(ClientOptions options)
    : PlanningClient(options,
                     okr::v1::PlanningService::NewStub(grpc::CreateChannel(
                         options.address, grpc::InsecureChannelCredentials()))) {}

PlanningClient::PlanningClient(ClientOptions options, std::unique_ptr<Stub> stub)
    : options_(std::move(options)),
      deadline_(absl::Now() + options_.timeout),
      stub_(std::move(stub)) {}

void PlanningClient::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(absl::ToChronoTime(deadline_));
  if (!options_.organisation.empty()) {
    context.AddMetadata("okr-organisation-id", options_.organisation);
  }
  if (!options_.token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
}

absl::Status PlanningClient::Converted(const grpc::Status& status,
                                       absl::string_view rpc) const {
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
