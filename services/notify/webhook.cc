#include "services/notify/webhook.h"

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"

namespace okr::notify {
namespace {

// How much of a URL an error message quotes: enough to recognise it, never a
// wall of text in a log line.
constexpr size_t kQuotedUrlChars = 60;
// How much of a failing response's body an error keeps (Slack answers
// "no_service", "invalid_token", ... in the body).
constexpr size_t kKeptResponseBytes = 512;
constexpr size_t kQuotedResponseChars = 120;

std::string Quoted(absl::string_view text, size_t max_chars) {
  if (text.size() <= max_chars) return absl::StrCat("\"", text, "\"");
  return absl::StrCat("\"", text.substr(0, max_chars), "...\"");
}

bool IsHostChar(char c) {
  // Letters, digits, '-', '.', '_' and non-ASCII bytes (an IDN host that
  // libcurl converts with libidn2).
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '.' || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status ValidatePort(absl::string_view port, absl::string_view field) {
  int value = 0;
  if (port.empty() || !std::all_of(port.begin(), port.end(),
                                   [](char c) { return c >= '0' && c <= '9'; }) ||
      port.size() > 5 || !absl::SimpleAtoi(port, &value) || value < 1 ||
      value > 65535) {
    return Invalid(field, absl::StrCat("port ", Quoted(port, 10),
                                       " must be a number from 1 to 65535"));
  }
  return absl::OkStatus();
}

// The standard reason phrase of `code`; HTTP/2 responses carry none, so the
// phrase comes from this table rather than from the status line.
absl::string_view ReasonPhrase(long code) {
  switch (code) {
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

// The first line of a response body, printable ASCII only, shortened: what a
// person reading the delivery log needs to see why a receiver refused.
std::string BodySnippet(absl::string_view body) {
  std::string out;
  for (char c : body) {
    if (c == '\n' || c == '\r') break;
    out.push_back(absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : '?');
    if (out.size() >= kQuotedResponseChars) {
      out += "...";
      break;
    }
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

std::string HttpError(long code, absl::string_view body, const char* redirect_url) {
  std::string error = absl::StrCat("HTTP ", code);
  absl::string_view phrase = ReasonPhrase(code);
  if (!phrase.empty()) absl::StrAppend(&error, " ", phrase);
  if (code >= 300 && code < 400) {
    absl::StrAppend(&error, " (redirects are not followed; ");
    if (redirect_url != nullptr && *redirect_url != '\0') {
      absl::StrAppend(&error, "set the webhook URL to ",
                      Quoted(redirect_url, kQuotedUrlChars), ")");
    } else {
      absl::StrAppend(&error, "set the webhook URL to the final address)");
    }
    return error;
  }
  std::string snippet = BodySnippet(body);
  if (!snippet.empty()) absl::StrAppend(&error, ": ", snippet);
  return error;
}

size_t KeepSomeOfBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t bytes = size * nmemb;
  if (body->size() < kKeptResponseBytes) {
    body->append(data, std::min(bytes, kKeptResponseBytes - body->size()));
  }
  return bytes;  // the rest is read and dropped: a short answer is all we need
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
      LogError("libcurl initialisation failed; webhooks will fail",
               {{"error", curl_easy_strerror(code)}});
    }
  });
}

struct CurlEasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

class CurlWebhookSender final : public WebhookSender {
 public:
  CurlWebhookSender() { InitCurlOnce(); }

  WebhookAttempt Post(absl::string_view url, absl::string_view json_body,
                      absl::Duration timeout) override;
};

WebhookAttempt Failure(WebhookAttempt::Outcome outcome, std::string error,
                       int http_status = 0) {
  WebhookAttempt attempt;
  attempt.outcome = outcome;
  attempt.http_status = http_status;
  attempt.error = std::move(error);
  return attempt;
}

WebhookAttempt CurlWebhookSender::Post(absl::string_view url,
                                       absl::string_view json_body,
                                       absl::Duration timeout) {
  using Outcome = WebhookAttempt::Outcome;
  // A URL stored before a validation rule existed must not reach libcurl.
  if (absl::Status valid = ValidateWebhookUrl(url, "url"); !valid.ok()) {
    return Failure(Outcome::kPermanentFailure, std::string(valid.message()));
  }
  std::unique_ptr<CURL, CurlEasyDeleter> curl(curl_easy_init());
  if (curl == nullptr) {
    return Failure(Outcome::kRetryable, "could not create a libcurl handle");
  }
  std::unique_ptr<curl_slist, CurlSlistDeleter> headers;
  for (const char* header :
       {"Content-Type: application/json", "Accept: application/json, */*",
        // Without this libcurl waits up to a second for "100 Continue" on
        // bodies over 1 KiB, which many webhook receivers never send.
        "Expect:"}) {
    curl_slist* grown = curl_slist_append(headers.get(), header);
    if (grown == nullptr) return Failure(Outcome::kRetryable, "out of memory");
    headers.release();
    headers.reset(grown);
  }

  const std::string url_string(url);
  const long timeout_ms =
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout)));
  std::string response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url_string.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  // Signals would be unsafe in our worker threads; timeouts still hold with
  // the threaded resolver Debian's libcurl uses.
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85.0
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(h, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "okr-notify");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, json_body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(json_body.size()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &KeepSomeOfBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);

