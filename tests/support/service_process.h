// One of the suite's service binaries (okr-planning, okr-tracking,
// okr-notify, ...) run as a child process for a test: started on a loopback
// port, considered up once it logs its "serving" JSON line, and stopped,
// killed or restarted on demand.
//
// Start() passes --listen=127.0.0.1:0, so the kernel picks the port and no
// other process can take it between choosing and binding; the address is
// read back from the "serving" line ("address", else "listen"). Restart()
// binds the same port again, so that whoever was configured with the address
// (another service's --planning_addr, a test's channel) finds the service
// again. stdout and stderr both go to one log file, appended to across
// restarts; log() returns it for failure messages.
//
// Built on Subprocess (tests/support/test_support.h): posix_spawn, never
// fork(), and a child still running at destruction is killed with SIGKILL.
#ifndef OKR_TESTS_SUPPORT_SERVICE_PROCESS_H_
#define OKR_TESTS_SUPPORT_SERVICE_PROCESS_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/support/test_support.h"

namespace okr {

// Every member has an initializer, so that designated initializers may
// leave any of them out (-Wmissing-field-initializers).
struct ServiceProcessOptions {
  // The binary's name in the build's bin directory (OkrBinary), e.g.
  // "okr-planning".
  std::string binary = {};
  // Arguments after the program name; --listen is added by ServiceProcess
  // and must not be among them.
  std::vector<std::string> args = {};
  // Receives stdout and stderr (created, appended to). Empty: a file in a
  // temporary directory the ServiceProcess owns.
  std::string log_path = {};
  // Variables set on top of the test's environment.
  std::vector<std::pair<std::string, std::string>> env = {};
  // How long Start() and Restart() wait for the "serving" line.
  absl::Duration startup_timeout = absl::Seconds(20);
};

class ServiceProcess {
 public:
  // Starts the binary on 127.0.0.1 port 0 and returns once it has logged
  // "serving" with its address. NOT_FOUND when the binary has not been
  // built; UNAVAILABLE (with the exit status and the log) when it ends
  // first; DEADLINE_EXCEEDED (with the log) when it does not serve within
  // startup_timeout, after which it is killed.
  static absl::StatusOr<std::unique_ptr<ServiceProcess>> Start(ServiceProcessOptions options);

  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;
  // Kills a still-running process with SIGKILL and reaps it.
  ~ServiceProcess();

  // Sends SIGTERM and waits up to `timeout` for the exit; returns how it
  // ended (DEADLINE_EXCEEDED when it is still running). When the process has
  // already ended, returns how it ended without signalling.
  absl::StatusOr<ExitStatus> Stop(absl::Duration timeout = absl::Seconds(15));

  // SIGKILL, like a crash, and waits for the exit. As Stop() when it has
  // already ended.
  absl::StatusOr<ExitStatus> Kill();

  // Stops the process if it still runs (SIGTERM), then starts it again with
  // the same arguments on the same port and waits for "serving". Retries a
  // few times when the port is still held by a lingering socket.
  absl::Status Restart();

  // True while the process runs (reaps it once it has ended).
  bool running();

  // "127.0.0.1:PORT", as the process reported it.
  const std::string& address() const { return address_; }
  int port() const { return port_; }

  // The whole log so far (every start), or its last `max_bytes` bytes
  // prefixed with "..." by LogTail().
  std::string log() const;
  std::string LogTail(size_t max_bytes = 4000) const;
  const std::string& log_path() const { return log_path_; }

  // The child itself, for a test that sends its own signals.
  Subprocess& process() { return *process_; }

 private:
  ServiceProcess(ServiceProcessOptions options, std::string program,
                 std::optional<TempDir> log_dir);
  // Starts the binary with --listen=127.0.0.1:<port> and waits for its
  // "serving" line; sets address_ and port_.
  absl::Status Launch(int port);

  const ServiceProcessOptions options_;
  const std::string program_;
  std::optional<TempDir> log_dir_;  // only when options_.log_path was empty
  std::string log_path_;
  std::string address_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

// The address a service's "serving" log line reports: the line must contain
// "msg":"serving"; its "address" value, else its "listen" value. nullopt for
// any other line. Exposed for tests.
std::optional<std::string> ServingAddressOf(absl::string_view log_line);

}  // namespace okr

#endif  // OKR_TESTS_SUPPORT_SERVICE_PROCESS_H_
