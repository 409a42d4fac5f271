// The benchmark harness's gRPC load generator: a closed loop of unary calls
// with a fixed number in flight, over raw bytes (grpc::GenericStub and
// grpc::ByteBuffer with the callback API), so that any method of any service
// can be driven with a serialized request and the client spends nothing on
// message parsing.
//
//   LoadOptions options{.target = server->address(),
//                       .method = "/okr.v1.TrackingService/GetObjectiveScore",
//                       .in_flight = 32,
//                       .metadata = {{"okr-organisation-id", org}}};
//   absl::StatusOr<LoadResult> result = RunLoad(options, FixedRequest(request));
//   // result->qps, result->latency.Percentile(99), result->errors ...
//
// Each of the `in_flight` call slots runs its calls one after the other
// (every finished call starts the next), on channel slot % channels. A call
// counts in the result when it completed inside the measured window, which
// starts after the warm-up; the latencies of the OK ones go into a histogram
// per slot, merged at the end, so the hot path takes no lock.
#ifndef OKR_TESTS_BENCH_LOAD_LOAD_GENERATOR_H_
#define OKR_TESTS_BENCH_LOAD_LOAD_GENERATOR_H_

#include <google/protobuf/message.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/bench/load/histogram.h"

namespace okr::bench {

struct LoadOptions {
  // "HOST:PORT" of the server, e.g. "127.0.0.1:50051".
  std::string target;
  // The full method path, e.g. "/okr.v1.TrackingService/GetObjectiveScore".
  std::string method;
  // Separate connections (each channel gets distinct channel args, so gRPC
  // does not share one subchannel between them). At least 1 and at most
  // in_flight.
  int channels = 1;
  // Outstanding calls in total, spread round-robin over the channels.
  int in_flight = 32;
  // Calls are made but not measured for this long first (connections, caches
  // and thread pools warm up). At least 0.
  absl::Duration warmup = absl::Seconds(1);
  // The measured window. Greater than 0.
  absl::Duration duration = absl::Seconds(5);
  // Deadline of each call, and how long RunLoad waits for the channels to
  // connect. Greater than 0.
  absl::Duration deadline = absl::Seconds(10);
  // Request metadata sent on every call (e.g. okr-organisation-id).
  std::vector<std::pair<std::string, std::string>> metadata = {};
  // Null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr;
};

// Serialized request for the index-th call (0, 1, 2, ... over warm-up and
// measurement). Called concurrently from gRPC threads: must be thread-safe.
using RequestSource = std::function<std::string(uint64_t index)>;

// A source that sends `request`, serialized once, on every call.
RequestSource FixedRequest(const google::protobuf::Message& request);

struct LoadResult {
  // Calls completed in the measured window.
  uint64_t calls = 0;
  // Of those, the ones that did not end OK, in total and by status code.
  uint64_t errors = 0;
  std::map<grpc::StatusCode, uint64_t> errors_by_code = {};
  // "CODE: message" of the first failure in the window; empty without one.
  std::string first_error = {};
  // The measured window actually used.
  absl::Duration elapsed;
  // calls / elapsed, in calls per second.
  double qps = 0;
  // Latency of the OK calls only.
  LatencyHistogram latency;
};

// Runs the load on a closed loop (each finished call starts the next) and
// returns once every outstanding call has ended. INVALID_ARGUMENT (naming the
// option) for bad options, UNAVAILABLE when a channel cannot connect to the
// target within options.deadline. Failed calls during the run are not an
// error of RunLoad: they are counted in the result.
absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options, RequestSource requests);

}  // namespace okr::bench

#endif  // OKR_TESTS_BENCH_LOAD_LOAD_GENERATOR_H_
