// Concurrent conflicting policy edits in notify (optimistic concurrency):
// many threads, split over two Notify replicas on one SQLite file, set or
// delete the same reminder policy with the same expected version. Exactly one
// wins, every other gets ABORTED naming `version` (a delete that lost to a
// delete: NOT_FOUND naming `team_id`), and both replicas then read the
// winner's policy: no lost update.
//
// The plan comes from an in-process planning through its change feed
// (tracking's test fixture); notify needs no tracking, Redis or webhooks for
// policies, so those are absent.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "services/notify/notify.h"
#include "services/notify/notify_store.h"
#include "services/notify/tracking_source.h"
#include "tests/services/tracking/tracking_test_util.h"
#include "tests/support/test_support.h"

namespace okr::notify {
namespace {

using ::absl::StatusCode;
using tracking::IsFieldError;

constexpr int kWriters = 8;
constexpr int kRounds = 5;

// Time zones a writer may set, one per writer (all loadable).
constexpr const char* kZones[kWriters] = {
    "Europe/Lisbon",   "Asia/Tokyo",    "America/Chicago",   "Australia/Sydney",
    "Europe/Berlin",   "Africa/Nairobi", "America/Sao_Paulo", "Asia/Kolkata"};

// Policies need no tracking data: every call says so loudly.
class NoTrackingSource : public TrackingSource {
 public:
  absl::StatusOr<std::vector<v1::StaleKeyResult>> StaleKeyResults(absl::string_view,
                                                                  absl::Time) override {
    return absl::UnimplementedError("no tracking in this test");
  }
  absl::StatusOr<std::vector<v1::Review>> Reviews(absl::string_view, absl::string_view,
                                                  v1::ReviewKind) override {
    return absl::UnimplementedError("no tracking in this test");
  }
};

class NotifyConflictTest : public tracking::TrackingTest {
 protected:
  NotifyConflictTest() {
    for (int r = 0; r < 2; ++r) {
      absl::StatusOr<std::unique_ptr<NotifyStore>> store =
          OpenNotifyStore(absl::StrCat("sqlite:", dir_.File("notify.db")));
      if (!store.ok()) {
        ADD_FAILURE() << store.status();
        return;
      }
      stores_[r] = *std::move(store);
      NotifyOptions options;
      options.clock = [this] { return now_; };
      replicas_[r] = std::make_unique<Notify>(stores_[r].get(), plan_source_.get(),
                                              &no_tracking_, /*publisher=*/nullptr,
                                              /*hub=*/nullptr, /*dispatcher=*/nullptr, options);
    }
  }

  // Runs `call(i, replica)` on kWriters threads released together, even
  // writers on replica 0 and odd ones on replica 1; returns the statuses.
  template <typename F>
  std::vector<absl::Status> Race(F call) {
    std::vector<absl::Status> results(kWriters);
    absl::Barrier* start = new absl::Barrier(kWriters);
    std::vector<std::thread> threads;
    for (int i = 0; i < kWriters; ++i) {
      threads.emplace_back([&, i] {
        if (start->Block()) delete start;
        results[i] = call(i, *replicas_[i % 2]);
      });
    }
    for (std::thread& t : threads) t.join();
    return results;
  }

  // The stored (not effective) policy of `team_id` as `replica` reads it.
  absl::StatusOr<v1::ReminderPolicy> Stored(int replica, const Id& team_id) {
    v1::GetReminderPolicyRequest request;
    request.set_team_id(team_id);
    v1::ReminderPolicy policy;
    absl::Status status = replicas_[replica]->GetReminderPolicy(kOrg, request, &policy);
    if (!status.ok()) return status;
    return policy;
  }

