// Tenancy and roles end to end: okr-planning, okr-tracking and okr-notify
// with auth on (a tokens file), a real redis-server, and two organisations.
//
// One table lists every RPC of the three services with the role it needs
// and a request built from organisation A's ids (team, person, cycle,
// objective, key result, review, policy, webhook). The table drives:
//   - cross-organisation calls: B's admin (the highest role bound to an
//     organisation) sends each request with A's ids and gets NOT_FOUND (or,
//     for a list filtered by an id, nothing of A's), and A's data is the
//     same afterwards;
//   - roles: A's reader gets PERMISSION_DENIED for every call above reader,
//     A's writer for every admin call;
//   - no token: UNAUTHENTICATED for every RPC.
// A test checks the table against the services' descriptors, so a new RPC
// without a row fails here. Service-to-service calls are checked both ways:
// with the right --service_token_file a check-in and a reminder run
// succeed; with a wrong one tracking's and notify's calls fail cleanly.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/empty.pb.h"
#include "gtest/gtest.h"
#include "okr/v1/notify.grpc.pb.h"
#include "okr/v1/planning.grpc.pb.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using PlanStub = v1::PlanningService::Stub;
using TrackStub = v1::TrackingService::Stub;
using NotifyStub = v1::NotifyService::Stub;

constexpr absl::Duration kCallTimeout = absl::Seconds(10);
// How long a Watch* stream is read before the test looks at what came.
constexpr absl::Duration kWatchWindow = absl::Milliseconds(800);

constexpr char kOrgA[] = "acme";
constexpr char kOrgB[] = "globex";

// Tokens of the tokens file; A's admin is stored as a digest.
constexpr char kAdminA[] = "tok-admin-acme-0123456789abcdef";
constexpr char kWriterA[] = "tok-writer-acme-0123456789abcdef";
constexpr char kReaderA[] = "tok-reader-acme-0123456789abcdef";
constexpr char kAdminB[] = "tok-admin-globex-0123456789abcdef";
constexpr char kService[] = "tok-service-0123456789abcdef";
constexpr char kWrongService[] = "tok-service-0123456789abcdeX";
// A's admin token's SHA-256 (sha256sum of the bytes above), so that the
// file format's digest form is used end to end.
constexpr char kAdminADigest[] =
    "sha256:feb4e98db3e24a6acf10ea482bae6b07482ad9092df15e6a5968b281c514b3e0";

// Text that only A's data contains: a response or an error message of B's
// that holds one of these leaked A's data.
constexpr char kSecretA[] = "ACME-CONFIDENTIAL";

// The roles of the tokens file, least first (common/auth.h has the same;
// the test talks to the binaries only).
enum class Role { kReader = 1, kWriter = 2, kAdmin = 3 };

const char* RoleName(Role role) {
  switch (role) {
    case Role::kReader: return "reader";
    case Role::kWriter: return "writer";
    case Role::kAdmin: return "admin";
  }
  return "?";
}

// What a cross-organisation call must answer.
enum class Cross {
  kNotFound,  // NOT_FOUND
  kNothing,   // NOT_FOUND, or OK holding nothing of A's (lists, feeds)
};

// The outcome of one call: status and the response as text.
struct Outcome {
  grpc::Status status;
  std::string response;
};

// Sends one call with `token` (none when empty) and `org` metadata (none
// when empty).
using Call = std::function<Outcome(const std::string& token, const std::string& org)>;

void Prepare(grpc::ClientContext& context, const std::string& token, const std::string& org,
             absl::Duration timeout = kCallTimeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  if (!org.empty()) context.AddMetadata("okr-organisation-id", org);
}

template <typename Stub, typename Request, typename Response>
Call Unary(Stub* stub,
           grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
           Request request) {
  return [stub, method, request](const std::string& token, const std::string& org) {
    grpc::ClientContext context;
    Prepare(context, token, org);
    Response response;
    Outcome outcome;
    outcome.status = (stub->*method)(&context, request, &response);
    outcome.response = response.DebugString();
    return outcome;
  };
}

// Reads a server stream for kWatchWindow; a stream still open then counts
// as OK with what it sent.
template <typename Stub, typename Request, typename Message>
Call Stream(Stub* stub,
            std::unique_ptr<grpc::ClientReader<Message>> (Stub::*method)(grpc::ClientContext*,
                                                                         const Request&),
            Request request) {
  return [stub, method, request](const std::string& token, const std::string& org) {
    grpc::ClientContext context;
    Prepare(context, token, org, kWatchWindow);
    std::unique_ptr<grpc::ClientReader<Message>> reader = (stub->*method)(&context, request);
    Outcome outcome;
    Message message;
    while (reader->Read(&message)) absl::StrAppend(&outcome.response, message.DebugString());
    outcome.status = reader->Finish();
    if (outcome.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      outcome.status = grpc::Status::OK;
    }
    return outcome;
  };
}

template <typename Request>
Request Make(const std::function<void(Request&)>& fill) {
  Request request;
  fill(request);
  return request;
}

struct RpcCase {
  std::string service;  // "planning", "tracking", "notify"
  std::string method;   // the RPC's name in its proto
  Role role;            // the least role allowed
  std::optional<Cross> cross;  // nullopt: the request carries no id of A's
  Call call;
};

