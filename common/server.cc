#include "common/server.h"

#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include "absl/base/call_once.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace okr {
namespace {

// Set once a server has started, to tell whether the signals were blocked
// before gRPC created its threads.
std::atomic<bool> g_server_started{false};
std::atomic<bool> g_signals_blocked_early{false};

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

struct HostPort {
  std::string host;  // without IPv6 brackets
  std::string port;
};

absl::StatusOr<HostPort> SplitListenAddress(absl::string_view address,
                                            absl::string_view field = "listen_address") {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", why, ", got '", address,
                     "' (expected HOST:PORT, e.g. 0.0.0.0:50051 or [::]:0)"));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return bad("missing ':PORT'");
  HostPort out;
  absl::string_view host = address.substr(0, colon);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') return bad("unbalanced '['");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != absl::string_view::npos) {
    return bad("an IPv6 host must be written in brackets");
  }
  if (host.empty()) return bad("missing host");
  out.host = std::string(host);
  out.port = std::string(address.substr(colon + 1));
  int port;
  if (!absl::SimpleAtoi(out.port, &port) || port < 0 || port > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  return out;
}

std::string JoinHostPort(absl::string_view host, int port) {
  if (host.find(':') != absl::string_view::npos) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

// gRPC does not say why a port could not be added; bind a probe socket to the
// same address to find the OS error (usually "Address already in use").
std::string ProbeBindError(const HostPort& hp) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(hp.host.c_str(), hp.port.c_str(), &hints, &result);
  if (rc != 0) return absl::StrCat("cannot resolve host: ", gai_strerror(rc));
  std::string error = "unknown cause (see the grpc log line above)";
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    // gRPC sets SO_REUSEADDR too; without it a port in TIME_WAIT would look
    // taken here although gRPC could bind it.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
      error = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(result);
  return error;
}

// Process-wide gRPC settings that must precede the first ServerBuilder: the
// builder collects plugins in its constructor.
void InitGrpcServerGlobals() {
  static absl::once_flag once;
  absl::call_once(once, [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  });
}

constexpr absl::string_view kHealthCheckMethod = "/grpc.health.v1.Health/Check";
// A forwarded Check never waits longer than this for the main server, so a
// probe with a long (or no) deadline still gets an answer.
constexpr absl::Duration kHealthForwardTimeout = absl::Seconds(1);

// grpc.health.v1.HealthCheckResponse{status: NOT_SERVING}: field 1, varint 2.
grpc::ByteBuffer NotServingResponse() {
  static const char kBytes[] = {0x08, 0x02};
  grpc::Slice slice(kBytes, sizeof(kBytes));
  return grpc::ByteBuffer(&slice, 1);
}

// Answers one grpc.health.v1.Health/Check on the health port by forwarding
// the request bytes to the main server's own health service in process.
class ForwardedCheck : public grpc::ServerGenericBidiReactor {
 public:
  ForwardedCheck(grpc::GenericStub* main, grpc::GenericCallbackServerContext* context)
      : main_(main), context_(context) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "grpc.health.v1.Health/Check: no request message"));
      return;
    }
    const absl::Time deadline =
        std::min(absl::FromChrono(context_->deadline()), absl::Now() + kHealthForwardTimeout);
    forward_context_.set_deadline(absl::ToChronoTime(deadline));
    main_->UnaryCall(&forward_context_, std::string(kHealthCheckMethod), grpc::StubOptions(),
                     &request_, &response_, [this](grpc::Status status) { OnForwarded(status); });
  }

  void OnDone() override { delete this; }

 private:
  void OnForwarded(const grpc::Status& status) {
    if (status.ok()) {
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      Finish(status);  // an entry the main server does not have
    } else {
      // The main server is draining or gone: it serves nothing, say so
      // rather than leave the probe guessing from a transport error.
      response_ = NotServingResponse();
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    }
  }

  grpc::GenericStub* const main_;
  grpc::GenericCallbackServerContext* const context_;
  grpc::ClientContext forward_context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
};

// Everything the health port serves: Check, mirrored from the main server;
// every other method, okr.v1 and reflection included, is UNIMPLEMENTED.
class HealthProxy : public grpc::CallbackGenericService {
 public:
  explicit HealthProxy(const std::shared_ptr<grpc::Channel>& main) : main_(main) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    if (context->method() == kHealthCheckMethod) return new ForwardedCheck(&main_, context);
    class Unimplemented : public grpc::ServerGenericBidiReactor {
     public:
      explicit Unimplemented(const std::string& method) {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                            absl::StrCat(method,
                                         ": this plaintext port serves only "
                                         "grpc.health.v1.Health/Check; use the main port")));
      }
      void OnDone() override { delete this; }
    };
    return new Unimplemented(context->method());
  }

 private:
  grpc::GenericStub main_;
};

