// Tests of notify's gRPC pieces: the WatchHub, the tracking source, the
// WatchReminders stream of the adapter, and okr-reminder-job.
//
//  - WatchHub: filters and unsubscription, in memory.
//  - GrpcTrackingSource against a scripted in-process TrackingService
//    (paging, the page size asked for, metadata, a hanging tracking turned
//    into UNAVAILABLE naming its address, a page token that repeats), and
//    against the real okr-planning and okr-tracking binaries (stale key
//    results and reviews of a plan built through planning, UNAVAILABLE
//    naming the address once tracking is killed).
//  - NotifyGrpcService's WatchReminders on a real server on a loopback
//    port: initial metadata before any reminder, filters, order, cancel and
//    unsubscribe, INVALID_ARGUMENT / UNAUTHENTICATED, Shutdown() ending open
//    streams with UNAVAILABLE, and many streams coming and going while
//    reminders are published.
//  - okr-reminder-job as a child process: bad flags exit 2, a closed port
//    exits 1 naming the organisation, and against a scripted NotifyService
//    its request, retries and JSON lines.
// The end-to-end test of okr-notify itself is notify_service_test.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/server.h"
#include "common/worker_pool.h"
#include "gtest/gtest.h"
#include "okr/v1/notify.grpc.pb.h"
#include "okr/v1/planning.grpc.pb.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "services/notify/grpc_notify_service.h"
#include "services/notify/notify.h"
#include "services/notify/notify_store.h"
#include "services/notify/tracking_source.h"
#include "services/notify/watch_hub.h"
#include "services/tracking/plan_source.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr::notify {
namespace {

using ::okr::v1::Reminder;

constexpr absl::Duration kCallTimeout = absl::Seconds(10);
constexpr char kOrgKey[] = "okr-organisation-id";

Reminder MakeReminder(absl::string_view id, v1::ReminderKind kind, absl::string_view recipient,
                      absl::string_view team) {
  Reminder reminder;
  reminder.set_id(std::string(id));
  reminder.set_kind(kind);
  reminder.set_recipient_id(std::string(recipient));
  reminder.set_team_id(std::string(team));
  reminder.set_window_key("2027-W05");
  return reminder;
}

// The organisation sent with a call, or "" without one.
std::string OrgOf(const grpc::ServerContextBase& context) {
  const auto it = context.client_metadata().find(kOrgKey);
  if (it == context.client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// Polls `done` every 10 ms for up to `timeout`.
bool Eventually(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

// A sync-API server on 127.0.0.1 with a kernel-chosen port.
struct LoopbackServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string address() const { return absl::StrCat("127.0.0.1:", port); }
  ~LoopbackServer() {
    if (server != nullptr) server->Shutdown(std::chrono::system_clock::now());
  }
};

std::unique_ptr<LoopbackServer> StartLoopback(grpc::Service* service) {
  auto result = std::make_unique<LoopbackServer>();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &result->port);
  builder.RegisterService(service);
  result->server = builder.BuildAndStart();
  if (result->server == nullptr || result->port == 0) return nullptr;
  return result;
}

GrpcTrackingSourceOptions TrackingAt(absl::string_view address,
                                     absl::Duration timeout = absl::Seconds(5)) {
  GrpcTrackingSourceOptions options;
  options.address = std::string(address);
  options.call_timeout = timeout;
  return options;
}

// =============================================================================
// WatchHub
// =============================================================================

TEST(WatchHubTest, DeliversToMatchingWatchersOnly) {
  WatchHub hub;
  std::map<std::string, std::vector<std::string>> got;  // watcher -> reminder ids
  const auto subscribe = [&](absl::string_view name, absl::string_view org,
                             std::vector<v1::ReminderKind> kinds, absl::string_view recipient,
                             absl::string_view team) {
    WatchFilter filter;
    filter.organisation_id = std::string(org);
    for (v1::ReminderKind kind : kinds) filter.request.add_kinds(kind);
    filter.request.set_recipient_id(std::string(recipient));
    filter.request.set_team_id(std::string(team));
    return hub.Subscribe(std::move(filter), [&got, name = std::string(name)](const Reminder& r) {
      got[name].push_back(r.id());
    });
  };
  subscribe("all-acme", "acme", {}, "", "");
  subscribe("all-other", "other", {}, "", "");
  subscribe("weekly", "acme", {v1::REMINDER_KIND_WEEKLY_CHECK_IN}, "", "");
  subscribe("reviews", "acme",
            {v1::REMINDER_KIND_MID_QUARTER_REVIEW, v1::REMINDER_KIND_END_OF_QUARTER_REVIEW}, "",
            "");
  subscribe("jane", "acme", {}, "jane", "");
  subscribe("sales", "acme", {}, "", "sales");
  subscribe("jane-sales-weekly", "acme", {v1::REMINDER_KIND_WEEKLY_CHECK_IN}, "jane", "sales");
  EXPECT_EQ(hub.watchers(), 7);

  hub.Publish("acme", MakeReminder("r1", v1::REMINDER_KIND_WEEKLY_CHECK_IN, "jane", "sales"));
  hub.Publish("acme", MakeReminder("r2", v1::REMINDER_KIND_MID_QUARTER_REVIEW, "jane", ""));
  hub.Publish("acme", MakeReminder("r3", v1::REMINDER_KIND_WEEKLY_CHECK_IN, "nick", "sales"));
  hub.Publish("acme", MakeReminder("r4", v1::REMINDER_KIND_PLANNING_MILESTONE, "nick", ""));
  hub.Publish("other", MakeReminder("r5", v1::REMINDER_KIND_WEEKLY_CHECK_IN, "jane", "sales"));

  using V = std::vector<std::string>;
  EXPECT_EQ(got["all-acme"], (V{"r1", "r2", "r3", "r4"}));
  EXPECT_EQ(got["all-other"], (V{"r5"}));
  EXPECT_EQ(got["weekly"], (V{"r1", "r3"}));
  EXPECT_EQ(got["reviews"], (V{"r2"}));
  EXPECT_EQ(got["jane"], (V{"r1", "r2"}));
  EXPECT_EQ(got["sales"], (V{"r1", "r3"}));
  EXPECT_EQ(got["jane-sales-weekly"], (V{"r1"}));
}

TEST(WatchHubTest, UnsubscribeStopsDelivery) {
  WatchHub hub;
  int a = 0, b = 0;
  WatchFilter filter;
  filter.organisation_id = "acme";
  const int64_t ha = hub.Subscribe(filter, [&a](const Reminder&) { ++a; });
  const int64_t hb = hub.Subscribe(filter, [&b](const Reminder&) { ++b; });
  EXPECT_NE(ha, hb);
  const Reminder reminder = MakeReminder("r", v1::REMINDER_KIND_WEEKLY_CHECK_IN, "jane", "");
  hub.Publish("acme", reminder);
  hub.Unsubscribe(ha);
  hub.Unsubscribe(ha);     // twice: no effect
  hub.Unsubscribe(12345);  // unknown: no effect
  EXPECT_EQ(hub.watchers(), 1);
  hub.Publish("acme", reminder);
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
  hub.Unsubscribe(hb);
  EXPECT_EQ(hub.watchers(), 0);
  hub.Publish("acme", reminder);
  EXPECT_EQ(b, 2);
}

// A callback may unsubscribe itself (it runs outside the hub's lock).
TEST(WatchHubTest, CallbackMayUnsubscribe) {
  WatchHub hub;
  int calls = 0;
  int64_t handle = 0;
  WatchFilter filter;
  filter.organisation_id = "acme";
  handle = hub.Subscribe(filter, [&](const Reminder&) {
    ++calls;
    hub.Unsubscribe(handle);
  });
  const Reminder reminder = MakeReminder("r", v1::REMINDER_KIND_WEEKLY_CHECK_IN, "jane", "");
  hub.Publish("acme", reminder);
  hub.Publish("acme", reminder);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(hub.watchers(), 0);
}

// =============================================================================
// GrpcTrackingSource against a scripted tracking
// =============================================================================

// Serves ListStaleKeyResults from `stale` and ListReviews from `reviews` in
// pages of the size asked for, recording every request.
class ScriptedTracking final : public v1::TrackingService::Service {
 public:
  std::vector<v1::StaleKeyResult> stale;
  std::vector<v1::Review> reviews;
  absl::Duration delay = absl::ZeroDuration();  // before answering
  bool repeat_token = false;                    // always answer next_page_token "same"
  grpc::Status fail = grpc::Status::OK;         // answered instead when not OK

  struct Seen {
    std::string org = {};
    int page_size = 0;
    std::string page_token = {};
    int64_t since_seconds = 0;
    int32_t since_nanos = 0;
    std::string cycle_id = {};
    v1::ReviewKind kind = v1::REVIEW_KIND_UNSPECIFIED;
  };
  std::vector<Seen> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

  grpc::Status ListStaleKeyResults(grpc::ServerContext* context,
                                   const v1::ListStaleKeyResultsRequest* request,
                                   v1::ListStaleKeyResultsResponse* response) override {
    Record(*context, {.page_size = request->page_size(),
                      .page_token = request->page_token(),
                      .since_seconds = request->since().seconds(),
                      .since_nanos = request->since().nanos()});
    if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
    if (!fail.ok()) return fail;
    const int start = Start(request->page_token());
    const int end = std::min<int>(stale.size(), start + request->page_size());
    for (int i = start; i < end; ++i) *response->add_stale_key_results() = stale[i];
    response->set_next_page_token(Next(end, stale.size()));
    response->set_total_size(static_cast<int>(stale.size()));
    return grpc::Status::OK;
  }

  grpc::Status ListReviews(grpc::ServerContext* context, const v1::ListReviewsRequest* request,
                           v1::ListReviewsResponse* response) override {
    Record(*context, {.page_size = request->page_size(),
                      .page_token = request->page_token(),
                      .cycle_id = request->cycle_id(),
                      .kind = request->kind()});
    if (!fail.ok()) return fail;
    const int start = Start(request->page_token());
    const int end = std::min<int>(reviews.size(), start + request->page_size());
    for (int i = start; i < end; ++i) *response->add_reviews() = reviews[i];
    response->set_next_page_token(Next(end, reviews.size()));
    return grpc::Status::OK;
  }

 private:
  void Record(const grpc::ServerContext& context, Seen seen) {
    seen.org = OrgOf(context);
    absl::MutexLock lock(&mu_);
    seen_.push_back(std::move(seen));
  }
  int Start(const std::string& token) const {
    if (token.empty() || token == "same") return 0;
    return std::stoi(token.substr(1));
  }
  std::string Next(int end, size_t size) const {
    if (repeat_token) return "same";
    return end < static_cast<int>(size) ? absl::StrCat("p", end) : "";
  }

  absl::Mutex mu_;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
};

class TrackingSourceFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartLoopback(&tracking_);
    ASSERT_NE(server_, nullptr);
  }

