// Health that reflects dependencies: a thread that checks the store every
// interval and sets the server's overall health to NOT_SERVING while the
// probe fails (and back to SERVING when it passes again), logging each
// change. Redis is not probed here: an outage only degrades the services.
#ifndef OKR_COMMON_HEALTH_WATCH_H_
#define OKR_COMMON_HEALTH_WATCH_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/server.h"

namespace okr {

class HealthWatch {
 public:
  virtual ~HealthWatch() = default;
  // Starts watching; `probe` runs on the watch's own thread, first at once,
  // then every `interval`. The server's overall health is set only when the
  // verdict changes (NOT_SERVING on the first failure, SERVING again on the
  // first success after), with one log line per change, so that nothing
  // else's settings are overwritten every interval. Destroying the watch (or
  // Stop()) stops it without touching the server again; it waits for a
  // probe in progress, so a probe should be bounded (a store's CheckHealth
  // is one cheap round trip).
  static std::unique_ptr<HealthWatch> Start(Server* server, std::function<absl::Status()> probe,
                                            absl::Duration interval);
  virtual void Stop() = 0;
};

}  // namespace okr

#endif  // OKR_COMMON_HEALTH_WATCH_H_
