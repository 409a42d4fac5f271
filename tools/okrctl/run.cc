// Run(): okrctl's command line, help, dispatch and exit statuses; and the
// Context helpers every command uses.
#include <algorithm>
#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/tls.h"
#include "tools/okrctl/commands.h"

namespace okr::okrctl {
namespace {

using Kind = FlagSpec::Kind;

constexpr absl::string_view kDefaultAddress = "127.0.0.1:50051";
constexpr absl::string_view kDefaultTrackingAddress = "127.0.0.1:50052";
constexpr absl::string_view kDefaultNotifyAddress = "127.0.0.1:50053";

std::string FlagLine(const FlagSpec& flag) {
  std::string name = absl::StrCat("--", flag.name);
  if (flag.short_name != 0) name = absl::StrCat("-", std::string(1, flag.short_name), ", ", name);
  if (flag.kind != Kind::kBool) absl::StrAppend(&name, "=", flag.value_name);
  if (flag.kind == Kind::kRepeated) absl::StrAppend(&name, " (repeatable)");
  // A long name gets its help on the next line, keeping the column.
  if (name.size() > 34) return absl::StrFormat("  %s\n  %-34s %s\n", name, "", flag.help);
  return absl::StrFormat("  %-34s %s\n", name, flag.help);
}

std::string GeneralUsage() {
  std::string out =
      "okrctl: the command line over the OKR planning, tracking and notify APIs\n"
      "(okr.v1.PlanningService, okr.v1.TrackingService, okr.v1.NotifyService).\n\n"
      "Usage: okrctl [global flags] <command> [arguments] [flags]\n\nCommands:\n";
  for (const Command& c : AllCommands()) {
    std::string head = c.usage.empty() ? c.path : absl::StrCat(c.path, " ", c.usage);
    absl::StrAppend(&out, absl::StrFormat("  %-40s %s\n", head, c.summary));
  }
  absl::StrAppend(&out, "\nGlobal flags (anywhere on the line):\n");
  for (const FlagSpec& f : GlobalFlags()) absl::StrAppend(&out, FlagLine(f));
  absl::StrAppend(&out,
                  "\nCycles, people and teams may be named by id or by name (people also by "
                  "e-mail).\nExit status: 0 ok, 1 the server refused or failed the call, 2 usage "
                  "error.\nRun 'okrctl help <command>' for a command's flags.\n");
  return out;
}

std::string CommandUsage(const Command& c) {
  std::string out = absl::StrCat("Usage: okrctl ", c.path, c.usage.empty() ? "" : " ", c.usage,
                                 " [flags]\n\n", c.summary, "\n");
  if (!c.flags.empty()) {
    absl::StrAppend(&out, "\nFlags:\n");
    for (const FlagSpec& f : c.flags) absl::StrAppend(&out, FlagLine(f));
  }
  absl::StrAppend(&out, "\nGlobal flags: ");
  std::vector<std::string> names;
  for (const FlagSpec& f : GlobalFlags()) names.push_back(absl::StrCat("--", f.name));
  absl::StrAppend(&out, absl::StrJoin(names, " "), " (see 'okrctl help').\n");
  return out;
}

// The command whose words start `words` (longest match), and how many words
// it used. nullptr when none matches.
const Command* FindCommand(const std::vector<std::string>& words, size_t* used) {
  const Command* best = nullptr;
  size_t best_len = 0;
  for (const Command& c : AllCommands()) {
    std::vector<std::string> path = absl::StrSplit(c.path, ' ');
    if (path.size() > words.size() || path.size() <= best_len) continue;
    if (std::equal(path.begin(), path.end(), words.begin())) {
      best = &c;
      best_len = path.size();
    }
  }
  *used = best_len;
  return best;
}

// Usage error for words that name no command: a noun without its verb gets
// the list of verbs.
absl::Status UnknownCommand(const std::vector<std::string>& words) {
  std::vector<std::string> verbs;
  for (const Command& c : AllCommands()) {
    std::vector<std::string> path = absl::StrSplit(c.path, ' ');
    if (path.size() == 2 && path[0] == words[0]) verbs.push_back(path[1]);
  }
  if (!verbs.empty()) {
    if (words.size() == 1) {
      return UsageError(absl::StrCat("'", words[0], "' needs a subcommand: ",
                                     absl::StrJoin(verbs, ", ")));
    }
    return UsageError(absl::StrCat("unknown command '", words[0], " ", words[1],
                                   "'; '", words[0], "' has: ", absl::StrJoin(verbs, ", ")));
  }
  return UsageError(absl::StrCat("unknown command '", words[0], "'"));
}

std::optional<Kind> FlagKind(absl::string_view name) {
  for (const FlagSpec& f : GlobalFlags()) {
    if (f.name == name) return f.kind;
  }
  for (const Command& c : AllCommands()) {
    for (const FlagSpec& f : c.flags) {
      if (f.name == name) return f.kind;
    }
  }
  return std::nullopt;
}

std::map<char, std::string> ShortNames() {
  std::map<char, std::string> names;
  for (const FlagSpec& f : GlobalFlags()) {
    if (f.short_name != 0) names[f.short_name] = f.name;
  }
  for (const Command& c : AllCommands()) {
    for (const FlagSpec& f : c.flags) {
      if (f.short_name != 0) names[f.short_name] = f.name;
    }
  }
  return names;
}

// The channel credentials of --tls-ca / --tls-cert / --tls-key (or their
// OKR_TLS_* variables): null for plaintext, a usage error naming okrctl's
// flag for a missing, unreadable or mismatched file.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentialsOf(
    const Invocation& invocation,
    const std::function<std::optional<std::string>(const char*)>& getenv) {
  TlsConfig config;
  config.ca_file = invocation.Get("tls-ca").value_or(getenv("OKR_TLS_CA").value_or(""));
  config.cert_file = invocation.Get("tls-cert").value_or(getenv("OKR_TLS_CERT").value_or(""));
  config.key_file = invocation.Get("tls-key").value_or(getenv("OKR_TLS_KEY").value_or(""));
  if (!config.client_tls()) {
    if (config.server_tls() || !config.key_file.empty()) {
      return UsageError(
          "--tls-cert/--tls-key: a client certificate needs --tls-ca (or OKR_TLS_CA), the CA "
          "that verifies the services");
    }
    return nullptr;
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentialsFor(config);
  if (!credentials.ok()) {
    // The library names the services' flags (--tls_ca); okrctl spells them
    // with a dash.
    return UsageError(absl::StrReplaceAll(
        credentials.status().message(),
        {{"--tls_ca", "--tls-ca"}, {"--tls_cert", "--tls-cert"}, {"--tls_key", "--tls-key"}}));
  }
  return credentials;
}

}  // namespace

FlagSpec LimitFlag() { return ValueFlag("limit", "N", "list at most N items (default: all)"); }

FlagSpec RequestIdFlag() {
  return ValueFlag("request-id", "ID", "idempotency key (default: a random UUID)");
}

FlagSpec IfVersionFlag() {
  return ValueFlag("if-version", "N",
                   "fail with ABORTED unless the stored version is N (default: read it first)");
}

absl::StatusOr<int64_t> LimitOf(const Context& ctx) {
  OKR_ASSIGN_OR_RETURN(std::optional<int64_t> limit, ctx.flags().Int("limit"));
  if (limit.has_value() && *limit < 0) return UsageError("--limit: must be >= 0");
  return limit.value_or(0);
}

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"addr", Kind::kValue, "HOST:PORT",
       "planning service address (env OKR_PLANNING_ADDR; default 127.0.0.1:50051)"},
      {"tracking-addr", Kind::kValue, "HOST:PORT",
       "tracking service address, for the tracking commands (env OKR_TRACKING_ADDR; "
       "default 127.0.0.1:50052)"},
      {"notify-addr", Kind::kValue, "HOST:PORT",
       "notify service address, for the policy, webhook, reminders and deliveries commands "
       "(env OKR_NOTIFY_ADDR; default 127.0.0.1:50053)"},
      {"org", Kind::kValue, "ID", "organisation, sent as okr-organisation-id (env OKR_ORG)"},
      {"token", Kind::kValue, "TOKEN", "bearer token for the authorization header (env OKR_TOKEN)"},
      {"tls-ca", Kind::kValue, "FILE",
       "PEM CA bundle that verifies the services; turns TLS on (env OKR_TLS_CA)"},
      {"tls-cert", Kind::kValue, "FILE",
       "PEM client certificate for mTLS, with --tls-key and --tls-ca (env OKR_TLS_CERT)"},
      {"tls-key", Kind::kValue, "FILE", "PEM private key of --tls-cert (env OKR_TLS_KEY)"},
      {"timeout", Kind::kValue, "DURATION", "deadline of the whole command (default 5s)"},
      {"json", Kind::kBool, "", "print the response message as JSON (proto field names)"},
      {"quiet", Kind::kBool, "", "create commands and checkin print only the new ids, one per line",
       'q'},
      {"help", Kind::kBool, "", "show help", 'h'},
  };
  return *flags;
}

