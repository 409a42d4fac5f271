// One organisation's plan in memory, and the vocabulary the planning
// use-cases write with.
//
// Planning serves every read from an OrgState and changes it only through a
// Mutation that the store has committed first (services/planning/planning.h),
// so an OrgState is always a state that is durably stored. A use-case reads
// the state, checks its rules, and describes its change as a Mutation: the
// full new value of every resource it creates or changes (version and times
// already stamped with Stamp*), and the resources it deletes.
#ifndef OKR_SERVICES_PLANNING_ORG_STATE_H_
#define OKR_SERVICES_PLANNING_ORG_STATE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/model.h"

namespace okr::planning {

// Any resource planning owns.
using Resource =
    std::variant<Organisation, Team, Person, Cycle, Objective, KeyResult>;

ResourceKind KindOf(const Resource& resource);
const Id& IdOf(const Resource& resource);
int64_t VersionOf(const Resource& resource);

// A use-case's change, applied atomically after the store has committed it.
struct Mutation {
  // New or changed resources, whole, in the order their change-feed entries
  // should appear (a parent before the children that reference it).
  std::vector<Resource> puts;
  // Deleted resources, after the puts in the feed.
  std::vector<std::pair<ResourceKind, Id>> deletes;
  // The ids a create request produced, in order: recorded with its
  // request_id so that a retry can answer with the same resources.
  std::vector<Id> result_ids;

  bool empty() const { return puts.empty() && deletes.empty(); }
};

// What a use-case may ask of its surroundings while it builds a Mutation.
struct WriteContext {
  absl::Time now;
  // A fresh id for a new resource of `kind`, e.g. "ob-7k2m9q4x1c3v".
  std::function<Id(ResourceKind)> new_id;
};

// Stamps a new resource: version 1, created and updated `now`.
template <typename T>
void StampCreated(T& resource, absl::Time now) {
  resource.version = 1;
  resource.create_time = now;
  resource.update_time = now;
}

// Stamps a changed resource: the next version, updated `now`.
template <typename T>
void StampUpdated(T& resource, absl::Time now) {
  ++resource.version;
  resource.update_time = now;
}

// ABORTED "<field>: version N is stale; the stored version is M (re-read and
// retry)" unless `given` equals `stored`. A given version of 0 is refused
// with INVALID_ARGUMENT "<field>: required" (writes must say what they read).
absl::Status CheckVersion(int64_t given, int64_t stored,
                          absl::string_view field = "version");

class OrgState {
 public:
  // False until the organisation is bootstrapped.
  bool exists() const { return exists_; }
  const Organisation& organisation() const { return organisation_; }
  // The last change-feed sequence this state includes.
  int64_t sequence() const { return sequence_; }

  // Null when absent.
  const Team* FindTeam(absl::string_view id) const;
  const Person* FindPerson(absl::string_view id) const;
  const Cycle* FindCycle(absl::string_view id) const;
  const Objective* FindObjective(absl::string_view id) const;
  const KeyResult* FindKeyResult(absl::string_view id) const;

  // NOT_FOUND "<field>: no team 'x'" (and so on) when absent, so a use-case
  // can write OKR_ASSIGN_OR_RETURN(const Team* t, state.GetTeam(id, "team_id")).
  absl::StatusOr<const Team*> GetTeam(absl::string_view id,
                                      absl::string_view field) const;
  absl::StatusOr<const Person*> GetPerson(absl::string_view id,
                                          absl::string_view field) const;
  absl::StatusOr<const Cycle*> GetCycle(absl::string_view id,
                                        absl::string_view field) const;
  absl::StatusOr<const Objective*> GetObjective(absl::string_view id,
                                                absl::string_view field) const;
  absl::StatusOr<const KeyResult*> GetKeyResult(absl::string_view id,
                                                absl::string_view field) const;

  // All resources of a kind, ordered by id.
  const absl::btree_map<Id, Team>& teams() const { return teams_; }
  const absl::btree_map<Id, Person>& people() const { return people_; }
  const absl::btree_map<Id, Cycle>& cycles() const { return cycles_; }
  const absl::btree_map<Id, Objective>& objectives() const {
    return objectives_;
  }
  const absl::btree_map<Id, KeyResult>& key_results() const {
    return key_results_;
  }

  // The key results of an objective (archived ones included), ordered by
  // creation time, then id.
  std::vector<const KeyResult*> KeyResultsOf(
      absl::string_view objective_id) const;
  // Objectives aligned to `objective_id` directly or to one of its key
  // results (Classic and Duality children), ordered by id.
  std::vector<const Objective*> ChildrenOf(absl::string_view objective_id) const;
  // Objectives aligned (Duality) to the key result, ordered by id.
  std::vector<const Objective*> CascadedFrom(
      absl::string_view key_result_id) const;
  // Objectives whose breakdown_of_objective_id is `objective_id`, by id.
  std::vector<const Objective*> BreakdownsOf(
      absl::string_view objective_id) const;

