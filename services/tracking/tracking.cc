// The tracking core: loading an organisation, following planning and the
// store, check-ins, scores, explanations and stale key results. Reviews,
// closing cycles and rebuilding rollups are in tracking_reviews.cc.
#include "services/tracking/tracking.h"

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "common/calendar.h"
#include "common/log.h"
#include "common/model_proto.h"
#include "common/scoring.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "services/tracking/tracking_internal.h"

namespace okr::tracking {
namespace {

using planning::OrgState;

constexpr size_t kMaxClientKeyLength = 64;
// A check-in's time may run this far ahead of the server's clock (clients'
// clocks drift); anything later is refused.
constexpr absl::Duration kClockSkew = absl::Minutes(5);
// Ancestor chains are walked iteratively, as deep as the plan goes (planning
// accepts any depth): a walk is only bounded by the plan's objective count,
// which a loop (refused by planning; only a corrupt plan has one) exceeds.
constexpr int kChangesPage = 1000;
constexpr int kMaxTreeObjectives = 10000;

bool Later(const KeptCheckIn& a, const KeptCheckIn& b) {
  if (a.check_in.time != b.check_in.time) return a.check_in.time > b.check_in.time;
  return a.sequence > b.sequence;
}

void KeepLater(KeptRef& slot, const KeptRef& kept) {
  if (slot == nullptr || !Later(*slot, *kept)) slot = kept;
}

bool HasValue(const CheckIn& c) { return c.value.has_value() && std::isfinite(*c.value); }
bool HasSignal(const CheckIn& c) {
  return c.confidence.has_value() || c.status != CheckInStatus::kUnspecified;
}

absl::StatusOr<KeptCheckIn> ParseCheckIn(const StoredCheckIn& stored) {
  v1::CheckIn message;
  if (!message.ParseFromString(stored.body)) {
    return absl::InternalError(
        absl::StrCat("stored check-in ", stored.id, " (sequence ", stored.sequence,
                     ") does not parse"));
  }
  KeptCheckIn kept;
  kept.sequence = stored.sequence;
  OKR_RETURN_IF_ERROR(FromProto(message, "check_in", &kept.check_in));
  return kept;
}

// The worse of two owner signals (OFF_TRACK > AT_RISK > ON_TRACK > none).
CheckInStatus Worse(CheckInStatus a, CheckInStatus b) {
  return static_cast<int>(a) >= static_cast<int>(b) ? a : b;
}

double SanitizedWeight(double w) { return std::isfinite(w) && w > 0 ? w : 0; }

// Appends the field violations of `status` (none when OK) to `v`.
void AddViolations(const absl::Status& status, std::vector<FieldViolation>* v) {
  for (FieldViolation& fv : FieldViolationsOf(status)) v->push_back(std::move(fv));
}

absl::Status ValidateCheckInShape(const v1::RecordCheckInRequest& r, absl::Time now) {
  std::vector<FieldViolation> v;
  if (r.key_result_id().empty()) {
    v.push_back({"key_result_id", "required"});
  } else if (absl::Status s = ValidateId("key_result_id", r.key_result_id(), true); !s.ok()) {
    v.push_back({"key_result_id", std::string(s.message())});
  }
  if (r.client_key().empty()) {
    v.push_back({"client_key", "required: a key of 1..64 characters chosen by the client, so "
                               "that a retry does not record the check-in twice"});
  } else if (r.client_key().size() > kMaxClientKeyLength) {
    v.push_back({"client_key", absl::StrCat("at most ", kMaxClientKeyLength, " characters (got ",
                                            r.client_key().size(), ")")});
  } else {
    // Printable UTF-8 only: the key is echoed in responses, errors and logs.
    AddViolations(ValidateText("client_key", r.client_key(), kMaxClientKeyLength, false), &v);
  }
  if (r.author_id().empty()) {
    v.push_back({"author_id", "required: the person checking in"});
  } else {
    AddViolations(ValidateId("author_id", r.author_id(), true), &v);
  }
  switch (r.progress_case()) {
    case v1::RecordCheckInRequest::PROGRESS_NOT_SET:
      v.push_back({"progress", "required: value for a METRIC key result, done for a MILESTONE"});
      break;
    case v1::RecordCheckInRequest::kValue:
      if (!std::isfinite(r.value())) {
        v.push_back({"value", absl::StrCat("must be a finite number (got ", r.value(), ")")});
      }
      break;
    default:
      break;
  }
  if (r.has_confidence() && (r.confidence() < 0 || r.confidence() > kMaxConfidence)) {
    v.push_back({"confidence",
                 absl::StrCat("must be 0..", kMaxConfidence, " (got ", r.confidence(), ")")});
  }
  CheckInStatus status;
  if (!FromProto(static_cast<int>(r.status()), "status", &status).ok()) {
    v.push_back({"status", absl::StrCat("unknown value ", static_cast<int>(r.status()))});
  }
  // Code points of valid UTF-8 without control characters (newline and tab
  // allowed), like every text of the model.
  AddViolations(ValidateText("note", r.note(), kMaxNoteLength, /*multiline=*/true), &v);
  if (r.has_time()) {
    absl::Time t;
    if (absl::Status s = FromProto(r.time(), "time", &t); !s.ok()) {
      v.push_back({"time", std::string(s.message())});
    } else if (t > now + kClockSkew) {
      v.push_back({"time", absl::StrCat("is in the future (", absl::FormatTime(t),
                                        "); a check-in reports what was observed")});
    }
  }
  return MakeInvalidArgument(v);
}

absl::Status FailedPrecondition(absl::string_view field, absl::string_view message) {
  return MakeFieldStatus(absl::StatusCode::kFailedPrecondition,
                         {{std::string(field), std::string(message)}});
}

// The message quotes the id the caller sent, which may be of any size: it is
// cut so that the status still fits a gRPC trailer (8 KiB by default).
absl::Status NotFound(absl::string_view field, absl::string_view message) {
  constexpr size_t kMaxMessage = 512;
  std::string text(message.substr(0, kMaxMessage));
  if (message.size() > kMaxMessage) absl::StrAppend(&text, "... (", message.size(), " bytes)");
  return MakeFieldStatus(absl::StatusCode::kNotFound, {{std::string(field), std::move(text)}});
}

}  // namespace

// --- KeyResultTrack ------------------------------------------------------------

void KeyResultTrack::Merge(KeptCheckIn kept) {
  const KeptRef shared = std::make_shared<const KeptCheckIn>(std::move(kept));
  const CheckIn& c = shared->check_in;
  if (HasValue(c)) KeepLater(value, shared);
  if (c.done.has_value()) KeepLater(done, shared);
  if (HasSignal(c)) KeepLater(signal, shared);
  KeepLater(last, shared);
}

std::vector<const KeptCheckIn*> KeyResultTrack::Distinct() const {
  std::vector<const KeptCheckIn*> out;
  for (const KeptRef* slot : {&value, &done, &signal, &last}) {
    if (*slot != nullptr && std::find(out.begin(), out.end(), slot->get()) == out.end()) {
      out.push_back(slot->get());
    }
  }
  std::sort(out.begin(), out.end(),
            [](const KeptCheckIn* a, const KeptCheckIn* b) { return Later(*b, *a); });
  return out;
}

// --- Shared helpers ------------------------------------------------------------

namespace internal {

ScoreVersion VersionOf(const Tracking::Org& org, const NodeStamp& stamp) {
  return {stamp.tracking_sequence, org.graph_plan_sequence};
}

const v1::Review* FindReview(const Tracking::Org& org, absl::string_view objective_id,
                             ReviewKind kind) {
  auto it = org.reviews.find(objective_id);
  if (it == org.reviews.end()) return nullptr;
  auto found = it->second.find(static_cast<int>(kind));
  return found == it->second.end() ? nullptr : &found->second;
}

CycleInstants InstantsOf(const Tracking::Org& org, const Cycle& cycle, int default_grace_days) {
  const int grace = cycle.check_in_grace_days.value_or(
      org.plan.organisation().check_in_grace_days.value_or(default_grace_days));
  return {StartOfDay(cycle.start, org.zone), StartOfDay(cycle.end, org.zone),
          StartOfDay(cycle.end + std::max(grace, 0), org.zone)};
}

bool IsFrozen(const Tracking::Org& org, absl::string_view cycle_id) {
  return org.frozen.cycles.contains(cycle_id);
}

NodeStamp KeyResultStamp(const Tracking::Org& org, absl::string_view id) {
  auto it = org.kr_stamps.find(id);
  return it == org.kr_stamps.end() ? org.base_stamp : it->second;
}

NodeStamp ObjectiveStamp(const Tracking::Org& org, absl::string_view id) {
  auto it = org.objective_stamps.find(id);
  return it == org.objective_stamps.end() ? org.base_stamp : it->second;
}

void ResetStamps(Tracking::Org& org, absl::Time now) {
  org.kr_stamps.clear();
  org.objective_stamps.clear();
  org.base_stamp = {org.tracking_sequence, now};
}

namespace {

// The final score an END_OF_QUARTER review gives a key result, if any.
std::optional<double> KeyResultFinal(const Tracking::Org& org, const KeyResult& kr) {
  const v1::Review* review = FindReview(org, kr.objective_id, ReviewKind::kEndOfQuarter);
  if (review == nullptr) return std::nullopt;
  for (const v1::KeyResultReview& r : review->key_results()) {
    if (r.key_result_id() == kr.id && r.has_final_score()) return r.final_score();
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<v1::KeyResultScore> KeyResultScoreOf(const Tracking::Org& org,
                                                    absl::string_view id) {
  if (auto it = org.frozen.key_results.find(id); it != org.frozen.key_results.end()) {
    return it->second;
  }
  const KeyResult* kr = org.plan.FindKeyResult(id);
  if (kr == nullptr) return NotFound("key_result_id", absl::StrCat("no key result '", id, "'"));
  OKR_ASSIGN_OR_RETURN(const double progress, org.graph->ProgressOf(id));
  v1::KeyResultScore s;
  s.set_key_result_id(kr->id);
  s.set_objective_id(kr->objective_id);
  s.set_progress(progress);
  const KeyResultTrack* track = nullptr;
  if (auto it = org.tracks.find(id); it != org.tracks.end()) track = &it->second;
  if (kr->type == KeyResultType::kMilestone) {
    s.set_done(track != nullptr && track->done != nullptr && *track->done->check_in.done);
  } else {
    s.set_current_value(track != nullptr && track->value != nullptr ? *track->value->check_in.value
                                                                    : kr->from);
  }
  if (track != nullptr && track->signal != nullptr) {
    const CheckIn& c = track->signal->check_in;
    if (c.confidence.has_value()) s.set_confidence(*c.confidence);
    s.set_status(ToProto(c.status));
  }
  const std::optional<double> final_score = KeyResultFinal(org, *kr);
  if (final_score.has_value()) s.set_final_score(*final_score);
  s.set_grade(ToProto(GradeOf(final_score.value_or(progress))));
  if (track != nullptr) {
    *s.mutable_last_check_in_time() = ToProto(track->last_time());
    s.set_check_in_count(static_cast<int32_t>(track->count));
  }
  s.set_score_version(KeyResultStamp(org, id).tracking_sequence + org.graph_plan_sequence);
  return s;
}

void FillPace(const Tracking::Org& org, const Objective& objective, absl::Time now,
              v1::ObjectiveScore* score) {
  const Cycle* cycle = org.plan.FindCycle(objective.cycle_id);
  if (cycle == nullptr) return;
  CheckInStatus signal = CheckInStatus::kUnspecified;
  for (const KeyResult* kr : org.plan.KeyResultsOf(objective.id)) {
    if (kr->archived) continue;
    auto it = org.tracks.find(kr->id);
    if (it == org.tracks.end() || it->second.signal == nullptr) continue;
    const CheckIn& c = it->second.signal->check_in;
    signal = Worse(signal, OwnerSignal(c.confidence, c.status));
  }
  const CycleInstants at = InstantsOf(org, *cycle, kDefaultCheckInGraceDays);
  const double effective = score->has_final_score() ? score->final_score() : score->score();
  const PaceReport report = EvaluatePace(effective, at.start, at.end, now, signal);
  v1::Pace* pace = score->mutable_pace();
  pace->set_expected(report.expected);
  pace->set_gap(-report.gap);
  pace->set_status(ToProto(report.status));
}

absl::StatusOr<v1::ObjectiveScore> ObjectiveScoreOf(const Tracking::Org& org, absl::string_view id,
                                                    absl::Time now, bool with_pace) {
  if (auto it = org.frozen.objectives.find(id); it != org.frozen.objectives.end()) {
    return it->second;
  }
  const Objective* objective = org.plan.FindObjective(id);
  if (objective == nullptr) {
    return NotFound("objective_id", absl::StrCat("no objective '", id, "'"));
  }
  OKR_ASSIGN_OR_RETURN(const double computed, org.graph->ScoreOf(id));
  v1::ObjectiveScore s;
  s.set_objective_id(objective->id);
  s.set_score(computed);
  if (const v1::Review* review = FindReview(org, id, ReviewKind::kEndOfQuarter)) {
    if (review->has_final_score()) {
      s.set_final_score(review->final_score());
    } else {
      // Unset in the review: the key results' final-or-computed scores,
      // weighted as in the rollup.
      double sum = 0;
      double weight = 0;
      for (const KeyResult* kr : org.plan.KeyResultsOf(id)) {
        if (kr->archived) continue;
        const double w = SanitizedWeight(kr->weight);
        const double p = KeyResultFinal(org, *kr).value_or(org.graph->ProgressOf(kr->id).value_or(0));
        sum += w * p;
        weight += w;
      }
      s.set_final_score(weight > 0 ? std::clamp(sum / weight, 0.0, 1.0) : computed);
    }
  }
  const double effective = s.has_final_score() ? s.final_score() : computed;
  s.set_grade(ToProto(GradeOf(effective)));
  s.set_success(IsSuccess(objective->kind, effective));
  if (with_pace) FillPace(org, *objective, now, &s);
  const NodeStamp stamp = ObjectiveStamp(org, id);
  s.set_score_version(stamp.tracking_sequence + org.graph_plan_sequence);
  *s.mutable_compute_time() = ToProto(std::max(stamp.time, org.graph_time));
  return s;
}

absl::Status ApplySnapshot(Tracking::Org& org, const TrackingSnapshot& snapshot) {
  org.tracks.clear();
  org.reviews.clear();
  org.frozen = {};
  for (const KeyResultHistory& history : snapshot.key_results) {
    KeyResultTrack& track = org.tracks[history.key_result_id];
    track.count = history.check_in_count;
    for (const StoredCheckIn& stored : history.latest) {
      OKR_ASSIGN_OR_RETURN(KeptCheckIn kept, ParseCheckIn(stored));
      track.Merge(std::move(kept));
    }
  }
  for (const StoredReview& stored : snapshot.reviews) {
    v1::Review review;
    if (!review.ParseFromString(stored.body)) {
      return absl::InternalError(
          absl::StrCat("stored review of objective ", stored.objective_id, " does not parse"));
    }
    org.reviews[stored.objective_id][static_cast<int>(stored.kind)] = std::move(review);
  }
  for (const FrozenCycle& cycle : snapshot.frozen_cycles) {
    for (const FrozenScore& score : cycle.scores) {
      if (score.kind == ResourceKind::kKeyResult) {
        if (!org.frozen.key_results[score.id].ParseFromString(score.body)) {
          return absl::InternalError(absl::StrCat("frozen score of ", score.id, " does not parse"));
        }
      } else if (!org.frozen.objectives[score.id].ParseFromString(score.body)) {
        return absl::InternalError(absl::StrCat("frozen score of ", score.id, " does not parse"));
      }
    }
    org.frozen.cycles[cycle.cycle_id] = cycle;
  }
  org.tracking_sequence = snapshot.latest_sequence;
  return absl::OkStatus();
}

absl::Status RebuildGraph(Tracking::Org& org, absl::Time now) {
  // Pointers into the plan mirror and the tracks, not copies: at 100,000
  // objectives copies were half the rebuild's time and 190 MB at its peak.
  std::vector<const Objective*> objectives;
  objectives.reserve(org.plan.objectives().size());
  for (const auto& [id, objective] : org.plan.objectives()) objectives.push_back(&objective);
  std::vector<const KeyResult*> key_results;
  key_results.reserve(org.plan.key_results().size());
  for (const auto& [id, kr] : org.plan.key_results()) key_results.push_back(&kr);
  std::vector<const CheckIn*> check_ins;
  check_ins.reserve(org.tracks.size());
  for (const auto& [id, track] : org.tracks) {
    for (const KeptCheckIn* kept : track.Distinct()) check_ins.push_back(&kept->check_in);
  }
  absl::StatusOr<ScoreGraph> graph = ScoreGraph::Build(objectives, key_results, check_ins);
  if (!graph.ok()) {
    return absl::InternalError(absl::StrCat("cannot score the plan of organisation '", org.id,
                                            "' at sequence ", org.plan.sequence(), ": ",
                                            graph.status().message()));
  }
  org.graph.emplace(*std::move(graph));
  org.graph_plan_sequence = org.plan.sequence();
  org.graph_time = now;
  return absl::OkStatus();
}

void ReturnFreedMemory() {
#ifdef __GLIBC__
  // A load or rebuild frees hundreds of MB of temporaries (the store
  // snapshot, the previous graph) that glibc would keep in its arenas.
  malloc_trim(0);
#endif
}

}  // namespace internal

using internal::FindReview;
using internal::InstantsOf;
using internal::IsFrozen;
using internal::KeyResultScoreOf;
using internal::ObjectiveScoreOf;
using internal::VersionOf;

// --- Construction, loading, refresh ----------------------------------------------

Tracking::Tracking(TrackingStore* store, PlanSource* plan, RollupCache* cache,
                   TrackingOptions options)
    : store_(store), plan_(plan), cache_(cache), options_(std::move(options)) {}

Tracking::~Tracking() = default;

Tracking::Org* Tracking::FindOrCreateOrg(absl::string_view org) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Org>& slot = orgs_[org];
  if (slot == nullptr) slot = std::make_unique<Org>(std::string(org));
  return slot.get();
}

void Tracking::NotePlanReachable(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  const bool reachable = status.ok() || status.code() != absl::StatusCode::kUnavailable;
  if (reachable != plan_reachable_) {
    if (reachable) {
      LogInfo("planning reachable again", {});
    } else {
      LogWarn("planning unreachable: serving from the plan mirror",
                 {{"error", status}});
    }
  }
  plan_reachable_ = reachable;
  plan_error_ = reachable ? "" : std::string(status.message());
}

absl::Status Tracking::RefreshPlan(Org& org) {
  // Single flight: a call already running may have read the feed before the
  // caller asked, so only a call numbered after it will do. Whoever finds no
  // call running starts the next one; everyone who asked before it started
  // shares its outcome.
  const int64_t wanted = org.plan_calls_started + 1;
  while (org.plan_calls_finished < wanted) {
    if (org.plan_call_running) {
      org.plan_call_done.Wait(&org.mu);
      continue;
    }
    org.plan_call_running = true;
    const int64_t number = ++org.plan_calls_started;
    const int64_t after = org.plan.sequence();
    const absl::Time started = options_.clock();
    // Readers and the store side of writes go on during the RPC.
    org.mu.Unlock();
    FetchedPlanChanges fetched = FetchPlanChanges(*plan_, org.id, after);
    org.mu.Lock();
    PlanCatchUp caught_up;
    // Moved in and freed page by page: a cold catch-up at 100,000 objectives
    // is 620,000 changes, which copied would double the mirror's peak.
    for (PlanDeltaPage& page : fetched.pages) {
      ApplyPlanPage(std::move(page), org.plan, &caught_up);
      page = PlanDeltaPage();
    }
    absl::Status status = fetched.status;
    NotePlanReachable(status);
    if (status.ok()) {
      org.plan_refreshed = std::max(org.plan_refreshed, started);
      if (caught_up.organisation_changed) {
        absl::StatusOr<absl::TimeZone> zone = LoadZone(org.plan.organisation().time_zone);
        org.zone = zone.ok() ? *zone : absl::UTCTimeZone();
      }
    }
    // Pages applied before a failure stay applied, so the scores follow them.
    if (caught_up.objectives_changed && org.loaded) {
      absl::Status rebuilt = internal::RebuildGraph(org, options_.clock());
      if (status.ok()) status = rebuilt;
    }
    org.plan_call_status = status;
    org.plan_calls_finished = number;
    org.plan_call_running = false;
    org.plan_call_done.SignalAll();
  }
  return org.plan_call_status;
}

absl::Status Tracking::CatchUpStore(Org& org) {
  for (;;) {
    OKR_ASSIGN_OR_RETURN(TrackingChanges changes,
                         store_->ChangesAfter(org.id, org.tracking_sequence, kChangesPage));
    const absl::Time now = options_.clock();
    for (const StoredCheckIn& stored : changes.check_ins) {
      if (stored.sequence <= org.tracking_sequence) continue;
      OKR_ASSIGN_OR_RETURN(KeptCheckIn kept, ParseCheckIn(stored));
      KeyResultTrack& track = org.tracks[kept.check_in.key_result_id];
      ++track.count;
      track.Merge(kept);
      const NodeStamp stamp{stored.sequence, now};
      org.kr_stamps[kept.check_in.key_result_id] = stamp;
      absl::StatusOr<ScoreUpdate> update = org.graph->ApplyCheckIn(kept.check_in);
      if (update.ok()) {
        for (const Id& id : update->key_results) org.kr_stamps[id] = stamp;
        for (const Id& id : update->objectives) org.objective_stamps[id] = stamp;
      }
    }
    for (const StoredReview& stored : changes.reviews) {
      v1::Review review;
      if (!review.ParseFromString(stored.body)) {
        return absl::InternalError(
            absl::StrCat("stored review of objective ", stored.objective_id, " does not parse"));
      }
      // A review changes the final scores of its objective and key results.
      const NodeStamp stamp{stored.sequence, now};
      org.objective_stamps[stored.objective_id] = stamp;
      for (const KeyResult* kr : org.plan.KeyResultsOf(stored.objective_id)) {
        org.kr_stamps[kr->id] = stamp;
      }
      org.reviews[stored.objective_id][static_cast<int>(stored.kind)] = std::move(review);
    }
    for (const FrozenCycle& cycle : changes.frozen_cycles) {
      for (const FrozenScore& score : cycle.scores) {
        const bool parsed = score.kind == ResourceKind::kKeyResult
                                ? org.frozen.key_results[score.id].ParseFromString(score.body)
                                : org.frozen.objectives[score.id].ParseFromString(score.body);
        if (!parsed) {
          return absl::InternalError(absl::StrCat("frozen score of ", score.id, " does not parse"));
        }
      }
      org.frozen.cycles[cycle.cycle_id] = cycle;
    }
    org.tracking_sequence = std::max(org.tracking_sequence, changes.latest_sequence);
    org.store_refreshed = now;
    const bool empty =
        changes.check_ins.empty() && changes.reviews.empty() && changes.frozen_cycles.empty();
    if (empty || org.tracking_sequence >= changes.latest_sequence) break;
  }
  return absl::OkStatus();
}

absl::Status Tracking::Prepare(Org& org, bool for_write) {
  const absl::Time now = options_.clock();
  if (!org.loaded) {
    if (absl::Status s = RefreshPlan(org); !s.ok()) {
      if (s.code() == absl::StatusCode::kUnavailable) {
        return absl::UnavailableError(absl::StrCat(
            "cannot load organisation '", org.id, "': ", s.message(), " (retry with backoff)"));
      }
      return s;
    }
    // Loaded by another caller while the plan call ran (org.mu is released
    // during it); the plan is current either way.
    if (org.loaded) return absl::OkStatus();
    if (!org.plan.exists()) {
      return absl::NotFoundError(absl::StrCat("organisation '", org.id,
                                              "' is not known to planning (bootstrap it first)"));
    }
    OKR_ASSIGN_OR_RETURN(TrackingSnapshot snapshot, store_->LoadOrganisation(org.id));
    OKR_RETURN_IF_ERROR(internal::ApplySnapshot(org, snapshot));
    OKR_RETURN_IF_ERROR(internal::RebuildGraph(org, now));
    internal::ResetStamps(org, now);
    org.store_refreshed = now;
    org.loaded = true;
    internal::ReturnFreedMemory();
    return absl::OkStatus();
  }
  const bool want_plan = for_write || now - org.plan_refreshed >= options_.plan_refresh_interval;
  if (want_plan && now >= org.plan_retry_after) {
    if (absl::Status s = RefreshPlan(org); !s.ok()) {
      if (s.code() != absl::StatusCode::kUnavailable) return s;
      // Go on with the mirror; ask planning again after an interval, so an
      // outage costs one failed call per interval, not one per request.
      org.plan_retry_after = now + options_.plan_refresh_interval;
    }
  }
  if (for_write && now - org.plan_refreshed > options_.plan_max_staleness) {
    return absl::UnavailableError(absl::StrCat(
        "planning unreachable (", PlanError(), "); the plan copy is ",
        absl::FormatDuration(now - org.plan_refreshed),
        " old, too stale to accept writes (retry with backoff)"));
  }
  if (!for_write && now - org.store_refreshed >= options_.store_refresh_interval) {
    OKR_RETURN_IF_ERROR(CatchUpStore(org));
  }
  return absl::OkStatus();
}

// --- The cache ---------------------------------------------------------------------

namespace {

// One score as this replica has it, with what the cache needs.
struct LocalScore {
  ScoreKey key;
  ScoreVersion version;
  std::string body;  // serialized, pace and key result scores left out
  bool frozen = false;
};

absl::StatusOr<LocalScore> LocalScoreOf(const Tracking::Org& org, const ScoreKey& key,
                                        absl::Time now) {
  LocalScore local;
  local.key = key;
  if (key.kind == ResourceKind::kKeyResult) {
    OKR_ASSIGN_OR_RETURN(v1::KeyResultScore s, KeyResultScoreOf(org, key.id));
    local.frozen = s.frozen();
    local.body = s.SerializeAsString();
    local.version = VersionOf(org, internal::KeyResultStamp(org, key.id));
  } else {
    // The cache keeps no pace (it moves with the clock; readers add it).
    OKR_ASSIGN_OR_RETURN(v1::ObjectiveScore s,
                         ObjectiveScoreOf(org, key.id, now, /*with_pace=*/false));
    local.frozen = s.frozen();
    s.clear_pace();  // a frozen score carries the pace it closed with
    s.clear_key_result_scores();
    local.body = s.SerializeAsString();
    local.version = VersionOf(org, internal::ObjectiveStamp(org, key.id));
  }
  return local;
}

// The key result `kr_id`, its objective and every score above it that a
// change of the key result moves, nearest first.
std::vector<ScoreKey> ChainOf(const OrgState& plan, absl::string_view kr_id) {
  std::vector<ScoreKey> chain;
  const KeyResult* kr = plan.FindKeyResult(kr_id);
  if (kr == nullptr) return chain;
  chain.push_back({ResourceKind::kKeyResult, kr->id});
  const Objective* objective = plan.FindObjective(kr->objective_id);
  const size_t max_depth = plan.objectives().size();
  for (size_t depth = 0; objective != nullptr && depth < max_depth; ++depth) {
    chain.push_back({ResourceKind::kObjective, objective->id});
    const Alignment& a = objective->alignment;
    if (a.kind == AlignmentKind::kKeyResult) {
      chain.push_back({ResourceKind::kKeyResult, a.parent_key_result_id});
      const KeyResult* parent_kr = plan.FindKeyResult(a.parent_key_result_id);
      objective = parent_kr == nullptr ? nullptr : plan.FindObjective(parent_kr->objective_id);
    } else if (a.kind == AlignmentKind::kObjective) {
      objective = plan.FindObjective(a.parent_objective_id);
    } else {
      objective = nullptr;
    }
  }
  return chain;
}

// The objective `objective` rolls up into: its Classic parent, or the
// objective of its Duality parent key result; null for a root.
const Objective* ParentObjective(const OrgState& plan, const Objective& objective) {
  const Alignment& a = objective.alignment;
  if (a.kind == AlignmentKind::kObjective) return plan.FindObjective(a.parent_objective_id);
  if (a.kind == AlignmentKind::kKeyResult) {
    const KeyResult* kr = plan.FindKeyResult(a.parent_key_result_id);
    return kr == nullptr ? nullptr : plan.FindObjective(kr->objective_id);
  }
  return nullptr;
}

// The newest entry of each key: concurrent check-ins on one branch share
// ancestors, and the cache keeps only the newest version anyway.
std::vector<CachedScore> NewestPerKey(std::vector<CachedScore> entries) {
  absl::flat_hash_map<std::pair<int, std::string>, size_t> index;
  std::vector<CachedScore> out;
  out.reserve(entries.size());
  for (CachedScore& entry : entries) {
    auto [it, inserted] =
        index.try_emplace(std::make_pair(static_cast<int>(entry.key.kind), entry.key.id), out.size());
    if (inserted) {
      out.push_back(std::move(entry));
    } else if (out[it->second].version < entry.version) {
      out[it->second] = std::move(entry);
    }
  }
  return out;
}

}  // namespace

void Tracking::WriteCache(Org& org, const std::vector<ScoreKey>& keys, bool all) {
  if (cache_ == nullptr) return;
  const absl::Time now = options_.clock();
  std::vector<ScoreKey> wanted;
  if (all) {
    for (const auto& [id, kr] : org.plan.key_results()) {
      wanted.push_back({ResourceKind::kKeyResult, id});
    }
    for (const auto& [id, objective] : org.plan.objectives()) {
      wanted.push_back({ResourceKind::kObjective, id});
    }
  }
  const std::vector<ScoreKey>& source = all ? wanted : keys;
  constexpr size_t kBatch = 500;
  // A batch's Put runs on its own thread while the next batch is computed:
  // Redis' compare-and-set and tracking's serialising overlap (a full
  // rebuild at 100,000 objectives spends about 4 s of CPU in each).
  std::thread put;
  absl::Status put_status;
  auto finish_put = [&]() -> bool {
    if (put.joinable()) put.join();
    return put_status.ok();
  };
  std::vector<CachedScore> entries;
  for (size_t i = 0; i < source.size(); ++i) {
    absl::StatusOr<LocalScore> local = LocalScoreOf(org, source[i], now);
    if (local.ok() && !local->frozen) {
      entries.push_back({local->key, local->version, std::move(local->body)});
    }
    const bool last = i + 1 == source.size();
    if (entries.size() == kBatch || (last && !entries.empty())) {
      if (!finish_put()) break;
      if (last) {  // nothing left to overlap with: no thread
        put_status = cache_->Put(org.id, entries);
      } else {
        put = std::thread([this, &org, &put_status, batch = std::move(entries)] {
          put_status = cache_->Put(org.id, batch);
        });
      }
      entries.clear();
    }
  }
  if (!finish_put()) {
    org.cache_dirty = true;
    return;
  }
  if (all) org.cache_dirty = false;
}

namespace {

// What reads the cache entries of some keys (Tracking::GetCoalesced).
using CacheFetch = absl::FunctionRef<absl::StatusOr<std::vector<std::optional<CachedScore>>>(
    const std::vector<ScoreKey>&)>;

// Serves `locals` from the cache: for each, the cached body when the entry is
// at least as new as the local score, else nullopt (and the entry is
// repaired with the local score). Returns nullopt for all when Redis fails;
// `failed` tells the caller.
std::vector<std::optional<std::string>> ServeFromCache(RollupCache* cache, absl::string_view org,
                                                       const std::vector<LocalScore>& locals,
                                                       CacheFetch fetch, bool* failed) {
  std::vector<std::optional<std::string>> out(locals.size());
  *failed = false;
  if (cache == nullptr || locals.empty()) return out;
  std::vector<ScoreKey> keys;
  keys.reserve(locals.size());
  for (const LocalScore& l : locals) keys.push_back(l.key);
  absl::StatusOr<std::vector<std::optional<CachedScore>>> got = fetch(keys);
  if (!got.ok() || got->size() != locals.size()) {
    *failed = true;
    return out;
  }
  std::vector<CachedScore> repairs;
  for (size_t i = 0; i < locals.size(); ++i) {
    if (locals[i].frozen) continue;
    std::optional<CachedScore>& entry = (*got)[i];
    if (entry.has_value() && !(entry->version < locals[i].version)) {
      out[i] = std::move(entry->body);
    } else {
      repairs.push_back({locals[i].key, locals[i].version, locals[i].body});
    }
  }
  if (!repairs.empty() && !cache->Put(org, repairs).ok()) *failed = true;
  return out;
}

}  // namespace

// --- Check-ins ---------------------------------------------------------------------

namespace {

// The check-in `request` records, checked against the plan mirror and the
// frozen cycles of `org` (org.mu held), ready for the store.
absl::StatusOr<StoredCheckIn> NewCheckIn(const Tracking::Org& org,
                                         const v1::RecordCheckInRequest& request,
                                         const std::string& fingerprint, absl::Time now,
                                         int default_grace_days) {
  const KeyResult* kr = org.plan.FindKeyResult(request.key_result_id());
  if (kr == nullptr) {
    return NotFound("key_result_id", absl::StrCat("no key result '", request.key_result_id(), "'"));
  }
  const bool milestone = kr->type == KeyResultType::kMilestone;
  if (milestone && request.has_value()) {
    return MakeInvalidArgument({{"value", absl::StrCat("key result '", kr->id,
                                                       "' is a MILESTONE: send done, not value")}});
  }
  if (!milestone && request.has_done()) {
    return MakeInvalidArgument({{"done", absl::StrCat("key result '", kr->id,
                                                      "' is a METRIC: send value, not done")}});
  }
  if (org.plan.FindPerson(request.author_id()) == nullptr) {
    return NotFound("author_id", absl::StrCat("no person '", request.author_id(), "'"));
  }
  const Objective* objective = org.plan.FindObjective(kr->objective_id);
  const Cycle* cycle = objective == nullptr ? nullptr : org.plan.FindCycle(objective->cycle_id);
  if (objective == nullptr || cycle == nullptr) {
    return absl::InternalError(absl::StrCat("key result '", kr->id,
                                            "' has no objective or cycle in the plan copy"));
  }
  if (kr->archived) {
    return FailedPrecondition("key_result_id",
                              absl::StrCat("key result '", kr->id, "' is archived"));
  }
  if (objective->state != ObjectiveState::kPublished) {
    return FailedPrecondition(
        "key_result_id", absl::StrCat("objective '", objective->id, "' is ",
                                      Name(objective->state), ", not PUBLISHED: publish it first"));
  }
  if (cycle->state == CycleState::kPlanning || cycle->state == CycleState::kClosed ||
      IsFrozen(org, cycle->id)) {
    return FailedPrecondition(
        "key_result_id",
        absl::StrCat("cycle '", cycle->id, "' is ",
                     IsFrozen(org, cycle->id) ? "closed" : Name(cycle->state),
                     ": check-ins are accepted while it is ACTIVE or in REVIEW"));
  }
  const internal::CycleInstants at = InstantsOf(org, *cycle, default_grace_days);
  if (now >= at.grace_end) {
    return FailedPrecondition(
        "key_result_id",
        absl::StrCat("cycle '", cycle->id, "' ended and its grace period for late check-ins "
                     "ended at ", absl::FormatTime(absl::RFC3339_sec, at.grace_end, org.zone)));
  }
  absl::Time time = now;
  if (request.has_time()) OKR_RETURN_IF_ERROR(FromProto(request.time(), "time", &time));
  if (time < at.start) {
    return MakeInvalidArgument(
        {{"time", absl::StrCat("is before the start of cycle '", cycle->id, "' (",
                               absl::FormatTime(absl::RFC3339_sec, at.start, org.zone), ")")}});
  }

  CheckIn check_in;
  check_in.id = planning::NewResourceId(ResourceKind::kCheckIn);
  check_in.organisation_id = org.id;
  check_in.key_result_id = kr->id;
  if (request.has_value()) check_in.value = request.value();
  if (request.has_done()) check_in.done = request.done();
  if (request.has_confidence()) check_in.confidence = request.confidence();
  OKR_RETURN_IF_ERROR(FromProto(static_cast<int>(request.status()), "status", &check_in.status));
  check_in.note = request.note();
  check_in.author_id = request.author_id();
  check_in.time = time;
  check_in.client_key = request.client_key();
  check_in.create_time = now;

  StoredCheckIn stored;
  stored.id = check_in.id;
  stored.key_result_id = check_in.key_result_id;
  stored.client_key = check_in.client_key;
  stored.time = time;
  stored.fingerprint = fingerprint;
  stored.has_value = HasValue(check_in);
  stored.has_done = check_in.done.has_value();
  stored.has_signal = HasSignal(check_in);
  stored.body = ToProto(check_in).SerializeAsString();
  return stored;
}

}  // namespace


absl::Status Tracking::RecordCheckIn(absl::string_view org_id,
                                     const v1::RecordCheckInRequest& request,
                                     v1::RecordCheckInResponse* response) {
  response->Clear();
  const absl::Time now = options_.clock();
  OKR_RETURN_IF_ERROR(ValidateCheckInShape(request, now));
  v1::RecordCheckInRequest content = request;
  content.clear_client_key();
  const std::string fingerprint = planning::StableHash(content.SerializeAsString());

  Org& org = *FindOrCreateOrg(org_id);
  // Shared with other check-ins, exclusive against a freeze or a rebuild:
  // org.mu is released around the store and Redis calls below, and a freeze
  // must not run between this check-in's store write and its application.
  absl::ReaderMutexLock gate(&org.write_gate);
  {
    absl::MutexLock lock(&org.mu);
    OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/true));
  }

