// Webhooks: URL validation, the Slack-compatible body, the libcurl sender
// against a real HTTP receiver on loopback, and the outbox dispatcher over an
// in-test fake store (only the outbox and delivery-log methods are real;
// the store's own conformance suite covers SQLite).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/model_proto.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "okr/v1/notify.pb.h"
#include "services/notify/notify_store.h"
#include "services/notify/webhook.h"
#include "services/notify/webhook_dispatcher.h"
#include "tests/support/http_receiver.h"
#include "tests/support/test_support.h"

namespace okr::notify {
namespace {

using ::testing::HasSubstr;
using Outcome = WebhookAttempt::Outcome;

// The receivers live on 127.0.0.1, which the default policy refuses.
WebhookDestinationPolicy LoopbackAllowed() {
  absl::StatusOr<WebhookDestinationPolicy> policy =
      WebhookDestinationPolicy::Parse("127.0.0.0/8, ::1/128", "test");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy : WebhookDestinationPolicy();
}

// ---------------------------------------------------------------------------
// URL validation

void ExpectRefused(absl::string_view url, absl::string_view expected_part) {
  absl::Status status = ValidateWebhookUrl(url, "webhook.url");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << url << " -> " << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "webhook.url: "))
      << url << " -> " << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(std::string(expected_part)))
      << url;
}

TEST(ValidateWebhookUrl, AcceptsHttpAndHttps) {
  for (absl::string_view url :
       {"http://127.0.0.1:8080/hook", "https://hooks.slack.com/services/T0/B0/xyz",
        "HTTPS://Example.COM", "http://example.com?token=abc#frag",
        "https://[::1]:8443/okr", "http://my_host.internal/x"}) {
    OKR_EXPECT_OK(ValidateWebhookUrl(url, "webhook.url")) << url;
  }
}

TEST(ValidateWebhookUrl, RefusesOtherSchemes) {
  ExpectRefused("ftp://example.com/file", "must be an http:// or https:// URL");
  ExpectRefused("ftp://example.com/file", "\"ftp\"");
  ExpectRefused("file:///etc/passwd", "\"file\"");
  ExpectRefused("javascript:alert(1)", "\"javascript\"");
  ExpectRefused("example.com/hook", "must be an http:// or https:// URL");
  ExpectRefused("", "empty");
}

TEST(ValidateWebhookUrl, RefusesMissingHostSpacesCredentialsAndBadPorts) {
  ExpectRefused("http:///path", "with a host");
  ExpectRefused("https://", "with a host");
  ExpectRefused("https://:443/x", "with a host");
  ExpectRefused("http://exa mple.com/", "spaces");
  ExpectRefused("http://example.com/a b", "position 21");  // 1-based
  ExpectRefused("http://example.com/\t", "control characters");
  ExpectRefused("https://user:secret@example.com/hook", "user name or password");
  ExpectRefused("https://example.com:99999/", "port");
  ExpectRefused("https://example.com:http/", "port");
  ExpectRefused("https://exa%mple.com/", "invalid character '%'");
  ExpectRefused("https://[::1/", "IPv6");
}

TEST(ValidateWebhookUrl, NeverEchoesAPassword) {
  absl::Status status =
      ValidateWebhookUrl("https://user:hunter2@example.com/hook", "webhook.url");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr("hunter2")));
}

TEST(ValidateWebhookUrl, RefusesTooLongButAcceptsTheLimit) {
  const std::string prefix = "https://example.com/";
  std::string at_limit = prefix + std::string(kMaxWebhookUrlLength - prefix.size(), 'a');
  ASSERT_EQ(at_limit.size(), static_cast<size_t>(kMaxWebhookUrlLength));
  OKR_EXPECT_OK(ValidateWebhookUrl(at_limit, "webhook.url"));
  ExpectRefused(at_limit + "a", absl::StrCat("at most ", kMaxWebhookUrlLength));
}

TEST(ValidateWebhookUrl, NamesTheGivenField) {
  absl::Status status = ValidateWebhookUrl("ftp://x", "webhooks[3].url");
  EXPECT_TRUE(absl::StartsWith(status.message(), "webhooks[3].url: ")) << status;
}

// ---------------------------------------------------------------------------
// Body

v1::Reminder SampleReminder(absl::string_view id = "rem-000000000001") {
  v1::Reminder reminder;
  reminder.set_id(std::string(id));
  reminder.set_recipient_id("pe-ada");
  reminder.set_recipient_name("Ada \"Countess\" Lovelace");
  reminder.set_kind(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
  reminder.set_window_key("2027-W05");
  reminder.set_text("Weekly check-in: 1 key result needs a check-in: \"Ship\" \u2192 v2\n");
  reminder.set_team_id("tm-platform");
  v1::DueItem* item = reminder.add_due_items();
  item->set_title("Ship v2");
  *reminder.mutable_due_time() = ToProto(absl::FromUnixSeconds(1801300000));
  *reminder.mutable_publish_time() = ToProto(absl::FromUnixSeconds(1801300042));
  return reminder;
}

TEST(WebhookBody, CarriesTheTextAndTheReminderAsProto3Json) {
  const v1::Reminder reminder = SampleReminder();
  const std::string body = WebhookBody(reminder);

  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(body, &parsed).ok()) << body;
  ASSERT_EQ(parsed.fields().size(), 2u) << body;
  ASSERT_TRUE(parsed.fields().contains("text"));
  EXPECT_EQ(parsed.fields().at("text").string_value(), reminder.text());

  ASSERT_TRUE(parsed.fields().contains("reminder"));
  std::string reminder_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(
                  parsed.fields().at("reminder").struct_value(), &reminder_json)
                  .ok());
  v1::Reminder round_trip;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(reminder_json, &round_trip).ok())
      << reminder_json;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(round_trip, reminder))
      << round_trip.DebugString();
}

// ---------------------------------------------------------------------------
// Destinations: addresses, networks, the range table, the policy

