// The NotifyStore conformance suite (see store_conformance.h): what every
// backend must do, written once against the interface. SQLite is
// instantiated here; PostgreSQL in postgres_notify_store_test.cc.
//
// After the suite: what only the SQLite store has, i.e. the --store URL and
// two store objects (two processes) sharing one database file.
#include <algorithm>
#include <barrier>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/model.h"
#include "common/sqlite.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/notify/notify_store.h"
#include "services/notify/sqlite_notify_store.h"
#include "tests/services/notify/store_conformance.h"
#include "tests/support/test_support.h"

namespace okr::notify {

std::string NotifyStoreBackendName(const ::testing::TestParamInfo<NotifyStoreBackend>& info) {
  return info.param.name;
}

void PrintTo(const NotifyStoreBackend& backend, std::ostream* os) { *os << backend.name; }

void NotifyStoreConformance::SetUp() {
  factory_ = GetParam().new_location();
  store_ = factory_();
  ASSERT_NE(store_, nullptr) << "the backend could not open a fresh store";
}

void NotifyStoreConformance::TearDown() {
  store_.reset();  // before the factory, which may own the location
  factory_ = nullptr;
}

void NotifyStoreConformance::Reopen() {
  store_.reset();
  store_ = factory_();
  ASSERT_NE(store_, nullptr) << "the backend could not reopen its store";
}

namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// okr.v1 enum numbers; the store keeps them as opaque integers.
constexpr int kWeekly = 1;
constexpr int kMidQuarter = 2;
constexpr int kStream = 1;
constexpr int kPubSub = 2;
constexpr int kWebhook = 3;
constexpr int kSucceeded = 1;
constexpr int kRetrying = 2;
constexpr int kFailed = 3;

// A body with bytes that text handling would mangle: NULs, 0xff, newlines.
std::string BinaryBody(absl::string_view tag) {
  std::string body(tag);
  body += std::string("\0\x01\xff\n\r\0", 6);
  body.append(tag.data(), tag.size());
  return body;
}

// Seconds after 2027-01-04T00:00:00Z, on whole microseconds (what the store
// keeps), with a fraction so that truncation to seconds would show.
absl::Time At(int64_t seconds) {
  return absl::FromUnixMicros(1799020800000000 + seconds * 1000000 + 123456);
}

StoredPolicy Policy(absl::string_view team_id, int64_t version, absl::string_view tag) {
  StoredPolicy policy;
  policy.team_id = std::string(team_id);
  policy.version = version;
  policy.update_time = At(version);
  policy.body = BinaryBody(tag);
  return policy;
}

StoredWebhook Webhook(absl::string_view id, absl::Time create_time,
                      absl::string_view request_id = "") {
  StoredWebhook webhook;
  webhook.id = std::string(id);
  webhook.request_id = std::string(request_id);
  webhook.url = absl::StrCat("http://127.0.0.1:9/", id);
  webhook.create_time = create_time;
  webhook.body = BinaryBody(id);
  return webhook;
}

NewReminder Reminder(absl::string_view id, absl::string_view recipient, int kind,
                     absl::string_view window, absl::Time publish_time,
                     std::vector<Id> webhook_ids = {}) {
  NewReminder reminder;
  reminder.reminder.id = std::string(id);
  reminder.reminder.recipient_id = std::string(recipient);
  reminder.reminder.kind = kind;
  reminder.reminder.window_key = std::string(window);
  reminder.reminder.team_id = "team-" + std::string(recipient);
  reminder.reminder.publish_time = publish_time;
  reminder.reminder.body = BinaryBody(id);
  reminder.webhook_ids = std::move(webhook_ids);
  return reminder;
}

StoredDelivery Delivery(absl::string_view id, absl::string_view reminder_id, int channel,
                        int status, absl::Time time, absl::string_view webhook_id = "",
                        int attempt = 1) {
  StoredDelivery delivery;
  delivery.id = std::string(id);
  delivery.reminder_id = std::string(reminder_id);
  delivery.channel = channel;
  delivery.webhook_id = std::string(webhook_id);
  delivery.attempt = attempt;
  delivery.status = status;
  delivery.time = time;
  delivery.body = BinaryBody(id);
  return delivery;
}

std::vector<Id> ReminderIds(const std::vector<StoredReminder>& reminders) {
  std::vector<Id> ids;
  for (const StoredReminder& r : reminders) ids.push_back(r.id);
  return ids;
}

std::vector<Id> DeliveryIds(const std::vector<StoredDelivery>& deliveries) {
  std::vector<Id> ids;
  for (const StoredDelivery& d : deliveries) ids.push_back(d.id);
  return ids;
}

std::vector<Id> WebhookIds(const std::vector<StoredWebhook>& webhooks) {
  std::vector<Id> ids;
  for (const StoredWebhook& w : webhooks) ids.push_back(w.id);
  return ids;
}

std::vector<Id> PolicyTeams(const std::vector<StoredPolicy>& policies) {
  std::vector<Id> teams;
  for (const StoredPolicy& p : policies) teams.push_back(p.team_id);
  return teams;
}

// (org, reminder, webhook) of leased tasks, for comparisons.
using TaskKey = std::tuple<std::string, Id, Id>;
std::vector<TaskKey> TaskKeys(const std::vector<WebhookTask>& tasks) {
  std::vector<TaskKey> keys;
  for (const WebhookTask& t : tasks)
    keys.emplace_back(t.organisation_id, t.reminder_id, t.webhook_id);
  return keys;
}

// Every reminder of `org` matching `query`, page by page (page size `limit`).
std::vector<Id> AllReminderPages(NotifyStore& store, absl::string_view org, ReminderQuery query,
                                 int* pages) {
  std::vector<Id> ids;
  *pages = 0;
  while (true) {
    absl::StatusOr<ReminderPage> page = store.ListReminders(org, query);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    ++*pages;
    for (const StoredReminder& r : page->reminders) ids.push_back(r.id);
    if (page->next_before_sequence == 0) break;
    query.before_sequence = page->next_before_sequence;
    if (*pages > 100) {
      ADD_FAILURE() << "paging does not end";
      break;
    }
  }
  return ids;
}

// --- Empty store and argument checks ----------------------------------------------

TEST_P(NotifyStoreConformance, UnknownOrganisationIsEmpty) {
  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredPolicy> policy, store_->GetPolicy("acme", ""));
  EXPECT_FALSE(policy.has_value());
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredPolicy> policies, store_->ListPolicies("acme"));
  EXPECT_THAT(policies, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredWebhook> webhooks, store_->ListWebhooks("acme"));
  EXPECT_THAT(webhooks, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredReminder> unpublished,
                           store_->UnpublishedReminders("acme", 10));
  EXPECT_THAT(unpublished, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage reminders, store_->ListReminders("acme", {}));
  EXPECT_THAT(reminders.reminders, IsEmpty());
  EXPECT_EQ(reminders.total, 0);
  EXPECT_EQ(reminders.next_before_sequence, 0);
  OKR_ASSERT_OK_AND_ASSIGN(DeliveryPage deliveries, store_->ListDeliveries("acme", {}));
  EXPECT_THAT(deliveries.deliveries, IsEmpty());
  EXPECT_EQ(deliveries.total, 0);
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> tasks,
                           store_->LeaseWebhookTasks(At(0), absl::Minutes(1), 10));
  EXPECT_THAT(tasks, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(int64_t pending, store_->PendingWebhookTasks());
  EXPECT_EQ(pending, 0);
}

