// Tests of common/model_proto.h: enum casts checked against the proto names,
// scalar edge cases, both round trips of every resource, refusals naming
// their fields, and the lint / calendar result conversions.

#include "common/model_proto.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "common/lint.h"
#include "common/model.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "okr/v1/common.pb.h"

namespace okr {
namespace {

namespace pb = ::google::protobuf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A fixed instant with sub-second precision: 2027-03-08T09:15:30.123456789Z.
absl::Time SomeTime() {
  return absl::FromCivil(absl::CivilSecond(2027, 3, 8, 9, 15, 30),
                         absl::UTCTimeZone()) +
         absl::Nanoseconds(123456789);
}

v1::Date MakeDate(int year, int month, int day) {
  v1::Date d;
  d.set_year(year);
  d.set_month(month);
  d.set_day(day);
  return d;
}

template <typename M>
M ParseText(const std::string& text) {
  M m;
  EXPECT_TRUE(pb::TextFormat::ParseFromString(text, &m)) << text;
  return m;
}

// The fields named by the violations `status` carries.
std::vector<std::string> ViolatedFields(const absl::Status& status) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolationsOf(status)) {
    out.push_back(v.field);
  }
  return out;
}

// --- Enums ----------------------------------------------------------------

// Checks one enum pair by the proto's own names: every model value converts
// to the proto value named "<PREFIX>_<Name(v)>", and back; the number after
// the last one is refused with the field named.
template <typename Model, typename Proto>
void CheckEnum(const pb::EnumDescriptor* descriptor, absl::string_view prefix,
               Model last) {
  SCOPED_TRACE(descriptor->full_name());
  const int count = static_cast<int>(last) + 1;
  EXPECT_EQ(descriptor->value_count(), count);
  for (int i = 0; i < count; ++i) {
    const Model value = static_cast<Model>(i);
    const Proto proto = ToProto(value);
    const pb::EnumValueDescriptor* named = descriptor->FindValueByNumber(proto);
    ASSERT_NE(named, nullptr) << i;
    EXPECT_EQ(named->name(), absl::StrCat(prefix, "_", Name(value)));

    Model back = static_cast<Model>(last == value ? 0 : static_cast<int>(last));
    ASSERT_TRUE(FromProto(proto, "x", &back).ok());
    EXPECT_EQ(back, value);
    back = static_cast<Model>(last == value ? 0 : static_cast<int>(last));
    ASSERT_TRUE(FromProto(named->number(), "x", &back).ok());
    EXPECT_EQ(back, value);
  }
  for (int bad : {count, -1, 1000}) {
    Model untouched = last;
    const absl::Status status = FromProto(bad, "request.thing", &untouched);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(),
              absl::StrCat("request.thing: unknown value ", bad));
    EXPECT_THAT(ViolatedFields(status), ElementsAre("request.thing"));
    EXPECT_EQ(untouched, last);
    // Proto3 keeps unknown numbers in the enum type itself.
    EXPECT_FALSE(FromProto(static_cast<Proto>(bad), "f", &untouched).ok());
  }
}

TEST(EnumConversionTest, EveryEnumMatchesItsProtoTwinByName) {
  CheckEnum<PlanningProfile, v1::PlanningProfile>(
      v1::PlanningProfile_descriptor(), "PLANNING_PROFILE",
      PlanningProfile::kEnterprise);
  CheckEnum<CycleKind, v1::CycleKind>(v1::CycleKind_descriptor(), "CYCLE_KIND",
                                      CycleKind::kMonthly);
  CheckEnum<CycleState, v1::CycleState>(v1::CycleState_descriptor(),
                                        "CYCLE_STATE", CycleState::kClosed);
  CheckEnum<Level, v1::Level>(v1::Level_descriptor(), "LEVEL",
                              Level::kIndividual);
  CheckEnum<ObjectiveKind, v1::ObjectiveKind>(v1::ObjectiveKind_descriptor(),
                                              "OBJECTIVE_KIND",
                                              ObjectiveKind::kAspirational);
  CheckEnum<Category, v1::Category>(v1::Category_descriptor(), "CATEGORY",
                                    Category::kProgress);
  CheckEnum<ObjectiveState, v1::ObjectiveState>(v1::ObjectiveState_descriptor(),
                                                "OBJECTIVE_STATE",
                                                ObjectiveState::kArchived);
  CheckEnum<KeyResultType, v1::KeyResultType>(v1::KeyResultType_descriptor(),
                                              "KEY_RESULT_TYPE",
                                              KeyResultType::kMilestone);
  CheckEnum<Measure, v1::Measure>(v1::Measure_descriptor(), "MEASURE",
                                  Measure::kPercentComplete);
  CheckEnum<Direction, v1::Direction>(v1::Direction_descriptor(), "DIRECTION",
                                      Direction::kAtMost);
  CheckEnum<DataSource, v1::DataSource>(
      v1::DataSource_descriptor(), "DATA_SOURCE", DataSource::kIntegration);
  CheckEnum<ProgressSource, v1::ProgressSource>(v1::ProgressSource_descriptor(),
                                                "PROGRESS_SOURCE",
                                                ProgressSource::kBoth);
  CheckEnum<CheckInStatus, v1::CheckInStatus>(v1::CheckInStatus_descriptor(),
                                              "CHECK_IN_STATUS",
                                              CheckInStatus::kOffTrack);
  CheckEnum<Grade, v1::Grade>(v1::Grade_descriptor(), "GRADE", Grade::kGreen);
  CheckEnum<AlignmentKind, v1::AlignmentKind>(v1::AlignmentKind_descriptor(),
                                              "ALIGNMENT_KIND",
                                              AlignmentKind::kKeyResult);
  CheckEnum<ReviewKind, v1::ReviewKind>(
      v1::ReviewKind_descriptor(), "REVIEW_KIND", ReviewKind::kEndOfQuarter);
  CheckEnum<ResourceKind, v1::ResourceKind>(
      v1::ResourceKind_descriptor(), "RESOURCE_KIND", ResourceKind::kReview);
}

