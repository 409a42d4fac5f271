// Tests of GrpcPlanSource against the real okr-planning binary (a free
// loopback port, a temporary SQLite store): the change feed converted to
// PlanDeltas in order and paged, an unknown organisation as an empty feed,
// UpdateCycleState with planning's own errors passed through, and planning
// stopped, never started or frozen (SIGSTOP) answering UNAVAILABLE within the
// call timeout. A scripted planning in process covers what the real one never
// sends: the retry of UNAVAILABLE, and changes the model cannot hold.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/health_client.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/planning.grpc.pb.h"
#include "services/tracking/plan_source.h"
#include "tests/support/test_support.h"

namespace okr::tracking {
namespace {

using ::testing::HasSubstr;
using Stub = v1::PlanningService::Stub;

constexpr absl::string_view kOrg = "acme";
// Short enough that the failure tests run quickly, long enough for a call
// to a loaded (sanitizer) okr-planning.
constexpr absl::Duration kCallTimeout = absl::Seconds(2);
constexpr absl::Duration kSlack = absl::Seconds(1);

// The okr-planning process on a store file that outlives restarts.
class PlanningProcess {
 public:
  explicit PlanningProcess(std::string store_path) : store_path_(std::move(store_path)) {}
  ~PlanningProcess() {
    if (process_ != nullptr && process_->Running()) {
      (void)process_->Kill(SIGKILL);
    }
  }

  // Starts the binary and waits until health says SERVING; on the previous
  // port when `same_port`, else on a new free port (retried when taken).
  absl::Status Start(bool same_port = false) {
    OKR_ASSIGN_OR_RETURN(const std::string binary, OkrBinary("okr-planning"));
    absl::Status last;
    for (int attempt = 0; attempt < (same_port ? 1 : 5); ++attempt) {
      if (!same_port) {
        OKR_ASSIGN_OR_RETURN(port_, FreeLoopbackPort());
      }
      SubprocessOptions options;
      options.program = binary;
      options.args = {"--auth=false", absl::StrCat("--listen=127.0.0.1:", port_),
                      absl::StrCat("--store=sqlite:", store_path_), "--workers=4",
                      "--shutdown_grace=2s"};
      options.stdout_path = store_path_ + ".log";
      options.stderr_path = store_path_ + ".stderr";
      OKR_ASSIGN_OR_RETURN(process_, Subprocess::Start(std::move(options)));
      last = WaitForServing(address(), absl::Seconds(30));
      if (last.ok()) return absl::OkStatus();
      (void)process_->Kill(SIGKILL);
      (void)process_->Wait(absl::Seconds(5));
    }
    return absl::UnavailableError(absl::StrCat("okr-planning did not serve: ", last.ToString(),
                                               "; log: ", ReadFileToString(store_path_ + ".log")));
  }

  // SIGTERM, then waits for the exit.
  absl::Status Stop() {
    OKR_RETURN_IF_ERROR(process_->Kill(SIGTERM));
    OKR_ASSIGN_OR_RETURN(const ExitStatus exit, process_->Wait(absl::Seconds(15)));
    if (!exit.success()) return absl::InternalError(exit.ToString());
    return absl::OkStatus();
  }

  absl::Status Signal(int signal) { return process_->Kill(signal); }

  // SIGSTOP, then waits until every thread has stopped: the group stop takes
  // effect thread by thread, and a thread still running (on a loaded
  // machine) could answer one more call.
  absl::Status Freeze() {
    OKR_RETURN_IF_ERROR(process_->Kill(SIGSTOP));
    const std::string tasks = absl::StrCat("/proc/", process_->pid(), "/task");
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      bool all_stopped = true;
      std::error_code error;
      for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
        // "pid (comm) S ...": the state follows the last ')'.
        const std::string stat = ReadFileToString(task.path() / "stat");
        const size_t paren = stat.rfind(')');
        if (paren == std::string::npos || paren + 2 >= stat.size() ||
            (stat[paren + 2] != 'T' && stat[paren + 2] != 't')) {
          all_stopped = false;
        }
      }
      if (!error && all_stopped) return absl::OkStatus();
      absl::SleepFor(absl::Milliseconds(5));
    }
    return absl::DeadlineExceededError("okr-planning did not stop on SIGSTOP");
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  const std::string store_path_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

GrpcPlanSourceOptions Options(std::string address, absl::Duration call_timeout = kCallTimeout) {
  GrpcPlanSourceOptions options;
  options.address = std::move(address);
  options.call_timeout = call_timeout;
  return options;
}

class GrpcPlanSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    planning_ = std::make_unique<PlanningProcess>(dir_.File("plan.db"));
    OKR_ASSERT_OK(planning_->Start());
    channel_ = grpc::CreateChannel(planning_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::PlanningService::NewStub(channel_);
    OKR_ASSERT_OK_AND_ASSIGN(source_, NewGrpcPlanSource(Options(planning_->address())));
  }

