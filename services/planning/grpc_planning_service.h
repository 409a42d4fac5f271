// The gRPC adapter of okr.v1.PlanningService: a thin layer over the planning
// use-cases (services/planning/planning.h).
//
// Every handler does three things on a worker of the shared WorkerPool
// (never on gRPC's own threads, which must not block): convert the request
// into model values with common/model_proto.h (a value the model cannot hold
// is INVALID_ARGUMENT naming the field, e.g. "objective.level: unknown value
// 7"), call one Planning method, and convert the result back; the status
// crosses over with okr::ToGrpcStatus, field violations included.
//
// Tenancy and roles: every handler first asks the Authenticator
// (common/auth.h) for the caller with the role the RPC needs, and the
// organisation the use-case sees is always the caller's. Reader: Get*, List*,
// GetAlignmentTree, Lint, GetPlanningTimeline, ExportPlanCsv and the change
// feed. Writer: objective and key result edits, alignment (Align, Cascade,
// Unalign, BreakDown), RollOverObjectives, ImportPlanCsv. Admin:
// UpdateOrganisation, team, person and cycle edits (cycle state included),
// and BootstrapOrganisation, which names its organisation in its body and is
// allowed for that organisation's admin or a service token
// (Authenticator::AuthorizeFor). ListLintRules and ListTemplates read no
// organisation's data: any valid token (AuthorizeUnscoped). A refusal
// (UNAUTHENTICATED, PERMISSION_DENIED) is answered before any work is queued.
//
// Idempotency: create-like requests pass their request_id with a fingerprint
// of the request (FNV-1a 64 of its deterministic serialization with
// request_id cleared), so a retry with other content is told apart.
//
// WatchPlanChanges streams the backlog, then live commits; its reactor only
// schedules work on the pool, honours cancellation, and StopStreams() ends
// every stream with UNAVAILABLE so that a server shutdown never waits for
// them.
#ifndef OKR_SERVICES_PLANNING_GRPC_PLANNING_SERVICE_H_
#define OKR_SERVICES_PLANNING_GRPC_PLANNING_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

#include "common/auth.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/worker_pool.h"
#include "google/protobuf/message.h"
#include "okr/v1/planning.grpc.pb.h"
#include "services/planning/planning.h"

namespace okr::planning {

// The metadata entry that names the caller's organisation while auth is off
// (or for a service token): okr::kOrganisationMetadata.
inline constexpr absl::string_view kOrganisationMetadataKey =
    kOrganisationMetadata;

// ListPlanChanges page sizes: 0 means kDefaultChangePageSize; larger than
// kMaxChangePageSize is capped.
inline constexpr int kDefaultChangePageSize = 500;
inline constexpr int kMaxChangePageSize = 1000;

// A stable hash identifying a request's content: FNV-1a 64 over the
// message's deterministic serialization, as 16 lower-case hex digits. The
// caller clears request_id first so that only the content counts.
std::string RequestFingerprint(const google::protobuf::Message& request);

// The opaque ListPlanChanges page token for "continue after `sequence`", and
// back. Decoding fails with INVALID_ARGUMENT "page_token: ..." for anything
// EncodeChangePageToken did not produce.
std::string EncodeChangePageToken(int64_t sequence);
absl::StatusOr<int64_t> DecodeChangePageToken(absl::string_view token);

class PlanningGrpcService final : public v1::PlanningService::CallbackService {
 public:
  // Neither is owned. Both must outlive the service, and the service must
  // outlive the server it is registered on; `pool` must run every task it
  // accepted before `planning` goes away (WorkerPool::Shutdown does).
  // `auth` says who calls (and is not owned; it must outlive the service).
  PlanningGrpcService(Planning* planning, WorkerPool* pool, const Authenticator& auth);
  ~PlanningGrpcService() override;
  PlanningGrpcService(const PlanningGrpcService&) = delete;
  PlanningGrpcService& operator=(const PlanningGrpcService&) = delete;

  // Ends every live WatchPlanChanges stream with UNAVAILABLE ("server
  // shutting down; resume after sequence N") and refuses new ones the same
  // way. Call it when shutdown begins, before grpc::Server::Shutdown, so the
  // server's drain does not wait out its grace period on streams.
  // Idempotent.
  void StopStreams();

  // Waits until every WatchPlanChanges stream has finished and released
  // its resources (its last steps may run on the pool, so keep the pool
  // running meanwhile). True when none is left, false after `timeout`. Call
  // after the server's shutdown, before destroying the pool or Planning.
  bool WaitForStreams(absl::Duration timeout);

  // WatchPlanChanges streams not yet released; for tests and metrics.
  int live_streams() const;

