// The gRPC adapter of okr.v1.NotifyService: a thin layer over the notify
// use-cases (services/notify/notify.h), built like tracking's.
//
// Unary calls run the Notify method of the same name on a worker of the
// shared WorkerPool (the use-cases block on the store, planning, tracking
// and Redis) and finish with okr::ToGrpcStatus. WatchReminders is a
// server-streaming reactor fed by the WatchHub: each watcher has a bounded
// queue (oldest dropped when full, at-most-once as the API says), one write
// in flight at a time, and ends with UNAVAILABLE when the service shuts down
// (Shutdown()); otherwise it runs until the client cancels it.
//
// Tenancy and roles: every handler first asks the Authenticator
// (common/auth.h) for the caller with the role the RPC needs: reader for
// GetReminderPolicy, ListReminderPolicies, WatchReminders, ListReminders and
// ListDeliveries; admin for the policy and webhook edits, ListWebhooks (a
// webhook URL is itself a secret) and RunDueReminders. A refusal
// (UNAUTHENTICATED, PERMISSION_DENIED) is answered before any work is
// queued; the organisation the use-case sees is always the caller's.
#ifndef OKR_SERVICES_NOTIFY_GRPC_NOTIFY_SERVICE_H_
#define OKR_SERVICES_NOTIFY_GRPC_NOTIFY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "common/auth.h"
#include "common/worker_pool.h"
#include "okr/v1/notify.grpc.pb.h"
#include "services/notify/notify.h"
#include "services/notify/watch_hub.h"

namespace okr::notify {

class NotifyGrpcService final : public v1::NotifyService::CallbackService {
 public:
  // None is owned; all must outlive the service, and the service must outlive
  // the server it is registered on.
  // `auth` says who calls (and is not owned; it must outlive the service).
  NotifyGrpcService(Notify* notify, WatchHub* hub, WorkerPool* pool, const Authenticator& auth);
  ~NotifyGrpcService() override;
  NotifyGrpcService(const NotifyGrpcService&) = delete;
  NotifyGrpcService& operator=(const NotifyGrpcService&) = delete;

  // Ends every open WatchReminders stream with UNAVAILABLE ("server shutting
  // down") and refuses new ones; call before Server::Shutdown.
  void Shutdown();

  grpc::ServerUnaryReactor* SetReminderPolicy(grpc::CallbackServerContext* context,
                                              const v1::SetReminderPolicyRequest* request,
                                              v1::ReminderPolicy* response) override;
  grpc::ServerUnaryReactor* GetReminderPolicy(grpc::CallbackServerContext* context,
                                              const v1::GetReminderPolicyRequest* request,
                                              v1::ReminderPolicy* response) override;
  grpc::ServerUnaryReactor* ListReminderPolicies(
      grpc::CallbackServerContext* context, const v1::ListReminderPoliciesRequest* request,
      v1::ListReminderPoliciesResponse* response) override;
  grpc::ServerUnaryReactor* DeleteReminderPolicy(grpc::CallbackServerContext* context,
                                                 const v1::DeleteReminderPolicyRequest* request,
                                                 google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* CreateWebhook(grpc::CallbackServerContext* context,
                                          const v1::CreateWebhookRequest* request,
                                          v1::Webhook* response) override;
  grpc::ServerUnaryReactor* ListWebhooks(grpc::CallbackServerContext* context,
                                         const v1::ListWebhooksRequest* request,
                                         v1::ListWebhooksResponse* response) override;
  grpc::ServerUnaryReactor* DeleteWebhook(grpc::CallbackServerContext* context,
                                          const v1::DeleteWebhookRequest* request,
                                          google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* RunDueReminders(grpc::CallbackServerContext* context,
                                            const v1::RunDueRemindersRequest* request,
                                            v1::RunDueRemindersResponse* response) override;
  grpc::ServerWriteReactor<v1::Reminder>* WatchReminders(
      grpc::CallbackServerContext* context, const v1::WatchRemindersRequest* request) override;
  grpc::ServerUnaryReactor* ListReminders(grpc::CallbackServerContext* context,
                                          const v1::ListRemindersRequest* request,
                                          v1::ListRemindersResponse* response) override;
  grpc::ServerUnaryReactor* ListDeliveries(grpc::CallbackServerContext* context,
                                           const v1::ListDeliveriesRequest* request,
                                           v1::ListDeliveriesResponse* response) override;

 private:
  struct Watches;  // the open watch reactors, for Shutdown

  // Runs `fn(org)` on the pool with the caller's organisation, or finishes
  // the call at once with Authorize's refusal.
  template <typename Fn>
  grpc::ServerUnaryReactor* WithOrganisation(grpc::CallbackServerContext* context, Role required,
                                             Fn fn);

  Notify* const notify_;
  WatchHub* const hub_;
  WorkerPool* const pool_;
  const Authenticator& auth_;
  std::unique_ptr<Watches> watches_;
};

}  // namespace okr::notify

#endif  // OKR_SERVICES_NOTIFY_GRPC_NOTIFY_SERVICE_H_
