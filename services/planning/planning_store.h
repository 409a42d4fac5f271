// The planning service's store: the durable copy of every organisation's
// plan, its change feed and its idempotency records.
//
// Planning keeps each organisation's plan in memory (services/planning/
// org_state.h) and writes through to the store before it acknowledges
// anything. So the store is a small, type-agnostic interface: it keeps each
// resource as an opaque serialized body (an okr.v1 message) under
// (organisation, kind, id), appends numbered change-feed entries, and applies
// one writer's commit atomically. SQLite (embedded default) and PostgreSQL
// (several replicas) implement it; tests/services/planning holds one
// conformance suite that both must pass.
//
// Sequences: every organisation has its own change feed numbered 1, 2, 3...
// A commit names the sequence it was built on (`base_sequence`) and brings
// the entries that follow it. If the stored feed has moved on (another
// replica committed first) the commit fails with ABORTED and changes nothing,
// which is how two writers can never interleave half-commits or lose an
// update.
#ifndef OKR_SERVICES_PLANNING_PLANNING_STORE_H_
#define OKR_SERVICES_PLANNING_PLANNING_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/model.h"

namespace okr::planning {

// One resource as stored: `body` is the serialized okr.v1 message of the
// resource (okr.v1.Objective for kObjective and so on). The store never
// parses it.
struct StoredResource {
  ResourceKind kind = ResourceKind::kUnspecified;
  Id id;
  int64_t version = 0;
  std::string body;
};

// One change-feed entry: `body` is the serialized okr.v1.PlanChange.
struct StoredChange {
  int64_t sequence = 0;
  ResourceKind kind = ResourceKind::kUnspecified;
  Id id;
  absl::Time commit_time = absl::UnixEpoch();
  std::string body;
};

// What a create request with a request_id did, so that a retry gets the same
// answer instead of a second copy. `fingerprint` identifies the request's
// content (a retry with the same id and other content is refused);
// `result_ids` are the ids of the resources the request created, in order.
struct StoredRequest {
  std::string method;      // e.g. "CreateObjective"
  std::string request_id;  // the client's idempotency key
  std::string fingerprint;
  std::vector<Id> result_ids;
  absl::Time create_time = absl::UnixEpoch();
};

// Everything one writer changes at once.
struct PlanCommit {
  Id organisation_id;
  // The organisation's latest sequence this commit was built on (0 for a new
  // organisation). The stored latest sequence must equal it.
  int64_t base_sequence = 0;
  // Inserted or replaced, by (kind, id).
  std::vector<StoredResource> puts;
  // Removed; removing a missing resource is not an error.
  std::vector<std::pair<ResourceKind, Id>> deletes;
  // Sequences base_sequence + 1, + 2, ... in order, without gaps.
  std::vector<StoredChange> changes;
  // Recorded with the commit when the request carried a request_id.
  std::optional<StoredRequest> request;
};

// An organisation's stored plan.
struct StoredOrganisation {
  std::vector<StoredResource> resources;  // every kind, in no particular order
  int64_t latest_sequence = 0;            // 0: nothing stored
};

class PlanningStore {
 public:
  virtual ~PlanningStore() = default;

  // Everything stored for `organisation_id`; an unknown organisation gives an
  // empty result with latest_sequence 0 (not an error). UNAVAILABLE when the
  // store cannot be reached.
  virtual absl::StatusOr<StoredOrganisation> LoadOrganisation(
      absl::string_view organisation_id) = 0;

  // The ids of every organisation with at least one stored resource, sorted.
  virtual absl::StatusOr<std::vector<Id>> ListOrganisationIds() = 0;

  // Applies `commit` atomically and durably (per the store's durability
  // mode), or not at all. ABORTED when the organisation's stored latest
  // sequence is not commit.base_sequence; ALREADY_EXISTS when
  // commit.request's (method, request_id) is already recorded;
  // INVALID_ARGUMENT for a malformed commit (sequences not contiguous from
  // base_sequence + 1, an empty organisation id); UNAVAILABLE, and
  // RESOURCE_EXHAUSTED for a full disk, from the store itself.
  virtual absl::Status Commit(const PlanCommit& commit) = 0;

  // The organisation's latest sequence; 0 when nothing is stored.
  virtual absl::StatusOr<int64_t> LatestSequence(
      absl::string_view organisation_id) = 0;

  // Up to `limit` change-feed entries with sequence > after_sequence, in
  // order. Empty when there are none.
  virtual absl::StatusOr<std::vector<StoredChange>> ListChanges(
      absl::string_view organisation_id, int64_t after_sequence,
      int limit) = 0;

  // The record of (method, request_id), or nullopt.
  virtual absl::StatusOr<std::optional<StoredRequest>> FindRequest(
      absl::string_view organisation_id, absl::string_view method,
      absl::string_view request_id) = 0;

  // OK when the store can serve now (one cheap round trip); UNAVAILABLE
  // naming the reason otherwise. The health watch calls it every few seconds
  // and reports NOT_SERVING while it fails. Backends override it; the
  // default (for in-memory test stores) is always OK.
  virtual absl::Status CheckHealth() { return absl::OkStatus(); }
};

// The shape checks every PlanningStore::Commit makes before it touches
// anything, shared so that all backends refuse the same commits:
// INVALID_ARGUMENT naming the field for an empty organisation_id, a negative
// base_sequence, a put or delete without a kind or id, changes not numbered
// base_sequence + 1, + 2, ... in order, or a request without method or
// request_id. Needs no store, so a malformed commit is INVALID_ARGUMENT even
// when its base is also stale.
absl::Status ValidatePlanCommit(const PlanCommit& commit);

// Opens the store named by the --store flag: "sqlite:PATH" (PATH is created
// with its schema when missing; ":memory:" is refused, the plan must
// survive a restart). INVALID_ARGUMENT for an unknown scheme (naming the
// flag), and the store's own error when it cannot be opened or migrated.
// SQLite takes options after a '?': "sqlite:PATH?durability=power-loss"
// fsyncs every commit (default "process-crash": a commit survives kill -9,
// not necessarily a power cut; see common/sqlite.h).
// "postgresql://USER[:PASSWORD]@HOST:PORT/DB[?PARAM=VALUE]" (or postgres://)
// opens the PostgreSQL store (postgres_planning_store.h), migrating its
// planning_ tables: INVALID_ARGUMENT naming --store for a malformed URL,
// UNAVAILABLE when the server cannot be reached; no message shows the
// password.
absl::StatusOr<std::unique_ptr<PlanningStore>> OpenPlanningStore(
    absl::string_view url);

}  // namespace okr::planning

#endif  // OKR_SERVICES_PLANNING_PLANNING_STORE_H_
