// The OKR domain model: plain value types shared by every service and by the
// pure parts of the model library (validation, scoring, lint, calendar).
//
// These types carry no I/O and no gRPC; services convert protobuf messages to
// and from them at their boundary. Identifiers are opaque strings. Enumerations
// mirror the v1 contracts (proto/okr/v1/common.proto) one to one, including an
// explicit `kUnspecified` where the contract has `*_UNSPECIFIED = 0`, so that a
// missing value can be told apart from a default and rejected by validation.
#ifndef OKR_COMMON_MODEL_H_
#define OKR_COMMON_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace okr {

using Id = std::string;

// Annual planning lead time: SMALL brands start 4-6 weeks before the fiscal
// year, ENTERPRISE organisations (or those new to OKRs) 2-3 months before.
enum class PlanningProfile { kUnspecified, kSmall, kEnterprise };

enum class CycleKind { kUnspecified, kAnnual, kQuarterly, kMonthly };

// PLANNING -> ACTIVE -> REVIEW -> CLOSED; CLOSED refuses check-ins.
enum class CycleState { kUnspecified, kPlanning, kActive, kReview, kClosed };

// The "L" of PLOT: where in the company an objective lives.
enum class Level { kUnspecified, kCompany, kTeam, kIndividual };

// Committed objectives must reach 1.0; aspirational ones succeed at 0.7.
enum class ObjectiveKind { kUnspecified, kCommitted, kAspirational };

// The "5 Ps"; kNone when an objective belongs to none of them.
enum class Category { kNone, kProfit, kProduct, kPeople, kPromotion, kProgress };

enum class ObjectiveState { kUnspecified, kDraft, kPublished, kArchived };

enum class KeyResultType { kUnspecified, kMetric, kMilestone };

// How a metric KR is measured: a specific KPI or a percent complete.
enum class Measure { kUnspecified, kKpi, kPercentComplete };

// kIncrease / kDecrease follow from the sign of to - from; kAtLeast / kAtMost
// are thresholds on `to` ("maintain NPS above 8", "response under 24 hours").
// kUnspecified on input means "derive from from/to".
enum class Direction { kUnspecified, kIncrease, kDecrease, kAtLeast, kAtMost };

// Where the KR's data comes from when it is time to update it.
enum class DataSource { kUnknown, kManual, kSpreadsheet, kIntegration };

// Where an objective's score comes from.
enum class ProgressSource { kUnspecified, kKeyResults, kChildren, kBoth };

// A check-in's self-reported status (alternative or complement to confidence).
enum class CheckInStatus { kUnspecified, kOnTrack, kAtRisk, kOffTrack };

// Grade bands: red below 0.4, yellow from 0.4 to below 0.7, green from 0.7.
enum class Grade { kUnspecified, kRed, kYellow, kGreen };

// How an objective hangs in the alignment forest.
//   kNone:      a root (typically a company objective).
//   kObjective: Classic method, aligned to a parent objective.
//   kKeyResult: Duality method, the parent's key result became this objective.
enum class AlignmentKind { kNone, kObjective, kKeyResult };

enum class ReviewKind { kUnspecified, kMidQuarter, kEndOfQuarter };

// What a change-feed entry or a lint finding is about.
enum class ResourceKind {
  kUnspecified,
  kOrganisation,
  kTeam,
  kPerson,
  kCycle,
  kObjective,
  kKeyResult,
  kCheckIn,
  kReview,
};

// The grace period of an organisation that sets none.
inline constexpr int kDefaultCheckInGraceDays = 7;

struct Organisation {
  Id id;
  std::string name;
  int fiscal_year_start_month = 1;  // 1..12
  std::string time_zone = "UTC";    // IANA name, e.g. "America/New_York"
  std::string mission;
  std::string vision;
  std::vector<std::string> values;
  PlanningProfile planning_profile = PlanningProfile::kSmall;
  // Days after a cycle's end that still accept check-ins; a cycle may
  // override it. Unset means the product default, kDefaultCheckInGraceDays.
  std::optional<int> check_in_grace_days;
  int64_t version = 0;
  // Set by the store's writer; InfinitePast() until first stored.
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
};

struct Team {
  Id id;
  Id organisation_id;
  std::string name;
  Id parent_team_id;  // empty for a top-level team
  Id lead_person_id;  // empty when the team has no lead yet
  int64_t version = 0;
  // Set by the store's writer; InfinitePast() until first stored.
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
};

struct Person {
  Id id;
  Id organisation_id;
  std::string display_name;
  std::string email;
  std::vector<Id> team_ids;
  int64_t version = 0;
  // Set by the store's writer; InfinitePast() until first stored.
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
};

// A planning period. `start` is the first day, `end` the first day after the
// period (half-open), both civil days in the organisation's time zone.
struct Cycle {
  Id id;
  Id organisation_id;
  std::string name;  // e.g. "FY2027", "FY2027-Q1", "FY2027-M01"
  CycleKind kind = CycleKind::kUnspecified;
  absl::CivilDay start;
  absl::CivilDay end;
  Id parent_cycle_id;  // month -> quarter -> year; empty for a year
  CycleState state = CycleState::kPlanning;
  // Overrides the organisation's grace period when set.
  std::optional<int> check_in_grace_days;
  int64_t version = 0;
  // Set by the store's writer; InfinitePast() until first stored.
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
};

