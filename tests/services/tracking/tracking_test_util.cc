#include "tests/services/tracking/tracking_test_util.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/calendar.h"
#include "services/planning/org_state.h"

namespace okr::tracking {
namespace {

// Unwraps a setup step's result, or fails the test and returns a default.
template <typename T>
T Must(absl::StatusOr<T> result, absl::string_view step) {
  if (!result.ok()) {
    ADD_FAILURE() << "setup step " << step << " failed: " << result.status();
    return T{};
  }
  return *std::move(result);
}

absl::TimeZone LoadZoneOrDie(absl::string_view name) {
  absl::StatusOr<absl::TimeZone> zone = LoadZone(name);
  if (!zone.ok()) {
    ADD_FAILURE() << zone.status();
    return absl::UTCTimeZone();
  }
  return *zone;
}

bool IsPathChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
         c == '[' || c == ']';
}

}  // namespace

::testing::AssertionResult IsFieldError(const absl::Status& status, absl::StatusCode code,
                                        absl::string_view field) {
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "expected " << absl::StatusCodeToString(code) << " naming '" << field
           << "', got " << status;
  }
  const std::string needle = absl::StrCat(field, ":");
  const absl::string_view message = status.message();
  for (size_t at = message.find(needle); at != absl::string_view::npos;
       at = message.find(needle, at + 1)) {
    if (at == 0 || !IsPathChar(message[at - 1])) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "the message does not name '" << field << "': " << status;
}

TrackingTest::TrackingTest()
    : zone_(LoadZoneOrDie(kTimeZone)) {
  now_ = absl::FromCivil(absl::CivilSecond(2026, 3, 18, 10, 0, 0), zone_);
  planning_ = std::make_unique<planning::Planning>(
      &plan_store_, planning::PlanningOptions{.clock = [this] { return now_; }});
  plan_source_ = std::make_unique<PlanningPlanSource>(planning_.get());
  options_.clock = [this] { return now_; };

  Organisation org;
  org.name = "Acme Retail";
  org.fiscal_year_start_month = 2;
  org.time_zone = kTimeZone;
  org.planning_profile = PlanningProfile::kSmall;
  Must(planning_->BootstrapOrganisation(kOrg, org, planning::RequestKey{}),
       "BootstrapOrganisation");
  author_ = MakePerson("Ada Chief");
  planning::FiscalYear fy =
      Must(planning_->CreateFiscalYear(kOrg, 2027, /*include_months=*/false,
                                       /*check_in_grace_days=*/std::nullopt,
                                       planning::RequestKey{}),
           "CreateFiscalYear");
  if (fy.quarters.size() == 4) {
    year_ = AdvanceCycle(fy.year.id, CycleState::kActive);
    q1_ = AdvanceCycle(fy.quarters[0].id, CycleState::kActive);
    q2_ = fy.quarters[1];
  } else {
    ADD_FAILURE() << "FY2027 has " << fy.quarters.size() << " quarters";
  }
  Restart();
}

TrackingTest::~TrackingTest() = default;

void TrackingTest::Restart() {
  tracking_.reset();  // one process at a time over the stores
  tracking_ = std::make_unique<Tracking>(&store_, plan_source_.get(), cache_.get(), options_);
}

bool TrackingTest::EnableCache() {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  if (!server.ok()) {
    ADD_FAILURE() << "redis-server did not start: " << server.status();
    return false;
  }
  redis_server_ = *std::move(server);
  RedisOptions options;
  options.host = redis_server_->host();
  options.port = redis_server_->port();
  // A stopped server must fail fast, not stall every test step.
  options.reconnect_backoff = absl::ZeroDuration();
  tracking_.reset();
  cache_.reset();
  redis_ = std::make_unique<RedisClient>(options);
  cache_ = std::make_unique<RollupCache>(redis_.get());
  Restart();
  return true;
}

absl::Time TrackingTest::StartOf(absl::CivilDay day) const { return StartOfDay(day, zone_); }

// --- Plan builders ---------------------------------------------------------------

Person TrackingTest::MakePerson(const std::string& display_name) {
  Person person;
  person.display_name = display_name;
  std::string local = absl::AsciiStrToLower(display_name);
  absl::StrReplaceAll({{" ", "."}}, &local);
  person.email = absl::StrCat(local, "@acme.example");
  return Must(planning_->CreatePerson(kOrg, person, planning::RequestKey{}), "CreatePerson");
}

Objective TrackingTest::MakeObjective(const std::string& title, const Id& owner_id,
                                      const ObjectiveSpec& spec) {
  Objective o;
  o.title = title;
  o.owner_id = owner_id;
  o.cycle_id = spec.cycle_id.empty() ? q1_.id : spec.cycle_id;
  o.kind = spec.kind;
  o.level = spec.level;
  o.team_id = spec.team_id;
  o.state = spec.state;
  o.progress_source = spec.progress_source;
  return Must(planning_->CreateObjective(kOrg, o, planning::RequestKey{}),
              absl::StrCat("CreateObjective ", title));
}

