// Tests of okrctl's notify commands (policy, webhook, reminders, deliveries),
// in three layers:
//  - in process, without a server: usage errors exit 2 before any call, and
//    an unreachable okr-notify fails with 1 and says which flag to set;
//  - in process against a fake NotifyService in this process: exactly what
//    the commands send (policy set's read-modify-write, the run's instant
//    and kinds, watch's count and its missing deadline) and how they print
//    what comes back;
//  - end to end: the okrctl binary against the real okr-planning,
//    okr-tracking and okr-notify (and a real redis-server), each on a free
//    loopback port with temporary SQLite files, with the customer-success
//    Duality example (examples/customer-success-duality.csv) imported.
//
// The example plans fiscal year 2027 while the services run on the real
// clock, so reminders are run at an explicit --now inside it.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/plan_csv.h"
#include "common/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/notify.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"
#include "tools/okrctl/commands.h"

namespace okr::okrctl {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

// ---------------------------------------------------------------------------
// Running okrctl
// ---------------------------------------------------------------------------

struct CtlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  absl::Duration elapsed;
};

std::ostream& operator<<(std::ostream& os, const CtlRun& run) {
  return os << "exit " << run.exit_code << "\n--- stdout:\n"
            << run.out << "--- stderr:\n"
            << run.err;
}

// okrctl's Run() in this process; `env` stands in for the environment.
CtlRun InProcess(const std::vector<std::string>& args,
                 std::map<std::string, std::string> env = {}) {
  std::ostringstream out;
  std::ostringstream err;
  CtlRun run;
  const absl::Time start = absl::Now();
  run.exit_code = Run(
      args,
      [&env](const char* name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
      },
      out, err);
  run.elapsed = absl::Now() - start;
  run.out = out.str();
  run.err = err.str();
  return run;
}

// The okrctl binary as a child process.
CtlRun RunBinary(const std::vector<std::string>& args) {
  CtlRun run;
  absl::StatusOr<std::string> binary = OkrBinary("okrctl");
  EXPECT_TRUE(binary.ok()) << binary.status();
  if (!binary.ok()) return run;
  TempDir dir("okrctl-run");
  SubprocessOptions options;
  options.program = *binary;
  options.args = args;
  options.stdout_path = dir.File("out");
  options.stderr_path = dir.File("err");
  const absl::Time start = absl::Now();
  auto process = Subprocess::Start(options);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return run;
  auto status = (*process)->Wait(absl::Seconds(60));
  run.elapsed = absl::Now() - start;
  EXPECT_TRUE(status.ok()) << status.status();
  if (status.ok()) {
    EXPECT_TRUE(status->exited()) << status->ToString();
    run.exit_code = status->exit_code;
  }
  run.out = ReadFileToString(dir.File("out"));
  run.err = ReadFileToString(dir.File("err"));
  return run;
}

template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  auto status = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return message;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// The cells of a table row printed by RenderTable (columns are separated by
// at least two spaces; no cell here contains two spaces in a row).
std::vector<std::string> Cells(absl::string_view line) {
  std::vector<std::string> cells;
  for (absl::string_view cell : absl::StrSplit(line, "  ", absl::SkipWhitespace())) {
    cells.emplace_back(absl::StripAsciiWhitespace(cell));
  }
  return cells;
}

