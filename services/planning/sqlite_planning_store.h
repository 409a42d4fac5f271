// The planning store on an embedded SQLite file: the default behind
// --store=sqlite:PATH (see OpenPlanningStore in planning_store.h).
//
// Schema (migration 1, "planning store"), one row per stored thing, every key
// led by the organisation so each organisation's rows sit together:
//   resources(org, kind, id, version, body)        PK (org, kind, id)
//   plan_changes(org, sequence, kind, id, commit_time, body)
//                                                  PK (org, sequence)
//   requests(org, method, request_id, fingerprint, result_ids, create_time)
//                                                  PK (org, method, request_id)
// `kind` is the ResourceKind's name ("OBJECTIVE"), so the file reads the same
// whatever the enum's numbering; times are INTEGER nanoseconds since the Unix
// epoch; bodies and fingerprints are BLOBs kept byte for byte. `result_ids`
// is a BLOB of length-prefixed ids, "<decimal byte length>:<bytes>" one after
// the other ("3:abc2:xy" is {"abc", "xy"}, the empty list is empty), so any
// id, with any byte in it, round-trips.
//
// Concurrency: one writer connection behind a mutex (SQLite has one writer
// at a time anyway, and a single connection needs no BUSY retries inside the
// process) and a small pool of reader connections, so that loading an
// organisation or reading the change feed never waits for a commit's fsync:
// under WAL, readers see the last committed state beside a writer. Several
// processes may open the same file: BEGIN IMMEDIATE makes their commits wait
// for one another (up to the busy timeout, then UNAVAILABLE), and the
// base-sequence check turns a lost race into ABORTED.
#ifndef OKR_SERVICES_PLANNING_SQLITE_PLANNING_STORE_H_
#define OKR_SERVICES_PLANNING_SQLITE_PLANNING_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/sqlite.h"
#include "services/planning/planning_store.h"

namespace okr::planning {

struct SqlitePlanningStoreOptions {
  // kProcessCrash (default): a commit survives kill -9 of the process, the
  // last ones may be lost on power loss. kPowerLoss: an fsync per commit.
  SqliteDurability durability = SqliteDurability::kProcessCrash;
  // How long a commit waits for another process's write lock before it fails
  // with UNAVAILABLE.
  absl::Duration busy_timeout = absl::Seconds(5);
  // Reader connections in the pool (at least 1); more readers than cores buy
  // nothing.
  int reader_connections = 2;
};

class SqlitePlanningStore : public PlanningStore {
 public:
  // Opens (creating when missing) the database file at `path` and brings its
  // schema up to date. INVALID_ARGUMENT for an empty path, ":memory:" (the
  // plan must outlive the process, and each connection would see its own
  // empty database) or reader_connections < 1; otherwise the error of
  // common/sqlite.h's Open or Migrate (FAILED_PRECONDITION for a directory
  // that is missing or not writable, or a schema newer than this binary;
  // DATA_LOSS for a file that is not a database).
  static absl::StatusOr<std::unique_ptr<SqlitePlanningStore>> Open(
      absl::string_view path, const SqlitePlanningStoreOptions& options = {});

  SqlitePlanningStore(const SqlitePlanningStore&) = delete;
  SqlitePlanningStore& operator=(const SqlitePlanningStore&) = delete;
  // No call may be in flight.
  ~SqlitePlanningStore() override;

  // The PlanningStore contract. Reads of a corrupt row (an unknown kind name,
  // malformed result_ids) fail with DATA_LOSS naming the row.
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

  // OK while the database file is still in place and readable
  // (CheckSqliteHealth in common/sqlite.h); the health watch calls it.
  absl::Status CheckHealth() override;

  const std::string& path() const { return path_; }
  const SqlitePlanningStoreOptions& options() const { return options_; }

 private:

  SqlitePlanningStore(std::string path, SqlitePlanningStoreOptions options,
                      std::unique_ptr<SqliteDb> writer,
                      std::vector<std::unique_ptr<SqliteDb>> readers);

  const std::string path_;
  const SqlitePlanningStoreOptions options_;

  absl::Mutex writer_mu_;
  std::unique_ptr<SqliteDb> writer_ ABSL_GUARDED_BY(writer_mu_);

  // The reader connections, one call at a time each.
  SqliteConnectionPool readers_;
};

// Encodes ids as the `result_ids` column holds them (see the file comment),
// and decodes them back: DATA_LOSS when `encoded` is not such a list.
// Exposed for tests.
std::string EncodeIdList(const std::vector<Id>& ids);
absl::StatusOr<std::vector<Id>> DecodeIdList(absl::string_view encoded);

}  // namespace okr::planning

#endif  // OKR_SERVICES_PLANNING_SQLITE_PLANNING_STORE_H_
