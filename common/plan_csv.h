// The spreadsheet migration template: a plan as CSV, one row per key result.
//
// Teams that kept their OKRs in shared spreadsheets import them with this
// format, and the planning service exports a cycle in the same format so the
// file can be edited and imported again. docs/csv-format.md is the user-facing
// definition of every column; this header is the code contract.
//
// The format is RFC 4180 CSV (comma, double-quote quoting, CRLF or LF, UTF-8
// with an optional byte-order mark) tokenised by libcsv. The first row is the
// header; column names are case-insensitive, their order is free and unknown
// columns are rejected. Objective columns repeat on each of the objective's
// key-result rows; an objective without key results is one row whose
// key-result columns are empty.
//
// Nothing here touches files, stores or the organisation: the caller reads the
// file, sets the organisation, and maps the file's references and names to
// real ids when it imports. Deep rule checks (common/validation.h) are the
// caller's job too; the parser checks only what the file itself can get wrong
// (syntax, enum names, numbers, required values, references, alignment loops).
#ifndef OKR_COMMON_PLAN_CSV_H_
#define OKR_COMMON_PLAN_CSV_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/model.h"

namespace okr {

// How ParsePlanCsv reads a file. The limits keep a hostile or accidental
// upload from exhausting memory; their defaults are the documented product
// limits (a service may lower them, tests do).
struct PlanCsvOptions {
  size_t max_input_bytes = size_t{32} << 20;  // whole file, BOM included
  int max_rows = 50000;                       // data rows, header excluded
  size_t max_field_bytes = 8192;              // one field after unquoting
  int max_errors = 1000;  // collection stops after this many
  // A cycle name (e.g. "FY2027-Q1") for rows whose cycle is empty; with it
  // the cycle column may also be left out. Empty: every row names its cycle.
  std::string default_cycle;
};

// One problem found in the file. `row` counts as a spreadsheet does (the
// header is row 1, blank lines count, a quoted multi-line field is one row);
// 0 means the file as a whole (e.g. too large). `column` is the lower-case
// column name ("#7" for a field with no usable header name), empty when the
// problem is the whole row or file.
struct PlanCsvError {
  int row = 0;
  std::string column;
  std::string reason;

  // "row 4, column to: ...", "row 4: ..." or just the reason for row 0.
  std::string ToString() const;
};

// A parsed file. In `plan`, ids are the file's own references and names:
// Objective::id is the objective_ref, KeyResult::id the kr_ref,
// owner_id / team_id / cycle_id the person, team and cycle names, and the
// alignment and breakdown ids the referenced refs. `plan.cycles`,
// `plan.people` and `plan.teams` list each distinct name once, in order of
// first appearance (a cycle's kind and parent_cycle_id follow from its name;
// its dates are left for the caller, who knows the fiscal year start).
// `plan.organisation` is left default. Key results are grouped by objective,
// in objective order, each group in row order.
struct PlanCsv {
  Plan plan;
  // One per key result with a current_value or done: the latest known value,
  // with key_result_id = kr_ref and no time, author or id.
  std::vector<CheckIn> check_ins;
  // Where each objective (its first row) and key result appear, so that later
  // checks (validation, import) can point the user at a spreadsheet row.
  absl::flat_hash_map<Id, int> objective_rows;
  absl::flat_hash_map<Id, int> key_result_rows;
};

// The column names in the order WritePlanCsv writes them.
absl::Span<const absl::string_view> PlanCsvColumns();

// Parses a whole file. All or nothing: on any problem returns
// INVALID_ARGUMENT whose message lists every error found (up to
// `options.max_errors`) as "row N, column <name>: <reason>", and, when
// `errors` is not null, stores the same errors there in row order (it is
// cleared on success). A CSV syntax error (bad quoting) stops the parse and
// is reported alone.
absl::StatusOr<PlanCsv> ParsePlanCsv(
    absl::string_view text, std::vector<PlanCsvError>* errors = nullptr,
    const PlanCsvOptions& options = PlanCsvOptions());

struct PlanCsvWriteOptions {
  // Prefix the output with a UTF-8 byte-order mark, which spreadsheet
  // programs (Excel in particular) need to detect UTF-8.
  bool byte_order_mark = false;
};

// Writes `plan`'s objectives and key results, every column, CRLF line ends,
// quoting only fields that need it and numbers in their shortest exact form.
// Names come from `plan`: the cycle, team and person with the objective's or
// KR's id (a person's display_name, or the id when it is empty). `latest`
// gives current values: for each key result the check-in with the greatest
// time (the last one on ties); check-ins of key results not in `plan` are
// ignored. Returns INVALID_ARGUMENT when the output could not be read back:
// an unknown cycle, team, person or objective id, an alignment or breakdown
// parent missing from `plan` (export the ancestors too), an empty objective
// id, title or cycle, or a number that is not finite. For any PlanCsv `p` from
// ParsePlanCsv, parsing WritePlanCsv(p.plan, p.check_ins) gives back `p`.
absl::StatusOr<std::string> WritePlanCsv(
    const Plan& plan, const std::vector<CheckIn>& latest,
    const PlanCsvWriteOptions& options = PlanCsvWriteOptions());

}  // namespace okr

#endif  // OKR_COMMON_PLAN_CSV_H_