  // Answers a retry with what the first call stored (org.mu held).
  auto replay = [&](const StoredCheckIn& stored) -> absl::Status {
    if (stored.fingerprint != fingerprint) {
      return MakeFieldStatus(
          absl::StatusCode::kAlreadyExists,
          {{"client_key", absl::StrCat("was already used for another check-in (", stored.id,
                                       ") on this key result; use a new key for new content")}});
    }
    OKR_RETURN_IF_ERROR(CatchUpStore(org));
    if (!response->mutable_check_in()->ParseFromString(stored.body)) {
      return absl::InternalError(absl::StrCat("stored check-in ", stored.id, " does not parse"));
    }
    response->set_replayed(true);
    return absl::OkStatus();
  };

  // The idempotency check: the store looks the client_key up inside the
  // append's transaction (a retry takes no number and comes back as a
  // replay), so it is only asked beforehand when the plan refuses the
  // check-in, where a retry of one stored earlier (say, before its cycle
  // closed) must still get its answer.
  std::optional<StoredCheckIn> existing;
  absl::StatusOr<StoredCheckIn> stored;
  {
    absl::MutexLock lock(&org.mu);
    stored = NewCheckIn(org, request, fingerprint, now, options_.default_grace_days);
  }
  std::optional<AppendResult> appended;
  if (stored.ok()) {
    // Outside org.mu, so that concurrent check-ins share a group commit.
    OKR_ASSIGN_OR_RETURN(appended, store_->AppendCheckIn(org.id, *stored));
  } else {
    OKR_ASSIGN_OR_RETURN(existing, store_->FindCheckIn(org.id, request.key_result_id(),
                                                       request.client_key()));
    if (!existing.has_value()) return stored.status();
  }

