// PLACEHOLDER (issue 6 skeleton): does not watch yet.
#include "common/health_watch.h"

namespace okr {
namespace {
class NoWatch final : public HealthWatch {
 public:
  void Stop() override {}
};
}  // namespace

std::unique_ptr<HealthWatch> HealthWatch::Start(Server*, std::function<absl::Status()>,
                                                absl::Duration) {
  return std::make_unique<NoWatch>();
}

}  // namespace okr