KeyResult TrackingTest::MakeMetricKr(const Id& objective_id, const std::string& title,
                                     double from, double to, double weight,
                                     const Id& owner_id) {
  KeyResult kr;
  kr.objective_id = objective_id;
  kr.title = title;
  kr.owner_id = owner_id;
  kr.type = KeyResultType::kMetric;
  kr.measure = Measure::kKpi;
  kr.from = from;
  kr.to = to;
  kr.direction = to >= from ? Direction::kIncrease : Direction::kDecrease;
  kr.weight = weight;
  kr.data_source = DataSource::kManual;
  return Must(planning_->CreateKeyResult(kOrg, kr, planning::RequestKey{}),
              absl::StrCat("CreateKeyResult ", title));
}

KeyResult TrackingTest::MakeThresholdKr(const Id& objective_id, const std::string& title,
                                        double from, double threshold, Direction direction,
                                        double weight) {
  KeyResult kr;
  kr.objective_id = objective_id;
  kr.title = title;
  kr.type = KeyResultType::kMetric;
  kr.measure = Measure::kKpi;
  kr.from = from;
  kr.to = threshold;
  kr.direction = direction;
  kr.weight = weight;
  kr.data_source = DataSource::kManual;
  return Must(planning_->CreateKeyResult(kOrg, kr, planning::RequestKey{}),
              absl::StrCat("CreateKeyResult ", title));
}

KeyResult TrackingTest::MakeMilestoneKr(const Id& objective_id, const std::string& title,
                                        double weight) {
  KeyResult kr;
  kr.objective_id = objective_id;
  kr.title = title;
  kr.type = KeyResultType::kMilestone;
  kr.weight = weight;
  kr.data_source = DataSource::kManual;
  return Must(planning_->CreateKeyResult(kOrg, kr, planning::RequestKey{}),
              absl::StrCat("CreateKeyResult ", title));
}

Objective TrackingTest::Align(const Id& child_id, const Id& parent_id, double weight) {
  const Objective child = Must(planning_->GetObjective(kOrg, child_id), "GetObjective");
  return Must(planning_->AlignObjective(kOrg, child_id, parent_id, weight, child.version),
              "AlignObjective");
}

Objective TrackingTest::Cascade(const Id& key_result_id, const Id& owner_id,
                                const std::string& title, double weight,
                                const ObjectiveSpec& spec) {
  Objective child;
  child.title = title;
  child.owner_id = owner_id;
  child.cycle_id = spec.cycle_id;  // empty: the parent's
  child.kind = spec.kind;
  child.level = spec.level;
  child.team_id = spec.team_id;
  child.state = spec.state;
  child.progress_source = spec.progress_source;
  return Must(planning_->CascadeKeyResult(kOrg, key_result_id, child, weight,
                                          planning::RequestKey{}),
              "CascadeKeyResult");
}

KeyResult TrackingTest::SetKrWeight(const Id& key_result_id, double weight) {
  KeyResult kr = Must(planning_->GetKeyResult(kOrg, key_result_id), "GetKeyResult");
  const int64_t version = kr.version;
  kr.weight = weight;
  return Must(planning_->UpdateKeyResult(kOrg, kr, {"weight"}, version), "UpdateKeyResult");
}

KeyResult TrackingTest::SetProgressFromChildren(const Id& key_result_id, bool on) {
  KeyResult kr = Must(planning_->GetKeyResult(kOrg, key_result_id), "GetKeyResult");
  const int64_t version = kr.version;
  kr.progress_from_children = on;
  return Must(planning_->UpdateKeyResult(kOrg, kr, {"progress_from_children"}, version),
              "UpdateKeyResult");
}

KeyResult TrackingTest::ArchiveKr(const Id& key_result_id) {
  const KeyResult kr = Must(planning_->GetKeyResult(kOrg, key_result_id), "GetKeyResult");
  return Must(planning_->ArchiveKeyResult(kOrg, key_result_id, kr.version),
              "ArchiveKeyResult");
}

Objective TrackingTest::SetObjectiveState(const Id& objective_id, ObjectiveState state) {
  Objective o = Must(planning_->GetObjective(kOrg, objective_id), "GetObjective");
  const int64_t version = o.version;
  o.state = state;
  return Must(planning_->UpdateObjective(kOrg, o, {"state"}, version), "UpdateObjective");
}