TEST(ParseIpAddress, TakesBothFamiliesAndMapsIpv4) {
  const std::optional<IpAddress> v4 = ParseIpAddress("10.1.2.3");
  ASSERT_TRUE(v4.has_value());
  EXPECT_TRUE(v4->IsV4Mapped());
  EXPECT_EQ(v4->ToString(), "10.1.2.3");
  // The same address written as IPv4-mapped IPv6 is the same value.
  const std::optional<IpAddress> mapped = ParseIpAddress("::ffff:10.1.2.3");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_EQ(*mapped, *v4);
  const std::optional<IpAddress> v6 = ParseIpAddress("2001:DB8::1");
  ASSERT_TRUE(v6.has_value());
  EXPECT_FALSE(v6->IsV4Mapped());
  EXPECT_EQ(v6->ToString(), "2001:db8::1");
  for (const char* bad : {"", "10.1.2", "10.1.2.3.4", "256.1.1.1", "fe80::1%eth0", "[::1]",
                          "example.com", "1.2.3.4/8", " 1.2.3.4"}) {
    EXPECT_FALSE(ParseIpAddress(bad).has_value()) << bad;
  }
}

TEST(ParseIpNetwork, ParsesPrefixesAndRefusesHostBits) {
  OKR_ASSERT_OK_AND_ASSIGN(IpNetwork ten, ParseIpNetwork("10.0.0.0/8"));
  EXPECT_EQ(ten.prefix_length, 8 + 96);
  EXPECT_EQ(ten.ToString(), "10.0.0.0/8");
  EXPECT_TRUE(ten.Contains(*ParseIpAddress("10.255.0.1")));
  EXPECT_TRUE(ten.Contains(*ParseIpAddress("::ffff:10.0.0.1")));
  EXPECT_FALSE(ten.Contains(*ParseIpAddress("11.0.0.0")));
  EXPECT_FALSE(ten.Contains(*ParseIpAddress("::a00:1"))) << "IPv4-compatible is not IPv4";

  OKR_ASSERT_OK_AND_ASSIGN(IpNetwork host, ParseIpNetwork("192.168.1.7"));
  EXPECT_EQ(host.ToString(), "192.168.1.7/32");
  EXPECT_TRUE(host.Contains(*ParseIpAddress("192.168.1.7")));
  EXPECT_FALSE(host.Contains(*ParseIpAddress("192.168.1.6")));

  OKR_ASSERT_OK_AND_ASSIGN(IpNetwork ula, ParseIpNetwork("fd00::/8"));
  EXPECT_TRUE(ula.Contains(*ParseIpAddress("fd12:3456::1")));
  EXPECT_FALSE(ula.Contains(*ParseIpAddress("fc00::1")));
  OKR_ASSERT_OK_AND_ASSIGN(IpNetwork odd, ParseIpNetwork("10.128.0.0/9"));
  EXPECT_TRUE(odd.Contains(*ParseIpAddress("10.200.0.1")));
  EXPECT_FALSE(odd.Contains(*ParseIpAddress("10.127.255.255")));
  OKR_ASSERT_OK_AND_ASSIGN(IpNetwork all, ParseIpNetwork("::/0"));
  EXPECT_TRUE(all.Contains(*ParseIpAddress("8.8.8.8")));

  const absl::Status host_bits = ParseIpNetwork("10.1.2.3/8").status();
  EXPECT_EQ(host_bits.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(host_bits.message()), HasSubstr("did you mean 10.0.0.0/8"));
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8",
                          "10.0.0.0/ 8", "localhost/8", "/8", "fd00::/0x8"}) {
    EXPECT_EQ(ParseIpNetwork(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

struct RangeCase {
  const char* address;
  const char* range;  // a part of NonPublicRange's answer; "" for public
};

TEST(NonPublicRange, ClassifiesTheSpecialPurposeRanges) {
  const RangeCase cases[] = {
      // Public: the edges just outside the special ranges.
      {"8.8.8.8", ""},
      {"1.1.1.1", ""},
      {"9.255.255.255", ""},
      {"11.0.0.0", ""},
      {"100.63.255.255", ""},
      {"100.128.0.0", ""},
      {"126.255.255.255", ""},
      {"128.0.0.0", ""},
      {"169.253.255.255", ""},
      {"172.15.255.255", ""},
      {"172.32.0.0", ""},
      {"192.167.255.255", ""},
      {"192.169.0.0", ""},
      {"198.17.255.255", ""},
      {"198.20.0.0", ""},
      {"223.255.255.255", ""},
      {"2606:4700::1111", ""},
      {"2a00:1450:4001::200e", ""},
      {"2001:4860:4860::8888", ""},
      {"::ffff:8.8.8.8", ""},
      {"64:ff9b::808:808", ""},  // NAT64 of 8.8.8.8
      // IPv4.
      {"0.0.0.0", "0.0.0.0/8 (unspecified"},
      {"0.1.2.3", "0.0.0.0/8"},
      {"10.0.0.0", "10.0.0.0/8 (private)"},
      {"10.255.255.255", "10.0.0.0/8 (private)"},
      {"100.64.0.0", "100.64.0.0/10 (carrier-grade NAT)"},
      {"100.127.255.255", "100.64.0.0/10"},
      {"127.0.0.1", "127.0.0.0/8 (loopback)"},
      {"127.255.255.254", "127.0.0.0/8 (loopback)"},
      {"169.254.169.254", "169.254.0.0/16 (link-local"},
      {"172.16.0.1", "172.16.0.0/12 (private)"},
      {"172.31.255.255", "172.16.0.0/12 (private)"},
      {"192.0.0.8", "192.0.0.0/24"},
      {"192.0.2.1", "192.0.2.0/24 (documentation)"},
      {"192.88.99.1", "192.88.99.0/24"},
      {"192.168.1.1", "192.168.0.0/16 (private)"},
      {"198.18.0.1", "198.18.0.0/15 (benchmarking)"},
      {"198.19.255.255", "198.18.0.0/15"},
      {"198.51.100.7", "198.51.100.0/24 (documentation)"},
      {"203.0.113.9", "203.0.113.0/24 (documentation)"},
      {"224.0.0.1", "224.0.0.0/4 (multicast)"},
      {"239.255.255.250", "224.0.0.0/4 (multicast)"},
      {"240.0.0.1", "240.0.0.0/4 (reserved"},
      {"255.255.255.255", "240.0.0.0/4 (reserved, incl. broadcast)"},
      // IPv4-mapped IPv6: judged as the IPv4 address.
      {"::ffff:127.0.0.1", "127.0.0.0/8 (loopback)"},
      {"::ffff:10.0.0.1", "10.0.0.0/8 (private)"},
      {"::ffff:169.254.169.254", "169.254.0.0/16"},
      {"::ffff:0:7f00:1", "::ffff:0:0:0/96 (IPv4-translated)"},
      // NAT64 of a non-public IPv4 address.
      {"64:ff9b::7f00:1", "NAT64 of 127.0.0.0/8 (loopback)"},
      {"64:ff9b::a9fe:a9fe", "NAT64 of 169.254.0.0/16"},
      {"64:ff9b:1::1", "64:ff9b:1::/48"},
      // IPv6.
      {"::", "::/128 (unspecified)"},
      {"::1", "::1/128 (loopback)"},
      {"::7f00:1", "not global unicast"},  // IPv4-compatible, deprecated
      {"100::1", "100::/64 (discard only)"},
      {"2001::1", "2001::/23"},
      {"2001:db8::1", "2001:db8::/32 (documentation)"},
      {"2002:7f00:1::1", "2002::/16 (6to4)"},
      {"3fff::1", "3fff::/20 (documentation)"},
      {"fc00::1", "fc00::/7 (unique-local)"},
      {"fdff:ffff::1", "fc00::/7 (unique-local)"},
      {"fe80::1", "fe80::/10 (link-local)"},
      {"febf:ffff::1", "fe80::/10 (link-local)"},
      {"fec0::1", "fec0::/10 (site-local)"},
      {"ff02::1", "ff00::/8 (multicast)"},
      {"ff05::1:3", "ff00::/8 (multicast)"},
      {"4000::1", "not global unicast"},
      {"1fff:ffff::1", "not global unicast"},
  };
  for (const RangeCase& c : cases) {
    const std::optional<IpAddress> address = ParseIpAddress(c.address);
    ASSERT_TRUE(address.has_value()) << c.address;
    const std::string range = NonPublicRange(*address);
    if (std::string(c.range).empty()) {
      EXPECT_EQ(range, "") << c.address << " should be public";
    } else {
      EXPECT_THAT(range, HasSubstr(c.range)) << c.address;
    }
  }
}

TEST(WebhookDestinationPolicy, AllowsPublicAndListedNetworksOnly) {
  const WebhookDestinationPolicy public_only;
  EXPECT_TRUE(public_only.CheckAddress(*ParseIpAddress("8.8.8.8")).ok());
  const absl::Status loopback = public_only.CheckAddress(*ParseIpAddress("127.0.0.1"));
  EXPECT_EQ(loopback.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(loopback.message()), HasSubstr("127.0.0.1"));
  EXPECT_THAT(std::string(loopback.message()), HasSubstr("loopback"));
  EXPECT_THAT(std::string(loopback.message()), HasSubstr("--webhook_allow_cidrs"));

  OKR_ASSERT_OK_AND_ASSIGN(
      WebhookDestinationPolicy policy,
      WebhookDestinationPolicy::Parse(" 127.0.0.0/8 ,, ::1/128,10.1.0.0/16 ", "--flag"));
  EXPECT_EQ(policy.allowed().size(), 3u);
  EXPECT_TRUE(policy.CheckAddress(*ParseIpAddress("127.0.0.1")).ok());
  EXPECT_TRUE(policy.CheckAddress(*ParseIpAddress("::ffff:127.0.0.2")).ok());
  EXPECT_TRUE(policy.CheckAddress(*ParseIpAddress("::1")).ok());
  EXPECT_TRUE(policy.CheckAddress(*ParseIpAddress("10.1.255.1")).ok());
  EXPECT_FALSE(policy.CheckAddress(*ParseIpAddress("10.2.0.1")).ok());
  EXPECT_FALSE(policy.CheckAddress(*ParseIpAddress("169.254.169.254")).ok());
  EXPECT_FALSE(policy.CheckAddress(*ParseIpAddress("fd00::1")).ok());

  OKR_ASSERT_OK_AND_ASSIGN(WebhookDestinationPolicy empty,
                           WebhookDestinationPolicy::Parse("", "--flag"));
  EXPECT_TRUE(empty.allowed().empty());
  const absl::Status bad = WebhookDestinationPolicy::Parse("127.0.0.0/8,10.0.0.1/8", "--flag").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(bad.message(), "--flag: ")) << bad;
  EXPECT_THAT(std::string(bad.message()), HasSubstr("10.0.0.1/8"));
  EXPECT_FALSE(WebhookDestinationPolicy::Parse("localhost", "--flag").ok());
}

TEST(WebhookDestinationPolicy, CheckUrlHostRefusesLiteralsAndLocalhostNames) {
  const WebhookDestinationPolicy public_only;
  for (const char* url : {
           "http://127.0.0.1/hook", "http://127.0.0.1.:8080/hook", "https://10.0.0.1/x",
           "http://[::1]:9/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/",
           "http://[fe80::1]/", "http://[fd00::2]/", "http://169.254.169.254/latest",
           "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/",
           "http://10.1/", "http://0/", "http://localhost/", "http://LOCALHOST:8080/",
           "http://localhost./", "http://api.localhost/", "http://ip6-localhost/",
           "http://100.64.1.1/", "http://224.0.0.1/", "http://[64:ff9b::a00:1]/"}) {
    const absl::Status status = public_only.CheckUrlHost(url, "webhook.url");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << url;
    const std::vector<FieldViolation> violations = FieldViolationsOf(status);
    ASSERT_EQ(violations.size(), 1u) << url << " -> " << status;
    EXPECT_EQ(violations[0].field, "webhook.url");
    EXPECT_THAT(violations[0].description, HasSubstr("--webhook_allow_cidrs")) << url;
  }
  // Names are judged at connect time; public literals pass.
  for (const char* url : {"https://hooks.slack.com/services/T0/B0/X", "http://8.8.8.8/",
                          "http://[2606:4700::1111]:8443/", "http://localhost.example.com/",
                          "http://mylocalhost/", "http://10.0.0.1.example.com/"}) {
    OKR_EXPECT_OK(public_only.CheckUrlHost(url, "webhook.url")) << url;
  }
  // Allowed networks open exactly their literals, and localhost with loopback.
  const WebhookDestinationPolicy loopback = LoopbackAllowed();
  OKR_EXPECT_OK(loopback.CheckUrlHost("http://127.0.0.1:9/hook", "webhook.url"));
  OKR_EXPECT_OK(loopback.CheckUrlHost("http://localhost:9/hook", "webhook.url"));
  OKR_EXPECT_OK(loopback.CheckUrlHost("http://[::1]:9/hook", "webhook.url"));
  EXPECT_FALSE(loopback.CheckUrlHost("http://10.0.0.1/", "webhook.url").ok());
}

TEST(ValidateWebhookUrl, CarriesAFieldViolation) {
  const std::vector<FieldViolation> violations =
      FieldViolationsOf(ValidateWebhookUrl("ftp://x", "webhook.url"));
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "webhook.url");
}

// ---------------------------------------------------------------------------
// The libcurl sender against a real receiver

class SenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OKR_ASSERT_OK_AND_ASSIGN(receiver_, HttpReceiver::Start());
    sender_ = NewCurlWebhookSender(LoopbackAllowed());
  }

  WebhookAttempt Post(absl::string_view path, absl::Duration timeout = absl::Seconds(5)) {
    return sender_->Post(receiver_->url(path), body_, timeout);
  }

  const std::string body_ = WebhookBody(SampleReminder());
  std::unique_ptr<HttpReceiver> receiver_;
  std::unique_ptr<WebhookSender> sender_;
};

