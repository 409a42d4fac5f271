// A client for the standard gRPC health service (grpc.health.v1.Health/Check)
// that every OKR service exposes. Debian ships no health.proto, so the two
// tiny messages are encoded by hand and sent through grpc::GenericStub:
//   HealthCheckRequest  { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }
// Tests, okrctl and the reminder job use it to wait until a server is ready.
// Every call carries a deadline.
#ifndef OKR_COMMON_HEALTH_CLIENT_H_
#define OKR_COMMON_HEALTH_CLIENT_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace okr {

// grpc.health.v1.HealthCheckResponse.ServingStatus, same numbers.
enum class ServingStatus {
  kUnknown = 0,
  kServing = 1,
  kNotServing = 2,
  kServiceUnknown = 3,  // only sent by Watch, listed for completeness
};

// "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN".
absl::string_view Name(ServingStatus status);

// Asks the server behind `channel` for the status of `service` ("" is the
// server as a whole), failing after `timeout`. Errors keep the RPC's code:
// UNAVAILABLE when the server cannot be reached (the call does not wait for
// a connection), DEADLINE_EXCEEDED, NOT_FOUND when the server does not know
// `service`, INTERNAL for an undecodable reply.
absl::StatusOr<ServingStatus> CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel, absl::string_view service,
    absl::Duration timeout);

// As above over a new plaintext channel to `target` ("host:port").
absl::StatusOr<ServingStatus> CheckHealth(absl::string_view target,
                                          absl::string_view service,
                                          absl::Duration timeout);

// Polls `target` until `service` reports SERVING, waiting for the server to
// come up (short reconnect back-off, so a server that starts a moment later is
// seen within about 100 ms). Returns OK once SERVING, or DEADLINE_EXCEEDED
// after `timeout` with the last status seen in the message.
absl::Status WaitForServing(absl::string_view target, absl::Duration timeout,
                            absl::string_view service = "");

// The wire encoding, exposed for tests. Decoding skips unknown fields and
// rejects malformed input with INTERNAL.
std::string EncodeHealthCheckRequest(absl::string_view service);
absl::StatusOr<ServingStatus> DecodeHealthCheckResponse(
    absl::string_view bytes);

}  // namespace okr

#endif  // OKR_COMMON_HEALTH_CLIENT_H_
