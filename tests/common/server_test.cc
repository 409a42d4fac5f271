// Tests of the server bootstrap, the JSON logger, the status conversion and
// the health client: in process on 127.0.0.1 port 0, and end to end against
// the okr-test-server binary started with posix_spawn.
#include "common/server.h"

#include <fcntl.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
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
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

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

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
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

// A child process started with posix_spawn: gRPC is initialised in this test
// process, and fork() after that is unsafe.
class Child {
 public:
  static std::unique_ptr<Child> Spawn(const std::vector<std::string>& args,
                                      const std::vector<std::string>& env,
                                      const std::string& stdout_path) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    env_strings.insert(env_strings.end(), env.begin(), env.end());
    std::vector<char*> argv, envp;
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const std::string& e : env_strings) {
      envp.push_back(const_cast<char*>(e.c_str()));
    }
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO,
                                     stdout_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO,
                                     (stdout_path + ".stderr").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // The child starts with no signals blocked and default dispositions,
    // whatever this test process did.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    const int rc =
        posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      ADD_FAILURE() << "posix_spawn " << args[0] << ": " << strerror(rc);
      return nullptr;
    }
    return std::unique_ptr<Child>(new Child(pid));
  }

  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void Signal(int signal) { kill(pid_, signal); }

  // The raw wait status, or nullopt when the child still runs after timeout.
  std::optional<int> Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      if (absl::Now() > deadline) return std::nullopt;
      absl::SleepFor(absl::Milliseconds(10));
    }
  }

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "okr-server-test-XXXXXX";
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// $OKR_BIN_DIR (set by CTest), else this test binary's own directory, where
// the build puts okr-test-server as well.
std::string BinDir() {
  const char* dir = std::getenv("OKR_BIN_DIR");
  if (dir != nullptr && *dir != '\0') return dir;
  std::error_code error;
  const std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? "" : self.parent_path().string();
}