TEST_F(SenderTest, TwoHundredSucceedsAndPostsJson) {
  WebhookAttempt attempt = Post("/hooks/a");
  EXPECT_EQ(attempt.outcome, Outcome::kSucceeded) << attempt.error;
  EXPECT_EQ(attempt.http_status, 200);
  EXPECT_EQ(attempt.error, "");

  std::vector<ReceivedRequest> requests = receiver_->requests("/hooks/a");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].body, body_);
  EXPECT_EQ(requests[0].Header("content-type"), "application/json");
  EXPECT_EQ(requests[0].Header("User-Agent"), "okr-notify");
  EXPECT_EQ(requests[0].Header("Expect"), "");
}

TEST_F(SenderTest, Other2xxSucceed) {
  ScriptedResponse no_content;
  no_content.status = 204;
  no_content.body = "";
  receiver_->Enqueue("/a", no_content);
  ScriptedResponse accepted;
  accepted.status = 202;
  receiver_->Enqueue("/a", accepted);

  WebhookAttempt first = Post("/a");
  EXPECT_EQ(first.outcome, Outcome::kSucceeded);
  EXPECT_EQ(first.http_status, 204);
  WebhookAttempt second = Post("/a");
  EXPECT_EQ(second.outcome, Outcome::kSucceeded);
  EXPECT_EQ(second.http_status, 202);
}

