#include "services/notify/notify_store.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/postgres.h"
#include "common/sqlite.h"
#include "common/status_macros.h"
#include "services/notify/postgres_notify_store.h"
#include "services/notify/sqlite_notify_store.h"

namespace okr::notify {
namespace {

constexpr absl::string_view kSqliteScheme = "sqlite:";

absl::Status FlagError(const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("--store: ", status.message()));
}

// "PATH[?key=value&...]" after "sqlite:".
absl::StatusOr<std::unique_ptr<NotifyStore>> OpenSqlite(absl::string_view spec) {
  OKR_ASSIGN_OR_RETURN(SqliteStoreSpec parsed,
                       ParseSqliteStoreSpec(spec, "/var/lib/okr/notify.db"));
  SqliteNotifyStoreOptions options;
  options.durability = parsed.durability;
  absl::StatusOr<std::unique_ptr<SqliteNotifyStore>> store =
      SqliteNotifyStore::Open(parsed.path, options);
  if (!store.ok()) return FlagError(store.status());
  return std::unique_ptr<NotifyStore>(*std::move(store));
}

// The whole URL goes to libpq (its query parameters, e.g. sslmode, too). It
// may hold a password, which PostgresNotifyStore::Open keeps out of errors.
absl::StatusOr<std::unique_ptr<NotifyStore>> OpenPostgres(absl::string_view url) {
  PgPoolOptions options;
  options.url = std::string(url);
  absl::StatusOr<std::unique_ptr<PostgresNotifyStore>> store =
      PostgresNotifyStore::Open(std::move(options));
  if (!store.ok()) return FlagError(store.status());
  return std::unique_ptr<NotifyStore>(*std::move(store));
}

}  // namespace

absl::StatusOr<std::unique_ptr<NotifyStore>> OpenNotifyStore(absl::string_view url) {
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
      "; expected sqlite:PATH (e.g. --store=sqlite:/var/lib/okr/notify.db) or "
      "postgresql://USER@HOST:PORT/DB"));
}

absl::Status NotifyStore::RecordPublished(absl::string_view organisation_id,
                                          absl::Span<const StoredDelivery> deliveries,
                                          absl::Span<const Id> reminder_ids) {
  if (!deliveries.empty()) OKR_RETURN_IF_ERROR(AppendDeliveries(organisation_id, deliveries));
  if (!reminder_ids.empty()) OKR_RETURN_IF_ERROR(MarkPublished(organisation_id, reminder_ids));
  return absl::OkStatus();
}

absl::Status RequireOrganisation(absl::string_view organisation_id) {
  if (organisation_id.empty()) {
    return absl::InvalidArgumentError("organisation_id: must not be empty");
  }
  return absl::OkStatus();
}

absl::Status RequireNonEmpty(absl::string_view value, absl::string_view field) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  return absl::OkStatus();
}

absl::Status RequireFinite(absl::Time t, absl::string_view field) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be a finite time"));
  }
  return absl::OkStatus();
}

absl::Status RequirePositive(int64_t value, absl::string_view field) {
  if (value < 1) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be at least 1, got ", value));
  }
  return absl::OkStatus();
}

absl::Status ValidateDelivery(const StoredDelivery& delivery, absl::string_view field) {
  OKR_RETURN_IF_ERROR(RequireNonEmpty(delivery.id, absl::StrCat(field, ".id")));
  OKR_RETURN_IF_ERROR(RequireNonEmpty(delivery.reminder_id, absl::StrCat(field, ".reminder_id")));
  return RequireFinite(delivery.time, absl::StrCat(field, ".time"));
}

absl::Status ValidateDeliveries(absl::string_view organisation_id,
                                absl::Span<const StoredDelivery> deliveries) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  for (size_t i = 0; i < deliveries.size(); ++i) {
    OKR_RETURN_IF_ERROR(ValidateDelivery(deliveries[i], absl::StrCat("deliveries[", i, "]")));
  }
  return absl::OkStatus();
}

std::string PolicyOwner(absl::string_view team_id) {
  return team_id.empty() ? std::string("the organisation") : absl::StrCat("team '", team_id, "'");
}

absl::Status ValidatePolicyForPut(absl::string_view organisation_id, const StoredPolicy& policy,
                                  int64_t expected_version) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  if (expected_version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: must be 0 (create) or the stored version, got ", expected_version));
  }
  if (policy.version != expected_version + 1) {
    // The next write checks against the stored version, so a skipped or
    // repeated number would break the chain.
    return absl::InvalidArgumentError(
        absl::StrCat("policy.version: must be expected_version + 1 = ", expected_version + 1,
                     ", got ", policy.version));
  }
  OKR_RETURN_IF_ERROR(RequireFinite(policy.update_time, "policy.update_time"));
  return absl::OkStatus();
}

absl::Status ValidateWebhookForCreate(absl::string_view organisation_id,
                                      const StoredWebhook& webhook, int limit) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  OKR_RETURN_IF_ERROR(RequireNonEmpty(webhook.id, "webhook.id"));
  OKR_RETURN_IF_ERROR(RequireNonEmpty(webhook.url, "webhook.url"));
  OKR_RETURN_IF_ERROR(RequireFinite(webhook.create_time, "webhook.create_time"));
  OKR_RETURN_IF_ERROR(RequirePositive(limit, "limit"));
  return absl::OkStatus();
}

absl::Status ValidateRemindersForClaim(absl::string_view organisation_id,
                                       absl::Span<const NewReminder> reminders) {
  OKR_RETURN_IF_ERROR(RequireOrganisation(organisation_id));
  for (size_t i = 0; i < reminders.size(); ++i) {
    const StoredReminder& reminder = reminders[i].reminder;
    const std::string field = absl::StrCat("reminders[", i, "]");
    OKR_RETURN_IF_ERROR(RequireNonEmpty(reminder.id, absl::StrCat(field, ".id")));
    OKR_RETURN_IF_ERROR(
        RequireNonEmpty(reminder.recipient_id, absl::StrCat(field, ".recipient_id")));
    OKR_RETURN_IF_ERROR(RequireNonEmpty(reminder.window_key, absl::StrCat(field, ".window_key")));
    OKR_RETURN_IF_ERROR(RequireFinite(reminder.publish_time, absl::StrCat(field, ".publish_time")));
    for (size_t w = 0; w < reminders[i].webhook_ids.size(); ++w) {
      OKR_RETURN_IF_ERROR(RequireNonEmpty(reminders[i].webhook_ids[w],
                                          absl::StrCat(field, ".webhook_ids[", w, "]")));
    }
  }
  return absl::OkStatus();
}

}  // namespace okr::notify
