// Tests of the server bootstrap, the JSON logger, error details on the wire
// and the health client: in process on 127.0.0.1 port 0, and end to end
// against the okr-test-server binary run as a Subprocess. The status
// conversion itself is unit-tested in grpc_status_test.cc.
#include "common/server.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/byte_buffer.h>
#include <signal.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "common/health_client.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/common.pb.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// --- helpers -----------------------------------------------------------------

std::optional<google::protobuf::Struct> ParseJson(const std::string& line) {
  google::protobuf::Struct out;
  if (!google::protobuf::util::JsonStringToMessage(line, &out).ok()) {
    return std::nullopt;
  }
  return out;
}

std::string StringField(const google::protobuf::Struct& s,
                        const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? "<missing>" : it->second.string_value();
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// True when `s` has `shape`'s length and a digit wherever `shape` has 'd'
// and the same character elsewhere. (std::regex trips GCC 12 warnings under
// the sanitizers.)
bool MatchesShape(absl::string_view s, absl::string_view shape) {
  if (s.size() != shape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool ok =
        shape[i] == 'd' ? absl::ascii_isdigit(s[i]) : s[i] == shape[i];
    if (!ok) return false;
  }
  return true;
}


std::string ToString(const grpc::ByteBuffer& buffer) {
  grpc::Slice slice;
  if (!buffer.DumpToSingleSlice(&slice).ok()) return "";
  return std::string(reinterpret_cast<const char*>(slice.begin()),
                     slice.size());
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

// A raw streaming call over the generic stub and a completion queue, one
// operation at a time; enough to drive health Watch and reflection without
// their .proto files.
class RawStream {
 public:
  RawStream(std::shared_ptr<grpc::Channel> channel, const std::string& method,
            absl::Duration timeout)
      : stub_(std::move(channel)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    call_ = stub_.PrepareCall(&context_, method, &cq_);
    call_->StartCall(Tag());
    started_ = Await();
  }
  ~RawStream() {
    if (!finished_) {
      context_.TryCancel();
      Finish();
    }
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  bool started() const { return started_; }

  // Sends the only request and half-closes.
  bool WriteLast(const std::string& bytes) {
    grpc::ByteBuffer buffer = ToByteBuffer(bytes);
    call_->WriteLast(buffer, grpc::WriteOptions(), Tag());
    return Await();
  }

  // The next message, or nullopt once the server has ended the stream.
  std::optional<std::string> Read() {
    grpc::ByteBuffer buffer;
    call_->Read(&buffer, Tag());
    if (!Await()) return std::nullopt;
    return ToString(buffer);
  }

  grpc::Status Finish() {
    grpc::Status status;
    call_->Finish(&status, Tag());
    Await();
    finished_ = true;
    return status;
  }

 private:
  void* Tag() { return this; }
  bool Await() {
    void* tag;
    bool ok = false;
    return cq_.Next(&tag, &ok) && ok;
  }

  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool started_ = false;
  bool finished_ = false;
};

ServerOptions LocalOptions() {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.service_name = "server-test";
  options.shutdown_grace = absl::Seconds(1);
  return options;
}

// Polls a log file for a line with msg == `msg`, parsed.
std::optional<google::protobuf::Struct> AwaitLogLine(const std::string& path,
                                                     const std::string& msg,
                                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    for (const std::string& line : Lines(ReadFileToString(path))) {
      std::optional<google::protobuf::Struct> json = ParseJson(line);
      if (json.has_value() && StringField(*json, "msg") == msg) return json;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return std::nullopt;
}

// --- logging
// -------------------------------------------------------------------

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { InitLogging("svc \"quoted\" %Y 100%", out_); }
  void TearDown() override {
    SetDebugLogging(false);
    InitLogging("okr");  // back to stdout before out_ goes away
  }
  std::vector<std::string> LinesOut() const { return Lines(out_.str()); }

  std::ostringstream out_;
};

TEST_F(LogTest, LineIsOneJsonObjectWithFixedKeysAndTypedFields) {
  const absl::Time before = absl::Now();
  LogInfo("server started", {{"listen", "127.0.0.1:0"},
                             {"port", 50051},
                             {"ratio", 0.25},
                             {"tls", false},
                             {"grace", absl::Seconds(10)},
                             {"error", absl::NotFoundError("no such cycle")}});
  const std::vector<std::string> lines = LinesOut();
  ASSERT_EQ(lines.size(), 1u) << out_.str();
  std::optional<google::protobuf::Struct> json = ParseJson(lines[0]);
  ASSERT_TRUE(json.has_value()) << lines[0];
  EXPECT_EQ(StringField(*json, "level"), "info");
  // The service name went through spdlog's pattern: '%' must survive.
  EXPECT_EQ(StringField(*json, "service"), "svc \"quoted\" %Y 100%");
  EXPECT_EQ(StringField(*json, "msg"), "server started");
  EXPECT_EQ(StringField(*json, "listen"), "127.0.0.1:0");
  EXPECT_EQ(json->fields().at("port").number_value(), 50051);
  EXPECT_EQ(json->fields().at("ratio").number_value(), 0.25);
  EXPECT_EQ(json->fields().at("tls").kind_case(),
            google::protobuf::Value::kBoolValue);
  EXPECT_FALSE(json->fields().at("tls").bool_value());
  EXPECT_EQ(StringField(*json, "grace"), "10s");
  EXPECT_EQ(StringField(*json, "error"), "NOT_FOUND: no such cycle");

  const std::string ts = StringField(*json, "ts");
  EXPECT_TRUE(MatchesShape(ts, "dddd-dd-ddTdd:dd:dd.ddddddZ")) << ts;
  absl::Time parsed;
  std::string error;
  ASSERT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", ts, absl::UTCTimeZone(),
                              &parsed, &error))
      << error;
  // UTC: a local-time stamp would be off by the zone offset.
  EXPECT_LE(absl::AbsDuration(parsed - before), absl::Seconds(5));
}

TEST_F(LogTest, LevelsAndDebugSwitch) {
  LogWarn("w");
  LogError("e");
  LogDebug("dropped");
  SetDebugLogging(true);
  LogDebug("kept");
  const std::vector<std::string> lines = LinesOut();
  ASSERT_EQ(lines.size(), 3u) << out_.str();
  std::vector<std::string> levels, msgs;
  for (const std::string& line : lines) {
    std::optional<google::protobuf::Struct> json = ParseJson(line);
    ASSERT_TRUE(json.has_value()) << line;
    levels.push_back(StringField(*json, "level"));
    msgs.push_back(StringField(*json, "msg"));
  }
  EXPECT_THAT(levels, ::testing::ElementsAre("warning", "error", "debug"));
  EXPECT_THAT(msgs, ::testing::ElementsAre("w", "e", "kept"));
}

TEST_F(LogTest, HostileStringsStayValidJson) {
  const std::string nasty =
      std::string("quote\" backslash\\ newline\n tab\t nul") + '\0' +
      " bell\a del\x7f brace} é ✓ 😀";
  LogInfo(nasty, {{nasty, nasty},
                  {"msg", "shadow"},
                  {"nan", std::nan("")},
                  {"inf", -std::numeric_limits<double>::infinity()}});
  const std::vector<std::string> lines = LinesOut();
  ASSERT_EQ(lines.size(), 1u) << "a raw newline leaked: " << out_.str();
  std::optional<google::protobuf::Struct> json = ParseJson(lines[0]);
  ASSERT_TRUE(json.has_value()) << lines[0];
  EXPECT_EQ(StringField(*json, "msg"), nasty);
  EXPECT_EQ(StringField(*json, nasty), nasty);
  // A field may not overwrite a fixed key.
  EXPECT_EQ(StringField(*json, "field.msg"), "shadow");
  EXPECT_EQ(StringField(*json, "nan"), "NaN");
  EXPECT_EQ(StringField(*json, "inf"), "-Inf");
}

TEST(JsonQuoteTest, InvalidUtf8BecomesReplacementCharacter) {
  // Lone continuation byte, overlong '/', a UTF-16 surrogate, truncated
  // 3-byte sequence at the end.
  const std::string bad =
      "a\x80"
      "b\xC0\xAF"
      "c\xED\xA0\x80"
      "d\xE2\x9C";
  std::optional<google::protobuf::Struct> json =
      ParseJson(absl::StrCat("{\"k\":", JsonQuote(bad), "}"));
  ASSERT_TRUE(json.has_value()) << JsonQuote(bad);
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  EXPECT_EQ(StringField(*json, "k"),
            absl::StrCat("a", r, "b", r, r, "c", r, r, r, "d", r, r));
  EXPECT_EQ(JsonQuote("\x01"), "\"\\u0001\"");
  EXPECT_EQ(JsonQuote("✓"), "\"✓\"");
}

// --- health wire encoding
// --------------------------------------------------------

// google.protobuf.StringValue {string value = 1} and Int32Value {int32 value =
// 1} have the wire shape of HealthCheckRequest and HealthCheckResponse, so
// protobuf's own codec checks the hand-written one.
TEST(HealthWireTest, RequestParsesAsTheSameShapeMessage) {
  google::protobuf::StringValue parsed;
  ASSERT_TRUE(
      parsed.ParseFromString(EncodeHealthCheckRequest("okr.v1.Planning")));
  EXPECT_EQ(parsed.value(), "okr.v1.Planning");
  EXPECT_EQ(EncodeHealthCheckRequest(""), "");
  const std::string long_name(300, 'x');  // a two-byte length varint
  ASSERT_TRUE(parsed.ParseFromString(EncodeHealthCheckRequest(long_name)));
  EXPECT_EQ(parsed.value(), long_name);
}

TEST(HealthWireTest, ResponseDecoding) {
  google::protobuf::Int32Value v;
  v.set_value(2);
  EXPECT_EQ(DecodeHealthCheckResponse(v.SerializeAsString()).value(),
            ServingStatus::kNotServing);
  v.set_value(1);
  // Unknown fields of every wire type around the status are skipped.
  const std::string with_unknown =
      std::string("\x12\x02hi", 4) + "\x19" + std::string(8, '\x01') +
      v.SerializeAsString() + std::string("\x25\x01\x02\x03\x04", 5) +
      std::string("\x30\x96\x01", 3);
  EXPECT_EQ(DecodeHealthCheckResponse(with_unknown).value(),
            ServingStatus::kServing);
  EXPECT_EQ(DecodeHealthCheckResponse("").value(), ServingStatus::kUnknown);
  EXPECT_EQ(DecodeHealthCheckResponse("\x08").status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(DecodeHealthCheckResponse("\x12\x05hi").status().code(),
            absl::StatusCode::kInternal);
}

// --- in-process server
// -----------------------------------------------------------

TEST(ServerTest, StartsOnPortZeroAndServesHealth) {
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(LocalOptions(), {});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  EXPECT_GT(port, 0);
  EXPECT_EQ((*server)->address(), absl::StrCat("127.0.0.1:", port));
  EXPECT_TRUE(WaitForServing((*server)->address(), absl::Seconds(5)).ok());
  absl::StatusOr<ServingStatus> status =
      CheckHealth((*server)->address(), "", absl::Seconds(2));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, ServingStatus::kServing);
  // A service name the server does not know is NOT_FOUND, per the protocol.
  EXPECT_EQ(
      CheckHealth((*server)->address(), "no.such.Service", absl::Seconds(2))
          .status()
          .code(),
      absl::StatusCode::kNotFound);
}

TEST(ServerTest, ReflectionListsTheHealthService) {
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(LocalOptions(), {});
  ASSERT_TRUE(server.ok()) << server.status();
  RawStream stream(Channel((*server)->address()),
                   "/grpc.reflection.v1alpha.ServerReflection/"
                   "ServerReflectionInfo",
                   absl::Seconds(5));
  ASSERT_TRUE(stream.started());
  // ServerReflectionRequest { string list_services = 7; } with "*".
  ASSERT_TRUE(stream.WriteLast(std::string("\x3a\x01*", 3)));
  std::optional<std::string> reply = stream.Read();
  ASSERT_TRUE(reply.has_value());
  EXPECT_THAT(*reply, HasSubstr("grpc.health.v1.Health"));
  EXPECT_TRUE(stream.Finish().ok());
}

TEST(ServerTest, SetServingTogglesHealth) {
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(LocalOptions(), {});
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->SetServing(false);
  EXPECT_EQ(CheckHealth((*server)->address(), "", absl::Seconds(2)).value(),
            ServingStatus::kNotServing);
  // Long enough for a fresh channel to connect under a sanitizer on a
  // loaded machine; the server keeps answering NOT_SERVING meanwhile.
  const absl::Status wait =
      WaitForServing((*server)->address(), absl::Seconds(1));
  EXPECT_EQ(wait.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(wait.message(), HasSubstr("NOT_SERVING"));
  (*server)->SetServing(true);
  EXPECT_EQ(CheckHealth((*server)->address(), "", absl::Seconds(2)).value(),
            ServingStatus::kServing);
}

TEST(ServerTest,
     ShutdownReportsNotServingThenStopsWithinGraceDespiteLiveStream) {
  ServerOptions options = LocalOptions();
  options.shutdown_grace = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options, {});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();

  // A health Watch is a server stream that stays open until cancelled.
  RawStream watch(Channel(address), "/grpc.health.v1.Health/Watch",
                  absl::Seconds(30));
  ASSERT_TRUE(watch.started());
  ASSERT_TRUE(watch.WriteLast(EncodeHealthCheckRequest("")));
  std::optional<std::string> first = watch.Read();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(DecodeHealthCheckResponse(*first).value(), ServingStatus::kServing);

  absl::Duration took;
  std::thread stopper([&] {
    const absl::Time start = absl::Now();
    (*server)->Shutdown();
    took = absl::Now() - start;
  });
  // The stream sees NOT_SERVING before the server goes away.
  std::vector<absl::StatusOr<ServingStatus>> updates;
  while (std::optional<std::string> update = watch.Read()) {
    updates.push_back(DecodeHealthCheckResponse(*update));
  }
  const grpc::Status end = watch.Finish();
  stopper.join();
  ASSERT_EQ(updates.size(), 1u);
  ASSERT_TRUE(updates[0].ok()) << updates[0].status();
  EXPECT_EQ(*updates[0], ServingStatus::kNotServing);
  EXPECT_FALSE(end.ok());
  EXPECT_LT(took, options.shutdown_grace + absl::Seconds(2));

  EXPECT_EQ(CheckHealth(address, "", absl::Seconds(1)).status().code(),
            absl::StatusCode::kUnavailable);
  (*server)->Shutdown();  // idempotent
}

TEST(ServerTest, TakenPortIsAnErrorNotACrash) {
  absl::StatusOr<std::unique_ptr<Server>> first =
      Server::Start(LocalOptions(), {});
  ASSERT_TRUE(first.ok()) << first.status();
  ServerOptions options = LocalOptions();
  options.listen_address = (*first)->address();
  absl::StatusOr<std::unique_ptr<Server>> second = Server::Start(options, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr((*first)->address()));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  // The first server is unaffected.
  EXPECT_EQ(CheckHealth((*first)->address(), "", absl::Seconds(2)).value(),
            ServingStatus::kServing);
}

TEST(ServerTest, MalformedOptionsAreInvalidArgument) {
  for (const char* address : {"127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000",
                              ":50051", "::1:0", "[::1:0"}) {
    ServerOptions options = LocalOptions();
    options.listen_address = address;
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options, {});
    ASSERT_FALSE(server.ok()) << address;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(server.status().message(), HasSubstr("listen_address"));
    EXPECT_THAT(server.status().message(), HasSubstr(address));
  }
  ServerOptions options = LocalOptions();
  options.max_receive_message_bytes = 0;
  EXPECT_THAT(Server::Start(options, {}).status().message(),
              HasSubstr("max_receive_message_bytes"));
}

