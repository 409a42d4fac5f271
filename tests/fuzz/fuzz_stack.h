// The in-process service stack the libFuzzer targets (tests/fuzz/fuzz_*.cc)
// send their inputs to.
//
// A FuzzStack runs the real planning, and on request tracking and notify,
// exactly as their main.cc wires them (SQLite stores in a temporary
// directory, worker pools, the okr.v1 gRPC adapters, auth off), each behind
// its own grpc::Server. The service under test is called over the server's
// in-process channel; the dependencies reach each other the way production
// does, through the real GrpcPlanSource / GrpcTrackingSource over 127.0.0.1
// ports. Redis is left out (both services run without it) and notify's
// webhook dispatcher is never started, so no input can make the fuzzer send
// network traffic.
//
// Inputs address real objects through placeholders: a request string
// "@obj0" is replaced before the call by the first known id with prefix
// "obj" (ids are "<prefix>-<12 chars>", services/planning/org_state.h), the
// index taken modulo how many are known. Known ids come from the
// bootstrapped organisation ("retail", the retail example plan of
// examples/retail-annual.csv) and from every response since. This keeps a
// committed corpus meaningful although each stack mints fresh random ids.
#ifndef OKR_TESTS_FUZZ_FUZZ_STACK_H_
#define OKR_TESTS_FUZZ_FUZZ_STACK_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace okr::planning {
class Planning;
}  // namespace okr::planning

namespace okr::fuzz {

// The organisation every stack bootstraps and inputs act in by default.
inline constexpr char kFuzzOrganisation[] = "retail";
// The organisation inputs with the top bit of their first byte set act in:
// never bootstrapped, so the NOT_FOUND paths get exercised too.
inline constexpr char kUnknownOrganisation[] = "ghost";

// Which services a stack runs. Each one needs the ones before it.
enum class StackLevel { kPlanning, kTracking, kNotify };

class FuzzStack {
 public:
  // Starts the services up to `level` and bootstraps kFuzzOrganisation.
  // Aborts (a fuzz setup failure is not an input's fault) when anything
  // fails to start.
  explicit FuzzStack(StackLevel level);
  ~FuzzStack();
  FuzzStack(const FuzzStack&) = delete;
  FuzzStack& operator=(const FuzzStack&) = delete;

  // The in-process channel of the service at `level`.
  std::shared_ptr<grpc::Channel> Channel(StackLevel level) const;

  // Calls unary `method` with `request` (placeholders replaced in place),
  // acting for `organisation`, and harvests the ids of the response. A
  // non-OK status is a normal outcome and is returned as is.
  grpc::Status Call(StackLevel level, const google::protobuf::MethodDescriptor& method,
                    google::protobuf::Message& request, absl::string_view organisation);

  // The services and everything they own, started and stopped in order.
  class Services {
   public:
    Services(const std::string& dir, StackLevel level);
    ~Services();
    Services(const Services&) = delete;
    Services& operator=(const Services&) = delete;

    planning::Planning& planning();
    std::shared_ptr<grpc::Channel> Channel(StackLevel level) const;

   private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
  };

  // Planning's use-cases, for targets that bypass gRPC (fuzz_plan_csv).
  planning::Planning& planning() { return services_->planning(); }

 private:
  void Bootstrap();
  void ReplacePlaceholders(google::protobuf::Message& message, int depth);
  void Harvest(const google::protobuf::Message& message, int depth);
  void Remember(const std::string& value);

  StackLevel level_;
  std::string dir_;
  std::unique_ptr<Services> services_;
  // Id prefix -> known ids (bounded ring, oldest replaced).
  absl::flat_hash_map<std::string, std::vector<std::string>> ids_;
  absl::flat_hash_map<std::string, size_t> next_slot_;
};

// The okr.v1 service descriptors.
const google::protobuf::ServiceDescriptor& PlanningDescriptor();
const google::protobuf::ServiceDescriptor& TrackingDescriptor();
const google::protobuf::ServiceDescriptor& NotifyDescriptor();

// A new, empty message of the generated type `type`.
std::unique_ptr<google::protobuf::Message> NewMessage(const google::protobuf::Descriptor& type);

// The unary methods of `service` (server-streaming ones are left out: a
// watch never ends by itself), in declaration order.
std::vector<const google::protobuf::MethodDescriptor*> UnaryMethods(
    const google::protobuf::ServiceDescriptor& service);

// The body of a service target's LLVMFuzzerTestOneInput: the first byte
// chooses the method (low 7 bits modulo the method count) and the
// organisation (top bit: kUnknownOrganisation), the rest is parsed as that
// method's request. The process keeps one stack and replaces it every
// `reset_every` inputs so that state stays bounded.
void RunServiceInput(StackLevel level, const google::protobuf::ServiceDescriptor& service,
                     const uint8_t* data, size_t size, int reset_every);

// The stack RunServiceInput uses (created on first use), for other targets.
FuzzStack& SharedStack(StackLevel level, int reset_every);

// Silences the services' JSON logs (one line per request would dominate a
// fuzzing run); call once before the first stack.
void QuietLogs();

}  // namespace okr::fuzz

#endif  // OKR_TESTS_FUZZ_FUZZ_STACK_H_
