// Service tests of okr-planning: the real binary on a free loopback port with
// a temporary SQLite store, called through the generated stub with deadlines.
// They check the contract of proto/okr/v1/planning.proto: each RPC's success
// path, the error codes its comment lists (with the BadRequest field for
// INVALID_ARGUMENT), idempotent creates, restarts, the change feed and its
// stream, and the message size limit.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/planning.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Stub = v1::PlanningService::Stub;

constexpr absl::string_view kOrg = "acme";
constexpr absl::Duration kCallTimeout = absl::Seconds(20);

// True when `status` carries a BadRequest violation of exactly `field`.
::testing::AssertionResult HasViolation(const grpc::Status& status,
                                        absl::string_view field) {
  const std::vector<FieldViolation> violations =
      FieldViolationsOf(ToAbslStatus(status));
  std::vector<std::string> fields;
  for (const FieldViolation& v : violations) {
    if (v.field == field) return ::testing::AssertionSuccess();
    fields.push_back(v.field);
  }
  return ::testing::AssertionFailure()
         << "no violation of '" << field << "' in [" << absl::StrJoin(fields, ", ")
         << "]; code " << status.error_code() << ": " << status.error_message();
}

#define EXPECT_CODE(status, code)                                  \
  do {                                                             \
    const grpc::Status okr_s_ = (status);                          \
    EXPECT_EQ(okr_s_.error_code(), grpc::StatusCode::code)         \
        << okr_s_.error_message();                                 \
  } while (false)

#define ASSERT_GRPC_OK(status)                                              \
  do {                                                                      \
    const grpc::Status okr_s_ = (status);                                   \
    ASSERT_TRUE(okr_s_.ok()) << okr_s_.error_code() << ": "                 \
                             << okr_s_.error_message();                     \
  } while (false)

class PlanningServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OKR_ASSERT_OK_AND_ASSIGN(
        process_,
        ServiceProcess::Start(
            {.binary = "okr-planning",
             .args = {"--auth=false", absl::StrCat("--store=sqlite:", dir_.File("plan.db")),
                      "--workers=4", "--shutdown_grace=5s"},
             .log_path = dir_.File("planning.log")}));
    Connect();
  }

  void Connect() {
    channel_ = grpc::CreateChannel(process_->address(),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::PlanningService::NewStub(channel_);
  }

  // Restarts the binary on the same store. The channel goes first: an idle
  // client reads the server's GOAWAY only when gRPC's backup poller runs
  // (every 5 s), and the server's drain waits for the connection to close.
  void Restart() {
    stub_.reset();
    channel_.reset();
    const absl::Time stop = absl::Now();
    absl::StatusOr<ExitStatus> exit = process_->Stop();
    EXPECT_LT(absl::Now() - stop, absl::Seconds(3));
    ASSERT_TRUE(exit.ok()) << exit.status();
    ASSERT_TRUE(exit->success()) << exit->ToString();
    OKR_ASSERT_OK(process_->Restart());
    Connect();
  }

  // One unary call with a deadline and, unless `org` is empty, the
  // organisation metadata.
  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                 const Request&, Response*),
                    const std::type_identity_t<Request>& request,
                    Response* response, absl::string_view org = kOrg) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    if (!org.empty()) {
      context.AddMetadata("okr-organisation-id", std::string(org));
    }
    return (stub_.get()->*method)(&context, request, response);
  }

  // --- Builders ---------------------------------------------------------------

  grpc::Status Bootstrap(absl::string_view org, v1::Organisation* out,
                         absl::string_view request_id = "") {
    v1::BootstrapOrganisationRequest request;
    request.set_organisation_id(std::string(org));
    request.mutable_organisation()->set_name("Acme Retail");
    request.mutable_organisation()->set_time_zone("Europe/Berlin");
    request.mutable_organisation()->set_mission("Delight every shopper");
    request.set_request_id(std::string(request_id));
    return Call(&Stub::BootstrapOrganisation, request, out, "");
  }

  v1::Person MakePerson(absl::string_view name, absl::string_view email) {
    v1::CreatePersonRequest request;
    request.mutable_person()->set_display_name(std::string(name));
    request.mutable_person()->set_email(std::string(email));
    v1::Person person;
    const grpc::Status status = Call(&Stub::CreatePerson, request, &person);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return person;
  }

  v1::Team MakeTeam(absl::string_view name, absl::string_view parent = "") {
    v1::CreateTeamRequest request;
    request.mutable_team()->set_name(std::string(name));
    request.mutable_team()->set_parent_team_id(std::string(parent));
    v1::Team team;
    const grpc::Status status = Call(&Stub::CreateTeam, request, &team);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return team;
  }

  v1::CreateFiscalYearResponse MakeFiscalYear(int year) {
    v1::CreateFiscalYearRequest request;
    request.set_fiscal_year(year);
    v1::CreateFiscalYearResponse response;
    const grpc::Status status = Call(&Stub::CreateFiscalYear, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  static v1::Objective ObjectiveIn(absl::string_view title,
                                   absl::string_view cycle,
                                   absl::string_view owner) {
    v1::Objective objective;
    objective.set_title(std::string(title));
    objective.set_level(v1::LEVEL_COMPANY);
    objective.set_owner_id(std::string(owner));
    objective.set_cycle_id(std::string(cycle));
    objective.set_kind(v1::OBJECTIVE_KIND_COMMITTED);
    return objective;
  }

  v1::Objective MakeObjective(const v1::Objective& objective) {
    v1::CreateObjectiveRequest request;
    *request.mutable_objective() = objective;
    v1::Objective created;
    const grpc::Status status = Call(&Stub::CreateObjective, request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  static v1::KeyResult MetricKr(absl::string_view objective,
                                absl::string_view title, double from,
                                double to) {
    v1::KeyResult kr;
    kr.set_objective_id(std::string(objective));
    kr.set_title(std::string(title));
    kr.set_type(v1::KEY_RESULT_TYPE_METRIC);
    kr.set_measure(v1::MEASURE_KPI);
    kr.set_start_value(from);
    kr.set_target_value(to);
    kr.set_unit("%");
    return kr;
  }

  v1::KeyResult MakeKr(const v1::KeyResult& kr) {
    v1::CreateKeyResultRequest request;
    *request.mutable_key_result() = kr;
    v1::KeyResult created;
    const grpc::Status status = Call(&Stub::CreateKeyResult, request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  // Bootstraps kOrg with one person, one team and FY2027 with its quarters.
  void SeedBasics() {
    v1::Organisation org;
    ASSERT_GRPC_OK(Bootstrap(kOrg, &org));
    alex_ = MakePerson("Alex Rivera", "alex@acme.example");
    leadership_ = MakeTeam("Leadership");
    fy_ = MakeFiscalYear(2027);
    ASSERT_EQ(fy_.quarters_size(), 4);
  }

  TempDir dir_{"okr-planning-service-test"};
  std::unique_ptr<ServiceProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
  v1::Person alex_;
  v1::Team leadership_;
  v1::CreateFiscalYearResponse fy_;
};

// --- Tenancy --------------------------------------------------------------------

TEST_F(PlanningServiceTest, CallsWithoutOrganisationAreUnauthenticated) {
  v1::Organisation org;
  const grpc::Status status =
      Call(&Stub::GetOrganisation, v1::GetOrganisationRequest(), &org, "");
  EXPECT_CODE(status, UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("okr-organisation-id"));
  v1::ListObjectivesResponse objectives;
  EXPECT_CODE(Call(&Stub::ListObjectives, v1::ListObjectivesRequest(),
                   &objectives, ""),
              UNAUTHENTICATED);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
  auto reader = stub_->WatchPlanChanges(&context, v1::WatchPlanChangesRequest());
  v1::PlanChange change;
  EXPECT_FALSE(reader->Read(&change));
  EXPECT_CODE(reader->Finish(), UNAUTHENTICATED);
}

TEST_F(PlanningServiceTest, LintRulesAndTemplatesNeedNoOrganisation) {
  v1::ListLintRulesResponse rules;
  ASSERT_GRPC_OK(
      Call(&Stub::ListLintRules, v1::ListLintRulesRequest(), &rules, ""));
  ASSERT_THAT(rules.rules(), Not(IsEmpty()));
  EXPECT_EQ(rules.total_size(), rules.rules_size());
  for (const v1::LintRule& rule : rules.rules()) {
    EXPECT_FALSE(rule.rule_id().empty());
    EXPECT_NE(rule.severity(), v1::LINT_SEVERITY_UNSPECIFIED) << rule.rule_id();
    EXPECT_FALSE(rule.summary().empty()) << rule.rule_id();
  }

  v1::ListTemplatesResponse all;
  ASSERT_GRPC_OK(
      Call(&Stub::ListTemplates, v1::ListTemplatesRequest(), &all, ""));
  ASSERT_THAT(all.templates(), Not(IsEmpty()));
  v1::ListTemplatesRequest by_category;
  by_category.set_category(v1::CATEGORY_PROFIT);
  v1::ListTemplatesResponse profit;
  ASSERT_GRPC_OK(Call(&Stub::ListTemplates, by_category, &profit, ""));
  ASSERT_THAT(profit.templates(), Not(IsEmpty()));
  EXPECT_LT(profit.total_size(), all.total_size());
  for (const v1::OkrTemplate& t : profit.templates()) {
    EXPECT_EQ(t.category(), v1::CATEGORY_PROFIT) << t.id();
  }
  by_category.set_category(static_cast<v1::Category>(42));
  EXPECT_TRUE(HasViolation(
      Call(&Stub::ListTemplates, by_category, &profit, ""), "category"));
}

// --- Organisation ---------------------------------------------------------------

TEST_F(PlanningServiceTest, BootstrapGetAndUpdateOrganisation) {
  v1::Organisation org;
  ASSERT_GRPC_OK(Bootstrap(kOrg, &org, "boot-1"));
  EXPECT_EQ(org.id(), kOrg);
  EXPECT_EQ(org.version(), 1);
  EXPECT_EQ(org.fiscal_year_start_month(), 1);  // the documented default
  EXPECT_EQ(org.planning_profile(), v1::PLANNING_PROFILE_SMALL);

  // Idempotent: the same request again answers the same organisation.
  v1::Organisation again;
  ASSERT_GRPC_OK(Bootstrap(kOrg, &again, "boot-1"));
  EXPECT_EQ(again.version(), 1);
  EXPECT_EQ(again.create_time().seconds(), org.create_time().seconds());
  // The same request_id with other content, or the id taken by another
  // request: ALREADY_EXISTS.
  v1::BootstrapOrganisationRequest other;
  other.set_organisation_id(std::string(kOrg));
  other.mutable_organisation()->set_name("Someone else");
  other.set_request_id("boot-1");
  EXPECT_CODE(Call(&Stub::BootstrapOrganisation, other, &again, ""),
              ALREADY_EXISTS);
  EXPECT_CODE(Bootstrap(kOrg, &again, "boot-2"), ALREADY_EXISTS);
  EXPECT_TRUE(HasViolation(Bootstrap("Not An Id!", &again), "organisation_id"));
  other.set_organisation_id("globex");
  other.mutable_organisation()->set_fiscal_year_start_month(13);
  other.set_request_id("");
  EXPECT_TRUE(HasViolation(Call(&Stub::BootstrapOrganisation, other, &again, ""),
                           "organisation.fiscal_year_start_month"));

  v1::Organisation got;
  ASSERT_GRPC_OK(
      Call(&Stub::GetOrganisation, v1::GetOrganisationRequest(), &got));
  EXPECT_EQ(got.name(), "Acme Retail");
  EXPECT_EQ(got.time_zone(), "Europe/Berlin");
  EXPECT_CODE(Call(&Stub::GetOrganisation, v1::GetOrganisationRequest(), &got,
                   "nobody-here"),
              NOT_FOUND);

  v1::UpdateOrganisationRequest update;
  update.mutable_organisation()->set_fiscal_year_start_month(2);
  update.mutable_organisation()->set_vision("Every town, one store");
  update.mutable_update_mask()->add_paths("fiscal_year_start_month");
  update.mutable_update_mask()->add_paths("vision");
  update.set_version(1);
  v1::Organisation updated;
  ASSERT_GRPC_OK(Call(&Stub::UpdateOrganisation, update, &updated));
  EXPECT_EQ(updated.fiscal_year_start_month(), 2);
  EXPECT_EQ(updated.vision(), "Every town, one store");
  EXPECT_EQ(updated.name(), "Acme Retail");  // not in the mask
  EXPECT_EQ(updated.version(), 2);
  // Stale version, empty mask, bad value.
  EXPECT_CODE(Call(&Stub::UpdateOrganisation, update, &updated), ABORTED);
  update.set_version(2);
  update.clear_update_mask();
  EXPECT_TRUE(HasViolation(Call(&Stub::UpdateOrganisation, update, &updated),
                           "update_mask"));
  update.mutable_update_mask()->add_paths("time_zone");
  update.mutable_organisation()->set_time_zone("Mars/Olympus_Mons");
  EXPECT_TRUE(HasViolation(Call(&Stub::UpdateOrganisation, update, &updated),
                           "organisation.time_zone"));
}

// --- Teams and people -----------------------------------------------------------

TEST_F(PlanningServiceTest, TeamsLifecycleAndErrors) {
  ASSERT_NO_FATAL_FAILURE(SeedBasics());
  const v1::Team sales = MakeTeam("Sales");
  const v1::Team field = MakeTeam("Field Sales", sales.id());
  ASSERT_FALSE(field.id().empty());

  v1::Team got;
  ASSERT_GRPC_OK(Call(&Stub::GetTeam, [&] {
    v1::GetTeamRequest r;
    r.set_id(field.id());
    return r;
  }(), &got));
  EXPECT_EQ(got.parent_team_id(), sales.id());
  v1::GetTeamRequest missing;
  missing.set_id("tm-doesnotexist");
  EXPECT_CODE(Call(&Stub::GetTeam, missing, &got), NOT_FOUND);

  v1::ListTeamsRequest list;
  list.set_page_size(2);
  v1::ListTeamsResponse page1;
  ASSERT_GRPC_OK(Call(&Stub::ListTeams, list, &page1));
  EXPECT_EQ(page1.total_size(), 3);
  ASSERT_EQ(page1.teams_size(), 2);
  ASSERT_FALSE(page1.next_page_token().empty());
  list.set_page_token(page1.next_page_token());
  v1::ListTeamsResponse page2;
  ASSERT_GRPC_OK(Call(&Stub::ListTeams, list, &page2));
  ASSERT_EQ(page2.teams_size(), 1);
  EXPECT_TRUE(page2.next_page_token().empty());
  // Ordered by name across pages.
  EXPECT_LT(page1.teams(1).name(), page2.teams(0).name());
  list.set_page_token("garbage");
  EXPECT_TRUE(HasViolation(Call(&Stub::ListTeams, list, &page2), "page_token"));

  v1::CreateTeamRequest create;
  create.mutable_team()->set_name("Field Sales");
  create.mutable_team()->set_parent_team_id(sales.id());
  EXPECT_CODE(Call(&Stub::CreateTeam, create, &got), ALREADY_EXISTS);
  create.mutable_team()->set_name("");
  EXPECT_TRUE(HasViolation(Call(&Stub::CreateTeam, create, &got), "team.name"));
  create.mutable_team()->set_name("Orphans");
  create.mutable_team()->set_parent_team_id("tm-nope");
  EXPECT_CODE(Call(&Stub::CreateTeam, create, &got), NOT_FOUND);

  v1::UpdateTeamRequest update;
  update.mutable_team()->set_id(field.id());
  update.mutable_team()->set_name("Field Sales EMEA");
  update.mutable_update_mask()->add_paths("name");
  update.set_version(field.version());
  v1::Team renamed;
  ASSERT_GRPC_OK(Call(&Stub::UpdateTeam, update, &renamed));
  EXPECT_EQ(renamed.name(), "Field Sales EMEA");
  EXPECT_EQ(renamed.version(), field.version() + 1);
  EXPECT_CODE(Call(&Stub::UpdateTeam, update, &renamed), ABORTED);
  // A parent that would make a cycle.
  update.mutable_team()->set_id(sales.id());
  update.mutable_team()->set_parent_team_id(field.id());
  update.clear_update_mask();
  update.mutable_update_mask()->add_paths("parent_team_id");
  update.set_version(sales.version());
  EXPECT_CODE(Call(&Stub::UpdateTeam, update, &renamed), INVALID_ARGUMENT);

  google::protobuf::Empty empty;
  v1::DeleteTeamRequest del;
  del.set_id(sales.id());
  del.set_version(sales.version());
  EXPECT_CODE(Call(&Stub::DeleteTeam, del, &empty), FAILED_PRECONDITION);
  del.set_id(field.id());
  del.set_version(field.version());  // stale: it was renamed
  EXPECT_CODE(Call(&Stub::DeleteTeam, del, &empty), ABORTED);
  del.set_version(renamed.version());
  ASSERT_GRPC_OK(Call(&Stub::DeleteTeam, del, &empty));
  missing.set_id(field.id());
  EXPECT_CODE(Call(&Stub::GetTeam, missing, &got), NOT_FOUND);
}

TEST_F(PlanningServiceTest, PeopleLifecycleAndErrors) {
  ASSERT_NO_FATAL_FAILURE(SeedBasics());
  const v1::Person jane = MakePerson("Jane Doe", "jane@acme.example");
  v1::CreatePersonRequest create;
  create.mutable_person()->set_display_name("Other Jane");
  create.mutable_person()->set_email("JANE@acme.example");
  v1::Person person;
  EXPECT_CODE(Call(&Stub::CreatePerson, create, &person), ALREADY_EXISTS);
  create.mutable_person()->set_email("not an address");
  EXPECT_TRUE(
      HasViolation(Call(&Stub::CreatePerson, create, &person), "person.email"));
  create.mutable_person()->set_email("other@acme.example");
  create.mutable_person()->add_team_ids("tm-nope");
  EXPECT_CODE(Call(&Stub::CreatePerson, create, &person), NOT_FOUND);

  v1::ListPeopleRequest list;
  list.set_email("JANE@ACME.EXAMPLE");
  v1::ListPeopleResponse people;
  ASSERT_GRPC_OK(Call(&Stub::ListPeople, list, &people));
  ASSERT_EQ(people.people_size(), 1);
  EXPECT_EQ(people.people(0).id(), jane.id());

  v1::UpdatePersonRequest update;
  update.mutable_person()->set_id(jane.id());
  update.mutable_person()->add_team_ids(leadership_.id());
  update.mutable_update_mask()->add_paths("team_ids");
  update.set_version(jane.version());
  v1::Person updated;
  ASSERT_GRPC_OK(Call(&Stub::UpdatePerson, update, &updated));
  EXPECT_THAT(updated.team_ids(), Contains(leadership_.id()));
  update.set_version(jane.version());
  EXPECT_CODE(Call(&Stub::UpdatePerson, update, &updated), ABORTED);
  update.mutable_person()->set_email(alex_.email());
  update.clear_update_mask();
  update.mutable_update_mask()->add_paths("email");
  update.set_version(updated.version());
  EXPECT_CODE(Call(&Stub::UpdatePerson, update, &updated), ALREADY_EXISTS);

  // Alex owns an objective: deleting him is refused until it moves.
  MakeObjective(ObjectiveIn("Grow", fy_.year().id(), alex_.id()));
  google::protobuf::Empty empty;
  v1::DeletePersonRequest del;
  del.set_id(alex_.id());
  del.set_version(alex_.version());
  EXPECT_CODE(Call(&Stub::DeletePerson, del, &empty), FAILED_PRECONDITION);
  del.set_id(jane.id());
  del.set_version(updated.version());
  ASSERT_GRPC_OK(Call(&Stub::DeletePerson, del, &empty));
  v1::GetPersonRequest get;
  get.set_id(jane.id());
  EXPECT_CODE(Call(&Stub::GetPerson, get, &person), NOT_FOUND);
}

// --- Cycles ---------------------------------------------------------------------

TEST_F(PlanningServiceTest, CyclesLifecycleAndErrors) {
  ASSERT_NO_FATAL_FAILURE(SeedBasics());
  EXPECT_EQ(fy_.year().name(), "FY2027");
  EXPECT_EQ(fy_.year().start_date().year(), 2027);
  EXPECT_EQ(fy_.quarters(1).name(), "FY2027-Q2");
  EXPECT_EQ(fy_.quarters(1).start_date().month(), 4);
  EXPECT_EQ(fy_.quarters(1).parent_cycle_id(), fy_.year().id());
  EXPECT_THAT(fy_.months(), IsEmpty());

  v1::CreateFiscalYearRequest again;
  again.set_fiscal_year(2027);
  v1::CreateFiscalYearResponse response;
  EXPECT_CODE(Call(&Stub::CreateFiscalYear, again, &response), ALREADY_EXISTS);
  again.set_fiscal_year(2028);
  again.set_include_months(true);
  again.set_check_in_grace_days(3);
  ASSERT_GRPC_OK(Call(&Stub::CreateFiscalYear, again, &response));
  EXPECT_EQ(response.months_size(), 12);
  EXPECT_EQ(response.quarters(0).check_in_grace_days(), 3);

  v1::ListCyclesRequest list;
  list.set_kind(v1::CYCLE_KIND_QUARTERLY);
  list.set_parent_cycle_id(fy_.year().id());
  v1::ListCyclesResponse cycles;
  ASSERT_GRPC_OK(Call(&Stub::ListCycles, list, &cycles));
  ASSERT_EQ(cycles.cycles_size(), 4);
  EXPECT_EQ(cycles.cycles(0).id(), fy_.quarters(0).id());
  list.Clear();
  list.mutable_contains_date()->set_year(2027);
  list.mutable_contains_date()->set_month(5);
  list.mutable_contains_date()->set_day(20);
  ASSERT_GRPC_OK(Call(&Stub::ListCycles, list, &cycles));
  EXPECT_EQ(cycles.cycles_size(), 2);  // FY2027 and its Q2
  list.mutable_contains_date()->set_month(2);
  list.mutable_contains_date()->set_day(30);
  EXPECT_TRUE(
      HasViolation(Call(&Stub::ListCycles, list, &cycles), "contains_date"));

  // A second quarter over Q1's dates overlaps.
  v1::CreateCycleRequest create;
  *create.mutable_cycle() = fy_.quarters(0);
  create.mutable_cycle()->clear_id();
  create.mutable_cycle()->set_name("FY2027-Q1-bis");
  v1::Cycle cycle;
  EXPECT_CODE(Call(&Stub::CreateCycle, create, &cycle), FAILED_PRECONDITION);
  create.mutable_cycle()->set_parent_cycle_id("cy-nope");
  EXPECT_CODE(Call(&Stub::CreateCycle, create, &cycle), NOT_FOUND);
  create.mutable_cycle()->set_name("");
  EXPECT_TRUE(HasViolation(Call(&Stub::CreateCycle, create, &cycle), "cycle.name"));

  v1::UpdateCycleStateRequest state;
  state.set_id(fy_.quarters(0).id());
  state.set_state(v1::CYCLE_STATE_ACTIVE);
  state.set_version(fy_.quarters(0).version());
  ASSERT_GRPC_OK(Call(&Stub::UpdateCycleState, state, &cycle));
  EXPECT_EQ(cycle.state(), v1::CYCLE_STATE_ACTIVE);
  EXPECT_CODE(Call(&Stub::UpdateCycleState, state, &cycle), ABORTED);
  state.set_state(v1::CYCLE_STATE_PLANNING);
  state.set_version(cycle.version());
  EXPECT_CODE(Call(&Stub::UpdateCycleState, state, &cycle), FAILED_PRECONDITION);
  state.set_state(static_cast<v1::CycleState>(9));
  EXPECT_TRUE(HasViolation(Call(&Stub::UpdateCycleState, state, &cycle), "state"));

  // Dates of a cycle that is no longer PLANNING.
  v1::UpdateCycleRequest update;
  *update.mutable_cycle() = cycle;
  // A well-formed quarter one day later: refused for the state alone.
  update.mutable_cycle()->mutable_start_date()->set_day(2);
  update.mutable_cycle()->mutable_end_date()->set_day(2);
  update.mutable_update_mask()->add_paths("start_date");
  update.mutable_update_mask()->add_paths("end_date");
  update.set_version(cycle.version());
  v1::Cycle updated;
  EXPECT_CODE(Call(&Stub::UpdateCycle, update, &updated), FAILED_PRECONDITION);
  update.clear_update_mask();
  update.mutable_update_mask()->add_paths("name");
  update.mutable_cycle()->set_name("Q1 2027");
  ASSERT_GRPC_OK(Call(&Stub::UpdateCycle, update, &updated));
  EXPECT_EQ(updated.name(), "Q1 2027");
  v1::GetCycleRequest get;
  get.set_id("cy-nope");
  EXPECT_CODE(Call(&Stub::GetCycle, get, &updated), NOT_FOUND);
}

// --- Objectives and key results ---------------------------------------------------

TEST_F(PlanningServiceTest, ObjectivesAndKeyResults) {
  ASSERT_NO_FATAL_FAILURE(SeedBasics());
  v1::CreateObjectiveRequest create;
  *create.mutable_objective() =
      ObjectiveIn("Earn customer love and trust", fy_.year().id(), alex_.id());
  create.set_request_id("create-obj-1");
  v1::Objective objective;
  ASSERT_GRPC_OK(Call(&Stub::CreateObjective, create, &objective));
  EXPECT_EQ(objective.state(), v1::OBJECTIVE_STATE_DRAFT);
  EXPECT_EQ(objective.version(), 1);
  EXPECT_THAT(objective.id(), Not(IsEmpty()));
  // Idempotent create: one objective, same answer.
  v1::Objective replay;
  ASSERT_GRPC_OK(Call(&Stub::CreateObjective, create, &replay));
  EXPECT_EQ(replay.id(), objective.id());
  create.mutable_objective()->set_title("Something else");
  const grpc::Status reused = Call(&Stub::CreateObjective, create, &replay);
  EXPECT_CODE(reused, ALREADY_EXISTS);
  EXPECT_TRUE(HasViolation(reused, "request_id"));
  v1::ListObjectivesRequest list;
  list.set_cycle_id(fy_.year().id());
  v1::ListObjectivesResponse listed;
  ASSERT_GRPC_OK(Call(&Stub::ListObjectives, list, &listed));
  EXPECT_EQ(listed.total_size(), 1);

  // Bad input names the field; unknown references are NOT_FOUND.
  create.set_request_id(std::string(65, 'r'));
  EXPECT_TRUE(HasViolation(Call(&Stub::CreateObjective, create, &replay),
                           "request_id"));
  create.clear_request_id();
  create.mutable_objective()->set_title("");
  EXPECT_TRUE(HasViolation(Call(&Stub::CreateObjective, create, &replay),
                           "objective.title"));
  create.mutable_objective()->set_title("Fine");
  create.mutable_objective()->set_level(static_cast<v1::Level>(7));
  EXPECT_TRUE(HasViolation(Call(&Stub::CreateObjective, create, &replay),
                           "objective.level"));
  create.mutable_objective()->set_level(v1::LEVEL_COMPANY);
  create.mutable_objective()->set_cycle_id("cy-nope");
  EXPECT_CODE(Call(&Stub::CreateObjective, create, &replay), NOT_FOUND);
  v1::GetObjectiveRequest get;
  get.set_id("ob-nope");
  EXPECT_CODE(Call(&Stub::GetObjective, get, &replay), NOT_FOUND);

  // Key results.
  const v1::KeyResult kr = MakeKr(MetricKr(
      objective.id(), "Increase retention from 95% to 99%", 95, 99));
  EXPECT_EQ(kr.objective_id(), objective.id());
  v1::CreateKeyResultRequest bad_kr;
  *bad_kr.mutable_key_result() =
      MetricKr(objective.id(), "Keep churn flat", 5, 5);
  v1::KeyResult created_kr;
  EXPECT_TRUE(HasViolation(Call(&Stub::CreateKeyResult, bad_kr, &created_kr),
                           "key_result.target_value"));
  bad_kr.mutable_key_result()->set_objective_id("ob-nope");
  bad_kr.mutable_key_result()->set_target_value(6);
  EXPECT_CODE(Call(&Stub::CreateKeyResult, bad_kr, &created_kr), NOT_FOUND);
  v1::ListKeyResultsRequest list_krs;
  list_krs.set_objective_id(objective.id());
  v1::ListKeyResultsResponse krs;
  ASSERT_GRPC_OK(Call(&Stub::ListKeyResults, list_krs, &krs));
  ASSERT_EQ(krs.key_results_size(), 1);
  EXPECT_EQ(krs.key_results(0).id(), kr.id());

  v1::UpdateKeyResultRequest update_kr;
  update_kr.mutable_key_result()->set_id(kr.id());
  update_kr.mutable_key_result()->set_target_value(98);
  update_kr.mutable_update_mask()->add_paths("target_value");
  update_kr.set_version(kr.version());
  v1::KeyResult updated_kr;
  ASSERT_GRPC_OK(Call(&Stub::UpdateKeyResult, update_kr, &updated_kr));
  EXPECT_EQ(updated_kr.target_value(), 98);
  EXPECT_EQ(updated_kr.start_value(), 95);
  EXPECT_CODE(Call(&Stub::UpdateKeyResult, update_kr, &updated_kr), ABORTED);

  // Updates: mask rules and versions.
  v1::UpdateObjectiveRequest update;
  update.mutable_objective()->set_id(objective.id());
  update.mutable_objective()->set_title("Earn customer love");
  update.mutable_objective()->set_state(v1::OBJECTIVE_STATE_PUBLISHED);
  update.mutable_update_mask()->add_paths("title");
  update.mutable_update_mask()->add_paths("state");
  update.set_version(objective.version());
  v1::Objective updated;
  ASSERT_GRPC_OK(Call(&Stub::UpdateObjective, update, &updated));
  EXPECT_EQ(updated.title(), "Earn customer love");
  EXPECT_EQ(updated.state(), v1::OBJECTIVE_STATE_PUBLISHED);
  EXPECT_EQ(updated.version(), 2);
  EXPECT_CODE(Call(&Stub::UpdateObjective, update, &updated), ABORTED);
  update.set_version(2);
  update.mutable_update_mask()->add_paths("cycle_id");  // immutable
  EXPECT_TRUE(HasViolation(Call(&Stub::UpdateObjective, update, &updated),
                           "update_mask"));

  // Archive hides it from lists; it stays readable.
  v1::ArchiveKeyResultRequest archive_kr;
  archive_kr.set_id(kr.id());
  archive_kr.set_version(updated_kr.version());
  ASSERT_GRPC_OK(Call(&Stub::ArchiveKeyResult, archive_kr, &updated_kr));
  EXPECT_TRUE(updated_kr.archived());
  v1::ArchiveObjectiveRequest archive;
  archive.set_id(objective.id());
  archive.set_version(1);
  EXPECT_CODE(Call(&Stub::ArchiveObjective, archive, &updated), ABORTED);
  archive.set_version(2);
  ASSERT_GRPC_OK(Call(&Stub::ArchiveObjective, archive, &updated));
  EXPECT_EQ(updated.state(), v1::OBJECTIVE_STATE_ARCHIVED);
  ASSERT_GRPC_OK(Call(&Stub::ListObjectives, list, &listed));
  EXPECT_EQ(listed.objectives_size(), 0);
  list.set_state(v1::OBJECTIVE_STATE_ARCHIVED);
  ASSERT_GRPC_OK(Call(&Stub::ListObjectives, list, &listed));
  EXPECT_EQ(listed.objectives_size(), 1);

  google::protobuf::Empty empty;
  v1::DeleteKeyResultRequest del_kr;
  del_kr.set_id(kr.id());
  del_kr.set_version(updated_kr.version());
  ASSERT_GRPC_OK(Call(&Stub::DeleteKeyResult, del_kr, &empty));
  v1::GetKeyResultRequest get_kr;
  get_kr.set_id(kr.id());
  EXPECT_CODE(Call(&Stub::GetKeyResult, get_kr, &updated_kr), NOT_FOUND);
  v1::DeleteObjectiveRequest del;
  del.set_id(objective.id());
  del.set_version(updated.version());
  ASSERT_GRPC_OK(Call(&Stub::DeleteObjective, del, &empty));
  get.set_id(objective.id());
  EXPECT_CODE(Call(&Stub::GetObjective, get, &replay), NOT_FOUND);
  EXPECT_CODE(Call(&Stub::DeleteObjective, del, &empty), NOT_FOUND);
}

// --- Alignment, breakdown, roll over ------------------------------------------------

TEST_F(PlanningServiceTest, AlignCascadeBreakDownTreeAndRollOver) {
  ASSERT_NO_FATAL_FAILURE(SeedBasics());
  const v1::Person jane = MakePerson("Jane", "jane@acme.example");
  const v1::Team cs = MakeTeam("Customer Success");
  const v1::Objective company = MakeObjective(
      ObjectiveIn("Earn customer love and trust", fy_.year().id(), alex_.id()));
  const v1::KeyResult nps =
      MakeKr(MetricKr(company.id(), "Raise NPS from 7 to 8.5", 7, 8.5));
  v1::Objective team_objective = ObjectiveIn(
      "Increase customer satisfaction", fy_.quarters(0).id(), jane.id());
  team_objective.set_level(v1::LEVEL_TEAM);
  team_objective.set_team_id(cs.id());
  const v1::Objective classic = MakeObjective(team_objective);

  // Classic: align the team objective to the company one.
  v1::AlignObjectiveRequest align;
  align.set_objective_id(classic.id());
  align.set_parent_objective_id(company.id());
  align.set_weight(2);
  align.set_version(classic.version());
  v1::Objective aligned;
  ASSERT_GRPC_OK(Call(&Stub::AlignObjective, align, &aligned));
  EXPECT_EQ(aligned.alignment().kind(), v1::ALIGNMENT_KIND_OBJECTIVE);
  EXPECT_EQ(aligned.alignment().parent_objective_id(), company.id());
  EXPECT_EQ(aligned.alignment().weight(), 2);
  EXPECT_CODE(Call(&Stub::AlignObjective, align, &aligned), ABORTED);
  align.set_version(aligned.version());
  align.set_weight(-1);
  EXPECT_TRUE(HasViolation(Call(&Stub::AlignObjective, align, &aligned), "weight"));
  align.set_weight(1);
  align.set_parent_objective_id("ob-nope");
  EXPECT_CODE(Call(&Stub::AlignObjective, align, &aligned), NOT_FOUND);
  // An annual objective may not align to a quarterly one; nor may a link
  // close a loop.
  v1::AlignObjectiveRequest reverse;
  reverse.set_objective_id(company.id());
  reverse.set_parent_objective_id(classic.id());
  reverse.set_version(company.version());
  v1::Objective ignored;
  const grpc::Status reverse_status =
      Call(&Stub::AlignObjective, reverse, &ignored);
  EXPECT_FALSE(reverse_status.ok());
  EXPECT_THAT(reverse_status.error_code(),
              ::testing::AnyOf(grpc::StatusCode::FAILED_PRECONDITION,
                               grpc::StatusCode::INVALID_ARGUMENT));

  // Duality: the company KR becomes the child's objective.
  v1::CascadeKeyResultRequest cascade;
  cascade.set_key_result_id(nps.id());
  cascade.mutable_objective()->set_level(v1::LEVEL_TEAM);
  cascade.mutable_objective()->set_owner_id(jane.id());
  cascade.mutable_objective()->set_team_id(cs.id());
  cascade.mutable_objective()->set_cycle_id(fy_.quarters(0).id());
  cascade.mutable_objective()->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
  cascade.set_request_id("cascade-1");
  v1::CascadeKeyResultResponse cascaded;
  ASSERT_GRPC_OK(Call(&Stub::CascadeKeyResult, cascade, &cascaded));
  EXPECT_EQ(cascaded.objective().title(), nps.title());
  EXPECT_EQ(cascaded.objective().alignment().kind(),
            v1::ALIGNMENT_KIND_KEY_RESULT);
  EXPECT_EQ(cascaded.objective().alignment().parent_key_result_id(), nps.id());
  EXPECT_EQ(cascaded.objective().alignment().parent_objective_id(),
            company.id());
  v1::CascadeKeyResultResponse replayed;
  ASSERT_GRPC_OK(Call(&Stub::CascadeKeyResult, cascade, &replayed));
  EXPECT_EQ(replayed.objective().id(), cascaded.objective().id());
  cascade.set_key_result_id("kr-nope");
  cascade.clear_request_id();
  EXPECT_CODE(Call(&Stub::CascadeKeyResult, cascade, &replayed), NOT_FOUND);

  // Deleting the company objective is refused while children hang on it.
  google::protobuf::Empty empty;
  v1::GetObjectiveRequest get_company;
  get_company.set_id(company.id());
  v1::Objective current;
  ASSERT_GRPC_OK(Call(&Stub::GetObjective, get_company, &current));
  v1::DeleteObjectiveRequest del;
  del.set_id(company.id());
  del.set_version(current.version());
  EXPECT_CODE(Call(&Stub::DeleteObjective, del, &empty), FAILED_PRECONDITION);
  v1::GetKeyResultRequest get_nps;
  get_nps.set_id(nps.id());
  v1::KeyResult current_nps;
  ASSERT_GRPC_OK(Call(&Stub::GetKeyResult, get_nps, &current_nps));
  v1::DeleteKeyResultRequest del_kr;
  del_kr.set_id(nps.id());
  del_kr.set_version(current_nps.version());
  EXPECT_CODE(Call(&Stub::DeleteKeyResult, del_kr, &empty), FAILED_PRECONDITION);

  // Break the annual objective down into two quarters.
  v1::BreakDownObjectiveRequest breakdown;
  breakdown.set_objective_id(company.id());
  breakdown.set_align(true);
  for (int q = 0; q < 2; ++q) {
    v1::BreakdownItem* item = breakdown.add_items();
    item->set_cycle_id(fy_.quarters(q).id());
    item->set_title(absl::StrCat("Customer love, quarter ", q + 1));
  }
  v1::BreakDownObjectiveResponse parts;
  ASSERT_GRPC_OK(Call(&Stub::BreakDownObjective, breakdown, &parts));
  ASSERT_EQ(parts.objectives_size(), 2);
  EXPECT_EQ(parts.objectives(0).priority(), 1);
  EXPECT_EQ(parts.objectives(1).priority(), 2);
  EXPECT_EQ(parts.objectives(1).breakdown_of_objective_id(), company.id());
  EXPECT_EQ(parts.objectives(1).owner_id(), alex_.id());
  v1::BreakDownObjectiveRequest empty_breakdown;
  empty_breakdown.set_objective_id(company.id());
  EXPECT_TRUE(HasViolation(
      Call(&Stub::BreakDownObjective, empty_breakdown, &parts), "items"));
  breakdown.mutable_items(0)->set_cycle_id(fy_.year().id());  // not a child
  EXPECT_CODE(Call(&Stub::BreakDownObjective, breakdown, &parts),
              FAILED_PRECONDITION);
  breakdown.mutable_items(0)->set_kind(static_cast<v1::ObjectiveKind>(5));
  EXPECT_TRUE(HasViolation(Call(&Stub::BreakDownObjective, breakdown, &parts),
                           "items[0].kind"));

  // The tree of the year: the company objective is the single root.
  v1::GetAlignmentTreeRequest tree_request;
  v1::AlignmentTree tree;
  ASSERT_GRPC_OK(Call(&Stub::GetAlignmentTree, tree_request, &tree));
  EXPECT_THAT(tree.root_objective_ids(), Contains(company.id()));
  EXPECT_THAT(tree.root_objective_ids(), Not(Contains(classic.id())));
  EXPECT_EQ(tree.objectives_size(), 5);
  EXPECT_GE(tree.links_size(), 4);
  EXPECT_GE(tree.key_results_size(), 1);
  EXPECT_GT(tree.sequence(), 0);
  tree_request.set_cycle_id("cy-nope");
  EXPECT_CODE(Call(&Stub::GetAlignmentTree, tree_request, &tree), NOT_FOUND);

  v1::UnalignObjectiveRequest unalign;
  unalign.set_objective_id(classic.id());
  unalign.set_version(aligned.version());
  v1::Objective root;
  ASSERT_GRPC_OK(Call(&Stub::UnalignObjective, unalign, &root));
  EXPECT_EQ(root.alignment().kind(), v1::ALIGNMENT_KIND_NONE);
  EXPECT_CODE(Call(&Stub::UnalignObjective, unalign, &root), ABORTED);

  // Roll Jane's Q1 objective over into Q2.
  const v1::KeyResult q1_kr =
      MakeKr(MetricKr(classic.id(), "Raise CSAT from 80 to 90", 80, 90));
  v1::RollOverObjectivesRequest roll;
  roll.set_target_cycle_id(fy_.quarters(1).id());
  roll.add_items()->set_objective_id(classic.id());
  roll.set_request_id("roll-1");
  v1::RollOverObjectivesResponse rolled;
  ASSERT_GRPC_OK(Call(&Stub::RollOverObjectives, roll, &rolled));
  ASSERT_EQ(rolled.objectives_size(), 1);
  EXPECT_EQ(rolled.objectives(0).rolled_over_from_id(), classic.id());
  EXPECT_EQ(rolled.objectives(0).cycle_id(), fy_.quarters(1).id());
  EXPECT_EQ(rolled.objectives(0).state(), v1::OBJECTIVE_STATE_DRAFT);
  ASSERT_EQ(rolled.key_results_size(), 1);
  EXPECT_EQ(rolled.key_results(0).rolled_over_from_id(), q1_kr.id());
  roll.clear_request_id();
  roll.set_target_cycle_id(fy_.year().id());  // another kind
  EXPECT_CODE(Call(&Stub::RollOverObjectives, roll, &rolled),
              FAILED_PRECONDITION);
  roll.clear_items();
  EXPECT_TRUE(
      HasViolation(Call(&Stub::RollOverObjectives, roll, &rolled), "items"));
}

// --- Lint, timeline, CSV -------------------------------------------------------------

TEST_F(PlanningServiceTest, LintTimelineAndCsvRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(SeedBasics());
  const v1::Objective objective = MakeObjective(
      ObjectiveIn("Earn customer love and trust", fy_.year().id(), alex_.id()));
  MakeKr(MetricKr(objective.id(), "Increase retention from 95% to 99%", 95, 99));

  v1::LintRequest lint;
  v1::LintResponse findings;
  EXPECT_TRUE(HasViolation(Call(&Stub::Lint, lint, &findings), "scope"));
  lint.set_objective_id(objective.id());
  ASSERT_GRPC_OK(Call(&Stub::Lint, lint, &findings));
  EXPECT_EQ(findings.objectives_checked(), 1);
  // One KR where the guide asks for 3-5.
  EXPECT_THAT(findings.findings(), Not(IsEmpty()));
  lint.set_objective_id("ob-nope");
  EXPECT_CODE(Call(&Stub::Lint, lint, &findings), NOT_FOUND);
  lint.mutable_organisation();
  lint.set_max_findings(1);
  ASSERT_GRPC_OK(Call(&Stub::Lint, lint, &findings));
  EXPECT_LE(findings.findings_size(), 1);
  lint.add_disabled_rule_ids("no-such-rule");
  EXPECT_CODE(Call(&Stub::Lint, lint, &findings), INVALID_ARGUMENT);

  v1::GetPlanningTimelineRequest timeline;
  timeline.set_fiscal_year(2027);
  v1::GetPlanningTimelineResponse milestones;
  ASSERT_GRPC_OK(Call(&Stub::GetPlanningTimeline, timeline, &milestones));
  EXPECT_EQ(milestones.fiscal_year_start().year(), 2027);
  EXPECT_EQ(milestones.fiscal_year_start().month(), 1);
  EXPECT_EQ(milestones.planning_profile(), v1::PLANNING_PROFILE_SMALL);
  ASSERT_THAT(milestones.milestones(), Not(IsEmpty()));
  // SMALL plans start ahead of the year, in 2026.
  EXPECT_EQ(milestones.milestones(0).start_date().year(), 2026);
  timeline.set_fiscal_year(1969);
  EXPECT_TRUE(HasViolation(Call(&Stub::GetPlanningTimeline, timeline, &milestones),
                           "fiscal_year"));

  // Export, then import the export back (dry run first): nothing is lost.
  v1::ExportPlanCsvRequest export_request;
  v1::ExportPlanCsvResponse exported;
  ASSERT_GRPC_OK(Call(&Stub::ExportPlanCsv, export_request, &exported));
  EXPECT_EQ(exported.row_count(), 1);
  EXPECT_THAT(exported.csv(), HasSubstr("Earn customer love and trust"));
  export_request.set_cycle_id("cy-nope");
  EXPECT_CODE(Call(&Stub::ExportPlanCsv, export_request, &exported), NOT_FOUND);
  export_request.clear_cycle_id();
  ASSERT_GRPC_OK(Call(&Stub::ExportPlanCsv, export_request, &exported));

  v1::ImportPlanCsvRequest import;
  import.set_csv(exported.csv());
  import.set_dry_run(true);
  v1::ImportPlanCsvResponse imported;
  ASSERT_GRPC_OK(Call(&Stub::ImportPlanCsv, import, &imported));
  EXPECT_THAT(imported.errors(), IsEmpty());
  EXPECT_EQ(imported.objectives_created(), 1);
  EXPECT_EQ(imported.key_results_created(), 1);
  EXPECT_THAT(imported.objective_ids(), IsEmpty());
  import.set_dry_run(false);
  import.set_request_id("import-1");
  ASSERT_GRPC_OK(Call(&Stub::ImportPlanCsv, import, &imported));
  ASSERT_EQ(imported.objective_ids_size(), 1);
  v1::ImportPlanCsvResponse replay;
  ASSERT_GRPC_OK(Call(&Stub::ImportPlanCsv, import, &replay));
  EXPECT_EQ(replay.objective_ids(0), imported.objective_ids(0));
  v1::GetObjectiveRequest get;
  get.set_id(imported.objective_ids(0));
  v1::Objective copy;
  ASSERT_GRPC_OK(Call(&Stub::GetObjective, get, &copy));
  EXPECT_EQ(copy.title(), objective.title());
  EXPECT_EQ(copy.owner_id(), objective.owner_id());
  EXPECT_EQ(copy.cycle_id(), objective.cycle_id());
  ASSERT_GRPC_OK(Call(&Stub::ExportPlanCsv, export_request, &exported));
  EXPECT_EQ(exported.row_count(), 2);

  // A bad cell fails the whole import, naming the row and column.
  import.clear_request_id();
  std::vector<std::string> lines = absl::StrSplit(exported.csv(), '\n');
  ASSERT_GE(lines.size(), 2u);
  import.set_csv(absl::StrCat(lines[0], "\n", "FY2099,X-1,Title,,COMPANY\n"));
  const grpc::Status bad = Call(&Stub::ImportPlanCsv, import, &imported);
  EXPECT_CODE(bad, INVALID_ARGUMENT);
  bool names_a_row = false;
  for (const FieldViolation& v : FieldViolationsOf(ToAbslStatus(bad))) {
    names_a_row |= absl::StartsWith(v.field, "rows[");
  }
  EXPECT_TRUE(names_a_row) << bad.error_message();
}

// --- Change feed ------------------------------------------------------------------

TEST_F(PlanningServiceTest, ListPlanChangesPagesAndFilters) {
  ASSERT_NO_FATAL_FAILURE(SeedBasics());
  v1::ListPlanChangesRequest request;
  v1::ListPlanChangesResponse all;
  ASSERT_GRPC_OK(Call(&Stub::ListPlanChanges, request, &all));
  // Organisation, person, team, year and four quarters at least.
  ASSERT_GE(all.changes_size(), 8);
  EXPECT_EQ(all.latest_sequence(), all.changes(all.changes_size() - 1).sequence());
  EXPECT_TRUE(all.next_page_token().empty());
  for (int i = 1; i < all.changes_size(); ++i) {
    EXPECT_EQ(all.changes(i).sequence(), all.changes(i - 1).sequence() + 1);
  }
  EXPECT_EQ(all.changes(0).resource().kind(), v1::RESOURCE_KIND_ORGANISATION);
  EXPECT_TRUE(all.changes(0).has_organisation());

  // Pages of three, resumed with the token, give the same feed.
  request.set_page_size(3);
  std::vector<int64_t> paged;
  for (int guard = 0; guard < 100; ++guard) {
    v1::ListPlanChangesResponse page;
    ASSERT_GRPC_OK(Call(&Stub::ListPlanChanges, request, &page));
    EXPECT_LE(page.changes_size(), 3);
    for (const auto& c : page.changes()) paged.push_back(c.sequence());
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  ASSERT_EQ(static_cast<int>(paged.size()), all.changes_size());
  EXPECT_EQ(paged.back(), all.latest_sequence());

  // Only cycles, after the organisation's entry.
  v1::ListPlanChangesRequest cycles_only;
  cycles_only.add_resource_kinds(v1::RESOURCE_KIND_CYCLE);
  cycles_only.set_after_sequence(1);
  v1::ListPlanChangesResponse cycles;
  ASSERT_GRPC_OK(Call(&Stub::ListPlanChanges, cycles_only, &cycles));
  ASSERT_EQ(cycles.changes_size(), 5);
  for (const auto& c : cycles.changes()) {
    EXPECT_EQ(c.resource().kind(), v1::RESOURCE_KIND_CYCLE);
    EXPECT_EQ(c.cycle().id(), c.resource().id());
  }

  v1::ListPlanChangesRequest bad;
  bad.set_page_token("not-a-token");
  EXPECT_TRUE(HasViolation(Call(&Stub::ListPlanChanges, bad, &cycles), "page_token"));
  bad.Clear();
  bad.set_after_sequence(-1);
  EXPECT_TRUE(
      HasViolation(Call(&Stub::ListPlanChanges, bad, &cycles), "after_sequence"));
  bad.Clear();
  bad.add_resource_kinds(static_cast<v1::ResourceKind>(99));
  EXPECT_TRUE(HasViolation(Call(&Stub::ListPlanChanges, bad, &cycles),
                           "resource_kinds[0]"));
}

// Reads a stream on its own thread and records what arrives.
class WatchReader {
 public:
  WatchReader(Stub* stub, const v1::WatchPlanChangesRequest& request,
              absl::Duration deadline) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    context_.AddMetadata("okr-organisation-id", std::string(kOrg));
    reader_ = stub->WatchPlanChanges(&context_, request);
    thread_ = std::thread([this] {
      v1::PlanChange change;
      while (reader_->Read(&change)) {
        absl::MutexLock lock(&mu_);
        changes_.push_back(change);
      }
      grpc::Status status = reader_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = std::move(status);
    });
  }
  ~WatchReader() {
    context_.TryCancel();
    thread_.join();
  }

  // Waits until `n` changes arrived; false after `timeout` or an early end.
  bool WaitForChanges(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    wanted_ = n;
    mu_.AwaitWithTimeout(absl::Condition(this, &WatchReader::EnoughOrEnded),
                         timeout);
    return changes_.size() >= n;
  }

  // Waits for the stream's end; nullopt after `timeout`.
  std::optional<grpc::Status> WaitForEnd(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &WatchReader::Ended), timeout);
    return status_;
  }

  std::vector<v1::PlanChange> changes() {
    absl::MutexLock lock(&mu_);
    return changes_;
  }

 private:
  bool EnoughOrEnded() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return changes_.size() >= wanted_ || status_.has_value();
  }
  bool Ended() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return status_.has_value();
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::PlanChange>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<v1::PlanChange> changes_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);
  size_t wanted_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(PlanningServiceTest, WatchSendsBacklogThenLiveChangesAndEndsOnShutdown) {
  ASSERT_NO_FATAL_FAILURE(SeedBasics());
  v1::ListPlanChangesResponse backlog;
  ASSERT_GRPC_OK(
      Call(&Stub::ListPlanChanges, v1::ListPlanChangesRequest(), &backlog));
  const size_t backlog_size = static_cast<size_t>(backlog.changes_size());

  v1::WatchPlanChangesRequest request;
  WatchReader all(stub_.get(), request, absl::Seconds(120));
  request.add_resource_kinds(v1::RESOURCE_KIND_OBJECTIVE);
  request.set_after_sequence(0);
  WatchReader objectives(stub_.get(), request, absl::Seconds(120));
  ASSERT_TRUE(all.WaitForChanges(backlog_size, absl::Seconds(20)));

  // Live: a new objective reaches both streams.
  const v1::Objective created = MakeObjective(
      ObjectiveIn("Live objective", fy_.year().id(), alex_.id()));
  ASSERT_TRUE(all.WaitForChanges(backlog_size + 1, absl::Seconds(20)));
  ASSERT_TRUE(objectives.WaitForChanges(1, absl::Seconds(20)));
  const std::vector<v1::PlanChange> seen = all.changes();
  for (size_t i = 0; i < backlog_size; ++i) {
    EXPECT_EQ(seen[i].sequence(), backlog.changes(static_cast<int>(i)).sequence());
  }
  EXPECT_EQ(seen[backlog_size].objective().id(), created.id());
  EXPECT_EQ(seen[backlog_size].sequence(), backlog.latest_sequence() + 1);
  const std::vector<v1::PlanChange> only = objectives.changes();
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].objective().title(), "Live objective");

  // SIGTERM ends the streams with UNAVAILABLE well inside the grace period,
  // and the process exits cleanly.
  const absl::Time stop = absl::Now();
  OKR_ASSERT_OK(process_->process().Kill(SIGTERM));
  const std::optional<grpc::Status> end = all.WaitForEnd(absl::Seconds(10));
  ASSERT_TRUE(end.has_value()) << "the stream outlived the server's shutdown";
  EXPECT_EQ(end->error_code(), grpc::StatusCode::UNAVAILABLE)
      << end->error_message();
  EXPECT_LT(absl::Now() - stop, absl::Seconds(4));  // grace is 5 s
  absl::StatusOr<ExitStatus> exit = process_->process().Wait(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->ToString();
  EXPECT_THAT(process_->log(), HasSubstr("\"msg\":\"serving\""));
}

// --- Durability and limits ---------------------------------------------------------

TEST_F(PlanningServiceTest, RestartFindsEverything) {
  ASSERT_NO_FATAL_FAILURE(SeedBasics());
  const v1::Objective objective = MakeObjective(
      ObjectiveIn("Survive a restart", fy_.year().id(), alex_.id()));
  const v1::KeyResult kr =
      MakeKr(MetricKr(objective.id(), "Lose 0 of 3 records", 0, 3));
  v1::ListPlanChangesResponse before;
  ASSERT_GRPC_OK(
      Call(&Stub::ListPlanChanges, v1::ListPlanChangesRequest(), &before));

  ASSERT_NO_FATAL_FAILURE(Restart());

  v1::GetObjectiveRequest get;
  get.set_id(objective.id());
  v1::Objective after;
  ASSERT_GRPC_OK(Call(&Stub::GetObjective, get, &after));
  EXPECT_EQ(after.title(), objective.title());
  EXPECT_EQ(after.version(), objective.version());
  v1::GetKeyResultRequest get_kr;
  get_kr.set_id(kr.id());
  v1::KeyResult kr_after;
  ASSERT_GRPC_OK(Call(&Stub::GetKeyResult, get_kr, &kr_after));
  EXPECT_EQ(kr_after.target_value(), 3);
  v1::Organisation org;
  ASSERT_GRPC_OK(
      Call(&Stub::GetOrganisation, v1::GetOrganisationRequest(), &org));
  EXPECT_EQ(org.name(), "Acme Retail");
  v1::ListCyclesResponse cycles;
  ASSERT_GRPC_OK(Call(&Stub::ListCycles, v1::ListCyclesRequest(), &cycles));
  EXPECT_EQ(cycles.total_size(), 5);
  v1::ListPlanChangesResponse after_feed;
  ASSERT_GRPC_OK(
      Call(&Stub::ListPlanChanges, v1::ListPlanChangesRequest(), &after_feed));
  EXPECT_EQ(after_feed.latest_sequence(), before.latest_sequence());
  // Idempotency records survive too.
  v1::Organisation again;
  EXPECT_CODE(Bootstrap(kOrg, &again, "new-request"), ALREADY_EXISTS);
}

TEST_F(PlanningServiceTest, OversizedRequestIsRefusedAndServerKeepsServing) {
  ASSERT_NO_FATAL_FAILURE(SeedBasics());
  v1::ImportPlanCsvRequest import;
  import.set_csv(std::string(5 * 1024 * 1024, 'x'));
  v1::ImportPlanCsvResponse response;
  EXPECT_CODE(Call(&Stub::ImportPlanCsv, import, &response), RESOURCE_EXHAUSTED);
  v1::Organisation org;
  ASSERT_GRPC_OK(
      Call(&Stub::GetOrganisation, v1::GetOrganisationRequest(), &org));
  EXPECT_EQ(org.id(), kOrg);
  EXPECT_TRUE(process_->process().Running());
}

}  // namespace
}  // namespace okr
