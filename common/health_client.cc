#include "common/health_client.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"

namespace okr {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;
using google::protobuf::io::StringOutputStream;

constexpr char kCheckMethod[] = "/grpc.health.v1.Health/Check";

// Wire types of the protobuf encoding.
constexpr uint32_t kWireVarint = 0;
constexpr uint32_t kWireFixed64 = 1;
constexpr uint32_t kWireLengthDelimited = 2;
constexpr uint32_t kWireFixed32 = 5;

std::shared_ptr<grpc::Channel> MakeChannel(absl::string_view target) {
  grpc::ChannelArguments args;
  // The default back-off (1 s, growing to 120 s) would make a readiness poll
  // notice a server that started just after the first attempt a second late.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
  return grpc::CreateCustomChannel(std::string(target),
                                   grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<ServingStatus> Check(
    const std::shared_ptr<grpc::Channel>& channel, absl::string_view service,
    absl::Duration timeout, bool wait_for_ready) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context.set_wait_for_ready(wait_for_ready);

  const std::string encoded = EncodeHealthCheckRequest(service);
  grpc::Slice slice(encoded);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status rpc_status;
  absl::Notification done;
  grpc::GenericStub stub(channel);
  stub.UnaryCall(&context, kCheckMethod, grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) {
                   rpc_status = std::move(s);
                   done.Notify();
                 });
  // The deadline bounds the call, so this wait is bounded as well.
  done.WaitForNotification();

  if (!rpc_status.ok()) {
    absl::Status status = ToAbslStatus(rpc_status);
    return absl::Status(status.code(),
                        absl::StrCat("health check of service '", service,
                                     "' failed: ", status.message()));
  }
  grpc::Slice flat;
  if (!response.DumpToSingleSlice(&flat).ok()) {
    return absl::InternalError("health check: could not read the reply");
  }
  return DecodeHealthCheckResponse(absl::string_view(
      reinterpret_cast<const char*>(flat.begin()), flat.size()));
}

}  // namespace

absl::string_view Name(ServingStatus status) {
  switch (status) {
    case ServingStatus::kUnknown:
      return "UNKNOWN";
    case ServingStatus::kServing:
      return "SERVING";
    case ServingStatus::kNotServing:
      return "NOT_SERVING";
    case ServingStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
  }
  return "UNKNOWN";
}

std::string EncodeHealthCheckRequest(absl::string_view service) {
  std::string out;
  // proto3 leaves a default (empty) string off the wire.
  if (service.empty()) return out;
  {
    StringOutputStream stream(&out);
    CodedOutputStream coded(&stream);
    coded.WriteTag((1 << 3) | kWireLengthDelimited);
    coded.WriteVarint32(static_cast<uint32_t>(service.size()));
    coded.WriteRaw(service.data(), static_cast<int>(service.size()));
  }  // CodedOutputStream flushes into `out` when it goes out of scope.
  return out;
}

absl::StatusOr<ServingStatus> DecodeHealthCheckResponse(
    absl::string_view bytes) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  // proto3: an absent field means the default, UNKNOWN.
  ServingStatus status = ServingStatus::kUnknown;
  const auto malformed = [] {
    return absl::InternalError(
        "health check: malformed HealthCheckResponse from the server");
  };
  const int size = static_cast<int>(bytes.size());
  while (in.CurrentPosition() < size) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return malformed();  // a bad varint or field number 0
    const uint32_t field = tag >> 3;
    const uint32_t wire_type = tag & 7;
    if (field == 1 && wire_type == kWireVarint) {
      uint64_t value;
      if (!in.ReadVarint64(&value)) return malformed();
      // Open enum: a value this client does not know reads as UNKNOWN.
      status = value <= 3 ? static_cast<ServingStatus>(value)
                          : ServingStatus::kUnknown;
      continue;
    }
    bool ok = false;
    switch (wire_type) {
      case kWireVarint: {
        uint64_t ignored;
        ok = in.ReadVarint64(&ignored);
        break;
      }
      case kWireFixed64:
        ok = in.Skip(8);
        break;
      case kWireFixed32:
        ok = in.Skip(4);
        break;
      case kWireLengthDelimited: {
        uint32_t length;
        ok = in.ReadVarint32(&length) && in.Skip(static_cast<int>(length));
        break;
      }
      default:
        ok = false;
    }
    if (!ok) return malformed();
  }
  return status;
}

absl::StatusOr<ServingStatus> CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel, absl::string_view service,
    absl::Duration timeout) {
  return Check(channel, service, timeout, /*wait_for_ready=*/false);
}

absl::StatusOr<ServingStatus> CheckHealth(absl::string_view target,
                                          absl::string_view service,
                                          absl::Duration timeout) {
  return CheckHealth(MakeChannel(target), service, timeout);
}

absl::Status WaitForServing(absl::string_view target, absl::Duration timeout,
                            absl::string_view service) {
  const absl::Time deadline = absl::Now() + timeout;
  std::shared_ptr<grpc::Channel> channel = MakeChannel(target);
  std::string last = "no attempt made";
  bool answered = false;  // whether `last` is the server's own answer
  while (true) {
    const absl::Duration remaining = deadline - absl::Now();
    if (remaining <= absl::ZeroDuration()) break;
    // Short attempts so that a NOT_SERVING server is asked again soon.
    absl::StatusOr<ServingStatus> status =
        Check(channel, service, std::min(remaining, absl::Milliseconds(500)),
              /*wait_for_ready=*/true);
    if (status.ok() && *status == ServingStatus::kServing) {
      return absl::OkStatus();
    }
    // An attempt cut short by our own deadline says less than an earlier
    // answer from the server (e.g. NOT_SERVING), so it does not replace one.
    if (status.ok()) {
      last = std::string(Name(*status));
      answered = true;
    } else if (!answered ||
               status.status().code() != absl::StatusCode::kDeadlineExceeded) {
      last = status.status().ToString();
      answered = false;
    }
    // Not every failure waits out its deadline (NOT_FOUND returns at once).
    absl::SleepFor(std::min(deadline - absl::Now(), absl::Milliseconds(20)));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("server at ", target, " not SERVING after ",
                   absl::FormatDuration(timeout), "; last status: ", last));
}

}  // namespace okr
