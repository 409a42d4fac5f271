// The tracking service's store: the durable copy of check-ins, reviews and the
// frozen scores of closed cycles.
//
// Tracking keeps what it needs to score an organisation in memory (the latest
// check-ins per key result, the reviews, the frozen scores) and writes
// through to this store before it acknowledges anything, so a restart, or a
// second replica, rebuilds the same state from here. Redis only ever holds a
// cache of what is computed from it.
//
// Every write is numbered in one per-organisation sequence (1, 2, 3 ...)
// shared by check-ins, reviews and cycle freezes. A replica that sees a
// sequence it does not have catches up with ChangesAfter, and the rollup
// cache orders its entries by it.
//
// Bodies are serialized okr.v1 messages (okr.v1.CheckIn, okr.v1.Review,
// okr.v1.KeyResultScore / ObjectiveScore) that the store never parses; the
// columns it filters and orders on are passed beside them. SQLite (embedded
// default) and PostgreSQL (shared by replicas) implement it;
// tests/services/tracking holds the conformance suite every backend must
// pass.
#ifndef OKR_SERVICES_TRACKING_TRACKING_STORE_H_
#define OKR_SERVICES_TRACKING_TRACKING_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/model.h"

namespace okr::tracking {

// One check-in as stored. `body` is the serialized okr.v1.CheckIn (id,
// create_time and every field set). The other fields are copies the store
// indexes on.
struct StoredCheckIn {
  Id id;
  Id key_result_id;
  std::string client_key;
  absl::Time time = absl::UnixEpoch();  // the check-in's effective time
  int64_t sequence = 0;                 // assigned by AppendCheckIn
  // What the body carries, for LoadOrganisation's "latest of each kind"
  // (the store never parses the body): a value, `done`, a confidence or a
  // status.
  bool has_value = false;
  bool has_done = false;
  bool has_signal = false;
  // Identifies the request's content, so that a retry with the same
  // client_key and other content can be refused.
  std::string fingerprint;
  std::string body;
};

// The review of one (objective, kind). `body` is the serialized okr.v1.Review
// with every output field (id, version, times, computed scores) filled in.
struct StoredReview {
  Id objective_id;
  ReviewKind kind = ReviewKind::kUnspecified;
  Id cycle_id;
  int64_t version = 0;   // 1 on create, +1 on each replace
  int64_t sequence = 0;  // assigned by PutReview
  std::string body;
};

// One score frozen when a cycle closed. `body` is the serialized
// okr.v1.KeyResultScore (kind kKeyResult) or okr.v1.ObjectiveScore (kind
// kObjective) with frozen = true.
struct FrozenScore {
  ResourceKind kind = ResourceKind::kUnspecified;
  Id id;
  std::string body;
};

// A closed cycle's frozen scores.
struct FrozenCycle {
  Id cycle_id;
  int64_t sequence = 0;  // assigned by FreezeCycle
  absl::Time freeze_time = absl::UnixEpoch();
  std::vector<FrozenScore> scores;
};

// What a key result's score needs of its history without reading all of it.
struct KeyResultHistory {
  Id key_result_id;
  int64_t check_in_count = 0;
  absl::Time last_time = absl::InfinitePast();  // latest effective time
  // The check-ins ScoreGraph::Build needs: per key result the latest (by
  // time, then sequence) check-in that carries a value, the latest that
  // carries `done`, the latest that carries a confidence or status, and the
  // latest of all. One check-in may be several of these; each appears once.
  std::vector<StoredCheckIn> latest;
};

// Everything stored for one organisation that tracking keeps in memory.
struct TrackingSnapshot {
  int64_t latest_sequence = 0;  // 0: nothing stored
  std::vector<KeyResultHistory> key_results;  // only those with check-ins
  std::vector<StoredReview> reviews;
  std::vector<FrozenCycle> frozen_cycles;
};

// Writes after a sequence, for a replica catching up.
struct TrackingChanges {
  std::vector<StoredCheckIn> check_ins;  // by sequence
  std::vector<StoredReview> reviews;     // the current row of each review written
  std::vector<FrozenCycle> frozen_cycles;
  int64_t latest_sequence = 0;  // the organisation's latest when read
};

// The result of AppendCheckIn.
struct AppendResult {
  StoredCheckIn check_in;  // the stored row: the new one, or the earlier one
  bool replayed = false;   // (key result, client_key) was already stored
};

// One page of a key result's check-ins, newest first (time, then sequence).
struct CheckInPage {
  std::vector<StoredCheckIn> check_ins;
  std::string next_page_token;  // empty on the last page
  int64_t total_size = 0;        // matching the filters, all pages
};

// Filters of ListCheckIns. Times are half-open [start_time, end_time);
// InfinitePast / InfiniteFuture mean no bound.
struct CheckInQuery {
  Id key_result_id;
  absl::Time start_time = absl::InfinitePast();
  absl::Time end_time = absl::InfiniteFuture();
  int page_size = 50;      // already clamped by the caller (1..500)
  std::string page_token;  // opaque, from a previous page of the same query
};

class TrackingStore {
 public:
  virtual ~TrackingStore() = default;

  // Stores `check_in` with the next sequence of `organisation_id`, unless a
  // check-in with the same (key_result_id, client_key) exists: then nothing
  // is written and the stored one comes back with replayed = true (whatever
  // its fingerprint; the caller compares). Atomic and durable when it
  // returns OK. INVALID_ARGUMENT naming the field for an empty organisation,
  // id, key_result_id or client_key; UNAVAILABLE / RESOURCE_EXHAUSTED from
  // the store itself.
  virtual absl::StatusOr<AppendResult> AppendCheckIn(absl::string_view organisation_id,
                                                     const StoredCheckIn& check_in) = 0;

