#include "tests/bench/driver/bench_runner.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "common/health_client.h"
#include "common/model.h"
#include "common/model_proto.h"
#include "common/status_macros.h"
#include "okr/v1/notify.grpc.pb.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "tests/bench/load/load_generator.h"
#include "tests/bench/org/org_generator.h"
#include "tests/support/service_process.h"
#include "tests/support/test_support.h"

namespace okr::bench {
namespace {

using Metadata = std::vector<std::pair<std::string, std::string>>;

constexpr char kEmptyMethod[] = "/okr.bench.v1.BenchService/Empty";
constexpr char kPoolEmptyMethod[] = "/okr.bench.v1.BenchService/PoolEmpty";
constexpr char kRecordCheckIn[] = "/okr.v1.TrackingService/RecordCheckIn";
constexpr char kGetObjectiveScore[] = "/okr.v1.TrackingService/GetObjectiveScore";
constexpr char kGetKeyResultScore[] = "/okr.v1.TrackingService/GetKeyResultScore";
constexpr char kGetScoredTree[] = "/okr.v1.TrackingService/GetScoredTree";
// The organisation metadata of the empty RPCs (PoolEmpty requires one with
// --auth=false; Empty gets the same so that both carry what real calls do).
constexpr char kBenchOrg[] = "bench-baseline";
// Key results sampled by the "nothing lost" check of a large organisation.
constexpr size_t kVerifySample = 2000;
constexpr absl::Duration kCallTimeout = absl::Seconds(120);

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// VmRSS of a process, in bytes.
absl::StatusOr<int64_t> ReadRssBytes(pid_t pid) {
  const std::string status = ReadFileToString(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    int64_t kb = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kb)) return kb * 1024;
  }
  return absl::InternalError(absl::StrCat("no VmRSS in /proc/", pid, "/status"));
}

// User + system CPU time of process `pid` so far (all its threads), from
// /proc/PID/stat; zero when it cannot be read (the process is gone).
absl::Duration ReadCpuTime(pid_t pid) {
  const std::string stat = ReadFileToString(absl::StrCat("/proc/", pid, "/stat"));
  // The command name (field 2) is in parentheses and may hold spaces.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return absl::ZeroDuration();
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(close + 1), ' ', absl::SkipEmpty());
  // After the name: state is field 3, utime field 14, stime field 15.
  int64_t utime = 0;
  int64_t stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::ZeroDuration();
  }
  static const long ticks = sysconf(_SC_CLK_TCK);
  return absl::Seconds(static_cast<double>(utime + stime) / static_cast<double>(ticks));
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view view = line;
    if (absl::ConsumePrefix(&view, "model name")) {
      const size_t colon = view.find(':');
      if (colon != absl::string_view::npos) {
        return std::string(absl::StripAsciiWhitespace(view.substr(colon + 1)));
      }
    }
  }
  return "unknown";
}

// Runs one unary call with a deadline and the organisation metadata.
template <typename Fn>
absl::Status CallFor(const std::string& org, Fn fn, absl::Duration timeout = kCallTimeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context.AddMetadata("okr-organisation-id", org);
  return ToAbslStatus(fn(&context));
}

// No receive limit: the scored tree of a 10,000-objective cycle is about
// 13 MB, beyond gRPC's 4 MiB default.
std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// A source cycling over pre-serialized requests (request i -> i mod n).
RequestSource RoundRobin(std::vector<std::string> requests) {
  auto shared = std::make_shared<const std::vector<std::string>>(std::move(requests));
  return [shared](uint64_t index) { return (*shared)[index % shared->size()]; };
}

// A generated organisation loaded into planning, with the bookkeeping of the
// check-ins sent to it: how many went to each key result, so that the store
// can be checked to hold every one.
struct Org {
  std::string name;
  okr::Plan plan;
  LoadedOrg loaded;
  absl::flat_hash_map<std::string, size_t> kr_index;  // ref -> position in plan order
  absl::flat_hash_map<std::string, std::string> kr_owner;  // ref -> owner ref
  std::unique_ptr<std::atomic<uint32_t>[]> sent_per_kr;
  uint64_t next_index = 0;  // position in GenerateCheckIn's stream
  uint64_t sent = 0;

  const std::string& id() const { return loaded.organisation_id; }
  Metadata metadata() const { return {{"okr-organisation-id", loaded.organisation_id}}; }
};

// Check-ins from GenerateCheckIn continuing the organisation's stream, with a
// client key unique in the organisation. Counts each request per key result.
class CheckInStream {
 public:
  explicit CheckInStream(Org* org) : org_(org), base_(org->next_index) {}
  CheckInStream(const CheckInStream&) = delete;
  CheckInStream& operator=(const CheckInStream&) = delete;
  // Moves the organisation's stream past what this one handed out.
  ~CheckInStream() {
    org_->next_index = base_ + used_.load();
    org_->sent += calls_.load();
  }

  RequestSource Source() {
    return [this](uint64_t index) { return Request(index); };
  }

 private:
  std::string Request(uint64_t index) {
    const uint64_t global = base_ + index;
    uint64_t seen = used_.load(std::memory_order_relaxed);
    while (index + 1 > seen && !used_.compare_exchange_weak(seen, index + 1)) {
    }
    calls_.fetch_add(1, std::memory_order_relaxed);
    const CheckIn check_in = GenerateCheckIn(org_->plan, global);
    const size_t kr = org_->kr_index.at(check_in.key_result_id);
    org_->sent_per_kr[kr].fetch_add(1, std::memory_order_relaxed);
    v1::RecordCheckInRequest request;
    request.set_key_result_id(org_->loaded.key_result_ids[kr]);
    request.set_client_key(absl::StrCat("bench-", global));
    if (check_in.value.has_value()) request.set_value(*check_in.value);
    if (check_in.done.has_value()) request.set_done(*check_in.done);
    if (check_in.confidence.has_value()) request.set_confidence(*check_in.confidence);
    request.set_status(ToProto(check_in.status));
    request.set_note(check_in.note);
    std::string author = check_in.author_id;
    if (author.empty()) author = org_->kr_owner.at(check_in.key_result_id);
    auto real = org_->loaded.ids.find(author);
    request.set_author_id(real != org_->loaded.ids.end() ? real->second : author);
    *request.mutable_time() = ToProto(check_in.time);
    return request.SerializeAsString();
  }

  Org* const org_;
  const uint64_t base_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> calls_{0};
};

// The figures of one load point that the table uses.
struct Point {
  double qps = 0;
  double p50 = 0;  // seconds
  double p99 = 0;
  double p999 = 0;
  uint64_t calls = 0;
};

Point PointOf(const LoadResult& result) {
  return {result.qps, Seconds(result.latency.Percentile(50)),
          Seconds(result.latency.Percentile(99)), Seconds(result.latency.Percentile(99.9)),
          result.calls};
}

class Runner {
 public:
  Runner(const BenchConfig& config, BenchOutcome* out) : config_(config), out_(out) {}