TEST(ServerTest, OversizedRequestIsRejected) {
  ServerOptions options = LocalOptions();
  options.max_receive_message_bytes = 1024;
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options, {});
  ASSERT_TRUE(server.ok()) << server.status();
  // A health check naming a service larger than the limit.
  const grpc::ByteBuffer request =
      ToByteBuffer(EncodeHealthCheckRequest(std::string(4096, 's')));
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::GenericStub stub(Channel((*server)->address()));
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
}

// --- error details on the wire
// ---------------------------------------------------------

// A generic service that fails each call with the status configured for its
// method, converted with ToGrpcStatus as the services convert theirs.
class FailingService : public grpc::CallbackGenericService {
 public:
  explicit FailingService(std::map<std::string, absl::Status> by_method)
      : by_method_(std::move(by_method)) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    auto it = by_method_.find(context->method());
    return new Reactor(
        it == by_method_.end()
            ? grpc::Status(grpc::StatusCode::UNIMPLEMENTED, context->method())
            : ToGrpcStatus(it->second));
  }

 private:
  class Reactor : public grpc::ServerGenericBidiReactor {
   public:
    // Finishing before the stream is bound is allowed: gRPC holds the
    // operation until it is.
    explicit Reactor(const grpc::Status& status) { Finish(status); }
    void OnDone() override { delete this; }
  };

  const std::map<std::string, absl::Status> by_method_;
};

