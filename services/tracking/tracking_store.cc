#include "services/tracking/tracking_store.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/postgres.h"
#include "common/sqlite.h"
#include "common/status_macros.h"
#include "services/tracking/postgres_tracking_store.h"
#include "services/tracking/sqlite_tracking_store.h"

namespace okr::tracking {
namespace {

constexpr absl::string_view kSqliteScheme = "sqlite:";
// Version tag of the page token layout; a new layout gets a new tag so old
// tokens are refused cleanly instead of misread.
constexpr absl::string_view kPageTokenTag = "c1";

absl::Status FlagError(const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("--store: ", status.message()));
}

// "PATH[?key=value&...]" after "sqlite:".
absl::StatusOr<std::unique_ptr<TrackingStore>> OpenSqlite(absl::string_view spec) {
  OKR_ASSIGN_OR_RETURN(SqliteStoreSpec parsed,
                       ParseSqliteStoreSpec(spec, "/var/lib/okr/tracking.db"));
  SqliteTrackingStoreOptions options;
  options.durability = parsed.durability;
  absl::StatusOr<std::unique_ptr<SqliteTrackingStore>> store =
      SqliteTrackingStore::Open(parsed.path, options);
  if (!store.ok()) return FlagError(store.status());
  return std::unique_ptr<TrackingStore>(*std::move(store));
}

// A libpq URI. It may hold a password, so it is never echoed: PgPool's
// errors name the host and the database at most.
absl::StatusOr<std::unique_ptr<TrackingStore>> OpenPostgres(absl::string_view url) {
  PgPoolOptions options;
  options.url = std::string(url);
  absl::StatusOr<std::unique_ptr<PostgresTrackingStore>> store =
      PostgresTrackingStore::Open(std::move(options));
  if (!store.ok()) return FlagError(store.status());
  return std::unique_ptr<TrackingStore>(*std::move(store));
}

// 64-bit FNV-1a as 16 hex digits: stable across processes and builds, so a
// token survives a restart or lands on another replica.
std::string Fnv1a(absl::string_view data) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return absl::StrFormat("%016x", hash);
}

// What a token is bound to. Length prefixes keep ("ab", "c") and ("a", "bc")
// apart.
std::string QueryHash(absl::string_view organisation_id, const CheckInQuery& query) {
  return Fnv1a(absl::StrCat(organisation_id.size(), ":", organisation_id,
                            query.key_result_id.size(), ":", query.key_result_id,
                            absl::ToUnixNanos(query.start_time), "|",
                            absl::ToUnixNanos(query.end_time)));
}

// Times the stores keep exactly: whole nanoseconds strictly inside int64's
// range (the extremes stand for "no bound" in queries).
bool StorableTime(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return false;
  const int64_t nanos = absl::ToUnixNanos(t);
  return nanos != std::numeric_limits<int64_t>::min() &&
         nanos != std::numeric_limits<int64_t>::max();
}

absl::Status RequireOrganisation(absl::string_view organisation_id) {
  if (organisation_id.empty()) {
    return absl::InvalidArgumentError("organisation_id: must not be empty");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrackingStore>> OpenTrackingStore(absl::string_view url) {
  if (absl::StartsWith(url, kSqliteScheme)) {
    return OpenSqlite(url.substr(kSqliteScheme.size()));
  }
  if (absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://")) {
    return OpenPostgres(url);
  }
  // Only the scheme is echoed: a mistyped URL may carry a password.
  const size_t colon = url.find(':');
  const absl::string_view scheme =
      colon == absl::string_view::npos ? url : url.substr(0, colon + 1);
  return absl::InvalidArgumentError(absl::StrCat(
      "--store: unknown store \"", scheme, colon == absl::string_view::npos ? "\"" : "...\"",
      "; expected sqlite:PATH (e.g. --store=sqlite:/var/lib/okr/tracking.db) or "
      "postgresql://USER@HOST:PORT/DB"));
}

absl::Status ValidateCheckInForAppend(absl::string_view organisation_id,
                                      const StoredCheckIn& check_in) {
  if (absl::Status status = RequireOrganisation(organisation_id); !status.ok()) return status;
  if (check_in.id.empty()) {
    return absl::InvalidArgumentError("check_in.id: must not be empty");
  }
  if (check_in.key_result_id.empty()) {
    return absl::InvalidArgumentError("check_in.key_result_id: must not be empty");
  }
  if (check_in.client_key.empty()) {
    return absl::InvalidArgumentError("check_in.client_key: must not be empty");
  }
  if (!StorableTime(check_in.time)) {
    return absl::InvalidArgumentError(
        absl::StrCat("check_in.time: must be a finite time between the years 1678 and 2262, got ",
                     absl::FormatTime(check_in.time)));
  }
  return absl::OkStatus();
}

absl::Status ValidateReviewForPut(absl::string_view organisation_id, const StoredReview& review,
                                  int64_t expected_version) {
  if (absl::Status status = RequireOrganisation(organisation_id); !status.ok()) return status;
  if (review.objective_id.empty()) {
    return absl::InvalidArgumentError("review.objective_id: must not be empty");
  }
  if (review.kind == ReviewKind::kUnspecified) {
    return absl::InvalidArgumentError(
        "review.kind: must be MID_QUARTER or END_OF_QUARTER, not unspecified");
  }
  if (review.cycle_id.empty()) {
    return absl::InvalidArgumentError("review.cycle_id: must not be empty");
  }
  if (expected_version < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "version: must be 0 (create) or the stored version, got ", expected_version));
  }
  return absl::OkStatus();
}

