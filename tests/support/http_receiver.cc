#include "tests/support/http_receiver.h"

#include <httplib.h>

#include <deque>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace okr {
namespace {

// Server threads: enough that a test hanging a few requests (and curl's
// keep-alive connections, each holding a thread) never starves the rest.
constexpr size_t kServerThreads = 16;

struct PathScript {
  std::deque<ScriptedResponse> queued;
  ScriptedResponse fallback;
};

}  // namespace

std::string ReceivedRequest::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

struct HttpReceiver::Impl {
  httplib::Server server;
  std::thread listener;
  int port = 0;

  mutable absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::vector<ReceivedRequest> received ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, PathScript> scripts ABSL_GUARDED_BY(mu);

  void Handle(const httplib::Request& request, httplib::Response& response);
  absl::Status WaitFor(const std::string* path, int n, absl::Duration timeout) const;
  int CountLocked(const std::string* path) const ABSL_SHARED_LOCKS_REQUIRED(mu);
};

void HttpReceiver::Impl::Handle(const httplib::Request& request,
                                httplib::Response& response) {
  ReceivedRequest record;
  record.time = absl::Now();
  record.method = request.method;
  record.path = request.path;
  if (size_t q = request.target.find('?'); q != std::string::npos) {
    record.query = request.target.substr(q + 1);
  }
  record.headers.assign(request.headers.begin(), request.headers.end());
  record.body = request.body;

  ScriptedResponse answer;
  {
    absl::MutexLock lock(&mu);
    received.push_back(std::move(record));
    if (auto it = scripts.find(request.path); it != scripts.end()) {
      PathScript& script = it->second;
      if (!script.queued.empty()) {
        answer = std::move(script.queued.front());
        script.queued.pop_front();
      } else {
        answer = script.fallback;
      }
    }
    if (answer.delay > absl::ZeroDuration()) {
      // Hang, but let Stop() end the wait so the server can shut down.
      mu.AwaitWithTimeout(absl::Condition(&stopping), answer.delay);
    }
  }
  response.status = answer.status;
  for (const auto& [name, value] : answer.headers) response.set_header(name, value);
  response.set_content(answer.body, answer.content_type.c_str());
}

int HttpReceiver::Impl::CountLocked(const std::string* path) const {
  if (path == nullptr) return static_cast<int>(received.size());
  int count = 0;
  for (const ReceivedRequest& request : received) {
    if (request.path == *path) ++count;
  }
  return count;
}

absl::Status HttpReceiver::Impl::WaitFor(const std::string* path, int n,
                                         absl::Duration timeout) const {
  absl::MutexLock lock(&mu);
  auto arrived = [this, path, n]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return CountLocked(path) >= n;
  };
  if (mu.AwaitWithTimeout(absl::Condition(&arrived), timeout)) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("waited ", absl::FormatDuration(timeout), " for ", n,
                   " request(s)", path == nullptr ? "" : absl::StrCat(" to ", *path),
                   "; ", CountLocked(path), " arrived"));
}

absl::StatusOr<std::unique_ptr<HttpReceiver>> HttpReceiver::Start() {
  auto impl = std::make_unique<Impl>();
  Impl* raw = impl.get();
  raw->server.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  auto handler = [raw](const httplib::Request& request, httplib::Response& response) {
    raw->Handle(request, response);
  };
  raw->server.Get(".*", handler)
      .Post(".*", handler)
      .Put(".*", handler)
      .Patch(".*", handler)
      .Delete(".*", handler);
  // Binding port 0 leaves no window in which another process takes the port.
  raw->port = raw->server.bind_to_any_port("127.0.0.1");
  if (raw->port <= 0) {
    return absl::UnavailableError("HttpReceiver: cannot bind 127.0.0.1 to a free port");
  }
  raw->listener = std::thread([raw] { raw->server.listen_after_bind(); });
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!raw->server.is_running()) {
    if (absl::Now() > deadline) {
      raw->server.stop();
      raw->listener.join();
      return absl::UnavailableError(
          absl::StrCat("HttpReceiver: server on 127.0.0.1:", raw->port,
                       " did not start within 10s"));
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  return std::unique_ptr<HttpReceiver>(new HttpReceiver(std::move(impl)));
}

HttpReceiver::HttpReceiver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpReceiver::~HttpReceiver() { Stop(); }

int HttpReceiver::port() const { return impl_->port; }

std::string HttpReceiver::url(absl::string_view path) const {
  return absl::StrCat("http://127.0.0.1:", impl_->port, path);
}

void HttpReceiver::Enqueue(absl::string_view path, ScriptedResponse response,
                           int count) {
  absl::MutexLock lock(&impl_->mu);
  PathScript& script = impl_->scripts[std::string(path)];
  for (int i = 0; i < count; ++i) script.queued.push_back(response);
}

void HttpReceiver::FailNext(absl::string_view path, int status, int count) {
  ScriptedResponse response;
  response.status = status;
  response.body = absl::StrCat("scripted failure ", status);
  Enqueue(path, std::move(response), count);
}

void HttpReceiver::HangNext(absl::string_view path, absl::Duration delay, int count) {
  ScriptedResponse response;
  response.delay = delay;
  Enqueue(path, std::move(response), count);
}

void HttpReceiver::SetDefault(absl::string_view path, ScriptedResponse response) {
  absl::MutexLock lock(&impl_->mu);
  impl_->scripts[std::string(path)].fallback = std::move(response);
}

void HttpReceiver::ResetScripts() {
  absl::MutexLock lock(&impl_->mu);
  impl_->scripts.clear();
}

std::vector<ReceivedRequest> HttpReceiver::requests() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->received;
}

std::vector<ReceivedRequest> HttpReceiver::requests(absl::string_view path) const {
  absl::MutexLock lock(&impl_->mu);
  std::vector<ReceivedRequest> out;
  for (const ReceivedRequest& request : impl_->received) {
    if (request.path == path) out.push_back(request);
  }
  return out;
}

int HttpReceiver::request_count() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->CountLocked(nullptr);
}

int HttpReceiver::request_count(absl::string_view path) const {
  const std::string key(path);
  absl::MutexLock lock(&impl_->mu);
  return impl_->CountLocked(&key);
}

absl::Status HttpReceiver::WaitForRequests(int n, absl::Duration timeout) const {
  return impl_->WaitFor(nullptr, n, timeout);
}

absl::Status HttpReceiver::WaitForRequests(absl::string_view path, int n,
                                           absl::Duration timeout) const {
  const std::string key(path);
  return impl_->WaitFor(&key, n, timeout);
}

void HttpReceiver::Stop() {
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stopping = true;
  }
  impl_->server.stop();
  if (impl_->listener.joinable()) impl_->listener.join();
}

}  // namespace okr
