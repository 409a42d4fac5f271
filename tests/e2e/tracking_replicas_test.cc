// Two okr-tracking replicas on one PostgreSQL database and one Redis behave
// as one service: the real okr-planning (SQLite), two okr-tracking
// processes with the same --store=postgresql://... and --redis, a real
// PostgreSQL server and redis-server, all with --auth=false on loopback.
//
// What it pins down:
//  - check-ins sent alternately and concurrently to both replicas are all
//    stored, a client key sent to both at once is recorded once;
//  - the scores and the scored tree read from either replica are the same,
//    and equal the model library's full recompute (ScoreGraph) over the plan
//    read back from planning and the check-ins read back from tracking;
//  - a review replaced on one replica and then on the other with the stale
//    version is ABORTED (no lost update);
//  - kill -9 of one replica while both take check-ins: every check-in it
//    acknowledged is served by the other, and retries of the unanswered ones
//    on the survivor store each client key once.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "common/model.h"
#include "common/model_proto.h"
#include "common/scoring.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/planning.grpc.pb.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "tests/support/postgres_server.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::testing::HasSubstr;
using PlanStub = v1::PlanningService::Stub;
using TrackStub = v1::TrackingService::Stub;

constexpr absl::Duration kCallTimeout = absl::Seconds(10);
constexpr double kTolerance = 1e-9;
constexpr absl::string_view kOrg = "acme";
constexpr absl::string_view kTimeZone = "Europe/Berlin";

#define ASSERT_GRPC_OK(status)                                                          \
  do {                                                                                  \
    const grpc::Status okr_s_ = (status);                                               \
    ASSERT_TRUE(okr_s_.ok()) << okr_s_.error_code() << ": " << okr_s_.error_message(); \
  } while (false)

// One unary call with a deadline and the organisation metadata (honoured
// with --auth=false).
template <typename Stub, typename Request, typename Response>
grpc::Status Call(Stub* stub,
                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                  const std::type_identity_t<Request>& request, Response* response,
                  absl::Duration timeout = kCallTimeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context.AddMetadata("okr-organisation-id", std::string(kOrg));
  return (stub->*method)(&context, request, response);
}

// A key result as the test generated it.
struct GenKr {
  std::string id;
  bool milestone = false;
  double from = 0;
  double to = 0;
};

// What a replica serves for the quarter, keyed by id, for comparisons.
struct Scores {
  std::map<std::string, double> objectives;                 // score
  std::map<std::string, double> key_results;                // progress
  std::map<std::string, int64_t> check_in_counts;           // per key result
  std::map<std::string, double> objective_reads;            // GetObjectiveScore
};

class TrackingReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(absl::LoadTimeZone(std::string(kTimeZone), &tz_));
    absl::StatusOr<testing::PostgresServer*> pg = testing::SharedPostgresServer();
    ASSERT_TRUE(pg.ok()) << pg.status();
    OKR_ASSERT_OK_AND_ASSIGN(store_url_, (*pg)->CreateUniqueDatabase("tracking_replicas"));
    OKR_ASSERT_OK_AND_ASSIGN(redis_, RedisServer::Start());
    OKR_ASSERT_OK_AND_ASSIGN(
        planning_,
        ServiceProcess::Start({.binary = "okr-planning",
                               .args = {absl::StrCat("--store=sqlite:", dir_.File("plan.db")),
                                        "--auth=false", "--workers=4", "--shutdown_grace=2s"},
                               .log_path = dir_.File("planning.log")}));
    plan_channel_ = grpc::CreateChannel(planning_->address(), grpc::InsecureChannelCredentials());
    plan_ = v1::PlanningService::NewStub(plan_channel_);
    for (int r = 0; r < 2; ++r) {
      OKR_ASSERT_OK_AND_ASSIGN(
          replicas_[r],
          ServiceProcess::Start(
              {.binary = "okr-tracking",
               .args = {absl::StrCat("--store=", store_url_),
                        absl::StrCat("--redis=127.0.0.1:", redis_->port()),
                        absl::StrCat("--planning_addr=", planning_->address()), "--auth=false",
                        "--workers=4", "--shutdown_grace=2s"},
               .log_path = dir_.File(absl::StrCat("tracking-", r, ".log"))}));
      channels_[r] =
          grpc::CreateChannel(replicas_[r]->address(), grpc::InsecureChannelCredentials());
      tracking_[r] = v1::TrackingService::NewStub(channels_[r]);
    }
  }

  void TearDown() override {
    if (HasFailure()) {
      for (int r = 0; r < 2; ++r) {
        if (replicas_[r] != nullptr) {
          std::cerr << "--- okr-tracking " << r << " log (tail) ---\n"
                    << replicas_[r]->LogTail() << "\n";
        }
      }
      if (planning_ != nullptr) {
        std::cerr << "--- okr-planning log (tail) ---\n" << planning_->LogTail() << "\n";
      }
    }
    for (int r = 0; r < 2; ++r) {
      tracking_[r].reset();
      channels_[r].reset();
    }
    plan_.reset();
    plan_channel_.reset();
  }

  // --- The plan, through PlanningService ---------------------------------------

  absl::CivilDay DayOf(const v1::Date& date) const {
    return absl::CivilDay(date.year(), date.month(), date.day());
  }

  v1::Cycle Activate(const v1::Cycle& cycle) {
    v1::UpdateCycleStateRequest request;
    request.set_id(cycle.id());
    request.set_state(v1::CYCLE_STATE_ACTIVE);
    request.set_version(cycle.version());
    v1::Cycle updated;
    const grpc::Status status = Call(plan_.get(), &PlanStub::UpdateCycleState, request, &updated);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return updated;
  }

  v1::Objective NewObjective(absl::string_view title, v1::ProgressSource source) {
    v1::Objective objective;
    objective.set_title(std::string(title));
    objective.set_level(v1::LEVEL_INDIVIDUAL);
    objective.set_owner_id(person_);
    objective.set_cycle_id(quarter_.id());
    objective.set_kind(v1::OBJECTIVE_KIND_ASPIRATIONAL);
    objective.set_state(v1::OBJECTIVE_STATE_PUBLISHED);
    objective.set_progress_source(source);
    return objective;
  }

  v1::Objective MakeObjective(const v1::Objective& objective) {
    v1::CreateObjectiveRequest request;
    *request.mutable_objective() = objective;
    v1::Objective created;
    const grpc::Status status = Call(plan_.get(), &PlanStub::CreateObjective, request, &created);
    EXPECT_TRUE(status.ok()) << objective.title() << ": " << status.error_message();
    objective_ids_.push_back(created.id());
    return created;
  }

  void MakeKr(absl::string_view objective, bool milestone, double from, double to,
              double weight) {
    v1::KeyResult kr;
    kr.set_objective_id(std::string(objective));
    kr.set_title(absl::StrCat("Key result ", krs_.size() + 1));
    kr.set_data_source(v1::DATA_SOURCE_MANUAL);
    kr.set_weight(weight);
    if (milestone) {
      kr.set_type(v1::KEY_RESULT_TYPE_MILESTONE);
    } else {
      kr.set_type(v1::KEY_RESULT_TYPE_METRIC);
      kr.set_measure(v1::MEASURE_KPI);
      kr.set_start_value(from);
      kr.set_target_value(to);
    }
    v1::CreateKeyResultRequest request;
    *request.mutable_key_result() = kr;
    v1::KeyResult created;
    const grpc::Status status = Call(plan_.get(), &PlanStub::CreateKeyResult, request, &created);
    EXPECT_TRUE(status.ok()) << kr.title() << ": " << status.error_message();
    krs_.push_back({created.id(), milestone, from, to});
  }

  // The organisation, the active quarter of today, and three objectives:
  // a company objective scored from its key results and its aligned child
  // (BOTH), a Classic child aligned with weight 2, and a Duality child
  // cascaded from the company's first key result (which then takes its
  // progress from it).
  void BuildPlan() {
    v1::BootstrapOrganisationRequest boot;
    boot.set_organisation_id(std::string(kOrg));
    boot.mutable_organisation()->set_name("Acme");
    boot.mutable_organisation()->set_time_zone(std::string(kTimeZone));
    v1::Organisation organisation;
    ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::BootstrapOrganisation, boot, &organisation));
    const absl::CivilDay today = absl::ToCivilDay(absl::Now(), tz_);
    v1::CreateFiscalYearRequest fy;
    fy.set_fiscal_year(static_cast<int>(today.year()));
    v1::CreateFiscalYearResponse year;
    ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::CreateFiscalYear, fy, &year));
    bool found = false;
    for (const v1::Cycle& q : year.quarters()) {
      if (DayOf(q.start_date()) <= today && today < DayOf(q.end_date())) {
        quarter_ = q;
        found = true;
      }
    }
    ASSERT_TRUE(found) << "no quarter of FY" << today.year() << " contains " << today;
    Activate(year.year());
    quarter_ = Activate(quarter_);
    ASSERT_EQ(quarter_.state(), v1::CYCLE_STATE_ACTIVE);

    v1::CreatePersonRequest person;
    person.mutable_person()->set_display_name("Jane Doe");
    person.mutable_person()->set_email("jane.doe@acme.example");
    v1::Person created_person;
    ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::CreatePerson, person, &created_person));
    person_ = created_person.id();

    const v1::Objective company =
        MakeObjective(NewObjective("Delight customers", v1::PROGRESS_SOURCE_BOTH));
    MakeKr(company.id(), false, 0, 100, 1);   // cascaded below
    MakeKr(company.id(), false, 10, 50, 2);
    ASSERT_FALSE(HasFailure());

    const v1::Objective classic =
        MakeObjective(NewObjective("Answer faster", v1::PROGRESS_SOURCE_KEY_RESULTS));
    {
      v1::AlignObjectiveRequest align;
      align.set_objective_id(classic.id());
      align.set_parent_objective_id(company.id());
      align.set_weight(2);
      align.set_version(classic.version());
      v1::Objective aligned;
      ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::AlignObjective, align, &aligned));
    }
    MakeKr(classic.id(), false, 72, 24, 1);
    MakeKr(classic.id(), true, 0, 0, 1);
    ASSERT_FALSE(HasFailure());

    v1::CascadeKeyResultRequest cascade;
    cascade.set_key_result_id(krs_[0].id);
    *cascade.mutable_objective() = NewObjective("", v1::PROGRESS_SOURCE_KEY_RESULTS);
    cascade.set_weight(1);
    v1::CascadeKeyResultResponse cascaded;
    ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::CascadeKeyResult, cascade, &cascaded));
    objective_ids_.push_back(cascaded.objective().id());
    MakeKr(cascaded.objective().id(), false, 0, 10, 1);
    MakeKr(cascaded.objective().id(), false, 5, 1, 3);
    ASSERT_FALSE(HasFailure());
    // Check-ins go to every key result except the cascaded one.
    for (size_t k = 1; k < krs_.size(); ++k) targets_.push_back(k);
  }

  // --- Check-ins --------------------------------------------------------------

  // The n-th check-in of the test: on a key result picked by n, with a
  // value (or done) and a time that are functions of n. Times are distinct
  // and inside the quarter, so "latest" never depends on arrival order.
  v1::RecordCheckInRequest CheckInNumber(int n, absl::string_view client_key) const {
    const GenKr& kr = krs_[targets_[static_cast<size_t>(n) % targets_.size()]];
    v1::RecordCheckInRequest request;
    request.set_key_result_id(kr.id);
    request.set_client_key(std::string(client_key));
    request.set_author_id(person_);
    if (kr.milestone) {
      request.set_done(n % 3 != 0);
    } else {
      request.set_value(kr.from + (kr.to - kr.from) * (((n * 37) % 150) / 100.0 - 0.25));
    }
    if (n % 4 == 0) request.set_confidence(n % 11);
    const absl::Time start = StartOfDay(DayOf(quarter_.start_date()), tz_) + absl::Seconds(1);
    const absl::Duration room = absl::Now() - absl::Minutes(1) - start;
    const absl::Duration step =
        std::max(absl::Microseconds(1), std::min(absl::Minutes(1), room / 2000));
    *request.mutable_time() = ToProto(start + step * n);
    return request;
  }

  // Records on replica `r`; the response, or the failure's status.
  grpc::Status Record(int r, const v1::RecordCheckInRequest& request,
                      v1::RecordCheckInResponse* response,
                      absl::Duration timeout = kCallTimeout) {
    return Call(tracking_[r].get(), &TrackStub::RecordCheckIn, request, response, timeout);
  }

  // Notes an acknowledged check-in (thread-safe).
  void Acknowledge(const v1::RecordCheckInRequest& request,
                   const v1::RecordCheckInResponse& response) {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = acknowledged_.emplace(request.client_key(), response.check_in().id());
    if (!inserted) {
      EXPECT_EQ(it->second, response.check_in().id())
          << "client key " << request.client_key() << " acknowledged as two check-ins";
    }
  }

  // Every check-in of `kr` as replica `r` lists it.
  std::vector<v1::CheckIn> AllCheckIns(int r, absl::string_view kr) {
    std::vector<v1::CheckIn> all;
    v1::ListCheckInsRequest request;
    request.set_key_result_id(std::string(kr));
    request.set_page_size(500);
    for (int guard = 0; guard < 100; ++guard) {
      v1::ListCheckInsResponse page;
      const grpc::Status status = Call(tracking_[r].get(), &TrackStub::ListCheckIns, request, &page);
      EXPECT_TRUE(status.ok()) << kr << ": " << status.error_message();
      if (!status.ok()) break;
      all.insert(all.end(), page.check_ins().begin(), page.check_ins().end());
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    return all;
  }

  // --- Scores -------------------------------------------------------------------

  Scores ReadScores(int r) {
    Scores scores;
    v1::GetScoredTreeRequest request;
    request.set_cycle_id(quarter_.id());
    v1::ScoredTree tree;
    const grpc::Status status = Call(tracking_[r].get(), &TrackStub::GetScoredTree, request, &tree);
    EXPECT_TRUE(status.ok()) << "replica " << r << ": " << status.error_message();
    for (const v1::ObjectiveScore& s : tree.objective_scores()) {
      scores.objectives[s.objective_id()] = s.score();
    }
    for (const v1::KeyResultScore& s : tree.key_result_scores()) {
      scores.key_results[s.key_result_id()] = s.progress();
      scores.check_in_counts[s.key_result_id()] = s.check_in_count();
    }
    for (const std::string& id : objective_ids_) {
      v1::GetObjectiveScoreRequest one;
      one.set_objective_id(id);
      v1::ObjectiveScore score;
      const grpc::Status read = Call(tracking_[r].get(), &TrackStub::GetObjectiveScore, one, &score);
      EXPECT_TRUE(read.ok()) << "replica " << r << ", " << id << ": " << read.error_message();
      scores.objective_reads[id] = score.score();
    }
    return scores;
  }

  static bool Same(const Scores& a, const Scores& b) {
    auto near = [](const std::map<std::string, double>& x,
                   const std::map<std::string, double>& y) {
      if (x.size() != y.size()) return false;
      for (const auto& [id, value] : x) {
        auto it = y.find(id);
        if (it == y.end() || std::abs(it->second - value) > kTolerance) return false;
      }
      return true;
    };
    return near(a.objectives, b.objectives) && near(a.key_results, b.key_results) &&
           near(a.objective_reads, b.objective_reads) && a.check_in_counts == b.check_in_counts;
  }

  // The plan from planning and the check-ins from replica `r`, scored by the
  // model library. Also checks that each client key is stored once and every
  // acknowledged check-in is stored; with `exact`, nothing else is (without,
  // a check-in stored by a replica that died before it answered may be).
  Scores Recompute(int r, bool exact = true) {
    Scores expected;
    std::vector<Objective> objectives;
    {
      v1::ListObjectivesRequest request;
      request.set_page_size(500);
      v1::ListObjectivesResponse page;
      const grpc::Status status = Call(plan_.get(), &PlanStub::ListObjectives, request, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      for (const v1::Objective& o : page.objectives()) {
        Objective model;
        EXPECT_TRUE(FromProto(o, "objective", &model).ok());
        objectives.push_back(std::move(model));
      }
    }
    std::vector<KeyResult> key_results;
    {
      v1::ListKeyResultsRequest request;
      request.set_page_size(500);
      v1::ListKeyResultsResponse page;
      const grpc::Status status = Call(plan_.get(), &PlanStub::ListKeyResults, request, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      for (const v1::KeyResult& kr : page.key_results()) {
        KeyResult model;
        EXPECT_TRUE(FromProto(kr, "key_result", &model).ok());
        key_results.push_back(std::move(model));
      }
    }
    EXPECT_EQ(objectives.size(), objective_ids_.size());
    EXPECT_EQ(key_results.size(), krs_.size());
    std::vector<CheckIn> check_ins;
    std::map<std::string, std::string> stored;  // client key -> check-in id
    for (const GenKr& kr : krs_) {
      const std::vector<v1::CheckIn> listed = AllCheckIns(r, kr.id);
      expected.check_in_counts[kr.id] = static_cast<int64_t>(listed.size());
      for (const v1::CheckIn& c : listed) {
        EXPECT_TRUE(stored.emplace(c.client_key(), c.id()).second)
            << "client key " << c.client_key() << " stored twice";
        CheckIn model;
        EXPECT_TRUE(FromProto(c, "check_in", &model).ok()) << c.id();
        check_ins.push_back(std::move(model));
      }
    }
    {
      absl::MutexLock lock(&mu_);
      if (exact) {
        EXPECT_EQ(stored, acknowledged_) << "the stored check-ins are not the acknowledged ones";
      }
      for (const auto& [client_key, id] : acknowledged_) {
        auto it = stored.find(client_key);
        EXPECT_TRUE(it != stored.end() && it->second == id)
            << "acknowledged check-in " << id << " (client key " << client_key
            << ") is not stored as such";
      }
    }
    absl::StatusOr<ScoreGraph> graph = ScoreGraph::Build(objectives, key_results, check_ins);
    EXPECT_TRUE(graph.ok()) << graph.status();
    if (!graph.ok()) return expected;
    for (const Objective& o : objectives) {
      expected.objectives[o.id] = graph->ScoreOf(o.id).value_or(-1);
      expected.objective_reads[o.id] = expected.objectives[o.id];
    }
    for (const KeyResult& kr : key_results) {
      expected.key_results[kr.id] = graph->ProgressOf(kr.id).value_or(-1);
    }
    return expected;
  }

  // Waits until replica `r` serves `want` (another replica's writes reach
  // its memory within about a second), then checks it.
  void ExpectServes(int r, const Scores& want) {
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    Scores got = ReadScores(r);
    while (!Same(got, want) && absl::Now() < deadline && !HasFailure()) {
      absl::SleepFor(absl::Milliseconds(200));
      got = ReadScores(r);
    }
    SCOPED_TRACE(absl::StrCat("replica ", r));
    for (const auto& [id, score] : want.objectives) {
      ASSERT_TRUE(got.objectives.contains(id)) << "objective " << id << " not in the tree";
      EXPECT_NEAR(got.objectives[id], score, kTolerance) << "objective " << id;
      EXPECT_NEAR(got.objective_reads[id], score, kTolerance) << "GetObjectiveScore " << id;
    }
    EXPECT_EQ(got.objectives.size(), want.objectives.size());
    for (const auto& [id, progress] : want.key_results) {
      ASSERT_TRUE(got.key_results.contains(id)) << "key result " << id << " not in the tree";
      EXPECT_NEAR(got.key_results[id], progress, kTolerance) << "key result " << id;
      EXPECT_EQ(got.check_in_counts[id], want.check_in_counts.at(id)) << "key result " << id;
    }
  }

  TempDir dir_{"okr-tracking-replicas"};
  absl::TimeZone tz_;
  std::string store_url_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<ServiceProcess> planning_;
  std::unique_ptr<ServiceProcess> replicas_[2];
  std::shared_ptr<grpc::Channel> plan_channel_;
  std::unique_ptr<PlanStub> plan_;
  std::shared_ptr<grpc::Channel> channels_[2];
  std::unique_ptr<TrackStub> tracking_[2];

  v1::Cycle quarter_;
  std::string person_;
  std::vector<std::string> objective_ids_;
  std::vector<GenKr> krs_;
  std::vector<size_t> targets_;  // indices into krs_ that take check-ins

  absl::Mutex mu_;
  std::map<std::string, std::string> acknowledged_ ABSL_GUARDED_BY(mu_);  // client key -> id
};

TEST_F(TrackingReplicasTest, TwoReplicasOnOneDatabaseServeOneState) {
  ASSERT_NO_FATAL_FAILURE(BuildPlan());
  int n = 0;

  // Alternately, one at a time.
  for (int i = 0; i < 20; ++i, ++n) {
    const v1::RecordCheckInRequest request = CheckInNumber(n, absl::StrCat("alt-", n));
    v1::RecordCheckInResponse response;
    ASSERT_GRPC_OK(Record(i % 2, request, &response));
    EXPECT_FALSE(response.replayed());
    Acknowledge(request, response);
  }

  // Concurrently: two clients per replica.
  {
    constexpr int kClients = 4;
    constexpr int kEach = 15;
    const int first = n;
    n += kClients * kEach;
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        for (int i = 0; i < kEach; ++i) {
          const int number = first + c * kEach + i;
          const v1::RecordCheckInRequest request =
              CheckInNumber(number, absl::StrCat("concurrent-", number));
          v1::RecordCheckInResponse response;
          const grpc::Status status = Record(c % 2, request, &response);
          EXPECT_TRUE(status.ok()) << "client " << c << ": " << status.error_message();
          if (!status.ok()) return;
          EXPECT_FALSE(response.replayed());
          Acknowledge(request, response);
        }
      });
    }
    for (std::thread& client : clients) client.join();
  }
  ASSERT_FALSE(HasFailure());

  // The same client key to both replicas at once: recorded once, and the
  // other gets the same check-in back as a replay.
  for (int i = 0; i < 8; ++i, ++n) {
    const v1::RecordCheckInRequest request = CheckInNumber(n, absl::StrCat("both-", n));
    v1::RecordCheckInResponse responses[2];
    grpc::Status statuses[2];
    std::vector<std::thread> senders;
    for (int r = 0; r < 2; ++r) {
      senders.emplace_back([&, r] { statuses[r] = Record(r, request, &responses[r]); });
    }
    for (std::thread& sender : senders) sender.join();
    ASSERT_GRPC_OK(statuses[0]);
    ASSERT_GRPC_OK(statuses[1]);
    EXPECT_EQ(responses[0].replayed() + responses[1].replayed(), 1)
        << request.client_key() << ": exactly one replica must have stored it";
    EXPECT_EQ(responses[0].check_in().id(), responses[1].check_in().id()) << request.client_key();
    Acknowledge(request, responses[0]);
    Acknowledge(request, responses[1]);
  }

  // Both replicas serve what the model library computes from what is stored.
  const Scores expected = Recompute(0);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(Recompute(1).check_in_counts, expected.check_in_counts);
  ExpectServes(0, expected);
  ExpectServes(1, expected);
  EXPECT_TRUE(Same(ReadScores(0), ReadScores(1)));
}