  std::unique_ptr<TrackingSource> Source(absl::Duration timeout = absl::Seconds(5)) {
    absl::StatusOr<std::unique_ptr<TrackingSource>> source =
        NewGrpcTrackingSource(TrackingAt(server_->address(), timeout));
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  // `count` stale key results kr-0, kr-1, ..., ten per owner p-0, p-1, ...
  void AddStale(int count) {
    for (int i = 0; i < count; ++i) {
      v1::StaleKeyResult stale;
      stale.set_key_result_id(absl::StrCat("kr-", i));
      stale.set_owner_id(absl::StrCat("p-", i / 10));
      tracking_.stale.push_back(stale);
    }
  }

  ScriptedTracking tracking_;
  std::unique_ptr<LoopbackServer> server_;
};

TEST_F(TrackingSourceFakeTest, ReadsEveryPageOfStaleKeyResults) {
  constexpr int kCount = 2345;
  AddStale(kCount);
  std::unique_ptr<TrackingSource> source = Source();
  ASSERT_NE(source, nullptr);
  const absl::Time since = absl::FromUnixSeconds(1800000000) + absl::Milliseconds(250);
  absl::StatusOr<std::vector<v1::StaleKeyResult>> got = source->StaleKeyResults("acme", since);
  OKR_ASSERT_OK(got);
  ASSERT_EQ(got->size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ((*got)[i].key_result_id(), absl::StrCat("kr-", i)) << "at " << i;
  }
  const std::vector<ScriptedTracking::Seen> seen = tracking_.seen();
  ASSERT_EQ(seen.size(), 3u);  // 1000 + 1000 + 345
  std::vector<std::string> tokens;
  for (const ScriptedTracking::Seen& s : seen) {
    EXPECT_EQ(s.org, "acme");
    EXPECT_EQ(s.page_size, 1000);
    EXPECT_EQ(s.since_seconds, 1800000000);
    EXPECT_EQ(s.since_nanos, 250000000);
    tokens.push_back(s.page_token);
  }
  EXPECT_EQ(tokens, (std::vector<std::string>{"", "p1000", "p2000"}));
}

TEST_F(TrackingSourceFakeTest, HandsStaleKeyResultsOverAPageAtATimeInOrder) {
  constexpr int kCount = 2345;
  AddStale(kCount);
  std::unique_ptr<TrackingSource> source = Source();
  ASSERT_NE(source, nullptr);
  std::vector<std::string> ids;
  std::vector<int> sizes;
  OKR_ASSERT_OK(source->ForEachStalePage(
      "acme", absl::FromUnixSeconds(1800000000),
      [&](const google::protobuf::RepeatedPtrField<v1::StaleKeyResult>& page) {
        sizes.push_back(page.size());
        for (const v1::StaleKeyResult& stale : page) ids.push_back(stale.key_result_id());
        return absl::OkStatus();
      }));
  EXPECT_EQ(sizes, (std::vector<int>{1000, 1000, 345}));
  ASSERT_EQ(ids.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(ids[i], absl::StrCat("kr-", i)) << "at " << i;
  EXPECT_EQ(tracking_.seen().size(), 3u);

  // An error of the callback ends the listing with that error (the page
  // fetched meanwhile is dropped).
  int pages = 0;
  absl::Status stopped =
      source->ForEachStalePage("acme", absl::FromUnixSeconds(1800000000),
                               [&](const google::protobuf::RepeatedPtrField<v1::StaleKeyResult>&) {
                                 ++pages;
                                 return absl::AbortedError("enough");
                               });
  EXPECT_EQ(stopped.code(), absl::StatusCode::kAborted) << stopped;
  EXPECT_EQ(pages, 1);
  EXPECT_LE(tracking_.seen().size(), 5u);

  // Tracking's errors and a repeated token end it too.
  tracking_.repeat_token = true;
  absl::Status looping = source->ForEachStalePage(
      "acme", absl::Now(), [](const google::protobuf::RepeatedPtrField<v1::StaleKeyResult>&) {
        return absl::OkStatus();
      });
  EXPECT_EQ(looping.code(), absl::StatusCode::kInternal) << looping;
  tracking_.repeat_token = false;
  tracking_.fail = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "since: required");
  absl::Status failed = source->ForEachStalePage(
      "acme", absl::Now(), [](const google::protobuf::RepeatedPtrField<v1::StaleKeyResult>&) {
        return absl::OkStatus();
      });
  EXPECT_EQ(failed.code(), absl::StatusCode::kInvalidArgument) << failed;
}

TEST_F(TrackingSourceFakeTest, ReadsEveryPageOfReviews) {
  for (int i = 0; i < 1200; ++i) {
    v1::Review review;
    review.set_objective_id(absl::StrCat("obj-", i));
    tracking_.reviews.push_back(review);
  }
  std::unique_ptr<TrackingSource> source = Source();
  ASSERT_NE(source, nullptr);
  absl::StatusOr<std::vector<v1::Review>> got =
      source->Reviews("acme", "cyc-q1", v1::REVIEW_KIND_END_OF_QUARTER);
  OKR_ASSERT_OK(got);
  ASSERT_EQ(got->size(), 1200u);
  EXPECT_EQ(got->back().objective_id(), "obj-1199");
  const std::vector<ScriptedTracking::Seen> seen = tracking_.seen();
  ASSERT_EQ(seen.size(), 3u);  // 500 + 500 + 200
  for (const ScriptedTracking::Seen& s : seen) {
    EXPECT_EQ(s.org, "acme");
    EXPECT_EQ(s.page_size, 500);
    EXPECT_EQ(s.cycle_id, "cyc-q1");
    EXPECT_EQ(s.kind, v1::REVIEW_KIND_END_OF_QUARTER);
  }
}

TEST_F(TrackingSourceFakeTest, HangingTrackingIsUnavailableNamingTheAddress) {
  tracking_.delay = absl::Milliseconds(1500);
  std::unique_ptr<TrackingSource> source = Source(absl::Milliseconds(300));
  ASSERT_NE(source, nullptr);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<v1::StaleKeyResult>> got =
      source->StaleKeyResults("acme", absl::Now());
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1200)) << "the deadline was not applied";
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), server_->address())) << got.status();
}

