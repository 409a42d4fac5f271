// Service tests of okr-notify: the real okr-planning, okr-tracking and
// okr-notify binaries, a real redis-server and a real HTTP receiver, each on
// a free loopback port with temporary SQLite files, called through the
// generated stubs with a deadline on every call. The plan is built through
// PlanningService and the check-ins recorded through TrackingService as a
// user would; notify learns both over gRPC.
//
// The consuming side of Redis is plain hiredis (a subscriber on the channel,
// consumer groups on the stream), as a consumer in another process or
// language would be, with a read timeout on every connection so a missing
// message fails instead of hanging.
//
// Every run passes RunDueRemindersRequest.now. Weekly check-ins use the real
// present (check-ins cannot be recorded in the future and must fall inside
// the ACTIVE quarter); the DST and fiscal-year scenarios use fixed instants
// in 2027, which work because staleness is decided by the check-ins of the
// ACTIVE cycles, whatever `now` says.
//
// What they pin down (notify.proto, notify_common.md's Behaviour):
//  1. the due weekly check-in reminders reach a channel subscriber, a
//     consumer group and a WatchReminders stream, and only those;
//  2. a rerun for the same window publishes nothing (and a dry run stores
//     nothing);
//  3. a consumer that dies before XACK has its entries claimed by another;
//  4. a webhook failing twice then succeeding has exactly one SUCCEEDED
//     delivery, and a hanging webhook does not delay it;
//  5. weekly windows across the 2027 US DST change;
//  6. planning milestones across the FY2026/FY2027 boundary;
//  7. two replicas on one store publish each reminder once;
//  8. okr-reminder-job's exit codes and output;
//  9. bad input over gRPC;
// 10. a Redis outage: reminders are claimed, counted failed, and published
//     by the next run;
// 11. SIGTERM ends an open watch with UNAVAILABLE and exits 0.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "common/grpc_status.h"
#include "common/model.h"
#include "common/redis.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/notify.grpc.pb.h"
#include "okr/v1/planning.grpc.pb.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "tests/support/http_receiver.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::testing::HasSubstr;
using NotifyStub = v1::NotifyService::Stub;
using PlanStub = v1::PlanningService::Stub;
using TrackStub = v1::TrackingService::Stub;
using Kind = RedisReply::Kind;

// Generous: a run with Redis stopped waits out Redis timeouts.
constexpr absl::Duration kCallTimeout = absl::Seconds(20);
constexpr absl::string_view kOrg = "acme";
constexpr absl::string_view kZone = "America/New_York";
constexpr absl::string_view kGroup = "reminder-readers";
constexpr absl::string_view kWeeklyName = "REMINDER_KIND_WEEKLY_CHECK_IN";

// --- Small conversions (written here, not taken from the code under test) -----

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  const int64_t seconds = absl::ToUnixSeconds(time);  // floors
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return timestamp;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime(absl::RFC3339_full, time, absl::UTCTimeZone());
}

// "2027-W10": the ISO 8601 week of `day`, from its definition: the week (from
// Monday) whose Thursday lies in the week-year.
std::string IsoWeek(absl::CivilDay day) {
  const int from_monday =
      (static_cast<int>(absl::GetWeekday(day)) - static_cast<int>(absl::Weekday::monday) + 7) % 7;
  const absl::CivilDay thursday = day - from_monday + 3;
  const absl::CivilDay first_of_year(thursday.year(), 1, 1);
  const int64_t week = (thursday - first_of_year) / 7 + 1;
  return absl::StrFormat("%04d-W%02d", thursday.year(), week);
}

// A JSON document as a Struct; nullopt when it does not parse.
std::optional<google::protobuf::Struct> ParseStruct(absl::string_view json) {
  google::protobuf::Struct value;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &value).ok()) {
    return std::nullopt;
  }
  return value;
}

// Parses proto3 JSON into a Reminder; a parse failure fails the test.
v1::Reminder ParseReminder(absl::string_view json) {
  v1::Reminder reminder;
  const auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &reminder);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return reminder;
}

// --- Assertions on gRPC statuses ------------------------------------------------

// True when `status` names `field`, as a BadRequest violation or in its
// message.
::testing::AssertionResult NamesField(const grpc::Status& status, absl::string_view field) {
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolationsOf(ToAbslStatus(status))) {
    if (v.field == field) return ::testing::AssertionSuccess();
    fields.push_back(v.field);
  }
  if (absl::StrContains(status.error_message(), field)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "'" << field << "' named neither as a violation (got [" << absl::StrJoin(fields, ", ")
         << "]) nor in code " << status.error_code() << ": " << status.error_message();
}

#define EXPECT_CODE(status, code)                                                     \
  do {                                                                                \
    const grpc::Status okr_s_ = (status);                                             \
    EXPECT_EQ(okr_s_.error_code(), grpc::StatusCode::code) << okr_s_.error_message(); \
  } while (false)

#define ASSERT_GRPC_OK(status)                                                         \
  do {                                                                                 \
    const grpc::Status okr_s_ = (status);                                              \
    ASSERT_TRUE(okr_s_.ok()) << okr_s_.error_code() << ": " << okr_s_.error_message(); \
  } while (false)

// --- The consuming side of Redis: plain hiredis -----------------------------------

class RawRedis {
 public:
  static absl::StatusOr<std::unique_ptr<RawRedis>> Connect(
      int port, absl::Duration read_timeout = absl::Seconds(5)) {
    const timeval connect_timeout = absl::ToTimeval(absl::Seconds(2));
    RedisContextPtr context(redisConnectWithTimeout("127.0.0.1", port, connect_timeout));
    if (context == nullptr) return absl::ResourceExhaustedError("hiredis: out of memory");
    if (context->err != 0) {
      return absl::UnavailableError(absl::StrCat("hiredis connect: ", context->errstr));
    }
    auto raw = std::unique_ptr<RawRedis>(new RawRedis(std::move(context)));
    OKR_RETURN_IF_ERROR(raw->SetReadTimeout(read_timeout));
    return raw;
  }

  absl::Status SetReadTimeout(absl::Duration timeout) {
    if (redisSetTimeout(context_.get(), absl::ToTimeval(timeout)) != REDIS_OK) {
      return absl::InternalError(absl::StrCat("hiredis timeout: ", context_->errstr));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    RedisReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(
        context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (reply == nullptr) return Failed(args[0]);
    return CopyReply(*reply);
  }

  // The next message pushed to a subscribed connection; DEADLINE_EXCEEDED
  // when none comes within the read timeout (the connection is then dead).
  absl::StatusOr<RedisReply> NextMessage() {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
      return Failed("read");
    }
    RedisReplyPtr reply(static_cast<redisReply*>(raw));
    return CopyReply(*reply);
  }

 private:
  explicit RawRedis(RedisContextPtr context) : context_(std::move(context)) {}

  absl::Status Failed(absl::string_view what) const {
    const std::string message = absl::StrCat("hiredis ", what, ": ", context_->errstr);
    return context_->err == REDIS_ERR_IO ? absl::DeadlineExceededError(message)
                                         : absl::InternalError(message);
  }

  RedisContextPtr context_;
};

struct StreamEntry {
  std::string entry_id;
  std::map<std::string, std::string> fields;
};

StreamEntry ParseEntry(const RedisReply& reply) {
  StreamEntry entry;
  EXPECT_EQ(reply.kind, Kind::kArray) << reply.DebugString();
  if (reply.kind != Kind::kArray || reply.elements.size() != 2) return entry;
  entry.entry_id = reply.elements[0].str;
  const std::vector<RedisReply>& pairs = reply.elements[1].elements;
  EXPECT_EQ(pairs.size() % 2, 0u) << reply.DebugString();
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    entry.fields[pairs[i].str] = pairs[i + 1].str;
  }
  return entry;
}

std::vector<StreamEntry> ParseEntries(const RedisReply& list) {
  std::vector<StreamEntry> entries;
  for (const RedisReply& entry : list.elements) entries.push_back(ParseEntry(entry));
  return entries;
}

// The entries of an XREADGROUP / XREAD reply on one stream; nil is none.
std::vector<StreamEntry> ParseRead(const RedisReply& reply) {
  if (reply.is_nil()) return {};
  if (reply.kind != Kind::kArray || reply.elements.size() != 1 ||
      reply.elements[0].elements.size() != 2) {
    ADD_FAILURE() << "unexpected read reply " << reply.DebugString();
    return {};
  }
  return ParseEntries(reply.elements[0].elements[1]);
}

std::set<std::string> ReminderIdsOf(const std::vector<StreamEntry>& entries) {
  std::set<std::string> ids;
  for (const StreamEntry& entry : entries) {
    auto it = entry.fields.find("id");
    ids.insert(it == entry.fields.end() ? "<no id field>" : it->second);
  }
  return ids;
}

// --- A WatchReminders stream read on its own thread --------------------------------

class WatchCollector {
 public:
  WatchCollector(std::shared_ptr<grpc::Channel> channel, absl::string_view org,
                 const v1::WatchRemindersRequest& request)
      : stub_(v1::NotifyService::NewStub(std::move(channel))) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
    context_.AddMetadata("okr-organisation-id", std::string(org));
    reader_ = stub_->WatchReminders(&context_, request);
  }
  ~WatchCollector() {
    context_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }

  // Waits for the server's initial metadata (sent once the watch is
  // subscribed), then reads on a thread until the stream ends.
  void Open() {
    reader_->WaitForInitialMetadata();
    thread_ = std::thread([this] {
      v1::Reminder reminder;
      while (reader_->Read(&reminder)) {
        absl::MutexLock lock(&mu_);
        received_.push_back(reminder);
      }
      grpc::Status status = reader_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = std::move(status);
    });
  }

  // True once `n` reminders arrived within `timeout`.
  bool WaitFor(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return received_.size() >= n || status_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return received_.size() >= n;
  }

  // The stream's final status, once it ended within `timeout`.
  std::optional<grpc::Status> WaitForEnd(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return status_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&ended), timeout);
    return status_;
  }

  std::vector<v1::Reminder> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  std::unique_ptr<NotifyStub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::Reminder>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<v1::Reminder> received_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);
};

// --- The weekly check-in plan ----------------------------------------------------------

