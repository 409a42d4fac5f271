// Pathological plans and requests through tracking's real code paths: the
// use-cases over the in-process planning (plans built by planning's CSV
// import, as in production) and the in-memory tracking store, with the Redis
// rollup cache on a real redis-server where the cache matters.
//
// A 10,000-deep alignment chain (check-ins on the leaf, the root's score, the
// scored tree, explanations, rebuild, restart, closing the cycle), 10,000
// children of one objective (the weighted rollup, listing pages) and request
// strings over their limits or not text at all. What is shown: no stack
// overflow (every walk is iterative), bounded time (CTest's TIMEOUT), scores
// equal to ones computed independently of tracking, clear errors naming the
// field, and nothing refused stored.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/model_proto.h"
#include "common/validation.h"
#include "services/planning/org_state.h"
#include "tests/services/tracking/tracking_test_util.h"

namespace okr::tracking {
namespace {

using ::absl::StatusCode;

constexpr int kDeep = 10000;

// `n` copies of `unit`.
std::string Repeat(absl::string_view unit, size_t n) {
  std::string out;
  out.reserve(unit.size() * n);
  for (size_t i = 0; i < n; ++i) out.append(unit.data(), unit.size());
  return out;
}

constexpr char kCsvHeader[] =
    "cycle,objective_ref,objective_title,objective_description,level,kind,state,"
    "progress_source,aligned_to,alignment_weight,kr_ref,kr_title,kr_type,from,to\n";

class TrackingPathologicalTest : public TrackingTest {
 protected:
  // Imports `csv` through planning's use-case and returns the objective ids
  // in file order, or fails the test.
  std::vector<Id> Import(const std::string& csv) {
    absl::StatusOr<planning::ImportResult> result =
        planning_->ImportPlanCsv(kOrg, csv, "", /*dry_run=*/false, planning::RequestKey{});
    if (!result.ok()) {
      ADD_FAILURE() << result.status().ToString().substr(0, 2000);
      return {};
    }
    return result->objective_ids;
  }

  // A chain of `n` objectives in Q1, O<i> aligned to O<i-1> and scored from
  // its child; the leaf has one metric KR from `from` to `to`.
  std::string ChainCsv(int n, double from, double to) {
    std::string csv = kCsvHeader;
    for (int i = 0; i < n; ++i) {
      const bool leaf = i == n - 1;
      absl::StrAppend(&csv, q1_.name, ",O", i, ",Chain objective ", i,
                      ",,COMPANY,COMMITTED,PUBLISHED,", leaf ? "KEY_RESULTS" : "CHILDREN", ",",
                      i == 0 ? "" : absl::StrCat("O", i - 1), ",,",
                      leaf ? absl::StrCat("K,Reach the target,METRIC,", from, ",", to) : ",,,,",
                      "\n");
    }
    return csv;
  }

