#include "common/log.h"

#include <grpc/support/log.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "common/request_context.h"
#include "spdlog/logger.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/sinks/ostream_sink.h"

namespace okr {
namespace {

constexpr absl::string_view kDefaultService = "okr";

// Set while LogInfoDeferred logs, so that the stdout sink leaves the line in
// stdio's buffer.
thread_local bool t_deferred_line = false;

// stdout, flushed after every line but deferred ones. Those wait in stdio's
// buffer for the next flushed line or for the flusher thread, which looks
// every 100 ms; stdio's lock keeps lines whole and in order either way.
class StdoutSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::fwrite(formatted.data(), 1, formatted.size(), stdout);
    if (!t_deferred_line) {
      std::fflush(stdout);
      return;
    }
    pending_.store(true, std::memory_order_relaxed);
    std::call_once(flusher_started_, [] {
      // Detached and never stopped: the process's stdout outlives it.
      std::thread([] {
        for (;;) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          if (pending_.exchange(false, std::memory_order_relaxed)) std::fflush(stdout);
        }
      }).detach();
    });
  }
  void flush_() override { std::fflush(stdout); }

 private:
  static inline std::atomic<bool> pending_{false};
  static inline std::once_flag flusher_started_;
};

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes
// there are not one (overlong forms, surrogates and code points above
// U+10FFFF included).
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

std::string EscapeKey(absl::string_view key) {
  if (key == "ts" || key == "level" || key == "service" || key == "msg") {
    return JsonQuote(absl::StrCat("field.", key));
  }
  return JsonQuote(key);
}

// The body after the fixed prefix that the pattern writes: "msg":...,fields.
std::string FormatBody(absl::string_view msg, LogFields fields) {
  std::string out = absl::StrCat("\"msg\":", JsonQuote(msg));
  for (const LogField& field : fields) {
    absl::StrAppend(&out, ",", EscapeKey(field.key), ":", field.value.json());
  }
  return out;
}

// The fixed part of every line; spdlog fills in the time and level. '%' in
// the service name must be doubled to survive spdlog's pattern syntax.
std::string MakePattern(absl::string_view service) {
  return absl::StrCat(
      R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","service":)",
      absl::StrReplaceAll(JsonQuote(service), {{"%", "%%"}}), ",%v}");
}

class LoggerHolder {
 public:
  LoggerHolder() {
    Configure(kDefaultService, std::make_shared<StdoutSink>());
  }

  void Configure(absl::string_view service, spdlog::sink_ptr sink) {
    auto logger = std::make_shared<spdlog::logger>("okr", std::move(sink));
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        MakePattern(service), spdlog::pattern_time_type::utc, "\n"));
    absl::MutexLock lock(&mu_);
    logger->set_level(debug_ ? spdlog::level::debug : spdlog::level::info);
    logger_ = std::move(logger);
  }

  void SetDebug(bool enabled) {
    absl::MutexLock lock(&mu_);
    debug_ = enabled;
    logger_->set_level(enabled ? spdlog::level::debug : spdlog::level::info);
  }

  std::shared_ptr<spdlog::logger> Get() {
    absl::ReaderMutexLock lock(&mu_);
    return logger_;
  }

 private:
  absl::Mutex mu_;
  std::shared_ptr<spdlog::logger> logger_ ABSL_GUARDED_BY(mu_);
  bool debug_ ABSL_GUARDED_BY(mu_) = false;
};

// Never destroyed: gRPC threads may still log while the process exits.
LoggerHolder& Holder() {
  static LoggerHolder* holder = new LoggerHolder;
  return *holder;
}

void Log(spdlog::level::level_enum level, absl::string_view msg,
         LogFields fields) {
  std::shared_ptr<spdlog::logger> logger = Holder().Get();
  if (!logger->should_log(level)) return;
  std::string body = FormatBody(msg, fields);
  // Work done for a request (common/request_context.h) is tagged with its
  // id, unless the caller named one itself (the access log line).
  if (const std::string& request_id = CurrentRequestId(); !request_id.empty()) {
    bool named = false;
    for (const LogField& field : fields) named |= field.key == "request_id";
    if (!named) absl::StrAppend(&body, ",\"request_id\":", JsonQuote(request_id));
  }
  logger->log(level, spdlog::string_view_t(body.data(), body.size()));
}

// gRPC's internal diagnostics, which would otherwise go to stderr as text.
void GprLogToJson(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::info;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = spdlog::level::debug;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = spdlog::level::err;
  Log(level, args->message != nullptr ? args->message : "",
      {{"component", "grpc"},
       {"source", absl::StrCat(args->file != nullptr ? args->file : "?", ":",
                               args->line)}});
}

void InstallGrpcLogHook() { gpr_set_log_function(&GprLogToJson); }

}  // namespace

LogValue::LogValue(absl::string_view s) : json_(JsonQuote(s)) {}

LogValue::LogValue(double d) {
  if (std::isnan(d)) {
    json_ = "\"NaN\"";
  } else if (std::isinf(d)) {
    json_ = d > 0 ? "\"Inf\"" : "\"-Inf\"";
  } else {
    // %.17g round-trips every double and never produces a bare "." or "e".
    json_ = absl::StrFormat("%.17g", d);
  }
}

LogValue::LogValue(const absl::Status& status)
    : json_(JsonQuote(status.ToString())) {}

LogValue::LogValue(absl::Duration d)
    : json_(JsonQuote(absl::FormatDuration(d))) {}

std::string JsonQuote(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(s, i);
      if (len == 0) {
        out.append("\xEF\xBF\xBD");  // U+FFFD for one invalid byte
        ++i;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

void InitLogging(absl::string_view service) {
  Holder().Configure(service, std::make_shared<StdoutSink>());
  InstallGrpcLogHook();
}

void InitLogging(absl::string_view service, std::ostream& out) {
  Holder().Configure(service, std::make_shared<spdlog::sinks::ostream_sink_mt>(
                                  out, /*force_flush=*/true));
  InstallGrpcLogHook();
}

void SetDebugLogging(bool enabled) { Holder().SetDebug(enabled); }

void LogDebug(absl::string_view msg, LogFields fields) {
  Log(spdlog::level::debug, msg, fields);
}
void LogInfo(absl::string_view msg, LogFields fields) {
  Log(spdlog::level::info, msg, fields);
}
void LogInfoDeferred(absl::string_view msg, LogFields fields) {
  t_deferred_line = true;
  Log(spdlog::level::info, msg, fields);
  t_deferred_line = false;
}
void LogWarn(absl::string_view msg, LogFields fields) {
  Log(spdlog::level::warn, msg, fields);
}
void LogError(absl::string_view msg, LogFields fields) {
  Log(spdlog::level::err, msg, fields);
}

}  // namespace okr
