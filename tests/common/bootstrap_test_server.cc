// okr-test-server: the server bootstrap with nothing but the health and
// reflection services, for server_test's end-to-end cases (and as the smallest
// example of a main). It logs the bound port as a JSON line ("server started",
// field "port") and exits 0 after SIGTERM or SIGINT.
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "HOST:PORT to serve on; port 0 picks a free port.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "How long in-flight calls may run after SIGTERM before being "
          "cancelled.");
ABSL_FLAG(absl::Duration, pause_before_wait, absl::ZeroDuration(),
          "Sleep this long after the server has started before waiting for "
          "signals, so a test can show that a signal arriving meanwhile is "
          "kept pending rather than killing the process.");

int main(int argc, char** argv) {
  okr::InitMain(argc, argv,
                {.service_name = "okr-test-server",
                 .usage = "an empty gRPC server (health and "
                          "reflection only) for the bootstrap's tests.",
                 .env_flags = {"listen", "shutdown_grace"}});
  absl::StatusOr<std::unique_ptr<okr::Server>> server = okr::Server::Start(
      {.listen_address = absl::GetFlag(FLAGS_listen),
       .service_name = "okr-test-server",
       .shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace)},
      {});
  if (!server.ok()) {
    okr::LogError("cannot start", {{"error", server.status()}});
    return 1;
  }
  absl::SleepFor(absl::GetFlag(FLAGS_pause_before_wait));
  return okr::RunUntilShutdownSignal(**server);
}
