// A webhook receiver that hangs, and one that fails, do not delay the
// deliveries to a healthy one, end to end: the real okr-notify with two
// POST threads and three real HTTP receivers (tests/support/http_receiver.h),
// and more due reminders than threads, so that a dispatcher handing its
// threads out in outbox order would have every thread stuck on the hanging
// receiver. (tests/services/notify/notify_service_test.cc covers one
// reminder; webhook_test.cc the dispatcher alone.)
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/fault/fault_env.h"
#include "tests/support/http_receiver.h"

namespace okr::fault {
namespace {

constexpr absl::Duration kWebhookTimeout = absl::Seconds(3);
constexpr int kPeople = 8;

TEST_F(FaultTest, HangingAndFailingReceiversDoNotDelayAHealthyOne) {
  ASSERT_NO_FATAL_FAILURE(StartRedis());
  ASSERT_NO_FATAL_FAILURE(StartPlanning());
  ASSERT_NO_FATAL_FAILURE(StartTracking());
  ASSERT_NO_FATAL_FAILURE(StartNotify(
      {"--webhook_threads=2",
       absl::StrCat("--webhook_timeout=", absl::FormatDuration(kWebhookTimeout)),
       "--webhook_max_attempts=3"}));
  ASSERT_NO_FATAL_FAILURE(BuildPlan(kPeople));

  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpReceiver> hanging, HttpReceiver::Start());
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpReceiver> failing, HttpReceiver::Start());
  OKR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpReceiver> healthy, HttpReceiver::Start());
  ScriptedResponse hang;
  hang.delay = absl::Seconds(60);  // far past --webhook_timeout
  hanging->SetDefault("/hook", hang);
  ScriptedResponse fail;
  fail.status = 503;
  failing->SetDefault("/hook", fail);

  // Registered in this order, so the healthy one's tasks sort last.
  for (auto [name, receiver] : {std::pair{"hanging", hanging.get()},
                                std::pair{"failing", failing.get()},
                                std::pair{"healthy", healthy.get()}}) {
    v1::CreateWebhookRequest request;
    request.set_request_id(absl::StrCat("create-", name));
    request.mutable_webhook()->set_url(receiver->url("/hook"));
    request.mutable_webhook()->set_display_name(name);
    request.mutable_webhook()->add_kinds(v1::REMINDER_KIND_WEEKLY_CHECK_IN);
    v1::Webhook webhook;
    FAULT_ASSERT_GRPC_OK(Call(notify_stub_.get(), &NotifyStub::CreateWebhook, request, &webhook));
  }

  v1::RunDueRemindersResponse response;
  FAULT_ASSERT_GRPC_OK(RunWeekly(notify_stub_.get(), absl::Now(), &response));
  ASSERT_EQ(WeeklyCounts(response).published(), kPeople);
  const absl::Time ran = absl::Now();

  // Every reminder reaches the healthy receiver well within one attempt
  // timeout of the run, although the hanging receiver had as many POSTs
  // queued ahead of it as there are threads and more.
  const absl::Status all_healthy =
      healthy->WaitForRequests("/hook", kPeople, kWebhookTimeout + absl::Seconds(12));
  const absl::Duration took = absl::Now() - ran;
  EXPECT_TRUE(all_healthy.ok()) << all_healthy;
  EXPECT_LT(took, kWebhookTimeout)
      << "the healthy receiver got all " << kPeople << " reminders only " << took
      << " after the run, behind the hanging receiver's POSTs (hanging got "
      << hanging->request_count("/hook") << ", failing got " << failing->request_count("/hook")
      << ")";
  std::set<std::string> bodies;
  for (const ReceivedRequest& post : healthy->requests("/hook")) bodies.insert(post.body);
  EXPECT_EQ(bodies.size(), static_cast<size_t>(kPeople)) << "a reminder was POSTed twice";
  // The bad receivers were tried (and the failing one retried).
  OKR_EXPECT_OK(hanging->WaitForRequests("/hook", 1, absl::Seconds(5)));
  OKR_EXPECT_OK(failing->WaitForRequests("/hook", kPeople + 1, absl::Seconds(10)));

  // The healthy deliveries are logged SUCCEEDED, once per reminder.
  v1::ListDeliveriesRequest succeeded;
  succeeded.set_channel(v1::DELIVERY_CHANNEL_WEBHOOK);
  succeeded.set_status(v1::DELIVERY_STATUS_SUCCEEDED);
  succeeded.set_page_size(100);
  v1::ListDeliveriesResponse page;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(100))) {
    FAULT_ASSERT_GRPC_OK(Call(notify_stub_.get(), &NotifyStub::ListDeliveries, succeeded, &page));
    if (page.deliveries_size() >= kPeople) break;
  }
  EXPECT_EQ(page.deliveries_size(), kPeople);
  hanging->Stop();
}

}  // namespace
}  // namespace okr::fault