// The row whose first cell is `first`; empty when there is none.
std::vector<std::string> RowStartingWith(const std::string& table, absl::string_view first) {
  for (const std::string& line : Lines(table)) {
    std::vector<std::string> cells = Cells(line);
    if (!cells.empty() && cells[0] == first) return cells;
  }
  return {};
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// ---------------------------------------------------------------------------
// Without a server
// ---------------------------------------------------------------------------

TEST(OkrctlNotifyUsageTest, BadArgumentsExitTwoBeforeAnyCall) {
  struct Case {
    std::vector<std::string> args;
    std::string names;  // what the message must name
  };
  const std::vector<Case> cases = {
      {{"policy", "set", "--weekly", "FUNDAY@09:00"}, "--weekly: 'FUNDAY'"},
      {{"policy", "set", "--weekly", "MON@9"}, "'9' is not a local time HH:MM"},
      {{"policy", "set", "--weekly", "MON@09:00:00"}, "--weekly"},
      {{"policy", "set", "--mid-quarter", "soon"}, "--mid-quarter: 'soon'"},
      {{"policy", "set", "--end-of-quarter", "-3@0900"}, "--end-of-quarter: '0900'"},
      {{"policy", "set", "--milestones", "maybe"}, "--milestones: 'maybe'"},
      {{"policy", "set", "--if-version", "two"}, "--if-version"},
      {{"policy", "get", "extra"}, "'policy get' takes no arguments"},
      {{"policy", "delete", "--effective"}, "unknown flag --effective"},
      {{"webhook", "add"}, "'webhook add' takes URL, got 0"},
      {{"webhook", "add", "http://127.0.0.1:9/a", "--kinds", "weekly,daily"}, "--kinds: 'daily'"},
      {{"webhook", "delete"}, "'webhook delete' takes ID"},
      {{"reminders", "run", "--now", "yesterday"}, "--now: 'yesterday' is not an RFC 3339 time"},
      {{"reminders", "run", "--kinds", "bogus"}, "--kinds: 'bogus'"},
      {{"reminders", "list", "--kind", "weekly", "--kind", "mid"}, "--kind given more than once"},
      {{"reminders", "list", "--limit", "-1"}, "--limit: must be >= 0"},
      {{"reminders", "watch", "--count", "0"}, "--count: must be > 0"},
      {{"reminders", "watch", "--kind", "unspecified"}, "--kind: 'unspecified'"},
      {{"reminders"}, "'reminders' needs a subcommand: run, list, watch"},
      {{"deliveries", "--status", "lost"}, "--status: 'lost'"},
      {{"deliveries", "--channel", "pigeon"}, "--channel: 'pigeon'"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--org=acme"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CtlRun run = InProcess(args);
    EXPECT_EQ(run.exit_code, kExitUsage) << absl::StrJoin(c.args, " ") << "\n" << run;
    EXPECT_THAT(run.err, HasSubstr(c.names)) << absl::StrJoin(c.args, " ") << "\n" << run;
    EXPECT_EQ(run.out, "") << absl::StrJoin(c.args, " ");
  }
}

TEST(OkrctlNotifyUsageTest, HelpListsTheCommandsAndTheAddressFlag) {
  CtlRun run = InProcess({"help"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  for (const char* command : {"policy set", "policy get", "policy list", "policy delete",
                              "webhook add URL", "webhook list", "webhook delete ID",
                              "reminders run", "reminders list", "reminders watch", "deliveries"}) {
    EXPECT_THAT(run.out, HasSubstr(absl::StrCat("  ", command, " "))) << command;
  }
  EXPECT_THAT(run.out, AllOf(HasSubstr("--notify-addr=HOST:PORT"), HasSubstr("OKR_NOTIFY_ADDR"),
                             HasSubstr("127.0.0.1:50053")));
  run = InProcess({"help", "policy", "set"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  EXPECT_THAT(run.out, AllOf(HasSubstr("--weekly=DAY[@HH:MM]|on|off|inherit"),
                             HasSubstr("--mid-quarter="), HasSubstr("--end-of-quarter="),
                             HasSubstr("--milestones=on|off|inherit"), HasSubstr("--if-version")));
}

TEST(OkrctlNotifyUsageTest, NotifyDownIsUnavailableAndNamesTheFlag) {
  absl::StatusOr<int> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string address = absl::StrCat("127.0.0.1:", *port);
  // From the flag, and from the environment.
  for (const auto& [args, env] :
       std::vector<std::pair<std::vector<std::string>, std::map<std::string, std::string>>>{
           {{"--notify-addr=" + address, "--org=acme", "--timeout=3s", "reminders", "run"}, {}},
           {{"--org=acme", "--timeout=3s", "policy", "list"}, {{"OKR_NOTIFY_ADDR", address}}}}) {
    CtlRun run = InProcess(args, env);
    EXPECT_EQ(run.exit_code, kExitRpcError) << run;
    EXPECT_THAT(run.err, AllOf(HasSubstr("UNAVAILABLE"), HasSubstr(address),
                               HasSubstr("is okr-notify running"), HasSubstr("--notify-addr")))
        << run;
    EXPECT_LT(run.elapsed, absl::Seconds(3));
  }
}

// ---------------------------------------------------------------------------
// Against a fake NotifyService
// ---------------------------------------------------------------------------

class FakeNotifyService final : public okr::v1::NotifyService::Service {
 public:
  struct Call {
    std::string method;
    std::string organisation;
    bool has_deadline = false;
  };

  grpc::Status GetReminderPolicy(grpc::ServerContext* context,
                                 const okr::v1::GetReminderPolicyRequest* request,
                                 okr::v1::ReminderPolicy* response) override {
    Record(context, "GetReminderPolicy");
    absl::MutexLock lock(&mu_);
    if (!stored_.has_value()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no policy");
    *response = *stored_;
    if (request->effective()) response->set_version(0);
    return grpc::Status::OK;
  }

  grpc::Status SetReminderPolicy(grpc::ServerContext* context,
                                 const okr::v1::SetReminderPolicyRequest* request,
                                 okr::v1::ReminderPolicy* response) override {
    Record(context, "SetReminderPolicy");
    absl::MutexLock lock(&mu_);
    sets_.push_back(*request);
    const int64_t version = stored_.has_value() ? stored_->version() : 0;
    if (request->version() != version) {
      return grpc::Status(grpc::StatusCode::ABORTED, "version: stale");
    }
    stored_ = request->policy();
    stored_->set_version(version + 1);
    *stored_->mutable_update_time() =
        ToProto(absl::FromCivil(absl::CivilSecond(2027, 1, 4, 9, 0, 0), absl::UTCTimeZone()));
    *response = *stored_;
    return grpc::Status::OK;
  }

  grpc::Status DeleteReminderPolicy(grpc::ServerContext* context,
                                    const okr::v1::DeleteReminderPolicyRequest* request,
                                    google::protobuf::Empty*) override {
    Record(context, "DeleteReminderPolicy");
    absl::MutexLock lock(&mu_);
    deletes_.push_back(*request);
    if (!stored_.has_value()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no policy");
    if (stored_->version() != request->version()) {
      return grpc::Status(grpc::StatusCode::ABORTED, "version: stale");
    }
    stored_.reset();
    return grpc::Status::OK;
  }

  grpc::Status RunDueReminders(grpc::ServerContext* context,
                               const okr::v1::RunDueRemindersRequest* request,
                               okr::v1::RunDueRemindersResponse* response) override {
    Record(context, "RunDueReminders");
    absl::MutexLock lock(&mu_);
    runs_.push_back(*request);
    *response = run_response_;
    return grpc::Status::OK;
  }

  // Pages of at most 3, so that okrctl must follow the tokens.
  grpc::Status ListReminders(grpc::ServerContext* context,
                             const okr::v1::ListRemindersRequest* request,
                             okr::v1::ListRemindersResponse* response) override {
    Record(context, "ListReminders");
    absl::MutexLock lock(&mu_);
    lists_.push_back(*request);
    size_t begin = 0;
    if (!request->page_token().empty()) begin = std::stoul(request->page_token());
    const size_t size = std::min<size_t>(3, request->page_size() > 0 ? request->page_size() : 3);
    const size_t end = std::min(reminders_.size(), begin + size);
    for (size_t i = begin; i < end; ++i) *response->add_reminders() = reminders_[i];
    if (end < reminders_.size()) response->set_next_page_token(absl::StrCat(end));
    response->set_total_size(static_cast<int32_t>(reminders_.size()));
    return grpc::Status::OK;
  }

  // Writes the first `watch_writes_` reminders, then holds the stream open
  // until the client cancels it (or its deadline passes), or ends with
  // `watch_status_` at once when that is not OK.
  grpc::Status WatchReminders(grpc::ServerContext* context,
                              const okr::v1::WatchRemindersRequest* request,
                              grpc::ServerWriter<okr::v1::Reminder>* writer) override {
    Record(context, "WatchReminders");
    std::vector<okr::v1::Reminder> to_write;
    {
      absl::MutexLock lock(&mu_);
      watches_.push_back(*request);
      if (!watch_status_.ok()) return watch_status_;
      for (size_t i = 0; i < reminders_.size() && static_cast<int>(i) < watch_writes_; ++i) {
        to_write.push_back(reminders_[i]);
      }
    }
    for (const auto& reminder : to_write) {
      if (!writer->Write(reminder)) return grpc::Status::OK;
    }
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (!context->IsCancelled() && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    return grpc::Status::OK;
  }

  void set_stored(okr::v1::ReminderPolicy policy) {
    absl::MutexLock lock(&mu_);
    stored_ = std::move(policy);
  }
  void set_run_response(okr::v1::RunDueRemindersResponse response) {
    absl::MutexLock lock(&mu_);
    run_response_ = std::move(response);
  }
  void set_reminders(std::vector<okr::v1::Reminder> reminders) {
    absl::MutexLock lock(&mu_);
    reminders_ = std::move(reminders);
  }
  void set_watch(int writes, grpc::Status status) {
    absl::MutexLock lock(&mu_);
    watch_writes_ = writes;
    watch_status_ = std::move(status);
  }

  std::vector<Call> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::vector<okr::v1::SetReminderPolicyRequest> sets() {
    absl::MutexLock lock(&mu_);
    return sets_;
  }
  std::vector<okr::v1::DeleteReminderPolicyRequest> deletes() {
    absl::MutexLock lock(&mu_);
    return deletes_;
  }
  std::vector<okr::v1::RunDueRemindersRequest> runs() {
    absl::MutexLock lock(&mu_);
    return runs_;
  }
  std::vector<okr::v1::ListRemindersRequest> lists() {
    absl::MutexLock lock(&mu_);
    return lists_;
  }
  std::vector<okr::v1::WatchRemindersRequest> watches() {
    absl::MutexLock lock(&mu_);
    return watches_;
  }

 private:
  void Record(grpc::ServerContext* context, const std::string& method) {
    Call call;
    call.method = method;
    for (const auto& [key, value] : context->client_metadata()) {
      if (std::string(key.data(), key.size()) == "okr-organisation-id") {
        call.organisation.assign(value.data(), value.size());
      }
    }
    // No deadline reads as one far in the future.
    call.has_deadline =
        context->deadline() - std::chrono::system_clock::now() < std::chrono::hours(1);
    absl::MutexLock lock(&mu_);
    calls_.push_back(call);
  }

  absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  std::optional<okr::v1::ReminderPolicy> stored_ ABSL_GUARDED_BY(mu_);
  std::vector<okr::v1::SetReminderPolicyRequest> sets_ ABSL_GUARDED_BY(mu_);
  std::vector<okr::v1::DeleteReminderPolicyRequest> deletes_ ABSL_GUARDED_BY(mu_);
  okr::v1::RunDueRemindersResponse run_response_ ABSL_GUARDED_BY(mu_);
  std::vector<okr::v1::RunDueRemindersRequest> runs_ ABSL_GUARDED_BY(mu_);
  std::vector<okr::v1::Reminder> reminders_ ABSL_GUARDED_BY(mu_);
  std::vector<okr::v1::ListRemindersRequest> lists_ ABSL_GUARDED_BY(mu_);
  int watch_writes_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::Status watch_status_ ABSL_GUARDED_BY(mu_);
  std::vector<okr::v1::WatchRemindersRequest> watches_ ABSL_GUARDED_BY(mu_);
};

// `n` reminders with distinct recipients, windows and item counts.
std::vector<okr::v1::Reminder> SomeReminders(int n) {
  std::vector<okr::v1::Reminder> out;
  for (int i = 0; i < n; ++i) {
    okr::v1::Reminder r;
    r.set_id(absl::StrCat("rem-", i));
    r.set_recipient_id(absl::StrCat("p-", i));
    r.set_recipient_name(absl::StrCat("Person ", i));
    r.set_kind(i % 2 == 0 ? okr::v1::REMINDER_KIND_WEEKLY_CHECK_IN
                          : okr::v1::REMINDER_KIND_MID_QUARTER_REVIEW);
    r.set_window_key(absl::StrCat("2027-W0", i + 1));
    for (int j = 0; j <= i; ++j) r.add_due_items()->set_title(absl::StrCat("KR ", j));
    r.set_text(absl::StrCat("Reminder number ", i));
    *r.mutable_publish_time() =
        ToProto(absl::FromCivil(absl::CivilSecond(2027, 2, 1, 9, i, 0), absl::UTCTimeZone()));
    out.push_back(std::move(r));
  }
  return out;
}

class OkrctlNotifyFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.service_name = "fake-notify";
    options.shutdown_grace = absl::Seconds(1);
    auto server = Server::Start(options, {&service_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    // Planning is never needed here: name lookups would fail at once.
    absl::StatusOr<int> closed = FreeLoopbackPort();
    ASSERT_TRUE(closed.ok()) << closed.status();
    planning_ = absl::StrCat("127.0.0.1:", *closed);
  }

  CtlRun Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {absl::StrCat("--notify-addr=127.0.0.1:", server_->port()),
                               "--addr=" + planning_, "--org=acme"});
    return InProcess(args);
  }

  FakeNotifyService service_;
  std::unique_ptr<Server> server_;
  std::string planning_;
};

TEST_F(OkrctlNotifyFakeTest, PolicySetReadsTheVersionAndKeepsWhatItDoesNotChange) {
  CtlRun run = Ctl({"policy", "set", "--time-zone", "Europe/Berlin", "--weekly", "tue@10:30",
                    "--mid-quarter", "+2@08:15", "--end-of-quarter", "off", "--milestones", "on"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  EXPECT_THAT(run.out, HasSubstr("created reminder policy of the organisation, version 1"));
  run = Ctl({"policy", "set", "--milestones", "off", "--weekly", "FRI"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  EXPECT_THAT(run.out, HasSubstr("updated reminder policy of the organisation, version 2"));
  // The weekly line shows the default time of a schedule without one.
  EXPECT_THAT(run.out, HasSubstr("weekly check-in        FRIDAY 09:00\n"));
  EXPECT_THAT(run.out, HasSubstr("mid-quarter review     middle day +2, 08:15\n"));
  EXPECT_THAT(run.out, HasSubstr("planning milestones    off\n"));

  const std::vector<okr::v1::SetReminderPolicyRequest> sets = service_.sets();
  ASSERT_EQ(sets.size(), 2u);
  // First: nothing stored, so version 0 and exactly the flags.
  EXPECT_EQ(sets[0].version(), 0);
  const okr::v1::ReminderPolicy& first = sets[0].policy();
  EXPECT_EQ(first.team_id(), "");
  EXPECT_EQ(first.time_zone(), "Europe/Berlin");
  EXPECT_TRUE(first.weekly_check_in().enabled());
  EXPECT_EQ(first.weekly_check_in().weekday(), okr::v1::DAY_OF_WEEK_TUESDAY);
  EXPECT_EQ(first.weekly_check_in().local_time().hours(), 10);
  EXPECT_EQ(first.weekly_check_in().local_time().minutes(), 30);
  EXPECT_TRUE(first.mid_quarter_review().enabled());
  EXPECT_EQ(first.mid_quarter_review().offset_days(), 2);
  EXPECT_EQ(first.mid_quarter_review().local_time().hours(), 8);
  EXPECT_EQ(first.mid_quarter_review().local_time().minutes(), 15);
  ASSERT_TRUE(first.has_end_of_quarter_review());
  EXPECT_FALSE(first.end_of_quarter_review().enabled());
  EXPECT_TRUE(first.planning_milestones().enabled());
  // Second: the version read, the stored sections kept, two changed.
  EXPECT_EQ(sets[1].version(), 1);
  const okr::v1::ReminderPolicy& second = sets[1].policy();
  EXPECT_EQ(second.time_zone(), "Europe/Berlin");
  EXPECT_EQ(second.weekly_check_in().weekday(), okr::v1::DAY_OF_WEEK_FRIDAY);
  EXPECT_FALSE(second.weekly_check_in().has_local_time());
  EXPECT_TRUE(MessageDifferencer::Equals(second.mid_quarter_review(), first.mid_quarter_review()));
  EXPECT_TRUE(
      MessageDifferencer::Equals(second.end_of_quarter_review(), first.end_of_quarter_review()));
  EXPECT_FALSE(second.planning_milestones().enabled());
  EXPECT_EQ(second.version(), 0) << "output-only fields are not sent back";
  EXPECT_FALSE(second.has_update_time());

  // --if-version wins over the version read; "inherit" clears a section.
  run =
      Ctl({"policy", "set", "--weekly", "inherit", "--time-zone", "inherit", "--if-version", "9"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, AllOf(HasSubstr("ABORTED"), HasSubstr("SetReminderPolicy")));
  ASSERT_EQ(service_.sets().size(), 3u);
  EXPECT_EQ(service_.sets()[2].version(), 9);
  EXPECT_FALSE(service_.sets()[2].policy().has_weekly_check_in());
  EXPECT_EQ(service_.sets()[2].policy().time_zone(), "");

  for (const FakeNotifyService::Call& call : service_.calls()) {
    EXPECT_EQ(call.organisation, "acme") << call.method;
    EXPECT_TRUE(call.has_deadline) << call.method;
  }
}

TEST_F(OkrctlNotifyFakeTest, PolicyGetJsonAndDeleteSendTheStoredVersion) {
  okr::v1::ReminderPolicy stored;
  stored.set_version(4);
  stored.set_time_zone("America/New_York");
  stored.mutable_planning_milestones()->set_enabled(true);
  service_.set_stored(stored);

  CtlRun run = Ctl({"policy", "get", "--json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  EXPECT_TRUE(MessageDifferencer::Equals(ParseJson<okr::v1::ReminderPolicy>(run.out), stored));
  run = Ctl({"policy", "get"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  EXPECT_THAT(run.out, AllOf(HasSubstr("reminder policy of the organisation, version 4"),
                             HasSubstr("America/New_York"),
                             HasSubstr("weekly check-in        inherited\n")));

  run = Ctl({"policy", "delete"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  EXPECT_THAT(run.out, HasSubstr("deleted the organisation's reminder policy (version 4)"));
  ASSERT_EQ(service_.deletes().size(), 1u);
  EXPECT_EQ(service_.deletes()[0].version(), 4);
  EXPECT_EQ(service_.deletes()[0].team_id(), "");
  // Nothing stored any more: the read fails, nothing is deleted.
  run = Ctl({"policy", "delete"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, AllOf(HasSubstr("NOT_FOUND"), HasSubstr("GetReminderPolicy")));
  EXPECT_EQ(service_.deletes().size(), 1u);
}

TEST_F(OkrctlNotifyFakeTest, RunSendsTheInstantAndKindsAndTotalsTheCounts) {
  okr::v1::RunDueRemindersResponse response;
  auto add = [&](okr::v1::ReminderKind kind, int found, int published, int skipped, int failed) {
    okr::v1::ReminderKindCounts* c = response.add_counts();
    c->set_kind(kind);
    c->set_found(found);
    c->set_published(published);
    c->set_skipped(skipped);
    c->set_failed(failed);
  };
  add(okr::v1::REMINDER_KIND_WEEKLY_CHECK_IN, 5, 3, 1, 1);
  add(okr::v1::REMINDER_KIND_MID_QUARTER_REVIEW, 2, 0, 2, 0);
  *response.mutable_now() =
      ToProto(absl::FromCivil(absl::CivilSecond(2027, 2, 1, 9, 0, 0), absl::UTCTimeZone()));
  service_.set_run_response(response);

  CtlRun run = Ctl({"reminders", "run", "--now", "2027-02-01T10:00:00+01:00", "--kinds",
                    "weekly,mid-quarter-review", "--kinds", "WEEKLY_CHECK_IN"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  ASSERT_EQ(service_.runs().size(), 1u);
  const okr::v1::RunDueRemindersRequest sent = service_.runs()[0];
  // 10:00 at +01:00 is 09:00 UTC.
  EXPECT_EQ(sent.now().seconds(),
            absl::ToUnixSeconds(
                absl::FromCivil(absl::CivilSecond(2027, 2, 1, 9, 0, 0), absl::UTCTimeZone())));
  EXPECT_THAT(sent.kinds(), ElementsAre(okr::v1::REMINDER_KIND_WEEKLY_CHECK_IN,
                                        okr::v1::REMINDER_KIND_MID_QUARTER_REVIEW));
  EXPECT_FALSE(sent.dry_run());

  EXPECT_THAT(run.out, HasSubstr("reminders due at 2027-02-01T09:00:00Z\n"));
  EXPECT_THAT(RowStartingWith(run.out, "WEEKLY_CHECK_IN"),
              ElementsAre("WEEKLY_CHECK_IN", "5", "3", "1", "1"));
  EXPECT_THAT(RowStartingWith(run.out, "MID_QUARTER_REVIEW"),
              ElementsAre("MID_QUARTER_REVIEW", "2", "0", "2", "0"));
  EXPECT_THAT(RowStartingWith(run.out, "TOTAL"), ElementsAre("TOTAL", "7", "3", "3", "1"));
  EXPECT_THAT(run.out, HasSubstr("1 reminder(s) could not be published"));

  run = Ctl({"reminders", "run", "--dry-run", "--json"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  EXPECT_TRUE(
      MessageDifferencer::Equals(ParseJson<okr::v1::RunDueRemindersResponse>(run.out), response));
  ASSERT_EQ(service_.runs().size(), 2u);
  EXPECT_TRUE(service_.runs()[1].dry_run());
  EXPECT_FALSE(service_.runs()[1].has_now()) << "no --now: the server's time";
  EXPECT_TRUE(service_.runs()[1].kinds().empty());
}

TEST_F(OkrctlNotifyFakeTest, ListFollowsThePagesAndPrintsOneRowPerReminder) {
  const std::vector<okr::v1::Reminder> reminders = SomeReminders(7);
  service_.set_reminders(reminders);
  CtlRun run = Ctl({"reminders", "list"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), reminders.size() + 1) << run.out;
  EXPECT_THAT(Cells(lines[0]), ElementsAre("TIME", "KIND", "RECIPIENT", "WINDOW", "ITEMS", "TEXT"));
  for (size_t i = 0; i < reminders.size(); ++i) {
    const okr::v1::Reminder& r = reminders[i];
    EXPECT_THAT(Cells(lines[i + 1]),
                ElementsAre(Rfc3339(absl::FromUnixSeconds(r.publish_time().seconds())),
                            i % 2 == 0 ? "WEEKLY_CHECK_IN" : "MID_QUARTER_REVIEW",
                            r.recipient_name(), r.window_key(), absl::StrCat(i + 1), r.text()));
  }
  EXPECT_EQ(service_.lists().size(), 3u) << "7 reminders in pages of 3";

  run =
      Ctl({"reminders", "list", "--limit", "5", "--json", "--kind", "mid", "--window", "2027-W02"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  auto listed = ParseJson<okr::v1::ListRemindersResponse>(run.out);
  EXPECT_EQ(listed.reminders_size(), 5);
  const okr::v1::ListRemindersRequest last = service_.lists().back();
  EXPECT_EQ(last.kind(), okr::v1::REMINDER_KIND_MID_QUARTER_REVIEW);
  EXPECT_EQ(last.window_key(), "2027-W02");
}

TEST_F(OkrctlNotifyFakeTest, WatchStopsAfterCountAndRunsWithoutADeadline) {
  const std::vector<okr::v1::Reminder> reminders = SomeReminders(3);
  service_.set_reminders(reminders);
  service_.set_watch(3, grpc::Status::OK);
  CtlRun run = Ctl({"reminders", "watch", "--count", "2", "--json", "--kind", "weekly,end"});
  ASSERT_EQ(run.exit_code, kExitOk) << run;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 2u) << run.out;
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(ParseJson<okr::v1::Reminder>(lines[i]), reminders[i]))
        << lines[i];
  }
  ASSERT_EQ(service_.watches().size(), 1u);
  EXPECT_THAT(service_.watches()[0].kinds(),
              ElementsAre(okr::v1::REMINDER_KIND_WEEKLY_CHECK_IN,
                          okr::v1::REMINDER_KIND_END_OF_QUARTER_REVIEW));
  ASSERT_EQ(service_.calls().size(), 1u);
  EXPECT_FALSE(service_.calls()[0].has_deadline);

  // An explicit --timeout bounds the watch, and running out is a normal end.
  run = Ctl({"reminders", "watch", "--timeout", "1s"});
  EXPECT_EQ(run.exit_code, kExitOk) << run;
  lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 3u) << run.out;
  EXPECT_THAT(lines[1],
              AllOf(HasSubstr("MID_QUARTER_REVIEW"), HasSubstr("Person 1"), HasSubstr("2027-W02"),
                    HasSubstr("2 items"), HasSubstr("Reminder number 1")));
  EXPECT_GE(run.elapsed, absl::Seconds(1));
  EXPECT_TRUE(service_.calls().back().has_deadline);

  // The server ending the stream with an error fails the command.
  service_.set_watch(0, grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  run = Ctl({"reminders", "watch"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, AllOf(HasSubstr("WatchReminders"), HasSubstr("server shutting down")));
}

// ---------------------------------------------------------------------------
// End to end: okrctl against okr-planning, okr-tracking and okr-notify
// ---------------------------------------------------------------------------

// What the Duality example asks of whom: key results per owner (a key
// result's own owner, else its objective's), by the owner's name.
std::map<std::string, int> KeyResultsPerOwner(const PlanCsv& file) {
  std::map<std::string, std::string> objective_owner;
  for (const Objective& o : file.plan.objectives) objective_owner[o.id] = o.owner_id;
  std::map<std::string, int> out;
  for (const KeyResult& kr : file.plan.key_results) {
    ++out[kr.owner_id.empty() ? objective_owner[kr.objective_id] : kr.owner_id];
  }
  return out;
}

class OkrctlNotifyEndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    env_ = new Env;
    absl::Status started = env_->Start();
    *startup_error_ = started.ok() ? "" : started.ToString();
  }

  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(startup_error_->empty()) << "the services did not start: " << *startup_error_;
  }

  void TearDown() override {
    if (HasFailure() && env_->notify != nullptr) {
      std::cerr << "--- okr-notify log (tail) ---\n" << env_->notify->LogTail() << "\n";
    }
  }

  static std::vector<std::string> Global(const std::string& org) {
    return {"--addr=" + env_->planning->address(), "--tracking-addr=" + env_->tracking->address(),
            "--notify-addr=" + env_->notify->address(), "--org=" + org, "--timeout=20s"};
  }

  // okrctl against the services as organisation `org`.
  static CtlRun Ctl(const std::string& org, std::vector<std::string> args) {
    std::vector<std::string> global = Global(org);
    args.insert(args.begin(), global.begin(), global.end());
    return RunBinary(args);
  }

  // Ctl that must succeed; returns stdout.
  static std::string Must(const std::string& org, std::vector<std::string> args) {
    CtlRun run = Ctl(org, args);
    EXPECT_EQ(run.exit_code, kExitOk) << absl::StrJoin(args, " ") << "\n" << run;
    return run.out;
  }

  // An organisation (UTC) with fiscal year 2027 and its first quarter
  // ACTIVE and the Duality example imported; returns what the file holds.
  static PlanCsv SetUpOrganisation(const std::string& org) {
    Must(org, {"org", "bootstrap", org, "--name", "Notify " + org, "--time-zone", "UTC"});
    Must(org, {"cycle", "create-year", "2027", "-q"});
    Must(org, {"cycle", "set-state", "FY2027", "active"});
    Must(org, {"cycle", "set-state", "FY2027-Q1", "active"});
    Must(org, {"team", "create", "Leadership"});
    Must(org, {"team", "create", "Customer Success"});
    Must(org, {"person", "create", "Alex Rivera", "--team", "Leadership"});
    Must(org, {"person", "create", "Jane", "--team", "Customer Success"});
    Must(org, {"person", "create", "Nick", "--team", "Customer Success"});
    absl::StatusOr<std::string> path = OkrSourceFile("examples/customer-success-duality.csv");
    EXPECT_TRUE(path.ok()) << path.status();
    if (!path.ok()) return {};
    absl::StatusOr<PlanCsv> file = ParsePlanCsv(ReadFileToString(*path));
    EXPECT_TRUE(file.ok()) << file.status();
    if (!file.ok()) return {};
    // Every objective counts for the weekly reminders only when it is
    // published in one of the cycles activated above.
    for (const Objective& o : file->plan.objectives) {
      EXPECT_EQ(o.state, ObjectiveState::kPublished) << o.id;
      EXPECT_THAT(o.cycle_id, ::testing::AnyOf("FY2027", "FY2027-Q1")) << o.id;
    }
    Must(org, {"import", *path});
    return *std::move(file);
  }

  struct Env {
    TempDir dir{"okrctl-notify-e2e"};
    std::unique_ptr<RedisServer> redis;
    std::unique_ptr<ServiceProcess> planning;
    std::unique_ptr<ServiceProcess> tracking;
    std::unique_ptr<ServiceProcess> notify;

    absl::Status Start() {
      OKR_ASSIGN_OR_RETURN(redis, RedisServer::Start());
      const std::string redis_address = absl::StrCat("--redis=127.0.0.1:", redis->port());
      OKR_ASSIGN_OR_RETURN(
          planning, ServiceProcess::Start(
                        {.binary = "okr-planning",
                         .args = {"--auth=false", "--store=sqlite:" + dir.File("planning.db")},
                         .log_path = dir.File("planning.log")}));
      OKR_ASSIGN_OR_RETURN(
          tracking, ServiceProcess::Start(
                        {.binary = "okr-tracking",
                         .args = {"--auth=false", "--store=sqlite:" + dir.File("tracking.db"),
                                  redis_address, "--planning_addr=" + planning->address()},
                         .log_path = dir.File("tracking.log")}));
      OKR_ASSIGN_OR_RETURN(
          notify,
          ServiceProcess::Start({.binary = "okr-notify",
                                 .args = {"--auth=false", "--store=sqlite:" + dir.File("notify.db"),
                                          redis_address, "--planning_addr=" + planning->address(),
                                          "--tracking_addr=" + tracking->address(),
                                          // The webhooks below name 127.0.0.1.
                                          "--webhook_allow_cidrs=127.0.0.0/8"},
                                 .log_path = dir.File("notify.log")}));
      return absl::OkStatus();
    }

    ~Env() {
      // Callers before callees: notify calls tracking and planning.
      for (ServiceProcess* s : {notify.get(), tracking.get(), planning.get()}) {
        if (s != nullptr) (void)s->Stop();
      }
    }
  };

  static Env* env_;
  static std::string* startup_error_;
};

OkrctlNotifyEndToEndTest::Env* OkrctlNotifyEndToEndTest::env_ = nullptr;
std::string* OkrctlNotifyEndToEndTest::startup_error_ = new std::string("not started");

// Monday 2027-02-01: ISO week 1 of 2027 starts on Monday 2027-01-04
// (the week with the year's first Thursday), so this is week 5; with the
// default policy (Monday 09:00, UTC here) the weekly window opened an hour
// earlier.
const absl::Time kMonday =
    absl::FromCivil(absl::CivilSecond(2027, 2, 1, 10, 0, 0), absl::UTCTimeZone());
constexpr absl::string_view kMondayWeek = "2027-W05";

TEST_F(OkrctlNotifyEndToEndTest, PoliciesSetTwiceInheritListAndDelete) {
  const std::string org = "ntf-policy";
  SetUpOrganisation(org);

  // Nothing stored yet; the effective policy is the built-in defaults.
  CtlRun run = Ctl(org, {"policy", "get"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
  auto defaults =
      ParseJson<okr::v1::ReminderPolicy>(Must(org, {"policy", "get", "--effective", "--json"}));
  EXPECT_EQ(defaults.version(), 0);
  EXPECT_EQ(defaults.time_zone(), "UTC");
  EXPECT_EQ(defaults.weekly_check_in().weekday(), okr::v1::DAY_OF_WEEK_MONDAY);
  EXPECT_EQ(defaults.weekly_check_in().local_time().hours(), 9);
  EXPECT_EQ(defaults.end_of_quarter_review().offset_days(), -3);
  EXPECT_TRUE(defaults.planning_milestones().enabled());

  // The same command twice: created, then updated (it reads the version).
  for (int version : {1, 2}) {
    const std::string out = Must(org, {"policy", "set", "--time-zone", "Europe/Berlin", "--weekly",
                                       "TUE@10:30", "--milestones", "off"});
    EXPECT_THAT(out,
                HasSubstr(absl::StrCat(version == 1 ? "created" : "updated",
                                       " reminder policy of the organisation, version ", version)));
  }
  // A team policy overrides one section; the rest comes from the
  // organisation's, then the defaults.
  Must(org, {"policy", "set", "--team", "Customer Success", "--weekly", "FRI@16:00"});
  auto team = ParseJson<okr::v1::ReminderPolicy>(
      Must(org, {"policy", "get", "--team", "Customer Success", "--effective", "--json"}));
  EXPECT_EQ(team.weekly_check_in().weekday(), okr::v1::DAY_OF_WEEK_FRIDAY);
  EXPECT_EQ(team.weekly_check_in().local_time().hours(), 16);
  EXPECT_EQ(team.time_zone(), "Europe/Berlin");
  EXPECT_FALSE(team.planning_milestones().enabled());
  EXPECT_EQ(team.mid_quarter_review().offset_days(), 0);

  auto listed =
      ParseJson<okr::v1::ListReminderPoliciesResponse>(Must(org, {"policy", "list", "--json"}));
  ASSERT_EQ(listed.policies_size(), 2);
  EXPECT_EQ(listed.policies(0).team_id(), "") << "the organisation's first";
  EXPECT_EQ(listed.policies(0).version(), 2);
  EXPECT_FALSE(listed.policies(1).team_id().empty());
  const std::string table = Must(org, {"policy", "list"});
  EXPECT_THAT(RowStartingWith(table, "organisation"),
              ElementsAre("organisation", "Europe/Berlin", "TUESDAY 10:30", "inherited",
                          "inherited", "off", "2", ::testing::_));
  EXPECT_THAT(table, HasSubstr("team Customer Success ["));

  // A bad time zone is refused when set, naming the field.
  run = Ctl(org, {"policy", "set", "--time-zone", "Mars/Olympus_Mons"});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, AllOf(HasSubstr("INVALID_ARGUMENT"), HasSubstr("policy.time_zone")));

  EXPECT_THAT(Must(org, {"policy", "delete", "--team", "Customer Success"}),
              HasSubstr("it inherits the organisation's now"));
  team = ParseJson<okr::v1::ReminderPolicy>(
      Must(org, {"policy", "get", "--team", "Customer Success", "--effective", "--json"}));
  EXPECT_EQ(team.weekly_check_in().weekday(), okr::v1::DAY_OF_WEEK_TUESDAY);
  Must(org, {"policy", "delete"});
  EXPECT_THAT(Must(org, {"policy", "list"}), HasSubstr("no stored reminder policies"));
}

TEST_F(OkrctlNotifyEndToEndTest, WebhooksAddListDeleteAndABadUrlNamesTheField) {
  const std::string org = "ntf-webhook";
  SetUpOrganisation(org);

  CtlRun run = Ctl(org, {"webhook", "add", "ftp://127.0.0.1/hook"});
  EXPECT_NE(run.exit_code, kExitOk) << run;
  EXPECT_THAT(run.err, AllOf(HasSubstr("INVALID_ARGUMENT"), HasSubstr("webhook.url")));

  // Nothing listens there, and no reminder is run in this organisation.
  const std::vector<std::string> created =
      Lines(Must(org, {"webhook", "add", "http://127.0.0.1:9/hook", "--name", "Team chat",
                       "--kinds", "weekly,mid", "-q"}));
  ASSERT_EQ(created.size(), 1u);
  const std::string& id = created[0];
  EXPECT_TRUE(absl::StartsWith(id, "wh-")) << id;
  auto listed = ParseJson<okr::v1::ListWebhooksResponse>(Must(org, {"webhook", "list", "--json"}));
  ASSERT_EQ(listed.webhooks_size(), 1);
  EXPECT_EQ(listed.webhooks(0).id(), id);
  EXPECT_EQ(listed.webhooks(0).display_name(), "Team chat");
  EXPECT_THAT(listed.webhooks(0).kinds(), ElementsAre(okr::v1::REMINDER_KIND_WEEKLY_CHECK_IN,
                                                      okr::v1::REMINDER_KIND_MID_QUARTER_REVIEW));
  EXPECT_THAT(RowStartingWith(Must(org, {"webhook", "list"}), id),
              ElementsAre(id, "Team chat", "http://127.0.0.1:9/hook",
                          "WEEKLY_CHECK_IN,MID_QUARTER_REVIEW", "all", ::testing::_));

  EXPECT_THAT(Must(org, {"webhook", "delete", id}), HasSubstr("deleted webhook " + id));
  EXPECT_EQ(Must(org, {"webhook", "list"}), "no webhooks\n");
  run = Ctl(org, {"webhook", "delete", id});
  EXPECT_EQ(run.exit_code, kExitRpcError) << run;
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
}

TEST_F(OkrctlNotifyEndToEndTest, RemindersRunOncePerWindowAndListWhoIsDue) {
  const std::string org = "ntf-run";
  const PlanCsv file = SetUpOrganisation(org);
  const std::map<std::string, int> expected = KeyResultsPerOwner(file);
  ASSERT_GE(expected.size(), 2u);
  const int owners = static_cast<int>(expected.size());
  const std::string now = Rfc3339(kMonday);

  // A dry run counts and publishes nothing.
  auto dry = ParseJson<okr::v1::RunDueRemindersResponse>(
      Must(org, {"reminders", "run", "--now", now, "--kinds", "weekly", "--dry-run", "--json"}));
  ASSERT_EQ(dry.counts_size(), 1);
  EXPECT_EQ(dry.counts(0).found(), owners);
  EXPECT_EQ(dry.counts(0).published(), 0);
  EXPECT_EQ(dry.counts(0).skipped(), owners);
  EXPECT_EQ(dry.sample_size(), owners);
  EXPECT_EQ(Must(org, {"reminders", "list"}), "no reminders\n");

  // The run publishes one reminder per owner; the rerun none.
  std::string out = Must(org, {"reminders", "run", "--now", now, "--kinds", "weekly"});
  EXPECT_THAT(out, HasSubstr(absl::StrCat("reminders due at ", now)));
  const std::string n = absl::StrCat(owners);
  EXPECT_THAT(RowStartingWith(out, "WEEKLY_CHECK_IN"),
              ElementsAre("WEEKLY_CHECK_IN", n, n, "0", "0"))
      << out;
  out = Must(org, {"reminders", "run", "--now", now, "--kinds", "weekly"});
  EXPECT_THAT(RowStartingWith(out, "WEEKLY_CHECK_IN"),
              ElementsAre("WEEKLY_CHECK_IN", n, "0", n, "0"))
      << out;

  // Who was reminded of how many key results, as the example says.
  auto listed =
      ParseJson<okr::v1::ListRemindersResponse>(Must(org, {"reminders", "list", "--json"}));
  std::map<std::string, int> reminded;
  for (const okr::v1::Reminder& r : listed.reminders()) {
    EXPECT_EQ(r.kind(), okr::v1::REMINDER_KIND_WEEKLY_CHECK_IN);
    EXPECT_EQ(r.window_key(), kMondayWeek);
    EXPECT_FALSE(r.text().empty());
    EXPECT_EQ(reminded.count(r.recipient_name()), 0u) << "twice: " << r.recipient_name();
    reminded[r.recipient_name()] = r.due_items_size();
  }
  EXPECT_EQ(reminded, expected);

  // The table shows the same, one row per recipient.
  const std::string table = Must(org, {"reminders", "list"});
  EXPECT_EQ(Lines(table).size(), expected.size() + 1) << table;
  for (const auto& [name, count] : expected) {
    bool found = false;
    for (const std::string& line : Lines(table)) {
      std::vector<std::string> cells = Cells(line);
      if (cells.size() < 6 || cells[2] != name) continue;
      found = true;
      EXPECT_EQ(cells[1], "WEEKLY_CHECK_IN") << line;
      EXPECT_EQ(cells[3], kMondayWeek) << line;
      EXPECT_EQ(cells[4], absl::StrCat(count)) << line;
    }
    EXPECT_TRUE(found) << name << " missing from\n" << table;
  }
  auto janes = ParseJson<okr::v1::ListRemindersResponse>(
      Must(org, {"reminders", "list", "--recipient", "Jane", "--json"}));
  ASSERT_EQ(janes.reminders_size(), 1);
  EXPECT_EQ(janes.reminders(0).recipient_name(), "Jane");

  // Both Redis channels took it, once.
  auto deliveries = ParseJson<okr::v1::ListDeliveriesResponse>(
      Must(org, {"deliveries", "--reminder", janes.reminders(0).id(), "--json"}));
  std::vector<okr::v1::DeliveryChannel> channels;
  for (const okr::v1::Delivery& d : deliveries.deliveries()) {
    EXPECT_EQ(d.reminder_id(), janes.reminders(0).id());
    EXPECT_EQ(d.status(), okr::v1::DELIVERY_STATUS_SUCCEEDED);
    EXPECT_EQ(d.attempt(), 1);
    channels.push_back(d.channel());
  }
  EXPECT_THAT(channels, ::testing::UnorderedElementsAre(okr::v1::DELIVERY_CHANNEL_REDIS_STREAM,
                                                        okr::v1::DELIVERY_CHANNEL_REDIS_PUBSUB));
  EXPECT_THAT(
      Must(org, {"deliveries", "--reminder", janes.reminders(0).id(), "--status", "succeeded"}),
      AllOf(HasSubstr("REDIS_STREAM"), HasSubstr("REDIS_PUBSUB")));
}

TEST_F(OkrctlNotifyEndToEndTest, WatchPrintsAReminderAsItIsPublished) {
  const std::string org = "ntf-watch";
  const PlanCsv file = SetUpOrganisation(org);
  const std::map<std::string, int> expected = KeyResultsPerOwner(file);

  absl::StatusOr<std::string> binary = OkrBinary("okrctl");
  ASSERT_TRUE(binary.ok()) << binary.status();
  TempDir dir("okrctl-watch");
  SubprocessOptions options;
  options.program = *binary;
  // No --timeout: the watch runs until its one reminder (or is killed).
  options.args = {"--notify-addr=" + env_->notify->address(),
                  "--org=" + org,
                  "reminders",
                  "watch",
                  "--kind",
                  "weekly",
                  "--count",
                  "1",
                  "--json"};
  options.stdout_path = dir.File("out");
  options.stderr_path = dir.File("err");
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subprocess> watcher, Subprocess::Start(options));

  // The watch is live only: a run published before it subscribed is not
  // seen, so each try runs a later week (new windows, new reminders) until
  // the watcher has had its one.
  for (int week = 0; week < 10 && watcher->Running(); ++week) {
    Must(org, {"reminders", "run", "--now", Rfc3339(kMonday + absl::Hours(24 * 7 * week)),
               "--kinds", "weekly"});
    (void)watcher->Wait(absl::Seconds(1));
  }
  absl::StatusOr<ExitStatus> exit = watcher->Wait(absl::Seconds(5));
  ASSERT_TRUE(exit.ok()) << exit.status() << "\n" << ReadFileToString(dir.File("err"));
  EXPECT_TRUE(exit->success()) << exit->ToString() << "\n" << ReadFileToString(dir.File("err"));
  const std::vector<std::string> lines = Lines(ReadFileToString(dir.File("out")));
  ASSERT_EQ(lines.size(), 1u);
  auto reminder = ParseJson<okr::v1::Reminder>(lines[0]);
  EXPECT_EQ(reminder.kind(), okr::v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  EXPECT_EQ(expected.count(reminder.recipient_name()), 1u) << reminder.recipient_name();
  // It is one of the published ones.
  auto listed = ParseJson<okr::v1::ListRemindersResponse>(
      Must(org, {"reminders", "list", "--window", reminder.window_key(), "--json"}));
  std::set<std::string> ids;
  for (const okr::v1::Reminder& r : listed.reminders()) ids.insert(r.id());
  EXPECT_EQ(ids.count(reminder.id()), 1u) << reminder.id();
}

}  // namespace
}  // namespace okr::okrctl
