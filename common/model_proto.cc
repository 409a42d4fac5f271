#include "common/model_proto.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/validation.h"

namespace okr {
namespace {

namespace pb = ::google::protobuf;

// The range google.protobuf.Timestamp documents: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
constexpr int32_t kMaxNanos = 999999999;

// The last enumerator of each model enum; FromProto accepts 0..kLast.
template <typename Model>
struct EnumTraits;

#define OKR_ENUM_TRAITS(Model, Last, Proto)                      \
  template <>                                                    \
  struct EnumTraits<Model> {                                     \
    static constexpr int kLast = static_cast<int>(Model::Last);  \
  };                                                             \
  /* A new enumerator on one side only would make casts lie. */  \
  static_assert(EnumTraits<Model>::kLast == v1::Proto##_MAX,     \
                #Model " and okr.v1." #Proto " differ in size"); \
  static_assert(v1::Proto##_MIN == 0, "okr.v1." #Proto " must start at 0");
OKR_ENUM_TRAITS(PlanningProfile, kEnterprise, PlanningProfile)
OKR_ENUM_TRAITS(CycleKind, kMonthly, CycleKind)
OKR_ENUM_TRAITS(CycleState, kClosed, CycleState)
OKR_ENUM_TRAITS(Level, kIndividual, Level)
OKR_ENUM_TRAITS(ObjectiveKind, kAspirational, ObjectiveKind)
OKR_ENUM_TRAITS(Category, kProgress, Category)
OKR_ENUM_TRAITS(ObjectiveState, kArchived, ObjectiveState)
OKR_ENUM_TRAITS(KeyResultType, kMilestone, KeyResultType)
OKR_ENUM_TRAITS(Measure, kPercentComplete, Measure)
OKR_ENUM_TRAITS(Direction, kAtMost, Direction)
OKR_ENUM_TRAITS(DataSource, kIntegration, DataSource)
OKR_ENUM_TRAITS(ProgressSource, kBoth, ProgressSource)
OKR_ENUM_TRAITS(CheckInStatus, kOffTrack, CheckInStatus)
OKR_ENUM_TRAITS(Grade, kGreen, Grade)
OKR_ENUM_TRAITS(AlignmentKind, kKeyResult, AlignmentKind)
OKR_ENUM_TRAITS(ReviewKind, kEndOfQuarter, ReviewKind)
OKR_ENUM_TRAITS(ResourceKind, kReview, ResourceKind)
#undef OKR_ENUM_TRAITS

// Each *Problem function returns what is wrong with a wire value, or nullopt
// when it converts; the public FromProto overloads and Converter share them.

template <typename Model>
std::optional<std::string> EnumProblem(int value, Model* out) {
  if (value < 0 || value > EnumTraits<Model>::kLast) {
    return absl::StrCat("unknown value ", value);
  }
  *out = static_cast<Model>(value);
  return std::nullopt;
}

std::optional<std::string> DateProblem(const v1::Date& date,
                                       absl::CivilDay* out) {
  if (date.year() < 1 || date.year() > 9999) {
    return absl::StrCat("year ", date.year(), " is not in 1..9999");
  }
  if (date.month() < 1 || date.month() > 12) {
    return absl::StrCat("month ", date.month(), " is not in 1..12");
  }
  // CivilDay normalises (31 April becomes 1 May): a day that does not come
  // back unchanged does not exist.
  const absl::CivilDay day(date.year(), date.month(), date.day());
  if (date.day() < 1 || day.day() != date.day() ||
      day.month() != date.month()) {
    return absl::StrFormat("day %d does not exist in %04d-%02d", date.day(),
                           date.year(), date.month());
  }
  *out = day;
  return std::nullopt;
}

std::optional<std::string> TimestampProblem(const pb::Timestamp& time,
                                            absl::Time* out) {
  if (time.seconds() < kMinTimestampSeconds ||
      time.seconds() > kMaxTimestampSeconds) {
    return absl::StrCat("seconds ", time.seconds(),
                        " is outside 0001-01-01T00:00:00Z.."
                        "9999-12-31T23:59:59Z");
  }
  if (time.nanos() < 0 || time.nanos() > kMaxNanos) {
    return absl::StrCat("nanos ", time.nanos(), " is not in 0..999999999");
  }
  if (time.seconds() == 0 && time.nanos() == 0) {
    *out = absl::InfinitePast();
  } else {
    *out = absl::UnixEpoch() + absl::Seconds(time.seconds()) +
           absl::Nanoseconds(time.nanos());
  }
  return std::nullopt;
}

std::optional<std::string> FiniteProblem(double value, double* out) {
  if (!std::isfinite(value)) {
    return absl::StrCat("must be a finite number, got ", value);
  }
  *out = value;
  return std::nullopt;
}

absl::Status Refuse(absl::string_view field, std::string problem) {
  return MakeInvalidArgument(
      {FieldViolation{std::string(field), std::move(problem)}});
}

// Converts the fields of one message, collecting every violation under
// "<prefix>.<proto field>" so that one reply lists them all.
class Converter {
 public:
  explicit Converter(absl::string_view prefix) : prefix_(prefix) {}

  std::string Path(absl::string_view name) const {
    return prefix_.empty() ? std::string(name)
                           : absl::StrCat(prefix_, ".", name);
  }

  template <typename Model, typename ProtoEnum>
  void Enum(ProtoEnum value, absl::string_view name, Model* out) {
    Note(name, EnumProblem(static_cast<int>(value), out));
  }
  void Day(const v1::Date& date, absl::string_view name, absl::CivilDay* out) {
    Note(name, DateProblem(date, out));
  }
  void Time(const pb::Timestamp& time, absl::string_view name,
            absl::Time* out) {
    Note(name, TimestampProblem(time, out));
  }
  void Finite(double value, absl::string_view name, double* out) {
    Note(name, FiniteProblem(value, out));
  }

  // OK, or INVALID_ARGUMENT with every violation noted so far.
  absl::Status Finish() const { return MakeInvalidArgument(violations_); }

 private:
  void Note(absl::string_view name, std::optional<std::string> problem) {
    if (problem.has_value()) {
      violations_.push_back(FieldViolation{Path(name), std::move(*problem)});
    }
  }

  std::string prefix_;
  std::vector<FieldViolation> violations_;
};

// Assigns `value` to `*out` only when conversion succeeded, so a failed
// FromProto leaves the caller's value untouched.
template <typename T>
absl::Status Commit(const Converter& c, T value, T* out) {
  absl::Status status = c.Finish();
  if (status.ok()) *out = std::move(value);
  return status;
}

}  // namespace

// --- Scalars --------------------------------------------------------------

v1::Date ToProto(absl::CivilDay day) {
  v1::Date out;
  out.set_year(static_cast<int32_t>(day.year()));
  out.set_month(day.month());
  out.set_day(day.day());
  return out;
}

absl::Status FromProto(const v1::Date& date, absl::string_view field,
                       absl::CivilDay* out) {
  absl::CivilDay day;
  if (auto problem = DateProblem(date, &day)) return Refuse(field, *problem);
  *out = day;
  return absl::OkStatus();
}

google::protobuf::Timestamp ToProto(absl::Time time) {
  google::protobuf::Timestamp out;
  if (time == absl::InfinitePast()) return out;
  // Never fails: instants beyond what a Timestamp can hold (InfiniteFuture
  // included) are clamped to its range.
  const absl::Time min = absl::FromUnixSeconds(kMinTimestampSeconds);
  const absl::Time max = absl::FromUnixSeconds(kMaxTimestampSeconds) +
                         absl::Nanoseconds(kMaxNanos);
  if (time < min) time = min;
  if (time > max) time = max;
  absl::Duration rest;
  int64_t seconds =
      absl::IDivDuration(time - absl::UnixEpoch(), absl::Seconds(1), &rest);
  // IDivDuration truncates towards zero; Timestamp wants nanos >= 0.
  if (rest < absl::ZeroDuration()) {
    seconds -= 1;
    rest += absl::Seconds(1);
  }
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rest)));
  return out;
}

