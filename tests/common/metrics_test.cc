// The metrics registry and its exposition format, /metrics over HTTP, the
// RPC interceptor (metrics, request ids, access log) on a real server, the
// request id in log lines, and HealthWatch flipping a server's health.
#include "common/metrics.h"

#include <gmock/gmock.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/health_client.h"
#include "common/health_watch.h"
#include "common/log.h"
#include "common/request_context.h"
#include "common/server.h"

namespace okr {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The value of the sample line `series` (name plus labels, exactly as
// written) in `text`, or nullopt when there is no such line.
std::optional<double> Sample(absl::string_view text, absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ")) {
      double value = 0;
      if (line == "+Inf") return std::numeric_limits<double>::infinity();
      if (absl::SimpleAtod(line, &value)) return value;
    }
  }
  return std::nullopt;
}

// 32 lower-case hex digits, the shape of a request id the server makes.
bool IsHex32(absl::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// --- registry and format -------------------------------------------------------

TEST(Registry, CounterExpositionEscapesLabelsAndHelp) {
  metrics::Registry registry;
  metrics::CounterFamily& family = registry.AddCounter(
      "test_requests_total", "Requests, with a \\ backslash\nand a newline.", {"path", "code"});
  family.WithLabels({"a\"b\\c\nd", "OK"}).Increment(2);
  family.WithLabels({"/plain", "OK"}).Increment();
  family.WithLabels({"/plain", "OK"}).Increment(0.5);
  family.WithLabels({"/plain", "OK"}).Increment(-3);  // ignored: counters never go down

  // Children come in label-value order: '/' (0x2f) sorts before 'a'.
  EXPECT_EQ(registry.Expose(),
            "# HELP test_requests_total Requests, with a \\\\ backslash\\nand a newline.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{path=\"/plain\",code=\"OK\"} 1.5\n"
            "test_requests_total{path=\"a\\\"b\\\\c\\nd\",code=\"OK\"} 2\n");
}

TEST(Registry, GaugeWithoutLabelsAndFamiliesSortedByName) {
  metrics::Registry registry;
  metrics::Gauge& gauge = registry.AddGauge("zz_in_flight", "In flight.", {}).WithLabels({});
  registry.AddCounter("aa_total", "Defined, never used.", {"x"});
  gauge.Set(3);
  gauge.Increment();
  gauge.Decrement();
  gauge.Add(-0.5);
  EXPECT_DOUBLE_EQ(gauge.Value(), 2.5);
  EXPECT_EQ(registry.Expose(),
            "# HELP aa_total Defined, never used.\n"
            "# TYPE aa_total counter\n"
            "# HELP zz_in_flight In flight.\n"
            "# TYPE zz_in_flight gauge\n"
            "zz_in_flight 2.5\n");
}

TEST(Registry, HistogramBucketsAreCumulativeWithSumAndCount) {
  metrics::Registry registry;
  metrics::Histogram& histogram =
      registry.AddHistogram("test_seconds", "Latency.", {"op"}, {1, 2, 5}).WithLabels({"get"});
  for (double v : {0.5, 1.0, 1.5, 5.0, 7.0}) histogram.Observe(v);

  EXPECT_EQ(registry.Expose(),
            "# HELP test_seconds Latency.\n"
            "# TYPE test_seconds histogram\n"
            "test_seconds_bucket{op=\"get\",le=\"1\"} 2\n"
            "test_seconds_bucket{op=\"get\",le=\"2\"} 3\n"
            "test_seconds_bucket{op=\"get\",le=\"5\"} 4\n"
            "test_seconds_bucket{op=\"get\",le=\"+Inf\"} 5\n"
            "test_seconds_sum{op=\"get\"} 15\n"
            "test_seconds_count{op=\"get\"} 5\n");
  const metrics::Histogram::Snapshot snapshot = histogram.Read();
  EXPECT_EQ(snapshot.count, 5u);
  EXPECT_EQ(snapshot.cumulative, (std::vector<uint64_t>{2, 3, 4, 5}));
}

TEST(Registry, DefaultLatencyBucketsAreAscendingAndFormatShortest) {
  const std::vector<double>& bounds = metrics::DefaultLatencyBuckets();
  ASSERT_FALSE(bounds.empty());
  for (size_t i = 1; i < bounds.size(); ++i) EXPECT_LT(bounds[i - 1], bounds[i]);
  EXPECT_EQ(metrics::FormatValue(0.1), "0.1");
  EXPECT_EQ(metrics::FormatValue(0.0005), "0.0005");
  EXPECT_EQ(metrics::FormatValue(42), "42");
  EXPECT_EQ(metrics::FormatValue(-1.25), "-1.25");
  EXPECT_EQ(metrics::FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(metrics::FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(metrics::FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(metrics::EscapeLabelValue("x\"y\\z\n"), "x\\\"y\\\\z\\n");
}

TEST(Registry, ConcurrentUpdatesFromThreadsAllCount) {
  metrics::Registry registry;
  metrics::CounterFamily& counters = registry.AddCounter("c_total", "c", {"t"});
  metrics::HistogramFamily& histograms = registry.AddHistogram("h_seconds", "h", {}, {0.5});
  metrics::Gauge& gauge = registry.AddGauge("g", "g", {}).WithLabels({});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads share one child, half look theirs up each time.
      for (int i = 0; i < kPerThread; ++i) {
        counters.WithLabels({t % 2 == 0 ? "shared" : absl::StrCat("own", t)}).Increment();
        histograms.WithLabels({}).Observe(i % 2 == 0 ? 0.25 : 1.0);
        gauge.Increment();
        gauge.Decrement();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string text = registry.Expose();
  EXPECT_EQ(Sample(text, "c_total{t=\"shared\"}"), kThreads / 2 * kPerThread);
  EXPECT_EQ(Sample(text, "c_total{t=\"own1\"}"), kPerThread);
  EXPECT_EQ(Sample(text, "h_seconds_count"), kThreads * kPerThread);
  EXPECT_EQ(Sample(text, "h_seconds_bucket{le=\"0.5\"}"), kThreads * kPerThread / 2);
  EXPECT_EQ(Sample(text, "h_seconds_sum"), kThreads * (kPerThread / 2) * 1.25);
  EXPECT_EQ(gauge.Value(), 0);
}

TEST(Registry, SameDefinitionIsOneFamily) {
  metrics::Registry registry;
  metrics::CounterFamily& a = registry.AddCounter("x_total", "x", {"k"});
  metrics::CounterFamily& b = registry.AddCounter("x_total", "x again", {"k"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.WithLabels({"v"}), &b.WithLabels({"v"}));
}

TEST(RegistryDeathTest, ConflictingOrInvalidDefinitionsAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  metrics::Registry registry;
  registry.AddCounter("x_total", "x", {"k"});
  EXPECT_DEATH(registry.AddGauge("x_total", "x", {"k"}), "different types");
  EXPECT_DEATH(registry.AddCounter("x_total", "x", {"other"}), "different types");
  EXPECT_DEATH(registry.AddCounter("bad-name", "x", {}), "not valid");
  EXPECT_DEATH(registry.AddCounter("y_total", "x", {"__reserved"}), "not valid");
  EXPECT_DEATH(registry.AddHistogram("h", "x", {"le"}), "not valid");
  EXPECT_DEATH(registry.AddHistogram("h2", "x", {}, {2, 1}), "ascending");
  EXPECT_DEATH(registry.AddCounter("z_total", "x", {"a", "b"}).WithLabels({"only one"}),
               "1 label values for 2");
}

TEST(ProcessMetrics, ReadFromProc) {
  const std::string text = metrics::ExposeProcessMetrics();
  EXPECT_THAT(text, HasSubstr("# TYPE process_resident_memory_bytes gauge\n"));
  const std::optional<double> rss = Sample(text, "process_resident_memory_bytes");
  ASSERT_TRUE(rss.has_value()) << text;
  EXPECT_GT(*rss, 1024 * 1024);  // a gtest binary with gRPC linked is bigger than 1 MiB
  const std::optional<double> fds = Sample(text, "process_open_fds");
  ASSERT_TRUE(fds.has_value()) << text;
  EXPECT_GE(*fds, 3);  // stdin, stdout, stderr
  const std::optional<double> start = Sample(text, "process_start_time_seconds");
  ASSERT_TRUE(start.has_value()) << text;
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_LE(*start, now + 1);
  EXPECT_GT(*start, now - 3600);  // this test process started within the hour
  EXPECT_TRUE(Sample(text, "process_cpu_seconds_total").has_value());
}

// --- /metrics over HTTP -----------------------------------------------------------

TEST(MetricsServer, ServesTheDefaultRegistryAndProcessMetrics) {
  metrics::Counter& counter =
      metrics::Default().AddCounter("okr_test_http_total", "Only this test uses it.", {"k"})
          .WithLabels({"v"});
  const double before = counter.Value();  // the registry outlives a --gtest_repeat round
  counter.Increment(7);
  absl::StatusOr<std::unique_ptr<MetricsServer>> server = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  httplib::Client client("127.0.0.1", (*server)->port());
  httplib::Result response = client.Get("/metrics");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->get_header_value("Content-Type"), HasSubstr("version=0.0.4"));
  EXPECT_EQ(Sample(response->body, "okr_test_http_total{k=\"v\"}"), before + 7);
  EXPECT_TRUE(Sample(response->body, "process_resident_memory_bytes").has_value());

  httplib::Result other = client.Get("/");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  EXPECT_EQ(client.Get("/metrics/x")->status, 404);

  // The port is taken now.
  absl::StatusOr<std::unique_ptr<MetricsServer>> second =
      MetricsServer::Start(absl::StrCat("127.0.0.1:", (*server)->port()));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();

  (*server)->Stop();
  (*server)->Stop();  // idempotent
  httplib::Client after("127.0.0.1", (*server)->port());
  after.set_connection_timeout(1);
  EXPECT_FALSE(after.Get("/metrics"));
}

TEST(MetricsServer, RefusesMalformedAddresses) {
  for (absl::string_view listen : {"", "127.0.0.1", ":80", "127.0.0.1:x", "127.0.0.1:70000"}) {
    EXPECT_EQ(MetricsServer::Start(listen).status().code(), absl::StatusCode::kInvalidArgument)
        << listen;
  }
}

// --- the interceptor on a real server ----------------------------------------------

// A generic callback service: "/test.Echo/Id" answers with the request id
// its context's metadata holds; "/test.Echo/Fail" fails with INTERNAL.
class EchoService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    return new Reactor(context);
  }

 private:
  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(grpc::GenericCallbackServerContext* context) : context_(context) {
      StartRead(&request_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
        return;
      }
      if (context_->method() == "/test.Echo/Fail") {
        Finish(grpc::Status(grpc::StatusCode::INTERNAL, "failing on purpose"));
        return;
      }
      const std::string id = RequestIdFromMetadata(context_->client_metadata());
      grpc::Slice slice(id);
      response_ = grpc::ByteBuffer(&slice, 1);
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    }
    void OnDone() override { delete this; }

   private:
    grpc::GenericCallbackServerContext* const context_;
    grpc::ByteBuffer request_;
    grpc::ByteBuffer response_;
  };
};

struct CallResult {
  grpc::Status status;
  std::string body;
};

CallResult Call(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                absl::string_view request_id) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  if (!request_id.empty()) context.AddMetadata("x-request-id", std::string(request_id));
  grpc::Slice slice(std::string("ping"));
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  CallResult result;
  absl::Notification done;
  grpc::GenericStub stub(channel);
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) {
                   result.status = std::move(status);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (result.status.ok()) {
    grpc::Slice flat;
    if (response.DumpToSingleSlice(&flat).ok()) {
      result.body.assign(reinterpret_cast<const char*>(flat.begin()), flat.size());
    }
  }
  return result;
}

// The log lines of `log` whose text contains every one of `parts`.
std::vector<std::string> LinesWith(const std::string& log,
                                   std::initializer_list<absl::string_view> parts) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    bool all = true;
    for (absl::string_view part : parts) all = all && absl::StrContains(line, part);
    if (all && !line.empty()) out.emplace_back(line);
  }
  return out;
}

class InterceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The registry is process-wide: each test counts under its own service.
    service_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    InitLogging(service_, log_);
    ServerOptions options{.listen_address = "127.0.0.1:0", .service_name = service_};
    options.configure_builder = [this](grpc::ServerBuilder& builder) {
      InstallServerMetrics(builder, service_);
      builder.RegisterCallbackGenericService(&echo_);
    };
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options, {});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    InitLogging("okr", std::cout);
  }

  std::string service_;
  std::stringstream log_;
  EchoService echo_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(InterceptorTest, CountsCallsByMethodAndCodeAndObservesLatency) {
  // The registry is process-wide and outlives a --gtest_repeat round, so
  // counts are compared with what was there before.
  const std::string before = metrics::Default().Expose();
  const auto Delta = [&](absl::string_view text,
                         const std::string& name) -> std::optional<double> {
    std::optional<double> after = Sample(text, name);
    if (!after.has_value()) return std::nullopt;
    return *after - Sample(before, name).value_or(0);
  };
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<ServingStatus> health = CheckHealth(channel_, "", absl::Seconds(5));
    ASSERT_TRUE(health.ok()) << health.status();
  }
  ASSERT_TRUE(Call(channel_, "/test.Echo/Id", "").status.ok());
  EXPECT_EQ(Call(channel_, "/test.Echo/Fail", "").status.error_code(),
            grpc::StatusCode::INTERNAL);

  const std::string text = metrics::Default().Expose();
  // `name`{service,method,code[,le]} of this test's server.
  const auto series = [&](absl::string_view name, absl::string_view method,
                          absl::string_view code, absl::string_view extra = "") {
    return absl::StrCat(name, "{service=\"", service_, "\",method=\"", method, "\",code=\"",
                        code, "\"", extra, "}");
  };
  const std::string health = "/grpc.health.v1.Health/Check";
  EXPECT_EQ(Delta(text, series("okr_rpc_requests_total", health, "OK")), 2) << text;
  EXPECT_EQ(Delta(text, series("okr_rpc_requests_total", "/test.Echo/Id", "OK")), 1);
  EXPECT_EQ(Delta(text, series("okr_rpc_requests_total", "/test.Echo/Fail", "INTERNAL")), 1);
  EXPECT_EQ(Delta(text, series("okr_rpc_duration_seconds_count", health, "OK")), 2);
  EXPECT_EQ(Delta(text, series("okr_rpc_duration_seconds_bucket", "/test.Echo/Id", "OK",
                               ",le=\"+Inf\"")),
            1);
  const std::optional<double> sum =
      Delta(text, series("okr_rpc_duration_seconds_sum", "/test.Echo/Id", "OK"));
  ASSERT_TRUE(sum.has_value());
  EXPECT_GT(*sum, 0);
  EXPECT_LT(*sum, 5);
  EXPECT_EQ(Sample(text, absl::StrCat("okr_rpc_in_flight{service=\"", service_,
                                      "\",method=\"/test.Echo/Id\"}")),
            0);

  // One access line per call; OK health checks are not logged.
  const std::string log = log_.str();
  EXPECT_THAT(LinesWith(log, {"\"msg\":\"rpc\"", "/grpc.health.v1.Health/Check"}),
              ::testing::IsEmpty());
  const std::vector<std::string> ok_lines =
      LinesWith(log, {"\"msg\":\"rpc\"", "\"method\":\"/test.Echo/Id\""});
  ASSERT_EQ(ok_lines.size(), 1u) << log;
  EXPECT_THAT(ok_lines[0], HasSubstr("\"level\":\"info\""));
  EXPECT_THAT(ok_lines[0], HasSubstr("\"code\":\"OK\""));
  EXPECT_THAT(ok_lines[0], HasSubstr("\"duration_ms\":"));
  EXPECT_THAT(ok_lines[0], HasSubstr("\"peer\":\"ipv4:127.0.0.1:"));
  const std::vector<std::string> failed =
      LinesWith(log, {"\"msg\":\"rpc\"", "\"method\":\"/test.Echo/Fail\""});
  ASSERT_EQ(failed.size(), 1u) << log;
  EXPECT_THAT(failed[0], HasSubstr("\"level\":\"warning\""));
  EXPECT_THAT(failed[0], HasSubstr("\"code\":\"INTERNAL\""));
  EXPECT_THAT(failed[0], HasSubstr("failing on purpose"));
}

