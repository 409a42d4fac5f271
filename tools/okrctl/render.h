// okrctl's output: JSON of response messages, aligned tables, the alignment
// tree drawn with box characters, and error reports. Pure functions of their
// arguments, so tests check them without a server.
#ifndef OKR_TOOLS_OKRCTL_RENDER_H_
#define OKR_TOOLS_OKRCTL_RENDER_H_

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "okr/v1/common.pb.h"

namespace okr::okrctl {

// The message as JSON with the proto field names (not lowerCamelCase), zero
// values included so that scripts always find a field, indented, ending in a
// newline.
std::string ToJson(const google::protobuf::Message& message);

// Columns padded to their widest cell (counted in code points), separated by
// two spaces, header first; trailing spaces trimmed. "" when `rows` is empty.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// Display names for ids. Lookups of unknown ids return the id itself.
struct Names {
  absl::flat_hash_map<std::string, std::string> cycles;
  absl::flat_hash_map<std::string, std::string> people;
  absl::flat_hash_map<std::string, std::string> teams;

  std::string Cycle(const std::string& id) const;
  std::string Person(const std::string& id) const;
  std::string Team(const std::string& id) const;
};

// "2027-02-01"; "" for an unset date.
std::string FormatDate(const okr::v1::Date& date);
// Shortest form that reads back the same value: "99", "8.5", "0.001".
std::string FormatNumber(double value);
// "95 → 99 % retained" for a metric key result, "milestone" otherwise.
std::string FormatRange(const okr::v1::KeyResult& key_result);

// "2026-11-28T14:00:00Z" (UTC, seconds); "" for an unset timestamp.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);

// What `tree --scores` adds to the drawn tree: text put before the title of
// an objective or key result (e.g. "0.62 YELLOW AT_RISK  ") and facts
// appended after its own ("now 7.6"), by id. Ids missing from the maps get
// nothing added.
struct TreeDecorations {
  absl::flat_hash_map<std::string, std::string> objective_prefix;
  absl::flat_hash_map<std::string, std::string> key_result_prefix;
  absl::flat_hash_map<std::string, std::vector<std::string>> objective_facts;
  absl::flat_hash_map<std::string, std::vector<std::string>> key_result_facts;
};

// Draws the alignment forest: each root objective, its key results under it,
// the objectives cascaded from a key result (Duality) under that key result,
// and objectives aligned to it directly (Classic) after its key results.
// One line per node: objectives as "<title>  [<id>]  <cycle> · <level> ·
// <owner>", key results as "KR <title>  [<id>]  <range>"; non-default
// states, link weights and archived flags are appended. Objectives the links
// do not reach from a root are drawn as extra roots, so nothing in the
// snapshot is silently left out.
// With `decorations`, each line also carries its prefix and facts.
std::string RenderAlignmentTree(const okr::v1::AlignmentTree& tree, const Names& names,
                                const TreeDecorations* decorations = nullptr);

// How okrctl reports a failed command on stderr: "okrctl: <CODE>: <message>"
// and then one indented line per field violation of the status; a violation
// of a CSV cell ("rows[4].kind") reads "row 4, column kind: <reason>".
std::string FormatError(const absl::Status& status);

// "row 4, column kind: <reason>", or "row 4: <reason>" without a column, or
// just the reason for row 0 (the document as a whole).
std::string FormatRowError(int row, absl::string_view column, absl::string_view reason);

}  // namespace okr::okrctl

#endif  // OKR_TOOLS_OKRCTL_RENDER_H_