absl::Status FromProto(const google::protobuf::Timestamp& time,
                       absl::string_view field, absl::Time* out) {
  absl::Time converted;
  if (auto problem = TimestampProblem(time, &converted)) {
    return Refuse(field, *problem);
  }
  *out = converted;
  return absl::OkStatus();
}

#define OKR_DEFINE_ENUM_CONVERSION(Model, Proto)                           \
  v1::Proto ToProto(Model value) {                                         \
    return static_cast<v1::Proto>(static_cast<int>(value));                \
  }                                                                        \
  absl::Status FromProto(v1::Proto value, absl::string_view field,         \
                         Model* out) {                                     \
    return FromProto(static_cast<int>(value), field, out);                 \
  }                                                                        \
  absl::Status FromProto(int value, absl::string_view field, Model* out) { \
    if (auto problem = EnumProblem(value, out))                            \
      return Refuse(field, *problem);                                      \
    return absl::OkStatus();                                               \
  }
OKR_DEFINE_ENUM_CONVERSION(PlanningProfile, PlanningProfile)
OKR_DEFINE_ENUM_CONVERSION(CycleKind, CycleKind)
OKR_DEFINE_ENUM_CONVERSION(CycleState, CycleState)
OKR_DEFINE_ENUM_CONVERSION(Level, Level)
OKR_DEFINE_ENUM_CONVERSION(ObjectiveKind, ObjectiveKind)
OKR_DEFINE_ENUM_CONVERSION(Category, Category)
OKR_DEFINE_ENUM_CONVERSION(ObjectiveState, ObjectiveState)
OKR_DEFINE_ENUM_CONVERSION(KeyResultType, KeyResultType)
OKR_DEFINE_ENUM_CONVERSION(Measure, Measure)
OKR_DEFINE_ENUM_CONVERSION(Direction, Direction)
OKR_DEFINE_ENUM_CONVERSION(DataSource, DataSource)
OKR_DEFINE_ENUM_CONVERSION(ProgressSource, ProgressSource)
OKR_DEFINE_ENUM_CONVERSION(CheckInStatus, CheckInStatus)
OKR_DEFINE_ENUM_CONVERSION(Grade, Grade)
OKR_DEFINE_ENUM_CONVERSION(AlignmentKind, AlignmentKind)
OKR_DEFINE_ENUM_CONVERSION(ReviewKind, ReviewKind)
OKR_DEFINE_ENUM_CONVERSION(ResourceKind, ResourceKind)
#undef OKR_DEFINE_ENUM_CONVERSION

