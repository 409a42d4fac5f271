// okr-reminder-job: runs RunDueReminders on okr-notify once for each listed
// organisation, for a Kubernetes CronJob (DESIGN.md section 6).
//
// Each organisation gets one call (with its own deadline, retried with
// backoff on UNAVAILABLE only: RunDueReminders is idempotent, a rerun claims
// nothing twice, so retrying a call that did run is harmless) and one JSON
// line on stdout with its counts. Failures go to stderr naming the
// organisation and the status.
//
// Exit status: 0 when every organisation succeeded, 1 when any failed (the
// others still ran), 2 on bad flags. The flags are parsed here rather than
// by absl::ParseCommandLine, which exits with 1 on an unknown or malformed
// flag: a CronJob's operator must be able to tell "misconfigured" from "the
// service failed". Every flag also reads FLAGS_<name> from the environment
// when not given on the command line.
#include <grpcpp/grpcpp.h>

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "common/tls.h"
#include "okr/v1/notify.grpc.pb.h"
#include "services/planning/grpc_planning_service.h"

ABSL_FLAG(std::string, notify_addr, "127.0.0.1:50053", "HOST:PORT of okr-notify.");
ABSL_FLAG(std::string, organisations, "",
          "Required. Comma-separated organisation ids to run reminders for.");
ABSL_FLAG(std::string, now, "",
          "The instant to evaluate the policies at, RFC 3339 (e.g. "
          "2027-02-01T09:00:00+01:00); empty: the server's time.");
ABSL_FLAG(std::string, kinds, "",
          "Comma-separated reminder kinds: weekly, mid-quarter, end-of-quarter, "
          "milestones (or their REMINDER_KIND_ names); empty: every enabled kind.");
ABSL_FLAG(bool, dry_run, false, "Find and count, publish nothing; prints a sample.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(60), "Deadline of each call.");
// --tls_ca, --tls_cert and --tls_key are common/tls.cc's, shared with the
// services: TLS to okr-notify, and mTLS with a client certificate.
ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_FLAG(int, retries, 3,
          "Retries of an organisation's call after UNAVAILABLE (notify, planning or "
          "tracking unreachable), with exponential backoff from 1 s; 0 disables.");
ABSL_FLAG(std::string, token_file, "",
          "A file holding the bearer token sent to okr-notify (a `service` token, or "
          "an admin token of the one organisation listed); empty sends none, for "
          "okr-notify with --auth=false.");

namespace {

constexpr absl::string_view kProgram = "okr-reminder-job";

// The flags this program reads, in --help order.
constexpr absl::string_view kFlagNames[] = {"notify_addr", "organisations", "now",   "kinds",
                                            "dry_run",     "timeout",       "retries",
                                            "tls_ca",      "tls_cert",      "tls_key",
                                            "token_file"};

constexpr absl::Duration kInitialBackoff = absl::Seconds(1);
constexpr absl::Duration kMaxBackoff = absl::Seconds(30);

struct JobOptions {
  std::string notify_addr;
  std::vector<std::string> organisations;
  std::optional<absl::Time> now;
  std::vector<okr::v1::ReminderKind> kinds;
  bool dry_run = false;
  absl::Duration timeout;
  int retries = 0;
  okr::TlsConfig tls;  // only its client side: ca_file, cert_file, key_file
  std::string token;   // --token_file's content, trimmed; empty: none sent
};

void PrintUsage() {
  std::cout << kProgram
            << ": runs RunDueReminders on okr-notify for each organisation and prints one "
               "JSON line per organisation.\nExit status: 0 all succeeded, 1 any failed, 2 "
               "bad flags. Every flag also reads FLAGS_<name> from the environment.\n\nFlags:\n";
  for (absl::string_view name : kFlagNames) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::cout << "  --" << name << " (" << flag->Help() << ") default: \""
              << flag->DefaultValue() << "\"\n";
  }
}

bool IsOurFlag(absl::string_view name) {
  return std::find(std::begin(kFlagNames), std::end(kFlagNames), name) != std::end(kFlagNames);
}

// Sets the flags from argv, then from FLAGS_<name> for those not given.
// INVALID_ARGUMENT naming the flag on any problem; exits 0 after --help.
absl::Status ParseFlags(int argc, char** argv) {
  absl::flat_hash_set<std::string> given;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::StartsWith(arg, "-") || arg == "-" || arg == "--") {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", arg, "' (this program takes only flags)"));
    }
    arg.remove_prefix(absl::StartsWith(arg, "--") ? 2 : 1);
    absl::string_view name = arg;
    std::optional<std::string> value;
    if (const size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    if (name == "help" || name == "helpfull" || name == "h") {
      PrintUsage();
      std::exit(0);
    }
    if (!IsOurFlag(name) && absl::StartsWith(name, "no") && !value.has_value() &&
        IsOurFlag(name.substr(2)) &&
        absl::FindCommandLineFlag(name.substr(2))->IsOfType<bool>()) {
      name = name.substr(2);
      value = "false";
    }
    if (!IsOurFlag(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (!value.has_value()) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": missing value"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": cannot read '", *value, "': ", error));
    }
    given.insert(std::string(name));
  }
  for (absl::string_view name : kFlagNames) {
    if (given.contains(name)) continue;
    const std::string variable = absl::StrCat("FLAGS_", name);
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!absl::FindCommandLineFlag(name)->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat(variable, " (environment): cannot read '", value, "': ", error));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<okr::v1::ReminderKind> ParseKind(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "weekly" || lower == "weekly-check-in") return okr::v1::REMINDER_KIND_WEEKLY_CHECK_IN;
  if (lower == "mid-quarter") return okr::v1::REMINDER_KIND_MID_QUARTER_REVIEW;
  if (lower == "end-of-quarter") return okr::v1::REMINDER_KIND_END_OF_QUARTER_REVIEW;
  if (lower == "milestones" || lower == "milestone") {
    return okr::v1::REMINDER_KIND_PLANNING_MILESTONE;
  }
  okr::v1::ReminderKind kind;
  if (okr::v1::ReminderKind_Parse(std::string(text), &kind) &&
      kind != okr::v1::REMINDER_KIND_UNSPECIFIED) {
    return kind;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--kinds: unknown kind '", text,
                   "' (expected weekly, mid-quarter, end-of-quarter or milestones)"));
}

