// Smoke-sized runs of the load generator against a real okr-bench-server
// (label bench): a few tenths of a second per case.
#include "tests/bench/load/load_generator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "okr/bench/v1/bench.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr::bench {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kEmpty[] = "/okr.bench.v1.BenchService/Empty";
constexpr char kPoolEmpty[] = "/okr.bench.v1.BenchService/PoolEmpty";

class LoadGeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<ServiceProcess>> server = ServiceProcess::Start(
        {.binary = "okr-bench-server", .args = {"--auth=false", "--workers=4"}});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    if (server_ == nullptr) return;
    absl::StatusOr<ExitStatus> stopped = server_->Stop();
    EXPECT_TRUE(stopped.ok()) << stopped.status();
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "okr-bench-server did not start"; }

  // A short run on the bench server with the organisation metadata PoolEmpty
  // needs while auth is off.
  static LoadOptions Smoke(absl::string_view method, int in_flight, int channels = 1) {
    return LoadOptions{.target = server_->address(),
                       .method = std::string(method),
                       .channels = channels,
                       .in_flight = in_flight,
                       .warmup = absl::Milliseconds(100),
                       .duration = absl::Milliseconds(300),
                       .deadline = absl::Seconds(5),
                       .metadata = {{"okr-organisation-id", "bench-org"}}};
  }

  static ServiceProcess* server_;
};

ServiceProcess* LoadGeneratorTest::server_ = nullptr;

void ExpectHealthyRun(const LoadResult& result, const LoadOptions& options) {
  EXPECT_GT(result.calls, 0u);
  EXPECT_EQ(result.errors, 0u) << result.first_error;
  EXPECT_TRUE(result.errors_by_code.empty());
  EXPECT_EQ(result.first_error, "");
  EXPECT_EQ(static_cast<uint64_t>(result.latency.count()), result.calls);
  EXPECT_EQ(result.elapsed, options.duration);
  EXPECT_DOUBLE_EQ(result.qps,
                   static_cast<double>(result.calls) / absl::ToDoubleSeconds(options.duration));
  const LatencyHistogram& latency = result.latency;
  EXPECT_GE(latency.Percentile(50), LatencyHistogram::kMin);
  EXPECT_LE(latency.Percentile(50), latency.Percentile(90));
  EXPECT_LE(latency.Percentile(90), latency.Percentile(99));
  EXPECT_LE(latency.Percentile(99), latency.Percentile(99.9));
  EXPECT_LE(latency.Percentile(99.9), latency.Max());
  EXPECT_LE(latency.Mean(), latency.Max());
  // A call cannot outlive its deadline, and the loop cannot complete more
  // calls per slot than the window holds at the smallest latency.
  EXPECT_LE(latency.Max(), options.deadline);
  EXPECT_LE(static_cast<double>(result.calls),
            static_cast<double>(options.in_flight) *
                absl::FDivDuration(options.duration, latency.Min()) + options.in_flight);
}

class LoadGeneratorMatrixTest
    : public LoadGeneratorTest,
      public ::testing::WithParamInterface<std::tuple<std::string, int>> {};

TEST_P(LoadGeneratorMatrixTest, CompletesCallsWithoutErrors) {
  const auto [method, in_flight] = GetParam();
  const LoadOptions options = Smoke(method, in_flight);
  absl::StatusOr<LoadResult> result = RunLoad(options, FixedRequest(v1::EmptyRequest()));
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectHealthyRun(*result, options);
}

INSTANTIATE_TEST_SUITE_P(EmptyAndPool, LoadGeneratorMatrixTest,
                         ::testing::Combine(::testing::Values(std::string(kEmpty),
                                                              std::string(kPoolEmpty)),
                                            ::testing::Values(1, 32)),
                         [](const auto& info) {
                           const std::string& method = std::get<0>(info.param);
                           return absl::StrCat(method.substr(method.rfind('/') + 1), "InFlight",
                                               std::get<1>(info.param));
                         });

TEST_F(LoadGeneratorTest, SpreadsOverSeveralChannels) {
  const LoadOptions options = Smoke(kPoolEmpty, 8, /*channels=*/3);
  absl::StatusOr<LoadResult> result = RunLoad(options, FixedRequest(v1::EmptyRequest()));
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectHealthyRun(*result, options);
}

