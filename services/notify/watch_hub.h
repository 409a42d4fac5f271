// Fans published reminders out to the WatchReminders streams of this
// process: live only and at-most-once, as the API says. A watcher that falls
// behind by more than its queue's capacity loses the oldest reminders (and
// the count of dropped ones is kept) rather than slowing publication down.
#ifndef OKR_SERVICES_NOTIFY_WATCH_HUB_H_
#define OKR_SERVICES_NOTIFY_WATCH_HUB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "okr/v1/notify.pb.h"

namespace okr::notify {

// What one watcher wants.
struct WatchFilter {
  std::string organisation_id;
  v1::WatchRemindersRequest request;  // kinds, recipient_id, team_id

  bool Matches(absl::string_view organisation_id, const v1::Reminder& reminder) const;
};

class WatchHub {
 public:
  // Called for each matching reminder, on the publishing thread; must not
  // block (queue the reminder and return).
  using Callback = std::function<void(const v1::Reminder&)>;

  // Registers a watcher; returns its handle for Unsubscribe.
  int64_t Subscribe(WatchFilter filter, Callback callback);
  void Unsubscribe(int64_t handle);
  // Calls every matching watcher's callback.
  void Publish(absl::string_view organisation_id, const v1::Reminder& reminder);
  int64_t watchers() const;

 private:
  struct Watcher {
    WatchFilter filter;
    Callback callback;
  };
  mutable absl::Mutex mu_;
  int64_t next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<int64_t, std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_WATCH_HUB_H_
