#include "services/tracking/grpc_tracking_service.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "services/planning/grpc_planning_service.h"

namespace okr::tracking {
namespace {

using planning::kOrganisationMetadataKey;

// The caller's organisation, or nullopt when the metadata lacks it.
std::optional<std::string> OrganisationOf(const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find(
      grpc::string_ref(kOrganisationMetadataKey.data(), kOrganisationMetadataKey.size()));
  if (it == metadata.end() || it->second.empty()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

grpc::Status NoOrganisation() {
  return grpc::Status(
      grpc::StatusCode::UNAUTHENTICATED,
      absl::StrCat("no organisation: send ", kOrganisationMetadataKey, " metadata (auth is off)"));
}

}  // namespace

TrackingGrpcService::TrackingGrpcService(Tracking* tracking, WorkerPool* pool,
                                         const Authenticator& auth)
    : tracking_(tracking), pool_(pool), auth_(auth) {}

template <typename Fn>
grpc::ServerUnaryReactor* TrackingGrpcService::WithOrganisation(
    grpc::CallbackServerContext* context, Fn fn) {
  std::optional<std::string> org = OrganisationOf(*context);
  if (!org.has_value()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(NoOrganisation());
    return reactor;
  }
  return RunUnary(context, *pool_,
                  [fn = std::move(fn), org = *std::move(org)]() mutable { return fn(org); });
}

grpc::ServerUnaryReactor* TrackingGrpcService::RecordCheckIn(
    grpc::CallbackServerContext* context, const v1::RecordCheckInRequest* request,
    v1::RecordCheckInResponse* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->RecordCheckIn(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::ListCheckIns(grpc::CallbackServerContext* context,
                                                            const v1::ListCheckInsRequest* request,
                                                            v1::ListCheckInsResponse* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->ListCheckIns(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::GetKeyResultScore(
    grpc::CallbackServerContext* context, const v1::GetKeyResultScoreRequest* request,
    v1::KeyResultScore* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->GetKeyResultScore(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::GetObjectiveScore(
    grpc::CallbackServerContext* context, const v1::GetObjectiveScoreRequest* request,
    v1::ObjectiveScore* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->GetObjectiveScore(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::GetScoredTree(
    grpc::CallbackServerContext* context, const v1::GetScoredTreeRequest* request,
    v1::ScoredTree* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->GetScoredTree(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::ExplainScore(grpc::CallbackServerContext* context,
                                                            const v1::ExplainScoreRequest* request,
                                                            v1::ScoreExplanation* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->ExplainScore(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::ListStaleKeyResults(
    grpc::CallbackServerContext* context, const v1::ListStaleKeyResultsRequest* request,
    v1::ListStaleKeyResultsResponse* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->ListStaleKeyResults(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::UpsertReview(grpc::CallbackServerContext* context,
                                                            const v1::UpsertReviewRequest* request,
                                                            v1::Review* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->UpsertReview(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::GetReview(grpc::CallbackServerContext* context,
                                                         const v1::GetReviewRequest* request,
                                                         v1::Review* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->GetReview(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::ListReviews(grpc::CallbackServerContext* context,
                                                           const v1::ListReviewsRequest* request,
                                                           v1::ListReviewsResponse* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->ListReviews(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::CloseCycle(grpc::CallbackServerContext* context,
                                                          const v1::CloseCycleRequest* request,
                                                          v1::CloseCycleResponse* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->CloseCycle(org, *request, response);
  });
}

grpc::ServerUnaryReactor* TrackingGrpcService::RebuildRollups(
    grpc::CallbackServerContext* context, const v1::RebuildRollupsRequest* request,
    v1::RebuildRollupsResponse* response) {
  return WithOrganisation(context, [this, request, response](const std::string& org) {
    return tracking_->RebuildRollups(org, *request, response);
  });
}

}  // namespace okr::tracking