TEST_F(TrackingReplicasTest, StaleReviewOnTheOtherReplicaIsAborted) {
  ASSERT_NO_FATAL_FAILURE(BuildPlan());
  const std::string objective = objective_ids_[1];
  auto upsert = [&](int r, absl::string_view learnings, int64_t version, v1::Review* out) {
    v1::UpsertReviewRequest request;
    request.mutable_review()->set_objective_id(objective);
    request.mutable_review()->set_kind(v1::REVIEW_KIND_MID_QUARTER);
    request.mutable_review()->set_author_id(person_);
    request.mutable_review()->set_learnings(std::string(learnings));
    request.set_version(version);
    return Call(tracking_[r].get(), &TrackStub::UpsertReview, request, out);
  };
  v1::Review created;
  ASSERT_GRPC_OK(upsert(0, "created on A", 0, &created));
  EXPECT_EQ(created.version(), 1);
  // Replica B learns of it, so its copy is at version 1 too.
  v1::Review seen;
  {
    v1::GetReviewRequest get;
    get.set_objective_id(objective);
    get.set_kind(v1::REVIEW_KIND_MID_QUARTER);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    grpc::Status status;
    do {
      status = Call(tracking_[1].get(), &TrackStub::GetReview, get, &seen);
      if (!status.ok()) absl::SleepFor(absl::Milliseconds(200));
    } while (!status.ok() && absl::Now() < deadline);
    ASSERT_GRPC_OK(status);
    EXPECT_EQ(seen.version(), 1);
  }
  v1::Review updated;
  ASSERT_GRPC_OK(upsert(0, "updated on A", 1, &updated));
  EXPECT_EQ(updated.version(), 2);
  // B with the version it read: refused at once, whether or not B has
  // caught up with A's update yet.
  v1::Review stale;
  const grpc::Status refused = upsert(1, "stale update on B", seen.version(), &stale);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::ABORTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("version"));
  // A's update is what both replicas serve.
  for (int r = 0; r < 2; ++r) {
    v1::GetReviewRequest get;
    get.set_objective_id(objective);
    get.set_kind(v1::REVIEW_KIND_MID_QUARTER);
    v1::Review review;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    do {
      ASSERT_GRPC_OK(Call(tracking_[r].get(), &TrackStub::GetReview, get, &review));
      if (review.version() != 2) absl::SleepFor(absl::Milliseconds(200));
    } while (review.version() != 2 && absl::Now() < deadline);
    EXPECT_EQ(review.version(), 2) << "replica " << r;
    EXPECT_EQ(review.learnings(), "updated on A") << "replica " << r;
  }
  // B retries with the current version and wins.
  v1::Review retried;
  ASSERT_GRPC_OK(upsert(1, "updated on B", 2, &retried));
  EXPECT_EQ(retried.version(), 3);
}