absl::Status ValidateFrozenCycle(absl::string_view organisation_id, const FrozenCycle& cycle) {
  if (absl::Status status = RequireOrganisation(organisation_id); !status.ok()) return status;
  if (cycle.cycle_id.empty()) {
    return absl::InvalidArgumentError("cycle.cycle_id: must not be empty");
  }
  if (!StorableTime(cycle.freeze_time)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cycle.freeze_time: must be a finite time between the years 1678 and 2262, got ",
        absl::FormatTime(cycle.freeze_time)));
  }
  std::set<std::pair<ResourceKind, Id>> seen;
  for (size_t i = 0; i < cycle.scores.size(); ++i) {
    const FrozenScore& score = cycle.scores[i];
    if (score.kind != ResourceKind::kKeyResult && score.kind != ResourceKind::kObjective) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cycle.scores[", i, "].kind: must be KEY_RESULT or OBJECTIVE, got ", Name(score.kind)));
    }
    if (score.id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cycle.scores[", i, "].id: must not be empty"));
    }
    if (!seen.emplace(score.kind, score.id).second) {
      return absl::InvalidArgumentError(absl::StrCat("cycle.scores[", i, "].id: ", Name(score.kind),
                                                     " '", score.id, "' is listed twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateCheckInQuery(absl::string_view organisation_id, const CheckInQuery& query) {
  if (absl::Status status = RequireOrganisation(organisation_id); !status.ok()) return status;
  if (query.key_result_id.empty()) {
    return absl::InvalidArgumentError("key_result_id: must not be empty");
  }
  if (query.page_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be at least 1, got ", query.page_size));
  }
  if (query.start_time > query.end_time) {
    return absl::InvalidArgumentError(absl::StrCat(
        "start_time: ", absl::FormatTime(query.start_time), " is after end_time ",
        absl::FormatTime(query.end_time)));
  }
  return absl::OkStatus();
}

// Token: web-safe base64 of "c1|<query hash>|<time ns>|<sequence>".
std::string EncodeCheckInPageToken(absl::string_view organisation_id, const CheckInQuery& query,
                                   const CheckInCursor& cursor) {
  return absl::WebSafeBase64Escape(absl::StrCat(kPageTokenTag, "|",
                                                QueryHash(organisation_id, query), "|",
                                                absl::ToUnixNanos(cursor.time), "|",
                                                cursor.sequence));
}

absl::StatusOr<std::optional<CheckInCursor>> DecodeCheckInPageToken(
    absl::string_view organisation_id, const CheckInQuery& query) {
  if (query.page_token.empty()) return std::nullopt;
  std::string decoded;
  std::vector<absl::string_view> parts;
  if (absl::WebSafeBase64Unescape(query.page_token, &decoded)) {
    parts = absl::StrSplit(decoded, '|');
  }
  int64_t nanos = 0;
  int64_t sequence = 0;
  if (parts.size() != 4 || parts[0] != kPageTokenTag || !absl::SimpleAtoi(parts[2], &nanos) ||
      !absl::SimpleAtoi(parts[3], &sequence)) {
    return absl::InvalidArgumentError(
        "page_token: not a token this list returned (pass next_page_token as is)");
  }
  if (parts[1] != QueryHash(organisation_id, query)) {
    return absl::InvalidArgumentError(
        "page_token: was returned for another key result or other time filters; send the same "
        "filters with every page, or start again without a token");
  }
  return CheckInCursor{absl::FromUnixNanos(nanos), sequence};
}

}  // namespace okr::tracking