  // One call to planning with a deadline and the organisation metadata
  // (none for an empty `org`).
  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const std::type_identity_t<Request>& request, Response* response,
                    absl::string_view org = kOrg) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    if (!org.empty()) context.AddMetadata("okr-organisation-id", std::string(org));
    return (stub_.get()->*method)(&context, request, response);
  }

  // The organisation and, in change order, a person, a quarter, an
  // objective and a key result; `created_` lists them as (kind, id).
  void SeedPlan() {
    v1::BootstrapOrganisationRequest bootstrap;
    bootstrap.set_organisation_id(std::string(kOrg));
    bootstrap.mutable_organisation()->set_name("Acme Retail");
    bootstrap.mutable_organisation()->set_time_zone("Europe/Berlin");
    v1::Organisation org;
    ASSERT_TRUE(Call(&Stub::BootstrapOrganisation, bootstrap, &org, "").ok());
    created_.emplace_back(ResourceKind::kOrganisation, std::string(kOrg));

    v1::CreatePersonRequest person_request;
    person_request.mutable_person()->set_display_name("Jane Doe");
    person_request.mutable_person()->set_email("jane@acme.example");
    ASSERT_TRUE(Call(&Stub::CreatePerson, person_request, &person_).ok());
    created_.emplace_back(ResourceKind::kPerson, person_.id());

    v1::CreateCycleRequest cycle_request;
    v1::Cycle* cycle = cycle_request.mutable_cycle();
    cycle->set_name("2027-Q1");
    cycle->set_kind(v1::CYCLE_KIND_QUARTERLY);
    cycle->mutable_start_date()->set_year(2027);
    cycle->mutable_start_date()->set_month(1);
    cycle->mutable_start_date()->set_day(1);
    cycle->mutable_end_date()->set_year(2027);
    cycle->mutable_end_date()->set_month(4);
    cycle->mutable_end_date()->set_day(1);
    const grpc::Status cycle_status = Call(&Stub::CreateCycle, cycle_request, &cycle_);
    ASSERT_TRUE(cycle_status.ok()) << cycle_status.error_message();
    created_.emplace_back(ResourceKind::kCycle, cycle_.id());

    v1::CreateObjectiveRequest objective_request;
    v1::Objective* objective = objective_request.mutable_objective();
    objective->set_title("Delight every shopper");
    objective->set_level(v1::LEVEL_COMPANY);
    objective->set_owner_id(person_.id());
    objective->set_cycle_id(cycle_.id());
    objective->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
    const grpc::Status objective_status =
        Call(&Stub::CreateObjective, objective_request, &objective_);
    ASSERT_TRUE(objective_status.ok()) << objective_status.error_message();
    created_.emplace_back(ResourceKind::kObjective, objective_.id());

    v1::CreateKeyResultRequest kr_request;
    v1::KeyResult* kr = kr_request.mutable_key_result();
    kr->set_objective_id(objective_.id());
    kr->set_title("Raise NPS from 30 to 45");
    kr->set_type(v1::KEY_RESULT_TYPE_METRIC);
    kr->set_measure(v1::MEASURE_KPI);
    kr->set_start_value(30);
    kr->set_target_value(45);
    kr->set_unit("NPS");
    const grpc::Status kr_status = Call(&Stub::CreateKeyResult, kr_request, &kr_);
    ASSERT_TRUE(kr_status.ok()) << kr_status.error_message();
    created_.emplace_back(ResourceKind::kKeyResult, kr_.id());
  }

  TempDir dir_{"okr-grpc-plan-source-test"};
  std::unique_ptr<PlanningProcess> planning_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
  std::unique_ptr<PlanSource> source_;
  std::vector<std::pair<ResourceKind, Id>> created_;
  v1::Person person_;
  v1::Cycle cycle_;
  v1::Objective objective_;
  v1::KeyResult kr_;
};