Cycle TrackingTest::AdvanceCycle(const Id& cycle_id, CycleState state) {
  Cycle cycle = Must(planning_->GetCycle(kOrg, cycle_id), "GetCycle");
  while (cycle.state != state && cycle.state != CycleState::kClosed &&
         cycle.state != CycleState::kUnspecified) {
    const CycleState next = static_cast<CycleState>(static_cast<int>(cycle.state) + 1);
    absl::StatusOr<Cycle> moved =
        planning_->UpdateCycleState(kOrg, cycle_id, next, cycle.version);
    if (!moved.ok()) {
      ADD_FAILURE() << "UpdateCycleState " << Name(next) << ": " << moved.status();
      break;
    }
    cycle = *std::move(moved);
  }
  if (cycle.state != state) ADD_FAILURE() << "cycle " << cycle_id << " is " << Name(cycle.state);
  return cycle;
}

Cycle TrackingTest::SetCycleGraceDays(const Id& cycle_id, std::optional<int> days) {
  Cycle cycle = Must(planning_->GetCycle(kOrg, cycle_id), "GetCycle");
  const int64_t version = cycle.version;
  cycle.check_in_grace_days = days;
  return Must(planning_->UpdateCycle(kOrg, cycle, {"check_in_grace_days"}, version),
              "UpdateCycle");
}

Organisation TrackingTest::SetOrgGraceDays(std::optional<int> days) {
  Organisation org = Must(planning_->GetOrganisation(kOrg), "GetOrganisation");
  const int64_t version = org.version;
  org.check_in_grace_days = days;
  return Must(planning_->UpdateOrganisation(kOrg, org, {"check_in_grace_days"}, version),
              "UpdateOrganisation");
}

Cycle TrackingTest::GetCycle(const Id& cycle_id) {
  return Must(planning_->GetCycle(kOrg, cycle_id), "GetCycle");
}

// --- Tracking helpers ---------------------------------------------------------------

v1::RecordCheckInRequest TrackingTest::ValueRequest(const Id& key_result_id, double value) {
  v1::RecordCheckInRequest request;
  request.set_key_result_id(key_result_id);
  request.set_client_key(absl::StrCat("ck-", ++next_client_key_));
  request.set_author_id(author_.id);
  request.set_value(value);
  return request;
}

v1::RecordCheckInRequest TrackingTest::DoneRequest(const Id& key_result_id, bool done) {
  v1::RecordCheckInRequest request;
  request.set_key_result_id(key_result_id);
  request.set_client_key(absl::StrCat("ck-", ++next_client_key_));
  request.set_author_id(author_.id);
  request.set_done(done);
  return request;
}

v1::RecordCheckInResponse TrackingTest::CheckIn(const v1::RecordCheckInRequest& request) {
  v1::RecordCheckInResponse response;
  absl::Status status = tracking_->RecordCheckIn(kOrg, request, &response);
  if (!status.ok()) {
    ADD_FAILURE() << "RecordCheckIn " << request.ShortDebugString() << ": " << status;
    return v1::RecordCheckInResponse();
  }
  return response;
}

v1::RecordCheckInResponse TrackingTest::CheckIn(const Id& key_result_id, double value) {
  return CheckIn(ValueRequest(key_result_id, value));
}

v1::RecordCheckInResponse TrackingTest::CheckInDone(const Id& key_result_id, bool done) {
  return CheckIn(DoneRequest(key_result_id, done));
}

absl::Status TrackingTest::TryCheckIn(const v1::RecordCheckInRequest& request) {
  v1::RecordCheckInResponse response;
  return tracking_->RecordCheckIn(kOrg, request, &response);
}

v1::KeyResultScore TrackingTest::KrScore(const Id& key_result_id) {
  v1::GetKeyResultScoreRequest request;
  request.set_key_result_id(key_result_id);
  v1::KeyResultScore score;
  absl::Status status = tracking_->GetKeyResultScore(kOrg, request, &score);
  if (!status.ok()) {
    ADD_FAILURE() << "GetKeyResultScore " << key_result_id << ": " << status;
    return v1::KeyResultScore();
  }
  return score;
}

v1::ObjectiveScore TrackingTest::ObjScore(const Id& objective_id, bool include_key_results) {
  v1::GetObjectiveScoreRequest request;
  request.set_objective_id(objective_id);
  request.set_include_key_results(include_key_results);
  v1::ObjectiveScore score;
  absl::Status status = tracking_->GetObjectiveScore(kOrg, request, &score);
  if (!status.ok()) {
    ADD_FAILURE() << "GetObjectiveScore " << objective_id << ": " << status;
    return v1::ObjectiveScore();
  }
  return score;
}

absl::StatusOr<ScoreGraph> TrackingTest::Recompute(const std::vector<okr::CheckIn>& check_ins) {
  std::vector<Objective> objectives;
  std::vector<KeyResult> key_results;
  absl::Status status = planning_->Read(kOrg, [&](const planning::OrgState& state) {
    for (const auto& [id, o] : state.objectives()) objectives.push_back(o);
    for (const auto& [id, kr] : state.key_results()) key_results.push_back(kr);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return ScoreGraph::Build(objectives, key_results, check_ins);
}

}  // namespace okr::tracking
