// A synthetic but realistic organisation for the benchmarks (issue 7): a
// company with departments, teams and people, a fiscal year with its annual
// cycle and four quarters, and objectives with key results aligned from the
// company down to individuals. GenerateOrg builds the plan in memory (pure and
// deterministic: the same spec gives the same plan), GenerateCheckIn gives a
// deterministic stream of valid check-ins over its key results, and LoadOrg
// puts a generated plan into a running okr-planning through its public gRPC
// API only, returning the real ids the services assigned.
#ifndef OKR_TESTS_BENCH_ORG_ORG_GENERATOR_H_
#define OKR_TESTS_BENCH_ORG_ORG_GENERATOR_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/model.h"

namespace okr::bench {

struct OrgSpec {
  uint64_t seed = 1;
  int objectives = 1000;  // objectives of the quarter cycle (plus annual ones)
  int key_results_per_objective = 4;
  int max_depth = 6;  // alignment depth, company = 1
  int people = 0;     // 0: as many as needed for one objective per owner
};

// A realistic organisation, the same for the same spec: company -> departments
// -> teams -> people, a fiscal year with the annual cycle and its 4 quarters,
// the current quarter ACTIVE (the quarter containing absl::Now() at generation
// time); objectives at company, department, team and person level aligned up
// to max_depth; KRs of every type. Ids are the generator's refs (e.g. "o-123",
// "kr-123-2"). The plan passes common/validation.h's checks and planning's limits.
okr::Plan GenerateOrg(const OrgSpec& spec);

// The index-th check-in of a deterministic stream over the plan's KRs (value
// moves towards the target, at times inside the active quarter and before the
// plan's generation time). key_result_id is the ref. Requires a plan from
// GenerateOrg with at least one key result.
okr::CheckIn GenerateCheckIn(const okr::Plan& plan, uint64_t index);

// What RPCs need after loading.
struct LoadedOrg {
  std::string organisation_id;
  std::string active_cycle_id;
  absl::flat_hash_map<std::string, std::string> ids;  // generator ref -> real id (all kinds)
  std::vector<std::string> key_result_ids;             // real ids, plan order
  std::vector<std::string> objective_ids;              // real ids, plan order
  std::vector<std::string> people_ids;                 // real ids, plan order
  // Wall time of each loading step, in order (for reports; not needed by RPCs).
  std::vector<std::pair<std::string, absl::Duration>> step_times;
};

// Loads the plan into a running okr-planning through its public API only
// (BootstrapOrganisation, CreateTeam, CreatePerson, CreateFiscalYear,
// UpdateCycleState, ImportPlanCsv in chunks, AlignObjective /
// CascadeKeyResult for links across chunks), with up to `concurrency` calls in
// flight, over a plaintext channel. `metadata` goes on every call (e.g. the
// auth token). The organisation is bootstrapped with the id of its
// "okr-organisation-id" entry when there is one, else plan.organisation.id,
// and every call carries that id as "okr-organisation-id"; an organisation
// that exists already fails with ALREADY_EXISTS. Objectives linked by
// aligned_to_kr or breakdown_of must fit one import (10,000 rows), else
// FAILED_PRECONDITION; so do two key results of one objective with the same
// title (they are told apart by title, as GenerateOrg guarantees). Returns the first failing call's status, its message
// prefixed with the call (e.g. "CreatePerson p-12: ...").
absl::StatusOr<LoadedOrg> LoadOrg(
    const okr::Plan& plan, const std::string& planning_address, int concurrency,
    const std::vector<std::pair<std::string, std::string>>& metadata);

}  // namespace okr::bench

#endif  // OKR_TESTS_BENCH_ORG_ORG_GENERATOR_H_
