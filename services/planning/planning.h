// The planning use-cases: everything okr.v1.PlanningService does, in plain
// C++ on the model types, with no gRPC in sight (the adapter in
// grpc_planning_service.h converts at the boundary).
//
// Each organisation's plan lives in memory (OrgState), loaded from the store
// on first use. A write takes the organisation's lock, builds a Mutation from
// the current state, commits it to the store together with its change-feed
// entries and idempotency record, and only then applies it to memory: what a
// caller was told is stored is stored, and readers never see a change the
// store does not have. Reads take the lock shared and never touch the store.
// Writes to different organisations run in parallel.
//
// Thread-safe. Methods block on the store: call them from a worker thread,
// never from a gRPC reactor.
//
// The method files: planning.cc (the core: Read, Write, change feed),
// planning_directory.cc (organisation, teams, people, cycles),
// planning_objectives.cc (objectives, key results), planning_alignment.cc
// (align, cascade, breakdown, tree, roll over), planning_editing.cc (lint,
// timeline, templates) and planning_csv.cc (import, export).
#ifndef OKR_SERVICES_PLANNING_PLANNING_H_
#define OKR_SERVICES_PLANNING_PLANNING_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/calendar.h"
#include "common/lint.h"
#include "common/model.h"
#include "services/planning/org_state.h"
#include "services/planning/planning_store.h"
#include "services/planning/templates.h"

namespace okr::planning {

// The idempotency key of a create-like request. An empty request_id means
// none: every call creates. `fingerprint` identifies the request's content
// (the adapter hashes the request message); the same request_id with another
// fingerprint is refused with ALREADY_EXISTS "request_id: ...".
struct RequestKey {
  std::string request_id;
  std::string fingerprint;
};

// --- Filters and results --------------------------------------------------------
// An empty id or an unspecified enum in a filter means "any".

struct TeamFilter {
  Id parent_team_id;
  Id person_id;  // teams the person belongs to or leads
};

struct PersonFilter {
  Id team_id;
  std::string email;  // case-insensitive
};

struct CycleFilter {
  CycleKind kind = CycleKind::kUnspecified;
  CycleState state = CycleState::kUnspecified;
  Id parent_cycle_id;
  std::optional<absl::CivilDay> contains_day;
};

struct FiscalYear {
  Cycle year;
  std::vector<Cycle> quarters;
  std::vector<Cycle> months;  // empty unless asked for
};

struct ObjectiveFilter {
  Id cycle_id;
  Level level = Level::kUnspecified;
  Id owner_id;
  Id team_id;
  // kArchived lists only archived objectives; anything else leaves them out.
  ObjectiveState state = ObjectiveState::kUnspecified;
  Id parent_objective_id;
  Id breakdown_of_objective_id;
};

struct KeyResultFilter {
  Id objective_id;
  Id owner_id;  // the KR's own owner, or its objective's when it has none
  Id cycle_id;
  bool include_archived = false;
};

struct AlignmentLink {
  Id child_objective_id;
  Id parent_objective_id;
  Id parent_key_result_id;  // Duality links only
  AlignmentKind kind = AlignmentKind::kObjective;
  double weight = 1.0;
};

struct AlignmentTreeQuery {
  Id cycle_id;           // empty: the whole organisation
  Id root_objective_id;  // empty: every root
  bool include_archived = false;
  bool exclude_key_results = false;
};

// At most this many objectives in one tree; more is FAILED_PRECONDITION.
inline constexpr int kMaxTreeObjectives = 10000;

// At most this many live (not archived) objectives per owner and cycle, and
// key results per objective; creating or restoring one more is
// FAILED_PRECONDITION. The guide recommends 3 to 5 of each (lint warns).
inline constexpr int kMaxObjectivesPerOwnerCycle = 20;
inline constexpr int kMaxKeyResultsPerObjective = 20;

struct AlignmentTree {
  std::vector<Objective> objectives;  // parents before children
  std::vector<KeyResult> key_results;
  std::vector<AlignmentLink> links;
  std::vector<Id> root_objective_ids;
  int64_t sequence = 0;  // the change-feed sequence the snapshot reflects
};

struct BreakdownItem {
  Id cycle_id;
  std::string title;
  std::string description;
  Id owner_id;  // empty: the broken-down objective's owner
  ObjectiveKind kind = ObjectiveKind::kUnspecified;  // unspecified: inherit
};

struct RollOverItem {
  Id objective_id;
  std::vector<Id> key_result_ids;  // empty: every non-archived KR
};

struct RollOverResult {
  std::vector<Objective> objectives;
  std::vector<KeyResult> key_results;
};

enum class LintScope { kObjective, kOwnerCycle, kOrganisation };

struct LintQuery {
  LintScope scope = LintScope::kOrganisation;
  Id objective_id;  // kObjective
  Id owner_id;      // kOwnerCycle
  Id cycle_id;      // kOwnerCycle; optional for kOrganisation
  std::optional<LintSeverity> minimum_severity;
  std::vector<std::string> disabled_rule_ids;
  int max_findings = 0;  // 0: 1000
};

struct LintResult {
  std::vector<Finding> findings;
  bool truncated = false;
  int objectives_checked = 0;
};

struct PlanningTimelineResult {
  absl::CivilDay fiscal_year_start;
  PlanningProfile profile = PlanningProfile::kSmall;
  std::vector<PlanningMilestone> milestones;
};

struct TemplateFilter {
  std::optional<Category> category;
  std::string function;  // case-insensitive
};

struct CsvRowError {
  int row = 0;  // spreadsheet row: the header is row 1
  std::string column;
  std::string reason;
};

struct ImportResult {
  int objectives_created = 0;
  int key_results_created = 0;
  std::vector<CsvRowError> errors;  // dry run only
  std::vector<Id> objective_ids;
};

struct ExportFilter {
  Id cycle_id;
  Id owner_id;
  Id team_id;
  bool include_archived = false;
};

struct ExportResult {
  std::string csv;
  int row_count = 0;
};

// At most this many rows in one CSV import or export.
inline constexpr int kMaxCsvRows = 10000;
inline constexpr int kMaxCsvBytes = 4 * 1024 * 1024;

struct PlanningOptions {
  // The clock of every write; tests pin it.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // How stale a read may be when other replicas write to the same store: a
  // read first catches up with the store's feed when the organisation was
  // last synchronised longer ago than this (one cheap LatestSequence query).
  // Writes always build on the latest stored state.
  absl::Duration refresh_interval = absl::Seconds(1);
};

class Planning {
 public:
  // `store` is not owned and must outlive this object.
  Planning(PlanningStore* store, PlanningOptions options = {});
  ~Planning();
  Planning(const Planning&) = delete;
  Planning& operator=(const Planning&) = delete;