  // Live (not archived) objectives owned by `owner_id` in `cycle_id`, from
  // an index: the per-owner limit is checked without scanning the plan.
  int LiveObjectiveCount(absl::string_view owner_id,
                         absl::string_view cycle_id) const;
  // Teams whose parent_team_id is `parent_team_id` ("" for top-level
  // teams), ordered by id.
  std::vector<const Team*> SubTeamsOf(absl::string_view parent_team_id) const;
  // People whose e-mail equals `email` ignoring ASCII case, ordered by id.
  // Empty for an empty `email`.
  std::vector<const Person*> PeopleWithEmail(absl::string_view email) const;

  // A copy as the model library's Plan (for lint, validation and CSV).
  Plan ToPlan() const;

  // --- Used by the planning core only ---------------------------------------
  void Put(const Resource& resource);
  // The same, moving the resource in instead of copying it (a catch-up
  // applies hundreds of thousands).
  void Put(Resource&& resource);
  void Erase(ResourceKind kind, absl::string_view id);
  void set_sequence(int64_t sequence) { sequence_ = sequence; }

 private:
  void Unindex(const Objective& objective);
  void Index(const Objective& objective);
  void UnindexPerson(const Person& person);
  void IndexPerson(const Person& person);
  // Put's body for `const T&` and `T&&`.
  template <typename T>
  void PutValue(T&& resource);

  bool exists_ = false;
  Organisation organisation_;
  int64_t sequence_ = 0;
  absl::btree_map<Id, Team> teams_;
  absl::btree_map<Id, Person> people_;
  absl::btree_map<Id, Cycle> cycles_;
  absl::btree_map<Id, Objective> objectives_;
  absl::btree_map<Id, KeyResult> key_results_;
  // Secondary indexes, maintained by Put / Erase.
  using IdIndex = absl::flat_hash_map<Id, absl::btree_set<Id>>;
  IdIndex key_results_by_objective_;
  IdIndex children_by_parent_;
  IdIndex children_by_key_result_;
  IdIndex breakdowns_by_objective_;
  // (owner_id, cycle_id) -> live objectives; entries at 0 are removed.
  absl::flat_hash_map<std::pair<Id, Id>, int> live_by_owner_cycle_;
  // parent_team_id ("" included) -> teams.
  IdIndex teams_by_parent_;
  // Lower-cased e-mail -> people with that address.
  IdIndex people_by_email_;
};

// A fresh id for a resource of `kind`: a prefix naming the kind ("obj",
// "kr", "ci", "rv", ...), '-', and 12 random characters of [0-9a-z] (62
// bits, so collisions are not a practical concern, and ids do not reveal how
// many resources exist). Thread-safe.
Id NewResourceId(ResourceKind kind);

// The same shape for ids of things outside the plan (reminders, webhooks,
// deliveries): `prefix`, '-', and 12 random characters of [0-9a-z].
Id NewPrefixedId(absl::string_view prefix);

// A 64-bit FNV-1a hash of `data` as 16 hex digits: stable across processes
// and builds (unlike absl::Hash), so page tokens and request fingerprints
// outlive a restart. Not for security.
std::string StableHash(absl::string_view data);

// --- Pagination ------------------------------------------------------------------

// A list request's paging fields.
struct PageRequest {
  int page_size = 0;       // 0: default_size; larger values are capped at max_size
  std::string page_token;  // empty for the first page
  int default_size = 50;   // the list's default and cap (the proto comment's)
  int max_size = 500;
};

// Which entries of a sorted list a page holds: [begin, end).
struct PageSlice {
  size_t begin = 0;
  size_t end = 0;
  std::string next_page_token;  // empty on the last page
};

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 500;

// Chooses the page of a list whose entries are identified by `sorted_keys`
// (unique, ascending; the list's sort order). Tokens are opaque: they carry
// the last key returned and `filter_key` (the list's filters), so a page
// continues after that key even when entries were inserted or removed
// meanwhile, and a token used with other filters is refused.
// INVALID_ARGUMENT "page_size: ..." for a negative size, "page_token: ..."
// for a malformed or mismatched token.
absl::StatusOr<PageSlice> Paginate(const PageRequest& request,
                                   absl::string_view filter_key,
                                   const std::vector<std::string>& sorted_keys);

// One page of results.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;
  int total_size = 0;
};

}  // namespace okr::planning

#endif  // OKR_SERVICES_PLANNING_ORG_STATE_H_
