#include "tests/support/service_process.h"

#include <signal.h>

#include <fstream>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace okr {
namespace {

// The JSON string value of `"key":"..."` in `line`, or nullopt. The values
// looked for (addresses) never contain escapes.
std::optional<std::string> StringField(absl::string_view line, absl::string_view key) {
  const std::string needle = absl::StrCat("\"", key, "\":\"");
  const size_t start = line.find(needle);
  if (start == absl::string_view::npos) return std::nullopt;
  const size_t value = start + needle.size();
  const size_t end = line.find('"', value);
  if (end == absl::string_view::npos || end == value) return std::nullopt;
  return std::string(line.substr(value, end - value));
}

// The bytes of `path` from `offset` on ("" when it cannot be read).
std::string ReadFrom(const std::string& path, size_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in) return "";
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::optional<std::string> ServingAddressOf(absl::string_view log_line) {
  if (!absl::StrContains(log_line, "\"msg\":\"serving\"")) return std::nullopt;
  if (std::optional<std::string> address = StringField(log_line, "address")) return address;
  return StringField(log_line, "listen");
}

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::Start(
    ServiceProcessOptions options) {
  OKR_ASSIGN_OR_RETURN(std::string program, OkrBinary(options.binary));
  for (const std::string& arg : options.args) {
    if (absl::StartsWith(arg, "--listen")) {
      return absl::InvalidArgumentError(
          absl::StrCat("ServiceProcess adds --listen itself; remove '", arg, "'"));
    }
  }
  std::optional<TempDir> log_dir;
  if (options.log_path.empty()) log_dir.emplace(absl::StrCat("okr-", options.binary));
  std::unique_ptr<ServiceProcess> service(
      new ServiceProcess(std::move(options), std::move(program), std::move(log_dir)));
  OKR_RETURN_IF_ERROR(service->Launch(0));
  return service;
}

ServiceProcess::ServiceProcess(ServiceProcessOptions options, std::string program,
                               std::optional<TempDir> log_dir)
    : options_(std::move(options)), program_(std::move(program)), log_dir_(std::move(log_dir)) {
  log_path_ = log_dir_.has_value() ? log_dir_->File(absl::StrCat(options_.binary, ".log"))
                                   : options_.log_path;
}

ServiceProcess::~ServiceProcess() {
  if (process_ != nullptr && process_->Running()) {
    (void)process_->Kill(SIGKILL);
    (void)process_->Wait(absl::Seconds(10));
  }
}

absl::Status ServiceProcess::Launch(int port) {
  // Only lines written by this start count: the log is appended to.
  const size_t offset = ReadFileToString(log_path_).size();
  SubprocessOptions spawn;
  spawn.program = program_;
  spawn.args = options_.args;
  spawn.args.push_back(absl::StrCat("--listen=127.0.0.1:", port));
  spawn.env = options_.env;
  spawn.stdout_path = log_path_;
  spawn.stderr_path = log_path_;
  OKR_ASSIGN_OR_RETURN(process_, Subprocess::Start(std::move(spawn)));

  const absl::Time deadline = absl::Now() + options_.startup_timeout;
  size_t scanned = 0;  // bytes after `offset` already looked at, whole lines
  while (true) {
    const std::string fresh = ReadFrom(log_path_, offset);
    size_t newline;
    while ((newline = fresh.find('\n', scanned)) != std::string::npos) {
      const absl::string_view line = absl::string_view(fresh).substr(scanned, newline - scanned);
      scanned = newline + 1;
      std::optional<std::string> address = ServingAddressOf(line);
      if (!address.has_value()) continue;
      const size_t colon = address->rfind(':');
      int bound = 0;
      if (colon == std::string::npos ||
          !absl::SimpleAtoi(absl::string_view(*address).substr(colon + 1), &bound) || bound <= 0) {
        return absl::InternalError(absl::StrCat(options_.binary, " reported address '", *address,
                                                "', not HOST:PORT: ", line));
      }
      address_ = *std::move(address);
      port_ = bound;
      return absl::OkStatus();
    }
    if (!process_->Running()) {
      absl::StatusOr<ExitStatus> exit = process_->Wait(absl::ZeroDuration());
      return absl::UnavailableError(
          absl::StrCat(options_.binary, " (--listen=127.0.0.1:", port, ") ended (",
                       exit.ok() ? exit->ToString() : exit.status().ToString(),
                       ") before serving; log:\n", LogTail()));
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  (void)process_->Kill(SIGKILL);
  (void)process_->Wait(absl::Seconds(10));
  return absl::DeadlineExceededError(
      absl::StrCat(options_.binary, " logged no \"serving\" line within ",
                   absl::FormatDuration(options_.startup_timeout), "; log:\n", LogTail()));
}

absl::StatusOr<ExitStatus> ServiceProcess::Stop(absl::Duration timeout) {
  if (!process_->Running()) return process_->Wait(absl::ZeroDuration());
  OKR_RETURN_IF_ERROR(process_->Kill(SIGTERM));
  return process_->Wait(timeout);
}

absl::StatusOr<ExitStatus> ServiceProcess::Kill() {
  if (!process_->Running()) return process_->Wait(absl::ZeroDuration());
  OKR_RETURN_IF_ERROR(process_->Kill(SIGKILL));
  return process_->Wait(absl::Seconds(10));
}

absl::Status ServiceProcess::Restart() {
  if (process_->Running()) {
    absl::StatusOr<ExitStatus> stopped = Stop();
    if (!stopped.ok()) return stopped.status();
  }
  absl::Status last;
  for (int attempt = 0; attempt < 4; ++attempt) {
    last = Launch(port_);
    // Only an early exit can be a port still held; anything else is final.
    if (last.ok() || last.code() != absl::StatusCode::kUnavailable) return last;
    absl::SleepFor(absl::Milliseconds(300));
  }
  return last;
}

bool ServiceProcess::running() { return process_ != nullptr && process_->Running(); }

std::string ServiceProcess::log() const { return ReadFileToString(log_path_); }

std::string ServiceProcess::LogTail(size_t max_bytes) const {
  std::string text = log();
  if (text.empty()) return "(empty log)";
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

}  // namespace okr