  // Every method takes the caller's organisation id first. Unless it says
  // otherwise, a method on an organisation that was never bootstrapped
  // fails with NOT_FOUND, and update / delete / archive / align methods
  // check `version` with CheckVersion.

  // --- Organisation (planning_directory.cc) ---------------------------------
  absl::StatusOr<Organisation> BootstrapOrganisation(
      absl::string_view org, Organisation organisation, const RequestKey& key);
  absl::StatusOr<Organisation> GetOrganisation(absl::string_view org);
  // `paths` are the update mask's proto field names ("time_zone").
  absl::StatusOr<Organisation> UpdateOrganisation(
      absl::string_view org, const Organisation& values,
      const std::vector<std::string>& paths, int64_t version);

  // --- Teams and people (planning_directory.cc) ------------------------------
  absl::StatusOr<Team> CreateTeam(absl::string_view org, Team team,
                                  const RequestKey& key);
  absl::StatusOr<Team> GetTeam(absl::string_view org, absl::string_view id);
  absl::StatusOr<Page<Team>> ListTeams(absl::string_view org,
                                       const TeamFilter& filter,
                                       const PageRequest& page);
  absl::StatusOr<Team> UpdateTeam(absl::string_view org, const Team& values,
                                  const std::vector<std::string>& paths,
                                  int64_t version);
  absl::Status DeleteTeam(absl::string_view org, absl::string_view id,
                          int64_t version);

