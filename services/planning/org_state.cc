#include "services/planning/org_state.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace okr::planning {
namespace {

absl::Status NoSuch(absl::string_view field, absl::string_view what,
                    absl::string_view id) {
  if (id.empty()) {
    return MakeFieldStatus(absl::StatusCode::kInvalidArgument,
                           {{std::string(field), "required"}});
  }
  return MakeFieldStatus(
      absl::StatusCode::kNotFound,
      {{std::string(field), absl::StrCat("no ", what, " '", id, "'")}});
}

template <typename T>
const T* FindIn(const absl::btree_map<Id, T>& map, absl::string_view id) {
  auto it = map.find(id);
  return it == map.end() ? nullptr : &it->second;
}

template <typename T>
absl::StatusOr<const T*> GetIn(const absl::btree_map<Id, T>& map,
                               absl::string_view id, absl::string_view field,
                               absl::string_view what) {
  if (const T* found = FindIn(map, id)) return found;
  return NoSuch(field, what, id);
}

void AddTo(absl::flat_hash_map<Id, absl::btree_set<Id>>& index,
           const Id& key, const Id& value) {
  if (!key.empty()) index[key].insert(value);
}

void RemoveFrom(absl::flat_hash_map<Id, absl::btree_set<Id>>& index,
                const Id& key, const Id& value) {
  auto it = index.find(key);
  if (it == index.end()) return;
  it->second.erase(value);
  if (it->second.empty()) index.erase(it);
}

}  // namespace

namespace {

absl::string_view IdPrefix(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kTeam:
      return "team";
    case ResourceKind::kPerson:
      return "person";
    case ResourceKind::kCycle:
      return "cycle";
    case ResourceKind::kObjective:
      return "obj";
    case ResourceKind::kKeyResult:
      return "kr";
    case ResourceKind::kCheckIn:
      return "ci";
    case ResourceKind::kReview:
      return "rv";
    default:
      return "res";
  }
}

}  // namespace

// "<prefix>-" and 12 characters of [0-9a-z]: 62 bits, so collisions are not
// a practical concern, and ids do not reveal how many resources exist.
Id NewResourceId(ResourceKind kind) { return NewPrefixedId(IdPrefix(kind)); }

Id NewPrefixedId(absl::string_view prefix) {
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  thread_local absl::BitGen gen;
  std::string id = absl::StrCat(prefix, "-");
  for (int i = 0; i < 12; ++i) {
    id.push_back(kAlphabet[absl::Uniform(gen, 0u, 36u)]);
  }
  return id;
}

std::string StableHash(absl::string_view data) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 1099511628211ull;  // FNV-1a 64 prime
  }
  return absl::StrFormat("%016x", hash);
}

ResourceKind KindOf(const Resource& resource) {
  static constexpr ResourceKind kKinds[] = {
      ResourceKind::kOrganisation, ResourceKind::kTeam,
      ResourceKind::kPerson,       ResourceKind::kCycle,
      ResourceKind::kObjective,    ResourceKind::kKeyResult};
  return kKinds[resource.index()];
}

const Id& IdOf(const Resource& resource) {
  return std::visit([](const auto& r) -> const Id& { return r.id; }, resource);
}

int64_t VersionOf(const Resource& resource) {
  return std::visit([](const auto& r) { return r.version; }, resource);
}

absl::Status CheckVersion(int64_t given, int64_t stored,
                          absl::string_view field) {
  if (given == 0) {
    return MakeInvalidArgument(
        {{std::string(field),
          "required: send the version you read, so a concurrent change is "
          "not overwritten"}});
  }
  if (given != stored) {
    return MakeFieldStatus(
        absl::StatusCode::kAborted,
        {{std::string(field),
          absl::StrFormat("version %d is stale; the stored version is %d "
                          "(re-read and retry)",
                          given, stored)}});
  }
  return absl::OkStatus();
}

