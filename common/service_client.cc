#include "common/service_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/request_context.h"

namespace okr {

absl::StatusOr<ServiceClient> ServiceClient::Create(ServiceClientOptions options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.peer, "_addr: ", options.peer, "'s HOST:PORT is required"));
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(options.peer, "_timeout: must be positive, got ",
                                                   absl::FormatDuration(options.call_timeout)));
  }
  // Retries UNAVAILABLE (the peer not listening, restarting, or its queue
  // full) within the call's deadline.
  const std::string service_config = absl::Substitute(R"json({
  "methodConfig": [{
    "name": [{"service": "$0"}],
    "retryPolicy": {
      "maxAttempts": 3,
      "initialBackoff": "0.05s",
      "maxBackoff": "0.2s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
})json",
                                                      options.grpc_service);
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(service_config);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  // gRPC's defaults (1 s growing to 120 s) would keep failing calls fast
  // for minutes after the peer came back.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.address,
                                options.credentials.channel != nullptr
                                    ? options.credentials.channel
                                    : grpc::InsecureChannelCredentials(),
                                args);
  if (channel == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(options.peer, "_addr: cannot create a channel to '",
                                                   options.address, "'"));
  }
  return ServiceClient(std::move(options), std::move(channel));
}

void ServiceClient::Prepare(absl::string_view organisation_id,
                            grpc::ClientContext& context) const {
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
  context.AddMetadata("okr-organisation-id", std::string(organisation_id));
  const std::string token =
      options_.credentials.token ? options_.credentials.token() : options_.token;
  if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  // The request this call is made for, so that the peer's logs carry its id.
  if (const std::string& request_id = CurrentRequestId(); !request_id.empty()) {
    context.AddMetadata(std::string(kRequestIdKey), request_id);
  }
}

absl::Status ServiceClient::Failed(absl::string_view method, const grpc::Status& status) const {
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
      status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(absl::StrCat(options_.peer, " at ", options_.address,
                                               " unreachable: ", method, ": ",
                                               status.error_message()));
  }
  return ToAbslStatus(status);
}

}  // namespace okr
