#include "services/planning/planning_store.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/model.h"
#include "common/status_macros.h"
#include "common/postgres.h"
#include "services/planning/postgres_planning_store.h"
#include "services/planning/sqlite_planning_store.h"

namespace okr::planning {
namespace {

constexpr absl::string_view kSqliteScheme = "sqlite:";

// Keeps the message's prefix naming the flag on errors from the store.
absl::Status FlagError(const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("--store: ", status.message()));
}

// "PATH[?key=value&...]" after "sqlite:".
absl::StatusOr<std::unique_ptr<PlanningStore>> OpenSqlite(absl::string_view spec) {
  OKR_ASSIGN_OR_RETURN(SqliteStoreSpec parsed,
                       ParseSqliteStoreSpec(spec, "/var/lib/okr/planning.db"));
  SqlitePlanningStoreOptions options;
  options.durability = parsed.durability;
  absl::StatusOr<std::unique_ptr<SqlitePlanningStore>> store =
      SqlitePlanningStore::Open(parsed.path, options);
  if (!store.ok()) return FlagError(store.status());
  return std::unique_ptr<PlanningStore>(*std::move(store));
}

// The whole URL goes to libpq; it is never echoed with its password
// (PgPool's errors redact it).
absl::StatusOr<std::unique_ptr<PlanningStore>> OpenPostgres(absl::string_view url) {
  PgPoolOptions options;
  options.url = std::string(url);
  absl::StatusOr<std::unique_ptr<PostgresPlanningStore>> store =
      PostgresPlanningStore::Open(std::move(options));
  if (!store.ok()) {
    if (absl::StartsWith(store.status().message(), "--store")) return store.status();
    return FlagError(store.status());
  }
  return std::unique_ptr<PlanningStore>(*std::move(store));
}

}  // namespace

absl::Status ValidatePlanCommit(const PlanCommit& commit) {
  if (commit.organisation_id.empty()) {
    return absl::InvalidArgumentError("organisation_id: must not be empty");
  }
  if (commit.base_sequence < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "base_sequence: must not be negative, got ", commit.base_sequence));
  }
  for (size_t i = 0; i < commit.puts.size(); ++i) {
    const StoredResource& put = commit.puts[i];
    if (put.kind == ResourceKind::kUnspecified) {
      return absl::InvalidArgumentError(
          absl::StrCat("puts[", i, "].kind: must be set"));
    }
    if (put.id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("puts[", i, "].id: must not be empty"));
    }
  }
  for (size_t i = 0; i < commit.deletes.size(); ++i) {
    if (commit.deletes[i].first == ResourceKind::kUnspecified) {
      return absl::InvalidArgumentError(
          absl::StrCat("deletes[", i, "].kind: must be set"));
    }
    if (commit.deletes[i].second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("deletes[", i, "].id: must not be empty"));
    }
  }
  for (size_t i = 0; i < commit.changes.size(); ++i) {
    const int64_t expected =
        commit.base_sequence + 1 + static_cast<int64_t>(i);
    if (commit.changes[i].sequence != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          "changes[", i, "].sequence: is ", commit.changes[i].sequence,
          " but must be ", expected, " (changes continue base_sequence ",
          commit.base_sequence, " in order, without gaps)"));
    }
  }
  if (commit.request.has_value()) {
    if (commit.request->method.empty()) {
      return absl::InvalidArgumentError("request.method: must not be empty");
    }
    if (commit.request->request_id.empty()) {
      return absl::InvalidArgumentError(
          "request.request_id: must not be empty");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PlanningStore>> OpenPlanningStore(
    absl::string_view url) {
  if (absl::StartsWith(url, kSqliteScheme)) {
    return OpenSqlite(url.substr(kSqliteScheme.size()));
  }
  if (absl::StartsWith(url, "postgresql://") ||
      absl::StartsWith(url, "postgres://")) {
    return OpenPostgres(url);
  }
  // Only the scheme is echoed: a mistyped URL may carry a password.
  const size_t colon = url.find(':');
  return absl::InvalidArgumentError(absl::StrCat(
      "--store: unknown store \"",
      colon == absl::string_view::npos ? url : url.substr(0, colon + 1),
      colon == absl::string_view::npos ? "\"" : "...\"",
      "; expected sqlite:PATH (e.g. --store=sqlite:/var/lib/okr/planning.db) or "
      "postgresql://USER@HOST:PORT/DB"));
}

}  // namespace okr::planning