TEST_F(TrackingSourceFakeTest, TrackingsOwnErrorsPassThrough) {
  tracking_.fail = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "since: required");
  std::unique_ptr<TrackingSource> source = Source();
  ASSERT_NE(source, nullptr);
  absl::StatusOr<std::vector<v1::Review>> got =
      source->Reviews("acme", "cyc", v1::REVIEW_KIND_MID_QUARTER);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), "since: required")) << got.status();
}

TEST_F(TrackingSourceFakeTest, RepeatedPageTokenStopsInsteadOfLooping) {
  tracking_.repeat_token = true;
  v1::StaleKeyResult stale;
  stale.set_key_result_id("kr-1");
  tracking_.stale.push_back(stale);
  std::unique_ptr<TrackingSource> source = Source();
  ASSERT_NE(source, nullptr);
  absl::StatusOr<std::vector<v1::StaleKeyResult>> got =
      source->StaleKeyResults("acme", absl::Now());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInternal) << got.status();
  EXPECT_LE(tracking_.seen().size(), 3u);
}

TEST(TrackingSourceTest, RejectsBadOptions) {
  EXPECT_EQ(NewGrpcTrackingSource(TrackingAt("")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NewGrpcTrackingSource(TrackingAt("127.0.0.1:1", absl::ZeroDuration())).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TrackingSourceTest, ClosedPortIsUnavailableNamingTheAddress) {
  OKR_ASSERT_OK_AND_ASSIGN(const int port, FreeLoopbackPort());
  const std::string address = absl::StrCat("127.0.0.1:", port);
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<TrackingSource> source,
                           NewGrpcTrackingSource(TrackingAt(address, absl::Seconds(2))));
  absl::StatusOr<std::vector<v1::Review>> got =
      source->Reviews("acme", "cyc", v1::REVIEW_KIND_MID_QUARTER);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), address)) << got.status();
}