const Team* OrgState::FindTeam(absl::string_view id) const {
  return FindIn(teams_, id);
}
const Person* OrgState::FindPerson(absl::string_view id) const {
  return FindIn(people_, id);
}
const Cycle* OrgState::FindCycle(absl::string_view id) const {
  return FindIn(cycles_, id);
}
const Objective* OrgState::FindObjective(absl::string_view id) const {
  return FindIn(objectives_, id);
}
const KeyResult* OrgState::FindKeyResult(absl::string_view id) const {
  return FindIn(key_results_, id);
}

absl::StatusOr<const Team*> OrgState::GetTeam(absl::string_view id,
                                              absl::string_view field) const {
  return GetIn(teams_, id, field, "team");
}
absl::StatusOr<const Person*> OrgState::GetPerson(
    absl::string_view id, absl::string_view field) const {
  return GetIn(people_, id, field, "person");
}
absl::StatusOr<const Cycle*> OrgState::GetCycle(absl::string_view id,
                                                absl::string_view field) const {
  return GetIn(cycles_, id, field, "cycle");
}
absl::StatusOr<const Objective*> OrgState::GetObjective(
    absl::string_view id, absl::string_view field) const {
  return GetIn(objectives_, id, field, "objective");
}
absl::StatusOr<const KeyResult*> OrgState::GetKeyResult(
    absl::string_view id, absl::string_view field) const {
  return GetIn(key_results_, id, field, "key result");
}

std::vector<const KeyResult*> OrgState::KeyResultsOf(
    absl::string_view objective_id) const {
  std::vector<const KeyResult*> out;
  auto it = key_results_by_objective_.find(objective_id);
  if (it == key_results_by_objective_.end()) return out;
  for (const Id& id : it->second) out.push_back(&key_results_.at(id));
  std::sort(out.begin(), out.end(), [](const KeyResult* a, const KeyResult* b) {
    return std::tie(a->create_time, a->id) < std::tie(b->create_time, b->id);
  });
  return out;
}

namespace {
std::vector<const Objective*> Lookup(
    const absl::flat_hash_map<Id, absl::btree_set<Id>>& index,
    absl::string_view key, const absl::btree_map<Id, Objective>& objectives) {
  std::vector<const Objective*> out;
  auto it = index.find(key);
  if (it == index.end()) return out;
  for (const Id& id : it->second) out.push_back(&objectives.at(id));
  return out;
}
}  // namespace

std::vector<const Objective*> OrgState::ChildrenOf(
    absl::string_view objective_id) const {
  return Lookup(children_by_parent_, objective_id, objectives_);
}

std::vector<const Objective*> OrgState::CascadedFrom(
    absl::string_view key_result_id) const {
  return Lookup(children_by_key_result_, key_result_id, objectives_);
}

std::vector<const Objective*> OrgState::BreakdownsOf(
    absl::string_view objective_id) const {
  return Lookup(breakdowns_by_objective_, objective_id, objectives_);
}

int OrgState::LiveObjectiveCount(absl::string_view owner_id,
                                 absl::string_view cycle_id) const {
  auto it = live_by_owner_cycle_.find(
      std::make_pair(Id(owner_id), Id(cycle_id)));
  return it == live_by_owner_cycle_.end() ? 0 : it->second;
}

std::vector<const Team*> OrgState::SubTeamsOf(
    absl::string_view parent_team_id) const {
  std::vector<const Team*> out;
  auto it = teams_by_parent_.find(parent_team_id);
  if (it == teams_by_parent_.end()) return out;
  for (const Id& id : it->second) out.push_back(&teams_.at(id));
  return out;
}

std::vector<const Person*> OrgState::PeopleWithEmail(
    absl::string_view email) const {
  std::vector<const Person*> out;
  if (email.empty()) return out;
  auto it = people_by_email_.find(absl::AsciiStrToLower(email));
  if (it == people_by_email_.end()) return out;
  for (const Id& id : it->second) out.push_back(&people_.at(id));
  return out;
}

