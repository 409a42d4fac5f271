#include "common/plan_csv.h"

#include <csv.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace okr {
namespace {

// ---------------------------------------------------------------------------
// Columns
// ---------------------------------------------------------------------------

// Objective columns come first: the writer repeats them on every row of an
// objective and the parser checks that the repeats agree.
enum Column : int {
  kCycle,
  kObjectiveRef,
  kObjectiveTitle,
  kObjectiveDescription,
  kLevel,
  kOwner,
  kTeam,
  kKind,
  kCategory,
  kPriority,
  kState,
  kProgressSource,
  kAlignedTo,
  kAlignedToKr,
  kAlignmentWeight,
  kBreakdownOf,
  kKrRef,  // first key-result column
  kKrTitle,
  kKrOwner,
  kKrType,
  kMeasure,
  kFrom,
  kTo,
  kUnit,
  kDirection,
  kKrWeight,
  kDataSource,
  kDataSourceRef,
  kProgressFromChildren,
  kCurrentValue,
  kDone,
  kConfidence,
  kNumColumns,
};
constexpr int kFirstKrColumn = kKrRef;

constexpr std::array<absl::string_view, kNumColumns> kColumnNames = {
    "cycle",
    "objective_ref",
    "objective_title",
    "objective_description",
    "level",
    "owner",
    "team",
    "kind",
    "category",
    "priority",
    "state",
    "progress_source",
    "aligned_to",
    "aligned_to_kr",
    "alignment_weight",
    "breakdown_of",
    "kr_ref",
    "kr_title",
    "kr_owner",
    "kr_type",
    "measure",
    "from",
    "to",
    "unit",
    "direction",
    "kr_weight",
    "data_source",
    "data_source_ref",
    "progress_from_children",
    "current_value",
    "done",
    "confidence",
};

// Columns whose header must be present (their values are required too);
// cycle may be missing when a default cycle is given.
constexpr std::array<Column, 3> kRequiredColumns = {kCycle, kObjectiveRef,
                                                    kObjectiveTitle};

// Free text keeps its surrounding spaces when quoted (so the round trip is
// exact); every other column is an identifier, name, enum or number where
// stray spaces are never meant.
bool IsFreeText(int c) {
  return c == kObjectiveTitle || c == kObjectiveDescription || c == kKrTitle ||
         c == kUnit || c == kDataSourceRef;
}

// Enum-valued objective columns compare case-insensitively across the rows of
// one objective ("committed" and "COMMITTED" agree).
bool IsCaseInsensitive(int c) {
  return c == kCycle || c == kLevel || c == kKind || c == kCategory ||
         c == kState || c == kProgressSource;
}

absl::string_view ColumnName(int c) { return kColumnNames[c]; }

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

class ErrorList {
 public:
  explicit ErrorList(int max_errors) : max_errors_(std::max(1, max_errors)) {}

  void Add(int row, absl::string_view column, std::string reason) {
    if (static_cast<int>(errors_.size()) >= max_errors_) {
      truncated_ = true;
      return;
    }
    errors_.push_back(
        PlanCsvError{row, std::string(column), std::move(reason)});
  }
  void Add(int row, int column, std::string reason) {
    Add(row, ColumnName(column), std::move(reason));
  }

  bool empty() const { return errors_.empty(); }

  // Sorts by row (stably, so a row's errors keep their column order), copies
  // the list out and builds the INVALID_ARGUMENT status.
  absl::Status Finish(std::vector<PlanCsvError>* out) {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const PlanCsvError& a, const PlanCsvError& b) {
                       return a.row < b.row;
                     });
    std::string message =
        absl::StrCat("plan CSV rejected, nothing imported; ", errors_.size(),
                     errors_.size() == 1 ? " error: " : " errors: ");
    for (size_t i = 0; i < errors_.size(); ++i) {
      if (i > 0) message += "; ";
      message += errors_[i].ToString();
    }
    if (truncated_) {
      absl::StrAppend(&message, "; stopped after ", max_errors_,
                      " errors, fix these and try again");
    }
    if (out != nullptr) *out = errors_;
    return absl::InvalidArgumentError(message);
  }

 private:
  int max_errors_;
  bool truncated_ = false;
  std::vector<PlanCsvError> errors_;
};

// ---------------------------------------------------------------------------
// Tokenising with libcsv
// ---------------------------------------------------------------------------

struct Record {
  int row = 0;
  std::vector<std::string> fields;
};

struct TokenizerState {
  std::vector<Record> records;
  std::vector<std::string> fields;  // of the record being read
  int rows_seen = 0;                // spreadsheet rows completed so far
  int prev_terminator = 0;
  size_t max_records = 0;
  bool stopped = false;
};

void OnField(void* data, size_t len, void* ctx) {
  auto* st = static_cast<TokenizerState*>(ctx);
  if (st->stopped) return;
  st->fields.emplace_back(data == nullptr ? "" : static_cast<const char*>(data),
                          data == nullptr ? 0 : len);
}

void OnRecordEnd(int terminator, void* ctx) {
  auto* st = static_cast<TokenizerState*>(ctx);
  if (st->stopped) return;
  const int prev = st->prev_terminator;
  st->prev_terminator = terminator;
  if (st->fields.empty()) {
    // CSV_REPALL_NL reports every line end outside a record so that blank
    // lines keep the row numbers a spreadsheet shows; the LF of a CRLF pair
    // is not a line of its own.
    if (!(terminator == CSV_LF && prev == CSV_CR)) ++st->rows_seen;
    return;
  }
  ++st->rows_seen;
  st->records.push_back(Record{st->rows_seen, std::move(st->fields)});
  st->fields.clear();
  if (st->records.size() > st->max_records) st->stopped = true;
}

// Owns a libcsv parser for the duration of one parse.
class CsvParser {
 public:
  CsvParser() {
    ok_ = csv_init(&parser_, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) == 0;
  }
  ~CsvParser() {
    if (ok_) csv_free(&parser_);
  }
  CsvParser(const CsvParser&) = delete;
  CsvParser& operator=(const CsvParser&) = delete;

  bool ok() const { return ok_; }
  csv_parser* get() { return &parser_; }

 private:
  csv_parser parser_{};
  bool ok_ = false;
};