  bool replayed = false;
  std::vector<CachedScore> cache_entries;
  {
    absl::MutexLock lock(&org.mu);
    if (existing.has_value() || appended->replayed) {
      // A retry, or another replica stored the same client_key first.
      OKR_RETURN_IF_ERROR(replay(existing.has_value() ? *existing : appended->check_in));
      replayed = true;
    } else {
      // A concurrent writer may have applied it already (CatchUpStore applies
      // every write after the replica's sequence, in order).
      if (org.tracking_sequence < appended->check_in.sequence) {
        OKR_RETURN_IF_ERROR(CatchUpStore(org));
      }
      if (!response->mutable_check_in()->ParseFromString(appended->check_in.body)) {
        return absl::InternalError("the stored check-in does not parse");
      }
    }
    const std::vector<ScoreKey> chain = ChainOf(org.plan, request.key_result_id());
    for (const ScoreKey& key : chain) {
      if (key.kind == ResourceKind::kKeyResult) {
        if (key.id != request.key_result_id()) continue;
        OKR_ASSIGN_OR_RETURN(*response->mutable_key_result_score(), KeyResultScoreOf(org, key.id));
      } else {
        OKR_ASSIGN_OR_RETURN(*response->add_objective_scores(), ObjectiveScoreOf(org, key.id, now));
      }
    }
    if (!replayed && cache_ != nullptr) {
      for (const ScoreKey& key : chain) {
        absl::StatusOr<LocalScore> local = LocalScoreOf(org, key, now);
        if (local.ok() && !local->frozen) {
          cache_entries.push_back({local->key, local->version, std::move(local->body)});
        }
      }
    }
  }
  // Before the OK: another replica's reader must find these scores.
  if (!cache_entries.empty()) PutCoalesced(org, std::move(cache_entries));
  return absl::OkStatus();
}

void Tracking::PutCoalesced(Org& org, std::vector<CachedScore> entries) {
  absl::MutexLock lock(&org.cache_mu);
  for (CachedScore& entry : entries) org.cache_pending.push_back(std::move(entry));
  // The next batch to start takes everything pending, these entries too.
  const int64_t ticket = org.cache_batches_started + 1;
  while (org.cache_batches_finished < ticket) {
    if (org.cache_batch_running) {
      org.cache_batch_done.Wait(&org.cache_mu);
      continue;
    }
    org.cache_batch_running = true;
    const int64_t number = ++org.cache_batches_started;
    std::vector<CachedScore> batch = NewestPerKey(std::move(org.cache_pending));
    org.cache_pending.clear();
    org.cache_mu.Unlock();
    bool failed = false;
    constexpr size_t kBatch = 500;
    for (size_t i = 0; i < batch.size() && !failed; i += kBatch) {
      const size_t n = std::min(kBatch, batch.size() - i);
      failed = !cache_->Put(org.id, absl::MakeConstSpan(batch.data() + i, n)).ok();
    }
    if (failed) {
      absl::MutexLock org_lock(&org.mu);
      org.cache_dirty = true;
    }
    org.cache_mu.Lock();
    org.cache_batches_finished = number;
    org.cache_batch_running = false;
    org.cache_batch_done.SignalAll();
  }
}

absl::StatusOr<std::vector<std::optional<CachedScore>>> Tracking::GetCoalesced(
    Org& org, const std::vector<ScoreKey>& keys) {
  // A big read (a scored tree) goes alone rather than hold up small ones.
  constexpr size_t kMaxShared = 64;
  if (keys.size() > kMaxShared) return cache_->Get(org.id, keys);
  Org::CacheRead self{&keys, std::vector<std::optional<CachedScore>>()};
  absl::MutexLock lock(&org.cache_read_mu);
  org.cache_reads_pending.push_back(&self);
  // The next batch to start takes every pending read, this one too, so its
  // Get starts after this read arrived: a write acknowledged before then
  // (its Put finished before its OK) is seen.
  const int64_t ticket = org.cache_reads_started + 1;
  while (org.cache_reads_finished < ticket) {
    if (org.cache_read_running) {
      org.cache_read_done.Wait(&org.cache_read_mu);
      continue;
    }
    org.cache_read_running = true;
    const int64_t number = ++org.cache_reads_started;
    std::vector<Org::CacheRead*> batch;
    batch.swap(org.cache_reads_pending);
    org.cache_read_mu.Unlock();
    // Each distinct key once: concurrent readers often ask for the same.
    absl::flat_hash_map<std::pair<int, absl::string_view>, size_t> index;
    std::vector<ScoreKey> unique;
    for (const Org::CacheRead* read : batch) {
      for (const ScoreKey& key : *read->keys) {
        if (index.try_emplace(std::make_pair(static_cast<int>(key.kind), absl::string_view(key.id)),
                              unique.size())
                .second) {
          unique.push_back(key);
        }
      }
    }
    absl::StatusOr<std::vector<std::optional<CachedScore>>> got = cache_->Get(org.id, unique);
    if (got.ok() && got->size() != unique.size()) {
      got = absl::InternalError("rollup cache get: wrong number of entries");
    }
    for (Org::CacheRead* read : batch) {
      if (!got.ok()) {
        read->result = got.status();
        continue;
      }
      std::vector<std::optional<CachedScore>> mine;
      mine.reserve(read->keys->size());
      for (const ScoreKey& key : *read->keys) {
        mine.push_back(
            (*got)[index.at(std::make_pair(static_cast<int>(key.kind), absl::string_view(key.id)))]);
      }
      read->result = std::move(mine);
    }
    org.cache_read_mu.Lock();
    org.cache_reads_finished = number;
    org.cache_read_running = false;
    org.cache_read_done.SignalAll();
  }
  return std::move(self.result);
}

absl::Status Tracking::ListCheckIns(absl::string_view org_id,
                                    const v1::ListCheckInsRequest& request,
                                    v1::ListCheckInsResponse* response) {
  response->Clear();
  if (request.key_result_id().empty()) return MakeInvalidArgument({{"key_result_id", "required"}});
  if (request.page_size() < 0) {
    return MakeInvalidArgument({{"page_size", "must not be negative; 0 means 50"}});
  }
  CheckInQuery query;
  query.key_result_id = request.key_result_id();
  query.page_size = request.page_size() == 0 ? 50 : std::min(request.page_size(), 500);
  query.page_token = request.page_token();
  if (request.has_start_time()) {
    OKR_RETURN_IF_ERROR(FromProto(request.start_time(), "start_time", &query.start_time));
  }
  if (request.has_end_time()) {
    OKR_RETURN_IF_ERROR(FromProto(request.end_time(), "end_time", &query.end_time));
  }
  Org& org = *FindOrCreateOrg(org_id);
  {
    absl::MutexLock lock(&org.mu);
    OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/false));
    if (org.plan.FindKeyResult(query.key_result_id) == nullptr &&
        !org.tracks.contains(query.key_result_id)) {
      return NotFound("key_result_id", absl::StrCat("no key result '", query.key_result_id, "'"));
    }
  }
  OKR_ASSIGN_OR_RETURN(CheckInPage page, store_->ListCheckIns(org_id, query));
  for (const StoredCheckIn& stored : page.check_ins) {
    if (!response->add_check_ins()->ParseFromString(stored.body)) {
      return absl::InternalError(absl::StrCat("stored check-in ", stored.id, " does not parse"));
    }
  }
  response->set_next_page_token(page.next_page_token);
  response->set_total_size(static_cast<int32_t>(page.total_size));
  return absl::OkStatus();
}