TEST_F(SenderTest, ServerErrorsAndThrottlingAreRetryable) {
  receiver_->FailNext("/a", 500, 1);
  receiver_->FailNext("/a", 503, 1);
  receiver_->FailNext("/a", 429, 1);
  receiver_->FailNext("/a", 408, 1);

  WebhookAttempt a500 = Post("/a");
  EXPECT_EQ(a500.outcome, Outcome::kRetryable);
  EXPECT_EQ(a500.http_status, 500);
  EXPECT_THAT(a500.error, HasSubstr("HTTP 500 Internal Server Error"));
  // The receiver's own words help whoever reads the delivery log.
  EXPECT_THAT(a500.error, HasSubstr("scripted failure 500"));

  WebhookAttempt a503 = Post("/a");
  EXPECT_EQ(a503.outcome, Outcome::kRetryable);
  EXPECT_EQ(a503.http_status, 503);
  EXPECT_THAT(a503.error, HasSubstr("HTTP 503 Service Unavailable"));

  WebhookAttempt a429 = Post("/a");
  EXPECT_EQ(a429.outcome, Outcome::kRetryable);
  EXPECT_EQ(a429.http_status, 429);
  EXPECT_THAT(a429.error, HasSubstr("HTTP 429 Too Many Requests"));

  WebhookAttempt a408 = Post("/a");
  EXPECT_EQ(a408.outcome, Outcome::kRetryable);
  EXPECT_EQ(a408.http_status, 408);

  // The script ran out: back to 200.
  EXPECT_EQ(Post("/a").outcome, Outcome::kSucceeded);
  EXPECT_EQ(receiver_->request_count("/a"), 5);
}