const std::vector<Command>& AllCommands() {
  static const auto* commands = [] {
    auto* all = new std::vector<Command>;
    AddDirectoryCommands(*all);
    AddObjectiveCommands(*all);
    AddPlanCommands(*all);
    AddTrackingCommands(*all);
    AddNotifyCommands(*all);
    return all;
  }();
  return *commands;
}

void Context::Print(const google::protobuf::Message& message,
                    const std::function<std::string()>& human) {
  out_ << (json() ? ToJson(message) : human());
}

void Context::PrintCreated(
    const google::protobuf::Message& message, absl::string_view kind,
    const std::vector<std::pair<std::string, std::string>>& ids_and_labels) {
  if (json()) {
    out_ << ToJson(message);
    return;
  }
  for (const auto& [id, label] : ids_and_labels) {
    if (quiet()) {
      out_ << id << "\n";
    } else {
      out_ << "created " << kind << " " << id << (label.empty() ? "" : "  ") << label << "\n";
    }
  }
}

absl::StatusOr<const Names*> Context::names() {
  if (names_.has_value()) return &*names_;
  Names names;
  OKR_ASSIGN_OR_RETURN(
      okr::v1::ListCyclesResponse cycles,
      client_.ListAll("ListCycles", &PlanningClient::Stub::ListCycles,
                      okr::v1::ListCyclesRequest(), 0,
                      [](const okr::v1::ListCyclesResponse& r) { return r.cycles_size(); }));
  for (const auto& c : cycles.cycles()) names.cycles[c.id()] = c.name();
  OKR_ASSIGN_OR_RETURN(
      okr::v1::ListPeopleResponse people,
      client_.ListAll("ListPeople", &PlanningClient::Stub::ListPeople,
                      okr::v1::ListPeopleRequest(), 0,
                      [](const okr::v1::ListPeopleResponse& r) { return r.people_size(); }));
  for (const auto& p : people.people()) names.people[p.id()] = p.display_name();
  OKR_ASSIGN_OR_RETURN(
      okr::v1::ListTeamsResponse teams,
      client_.ListAll("ListTeams", &PlanningClient::Stub::ListTeams,
                      okr::v1::ListTeamsRequest(), 0,
                      [](const okr::v1::ListTeamsResponse& r) { return r.teams_size(); }));
  for (const auto& t : teams.teams()) names.teams[t.id()] = t.name();
  names_ = std::move(names);
  return &*names_;
}

