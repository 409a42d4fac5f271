// Checks of the okr.v1 contracts: the API conventions of docs/api.md, read
// from a descriptor set with source info built from the .proto files; the one
// to one mapping of the enums onto common/model.h; and round trips of the
// generated C++ messages (binary, JSON, error details).

#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/model.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/support/error_details.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"
#include "okr/v1/common.pb.h"
#include "okr/v1/notify.pb.h"
#include "okr/v1/planning.grpc.pb.h"
#include "okr/v1/planning.pb.h"
#include "okr/v1/tracking.pb.h"

namespace okr {
namespace {

namespace pb = ::google::protobuf;
using ::testing::IsEmpty;

// Zero values that are not *_UNSPECIFIED on purpose (AIP-126 allows a
// meaningful zero value); each must say so in its comment.
const std::set<std::string>& ZeroValueExceptions() {
  static const auto* const kExceptions = new std::set<std::string>{
      "CATEGORY_NONE", "DATA_SOURCE_UNKNOWN", "ALIGNMENT_KIND_NONE"};
  return *kExceptions;
}

// Update RPCs that change one field through a dedicated request and so carry
// a version but no field mask.
const std::set<std::string>& UpdatesWithoutMask() {
  static const auto* const kRpcs = new std::set<std::string>{"UpdateCycleState"};
  return *kRpcs;
}

// "KeyResultType" -> "KEY_RESULT_TYPE": the prefix AIP-126 asks of values.
std::string UpperSnake(absl::string_view camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    const char c = camel[i];
    if (i > 0 && absl::ascii_isupper(c)) out.push_back('_');
    out.push_back(absl::ascii_toupper(c));
  }
  return out;
}

template <typename D>
std::string LeadingComment(const D* d) {
  pb::SourceLocation loc;
  if (!d->GetSourceLocation(&loc)) return "";
  return std::string(absl::StripAsciiWhitespace(loc.leading_comments));
}

// Loads the descriptor set written at build time into a pool of its own
// (the generated pool carries no comments).
class ContractTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream in(OKR_V1_DESCRIPTOR_SET, std::ios::binary);
    ASSERT_TRUE(in) << "cannot open " << OKR_V1_DESCRIPTOR_SET;
    std::stringstream bytes;
    bytes << in.rdbuf();
    pb::FileDescriptorSet set;
    ASSERT_TRUE(set.ParseFromString(bytes.str()));
    pool_ = new pb::DescriptorPool();
    files_ = new std::vector<const pb::FileDescriptor*>();
    // --include_imports lists dependencies before their users.
    for (const pb::FileDescriptorProto& file : set.file()) {
      const pb::FileDescriptor* built = pool_->BuildFile(file);
      ASSERT_NE(built, nullptr) << "cannot build " << file.name();
      if (built->package() == "okr.v1") files_->push_back(built);
    }
  }

  static void TearDownTestSuite() {
    delete files_;
    files_ = nullptr;
    delete pool_;
    pool_ = nullptr;
  }

  // Every message of okr.v1, nested ones included.
  static std::vector<const pb::Descriptor*> AllMessages() {
    std::vector<const pb::Descriptor*> out;
    std::vector<const pb::Descriptor*> todo;
    for (const auto* file : *files_) {
      for (int i = 0; i < file->message_type_count(); ++i) todo.push_back(file->message_type(i));
    }
    while (!todo.empty()) {
      const pb::Descriptor* m = todo.back();
      todo.pop_back();
      out.push_back(m);
      for (int i = 0; i < m->nested_type_count(); ++i) todo.push_back(m->nested_type(i));
    }
    return out;
  }

  static std::vector<const pb::EnumDescriptor*> AllEnums() {
    std::vector<const pb::EnumDescriptor*> out;
    for (const auto* file : *files_) {
      for (int i = 0; i < file->enum_type_count(); ++i) out.push_back(file->enum_type(i));
    }
    for (const auto* m : AllMessages()) {
      for (int i = 0; i < m->enum_type_count(); ++i) out.push_back(m->enum_type(i));
    }
    return out;
  }

  static std::vector<const pb::MethodDescriptor*> AllMethods() {
    std::vector<const pb::MethodDescriptor*> out;
    for (const auto* file : *files_) {
      for (int s = 0; s < file->service_count(); ++s) {
        for (int m = 0; m < file->service(s)->method_count(); ++m) {
          out.push_back(file->service(s)->method(m));
        }
      }
    }
    return out;
  }

  // The problem with `field` of `message`, or "" when it exists with `type`.
  static std::string CheckField(const pb::Descriptor* message, absl::string_view field,
                                pb::FieldDescriptor::Type type) {
    const pb::FieldDescriptor* f = message->FindFieldByName(std::string(field));
    if (f == nullptr) return absl::StrCat(message->full_name(), " has no ", field);
    if (f->type() != type || f->is_repeated()) {
      return absl::StrCat(message->full_name(), ".", field, " has the wrong type");
    }
    return "";
  }

  static pb::DescriptorPool* pool_;
  static std::vector<const pb::FileDescriptor*>* files_;
};

