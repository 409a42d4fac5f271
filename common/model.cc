#include "common/model.h"

#include <array>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace okr {
namespace {

template <typename E, size_t N>
using NameTable = std::array<std::pair<E, absl::string_view>, N>;

template <typename E, size_t N>
absl::string_view Lookup(const NameTable<E, N>& table, E v) {
  for (const auto& [value, name] : table) {
    if (value == v) return name;
  }
  return "UNSPECIFIED";
}

template <typename E, size_t N>
bool Parse(const NameTable<E, N>& table, absl::string_view s, E* out) {
  for (const auto& [value, name] : table) {
    if (absl::EqualsIgnoreCase(name, s)) {
      *out = value;
      return true;
    }
  }
  return false;
}

constexpr NameTable<PlanningProfile, 3> kPlanningProfile{{
    {PlanningProfile::kUnspecified, "UNSPECIFIED"},
    {PlanningProfile::kSmall, "SMALL"},
    {PlanningProfile::kEnterprise, "ENTERPRISE"},
}};
constexpr NameTable<CycleKind, 4> kCycleKind{{
    {CycleKind::kUnspecified, "UNSPECIFIED"},
    {CycleKind::kAnnual, "ANNUAL"},
    {CycleKind::kQuarterly, "QUARTERLY"},
    {CycleKind::kMonthly, "MONTHLY"},
}};
constexpr NameTable<CycleState, 5> kCycleState{{
    {CycleState::kUnspecified, "UNSPECIFIED"},
    {CycleState::kPlanning, "PLANNING"},
    {CycleState::kActive, "ACTIVE"},
    {CycleState::kReview, "REVIEW"},
    {CycleState::kClosed, "CLOSED"},
}};
constexpr NameTable<Level, 4> kLevel{{
    {Level::kUnspecified, "UNSPECIFIED"},
    {Level::kCompany, "COMPANY"},
    {Level::kTeam, "TEAM"},
    {Level::kIndividual, "INDIVIDUAL"},
}};
constexpr NameTable<ObjectiveKind, 3> kObjectiveKind{{
    {ObjectiveKind::kUnspecified, "UNSPECIFIED"},
    {ObjectiveKind::kCommitted, "COMMITTED"},
    {ObjectiveKind::kAspirational, "ASPIRATIONAL"},
}};
constexpr NameTable<Category, 6> kCategory{{
    {Category::kNone, "NONE"},
    {Category::kProfit, "PROFIT"},
    {Category::kProduct, "PRODUCT"},
    {Category::kPeople, "PEOPLE"},
    {Category::kPromotion, "PROMOTION"},
    {Category::kProgress, "PROGRESS"},
}};
constexpr NameTable<ObjectiveState, 4> kObjectiveState{{
    {ObjectiveState::kUnspecified, "UNSPECIFIED"},
    {ObjectiveState::kDraft, "DRAFT"},
    {ObjectiveState::kPublished, "PUBLISHED"},
    {ObjectiveState::kArchived, "ARCHIVED"},
}};
constexpr NameTable<KeyResultType, 3> kKeyResultType{{
    {KeyResultType::kUnspecified, "UNSPECIFIED"},
    {KeyResultType::kMetric, "METRIC"},
    {KeyResultType::kMilestone, "MILESTONE"},
}};
constexpr NameTable<Measure, 3> kMeasure{{
    {Measure::kUnspecified, "UNSPECIFIED"},
    {Measure::kKpi, "KPI"},
    {Measure::kPercentComplete, "PERCENT_COMPLETE"},
}};
constexpr NameTable<Direction, 5> kDirection{{
    {Direction::kUnspecified, "UNSPECIFIED"},
    {Direction::kIncrease, "INCREASE"},
    {Direction::kDecrease, "DECREASE"},
    {Direction::kAtLeast, "AT_LEAST"},
    {Direction::kAtMost, "AT_MOST"},
}};
constexpr NameTable<DataSource, 4> kDataSource{{
    {DataSource::kUnknown, "UNKNOWN"},
    {DataSource::kManual, "MANUAL"},
    {DataSource::kSpreadsheet, "SPREADSHEET"},
    {DataSource::kIntegration, "INTEGRATION"},
}};
constexpr NameTable<ProgressSource, 4> kProgressSource{{
    {ProgressSource::kUnspecified, "UNSPECIFIED"},
    {ProgressSource::kKeyResults, "KEY_RESULTS"},
    {ProgressSource::kChildren, "CHILDREN"},
    {ProgressSource::kBoth, "BOTH"},
}};
constexpr NameTable<CheckInStatus, 4> kCheckInStatus{{
    {CheckInStatus::kUnspecified, "UNSPECIFIED"},
    {CheckInStatus::kOnTrack, "ON_TRACK"},
    {CheckInStatus::kAtRisk, "AT_RISK"},
    {CheckInStatus::kOffTrack, "OFF_TRACK"},
}};
constexpr NameTable<Grade, 4> kGrade{{
    {Grade::kUnspecified, "UNSPECIFIED"},
    {Grade::kRed, "RED"},
    {Grade::kYellow, "YELLOW"},
    {Grade::kGreen, "GREEN"},
}};
constexpr NameTable<AlignmentKind, 3> kAlignmentKind{{
    {AlignmentKind::kNone, "NONE"},
    {AlignmentKind::kObjective, "OBJECTIVE"},
    {AlignmentKind::kKeyResult, "KEY_RESULT"},
}};
constexpr NameTable<ReviewKind, 3> kReviewKind{{
    {ReviewKind::kUnspecified, "UNSPECIFIED"},
    {ReviewKind::kMidQuarter, "MID_QUARTER"},
    {ReviewKind::kEndOfQuarter, "END_OF_QUARTER"},
}};
constexpr NameTable<ResourceKind, 9> kResourceKind{{
    {ResourceKind::kUnspecified, "UNSPECIFIED"},
    {ResourceKind::kOrganisation, "ORGANISATION"},
    {ResourceKind::kTeam, "TEAM"},
    {ResourceKind::kPerson, "PERSON"},
    {ResourceKind::kCycle, "CYCLE"},
    {ResourceKind::kObjective, "OBJECTIVE"},
    {ResourceKind::kKeyResult, "KEY_RESULT"},
    {ResourceKind::kCheckIn, "CHECK_IN"},
    {ResourceKind::kReview, "REVIEW"},
}};

}  // namespace