// Ana owns an objective with three KRs: a1 (never checked in), a2 (checked
// in before the window began, when the quarter allows it) and a3, owned by
// Dan. Ben's only KR and Cara's first are checked in now; Cara's second is
// not. Eve owns nothing. Due: Ana {a1, a2}, Dan {a3}, Cara {c2}.
struct WeeklyPlan {
  absl::Time now;
  CadenceWindow window;
  std::string window_key;
  std::string ana, ben, cara, dan, eve;
  std::map<std::string, std::string> names;          // person id -> name
  std::map<std::string, std::set<std::string>> due;  // person id -> KR ids
  std::map<std::string, std::string> kr_titles;      // KR id -> title
  std::string old_kr;                                // a2 when checked in early
  absl::Time old_check_in;
  int due_reminders() const { return static_cast<int>(due.size()); }
};

// --- Fixture -------------------------------------------------------------------------

class NotifyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(absl::LoadTimeZone(std::string(kZone), &tz_));
    OKR_ASSERT_OK_AND_ASSIGN(redis_, RedisServer::Start());
    OKR_ASSERT_OK_AND_ASSIGN(
        planning_,
        ServiceProcess::Start(
            {.binary = "okr-planning",
             .args = {"--auth=false", absl::StrCat("--store=sqlite:", dir_.File("plan.db"))},
             .log_path = dir_.File("planning.log")}));
    OKR_ASSERT_OK_AND_ASSIGN(
        tracking_,
        ServiceProcess::Start(
            {.binary = "okr-tracking",
             .args = {"--auth=false", absl::StrCat("--store=sqlite:", dir_.File("tracking.db")),
                      absl::StrCat("--redis=127.0.0.1:", redis_->port()),
                      absl::StrCat("--planning_addr=", planning_->address())},
             .log_path = dir_.File("tracking.log")}));
    OKR_ASSERT_OK_AND_ASSIGN(notify_, StartNotify("notify.log"));
    plan_channel_ = grpc::CreateChannel(planning_->address(), grpc::InsecureChannelCredentials());
    plan_stub_ = v1::PlanningService::NewStub(plan_channel_);
    tracking_channel_ =
        grpc::CreateChannel(tracking_->address(), grpc::InsecureChannelCredentials());
    tracking_stub_ = v1::TrackingService::NewStub(tracking_channel_);
    ConnectNotify();
    OKR_ASSERT_OK_AND_ASSIGN(raw_, RawRedis::Connect(redis_->port()));
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto& [name, process] :
           {std::pair{"okr-notify", notify_.get()}, std::pair{"okr-notify (2)", notify2_.get()},
            std::pair{"okr-tracking", tracking_.get()},
            std::pair{"okr-planning", planning_.get()}}) {
        if (process != nullptr) {
          std::cerr << "--- " << name << " log (tail) ---\n" << process->LogTail() << "\n";
        }
      }
    }
    notify_stub_.reset();
    notify_channel_.reset();
    tracking_stub_.reset();
    tracking_channel_.reset();
    plan_stub_.reset();
    plan_channel_.reset();
  }

  // okr-notify on the fixture's store and Redis. Short webhook backoff and
  // timeout, so retries happen within a test.
  // `allow_loopback_webhooks` false leaves --webhook_allow_cidrs at its
  // production default (public destinations only).
  absl::StatusOr<std::unique_ptr<ServiceProcess>> StartNotify(absl::string_view log,
                                                              bool allow_loopback_webhooks = true) {
    return ServiceProcess::Start(
        {.binary = "okr-notify",
         .args = {"--auth=false", absl::StrCat("--store=sqlite:", dir_.File("notify.db")),
                  absl::StrCat("--redis=127.0.0.1:", redis_->port()),
                  absl::StrCat("--planning_addr=", planning_->address()),
                  absl::StrCat("--tracking_addr=", tracking_->address()),
                  "--webhook_initial_backoff=50ms", "--webhook_timeout=1s",
                  // The receivers are on loopback.
                  allow_loopback_webhooks ? "--webhook_allow_cidrs=127.0.0.0/8,::1/128"
                                          : "--webhook_allow_cidrs="},
         .log_path = dir_.File(log)});
  }

  void ConnectNotify() {
    notify_channel_ = grpc::CreateChannel(notify_->address(), grpc::InsecureChannelCredentials());
    notify_stub_ = v1::NotifyService::NewStub(notify_channel_);
  }

  // --- Calls --------------------------------------------------------------------

  template <typename Stub, typename Request, typename Response>
  static grpc::Status CallStub(Stub* stub,
                               grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                            Response*),
                               const Request& request, Response* response, absl::string_view org) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    if (!org.empty()) context.AddMetadata("okr-organisation-id", std::string(org));
    return (stub->*method)(&context, request, response);
  }

  template <typename Request, typename Response>
  grpc::Status Plan(grpc::Status (PlanStub::*method)(grpc::ClientContext*, const Request&,
                                                     Response*),
                    const std::type_identity_t<Request>& request, Response* response) {
    return CallStub(plan_stub_.get(), method, request, response, org_);
  }

  template <typename Request, typename Response>
  grpc::Status Track(grpc::Status (TrackStub::*method)(grpc::ClientContext*, const Request&,
                                                       Response*),
                     const std::type_identity_t<Request>& request, Response* response) {
    return CallStub(tracking_stub_.get(), method, request, response, org_);
  }

  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (NotifyStub::*method)(grpc::ClientContext*, const Request&,
                                                       Response*),
                    const std::type_identity_t<Request>& request, Response* response) {
    return CallStub(notify_stub_.get(), method, request, response, org_);
  }

  // --- Planning builders (failures are recorded; callers check HasFailure) --------

  // Bootstraps org_ in New York, fiscal year from January, SMALL profile.
  void Bootstrap() {
    v1::BootstrapOrganisationRequest boot;
    boot.set_organisation_id(org_);
    boot.mutable_organisation()->set_name("Acme");
    boot.mutable_organisation()->set_time_zone(std::string(kZone));
    boot.mutable_organisation()->set_fiscal_year_start_month(1);
    boot.mutable_organisation()->set_planning_profile(v1::PLANNING_PROFILE_SMALL);
    v1::Organisation organisation;
    ASSERT_GRPC_OK(
        CallStub(plan_stub_.get(), &PlanStub::BootstrapOrganisation, boot, &organisation, ""));
  }

  v1::CreateFiscalYearResponse CreateFiscalYear(int year) {
    v1::CreateFiscalYearRequest request;
    request.set_fiscal_year(year);
    v1::CreateFiscalYearResponse created;
    const grpc::Status status = Plan(&PlanStub::CreateFiscalYear, request, &created);
    EXPECT_TRUE(status.ok()) << "FY" << year << ": " << status.error_message();
    return created;
  }

  // Bootstraps org_, creates the fiscal year of today and moves it and the
  // quarter of today to ACTIVE (quarter_).
  void SetUpOrganisation() {
    ASSERT_NO_FATAL_FAILURE(Bootstrap());
    const absl::CivilDay today = absl::ToCivilDay(absl::Now(), tz_);
    v1::CreateFiscalYearResponse created = CreateFiscalYear(static_cast<int>(today.year()));
    ASSERT_FALSE(HasFailure());
    bool found = false;
    for (const v1::Cycle& q : created.quarters()) {
      if (DayOf(q.start_date()) <= today && today < DayOf(q.end_date())) {
        quarter_ = q;
        found = true;
      }
    }
    ASSERT_TRUE(found) << "no quarter of FY" << today.year() << " contains " << today;
    Activate(created.year());
    quarter_ = Activate(quarter_);
    ASSERT_EQ(quarter_.state(), v1::CYCLE_STATE_ACTIVE);
  }

  static absl::CivilDay DayOf(const v1::Date& date) {
    return absl::CivilDay(date.year(), date.month(), date.day());
  }

  v1::Cycle Activate(const v1::Cycle& cycle) {
    v1::UpdateCycleStateRequest request;
    request.set_id(cycle.id());
    request.set_state(v1::CYCLE_STATE_ACTIVE);
    request.set_version(cycle.version());
    v1::Cycle updated;
    const grpc::Status status = Plan(&PlanStub::UpdateCycleState, request, &updated);
    EXPECT_TRUE(status.ok()) << cycle.name() << ": " << status.error_message();
    return updated;
  }

  std::string MakePerson(absl::string_view name, std::vector<std::string> team_ids = {}) {
    v1::CreatePersonRequest request;
    request.mutable_person()->set_display_name(std::string(name));
    request.mutable_person()->set_email(absl::StrCat(
        absl::AsciiStrToLower(absl::StrReplaceAll(name, {{" ", "."}})), "@acme.example"));
    for (std::string& team : team_ids) request.mutable_person()->add_team_ids(std::move(team));
    v1::Person person;
    const grpc::Status status = Plan(&PlanStub::CreatePerson, request, &person);
    EXPECT_TRUE(status.ok()) << name << ": " << status.error_message();
    return person.id();
  }

  std::string MakeTeam(absl::string_view name, absl::string_view parent = "",
                       absl::string_view lead = "") {
    v1::CreateTeamRequest request;
    request.mutable_team()->set_name(std::string(name));
    request.mutable_team()->set_parent_team_id(std::string(parent));
    request.mutable_team()->set_lead_person_id(std::string(lead));
    v1::Team team;
    const grpc::Status status = Plan(&PlanStub::CreateTeam, request, &team);
    EXPECT_TRUE(status.ok()) << name << ": " << status.error_message();
    return team.id();
  }

  std::string MakeObjective(absl::string_view title, absl::string_view owner,
                            absl::string_view cycle) {
    v1::CreateObjectiveRequest request;
    v1::Objective* objective = request.mutable_objective();
    objective->set_title(std::string(title));
    objective->set_level(v1::LEVEL_INDIVIDUAL);
    objective->set_owner_id(std::string(owner));
    objective->set_cycle_id(std::string(cycle));
    objective->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
    objective->set_state(v1::OBJECTIVE_STATE_PUBLISHED);
    objective->set_progress_source(v1::PROGRESS_SOURCE_KEY_RESULTS);
    v1::Objective created;
    const grpc::Status status = Plan(&PlanStub::CreateObjective, request, &created);
    EXPECT_TRUE(status.ok()) << title << ": " << status.error_message();
    return created.id();
  }

  std::string MakeKr(absl::string_view objective, absl::string_view title,
                     absl::string_view owner = "") {
    v1::CreateKeyResultRequest request;
    v1::KeyResult* kr = request.mutable_key_result();
    kr->set_objective_id(std::string(objective));
    kr->set_title(std::string(title));
    kr->set_owner_id(std::string(owner));
    kr->set_type(v1::KEY_RESULT_TYPE_METRIC);
    kr->set_measure(v1::MEASURE_KPI);
    kr->set_start_value(0);
    kr->set_target_value(100);
    kr->set_data_source(v1::DATA_SOURCE_MANUAL);
    v1::KeyResult created;
    const grpc::Status status = Plan(&PlanStub::CreateKeyResult, request, &created);
    EXPECT_TRUE(status.ok()) << title << ": " << status.error_message();
    return created.id();
  }

  // A check-in at `time` (unset: the server's now).
  void CheckIn(absl::string_view kr, absl::string_view author, double value,
               std::optional<absl::Time> time = std::nullopt) {
    v1::RecordCheckInRequest request;
    request.set_key_result_id(std::string(kr));
    request.set_value(value);
    request.set_client_key(absl::StrCat("ck-", kr, "-", value));
    request.set_author_id(std::string(author));
    request.set_confidence(7);
    if (time.has_value()) *request.mutable_time() = ToTimestamp(*time);
    v1::RecordCheckInResponse response;
    const grpc::Status status = Track(&TrackStub::RecordCheckIn, request, &response);
    EXPECT_TRUE(status.ok()) << "check-in on " << kr << ": " << status.error_code() << " "
                             << status.error_message();
  }

  // Builds WeeklyPlan's organisation; the window is the default policy's
  // (MONDAY 09:00 in the organisation's zone) at the plan's `now`.
  void BuildWeeklyPlan(WeeklyPlan* plan) {
    ASSERT_NO_FATAL_FAILURE(SetUpOrganisation());
    plan->now = absl::Now();
    OKR_ASSERT_OK_AND_ASSIGN(plan->window,
                             WeeklyWindow(plan->now, absl::Weekday::monday, 9, 0, tz_));
    plan->window_key = IsoWeek(absl::ToCivilDay(plan->window.start, tz_));

    auto person = [&](absl::string_view name) {
      const std::string id = MakePerson(name);
      plan->names[id] = std::string(name);
      return id;
    };
    plan->ana = person("Ana Lima");
    plan->ben = person("Ben Okafor");
    plan->cara = person("Cara Diaz");
    plan->dan = person("Dan Weiss");
    plan->eve = person("Eve Marsh");
    ASSERT_FALSE(HasFailure());

    auto kr = [&](absl::string_view objective, absl::string_view title,
                  absl::string_view owner = "") {
      const std::string id = MakeKr(objective, title, owner);
      plan->kr_titles[id] = std::string(title);
      return id;
    };
    const std::string ana_obj = MakeObjective("Delight new customers", plan->ana, quarter_.id());
    const std::string a1 = kr(ana_obj, "Onboard 40 customers in under a day");
    const std::string a2 = kr(ana_obj, "Raise activation to 60%");
    const std::string a3 = kr(ana_obj, "Ship the self-serve importer", plan->dan);
    const std::string ben_obj = MakeObjective("Harden the platform", plan->ben, quarter_.id());
    const std::string b1 = kr(ben_obj, "Cut p99 latency to 200 ms");
    const std::string cara_obj = MakeObjective("Grow the pipeline", plan->cara, quarter_.id());
    const std::string c1 = kr(cara_obj, "Book 30 demos");
    const std::string c2 = kr(cara_obj, "Close 10 enterprise deals");
    ASSERT_FALSE(HasFailure());

    CheckIn(b1, plan->ben, 10);
    CheckIn(c1, plan->cara, 12);
    // An early check-in on a2, when the window began after the quarter did.
    const absl::Time early = plan->window.start - absl::Hours(1);
    if (early > StartOfDay(DayOf(quarter_.start_date()), tz_) + absl::Hours(1)) {
      plan->old_kr = a2;
      plan->old_check_in = absl::FromUnixSeconds(absl::ToUnixSeconds(early));
      CheckIn(a2, plan->ana, 5, plan->old_check_in);
    }
    ASSERT_FALSE(HasFailure());
    plan->due[plan->ana] = {a1, a2};
    plan->due[plan->dan] = {a3};
    plan->due[plan->cara] = {c2};
  }

  // Checks one published weekly reminder against the plan.
  void ExpectWeeklyReminder(const v1::Reminder& reminder, const WeeklyPlan& plan) {
    SCOPED_TRACE(absl::StrCat("reminder ", reminder.id(), " for ", reminder.recipient_id()));
    EXPECT_TRUE(absl::StartsWith(reminder.id(), "rem-")) << reminder.id();
    EXPECT_EQ(reminder.kind(), v1::REMINDER_KIND_WEEKLY_CHECK_IN);
    EXPECT_EQ(reminder.window_key(), plan.window_key);
    EXPECT_EQ(FromTimestamp(reminder.due_time()), plan.window.start);
    EXPECT_TRUE(reminder.has_publish_time());
    EXPECT_EQ(reminder.team_id(), "");  // the organisation's (default) policy
    auto names = plan.names.find(reminder.recipient_id());
    ASSERT_NE(names, plan.names.end());
    EXPECT_EQ(reminder.recipient_name(), names->second);
    auto due = plan.due.find(reminder.recipient_id());
    ASSERT_NE(due, plan.due.end()) << "a reminder for someone with nothing due";
    std::set<std::string> targets;
    for (const v1::DueItem& item : reminder.due_items()) {
      EXPECT_EQ(item.target().kind(), v1::RESOURCE_KIND_KEY_RESULT);
      targets.insert(item.target().id());
      auto title = plan.kr_titles.find(item.target().id());
      ASSERT_NE(title, plan.kr_titles.end()) << item.target().id();
      EXPECT_EQ(item.title(), title->second);
      EXPECT_THAT(reminder.text(), HasSubstr(title->second));
      if (item.target().id() == plan.old_kr) {
        EXPECT_EQ(FromTimestamp(item.last_check_in_time()), plan.old_check_in);
        EXPECT_THAT(item.detail(), HasSubstr(absl::StrCat("no check-in since ",
                                                          absl::FormatCivilTime(absl::ToCivilDay(
                                                              plan.old_check_in, tz_)))));
      } else {
        EXPECT_FALSE(item.has_last_check_in_time());
        EXPECT_EQ(item.detail(), "no check-in yet");
      }
    }
    EXPECT_EQ(targets, due->second);
    EXPECT_FALSE(reminder.text().empty());
    EXPECT_THAT(reminder.text(), ::testing::Not(HasSubstr("\n")));
  }

  // --- Notify helpers -------------------------------------------------------------

  v1::RunDueRemindersResponse Run(absl::Time now, std::vector<v1::ReminderKind> kinds,
                                  bool dry_run = false) {
    v1::RunDueRemindersRequest request;
    *request.mutable_now() = ToTimestamp(now);
    request.set_dry_run(dry_run);
    for (v1::ReminderKind kind : kinds) request.add_kinds(kind);
    v1::RunDueRemindersResponse response;
    const grpc::Status status = Call(&NotifyStub::RunDueReminders, request, &response);
    EXPECT_TRUE(status.ok()) << "RunDueReminders at " << Rfc3339(now) << ": " << status.error_code()
                             << " " << status.error_message();
    return response;
  }

  // The counts of `kind` in a response; a missing entry fails the test.
  static v1::ReminderKindCounts CountsOf(const v1::RunDueRemindersResponse& response,
                                         v1::ReminderKind kind) {
    for (const v1::ReminderKindCounts& counts : response.counts()) {
      if (counts.kind() == kind) return counts;
    }
    ADD_FAILURE() << "no counts for " << v1::ReminderKind_Name(kind) << " in "
                  << response.ShortDebugString();
    return {};
  }

  static void ExpectCounts(const v1::ReminderKindCounts& counts, int found, int published,
                           int skipped, int failed) {
    EXPECT_EQ(counts.found(), found) << counts.ShortDebugString();
    EXPECT_EQ(counts.published(), published) << counts.ShortDebugString();
    EXPECT_EQ(counts.skipped(), skipped) << counts.ShortDebugString();
    EXPECT_EQ(counts.failed(), failed) << counts.ShortDebugString();
  }

  // Every reminder matching `request`'s filters, through all pages.
  std::vector<v1::Reminder> ListAllReminders(v1::ListRemindersRequest request = {}) {
    std::vector<v1::Reminder> all;
    request.set_page_size(500);
    for (int guard = 0; guard < 100; ++guard) {
      v1::ListRemindersResponse page;
      const grpc::Status status = Call(&NotifyStub::ListReminders, request, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      all.insert(all.end(), page.reminders().begin(), page.reminders().end());
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    return all;
  }

  std::vector<v1::Delivery> ListAllDeliveries(v1::ListDeliveriesRequest request) {
    std::vector<v1::Delivery> all;
    request.set_page_size(500);
    for (int guard = 0; guard < 100; ++guard) {
      v1::ListDeliveriesResponse page;
      const grpc::Status status = Call(&NotifyStub::ListDeliveries, request, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      all.insert(all.end(), page.deliveries().begin(), page.deliveries().end());
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    return all;
  }

  // --- Redis helpers -------------------------------------------------------------

  std::string StreamKey() const { return absl::StrCat("okr:{", org_, "}:reminders"); }

  RedisReply Raw(std::vector<std::string> args) {
    absl::StatusOr<RedisReply> reply = raw_->Command(args);
    EXPECT_TRUE(reply.ok()) << args[0] << ": " << reply.status();
    return reply.ok() ? *std::move(reply) : RedisReply::Error(reply.status().ToString());
  }

  int64_t StreamLength() { return Raw({"XLEN", StreamKey()}).integer; }

  std::vector<StreamEntry> WholeStream() {
    return ParseEntries(Raw({"XRANGE", StreamKey(), "-", "+"}));
  }

  void CreateGroup() {
    const RedisReply reply =
        Raw({"XGROUP", "CREATE", StreamKey(), std::string(kGroup), "0", "MKSTREAM"});
    EXPECT_EQ(reply.kind, Kind::kStatus) << reply.DebugString();
  }

  // A subscriber of the organisation's channel, after Redis confirmed it.
  std::unique_ptr<RawRedis> Subscribe() {
    absl::StatusOr<std::unique_ptr<RawRedis>> subscriber = RawRedis::Connect(redis_->port());
    EXPECT_TRUE(subscriber.ok()) << subscriber.status();
    if (!subscriber.ok()) return nullptr;
    absl::StatusOr<RedisReply> confirm = (*subscriber)->Command({"SUBSCRIBE", StreamKey()});
    EXPECT_TRUE(confirm.ok()) << confirm.status();
    if (!confirm.ok()) return nullptr;
    EXPECT_EQ(confirm->DebugString(),
              RedisReply::Array({RedisReply::String("subscribe"), RedisReply::String(StreamKey()),
                                 RedisReply::Integer(1)})
                  .DebugString());
    return *std::move(subscriber);
  }

  // The reminder of one channel message (["message", channel, json]).
  v1::Reminder ChannelReminder(const RedisReply& message) {
    if (message.kind != Kind::kArray || message.elements.size() != 3 ||
        message.elements[0].str != "message") {
      ADD_FAILURE() << "not a channel message: " << message.DebugString();
      return {};
    }
    EXPECT_EQ(message.elements[1].str, StreamKey());
    return ParseReminder(message.elements[2].str);
  }

  // Checks a stream entry's fields and returns its reminder.
  v1::Reminder EntryReminder(const StreamEntry& entry) {
    SCOPED_TRACE(absl::StrCat("stream entry ", entry.entry_id));
    auto field = [&](absl::string_view name) {
      auto it = entry.fields.find(std::string(name));
      return it == entry.fields.end() ? std::string("<missing>") : it->second;
    };
    const v1::Reminder reminder = ParseReminder(field("json"));
    EXPECT_EQ(field("id"), reminder.id());
    EXPECT_EQ(field("kind"), v1::ReminderKind_Name(reminder.kind()));
    EXPECT_EQ(field("recipient_id"), reminder.recipient_id());
    EXPECT_EQ(field("window_key"), reminder.window_key());
    return reminder;
  }

  TempDir dir_{"okr-notify-service-test"};
  absl::TimeZone tz_;
  std::string org_ = std::string(kOrg);
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<ServiceProcess> planning_;
  std::unique_ptr<ServiceProcess> tracking_;
  std::unique_ptr<ServiceProcess> notify_;
  std::unique_ptr<ServiceProcess> notify2_;
  std::shared_ptr<grpc::Channel> plan_channel_;
  std::unique_ptr<PlanStub> plan_stub_;
  std::shared_ptr<grpc::Channel> tracking_channel_;
  std::unique_ptr<TrackStub> tracking_stub_;
  std::shared_ptr<grpc::Channel> notify_channel_;
  std::unique_ptr<NotifyStub> notify_stub_;
  std::unique_ptr<RawRedis> raw_;
  v1::Cycle quarter_;
};

// --- 1. Publication ---------------------------------------------------------------------

TEST_F(NotifyServiceTest, DueWeeklyRemindersReachTheChannelTheConsumerGroupAndWatchers) {
  WeeklyPlan plan;
  ASSERT_NO_FATAL_FAILURE(BuildWeeklyPlan(&plan));
  const int due = plan.due_reminders();
  ASSERT_EQ(due, 3);

  std::unique_ptr<RawRedis> subscriber = Subscribe();
  ASSERT_NE(subscriber, nullptr);
  CreateGroup();
  auto watch_channel = grpc::CreateChannel(notify_->address(), grpc::InsecureChannelCredentials());
  v1::WatchRemindersRequest watch_request;
  watch_request.add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  WatchCollector watch(watch_channel, org_, watch_request);
  watch.Open();
  ASSERT_FALSE(HasFailure());

  const v1::RunDueRemindersResponse response = Run(plan.now, {v1::REMINDER_KIND_WEEKLY_CHECK_IN});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(FromTimestamp(response.now()), plan.now);
  ASSERT_EQ(response.counts_size(), 1) << response.ShortDebugString();
  ExpectCounts(CountsOf(response, v1::REMINDER_KIND_WEEKLY_CHECK_IN), due, due, 0, 0);
  EXPECT_EQ(response.sample_size(), 0);

  // The channel: exactly the due reminders, then nothing.
  std::map<std::string, v1::Reminder> by_id;
  std::set<std::string> recipients;
  for (int i = 0; i < due; ++i) {
    absl::StatusOr<RedisReply> message = subscriber->NextMessage();
    ASSERT_TRUE(message.ok()) << "channel message " << i + 1 << " of " << due << ": "
                              << message.status();
    const v1::Reminder reminder = ChannelReminder(*message);
    ExpectWeeklyReminder(reminder, plan);
    recipients.insert(reminder.recipient_id());
    by_id[reminder.id()] = reminder;
  }
  EXPECT_EQ(recipients, (std::set<std::string>{plan.ana, plan.dan, plan.cara}));
  EXPECT_EQ(by_id.size(), static_cast<size_t>(due));
  ASSERT_TRUE(subscriber->SetReadTimeout(absl::Milliseconds(500)).ok());
  absl::StatusOr<RedisReply> extra = subscriber->NextMessage();
  EXPECT_EQ(extra.status().code(), absl::StatusCode::kDeadlineExceeded)
      << (extra.ok() ? extra->DebugString() : extra.status().ToString());

  // The consumer group: the same reminders, with the documented fields.
  const std::vector<StreamEntry> read =
      ParseRead(Raw({"XREADGROUP", "GROUP", std::string(kGroup), "reader-1", "COUNT", "100",
                     "STREAMS", StreamKey(), ">"}));
  ASSERT_EQ(read.size(), static_cast<size_t>(due));
  for (const StreamEntry& entry : read) {
    const v1::Reminder reminder = EntryReminder(entry);
    ExpectWeeklyReminder(reminder, plan);
    auto it = by_id.find(reminder.id());
    ASSERT_NE(it, by_id.end()) << reminder.id() << " is in the stream, not on the channel";
    EXPECT_EQ(reminder.SerializeAsString(), it->second.SerializeAsString());
    EXPECT_EQ(entry.fields.at("kind"), kWeeklyName);
    EXPECT_EQ(Raw({"XACK", StreamKey(), std::string(kGroup), entry.entry_id}).integer, 1);
  }
  EXPECT_EQ(StreamLength(), due);

  // The watcher.
  ASSERT_TRUE(watch.WaitFor(due, absl::Seconds(5))) << watch.received().size();
  std::set<std::string> watched;
  for (const v1::Reminder& reminder : watch.received()) {
    ExpectWeeklyReminder(reminder, plan);
    watched.insert(reminder.id());
  }
  std::set<std::string> published;
  for (const auto& [id, reminder] : by_id) published.insert(id);
  EXPECT_EQ(watched, published);

  // The ledger and the delivery log agree.
  std::set<std::string> listed;
  for (const v1::Reminder& reminder : ListAllReminders()) listed.insert(reminder.id());
  EXPECT_EQ(listed, published);
  for (const std::string& id : published) {
    v1::ListDeliveriesRequest request;
    request.set_reminder_id(id);
    std::set<std::tuple<int, int, int>> seen;  // channel, attempt, status
    for (const v1::Delivery& delivery : ListAllDeliveries(request)) {
      EXPECT_EQ(delivery.reminder_id(), id);
      seen.insert({delivery.channel(), delivery.attempt(), delivery.status()});
    }
    EXPECT_EQ(seen, (std::set<std::tuple<int, int, int>>{
                        {v1::DELIVERY_CHANNEL_REDIS_STREAM, 1, v1::DELIVERY_STATUS_SUCCEEDED},
                        {v1::DELIVERY_CHANNEL_REDIS_PUBSUB, 1, v1::DELIVERY_STATUS_SUCCEEDED}}))
        << id;
  }
}

// --- 2. Rerun ---------------------------------------------------------------------------

TEST_F(NotifyServiceTest, RerunForTheSameWindowPublishesNothing) {
  WeeklyPlan plan;
  ASSERT_NO_FATAL_FAILURE(BuildWeeklyPlan(&plan));
  const int due = plan.due_reminders();
  ExpectCounts(CountsOf(Run(plan.now, {v1::REMINDER_KIND_WEEKLY_CHECK_IN}),
                        v1::REMINDER_KIND_WEEKLY_CHECK_IN),
               due, due, 0, 0);
  ASSERT_FALSE(HasFailure());
  const int64_t length = StreamLength();
  EXPECT_EQ(length, due);

  std::unique_ptr<RawRedis> subscriber = Subscribe();
  ASSERT_NE(subscriber, nullptr);
  // Later in the same window: found again, all skipped.
  const absl::Time later =
      std::min(plan.now + absl::Minutes(1), plan.window.end - absl::Seconds(1));
  for (absl::Time at : {plan.now, later}) {
    const v1::RunDueRemindersResponse rerun = Run(at, {v1::REMINDER_KIND_WEEKLY_CHECK_IN});
    ExpectCounts(CountsOf(rerun, v1::REMINDER_KIND_WEEKLY_CHECK_IN), due, 0, due, 0);
  }
  EXPECT_EQ(StreamLength(), length);
  ASSERT_TRUE(subscriber->SetReadTimeout(absl::Milliseconds(700)).ok());
  absl::StatusOr<RedisReply> extra = subscriber->NextMessage();
  EXPECT_EQ(extra.status().code(), absl::StatusCode::kDeadlineExceeded)
      << (extra.ok() ? extra->DebugString() : extra.status().ToString());
  EXPECT_EQ(ListAllReminders().size(), static_cast<size_t>(due));

  // A dry run a week later finds everyone whose check-in is now a week old
  // (Ben and Cara's first KR too), stores and publishes nothing.
  const absl::Time next_week = plan.now + absl::Hours(24 * 7);
  OKR_ASSERT_OK_AND_ASSIGN(const CadenceWindow next_window,
                           WeeklyWindow(next_week, absl::Weekday::monday, 9, 0, tz_));
  const v1::RunDueRemindersResponse dry =
      Run(next_week, {v1::REMINDER_KIND_WEEKLY_CHECK_IN}, /*dry_run=*/true);
  ExpectCounts(CountsOf(dry, v1::REMINDER_KIND_WEEKLY_CHECK_IN), due + 1, 0, due + 1, 0);
  std::set<std::string> sampled;
  for (const v1::Reminder& reminder : dry.sample()) {
    sampled.insert(reminder.recipient_id());
    EXPECT_EQ(reminder.window_key(), IsoWeek(absl::ToCivilDay(next_window.start, tz_)));
  }
  EXPECT_EQ(sampled, (std::set<std::string>{plan.ana, plan.ben, plan.cara, plan.dan}));
  EXPECT_EQ(StreamLength(), length);
  EXPECT_EQ(ListAllReminders().size(), static_cast<size_t>(due));
}

// --- 3. Dead consumer ------------------------------------------------------------------

TEST_F(NotifyServiceTest, EntriesADeadConsumerLeftPendingAreClaimedByAnother) {
  WeeklyPlan plan;
  ASSERT_NO_FATAL_FAILURE(BuildWeeklyPlan(&plan));
  const int due = plan.due_reminders();
  CreateGroup();
  ExpectCounts(CountsOf(Run(plan.now, {v1::REMINDER_KIND_WEEKLY_CHECK_IN}),
                        v1::REMINDER_KIND_WEEKLY_CHECK_IN),
               due, due, 0, 0);
  ASSERT_FALSE(HasFailure());

  // Consumer A reads everything and dies before XACK.
  std::set<std::string> read_by_a;
  {
    OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RawRedis> a, RawRedis::Connect(redis_->port()));
    absl::StatusOr<RedisReply> reply =
        a->Command({"XREADGROUP", "GROUP", std::string(kGroup), "consumer-a", "COUNT", "100",
                    "STREAMS", StreamKey(), ">"});
    OKR_ASSERT_OK(reply.status());
    for (const StreamEntry& entry : ParseRead(*reply)) read_by_a.insert(entry.entry_id);
  }
  ASSERT_EQ(read_by_a.size(), static_cast<size_t>(due));
  const RedisReply pending = Raw({"XPENDING", StreamKey(), std::string(kGroup)});
  ASSERT_EQ(pending.kind, Kind::kArray) << pending.DebugString();
  EXPECT_EQ(pending.elements[0].integer, due) << pending.DebugString();

  // Nothing new for B; what A left idles past min-idle, then B claims it.
  EXPECT_TRUE(ParseRead(Raw({"XREADGROUP", "GROUP", std::string(kGroup), "consumer-b", "COUNT",
                             "100", "STREAMS", StreamKey(), ">"}))
                  .empty());
  absl::SleepFor(absl::Milliseconds(200));
  const RedisReply claimed = Raw(
      {"XAUTOCLAIM", StreamKey(), std::string(kGroup), "consumer-b", "100", "0-0", "COUNT", "100"});
  ASSERT_EQ(claimed.kind, Kind::kArray) << claimed.DebugString();
  ASSERT_GE(claimed.elements.size(), 2u) << claimed.DebugString();
  EXPECT_EQ(claimed.elements[0].str, "0-0");  // the whole PEL in one call
  std::set<std::string> claimed_ids;
  for (const StreamEntry& entry : ParseEntries(claimed.elements[1])) {
    claimed_ids.insert(entry.entry_id);
    const v1::Reminder reminder = EntryReminder(entry);
    ExpectWeeklyReminder(reminder, plan);
    EXPECT_EQ(Raw({"XACK", StreamKey(), std::string(kGroup), entry.entry_id}).integer, 1);
  }
  EXPECT_EQ(claimed_ids, read_by_a);

  const RedisReply after = Raw({"XPENDING", StreamKey(), std::string(kGroup)});
  ASSERT_EQ(after.kind, Kind::kArray) << after.DebugString();
  EXPECT_EQ(after.elements[0].integer, 0) << after.DebugString();
}

// --- 4. Webhooks -----------------------------------------------------------------------

TEST_F(NotifyServiceTest, WebhookFailingTwiceGetsExactlyOneSuccessAndAHangingOneDelaysNothing) {
  ASSERT_NO_FATAL_FAILURE(SetUpOrganisation());
  const std::string pia = MakePerson("Pia Berg");
  const std::string kr =
      MakeKr(MakeObjective("Make deploys boring", pia, quarter_.id()), "Deploy daily");
  ASSERT_FALSE(HasFailure());

  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpReceiver> receiver, HttpReceiver::Start());
  // Hangs past --webhook_timeout=1s on every attempt.
  ScriptedResponse hang;
  hang.delay = absl::Seconds(3);
  receiver->SetDefault("/slow", hang);
  receiver->FailNext("/healthy", 500, 2);

  // The hanging webhook is registered first, so an outbox drained in
  // registration order would try it before the healthy one.
  v1::CreateWebhookRequest slow_request;
  slow_request.mutable_webhook()->set_url(receiver->url("/slow"));
  slow_request.mutable_webhook()->set_display_name("Hanging receiver");
  v1::Webhook slow;
  ASSERT_GRPC_OK(Call(&NotifyStub::CreateWebhook, slow_request, &slow));
  v1::CreateWebhookRequest healthy_request;
  healthy_request.mutable_webhook()->set_url(receiver->url("/healthy"));
  healthy_request.mutable_webhook()->set_display_name("#okr-reminders");
  healthy_request.mutable_webhook()->add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  healthy_request.set_request_id("create-healthy-1");
  v1::Webhook healthy;
  ASSERT_GRPC_OK(Call(&NotifyStub::CreateWebhook, healthy_request, &healthy));
  EXPECT_TRUE(absl::StartsWith(healthy.id(), "wh-")) << healthy.id();
  // A retried create returns the same webhook.
  v1::Webhook again;
  ASSERT_GRPC_OK(Call(&NotifyStub::CreateWebhook, healthy_request, &again));
  EXPECT_EQ(again.id(), healthy.id());
  v1::ListWebhooksResponse webhooks;
  ASSERT_GRPC_OK(Call(&NotifyStub::ListWebhooks, v1::ListWebhooksRequest(), &webhooks));
  ASSERT_EQ(webhooks.webhooks_size(), 2);
  EXPECT_EQ(webhooks.webhooks(0).id(), slow.id());
  EXPECT_EQ(webhooks.webhooks(1).id(), healthy.id());

  const absl::Time now = absl::Now();
  ExpectCounts(
      CountsOf(Run(now, {v1::REMINDER_KIND_WEEKLY_CHECK_IN}), v1::REMINDER_KIND_WEEKLY_CHECK_IN), 1,
      1, 0, 0);
  ASSERT_FALSE(HasFailure());
  const std::vector<v1::Reminder> reminders = ListAllReminders();
  ASSERT_EQ(reminders.size(), 1u);
  const v1::Reminder& reminder = reminders[0];
  EXPECT_EQ(reminder.recipient_id(), pia);
  ASSERT_EQ(reminder.due_items_size(), 1);
  EXPECT_EQ(reminder.due_items(0).target().id(), kr);

  // Three POSTs reach the healthy webhook: 500, 500, 200.
  OKR_EXPECT_OK(receiver->WaitForRequests("/healthy", 3, absl::Seconds(20)));
  // The SUCCEEDED attempt is logged after the POST; wait for it.
  v1::ListDeliveriesRequest by_webhook;
  by_webhook.set_channel(v1::DELIVERY_CHANNEL_WEBHOOK);
  by_webhook.set_webhook_id(healthy.id());
  by_webhook.set_reminder_id(reminder.id());
  std::vector<v1::Delivery> deliveries;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(100))) {
    deliveries = ListAllDeliveries(by_webhook);
    if (std::any_of(deliveries.begin(), deliveries.end(), [](const v1::Delivery& d) {
          return d.status() == v1::DELIVERY_STATUS_SUCCEEDED;
        })) {
      break;
    }
  }
  std::sort(deliveries.begin(), deliveries.end(),
            [](const v1::Delivery& a, const v1::Delivery& b) { return a.attempt() < b.attempt(); });
  ASSERT_EQ(deliveries.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(deliveries[i].ShortDebugString());
    EXPECT_EQ(deliveries[i].attempt(), i + 1);
    EXPECT_EQ(deliveries[i].status(), v1::DELIVERY_STATUS_RETRYING);
    EXPECT_EQ(deliveries[i].http_status(), 500);
    EXPECT_FALSE(deliveries[i].error().empty());
  }
  EXPECT_EQ(deliveries[2].attempt(), 3);
  EXPECT_EQ(deliveries[2].status(), v1::DELIVERY_STATUS_SUCCEEDED);
  EXPECT_EQ(deliveries[2].http_status(), 200);
  EXPECT_EQ(deliveries[2].webhook_id(), healthy.id());
  by_webhook.set_status(v1::DELIVERY_STATUS_SUCCEEDED);
  EXPECT_EQ(ListAllDeliveries(by_webhook).size(), 1u);

  // The bodies: Slack's "text" and the reminder itself.
  const std::vector<ReceivedRequest> posts = receiver->requests("/healthy");
  EXPECT_EQ(posts.size(), 3u);
  for (const ReceivedRequest& post : posts) {
    EXPECT_EQ(post.method, "POST");
    EXPECT_THAT(post.Header("Content-Type"), HasSubstr("application/json"));
    std::optional<google::protobuf::Struct> body = ParseStruct(post.body);
    ASSERT_TRUE(body.has_value()) << post.body;
    ASSERT_TRUE(body->fields().count("text") > 0) << post.body;
    EXPECT_EQ(body->fields().at("text").string_value(), reminder.text());
    ASSERT_TRUE(body->fields().count("reminder") > 0) << post.body;
    const google::protobuf::Struct& inner = body->fields().at("reminder").struct_value();
    ASSERT_TRUE(inner.fields().count("id") > 0) << post.body;
    EXPECT_EQ(inner.fields().at("id").string_value(), reminder.id());
  }

  // The hanging webhook did not hold the healthy one back: its first POST
  // went out while the hanging one's first attempt was still waiting.
  OKR_ASSERT_OK(receiver->WaitForRequests("/slow", 1, absl::Seconds(5)));
  const absl::Time slow_first = receiver->requests("/slow")[0].time;
  ASSERT_FALSE(posts.empty());
  EXPECT_LT(posts[0].time - slow_first, absl::Milliseconds(900))
      << "the healthy webhook's first POST came " << (posts[0].time - slow_first)
      << " after the hanging one's";
  // And the hanging one's attempt is logged as a retryable timeout.
  v1::ListDeliveriesRequest slow_deliveries;
  slow_deliveries.set_webhook_id(slow.id());
  std::vector<v1::Delivery> slow_log;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10);
       slow_log.empty() && absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(100))) {
    slow_log = ListAllDeliveries(slow_deliveries);
  }
  ASSERT_FALSE(slow_log.empty());
  const v1::Delivery& first_slow = slow_log.back();  // newest first
  EXPECT_EQ(first_slow.attempt(), 1);
  EXPECT_EQ(first_slow.status(), v1::DELIVERY_STATUS_RETRYING) << first_slow.ShortDebugString();
  EXPECT_EQ(first_slow.http_status(), 0) << first_slow.ShortDebugString();
  receiver->Stop();
}