absl::StatusOr<std::string> Context::Resolve(
    absl::string_view flag, const std::string& value, absl::string_view what,
    const absl::flat_hash_map<std::string, std::string>& names) {
  if (value.empty() || names.contains(value)) return value;
  std::vector<std::string> matches;
  for (const auto& [id, name] : names) {
    if (absl::EqualsIgnoreCase(name, value)) matches.push_back(id);
  }
  if (matches.size() > 1) {
    std::sort(matches.begin(), matches.end());
    return UsageError(absl::StrCat(flag, ": '", value, "' is the name of ", matches.size(), " ",
                                   what, " (", absl::StrJoin(matches, ", "),
                                   "); give the id instead"));
  }
  return matches.empty() ? value : matches.front();
}

absl::StatusOr<std::string> Context::ResolveCycle(absl::string_view flag,
                                                  const std::string& value) {
  if (value.empty()) return value;
  OKR_ASSIGN_OR_RETURN(const Names* n, names());
  return Resolve(flag, value, "cycles", n->cycles);
}

absl::StatusOr<std::string> Context::ResolvePerson(absl::string_view flag,
                                                   const std::string& value) {
  if (value.empty()) return value;
  if (absl::StrContains(value, '@')) {
    okr::v1::ListPeopleRequest request;
    request.set_email(value);
    request.set_page_size(2);
    OKR_ASSIGN_OR_RETURN(okr::v1::ListPeopleResponse people,
                         client_.Call("ListPeople", &PlanningClient::Stub::ListPeople, request));
    return people.people_size() == 1 ? people.people(0).id() : value;
  }
  OKR_ASSIGN_OR_RETURN(const Names* n, names());
  return Resolve(flag, value, "people", n->people);
}