// --- Scores --------------------------------------------------------------------------

absl::Status Tracking::GetKeyResultScore(absl::string_view org_id,
                                         const v1::GetKeyResultScoreRequest& request,
                                         v1::KeyResultScore* response) {
  response->Clear();
  if (request.key_result_id().empty()) return MakeInvalidArgument({{"key_result_id", "required"}});
  Org& org = *FindOrCreateOrg(org_id);
  LocalScore local;
  {
    absl::MutexLock lock(&org.mu);
    OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/false));
    OKR_ASSIGN_OR_RETURN(local, LocalScoreOf(org, {ResourceKind::kKeyResult, request.key_result_id()},
                                             options_.clock()));
  }
  bool failed = false;
  auto fetch = [&](const std::vector<ScoreKey>& keys) { return GetCoalesced(org, keys); };
  std::vector<std::optional<std::string>> cached =
      ServeFromCache(cache_, org.id, {local}, fetch, &failed);
  if (failed) {
    absl::MutexLock lock(&org.mu);
    org.cache_dirty = true;
  }
  if (!cached[0].has_value() || !response->ParseFromString(*cached[0])) {
    response->ParseFromString(local.body);
  }
  return absl::OkStatus();
}

absl::Status Tracking::GetObjectiveScore(absl::string_view org_id,
                                         const v1::GetObjectiveScoreRequest& request,
                                         v1::ObjectiveScore* response) {
  response->Clear();
  if (request.objective_id().empty()) return MakeInvalidArgument({{"objective_id", "required"}});
  const absl::Time now = options_.clock();
  Org& org = *FindOrCreateOrg(org_id);
  std::vector<LocalScore> locals;
  {
    absl::MutexLock lock(&org.mu);
    OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/false));
    OKR_ASSIGN_OR_RETURN(LocalScore objective,
                         LocalScoreOf(org, {ResourceKind::kObjective, request.objective_id()}, now));
    locals.push_back(std::move(objective));
    if (request.include_key_results()) {
      for (const KeyResult* kr : org.plan.KeyResultsOf(request.objective_id())) {
        OKR_ASSIGN_OR_RETURN(LocalScore s, LocalScoreOf(org, {ResourceKind::kKeyResult, kr->id}, now));
        locals.push_back(std::move(s));
      }
    }
  }
  bool failed = false;
  auto fetch = [&](const std::vector<ScoreKey>& keys) { return GetCoalesced(org, keys); };
  std::vector<std::optional<std::string>> cached = ServeFromCache(cache_, org.id, locals, fetch, &failed);
  absl::MutexLock lock(&org.mu);
  if (failed) org.cache_dirty = true;
  if (!cached[0].has_value() || !response->ParseFromString(*cached[0])) {
    response->ParseFromString(locals[0].body);
  }
  if (!response->frozen()) {
    if (const Objective* objective = org.plan.FindObjective(request.objective_id())) {
      internal::FillPace(org, *objective, now, response);
    }
  }
  for (size_t i = 1; i < locals.size(); ++i) {
    v1::KeyResultScore* kr = response->add_key_result_scores();
    if (!cached[i].has_value() || !kr->ParseFromString(*cached[i])) kr->ParseFromString(locals[i].body);
  }
  return absl::OkStatus();
}

