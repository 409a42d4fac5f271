#include "services/notify/grpc_notify_service.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "common/log.h"

namespace okr::notify {
namespace {

// Reminders a watcher may have queued while its client reads slowly; beyond
// that the oldest are dropped (the API promises at-most-once, and a durable
// consumer reads the Redis stream instead).
constexpr size_t kWatchQueueCapacity = 1000;

grpc::Status ShuttingDown() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "server shutting down: reconnect to another replica and catch up with "
                      "ListReminders");
}

class WatchReactor;

// What a watch shares with the hub's callback and with Shutdown(). The hub
// may call the callback after the stream finished (it calls outside its own
// lock), and Shutdown() may reach a stream that is finishing, so neither
// holds the reactor itself: they hold this, and `reactor` is cleared under
// `mu` in OnDone, after which nothing touches the stream.
class WatchState {
 public:
  explicit WatchState(WatchReactor* reactor) : reactor_(reactor) {}

  // Queues `reminder` (dropping the oldest when full) and starts a write
  // when none is in flight. Never blocks: it runs on the publishing thread.
  void Offer(const v1::Reminder& reminder) ABSL_LOCKS_EXCLUDED(mu_);

  // Ends the stream with `status`: at once when no write is in flight, else
  // when the write in flight completes (one operation at a time keeps the
  // reactor's rules simple). Later calls are ignored.
  void Finish(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  // OnWriteDone: the next write, the deferred Finish, or (ok false: the
  // stream broke) the end.
  void WriteDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_);

  // OnDone: nothing may touch the reactor from now on. Returns how many
  // reminders were dropped and sent, for the log.
  std::pair<int64_t, int64_t> Detach() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  WatchReactor* reactor_ ABSL_GUARDED_BY(mu_);  // null once done
  std::deque<v1::Reminder> queue_ ABSL_GUARDED_BY(mu_);
  v1::Reminder in_flight_ ABSL_GUARDED_BY(mu_);  // the write in flight's message
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);  // requested
  bool finish_started_ ABSL_GUARDED_BY(mu_) = false;
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
};

// The open watches, so that Shutdown() can end them.
class WatchRegistry {
 public:
  // False (and nothing registered) once shutdown began.
  bool Register(const std::shared_ptr<WatchState>& state) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return false;
    open_.insert(state);
    return true;
  }
  void Deregister(const std::shared_ptr<WatchState>& state) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    open_.erase(state);
  }
  // Refuses registrations from now on and returns the open watches.
  std::vector<std::shared_ptr<WatchState>> BeginShutdown() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    return {open_.begin(), open_.end()};
  }

 private:
  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<std::shared_ptr<WatchState>> open_ ABSL_GUARDED_BY(mu_);
};

// One WatchReminders stream. It deletes itself in OnDone.
class WatchReactor final : public grpc::ServerWriteReactor<v1::Reminder> {
 public:
  WatchReactor(WatchRegistry* watches, WatchHub* hub,
               absl::StatusOr<Caller> caller, const v1::WatchRemindersRequest& request)
      : watches_(watches), hub_(hub), state_(std::make_shared<WatchState>(this)) {
    if (!caller.ok()) {
      state_->Finish(ToGrpcStatus(caller.status()));
      return;
    }
    if (absl::Status valid = Notify::ValidateWatch(request); !valid.ok()) {
      state_->Finish(ToGrpcStatus(valid));
      return;
    }
    if (!watches_->Register(state_)) {
      state_->Finish(ShuttingDown());
      return;
    }
    registered_ = true;
    // Before any reminder: the client learns that the watch is established
    // (and may then trigger publications it wants to see).
    StartSendInitialMetadata();
    organisation_id_ = caller->organisation_id;
    WatchFilter filter{std::move(caller->organisation_id), request};
    std::weak_ptr<WatchState> weak = state_;
    handle_ = hub_->Subscribe(std::move(filter), [weak](const v1::Reminder& reminder) {
      if (std::shared_ptr<WatchState> state = weak.lock()) state->Offer(reminder);
    });
    subscribed_ = true;
  }

