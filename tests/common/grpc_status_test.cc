// Tests of the absl <-> gRPC status conversion: codes and messages, and field
// violations carried as an okr.v1.RpcStatus with a BadRequest detail in
// grpc-status-details-bin. The in-process end-to-end check over a real
// channel is in server_test.cc.
#include "common/grpc_status.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/unknown_field_set.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "okr/v1/common.pb.h"

namespace okr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Written out here rather than taken from grpc_status.h: a wrong constant
// there must fail these tests.
constexpr char kGoogleBadRequestUrl[] =
    "type.googleapis.com/google.rpc.BadRequest";

const std::vector<FieldViolation>& TwoViolations() {
  static const auto* const kViolations = new std::vector<FieldViolation>{
      {"objective.title", "must not be empty"},
      {"key_result.target_value",
       "must differ from start_value unless direction is AT_LEAST or "
       "AT_MOST"},
  };
  return *kViolations;
}

std::string Text(const FieldViolation& violation) {
  return absl::StrCat(violation.field, ": ", violation.description);
}

// Decodes grpc-status-details-bin the way a client with our protos would.
struct DecodedDetails {
  v1::RpcStatus rpc_status;
  // The violations of each BadRequest detail, in order.
  std::vector<std::vector<FieldViolation>> bad_requests;
  // The type URLs of all details, in order.
  std::vector<std::string> type_urls;
};

absl::optional<DecodedDetails> Decode(const std::string& bytes) {
  DecodedDetails out;
  if (!out.rpc_status.ParseFromString(bytes)) return absl::nullopt;
  for (const google::protobuf::Any& any : out.rpc_status.details()) {
    out.type_urls.push_back(any.type_url());
    if (any.type_url() != kGoogleBadRequestUrl) continue;
    v1::BadRequest bad_request;
    if (!bad_request.ParseFromString(any.value())) return absl::nullopt;
    std::vector<FieldViolation> violations;
    for (const auto& v : bad_request.field_violations()) {
      violations.push_back({v.field(), v.description()});
    }
    out.bad_requests.push_back(std::move(violations));
  }
  return out;
}

// --- codes and messages ------------------------------------------------------

TEST(GrpcStatusTest, EveryCanonicalCodeAndMessageSurviveBothWays) {
  for (int raw = 1; raw <= 16; ++raw) {
    const absl::Status in(static_cast<absl::StatusCode>(raw),
                          absl::StrCat("message ", raw));
    const grpc::Status g = ToGrpcStatus(in);
    EXPECT_EQ(static_cast<int>(g.error_code()), raw);
    EXPECT_EQ(g.error_message(), absl::StrCat("message ", raw));
    EXPECT_EQ(ToAbslStatus(g), in);
  }
  // Spot checks against grpc's own enumerators, independent of the numbers.
  EXPECT_EQ(ToGrpcStatus(absl::AbortedError("stale version")).error_code(),
            grpc::StatusCode::ABORTED);
  EXPECT_EQ(ToGrpcStatus(absl::UnauthenticatedError("x")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      ToAbslStatus(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "x"))
          .code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(ToAbslStatus(grpc::Status::OK).ok());
  EXPECT_EQ(ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(99), "odd"))
                .error_code(),
            grpc::StatusCode::UNKNOWN);
}

TEST(GrpcStatusTest, StatusWithoutViolationsCarriesNoDetails) {
  for (const absl::Status& status :
       {absl::InvalidArgumentError("page_size: must be <= 500"),
        absl::NotFoundError("no such cycle"), absl::InternalError("bug"),
        absl::Status(absl::StatusCode::kInvalidArgument, "")}) {
    const grpc::Status g = ToGrpcStatus(status);
    EXPECT_EQ(g.error_message(), status.message());
    EXPECT_THAT(g.error_details(), IsEmpty()) << status;
    EXPECT_THAT(FieldViolationsOf(ToAbslStatus(g)), IsEmpty());
  }
}

// --- field violations --------------------------------------------------------