absl::Status Tracking::GetScoredTree(absl::string_view org_id,
                                     const v1::GetScoredTreeRequest& request,
                                     v1::ScoredTree* response) {
  response->Clear();
  if (request.cycle_id().empty()) return MakeInvalidArgument({{"cycle_id", "required"}});
  const absl::Time now = options_.clock();
  Org& org = *FindOrCreateOrg(org_id);
  std::vector<LocalScore> locals;
  {
    absl::MutexLock lock(&org.mu);
    OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/false));
    const OrgState& plan = org.plan;
    const Cycle* cycle = plan.FindCycle(request.cycle_id());
    if (cycle == nullptr) {
      return NotFound("cycle_id", absl::StrCat("no cycle '", request.cycle_id(), "'"));
    }
    // The cycle's objectives (or the root's subtree), then their ancestors
    // outside it, parents before children.
    absl::flat_hash_map<Id, bool> included;
    std::vector<const Objective*> members;
    if (!request.root_objective_id().empty()) {
      const Objective* root = plan.FindObjective(request.root_objective_id());
      if (root == nullptr) {
        return NotFound("root_objective_id",
                        absl::StrCat("no objective '", request.root_objective_id(), "'"));
      }
      std::vector<const Objective*> stack = {root};
      while (!stack.empty() && members.size() <= static_cast<size_t>(kMaxTreeObjectives)) {
        const Objective* o = stack.back();
        stack.pop_back();
        if (!included.emplace(o->id, true).second) continue;
        members.push_back(o);
        for (const Objective* child : plan.ChildrenOf(o->id)) stack.push_back(child);
      }
    } else {
      for (const auto& [id, o] : plan.objectives()) {
        if (o.cycle_id == cycle->id) {
          included.emplace(id, true);
          members.push_back(&o);
        }
      }
    }
    if (members.size() > static_cast<size_t>(kMaxTreeObjectives)) {
      return FailedPrecondition("cycle_id",
                                absl::StrCat("the tree has more than ", kMaxTreeObjectives,
                                             " objectives: narrow it with root_objective_id"));
    }
    if (request.root_objective_id().empty()) {
      std::vector<const Objective*> ancestors;
      for (const Objective* o : members) {
        const Objective* current = o;
        for (size_t depth = 0; depth < plan.objectives().size(); ++depth) {
          const Objective* parent = ParentObjective(plan, *current);
          if (parent == nullptr || !included.emplace(parent->id, true).second) break;
          ancestors.push_back(parent);
          current = parent;
        }
      }
      members.insert(members.end(), ancestors.begin(), ancestors.end());
    }
    // Parents before children: order by depth within the snapshot, then id.
    // Each depth is computed once (walking up to the nearest known one), so a
    // 10,000-deep chain costs O(members), not O(members x depth).
    absl::flat_hash_map<Id, int> depth;
    std::vector<const Objective*> path;
    for (const Objective* o : members) {
      path.clear();
      int base = -1;  // the depth of the objective above path.back()
      for (const Objective* current = o; current != nullptr;) {
        if (auto it = depth.find(current->id); it != depth.end()) {
          base = it->second;
          break;
        }
        path.push_back(current);
        if (path.size() > members.size()) break;  // a loop: only a corrupt plan
        current = ParentObjective(plan, *current);
        if (current != nullptr && !included.contains(current->id)) current = nullptr;
      }
      for (auto it = path.rbegin(); it != path.rend(); ++it) depth[(*it)->id] = ++base;
    }
    std::sort(members.begin(), members.end(), [&](const Objective* a, const Objective* b) {
      const int da = depth[a->id];
      const int db = depth[b->id];
      return da != db ? da < db : a->id < b->id;
    });
    v1::AlignmentTree* tree = response->mutable_tree();
    for (const Objective* o : members) {
      *tree->add_objectives() = ToProto(*o);
      OKR_ASSIGN_OR_RETURN(LocalScore s, LocalScoreOf(org, {ResourceKind::kObjective, o->id}, now));
      locals.push_back(std::move(s));
      if (depth[o->id] == 0) tree->add_root_objective_ids(o->id);
      if (o->alignment.kind != AlignmentKind::kNone && depth[o->id] > 0) {
        v1::AlignmentLink* link = tree->add_links();
        link->set_child_objective_id(o->id);
        link->set_kind(ToProto(o->alignment.kind));
        link->set_weight(o->alignment.weight);
        if (o->alignment.kind == AlignmentKind::kKeyResult) {
          link->set_parent_key_result_id(o->alignment.parent_key_result_id);
          if (const KeyResult* kr = plan.FindKeyResult(o->alignment.parent_key_result_id)) {
            link->set_parent_objective_id(kr->objective_id);
          }
        } else {
          link->set_parent_objective_id(o->alignment.parent_objective_id);
        }
      }
    }
    if (!request.exclude_key_results()) {
      for (const Objective* o : members) {
        for (const KeyResult* kr : plan.KeyResultsOf(o->id)) {
          *tree->add_key_results() = ToProto(*kr);
          OKR_ASSIGN_OR_RETURN(LocalScore s, LocalScoreOf(org, {ResourceKind::kKeyResult, kr->id}, now));
          locals.push_back(std::move(s));
        }
      }
    }
    tree->set_sequence(plan.sequence());
    response->set_frozen(IsFrozen(org, cycle->id) || cycle->state == CycleState::kClosed);
  }
  bool failed = false;
  auto fetch = [&](const std::vector<ScoreKey>& keys) { return GetCoalesced(org, keys); };
  std::vector<std::optional<std::string>> cached = ServeFromCache(cache_, org.id, locals, fetch, &failed);
  absl::MutexLock lock(&org.mu);
  if (failed) org.cache_dirty = true;
  for (size_t i = 0; i < locals.size(); ++i) {
    const std::string& body = cached[i].has_value() ? *cached[i] : locals[i].body;
    if (locals[i].key.kind == ResourceKind::kObjective) {
      v1::ObjectiveScore* s = response->add_objective_scores();
      if (!s->ParseFromString(body)) s->ParseFromString(locals[i].body);
      if (!s->frozen()) {
        if (const Objective* o = org.plan.FindObjective(s->objective_id())) {
          internal::FillPace(org, *o, now, s);
        }
      }
    } else {
      v1::KeyResultScore* s = response->add_key_result_scores();
      if (!s->ParseFromString(body)) s->ParseFromString(locals[i].body);
    }
  }
  *response->mutable_as_of_time() = ToProto(now);
  return absl::OkStatus();
}

