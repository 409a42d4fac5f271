// The environment every fault test runs in: the real okr-planning,
// okr-tracking and okr-notify binaries (SQLite data in a temp dir, --auth=false,
// 127.0.0.1 only), a real redis-server, gRPC stubs that survive restarts (a
// restarted service binds the same port), and the plan most tests need: one
// organisation, the ACTIVE quarter containing today, a company objective and
// one aligned objective with two key results per person.
//
// It also knows how to tell what the services hold against what the test was
// told: every objective, key result and check-in read back, and the scores
// the model library (ScoreGraph) computes from them, so a test compares a
// service's answers with a recomputation instead of with hard-coded numbers.
#ifndef OKR_TESTS_FAULT_FAULT_ENV_H_
#define OKR_TESTS_FAULT_FAULT_ENV_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "okr/v1/notify.grpc.pb.h"
#include "okr/v1/planning.grpc.pb.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr::fault {

using NotifyStub = v1::NotifyService::Stub;
using PlanStub = v1::PlanningService::Stub;
using TrackStub = v1::TrackingService::Stub;

inline constexpr absl::string_view kOrg = "acme";
inline constexpr absl::string_view kZone = "America/New_York";
inline constexpr absl::Duration kCallTimeout = absl::Seconds(10);
inline constexpr double kTolerance = 1e-9;

#define FAULT_ASSERT_GRPC_OK(status)                                                    \
  do {                                                                                  \
    const ::grpc::Status okr_s_ = (status);                                             \
    ASSERT_TRUE(okr_s_.ok()) << okr_s_.error_code() << ": " << okr_s_.error_message(); \
  } while (false)

// One unary call with a deadline and the organisation in the metadata
// (honoured with --auth=false).
template <typename Stub, typename Request, typename Response>
grpc::Status Call(Stub* stub,
                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                  const std::type_identity_t<Request>& request, Response* response,
                  absl::Duration timeout = kCallTimeout, absl::string_view org = kOrg) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!org.empty()) context.AddMetadata("okr-organisation-id", std::string(org));
  return (stub->*method)(&context, request, response);
}

// Codes a client retries after a crash or restart: the call may or may not
// have been carried out.
inline bool Retryable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         status.error_code() == grpc::StatusCode::CANCELLED;
}

// Calls `call` (which returns grpc::Status) until it succeeds, fails with a
// code that is not Retryable, or `budget` has passed, pausing 50 ms between
// attempts; returns the last status. This is how a client retries a write
// with the same request id / client key.
template <typename F>
grpc::Status RetryUntilOk(F call, absl::Duration budget = absl::Seconds(40)) {
  const absl::Time deadline = absl::Now() + budget;
  for (;;) {
    grpc::Status status = call();
    if (status.ok() || !Retryable(status) || absl::Now() >= deadline) return status;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

// A key result the plan created.
struct PlanKr {
  std::string id;
  std::string owner_id;
  double from = 0;
  double to = 0;
};

// What tracking serves for the quarter, or what the model library computes.
struct Scores {
  std::map<std::string, double> objectives;         // objective id -> score
  std::map<std::string, double> key_results;        // key result id -> progress
  std::map<std::string, int64_t> check_in_counts;   // key result id -> count
};

// The "id" field of every entry of kOrg's reminder stream, in stream order.
std::vector<std::string> StreamReminderIds(int redis_port);
// Every reminder in notify's ledger.
std::vector<v1::Reminder> AllReminders(NotifyStub* stub);
// The weekly kind's counts of a run (all zero when absent).
v1::ReminderKindCounts WeeklyCounts(const v1::RunDueRemindersResponse& response);
// RunDueReminders for the weekly kind as of `now`.
grpc::Status RunWeekly(NotifyStub* stub, absl::Time now, v1::RunDueRemindersResponse* response,
                       absl::Duration timeout = kCallTimeout);

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Prints the tail of every service's log when the test failed.
  void TearDown() override;

  // --- Processes (each binds 127.0.0.1:0; Restart() keeps the port) -----------

  // A redis-server; `persistent` turns on the append-only file (fsync on every
  // write), so a stopped and restarted server still has its streams.
  void StartRedis(bool persistent = false);
  // The services on SQLite files in dir_ ("plan.db", "tracking.db",
  // "notify.db"); `extra` is appended to the common flags.
  void StartPlanning(std::vector<std::string> extra = {});
  void StartTracking(std::vector<std::string> extra = {});
  void StartNotify(std::vector<std::string> extra = {});
  std::vector<std::string> PlanningArgs() const;
  std::vector<std::string> TrackingArgs() const;
  std::vector<std::string> NotifyArgs() const;

  // --- The plan -------------------------------------------------------------------

  // Bootstraps kOrg (calendar fiscal year, kZone), creates and activates the
  // fiscal year and the quarter containing today, then `people` people, each
  // owning an objective aligned to one company objective, with two metric key
  // results (0 -> 100 and 50 -> 10).
  void BuildPlan(int people);
  // Creates one objective of the quarter (PUBLISHED, KEY_RESULTS), or fails
  // the test.
  v1::Objective MakeObjective(absl::string_view title, absl::string_view owner);
  void MakeKr(absl::string_view objective, absl::string_view owner, double from, double to);

  // The n-th check-in of a test, keyed `client_key`: on a key result picked
  // by n, a value and a distinct time (inside the quarter) that are
  // functions of n, so a retry sends the same content.
  v1::RecordCheckInRequest CheckInNumber(int n, absl::string_view client_key) const;

  // --- Reading back ----------------------------------------------------------------

  std::vector<v1::Objective> AllObjectives();
  std::vector<v1::KeyResult> AllKeyResults();
  std::vector<v1::CheckIn> AllCheckIns(absl::string_view kr);
  // Every check-in of every key result of krs_, by client key (fails the test
  // on a client key stored twice).
  std::map<std::string, v1::CheckIn> StoredCheckIns();
  // The scores ScoreGraph computes from the plan read back from planning and
  // the check-ins read back from tracking.
  Scores Recompute();
  // The scored tree of the quarter and GetObjectiveScore of every objective,
  // as tracking serves them (the two must agree).
  Scores ReadScores();
  // Polls until tracking serves `want` (or 15 s pass), then compares.
  void ExpectServes(const Scores& want);

  // Up to `max` instants a week apart, from now back, whose weekly windows
  // lie inside the quarter: each is a distinct weekly window in which every
  // person (whose key results were never checked in) is due a reminder.
  std::vector<absl::Time> WeeklyWindows(int max) const;

  absl::CivilDay DayOf(const v1::Date& date) const {
    return absl::CivilDay(date.year(), date.month(), date.day());
  }

  TempDir dir_{"okr-fault"};
  absl::TimeZone tz_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<ServiceProcess> planning_;
  std::unique_ptr<ServiceProcess> tracking_;
  std::unique_ptr<ServiceProcess> notify_;
  std::unique_ptr<PlanStub> plan_;
  std::unique_ptr<TrackStub> track_;
  std::unique_ptr<NotifyStub> notify_stub_;

  v1::Cycle quarter_;
  std::string company_objective_;
  std::vector<std::string> people_;
  std::vector<std::string> objective_ids_;
  std::vector<PlanKr> krs_;
};

}  // namespace okr::fault

#endif  // OKR_TESTS_FAULT_FAULT_ENV_H_
