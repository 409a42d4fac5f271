// Reviews, closing cycles and rebuilding rollups (see tracking.h).
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/model_proto.h"
#include "common/scoring.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "services/tracking/tracking.h"
#include "services/tracking/tracking_internal.h"

namespace okr::tracking {
namespace {

using planning::OrgState;

constexpr size_t kMaxLearningsLength = 8000;
constexpr int kMaxReviewedKeyResults = 100;

void CheckScore(const std::string& field, bool has, double value,
                std::vector<FieldViolation>* v) {
  if (has && !(std::isfinite(value) && value >= 0 && value <= 1)) {
    v->push_back({field, absl::StrCat("must be a number from 0 to 1 (got ", value, ")")});
  }
}

absl::Status ValidateReviewShape(const v1::UpsertReviewRequest& request, ReviewKind* kind) {
  std::vector<FieldViolation> v;
  if (!request.has_review()) return MakeInvalidArgument({{"review", "required"}});
  const v1::Review& r = request.review();
  if (r.objective_id().empty()) {
    v.push_back({"review.objective_id", "required"});
  } else {
    for (FieldViolation& fv :
         FieldViolationsOf(ValidateId("review.objective_id", r.objective_id(), true))) {
      v.push_back(std::move(fv));
    }
  }
  if (!FromProto(static_cast<int>(r.kind()), "review.kind", kind).ok() ||
      *kind == ReviewKind::kUnspecified) {
    v.push_back({"review.kind", "required: REVIEW_KIND_MID_QUARTER or REVIEW_KIND_END_OF_QUARTER"});
  }
  CheckScore("review.final_score", r.has_final_score(), r.final_score(), &v);
  // Code points of valid UTF-8, no control characters but newline and tab.
  for (FieldViolation& fv : FieldViolationsOf(
           ValidateText("review.learnings", r.learnings(), kMaxLearningsLength, true))) {
    v.push_back(std::move(fv));
  }
  if (r.key_results_size() > kMaxReviewedKeyResults) {
    v.push_back({"review.key_results", absl::StrCat("at most ", kMaxReviewedKeyResults)});
  }
  std::vector<std::string> seen;
  for (int i = 0; i < r.key_results_size(); ++i) {
    const v1::KeyResultReview& kr = r.key_results(i);
    const std::string prefix = absl::StrCat("review.key_results[", i, "]");
    if (kr.key_result_id().empty()) {
      v.push_back({prefix + ".key_result_id", "required"});
    } else if (absl::Status s = ValidateId(prefix + ".key_result_id", kr.key_result_id(), true);
               !s.ok()) {
      for (FieldViolation& fv : FieldViolationsOf(s)) v.push_back(std::move(fv));
    } else if (std::find(seen.begin(), seen.end(), kr.key_result_id()) != seen.end()) {
      v.push_back({prefix + ".key_result_id",
                   absl::StrCat("key result '", kr.key_result_id(), "' is listed twice")});
    }
    seen.push_back(kr.key_result_id());
    CheckScore(prefix + ".final_score", kr.has_final_score(), kr.final_score(), &v);
    for (FieldViolation& fv :
         FieldViolationsOf(ValidateText(prefix + ".note", kr.note(), kMaxNoteLength, true))) {
      v.push_back(std::move(fv));
    }
  }
  if (request.version() < 0) {
    v.push_back({"version", "must not be negative: 0 to create, else the version read"});
  }
  return MakeInvalidArgument(v);
}

absl::Status RefuseClosed(const Tracking::Org& org, const Cycle& cycle, absl::string_view field,
                          absl::string_view what) {
  if (cycle.state == CycleState::kPlanning) {
    return MakeFieldStatus(absl::StatusCode::kFailedPrecondition,
                           {{std::string(field), absl::StrCat("cycle '", cycle.id,
                                                              "' is still PLANNING: ", what)}});
  }
  if (cycle.state == CycleState::kClosed || internal::IsFrozen(org, cycle.id)) {
    return MakeFieldStatus(absl::StatusCode::kFailedPrecondition,
                           {{std::string(field),
                             absl::StrCat("cycle '", cycle.id, "' is closed: ", what)}});
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Tracking::UpsertReview(absl::string_view org_id,
                                    const v1::UpsertReviewRequest& request,
                                    v1::Review* response) {
  response->Clear();
  ReviewKind kind = ReviewKind::kUnspecified;
  OKR_RETURN_IF_ERROR(ValidateReviewShape(request, &kind));
  const v1::Review& in = request.review();
  const absl::Time now = options_.clock();

  Org& org = *FindOrCreateOrg(org_id);
  absl::MutexLock lock(&org.mu);
  OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/true));
  const OrgState& plan = org.plan;
  const Objective* objective = plan.FindObjective(in.objective_id());
  if (objective == nullptr) {
    return MakeFieldStatus(absl::StatusCode::kNotFound,
                           {{"review.objective_id",
                             absl::StrCat("no objective '", in.objective_id(), "'")}});
  }
  for (int i = 0; i < in.key_results_size(); ++i) {
    const KeyResult* kr = plan.FindKeyResult(in.key_results(i).key_result_id());
    if (kr == nullptr || kr->objective_id != objective->id) {
      return MakeInvalidArgument(
          {{absl::StrCat("review.key_results[", i, "].key_result_id"),
            absl::StrCat("'", in.key_results(i).key_result_id(),
                         "' is not a key result of objective '", objective->id, "'")}});
    }
  }
  if (!in.author_id().empty() && plan.FindPerson(in.author_id()) == nullptr) {
    return MakeFieldStatus(absl::StatusCode::kNotFound,
                           {{"review.author_id", absl::StrCat("no person '", in.author_id(), "'")}});
  }
  const Cycle* cycle = plan.FindCycle(objective->cycle_id);
  if (cycle == nullptr) {
    return absl::InternalError(absl::StrCat("objective '", objective->id, "' has no cycle"));
  }
  OKR_RETURN_IF_ERROR(RefuseClosed(org, *cycle, "review.objective_id", "reviews are closed"));

  // The review as it will be stored: output fields filled in.
  v1::Review out = in;
  const v1::Review* existing = internal::FindReview(org, objective->id, kind);
  out.set_id(existing != nullptr ? existing->id() : planning::NewResourceId(ResourceKind::kReview));
  out.set_cycle_id(cycle->id);
  *out.mutable_create_time() = existing != nullptr ? existing->create_time() : ToProto(now);
  *out.mutable_update_time() = ToProto(now);
  out.set_version(request.version() + 1);
  OKR_ASSIGN_OR_RETURN(const double computed, org.graph->ScoreOf(objective->id));
  out.set_computed_score(computed);
  double sum = 0;
  double weight = 0;
  bool any_final = false;
  for (v1::KeyResultReview& kr : *out.mutable_key_results()) {
    kr.set_computed_score(org.graph->ProgressOf(kr.key_result_id()).value_or(0));
    any_final |= kr.has_final_score();
  }
  for (const KeyResult* kr : plan.KeyResultsOf(objective->id)) {
    if (kr->archived) continue;
    double p = org.graph->ProgressOf(kr->id).value_or(0);
    for (const v1::KeyResultReview& r : out.key_results()) {
      if (r.key_result_id() == kr->id && r.has_final_score()) p = r.final_score();
    }
    const double w = std::isfinite(kr->weight) && kr->weight > 0 ? kr->weight : 0;
    sum += w * p;
    weight += w;
  }
  const double effective = out.has_final_score()             ? out.final_score()
                           : any_final && weight > 0         ? std::clamp(sum / weight, 0.0, 1.0)
                                                             : computed;
  out.set_grade(ToProto(GradeOf(effective)));

  StoredReview stored;
  stored.objective_id = objective->id;
  stored.kind = kind;
  stored.cycle_id = cycle->id;
  stored.body = out.SerializeAsString();
  OKR_RETURN_IF_ERROR(store_->PutReview(org.id, stored, request.version()).status());
  OKR_RETURN_IF_ERROR(CatchUpStore(org));

  std::vector<ScoreKey> keys = {{ResourceKind::kObjective, objective->id}};
  for (const KeyResult* kr : plan.KeyResultsOf(objective->id)) {
    keys.push_back({ResourceKind::kKeyResult, kr->id});
  }
  WriteCache(org, keys, /*all=*/false);
  *response = std::move(out);
  return absl::OkStatus();
}

absl::Status Tracking::GetReview(absl::string_view org_id, const v1::GetReviewRequest& request,
                                 v1::Review* response) {
  response->Clear();
  ReviewKind kind = ReviewKind::kUnspecified;
  std::vector<FieldViolation> v;
  if (request.objective_id().empty()) v.push_back({"objective_id", "required"});
  if (!FromProto(static_cast<int>(request.kind()), "kind", &kind).ok() ||
      kind == ReviewKind::kUnspecified) {
    v.push_back({"kind", "required: REVIEW_KIND_MID_QUARTER or REVIEW_KIND_END_OF_QUARTER"});
  }
  OKR_RETURN_IF_ERROR(MakeInvalidArgument(v));
  Org& org = *FindOrCreateOrg(org_id);
  absl::MutexLock lock(&org.mu);
  OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/false));
  const v1::Review* review = internal::FindReview(org, request.objective_id(), kind);
  if (review == nullptr) {
    const bool known = org.plan.FindObjective(request.objective_id()) != nullptr;
    return MakeFieldStatus(
        absl::StatusCode::kNotFound,
        {{"objective_id",
          known ? absl::StrCat("objective '", request.objective_id(), "' has no ", Name(kind),
                               " review yet")
                : absl::StrCat("no objective '", request.objective_id(), "'")}});
  }
  *response = *review;
  return absl::OkStatus();
}