  absl::Status Run() {
    OKR_RETURN_IF_ERROR(PrepareWorkDir());
    OKR_RETURN_IF_ERROR(Phase("start services", [&] { return StartServices(); }));
    if (Selected("start")) {
      OKR_RETURN_IF_ERROR(Phase("start: spawn to SERVING", [&] { return StartToServing(); }));
    }
    OKR_RETURN_IF_ERROR(Phase("baseline", [&] { return Baseline(); }));
    if (NeedsLargeOrg()) {
      OKR_RETURN_IF_ERROR(Phase("load: large organisation", [&] { return LoadLarge(); }));
      OKR_RETURN_IF_ERROR(Phase("load: check-ins", [&] { return LoadLargeCheckIns(); }));
    }
    if (Selected("cached_read")) {
      OKR_RETURN_IF_ERROR(Phase("cached_read", [&] { return CachedRead(); }));
    }
    if (Selected("check_in")) {
      OKR_RETURN_IF_ERROR(Phase("check_in", [&] { return DurableCheckIn(); }));
    }
    if (Selected("check_in_scale")) {
      OKR_RETURN_IF_ERROR(Phase("check_in_scale", [&] { return CheckInScale(); }));
    }
    if (Selected("tree")) {
      OKR_RETURN_IF_ERROR(Phase("tree", [&] { return ScoredTree(); }));
    }
    if (Selected("rebuild")) {
      OKR_RETURN_IF_ERROR(Phase("rebuild", [&] { return Rebuild(); }));
    }
    if (Selected("reminders")) {
      OKR_RETURN_IF_ERROR(Phase("reminders", [&] { return Reminders(); }));
    }
    if (Selected("memory")) {
      OKR_RETURN_IF_ERROR(Phase("memory", [&] { return Memory(); }));
    }
    return absl::OkStatus();
  }

 private:
  // --- Plumbing ----------------------------------------------------------------------

  bool Selected(absl::string_view scenario) const {
    return config_.scenarios.empty() || config_.scenarios.contains(std::string(scenario));
  }
  bool NeedsLargeOrg() const {
    for (absl::string_view s :
         {"load", "cached_read", "check_in", "check_in_scale", "rebuild", "reminders", "memory"}) {
      if (Selected(s)) return true;
    }
    return false;
  }