  // The check-in with (key_result_id, client_key), or nullopt.
  virtual absl::StatusOr<std::optional<StoredCheckIn>> FindCheckIn(
      absl::string_view organisation_id, absl::string_view key_result_id,
      absl::string_view client_key) = 0;

  // A page of one key result's check-ins, newest first. INVALID_ARGUMENT
  // "page_token: ..." for a token this store did not make for this query.
  virtual absl::StatusOr<CheckInPage> ListCheckIns(absl::string_view organisation_id,
                                                   const CheckInQuery& query) = 0;

  // Creates or replaces the review of (objective_id, kind). `expected_version`
  // is 0 to create (ABORTED "version: ..." when one exists) or the stored
  // version to replace (ABORTED when it differs, or when none exists). The
  // stored review gets version expected_version + 1 and the next sequence;
  // review.version and review.sequence are ignored. Returns the stored row.
  virtual absl::StatusOr<StoredReview> PutReview(absl::string_view organisation_id,
                                                 const StoredReview& review,
                                                 int64_t expected_version) = 0;

  // Stores the frozen scores of a cycle with the next sequence. A cycle is
  // frozen once: freezing it again writes nothing and returns the first
  // freeze (so a retried CloseCycle reports the same scores).
  virtual absl::StatusOr<FrozenCycle> FreezeCycle(absl::string_view organisation_id,
                                                  const FrozenCycle& cycle) = 0;

  // Everything tracking keeps in memory for the organisation. An unknown
  // organisation gives an empty snapshot, not an error.
  virtual absl::StatusOr<TrackingSnapshot> LoadOrganisation(
      absl::string_view organisation_id) = 0;

  // Writes with a sequence greater than after_sequence, in sequence order,
  // at most `limit` of them (check-ins, reviews and freezes counted
  // together); latest_sequence tells whether there is more.
  virtual absl::StatusOr<TrackingChanges> ChangesAfter(absl::string_view organisation_id,
                                                       int64_t after_sequence, int limit) = 0;

  // The organisation's latest sequence; 0 when nothing is stored.
  virtual absl::StatusOr<int64_t> LatestSequence(absl::string_view organisation_id) = 0;

  // OK when the store can serve now (one cheap round trip); UNAVAILABLE
  // naming the reason otherwise. The health watch calls it every few seconds
  // and reports NOT_SERVING while it fails. Backends override it; the
  // default (for in-memory test stores) is always OK.
  virtual absl::Status CheckHealth() { return absl::OkStatus(); }
};

// Opens the store named by the --store flag: "sqlite:PATH" (created with its
// schema when missing; ":memory:" refused), with the same "?durability="
// options as planning's, or "postgresql://..." / "postgres://..." (a libpq
// URI; see postgres_tracking_store.h), whose schema is migrated on open.
// INVALID_ARGUMENT naming --store for an unknown scheme; every error starts
// with "--store: " and never repeats a password.
absl::StatusOr<std::unique_ptr<TrackingStore>> OpenTrackingStore(absl::string_view url);

// --- For backends -------------------------------------------------------------
// Every backend checks its arguments and makes its page tokens with these, so
// that they refuse the same input with the same message.

// INVALID_ARGUMENT naming the field ("organisation_id", "check_in.id",
// "check_in.key_result_id", "check_in.client_key", "check_in.time") for an
// empty id or key, or a time that is not finite.
absl::Status ValidateCheckInForAppend(absl::string_view organisation_id,
                                      const StoredCheckIn& check_in);

// INVALID_ARGUMENT naming the field for an empty organisation, objective_id
// or cycle_id, an unspecified kind or a negative expected_version.
absl::Status ValidateReviewForPut(absl::string_view organisation_id,
                                  const StoredReview& review, int64_t expected_version);

// INVALID_ARGUMENT naming the field for an empty organisation or cycle_id, a
// freeze_time that is not finite, or a score whose kind is not kKeyResult /
// kObjective, whose id is empty, or which repeats an earlier (kind, id).
absl::Status ValidateFrozenCycle(absl::string_view organisation_id, const FrozenCycle& cycle);

// INVALID_ARGUMENT naming the field for an empty organisation or
// key_result_id, page_size < 1 or start_time > end_time.
absl::Status ValidateCheckInQuery(absl::string_view organisation_id, const CheckInQuery& query);

// Where the next page of ListCheckIns starts: after the check-in with this
// (time, sequence) in newest-first order.
struct CheckInCursor {
  absl::Time time = absl::UnixEpoch();
  int64_t sequence = 0;
};

// Encodes `cursor` as an opaque page token bound to (organisation_id,
// query.key_result_id, query.start_time, query.end_time); the page size may
// change between pages.
std::string EncodeCheckInPageToken(absl::string_view organisation_id, const CheckInQuery& query,
                                   const CheckInCursor& cursor);

// Decodes query.page_token: nullopt when it is empty, INVALID_ARGUMENT
// "page_token: ..." when it is not a token EncodeCheckInPageToken made for
// the same organisation and filters.
absl::StatusOr<std::optional<CheckInCursor>> DecodeCheckInPageToken(
    absl::string_view organisation_id, const CheckInQuery& query);

}  // namespace okr::tracking

#endif  // OKR_SERVICES_TRACKING_TRACKING_STORE_H_