TEST_P(NotifyStoreConformance, RefusesEmptyOrganisationAndIdsAndWritesNothing) {
  absl::Status status = store_->GetPolicy("", "").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("organisation_id"));

  NewReminder no_recipient = Reminder("rem-1", "", kWeekly, "2027-W01", At(0));
  status = store_
               ->ClaimReminders("acme",
                                {Reminder("rem-0", "p1", kWeekly, "2027-W01", At(0)), no_recipient})
               .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("reminders[1].recipient_id"));

  status = store_->CreateWebhook("acme", Webhook("", At(0)), 20).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("webhook.id"));

  status = store_->AppendDeliveries("acme", {Delivery("", "rem-0", kStream, kSucceeded, At(0))});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("deliveries[0].id"));

  ReminderQuery bad_limit;
  bad_limit.limit = 0;
  status = store_->ListReminders("acme", bad_limit).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("limit"));

  // The valid first reminder of the refused call was not claimed.
  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage page, store_->ListReminders("acme", {}));
  EXPECT_EQ(page.total, 0);
}

// --- Policies -----------------------------------------------------------------------

TEST_P(NotifyStoreConformance, PoliciesAreCreatedAndReplacedByVersion) {
  OKR_ASSERT_OK_AND_ASSIGN(StoredPolicy created,
                           store_->PutPolicy("acme", Policy("", 1, "org-v1"), 0));
  EXPECT_EQ(created.version, 1);
  EXPECT_EQ(created.update_time, At(1));
  EXPECT_EQ(created.body, BinaryBody("org-v1"));

  // A second create, and a replace with a stale or future version, lose.
  for (int64_t expected : {int64_t{0}, int64_t{2}, int64_t{7}}) {
    absl::Status stale =
        store_->PutPolicy("acme", Policy("", expected + 1, "lost"), expected).status();
    EXPECT_EQ(stale.code(), absl::StatusCode::kAborted) << expected << ": " << stale;
    EXPECT_THAT(std::string(stale.message()), StartsWith("version: ")) << expected;
  }
  // Replacing a team's policy that does not exist is stale too.
  absl::Status missing = store_->PutPolicy("acme", Policy("t1", 2, "lost"), 1).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kAborted) << missing;
  EXPECT_THAT(std::string(missing.message()), StartsWith("version: "));

  OKR_ASSERT_OK_AND_ASSIGN(StoredPolicy replaced,
                           store_->PutPolicy("acme", Policy("", 2, "org-v2"), 1));
  EXPECT_EQ(replaced.version, 2);
  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredPolicy> got, store_->GetPolicy("acme", ""));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->team_id, "");
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->update_time, At(2));
  EXPECT_EQ(got->body, BinaryBody("org-v2"));

  // Another organisation, and a team of this one, are separate policies.
  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredPolicy> other, store_->GetPolicy("globex", ""));
  EXPECT_FALSE(other.has_value());
  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredPolicy> team, store_->GetPolicy("acme", "t1"));
  EXPECT_FALSE(team.has_value());
}

TEST_P(NotifyStoreConformance, PutPolicyRefusesAVersionThatBreaksTheChain) {
  absl::Status status = store_->PutPolicy("acme", Policy("", 3, "skip"), 0).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("policy.version"));
  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredPolicy> got, store_->GetPolicy("acme", ""));
  EXPECT_FALSE(got.has_value());
}

TEST_P(NotifyStoreConformance, ListPoliciesPutsTheOrganisationFirstThenTeamsById) {
  OKR_ASSERT_OK(store_->PutPolicy("acme", Policy("team-b", 1, "b"), 0).status());
  OKR_ASSERT_OK(store_->PutPolicy("acme", Policy("team-a", 1, "a"), 0).status());
  OKR_ASSERT_OK(store_->PutPolicy("acme", Policy("", 1, "org"), 0).status());
  OKR_ASSERT_OK(store_->PutPolicy("acme", Policy("team-c", 1, "c"), 0).status());
  OKR_ASSERT_OK(store_->PutPolicy("globex", Policy("team-0", 1, "other"), 0).status());
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredPolicy> policies, store_->ListPolicies("acme"));
  EXPECT_THAT(PolicyTeams(policies), ElementsAre("", "team-a", "team-b", "team-c"));
  ASSERT_EQ(policies.size(), 4u);
  EXPECT_EQ(policies[2].body, BinaryBody("b"));
}

TEST_P(NotifyStoreConformance, DeletePolicyChecksExistenceAndVersion) {
  absl::Status none = store_->DeletePolicy("acme", "t1", 1);
  EXPECT_EQ(none.code(), absl::StatusCode::kNotFound) << none;

  OKR_ASSERT_OK(store_->PutPolicy("acme", Policy("t1", 1, "v1"), 0).status());
  OKR_ASSERT_OK(store_->PutPolicy("acme", Policy("t1", 2, "v2"), 1).status());
  for (int64_t wrong : {int64_t{0}, int64_t{1}, int64_t{3}}) {
    absl::Status stale = store_->DeletePolicy("acme", "t1", wrong);
    EXPECT_EQ(stale.code(), absl::StatusCode::kAborted) << wrong << ": " << stale;
    EXPECT_THAT(std::string(stale.message()), StartsWith("version: "));
  }
  // Another organisation's team of the same id is not this one.
  EXPECT_EQ(store_->DeletePolicy("globex", "t1", 2).code(), absl::StatusCode::kNotFound);

  OKR_ASSERT_OK(store_->DeletePolicy("acme", "t1", 2));
  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredPolicy> gone, store_->GetPolicy("acme", "t1"));
  EXPECT_FALSE(gone.has_value());
  EXPECT_EQ(store_->DeletePolicy("acme", "t1", 2).code(), absl::StatusCode::kNotFound);
  // Deleted, it is created again from version 0.
  OKR_ASSERT_OK_AND_ASSIGN(StoredPolicy again,
                           store_->PutPolicy("acme", Policy("t1", 1, "v1-again"), 0));
  EXPECT_EQ(again.version, 1);
}

TEST_P(NotifyStoreConformance, TimesAreKeptToTheMicrosecond) {
  StoredPolicy policy = Policy("", 1, "org");
  policy.update_time = At(5) + absl::Nanoseconds(999);
  OKR_ASSERT_OK_AND_ASSIGN(StoredPolicy stored, store_->PutPolicy("acme", policy, 0));
  EXPECT_EQ(stored.update_time, At(5));
  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredPolicy> got, store_->GetPolicy("acme", ""));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->update_time, At(5));

  NewReminder reminder = Reminder("rem-1", "p1", kWeekly, "2027-W01", At(9) + absl::Nanoseconds(1));
  OKR_ASSERT_OK(store_->ClaimReminders("acme", {reminder}).status());
  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage page, store_->ListReminders("acme", {}));
  ASSERT_EQ(page.reminders.size(), 1u);
  EXPECT_EQ(page.reminders[0].publish_time, At(9));
}

// --- Webhooks ---------------------------------------------------------------------------

