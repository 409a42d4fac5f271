// kill -9 of each service in the middle of a stream of concurrent writes,
// then a restart on the same SQLite data (same port, so clients and other
// services find it again).
//
// The clients behave as real ones do: a write that failed or got no answer
// is retried with the same request id / client key / version until it is
// answered. Afterwards the store must hold every write that was acknowledged,
// exactly once, and nothing the clients did not send:
//  - planning: objectives and key results created with request ids, and an
//    objective updated in a version chain (the last acknowledged update is
//    the state, or the one in flight at the kill if it was committed);
//  - tracking: check-ins with client keys (each stored once, the scores equal
//    the model library's recomputation from what is stored);
//  - notify: webhooks created with request ids, the organisation's policy
//    updated in a version chain, and RunDueReminders over several weekly
//    windows (each reminder claimed once per recipient and window, each in the
//    Redis stream once, and a rerun publishes nothing).
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/model_proto.h"
#include "common/redis.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/fault_env.h"
#include "tests/support/http_receiver.h"

namespace okr::fault {
namespace {

// Waits until `acks` reaches `at_least` (or 30 s), then kill -9 and restart
// `process`; returns how many acknowledgements there were at the kill.
int KillMidStreamAndRestart(ServiceProcess& process, const std::atomic<int>& acks, int at_least) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (acks.load() < at_least && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
  const int at_kill = acks.load();
  absl::StatusOr<ExitStatus> killed = process.Kill();
  EXPECT_TRUE(killed.ok()) << killed.status();
  if (killed.ok()) {
    EXPECT_EQ(killed->signal, SIGKILL) << killed->ToString();
  }
  // Clients meanwhile see UNAVAILABLE and retry.
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Status restarted = process.Restart();
  EXPECT_TRUE(restarted.ok()) << restarted << "\n" << process.LogTail();
  return at_kill;
}

// --- Planning ------------------------------------------------------------------------

TEST_F(FaultTest, PlanningKilledMidWritesKeepsEveryAcknowledgedWriteOnce) {
  ASSERT_NO_FATAL_FAILURE(StartPlanning());
  ASSERT_NO_FATAL_FAILURE(BuildPlan(4));
  constexpr int kCreators = 2;
  constexpr int kEach = 12;

  absl::Mutex mu;
  std::map<std::string, std::string> objectives;   // request id -> objective id
  std::map<std::string, std::string> key_results;  // request id -> key result id
  std::atomic<int> acks{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kCreators; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string tag = absl::StrCat(t, "-", i);
        v1::CreateObjectiveRequest create;
        create.set_request_id(absl::StrCat("objective-", tag));
        v1::Objective* o = create.mutable_objective();
        o->set_title(absl::StrCat("Fault objective ", tag));
        o->set_level(v1::LEVEL_INDIVIDUAL);
        o->set_owner_id(people_[static_cast<size_t>(t * kEach + i) % people_.size()]);
        o->set_cycle_id(quarter_.id());
        o->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
        o->set_state(v1::OBJECTIVE_STATE_PUBLISHED);
        o->set_progress_source(v1::PROGRESS_SOURCE_KEY_RESULTS);
        v1::Objective created;
        grpc::Status status = RetryUntilOk([&] {
          return Call(plan_.get(), &PlanStub::CreateObjective, create, &created,
                      absl::Seconds(3));
        });
        ASSERT_TRUE(status.ok()) << tag << ": " << status.error_message();
        {
          absl::MutexLock lock(&mu);
          auto [it, inserted] = objectives.emplace(create.request_id(), created.id());
          EXPECT_TRUE(inserted);
        }
        ++acks;
        v1::CreateKeyResultRequest kr;
        kr.set_request_id(absl::StrCat("kr-", tag));
        kr.mutable_key_result()->set_objective_id(created.id());
        kr.mutable_key_result()->set_title(absl::StrCat("Fault key result ", tag));
        kr.mutable_key_result()->set_type(v1::KEY_RESULT_TYPE_METRIC);
        kr.mutable_key_result()->set_measure(v1::MEASURE_KPI);
        kr.mutable_key_result()->set_start_value(0);
        kr.mutable_key_result()->set_target_value(i + 1);
        kr.mutable_key_result()->set_data_source(v1::DATA_SOURCE_MANUAL);
        v1::KeyResult made;
        status = RetryUntilOk([&] {
          return Call(plan_.get(), &PlanStub::CreateKeyResult, kr, &made, absl::Seconds(3));
        });
        ASSERT_TRUE(status.ok()) << tag << ": " << status.error_message();
        absl::MutexLock lock(&mu);
        EXPECT_TRUE(key_results.emplace(kr.request_id(), made.id()).second);
        ++acks;
      }
    });
  }

  // One client edits an objective's description in a version chain.
  const std::string edited = objective_ids_[1];
  int64_t acked_version = 0;
  std::string acked_description;
  clients.emplace_back([&] {
    v1::GetObjectiveRequest get;
    get.set_id(edited);
    v1::Objective current;
    ASSERT_TRUE(Call(plan_.get(), &PlanStub::GetObjective, get, &current).ok());
    int64_t version = current.version();
    for (int j = 0; j < 2 * kEach; ++j) {
      v1::UpdateObjectiveRequest update;
      update.mutable_objective()->set_id(edited);
      update.mutable_objective()->set_description(absl::StrCat("revision ", j));
      update.mutable_update_mask()->add_paths("description");
      update.set_version(version);
      v1::Objective updated;
      grpc::Status status;
      for (;;) {
        status = Call(plan_.get(), &PlanStub::UpdateObjective, update, &updated, absl::Seconds(3));
        if (status.ok() || !Retryable(status)) break;
        // No answer: the update may have been committed before the crash.
        // Read the objective once planning answers again and decide.
        v1::Objective now;
        const grpc::Status read = RetryUntilOk(
            [&] { return Call(plan_.get(), &PlanStub::GetObjective, get, &now, absl::Seconds(3)); });
        ASSERT_TRUE(read.ok()) << read.error_message();
        if (now.version() == version + 1) {
          EXPECT_EQ(now.description(), update.objective().description())
              << "the version moved without our update";
          updated = now;
          break;
        }
        ASSERT_EQ(now.version(), version) << "the version moved by more than one update";
      }
      ASSERT_TRUE(status.ok() || updated.version() == version + 1) << status.error_message();
      EXPECT_EQ(updated.version(), version + 1);
      version = updated.version();
      acked_version = version;
      acked_description = updated.description();
      ++acks;
    }
  });

  const int at_kill = KillMidStreamAndRestart(*planning_, acks, 12);
  for (std::thread& client : clients) client.join();
  ASSERT_FALSE(HasFailure());
  EXPECT_LT(at_kill, 2 * kCreators * kEach) << "the kill came after the stream; nothing tested";

  // Every acknowledged create is there once, under the acknowledged id.
  std::map<std::string, std::vector<std::string>> by_title;
  for (const v1::Objective& o : AllObjectives()) by_title[o.title()].push_back(o.id());
  for (int t = 0; t < kCreators; ++t) {
    for (int i = 0; i < kEach; ++i) {
      const std::string tag = absl::StrCat(t, "-", i);
      EXPECT_THAT(by_title[absl::StrCat("Fault objective ", tag)],
                  ::testing::ElementsAre(objectives[absl::StrCat("objective-", tag)]))
          << tag;
    }
  }
  EXPECT_EQ(AllObjectives().size(), objective_ids_.size() + kCreators * kEach);
  std::map<std::string, std::vector<std::string>> kr_by_title;
  for (const v1::KeyResult& kr : AllKeyResults()) kr_by_title[kr.title()].push_back(kr.id());
  for (int t = 0; t < kCreators; ++t) {
    for (int i = 0; i < kEach; ++i) {
      const std::string tag = absl::StrCat(t, "-", i);
      EXPECT_THAT(kr_by_title[absl::StrCat("Fault key result ", tag)],
                  ::testing::ElementsAre(key_results[absl::StrCat("kr-", tag)]))
          << tag;
    }
  }
  EXPECT_EQ(AllKeyResults().size(), krs_.size() + kCreators * kEach);
  // The edited objective is at the last acknowledged version.
  v1::GetObjectiveRequest get;
  get.set_id(edited);
  v1::Objective final_state;
  FAULT_ASSERT_GRPC_OK(Call(plan_.get(), &PlanStub::GetObjective, get, &final_state));
  EXPECT_EQ(final_state.version(), acked_version);
  EXPECT_EQ(final_state.description(), acked_description);
  EXPECT_EQ(acked_description, absl::StrCat("revision ", 2 * kEach - 1));
}