pb::DescriptorPool* ContractTest::pool_ = nullptr;
std::vector<const pb::FileDescriptor*>* ContractTest::files_ = nullptr;

TEST_F(ContractTest, LoadsAllFourFilesAndThreeServices) {
  std::vector<std::string> services;
  for (const auto* file : *files_) {
    for (int s = 0; s < file->service_count(); ++s) {
      services.push_back(file->service(s)->full_name());
    }
  }
  EXPECT_EQ(files_->size(), 4u);
  EXPECT_THAT(services, ::testing::UnorderedElementsAre("okr.v1.PlanningService",
                                                        "okr.v1.TrackingService",
                                                        "okr.v1.NotifyService"));
  for (const auto* file : *files_) {
    EXPECT_TRUE(file->options().cc_enable_arenas()) << file->name();
  }
}

TEST_F(ContractTest, EveryElementHasALeadingComment) {
  std::vector<std::string> missing;
  for (const auto* m : AllMessages()) {
    if (LeadingComment(m).empty()) missing.push_back(m->full_name());
    for (int i = 0; i < m->field_count(); ++i) {
      if (LeadingComment(m->field(i)).empty()) missing.push_back(m->field(i)->full_name());
    }
    // real_oneof_decl: proto3 `optional` fields get synthetic oneofs with
    // no source of their own.
    for (int i = 0; i < m->real_oneof_decl_count(); ++i) {
      if (LeadingComment(m->oneof_decl(i)).empty()) {
        missing.push_back(m->oneof_decl(i)->full_name());
      }
    }
  }
  for (const auto* e : AllEnums()) {
    if (LeadingComment(e).empty()) missing.push_back(e->full_name());
    for (int i = 0; i < e->value_count(); ++i) {
      if (LeadingComment(e->value(i)).empty()) missing.push_back(e->value(i)->full_name());
    }
  }
  for (const auto* file : *files_) {
    for (int s = 0; s < file->service_count(); ++s) {
      if (LeadingComment(file->service(s)).empty()) missing.push_back(file->service(s)->full_name());
    }
  }
  for (const auto* method : AllMethods()) {
    if (LeadingComment(method).empty()) missing.push_back(method->full_name());
  }
  EXPECT_THAT(missing, IsEmpty()) << "elements without a leading comment";
}

TEST_F(ContractTest, EveryRpcDocumentsItsStatusCodes) {
  std::vector<std::string> undocumented;
  for (const auto* method : AllMethods()) {
    if (!absl::StrContains(LeadingComment(method), "Errors:")) {
      undocumented.push_back(method->full_name());
    }
  }
  EXPECT_THAT(undocumented, IsEmpty());
}

TEST_F(ContractTest, EnumZeroValuesAreUnspecifiedOrDocumentedExceptions) {
  std::vector<std::string> bad;
  for (const auto* e : AllEnums()) {
    const pb::EnumValueDescriptor* zero = e->FindValueByNumber(0);
    if (zero == nullptr) {
      bad.push_back(absl::StrCat(e->full_name(), ": no zero value"));
      continue;
    }
    if (absl::EndsWith(zero->name(), "_UNSPECIFIED")) continue;
    if (ZeroValueExceptions().count(zero->name()) == 0 ||
        !absl::StrContains(LeadingComment(zero), "Zero-value exception")) {
      bad.push_back(zero->full_name());
    }
  }
  EXPECT_THAT(bad, IsEmpty());
}