// Polls a log file for a line with msg == `msg`, parsed.
std::optional<google::protobuf::Struct> AwaitLogLine(const std::string& path,
                                                     const std::string& msg,
                                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    for (const std::string& line : Lines(ReadFile(path))) {
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

// --- status conversion
// -----------------------------------------------------------

TEST(GrpcStatusTest, EveryCanonicalCodeAndMessageSurviveBothWays) {
  for (int raw = 1; raw <= 16; ++raw) {
    const absl::Status in(static_cast<absl::StatusCode>(raw),
                          absl::StrCat("message ", raw));
    const grpc::Status g = ToGrpcStatus(in);
    EXPECT_EQ(static_cast<int>(g.error_code()), raw);
    EXPECT_EQ(g.error_message(), absl::StrCat("message ", raw));
    EXPECT_EQ(ToAbslStatus(g), in);
  }
  // Spot checks against grpc's own enumerators, independent of the numbers.
  EXPECT_EQ(ToGrpcStatus(absl::AbortedError("stale version")).error_code(),
            grpc::StatusCode::ABORTED);
  EXPECT_EQ(ToGrpcStatus(absl::UnauthenticatedError("x")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      ToAbslStatus(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "x"))
          .code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(ToAbslStatus(grpc::Status::OK).ok());
  EXPECT_EQ(ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(99), "odd"))
                .error_code(),
            grpc::StatusCode::UNKNOWN);
}

TEST(GrpcStatusTest, ErrorDetailsAreCarriedThrough) {
  const grpc::Status from_peer(grpc::StatusCode::INVALID_ARGUMENT, "bad",
                               std::string("\x0a\x03\x01\x02\x00", 5));
  const absl::Status domain = ToAbslStatus(from_peer);
  ASSERT_TRUE(domain.GetPayload(kGrpcStatusDetailsPayloadUrl).has_value());
  EXPECT_EQ(ToGrpcStatus(domain).error_details(), from_peer.error_details());
}

std::vector<std::string> FakeViolations(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return {};
  return {"objective.title: must not be empty",
          "key_result.weight: must be >= 0"};
}
std::string FakeDetails(const absl::Status& status) {
  return absl::StrCat("details for ", status.message());
}

TEST(GrpcStatusTest, HooksKeepFieldViolationsInTheMessage) {
  SetGrpcStatusHooks({.list_field_violations = &FakeViolations,
                      .encode_error_details = &FakeDetails});
  const grpc::Status g = ToGrpcStatus(absl::InvalidArgumentError(
      "create objective: objective.title: must not be empty"));
  SetGrpcStatusHooks({});
  // The violation already in the message is not repeated; the other is added.
  EXPECT_EQ(g.error_message(),
            "create objective: objective.title: must not be empty; "
            "key_result.weight: must be >= 0");
  EXPECT_EQ(g.error_details(),
            "details for create objective: objective.title: must not be empty");
  // Without hooks the message is untouched.
  EXPECT_EQ(ToGrpcStatus(absl::InvalidArgumentError("plain")).error_message(),
            "plain");
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
  const absl::Status wait =
      WaitForServing((*server)->address(), absl::Milliseconds(300));
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

// --- end to end: the okr-test-server binary
// --------------------------------------

class BinaryTest : public ::testing::TestWithParam<int> {
 protected:
  std::string Binary() const { return BinDir() + "/okr-test-server"; }
  std::string LogPath() const { return dir_.path() + "/stdout.log"; }
  TempDir dir_;
};

TEST_P(BinaryTest, ServesThenExitsZeroOnSignalWithJsonLogs) {
  ASSERT_FALSE(BinDir().empty()) << "cannot find okr-test-server";
  std::unique_ptr<Child> child = Child::Spawn(
      {Binary(), "--listen=127.0.0.1:0", "--shutdown_grace=2s"}, {}, LogPath());
  ASSERT_NE(child, nullptr);
  std::optional<google::protobuf::Struct> started =
      AwaitLogLine(LogPath(), "server started", absl::Seconds(10));
  ASSERT_TRUE(started.has_value()) << ReadFile(LogPath());
  const int port =
      static_cast<int>(started->fields().at("port").number_value());
  ASSERT_GT(port, 0);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  ASSERT_TRUE(WaitForServing(address, absl::Seconds(5)).ok());

  const int signal = GetParam();
  child->Signal(signal);
  std::optional<int> status = child->Wait(absl::Seconds(5));
  ASSERT_TRUE(status.has_value()) << "still running 5 s after the signal";
  ASSERT_TRUE(WIFEXITED(*status)) << "killed by signal " << WTERMSIG(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);

  const std::vector<std::string> lines = Lines(ReadFile(LogPath()));
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
  EXPECT_EQ(ReadFile(LogPath() + ".stderr"), "");
}

TEST_P(BinaryTest, SignalBeforeTheWaitIsKeptPendingNotFatal) {
  ASSERT_FALSE(BinDir().empty()) << "cannot find okr-test-server";
  std::unique_ptr<Child> child = Child::Spawn(
      {Binary(), "--listen=127.0.0.1:0", "--pause_before_wait=500ms"}, {},
      LogPath());
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(
      AwaitLogLine(LogPath(), "server started", absl::Seconds(10)).has_value())
      << ReadFile(LogPath());
  // gRPC's threads exist now and the main thread is not yet in sigwait: only
  // the mask set by InitMain keeps this signal from killing the process.
  child->Signal(GetParam());
  std::optional<int> status = child->Wait(absl::Seconds(5));
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFEXITED(*status)) << "killed by signal " << WTERMSIG(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

INSTANTIATE_TEST_SUITE_P(Signals, BinaryTest,
                         ::testing::Values(SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGTERM ? "Sigterm"
                                                                    : "Sigint");
                         });

TEST(BinaryFlagsTest, EnvironmentFallbackAndCommandLineOverride) {
  ASSERT_FALSE(BinDir().empty()) << "cannot find okr-test-server";
  TempDir dir;
  const std::string binary = BinDir() + "/okr-test-server";
  {
    // Only the environment: FLAGS_<name> supplies the value.
    const std::string log = dir.path() + "/env.log";
    std::unique_ptr<Child> child = Child::Spawn(
        {binary}, {"FLAGS_listen=localhost:0", "FLAGS_shutdown_grace=3s"}, log);
    ASSERT_NE(child, nullptr);
    std::optional<google::protobuf::Struct> started =
        AwaitLogLine(log, "server started", absl::Seconds(10));
    ASSERT_TRUE(started.has_value())
        << ReadFile(log) << ReadFile(log + ".stderr");
    EXPECT_EQ(StringField(*started, "listen"), "localhost:0");
    EXPECT_EQ(StringField(*started, "shutdown_grace"), "3s");
    child->Signal(SIGTERM);
    ASSERT_TRUE(child->Wait(absl::Seconds(5)).has_value());
  }
  {
    // The command line wins over a (here unusable) environment value.
    const std::string log = dir.path() + "/override.log";
    std::unique_ptr<Child> child = Child::Spawn(
        {binary, "--listen=127.0.0.1:0"}, {"FLAGS_listen=not-an-address"}, log);
    ASSERT_NE(child, nullptr);
    std::optional<google::protobuf::Struct> started =
        AwaitLogLine(log, "server started", absl::Seconds(10));
    ASSERT_TRUE(started.has_value())
        << ReadFile(log) << ReadFile(log + ".stderr");
    EXPECT_EQ(StringField(*started, "listen"), "127.0.0.1:0");
    child->Signal(SIGTERM);
    std::optional<int> status = child->Wait(absl::Seconds(5));
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  }
}

TEST(BinaryFlagsTest, HelpListsTheFlagsAndBadAddressFailsCleanly) {
  ASSERT_FALSE(BinDir().empty()) << "cannot find okr-test-server";
  TempDir dir;
  const std::string binary = BinDir() + "/okr-test-server";
  const std::string help_log = dir.path() + "/help.log";
  std::unique_ptr<Child> help = Child::Spawn({binary, "--help"}, {}, help_log);
  ASSERT_NE(help, nullptr);
  ASSERT_TRUE(help->Wait(absl::Seconds(5)).has_value());
  const std::string help_text =
      ReadFile(help_log) + ReadFile(help_log + ".stderr");
  EXPECT_THAT(help_text, HasSubstr("--listen"));
  EXPECT_THAT(help_text, HasSubstr("--shutdown_grace"));
  EXPECT_THAT(help_text, HasSubstr("an empty gRPC server"));
  EXPECT_THAT(help_text, Not(HasSubstr("--flagfile (")));  // absl's own flags

  const std::string bad_log = dir.path() + "/bad.log";
  std::unique_ptr<Child> bad =
      Child::Spawn({binary, "--listen=127.0.0.1"}, {}, bad_log);
  ASSERT_NE(bad, nullptr);
  std::optional<int> status = bad->Wait(absl::Seconds(5));
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  std::optional<google::protobuf::Struct> error =
      AwaitLogLine(bad_log, "cannot start", absl::Seconds(1));
  ASSERT_TRUE(error.has_value()) << ReadFile(bad_log);
  EXPECT_EQ(StringField(*error, "level"), "error");
  EXPECT_THAT(StringField(*error, "error"), HasSubstr("INVALID_ARGUMENT"));
}

}  // namespace
}  // namespace okr
