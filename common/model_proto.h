// Conversion between the domain types of common/model.h (and the lint and
// calendar results) and their okr.v1 protobuf messages.
//
// Services convert at their boundary: requests become model values through
// FromProto, which refuses what the model cannot hold (an enum number outside
// the contract, an impossible date, a non-finite number) with
// INVALID_ARGUMENT naming the field under the caller's prefix, e.g.
// "objective.level: unknown value 7". Everything else (empty titles, limits,
// cross-field rules) is validation's job (common/validation.h), not this
// file's. ToProto never fails. A model value survives
// FromProto(ToProto(x)) unchanged, which the store relies on: planning keeps
// resources as serialized okr.v1 messages.
//
// Output-only proto fields (id on create, version, create_time, update_time)
// are converted both ways; the caller decides which ones it honours.
#ifndef OKR_COMMON_MODEL_PROTO_H_
#define OKR_COMMON_MODEL_PROTO_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/calendar.h"
#include "common/lint.h"
#include "common/model.h"
#include "google/protobuf/timestamp.pb.h"
#include "okr/v1/common.pb.h"

namespace okr {

// --- Scalars ---------------------------------------------------------------

v1::Date ToProto(absl::CivilDay day);
// INVALID_ARGUMENT "<field>: ..." unless year 1..9999, month 1..12 and day
// valid in that month (no normalisation: 31 April is refused).
absl::Status FromProto(const v1::Date& date, absl::string_view field,
                       absl::CivilDay* out);

// InfinitePast() (never set) becomes an empty Timestamp (0 seconds, 0 nanos)
// and back; other instants convert exactly to the nanosecond.
google::protobuf::Timestamp ToProto(absl::Time time);
absl::Status FromProto(const google::protobuf::Timestamp& time,
                       absl::string_view field, absl::Time* out);

// Every enum of model.h has a proto twin with the same numbers (see
// tests/proto). FromProto refuses a number outside the enum's range (proto3
// keeps unknown numbers) with "<field>: unknown value N".
#define OKR_DECLARE_ENUM_CONVERSION(Model, Proto)                         \
  v1::Proto ToProto(Model value);                                         \
  absl::Status FromProto(v1::Proto value, absl::string_view field,        \
                         Model* out);                                     \
  absl::Status FromProto(int value, absl::string_view field, Model* out);
OKR_DECLARE_ENUM_CONVERSION(PlanningProfile, PlanningProfile)
OKR_DECLARE_ENUM_CONVERSION(CycleKind, CycleKind)
OKR_DECLARE_ENUM_CONVERSION(CycleState, CycleState)
OKR_DECLARE_ENUM_CONVERSION(Level, Level)
OKR_DECLARE_ENUM_CONVERSION(ObjectiveKind, ObjectiveKind)
OKR_DECLARE_ENUM_CONVERSION(Category, Category)
OKR_DECLARE_ENUM_CONVERSION(ObjectiveState, ObjectiveState)
OKR_DECLARE_ENUM_CONVERSION(KeyResultType, KeyResultType)
OKR_DECLARE_ENUM_CONVERSION(Measure, Measure)
OKR_DECLARE_ENUM_CONVERSION(Direction, Direction)
OKR_DECLARE_ENUM_CONVERSION(DataSource, DataSource)
OKR_DECLARE_ENUM_CONVERSION(ProgressSource, ProgressSource)
OKR_DECLARE_ENUM_CONVERSION(CheckInStatus, CheckInStatus)
OKR_DECLARE_ENUM_CONVERSION(Grade, Grade)
OKR_DECLARE_ENUM_CONVERSION(AlignmentKind, AlignmentKind)
OKR_DECLARE_ENUM_CONVERSION(ReviewKind, ReviewKind)
OKR_DECLARE_ENUM_CONVERSION(ResourceKind, ResourceKind)
#undef OKR_DECLARE_ENUM_CONVERSION

// Lint severities are numbered differently in the model (no unspecified).
v1::LintSeverity ToProto(LintSeverity value);
// LINT_SEVERITY_UNSPECIFIED gives nullopt ("no minimum").
absl::Status FromProto(int value, absl::string_view field,
                       std::optional<LintSeverity>* out);

// --- Resources ---------------------------------------------------------------
//
// `field` is the request field holding the message ("objective",
// "items[2].objective"); violations are named "<field>.<proto field>".
// Proto-only fields with no model twin do not exist: every field of these
// messages round-trips. The model's organisation_id members are not on the
// wire (tenancy comes from credentials): FromProto leaves them empty.

v1::Organisation ToProto(const Organisation& value);
absl::Status FromProto(const v1::Organisation& value, absl::string_view field,
                       Organisation* out);

v1::Team ToProto(const Team& value);
absl::Status FromProto(const v1::Team& value, absl::string_view field,
                       Team* out);

v1::Person ToProto(const Person& value);
absl::Status FromProto(const v1::Person& value, absl::string_view field,
                       Person* out);

// Cycle.start/end are the proto's start_date/end_date (both half-open).
v1::Cycle ToProto(const Cycle& value);
absl::Status FromProto(const v1::Cycle& value, absl::string_view field,
                       Cycle* out);

v1::Alignment ToProto(const Alignment& value);
absl::Status FromProto(const v1::Alignment& value, absl::string_view field,
                       Alignment* out);

v1::Objective ToProto(const Objective& value);
absl::Status FromProto(const v1::Objective& value, absl::string_view field,
                       Objective* out);

// KeyResult.from/to are the proto's start_value/target_value; non-finite
// numbers are refused.
v1::KeyResult ToProto(const KeyResult& value);
absl::Status FromProto(const v1::KeyResult& value, absl::string_view field,
                       KeyResult* out);

v1::CheckIn ToProto(const CheckIn& value);
absl::Status FromProto(const v1::CheckIn& value, absl::string_view field,
                       CheckIn* out);

// --- Results (model -> proto only) --------------------------------------------

// target: kObjective / kKeyResult findings point at that resource, kOwnerCycle
// ones at the owner (RESOURCE_KIND_PERSON).
v1::LintFinding ToProto(const Finding& finding);

// key = id, description = what, audience = who.
v1::PlanningMilestone ToProto(const PlanningMilestone& milestone);

}  // namespace okr

#endif  // OKR_COMMON_MODEL_PROTO_H_
