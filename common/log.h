// Structured logging: one JSON object per line on stdout, for log collectors
// on Kubernetes. Every line carries
//   {"ts":"2027-01-04T09:00:00.123456Z","level":"info","service":"planning",
//    "msg":"server started","listen":"0.0.0.0:50051","port":50051}
// with `ts` in RFC 3339 UTC (microseconds), `level` one of debug / info /
// warning / error, and the caller's key/value fields after `msg`, then
// "request_id" while the thread works for a request (see
// common/request_context.h) and the fields do not name one already. Strings are
// JSON-escaped (control characters as \uXXXX, invalid UTF-8 replaced by
// U+FFFD) so every line parses.
//
// There is one process-wide logger (spdlog underneath). The server bootstrap
// configures it once through InitLogging(); until then lines carry the service
// name "okr". gRPC's own diagnostics (gpr_log) are routed through the same
// logger, so nothing but JSON reaches stdout. Logging is thread-safe and
// flushes every line, except those of LogInfoDeferred (the access log).
#ifndef OKR_COMMON_LOG_H_
#define OKR_COMMON_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace okr {

// A field value, already encoded as a JSON value. Strings become JSON strings,
// integers and finite doubles JSON numbers, bools true/false; a NaN or
// infinite double becomes the string "NaN" / "Inf" / "-Inf" (JSON has no such
// numbers); a Status its ToString(); a Duration its absl::FormatDuration().
class LogValue {
 public:
  LogValue(absl::string_view s);  // NOLINT(google-explicit-constructor)
  LogValue(const std::string& s) : LogValue(absl::string_view(s)) {}  // NOLINT
  LogValue(const char* s) : LogValue(absl::string_view(s)) {}         // NOLINT
  LogValue(bool b) : json_(b ? "true" : "false") {}                   // NOLINT
  LogValue(double d);                                                 // NOLINT
  LogValue(const absl::Status& status);                               // NOLINT
  LogValue(absl::Duration d);                                         // NOLINT
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                             int> = 0>
  LogValue(T v) : json_(std::to_string(v)) {}  // NOLINT

  // The encoded JSON value, e.g. "\"text\"" or "42".
  const std::string& json() const { return json_; }

 private:
  std::string json_;
};

// One key/value pair of a log line. A key equal to one of the fixed keys
// (ts, level, service, msg) is written with a "field." prefix so that a line
// never has duplicate keys.
struct LogField {
  absl::string_view key;
  LogValue value;
};

using LogFields = std::initializer_list<LogField>;

// Configures the process-wide logger to write to stdout with `service` on
// every line. Safe to call more than once (the last call wins) and
// concurrently with logging; the bootstrap calls it once from InitMain().
void InitLogging(absl::string_view service);

// As above but writes to `out` instead of stdout; for tests. `out` must
// outlive all logging until the next InitLogging() call.
void InitLogging(absl::string_view service, std::ostream& out);

// Writes one line at the given level, e.g.
//   okr::LogInfo("server started", {{"listen", addr}, {"port", port}});
void LogDebug(absl::string_view msg, LogFields fields = {});
void LogInfo(absl::string_view msg, LogFields fields = {});
// As LogInfo, but on stdout the line is not flushed by itself: the next
// ordinary line or a background flush within 100 ms writes it, in order.
// For the one line per RPC of the access log, where a write(2) per line cost
// a tenth of an empty RPC. A kill -9 may lose the last 100 ms of such lines.
void LogInfoDeferred(absl::string_view msg, LogFields fields = {});
void LogWarn(absl::string_view msg, LogFields fields = {});
void LogError(absl::string_view msg, LogFields fields = {});

// Debug lines are dropped unless enabled (they are off by default).
void SetDebugLogging(bool enabled);

// Returns `s` as a quoted JSON string literal: ", \ and control characters
// escaped, invalid UTF-8 sequences replaced by U+FFFD.
std::string JsonQuote(absl::string_view s);

}  // namespace okr

#endif  // OKR_COMMON_LOG_H_
