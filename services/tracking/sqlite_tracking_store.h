// The tracking store on an embedded SQLite file: the default behind
// --store=sqlite:PATH (see OpenTrackingStore in tracking_store.h).
//
// Schema (migration 1, "tracking store"); every key is led by the
// organisation so each organisation's rows sit together:
//   org_sequences(org, latest)                        PK (org)
//   check_ins(org, sequence, id, key_result_id, client_key, time_ns,
//             has_value, has_done, has_signal, fingerprint, body)
//                                  PK (org, sequence),
//                                  UNIQUE (org, key_result_id, client_key),
//                                  INDEX (org, key_result_id, time_ns DESC,
//                                         sequence DESC)
//   reviews(org, objective_id, kind, cycle_id, version, sequence, body)
//                                  PK (org, objective_id, kind),
//                                  INDEX (org, sequence)
//   frozen_cycles(org, cycle_id, sequence, freeze_time_ns)
//                                  PK (org, cycle_id), INDEX (org, sequence)
//   frozen_scores(org, cycle_id, position, kind, id, body)
//                                  PK (org, cycle_id, position)
// `kind` columns hold the enum's name ("END_OF_QUARTER", "KEY_RESULT"), times
// are INTEGER nanoseconds since the Unix epoch, flags are INTEGER 0/1, bodies
// and fingerprints BLOBs kept byte for byte. The SQL sticks to what
// PostgreSQL 15 also runs (window functions, row values, ON CONFLICT,
// RETURNING, SAVEPOINT), so the PostgreSQL store can share it.
//
// Concurrency: one writer connection and a small pool of readers, as in the
// planning store. Check-ins are group-committed: concurrent AppendCheckIn
// calls queue up, one of them (the leader) writes every queued check-in in
// one transaction, each inside its own savepoint, and all of them return when
// that transaction has committed. One commit (and, with durability
// power-loss, one fsync) then serves many check-ins, and no call returns
// before its row is durable. Several processes may open the same file: BEGIN
// IMMEDIATE orders their writes, and the unique key turns a racing duplicate
// client_key into a replay.
#ifndef OKR_SERVICES_TRACKING_SQLITE_TRACKING_STORE_H_
#define OKR_SERVICES_TRACKING_SQLITE_TRACKING_STORE_H_

#include <cstdint>
#include <deque>
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
#include "services/tracking/tracking_store.h"

namespace okr::tracking {

struct SqliteTrackingStoreOptions {
  // kProcessCrash (default): a commit survives kill -9 of the process, the
  // last ones may be lost on power loss. kPowerLoss: an fsync per commit
  // (per group of check-ins).
  SqliteDurability durability = SqliteDurability::kProcessCrash;
  // How long a write waits for another process's write lock before it fails
  // with UNAVAILABLE.
  absl::Duration busy_timeout = absl::Seconds(5);
  // Reader connections in the pool (at least 1).
  int reader_connections = 2;
  // Most check-ins written in one group commit; the rest wait for the next.
  int max_group_size = 256;
};

class SqliteTrackingStore : public TrackingStore {
 public:
  // Opens (creating when missing) the database file at `path` and brings its
  // schema up to date. INVALID_ARGUMENT for an empty path, ":memory:" (each
  // connection would see its own empty database, and nothing would survive
  // a restart), reader_connections < 1 or max_group_size < 1; otherwise the
  // error of common/sqlite.h's Open or Migrate (FAILED_PRECONDITION for a
  // missing directory or a schema newer than this binary, DATA_LOSS for a
  // file that is not a database).
  static absl::StatusOr<std::unique_ptr<SqliteTrackingStore>> Open(
      absl::string_view path, const SqliteTrackingStoreOptions& options = {});

  SqliteTrackingStore(const SqliteTrackingStore&) = delete;
  SqliteTrackingStore& operator=(const SqliteTrackingStore&) = delete;
  // No call may be in flight.
  ~SqliteTrackingStore() override;

  // The TrackingStore contract. Reading a row with an unknown kind name fails
  // with DATA_LOSS naming the row.
  absl::StatusOr<AppendResult> AppendCheckIn(absl::string_view organisation_id,
                                             const StoredCheckIn& check_in) override;
  absl::StatusOr<std::optional<StoredCheckIn>> FindCheckIn(absl::string_view organisation_id,
                                                           absl::string_view key_result_id,
                                                           absl::string_view client_key) override;
  absl::StatusOr<CheckInPage> ListCheckIns(absl::string_view organisation_id,
                                           const CheckInQuery& query) override;
  absl::StatusOr<StoredReview> PutReview(absl::string_view organisation_id,
                                         const StoredReview& review,
                                         int64_t expected_version) override;
  absl::StatusOr<FrozenCycle> FreezeCycle(absl::string_view organisation_id,
                                          const FrozenCycle& cycle) override;
  absl::StatusOr<TrackingSnapshot> LoadOrganisation(absl::string_view organisation_id) override;
  absl::StatusOr<TrackingChanges> ChangesAfter(absl::string_view organisation_id,
                                               int64_t after_sequence, int limit) override;
  absl::StatusOr<int64_t> LatestSequence(absl::string_view organisation_id) override;

  // OK while the database file is still in place and readable
  // (CheckSqliteHealth in common/sqlite.h); the health watch calls it.
  absl::Status CheckHealth() override;

  const std::string& path() const { return path_; }
  const SqliteTrackingStoreOptions& options() const { return options_; }

 private:
  // One AppendCheckIn waiting in the group-commit queue.
  struct PendingAppend {
    absl::string_view organisation_id;
    const StoredCheckIn* check_in;
    absl::StatusOr<AppendResult> result = absl::UnknownError("not written yet");
    bool done = false;
  };

  SqliteTrackingStore(std::string path, SqliteTrackingStoreOptions options,
                      std::unique_ptr<SqliteDb> writer,
                      std::vector<std::unique_ptr<SqliteDb>> readers);

  // Writes `group` in one transaction and fills each one's result.
  void WriteGroup(const std::vector<PendingAppend*>& group) ABSL_LOCKS_EXCLUDED(queue_mu_);

  const std::string path_;
  const SqliteTrackingStoreOptions options_;

  // Guards the writer connection and its cached statements. The group
  // leader holds it for the whole transaction; reviews and freezes take it
  // directly.
  absl::Mutex writer_mu_;
  std::unique_ptr<SqliteDb> writer_ ABSL_GUARDED_BY(writer_mu_);

  // The group-commit queue: appends not yet taken by a leader, and whether a
  // leader is writing a group right now.
  absl::Mutex queue_mu_;
  std::deque<PendingAppend*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool leader_active_ ABSL_GUARDED_BY(queue_mu_) = false;
  // Signalled when a group has been written or a leader steps down.
  absl::CondVar group_written_;

  // The reader connections, one call at a time each.
  SqliteConnectionPool readers_;
};

}  // namespace okr::tracking

#endif  // OKR_SERVICES_TRACKING_SQLITE_TRACKING_STORE_H_
