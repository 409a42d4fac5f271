#include "tests/bench/load/load_generator.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/slice.h>
#include <grpcpp/support/stub_options.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace okr::bench {
namespace {

using Clock = std::chrono::steady_clock;

absl::Duration ToDuration(Clock::duration d) { return absl::FromChrono(d); }

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// What gRPC accepts as a metadata key: lowercase ASCII letters, digits and
// "-_.". Checked up front so that a typo in --metadata is INVALID_ARGUMENT
// rather than every call failing.
bool IsValidMetadataKey(absl::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_' || c == '.';
  });
}

absl::Status Validate(const LoadOptions& options, const RequestSource& requests) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("target: must be HOST:PORT, got an empty string");
  }
  if (options.method.size() < 4 || options.method[0] != '/' ||
      options.method.find('/', 1) == std::string::npos || options.method.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("method: must be a full path like /package.Service/Method, got '",
                     options.method, "'"));
  }
  if (options.channels < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("channels: must be at least 1, got ", options.channels));
  }
  if (options.in_flight < options.channels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "in_flight: must be at least channels (", options.channels,
        ") so that every channel carries calls, got ", options.in_flight));
  }
  if (options.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("warmup: must not be negative, got ", absl::FormatDuration(options.warmup)));
  }
  if (options.duration <= absl::ZeroDuration() || options.duration == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("duration: must be positive and finite, got ",
                                                   absl::FormatDuration(options.duration)));
  }
  if (options.deadline <= absl::ZeroDuration() || options.deadline == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("deadline: must be positive and finite, got ",
                                                   absl::FormatDuration(options.deadline)));
  }
  for (const auto& [key, value] : options.metadata) {
    if (!IsValidMetadataKey(key)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metadata: key '", key, "' must be non-empty lowercase letters, digits and -_."));
    }
  }
  if (!requests) return absl::InvalidArgumentError("requests: must not be empty");
  return absl::OkStatus();
}

// One call slot: at most one call in flight at a time, so only the thread
// running its current completion touches it (gRPC orders a call's start
// before its completion).
struct Slot {
  explicit Slot(grpc::GenericStub* stub) : stub(stub) {}

  grpc::GenericStub* const stub;
  // Fresh for every call: a ClientContext cannot be reused.
  std::unique_ptr<grpc::ClientContext> context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  Clock::time_point started;

  uint64_t calls = 0;
  uint64_t errors = 0;
  std::map<grpc::StatusCode, uint64_t> errors_by_code;
  std::optional<Clock::time_point> first_error_at;
  std::string first_error;
  LatencyHistogram latency;
};

// The shared state of one RunLoad. Every pending callback holds a reference,
// so the last one to finish may release it after RunLoad has returned. The
// channels are owned by RunLoad, not here, and no ClientContext outlives the
// slot's loop: a grpc::Channel must be destroyed on the caller's thread, not
// on a gRPC callback thread (see OnDone).
class LoadRun : public std::enable_shared_from_this<LoadRun> {
 public:
  // `requests` must outlive Run(); it is not used afterwards.
  LoadRun(const LoadOptions& options, const RequestSource& requests,
          const std::vector<std::unique_ptr<grpc::GenericStub>>& stubs)
      : options_(options), requests_(requests), active_(options.in_flight) {
    slots_.reserve(static_cast<size_t>(options.in_flight));
    for (int i = 0; i < options.in_flight; ++i) {
      slots_.push_back(std::make_unique<Slot>(stubs[static_cast<size_t>(i) % stubs.size()].get()));
    }
  }