std::vector<std::pair<ResourceKind, Id>> KindsAndIds(const PlanDeltaPage& page) {
  std::vector<std::pair<ResourceKind, Id>> out;
  for (const PlanDelta& delta : page.changes) out.emplace_back(delta.kind, delta.id);
  return out;
}

TEST_F(GrpcPlanSourceTest, ChangesComeConvertedInSequenceOrder) {
  ASSERT_NO_FATAL_FAILURE(SeedPlan());

  OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage page, source_->ChangesAfter(kOrg, 0));
  EXPECT_EQ(KindsAndIds(page), created_);
  ASSERT_EQ(page.changes.size(), created_.size());
  for (size_t i = 0; i < page.changes.size(); ++i) {
    const PlanDelta& delta = page.changes[i];
    if (i > 0) {
      EXPECT_GT(delta.sequence, page.changes[i - 1].sequence);
    }
    EXPECT_FALSE(delta.deleted);
    ASSERT_TRUE(delta.resource.has_value()) << "change " << delta.sequence;
    EXPECT_EQ(planning::KindOf(*delta.resource), delta.kind);
    EXPECT_EQ(planning::IdOf(*delta.resource), delta.id);
  }
  EXPECT_EQ(page.latest_sequence, page.changes.back().sequence);

  // The snapshots hold the values planning stored, the organisation stamped.
  const auto& organisation = std::get<Organisation>(*page.changes[0].resource);
  EXPECT_EQ(organisation.name, "Acme Retail");
  EXPECT_EQ(organisation.time_zone, "Europe/Berlin");
  const auto& person = std::get<Person>(*page.changes[1].resource);
  EXPECT_EQ(person.display_name, "Jane Doe");
  EXPECT_EQ(person.organisation_id, kOrg);
  const auto& cycle = std::get<Cycle>(*page.changes[2].resource);
  EXPECT_EQ(cycle.start, absl::CivilDay(2027, 1, 1));
  EXPECT_EQ(cycle.end, absl::CivilDay(2027, 4, 1));
  EXPECT_EQ(cycle.state, CycleState::kPlanning);
  EXPECT_EQ(cycle.version, cycle_.version());
  const auto& objective = std::get<Objective>(*page.changes[3].resource);
  EXPECT_EQ(objective.title, "Delight every shopper");
  EXPECT_EQ(objective.cycle_id, cycle_.id());
  EXPECT_EQ(objective.owner_id, person_.id());
  EXPECT_EQ(objective.organisation_id, kOrg);
  const auto& kr = std::get<KeyResult>(*page.changes[4].resource);
  EXPECT_EQ(kr.objective_id, objective_.id());
  EXPECT_EQ(kr.type, KeyResultType::kMetric);
  EXPECT_DOUBLE_EQ(kr.from, 30);
  EXPECT_DOUBLE_EQ(kr.to, 45);

  // Caught up: nothing after the last; a middle cursor gives the rest.
  const int64_t last = page.changes.back().sequence;
  OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage empty, source_->ChangesAfter(kOrg, last));
  EXPECT_TRUE(empty.changes.empty());
  EXPECT_EQ(empty.latest_sequence, last);
  OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage rest,
                           source_->ChangesAfter(kOrg, page.changes[2].sequence));
  EXPECT_EQ(KindsAndIds(rest),
            (std::vector<std::pair<ResourceKind, Id>>(created_.begin() + 3, created_.end())));
}

