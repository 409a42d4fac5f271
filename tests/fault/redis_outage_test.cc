// Redis stopped under load and started again (with its append-only file, so
// what it held before the stop comes back, stale cache entries included):
//  - okr-tracking keeps answering every check-in and every read while Redis is
//    down (the cache is a fallback, never an error), stores every check-in it
//    acknowledged, and afterwards serves the scores the model library computes
//    from the plan and the stored check-ins;
//  - okr-notify keeps running reminders: those claimed while Redis is down are
//    published by a later run, so in the end the stream holds every reminder
//    of the ledger exactly once, and the runs' published counts add up to it.
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/fault/fault_env.h"

namespace okr::fault {
namespace {

// Waits until `counter` exceeds `value` by `more` (or 30 s pass).
void WaitForMore(const std::atomic<int>& counter, int value, int more) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (counter.load() < value + more && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE(counter.load(), value + more) << "the load stalled";
}

TEST_F(FaultTest, TrackingAnswersThroughARedisOutageAndServesRightRollupsAfterwards) {
  ASSERT_NO_FATAL_FAILURE(StartRedis(/*persistent=*/true));
  ASSERT_NO_FATAL_FAILURE(StartPlanning());
  ASSERT_NO_FATAL_FAILURE(StartTracking());
  ASSERT_NO_FATAL_FAILURE(BuildPlan(3));

  absl::Mutex mu;
  std::map<std::string, std::string> acknowledged;  // client key -> check-in id
  std::atomic<int> acks{0};
  std::atomic<int> reads{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  constexpr int kWriters = 2;
  for (int c = 0; c < kWriters; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !stop.load(); ++i) {
        const int n = c + kWriters * i;
        const v1::RecordCheckInRequest request = CheckInNumber(n, absl::StrCat("ck-", n));
        v1::RecordCheckInResponse response;
        const grpc::Status status =
            Call(track_.get(), &TrackStub::RecordCheckIn, request, &response, absl::Seconds(5));
        ASSERT_TRUE(status.ok()) << "check-in " << n << " during the Redis outage test: "
                                 << status.error_code() << " " << status.error_message();
        absl::MutexLock lock(&mu);
        acknowledged.emplace(request.client_key(), response.check_in().id());
        ++acks;
      }
    });
  }
  clients.emplace_back([&] {
    while (!stop.load()) {
      v1::GetScoredTreeRequest tree_request;
      tree_request.set_cycle_id(quarter_.id());
      v1::ScoredTree tree;
      const grpc::Status status =
          Call(track_.get(), &TrackStub::GetScoredTree, tree_request, &tree, absl::Seconds(5));
      ASSERT_TRUE(status.ok()) << "scored tree: " << status.error_message();
      EXPECT_EQ(tree.objective_scores_size(), static_cast<int>(objective_ids_.size()));
      v1::GetObjectiveScoreRequest one;
      one.set_objective_id(company_objective_);
      v1::ObjectiveScore score;
      const grpc::Status read =
          Call(track_.get(), &TrackStub::GetObjectiveScore, one, &score, absl::Seconds(5));
      ASSERT_TRUE(read.ok()) << "objective score: " << read.error_message();
      EXPECT_GE(score.score(), 0.0);
      EXPECT_LE(score.score(), 1.0);
      ++reads;
    }
  });

  WaitForMore(acks, 0, 10);
  OKR_ASSERT_OK(redis_->Stop());
  // Under load while Redis is down: writes and reads go on.
  WaitForMore(acks, acks.load(), 15);
  WaitForMore(reads, reads.load(), 5);
  OKR_ASSERT_OK(redis_->Restart());
  WaitForMore(acks, acks.load(), 15);
  stop = true;
  for (std::thread& client : clients) client.join();
  ASSERT_FALSE(HasFailure());

  std::map<std::string, std::string> stored;
  for (const auto& [key, check_in] : StoredCheckIns()) stored[key] = check_in.id();
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(stored, acknowledged);
  }
  // The cache is healed by the maintenance loop (every 2 s); what tracking
  // serves, cache or memory, must be the recomputation.
  ExpectServes(Recompute());
}