TEST(EnumConversionTest, LintSeverityIsShiftedByTheUnspecifiedValue) {
  EXPECT_EQ(ToProto(LintSeverity::kInfo), v1::LINT_SEVERITY_INFO);
  EXPECT_EQ(ToProto(LintSeverity::kWarning), v1::LINT_SEVERITY_WARNING);
  EXPECT_EQ(ToProto(LintSeverity::kError), v1::LINT_SEVERITY_ERROR);
  for (LintSeverity s :
       {LintSeverity::kInfo, LintSeverity::kWarning, LintSeverity::kError}) {
    // The proto name ends in the model's name.
    EXPECT_EQ(v1::LintSeverity_Name(ToProto(s)),
              absl::StrCat("LINT_SEVERITY_", Name(s)));
    std::optional<LintSeverity> back;
    ASSERT_TRUE(FromProto(ToProto(s), "minimum_severity", &back).ok());
    EXPECT_EQ(back, s);
  }

  std::optional<LintSeverity> minimum = LintSeverity::kError;
  ASSERT_TRUE(
      FromProto(v1::LINT_SEVERITY_UNSPECIFIED, "minimum_severity", &minimum)
          .ok());
  EXPECT_EQ(minimum, std::nullopt);

  minimum = LintSeverity::kWarning;
  const absl::Status status = FromProto(4, "minimum_severity", &minimum);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "minimum_severity: unknown value 4");
  EXPECT_EQ(minimum, LintSeverity::kWarning);
  EXPECT_FALSE(FromProto(-1, "minimum_severity", &minimum).ok());
}

// --- Dates ----------------------------------------------------------------

TEST(DateConversionTest, ValidDaysRoundTrip) {
  for (const absl::CivilDay day :
       {absl::CivilDay(1, 1, 1), absl::CivilDay(2027, 2, 1),
        absl::CivilDay(2028, 2, 29), absl::CivilDay(2000, 2, 29),
        absl::CivilDay(9999, 12, 31), absl::CivilDay(2027, 4, 30)}) {
    const v1::Date proto = ToProto(day);
    EXPECT_EQ(proto.year(), day.year());
    EXPECT_EQ(proto.month(), day.month());
    EXPECT_EQ(proto.day(), day.day());
    absl::CivilDay back;
    ASSERT_TRUE(FromProto(proto, "start_date", &back).ok()) << day;
    EXPECT_EQ(back, day);
  }
}

TEST(DateConversionTest, ImpossibleDatesAreRefusedNotNormalised) {
  struct Case {
    int year, month, day;
    const char* expect;  // a part of the message
  };
  for (const Case& c : std::vector<Case>{
           {2027, 4, 31, "day 31 does not exist in 2027-04"},
           {2027, 2, 29, "day 29 does not exist in 2027-02"},
           {1900, 2, 29, "day 29"},  // not a leap year (century rule)
           {2027, 1, 0, "day 0"},
           {2027, 1, 32, "day 32"},
           {2027, 0, 10, "month 0 is not in 1..12"},
           {2027, 13, 10, "month 13"},
           {0, 1, 1, "year 0 is not in 1..9999"},
           {10000, 1, 1, "year 10000"},
           {0, 0, 0, "year 0"},  // an unset Date
       }) {
    SCOPED_TRACE(absl::StrCat(c.year, "-", c.month, "-", c.day));
    absl::CivilDay out(2001, 2, 3);
    const absl::Status status =
        FromProto(MakeDate(c.year, c.month, c.day), "cycle.end_date", &out);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()),
                ::testing::StartsWith("cycle.end_date: "));
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.expect));
    EXPECT_THAT(ViolatedFields(status), ElementsAre("cycle.end_date"));
    EXPECT_EQ(out, absl::CivilDay(2001, 2, 3));
  }
}

// --- Timestamps -----------------------------------------------------------

TEST(TimestampConversionTest, InfinitePastIsTheEmptyTimestamp) {
  const pb::Timestamp empty = ToProto(absl::InfinitePast());
  EXPECT_EQ(empty.seconds(), 0);
  EXPECT_EQ(empty.nanos(), 0);
  absl::Time back = SomeTime();
  ASSERT_TRUE(FromProto(pb::Timestamp(), "create_time", &back).ok());
  EXPECT_EQ(back, absl::InfinitePast());
}