// --- 5. DST ---------------------------------------------------------------------------

TEST_F(NotifyServiceTest, WeeklyWindowsFollowLocalNineOClockAcrossTheDstChange) {
  ASSERT_NO_FATAL_FAILURE(SetUpOrganisation());
  const std::string platform = MakeTeam("Platform");
  ASSERT_FALSE(HasFailure());
  const std::string pia = MakePerson("Pia Berg", {platform});
  const std::string otto = MakePerson("Otto Lang");
  MakeKr(MakeObjective("Make deploys boring", pia, quarter_.id()), "Deploy daily");
  MakeKr(MakeObjective("Tidy the books", otto, quarter_.id()), "Close the month in 3 days");
  ASSERT_FALSE(HasFailure());

  // The organisation: Wednesdays 14:00 UTC; Platform: Mondays 09:00 in New York.
  v1::SetReminderPolicyRequest org_policy;
  org_policy.mutable_policy()->set_time_zone("UTC");
  v1::WeeklyCheckInPolicy* org_weekly = org_policy.mutable_policy()->mutable_weekly_check_in();
  org_weekly->set_enabled(true);
  org_weekly->set_weekday(v1::DAY_OF_WEEK_WEDNESDAY);
  org_weekly->mutable_local_time()->set_hours(14);
  v1::ReminderPolicy stored;
  ASSERT_GRPC_OK(Call(&NotifyStub::SetReminderPolicy, org_policy, &stored));
  EXPECT_EQ(stored.version(), 1);
  v1::SetReminderPolicyRequest team_policy;
  team_policy.mutable_policy()->set_team_id(platform);
  team_policy.mutable_policy()->set_time_zone(std::string(kZone));
  v1::WeeklyCheckInPolicy* weekly = team_policy.mutable_policy()->mutable_weekly_check_in();
  weekly->set_enabled(true);
  weekly->set_weekday(v1::DAY_OF_WEEK_MONDAY);
  weekly->mutable_local_time()->set_hours(9);
  ASSERT_GRPC_OK(Call(&NotifyStub::SetReminderPolicy, team_policy, &stored));
  EXPECT_EQ(stored.team_id(), platform);
  v1::GetReminderPolicyRequest get;
  get.set_team_id(platform);
  get.set_effective(true);
  v1::ReminderPolicy effective;
  ASSERT_GRPC_OK(Call(&NotifyStub::GetReminderPolicy, get, &effective));
  EXPECT_EQ(effective.time_zone(), kZone);
  EXPECT_EQ(effective.weekly_check_in().weekday(), v1::DAY_OF_WEEK_MONDAY);
  EXPECT_EQ(effective.weekly_check_in().local_time().hours(), 9);
  EXPECT_TRUE(effective.has_mid_quarter_review());  // inherited sections filled in

  auto local = [&](int month, int day, int hour, int minute) {
    return absl::FromCivil(absl::CivilSecond(2027, month, day, hour, minute, 0), tz_);
  };
  auto utc = [](int month, int day, int hour) {
    return absl::FromCivil(absl::CivilSecond(2027, month, day, hour, 0, 0), absl::UTCTimeZone());
  };
  auto newest_for = [&](absl::string_view person) {
    v1::ListRemindersRequest request;
    request.set_recipient_id(std::string(person));
    request.set_kind(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
    return ListAllReminders(request);
  };

  // Monday 2027-03-08 10:00 EST: Platform's window began at 09:00 EST.
  ExpectCounts(CountsOf(Run(local(3, 8, 10, 0), {v1::REMINDER_KIND_WEEKLY_CHECK_IN}),
                        v1::REMINDER_KIND_WEEKLY_CHECK_IN),
               2, 2, 0, 0);
  std::vector<v1::Reminder> pias = newest_for(pia);
  ASSERT_EQ(pias.size(), 1u);
  EXPECT_EQ(pias[0].window_key(), "2027-W10");
  EXPECT_EQ(pias[0].team_id(), platform) << pias[0].ShortDebugString();
  const absl::Time first_due = FromTimestamp(pias[0].due_time());
  EXPECT_EQ(first_due, local(3, 8, 9, 0));
  EXPECT_EQ(first_due, utc(3, 8, 14));  // 09:00 at UTC-05:00
  EXPECT_EQ(tz_.At(first_due).offset, -5 * 3600);
  std::vector<v1::Reminder> ottos = newest_for(otto);
  ASSERT_EQ(ottos.size(), 1u);
  EXPECT_EQ(ottos[0].window_key(), "2027-W09");  // Wednesday 2027-03-03
  EXPECT_EQ(ottos[0].team_id(), "");
  EXPECT_EQ(FromTimestamp(ottos[0].due_time()), utc(3, 3, 14));

  // Monday 2027-03-15 10:00 EDT (DST began on the 14th): 09:00 EDT.
  ExpectCounts(CountsOf(Run(local(3, 15, 10, 0), {v1::REMINDER_KIND_WEEKLY_CHECK_IN}),
                        v1::REMINDER_KIND_WEEKLY_CHECK_IN),
               2, 2, 0, 0);
  pias = newest_for(pia);
  ASSERT_EQ(pias.size(), 2u);
  EXPECT_EQ(pias[0].window_key(), "2027-W11");
  const absl::Time second_due = FromTimestamp(pias[0].due_time());
  EXPECT_EQ(second_due, local(3, 15, 9, 0));
  EXPECT_EQ(second_due, utc(3, 15, 13));  // 09:00 at UTC-04:00
  EXPECT_EQ(tz_.At(second_due).offset, -4 * 3600);
  EXPECT_EQ(second_due - first_due, absl::Hours(167));
  EXPECT_EQ(pias[1].window_key(), "2027-W10");
  ottos = newest_for(otto);
  ASSERT_EQ(ottos.size(), 2u);
  EXPECT_EQ(ottos[0].window_key(), "2027-W10");

  // 08:30 EDT the same Monday is still in the W10 window: nothing new.
  ExpectCounts(CountsOf(Run(local(3, 15, 8, 30), {v1::REMINDER_KIND_WEEKLY_CHECK_IN}),
                        v1::REMINDER_KIND_WEEKLY_CHECK_IN),
               2, 0, 2, 0);
  EXPECT_EQ(newest_for(pia).size(), 2u);
  EXPECT_EQ(newest_for(otto).size(), 2u);
}

// --- 6. Fiscal-year boundary ----------------------------------------------------------

// Who a milestone is for, as notify_common.md's Behaviour states it.
enum class Audience { kLeadership, kTeamLeads, kEveryone };
Audience AudienceOfMilestone(absl::string_view id) {
  if (id == "leadership-kickoff" || id == "company-okrs") return Audience::kLeadership;
  if (id == "communicate-company-okrs" || id == "team-q1-okrs") return Audience::kTeamLeads;
  return Audience::kEveryone;
}

TEST_F(NotifyServiceTest, PlanningMilestonesAcrossTheFiscalYearBoundary) {
  ASSERT_NO_FATAL_FAILURE(Bootstrap());
  const v1::CreateFiscalYearResponse fy2027 = CreateFiscalYear(2027);
  ASSERT_FALSE(HasFailure());
  const std::string lee = MakePerson("Lee Chen");
  const std::string sam = MakePerson("Sam Ito");
  const std::string pat = MakePerson("Pat Moss");
  const std::string leadership = MakeTeam("Leadership", "", lee);
  MakeTeam("Sales", leadership, sam);
  ASSERT_FALSE(HasFailure());
  const std::set<std::string> top_leads = {lee};
  const std::set<std::string> team_leads = {lee, sam};
  const std::set<std::string> everyone = {lee, sam, pat};

  OKR_ASSERT_OK_AND_ASSIGN(const FiscalCalendar calendar, FiscalCalendar::Create(1));
  struct Expected {
    PlanningMilestone milestone;
    int64_t fiscal_year;
  };
  // (recipient, window key) -> milestone, for the milestones whose
  // [start day, due day) contains `now` in New York.
  auto expected_at = [&](absl::Time now) {
    std::map<std::pair<std::string, std::string>, Expected> expected;
    const int64_t year = calendar.FiscalYearOf(absl::ToCivilDay(now, tz_));
    for (int64_t fy : {year, year + 1}) {
      absl::StatusOr<std::vector<PlanningMilestone>> timeline =
          PlanningTimeline(calendar, fy, PlanningProfile::kSmall);
      EXPECT_TRUE(timeline.ok()) << timeline.status();
      if (!timeline.ok()) continue;
      for (const PlanningMilestone& m : *timeline) {
        if (now < StartOfDay(m.start, tz_) || now >= StartOfDay(m.due, tz_)) continue;
        const Audience audience = AudienceOfMilestone(m.id);
        const std::set<std::string>& who = audience == Audience::kLeadership  ? top_leads
                                           : audience == Audience::kTeamLeads ? team_leads
                                                                              : everyone;
        for (const std::string& person : who) {
          expected[{person, absl::StrCat("FY", fy, ":", m.id)}] = {m, fy};
        }
      }
    }
    return expected;
  };

  const absl::Time december = absl::FromCivil(absl::CivilSecond(2026, 12, 10, 12, 0, 0), tz_);
  const absl::Time january = absl::FromCivil(absl::CivilSecond(2027, 1, 4, 12, 0, 0), tz_);
  const auto in_december = expected_at(december);
  const auto in_january = expected_at(january);
  // What the scenario is about, so the comparisons below are not vacuous.
  ASSERT_TRUE(in_december.contains({sam, "FY2027:team-q1-okrs"}));
  ASSERT_TRUE(in_december.contains({lee, "FY2027:team-q1-okrs"}));
  ASSERT_FALSE(in_december.contains({pat, "FY2027:team-q1-okrs"}));
  for (const std::string& person : everyone) {
    ASSERT_TRUE(in_january.contains({person, "FY2027:rollout-q1-team-okrs"})) << person;
  }
  for (const auto* expected : {&in_december, &in_january}) {
    for (const auto& [key, milestone] : *expected) {
      EXPECT_TRUE(absl::StartsWith(key.second, "FY2027:")) << key.second;
    }
  }

  const int december_count = static_cast<int>(in_december.size());
  ExpectCounts(CountsOf(Run(december, {v1::REMINDER_KIND_PLANNING_MILESTONE}),
                        v1::REMINDER_KIND_PLANNING_MILESTONE),
               december_count, december_count, 0, 0);
  const int january_count = static_cast<int>(in_january.size());
  ExpectCounts(CountsOf(Run(january, {v1::REMINDER_KIND_PLANNING_MILESTONE}),
                        v1::REMINDER_KIND_PLANNING_MILESTONE),
               january_count, january_count, 0, 0);
  ASSERT_FALSE(HasFailure());

  std::map<std::pair<std::string, std::string>, Expected> all = in_december;
  all.insert(in_january.begin(), in_january.end());
  v1::ListRemindersRequest milestones;
  milestones.set_kind(v1::REMINDER_KIND_PLANNING_MILESTONE);
  std::set<std::pair<std::string, std::string>> listed;
  for (const v1::Reminder& reminder : ListAllReminders(milestones)) {
    SCOPED_TRACE(reminder.ShortDebugString());
    const std::pair<std::string, std::string> key{reminder.recipient_id(), reminder.window_key()};
    EXPECT_TRUE(listed.insert(key).second) << "twice: " << key.first << " " << key.second;
    auto it = all.find(key);
    if (it == all.end()) {
      ADD_FAILURE() << "unexpected milestone reminder";
      continue;
    }
    const PlanningMilestone& m = it->second.milestone;
    EXPECT_EQ(FromTimestamp(reminder.due_time()), StartOfDay(m.start, tz_));
    ASSERT_EQ(reminder.due_items_size(), 1);
    EXPECT_EQ(reminder.due_items(0).title(), m.title);
    EXPECT_EQ(reminder.due_items(0).target().kind(), v1::RESOURCE_KIND_CYCLE);
    EXPECT_EQ(reminder.due_items(0).target().id(), fy2027.year().id());
  }
  EXPECT_EQ(listed.size(), all.size());
}

// --- 7. Two replicas --------------------------------------------------------------------

TEST_F(NotifyServiceTest, TwoReplicasRunningAtOncePublishEachReminderOnce) {
  OKR_ASSERT_OK_AND_ASSIGN(notify2_, StartNotify("notify2.log"));
  WeeklyPlan plan;
  ASSERT_NO_FATAL_FAILURE(BuildWeeklyPlan(&plan));
  const int due = plan.due_reminders();

  auto channel2 = grpc::CreateChannel(notify2_->address(), grpc::InsecureChannelCredentials());
  std::unique_ptr<NotifyStub> stub2 = v1::NotifyService::NewStub(channel2);
  v1::RunDueRemindersRequest request;
  *request.mutable_now() = ToTimestamp(plan.now);
  request.add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  v1::RunDueRemindersResponse responses[2];
  grpc::Status statuses[2];
  {
    std::thread first([&] {
      statuses[0] =
          CallStub(notify_stub_.get(), &NotifyStub::RunDueReminders, request, &responses[0], org_);
    });
    std::thread second([&] {
      statuses[1] =
          CallStub(stub2.get(), &NotifyStub::RunDueReminders, request, &responses[1], org_);
    });
    first.join();
    second.join();
  }
  int published = 0;
  int skipped = 0;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << "replica " << i + 1 << ": " << statuses[i].error_message();
    const v1::ReminderKindCounts counts = CountsOf(responses[i], v1::REMINDER_KIND_WEEKLY_CHECK_IN);
    EXPECT_EQ(counts.found(), due);
    EXPECT_EQ(counts.failed(), 0);
    published += counts.published();
    skipped += counts.skipped();
  }
  EXPECT_EQ(published, due);
  EXPECT_EQ(skipped, due);

  const std::vector<StreamEntry> stream = WholeStream();
  EXPECT_EQ(stream.size(), static_cast<size_t>(due));
  EXPECT_EQ(ReminderIdsOf(stream).size(), static_cast<size_t>(due));
  std::set<std::tuple<std::string, int, std::string>> keys;
  const std::vector<v1::Reminder> listed = ListAllReminders();
  for (const v1::Reminder& reminder : listed) {
    EXPECT_TRUE(
        keys.insert({reminder.recipient_id(), reminder.kind(), reminder.window_key()}).second)
        << "twice: " << reminder.ShortDebugString();
  }
  EXPECT_EQ(listed.size(), static_cast<size_t>(due));
  std::set<std::string> listed_ids;
  for (const v1::Reminder& reminder : listed) listed_ids.insert(reminder.id());
  EXPECT_EQ(ReminderIdsOf(stream), listed_ids);
  stub2.reset();
  channel2.reset();
}

