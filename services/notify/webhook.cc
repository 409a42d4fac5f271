#include "services/notify/webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/log.h"
#include "common/validation.h"
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

// With the field violation as payload, so the adapter sends a
// google.rpc.BadRequest like every other validation error.
absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return MakeInvalidArgument({{std::string(field), std::string(what)}});
}

// --- Destinations ----------------------------------------------------------------

IpAddress MappedV4(uint32_t host_order) {
  IpAddress address;
  address.bytes[10] = 0xff;
  address.bytes[11] = 0xff;
  address.bytes[12] = static_cast<uint8_t>(host_order >> 24);
  address.bytes[13] = static_cast<uint8_t>(host_order >> 16);
  address.bytes[14] = static_cast<uint8_t>(host_order >> 8);
  address.bytes[15] = static_cast<uint8_t>(host_order);
  return address;
}

IpNetwork MustNetwork(absl::string_view text) {
  absl::StatusOr<IpNetwork> network = ParseIpNetwork(text);
  // The tables below are constants; a typo there is a bug caught by the
  // first test that classifies an address.
  if (!network.ok()) std::abort();
  return *network;
}

struct SpecialRange {
  IpNetwork network;
  std::string text;  // "10.0.0.0/8 (private)"
};

std::vector<SpecialRange> MakeRanges(
    std::initializer_list<std::pair<absl::string_view, absl::string_view>> entries) {
  std::vector<SpecialRange> out;
  for (const auto& [cidr, what] : entries) {
    out.push_back({MustNetwork(cidr), absl::StrCat(cidr, " (", what, ")")});
  }
  return out;
}

// The IANA IPv4 special-purpose registry, minus nothing: even the entries
// marked globally reachable there (192.0.0.9/32 and the like) are anycast
// protocol services, never a webhook receiver.
const std::vector<SpecialRange>& V4Ranges() {
  static const auto* ranges = new std::vector<SpecialRange>(MakeRanges({
      {"0.0.0.0/8", "unspecified, \"this network\""},
      {"10.0.0.0/8", "private"},
      {"100.64.0.0/10", "carrier-grade NAT"},
      {"127.0.0.0/8", "loopback"},
      {"169.254.0.0/16", "link-local, incl. cloud metadata"},
      {"172.16.0.0/12", "private"},
      {"192.0.0.0/24", "IETF protocol assignments"},
      {"192.0.2.0/24", "documentation"},
      {"192.88.99.0/24", "6to4 relay anycast"},
      {"192.168.0.0/16", "private"},
      {"198.18.0.0/15", "benchmarking"},
      {"198.51.100.0/24", "documentation"},
      {"203.0.113.0/24", "documentation"},
      {"224.0.0.0/4", "multicast"},
      {"240.0.0.0/4", "reserved, incl. broadcast"},
  }));
  return *ranges;
}

// The IPv6 special-purpose registry's non-global entries; everything outside
// 2000::/3 is refused after these (unassigned or special).
const std::vector<SpecialRange>& V6Ranges() {
  static const auto* ranges = new std::vector<SpecialRange>(MakeRanges({
      {"::/128", "unspecified"},
      {"::1/128", "loopback"},
      {"::ffff:0:0:0/96", "IPv4-translated"},
      {"64:ff9b:1::/48", "NAT64 local use"},
      {"100::/64", "discard only"},
      {"2001::/23", "IETF protocol assignments, incl. Teredo"},
      {"2001:db8::/32", "documentation"},
      {"2002::/16", "6to4"},
      {"3fff::/20", "documentation"},
      {"fc00::/7", "unique-local"},
      {"fe80::/10", "link-local"},
      {"fec0::/10", "site-local"},
      {"ff00::/8", "multicast"},
  }));
  return *ranges;
}

// The address with host bits of `prefix_length` cleared.
IpAddress Masked(const IpAddress& address, int prefix_length) {
  IpAddress out = address;
  for (int i = 0; i < 16; ++i) {
    const int bits = std::clamp(prefix_length - 8 * i, 0, 8);
    out.bytes[i] &= static_cast<uint8_t>(bits == 0 ? 0 : 0xff << (8 - bits));
  }
  return out;
}

std::optional<IpAddress> FromSocketAddress(const curl_sockaddr& address) {
  sockaddr_storage storage{};
  std::memcpy(&storage, &address.addr,
              std::min<size_t>(address.addrlen, sizeof(storage)));
  if (address.family == AF_INET && address.addrlen >= sizeof(sockaddr_in)) {
    sockaddr_in v4;
    std::memcpy(&v4, &storage, sizeof(v4));
    return MappedV4(ntohl(v4.sin_addr.s_addr));
  }
  if (address.family == AF_INET6 && address.addrlen >= sizeof(sockaddr_in6)) {
    sockaddr_in6 v6;
    std::memcpy(&v6, &storage, sizeof(v6));
    IpAddress out;
    std::memcpy(out.bytes.data(), &v6.sin6_addr, 16);
    return out;
  }
  return std::nullopt;
}