TEST(TimestampConversionTest, InstantsConvertToTheNanosecond) {
  const absl::Time t = SomeTime();
  const pb::Timestamp proto = ToProto(t);
  // 2027-03-08T09:15:30Z is 1804497330 seconds after the epoch.
  EXPECT_EQ(proto.seconds(), 1804497330);
  EXPECT_EQ(proto.nanos(), 123456789);
  absl::Time back;
  ASSERT_TRUE(FromProto(proto, "time", &back).ok());
  EXPECT_EQ(back, t);
}

TEST(TimestampConversionTest, InstantsBeforeTheEpochKeepNanosPositive) {
  const absl::Time t = absl::UnixEpoch() - absl::Nanoseconds(1);
  const pb::Timestamp proto = ToProto(t);
  EXPECT_EQ(proto.seconds(), -1);
  EXPECT_EQ(proto.nanos(), 999999999);
  absl::Time back;
  ASSERT_TRUE(FromProto(proto, "time", &back).ok());
  EXPECT_EQ(back, t);

  const absl::Time first =
      absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  ASSERT_TRUE(FromProto(ToProto(first), "time", &back).ok());
  EXPECT_EQ(back, first);
}

TEST(TimestampConversionTest, InfiniteFutureIsClampedToTheLastInstant) {
  const pb::Timestamp proto = ToProto(absl::InfiniteFuture());
  absl::Time back;
  ASSERT_TRUE(FromProto(proto, "time", &back).ok());
  EXPECT_EQ(back, absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59),
                                  absl::UTCTimeZone()) +
                      absl::Nanoseconds(999999999));
}

TEST(TimestampConversionTest, OutOfRangeTimestampsAreRefused) {
  const absl::Time before = SomeTime();
  for (const auto& [seconds, nanos] : std::vector<std::pair<int64_t, int32_t>>{
           {253402300800, 0}, {-62135596801, 0}, {10, -1}, {10, 1000000000}}) {
    SCOPED_TRACE(absl::StrCat(seconds, "s ", nanos, "ns"));
    pb::Timestamp proto;
    proto.set_seconds(seconds);
    proto.set_nanos(nanos);
    absl::Time out = before;
    const absl::Status status = FromProto(proto, "check_in.time", &out);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(ViolatedFields(status), ElementsAre("check_in.time"));
    EXPECT_EQ(out, before);
  }
}

// --- Resources: comparison helpers and fully populated values -------------

// Field by field, so that a failure names the member that did not survive.
void ExpectEqual(const Organisation& a, const Organisation& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.fiscal_year_start_month, b.fiscal_year_start_month);
  EXPECT_EQ(a.time_zone, b.time_zone);
  EXPECT_EQ(a.mission, b.mission);
  EXPECT_EQ(a.vision, b.vision);
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(a.planning_profile, b.planning_profile);
  EXPECT_EQ(a.check_in_grace_days, b.check_in_grace_days);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.create_time, b.create_time);
  EXPECT_EQ(a.update_time, b.update_time);
}

void ExpectEqual(const Team& a, const Team& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.organisation_id, b.organisation_id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.parent_team_id, b.parent_team_id);
  EXPECT_EQ(a.lead_person_id, b.lead_person_id);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.create_time, b.create_time);
  EXPECT_EQ(a.update_time, b.update_time);
}

void ExpectEqual(const Person& a, const Person& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.organisation_id, b.organisation_id);
  EXPECT_EQ(a.display_name, b.display_name);
  EXPECT_EQ(a.email, b.email);
  EXPECT_EQ(a.team_ids, b.team_ids);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.create_time, b.create_time);
  EXPECT_EQ(a.update_time, b.update_time);
}

void ExpectEqual(const Cycle& a, const Cycle& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.organisation_id, b.organisation_id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.start, b.start);
  EXPECT_EQ(a.end, b.end);
  EXPECT_EQ(a.parent_cycle_id, b.parent_cycle_id);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.check_in_grace_days, b.check_in_grace_days);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.create_time, b.create_time);
  EXPECT_EQ(a.update_time, b.update_time);
}

void ExpectEqual(const Alignment& a, const Alignment& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.parent_objective_id, b.parent_objective_id);
  EXPECT_EQ(a.parent_key_result_id, b.parent_key_result_id);
  EXPECT_EQ(a.weight, b.weight);
}

void ExpectEqual(const Objective& a, const Objective& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.organisation_id, b.organisation_id);
  EXPECT_EQ(a.title, b.title);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.level, b.level);
  EXPECT_EQ(a.owner_id, b.owner_id);
  EXPECT_EQ(a.team_id, b.team_id);
  EXPECT_EQ(a.cycle_id, b.cycle_id);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.category, b.category);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.progress_source, b.progress_source);
  ExpectEqual(a.alignment, b.alignment);
  EXPECT_EQ(a.breakdown_of_objective_id, b.breakdown_of_objective_id);
  EXPECT_EQ(a.rolled_over_from_id, b.rolled_over_from_id);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.create_time, b.create_time);
  EXPECT_EQ(a.update_time, b.update_time);
}