TEST_P(NotifyStoreConformance, WebhooksAreListedByCreateTimeThenId) {
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-b", At(10)), 20).status());
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-a", At(10)), 20).status());
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-c", At(5)), 20).status());
  OKR_ASSERT_OK(store_->CreateWebhook("globex", Webhook("wh-z", At(1)), 20).status());
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredWebhook> webhooks, store_->ListWebhooks("acme"));
  EXPECT_THAT(WebhookIds(webhooks), ElementsAre("wh-c", "wh-a", "wh-b"));
  ASSERT_EQ(webhooks.size(), 3u);
  EXPECT_EQ(webhooks[0].create_time, At(5));
  EXPECT_EQ(webhooks[0].url, "http://127.0.0.1:9/wh-c");
  EXPECT_EQ(webhooks[0].body, BinaryBody("wh-c"));
}

TEST_P(NotifyStoreConformance, CreateWebhookIsIdempotentByRequestId) {
  OKR_ASSERT_OK_AND_ASSIGN(StoredWebhook first,
                           store_->CreateWebhook("acme", Webhook("wh-1", At(1), "req-1"), 20));
  EXPECT_EQ(first.id, "wh-1");
  // The retry carries a fresh id and time; the first webhook comes back.
  OKR_ASSERT_OK_AND_ASSIGN(StoredWebhook retry,
                           store_->CreateWebhook("acme", Webhook("wh-2", At(2), "req-1"), 20));
  EXPECT_EQ(retry.id, "wh-1");
  EXPECT_EQ(retry.create_time, At(1));
  EXPECT_EQ(retry.request_id, "req-1");
  EXPECT_EQ(retry.body, BinaryBody("wh-1"));
  // Empty request ids never match each other; another organisation's
  // request id is its own.
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-3", At(3)), 20).status());
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-4", At(4)), 20).status());
  OKR_ASSERT_OK_AND_ASSIGN(StoredWebhook other,
                           store_->CreateWebhook("globex", Webhook("wh-5", At(5), "req-1"), 20));
  EXPECT_EQ(other.id, "wh-5");
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredWebhook> webhooks, store_->ListWebhooks("acme"));
  EXPECT_THAT(WebhookIds(webhooks), ElementsAre("wh-1", "wh-3", "wh-4"));
}

TEST_P(NotifyStoreConformance, CreateWebhookStopsAtTheLimit) {
  constexpr int kLimit = 3;
  for (int i = 0; i < kLimit; ++i) {
    OKR_ASSERT_OK(
        store_
            ->CreateWebhook("acme", Webhook(absl::StrCat("wh-", i), At(i), absl::StrCat("req-", i)),
                            kLimit)
            .status());
  }
  absl::Status full = store_->CreateWebhook("acme", Webhook("wh-x", At(9)), kLimit).status();
  EXPECT_EQ(full.code(), absl::StatusCode::kFailedPrecondition) << full;
  EXPECT_THAT(std::string(full.message()), HasSubstr("limit"));
  // A retry of a webhook already made still answers, at the limit.
  OKR_ASSERT_OK_AND_ASSIGN(StoredWebhook retry,
                           store_->CreateWebhook("acme", Webhook("wh-y", At(9), "req-1"), kLimit));
  EXPECT_EQ(retry.id, "wh-1");
  // The limit is per organisation.
  OKR_ASSERT_OK(store_->CreateWebhook("globex", Webhook("wh-x", At(9)), kLimit).status());
  OKR_ASSERT_OK(store_->DeleteWebhook("acme", "wh-0"));
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-x", At(9)), kLimit).status());
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredWebhook> webhooks, store_->ListWebhooks("acme"));
  EXPECT_EQ(webhooks.size(), size_t{kLimit});
}

TEST_P(NotifyStoreConformance, DeleteWebhookDropsItsQueuedTasks) {
  absl::Status missing = store_->DeleteWebhook("acme", "wh-none");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_THAT(std::string(missing.message()), StartsWith("id: "));
  EXPECT_THAT(std::string(missing.message()), HasSubstr("wh-none"));

  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-1", At(0)), 20).status());
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-2", At(0)), 20).status());
  OKR_ASSERT_OK(
      store_
          ->ClaimReminders("acme",
                           {Reminder("rem-1", "p1", kWeekly, "2027-W01", At(10), {"wh-1", "wh-2"}),
                            Reminder("rem-2", "p2", kWeekly, "2027-W01", At(11), {"wh-1"})})
          .status());
  OKR_ASSERT_OK_AND_ASSIGN(int64_t pending, store_->PendingWebhookTasks());
  EXPECT_EQ(pending, 3);

  OKR_ASSERT_OK(store_->DeleteWebhook("acme", "wh-1"));
  OKR_ASSERT_OK_AND_ASSIGN(pending, store_->PendingWebhookTasks());
  EXPECT_EQ(pending, 1);
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredWebhook> webhooks, store_->ListWebhooks("acme"));
  EXPECT_THAT(WebhookIds(webhooks), ElementsAre("wh-2"));
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> tasks,
                           store_->LeaseWebhookTasks(At(100), absl::Minutes(1), 10));
  EXPECT_THAT(TaskKeys(tasks), ElementsAre(TaskKey{"acme", "rem-1", "wh-2"}));
  EXPECT_EQ(store_->DeleteWebhook("acme", "wh-1").code(), absl::StatusCode::kNotFound);
}

// --- The reminder ledger -----------------------------------------------------------------

TEST_P(NotifyStoreConformance, ClaimInsertsOncePerRecipientKindAndWindow) {
  OKR_ASSERT_OK_AND_ASSIGN(
      std::vector<bool> first,
      store_->ClaimReminders(
          "acme", {Reminder("rem-1", "p1", kWeekly, "2027-W01", At(1)),
                   Reminder("rem-2", "p1", kWeekly, "2027-W01", At(1)),  // same key in the call
                   Reminder("rem-3", "p1", kMidQuarter, "2027-W01", At(1)),
                   Reminder("rem-4", "p1", kWeekly, "2027-W02", At(1)),
                   Reminder("rem-5", "p2", kWeekly, "2027-W01", At(1))}));
  EXPECT_THAT(first, ElementsAre(true, false, true, true, true));

  // A rerun with fresh ids claims nothing; a new key among them is claimed.
  OKR_ASSERT_OK_AND_ASSIGN(
      std::vector<bool> rerun,
      store_->ClaimReminders("acme", {Reminder("rem-6", "p1", kWeekly, "2027-W01", At(2)),
                                      Reminder("rem-7", "p2", kWeekly, "2027-W01", At(2)),
                                      Reminder("rem-8", "p3", kWeekly, "2027-W01", At(2))}));
  EXPECT_THAT(rerun, ElementsAre(false, false, true));
  // A retried call (same ids, same keys) just loses its claims.
  OKR_ASSERT_OK_AND_ASSIGN(
      std::vector<bool> retried,
      store_->ClaimReminders("acme", {Reminder("rem-1", "p1", kWeekly, "2027-W01", At(1))}));
  EXPECT_THAT(retried, ElementsAre(false));
  // Another organisation has its own ledger.
  OKR_ASSERT_OK_AND_ASSIGN(
      std::vector<bool> other,
      store_->ClaimReminders("globex", {Reminder("rem-1", "p1", kWeekly, "2027-W01", At(1))}));
  EXPECT_THAT(other, ElementsAre(true));

  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage page, store_->ListReminders("acme", {}));
  EXPECT_THAT(ReminderIds(page.reminders),
              ElementsAre("rem-8", "rem-5", "rem-4", "rem-3", "rem-1"));
  ASSERT_EQ(page.reminders.size(), 5u);
  const StoredReminder& kept = page.reminders.back();
  EXPECT_EQ(kept.recipient_id, "p1");
  EXPECT_EQ(kept.kind, kWeekly);
  EXPECT_EQ(kept.window_key, "2027-W01");
  EXPECT_EQ(kept.team_id, "team-p1");
  EXPECT_EQ(kept.publish_time, At(1));
  EXPECT_FALSE(kept.published);
  EXPECT_EQ(kept.body, BinaryBody("rem-1"));
}

