#include "common/worker_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace okr {

WorkerPool::WorkerPool(WorkerPoolOptions options)
    : options_([&] {
        options.threads = std::max(options.threads, 1);
        options.max_queued = std::max(options.max_queued, 0);
        return std::move(options);
      }()) {
  workers_.reserve(options_.threads);
  for (int i = 0; i < options_.threads; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

absl::Status WorkerPool::Submit(absl::AnyInvocable<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return absl::UnavailableError(
        absl::StrCat(options_.name, " workers are shutting down; retry "
                                    "against another replica or later"));
  }
  // Free workers take that many of the queued tasks without waiting, so
  // only the rest count against the bound. Workers that have not started
  // yet count as free: they will.
  const size_t free_workers = workers_.size() - static_cast<size_t>(running_);
  if (queue_.size() >= static_cast<size_t>(options_.max_queued) + free_workers) {
    return absl::UnavailableError(absl::StrCat(
        "server overloaded: all ", workers_.size(), " ", options_.name,
        " workers are busy and ", options_.max_queued,
        " requests are already waiting; retry with backoff"));
  }
  queue_.push_back(std::move(task));
  return absl::OkStatus();
}

void WorkerPool::WorkerLoop() {
  const auto has_work_or_stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stopping_;
  };
  while (true) {
    absl::AnyInvocable<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(&has_work_or_stopping));
      // Drain before exiting: a queued task may be the only thing that
      // finishes its RPC.
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    task();
    task = nullptr;  // destroy captures outside the lock, before counting
    absl::MutexLock lock(&mu_);
    --running_;
  }
}

void WorkerPool::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  absl::MutexLock lock(&join_mu_);
  if (joined_) return;
  for (std::thread& worker : workers_) worker.join();
  joined_ = true;
}

int WorkerPool::queued() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.size());
}

int WorkerPool::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

}  // namespace okr