void ExpectEqual(const KeyResult& a, const KeyResult& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.organisation_id, b.organisation_id);
  EXPECT_EQ(a.objective_id, b.objective_id);
  EXPECT_EQ(a.title, b.title);
  EXPECT_EQ(a.owner_id, b.owner_id);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.measure, b.measure);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.unit, b.unit);
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_EQ(a.data_source, b.data_source);
  EXPECT_EQ(a.data_source_ref, b.data_source_ref);
  EXPECT_EQ(a.progress_from_children, b.progress_from_children);
  EXPECT_EQ(a.archived, b.archived);
  EXPECT_EQ(a.rolled_over_from_id, b.rolled_over_from_id);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.create_time, b.create_time);
  EXPECT_EQ(a.update_time, b.update_time);
}

void ExpectEqual(const CheckIn& a, const CheckIn& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.organisation_id, b.organisation_id);
  EXPECT_EQ(a.key_result_id, b.key_result_id);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.done, b.done);
  EXPECT_EQ(a.confidence, b.confidence);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.note, b.note);
  EXPECT_EQ(a.author_id, b.author_id);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.client_key, b.client_key);
  EXPECT_EQ(a.create_time, b.create_time);
}

// Every member set to a value other than its default (organisation_id
// excepted: it is not on the wire). Data from the annual planning document.
Organisation FullOrganisation() {
  Organisation o;
  o.id = "acme";
  o.name = "Acme Outdoor";
  o.fiscal_year_start_month = 2;
  o.time_zone = "America/New_York";
  o.mission = "Get everyone outside.";
  o.vision = "Every family owns one piece of our gear by 2030.";
  o.values = {"Customers first", "Own the outcome", "Keep it simple"};
  o.planning_profile = PlanningProfile::kEnterprise;
  o.check_in_grace_days = 0;  // set, and equal to the proto default
  o.version = 7;
  o.create_time = SomeTime() - absl::Hours(24 * 400);
  o.update_time = SomeTime();
  return o;
}

Team FullTeam() {
  Team t;
  t.id = "team_marketing";
  t.name = "Marketing";
  t.parent_team_id = "team_growth";
  t.lead_person_id = "p_dana";
  t.version = 3;
  t.create_time = SomeTime() - absl::Seconds(1);
  t.update_time = SomeTime();
  return t;
}

Person FullPerson() {
  Person p;
  p.id = "p_dana";
  p.display_name = "Dana Diaz";
  p.email = "dana@acme.example";
  p.team_ids = {"team_marketing", "team_growth"};
  p.version = 2;
  p.create_time = SomeTime() - absl::Milliseconds(5);
  p.update_time = SomeTime();
  return p;
}

Cycle FullCycle() {
  Cycle c;
  c.id = "cy_fy2027_q1";
  c.name = "FY2027-Q1";
  c.kind = CycleKind::kQuarterly;
  c.start = absl::CivilDay(2026, 2, 1);
  c.end = absl::CivilDay(2026, 5, 1);
  c.parent_cycle_id = "cy_fy2027";
  c.state = CycleState::kReview;
  c.check_in_grace_days = 14;
  c.version = 5;
  c.create_time = SomeTime() - absl::Hours(1);
  c.update_time = SomeTime();
  return c;
}

Objective FullObjective() {
  Objective o;
  o.id = "obj_7";
  o.title = "Delight our first-time customers";
  o.description = "Onboarding is where we lose people.\nFix it.";
  o.level = Level::kTeam;
  o.owner_id = "p_dana";
  o.team_id = "team_marketing";
  o.cycle_id = "cy_fy2027_q1";
  o.kind = ObjectiveKind::kAspirational;
  o.category = Category::kPromotion;
  o.priority = 2;
  o.state = ObjectiveState::kPublished;
  o.progress_source = ProgressSource::kBoth;
  o.alignment.kind = AlignmentKind::kKeyResult;
  o.alignment.parent_objective_id = "obj_1";
  o.alignment.parent_key_result_id = "kr_3";
  o.alignment.weight = 2.5;
  o.breakdown_of_objective_id = "obj_annual_2";
  o.rolled_over_from_id = "obj_old_7";
  o.version = 11;
  o.create_time = SomeTime() - absl::Hours(3);
  o.update_time = SomeTime();
  return o;
}

KeyResult FullKeyResult() {
  KeyResult k;
  k.id = "kr_9";
  k.objective_id = "obj_7";
  k.title = "Raise NPS from 32 to 45";
  k.owner_id = "p_eli";
  k.type = KeyResultType::kMetric;
  k.measure = Measure::kKpi;
  k.from = 32.5;
  k.to = -45.25;  // a negative value survives too
  k.unit = "points";
  k.direction = Direction::kAtLeast;
  k.weight = 0.75;
  k.data_source = DataSource::kIntegration;
  k.data_source_ref = "salesforce:report/42";
  k.progress_from_children = true;
  k.archived = true;
  k.rolled_over_from_id = "kr_old_9";
  k.version = 4;
  k.create_time = SomeTime() - absl::Minutes(2);
  k.update_time = SomeTime();
  return k;
}