  // Starts every slot's first call and waits until all slots have stopped.
  void Run() {
    const Clock::time_point now = Clock::now();
    measure_start_ = now + absl::ToChronoNanoseconds(options_.warmup);
    measure_end_ = measure_start_ + absl::ToChronoNanoseconds(options_.duration);
    for (const std::unique_ptr<Slot>& slot : slots_) StartCall(*slot);
    absl::MutexLock lock(&mu_);
    const auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return active_ == 0; };
    mu_.Await(absl::Condition(&stopped));
  }

  // The slots' counts merged; call after Run().
  LoadResult Result() const {
    LoadResult result;
    std::optional<Clock::time_point> first_error_at;
    for (const std::unique_ptr<Slot>& slot : slots_) {
      result.calls += slot->calls;
      result.errors += slot->errors;
      for (const auto& [code, count] : slot->errors_by_code) result.errors_by_code[code] += count;
      if (slot->first_error_at.has_value() &&
          (!first_error_at.has_value() || *slot->first_error_at < *first_error_at)) {
        first_error_at = slot->first_error_at;
        result.first_error = slot->first_error;
      }
      result.latency.Merge(slot->latency);
    }
    result.elapsed = ToDuration(measure_end_ - measure_start_);
    result.qps = static_cast<double>(result.calls) / absl::ToDoubleSeconds(result.elapsed);
    return result;
  }

 private:
  void StartCall(Slot& slot) {
    slot.context = std::make_unique<grpc::ClientContext>();
    slot.context->set_deadline(std::chrono::system_clock::now() +
                               absl::ToChronoNanoseconds(options_.deadline));
    for (const auto& [key, value] : options_.metadata) slot.context->AddMetadata(key, value);
    const grpc::Slice bytes(requests_(next_index_.fetch_add(1, std::memory_order_relaxed)));
    slot.request = grpc::ByteBuffer(&bytes, 1);
    slot.response.Clear();
    slot.started = Clock::now();
    slot.stub->UnaryCall(slot.context.get(), options_.method, grpc::StubOptions(), &slot.request,
                         &slot.response,
                         [self = shared_from_this(), &slot](grpc::Status status) {
                           self->OnDone(slot, status);
                         });
  }

  void OnDone(Slot& slot, const grpc::Status& status) {
    const Clock::time_point now = Clock::now();
    if (now >= measure_start_ && now < measure_end_) {
      ++slot.calls;
      if (status.ok()) {
        slot.latency.Record(ToDuration(now - slot.started));
      } else {
        ++slot.errors;
        ++slot.errors_by_code[status.error_code()];
        if (!slot.first_error_at.has_value()) {
          slot.first_error_at = now;
          slot.first_error = absl::StrCat(CodeName(status.error_code()), ": ",
                                          status.error_message());
        }
      }
    }
    if (now < measure_end_) {
      StartCall(slot);
      return;
    }
    // A ClientContext holds a reference to its grpc::Channel. Were the last
    // one released on this gRPC thread (after RunLoad dropped its own), the
    // channel's destructor would shut down and join the very callback thread
    // it runs on, so every context goes while RunLoad still owns the
    // channels, that is before the slot counts as stopped.
    slot.context.reset();
    absl::MutexLock lock(&mu_);
    --active_;
  }

  const LoadOptions options_;
  // RunLoad's: the caller's source is called only until the last slot
  // stops, and never destroyed on a gRPC thread.
  const RequestSource& requests_;
  std::vector<std::unique_ptr<Slot>> slots_;  // fixed after construction
  std::atomic<uint64_t> next_index_{0};
  // Set by Run() before the first call starts, read-only afterwards.
  Clock::time_point measure_start_;
  Clock::time_point measure_end_;
  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_);  // slots whose loop has not stopped
};

}  // namespace

RequestSource FixedRequest(const google::protobuf::Message& request) {
  auto bytes = std::make_shared<const std::string>(request.SerializeAsString());
  return [bytes](uint64_t) { return *bytes; };
}

absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options, RequestSource requests) {
  if (absl::Status valid = Validate(options, requests); !valid.ok()) return valid;
  const std::shared_ptr<grpc::ChannelCredentials> credentials =
      options.credentials != nullptr ? options.credentials : grpc::InsecureChannelCredentials();
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int i = 0; i < options.channels; ++i) {
    grpc::ChannelArguments args;
    // Channels with equal arguments would share one subchannel, that is one
    // TCP connection; a distinct argument and a local pool keep them apart.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("okr.bench.channel_index", i);
    // Responses of the big reads (a 10,000-objective scored tree) exceed
    // gRPC's 4 MB default.
    args.SetMaxReceiveMessageSize(-1);
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(options.target, credentials, args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                   absl::ToChronoNanoseconds(options.deadline))) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", options.target, " within ",
                                                 absl::FormatDuration(options.deadline),
                                                 " (channel ", i, ")"));
    }
    stubs.push_back(std::make_unique<grpc::GenericStub>(std::move(channel)));
  }
  auto run = std::make_shared<LoadRun>(options, requests, stubs);
  run->Run();
  return run->Result();
}

}  // namespace okr::bench
