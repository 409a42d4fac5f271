#include "services/notify/instrumented_notify_store.h"

#include <utility>

#include "common/metrics.h"

namespace okr::notify {
namespace {

constexpr absl::string_view kService = "notify";

class InstrumentedNotifyStore final : public NotifyStore {
 public:
  explicit InstrumentedNotifyStore(std::unique_ptr<NotifyStore> store)
      : store_(std::move(store)) {}

  absl::StatusOr<std::optional<StoredPolicy>> GetPolicy(absl::string_view organisation_id,
                                                        absl::string_view team_id) override {
    return get_policy_.Measure([&] { return store_->GetPolicy(organisation_id, team_id); });
  }
  absl::StatusOr<std::vector<StoredPolicy>> ListPolicies(
      absl::string_view organisation_id) override {
    return list_policies_.Measure([&] { return store_->ListPolicies(organisation_id); });
  }
  absl::StatusOr<StoredPolicy> PutPolicy(absl::string_view organisation_id,
                                         const StoredPolicy& policy,
                                         int64_t expected_version) override {
    return put_policy_.Measure(
        [&] { return store_->PutPolicy(organisation_id, policy, expected_version); });
  }
  absl::Status DeletePolicy(absl::string_view organisation_id, absl::string_view team_id,
                            int64_t expected_version) override {
    return delete_policy_.Measure(
        [&] { return store_->DeletePolicy(organisation_id, team_id, expected_version); });
  }
  absl::StatusOr<StoredWebhook> CreateWebhook(absl::string_view organisation_id,
                                              const StoredWebhook& webhook, int limit) override {
    return create_webhook_.Measure(
        [&] { return store_->CreateWebhook(organisation_id, webhook, limit); });
  }
  absl::StatusOr<std::vector<StoredWebhook>> ListWebhooks(
      absl::string_view organisation_id) override {
    return list_webhooks_.Measure([&] { return store_->ListWebhooks(organisation_id); });
  }
  absl::Status DeleteWebhook(absl::string_view organisation_id, absl::string_view id) override {
    return delete_webhook_.Measure([&] { return store_->DeleteWebhook(organisation_id, id); });
  }
  absl::StatusOr<std::vector<bool>> ClaimReminders(
      absl::string_view organisation_id, absl::Span<const NewReminder> reminders) override {
    return claim_reminders_.Measure(
        [&] { return store_->ClaimReminders(organisation_id, reminders); });
  }
  absl::StatusOr<std::vector<StoredReminder>> UnpublishedReminders(
      absl::string_view organisation_id, int limit) override {
    return unpublished_reminders_.Measure(
        [&] { return store_->UnpublishedReminders(organisation_id, limit); });
  }
  absl::Status MarkPublished(absl::string_view organisation_id,
                             absl::Span<const Id> reminder_ids) override {
    return mark_published_.Measure(
        [&] { return store_->MarkPublished(organisation_id, reminder_ids); });
  }
  absl::StatusOr<ReminderPage> ListReminders(absl::string_view organisation_id,
                                             const ReminderQuery& query) override {
    return list_reminders_.Measure([&] { return store_->ListReminders(organisation_id, query); });
  }
  absl::Status AppendDeliveries(absl::string_view organisation_id,
                                absl::Span<const StoredDelivery> deliveries) override {
    return append_deliveries_.Measure(
        [&] { return store_->AppendDeliveries(organisation_id, deliveries); });
  }
  absl::Status RecordPublished(absl::string_view organisation_id,
                               absl::Span<const StoredDelivery> deliveries,
                               absl::Span<const Id> reminder_ids) override {
    return record_published_.Measure(
        [&] { return store_->RecordPublished(organisation_id, deliveries, reminder_ids); });
  }
  absl::StatusOr<DeliveryPage> ListDeliveries(absl::string_view organisation_id,
                                              const DeliveryQuery& query) override {
    return list_deliveries_.Measure(
        [&] { return store_->ListDeliveries(organisation_id, query); });
  }
  absl::StatusOr<std::vector<WebhookTask>> LeaseWebhookTasks(absl::Time now, absl::Duration lease,
                                                             int limit) override {
    return lease_webhook_tasks_.Measure(
        [&] { return store_->LeaseWebhookTasks(now, lease, limit); });
  }
  absl::Status CompleteWebhookAttempt(const WebhookTask& task, const StoredDelivery& delivery,
                                      std::optional<absl::Time> next_attempt) override {
    return complete_webhook_attempt_.Measure(
        [&] { return store_->CompleteWebhookAttempt(task, delivery, next_attempt); });
  }
  absl::StatusOr<int64_t> PendingWebhookTasks() override {
    return pending_webhook_tasks_.Measure([&] { return store_->PendingWebhookTasks(); });
  }
  absl::Status CheckHealth() override {
    return check_health_.Measure([&] { return store_->CheckHealth(); });
  }

 private:
  const std::unique_ptr<NotifyStore> store_;
  metrics::StoreOperation get_policy_{kService, "GetPolicy"};
  metrics::StoreOperation list_policies_{kService, "ListPolicies"};
  metrics::StoreOperation put_policy_{kService, "PutPolicy"};
  metrics::StoreOperation delete_policy_{kService, "DeletePolicy"};
  metrics::StoreOperation create_webhook_{kService, "CreateWebhook"};
  metrics::StoreOperation list_webhooks_{kService, "ListWebhooks"};
  metrics::StoreOperation delete_webhook_{kService, "DeleteWebhook"};
  metrics::StoreOperation claim_reminders_{kService, "ClaimReminders"};
  metrics::StoreOperation unpublished_reminders_{kService, "UnpublishedReminders"};
  metrics::StoreOperation mark_published_{kService, "MarkPublished"};
  metrics::StoreOperation list_reminders_{kService, "ListReminders"};
  metrics::StoreOperation append_deliveries_{kService, "AppendDeliveries"};
  metrics::StoreOperation record_published_{kService, "RecordPublished"};
  metrics::StoreOperation list_deliveries_{kService, "ListDeliveries"};
  metrics::StoreOperation lease_webhook_tasks_{kService, "LeaseWebhookTasks"};
  metrics::StoreOperation complete_webhook_attempt_{kService, "CompleteWebhookAttempt"};
  metrics::StoreOperation pending_webhook_tasks_{kService, "PendingWebhookTasks"};
  metrics::StoreOperation check_health_{kService, "CheckHealth"};
};

}  // namespace

std::unique_ptr<NotifyStore> InstrumentNotifyStore(std::unique_ptr<NotifyStore> store) {
  return std::make_unique<InstrumentedNotifyStore>(std::move(store));
}

}  // namespace okr::notify