CheckIn FullCheckIn() {
  CheckIn c;
  c.id = "ci_12";
  c.key_result_id = "kr_9";
  c.value = 38.5;
  c.done = false;  // set, and equal to the proto default
  c.confidence = 0;
  c.status = CheckInStatus::kAtRisk;
  c.note = "Survey results came in late.";
  c.author_id = "p_eli";
  c.time = SomeTime() - absl::Hours(2);
  c.client_key = "5f0c8f0e-1c1d-4a43-9a55-1f1a4c3f2b9e";
  c.create_time = SomeTime();
  return c;
}

template <typename Model, typename Proto>
void ExpectModelRoundTrip(const Model& value, absl::string_view field) {
  const Proto proto = ToProto(value);
  Model back;
  const absl::Status status = FromProto(proto, field, &back);
  ASSERT_TRUE(status.ok()) << status;
  ExpectEqual(back, value);
}

TEST(ResourceRoundTripTest, ModelSurvivesToProtoAndBack) {
  ExpectModelRoundTrip<Organisation, v1::Organisation>(FullOrganisation(),
                                                       "organisation");
  ExpectModelRoundTrip<Team, v1::Team>(FullTeam(), "team");
  ExpectModelRoundTrip<Person, v1::Person>(FullPerson(), "person");
  ExpectModelRoundTrip<Cycle, v1::Cycle>(FullCycle(), "cycle");
  ExpectModelRoundTrip<Objective, v1::Objective>(FullObjective(), "objective");
  ExpectModelRoundTrip<KeyResult, v1::KeyResult>(FullKeyResult(), "key_result");
  ExpectModelRoundTrip<CheckIn, v1::CheckIn>(FullCheckIn(), "check_in");

  Alignment alignment = FullObjective().alignment;
  Alignment back;
  ASSERT_TRUE(FromProto(ToProto(alignment), "alignment", &back).ok());
  ExpectEqual(back, alignment);
}

TEST(ResourceRoundTripTest, DefaultValuesSurviveToo) {
  // Unset optionals, InfinitePast times and zero enums must not turn into
  // something else on the way back.
  ExpectModelRoundTrip<Organisation, v1::Organisation>(Organisation(),
                                                       "organisation");
  ExpectModelRoundTrip<Cycle, v1::Cycle>(Cycle(), "cycle");
  ExpectModelRoundTrip<Objective, v1::Objective>(Objective(), "objective");
  ExpectModelRoundTrip<KeyResult, v1::KeyResult>(KeyResult(), "key_result");
  ExpectModelRoundTrip<CheckIn, v1::CheckIn>(CheckIn(), "check_in");
}

TEST(ResourceRoundTripTest, ProtoPresenceFollowsTheOptionals) {
  Organisation org = FullOrganisation();
  EXPECT_TRUE(ToProto(org).has_check_in_grace_days());
  org.check_in_grace_days.reset();
  EXPECT_FALSE(ToProto(org).has_check_in_grace_days());
  Cycle cycle = FullCycle();
  cycle.check_in_grace_days.reset();
  EXPECT_FALSE(ToProto(cycle).has_check_in_grace_days());

  const v1::CheckIn full = ToProto(FullCheckIn());
  EXPECT_TRUE(full.has_value());
  EXPECT_TRUE(full.has_done());
  EXPECT_TRUE(full.has_confidence());
  const v1::CheckIn empty = ToProto(CheckIn());
  EXPECT_FALSE(empty.has_value());
  EXPECT_FALSE(empty.has_done());
  EXPECT_FALSE(empty.has_confidence());
  EXPECT_FALSE(empty.has_time());  // InfinitePast() is not sent at all
}

TEST(ResourceRoundTripTest, WireNamesOfRenamedFields) {
  const v1::KeyResult kr = ToProto(FullKeyResult());
  EXPECT_EQ(kr.start_value(), 32.5);
  EXPECT_EQ(kr.target_value(), -45.25);
  const v1::Cycle cycle = ToProto(FullCycle());
  EXPECT_EQ(cycle.start_date().month(), 2);
  EXPECT_EQ(cycle.end_date().month(), 5);
}

TEST(ResourceRoundTripTest, OrganisationIdIsNotOnTheWire) {
  Team team = FullTeam();
  team.organisation_id = "acme";
  Team back;
  back.organisation_id = "stale";
  ASSERT_TRUE(FromProto(ToProto(team), "team", &back).ok());
  EXPECT_EQ(back.organisation_id, "");
  EXPECT_EQ(back.name, "Marketing");
}

// Populated messages in text format, written from the .proto, not from the
// conversion code.
constexpr char kTimes[] =
    "create_time { seconds: 1804497330 nanos: 1 } "
    "update_time { seconds: -86400 nanos: 999999999 } ";

