// The tracking store on PostgreSQL: what --store=postgresql://... opens (see
// OpenTrackingStore in tracking_store.h), so that several okr-tracking
// replicas share one copy of the check-ins, reviews and frozen scores.
//
// Schema (migration 1 of tracking_schema_migrations). The tables carry the
// prefix tracking_ so that planning and notify may share the database; they
// mirror the SQLite store's, key for key:
//   tracking_org_sequences(org, latest)               PK (org)
//   tracking_check_ins(org, sequence, id, key_result_id, client_key, time_ns,
//                      has_value, has_done, has_signal, fingerprint, body)
//                                  PK (org, sequence),
//                                  UNIQUE (org, key_result_id, client_key),
//                                  INDEX (org, key_result_id, time_ns DESC,
//                                         sequence DESC)
//   tracking_reviews(org, objective_id, kind, cycle_id, version, sequence,
//                    body)         PK (org, objective_id, kind),
//                                  INDEX (org, sequence)
//   tracking_frozen_cycles(org, cycle_id, sequence, freeze_time_ns)
//                                  PK (org, cycle_id), INDEX (org, sequence)
//   tracking_frozen_scores(org, cycle_id, position, kind, id, body)
//                                  PK (org, cycle_id, position)
// Text columns use COLLATE "C" (byte order, whatever the database's locale),
// times are BIGINT nanoseconds since the Unix epoch (timestamptz keeps only
// microseconds), flags BOOLEAN, bodies and fingerprints BYTEA.
//
// Concurrency between replicas: every write transaction first locks its
// organisation's row of tracking_org_sequences (an upsert that changes
// nothing), then looks for what it would duplicate (the client_key, the
// stored review version, the frozen cycle) with a fresh READ COMMITTED
// snapshot, and only then takes the next number. So writes of one
// organisation commit one at a time in sequence order, a number is never
// handed out twice nor skipped (a rolled-back write gives its number back),
// and a check-in raced from two replicas is stored once and replayed to the
// other. Reads of several statements run in one REPEATABLE READ snapshot.
//
// Thread-safe; each call borrows a connection from the pool.
#ifndef OKR_SERVICES_TRACKING_POSTGRES_TRACKING_STORE_H_
#define OKR_SERVICES_TRACKING_POSTGRES_TRACKING_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/postgres.h"
#include "services/tracking/tracking_store.h"

namespace okr::tracking {

class PostgresTrackingStore : public TrackingStore {
 public:
  // Connects with `options` (PgPool::Open: UNAVAILABLE when the server cannot
  // be reached, INVALID_ARGUMENT for a malformed URL) and brings the schema
  // up to date (PgMigrate: FAILED_PRECONDITION for a schema newer than this
  // binary). Several replicas may open the same database at once.
  static absl::StatusOr<std::unique_ptr<PostgresTrackingStore>> Open(PgPoolOptions options);

  PostgresTrackingStore(const PostgresTrackingStore&) = delete;
  PostgresTrackingStore& operator=(const PostgresTrackingStore&) = delete;
  // No call may be in flight.
  ~PostgresTrackingStore() override;

  // The TrackingStore contract. Besides the shared checks, text fields that
  // contain a NUL byte are INVALID_ARGUMENT naming the field (PostgreSQL
  // text cannot hold one); reading a row with an unknown kind name is
  // DATA_LOSS naming the row; a lost or unreachable server is UNAVAILABLE.
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

  // One round trip on a pooled connection (PgPool::Ping): OK or UNAVAILABLE.
  absl::Status CheckHealth() override;

 private:
  explicit PostgresTrackingStore(std::unique_ptr<PgPool> pool);

  std::unique_ptr<PgPool> pool_;
};

}  // namespace okr::tracking

#endif  // OKR_SERVICES_TRACKING_POSTGRES_TRACKING_STORE_H_