// =============================================================================
// GrpcTrackingSource against okr-planning and okr-tracking
// =============================================================================

class TrackingSourceServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OKR_ASSERT_OK_AND_ASSIGN(
        planning_,
        ServiceProcess::Start(
            {.binary = "okr-planning",
             .args = {"--auth=false", absl::StrCat("--store=sqlite:", dir_.File("plan.db")),
                      "--workers=2", "--shutdown_grace=2s"}}));
    OKR_ASSERT_OK_AND_ASSIGN(
        tracking_,
        ServiceProcess::Start(
            {.binary = "okr-tracking",
             .args = {"--auth=false", absl::StrCat("--store=sqlite:", dir_.File("tracking.db")),
                      "--redis=", absl::StrCat("--planning_addr=", planning_->address()),
                      "--workers=2", "--shutdown_grace=2s"}}));
    plan_ = v1::PlanningService::NewStub(
        grpc::CreateChannel(planning_->address(), grpc::InsecureChannelCredentials()));
    track_ = v1::TrackingService::NewStub(
        grpc::CreateChannel(tracking_->address(), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (HasFailure()) {
      if (tracking_ != nullptr) std::cerr << "--- okr-tracking ---\n" << tracking_->LogTail();
      if (planning_ != nullptr) std::cerr << "--- okr-planning ---\n" << planning_->LogTail();
    }
  }

  template <typename Stub, typename Request, typename Response>
  grpc::Status Call(Stub* stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response, bool with_org = true) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    if (with_org) context.AddMetadata(kOrgKey, kOrg);
    return (stub->*method)(&context, request, response);
  }

  // Bootstraps kOrg with the fiscal year of today; the year and today's
  // quarter ACTIVE.
  void SetUpOrganisation() {
    v1::BootstrapOrganisationRequest boot;
    boot.set_organisation_id(kOrg);
    boot.mutable_organisation()->set_name("Acme");
    v1::Organisation organisation;
    grpc::Status s = Call(plan_.get(), &v1::PlanningService::Stub::BootstrapOrganisation, boot,
                          &organisation, false);
    ASSERT_TRUE(s.ok()) << s.error_message();
    const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
    v1::CreateFiscalYearRequest fy;
    fy.set_fiscal_year(static_cast<int>(today.year()));
    v1::CreateFiscalYearResponse created;
    s = Call(plan_.get(), &v1::PlanningService::Stub::CreateFiscalYear, fy, &created);
    ASSERT_TRUE(s.ok()) << s.error_message();
    year_ = Activate(created.year());
    for (const v1::Cycle& q : created.quarters()) {
      const absl::CivilDay start(q.start_date().year(), q.start_date().month(),
                                 q.start_date().day());
      const absl::CivilDay end(q.end_date().year(), q.end_date().month(), q.end_date().day());
      if (start <= today && today < end) quarter_ = Activate(q);
    }
    ASSERT_EQ(quarter_.state(), v1::CYCLE_STATE_ACTIVE) << "no quarter contains " << today;
  }

  v1::Cycle Activate(const v1::Cycle& cycle) {
    v1::UpdateCycleStateRequest request;
    request.set_id(cycle.id());
    request.set_state(v1::CYCLE_STATE_ACTIVE);
    request.set_version(cycle.version());
    v1::Cycle updated;
    const grpc::Status s =
        Call(plan_.get(), &v1::PlanningService::Stub::UpdateCycleState, request, &updated);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return updated;
  }

  std::string MakePerson(absl::string_view name) {
    v1::CreatePersonRequest request;
    request.mutable_person()->set_display_name(std::string(name));
    request.mutable_person()->set_email(absl::StrCat(name, "@acme.example"));
    v1::Person person;
    const grpc::Status s =
        Call(plan_.get(), &v1::PlanningService::Stub::CreatePerson, request, &person);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return person.id();
  }

  std::string MakeObjective(absl::string_view title, absl::string_view owner) {
    v1::CreateObjectiveRequest request;
    v1::Objective& o = *request.mutable_objective();
    o.set_title(std::string(title));
    o.set_level(v1::LEVEL_INDIVIDUAL);
    o.set_owner_id(std::string(owner));
    o.set_cycle_id(quarter_.id());
    o.set_kind(v1::OBJECTIVE_KIND_COMMITTED);
    o.set_state(v1::OBJECTIVE_STATE_PUBLISHED);
    o.set_progress_source(v1::PROGRESS_SOURCE_KEY_RESULTS);
    v1::Objective created;
    const grpc::Status s =
        Call(plan_.get(), &v1::PlanningService::Stub::CreateObjective, request, &created);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return created.id();
  }

  std::string MakeKr(absl::string_view objective, absl::string_view title,
                     absl::string_view owner) {
    v1::CreateKeyResultRequest request;
    v1::KeyResult& kr = *request.mutable_key_result();
    kr.set_objective_id(std::string(objective));
    kr.set_title(std::string(title));
    kr.set_owner_id(std::string(owner));
    kr.set_type(v1::KEY_RESULT_TYPE_METRIC);
    kr.set_measure(v1::MEASURE_KPI);
    kr.set_start_value(0);
    kr.set_target_value(10);
    kr.set_data_source(v1::DATA_SOURCE_MANUAL);
    v1::KeyResult created;
    const grpc::Status s =
        Call(plan_.get(), &v1::PlanningService::Stub::CreateKeyResult, request, &created);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return created.id();
  }

  static constexpr char kOrg[] = "acme";
  TempDir dir_{"grpc-notify-test"};
  std::unique_ptr<ServiceProcess> planning_;
  std::unique_ptr<ServiceProcess> tracking_;
  std::unique_ptr<v1::PlanningService::Stub> plan_;
  std::unique_ptr<v1::TrackingService::Stub> track_;
  v1::Cycle year_;
  v1::Cycle quarter_;
};