absl::Status Tracking::ListReviews(absl::string_view org_id, const v1::ListReviewsRequest& request,
                                   v1::ListReviewsResponse* response) {
  response->Clear();
  ReviewKind kind = ReviewKind::kUnspecified;
  OKR_RETURN_IF_ERROR(FromProto(static_cast<int>(request.kind()), "kind", &kind));
  Org& org = *FindOrCreateOrg(org_id);
  absl::MutexLock lock(&org.mu);
  OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/false));
  std::vector<std::pair<std::string, const v1::Review*>> rows;
  for (const auto& [objective_id, by_kind] : org.reviews) {
    const Objective* objective = org.plan.FindObjective(objective_id);
    if (!request.objective_id().empty() && objective_id != request.objective_id()) continue;
    if (!request.owner_id().empty() &&
        (objective == nullptr || objective->owner_id != request.owner_id())) {
      continue;
    }
    for (const auto& [k, review] : by_kind) {
      if (kind != ReviewKind::kUnspecified && k != static_cast<int>(kind)) continue;
      if (!request.cycle_id().empty() && review.cycle_id() != request.cycle_id()) continue;
      if (request.roll_over_only() && !review.roll_over()) continue;
      rows.push_back({absl::StrCat(objective_id, "\x1f", k), &review});
    }
  }
  std::sort(rows.begin(), rows.end());
  std::vector<std::string> keys;
  keys.reserve(rows.size());
  for (const auto& row : rows) keys.push_back(row.first);
  planning::PageRequest page{request.page_size(), request.page_token(), 50, 500};
  OKR_ASSIGN_OR_RETURN(
      planning::PageSlice slice,
      planning::Paginate(page,
                         absl::StrCat("reviews|", request.cycle_id(), "|", static_cast<int>(kind),
                                      "|", request.objective_id(), "|", request.owner_id(), "|",
                                      request.roll_over_only()),
                         keys));
  for (size_t i = slice.begin; i < slice.end; ++i) *response->add_reviews() = *rows[i].second;
  response->set_next_page_token(slice.next_page_token);
  response->set_total_size(static_cast<int32_t>(rows.size()));
  return absl::OkStatus();
}