template <typename Model, typename Proto>
void ExpectProtoRoundTrip(const std::string& text, absl::string_view field) {
  SCOPED_TRACE(text);
  const Proto proto = ParseText<Proto>(text);
  Model model;
  const absl::Status status = FromProto(proto, field, &model);
  ASSERT_TRUE(status.ok()) << status;
  const Proto back = ToProto(model);
  std::string diff;
  pb::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(back, proto)) << diff;
}

TEST(ResourceRoundTripTest, ProtoSurvivesFromProtoAndBack) {
  ExpectProtoRoundTrip<Organisation, v1::Organisation>(
      absl::StrCat(
          "id: 'acme' name: 'Acme' fiscal_year_start_month: 4 "
          "time_zone: 'Europe/Paris' mission: 'm' vision: 'v' "
          "values: 'a' values: 'b' planning_profile: PLANNING_PROFILE_SMALL "
          "check_in_grace_days: 9 version: 3 ",
          kTimes),
      "organisation");
  ExpectProtoRoundTrip<Team, v1::Team>(
      absl::StrCat("id: 't1' name: 'Sales' parent_team_id: 't0' "
                   "lead_person_id: 'p1' version: 2 ",
                   kTimes),
      "team");
  ExpectProtoRoundTrip<Person, v1::Person>(
      absl::StrCat("id: 'p1' display_name: 'Ana' email: 'ana@x.example' "
                   "team_ids: 't1' team_ids: 't2' version: 8 ",
                   kTimes),
      "person");
  ExpectProtoRoundTrip<Cycle, v1::Cycle>(
      absl::StrCat("id: 'c1' name: 'FY2027' kind: CYCLE_KIND_ANNUAL "
                   "start_date { year: 2026 month: 2 day: 1 } "
                   "end_date { year: 2027 month: 2 day: 1 } "
                   "parent_cycle_id: 'c0' state: CYCLE_STATE_CLOSED "
                   "check_in_grace_days: 0 version: 6 ",
                   kTimes),
      "cycle");
  ExpectProtoRoundTrip<Objective, v1::Objective>(
      absl::StrCat(
          "id: 'o1' title: 'Win' description: 'd' level: LEVEL_INDIVIDUAL "
          "owner_id: 'p1' team_id: 't1' cycle_id: 'c1' "
          "kind: OBJECTIVE_KIND_COMMITTED category: CATEGORY_PEOPLE "
          "priority: 3 state: OBJECTIVE_STATE_ARCHIVED "
          "progress_source: PROGRESS_SOURCE_CHILDREN "
          "alignment { kind: ALIGNMENT_KIND_OBJECTIVE parent_objective_id: "
          "'o0' parent_key_result_id: 'k0' weight: 0.5 } "
          "breakdown_of_objective_id: 'o9' rolled_over_from_id: 'o8' "
          "version: 12 ",
          kTimes),
      "objective");
  ExpectProtoRoundTrip<KeyResult, v1::KeyResult>(
      absl::StrCat(
          "id: 'k1' objective_id: 'o1' title: 'Cut churn' owner_id: 'p2' "
          "type: KEY_RESULT_TYPE_METRIC measure: MEASURE_PERCENT_COMPLETE "
          "start_value: 10 target_value: 2.5 unit: '%' "
          "direction: DIRECTION_DECREASE weight: 3 "
          "data_source: DATA_SOURCE_SPREADSHEET data_source_ref: 'sheet' "
          "progress_from_children: true archived: true "
          "rolled_over_from_id: 'k0' version: 9 ",
          kTimes),
      "key_result");
  ExpectProtoRoundTrip<CheckIn, v1::CheckIn>(
      "id: 'ci1' key_result_id: 'k1' value: 7.25 done: true confidence: 10 "
      "status: CHECK_IN_STATUS_OFF_TRACK note: 'n' author_id: 'p2' "
      "time { seconds: 1804497000 } client_key: 'ck' "
      "create_time { seconds: 1804497330 nanos: 5 }",
      "check_in");
  // A create request: no output-only fields, no timestamps at all.
  ExpectProtoRoundTrip<Team, v1::Team>("name: 'Sales'", "team");
  ExpectProtoRoundTrip<Alignment, v1::Alignment>(
      "kind: ALIGNMENT_KIND_KEY_RESULT parent_objective_id: 'o0' "
      "parent_key_result_id: 'k0' weight: 1000",
      "alignment");
}

// Fails if a field is added to a message without a conversion: every field
// of the text messages above must be set, so count them against the
// descriptor.
TEST(ResourceRoundTripTest, EveryProtoFieldHasAModelTwin) {
  const v1::Organisation org = ToProto(FullOrganisation());
  const v1::Team team = ToProto(FullTeam());
  const v1::Person person = ToProto(FullPerson());
  const v1::Cycle cycle = ToProto(FullCycle());
  const v1::Objective objective = ToProto(FullObjective());
  const v1::Alignment alignment = ToProto(FullObjective().alignment);
  const v1::KeyResult kr = ToProto(FullKeyResult());
  const v1::CheckIn check_in = ToProto(FullCheckIn());
  for (const pb::Message* m :
       std::vector<const pb::Message*>{&org, &team, &person, &cycle, &objective,
                                       &alignment, &kr, &check_in}) {
    std::vector<const pb::FieldDescriptor*> set;
    m->GetReflection()->ListFields(*m, &set);
    EXPECT_EQ(static_cast<int>(set.size()), m->GetDescriptor()->field_count())
        << m->GetDescriptor()->full_name()
        << " leaves a field unset: " << m->ShortDebugString();
  }
}

