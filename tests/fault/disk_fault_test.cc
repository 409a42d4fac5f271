// Read-only and full data directories.
//
// The tests run as root (here and in CI), and chmod does not stop root, so:
//  - read-only: the service runs as the unprivileged user nobody
//    (`setpriv --reuid --regid --clear-groups`) on a directory root owns. It
//    must refuse to start, naming the database path, both when the database
//    does not exist yet and when it exists but cannot be written;
//  - full: the service runs with RLIMIT_FSIZE (`ulimit -f` in a /bin/sh that
//    then execs it, SIGXFSZ ignored) so its SQLite files cannot grow past a
//    limit: a write past it fails as on a full disk (EFBIG instead of ENOSPC;
//    SQLite reports a short write as SQLITE_FULL and a failed one as an I/O
//    error). The service must answer such writes with a clear error and keep
//    answering reads; after a restart without the limit ("space is back") the
//    database is intact and every acknowledged write is there exactly once.
#include <pwd.h>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/sqlite.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/fault_env.h"

namespace okr::fault {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;

// Starts `argv` (a full command line) with its output in `log`, and returns
// the service's address once it logs "serving" within 20 s; the error carries
// the exit status and the log otherwise.
absl::StatusOr<std::string> StartRaw(std::vector<std::string> argv, const std::string& log,
                                     std::unique_ptr<Subprocess>* process) {
  SubprocessOptions options;
  options.program = argv[0];
  options.args.assign(argv.begin() + 1, argv.end());
  options.stdout_path = log;
  options.stderr_path = log;
  OKR_ASSIGN_OR_RETURN(*process, Subprocess::Start(std::move(options)));
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    for (absl::string_view line : absl::StrSplit(ReadFileToString(log), '\n')) {
      if (std::optional<std::string> address = ServingAddressOf(line)) return *address;
    }
    if (!(*process)->Running()) {
      absl::StatusOr<ExitStatus> exit = (*process)->Wait(absl::ZeroDuration());
      return absl::UnavailableError(
          absl::StrCat("exited (", exit.ok() ? exit->ToString() : "?", "): ",
                       ReadFileToString(log)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(ReadFileToString(log));
}

// What a binary does when started as nobody on `store`: its exit status
// (after at most 20 s) and its log.
struct Refusal {
  std::optional<ExitStatus> exit;
  std::string log;
};

Refusal StartAsNobody(absl::string_view binary, const std::vector<std::string>& flags,
                      const std::string& log) {
  Refusal refusal;
  absl::StatusOr<std::string> program = OkrBinary(binary);
  EXPECT_TRUE(program.ok()) << program.status();
  if (!program.ok()) return refusal;
  const struct passwd* nobody = getpwnam("nobody");
  EXPECT_NE(nobody, nullptr);
  if (nobody == nullptr) return refusal;
  std::vector<std::string> argv = {"/usr/bin/setpriv",
                                   absl::StrCat("--reuid=", nobody->pw_uid),
                                   absl::StrCat("--regid=", nobody->pw_gid),
                                   "--clear-groups",
                                   "--",
                                   *program,
                                   "--listen=127.0.0.1:0",
                                   "--auth=false"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  std::unique_ptr<Subprocess> process;
  absl::StatusOr<std::string> address = StartRaw(argv, log, &process);
  EXPECT_FALSE(address.ok()) << binary << " started on a read-only store at " << *address;
  if (process != nullptr) {
    if (process->Running()) (void)process->Kill(SIGKILL);
    absl::StatusOr<ExitStatus> exit = process->Wait(absl::Seconds(20));
    if (exit.ok()) refusal.exit = *exit;
  }
  refusal.log = ReadFileToString(log);
  return refusal;
}

TEST_F(FaultTest, ReadOnlyDataDirectoryRefusesToStartNamingThePath) {
  // Everything a service needs besides its store, so that only the store can
  // be the reason it refuses.
  ASSERT_NO_FATAL_FAILURE(StartPlanning());
  ASSERT_NO_FATAL_FAILURE(StartTracking());
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);  // nobody may traverse, not write
  const std::string data = dir_.File("data");
  ASSERT_EQ(mkdir(data.c_str(), 0755), 0);

  const std::vector<std::pair<std::string, std::vector<std::string>>> services = {
      {"okr-planning", {}},
      {"okr-tracking",
       {"--redis=", absl::StrCat("--planning_addr=", planning_->address())}},
      {"okr-notify",
       {"--redis=", absl::StrCat("--planning_addr=", planning_->address()),
        absl::StrCat("--tracking_addr=", tracking_->address())}},
  };
  for (const auto& [binary, flags] : services) {
    SCOPED_TRACE(binary);
    // 1. No database yet, and the directory cannot be written.
    const std::string fresh = absl::StrCat(data, "/", binary, ".db");
    std::vector<std::string> with_store = flags;
    with_store.push_back(absl::StrCat("--store=sqlite:", fresh));
    Refusal refused = StartAsNobody(binary, with_store, dir_.File(binary + "-fresh.log"));
    ASSERT_TRUE(refused.exit.has_value());
    EXPECT_FALSE(refused.exit->success()) << refused.exit->ToString();
    EXPECT_EQ(refused.exit->signal, 0) << "crashed instead of refusing: " << refused.log;
    EXPECT_THAT(refused.log, HasSubstr(fresh)) << "the message must name the path";

    // 2. The database exists (root created it) but nobody may write it.
    {
      OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(fresh));
      OKR_ASSERT_OK(db->Exec("CREATE TABLE placeholder (x INTEGER)"));
    }
    ASSERT_EQ(chmod(fresh.c_str(), 0644), 0);
    refused = StartAsNobody(binary, with_store, dir_.File(binary + "-existing.log"));
    ASSERT_TRUE(refused.exit.has_value());
    EXPECT_FALSE(refused.exit->success()) << refused.exit->ToString();
    EXPECT_EQ(refused.exit->signal, 0) << "crashed instead of refusing: " << refused.log;
    EXPECT_THAT(refused.log, HasSubstr(fresh)) << "the message must name the path";
  }
}

TEST_F(FaultTest, FullDiskFailsWritesClearlyAndLosesNothingAcknowledged) {
  ASSERT_NO_FATAL_FAILURE(StartPlanning());
  ASSERT_NO_FATAL_FAILURE(BuildPlan(8));
  OKR_ASSERT_OK(planning_->Stop().status());
  struct stat st;
  ASSERT_EQ(stat(dir_.File("plan.db").c_str(), &st), 0);
  // Room for a few dozen objectives with long descriptions beyond what the
  // files hold now (the WAL starts empty after a clean stop).
  const int64_t limit_bytes = st.st_size + 256 * 1024;

  OKR_ASSERT_OK_AND_ASSIGN(const std::string program, OkrBinary("okr-planning"));
  std::vector<std::string> argv = {
      "/bin/sh", "-c",
      absl::StrCat("trap '' XFSZ; ulimit -f ", limit_bytes / 512, " && exec \"$0\" \"$@\""),
      program, absl::StrCat("--listen=127.0.0.1:", planning_->port())};
  for (const std::string& arg : PlanningArgs()) argv.push_back(arg);
  std::unique_ptr<Subprocess> limited;
  OKR_ASSERT_OK_AND_ASSIGN(const std::string address,
                           StartRaw(argv, dir_.File("planning-full.log"), &limited));
  auto stub = v1::PlanningService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));

  const std::string description(4000, 'x');
  std::map<std::string, std::string> acknowledged;  // title -> id
  grpc::Status refused;
  int i = 0;
  for (; i < 150; ++i) {
    v1::CreateObjectiveRequest request;
    request.set_request_id(absl::StrCat("full-", i));
    v1::Objective* o = request.mutable_objective();
    o->set_title(absl::StrCat("Filling objective ", i));
    o->set_description(description);
    o->set_level(v1::LEVEL_INDIVIDUAL);
    o->set_owner_id(people_[static_cast<size_t>(i) % people_.size()]);
    o->set_cycle_id(quarter_.id());
    o->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
    o->set_state(v1::OBJECTIVE_STATE_DRAFT);
    o->set_progress_source(v1::PROGRESS_SOURCE_KEY_RESULTS);
    v1::Objective created;
    const absl::Time start = absl::Now();
    const grpc::Status status = Call(stub.get(), &PlanStub::CreateObjective, request, &created);
    EXPECT_LT(absl::Now() - start, absl::Seconds(8)) << "a write on a full disk hung";
    if (!status.ok()) {
      refused = status;
      break;
    }
    acknowledged[o->title()] = created.id();
  }
  ASSERT_FALSE(refused.ok()) << "150 objectives fit under a " << limit_bytes
                             << "-byte file size limit; the test did not fill the disk";
  EXPECT_GT(acknowledged.size(), 3u);
  EXPECT_THAT(refused.error_code(), AnyOf(Eq(grpc::StatusCode::RESOURCE_EXHAUSTED),
                                          Eq(grpc::StatusCode::UNAVAILABLE),
                                          Eq(grpc::StatusCode::INTERNAL)))
      << refused.error_message();
  EXPECT_THAT(refused.error_message(),
              AnyOf(HasSubstr("full"), HasSubstr("disk"), HasSubstr("I/O")))
      << "the error must name the cause";
  // Still answering: reads work, and another write fails the same clear way
  // (or succeeds, should SQLite have found room), without hanging.
  v1::ListObjectivesRequest list;
  list.set_page_size(500);
  v1::ListObjectivesResponse listed;
  FAULT_ASSERT_GRPC_OK(Call(stub.get(), &PlanStub::ListObjectives, list, &listed));
  EXPECT_EQ(listed.objectives_size(),
            static_cast<int>(objective_ids_.size() + acknowledged.size()));

  // Space is back: the process is restarted without the limit.
  OKR_ASSERT_OK(limited->Kill(SIGTERM));
  absl::StatusOr<ExitStatus> exit = limited->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  {
    OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(dir_.File("plan.db")));
    OKR_ASSERT_OK_AND_ASSIGN(Statement check, db->Prepare("PRAGMA integrity_check"));
    OKR_ASSERT_OK_AND_ASSIGN(bool row, check.Step());
    ASSERT_TRUE(row);
    EXPECT_EQ(check.ColumnText(0), "ok");
  }
  OKR_ASSERT_OK(planning_->Restart());
  std::map<std::string, std::vector<std::string>> by_title;
  for (const v1::Objective& o : AllObjectives()) {
    if (absl::StartsWith(o.title(), "Filling objective ")) {
      by_title[o.title()].push_back(o.id());
      EXPECT_EQ(o.description(), description) << o.title();
    }
  }
  for (const auto& [title, id] : acknowledged) {
    EXPECT_THAT(by_title[title], ::testing::ElementsAre(id)) << title;
  }
  // The refused write, retried now, is stored once.
  v1::CreateObjectiveRequest retry;
  retry.set_request_id(absl::StrCat("full-", i));
  v1::Objective* o = retry.mutable_objective();
  o->set_title(absl::StrCat("Filling objective ", i));
  o->set_description(description);
  o->set_level(v1::LEVEL_INDIVIDUAL);
  o->set_owner_id(people_[static_cast<size_t>(i) % people_.size()]);
  o->set_cycle_id(quarter_.id());
  o->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
  o->set_state(v1::OBJECTIVE_STATE_DRAFT);
  o->set_progress_source(v1::PROGRESS_SOURCE_KEY_RESULTS);
  v1::Objective created;
  FAULT_ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::CreateObjective, retry, &created));
  int copies = 0;
  for (const v1::Objective& listed_o : AllObjectives()) copies += listed_o.title() == o->title();
  EXPECT_EQ(copies, 1);
}

}  // namespace
}  // namespace okr::fault