TEST_P(NotifyStoreConformance, ReusedReminderIdForAnotherKeyFailsTheWholeClaim) {
  OKR_ASSERT_OK(
      store_->ClaimReminders("acme", {Reminder("rem-1", "p1", kWeekly, "2027-W01", At(1))})
          .status());
  absl::Status status =
      store_
          ->ClaimReminders("acme", {Reminder("rem-2", "p2", kWeekly, "2027-W01", At(1)),
                                    Reminder("rem-1", "p3", kWeekly, "2027-W01", At(1))})
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("rem-1"));
  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage page, store_->ListReminders("acme", {}));
  EXPECT_THAT(ReminderIds(page.reminders), ElementsAre("rem-1"));
}

TEST_P(NotifyStoreConformance, ClaimQueuesOneTaskPerWebhookOfEachInsertedReminder) {
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-1", At(0)), 20).status());
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-2", At(0)), 20).status());
  OKR_ASSERT_OK(store_
                    ->ClaimReminders("acme", {Reminder("rem-1", "p1", kWeekly, "2027-W01", At(50),
                                                       {"wh-1", "wh-2"})})
                    .status());
  // Lost claims queue nothing.
  OKR_ASSERT_OK_AND_ASSIGN(
      std::vector<bool> lost,
      store_->ClaimReminders(
          "acme", {Reminder("rem-9", "p1", kWeekly, "2027-W01", At(60), {"wh-1", "wh-2"})}));
  EXPECT_THAT(lost, ElementsAre(false));
  OKR_ASSERT_OK_AND_ASSIGN(int64_t pending, store_->PendingWebhookTasks());
  EXPECT_EQ(pending, 2);

  // Not due before the reminder's publish time.
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> early,
                           store_->LeaseWebhookTasks(At(49), absl::Minutes(1), 10));
  EXPECT_THAT(early, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> tasks,
                           store_->LeaseWebhookTasks(At(50), absl::Minutes(1), 10));
  std::sort(tasks.begin(), tasks.end(),
            [](const WebhookTask& a, const WebhookTask& b) { return a.webhook_id < b.webhook_id; });
  EXPECT_THAT(TaskKeys(tasks),
              ElementsAre(TaskKey{"acme", "rem-1", "wh-1"}, TaskKey{"acme", "rem-1", "wh-2"}));
  for (const WebhookTask& task : tasks) {
    EXPECT_EQ(task.attempts, 0);
    EXPECT_EQ(task.next_attempt, At(50));
    EXPECT_EQ(task.url, absl::StrCat("http://127.0.0.1:9/", task.webhook_id));
    EXPECT_EQ(task.reminder_body, BinaryBody("rem-1"));
  }
}

TEST_P(NotifyStoreConformance, UnpublishedAreOldestFirstUntilMarkedPublished) {
  // Publish times run backwards: "oldest" is the claim order.
  OKR_ASSERT_OK(store_
                    ->ClaimReminders("acme", {Reminder("rem-a", "p1", kWeekly, "w1", At(30)),
                                              Reminder("rem-b", "p2", kWeekly, "w1", At(20))})
                    .status());
  OKR_ASSERT_OK(
      store_->ClaimReminders("acme", {Reminder("rem-c", "p3", kWeekly, "w1", At(10))}).status());
  NewReminder already = Reminder("rem-d", "p4", kWeekly, "w1", At(5));
  already.reminder.published = true;  // e.g. no Redis configured
  OKR_ASSERT_OK(store_->ClaimReminders("acme", {already}).status());
  OKR_ASSERT_OK(
      store_->ClaimReminders("globex", {Reminder("rem-x", "p1", kWeekly, "w1", At(1))}).status());

  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredReminder> unpublished,
                           store_->UnpublishedReminders("acme", 10));
  EXPECT_THAT(ReminderIds(unpublished), ElementsAre("rem-a", "rem-b", "rem-c"));
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredReminder> limited,
                           store_->UnpublishedReminders("acme", 2));
  EXPECT_THAT(ReminderIds(limited), ElementsAre("rem-a", "rem-b"));

  OKR_ASSERT_OK(store_->MarkPublished("acme", {"rem-b", "rem-unknown", "rem-x"}));
  OKR_ASSERT_OK_AND_ASSIGN(unpublished, store_->UnpublishedReminders("acme", 10));
  EXPECT_THAT(ReminderIds(unpublished), ElementsAre("rem-a", "rem-c"));
  // Marking is per organisation: globex's rem-x is untouched.
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredReminder> globex,
                           store_->UnpublishedReminders("globex", 10));
  EXPECT_THAT(ReminderIds(globex), ElementsAre("rem-x"));

  OKR_ASSERT_OK(store_->MarkPublished("acme", {"rem-a", "rem-c"}));
  OKR_ASSERT_OK_AND_ASSIGN(unpublished, store_->UnpublishedReminders("acme", 10));
  EXPECT_THAT(unpublished, IsEmpty());
  ReminderQuery by_id;
  by_id.recipient_id = "p2";
  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage page, store_->ListReminders("acme", by_id));
  ASSERT_EQ(page.reminders.size(), 1u);
  EXPECT_TRUE(page.reminders[0].published);
}

TEST_P(NotifyStoreConformance, ListRemindersFiltersNewestFirstWithTotals) {
  // 12 reminders: recipients p0..p2, kinds alternating, windows w0/w1,
  // publish times 0..11 claimed in that order.
  std::vector<NewReminder> all;
  for (int i = 0; i < 12; ++i) {
    all.push_back(Reminder(absl::StrCat("rem-", i), absl::StrCat("p", i % 3),
                           i % 2 == 0 ? kWeekly : kMidQuarter, absl::StrCat("w", i / 6), At(i)));
  }
  for (const NewReminder& reminder : all) {
    OKR_ASSERT_OK(store_->ClaimReminders("acme", {reminder}).status());
  }
  OKR_ASSERT_OK(
      store_->ClaimReminders("globex", {Reminder("rem-g", "p0", kWeekly, "w0", At(3))}).status());

  struct Case {
    std::string name;
    ReminderQuery query;
    std::function<bool(int)> matches;
  };
  std::vector<Case> cases;
  cases.push_back({"all", {}, [](int) { return true; }});
  {
    ReminderQuery q;
    q.kind = kMidQuarter;
    cases.push_back({"kind", q, [](int i) { return i % 2 == 1; }});
  }
  {
    ReminderQuery q;
    q.recipient_id = "p1";
    cases.push_back({"recipient", q, [](int i) { return i % 3 == 1; }});
  }
  {
    ReminderQuery q;
    q.window_key = "w1";
    cases.push_back({"window", q, [](int i) { return i >= 6; }});
  }
  {
    ReminderQuery q;
    q.start_time = At(4);
    cases.push_back({"start_time", q, [](int i) { return i >= 4; }});
  }
  {
    ReminderQuery q;
    q.kind = kWeekly;
    q.recipient_id = "p0";
    q.window_key = "w1";
    q.start_time = At(6);
    cases.push_back({"every filter", q, [](int i) { return i % 2 == 0 && i % 3 == 0 && i >= 6; }});
  }
  for (Case& c : cases) {
    std::vector<Id> expected;
    for (int i = 11; i >= 0; --i) {
      if (c.matches(i)) expected.push_back(absl::StrCat("rem-", i));
    }
    c.query.limit = 500;
    OKR_ASSERT_OK_AND_ASSIGN(ReminderPage page, store_->ListReminders("acme", c.query));
    EXPECT_THAT(ReminderIds(page.reminders), ElementsAreArray(expected)) << c.name;
    EXPECT_EQ(page.total, static_cast<int64_t>(expected.size())) << c.name;
    EXPECT_EQ(page.next_before_sequence, 0) << c.name;

    // Pages of 2 cover the same rows once, in order; each page's total is
    // every matching row.
    c.query.limit = 2;
    int pages = 0;
    EXPECT_THAT(AllReminderPages(*store_, "acme", c.query, &pages), ElementsAreArray(expected))
        << c.name;
    EXPECT_EQ(pages, std::max<int>(1, (static_cast<int>(expected.size()) + 1) / 2)) << c.name;
    OKR_ASSERT_OK_AND_ASSIGN(ReminderPage first, store_->ListReminders("acme", c.query));
    EXPECT_EQ(first.total, static_cast<int64_t>(expected.size())) << c.name;
  }
}

