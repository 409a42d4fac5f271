// HttpReceiver: a real HTTP/1.1 server for tests (cpp-httplib underneath) on
// 127.0.0.1 and a port the kernel picks, standing in for a webhook receiver
// such as Slack. It records every request (method, path, headers, body, time
// of arrival) and answers 200 with "ok" unless a test scripted otherwise per
// path: "answer 503 to the next 2 requests", "hang 10 s before answering",
// "always answer 404".
//
// Everything is thread-safe: the server answers on its own threads while the
// test scripts and inspects it. Stop() (or the destructor) cuts short every
// request still hanging, so a test never waits for a scripted delay to end.
#ifndef OKR_TESTS_SUPPORT_HTTP_RECEIVER_H_
#define OKR_TESTS_SUPPORT_HTTP_RECEIVER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace okr {

// One request as the receiver saw it.
struct ReceivedRequest {
  std::string method;  // "POST", "GET", ...
  std::string path;    // without the query string, e.g. "/hooks/a"
  std::string query;   // what followed '?', "" when none
  std::vector<std::pair<std::string, std::string>> headers;  // as sent
  std::string body;
  absl::Time time;  // when it arrived (before any scripted delay)

  // The value of header `name` (case-insensitive), "" when absent.
  std::string Header(absl::string_view name) const;
};

// How the receiver answers one request.
struct ScriptedResponse {
  int status = 200;
  // Waited before answering; Stop() cuts it short (the client then sees the
  // connection close).
  absl::Duration delay = absl::ZeroDuration();
  std::string body = "ok";
  std::string content_type = "text/plain";
  // Extra response headers, e.g. {"Location", "https://elsewhere/"}.
  std::vector<std::pair<std::string, std::string>> headers;
};

class HttpReceiver {
 public:
  // Starts the server on 127.0.0.1 and a free port and returns once it
  // accepts connections. UNAVAILABLE when it cannot bind or start.
  static absl::StatusOr<std::unique_ptr<HttpReceiver>> Start();

  ~HttpReceiver();  // Stop()s
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  int port() const;
  // "http://127.0.0.1:<port><path>"; `path` should start with '/'.
  std::string url(absl::string_view path) const;

  // --- Scripting (per path; a path never scripted answers 200 "ok") ---------

  // The next `count` requests to `path` are answered with `response`, in
  // order after responses queued earlier; then the path's default applies.
  void Enqueue(absl::string_view path, ScriptedResponse response, int count = 1);
  // Shorthand: the next `count` requests to `path` get `status`, then 200.
  void FailNext(absl::string_view path, int status, int count);
  // Shorthand: the next `count` requests to `path` wait `delay`, then 200.
  void HangNext(absl::string_view path, absl::Duration delay, int count = 1);
  // The answer once nothing is queued for `path` (200 "ok" until set).
  void SetDefault(absl::string_view path, ScriptedResponse response);
  // Drops every script and default; recorded requests stay.
  void ResetScripts();

  // --- What arrived -------------------------------------------------------------

  // Every request so far, in order of arrival.
  std::vector<ReceivedRequest> requests() const;
  // The requests to `path`, in order of arrival.
  std::vector<ReceivedRequest> requests(absl::string_view path) const;
  int request_count() const;
  int request_count(absl::string_view path) const;

  // Returns OK once at least `n` requests (to any path / to `path`) have
  // arrived, DEADLINE_EXCEEDED saying how many did when `timeout` passes
  // first.
  absl::Status WaitForRequests(int n, absl::Duration timeout) const;
  absl::Status WaitForRequests(absl::string_view path, int n,
                               absl::Duration timeout) const;

  // Stops accepting connections, ends scripted delays early and joins the
  // server's threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit HttpReceiver(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace okr

#endif  // OKR_TESTS_SUPPORT_HTTP_RECEIVER_H_