namespace {

// Adds the END_OF_QUARTER review of `objective_id` as an input of an
// explanation whose final score it sets, with a note saying what it changes.
void AddReviewOverride(const Tracking::Org& org, absl::string_view objective_id,
                       double final_score, double computed, absl::string_view effect,
                       v1::ScoreExplanation* response) {
  v1::ScoreInput* input = response->add_inputs();
  input->set_kind(v1::SCORE_INPUT_KIND_REVIEW_OVERRIDE);
  input->mutable_source()->set_kind(v1::RESOURCE_KIND_REVIEW);
  if (const v1::Review* r = FindReview(org, objective_id, ReviewKind::kEndOfQuarter)) {
    input->mutable_source()->set_id(r->id());
    *input->mutable_time() = r->update_time();
  }
  input->set_label("end-of-quarter review");
  input->set_value(final_score);
  input->set_weight(1);
  response->add_notes(absl::StrFormat(
      "the end-of-quarter review's final score %.4g overrides the computed %.4g %s",
      final_score, computed, effect));
}

}  // namespace

absl::Status Tracking::ExplainScore(absl::string_view org_id,
                                    const v1::ExplainScoreRequest& request,
                                    v1::ScoreExplanation* response) {
  response->Clear();
  const bool objective_target = request.target_case() == v1::ExplainScoreRequest::kObjectiveId;
  const std::string id = objective_target ? request.objective_id() : request.key_result_id();
  if (request.target_case() == v1::ExplainScoreRequest::TARGET_NOT_SET || id.empty()) {
    return MakeInvalidArgument({{"target", "required: objective_id or key_result_id"}});
  }
  Org& org = *FindOrCreateOrg(org_id);
  absl::MutexLock lock(&org.mu);
  OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/false));
  const absl::Time now = options_.clock();
  v1::ResourceRef* target = response->mutable_target();
  if (objective_target) {
    const Objective* objective = org.plan.FindObjective(id);
    if (objective == nullptr) return NotFound("objective_id", absl::StrCat("no objective '", id, "'"));
    OKR_ASSIGN_OR_RETURN(ScoreExplanation e, org.graph->ExplainObjective(id));
    target->set_kind(v1::RESOURCE_KIND_OBJECTIVE);
    target->set_id(id);
    response->set_score(e.result);
    response->set_formula(e.formula);
    double total_weight = 0;
    for (const ScoreInput& in : e.inputs) total_weight += in.weight;
    for (const ScoreInput& in : e.inputs) {
      v1::ScoreInput* input = response->add_inputs();
      const bool kr = in.kind == "key_result";
      input->set_kind(kr ? v1::SCORE_INPUT_KIND_KEY_RESULT : v1::SCORE_INPUT_KIND_CHILD_OBJECTIVE);
      input->mutable_source()->set_kind(kr ? v1::RESOURCE_KIND_KEY_RESULT
                                           : v1::RESOURCE_KIND_OBJECTIVE);
      input->mutable_source()->set_id(in.id);
      input->set_label(in.title);
      input->set_value(in.progress);
      input->set_weight(in.weight);
      input->set_contribution(total_weight > 0 ? in.weight * in.progress / total_weight : 0);
      input->set_provenance(in.origin);
      if (kr) {
        if (auto it = org.tracks.find(in.id); it != org.tracks.end()) {
          *input->mutable_time() = ToProto(it->second.last_time());
        }
      }
    }
    for (const std::string& note : e.notes) response->add_notes(note);
    OKR_ASSIGN_OR_RETURN(v1::ObjectiveScore score, ObjectiveScoreOf(org, id, now));
    if (score.has_final_score()) {
      AddReviewOverride(org, id, score.final_score(), e.result,
                        absl::StrCat("for the grade (", v1::Grade_Name(score.grade()),
                                     "); ancestors still roll up the computed score"),
                        response);
    }
    if (score.frozen()) {
      response->add_notes(absl::StrFormat(
          "the cycle is closed: the score was frozen at %.4g; the explanation shows today's plan",
          score.score()));
      response->set_score(score.score());
    }
    return absl::OkStatus();
  }

  const KeyResult* kr = org.plan.FindKeyResult(id);
  if (kr == nullptr) return NotFound("key_result_id", absl::StrCat("no key result '", id, "'"));
  OKR_ASSIGN_OR_RETURN(ScoreExplanation e, org.graph->ExplainKeyResult(id));
  target->set_kind(v1::RESOURCE_KIND_KEY_RESULT);
  target->set_id(id);
  response->set_score(e.result);
  response->set_formula(e.formula);
  for (const std::string& note : e.notes) response->add_notes(note);
  if (!e.inputs.empty()) {
    double total_weight = 0;
    for (const ScoreInput& in : e.inputs) total_weight += in.weight;
    for (const ScoreInput& in : e.inputs) {
      v1::ScoreInput* input = response->add_inputs();
      input->set_kind(v1::SCORE_INPUT_KIND_CHILD_OBJECTIVE);
      input->mutable_source()->set_kind(v1::RESOURCE_KIND_OBJECTIVE);
      input->mutable_source()->set_id(in.id);
      input->set_label(in.title);
      input->set_value(in.progress);
      input->set_weight(in.weight);
      input->set_contribution(total_weight > 0 ? in.weight * in.progress / total_weight : 0);
      input->set_provenance(in.origin);
    }
  } else {
    const KeyResultTrack* track = nullptr;
    if (auto it = org.tracks.find(id); it != org.tracks.end()) track = &it->second;
    const bool milestone = kr->type == KeyResultType::kMilestone;
    const KeptRef* used = track == nullptr ? nullptr : (milestone ? &track->done : &track->value);
    v1::ScoreInput* input = response->add_inputs();
    input->set_weight(1);
    if (used != nullptr && *used != nullptr) {
      const CheckIn& c = (*used)->check_in;
      input->set_kind(v1::SCORE_INPUT_KIND_CHECK_IN);
      input->mutable_source()->set_kind(v1::RESOURCE_KIND_CHECK_IN);
      input->mutable_source()->set_id(c.id);
      input->set_label(milestone ? "latest check-in (done)" : "latest check-in value");
      input->set_value(milestone ? (*c.done ? 1 : 0) : *c.value);
      *input->mutable_time() = ToProto(c.time);
      std::string provenance = absl::StrCat("check-in ", c.id, " by ", c.author_id);
      if (c.confidence.has_value()) absl::StrAppend(&provenance, ", confidence ", *c.confidence);
      if (!c.note.empty()) absl::StrAppend(&provenance, ": \"", c.note, "\"");
      input->set_provenance(provenance);
    } else {
      input->set_kind(v1::SCORE_INPUT_KIND_START_VALUE);
      input->mutable_source()->set_kind(v1::RESOURCE_KIND_KEY_RESULT);
      input->mutable_source()->set_id(id);
      input->set_label(milestone ? "no check-in yet: not done" : "start value (no check-in yet)");
      input->set_value(milestone ? 0 : kr->from);
      input->set_provenance("no check-in yet: current = from");
      response->add_notes("no check-in yet: current = from");
    }
    input->set_contribution(e.result);
    if (kr->direction == Direction::kAtLeast || kr->direction == Direction::kAtMost) {
      response->add_notes("threshold key result: 1 when the threshold holds, else 0 (no partial credit)");
    }
  }
  OKR_ASSIGN_OR_RETURN(v1::KeyResultScore score, KeyResultScoreOf(org, id));
  if (score.has_final_score()) {
    AddReviewOverride(org, kr->objective_id, score.final_score(), e.result, "for the grade",
                      response);
  }
  if (score.frozen()) {
    response->add_notes(absl::StrFormat("the cycle is closed: the progress was frozen at %.4g",
                                        score.progress()));
    response->set_score(score.progress());
  }
  return absl::OkStatus();
}