// The status of a unary call of `method` with an empty request.
grpc::Status CallUnary(const std::string& address, const std::string& method) {
  const grpc::ByteBuffer request = ToByteBuffer("");
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::GenericStub stub(Channel(address));
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return status;
}

class ErrorDetailsTest : public ::testing::Test {
 protected:
  static constexpr char kViolationsMethod[] = "/okr.test.Failing/Violations";
  static constexpr char kPlainMethod[] = "/okr.test.Failing/Plain";
  static constexpr char kManyMethod[] = "/okr.test.Failing/Many";
  static constexpr char kLongMethod[] = "/okr.test.Failing/Long";

  // A failed CSV import naming 1000 cells, with text gRPC must
  // percent-encode in grpc-message.
  static std::vector<FieldViolation> ManyViolations() {
    std::vector<FieldViolation> out;
    for (int row = 1; row <= 1000; ++row) {
      out.push_back({absl::StrCat("rows[", row, "].target"),
                     "must be a number, got \"4\n2\" (100% sûr)"});
    }
    return out;
  }

  void SetUp() override {
    ServerOptions options = LocalOptions();
    options.configure_builder = [this](grpc::ServerBuilder& builder) {
      builder.RegisterCallbackGenericService(&service_);
    };
    OKR_ASSERT_OK_AND_ASSIGN(server_, Server::Start(options, {}));
  }