// --- 8. okr-reminder-job ------------------------------------------------------------

TEST_F(NotifyServiceTest, ReminderJobRunsOnceAndExitsNonZeroWhenNotifyIsUnreachable) {
  WeeklyPlan plan;
  ASSERT_NO_FATAL_FAILURE(BuildWeeklyPlan(&plan));
  const int due = plan.due_reminders();
  OKR_ASSERT_OK_AND_ASSIGN(const std::string job, OkrBinary("okr-reminder-job"));

  auto run_job = [&](absl::string_view address,
                     absl::string_view out) -> absl::StatusOr<ExitStatus> {
    SubprocessOptions options;
    options.program = job;
    options.args = {absl::StrCat("--notify_addr=", address), absl::StrCat("--organisations=", org_),
                    absl::StrCat("--now=", Rfc3339(plan.now)), "--kinds=weekly", "--retries=1"};
    options.stdout_path = dir_.File(absl::StrCat(out, ".out"));
    options.stderr_path = dir_.File(absl::StrCat(out, ".err"));
    OKR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process,
                         Subprocess::Start(std::move(options)));
    return process->Wait(absl::Seconds(60));
  };

  OKR_ASSERT_OK_AND_ASSIGN(const ExitStatus ok_exit, run_job(notify_->address(), "job"));
  const std::string out = ReadFileToString(dir_.File("job.out"));
  const std::string err = ReadFileToString(dir_.File("job.err"));
  EXPECT_TRUE(ok_exit.success()) << ok_exit.ToString() << "\nstdout: " << out
                                 << "\nstderr: " << err;
  // One JSON line for the organisation, with its totals and per-kind counts.
  std::vector<google::protobuf::Struct> lines;
  for (absl::string_view text : absl::StrSplit(out, '\n', absl::SkipWhitespace())) {
    std::optional<google::protobuf::Struct> parsed = ParseStruct(text);
    EXPECT_TRUE(parsed.has_value()) << "not JSON: " << text;
    if (parsed.has_value()) lines.push_back(*std::move(parsed));
  }
  ASSERT_EQ(lines.size(), 1u) << "stdout: " << out << "\nstderr: " << err;
  const auto& fields = lines[0].fields();
  auto number = [&](absl::string_view key) {
    auto it = fields.find(std::string(key));
    return it == fields.end() ? -1.0 : it->second.number_value();
  };
  ASSERT_EQ(fields.count("organisation"), 1u) << out;
  EXPECT_EQ(fields.at("organisation").string_value(), org_);
  EXPECT_EQ(number("found"), due) << out;
  EXPECT_EQ(number("published"), due) << out;
  EXPECT_EQ(number("skipped"), 0) << out;
  EXPECT_EQ(number("failed"), 0) << out;
  ASSERT_EQ(fields.count("now"), 1u) << out;
  absl::Time reported_now;
  std::string parse_error;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, fields.at("now").string_value(), &reported_now,
                              &parse_error))
      << parse_error << " in " << out;
  EXPECT_LT(absl::AbsDuration(reported_now - plan.now), absl::Seconds(1)) << out;
  ASSERT_EQ(fields.count("counts"), 1u) << out;
  const auto& counts = fields.at("counts").list_value().values();
  ASSERT_EQ(counts.size(), 1) << out;
  const auto& weekly = counts[0].struct_value().fields();
  ASSERT_EQ(weekly.count("kind"), 1u) << out;
  EXPECT_EQ(weekly.at("kind").string_value(), kWeeklyName);
  // What the job says it published is what reached the stream and the ledger.
  EXPECT_EQ(StreamLength(), due);
  EXPECT_EQ(ListAllReminders().size(), static_cast<size_t>(due));

  // Nobody listens on a free port: the job fails with 1.
  OKR_ASSERT_OK_AND_ASSIGN(const int closed_port, FreeLoopbackPort());
  OKR_ASSERT_OK_AND_ASSIGN(const ExitStatus failed_exit,
                           run_job(absl::StrCat("127.0.0.1:", closed_port), "job-closed"));
  const std::string closed_err = ReadFileToString(dir_.File("job-closed.err"));
  EXPECT_TRUE(failed_exit.exited()) << failed_exit.ToString();
  EXPECT_EQ(failed_exit.exit_code, 1) << failed_exit.ToString() << "\nstderr: " << closed_err;
  EXPECT_THAT(closed_err, HasSubstr(org_));
  EXPECT_EQ(ReadFileToString(dir_.File("job-closed.out")), "");
}