absl::StatusOr<std::string> Context::ResolveTeam(absl::string_view flag,
                                                 const std::string& value) {
  if (value.empty()) return value;
  OKR_ASSIGN_OR_RETURN(const Names* n, names());
  return Resolve(flag, value, "teams", n->teams);
}

absl::StatusOr<std::string> Context::CycleFlag(absl::string_view flag) {
  return ResolveCycle(absl::StrCat("--", flag), invocation_.GetOr(flag, ""));
}
absl::StatusOr<std::string> Context::PersonFlag(absl::string_view flag) {
  return ResolvePerson(absl::StrCat("--", flag), invocation_.GetOr(flag, ""));
}
absl::StatusOr<std::string> Context::TeamFlag(absl::string_view flag) {
  return ResolveTeam(absl::StrCat("--", flag), invocation_.GetOr(flag, ""));
}

std::string Context::RequestId() const {
  if (std::optional<std::string> id = invocation_.Get("request-id"); id.has_value()) return *id;
  return NewUuid();
}

std::string NewUuid() {
  absl::BitGen gen;
  const uint64_t hi = absl::Uniform<uint64_t>(gen);
  const uint64_t lo = absl::Uniform<uint64_t>(gen);
  // RFC 4122 version 4 (random) layout.
  return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff,
                         hi & 0xfff, 0x8000 | ((lo >> 48) & 0x3fff), lo & 0xffffffffffffULL);
}

