// Concurrent writes: check-ins share one catch-up with planning but never one
// that started before they arrived, many concurrent check-ins end in the
// scores a full recompute gives, and a cycle closed while check-ins run
// freezes every check-in that was acknowledged.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/model_proto.h"
#include "tests/services/tracking/tracking_test_util.h"

namespace okr::tracking {
namespace {

using ::absl::StatusCode;

// A PlanSource over another that can hold its ListPlanChanges answers: a
// held call has already read the feed (so what it returns is what planning
// had then) and returns only when released.
class HeldPlanSource : public PlanSource {
 public:
  explicit HeldPlanSource(PlanSource* inner) : inner_(inner) {}

  absl::StatusOr<PlanDeltaPage> ChangesAfter(absl::string_view organisation_id,
                                             int64_t after_sequence) override {
    absl::StatusOr<PlanDeltaPage> page = inner_->ChangesAfter(organisation_id, after_sequence);
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (hold_) {
      ++held_;
      mu_.Await(absl::Condition(+[](bool* hold) { return !*hold; }, &hold_));
      --held_;
    }
    return page;
  }

  absl::StatusOr<Cycle> UpdateCycleState(absl::string_view organisation_id,
                                         absl::string_view cycle_id, CycleState state,
                                         int64_t version) override {
    return inner_->UpdateCycleState(organisation_id, cycle_id, state, version);
  }

  // Calls from now on wait in ChangesAfter until Release().
  void Hold() {
    absl::MutexLock lock(&mu_);
    hold_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    hold_ = false;
  }
  // Blocks until a call is being held.
  void AwaitHeldCall() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](int* held) { return *held > 0; }, &held_));
  }
  int64_t calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  PlanSource* const inner_;
  absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  int held_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
};

class TrackingConcurrencyTest : public TrackingTest {
 protected:
  TrackingConcurrencyTest() {
    objective_ = MakeObjective("Grow online revenue", author_.id);
    revenue_ = MakeMetricKr(objective_.id, "Revenue from 100k to 200k", 100, 200);
    orders_ = MakeMetricKr(objective_.id, "Orders from 0 to 1000", 0, 1000, 2);
    child_ = Align(MakeObjective("Open the EU shop", author_.id).id, objective_.id);
    eu_ = MakeMetricKr(child_.id, "EU revenue from 0 to 50k", 0, 50);
  }

  // A check-in request on `kr` whose time (distinct per n, inside Q1 and
  // before now) and value are functions of n.
  v1::RecordCheckInRequest Numbered(const KeyResult& kr, int n) {
    v1::RecordCheckInRequest request = ValueRequest(kr.id, kr.from + (n % 97));
    *request.mutable_time() = ToProto(now_ - absl::Hours(1) + absl::Seconds(n));
    return request;
  }

  Objective objective_;
  Objective child_;
  KeyResult revenue_;
  KeyResult orders_;
  KeyResult eu_;
};

TEST_F(TrackingConcurrencyTest, ConcurrentCheckInsShareOnePlanCall) {
  HeldPlanSource source(plan_source_.get());
  Tracking tracking(&store_, &source, nullptr, options_);
  v1::RecordCheckInResponse warm_up;
  ASSERT_TRUE(tracking.RecordCheckIn(kOrg, Numbered(revenue_, 0), &warm_up).ok());

  constexpr int kWriters = 6;
  std::vector<v1::RecordCheckInRequest> requests;
  for (int i = 0; i <= kWriters; ++i) requests.push_back(Numbered(orders_, i + 1));
  std::vector<absl::Status> results(requests.size());
  std::vector<v1::RecordCheckInResponse> responses(requests.size());
  const int64_t calls_before = source.calls();
  source.Hold();
  std::vector<std::thread> threads;
  // The first check-in's catch-up is held; the others arrive while it runs,
  // so it cannot serve them and they share the next one.
  threads.emplace_back([&] { results[0] = tracking.RecordCheckIn(kOrg, requests[0], &responses[0]); });
  source.AwaitHeldCall();
  for (int i = 1; i <= kWriters; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = tracking.RecordCheckIn(kOrg, requests[i], &responses[i]); });
  }
  absl::SleepFor(absl::Milliseconds(500));
  source.Release();
  for (std::thread& t : threads) t.join();

  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(results[i].ok()) << i << ": " << results[i];
    EXPECT_FALSE(responses[i].replayed()) << i;
  }
  EXPECT_EQ(source.calls() - calls_before, 2)
      << "one catch-up for the first check-in, one shared by the " << kWriters << " others";
}