TEST_F(InterceptorTest, GivesEveryCallARequestIdTheHandlerSees) {
  // The caller's id is kept.
  CallResult given = Call(channel_, "/test.Echo/Id", "test-req-123");
  ASSERT_TRUE(given.status.ok()) << given.status.error_message();
  EXPECT_EQ(given.body, "test-req-123");

  // None: a new one, the same in the handler and in the access line.
  CallResult made = Call(channel_, "/test.Echo/Id", "");
  ASSERT_TRUE(made.status.ok());
  EXPECT_TRUE(IsHex32(made.body)) << made.body;

  // One unfit to log: replaced.
  CallResult replaced = Call(channel_, "/test.Echo/Id", "has space\"quote");
  ASSERT_TRUE(replaced.status.ok());
  EXPECT_TRUE(IsHex32(replaced.body)) << replaced.body;
  EXPECT_NE(replaced.body, made.body);

  const std::string log = log_.str();
  EXPECT_EQ(LinesWith(log, {"\"msg\":\"rpc\"", "\"request_id\":\"test-req-123\""}).size(), 1u)
      << log;
  EXPECT_EQ(LinesWith(log, {"\"msg\":\"rpc\"", absl::StrCat("\"request_id\":\"", made.body, "\"")})
                .size(),
            1u)
      << log;
  EXPECT_THAT(log, Not(HasSubstr("has space")));
}