TEST_F(ContractTest, EnumValuesCarryTheEnumPrefix) {
  std::vector<std::string> bad;
  for (const auto* e : AllEnums()) {
    const std::string prefix = UpperSnake(e->name()) + "_";
    for (int i = 0; i < e->value_count(); ++i) {
      if (!absl::StartsWith(e->value(i)->name(), prefix)) bad.push_back(e->value(i)->name());
    }
  }
  EXPECT_THAT(bad, IsEmpty());
}

TEST_F(ContractTest, ListRpcsArePaginated) {
  std::vector<std::string> problems;
  int lists = 0;
  for (const auto* method : AllMethods()) {
    if (!absl::StartsWith(method->name(), "List")) continue;
    ++lists;
    for (const std::string& p :
         {CheckField(method->input_type(), "page_size", pb::FieldDescriptor::TYPE_INT32),
          CheckField(method->input_type(), "page_token", pb::FieldDescriptor::TYPE_STRING),
          CheckField(method->output_type(), "next_page_token", pb::FieldDescriptor::TYPE_STRING)}) {
      if (!p.empty()) problems.push_back(p);
    }
  }
  EXPECT_GE(lists, 15);
  EXPECT_THAT(problems, IsEmpty());
}

TEST_F(ContractTest, UpdateRpcsCarryVersionAndFieldMask) {
  std::vector<std::string> problems;
  for (const auto* method : AllMethods()) {
    if (!absl::StartsWith(method->name(), "Update")) continue;
    const std::string p =
        CheckField(method->input_type(), "version", pb::FieldDescriptor::TYPE_INT64);
    if (!p.empty()) problems.push_back(p);
    if (UpdatesWithoutMask().count(method->name()) > 0) continue;
    const pb::FieldDescriptor* mask = method->input_type()->FindFieldByName("update_mask");
    if (mask == nullptr || mask->message_type() == nullptr ||
        mask->message_type()->full_name() != "google.protobuf.FieldMask") {
      problems.push_back(absl::StrCat(method->full_name(), ": no FieldMask update_mask"));
    }
    if (!absl::StrContains(LeadingComment(method), "ABORTED")) {
      problems.push_back(absl::StrCat(method->full_name(), ": ABORTED not documented"));
    }
  }
  EXPECT_THAT(problems, IsEmpty());
}

TEST_F(ContractTest, CreateRpcsCarryRequestId) {
  std::vector<std::string> problems;
  for (const auto* method : AllMethods()) {
    if (!absl::StartsWith(method->name(), "Create")) continue;
    const std::string p =
        CheckField(method->input_type(), "request_id", pb::FieldDescriptor::TYPE_STRING);
    if (!p.empty()) problems.push_back(p);
  }
  EXPECT_THAT(problems, IsEmpty());
}

TEST_F(ContractTest, OnlyBootstrapNamesAnOrganisation) {
  // Tenancy comes from credentials: no other message may carry an
  // organisation id that a caller could forge.
  std::vector<std::string> carriers;
  for (const auto* m : AllMessages()) {
    for (int i = 0; i < m->field_count(); ++i) {
      if (absl::StrContains(m->field(i)->name(), "organisation_id")) {
        carriers.push_back(m->field(i)->full_name());
      }
    }
  }
  EXPECT_THAT(carriers, ::testing::ElementsAre(
                            "okr.v1.BootstrapOrganisationRequest.organisation_id"));
}

TEST_F(ContractTest, NoFieldIsNamedAfterAKeyword) {
  static const std::set<std::string> kKeywords = {"from", "to", "class", "default",
                                                  "delete", "new", "import"};
  std::vector<std::string> bad;
  for (const auto* m : AllMessages()) {
    for (int i = 0; i < m->field_count(); ++i) {
      if (kKeywords.count(m->field(i)->name()) > 0) bad.push_back(m->field(i)->full_name());
    }
  }
  EXPECT_THAT(bad, IsEmpty());
}