  // Objective id -> the ids of its key results, from planning's state.
  absl::flat_hash_map<Id, std::vector<Id>> KeyResultsByObjective() {
    absl::flat_hash_map<Id, std::vector<Id>> out;
    absl::Status status = planning_->Read(kOrg, [&](const planning::OrgState& state) {
      for (const auto& [id, kr] : state.key_results()) out[kr.objective_id].push_back(id);
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  // A check-in of `value` on `kr_id` at `time`, recorded or the test fails;
  // returned in the model's form for Recompute.
  okr::CheckIn CheckInAt(const Id& kr_id, double value, absl::Time time,
                         v1::RecordCheckInResponse* out = nullptr) {
    v1::RecordCheckInRequest request = ValueRequest(kr_id, value);
    *request.mutable_time() = ToProto(time);
    v1::RecordCheckInResponse response = CheckIn(request);
    okr::CheckIn model;
    absl::Status status = FromProto(response.check_in(), "check_in", &model);
    EXPECT_TRUE(status.ok()) << status;
    if (out != nullptr) *out = response;
    return model;
  }

  absl::StatusOr<v1::ScoredTree> ScoredTree(const Id& cycle_id, const Id& root_id = "") {
    v1::GetScoredTreeRequest request;
    request.set_cycle_id(cycle_id);
    request.set_root_objective_id(root_id);
    v1::ScoredTree tree;
    absl::Status status = tracking_->GetScoredTree(kOrg, request, &tree);
    if (!status.ok()) return status;
    return tree;
  }

  absl::StatusOr<v1::ScoreExplanation> ExplainObjective(const Id& objective_id) {
    v1::ExplainScoreRequest request;
    request.set_objective_id(objective_id);
    v1::ScoreExplanation explanation;
    absl::Status status = tracking_->ExplainScore(kOrg, request, &explanation);
    if (!status.ok()) return status;
    return explanation;
  }
};

// --- A 10,000-deep chain -----------------------------------------------------------

TEST_F(TrackingPathologicalTest, DeepChainScoresTreeExplainRebuildRestartAndClose) {
  ASSERT_TRUE(EnableCache());
  constexpr double kFrom = 20;
  constexpr double kTo = 120;
  const std::vector<Id> ids = Import(ChainCsv(kDeep, kFrom, kTo));
  ASSERT_EQ(ids.size(), static_cast<size_t>(kDeep));
  const Id root = ids.front();
  const Id leaf = ids.back();
  const std::vector<Id> leaf_krs = KeyResultsByObjective()[leaf];
  ASSERT_EQ(leaf_krs.size(), 1u);
  const Id kr = leaf_krs[0];

  // Three check-ins; the middle one in time is recorded last and must not win.
  std::vector<okr::CheckIn> check_ins;
  v1::RecordCheckInResponse first;
  check_ins.push_back(CheckInAt(kr, 57, now_ - absl::Hours(3), &first));
  // The response carries the leaf's objective and every ancestor, nearest
  // first: all 10,000 of them.
  ASSERT_EQ(first.objective_scores_size(), kDeep);
  EXPECT_EQ(first.objective_scores(0).objective_id(), leaf);
  EXPECT_EQ(first.objective_scores(kDeep - 1).objective_id(), root);
  EXPECT_DOUBLE_EQ(first.objective_scores(kDeep - 1).score(), (57 - kFrom) / (kTo - kFrom));
  check_ins.push_back(CheckInAt(kr, 104, now_ - absl::Hours(1)));
  check_ins.push_back(CheckInAt(kr, 31, now_ - absl::Hours(2)));

  // Independently: the KR's progress from its latest value, and the model
  // library's full recompute over planning's plan.
  const double progress = (104 - kFrom) / (kTo - kFrom);
  absl::StatusOr<ScoreGraph> want = Recompute(check_ins);
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_TRUE(want->ScoreOf(root).ok());
  EXPECT_NEAR(*want->ScoreOf(root), progress, 1e-12);
  EXPECT_DOUBLE_EQ(KrScore(kr).progress(), progress);
  EXPECT_EQ(KrScore(kr).check_in_count(), 3);
  for (int i : {0, 1, kDeep / 2, kDeep - 2, kDeep - 1}) {
    EXPECT_DOUBLE_EQ(ObjScore(ids[i]).score(), *want->ScoreOf(ids[i])) << "depth " << i;
  }

  // The scored tree of the cycle: every objective, parents before children.
  {
    absl::StatusOr<v1::ScoredTree> tree = ScoredTree(q1_.id);
    ASSERT_TRUE(tree.ok()) << tree.status();
    ASSERT_EQ(tree->tree().objectives_size(), kDeep);
    for (int i = 0; i < kDeep; ++i) {
      ASSERT_EQ(tree->tree().objectives(i).id(), ids[i]) << "position " << i;
    }
    ASSERT_EQ(tree->tree().root_objective_ids_size(), 1);
    EXPECT_EQ(tree->tree().root_objective_ids(0), root);
    EXPECT_EQ(tree->tree().links_size(), kDeep - 1);
    ASSERT_EQ(tree->objective_scores_size(), kDeep);
    for (const v1::ObjectiveScore& s : tree->objective_scores()) {
      ASSERT_DOUBLE_EQ(s.score(), progress) << s.objective_id();
    }
    // A subtree near the bottom.
    absl::StatusOr<v1::ScoredTree> sub = ScoredTree(q1_.id, ids[kDeep - 5]);
    ASSERT_TRUE(sub.ok()) << sub.status();
    EXPECT_EQ(sub->tree().objectives_size(), 5);
  }

  // Explanations: the root has its one child as input, the KR its check-in.
  {
    absl::StatusOr<v1::ScoreExplanation> e = ExplainObjective(root);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_DOUBLE_EQ(e->score(), progress);
    ASSERT_EQ(e->inputs_size(), 1);
    EXPECT_EQ(e->inputs(0).source().id(), ids[1]);
    v1::ExplainScoreRequest request;
    request.set_key_result_id(kr);
    v1::ScoreExplanation kr_explanation;
    ASSERT_TRUE(tracking_->ExplainScore(kOrg, request, &kr_explanation).ok());
    EXPECT_DOUBLE_EQ(kr_explanation.score(), progress);
  }

  // Rebuild, then a restart with the cache kept, then one with it emptied.
  v1::RebuildRollupsRequest rebuild;
  rebuild.set_cycle_id(q1_.id);
  v1::RebuildRollupsResponse rebuilt;
  ASSERT_TRUE(tracking_->RebuildRollups(kOrg, rebuild, &rebuilt).ok());
  EXPECT_EQ(rebuilt.objectives_rebuilt(), kDeep);
  EXPECT_EQ(rebuilt.key_results_rebuilt(), 1);
  EXPECT_DOUBLE_EQ(ObjScore(root).score(), progress);
  Restart();
  EXPECT_DOUBLE_EQ(ObjScore(root).score(), progress);
  ASSERT_TRUE(cache_->Clear(kOrg).ok());
  Restart();
  EXPECT_DOUBLE_EQ(ObjScore(root).score(), progress);

  // One more check-in after the restart reaches the root through the cache.
  check_ins.push_back(CheckInAt(kr, 45, now_));
  const double last = (45 - kFrom) / (kTo - kFrom);
  want = Recompute(check_ins);
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_NEAR(*want->ScoreOf(root), last, 1e-12);
  Restart();
  EXPECT_DOUBLE_EQ(ObjScore(root).score(), *want->ScoreOf(root));

  // Closing the cycle freezes the whole chain at those scores.
  v1::CloseCycleRequest close;
  close.set_cycle_id(q1_.id);
  close.set_force(true);
  v1::CloseCycleResponse closed;
  ASSERT_TRUE(tracking_->CloseCycle(kOrg, close, &closed).ok());
  EXPECT_EQ(closed.objectives_frozen(), kDeep);
  EXPECT_EQ(closed.key_results_frozen(), 1);
  const v1::ObjectiveScore frozen = ObjScore(root);
  EXPECT_TRUE(frozen.frozen());
  EXPECT_DOUBLE_EQ(frozen.score(), last);
  EXPECT_EQ(TryCheckIn(ValueRequest(kr, 120)).code(), StatusCode::kFailedPrecondition);
  Restart();
  EXPECT_DOUBLE_EQ(ObjScore(root).score(), last);
  absl::StatusOr<v1::ScoredTree> tree = ScoredTree(q1_.id);
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_TRUE(tree->frozen());
  EXPECT_EQ(tree->objective_scores_size(), kDeep);
}

TEST_F(TrackingPathologicalTest, ChainOverTheTreeLimitIsRefusedButScoresStillRollUp) {
  // 10,000 imported + 1 aligned under the leaf by the API: over the tree
  // limit, yet scores roll up through all 10,001 levels.
  const std::vector<Id> ids = Import(ChainCsv(kDeep, 0, 10));
  ASSERT_EQ(ids.size(), static_cast<size_t>(kDeep));
  const Objective extra = MakeObjective("Deeper still", author_.id);
  const KeyResult extra_kr = MakeMetricKr(extra.id, "Ten more", 0, 10);
  Align(extra.id, ids.back());
  const Id leaf_kr = KeyResultsByObjective()[ids.back()].at(0);

  std::vector<okr::CheckIn> check_ins;
  v1::RecordCheckInResponse response;
  check_ins.push_back(CheckInAt(extra_kr.id, 6, now_ - absl::Hours(1), &response));
  EXPECT_EQ(response.objective_scores_size(), kDeep + 1);
  check_ins.push_back(CheckInAt(leaf_kr, 3, now_));
  absl::StatusOr<ScoreGraph> want = Recompute(check_ins);
  ASSERT_TRUE(want.ok()) << want.status();
  // The leaf of the CSV chain is scored from its KR (0.3); its child counts
  // only for a CHILDREN objective, so the root follows the KR.
  EXPECT_NEAR(*want->ScoreOf(ids[0]), 0.3, 1e-12);
  EXPECT_DOUBLE_EQ(ObjScore(ids[0]).score(), *want->ScoreOf(ids[0]));
  EXPECT_DOUBLE_EQ(ObjScore(extra.id).score(), *want->ScoreOf(extra.id));

  absl::StatusOr<v1::ScoredTree> whole = ScoredTree(q1_.id);
  EXPECT_TRUE(IsFieldError(whole.status(), StatusCode::kFailedPrecondition, "cycle_id"));
  absl::StatusOr<v1::ScoredTree> from_root = ScoredTree(q1_.id, ids[0]);
  EXPECT_EQ(from_root.status().code(), StatusCode::kFailedPrecondition);
  absl::StatusOr<v1::ScoredTree> sub = ScoredTree(q1_.id, ids[1]);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->tree().objectives_size(), kDeep);
  EXPECT_EQ(sub->tree().objectives(kDeep - 1).id(), extra.id);
}

// --- 10,000 children of one objective ---------------------------------------------

TEST_F(TrackingPathologicalTest, TenThousandChildrenRollUpToTheWeightedMeanAndPage) {
  ASSERT_TRUE(EnableCache());
  // The parent and 9,999 children by CSV (link weights 1..4, each child with
  // one KR 0 -> 100), the 10,000th by the API with weight 2.5.
  std::string csv = kCsvHeader;
  absl::StrAppend(&csv, q1_.name, ",P,The parent,,COMPANY,COMMITTED,PUBLISHED,CHILDREN,,,,,,,\n");
  std::vector<double> weights;
  for (int i = 0; i < kDeep - 1; ++i) {
    weights.push_back(1 + i % 4);
    absl::StrAppend(&csv, q1_.name, ",C", i, ",Child ", i,
                    ",,COMPANY,COMMITTED,PUBLISHED,KEY_RESULTS,P,", weights.back(), ",K", i,
                    ",Child KR ", i, ",METRIC,0,100\n");
  }
  std::vector<Id> ids = Import(csv);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kDeep));
  const Id parent = ids[0];
  ids.erase(ids.begin());  // the children, in weight order
  const Objective last = MakeObjective("Child by API", author_.id);
  const KeyResult last_kr = MakeMetricKr(last.id, "Child KR by API", 0, 100);
  Align(last.id, parent, 2.5);
  ids.push_back(last.id);
  weights.push_back(2.5);
  absl::flat_hash_map<Id, std::vector<Id>> krs = KeyResultsByObjective();

