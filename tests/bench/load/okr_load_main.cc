// okr-load: the benchmark harness's load generator (load_generator.h) as a
// command for ad hoc runs against any gRPC server:
//
//   okr-load --target=127.0.0.1:50052
//       --method=/okr.v1.TrackingService/GetObjectiveScore
//       --request_hex=0a0c6f626a2d... --metadata=okr-organisation-id=acme
//       --in_flight=32 --duration=5s
//
// It prints one JSON line on stdout: {"qps":..,"calls":..,"errors":..,
// "p50_us":..,"p90_us":..,"p99_us":..,"p999_us":..,"mean_us":..,"max_us":..,
// "errors_by_code":{..},"first_error":".."}. Exit status 0 when every call
// in the measured window succeeded, 1 when some failed or the target could
// not be reached, 2 for bad flags.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "tests/bench/load/load_generator.h"

ABSL_FLAG(std::string, target, "", "HOST:PORT of the server to load (required).");
ABSL_FLAG(std::string, method, "/okr.bench.v1.BenchService/Empty",
          "Full path of the unary method to call.");
ABSL_FLAG(std::string, request_hex, "",
          "The serialized request as hex (e.g. from a message's SerializeAsString). Empty: "
          "the empty message, unless --request_file is given.");
ABSL_FLAG(std::string, request_file, "",
          "A file holding the serialized request (binary). Exclusive with --request_hex.");
ABSL_FLAG(int, channels, 1, "Separate connections, at least 1 and at most --in_flight.");
ABSL_FLAG(int, in_flight, 32, "Outstanding calls in total, spread over the channels.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "Calls made but not measured first.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "The measured window.");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(10),
          "Deadline of each call, and how long to wait for the connections.");
ABSL_FLAG(std::string, metadata, "",
          "Request metadata on every call, as key=value pairs separated by commas, e.g. "
          "okr-organisation-id=acme,authorization=Bearer x.");

namespace {

absl::StatusOr<std::string> RequestBytes(const std::string& hex, const std::string& file) {
  if (!hex.empty() && !file.empty()) {
    return absl::InvalidArgumentError("--request_hex and --request_file are exclusive");
  }
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("--request_file: cannot read ", file));
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  }
  if (hex.size() % 2 != 0 ||
      !std::all_of(hex.begin(), hex.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
    return absl::InvalidArgumentError(
        "--request_hex: expected an even number of hex digits (0-9, a-f)");
  }
  return absl::HexStringToBytes(hex);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseMetadata(
    absl::string_view flag) {
  std::vector<std::pair<std::string, std::string>> metadata;
  for (absl::string_view entry : absl::StrSplit(flag, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    if (entry.find('=') == absl::string_view::npos || kv.first.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metadata: expected key=value, got '", entry, "'"));
    }
    metadata.push_back(std::move(kv));
  }
  return metadata;
}

double Micros(absl::Duration d) { return absl::ToDoubleMicroseconds(d); }

std::string ToJson(const okr::bench::LoadResult& result) {
  std::string by_code;
  for (const auto& [code, count] : result.errors_by_code) {
    absl::StrAppend(&by_code, by_code.empty() ? "" : ",",
                    okr::JsonQuote(absl::StatusCodeToString(static_cast<absl::StatusCode>(code))),
                    ":", count);
  }
  const okr::bench::LatencyHistogram& latency = result.latency;
  return absl::StrFormat(
      "{\"qps\":%.1f,\"calls\":%d,\"errors\":%d,\"p50_us\":%.1f,\"p90_us\":%.1f,"
      "\"p99_us\":%.1f,\"p999_us\":%.1f,\"mean_us\":%.1f,\"max_us\":%.1f,"
      "\"elapsed_s\":%.3f,\"errors_by_code\":{%s},\"first_error\":%s}",
      result.qps, result.calls, result.errors, Micros(latency.Percentile(50)),
      Micros(latency.Percentile(90)), Micros(latency.Percentile(99)),
      Micros(latency.Percentile(99.9)), Micros(latency.Mean()), Micros(latency.Max()),
      absl::ToDoubleSeconds(result.elapsed), by_code, okr::JsonQuote(result.first_error));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "a closed-loop gRPC load generator over raw bytes (the benchmark harness's, "
      "tests/bench/load). Prints one JSON line with QPS and latency percentiles; exit 1 "
      "when any measured call failed.\n\nUsage: okr-load --target=HOST:PORT "
      "[--method=/pkg.Service/Method] [--request_hex=HEX | --request_file=PATH] "
      "[--channels=1] [--in_flight=32] [--warmup=1s] [--duration=5s] [--deadline=10s] "
      "[--metadata=k=v,k=v]");
  absl::ParseCommandLine(argc, argv);

  absl::StatusOr<std::string> request =
      RequestBytes(absl::GetFlag(FLAGS_request_hex), absl::GetFlag(FLAGS_request_file));
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> metadata =
      ParseMetadata(absl::GetFlag(FLAGS_metadata));
  for (const absl::Status& status : {request.status(), metadata.status()}) {
    if (!status.ok()) {
      std::cerr << "okr-load: " << status.message() << "\n";
      return 2;
    }
  }
  okr::bench::LoadOptions options{.target = absl::GetFlag(FLAGS_target),
                                  .method = absl::GetFlag(FLAGS_method),
                                  .channels = absl::GetFlag(FLAGS_channels),
                                  .in_flight = absl::GetFlag(FLAGS_in_flight),
                                  .warmup = absl::GetFlag(FLAGS_warmup),
                                  .duration = absl::GetFlag(FLAGS_duration),
                                  .deadline = absl::GetFlag(FLAGS_deadline),
                                  .metadata = *std::move(metadata)};
  absl::StatusOr<okr::bench::LoadResult> result = okr::bench::RunLoad(
      options, [bytes = *std::move(request)](uint64_t) { return bytes; });
  if (!result.ok()) {
    std::cerr << "okr-load: " << result.status().message() << "\n";
    return result.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cout << ToJson(*result) << std::endl;
  return result->errors > 0 ? 1 : 0;
}