TEST_F(ContractTest, WatchRpcsAreServerStreamingAndOthersUnary) {
  std::vector<std::string> bad;
  for (const auto* method : AllMethods()) {
    const bool watch = absl::StartsWith(method->name(), "Watch");
    if (method->client_streaming() || method->server_streaming() != watch) {
      bad.push_back(method->full_name());
    }
  }
  EXPECT_THAT(bad, IsEmpty());
}

TEST_F(ContractTest, BadRequestIsWireCompatibleWithGoogleRpc) {
  // google.rpc.BadRequest: field_violations = 1 (repeated message) with
  // FieldViolation.field = 1 and .description = 2 (strings).
  const pb::Descriptor* bad_request = pool_->FindMessageTypeByName("okr.v1.BadRequest");
  ASSERT_NE(bad_request, nullptr);
  const pb::FieldDescriptor* violations = bad_request->FindFieldByNumber(1);
  ASSERT_NE(violations, nullptr);
  EXPECT_TRUE(violations->is_repeated());
  ASSERT_EQ(violations->type(), pb::FieldDescriptor::TYPE_MESSAGE);
  const pb::Descriptor* violation = violations->message_type();
  ASSERT_EQ(violation->field_count(), 2);
  EXPECT_EQ(violation->FindFieldByNumber(1)->type(), pb::FieldDescriptor::TYPE_STRING);
  EXPECT_EQ(violation->FindFieldByNumber(2)->type(), pb::FieldDescriptor::TYPE_STRING);
  EXPECT_EQ(bad_request->field_count(), 1);
}

// ---------------------------------------------------------------------------
// Enum mapping onto common/model.h
// ---------------------------------------------------------------------------

// Walks the model enum by ordinal until okr::Name() no longer knows the value
// and expects the proto enum to have exactly those values, same numbers, named
// prefix + Name(v).
template <typename E>
void ExpectMapsOntoModel(const pb::EnumDescriptor* proto) {
  const std::string prefix = UpperSnake(proto->name()) + "_";
  int count = 1;
  while (Name(static_cast<E>(count)) != "UNSPECIFIED") ++count;
  EXPECT_EQ(proto->value_count(), count) << proto->full_name();
  for (int i = 0; i < count; ++i) {
    const pb::EnumValueDescriptor* value = proto->FindValueByNumber(i);
    ASSERT_NE(value, nullptr) << proto->full_name() << " has no value " << i;
    EXPECT_EQ(value->name(), prefix + std::string(Name(static_cast<E>(i))));
  }
}

TEST(EnumMappingTest, EveryModelEnumMapsOneToOne) {
  ExpectMapsOntoModel<PlanningProfile>(v1::PlanningProfile_descriptor());
  ExpectMapsOntoModel<CycleKind>(v1::CycleKind_descriptor());
  ExpectMapsOntoModel<CycleState>(v1::CycleState_descriptor());
  ExpectMapsOntoModel<Level>(v1::Level_descriptor());
  ExpectMapsOntoModel<ObjectiveKind>(v1::ObjectiveKind_descriptor());
  ExpectMapsOntoModel<Category>(v1::Category_descriptor());
  ExpectMapsOntoModel<ObjectiveState>(v1::ObjectiveState_descriptor());
  ExpectMapsOntoModel<KeyResultType>(v1::KeyResultType_descriptor());
  ExpectMapsOntoModel<Measure>(v1::Measure_descriptor());
  ExpectMapsOntoModel<Direction>(v1::Direction_descriptor());
  ExpectMapsOntoModel<DataSource>(v1::DataSource_descriptor());
  ExpectMapsOntoModel<ProgressSource>(v1::ProgressSource_descriptor());
  ExpectMapsOntoModel<CheckInStatus>(v1::CheckInStatus_descriptor());
  ExpectMapsOntoModel<Grade>(v1::Grade_descriptor());
  ExpectMapsOntoModel<AlignmentKind>(v1::AlignmentKind_descriptor());
  ExpectMapsOntoModel<ReviewKind>(v1::ReviewKind_descriptor());
  ExpectMapsOntoModel<ResourceKind>(v1::ResourceKind_descriptor());
}

// ---------------------------------------------------------------------------
// Round trips of generated messages
// ---------------------------------------------------------------------------

