#include "tests/bench/driver/report.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace okr::bench {
namespace {

// "1234567" -> "1,234,567" (rounded to an integer).
std::string Grouped(double value) {
  const int64_t n = static_cast<int64_t>(std::llround(std::fabs(value)));
  std::string digits = absl::StrCat(n);
  std::string out;
  const int first = static_cast<int>(digits.size() % 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && static_cast<int>(i % 3) == first % 3) out.push_back(',');
    out.push_back(digits[i]);
  }
  return value < 0 ? absl::StrCat("-", out) : out;
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<int>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

std::string JsonNumber(std::optional<double> value) {
  if (!value.has_value() || !std::isfinite(*value)) return "null";
  return absl::StrFormat("%.9g", *value);
}

// Markdown table cells must not contain '|'.
std::string Cell(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else out.push_back(c);
  }
  return out;
}

}  // namespace

std::optional<double> Row::ratio() const {
  if (!baseline.has_value() || *baseline <= 0 || value < 0) return std::nullopt;
  if (inverse_ratio) {
    if (value <= 0) return std::nullopt;
    return *baseline / value;
  }
  return value / *baseline;
}

std::optional<bool> Row::met() const {
  switch (target.kind) {
    case TargetKind::kNone:
      return std::nullopt;
    case TargetKind::kRatioAtLeast:
    case TargetKind::kRatioAtMost: {
      std::optional<double> r = ratio();
      if (!r.has_value()) return std::nullopt;
      return target.kind == TargetKind::kRatioAtLeast ? *r >= target.limit : *r <= target.limit;
    }
    case TargetKind::kValueBelow:
      return value < target.limit;
    case TargetKind::kValueEquals:
      return value == target.limit;
    case TargetKind::kEqualsBaseline:
      if (!baseline.has_value()) return std::nullopt;
      return value == *baseline;
    case TargetKind::kAtMostBaselinePlus:
      if (!baseline.has_value()) return std::nullopt;
      return value <= *baseline + target.limit;
  }
  return std::nullopt;
}

std::string FormatValue(Unit unit, double value, absl::string_view rate_suffix) {
  switch (unit) {
    case Unit::kPerSecond:
      if (value < 100) return absl::StrFormat("%.3g%s", value, rate_suffix);
      return absl::StrCat(Grouped(value), rate_suffix);
    case Unit::kSeconds: {
      const double a = std::fabs(value);
      if (a < 1e-3) return absl::StrFormat("%.0f us", value * 1e6);
      if (a < 1) return absl::StrFormat("%.3g ms", value * 1e3);
      return absl::StrFormat("%.3g s", value);
    }
    case Unit::kBytes:
      return absl::StrFormat("%.1f MiB", value / (1024.0 * 1024.0));
    case Unit::kCount:
      return Grouped(value);
  }
  return absl::StrCat(value);
}

std::string FormatTarget(const Row& row) {
  const Target& t = row.target;
  switch (t.kind) {
    case TargetKind::kNone:
      return "";
    case TargetKind::kRatioAtLeast:
      return absl::StrFormat(">= %gx", t.limit);
    case TargetKind::kRatioAtMost:
      return absl::StrFormat("<= %gx", t.limit);
    case TargetKind::kValueBelow:
      return absl::StrCat("< ", FormatValue(row.unit, t.limit, row.rate_suffix));
    case TargetKind::kValueEquals:
      return absl::StrCat("= ", FormatValue(row.unit, t.limit, row.rate_suffix));
    case TargetKind::kEqualsBaseline:
      return "= baseline";
    case TargetKind::kAtMostBaselinePlus:
      return absl::StrCat("<= baseline + ", FormatValue(row.unit, t.limit, row.rate_suffix));
  }
  return "";
}

std::string RenderMarkdown(const std::vector<Row>& rows, bool smoke) {
  std::string out =
      "| scenario | value | baseline | ratio | target | met |\n"
      "| --- | ---: | ---: | ---: | --- | --- |\n";
  std::vector<std::string> notes;
  for (const Row& row : rows) {
    std::string label = row.label;
    if (!row.note.empty()) {
      notes.push_back(row.note);
      absl::StrAppend(&label, " [", notes.size(), "]");
    }
    std::string baseline = "-";
    if (row.baseline.has_value()) {
      baseline = FormatValue(row.unit, *row.baseline, row.rate_suffix);
      if (!row.baseline_label.empty()) absl::StrAppend(&baseline, " (", row.baseline_label, ")");
    }
    const std::optional<double> ratio = row.ratio();
    const std::string ratio_text = ratio.has_value() ? absl::StrFormat("%.2fx", *ratio) : "-";
    std::string met = "-";
    if (row.target.kind != TargetKind::kNone) {
      if (smoke) {
        met = "smoke";
      } else if (std::optional<bool> m = row.met(); m.has_value()) {
        met = *m ? "yes" : "**no**";
      }
    }
    absl::StrAppend(&out, "| ", Cell(label), " | ",
                    Cell(FormatValue(row.unit, row.value, row.rate_suffix)), " | ", Cell(baseline),
                    " | ", ratio_text, " | ", Cell(FormatTarget(row)), " | ", met, " |\n");
  }
  if (!notes.empty()) {
    out += "\n";
    for (size_t i = 0; i < notes.size(); ++i) {
      absl::StrAppend(&out, "[", i + 1, "] ", notes[i], "\n");
    }
  }
  return out;
}

std::string RenderJson(const std::vector<Row>& rows, bool smoke,
                       const std::vector<std::pair<std::string, std::string>>& meta) {
  std::vector<std::string> meta_fields;
  for (const auto& [key, value] : meta) {
    meta_fields.push_back(absl::StrCat(JsonString(key), ": ", JsonString(value)));
  }
  std::vector<std::string> row_objects;
  for (const Row& row : rows) {
    static constexpr const char* kUnits[] = {"per_second", "seconds", "bytes", "count"};
    std::optional<bool> met = smoke ? std::nullopt : row.met();
    row_objects.push_back(absl::StrCat(
        "    {\"scenario\": ", JsonString(row.scenario), ", \"label\": ", JsonString(row.label),
        ", \"unit\": \"", kUnits[static_cast<int>(row.unit)], "\", \"value\": ",
        JsonNumber(row.value), ", \"baseline\": ", JsonNumber(row.baseline),
        ", \"baseline_label\": ", JsonString(row.baseline_label),
        ", \"ratio\": ", JsonNumber(row.ratio()), ", \"target\": ", JsonString(FormatTarget(row)),
        ", \"met\": ", met.has_value() ? (*met ? "true" : "false") : "null",
        ", \"note\": ", JsonString(row.note), "}"));
  }
  return absl::StrCat("{\n  \"smoke\": ", smoke ? "true" : "false", ",\n  \"meta\": {",
                      absl::StrJoin(meta_fields, ", "), "},\n  \"rows\": [\n",
                      absl::StrJoin(row_objects, ",\n"), "\n  ]\n}\n");
}

const std::vector<std::string>& AllScenarios() {
  static const auto* const kAll = new std::vector<std::string>{
      "baseline", "load",  "cached_read", "check_in", "check_in_scale",
      "tree",     "rebuild", "reminders", "memory",   "start"};
  return *kAll;
}

}  // namespace okr::bench