TEST_P(NotifyStoreConformance, ReminderPagesAreStableWhileNewOnesArrive) {
  for (int i = 0; i < 5; ++i) {
    OKR_ASSERT_OK(store_
                      ->ClaimReminders("acme", {Reminder(absl::StrCat("rem-", i), "p1", kWeekly,
                                                         absl::StrCat("w", i), At(i))})
                      .status());
  }
  ReminderQuery query;
  query.limit = 2;
  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage first, store_->ListReminders("acme", query));
  EXPECT_THAT(ReminderIds(first.reminders), ElementsAre("rem-4", "rem-3"));
  ASSERT_NE(first.next_before_sequence, 0);
  OKR_ASSERT_OK(
      store_->ClaimReminders("acme", {Reminder("rem-new", "p1", kWeekly, "w9", At(9))}).status());
  query.before_sequence = first.next_before_sequence;
  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage second, store_->ListReminders("acme", query));
  EXPECT_THAT(ReminderIds(second.reminders), ElementsAre("rem-2", "rem-1"));
  EXPECT_EQ(second.total, 6);
  query.before_sequence = second.next_before_sequence;
  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage last, store_->ListReminders("acme", query));
  EXPECT_THAT(ReminderIds(last.reminders), ElementsAre("rem-0"));
  EXPECT_EQ(last.next_before_sequence, 0);
}

// --- The delivery log ------------------------------------------------------------------------

TEST_P(NotifyStoreConformance, ListDeliveriesFiltersNewestFirstWithTotals) {
  // 12 deliveries: reminders r0/r1, channels cycling stream/pubsub/webhook,
  // webhook ones to wh-a or wh-b, statuses cycling, times 0..11.
  auto channel_of = [](int i) { return i % 3 == 0 ? kStream : i % 3 == 1 ? kPubSub : kWebhook; };
  auto webhook_of = [&](int i) -> std::string {
    return channel_of(i) == kWebhook ? (i % 4 == 2 ? "wh-a" : "wh-b") : "";
  };
  auto status_of = [](int i) { return i % 4 == 0 ? kSucceeded : i % 4 == 1 ? kRetrying : kFailed; };
  std::vector<StoredDelivery> batch;
  for (int i = 0; i < 12; ++i) {
    batch.push_back(Delivery(absl::StrCat("del-", i), absl::StrCat("r", i % 2), channel_of(i),
                             status_of(i), At(i), webhook_of(i), 1 + i / 6));
    // Appended in three calls of four.
    if (batch.size() == 4) {
      OKR_ASSERT_OK(store_->AppendDeliveries("acme", batch));
      batch.clear();
    }
  }
  OKR_ASSERT_OK(
      store_->AppendDeliveries("globex", {Delivery("del-g", "r0", kStream, kSucceeded, At(5))}));

  struct Case {
    std::string name;
    DeliveryQuery query;
    std::function<bool(int)> matches;
  };
  std::vector<Case> cases;
  cases.push_back({"all", {}, [](int) { return true; }});
  {
    DeliveryQuery q;
    q.reminder_id = "r1";
    cases.push_back({"reminder", q, [](int i) { return i % 2 == 1; }});
  }
  {
    DeliveryQuery q;
    q.webhook_id = "wh-a";
    cases.push_back({"webhook", q, [&](int i) { return webhook_of(i) == "wh-a"; }});
  }
  {
    DeliveryQuery q;
    q.channel = kWebhook;
    cases.push_back({"channel", q, [&](int i) { return channel_of(i) == kWebhook; }});
  }
  {
    DeliveryQuery q;
    q.status = kRetrying;
    cases.push_back({"status", q, [&](int i) { return status_of(i) == kRetrying; }});
  }
  {
    DeliveryQuery q;
    q.start_time = At(9);
    cases.push_back({"start_time", q, [](int i) { return i >= 9; }});
  }
  {
    DeliveryQuery q;
    q.reminder_id = "r0";
    q.channel = kWebhook;
    q.status = kFailed;
    q.start_time = At(1);
    cases.push_back({"every filter", q, [&](int i) {
                       return i % 2 == 0 && channel_of(i) == kWebhook && status_of(i) == kFailed &&
                              i >= 1;
                     }});
  }
  for (Case& c : cases) {
    std::vector<Id> expected;
    for (int i = 11; i >= 0; --i) {
      if (c.matches(i)) expected.push_back(absl::StrCat("del-", i));
    }
    c.query.limit = 500;
    OKR_ASSERT_OK_AND_ASSIGN(DeliveryPage page, store_->ListDeliveries("acme", c.query));
    EXPECT_THAT(DeliveryIds(page.deliveries), ElementsAreArray(expected)) << c.name;
    EXPECT_EQ(page.total, static_cast<int64_t>(expected.size())) << c.name;

    c.query.limit = 3;
    std::vector<Id> paged;
    while (true) {
      OKR_ASSERT_OK_AND_ASSIGN(DeliveryPage part, store_->ListDeliveries("acme", c.query));
      EXPECT_EQ(part.total, static_cast<int64_t>(expected.size())) << c.name;
      for (const StoredDelivery& d : part.deliveries) paged.push_back(d.id);
      if (part.next_before_sequence == 0) break;
      ASSERT_LE(paged.size(), expected.size()) << c.name << ": paging does not end";
      c.query.before_sequence = part.next_before_sequence;
    }
    EXPECT_THAT(paged, ElementsAreArray(expected)) << c.name;
  }

  // Every field comes back.
  DeliveryQuery one;
  one.reminder_id = "r0";
  one.webhook_id = "wh-a";
  one.limit = 1;
  OKR_ASSERT_OK_AND_ASSIGN(DeliveryPage page, store_->ListDeliveries("acme", one));
  ASSERT_EQ(page.deliveries.size(), 1u);
  const StoredDelivery& d = page.deliveries[0];
  EXPECT_EQ(d.id, "del-2");
  EXPECT_EQ(d.reminder_id, "r0");
  EXPECT_EQ(d.channel, kWebhook);
  EXPECT_EQ(d.webhook_id, "wh-a");
  EXPECT_EQ(d.attempt, 1);
  EXPECT_EQ(d.status, kFailed);
  EXPECT_EQ(d.time, At(2));
  EXPECT_EQ(d.body, BinaryBody("del-2"));
}

