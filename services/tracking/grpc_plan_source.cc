// GrpcPlanSource: PlanSource over okr.v1.PlanningService.
//
// Every call carries its own deadline (call_timeout), so a planning that is
// down, refuses connections, or hangs (a stopped process still completes TCP
// handshakes in the kernel) costs a caller at most call_timeout. Transport
// failures retry inside that deadline by the channel's service config; the
// channel's reconnect backoff is kept short, so once planning is back the
// next call finds it within about a second instead of gRPC's default of up
// to two minutes.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/model_proto.h"
#include "common/service_client.h"
#include "common/status_macros.h"
#include "okr/v1/planning.grpc.pb.h"
#include "services/tracking/plan_source.h"

namespace okr::tracking {
namespace {

// Tracking catches up in pages of planning's largest size.
constexpr int kPageSize = 1000;

// Planning's model conversion leaves organisation_id empty (tenancy is not
// on the wire); the mirror expects it set, as planning's own state has it.
template <typename Model, typename Message>
absl::StatusOr<planning::Resource> Convert(const Message& message, absl::string_view org,
                                           absl::string_view field) {
  Model model;
  OKR_RETURN_IF_ERROR(FromProto(message, field, &model));
  if constexpr (!std::is_same_v<Model, Organisation>) {
    model.organisation_id = std::string(org);
  }
  return planning::Resource(std::move(model));
}

// The snapshot of a change as a model resource, or an error naming what is
// wrong with it (the caller adds the sequence).
absl::StatusOr<planning::Resource> SnapshotOf(const v1::PlanChange& change, absl::string_view org) {
  switch (change.snapshot_case()) {
    case v1::PlanChange::kOrganisation:
      return Convert<Organisation>(change.organisation(), org, "organisation");
    case v1::PlanChange::kTeam:
      return Convert<Team>(change.team(), org, "team");
    case v1::PlanChange::kPerson:
      return Convert<Person>(change.person(), org, "person");
    case v1::PlanChange::kCycle:
      return Convert<Cycle>(change.cycle(), org, "cycle");
    case v1::PlanChange::kObjective:
      return Convert<Objective>(change.objective(), org, "objective");
    case v1::PlanChange::kKeyResult:
      return Convert<KeyResult>(change.key_result(), org, "key_result");
    case v1::PlanChange::SNAPSHOT_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("the change is not a deletion but has no snapshot");
}

// One feed entry as a PlanDelta; INTERNAL naming the sequence when planning
// sent something the model cannot hold (a newer planning with enum values
// this build does not know, or a corrupt entry): applying it partially would
// leave the mirror silently wrong.
absl::StatusOr<PlanDelta> ToDelta(const v1::PlanChange& change, absl::string_view org) {
  const auto bad = [&](absl::string_view why) {
    return absl::InternalError(absl::StrCat("planning's change ", change.sequence(), " of '", org,
                                            "' cannot be applied: ", why));
  };
  PlanDelta delta;
  delta.sequence = change.sequence();
  delta.id = change.resource().id();
  delta.deleted = change.deleted();
  if (absl::Status s =
          FromProto(static_cast<int>(change.resource().kind()), "resource.kind", &delta.kind);
      !s.ok()) {
    return bad(s.message());
  }
  if (delta.kind == ResourceKind::kUnspecified) return bad("resource.kind: unspecified");
  if (delta.deleted) return delta;
  absl::StatusOr<planning::Resource> resource = SnapshotOf(change, org);
  if (!resource.ok()) return bad(resource.status().message());
  if (planning::KindOf(*resource) != delta.kind) {
    return bad(absl::StrCat("the snapshot is a ", Name(planning::KindOf(*resource)),
                            " but resource.kind says ", Name(delta.kind)));
  }
  delta.resource = *std::move(resource);
  return delta;
}

class GrpcPlanSource final : public PlanSource {
 public:
  explicit GrpcPlanSource(ServiceClient client)
      : client_(std::move(client)), stub_(v1::PlanningService::NewStub(client_.channel())) {}

  absl::StatusOr<PlanDeltaPage> ChangesAfter(absl::string_view organisation_id,
                                             int64_t after_sequence) override {
    if (organisation_id.empty()) {
      return absl::InvalidArgumentError("ChangesAfter: no organisation given");
    }
    PageCall call(*this, organisation_id, after_sequence);
    call.Wait();
    return call.Page();
  }

  // Pipelined: as soon as a page arrives, the call for the next one (after
  // its last sequence) goes out, and this page is converted and handed over
  // while planning reads and sends the next. A cold catch-up is hundreds of
  // pages, each costing planning about as much as tracking, so the two
  // overlap instead of taking turns.
  absl::Status ForEachPage(absl::string_view organisation_id, int64_t after_sequence,
                           absl::FunctionRef<absl::Status(PlanDeltaPage&&)> on_page) override {
    if (organisation_id.empty()) {
      return absl::InvalidArgumentError("ChangesAfter: no organisation given");
    }
    auto call = std::make_unique<PageCall>(*this, organisation_id, after_sequence);
    while (call != nullptr) {
      call->Wait();
      std::unique_ptr<PageCall> next;
      if (const std::optional<int64_t> last = call->MoreAfter()) {
        next = std::make_unique<PageCall>(*this, organisation_id, *last);
      }
      absl::StatusOr<PlanDeltaPage> page = call->Page();
      absl::Status status = page.ok() ? on_page(*std::move(page)) : page.status();
      // A call still in flight is cancelled and waited for by its destructor.
      if (!status.ok()) return status;
      call = std::move(next);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Cycle> UpdateCycleState(absl::string_view organisation_id,
                                         absl::string_view cycle_id, CycleState state,
                                         int64_t version) override {
    v1::UpdateCycleStateRequest request;
    request.set_id(std::string(cycle_id));
    request.set_state(ToProto(state));
    request.set_version(version);
    v1::Cycle response;
    grpc::ClientContext context;
    client_.Prepare(organisation_id, context);
    const grpc::Status status = stub_->UpdateCycleState(&context, request, &response);
    if (!status.ok()) return client_.Failed("UpdateCycleState", status);
    absl::StatusOr<planning::Resource> cycle = Convert<Cycle>(response, organisation_id, "cycle");
    if (!cycle.ok()) {
      return absl::InternalError(absl::StrCat("planning's UpdateCycleState answered a cycle ",
                                              "tracking cannot read: ", cycle.status().message()));
    }
    return std::get<Cycle>(*std::move(cycle));
  }

 private:
  // One ListPlanChanges call, started at once (callback API) and finished on
  // one of gRPC's threads, where the response is also parsed.
  class PageCall {
   public:
    PageCall(const GrpcPlanSource& source, absl::string_view organisation_id,
             int64_t after_sequence)
        : source_(source), organisation_id_(organisation_id), after_sequence_(after_sequence) {
      request_.set_after_sequence(after_sequence);
      request_.set_page_size(kPageSize);
      source_.client_.Prepare(organisation_id, context_);
      source_.stub_->async()->ListPlanChanges(&context_, &request_, &response_,
                                              [this](grpc::Status status) {
                                                status_ = std::move(status);
                                                done_.Notify();
                                              });
    }
    PageCall(const PageCall&) = delete;
    PageCall& operator=(const PageCall&) = delete;
    // Cancels the call if it is still running, and waits for it to finish.
    ~PageCall() {
      if (!done_.HasBeenNotified()) context_.TryCancel();
      done_.WaitForNotification();
    }

    void Wait() { done_.WaitForNotification(); }

    // After Wait: when planning has changes after this page, the sequence to
    // ask for the next page after; nullopt for the last page or a failure.
    // (Page() still checks the page itself.)
    std::optional<int64_t> MoreAfter() const {
      if (!status_.ok() || response_.changes().empty()) return std::nullopt;
      const int64_t last = response_.changes(response_.changes_size() - 1).sequence();
      if (last <= after_sequence_ || last >= response_.latest_sequence()) return std::nullopt;
      return last;
    }

    // After Wait: the page as the model has it.
    absl::StatusOr<PlanDeltaPage> Page() const {
      if (status_.error_code() == grpc::StatusCode::NOT_FOUND) {
        // The request names no resource but the organisation, so NOT_FOUND
        // can only be "organisation 'x' is not bootstrapped": an
        // organisation with no plan yet, which tracking treats as an empty
        // plan.
        return PlanDeltaPage{};
      }
      if (!status_.ok()) return source_.client_.Failed("ListPlanChanges", status_);

      PlanDeltaPage page;
      page.latest_sequence = response_.latest_sequence();
      page.changes.reserve(response_.changes_size());
      int64_t previous = after_sequence_;
      for (const v1::PlanChange& change : response_.changes()) {
        if (change.sequence() <= previous) {
          return absl::InternalError(absl::StrCat("planning's change feed of '", organisation_id_,
                                                  "' is out of order: sequence ", change.sequence(),
                                                  " after ", previous));
        }
        previous = change.sequence();
        OKR_ASSIGN_OR_RETURN(PlanDelta delta, ToDelta(change, organisation_id_));
        page.changes.push_back(std::move(delta));
      }
      // A latest_sequence read before the page was filled may lag behind it.
      if (page.latest_sequence < previous) page.latest_sequence = previous;
      return page;
    }

   private:
    const GrpcPlanSource& source_;
    const std::string organisation_id_;
    const int64_t after_sequence_;
    grpc::ClientContext context_;
    v1::ListPlanChangesRequest request_;
    v1::ListPlanChangesResponse response_;
    grpc::Status status_;  // set before done_ is notified
    absl::Notification done_;
  };

  const ServiceClient client_;
  const std::unique_ptr<v1::PlanningService::Stub> stub_;
};

}  // namespace

namespace {

// Whether the plan holds everything `page` says planning has, once the page
// is applied to a plan at `sequence`: the last page of a catch-up.
bool IsLastPage(const PlanDeltaPage& page, int64_t sequence) {
  return page.changes.empty() ||
         std::max(sequence, page.changes.back().sequence) >= page.latest_sequence;
}

// ApplyPlanPage for a const page (copies) and a page given away (moves).
template <typename Page>
bool ApplyPage(Page&& page, planning::OrgState& plan, PlanCatchUp* result) {
  for (auto& delta : page.changes) {
    if (delta.sequence <= plan.sequence()) continue;
    if (delta.deleted) {
      plan.Erase(delta.kind, delta.id);
    } else if (delta.resource.has_value()) {
      if constexpr (std::is_const_v<std::remove_reference_t<decltype(delta)>>) {
        plan.Put(*delta.resource);
      } else {
        plan.Put(*std::move(delta.resource));
      }
    }
    plan.set_sequence(delta.sequence);
    result->objectives_changed |=
        delta.kind == ResourceKind::kObjective || delta.kind == ResourceKind::kKeyResult;
    result->organisation_changed |= delta.kind == ResourceKind::kOrganisation;
  }
  return page.changes.empty() || plan.sequence() >= page.latest_sequence;
}

}  // namespace

absl::Status PlanSource::ForEachPage(absl::string_view organisation_id, int64_t after_sequence,
                                     absl::FunctionRef<absl::Status(PlanDeltaPage&&)> on_page) {
  int64_t sequence = after_sequence;
  for (;;) {
    OKR_ASSIGN_OR_RETURN(PlanDeltaPage page, ChangesAfter(organisation_id, sequence));
    const bool last = IsLastPage(page, sequence);
    if (!page.changes.empty()) sequence = std::max(sequence, page.changes.back().sequence);
    OKR_RETURN_IF_ERROR(on_page(std::move(page)));
    if (last) return absl::OkStatus();
  }
}

bool ApplyPlanPage(const PlanDeltaPage& page, planning::OrgState& plan, PlanCatchUp* result) {
  return ApplyPage(page, plan, result);
}

bool ApplyPlanPage(PlanDeltaPage&& page, planning::OrgState& plan, PlanCatchUp* result) {
  return ApplyPage(std::move(page), plan, result);
}

absl::StatusOr<PlanCatchUp> CatchUpPlan(PlanSource& source, absl::string_view organisation_id,
                                        planning::OrgState& plan) {
  PlanCatchUp result;
  OKR_RETURN_IF_ERROR(source.ForEachPage(organisation_id, plan.sequence(),
                                         [&](PlanDeltaPage&& page) -> absl::Status {
                                           ApplyPlanPage(std::move(page), plan, &result);
                                           return absl::OkStatus();
                                         }));
  return result;
}

FetchedPlanChanges FetchPlanChanges(PlanSource& source, absl::string_view organisation_id,
                                    int64_t after_sequence) {
  FetchedPlanChanges fetched;
  fetched.status = source.ForEachPage(organisation_id, after_sequence,
                                      [&](PlanDeltaPage&& page) -> absl::Status {
                                        fetched.pages.push_back(std::move(page));
                                        return absl::OkStatus();
                                      });
  return fetched;
}

absl::StatusOr<std::unique_ptr<PlanSource>> NewGrpcPlanSource(GrpcPlanSourceOptions options) {
  OKR_ASSIGN_OR_RETURN(
      ServiceClient client,
      ServiceClient::Create({"planning", "okr.v1.PlanningService", std::move(options.address),
                             options.call_timeout, std::move(options.token),
                             std::move(options.credentials)}));
  return std::make_unique<GrpcPlanSource>(std::move(client));
}

}  // namespace okr::tracking
