#include "tests/support/postgres_server.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "tests/support/test_support.h"

namespace okr::testing {
namespace {

constexpr absl::string_view kDefaultBinDir = "/usr/lib/postgresql/15/bin";
constexpr absl::string_view kSuperuser = "okr";
// Bumped when the initdb options change, so that an old template is not used.
constexpr int kTemplateFormat = 2;

std::string BinDir() {
  const char* env = getenv("OKR_PG_BIN_DIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(kDefaultBinDir);
}

// Where clusters live: $OKR_PG_TMPDIR, else /dev/shm (a tmpfs: copying and
// starting a cluster there costs no disk I/O, which dominates on a busy
// machine), else $TMPDIR, else /tmp.
std::string TempRoot() {
  const char* env = getenv("OKR_PG_TMPDIR");
  if (env != nullptr && *env != '\0') return env;
  if (access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  env = getenv("TMPDIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string("/tmp");
}

// PostgreSQL refuses to run as root: then every server command runs as the
// `postgres` system user, and the directories it writes belong to it.
bool RunningAsRoot() { return geteuid() == 0; }

absl::Status ChownToPostgres(const std::string& path) {
  if (!RunningAsRoot()) return absl::OkStatus();
  passwd* user = getpwnam("postgres");
  if (user == nullptr) {
    return absl::FailedPreconditionError(
        "running as root but there is no `postgres` user to run PostgreSQL as");
  }
  if (chown(path.c_str(), user->pw_uid, user->pw_gid) != 0) {
    return absl::InternalError(absl::StrCat("chown ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

// Runs `program` (as `postgres` when root) and waits for it; the output goes
// to `log`. FAILED_PRECONDITION with the log's tail when it fails.
absl::Status RunTool(const std::string& program, std::vector<std::string> args,
                     const std::string& log, absl::Duration timeout = absl::Seconds(60)) {
  SubprocessOptions options;
  if (RunningAsRoot()) {
    options.program = "/usr/sbin/runuser";
    std::vector<std::string> wrapped = {"-u", "postgres", "--", program};
    wrapped.insert(wrapped.end(), args.begin(), args.end());
    options.args = std::move(wrapped);
  } else {
    options.program = program;
    options.args = std::move(args);
  }
  // A locale the cluster does not know would make initdb fail.
  options.env = {{"LC_ALL", "C"}, {"LANG", "C"}};
  options.stdout_path = log;
  options.stderr_path = log;
  OKR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Start(options));
  absl::StatusOr<ExitStatus> exit = process->Wait(timeout);
  if (exit.ok() && exit->success()) return absl::OkStatus();
  std::string output = ReadFileToString(log);
  if (output.size() > 2000) output = output.substr(output.size() - 2000);
  return absl::FailedPreconditionError(absl::StrCat(
      program, " failed (", exit.ok() ? exit->ToString() : exit.status().ToString(),
      "):\n", output));
}

// An initdb'd cluster kept under $TMPDIR and copied for every server: initdb
// costs about a second, a copy a tenth of that, and each test of a binary
// runs in its own process. Built once (atomically renamed into place), keyed
// by format, user and binary directory.
absl::StatusOr<std::string> TemplateCluster(const std::string& bin_dir) {
  const std::string path =
      absl::StrCat(TempRoot(), "/okr-pg-template-v", kTemplateFormat, "-", geteuid(), "-",
                   std::hash<std::string>()(bin_dir) % 1000000007);
  std::error_code ignored;
  if (std::filesystem::exists(path + "/PG_VERSION", ignored)) return path;

  std::string building = absl::StrCat(path, ".building.", getpid());
  std::filesystem::remove_all(building, ignored);
  if (mkdir(building.c_str(), 0700) != 0) {
    return absl::InternalError(absl::StrCat("mkdir ", building, ": ", strerror(errno)));
  }
  OKR_RETURN_IF_ERROR(ChownToPostgres(building));
  const std::string log = absl::StrCat(path, ".initdb.", getpid(), ".log");
  absl::Status status =
      RunTool(absl::StrCat(bin_dir, "/initdb"),
              {"-D", building, "-A", "trust", "-U", std::string(kSuperuser), "-E", "UTF8",
               "--no-locale", "--no-sync", "--no-instructions",
               // 1 MB WAL segments instead of 16: less to copy per server.
               "--wal-segsize=1"},
              log);
  std::filesystem::remove(log, ignored);
  if (!status.ok()) {
    std::filesystem::remove_all(building, ignored);
    return status;
  }
  if (rename(building.c_str(), path.c_str()) != 0) {
    // Another test process built it first: use theirs.
    std::filesystem::remove_all(building, ignored);
    if (!std::filesystem::exists(path + "/PG_VERSION", ignored)) {
      return absl::InternalError(absl::StrCat("rename to ", path, ": ", strerror(errno)));
    }
  }
  return path;
}

// CREATE DATABASE needs no transaction and no parameters.
absl::Status RunAdminStatement(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("connect ", url, ": ", message));
  }
  PGresult* result = PQexec(conn, sql.c_str());
  absl::Status status = absl::OkStatus();
  if (PQresultStatus(result) != PGRES_COMMAND_OK) {
    status = absl::InternalError(
        absl::StrCat(sql, ": ", PQresultErrorMessage(result)));
  }
  PQclear(result);
  PQfinish(conn);
  return status;
}

absl::Mutex database_mu;

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  const std::string bin_dir = BinDir();
  OKR_ASSIGN_OR_RETURN(std::string cluster_template, TemplateCluster(bin_dir));

  std::string pattern = TempRoot() + "/okr-pg-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", strerror(errno)));
  }
  auto server = std::unique_ptr<PostgresServer>(new PostgresServer());
  server->dir_ = pattern;
  OKR_RETURN_IF_ERROR(ChownToPostgres(server->dir_));
  // cp -a keeps the `postgres` ownership and the 0700 mode PostgreSQL wants.
  OKR_RETURN_IF_ERROR(RunTool("/bin/cp", {"-a", cluster_template, server->dir_ + "/data"},
                              server->dir_ + "/cp.log"));

  absl::Status started;
  for (int attempt = 0; attempt < 3; ++attempt) {
    // The port can be taken between FreeLoopbackPort and the bind: retry.
    OKR_ASSIGN_OR_RETURN(server->port_, FreeLoopbackPort());
    started = server->Restart();
    if (started.ok()) return server;
  }
  return started;
}

PostgresServer::~PostgresServer() {
  if (dir_.empty()) return;
  // Immediate: nothing in a test cluster is worth a checkpoint.
  (void)RunTool(absl::StrCat(BinDir(), "/pg_ctl"),
                {"stop", "-D", dir_ + "/data", "-m", "immediate", "-w", "-t", "30"},
                dir_ + "/pg_ctl.log");
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string PostgresServer::admin_url() const {
  return absl::StrCat("postgresql://", kSuperuser, "@127.0.0.1:", port_, "/postgres");
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase(absl::string_view name) {
  bool valid = !name.empty() && name.size() <= 63 && !absl::ascii_isdigit(name[0]);
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') valid = false;
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("database name \"", name, "\": letters, digits and '_' only"));
  }
  const std::string lower = absl::AsciiStrToLower(name);
  OKR_RETURN_IF_ERROR(RunAdminStatement(admin_url(), absl::StrCat("CREATE DATABASE ", lower)));
  return absl::StrCat("postgresql://", kSuperuser, "@127.0.0.1:", port_, "/", lower);
}

absl::StatusOr<std::string> PostgresServer::CreateUniqueDatabase(absl::string_view prefix) {
  int n = 0;
  {
    absl::MutexLock lock(&database_mu);
    n = ++next_database_;
  }
  return CreateDatabase(absl::StrCat(prefix, "_", n));
}

absl::Status PostgresServer::Stop() {
  return RunTool(absl::StrCat(BinDir(), "/pg_ctl"),
                 {"stop", "-D", dir_ + "/data", "-m", "fast", "-w", "-t", "60"},
                 dir_ + "/pg_ctl.log");
}

absl::Status PostgresServer::Restart() {
  // `pg_ctl status` succeeds only while the server runs.
  if (RunTool(absl::StrCat(BinDir(), "/pg_ctl"), {"status", "-D", dir_ + "/data"},
              dir_ + "/pg_ctl.log")
          .ok()) {
    OKR_RETURN_IF_ERROR(Stop());
  }
  const std::string options = absl::StrCat(
      "-p ", port_, " -k ", dir_, " -c listen_addresses=127.0.0.1 -c fsync=off",
      " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
      " -c shared_buffers=16MB");
  absl::Status status = RunTool(
      absl::StrCat(BinDir(), "/pg_ctl"),
      {"start", "-D", dir_ + "/data", "-w", "-t", "60", "-l", dir_ + "/server.log", "-o",
       options},
      dir_ + "/pg_ctl.log");
  if (!status.ok()) {
    std::string log = ReadFileToString(dir_ + "/server.log");
    if (log.size() > 2000) log = log.substr(log.size() - 2000);
    return absl::FailedPreconditionError(
        absl::StrCat("PostgreSQL did not start on 127.0.0.1:", port_, ": ", status.message(),
                     "\nserver log:\n", log));
  }
  return absl::OkStatus();
}

absl::StatusOr<PostgresServer*> SharedPostgresServer() {
  // Stopped and removed by an atexit hook: a leaked cluster would outlive
  // the test binary.
  static absl::Mutex mu;
  static std::unique_ptr<PostgresServer>* server = new std::unique_ptr<PostgresServer>();
  static absl::Status* failure = new absl::Status();
  absl::MutexLock lock(&mu);
  if (*server != nullptr) return server->get();
  if (!failure->ok()) return *failure;
  absl::StatusOr<std::unique_ptr<PostgresServer>> started = PostgresServer::Start();
  if (!started.ok()) {
    *failure = started.status();
    return *failure;
  }
  *server = *std::move(started);
  static const bool registered = [] {
    std::atexit([] {
      absl::MutexLock lock(&mu);
      server->reset();
    });
    return true;
  }();
  (void)registered;
  return server->get();
}

}  // namespace okr::testing