TEST_P(NotifyStoreConformance, AppendDeliveriesIsAllOrNothing) {
  OKR_ASSERT_OK(
      store_->AppendDeliveries("acme", {Delivery("del-1", "r0", kStream, kSucceeded, At(1))}));
  absl::Status dup =
      store_->AppendDeliveries("acme", {Delivery("del-2", "r0", kPubSub, kSucceeded, At(2)),
                                        Delivery("del-1", "r0", kStream, kSucceeded, At(2))});
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists) << dup;
  OKR_ASSERT_OK_AND_ASSIGN(DeliveryPage page, store_->ListDeliveries("acme", {}));
  EXPECT_THAT(DeliveryIds(page.deliveries), ElementsAre("del-1"));
}

TEST_P(NotifyStoreConformance, RecordPublishedLogsAndMarksAllOrNothing) {
  OKR_ASSERT_OK(store_
                    ->ClaimReminders("acme", {Reminder("rem-a", "p1", kWeekly, "w1", At(1)),
                                              Reminder("rem-b", "p2", kWeekly, "w1", At(2))})
                    .status());
  OKR_ASSERT_OK(store_->RecordPublished("acme",
                                        {Delivery("del-1", "rem-a", kStream, kSucceeded, At(3)),
                                         Delivery("del-2", "rem-a", kPubSub, kSucceeded, At(3))},
                                        {"rem-a", "rem-unknown"}));
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredReminder> unpublished,
                           store_->UnpublishedReminders("acme", 10));
  EXPECT_THAT(ReminderIds(unpublished), ElementsAre("rem-b"));
  OKR_ASSERT_OK_AND_ASSIGN(DeliveryPage page, store_->ListDeliveries("acme", {}));
  EXPECT_THAT(DeliveryIds(page.deliveries), ElementsAre("del-2", "del-1"));

  // A delivery id already logged fails the call: nothing of it is kept.
  absl::Status dup =
      store_->RecordPublished("acme",
                              {Delivery("del-3", "rem-b", kStream, kSucceeded, At(4)),
                               Delivery("del-1", "rem-b", kPubSub, kSucceeded, At(4))},
                              {"rem-b"});
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists) << dup;
  OKR_ASSERT_OK_AND_ASSIGN(unpublished, store_->UnpublishedReminders("acme", 10));
  EXPECT_THAT(ReminderIds(unpublished), ElementsAre("rem-b"));
  OKR_ASSERT_OK_AND_ASSIGN(page, store_->ListDeliveries("acme", {}));
  EXPECT_THAT(DeliveryIds(page.deliveries), ElementsAre("del-2", "del-1"));

  // Marking alone (Redis off) and nothing at all.
  OKR_ASSERT_OK(store_->RecordPublished("acme", {}, {"rem-b"}));
  OKR_ASSERT_OK_AND_ASSIGN(unpublished, store_->UnpublishedReminders("acme", 10));
  EXPECT_THAT(unpublished, IsEmpty());
  OKR_ASSERT_OK(store_->RecordPublished("acme", {}, {}));
  EXPECT_EQ(store_->RecordPublished("", {}, {"rem-b"}).code(), absl::StatusCode::kInvalidArgument);
}

// --- The webhook outbox ----------------------------------------------------------------------

TEST_P(NotifyStoreConformance, LeaseSpansOrganisationsOldestFirstAndIsExclusive) {
  for (const char* org : {"acme", "globex"}) {
    OKR_ASSERT_OK(store_->CreateWebhook(org, Webhook("wh-1", At(0)), 20).status());
  }
  OKR_ASSERT_OK(
      store_
          ->ClaimReminders("acme", {Reminder("rem-late", "p1", kWeekly, "w1", At(30), {"wh-1"}),
                                    Reminder("rem-early", "p2", kWeekly, "w1", At(10), {"wh-1"})})
          .status());
  OKR_ASSERT_OK(
      store_->ClaimReminders("globex", {Reminder("rem-mid", "p1", kWeekly, "w1", At(20), {"wh-1"})})
          .status());

  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> two,
                           store_->LeaseWebhookTasks(At(100), absl::Minutes(1), 2));
  EXPECT_THAT(TaskKeys(two), ElementsAre(TaskKey{"acme", "rem-early", "wh-1"},
                                         TaskKey{"globex", "rem-mid", "wh-1"}));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].reminder_body, BinaryBody("rem-mid"));
  // Leased tasks go to nobody else while the lease lasts.
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> rest,
                           store_->LeaseWebhookTasks(At(100), absl::Minutes(1), 10));
  EXPECT_THAT(TaskKeys(rest), ElementsAre(TaskKey{"acme", "rem-late", "wh-1"}));
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> none,
                           store_->LeaseWebhookTasks(At(159), absl::Minutes(1), 10));
  EXPECT_THAT(none, IsEmpty());
  // A lease that expired (its dispatcher died) is offered again, unchanged.
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> again,
                           store_->LeaseWebhookTasks(At(160), absl::Minutes(1), 10));
  EXPECT_THAT(TaskKeys(again), ElementsAre(TaskKey{"acme", "rem-early", "wh-1"},
                                           TaskKey{"globex", "rem-mid", "wh-1"},
                                           TaskKey{"acme", "rem-late", "wh-1"}));
  for (const WebhookTask& task : again) EXPECT_EQ(task.attempts, 0) << task.reminder_id;
  OKR_ASSERT_OK_AND_ASSIGN(int64_t pending, store_->PendingWebhookTasks());
  EXPECT_EQ(pending, 3);
}

TEST_P(NotifyStoreConformance, CompleteLogsTheAttemptAndReschedulesOrRemoves) {
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-1", At(0)), 20).status());
  OKR_ASSERT_OK(
      store_->ClaimReminders("acme", {Reminder("rem-1", "p1", kWeekly, "w1", At(10), {"wh-1"})})
          .status());
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> tasks,
                           store_->LeaseWebhookTasks(At(10), absl::Minutes(5), 10));
  ASSERT_EQ(tasks.size(), 1u);

  // Attempt 1 fails; retry at 20s, before the lease would have expired:
  // completing ends the lease.
  OKR_ASSERT_OK(store_->CompleteWebhookAttempt(
      tasks[0], Delivery("del-1", "rem-1", kWebhook, kRetrying, At(11), "wh-1", 1), At(20)));
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> early,
                           store_->LeaseWebhookTasks(At(19), absl::Minutes(5), 10));
  EXPECT_THAT(early, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(tasks, store_->LeaseWebhookTasks(At(20), absl::Minutes(5), 10));
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].attempts, 1);
  EXPECT_EQ(tasks[0].next_attempt, At(20));
  OKR_ASSERT_OK_AND_ASSIGN(int64_t pending, store_->PendingWebhookTasks());
  EXPECT_EQ(pending, 1);

  // Attempt 2 succeeds: the task is gone.
  OKR_ASSERT_OK(store_->CompleteWebhookAttempt(
      tasks[0], Delivery("del-2", "rem-1", kWebhook, kSucceeded, At(21), "wh-1", 2), std::nullopt));
  OKR_ASSERT_OK_AND_ASSIGN(pending, store_->PendingWebhookTasks());
  EXPECT_EQ(pending, 0);
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> after,
                           store_->LeaseWebhookTasks(At(1000), absl::Minutes(5), 10));
  EXPECT_THAT(after, IsEmpty());

  DeliveryQuery query;
  query.reminder_id = "rem-1";
  OKR_ASSERT_OK_AND_ASSIGN(DeliveryPage log, store_->ListDeliveries("acme", query));
  EXPECT_THAT(DeliveryIds(log.deliveries), ElementsAre("del-2", "del-1"));
  ASSERT_EQ(log.deliveries.size(), 2u);
  EXPECT_EQ(log.deliveries[0].status, kSucceeded);
  EXPECT_EQ(log.deliveries[0].attempt, 2);
  EXPECT_EQ(log.deliveries[1].status, kRetrying);
}

