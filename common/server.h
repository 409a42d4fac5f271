// The gRPC server bootstrap shared by the planning, tracking and notify
// services (and by the benchmark's empty-RPC baseline), plus the few helpers
// their main() functions need.
//
// okr::Server starts a grpc::Server with the conventions of DESIGN.md
// section 7: the standard health service (grpc.health.v1) and server
// reflection on every server, a bounded receive size, and a graceful
// shutdown that first reports NOT_SERVING, then drains for at most a grace
// deadline and cancels whatever is still running (live server streams
// included). The library reads no flags: a main defines its flags, calls
// InitMain(), and passes the values in through ServerOptions.
//
// A typical main:
//   ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "HOST:PORT to serve on");
//   int main(int argc, char** argv) {
//     okr::InitMain(argc, argv, {.service_name = "planning",
//                                .usage = "The OKR planning service.",
//                                .env_flags = {"listen"}});
//     PlanningService service(...);
//     auto server = okr::Server::Start(
//         {.listen_address = absl::GetFlag(FLAGS_listen),
//          .service_name = "planning"},
//         {&service});
//     if (!server.ok()) {
//       okr::LogError("cannot start", {{"error", server.status()}});
//       return 1;
//     }
//     return okr::RunUntilShutdownSignal(**server);
//   }
#ifndef OKR_COMMON_SERVER_H_
#define OKR_COMMON_SERVER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace okr {

struct ServerOptions {
  // "HOST:PORT" ("[::1]:PORT" for IPv6). Port 0 lets the kernel choose a free
  // port; Server::port() reports it.
  std::string listen_address = "0.0.0.0:50051";
  // Appears in the server's log lines.
  std::string service_name = "okr";
  // How long Shutdown() lets in-flight calls finish before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // Larger requests are rejected with RESOURCE_EXHAUSTED.
  int max_receive_message_bytes = 4 * 1024 * 1024;
  // Null means plaintext. TLS / mTLS credentials come from the main's flags.
  std::shared_ptr<grpc::ServerCredentials> credentials = nullptr;
  // When not empty, a second, plaintext server on this "HOST:PORT" serves
  // only grpc.health.v1 with the main server's health (Kubernetes' gRPC
  // probes do not speak TLS). Port 0 picks a free port; health_port() tells.
  // It answers Check by asking the main server in process, so every status
  // the main server has (SetServing, a main's per-service entries) is
  // mirrored without delay; while the main server cannot answer (it is
  // draining or stopped) the answer is NOT_SERVING. Watch, reflection and
  // every other method answer UNIMPLEMENTED there.
  std::string health_listen_address = "";
  // Called on the builder just before the server starts, for what the options
  // do not cover (interceptors, a generic service, an extra plaintext health
  // port when TLS is on, resource quotas).
  std::function<void(grpc::ServerBuilder&)> configure_builder = nullptr;
};

// A running gRPC server. Thread-safe; destroying it shuts it down.
class Server {
 public:
  // Registers `services` (sync or callback API; not owned, they must outlive
  // the server), the health and reflection services, and starts serving with
  // health SERVING. Returns INVALID_ARGUMENT for a malformed listen address or
  // options, and UNAVAILABLE naming the OS error when the address cannot be
  // bound (for example because the port is taken: SO_REUSEPORT is turned off
  // so that a second instance cannot silently share a port).
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options,
      const std::vector<grpc::Service*>& services);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port actually bound (the chosen one when the options asked for 0).
  int port() const { return port_; }
  // The listen address with the bound port, e.g. "127.0.0.1:41237".
  const std::string& address() const { return address_; }
  // The port of the plaintext health server; 0 when health_listen_address
  // was empty.
  int health_port() const { return health_port_; }

  // Sets the health status of the whole server (service ""). A server that
  // loses its store can report NOT_SERVING without stopping.
  void SetServing(bool serving);

  // Graceful shutdown: health NOT_SERVING first (load balancers and probes
  // stop sending new calls), then stop accepting calls, let in-flight ones run
  // for up to shutdown_grace, cancel the rest and wait for them; the health
  // server (health_listen_address) stops last, answering NOT_SERVING until
  // then. Returns once the server has stopped; idempotent, and concurrent
  // calls all wait.
  // Callback reactors must Finish() when cancelled, or this cannot return.
  void Shutdown();

  // The underlying server, e.g. for in-process channels in tests.
  grpc::Server* grpc_server() { return server_.get(); }

 private:
  Server(std::unique_ptr<grpc::Server> server, ServerOptions options, int port,
         std::string address);

  // Starts the plaintext health-only server on options_.health_listen_address.
  absl::Status StartHealthServer();

  const std::unique_ptr<grpc::Server> server_;
  const ServerOptions options_;
  const int port_;
  const std::string address_;
  // The health server and the generic service behind it (which must outlive
  // it); null without health_listen_address. Set once in Start().
  std::unique_ptr<grpc::CallbackGenericService> health_proxy_;
  std::unique_ptr<grpc::Server> health_server_;
  int health_port_ = 0;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

// --- Helpers for main() ------------------------------------------------------

struct MainOptions {
  // Service name on every log line.
  std::string service_name = "okr";
  // First line(s) of --help.
  std::string usage = "";
  // Flags (without "--") that fall back to the environment variable
  // FLAGS_<name> when not given on the command line, e.g. {"listen"} reads
  // FLAGS_listen. Each must be a flag the program defines.
  std::vector<std::string> env_flags = {};
};

// Call first thing in main(), before anything creates threads (gRPC does).
// Blocks SIGTERM and SIGINT (see BlockShutdownSignals), configures logging,
// and parses the command line with absl::ParseCommandLine, which handles
// --help (the program's own flags) and --helpfull (all flags), printing to
// stdout and exiting with status 1 (absl's convention), and exits with a
// message on stderr on an unknown or malformed flag.
//
// Environment fallbacks: for each of options.env_flags, FLAGS_<name> in the
// environment supplies the value (as if --tryfromenv=<names> came first), and
// the command line overrides it. On Kubernetes:
//   env: [{name: FLAGS_listen, value: "0.0.0.0:50051"}]
// Operators can also pass --fromenv=<names> (fail when a variable is missing)
// or --tryfromenv=<names> for any other flag, and --flagfile=<path>.
// Returns the positional arguments, argv[0] first. Call at most once.
std::vector<char*> InitMain(int argc, char** argv, const MainOptions& options);

// Blocks SIGTERM and SIGINT in the calling thread; threads created afterwards
// inherit the mask, so the signals stay pending until WaitForShutdownSignal()
// takes them (no work runs in a signal handler). Processes spawned later also
// inherit the mask: posix_spawn them with POSIX_SPAWN_SETSIGMASK.
void BlockShutdownSignals();

// Blocks until SIGTERM or SIGINT arrives and returns its number.
int WaitForShutdownSignal();

// Waits for SIGTERM or SIGINT, logs it, shuts `server` down gracefully and
// returns 0, the process's exit code.
int RunUntilShutdownSignal(Server& server);

}  // namespace okr

#endif  // OKR_COMMON_SERVER_H_
