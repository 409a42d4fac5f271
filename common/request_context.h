// The request id that follows one request across services and log lines.
//
// A server takes the id from the "x-request-id" metadata entry, or makes one
// when the caller sent none (or one unfit to log and forward); the RPC
// interceptor (common/metrics.h) does that and puts the id back into the
// metadata the handler sees. RunUnary (common/worker_pool.h) makes it the
// thread's current request id while the handler's body runs on a worker, so
// every log line written meanwhile carries "request_id" (common/log.cc) and
// every call to another service made through ServiceClient::Prepare sends it
// on as "x-request-id".
#ifndef OKR_COMMON_REQUEST_CONTEXT_H_
#define OKR_COMMON_REQUEST_CONTEXT_H_

#include <grpcpp/support/string_ref.h>

#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace okr {

// The metadata key (gRPC keys are lower case).
inline constexpr absl::string_view kRequestIdKey = "x-request-id";

// A new request id: 16 random bytes as 32 lower-case hex digits.
std::string NewRequestId();

// True for an id a caller may choose: 1 to 128 characters of letters,
// digits and - _ . : / + =. Anything else (spaces, quotes, control bytes, a
// megabyte of text) is replaced by a new id rather than logged and forwarded.
bool IsValidRequestId(absl::string_view id);

// The first "x-request-id" of `metadata` (a server context's client
// metadata), or "" when there is none.
std::string RequestIdFromMetadata(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata);

// The request id of the work running on this thread; "" when none.
const std::string& CurrentRequestId();

// Makes `id` the thread's current request id until destroyed, then restores
// the previous one (scopes nest). Not movable: it must end on the thread it
// began on.
class ScopedRequestId {
 public:
  explicit ScopedRequestId(std::string id);
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

}  // namespace okr

#endif  // OKR_COMMON_REQUEST_CONTEXT_H_