v1::LintSeverity ToProto(LintSeverity value) {
  switch (value) {
    case LintSeverity::kInfo:
      return v1::LINT_SEVERITY_INFO;
    case LintSeverity::kWarning:
      return v1::LINT_SEVERITY_WARNING;
    case LintSeverity::kError:
      return v1::LINT_SEVERITY_ERROR;
  }
  return v1::LINT_SEVERITY_UNSPECIFIED;  // Unreachable for a valid value.
}

absl::Status FromProto(int value, absl::string_view field,
                       std::optional<LintSeverity>* out) {
  switch (value) {
    case v1::LINT_SEVERITY_UNSPECIFIED:
      *out = std::nullopt;
      return absl::OkStatus();
    case v1::LINT_SEVERITY_INFO:
      *out = LintSeverity::kInfo;
      return absl::OkStatus();
    case v1::LINT_SEVERITY_WARNING:
      *out = LintSeverity::kWarning;
      return absl::OkStatus();
    case v1::LINT_SEVERITY_ERROR:
      *out = LintSeverity::kError;
      return absl::OkStatus();
  }
  return Refuse(field, absl::StrCat("unknown value ", value));
}

namespace {

// Leaves an unset instant (InfinitePast) off the wire altogether, so that a
// message without the field converts back to one without it.
template <typename MutableField>
void SetTime(absl::Time time, MutableField mutable_field) {
  if (time != absl::InfinitePast()) *mutable_field() = ToProto(time);
}

}  // namespace

// --- Resources ------------------------------------------------------------

v1::Organisation ToProto(const Organisation& value) {
  v1::Organisation out;
  out.set_id(value.id);
  out.set_name(value.name);
  out.set_fiscal_year_start_month(value.fiscal_year_start_month);
  out.set_time_zone(value.time_zone);
  out.set_mission(value.mission);
  out.set_vision(value.vision);
  for (const std::string& v : value.values) out.add_values(v);
  out.set_planning_profile(ToProto(value.planning_profile));
  if (value.check_in_grace_days.has_value()) {
    out.set_check_in_grace_days(*value.check_in_grace_days);
  }
  out.set_version(value.version);
  SetTime(value.create_time, [&] { return out.mutable_create_time(); });
  SetTime(value.update_time, [&] { return out.mutable_update_time(); });
  return out;
}

