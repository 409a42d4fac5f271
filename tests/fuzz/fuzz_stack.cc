#include "tests/fuzz/fuzz_stack.h"

#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <streambuf>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/log.h"
#include "common/plan_csv.h"
#include "common/server.h"
#include "common/worker_pool.h"
#include "services/notify/grpc_notify_service.h"
#include "services/notify/notify.h"
#include "services/notify/notify_store.h"
#include "services/notify/tracking_source.h"
#include "services/notify/watch_hub.h"
#include "services/notify/webhook.h"
#include "services/notify/webhook_dispatcher.h"
#include "services/planning/grpc_planning_service.h"
#include "services/planning/planning.h"
#include "services/planning/planning_store.h"
#include "services/tracking/grpc_tracking_service.h"
#include "services/tracking/plan_source.h"
#include "services/tracking/tracking.h"
#include "services/tracking/tracking_store.h"
#include "okr/v1/notify.grpc.pb.h"
#include "okr/v1/planning.grpc.pb.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "google/protobuf/descriptor.pb.h"

namespace okr::fuzz {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Per prefix; old ids make room for new ones so memory stays bounded.
constexpr size_t kMaxIdsPerPrefix = 32;
// Protobuf refuses deeper messages anyway; this only bounds our walk.
constexpr int kMaxDepth = 64;

[[noreturn]] void Die(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "fuzz stack setup failed: %.*s: %s\n", static_cast<int>(what.size()),
               what.data(), status.ToString().c_str());
  std::abort();
}

template <typename T>
T OrDie(absl::StatusOr<T> value, absl::string_view what) {
  if (!value.ok()) Die(what, value.status());
  return *std::move(value);
}

// "obj-0123456789ab" -> "obj"; empty when `value` is not an id.
absl::string_view IdPrefix(absl::string_view value) {
  const size_t dash = value.rfind('-');
  if (dash == absl::string_view::npos || dash == 0 || dash > 8 || value.size() - dash - 1 != 12) {
    return {};
  }
  for (size_t i = 0; i < dash; ++i) {
    if (!absl::ascii_islower(value[i])) return {};
  }
  for (size_t i = dash + 1; i < value.size(); ++i) {
    if (!absl::ascii_islower(value[i]) && !absl::ascii_isdigit(value[i])) return {};
  }
  return value.substr(0, dash);
}

// Never delivers: the dispatcher is not started, but it needs a sender.
class NoNetworkSender : public notify::WebhookSender {
 public:
  notify::WebhookAttempt Post(absl::string_view, absl::string_view, absl::Duration) override {
    notify::WebhookAttempt attempt;
    attempt.outcome = notify::WebhookAttempt::Outcome::kPermanentFailure;
    attempt.error = "fuzzing: no network";
    return attempt;
  }
};

class NullBuffer : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

std::unique_ptr<Server> StartServer(grpc::Service* service, absl::string_view name) {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.service_name = std::string(name);
  options.shutdown_grace = absl::Seconds(1);
  return OrDie(Server::Start(options, {service}), absl::StrCat("start ", name));
}

}  // namespace

// Everything the stack runs, in construction order (destroyed in reverse
// after an explicit, ordered shutdown).
struct FuzzStack::Services::Parts {
  std::unique_ptr<Authenticator> auth = Authenticator::Disabled();

  std::unique_ptr<planning::PlanningStore> planning_store;
  std::unique_ptr<planning::Planning> planning;
  std::unique_ptr<WorkerPool> planning_pool;
  std::unique_ptr<planning::PlanningGrpcService> planning_service;
  std::unique_ptr<Server> planning_server;

  std::unique_ptr<tracking::TrackingStore> tracking_store;
  std::unique_ptr<tracking::PlanSource> tracking_plan;
  std::unique_ptr<tracking::Tracking> tracking;
  std::unique_ptr<WorkerPool> tracking_pool;
  std::unique_ptr<tracking::TrackingGrpcService> tracking_service;
  std::unique_ptr<Server> tracking_server;

  std::unique_ptr<notify::NotifyStore> notify_store;
  std::unique_ptr<tracking::PlanSource> notify_plan;
  std::unique_ptr<notify::TrackingSource> notify_tracking;
  NoNetworkSender sender;
  std::unique_ptr<notify::WebhookDispatcher> dispatcher;
  notify::WatchHub hub;
  std::unique_ptr<notify::Notify> notify;
  std::unique_ptr<WorkerPool> notify_pool;
  std::unique_ptr<notify::NotifyGrpcService> notify_service;
  std::unique_ptr<Server> notify_server;
};