  void OnWriteDone(bool ok) override { state_->WriteDone(ok); }

  void OnCancel() override {
    Unsubscribe();
    state_->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the watch was cancelled"));
  }

  void OnDone() override {
    Unsubscribe();
    const auto [dropped, sent] = state_->Detach();
    if (registered_) watches_->Deregister(state_);
    if (dropped > 0) {
      LogWarn("watch ended; it dropped reminders its client did not read in time",
              {{"organisation", organisation_id_}, {"sent", sent}, {"dropped", dropped}});
    }
    delete this;
  }

 private:
  // Idempotent. OnCancel and OnDone are reactions, which gRPC never runs at
  // the same time for one call.
  void Unsubscribe() {
    if (!subscribed_) return;
    subscribed_ = false;
    hub_->Unsubscribe(handle_);
  }

  WatchRegistry* const watches_;
  WatchHub* const hub_;
  const std::shared_ptr<WatchState> state_;
  std::string organisation_id_;
  bool registered_ = false;
  bool subscribed_ = false;
  int64_t handle_ = 0;
};

void WatchState::Offer(const v1::Reminder& reminder) {
  absl::MutexLock lock(&mu_);
  if (reactor_ == nullptr || finish_.has_value()) return;
  if (queue_.size() >= kWatchQueueCapacity) {
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(reminder);
  if (!writing_) StartNextLocked();
}

void WatchState::Finish(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  if (reactor_ == nullptr || finish_.has_value()) return;
  finish_ = std::move(status);
  queue_.clear();
  if (!writing_) {
    finish_started_ = true;
    reactor_->Finish(*finish_);
  }
}

void WatchState::WriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (reactor_ == nullptr) return;
  if (ok) ++sent_;
  if (!ok && !finish_.has_value()) {
    // The stream is broken (client gone or the call cancelled): nothing more
    // can be written, but the call must still be finished.
    finish_ = grpc::Status(grpc::StatusCode::CANCELLED, "the watch's stream broke");
    queue_.clear();
  }
  if (finish_.has_value()) {
    if (!finish_started_) {
      finish_started_ = true;
      reactor_->Finish(*finish_);
    }
    return;
  }
  StartNextLocked();
}

std::pair<int64_t, int64_t> WatchState::Detach() {
  absl::MutexLock lock(&mu_);
  reactor_ = nullptr;
  queue_.clear();
  return {dropped_, sent_};
}

void WatchState::StartNextLocked() {
  if (queue_.empty() || reactor_ == nullptr) return;
  in_flight_ = std::move(queue_.front());
  queue_.pop_front();
  writing_ = true;
  // gRPC runs OnWriteDone on another thread, never inside StartWrite, so
  // starting the write under mu_ cannot deadlock.
  reactor_->StartWrite(&in_flight_);
}

}  // namespace

struct NotifyGrpcService::Watches {
  WatchRegistry registry;
};

NotifyGrpcService::NotifyGrpcService(Notify* notify, WatchHub* hub, WorkerPool* pool,
                                     const Authenticator& auth)
    : notify_(notify), hub_(hub), pool_(pool), auth_(auth), watches_(std::make_unique<Watches>()) {}

NotifyGrpcService::~NotifyGrpcService() = default;

void NotifyGrpcService::Shutdown() {
  // Finished outside the registry's lock: a stream's OnDone takes it.
  for (const std::shared_ptr<WatchState>& state : watches_->registry.BeginShutdown()) {
    state->Finish(ShuttingDown());
  }
}

