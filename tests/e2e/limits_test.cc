// Request limits end to end, against the real okr-planning, okr-tracking and
// okr-notify: every List* RPC of the three services refuses a negative
// page_size with INVALID_ARGUMENT and a google.rpc.BadRequest violation
// naming page_size, answers the largest int32 page_size with at most its cap,
// and each service refuses a request over the 4 MiB receive limit with
// RESOURCE_EXHAUSTED (and oversized metadata too) and keeps serving.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "okr/v1/notify.grpc.pb.h"
#include "okr/v1/planning.grpc.pb.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::testing::Contains;
using ::testing::Field;

constexpr char kOrg[] = "limits-org";
// Each service's --max receive size (common/server.h ServerOptions).
constexpr int kMaxReceiveBytes = 4 * 1024 * 1024;

// The entries of a List response: its first repeated message field.
int ItemsOf(const google::protobuf::Message& response) {
  const google::protobuf::Descriptor* descriptor = response.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated() &&
        field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      return response.GetReflection()->FieldSize(response, field);
    }
  }
  return -1;
}

struct Outcome {
  grpc::Status status;
  int items = -1;
};

// One List RPC with the page size to send.
struct ListCase {
  std::string name;
  int cap;  // the most entries a page may hold (the proto comment's cap)
  std::function<Outcome(int32_t page_size)> call;
  // ListCheckIns names a key result this test does not create: past the
  // page-size check it answers NOT_FOUND for it, which counts as accepted.
  bool not_found_is_accepted = false;
};

bool Accepted(const ListCase& list, const grpc::Status& status) {
  return status.ok() ||
         (list.not_found_is_accepted && status.error_code() == grpc::StatusCode::NOT_FOUND);
}

void Prepare(grpc::ClientContext& context) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  context.AddMetadata("okr-organisation-id", kOrg);
}

template <typename Stub, typename Request, typename Response>
std::function<Outcome(int32_t)> List(
    Stub* stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
    Request request) {
  return [stub, method, request](int32_t page_size) {
    Request sized = request;
    sized.set_page_size(page_size);
    grpc::ClientContext context;
    Prepare(context);
    Response response;
    Outcome outcome;
    outcome.status = (stub->*method)(&context, sized, &response);
    outcome.items = ItemsOf(response);
    return outcome;
  };
}

class LimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    absl::StatusOr<std::unique_ptr<ServiceProcess>> planning = ServiceProcess::Start(
        {.binary = "okr-planning",
         .args = {"--auth=false", absl::StrCat("--store=sqlite:", dir_->File("plan.db"))},
         .log_path = dir_->File("planning.log")});
    ASSERT_TRUE(planning.ok()) << planning.status();
    planning_ = planning->release();
    absl::StatusOr<std::unique_ptr<ServiceProcess>> tracking = ServiceProcess::Start(
        {.binary = "okr-tracking",
         .args = {"--auth=false", absl::StrCat("--store=sqlite:", dir_->File("tracking.db")),
                  "--redis=", "--planning_addr=" + planning_->address()},
         .log_path = dir_->File("tracking.log")});
    ASSERT_TRUE(tracking.ok()) << tracking.status();
    tracking_ = tracking->release();
    absl::StatusOr<std::unique_ptr<ServiceProcess>> notify = ServiceProcess::Start(
        {.binary = "okr-notify",
         .args = {"--auth=false", absl::StrCat("--store=sqlite:", dir_->File("notify.db")),
                  "--redis=", "--planning_addr=" + planning_->address(),
                  "--tracking_addr=" + tracking_->address()},
         .log_path = dir_->File("notify.log")});
    ASSERT_TRUE(notify.ok()) << notify.status();
    notify_ = notify->release();

    plan_ = v1::PlanningService::NewStub(
                grpc::CreateChannel(planning_->address(), grpc::InsecureChannelCredentials()))
                .release();
    tracking_stub_ = v1::TrackingService::NewStub(
                         grpc::CreateChannel(tracking_->address(),
                                             grpc::InsecureChannelCredentials()))
                         .release();
    notify_stub_ = v1::NotifyService::NewStub(
                       grpc::CreateChannel(notify_->address(), grpc::InsecureChannelCredentials()))
                       .release();

    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    v1::BootstrapOrganisationRequest boot;
    boot.set_organisation_id(kOrg);
    boot.mutable_organisation()->set_name("Limits Ltd");
    v1::Organisation organisation;
    const grpc::Status booted = plan_->BootstrapOrganisation(&context, boot, &organisation);
    ASSERT_TRUE(booted.ok()) << booted.error_message();
  }

  static void TearDownTestSuite() {
    delete notify_stub_;
    delete tracking_stub_;
    delete plan_;
    // Callers before callees.
    delete notify_;
    delete tracking_;
    delete planning_;
    delete dir_;
  }

  void TearDown() override {
    if (HasFailure()) {
      for (ServiceProcess* process : {planning_, tracking_, notify_}) {
        if (process != nullptr) std::cerr << process->LogTail() << "\n";
      }
    }
  }

  // Every List* RPC of the three services (15), with what each needs besides
  // the page size. Adding a List RPC without a row here is caught by the
  // count check in the test.
  static std::vector<ListCase> AllLists() {
    using PS = v1::PlanningService::Stub;
    using TS = v1::TrackingService::Stub;
    using NS = v1::NotifyService::Stub;
    v1::ListCheckInsRequest check_ins;
    check_ins.set_key_result_id("kr-none");
    v1::ListStaleKeyResultsRequest stale;
    stale.mutable_since()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    return {
        {"ListTeams", 500, List(plan_, &PS::ListTeams, v1::ListTeamsRequest())},
        {"ListPeople", 500, List(plan_, &PS::ListPeople, v1::ListPeopleRequest())},
        {"ListCycles", 500, List(plan_, &PS::ListCycles, v1::ListCyclesRequest())},
        {"ListObjectives", 500, List(plan_, &PS::ListObjectives, v1::ListObjectivesRequest())},
        {"ListKeyResults", 500, List(plan_, &PS::ListKeyResults, v1::ListKeyResultsRequest())},
        {"ListLintRules", 500, List(plan_, &PS::ListLintRules, v1::ListLintRulesRequest())},
        {"ListTemplates", 500, List(plan_, &PS::ListTemplates, v1::ListTemplatesRequest())},
        {"ListPlanChanges", 1000,
         List(plan_, &PS::ListPlanChanges, v1::ListPlanChangesRequest())},
        {"ListCheckIns", 500, List(tracking_stub_, &TS::ListCheckIns, check_ins), true},
        {"ListStaleKeyResults", 1000, List(tracking_stub_, &TS::ListStaleKeyResults, stale)},
        {"ListReviews", 500, List(tracking_stub_, &TS::ListReviews, v1::ListReviewsRequest())},
        {"ListReminderPolicies", 500,
         List(notify_stub_, &NS::ListReminderPolicies, v1::ListReminderPoliciesRequest())},
        {"ListWebhooks", 500, List(notify_stub_, &NS::ListWebhooks, v1::ListWebhooksRequest())},
        {"ListReminders", 500,
         List(notify_stub_, &NS::ListReminders, v1::ListRemindersRequest())},
        {"ListDeliveries", 500,
         List(notify_stub_, &NS::ListDeliveries, v1::ListDeliveriesRequest())},
    };
  }

  static TempDir* dir_;
  static ServiceProcess* planning_;
  static ServiceProcess* tracking_;
  static ServiceProcess* notify_;
  static v1::PlanningService::Stub* plan_;
  static v1::TrackingService::Stub* tracking_stub_;
  static v1::NotifyService::Stub* notify_stub_;
};

TempDir* LimitsTest::dir_ = nullptr;
ServiceProcess* LimitsTest::planning_ = nullptr;
ServiceProcess* LimitsTest::tracking_ = nullptr;
ServiceProcess* LimitsTest::notify_ = nullptr;
v1::PlanningService::Stub* LimitsTest::plan_ = nullptr;
v1::TrackingService::Stub* LimitsTest::tracking_stub_ = nullptr;
v1::NotifyService::Stub* LimitsTest::notify_stub_ = nullptr;

int ListRpcsIn(const google::protobuf::ServiceDescriptor* service) {
  int count = 0;
  for (int i = 0; i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = service->method(i);
    if (method->name().rfind("List", 0) == 0 && !method->server_streaming()) ++count;
  }
  return count;
}