std::string CodeName(grpc::StatusCode code) {
  static const std::map<grpc::StatusCode, std::string> kNames = {
      {grpc::StatusCode::OK, "OK"},
      {grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {grpc::StatusCode::NOT_FOUND, "NOT_FOUND"},
      {grpc::StatusCode::ALREADY_EXISTS, "ALREADY_EXISTS"},
      {grpc::StatusCode::PERMISSION_DENIED, "PERMISSION_DENIED"},
      {grpc::StatusCode::FAILED_PRECONDITION, "FAILED_PRECONDITION"},
      {grpc::StatusCode::ABORTED, "ABORTED"},
      {grpc::StatusCode::UNAVAILABLE, "UNAVAILABLE"},
      {grpc::StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED"},
      {grpc::StatusCode::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
  };
  auto it = kNames.find(code);
  return it == kNames.end() ? absl::StrCat("code ", static_cast<int>(code)) : it->second;
}

std::string Describe(const Outcome& outcome) {
  return absl::StrCat(CodeName(outcome.status.error_code()), ": ",
                      outcome.status.error_message());
}

// The three services, Redis and both organisations, shared by the tests.
class Env {
 public:
  absl::Status Start() {
    OKR_RETURN_IF_ERROR(WriteFile(dir.File("tokens"),
                                  absl::StrCat("# name organisation role token\n",
                                               "admin-a ", kOrgA, " admin ", kAdminADigest, "\n",
                                               "writer-a ", kOrgA, " writer ", kWriterA, "\n",
                                               "reader-a ", kOrgA, " reader ", kReaderA, "\n",
                                               "admin-b ", kOrgB, " admin ", kAdminB, "\n",
                                               "services * service ", kService, "\n")));
    OKR_RETURN_IF_ERROR(WriteFile(dir.File("service-token"), absl::StrCat(kService, "\n")));
    OKR_RETURN_IF_ERROR(WriteFile(dir.File("wrong-token"), absl::StrCat(kWrongService, "\n")));
    OKR_ASSIGN_OR_RETURN(redis, RedisServer::Start());
    OKR_ASSIGN_OR_RETURN(planning, ServiceProcess::Start(
                                       {.binary = "okr-planning",
                                        .args = {"--tokens_file=" + dir.File("tokens"),
                                                 "--store=sqlite:" + dir.File("planning.db")},
                                        .log_path = dir.File("planning.log")}));
    OKR_ASSIGN_OR_RETURN(tracking, StartTracking("service-token", "tracking"));
    OKR_ASSIGN_OR_RETURN(notify, StartNotify("service-token", "notify"));
    plan = v1::PlanningService::NewStub(Channel(*planning));
    track = v1::TrackingService::NewStub(Channel(*tracking));
    note = v1::NotifyService::NewStub(Channel(*notify));
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<ServiceProcess>> StartTracking(absl::string_view token_file,
                                                                absl::string_view name) {
    return ServiceProcess::Start(
        {.binary = "okr-tracking",
         .args = {"--tokens_file=" + dir.File("tokens"),
                  "--service_token_file=" + dir.File(token_file),
                  absl::StrCat("--store=sqlite:", dir.File(name), ".db"),
                  absl::StrCat("--redis=127.0.0.1:", redis->port()),
                  "--planning_addr=" + planning->address(), "--planning_timeout=3s"},
         .log_path = absl::StrCat(dir.File(name), ".log")});
  }

  absl::StatusOr<std::unique_ptr<ServiceProcess>> StartNotify(absl::string_view token_file,
                                                              absl::string_view name) {
    return ServiceProcess::Start(
        {.binary = "okr-notify",
         .args = {"--tokens_file=" + dir.File("tokens"),
                  "--service_token_file=" + dir.File(token_file),
                  absl::StrCat("--store=sqlite:", dir.File(name), ".db"),
                  absl::StrCat("--redis=127.0.0.1:", redis->port()),
                  "--planning_addr=" + planning->address(),
                  "--tracking_addr=" + tracking->address(),
                  // The webhooks below name 127.0.0.1.
                  "--webhook_allow_cidrs=127.0.0.0/8"},
         .log_path = absl::StrCat(dir.File(name), ".log")});
  }

  static std::shared_ptr<grpc::Channel> Channel(const ServiceProcess& process) {
    return grpc::CreateChannel(process.address(), grpc::InsecureChannelCredentials());
  }

  static absl::Status WriteFile(const std::string& path, absl::string_view contents) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
    return absl::OkStatus();
  }

  std::string Logs() const {
    std::string out;
    for (const auto& [name, process] :
         {std::pair{"okr-planning", planning.get()}, std::pair{"okr-tracking", tracking.get()},
          std::pair{"okr-notify", notify.get()}}) {
      if (process != nullptr) absl::StrAppend(&out, "--- ", name, " ---\n", process->LogTail());
    }
    return out;
  }

  TempDir dir{"okr-tenancy"};
  std::unique_ptr<RedisServer> redis;
  std::unique_ptr<ServiceProcess> planning;
  std::unique_ptr<ServiceProcess> tracking;
  std::unique_ptr<ServiceProcess> notify;
  std::unique_ptr<PlanStub> plan;
  std::unique_ptr<TrackStub> track;
  std::unique_ptr<NotifyStub> note;

  // Organisation A's plan.
  v1::Cycle year;
  v1::Cycle quarter;
  v1::Person person;
  v1::Team team;
  v1::Objective objective;        // team level, with the key result
  v1::Objective child;            // aligned to `objective`
  v1::KeyResult key_result;
  v1::Review review;
  v1::ReminderPolicy policy;      // of `team`
  v1::Webhook webhook;
  // B's own quarter, the target of cross-organisation roll overs.
  v1::Cycle quarter_b;
};

class TenancyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    env_ = new Env();
    absl::Status started = env_->Start();
    if (started.ok()) started = SeedOrganisations();
    if (!started.ok()) *setup_error_ = absl::StrCat(started.ToString(), "\n", env_->Logs());
  }

  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(setup_error_->empty()) << *setup_error_; }

  void TearDown() override {
    if (HasFailure()) std::cerr << env_->Logs();
  }

  static absl::Status Check(const grpc::Status& status, absl::string_view what) {
    if (status.ok()) return absl::OkStatus();
    return absl::InternalError(absl::StrCat(what, ": ", CodeName(status.error_code()), ": ",
                                            status.error_message()));
  }

  // Both organisations: A with a full plan (bootstrapped by its own admin
  // token), B with its fiscal year only.
  static absl::Status SeedOrganisations() {
    Env& e = *env_;
    const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
    for (const auto& [org, token] : {std::pair{kOrgA, kAdminA}, std::pair{kOrgB, kAdminB}}) {
      grpc::ClientContext boot_context;
      Prepare(boot_context, token, "");
      v1::BootstrapOrganisationRequest boot;
      boot.set_organisation_id(org);
      boot.mutable_organisation()->set_name(
          std::string(org) == kOrgA ? absl::StrCat("Acme ", kSecretA) : "Globex");
      boot.mutable_organisation()->set_time_zone("UTC");
      v1::Organisation organisation;
      OKR_RETURN_IF_ERROR(Check(e.plan->BootstrapOrganisation(&boot_context, boot, &organisation),
                                absl::StrCat("bootstrap ", org)));

      grpc::ClientContext fy_context;
      Prepare(fy_context, token, "");
      v1::CreateFiscalYearRequest fy;
      fy.set_fiscal_year(static_cast<int>(today.year()));
      v1::CreateFiscalYearResponse years;
      OKR_RETURN_IF_ERROR(
          Check(e.plan->CreateFiscalYear(&fy_context, fy, &years), "CreateFiscalYear"));
      v1::Cycle quarter;
      for (const v1::Cycle& q : years.quarters()) {
        const absl::CivilDay start(q.start_date().year(), q.start_date().month(),
                                   q.start_date().day());
        const absl::CivilDay end(q.end_date().year(), q.end_date().month(), q.end_date().day());
        if (start <= today && today < end) quarter = q;
      }
      if (quarter.id().empty()) return absl::InternalError("no quarter contains today");
      v1::Cycle year = years.year();
      for (v1::Cycle* cycle : {&year, &quarter}) {
        grpc::ClientContext context;
        Prepare(context, token, "");
        v1::UpdateCycleStateRequest activate;
        activate.set_id(cycle->id());
        activate.set_state(v1::CYCLE_STATE_ACTIVE);
        activate.set_version(cycle->version());
        OKR_RETURN_IF_ERROR(
            Check(e.plan->UpdateCycleState(&context, activate, cycle), "activate cycle"));
      }
      if (std::string(org) == kOrgA) {
        e.year = year;
        e.quarter = quarter;
      } else {
        e.quarter_b = quarter;
      }
    }

    // A's plan, written with A's admin and writer tokens.
    const auto call_a = [](const char* token) {
      return [token](grpc::ClientContext& context) { Prepare(context, token, ""); };
    };
    {
      grpc::ClientContext context;
      call_a(kAdminA)(context);
      v1::CreatePersonRequest request;
      request.mutable_person()->set_display_name(absl::StrCat("Ada ", kSecretA));
      request.mutable_person()->set_email("ada@acme.example");
      OKR_RETURN_IF_ERROR(Check(e.plan->CreatePerson(&context, request, &e.person), "person"));
    }
    {
      grpc::ClientContext context;
      call_a(kAdminA)(context);
      v1::CreateTeamRequest request;
      request.mutable_team()->set_name(absl::StrCat("Team ", kSecretA));
      request.mutable_team()->set_lead_person_id(e.person.id());
      OKR_RETURN_IF_ERROR(Check(e.plan->CreateTeam(&context, request, &e.team), "team"));
    }
    for (v1::Objective* objective : {&e.objective, &e.child}) {
      grpc::ClientContext context;
      call_a(kWriterA)(context);
      v1::CreateObjectiveRequest request;
      v1::Objective* o = request.mutable_objective();
      o->set_title(objective == &e.objective ? absl::StrCat("Grow ", kSecretA)
                                             : absl::StrCat("Support ", kSecretA));
      o->set_level(v1::LEVEL_TEAM);
      o->set_team_id(e.team.id());
      o->set_owner_id(e.person.id());
      o->set_cycle_id(e.quarter.id());
      o->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
      o->set_state(v1::OBJECTIVE_STATE_PUBLISHED);
      o->set_progress_source(v1::PROGRESS_SOURCE_KEY_RESULTS);
      OKR_RETURN_IF_ERROR(Check(e.plan->CreateObjective(&context, request, objective), "obj"));
    }
    {
      grpc::ClientContext context;
      call_a(kWriterA)(context);
      v1::AlignObjectiveRequest request;
      request.set_objective_id(e.child.id());
      request.set_parent_objective_id(e.objective.id());
      request.set_weight(1);
      request.set_version(e.child.version());
      OKR_RETURN_IF_ERROR(Check(e.plan->AlignObjective(&context, request, &e.child), "align"));
    }
    {
      grpc::ClientContext context;
      call_a(kWriterA)(context);
      v1::CreateKeyResultRequest request;
      v1::KeyResult* kr = request.mutable_key_result();
      kr->set_objective_id(e.objective.id());
      kr->set_title(absl::StrCat("Reach 100 ", kSecretA));
      kr->set_owner_id(e.person.id());
      kr->set_type(v1::KEY_RESULT_TYPE_METRIC);
      kr->set_measure(v1::MEASURE_KPI);
      kr->set_start_value(0);
      kr->set_target_value(100);
      kr->set_direction(v1::DIRECTION_INCREASE);
      kr->set_weight(1);
      OKR_RETURN_IF_ERROR(Check(e.plan->CreateKeyResult(&context, request, &e.key_result), "kr"));
    }
    {
      // Tracking asks planning for the key result with its service token.
      grpc::ClientContext context;
      call_a(kWriterA)(context);
      v1::RecordCheckInRequest request;
      request.set_key_result_id(e.key_result.id());
      request.set_client_key("seed-1");
      request.set_value(40);
      request.set_author_id(e.person.id());
      request.set_note(absl::StrCat("note ", kSecretA));
      v1::RecordCheckInResponse response;
      OKR_RETURN_IF_ERROR(Check(e.track->RecordCheckIn(&context, request, &response), "check-in"));
    }
    {
      grpc::ClientContext context;
      call_a(kWriterA)(context);
      v1::UpsertReviewRequest request;
      request.mutable_review()->set_objective_id(e.objective.id());
      request.mutable_review()->set_kind(v1::REVIEW_KIND_MID_QUARTER);
      request.mutable_review()->set_learnings(absl::StrCat("learned ", kSecretA));
      OKR_RETURN_IF_ERROR(Check(e.track->UpsertReview(&context, request, &e.review), "review"));
    }
    {
      grpc::ClientContext context;
      call_a(kAdminA)(context);
      v1::SetReminderPolicyRequest request;
      request.mutable_policy()->set_team_id(e.team.id());
      request.mutable_policy()->set_time_zone("UTC");
      request.mutable_policy()->mutable_weekly_check_in()->set_enabled(true);
      OKR_RETURN_IF_ERROR(
          Check(e.note->SetReminderPolicy(&context, request, &e.policy), "policy"));
    }
    {
      grpc::ClientContext context;
      call_a(kAdminA)(context);
      v1::CreateWebhookRequest request;
      request.mutable_webhook()->set_url("http://127.0.0.1:9/acme-confidential-hook");
      request.mutable_webhook()->set_display_name(absl::StrCat("Hook ", kSecretA));
      OKR_RETURN_IF_ERROR(Check(e.note->CreateWebhook(&context, request, &e.webhook), "webhook"));
    }
    return absl::OkStatus();
  }

  // Every RPC of the three services, with a request made of A's ids.
  static std::vector<RpcCase> Table() {
    Env& e = *env_;
    PlanStub* p = e.plan.get();
    TrackStub* t = e.track.get();
    NotifyStub* n = e.note.get();
    const std::string team = e.team.id();
    const std::string person = e.person.id();
    const std::string quarter = e.quarter.id();
    const std::string year = e.year.id();
    const std::string objective = e.objective.id();
    const std::string child = e.child.id();
    const std::string kr = e.key_result.id();
    const std::string webhook = e.webhook.id();
    const std::string quarter_b = e.quarter_b.id();
    const auto mask = [](auto& request, const char* path) {
      request.mutable_update_mask()->add_paths(path);
    };
    std::vector<RpcCase> rows;
    const auto add = [&rows](const char* service, const char* method, Role role,
                             std::optional<Cross> cross, Call call) {
      rows.push_back({service, method, role, cross, std::move(call)});
    };
    constexpr std::optional<Cross> kNoId = std::nullopt;
    const Role R = Role::kReader, W = Role::kWriter, A = Role::kAdmin;
    const Cross NF = Cross::kNotFound, NO = Cross::kNothing;

    // --- planning ---
    add("planning", "BootstrapOrganisation", A, kNoId,
        Unary(p, &PlanStub::BootstrapOrganisation,
              Make<v1::BootstrapOrganisationRequest>([](auto& r) {
                r.set_organisation_id("initech");
                r.mutable_organisation()->set_name("Initech");
                r.mutable_organisation()->set_time_zone("UTC");
              })));
    add("planning", "GetOrganisation", R, NO,
        Unary(p, &PlanStub::GetOrganisation, v1::GetOrganisationRequest()));
    add("planning", "UpdateOrganisation", A, kNoId,
        Unary(p, &PlanStub::UpdateOrganisation,
              Make<v1::UpdateOrganisationRequest>([&](auto& r) {
                r.mutable_organisation()->set_mission("taken over");
                mask(r, "mission");
                r.set_version(1);
              })));
    add("planning", "CreateTeam", A, NF,
        Unary(p, &PlanStub::CreateTeam, Make<v1::CreateTeamRequest>([&](auto& r) {
                r.mutable_team()->set_name("Intruders");
                r.mutable_team()->set_parent_team_id(team);
              })));
    add("planning", "GetTeam", R, NF,
        Unary(p, &PlanStub::GetTeam, Make<v1::GetTeamRequest>([&](auto& r) { r.set_id(team); })));
    add("planning", "ListTeams", R, NO,
        Unary(p, &PlanStub::ListTeams,
              Make<v1::ListTeamsRequest>([&](auto& r) { r.set_parent_team_id(team); })));
    add("planning", "UpdateTeam", A, NF,
        Unary(p, &PlanStub::UpdateTeam, Make<v1::UpdateTeamRequest>([&](auto& r) {
                r.mutable_team()->set_id(team);
                r.mutable_team()->set_name("Renamed");
                mask(r, "name");
                r.set_version(e.team.version());
              })));
    add("planning", "DeleteTeam", A, NF,
        Unary(p, &PlanStub::DeleteTeam, Make<v1::DeleteTeamRequest>([&](auto& r) {
                r.set_id(team);
                r.set_version(e.team.version());
              })));
    add("planning", "CreatePerson", A, NF,
        Unary(p, &PlanStub::CreatePerson, Make<v1::CreatePersonRequest>([&](auto& r) {
                r.mutable_person()->set_display_name("Mallory");
                r.mutable_person()->set_email("mallory@globex.example");
                r.mutable_person()->add_team_ids(team);
              })));
    add("planning", "GetPerson", R, NF,
        Unary(p, &PlanStub::GetPerson,
              Make<v1::GetPersonRequest>([&](auto& r) { r.set_id(person); })));
    add("planning", "ListPeople", R, NO,
        Unary(p, &PlanStub::ListPeople,
              Make<v1::ListPeopleRequest>([&](auto& r) { r.set_team_id(team); })));
    add("planning", "UpdatePerson", A, NF,
        Unary(p, &PlanStub::UpdatePerson, Make<v1::UpdatePersonRequest>([&](auto& r) {
                r.mutable_person()->set_id(person);
                r.mutable_person()->set_display_name("Renamed");
                mask(r, "display_name");
                r.set_version(e.person.version());
              })));
    add("planning", "DeletePerson", A, NF,
        Unary(p, &PlanStub::DeletePerson, Make<v1::DeletePersonRequest>([&](auto& r) {
                r.set_id(person);
                r.set_version(e.person.version());
              })));
    add("planning", "CreateCycle", A, NF,
        Unary(p, &PlanStub::CreateCycle, Make<v1::CreateCycleRequest>([&](auto& r) {
                v1::Cycle* c = r.mutable_cycle();
                c->set_name("Sneaky month");
                c->set_kind(v1::CYCLE_KIND_MONTHLY);
                // The quarter's first month.
                *c->mutable_start_date() = e.quarter.start_date();
                v1::Date end = e.quarter.start_date();
                end.set_month(end.month() + 1);
                *c->mutable_end_date() = end;
                c->set_parent_cycle_id(quarter);
              })));
    add("planning", "CreateFiscalYear", A, kNoId,
        Unary(p, &PlanStub::CreateFiscalYear,
              Make<v1::CreateFiscalYearRequest>([](auto& r) { r.set_fiscal_year(2090); })));
    add("planning", "GetCycle", R, NF,
        Unary(p, &PlanStub::GetCycle,
              Make<v1::GetCycleRequest>([&](auto& r) { r.set_id(quarter); })));
    add("planning", "ListCycles", R, NO,
        Unary(p, &PlanStub::ListCycles,
              Make<v1::ListCyclesRequest>([&](auto& r) { r.set_parent_cycle_id(year); })));
    add("planning", "UpdateCycle", A, NF,
        Unary(p, &PlanStub::UpdateCycle, Make<v1::UpdateCycleRequest>([&](auto& r) {
                *r.mutable_cycle() = e.quarter;
                r.mutable_cycle()->set_name("Renamed");
                mask(r, "name");
                r.set_version(e.quarter.version());
              })));
    add("planning", "UpdateCycleState", A, NF,
        Unary(p, &PlanStub::UpdateCycleState, Make<v1::UpdateCycleStateRequest>([&](auto& r) {
                r.set_id(quarter);
                r.set_state(v1::CYCLE_STATE_REVIEW);
                r.set_version(e.quarter.version());
              })));
    add("planning", "CreateObjective", W, NF,
        Unary(p, &PlanStub::CreateObjective, Make<v1::CreateObjectiveRequest>([&](auto& r) {
                v1::Objective* o = r.mutable_objective();
                o->set_title("Planted objective");
                o->set_level(v1::LEVEL_INDIVIDUAL);
                o->set_owner_id(person);
                o->set_cycle_id(quarter);
                o->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
              })));
    add("planning", "GetObjective", R, NF,
        Unary(p, &PlanStub::GetObjective,
              Make<v1::GetObjectiveRequest>([&](auto& r) { r.set_id(objective); })));
    add("planning", "ListObjectives", R, NO,
        Unary(p, &PlanStub::ListObjectives,
              Make<v1::ListObjectivesRequest>([&](auto& r) { r.set_cycle_id(quarter); })));
    add("planning", "UpdateObjective", W, NF,
        Unary(p, &PlanStub::UpdateObjective, Make<v1::UpdateObjectiveRequest>([&](auto& r) {
                r.mutable_objective()->set_id(objective);
                r.mutable_objective()->set_title("Defaced");
                mask(r, "title");
                r.set_version(e.objective.version());
              })));
    add("planning", "ArchiveObjective", W, NF,
        Unary(p, &PlanStub::ArchiveObjective, Make<v1::ArchiveObjectiveRequest>([&](auto& r) {
                r.set_id(child);
                r.set_version(e.child.version());
              })));
    add("planning", "DeleteObjective", W, NF,
        Unary(p, &PlanStub::DeleteObjective, Make<v1::DeleteObjectiveRequest>([&](auto& r) {
                r.set_id(child);
                r.set_version(e.child.version());
              })));
    add("planning", "CreateKeyResult", W, NF,
        Unary(p, &PlanStub::CreateKeyResult, Make<v1::CreateKeyResultRequest>([&](auto& r) {
                v1::KeyResult* k = r.mutable_key_result();
                k->set_objective_id(objective);
                k->set_title("Planted key result");
                k->set_type(v1::KEY_RESULT_TYPE_MILESTONE);
              })));
    add("planning", "GetKeyResult", R, NF,
        Unary(p, &PlanStub::GetKeyResult,
              Make<v1::GetKeyResultRequest>([&](auto& r) { r.set_id(kr); })));
    add("planning", "ListKeyResults", R, NO,
        Unary(p, &PlanStub::ListKeyResults,
              Make<v1::ListKeyResultsRequest>([&](auto& r) { r.set_objective_id(objective); })));
    add("planning", "UpdateKeyResult", W, NF,
        Unary(p, &PlanStub::UpdateKeyResult, Make<v1::UpdateKeyResultRequest>([&](auto& r) {
                r.mutable_key_result()->set_id(kr);
                r.mutable_key_result()->set_title("Defaced");
                mask(r, "title");
                r.set_version(e.key_result.version());
              })));
    add("planning", "ArchiveKeyResult", W, NF,
        Unary(p, &PlanStub::ArchiveKeyResult, Make<v1::ArchiveKeyResultRequest>([&](auto& r) {
                r.set_id(kr);
                r.set_version(e.key_result.version());
              })));
    add("planning", "DeleteKeyResult", W, NF,
        Unary(p, &PlanStub::DeleteKeyResult, Make<v1::DeleteKeyResultRequest>([&](auto& r) {
                r.set_id(kr);
                r.set_version(e.key_result.version());
              })));
    add("planning", "AlignObjective", W, NF,
        Unary(p, &PlanStub::AlignObjective, Make<v1::AlignObjectiveRequest>([&](auto& r) {
                r.set_objective_id(objective);
                r.set_parent_objective_id(child);
                r.set_weight(1);
                r.set_version(e.objective.version());
              })));
    add("planning", "CascadeKeyResult", W, NF,
        Unary(p, &PlanStub::CascadeKeyResult, Make<v1::CascadeKeyResultRequest>([&](auto& r) {
                r.set_key_result_id(kr);
                r.mutable_objective()->set_level(v1::LEVEL_INDIVIDUAL);
                r.mutable_objective()->set_owner_id(person);
                r.mutable_objective()->set_cycle_id(quarter);
                r.mutable_objective()->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
                r.set_weight(1);
              })));
    add("planning", "UnalignObjective", W, NF,
        Unary(p, &PlanStub::UnalignObjective, Make<v1::UnalignObjectiveRequest>([&](auto& r) {
                r.set_objective_id(child);
                r.set_version(e.child.version());
              })));
    add("planning", "BreakDownObjective", W, NF,
        Unary(p, &PlanStub::BreakDownObjective,
              Make<v1::BreakDownObjectiveRequest>([&](auto& r) {
                r.set_objective_id(objective);
                v1::BreakdownItem* item = r.add_items();
                item->set_cycle_id(quarter);
                item->set_title("Planted breakdown");
                item->set_owner_id(person);
                item->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
              })));
    add("planning", "GetAlignmentTree", R, NF,
        Unary(p, &PlanStub::GetAlignmentTree,
              Make<v1::GetAlignmentTreeRequest>([&](auto& r) { r.set_cycle_id(quarter); })));
    add("planning", "RollOverObjectives", W, NF,
        Unary(p, &PlanStub::RollOverObjectives,
              Make<v1::RollOverObjectivesRequest>([&](auto& r) {
                r.set_target_cycle_id(quarter_b);
                r.add_items()->set_objective_id(objective);
              })));
    add("planning", "Lint", R, NF,
        Unary(p, &PlanStub::Lint,
              Make<v1::LintRequest>([&](auto& r) { r.set_objective_id(objective); })));
    add("planning", "ListLintRules", R, kNoId,
        Unary(p, &PlanStub::ListLintRules, v1::ListLintRulesRequest()));
    add("planning", "GetPlanningTimeline", R, kNoId,
        Unary(p, &PlanStub::GetPlanningTimeline,
              Make<v1::GetPlanningTimelineRequest>([](auto& r) { r.set_fiscal_year(2030); })));
    add("planning", "ListTemplates", R, kNoId,
        Unary(p, &PlanStub::ListTemplates, v1::ListTemplatesRequest()));
    // Cycles and owners are named, not identified: an import resolves them
    // in the caller's organisation. A dry run, so that nothing is written.
    add("planning", "ImportPlanCsv", W, kNoId,
        Unary(p, &PlanStub::ImportPlanCsv, Make<v1::ImportPlanCsvRequest>([](auto& r) {
                r.set_csv("cycle,objective_ref,objective_title\n");
                r.set_dry_run(true);
              })));
    add("planning", "ExportPlanCsv", R, NF,
        Unary(p, &PlanStub::ExportPlanCsv,
              Make<v1::ExportPlanCsvRequest>([&](auto& r) { r.set_cycle_id(quarter); })));
    add("planning", "ListPlanChanges", R, NO,
        Unary(p, &PlanStub::ListPlanChanges, v1::ListPlanChangesRequest()));
    add("planning", "WatchPlanChanges", R, NO,
        Stream(p, &PlanStub::WatchPlanChanges, v1::WatchPlanChangesRequest()));

    // --- tracking ---
    add("tracking", "RecordCheckIn", W, NF,
        Unary(t, &TrackStub::RecordCheckIn, Make<v1::RecordCheckInRequest>([&](auto& r) {
                r.set_key_result_id(kr);
                r.set_client_key("intruder-1");
                r.set_value(99);
                r.set_author_id(person);
              })));
    add("tracking", "ListCheckIns", R, NF,
        Unary(t, &TrackStub::ListCheckIns,
              Make<v1::ListCheckInsRequest>([&](auto& r) { r.set_key_result_id(kr); })));
    add("tracking", "GetKeyResultScore", R, NF,
        Unary(t, &TrackStub::GetKeyResultScore,
              Make<v1::GetKeyResultScoreRequest>([&](auto& r) { r.set_key_result_id(kr); })));
    add("tracking", "GetObjectiveScore", R, NF,
        Unary(t, &TrackStub::GetObjectiveScore,
              Make<v1::GetObjectiveScoreRequest>([&](auto& r) {
                r.set_objective_id(objective);
                r.set_include_key_results(true);
              })));
    add("tracking", "GetScoredTree", R, NF,
        Unary(t, &TrackStub::GetScoredTree,
              Make<v1::GetScoredTreeRequest>([&](auto& r) { r.set_cycle_id(quarter); })));
    add("tracking", "ExplainScore", R, NF,
        Unary(t, &TrackStub::ExplainScore,
              Make<v1::ExplainScoreRequest>([&](auto& r) { r.set_key_result_id(kr); })));
    add("tracking", "ListStaleKeyResults", R, NO,
        Unary(t, &TrackStub::ListStaleKeyResults,
              Make<v1::ListStaleKeyResultsRequest>([&](auto& r) {
                r.mutable_since()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 86400);
                r.set_cycle_id(quarter);
              })));
    add("tracking", "UpsertReview", W, NF,
        Unary(t, &TrackStub::UpsertReview, Make<v1::UpsertReviewRequest>([&](auto& r) {
                r.mutable_review()->set_objective_id(objective);
                r.mutable_review()->set_kind(v1::REVIEW_KIND_MID_QUARTER);
                r.mutable_review()->set_learnings("overwritten");
                r.set_version(e.review.version());
              })));
    add("tracking", "GetReview", R, NF,
        Unary(t, &TrackStub::GetReview, Make<v1::GetReviewRequest>([&](auto& r) {
                r.set_objective_id(objective);
                r.set_kind(v1::REVIEW_KIND_MID_QUARTER);
              })));
    add("tracking", "ListReviews", R, NO,
        Unary(t, &TrackStub::ListReviews,
              Make<v1::ListReviewsRequest>([&](auto& r) { r.set_objective_id(objective); })));
    add("tracking", "CloseCycle", A, NF,
        Unary(t, &TrackStub::CloseCycle, Make<v1::CloseCycleRequest>([&](auto& r) {
                r.set_cycle_id(quarter);
                r.set_force(true);
              })));
    add("tracking", "RebuildRollups", A, NF,
        Unary(t, &TrackStub::RebuildRollups,
              Make<v1::RebuildRollupsRequest>([&](auto& r) { r.set_cycle_id(quarter); })));

    // --- notify ---
    add("notify", "SetReminderPolicy", A, NF,
        Unary(n, &NotifyStub::SetReminderPolicy, Make<v1::SetReminderPolicyRequest>([&](auto& r) {
                r.mutable_policy()->set_team_id(team);
                r.mutable_policy()->set_time_zone("UTC");
                r.set_version(e.policy.version());
              })));
    add("notify", "GetReminderPolicy", R, NF,
        Unary(n, &NotifyStub::GetReminderPolicy,
              Make<v1::GetReminderPolicyRequest>([&](auto& r) { r.set_team_id(team); })));
    add("notify", "ListReminderPolicies", R, NO,
        Unary(n, &NotifyStub::ListReminderPolicies, v1::ListReminderPoliciesRequest()));
    add("notify", "DeleteReminderPolicy", A, NF,
        Unary(n, &NotifyStub::DeleteReminderPolicy,
              Make<v1::DeleteReminderPolicyRequest>([&](auto& r) {
                r.set_team_id(team);
                r.set_version(e.policy.version());
              })));
    add("notify", "CreateWebhook", A, NF,
        Unary(n, &NotifyStub::CreateWebhook, Make<v1::CreateWebhookRequest>([&](auto& r) {
                r.mutable_webhook()->set_url("http://127.0.0.1:9/planted");
                r.mutable_webhook()->set_team_id(team);
              })));
    add("notify", "ListWebhooks", A, NO,
        Unary(n, &NotifyStub::ListWebhooks, v1::ListWebhooksRequest()));
    add("notify", "DeleteWebhook", A, NF,
        Unary(n, &NotifyStub::DeleteWebhook,
              Make<v1::DeleteWebhookRequest>([&](auto& r) { r.set_id(webhook); })));
    add("notify", "RunDueReminders", A, kNoId,
        Unary(n, &NotifyStub::RunDueReminders,
              Make<v1::RunDueRemindersRequest>([](auto& r) { r.set_dry_run(true); })));
    // Live only: a filter naming A's team sees nothing, as B's reminders
    // never carry it.
    add("notify", "WatchReminders", R, NO,
        Stream(n, &NotifyStub::WatchReminders,
               Make<v1::WatchRemindersRequest>([&](auto& r) { r.set_team_id(team); })));
    add("notify", "ListReminders", R, NO,
        Unary(n, &NotifyStub::ListReminders,
              Make<v1::ListRemindersRequest>([&](auto& r) { r.set_recipient_id(person); })));
    add("notify", "ListDeliveries", R, NO,
        Unary(n, &NotifyStub::ListDeliveries,
              Make<v1::ListDeliveriesRequest>([&](auto& r) { r.set_webhook_id(webhook); })));
    return rows;
  }

  // A's data as A's admin reads it; equal before and after what B did.
  static std::string SnapshotA() {
    std::string out;
    for (const RpcCase& row : Table()) {
      // The reads of the table, plus the lists that hold everything.
      if (row.role != Role::kReader || row.method == "WatchPlanChanges" ||
          row.method == "WatchReminders" || !row.cross.has_value()) {
        continue;
      }
      // Scores move with the clock (pace); their inputs are covered by the
      // check-ins and the plan.
      if (absl::StrContains(row.method, "Score") || row.method == "ExplainScore" ||
          row.method == "GetScoredTree" || row.method == "ListStaleKeyResults") {
        continue;
      }
      const Outcome outcome = row.call(kAdminA, "");
      absl::StrAppend(&out, row.method, " -> ", Describe(outcome), "\n", outcome.response);
    }
    for (const Call& call :
         {Unary(env_->plan.get(), &PlanStub::ListObjectives,
                Make<v1::ListObjectivesRequest>([](auto& r) { r.set_page_size(100); })),
          Unary(env_->plan.get(), &PlanStub::ListTeams, v1::ListTeamsRequest()),
          Unary(env_->plan.get(), &PlanStub::ListPeople, v1::ListPeopleRequest()),
          Unary(env_->plan.get(), &PlanStub::ListCycles, v1::ListCyclesRequest()),
          Unary(env_->note.get(), &NotifyStub::ListWebhooks, v1::ListWebhooksRequest())}) {
      const Outcome outcome = call(kAdminA, "");
      absl::StrAppend(&out, Describe(outcome), "\n", outcome.response);
    }
    return out;
  }

  // The markers of A's data: ids and names.
  static std::vector<std::string> MarkersOfA() {
    const Env& e = *env_;
    return {kSecretA,      e.team.id(),      e.person.id(),     e.objective.id(),
            e.child.id(),  e.key_result.id(), e.quarter.id(),   e.year.id(),
            e.review.id(), e.webhook.id(),   "acme-confidential-hook"};
  }

  static Env* env_;
  static std::string* setup_error_;
};