// Webhooks may reach only public addresses unless --webhook_allow_cidrs says
// otherwise: literals are refused at CreateWebhook, and a stored URL whose
// name resolves to loopback is refused at connect time, never contacted.
TEST_F(NotifyServiceTest, WebhookDestinationsOutsideTheAllowListAreNeverContacted) {
  ASSERT_NO_FATAL_FAILURE(SetUpOrganisation());
  const std::string pia = MakePerson("Pia Berg");
  MakeKr(MakeObjective("Make deploys boring", pia, quarter_.id()), "Deploy daily");
  ASSERT_FALSE(HasFailure());
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpReceiver> receiver, HttpReceiver::Start());

  // Created while loopback was allowed, under a name (not a literal): what a
  // DNS name that later resolves to an internal address looks like.
  const std::string by_name =
      absl::StrCat("http://localhost:", receiver->port(), "/by-name");
  v1::CreateWebhookRequest create;
  create.mutable_webhook()->set_url(by_name);
  v1::Webhook stored;
  ASSERT_GRPC_OK(Call(&NotifyStub::CreateWebhook, create, &stored));

  // The same store, the production default.
  OKR_ASSERT_OK(notify_->Stop().status());
  OKR_ASSERT_OK_AND_ASSIGN(notify_, StartNotify("notify-public-only.log",
                                                /*allow_loopback_webhooks=*/false));
  ConnectNotify();

  const std::string port = absl::StrCat(receiver->port());
  for (const std::string& url :
       {receiver->url("/literal"), by_name, absl::StrCat("http://LocalHost.:", port, "/"),
        absl::StrCat("http://[::1]:", port, "/"),
        absl::StrCat("http://[::ffff:127.0.0.1]:", port, "/"),
        absl::StrCat("http://2130706433:", port, "/"), absl::StrCat("http://127.1:", port, "/"),
        absl::StrCat("http://0x7f.0.0.1:", port, "/"), std::string("http://10.1.2.3/hook"),
        std::string("https://169.254.169.254/latest/meta-data/"),
        std::string("http://[fd00::1]/hook"), std::string("http://100.64.0.1/hook"),
        std::string("http://0.0.0.0:80/")}) {
    SCOPED_TRACE(url);
    v1::CreateWebhookRequest refused;
    refused.mutable_webhook()->set_url(url);
    v1::Webhook ignored;
    const grpc::Status status = Call(&NotifyStub::CreateWebhook, refused, &ignored);
    EXPECT_CODE(status, INVALID_ARGUMENT);
    const std::vector<FieldViolation> violations = FieldViolationsOf(ToAbslStatus(status));
    ASSERT_EQ(violations.size(), 1u) << status.error_message();
    EXPECT_EQ(violations[0].field, "webhook.url");
    EXPECT_THAT(violations[0].description, HasSubstr("--webhook_allow_cidrs"));
  }
  // A public literal is still fine (nothing is sent to it in this test).
  v1::CreateWebhookRequest public_one;
  public_one.mutable_webhook()->set_url("https://192.0.1.10/hook");
  public_one.mutable_webhook()->add_kinds(v1::REMINDER_KIND_MID_QUARTER_REVIEW);
  v1::Webhook public_webhook;
  ASSERT_GRPC_OK(Call(&NotifyStub::CreateWebhook, public_one, &public_webhook));
  v1::ListWebhooksResponse listed;
  ASSERT_GRPC_OK(Call(&NotifyStub::ListWebhooks, v1::ListWebhooksRequest(), &listed));
  EXPECT_EQ(listed.webhooks_size(), 2) << "only the two allowed webhooks exist";

  // A reminder for the stored webhook: its name resolves to loopback, which
  // the connect-time check refuses for good on the first attempt.
  ExpectCounts(CountsOf(Run(absl::Now(), {v1::REMINDER_KIND_WEEKLY_CHECK_IN}),
                        v1::REMINDER_KIND_WEEKLY_CHECK_IN),
               1, 1, 0, 0);
  ASSERT_FALSE(HasFailure());
  v1::ListDeliveriesRequest by_webhook;
  by_webhook.set_webhook_id(stored.id());
  std::vector<v1::Delivery> deliveries;
  for (absl::Time deadline = absl::Now() + absl::Seconds(20);
       deliveries.empty() && absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(50))) {
    deliveries = ListAllDeliveries(by_webhook);
  }
  ASSERT_EQ(deliveries.size(), 1u) << "one attempt, not retried";
  EXPECT_EQ(deliveries[0].status(), v1::DELIVERY_STATUS_FAILED) << deliveries[0].ShortDebugString();
  EXPECT_EQ(deliveries[0].attempt(), 1);
  EXPECT_EQ(deliveries[0].http_status(), 0);
  EXPECT_THAT(deliveries[0].error(), HasSubstr("loopback"));
  EXPECT_THAT(deliveries[0].error(), HasSubstr("--webhook_allow_cidrs"));
  // Give a wrongly scheduled retry time to arrive (backoff is 50 ms).
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(ListAllDeliveries(by_webhook).size(), 1u);
  EXPECT_EQ(receiver->request_count(), 0) << "the receiver was contacted";
  receiver->Stop();
}

