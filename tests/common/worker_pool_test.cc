#include "common/worker_pool.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/planning.grpc.pb.h"
#include "tests/support/test_support.h"

namespace okr {
namespace {

using ::testing::HasSubstr;

// Polls `done` until it holds or 10 s pass (generous for sanitizer builds).
template <typename Pred>
bool Eventually(Pred done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(WorkerPoolTest, RunsEveryTaskOnItsOwnThreads) {
  WorkerPool pool({.threads = 3, .max_queued = 1000});
  EXPECT_EQ(pool.threads(), 3);
  absl::Mutex mu;
  std::set<std::thread::id> threads;
  int ran = 0;
  for (int i = 0; i < 200; ++i) {
    OKR_ASSERT_OK(pool.Submit([&] {
      absl::MutexLock lock(&mu);
      threads.insert(std::this_thread::get_id());
      ++ran;
    }));
  }
  pool.Shutdown();
  EXPECT_EQ(ran, 200);
  EXPECT_LE(threads.size(), 3u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST(WorkerPoolTest, TasksRunConcurrentlyUpToTheThreadCount) {
  WorkerPool pool({.threads = 2, .max_queued = 10});
  absl::Notification release;
  std::atomic<int> started{0};
  for (int i = 0; i < 2; ++i) {
    OKR_ASSERT_OK(pool.Submit([&] {
      started.fetch_add(1);
      release.WaitForNotification();
    }));
  }
  // Both block at once, so both must be running on separate threads.
  EXPECT_TRUE(Eventually([&] { return started.load() == 2; }));
  EXPECT_EQ(pool.running(), 2);
  release.Notify();
}

TEST(WorkerPoolTest, RefusesTasksBeyondTheQueueBoundAndRecovers) {
  WorkerPool pool({.threads = 1, .max_queued = 2, .name = "test"});
  absl::Notification release;
  std::atomic<int> ran{0};
  OKR_ASSERT_OK(pool.Submit([&] {
    release.WaitForNotification();
    ran.fetch_add(1);
  }));
  ASSERT_TRUE(Eventually([&] { return pool.running() == 1; }));
  OKR_ASSERT_OK(pool.Submit([&] { ran.fetch_add(1); }));
  OKR_ASSERT_OK(pool.Submit([&] { ran.fetch_add(1); }));
  EXPECT_EQ(pool.queued(), 2);

  bool destroyed_unrun = false;
  struct SetOnDestroy {
    bool* flag;
    ~SetOnDestroy() { *flag = true; }
  };
  auto guard = std::make_shared<SetOnDestroy>(SetOnDestroy{&destroyed_unrun});
  const absl::Status full =
      pool.Submit([&, guard = std::move(guard)] { ran.fetch_add(100); });
  EXPECT_EQ(full.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(full.message(), HasSubstr("overloaded"));
  EXPECT_THAT(full.message(), HasSubstr("test workers"));
  EXPECT_TRUE(destroyed_unrun);
  EXPECT_EQ(pool.queued(), 2);

  release.Notify();
  ASSERT_TRUE(Eventually([&] { return ran.load() == 3; }));
  ASSERT_TRUE(Eventually([&] { return pool.running() == 0; }));
  // Room again once the backlog has run.
  OKR_EXPECT_OK(pool.Submit([&] { ran.fetch_add(1); }));
  pool.Shutdown();
  EXPECT_EQ(ran.load(), 4);
}

TEST(WorkerPoolTest, ZeroQueueAcceptsOnlyWhatFreeWorkersTake) {
  WorkerPool pool({.threads = 2, .max_queued = 0});
  absl::Notification release;
  // Accepted even if the workers have not reached their wait yet: a worker
  // that has not started counts as free.
  OKR_ASSERT_OK(pool.Submit([&] { release.WaitForNotification(); }));
  OKR_ASSERT_OK(pool.Submit([&] { release.WaitForNotification(); }));
  EXPECT_EQ(pool.Submit([] {}).code(), absl::StatusCode::kUnavailable);
  release.Notify();
}

TEST(WorkerPoolTest, ShutdownRunsQueuedTasksThenRefusesNewOnes) {
  WorkerPool pool({.threads = 1, .max_queued = 10});
  absl::Notification release;
  std::atomic<int> ran{0};
  OKR_ASSERT_OK(pool.Submit([&] {
    release.WaitForNotification();
    ran.fetch_add(1);
  }));
  for (int i = 0; i < 5; ++i) {
    OKR_ASSERT_OK(pool.Submit([&] { ran.fetch_add(1); }));
  }
  std::atomic<bool> shut_down{false};
  std::thread stopper([&] {
    pool.Shutdown();
    shut_down.store(true);
  });
  // Shutdown waits for the blocked task and the queue behind it.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(shut_down.load());
  const absl::Status late = pool.Submit([&] { ran.fetch_add(100); });
  EXPECT_EQ(late.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(late.message(), HasSubstr("shutting down"));
  release.Notify();
  stopper.join();
  EXPECT_TRUE(shut_down.load());
  EXPECT_EQ(ran.load(), 6);
  pool.Shutdown();  // idempotent
  EXPECT_EQ(pool.Submit([] {}).code(), absl::StatusCode::kUnavailable);
}

TEST(WorkerPoolTest, ClampsNonsenseOptions) {
  WorkerPool pool({.threads = 0, .max_queued = -5});
  EXPECT_EQ(pool.threads(), 1);
  std::atomic<bool> ran{false};
  OKR_ASSERT_OK(pool.Submit([&] { ran.store(true); }));
  pool.Shutdown();
  EXPECT_TRUE(ran.load());
}

// --- RunUnary, against a real in-process callback server ----------------------

// A PlanningService whose GetTeam runs `handler` through RunUnary and whose
// GetPerson blocks its worker until `release`.
class FakeService final : public v1::PlanningService::CallbackService {
 public:
  explicit FakeService(WorkerPool* pool) : pool_(pool) {}

  std::function<absl::Status(const v1::GetTeamRequest&, v1::Team*)> handler;
  absl::Notification release;
  std::atomic<int> blocked{0};
  std::atomic<int> get_team_ran{0};

  grpc::ServerUnaryReactor* GetTeam(grpc::CallbackServerContext* context,
                                    const v1::GetTeamRequest* request,
                                    v1::Team* response) override {
    return RunUnary(context, *pool_, [this, request, response] {
      get_team_ran.fetch_add(1);
      return handler(*request, response);
    });
  }

  grpc::ServerUnaryReactor* GetPerson(grpc::CallbackServerContext* context,
                                      const v1::GetPersonRequest*,
                                      v1::Person* response) override {
    return RunUnary(context, *pool_, [this, response] {
      blocked.fetch_add(1);
      release.WaitForNotification();
      response->set_id("p1");
      return absl::OkStatus();
    });
  }

 private:
  WorkerPool* pool_;
};

class RunUnaryTest : public ::testing::Test {
 protected:
  void Start(WorkerPoolOptions options) {
    pool_ = std::make_unique<WorkerPool>(std::move(options));
    service_ = std::make_unique<FakeService>(pool_.get());
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::PlanningService::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    if (service_ != nullptr && !service_->release.HasBeenNotified()) {
      service_->release.Notify();
    }
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::seconds(5));
    }
    if (pool_ != nullptr) pool_->Shutdown();
  }

  grpc::Status GetTeam(absl::string_view id, v1::Team* team,
                       absl::Duration timeout = absl::Seconds(10)) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::GetTeamRequest request;
    request.set_id(std::string(id));
    return stub_->GetTeam(&context, request, team);
  }

  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<FakeService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::PlanningService::Stub> stub_;
};

TEST_F(RunUnaryTest, RunsOnAWorkerAndReturnsTheResponse) {
  Start({.threads = 2});
  std::atomic<bool> on_worker{false};
  const std::thread::id test_thread = std::this_thread::get_id();
  service_->handler = [&](const v1::GetTeamRequest& request, v1::Team* team) {
    on_worker.store(std::this_thread::get_id() != test_thread);
    team->set_id(request.id());
    team->set_name(absl::StrCat("team ", request.id()));
    return absl::OkStatus();
  };
  v1::Team team;
  const grpc::Status status = GetTeam("t-42", &team);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(team.name(), "team t-42");
  EXPECT_TRUE(on_worker.load());
}

TEST_F(RunUnaryTest, ErrorsCarryTheirCodeAndFieldViolations) {
  Start({.threads = 1});
  service_->handler = [](const v1::GetTeamRequest&, v1::Team*) {
    return MakeFieldStatus(absl::StatusCode::kNotFound,
                           {{"id", "no team 'nope'"}});
  };
  v1::Team team;
  const grpc::Status status = GetTeam("nope", &team);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("no team 'nope'"));
  const absl::Status back = ToAbslStatus(status);
  const std::vector<FieldViolation> violations = FieldViolationsOf(back);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "id");
}

TEST_F(RunUnaryTest, AnExceptionBecomesInternal) {
  Start({.threads = 1});
  service_->handler = [](const v1::GetTeamRequest&,
                         v1::Team*) -> absl::Status {
    throw std::runtime_error("boom");
  };
  v1::Team team;
  const grpc::Status status = GetTeam("t", &team);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(status.error_message(), HasSubstr("boom"));
}

TEST_F(RunUnaryTest, AFullPoolAnswersUnavailableAtOnce) {
  Start({.threads = 1, .max_queued = 0});
  service_->handler = [](const v1::GetTeamRequest&, v1::Team*) {
    return absl::OkStatus();
  };
  // Occupy the only worker.
  grpc::ClientContext blocked_context;
  blocked_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  const v1::GetPersonRequest person_request;
  v1::Person person;
  absl::Notification blocked_done;
  grpc::Status blocked_status;
  stub_->async()->GetPerson(&blocked_context, &person_request,
                            &person, [&](grpc::Status s) {
                              blocked_status = std::move(s);
                              blocked_done.Notify();
                            });
  ASSERT_TRUE(Eventually([&] { return service_->blocked.load() == 1; }));

  v1::Team team;
  const absl::Time start = absl::Now();
  const grpc::Status status = GetTeam("t", &team);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("overloaded"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(service_->get_team_ran.load(), 0);

  service_->release.Notify();
  blocked_done.WaitForNotification();
  EXPECT_TRUE(blocked_status.ok()) << blocked_status.error_message();
  EXPECT_EQ(person.id(), "p1");
  // And it serves again once the worker is free (it finishes the call a
  // moment before it counts itself free).
  ASSERT_TRUE(Eventually([&] { return pool_->running() == 0; }));
  EXPECT_TRUE(GetTeam("t", &team).ok());
}

TEST_F(RunUnaryTest, ACallThatExpiredInTheQueueDoesNotRun) {
  Start({.threads = 1, .max_queued = 10});
  service_->handler = [](const v1::GetTeamRequest&, v1::Team*) {
    return absl::OkStatus();
  };
  grpc::ClientContext blocked_context;
  blocked_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  const v1::GetPersonRequest person_request;
  v1::Person person;
  absl::Notification blocked_done;
  stub_->async()->GetPerson(&blocked_context, &person_request,
                            &person,
                            [&](grpc::Status) { blocked_done.Notify(); });
  ASSERT_TRUE(Eventually([&] { return service_->blocked.load() == 1; }));

  v1::Team team;
  const grpc::Status status = GetTeam("t", &team, absl::Milliseconds(100));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  service_->release.Notify();
  blocked_done.WaitForNotification();
  // The queued GetTeam was picked up after its deadline and skipped.
  ASSERT_TRUE(Eventually([&] { return pool_->queued() == 0; }));
  ASSERT_TRUE(Eventually([&] { return pool_->running() == 0; }));
  EXPECT_EQ(service_->get_team_ran.load(), 0);
}

}  // namespace
}  // namespace okr
