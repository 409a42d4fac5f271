#include "tools/okrctl/render.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/validation.h"
#include "tools/okrctl/args.h"

namespace okr::okrctl {
namespace {

using ::okr::v1::AlignmentKind;
using ::okr::v1::KeyResult;
using ::okr::v1::Objective;

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80 ? 1 : 0;
  return width;
}

std::string Lookup(const absl::flat_hash_map<std::string, std::string>& map,
                   const std::string& id) {
  auto it = map.find(id);
  return it == map.end() || it->second.empty() ? id : it->second;
}

// One node of the drawn tree: an objective or a key result, with the weight
// of the link that hangs it under its parent (0: none shown).
struct Node {
  bool key_result = false;
  std::string id;
  double link_weight = 0;
};

class TreeDrawer {
 public:
  TreeDrawer(const okr::v1::AlignmentTree& tree, const Names& names,
             const TreeDecorations* decorations)
      : names_(names), decorations_(decorations) {
    for (const Objective& o : tree.objectives()) objectives_[o.id()] = &o;
    for (const KeyResult& kr : tree.key_results()) {
      key_results_[kr.id()] = &kr;
      krs_of_[kr.objective_id()].push_back(kr.id());
    }
    absl::flat_hash_set<std::string> linked;
    for (const okr::v1::AlignmentLink& link : tree.links()) {
      AddLink(link.child_objective_id(), link.parent_objective_id(),
              link.parent_key_result_id(), link.kind(), link.weight());
      linked.insert(link.child_objective_id());
    }
    // A server that leaves `links` out still says on each objective how it
    // is aligned.
    for (const Objective& o : tree.objectives()) {
      if (linked.contains(o.id())) continue;
      const okr::v1::Alignment& a = o.alignment();
      AddLink(o.id(), a.parent_objective_id(), a.parent_key_result_id(), a.kind(),
              a.weight());
    }
  }

  std::string Draw(const okr::v1::AlignmentTree& tree) {
    for (const std::string& root : tree.root_objective_ids()) DrawRoot(root);
    for (const Objective& o : tree.objectives()) {
      if (!drawn_.contains(o.id()) && !has_parent_.contains(o.id())) DrawRoot(o.id());
    }
    // Left: objectives whose parent chain never reaches a root (a loop).
    for (const Objective& o : tree.objectives()) {
      if (!drawn_.contains(o.id())) DrawRoot(o.id());
    }
    return out_;
  }

 private:
  void AddLink(const std::string& child, const std::string& parent_objective,
               const std::string& parent_kr, AlignmentKind kind, double weight) {
    if (!objectives_.contains(child)) return;
    if (kind == okr::v1::ALIGNMENT_KIND_KEY_RESULT && key_results_.contains(parent_kr)) {
      kr_children_[parent_kr].push_back({false, child, weight});
      has_parent_.insert(child);
    } else if (kind != okr::v1::ALIGNMENT_KIND_NONE && objectives_.contains(parent_objective)) {
      objective_children_[parent_objective].push_back({false, child, weight});
      has_parent_.insert(child);
    }
  }

  std::vector<Node> Children(const Node& node) const {
    std::vector<Node> children;
    const auto& links = node.key_result ? kr_children_ : objective_children_;
    if (!node.key_result) {
      if (auto it = krs_of_.find(node.id); it != krs_of_.end()) {
        for (const std::string& kr : it->second) children.push_back({true, kr, 0});
      }
    }
    if (auto it = links.find(node.id); it != links.end()) {
      children.insert(children.end(), it->second.begin(), it->second.end());
    }
    return children;
  }

  std::string Label(const Node& node) const {
    std::vector<std::string> facts;
    std::string label;
    if (node.key_result) {
      const KeyResult& kr = *key_results_.at(node.id);
      label = absl::StrCat("KR ", Decoration(&TreeDecorations::key_result_prefix, kr.id()),
                           kr.title(), "  [", kr.id(), "]");
      facts.push_back(FormatRange(kr));
      AddFacts(&TreeDecorations::key_result_facts, kr.id(), facts);
      if (!kr.owner_id().empty()) facts.push_back(names_.Person(kr.owner_id()));
      if (kr.progress_from_children()) facts.push_back("progress from children");
      if (kr.archived()) facts.push_back("ARCHIVED");
    } else {
      const Objective& o = *objectives_.at(node.id);
      label = absl::StrCat(Decoration(&TreeDecorations::objective_prefix, o.id()), o.title(),
                           "  [", o.id(), "]");
      facts.push_back(names_.Cycle(o.cycle_id()));
      facts.push_back(ShortName(o.level()));
      if (!o.owner_id().empty()) facts.push_back(names_.Person(o.owner_id()));
      if (o.state() != okr::v1::OBJECTIVE_STATE_PUBLISHED) facts.push_back(ShortName(o.state()));
      if (node.link_weight != 0 && node.link_weight != 1) {
        facts.push_back(absl::StrCat("weight ", FormatNumber(node.link_weight)));
      }
      AddFacts(&TreeDecorations::objective_facts, o.id(), facts);
    }
    facts.erase(std::remove(facts.begin(), facts.end(), std::string()), facts.end());
    if (!facts.empty()) absl::StrAppend(&label, "  ", absl::StrJoin(facts, " · "));
    return label;
  }

  std::string Decoration(absl::flat_hash_map<std::string, std::string> TreeDecorations::*map,
                         const std::string& id) const {
    if (decorations_ == nullptr) return "";
    auto it = (decorations_->*map).find(id);
    return it == (decorations_->*map).end() ? "" : it->second;
  }