TEST_F(LimitsTest, EveryListRpcIsCovered) {
  const google::protobuf::DescriptorPool* pool =
      google::protobuf::DescriptorPool::generated_pool();
  int declared = 0;
  for (const char* name :
       {"okr.v1.PlanningService", "okr.v1.TrackingService", "okr.v1.NotifyService"}) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    declared += ListRpcsIn(service);
  }
  EXPECT_EQ(static_cast<int>(AllLists().size()), declared)
      << "a List RPC was added or removed: give it a row in AllLists()";
}

TEST_F(LimitsTest, NegativePageSizesAreInvalidArgumentNamingPageSize) {
  for (const ListCase& list : AllLists()) {
    for (int32_t page_size : {-1, std::numeric_limits<int32_t>::min()}) {
      SCOPED_TRACE(absl::StrCat(list.name, " page_size=", page_size));
      const Outcome outcome = list.call(page_size);
      EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << outcome.status.error_message();
      EXPECT_THAT(FieldViolationsOf(ToAbslStatus(outcome.status)),
                  Contains(Field(&FieldViolation::field, "page_size")))
          << outcome.status.error_message();
    }
  }
}

TEST_F(LimitsTest, HugePageSizesAreCappedNotRefused) {
  for (const ListCase& list : AllLists()) {
    SCOPED_TRACE(list.name);
    for (int32_t page_size : {0, 1, std::numeric_limits<int32_t>::max()}) {
      const Outcome outcome = list.call(page_size);
      ASSERT_TRUE(Accepted(list, outcome.status))
          << "page_size=" << page_size << ": " << outcome.status.error_message();
      if (!outcome.status.ok()) continue;
      EXPECT_GE(outcome.items, 0);
      EXPECT_LE(outcome.items, page_size == 0 ? list.cap : std::min(page_size, list.cap));
    }
  }
}

// The server's limit, not the client's: the channels here send any size.
std::shared_ptr<grpc::Channel> UnlimitedChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

TEST_F(LimitsTest, RequestsOverTheReceiveLimitAreResourceExhaustedAndTheServiceGoesOn) {
  const std::string big(kMaxReceiveBytes + 1024, 'x');
  auto plan = v1::PlanningService::NewStub(UnlimitedChannel(planning_->address()));
  auto tracking = v1::TrackingService::NewStub(UnlimitedChannel(tracking_->address()));
  auto notify = v1::NotifyService::NewStub(UnlimitedChannel(notify_->address()));
  {
    v1::CreateTeamRequest request;
    request.mutable_team()->set_name(big);
    v1::Team team;
    grpc::ClientContext context;
    Prepare(context);
    const grpc::Status status = plan->CreateTeam(&context, request, &team);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  }
  {
    v1::RecordCheckInRequest request;
    request.set_key_result_id("kr-none");
    request.set_note(big);
    v1::RecordCheckInResponse check_in;
    grpc::ClientContext context;
    Prepare(context);
    const grpc::Status status = tracking->RecordCheckIn(&context, request, &check_in);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  }
  {
    v1::CreateWebhookRequest request;
    request.mutable_webhook()->set_url("https://hooks.example.com/okr");
    request.mutable_webhook()->set_display_name(big);
    v1::Webhook webhook;
    grpc::ClientContext context;
    Prepare(context);
    const grpc::Status status = notify->CreateWebhook(&context, request, &webhook);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  }
  // Just under the limit is read (and then refused by validation, not size).
  {
    v1::CreateTeamRequest request;
    request.mutable_team()->set_name(std::string(kMaxReceiveBytes - 1024, 'x'));
    v1::Team team;
    grpc::ClientContext context;
    Prepare(context);
    const grpc::Status status = plan->CreateTeam(&context, request, &team);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  }
  // Oversized metadata (gRPC's 8 KiB default header limit) fails the call, not the server.
  {
    grpc::ClientContext context;
    Prepare(context);
    context.AddMetadata("authorization", absl::StrCat("Bearer ", std::string(64 * 1024, 't')));
    v1::ListTeamsResponse teams;
    const grpc::Status status = plan->ListTeams(&context, v1::ListTeamsRequest(), &teams);
    EXPECT_FALSE(status.ok());
  }
  // Every service still answers.
  for (const ListCase& list : AllLists()) {
    SCOPED_TRACE(list.name);
    const Outcome outcome = list.call(10);
    EXPECT_TRUE(Accepted(list, outcome.status)) << outcome.status.error_message();
  }
}

}  // namespace
}  // namespace okr