TEST_F(FaultTest, NotifyPublishesEachReminderOnceAcrossARedisOutage) {
  ASSERT_NO_FATAL_FAILURE(StartRedis(/*persistent=*/true));
  ASSERT_NO_FATAL_FAILURE(StartPlanning());
  ASSERT_NO_FATAL_FAILURE(StartTracking());
  ASSERT_NO_FATAL_FAILURE(StartNotify());
  ASSERT_NO_FATAL_FAILURE(BuildPlan(6));
  const std::vector<absl::Time> windows = WeeklyWindows(6);
  if (windows.size() < 2) {
    GTEST_SKIP() << "the quarter is less than two weeks old: no second weekly window to claim "
                    "during the outage";
  }
  // Before the outage the runners claim only the first window, so the others
  // are claimed while Redis is down.
  std::atomic<size_t> open_windows{1};

  std::atomic<int> runs{0};
  std::atomic<int> published{0};
  std::atomic<int> failed_during_outage{0};
  std::atomic<bool> redis_down{false};
  std::atomic<bool> stop{false};
  std::vector<std::thread> runners;
  for (int r = 0; r < 2; ++r) {
    runners.emplace_back([&, r] {
      for (size_t k = static_cast<size_t>(r); !stop.load(); ++k) {
        v1::RunDueRemindersResponse response;
        const grpc::Status status =
            RunWeekly(notify_stub_.get(), windows[k % open_windows.load()], &response);
        // Redis is a channel of notify's, not its store: runs answer OK and
        // report what Redis did not take as failed.
        ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
        const v1::ReminderKindCounts counts = WeeklyCounts(response);
        EXPECT_EQ(counts.found(), static_cast<int>(people_.size()));
        published += counts.published();
        if (redis_down.load()) failed_during_outage += counts.failed();
        ++runs;
      }
    });
  }
  WaitForMore(runs, 0, 2);
  redis_down = true;
  OKR_ASSERT_OK(redis_->Stop());
  open_windows = windows.size();
  WaitForMore(runs, runs.load(), 2 * static_cast<int>(windows.size()));
  // The ledger answers while Redis is down.
  const size_t claimed_during_outage = AllReminders(notify_stub_.get()).size();
  OKR_ASSERT_OK(redis_->Restart());
  redis_down = false;
  // notify's Redis client fails fast for its reconnect back-off after the
  // outage; then every window once more under load.
  absl::SleepFor(absl::Milliseconds(1500));
  WaitForMore(runs, runs.load(), 2 * static_cast<int>(windows.size()));
  stop = true;
  for (std::thread& runner : runners) runner.join();
  ASSERT_FALSE(HasFailure());
  EXPECT_GT(claimed_during_outage, 0u);
  EXPECT_GT(failed_during_outage.load(), 0) << "no run met the outage; nothing tested";

  // A final pass over every window (as the next CronJob run would) retries
  // whatever is still unpublished.
  for (const absl::Time at : windows) {
    v1::RunDueRemindersResponse response;
    FAULT_ASSERT_GRPC_OK(RunWeekly(notify_stub_.get(), at, &response));
    EXPECT_EQ(WeeklyCounts(response).failed(), 0);
    published += WeeklyCounts(response).published();
  }
  const std::vector<v1::Reminder> ledger = AllReminders(notify_stub_.get());
  EXPECT_EQ(ledger.size(), windows.size() * people_.size());
  std::set<std::string> ledger_ids;
  for (const v1::Reminder& reminder : ledger) ledger_ids.insert(reminder.id());
  const std::vector<std::string> stream = StreamReminderIds(redis_->port());
  EXPECT_EQ(stream.size(), ledger.size()) << "a reminder is missing from the stream or doubled";
  EXPECT_EQ(std::set<std::string>(stream.begin(), stream.end()), ledger_ids);
  EXPECT_EQ(published.load(), static_cast<int>(ledger.size()))
      << "published counts must add up to the reminders, each reaching Redis once";
}

}  // namespace
}  // namespace okr::fault