absl::string_view Name(PlanningProfile v) { return Lookup(kPlanningProfile, v); }
absl::string_view Name(CycleKind v) { return Lookup(kCycleKind, v); }
absl::string_view Name(CycleState v) { return Lookup(kCycleState, v); }
absl::string_view Name(Level v) { return Lookup(kLevel, v); }
absl::string_view Name(ObjectiveKind v) { return Lookup(kObjectiveKind, v); }
absl::string_view Name(Category v) { return Lookup(kCategory, v); }
absl::string_view Name(ObjectiveState v) { return Lookup(kObjectiveState, v); }
absl::string_view Name(KeyResultType v) { return Lookup(kKeyResultType, v); }
absl::string_view Name(Measure v) { return Lookup(kMeasure, v); }
absl::string_view Name(Direction v) { return Lookup(kDirection, v); }
absl::string_view Name(DataSource v) { return Lookup(kDataSource, v); }
absl::string_view Name(ProgressSource v) { return Lookup(kProgressSource, v); }
absl::string_view Name(CheckInStatus v) { return Lookup(kCheckInStatus, v); }
absl::string_view Name(Grade v) { return Lookup(kGrade, v); }
absl::string_view Name(AlignmentKind v) { return Lookup(kAlignmentKind, v); }
absl::string_view Name(ReviewKind v) { return Lookup(kReviewKind, v); }
absl::string_view Name(ResourceKind v) { return Lookup(kResourceKind, v); }

bool ParseName(absl::string_view s, PlanningProfile* out) { return Parse(kPlanningProfile, s, out); }
bool ParseName(absl::string_view s, CycleKind* out) { return Parse(kCycleKind, s, out); }
bool ParseName(absl::string_view s, CycleState* out) { return Parse(kCycleState, s, out); }
bool ParseName(absl::string_view s, Level* out) { return Parse(kLevel, s, out); }
bool ParseName(absl::string_view s, ObjectiveKind* out) { return Parse(kObjectiveKind, s, out); }
bool ParseName(absl::string_view s, Category* out) { return Parse(kCategory, s, out); }
bool ParseName(absl::string_view s, ObjectiveState* out) { return Parse(kObjectiveState, s, out); }
bool ParseName(absl::string_view s, KeyResultType* out) { return Parse(kKeyResultType, s, out); }
bool ParseName(absl::string_view s, Measure* out) { return Parse(kMeasure, s, out); }
bool ParseName(absl::string_view s, Direction* out) { return Parse(kDirection, s, out); }
bool ParseName(absl::string_view s, DataSource* out) { return Parse(kDataSource, s, out); }
bool ParseName(absl::string_view s, ProgressSource* out) { return Parse(kProgressSource, s, out); }
bool ParseName(absl::string_view s, CheckInStatus* out) { return Parse(kCheckInStatus, s, out); }
bool ParseName(absl::string_view s, Grade* out) { return Parse(kGrade, s, out); }
bool ParseName(absl::string_view s, AlignmentKind* out) { return Parse(kAlignmentKind, s, out); }
bool ParseName(absl::string_view s, ReviewKind* out) { return Parse(kReviewKind, s, out); }
bool ParseName(absl::string_view s, ResourceKind* out) {
  return Parse(kResourceKind, s, out);
}

Direction EffectiveDirection(const KeyResult& kr) {
  if (kr.direction != Direction::kUnspecified) return kr.direction;
  return kr.to < kr.from ? Direction::kDecrease : Direction::kIncrease;
}

}  // namespace okr
