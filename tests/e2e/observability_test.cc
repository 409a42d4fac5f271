// Observability end to end: the real okr-planning, okr-tracking and
// okr-notify binaries (--auth=false, SQLite stores, a real redis-server),
// each with --metrics_listen=127.0.0.1:0, and okr-reminder-job.
//
// What it pins down (issue 6, "Observability"):
//  1. /metrics of every service shows the RPC counter and latency histogram
//     moving for the methods called, store latencies, rollup cache hits and
//     misses, and after okr-reminder-job the reminder counters;
//  2. with Redis stopped tracking still answers scores and the cache's
//     fallback counter grows;
//  3. a check-in sent to tracking with x-request-id "test-req-123" makes
//     tracking's log and planning's log (tracking catches up on planning's
//     change feed before a write) carry that id;
//  4. every line each service writes is a JSON object;
//  5. health goes NOT_SERVING while the SQLite file is gone (its directory
//     moved away) and SERVING again once it is back.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/health_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/notify.grpc.pb.h"
#include "okr/v1/planning.grpc.pb.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::testing::HasSubstr;
using PlanStub = v1::PlanningService::Stub;
using TrackStub = v1::TrackingService::Stub;

constexpr absl::Duration kCallTimeout = absl::Seconds(20);
constexpr absl::string_view kOrg = "obs-org";
constexpr absl::string_view kZone = "UTC";
constexpr absl::string_view kRequestId = "test-req-123";

#define ASSERT_GRPC_OK(status)                                                         \
  do {                                                                                 \
    const grpc::Status okr_s_ = (status);                                              \
    ASSERT_TRUE(okr_s_.ok()) << okr_s_.error_code() << ": " << okr_s_.error_message(); \
  } while (false)

// --- /metrics, read the way Prometheus would ------------------------------------

// The port a service's "metrics serving" log line names.
absl::StatusOr<int> MetricsPort(const ServiceProcess& process) {
  static const std::regex kPort("\"metrics_port\":([0-9]+)");
  for (absl::string_view line : absl::StrSplit(process.log(), '\n')) {
    if (!absl::StrContains(line, "\"msg\":\"metrics serving\"")) continue;
    std::cmatch match;
    if (std::regex_search(line.begin(), line.end(), match, kPort)) {
      int port = 0;
      if (absl::SimpleAtoi(match[1].str(), &port)) return port;
    }
  }
  return absl::NotFoundError(absl::StrCat("no \"metrics serving\" line in\n", process.LogTail()));
}

// One scrape: sample lines by series (name plus labels as written).
using Scrape = std::map<std::string, double, std::less<>>;