TEST_F(TrackingSourceServiceTest, StaleKeyResultsAndReviewsOfARealPlan) {
  ASSERT_NO_FATAL_FAILURE(SetUpOrganisation());
  const std::string ann = MakePerson("ann");
  const std::string bob = MakePerson("bob");
  const std::string o1 = MakeObjective("Delight customers", ann);
  const std::string o2 = MakeObjective("Ship faster", bob);
  const std::string kr1 = MakeKr(o1, "NPS to 50", "");      // owner: the objective's (ann)
  const std::string kr2 = MakeKr(o1, "Churn below 2%", bob);  // bob's own
  const std::string kr3 = MakeKr(o2, "Deploys per day", "");  // bob through the objective
  ASSERT_FALSE(HasFailure());

  v1::RecordCheckInRequest check_in;
  check_in.set_key_result_id(kr1);
  check_in.set_value(4);
  check_in.set_client_key("ci-1");
  check_in.set_author_id(ann);
  check_in.set_confidence(7);
  v1::RecordCheckInResponse recorded;
  grpc::Status s =
      Call(track_.get(), &v1::TrackingService::Stub::RecordCheckIn, check_in, &recorded);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const absl::Time checked_in = absl::Now();

  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<TrackingSource> source,
                           NewGrpcTrackingSource(TrackingAt(tracking_->address())));

  // Since an hour ago: kr1 was checked in since, the others never.
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<v1::StaleKeyResult> stale,
                           source->StaleKeyResults(kOrg, checked_in - absl::Hours(1)));
  std::map<std::string, std::string> owner_of;  // stale KR -> owner
  for (const v1::StaleKeyResult& r : stale) {
    owner_of[r.key_result_id()] = r.owner_id();
    EXPECT_FALSE(r.has_last_check_in_time()) << r.key_result_id();
  }
  EXPECT_EQ(owner_of, (std::map<std::string, std::string>{{kr2, bob}, {kr3, bob}}));

  // Since a minute from now: all three, kr1 with its check-in's time.
  OKR_ASSERT_OK_AND_ASSIGN(stale, source->StaleKeyResults(kOrg, absl::Now() + absl::Minutes(1)));
  owner_of.clear();
  for (const v1::StaleKeyResult& r : stale) {
    owner_of[r.key_result_id()] = r.owner_id();
    if (r.key_result_id() == kr1) {
      ASSERT_TRUE(r.has_last_check_in_time());
      const absl::Time last = absl::FromUnixSeconds(r.last_check_in_time().seconds());
      EXPECT_LE(absl::AbsDuration(last - checked_in), absl::Minutes(1));
      EXPECT_EQ(r.objective_id(), o1);
      EXPECT_EQ(r.cycle_id(), quarter_.id());
    }
  }
  EXPECT_EQ(owner_of, (std::map<std::string, std::string>{{kr1, ann}, {kr2, bob}, {kr3, bob}}));
  // Ordered by owner, then key result, as the API promises.
  for (size_t i = 1; i < stale.size(); ++i) {
    EXPECT_LE(std::make_pair(stale[i - 1].owner_id(), stale[i - 1].key_result_id()),
              std::make_pair(stale[i].owner_id(), stale[i].key_result_id()));
  }

  // One mid-quarter review of o2.
  v1::UpsertReviewRequest upsert;
  upsert.mutable_review()->set_objective_id(o2);
  upsert.mutable_review()->set_kind(v1::REVIEW_KIND_MID_QUARTER);
  v1::Review review;
  s = Call(track_.get(), &v1::TrackingService::Stub::UpsertReview, upsert, &review);
  ASSERT_TRUE(s.ok()) << s.error_message();

  OKR_ASSERT_OK_AND_ASSIGN(std::vector<v1::Review> reviews,
                           source->Reviews(kOrg, quarter_.id(), v1::REVIEW_KIND_MID_QUARTER));
  ASSERT_EQ(reviews.size(), 1u);
  EXPECT_EQ(reviews[0].objective_id(), o2);
  EXPECT_EQ(reviews[0].kind(), v1::REVIEW_KIND_MID_QUARTER);
  OKR_ASSERT_OK_AND_ASSIGN(reviews,
                           source->Reviews(kOrg, quarter_.id(), v1::REVIEW_KIND_END_OF_QUARTER));
  EXPECT_TRUE(reviews.empty());
  OKR_ASSERT_OK_AND_ASSIGN(reviews,
                           source->Reviews(kOrg, year_.id(), v1::REVIEW_KIND_MID_QUARTER));
  EXPECT_TRUE(reviews.empty());

  // Tracking gone: UNAVAILABLE naming its address, within the deadline.
  OKR_ASSERT_OK(tracking_->Kill());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<v1::StaleKeyResult>> down =
      source->StaleKeyResults(kOrg, absl::Now());
  EXPECT_LT(absl::Now() - start, absl::Seconds(8));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  EXPECT_TRUE(absl::StrContains(down.status().message(), tracking_->address())) << down.status();
  absl::StatusOr<std::vector<v1::Review>> down_reviews =
      source->Reviews(kOrg, quarter_.id(), v1::REVIEW_KIND_MID_QUARTER);
  EXPECT_EQ(down_reviews.status().code(), absl::StatusCode::kUnavailable)
      << down_reviews.status();
}

// =============================================================================
// WatchReminders over a real server
// =============================================================================

class WatchRemindersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OKR_ASSERT_OK_AND_ASSIGN(store_, OpenNotifyStore(absl::StrCat("sqlite:", dir_.File("n.db"))));
    // Watching needs neither planning nor tracking: both point at a port
    // nothing listens on, so any use of them would fail the test loudly.
    OKR_ASSERT_OK_AND_ASSIGN(const int port, FreeLoopbackPort());
    const std::string nowhere = absl::StrCat("127.0.0.1:", port);
    tracking::GrpcPlanSourceOptions plan_options;
    plan_options.address = nowhere;
    OKR_ASSERT_OK_AND_ASSIGN(plan_, tracking::NewGrpcPlanSource(plan_options));
    OKR_ASSERT_OK_AND_ASSIGN(tracking_, NewGrpcTrackingSource(TrackingAt(nowhere)));
    notify_ = std::make_unique<Notify>(store_.get(), plan_.get(), tracking_.get(), nullptr, &hub_,
                                       nullptr);
    service_ = std::make_unique<NotifyGrpcService>(notify_.get(), &hub_, &pool_, *auth_);
    OKR_ASSERT_OK_AND_ASSIGN(
        server_, Server::Start({.listen_address = "127.0.0.1:0",
                                .service_name = "notify-test",
                                .shutdown_grace = absl::Seconds(2)},
                               {service_.get()}));
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::NotifyService::NewStub(channel_);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      service_->Shutdown();
      server_->Shutdown();
    }
    pool_.Shutdown();
  }

  // A watch whose initial metadata arrived, i.e. established on the server.
  struct Watch {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReader<Reminder>> reader;
  };
  Watch Open(const v1::WatchRemindersRequest& request, absl::string_view org = "acme",
             bool wait = true) {
    Watch watch;
    watch.context = std::make_unique<grpc::ClientContext>();
    watch.context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    if (!org.empty()) watch.context->AddMetadata(kOrgKey, std::string(org));
    watch.reader = stub_->WatchReminders(watch.context.get(), request);
    if (wait) watch.reader->WaitForInitialMetadata();
    return watch;
  }

  WorkerPool pool_{{.threads = 2, .max_queued = 16, .name = "notify-test"}};
  TempDir dir_{"grpc-notify-watch"};
  WatchHub hub_;
  std::unique_ptr<NotifyStore> store_;
  std::unique_ptr<tracking::PlanSource> plan_;
  std::unique_ptr<TrackingSource> tracking_;
  std::unique_ptr<Notify> notify_;
  std::unique_ptr<Authenticator> auth_ = Authenticator::Disabled();
  std::unique_ptr<NotifyGrpcService> service_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::NotifyService::Stub> stub_;
};

TEST_F(WatchRemindersTest, StreamsMatchingRemindersInOrder) {
  v1::WatchRemindersRequest request;
  request.add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  request.set_recipient_id("jane");
  Watch watch = Open(request);
  // Initial metadata arrived, so the subscription exists: nothing published
  // from here on can be missed.
  ASSERT_TRUE(Eventually([&] { return hub_.watchers() == 1; }));

  std::vector<std::string> expected;
  for (int i = 0; i < 50; ++i) {
    const bool match = i % 3 != 0;
    const std::string id = absl::StrCat("rem-", i);
    hub_.Publish("acme", MakeReminder(id, match ? v1::REMINDER_KIND_WEEKLY_CHECK_IN
                                                : v1::REMINDER_KIND_MID_QUARTER_REVIEW,
                                      "jane", ""));
    hub_.Publish("other-org", MakeReminder(absl::StrCat("x-", i),
                                           v1::REMINDER_KIND_WEEKLY_CHECK_IN, "jane", ""));
    hub_.Publish("acme", MakeReminder(absl::StrCat("y-", i), v1::REMINDER_KIND_WEEKLY_CHECK_IN,
                                      "nick", ""));
    if (match) expected.push_back(id);
  }
  std::vector<std::string> got;
  Reminder reminder;
  while (got.size() < expected.size() && watch.reader->Read(&reminder)) {
    got.push_back(reminder.id());
    EXPECT_EQ(reminder.recipient_id(), "jane");
    EXPECT_EQ(reminder.window_key(), "2027-W05");
  }
  EXPECT_EQ(got, expected);

  watch.context->TryCancel();
  const grpc::Status status = watch.reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
  EXPECT_TRUE(Eventually([&] { return hub_.watchers() == 0; }))
      << "the cancelled watch is still subscribed";
}

TEST_F(WatchRemindersTest, RejectsUnknownKindsAndMissingOrganisation) {
  v1::WatchRemindersRequest bad;
  bad.add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  bad.add_kinds(static_cast<v1::ReminderKind>(42));
  Watch watch = Open(bad, "acme", /*wait=*/false);
  Reminder reminder;
  EXPECT_FALSE(watch.reader->Read(&reminder));
  grpc::Status status = watch.reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "kinds[1]")) << status.error_message();

  Watch anonymous = Open(v1::WatchRemindersRequest(), "", /*wait=*/false);
  EXPECT_FALSE(anonymous.reader->Read(&reminder));
  status = anonymous.reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_EQ(hub_.watchers(), 0);
}