// --- request ids ----------------------------------------------------------------

TEST(RequestId, NewIdsAreHexAndDistinct) {
  const std::string a = NewRequestId();
  const std::string b = NewRequestId();
  EXPECT_TRUE(IsHex32(a)) << a;
  EXPECT_NE(a, b);
  EXPECT_TRUE(IsValidRequestId(a));
  EXPECT_TRUE(IsValidRequestId("test-req-123"));
  EXPECT_TRUE(IsValidRequestId("Root=1-5759e988/x_y.z:1+2="));
  EXPECT_FALSE(IsValidRequestId(""));
  EXPECT_FALSE(IsValidRequestId("a b"));
  EXPECT_FALSE(IsValidRequestId("a\"b"));
  EXPECT_FALSE(IsValidRequestId("line\nbreak"));
  EXPECT_FALSE(IsValidRequestId(std::string(129, 'a')));
  EXPECT_TRUE(IsValidRequestId(std::string(128, 'a')));
}

TEST(RequestId, LogLinesCarryTheCurrentIdWhileScoped) {
  std::stringstream log;
  InitLogging("rid", log);
  EXPECT_EQ(CurrentRequestId(), "");
  {
    ScopedRequestId outer("outer-1");
    LogInfo("in outer");
    {
      ScopedRequestId inner("inner-2");
      LogInfo("in inner");
      LogInfo("names its own", {{"request_id", "explicit-3"}});
    }
    EXPECT_EQ(CurrentRequestId(), "outer-1");
    LogInfo("outer again");
  }
  LogInfo("outside");
  // Another thread has its own (empty) id.
  {
    ScopedRequestId scoped("main-only");
    std::thread([] { LogInfo("other thread"); }).join();
  }
  InitLogging("okr", std::cout);

  const std::string text = log.str();
  const auto line = [&](absl::string_view msg) {
    std::vector<std::string> lines = LinesWith(text, {absl::StrCat("\"msg\":\"", msg, "\"")});
    return lines.size() == 1 ? lines[0] : std::string("<missing or repeated>");
  };
  EXPECT_THAT(line("in outer"), HasSubstr("\"request_id\":\"outer-1\""));
  EXPECT_THAT(line("in inner"), HasSubstr("\"request_id\":\"inner-2\""));
  EXPECT_THAT(line("names its own"), HasSubstr("\"request_id\":\"explicit-3\""));
  EXPECT_THAT(line("names its own"), Not(HasSubstr("inner-2")));
  EXPECT_THAT(line("outer again"), HasSubstr("\"request_id\":\"outer-1\""));
  EXPECT_THAT(line("outside"), Not(HasSubstr("request_id")));
  EXPECT_THAT(line("other thread"), Not(HasSubstr("request_id")));
}