absl::StatusOr<Scrape> ScrapeMetrics(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  httplib::Result response = client.Get("/metrics");
  if (!response) {
    return absl::UnavailableError(absl::StrCat("GET /metrics on port ", port, ": ",
                                               httplib::to_string(response.error())));
  }
  if (response->status != 200) {
    return absl::InternalError(absl::StrCat("GET /metrics: HTTP ", response->status));
  }
  Scrape scrape;
  for (absl::string_view line : absl::StrSplit(response->body, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    if (space == absl::string_view::npos) {
      return absl::InternalError(absl::StrCat("malformed sample line: ", line));
    }
    const absl::string_view text = line.substr(space + 1);
    if (text == "+Inf") {
      value = std::numeric_limits<double>::infinity();
    } else if (!absl::SimpleAtod(text, &value)) {
      return absl::InternalError(absl::StrCat("malformed value in: ", line));
    }
    scrape[std::string(line.substr(0, space))] = value;
  }
  return scrape;
}

double Value(const Scrape& scrape, absl::string_view series) {
  auto it = scrape.find(series);
  return it == scrape.end() ? 0 : it->second;
}

std::string Rpc(absl::string_view service, absl::string_view method, absl::string_view code) {
  return absl::StrCat("okr_rpc_requests_total{service=\"", service, "\",method=\"", method,
                      "\",code=\"", code, "\"}");
}

std::string RpcCount(absl::string_view service, absl::string_view method,
                     absl::string_view code) {
  return absl::StrCat("okr_rpc_duration_seconds_count{service=\"", service, "\",method=\"",
                      method, "\",code=\"", code, "\"}");
}

std::string StoreCount(absl::string_view service, absl::string_view operation) {
  return absl::StrCat("okr_store_duration_seconds_count{service=\"", service,
                      "\",operation=\"", operation, "\"}");
}

std::string Cache(absl::string_view result) {
  return absl::StrCat("okr_cache_requests_total{result=\"", result, "\"}");
}

// --- the fixture -------------------------------------------------------------------

class ObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Each store in its own directory, so that a test can move it away.
    for (absl::string_view name : {"planning", "tracking", "notify"}) {
      ASSERT_EQ(::mkdir(dir_.File(name).c_str(), 0755), 0) << name;
    }
    OKR_ASSERT_OK_AND_ASSIGN(redis_, RedisServer::Start());
    OKR_ASSERT_OK_AND_ASSIGN(
        planning_, ServiceProcess::Start({.binary = "okr-planning",
                                          .args = {"--auth=false",
                                                   "--metrics_listen=127.0.0.1:0",
                                                   absl::StrCat("--store=sqlite:",
                                                                dir_.File("planning/plan.db"))},
                                          .log_path = dir_.File("planning.log")}));
    OKR_ASSERT_OK_AND_ASSIGN(
        tracking_,
        ServiceProcess::Start(
            {.binary = "okr-tracking",
             .args = {"--auth=false", "--metrics_listen=127.0.0.1:0",
                      absl::StrCat("--store=sqlite:", dir_.File("tracking/tracking.db")),
                      absl::StrCat("--redis=127.0.0.1:", redis_->port()),
                      absl::StrCat("--planning_addr=", planning_->address())},
             .log_path = dir_.File("tracking.log")}));
    OKR_ASSERT_OK_AND_ASSIGN(
        notify_,
        ServiceProcess::Start(
            {.binary = "okr-notify",
             .args = {"--auth=false", "--metrics_listen=127.0.0.1:0",
                      absl::StrCat("--store=sqlite:", dir_.File("notify/notify.db")),
                      absl::StrCat("--redis=127.0.0.1:", redis_->port()),
                      absl::StrCat("--planning_addr=", planning_->address()),
                      absl::StrCat("--tracking_addr=", tracking_->address())},
             .log_path = dir_.File("notify.log")}));
    OKR_ASSERT_OK_AND_ASSIGN(planning_metrics_, MetricsPort(*planning_));
    OKR_ASSERT_OK_AND_ASSIGN(tracking_metrics_, MetricsPort(*tracking_));
    OKR_ASSERT_OK_AND_ASSIGN(notify_metrics_, MetricsPort(*notify_));
    plan_stub_ = v1::PlanningService::NewStub(
        grpc::CreateChannel(planning_->address(), grpc::InsecureChannelCredentials()));
    tracking_stub_ = v1::TrackingService::NewStub(
        grpc::CreateChannel(tracking_->address(), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto& [name, process] : {std::pair{"okr-planning", planning_.get()},
                                          std::pair{"okr-tracking", tracking_.get()},
                                          std::pair{"okr-notify", notify_.get()}}) {
        if (process != nullptr) {
          std::cerr << "--- " << name << " log (tail) ---\n" << process->LogTail() << "\n";
        }
      }
    }
  }

  template <typename Stub, typename Request, typename Response>
  static grpc::Status CallStub(Stub* stub,
                               grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                            Response*),
                               const std::type_identity_t<Request>& request, Response* response,
                               absl::string_view org, absl::string_view request_id = "") {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    if (!org.empty()) context.AddMetadata("okr-organisation-id", std::string(org));
    if (!request_id.empty()) context.AddMetadata("x-request-id", std::string(request_id));
    return (stub->*method)(&context, request, response);
  }

  // An organisation with the quarter of today ACTIVE, one person, one
  // published objective and two key results (kr_ and idle_kr_, the latter
  // never checked in, so a weekly reminder is due for it).
  void BuildPlan() {
    v1::BootstrapOrganisationRequest boot;
    boot.set_organisation_id(std::string(kOrg));
    boot.mutable_organisation()->set_name("Observed");
    boot.mutable_organisation()->set_time_zone(std::string(kZone));
    boot.mutable_organisation()->set_fiscal_year_start_month(1);
    boot.mutable_organisation()->set_planning_profile(v1::PLANNING_PROFILE_SMALL);
    v1::Organisation organisation;
    ASSERT_GRPC_OK(
        CallStub(plan_stub_.get(), &PlanStub::BootstrapOrganisation, boot, &organisation, ""));

    const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
    v1::CreateFiscalYearRequest year_request;
    year_request.set_fiscal_year(static_cast<int>(today.year()));
    v1::CreateFiscalYearResponse year;
    ASSERT_GRPC_OK(CallStub(plan_stub_.get(), &PlanStub::CreateFiscalYear, year_request, &year,
                            kOrg));
    std::optional<v1::Cycle> quarter;
    for (const v1::Cycle& q : year.quarters()) {
      const absl::CivilDay start(q.start_date().year(), q.start_date().month(),
                                 q.start_date().day());
      const absl::CivilDay end(q.end_date().year(), q.end_date().month(), q.end_date().day());
      if (start <= today && today < end) quarter = q;
    }
    ASSERT_TRUE(quarter.has_value()) << "no quarter contains " << today;
    for (const v1::Cycle* cycle : {&year.year(), static_cast<const v1::Cycle*>(&*quarter)}) {
      v1::UpdateCycleStateRequest activate;
      activate.set_id(cycle->id());
      activate.set_state(v1::CYCLE_STATE_ACTIVE);
      activate.set_version(cycle->version());
      v1::Cycle updated;
      ASSERT_GRPC_OK(
          CallStub(plan_stub_.get(), &PlanStub::UpdateCycleState, activate, &updated, kOrg));
    }

    v1::CreatePersonRequest person_request;
    person_request.mutable_person()->set_display_name("Ana Lima");
    person_request.mutable_person()->set_email("ana.lima@observed.example");
    v1::Person person;
    ASSERT_GRPC_OK(
        CallStub(plan_stub_.get(), &PlanStub::CreatePerson, person_request, &person, kOrg));
    person_ = person.id();

    v1::CreateObjectiveRequest objective_request;
    v1::Objective* objective = objective_request.mutable_objective();
    objective->set_title("Make the service observable");
    objective->set_level(v1::LEVEL_INDIVIDUAL);
    objective->set_owner_id(person_);
    objective->set_cycle_id(quarter->id());
    objective->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
    objective->set_state(v1::OBJECTIVE_STATE_PUBLISHED);
    objective->set_progress_source(v1::PROGRESS_SOURCE_KEY_RESULTS);
    v1::Objective created;
    ASSERT_GRPC_OK(CallStub(plan_stub_.get(), &PlanStub::CreateObjective, objective_request,
                            &created, kOrg));
    objective_ = created.id();

    for (std::string* kr : {&kr_, &idle_kr_}) {
      v1::CreateKeyResultRequest kr_request;
      v1::KeyResult* key_result = kr_request.mutable_key_result();
      key_result->set_objective_id(objective_);
      key_result->set_title(kr == &kr_ ? "Dashboards in use" : "Alerts written");
      key_result->set_owner_id(person_);
      key_result->set_type(v1::KEY_RESULT_TYPE_METRIC);
      key_result->set_measure(v1::MEASURE_KPI);
      key_result->set_start_value(0);
      key_result->set_target_value(100);
      key_result->set_data_source(v1::DATA_SOURCE_MANUAL);
      v1::KeyResult made;
      ASSERT_GRPC_OK(
          CallStub(plan_stub_.get(), &PlanStub::CreateKeyResult, kr_request, &made, kOrg));
      *kr = made.id();
    }
  }

  grpc::Status CheckIn(double value, absl::string_view request_id) {
    v1::RecordCheckInRequest request;
    request.set_key_result_id(kr_);
    request.set_value(value);
    request.set_client_key(absl::StrCat("ck-", value));
    request.set_author_id(person_);
    request.set_confidence(7);
    v1::RecordCheckInResponse response;
    return CallStub(tracking_stub_.get(), &TrackStub::RecordCheckIn, request, &response, kOrg,
                    request_id);
  }

  grpc::Status ReadObjectiveScore() {
    v1::GetObjectiveScoreRequest request;
    request.set_objective_id(objective_);
    request.set_include_key_results(true);
    v1::ObjectiveScore score;
    return CallStub(tracking_stub_.get(), &TrackStub::GetObjectiveScore, request, &score, kOrg);
  }

  // Every line of `process`'s output (stdout and stderr) parses as a JSON
  // object.
  void ExpectOnlyJsonLines(const ServiceProcess& process, absl::string_view name) {
    int lines = 0;
    for (absl::string_view line : absl::StrSplit(process.log(), '\n', absl::SkipEmpty())) {
      ++lines;
      google::protobuf::Struct parsed;
      const auto status = google::protobuf::util::JsonStringToMessage(std::string(line), &parsed);
      EXPECT_TRUE(status.ok()) << name << ": not a JSON object: " << line;
    }
    EXPECT_GT(lines, 3) << name;
  }

  TempDir dir_{"okr-observability"};
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<ServiceProcess> planning_;
  std::unique_ptr<ServiceProcess> tracking_;
  std::unique_ptr<ServiceProcess> notify_;
  int planning_metrics_ = 0;
  int tracking_metrics_ = 0;
  int notify_metrics_ = 0;
  std::unique_ptr<PlanStub> plan_stub_;
  std::unique_ptr<TrackStub> tracking_stub_;
  std::string person_;
  std::string objective_;
  std::string kr_;
  std::string idle_kr_;
};