TEST_F(SenderTest, ClientErrorsArePermanent) {
  receiver_->FailNext("/a", 404, 1);
  receiver_->FailNext("/a", 400, 1);
  receiver_->FailNext("/a", 410, 1);

  WebhookAttempt a404 = Post("/a");
  EXPECT_EQ(a404.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(a404.http_status, 404);
  EXPECT_THAT(a404.error, HasSubstr("HTTP 404 Not Found"));
  EXPECT_EQ(Post("/a").outcome, Outcome::kPermanentFailure);
  WebhookAttempt a410 = Post("/a");
  EXPECT_EQ(a410.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(a410.http_status, 410);
}

TEST_F(SenderTest, RedirectsAreNotFollowed) {
  ScriptedResponse moved;
  moved.status = 301;
  moved.headers = {{"Location", receiver_->url("/elsewhere")}};
  receiver_->Enqueue("/old", moved);

  WebhookAttempt attempt = Post("/old");
  EXPECT_EQ(attempt.outcome, Outcome::kPermanentFailure);
  EXPECT_EQ(attempt.http_status, 301);
  EXPECT_THAT(attempt.error, HasSubstr("HTTP 301 Moved Permanently"));
  EXPECT_THAT(attempt.error, HasSubstr(receiver_->url("/elsewhere")));
  EXPECT_EQ(receiver_->request_count("/elsewhere"), 0);
  EXPECT_EQ(receiver_->request_count(), 1);
}

TEST_F(SenderTest, AHangingReceiverTimesOutWithinTheDeadline) {
  receiver_->HangNext("/slow", absl::Seconds(30));
  const absl::Time start = absl::Now();
  WebhookAttempt attempt = Post("/slow", absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;

  EXPECT_EQ(attempt.outcome, Outcome::kRetryable);
  EXPECT_EQ(attempt.http_status, 0);
  EXPECT_THAT(attempt.error, HasSubstr("timed out after 300ms"));
  // libcurl keeps its own (coarser) clock: allow it to end a hair early.
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(3)) << "the deadline was not enforced";
  EXPECT_EQ(receiver_->request_count("/slow"), 1);
}

TEST_F(SenderTest, ConnectionRefusedIsRetryable) {
  OKR_ASSERT_OK_AND_ASSIGN(int closed_port, FreeLoopbackPort());
  WebhookAttempt attempt = sender_->Post(
      absl::StrCat("http://127.0.0.1:", closed_port, "/hook"), body_, absl::Seconds(5));
  EXPECT_EQ(attempt.outcome, Outcome::kRetryable);
  EXPECT_EQ(attempt.http_status, 0);
  EXPECT_THAT(attempt.error, HasSubstr("connection refused"));
}

// The default policy: the connect-time check refuses loopback however the
// URL names it, so a name that resolves to an internal address (DNS
// rebinding) is refused as well as a literal, and nothing reaches the
// receiver.
TEST_F(SenderTest, RefusesNonPublicDestinationsAtConnectTimeWithoutSending) {
  std::unique_ptr<WebhookSender> public_only = NewCurlWebhookSender();
  const int port = receiver_->port();
  for (const std::string& url :
       {receiver_->url("/literal"), absl::StrCat("http://localhost:", port, "/by-name"),
        absl::StrCat("http://2130706433:", port, "/decimal"),
        absl::StrCat("http://[::ffff:127.0.0.1]:", port, "/mapped")}) {
    SCOPED_TRACE(url);
    const absl::Time start = absl::Now();
    WebhookAttempt attempt = public_only->Post(url, body_, absl::Seconds(5));
    EXPECT_EQ(attempt.outcome, Outcome::kPermanentFailure) << attempt.error;
    EXPECT_EQ(attempt.http_status, 0);
    EXPECT_THAT(attempt.error, HasSubstr("loopback"));
    EXPECT_THAT(attempt.error, HasSubstr("--webhook_allow_cidrs"));
    EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << "refused without waiting";
  }
  EXPECT_EQ(receiver_->request_count(), 0) << "a refused destination was contacted";
  // The same receiver with loopback allowed: the refusal above was the policy's.
  EXPECT_EQ(sender_->Post(absl::StrCat("http://localhost:", port, "/by-name"), body_,
                          absl::Seconds(5))
                .outcome,
            Outcome::kSucceeded);
  EXPECT_EQ(receiver_->request_count("/by-name"), 1);
}

// Proxies would hide the destination from the check; the sender ignores
// them even when the environment names one.
TEST_F(SenderTest, IgnoresProxyEnvironment) {
  OKR_ASSERT_OK_AND_ASSIGN(int closed_port, FreeLoopbackPort());
  const std::string proxy = absl::StrCat("http://127.0.0.1:", closed_port);
  ASSERT_EQ(setenv("http_proxy", proxy.c_str(), 1), 0);
  ASSERT_EQ(setenv("HTTP_PROXY", proxy.c_str(), 1), 0);
  WebhookAttempt attempt = Post("/direct");
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  EXPECT_EQ(attempt.outcome, Outcome::kSucceeded) << attempt.error;
  EXPECT_EQ(receiver_->request_count("/direct"), 1);
}

TEST_F(SenderTest, RefusesNonHttpUrlsWithoutSending) {
  WebhookAttempt attempt = sender_->Post("file:///etc/passwd", body_, absl::Seconds(1));
  EXPECT_EQ(attempt.outcome, Outcome::kPermanentFailure);
  EXPECT_THAT(attempt.error, HasSubstr("http:// or https://"));
  EXPECT_EQ(receiver_->request_count(), 0);
}

// ---------------------------------------------------------------------------
// A fake store: only the outbox and the delivery log

class FakeOutboxStore final : public NotifyStore {
 public:
  struct Completion {
    StoredDelivery delivery;
    std::optional<absl::Time> next_attempt;
  };

  // Queues a delivery of `reminder` to `url`, due at `due`.
  void AddTask(const v1::Reminder& reminder, absl::string_view webhook_id,
               absl::string_view url, absl::Time due) {
    AddRawTask(reminder.id(), webhook_id, url, due, reminder.SerializeAsString());
  }
  void AddRawTask(absl::string_view reminder_id, absl::string_view webhook_id,
                  absl::string_view url, absl::Time due, std::string reminder_body) {
    absl::MutexLock lock(&mu_);
    Entry entry;
    entry.task.organisation_id = "org-1";
    entry.task.reminder_id = std::string(reminder_id);
    entry.task.webhook_id = std::string(webhook_id);
    entry.task.url = std::string(url);
    entry.task.reminder_body = std::move(reminder_body);
    entry.task.next_attempt = due;
    entries_.push_back(std::move(entry));
  }

  std::vector<Completion> completions() const {
    absl::MutexLock lock(&mu_);
    return completions_;
  }
  std::vector<Completion> completions_for(absl::string_view webhook_id) const {
    absl::MutexLock lock(&mu_);
    std::vector<Completion> out;
    for (const Completion& c : completions_) {
      if (c.delivery.webhook_id == webhook_id) out.push_back(c);
    }
    return out;
  }
  int lease_calls() const {
    absl::MutexLock lock(&mu_);
    return lease_calls_;
  }

  // OK once `webhook_id` has a delivery with a final status (SUCCEEDED or
  // FAILED).
  absl::Status WaitForFinal(absl::string_view webhook_id, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      for (const Completion& c : completions_) {
        if (c.delivery.webhook_id == webhook_id && !c.next_attempt.has_value()) {
          return true;
        }
      }
      return false;
    };
    if (mu_.AwaitWithTimeout(absl::Condition(&done), timeout)) return absl::OkStatus();
    return absl::DeadlineExceededError(
        absl::StrCat("no final delivery for ", webhook_id, " within ",
                     absl::FormatDuration(timeout), "; ", completions_.size(),
                     " attempts logged"));
  }

  // --- The outbox ---------------------------------------------------------------

  absl::StatusOr<std::vector<WebhookTask>> LeaseWebhookTasks(absl::Time now,
                                                             absl::Duration lease,
                                                             int limit) override {
    absl::MutexLock lock(&mu_);
    ++lease_calls_;
    if (!lease_error_.ok()) return lease_error_;
    std::vector<Entry*> due;
    for (Entry& entry : entries_) {
      if (entry.task.next_attempt <= now && entry.lease_end <= now) due.push_back(&entry);
    }
    std::stable_sort(due.begin(), due.end(), [](const Entry* a, const Entry* b) {
      return a->task.next_attempt < b->task.next_attempt;
    });
    std::vector<WebhookTask> out;
    for (Entry* entry : due) {
      if (static_cast<int>(out.size()) >= limit) break;
      entry->lease_end = now + lease;
      out.push_back(entry->task);
    }
    return out;
  }

  absl::Status CompleteWebhookAttempt(const WebhookTask& task,
                                      const StoredDelivery& delivery,
                                      std::optional<absl::Time> next_attempt) override {
    absl::MutexLock lock(&mu_);
    completions_.push_back({delivery, next_attempt});
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->task.reminder_id != task.reminder_id ||
          it->task.webhook_id != task.webhook_id) {
        continue;
      }
      if (!next_attempt.has_value()) {
        entries_.erase(it);
      } else {
        it->task.attempts = delivery.attempt;
        it->task.next_attempt = *next_attempt;
        it->lease_end = absl::InfinitePast();
      }
      break;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> PendingWebhookTasks() override {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(entries_.size());
  }

  absl::Status AppendDeliveries(absl::string_view,
                                absl::Span<const StoredDelivery> deliveries) override {
    absl::MutexLock lock(&mu_);
    for (const StoredDelivery& d : deliveries) completions_.push_back({d, std::nullopt});
    return absl::OkStatus();
  }

  void FailLeasesWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    lease_error_ = std::move(status);
  }

  // --- Not used by the dispatcher --------------------------------------------------

  absl::StatusOr<std::optional<StoredPolicy>> GetPolicy(absl::string_view,
                                                        absl::string_view) override {
    return Unused();
  }
  absl::StatusOr<std::vector<StoredPolicy>> ListPolicies(absl::string_view) override {
    return Unused();
  }
  absl::StatusOr<StoredPolicy> PutPolicy(absl::string_view, const StoredPolicy&,
                                         int64_t) override {
    return Unused();
  }
  absl::Status DeletePolicy(absl::string_view, absl::string_view, int64_t) override {
    return Unused();
  }
  absl::StatusOr<StoredWebhook> CreateWebhook(absl::string_view, const StoredWebhook&,
                                              int) override {
    return Unused();
  }
  absl::StatusOr<std::vector<StoredWebhook>> ListWebhooks(absl::string_view) override {
    return Unused();
  }
  absl::Status DeleteWebhook(absl::string_view, absl::string_view) override {
    return Unused();
  }
  absl::StatusOr<std::vector<bool>> ClaimReminders(absl::string_view,
                                                   absl::Span<const NewReminder>) override {
    return Unused();
  }
  absl::StatusOr<std::vector<StoredReminder>> UnpublishedReminders(absl::string_view,
                                                                   int) override {
    return Unused();
  }
  absl::Status MarkPublished(absl::string_view, absl::Span<const Id>) override {
    return Unused();
  }
  absl::StatusOr<ReminderPage> ListReminders(absl::string_view,
                                             const ReminderQuery&) override {
    return Unused();
  }
  absl::StatusOr<DeliveryPage> ListDeliveries(absl::string_view,
                                              const DeliveryQuery&) override {
    return Unused();
  }

 private:
  struct Entry {
    WebhookTask task;
    absl::Time lease_end = absl::InfinitePast();
  };

  static absl::Status Unused() {
    return absl::UnimplementedError("not part of the webhook outbox fake");
  }

  mutable absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<Completion> completions_ ABSL_GUARDED_BY(mu_);
  int lease_calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status lease_error_ ABSL_GUARDED_BY(mu_);
};

