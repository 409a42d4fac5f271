// The gRPC adapter of okr.v1.TrackingService: a thin layer over the tracking
// use-cases (services/tracking/tracking.h).
//
// Tracking's use-cases take and fill the okr.v1 messages themselves, so a
// handler only finds the caller's organisation, runs the Tracking method of
// the same name on a worker of the shared WorkerPool (never on gRPC's own
// threads: the use-cases block on the store, planning and Redis), and
// finishes with its status through okr::ToGrpcStatus, field violations
// included. A full pool answers UNAVAILABLE at once (okr::RunUnary).
//
// Tenancy and roles: every handler first asks the Authenticator
// (common/auth.h) for the caller with the role the RPC needs: reader for the
// reads (ListCheckIns, Get*, ExplainScore, ListStaleKeyResults, GetReview,
// ListReviews), writer for RecordCheckIn and UpsertReview, admin for
// CloseCycle and RebuildRollups. A refusal (UNAUTHENTICATED,
// PERMISSION_DENIED) is answered before any work is queued; the organisation
// the use-case sees is always the caller's.
#ifndef OKR_SERVICES_TRACKING_GRPC_TRACKING_SERVICE_H_
#define OKR_SERVICES_TRACKING_GRPC_TRACKING_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "common/auth.h"
#include "common/worker_pool.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "services/tracking/tracking.h"

namespace okr::tracking {

class TrackingGrpcService final : public v1::TrackingService::CallbackService {
 public:
  // Neither is owned. Both must outlive the service, and the service must
  // outlive the server it is registered on; `pool` must run every task it
  // accepted before `tracking` goes away (WorkerPool::Shutdown does).
  // `auth` says who calls (and is not owned; it must outlive the service).
  TrackingGrpcService(Tracking* tracking, WorkerPool* pool, const Authenticator& auth);
  TrackingGrpcService(const TrackingGrpcService&) = delete;
  TrackingGrpcService& operator=(const TrackingGrpcService&) = delete;

  // --- okr.v1.TrackingService ------------------------------------------------
  grpc::ServerUnaryReactor* RecordCheckIn(grpc::CallbackServerContext* context,
                                          const v1::RecordCheckInRequest* request,
                                          v1::RecordCheckInResponse* response) override;
  grpc::ServerUnaryReactor* ListCheckIns(grpc::CallbackServerContext* context,
                                         const v1::ListCheckInsRequest* request,
                                         v1::ListCheckInsResponse* response) override;
  grpc::ServerUnaryReactor* GetKeyResultScore(grpc::CallbackServerContext* context,
                                              const v1::GetKeyResultScoreRequest* request,
                                              v1::KeyResultScore* response) override;
  grpc::ServerUnaryReactor* GetObjectiveScore(grpc::CallbackServerContext* context,
                                              const v1::GetObjectiveScoreRequest* request,
                                              v1::ObjectiveScore* response) override;
  grpc::ServerUnaryReactor* GetScoredTree(grpc::CallbackServerContext* context,
                                          const v1::GetScoredTreeRequest* request,
                                          v1::ScoredTree* response) override;
  grpc::ServerUnaryReactor* ExplainScore(grpc::CallbackServerContext* context,
                                         const v1::ExplainScoreRequest* request,
                                         v1::ScoreExplanation* response) override;
  grpc::ServerUnaryReactor* ListStaleKeyResults(grpc::CallbackServerContext* context,
                                                const v1::ListStaleKeyResultsRequest* request,
                                                v1::ListStaleKeyResultsResponse* response) override;
  grpc::ServerUnaryReactor* UpsertReview(grpc::CallbackServerContext* context,
                                         const v1::UpsertReviewRequest* request,
                                         v1::Review* response) override;
  grpc::ServerUnaryReactor* GetReview(grpc::CallbackServerContext* context,
                                      const v1::GetReviewRequest* request,
                                      v1::Review* response) override;
  grpc::ServerUnaryReactor* ListReviews(grpc::CallbackServerContext* context,
                                        const v1::ListReviewsRequest* request,
                                        v1::ListReviewsResponse* response) override;
  grpc::ServerUnaryReactor* CloseCycle(grpc::CallbackServerContext* context,
                                       const v1::CloseCycleRequest* request,
                                       v1::CloseCycleResponse* response) override;
  grpc::ServerUnaryReactor* RebuildRollups(grpc::CallbackServerContext* context,
                                           const v1::RebuildRollupsRequest* request,
                                           v1::RebuildRollupsResponse* response) override;

 private:
  // Runs `fn(org)` on the pool with the caller's organisation, or finishes
  // the call at once with Authorize's refusal when the caller is not
  // authenticated or its role is below `required`.
  template <typename Fn>
  grpc::ServerUnaryReactor* WithOrganisation(grpc::CallbackServerContext* context, Role required,
                                             Fn fn);

  Tracking* const tracking_;
  WorkerPool* const pool_;
  const Authenticator& auth_;
};

}  // namespace okr::tracking

#endif  // OKR_SERVICES_TRACKING_GRPC_TRACKING_SERVICE_H_
