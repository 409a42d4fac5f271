#include "tests/support/test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

extern char** environ;

namespace okr {
namespace {

std::string ErrnoText(int err) { return std::string(strerror(err)); }

// Closes a descriptor on every path out of a function.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string ReadTail(const std::string& path, size_t max_bytes) {
  std::string text = ReadFileToString(path);
  if (text.empty()) return "(no log)";
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

}  // namespace

// ---------------------------------------------------------------------------
// TempDir

TempDir::TempDir(absl::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/", prefix, "-XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    std::fprintf(stderr, "TempDir: mkdtemp(%s) failed: %s\n", pattern.c_str(),
                 strerror(errno));
    std::abort();
  }
  path_ = buffer.data();
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    TempDir old(std::move(*this));
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::File(absl::string_view name) const {
  return absl::StrCat(path_, "/", name);
}

// ---------------------------------------------------------------------------
// FreeLoopbackPort

absl::StatusOr<int> FreeLoopbackPort() {
  ScopedFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return absl::InternalError(absl::StrCat("socket(): ", ErrnoText(errno)));
  }
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("bind(127.0.0.1:0): ", ErrnoText(errno)));
  }
  socklen_t len = sizeof(addr);
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return absl::InternalError(absl::StrCat("getsockname(): ", ErrnoText(errno)));
  }
  return static_cast<int>(ntohs(addr.sin_port));
}

// ---------------------------------------------------------------------------
// Subprocess

std::string ExitStatus::ToString() const {
  if (exited()) return absl::StrCat("exit ", exit_code);
  return absl::StrCat("signal ", signal, " (", strsignal(signal), ")");
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    SubprocessOptions options) {
  if (access(options.program.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(
        "cannot run \"", options.program, "\": ", ErrnoText(errno)));
  }

  std::vector<std::string> argv_storage;
  argv_storage.push_back(options.program);
  argv_storage.insert(argv_storage.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_storage;
  auto overridden = [&options](absl::string_view entry) {
    for (const auto& [name, value] : options.env) {
      if (entry.size() > name.size() && entry.substr(0, name.size()) == name &&
          entry[name.size()] == '=') {
        return true;
      }
    }
    return false;
  };
  if (!options.clear_env) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      if (!overridden(*e)) env_storage.emplace_back(*e);
    }
  }
  for (const auto& [name, value] : options.env) {
    env_storage.push_back(absl::StrCat(name, "=", value));
  }
  std::vector<char*> envp;
  for (std::string& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Whatever the test (or gRPC) blocked or ignored must not leak into the
  // child: a server that ignores SIGTERM would make Stop() time out.
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1,
                  SIGUSR2, SIGALRM}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  const int out_flags = O_WRONLY | O_CREAT | O_APPEND;
  if (!options.stdout_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO,
                                     options.stdout_path.c_str(), out_flags, 0644);
  }
  if (!options.stderr_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO,
                                     options.stderr_path.c_str(), out_flags, 0644);
  }
  // Listening sockets or pipes the test holds would otherwise stay open in
  // the child and outlive it.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  if (!options.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_dir.c_str());
  }

  pid_t pid = 0;
  const int rc = posix_spawn(&pid, options.program.c_str(), &actions, &attr,
                             argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("posix_spawn(\"", options.program,
                                            "\"): ", ErrnoText(rc)));
  }
  return std::unique_ptr<Subprocess>(new Subprocess(std::move(options), pid));
}

Subprocess::~Subprocess() {
  if (exit_.has_value()) return;
  kill(pid_, SIGKILL);
  Reap(/*block=*/true);
}

bool Subprocess::Reap(bool block) {
  if (exit_.has_value()) return true;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  ExitStatus exit;
  if (WIFEXITED(status)) {
    exit.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
  }
  exit_ = exit;
  return true;
}

bool Subprocess::Running() { return !Reap(/*block=*/false); }

