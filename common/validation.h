// Field validation of the OKR domain model (DESIGN.md section 3) and the
// alignment rules that keep the alignment graph a forest.
//
// Every function here is pure: it looks only at its arguments and never does
// I/O, so services call it before touching a store and tests call it directly.
// A value that breaks field rules yields INVALID_ARGUMENT whose message lists
// every violation as "<field>: <rule>" (joined by "; ") and whose payload, under
// kFieldViolationsTypeUrl, carries the same violations in machine-readable
// form; the gRPC boundary turns them into google.rpc.BadRequest details.
// Field paths use the contracts' snake_case names with the message as prefix,
// e.g. "objective.title", "key_result.weight", "organisation.values[2]".
//
// The limits below are the API's documented limits. Text lengths count
// Unicode code points of valid UTF-8, except identifiers and e-mail addresses,
// which are ASCII by their rules and count bytes.
#ifndef OKR_COMMON_VALIDATION_H_
#define OKR_COMMON_VALIDATION_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/model.h"

namespace okr {

// Titles of objectives and key results: 1..200 code points, one line.
inline constexpr size_t kMaxTitleLength = 200;
// Objective descriptions, organisation mission and vision: newlines and tabs
// allowed.
inline constexpr size_t kMaxDescriptionLength = 4000;
// Check-in notes: newlines and tabs allowed.
inline constexpr size_t kMaxNoteLength = 2000;
// Key result units ("%", "people", "days").
inline constexpr size_t kMaxUnitLength = 32;
// Names of organisations, teams, people (display names) and cycles.
inline constexpr size_t kMaxNameLength = 200;
// E-mail addresses (RFC 5321 path limit), in bytes.
inline constexpr size_t kMaxEmailLength = 254;
// Organisation values: at most 20 entries of 1..200 code points each.
inline constexpr size_t kMaxOrganisationValues = 20;
inline constexpr size_t kMaxOrganisationValueLength = 200;
// Identifiers: 1..128 bytes of [A-Za-z0-9_.:-].
inline constexpr size_t kMaxIdLength = 128;
// A key result's data source reference (an integration's report id or URL).
inline constexpr size_t kMaxDataSourceRefLength = 512;
// IANA time zone names ("America/Argentina/ComodRivadavia" is the longest).
inline constexpr size_t kMaxTimeZoneLength = 64;
// Check-in confidence, inclusive.
inline constexpr int kMinConfidence = 0;
inline constexpr int kMaxConfidence = 10;

// The payload URL under which a status carries its field violations.
inline constexpr absl::string_view kFieldViolationsTypeUrl =
    "type.okr.dev/okr.v1.FieldViolations";

// One broken rule: `field` is the path ("key_result.to"), `description` says
// what is wrong and, where it helps, what to do instead.
struct FieldViolation {
  std::string field;
  std::string description;

  friend bool operator==(const FieldViolation&, const FieldViolation&) = default;
};

// Returns a status with `code`, the message "<field>: <description>; ..." and
// the violations as payload. Returns OK when `violations` is empty.
absl::Status MakeFieldStatus(absl::StatusCode code,
                             absl::Span<const FieldViolation> violations);

// MakeFieldStatus with INVALID_ARGUMENT.
absl::Status MakeInvalidArgument(absl::Span<const FieldViolation> violations);

// The violations carried by `status` (any code), in order. Empty when the
// status is OK, carries no payload, or the payload is not in our encoding.
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);

// Checks an identifier referenced by `field`: 1..kMaxIdLength bytes of
// [A-Za-z0-9_.:-]. An empty `id` is accepted unless `required`.
absl::Status ValidateId(absl::string_view field, absl::string_view id,
                        bool required);

// Checks free text named by `field` (a request field outside the entities
// above, e.g. a check-in's "note") by the entities' text rules: valid UTF-8,
// no control characters (newline and tab allowed when `multiline`), at most
// `max_length` code points. Empty text passes. OK or INVALID_ARGUMENT
// "<field>: ..." with the violation as payload.
absl::Status ValidateText(absl::string_view field, absl::string_view text,
                          size_t max_length, bool multiline);

// Organisation ids (chosen by the caller at bootstrap): 3..64 characters of
// [a-z0-9-], starting with a letter.
inline constexpr size_t kMinOrganisationIdLength = 3;
inline constexpr size_t kMaxOrganisationIdLength = 64;

// Checks an organisation id named by `field` against the rule above; OK or
// INVALID_ARGUMENT "<field>: ...". An empty id is refused ("is required").
absl::Status ValidateOrganisationId(absl::string_view field,
                                    absl::string_view id);

// Field rules per entity. Each returns OK or INVALID_ARGUMENT listing every
// violation at once. An entity's own `id` may be empty (the store assigns
// it); references to other entities are checked for shape only, never for
// existence.

// name, fiscal_year_start_month 1..12, time_zone loadable by
// absl::LoadTimeZone, planning_profile specified, mission/vision/values.
absl::Status ValidateOrganisation(const Organisation& organisation);