// --- 9. Bad input ---------------------------------------------------------------------

TEST_F(NotifyServiceTest, BadInputOverGrpc) {
  ASSERT_NO_FATAL_FAILURE(Bootstrap());

  v1::CreateWebhookRequest ftp;
  ftp.mutable_webhook()->set_url("ftp://x");
  v1::Webhook webhook;
  const grpc::Status ftp_status = Call(&NotifyStub::CreateWebhook, ftp, &webhook);
  EXPECT_CODE(ftp_status, INVALID_ARGUMENT);
  EXPECT_TRUE(NamesField(ftp_status, "webhook.url"));

  v1::SetReminderPolicyRequest mars;
  mars.mutable_policy()->set_time_zone("Mars/Olympus");
  v1::ReminderPolicy policy;
  const grpc::Status mars_status = Call(&NotifyStub::SetReminderPolicy, mars, &policy);
  EXPECT_CODE(mars_status, INVALID_ARGUMENT);
  EXPECT_TRUE(NamesField(mars_status, "policy.time_zone"));
  // Refused when set: nothing was stored.
  v1::GetReminderPolicyRequest get;
  EXPECT_CODE(Call(&NotifyStub::GetReminderPolicy, get, &policy), NOT_FOUND);

  v1::RunDueRemindersRequest bad_kind;
  bad_kind.add_kinds(static_cast<v1::ReminderKind>(99));
  v1::RunDueRemindersResponse run;
  const grpc::Status kind_status = Call(&NotifyStub::RunDueReminders, bad_kind, &run);
  EXPECT_CODE(kind_status, INVALID_ARGUMENT);
  EXPECT_TRUE(NamesField(kind_status, "kinds[0]"));

  v1::ListWebhooksResponse webhooks;
  EXPECT_CODE(CallStub(notify_stub_.get(), &NotifyStub::ListWebhooks, v1::ListWebhooksRequest(),
                       &webhooks, ""),
              UNAUTHENTICATED);
  v1::RunDueRemindersRequest fine;
  EXPECT_CODE(CallStub(notify_stub_.get(), &NotifyStub::RunDueReminders, fine, &run, ""),
              UNAUTHENTICATED);
}