FuzzStack::Services::Services(const std::string& dir, StackLevel level)
    : parts_(std::make_unique<Parts>()) {
  Parts& p = *parts_;
  const WorkerPoolOptions pool_options{.threads = 2, .max_queued = 64, .name = "fuzz"};

  p.planning_store =
      OrDie(planning::OpenPlanningStore(absl::StrCat("sqlite:", dir, "/planning.db")),
            "planning store");
  p.planning = std::make_unique<planning::Planning>(p.planning_store.get());
  p.planning_pool = std::make_unique<WorkerPool>(pool_options);
  p.planning_service = std::make_unique<planning::PlanningGrpcService>(
      p.planning.get(), p.planning_pool.get(), *p.auth);
  p.planning_server = StartServer(p.planning_service.get(), "planning");
  if (level == StackLevel::kPlanning) return;

  tracking::GrpcPlanSourceOptions plan_options;
  plan_options.address = p.planning_server->address();
  p.tracking_store =
      OrDie(tracking::OpenTrackingStore(absl::StrCat("sqlite:", dir, "/tracking.db")),
            "tracking store");
  p.tracking_plan = OrDie(tracking::NewGrpcPlanSource(plan_options), "tracking plan source");
  p.tracking = std::make_unique<tracking::Tracking>(p.tracking_store.get(),
                                                    p.tracking_plan.get(), nullptr);
  p.tracking_pool = std::make_unique<WorkerPool>(pool_options);
  p.tracking_service = std::make_unique<tracking::TrackingGrpcService>(
      p.tracking.get(), p.tracking_pool.get(), *p.auth);
  p.tracking_server = StartServer(p.tracking_service.get(), "tracking");
  if (level == StackLevel::kTracking) return;

  notify::GrpcTrackingSourceOptions tracking_options;
  tracking_options.address = p.tracking_server->address();
  p.notify_store = OrDie(notify::OpenNotifyStore(absl::StrCat("sqlite:", dir, "/notify.db")),
                         "notify store");
  p.notify_plan = OrDie(tracking::NewGrpcPlanSource(plan_options), "notify plan source");
  p.notify_tracking =
      OrDie(notify::NewGrpcTrackingSource(tracking_options), "notify tracking source");
  p.dispatcher = std::make_unique<notify::WebhookDispatcher>(p.notify_store.get(), &p.sender);
  p.notify = std::make_unique<notify::Notify>(p.notify_store.get(), p.notify_plan.get(),
                                              p.notify_tracking.get(), nullptr, &p.hub,
                                              p.dispatcher.get());
  p.notify_pool = std::make_unique<WorkerPool>(pool_options);
  p.notify_service = std::make_unique<notify::NotifyGrpcService>(
      p.notify.get(), &p.hub, p.notify_pool.get(), *p.auth);
  p.notify_server = StartServer(p.notify_service.get(), "notify");
}

FuzzStack::Services::~Services() {
  Parts& p = *parts_;
  // As the mains do: end streams, drain each server, run queued work, then
  // free, the callers (notify) before what they call (planning).
  if (p.notify_server != nullptr) {
    p.notify_service->Shutdown();
    p.notify_server->Shutdown();
    p.notify_pool->Shutdown();
  }
  if (p.tracking_server != nullptr) {
    p.tracking_server->Shutdown();
    p.tracking_pool->Shutdown();
  }
  p.planning_service->StopStreams();
  p.planning_server->Shutdown();
  p.planning_service->WaitForStreams(absl::Seconds(5));
  p.planning_pool->Shutdown();
  if (p.dispatcher != nullptr) p.dispatcher->Stop();
}

planning::Planning& FuzzStack::Services::planning() { return *parts_->planning; }

std::shared_ptr<grpc::Channel> FuzzStack::Services::Channel(StackLevel level) const {
  const Parts& p = *parts_;
  Server* server = level == StackLevel::kPlanning   ? p.planning_server.get()
                   : level == StackLevel::kTracking ? p.tracking_server.get()
                                                    : p.notify_server.get();
  return server->grpc_server()->InProcessChannel(grpc::ChannelArguments());
}

FuzzStack::FuzzStack(StackLevel level) : level_(level) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                     "/okr-fuzz-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) Die("mkdtemp", absl::InternalError(pattern));
  dir_ = pattern;
  services_ = std::make_unique<Services>(dir_, level);
  Bootstrap();
}

FuzzStack::~FuzzStack() {
  services_.reset();
  for (const char* name : {"planning.db", "tracking.db", "notify.db"}) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove(absl::StrCat(dir_, "/", name, suffix).c_str());
    }
  }
  std::remove(dir_.c_str());
}

std::shared_ptr<grpc::Channel> FuzzStack::Channel(StackLevel level) const {
  return services_->Channel(level);
}