TEST_P(NotifyStoreConformance, TasksOfADeletedWebhookAreNotLeased) {
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-1", At(0)), 20).status());
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-2", At(0)), 20).status());
  OKR_ASSERT_OK(
      store_
          ->ClaimReminders("acme", {Reminder("rem-1", "p1", kWeekly, "w1", At(10), {"wh-1"}),
                                    Reminder("rem-2", "p2", kWeekly, "w1", At(10), {"wh-2"})})
          .status());
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> leased,
                           store_->LeaseWebhookTasks(At(10), absl::Minutes(1), 10));
  ASSERT_EQ(leased.size(), 2u);
  const WebhookTask task1 = leased[0].webhook_id == "wh-1" ? leased[0] : leased[1];

  // Deleted while both attempts are under way.
  OKR_ASSERT_OK(store_->DeleteWebhook("acme", "wh-1"));
  OKR_ASSERT_OK(store_->DeleteWebhook("acme", "wh-2"));
  // wh-1's attempt fails and asks for a retry: logged, but nobody could
  // deliver the retry, so the task goes.
  OKR_ASSERT_OK(store_->CompleteWebhookAttempt(
      task1, Delivery("del-1", "rem-1", kWebhook, kRetrying, At(11), "wh-1", 1), At(20)));
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> none,
                           store_->LeaseWebhookTasks(At(30), absl::Minutes(1), 10));
  EXPECT_THAT(none, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(int64_t pending, store_->PendingWebhookTasks());
  EXPECT_EQ(pending, 1) << "wh-2's task is still leased";
  // wh-2's dispatcher died; once its lease has expired nothing is left.
  OKR_ASSERT_OK_AND_ASSIGN(none, store_->LeaseWebhookTasks(At(71), absl::Minutes(1), 10));
  EXPECT_THAT(none, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(pending, store_->PendingWebhookTasks());
  EXPECT_EQ(pending, 0);
  OKR_ASSERT_OK_AND_ASSIGN(DeliveryPage log, store_->ListDeliveries("acme", {}));
  EXPECT_THAT(DeliveryIds(log.deliveries), ElementsAre("del-1"));
}

// --- Durability and concurrency --------------------------------------------------------------

TEST_P(NotifyStoreConformance, EverythingSurvivesReopen) {
  OKR_ASSERT_OK(store_->PutPolicy("acme", Policy("", 1, "org"), 0).status());
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-1", At(0), "req-1"), 20).status());
  OKR_ASSERT_OK(
      store_
          ->ClaimReminders("acme", {Reminder("rem-1", "p1", kWeekly, "w1", At(10), {"wh-1"}),
                                    Reminder("rem-2", "p2", kWeekly, "w1", At(11))})
          .status());
  OKR_ASSERT_OK(store_->MarkPublished("acme", {"rem-2"}));
  OKR_ASSERT_OK(
      store_->AppendDeliveries("acme", {Delivery("del-1", "rem-2", kStream, kSucceeded, At(12))}));
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> leased,
                           store_->LeaseWebhookTasks(At(10), absl::Minutes(1), 10));
  ASSERT_EQ(leased.size(), 1u);

  Reopen();

  OKR_ASSERT_OK_AND_ASSIGN(std::optional<StoredPolicy> policy, store_->GetPolicy("acme", ""));
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(policy->version, 1);
  EXPECT_EQ(policy->body, BinaryBody("org"));
  OKR_ASSERT_OK_AND_ASSIGN(StoredWebhook retry,
                           store_->CreateWebhook("acme", Webhook("wh-9", At(9), "req-1"), 20));
  EXPECT_EQ(retry.id, "wh-1");
  OKR_ASSERT_OK_AND_ASSIGN(
      std::vector<bool> rerun,
      store_->ClaimReminders("acme", {Reminder("rem-3", "p1", kWeekly, "w1", At(20))}));
  EXPECT_THAT(rerun, ElementsAre(false));
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<StoredReminder> unpublished,
                           store_->UnpublishedReminders("acme", 10));
  EXPECT_THAT(ReminderIds(unpublished), ElementsAre("rem-1"));
  OKR_ASSERT_OK_AND_ASSIGN(DeliveryPage log, store_->ListDeliveries("acme", {}));
  EXPECT_THAT(DeliveryIds(log.deliveries), ElementsAre("del-1"));
  // The lease survived too.
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> still_leased,
                           store_->LeaseWebhookTasks(At(30), absl::Minutes(1), 10));
  EXPECT_THAT(still_leased, IsEmpty());
  OKR_ASSERT_OK_AND_ASSIGN(std::vector<WebhookTask> expired,
                           store_->LeaseWebhookTasks(At(70), absl::Minutes(1), 10));
  EXPECT_THAT(TaskKeys(expired), ElementsAre(TaskKey{"acme", "rem-1", "wh-1"}));
  // New rows number after the old ones: newest first still holds.
  OKR_ASSERT_OK(
      store_->ClaimReminders("acme", {Reminder("rem-4", "p4", kWeekly, "w1", At(1))}).status());
  OKR_ASSERT_OK_AND_ASSIGN(ReminderPage page, store_->ListReminders("acme", {}));
  EXPECT_THAT(ReminderIds(page.reminders), ElementsAre("rem-4", "rem-2", "rem-1"));
}

// Threads on one store object (and, below, on two) race for the same
// (recipient, kind, window): exactly one claim wins each round.
void RaceClaims(const std::vector<NotifyStore*>& stores, int threads_per_store, int rounds) {
  const int threads = static_cast<int>(stores.size()) * threads_per_store;
  for (int round = 0; round < rounds; ++round) {
    std::vector<absl::StatusOr<std::vector<bool>>> results(threads, absl::UnknownError("not run"));
    std::barrier start(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        NotifyStore* store = stores[t % stores.size()];
        // Each racer also claims a key of its own, which must always win.
        std::vector<NewReminder> claim = {
            Reminder(absl::StrCat("rem-", round, "-", t), "p1", kWeekly, absl::StrCat("w", round),
                     At(round), {"wh-1"}),
            Reminder(absl::StrCat("own-", round, "-", t), absl::StrCat("own-", t), kWeekly,
                     absl::StrCat("w", round), At(round))};
        start.arrive_and_wait();
        results[t] = store->ClaimReminders("acme", claim);
      });
    }
    for (std::thread& worker : workers) worker.join();
    int winners = 0;
    for (int t = 0; t < threads; ++t) {
      ASSERT_TRUE(results[t].ok()) << "round " << round << ": " << results[t].status();
      ASSERT_EQ(results[t]->size(), 2u);
      if ((*results[t])[0]) ++winners;
      EXPECT_TRUE((*results[t])[1]) << "round " << round << ", thread " << t;
    }
    EXPECT_EQ(winners, 1) << "round " << round;
  }
  ReminderQuery query;
  query.recipient_id = "p1";
  absl::StatusOr<ReminderPage> page = stores[0]->ListReminders("acme", query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, rounds);
  // Only the winners queued webhook tasks.
  absl::StatusOr<int64_t> pending = stores[0]->PendingWebhookTasks();
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(*pending, rounds);
}