  // --- okr.v1.PlanningService ------------------------------------------------
  grpc::ServerUnaryReactor* BootstrapOrganisation(
      grpc::CallbackServerContext* context,
      const v1::BootstrapOrganisationRequest* request,
      v1::Organisation* response) override;
  grpc::ServerUnaryReactor* GetOrganisation(
      grpc::CallbackServerContext* context,
      const v1::GetOrganisationRequest* request,
      v1::Organisation* response) override;
  grpc::ServerUnaryReactor* UpdateOrganisation(
      grpc::CallbackServerContext* context,
      const v1::UpdateOrganisationRequest* request,
      v1::Organisation* response) override;

  grpc::ServerUnaryReactor* CreateTeam(grpc::CallbackServerContext* context,
                                       const v1::CreateTeamRequest* request,
                                       v1::Team* response) override;
  grpc::ServerUnaryReactor* GetTeam(grpc::CallbackServerContext* context,
                                    const v1::GetTeamRequest* request,
                                    v1::Team* response) override;
  grpc::ServerUnaryReactor* ListTeams(grpc::CallbackServerContext* context,
                                      const v1::ListTeamsRequest* request,
                                      v1::ListTeamsResponse* response) override;
  grpc::ServerUnaryReactor* UpdateTeam(grpc::CallbackServerContext* context,
                                       const v1::UpdateTeamRequest* request,
                                       v1::Team* response) override;
  grpc::ServerUnaryReactor* DeleteTeam(
      grpc::CallbackServerContext* context,
      const v1::DeleteTeamRequest* request,
      google::protobuf::Empty* response) override;

  grpc::ServerUnaryReactor* CreatePerson(
      grpc::CallbackServerContext* context,
      const v1::CreatePersonRequest* request, v1::Person* response) override;
  grpc::ServerUnaryReactor* GetPerson(grpc::CallbackServerContext* context,
                                      const v1::GetPersonRequest* request,
                                      v1::Person* response) override;
  grpc::ServerUnaryReactor* ListPeople(
      grpc::CallbackServerContext* context,
      const v1::ListPeopleRequest* request,
      v1::ListPeopleResponse* response) override;
  grpc::ServerUnaryReactor* UpdatePerson(
      grpc::CallbackServerContext* context,
      const v1::UpdatePersonRequest* request, v1::Person* response) override;
  grpc::ServerUnaryReactor* DeletePerson(
      grpc::CallbackServerContext* context,
      const v1::DeletePersonRequest* request,
      google::protobuf::Empty* response) override;

  grpc::ServerUnaryReactor* CreateCycle(grpc::CallbackServerContext* context,
                                        const v1::CreateCycleRequest* request,
                                        v1::Cycle* response) override;
  grpc::ServerUnaryReactor* CreateFiscalYear(
      grpc::CallbackServerContext* context,
      const v1::CreateFiscalYearRequest* request,
      v1::CreateFiscalYearResponse* response) override;
  grpc::ServerUnaryReactor* GetCycle(grpc::CallbackServerContext* context,
                                     const v1::GetCycleRequest* request,
                                     v1::Cycle* response) override;
  grpc::ServerUnaryReactor* ListCycles(
      grpc::CallbackServerContext* context,
      const v1::ListCyclesRequest* request,
      v1::ListCyclesResponse* response) override;
  grpc::ServerUnaryReactor* UpdateCycle(grpc::CallbackServerContext* context,
                                        const v1::UpdateCycleRequest* request,
                                        v1::Cycle* response) override;
  grpc::ServerUnaryReactor* UpdateCycleState(
      grpc::CallbackServerContext* context,
      const v1::UpdateCycleStateRequest* request,
      v1::Cycle* response) override;

  grpc::ServerUnaryReactor* CreateObjective(
      grpc::CallbackServerContext* context,
      const v1::CreateObjectiveRequest* request,
      v1::Objective* response) override;
  grpc::ServerUnaryReactor* GetObjective(
      grpc::CallbackServerContext* context,
      const v1::GetObjectiveRequest* request,
      v1::Objective* response) override;
  grpc::ServerUnaryReactor* ListObjectives(
      grpc::CallbackServerContext* context,
      const v1::ListObjectivesRequest* request,
      v1::ListObjectivesResponse* response) override;
  grpc::ServerUnaryReactor* UpdateObjective(
      grpc::CallbackServerContext* context,
      const v1::UpdateObjectiveRequest* request,
      v1::Objective* response) override;
  grpc::ServerUnaryReactor* ArchiveObjective(
      grpc::CallbackServerContext* context,
      const v1::ArchiveObjectiveRequest* request,
      v1::Objective* response) override;
  grpc::ServerUnaryReactor* DeleteObjective(
      grpc::CallbackServerContext* context,
      const v1::DeleteObjectiveRequest* request,
      google::protobuf::Empty* response) override;