TEST_F(GrpcPlanSourceTest, DeletionsComeWithoutSnapshot) {
  ASSERT_NO_FATAL_FAILURE(SeedPlan());
  OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage before, source_->ChangesAfter(kOrg, 0));
  v1::DeleteKeyResultRequest request;
  request.set_id(kr_.id());
  request.set_version(kr_.version());
  google::protobuf::Empty empty;
  const grpc::Status status = Call(&Stub::DeleteKeyResult, request, &empty);
  ASSERT_TRUE(status.ok()) << status.error_message();

  OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage page,
                           source_->ChangesAfter(kOrg, before.latest_sequence));
  ASSERT_EQ(page.changes.size(), 1u);
  EXPECT_EQ(page.changes[0].kind, ResourceKind::kKeyResult);
  EXPECT_EQ(page.changes[0].id, kr_.id());
  EXPECT_TRUE(page.changes[0].deleted);
  EXPECT_FALSE(page.changes[0].resource.has_value());
  EXPECT_EQ(page.latest_sequence, page.changes[0].sequence);
}

TEST_F(GrpcPlanSourceTest, LongFeedsComeInPagesOfAThousand) {
  ASSERT_NO_FATAL_FAILURE(SeedPlan());
  // 1,100 more changes, from a few threads to keep the test short.
  constexpr int kPeople = 1100;
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kPeople; i += kThreads) {
        v1::CreatePersonRequest request;
        request.mutable_person()->set_display_name(absl::StrCat("Person ", i));
        v1::Person person;
        if (!Call(&Stub::CreatePerson, request, &person).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  const size_t total = created_.size() + kPeople;

  std::vector<int64_t> sequences;
  int64_t cursor = 0;
  int pages = 0;
  int64_t latest = 0;
  for (;;) {
    OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage page, source_->ChangesAfter(kOrg, cursor));
    latest = page.latest_sequence;
    if (page.changes.empty()) break;
    ++pages;
    EXPECT_LE(page.changes.size(), 1000u);
    for (const PlanDelta& delta : page.changes) {
      EXPECT_GT(delta.sequence, cursor);
      cursor = delta.sequence;
      sequences.push_back(delta.sequence);
    }
    ASSERT_LT(pages, 10) << "the feed does not end";
  }
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(sequences.size(), total);
  EXPECT_EQ(cursor, latest);
}

TEST_F(GrpcPlanSourceTest, AnUnknownOrganisationHasAnEmptyFeed) {
  ASSERT_NO_FATAL_FAILURE(SeedPlan());
  OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage page, source_->ChangesAfter("globex", 0));
  EXPECT_TRUE(page.changes.empty());
  EXPECT_EQ(page.latest_sequence, 0);
}

TEST_F(GrpcPlanSourceTest, UpdateCycleStateMovesTheCycleAndPassesPlanningErrors) {
  ASSERT_NO_FATAL_FAILURE(SeedPlan());
  OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage before, source_->ChangesAfter(kOrg, 0));

  OKR_ASSERT_OK_AND_ASSIGN(
      const Cycle active,
      source_->UpdateCycleState(kOrg, cycle_.id(), CycleState::kActive, cycle_.version()));
  EXPECT_EQ(active.id, cycle_.id());
  EXPECT_EQ(active.state, CycleState::kActive);
  EXPECT_GT(active.version, cycle_.version());
  EXPECT_EQ(active.organisation_id, kOrg);

  // The stale version: planning's ABORTED, with its message.
  const absl::StatusOr<Cycle> stale =
      source_->UpdateCycleState(kOrg, cycle_.id(), CycleState::kReview, cycle_.version());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
  // Not the next state: FAILED_PRECONDITION; an unknown cycle: NOT_FOUND.
  EXPECT_EQ(source_->UpdateCycleState(kOrg, cycle_.id(), CycleState::kClosed, active.version)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      source_->UpdateCycleState(kOrg, "cycle-missing", CycleState::kReview, 1).status().code(),
      absl::StatusCode::kNotFound);
  // A field violation survives the trip.
  const absl::StatusOr<Cycle> unspecified =
      source_->UpdateCycleState(kOrg, cycle_.id(), CycleState::kUnspecified, active.version);
  EXPECT_EQ(unspecified.status().code(), absl::StatusCode::kInvalidArgument);
  bool names_state = false;
  for (const FieldViolation& v : FieldViolationsOf(unspecified.status())) {
    names_state |= v.field == "state";
  }
  EXPECT_TRUE(names_state) << unspecified.status();

  // The feed carries the move.
  OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage after,
                           source_->ChangesAfter(kOrg, before.latest_sequence));
  ASSERT_EQ(after.changes.size(), 1u);
  EXPECT_EQ(after.changes[0].id, cycle_.id());
  EXPECT_EQ(std::get<Cycle>(*after.changes[0].resource).state, CycleState::kActive);
}

