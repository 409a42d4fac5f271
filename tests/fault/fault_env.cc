#include "tests/fault/fault_env.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/calendar.h"
#include "common/model.h"
#include "common/model_proto.h"
#include "common/redis.h"
#include "common/scoring.h"

namespace okr::fault {

void FaultTest::SetUp() { ASSERT_TRUE(absl::LoadTimeZone(std::string(kZone), &tz_)); }

void FaultTest::TearDown() {
  if (HasFailure()) {
    for (const auto& [name, process] : {std::pair{"okr-planning", planning_.get()},
                                        std::pair{"okr-tracking", tracking_.get()},
                                        std::pair{"okr-notify", notify_.get()}}) {
      if (process != nullptr) {
        std::cerr << "--- " << name << " log (tail) ---\n" << process->LogTail(3000) << "\n";
      }
    }
  }
  notify_stub_.reset();
  track_.reset();
  plan_.reset();
}

std::vector<std::string> StreamReminderIds(int redis_port) {
  RedisOptions options;
  options.port = redis_port;
  options.command_timeout = absl::Seconds(5);
  RedisClient client(options);
  absl::StatusOr<RedisReply> range =
      client.Command({"XRANGE", absl::StrCat("okr:{", kOrg, "}:reminders"), "-", "+"});
  EXPECT_TRUE(range.ok()) << range.status();
  std::vector<std::string> ids;
  if (!range.ok()) return ids;
  for (const RedisReply& entry : range->elements) {
    if (entry.elements.size() != 2) continue;
    const std::vector<RedisReply>& fields = entry.elements[1].elements;
    for (size_t f = 0; f + 1 < fields.size(); f += 2) {
      if (fields[f].str == "id") ids.push_back(fields[f + 1].str);
    }
  }
  return ids;
}

std::vector<v1::Reminder> AllReminders(NotifyStub* stub) {
  std::vector<v1::Reminder> all;
  v1::ListRemindersRequest request;
  request.set_page_size(500);
  for (int guard = 0; guard < 50; ++guard) {
    v1::ListRemindersResponse page;
    const grpc::Status status = Call(stub, &NotifyStub::ListReminders, request, &page);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    all.insert(all.end(), page.reminders().begin(), page.reminders().end());
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  return all;
}

v1::ReminderKindCounts WeeklyCounts(const v1::RunDueRemindersResponse& response) {
  for (const v1::ReminderKindCounts& counts : response.counts()) {
    if (counts.kind() == v1::REMINDER_KIND_WEEKLY_CHECK_IN) return counts;
  }
  return v1::ReminderKindCounts();
}

grpc::Status RunWeekly(NotifyStub* stub, absl::Time now, v1::RunDueRemindersResponse* response,
                       absl::Duration timeout) {
  v1::RunDueRemindersRequest request;
  *request.mutable_now() = ToProto(now);
  request.add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  return Call(stub, &NotifyStub::RunDueReminders, request, response, timeout);
}

std::vector<absl::Time> FaultTest::WeeklyWindows(int max) const {
  const absl::Time now = absl::Now();
  const absl::Time quarter_start = StartOfDay(DayOf(quarter_.start_date()), tz_);
  std::vector<absl::Time> windows;
  for (int w = 0; w < max; ++w) {
    const absl::Time at = now - absl::Hours(24 * 7 * w);
    if (w == 0 || at - absl::Hours(24 * 8) > quarter_start) windows.push_back(at);
  }
  return windows;
}

// --- Processes -------------------------------------------------------------------

void FaultTest::StartRedis(bool persistent) {
  RedisServerOptions options;
  if (persistent) options.extra_args = {"--appendonly", "yes", "--appendfsync", "always"};
  OKR_ASSERT_OK_AND_ASSIGN(redis_, RedisServer::Start(options));
}

std::vector<std::string> FaultTest::PlanningArgs() const {
  return {absl::StrCat("--store=sqlite:", dir_.File("plan.db")), "--auth=false", "--workers=4",
          "--shutdown_grace=2s"};
}

std::vector<std::string> FaultTest::TrackingArgs() const {
  return {absl::StrCat("--store=sqlite:", dir_.File("tracking.db")),
          absl::StrCat("--redis=", redis_ ? absl::StrCat("127.0.0.1:", redis_->port()) : ""),
          absl::StrCat("--planning_addr=", planning_->address()), "--auth=false", "--workers=8",
          "--shutdown_grace=2s"};
}

std::vector<std::string> FaultTest::NotifyArgs() const {
  return {absl::StrCat("--store=sqlite:", dir_.File("notify.db")),
          absl::StrCat("--redis=", redis_ ? absl::StrCat("127.0.0.1:", redis_->port()) : ""),
          absl::StrCat("--planning_addr=", planning_->address()),
          absl::StrCat("--tracking_addr=", tracking_->address()),
          "--auth=false",
          "--workers=4",
          "--shutdown_grace=2s",
          "--webhook_initial_backoff=50ms",
          "--webhook_timeout=2s",
          // Webhooks here go to HttpReceivers on loopback.
          "--webhook_allow_cidrs=127.0.0.0/8"};
}

namespace {
std::vector<std::string> Join(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
}  // namespace

void FaultTest::StartPlanning(std::vector<std::string> extra) {
  OKR_ASSERT_OK_AND_ASSIGN(
      planning_, ServiceProcess::Start({.binary = "okr-planning",
                                        .args = Join(PlanningArgs(), extra),
                                        .log_path = dir_.File("planning.log")}));
  plan_ = v1::PlanningService::NewStub(
      grpc::CreateChannel(planning_->address(), grpc::InsecureChannelCredentials()));
}

void FaultTest::StartTracking(std::vector<std::string> extra) {
  OKR_ASSERT_OK_AND_ASSIGN(
      tracking_, ServiceProcess::Start({.binary = "okr-tracking",
                                        .args = Join(TrackingArgs(), extra),
                                        .log_path = dir_.File("tracking.log")}));
  track_ = v1::TrackingService::NewStub(
      grpc::CreateChannel(tracking_->address(), grpc::InsecureChannelCredentials()));
}

void FaultTest::StartNotify(std::vector<std::string> extra) {
  OKR_ASSERT_OK_AND_ASSIGN(
      notify_, ServiceProcess::Start({.binary = "okr-notify",
                                      .args = Join(NotifyArgs(), extra),
                                      .log_path = dir_.File("notify.log")}));
  notify_stub_ = v1::NotifyService::NewStub(
      grpc::CreateChannel(notify_->address(), grpc::InsecureChannelCredentials()));
}

// --- The plan ---------------------------------------------------------------------

v1::Objective FaultTest::MakeObjective(absl::string_view title, absl::string_view owner) {
  v1::CreateObjectiveRequest request;
  v1::Objective* objective = request.mutable_objective();
  objective->set_title(std::string(title));
  objective->set_level(v1::LEVEL_INDIVIDUAL);
  objective->set_owner_id(std::string(owner));
  objective->set_cycle_id(quarter_.id());
  objective->set_kind(v1::OBJECTIVE_KIND_ASPIRATIONAL);
  objective->set_state(v1::OBJECTIVE_STATE_PUBLISHED);
  objective->set_progress_source(v1::PROGRESS_SOURCE_KEY_RESULTS);
  v1::Objective created;
  const grpc::Status status = Call(plan_.get(), &PlanStub::CreateObjective, request, &created);
  EXPECT_TRUE(status.ok()) << title << ": " << status.error_message();
  if (status.ok()) objective_ids_.push_back(created.id());
  return created;
}

void FaultTest::MakeKr(absl::string_view objective, absl::string_view owner, double from,
                       double to) {
  v1::CreateKeyResultRequest request;
  v1::KeyResult* kr = request.mutable_key_result();
  kr->set_objective_id(std::string(objective));
  kr->set_title(absl::StrCat("Key result ", krs_.size() + 1));
  kr->set_data_source(v1::DATA_SOURCE_MANUAL);
  kr->set_type(v1::KEY_RESULT_TYPE_METRIC);
  kr->set_measure(v1::MEASURE_KPI);
  kr->set_start_value(from);
  kr->set_target_value(to);
  v1::KeyResult created;
  const grpc::Status status = Call(plan_.get(), &PlanStub::CreateKeyResult, request, &created);
  EXPECT_TRUE(status.ok()) << kr->title() << ": " << status.error_message();
  if (status.ok()) krs_.push_back({created.id(), std::string(owner), from, to});
}

void FaultTest::BuildPlan(int people) {
  v1::BootstrapOrganisationRequest boot;
  boot.set_organisation_id(std::string(kOrg));
  boot.mutable_organisation()->set_name("Acme");
  boot.mutable_organisation()->set_time_zone(std::string(kZone));
  boot.mutable_organisation()->set_fiscal_year_start_month(1);
  v1::Organisation organisation;
  FAULT_ASSERT_GRPC_OK(
      Call(plan_.get(), &PlanStub::BootstrapOrganisation, boot, &organisation));

  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), tz_);
  v1::CreateFiscalYearRequest fy;
  fy.set_fiscal_year(static_cast<int>(today.year()));
  v1::CreateFiscalYearResponse year;
  FAULT_ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::CreateFiscalYear, fy, &year));
  bool found = false;
  for (const v1::Cycle& q : year.quarters()) {
    if (DayOf(q.start_date()) <= today && today < DayOf(q.end_date())) {
      quarter_ = q;
      found = true;
    }
  }
  ASSERT_TRUE(found) << "no quarter of FY" << today.year() << " contains " << today;
  for (v1::Cycle* cycle : {year.mutable_year(), &quarter_}) {
    v1::UpdateCycleStateRequest request;
    request.set_id(cycle->id());
    request.set_state(v1::CYCLE_STATE_ACTIVE);
    request.set_version(cycle->version());
    v1::Cycle updated;
    FAULT_ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::UpdateCycleState, request, &updated));
    *cycle = updated;
  }

  for (int i = 0; i < people; ++i) {
    v1::CreatePersonRequest request;
    request.mutable_person()->set_display_name(absl::StrCat("Person ", i));
    request.mutable_person()->set_email(absl::StrCat("person", i, "@acme.example"));
    v1::Person person;
    FAULT_ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::CreatePerson, request, &person));
    people_.push_back(person.id());
  }
  ASSERT_FALSE(people_.empty());

  // The company objective rolls up its aligned children (BOTH: its own key
  // result too), so a check-in anywhere moves it.
  {
    v1::CreateObjectiveRequest request;
    v1::Objective* objective = request.mutable_objective();
    objective->set_title("Delight customers");
    objective->set_level(v1::LEVEL_INDIVIDUAL);
    objective->set_owner_id(people_[0]);
    objective->set_cycle_id(quarter_.id());
    objective->set_kind(v1::OBJECTIVE_KIND_ASPIRATIONAL);
    objective->set_state(v1::OBJECTIVE_STATE_PUBLISHED);
    objective->set_progress_source(v1::PROGRESS_SOURCE_BOTH);
    v1::Objective created;
    FAULT_ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::CreateObjective, request, &created));
    company_objective_ = created.id();
    objective_ids_.push_back(created.id());
    MakeKr(created.id(), people_[0], 0, 10);
  }
  for (size_t i = 0; i < people_.size(); ++i) {
    const v1::Objective objective =
        MakeObjective(absl::StrCat("Objective of person ", i), people_[i]);
    ASSERT_FALSE(HasFailure());
    v1::AlignObjectiveRequest align;
    align.set_objective_id(objective.id());
    align.set_parent_objective_id(company_objective_);
    align.set_weight(static_cast<double>(i % 3 + 1));
    align.set_version(objective.version());
    v1::Objective aligned;
    FAULT_ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::AlignObjective, align, &aligned));
    MakeKr(objective.id(), people_[i], 0, 100);
    MakeKr(objective.id(), people_[i], 50, 10);
    ASSERT_FALSE(HasFailure());
  }
}