// --- Tracking -------------------------------------------------------------------------

TEST_F(FaultTest, TrackingKilledMidCheckInsStoresEachAcknowledgedCheckInOnce) {
  ASSERT_NO_FATAL_FAILURE(StartRedis());
  ASSERT_NO_FATAL_FAILURE(StartPlanning());
  ASSERT_NO_FATAL_FAILURE(StartTracking());
  ASSERT_NO_FATAL_FAILURE(BuildPlan(3));
  constexpr int kClients = 3;
  constexpr int kEach = 30;

  absl::Mutex mu;
  std::map<std::string, std::string> acknowledged;  // client key -> check-in id
  std::atomic<int> acks{0};
  std::atomic<int> replays{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < kEach; ++i) {
        const int n = c * kEach + i;
        const v1::RecordCheckInRequest request = CheckInNumber(n, absl::StrCat("ck-", n));
        v1::RecordCheckInResponse response;
        const grpc::Status status = RetryUntilOk([&] {
          return Call(track_.get(), &TrackStub::RecordCheckIn, request, &response,
                      absl::Seconds(3));
        });
        ASSERT_TRUE(status.ok()) << request.client_key() << ": " << status.error_message();
        if (response.replayed()) ++replays;
        absl::MutexLock lock(&mu);
        EXPECT_TRUE(acknowledged.emplace(request.client_key(), response.check_in().id()).second);
        ++acks;
      }
    });
  }
  const int at_kill = KillMidStreamAndRestart(*tracking_, acks, 15);
  for (std::thread& client : clients) client.join();
  ASSERT_FALSE(HasFailure());
  EXPECT_LT(at_kill, kClients * kEach) << "the kill came after the stream; nothing tested";

  // Stored == acknowledged: each client key once, with the id it was
  // acknowledged under (a retry of a check-in committed before the kill was
  // answered as a replay of the same one).
  std::map<std::string, std::string> stored;
  for (const auto& [key, check_in] : StoredCheckIns()) stored[key] = check_in.id();
  EXPECT_EQ(stored, acknowledged);
  EXPECT_EQ(stored.size(), size_t{kClients * kEach});
  ExpectServes(Recompute());

  // A late retry of any of them is a replay, never a second check-in.
  for (int n : {0, kEach, 2 * kEach - 1}) {
    v1::RecordCheckInResponse response;
    FAULT_ASSERT_GRPC_OK(Call(track_.get(), &TrackStub::RecordCheckIn,
                              CheckInNumber(n, absl::StrCat("ck-", n)), &response));
    EXPECT_TRUE(response.replayed());
    EXPECT_EQ(response.check_in().id(), acknowledged[absl::StrCat("ck-", n)]);
  }
  EXPECT_EQ(StoredCheckIns().size(), size_t{kClients * kEach});
}