// Checks that `status` is UNAVAILABLE naming planning's address.
void ExpectUnreachable(const absl::Status& status, const std::string& address) {
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("planning at ", address, " unreachable")));
}

TEST_F(GrpcPlanSourceTest, StoppedPlanningIsUnavailableWithinTheTimeoutAndRecovers) {
  ASSERT_NO_FATAL_FAILURE(SeedPlan());
  OKR_ASSERT_OK(source_->ChangesAfter(kOrg, 0).status());  // connected
  stub_.reset();
  channel_.reset();
  OKR_ASSERT_OK(planning_->Stop());

  absl::Time start = absl::Now();
  ExpectUnreachable(source_->ChangesAfter(kOrg, 0).status(), planning_->address());
  EXPECT_LT(absl::Now() - start, kCallTimeout + kSlack);
  start = absl::Now();
  ExpectUnreachable(
      source_->UpdateCycleState(kOrg, cycle_.id(), CycleState::kActive, cycle_.version()).status(),
      planning_->address());
  EXPECT_LT(absl::Now() - start, kCallTimeout + kSlack);

  // Back on the same port: the channel reconnects within about a second.
  OKR_ASSERT_OK(planning_->Start(/*same_port=*/true));
  const absl::Time back = absl::Now();
  absl::StatusOr<PlanDeltaPage> page;
  do {
    page = source_->ChangesAfter(kOrg, 0);
    if (page.ok()) break;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() - back < absl::Seconds(10));
  OKR_ASSERT_OK(page.status());
  EXPECT_LT(absl::Now() - back, absl::Seconds(3));
  EXPECT_EQ(KindsAndIds(*page), created_);
}

TEST(GrpcPlanSourceNoServerTest, PlanningNeverStartedIsUnavailableWithinTheTimeout) {
  OKR_ASSERT_OK_AND_ASSIGN(const int port, FreeLoopbackPort());
  const std::string address = absl::StrCat("127.0.0.1:", port);
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PlanSource> source, NewGrpcPlanSource(Options(address)));
  for (int i = 0; i < 2; ++i) {  // the first call connects, the second finds it failed
    const absl::Time start = absl::Now();
    ExpectUnreachable(source->ChangesAfter(kOrg, 0).status(), address);
    EXPECT_LT(absl::Now() - start, kCallTimeout + kSlack);
  }
}