Env* TenancyTest::env_ = nullptr;
std::string* TenancyTest::setup_error_ = new std::string();

TEST_F(TenancyTest, TheTableCoversEveryRpcOfTheThreeServices) {
  std::set<std::string> listed;
  for (const RpcCase& row : Table()) {
    EXPECT_TRUE(listed.insert(absl::StrCat(row.service, ".", row.method)).second)
        << row.method << " listed twice";
  }
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  int methods = 0;
  for (const auto& [service, name] : {std::pair{"planning", "okr.v1.PlanningService"},
                                      std::pair{"tracking", "okr.v1.TrackingService"},
                                      std::pair{"notify", "okr.v1.NotifyService"}}) {
    const google::protobuf::ServiceDescriptor* descriptor = pool->FindServiceByName(name);
    ASSERT_NE(descriptor, nullptr) << name;
    for (int i = 0; i < descriptor->method_count(); ++i) {
      ++methods;
      EXPECT_TRUE(listed.contains(absl::StrCat(service, ".", descriptor->method(i)->name())))
          << name << "." << descriptor->method(i)->name() << " has no row in the table";
    }
  }
  EXPECT_EQ(static_cast<int>(listed.size()), methods);
}

TEST_F(TenancyTest, AnotherOrganisationsIdsFindNothingAndChangeNothing) {
  const std::string before = SnapshotA();
  ASSERT_TRUE(absl::StrContains(before, kSecretA)) << before;
  const std::vector<std::string> markers = MarkersOfA();
  int checked = 0;
  for (const RpcCase& row : Table()) {
    if (!row.cross.has_value()) continue;
    SCOPED_TRACE(absl::StrCat(row.service, ".", row.method));
    ++checked;
    const Outcome outcome = row.call(kAdminB, "");
    if (*row.cross == Cross::kNotFound) {
      EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(outcome);
    } else {
      EXPECT_TRUE(outcome.status.ok() ||
                  outcome.status.error_code() == grpc::StatusCode::NOT_FOUND)
          << Describe(outcome);
    }
    // Nothing of A's comes back, in the response or in the message (which
    // may echo the id the caller sent, but never A's names).
    for (const std::string& marker : markers) {
      EXPECT_FALSE(absl::StrContains(outcome.response, marker))
          << marker << " leaked:\n" << outcome.response;
    }
    EXPECT_FALSE(absl::StrContains(outcome.status.error_message(), kSecretA))
        << outcome.status.error_message();
  }
  EXPECT_GE(checked, 50);
  EXPECT_EQ(SnapshotA(), before);
}