// name; parent_team_id differs from id.
absl::Status ValidateTeam(const Team& team);

// display_name; email optional, but when given it has the shape
// local@domain.tld.
absl::Status ValidatePerson(const Person& person);

// name, kind, state specified; start < end; a MONTHLY / QUARTERLY / ANNUAL
// cycle spans exactly 1 / 3 / 12 calendar months (end is the same day of the
// month as start, that many months later).
absl::Status ValidateCycle(const Cycle& cycle);

// title, description, level, kind, state, progress_source; cycle_id always
// and owner_id for INDIVIDUAL objectives; priority >= 0; alignment shape
// (weight finite and >= 0, the parent id its kind needs, not itself).
absl::Status ValidateObjective(const Objective& objective);

// title, type, objective_id; METRIC: measure, finite from/to, to != from
// unless AT_LEAST/AT_MOST, a given INCREASE/DECREASE agrees with the sign of
// to - from, PERCENT_COMPLETE values within 0..100, unit length; MILESTONE:
// no from/to/direction/measure/unit; weight finite and >= 0; INTEGRATION
// needs data_source_ref.
absl::Status ValidateKeyResult(const KeyResult& key_result);

// A check-in against the key result it is for: METRIC takes a finite value
// (0..100 for PERCENT_COMPLETE) and no done, MILESTONE takes done and no
// value; confidence 0..10 when present; note length; author_id required;
// key_result_id required and equal to key_result.id when that is set.
absl::Status ValidateCheckIn(const CheckIn& check_in,
                             const KeyResult& key_result);

// Alignment rules over existing objectives (pure; the caller loads them).
//
// Validates the alignment and breakdown link that `child` proposes, against
// the organisation's `objectives`, `key_results` and `cycles` (`child` may be
// among `objectives`; its proposed links replace the stored ones). Checks run
// in this order and the first failing class is returned, with every
// violation of that class:
//   1. INVALID_ARGUMENT for a link to itself or a missing parent id;
//   2. NOT_FOUND naming the field when the parent objective, the parent key
//      result (or its objective), the breakdown target or a cycle involved
//      is not among the inputs;
//   3. INVALID_ARGUMENT when alignment.parent_objective_id is not the parent
//      key result's objective, when the parent is in a shorter cycle (a
//      quarterly objective may align to an annual one, never the reverse),
//      or when the breakdown target's cycle is not strictly longer than and
//      containing the child's cycle;
//   4. FAILED_PRECONDITION when the link would close a loop through the
//      existing alignments; the message names the objectives on the loop. A
//      loop is a conflict with the current state (it goes away when another
//      link is removed), hence not INVALID_ARGUMENT.
// Only alignment links (Classic and Duality) form loops; breakdown links
// cannot, because they always point to a strictly longer cycle. Runs in time
// linear in the inputs and walks chains iteratively, so any depth is fine.
absl::Status ValidateAlignment(const Objective& child,
                               absl::Span<const Objective> objectives,
                               absl::Span<const KeyResult> key_results,
                               absl::Span<const Cycle> cycles);

// Where ValidateAlignment finds what a link names, for callers that hold the
// organisation indexed already (planning's in-memory state): the checks then
// cost O(alignment depth) instead of a copy of the organisation. Each Find
// returns null for an unknown id; the pointers must stay valid for the call.
class AlignmentLookup {
 public:
  virtual ~AlignmentLookup() = default;
  virtual const Objective* FindObjective(absl::string_view id) const = 0;
  virtual const KeyResult* FindKeyResult(absl::string_view id) const = 0;
  virtual const Cycle* FindCycle(absl::string_view id) const = 0;
};

// ValidateAlignment over `lookup` instead of vectors: the same rules, order,
// codes and messages (the vector version is this one over a map of its
// inputs). `child` stands in for the objective of the same id in `lookup`.
absl::Status ValidateAlignment(const Objective& child,
                               const AlignmentLookup& lookup);

// The id of the objective `objective` aligns to: the Classic parent, or the
// objective of the Duality parent key result (its stored
// parent_objective_id when `lookup` does not know the key result). Empty for
// a root.
absl::string_view AlignmentParentOf(const AlignmentLookup& lookup,
                                    const Objective& objective);

// Returns the ids of one alignment loop among `objectives` (each id once, in
// child -> parent order, starting from the earliest listed objective on the
// loop), or an empty vector when the alignment graph is a forest. Links to
// objectives or key results that are not in the inputs end a chain.
std::vector<Id> FindAlignmentLoop(absl::Span<const Objective> objectives,
                                  absl::Span<const KeyResult> key_results);

// OK when the alignment graph is a forest, otherwise FAILED_PRECONDITION
// naming the objectives on one loop.
absl::Status ValidateAlignmentForest(absl::Span<const Objective> objectives,
                                     absl::Span<const KeyResult> key_results);

}  // namespace okr

#endif  // OKR_COMMON_VALIDATION_H_