TEST_F(LoadGeneratorTest, EveryCallAsksTheSourceForADistinctIndex) {
  const LoadOptions options = Smoke(kEmpty, 4);
  absl::Mutex mu;
  std::vector<uint64_t> indexes;
  const RequestSource source = [&](uint64_t index) {
    absl::MutexLock lock(&mu);
    indexes.push_back(index);
    return v1::EmptyRequest().SerializeAsString();
  };
  absl::StatusOr<LoadResult> result = RunLoad(options, source);
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectHealthyRun(*result, options);
  absl::MutexLock lock(&mu);
  // Warm-up calls and the last ones that ended after the window asked too.
  EXPECT_GT(indexes.size(), result->calls);
  std::sort(indexes.begin(), indexes.end());
  for (size_t i = 0; i < indexes.size(); ++i) ASSERT_EQ(indexes[i], i);
}

TEST_F(LoadGeneratorTest, UnknownMethodCountsUnimplemented) {
  const LoadOptions options = Smoke("/okr.bench.v1.BenchService/NoSuchMethod", 4);
  absl::StatusOr<LoadResult> result = RunLoad(options, FixedRequest(v1::EmptyRequest()));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->calls, 0u);
  EXPECT_EQ(result->errors, result->calls);
  ASSERT_EQ(result->errors_by_code.size(), 1u);
  EXPECT_EQ(result->errors_by_code.at(grpc::StatusCode::UNIMPLEMENTED), result->calls);
  EXPECT_THAT(result->first_error, StartsWith("UNIMPLEMENTED: "));
  EXPECT_EQ(result->latency.count(), 0);  // latencies of OK calls only
}

TEST_F(LoadGeneratorTest, PoolEmptyIsAuthorisedLikeARealHandler) {
  LoadOptions options = Smoke(kPoolEmpty, 2);
  options.metadata.clear();  // no okr-organisation-id: auth off still needs one
  absl::StatusOr<LoadResult> result = RunLoad(options, FixedRequest(v1::EmptyRequest()));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->calls, 0u);
  EXPECT_EQ(result->errors_by_code[grpc::StatusCode::UNAUTHENTICATED], result->calls);
  // Empty authorises nobody: the same metadata is fine there.
  options.method = kEmpty;
  result = RunLoad(options, FixedRequest(v1::EmptyRequest()));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->errors, 0u) << result->first_error;
}

TEST_F(LoadGeneratorTest, UnreachableTargetIsUnavailable) {
  absl::StatusOr<int> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  LoadOptions options = Smoke(kEmpty, 1);
  options.target = absl::StrCat("127.0.0.1:", *port);
  options.deadline = absl::Milliseconds(500);
  const absl::Time start = absl::Now();
  absl::StatusOr<LoadResult> result = RunLoad(options, FixedRequest(v1::EmptyRequest()));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(options.target));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(LoadGeneratorTest, BadOptionsAreInvalidArgumentNamingTheOption) {
  const RequestSource source = FixedRequest(v1::EmptyRequest());
  struct Case {
    const char* field;
    void (*mutate)(LoadOptions&);
  };
  const Case cases[] = {
      {"target", [](LoadOptions& o) { o.target = ""; }},
      {"method", [](LoadOptions& o) { o.method = "Empty"; }},
      {"method", [](LoadOptions& o) { o.method = "/okr.bench.v1.BenchService/"; }},
      {"channels", [](LoadOptions& o) { o.channels = 0; }},
      {"in_flight", [](LoadOptions& o) { o.in_flight = 0; }},
      {"in_flight", [](LoadOptions& o) { o.channels = 4;
                        o.in_flight = 2; }},
      {"warmup", [](LoadOptions& o) { o.warmup = -absl::Seconds(1); }},
      {"duration", [](LoadOptions& o) { o.duration = absl::ZeroDuration(); }},
      {"deadline", [](LoadOptions& o) { o.deadline = -absl::Milliseconds(1); }},
      {"metadata", [](LoadOptions& o) { o.metadata = {{"Bad Key", "x"}}; }},
  };
  for (const Case& c : cases) {
    LoadOptions options = Smoke(kEmpty, 1);
    c.mutate(options);
    absl::StatusOr<LoadResult> result = RunLoad(options, source);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(result.status().message()), StartsWith(absl::StrCat(c.field, ":"))) << c.field;
  }
  absl::StatusOr<LoadResult> result = RunLoad(Smoke(kEmpty, 1), RequestSource());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), StartsWith("requests:"));
}

}  // namespace
}  // namespace okr::bench