void FuzzStack::Bootstrap() {
  std::ifstream in(OKR_FUZZ_EXAMPLE_CSV, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string csv = buffer.str();
  const PlanCsv file = OrDie(ParsePlanCsv(csv), OKR_FUZZ_EXAMPLE_CSV);

  planning::Planning& planning = services_->planning();
  Organisation organisation;
  organisation.name = "Retail";
  organisation.mission = "Turn customers into lifelong fans.";
  OrDie(planning.BootstrapOrganisation(kFuzzOrganisation, organisation, {}), "bootstrap");
  std::set<std::string> seen;
  for (const Person& p : file.plan.people) {
    if (!seen.insert("p:" + p.display_name).second) continue;
    Person person;
    person.display_name = p.display_name;
    OrDie(planning.CreatePerson(kFuzzOrganisation, person, {}), "create person");
  }
  for (const Team& t : file.plan.teams) {
    if (!seen.insert("t:" + t.name).second) continue;
    Team team;
    team.name = t.name;
    OrDie(planning.CreateTeam(kFuzzOrganisation, team, {}), "create team");
  }
  for (const Cycle& c : file.plan.cycles) {
    int year = 0;
    if (c.name.size() < 6 || !absl::SimpleAtoi(c.name.substr(2, 4), &year)) continue;
    if (!seen.insert(c.name.substr(0, 6)).second) continue;
    OrDie(planning.CreateFiscalYear(kFuzzOrganisation, year, false, std::nullopt, {}),
          "create fiscal year");
  }
  OrDie(planning.ImportPlanCsv(kFuzzOrganisation, csv, "", false, {}), "import");

  // Learn the ids through the API, as an input would see them.
  const google::protobuf::ServiceDescriptor& planning_service = PlanningDescriptor();
  for (const char* list : {"ListPeople", "ListTeams", "ListCycles", "ListObjectives",
                           "ListKeyResults"}) {
    const google::protobuf::MethodDescriptor* method = planning_service.FindMethodByName(list);
    std::unique_ptr<Message> request(NewMessage(*method->input_type()));
    const FieldDescriptor* page_size = method->input_type()->FindFieldByName("page_size");
    if (page_size != nullptr) request->GetReflection()->SetInt32(request.get(), page_size, 500);
    Call(StackLevel::kPlanning, *method, *request, kFuzzOrganisation);
  }
  if (level_ == StackLevel::kPlanning) return;
  // A check-in on every known key result, so tracking has scores to read.
  const google::protobuf::MethodDescriptor* record =
      TrackingDescriptor().FindMethodByName("RecordCheckIn");
  for (int i = 0; i < 8; ++i) {
    std::unique_ptr<Message> request(NewMessage(*record->input_type()));
    const Reflection& r = *request->GetReflection();
    r.SetString(request.get(), record->input_type()->FindFieldByName("key_result_id"),
                absl::StrCat("@kr", i));
    r.SetDouble(request.get(), record->input_type()->FindFieldByName("value"), 1.0 + i);
    r.SetString(request.get(), record->input_type()->FindFieldByName("client_key"),
                absl::StrCat("bootstrap-", i));
    Call(StackLevel::kTracking, *record, *request, kFuzzOrganisation);
  }
}

grpc::Status FuzzStack::Call(StackLevel level, const google::protobuf::MethodDescriptor& method,
                             Message& request, absl::string_view organisation) {
  ReplacePlaceholders(request, 0);
  std::shared_ptr<grpc::Channel> channel = Channel(level);
  const std::string path =
      absl::StrCat("/", method.service()->full_name(), "/", method.name());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  context.AddMetadata(std::string(kOrganisationMetadata), std::string(organisation));
  std::unique_ptr<Message> response(NewMessage(*method.output_type()));
  const grpc::Status status = grpc::internal::BlockingUnaryCall<Message, Message>(
      channel.get(), grpc::internal::RpcMethod(path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC),
      &context, request, response.get());
  if (status.ok()) Harvest(*response, 0);
  return status;
}

void FuzzStack::ReplacePlaceholders(Message& message, int depth) {
  if (depth > kMaxDepth) return;
  const Reflection& r = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r.ListFields(message, &fields);
  auto replace = [this](const std::string& value) -> std::optional<std::string> {
    // "@obj3": prefix letters, then an index.
    if (value.size() < 2 || value[0] != '@') return std::nullopt;
    size_t end = 1;
    while (end < value.size() && absl::ascii_islower(value[end])) ++end;
    auto known = ids_.find(value.substr(1, end - 1));
    if (known == ids_.end() || known->second.empty()) return std::nullopt;
    uint32_t index = 0;
    if (!absl::SimpleAtoi(value.substr(end), &index)) index = 0;
    return known->second[index % known->second.size()];
  };
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      if (field->is_repeated()) {
        for (int i = 0; i < r.FieldSize(message, field); ++i) {
          if (auto id = replace(r.GetRepeatedString(message, field, i))) {
            r.SetRepeatedString(&message, field, i, *id);
          }
        }
      } else if (auto id = replace(r.GetString(message, field))) {
        r.SetString(&message, field, *id);
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < r.FieldSize(message, field); ++i) {
          ReplacePlaceholders(*r.MutableRepeatedMessage(&message, field, i), depth + 1);
        }
      } else {
        ReplacePlaceholders(*r.MutableMessage(&message, field), depth + 1);
      }
    }
  }
}