TEST_F(TenancyTest, OrganisationMetadataCannotPointAUserTokenElsewhere) {
  const Outcome outcome =
      Unary(env_->plan.get(), &PlanStub::GetObjective,
            Make<v1::GetObjectiveRequest>([](auto& r) { r.set_id(env_->objective.id()); }))(
          kAdminB, kOrgA);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(outcome);
  EXPECT_FALSE(absl::StrContains(outcome.response, kSecretA));
}

TEST_F(TenancyTest, ReadersCannotWriteAndWritersCannotAdminister) {
  const std::string before = SnapshotA();
  int denied = 0;
  for (const RpcCase& row : Table()) {
    SCOPED_TRACE(absl::StrCat(row.service, ".", row.method));
    for (const auto& [token, role] :
         {std::pair{kReaderA, Role::kReader}, std::pair{kWriterA, Role::kWriter}}) {
      if (row.role <= role) continue;
      ++denied;
      const Outcome outcome = row.call(token, "");
      EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
          << RoleName(role) << ": " << Describe(outcome);
      EXPECT_TRUE(absl::StrContains(outcome.status.error_message(),
                                    absl::StrCat("needs role ", RoleName(row.role))))
          << outcome.status.error_message();
    }
  }
  EXPECT_GE(denied, 40);
  EXPECT_EQ(SnapshotA(), before);
}