// The Delivery in a log row, checked against the row's columns.
v1::Delivery DecodeDelivery(const StoredDelivery& row) {
  v1::Delivery delivery;
  EXPECT_TRUE(delivery.ParseFromString(row.body));
  EXPECT_EQ(delivery.id(), row.id);
  EXPECT_EQ(delivery.reminder_id(), row.reminder_id);
  EXPECT_EQ(static_cast<int>(delivery.channel()), row.channel);
  EXPECT_EQ(delivery.webhook_id(), row.webhook_id);
  EXPECT_EQ(delivery.attempt(), row.attempt);
  EXPECT_EQ(static_cast<int>(delivery.status()), row.status);
  absl::Time time;
  EXPECT_TRUE(FromProto(delivery.time(), "time", &time).ok());
  EXPECT_EQ(time, row.time);
  EXPECT_EQ(row.channel, v1::DELIVERY_CHANNEL_WEBHOOK);
  EXPECT_TRUE(absl::StartsWith(row.id, "dl-")) << row.id;
  EXPECT_EQ(row.id.size(), 3u + 12u) << row.id;
  return delivery;
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OKR_ASSERT_OK_AND_ASSIGN(receiver_, HttpReceiver::Start());
    sender_ = NewCurlWebhookSender(LoopbackAllowed());
    options_.threads = 2;
    options_.attempt_timeout = absl::Seconds(5);
    options_.max_attempts = 5;
    options_.initial_backoff = absl::Milliseconds(20);
    options_.max_backoff = absl::Seconds(1);
    options_.poll_interval = absl::Milliseconds(5);
    options_.lease = absl::Seconds(30);
  }

  FakeOutboxStore store_;
  std::unique_ptr<HttpReceiver> receiver_;
  std::unique_ptr<WebhookSender> sender_;
  WebhookDispatcherOptions options_;
};

TEST_F(DispatcherTest, FailingTwiceThenSucceedingLogsOneSuccessAfterTwoRetries) {
  receiver_->FailNext("/a", 503, 2);
  const v1::Reminder reminder = SampleReminder();
  store_.AddTask(reminder, "wh-a", receiver_->url("/a"), absl::Now());

  WebhookDispatcher dispatcher(&store_, sender_.get(), options_);
  dispatcher.Start();
  dispatcher.Wake();
  OKR_ASSERT_OK(store_.WaitForFinal("wh-a", absl::Seconds(20)));
  dispatcher.Stop();

  std::vector<FakeOutboxStore::Completion> log = store_.completions();
  ASSERT_EQ(log.size(), 3u);
  const int expected_status[] = {v1::DELIVERY_STATUS_RETRYING,
                                 v1::DELIVERY_STATUS_RETRYING,
                                 v1::DELIVERY_STATUS_SUCCEEDED};
  const int expected_http[] = {503, 503, 200};
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(absl::StrCat("attempt ", i + 1));
    v1::Delivery delivery = DecodeDelivery(log[i].delivery);
    EXPECT_EQ(delivery.attempt(), i + 1);
    EXPECT_EQ(static_cast<int>(delivery.status()), expected_status[i]);
    EXPECT_EQ(delivery.http_status(), expected_http[i]);
    EXPECT_EQ(delivery.reminder_id(), reminder.id());
    EXPECT_EQ(delivery.webhook_id(), "wh-a");
    if (i < 2) {
      EXPECT_THAT(delivery.error(), HasSubstr("HTTP 503 Service Unavailable"));
      // The retry is scheduled after the backoff, with at most 20% jitter.
      ASSERT_TRUE(log[i].next_attempt.has_value());
      const absl::Duration backoff = options_.initial_backoff * std::pow(2, i);
      EXPECT_EQ(dispatcher.BackoffBefore(i + 2), backoff);
      const absl::Duration scheduled = *log[i].next_attempt - log[i].delivery.time;
      EXPECT_GE(scheduled, backoff);
      EXPECT_LE(scheduled, backoff * 1.2);
    } else {
      EXPECT_EQ(delivery.error(), "");
      EXPECT_FALSE(log[i].next_attempt.has_value());
    }
  }
  // Distinct ids per attempt.
  EXPECT_NE(log[0].delivery.id, log[1].delivery.id);
  EXPECT_NE(log[1].delivery.id, log[2].delivery.id);

  // The receiver saw exactly three POSTs, spaced by at least the backoff.
  std::vector<ReceivedRequest> requests = receiver_->requests("/a");
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_GE(requests[1].time - requests[0].time, dispatcher.BackoffBefore(2));
  EXPECT_GE(requests[2].time - requests[1].time, dispatcher.BackoffBefore(3));
  for (const ReceivedRequest& request : requests) {
    EXPECT_EQ(request.body, WebhookBody(reminder));
  }
  OKR_ASSERT_OK_AND_ASSIGN(int64_t pending, store_.PendingWebhookTasks());
  EXPECT_EQ(pending, 0);
}