  const std::vector<FieldViolation> violations_ = {
      {"objective.title", "must not be empty"},
      {"key_result.weight", "must be > 0 and <= 1000, got -2"},
  };
  FailingService service_{{
      {kViolationsMethod, MakeInvalidArgument(violations_)},
      {kPlainMethod, absl::NotFoundError("no cycle \"c9\" in organisation")},
      {kManyMethod, MakeInvalidArgument(ManyViolations())},
      {kLongMethod, absl::InternalError(std::string(20000, '\n'))},
  }};
  std::unique_ptr<Server> server_;
};

TEST_F(ErrorDetailsTest, FieldViolationsReachTheClientAsBadRequest) {
  const grpc::Status status = CallUnary(server_->address(), kViolationsMethod);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("objective.title: must not be empty"));
  EXPECT_THAT(status.error_message(),
              HasSubstr("key_result.weight: must be > 0 and <= 1000, got -2"));

  // Decoded as a client with only the contracts would.
  v1::RpcStatus rpc_status;
  ASSERT_TRUE(rpc_status.ParseFromString(status.error_details()))
      << "no or malformed grpc-status-details-bin";
  EXPECT_EQ(rpc_status.code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(rpc_status.message(), status.error_message());
  ASSERT_EQ(rpc_status.details_size(), 1);
  EXPECT_EQ(rpc_status.details(0).type_url(),
            "type.googleapis.com/google.rpc.BadRequest");
  v1::BadRequest bad_request;
  ASSERT_TRUE(bad_request.ParseFromString(rpc_status.details(0).value()));
  std::vector<FieldViolation> received;
  for (const auto& v : bad_request.field_violations()) {
    received.push_back({v.field(), v.description()});
  }
  EXPECT_EQ(received, violations_);

  // And as a service calling another one does.
  const absl::Status domain = ToAbslStatus(status);
  EXPECT_EQ(domain.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolationsOf(domain), violations_);
}

