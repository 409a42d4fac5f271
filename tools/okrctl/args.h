// Command-line parsing for okrctl: global flags, "noun verb" commands and
// per-command flags, plus typed access to flag values (numbers, durations,
// proto enum names).
//
// okrctl does not use absl::ParseCommandLine: that parser knows only one
// global flag set and exits with status 1 on an unknown flag, while okrctl
// needs per-command flags and must exit with 2 on every usage error. Flags
// may appear anywhere after the program name, as --name=value or
// --name value (booleans: --name, --name=true|false); "--" ends the flags.
// An underscore in a long flag name reads as a dash (--tracking_addr).
// Usage errors are INVALID_ARGUMENT statuses marked with IsUsageError(), so
// that main() can tell them from a server's INVALID_ARGUMENT.
#ifndef OKR_TOOLS_OKRCTL_ARGS_H_
#define OKR_TOOLS_OKRCTL_ARGS_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/generated_enum_reflection.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace okr::okrctl {

// A flag a command (or okrctl as a whole) accepts.
struct FlagSpec {
  enum class Kind { kBool, kValue, kRepeated };
  std::string name;        // without "--", e.g. "cycle"
  Kind kind = Kind::kValue;
  std::string value_name;  // shown in help, e.g. "ID|NAME"
  std::string help;        // one line
  char short_name = 0;     // e.g. 'q' for -q; 0: none
};

// A usage error (exit status 2): INVALID_ARGUMENT carrying a marker payload.
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& status);

// The command line split into words (non-flag arguments, in order) and flags
// (name -> values in order). Built by Tokenize().
class Invocation {
 public:
  std::vector<std::string>& words() { return words_; }
  const std::vector<std::string>& words() const { return words_; }

  bool Has(absl::string_view name) const;
  // The flag's last value; nullopt when absent.
  std::optional<std::string> Get(absl::string_view name) const;
  // The flag's value or `fallback` when absent.
  std::string GetOr(absl::string_view name, absl::string_view fallback) const;
  // Every value of a repeated flag, in order.
  std::vector<std::string> GetAll(absl::string_view name) const;
  // A boolean flag: true when given without value or as "true"/"1"/"yes".
  bool Bool(absl::string_view name) const;

  // Typed values; a malformed value is a usage error naming the flag. An
  // absent flag gives nullopt.
  absl::StatusOr<std::optional<int64_t>> Int(absl::string_view name) const;
  absl::StatusOr<std::optional<double>> Double(absl::string_view name) const;

  void Add(std::string name, std::string value);
  const std::map<std::string, std::vector<std::string>, std::less<>>& flags() const {
    return flags_;
  }

 private:
  std::vector<std::string> words_;
  std::map<std::string, std::vector<std::string>, std::less<>> flags_;
};

// Splits `args` (argv without the program name) into words and flags. `kind`
// tells how a flag name is parsed (nullopt: unknown flag, a usage error);
// `short_names` maps single-letter flags ('q' -> "quiet"). A value on a
// boolean other than true/false is a usage error. Whether a flag is allowed for the command is checked later by
// CheckFlags(). A flag name must not be boolean for one command and take a
// value for another.
absl::StatusOr<Invocation> Tokenize(
    const std::vector<std::string>& args,
    const std::function<std::optional<FlagSpec::Kind>(absl::string_view)>& kind,
    const std::map<char, std::string>& short_names);

// Usage error unless every flag in `invocation` is in `allowed`, and only
// repeatable ones are given more than once.
absl::Status CheckFlags(const Invocation& invocation,
                        const std::vector<const FlagSpec*>& allowed,
                        absl::string_view command);

// Parses "5s", "1.5s", "500ms", "2m" (absl::ParseDuration) or a bare number of
// seconds. Must be positive.
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text);

// "ObjectiveKind" -> "OBJECTIVE_KIND": the prefix of the enum's value names.
std::string EnumPrefix(const google::protobuf::EnumDescriptor* descriptor);

// Parses a proto enum value from what a person types: the full name
// ("LEVEL_TEAM") or the name without the prefix ("team", "Team"), with '-'
// standing for '_' ("percent-complete"). A usage error names `flag` and lists
// the accepted values.
absl::StatusOr<int> ParseEnumName(const google::protobuf::EnumDescriptor* descriptor,
                                  absl::string_view flag, absl::string_view text);

template <typename E>
absl::StatusOr<E> ParseEnum(absl::string_view flag, absl::string_view text) {
  absl::StatusOr<int> value =
      ParseEnumName(google::protobuf::GetEnumDescriptor<E>(), flag, text);
  if (!value.ok()) return value.status();
  return static_cast<E>(*value);
}

// The value's name without the enum prefix ("COMMITTED"); the number when the
// value is unknown to this build.
std::string ShortEnumName(const google::protobuf::EnumDescriptor* descriptor, int value);

template <typename E>
std::string ShortName(E value) {
  return ShortEnumName(google::protobuf::GetEnumDescriptor<E>(), static_cast<int>(value));
}

}  // namespace okr::okrctl

#endif  // OKR_TOOLS_OKRCTL_ARGS_H_
