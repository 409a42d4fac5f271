#include "services/tracking/grpc_tracking_service.h"

#include <string>
#include <utility>

#include "common/grpc_status.h"

namespace okr::tracking {

TrackingGrpcService::TrackingGrpcService(Tracking* tracking, WorkerPool* pool,
                                         const Authenticator& auth)
    : tracking_(tracking), pool_(pool), auth_(auth) {}

template <typename Fn>
grpc::ServerUnaryReactor* TrackingGrpcService::WithOrganisation(
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

grpc::ServerUnaryReactor* TrackingGrpcService::RecordCheckIn(
    grpc::CallbackServerContext* context, const v1::RecordCheckInRequest* request,
    v1::RecordCheckInResponse* response) {
  return WithOrganisation(context, Role::kWriter,
                          [this, request, response](const std::string& org) {
                            return tracking_->RecordCheckIn(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* TrackingGrpcService::ListCheckIns(grpc::CallbackServerContext* context,
                                                            const v1::ListCheckInsRequest* request,
                                                            v1::ListCheckInsResponse* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return tracking_->ListCheckIns(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* TrackingGrpcService::GetKeyResultScore(
    grpc::CallbackServerContext* context, const v1::GetKeyResultScoreRequest* request,
    v1::KeyResultScore* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return tracking_->GetKeyResultScore(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* TrackingGrpcService::GetObjectiveScore(
    grpc::CallbackServerContext* context, const v1::GetObjectiveScoreRequest* request,
    v1::ObjectiveScore* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return tracking_->GetObjectiveScore(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* TrackingGrpcService::GetScoredTree(
    grpc::CallbackServerContext* context, const v1::GetScoredTreeRequest* request,
    v1::ScoredTree* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return tracking_->GetScoredTree(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* TrackingGrpcService::ExplainScore(grpc::CallbackServerContext* context,
                                                            const v1::ExplainScoreRequest* request,
                                                            v1::ScoreExplanation* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return tracking_->ExplainScore(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* TrackingGrpcService::ListStaleKeyResults(
    grpc::CallbackServerContext* context, const v1::ListStaleKeyResultsRequest* request,
    v1::ListStaleKeyResultsResponse* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return tracking_->ListStaleKeyResults(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* TrackingGrpcService::UpsertReview(grpc::CallbackServerContext* context,
                                                            const v1::UpsertReviewRequest* request,
                                                            v1::Review* response) {
  return WithOrganisation(context, Role::kWriter,
                          [this, request, response](const std::string& org) {
                            return tracking_->UpsertReview(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* TrackingGrpcService::GetReview(grpc::CallbackServerContext* context,
                                                         const v1::GetReviewRequest* request,
                                                         v1::Review* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return tracking_->GetReview(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* TrackingGrpcService::ListReviews(grpc::CallbackServerContext* context,
                                                           const v1::ListReviewsRequest* request,
                                                           v1::ListReviewsResponse* response) {
  return WithOrganisation(context, Role::kReader,
                          [this, request, response](const std::string& org) {
                            return tracking_->ListReviews(org, *request, response);
                          });
}

grpc::ServerUnaryReactor* TrackingGrpcService::CloseCycle(grpc::CallbackServerContext* context,
                                                          const v1::CloseCycleRequest* request,
                                                          v1::CloseCycleResponse* response) {
  return WithOrganisation(context, Role::kAdmin, [this, request, response](const std::string& org) {
    return tracking_->CloseCycle(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::RebuildRollups(
    grpc::CallbackServerContext* context, const v1::RebuildRollupsRequest* request,
    v1::RebuildRollupsResponse* response) {
  return WithOrganisation(context, Role::kAdmin, [this, request, response](const std::string& org) {
    return tracking_->RebuildRollups(org, *request, response);
  });
}

}  // namespace okr::tracking