TEST_F(TrackingConcurrencyTest, ArchiveAcknowledgedBeforeTheCheckInIsSeenDespiteARunningCall) {
  HeldPlanSource source(plan_source_.get());
  Tracking tracking(&store_, &source, nullptr, options_);
  v1::RecordCheckInResponse warm_up;
  ASSERT_TRUE(tracking.RecordCheckIn(kOrg, Numbered(revenue_, 0), &warm_up).ok());

  // A check-in on another key result starts a catch-up that reads the feed
  // before the archive and is held there.
  source.Hold();
  const v1::RecordCheckInRequest first = Numbered(orders_, 1);
  absl::Status first_status;
  v1::RecordCheckInResponse first_response;
  std::thread writer([&] { first_status = tracking.RecordCheckIn(kOrg, first, &first_response); });
  source.AwaitHeldCall();

  // Planning acknowledges the archive; then the check-in on it is sent.
  ArchiveKr(revenue_.id);
  const v1::RecordCheckInRequest late = Numbered(revenue_, 2);
  absl::Status late_status;
  v1::RecordCheckInResponse late_response;
  std::thread late_writer(
      [&] { late_status = tracking.RecordCheckIn(kOrg, late, &late_response); });
  absl::SleepFor(absl::Milliseconds(200));
  source.Release();
  writer.join();
  late_writer.join();

  EXPECT_TRUE(first_status.ok()) << first_status;
  EXPECT_TRUE(IsFieldError(late_status, StatusCode::kFailedPrecondition, "key_result_id"))
      << late_status;
  EXPECT_NE(late_status.message().find("archived"), std::string::npos) << late_status;
}

// Every acknowledged check-in of several writers, as model values.
class Acknowledged {
 public:
  void Add(const v1::CheckIn& message) {
    okr::CheckIn check_in;
    absl::Status s = FromProto(message, "check_in", &check_in);
    absl::MutexLock lock(&mu_);
    if (!s.ok()) {
      errors_.push_back(s);
      return;
    }
    check_ins_.push_back(std::move(check_in));
  }
  std::vector<okr::CheckIn> check_ins() {
    absl::MutexLock lock(&mu_);
    return check_ins_;
  }
  std::vector<absl::Status> errors() {
    absl::MutexLock lock(&mu_);
    return errors_;
  }

 private:
  absl::Mutex mu_;
  std::vector<okr::CheckIn> check_ins_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> errors_ ABSL_GUARDED_BY(mu_);
};

