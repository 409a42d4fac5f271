// Concurrent conflicting updates in tracking, released together from many
// threads on one Tracking (with the Redis rollup cache on a real
// redis-server): check-ins on one key result with distinct client keys (all
// stored, the latest by time wins whatever the arrival order), with one
// client key (stored once, every caller told the same check-in), with one
// client key and different contents (one stored, the rest ALREADY_EXISTS),
// and review edits with the same expected version (one wins, the rest
// ABORTED naming `version`; what is stored is the winner's).
#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/time/time.h"
#include "common/model_proto.h"
#include "tests/services/tracking/tracking_test_util.h"

namespace okr::tracking {
namespace {

using ::absl::StatusCode;

constexpr int kThreads = 8;

class TrackingConflictTest : public TrackingTest {
 protected:
  TrackingConflictTest() {
    objective_ = MakeObjective("Grow online revenue", author_.id);
    kr_ = MakeMetricKr(objective_.id, "Orders from 0 to 1000", 0, 1000);
    other_ = MakeMetricKr(objective_.id, "Returns from 50 to 10", 50, 10);
  }

  // Runs `call(i)` on `threads` threads released together; returns the
  // statuses by thread.
  template <typename F>
  static std::vector<absl::Status> Race(int threads, F call) {
    std::vector<absl::Status> results(threads);
    absl::Barrier* start = new absl::Barrier(threads);
    std::vector<std::thread> running;
    for (int i = 0; i < threads; ++i) {
      running.emplace_back([&, i] {
        if (start->Block()) delete start;
        results[i] = call(i);
      });
    }
    for (std::thread& t : running) t.join();
    return results;
  }

  int StoredCheckIns(const Id& kr_id) {
    v1::ListCheckInsRequest request;
    request.set_key_result_id(kr_id);
    request.set_page_size(1);
    v1::ListCheckInsResponse response;
    absl::Status status = tracking_->ListCheckIns(kOrg, request, &response);
    EXPECT_TRUE(status.ok()) << status;
    return response.total_size();
  }

  Objective objective_;
  KeyResult kr_;
  KeyResult other_;
};

TEST_F(TrackingConflictTest, DistinctClientKeysAreAllStoredAndTheLatestByTimeWins) {
  ASSERT_TRUE(EnableCache());
  constexpr int kPerThread = 10;
  constexpr int kTotal = kThreads * kPerThread;
  // Check-in n carries value n and a time that is a permutation of n (37 is
  // prime to 80), so the latest by time is neither the first nor the last
  // sent, and arrival order says nothing about it.
  std::vector<v1::RecordCheckInRequest> requests;
  int latest = -1;
  for (int n = 0; n < kTotal; ++n) {
    v1::RecordCheckInRequest request = ValueRequest(kr_.id, n);
    const int slot = (n * 37) % kTotal;
    if (slot == kTotal - 1) latest = n;
    *request.mutable_time() = ToProto(now_ - absl::Hours(2) + absl::Seconds(slot));
    requests.push_back(request);
  }
  ASSERT_GT(latest, 0);
  ASSERT_LT(latest, kTotal - 1);

  std::vector<v1::RecordCheckInResponse> responses(kTotal);
  std::vector<absl::Status> results = Race(kThreads, [&](int t) {
    // Interleaved: thread t sends t, t + kThreads, ...
    for (int n = t; n < kTotal; n += kThreads) {
      absl::Status status = tracking_->RecordCheckIn(kOrg, requests[n], &responses[n]);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  });
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(results[t].ok()) << t << ": " << results[t];

  absl::flat_hash_set<std::string> ids;
  std::vector<okr::CheckIn> model;
  for (int n = 0; n < kTotal; ++n) {
    EXPECT_FALSE(responses[n].replayed()) << n;
    ids.insert(responses[n].check_in().id());
    okr::CheckIn c;
    ASSERT_TRUE(FromProto(responses[n].check_in(), "check_in", &c).ok());
    model.push_back(c);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kTotal)) << "every check-in got its own id";
  EXPECT_EQ(StoredCheckIns(kr_.id), kTotal);

  // The latest by time, whatever order they were applied in.
  absl::StatusOr<ScoreGraph> want = Recompute(model);
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_NEAR(*want->ProgressOf(kr_.id), latest / 1000.0, 1e-12);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "live" : "after a restart");
    const v1::KeyResultScore score = KrScore(kr_.id);
    EXPECT_EQ(score.current_value(), latest);
    EXPECT_EQ(score.check_in_count(), kTotal);
    EXPECT_DOUBLE_EQ(score.progress(), *want->ProgressOf(kr_.id));
    EXPECT_DOUBLE_EQ(ObjScore(objective_.id).score(), *want->ScoreOf(objective_.id));
    v1::ListCheckInsRequest list;
    list.set_key_result_id(kr_.id);
    list.set_page_size(1);
    v1::ListCheckInsResponse newest;
    ASSERT_TRUE(tracking_->ListCheckIns(kOrg, list, &newest).ok());
    ASSERT_EQ(newest.check_ins_size(), 1);
    EXPECT_EQ(newest.check_ins(0).id(), responses[latest].check_in().id());
    Restart();
  }
}