TEST(GrpcPlanSourceNoServerTest, BadOptionsAreRefused) {
  EXPECT_EQ(NewGrpcPlanSource(Options("")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NewGrpcPlanSource(Options("127.0.0.1:1", absl::ZeroDuration())).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(GrpcPlanSourceTest, FrozenPlanningIsUnavailableWithinTheTimeout) {
  ASSERT_NO_FATAL_FAILURE(SeedPlan());
  OKR_ASSERT_OK(source_->ChangesAfter(kOrg, 0).status());  // connected
  // Whatever happens below, planning runs again afterwards.
  struct Resume {
    PlanningProcess* planning;
    ~Resume() { (void)planning->Signal(SIGCONT); }
  } resume{planning_.get()};
  OKR_ASSERT_OK(planning_->Freeze());

  for (int i = 0; i < 2; ++i) {
    const absl::Time start = absl::Now();
    ExpectUnreachable(source_->ChangesAfter(kOrg, 0).status(), planning_->address());
    const absl::Duration took = absl::Now() - start;
    EXPECT_LT(took, kCallTimeout + kSlack);
    // A hang is only noticed by the deadline.
    EXPECT_GE(took, kCallTimeout - absl::Milliseconds(100));
  }
  // A stale version: should planning still run the abandoned call after
  // SIGCONT, it changes nothing.
  const absl::Time start = absl::Now();
  ExpectUnreachable(
      source_->UpdateCycleState(kOrg, cycle_.id(), CycleState::kActive, cycle_.version() + 100)
          .status(),
      planning_->address());
  EXPECT_LT(absl::Now() - start, kCallTimeout + kSlack);

  OKR_ASSERT_OK(planning_->Signal(SIGCONT));
  OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage page, source_->ChangesAfter(kOrg, 0));
  EXPECT_EQ(KindsAndIds(page), created_);
}

// --- Against a scripted planning in process ----------------------------------

// Answers ListPlanChanges with a scripted response after failing the first
// `failures` attempts with UNAVAILABLE, and records what it was sent.
class ScriptedPlanning final : public v1::PlanningService::Service {
 public:
  grpc::Status ListPlanChanges(grpc::ServerContext* context,
                               const v1::ListPlanChangesRequest* request,
                               v1::ListPlanChangesResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++attempts_;
    last_request_ = *request;
    for (const auto& [key, value] : context->client_metadata()) {
      metadata_[std::string(key.data(), key.size())] = std::string(value.data(), value.size());
    }
    if (failures_ > 0) {
      --failures_;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "scripted failure");
    }
    *response = response_;
    return grpc::Status::OK;
  }

  absl::Mutex mu_;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;
  v1::ListPlanChangesResponse response_ ABSL_GUARDED_BY(mu_);
  v1::ListPlanChangesRequest last_request_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> metadata_ ABSL_GUARDED_BY(mu_);
};

class ScriptedPlanningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&planning_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  // A change of a key result (sequence `sequence`) in the scripted answer.
  v1::KeyResult* AddKeyResultChange(int64_t sequence) {
    absl::MutexLock lock(&planning_.mu_);
    v1::PlanChange* change = planning_.response_.add_changes();
    change->set_sequence(sequence);
    change->mutable_resource()->set_kind(v1::RESOURCE_KIND_KEY_RESULT);
    change->mutable_resource()->set_id(absl::StrCat("kr-", sequence));
    v1::KeyResult* kr = change->mutable_key_result();
    kr->set_id(absl::StrCat("kr-", sequence));
    kr->set_objective_id("obj-1");
    kr->set_title("Raise NPS");
    kr->set_type(v1::KEY_RESULT_TYPE_METRIC);
    kr->set_target_value(10);
    planning_.response_.set_latest_sequence(sequence);
    return kr;
  }

  ScriptedPlanning planning_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ScriptedPlanningTest, SendsTheOrganisationTokenCursorAndPageSize) {
  AddKeyResultChange(8);
  GrpcPlanSourceOptions options = Options(address());
  options.token = "s3cret";
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PlanSource> source, NewGrpcPlanSource(options));
  OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage page, source->ChangesAfter("globex", 7));
  ASSERT_EQ(page.changes.size(), 1u);
  EXPECT_EQ(page.changes[0].id, "kr-8");
  EXPECT_EQ(std::get<KeyResult>(*page.changes[0].resource).organisation_id, "globex");

  absl::MutexLock lock(&planning_.mu_);
  EXPECT_EQ(planning_.last_request_.after_sequence(), 7);
  EXPECT_EQ(planning_.last_request_.page_size(), 1000);
  EXPECT_EQ(planning_.metadata_["okr-organisation-id"], "globex");
  EXPECT_EQ(planning_.metadata_["authorization"], "Bearer s3cret");
}