TEST_F(TrackingReplicasTest, KillingOneReplicaLosesNoAcknowledgedCheckIn) {
  ASSERT_NO_FATAL_FAILURE(BuildPlan());
  constexpr int kPerClient = 40;
  constexpr int kVictim = 1;
  std::atomic<int> victim_acks{0};
  std::vector<v1::RecordCheckInRequest> unanswered;  // by the victim, to retry
  absl::Mutex unanswered_mu;
  std::vector<std::thread> clients;
  for (int r = 0; r < 2; ++r) {
    clients.emplace_back([&, r] {
      for (int i = 0; i < kPerClient; ++i) {
        const int number = r * kPerClient + i;
        const v1::RecordCheckInRequest request =
            CheckInNumber(number, absl::StrCat("stream-", number));
        v1::RecordCheckInResponse response;
        const grpc::Status status = Record(r, request, &response, absl::Seconds(3));
        if (status.ok()) {
          Acknowledge(request, response);
          if (r == kVictim) ++victim_acks;
        } else {
          EXPECT_NE(r, 1 - kVictim) << "the survivor failed: " << status.error_message();
          absl::MutexLock lock(&unanswered_mu);
          unanswered.push_back(request);
        }
      }
    });
  }
  // Mid-stream: after the victim has acknowledged some, kill -9.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (victim_acks.load() < 10 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::StatusOr<ExitStatus> killed = replicas_[kVictim]->Kill();
  for (std::thread& client : clients) client.join();
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_EQ(killed->signal, SIGKILL);
  EXPECT_GE(victim_acks.load(), 10);
  EXPECT_LT(victim_acks.load(), kPerClient) << "the kill came after the stream; nothing tested";
  ASSERT_FALSE(HasFailure());

  // The survivor serves every acknowledged check-in, and the model
  // library's scores of them. Recompute() checks stored == acknowledged.
  const int survivor = 1 - kVictim;
  ExpectServes(survivor, Recompute(survivor, /*exact=*/false));
  ASSERT_FALSE(HasFailure());

  // The unanswered ones, retried on the survivor: each stored once, some
  // perhaps already by the victim before it died (then replayed).
  for (const v1::RecordCheckInRequest& request : unanswered) {
    v1::RecordCheckInResponse response;
    ASSERT_GRPC_OK(Record(survivor, request, &response));
    Acknowledge(request, response);
  }
  ExpectServes(survivor, Recompute(survivor));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(acknowledged_.size(), size_t{2 * kPerClient});
}

}  // namespace
}  // namespace okr