// --- Refusals -------------------------------------------------------------

TEST(FromProtoRefusalTest, ObjectiveReportsEveryBadFieldUnderThePrefix) {
  v1::Objective proto = ToProto(FullObjective());
  proto.set_level(static_cast<v1::Level>(7));
  proto.set_category(static_cast<v1::Category>(6));
  proto.mutable_alignment()->set_kind(static_cast<v1::AlignmentKind>(3));
  proto.mutable_alignment()->set_weight(kNaN);
  proto.mutable_update_time()->set_nanos(-5);
  Objective out = FullObjective();
  out.title = "untouched";
  const absl::Status status = FromProto(proto, "items[2].objective", &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFields(status),
              UnorderedElementsAre("items[2].objective.level",
                                   "items[2].objective.category",
                                   "items[2].objective.alignment.kind",
                                   "items[2].objective.alignment.weight",
                                   "items[2].objective.update_time"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("items[2].objective.level: unknown value 7"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("items[2].objective.alignment.weight: must be a "
                        "finite number"));
  EXPECT_EQ(out.title, "untouched");
}

TEST(FromProtoRefusalTest, KeyResultRefusesNonFiniteNumbers) {
  v1::KeyResult proto = ToProto(FullKeyResult());
  proto.set_start_value(kInf);
  proto.set_target_value(kNaN);
  proto.set_weight(-kInf);
  proto.set_direction(static_cast<v1::Direction>(5));
  KeyResult out;
  const absl::Status status = FromProto(proto, "key_result", &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      ViolatedFields(status),
      UnorderedElementsAre("key_result.start_value", "key_result.target_value",
                           "key_result.weight", "key_result.direction"));
  EXPECT_EQ(out.title, "");  // left as it was

  // Large but finite numbers are the validator's business, not ours.
  proto = ToProto(FullKeyResult());
  proto.set_target_value(std::numeric_limits<double>::max());
  ASSERT_TRUE(FromProto(proto, "key_result", &out).ok());
  EXPECT_EQ(out.to, std::numeric_limits<double>::max());
}

TEST(FromProtoRefusalTest, CheckInRefusesANonFiniteValueAndBadTime) {
  v1::CheckIn proto = ToProto(FullCheckIn());
  proto.set_value(kNaN);
  proto.mutable_time()->set_seconds(253402300800);
  proto.set_status(static_cast<v1::CheckInStatus>(-2));
  CheckIn out;
  const absl::Status status = FromProto(proto, "check_in", &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFields(status),
              UnorderedElementsAre("check_in.value", "check_in.time",
                                   "check_in.status"));
}

TEST(FromProtoRefusalTest, CycleRefusesImpossibleDates) {
  v1::Cycle proto = ToProto(FullCycle());
  *proto.mutable_start_date() = MakeDate(2027, 4, 31);
  proto.clear_end_date();  // an unset Date is year 0: refused as well
  proto.set_kind(static_cast<v1::CycleKind>(4));
  proto.set_state(static_cast<v1::CycleState>(5));
  Cycle out;
  const absl::Status status = FromProto(proto, "cycle", &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFields(status),
              UnorderedElementsAre("cycle.start_date", "cycle.end_date",
                                   "cycle.kind", "cycle.state"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("cycle.start_date: day 31 does not exist in 2027-04"));
}

TEST(FromProtoRefusalTest, DirectoryResourcesRefuseBadTimesAndProfiles) {
  v1::Organisation org = ToProto(FullOrganisation());
  org.set_planning_profile(static_cast<v1::PlanningProfile>(3));
  org.mutable_create_time()->set_seconds(-62135596801);
  Organisation org_out;
  EXPECT_THAT(ViolatedFields(FromProto(org, "organisation", &org_out)),
              UnorderedElementsAre("organisation.planning_profile",
                                   "organisation.create_time"));

  v1::Team team = ToProto(FullTeam());
  team.mutable_update_time()->set_nanos(1000000000);
  Team team_out;
  EXPECT_THAT(ViolatedFields(FromProto(team, "team", &team_out)),
              ElementsAre("team.update_time"));

  v1::Person person = ToProto(FullPerson());
  person.mutable_create_time()->set_nanos(-1);
  Person person_out;
  EXPECT_THAT(ViolatedFields(FromProto(person, "person", &person_out)),
              ElementsAre("person.create_time"));

  v1::Alignment alignment;
  alignment.set_weight(kInf);
  Alignment alignment_out;
  EXPECT_THAT(
      ViolatedFields(FromProto(alignment, "request.alignment", &alignment_out)),
      ElementsAre("request.alignment.weight"));
}

// --- Results --------------------------------------------------------------

TEST(LintFindingTest, TargetsPointAtTheResourceOrTheOwner) {
  Finding on_kr;
  on_kr.rule_id = "metric-without-range";
  on_kr.severity = LintSeverity::kError;
  on_kr.target_kind = LintTarget::kKeyResult;
  on_kr.target_id = "kr_9";
  on_kr.objective_id = "obj_7";
  on_kr.owner_id = "p_dana";
  on_kr.cycle_id = "cy_1";
  on_kr.message = "Key result 'Grow': from and to are equal.";
  const v1::LintFinding kr = ToProto(on_kr);
  EXPECT_EQ(kr.rule_id(), "metric-without-range");
  EXPECT_EQ(kr.severity(), v1::LINT_SEVERITY_ERROR);
  EXPECT_EQ(kr.target().kind(), v1::RESOURCE_KIND_KEY_RESULT);
  EXPECT_EQ(kr.target().id(), "kr_9");
  EXPECT_EQ(kr.message(), on_kr.message);
  EXPECT_EQ(kr.field(), "target_value");

  Finding on_objective = on_kr;
  on_objective.rule_id = "too-few-key-results";
  on_objective.severity = LintSeverity::kWarning;
  on_objective.target_kind = LintTarget::kObjective;
  on_objective.target_id = "obj_7";
  const v1::LintFinding objective = ToProto(on_objective);
  EXPECT_EQ(objective.severity(), v1::LINT_SEVERITY_WARNING);
  EXPECT_EQ(objective.target().kind(), v1::RESOURCE_KIND_OBJECTIVE);
  EXPECT_EQ(objective.target().id(), "obj_7");
  EXPECT_EQ(objective.field(), "");  // about the count, not one field
}

TEST(LintFindingTest, OwnerCycleFindingsFromLintNameThePerson) {
  Plan plan;
  plan.organisation = FullOrganisation();
  plan.cycles = {FullCycle()};
  Objective objective = FullObjective();
  objective.state = ObjectiveState::kPublished;
  plan.objectives = {objective};
  const std::vector<Finding> findings =
      LintOwnerCycle(plan, objective.owner_id, objective.cycle_id);
  bool saw_owner_cycle = false;
  for (const Finding& f : findings) {
    const v1::LintFinding proto = ToProto(f);
    EXPECT_EQ(proto.rule_id(), f.rule_id);
    EXPECT_EQ(proto.message(), f.message);
    if (f.target_kind == LintTarget::kOwnerCycle) {
      saw_owner_cycle = true;
      EXPECT_EQ(proto.target().kind(), v1::RESOURCE_KIND_PERSON);
      EXPECT_EQ(proto.target().id(), "p_dana");
      EXPECT_EQ(proto.severity(), v1::LINT_SEVERITY_INFO);  // too few: INFO
    }
  }
  EXPECT_TRUE(saw_owner_cycle) << "one objective is below the minimum of "
                               << kMinObjectivesPerOwnerCycle;
}

TEST(PlanningMilestoneTest, FieldsMapOntoTheContractNames) {
  PlanningMilestone m;
  m.id = "company-okrs";
  m.title = "Company OKRs";
  m.who = "Executives and senior leadership";
  m.what = "Draft the company objectives.";
  m.start = absl::CivilDay(2026, 11, 16);
  m.due = absl::CivilDay(2026, 12, 4);
  const v1::PlanningMilestone proto = ToProto(m);
  EXPECT_EQ(proto.key(), "company-okrs");
  EXPECT_EQ(proto.title(), "Company OKRs");
  EXPECT_EQ(proto.audience(), m.who);
  EXPECT_EQ(proto.description(), m.what);
  absl::CivilDay start, due;
  ASSERT_TRUE(FromProto(proto.start_date(), "start_date", &start).ok());
  ASSERT_TRUE(FromProto(proto.due_date(), "due_date", &due).ok());
  EXPECT_EQ(start, m.start);
  EXPECT_EQ(due, m.due);
}

TEST(PlanningMilestoneTest, ARealTimelineConverts) {
  const absl::StatusOr<FiscalCalendar> calendar = FiscalCalendar::Create(2);
  ASSERT_TRUE(calendar.ok()) << calendar.status();
  const auto timeline =
      PlanningTimeline(*calendar, 2027, PlanningProfile::kEnterprise);
  ASSERT_TRUE(timeline.ok()) << timeline.status();
  ASSERT_FALSE(timeline->empty());
  for (const PlanningMilestone& m : *timeline) {
    const v1::PlanningMilestone proto = ToProto(m);
    EXPECT_EQ(proto.key(), m.id);
    absl::CivilDay start, due;
    ASSERT_TRUE(FromProto(proto.start_date(), "start_date", &start).ok());
    ASSERT_TRUE(FromProto(proto.due_date(), "due_date", &due).ok());
    EXPECT_EQ(start, m.start);
    EXPECT_EQ(due, m.due);
  }
}

}  // namespace
}  // namespace okr