v1::RecordCheckInRequest FaultTest::CheckInNumber(int n, absl::string_view client_key) const {
  const PlanKr& kr = krs_[static_cast<size_t>(n) % krs_.size()];
  v1::RecordCheckInRequest request;
  request.set_key_result_id(kr.id);
  request.set_client_key(std::string(client_key));
  request.set_author_id(kr.owner_id);
  request.set_value(kr.from + (kr.to - kr.from) * (((n * 37) % 130) / 100.0 - 0.15));
  if (n % 3 == 0) request.set_confidence(n % 11);
  // Distinct times, oldest first, so "latest" never depends on arrival order.
  const absl::Time start = StartOfDay(DayOf(quarter_.start_date()), tz_) + absl::Seconds(1);
  const absl::Duration room = absl::Now() - absl::Minutes(1) - start;
  const absl::Duration step =
      std::max(absl::Microseconds(1), std::min(absl::Minutes(1), room / 5000));
  *request.mutable_time() = ToProto(start + step * n);
  return request;
}

// --- Reading back -------------------------------------------------------------------

std::vector<v1::Objective> FaultTest::AllObjectives() {
  std::vector<v1::Objective> all;
  v1::ListObjectivesRequest request;
  request.set_page_size(500);
  for (int guard = 0; guard < 100; ++guard) {
    v1::ListObjectivesResponse page;
    const grpc::Status status = Call(plan_.get(), &PlanStub::ListObjectives, request, &page);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    all.insert(all.end(), page.objectives().begin(), page.objectives().end());
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  return all;
}

std::vector<v1::KeyResult> FaultTest::AllKeyResults() {
  std::vector<v1::KeyResult> all;
  v1::ListKeyResultsRequest request;
  request.set_page_size(500);
  for (int guard = 0; guard < 100; ++guard) {
    v1::ListKeyResultsResponse page;
    const grpc::Status status = Call(plan_.get(), &PlanStub::ListKeyResults, request, &page);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    all.insert(all.end(), page.key_results().begin(), page.key_results().end());
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  return all;
}

std::vector<v1::CheckIn> FaultTest::AllCheckIns(absl::string_view kr) {
  std::vector<v1::CheckIn> all;
  v1::ListCheckInsRequest request;
  request.set_key_result_id(std::string(kr));
  request.set_page_size(500);
  for (int guard = 0; guard < 100; ++guard) {
    v1::ListCheckInsResponse page;
    const grpc::Status status = Call(track_.get(), &TrackStub::ListCheckIns, request, &page);
    EXPECT_TRUE(status.ok()) << kr << ": " << status.error_message();
    if (!status.ok()) break;
    all.insert(all.end(), page.check_ins().begin(), page.check_ins().end());
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  return all;
}

std::map<std::string, v1::CheckIn> FaultTest::StoredCheckIns() {
  std::map<std::string, v1::CheckIn> stored;
  for (const PlanKr& kr : krs_) {
    for (const v1::CheckIn& c : AllCheckIns(kr.id)) {
      EXPECT_TRUE(stored.emplace(c.client_key(), c).second)
          << "client key " << c.client_key() << " stored twice";
    }
  }
  return stored;
}

Scores FaultTest::Recompute() {
  Scores expected;
  std::vector<Objective> objectives;
  for (const v1::Objective& o : AllObjectives()) {
    Objective model;
    EXPECT_TRUE(FromProto(o, "objective", &model).ok()) << o.id();
    objectives.push_back(std::move(model));
  }
  std::vector<KeyResult> key_results;
  for (const v1::KeyResult& kr : AllKeyResults()) {
    KeyResult model;
    EXPECT_TRUE(FromProto(kr, "key_result", &model).ok()) << kr.id();
    key_results.push_back(std::move(model));
  }
  std::vector<CheckIn> check_ins;
  for (const PlanKr& kr : krs_) {
    const std::vector<v1::CheckIn> listed = AllCheckIns(kr.id);
    expected.check_in_counts[kr.id] = static_cast<int64_t>(listed.size());
    for (const v1::CheckIn& c : listed) {
      CheckIn model;
      EXPECT_TRUE(FromProto(c, "check_in", &model).ok()) << c.id();
      check_ins.push_back(std::move(model));
    }
  }
  absl::StatusOr<ScoreGraph> graph = ScoreGraph::Build(objectives, key_results, check_ins);
  EXPECT_TRUE(graph.ok()) << graph.status();
  if (!graph.ok()) return expected;
  for (const Objective& o : objectives) expected.objectives[o.id] = graph->ScoreOf(o.id).value_or(-1);
  for (const KeyResult& kr : key_results) {
    expected.key_results[kr.id] = graph->ProgressOf(kr.id).value_or(-1);
  }
  return expected;
}

Scores FaultTest::ReadScores() {
  Scores scores;
  v1::GetScoredTreeRequest request;
  request.set_cycle_id(quarter_.id());
  v1::ScoredTree tree;
  const grpc::Status status = Call(track_.get(), &TrackStub::GetScoredTree, request, &tree);
  EXPECT_TRUE(status.ok()) << status.error_message();
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
    const grpc::Status read = Call(track_.get(), &TrackStub::GetObjectiveScore, one, &score);
    EXPECT_TRUE(read.ok()) << id << ": " << read.error_message();
    EXPECT_NEAR(score.score(), scores.objectives[id], kTolerance)
        << "GetObjectiveScore and the scored tree disagree on " << id;
  }
  return scores;
}

namespace {
bool Near(const std::map<std::string, double>& a, const std::map<std::string, double>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [id, value] : a) {
    auto it = b.find(id);
    if (it == b.end() || std::abs(it->second - value) > kTolerance) return false;
  }
  return true;
}
}  // namespace

void FaultTest::ExpectServes(const Scores& want) {
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  Scores got = ReadScores();
  while (!(Near(got.objectives, want.objectives) && Near(got.key_results, want.key_results) &&
           got.check_in_counts == want.check_in_counts) &&
         absl::Now() < deadline && !HasFailure()) {
    absl::SleepFor(absl::Milliseconds(200));
    got = ReadScores();
  }
  EXPECT_EQ(got.objectives.size(), want.objectives.size());
  for (const auto& [id, score] : want.objectives) {
    ASSERT_TRUE(got.objectives.contains(id)) << "objective " << id << " not in the tree";
    EXPECT_NEAR(got.objectives[id], score, kTolerance) << "objective " << id;
  }
  for (const auto& [id, progress] : want.key_results) {
    ASSERT_TRUE(got.key_results.contains(id)) << "key result " << id << " not in the tree";
    EXPECT_NEAR(got.key_results[id], progress, kTolerance) << "key result " << id;
    EXPECT_EQ(got.check_in_counts[id], want.check_in_counts.at(id)) << "key result " << id;
  }
}

}  // namespace okr::fault
