// How one OKR service calls another (tracking calls planning, notify calls
// planning and tracking): one channel per peer with gRPC's retry policy for
// UNAVAILABLE and a short reconnect backoff, a deadline on every call, the
// caller's organisation and bearer token in the metadata, and transport
// failures turned into UNAVAILABLE naming the peer's address.
#ifndef OKR_COMMON_SERVICE_CLIENT_H_
#define OKR_COMMON_SERVICE_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace okr {

// How a process authenticates to the services it calls (see
// ServiceRuntime::PeerCredentials()).
struct PeerCredentials {
  // Null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> channel;
  // Called for every call; a non-empty result is sent as
  // "authorization: Bearer <token>". Null: no token.
  std::function<std::string()> token;
};

struct ServiceClientOptions {
  // The peer's short name for messages and flag names: "planning" gives
  // "planning at HOST:PORT unreachable", "planning_addr", "planning_timeout".
  std::string peer;
  // The fully qualified gRPC service the retry policy covers, e.g.
  // "okr.v1.PlanningService". Every method of it must be safe to retry.
  std::string grpc_service;
  // HOST:PORT.
  std::string address;
  // Deadline of each call, retries included.
  absl::Duration call_timeout = absl::Seconds(2);
  // Bearer token sent as "authorization: Bearer <token>" when not empty.
  std::string token;
  // TLS and a rotating token; credentials.token, when set, wins over `token`.
  PeerCredentials credentials;
};

class ServiceClient {
 public:
  // INVALID_ARGUMENT naming "<peer>_addr" for an empty address or
  // "<peer>_timeout" for a timeout that is not positive. The channel
  // connects lazily.
  static absl::StatusOr<ServiceClient> Create(ServiceClientOptions options);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const ServiceClientOptions& options() const { return options_; }

  // Sets the call's deadline and metadata (the organisation in
  // "okr-organisation-id", the token, and the thread's current request id
  // in "x-request-id" when there is one).
  void Prepare(absl::string_view organisation_id, grpc::ClientContext& context) const;

  // A transport failure (DEADLINE_EXCEEDED or UNAVAILABLE: no answer within
  // the deadline, or no connection) becomes UNAVAILABLE naming the peer, its
  // address and `method`, whatever the attempt saw: the caller's remedy is
  // the same, retry later. Anything else is the peer's own answer and passes
  // through (ToAbslStatus), field violations included.
  absl::Status Failed(absl::string_view method, const grpc::Status& status) const;

 private:
  ServiceClient(ServiceClientOptions options, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)), channel_(std::move(channel)) {}

  ServiceClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace okr

#endif  // OKR_COMMON_SERVICE_CLIENT_H_