TEST_F(DispatcherTest, APermanentClientErrorFailsAtOnce) {
  receiver_->FailNext("/gone", 404, 1);
  store_.AddTask(SampleReminder(), "wh-gone", receiver_->url("/gone"), absl::Now());

  WebhookDispatcher dispatcher(&store_, sender_.get(), options_);
  dispatcher.Start();
  dispatcher.Wake();
  OKR_ASSERT_OK(store_.WaitForFinal("wh-gone", absl::Seconds(20)));
  // Several polls later, still no second attempt.
  absl::SleepFor(options_.initial_backoff * 5);
  dispatcher.Stop();

  std::vector<FakeOutboxStore::Completion> log = store_.completions();
  ASSERT_EQ(log.size(), 1u);
  v1::Delivery delivery = DecodeDelivery(log[0].delivery);
  EXPECT_EQ(delivery.attempt(), 1);
  EXPECT_EQ(delivery.status(), v1::DELIVERY_STATUS_FAILED);
  EXPECT_EQ(delivery.http_status(), 404);
  EXPECT_THAT(delivery.error(), HasSubstr("HTTP 404 Not Found"));
  EXPECT_EQ(receiver_->request_count("/gone"), 1);
  OKR_ASSERT_OK_AND_ASSIGN(int64_t pending, store_.PendingWebhookTasks());
  EXPECT_EQ(pending, 0);
}

TEST_F(DispatcherTest, GivesUpAfterMaxAttempts) {
  ScriptedResponse down;
  down.status = 500;
  receiver_->SetDefault("/down", down);
  options_.max_attempts = 3;
  store_.AddTask(SampleReminder(), "wh-down", receiver_->url("/down"), absl::Now());

  WebhookDispatcher dispatcher(&store_, sender_.get(), options_);
  dispatcher.Start();
  dispatcher.Wake();
  OKR_ASSERT_OK(store_.WaitForFinal("wh-down", absl::Seconds(20)));
  absl::SleepFor(options_.initial_backoff * 5);
  dispatcher.Stop();

  std::vector<FakeOutboxStore::Completion> log = store_.completions();
  ASSERT_EQ(log.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    v1::Delivery delivery = DecodeDelivery(log[i].delivery);
    EXPECT_EQ(delivery.attempt(), i + 1);
    EXPECT_EQ(delivery.http_status(), 500);
    EXPECT_EQ(delivery.status(), i < 2 ? v1::DELIVERY_STATUS_RETRYING
                                       : v1::DELIVERY_STATUS_FAILED);
  }
  EXPECT_THAT(DecodeDelivery(log[2].delivery).error(), HasSubstr("gave up after 3 attempts"));
  EXPECT_EQ(receiver_->request_count("/down"), 3);
}

TEST_F(DispatcherTest, AHangingReceiverDoesNotDelayAHealthyOne) {
  options_.attempt_timeout = absl::Seconds(4);
  receiver_->HangNext("/slow", absl::Seconds(60));
  const absl::Time now = absl::Now();
  // The hanging webhook is due first, so it is taken first.
  store_.AddTask(SampleReminder("rem-000000000001"), "wh-slow", receiver_->url("/slow"),
                 now - absl::Seconds(1));
  store_.AddTask(SampleReminder("rem-000000000002"), "wh-fast", receiver_->url("/fast"),
                 now);

  WebhookDispatcher dispatcher(&store_, sender_.get(), options_);
  dispatcher.Start();
  dispatcher.Wake();
  OKR_ASSERT_OK(store_.WaitForFinal("wh-fast", absl::Seconds(3)));
  // The healthy delivery is logged while the hanging one is still in its
  // attempt: nothing is logged for it yet.
  EXPECT_TRUE(store_.completions_for("wh-slow").empty());
  // On a loaded machine the healthy POST can finish before the hanging one
  // has even reached the receiver; it does arrive, and it hangs.
  for (int i = 0; i < 60 && receiver_->request_count("/slow") == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(receiver_->request_count("/slow"), 1);
  std::vector<FakeOutboxStore::Completion> fast = store_.completions_for("wh-fast");
  ASSERT_EQ(fast.size(), 1u);
  EXPECT_EQ(DecodeDelivery(fast[0].delivery).status(), v1::DELIVERY_STATUS_SUCCEEDED);

  // Stop lets the hanging attempt end at its deadline, which is logged as a
  // retryable timeout.
  dispatcher.Stop();
  std::vector<FakeOutboxStore::Completion> slow = store_.completions_for("wh-slow");
  ASSERT_EQ(slow.size(), 1u);
  v1::Delivery delivery = DecodeDelivery(slow[0].delivery);
  EXPECT_EQ(delivery.status(), v1::DELIVERY_STATUS_RETRYING);
  EXPECT_THAT(delivery.error(), HasSubstr("timed out after 4s"));
  EXPECT_EQ(delivery.http_status(), 0);
}

TEST_F(DispatcherTest, StopReturnsWithinTheAttemptTimeout) {
  options_.attempt_timeout = absl::Milliseconds(800);
  receiver_->HangNext("/slow", absl::Seconds(60));
  store_.AddTask(SampleReminder(), "wh-slow", receiver_->url("/slow"), absl::Now());

  WebhookDispatcher dispatcher(&store_, sender_.get(), options_);
  dispatcher.Start();
  dispatcher.Wake();
  OKR_ASSERT_OK(receiver_->WaitForRequests("/slow", 1, absl::Seconds(5)));
  const absl::Time start = absl::Now();
  dispatcher.Stop();
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, options_.attempt_timeout + absl::Milliseconds(1500));
  // Idempotent, and immediate the second time.
  const absl::Time again = absl::Now();
  dispatcher.Stop();
  EXPECT_LT(absl::Now() - again, absl::Milliseconds(100));
  EXPECT_EQ(store_.completions_for("wh-slow").size(), 1u);
}

