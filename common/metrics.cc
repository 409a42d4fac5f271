#include "common/metrics.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <unistd.h>

#include <grpcpp/support/server_interceptor.h>
#include <httplib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/request_context.h"

ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT to serve Prometheus metrics on at /metrics (port 0: a free one). Empty: "
          "no metrics endpoint.");

namespace okr {
namespace metrics {
namespace {

// A definition error is a bug every run of the program would hit at once;
// there is no caller that could handle it.
[[noreturn]] void Fatal(absl::string_view what) {
  LogError("metrics: invalid definition", {{"error", what}});
  std::fprintf(stderr, "metrics: invalid definition: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

bool ValidMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool ValidLabelName(absl::string_view name) {
  if (name.empty() || absl::StartsWith(name, "__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// HELP text escapes only backslash and newline (the format's rule).
std::string EscapeHelp(absl::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void AppendHeader(const FamilyBase& family, std::string& out) {
  absl::StrAppend(&out, "# HELP ", family.name(), " ", EscapeHelp(family.help()), "\n",
                  "# TYPE ", family.name(), " ", family.type(), "\n");
}

}  // namespace

// --- values ------------------------------------------------------------------

void Counter::Increment(double amount) {
  if (!(amount >= 0)) return;  // negative or NaN
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(*bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  // The first bound >= value; `le` is inclusive. NaN lands in +Inf.
  const size_t index =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.cumulative.reserve(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(total);
  }
  snapshot.count = total;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

const std::vector<double>& DefaultLatencyBuckets() {
  static const std::vector<double>* const kBuckets = new std::vector<double>{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *kBuckets;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  // Plain decimals where they are readable (le="0.0005", not "5e-04", is
  // what people type into queries), the shortest round-trip form either way.
  const double magnitude = std::fabs(value);
  const std::to_chars_result result =
      magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e15)
          ? std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed)
          : std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// --- families ----------------------------------------------------------------

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

std::string FamilyBase::LabelText(const std::vector<std::string>& values,
                                  absl::string_view extra) const {
  if (values.empty() && extra.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ",";
    absl::StrAppend(&out, label_names_[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, values.empty() ? "" : ",", extra);
  out += "}";
  return out;
}

void FamilyBase::CheckArity(size_t values) const {
  if (values != label_names_.size()) {
    Fatal(absl::StrCat(name_, ": ", values, " label values for ", label_names_.size(),
                       " label names"));
  }
}

template <class Metric>
Metric& Family<Metric>::WithLabels(absl::Span<const absl::string_view> values) {
  CheckArity(values.size());
  std::vector<std::string> key(values.begin(), values.end());
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Metric>& child = children_[std::move(key)];
  if (child == nullptr) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      child = std::make_unique<Histogram>(&bounds_);
    } else {
      child = std::make_unique<Metric>();
    }
  }
  return *child;
}

template <>
absl::string_view Family<Counter>::type() const {
  return "counter";
}
template <>
absl::string_view Family<Gauge>::type() const {
  return "gauge";
}
template <>
absl::string_view Family<Histogram>::type() const {
  return "histogram";
}

template <class Metric>
void Family<Metric>::Expose(std::string& out) const {
  AppendHeader(*this, out);
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      const Histogram::Snapshot snapshot = child->Read();
      for (size_t i = 0; i < snapshot.cumulative.size(); ++i) {
        const std::string le =
            i < bounds_.size() ? FormatValue(bounds_[i]) : std::string("+Inf");
        absl::StrAppend(&out, name(), "_bucket", LabelText(values, absl::StrCat("le=\"", le, "\"")),
                        " ", snapshot.cumulative[i], "\n");
      }
      absl::StrAppend(&out, name(), "_sum", LabelText(values, ""), " ", FormatValue(snapshot.sum),
                      "\n");
      absl::StrAppend(&out, name(), "_count", LabelText(values, ""), " ", snapshot.count, "\n");
    } else {
      absl::StrAppend(&out, name(), LabelText(values, ""), " ", FormatValue(child->Value()),
                      "\n");
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- registry ----------------------------------------------------------------

FamilyBase& Registry::GetOrAdd(absl::string_view name, absl::string_view help,
                               std::initializer_list<absl::string_view> label_names,
                               absl::string_view type, const std::vector<double>* bounds) {
  if (!ValidMetricName(name)) Fatal(absl::StrCat("metric name '", name, "' is not valid"));
  std::vector<std::string> labels;
  for (absl::string_view label : label_names) {
    if (!ValidLabelName(label) || (bounds != nullptr && label == "le")) {
      Fatal(absl::StrCat(name, ": label name '", label, "' is not valid"));
    }
    if (std::find(labels.begin(), labels.end(), label) != labels.end()) {
      Fatal(absl::StrCat(name, ": label name '", label, "' repeated"));
    }
    labels.emplace_back(label);
  }
  if (bounds != nullptr) {
    for (size_t i = 0; i < bounds->size(); ++i) {
      if (std::isnan((*bounds)[i]) || (i > 0 && (*bounds)[i - 1] >= (*bounds)[i])) {
        Fatal(absl::StrCat(name, ": bucket bounds must be strictly ascending"));
      }
    }
  }
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    FamilyBase& existing = *it->second;
    bool same = existing.type() == type && existing.label_names() == labels;
    if (same && bounds != nullptr) {
      same = static_cast<HistogramFamily&>(existing).bounds() == *bounds;
    }
    if (!same) Fatal(absl::StrCat(name, ": defined twice with different types, labels or bounds"));
    return existing;
  }
  std::unique_ptr<FamilyBase> family;
  if (type == "counter") {
    family = std::make_unique<CounterFamily>(std::string(name), std::string(help), labels);
  } else if (type == "gauge") {
    family = std::make_unique<GaugeFamily>(std::string(name), std::string(help), labels);
  } else {
    family = std::make_unique<HistogramFamily>(std::string(name), std::string(help), labels,
                                               *bounds);
  }
  FamilyBase& result = *family;
  families_.emplace(std::string(name), std::move(family));
  return result;
}

CounterFamily& Registry::AddCounter(absl::string_view name, absl::string_view help,
                                    std::initializer_list<absl::string_view> label_names) {
  return static_cast<CounterFamily&>(GetOrAdd(name, help, label_names, "counter", nullptr));
}

GaugeFamily& Registry::AddGauge(absl::string_view name, absl::string_view help,
                                std::initializer_list<absl::string_view> label_names) {
  return static_cast<GaugeFamily&>(GetOrAdd(name, help, label_names, "gauge", nullptr));
}

HistogramFamily& Registry::AddHistogram(absl::string_view name, absl::string_view help,
                                        std::initializer_list<absl::string_view> label_names,
                                        const std::vector<double>& bounds) {
  return static_cast<HistogramFamily&>(GetOrAdd(name, help, label_names, "histogram", &bounds));
}

std::string Registry::Expose() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, family] : families_) family->Expose(out);
  return out;
}

Registry& Default() {
  static Registry* const registry = new Registry;
  return *registry;
}

// --- store operations ----------------------------------------------------------

StoreOperation::StoreOperation(absl::string_view service, absl::string_view operation)
    : service_(service),
      operation_(operation),
      duration_(Default()
                    .AddHistogram("okr_store_duration_seconds",
                                  "Store calls by service and operation, failed ones included.",
                                  {"service", "operation"})
                    .WithLabels({service, operation})),
      errors_(Default().AddCounter("okr_store_errors_total",
                                   "Store calls that failed, by service, operation and code.",
                                   {"service", "operation", "code"})) {}

void StoreOperation::Record(std::chrono::steady_clock::time_point start,
                            const absl::Status& status) {
  duration_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!status.ok()) {
    // Rare, so the child is looked up each time rather than kept per code.
    errors_.WithLabels({service_, operation_, absl::StatusCodeToString(status.code())})
        .Increment();
  }
}

// --- process metrics ---------------------------------------------------------

namespace {

void AppendProcessMetric(std::string& out, absl::string_view name, absl::string_view type,
                         absl::string_view help, double value) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ",
                  FormatValue(value), "\n");
}

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Seconds since the epoch at which the machine booted ("btime" of
// /proc/stat), or nullopt.
std::optional<int64_t> BootTime() {
  const std::string stat = ReadFile("/proc/stat");
  for (absl::string_view line : absl::StrSplit(stat, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      int64_t value = 0;
      if (absl::SimpleAtoi(line, &value)) return value;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string ExposeProcessMetrics() {
  std::string out;
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  // /proc/self/stat: "pid (comm) state ppid ..."; comm may hold spaces and
  // parentheses, so the fields are counted from the last ')'. After it come
  // field 3 (state) onwards: utime is field 14, stime 15, starttime 22,
  // vsize 23, rss 24.
  const std::string stat = ReadFile("/proc/self/stat");
  const size_t close = stat.rfind(')');
  if (close != std::string::npos && ticks > 0) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ', absl::SkipEmpty());
    const auto field = [&](size_t number) -> std::optional<double> {
      const size_t index = number - 3;
      double value = 0;
      if (index >= fields.size() || !absl::SimpleAtod(fields[index], &value)) return std::nullopt;
      return value;
    };
    const std::optional<double> utime = field(14), stime = field(15), start = field(22),
                                vsize = field(23), rss = field(24);
    if (utime && stime) {
      AppendProcessMetric(out, "process_cpu_seconds_total", "counter",
                          "Total user and system CPU time spent in seconds.",
                          (*utime + *stime) / static_cast<double>(ticks));
    }
    if (rss && page > 0) {
      AppendProcessMetric(out, "process_resident_memory_bytes", "gauge",
                          "Resident memory size in bytes.", *rss * static_cast<double>(page));
    }
    if (const std::optional<int64_t> boot = BootTime(); start && boot) {
      AppendProcessMetric(out, "process_start_time_seconds", "gauge",
                          "Start time of the process since unix epoch in seconds.",
                          static_cast<double>(*boot) + *start / static_cast<double>(ticks));
    }
    if (vsize) {
      AppendProcessMetric(out, "process_virtual_memory_bytes", "gauge",
                          "Virtual memory size in bytes.", *vsize);
    }
  }
  if (DIR* dir = opendir("/proc/self/fd"); dir != nullptr) {
    int64_t count = 0;
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
    // The directory stream's own descriptor was among them.
    AppendProcessMetric(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                        static_cast<double>(count - 1));
  }
  if (rlimit limit; getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    AppendProcessMetric(out, "process_max_fds", "gauge",
                        "Maximum number of open file descriptors.",
                        static_cast<double>(limit.rlim_cur));
  }
  return out;
}

}  // namespace metrics

// --- /metrics over HTTP ------------------------------------------------------

namespace {

class HttpMetricsServer final : public MetricsServer {
 public:
  HttpMetricsServer() {
    // httplib sets SO_REUSEPORT, with which a second process could bind the
    // same port and silently take half the scrapes (the gRPC servers turn it
    // off for the same reason); SO_REUSEADDR alone still allows a quick
    // restart.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    server_.Get("/metrics", [](const httplib::Request&, httplib::Response& response) {
      std::string body = metrics::Default().Expose();
      body += metrics::ExposeProcessMetrics();
      response.set_content(body, "text/plain; version=0.0.4; charset=utf-8");
    });
  }
  ~HttpMetricsServer() override { Stop(); }

  absl::Status Bind(const std::string& host, int port) {
    if (port == 0) {
      port_ = server_.bind_to_any_port(host);
      if (port_ <= 0) {
        return absl::UnavailableError(absl::StrCat("cannot bind a free port on ", host));
      }
    } else {
      if (!server_.bind_to_port(host, port)) {
        return absl::UnavailableError(
            absl::StrCat("cannot bind ", host, ":", port, " (taken, or not an address here)"));
      }
      port_ = port;
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    return absl::OkStatus();
  }

  int port() const override { return port_; }

  void Stop() override {
    absl::MutexLock lock(&stop_mu_);
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  absl::Mutex stop_mu_;
  std::thread thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(absl::string_view listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected HOST:PORT (port 0: a free one), got '", listen, "'"));
  }
  absl::string_view host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto server = std::make_unique<HttpMetricsServer>();
  if (absl::Status bound = server->Bind(std::string(host), port); !bound.ok()) return bound;
  return server;
}

// --- the RPC interceptor -----------------------------------------------------

bool IsServerError(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DATA_LOSS:
      return true;
    default:
      return false;
  }
}

namespace {

constexpr int kCodeCount = 17;  // OK .. UNAUTHENTICATED

absl::string_view CodeName(int code) {
  static constexpr absl::string_view kNames[kCodeCount] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED"};
  return code >= 0 && code < kCodeCount ? kNames[code] : "UNKNOWN";
}

// Method names become label values; a client calling made-up methods must not
// grow the registry without bound, so past this many they share one label.
constexpr size_t kMaxMethods = 256;
constexpr absl::string_view kOtherMethod = "other";

// One method's children, resolved once; the per-code ones on first use.
struct MethodMetrics {
  std::string label;  // the method's name, or kOtherMethod past kMaxMethods
  metrics::Gauge* in_flight = nullptr;
  std::array<std::atomic<metrics::Counter*>, kCodeCount> requests{};
  std::array<std::atomic<metrics::Histogram*>, kCodeCount> durations{};
};

// The families and the per-method table of one server (one `service`).
class RpcMetrics {
 public:
  explicit RpcMetrics(std::string service)
      : service_(std::move(service)),
        requests_(metrics::Default().AddCounter(
            "okr_rpc_requests_total", "RPCs finished, by service, method and status code.",
            {"service", "method", "code"})),
        durations_(metrics::Default().AddHistogram(
            "okr_rpc_duration_seconds",
            "Time from receiving an RPC to sending its status, by service, method and code.",
            {"service", "method", "code"})),
        in_flight_(metrics::Default().AddGauge(
            "okr_rpc_in_flight", "RPCs received and not finished yet, by service and method.",
            {"service", "method"})) {}

  MethodMetrics& For(absl::string_view method) {
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = methods_.find(method);
      if (it != methods_.end()) return *it->second;
    }
    absl::MutexLock lock(&mu_);
    if (methods_.size() >= kMaxMethods && !methods_.contains(method)) method = kOtherMethod;
    std::unique_ptr<MethodMetrics>& entry = methods_[method];
    if (entry == nullptr) {
      entry = std::make_unique<MethodMetrics>();
      entry->label = std::string(method);
      entry->in_flight = &in_flight_.WithLabels({service_, method});
    }
    return *entry;
  }

  void Finish(MethodMetrics& method, int code, double seconds) {
    if (code < 0 || code >= kCodeCount) code = static_cast<int>(grpc::StatusCode::UNKNOWN);
    // Two calls may resolve the same child at once; both get the same one.
    metrics::Counter* requests = method.requests[code].load(std::memory_order_acquire);
    if (requests == nullptr) {
      requests = &requests_.WithLabels({service_, method.label, CodeName(code)});
      method.requests[code].store(requests, std::memory_order_release);
    }
    metrics::Histogram* duration = method.durations[code].load(std::memory_order_acquire);
    if (duration == nullptr) {
      duration = &durations_.WithLabels({service_, method.label, CodeName(code)});
      method.durations[code].store(duration, std::memory_order_release);
    }
    requests->Increment();
    duration->Observe(seconds);
  }

 private:
  const std::string service_;
  metrics::CounterFamily& requests_;
  metrics::HistogramFamily& durations_;
  metrics::GaugeFamily& in_flight_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodMetrics>> methods_ ABSL_GUARDED_BY(mu_);
};

class RpcInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(RpcMetrics* rpc_metrics, grpc::experimental::ServerRpcInfo* info)
      : rpc_metrics_(rpc_metrics),
        info_(info),
        method_name_(info->method() != nullptr ? info->method() : ""),
        method_(rpc_metrics->For(method_name_)),
        start_(std::chrono::steady_clock::now()) {
    method_.in_flight->Increment();
  }

  ~RpcInterceptor() override {
    // A call that ended without its status being sent (the client went
    // away first) is counted as CANCELLED.
    // The server context is being destroyed by now: no peer.
    if (!finished_) Finish(static_cast<int>(grpc::StatusCode::CANCELLED), "", false);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      TakeRequestId(methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        !finished_) {
      const grpc::Status status = methods->GetSendStatus();
      Finish(static_cast<int>(status.error_code()), status.error_message(), true);
    }
    methods->Proceed();
  }

 private:
  // The caller's id when it is fit to log, else a new one, written back so
  // that the handler (RunUnary) reads the same id from its context.
  void TakeRequestId(std::multimap<grpc::string_ref, grpc::string_ref>* metadata) {
    if (metadata == nullptr) return;
    const grpc::string_ref key(kRequestIdKey.data(), kRequestIdKey.size());
    auto it = metadata->find(key);
    if (it != metadata->end()) {
      const absl::string_view given(it->second.data(), it->second.size());
      if (IsValidRequestId(given)) {
        request_id_ = std::string(given);
        return;
      }
      metadata->erase(key);
    }
    request_id_ = NewRequestId();
    // The map holds references: the key is static, the value lives in this
    // interceptor, which lives as long as the call.
    metadata->emplace(key, grpc::string_ref(request_id_.data(), request_id_.size()));
  }

  void Finish(int code, absl::string_view message, bool context_alive) {
    finished_ = true;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    method_.in_flight->Decrement();
    rpc_metrics_->Finish(method_, code, seconds);

    const auto status_code = static_cast<grpc::StatusCode>(code);
    const bool server_error = IsServerError(status_code);
    if (status_code == grpc::StatusCode::OK &&
        absl::StartsWith(method_name_, "/grpc.health.v1.Health/")) {
      return;
    }
    std::string peer;
    if (context_alive && info_->server_context() != nullptr) {
      peer = info_->server_context()->peer();
    }
    if (server_error) {
      LogWarn("rpc", {{"method", method_name_},
                      {"code", CodeName(code)},
                      {"duration_ms", seconds * 1000},
                      {"request_id", request_id_},
                      {"peer", peer},
                      {"error", message}});
    } else {
      LogInfoDeferred("rpc", {{"method", method_name_},
                      {"code", CodeName(code)},
                      {"duration_ms", seconds * 1000},
                      {"request_id", request_id_},
                      {"peer", peer}});
    }
  }

  RpcMetrics* const rpc_metrics_;
  grpc::experimental::ServerRpcInfo* const info_;
  const std::string method_name_;
  MethodMetrics& method_;
  const std::chrono::steady_clock::time_point start_;
  std::string request_id_;
  bool finished_ = false;
};

class RpcInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcInterceptorFactory(std::string service) : metrics_(std::move(service)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcInterceptor(&metrics_, info);
  }

 private:
  RpcMetrics metrics_;
};

}  // namespace

void InstallServerMetrics(grpc::ServerBuilder& builder, absl::string_view service) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<RpcInterceptorFactory>(std::string(service)));
  builder.experimental().SetInterceptorCreators(std::move(factories));
}

std::string MetricsListenFromFlags() { return absl::GetFlag(FLAGS_metrics_listen); }

}  // namespace okr