TEST(GrpcStatusTest, ViolationsAreInTheMessageAndTheDetails) {
  const absl::Status status = MakeInvalidArgument(TwoViolations());
  const grpc::Status g = ToGrpcStatus(status);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(g.error_message(), HasSubstr(Text(TwoViolations()[0])));
  EXPECT_THAT(g.error_message(), HasSubstr(Text(TwoViolations()[1])));
  // Already in the message, so nothing was appended.
  EXPECT_EQ(g.error_message(), status.message());

  absl::optional<DecodedDetails> details = Decode(g.error_details());
  ASSERT_TRUE(details.has_value()) << "details do not parse";
  EXPECT_EQ(details->rpc_status.code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(details->rpc_status.message(), g.error_message());
  EXPECT_THAT(details->type_urls, ElementsAre(kGoogleBadRequestUrl));
  ASSERT_EQ(details->bad_requests.size(), 1u);
  EXPECT_EQ(details->bad_requests[0], TwoViolations());
}

// google.rpc.Status is {int32 code = 1; string message = 2; repeated Any
// details = 3} and Any is {string type_url = 1; bytes value = 2}: read the
// raw fields, independently of okr.v1.RpcStatus's own definition.
TEST(GrpcStatusTest, DetailsHaveTheWireShapeOfGoogleRpcStatus) {
  const grpc::Status g = ToGrpcStatus(MakeInvalidArgument(TwoViolations()));
  google::protobuf::UnknownFieldSet fields;
  ASSERT_TRUE(fields.ParseFromString(g.error_details()));
  ASSERT_EQ(fields.field_count(), 3);
  EXPECT_EQ(fields.field(0).number(), 1);
  EXPECT_EQ(fields.field(0).type(),
            google::protobuf::UnknownField::TYPE_VARINT);
  EXPECT_EQ(fields.field(0).varint(), 3u);  // INVALID_ARGUMENT
  EXPECT_EQ(fields.field(1).number(), 2);
  EXPECT_EQ(fields.field(1).length_delimited(), g.error_message());
  EXPECT_EQ(fields.field(2).number(), 3);
  google::protobuf::UnknownFieldSet any;
  ASSERT_TRUE(any.ParseFromString(fields.field(2).length_delimited()));
  ASSERT_EQ(any.field_count(), 2);
  EXPECT_EQ(any.field(0).number(), 1);
  EXPECT_EQ(any.field(0).length_delimited(), kGoogleBadRequestUrl);
  // google.rpc.BadRequest: repeated FieldViolation field_violations = 1,
  // FieldViolation {string field = 1; string description = 2}.
  google::protobuf::UnknownFieldSet bad_request;
  ASSERT_TRUE(bad_request.ParseFromString(any.field(1).length_delimited()));
  ASSERT_EQ(bad_request.field_count(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(bad_request.field(i).number(), 1);
    google::protobuf::UnknownFieldSet violation;
    ASSERT_TRUE(
        violation.ParseFromString(bad_request.field(i).length_delimited()));
    ASSERT_EQ(violation.field_count(), 2);
    EXPECT_EQ(violation.field(0).number(), 1);
    EXPECT_EQ(violation.field(0).length_delimited(), TwoViolations()[i].field);
    EXPECT_EQ(violation.field(1).number(), 2);
    EXPECT_EQ(violation.field(1).length_delimited(),
              TwoViolations()[i].description);
  }
}

TEST(GrpcStatusTest, RoundTripKeepsTheViolations) {
  const absl::Status original = MakeInvalidArgument(TwoViolations());
  const absl::Status back = ToAbslStatus(ToGrpcStatus(original));
  EXPECT_EQ(back.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(back.message(), original.message());
  EXPECT_EQ(FieldViolationsOf(back), FieldViolationsOf(original));
  EXPECT_EQ(FieldViolationsOf(back), TwoViolations());

  // A service passing the peer's error on sends the same violations once.
  const grpc::Status again = ToGrpcStatus(back);
  EXPECT_EQ(again.error_message(), original.message());
  absl::optional<DecodedDetails> details = Decode(again.error_details());
  ASSERT_TRUE(details.has_value());
  EXPECT_THAT(details->type_urls, ElementsAre(kGoogleBadRequestUrl));
  ASSERT_EQ(details->bad_requests.size(), 1u);
  EXPECT_EQ(details->bad_requests[0], TwoViolations());
}

TEST(GrpcStatusTest, AwkwardTextSurvivesTheRoundTrip) {
  const std::vector<FieldViolation> violations = {
      {"rows[12].target", "tab\there, newline\nhere, backslash \\ and 😀"},
      {"", "a violation without a field"},
  };
  const absl::Status back =
      ToAbslStatus(ToGrpcStatus(MakeInvalidArgument(violations)));
  EXPECT_EQ(FieldViolationsOf(back), violations);
}

TEST(GrpcStatusTest, ViolationsMissingFromARewrittenMessageAreAppended) {
  const absl::Status validation = MakeInvalidArgument(TwoViolations());
  // A caller that rewrote the message but kept the payload.
  absl::Status rewritten(
      validation.code(),
      absl::StrCat("create objective: ", Text(TwoViolations()[0])));
  rewritten.SetPayload(kFieldViolationsTypeUrl,
                       *validation.GetPayload(kFieldViolationsTypeUrl));
  const grpc::Status g = ToGrpcStatus(rewritten);
  EXPECT_EQ(g.error_message(),
            absl::StrCat("create objective: ", Text(TwoViolations()[0]), "; ",
                         Text(TwoViolations()[1])));
  absl::optional<DecodedDetails> details = Decode(g.error_details());
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->rpc_status.message(), g.error_message());
  ASSERT_EQ(details->bad_requests.size(), 1u);
  EXPECT_EQ(details->bad_requests[0], TwoViolations());
}

TEST(GrpcStatusTest, ViolationsOfOtherCodesAreSentToo) {
  const FieldViolation missing{"alignment.parent_objective_id",
                               "objective \"o9\" does not exist"};
  const grpc::Status g =
      ToGrpcStatus(MakeFieldStatus(absl::StatusCode::kNotFound, {&missing, 1}));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::NOT_FOUND);
  absl::optional<DecodedDetails> details = Decode(g.error_details());
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->rpc_status.code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
  ASSERT_EQ(details->bad_requests.size(), 1u);
  EXPECT_THAT(details->bad_requests[0], ElementsAre(missing));
  const absl::Status back = ToAbslStatus(g);
  EXPECT_EQ(back.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(FieldViolationsOf(back), ElementsAre(missing));
}

// --- size bounds -------------------------------------------------------------

// What grpc-message costs against the peer's metadata limit: gRPC
// percent-encodes every byte outside printable ASCII, and '%'.
size_t MessageWireSize(const std::string& message) {
  size_t size = 0;
  for (const char c : message) {
    size += c >= 0x20 && c <= 0x7e && c != '%' ? 1 : 3;
  }
  return size;
}

// A failed CSV import can name thousands of cells; the trailers must still
// fit gRPC's default 8 KiB metadata limit (see server_test.cc for the real
// thing).
TEST(GrpcStatusTest, ManyViolationsAreCutToFitTheTrailers) {
  for (const std::string& description :
       {std::string("must be a number, got \"abc\""),
        std::string("must be a number, got \"ab\nc\" (100% é)")}) {
    std::vector<FieldViolation> violations;
    for (int row = 1; row <= 1000; ++row) {
      violations.push_back(
          {absl::StrCat("rows[", row, "].target"), description});
    }
    const grpc::Status g = ToGrpcStatus(MakeInvalidArgument(violations));
    EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_LE(MessageWireSize(g.error_message()), 2048u);
    EXPECT_LE(MessageWireSize(g.error_message()) + g.error_details().size(),
              6144u);
    EXPECT_THAT(g.error_message(),
                HasSubstr(Text(violations[0])));  // starts as usual
    EXPECT_THAT(g.error_message(), HasSubstr("1000 field violations in all"));

    absl::optional<DecodedDetails> details = Decode(g.error_details());
    ASSERT_TRUE(details.has_value());
    EXPECT_EQ(details->rpc_status.message(), g.error_message());
    ASSERT_EQ(details->bad_requests.size(), 1u);
    const std::vector<FieldViolation>& sent = details->bad_requests[0];
    ASSERT_GT(sent.size(), 10u);  // as many as fit, not none
    ASSERT_LT(sent.size(), violations.size());
    EXPECT_EQ(sent, std::vector<FieldViolation>(
                        violations.begin(),
                        violations.begin() + static_cast<long>(sent.size())));
    EXPECT_EQ(FieldViolationsOf(ToAbslStatus(g)), sent);
  }
}

TEST(GrpcStatusTest, LongMessageIsCutAtACharacterBoundary) {
  std::string long_message;
  for (int i = 0; i < 5000; ++i) long_message += "é";  // 2 bytes each
  const grpc::Status g = ToGrpcStatus(absl::InternalError(long_message));
  const std::string& message = g.error_message();
  EXPECT_LE(MessageWireSize(message), 2048u);
  const std::string note = " ... [truncated]";
  ASSERT_GT(message.size(), note.size());
  ASSERT_EQ(message.substr(message.size() - note.size()), note);
  const std::string kept = message.substr(0, message.size() - note.size());
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(kept.size() % 2, 0u) << "a character was split";
  EXPECT_EQ(long_message.substr(0, kept.size()), kept);
  // Fits exactly: not cut.
  const std::string fits(2048, 'x');
  EXPECT_EQ(ToGrpcStatus(absl::InternalError(fits)).error_message(), fits);
}

// --- details from a peer -----------------------------------------------------

TEST(GrpcStatusTest, UnknownDetailsAreCarriedThroughUnchanged) {
  for (const std::string& bytes :
       {std::string("\x0a\x03\x01\x02\x00", 5),  // parses, nothing known
        std::string("\xff\xff\xff", 3)}) {       // does not parse
    const grpc::Status from_peer(grpc::StatusCode::INVALID_ARGUMENT, "bad",
                                 bytes);
    const absl::Status domain = ToAbslStatus(from_peer);
    absl::optional<absl::Cord> kept =
        domain.GetPayload(kGrpcStatusDetailsPayloadUrl);
    ASSERT_TRUE(kept.has_value());
    EXPECT_EQ(std::string(*kept), bytes);
    EXPECT_THAT(FieldViolationsOf(domain), IsEmpty());
    const grpc::Status again = ToGrpcStatus(domain);
    EXPECT_EQ(again.error_details(), bytes);
    EXPECT_EQ(again.error_message(), "bad");
  }
}

TEST(GrpcStatusTest, OtherPeerDetailsAreKeptNextToTheViolations) {
  // A peer's status with a RetryInfo-like detail besides its BadRequest.
  v1::RpcStatus peer;
  peer.set_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  peer.set_message("bad request");
  google::protobuf::Any* other = peer.add_details();
  other->set_type_url("type.googleapis.com/google.rpc.RetryInfo");
  other->set_value(std::string("\x0a\x02\x08\x05", 4));
  v1::BadRequest bad_request;
  auto* v = bad_request.add_field_violations();
  v->set_field("cycle.end");
  v->set_description("must be after cycle.start");
  google::protobuf::Any* packed = peer.add_details();
  packed->set_type_url(kGoogleBadRequestUrl);
  packed->set_value(bad_request.SerializeAsString());

  const absl::Status domain =
      ToAbslStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "bad request", peer.SerializeAsString()));
  const FieldViolation expected{"cycle.end", "must be after cycle.start"};
  EXPECT_THAT(FieldViolationsOf(domain), ElementsAre(expected));
  EXPECT_EQ(domain.message(), "bad request");  // verbatim

  const grpc::Status again = ToGrpcStatus(domain);
  EXPECT_EQ(again.error_message(),
            "bad request; cycle.end: must be after cycle.start");
  absl::optional<DecodedDetails> details = Decode(again.error_details());
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->rpc_status.message(), again.error_message());
  // Ours first, then the peer's other detail; the peer's BadRequest is not
  // repeated.
  EXPECT_THAT(details->type_urls,
              ElementsAre(kGoogleBadRequestUrl,
                          "type.googleapis.com/google.rpc.RetryInfo"));
  ASSERT_EQ(details->bad_requests.size(), 1u);
  EXPECT_THAT(details->bad_requests[0], ElementsAre(expected));
  EXPECT_EQ(details->rpc_status.details(1).value(), other->value());
}

TEST(GrpcStatusTest, ViolationsOfSeveralBadRequestsAreConcatenated) {
  v1::RpcStatus peer;
  peer.set_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  for (const FieldViolation& violation : TwoViolations()) {
    v1::BadRequest bad_request;
    auto* v = bad_request.add_field_violations();
    v->set_field(violation.field);
    v->set_description(violation.description);
    google::protobuf::Any* packed = peer.add_details();
    packed->set_type_url(kGoogleBadRequestUrl);
    packed->set_value(bad_request.SerializeAsString());
  }
  // A detail under another type URL is not taken for a BadRequest even
  // when its bytes would parse as one.
  google::protobuf::Any* impostor = peer.add_details();
  impostor->set_type_url("type.googleapis.com/okr.v1.BadRequest");
  impostor->set_value(peer.details(0).value());
  const absl::Status domain = ToAbslStatus(grpc::Status(
      grpc::StatusCode::INVALID_ARGUMENT, "two", peer.SerializeAsString()));
  EXPECT_EQ(FieldViolationsOf(domain), TwoViolations());
}

}  // namespace
}  // namespace okr