TEST_F(ObservabilityTest, MetricsMoveRequestIdsCrossServicesAndLogsAreJson) {
  ASSERT_NO_FATAL_FAILURE(BuildPlan());

  // 3. The check-in is tracking's first contact with the organisation, and
  //    every write catches up on planning's feed first: tracking calls
  //    planning while it runs, with the same request id.
  ASSERT_GRPC_OK(CheckIn(40, kRequestId));

  OKR_ASSERT_OK_AND_ASSIGN(const Scrape tracking_before, ScrapeMetrics(tracking_metrics_));
  ASSERT_GRPC_OK(ReadObjectiveScore());
  ASSERT_GRPC_OK(ReadObjectiveScore());
  OKR_ASSERT_OK_AND_ASSIGN(const Scrape tracking_after, ScrapeMetrics(tracking_metrics_));

  // 1. RPC counter and histogram, by method and code.
  const std::string get_score = "/okr.v1.TrackingService/GetObjectiveScore";
  EXPECT_EQ(Value(tracking_after, Rpc("tracking", get_score, "OK")) -
                Value(tracking_before, Rpc("tracking", get_score, "OK")),
            2);
  EXPECT_EQ(Value(tracking_after, RpcCount("tracking", get_score, "OK")) -
                Value(tracking_before, RpcCount("tracking", get_score, "OK")),
            2);
  EXPECT_EQ(Value(tracking_after,
                  Rpc("tracking", "/okr.v1.TrackingService/RecordCheckIn", "OK")),
            1);
  EXPECT_EQ(Value(tracking_after,
                  absl::StrCat("okr_rpc_duration_seconds_bucket{service=\"tracking\",method=\"",
                               get_score, "\",code=\"OK\",le=\"+Inf\"}")),
            Value(tracking_after, RpcCount("tracking", get_score, "OK")));
  EXPECT_EQ(Value(tracking_after,
                  absl::StrCat("okr_rpc_in_flight{service=\"tracking\",method=\"", get_score,
                               "\"}")),
            0);
  // Store latencies, whatever the backend.
  EXPECT_GE(Value(tracking_after, StoreCount("tracking", "AppendCheckIn")), 1);
  EXPECT_GE(Value(tracking_after, StoreCount("tracking", "LoadOrganisation")), 1);
  // The cache: the check-in wrote the scores, so the reads hit; the
  // maintenance probe's key never exists, so there are misses too.
  EXPECT_GT(Value(tracking_after, Cache("hit")), Value(tracking_before, Cache("hit")));
  EXPECT_GE(Value(tracking_after, Cache("miss")), 1);
  EXPECT_EQ(Value(tracking_after, Cache("fallback")), 0);

  OKR_ASSERT_OK_AND_ASSIGN(const Scrape planning, ScrapeMetrics(planning_metrics_));
  EXPECT_EQ(Value(planning, Rpc("planning", "/okr.v1.PlanningService/CreateKeyResult", "OK")), 2);
  EXPECT_GE(Value(planning, Rpc("planning", "/okr.v1.PlanningService/ListPlanChanges", "OK")), 1);
  EXPECT_GE(Value(planning, StoreCount("planning", "Commit")), 6);  // every write above
  EXPECT_GT(Value(planning, "process_resident_memory_bytes"), 0);
  EXPECT_GT(Value(planning, "process_open_fds"), 0);

  // 1. Reminders: okr-reminder-job asks notify to run the weekly kind; the
  //    idle key result's owner is due.
  OKR_ASSERT_OK_AND_ASSIGN(const std::string job, OkrBinary("okr-reminder-job"));
  SubprocessOptions options;
  options.program = job;
  options.args = {absl::StrCat("--notify_addr=", notify_->address()),
                  absl::StrCat("--organisations=", kOrg), "--kinds=weekly", "--retries=1"};
  options.stdout_path = dir_.File("job.out");
  options.stderr_path = dir_.File("job.err");
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subprocess> process,
                           Subprocess::Start(std::move(options)));
  OKR_ASSERT_OK_AND_ASSIGN(const ExitStatus exit, process->Wait(absl::Seconds(60)));
  ASSERT_TRUE(exit.success()) << exit.ToString() << "\n" << ReadFileToString(dir_.File("job.out"))
                              << ReadFileToString(dir_.File("job.err"));
  OKR_ASSERT_OK_AND_ASSIGN(const Scrape notify, ScrapeMetrics(notify_metrics_));
  EXPECT_EQ(Value(notify, "okr_reminders_found_total{kind=\"weekly_check_in\"}"), 1);
  EXPECT_EQ(Value(notify, "okr_reminders_published_total{kind=\"weekly_check_in\"}"), 1);
  EXPECT_EQ(Value(notify, "okr_reminders_failed_total{kind=\"weekly_check_in\"}"), 0);
  EXPECT_TRUE(notify.contains("okr_reminders_failed_total{kind=\"weekly_check_in\"}"));
  EXPECT_EQ(Value(notify, Rpc("notify", "/okr.v1.NotifyService/RunDueReminders", "OK")), 1);
  EXPECT_GE(Value(notify, StoreCount("notify", "ClaimReminders")), 1);

  // 2. Redis down: scores still come back, from memory, counted as fallbacks.
  ASSERT_TRUE(redis_->Stop().ok());
  OKR_ASSERT_OK_AND_ASSIGN(const Scrape before_outage, ScrapeMetrics(tracking_metrics_));
  for (int i = 0; i < 3; ++i) ASSERT_GRPC_OK(ReadObjectiveScore());
  OKR_ASSERT_OK_AND_ASSIGN(const Scrape during_outage, ScrapeMetrics(tracking_metrics_));
  EXPECT_GE(Value(during_outage, Cache("fallback")) - Value(before_outage, Cache("fallback")), 3);
  EXPECT_GT(Value(during_outage, "okr_cache_errors_total{operation=\"get\"}"), 0);
  EXPECT_EQ(*CheckHealth(tracking_->address(), "", absl::Seconds(5)), ServingStatus::kServing);

  // 3. The request id in both services' logs: tracking's access line, and
  //    planning's access line of the call tracking made for it.
  const auto lines_with_id = [](const ServiceProcess& process) {
    std::vector<std::string> lines;
    for (absl::string_view line : absl::StrSplit(process.log(), '\n')) {
      if (absl::StrContains(line, absl::StrCat("\"request_id\":\"", kRequestId, "\""))) {
        lines.emplace_back(line);
      }
    }
    return lines;
  };
  // Access lines are flushed within 100 ms (LogInfoDeferred), not at once.
  const auto wait_for_lines = [&](const ServiceProcess& process) {
    std::vector<std::string> lines = lines_with_id(process);
    for (int i = 0; i < 40 && lines.empty(); ++i) {
      absl::SleepFor(absl::Milliseconds(50));
      lines = lines_with_id(process);
    }
    return lines;
  };
  const std::vector<std::string> tracking_lines = wait_for_lines(*tracking_);
  ASSERT_FALSE(tracking_lines.empty()) << tracking_->LogTail();
  EXPECT_TRUE(std::any_of(tracking_lines.begin(), tracking_lines.end(), [](const std::string& l) {
    return absl::StrContains(l, "/okr.v1.TrackingService/RecordCheckIn");
  })) << tracking_lines[0];
  const std::vector<std::string> planning_lines = wait_for_lines(*planning_);
  ASSERT_FALSE(planning_lines.empty()) << planning_->LogTail();
  EXPECT_TRUE(std::any_of(planning_lines.begin(), planning_lines.end(), [](const std::string& l) {
    return absl::StrContains(l, "/okr.v1.PlanningService/ListPlanChanges");
  })) << planning_lines[0];

  // 4. Nothing but JSON, from any of them.
  ExpectOnlyJsonLines(*planning_, "okr-planning");
  ExpectOnlyJsonLines(*tracking_, "okr-tracking");
  ExpectOnlyJsonLines(*notify_, "okr-notify");
}