std::string DescribeCsvError(int code) {
  switch (code) {
    case CSV_EPARSE:
      return "malformed quoting: a quote inside an unquoted field, text after "
             "a closing quote, or a quoted field that never ends; enclose the "
             "field in double quotes and double every quote inside it";
    case CSV_ENOMEM:
    case CSV_ETOOBIG:
      return "the field is too large to read";
    default:
      return absl::StrCat("CSV error: ", csv_strerror(code));
  }
}

// Splits `text` into records. Returns false after adding an error when the
// text cannot be tokenised (bad quoting, too many rows).
bool Tokenize(absl::string_view text, const PlanCsvOptions& options,
              ErrorList* errors, std::vector<Record>* records) {
  CsvParser parser;
  if (!parser.ok()) {
    errors->Add(0, "", "could not start the CSV parser (out of memory)");
    return false;
  }
  TokenizerState st;
  st.max_records = static_cast<size_t>(std::max(0, options.max_rows)) + 1;

  // Fed in chunks so that a file over the row limit stops early instead of
  // being tokenised to the end.
  constexpr size_t kChunk = 64 * 1024;
  bool syntax_error = false;
  for (size_t pos = 0; pos < text.size() && !st.stopped;) {
    const size_t n = std::min(kChunk, text.size() - pos);
    const size_t done = csv_parse(parser.get(), text.data() + pos, n, OnField,
                                  OnRecordEnd, &st);
    if (done < n) {
      syntax_error = true;
      break;
    }
    pos += n;
  }
  if (!syntax_error && !st.stopped &&
      csv_fini(parser.get(), OnField, OnRecordEnd, &st) != 0) {
    syntax_error = true;
  }
  if (syntax_error) {
    // The record being read is the one after the last completed row.
    const int row = st.rows_seen + 1;
    const size_t field = st.fields.size();
    std::string column;
    if (!st.records.empty() && row > st.records.front().row &&
        field < st.records.front().fields.size()) {
      column = absl::AsciiStrToLower(
          absl::StripAsciiWhitespace(st.records.front().fields[field]));
    }
    if (column.empty()) column = absl::StrCat("#", field + 1);
    errors->Add(row, column, DescribeCsvError(csv_error(parser.get())));
    return false;
  }
  if (st.records.size() > st.max_records) {
    errors->Add(st.records.back().row, "",
                absl::StrCat("the file has more than ", options.max_rows,
                             " data rows; split it into several imports"));
    return false;
  }
  *records = std::move(st.records);
  return true;
}

// ---------------------------------------------------------------------------
// Field checks
// ---------------------------------------------------------------------------

// Returns an empty string when `s` is well-formed UTF-8 without control
// characters other than tab, CR and LF, else the reason.
std::string CheckText(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) {
        return absl::StrCat("contains the control character 0x",
                            absl::Hex(c, absl::kZeroPad2), " at byte ", i + 1);
      }
      ++i;
      continue;
    }
    int extra = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      extra = -1;
    }
    bool ok = extra > 0 && i + static_cast<size_t>(extra) < s.size();
    for (int k = 1; ok && k <= extra; ++k) {
      const unsigned char b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (ok) {
      static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[extra] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (!ok) {
      return absl::StrCat(
          "is not valid UTF-8 (byte ", i + 1,
          "); save the spreadsheet as \"CSV UTF-8\" and try again");
    }
    i += extra + 1;
  }
  return "";
}

std::string Quoted(absl::string_view s) { return absl::StrCat("'", s, "'"); }