std::vector<std::string> SplitList(absl::string_view list) {
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) items.emplace_back(item);
  }
  return items;
}

// The flags as options, or INVALID_ARGUMENT naming the flag.
absl::StatusOr<JobOptions> ReadOptions() {
  JobOptions options;
  options.notify_addr = absl::GetFlag(FLAGS_notify_addr);
  if (options.notify_addr.empty()) {
    return absl::InvalidArgumentError("--notify_addr: okr-notify's HOST:PORT is required");
  }
  absl::flat_hash_set<std::string> seen;
  for (std::string& org : SplitList(absl::GetFlag(FLAGS_organisations))) {
    if (seen.insert(org).second) options.organisations.push_back(std::move(org));
  }
  if (options.organisations.empty()) {
    return absl::InvalidArgumentError(
        "--organisations: required, a comma-separated list of organisation ids");
  }
  if (const std::string now = absl::GetFlag(FLAGS_now); !now.empty()) {
    absl::Time parsed;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, now, &parsed, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--now: expected an RFC 3339 time like 2027-02-01T09:00:00Z, got '", now, "': ",
          error));
    }
    options.now = parsed;
  }
  for (const std::string& text : SplitList(absl::GetFlag(FLAGS_kinds))) {
    absl::StatusOr<okr::v1::ReminderKind> kind = ParseKind(text);
    if (!kind.ok()) return kind.status();
    if (std::find(options.kinds.begin(), options.kinds.end(), *kind) == options.kinds.end()) {
      options.kinds.push_back(*kind);
    }
  }
  options.dry_run = absl::GetFlag(FLAGS_dry_run);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--timeout: must be positive, got ", absl::FormatDuration(options.timeout)));
  }
  options.retries = absl::GetFlag(FLAGS_retries);
  if (options.retries < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--retries: must be >= 0, got ", options.retries));
  }
  options.tls.ca_file = absl::GetFlag(FLAGS_tls_ca);
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  if (!options.tls.client_tls() && (options.tls.server_tls() || !options.tls.key_file.empty())) {
    return absl::InvalidArgumentError(
        "--tls_cert/--tls_key: a client certificate needs --tls_ca, the CA that verifies "
        "okr-notify");
  }
  if (absl::Status tls = okr::ValidateTlsConfig(options.tls); !tls.ok()) return tls;
  if (const std::string path = absl::GetFlag(FLAGS_token_file); !path.empty()) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream contents;
    contents << in.rdbuf();
    if (!in) {
      return absl::InvalidArgumentError(absl::StrCat("--token_file: cannot read ", path));
    }
    options.token = std::string(absl::StripAsciiWhitespace(contents.str()));
    if (options.token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--token_file: ", path, " is empty"));
    }
  }
  return options;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "null";
  return json;
}