// Unbounded, these would exceed the client's 8 KiB metadata limit and the
// call would end in RESOURCE_EXHAUSTED with the error lost.
TEST_F(ErrorDetailsTest, LargeErrorsStillReachTheClient) {
  const grpc::Status many = CallUnary(server_->address(), kManyMethod);
  ASSERT_EQ(many.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << many.error_message();
  EXPECT_THAT(many.error_message(), HasSubstr("1000 field violations in all"));
  const std::vector<FieldViolation> received =
      FieldViolationsOf(ToAbslStatus(many));
  const std::vector<FieldViolation> all = ManyViolations();
  ASSERT_FALSE(received.empty());
  ASSERT_LT(received.size(), all.size());
  EXPECT_EQ(received,
            std::vector<FieldViolation>(
                all.begin(), all.begin() + static_cast<long>(received.size())));

  const grpc::Status long_message = CallUnary(server_->address(), kLongMethod);
  EXPECT_EQ(long_message.error_code(), grpc::StatusCode::INTERNAL)
      << long_message.error_message();
  EXPECT_THAT(long_message.error_message(), HasSubstr("[truncated]"));
}

TEST_F(ErrorDetailsTest, StatusWithoutViolationsSendsNoDetails) {
  const grpc::Status status = CallUnary(server_->address(), kPlainMethod);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "no cycle \"c9\" in organisation");
  EXPECT_EQ(status.error_details(), "");
}