absl::Status FromProto(const v1::Organisation& value, absl::string_view field,
                       Organisation* out) {
  Converter c(field);
  Organisation result;
  result.id = value.id();
  result.name = value.name();
  result.fiscal_year_start_month = value.fiscal_year_start_month();
  result.time_zone = value.time_zone();
  result.mission = value.mission();
  result.vision = value.vision();
  result.values.assign(value.values().begin(), value.values().end());
  c.Enum(value.planning_profile(), "planning_profile",
         &result.planning_profile);
  if (value.has_check_in_grace_days()) {
    result.check_in_grace_days = value.check_in_grace_days();
  }
  result.version = value.version();
  c.Time(value.create_time(), "create_time", &result.create_time);
  c.Time(value.update_time(), "update_time", &result.update_time);
  return Commit(c, std::move(result), out);
}

v1::Team ToProto(const Team& value) {
  v1::Team out;
  out.set_id(value.id);
  out.set_name(value.name);
  out.set_parent_team_id(value.parent_team_id);
  out.set_lead_person_id(value.lead_person_id);
  out.set_version(value.version);
  SetTime(value.create_time, [&] { return out.mutable_create_time(); });
  SetTime(value.update_time, [&] { return out.mutable_update_time(); });
  return out;
}

absl::Status FromProto(const v1::Team& value, absl::string_view field,
                       Team* out) {
  Converter c(field);
  Team result;
  result.id = value.id();
  result.name = value.name();
  result.parent_team_id = value.parent_team_id();
  result.lead_person_id = value.lead_person_id();
  result.version = value.version();
  c.Time(value.create_time(), "create_time", &result.create_time);
  c.Time(value.update_time(), "update_time", &result.update_time);
  return Commit(c, std::move(result), out);
}

v1::Person ToProto(const Person& value) {
  v1::Person out;
  out.set_id(value.id);
  out.set_display_name(value.display_name);
  out.set_email(value.email);
  for (const Id& id : value.team_ids) out.add_team_ids(id);
  out.set_version(value.version);
  SetTime(value.create_time, [&] { return out.mutable_create_time(); });
  SetTime(value.update_time, [&] { return out.mutable_update_time(); });
  return out;
}

absl::Status FromProto(const v1::Person& value, absl::string_view field,
                       Person* out) {
  Converter c(field);
  Person result;
  result.id = value.id();
  result.display_name = value.display_name();
  result.email = value.email();
  result.team_ids.assign(value.team_ids().begin(), value.team_ids().end());
  result.version = value.version();
  c.Time(value.create_time(), "create_time", &result.create_time);
  c.Time(value.update_time(), "update_time", &result.update_time);
  return Commit(c, std::move(result), out);
}

v1::Cycle ToProto(const Cycle& value) {
  v1::Cycle out;
  out.set_id(value.id);
  out.set_name(value.name);
  out.set_kind(ToProto(value.kind));
  *out.mutable_start_date() = ToProto(value.start);
  *out.mutable_end_date() = ToProto(value.end);
  out.set_parent_cycle_id(value.parent_cycle_id);
  out.set_state(ToProto(value.state));
  if (value.check_in_grace_days.has_value()) {
    out.set_check_in_grace_days(*value.check_in_grace_days);
  }
  out.set_version(value.version);
  SetTime(value.create_time, [&] { return out.mutable_create_time(); });
  SetTime(value.update_time, [&] { return out.mutable_update_time(); });
  return out;
}

absl::Status FromProto(const v1::Cycle& value, absl::string_view field,
                       Cycle* out) {
  Converter c(field);
  Cycle result;
  result.id = value.id();
  result.name = value.name();
  c.Enum(value.kind(), "kind", &result.kind);
  c.Day(value.start_date(), "start_date", &result.start);
  c.Day(value.end_date(), "end_date", &result.end);
  result.parent_cycle_id = value.parent_cycle_id();
  c.Enum(value.state(), "state", &result.state);
  if (value.has_check_in_grace_days()) {
    result.check_in_grace_days = value.check_in_grace_days();
  }
  result.version = value.version();
  c.Time(value.create_time(), "create_time", &result.create_time);
  c.Time(value.update_time(), "update_time", &result.update_time);
  return Commit(c, std::move(result), out);
}

