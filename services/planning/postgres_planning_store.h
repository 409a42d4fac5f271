// The planning store on PostgreSQL: behind --store=postgresql://... (see
// OpenPlanningStore in planning_store.h), for several planning replicas
// sharing one database.
//
// Schema (migrations recorded in planning_schema_migrations; every table is
// prefixed planning_ so that tracking and notify may share the database):
//   planning_organisations(org, latest_sequence)   PK (org)
//   planning_resources(org, kind, id, version, body)            PK (org, kind, id)
//   planning_changes(org, sequence, kind, id, commit_time_unix_nanos, body)
//                                                  PK (org, sequence)
//   planning_requests(org, method, request_id, fingerprint, result_ids,
//                     create_time_unix_nanos)      PK (org, method, request_id)
// `kind` is the ResourceKind's name, like the SQLite store; bodies,
// fingerprints and result_ids (the SQLite store's length-prefixed encoding,
// EncodeIdList) are bytea kept byte for byte; times are bigint nanoseconds
// since the Unix epoch, because the interface keeps nanoseconds and
// timestamptz keeps microseconds. Organisation ids, resource ids, methods
// and request ids are text: a value that is not UTF-8 or holds a NUL byte is
// refused with INVALID_ARGUMENT (the SQLite store would accept it; the
// services' ids never contain such bytes).
//
// Concurrency: each commit first locks its organisation's row in
// planning_organisations (SELECT ... FOR UPDATE, the row created on first
// use), so commits of one organisation queue behind one another across
// every replica, and checks latest_sequence against the base under that
// lock: a writer that lost the race gets ABORTED and changes nothing.
// Commits of different organisations do not wait for each other. Reads use
// the pool without that lock; LoadOrganisation reads rows and sequence in
// one REPEATABLE READ snapshot.
#ifndef OKR_SERVICES_PLANNING_POSTGRES_PLANNING_STORE_H_
#define OKR_SERVICES_PLANNING_POSTGRES_PLANNING_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/postgres.h"
#include "services/planning/planning_store.h"

namespace okr::planning {

class PostgresPlanningStore : public PlanningStore {
 public:
  // Connects with `options` (options.url is the postgresql:// URL) and
  // brings the schema up to date; replicas starting at once migrate one at
  // a time. INVALID_ARGUMENT naming --store for a malformed URL, UNAVAILABLE
  // when the server cannot be reached, and the migration's error otherwise.
  static absl::StatusOr<std::unique_ptr<PostgresPlanningStore>> Open(PgPoolOptions options);

  PostgresPlanningStore(const PostgresPlanningStore&) = delete;
  PostgresPlanningStore& operator=(const PostgresPlanningStore&) = delete;
  ~PostgresPlanningStore() override;

  // The PlanningStore contract. UNAVAILABLE while the server is unreachable
  // (the pool reconnects on the next call); reads of a row with an unknown
  // kind name or malformed result_ids fail with DATA_LOSS naming the row.
  absl::StatusOr<StoredOrganisation> LoadOrganisation(absl::string_view organisation_id) override;
  absl::StatusOr<std::vector<Id>> ListOrganisationIds() override;
  absl::Status Commit(const PlanCommit& commit) override;
  absl::StatusOr<int64_t> LatestSequence(absl::string_view organisation_id) override;
  absl::StatusOr<std::vector<StoredChange>> ListChanges(absl::string_view organisation_id,
                                                        int64_t after_sequence,
                                                        int limit) override;
  absl::StatusOr<std::optional<StoredRequest>> FindRequest(
      absl::string_view organisation_id, absl::string_view method,
      absl::string_view request_id) override;
  // SELECT 1 on a pooled connection: OK or UNAVAILABLE.
  absl::Status CheckHealth() override;

 private:
  explicit PostgresPlanningStore(std::unique_ptr<PgPool> pool);

  std::unique_ptr<PgPool> pool_;
};

}  // namespace okr::planning

#endif  // OKR_SERVICES_PLANNING_POSTGRES_PLANNING_STORE_H_
