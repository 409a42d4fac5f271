#include "tools/okrctl/args.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace okr::okrctl {
namespace {

constexpr absl::string_view kUsagePayloadUrl = "type.okr.dev/okrctl.UsageError";

std::optional<bool> ParseBool(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "1" || lower == "yes") return true;
  if (lower == "false" || lower == "0" || lower == "no") return false;
  return std::nullopt;
}

}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUsagePayloadUrl, absl::Cord("1"));
  return status;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayloadUrl).has_value();
}

bool Invocation::Has(absl::string_view name) const {
  return flags_.find(name) != flags_.end();
}

std::optional<std::string> Invocation::Get(absl::string_view name) const {
  auto it = flags_.find(name);
  if (it == flags_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Invocation::GetOr(absl::string_view name, absl::string_view fallback) const {
  std::optional<std::string> value = Get(name);
  return value.has_value() ? *value : std::string(fallback);
}

std::vector<std::string> Invocation::GetAll(absl::string_view name) const {
  auto it = flags_.find(name);
  if (it == flags_.end()) return {};
  return it->second;
}

bool Invocation::Bool(absl::string_view name) const {
  std::optional<std::string> value = Get(name);
  return value.has_value() && ParseBool(*value).value_or(false);
}

absl::StatusOr<std::optional<int64_t>> Invocation::Int(absl::string_view name) const {
  std::optional<std::string> text = Get(name);
  if (!text.has_value()) return std::optional<int64_t>();
  int64_t value = 0;
  if (!absl::SimpleAtoi(*text, &value)) {
    return UsageError(absl::StrCat("--", name, ": '", *text, "' is not a whole number"));
  }
  return std::optional<int64_t>(value);
}

absl::StatusOr<std::optional<double>> Invocation::Double(absl::string_view name) const {
  std::optional<std::string> text = Get(name);
  if (!text.has_value()) return std::optional<double>();
  double value = 0;
  if (!absl::SimpleAtod(*text, &value) || !std::isfinite(value)) {
    return UsageError(absl::StrCat("--", name, ": '", *text, "' is not a finite number"));
  }
  return std::optional<double>(value);
}

void Invocation::Add(std::string name, std::string value) {
  flags_[std::move(name)].push_back(std::move(value));
}

absl::StatusOr<Invocation> Tokenize(
    const std::vector<std::string>& args,
    const std::function<std::optional<FlagSpec::Kind>(absl::string_view)>& kind,
    const std::map<char, std::string>& short_names) {
  Invocation invocation;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-' ||
        (std::isdigit(static_cast<unsigned char>(arg[1])) != 0)) {
      invocation.words().push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    std::string name;
    std::optional<std::string> value;
    if (absl::StartsWith(arg, "--")) {
      absl::string_view body = absl::string_view(arg).substr(2);
      size_t eq = body.find('=');
      // --tracking_addr reads as --tracking-addr: the servers' own flags are
      // spelled with underscores, and a person switching between them
      // should not have to remember which tool wants which.
      name = absl::StrReplaceAll(body.substr(0, eq), {{"_", "-"}});
      if (eq != absl::string_view::npos) value = std::string(body.substr(eq + 1));
    } else if (arg.size() == 2) {
      auto it = short_names.find(arg[1]);
      if (it == short_names.end()) {
        return UsageError(absl::StrCat("unknown flag ", arg));
      }
      name = it->second;
    } else {
      return UsageError(absl::StrCat("unknown flag ", arg, " (long flags take two dashes)"));
    }
    std::optional<FlagSpec::Kind> flag_kind = kind(name);
    if (!flag_kind.has_value()) {
      return UsageError(absl::StrCat("unknown flag --", name));
    }
    if (*flag_kind == FlagSpec::Kind::kBool) {
      if (value.has_value() && !ParseBool(*value).has_value()) {
        return UsageError(
            absl::StrCat("--", name, " takes no value (or true/false), got '", *value, "'"));
      }
      invocation.Add(name, value.value_or("true"));
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size()) {
        return UsageError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    invocation.Add(name, *value);
  }
  return invocation;
}

absl::Status CheckFlags(const Invocation& invocation,
                        const std::vector<const FlagSpec*>& allowed,
                        absl::string_view command) {
  for (const auto& [name, values] : invocation.flags()) {
    const FlagSpec* found = nullptr;
    for (const FlagSpec* spec : allowed) {
      if (spec->name == name) found = spec;
    }
    if (found == nullptr) {
      return UsageError(absl::StrCat("unknown flag --", name, " for '", command, "'"));
    }
    if (found->kind != FlagSpec::Kind::kRepeated && values.size() > 1) {
      return UsageError(absl::StrCat("--", name, " given more than once"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text) {
  absl::Duration duration;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds) && std::isfinite(seconds)) {
    duration = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &duration)) {
    return UsageError(absl::StrCat("--timeout: '", text,
                                   "' is not a duration (e.g. 5s, 500ms, 1m)"));
  }
  if (duration <= absl::ZeroDuration() || duration == absl::InfiniteDuration()) {
    return UsageError(absl::StrCat("--timeout: must be positive and finite, got '", text, "'"));
  }
  return duration;
}

std::string EnumPrefix(const google::protobuf::EnumDescriptor* descriptor) {
  std::string prefix;
  for (char c : descriptor->name()) {
    if (std::isupper(static_cast<unsigned char>(c)) != 0 && !prefix.empty()) prefix += '_';
    prefix += absl::ascii_toupper(static_cast<unsigned char>(c));
  }
  return prefix;
}

absl::StatusOr<int> ParseEnumName(const google::protobuf::EnumDescriptor* descriptor,
                                  absl::string_view flag, absl::string_view text) {
  const std::string prefix = EnumPrefix(descriptor);
  const std::string wanted =
      absl::StrReplaceAll(absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text)), {{"-", "_"}});
  if (!wanted.empty()) {
    for (const std::string& name : {wanted, absl::StrCat(prefix, "_", wanted)}) {
      if (const auto* value = descriptor->FindValueByName(name); value != nullptr) {
        return value->number();
      }
    }
  }
  std::vector<std::string> accepted;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const auto* value = descriptor->value(i);
    if (absl::EndsWith(value->name(), "_UNSPECIFIED")) continue;
    accepted.push_back(absl::AsciiStrToLower(ShortEnumName(descriptor, value->number())));
  }
  return UsageError(absl::StrCat("--", flag, ": '", text, "' is not one of ",
                                 absl::StrJoin(accepted, ", ")));
}

std::string ShortEnumName(const google::protobuf::EnumDescriptor* descriptor, int value) {
  const auto* v = descriptor->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(value);
  absl::string_view name = v->name();
  absl::ConsumePrefix(&name, EnumPrefix(descriptor) + "_");
  return std::string(name);
}

}  // namespace okr::okrctl