// The host of a URL that passed ValidateWebhookUrl, without brackets.
absl::string_view UrlHost(absl::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return "";
  absl::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    return close == absl::string_view::npos ? authority.substr(1)
                                            : authority.substr(1, close - 1);
  }
  return authority.substr(0, authority.rfind(':'));
}

// Names that resolve to loopback without DNS: RFC 6761 localhost and its
// subdomains, and the names Debian's /etc/hosts gives ::1.
bool IsLocalhostName(absl::string_view host) {
  const std::string lower = absl::AsciiStrToLower(host);
  return lower == "localhost" || absl::EndsWith(lower, ".localhost") ||
         lower == "localhost.localdomain" || lower == "ip6-localhost" ||
         lower == "ip6-loopback";
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

// What the open-socket callback saw during one attempt.
struct ConnectGuard {
  const WebhookDestinationPolicy* policy = nullptr;
  int opened = 0;
  std::string refusal;  // the first refused address's reason
};

// libcurl's CURLOPT_OPENSOCKETFUNCTION: called with each address libcurl has
// resolved and is about to connect to (both families when happy eyeballs
// tries them), so the check sees exactly what would be contacted.
curl_socket_t OpenCheckedSocket(void* user, curlsocktype purpose,
                                curl_sockaddr* address) {
  auto* guard = static_cast<ConnectGuard*>(user);
  absl::Status allowed;
  if (purpose != CURLSOCKTYPE_IPCXN) {
    allowed = absl::PermissionDeniedError("only outgoing connections are allowed");
  } else if (std::optional<IpAddress> ip = FromSocketAddress(*address); !ip.has_value()) {
    allowed = absl::PermissionDeniedError(
        absl::StrCat("address family ", address->family, " is not allowed"));
  } else {
    allowed = guard->policy->CheckAddress(*ip);
  }
  if (!allowed.ok()) {
    if (guard->refusal.empty()) guard->refusal = std::string(allowed.message());
    return CURL_SOCKET_BAD;
  }
  ++guard->opened;
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

class CurlWebhookSender final : public WebhookSender {
 public:
  explicit CurlWebhookSender(WebhookDestinationPolicy destinations)
      : destinations_(std::move(destinations)) {
    InitCurlOnce();
  }

  WebhookAttempt Post(absl::string_view url, absl::string_view json_body,
                      absl::Duration timeout) override;

 private:
  const WebhookDestinationPolicy destinations_;
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
  // Through a proxy the socket would lead to the proxy, not to the
  // destination, and the check below would judge the wrong address.
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  ConnectGuard guard;
  guard.policy = &destinations_;
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &OpenCheckedSocket);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &guard);
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

  if (code != CURLE_OK && guard.opened == 0 && !guard.refusal.empty()) {
    // Every address of the host was refused: the same host fails the same
    // way until its DNS or the allow-list changes, which retries would not wait for.
    return Failure(Outcome::kPermanentFailure, guard.refusal);
  }
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

bool IpAddress::IsV4Mapped() const {
  static constexpr std::array<uint8_t, 12> kPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(kPrefix.begin(), kPrefix.end(), bytes.begin());
}

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {0};
  if (IsV4Mapped()) {
    inet_ntop(AF_INET, bytes.data() + 12, text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, bytes.data(), text, sizeof(text));
  }
  return text;
}

std::optional<IpAddress> ParseIpAddress(absl::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string copy(text);
  in_addr v4;
  if (inet_pton(AF_INET, copy.c_str(), &v4) == 1) return MappedV4(ntohl(v4.s_addr));
  IpAddress out;
  if (inet_pton(AF_INET6, copy.c_str(), out.bytes.data()) == 1) return out;
  return std::nullopt;
}

bool IpNetwork::Contains(const IpAddress& candidate) const {
  return Masked(candidate, prefix_length) == address;
}

std::string IpNetwork::ToString() const {
  if (address.IsV4Mapped() && prefix_length >= 96) {
    return absl::StrCat(address.ToString(), "/", prefix_length - 96);
  }
  return absl::StrCat(address.ToString(), "/", prefix_length);
}

