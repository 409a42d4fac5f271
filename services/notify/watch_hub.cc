#include "services/notify/watch_hub.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace okr::notify {

bool WatchFilter::Matches(absl::string_view organisation_id,
                          const v1::Reminder& reminder) const {
  if (organisation_id != this->organisation_id) return false;
  if (!request.recipient_id().empty() && request.recipient_id() != reminder.recipient_id()) {
    return false;
  }
  if (!request.team_id().empty() && request.team_id() != reminder.team_id()) return false;
  return request.kinds().empty() ||
         std::find(request.kinds().begin(), request.kinds().end(), reminder.kind()) !=
             request.kinds().end();
}

int64_t WatchHub::Subscribe(WatchFilter filter, Callback callback) {
  auto watcher = std::make_shared<Watcher>(Watcher{std::move(filter), std::move(callback)});
  absl::MutexLock lock(&mu_);
  const int64_t handle = next_handle_++;
  watchers_.emplace(handle, std::move(watcher));
  return handle;
}

void WatchHub::Unsubscribe(int64_t handle) {
  std::shared_ptr<Watcher> removed;  // destroyed outside the lock
  absl::MutexLock lock(&mu_);
  const auto it = watchers_.find(handle);
  if (it == watchers_.end()) return;
  removed = std::move(it->second);
  watchers_.erase(it);
}

void WatchHub::Publish(absl::string_view organisation_id, const v1::Reminder& reminder) {
  // The callbacks run outside the lock, so a callback may take its own
  // locks (and a watcher may unsubscribe concurrently) without any lock
  // order between the hub and the watchers. The price: a callback can run
  // once more just after its Unsubscribe returned; the adapter's callbacks
  // hold shared state and ignore a call for a finished stream.
  std::vector<std::shared_ptr<Watcher>> matching;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [handle, watcher] : watchers_) {
      if (watcher->filter.Matches(organisation_id, reminder)) matching.push_back(watcher);
    }
  }
  for (const std::shared_ptr<Watcher>& watcher : matching) watcher->callback(reminder);
}

int64_t WatchHub::watchers() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(watchers_.size());
}

}  // namespace okr::notify