TEST_P(NotifyStoreConformance, RacingClaimsOnOneStoreInsertOnce) {
  RaceClaims({store_.get()}, 6, 10);
}

// Two store objects on one location stand for two processes (replicas).
TEST_P(NotifyStoreConformance, RacingClaimsOnTwoConnectionsInsertOnce) {
  std::unique_ptr<NotifyStore> second = factory_();
  ASSERT_NE(second, nullptr);
  RaceClaims({store_.get(), second.get()}, 3, 10);
}

TEST_P(NotifyStoreConformance, RacingLeasesOnTwoConnectionsNeverShareATask) {
  std::unique_ptr<NotifyStore> second = factory_();
  ASSERT_NE(second, nullptr);
  constexpr int kTasks = 60;
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-1", At(0)), 20).status());
  OKR_ASSERT_OK(store_->CreateWebhook("acme", Webhook("wh-2", At(0)), 20).status());
  std::vector<NewReminder> reminders;
  for (int i = 0; i < kTasks / 2; ++i) {
    reminders.push_back(Reminder(absl::StrCat("rem-", i), absl::StrCat("p", i), kWeekly, "w1",
                                 At(i), {"wh-1", "wh-2"}));
  }
  OKR_ASSERT_OK(store_->ClaimReminders("acme", reminders).status());

  constexpr int kThreadsPerStore = 3;
  std::vector<NotifyStore*> stores = {store_.get(), second.get()};
  std::vector<std::vector<TaskKey>> got(stores.size() * kThreadsPerStore);
  std::vector<std::string> errors(got.size());
  std::barrier start(static_cast<std::ptrdiff_t>(got.size()));
  std::vector<std::thread> workers;
  for (size_t t = 0; t < got.size(); ++t) {
    workers.emplace_back([&, t] {
      NotifyStore* store = stores[t % stores.size()];
      start.arrive_and_wait();
      // A fixed "now": no lease expires during the race, so once a call
      // gets nothing, every task is leased.
      while (true) {
        absl::StatusOr<std::vector<WebhookTask>> tasks =
            store->LeaseWebhookTasks(At(1000), absl::Minutes(5), 4);
        if (!tasks.ok()) {
          errors[t] = tasks.status().ToString();
          return;
        }
        if (tasks->empty()) return;
        for (const TaskKey& key : TaskKeys(*tasks)) got[t].push_back(key);
        if (got[t].size() > size_t{kTasks}) {
          errors[t] = "leased more tasks than exist: leases are not exclusive";
          return;
        }
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  std::set<TaskKey> all;
  size_t handed_out = 0;
  for (size_t t = 0; t < got.size(); ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
    handed_out += got[t].size();
    all.insert(got[t].begin(), got[t].end());
  }
  EXPECT_EQ(handed_out, size_t{kTasks}) << "a task was handed out twice";
  EXPECT_EQ(all.size(), size_t{kTasks});
}

// --- Backends ------------------------------------------------------------------------------------

StoreFactory SqliteLocation() {
  auto dir = std::make_shared<TempDir>("okr-notify-store");
  return [dir]() -> std::unique_ptr<NotifyStore> {
    absl::StatusOr<std::unique_ptr<NotifyStore>> store =
        OpenNotifyStore(absl::StrCat("sqlite:", dir->File("notify.db")));
    if (!store.ok()) {
      ADD_FAILURE() << store.status();
      return nullptr;
    }
    return *std::move(store);
  };
}

INSTANTIATE_TEST_SUITE_P(Backends, NotifyStoreConformance,
                         ::testing::Values(NotifyStoreBackend{"Sqlite", SqliteLocation}),
                         NotifyStoreBackendName);

// --- SQLite only ---------------------------------------------------------------------------------

TEST(OpenNotifyStoreTest, RefusesOtherStoresNamingTheFlag) {
  TempDir dir("okr-notify-store");
  for (const std::string& url :
       {std::string(""), std::string("sqlite:"), std::string("sqlite::memory:"),
        std::string("mysql://u:secret@db/notify"), std::string("postgresqls://u:secret@db/n"),
        std::string("sqlite://tmp/x.db"), std::string(dir.File("notify.db")),
        absl::StrCat("sqlite:", dir.File("notify.db"), "?durability=sometimes")}) {
    absl::StatusOr<std::unique_ptr<NotifyStore>> store = OpenNotifyStore(url);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument)
        << url << ": " << store.status();
    EXPECT_THAT(std::string(store.status().message()), HasSubstr("store")) << url;
    EXPECT_THAT(std::string(store.status().message()), ::testing::Not(HasSubstr("secret"))) << url;
  }
}

TEST(OpenNotifyStoreTest, OpensSqliteFilesWithOptions) {
  TempDir dir("okr-notify-store");
  OKR_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<NotifyStore> store,
      OpenNotifyStore(absl::StrCat("sqlite:", dir.File("notify.db"), "?durability=power-loss")));
  OKR_ASSERT_OK(store->PutPolicy("acme", Policy("", 1, "org"), 0).status());
  // A missing directory is the operator's to fix.
  absl::Status missing =
      OpenNotifyStore(absl::StrCat("sqlite:", dir.File("no/such/dir/notify.db"))).status();
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.message()), HasSubstr("--store"));
}

TEST(SqliteNotifyStoreTest, ClaimWaitsForAnotherConnectionsWriteLock) {
  TempDir dir("okr-notify-store");
  const std::string path = dir.File("notify.db");
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteNotifyStore> store, SqliteNotifyStore::Open(path));
  // Another process holds the write lock for a moment; the claim waits for
  // it (busy timeout) instead of failing.
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<SqliteDb> other, SqliteDb::Open(path));
  OKR_ASSERT_OK(other->Exec("BEGIN IMMEDIATE"));
  std::thread release([&] {
    absl::SleepFor(absl::Milliseconds(300));
    EXPECT_TRUE(other->Exec("COMMIT").ok());
  });
  const absl::Time started = absl::Now();
  absl::StatusOr<std::vector<bool>> claimed =
      store->ClaimReminders("acme", {Reminder("rem-1", "p1", kWeekly, "w1", At(0))});
  const absl::Duration waited = absl::Now() - started;
  release.join();
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(*claimed, ElementsAre(true));
  EXPECT_GE(waited, absl::Milliseconds(200));
}

TEST(SqliteNotifyStoreTest, RefusesMemoryAndEmptyPaths) {
  for (absl::string_view path : {absl::string_view(""), absl::string_view(":memory:")}) {
    absl::Status status = SqliteNotifyStore::Open(path).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << path << ": " << status;
    EXPECT_THAT(std::string(status.message()), StartsWith("path: "));
  }
  TempDir dir("okr-notify-store");
  SqliteNotifyStoreOptions options;
  options.reader_connections = 0;
  absl::Status status = SqliteNotifyStore::Open(dir.File("notify.db"), options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("reader_connections"));
}

}  // namespace
}  // namespace okr::notify
