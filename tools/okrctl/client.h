// okrctl's connections to okr.v1.PlanningService, okr.v1.TrackingService
// and okr.v1.NotifyService: one channel per service, the caller's organisation and token as call
// metadata, and one deadline shared by every call of a command (--timeout
// bounds the whole command, not each call, whichever service it calls).
//
// Errors come back as absl::Status through okr::ToAbslStatus, so the
// BadRequest field violations of a failed call are available through
// okr::FieldViolationsOf; the message is prefixed with the RPC's name.
#ifndef OKR_TOOLS_OKRCTL_CLIENT_H_
#define OKR_TOOLS_OKRCTL_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/sync_stream.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "okr/v1/notify.grpc.pb.h"
#include "okr/v1/planning.grpc.pb.h"
#include "okr/v1/tracking.grpc.pb.h"

namespace okr::okrctl {

struct ClientOptions {
  // HOST:PORT of the service.
  std::string address = "127.0.0.1:50051";
  // Sent as `okr-organisation-id` metadata when not empty.
  std::string organisation;
  // Sent as `authorization: Bearer <token>` when not empty.
  std::string token;
  // Budget of the whole command.
  absl::Duration timeout = absl::Seconds(5);
  // TLS (--tls-ca, --tls-cert, --tls-key); null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

// Returns `status` with "<prefix>: " before its message, payloads kept.
absl::Status Annotate(const absl::Status& status, absl::string_view prefix);

// What every service client shares: the options, the command's deadline,
// the metadata and the conversion of a failed call's status.
class ClientBase {
 public:
  const ClientOptions& options() const { return options_; }
  // Overrides the organisation metadata (BootstrapOrganisation names its own).
  void set_organisation(std::string organisation) {
    options_.organisation = std::move(organisation);
  }
  // The instant every call of the command must finish by.
  absl::Time deadline() const { return deadline_; }

 protected:
  // The deadline is `deadline` when given (so that several clients of one
  // command share it), else now + options.timeout.
  ClientBase(ClientOptions options, std::optional<absl::Time> deadline);

  // Sets the metadata and, when `with_deadline`, the command's deadline.
  void Prepare(grpc::ClientContext& context, bool with_deadline = true) const;
  absl::Status Converted(const grpc::Status& status, absl::string_view rpc) const;

 private:
  ClientOptions options_;
  absl::Time deadline_;
};

// A client of one okr.v1 service (PlanningService, TrackingService,
// NotifyService).
template <typename Service>
class ServiceClient : public ClientBase {
 public:
  using Stub = typename Service::StubInterface;

  // Connects lazily (the first call dials), over TLS when
  // options.credentials is set, else in plaintext.
  explicit ServiceClient(ClientOptions options,
                         std::optional<absl::Time> deadline = std::nullopt)
      : ClientBase(options, deadline),
        stub_(Service::NewStub(grpc::CreateChannel(
            options.address, options.credentials != nullptr
                                 ? options.credentials
                                 : grpc::InsecureChannelCredentials()))) {}
  // For tests: calls go to `stub`.
  ServiceClient(ClientOptions options, std::unique_ptr<Stub> stub)
      : ClientBase(std::move(options), std::nullopt), stub_(std::move(stub)) {}

  // Calls `method` (e.g. &Stub::GetObjective) with the metadata and the
  // command's deadline. Returns the response, or the call's status annotated
  // with `rpc` (the method's name, for the error message).
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(
      absl::string_view rpc,
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
      const Request& request) {
    grpc::ClientContext context;
    Prepare(context);
    Response response;
    grpc::Status status = (stub_.get()->*method)(&context, request, &response);
    if (!status.ok()) return Converted(status, rpc);
    return response;
  }

  // Starts a server-streaming call (e.g. &Stub::WatchReminders) with the
  // metadata, and with the command's deadline only when `with_deadline` (a
  // watch runs until the caller cancels `context`). `context` must outlive
  // the reader; a failed Finish() goes through StreamStatus().
  template <typename Request, typename Response>
  std::unique_ptr<grpc::ClientReaderInterface<Response>> Stream(
      grpc::ClientContext& context,
      std::unique_ptr<grpc::ClientReaderInterface<Response>> (Stub::*method)(
          grpc::ClientContext*, const Request&),
      const Request& request, bool with_deadline) {
    Prepare(context, with_deadline);
    return (stub_.get()->*method)(&context, request);
  }

  // A streaming call's final status as Call() reports it (annotated with
  // `rpc`; OK stays OK).
  absl::Status StreamStatus(const grpc::Status& status, absl::string_view rpc) const {
    return status.ok() ? absl::OkStatus() : Converted(status, rpc);
  }

  // Pages through a List RPC until the last page or until `limit` items
  // (0: no limit), merging the pages into one response whose
  // next_page_token is the last page's. `count` returns the number of items
  // in a response; the request's page_token and page_size are managed here.
  template <typename Request, typename Response, typename Count>
  absl::StatusOr<Response> ListAll(
      absl::string_view rpc,
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
      Request request, int64_t limit, Count count) {
    Response all;
    while (true) {
      if (limit > 0) {
        request.set_page_size(static_cast<int32_t>(
            std::min<int64_t>(500, limit - count(all))));
      } else {
        request.set_page_size(500);
      }
      absl::StatusOr<Response> page = Call(rpc, method, request);
      if (!page.ok()) return page.status();
      all.MergeFrom(*page);
      all.set_next_page_token(page->next_page_token());
      if (page->next_page_token().empty() || count(*page) == 0 ||
          (limit > 0 && count(all) >= limit)) {
        return all;
      }
      request.set_page_token(page->next_page_token());
    }
  }

 private:
  std::unique_ptr<Stub> stub_;
};

using PlanningClient = ServiceClient<okr::v1::PlanningService>;
using TrackingClient = ServiceClient<okr::v1::TrackingService>;
using NotifyClient = ServiceClient<okr::v1::NotifyService>;

}  // namespace okr::okrctl

#endif  // OKR_TOOLS_OKRCTL_CLIENT_H_