TEST_F(DispatcherTest, StopWithoutStartAndDestructionAreClean) {
  {
    WebhookDispatcher never_started(&store_, sender_.get(), options_);
    never_started.Stop();
  }
  {
    WebhookDispatcher started(&store_, sender_.get(), options_);
    started.Start();
  }  // the destructor stops it
  EXPECT_TRUE(store_.completions().empty());
}

TEST_F(DispatcherTest, RunOnceAttemptsOnlyDueTasksAtThePinnedClock) {
  const absl::Time pinned = absl::FromUnixSeconds(1801300000);
  options_.clock = [pinned] { return pinned; };
  options_.initial_backoff = absl::Seconds(10);
  options_.max_backoff = absl::Minutes(5);
  receiver_->FailNext("/b", 502, 1);
  store_.AddTask(SampleReminder("rem-000000000001"), "wh-a", receiver_->url("/a"),
                 pinned - absl::Minutes(1));
  store_.AddTask(SampleReminder("rem-000000000002"), "wh-b", receiver_->url("/b"), pinned);
  store_.AddTask(SampleReminder("rem-000000000003"), "wh-later", receiver_->url("/later"),
                 pinned + absl::Seconds(1));

  WebhookDispatcher dispatcher(&store_, sender_.get(), options_);
  OKR_ASSERT_OK_AND_ASSIGN(int attempted, dispatcher.RunOnce());
  EXPECT_EQ(attempted, 2);
  EXPECT_EQ(receiver_->request_count("/later"), 0);

  std::vector<FakeOutboxStore::Completion> a = store_.completions_for("wh-a");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(DecodeDelivery(a[0].delivery).status(), v1::DELIVERY_STATUS_SUCCEEDED);
  EXPECT_EQ(a[0].delivery.time, pinned);

  std::vector<FakeOutboxStore::Completion> b = store_.completions_for("wh-b");
  ASSERT_EQ(b.size(), 1u);
  v1::Delivery retry = DecodeDelivery(b[0].delivery);
  EXPECT_EQ(retry.status(), v1::DELIVERY_STATUS_RETRYING);
  EXPECT_EQ(retry.http_status(), 502);
  ASSERT_TRUE(b[0].next_attempt.has_value());
  EXPECT_GE(*b[0].next_attempt, pinned + absl::Seconds(10));
  EXPECT_LE(*b[0].next_attempt, pinned + absl::Seconds(12));

  // The retry is not due yet at the pinned clock: a second pass does nothing.
  OKR_ASSERT_OK_AND_ASSIGN(int again, dispatcher.RunOnce());
  EXPECT_EQ(again, 0);
  OKR_ASSERT_OK_AND_ASSIGN(int64_t pending, store_.PendingWebhookTasks());
  EXPECT_EQ(pending, 2);  // wh-b's retry and wh-later
}

TEST_F(DispatcherTest, RunOnceReportsAStoreError) {
  store_.FailLeasesWith(absl::UnavailableError("database is locked"));
  WebhookDispatcher dispatcher(&store_, sender_.get(), options_);
  absl::StatusOr<int> attempted = dispatcher.RunOnce();
  EXPECT_EQ(attempted.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(DispatcherTest, AnUnreadableReminderFailsWithoutAPost) {
  // A truncated varint: not a parseable okr.v1.Reminder.
  store_.AddRawTask("rem-bad", "wh-a", receiver_->url("/a"), absl::Now(), "\xff\xff\xff");
  WebhookDispatcher dispatcher(&store_, sender_.get(), options_);
  OKR_ASSERT_OK_AND_ASSIGN(int attempted, dispatcher.RunOnce());
  EXPECT_EQ(attempted, 1);
  std::vector<FakeOutboxStore::Completion> log = store_.completions();
  ASSERT_EQ(log.size(), 1u);
  v1::Delivery delivery = DecodeDelivery(log[0].delivery);
  EXPECT_EQ(delivery.status(), v1::DELIVERY_STATUS_FAILED);
  EXPECT_THAT(delivery.error(), HasSubstr("unreadable"));
  EXPECT_EQ(receiver_->request_count(), 0);
}

TEST_F(DispatcherTest, ALeaseShorterThanAnAttemptIsRaisedNotFatal) {
  // Misconfigured: every leased task would expire during its own POST.
  options_.lease = absl::Milliseconds(100);
  options_.attempt_timeout = absl::Seconds(2);
  store_.AddTask(SampleReminder(), "wh-a", receiver_->url("/a"), absl::Now());
  WebhookDispatcher dispatcher(&store_, sender_.get(), options_);
  OKR_ASSERT_OK_AND_ASSIGN(int attempted, dispatcher.RunOnce());
  EXPECT_EQ(attempted, 1);
  EXPECT_EQ(receiver_->request_count("/a"), 1);
  ASSERT_EQ(store_.completions().size(), 1u);
  EXPECT_EQ(DecodeDelivery(store_.completions()[0].delivery).status(),
            v1::DELIVERY_STATUS_SUCCEEDED);
}

TEST(BackoffBefore, DoublesFromTheInitialDelayUpToTheCap) {
  WebhookDispatcherOptions options;
  options.initial_backoff = absl::Seconds(1);
  options.max_backoff = absl::Seconds(5);
  FakeOutboxStore store;
  std::unique_ptr<WebhookSender> sender = NewCurlWebhookSender(LoopbackAllowed());
  WebhookDispatcher dispatcher(&store, sender.get(), options);
  EXPECT_EQ(dispatcher.BackoffBefore(1), absl::ZeroDuration());
  EXPECT_EQ(dispatcher.BackoffBefore(2), absl::Seconds(1));
  EXPECT_EQ(dispatcher.BackoffBefore(3), absl::Seconds(2));
  EXPECT_EQ(dispatcher.BackoffBefore(4), absl::Seconds(4));
  EXPECT_EQ(dispatcher.BackoffBefore(5), absl::Seconds(5));
  EXPECT_EQ(dispatcher.BackoffBefore(60), absl::Seconds(5));
}

}  // namespace
}  // namespace okr::notify