// --- HealthWatch --------------------------------------------------------------------

absl::Status WaitForStatus(const std::string& address, ServingStatus want) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  absl::StatusOr<ServingStatus> seen = absl::UnknownError("not asked");
  while (absl::Now() < deadline) {
    seen = CheckHealth(address, "", absl::Seconds(2));
    if (seen.ok() && *seen == want) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("wanted ", Name(want), ", last saw ",
                   seen.ok() ? std::string(Name(*seen)) : seen.status().ToString()));
}

TEST(HealthWatch, FailingProbeMakesTheServerNotServingUntilItPasses) {
  std::stringstream log;
  InitLogging("hw", log);
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start({.listen_address = "127.0.0.1:0", .service_name = "hw"}, {});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(WaitForStatus((*server)->address(), ServingStatus::kServing).ok());

  std::atomic<bool> healthy{false};
  std::atomic<int> probes{0};
  std::unique_ptr<HealthWatch> watch = HealthWatch::Start(
      server->get(),
      [&]() -> absl::Status {
        ++probes;
        return healthy ? absl::OkStatus() : absl::UnavailableError("disk on fire");
      },
      absl::Milliseconds(20));
  absl::Status down = WaitForStatus((*server)->address(), ServingStatus::kNotServing);
  EXPECT_TRUE(down.ok()) << down;
  // Several failing probes, one log line.
  const int seen = probes.load();
  while (probes.load() < seen + 3) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(*CheckHealth((*server)->address(), "", absl::Seconds(2)), ServingStatus::kNotServing);

  healthy = true;
  absl::Status up = WaitForStatus((*server)->address(), ServingStatus::kServing);
  EXPECT_TRUE(up.ok()) << up;

  watch->Stop();
  // Stopped: the server is no longer touched, whatever the probe says.
  healthy = false;
  const int stopped_at = probes.load();
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(probes.load(), stopped_at);
  EXPECT_EQ(*CheckHealth((*server)->address(), "", absl::Seconds(2)), ServingStatus::kServing);
  watch.reset();
  (*server)->Shutdown();
  InitLogging("okr", std::cout);

  const std::string text = log.str();
  const std::vector<std::string> unreachable = LinesWith(text, {"store unreachable"});
  ASSERT_EQ(unreachable.size(), 1u) << text;
  EXPECT_THAT(unreachable[0], HasSubstr("\"level\":\"error\""));
  EXPECT_THAT(unreachable[0], HasSubstr("disk on fire"));
  EXPECT_EQ(LinesWith(text, {"store reachable again"}).size(), 1u) << text;
}

TEST(HealthWatch, HealthyProbeLeavesTheServerServingAndLogsNothing) {
  std::stringstream log;
  InitLogging("hw2", log);
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start({.listen_address = "127.0.0.1:0", .service_name = "hw2"}, {});
  ASSERT_TRUE(server.ok()) << server.status();
  std::atomic<int> probes{0};
  std::unique_ptr<HealthWatch> watch = HealthWatch::Start(
      server->get(), [&] { ++probes; return absl::OkStatus(); }, absl::Milliseconds(10));
  while (probes.load() < 5) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(*CheckHealth((*server)->address(), "", absl::Seconds(2)), ServingStatus::kServing);
  watch.reset();  // the destructor stops it
  (*server)->Shutdown();
  InitLogging("okr", std::cout);
  EXPECT_THAT(log.str(), Not(HasSubstr("health:")));
}

}  // namespace
}  // namespace okr