absl::Status Tracking::CloseCycle(absl::string_view org_id, const v1::CloseCycleRequest& request,
                                  v1::CloseCycleResponse* response) {
  response->Clear();
  if (request.cycle_id().empty()) return MakeInvalidArgument({{"cycle_id", "required"}});
  const absl::Time now = options_.clock();
  Org& org = *FindOrCreateOrg(org_id);
  // No check-in of this replica is between its store write and memory while
  // the scores are frozen (see Org::write_gate).
  absl::WriterMutexLock gate(&org.write_gate);
  absl::MutexLock lock(&org.mu);
  OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/true));
  const Cycle* cycle = org.plan.FindCycle(request.cycle_id());
  if (cycle == nullptr) {
    return MakeFieldStatus(absl::StatusCode::kNotFound,
                           {{"cycle_id", absl::StrCat("no cycle '", request.cycle_id(), "'")}});
  }
  if (cycle->state == CycleState::kPlanning) {
    return MakeFieldStatus(absl::StatusCode::kFailedPrecondition,
                           {{"cycle_id", absl::StrCat("cycle '", cycle->id,
                                                      "' is still PLANNING: nothing to close")}});
  }
  const internal::CycleInstants at = internal::InstantsOf(org, *cycle, options_.default_grace_days);
  *response->mutable_grace_end_time() = ToProto(at.grace_end);

  if (!internal::IsFrozen(org, cycle->id)) {
    if (!request.force() && cycle->state != CycleState::kClosed && now < at.grace_end) {
      return MakeFieldStatus(
          absl::StatusCode::kFailedPrecondition,
          {{"cycle_id",
            absl::StrCat("cycle '", cycle->id, "' still accepts late check-ins until ",
                         absl::FormatTime(absl::RFC3339_sec, at.grace_end, org.zone),
                         " (its grace period); close it then, or pass force")}});
    }
    // Freeze what the store holds, other replicas' check-ins included.
    OKR_RETURN_IF_ERROR(CatchUpStore(org));
    FrozenCycle frozen;
    frozen.cycle_id = cycle->id;
    frozen.freeze_time = now;
    for (const auto& [id, objective] : org.plan.objectives()) {
      if (objective.cycle_id != cycle->id) continue;
      OKR_ASSIGN_OR_RETURN(v1::ObjectiveScore score, internal::ObjectiveScoreOf(org, id, now));
      score.set_frozen(true);
      frozen.scores.push_back({ResourceKind::kObjective, id, score.SerializeAsString()});
      for (const KeyResult* kr : org.plan.KeyResultsOf(id)) {
        OKR_ASSIGN_OR_RETURN(v1::KeyResultScore kr_score, internal::KeyResultScoreOf(org, kr->id));
        kr_score.set_frozen(true);
        frozen.scores.push_back({ResourceKind::kKeyResult, kr->id, kr_score.SerializeAsString()});
      }
    }
    OKR_RETURN_IF_ERROR(store_->FreezeCycle(org.id, frozen).status());
    OKR_RETURN_IF_ERROR(CatchUpStore(org));
  }

  // Then planning: ACTIVE -> REVIEW -> CLOSED. A retry after a failure here
  // finds the scores frozen and finishes the moves.
  for (int attempt = 0; attempt < 4; ++attempt) {
    const Cycle* current = org.plan.FindCycle(request.cycle_id());
    if (current == nullptr || current->state == CycleState::kClosed) break;
    const CycleState next =
        current->state == CycleState::kActive ? CycleState::kReview : CycleState::kClosed;
    absl::StatusOr<Cycle> moved =
        plan_->UpdateCycleState(org.id, current->id, next, current->version);
    if (!moved.ok() && moved.status().code() != absl::StatusCode::kAborted) {
      return moved.status();
    }
    OKR_RETURN_IF_ERROR(RefreshPlan(org));
  }
  const Cycle* closed = org.plan.FindCycle(request.cycle_id());
  if (closed == nullptr || closed->state != CycleState::kClosed) {
    return absl::AbortedError(absl::StrCat("cycle '", request.cycle_id(),
                                           "' kept changing in planning while closing; retry"));
  }
  *response->mutable_cycle() = ToProto(*closed);
  auto it = org.frozen.cycles.find(closed->id);
  if (it != org.frozen.cycles.end()) {
    for (const FrozenScore& score : it->second.scores) {
      if (score.kind == ResourceKind::kObjective) {
        response->set_objectives_frozen(response->objectives_frozen() + 1);
      } else {
        response->set_key_results_frozen(response->key_results_frozen() + 1);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Tracking::RebuildRollups(absl::string_view org_id,
                                      const v1::RebuildRollupsRequest& request,
                                      v1::RebuildRollupsResponse* response) {
  response->Clear();
  const absl::Time started = absl::Now();
  Org& org = *FindOrCreateOrg(org_id);
  absl::WriterMutexLock gate(&org.write_gate);
  absl::MutexLock lock(&org.mu);
  OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/false));
  if (!request.cycle_id().empty() && org.plan.FindCycle(request.cycle_id()) == nullptr) {
    return MakeFieldStatus(absl::StatusCode::kNotFound,
                           {{"cycle_id", absl::StrCat("no cycle '", request.cycle_id(), "'")}});
  }
  OKR_RETURN_IF_ERROR(RefreshPlan(org));
  const absl::Time planned = absl::Now();
  OKR_ASSIGN_OR_RETURN(TrackingSnapshot snapshot, store_->LoadOrganisation(org.id));
  const absl::Time loaded = absl::Now();
  const absl::Time now = options_.clock();
  OKR_RETURN_IF_ERROR(internal::ApplySnapshot(org, snapshot));
  const absl::Time applied = absl::Now();
  OKR_RETURN_IF_ERROR(internal::RebuildGraph(org, now));
  const absl::Time scored = absl::Now();
  internal::ResetStamps(org, now);
  org.store_refreshed = now;

  std::vector<ScoreKey> keys;
  for (const auto& [id, objective] : org.plan.objectives()) {
    const Cycle* cycle = org.plan.FindCycle(objective.cycle_id);
    if (cycle == nullptr) continue;
    if (request.cycle_id().empty() ? (cycle->state == CycleState::kClosed ||
                                      internal::IsFrozen(org, cycle->id))
                                   : cycle->id != request.cycle_id()) {
      continue;
    }
    if (internal::IsFrozen(org, cycle->id)) continue;  // frozen scores never change
    keys.push_back({ResourceKind::kObjective, id});
    response->set_objectives_rebuilt(response->objectives_rebuilt() + 1);
    for (const KeyResult* kr : org.plan.KeyResultsOf(id)) {
      keys.push_back({ResourceKind::kKeyResult, kr->id});
      response->set_key_results_rebuilt(response->key_results_rebuilt() + 1);
    }
  }
  absl::Time cleared = scored;
  if (request.cycle_id().empty() && cache_ != nullptr) {
    // A full rebuild starts from an empty cache, so nothing of a deleted
    // objective or key result lingers.
    if (!cache_->Clear(org.id).ok()) org.cache_dirty = true;
    cleared = absl::Now();
    WriteCache(org, {}, /*all=*/true);
  } else {
    WriteCache(org, keys, /*all=*/false);
  }
  const absl::Time cached = absl::Now();
  internal::ReturnFreedMemory();
  const absl::Duration took = absl::Now() - started;
  // Where a rebuild's time goes, for operators and the benchmark.
  LogInfo("rollups rebuilt",
          {{"organisation", org.id},
           {"objectives", static_cast<int64_t>(response->objectives_rebuilt())},
           {"key_results", static_cast<int64_t>(response->key_results_rebuilt())},
           {"plan_ms", absl::ToInt64Milliseconds(planned - started)},
           {"store_ms", absl::ToInt64Milliseconds(loaded - planned)},
           {"apply_ms", absl::ToInt64Milliseconds(applied - loaded)},
           {"graph_ms", absl::ToInt64Milliseconds(scored - applied)},
           {"clear_ms", absl::ToInt64Milliseconds(cleared - scored)},
           {"cache_ms", absl::ToInt64Milliseconds(cached - cleared)},
           {"total_ms", absl::ToInt64Milliseconds(took)}});
  const int64_t seconds = absl::ToInt64Seconds(took);
  response->mutable_duration()->set_seconds(seconds);
  response->mutable_duration()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(took - absl::Seconds(seconds))));
  return absl::OkStatus();
}

}  // namespace okr::tracking