  // Check-ins on several children, the API one included.
  const std::map<int, double> values = {
      {0, 40}, {17, 100}, {4242, 73}, {kDeep - 2, 12.5}, {kDeep - 1, 90}};
  std::vector<okr::CheckIn> check_ins;
  int n = 0;
  for (const auto& [child, value] : values) {
    ASSERT_EQ(krs[ids[child]].size(), 1u);
    v1::RecordCheckInResponse response;
    check_ins.push_back(
        CheckInAt(krs[ids[child]][0], value, now_ - absl::Minutes(10 - n++), &response));
    ASSERT_EQ(response.objective_scores_size(), 2) << "the child and the parent";
    EXPECT_EQ(response.objective_scores(1).objective_id(), parent);
  }

  // sum(weight x progress) / sum(weight) over all 10,000 children, by hand.
  double weighted = 0;
  double total = 0;
  for (int i = 0; i < kDeep; ++i) {
    const auto it = values.find(i);
    weighted += weights[i] * (it == values.end() ? 0 : it->second / 100);
    total += weights[i];
  }
  const double expected = weighted / total;
  absl::StatusOr<ScoreGraph> want = Recompute(check_ins);
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_NEAR(*want->ScoreOf(parent), expected, 1e-12);
  EXPECT_NEAR(ObjScore(parent).score(), expected, 1e-12);
  EXPECT_DOUBLE_EQ(ObjScore(parent).score(), *want->ScoreOf(parent));
  absl::StatusOr<v1::ScoreExplanation> e = ExplainObjective(parent);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->inputs_size(), kDeep);
  EXPECT_NEAR(e->score(), expected, 1e-12);

