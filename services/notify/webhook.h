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
#ifndef OKR_SERVICES_NOTIFY_WEBHOOK_H_
#define OKR_SERVICES_NOTIFY_WEBHOOK_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
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
// no signals (CURLOPT_NOSIGNAL, safe in threads), TLS peers verified.
// Calls curl_global_init once.
std::unique_ptr<WebhookSender> NewCurlWebhookSender();

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_WEBHOOK_H_