  // Races kRounds rounds of SetReminderPolicy on `team_id`, each with the
  // version the previous round left (0 first: a create), and checks one
  // winner per round and the stored result.
  void RaceSetPolicy(const Id& team_id) {
    int64_t version = 0;
    for (int round = 0; round < kRounds; ++round) {
      SCOPED_TRACE(absl::StrCat("round ", round));
      std::vector<v1::ReminderPolicy> outs(kWriters);
      std::vector<absl::Status> results = Race([&](int i, Notify& notify) {
        v1::SetReminderPolicyRequest request;
        request.mutable_policy()->set_team_id(team_id);
        request.mutable_policy()->set_time_zone(kZones[(i + round) % kWriters]);
        request.mutable_policy()->mutable_weekly_check_in()->set_enabled(i % 2 == 0);
        request.set_version(version);
        return notify.SetReminderPolicy(kOrg, request, &outs[i]);
      });
      int winner = -1;
      for (int i = 0; i < kWriters; ++i) {
        if (results[i].ok()) {
          EXPECT_EQ(winner, -1) << "a second winner: writer " << i;
          winner = i;
        } else {
          EXPECT_TRUE(IsFieldError(results[i], StatusCode::kAborted, "version"))
              << "writer " << i;
        }
      }
      ASSERT_NE(winner, -1) << results[0];
      EXPECT_EQ(outs[winner].version(), version + 1);
      for (int replica = 0; replica < 2; ++replica) {
        absl::StatusOr<v1::ReminderPolicy> stored = Stored(replica, team_id);
        ASSERT_TRUE(stored.ok()) << stored.status();
        EXPECT_EQ(stored->time_zone(), kZones[(winner + round) % kWriters]) << replica;
        EXPECT_EQ(stored->weekly_check_in().enabled(), winner % 2 == 0) << replica;
        EXPECT_EQ(stored->version(), version + 1) << replica;
      }
      version = outs[winner].version();
    }
  }

  TempDir dir_{"okr-notify-conflict"};
  NoTrackingSource no_tracking_;
  std::unique_ptr<NotifyStore> stores_[2];
  std::unique_ptr<Notify> replicas_[2];
};

TEST_F(NotifyConflictTest, OrganisationPolicyEditsWithTheSameVersionHaveOneWinner) {
  ASSERT_NE(replicas_[1], nullptr);
  RaceSetPolicy("");
}

TEST_F(NotifyConflictTest, TeamPolicyEditsAndDeletesWithTheSameVersionHaveOneWinner) {
  ASSERT_NE(replicas_[1], nullptr);
  Team team;
  team.name = "Sales";
  absl::StatusOr<Team> sales = planning_->CreateTeam(kOrg, team, planning::RequestKey{});
  ASSERT_TRUE(sales.ok()) << sales.status();
  RaceSetPolicy(sales->id);

  // Deletes of the same version: one removes it, the others find it gone
  // (or, in the window before, at another version).
  absl::StatusOr<v1::ReminderPolicy> before = Stored(0, sales->id);
  ASSERT_TRUE(before.ok()) << before.status();
  std::vector<absl::Status> results = Race([&](int, Notify& notify) {
    v1::DeleteReminderPolicyRequest request;
    request.set_team_id(sales->id);
    request.set_version(before->version());
    return notify.DeleteReminderPolicy(kOrg, request);
  });
  int winners = 0;
  for (int i = 0; i < kWriters; ++i) {
    if (results[i].ok()) {
      ++winners;
    } else {
      EXPECT_TRUE(IsFieldError(results[i], StatusCode::kNotFound, "team_id") ||
                  IsFieldError(results[i], StatusCode::kAborted, "version"))
          << "writer " << i << ": " << results[i];
    }
  }
  EXPECT_EQ(winners, 1);
  for (int replica = 0; replica < 2; ++replica) {
    EXPECT_EQ(Stored(replica, sales->id).status().code(), StatusCode::kNotFound) << replica;
  }

  // A stale writer cannot bring a deleted policy back with an old version.
  v1::SetReminderPolicyRequest stale;
  stale.mutable_policy()->set_team_id(sales->id);
  stale.set_version(before->version());
  v1::ReminderPolicy ignored;
  EXPECT_TRUE(IsFieldError(replicas_[1]->SetReminderPolicy(kOrg, stale, &ignored),
                           StatusCode::kAborted, "version"));
  EXPECT_EQ(Stored(0, sales->id).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace okr::notify