  const CURLcode code = curl_easy_perform(h);
  long http_status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http_status);
  const std::string detail =
      error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(code);

  switch (code) {
    case CURLE_OK:
      break;
    case CURLE_OPERATION_TIMEDOUT:
      return Failure(Outcome::kRetryable,
                     absl::StrCat("timed out after ", absl::FormatDuration(timeout),
                                  http_status > 0 ? " reading the response"
                                                  : " waiting for a response"),
                     static_cast<int>(http_status));
    case CURLE_COULDNT_CONNECT: {
      long os_errno = 0;
      curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
      if (os_errno == ECONNREFUSED) {
        return Failure(Outcome::kRetryable,
                       absl::StrCat("connection refused (", detail, ")"));
      }
      return Failure(Outcome::kRetryable, absl::StrCat("could not connect (", detail, ")"));
    }
    case CURLE_COULDNT_RESOLVE_HOST:
      return Failure(Outcome::kRetryable,
                     absl::StrCat("could not resolve the host (", detail, ")"));
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      // The same URL fails the same way on every retry.
      return Failure(Outcome::kPermanentFailure, absl::StrCat("invalid URL (", detail, ")"));
    default:
      return Failure(Outcome::kRetryable, detail, static_cast<int>(http_status));
  }

  WebhookAttempt attempt;
  attempt.http_status = static_cast<int>(http_status);
  if (http_status >= 200 && http_status < 300) {
    attempt.outcome = Outcome::kSucceeded;
    return attempt;
  }
  char* redirect_url = nullptr;
  curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &redirect_url);
  attempt.error = HttpError(http_status, response, redirect_url);
  attempt.outcome = (http_status == 408 || http_status == 429 || http_status >= 500)
                        ? Outcome::kRetryable
                        : Outcome::kPermanentFailure;
  return attempt;
}

}  // namespace

absl::Status ValidateWebhookUrl(absl::string_view url, absl::string_view field) {
  if (url.empty()) {
    return Invalid(field, "must be an http:// or https:// URL, got an empty string");
  }
  if (url.size() > static_cast<size_t>(kMaxWebhookUrlLength)) {
    return Invalid(field, absl::StrCat("must be at most ", kMaxWebhookUrlLength,
                                       " characters, got ", url.size()));
  }
  for (size_t i = 0; i < url.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(url[i]);
    if (c <= 0x20 || c == 0x7f) {
      return Invalid(field, absl::StrCat("must not contain spaces or control characters "
                                         "(found one at position ",
                                         i + 1, "); percent-encode them, e.g. %20"));
    }
  }

  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) {
    const size_t colon = url.find(':');
    if (colon != absl::string_view::npos && colon > 0) {
      return Invalid(field, absl::StrCat("must be an http:// or https:// URL, got scheme ",
                                         Quoted(url.substr(0, colon), 20)));
    }
    return Invalid(field, absl::StrCat("must be an http:// or https:// URL, got ",
                                       Quoted(url, kQuotedUrlChars)));
  }
  const absl::string_view scheme = url.substr(0, scheme_end);
  if (!absl::EqualsIgnoreCase(scheme, "http") && !absl::EqualsIgnoreCase(scheme, "https")) {
    return Invalid(field, absl::StrCat("must be an http:// or https:// URL, got scheme ",
                                       Quoted(scheme, 20)));
  }

  absl::string_view rest = url.substr(scheme_end + 3);
  const absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (absl::StrContains(authority, '@')) {
    // The credentials would be stored and logged in clear; receivers take a
    // secret in the path or query instead (as Slack does).
    return Invalid(field,
                   "must not contain a user name or password (\"user:password@\"); put "
                   "the receiver's secret token in the path or query instead");
  }
  absl::string_view host = authority;
  absl::string_view port;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return Invalid(field, "has an IPv6 host without its closing ']'");
    }
    host = authority.substr(1, close - 1);
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return Invalid(field, absl::StrCat("has unexpected text ", Quoted(after, 20),
                                           " after the IPv6 host"));
      }
      port = after.substr(1);
      if (absl::Status status = ValidatePort(port, field); !status.ok()) return status;
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' ||
                 c == '.';
        })) {
      return Invalid(field, absl::StrCat("has an invalid IPv6 host ", Quoted(host, 45)));
    }
    return absl::OkStatus();
  }
  if (const size_t colon = authority.rfind(':'); colon != absl::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (absl::Status status = ValidatePort(port, field); !status.ok()) return status;
  }
  if (host.empty()) {
    return Invalid(field,
                   "must be an http:// or https:// URL with a host, e.g. "
                   "https://hooks.example.com/okr");
  }
  for (char c : host) {
    if (!IsHostChar(c)) {
      return Invalid(field, absl::StrCat("host ", Quoted(host, kQuotedUrlChars),
                                         " has an invalid character '",
                                         absl::string_view(&c, 1), "'"));
    }
  }
  return absl::OkStatus();
}

std::string WebhookBody(const v1::Reminder& reminder) {
  std::string reminder_json;
  google::protobuf::util::JsonPrintOptions options;
  if (!google::protobuf::util::MessageToJsonString(reminder, &reminder_json, options)
           .ok()) {
    // Only an Any of an unknown type can fail to print; a Reminder has none.
    reminder_json = "{}";
  }
  return absl::StrCat("{\"text\":", JsonQuote(reminder.text()),
                      ",\"reminder\":", reminder_json, "}");
}

std::unique_ptr<WebhookSender> NewCurlWebhookSender() {
  return std::make_unique<CurlWebhookSender>();
}

}  // namespace okr::notify