TEST_F(TrackingConcurrencyTest, ConcurrentCheckInsEndInTheFullRecompute) {
  ASSERT_TRUE(EnableCache());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 30;
  const KeyResult* krs[] = {&revenue_, &orders_, &eu_};
  std::vector<std::vector<v1::RecordCheckInRequest>> requests(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const int n = t * kPerThread + i + 1;
      requests[t].push_back(Numbered(*krs[n % 3], n));
    }
  }
  Acknowledged acknowledged;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (const v1::RecordCheckInRequest& request : requests[t]) {
        v1::RecordCheckInResponse response;
        if (!tracking_->RecordCheckIn(kOrg, request, &response).ok()) {
          ++failures;
          continue;
        }
        acknowledged.Add(response.check_in());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_TRUE(acknowledged.errors().empty());
  ASSERT_EQ(acknowledged.check_ins().size(), static_cast<size_t>(kThreads * kPerThread));

  absl::StatusOr<ScoreGraph> want = Recompute(acknowledged.check_ins());
  ASSERT_TRUE(want.ok()) << want.status();
  for (const Objective* o : {&objective_, &child_}) {
    EXPECT_DOUBLE_EQ(ObjScore(o->id).score(), *want->ScoreOf(o->id)) << o->title;
  }
  for (const KeyResult* kr : krs) {
    EXPECT_DOUBLE_EQ(KrScore(kr->id).progress(), *want->ProgressOf(kr->id)) << kr->title;
    EXPECT_EQ(KrScore(kr->id).check_in_count(), kPerThread * kThreads / 3) << kr->title;
  }
  // A restarted replica (memory empty, Redis kept) serves the same.
  Restart();
  EXPECT_DOUBLE_EQ(ObjScore(objective_.id).score(), *want->ScoreOf(objective_.id));
}

TEST_F(TrackingConcurrencyTest, ACycleClosedDuringCheckInsFreezesEveryAcknowledgedOne) {
  Acknowledged acknowledged;
  std::atomic<bool> closed{false};
  std::atomic<int> refused{0};
  std::atomic<int> unexpected{0};
  constexpr int kThreads = 3;
  constexpr int kPerThread = 1000;
  // Each writer stops this many attempts after seeing the cycle closed.
  constexpr int kAfterClose = 3;
  const KeyResult* krs[] = {&revenue_, &orders_, &eu_};
  std::vector<std::vector<v1::RecordCheckInRequest>> requests(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const int n = t * kPerThread + i + 1;
      requests[t].push_back(Numbered(*krs[t], n));
    }
  }
  std::atomic<int> sent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int after = 0;
      for (const v1::RecordCheckInRequest& request : requests[t]) {
        const bool after_close = closed.load();
        if (after_close && ++after > kAfterClose) break;
        ++sent;
        v1::RecordCheckInResponse response;
        absl::Status s = tracking_->RecordCheckIn(kOrg, request, &response);
        if (s.ok()) {
          if (after_close) ++unexpected;  // sent after CloseCycle returned
          acknowledged.Add(response.check_in());
        } else if (s.code() == StatusCode::kFailedPrecondition) {
          ++refused;
        } else {
          ++unexpected;
        }
      }
    });
  }
  // Close while the writers run, once some check-ins are in.
  while (acknowledged.check_ins().size() < 10) absl::SleepFor(absl::Milliseconds(1));
  v1::CloseCycleRequest close;
  close.set_cycle_id(q1_.id);
  close.set_force(true);
  v1::CloseCycleResponse closed_response;
  const absl::Status close_status = tracking_->CloseCycle(kOrg, close, &closed_response);
  closed = true;
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(close_status.ok()) << close_status;
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_GT(refused.load(), 0) << "the writers should have seen the cycle closed";
  EXPECT_EQ(static_cast<int>(acknowledged.check_ins().size()) + refused.load(), sent.load());

  // The frozen scores hold exactly the acknowledged check-ins.
  absl::StatusOr<ScoreGraph> want = Recompute(acknowledged.check_ins());
  ASSERT_TRUE(want.ok()) << want.status();
  const v1::ObjectiveScore frozen = ObjScore(objective_.id);
  EXPECT_TRUE(frozen.frozen());
  EXPECT_DOUBLE_EQ(frozen.score(), *want->ScoreOf(objective_.id));
  for (const KeyResult* kr : krs) {
    const v1::KeyResultScore score = KrScore(kr->id);
    EXPECT_TRUE(score.frozen()) << kr->title;
    EXPECT_DOUBLE_EQ(score.progress(), *want->ProgressOf(kr->id)) << kr->title;
  }
}

}  // namespace
}  // namespace okr::tracking
