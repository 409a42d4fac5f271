// Webhook delivery: URL validation, the Slack-compatible body, and one HTTP
// POST attempt over libcurl with a deadline.
//
// A body is `{"text": <reminder.text>, "reminder": <the okr.v1.Reminder as
// proto3 JSON>}`: Slack incoming webhooks show the text and ignore the rest,
// internal platforms read the reminder.
//
// An attempt's outcome decides what happens next (webhook_dispatcher.h):
// 2xx succeeded; 408, 429, 5xx, timeouts and connection failures are
// retryable; every other status (a 3xx is not followed, a 4xx will not
// change by retrying) fails for good.
//
// Destinations. A webhook URL comes from an organisation's admin, but the POST
// leaves from inside the deployment: unchecked, a URL could reach the
// services' own ports, Redis, PostgreSQL, a cloud metadata endpoint
// (169.254.169.254) or anything else on the private network (server-side
// request forgery). So a webhook may only reach public (globally routable)
// addresses, unless a WebhookDestinationPolicy (okr-notify's
// --webhook_allow_cidrs) allows more. It is checked twice: lexically when a
// webhook is created (IP literals in any form libc accepts, "localhost"
// names), and on every address libcurl is about to connect to, so a name that
// resolves (or later re-resolves: DNS rebinding) to a non-public address is
// refused too, before any packet is sent to it.
#ifndef OKR_SERVICES_NOTIFY_WEBHOOK_H_
#define OKR_SERVICES_NOTIFY_WEBHOOK_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "okr/v1/notify.pb.h"

namespace okr::notify {

// The most characters a webhook URL may have.
inline constexpr int kMaxWebhookUrlLength = 2000;

// OK for an absolute http:// or https:// URL with a host, at most
// kMaxWebhookUrlLength characters, without whitespace or control characters
// and without user:password. INVALID_ARGUMENT naming `field` (e.g.
// "webhook.url") otherwise, saying what is wrong.
absl::Status ValidateWebhookUrl(absl::string_view url, absl::string_view field);

// An IPv4 or IPv6 address. IPv4 is held IPv4-mapped (::ffff:a.b.c.d), so one
// representation and one list of networks covers both families, and an
// IPv4-mapped IPv6 destination is judged as the IPv4 address it is.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};

  bool IsV4Mapped() const;
  // "10.0.0.1" for an IPv4(-mapped) address, RFC 5952 text for IPv6.
  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// Parses a dotted-quad IPv4 address or an IPv6 address (without brackets or a
// zone); nullopt otherwise.
std::optional<IpAddress> ParseIpAddress(absl::string_view text);

// An address prefix such as 10.0.0.0/8 or ::1/128. prefix_length counts over
// the 128-bit form, so an IPv4 /8 is stored as /104.
struct IpNetwork {
  IpAddress address;  // host bits are zero
  int prefix_length = 128;

  bool Contains(const IpAddress& address) const;
  // As written in configuration: "10.0.0.0/8", "fc00::/7".
  std::string ToString() const;

  friend bool operator==(const IpNetwork&, const IpNetwork&) = default;
};

// Parses "A.B.C.D/N" (N 0..32), "IPV6/N" (N 0..128) or a bare address (one
// host). INVALID_ARGUMENT when malformed or when host bits are set (a typo
// such as 10.1.2.3/8 would otherwise allow more than was meant).
absl::StatusOr<IpNetwork> ParseIpNetwork(absl::string_view text);

// The special-purpose range of `address` as "<network> (<what>)", e.g.
// "10.0.0.0/8 (private)" or "169.254.0.0/16 (link-local)"; empty when the
// address is public. Covers the IANA IPv4 and IPv6 special-purpose registries
// (private, loopback, link-local, unique-local, CGNAT, multicast,
// unspecified, documentation, benchmarking, reserved), IPv6 outside
// 2000::/3, and judges IPv4-mapped and NAT64 (64:ff9b::/96) addresses by the
// IPv4 address they carry.
std::string NonPublicRange(const IpAddress& address);

// Which destinations webhooks may reach: public addresses, plus the allowed
// networks. Immutable after construction, so one instance may be shared by
// every thread.
class WebhookDestinationPolicy {
 public:
  // Public addresses only (the production default).
  WebhookDestinationPolicy() = default;
  explicit WebhookDestinationPolicy(std::vector<IpNetwork> allowed)
      : allowed_(std::move(allowed)) {}

  // Parses a comma-separated list of networks (spaces around entries are
  // ignored; empty allows nothing beyond public addresses).
  // INVALID_ARGUMENT naming `flag` and the bad entry otherwise.
  static absl::StatusOr<WebhookDestinationPolicy> Parse(absl::string_view cidrs,
                                                        absl::string_view flag);

  // OK when `address` is public or inside an allowed network;
  // PERMISSION_DENIED naming the address and its range otherwise.
  absl::Status CheckAddress(const IpAddress& address) const;

  // The lexical check at creation: when the host of `url` (which passed
  // ValidateWebhookUrl) is an IP literal (any form inet_aton accepts, such
  // as 2130706433 or 127.1, included) or a localhost name ("localhost",
  // "*.localhost", "ip6-localhost", ...), that address must pass
  // CheckAddress. Other names pass: their addresses are checked at connect
  // time. INVALID_ARGUMENT with a field violation naming `field` otherwise.
  absl::Status CheckUrlHost(absl::string_view url, absl::string_view field) const;

  const std::vector<IpNetwork>& allowed() const { return allowed_; }

 private:
  std::vector<IpNetwork> allowed_;
};

// The JSON body POSTed for `reminder`.
std::string WebhookBody(const v1::Reminder& reminder);

struct WebhookAttempt {
  enum class Outcome { kSucceeded, kRetryable, kPermanentFailure };
  Outcome outcome = Outcome::kRetryable;
  int http_status = 0;  // 0 when no response arrived
  std::string error;    // empty on success, e.g. "HTTP 503", "timed out after 5s"
};

// Sends one POST. Implementations must be thread-safe and must return
// within `timeout` (plus scheduling slack), whatever the server does.
class WebhookSender {
 public:
  virtual ~WebhookSender() = default;
  virtual WebhookAttempt Post(absl::string_view url, absl::string_view json_body,
                              absl::Duration timeout) = 0;
};

// The libcurl sender: Content-Type application/json, no redirects followed,
// no signals (CURLOPT_NOSIGNAL, safe in threads), TLS peers verified, no
// proxy (http_proxy and friends are ignored: through a proxy the destination
// address could not be checked). Every address libcurl is about to connect
// to must pass `destinations`; when none does, the attempt fails for good
// ("destination ... is in ...") without a packet sent. Calls
// curl_global_init once.
std::unique_ptr<WebhookSender> NewCurlWebhookSender(
    WebhookDestinationPolicy destinations = WebhookDestinationPolicy());

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_WEBHOOK_H_