v1::KeyResult SampleKeyResult() {
  v1::KeyResult kr;
  kr.set_id("kr_1");
  kr.set_objective_id("obj_1");
  kr.set_title("Increase in-store pre-sale attendance from 350 to 500 people");
  kr.set_type(v1::KEY_RESULT_TYPE_METRIC);
  kr.set_measure(v1::MEASURE_KPI);
  kr.set_start_value(350);
  kr.set_target_value(500);
  kr.set_unit("people");
  kr.set_direction(v1::DIRECTION_INCREASE);
  kr.set_weight(2.5);
  kr.set_data_source(v1::DATA_SOURCE_SPREADSHEET);
  kr.set_version(3);
  kr.mutable_create_time()->set_seconds(1800000000);
  return kr;
}

TEST(RoundTripTest, KeyResultSurvivesBinary) {
  const v1::KeyResult kr = SampleKeyResult();
  std::string bytes;
  ASSERT_TRUE(kr.SerializeToString(&bytes));
  v1::KeyResult parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_TRUE(pb::util::MessageDifferencer::Equals(kr, parsed));
  EXPECT_DOUBLE_EQ(parsed.target_value() - parsed.start_value(), 150);
  EXPECT_EQ(parsed.direction(), v1::DIRECTION_INCREASE);
}

TEST(RoundTripTest, KeyResultSurvivesJson) {
  const v1::KeyResult kr = SampleKeyResult();
  std::string json;
  ASSERT_TRUE(pb::util::MessageToJsonString(kr, &json).ok());
  // lowerCamelCase names, enum names, RFC 3339 timestamps, int64 as string.
  EXPECT_THAT(json, ::testing::HasSubstr("\"startValue\":350"));
  EXPECT_THAT(json, ::testing::HasSubstr("\"direction\":\"DIRECTION_INCREASE\""));
  EXPECT_THAT(json, ::testing::HasSubstr("\"createTime\":\"2027-01-15T08:00:00Z\""));
  EXPECT_THAT(json, ::testing::HasSubstr("\"version\":\"3\""));
  v1::KeyResult parsed;
  ASSERT_TRUE(pb::util::JsonStringToMessage(json, &parsed).ok());
  EXPECT_TRUE(pb::util::MessageDifferencer::Equals(kr, parsed));
}

TEST(RoundTripTest, CheckInKeepsPresenceOfZeroValues) {
  // A metric value of 0 or a confidence of 0 is data, not "absent".
  v1::CheckIn check_in;
  check_in.set_key_result_id("kr_1");
  check_in.set_value(0);
  check_in.set_confidence(0);
  std::string bytes;
  ASSERT_TRUE(check_in.SerializeToString(&bytes));
  v1::CheckIn parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed.has_confidence());
  EXPECT_FALSE(parsed.has_done());

  v1::CheckIn empty;
  ASSERT_TRUE(empty.ParseFromString(""));
  EXPECT_FALSE(empty.has_value());
  EXPECT_FALSE(empty.has_confidence());
}

TEST(RoundTripTest, RecordCheckInProgressIsExclusive) {
  v1::RecordCheckInRequest request;
  request.set_value(42);
  request.set_done(true);  // replaces the value: one kind of progress only
  EXPECT_EQ(request.progress_case(), v1::RecordCheckInRequest::kDone);
  std::string json;
  ASSERT_TRUE(pb::util::MessageToJsonString(request, &json).ok());
  EXPECT_THAT(json, ::testing::Not(::testing::HasSubstr("value")));
}

TEST(RoundTripTest, PlanChangeCarriesItsSnapshot) {
  v1::PlanChange change;
  change.set_sequence(17);
  change.mutable_resource()->set_kind(v1::RESOURCE_KIND_KEY_RESULT);
  change.mutable_resource()->set_id("kr_1");
  *change.mutable_key_result() = SampleKeyResult();
  std::string bytes;
  ASSERT_TRUE(change.SerializeToString(&bytes));
  v1::PlanChange parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  ASSERT_EQ(parsed.snapshot_case(), v1::PlanChange::kKeyResult);
  EXPECT_EQ(parsed.key_result().title(), SampleKeyResult().title());
}