  absl::StatusOr<Person> CreatePerson(absl::string_view org, Person person,
                                      const RequestKey& key);
  absl::StatusOr<Person> GetPerson(absl::string_view org, absl::string_view id);
  absl::StatusOr<Page<Person>> ListPeople(absl::string_view org,
                                          const PersonFilter& filter,
                                          const PageRequest& page);
  absl::StatusOr<Person> UpdatePerson(absl::string_view org,
                                      const Person& values,
                                      const std::vector<std::string>& paths,
                                      int64_t version);
  absl::Status DeletePerson(absl::string_view org, absl::string_view id,
                            int64_t version);

  // --- Cycles (planning_directory.cc) ------------------------------------------
  absl::StatusOr<Cycle> CreateCycle(absl::string_view org, Cycle cycle,
                                    const RequestKey& key);
  absl::StatusOr<FiscalYear> CreateFiscalYear(
      absl::string_view org, int fiscal_year, bool include_months,
      std::optional<int> check_in_grace_days, const RequestKey& key);
  absl::StatusOr<Cycle> GetCycle(absl::string_view org, absl::string_view id);
  absl::StatusOr<Page<Cycle>> ListCycles(absl::string_view org,
                                         const CycleFilter& filter,
                                         const PageRequest& page);
  absl::StatusOr<Cycle> UpdateCycle(absl::string_view org, const Cycle& values,
                                    const std::vector<std::string>& paths,
                                    int64_t version);
  absl::StatusOr<Cycle> UpdateCycleState(absl::string_view org,
                                         absl::string_view id,
                                         CycleState state, int64_t version);

  // --- Objectives and key results (planning_objectives.cc) --------------------
  absl::StatusOr<Objective> CreateObjective(absl::string_view org,
                                            Objective objective,
                                            const RequestKey& key);
  absl::StatusOr<Objective> GetObjective(absl::string_view org,
                                         absl::string_view id);
  absl::StatusOr<Page<Objective>> ListObjectives(absl::string_view org,
                                                 const ObjectiveFilter& filter,
                                                 const PageRequest& page);
  absl::StatusOr<Objective> UpdateObjective(
      absl::string_view org, const Objective& values,
      const std::vector<std::string>& paths, int64_t version);
  absl::StatusOr<Objective> ArchiveObjective(absl::string_view org,
                                             absl::string_view id,
                                             int64_t version);
  absl::Status DeleteObjective(absl::string_view org, absl::string_view id,
                               int64_t version);

  absl::StatusOr<KeyResult> CreateKeyResult(absl::string_view org,
                                            KeyResult key_result,
                                            const RequestKey& key);
  absl::StatusOr<KeyResult> GetKeyResult(absl::string_view org,
                                         absl::string_view id);
  absl::StatusOr<Page<KeyResult>> ListKeyResults(absl::string_view org,
                                                 const KeyResultFilter& filter,
                                                 const PageRequest& page);
  absl::StatusOr<KeyResult> UpdateKeyResult(
      absl::string_view org, const KeyResult& values,
      const std::vector<std::string>& paths, int64_t version);
  absl::StatusOr<KeyResult> ArchiveKeyResult(absl::string_view org,
                                             absl::string_view id,
                                             int64_t version);
  absl::Status DeleteKeyResult(absl::string_view org, absl::string_view id,
                               int64_t version);

  // --- Alignment and roll over (planning_alignment.cc) ------------------------
  absl::StatusOr<Objective> AlignObjective(absl::string_view org,
                                           absl::string_view objective_id,
                                           absl::string_view parent_id,
                                           double weight, int64_t version);
  // `child` carries the new objective's fields (title empty: the KR's).
  absl::StatusOr<Objective> CascadeKeyResult(absl::string_view org,
                                             absl::string_view key_result_id,
                                             Objective child, double weight,
                                             const RequestKey& key);
  absl::StatusOr<Objective> UnalignObjective(absl::string_view org,
                                             absl::string_view objective_id,
                                             int64_t version);
  absl::StatusOr<std::vector<Objective>> BreakDownObjective(
      absl::string_view org, absl::string_view objective_id,
      const std::vector<BreakdownItem>& items, bool align,
      const RequestKey& key);
  absl::StatusOr<AlignmentTree> GetAlignmentTree(
      absl::string_view org, const AlignmentTreeQuery& query);
  absl::StatusOr<RollOverResult> RollOverObjectives(
      absl::string_view org, absl::string_view target_cycle_id,
      const std::vector<RollOverItem>& items, bool keep_alignment,
      const RequestKey& key);