  // A weight change of the API child moves the parent the way the formula says.
  const Objective realigned = Align(last.id, parent, 10);
  ASSERT_EQ(realigned.alignment.weight, 10);
  weighted += (10 - 2.5) * 0.9;
  total += 10 - 2.5;
  want = Recompute(check_ins);
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_NEAR(*want->ScoreOf(parent), weighted / total, 1e-12);
  // Reads pick plan changes up once the mirror is plan_refresh_interval old.
  AdvanceClock(options_.plan_refresh_interval + absl::Seconds(1));
  EXPECT_NEAR(ObjScore(parent).score(), weighted / total, 1e-12);
  Restart();
  EXPECT_NEAR(ObjScore(parent).score(), weighted / total, 1e-12);

  // Listing pages: every key result without a check-in since an hour ago is
  // stale, each exactly once, whatever the page size (capped at 1,000).
  absl::flat_hash_set<Id> want_stale;
  for (int i = 0; i < kDeep; ++i) {
    if (!values.contains(i)) want_stale.insert(krs[ids[i]][0]);
  }
  ASSERT_EQ(want_stale.size(), static_cast<size_t>(kDeep) - values.size());
  for (int page_size : {0, 777, 1000, 100000}) {
    SCOPED_TRACE(page_size);
    v1::ListStaleKeyResultsRequest request;
    *request.mutable_since() = ToProto(now_ - absl::Hours(1));
    request.set_cycle_id(q1_.id);
    request.set_page_size(page_size);
    std::vector<Id> listed;
    for (int pages = 0; pages < 200; ++pages) {
      v1::ListStaleKeyResultsResponse response;
      absl::Status status = tracking_->ListStaleKeyResults(kOrg, request, &response);
      ASSERT_TRUE(status.ok()) << status;
      EXPECT_LE(response.stale_key_results_size(), 1000);
      EXPECT_EQ(response.total_size(), static_cast<int>(want_stale.size()));
      for (const v1::StaleKeyResult& s : response.stale_key_results()) {
        listed.push_back(s.key_result_id());
      }
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    EXPECT_EQ(listed.size(), want_stale.size());
    EXPECT_EQ(absl::flat_hash_set<Id>(listed.begin(), listed.end()), want_stale);
  }

  // The parent's tree (10,001 objectives) is over the limit; a child's is not.
  EXPECT_EQ(ScoredTree(q1_.id, parent).status().code(), StatusCode::kFailedPrecondition);
  absl::StatusOr<v1::ScoredTree> child_tree = ScoredTree(q1_.id, ids[17]);
  ASSERT_TRUE(child_tree.ok()) << child_tree.status();
  ASSERT_EQ(child_tree->objective_scores_size(), 1);
  EXPECT_DOUBLE_EQ(child_tree->objective_scores(0).score(), 1.0);
}

// --- Strings of requests -----------------------------------------------------------

struct BadText {
  std::string label;
  std::string text;
};

// Not text, or text with characters no note may hold (newline and tab may).
std::vector<BadText> NotText() {
  return {
      {"lone continuation byte", "Shipped \x80 two"},
      {"0xFF byte", "Shipped \xFF two"},
      {"Latin-1", "Caf\xE9"},
      {"overlong slash", "Shipped \xC0\xAF two"},
      {"surrogate", "Shipped \xED\xA0\x80 two"},
      {"truncated sequence", "Shipped two \xE2\x82"},
      {"past U+10FFFF", "Shipped \xF4\x90\x80\x80 two"},
      {"embedded NUL", std::string("Shipped\0two", 11)},
      {"bell", "Shipped \a two"},
      {"escape sequence", "Shipped \x1B[31mtwo"},
      {"carriage return", "Shipped\rtwo"},
      {"DEL", "Shipped \x7F two"},
      {"C1 control", "Shipped \xC2\x85 two"},
  };
}

class RequestStringsTest : public TrackingPathologicalTest {
 protected:
  RequestStringsTest() {
    objective_ = MakeObjective("Grow online revenue", author_.id);
    kr_ = MakeMetricKr(objective_.id, "Revenue from 0 to 10", 0, 10);
  }