// --- end to end: the okr-test-server binary
// --------------------------------------

// Starts okr-test-server with `args` on top of the test's environment plus
// `env`; its stdout goes to `log`, its stderr to `log` + ".stderr".
absl::StatusOr<std::unique_ptr<Subprocess>> StartTestServer(
    std::vector<std::string> args, const std::string& log,
    std::vector<std::pair<std::string, std::string>> env = {}) {
  OKR_ASSIGN_OR_RETURN(std::string binary, OkrBinary("okr-test-server"));
  SubprocessOptions options;
  options.program = std::move(binary);
  options.args = std::move(args);
  options.env = std::move(env);
  options.stdout_path = log;
  options.stderr_path = log + ".stderr";
  return Subprocess::Start(std::move(options));
}

class BinaryTest : public ::testing::TestWithParam<int> {
 protected:
  std::string LogPath() const { return dir_.File("stdout.log"); }
  TempDir dir_{"okr-server-test"};
};

TEST_P(BinaryTest, ServesThenExitsZeroOnSignalWithJsonLogs) {
  OKR_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Subprocess> child,
      StartTestServer({"--listen=127.0.0.1:0", "--shutdown_grace=2s"},
                      LogPath()));
  std::optional<google::protobuf::Struct> started =
      AwaitLogLine(LogPath(), "server started", absl::Seconds(10));
  ASSERT_TRUE(started.has_value()) << ReadFileToString(LogPath());
  const int port =
      static_cast<int>(started->fields().at("port").number_value());
  ASSERT_GT(port, 0);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  ASSERT_TRUE(WaitForServing(address, absl::Seconds(5)).ok());

  const int signal = GetParam();
  OKR_ASSERT_OK(child->Kill(signal));
  absl::StatusOr<ExitStatus> exit = child->Wait(absl::Seconds(5));
  ASSERT_TRUE(exit.ok()) << "still running 5 s after the signal";
  ASSERT_TRUE(exit->exited()) << "killed: " << exit->ToString();
  EXPECT_EQ(exit->exit_code, 0);

  const std::vector<std::string> lines = Lines(ReadFileToString(LogPath()));
  ASSERT_GE(lines.size(), 4u);
  std::vector<std::string> msgs;
  for (const std::string& line : lines) {
    std::optional<google::protobuf::Struct> json = ParseJson(line);
    ASSERT_TRUE(json.has_value()) << "not JSON: " << line;
    EXPECT_EQ(StringField(*json, "service"), "okr-test-server");
    msgs.push_back(StringField(*json, "msg"));
    if (msgs.back() == "shutdown signal received") {
      EXPECT_EQ(StringField(*json, "signal"),
                signal == SIGTERM ? "SIGTERM" : "SIGINT");
    }
  }
  EXPECT_THAT(msgs, ::testing::IsSupersetOf(
                        {"server started", "shutdown signal received",
                         "server shutting down", "server stopped"}));
  EXPECT_EQ(ReadFileToString(LogPath() + ".stderr"), "");
}