// --- Notify ---------------------------------------------------------------------------

TEST_F(FaultTest, NotifyKilledMidWritesAndRunsClaimsAndPublishesEachReminderOnce) {
  ASSERT_NO_FATAL_FAILURE(StartRedis());
  ASSERT_NO_FATAL_FAILURE(StartPlanning());
  ASSERT_NO_FATAL_FAILURE(StartTracking());
  ASSERT_NO_FATAL_FAILURE(StartNotify());
  ASSERT_NO_FATAL_FAILURE(BuildPlan(6));
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpReceiver> receiver, HttpReceiver::Start());
  constexpr int kWebhooks = 10;
  constexpr int kPolicyUpdates = 20;

  const std::vector<absl::Time> windows = WeeklyWindows(6);

  absl::Mutex mu;
  std::map<std::string, std::string> webhooks;  // request id -> webhook id
  std::atomic<int> acks{0};
  std::atomic<bool> stop_runs{false};
  // The runners start first, and the writers only once a run has finished:
  // on a busy machine the first run could otherwise still be under way when
  // the kill comes, and the kill must find both finished runs and writes in
  // progress.
  std::atomic<int> runs{0};
  std::vector<std::thread> runners;
  for (int r = 0; r < 2; ++r) {
    runners.emplace_back([&, r] {
      for (size_t k = static_cast<size_t>(r); !stop_runs.load(); ++k) {
        v1::RunDueRemindersRequest request;
        *request.mutable_now() = ToProto(windows[k % windows.size()]);
        request.add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
        v1::RunDueRemindersResponse response;
        const grpc::Status status = Call(notify_stub_.get(), &NotifyStub::RunDueReminders,
                                         request, &response, absl::Seconds(10));
        if (status.ok()) {
          ++runs;
          EXPECT_EQ(WeeklyCounts(response).failed(), 0);
        } else {
          EXPECT_TRUE(Retryable(status)) << status.error_code() << ": " << status.error_message();
          absl::SleepFor(absl::Milliseconds(50));
        }
      }
    });
  }
  for (absl::Time deadline = absl::Now() + absl::Seconds(60);
       runs.load() == 0 && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  std::vector<std::thread> clients;
  clients.emplace_back([&] {
    for (int i = 0; i < kWebhooks; ++i) {
      v1::CreateWebhookRequest request;
      request.set_request_id(absl::StrCat("hook-", i));
      request.mutable_webhook()->set_url(receiver->url(absl::StrCat("/hook-", i)));
      request.mutable_webhook()->set_display_name(absl::StrCat("Hook ", i));
      // A kind no run here is due for: the test counts stored webhooks, not
      // POSTs (webhook delivery is at-least-once by design).
      request.mutable_webhook()->add_kinds(v1::REMINDER_KIND_PLANNING_MILESTONE);
      v1::Webhook created;
      const grpc::Status status = RetryUntilOk([&] {
        return Call(notify_stub_.get(), &NotifyStub::CreateWebhook, request, &created,
                    absl::Seconds(3));
      });
      ASSERT_TRUE(status.ok()) << request.request_id() << ": " << status.error_message();
      absl::MutexLock lock(&mu);
      EXPECT_TRUE(webhooks.emplace(request.request_id(), created.id()).second);
      ++acks;
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  int64_t acked_version = 0;
  int acked_minutes = -1;
  clients.emplace_back([&] {
    int64_t version = 0;
    for (int j = 0; j < kPolicyUpdates; ++j) {
      v1::SetReminderPolicyRequest request;
      request.mutable_policy()->set_time_zone(std::string(kZone));
      v1::ReviewReminderPolicy* review = request.mutable_policy()->mutable_end_of_quarter_review();
      review->set_enabled(true);
      review->mutable_local_time()->set_hours(9);
      review->mutable_local_time()->set_minutes(j);
      request.set_version(version);
      v1::ReminderPolicy policy;
      grpc::Status status;
      for (;;) {
        status = Call(notify_stub_.get(), &NotifyStub::SetReminderPolicy, request, &policy,
                      absl::Seconds(3));
        if (status.ok() || !Retryable(status)) break;
        v1::GetReminderPolicyRequest get;
        v1::ReminderPolicy current;
        const grpc::Status read = RetryUntilOk([&] {
          return Call(notify_stub_.get(), &NotifyStub::GetReminderPolicy, get, &current,
                      absl::Seconds(3));
        });
        if (!read.ok() && read.error_code() == grpc::StatusCode::NOT_FOUND && version == 0) {
          continue;  // the first set did not happen; send it again
        }
        ASSERT_TRUE(read.ok()) << read.error_message();
        if (current.version() == version + 1) {
          EXPECT_EQ(current.end_of_quarter_review().local_time().minutes(), j);
          policy = current;
          break;
        }
        ASSERT_EQ(current.version(), version) << "the version moved by more than one update";
      }
      ASSERT_TRUE(status.ok() || policy.version() == version + 1) << status.error_message();
      EXPECT_EQ(policy.version(), version + 1);
      version = policy.version();
      acked_version = version;
      acked_minutes = policy.end_of_quarter_review().local_time().minutes();
      ++acks;
      absl::SleepFor(absl::Milliseconds(10));
    }
  });

  const int at_kill = KillMidStreamAndRestart(*notify_, acks, 8);
  const int runs_at_kill = runs.load();
  // Let the runners go on against the restarted process for a while.
  for (absl::Time deadline = absl::Now() + absl::Seconds(20);
       runs.load() < runs_at_kill + 4 && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  // The writers finish on their own; the runners are stopped.
  clients[0].join();
  clients[1].join();
  stop_runs = true;
  runners[0].join();
  runners[1].join();
  ASSERT_FALSE(HasFailure());
  EXPECT_LT(at_kill, kWebhooks + kPolicyUpdates) << "the kill came after the stream";
  EXPECT_GT(runs_at_kill, 0) << "no run finished before the kill";

  // Webhooks: one per request id, under the acknowledged id.
  v1::ListWebhooksRequest list;
  list.set_page_size(100);
  v1::ListWebhooksResponse listed;
  FAULT_ASSERT_GRPC_OK(Call(notify_stub_.get(), &NotifyStub::ListWebhooks, list, &listed));
  std::set<std::string> stored_hooks;
  for (const v1::Webhook& hook : listed.webhooks()) stored_hooks.insert(hook.id());
  std::set<std::string> acked_hooks;
  for (const auto& [request_id, id] : webhooks) acked_hooks.insert(id);
  EXPECT_EQ(listed.webhooks_size(), kWebhooks);
  EXPECT_EQ(stored_hooks, acked_hooks);
  // The policy: the last acknowledged version.
  v1::ReminderPolicy policy;
  FAULT_ASSERT_GRPC_OK(Call(notify_stub_.get(), &NotifyStub::GetReminderPolicy,
                            v1::GetReminderPolicyRequest(), &policy));
  EXPECT_EQ(policy.version(), acked_version);
  EXPECT_EQ(policy.end_of_quarter_review().local_time().minutes(), acked_minutes);
  EXPECT_EQ(acked_minutes, kPolicyUpdates - 1);

  // One more run per window publishes whatever a killed run had claimed and
  // not yet published; then the ledger holds one reminder per recipient and
  // window and the stream each of them once.
  for (const absl::Time at : windows) {
    v1::RunDueRemindersRequest request;
    *request.mutable_now() = ToProto(at);
    request.add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
    v1::RunDueRemindersResponse response;
    FAULT_ASSERT_GRPC_OK(
        Call(notify_stub_.get(), &NotifyStub::RunDueReminders, request, &response));
    EXPECT_EQ(WeeklyCounts(response).failed(), 0);
  }
  const std::vector<v1::Reminder> ledger = AllReminders(notify_stub_.get());
  std::set<std::tuple<std::string, int, std::string>> keys;
  std::set<std::string> ledger_ids;
  std::set<std::string> windows_seen;
  for (const v1::Reminder& reminder : ledger) {
    EXPECT_TRUE(keys.emplace(reminder.recipient_id(), reminder.kind(), reminder.window_key()).second)
        << "two reminders for " << reminder.recipient_id() << " in " << reminder.window_key();
    ledger_ids.insert(reminder.id());
    windows_seen.insert(reminder.window_key());
  }
  EXPECT_EQ(windows_seen.size(), windows.size());
  EXPECT_EQ(ledger.size(), windows.size() * people_.size());
  const std::vector<std::string> stream = StreamReminderIds(redis_->port());
  EXPECT_EQ(stream.size(), ledger.size()) << "a reminder is missing from the stream or doubled";
  EXPECT_EQ(std::set<std::string>(stream.begin(), stream.end()), ledger_ids);

  // And a rerun of every window publishes nothing.
  for (const absl::Time at : windows) {
    v1::RunDueRemindersRequest request;
    *request.mutable_now() = ToProto(at);
    request.add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
    v1::RunDueRemindersResponse response;
    FAULT_ASSERT_GRPC_OK(
        Call(notify_stub_.get(), &NotifyStub::RunDueReminders, request, &response));
    EXPECT_EQ(WeeklyCounts(response).published(), 0);
    EXPECT_EQ(WeeklyCounts(response).found(), static_cast<int>(people_.size()));
  }
  EXPECT_EQ(StreamReminderIds(redis_->port()).size(), ledger.size());
}

}  // namespace
}  // namespace okr::fault