v1::Alignment ToProto(const Alignment& value) {
  v1::Alignment out;
  out.set_kind(ToProto(value.kind));
  out.set_parent_objective_id(value.parent_objective_id);
  out.set_parent_key_result_id(value.parent_key_result_id);
  out.set_weight(value.weight);
  return out;
}

absl::Status FromProto(const v1::Alignment& value, absl::string_view field,
                       Alignment* out) {
  Converter c(field);
  Alignment result;
  c.Enum(value.kind(), "kind", &result.kind);
  result.parent_objective_id = value.parent_objective_id();
  result.parent_key_result_id = value.parent_key_result_id();
  c.Finite(value.weight(), "weight", &result.weight);
  return Commit(c, std::move(result), out);
}

v1::Objective ToProto(const Objective& value) {
  v1::Objective out;
  out.set_id(value.id);
  out.set_title(value.title);
  out.set_description(value.description);
  out.set_level(ToProto(value.level));
  out.set_owner_id(value.owner_id);
  out.set_team_id(value.team_id);
  out.set_cycle_id(value.cycle_id);
  out.set_kind(ToProto(value.kind));
  out.set_category(ToProto(value.category));
  out.set_priority(value.priority);
  out.set_state(ToProto(value.state));
  out.set_progress_source(ToProto(value.progress_source));
  *out.mutable_alignment() = ToProto(value.alignment);
  out.set_breakdown_of_objective_id(value.breakdown_of_objective_id);
  out.set_rolled_over_from_id(value.rolled_over_from_id);
  out.set_version(value.version);
  SetTime(value.create_time, [&] { return out.mutable_create_time(); });
  SetTime(value.update_time, [&] { return out.mutable_update_time(); });
  return out;
}

absl::Status FromProto(const v1::Objective& value, absl::string_view field,
                       Objective* out) {
  Converter c(field);
  Objective result;
  result.id = value.id();
  result.title = value.title();
  result.description = value.description();
  c.Enum(value.level(), "level", &result.level);
  result.owner_id = value.owner_id();
  result.team_id = value.team_id();
  result.cycle_id = value.cycle_id();
  c.Enum(value.kind(), "kind", &result.kind);
  c.Enum(value.category(), "category", &result.category);
  result.priority = value.priority();
  c.Enum(value.state(), "state", &result.state);
  c.Enum(value.progress_source(), "progress_source", &result.progress_source);
  // The alignment's violations join this message's, so they are reported
  // together rather than the first one alone.
  const v1::Alignment& alignment = value.alignment();
  c.Enum(alignment.kind(), "alignment.kind", &result.alignment.kind);
  result.alignment.parent_objective_id = alignment.parent_objective_id();
  result.alignment.parent_key_result_id = alignment.parent_key_result_id();
  c.Finite(alignment.weight(), "alignment.weight", &result.alignment.weight);
  result.breakdown_of_objective_id = value.breakdown_of_objective_id();
  result.rolled_over_from_id = value.rolled_over_from_id();
  result.version = value.version();
  c.Time(value.create_time(), "create_time", &result.create_time);
  c.Time(value.update_time(), "update_time", &result.update_time);
  return Commit(c, std::move(result), out);
}

v1::KeyResult ToProto(const KeyResult& value) {
  v1::KeyResult out;
  out.set_id(value.id);
  out.set_objective_id(value.objective_id);
  out.set_title(value.title);
  out.set_owner_id(value.owner_id);
  out.set_type(ToProto(value.type));
  out.set_measure(ToProto(value.measure));
  out.set_start_value(value.from);
  out.set_target_value(value.to);
  out.set_unit(value.unit);
  out.set_direction(ToProto(value.direction));
  out.set_weight(value.weight);
  out.set_data_source(ToProto(value.data_source));
  out.set_data_source_ref(value.data_source_ref);
  out.set_progress_from_children(value.progress_from_children);
  out.set_archived(value.archived);
  out.set_rolled_over_from_id(value.rolled_over_from_id);
  out.set_version(value.version);
  SetTime(value.create_time, [&] { return out.mutable_create_time(); });
  SetTime(value.update_time, [&] { return out.mutable_update_time(); });
  return out;
}