// Drops the builder plugins (server reflection) that InitGrpcServerGlobals
// installs for every server: the health port must list no other service.
class WithoutPlugins : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->clear();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options, const std::vector<grpc::Service*>& services) {
  absl::StatusOr<HostPort> host_port =
      SplitListenAddress(options.listen_address);
  if (!host_port.ok()) return host_port.status();
  if (options.max_receive_message_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_receive_message_bytes: must be positive, got ",
                     options.max_receive_message_bytes));
  }
  if (options.shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("shutdown_grace: must not be negative, got ",
                     absl::FormatDuration(options.shutdown_grace)));
  }
  if (!options.health_listen_address.empty()) {
    absl::StatusOr<HostPort> health =
        SplitListenAddress(options.health_listen_address, "health_listen_address");
    if (!health.ok()) return health.status();
  }
  InitGrpcServerGlobals();

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(options.listen_address,
                           options.credentials != nullptr
                               ? options.credentials
                               : grpc::InsecureServerCredentials(),
                           &selected_port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // With SO_REUSEPORT (gRPC's default on Linux) a second server on a taken
  // port would start and steal part of the traffic instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (grpc::Service* service : services) builder.RegisterService(service);
  if (options.configure_builder) options.configure_builder(builder);

  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || selected_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ",
                                               options.listen_address, ": ",
                                               ProbeBindError(*host_port)));
  }
  g_server_started.store(true);
  std::string address = JoinHostPort(host_port->host, selected_port);
  std::unique_ptr<Server> out(
      new Server(std::move(server), options, selected_port, address));
  if (!options.health_listen_address.empty()) {
    if (absl::Status health = out->StartHealthServer(); !health.ok()) {
      // The main server is not announced yet: stop it without a drain.
      out->server_->Shutdown(std::chrono::system_clock::now());
      out->server_->Wait();
      absl::MutexLock lock(&out->shutdown_mu_);
      out->shut_down_ = true;
      return health;
    }
  }
  out->SetServing(true);
  LogInfo("server started",
          {{"server", options.service_name},
           {"listen", options.listen_address},
           {"address", address},
           {"port", selected_port},
           {"health_port", out->health_port_},
           {"tls", options.credentials != nullptr},
           {"shutdown_grace", options.shutdown_grace},
           {"max_receive_message_bytes", options.max_receive_message_bytes}});
  return out;
}

Server::Server(std::unique_ptr<grpc::Server> server, ServerOptions options,
               int port, std::string address)
    : server_(std::move(server)),
      options_(std::move(options)),
      port_(port),
      address_(std::move(address)) {}

Server::~Server() { Shutdown(); }

absl::Status Server::StartHealthServer() {
  const std::string& listen = options_.health_listen_address;
  health_proxy_ = std::make_unique<HealthProxy>(server_->InProcessChannel(grpc::ChannelArguments()));
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &selected_port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Health requests are a few bytes; nothing else is accepted here.
  builder.SetMaxReceiveMessageSize(64 * 1024);
  // Null disables gRPC's default health service: its statuses would be this
  // server's own, not the main server's.
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  builder.SetOption(std::make_unique<WithoutPlugins>());
  builder.RegisterCallbackGenericService(health_proxy_.get());
  health_server_ = builder.BuildAndStart();
  if (health_server_ == nullptr || selected_port == 0) {
    health_server_.reset();
    absl::StatusOr<HostPort> host_port = SplitListenAddress(listen, "health_listen_address");
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, " (health_listen_address): ",
                     host_port.ok() ? ProbeBindError(*host_port) : host_port.status().ToString()));
  }
  health_port_ = selected_port;
  return absl::OkStatus();
}

void Server::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health != nullptr) health->SetServingStatus(serving);
}

void Server::Shutdown() {
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  const absl::Time start = absl::Now();
  LogInfo("server shutting down", {{"server", options_.service_name},
                                   {"address", address_},
                                   {"grace", options_.shutdown_grace}});
  SetServing(false);
  // Without a deadline Shutdown waits forever for live streams.
  server_->Shutdown(absl::ToChronoTime(start + options_.shutdown_grace));
  server_->Wait();
  if (health_server_ != nullptr) {
    // Its calls take at most kHealthForwardTimeout; nothing is worth waiting for.
    health_server_->Shutdown(std::chrono::system_clock::now());
    health_server_->Wait();
  }
  LogInfo("server stopped", {{"server", options_.service_name},
                             {"address", address_},
                             {"took", absl::Now() - start}});
}

std::vector<char*> InitMain(int argc, char** argv, const MainOptions& options) {
  BlockShutdownSignals();
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock
  // detection on: graph bookkeeping on every lock, gRPC's own included, about
  // 5% of an empty RPC's server time. Tests keep it; services turn it off
  // before any thread starts.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  InitLogging(options.service_name);
  absl::SetProgramUsageMessage(options.usage);
  // absl's default --help lists only flags defined in a file named like the
  // program (or main.cc); list every flag that is not Abseil's own instead.
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view file) {
    return !absl::StrContains(file, "absl/");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
  // Static: absl may keep pointers into argv while it reports errors.
  static std::string* env_arg = nullptr;
  std::vector<char*> args(argv, argv + argc);
  if (!options.env_flags.empty() && argc > 0) {
    // First, so that every flag given on the command line overrides it.
    env_arg = new std::string(
        absl::StrCat("--tryfromenv=", absl::StrJoin(options.env_flags, ",")));
    args.insert(args.begin() + 1, env_arg->data());
  }
  return absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
}

void BlockShutdownSignals() {
  const sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (!g_server_started.load()) g_signals_blocked_early.store(true);
}

int WaitForShutdownSignal() {
  const sigset_t set = ShutdownSignals();
  // sigwait requires the signals to be blocked in the calling thread too.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int signal = 0;
  while (sigwait(&set, &signal) != 0) {
  }
  return signal;
}

int RunUntilShutdownSignal(Server& server) {
  if (!g_signals_blocked_early.load()) {
    LogWarn(
        "SIGTERM/SIGINT were not blocked before gRPC started its threads; "
        "such a signal may kill the process without a graceful shutdown. "
        "Call okr::InitMain or okr::BlockShutdownSignals first in main()");
  }
  const int signal = WaitForShutdownSignal();
  LogInfo("shutdown signal received",
          {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  server.Shutdown();
  return 0;
}

}  // namespace okr
