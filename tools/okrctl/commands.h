// okrctl's commands: the table of "noun verb" commands (org, team, person,
// cycle, objective, kr) and plan-wide verbs (align, cascade, unalign,
// breakdown, tree, lint, timeline, templates, import, export, changes) over
// the planning service, the tracking commands (checkin, history, score,
// stale, review, cycle close, rollups rebuild, tree --scores) over the
// tracking service, the notify commands (policy, webhook, reminders,
// deliveries) over the notify service, the context a command runs in, and
// Run(), the whole program behind main().
//
// Output convention: --json prints the RPC's response message as JSON
// (several pages of a List merged into one response); -q prints only the ids
// of what a create command made, one per line; otherwise a short table, tree
// or summary for a person. Arguments that name a cycle, person or team take
// its id or its name (an e-mail address for a person); names are looked up
// with List calls, and a value that matches nothing is sent as an id, so the
// server's NOT_FOUND names the field.
#ifndef OKR_TOOLS_OKRCTL_COMMANDS_H_
#define OKR_TOOLS_OKRCTL_COMMANDS_H_

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/okrctl/args.h"
#include "tools/okrctl/client.h"
#include "tools/okrctl/render.h"

namespace okr::okrctl {

// Exit statuses of okrctl.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRpcError = 1;
inline constexpr int kExitUsage = 2;

// What a command runs with.
class Context {
 public:
  Context(PlanningClient& client, TrackingClient& tracking, NotifyClient& notify,
          const Invocation& invocation, std::vector<std::string> args, std::ostream& out)
      : client_(client),
        tracking_(tracking),
        notify_(notify),
        invocation_(invocation),
        args_(std::move(args)),
        out_(out) {}

  // The planning service (also for the name lookups of tracking commands).
  PlanningClient& client() { return client_; }
  // The tracking service (--tracking-addr); only tracking commands call it.
  TrackingClient& tracking() { return tracking_; }
  // The notify service (--notify-addr); only notify commands call it.
  NotifyClient& notify() { return notify_; }
  // The flags of the command line (global ones included).
  const Invocation& flags() const { return invocation_; }
  // The positional arguments after the command's words.
  const std::vector<std::string>& args() const { return args_; }
  std::ostream& out() { return out_; }
  bool json() const { return invocation_.Bool("json"); }
  bool quiet() const { return invocation_.Bool("quiet"); }

  // --json: the message as JSON; otherwise `human()` is printed.
  void Print(const google::protobuf::Message& message,
             const std::function<std::string()>& human);
  // A create command's result: JSON, the bare ids (-q), or
  // "created <kind> <id>  <label>" per id.
  void PrintCreated(const google::protobuf::Message& message, absl::string_view kind,
                    const std::vector<std::pair<std::string, std::string>>& ids_and_labels);

  // Display names of every cycle, person and team (loaded once, on first use).
  absl::StatusOr<const Names*> names();
  // An id from an id or a name (case-insensitive); `flag` names the argument
  // in errors. An empty value stays empty; a name shared by several
  // resources is a usage error listing their ids; no match: `value` as is.
  absl::StatusOr<std::string> ResolveCycle(absl::string_view flag, const std::string& value);
  absl::StatusOr<std::string> ResolvePerson(absl::string_view flag, const std::string& value);
  absl::StatusOr<std::string> ResolveTeam(absl::string_view flag, const std::string& value);
  // ResolveX of the flag's value; "" when the flag is absent.
  absl::StatusOr<std::string> CycleFlag(absl::string_view flag);
  absl::StatusOr<std::string> PersonFlag(absl::string_view flag);
  absl::StatusOr<std::string> TeamFlag(absl::string_view flag);

  // The request_id for a create: --request-id, else a fresh random UUID, so
  // that a retry of the same call cannot create twice.
  std::string RequestId() const;

 private:
  absl::StatusOr<std::string> Resolve(
      absl::string_view flag, const std::string& value, absl::string_view what,
      const absl::flat_hash_map<std::string, std::string>& names);

  PlanningClient& client_;
  TrackingClient& tracking_;
  NotifyClient& notify_;
  const Invocation& invocation_;
  std::vector<std::string> args_;
  std::ostream& out_;
  std::optional<Names> names_;
};

// One command of the table.
struct Command {
  std::string path;     // "objective create", "tree"
  std::string usage;    // positional arguments, e.g. "ID PARENT_ID"
  std::string summary;  // one line for the command list
  std::vector<FlagSpec> flags;
  size_t min_args = 0;
  size_t max_args = 0;
  std::function<absl::Status(Context&)> run;
};

// FlagSpec shorthands for the command tables.
inline FlagSpec ValueFlag(std::string name, std::string value_name, std::string help) {
  return {std::move(name), FlagSpec::Kind::kValue, std::move(value_name), std::move(help)};
}
inline FlagSpec BoolFlag(std::string name, std::string help) {
  return {std::move(name), FlagSpec::Kind::kBool, "", std::move(help)};
}
inline FlagSpec ListFlag(std::string name, std::string value_name, std::string help) {
  return {std::move(name), FlagSpec::Kind::kRepeated, std::move(value_name), std::move(help)};
}

// A fresh random (version 4) UUID: request ids and check-in client keys.
std::string NewUuid();

// Flags several commands share: --limit, --request-id, --if-version.
FlagSpec LimitFlag();
FlagSpec RequestIdFlag();
FlagSpec IfVersionFlag();
// --limit as a number >= 0 (0, the default: no limit).
absl::StatusOr<int64_t> LimitOf(const Context& ctx);

// --<flag> as an RFC 3339 time; nullopt when absent, a usage error naming
// the flag when malformed (commands_tracking.cc).
absl::StatusOr<std::optional<google::protobuf::Timestamp>> OptionalTimestamp(
    const Context& ctx, absl::string_view flag);
// ctx.names(), or nullptr when planning cannot give them: names are
// decoration in output, and a call that succeeded must not look failed
// because of them (commands_tracking.cc).
const Names* NamesOrNull(Context& ctx);

// Appends the commands of each group (commands_*.cc).
void AddDirectoryCommands(std::vector<Command>& commands);
void AddObjectiveCommands(std::vector<Command>& commands);
void AddPlanCommands(std::vector<Command>& commands);
void AddTrackingCommands(std::vector<Command>& commands);
void AddNotifyCommands(std::vector<Command>& commands);

// `tree --scores`: the tracking service's scored tree of --cycle, drawn like
// `tree` with each objective's score, grade and pace and each key result's
// progress (commands_tracking.cc; `tree` calls it).
absl::Status ScoredTree(Context& ctx, const std::string& cycle_id);

// Every command, in help order.
const std::vector<Command>& AllCommands();
// The flags every command accepts.
const std::vector<FlagSpec>& GlobalFlags();

// Runs okrctl on `args` (argv without the program name). `getenv` supplies
// OKR_PLANNING_ADDR, OKR_TRACKING_ADDR, OKR_NOTIFY_ADDR, OKR_ORG and
// OKR_TOKEN. Writes results to `out` and
// errors (and usage) to `err`; returns the exit status: 0, 1 for a failed
// RPC, 2 for a usage error.
int Run(const std::vector<std::string>& args,
        const std::function<std::optional<std::string>(const char*)>& getenv,
        std::ostream& out, std::ostream& err);

}  // namespace okr::okrctl

#endif  // OKR_TOOLS_OKRCTL_COMMANDS_H_