std::optional<double> ParseNumber(absl::string_view s) {
  double v = 0;
  if (!absl::SimpleAtod(s, &v) || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string NotANumber(absl::string_view s) {
  return absl::StrCat(Quoted(s),
                      " is not a number; write digits with '.' as the decimal "
                      "point and no thousands separators or units");
}

std::optional<bool> ParseBool(absl::string_view s) {
  for (absl::string_view t : {"TRUE", "YES", "1"}) {
    if (absl::EqualsIgnoreCase(s, t)) return true;
  }
  for (absl::string_view f : {"FALSE", "NO", "0"}) {
    if (absl::EqualsIgnoreCase(s, f)) return false;
  }
  return std::nullopt;
}

template <typename E>
std::string AllowedNames(std::initializer_list<E> allowed) {
  std::vector<absl::string_view> names;
  for (E e : allowed) names.push_back(Name(e));
  return absl::StrJoin(names, ", ");
}

// Parses an enum value restricted to `allowed` (so "UNSPECIFIED" is refused
// even though ParseName knows it).
template <typename E>
bool ParseEnum(absl::string_view s, std::initializer_list<E> allowed, E* out) {
  E v{};
  if (!ParseName(s, &v)) return false;
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
    return false;
  *out = v;
  return true;
}

// A cycle name: FY<year>, FY<year>-Q<1..4> or FY<year>-M<01..12>, the fiscal
// year named by the calendar year in which it ends. Returns the canonical
// (upper-case) cycle with its kind and parent name.
std::optional<Cycle> ParseCycleName(absl::string_view raw) {
  const std::string s = absl::AsciiStrToUpper(raw);
  auto digits = [&](size_t from, size_t n) {
    if (s.size() < from + n) return false;
    for (size_t i = from; i < from + n; ++i) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
  };
  if (!absl::StartsWith(s, "FY") || !digits(2, 4)) return std::nullopt;
  Cycle c;
  c.id = c.name = s;
  const std::string year = s.substr(0, 6);
  if (s.size() == 6) {
    c.kind = CycleKind::kAnnual;
    return c;
  }
  if (s.size() == 9 && s[6] == '-' && s[7] == 'Q' && s[8] >= '1' &&
      s[8] <= '4') {
    c.kind = CycleKind::kQuarterly;
    c.parent_cycle_id = year;
    return c;
  }
  if (s.size() == 10 && s[6] == '-' && s[7] == 'M' && digits(8, 2)) {
    const int month = (s[8] - '0') * 10 + (s[9] - '0');
    if (month < 1 || month > 12) return std::nullopt;
    c.kind = CycleKind::kMonthly;
    c.parent_cycle_id = absl::StrCat(year, "-Q", (month - 1) / 3 + 1);
    return c;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Rows grouped by objective
// ---------------------------------------------------------------------------

constexpr int kNumObjectiveColumns = kFirstKrColumn;

struct ObjectiveRows {
  std::string ref;
  int first_row = 0;
  // The first non-empty value of each objective column and its row (0: none).
  std::array<std::string, kNumObjectiveColumns> value;
  std::array<int, kNumObjectiveColumns> value_row{};
  std::vector<size_t> krs;  // indices into the KR rows, in row order
};

struct KrRow {
  int row = 0;
  size_t objective = 0;
  std::array<std::string, kNumColumns> value;  // only KR columns are used
};

// Reads the header row into a field-index -> column map (-1: ignored).
bool ReadHeader(const Record& header, bool cycle_optional, ErrorList* errors,
                std::vector<int>* columns) {
  bool ok = true;
  std::array<int, kNumColumns> seen_at{};  // 1-based field index, 0: absent
  columns->assign(header.fields.size(), -1);
  for (size_t i = 0; i < header.fields.size(); ++i) {
    const std::string name =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(header.fields[i]));
    if (name.empty()) {
      // Spreadsheets often add empty trailing header cells; the data under
      // them must then be empty too (checked per row).
      continue;
    }
    auto it = std::find(kColumnNames.begin(), kColumnNames.end(), name);
    if (it == kColumnNames.end()) {
      errors->Add(header.row, name,
                  "unknown column; the columns are " +
                      absl::StrJoin(kColumnNames, ", "));
      ok = false;
      continue;
    }
    const int c = static_cast<int>(it - kColumnNames.begin());
    if (seen_at[c] != 0) {
      errors->Add(header.row, name,
                  absl::StrCat("appears twice (fields ", seen_at[c], " and ",
                               i + 1, "); keep one"));
      ok = false;
      continue;
    }
    seen_at[c] = static_cast<int>(i) + 1;
    (*columns)[i] = c;
  }
  for (Column c : kRequiredColumns) {
    if (c == kCycle && cycle_optional) continue;
    if (seen_at[c] == 0) {
      errors->Add(header.row, c, "required column is missing from the header");
      ok = false;
    }
  }
  return ok;
}

// Everything the parse builds up between phases.
class PlanCsvReader {
 public:
  PlanCsvReader(const PlanCsvOptions& options, ErrorList* errors)
      : options_(options), errors_(errors) {}

  void AddRecord(const Record& rec, const std::vector<int>& columns);
  // Turns the grouped rows into the result; call once after all records.
  PlanCsv Build();

 private:
  void MergeObjectiveValue(ObjectiveRows& obj, int column,
                           const std::string& value, int row);
  void BuildObjective(const ObjectiveRows& rows, Objective* out);
  void BuildKeyResult(const KrRow& rows, const ObjectiveRows& obj,
                      KeyResult* out, std::optional<CheckIn>* check_in);
  void AssignKeyResultRefs();
  void ResolveReferences(PlanCsv* result);
  void CheckLoops(const PlanCsv& result);

  void NotePerson(const std::string& name);
  void NoteTeam(const std::string& name);

  const PlanCsvOptions& options_;
  ErrorList* errors_;
  std::vector<ObjectiveRows> objectives_;
  absl::flat_hash_map<std::string, size_t> objective_index_;
  std::vector<KrRow> krs_;
  std::vector<std::string> kr_refs_;  // parallel to krs_, after assignment

  std::vector<std::string> people_;
  absl::flat_hash_set<std::string> people_seen_;
  std::vector<std::string> teams_;
  absl::flat_hash_set<std::string> teams_seen_;
  std::vector<Cycle> cycles_;
  absl::flat_hash_set<std::string> cycles_seen_;
};

void PlanCsvReader::AddRecord(const Record& rec,
                              const std::vector<int>& columns) {
  std::array<std::string, kNumColumns> v;
  bool any = false;
  for (size_t i = 0; i < rec.fields.size(); ++i) {
    const std::string& raw = rec.fields[i];
    const int c = i < columns.size() ? columns[i] : -1;
    const std::string label =
        c >= 0 ? std::string(ColumnName(c)) : absl::StrCat("#", i + 1);
    if (c < 0) {
      if (!absl::StripAsciiWhitespace(raw).empty()) {
        errors_->Add(rec.row, label,
                     "value in a field that has no column name in the header");
        any = true;
      }
      continue;
    }
    // A bad field is reported and still used, so that the rest of the row
    // is checked too (the parse fails either way).
    if (raw.size() > options_.max_field_bytes) {
      errors_->Add(rec.row, label,
                   absl::StrCat("is ", raw.size(), " bytes long; the limit is ",
                                options_.max_field_bytes));
    } else if (std::string why = CheckText(raw); !why.empty()) {
      errors_->Add(rec.row, label, std::move(why));
    }
    v[c] = IsFreeText(c) ? raw : std::string(absl::StripAsciiWhitespace(raw));
    if (!absl::StripAsciiWhitespace(raw).empty()) any = true;
  }
  // A row of empty cells is what spreadsheets export below the data.
  if (!any) return;

  const std::string& ref = v[kObjectiveRef];
  if (ref.empty()) {
    errors_->Add(rec.row, kObjectiveRef,
                 "required; every row names the objective it belongs to");
    return;
  }
  auto [it, inserted] = objective_index_.try_emplace(ref, objectives_.size());
  if (inserted) {
    objectives_.emplace_back();
    objectives_.back().ref = ref;
    objectives_.back().first_row = rec.row;
  }
  ObjectiveRows& obj = objectives_[it->second];
  for (int c = 0; c < kNumObjectiveColumns; ++c) {
    if (c == kObjectiveRef) continue;
    MergeObjectiveValue(obj, c, v[c], rec.row);
  }

  bool has_kr = false;
  for (int c = kFirstKrColumn; c < kNumColumns; ++c) {
    if (!absl::StripAsciiWhitespace(v[c]).empty()) has_kr = true;
  }
  if (!has_kr) return;
  KrRow kr;
  kr.row = rec.row;
  kr.objective = it->second;
  for (int c = kFirstKrColumn; c < kNumColumns; ++c)
    kr.value[c] = std::move(v[c]);
  obj.krs.push_back(krs_.size());
  krs_.push_back(std::move(kr));
}

void PlanCsvReader::MergeObjectiveValue(ObjectiveRows& obj, int column,
                                        const std::string& value, int row) {
  if (absl::StripAsciiWhitespace(value).empty()) return;
  if (obj.value_row[column] == 0) {
    obj.value[column] = value;
    obj.value_row[column] = row;
    return;
  }
  const bool same = IsCaseInsensitive(column)
                        ? absl::EqualsIgnoreCase(obj.value[column], value)
                        : obj.value[column] == value;
  if (!same) {
    errors_->Add(
        row, column,
        absl::StrCat(Quoted(value), " differs from ", Quoted(obj.value[column]),
                     " on row ", obj.value_row[column], " for objective_ref ",
                     Quoted(obj.ref),
                     "; objective columns must agree on every row of "
                     "the objective (or be left empty)"));
  }
}

void PlanCsvReader::NotePerson(const std::string& name) {
  if (!name.empty() && people_seen_.insert(name).second)
    people_.push_back(name);
}

void PlanCsvReader::NoteTeam(const std::string& name) {
  if (!name.empty() && teams_seen_.insert(name).second) teams_.push_back(name);
}

void PlanCsvReader::BuildObjective(const ObjectiveRows& rows, Objective* o) {
  // Errors about a merged value point at the row the value came from.
  auto row_of = [&](int c) {
    return rows.value_row[c] != 0 ? rows.value_row[c] : rows.first_row;
  };
  const auto& v = rows.value;
  o->id = rows.ref;

  const std::string& cycle_name =
      v[kCycle].empty() ? options_.default_cycle : v[kCycle];
  if (cycle_name.empty()) {
    errors_->Add(row_of(kCycle), kCycle,
                 "required; name the cycle, e.g. FY2027 or FY2027-Q1");
  } else if (std::optional<Cycle> cycle = ParseCycleName(cycle_name)) {
    o->cycle_id = cycle->id;
    if (cycles_seen_.insert(cycle->id).second) cycles_.push_back(*cycle);
  } else {
    errors_->Add(row_of(kCycle), kCycle,
                 absl::StrCat(Quoted(v[kCycle]),
                              " is not a cycle name; use FY<year> (the "
                              "calendar year the fiscal year ends in), "
                              "FY<year>-Q<1-4> or FY<year>-M<01-12>, e.g. "
                              "FY2027-Q1"));
  }

  if (absl::StripAsciiWhitespace(v[kObjectiveTitle]).empty()) {
    errors_->Add(row_of(kObjectiveTitle), kObjectiveTitle, "required");
  }
  o->title = v[kObjectiveTitle];
  o->description = v[kObjectiveDescription];
  o->owner_id = v[kOwner];
  NotePerson(o->owner_id);
  o->team_id = v[kTeam];
  NoteTeam(o->team_id);

  auto parse_enum = [&]<typename E>(int c, std::initializer_list<E> allowed,
                                    E* out) {
    if (v[c].empty()) return;
    if (!ParseEnum(v[c], allowed, out)) {
      errors_->Add(row_of(c), c,
                   absl::StrCat(Quoted(v[c]), " is not one of ",
                                AllowedNames(allowed), " (or leave it empty)"));
    }
  };
  parse_enum(kLevel, {Level::kCompany, Level::kTeam, Level::kIndividual},
             &o->level);
  parse_enum(kKind, {ObjectiveKind::kCommitted, ObjectiveKind::kAspirational},
             &o->kind);
  parse_enum(kCategory,
             {Category::kNone, Category::kProfit, Category::kProduct,
              Category::kPeople, Category::kPromotion, Category::kProgress},
             &o->category);
  o->state = ObjectiveState::kDraft;
  parse_enum(kState,
             {ObjectiveState::kDraft, ObjectiveState::kPublished,
              ObjectiveState::kArchived},
             &o->state);
  o->progress_source = ProgressSource::kKeyResults;
  parse_enum(kProgressSource,
             {ProgressSource::kKeyResults, ProgressSource::kChildren,
              ProgressSource::kBoth},
             &o->progress_source);

  if (!v[kPriority].empty()) {
    int p = 0;
    if (!absl::SimpleAtoi(v[kPriority], &p) || p < 0) {
      errors_->Add(row_of(kPriority), kPriority,
                   absl::StrCat(Quoted(v[kPriority]),
                                " is not a rank; use a whole number, 1 for the "
                                "most important (0 or empty: unranked)"));
    } else {
      o->priority = p;
    }
  }

  if (!v[kAlignmentWeight].empty()) {
    std::optional<double> w = ParseNumber(v[kAlignmentWeight]);
    if (!w) {
      errors_->Add(row_of(kAlignmentWeight), kAlignmentWeight,
                   NotANumber(v[kAlignmentWeight]));
    } else if (*w < 0) {
      // 0 is allowed: it keeps the link but leaves it out of the rollup.
      errors_->Add(row_of(kAlignmentWeight), kAlignmentWeight,
                   absl::StrCat("must be 0 or more (got ",
                                v[kAlignmentWeight], ")"));
    } else if (v[kAlignedTo].empty() && v[kAlignedToKr].empty()) {
      errors_->Add(row_of(kAlignmentWeight), kAlignmentWeight,
                   "set only for an aligned objective; fill aligned_to or "
                   "aligned_to_kr, or leave the weight empty");
    } else {
      o->alignment.weight = *w;
    }
  }
}

void PlanCsvReader::BuildKeyResult(const KrRow& rows, const ObjectiveRows& obj,
                                   KeyResult* kr,
                                   std::optional<CheckIn>* check_in) {
  const auto& v = rows.value;
  const int row = rows.row;
  kr->objective_id = obj.ref;

  if (absl::StripAsciiWhitespace(v[kKrTitle]).empty()) {
    errors_->Add(row, kKrTitle,
                 "required on a key-result row (leave every key-result column "
                 "empty for an objective without key results)");
  }
  kr->title = v[kKrTitle];
  kr->owner_id = v[kKrOwner];
  NotePerson(kr->owner_id);

  auto parse_enum = [&]<typename E>(int c, std::initializer_list<E> allowed,
                                    E* out) {
    if (v[c].empty()) return;
    if (!ParseEnum(v[c], allowed, out)) {
      errors_->Add(
          row, c,
          absl::StrCat(Quoted(v[c]), " is not one of ", AllowedNames(allowed)));
    }
  };
  auto parse_number = [&](int c, double* out) {
    if (v[c].empty()) return false;
    std::optional<double> d = ParseNumber(v[c]);
    if (!d) {
      errors_->Add(row, c, NotANumber(v[c]));
      return false;
    }
    *out = *d;
    return true;
  };

  if (v[kKrType].empty()) {
    errors_->Add(row, kKrType,
                 "required on a key-result row; use METRIC or "
                 "MILESTONE");
  } else {
    parse_enum(kKrType, {KeyResultType::kMetric, KeyResultType::kMilestone},
               &kr->type);
  }

  if (kr->type == KeyResultType::kMilestone) {
    for (int c : {kMeasure, kFrom, kTo, kUnit, kDirection, kCurrentValue}) {
      if (!v[c].empty()) {
        errors_->Add(row, c,
                     "applies to METRIC key results only; leave it empty for "
                     "a MILESTONE (use done for its progress)");
      }
    }
  } else if (kr->type == KeyResultType::kMetric) {
    if (!v[kDone].empty()) {
      errors_->Add(row, kDone,
                   "applies to MILESTONE key results only; use current_value "
                   "for a METRIC");
    }
    kr->measure = Measure::kKpi;
    parse_enum(kMeasure, {Measure::kKpi, Measure::kPercentComplete},
               &kr->measure);
    parse_enum(kDirection,
               {Direction::kIncrease, Direction::kDecrease, Direction::kAtLeast,
                Direction::kAtMost},
               &kr->direction);
    kr->unit = v[kUnit];
    bool have_from = false, have_to = false;
    if (v[kFrom].empty()) {
      errors_->Add(row, kFrom, "required for a METRIC: the start value");
    } else {
      have_from = parse_number(kFrom, &kr->from);
    }
    if (v[kTo].empty()) {
      errors_->Add(row, kTo,
                   "required for a METRIC: the target (or the threshold for "
                   "AT_LEAST / AT_MOST)");
    } else {
      have_to = parse_number(kTo, &kr->to);
    }
    if (have_from && have_to) {
      const bool threshold = kr->direction == Direction::kAtLeast ||
                             kr->direction == Direction::kAtMost;
      if (!threshold && kr->to == kr->from) {
        errors_->Add(row, kTo,
                     absl::StrCat("must differ from 'from' (both are ", v[kTo],
                                  "); a target equal to the start value needs "
                                  "direction AT_LEAST or AT_MOST"));
      } else if (kr->direction == Direction::kIncrease && kr->to < kr->from) {
        errors_->Add(
            row, kDirection,
            absl::StrCat("INCREASE, but to (", v[kTo], ") is below from (",
                         v[kFrom], "); use DECREASE or swap the values"));
      } else if (kr->direction == Direction::kDecrease && kr->to > kr->from) {
        errors_->Add(
            row, kDirection,
            absl::StrCat("DECREASE, but to (", v[kTo], ") is above from (",
                         v[kFrom], "); use INCREASE or swap the values"));
      }
    }
  }

  if (!v[kKrWeight].empty()) {
    double w = 1;
    if (parse_number(kKrWeight, &w)) {
      if (w < 0) {
        // 0 is allowed: the KR stays on the plan but counts for nothing.
        errors_->Add(
            row, kKrWeight,
            absl::StrCat("must be 0 or more (got ", v[kKrWeight], ")"));
      } else {
        kr->weight = w;
      }
    }
  }
  parse_enum(kDataSource,
             {DataSource::kUnknown, DataSource::kManual,
              DataSource::kSpreadsheet, DataSource::kIntegration},
             &kr->data_source);
  kr->data_source_ref = v[kDataSourceRef];
  if (!v[kProgressFromChildren].empty()) {
    std::optional<bool> b = ParseBool(v[kProgressFromChildren]);
    if (!b) {
      errors_->Add(row, kProgressFromChildren,
                   absl::StrCat(Quoted(v[kProgressFromChildren]),
                                " is not TRUE or FALSE"));
    } else {
      kr->progress_from_children = *b;
    }
  }

  // The latest known value becomes a check-in.
  CheckIn ci;
  bool has_value = false;
  if (kr->type == KeyResultType::kMetric && !v[kCurrentValue].empty()) {
    double d = 0;
    if (parse_number(kCurrentValue, &d)) ci.value = d;
    has_value = true;
  }
  if (kr->type == KeyResultType::kMilestone && !v[kDone].empty()) {
    std::optional<bool> b = ParseBool(v[kDone]);
    if (!b) {
      errors_->Add(row, kDone,
                   absl::StrCat(Quoted(v[kDone]), " is not TRUE or FALSE"));
    } else {
      ci.done = *b;
    }
    has_value = true;
  }
  if (!v[kConfidence].empty()) {
    int c = 0;
    if (!absl::SimpleAtoi(v[kConfidence], &c) || c < 0 || c > 10) {
      errors_->Add(row, kConfidence,
                   absl::StrCat(Quoted(v[kConfidence]),
                                " is not a whole number from 0 to 10"));
    } else if (!has_value && kr->type != KeyResultType::kUnspecified) {
      errors_->Add(row, kConfidence,
                   kr->type == KeyResultType::kMetric
                       ? "needs a current_value on the same row"
                       : "needs done on the same row");
    } else {
      ci.confidence = c;
    }
  }
  if (has_value) *check_in = std::move(ci);
}

void PlanCsvReader::AssignKeyResultRefs() {
  kr_refs_.assign(krs_.size(), "");
  absl::flat_hash_map<std::string, int> used;  // ref -> row
  for (size_t i = 0; i < krs_.size(); ++i) {
    const std::string& ref = krs_[i].value[kKrRef];
    if (ref.empty()) continue;
    auto [it, inserted] = used.try_emplace(ref, krs_[i].row);
    if (!inserted) {
      errors_->Add(
          krs_[i].row, kKrRef,
          absl::StrCat(Quoted(ref), " is already used on row ", it->second,
                       "; every key result needs its own kr_ref"));
    }
    kr_refs_[i] = ref;
  }
  // A key result without a ref gets "<objective_ref>-KR<n>", n its position
  // in the objective, so that small sheets need no ref column at all.
  for (const ObjectiveRows& obj : objectives_) {
    for (size_t n = 0; n < obj.krs.size(); ++n) {
      const size_t i = obj.krs[n];
      if (!kr_refs_[i].empty()) continue;
      std::string ref = absl::StrCat(obj.ref, "-KR", n + 1);
      auto [it, inserted] = used.try_emplace(ref, krs_[i].row);
      if (!inserted) {
        errors_->Add(krs_[i].row, kKrRef,
                     absl::StrCat("empty, and the generated ref ", Quoted(ref),
                                  " is already used on row ", it->second,
                                  "; give this key result a kr_ref"));
      }
      kr_refs_[i] = std::move(ref);
    }
  }
}

void PlanCsvReader::ResolveReferences(PlanCsv* result) {
  absl::flat_hash_map<std::string, size_t> kr_by_ref;
  for (size_t i = 0; i < kr_refs_.size(); ++i)
    kr_by_ref.emplace(kr_refs_[i], i);

  for (size_t i = 0; i < objectives_.size(); ++i) {
    const ObjectiveRows& rows = objectives_[i];
    Objective& o = result->plan.objectives[i];
    auto row_of = [&](int c) { return rows.value_row[c]; };
    const std::string& to_obj = rows.value[kAlignedTo];
    const std::string& to_kr = rows.value[kAlignedToKr];
    if (!to_obj.empty() && !to_kr.empty()) {
      errors_->Add(row_of(kAlignedToKr), kAlignedToKr,
                   "set aligned_to (Classic: a parent objective) or "
                   "aligned_to_kr (Duality: a parent key result), not both");
    } else if (!to_obj.empty()) {
      if (!objective_index_.contains(to_obj)) {
        errors_->Add(row_of(kAlignedTo), kAlignedTo,
                     absl::StrCat(Quoted(to_obj),
                                  " is not an objective_ref in this file"));
      } else if (to_obj == rows.ref) {
        errors_->Add(row_of(kAlignedTo), kAlignedTo,
                     "an objective cannot align to itself");
      } else {
        o.alignment.kind = AlignmentKind::kObjective;
        o.alignment.parent_objective_id = to_obj;
      }
    } else if (!to_kr.empty()) {
      auto it = kr_by_ref.find(to_kr);
      if (it == kr_by_ref.end()) {
        errors_->Add(
            row_of(kAlignedToKr), kAlignedToKr,
            absl::StrCat(Quoted(to_kr), " is not a kr_ref in this file"));
      } else if (krs_[it->second].objective == i) {
        errors_->Add(row_of(kAlignedToKr), kAlignedToKr,
                     absl::StrCat(Quoted(to_kr),
                                  " is a key result of this same objective"));
      } else {
        o.alignment.kind = AlignmentKind::kKeyResult;
        o.alignment.parent_objective_id =
            objectives_[krs_[it->second].objective].ref;
        o.alignment.parent_key_result_id = to_kr;
      }
    }

    const std::string& parent = rows.value[kBreakdownOf];
    if (!parent.empty()) {
      if (!objective_index_.contains(parent)) {
        errors_->Add(row_of(kBreakdownOf), kBreakdownOf,
                     absl::StrCat(Quoted(parent),
                                  " is not an objective_ref in this file"));
      } else if (parent == rows.ref) {
        errors_->Add(row_of(kBreakdownOf), kBreakdownOf,
                     "an objective cannot be a breakdown of itself");
      } else {
        o.breakdown_of_objective_id = parent;
      }
    }
  }
}

// Reports each loop once, at the row of its member that comes first in the
// file. Every objective has at most one parent, so a walk up from each
// objective finds every loop.
void PlanCsvReader::CheckLoops(const PlanCsv& result) {
  const auto& objs = result.plan.objectives;
  auto check = [&](auto parent_of, absl::string_view what) {
    std::vector<int> state(objs.size(), 0);  // 0 new, 1 on the path, 2 done
    for (size_t start = 0; start < objs.size(); ++start) {
      std::vector<size_t> path;
      size_t cur = start;
      bool has = true;
      while (has && state[cur] == 0) {
        state[cur] = 1;
        path.push_back(cur);
        std::optional<size_t> next = parent_of(cur);
        has = next.has_value();
        if (has) cur = *next;
      }
      if (has && state[cur] == 1) {
        auto begin = std::find(path.begin(), path.end(), cur);
        std::vector<size_t> loop(begin, path.end());
        // Start the loop at its member that comes first in the file, where
        // the error is reported.
        std::rotate(loop.begin(),
                    std::min_element(loop.begin(), loop.end(),
                                     [&](size_t a, size_t b) {
                                       return objectives_[a].first_row <
                                              objectives_[b].first_row;
                                     }),
                    loop.end());
        const size_t first = loop.front();
        std::vector<std::string> refs;
        for (size_t k : loop) refs.push_back(objs[k].id);
        refs.push_back(objs[first].id);
        const int column =
            what == "breakdown"
                ? kBreakdownOf
                : (objs[first].alignment.kind == AlignmentKind::kKeyResult
                       ? kAlignedToKr
                       : kAlignedTo);
        const int row = objectives_[first].value_row[column] != 0
                            ? objectives_[first].value_row[column]
                            : objectives_[first].first_row;
        errors_->Add(
            row, column,
            absl::StrCat(what, " loop ", absl::StrJoin(refs, " -> "), "; ",
                         what, " links must form a tree, break the loop"));
      }
      for (size_t k : path) state[k] = 2;
    }
  };
  auto index_of = [&](const std::string& ref) -> std::optional<size_t> {
    auto it = objective_index_.find(ref);
    if (it == objective_index_.end()) return std::nullopt;
    return it->second;
  };
  check(
      [&](size_t i) -> std::optional<size_t> {
        if (objs[i].alignment.kind == AlignmentKind::kNone) return std::nullopt;
        return index_of(objs[i].alignment.parent_objective_id);
      },
      "alignment");
  check(
      [&](size_t i) -> std::optional<size_t> {
        if (objs[i].breakdown_of_objective_id.empty()) return std::nullopt;
        return index_of(objs[i].breakdown_of_objective_id);
      },
      "breakdown");
}

PlanCsv PlanCsvReader::Build() {
  PlanCsv result;
  AssignKeyResultRefs();
  result.plan.objectives.resize(objectives_.size());
  for (size_t i = 0; i < objectives_.size(); ++i) {
    const ObjectiveRows& rows = objectives_[i];
    BuildObjective(rows, &result.plan.objectives[i]);
    result.objective_rows[rows.ref] = rows.first_row;
    for (size_t k : rows.krs) {
      KeyResult kr;
      std::optional<CheckIn> check_in;
      kr.id = kr_refs_[k];
      BuildKeyResult(krs_[k], rows, &kr, &check_in);
      result.key_result_rows[kr.id] = krs_[k].row;
      if (check_in) {
        check_in->key_result_id = kr.id;
        result.check_ins.push_back(std::move(*check_in));
      }
      result.plan.key_results.push_back(std::move(kr));
    }
  }
  ResolveReferences(&result);
  CheckLoops(result);

  result.plan.cycles = cycles_;
  for (const std::string& name : people_) {
    Person p;
    p.id = p.display_name = name;
    result.plan.people.push_back(std::move(p));
  }
  for (const std::string& name : teams_) {
    Team t;
    t.id = t.name = name;
    result.plan.teams.push_back(std::move(t));
  }
  return result;
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

// libcsv trims spaces around unquoted fields, so those need quotes as well as
// the RFC 4180 cases.
bool NeedsQuotes(absl::string_view s) {
  if (s.empty()) return false;
  if (s.find_first_of(",\"\r\n") != absl::string_view::npos) return true;
  auto space = [](char c) { return c == ' ' || c == '\t'; };
  return space(s.front()) || space(s.back());
}

void AppendField(absl::string_view s, std::string* out) {
  if (!NeedsQuotes(s)) {
    out->append(s.data(), s.size());
    return;
  }
  const size_t n = csv_write(nullptr, 0, s.data(), s.size());
  const size_t at = out->size();
  out->resize(at + n);
  csv_write(out->data() + at, n, s.data(), s.size());
}

// Shortest text that reads back as exactly `v`. Plain digits when that stays
// short ("12000000", not the shortest "1.2e+07"), because people edit these
// files in spreadsheets; exponent notation only for very large or tiny values.
std::string FormatNumber(double v) {
  constexpr int kMaxPlainLength = 24;
  char buf[400];  // fixed notation of the largest double needs 309 digits
  auto fixed =
      std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  if (fixed.ec == std::errc() && fixed.ptr - buf <= kMaxPlainLength) {
    return std::string(buf, fixed.ptr);
  }
  auto shortest = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, shortest.ptr);
}

// Empty for the "not set" value, so that it reads back as the same default.
template <typename E>
std::string EnumField(E v, E unset) {
  return v == unset ? "" : std::string(Name(v));
}

}  // namespace

std::string PlanCsvError::ToString() const {
  if (row == 0) return reason;
  if (column.empty()) return absl::StrCat("row ", row, ": ", reason);
  return absl::StrCat("row ", row, ", column ", column, ": ", reason);
}

absl::Span<const absl::string_view> PlanCsvColumns() { return kColumnNames; }

absl::StatusOr<PlanCsv> ParsePlanCsv(absl::string_view text,
                                     std::vector<PlanCsvError>* errors,
                                     const PlanCsvOptions& options) {
  if (errors != nullptr) errors->clear();
  ErrorList list(options.max_errors);
  if (text.size() > options.max_input_bytes) {
    list.Add(0, "",
             absl::StrCat("the file is ", text.size(), " bytes; the limit is ",
                          options.max_input_bytes, " bytes, split it"));
    return list.Finish(errors);
  }
  if (!options.default_cycle.empty() &&
      !ParseCycleName(options.default_cycle).has_value()) {
    list.Add(0, "",
             absl::StrCat("default cycle ", Quoted(options.default_cycle),
                          " is not a cycle name, e.g. FY2027-Q1"));
    return list.Finish(errors);
  }
  absl::ConsumePrefix(&text, "\xEF\xBB\xBF");

  std::vector<Record> records;
  if (!Tokenize(text, options, &list, &records)) return list.Finish(errors);
  if (records.empty()) {
    list.Add(1, "",
             "the file is empty; the first row must be the header, e.g. "
             "cycle,objective_ref,objective_title,...");
    return list.Finish(errors);
  }

  std::vector<int> columns;
  if (!ReadHeader(records.front(), !options.default_cycle.empty(), &list,
                  &columns))
    return list.Finish(errors);

  PlanCsvReader reader(options, &list);
  for (size_t i = 1; i < records.size(); ++i)
    reader.AddRecord(records[i], columns);
  PlanCsv result = reader.Build();
  if (!list.empty()) return list.Finish(errors);
  return result;
}

absl::StatusOr<std::string> WritePlanCsv(const Plan& plan,
                                         const std::vector<CheckIn>& latest,
                                         const PlanCsvWriteOptions& options) {
  absl::flat_hash_map<absl::string_view, const Cycle*> cycles;
  for (const Cycle& c : plan.cycles) cycles.emplace(c.id, &c);
  absl::flat_hash_map<absl::string_view, const Team*> teams;
  for (const Team& t : plan.teams) teams.emplace(t.id, &t);
  absl::flat_hash_map<absl::string_view, const Person*> people;
  for (const Person& p : plan.people) people.emplace(p.id, &p);
  absl::flat_hash_map<absl::string_view, std::vector<const KeyResult*>> krs_of;
  absl::flat_hash_set<absl::string_view> kr_ids;
  absl::flat_hash_set<absl::string_view> objective_ids;
  for (const Objective& o : plan.objectives) objective_ids.insert(o.id);
  for (const KeyResult& kr : plan.key_results) {
    if (!objective_ids.contains(kr.objective_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("key_result ", Quoted(kr.id), ": objective_id ",
                       Quoted(kr.objective_id), " is not in the plan"));
    }
    krs_of[kr.objective_id].push_back(&kr);
    kr_ids.insert(kr.id);
  }
  absl::flat_hash_map<absl::string_view, const CheckIn*> latest_of;
  for (const CheckIn& ci : latest) {
    const CheckIn*& slot = latest_of[ci.key_result_id];
    if (slot == nullptr || ci.time >= slot->time) slot = &ci;
  }

  auto person = [&](const Id& id, absl::string_view what,
                    std::string* out) -> absl::Status {
    if (id.empty()) return absl::OkStatus();
    auto it = people.find(id);
    if (it == people.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": person ", Quoted(id), " is not in the plan"));
    }
    *out = it->second->display_name.empty() ? id : it->second->display_name;
    return absl::OkStatus();
  };
  auto number = [](double v, absl::string_view what,
                   std::string* out) -> absl::Status {
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": ", v, " is not a finite number"));
    }
    *out = FormatNumber(v);
    return absl::OkStatus();
  };

  std::string out;
  if (options.byte_order_mark) out = "\xEF\xBB\xBF";
  auto append_row = [&](const std::array<std::string, kNumColumns>& row) {
    for (int c = 0; c < kNumColumns; ++c) {
      if (c > 0) out += ',';
      AppendField(row[c], &out);
    }
    out += "\r\n";
  };
  {
    std::array<std::string, kNumColumns> header;
    for (int c = 0; c < kNumColumns; ++c)
      header[c] = std::string(kColumnNames[c]);
    append_row(header);
  }

  for (const Objective& o : plan.objectives) {
    const std::string what = absl::StrCat("objective ", Quoted(o.id));
    if (o.id.empty()) return absl::InvalidArgumentError("objective.id: empty");
    if (absl::StripAsciiWhitespace(o.title).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": title is empty"));
    }
    std::array<std::string, kNumColumns> row;
    auto cycle = cycles.find(o.cycle_id);
    if (cycle == cycles.end() || cycle->second->name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": cycle ", Quoted(o.cycle_id), " is not in the plan"));
    }
    if (!ParseCycleName(cycle->second->name).has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": cycle name ", Quoted(cycle->second->name),
          " cannot be read back; the CSV format takes FY<yyyy>, FY<yyyy>-Q<n> or "
          "FY<yyyy>-M<mm>"));
    }
    row[kCycle] = cycle->second->name;
    row[kObjectiveRef] = o.id;
    row[kObjectiveTitle] = o.title;
    row[kObjectiveDescription] = o.description;
    row[kLevel] = EnumField(o.level, Level::kUnspecified);
    if (absl::Status s = person(o.owner_id, what, &row[kOwner]); !s.ok())
      return s;
    if (!o.team_id.empty()) {
      auto team = teams.find(o.team_id);
      if (team == teams.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": team ", Quoted(o.team_id), " is not in the plan"));
      }
      row[kTeam] = team->second->name.empty() ? o.team_id : team->second->name;
    }
    row[kKind] = EnumField(o.kind, ObjectiveKind::kUnspecified);
    row[kCategory] = EnumField(o.category, Category::kNone);
    row[kPriority] = o.priority == 0 ? "" : absl::StrCat(o.priority);
    row[kState] = EnumField(o.state, ObjectiveState::kUnspecified);
    row[kProgressSource] =
        EnumField(o.progress_source, ProgressSource::kUnspecified);
    if (o.alignment.kind == AlignmentKind::kObjective) {
      if (!objective_ids.contains(o.alignment.parent_objective_id)) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": aligned to ", Quoted(o.alignment.parent_objective_id),
            ", which is not in the plan; export its ancestors too"));
      }
      row[kAlignedTo] = o.alignment.parent_objective_id;
    } else if (o.alignment.kind == AlignmentKind::kKeyResult) {
      if (!kr_ids.contains(o.alignment.parent_key_result_id)) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": aligned to key result ",
            Quoted(o.alignment.parent_key_result_id),
            ", which is not in the plan; export its ancestors too"));
      }
      row[kAlignedToKr] = o.alignment.parent_key_result_id;
    }
    if (o.alignment.kind != AlignmentKind::kNone) {
      OKR_RETURN_IF_ERROR(number(o.alignment.weight,
                                 absl::StrCat(what, ": alignment.weight"),
                                 &row[kAlignmentWeight]));
    }
    if (!o.breakdown_of_objective_id.empty()) {
      if (!objective_ids.contains(o.breakdown_of_objective_id)) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": breakdown of ", Quoted(o.breakdown_of_objective_id),
            ", which is not in the plan; export it too"));
      }
      row[kBreakdownOf] = o.breakdown_of_objective_id;
    }

    auto krs = krs_of.find(o.id);
    if (krs == krs_of.end()) {
      append_row(row);
      continue;
    }
    for (const KeyResult* kr : krs->second) {
      const std::string kr_what = absl::StrCat("key_result ", Quoted(kr->id));
      for (int c = kFirstKrColumn; c < kNumColumns; ++c) row[c].clear();
      row[kKrRef] = kr->id;
      row[kKrTitle] = kr->title;
      if (absl::Status s = person(kr->owner_id, kr_what, &row[kKrOwner]);
          !s.ok()) {
        return s;
      }
      row[kKrType] = EnumField(kr->type, KeyResultType::kUnspecified);
      const CheckIn* ci = nullptr;
      if (auto it = latest_of.find(kr->id); it != latest_of.end())
        ci = it->second;
      if (kr->type != KeyResultType::kMilestone) {
        row[kMeasure] = EnumField(kr->measure, Measure::kUnspecified);
        OKR_RETURN_IF_ERROR(number(kr->from, kr_what + ": from", &row[kFrom]));
        OKR_RETURN_IF_ERROR(number(kr->to, kr_what + ": to", &row[kTo]));
        row[kUnit] = kr->unit;
        row[kDirection] = EnumField(kr->direction, Direction::kUnspecified);
        if (ci != nullptr && ci->value.has_value()) {
          OKR_RETURN_IF_ERROR(number(*ci->value, kr_what + ": current value",
                                     &row[kCurrentValue]));
        }
      } else if (ci != nullptr && ci->done.has_value()) {
        row[kDone] = *ci->done ? "TRUE" : "FALSE";
      }
      OKR_RETURN_IF_ERROR(
          number(kr->weight, kr_what + ": weight", &row[kKrWeight]));
      row[kDataSource] = std::string(Name(kr->data_source));
      row[kDataSourceRef] = kr->data_source_ref;
      row[kProgressFromChildren] = kr->progress_from_children ? "TRUE" : "";
      const bool has_value =
          ci != nullptr &&
          (kr->type == KeyResultType::kMilestone ? ci->done.has_value()
                                                 : ci->value.has_value());
      if (has_value && ci->confidence.has_value()) {
        row[kConfidence] = absl::StrCat(*ci->confidence);
      }
      append_row(row);
    }
  }
  return out;
}

}  // namespace okr