Plan OrgState::ToPlan() const {
  Plan plan;
  plan.organisation = organisation_;
  plan.teams.reserve(teams_.size());
  for (const auto& [id, team] : teams_) plan.teams.push_back(team);
  plan.people.reserve(people_.size());
  for (const auto& [id, person] : people_) plan.people.push_back(person);
  plan.cycles.reserve(cycles_.size());
  for (const auto& [id, cycle] : cycles_) plan.cycles.push_back(cycle);
  plan.objectives.reserve(objectives_.size());
  for (const auto& [id, objective] : objectives_) {
    plan.objectives.push_back(objective);
  }
  plan.key_results.reserve(key_results_.size());
  for (const auto& [id, key_result] : key_results_) {
    plan.key_results.push_back(key_result);
  }
  return plan;
}

void OrgState::Index(const Objective& objective) {
  const Alignment& a = objective.alignment;
  if (a.kind != AlignmentKind::kNone) {
    AddTo(children_by_parent_, a.parent_objective_id, objective.id);
  }
  if (a.kind == AlignmentKind::kKeyResult) {
    AddTo(children_by_key_result_, a.parent_key_result_id, objective.id);
  }
  AddTo(breakdowns_by_objective_, objective.breakdown_of_objective_id,
        objective.id);
  if (objective.state != ObjectiveState::kArchived) {
    ++live_by_owner_cycle_[{objective.owner_id, objective.cycle_id}];
  }
}

void OrgState::Unindex(const Objective& objective) {
  const Alignment& a = objective.alignment;
  RemoveFrom(children_by_parent_, a.parent_objective_id, objective.id);
  RemoveFrom(children_by_key_result_, a.parent_key_result_id, objective.id);
  RemoveFrom(breakdowns_by_objective_, objective.breakdown_of_objective_id,
             objective.id);
  if (objective.state != ObjectiveState::kArchived) {
    auto it = live_by_owner_cycle_.find(
        std::make_pair(objective.owner_id, objective.cycle_id));
    if (it != live_by_owner_cycle_.end() && --it->second <= 0) {
      live_by_owner_cycle_.erase(it);
    }
  }
}

void OrgState::IndexPerson(const Person& person) {
  if (!person.email.empty()) {
    people_by_email_[absl::AsciiStrToLower(person.email)].insert(person.id);
  }
}

void OrgState::UnindexPerson(const Person& person) {
  if (!person.email.empty()) {
    RemoveFrom(people_by_email_, absl::AsciiStrToLower(person.email),
               person.id);
  }
}

namespace {

// Stores `value` under `id` with one search of `map` (a catch-up puts
// hundreds of thousands of resources, and a search of a large btree_map
// costs about as much as the insert): `unindex(old)` runs first when it
// replaces a stored value. Returns the stored value.
template <typename T, typename V, typename Unindex>
const T& Upsert(absl::btree_map<Id, T>& map, const Id& id, V&& value, Unindex unindex) {
  auto it = map.lower_bound(id);
  if (it != map.end() && it->first == id) {
    unindex(it->second);
    it->second = std::forward<V>(value);
  } else {
    it = map.emplace_hint(it, id, std::forward<V>(value));
  }
  return it->second;
}

}  // namespace

template <typename T>
void OrgState::PutValue(T&& resource) {
  using R = std::decay_t<T>;
  // Indexes read the stored value: `resource` may have been moved from.
  const Id id = resource.id;
  if constexpr (std::is_same_v<R, Organisation>) {
    organisation_ = std::forward<T>(resource);
    exists_ = true;
  } else if constexpr (std::is_same_v<R, Team>) {
    const Team& stored = Upsert(teams_, id, std::forward<T>(resource), [this](const Team& old) {
      RemoveFrom(teams_by_parent_, old.parent_team_id, old.id);
    });
    // Top-level teams too (key ""): they are siblings of each other.
    teams_by_parent_[stored.parent_team_id].insert(id);
  } else if constexpr (std::is_same_v<R, Person>) {
    IndexPerson(Upsert(people_, id, std::forward<T>(resource),
                       [this](const Person& old) { UnindexPerson(old); }));
  } else if constexpr (std::is_same_v<R, Cycle>) {
    Upsert(cycles_, id, std::forward<T>(resource), [](const Cycle&) {});
  } else if constexpr (std::is_same_v<R, Objective>) {
    Index(Upsert(objectives_, id, std::forward<T>(resource),
                 [this](const Objective& old) { Unindex(old); }));
  } else if constexpr (std::is_same_v<R, KeyResult>) {
    const KeyResult& stored =
        Upsert(key_results_, id, std::forward<T>(resource), [this](const KeyResult& old) {
          RemoveFrom(key_results_by_objective_, old.objective_id, old.id);
        });
    AddTo(key_results_by_objective_, stored.objective_id, id);
  }
}

