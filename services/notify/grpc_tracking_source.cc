// GrpcTrackingSource: TrackingSource over okr.v1.TrackingService, built
// like tracking's GrpcPlanSource.
//
// Every call (every page) carries its own deadline, so a tracking that is
// down, refuses connections or hangs costs a page at most call_timeout.
// Transport failures retry inside that deadline by the channel's service
// config, and the reconnect backoff is kept short so that a tracking that
// comes back is found within about a second.
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/service_client.h"
#include "common/status_macros.h"
#include "google/protobuf/arena.h"
#include "okr/v1/tracking.grpc.pb.h"
#include "services/notify/tracking_source.h"

namespace okr::notify {
namespace {

// Tracking's largest page sizes (tracking.proto): fewer round trips for the
// organisations with many key results.
constexpr int kStalePageSize = 1000;
constexpr int kReviewPageSize = 500;

// A tracking that keeps answering with a next page after this many has a bug
// (or an organisation far beyond any real one); stop rather than loop.
constexpr int kMaxPages = 10000;

class GrpcTrackingSource final : public TrackingSource {
 public:
  explicit GrpcTrackingSource(ServiceClient client)
      : client_(std::move(client)), stub_(v1::TrackingService::NewStub(client_.channel())) {}

  absl::StatusOr<std::vector<v1::StaleKeyResult>> StaleKeyResults(absl::string_view organisation_id,
                                                                  absl::Time since) override {
    std::vector<v1::StaleKeyResult> result;
    OKR_RETURN_IF_ERROR(
        ForEachStalePage(organisation_id, since,
                         [&](const google::protobuf::RepeatedPtrField<v1::StaleKeyResult>& page) {
                           result.insert(result.end(), page.begin(), page.end());
                           return absl::OkStatus();
                         }));
    return result;
  }

  // Fetches page n + 1 while `page` works through page n, each parsed into
  // an arena of its own (freed at once when the next page arrives).
  absl::Status ForEachStalePage(absl::string_view organisation_id, absl::Time since,
                                StalePage page) override {
    if (organisation_id.empty()) {
      return absl::InvalidArgumentError("StaleKeyResults: no organisation given");
    }
    v1::ListStaleKeyResultsRequest request = StaleRequest(since);
    struct Fetched {
      google::protobuf::Arena arena;
      v1::ListStaleKeyResultsResponse* response = nullptr;
      grpc::Status status;
    };
    auto fetch = [&](const v1::ListStaleKeyResultsRequest& request) {
      auto fetched = std::make_unique<Fetched>();
      fetched->response =
          google::protobuf::Arena::CreateMessage<v1::ListStaleKeyResultsResponse>(&fetched->arena);
      grpc::ClientContext context;
      client_.Prepare(organisation_id, context);
      fetched->status = stub_->ListStaleKeyResults(&context, request, fetched->response);
      return fetched;
    };
    PageGuard guard("ListStaleKeyResults", organisation_id);
    std::unique_ptr<Fetched> current = fetch(request);
    for (;;) {
      if (!current->status.ok()) return client_.Failed("ListStaleKeyResults", current->status);
      std::unique_ptr<Fetched> next;
      std::thread prefetch;
      const std::string& token = current->response->next_page_token();
      if (!token.empty()) {
        if (absl::Status s = guard.Next(token); !s.ok()) return s;
        request.set_page_token(token);
        prefetch = std::thread([&] { next = fetch(request); });
      }
      const absl::Status handled = page(current->response->stale_key_results());
      if (prefetch.joinable()) prefetch.join();
      if (!handled.ok()) return handled;
      if (next == nullptr) return absl::OkStatus();
      current = std::move(next);
    }
  }

  absl::StatusOr<std::vector<v1::Review>> Reviews(absl::string_view organisation_id,
                                                  absl::string_view cycle_id,
                                                  v1::ReviewKind kind) override {
    if (organisation_id.empty()) {
      return absl::InvalidArgumentError("Reviews: no organisation given");
    }
    v1::ListReviewsRequest request;
    request.set_cycle_id(std::string(cycle_id));
    request.set_kind(kind);
    request.set_page_size(kReviewPageSize);
    std::vector<v1::Review> result;
    PageGuard guard("ListReviews", organisation_id);
    for (;;) {
      v1::ListReviewsResponse response;
      grpc::ClientContext context;
      client_.Prepare(organisation_id, context);
      const grpc::Status status = stub_->ListReviews(&context, request, &response);
      if (!status.ok()) return client_.Failed("ListReviews", status);
      for (v1::Review& review : *response.mutable_reviews()) result.push_back(std::move(review));
      if (response.next_page_token().empty()) return result;
      if (absl::Status s = guard.Next(response.next_page_token()); !s.ok()) return s;
      request.set_page_token(response.next_page_token());
    }
  }

 private:
  // The first page's request of the stale key results since `since`.
  static v1::ListStaleKeyResultsRequest StaleRequest(absl::Time since) {
    v1::ListStaleKeyResultsRequest request;
    // ToUnixSeconds rounds toward the past, so nanos stay in [0, 1e9).
    const int64_t seconds = absl::ToUnixSeconds(since);
    request.mutable_since()->set_seconds(seconds);
    request.mutable_since()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(since - absl::FromUnixSeconds(seconds))));
    request.set_page_size(kStalePageSize);
    return request;
  }

  // Stops a paging loop that would never end: a token seen before (tracking
  // handing back the same page forever) or more than kMaxPages pages.
  class PageGuard {
   public:
    PageGuard(absl::string_view method, absl::string_view organisation_id)
        : method_(method), organisation_id_(organisation_id) {}

    absl::Status Next(const std::string& token) {
      if (!seen_.insert(token).second || static_cast<int>(seen_.size()) > kMaxPages) {
        return absl::InternalError(absl::StrCat(
            "tracking's ", method_, " of '", organisation_id_,
            "' does not end: page token repeated or more than ", kMaxPages, " pages"));
      }
      return absl::OkStatus();
    }

   private:
    const absl::string_view method_;
    const absl::string_view organisation_id_;
    absl::flat_hash_set<std::string> seen_;
  };

  const ServiceClient client_;
  const std::unique_ptr<v1::TrackingService::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TrackingSource>> NewGrpcTrackingSource(
    GrpcTrackingSourceOptions options) {
  OKR_ASSIGN_OR_RETURN(
      ServiceClient client,
      ServiceClient::Create({"tracking", "okr.v1.TrackingService", std::move(options.address),
                             options.call_timeout, std::move(options.token),
                             std::move(options.credentials)}));
  return std::make_unique<GrpcTrackingSource>(std::move(client));
}

}  // namespace okr::notify