TEST_F(WatchRemindersTest, ShutdownEndsOpenWatchesWithUnavailable) {
  std::vector<Watch> watches;
  for (int i = 0; i < 3; ++i) watches.push_back(Open(v1::WatchRemindersRequest()));
  ASSERT_TRUE(Eventually([&] { return hub_.watchers() == 3; }));
  hub_.Publish("acme", MakeReminder("rem-1", v1::REMINDER_KIND_WEEKLY_CHECK_IN, "jane", ""));
  Reminder reminder;
  for (Watch& watch : watches) {
    ASSERT_TRUE(watch.reader->Read(&reminder));
    EXPECT_EQ(reminder.id(), "rem-1");
  }

  const absl::Time start = absl::Now();
  service_->Shutdown();
  for (Watch& watch : watches) {
    EXPECT_FALSE(watch.reader->Read(&reminder));
    const grpc::Status status = watch.reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), "shutting down"))
        << status.error_message();
  }
  EXPECT_TRUE(Eventually([&] { return hub_.watchers() == 0; }));
  // A new watch is refused at once.
  Watch late = Open(v1::WatchRemindersRequest(), "acme", /*wait=*/false);
  EXPECT_FALSE(late.reader->Read(&reminder));
  EXPECT_EQ(late.reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  // Nothing is left for the server's drain to wait for.
  server_->Shutdown();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

// Streams open, read and cancel while a thread publishes without pause;
// then the service shuts down. Every stream must end, and nothing may touch
// a finished stream (the sanitizer build checks that).
TEST_F(WatchRemindersTest, ManyWatchesComeAndGoWhilePublishing) {
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    int i = 0;
    while (!stop.load()) {
      hub_.Publish("acme", MakeReminder(absl::StrCat("rem-", i++),
                                        v1::REMINDER_KIND_WEEKLY_CHECK_IN, "jane", ""));
      if (i % 64 == 0) absl::SleepFor(absl::Microseconds(200));
    }
  });
  std::vector<std::thread> clients;
  std::atomic<int> received{0};
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 random(c);
      for (int round = 0; round < 8; ++round) {
        Watch watch = Open(v1::WatchRemindersRequest());
        const int reads = static_cast<int>(random() % 20);
        Reminder reminder;
        for (int r = 0; r < reads && watch.reader->Read(&reminder); ++r) received.fetch_add(1);
        watch.context->TryCancel();
        while (watch.reader->Read(&reminder)) {
        }
        (void)watch.reader->Finish();
      }
    });
  }
  for (std::thread& t : clients) t.join();
  // A few that stay open (and unread: their queues fill) until Shutdown.
  std::vector<Watch> open;
  for (int i = 0; i < 3; ++i) open.push_back(Open(v1::WatchRemindersRequest()));
  absl::SleepFor(absl::Milliseconds(200));
  service_->Shutdown();
  stop.store(true);
  publisher.join();
  for (Watch& watch : open) {
    Reminder reminder;
    while (watch.reader->Read(&reminder)) {
    }
    EXPECT_EQ(watch.reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  EXPECT_GT(received.load(), 0);
  EXPECT_TRUE(Eventually([&] { return hub_.watchers() == 0; }));
}

// =============================================================================
// okr-reminder-job
// =============================================================================

struct JobRun {
  ExitStatus exit;
  std::string out;
  std::string err;
};

absl::StatusOr<JobRun> RunJob(std::vector<std::string> args,
                              std::vector<std::pair<std::string, std::string>> env = {}) {
  OKR_ASSIGN_OR_RETURN(const std::string binary, OkrBinary("okr-reminder-job"));
  TempDir dir("reminder-job");
  SubprocessOptions options;
  options.program = binary;
  options.args = std::move(args);
  options.env = std::move(env);
  options.stdout_path = dir.File("out");
  options.stderr_path = dir.File("err");
  OKR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Start(options));
  OKR_ASSIGN_OR_RETURN(const ExitStatus exit, process->Wait(absl::Seconds(60)));
  return JobRun{exit, ReadFileToString(dir.File("out")), ReadFileToString(dir.File("err"))};
}

TEST(ReminderJobTest, BadFlagsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {},                                                // --organisations missing
      {"--organisations= , "},                           // only separators
      {"--organisations=acme", "--bogus=1"},             // unknown flag
      {"--organisations=acme", "positional"},            // not a flag
      {"--organisations=acme", "--now=yesterday"},       // not RFC 3339
      {"--organisations=acme", "--kinds=weekly,daily"},  // unknown kind
      {"--organisations=acme", "--timeout=soon"},        // malformed duration
      {"--organisations=acme", "--timeout=0s"},          // not positive
      {"--organisations=acme", "--retries=-1"},          // negative
      {"--organisations=acme", "--notify_addr="},        // empty address
      {"--organisations"},                               // value missing
  };
  for (const std::vector<std::string>& args : cases) {
    OKR_ASSERT_OK_AND_ASSIGN(const JobRun run, RunJob(args));
    EXPECT_EQ(run.exit.exit_code, 2) << absl::StrJoin(args, " ") << ": " << run.err;
    EXPECT_TRUE(absl::StrContains(run.err, "okr-reminder-job: ")) << run.err;
    EXPECT_EQ(run.out, "") << absl::StrJoin(args, " ");
  }
  // The message names the flag.
  OKR_ASSERT_OK_AND_ASSIGN(JobRun run, RunJob({"--organisations=acme", "--kinds=daily"}));
  EXPECT_TRUE(absl::StrContains(run.err, "--kinds")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "daily")) << run.err;
  // The environment fallback is read, and checked like the command line.
  OKR_ASSERT_OK_AND_ASSIGN(run, RunJob({}, {{"FLAGS_organisations", "acme"},
                                            {"FLAGS_now", "not-a-time"}}));
  EXPECT_EQ(run.exit.exit_code, 2) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "--now")) << run.err;
}

TEST(ReminderJobTest, ClosedPortExitsOneNamingTheOrganisation) {
  OKR_ASSERT_OK_AND_ASSIGN(const int port, FreeLoopbackPort());
  const std::string address = absl::StrCat("127.0.0.1:", port);
  OKR_ASSERT_OK_AND_ASSIGN(
      const JobRun run,
      RunJob({absl::StrCat("--notify_addr=", address), "--retries=0", "--timeout=5s"},
             {{"FLAGS_organisations", "acme,globex"}}));
  EXPECT_EQ(run.exit.exit_code, 1) << run.err;
  EXPECT_EQ(run.out, "");
  for (absl::string_view org : {"'acme'", "'globex'"}) {
    EXPECT_TRUE(absl::StrContains(run.err, org)) << run.err;
  }
  EXPECT_TRUE(absl::StrContains(run.err, "UNAVAILABLE")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, address)) << run.err;
}