  // How many check-ins the KR has, through ListCheckIns.
  int StoredCheckIns() {
    v1::ListCheckInsRequest request;
    request.set_key_result_id(kr_.id);
    v1::ListCheckInsResponse response;
    absl::Status status = tracking_->ListCheckIns(kOrg, request, &response);
    EXPECT_TRUE(status.ok()) << status;
    return response.total_size();
  }

  Objective objective_;
  KeyResult kr_;
};

TEST_F(RequestStringsTest, CheckInNotesOverTheLimitOrNotTextAreRefusedNamingTheField) {
  std::vector<BadText> bad = NotText();
  bad.push_back({"2,001 code points", Repeat("\xC3\xA9", kMaxNoteLength + 1)});
  bad.push_back({"1 MiB", std::string(1 << 20, 'n')});
  for (const BadText& b : bad) {
    SCOPED_TRACE(b.label);
    v1::RecordCheckInRequest request = ValueRequest(kr_.id, 5);
    request.set_note(b.text);
    const absl::Status status = TryCheckIn(request);
    EXPECT_TRUE(IsFieldError(status, StatusCode::kInvalidArgument, "note"));
    EXPECT_LT(status.message().size(), 4096u);
  }
  EXPECT_EQ(StoredCheckIns(), 0) << "nothing refused was stored";
  EXPECT_EQ(KrScore(kr_.id).check_in_count(), 0);

  // At the limit in code points (6,000 bytes), with newlines and tabs: kept
  // byte for byte.
  const std::string at_limit = Repeat("\xE2\x82\xAC", kMaxNoteLength - 2) + "\n\t";
  v1::RecordCheckInRequest request = ValueRequest(kr_.id, 5);
  request.set_note(at_limit);
  const v1::RecordCheckInResponse recorded = CheckIn(request);
  EXPECT_EQ(recorded.check_in().note(), at_limit);
  Restart();
  v1::ListCheckInsRequest list;
  list.set_key_result_id(kr_.id);
  v1::ListCheckInsResponse listed;
  ASSERT_TRUE(tracking_->ListCheckIns(kOrg, list, &listed).ok());
  ASSERT_EQ(listed.check_ins_size(), 1);
  EXPECT_EQ(listed.check_ins(0).note(), at_limit);
}

TEST_F(RequestStringsTest, OtherCheckInStringsAreRefusedNamingTheField) {
  for (const BadText& b : NotText()) {
    SCOPED_TRACE(b.label);
    v1::RecordCheckInRequest request = ValueRequest(kr_.id, 5);
    request.set_client_key(b.text);
    EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kInvalidArgument, "client_key"));