  template <typename Fn>
  absl::Status Phase(absl::string_view name, Fn fn) {
    Log(absl::StrCat("phase ", name, " ..."));
    const absl::Time start = absl::Now();
    absl::Status status = fn();
    const absl::Duration took = absl::Now() - start;
    out_->phases.emplace_back(std::string(name), took);
    Log(absl::StrFormat("phase %s: %.1f s%s", name, Seconds(took),
                        status.ok() ? "" : absl::StrCat(" (", status.ToString(), ")")));
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat(name, ": ", status.message()));
    }
    return status;
  }

  static void Log(absl::string_view message) {
    std::cerr << "[okr-bench " << absl::FormatTime("%H:%M:%S", absl::Now(), absl::UTCTimeZone())
              << "] " << message << std::endl;
  }

  void Fail(absl::string_view scenario, absl::string_view message) {
    std::string failure = absl::StrCat(scenario, ": ", message);
    Log(absl::StrCat("FAILED ", failure));
    out_->failures.push_back(std::move(failure));
  }

  void Add(Row row) { out_->rows.push_back(std::move(row)); }

  std::string File(absl::string_view name) const { return absl::StrCat(work_dir_, "/", name); }

  absl::Status PrepareWorkDir() {
    namespace fs = std::filesystem;
    if (config_.work_dir.empty()) {
      temp_.emplace("okr-bench");
      work_dir_ = temp_->path();
    } else {
      work_dir_ = config_.work_dir;
      std::error_code error;
      fs::create_directories(work_dir_, error);
      if (error) {
        return absl::InvalidArgumentError(
            absl::StrCat("--work_dir: cannot create '", work_dir_, "': ", error.message()));
      }
      // A kept work dir is reused: the stores of an earlier run would change
      // what is measured, so they go (the logs are appended to).
      for (const fs::directory_entry& entry : fs::directory_iterator(work_dir_, error)) {
        const std::string name = entry.path().filename().string();
        if (absl::EndsWith(name, ".db") || absl::EndsWith(name, ".db-wal") ||
            absl::EndsWith(name, ".db-shm")) {
          fs::remove(entry.path(), error);
        }
      }
      fs::remove_all(File("start"), error);
    }
    std::error_code error;
    fs::create_directories(File("start"), error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot create ", File("start"), ": ",
                                              error.message()));
    }
    out_->meta.emplace_back("work_dir", work_dir_);
    Log(absl::StrCat("work dir ", work_dir_));
    return absl::OkStatus();
  }

  std::vector<std::string> TrackingArgs(absl::string_view store) const {
    return {"--auth=false", absl::StrCat("--store=sqlite:", store),
            absl::StrCat("--redis=127.0.0.1:", redis_->port()),
            absl::StrCat("--planning_addr=", planning_->address())};
  }
  std::vector<std::string> NotifyArgs(absl::string_view store) const {
    return {"--auth=false", absl::StrCat("--store=sqlite:", store),
            absl::StrCat("--redis=127.0.0.1:", redis_->port()),
            absl::StrCat("--planning_addr=", planning_->address()),
            absl::StrCat("--tracking_addr=", tracking_->address())};
  }

  absl::StatusOr<std::unique_ptr<ServiceProcess>> StartService(std::string binary,
                                                               std::vector<std::string> args,
                                                               absl::string_view log) {
    return ServiceProcess::Start({.binary = std::move(binary),
                                  .args = std::move(args),
                                  .log_path = File(log),
                                  .startup_timeout = absl::Seconds(60)});
  }

  absl::Status StartServices() {
    OKR_ASSIGN_OR_RETURN(redis_, RedisServer::Start());
    OKR_ASSIGN_OR_RETURN(bench_server_,
                         StartService("okr-bench-server", {"--auth=false"}, "bench-server.log"));
    OKR_ASSIGN_OR_RETURN(
        planning_,
        StartService("okr-planning",
                     {"--auth=false", absl::StrCat("--store=sqlite:", File("planning.db"))},
                     "planning.log"));
    OKR_ASSIGN_OR_RETURN(tracking_, StartService("okr-tracking", TrackingArgs(TrackingDb()),
                                                 "tracking.log"));
    OKR_ASSIGN_OR_RETURN(notify_,
                         StartService("okr-notify", NotifyArgs(File("notify.db")), "notify.log"));
    // Let the first health rounds and lazy initialisation settle before
    // taking the idle figure.
    absl::SleepFor(absl::Milliseconds(500));
    for (auto& [name, process] :
         {std::pair{"okr-bench-server", bench_server_.get()}, std::pair{"okr-planning", planning_.get()},
          std::pair{"okr-tracking", tracking_.get()}, std::pair{"okr-notify", notify_.get()}}) {
      OKR_ASSIGN_OR_RETURN(int64_t rss, ReadRssBytes(process->process().pid()));
      idle_rss_.emplace_back(name, rss);
    }
    Log(absl::StrCat("services up: planning ", planning_->address(), ", tracking ",
                     tracking_->address(), ", notify ", notify_->address(), ", bench ",
                     bench_server_->address(), ", redis 127.0.0.1:", redis_->port()));
    return absl::OkStatus();
  }

  std::string TrackingDb() const { return File("tracking.db"); }

  // Starts a new okr-tracking on the same store, in default or power-loss
  // durability, after the current one was killed.
  absl::Status ReplaceTracking(bool power_loss) {
    std::string store = TrackingDb();
    if (power_loss) absl::StrAppend(&store, "?durability=power-loss");
    tracking_.reset();
    OKR_ASSIGN_OR_RETURN(tracking_,
                         StartService("okr-tracking", TrackingArgs(store), "tracking.log"));
    Log(absl::StrCat("okr-tracking now at ", tracking_->address(),
                     power_loss ? " (power-loss durability)" : " (default durability)"));
    return absl::OkStatus();
  }

  // The processes whose CPU a load point accounts: okr-bench itself (the
  // load generator) and every server it started.
  std::vector<std::pair<std::string, pid_t>> CpuProcesses() const {
    std::vector<std::pair<std::string, pid_t>> out = {{"client", getpid()}};
    for (const auto& [name, process] :
         {std::pair{"okr-bench-server", bench_server_.get()},
          std::pair{"planning", planning_.get()}, std::pair{"tracking", tracking_.get()},
          std::pair{"notify", notify_.get()}}) {
      if (process != nullptr) out.emplace_back(name, process->process().pid());
    }
    if (redis_ != nullptr) out.emplace_back("redis", redis_->pid());
    return out;
  }

  // Records the CPU each process spent per call of a load point: the CPU
  // between before and now over the calls of warm-up and window (warm-up
  // calls estimated at the window's rate). Processes under 1 us per call
  // are left out.
  void NoteCpuPerCall(const std::string& point,
                      const std::vector<std::pair<std::string, pid_t>>& processes,
                      const std::vector<absl::Duration>& before, const LoadResult& result,
                      absl::Duration warmup) {
    const double calls =
        static_cast<double>(result.calls) + result.qps * absl::ToDoubleSeconds(warmup);
    if (calls < 1) return;
    std::vector<std::pair<std::string, absl::Duration>> per_call;
    std::string line = absl::StrCat(point, " CPU per call:");
    for (size_t i = 0; i < processes.size(); ++i) {
      const absl::Duration used = ReadCpuTime(processes[i].second) - before[i];
      const absl::Duration each = used / calls;
      if (each < absl::Microseconds(1)) continue;
      per_call.emplace_back(processes[i].first, each);
      absl::StrAppend(&line, " ", processes[i].first, " ",
                      absl::StrFormat("%.0f", absl::ToDoubleMicroseconds(each)), " us");
    }
    Log(line);
    out_->cpu_per_call.emplace_back(point, std::move(per_call));
  }

  // Runs one load point; a failed call is a failure of `scenario`.
  absl::StatusOr<LoadResult> Load(absl::string_view scenario, absl::string_view what,
                                  const std::string& target, const std::string& method,
                                  int in_flight, RequestSource source, Metadata metadata,
                                  std::optional<absl::Duration> duration = std::nullopt,
                                  std::optional<absl::Duration> warmup = std::nullopt) {
    LoadOptions options;
    options.target = target;
    options.method = method;
    options.channels = 1;
    options.in_flight = in_flight;
    options.warmup = warmup.value_or(config_.warmup);
    options.duration = duration.value_or(config_.duration);
    options.metadata = std::move(metadata);
    const std::vector<std::pair<std::string, pid_t>> processes = CpuProcesses();
    std::vector<absl::Duration> cpu_before;
    for (const auto& [name, pid] : processes) cpu_before.push_back(ReadCpuTime(pid));
    absl::StatusOr<LoadResult> result = RunLoad(options, std::move(source));
    if (!result.ok()) {
      return absl::Status(result.status().code(),
                          absl::StrCat(what, ": ", result.status().message()));
    }
    NoteCpuPerCall(absl::StrCat(what, " @", in_flight), processes, cpu_before, *result,
                   options.warmup);
    Log(absl::StrFormat("%s @%d: %.0f/s p50 %.0f us p99 %.0f us (%d calls, %d errors)", what,
                        in_flight, result->qps,
                        absl::ToDoubleMicroseconds(result->latency.Percentile(50)),
                        absl::ToDoubleMicroseconds(result->latency.Percentile(99)),
                        result->calls, result->errors));
    if (result->errors > 0) {
      Fail(scenario, absl::StrCat(what, " @", in_flight, ": ", result->errors, " of ",
                                  result->calls, " calls failed, first: ", result->first_error));
    }
    // A loading chunk may be shorter than one call on a busy machine; the
    // calls it started still ran to the end (RunLoad drains them) and the
    // store check that follows covers them.
    // (Loading chunks are the only calls made without warm-up.)
    const bool loading = warmup.has_value() && *warmup == absl::ZeroDuration();
    if (result->calls == 0 && !loading) {
      Fail(scenario, absl::StrCat(what, " @", in_flight, ": no call completed"));
    }
    return result;
  }

  // --- start ---------------------------------------------------------------------

  // Spawns `binary` on a fresh store and times it until health says SERVING.
  absl::StatusOr<absl::Duration> SpawnToServing(const std::string& binary, int sample) {
    OKR_ASSIGN_OR_RETURN(std::string program, OkrBinary(binary));
    OKR_ASSIGN_OR_RETURN(int port, FreeLoopbackPort());
    const std::string address = absl::StrCat("127.0.0.1:", port);
    const std::string store = File(absl::StrCat("start/", binary, "-", sample, ".db"));
    std::vector<std::string> args;
    if (binary == "okr-bench-server") {
      args = {"--auth=false"};
    } else if (binary == "okr-planning") {
      args = {"--auth=false", absl::StrCat("--store=sqlite:", store)};
    } else if (binary == "okr-tracking") {
      args = TrackingArgs(store);
    } else {
      args = NotifyArgs(store);
    }
    args.push_back(absl::StrCat("--listen=", address));
    const std::string log = File(absl::StrCat("start/", binary, "-", sample, ".log"));
    const absl::Time start = absl::Now();
    SubprocessOptions options;
    options.program = program;
    options.args = args;
    options.stdout_path = log;
    options.stderr_path = log;
    OKR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Start(options));
    const absl::Time give_up = start + absl::Seconds(30);
    while (true) {
      absl::StatusOr<ServingStatus> health =
          CheckHealth(address, "", absl::Milliseconds(200));
      if (health.ok() && *health == ServingStatus::kServing) break;
      if (!process->Running()) {
        return absl::UnavailableError(absl::StrCat(binary, " exited before SERVING; log ", log));
      }
      if (absl::Now() > give_up) {
        return absl::DeadlineExceededError(
            absl::StrCat(binary, " not SERVING within 30 s; log ", log));
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
    const absl::Duration took = absl::Now() - start;
    OKR_RETURN_IF_ERROR(process->Kill(SIGTERM));
    if (!process->Wait(absl::Seconds(15)).ok()) (void)process->Kill(SIGKILL);
    return took;
  }

  absl::Status StartToServing() {
    std::optional<double> baseline;
    for (const std::string binary :
         {"okr-bench-server", "okr-planning", "okr-tracking", "okr-notify"}) {
      std::vector<absl::Duration> samples;
      for (int i = 0; i < config_.start_samples; ++i) {
        OKR_ASSIGN_OR_RETURN(absl::Duration took, SpawnToServing(binary, i));
        samples.push_back(took);
      }
      std::sort(samples.begin(), samples.end());
      const double median = Seconds(samples[samples.size() / 2]);
      Log(absl::StrFormat("%s start to SERVING: median %.0f ms", binary, median * 1e3));
      Row row{.scenario = "start",
              .label = absl::StrCat("i. start to SERVING: ", binary, " (median of ",
                                    samples.size(), ")"),
              .unit = Unit::kSeconds,
              .value = median};
      if (binary == "okr-bench-server") {
        baseline = median;
        bench_start_ = median;
      } else {
        row.baseline = baseline;
        row.baseline_label = "okr-bench-server";
        row.target = {TargetKind::kValueBelow, 0.5};
      }
      Add(std::move(row));
    }
    return absl::OkStatus();
  }

  // --- baseline ------------------------------------------------------------------

  absl::Status Baseline() {
    const Metadata metadata = {{"okr-organisation-id", kBenchOrg}};
    struct Spec {
      const char* method;
      const char* name;
      int in_flight;
      Point* point;
    };
    for (const Spec& spec : {Spec{kEmptyMethod, "Empty", 32, &empty32_},
                             Spec{kEmptyMethod, "Empty", 4, &empty4_},
                             Spec{kEmptyMethod, "Empty", 1, &empty1_},
                             Spec{kPoolEmptyMethod, "PoolEmpty", 32, &pool32_},
                             Spec{kPoolEmptyMethod, "PoolEmpty", 1, &pool1_}}) {
      OKR_ASSIGN_OR_RETURN(LoadResult result,
                           Load("baseline", spec.name, bench_server_->address(), spec.method,
                                spec.in_flight, RoundRobin({std::string()}), metadata));
      *spec.point = PointOf(result);
    }
    if (!Selected("baseline")) return absl::OkStatus();
    auto add = [&](const char* name, int in_flight, const Point& p, const Point* base) {
      const std::string at = absl::StrCat(" @", in_flight);
      const std::string base_label = absl::StrCat("Empty", at);
      auto row = [&](absl::string_view what, Unit unit, double value,
                     std::optional<double> baseline) {
        Add({.scenario = "baseline",
             .label = absl::StrCat("a. baseline: ", name, " ", what, at),
             .unit = unit,
             .value = value,
             .baseline = baseline,
             .baseline_label = baseline.has_value() ? base_label : ""});
      };
      auto b = [&](double Point::*field) -> std::optional<double> {
        if (base == nullptr) return std::nullopt;
        return base->*field;
      };
      row("QPS", Unit::kPerSecond, p.qps, b(&Point::qps));
      row("p50", Unit::kSeconds, p.p50, b(&Point::p50));
      row("p99", Unit::kSeconds, p.p99, b(&Point::p99));
      row("p99.9", Unit::kSeconds, p.p999, b(&Point::p999));
    };
    add("Empty", 32, empty32_, nullptr);
    add("Empty", 4, empty4_, nullptr);
    add("Empty", 1, empty1_, nullptr);
    add("PoolEmpty", 32, pool32_, &empty32_);
    add("PoolEmpty", 1, pool1_, &empty1_);
    return absl::OkStatus();
  }

  // --- Organisations ---------------------------------------------------------------

  absl::StatusOr<std::unique_ptr<Org>> MakeOrg(absl::string_view name, int objectives,
                                               uint64_t seed, absl::Duration* took) {
    auto org = std::make_unique<Org>();
    org->name = std::string(name);
    const absl::Time start = absl::Now();
    org->plan = GenerateOrg({.seed = seed, .objectives = objectives});
    const absl::Time generated = absl::Now();
    absl::flat_hash_map<std::string, const Objective*> objectives_by_ref;
    for (const Objective& o : org->plan.objectives) objectives_by_ref[o.id] = &o;
    for (size_t i = 0; i < org->plan.key_results.size(); ++i) {
      const KeyResult& kr = org->plan.key_results[i];
      org->kr_index[kr.id] = i;
      std::string owner = kr.owner_id;
      if (owner.empty()) {
        auto it = objectives_by_ref.find(kr.objective_id);
        if (it != objectives_by_ref.end()) owner = it->second->owner_id;
      }
      org->kr_owner[kr.id] = owner;
    }
    org->sent_per_kr = std::make_unique<std::atomic<uint32_t>[]>(org->plan.key_results.size());
    OKR_ASSIGN_OR_RETURN(
        org->loaded, LoadOrg(org->plan, planning_->address(), /*concurrency=*/8,
                             {{"okr-organisation-id", std::string(name)}}));
    if (org->loaded.key_result_ids.size() != org->plan.key_results.size() ||
        org->loaded.objective_ids.size() != org->plan.objectives.size()) {
      return absl::InternalError(absl::StrCat(
          name, ": LoadOrg returned ", org->loaded.objective_ids.size(), " objectives and ",
          org->loaded.key_result_ids.size(), " key results for a plan of ",
          org->plan.objectives.size(), " and ", org->plan.key_results.size()));
    }
    *took = absl::Now() - start;
    Log(absl::StrFormat("%s: %d objectives, %d key results, %d people; generated in %.1f s, "
                        "loaded in %.1f s",
                        name, org->plan.objectives.size(), org->plan.key_results.size(),
                        org->plan.people.size(), Seconds(generated - start),
                        Seconds(absl::Now() - generated)));
    return org;
  }

  // Sends `count` check-ins (at least) to `org` at 32 in flight, in chunks
  // sized from the rate seen so far (the load generator runs for a time, not
  // a count). Returns the wall time.
  absl::StatusOr<absl::Duration> SendCheckIns(absl::string_view scenario, Org& org,
                                              int64_t count) {
    // okr-tracking loads an organisation on its first call (seconds at
    // 100,000 objectives on a busy machine); the load generator's calls
    // would wait for it against their 10 s deadline. The load is measured
    // on its own (the restart row of the rebuild scenario), not here.
    OKR_RETURN_IF_ERROR(WaitForScore(org).status());
    const absl::Time start = absl::Now();
    const uint64_t target = org.sent + static_cast<uint64_t>(count);
    double rate = 1000;  // a first guess; the first chunk measures it
    while (org.sent < target) {
      const double remaining = static_cast<double>(target - org.sent);
      const absl::Duration chunk =
          std::clamp(absl::Seconds(remaining / rate), absl::Milliseconds(500), absl::Seconds(30));
      const uint64_t before = org.sent;
      const absl::Time chunk_start = absl::Now();
      {
        CheckInStream stream(&org);
        OKR_RETURN_IF_ERROR(Load(scenario, absl::StrCat("check-ins into ", org.name),
                                 tracking_->address(), kRecordCheckIn, 32, stream.Source(),
                                 org.metadata(), chunk, absl::ZeroDuration())
                                .status());
      }
      rate = std::max(100.0, static_cast<double>(org.sent - before) /
                                 Seconds(absl::Now() - chunk_start));
    }
    return absl::Now() - start;
  }

  // Every check-in sent to `org` so far must be stored: ListCheckIns'
  // total for each key result (all of them, or an even sample of a large
  // organisation) equals the number sent to it. The load runs drain every
  // call and fail the run on any error, so "sent" is "acknowledged".
  absl::Status VerifyCheckIns(absl::string_view scenario, Org& org, absl::string_view when) {
    auto stub = v1::TrackingService::NewStub(Channel(tracking_->address()));
    const size_t n = org.plan.key_results.size();
    const size_t step = std::max<size_t>(1, n / kVerifySample);
    size_t checked = 0;
    uint64_t expected_total = 0;
    uint64_t missing = 0;
    std::string first;
    for (size_t i = 0; i < n; i += step) {
      v1::ListCheckInsRequest request;
      request.set_key_result_id(org.loaded.key_result_ids[i]);
      request.set_page_size(1);
      v1::ListCheckInsResponse response;
      OKR_RETURN_IF_ERROR(CallFor(org.id(), [&](grpc::ClientContext* c) {
        return stub->ListCheckIns(c, request, &response);
      }));
      const uint32_t sent = org.sent_per_kr[i].load();
      expected_total += sent;
      ++checked;
      if (static_cast<uint32_t>(response.total_size()) != sent) {
        if (static_cast<uint32_t>(response.total_size()) < sent) {
          missing += sent - static_cast<uint32_t>(response.total_size());
        }
        if (first.empty()) {
          first = absl::StrCat("key result ", request.key_result_id(), " has ",
                               response.total_size(), " stored, ", sent, " acknowledged");
        }
      }
    }
    if (!first.empty()) {
      Fail(scenario, absl::StrCat(when, ": the store does not hold what was acknowledged (",
                                  missing, " missing over ", checked, " key results; ", first,
                                  ")"));
    } else {
      Log(absl::StrCat(scenario, ": ", when, ": all ", expected_total, " check-ins of ", checked,
                       " sampled key results stored"));
    }
    return absl::OkStatus();
  }

  // Polls GetObjectiveScore of the organisation's first objective until it
  // answers OK (a restarted okr-tracking loads the organisation on first use).
  absl::StatusOr<absl::Duration> WaitForScore(const Org& org) {
    const absl::Time start = absl::Now();
    auto stub = v1::TrackingService::NewStub(Channel(tracking_->address()));
    v1::GetObjectiveScoreRequest request;
    request.set_objective_id(org.loaded.objective_ids.front());
    absl::Status last;
    while (absl::Now() - start < absl::Seconds(300)) {
      v1::ObjectiveScore response;
      last = CallFor(org.id(), [&](grpc::ClientContext* c) {
        return stub->GetObjectiveScore(c, request, &response);
      });
      if (last.ok()) return absl::Now() - start;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("no GetObjectiveScore of ", org.name, " within 300 s: ", last.ToString()));
  }

  absl::Status LoadLarge() {
    absl::Duration took;
    OKR_ASSIGN_OR_RETURN(large_, MakeOrg("bench-large", config_.objectives, config_.seed, &took));
    Add({.scenario = "load",
         .label = absl::StrCat("load: large organisation (", large_->plan.objectives.size(),
                               " objectives, ", large_->plan.key_results.size(), " KRs, ",
                               large_->plan.people.size(), " people)"),
         .unit = Unit::kPerSecond,
         .rate_suffix = " objectives/s",
         .value = static_cast<double>(large_->plan.objectives.size()) / Seconds(took),
         .note = absl::StrFormat("GenerateOrg + LoadOrg (public API, 8 in flight) took %.1f s",
                                 Seconds(took))});
    return absl::OkStatus();
  }

  absl::Status LoadLargeCheckIns() {
    OKR_ASSIGN_OR_RETURN(absl::Duration took, SendCheckIns("load", *large_, config_.check_ins));
    Add({.scenario = "load",
         .label = absl::StrCat("load: check-ins into the large organisation (", large_->sent,
                               " check-ins, RecordCheckIn @32)"),
         .unit = Unit::kPerSecond,
         .value = static_cast<double>(large_->sent) / Seconds(took),
         .baseline = empty32_.qps,
         .baseline_label = "Empty @32"});
    return VerifyCheckIns("load", *large_, "after loading");
  }

  // --- b. cached read ----------------------------------------------------------------

  absl::Status CachedRead() {
    std::vector<std::string> objective_requests;
    for (const std::string& id : large_->loaded.objective_ids) {
      v1::GetObjectiveScoreRequest r;
      r.set_objective_id(id);
      objective_requests.push_back(r.SerializeAsString());
    }
    std::vector<std::string> kr_requests;
    for (const std::string& id : large_->loaded.key_result_ids) {
      v1::GetKeyResultScoreRequest r;
      r.set_key_result_id(id);
      kr_requests.push_back(r.SerializeAsString());
    }
    struct Spec {
      const char* name;
      const char* method;
      const std::vector<std::string>* requests;
    };
    for (const Spec& spec : {Spec{"GetObjectiveScore", kGetObjectiveScore, &objective_requests},
                             Spec{"GetKeyResultScore", kGetKeyResultScore, &kr_requests}}) {
      OKR_ASSIGN_OR_RETURN(LoadResult r32, Load("cached_read", spec.name, tracking_->address(),
                                                spec.method, 32, RoundRobin(*spec.requests),
                                                large_->metadata()));
      OKR_ASSIGN_OR_RETURN(LoadResult r1, Load("cached_read", spec.name, tracking_->address(),
                                               spec.method, 1, RoundRobin(*spec.requests),
                                               large_->metadata()));
      const Point p32 = PointOf(r32);
      const Point p1 = PointOf(r1);
      const std::string prefix = absl::StrCat("b. cached read: ", spec.name, " ");
      Add({.scenario = "cached_read", .label = prefix + "QPS @32", .unit = Unit::kPerSecond,
           .value = p32.qps, .baseline = empty32_.qps, .baseline_label = "Empty @32",
           .target = {TargetKind::kRatioAtLeast, 0.8}});
      Add({.scenario = "cached_read", .label = prefix + "p99 @32", .unit = Unit::kSeconds,
           .value = p32.p99, .baseline = empty32_.p99, .baseline_label = "Empty @32",
           .target = {TargetKind::kRatioAtMost, 1.5}});
      Add({.scenario = "cached_read", .label = prefix + "p50 @1", .unit = Unit::kSeconds,
           .value = p1.p50, .baseline = empty1_.p50, .baseline_label = "Empty @1",
           .target = {TargetKind::kAtMostBaselinePlus, 100e-6}});
      Add({.scenario = "cached_read", .label = prefix + "p99.9 @32", .unit = Unit::kSeconds,
           .value = p32.p999, .baseline = empty32_.p999, .baseline_label = "Empty @32"});
    }
    return absl::OkStatus();
  }

  // --- c. durable check-in ---------------------------------------------------------

  absl::Status CheckInPoint(absl::string_view mode, bool power_loss) {
    LoadResult result;
    {
      CheckInStream stream(large_.get());
      OKR_ASSIGN_OR_RETURN(result, Load("check_in", absl::StrCat("RecordCheckIn (", mode, ")"),
                                        tracking_->address(), kRecordCheckIn, 32,
                                        stream.Source(), large_->metadata()));
    }
    const Point p = PointOf(result);
    const std::string prefix = absl::StrCat("c. durable check-in (", mode, "): RecordCheckIn ");
    Row qps{.scenario = "check_in", .label = prefix + "QPS @32", .unit = Unit::kPerSecond,
            .value = p.qps, .baseline = empty32_.qps, .baseline_label = "Empty @32"};
    if (!power_loss) qps.target = {TargetKind::kRatioAtLeast, 0.5};
    Add(std::move(qps));
    Add({.scenario = "check_in", .label = prefix + "p50 @32", .unit = Unit::kSeconds,
         .value = p.p50, .baseline = empty32_.p50, .baseline_label = "Empty @32"});
    Add({.scenario = "check_in", .label = prefix + "p99 @32", .unit = Unit::kSeconds,
         .value = p.p99, .baseline = empty32_.p99, .baseline_label = "Empty @32"});
    return absl::OkStatus();
  }

  absl::Status DurableCheckIn() {
    OKR_RETURN_IF_ERROR(CheckInPoint("default", /*power_loss=*/false));
    // kill -9 after the OK replies: the default mode promises to survive it.
    OKR_RETURN_IF_ERROR(tracking_->Kill().status());
    OKR_RETURN_IF_ERROR(ReplaceTracking(/*power_loss=*/true));
    OKR_RETURN_IF_ERROR(WaitForScore(*large_).status());
    OKR_RETURN_IF_ERROR(VerifyCheckIns("check_in", *large_, "default mode, after kill -9"));
    OKR_RETURN_IF_ERROR(CheckInPoint("power-loss", /*power_loss=*/true));
    OKR_RETURN_IF_ERROR(tracking_->Kill().status());
    OKR_RETURN_IF_ERROR(ReplaceTracking(/*power_loss=*/false));
    OKR_RETURN_IF_ERROR(WaitForScore(*large_).status());
    return VerifyCheckIns("check_in", *large_, "power-loss mode, after kill -9");
  }

  // --- d. check-in cost at 100 vs N objectives ---------------------------------------

  absl::Status CheckInScale() {
    absl::Duration took;
    OKR_ASSIGN_OR_RETURN(small_,
                         MakeOrg("bench-small", config_.small_objectives, config_.seed + 1, &took));
    // The same history depth per key result as the large organisation.
    const double per_kr = static_cast<double>(large_->sent) /
                          static_cast<double>(std::max<size_t>(1, large_->plan.key_results.size()));
    OKR_RETURN_IF_ERROR(
        SendCheckIns("check_in_scale", *small_,
                     static_cast<int64_t>(per_kr * small_->plan.key_results.size()) + 1)
            .status());
    Point point[2][2];  // [small, large][@1, @32]
    for (int in_flight_index : {0, 1}) {
      for (int org_index : {0, 1}) {
        Org& org = org_index == 0 ? *small_ : *large_;
        CheckInStream stream(&org);
        OKR_ASSIGN_OR_RETURN(
            LoadResult r,
            Load("check_in_scale", absl::StrCat("RecordCheckIn on ", org.name),
                 tracking_->address(), kRecordCheckIn, in_flight_index == 0 ? 1 : 32,
                 stream.Source(), org.metadata()));
        point[org_index][in_flight_index] = PointOf(r);
      }
    }
    const std::string vs = absl::StrCat(large_->plan.objectives.size(), " vs ",
                                        small_->plan.objectives.size(), " objectives");
    Add({.scenario = "check_in_scale",
         .label = absl::StrCat("d. check-in p50 @1, ", vs),
         .unit = Unit::kSeconds,
         .value = point[1][0].p50,
         .baseline = point[0][0].p50,
         .baseline_label = absl::StrCat(small_->plan.objectives.size(), " objectives"),
         .target = {TargetKind::kRatioAtMost, 1.2}});
    Add({.scenario = "check_in_scale",
         .label = absl::StrCat("d. check-in QPS @32, ", vs, " (ratio: small / large)"),
         .unit = Unit::kPerSecond,
         .value = point[1][1].qps,
         .baseline = point[0][1].qps,
         .baseline_label = absl::StrCat(small_->plan.objectives.size(), " objectives"),
         .inverse_ratio = true,
         .target = {TargetKind::kRatioAtMost, 1.2}});
    OKR_RETURN_IF_ERROR(VerifyCheckIns("check_in_scale", *small_, "after the scale points"));
    return VerifyCheckIns("check_in_scale", *large_, "after the scale points");
  }

  // --- e. scored tree --------------------------------------------------------------

  absl::Status ScoredTree() {
    absl::Duration took;
    OKR_ASSIGN_OR_RETURN(std::unique_ptr<Org> tree, MakeOrg("bench-tree", config_.tree_objectives,
                                                            config_.seed + 2, &took));
    // About one check-in per key result, so that the tree has scores.
    OKR_RETURN_IF_ERROR(
        SendCheckIns("tree", *tree, static_cast<int64_t>(tree->plan.key_results.size())).status());
    v1::GetScoredTreeRequest request;
    request.set_cycle_id(tree->loaded.active_cycle_id);
    const std::vector<std::string> requests = {request.SerializeAsString()};
    OKR_ASSIGN_OR_RETURN(LoadResult r1, Load("tree", "GetScoredTree", tracking_->address(),
                                             kGetScoredTree, 1, RoundRobin(requests),
                                             tree->metadata()));
    OKR_ASSIGN_OR_RETURN(LoadResult r4, Load("tree", "GetScoredTree", tracking_->address(),
                                             kGetScoredTree, 4, RoundRobin(requests),
                                             tree->metadata()));
    // How big the answer is, for the reader of the table.
    auto stub = v1::TrackingService::NewStub(Channel(tracking_->address()));
    v1::ScoredTree response;
    OKR_RETURN_IF_ERROR(CallFor(tree->id(), [&](grpc::ClientContext* c) {
      return stub->GetScoredTree(c, request, &response);
    }));
    const std::string size = absl::StrFormat(
        "the tree of the active quarter: %d objective and %d key result scores, %.1f KB",
        response.objective_scores_size(), response.key_result_scores_size(),
        response.ByteSizeLong() / 1024.0);
    const std::string prefix =
        absl::StrCat("e. scored tree (", tree->plan.objectives.size(), " objectives): ");
    Add({.scenario = "tree", .label = prefix + "GetScoredTree p50 @1", .unit = Unit::kSeconds,
         .value = PointOf(r1).p50, .baseline = empty1_.p50, .baseline_label = "Empty @1",
         .note = size});
    Add({.scenario = "tree", .label = prefix + "GetScoredTree QPS @4", .unit = Unit::kPerSecond,
         .value = r4.qps, .baseline = empty4_.qps, .baseline_label = "Empty @4"});
    return absl::OkStatus();
  }

  // --- f. cold rebuild ---------------------------------------------------------------

  absl::Status Rebuild() {
    auto stub = v1::TrackingService::NewStub(Channel(tracking_->address()));
    v1::RebuildRollupsRequest request;
    v1::RebuildRollupsResponse response;
    const absl::Time start = absl::Now();
    OKR_RETURN_IF_ERROR(CallFor(large_->id(), [&](grpc::ClientContext* c) {
      return stub->RebuildRollups(c, request, &response);
    }));
    const absl::Duration took = absl::Now() - start;
    Add({.scenario = "rebuild",
         .label = absl::StrCat("f. cold rebuild: RebuildRollups wall time (",
                               response.objectives_rebuilt(), " objectives, ",
                               response.key_results_rebuilt(), " KRs)"),
         .unit = Unit::kSeconds,
         .value = Seconds(took),
         .baseline = empty1_.p50,
         .baseline_label = "Empty p50 @1",
         .target = {TargetKind::kValueBelow, 0.5},
         .note = absl::StrFormat("server-side duration %.3f s",
                                 response.duration().seconds() +
                                     response.duration().nanos() * 1e-9)});
    if (response.objectives_rebuilt() == 0) {
      Fail("rebuild", "RebuildRollups rebuilt no objective of the large organisation");
    }
    OKR_RETURN_IF_ERROR(tracking_->Stop().status());
    const absl::Time restart = absl::Now();
    OKR_RETURN_IF_ERROR(tracking_->Restart());
    OKR_RETURN_IF_ERROR(WaitForScore(*large_).status());
    const absl::Duration to_score = absl::Now() - restart;
    Row row{.scenario = "rebuild",
            .label = "f. restart okr-tracking to first GetObjectiveScore of the large org",
            .unit = Unit::kSeconds,
            .value = Seconds(to_score)};
    if (bench_start_.has_value()) {
      row.baseline = bench_start_;
      row.baseline_label = "okr-bench-server start";
    }
    Add(std::move(row));
    return absl::OkStatus();
  }

  // --- g. reminders ------------------------------------------------------------------

  // Owners (people) with a live key result of a published objective in an
  // ACTIVE cycle: with the weekly window opening after every check-in, each
  // of them has a stale key result and gets exactly one weekly reminder.
  size_t ExpectedReminderRecipients(const Org& org) const {
    absl::flat_hash_set<std::string> people;
    for (const Person& p : org.plan.people) people.insert(p.id);
    absl::flat_hash_map<std::string, const Cycle*> cycles;
    for (const Cycle& c : org.plan.cycles) cycles[c.id] = &c;
    absl::flat_hash_map<std::string, const Objective*> objectives;
    for (const Objective& o : org.plan.objectives) objectives[o.id] = &o;
    absl::flat_hash_set<std::string> owners;
    for (const KeyResult& kr : org.plan.key_results) {
      if (kr.archived) continue;
      auto o = objectives.find(kr.objective_id);
      if (o == objectives.end() || o->second->state != ObjectiveState::kPublished) continue;
      auto c = cycles.find(o->second->cycle_id);
      if (c == cycles.end() || c->second->state != CycleState::kActive) continue;
      const std::string owner = kr.owner_id.empty() ? o->second->owner_id : kr.owner_id;
      if (people.contains(owner)) owners.insert(owner);
    }
    return owners.size();
  }

  absl::Status Reminders() {
    // okr-tracking moved (check_in restarts it on a new port): notify gets a
    // process that knows where it is now, on the same store.
    OKR_RETURN_IF_ERROR(notify_->Stop().status());
    notify_.reset();
    OKR_ASSIGN_OR_RETURN(notify_,
                         StartService("okr-notify", NotifyArgs(File("notify.db")), "notify.log"));
    auto stub = v1::NotifyService::NewStub(Channel(notify_->address()));
    // Every check-in of the generator is before the plan's generation; the
    // run's "now" is a little later than this moment and the weekly window
    // opens a minute before it, so every key result is stale.
    const absl::TimeZone utc = absl::UTCTimeZone();
    const absl::Time now = absl::Now() + absl::Minutes(3);
    const absl::CivilMinute window_start =
        absl::ToCivilMinute(now - absl::Minutes(1), utc);
    v1::SetReminderPolicyRequest set;
    v1::ReminderPolicy* policy = set.mutable_policy();
    policy->set_time_zone("UTC");
    policy->mutable_weekly_check_in()->set_enabled(true);
    policy->mutable_weekly_check_in()->set_weekday(static_cast<v1::DayOfWeek>(
        static_cast<int>(absl::GetWeekday(absl::CivilDay(window_start))) + 1));
    policy->mutable_weekly_check_in()->mutable_local_time()->set_hours(window_start.hour());
    policy->mutable_weekly_check_in()->mutable_local_time()->set_minutes(window_start.minute());
    policy->mutable_mid_quarter_review()->set_enabled(false);
    policy->mutable_end_of_quarter_review()->set_enabled(false);
    policy->mutable_planning_milestones()->set_enabled(false);
    v1::ReminderPolicy stored;
    OKR_RETURN_IF_ERROR(CallFor(large_->id(), [&](grpc::ClientContext* c) {
      return stub->SetReminderPolicy(c, set, &stored);
    }));
    v1::RunDueRemindersRequest run;
    *run.mutable_now() = ToProto(now);
    run.add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
    const size_t expected = ExpectedReminderRecipients(*large_);
    auto counts = [](const v1::RunDueRemindersResponse& r) {
      v1::ReminderKindCounts total;
      for (const v1::ReminderKindCounts& c : r.counts()) {
        total.set_found(total.found() + c.found());
        total.set_published(total.published() + c.published());
        total.set_skipped(total.skipped() + c.skipped());
        total.set_failed(total.failed() + c.failed());
      }
      return total;
    };
    v1::RunDueRemindersResponse first;
    const absl::Time start = absl::Now();
    OKR_RETURN_IF_ERROR(CallFor(large_->id(), [&](grpc::ClientContext* c) {
      return stub->RunDueReminders(c, run, &first);
    }));
    const absl::Duration took = absl::Now() - start;
    v1::RunDueRemindersResponse second;
    const absl::Time rerun_start = absl::Now();
    OKR_RETURN_IF_ERROR(CallFor(large_->id(), [&](grpc::ClientContext* c) {
      return stub->RunDueReminders(c, run, &second);
    }));
    const absl::Duration rerun_took = absl::Now() - rerun_start;
    const v1::ReminderKindCounts c1 = counts(first);
    const v1::ReminderKindCounts c2 = counts(second);
    Log(absl::StrFormat("reminders: first run found %d published %d failed %d in %.2f s; "
                        "rerun found %d published %d skipped %d in %.2f s; expected %d",
                        c1.found(), c1.published(), c1.failed(), Seconds(took), c2.found(),
                        c2.published(), c2.skipped(), Seconds(rerun_took), expected));
    const std::string owners = absl::StrCat(large_->plan.people.size(), " people");
    Add({.scenario = "reminders",
         .label = absl::StrCat("g. reminders: RunDueReminders wall time (", owners, ")"),
         .unit = Unit::kSeconds, .value = Seconds(took), .baseline = empty1_.p50,
         .baseline_label = "Empty p50 @1", .target = {TargetKind::kValueBelow, 5}});
    Add({.scenario = "reminders",
         .label = "g. reminders: published (= owners with a stale KR)",
         .unit = Unit::kCount, .value = static_cast<double>(c1.published()),
         .baseline = static_cast<double>(expected), .baseline_label = "expected",
         .target = {TargetKind::kEqualsBaseline, 0}});
    Add({.scenario = "reminders", .label = "g. reminders: rerun published",
         .unit = Unit::kCount, .value = static_cast<double>(c2.published()),
         .target = {TargetKind::kValueEquals, 0}});
    Add({.scenario = "reminders", .label = "g. reminders: rerun wall time",
         .unit = Unit::kSeconds, .value = Seconds(rerun_took), .baseline = empty1_.p50,
         .baseline_label = "Empty p50 @1"});
    if (static_cast<size_t>(c1.published()) != expected) {
      Fail("reminders", absl::StrCat("published ", c1.published(), " weekly reminders, expected ",
                                     expected, " (one per owner with a stale key result)"));
    }
    if (c1.failed() != 0) {
      Fail("reminders", absl::StrCat(c1.failed(), " reminders failed to publish"));
    }
    if (c2.published() != 0) {
      Fail("reminders", absl::StrCat("the rerun published ", c2.published(), ", expected 0"));
    }
    return absl::OkStatus();
  }

  // --- h. memory ---------------------------------------------------------------------

  absl::Status Memory() {
    std::optional<double> bench_idle;
    for (const auto& [name, rss] : idle_rss_) {
      Row row{.scenario = "memory",
              .label = absl::StrCat("h. RSS idle: ", name),
              .unit = Unit::kBytes,
              .value = static_cast<double>(rss)};
      if (name == "okr-bench-server") {
        bench_idle = static_cast<double>(rss);
      } else {
        row.baseline = bench_idle;
        row.baseline_label = "okr-bench-server idle";
        row.target = {TargetKind::kValueBelow, 30.0 * 1024 * 1024};
      }
      Add(std::move(row));
    }
    for (auto& [name, process] :
         {std::pair{"okr-bench-server", bench_server_.get()}, std::pair{"okr-planning", planning_.get()},
          std::pair{"okr-tracking", tracking_.get()}, std::pair{"okr-notify", notify_.get()}}) {
      OKR_ASSIGN_OR_RETURN(int64_t rss, ReadRssBytes(process->process().pid()));
      Row row{.scenario = "memory",
              .label = absl::StrCat("h. RSS loaded: ", name),
              .unit = Unit::kBytes,
              .value = static_cast<double>(rss),
              .baseline = bench_idle,
              .baseline_label = "okr-bench-server idle"};
      if (std::string(name) == "okr-tracking") {
        row.label = absl::StrCat(row.label, " (", large_ ? large_->plan.objectives.size() : 0,
                                 " objectives + the other orgs)");
        row.target = {TargetKind::kValueBelow, 400.0 * 1024 * 1024};
      }
      Add(std::move(row));
    }
    return absl::OkStatus();
  }

  const BenchConfig& config_;
  BenchOutcome* const out_;
  std::optional<TempDir> temp_;
  std::string work_dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<ServiceProcess> bench_server_;
  std::unique_ptr<ServiceProcess> planning_;
  std::unique_ptr<ServiceProcess> tracking_;
  std::unique_ptr<ServiceProcess> notify_;
  std::vector<std::pair<std::string, int64_t>> idle_rss_;
  std::optional<double> bench_start_;
  Point empty32_, empty4_, empty1_, pool32_, pool1_;
  std::unique_ptr<Org> large_;
  std::unique_ptr<Org> small_;
};

}  // namespace