// Answers RunDueReminders from a script: per organisation, a list of
// statuses to fail with before succeeding (an empty list: succeed at once);
// the success echoes the request into the counts so that the test can check
// what the job sent.
class ScriptedNotify final : public v1::NotifyService::Service {
 public:
  std::map<std::string, std::vector<grpc::Status>> failures;

  struct Seen {
    std::string org;
    v1::RunDueRemindersRequest request;
  };
  std::vector<Seen> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

  grpc::Status RunDueReminders(grpc::ServerContext* context,
                               const v1::RunDueRemindersRequest* request,
                               v1::RunDueRemindersResponse* response) override {
    const std::string org = OrgOf(*context);
    {
      absl::MutexLock lock(&mu_);
      seen_.push_back({org, *request});
      std::vector<grpc::Status>& left = failures[org];
      if (!left.empty()) {
        const grpc::Status status = left.front();
        left.erase(left.begin());
        return status;
      }
    }
    int n = 0;
    for (int kind : request->kinds()) {
      v1::ReminderKindCounts* counts = response->add_counts();
      counts->set_kind(static_cast<v1::ReminderKind>(kind));
      counts->set_found(static_cast<int>(org.size()) + n);
      counts->set_published(request->dry_run() ? 0 : static_cast<int>(org.size()) + n);
      counts->set_skipped(request->dry_run() ? static_cast<int>(org.size()) + n : 0);
      ++n;
    }
    *response->mutable_now() = request->now();
    if (request->dry_run()) {
      *response->add_sample() =
          MakeReminder("rem-sample", v1::REMINDER_KIND_WEEKLY_CHECK_IN, "jane", "");
    }
    return grpc::Status::OK;
  }

 private:
  absl::Mutex mu_;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
};

TEST(ReminderJobTest, OneRunPerOrganisationWithJsonLines) {
  ScriptedNotify notify;
  std::unique_ptr<LoopbackServer> server = StartLoopback(&notify);
  ASSERT_NE(server, nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(
      const JobRun run,
      RunJob({absl::StrCat("--notify_addr=", server->address()), "--organisations=acme, globex",
              "--now=2027-02-01T09:30:00+01:00", "--kinds=weekly,milestones,weekly",
              "--dry_run"}));
  EXPECT_EQ(run.exit.exit_code, 0) << run.err;

  const std::vector<ScriptedNotify::Seen> seen = notify.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].org, "acme");
  EXPECT_EQ(seen[1].org, "globex");
  for (const ScriptedNotify::Seen& s : seen) {
    // 09:30 at +01:00 is 08:30 UTC.
    EXPECT_EQ(s.request.now().seconds(),
              absl::ToUnixSeconds(absl::FromCivil(absl::CivilSecond(2027, 2, 1, 8, 30, 0),
                                                  absl::UTCTimeZone())));
    EXPECT_TRUE(s.request.dry_run());
    ASSERT_EQ(s.request.kinds_size(), 2) << "duplicates are dropped";
    EXPECT_EQ(s.request.kinds(0), v1::REMINDER_KIND_WEEKLY_CHECK_IN);
    EXPECT_EQ(s.request.kinds(1), v1::REMINDER_KIND_PLANNING_MILESTONE);
  }

  const std::vector<std::string> lines = absl::StrSplit(run.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << run.out;
  for (size_t i = 0; i < lines.size(); ++i) {
    google::protobuf::Struct line;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[i], &line).ok()) << lines[i];
    const auto& fields = line.fields();
    const std::string org = i == 0 ? "acme" : "globex";
    EXPECT_EQ(fields.at("organisation").string_value(), org);
    EXPECT_EQ(fields.at("now").string_value(), "2027-02-01T08:30:00Z");
    EXPECT_TRUE(fields.at("dry_run").bool_value());
    // found per kind: size(org) + index, as scripted; totals add them up.
    const double size = static_cast<double>(org.size());
    EXPECT_EQ(fields.at("found").number_value(), 2 * size + 1) << lines[i];
    EXPECT_EQ(fields.at("skipped").number_value(), 2 * size + 1) << lines[i];
    EXPECT_EQ(fields.at("published").number_value(), 0) << lines[i];
    ASSERT_EQ(fields.at("counts").list_value().values_size(), 2) << lines[i];
    const auto& first = fields.at("counts").list_value().values(0).struct_value().fields();
    EXPECT_EQ(first.at("kind").string_value(), "REMINDER_KIND_WEEKLY_CHECK_IN");
    EXPECT_EQ(first.at("found").number_value(), size);
    EXPECT_EQ(fields.at("sample").list_value().values_size(), 1) << lines[i];
  }
}

TEST(ReminderJobTest, RetriesUnavailableOnlyAndReportsEachOrganisation) {
  ScriptedNotify notify;
  notify.failures["acme"] = {grpc::Status(grpc::StatusCode::UNAVAILABLE, "tracking down")};
  notify.failures["globex"] = {
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "kinds[0]: unknown reminder kind")};
  std::unique_ptr<LoopbackServer> server = StartLoopback(&notify);
  ASSERT_NE(server, nullptr);
  OKR_ASSERT_OK_AND_ASSIGN(const JobRun run,
                           RunJob({absl::StrCat("--notify_addr=", server->address()),
                                   "--organisations=acme,globex", "--retries=2",
                                   "--kinds=end-of-quarter"}));
  // acme succeeded on its second attempt; globex failed for good without a
  // retry: INVALID_ARGUMENT will not change by retrying.
  EXPECT_EQ(run.exit.exit_code, 1) << run.err;
  std::map<std::string, int> calls;
  for (const ScriptedNotify::Seen& s : notify.seen()) ++calls[s.org];
  EXPECT_EQ(calls, (std::map<std::string, int>{{"acme", 2}, {"globex", 1}}));
  const std::vector<std::string> lines = absl::StrSplit(run.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << run.out;
  EXPECT_TRUE(absl::StrContains(lines[0], "\"organisation\":\"acme\"")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "\"published\":4")) << lines[0];
  EXPECT_TRUE(absl::StrContains(run.err, "'globex'")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "INVALID_ARGUMENT")) << run.err;
}

}  // namespace
}  // namespace okr::notify