  // --- Editing help (planning_editing.cc) -------------------------------------
  absl::StatusOr<LintResult> Lint(absl::string_view org,
                                  const LintQuery& query);
  // Needs no organisation.
  absl::StatusOr<Page<LintRule>> ListLintRules(const PageRequest& page);
  // profile kUnspecified: the organisation's.
  absl::StatusOr<PlanningTimelineResult> GetPlanningTimeline(
      absl::string_view org, int fiscal_year, PlanningProfile profile);
  // Needs no organisation.
  absl::StatusOr<Page<OkrTemplate>> ListTemplates(const TemplateFilter& filter,
                                                  const PageRequest& page);

  // --- Spreadsheet migration (planning_csv.cc) --------------------------------
  absl::StatusOr<ImportResult> ImportPlanCsv(absl::string_view org,
                                             absl::string_view csv,
                                             absl::string_view default_cycle,
                                             bool dry_run,
                                             const RequestKey& key);
  absl::StatusOr<ExportResult> ExportPlanCsv(absl::string_view org,
                                             const ExportFilter& filter);

  // --- Change feed (planning.cc) -----------------------------------------------
  // Up to `limit` (1..1000) entries after `after_sequence`, as serialized
  // okr.v1.PlanChange messages, and the organisation's latest sequence.
  // Read from the store alone (the organisation's state is not loaded);
  // NOT_FOUND "organisation 'x' is not bootstrapped" as for any read.
  struct ChangeBatch {
    std::vector<StoredChange> changes;
    int64_t latest_sequence = 0;
  };
  absl::StatusOr<ChangeBatch> ListPlanChanges(absl::string_view org,
                                              int64_t after_sequence,
                                              int limit);

  // Calls `on_change` (on the writer's thread, after the commit; it must not
  // block or call back into Planning) each time a write to `org` commits,
  // until Unsubscribe. Returns a handle for Unsubscribe.
  int64_t Subscribe(absl::string_view org, std::function<void()> on_change);
  void Unsubscribe(absl::string_view org, int64_t handle);

  // --- The core, for the method files (and the core's tests) ---------------
  // The adapter calls the use-case methods above, never these.

  // Runs `read` on the organisation's state under its shared lock, loading
  // it from the store first if needed. NOT_FOUND "organisation 'x' is not
  // bootstrapped" unless `allow_missing` (then `read` sees an empty state).
  absl::Status Read(absl::string_view org,
                    absl::FunctionRef<absl::Status(const OrgState&)> read,
                    bool allow_missing = false);

  // Runs `write` under the organisation's exclusive lock. If it returns OK
  // with a non-empty Mutation, commits that (with a change-feed entry per
  // put and delete, and the request record when key.request_id is set) and
  // applies it. When key.request_id was already used for `method` with the
  // same fingerprint, `write` is skipped and `replay` runs with the ids the
  // first call recorded (against the current state); another fingerprint is
  // ALREADY_EXISTS. If another replica committed first, the state catches
  // up from the store's feed and `write` runs again (a few times at most,
  // then ABORTED). NOT_FOUND for a missing organisation unless
  // `allow_missing`.
  using WriteFn = absl::FunctionRef<absl::Status(
      const OrgState&, const WriteContext&, Mutation*)>;
  using ReplayFn =
      absl::FunctionRef<absl::Status(const OrgState&, absl::Span<const Id>)>;
  absl::Status Write(absl::string_view org, absl::string_view method,
                     const RequestKey& key, WriteFn write, ReplayFn replay,
                     bool allow_missing = false);
  // A write without idempotency (updates, deletes: their version makes them
  // safe to retry).
  absl::Status Write(absl::string_view org, WriteFn write);

  absl::Time Now() const { return options_.clock(); }

 private:
  struct OrgHandle;
  absl::StatusOr<OrgHandle*> Handle(absl::string_view org);

  PlanningStore* const store_;
  const PlanningOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<Id, std::unique_ptr<OrgHandle>> orgs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace okr::planning

#endif  // OKR_SERVICES_PLANNING_PLANNING_H_