TEST_F(ScriptedPlanningTest, RetriesUnavailableUpToThreeAttempts) {
  AddKeyResultChange(1);
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PlanSource> source,
                           NewGrpcPlanSource(Options(address())));
  {
    absl::MutexLock lock(&planning_.mu_);
    planning_.failures_ = 2;
  }
  OKR_ASSERT_OK_AND_ASSIGN(const PlanDeltaPage page, source->ChangesAfter(kOrg, 0));
  EXPECT_EQ(page.changes.size(), 1u);
  {
    absl::MutexLock lock(&planning_.mu_);
    EXPECT_EQ(planning_.attempts_, 3);
    planning_.failures_ = 3;
    planning_.attempts_ = 0;
  }
  const absl::Status failed = source->ChangesAfter(kOrg, 0).status();
  ExpectUnreachable(failed, address());
  EXPECT_THAT(failed.message(), HasSubstr("scripted failure"));
  absl::MutexLock lock(&planning_.mu_);
  EXPECT_EQ(planning_.attempts_, 3);
}

TEST_F(ScriptedPlanningTest, AChangeTheModelCannotHoldIsInternalNamingItsSequence) {
  AddKeyResultChange(4);
  AddKeyResultChange(5)->set_type(static_cast<v1::KeyResultType>(42));
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PlanSource> source,
                           NewGrpcPlanSource(Options(address())));
  const absl::Status status = source->ChangesAfter(kOrg, 0).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(), HasSubstr("change 5 "));
  EXPECT_THAT(status.message(), HasSubstr("key_result.type"));
}

TEST_F(ScriptedPlanningTest, AChangeWithoutSnapshotOrOutOfOrderIsInternal) {
  AddKeyResultChange(3);
  {
    absl::MutexLock lock(&planning_.mu_);
    planning_.response_.mutable_changes(0)->clear_key_result();
  }
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PlanSource> source,
                           NewGrpcPlanSource(Options(address())));
  absl::Status status = source->ChangesAfter(kOrg, 0).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(), HasSubstr("change 3 "));

  // A sequence at or below the cursor.
  status = source->ChangesAfter(kOrg, 3).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(), HasSubstr("out of order"));
}

// Serves a feed of key-result changes 1..latest in pages of three, answers
// the request after `fail_after` with FAILED_PRECONDITION, and sends change
// `bad` with a key result type the model does not know.
class PagedPlanning final : public v1::PlanningService::Service {
 public:
  grpc::Status ListPlanChanges(grpc::ServerContext*, const v1::ListPlanChangesRequest* request,
                               v1::ListPlanChangesResponse* response) override {
    absl::MutexLock lock(&mu_);
    afters_.push_back(request->after_sequence());
    if (request->after_sequence() == fail_after_) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "scripted refusal");
    }
    for (int64_t sequence = request->after_sequence() + 1;
         sequence <= latest_ && sequence <= request->after_sequence() + 3; ++sequence) {
      v1::PlanChange* change = response->add_changes();
      change->set_sequence(sequence);
      change->mutable_resource()->set_kind(v1::RESOURCE_KIND_KEY_RESULT);
      change->mutable_resource()->set_id(absl::StrCat("kr-", sequence));
      v1::KeyResult* kr = change->mutable_key_result();
      kr->set_id(absl::StrCat("kr-", sequence));
      kr->set_objective_id("obj-1");
      kr->set_title("Raise NPS");
      kr->set_type(sequence == bad_ ? static_cast<v1::KeyResultType>(42)
                                    : v1::KEY_RESULT_TYPE_METRIC);
      kr->set_target_value(10);
    }
    response->set_latest_sequence(latest_);
    return grpc::Status::OK;
  }

  // The call after `after` fails (-1: none); the change numbered `bad`
  // cannot be converted (-1: none).
  void FailAfter(int64_t after) {
    absl::MutexLock lock(&mu_);
    fail_after_ = after;
  }
  void RefuseChange(int64_t bad) {
    absl::MutexLock lock(&mu_);
    bad_ = bad;
  }

  absl::Mutex mu_;
  int64_t latest_ ABSL_GUARDED_BY(mu_) = 10;
  int64_t fail_after_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t bad_ ABSL_GUARDED_BY(mu_) = -1;
  std::vector<int64_t> afters_ ABSL_GUARDED_BY(mu_);
};

class PagedPlanningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&planning_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    OKR_ASSERT_OK_AND_ASSIGN(source_,
                             NewGrpcPlanSource(Options(absl::StrCat("127.0.0.1:", port_))));
  }
  void TearDown() override {
    source_.reset();
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  // The sequences of `pages`, in order.
  static std::vector<int64_t> SequencesOf(const std::vector<PlanDeltaPage>& pages) {
    std::vector<int64_t> sequences;
    for (const PlanDeltaPage& page : pages) {
      for (const PlanDelta& delta : page.changes) sequences.push_back(delta.sequence);
    }
    return sequences;
  }

  std::vector<int64_t> Afters() {
    absl::MutexLock lock(&planning_.mu_);
    return planning_.afters_;
  }

  PagedPlanning planning_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<PlanSource> source_;
};

TEST_F(PagedPlanningTest, FetchesEveryPageInOrderAskingOnceAfterEachPage) {
  const FetchedPlanChanges fetched = FetchPlanChanges(*source_, kOrg, 0);
  OKR_ASSERT_OK(fetched.status);
  ASSERT_EQ(fetched.pages.size(), 4u);
  EXPECT_THAT(SequencesOf(fetched.pages), ::testing::ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
  EXPECT_EQ(fetched.pages.back().latest_sequence, 10);
  EXPECT_THAT(Afters(), ::testing::ElementsAre(0, 3, 6, 9));

  planning::OrgState plan;
  OKR_ASSERT_OK_AND_ASSIGN(const PlanCatchUp caught_up, CatchUpPlan(*source_, kOrg, plan));
  EXPECT_TRUE(caught_up.objectives_changed);
  EXPECT_EQ(plan.sequence(), 10);
  EXPECT_EQ(plan.key_results().size(), 10u);
  ASSERT_NE(plan.FindKeyResult("kr-7"), nullptr);
  EXPECT_EQ(plan.FindKeyResult("kr-7")->organisation_id, kOrg);
  EXPECT_EQ(plan.KeyResultsOf("obj-1").size(), 10u);

  // Caught up: one call, nothing to apply.
  OKR_ASSERT_OK_AND_ASSIGN(const PlanCatchUp again, CatchUpPlan(*source_, kOrg, plan));
  EXPECT_FALSE(again.objectives_changed);
  EXPECT_EQ(Afters().back(), 10);
}

TEST_F(PagedPlanningTest, AFailedPageKeepsThePagesBeforeItAndARetryResumes) {
  planning_.FailAfter(6);
  FetchedPlanChanges fetched = FetchPlanChanges(*source_, kOrg, 0);
  EXPECT_EQ(fetched.status.code(), absl::StatusCode::kFailedPrecondition) << fetched.status;
  EXPECT_THAT(fetched.status.message(), HasSubstr("scripted refusal"));
  EXPECT_THAT(SequencesOf(fetched.pages), ::testing::ElementsAre(1, 2, 3, 4, 5, 6));

  planning::OrgState plan;
  absl::StatusOr<PlanCatchUp> caught_up = CatchUpPlan(*source_, kOrg, plan);
  EXPECT_EQ(caught_up.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(plan.sequence(), 6);
  EXPECT_EQ(plan.key_results().size(), 6u);

  planning_.FailAfter(-1);
  OKR_ASSERT_OK(CatchUpPlan(*source_, kOrg, plan).status());
  EXPECT_EQ(plan.sequence(), 10);
  EXPECT_EQ(Afters().back(), 9);
}

TEST_F(PagedPlanningTest, AChangeTheModelCannotHoldStopsAtItsPage) {
  planning_.RefuseChange(5);
  FetchedPlanChanges fetched = FetchPlanChanges(*source_, kOrg, 0);
  EXPECT_EQ(fetched.status.code(), absl::StatusCode::kInternal) << fetched.status;
  EXPECT_THAT(fetched.status.message(), HasSubstr("change 5 "));
  EXPECT_THAT(SequencesOf(fetched.pages), ::testing::ElementsAre(1, 2, 3));

  planning::OrgState plan;
  EXPECT_EQ(CatchUpPlan(*source_, kOrg, plan).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(plan.sequence(), 3);
}

}  // namespace
}  // namespace okr::tracking