absl::Status Subprocess::Kill(int signal) {
  if (exit_.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "process ", pid_, " (", options_.program, ") already ended: ",
        exit_->ToString()));
  }
  if (kill(pid_, signal) != 0) {
    return absl::InternalError(
        absl::StrCat("kill(", pid_, ", ", signal, "): ", ErrnoText(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExitStatus> Subprocess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Milliseconds(1);
  while (!Reap(/*block=*/false)) {
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " (", options_.program,
                       ") still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(std::min(pause, deadline - now));
    pause = std::min(pause * 2, absl::Milliseconds(20));
  }
  return *exit_;
}

// ---------------------------------------------------------------------------
// RedisServer

absl::Status PingRedis(int port, absl::Duration timeout) {
  ScopedFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return absl::InternalError(absl::StrCat("socket(): ", ErrnoText(errno)));
  }
  const timeval tv = absl::ToTimeval(std::max(timeout, absl::Milliseconds(1)));
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("connect(127.0.0.1:", port, "): ", ErrnoText(errno)));
  }
  constexpr absl::string_view kPing = "PING\r\n";
  if (send(fd.get(), kPing.data(), kPing.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(kPing.size())) {
    return absl::UnavailableError(absl::StrCat("send(PING): ", ErrnoText(errno)));
  }
  std::string reply;
  char buffer[64];
  while (reply.find("\r\n") == std::string::npos && reply.size() < 256) {
    const ssize_t n = recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n <= 0) {
      return absl::UnavailableError(absl::StrCat(
          "no PONG from 127.0.0.1:", port, ": ", n == 0 ? "EOF" : ErrnoText(errno)));
    }
    reply.append(buffer, static_cast<size_t>(n));
  }
  // A server that demands AUTH is up all the same.
  if (reply.rfind("+PONG\r\n", 0) != 0 && reply.rfind("-NOAUTH", 0) != 0) {
    return absl::UnavailableError(
        absl::StrCat("127.0.0.1:", port, " answered PING with \"", reply, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(
    RedisServerOptions options) {
  std::unique_ptr<RedisServer> server(
      new RedisServer(std::move(options), TempDir("okr-redis")));
  absl::Status last;
  // A port taken between FreeLoopbackPort() and redis' bind() makes the
  // server exit at once; a new port fixes that.
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<int> port = FreeLoopbackPort();
    if (!port.ok()) return port.status();
    server->port_ = *port;
    last = server->Launch();
    if (last.ok()) return server;
    if (last.code() != absl::StatusCode::kAborted) break;  // not a port clash
  }
  return last;
}

absl::Status RedisServer::Launch() {
  SubprocessOptions spawn;
  spawn.program = options_.binary;
  spawn.args = {"--port", absl::StrCat(port_), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--dir", dir_.path(), "--logfile", ""};
  spawn.args.insert(spawn.args.end(), options_.extra_args.begin(),
                    options_.extra_args.end());
  spawn.stdout_path = log_path();
  spawn.stderr_path = log_path();
  spawn.working_dir = dir_.path();
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(spawn);
  if (!process.ok()) return process.status();
  process_ = *std::move(process);

  const absl::Time deadline = absl::Now() + options_.startup_timeout;
  absl::Status ping;
  while (absl::Now() < deadline) {
    ping = PingRedis(port_, absl::Milliseconds(200));
    if (ping.ok()) return absl::OkStatus();
    if (!process_->Running()) {
      // Exited during start-up: most likely the port was taken meanwhile.
      absl::StatusOr<ExitStatus> exit = process_->Wait(absl::ZeroDuration());
      return absl::AbortedError(absl::StrCat(
          "redis-server on port ", port_, " exited during start-up (",
          exit.ok() ? exit->ToString() : std::string(exit.status().message()),
          "); log:\n", ReadTail(log_path(), 2000)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  process_.reset();  // SIGKILL
  return absl::DeadlineExceededError(absl::StrCat(
      "redis-server on port ", port_, " did not answer PING within ",
      absl::FormatDuration(options_.startup_timeout), " (", ping.message(),
      "); log:\n", ReadTail(log_path(), 2000)));
}

bool RedisServer::running() { return process_ != nullptr && process_->Running(); }

absl::Status RedisServer::Stop() {
  if (!running()) return absl::OkStatus();
  absl::Status status = process_->Kill(SIGTERM);
  if (!status.ok()) return status;
  if (!process_->Wait(absl::Seconds(5)).ok()) {
    process_->Kill(SIGKILL).IgnoreError();
    absl::StatusOr<ExitStatus> exit = process_->Wait(absl::Seconds(5));
    if (!exit.ok()) return exit.status();
  }
  return absl::OkStatus();
}

absl::Status RedisServer::Kill() {
  if (!running()) return absl::OkStatus();
  absl::Status status = process_->Kill(SIGKILL);
  if (!status.ok()) return status;
  return process_->Wait(absl::Seconds(5)).status();
}

absl::Status RedisServer::Restart() {
  absl::Status status = Stop();
  if (!status.ok()) return status;
  return Launch();
}

// ---------------------------------------------------------------------------
// Paths

absl::StatusOr<std::string> OkrBinary(absl::string_view name) {
  const char* dir = std::getenv("OKR_BIN_DIR");
  if (dir == nullptr || *dir == '\0') dir = OKR_DEFAULT_BIN_DIR;
  std::string path = absl::StrCat(dir, "/", name);
  if (access(path.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(
        "\"", path, "\" is not an executable (", ErrnoText(errno),
        "); build its target first"));
  }
  return path;
}

absl::StatusOr<std::string> OkrSourceFile(absl::string_view relative) {
  const char* dir = std::getenv("OKR_SOURCE_DIR");
  if (dir == nullptr || *dir == '\0') dir = OKR_DEFAULT_SOURCE_DIR;
  std::string path = absl::StrCat(dir, "/", relative);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("\"", path, "\" does not exist: ", ErrnoText(errno)));
  }
  return path;
}

// ---------------------------------------------------------------------------
// gtest helpers

::testing::AssertionResult StatusIsOk(const char* expr, const absl::Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << expr << " is not OK: " << status.ToString();
}

std::string ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace okr