absl::Status WaitForHealth(const std::string& address, ServingStatus want,
                           absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<ServingStatus> seen = absl::UnknownError("not asked yet");
  while (absl::Now() < deadline) {
    seen = CheckHealth(address, "", absl::Seconds(2));
    if (seen.ok() && *seen == want) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("wanted ", Name(want), " within ", absl::FormatDuration(timeout), "; last saw ",
                   seen.ok() ? std::string(Name(*seen)) : seen.status().ToString()));
}

TEST_F(ObservabilityTest, HealthIsNotServingWhileTheStoreIsGone) {
  ASSERT_TRUE(WaitForHealth(planning_->address(), ServingStatus::kServing, absl::Seconds(5)).ok());
  // The open connections keep working on the moved file, but the file is no
  // longer where a restart would look: CheckHealth fails.
  const std::string home = dir_.File("planning");
  const std::string away = dir_.File("planning-away");
  ASSERT_EQ(std::rename(home.c_str(), away.c_str()), 0);
  absl::Status down = WaitForHealth(planning_->address(), ServingStatus::kNotServing,
                                    absl::Seconds(10));
  ASSERT_EQ(std::rename(away.c_str(), home.c_str()), 0);
  EXPECT_TRUE(down.ok()) << down;
  absl::Status up = WaitForHealth(planning_->address(), ServingStatus::kServing, absl::Seconds(10));
  EXPECT_TRUE(up.ok()) << up;

  EXPECT_THAT(planning_->log(), HasSubstr("health: store unreachable; NOT_SERVING"));
  EXPECT_THAT(planning_->log(), HasSubstr("health: store reachable again; SERVING"));
  OKR_ASSERT_OK_AND_ASSIGN(const Scrape planning, ScrapeMetrics(planning_metrics_));
  EXPECT_GE(Value(planning, "okr_store_errors_total{service=\"planning\",operation=\"CheckHealth\","
                            "code=\"UNAVAILABLE\"}"),
            1);
  // The other services were not touched.
  EXPECT_EQ(*CheckHealth(tracking_->address(), "", absl::Seconds(5)), ServingStatus::kServing);
}

}  // namespace
}  // namespace okr
