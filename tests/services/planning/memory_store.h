// An in-memory PlanningStore for unit tests of the planning use-cases. It
// keeps the interface's contract (atomic commits, ABORTED on a stale base
// sequence, ALREADY_EXISTS on a recorded request) but nothing survives the
// object. Never a proof that a feature works end to end: the service tests
// run the real binary on SQLite.
#ifndef OKR_TESTS_SERVICES_PLANNING_MEMORY_STORE_H_
#define OKR_TESTS_SERVICES_PLANNING_MEMORY_STORE_H_

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "services/planning/planning_store.h"

namespace okr::planning {

class MemoryPlanningStore : public PlanningStore {
 public:
  absl::StatusOr<StoredOrganisation> LoadOrganisation(
      absl::string_view organisation_id) override;
  absl::StatusOr<std::vector<Id>> ListOrganisationIds() override;
  absl::Status Commit(const PlanCommit& commit) override;
  absl::StatusOr<int64_t> LatestSequence(
      absl::string_view organisation_id) override;
  absl::StatusOr<std::vector<StoredChange>> ListChanges(
      absl::string_view organisation_id, int64_t after_sequence,
      int limit) override;
  absl::StatusOr<std::optional<StoredRequest>> FindRequest(
      absl::string_view organisation_id, absl::string_view method,
      absl::string_view request_id) override;

  // Makes every following call fail with `status` (OK heals it), to test
  // what the use-cases do when the store is down.
  void FailWith(absl::Status status);
  // Number of successful commits so far.
  int commits() const;

 private:
  struct Org {
    std::map<std::pair<ResourceKind, Id>, StoredResource> resources;
    std::vector<StoredChange> changes;
    std::map<std::pair<std::string, std::string>, StoredRequest> requests;
  };
  mutable absl::Mutex mu_;
  std::map<Id, Org, std::less<>> orgs_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace okr::planning

#endif  // OKR_TESTS_SERVICES_PLANNING_MEMORY_STORE_H_