template <typename Fn>
grpc::ServerUnaryReactor* NotifyGrpcService::WithOrganisation(
    grpc::CallbackServerContext* context, Role required, Fn fn) {
  // On gRPC's thread: Authorize only compares digests (and at most once a
  // second stats the tokens file), so a refused call never takes a worker.
  absl::StatusOr<Caller> caller = auth_.Authorize(*context, required);
  if (!caller.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  return RunUnary(context, *pool_,
                  [fn = std::move(fn), org = std::move(caller->organisation_id)]() mutable {
                    return fn(org);
                  });
}

grpc::ServerUnaryReactor* NotifyGrpcService::SetReminderPolicy(
    grpc::CallbackServerContext* context, const v1::SetReminderPolicyRequest* request,
    v1::ReminderPolicy* response) {
  return WithOrganisation(context, Role::kAdmin, [this, request, response](const std::string& org) {
    return notify_->SetReminderPolicy(org, *request, response);
  });
}

grpc::ServerUnaryReactor* NotifyGrpcService::GetReminderPolicy(
    grpc::CallbackServerContext* context, const v1::GetReminderPolicyRequest* request,
    v1::ReminderPolicy* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return notify_->GetReminderPolicy(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* NotifyGrpcService::ListReminderPolicies(
    grpc::CallbackServerContext* context, const v1::ListReminderPoliciesRequest* request,
    v1::ListReminderPoliciesResponse* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return notify_->ListReminderPolicies(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* NotifyGrpcService::DeleteReminderPolicy(
    grpc::CallbackServerContext* context, const v1::DeleteReminderPolicyRequest* request,
    google::protobuf::Empty* /*response*/) {
  return WithOrganisation(context, Role::kAdmin, [this, request](const std::string& org) {
    return notify_->DeleteReminderPolicy(org, *request);
  });
}

grpc::ServerUnaryReactor* NotifyGrpcService::CreateWebhook(grpc::CallbackServerContext* context,
                                                           const v1::CreateWebhookRequest* request,
                                                           v1::Webhook* response) {
  return WithOrganisation(context, Role::kAdmin, [this, request, response](const std::string& org) {
    return notify_->CreateWebhook(org, *request, response);
  });
}

grpc::ServerUnaryReactor* NotifyGrpcService::ListWebhooks(grpc::CallbackServerContext* context,
                                                          const v1::ListWebhooksRequest* request,
                                                          v1::ListWebhooksResponse* response) {
  return WithOrganisation(context, Role::kAdmin, [this, request, response](const std::string& org) {
    return notify_->ListWebhooks(org, *request, response);
  });
}

grpc::ServerUnaryReactor* NotifyGrpcService::DeleteWebhook(grpc::CallbackServerContext* context,
                                                           const v1::DeleteWebhookRequest* request,
                                                           google::protobuf::Empty* /*response*/) {
  return WithOrganisation(context, Role::kAdmin, [this, request](const std::string& org) {
    return notify_->DeleteWebhook(org, *request);
  });
}

grpc::ServerUnaryReactor* NotifyGrpcService::RunDueReminders(
    grpc::CallbackServerContext* context, const v1::RunDueRemindersRequest* request,
    v1::RunDueRemindersResponse* response) {
  return WithOrganisation(context, Role::kAdmin, [this, request, response](const std::string& org) {
    return notify_->RunDueReminders(org, *request, response);
  });
}

grpc::ServerWriteReactor<v1::Reminder>* NotifyGrpcService::WatchReminders(
    grpc::CallbackServerContext* context, const v1::WatchRemindersRequest* request) {
  // Runs on gRPC's thread: validation, registration and the subscription are
  // all in memory, nothing here blocks.
  return new WatchReactor(&watches_->registry, hub_, auth_.Authorize(*context, Role::kReader),
                          *request);
}

grpc::ServerUnaryReactor* NotifyGrpcService::ListReminders(
    grpc::CallbackServerContext* context, const v1::ListRemindersRequest* request,
    v1::ListRemindersResponse* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return notify_->ListReminders(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* NotifyGrpcService::ListDeliveries(
    grpc::CallbackServerContext* context, const v1::ListDeliveriesRequest* request,
    v1::ListDeliveriesResponse* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return notify_->ListDeliveries(org, *request, response);
                          });
}

}  // namespace okr::notify