// `text` as a JSON string (quotes, backslashes and control characters
// escaped; organisation ids are plain, but the line must parse whatever the
// flag held).
std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", static_cast<int>(c)));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// One line: the organisation, the instant evaluated, the totals, the counts
// per kind and, on a dry run, the sample.
std::string ResultLine(absl::string_view org, bool dry_run,
                       const okr::v1::RunDueRemindersResponse& response) {
  int found = 0, published = 0, skipped = 0, failed = 0;
  std::vector<std::string> counts;
  for (const okr::v1::ReminderKindCounts& c : response.counts()) {
    found += c.found();
    published += c.published();
    skipped += c.skipped();
    failed += c.failed();
    counts.push_back(ToJson(c));
  }
  std::string line = absl::StrCat(
      "{\"organisation\":", JsonString(org), ",\"now\":",
      response.has_now() ? ToJson(response.now()) : std::string("null"),
      ",\"dry_run\":", dry_run ? "true" : "false", ",\"found\":", found,
      ",\"published\":", published, ",\"skipped\":", skipped, ",\"failed\":", failed,
      ",\"counts\":[", absl::StrJoin(counts, ","), "]");
  if (dry_run) {
    std::vector<std::string> sample;
    for (const okr::v1::Reminder& reminder : response.sample()) sample.push_back(ToJson(reminder));
    absl::StrAppend(&line, ",\"sample\":[", absl::StrJoin(sample, ","), "]");
  }
  absl::StrAppend(&line, "}");
  return line;
}

// One organisation's run with retries; the last status.
absl::Status RunOrganisation(okr::v1::NotifyService::Stub& stub, const JobOptions& options,
                             const std::string& org, okr::v1::RunDueRemindersResponse* response) {
  okr::v1::RunDueRemindersRequest request;
  if (options.now.has_value()) {
    const int64_t seconds = absl::ToUnixSeconds(*options.now);
    request.mutable_now()->set_seconds(seconds);
    request.mutable_now()->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(*options.now - absl::FromUnixSeconds(seconds))));
  }
  request.set_dry_run(options.dry_run);
  for (okr::v1::ReminderKind kind : options.kinds) request.add_kinds(kind);

  absl::Duration backoff = kInitialBackoff;
  for (int attempt = 0;; ++attempt) {
    response->Clear();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
    context.AddMetadata(std::string(okr::planning::kOrganisationMetadataKey), org);
    if (!options.token.empty()) {
      context.AddMetadata("authorization", absl::StrCat("Bearer ", options.token));
    }
    const grpc::Status status = stub.RunDueReminders(&context, request, response);
    if (status.ok()) return absl::OkStatus();
    absl::Status failed = okr::ToAbslStatus(status);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || attempt >= options.retries) {
      return failed;
    }
    std::cerr << kProgram << ": organisation '" << org << "': attempt " << attempt + 1
              << " failed (" << failed << "); retrying in " << absl::FormatDuration(backoff)
              << "\n";
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (absl::Status parsed = ParseFlags(argc, argv); !parsed.ok()) {
    std::cerr << kProgram << ": " << parsed.message() << "\n";
    return 2;
  }
  absl::StatusOr<JobOptions> options = ReadOptions();
  if (!options.ok()) {
    std::cerr << kProgram << ": " << options.status().message() << "\n";
    return 2;
  }

  grpc::ChannelArguments args;
  // Notify coming back after a restart is found within a second.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      okr::ChannelCredentialsFor(options->tls);
  if (!credentials.ok()) {
    std::cerr << kProgram << ": " << credentials.status().message() << "\n";
    return 2;
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options->notify_addr, *credentials, args);
  std::unique_ptr<okr::v1::NotifyService::Stub> stub = okr::v1::NotifyService::NewStub(channel);

  int failures = 0;
  for (const std::string& org : options->organisations) {
    okr::v1::RunDueRemindersResponse response;
    const absl::Status status = RunOrganisation(*stub, *options, org, &response);
    if (!status.ok()) {
      ++failures;
      std::cerr << kProgram << ": organisation '" << org << "': RunDueReminders at "
                << options->notify_addr << " failed: " << status << "\n";
      continue;
    }
    std::cout << ResultLine(org, options->dry_run, response) << std::endl;
  }
  return failures == 0 ? 0 : 1;
}
