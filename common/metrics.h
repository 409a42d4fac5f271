// Prometheus metrics: a process-wide registry of counters, gauges and
// histograms with labels, the text exposition format (0.0.4) served at
// /metrics on --metrics_listen, and a gRPC server interceptor that counts
// every RPC and observes its latency by method and status code.
//
// There is no Prometheus client library in Debian, so this is a small one.
// Library code defines its families where it uses them, against the process
// registry, and keeps the labelled children it needs:
//
//   static metrics::Counter& hits = *metrics::Default()
//       .AddCounter("okr_cache_requests_total", "Rollup cache reads by result.", {"result"})
//       .WithLabels({"hit"});
//   hits.Increment();
//
// A child is looked up (under the family's mutex) once and kept; updating it
// is one atomic operation, so the hot path takes no lock. Children are never
// removed, so a reference stays valid for the life of the registry (the
// default one is never destroyed).
//
// The RPC interceptor (InstallServerMetrics) also owns the server side of the
// request id (common/request_context.h): it takes "x-request-id" from the
// call's metadata or makes one, makes it visible to the handler, and writes
// one JSON access log line per RPC.
#ifndef OKR_COMMON_METRICS_H_
#define OKR_COMMON_METRICS_H_

#include <grpcpp/server_builder.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace okr {
namespace metrics {

// A value that only goes up (requests, errors). Thread-safe.
class Counter {
 public:
  // Adds `amount`; a negative or NaN amount is ignored (a counter never
  // goes down, and Prometheus would read a decrease as a restart).
  void Increment(double amount = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down (calls in flight, queue length). Thread-safe.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Increment() { Add(1); }
  void Decrement() { Add(-1); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, sorted, +Inf
// implied), with their sum and count. Thread-safe; Observe is lock-free.
class Histogram {
 public:
  // `bounds` must be sorted ascending and outlive the histogram (the
  // family owns them).
  explicit Histogram(const std::vector<double>* bounds);

  void Observe(double value);

  // Cumulative counts per bound (the last element is +Inf, equal to count),
  // read bucket by bucket while observations may go on.
  struct Snapshot {
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double>& bounds_;
  // bounds_.size() + 1 buckets, not cumulative; the last one is +Inf.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 0.5 ms to 10 s: a store call on SQLite is
// sub-millisecond, a catch-up against planning tens of milliseconds, and
// anything above the default 2 s call timeout is an outage.
const std::vector<double>& DefaultLatencyBuckets();

// What every family shares: name, help, type and label names. Exposes its
// children in label-value order.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // "counter", "gauge" or "histogram".
  virtual absl::string_view type() const = 0;
  // Appends the family's HELP, TYPE and sample lines.
  virtual void Expose(std::string& out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names);

  // The labels part `{a="x",b="y"}` of a sample line for `values`, plus
  // `extra` (e.g. le="0.5") when not empty; "" when there are no labels.
  std::string LabelText(const std::vector<std::string>& values, absl::string_view extra) const;
  // Aborts (a programming error) unless values.size() == label_names().size().
  void CheckArity(size_t values) const;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

// The children of one metric family, one per combination of label values.
template <class Metric>
class Family final : public FamilyBase {
 public:
  // The child for `values` (one per label name, in order), created at zero
  // on first use. Look it up once and keep the reference: this takes the
  // family's mutex. Aborts when the number of values is wrong.
  Metric& WithLabels(std::initializer_list<absl::string_view> values) {
    return WithLabels(absl::MakeConstSpan(values.begin(), values.size()));
  }
  Metric& WithLabels(absl::Span<const absl::string_view> values);

  absl::string_view type() const override;
  void Expose(std::string& out) const override;

  // For the registry only.
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), std::move(label_names)),
        bounds_(std::move(bounds)) {}
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;  // histograms only
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// A set of families by name. Thread-safe.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Get-or-create: the family `name`, created on first use. Asking again
  // with the same type, label names (and bounds) returns the same family, so
  // two places may define it; a conflicting definition, an invalid metric or
  // label name, or unsorted bounds abort the process (a programming error
  // that every test run would hit).
  CounterFamily& AddCounter(absl::string_view name, absl::string_view help,
                            std::initializer_list<absl::string_view> label_names);
  GaugeFamily& AddGauge(absl::string_view name, absl::string_view help,
                        std::initializer_list<absl::string_view> label_names);
  HistogramFamily& AddHistogram(absl::string_view name, absl::string_view help,
                                std::initializer_list<absl::string_view> label_names,
                                const std::vector<double>& bounds = DefaultLatencyBuckets());

  // Every family in the text exposition format 0.0.4, families sorted by
  // name, children by label values. Families without children show only
  // their HELP and TYPE lines.
  std::string Expose() const;

 private:
  FamilyBase& GetOrAdd(absl::string_view name, absl::string_view help,
                       std::initializer_list<absl::string_view> label_names,
                       absl::string_view type, const std::vector<double>* bounds);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_ ABSL_GUARDED_BY(mu_);
};

// The process-wide registry that /metrics serves; never destroyed.
Registry& Default();

// The process_* metrics of this process read from /proc/self at the time of
// the call (resident and virtual memory, CPU seconds, start time, open and
// maximum file descriptors), in the exposition format. A value /proc does not
// give is left out rather than reported as 0.
std::string ExposeProcessMetrics();

// A metric or label value as the exposition format writes it: shortest
// round-trip decimal, "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);

// `value` with backslash, double quote and newline escaped, for a label
// value in the exposition format.
std::string EscapeLabelValue(absl::string_view value);

// Times one store operation, so that SQLite and PostgreSQL are measured
// alike by a decorator around the store interface:
// okr_store_duration_seconds{service,operation} for every call and
// okr_store_errors_total{service,operation,code} for each failed one.
// Construct once per operation and keep; Measure is lock-free on success.
class StoreOperation {
 public:
  StoreOperation(absl::string_view service, absl::string_view operation);

  // Runs `fn` (returning absl::Status or absl::StatusOr<T>), records its
  // duration and any error, and returns its result.
  template <class Fn>
  auto Measure(Fn&& fn) -> decltype(fn()) {
    const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    auto result = fn();
    Record(start, StatusOf(result));
    return result;
  }

 private:
  static const absl::Status& StatusOf(const absl::Status& status) { return status; }
  template <class T>
  static const absl::Status& StatusOf(const absl::StatusOr<T>& result) {
    return result.status();
  }
  void Record(std::chrono::steady_clock::time_point start, const absl::Status& status);

  const std::string service_;
  const std::string operation_;
  Histogram& duration_;
  CounterFamily& errors_;
};

}  // namespace metrics

// The HTTP endpoint serving the default registry plus the process metrics
// at GET /metrics (anything else is 404).
class MetricsServer {
 public:
  virtual ~MetricsServer() = default;
  // Starts serving on "HOST:PORT" ("[::1]:PORT" for IPv6; port 0: a free
  // one). INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(absl::string_view listen);
  // The bound port.
  virtual int port() const = 0;
  // Stops serving and joins the server thread. Idempotent; the destructor
  // calls it.
  virtual void Stop() = 0;
};

// Adds the RPC metrics interceptor to a server being built. For every call:
// okr_rpc_requests_total{service,method,code} and
// okr_rpc_duration_seconds{service,method,code} when it ends,
// okr_rpc_in_flight{service,method} while it runs, where `method` is the
// full gRPC method name ("/okr.v1.TrackingService/RecordCheckIn") and `code`
// the status code's name ("OK", "NOT_FOUND"). It also gives the call its
// request id (x-request-id from the metadata, or a new one, put back into
// the metadata the handler sees) and logs one JSON access line per call
// (method, code, duration_ms, request_id, peer): INFO, or WARN for the codes
// that mean the server failed (see IsServerError); OK health checks are not
// logged (probes would drown the log).
void InstallServerMetrics(grpc::ServerBuilder& builder, absl::string_view service);

// True for the status codes that mean the server, not the caller, failed:
// UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNIMPLEMENTED, INTERNAL,
// UNAVAILABLE, DATA_LOSS.
bool IsServerError(grpc::StatusCode code);

// --metrics_listen; empty means no metrics endpoint.
std::string MetricsListenFromFlags();

inline constexpr const char* kMetricsFlagNames[] = {"metrics_listen"};

}  // namespace okr

#endif  // OKR_COMMON_METRICS_H_
