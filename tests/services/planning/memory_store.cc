#include "tests/services/planning/memory_store.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"

namespace okr::planning {

absl::StatusOr<StoredOrganisation> MemoryPlanningStore::LoadOrganisation(
    absl::string_view organisation_id) {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  StoredOrganisation stored;
  auto it = orgs_.find(organisation_id);
  if (it == orgs_.end()) return stored;
  for (const auto& [key, resource] : it->second.resources) {
    stored.resources.push_back(resource);
  }
  if (!it->second.changes.empty()) {
    stored.latest_sequence = it->second.changes.back().sequence;
  }
  return stored;
}

absl::StatusOr<std::vector<Id>> MemoryPlanningStore::ListOrganisationIds() {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  std::vector<Id> ids;  // sorted: orgs_ is ordered by id
  for (const auto& [id, org] : orgs_) {
    if (!org.resources.empty()) ids.push_back(id);
  }
  return ids;
}

absl::Status MemoryPlanningStore::Commit(const PlanCommit& commit) {
  OKR_RETURN_IF_ERROR(ValidatePlanCommit(commit));
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  // Every check comes before the first change, which is what makes the
  // commit all-or-nothing here.
  auto it = orgs_.find(commit.organisation_id);
  const int64_t latest = it == orgs_.end() || it->second.changes.empty()
                             ? 0
                             : it->second.changes.back().sequence;
  if (latest != commit.base_sequence) {
    return absl::AbortedError(absl::StrCat(
        "organisation '", commit.organisation_id,
        "': the commit was built on sequence ", commit.base_sequence,
        " but the store is at ", latest,
        "; another writer committed first: reload and retry"));
  }
  if (commit.request.has_value() && it != orgs_.end() &&
      it->second.requests.count(
          {commit.request->method, commit.request->request_id}) > 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        "organisation '", commit.organisation_id, "': request_id '",
        commit.request->request_id, "' was already used for ",
        commit.request->method));
  }

  Org& org = orgs_[commit.organisation_id];
  for (const StoredResource& resource : commit.puts) {
    org.resources[{resource.kind, resource.id}] = resource;
  }
  for (const auto& key : commit.deletes) org.resources.erase(key);
  org.changes.insert(org.changes.end(), commit.changes.begin(),
                     commit.changes.end());
  if (commit.request.has_value()) {
    org.requests[{commit.request->method, commit.request->request_id}] =
        *commit.request;
  }
  ++commits_;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MemoryPlanningStore::LatestSequence(
    absl::string_view organisation_id) {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  auto it = orgs_.find(organisation_id);
  if (it == orgs_.end() || it->second.changes.empty()) return 0;
  return it->second.changes.back().sequence;
}

absl::StatusOr<std::vector<StoredChange>> MemoryPlanningStore::ListChanges(
    absl::string_view organisation_id, int64_t after_sequence, int limit) {
  if (limit <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: must be positive, got ", limit));
  }
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  std::vector<StoredChange> out;
  auto it = orgs_.find(organisation_id);
  if (it == orgs_.end()) return out;
  const std::vector<StoredChange>& changes = it->second.changes;
  auto first = std::upper_bound(
      changes.begin(), changes.end(), after_sequence,
      [](int64_t after, const StoredChange& c) { return after < c.sequence; });
  for (; first != changes.end() && static_cast<int>(out.size()) < limit;
       ++first) {
    out.push_back(*first);
  }
  return out;
}

absl::StatusOr<std::optional<StoredRequest>> MemoryPlanningStore::FindRequest(
    absl::string_view organisation_id, absl::string_view method,
    absl::string_view request_id) {
  absl::MutexLock lock(&mu_);
  OKR_RETURN_IF_ERROR(failure_);
  auto it = orgs_.find(organisation_id);
  if (it == orgs_.end()) return std::nullopt;
  auto found = it->second.requests.find(
      {std::string(method), std::string(request_id)});
  if (found == it->second.requests.end()) return std::nullopt;
  return found->second;
}

void MemoryPlanningStore::FailWith(absl::Status status) {
  absl::MutexLock lock(&mu_);
  failure_ = std::move(status);
}

int MemoryPlanningStore::commits() const {
  absl::MutexLock lock(&mu_);
  return commits_;
}

}  // namespace okr::planning