absl::Status FromProto(const v1::KeyResult& value, absl::string_view field,
                       KeyResult* out) {
  Converter c(field);
  KeyResult result;
  result.id = value.id();
  result.objective_id = value.objective_id();
  result.title = value.title();
  result.owner_id = value.owner_id();
  c.Enum(value.type(), "type", &result.type);
  c.Enum(value.measure(), "measure", &result.measure);
  c.Finite(value.start_value(), "start_value", &result.from);
  c.Finite(value.target_value(), "target_value", &result.to);
  result.unit = value.unit();
  c.Enum(value.direction(), "direction", &result.direction);
  c.Finite(value.weight(), "weight", &result.weight);
  c.Enum(value.data_source(), "data_source", &result.data_source);
  result.data_source_ref = value.data_source_ref();
  result.progress_from_children = value.progress_from_children();
  result.archived = value.archived();
  result.rolled_over_from_id = value.rolled_over_from_id();
  result.version = value.version();
  c.Time(value.create_time(), "create_time", &result.create_time);
  c.Time(value.update_time(), "update_time", &result.update_time);
  return Commit(c, std::move(result), out);
}

v1::CheckIn ToProto(const CheckIn& value) {
  v1::CheckIn out;
  out.set_id(value.id);
  out.set_key_result_id(value.key_result_id);
  if (value.value.has_value()) out.set_value(*value.value);
  if (value.done.has_value()) out.set_done(*value.done);
  if (value.confidence.has_value()) out.set_confidence(*value.confidence);
  out.set_status(ToProto(value.status));
  out.set_note(value.note);
  out.set_author_id(value.author_id);
  SetTime(value.time, [&] { return out.mutable_time(); });
  out.set_client_key(value.client_key);
  SetTime(value.create_time, [&] { return out.mutable_create_time(); });
  return out;
}

absl::Status FromProto(const v1::CheckIn& value, absl::string_view field,
                       CheckIn* out) {
  Converter c(field);
  CheckIn result;
  result.id = value.id();
  result.key_result_id = value.key_result_id();
  if (value.has_value()) {
    double v = 0;
    c.Finite(value.value(), "value", &v);
    result.value = v;
  }
  if (value.has_done()) result.done = value.done();
  if (value.has_confidence()) result.confidence = value.confidence();
  c.Enum(value.status(), "status", &result.status);
  result.note = value.note();
  result.author_id = value.author_id();
  c.Time(value.time(), "time", &result.time);
  result.client_key = value.client_key();
  c.Time(value.create_time(), "create_time", &result.create_time);
  return Commit(c, std::move(result), out);
}

// --- Results --------------------------------------------------------------

namespace {

// The target field a rule's finding is about, where one field is at fault;
// empty for rules about counts, alignment or the organisation.
absl::string_view LintField(absl::string_view rule_id) {
  if (rule_id == "metric-without-range") return "target_value";
  if (rule_id == "task-not-outcome") return "title";
  if (rule_id == "missing-owner") return "owner_id";
  if (rule_id == "missing-level") return "level";
  if (rule_id == "missing-time-period") return "cycle_id";
  if (rule_id == "unknown-data-source") return "data_source";
  return "";
}

}  // namespace

v1::LintFinding ToProto(const Finding& finding) {
  v1::LintFinding out;
  out.set_rule_id(finding.rule_id);
  out.set_severity(ToProto(finding.severity));
  v1::ResourceRef* target = out.mutable_target();
  switch (finding.target_kind) {
    case LintTarget::kObjective:
      target->set_kind(v1::RESOURCE_KIND_OBJECTIVE);
      target->set_id(finding.target_id);
      break;
    case LintTarget::kKeyResult:
      target->set_kind(v1::RESOURCE_KIND_KEY_RESULT);
      target->set_id(finding.target_id);
      break;
    case LintTarget::kOwnerCycle:
      target->set_kind(v1::RESOURCE_KIND_PERSON);
      target->set_id(finding.owner_id);
      break;
  }
  out.set_message(finding.message);
  out.set_field(std::string(LintField(finding.rule_id)));
  return out;
}

v1::PlanningMilestone ToProto(const PlanningMilestone& milestone) {
  v1::PlanningMilestone out;
  out.set_key(milestone.id);
  out.set_title(milestone.title);
  out.set_description(milestone.what);
  out.set_audience(milestone.who);
  *out.mutable_start_date() = ToProto(milestone.start);
  *out.mutable_due_date() = ToProto(milestone.due);
  return out;
}

}  // namespace okr