struct Alignment {
  AlignmentKind kind = AlignmentKind::kNone;
  Id parent_objective_id;   // kObjective; for kKeyResult the KR's objective
  Id parent_key_result_id;  // kKeyResult only
  double weight = 1.0;      // weight of this link in the parent's rollup
};

struct Objective {
  Id id;
  Id organisation_id;
  std::string title;
  std::string description;
  Level level = Level::kUnspecified;
  Id owner_id;
  Id team_id;
  Id cycle_id;
  ObjectiveKind kind = ObjectiveKind::kUnspecified;
  Category category = Category::kNone;
  int priority = 0;  // rank within owner + cycle; 1 is the most important, 0 unranked
  ObjectiveState state = ObjectiveState::kDraft;
  ProgressSource progress_source = ProgressSource::kKeyResults;
  Alignment alignment;
  // A quarterly (or monthly) objective may be a breakdown of an annual (or
  // quarterly) one; `priority` orders the breakdowns of one parent.
  Id breakdown_of_objective_id;
  // Set by roll over: the objective this one was carried from.
  Id rolled_over_from_id;
  int64_t version = 0;
  // Set by the store's writer; InfinitePast() until first stored.
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
};

struct KeyResult {
  Id id;
  Id organisation_id;
  Id objective_id;
  std::string title;
  Id owner_id;  // empty: the objective's owner
  KeyResultType type = KeyResultType::kUnspecified;
  // Metric KRs only.
  Measure measure = Measure::kUnspecified;
  double from = 0;  // start value
  double to = 0;    // target value, or the threshold for kAtLeast / kAtMost
  std::string unit;
  Direction direction = Direction::kUnspecified;
  double weight = 1.0;
  DataSource data_source = DataSource::kUnknown;
  std::string data_source_ref;  // e.g. the integration's reference
  // Duality: the KR takes its progress from the objectives aligned to it.
  bool progress_from_children = false;
  bool archived = false;
  Id rolled_over_from_id;
  int64_t version = 0;
  // Set by the store's writer; InfinitePast() until first stored.
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
};

struct CheckIn {
  Id id;
  Id organisation_id;
  Id key_result_id;
  std::optional<double> value;      // metric KRs
  std::optional<bool> done;         // milestone KRs
  std::optional<int> confidence;    // 0..10
  CheckInStatus status = CheckInStatus::kUnspecified;
  std::string note;
  Id author_id;
  absl::Time time = absl::InfinitePast();
  std::string client_key;  // idempotency key chosen by the client
  // Set by the store's writer; InfinitePast() until first stored.
  absl::Time create_time = absl::InfinitePast();
};

// A whole plan (or a slice of one) as the pure functions see it.
struct Plan {
  Organisation organisation;
  std::vector<Team> teams;
  std::vector<Person> people;
  std::vector<Cycle> cycles;
  std::vector<Objective> objectives;
  std::vector<KeyResult> key_results;
};

// Stable upper-case names as used in the contracts and the CSV format,
// without the enum's prefix (e.g. "ASPIRATIONAL", "AT_LEAST").
absl::string_view Name(PlanningProfile v);
absl::string_view Name(CycleKind v);
absl::string_view Name(CycleState v);
absl::string_view Name(Level v);
absl::string_view Name(ObjectiveKind v);
absl::string_view Name(Category v);
absl::string_view Name(ObjectiveState v);
absl::string_view Name(KeyResultType v);
absl::string_view Name(Measure v);
absl::string_view Name(Direction v);
absl::string_view Name(DataSource v);
absl::string_view Name(ProgressSource v);
absl::string_view Name(CheckInStatus v);
absl::string_view Name(Grade v);
absl::string_view Name(AlignmentKind v);
absl::string_view Name(ReviewKind v);
absl::string_view Name(ResourceKind v);

// Parses a name produced by Name() (case-insensitive). Returns false and
// leaves `*out` unchanged for an unknown name.
bool ParseName(absl::string_view s, PlanningProfile* out);
bool ParseName(absl::string_view s, CycleKind* out);
bool ParseName(absl::string_view s, CycleState* out);
bool ParseName(absl::string_view s, Level* out);
bool ParseName(absl::string_view s, ObjectiveKind* out);
bool ParseName(absl::string_view s, Category* out);
bool ParseName(absl::string_view s, ObjectiveState* out);
bool ParseName(absl::string_view s, KeyResultType* out);
bool ParseName(absl::string_view s, Measure* out);
bool ParseName(absl::string_view s, Direction* out);
bool ParseName(absl::string_view s, DataSource* out);
bool ParseName(absl::string_view s, ProgressSource* out);
bool ParseName(absl::string_view s, CheckInStatus* out);
bool ParseName(absl::string_view s, Grade* out);
bool ParseName(absl::string_view s, AlignmentKind* out);
bool ParseName(absl::string_view s, ReviewKind* out);
bool ParseName(absl::string_view s, ResourceKind* out);

// The direction a metric KR is scored in: kDirection as given, or derived
// from the sign of to - from when unspecified (kIncrease when to == from).
Direction EffectiveDirection(const KeyResult& kr);

}  // namespace okr

#endif  // OKR_COMMON_MODEL_H_