absl::Status Tracking::ListStaleKeyResults(absl::string_view org_id,
                                           const v1::ListStaleKeyResultsRequest& request,
                                           v1::ListStaleKeyResultsResponse* response) {
  response->Clear();
  if (!request.has_since()) return MakeInvalidArgument({{"since", "required"}});
  absl::Time since;
  OKR_RETURN_IF_ERROR(FromProto(request.since(), "since", &since));
  Org& org = *FindOrCreateOrg(org_id);
  absl::MutexLock lock(&org.mu);
  OKR_RETURN_IF_ERROR(Prepare(org, /*for_write=*/false));
  const OrgState& plan = org.plan;
  if (!request.cycle_id().empty() && plan.FindCycle(request.cycle_id()) == nullptr) {
    return NotFound("cycle_id", absl::StrCat("no cycle '", request.cycle_id(), "'"));
  }
  const std::string filter_key =
      absl::StrCat("stale|", absl::FormatTime(since), "|", request.cycle_id(), "|",
                   request.owner_id(), "|", request.team_id());
  // The sorted keys of every stale key result. Built by a scan of all key
  // results and a sort; reused by the next pages (and by a repeated listing)
  // while nothing it depends on changed: the plan (key results, objectives,
  // cycles), the store's writes (check-ins, and the frozen cycles with them)
  // and the frozen cycles.
  std::optional<Org::StaleListing>& listing = org.stale_listing;
  if (!listing.has_value() || listing->filter_key != filter_key ||
      listing->plan_sequence != plan.sequence() ||
      listing->tracking_sequence != org.tracking_sequence ||
      listing->frozen_cycles != org.frozen.cycles.size()) {
    listing.reset();
    struct Row {
      absl::string_view owner;
      absl::string_view id;
    };
    std::vector<Row> rows;
    // Whether an objective's key results are listed (its objective, else
    // null), decided once per objective rather than once per key result.
    absl::flat_hash_map<absl::string_view, const Objective*> listed;
    for (const auto& [id, kr] : plan.key_results()) {
      if (kr.archived) continue;
      auto [memo, added] = listed.try_emplace(kr.objective_id, nullptr);
      if (added) {
        const Objective* objective = plan.FindObjective(kr.objective_id);
        if (objective == nullptr || objective->state != ObjectiveState::kPublished) continue;
        const Cycle* cycle = plan.FindCycle(objective->cycle_id);
        if (cycle == nullptr || cycle->state != CycleState::kActive || IsFrozen(org, cycle->id)) {
          continue;
        }
        if (!request.cycle_id().empty() && cycle->id != request.cycle_id()) continue;
        if (!request.team_id().empty() && objective->team_id != request.team_id()) continue;
        memo->second = objective;
      }
      const Objective* objective = memo->second;
      if (objective == nullptr) continue;
      const absl::string_view owner = kr.owner_id.empty() ? objective->owner_id : kr.owner_id;
      if (!request.owner_id().empty() && owner != request.owner_id()) continue;
      auto track = org.tracks.find(id);
      if (track != org.tracks.end() && track->second.last_time() >= since) continue;
      rows.push_back({owner, id});
    }
    // Ids never contain '\x1f', so ordering by (owner, id) is ordering the
    // keys "<owner>\x1f<id>" the page tokens carry.
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return a.owner != b.owner ? a.owner < b.owner : a.id < b.id;
    });
    listing.emplace();
    listing->filter_key = filter_key;
    listing->plan_sequence = plan.sequence();
    listing->tracking_sequence = org.tracking_sequence;
    listing->frozen_cycles = org.frozen.cycles.size();
    listing->keys.reserve(rows.size());
    for (const Row& row : rows) listing->keys.push_back(absl::StrCat(row.owner, "\x1f", row.id));
  }
  planning::PageRequest page{request.page_size(), request.page_token(), 100, 1000};
  OKR_ASSIGN_OR_RETURN(planning::PageSlice slice,
                       planning::Paginate(page, filter_key, listing->keys));
  const Objective* last_objective = nullptr;  // an owner's key results often share one
  for (size_t i = slice.begin; i < slice.end; ++i) {
    const absl::string_view key = listing->keys[i];
    const size_t separator = key.find('\x1f');
    const KeyResult* kr = plan.FindKeyResult(key.substr(separator + 1));
    const Objective* objective = nullptr;
    if (kr != nullptr) {
      objective = last_objective != nullptr && last_objective->id == kr->objective_id
                      ? last_objective
                      : plan.FindObjective(kr->objective_id);
    }
    last_objective = objective;
    if (objective == nullptr) {
      // The listing was built from this very plan (same sequence).
      return absl::InternalError(absl::StrCat("stale key result listing out of step at '",
                                              key.substr(separator + 1), "'"));
    }
    v1::StaleKeyResult* s = response->add_stale_key_results();
    s->set_key_result_id(kr->id);
    s->set_key_result_title(kr->title);
    s->set_objective_id(objective->id);
    s->set_objective_title(objective->title);
    s->set_cycle_id(objective->cycle_id);
    s->set_owner_id(std::string(key.substr(0, separator)));
    s->set_team_id(objective->team_id);
    if (auto track = org.tracks.find(kr->id); track != org.tracks.end()) {
      *s->mutable_last_check_in_time() = ToProto(track->second.last_time());
    }
  }
  response->set_next_page_token(slice.next_page_token);
  response->set_total_size(static_cast<int32_t>(listing->keys.size()));
  // The last page: nobody needs the listing any more (40 MB at 400,000).
  if (slice.next_page_token.empty()) listing.reset();
  return absl::OkStatus();
}