    request = ValueRequest(kr_.id, 5);
    request.set_author_id(b.text);
    EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kInvalidArgument, "author_id"));

    request = ValueRequest(kr_.id, 5);
    request.set_key_result_id(b.text);
    EXPECT_TRUE(
        IsFieldError(TryCheckIn(request), StatusCode::kInvalidArgument, "key_result_id"));
  }
  for (const std::string& huge : {std::string(65, 'k'), std::string(1 << 20, 'k')}) {
    v1::RecordCheckInRequest request = ValueRequest(kr_.id, 5);
    request.set_client_key(huge);
    EXPECT_TRUE(IsFieldError(TryCheckIn(request), StatusCode::kInvalidArgument, "client_key"));
    if (huge.size() <= kMaxIdLength) continue;  // a well-formed id
    request = ValueRequest(kr_.id, 5);
    request.set_author_id(huge + "x");
    request.set_key_result_id(huge + "y");
    const absl::Status both = TryCheckIn(request);
    EXPECT_TRUE(IsFieldError(both, StatusCode::kInvalidArgument, "author_id"));
    EXPECT_TRUE(IsFieldError(both, StatusCode::kInvalidArgument, "key_result_id"));
    EXPECT_LT(both.message().size(), 4096u) << "the message echoes the 1 MiB id";
  }
  EXPECT_EQ(StoredCheckIns(), 0);

  // A client key of 64 multi-byte-free printable characters still works.
  v1::RecordCheckInRequest ok = ValueRequest(kr_.id, 5);
  ok.set_client_key(std::string(64, '~'));
  EXPECT_TRUE(TryCheckIn(ok).ok());
  EXPECT_EQ(StoredCheckIns(), 1);
}

