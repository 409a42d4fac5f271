// Two okr-notify replicas on one PostgreSQL database and one Redis behave as
// one notify service: the real okr-planning and okr-tracking (SQLite), two
// okr-notify with the same --store=postgresql://... and --redis, a real HTTP
// receiver as the webhook, and a PostgreSQL server the test starts
// (tests/support/postgres_server.h). Every binary runs with --auth=false.
//
// Due reminders are run from everywhere at once: okr-reminder-job against
// each replica, and RunDueReminders from threads on both. Whatever the
// interleaving, each due reminder is claimed once in the shared ledger,
// appears once in the Redis stream, and reaches the webhook receiver once
// (the outbox leases of the two dispatchers are disjoint); a rerun for the
// same window publishes nothing.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <barrier>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/redis.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/notify.grpc.pb.h"
#include "okr/v1/planning.grpc.pb.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "tests/support/http_receiver.h"
#include "tests/support/postgres_server.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using NotifyStub = v1::NotifyService::Stub;
using PlanStub = v1::PlanningService::Stub;
using TrackStub = v1::TrackingService::Stub;

constexpr absl::Duration kCallTimeout = absl::Seconds(30);
constexpr absl::string_view kOrg = "acme";
constexpr absl::string_view kZone = "America/New_York";
constexpr absl::string_view kHookPath = "/okr-reminders";
// People with a key result never checked in: each is due one weekly reminder.
constexpr int kDuePeople = 8;

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  const int64_t seconds = absl::ToUnixSeconds(time);
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return timestamp;
}

std::optional<google::protobuf::Struct> ParseJson(absl::string_view json) {
  google::protobuf::Struct value;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &value).ok()) {
    return std::nullopt;
  }
  return value;
}

// What one caller of RunDueReminders (or okr-reminder-job) reported for the
// weekly kind.
struct Counts {
  int found = 0;
  int published = 0;
  int skipped = 0;
  int failed = 0;
};

class NotifyReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(absl::LoadTimeZone(std::string(kZone), &tz_));
    OKR_ASSERT_OK_AND_ASSIGN(okr::testing::PostgresServer * postgres,
                             okr::testing::SharedPostgresServer());
    OKR_ASSERT_OK_AND_ASSIGN(store_url_, postgres->CreateUniqueDatabase("notify_replicas"));
    OKR_ASSERT_OK_AND_ASSIGN(redis_, RedisServer::Start());
    OKR_ASSERT_OK_AND_ASSIGN(
        planning_,
        ServiceProcess::Start({.binary = "okr-planning",
                               .args = {"--auth=false",
                                        absl::StrCat("--store=sqlite:", dir_.File("plan.db"))},
                               .log_path = dir_.File("planning.log")}));
    OKR_ASSERT_OK_AND_ASSIGN(
        tracking_,
        ServiceProcess::Start({.binary = "okr-tracking",
                               .args = {"--auth=false",
                                        absl::StrCat("--store=sqlite:", dir_.File("tracking.db")),
                                        absl::StrCat("--redis=127.0.0.1:", redis_->port()),
                                        absl::StrCat("--planning_addr=", planning_->address())},
                               .log_path = dir_.File("tracking.log")}));
    for (int i = 0; i < 2; ++i) {
      OKR_ASSERT_OK_AND_ASSIGN(
          notify_[i],
          ServiceProcess::Start(
              {.binary = "okr-notify",
               .args = {"--auth=false", absl::StrCat("--store=", store_url_),
                        absl::StrCat("--redis=127.0.0.1:", redis_->port()),
                        absl::StrCat("--planning_addr=", planning_->address()),
                        absl::StrCat("--tracking_addr=", tracking_->address()),
                        "--webhook_initial_backoff=50ms", "--webhook_timeout=2s",
                        // The receiver is on loopback.
                        "--webhook_allow_cidrs=127.0.0.0/8"},
               .log_path = dir_.File(absl::StrCat("notify", i + 1, ".log"))}));
      notify_stub_[i] = v1::NotifyService::NewStub(
          grpc::CreateChannel(notify_[i]->address(), grpc::InsecureChannelCredentials()));
    }
    plan_stub_ = v1::PlanningService::NewStub(
        grpc::CreateChannel(planning_->address(), grpc::InsecureChannelCredentials()));
    tracking_stub_ = v1::TrackingService::NewStub(
        grpc::CreateChannel(tracking_->address(), grpc::InsecureChannelCredentials()));
    RedisOptions redis_options;
    redis_options.port = redis_->port();
    redis_options.command_timeout = absl::Seconds(5);
    redis_client_ = std::make_unique<RedisClient>(redis_options);
    OKR_ASSERT_OK_AND_ASSIGN(receiver_, HttpReceiver::Start());
  }

  void TearDown() override {
    if (!HasFailure()) return;
    for (const auto& [name, process] :
         {std::pair{"okr-notify (1)", notify_[0].get()}, std::pair{"okr-notify (2)", notify_[1].get()},
          std::pair{"okr-tracking", tracking_.get()}, std::pair{"okr-planning", planning_.get()}}) {
      if (process != nullptr) {
        std::cerr << "--- " << name << " log (tail) ---\n" << process->LogTail() << "\n";
      }
    }
  }

  template <typename Stub, typename Request, typename Response>
  static grpc::Status Call(Stub* stub,
                           grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                        Response*),
                           const Request& request, Response* response, bool with_org = true) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    if (with_org) context.AddMetadata("okr-organisation-id", std::string(kOrg));
    return (stub->*method)(&context, request, response);
  }

  // --- The organisation: the ACTIVE quarter of today, kDuePeople people
  // with an unchecked key result each, and one who checked in (not due). ---

  void BuildOrganisation() {
    v1::BootstrapOrganisationRequest boot;
    boot.set_organisation_id(std::string(kOrg));
    boot.mutable_organisation()->set_name("Acme");
    boot.mutable_organisation()->set_time_zone(std::string(kZone));
    boot.mutable_organisation()->set_fiscal_year_start_month(1);
    boot.mutable_organisation()->set_planning_profile(v1::PLANNING_PROFILE_SMALL);
    v1::Organisation organisation;
    grpc::Status status = Call(plan_stub_.get(), &PlanStub::BootstrapOrganisation, boot,
                               &organisation, /*with_org=*/false);
    ASSERT_TRUE(status.ok()) << status.error_message();

    const absl::CivilDay today = absl::ToCivilDay(absl::Now(), tz_);
    v1::CreateFiscalYearRequest year_request;
    year_request.set_fiscal_year(static_cast<int>(today.year()));
    v1::CreateFiscalYearResponse year;
    status = Call(plan_stub_.get(), &PlanStub::CreateFiscalYear, year_request, &year);
    ASSERT_TRUE(status.ok()) << status.error_message();
    std::optional<v1::Cycle> quarter;
    for (const v1::Cycle& q : year.quarters()) {
      const absl::CivilDay start(q.start_date().year(), q.start_date().month(),
                                 q.start_date().day());
      const absl::CivilDay end(q.end_date().year(), q.end_date().month(), q.end_date().day());
      if (start <= today && today < end) quarter = q;
    }
    ASSERT_TRUE(quarter.has_value()) << "no quarter contains " << today;
    ASSERT_NO_FATAL_FAILURE(Activate(year.year()));
    ASSERT_NO_FATAL_FAILURE(Activate(*quarter));

    for (int i = 0; i <= kDuePeople; ++i) {
      const std::string name = absl::StrCat("Person ", i);
      v1::CreatePersonRequest person_request;
      person_request.mutable_person()->set_display_name(name);
      person_request.mutable_person()->set_email(absl::StrCat("person", i, "@acme.example"));
      v1::Person person;
      status = Call(plan_stub_.get(), &PlanStub::CreatePerson, person_request, &person);
      ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();

      v1::CreateObjectiveRequest objective_request;
      v1::Objective* objective = objective_request.mutable_objective();
      objective->set_title(absl::StrCat("Objective of ", name));
      objective->set_level(v1::LEVEL_INDIVIDUAL);
      objective->set_owner_id(person.id());
      objective->set_cycle_id(quarter->id());
      objective->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
      objective->set_state(v1::OBJECTIVE_STATE_PUBLISHED);
      objective->set_progress_source(v1::PROGRESS_SOURCE_KEY_RESULTS);
      v1::Objective created_objective;
      status = Call(plan_stub_.get(), &PlanStub::CreateObjective, objective_request,
                    &created_objective);
      ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();

      v1::CreateKeyResultRequest kr_request;
      v1::KeyResult* kr = kr_request.mutable_key_result();
      kr->set_objective_id(created_objective.id());
      kr->set_title(absl::StrCat("Key result of ", name));
      kr->set_type(v1::KEY_RESULT_TYPE_METRIC);
      kr->set_measure(v1::MEASURE_KPI);
      kr->set_start_value(0);
      kr->set_target_value(100);
      kr->set_data_source(v1::DATA_SOURCE_MANUAL);
      v1::KeyResult created_kr;
      status = Call(plan_stub_.get(), &PlanStub::CreateKeyResult, kr_request, &created_kr);
      ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();

      if (i == kDuePeople) {
        // The last one checks in now: nothing is due for them.
        v1::RecordCheckInRequest check_in;
        check_in.set_key_result_id(created_kr.id());
        check_in.set_value(10);
        check_in.set_client_key(absl::StrCat("ck-", created_kr.id()));
        check_in.set_author_id(person.id());
        check_in.set_confidence(7);
        v1::RecordCheckInResponse recorded;
        status = Call(tracking_stub_.get(), &TrackStub::RecordCheckIn, check_in, &recorded);
        ASSERT_TRUE(status.ok()) << status.error_message();
        not_due_ = person.id();
      } else {
        due_people_.insert(person.id());
      }
    }
  }

  void Activate(const v1::Cycle& cycle) {
    v1::UpdateCycleStateRequest request;
    request.set_id(cycle.id());
    request.set_state(v1::CYCLE_STATE_ACTIVE);
    request.set_version(cycle.version());
    v1::Cycle updated;
    const grpc::Status status = Call(plan_stub_.get(), &PlanStub::UpdateCycleState, request,
                                     &updated);
    ASSERT_TRUE(status.ok()) << cycle.name() << ": " << status.error_message();
  }

  v1::Webhook CreateWebhook() {
    v1::CreateWebhookRequest request;
    request.mutable_webhook()->set_url(receiver_->url(kHookPath));
    request.mutable_webhook()->set_display_name("#okr-reminders");
    request.mutable_webhook()->add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
    request.set_request_id("create-hook-1");
    v1::Webhook webhook;
    const grpc::Status status =
        Call(notify_stub_[0].get(), &NotifyStub::CreateWebhook, request, &webhook);
    EXPECT_TRUE(status.ok()) << status.error_message();
    // The retry of the same request on the other replica is the same webhook.
    v1::Webhook again;
    const grpc::Status retried =
        Call(notify_stub_[1].get(), &NotifyStub::CreateWebhook, request, &again);
    EXPECT_TRUE(retried.ok()) << retried.error_message();
    EXPECT_EQ(again.id(), webhook.id());
    return webhook;
  }

  // --- Running reminders from everywhere at once ---------------------------------

  // okr-reminder-job against each replica and `threads_per_replica` threads
  // calling RunDueReminders on each, all started together; the weekly counts
  // of every caller (failures are recorded).
  std::vector<Counts> RunEverywhere(absl::Time now, int threads_per_replica,
                                    absl::string_view tag) {
    absl::StatusOr<std::string> job = OkrBinary("okr-reminder-job");
    EXPECT_TRUE(job.ok()) << job.status();
    if (!job.ok()) return {};
    std::vector<std::unique_ptr<Subprocess>> jobs;
    for (int i = 0; i < 2; ++i) {
      SubprocessOptions options;
      options.program = *job;
      options.args = {absl::StrCat("--notify_addr=", notify_[i]->address()),
                      absl::StrCat("--organisations=", kOrg),
                      absl::StrCat("--now=", absl::FormatTime(absl::RFC3339_full, now,
                                                              absl::UTCTimeZone())),
                      "--kinds=weekly", "--retries=1"};
      options.stdout_path = dir_.File(absl::StrCat(tag, "-job", i + 1, ".out"));
      options.stderr_path = dir_.File(absl::StrCat(tag, "-job", i + 1, ".err"));
      absl::StatusOr<std::unique_ptr<Subprocess>> started = Subprocess::Start(std::move(options));
      EXPECT_TRUE(started.ok()) << started.status();
      if (started.ok()) jobs.push_back(*std::move(started));
    }

    const int threads = 2 * threads_per_replica;
    std::vector<Counts> thread_counts(threads);
    std::vector<grpc::Status> statuses(threads);
    std::barrier start(threads);
    std::vector<std::thread> callers;
    for (int t = 0; t < threads; ++t) {
      callers.emplace_back([&, t] {
        v1::RunDueRemindersRequest request;
        *request.mutable_now() = ToTimestamp(now);
        request.add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
        v1::RunDueRemindersResponse response;
        start.arrive_and_wait();
        statuses[t] =
            Call(notify_stub_[t % 2].get(), &NotifyStub::RunDueReminders, request, &response);
        for (const v1::ReminderKindCounts& counts : response.counts()) {
          if (counts.kind() != v1::REMINDER_KIND_WEEKLY_CHECK_IN) continue;
          thread_counts[t] = {counts.found(), counts.published(), counts.skipped(),
                              counts.failed()};
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
    std::vector<Counts> all;
    for (int t = 0; t < threads; ++t) {
      EXPECT_TRUE(statuses[t].ok()) << tag << ", thread " << t << " on replica " << t % 2 + 1
                                    << ": " << statuses[t].error_message();
      all.push_back(thread_counts[t]);
    }

    for (size_t i = 0; i < jobs.size(); ++i) {
      absl::StatusOr<ExitStatus> exit = jobs[i]->Wait(absl::Seconds(90));
      const std::string out = ReadFileToString(dir_.File(absl::StrCat(tag, "-job", i + 1, ".out")));
      const std::string err = ReadFileToString(dir_.File(absl::StrCat(tag, "-job", i + 1, ".err")));
      EXPECT_TRUE(exit.ok() && exit->success())
          << tag << ", job on replica " << i + 1 << ": "
          << (exit.ok() ? exit->ToString() : exit.status().ToString()) << "\nstdout: " << out
          << "\nstderr: " << err;
      // One JSON line for the organisation, with its totals.
      int lines = 0;
      for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipWhitespace())) {
        std::optional<google::protobuf::Struct> parsed = ParseJson(line);
        EXPECT_TRUE(parsed.has_value()) << "not JSON: " << line;
        if (!parsed.has_value()) continue;
        ++lines;
        auto number = [&](const char* key) {
          auto it = parsed->fields().find(key);
          return it == parsed->fields().end() ? -1 : static_cast<int>(it->second.number_value());
        };
        all.push_back({number("found"), number("published"), number("skipped"), number("failed")});
      }
      EXPECT_EQ(lines, 1) << tag << ", job on replica " << i + 1 << " printed: " << out;
    }
    return all;
  }

  // The "id" field of every entry of the organisation's stream, in order.
  std::vector<std::string> StreamReminderIds() {
    const std::string key = absl::StrCat("okr:{", kOrg, "}:reminders");
    absl::StatusOr<RedisReply> range = redis_client_->Command({"XRANGE", key, "-", "+"});
    EXPECT_TRUE(range.ok()) << range.status();
    std::vector<std::string> ids;
    if (!range.ok()) return ids;
    for (const RedisReply& entry : range->elements) {
      if (entry.elements.size() != 2) {
        ADD_FAILURE() << "unexpected stream entry " << entry.DebugString();
        continue;
      }
      const std::vector<RedisReply>& fields = entry.elements[1].elements;
      std::string id = "<no id field>";
      for (size_t f = 0; f + 1 < fields.size(); f += 2) {
        if (fields[f].str == "id") id = fields[f + 1].str;
      }
      ids.push_back(id);
    }
    return ids;
  }

  // Every reminder in the shared ledger, read through replica `replica`.
  std::vector<v1::Reminder> LedgerReminders(int replica) {
    std::vector<v1::Reminder> all;
    v1::ListRemindersRequest request;
    request.set_page_size(500);
    for (int guard = 0; guard < 20; ++guard) {
      v1::ListRemindersResponse page;
      const grpc::Status status =
          Call(notify_stub_[replica].get(), &NotifyStub::ListReminders, request, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      all.insert(all.end(), page.reminders().begin(), page.reminders().end());
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    return all;
  }

  // The reminder ids the receiver got, one per POST, in order of arrival.
  std::vector<std::string> ReceivedReminderIds() {
    std::vector<std::string> ids;
    for (const ReceivedRequest& post : receiver_->requests(kHookPath)) {
      std::optional<google::protobuf::Struct> body = ParseJson(post.body);
      std::string id = "<unparsable body>";
      if (body.has_value() && body->fields().count("reminder") > 0) {
        const auto& reminder = body->fields().at("reminder").struct_value().fields();
        if (reminder.count("id") > 0) id = reminder.at("id").string_value();
      }
      ids.push_back(id);
    }
    return ids;
  }

  // SUCCEEDED webhook deliveries in the shared log.
  int SucceededWebhookDeliveries(const std::string& webhook_id) {
    v1::ListDeliveriesRequest request;
    request.set_channel(v1::DELIVERY_CHANNEL_WEBHOOK);
    request.set_webhook_id(webhook_id);
    request.set_status(v1::DELIVERY_STATUS_SUCCEEDED);
    request.set_page_size(500);
    v1::ListDeliveriesResponse page;
    const grpc::Status status =
        Call(notify_stub_[1].get(), &NotifyStub::ListDeliveries, request, &page);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return page.deliveries_size();
  }

  TempDir dir_{"okr-notify-replicas-test"};
  absl::TimeZone tz_;
  std::string store_url_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<ServiceProcess> planning_;
  std::unique_ptr<ServiceProcess> tracking_;
  std::unique_ptr<ServiceProcess> notify_[2];
  std::unique_ptr<NotifyStub> notify_stub_[2];
  std::unique_ptr<PlanStub> plan_stub_;
  std::unique_ptr<TrackStub> tracking_stub_;
  std::unique_ptr<RedisClient> redis_client_;
  std::unique_ptr<HttpReceiver> receiver_;
  std::set<std::string> due_people_;
  std::string not_due_;
};

TEST_F(NotifyReplicasTest, EveryDueReminderIsPublishedAndDeliveredOnceAcrossReplicas) {
  ASSERT_NO_FATAL_FAILURE(BuildOrganisation());
  const v1::Webhook webhook = CreateWebhook();
  ASSERT_FALSE(HasFailure());
  const absl::Time now = absl::Now();

  // Two jobs and four threads (two per replica) run the same window at once.
  constexpr int kThreadsPerReplica = 2;
  const std::vector<Counts> first = RunEverywhere(now, kThreadsPerReplica, "first");
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(first.size(), size_t{2 * kThreadsPerReplica + 2});
  int published = 0;
  int skipped = 0;
  for (const Counts& counts : first) {
    EXPECT_EQ(counts.found, kDuePeople);
    EXPECT_EQ(counts.failed, 0);
    published += counts.published;
    skipped += counts.skipped;
  }
  // Each due reminder: claimed by one caller, lost by every other one, and
  // reported published by whoever got it into Redis first.
  EXPECT_EQ(published, kDuePeople);
  EXPECT_EQ(skipped, kDuePeople * (static_cast<int>(first.size()) - 1));

  // The ledger, the same through both replicas: one reminder per due person.
  const std::vector<v1::Reminder> ledger = LedgerReminders(0);
  std::set<std::string> ledger_ids;
  std::set<std::string> recipients;
  for (const v1::Reminder& reminder : ledger) {
    ledger_ids.insert(reminder.id());
    EXPECT_TRUE(recipients.insert(reminder.recipient_id()).second)
        << "two reminders for " << reminder.recipient_id();
    EXPECT_EQ(reminder.kind(), v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  }
  EXPECT_EQ(recipients, due_people_);
  EXPECT_EQ(recipients.count(not_due_), 0u);
  std::set<std::string> ledger_ids_2;
  for (const v1::Reminder& reminder : LedgerReminders(1)) ledger_ids_2.insert(reminder.id());
  EXPECT_EQ(ledger_ids_2, ledger_ids);

  // Redis: each reminder once in the stream.
  const std::vector<std::string> stream = StreamReminderIds();
  EXPECT_EQ(stream.size(), size_t{kDuePeople});
  EXPECT_EQ(std::set<std::string>(stream.begin(), stream.end()), ledger_ids);

  // The webhook: each reminder POSTed once, by whichever dispatcher leased
  // it, and logged SUCCEEDED once.
  OKR_ASSERT_OK(receiver_->WaitForRequests(kHookPath, kDuePeople, absl::Seconds(30)));
  int succeeded = 0;
  for (absl::Time deadline = absl::Now() + absl::Seconds(15); absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(100))) {
    succeeded = SucceededWebhookDeliveries(webhook.id());
    if (succeeded >= kDuePeople) break;
  }
  EXPECT_EQ(succeeded, kDuePeople);
  // Room for a duplicate to show up, had a task been leased twice.
  absl::SleepFor(absl::Seconds(1));
  const std::vector<std::string> posted = ReceivedReminderIds();
  EXPECT_EQ(posted.size(), size_t{kDuePeople});
  EXPECT_EQ(std::set<std::string>(posted.begin(), posted.end()), ledger_ids);
  EXPECT_EQ(SucceededWebhookDeliveries(webhook.id()), kDuePeople);

  // A rerun of the same window, from everywhere again, publishes nothing.
  const std::vector<Counts> rerun = RunEverywhere(now, 1, "rerun");
  ASSERT_FALSE(HasFailure());
  for (const Counts& counts : rerun) {
    EXPECT_EQ(counts.found, kDuePeople);
    EXPECT_EQ(counts.published, 0);
    EXPECT_EQ(counts.skipped, kDuePeople);
    EXPECT_EQ(counts.failed, 0);
  }
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(StreamReminderIds().size(), size_t{kDuePeople});
  EXPECT_EQ(receiver_->request_count(kHookPath), kDuePeople);
  EXPECT_EQ(LedgerReminders(1).size(), size_t{kDuePeople});
}

}  // namespace
}  // namespace okr