// --- 10. Redis down -------------------------------------------------------------------

TEST_F(NotifyServiceTest, RemindersClaimedWhileRedisIsDownArePublishedByTheNextRun) {
  WeeklyPlan plan;
  ASSERT_NO_FATAL_FAILURE(BuildWeeklyPlan(&plan));
  const int due = plan.due_reminders();
  raw_.reset();
  OKR_ASSERT_OK(redis_->Stop());

  const v1::RunDueRemindersResponse down = Run(plan.now, {v1::REMINDER_KIND_WEEKLY_CHECK_IN});
  ASSERT_FALSE(HasFailure());
  const v1::ReminderKindCounts down_counts = CountsOf(down, v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  EXPECT_EQ(down_counts.found(), due);
  EXPECT_GT(down_counts.failed(), 0);
  EXPECT_EQ(down_counts.failed(), due);  // none can reach a stopped Redis
  EXPECT_EQ(down_counts.published(), 0);
  const std::vector<v1::Reminder> claimed = ListAllReminders();
  EXPECT_EQ(claimed.size(), static_cast<size_t>(due));
  std::set<std::string> claimed_ids;
  for (const v1::Reminder& reminder : claimed) claimed_ids.insert(reminder.id());
  v1::ListDeliveriesRequest retrying;
  retrying.set_channel(v1::DELIVERY_CHANNEL_REDIS_STREAM);
  retrying.set_status(v1::DELIVERY_STATUS_RETRYING);
  EXPECT_FALSE(ListAllDeliveries(retrying).empty());

  OKR_ASSERT_OK(redis_->Restart());
  OKR_ASSERT_OK_AND_ASSIGN(raw_, RawRedis::Connect(redis_->port()));
  // okr-notify's Redis client fails fast for --redis's reconnect backoff (1 s)
  // after a failed connect; a CronJob's next run comes much later.
  absl::SleepFor(absl::Milliseconds(1500));
  const v1::RunDueRemindersResponse up = Run(plan.now, {v1::REMINDER_KIND_WEEKLY_CHECK_IN});
  ExpectCounts(CountsOf(up, v1::REMINDER_KIND_WEEKLY_CHECK_IN), due, down_counts.failed(), due, 0);
  const std::vector<StreamEntry> stream = WholeStream();
  EXPECT_EQ(stream.size(), static_cast<size_t>(due));
  EXPECT_EQ(ReminderIdsOf(stream), claimed_ids);  // the same reminders, not new ones
  for (const StreamEntry& entry : stream) ExpectWeeklyReminder(EntryReminder(entry), plan);
  EXPECT_EQ(ListAllReminders().size(), static_cast<size_t>(due));
}

// --- 11. SIGTERM --------------------------------------------------------------------

TEST_F(NotifyServiceTest, SigtermEndsAnOpenWatchWithUnavailableAndExitsZero) {
  auto watch_channel = grpc::CreateChannel(notify_->address(), grpc::InsecureChannelCredentials());
  auto watch = std::make_unique<WatchCollector>(watch_channel, org_, v1::WatchRemindersRequest());
  watch->Open();
  // Channels go as soon as their calls end: an idle client reads the
  // server's GOAWAY only when gRPC's backup poller runs (every 5 s), and the
  // server's drain waits for it.
  notify_stub_.reset();
  notify_channel_.reset();

  const absl::Time start = absl::Now();
  OKR_ASSERT_OK(notify_->process().Kill(SIGTERM));
  const std::optional<grpc::Status> ended = watch->WaitForEnd(absl::Seconds(5));
  ASSERT_TRUE(ended.has_value()) << "the watch is still open 5 s after SIGTERM";
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAVAILABLE) << ended->error_message();
  EXPECT_TRUE(watch->received().empty());
  watch.reset();
  watch_channel.reset();

  OKR_ASSERT_OK_AND_ASSIGN(const ExitStatus exit, notify_->process().Wait(absl::Seconds(15)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(exit.success()) << exit.ToString();
  EXPECT_LT(took, absl::Seconds(5)) << "from SIGTERM to exit";
}

}  // namespace
}  // namespace okr