TEST_F(RequestStringsTest, ReviewTextsAreRefusedNamingTheField) {
  CheckIn(kr_.id, 5);
  auto upsert = [&](const v1::Review& review) {
    v1::UpsertReviewRequest request;
    *request.mutable_review() = review;
    v1::Review out;
    return tracking_->UpsertReview(kOrg, request, &out);
  };
  v1::Review base;
  base.set_objective_id(objective_.id);
  base.set_kind(v1::REVIEW_KIND_END_OF_QUARTER);
  std::vector<BadText> bad = NotText();
  bad.push_back({"8,001 code points", Repeat("\xC3\xA9", 8001)});
  for (const BadText& b : bad) {
    SCOPED_TRACE(b.label);
    v1::Review review = base;
    review.set_learnings(b.text);
    EXPECT_TRUE(IsFieldError(upsert(review), StatusCode::kInvalidArgument, "review.learnings"));
    review = base;
    v1::KeyResultReview* kr_review = review.add_key_results();
    kr_review->set_key_result_id(kr_.id);
    kr_review->set_note(b.label == "8,001 code points" ? Repeat("\xC3\xA9", kMaxNoteLength + 1)
                                                       : b.text);
    EXPECT_TRUE(IsFieldError(upsert(review), StatusCode::kInvalidArgument,
                             "review.key_results[0].note"));
  }
  // Ids of any size or bytes in a review: refused by shape, not echoed.
  for (const std::string& id : {std::string(1 << 20, 'o'), std::string("obj\xFF")}) {
    v1::Review review = base;
    review.set_objective_id(id);
    const absl::Status status = upsert(review);
    EXPECT_TRUE(IsFieldError(status, StatusCode::kInvalidArgument, "review.objective_id"));
    EXPECT_LT(status.message().size(), 4096u);
    review = base;
    review.add_key_results()->set_key_result_id(id);
    EXPECT_TRUE(IsFieldError(upsert(review), StatusCode::kInvalidArgument,
                             "review.key_results[0].key_result_id"));
  }
  v1::GetReviewRequest get;
  get.set_objective_id(objective_.id);
  get.set_kind(v1::REVIEW_KIND_END_OF_QUARTER);
  v1::Review stored;
  EXPECT_EQ(tracking_->GetReview(kOrg, get, &stored).code(), StatusCode::kNotFound)
      << "nothing refused was stored";

  // Multi-line learnings at the limit in code points are kept as sent.
  v1::Review good = base;
  good.set_learnings(Repeat("\xC3\xA9", 7998) + "\n\t");
  ASSERT_TRUE(upsert(good).ok());
  ASSERT_TRUE(tracking_->GetReview(kOrg, get, &stored).ok());
  EXPECT_EQ(stored.learnings(), good.learnings());
}

TEST_F(RequestStringsTest, BadIdsInReadsAreRefusedOrNotFound) {
  for (const std::string& id : {std::string("kr-\xFF"), std::string("kr\0x", 4),
                                std::string(1 << 20, 'a'), std::string("kr 1")}) {
    v1::GetKeyResultScoreRequest kr_request;
    kr_request.set_key_result_id(id);
    v1::KeyResultScore kr_score;
    const absl::Status kr_status = tracking_->GetKeyResultScore(kOrg, kr_request, &kr_score);
    EXPECT_TRUE(kr_status.code() == StatusCode::kInvalidArgument ||
                kr_status.code() == StatusCode::kNotFound)
        << kr_status.code();
    EXPECT_LT(kr_status.message().size(), 4096u);
    v1::GetObjectiveScoreRequest o_request;
    o_request.set_objective_id(id);
    v1::ObjectiveScore o_score;
    const absl::Status o_status = tracking_->GetObjectiveScore(kOrg, o_request, &o_score);
    EXPECT_TRUE(o_status.code() == StatusCode::kInvalidArgument ||
                o_status.code() == StatusCode::kNotFound)
        << o_status.code();
    EXPECT_LT(o_status.message().size(), 4096u);
    v1::ListCheckInsRequest list;
    list.set_key_result_id(id);
    v1::ListCheckInsResponse listed;
    const absl::Status list_status = tracking_->ListCheckIns(kOrg, list, &listed);
    EXPECT_TRUE(list_status.code() == StatusCode::kInvalidArgument ||
                list_status.code() == StatusCode::kNotFound)
        << list_status.code();
    EXPECT_LT(list_status.message().size(), 4096u);
    absl::StatusOr<v1::ScoredTree> tree = ScoredTree(id);
    EXPECT_TRUE(tree.status().code() == StatusCode::kInvalidArgument ||
                tree.status().code() == StatusCode::kNotFound)
        << tree.status().code();
    EXPECT_LT(tree.status().message().size(), 4096u);
  }
  // A page token that is not one of ours.
  v1::ListCheckInsRequest list;
  list.set_key_result_id(kr_.id);
  list.set_page_token("\xFF\x00garbage");
  v1::ListCheckInsResponse listed;
  EXPECT_TRUE(IsFieldError(tracking_->ListCheckIns(kOrg, list, &listed),
                           StatusCode::kInvalidArgument, "page_token"));
}

}  // namespace
}  // namespace okr::tracking