  grpc::ServerUnaryReactor* CreateKeyResult(
      grpc::CallbackServerContext* context,
      const v1::CreateKeyResultRequest* request,
      v1::KeyResult* response) override;
  grpc::ServerUnaryReactor* GetKeyResult(
      grpc::CallbackServerContext* context,
      const v1::GetKeyResultRequest* request,
      v1::KeyResult* response) override;
  grpc::ServerUnaryReactor* ListKeyResults(
      grpc::CallbackServerContext* context,
      const v1::ListKeyResultsRequest* request,
      v1::ListKeyResultsResponse* response) override;
  grpc::ServerUnaryReactor* UpdateKeyResult(
      grpc::CallbackServerContext* context,
      const v1::UpdateKeyResultRequest* request,
      v1::KeyResult* response) override;
  grpc::ServerUnaryReactor* ArchiveKeyResult(
      grpc::CallbackServerContext* context,
      const v1::ArchiveKeyResultRequest* request,
      v1::KeyResult* response) override;
  grpc::ServerUnaryReactor* DeleteKeyResult(
      grpc::CallbackServerContext* context,
      const v1::DeleteKeyResultRequest* request,
      google::protobuf::Empty* response) override;

  grpc::ServerUnaryReactor* AlignObjective(
      grpc::CallbackServerContext* context,
      const v1::AlignObjectiveRequest* request,
      v1::Objective* response) override;
  grpc::ServerUnaryReactor* CascadeKeyResult(
      grpc::CallbackServerContext* context,
      const v1::CascadeKeyResultRequest* request,
      v1::CascadeKeyResultResponse* response) override;
  grpc::ServerUnaryReactor* UnalignObjective(
      grpc::CallbackServerContext* context,
      const v1::UnalignObjectiveRequest* request,
      v1::Objective* response) override;
  grpc::ServerUnaryReactor* BreakDownObjective(
      grpc::CallbackServerContext* context,
      const v1::BreakDownObjectiveRequest* request,
      v1::BreakDownObjectiveResponse* response) override;
  grpc::ServerUnaryReactor* GetAlignmentTree(
      grpc::CallbackServerContext* context,
      const v1::GetAlignmentTreeRequest* request,
      v1::AlignmentTree* response) override;
  grpc::ServerUnaryReactor* RollOverObjectives(
      grpc::CallbackServerContext* context,
      const v1::RollOverObjectivesRequest* request,
      v1::RollOverObjectivesResponse* response) override;

  grpc::ServerUnaryReactor* Lint(grpc::CallbackServerContext* context,
                                 const v1::LintRequest* request,
                                 v1::LintResponse* response) override;
  grpc::ServerUnaryReactor* ListLintRules(
      grpc::CallbackServerContext* context,
      const v1::ListLintRulesRequest* request,
      v1::ListLintRulesResponse* response) override;
  grpc::ServerUnaryReactor* GetPlanningTimeline(
      grpc::CallbackServerContext* context,
      const v1::GetPlanningTimelineRequest* request,
      v1::GetPlanningTimelineResponse* response) override;
  grpc::ServerUnaryReactor* ListTemplates(
      grpc::CallbackServerContext* context,
      const v1::ListTemplatesRequest* request,
      v1::ListTemplatesResponse* response) override;

  grpc::ServerUnaryReactor* ImportPlanCsv(
      grpc::CallbackServerContext* context,
      const v1::ImportPlanCsvRequest* request,
      v1::ImportPlanCsvResponse* response) override;
  grpc::ServerUnaryReactor* ExportPlanCsv(
      grpc::CallbackServerContext* context,
      const v1::ExportPlanCsvRequest* request,
      v1::ExportPlanCsvResponse* response) override;

  grpc::ServerUnaryReactor* ListPlanChanges(
      grpc::CallbackServerContext* context,
      const v1::ListPlanChangesRequest* request,
      v1::ListPlanChangesResponse* response) override;
  grpc::ServerWriteReactor<v1::PlanChange>* WatchPlanChanges(
      grpc::CallbackServerContext* context,
      const v1::WatchPlanChangesRequest* request) override;

 private:
  class WatchReactor;

  // Runs `fn(org)` on the pool with the caller's organisation, or finishes
  // the call at once with Authorize's refusal when the caller is not
  // authenticated or its role is below `required`.
  template <typename Fn>
  grpc::ServerUnaryReactor* WithOrganisation(
      grpc::CallbackServerContext* context, Role required, Fn fn);

  Planning* const planning_;
  WorkerPool* const pool_;
  const Authenticator& auth_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<WatchReactor*> watches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace okr::planning

#endif  // OKR_SERVICES_PLANNING_GRPC_PLANNING_SERVICE_H_