void FuzzStack::Harvest(const Message& message, int depth) {
  if (depth > kMaxDepth) return;
  const Reflection& r = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r.ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      if (field->is_repeated()) {
        for (int i = 0; i < r.FieldSize(message, field); ++i) {
          Remember(r.GetRepeatedString(message, field, i));
        }
      } else {
        Remember(r.GetString(message, field));
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < r.FieldSize(message, field); ++i) {
          Harvest(r.GetRepeatedMessage(message, field, i), depth + 1);
        }
      } else {
        Harvest(r.GetMessage(message, field), depth + 1);
      }
    }
  }
}

void FuzzStack::Remember(const std::string& value) {
  const absl::string_view prefix = IdPrefix(value);
  if (prefix.empty()) return;
  std::vector<std::string>& known = ids_[prefix];
  for (const std::string& id : known) {
    if (id == value) return;
  }
  if (known.size() < kMaxIdsPerPrefix) {
    known.push_back(value);
    return;
  }
  // Keep the bootstrap's first ids stable: they are what the corpus names.
  size_t& slot = next_slot_[prefix];
  known[kMaxIdsPerPrefix / 2 + slot] = value;
  slot = (slot + 1) % (kMaxIdsPerPrefix / 2);
}

namespace {

const google::protobuf::ServiceDescriptor& FindService(absl::string_view name) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(std::string(name));
  if (service == nullptr) Die(name, absl::NotFoundError("no such service"));
  return *service;
}

}  // namespace

const google::protobuf::ServiceDescriptor& PlanningDescriptor() {
  return FindService(v1::PlanningService::service_full_name());
}
const google::protobuf::ServiceDescriptor& TrackingDescriptor() {
  return FindService(v1::TrackingService::service_full_name());
}
const google::protobuf::ServiceDescriptor& NotifyDescriptor() {
  return FindService(v1::NotifyService::service_full_name());
}

std::unique_ptr<Message> NewMessage(const google::protobuf::Descriptor& type) {
  return std::unique_ptr<Message>(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(&type)->New());
}

std::vector<const google::protobuf::MethodDescriptor*> UnaryMethods(
    const google::protobuf::ServiceDescriptor& service) {
  std::vector<const google::protobuf::MethodDescriptor*> methods;
  for (int i = 0; i < service.method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = service.method(i);
    if (!method->client_streaming() && !method->server_streaming()) methods.push_back(method);
  }
  return methods;
}

namespace {

// The process's stack. Not a static object: it is torn down by an atexit
// handler instead, which runs before gRPC's own static destructors, so its
// server threads never outlive what they use (libFuzzer leaves through
// exit()).
FuzzStack* shared_stack = nullptr;

void DeleteSharedStack() {
  delete shared_stack;
  shared_stack = nullptr;
}

}  // namespace

FuzzStack& SharedStack(StackLevel level, int reset_every) {
  static int inputs = 0;
  if (shared_stack == nullptr && inputs == 0) {
    QuietLogs();
    std::atexit(DeleteSharedStack);
  }
  if (++inputs % reset_every == 0) DeleteSharedStack();
  if (shared_stack == nullptr) shared_stack = new FuzzStack(level);
  return *shared_stack;
}

void RunServiceInput(StackLevel level, const google::protobuf::ServiceDescriptor& service,
                     const uint8_t* data, size_t size, int reset_every) {
  const std::vector<const google::protobuf::MethodDescriptor*> methods = UnaryMethods(service);
  if (size == 0 || methods.empty()) return;
  const google::protobuf::MethodDescriptor& method = *methods[(data[0] & 0x7f) % methods.size()];
  const absl::string_view organisation =
      (data[0] & 0x80) != 0 ? kUnknownOrganisation : kFuzzOrganisation;
  std::unique_ptr<Message> request(NewMessage(*method.input_type()));
  if (!request->ParseFromArray(data + 1, static_cast<int>(size - 1))) return;
  const grpc::Status status =
      SharedStack(level, reset_every).Call(level, method, *request, organisation);
  // OKR_FUZZ_VERBOSE=1 shows what each input reached, to check a corpus.
  static const bool verbose = std::getenv("OKR_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "%s: %d %s\n", method.name().c_str(), status.error_code(),
                 status.error_message().c_str());
  }
}

void QuietLogs() {
  static NullBuffer buffer;
  static std::ostream sink(&buffer);
  InitLogging("fuzz", sink);
}

}  // namespace okr::fuzz