// --- Maintenance and health -------------------------------------------------------------

int Tracking::Maintain() {
  if (cache_ == nullptr) return 0;
  std::vector<Org*> orgs;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, org] : orgs_) orgs.push_back(org.get());
  }
  int healed = 0;
  for (Org* org : orgs) {
    absl::MutexLock lock(&org->mu);
    if (!org->loaded || !org->cache_dirty) continue;
    WriteCache(*org, {}, /*all=*/true);
    if (!org->cache_dirty) {
      ++healed;
      LogInfo("rollup cache rewritten after a Redis outage", {{"organisation", org->id}});
    }
  }
  return healed;
}

std::string Tracking::PlanError() const {
  absl::MutexLock lock(&mu_);
  return plan_error_;
}

TrackingHealth Tracking::health() const {
  TrackingHealth h;
  h.cache_enabled = cache_ != nullptr;
  if (cache_ != nullptr) h.cache = cache_->stats();
  std::vector<Org*> orgs;
  {
    // Never hold mu_ while taking an organisation's lock: requests take
    // them the other way round.
    absl::MutexLock lock(&mu_);
    h.plan_reachable = plan_reachable_;
    h.plan_error = plan_error_;
    for (const auto& [id, org] : orgs_) orgs.push_back(org.get());
  }
  for (Org* org : orgs) {
    absl::MutexLock org_lock(&org->mu);
    if (org->loaded) ++h.organisations_loaded;
    if (org->cache_dirty) ++h.organisations_cache_dirty;
  }
  return h;
}

}  // namespace okr::tracking