// google.rpc.BadRequest built by hand, as a client with googleapis has it.
std::unique_ptr<pb::DescriptorPool> GoogleRpcPool() {
  pb::FileDescriptorProto file;
  file.set_name("google/rpc/error_details_subset.proto");
  file.set_package("google.rpc");
  file.set_syntax("proto3");
  pb::DescriptorProto* bad_request = file.add_message_type();
  bad_request->set_name("BadRequest");
  pb::DescriptorProto* violation = bad_request->add_nested_type();
  violation->set_name("FieldViolation");
  for (const auto& [name, number] : {std::pair<const char*, int>{"field", 1}, {"description", 2}}) {
    pb::FieldDescriptorProto* f = violation->add_field();
    f->set_name(name);
    f->set_number(number);
    f->set_type(pb::FieldDescriptorProto::TYPE_STRING);
    f->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
  }
  pb::FieldDescriptorProto* list = bad_request->add_field();
  list->set_name("field_violations");
  list->set_number(1);
  list->set_type(pb::FieldDescriptorProto::TYPE_MESSAGE);
  list->set_type_name(".google.rpc.BadRequest.FieldViolation");
  list->set_label(pb::FieldDescriptorProto::LABEL_REPEATED);
  auto pool = std::make_unique<pb::DescriptorPool>();
  if (pool->BuildFile(file) == nullptr) return nullptr;
  return pool;
}

TEST(RoundTripTest, ErrorDetailsDecodeAsGoogleRpcBadRequest) {
  v1::BadRequest bad_request;
  auto* violation = bad_request.add_field_violations();
  violation->set_field("key_result.target_value");
  violation->set_description("must differ from start_value");
  v1::RpcStatus rpc_status;
  rpc_status.set_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  rpc_status.set_message("key_result.target_value: must differ from start_value");
  pb::Any* any = rpc_status.add_details();
  any->set_type_url("type.googleapis.com/google.rpc.BadRequest");
  ASSERT_TRUE(bad_request.SerializeToString(any->mutable_value()));

  // Through grpc-status-details-bin and back, as the services send it.
  grpc::Status status;
  ASSERT_TRUE(grpc::SetErrorDetails(rpc_status, &status).ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::RpcStatus received;
  ASSERT_TRUE(grpc::ExtractErrorDetails(status, &received).ok());
  ASSERT_EQ(received.details_size(), 1);
  EXPECT_EQ(received.message(), rpc_status.message());

  // A client that only knows google.rpc.BadRequest reads the same fields.
  std::unique_ptr<pb::DescriptorPool> pool = GoogleRpcPool();
  ASSERT_NE(pool, nullptr);
  const pb::Descriptor* google_bad_request = pool->FindMessageTypeByName("google.rpc.BadRequest");
  ASSERT_NE(google_bad_request, nullptr);
  pb::DynamicMessageFactory factory(pool.get());
  std::unique_ptr<pb::Message> decoded(factory.GetPrototype(google_bad_request)->New());
  ASSERT_TRUE(decoded->ParseFromString(received.details(0).value()));
  const pb::Reflection* reflection = decoded->GetReflection();
  const pb::FieldDescriptor* list = google_bad_request->FindFieldByName("field_violations");
  ASSERT_EQ(reflection->FieldSize(*decoded, list), 1);
  const pb::Message& first = reflection->GetRepeatedMessage(*decoded, list, 0);
  const pb::Descriptor* fv = list->message_type();
  EXPECT_EQ(first.GetReflection()->GetString(first, fv->FindFieldByName("field")),
            "key_result.target_value");
  EXPECT_EQ(first.GetReflection()->GetString(first, fv->FindFieldByName("description")),
            "must differ from start_value");
}

TEST(RoundTripTest, ServiceStubsAreGenerated) {
  // The gRPC plugin output links: the service names are those of the contract.
  EXPECT_STREQ(v1::PlanningService::service_full_name(), "okr.v1.PlanningService");
  const pb::ServiceDescriptor* planning =
      pb::DescriptorPool::generated_pool()->FindServiceByName("okr.v1.PlanningService");
  ASSERT_NE(planning, nullptr);
  EXPECT_NE(planning->FindMethodByName("WatchPlanChanges"), nullptr);
}

}  // namespace
}  // namespace okr
