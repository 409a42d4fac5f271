#include "common/validation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace okr {
namespace {

// ---------------------------------------------------------------------------
// Collecting violations.

class Violations {
 public:
  // `message` is the field prefix, e.g. "objective".
  explicit Violations(absl::string_view message) : message_(message) {}

  // An empty prefix (ValidateText) leaves `field` as it is.
  void Add(absl::string_view field, std::string description) {
    list_.push_back({message_.empty() ? std::string(field)
                                      : absl::StrCat(message_, ".", field),
                     std::move(description)});
  }

  absl::Status ToStatus() const { return MakeInvalidArgument(list_); }

 private:
  std::string message_;
  std::vector<FieldViolation> list_;
};

// Quotes user-supplied text for a message: printable, never raw bytes.
std::string Quote(absl::string_view s) {
  return absl::StrCat("'", absl::CHexEscape(s), "'");
}

std::string FormatDay(absl::CivilDay day) { return absl::FormatCivilTime(day); }

// The enum tables in model.cc answer "UNSPECIFIED" both for kUnspecified and
// for a value outside the enumeration (e.g. an unknown number from the wire).
template <typename E>
bool IsSpecified(E v) {
  return Name(v) != "UNSPECIFIED";
}

// ---------------------------------------------------------------------------
// Text.

// Decodes the code point at s[i]. Returns its length in bytes, or 0 when the
// bytes there are not valid UTF-8 (overlong forms and surrogates included).
int DecodeUtf8(absl::string_view s, size_t i, char32_t* cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  int len;
  char32_t min;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    *cp = c & 0x1F;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    *cp = c & 0x0F;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    *cp = c & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (int k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (cc & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

bool IsControl(char32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

enum class Lines { kSingle, kMulti };

// Checks free text: valid UTF-8, no control characters (newline and tab are
// allowed in multi-line text), at most `max` code points, and not blank when
// `required`. Reports at most one violation per field: the first that applies.
void CheckText(Violations& v, absl::string_view field, absl::string_view text,
               bool required, size_t max, Lines lines) {
  size_t count = 0;
  for (size_t i = 0; i < text.size();) {
    char32_t cp;
    const int len = DecodeUtf8(text, i, &cp);
    if (len == 0) {
      v.Add(field, absl::StrFormat("is not valid UTF-8 (byte 0x%02X at byte "
                                   "offset %d); send text as UTF-8",
                                   static_cast<unsigned char>(text[i]), i));
      return;
    }
    if (IsControl(cp) &&
        !(lines == Lines::kMulti && (cp == '\n' || cp == '\t'))) {
      v.Add(field,
            absl::StrFormat(
                "must not contain control characters%s (found U+%04X at "
                "character %d)",
                lines == Lines::kMulti ? " other than newline and tab" : "",
                static_cast<uint32_t>(cp), count + 1));
      return;
    }
    ++count;
    i += len;
  }
  if (count > max) {
    v.Add(field, absl::StrFormat("must be at most %d characters; got %d", max,
                                 count));
    return;
  }
  if (required && absl::StripAsciiWhitespace(text).empty()) {
    v.Add(field, absl::StrFormat("is required (1 to %d characters, not only "
                                 "spaces)",
                                 max));
  }
}

std::optional<std::string> IdProblem(absl::string_view id, bool required) {
  if (id.empty()) {
    if (required) return std::string("is required");
    return std::nullopt;
  }
  if (id.size() > kMaxIdLength) {
    return absl::StrFormat("must be at most %d characters; got %d",
                           kMaxIdLength, id.size());
  }
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
        c == '.' || c == ':' || c == '-') {
      continue;
    }
    return absl::StrFormat(
        "may contain only letters A-Z a-z, digits and _ . : - (found %s at "
        "position %d)",
        Quote(id.substr(i, 1)), i + 1);
  }
  return std::nullopt;
}

void CheckId(Violations& v, absl::string_view field, absl::string_view id,
             bool required) {
  if (auto problem = IdProblem(id, required)) v.Add(field, *std::move(problem));
}

// The "simple shape check": exactly one '@' between a non-empty local part
// and a domain of at least two non-empty dot-separated labels, no spaces or
// control characters. Deliverability is not our business.
bool LooksLikeEmail(absl::string_view email) {
  for (char c : email) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return false;
  }
  const size_t at = email.find('@');
  if (at == absl::string_view::npos || at == 0 ||
      email.find('@', at + 1) != absl::string_view::npos) {
    return false;
  }
  const absl::string_view domain = email.substr(at + 1);
  std::vector<absl::string_view> labels = absl::StrSplit(domain, '.');
  if (labels.size() < 2) return false;
  for (absl::string_view label : labels) {
    if (label.empty()) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Numbers and dates.

void CheckWeight(Violations& v, absl::string_view field, double weight) {
  if (!std::isfinite(weight) || weight < 0) {
    v.Add(field, absl::StrCat("must be a finite number >= 0 (1 is the default, "
                              "0 excludes it from the rollup); got ",
                              weight));
  }
}

int MonthsBetween(absl::CivilDay a, absl::CivilDay b) {
  return static_cast<int>((b.year() - a.year()) * 12 + (b.month() - a.month()));
}

int MonthsOf(CycleKind kind) {
  switch (kind) {
    case CycleKind::kMonthly:
      return 1;
    case CycleKind::kQuarterly:
      return 3;
    case CycleKind::kAnnual:
      return 12;
    default:
      return 0;
  }
}

// Orders cycle kinds by length; 0 when unknown.
int LengthRank(CycleKind kind) {
  switch (kind) {
    case CycleKind::kMonthly:
      return 1;
    case CycleKind::kQuarterly:
      return 2;
    case CycleKind::kAnnual:
      return 3;
    default:
      return 0;
  }
}

std::string DescribeCycle(const Cycle& c) {
  return absl::StrFormat("%s (%s, %s to %s)", Quote(c.id), Name(c.kind),
                         FormatDay(c.start), FormatDay(c.end));
}

// ---------------------------------------------------------------------------
// Payload encoding: one violation per line, "field<TAB>description", with
// backslash, tab and newline escaped as \\, \t and \n.

void AppendEscaped(std::string& out, absl::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

// Undoes AppendEscaped; false on a dangling or unknown escape.
bool Unescape(absl::string_view s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      *out += s[i];
      continue;
    }
    if (++i == s.size()) return false;
    switch (s[i]) {
      case '\\':
        *out += '\\';
        break;
      case 't':
        *out += '\t';
        break;
      case 'n':
        *out += '\n';
        break;
      default:
        return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// The alignment graph.

class Graph final : public AlignmentLookup {
 public:
  Graph(absl::Span<const Objective> objectives,
        absl::Span<const KeyResult> key_results,
        absl::Span<const Cycle> cycles) {
    objectives_.reserve(objectives.size());
    for (const Objective& o : objectives) objectives_.try_emplace(o.id, &o);
    key_results_.reserve(key_results.size());
    for (const KeyResult& kr : key_results) key_results_.try_emplace(kr.id, &kr);
    cycles_.reserve(cycles.size());
    for (const Cycle& c : cycles) cycles_.try_emplace(c.id, &c);
  }

  const Objective* FindObjective(absl::string_view id) const override {
    return Find(objectives_, id);
  }
  const KeyResult* FindKeyResult(absl::string_view id) const override {
    return Find(key_results_, id);
  }
  const Cycle* FindCycle(absl::string_view id) const override {
    return Find(cycles_, id);
  }

 private:
  template <typename T>
  static const T* Find(const absl::flat_hash_map<absl::string_view, const T*>& m,
                       absl::string_view id) {
    if (id.empty()) return nullptr;
    auto it = m.find(id);
    return it == m.end() ? nullptr : it->second;
  }

  absl::flat_hash_map<absl::string_view, const Objective*> objectives_;
  absl::flat_hash_map<absl::string_view, const KeyResult*> key_results_;
  absl::flat_hash_map<absl::string_view, const Cycle*> cycles_;
};

// `lookup` with `child` standing in for the stored objective with the same
// id: the links it proposes replace the stored ones.
class WithChild {
 public:
  WithChild(const AlignmentLookup& lookup, const Objective& child)
      : lookup_(lookup), child_(child) {}

  const Objective* FindObjective(absl::string_view id) const {
    if (id.empty()) return nullptr;
    if (!child_.id.empty() && id == child_.id) return &child_;
    return lookup_.FindObjective(id);
  }
  const KeyResult* FindKeyResult(absl::string_view id) const {
    return id.empty() ? nullptr : lookup_.FindKeyResult(id);
  }
  const Cycle* FindCycle(absl::string_view id) const {
    return id.empty() ? nullptr : lookup_.FindCycle(id);
  }

  // The objective `o` aligns to: the Classic parent, or the objective of the
  // Duality parent KR (falling back to the stored parent_objective_id when
  // the KR is unknown). Empty for a root.
  absl::string_view ParentOf(const Objective& o) const {
    return AlignmentParentOf(lookup_, o);
  }

 private:
  const AlignmentLookup& lookup_;
  const Objective& child_;
};

// "'a' -> 'b' -> 'a'", shortened in the middle for long loops so that a
// 10,000-objective loop still gives a readable message.
std::string FormatLoop(const std::vector<Id>& loop) {
  constexpr size_t kHead = 5;
  constexpr size_t kTail = 3;
  std::vector<std::string> parts;
  auto quote = [](const Id& id) { return Quote(id); };
  if (loop.size() <= kHead + kTail + 1) {
    for (const Id& id : loop) parts.push_back(quote(id));
  } else {
    for (size_t i = 0; i < kHead; ++i) parts.push_back(quote(loop[i]));
    parts.push_back(absl::StrFormat("... (%d more) ...",
                                    loop.size() - kHead - kTail));
    for (size_t i = loop.size() - kTail; i < loop.size(); ++i) {
      parts.push_back(quote(loop[i]));
    }
  }
  if (!loop.empty()) parts.push_back(quote(loop.front()));
  return absl::StrJoin(parts, " -> ");
}

}  // namespace

// ---------------------------------------------------------------------------
// Status with violations.

absl::Status MakeFieldStatus(absl::StatusCode code,
                             absl::Span<const FieldViolation> violations) {
  if (violations.empty() || code == absl::StatusCode::kOk) {
    return absl::OkStatus();
  }
  std::vector<std::string> lines;
  std::string payload;
  for (const FieldViolation& fv : violations) {
    lines.push_back(absl::StrCat(fv.field, ": ", fv.description));
    AppendEscaped(payload, fv.field);
    payload += '\t';
    AppendEscaped(payload, fv.description);
    payload += '\n';
  }
  absl::Status status(code, absl::StrJoin(lines, "; "));
  status.SetPayload(kFieldViolationsTypeUrl, absl::Cord(payload));
  return status;
}

absl::Status MakeInvalidArgument(absl::Span<const FieldViolation> violations) {
  return MakeFieldStatus(absl::StatusCode::kInvalidArgument, violations);
}

std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> out;
  absl::optional<absl::Cord> payload = status.GetPayload(kFieldViolationsTypeUrl);
  if (!payload.has_value()) return out;
  const std::string text(*payload);
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> cols = absl::StrSplit(line, '\t');
    FieldViolation fv;
    if (cols.size() != 2 || !Unescape(cols[0], &fv.field) ||
        !Unescape(cols[1], &fv.description)) {
      return {};
    }
    out.push_back(std::move(fv));
  }
  return out;
}

absl::Status ValidateId(absl::string_view field, absl::string_view id,
                        bool required) {
  std::optional<std::string> problem = IdProblem(id, required);
  if (!problem.has_value()) return absl::OkStatus();
  FieldViolation fv{std::string(field), *std::move(problem)};
  return MakeInvalidArgument({&fv, 1});
}

absl::Status ValidateText(absl::string_view field, absl::string_view text,
                          size_t max_length, bool multiline) {
  Violations v("");
  CheckText(v, field, text, /*required=*/false, max_length,
            multiline ? Lines::kMulti : Lines::kSingle);
  return v.ToStatus();
}

absl::Status ValidateOrganisationId(absl::string_view field,
                                    absl::string_view id) {
  std::string problem;
  if (id.empty()) {
    problem = "is required";
  } else if (id.size() < kMinOrganisationIdLength ||
             id.size() > kMaxOrganisationIdLength) {
    problem = absl::StrFormat("must be %d to %d characters; got %d",
                              kMinOrganisationIdLength,
                              kMaxOrganisationIdLength, id.size());
  } else if (!absl::ascii_islower(static_cast<unsigned char>(id.front()))) {
    problem = absl::StrCat("must start with a letter a-z; got ", Quote(id));
  } else {
    for (size_t i = 0; i < id.size(); ++i) {
      const auto c = static_cast<unsigned char>(id[i]);
      if (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-') {
        continue;
      }
      problem = absl::StrFormat(
          "may contain only lower-case letters a-z, digits and '-' (found %s "
          "at position %d), e.g. 'acme' or 'acme-retail'",
          Quote(id.substr(i, 1)), i + 1);
      break;
    }
  }
  if (problem.empty()) return absl::OkStatus();
  FieldViolation fv{std::string(field), std::move(problem)};
  return MakeInvalidArgument({&fv, 1});
}

// ---------------------------------------------------------------------------
// Entities.

absl::Status ValidateOrganisation(const Organisation& org) {
  Violations v("organisation");
  CheckId(v, "id", org.id, false);
  CheckText(v, "name", org.name, true, kMaxNameLength, Lines::kSingle);
  if (org.fiscal_year_start_month < 1 || org.fiscal_year_start_month > 12) {
    v.Add("fiscal_year_start_month",
          absl::StrCat("must be between 1 (January) and 12 (December); got ",
                       org.fiscal_year_start_month));
  }
  // Only plain IANA names reach absl::LoadTimeZone: it reads files under the
  // zoneinfo directory, so '..' or an absolute path must never get there,
  // and "localtime" would mean the server's own zone.
  const absl::string_view tz = org.time_zone;
  const bool tz_shape_ok =
      !tz.empty() && tz.size() <= kMaxTimeZoneLength && tz.front() != '/' &&
      tz.find("..") == absl::string_view::npos && tz != "localtime" &&
      std::all_of(tz.begin(), tz.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
               c == '/' || c == '_' || c == '-' || c == '+';
      });
  absl::TimeZone loaded;
  if (tz.empty()) {
    v.Add("time_zone", "is required (an IANA time zone name such as "
                       "'America/New_York' or 'UTC')");
  } else if (!tz_shape_ok || !absl::LoadTimeZone(std::string(tz), &loaded)) {
    v.Add("time_zone", absl::StrCat(Quote(tz),
                                    " is not a known IANA time zone name; use "
                                    "one such as 'America/New_York', "
                                    "'Europe/Berlin' or 'UTC'"));
  }
  if (!IsSpecified(org.planning_profile)) {
    v.Add("planning_profile",
          "is required: SMALL (planning starts 4-6 weeks before the fiscal "
          "year) or ENTERPRISE (2-3 months before)");
  }
  CheckText(v, "mission", org.mission, false, kMaxDescriptionLength,
            Lines::kMulti);
  CheckText(v, "vision", org.vision, false, kMaxDescriptionLength,
            Lines::kMulti);
  if (org.values.size() > kMaxOrganisationValues) {
    v.Add("values", absl::StrFormat("must have at most %d entries; got %d",
                                    kMaxOrganisationValues, org.values.size()));
  }
  for (size_t i = 0; i < org.values.size(); ++i) {
    CheckText(v, absl::StrCat("values[", i, "]"), org.values[i], true,
              kMaxOrganisationValueLength, Lines::kSingle);
  }
  return v.ToStatus();
}

absl::Status ValidateTeam(const Team& team) {
  Violations v("team");
  CheckId(v, "id", team.id, false);
  CheckId(v, "organisation_id", team.organisation_id, false);
  CheckText(v, "name", team.name, true, kMaxNameLength, Lines::kSingle);
  CheckId(v, "parent_team_id", team.parent_team_id, false);
  if (!team.id.empty() && team.parent_team_id == team.id) {
    v.Add("parent_team_id",
          "must differ from team.id: a team cannot be its own parent");
  }
  CheckId(v, "lead_person_id", team.lead_person_id, false);
  return v.ToStatus();
}

absl::Status ValidatePerson(const Person& person) {
  Violations v("person");
  CheckId(v, "id", person.id, false);
  CheckId(v, "organisation_id", person.organisation_id, false);
  CheckText(v, "display_name", person.display_name, true, kMaxNameLength,
            Lines::kSingle);
  if (person.email.size() > kMaxEmailLength) {
    v.Add("email", absl::StrFormat("must be at most %d characters; got %d",
                                   kMaxEmailLength, person.email.size()));
  } else if (!person.email.empty() && !LooksLikeEmail(person.email)) {
    v.Add("email", absl::StrCat("must look like name@example.com; got ",
                                Quote(person.email)));
  }
  for (size_t i = 0; i < person.team_ids.size(); ++i) {
    CheckId(v, absl::StrCat("team_ids[", i, "]"), person.team_ids[i], true);
  }
  return v.ToStatus();
}

absl::Status ValidateCycle(const Cycle& cycle) {
  Violations v("cycle");
  CheckId(v, "id", cycle.id, false);
  CheckId(v, "organisation_id", cycle.organisation_id, false);
  CheckText(v, "name", cycle.name, true, kMaxNameLength, Lines::kSingle);
  if (!IsSpecified(cycle.kind)) {
    v.Add("kind", "is required: ANNUAL, QUARTERLY or MONTHLY");
  }
  if (!(cycle.start < cycle.end)) {
    v.Add("end", absl::StrFormat("must be after cycle.start (%s); got %s; end "
                                 "is the first day after the cycle",
                                 FormatDay(cycle.start), FormatDay(cycle.end)));
  } else if (const int months = MonthsOf(cycle.kind); months > 0) {
    const bool spans = cycle.end.day() == cycle.start.day() &&
                       MonthsBetween(cycle.start, cycle.end) == months;
    if (!spans) {
      v.Add("end",
            absl::StrFormat(
                "a %s cycle must span exactly %d month%s (end is the same day "
                "of the month as start, %d month%s later, e.g. 2027-02-01 to "
                "%s); got %s to %s",
                Name(cycle.kind), months, months == 1 ? "" : "s", months,
                months == 1 ? "" : "s",
                FormatDay(absl::CivilDay(absl::CivilMonth(2027, 2) + months)),
                FormatDay(cycle.start), FormatDay(cycle.end)));
    }
  }
  CheckId(v, "parent_cycle_id", cycle.parent_cycle_id, false);
  if (!cycle.id.empty() && cycle.parent_cycle_id == cycle.id) {
    v.Add("parent_cycle_id", "must differ from cycle.id");
  } else if (cycle.kind == CycleKind::kAnnual &&
             !cycle.parent_cycle_id.empty()) {
    v.Add("parent_cycle_id",
          "must be empty for an ANNUAL cycle (months have quarters as "
          "parents, quarters have years)");
  }
  if (!IsSpecified(cycle.state)) {
    v.Add("state", "is required: PLANNING, ACTIVE, REVIEW or CLOSED");
  }
  return v.ToStatus();
}

absl::Status ValidateObjective(const Objective& o) {
  Violations v("objective");
  CheckId(v, "id", o.id, false);
  CheckId(v, "organisation_id", o.organisation_id, false);
  CheckText(v, "title", o.title, true, kMaxTitleLength, Lines::kSingle);
  CheckText(v, "description", o.description, false, kMaxDescriptionLength,
            Lines::kMulti);
  if (!IsSpecified(o.level)) {
    v.Add("level", "is required: COMPANY, TEAM or INDIVIDUAL (the L of PLOT)");
  }
  CheckId(v, "owner_id", o.owner_id, o.level == Level::kIndividual);
  CheckId(v, "team_id", o.team_id, false);
  CheckId(v, "cycle_id", o.cycle_id, true);
  if (!IsSpecified(o.kind)) {
    v.Add("kind",
          "is required: COMMITTED (must reach 1.0) or ASPIRATIONAL (0.7 is "
          "success)");
  }
  if (!IsSpecified(o.category)) {
    v.Add("category", "must be one of NONE, PROFIT, PRODUCT, PEOPLE, "
                      "PROMOTION, PROGRESS");
  }
  if (o.priority < 0) {
    v.Add("priority", absl::StrCat("must be >= 0 (1 is the most important, 0 "
                                   "unranked); got ",
                                   o.priority));
  }
  if (!IsSpecified(o.state)) {
    v.Add("state", "is required: DRAFT, PUBLISHED or ARCHIVED");
  }
  if (!IsSpecified(o.progress_source)) {
    v.Add("progress_source", "is required: KEY_RESULTS, CHILDREN or BOTH");
  }

  const Alignment& a = o.alignment;
  CheckWeight(v, "alignment.weight", a.weight);
  CheckId(v, "alignment.parent_objective_id", a.parent_objective_id,
          a.kind == AlignmentKind::kObjective);
  CheckId(v, "alignment.parent_key_result_id", a.parent_key_result_id,
          a.kind == AlignmentKind::kKeyResult);
  switch (a.kind) {
    case AlignmentKind::kNone:
      if (!a.parent_objective_id.empty()) {
        v.Add("alignment.parent_objective_id",
              "must be empty when alignment.kind is NONE; set kind to "
              "OBJECTIVE to align to this objective");
      }
      if (!a.parent_key_result_id.empty()) {
        v.Add("alignment.parent_key_result_id",
              "must be empty when alignment.kind is NONE; set kind to "
              "KEY_RESULT to align to this key result");
      }
      break;
    case AlignmentKind::kObjective:
      if (!a.parent_key_result_id.empty()) {
        v.Add("alignment.parent_key_result_id",
              "must be empty when alignment.kind is OBJECTIVE; use kind "
              "KEY_RESULT to align to a key result");
      }
      break;
    case AlignmentKind::kKeyResult:
      break;
    default:
      v.Add("alignment.kind", "must be NONE, OBJECTIVE or KEY_RESULT");
  }
  if (!o.id.empty() && a.kind != AlignmentKind::kNone &&
      a.parent_objective_id == o.id) {
    v.Add("alignment.parent_objective_id",
          "must differ from objective.id: an objective cannot align to itself");
  }
  CheckId(v, "breakdown_of_objective_id", o.breakdown_of_objective_id, false);
  if (!o.id.empty() && o.breakdown_of_objective_id == o.id) {
    v.Add("breakdown_of_objective_id",
          "must differ from objective.id: an objective cannot be a breakdown "
          "of itself");
  }
  CheckId(v, "rolled_over_from_id", o.rolled_over_from_id, false);
  return v.ToStatus();
}

absl::Status ValidateKeyResult(const KeyResult& kr) {
  Violations v("key_result");
  CheckId(v, "id", kr.id, false);
  CheckId(v, "organisation_id", kr.organisation_id, false);
  CheckId(v, "objective_id", kr.objective_id, true);
  CheckText(v, "title", kr.title, true, kMaxTitleLength, Lines::kSingle);
  CheckId(v, "owner_id", kr.owner_id, false);

  switch (kr.type) {
    case KeyResultType::kMetric: {
      if (!IsSpecified(kr.measure)) {
        v.Add("measure", "is required for a METRIC key result: KPI or "
                         "PERCENT_COMPLETE");
      }
      if (kr.direction != Direction::kUnspecified &&
          !IsSpecified(kr.direction)) {
        v.Add("direction", "must be INCREASE, DECREASE, AT_LEAST, AT_MOST or "
                           "UNSPECIFIED (derived from from and to)");
      }
      const bool from_ok = std::isfinite(kr.from);
      const bool to_ok = std::isfinite(kr.to);
      if (!from_ok) {
        v.Add("from", absl::StrCat("must be a finite number; got ", kr.from));
      }
      if (!to_ok) {
        v.Add("to", absl::StrCat("must be a finite number; got ", kr.to));
      }
      const bool threshold = kr.direction == Direction::kAtLeast ||
                             kr.direction == Direction::kAtMost;
      if (from_ok && to_ok && !threshold) {
        if (kr.to == kr.from) {
          v.Add("to",
                "must differ from key_result.from for an INCREASE/DECREASE "
                "metric key result (use AT_LEAST or AT_MOST for a threshold)");
        } else if (kr.direction == Direction::kIncrease && kr.to < kr.from) {
          v.Add("direction",
                absl::StrCat("is INCREASE but to (", kr.to,
                             ") is below from (", kr.from,
                             "); use DECREASE or swap from and to"));
        } else if (kr.direction == Direction::kDecrease && kr.to > kr.from) {
          v.Add("direction",
                absl::StrCat("is DECREASE but to (", kr.to,
                             ") is above from (", kr.from,
                             "); use INCREASE or swap from and to"));
        }
      }
      if (kr.measure == Measure::kPercentComplete) {
        for (auto [field, value] :
             {std::pair<absl::string_view, double>{"from", kr.from},
              std::pair<absl::string_view, double>{"to", kr.to}}) {
          if (std::isfinite(value) && (value < 0 || value > 100)) {
            v.Add(field, absl::StrCat("must be between 0 and 100 for a "
                                      "PERCENT_COMPLETE key result; got ",
                                      value));
          }
        }
      }
      CheckText(v, "unit", kr.unit, false, kMaxUnitLength, Lines::kSingle);
      break;
    }
    case KeyResultType::kMilestone: {
      constexpr absl::string_view kWhy =
          " for a MILESTONE key result (a milestone is done or not done; use "
          "a METRIC key result to measure a value)";
      if (kr.from != 0) {
        v.Add("from", absl::StrCat("must be 0", kWhy, "; got ", kr.from));
      }
      if (kr.to != 0) {
        v.Add("to", absl::StrCat("must be 0", kWhy, "; got ", kr.to));
      }
      if (kr.direction != Direction::kUnspecified) {
        v.Add("direction", absl::StrCat("must be UNSPECIFIED", kWhy, "; got ",
                                        Name(kr.direction)));
      }
      if (kr.measure != Measure::kUnspecified) {
        v.Add("measure", absl::StrCat("must be UNSPECIFIED", kWhy, "; got ",
                                      Name(kr.measure)));
      }
      if (!kr.unit.empty()) {
        v.Add("unit", absl::StrCat("must be empty", kWhy));
      }
      break;
    }
    default:
      v.Add("type", "is required: METRIC (from a start value to a target) or "
                    "MILESTONE (done or not done)");
  }

  CheckWeight(v, "weight", kr.weight);
  if (!IsSpecified(kr.data_source)) {
    v.Add("data_source",
          "must be UNKNOWN, MANUAL, SPREADSHEET or INTEGRATION");
  }
  CheckText(v, "data_source_ref", kr.data_source_ref, false,
            kMaxDataSourceRefLength, Lines::kSingle);
  if (kr.data_source == DataSource::kIntegration &&
      absl::StripAsciiWhitespace(kr.data_source_ref).empty()) {
    v.Add("data_source_ref",
          "is required when data_source is INTEGRATION: name where the "
          "integration reads the value (e.g. a report id)");
  }
  CheckId(v, "rolled_over_from_id", kr.rolled_over_from_id, false);
  return v.ToStatus();
}

absl::Status ValidateCheckIn(const CheckIn& c, const KeyResult& kr) {
  Violations v("check_in");
  CheckId(v, "id", c.id, false);
  CheckId(v, "organisation_id", c.organisation_id, false);
  CheckId(v, "key_result_id", c.key_result_id, true);
  if (!kr.id.empty() && !c.key_result_id.empty() &&
      c.key_result_id != kr.id) {
    v.Add("key_result_id",
          absl::StrCat("is ", Quote(c.key_result_id),
                       " but the check-in was validated against key result ",
                       Quote(kr.id)));
  }
  switch (kr.type) {
    case KeyResultType::kMetric:
      if (!c.value.has_value()) {
        v.Add("value", "is required for a METRIC key result: the current "
                       "value of the measure");
      } else if (!std::isfinite(*c.value)) {
        v.Add("value", absl::StrCat("must be a finite number; got ", *c.value));
      } else if (kr.measure == Measure::kPercentComplete &&
                 (*c.value < 0 || *c.value > 100)) {
        v.Add("value", absl::StrCat("must be between 0 and 100 for a "
                                    "PERCENT_COMPLETE key result; got ",
                                    *c.value));
      }
      if (c.done.has_value()) {
        v.Add("done", "must not be set for a METRIC key result; report the "
                      "current value instead");
      }
      break;
    case KeyResultType::kMilestone:
      if (!c.done.has_value()) {
        v.Add("done", "is required for a MILESTONE key result: true once the "
                      "milestone is reached");
      }
      if (c.value.has_value()) {
        v.Add("value", "must not be set for a MILESTONE key result; report "
                       "done instead");
      }
      break;
    default:
      v.Add("key_result_id", "names a key result without a type (METRIC or "
                             "MILESTONE); fix the key result first");
  }
  if (c.confidence.has_value() &&
      (*c.confidence < kMinConfidence || *c.confidence > kMaxConfidence)) {
    v.Add("confidence",
          absl::StrFormat("must be between %d and %d; got %d", kMinConfidence,
                          kMaxConfidence, *c.confidence));
  }
  if (c.status != CheckInStatus::kUnspecified && !IsSpecified(c.status)) {
    v.Add("status", "must be ON_TRACK, AT_RISK, OFF_TRACK or UNSPECIFIED");
  }
  CheckText(v, "note", c.note, false, kMaxNoteLength, Lines::kMulti);
  CheckId(v, "author_id", c.author_id, true);
  CheckId(v, "client_key", c.client_key, false);
  return v.ToStatus();
}

// ---------------------------------------------------------------------------
// Alignment.

absl::string_view AlignmentParentOf(const AlignmentLookup& lookup,
                                    const Objective& objective) {
  const Alignment& a = objective.alignment;
  switch (a.kind) {
    case AlignmentKind::kObjective:
      return a.parent_objective_id;
    case AlignmentKind::kKeyResult:
      if (!a.parent_key_result_id.empty()) {
        if (const KeyResult* kr = lookup.FindKeyResult(a.parent_key_result_id)) {
          return kr->objective_id;
        }
      }
      return a.parent_objective_id;
    default:
      return {};
  }
}

absl::Status ValidateAlignment(const Objective& child,
                               absl::Span<const Objective> objectives,
                               absl::Span<const KeyResult> key_results,
                               absl::Span<const Cycle> cycles) {
  // Nothing to look up for a root: spare the maps.
  if (child.alignment.kind != AlignmentKind::kObjective &&
      child.alignment.kind != AlignmentKind::kKeyResult &&
      child.breakdown_of_objective_id.empty()) {
    return absl::OkStatus();
  }
  const Graph graph(objectives, key_results, cycles);
  return ValidateAlignment(child, graph);
}

absl::Status ValidateAlignment(const Objective& child,
                               const AlignmentLookup& lookup) {
  const WithChild graph(lookup, child);
  const Alignment& a = child.alignment;
  const bool by_objective = a.kind == AlignmentKind::kObjective;
  const bool by_key_result = a.kind == AlignmentKind::kKeyResult;
  const bool breakdown = !child.breakdown_of_objective_id.empty();
  const std::string parent_field =
      by_key_result ? "objective.alignment.parent_key_result_id"
                    : "objective.alignment.parent_objective_id";
  constexpr absl::string_view kBreakdownField =
      "objective.breakdown_of_objective_id";

  // 1. Links that are wrong whatever the state.
  std::vector<FieldViolation> invalid;
  if (by_objective && a.parent_objective_id.empty()) {
    invalid.push_back({parent_field, "is required when alignment.kind is "
                                     "OBJECTIVE"});
  }
  if (by_key_result && a.parent_key_result_id.empty()) {
    invalid.push_back({parent_field, "is required when alignment.kind is "
                                     "KEY_RESULT"});
  }
  if (!child.id.empty() && (by_objective || by_key_result) &&
      a.parent_objective_id == child.id) {
    invalid.push_back({"objective.alignment.parent_objective_id",
                       "must differ from objective.id: an objective cannot "
                       "align to itself"});
  }
  if (!child.id.empty() && by_key_result && !a.parent_key_result_id.empty()) {
    // The parent_objective_id of a Duality link may be left empty; the KR
    // still says whose it is.
    const KeyResult* kr = graph.FindKeyResult(a.parent_key_result_id);
    if (kr != nullptr && kr->objective_id == child.id) {
      invalid.push_back({parent_field,
                         "must be a key result of another objective: an "
                         "objective cannot align to its own key result"});
    }
  }
  if (!child.id.empty() && child.breakdown_of_objective_id == child.id) {
    invalid.push_back({std::string(kBreakdownField),
                       "must differ from objective.id: an objective cannot be "
                       "a breakdown of itself"});
  }
  if (!invalid.empty()) return MakeInvalidArgument(invalid);
  if (!by_objective && !by_key_result && !breakdown) return absl::OkStatus();

  // 2. Everything the links name must exist.
  std::vector<FieldViolation> missing;
  const Objective* parent = nullptr;
  if (by_objective) {
    parent = graph.FindObjective(a.parent_objective_id);
    if (parent == nullptr) {
      missing.push_back({parent_field,
                         absl::StrCat("no objective ", Quote(a.parent_objective_id),
                                      " in this organisation")});
    }
  } else if (by_key_result) {
    const KeyResult* kr = graph.FindKeyResult(a.parent_key_result_id);
    if (kr == nullptr) {
      missing.push_back({parent_field,
                         absl::StrCat("no key result ",
                                      Quote(a.parent_key_result_id),
                                      " in this organisation")});
    } else if ((parent = graph.FindObjective(kr->objective_id)) == nullptr) {
      missing.push_back(
          {parent_field,
           absl::StrCat("key result ", Quote(kr->id), " belongs to objective ",
                        Quote(kr->objective_id), ", which does not exist")});
    } else if (!a.parent_objective_id.empty() &&
               a.parent_objective_id != kr->objective_id) {
      invalid.push_back(
          {"objective.alignment.parent_objective_id",
           absl::StrCat("is ", Quote(a.parent_objective_id), " but key result ",
                        Quote(kr->id), " belongs to objective ",
                        Quote(kr->objective_id),
                        "; leave it empty or name that objective")});
    }
  }
  const Objective* target = nullptr;
  if (breakdown) {
    target = graph.FindObjective(child.breakdown_of_objective_id);
    if (target == nullptr) {
      missing.push_back({std::string(kBreakdownField),
                         absl::StrCat("no objective ",
                                      Quote(child.breakdown_of_objective_id),
                                      " in this organisation")});
    }
  }
  const Cycle* child_cycle = graph.FindCycle(child.cycle_id);
  if (child_cycle == nullptr) {
    missing.push_back({"objective.cycle_id",
                       absl::StrCat("no cycle ", Quote(child.cycle_id),
                                    " in this organisation")});
  }
  const Cycle* parent_cycle = nullptr;
  if (parent != nullptr &&
      (parent_cycle = graph.FindCycle(parent->cycle_id)) == nullptr) {
    missing.push_back({parent_field,
                       absl::StrCat("the parent objective ", Quote(parent->id),
                                    " is in cycle ", Quote(parent->cycle_id),
                                    ", which does not exist")});
  }
  const Cycle* target_cycle = nullptr;
  if (target != nullptr &&
      (target_cycle = graph.FindCycle(target->cycle_id)) == nullptr) {
    missing.push_back({std::string(kBreakdownField),
                       absl::StrCat("objective ", Quote(target->id),
                                    " is in cycle ", Quote(target->cycle_id),
                                    ", which does not exist")});
  }
  if (!missing.empty()) {
    return MakeFieldStatus(absl::StatusCode::kNotFound, missing);
  }

  // 3. The time rules. Cycles of unknown kind are left to ValidateCycle.
  if (parent != nullptr) {
    const int child_rank = LengthRank(child_cycle->kind);
    const int parent_rank = LengthRank(parent_cycle->kind);
    if (child_rank > 0 && parent_rank > 0 && child_rank > parent_rank) {
      invalid.push_back(
          {parent_field,
           absl::StrFormat(
               "the parent objective %s is in %s cycle %s, shorter than this "
               "objective's %s cycle %s; align to an objective in a cycle at "
               "least as long (a quarterly objective may align to an annual "
               "one, never the reverse)",
               Quote(parent->id), Name(parent_cycle->kind),
               Quote(parent_cycle->id), Name(child_cycle->kind),
               Quote(child_cycle->id))});
    }
  }
  if (target != nullptr) {
    const int child_rank = LengthRank(child_cycle->kind);
    const int target_rank = LengthRank(target_cycle->kind);
    const bool longer = target_rank > child_rank && child_rank > 0;
    const bool contains = target_cycle->start <= child_cycle->start &&
                          child_cycle->end <= target_cycle->end;
    if (!longer || !contains) {
      invalid.push_back(
          {std::string(kBreakdownField),
           absl::StrFormat(
               "objective %s is in cycle %s, which must be longer than and "
               "contain this objective's cycle %s; break an annual objective "
               "into quarterly ones within that year (or a quarterly one into "
               "monthly ones)",
               Quote(target->id), DescribeCycle(*target_cycle),
               DescribeCycle(*child_cycle))});
    }
  }
  if (!invalid.empty()) return MakeInvalidArgument(invalid);

  // 4. Loops. A new objective (no id yet) has no children, so it cannot
  // close one.
  if (parent != nullptr && !child.id.empty()) {
    std::vector<Id> path = {child.id};
    // Not `= {child.id}`: that would deduce an initializer_list<std::string>
    // of copies and keep views into them after they are gone.
    absl::flat_hash_set<absl::string_view> seen;
    seen.insert(absl::string_view(child.id));
    for (const Objective* cur = parent; cur != nullptr;) {
      if (cur->id == child.id) {
        FieldViolation fv{
            parent_field,
            absl::StrFormat("aligning %s to %s would close the loop %s; the "
                            "alignment graph must stay a forest, so remove "
                            "one of these links first",
                            Quote(child.id), Quote(parent->id),
                            FormatLoop(path))};
        return MakeFieldStatus(absl::StatusCode::kFailedPrecondition,
                               {&fv, 1});
      }
      // A loop already stored that does not pass through the child is not
      // this link's fault; stop walking it.
      if (!seen.insert(cur->id).second) break;
      path.push_back(cur->id);
      cur = graph.FindObjective(graph.ParentOf(*cur));
    }
  }
  return absl::OkStatus();
}

std::vector<Id> FindAlignmentLoop(absl::Span<const Objective> objectives,
                                  absl::Span<const KeyResult> key_results) {
  const Graph graph({}, key_results, {});
  absl::flat_hash_map<absl::string_view, size_t> index;
  index.reserve(objectives.size());
  for (size_t i = 0; i < objectives.size(); ++i) {
    if (!objectives[i].id.empty()) index.try_emplace(objectives[i].id, i);
  }
  // walk[i] is 1 + the start of the walk that first reached i; 0 = unvisited.
  // Each objective has at most one parent, so a walk that meets an earlier
  // walk's node can stop: that chain is known to end without a loop.
  std::vector<size_t> walk(objectives.size(), 0);
  for (size_t start = 0; start < objectives.size(); ++start) {
    if (walk[start] != 0) continue;
    std::vector<size_t> path;
    size_t cur = start;
    while (true) {
      walk[cur] = start + 1;
      path.push_back(cur);
      auto it = index.find(AlignmentParentOf(graph, objectives[cur]));
      if (it == index.end()) break;
      const size_t next = it->second;
      if (walk[next] == start + 1) {
        // The loop is the path from `next` on; rotate it to start at its
        // earliest listed objective.
        auto first = std::find(path.begin(), path.end(), next);
        std::vector<size_t> loop(first, path.end());
        auto min = std::min_element(loop.begin(), loop.end());
        std::rotate(loop.begin(), min, loop.end());
        std::vector<Id> ids;
        ids.reserve(loop.size());
        for (size_t i : loop) ids.push_back(objectives[i].id);
        return ids;
      }
      if (walk[next] != 0) break;
      cur = next;
    }
  }
  return {};
}

absl::Status ValidateAlignmentForest(absl::Span<const Objective> objectives,
                                     absl::Span<const KeyResult> key_results) {
  std::vector<Id> loop = FindAlignmentLoop(objectives, key_results);
  if (loop.empty()) return absl::OkStatus();
  FieldViolation fv{"objective.alignment",
                    absl::StrFormat("objectives %s form a loop; the alignment "
                                    "graph must be a forest, so realign one "
                                    "of them",
                                    FormatLoop(loop))};
  return MakeFieldStatus(absl::StatusCode::kFailedPrecondition, {&fv, 1});
}

}  // namespace okr
