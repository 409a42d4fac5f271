// Tests of the enum names and EffectiveDirection in common/model.cc.
#include "common/model.h"

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace okr {
namespace {

// Every enumerator with its contract name (proto/okr/v1/common.proto without
// the enum prefix), written out here rather than derived from model.cc.
template <typename E>
struct Named {
  E value;
  const char* name;
};

const std::vector<Named<PlanningProfile>> kPlanningProfiles = {
    {PlanningProfile::kUnspecified, "UNSPECIFIED"},
    {PlanningProfile::kSmall, "SMALL"},
    {PlanningProfile::kEnterprise, "ENTERPRISE"}};
const std::vector<Named<CycleKind>> kCycleKinds = {
    {CycleKind::kUnspecified, "UNSPECIFIED"},
    {CycleKind::kAnnual, "ANNUAL"},
    {CycleKind::kQuarterly, "QUARTERLY"},
    {CycleKind::kMonthly, "MONTHLY"}};
const std::vector<Named<CycleState>> kCycleStates = {
    {CycleState::kUnspecified, "UNSPECIFIED"},
    {CycleState::kPlanning, "PLANNING"},
    {CycleState::kActive, "ACTIVE"},
    {CycleState::kReview, "REVIEW"},
    {CycleState::kClosed, "CLOSED"}};
const std::vector<Named<Level>> kLevels = {{Level::kUnspecified, "UNSPECIFIED"},
                                           {Level::kCompany, "COMPANY"},
                                           {Level::kTeam, "TEAM"},
                                           {Level::kIndividual, "INDIVIDUAL"}};
const std::vector<Named<ObjectiveKind>> kObjectiveKinds = {
    {ObjectiveKind::kUnspecified, "UNSPECIFIED"},
    {ObjectiveKind::kCommitted, "COMMITTED"},
    {ObjectiveKind::kAspirational, "ASPIRATIONAL"}};
const std::vector<Named<Category>> kCategories = {
    {Category::kNone, "NONE"},         {Category::kProfit, "PROFIT"},
    {Category::kProduct, "PRODUCT"},   {Category::kPeople, "PEOPLE"},
    {Category::kPromotion, "PROMOTION"}, {Category::kProgress, "PROGRESS"}};
const std::vector<Named<ObjectiveState>> kObjectiveStates = {
    {ObjectiveState::kUnspecified, "UNSPECIFIED"},
    {ObjectiveState::kDraft, "DRAFT"},
    {ObjectiveState::kPublished, "PUBLISHED"},
    {ObjectiveState::kArchived, "ARCHIVED"}};
const std::vector<Named<KeyResultType>> kKeyResultTypes = {
    {KeyResultType::kUnspecified, "UNSPECIFIED"},
    {KeyResultType::kMetric, "METRIC"},
    {KeyResultType::kMilestone, "MILESTONE"}};
const std::vector<Named<Measure>> kMeasures = {
    {Measure::kUnspecified, "UNSPECIFIED"},
    {Measure::kKpi, "KPI"},
    {Measure::kPercentComplete, "PERCENT_COMPLETE"}};
const std::vector<Named<Direction>> kDirections = {
    {Direction::kUnspecified, "UNSPECIFIED"},
    {Direction::kIncrease, "INCREASE"},
    {Direction::kDecrease, "DECREASE"},
    {Direction::kAtLeast, "AT_LEAST"},
    {Direction::kAtMost, "AT_MOST"}};
const std::vector<Named<DataSource>> kDataSources = {
    {DataSource::kUnknown, "UNKNOWN"},
    {DataSource::kManual, "MANUAL"},
    {DataSource::kSpreadsheet, "SPREADSHEET"},
    {DataSource::kIntegration, "INTEGRATION"}};
const std::vector<Named<ProgressSource>> kProgressSources = {
    {ProgressSource::kUnspecified, "UNSPECIFIED"},
    {ProgressSource::kKeyResults, "KEY_RESULTS"},
    {ProgressSource::kChildren, "CHILDREN"},
    {ProgressSource::kBoth, "BOTH"}};
const std::vector<Named<CheckInStatus>> kCheckInStatuses = {
    {CheckInStatus::kUnspecified, "UNSPECIFIED"},
    {CheckInStatus::kOnTrack, "ON_TRACK"},
    {CheckInStatus::kAtRisk, "AT_RISK"},
    {CheckInStatus::kOffTrack, "OFF_TRACK"}};
const std::vector<Named<Grade>> kGrades = {{Grade::kUnspecified, "UNSPECIFIED"},
                                           {Grade::kRed, "RED"},
                                           {Grade::kYellow, "YELLOW"},
                                           {Grade::kGreen, "GREEN"}};
const std::vector<Named<AlignmentKind>> kAlignmentKinds = {
    {AlignmentKind::kNone, "NONE"},
    {AlignmentKind::kObjective, "OBJECTIVE"},
    {AlignmentKind::kKeyResult, "KEY_RESULT"}};
const std::vector<Named<ReviewKind>> kReviewKinds = {
    {ReviewKind::kUnspecified, "UNSPECIFIED"},
    {ReviewKind::kMidQuarter, "MID_QUARTER"},
    {ReviewKind::kEndOfQuarter, "END_OF_QUARTER"}};

// Name() gives the contract name of each value, and the names are distinct.
template <typename E>
void ExpectNames(const std::vector<Named<E>>& table) {
  std::set<std::string> seen;
  for (const auto& [value, name] : table) {
    EXPECT_EQ(Name(value), name);
    EXPECT_TRUE(seen.insert(std::string(Name(value))).second)
        << "duplicate name " << name;
  }
}

// ParseName() inverts Name(), in upper and in lower case.
template <typename E>
void ExpectParses(const std::vector<Named<E>>& table) {
  for (const auto& [value, name] : table) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    for (const std::string& spelling : {std::string(name), lower}) {
      // Start from another value so that a parse that writes nothing fails.
      E out = table.front().value == value ? table.back().value
                                           : table.front().value;
      ASSERT_TRUE(ParseName(spelling, &out)) << spelling;
      EXPECT_EQ(out, value) << spelling;
    }
  }
}

TEST(ModelNamesTest, EveryEnumHasItsContractNames) {
  ExpectNames(kPlanningProfiles);
  ExpectNames(kCycleKinds);
  ExpectNames(kCycleStates);
  ExpectNames(kLevels);
  ExpectNames(kObjectiveKinds);
  ExpectNames(kCategories);
  ExpectNames(kObjectiveStates);
  ExpectNames(kKeyResultTypes);
  ExpectNames(kMeasures);
  ExpectNames(kDirections);
  ExpectNames(kDataSources);
  ExpectNames(kProgressSources);
  ExpectNames(kCheckInStatuses);
  ExpectNames(kGrades);
  ExpectNames(kAlignmentKinds);
  ExpectNames(kReviewKinds);
}

TEST(ModelNamesTest, ParseNameInvertsNameInAnyCase) {
  ExpectParses(kPlanningProfiles);
  ExpectParses(kCycleKinds);
  ExpectParses(kCycleStates);
  ExpectParses(kLevels);
  ExpectParses(kObjectiveKinds);
  ExpectParses(kCategories);
  ExpectParses(kObjectiveStates);
  ExpectParses(kKeyResultTypes);
  ExpectParses(kMeasures);
  ExpectParses(kDirections);
  ExpectParses(kDataSources);
  ExpectParses(kProgressSources);
  ExpectParses(kCheckInStatuses);
  ExpectParses(kGrades);
  ExpectParses(kAlignmentKinds);
  ExpectParses(kReviewKinds);
}

TEST(ModelNamesTest, ParseNameAcceptsMixedCase) {
  Direction d = Direction::kUnspecified;
  ASSERT_TRUE(ParseName("At_Least", &d));
  EXPECT_EQ(d, Direction::kAtLeast);
  ObjectiveKind k = ObjectiveKind::kUnspecified;
  ASSERT_TRUE(ParseName("Aspirational", &k));
  EXPECT_EQ(k, ObjectiveKind::kAspirational);
}

TEST(ModelNamesTest, UnknownNamesAreRejectedAndLeaveTheOutputAlone) {
  for (const char* bad : {"", "SIDEWAYS", "AT LEAST", "ATLEAST", "DIRECTION_AT_LEAST",
                          " AT_LEAST", "AT_LEAST "}) {
    Direction d = Direction::kDecrease;
    EXPECT_FALSE(ParseName(bad, &d)) << "'" << bad << "'";
    EXPECT_EQ(d, Direction::kDecrease) << "'" << bad << "'";
  }
  Level level = Level::kTeam;
  EXPECT_FALSE(ParseName("ORGANIZATION", &level));
  EXPECT_EQ(level, Level::kTeam);
}

TEST(ModelNamesTest, ValuesOutsideTheEnumerationAreUnspecified) {
  EXPECT_EQ(Name(static_cast<Level>(42)), "UNSPECIFIED");
  EXPECT_EQ(Name(static_cast<Category>(-1)), "UNSPECIFIED");
  EXPECT_EQ(Name(static_cast<DataSource>(9)), "UNSPECIFIED");
}

KeyResult Metric(double from, double to, Direction direction) {
  KeyResult kr;
  kr.type = KeyResultType::kMetric;
  kr.measure = Measure::kKpi;
  kr.from = from;
  kr.to = to;
  kr.direction = direction;
  return kr;
}

TEST(EffectiveDirectionTest, DerivedFromTheSignOfToMinusFrom) {
  // "Increase NPS score from 7 to 8.5".
  EXPECT_EQ(EffectiveDirection(Metric(7, 8.5, Direction::kUnspecified)),
            Direction::kIncrease);
  // "Reduce customer response time from 72 hours to <24 hours".
  EXPECT_EQ(EffectiveDirection(Metric(72, 24, Direction::kUnspecified)),
            Direction::kDecrease);
  EXPECT_EQ(EffectiveDirection(Metric(-3, -10, Direction::kUnspecified)),
            Direction::kDecrease);
  EXPECT_EQ(EffectiveDirection(Metric(-10, -3, Direction::kUnspecified)),
            Direction::kIncrease);
}

TEST(EffectiveDirectionTest, EqualFromAndToCountAsIncrease) {
  EXPECT_EQ(EffectiveDirection(Metric(5, 5, Direction::kUnspecified)),
            Direction::kIncrease);
}

TEST(EffectiveDirectionTest, AGivenDirectionWins) {
  // "Maintain an NPS score greater than 8": a threshold, even though the
  // start value is already above it.
  EXPECT_EQ(EffectiveDirection(Metric(9, 8, Direction::kAtLeast)),
            Direction::kAtLeast);
  EXPECT_EQ(EffectiveDirection(Metric(10, 24, Direction::kAtMost)),
            Direction::kAtMost);
  EXPECT_EQ(EffectiveDirection(Metric(1, 2, Direction::kDecrease)),
            Direction::kDecrease);
  EXPECT_EQ(EffectiveDirection(Metric(2, 1, Direction::kIncrease)),
            Direction::kIncrease);
}

}  // namespace
}  // namespace okr