TEST_P(BinaryTest, SignalBeforeTheWaitIsKeptPendingNotFatal) {
  OKR_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Subprocess> child,
      StartTestServer({"--listen=127.0.0.1:0", "--pause_before_wait=500ms"},
                      LogPath()));
  ASSERT_TRUE(
      AwaitLogLine(LogPath(), "server started", absl::Seconds(10)).has_value())
      << ReadFileToString(LogPath());
  // gRPC's threads exist now and the main thread is not yet in sigwait: only
  // the mask set by InitMain keeps this signal from killing the process.
  OKR_ASSERT_OK(child->Kill(GetParam()));
  absl::StatusOr<ExitStatus> exit = child->Wait(absl::Seconds(5));
  OKR_ASSERT_OK(exit);
  ASSERT_TRUE(exit->exited()) << "killed: " << exit->ToString();
  EXPECT_EQ(exit->exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Signals, BinaryTest,
                         ::testing::Values(SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGTERM ? "Sigterm"
                                                                    : "Sigint");
                         });

TEST(BinaryFlagsTest, EnvironmentFallbackAndCommandLineOverride) {
  TempDir dir("okr-server-test");
  {
    // Only the environment: FLAGS_<name> supplies the value.
    const std::string log = dir.File("env.log");
    OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subprocess> child,
                             StartTestServer({}, log,
                                             {{"FLAGS_listen", "localhost:0"},
                                              {"FLAGS_shutdown_grace", "3s"}}));
    std::optional<google::protobuf::Struct> started =
        AwaitLogLine(log, "server started", absl::Seconds(10));
    ASSERT_TRUE(started.has_value())
        << ReadFileToString(log) << ReadFileToString(log + ".stderr");
    EXPECT_EQ(StringField(*started, "listen"), "localhost:0");
    EXPECT_EQ(StringField(*started, "shutdown_grace"), "3s");
    OKR_ASSERT_OK(child->Kill(SIGTERM));
    OKR_ASSERT_OK(child->Wait(absl::Seconds(5)));
  }
  {
    // The command line wins over a (here unusable) environment value.
    const std::string log = dir.File("override.log");
    OKR_ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<Subprocess> child,
        StartTestServer({"--listen=127.0.0.1:0"}, log,
                        {{"FLAGS_listen", "not-an-address"}}));
    std::optional<google::protobuf::Struct> started =
        AwaitLogLine(log, "server started", absl::Seconds(10));
    ASSERT_TRUE(started.has_value())
        << ReadFileToString(log) << ReadFileToString(log + ".stderr");
    EXPECT_EQ(StringField(*started, "listen"), "127.0.0.1:0");
    OKR_ASSERT_OK(child->Kill(SIGTERM));
    absl::StatusOr<ExitStatus> exit = child->Wait(absl::Seconds(5));
    OKR_ASSERT_OK(exit);
    EXPECT_TRUE(exit->success()) << exit->ToString();
  }
}

TEST(BinaryFlagsTest, HelpListsTheFlagsAndBadAddressFailsCleanly) {
  TempDir dir("okr-server-test");
  const std::string help_log = dir.File("help.log");
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subprocess> help,
                           StartTestServer({"--help"}, help_log));
  OKR_ASSERT_OK(help->Wait(absl::Seconds(5)));
  const std::string help_text =
      ReadFileToString(help_log) + ReadFileToString(help_log + ".stderr");
  EXPECT_THAT(help_text, HasSubstr("--listen"));
  EXPECT_THAT(help_text, HasSubstr("--shutdown_grace"));
  EXPECT_THAT(help_text, HasSubstr("an empty gRPC server"));
  EXPECT_THAT(help_text, Not(HasSubstr("--flagfile (")));  // absl's own flags

  const std::string bad_log = dir.File("bad.log");
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subprocess> bad,
                           StartTestServer({"--listen=127.0.0.1"}, bad_log));
  absl::StatusOr<ExitStatus> exit = bad->Wait(absl::Seconds(5));
  OKR_ASSERT_OK(exit);
  ASSERT_TRUE(exit->exited()) << "killed: " << exit->ToString();
  EXPECT_EQ(exit->exit_code, 1);
  std::optional<google::protobuf::Struct> error =
      AwaitLogLine(bad_log, "cannot start", absl::Seconds(1));
  ASSERT_TRUE(error.has_value()) << ReadFileToString(bad_log);
  EXPECT_EQ(StringField(*error, "level"), "error");
  EXPECT_THAT(StringField(*error, "error"), HasSubstr("INVALID_ARGUMENT"));
}

}  // namespace
}  // namespace okr