int Run(const std::vector<std::string>& args,
        const std::function<std::optional<std::string>(const char*)>& getenv,
        std::ostream& out, std::ostream& err) {
  // The command's own usage when it is known, the command list when the
  // command is what is wrong, else one line pointing at the help.
  auto usage_error = [&](const absl::Status& status, const Command* command,
                         bool list_commands = false) {
    err << "okrctl: " << status.message() << "\n\n";
    if (command != nullptr) {
      err << CommandUsage(*command);
    } else if (list_commands) {
      err << GeneralUsage();
    } else {
      err << "Usage: okrctl [global flags] <command> [arguments] [flags]\n"
          << "Run 'okrctl help' for the commands and 'okrctl help <command>' for their flags.\n";
    }
    return kExitUsage;
  };
  absl::StatusOr<Invocation> parsed = Tokenize(args, FlagKind, ShortNames());
  if (!parsed.ok()) return usage_error(parsed.status(), nullptr);
  Invocation& invocation = *parsed;
  std::vector<std::string> words = invocation.words();

  // "okrctl help [command]" and "--help" anywhere print to stdout.
  const bool help = invocation.Bool("help") || (!words.empty() && words[0] == "help");
  if (!words.empty() && words[0] == "help") words.erase(words.begin());
  if (words.empty()) {
    if (help) {
      out << GeneralUsage();
      return kExitOk;
    }
    return usage_error(UsageError("no command given"), nullptr, true);
  }
  size_t used = 0;
  const Command* command = FindCommand(words, &used);
  if (command == nullptr) return usage_error(UnknownCommand(words), nullptr, true);
  if (help) {
    out << CommandUsage(*command);
    return kExitOk;
  }
  std::vector<const FlagSpec*> allowed;
  for (const FlagSpec& f : GlobalFlags()) allowed.push_back(&f);
  for (const FlagSpec& f : command->flags) allowed.push_back(&f);
  if (absl::Status s = CheckFlags(invocation, allowed, command->path); !s.ok()) {
    return usage_error(s, command);
  }
  std::vector<std::string> positional(words.begin() + used, words.end());
  if (positional.size() < command->min_args || positional.size() > command->max_args) {
    return usage_error(
        UsageError(absl::StrCat("'", command->path, "' takes ",
                                command->usage.empty() ? "no arguments" : command->usage,
                                ", got ", positional.size(), " argument",
                                positional.size() == 1 ? "" : "s")),
        command);
  }

  ClientOptions options;
  options.address = invocation.Get("addr").value_or(
      getenv("OKR_PLANNING_ADDR").value_or(std::string(kDefaultAddress)));
  options.organisation = invocation.Get("org").value_or(getenv("OKR_ORG").value_or(""));
  options.token = invocation.Get("token").value_or(getenv("OKR_TOKEN").value_or(""));
  if (std::optional<std::string> timeout = invocation.Get("timeout"); timeout.has_value()) {
    absl::StatusOr<absl::Duration> parsed_timeout = ParseTimeout(*timeout);
    if (!parsed_timeout.ok()) return usage_error(parsed_timeout.status(), nullptr);
    options.timeout = *parsed_timeout;
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      TlsCredentialsOf(invocation, getenv);
  if (!credentials.ok()) return usage_error(credentials.status(), nullptr);
  options.credentials = *std::move(credentials);
  ClientOptions tracking_options = options;
  tracking_options.address = invocation.Get("tracking-addr").value_or(
      getenv("OKR_TRACKING_ADDR").value_or(std::string(kDefaultTrackingAddress)));
  ClientOptions notify_options = options;
  notify_options.address = invocation.Get("notify-addr").value_or(
      getenv("OKR_NOTIFY_ADDR").value_or(std::string(kDefaultNotifyAddress)));
  PlanningClient client(std::move(options));
  // One deadline for the whole command, whichever services it calls.
  TrackingClient tracking(std::move(tracking_options), client.deadline());
  NotifyClient notify(std::move(notify_options), client.deadline());
  Context context(client, tracking, notify, invocation, std::move(positional), out);
  absl::Status status = command->run(context);
  out.flush();
  if (status.ok()) return kExitOk;
  if (IsUsageError(status)) {
    // A bad value: the message says which; the whole usage would bury it.
    err << "okrctl: " << status.message() << "\nUsage: okrctl " << command->path
        << (command->usage.empty() ? "" : " ") << command->usage << " [flags]; run 'okrctl help "
        << command->path << "' for its flags.\n";
    return kExitUsage;
  }
  err << FormatError(status);
  if (status.code() == absl::StatusCode::kUnavailable &&
      absl::StrContains(status.message(), "connect")) {
    // ClientBase::Converted names the address it dialled ("server HOST:PORT,").
    if (absl::StrContains(status.message(),
                          absl::StrCat("server ", notify.options().address, ","))) {
      err << "  (is okr-notify running at " << notify.options().address
          << "? set --notify-addr or OKR_NOTIFY_ADDR)\n";
    } else if (absl::StrContains(status.message(),
                                 absl::StrCat("server ", tracking.options().address, ","))) {
      err << "  (is okr-tracking running at " << tracking.options().address
          << "? set --tracking-addr or OKR_TRACKING_ADDR)\n";
    } else {
      err << "  (is okr-planning running at " << client.options().address
          << "? set --addr or OKR_PLANNING_ADDR)\n";
    }
  }
  return kExitRpcError;
}

}  // namespace okr::okrctl