  void AddFacts(
      absl::flat_hash_map<std::string, std::vector<std::string>> TreeDecorations::*map,
      const std::string& id, std::vector<std::string>& facts) const {
    if (decorations_ == nullptr) return;
    auto it = (decorations_->*map).find(id);
    if (it != (decorations_->*map).end()) {
      facts.insert(facts.end(), it->second.begin(), it->second.end());
    }
  }

  void DrawRoot(const std::string& id) {
    if (!objectives_.contains(id) || drawn_.contains(id)) return;
    drawn_.insert(id);
    Node root{false, id, 0};
    absl::StrAppend(&out_, Label(root), "\n");
    DrawChildren(root, "");
  }

  void DrawChildren(const Node& node, const std::string& prefix) {
    std::vector<Node> children = Children(node);
    // An objective drawn elsewhere already (impossible in a forest) is
    // skipped, so that a malformed snapshot cannot make this loop forever.
    children.erase(std::remove_if(children.begin(), children.end(),
                                  [&](const Node& c) {
                                    return !c.key_result && drawn_.contains(c.id);
                                  }),
                   children.end());
    for (size_t i = 0; i < children.size(); ++i) {
      const Node& child = children[i];
      const bool last = i + 1 == children.size();
      if (!child.key_result) drawn_.insert(child.id);
      absl::StrAppend(&out_, prefix, last ? "└── " : "├── ", Label(child), "\n");
      DrawChildren(child, absl::StrCat(prefix, last ? "    " : "│   "));
    }
  }

  const Names& names_;
  const TreeDecorations* decorations_;
  absl::flat_hash_map<std::string, const Objective*> objectives_;
  absl::flat_hash_map<std::string, const KeyResult*> key_results_;
  absl::flat_hash_map<std::string, std::vector<std::string>> krs_of_;
  absl::flat_hash_map<std::string, std::vector<Node>> objective_children_;
  absl::flat_hash_map<std::string, std::vector<Node>> kr_children_;
  absl::flat_hash_set<std::string> has_parent_;
  absl::flat_hash_set<std::string> drawn_;
  std::string out_;
};

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = true;
  std::string json;
  google::protobuf::util::Status status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    // Only an Any with an unknown type can fail; say so in valid JSON.
    return absl::StrCat("{\"error\": \"cannot print as JSON: ",
                        absl::CEscape(std::string(status.message())), "\"}\n");
  }
  if (!absl::EndsWith(json, "\n")) json += "\n";
  return json;
}

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return "";
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  std::string out;
  auto append = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) {
        line.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
      }
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  };
  append(header);
  for (const auto& row : rows) append(row);
  return out;
}

std::string Names::Cycle(const std::string& id) const { return Lookup(cycles, id); }
std::string Names::Person(const std::string& id) const { return Lookup(people, id); }
std::string Names::Team(const std::string& id) const { return Lookup(teams, id); }

std::string FormatDate(const okr::v1::Date& date) {
  if (date.year() == 0) return "";
  return absl::StrFormat("%04d-%02d-%02d", date.year(), date.month(), date.day());
}

std::string FormatNumber(double value) {
  // %g switches to an exponent as soon as it saves digits ("1e+02" for 100);
  // people read targets better without one unless the value is extreme.
  const bool extreme = value != 0 && (std::fabs(value) >= 1e15 || std::fabs(value) < 1e-4);
  double back = 0;
  for (int digits = 1; digits <= 17; ++digits) {
    std::string candidate = absl::StrFormat("%.*g", digits, value);
    if (!extreme && absl::StrContains(candidate, 'e')) continue;
    if (absl::SimpleAtod(candidate, &back) && back == value) return candidate;
  }
  return absl::StrFormat("%.17g", value);
}

std::string FormatRange(const okr::v1::KeyResult& kr) {
  if (kr.type() != okr::v1::KEY_RESULT_TYPE_METRIC) return "milestone";
  std::string range;
  switch (kr.direction()) {
    case okr::v1::DIRECTION_AT_LEAST:
      range = absl::StrCat("at least ", FormatNumber(kr.target_value()));
      break;
    case okr::v1::DIRECTION_AT_MOST:
      range = absl::StrCat("at most ", FormatNumber(kr.target_value()));
      break;
    default:
      range = absl::StrCat(FormatNumber(kr.start_value()), " → ",
                           FormatNumber(kr.target_value()));
  }
  if (!kr.unit().empty()) absl::StrAppend(&range, " ", kr.unit());
  return range;
}

std::string RenderAlignmentTree(const okr::v1::AlignmentTree& tree, const Names& names,
                                const TreeDecorations* decorations) {
  return TreeDrawer(tree, names, decorations).Draw(tree);
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string FormatRowError(int row, absl::string_view column, absl::string_view reason) {
  if (row <= 0) return std::string(reason);
  if (column.empty()) return absl::StrCat("row ", row, ": ", reason);
  return absl::StrCat("row ", row, ", column ", column, ": ", reason);
}

std::string FormatError(const absl::Status& status) {
  std::string out = absl::StrCat("okrctl: ", absl::StatusCodeToString(status.code()), ": ",
                                 status.message(), "\n");
  for (const FieldViolation& v : FieldViolationsOf(status)) {
    absl::string_view field = v.field;
    int row = 0;
    if (absl::ConsumePrefix(&field, "rows[")) {
      const size_t close = field.find(']');
      if (close != absl::string_view::npos &&
          absl::SimpleAtoi(field.substr(0, close), &row)) {
        absl::string_view column = field.substr(close + 1);
        absl::ConsumePrefix(&column, ".");
        absl::StrAppend(&out, "  ", FormatRowError(row, column, v.description), "\n");
        continue;
      }
    }
    absl::StrAppend(&out, "  ", v.field, ": ", v.description, "\n");
  }
  return out;
}

}  // namespace okr::okrctl