TEST_F(TenancyTest, ReadersMayRead) {
  for (const RpcCase& row : Table()) {
    if (row.role != Role::kReader) continue;
    SCOPED_TRACE(absl::StrCat(row.service, ".", row.method));
    const Outcome outcome = row.call(kReaderA, "");
    EXPECT_NE(outcome.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << Describe(outcome);
    EXPECT_NE(outcome.status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << Describe(outcome);
  }
}

TEST_F(TenancyTest, NoTokenOrAnUnknownOneIsUnauthenticated) {
  const std::string before = SnapshotA();
  for (const RpcCase& row : Table()) {
    SCOPED_TRACE(absl::StrCat(row.service, ".", row.method));
    // Naming the organisation in metadata does not stand in for a token.
    const Outcome none = row.call("", kOrgA);
    EXPECT_EQ(none.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(none);
    EXPECT_TRUE(absl::StrContains(none.status.error_message(), "missing bearer token"))
        << none.status.error_message();
    const Outcome unknown = row.call("tok-not-in-the-file-0123456789ab", "");
    EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << Describe(unknown);
  }
  EXPECT_EQ(SnapshotA(), before);
}

TEST_F(TenancyTest, BootstrapIsForTheTokensOwnOrganisationOrAServiceToken) {
  const auto bootstrap = [](const std::string& org) {
    return Unary(env_->plan.get(), &PlanStub::BootstrapOrganisation,
                 Make<v1::BootstrapOrganisationRequest>([&](auto& r) {
                   r.set_organisation_id(org);
                   r.mutable_organisation()->set_name("Someone");
                   r.mutable_organisation()->set_time_zone("UTC");
                 }));
  };
  const Outcome other = bootstrap("umbrella")(kAdminA, "");
  EXPECT_EQ(other.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(other);
  const Outcome writer = bootstrap(kOrgA)(kWriterA, "");
  EXPECT_EQ(writer.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(writer);
  const Outcome platform = bootstrap("umbrella")(kService, "");
  EXPECT_TRUE(platform.status.ok()) << Describe(platform);
}

TEST_F(TenancyTest, ServicesReachEachOtherWithTheirServiceToken) {
  // Tracking resolves the key result through planning (service token).
  const Outcome check_in =
      Unary(env_->track.get(), &TrackStub::RecordCheckIn,
            Make<v1::RecordCheckInRequest>([](auto& r) {
              r.set_key_result_id(env_->key_result.id());
              r.set_client_key("service-path-1");
              r.set_value(55);
              r.set_author_id(env_->person.id());
            }))(kWriterA, "");
  EXPECT_TRUE(check_in.status.ok()) << Describe(check_in);
  // Notify reads the plan and the stale key results (service token).
  const Outcome run = Unary(env_->note.get(), &NotifyStub::RunDueReminders,
                            Make<v1::RunDueRemindersRequest>([](auto& r) {
                              r.set_dry_run(true);
                            }))(kAdminA, "");
  EXPECT_TRUE(run.status.ok()) << Describe(run);
}

// The CronJob's binary sends --token_file's token; without one it is
// refused.
TEST_F(TenancyTest, TheReminderJobSendsItsTokenFile) {
  OKR_ASSERT_OK_AND_ASSIGN(const std::string job, OkrBinary("okr-reminder-job"));
  const auto run = [&](std::vector<std::string> extra) -> absl::StatusOr<ExitStatus> {
    SubprocessOptions options;
    options.program = job;
    options.args = {"--notify_addr=" + env_->notify->address(),
                    absl::StrCat("--organisations=", kOrgA, ",", kOrgB), "--dry_run",
                    "--retries=0", "--timeout=10s"};
    options.args.insert(options.args.end(), extra.begin(), extra.end());
    options.stdout_path = env_->dir.File("job.out");
    options.stderr_path = env_->dir.File("job.out");
    OKR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Start(options));
    return process->Wait(absl::Seconds(60));
  };
  OKR_ASSERT_OK_AND_ASSIGN(ExitStatus with_token,
                           run({"--token_file=" + env_->dir.File("service-token")}));
  EXPECT_TRUE(with_token.success())
      << with_token.ToString() << "\n" << ReadFileToString(env_->dir.File("job.out"));
  OKR_ASSERT_OK_AND_ASSIGN(ExitStatus without, run({}));
  EXPECT_EQ(without.exit_code, 1) << without.ToString();
  EXPECT_TRUE(absl::StrContains(ReadFileToString(env_->dir.File("job.out")),
                                "missing bearer token"));
}

TEST_F(TenancyTest, AWrongServiceTokenFailsCleanly) {
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServiceProcess> tracking,
                           env_->StartTracking("wrong-token", "tracking-wrong"));
  auto stub = v1::TrackingService::NewStub(Env::Channel(*tracking));
  const Outcome check_in =
      Unary(stub.get(), &TrackStub::RecordCheckIn, Make<v1::RecordCheckInRequest>([](auto& r) {
              r.set_key_result_id(env_->key_result.id());
              r.set_client_key("wrong-token-1");
              r.set_value(60);
              r.set_author_id(env_->person.id());
            }))(kWriterA, "");
  EXPECT_TRUE(check_in.status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              check_in.status.error_code() == grpc::StatusCode::UNAUTHENTICATED)
      << Describe(check_in);
  EXPECT_TRUE(tracking->running()) << tracking->LogTail();

  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServiceProcess> notify,
                           env_->StartNotify("wrong-token", "notify-wrong"));
  auto notify_stub = v1::NotifyService::NewStub(Env::Channel(*notify));
  const Outcome run = Unary(notify_stub.get(), &NotifyStub::RunDueReminders,
                            Make<v1::RunDueRemindersRequest>([](auto& r) {
                              r.set_dry_run(true);
                            }))(kAdminA, "");
  EXPECT_TRUE(run.status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              run.status.error_code() == grpc::StatusCode::UNAUTHENTICATED)
      << Describe(run);
  EXPECT_TRUE(notify->running()) << notify->LogTail();
}

TEST_F(TenancyTest, ARotatedTokensFileTakesEffectWithoutARestart) {
  const std::string path = env_->dir.File("tokens");
  const std::string original = ReadFileToString(path);
  constexpr char kNewReader[] = "tok-new-reader-acme-0123456789ab";
  const Call get = Unary(env_->plan.get(), &PlanStub::GetOrganisation, v1::GetOrganisationRequest());
  ASSERT_EQ(get(kNewReader, "").status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // As a Kubernetes Secret update does: a new file renamed over the old.
  OKR_ASSERT_OK(Env::WriteFile(path + ".new", absl::StrCat(original, "new-reader ", kOrgA,
                                                           " reader ", kNewReader, "\n")));
  ASSERT_EQ(std::rename((path + ".new").c_str(), path.c_str()), 0);
  Outcome outcome;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;) {
    outcome = get(kNewReader, "");
    if (outcome.status.ok()) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(outcome.status.ok()) << Describe(outcome);
  EXPECT_TRUE(absl::StrContains(outcome.response, kSecretA)) << outcome.response;
  // Put the file back for the other tests.
  OKR_ASSERT_OK(Env::WriteFile(path + ".new", original));
  ASSERT_EQ(std::rename((path + ".new").c_str(), path.c_str()), 0);
}

// Tokens never reach a log: every RPC of the table is called with each user
// token, an unknown one and a malformed header, the services call each other
// with their service token, and no token of any kind appears in any service's
// log, whose access lines do record these calls.
TEST_F(TenancyTest, TokensNeverAppearInTheServicesLogs) {
  constexpr char kUnknown[] = "tok-unknown-never-logged-0123456789";
  for (const RpcCase& row : Table()) {
    for (const char* token : {kReaderA, kWriterA, kAdminA, kAdminB, kUnknown}) {
      row.call(token, "");
    }
  }
  grpc::ClientContext malformed;
  malformed.AddMetadata("authorization", absl::StrCat("Basic ", kUnknown));
  v1::Organisation organisation;
  env_->plan->GetOrganisation(&malformed, v1::GetOrganisationRequest(), &organisation);
  // Tracking and notify reach planning (and notify reaches tracking) with kService.
  Unary(env_->note.get(), &NotifyStub::RunDueReminders,
        Make<v1::RunDueRemindersRequest>([](auto& r) { r.set_dry_run(true); }))(kAdminA, "");
  // Access lines are flushed in batches at most 100 ms apart.
  absl::SleepFor(absl::Milliseconds(500));

  for (const ServiceProcess* process :
       {env_->planning.get(), env_->tracking.get(), env_->notify.get()}) {
    const std::string log = process->log();
    SCOPED_TRACE(process->log_path());
    EXPECT_TRUE(absl::StrContains(log, "UNAUTHENTICATED")) << "no access line of a refused call";
    for (const char* token :
         {kReaderA, kWriterA, kAdminA, kAdminB, kUnknown, kService, kWrongService}) {
      EXPECT_FALSE(absl::StrContains(log, token)) << "token " << token << " in the log";
    }
  }
}

}  // namespace
}  // namespace okr
