#include "common/health_watch.h"

#include <optional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"

namespace okr {
namespace {

class ProbingWatch final : public HealthWatch {
 public:
  ProbingWatch(Server* server, std::function<absl::Status()> probe, absl::Duration interval)
      : server_(server), probe_(std::move(probe)), interval_(interval) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ProbingWatch() override { Stop(); }

  void Stop() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    absl::MutexLock join(&join_mu_);
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    // The first probe runs at once: a store that is gone at start should not
    // look healthy for a whole interval.
    for (;;) {
      absl::Status status = probe_();
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
        // The server's health is changed only when the probe's verdict
        // changes, and under mu_ so that Stop() returning means no later
        // SetServing: main sets NOT_SERVING for shutdown right after.
        const bool healthy = status.ok();
        if (!serving_.has_value() ? !healthy : *serving_ != healthy) {
          server_->SetServing(healthy);
          if (healthy) {
            LogInfo("health: store reachable again; SERVING");
          } else {
            LogError("health: store unreachable; NOT_SERVING", {{"error", status}});
          }
        }
        serving_ = healthy;
        const auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
        if (mu_.AwaitWithTimeout(absl::Condition(&stop), interval_)) return;
      }
    }
  }

  Server* const server_;
  const std::function<absl::Status()> probe_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The last verdict; unset before the first probe (the server starts
  // SERVING, so only a failure changes it then).
  std::optional<bool> serving_ ABSL_GUARDED_BY(mu_);
  absl::Mutex join_mu_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<HealthWatch> HealthWatch::Start(Server* server,
                                                std::function<absl::Status()> probe,
                                                absl::Duration interval) {
  return std::make_unique<ProbingWatch>(server, std::move(probe), interval);
}

}  // namespace okr