TEST_F(TrackingConflictTest, OneClientKeyFromManyThreadsIsStoredOnceAndEveryoneSeesIt) {
  ASSERT_TRUE(EnableCache());
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(round);
    v1::RecordCheckInRequest request = ValueRequest(kr_.id, 100 * (round + 1));
    request.set_note(absl::StrCat("round ", round));
    *request.mutable_time() = ToProto(now_ - absl::Minutes(kRounds - round));
    std::vector<v1::RecordCheckInResponse> responses(kThreads);
    std::vector<absl::Status> results = Race(kThreads, [&](int i) {
      return tracking_->RecordCheckIn(kOrg, request, &responses[i]);
    });
    int recorded = 0;
    for (int i = 0; i < kThreads; ++i) {
      ASSERT_TRUE(results[i].ok()) << i << ": " << results[i];
      if (!responses[i].replayed()) ++recorded;
      // The same stored check-in for everyone (id, sequence, times, body).
      EXPECT_EQ(responses[i].check_in().SerializeAsString(),
                responses[0].check_in().SerializeAsString())
          << i;
      EXPECT_EQ(responses[i].key_result_score().current_value(), 100 * (round + 1));
    }
    EXPECT_EQ(recorded, 1) << "exactly one caller recorded it, the others were replays";
    EXPECT_EQ(StoredCheckIns(kr_.id), round + 1);
    EXPECT_EQ(KrScore(kr_.id).check_in_count(), round + 1);
    EXPECT_DOUBLE_EQ(KrScore(kr_.id).progress(), (100.0 * (round + 1)) / 1000);
  }
}

TEST_F(TrackingConflictTest, OneClientKeyWithDifferentContentsStoresOneAndRefusesTheRest) {
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    const std::string key = absl::StrCat("shared-key-", round);
    std::vector<v1::RecordCheckInRequest> requests;
    for (int i = 0; i < kThreads; ++i) {
      v1::RecordCheckInRequest request = ValueRequest(other_.id, 10 + i);
      request.set_client_key(key);
      *request.mutable_time() = ToProto(now_ - absl::Minutes(10 - round));
      requests.push_back(request);
    }
    std::vector<v1::RecordCheckInResponse> responses(kThreads);
    std::vector<absl::Status> results = Race(kThreads, [&](int i) {
      return tracking_->RecordCheckIn(kOrg, requests[i], &responses[i]);
    });
    int winner = -1;
    for (int i = 0; i < kThreads; ++i) {
      if (results[i].ok()) {
        EXPECT_EQ(winner, -1) << "a second winner: " << i;
        winner = i;
        EXPECT_FALSE(responses[i].replayed());
      } else {
        EXPECT_TRUE(IsFieldError(results[i], StatusCode::kAlreadyExists, "client_key")) << i;
      }
    }
    ASSERT_NE(winner, -1);
    EXPECT_EQ(StoredCheckIns(other_.id), round + 1);
    EXPECT_EQ(KrScore(other_.id).current_value(), 10 + winner);
    // The winner's retry is a replay of its own check-in.
    v1::RecordCheckInResponse retry;
    ASSERT_TRUE(tracking_->RecordCheckIn(kOrg, requests[winner], &retry).ok());
    EXPECT_TRUE(retry.replayed());
    EXPECT_EQ(retry.check_in().id(), responses[winner].check_in().id());
  }
}

TEST_F(TrackingConflictTest, ReviewEditsWithTheSameVersionHaveOneWinner) {
  CheckIn(kr_.id, 400);
  constexpr int kRounds = 5;
  int64_t version = 0;  // 0: the first round creates the review
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(round);
    std::vector<v1::Review> outs(kThreads);
    std::vector<absl::Status> results = Race(kThreads, [&](int i) {
      v1::UpsertReviewRequest request;
      v1::Review* review = request.mutable_review();
      review->set_objective_id(objective_.id);
      review->set_kind(v1::REVIEW_KIND_END_OF_QUARTER);
      review->set_learnings(absl::StrCat("round ", round, " by writer ", i));
      review->set_final_score(0.1 * (i + 1));
      request.set_version(version);
      return tracking_->UpsertReview(kOrg, request, &outs[i]);
    });
    int winner = -1;
    for (int i = 0; i < kThreads; ++i) {
      if (results[i].ok()) {
        EXPECT_EQ(winner, -1) << "a second winner: " << i;
        winner = i;
      } else {
        EXPECT_TRUE(IsFieldError(results[i], StatusCode::kAborted, "version")) << i;
      }
    }
    ASSERT_NE(winner, -1);
    EXPECT_EQ(outs[winner].version(), version + 1);

    // What is stored, also after a restart, is the winner's edit.
    for (int restart = 0; restart < 2; ++restart) {
      v1::GetReviewRequest get;
      get.set_objective_id(objective_.id);
      get.set_kind(v1::REVIEW_KIND_END_OF_QUARTER);
      v1::Review stored;
      ASSERT_TRUE(tracking_->GetReview(kOrg, get, &stored).ok());
      EXPECT_EQ(stored.learnings(), absl::StrCat("round ", round, " by writer ", winner));
      EXPECT_EQ(stored.version(), version + 1);
      EXPECT_DOUBLE_EQ(stored.final_score(), 0.1 * (winner + 1));
      if (restart == 0) Restart();
    }
    version = outs[winner].version();
  }
  // A writer that still holds an old version is refused and changes nothing.
  v1::UpsertReviewRequest stale;
  stale.mutable_review()->set_objective_id(objective_.id);
  stale.mutable_review()->set_kind(v1::REVIEW_KIND_END_OF_QUARTER);
  stale.mutable_review()->set_learnings("stale");
  stale.set_version(version - 1);
  v1::Review ignored;
  EXPECT_TRUE(IsFieldError(tracking_->UpsertReview(kOrg, stale, &ignored),
                           StatusCode::kAborted, "version"));
}

}  // namespace
}  // namespace okr::tracking