void OrgState::Put(const Resource& resource) {
  std::visit([this](const auto& r) { PutValue(r); }, resource);
}

void OrgState::Put(Resource&& resource) {
  std::visit([this](auto&& r) { PutValue(std::move(r)); }, std::move(resource));
}

void OrgState::Erase(ResourceKind kind, absl::string_view id) {
  switch (kind) {
    case ResourceKind::kTeam: {
      auto it = teams_.find(id);
      if (it == teams_.end()) break;
      RemoveFrom(teams_by_parent_, it->second.parent_team_id, it->second.id);
      teams_.erase(it);
      break;
    }
    case ResourceKind::kPerson: {
      auto it = people_.find(id);
      if (it == people_.end()) break;
      UnindexPerson(it->second);
      people_.erase(it);
      break;
    }
    case ResourceKind::kCycle: {
      auto it = cycles_.find(id);
      if (it != cycles_.end()) cycles_.erase(it);
      break;
    }
    case ResourceKind::kObjective: {
      auto it = objectives_.find(id);
      if (it == objectives_.end()) break;
      Unindex(it->second);
      objectives_.erase(it);
      break;
    }
    case ResourceKind::kKeyResult: {
      auto it = key_results_.find(id);
      if (it == key_results_.end()) break;
      RemoveFrom(key_results_by_objective_, it->second.objective_id,
                 it->second.id);
      key_results_.erase(it);
      break;
    }
    default:
      // Organisations are never deleted; check-ins and reviews are not
      // planning's.
      break;
  }
}

// Token: web-safe base64 of "p1|<filter hash hex>|<last key>".
absl::StatusOr<PageSlice> Paginate(const PageRequest& request,
                                   absl::string_view filter_key,
                                   const std::vector<std::string>& sorted_keys) {
  if (request.page_size < 0) {
    return MakeInvalidArgument(
        {{"page_size", absl::StrCat("must not be negative (got ",
                                    request.page_size, "); 0 means ",
                                    request.default_size)}});
  }
  const size_t size = request.page_size == 0
                          ? request.default_size
                          : std::min(request.page_size, request.max_size);
  const std::string filter_hash = StableHash(filter_key);
  PageSlice slice;
  if (!request.page_token.empty()) {
    std::string decoded;
    std::vector<absl::string_view> parts;
    if (absl::WebSafeBase64Unescape(request.page_token, &decoded)) {
      parts = absl::StrSplit(decoded, absl::MaxSplits('|', 2));
    }
    if (parts.size() != 3 || parts[0] != "p1") {
      return MakeInvalidArgument(
          {{"page_token",
            "not a token this list returned (use next_page_token as is)"}});
    }
    if (parts[1] != filter_hash) {
      return MakeInvalidArgument(
          {{"page_token",
            "was returned for other filters; send the same filters with "
            "every page, or start again without a token"}});
    }
    slice.begin = std::upper_bound(sorted_keys.begin(), sorted_keys.end(),
                                   parts[2]) -
                  sorted_keys.begin();
  }
  slice.end = std::min(sorted_keys.size(), slice.begin + size);
  if (slice.end < sorted_keys.size() && slice.end > slice.begin) {
    slice.next_page_token = absl::WebSafeBase64Escape(
        absl::StrCat("p1|", filter_hash, "|", sorted_keys[slice.end - 1]));
  }
  return slice;
}

}  // namespace okr::planning
