// Helpers for the suite's tests: temporary directories, free loopback ports,
// child processes started with posix_spawn, a real redis-server per test,
// locating the binaries the build produced, and gtest assertions on
// absl::Status.
//
// Child processes are always started with posix_spawn, never fork(): a test
// may already have initialised gRPC, whose threads do not survive a fork.
// Every server started here binds 127.0.0.1 only, on a port chosen at run time.
//
// Limitation: a test process that crashes leaves its children running (there
// is no PR_SET_PDEATHSIG without code between fork and exec); they hold only
// a free loopback port and a temp dir.
#ifndef OKR_TESTS_SUPPORT_TEST_SUPPORT_H_
#define OKR_TESTS_SUPPORT_TEST_SUPPORT_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"

namespace okr {

// A fresh directory (mkdtemp under $TMPDIR, else /tmp), removed with all its
// contents on destruction. Move-only. Aborts the test binary with a message
// when the directory cannot be created: nothing useful can run without it.
class TempDir {
 public:
  explicit TempDir(absl::string_view prefix = "okr-test");
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // path() + "/" + name; creates nothing.
  std::string File(absl::string_view name) const;

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read
// back, closed). Another process may take it before the caller binds it, so
// servers started on it retry with a new port when bind fails.
absl::StatusOr<int> FreeLoopbackPort();

// How a child process ended: exited with `exit_code`, or killed by `signal`.
struct ExitStatus {
  int exit_code = -1;
  int signal = 0;

  bool exited() const { return signal == 0; }
  bool success() const { return signal == 0 && exit_code == 0; }
  std::string ToString() const;  // "exit 0" or "signal 9 (Killed)"
};

struct SubprocessOptions {
  std::string program;             // a path; no $PATH lookup
  std::vector<std::string> args;   // argv[1..]; argv[0] is `program`
  // Variables set (or overridden) on top of the test's environment, or on top
  // of an empty one when `clear_env` is true.
  std::vector<std::pair<std::string, std::string>> env;
  bool clear_env = false;
  // Files that receive the child's stdout / stderr (created, appended to);
  // empty means the child shares the test's own. stdin is /dev/null.
  std::string stdout_path;
  std::string stderr_path;
  std::string working_dir;  // empty: the test's current directory
};

// A child process started with posix_spawn. Descriptors above stderr are not
// inherited, and signal dispositions and mask are reset to defaults in the
// child. The destructor kills a still-running child with SIGKILL and reaps it.
class Subprocess {
 public:
  // Fails with NOT_FOUND when `program` does not exist or is not executable,
  // INTERNAL when posix_spawn fails otherwise.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(SubprocessOptions options);

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  const SubprocessOptions& options() const { return options_; }

  // Sends `signal`; FAILED_PRECONDITION once the child has been reaped (its
  // pid may belong to someone else by then).
  absl::Status Kill(int signal);

  // Waits up to `timeout` for the child to end and returns how it ended
  // (again on later calls); DEADLINE_EXCEEDED if it is still running.
  absl::StatusOr<ExitStatus> Wait(absl::Duration timeout);

  // True until the child has ended; reaps it when it has.
  bool Running();

 private:
  Subprocess(SubprocessOptions options, pid_t pid)
      : options_(std::move(options)), pid_(pid) {}
  bool Reap(bool block);

  SubprocessOptions options_;
  pid_t pid_;
  std::optional<ExitStatus> exit_;
};

struct RedisServerOptions {
  std::string binary = "/usr/bin/redis-server";
  // Appended to the command line, e.g. {"--enable-debug-command", "local"}.
  std::vector<std::string> extra_args;
  // How long Start()/Restart() wait for PING to answer.
  absl::Duration startup_timeout = absl::Seconds(10);
};

// A real redis-server for one test: 127.0.0.1 only, a free port, a temp dir
// as working directory, no persistence (--save "" --appendonly no), in the
// foreground. Its log is log_path().
class RedisServer {
 public:
  // Starts the server and returns once PING answers PONG. Retries on a new
  // port when the chosen one was taken meanwhile; the error carries the
  // server's log when it does not come up.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(
      RedisServerOptions options = {});

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer() = default;  // the Subprocess kills the server

  // Stops the server with SIGTERM (SIGKILL after 5 s) and waits for it.
  // No-op when it is not running.
  absl::Status Stop();
  // Kills the server with SIGKILL, like a crash, and waits for it.
  absl::Status Kill();
  // Stops the server if it runs, then starts it again on the same port (all
  // data lost: there is no persistence) and waits for PING.
  absl::Status Restart();

  bool running();
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  std::string log_path() const { return dir_.File("redis.log"); }
  // The server's process id; 0 when it is not running.
  pid_t pid() const { return process_ == nullptr ? 0 : process_->pid(); }

 private:
  RedisServer(RedisServerOptions options, TempDir dir)
      : options_(std::move(options)), dir_(std::move(dir)) {}
  absl::Status Launch();  // starts on port_ and waits for PING

  RedisServerOptions options_;
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

// Sends PING to 127.0.0.1:`port` and returns OK if PONG (or NOAUTH, from a
// server started with --requirepass) comes back within `timeout`;
// UNAVAILABLE otherwise.
absl::Status PingRedis(int port, absl::Duration timeout = absl::Milliseconds(500));

// "$OKR_BIN_DIR/<name>" (default: this build's bin directory) when it exists
// and is executable; NOT_FOUND naming the path otherwise.
absl::StatusOr<std::string> OkrBinary(absl::string_view name);

// "$OKR_SOURCE_DIR/<relative>" (default: this build's source tree) when it
// exists; NOT_FOUND otherwise.
absl::StatusOr<std::string> OkrSourceFile(absl::string_view relative);

// The whole content of a file, byte for byte; "" when it cannot be read
// (tests then fail on the content, naming what they expected).
std::string ReadFileToString(const std::string& path);

// gtest predicate formatters behind the OKR_*_OK macros.
::testing::AssertionResult StatusIsOk(const char* expr, const absl::Status& status);
template <typename T>
::testing::AssertionResult StatusIsOk(const char* expr,
                                      const absl::StatusOr<T>& status_or) {
  return StatusIsOk(expr, status_or.status());
}

}  // namespace okr

// Assert / expect that an absl::Status or absl::StatusOr<T> is OK, printing
// the status otherwise.
#define OKR_EXPECT_OK(expr) EXPECT_PRED_FORMAT1(::okr::StatusIsOk, expr)
#define OKR_ASSERT_OK(expr) ASSERT_PRED_FORMAT1(::okr::StatusIsOk, expr)

// Evaluates `rexpr` (an absl::StatusOr<T>), fails the test (returning from
// it) when not OK, else moves the value into `lhs`, which may declare it:
//   OKR_ASSERT_OK_AND_ASSIGN(auto db, SqliteDb::Open(path));
#define OKR_ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                        \
  OKR_ASSERT_OK_AND_ASSIGN_IMPL_(OKR_STATUS_CONCAT_(okr_test_statusor_, __LINE__), \
                                 lhs, rexpr)
#define OKR_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr)           \
  auto statusor = (rexpr);                                             \
  ASSERT_TRUE(statusor.ok()) << #rexpr << " -> " << statusor.status(); \
  lhs = *std::move(statusor)

#endif  // OKR_TESTS_SUPPORT_TEST_SUPPORT_H_