absl::StatusOr<BenchConfig> PresetConfig(absl::string_view size) {
  BenchConfig config;
  if (size == "smoke") {
    return config;
  }
  if (size == "full") {
    config.smoke = false;
    config.objectives = 100000;
    config.tree_objectives = 10000;
    config.check_ins = 2000000;
    config.duration = absl::Seconds(5);
    config.warmup = absl::Seconds(1);
    return config;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--size: '", size, "' is not a preset; use smoke or full"));
}

absl::StatusOr<BenchOutcome> RunBench(const BenchConfig& config) {
  for (const std::string& s : config.scenarios) {
    const auto& all = AllScenarios();
    if (std::find(all.begin(), all.end(), s) == all.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--scenarios: unknown scenario '", s, "'"));
    }
  }
  BenchOutcome out;
  utsname uts{};
  uname(&uts);
  out.meta = {{"size", config.smoke ? "smoke" : "full"},
              {"objectives", absl::StrCat(config.objectives)},
              {"tree_objectives", absl::StrCat(config.tree_objectives)},
              {"check_ins", absl::StrCat(config.check_ins)},
              {"duration", absl::FormatDuration(config.duration)},
              {"warmup", absl::FormatDuration(config.warmup)},
              {"cores", absl::StrCat(std::thread::hardware_concurrency())},
              {"cpu", CpuModel()},
              {"kernel", absl::StrCat(uts.sysname, " ", uts.release)},
              {"date", absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())}};
  const absl::Time start = absl::Now();
  {
    // A run that cannot go on (a service that does not start, a load that
    // cannot connect) still reports what it measured up to there: a full
    // run is long, and its first rows are worth keeping.
    Runner runner(config, &out);
    if (absl::Status status = runner.Run(); !status.ok()) {
      out.failures.push_back(absl::StrCat("run aborted: ", status.ToString()));
    }
  }
  // Table order is the issue's (a. baseline ... i. start), whatever order the
  // scenarios ran in.
  const std::vector<std::string>& order = AllScenarios();
  std::stable_sort(out.rows.begin(), out.rows.end(), [&](const Row& a, const Row& b) {
    return std::find(order.begin(), order.end(), a.scenario) <
           std::find(order.begin(), order.end(), b.scenario);
  });
  out.meta.emplace_back("total", absl::FormatDuration(absl::Trunc(absl::Now() - start,
                                                                  absl::Milliseconds(100))));
  for (const auto& [name, took] : out.phases) {
    out.meta.emplace_back(absl::StrCat("phase: ", name),
                          absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(100))));
  }
  return out;
}

}  // namespace okr::bench