absl::StatusOr<IpNetwork> ParseIpNetwork(absl::string_view text) {
  const size_t slash = text.find('/');
  const absl::string_view address_text = text.substr(0, slash);
  std::optional<IpAddress> address = ParseIpAddress(address_text);
  if (!address.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not an IPv4 or IPv6 network such as 10.0.0.0/8 "
                     "or fd00::/8 (\"", address_text, "\" is not an address)"));
  }
  const bool v4 = absl::StrContains(address_text, '.') && !absl::StrContains(address_text, ':');
  const int max_length = v4 ? 32 : 128;
  int length = max_length;
  if (slash != absl::string_view::npos) {
    const absl::string_view length_text = text.substr(slash + 1);
    if (length_text.empty() || length_text.size() > 3 ||
        !std::all_of(length_text.begin(), length_text.end(),
                     [](char c) { return c >= '0' && c <= '9'; }) ||
        !absl::SimpleAtoi(length_text, &length) || length > max_length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", text, "\" has an invalid prefix length; expected 0 to ", max_length));
    }
  }
  IpNetwork network;
  network.prefix_length = v4 ? length + 96 : length;
  network.address = Masked(*address, network.prefix_length);
  if (!(network.address == *address)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" has host bits set; did you mean ", network.ToString(),
                     "?"));
  }
  return network;
}

std::string NonPublicRange(const IpAddress& address) {
  const auto find = [](const std::vector<SpecialRange>& ranges,
                       const IpAddress& a) -> std::string {
    for (const SpecialRange& range : ranges) {
      if (range.network.Contains(a)) return range.text;
    }
    return "";
  };
  if (address.IsV4Mapped()) return find(V4Ranges(), address);
  // NAT64 (RFC 6052): the translator connects to the embedded IPv4 address.
  static const IpNetwork kNat64 = MustNetwork("64:ff9b::/96");
  if (kNat64.Contains(address)) {
    IpAddress v4 = address;
    std::fill(v4.bytes.begin(), v4.bytes.begin() + 10, 0);
    v4.bytes[10] = v4.bytes[11] = 0xff;
    const std::string embedded = find(V4Ranges(), v4);
    return embedded.empty() ? "" : absl::StrCat("64:ff9b::/96 (NAT64 of ", embedded, ")");
  }
  if (std::string range = find(V6Ranges(), address); !range.empty()) return range;
  static const IpNetwork kGlobalUnicast = MustNetwork("2000::/3");
  if (!kGlobalUnicast.Contains(address)) {
    return "outside 2000::/3 (not global unicast)";
  }
  return "";
}

absl::StatusOr<WebhookDestinationPolicy> WebhookDestinationPolicy::Parse(
    absl::string_view cidrs, absl::string_view flag) {
  std::vector<IpNetwork> allowed;
  for (absl::string_view entry : absl::StrSplit(cidrs, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    absl::StatusOr<IpNetwork> network = ParseIpNetwork(entry);
    if (!network.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", network.status().message()));
    }
    allowed.push_back(*network);
  }
  return WebhookDestinationPolicy(std::move(allowed));
}

absl::Status WebhookDestinationPolicy::CheckAddress(const IpAddress& address) const {
  const std::string range = NonPublicRange(address);
  if (range.empty()) return absl::OkStatus();
  for (const IpNetwork& network : allowed_) {
    if (network.Contains(address)) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("destination ", address.ToString(), " is in ", range,
                   "; webhooks may reach only public addresses unless okr-notify's "
                   "--webhook_allow_cidrs allows it"));
}

absl::Status WebhookDestinationPolicy::CheckUrlHost(absl::string_view url,
                                                    absl::string_view field) const {
  absl::string_view host = UrlHost(url);
  if (absl::EndsWith(host, ".")) host.remove_suffix(1);  // "127.0.0.1." resolves too
  std::vector<IpAddress> addresses;
  if (std::optional<IpAddress> literal = ParseIpAddress(host); literal.has_value()) {
    addresses.push_back(*literal);
  } else if (in_addr v4; !host.empty() && host.size() < 64 &&
                         inet_aton(std::string(host).c_str(), &v4) != 0) {
    // The resolver takes 2130706433, 0x7f.1 or 127.1 as 127.0.0.1.
    addresses.push_back(MappedV4(ntohl(v4.s_addr)));
  } else if (IsLocalhostName(host)) {
    // Either family may be what the name resolves to; allowing one suffices
    // here, the connect-time check judges the address actually used.
    const absl::Status v4 = CheckAddress(MappedV4(0x7f000001));
    const absl::Status v6 = CheckAddress(*ParseIpAddress("::1"));
    if (v4.ok() || v6.ok()) return absl::OkStatus();
    return Invalid(field, absl::StrCat("host \"", host,
                                       "\" is loopback; webhooks may reach only public "
                                       "addresses unless okr-notify's --webhook_allow_cidrs "
                                       "allows 127.0.0.0/8 or ::1/128"));
  }
  for (const IpAddress& address : addresses) {
    if (absl::Status allowed = CheckAddress(address); !allowed.ok()) {
      return Invalid(field, allowed.message());
    }
  }
  return absl::OkStatus();
}

std::unique_ptr<WebhookSender> NewCurlWebhookSender(WebhookDestinationPolicy destinations) {
  return std::make_unique<CurlWebhookSender>(std::move(destinations));
}

}  // namespace okr::notify
